"""Record-level 360Giving grants: read, validate and place on the map.

One implementation serves both the ETL (files under the raw directory, loaded into ``grants``)
and the dashboard's upload (a funder's own file, analysed in the session and never stored).
Everything here is pure: no Streamlit, no database writes.

* :func:`read_360giving` reads JSON (a ``grants`` array), CSV or a spreadsheet in the
  360Giving Data Standard, flattens JSON to the standard's column titles (``Amount Awarded``,
  ``Recipient Org:Postal Code``, ``Beneficiary Location:Geographic Code`` ...) so every format
  goes through the same checks, and returns a :class:`GrantsFile`: the good rows as a frame
  shaped like the ``grants`` table plus every :class:`Problem` with sheet, row and column.
* :func:`place_grants` gives each grant an area: a beneficiary-location code first (LSOA, ward
  or district, mapped to current areas), else the recipient's postcode, and says which rule
  placed it — or why nothing could.

The checks follow 360Giving's own data-quality tool (required fields, £0 amounts, dates that
do not exist or lie in the future, identifier formats, postcodes, duplicate ids, encodings,
file size). Severity ``error`` means the row is not loaded; ``warning`` means it is loaded and
the problem is shown. See docs/funders.md for the full rule list and the reasons.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import difflib
import functools
import io
import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .codes import (
    GSS_RE,
    NotText,
    decode_text_bytes,
    excel_col,
    excel_error_cells,
    normalise_postcode,
    open_workbook,
    sheet_rows,
)
from .errors import LocatedError

#: Columns of the ``grants`` table (etl/schema.sql), in order.
GRANT_COLUMNS = [
    "dataset",
    "grant_id",
    "title",
    "award_date",
    "amount_gbp",
    "currency",
    "funder_id",
    "funder_name",
    "programme",
    "recipient_id",
    "recipient_name",
    "recipient_postcode",
    "beneficiary_codes",
    "lsoa_code",
    "ward_code",
    "district_code",
    "placed_by",
    "row",
]

#: Without these columns a file is not a usable 360Giving grants file at all.
ESSENTIAL_COLUMNS = ["Identifier", "Amount Awarded", "Award Date", "Currency"]

#: Required by the 360Giving schema but not needed to place money: missing → warning, row kept.
SCHEMA_REQUIRED_COLUMNS = ["Title", "Description", "Funding Org:Identifier", "Funding Org:Name"]

#: Standard column titles we read (matched case-insensitively; ``:0:`` list indexes removed).
KNOWN_TITLES = [
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Awarded",
    "Award Date",
    "Planned Dates:Start Date",
    "Planned Dates:End Date",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Recipient Org:Charity Number",
    "Recipient Org:Company Number",
    "Recipient Org:Postal Code",
    "Recipient Org:Location:Name",
    "Recipient Org:Location:Country Code",
    "Recipient Org:Location:Geographic Code",
    "Recipient Org:Location:Geographic Code Type",
    "Recipient Ind:Identifier",
    "Recipient Ind:Name",
    "Beneficiary Location:Name",
    "Beneficiary Location:Country Code",
    "Beneficiary Location:Geographic Code",
    "Beneficiary Location:Geographic Code Type",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Grant Programme:Code",
    "Grant Programme:Title",
]
_TITLE_BY_KEY = {t.casefold(): t for t in KNOWN_TITLES}

# JSON property → column title, per object (the standard's own flattening), for the fields we read.
_GRANT_PROPS = {
    "id": "Identifier",
    "title": "Title",
    "description": "Description",
    "currency": "Currency",
    "amountAwarded": "Amount Awarded",
    "awardDate": "Award Date",
}
_ORG_PROPS = {
    "id": "Identifier",
    "name": "Name",
    "charityNumber": "Charity Number",
    "companyNumber": "Company Number",
    "postalCode": "Postal Code",
}
_LIST_OBJECTS = {  # JSON array → (title prefix, property → title)
    "recipientOrganization": ("Recipient Org", _ORG_PROPS),
    "fundingOrganization": ("Funding Org", {"id": "Identifier", "name": "Name"}),
    "grantProgramme": ("Grant Programme", {"code": "Code", "title": "Title"}),
    "plannedDates": ("Planned Dates", {"startDate": "Start Date", "endDate": "End Date"}),
}
_LOCATION_PROPS = {
    "geoCode": "Geographic Code",
    "geoCodeType": "Geographic Code Type",
    "name": "Name",
    "countryCode": "Country Code",
}

#: The two location lists of the standard that hold area codes, as column-title prefixes.
BENEFICIARY, RECIPIENT = "Beneficiary Location", "Recipient Org:Location"
_LOCATION_CODE = re.compile(r"^(Beneficiary Location|Recipient Org:Location)(?::(\d+))?:Geographic Code$")
_INDEXED_LOCATION = re.compile(r"^(beneficiary location|recipient org:location):(\d+):(.+)$", re.IGNORECASE)
#: A heading that names a place (GrantNav's 'Best Available Recipient Ward Geographic Code
#: (additional data)', 'Postcode', 'Local Authority' …): warned about once when it is not read.
_LOCATION_LIKE = re.compile(
    r"geo ?code|geographic|location|post ?code|postal|\bward|\blsoa|\bmsoa|district|local authority|"
    r"\blad\b|\bgss\b|\bregion|\bcounty|constituency|latitude|longitude",
    re.IGNORECASE,
)
_INDEX_SEGMENT = re.compile(r":0(?=:)")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
#: The only place a comma may stand in an amount: between thousands ('1,500', '12,000.50').
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_ORG_ID = re.compile(r"^[A-Za-z]{2}-[A-Za-z0-9]+-\S+$")
_COMPANY_NO = re.compile(r"^\w{8}$")
SPREADSHEET_EXTS = {".xlsx", ".xls", ".ods"}


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


class GrantsFileError(LocatedError, ValueError):
    """The file as a whole cannot be read as 360Giving grants (wrong format, too big, no grants).
    ``filename`` is the uploaded file's name (= ``file``)."""

    @property
    def filename(self) -> str | None:
        return self.file


class TooManyRows(GrantsFileError):
    """A sheet with more grant rows than the limit. Its message ends with :data:`ROW_LIMIT_ADVICE`
    (a build's advice); :meth:`advised` gives the same error with other advice (an upload's)."""

    def advised(self, advice: str) -> TooManyRows:
        core = self.message.removesuffix(ROW_LIMIT_ADVICE)
        return TooManyRows(core + advice, self.file, self.sheet, self.row, self.column)


#: What a build's row-limit error advises (the ETL's limit is a setting of the build).
ROW_LIMIT_ADVICE = "split the file or raise the limit"


@dataclass
class Problem:
    """One finding about one cell (or the file). ``error`` rows are not loaded; ``warning`` rows are."""

    severity: str  # error | warning
    check: str  # short rule id, e.g. "zero_amount" (see docs/funders.md)
    message: str
    sheet: str | None = None
    row: int | None = None  # CSV line / spreadsheet row (header = 1) / JSON: n-th grant
    column: str | None = None  # standard column title
    grant_id: str | None = None
    cell: str | None = None  # "C12" in a spreadsheet or CSV, "grants/11/amountAwarded" in JSON


@dataclass
class SheetSummary:
    """What one sheet (a CSV or JSON file is one sheet) gave: grant rows read, empty template rows
    counted (not read), grants loaded, or why the sheet was skipped."""

    name: str | None
    rows_read: int = 0
    template_rows: int = 0
    grants: int = 0
    skipped: str | None = None


@dataclass
class GrantsFile:
    """A read and checked 360Giving file."""

    filename: str
    format: str  # json | csv | spreadsheet
    sheet: str | None
    rows_read: int
    grants: pd.DataFrame  # good rows, GRANT_COLUMNS + sheet (placement columns empty until place_grants)
    problems: list[Problem] = field(default_factory=list)
    sheets: list[SheetSummary] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def problems_frame(self) -> pd.DataFrame:
        """Problems as a table for display (one line per problem, located)."""
        cols = ["severity", "check", "message", "sheet", "row", "column", "cell", "grant_id"]
        frame = pd.DataFrame([{c: getattr(p, c) for c in cols} for p in self.problems], columns=cols)
        return frame.astype({"row": "Int64"})  # whole numbers even when a file-level problem has none

    def problem_groups(self) -> pd.DataFrame:
        """Problems grouped: one line per severity, check, sheet and column (:func:`group_problems`)."""
        return group_problems(self.problems_frame())

    def sheets_frame(self) -> pd.DataFrame:
        """Per sheet: grant rows read, empty template rows, grants loaded, and why a sheet was skipped."""
        cols = ["name", "rows_read", "template_rows", "grants", "skipped"]
        return pd.DataFrame([{c: getattr(s, c) for c in cols} for s in self.sheets], columns=cols).rename(
            columns={"name": "sheet"}
        )


GROUP_COLUMNS = ["severity", "check", "sheet", "column", "count", "rows", "example"]


def group_problems(problems: pd.DataFrame) -> pd.DataFrame:
    """One line per kind of problem and column (severity, check, sheet, column): how many rows,
    which rows (as ranges, e.g. '2–5, 9') and the first row's message as an example. Errors first."""
    if problems.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    keys = ["severity", "check", "sheet", "column"]
    df = problems.assign(**{k: problems[k].fillna("") for k in ("sheet", "column")})
    g = df.groupby(keys, sort=False)
    out = g.agg(count=("message", "size"), example=("message", "first")).reset_index()
    out["rows"] = [row_ranges(rows) for rows in g["row"].agg(list)]
    out["_order"] = out["severity"].map({"error": 0, "warning": 1}).fillna(2)
    out = out.sort_values(["_order", "count"], ascending=[True, False], kind="stable", ignore_index=True)
    return out[GROUP_COLUMNS]


def row_ranges(rows: Iterable[Any], limit: int = 12) -> str:
    """Row numbers as ranges: [2, 3, 4, 5, 9] → '2–5, 9'; more than ``limit`` ranges end '… (+N more)'."""
    nums = sorted({int(r) for r in rows if r is not None and not pd.isna(r)})
    spans: list[list[int]] = []
    for n in nums:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in spans[:limit]]
    more = f" … (+{len(spans) - limit:,} more)" if len(spans) > limit else ""
    return ", ".join(text) + more


class ExcelErrorCell(str):
    """A spreadsheet cell holding an Excel error ('#N/A', '#REF!'): a formula that failed. Kept as
    what it is (calamine alone reads it as empty) so the row's checks report it where it is."""


@dataclass
class _Record:
    """One grant flattened to standard titles, remembering where each value came from."""

    row: int
    values: dict[str, Any]
    where: dict[str, str]
    sheet: str | None = None
    #: (check, message, column) of an error found while reading (a CSV cell that swallowed rows)
    refused: list[tuple[str, str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_360giving(
    source: Path | str | bytes, filename: str | None = None, max_rows: int = 50_000, today: dt.date | None = None
) -> GrantsFile:
    """Read, flatten and check one 360Giving file.

    ``source`` is a path or the file's bytes (an upload); ``filename`` names it in messages and
    chooses the format by extension (content is sniffed when the extension says nothing).
    Every sheet of a workbook that has the essential columns is read (the others are named, with
    why); rows with no grant content are counted once as empty template rows. More than
    ``max_rows`` grant rows in one sheet (heading and template rows not counted), unreadable
    content or no sheet with the essential columns raise :class:`GrantsFileError`; every other
    problem is returned with its location and the good rows are kept. ``today`` fixes "the
    future" for the date checks (tests).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        data = path.read_bytes()
        filename = filename or path.name
    else:
        data = bytes(source)
        filename = filename or "upload"
    if not data.strip():
        raise GrantsFileError("file is empty", filename)
    problems: list[Problem] = []
    fmt = _detect_format(data, filename, problems)
    if fmt == "json":
        records = _json_records(_decode(data, filename, problems), filename, max_rows, problems)
        sheets = [SheetSummary("grants", rows_read=len(records))]
    elif fmt == "csv":
        records, sheets = _csv_records(_decode(data, filename, problems, csv_rows=True), filename, max_rows, problems)
    else:
        records, sheets = _spreadsheet_records(data, filename, max_rows, problems)
    frame = _validate(records, filename, problems, today or dt.date.today())
    loaded = Counter(frame["sheet"].tolist())
    for summary in sheets:
        summary.grants = loaded.get(summary.name, 0)
    first = next((x.name for x in sheets if x.skipped is None), None)
    return GrantsFile(filename, fmt, first, len(records), frame, problems, sheets)


def _detect_format(data: bytes, filename: str, problems: list[Problem]) -> str:
    """The format to read: a workbook by its signature (a workbook saved as '.csv' happens), else
    by extension, else sniffed. Content that contradicts its name is read as what it is, with a
    ``file_format`` warning saying so (text under a spreadsheet name is read as CSV, as a
    workbook under a '.csv' name is read as a workbook); content that is neither a workbook nor
    text we can read (an HTML or XML page saved as '.xls', a PDF, other bytes) is refused with
    what it is and what to do."""
    ext = Path(filename).suffix.lower()
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        if ext and ext not in SPREADSHEET_EXTS:
            fix = "give it its workbook extension (.xlsx, .xls or .ods)"
            problems.append(_misnamed(filename, "a spreadsheet workbook", "a spreadsheet", fix))
        return "spreadsheet"
    looks_json = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
    if ext in SPREADSHEET_EXTS:
        _refuse_unreadable(data, filename, ext)
        fmt = "json" if looks_json else "csv"
        fix = f"rename it to .{fmt}" + (", or open it in Excel and Save As .xlsx" if fmt == "csv" else "")
        problems.append(_misnamed(filename, f"a text ({fmt.upper()}) file", fmt.upper(), fix))
        return fmt
    if ext in (".json", ".csv"):
        return ext[1:]
    return "json" if looks_json else "csv"


def _misnamed(filename: str, what: str, read_as: str, fix: str) -> Problem:
    """The warning for a file whose content is not what its name says, and how to avoid it."""
    return Problem(
        "warning",
        "file_format",
        f"file {filename} is {what}, though its name ends {Path(filename).suffix}; read as {read_as} — "
        f"{fix} to avoid this warning",
    )


def _refuse_unreadable(data: bytes, filename: str, ext: str) -> None:
    """Raise for content under a spreadsheet name that is neither a workbook nor text: say what
    it is and what to do. Text (UTF-8, Windows-1252 or UTF-16 with its mark) passes."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    advice = "open it in Excel (or the program that made it), Save As Excel Workbook (.xlsx) or CSV, and upload that"
    if head.startswith(b"<") and any(tag in head for tag in (b"<html", b"<table", b"<!doctype html")):
        what = f"an HTML web page (a table saved with a {ext} name, as some grant systems export), not a workbook"
    elif head.startswith(b"<"):
        xml_sheet = b"urn:schemas-microsoft-com:office:spreadsheet" in head
        what = ("an XML Spreadsheet 2003 file" if xml_sheet else "an XML file") + ", not a workbook"
    elif head.startswith(b"%pdf"):
        what, advice = "a PDF document", "upload the spreadsheet or CSV file the PDF was made from"
    elif data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" not in data[:4096]:
        return
    else:
        what = "neither an .xlsx, .xls or .ods workbook nor text"
    raise GrantsFileError(f"cannot open as a spreadsheet: the file is {what}; {advice}", filename)


def _open_workbook(data: bytes, filename: str):
    """The calamine workbook of a file with a workbook's signature; one that will not open is
    refused saying what it is and what to do, not with calamine's words alone."""
    try:
        return open_workbook(data, filename, GrantsFileError)
    except GrantsFileError:
        if data[:1] == b"\xd0":
            kind, e_g = "an old-style Excel (.xls)", "a password-protected workbook or another Office document"
        else:
            kind, e_g = "a ZIP (.xlsx or .ods)", "a .zip of other files"
        raise GrantsFileError(
            f"cannot open as a spreadsheet: the file starts like {kind} file but is damaged or is not a "
            f"workbook (e.g. {e_g}); open it in Excel (or the program that made it), save it again as "
            ".xlsx or CSV, and upload that",
            filename,
        ) from None


def _decode(data: bytes, filename: str, problems: list[Problem], csv_rows: bool = False) -> str:
    """UTF-8 (BOM stripped). A Windows-1252 file is read with a located warning, because
    360Giving files must be UTF-8 and characters such as '£' or 'é' may be wrong. UTF-16 (Excel's
    "Unicode text") is recognised by its byte-order mark and read with a warning too. An
    undecodable CSV is refused naming the row a spreadsheet shows (``csv_rows``) and the line."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        problems.append(Problem("warning", "encoding", "file is UTF-16, not UTF-8; read as UTF-16"))
        return data.decode("utf-16")
    try:
        decoded = decode_text_bytes(data)
    except NotText as exc:
        row = exc.line
        if csv_rows:  # quotes and line ends are ASCII: Latin-1 splits the records as any encoding would
            row = _row_of_line(data.decode("latin-1"), filename, exc.line)
        where = f"row {row}, line {exc.line} of the file" if csv_rows else f"line {exc.line}"
        raise GrantsFileError(
            f"not UTF-8 text (byte 0x{exc.byte:02x} in {where}) and not Windows-1252 either; save the file as UTF-8",
            filename,
            row=row,
        ) from None
    if decoded.first_bad and decoded.utf8:
        line, byte = decoded.first_bad
        problems.append(
            Problem(
                "warning",
                "encoding",
                f"file is UTF-8 but {decoded.bad:,} byte{'' if decoded.bad == 1 else 's'} in it "
                f"{'is' if decoded.bad == 1 else 'are'} not (first 0x{byte:02x} on line {line}, read as "
                f"Windows-1252: {decoded.first_char!r}); the rest is read as UTF-8 — check that character",
                row=line,
            )
        )
    elif decoded.first_bad:
        line, byte = decoded.first_bad
        problems.append(
            Problem(
                "warning",
                "encoding",
                f"file is not UTF-8 (first bad byte 0x{byte:02x} on line {line}); "
                "read as Windows-1252 — check accented letters and '£' signs",
                row=line,
            )
        )
    return decoded.text


def _check_size(n: int, max_rows: int, filename: str, sheet: str | None = None, row: int | None = None) -> None:
    """The row limit, stated as 360Giving's data quality tool states its own: grant rows per sheet,
    the heading row not counted (nor blank or empty template rows)."""
    if n > max_rows:
        where = f"sheet '{sheet}' has" if sheet else "the file has"
        raise TooManyRows(
            f"{where} more than {max_rows:,} grants (rows of grants per sheet; the heading row, "
            f"blank rows and empty template rows are not counted); {ROW_LIMIT_ADVICE}",
            filename,
            sheet,
            row,
        )


def _json_records(text: str, filename: str, max_rows: int, problems: list[Problem] | None = None) -> list[_Record]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GrantsFileError(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", filename, row=exc.lineno
        ) from None
    grants = doc.get("grants") if isinstance(doc, dict) else None
    if not isinstance(grants, list):
        raise GrantsFileError("not a 360Giving JSON file: no top-level 'grants' array", filename)
    _check_size(len(grants), max_rows, filename, "grants", max_rows + 1)
    out = []
    for i, grant in enumerate(grants):
        values: dict[str, Any] = {}
        where: dict[str, str] = {}
        if not isinstance(grant, dict):
            out.append(_Record(i + 1, values, where))  # reported as missing every required field
            continue
        base = f"grants/{i}"
        for prop, title in _GRANT_PROPS.items():
            if prop in grant:
                values[title], where[title] = grant[prop], f"{base}/{prop}"
        for prop, (prefix, props) in _LIST_OBJECTS.items():
            items = grant.get(prop)
            if isinstance(items, dict):  # tolerated: a single object where the standard has a list
                items = [items]
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                continue
            if len(items) > 1 and prop == "recipientOrganization":
                values["_extra_recipients"] = len(items)
            for sub, title in props.items():
                if sub in items[0]:
                    values[f"{prefix}:{title}"], where[f"{prefix}:{title}"] = items[0][sub], f"{base}/{prop}/0/{sub}"
            if prop == "recipientOrganization":
                _json_locations(items[0].get("location"), RECIPIENT, f"{base}/{prop}/0/location", values, where)
        ind = grant.get("recipientIndividual")
        if isinstance(ind, dict):
            for sub, title in (("id", "Identifier"), ("name", "Name")):
                if sub in ind:
                    values[f"Recipient Ind:{title}"], where[f"Recipient Ind:{title}"] = (
                        ind[sub],
                        f"{base}/recipientIndividual/{sub}",
                    )
        beneficiary = _beneficiary_locations(grant, i, problems)
        _json_locations(beneficiary, BENEFICIARY, f"{base}/beneficiaryLocation", values, where)
        out.append(_Record(i + 1, values, where, "grants"))
    return out


def _beneficiary_locations(grant: dict, i: int, problems: list[Problem] | None) -> list[dict]:
    """A grant's beneficiaryLocation list. A single object where the standard has a list is read
    as a list of one (as for the other lists); anything else that is not a location object is
    reported as a located warning (the ``i``-th grant, 0-based), never dropped silently."""
    locs = grant.get("beneficiaryLocation")
    if locs is None:
        return []
    if isinstance(locs, dict):
        return [locs]
    items = locs if isinstance(locs, list) else [locs]
    for n, loc in enumerate(items):
        if not isinstance(loc, dict) and problems is not None:
            path = f"grants/{i}/beneficiaryLocation" + (f"/{n}" if isinstance(locs, list) else "")
            problems.append(
                Problem(
                    "warning",
                    "malformed_location",
                    f"beneficiaryLocation {loc!r} is not a location object (geoCode, geoCodeType, name); "
                    "not used to place the grant",
                    "grants",
                    i + 1,
                    "Beneficiary Location:Geographic Code",
                    _text(grant.get("id")),
                    path,
                )
            )
    return [loc if isinstance(loc, dict) else {} for loc in items]


def _json_locations(locations: Any, prefix: str, path: str, values: dict, where: dict) -> None:
    """A JSON location list (beneficiaryLocation, or recipientOrganization[0].location) flattened
    to ``{prefix}:Geographic Code``, ``{prefix}:1:Geographic Code`` … with each value's JSON path."""
    if isinstance(locations, dict):  # tolerated: a single object where the standard has a list
        locations = [locations]
    for n, loc in enumerate(locations if isinstance(locations, list) else []):
        if not isinstance(loc, dict):
            continue
        infix = "" if n == 0 else f"{n}:"
        for sub, title in _LOCATION_PROPS.items():
            if sub in loc:
                key = f"{prefix}:{infix}{title}"
                values[key], where[key] = loc[sub], f"{path}/{n}/{sub}"


def canonical_title(header: Any) -> str:
    """A column heading as the standard spells it: whitespace tidied, case folded to the known
    title, the first list item's ``:0`` index dropped (``Recipient Org:0:Identifier``)."""
    h = " ".join(str(header or "").split())
    h = _INDEX_SEGMENT.sub("", h)
    h = re.sub(r"\s*:\s*", ":", h)
    known = _TITLE_BY_KEY.get(h.casefold())
    if known:
        return known
    m = _INDEXED_LOCATION.match(h)
    if m:
        sub = _TITLE_BY_KEY.get(f"{m.group(1)}:{m.group(3)}".casefold())
        if sub:
            prefix, name = sub.rsplit(":", 1)
            return f"{prefix}:{m.group(2)}:{name}"
    return h


def _blank(value: Any) -> bool:
    return (
        value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and value != value)
    )


#: A row with none of these filled has no grant content: an empty template row (e.g. only a
#: pre-filled Funding Org or Currency), counted once per sheet, never read as a grant.
GRANT_CONTENT_PREFIXES = (
    "Identifier",
    "Title",
    "Description",
    "Amount Awarded",
    "Award Date",
    "Planned Dates:",
    "Recipient Org:",
    "Recipient Ind:",
    "Beneficiary Location:",
)


def missing_columns(titles: Iterable[str]) -> list[str]:
    """Essential columns absent from a heading row (titles already canonical)."""
    present = set(titles)
    return [c for c in ESSENTIAL_COLUMNS if c not in present]


def near_misses(headers: Iterable[Any], wanted: Iterable[str]) -> list[str]:
    """Headings that look like a wanted column but are not its standard title, as
    'heading → Title' (e.g. 'Award date:Start date → Award Date', 'Amount → Amount Awarded',
    'Date Awarded → Award Date', 'Grant ID → Identifier'), in heading order. Each heading and each
    wanted title is offered at most once, best matches first (:func:`_near_miss_score`)."""
    wanted = list(wanted)
    raws = [" ".join(str(h or "").split()) for h in headers]
    raws = [r for r in raws if r and canonical_title(r) not in _TITLE_BY_KEY.values()]
    scores = {(i, j): _near_miss_score(r, w) for i, r in enumerate(raws) for j, w in enumerate(wanted)}
    chosen: dict[int, int] = {}
    for i, j in sorted((k for k, v in scores.items() if v), key=lambda k: -scores[k]):
        if i not in chosen and j not in chosen.values():
            chosen[i] = j
    return [f"{raws[i]} → {wanted[j]}" for i, j in sorted(chosen.items())]


def _near_miss_score(heading: str, title: str) -> float:
    """How much a heading looks like a standard title: 1 for the same letters or the same words
    in another order or tense ('Date Awarded', 'Grant ID' for Identifier), 0.9 when one holds the
    other ('Amount' → 'Amount Awarded'), else the letters' similarity if at least 0.75; 0: no."""

    def key(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.casefold())

    def words(text: str) -> set[str]:
        out = set()
        for w in re.findall(r"[a-z0-9]+", text.casefold()):
            w = _WORD_SYNONYMS.get(w, w)
            for end in ("ed", "s"):
                if w.endswith(end) and len(w) > len(end) + 3 and not w.endswith("ss"):
                    w = w[: -len(end)]
            out.add(w)
        return out - {"grant"}  # every column of a grants file is the grant's

    a, b = key(heading), key(title)
    if len(a) < 2:  # a one-letter cell ('a') is no near miss of any title
        return 0.0
    if a == b or (words(heading) and words(heading) == words(title)):
        return 1.0
    if b in a or a in b:
        return 0.9
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= 0.75 else 0.0


#: Words funders use for a standard title's word (near misses only).
_WORD_SYNONYMS = {"id": "identifier"}


def missing_columns_message(headers: list[Any]) -> str:
    """Which essential columns a heading row lacks, and its near misses."""
    missing = missing_columns(canonical_title(h) for h in headers)
    near = near_misses(headers, missing)
    return (
        f"lacks {', '.join(missing)}"
        + (f" (near misses: {'; '.join(near)})" if near else "")
        + f"; headings found: {[str(h) for h in headers if not _blank(h)][:12]}"
    )


def _content_columns(first_at: dict[str, int]) -> list[int]:
    return [i for t, i in first_at.items() if t.startswith(GRANT_CONTENT_PREFIXES)]


def _template_problem(sheet: str | None, rows: list[int], first_at: dict[str, int], filled: set[int]) -> Problem:
    names = [t for t, i in first_at.items() if i in filled] or ["nothing"]
    return Problem(
        "warning",
        "template_rows",
        f"{len(rows):,} rows have no grant content (only "
        f"{', '.join(names[:4])} filled): counted as empty template rows, not read as grants; "
        f"rows {row_ranges(rows)}",
        sheet,
        rows[0],
    )


def _is_read(title: str) -> bool:
    """Whether a canonical heading is one of the columns this module reads."""
    if title in _TITLE_BY_KEY.values():
        return True
    m = re.match(r"^(Beneficiary Location|Recipient Org:Location):\d+:(.+)$", title)
    return bool(m) and f"{m.group(1)}:{m.group(2)}" in _TITLE_BY_KEY.values()


#: The standard's JSON property names (and 'postcode'), which funders use as column headings:
#: the field of a column title each stands for (near misses of headings only).
_FIELD_SYNONYMS = {
    "postcode": "Postal Code",
    "postalcode": "Postal Code",
    "geocode": "Geographic Code",
    "geocodetype": "Geographic Code Type",
    "countrycode": "Country Code",
    "charitynumber": "Charity Number",
    "companynumber": "Company Number",
    "amountawarded": "Amount Awarded",
    "awarddate": "Award Date",
}


def heading_near_miss(heading: str, present: Iterable[str] = ()) -> str | None:
    """The standard title a heading that is not one seems meant to be, within the same list
    ('Recipient Org:Postcode' → 'Recipient Org:Postal Code', 'Beneficiary Location:1:GeoCode' →
    'Beneficiary Location:1:Geographic Code'), or None. Titles in ``present`` are not offered."""
    h = canonical_title(heading)
    m = re.match(r"^(.*?)(?::(\d+))?:([^:]*)$", h) if ":" in h else None
    prefix, index, name = (m.group(1), m.group(2), m.group(3)) if m else ("", None, h)
    titles = [t for t in KNOWN_TITLES if (t.rsplit(":", 1)[0] if ":" in t else "").casefold() == prefix.casefold()]
    fields = {t.rsplit(":", 1)[-1]: t for t in titles}
    wanted = _FIELD_SYNONYMS.get(re.sub(r"[^a-z0-9]", "", name.casefold()))
    if wanted in fields:
        best = fields[wanted]
    else:
        scored = [(_near_miss_score(name, f), t) for f, t in fields.items()]
        score, best = max(scored, default=(0.0, None))
        if not score:
            return None
    if index is not None:
        best = f"{prefix}:{index}:{best.rsplit(':', 1)[-1]}"
    return None if best in set(present) or best.casefold() == h.casefold() else best


def _unused_columns(
    titles: list[str], counts: Counter, sheet: str | None, header_row: int, first_col: int
) -> list[Problem]:
    """One warning per heading that is not a column this module reads but seems meant to be one
    (a near miss of a standard title: 'Recipient Org:Postcode') or names a place (GrantNav's 'Best
    Available Recipient Ward Geographic Code (additional data)'), with how many values it holds
    (``counts``: column index → filled grant rows), so a column is never ignored without a word."""
    out = []
    for i, t in enumerate(titles):
        if not t or _is_read(t):
            continue
        meant = heading_near_miss(t, titles)
        if meant is None and not _LOCATION_LIKE.search(t):
            continue
        held = f"its {counts[i]:,} value{'' if counts[i] == 1 else 's'} were not used"
        if meant:
            message = (
                f"heading '{t}' is not a 360Giving column title — did you mean {meant}? {held.capitalize()}; "
                f"rename the heading to {meant} to use them"
            )
        else:
            message = (
                f"column '{t}' looks like a location but is not read ({held}): grants are placed only by "
                "the 360Giving columns Beneficiary Location:Geographic Code, Recipient Org:Postal Code and "
                "Recipient Org:Location:Geographic Code"
            )
        cell = f"{excel_col(first_col + i)}{header_row}"
        out.append(Problem("warning", "column_not_used", message, sheet, header_row, t, cell=cell))
    return out


def _table_records(
    header: list[Any],
    rows: Iterable[tuple[int, list[Any]]],
    filename: str,
    sheet: str | None,
    header_row: int,
    max_rows: int,
    problems: list[Problem],
    first_col: int = 0,
) -> tuple[list[_Record], SheetSummary]:
    """Records from a heading row and located data rows (CSV records or spreadsheet rows), and what
    the sheet gave. Rows without grant content are counted once as template rows. ``first_col`` is
    the sheet column of the rows' first cell (0 = A), so every cell named is the one the funder opens."""
    titles = [canonical_title(h) for h in header]
    missing = missing_columns(titles)
    if missing:
        raise GrantsFileError(
            f"not a 360Giving grants file: {missing_columns_message(header)}", filename, sheet, header_row, missing[0]
        )
    first_at: dict[str, int] = {}
    for i, t in enumerate(titles):
        if not t:
            continue
        if t in first_at:
            problems.append(
                Problem(
                    "warning",
                    "duplicate_column",
                    f"column '{t}' appears twice; the first (column {excel_col(first_col + first_at[t])}) is used",
                    sheet,
                    header_row,
                    t,
                    cell=f"{excel_col(first_col + i)}{header_row}",
                )
            )
        else:
            first_at[t] = i
    out: list[_Record] = []
    content = _content_columns(first_at)
    template_rows: list[int] = []
    filled: set[int] = set()
    unread = [i for i, t in enumerate(titles) if t and not _is_read(t)]
    counts: Counter = Counter()
    for rownum, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        if all(i >= len(cells) or _blank(cells[i]) for i in content):
            template_rows.append(rownum)
            if len(template_rows) <= 50:
                filled.update(i for i, c in enumerate(cells) if not _blank(c))
            continue
        _check_size(len(out) + 1, max_rows, filename, sheet, rownum)
        if len(cells) > len(titles) and any(not _blank(c) for c in cells[len(titles) :]):
            problems.append(
                Problem(
                    "warning",
                    "extra_cells",
                    f"row has {len(cells)} cells but only {len(titles)} headings; the extra cells are ignored",
                    sheet,
                    rownum,
                )
            )
        counts.update(i for i in unread if i < len(cells) and not _blank(cells[i]))
        values = {t: cells[i] if i < len(cells) else None for t, i in first_at.items()}
        where = {t: f"{excel_col(first_col + i)}{rownum}" for t, i in first_at.items()}
        out.append(_Record(rownum, values, where, sheet))
    problems += _unused_columns(titles, counts, sheet, header_row, first_col)
    if template_rows:
        problems.append(_template_problem(sheet, template_rows, first_at, filled))
    return out, SheetSummary(sheet, len(out), len(template_rows))


#: Column separators a CSV may use: Excel writes ';' where the decimal point is a comma, and its
#: "Unicode text" (UTF-16) is tab-separated.
CSV_SEPARATORS = {",": "commas", ";": "semicolons (';')", "\t": "tabs"}


def _csv_records(
    text: str, filename: str, max_rows: int, problems: list[Problem]
) -> tuple[list[_Record], list[SheetSummary]]:
    """Records of a CSV, numbered as a spreadsheet shows the file when it opens it: the heading is
    row 1 and each record is one row, also when a cell holds line breaks (a Description typed with
    Alt+Enter); a blank line is an empty row. The heading row is found as in a spreadsheet (within
    the first 20 rows, so a title line above it is fine), and the column separator is the one of
    ',', ';' or tab that gives it."""
    sep = _csv_separator(text, filename)
    rows, starts = _csv_rows(text, filename, sep)
    _encoding_rows(problems, starts)
    k, why = _heading_row(rows)
    if why:
        raise _csv_heading_error(rows, k, text, filename)
    if sep != ",":
        problems.append(
            Problem(
                "warning",
                "csv_separator",
                f"the columns are separated by {CSV_SEPARATORS[sep]}, not commas; read that way. "
                "An amount written with a decimal comma (1500,50) is not read as a number: "
                "save the file as 'CSV (comma delimited)' or upload the spreadsheet itself",
                row=k + 1,
            )
        )
    located = [(j + 1, rec) for j, rec in enumerate(rows) if j > k]
    records, summary = _table_records(rows[k], located, filename, None, k + 1, max_rows, problems)
    titles = [canonical_title(h) for h in rows[k]]
    for rec in records:
        rec.refused += _swallowed_lines(rows[rec.row - 1], starts[rec.row - 1], titles, sep)
    return records, [summary]


def _swallowed_lines(cells: list[str], line: int, titles: list[str], sep: str) -> list[tuple[str, str, str]]:
    """A cell whose quote opened on one line and closed only lines later, holding what look like
    whole rows (a line with half a row's separators or more, or one starting '360G-'): a stray
    quote ('"Great project', 'TV 42" screen'), which made the reader take the following grants as
    text of this cell. Found as (check, message, column) for the record starting on ``line``."""
    out = []
    need = max(2, (len(titles) - 1) // 2)
    for i, cell in enumerate(cells):
        if "\n" not in cell:  # most cells: checked once per row of every upload
            continue
        inner = cell.split("\n")[1:]
        if not any(x.count(sep) >= need or x.lstrip('"').upper().startswith("360G-") for x in inner):
            continue
        first = line + sum(c.count("\n") for c in cells[:i])
        last = first + len(inner)
        title = titles[i] if i < len(titles) else f"column {excel_col(i)}"
        out.append(
            (
                "csv_quote",
                f"a quote opened in {title} on line {first} of the file is closed only on line {last}: "
                f"lines {first}–{last} ({len(inner) + 1} lines, which look like rows of grants) were read as "
                f"one cell, so this row and the grants written on lines {first + 1}–{last} are not loaded; "
                'remove the stray quote (a quote inside a cell is written "") and upload again',
                title,
            )
        )
    return out


def _csv_separator(text: str, filename: str) -> str:
    """',' — or ';' or tab when only that separator gives a heading row with the essential columns
    in the first 20 rows."""
    for sep in CSV_SEPARATORS:
        try:
            head, _ = _csv_rows(text, filename, sep, limit=20)
        except GrantsFileError:
            continue
        if _heading_row(head)[1] is None:
            return sep
    return ","


def _csv_heading_error(rows: list[list[str]], k: int, text: str, filename: str) -> GrantsFileError:
    """No heading row with the essential columns in the first 20 rows: what the likeliest heading
    row lacks (the first non-blank row when none is near), and the separator when it is not ','."""
    filled = [j for j, r in enumerate(rows[:20]) if not all(_blank(c) for c in r)]
    if not filled:
        return GrantsFileError("file has no heading row", filename)
    j = k if k >= 0 else filled[0]
    missing = missing_columns(canonical_title(h) for h in rows[j])
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: first_line.count(sep) for sep in CSV_SEPARATORS}
    sep = max(counts, key=counts.get)
    hint = (
        f"; its columns seem to be separated by {CSV_SEPARATORS[sep]}, not commas: save it as "
        "'CSV (comma delimited)' or upload the spreadsheet itself"
        if sep != "," and counts[sep] > counts[","]
        else ""
    )
    return GrantsFileError(
        f"not a 360Giving grants file: no heading row in the first 20 rows has the columns "
        f"{', '.join(ESSENTIAL_COLUMNS)}; row {j + 1} {missing_columns_message(rows[j])}{hint}",
        filename,
        row=j + 1,
        column=missing[0] if missing else None,
    )


def _csv_rows(text: str, filename: str, sep: str = ",", limit: int | None = None) -> tuple[list[list[str]], list[int]]:
    """The records of a CSV (the first ``limit``) and the physical line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows: list[list[str]] = []
    starts: list[int] = []
    start = 1
    try:
        for rec in itertools.islice(reader, limit):
            rows.append(rec)
            starts.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise GrantsFileError(
            f"not readable as CSV: {exc} (row {len(rows) + 1}, line {reader.line_num} of the file)",
            filename,
            row=len(rows) + 1,
        ) from None
    return rows, starts


def _row_of_line(text: str, filename: str, line: int) -> int:
    """The CSV row (as a spreadsheet numbers them) that holds a physical line; the line itself when
    the text cannot be split into records."""
    try:
        _, starts = _csv_rows(text, filename)
    except GrantsFileError:
        return line
    return max(bisect.bisect_right(starts, line), 1)


def _encoding_rows(problems: list[Problem], starts: list[int]) -> None:
    """The encoding warning found its first bad byte on a physical line: name the CSV row instead."""
    for p in problems:
        if p.check == "encoding" and p.row is not None and starts:
            line, p.row = p.row, max(bisect.bisect_right(starts, p.row), 1)
            p.message = p.message.replace(f"on line {line}", f"in row {p.row}")


def _spreadsheet_records(
    data: bytes, filename: str, max_rows: int, problems: list[Problem]
) -> tuple[list[_Record], list[SheetSummary]]:
    """Every sheet whose heading row (within its first 20 rows) has the essential columns; each
    other sheet is named with why it was skipped. No sheet with them: one error naming, per
    sheet, the columns it lacks and its near misses."""
    wb = _open_workbook(data, filename)
    errors = excel_error_cells(data)
    records: list[_Record] = []
    sheets: list[SheetSummary] = []
    for name in wb.sheet_names:
        sheet, rows = sheet_rows(wb, name, filename, GrantsFileError)
        first_row, first_col = sheet.start or (0, 0)  # to_python starts at the first used row and column
        _mark_error_cells(rows, errors.get(name, {}), first_row, first_col)
        first_row += 1
        k, why = _heading_row(rows)
        if why:
            sheets.append(SheetSummary(name, skipped=why))
            continue
        located = [(first_row + j, list(r)) for j, r in enumerate(rows) if j > k]
        got, summary = _table_records(
            list(rows[k]), located, filename, name, first_row + k, max_rows, problems, first_col
        )
        records += got
        sheets.append(summary)
    if all(x.skipped for x in sheets):
        raise GrantsFileError(
            "no sheet has the 360Giving columns "
            + ", ".join(ESSENTIAL_COLUMNS)
            + ": "
            + "; ".join(f"sheet '{x.name}' {x.skipped}" for x in sheets),
            filename,
        )
    for x in sheets:
        if x.skipped:
            problems.append(Problem("warning", "sheet_skipped", f"sheet '{x.name}' not read: it {x.skipped}", x.name))
    return records, sheets


def _mark_error_cells(
    rows: list[list[Any]], errors: dict[tuple[int, int], str], first_row: int, first_col: int
) -> None:
    """Put each Excel error cell (``codes.excel_error_cells``: sheet row and column, 0-based) back
    into the rows calamine read as empty, as an :class:`ExcelErrorCell`."""
    for (r, c), text in errors.items():
        i, j = r - first_row, c - first_col
        if 0 <= i < len(rows) and 0 <= j < len(rows[i]):
            rows[i][j] = ExcelErrorCell(text)


def _heading_row(rows: list[list[Any]]) -> tuple[int, str | None]:
    """(index of the heading row, None), or (index of the row likeliest to be meant as the heading
    row, or -1 when none is, why this sheet has no usable heading row)."""
    best, best_known = None, 0
    for k, cells in enumerate(rows[:20]):
        titles = [canonical_title(c) for c in cells]
        if not missing_columns(titles):
            return k, None
        known = sum(t in ESSENTIAL_COLUMNS for t in titles) + len(near_misses(cells, ESSENTIAL_COLUMNS))
        if known > best_known:
            best, best_k, best_known = cells, k, known
    if best is None:
        return -1, "has no heading row with 360Giving columns in its first 20 rows"
    return best_k, missing_columns_message(list(best))


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """Cell → trimmed text; spreadsheet numbers such as 1136547.0 → '1136547'."""
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse_amount(value: Any) -> tuple[float | None, str | None]:
    """(number, currency symbol written with it): a number, or a string holding one (thousands
    commas allowed; one currency sign before or after it, e.g. '£9,500', '-£50', '9500 €').
    The number is None when the text is not a number — also when a comma is not a thousands
    separator ('1.500,00', '2,50', '1,5000'): such an amount is never guessed."""
    if isinstance(value, bool):
        return None, None
    if isinstance(value, (int, float)):
        return (None if value != value else float(value)), None
    symbol, s = _currency_symbol(_text(value) or "")
    if "," in s:
        if not _THOUSANDS.match(s):
            return None, symbol
        s = s.replace(",", "")
    return (float(s) if _NUMBER.match(s) else None), symbol


def _currency_symbol(text: str) -> tuple[str | None, str]:
    """('£', '-50') from '-£50': the currency sign (Unicode category Sc) written before or after a
    number, and the number's text without it."""
    sign, rest = (text[0], text[1:].lstrip()) if text[:1] in "+-" else ("", text)
    if rest and unicodedata.category(rest[0]) == "Sc":
        return rest[0], sign + rest[1:].strip()
    if rest and unicodedata.category(rest[-1]) == "Sc":
        return rest[-1], sign + rest[:-1].strip()
    return None, text


#: The ISO 4217 codes a currency sign written in Amount Awarded may stand for: '£' is read as
#: pounds; any other sign only when the row's Currency is one it stands for (never as pounds).
SYMBOL_CURRENCIES = {
    "£": {"GBP"},
    "€": {"EUR"},
    "$": {"USD", "CAD", "AUD", "NZD", "HKD", "SGD"},
    "¥": {"JPY", "CNY"},
}


#: d/m/yyyy (or m/d/yyyy) text, optionally followed by a time of day as Excel and grant systems
#: write a date-time cell ("01/04/2023 09:30", "4/1/2023 9:30:00 AM"); the time is dropped, as
#: for an ISO date-time. Groups 1, 3, 4: the parts; group "time": the time, if any.
_DMY_DATE = re.compile(
    r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})"
    r"(?P<time>(?:T| +)\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?(?: ?[AaPp]\.?[Mm]\.?)?)?$"
)
DATE_COLUMNS = ["Award Date", "Planned Dates:Start Date", "Planned Dates:End Date"]
_ORDER_TEXT = {"dmy": "day/month/year (the UK way)", "mdy": "month/day/year (the US way)"}


def _parse_date(value: Any, order: str | None = "dmy") -> tuple[dt.date | None, str | None]:
    """ISO date or date-time, a spreadsheet date cell, or d/m/yyyy text (a time of day after it
    is dropped, as for an ISO date-time) read in ``order`` ('dmy' or 'mdy', as found for the whole
    column by :func:`date_order`) → (date, None); else (None, reason)."""
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    s = _text(value) or ""
    m = _ISO_DATE.match(s)
    if m:
        parts = (m.group(1), m.group(2), m.group(3))
    elif (d := _DMY_DATE.match(s)) and order:
        first, second = d.group(1), d.group(3)
        parts = (d.group(4), second, first) if order == "dmy" else (d.group(4), first, second)
    else:
        return None, f"{s!r} is not a date in the form YYYY-MM-DD (or DD/MM/YYYY)"
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2])), None
    except ValueError:
        return None, f"{s!r} is a date that does not exist"


def date_order(values: Iterable[Any]) -> tuple[str | None, str | None]:
    """How a column writes its d/m/yyyy dates: ('dmy', None) — also when no day is above 12 (read
    the UK way) —, ('mdy', None) when month/day dates show themselves (07/24/2014) and none or
    only a slip contradicts them, or (None, why) when the column holds both orders and cannot be
    read one way. A slip: dates of the other order are at most one in ten of those that show their
    order (59 unmistakable '13/01/2023' … and one '04/13/2023'); each such date is then an error of
    its own row (:func:`wrong_order`), and the rest of the column is read."""
    shown: dict[str, list[str]] = {"dmy": [], "mdy": []}
    for v in values:
        m = _DMY_DATE.match(v) if isinstance(v, str) else None
        if m and int(m.group(1)) > 12:
            shown["dmy"].append(v)
        if m and int(m.group(3)) > 12:
            shown["mdy"].append(v)
    dmy, mdy = len(shown["dmy"]), len(shown["mdy"])
    if dmy and mdy and max(dmy, mdy) < 9 * min(dmy, mdy):
        return None, (
            f"the column holds both day/month ({shown['dmy'][0]!r}, {_rows(dmy)}) and month/day "
            f"({shown['mdy'][0]!r}, {_rows(mdy)}) dates, so it cannot be read one way"
        )
    return ("mdy" if mdy > dmy else "dmy"), None


def wrong_order(text: str, order: str, example: str, count: int) -> str | None:
    """Why a d/m/yyyy date cannot be read in its column's ``order`` because it shows the other
    order ('04/13/2023' in a day/month column: there is no month 13), or None."""
    m = _DMY_DATE.match(text)
    if not m:
        return None
    month = int(m.group(3) if order == "dmy" else m.group(1))
    if month <= 12:
        return None
    other = "month/day" if order == "dmy" else "day/month"
    return (
        f"{text!r} has no month {month}: the column is written {_ORDER_TEXT[order]}, e.g. {example!r} "
        f"({_rows(count)} can only be read that way) — is this date {other}? Write it as the column's "
        "others are, or as YYYY-MM-DD"
    )


@dataclass
class _DateStyle:
    """How one date column of one sheet is written (found once, reported once)."""

    order: str | None
    why: str | None
    first: _Record | None  # first record with a d/m/yyyy text date
    count: int
    ambiguous: bool  # no day (or month) above 12 anywhere in the column
    timed: int = 0  # how many of them have a time of day after the date (dropped)
    shown: tuple[str, int] | None = None  # a date that shows the column's order, and how many do


def _date_styles(records: list[_Record]) -> dict[tuple[str | None, str], _DateStyle]:
    """Per (sheet, date column): the order of its d/m/yyyy dates, found over the whole column."""
    texts: dict[tuple[str | None, str], list[tuple[_Record, str]]] = {}
    for rec in records:
        for col in DATE_COLUMNS:
            v = rec.values.get(col)
            if isinstance(v, str) and _DMY_DATE.match(v.strip()):
                texts.setdefault((rec.sheet, col), []).append((rec, v.strip()))
    styles = {}
    for key, found in texts.items():
        order, why = date_order(v for _, v in found)
        parts = [(v, _DMY_DATE.match(v)) for _, v in found]
        shows = [v for v, m in parts if int(m.group(1 if order == "dmy" else 3)) > 12]  # dates that show the order
        timed = sum(1 for _, m in parts if m.group("time"))
        shown = (shows[0], len(shows)) if shows and order else None
        styles[key] = _DateStyle(order, why, found[0][0], len(found), not shows, timed, shown)
    return styles


def _date_style_problem(sheet: str | None, col: str, style: _DateStyle) -> Problem:
    """The once-per-column warning that names the date format found."""
    rec = style.first
    example = rec.values.get(col).strip()
    how = _ORDER_TEXT[style.order]
    note = " (no day above 12, so read the UK way)" if style.ambiguous and style.order == "dmy" else ""
    if style.timed:
        note += f"; the time of day after the date ({_rows(style.timed)}) is dropped"
    return Problem(
        "warning",
        "date_format",
        f"{col} is written {how}, e.g. {example!r}, in {_rows(style.count)}, "
        f"not YYYY-MM-DD as the 360Giving standard asks; read as {how}{note}",
        sheet,
        rec.row,
        col,
        _text(rec.values.get("Identifier")),
        rec.where.get(col),
    )


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def _charity_number_ok(num: str) -> bool:
    return num.isdigit() and len(num) in (6, 7)


def _org_id_problem(org_id: str) -> str | None:
    """Why an organisation identifier looks wrong, as 360Giving's checks would say, or None."""
    upper = org_id.upper()
    if upper.startswith("360G-"):
        return None
    if not _ORG_ID.match(org_id):
        return "does not look like an org-id (PREFIX-REGISTER-number, e.g. GB-CHC-1234567, or 360G-…)"
    if upper.startswith("GB-CHC-") and not _charity_number_ok(org_id[7:]):
        return "GB-CHC- identifier does not hold a 6 or 7 digit charity number"
    if upper.startswith("GB-COH-") and not _COMPANY_NO.match(org_id[7:]):
        return "GB-COH- identifier does not hold an 8 character company number"
    return None


def location_codes(values: dict[str, Any], prefix: str = BENEFICIARY) -> list[tuple[str, str | None, str | None]]:
    """(column, code, code type) for every location of one flattened grant in one of the standard's
    location lists (``BENEFICIARY`` or ``RECIPIENT``, the recipient organisation's), in order."""
    found = []
    for key, value in values.items():
        m = _LOCATION_CODE.match(key)
        if m and m.group(1) == prefix:
            idx = m.group(2)
            type_key = f"{prefix}:" + (f"{idx}:" if idx else "") + "Geographic Code Type"
            found.append((int(idx or 0), key, _text(value), _text(values.get(type_key))))
    return [(k, c, t) for _, k, c, t in sorted(found)]


def beneficiary_codes(values: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(column, code, code type) for every beneficiary location of one flattened grant, in order."""
    return location_codes(values, BENEFICIARY)


class _Row:
    """One record being checked: its values, and the problems found on it (located)."""

    def __init__(self, rec: _Record, problems: list[Problem], styles: dict):
        self.rec, self.problems, self.styles, self.bad = rec, problems, styles, False
        self.fated: list[tuple[Problem, Callable[[bool], str]]] = []
        self.excel_errors = {c: v for c, v in rec.values.items() if isinstance(v, ExcelErrorCell)}
        for col in self.excel_errors:
            rec.values[col] = None
        self.gid = _text(rec.values.get("Identifier"))
        for col, text in self.excel_errors.items():
            essential = col in ESSENTIAL_COLUMNS
            self.add(
                "error" if essential else "warning",
                "excel_error",
                f"cell {rec.where.get(col)} holds the Excel error {text} — the formula behind it failed; "
                + ("row not loaded" if essential else f"{col} not used (not read as a value)")
                + ": fix the formula or type the value",
                col,
            )
        for check, message, column in rec.refused:
            self.add("error", check, message, column)

    def get(self, column: str) -> Any:
        return self.rec.values.get(column)

    def add(self, severity: str, check: str, message: str | Callable[[bool], str], column: str | None = None) -> None:
        """Report a problem on this row. A ``message`` that depends on the row's fate is a function
        of whether the row is loaded, called by :meth:`settle` once every check has run, so a
        warning never says 'loaded' on a row a later check refuses."""
        if check == "required" and column in self.excel_errors:
            return  # the cell is not blank: its Excel error is reported instead
        self.bad = self.bad or severity == "error"
        problem = Problem(
            severity,
            check,
            message if isinstance(message, str) else "",
            self.rec.sheet,
            self.rec.row,
            column,
            self.gid,
            self.rec.where.get(column) if column else None,
        )
        if not isinstance(message, str):
            self.fated.append((problem, message))
        self.problems.append(problem)

    def settle(self) -> None:
        """Write the messages that state the row's fate, now that every check has run."""
        for problem, message in self.fated:
            problem.message = message(not self.bad)

    def date(self, column: str) -> tuple[dt.date | None, str | None]:
        style = self.styles.get((self.rec.sheet, column))
        if (
            style is not None
            and style.why
            and isinstance(self.get(column), str)
            and _DMY_DATE.match(self.get(column).strip())
        ):
            return None, f"{self.get(column).strip()!r} cannot be read: {style.why}"
        if style is not None and style.shown and isinstance(self.get(column), str):
            why = wrong_order(self.get(column).strip(), style.order, *style.shown)
            if why:
                return None, why
        return _parse_date(self.get(column), style.order if style else "dmy")


def _validate(records: list[_Record], filename: str, problems: list[Problem], today: dt.date) -> pd.DataFrame:
    """Apply every row check; return the good rows shaped like the ``grants`` table (+ ``sheet``)."""
    styles = _date_styles(records)
    for (sheet, col), style in styles.items():
        if style.why is None:
            problems.append(_date_style_problem(sheet, col, style))
    seen_ids: dict[str, _Record] = {}
    far_past = _years_before(today, 25)
    good: list[dict[str, Any]] = []
    for rec in records:
        row = _Row(rec, problems, styles)
        _check_identifiers(row, seen_ids)
        amount, currency = _check_amount(row), _check_currency(row)
        award_date = _check_award_date(row, today, far_past)
        _check_planned_dates(row)
        recipient_id = _check_required_fields(row)
        _check_org_numbers(row)
        postcode = _check_postcode(row)
        codes = _check_location_codes(row, BENEFICIARY)
        recipient_codes = _check_location_codes(row, RECIPIENT)
        row.settle()
        if not row.bad:
            good.append(
                _grant_row(row, filename, amount, currency, award_date, recipient_id, postcode, codes, recipient_codes)
            )
    frame = pd.DataFrame(good, columns=GRANT_COLUMNS + ["sheet", "recipient_location_codes"])
    frame["amount_gbp"] = frame["amount_gbp"].astype("float64")
    frame["row"] = frame["row"].astype("int64")
    return frame


def _years_before(today: dt.date, years: int) -> dt.date:
    return (
        today.replace(year=today.year - years)
        if not (today.month == 2 and today.day == 29)
        else dt.date(today.year - years, 2, 28)
    )


#: Identifier columns checked for stray whitespace (as 360Giving's "unexpected characters" check).
ID_COLUMNS = ["Identifier", "Funding Org:Identifier", "Recipient Org:Identifier"]


def _check_identifiers(row: _Row, seen_ids: dict[str, _Record]) -> None:
    """Grant id present, unique across every sheet, with the 360G- prefix; no identifier holding a
    line break, tab or leading/trailing space."""
    gid = row.gid
    if gid is None:
        row.add("error", "required", "Identifier is required (a unique grant id)", "Identifier")
    elif gid in seen_ids:
        first = seen_ids[gid]
        where = f"sheet '{first.sheet}' row {first.row}" if first.sheet != row.rec.sheet else f"row {first.row}"
        row.add(
            "error",
            "duplicate_id",
            f"duplicate grant Identifier {gid!r} (first on {where}); this row is not loaded",
            "Identifier",
        )
    else:
        seen_ids[gid] = row.rec
        if not gid.upper().startswith("360G-"):
            row.add(
                "warning",
                "malformed_id",
                f"grant Identifier {gid!r} does not start with the publisher's '360G-' prefix",
                "Identifier",
            )
    for col in ID_COLUMNS:
        why = _whitespace_problem(row.get(col))
        if why:
            row.add(
                "warning",
                "id_whitespace",
                f"{col} {row.get(col)!r} {why}; it is read trimmed, but other "
                "tools may treat it as a different identifier",
                col,
            )


def _whitespace_problem(value: Any) -> str | None:
    """Why an identifier's characters are unexpected (line break, tab, outer spaces), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    if any(ch in value for ch in "\r\n"):
        return "contains a line break"
    if "\t" in value:
        return "contains a tab"
    if value != value.strip():
        return "has a leading or trailing space"
    return None


def _check_amount(row: _Row) -> float | None:
    """The amount awarded, in the row's Currency; a currency sign in the cell must agree with it."""
    if _blank(row.get("Amount Awarded")):
        row.add("error", "required", "Amount Awarded is required", "Amount Awarded")
        return None
    amount, symbol = _parse_amount(row.get("Amount Awarded"))
    if amount is None:
        row.add(
            "error",
            "amount_not_number",
            f"Amount Awarded {row.get('Amount Awarded')!r} is not a number"
            + (
                " (a comma may only separate thousands, as in 1,500.00; no amount is guessed)"
                if _parse_amount(str(row.get("Amount Awarded")).replace(",", ""))[0] is not None
                else ""
            ),
            "Amount Awarded",
        )
    elif symbol is not None and not _symbol_fits(symbol, _currency_code(row)):
        currency = _currency_code(row)
        row.add(
            "error",
            "amount_currency_mismatch",
            f"Amount Awarded {row.get('Amount Awarded')!r} is written with '{symbol}' but Currency is "
            f"{currency}: it is not read as {'pounds' if currency == 'GBP' else currency}; write the amount "
            "without the sign, or set Currency to the amount's currency — row not loaded",
            "Amount Awarded",
        )
        return None
    elif amount < 0:
        row.add(
            "error",
            "negative_amount",
            f"Amount Awarded is negative ({amount:,.2f}); the standard records "
            "returned money as transactions, not negative awards — row not loaded",
            "Amount Awarded",
        )
    elif amount == 0:
        row.add(
            "warning",
            "zero_amount",
            lambda loaded: (
                "Amount Awarded is £0; "
                + (
                    "loaded, but check whether it belongs in the data"
                    if loaded
                    else "check whether it belongs in the data"
                )
                + _fate(loaded)
            ),
            "Amount Awarded",
        )
    return amount


def _currency_code(row: _Row) -> str | None:
    """The row's Currency as a three-letter code, or None (missing or malformed: reported by
    :func:`_check_currency`)."""
    code = (_text(row.get("Currency")) or "").upper()
    return code if re.fullmatch(r"[A-Z]{3}", code) else None


def _symbol_fits(symbol: str, currency: str | None) -> bool:
    """Whether a currency sign written with an amount agrees with the row's Currency: '£' with
    GBP, '$' with a dollar… A sign this module does not know fits any currency but GBP (that
    amount is left out of £ totals anyway); no valid Currency: that row is refused for it."""
    if currency is None:
        return True
    known = SYMBOL_CURRENCIES.get(symbol)
    return currency in known if known is not None else currency != "GBP"


def _check_currency(row: _Row) -> str | None:
    currency = (_text(row.get("Currency")) or "").upper() or None
    if currency is None:
        row.add("error", "required", "Currency is required (e.g. GBP)", "Currency")
    elif not re.fullmatch(r"[A-Z]{3}", currency):
        row.add("error", "malformed_currency", f"Currency {currency!r} is not a three-letter ISO 4217 code", "Currency")
    elif currency != "GBP":
        row.add(
            "warning",
            "not_gbp",
            lambda loaded: (
                f"amount is in {currency}, not converted: "
                + ("it is loaded without a £ amount and left out of £ totals" if loaded else "it has no £ amount")
                + _fate(loaded)
            ),
            "Currency",
        )
    return currency


def _date_check(why: str) -> str:
    return "impossible_date" if "does not exist" in why else "malformed_date"


def _check_award_date(row: _Row, today: dt.date, far_past: dt.date) -> dt.date | None:
    if _blank(row.get("Award Date")):
        row.add("error", "required", "Award Date is required", "Award Date")
        return None
    award_date, why = row.date("Award Date")
    if why:
        row.add("error", _date_check(why), f"Award Date {why}", "Award Date")
    elif award_date > today:
        row.add("warning", "future_date", f"Award Date {award_date.isoformat()} is in the future", "Award Date")
    elif award_date < far_past:
        row.add(
            "warning", "far_past_date", f"Award Date {award_date.isoformat()} is more than 25 years ago", "Award Date"
        )
    return award_date


def _check_planned_dates(row: _Row) -> None:
    planned = {}
    for col in ("Planned Dates:Start Date", "Planned Dates:End Date"):
        if not _blank(row.get(col)):
            planned[col], why = row.date(col)
            if why:
                row.add("warning", _date_check(why), f"{col.split(':')[1]} {why}", col)
    if (
        all(planned.get(c) for c in ("Planned Dates:Start Date", "Planned Dates:End Date"))
        and planned["Planned Dates:Start Date"] > planned["Planned Dates:End Date"]
    ):
        row.add(
            "warning",
            "planned_dates_order",
            "Planned Dates:Start Date is after the End Date",
            "Planned Dates:Start Date",
        )


def _fate(loaded: bool) -> str:
    """The end of a warning's message on a row that is refused for an error of its own."""
    return "" if loaded else " (row not loaded for its errors)"


def _check_required_fields(row: _Row) -> str | None:
    """Fields the standard requires but the money does not need (warnings); the recipient id.
    The message states the row's fate, settled once every check has run."""

    def required(col: str) -> Callable[[bool], str]:
        return lambda loaded: (
            f"{col} is required by the 360Giving standard" + (" (row still loaded)" if loaded else _fate(loaded))
        )

    for col in SCHEMA_REQUIRED_COLUMNS:
        if _blank(row.get(col)):
            row.add("warning", "required", required(col), col)
    recipient_id = _text(row.get("Recipient Org:Identifier"))
    if recipient_id is None and _blank(row.get("Recipient Ind:Identifier")):
        row.add(
            "warning",
            "required",
            required("Recipient Org:Identifier (or Recipient Ind:Identifier)"),
            "Recipient Org:Identifier",
        )
    if row.get("_extra_recipients"):
        row.add(
            "warning",
            "several_recipients",
            f"{row.get('_extra_recipients')} recipient organisations; the first is used",
            "Recipient Org:Identifier",
        )
    return recipient_id


def _check_org_numbers(row: _Row) -> None:
    for col in ("Funding Org:Identifier", "Recipient Org:Identifier"):
        org_id = _text(row.get(col))
        why = org_id and _org_id_problem(org_id)
        if why:
            row.add("warning", "malformed_org_id", f"{col} {org_id!r} {why}", col)
    charity = _text(row.get("Recipient Org:Charity Number"))
    if charity and not _charity_number_ok(charity[2:] if charity[:2].isalpha() else charity):
        row.add(
            "warning",
            "malformed_charity_number",
            f"Recipient Org:Charity Number {charity!r} does not look like a UK charity number (6 or 7 digits)",
            "Recipient Org:Charity Number",
        )
    company = _text(row.get("Recipient Org:Company Number"))
    if company and not _COMPANY_NO.match(company):
        row.add(
            "warning",
            "malformed_company_number",
            f"Recipient Org:Company Number {company!r} does not look "
            "like a company number (8 characters, e.g. 09876543 or SC123459)",
            "Recipient Org:Company Number",
        )


def _check_postcode(row: _Row) -> str | None:
    postcode = _text(row.get("Recipient Org:Postal Code"))
    if postcode and normalise_postcode(postcode) is None:
        row.add(
            "warning",
            "malformed_postcode",
            f"Recipient Org:Postal Code {postcode!r} does not look like a UK postcode; it cannot place the grant",
            "Recipient Org:Postal Code",
        )
    return postcode


def _check_location_codes(row: _Row, prefix: str) -> list[str]:
    """The GSS codes of the grant's beneficiary locations, or of its recipient organisation's
    locations (``prefix``), swapped code/type pairs repaired."""
    codes = []
    for col, code, code_type in location_codes(row.rec.values, prefix):
        if code is None:
            continue
        if GSS_RE.match(code.upper()):
            codes.append(code.upper())
        elif code_type and GSS_RE.match(code_type.upper()):
            row.add(
                "warning",
                "geocode_swapped",
                f"Geographic Code {code!r} and Geographic Code Type {code_type!r} "
                f"look swapped; {code_type!r} is used as the code",
                col,
            )
            codes.append(code_type.upper())
        elif normalise_postcode(code):
            row.add(
                "warning",
                "geocode_postcode",
                f"Geographic Code {code!r} looks like a postcode, not a GSS area code; not used",
                col,
            )
        else:
            row.add(
                "warning",
                "malformed_geocode",
                f"Geographic Code {code!r} is not a GSS area code (e.g. E01000001); not used",
                col,
            )
    return codes


def _grant_row(
    row: _Row,
    filename: str,
    amount,
    currency,
    award_date,
    recipient_id,
    postcode,
    codes: list[str],
    recipient_codes: list[str],
) -> dict[str, Any]:
    """A good row shaped like the ``grants`` table (placement columns empty), with its sheet and
    the recipient organisation's location codes (not a column of the table)."""
    get = row.get
    return {
        "dataset": filename,
        "grant_id": row.gid,
        "title": _text(get("Title")),
        "award_date": award_date,
        "amount_gbp": amount if currency == "GBP" else None,
        "currency": currency,
        "funder_id": _text(get("Funding Org:Identifier")),
        "funder_name": _text(get("Funding Org:Name")),
        "programme": _text(get("Grant Programme:Title")) or _text(get("Grant Programme:Code")),
        "recipient_id": recipient_id or _text(get("Recipient Ind:Identifier")),
        "recipient_name": _text(get("Recipient Org:Name")) or _text(get("Recipient Ind:Name")),
        "recipient_postcode": postcode,
        "beneficiary_codes": ";".join(dict.fromkeys(codes)) or None,
        "lsoa_code": None,
        "ward_code": None,
        "district_code": None,
        "placed_by": None,
        "row": row.rec.row,
        "sheet": row.rec.sheet,
        "recipient_location_codes": ";".join(dict.fromkeys(recipient_codes)) or None,
    }


# --------------------------------------------------------------------------------------------
# Placement
# --------------------------------------------------------------------------------------------


@dataclass
class _Place:
    district: str
    ward: str | None = None
    lsoa: str | None = None
    kind: str = "district"  # lsoa | ward | district: which kind of code placed it
    note: str | None = None


@dataclass
class AreaLookup:
    """Codes → current areas, built from the database (areas, area_code_map) and ONS/mySociety
    LSOA lookups. ``postcode_fn`` follows ``powerbalance.places.postcode_to_area``'s contract:
    list of postcodes → DataFrame[postcode, district_code, ward_code, status]."""

    wards: dict[str, str]  # Dec 2023 ward → current district
    districts: set[str]  # current (LAD 2024) districts
    district_map: dict[str, list[str]]  # district code of any vintage → current successor(s)
    lsoa21: dict[str, tuple[str, str]]  # LSOA 2021 → (ward May 2024, LAD 2024)
    lsoa11: dict[str, str]  # LSOA 2011 → current district (via the council register)
    postcode_fn: Callable[[list[str]], pd.DataFrame] | None = None

    @classmethod
    def from_frames(
        cls, areas: pd.DataFrame, code_map: pd.DataFrame, lsoa21: pd.DataFrame, lsoa11: pd.DataFrame, postcode_fn=None
    ) -> AreaLookup:
        """``areas``: code, level, district_code, registry_code; ``code_map``: old_code, new_code
        (district level); ``lsoa21``: lsoa21_code, ward24_code, ltla24_code; ``lsoa11``: lsoa,
        local-authority-code (mySociety register code)."""
        wards = areas[areas["level"] == "ward"]
        dists = areas[areas["level"] == "district"]
        dmap: dict[str, list[str]] = {}
        for old, new in zip(code_map["old_code"], code_map["new_code"]):
            dmap.setdefault(old, []).append(new)
        for code in dists["code"]:
            dmap.setdefault(code, [code])
        by_registry = dict(zip(dists["registry_code"], dists["code"]))
        l11 = lsoa11[lsoa11["lsoa"].str.startswith("E01", na=False)]
        return cls(
            wards=dict(zip(wards["code"], wards["district_code"])),
            districts=set(dists["code"]),
            district_map={k: sorted(set(v)) for k, v in dmap.items()},
            lsoa21=dict(
                zip(
                    lsoa21["lsoa21_code"].tolist(),
                    zip(lsoa21["ward24_code"].tolist(), lsoa21["ltla24_code"].tolist()),
                )
            ),
            lsoa11={
                c: by_registry[r]
                for c, r in zip(l11["lsoa"].tolist(), l11["local-authority-code"].tolist())
                if r in by_registry
            },
            postcode_fn=postcode_fn,
        )

    @classmethod
    def from_db(cls, con, postcode_fn=None) -> AreaLookup:
        """From a database alone (``areas``, ``area_code_map``, ``lsoa_lookup``; ``boundaries`` for
        postcodes' wards), so the dashboard never needs the raw files. Postcodes go through
        ``places.postcode_to_area`` on this same connection unless ``postcode_fn`` is given (the
        dashboard may pass ``places.postcode_to_area`` itself, which caches the live database's ward index)."""
        if postcode_fn is None:
            from powerbalance.places import postcode_to_area

            def postcode_fn(postcodes: list[str]) -> pd.DataFrame:
                return postcode_to_area(postcodes, con=con, keep_directory=False)

        areas = con.execute(
            "SELECT code, level, district_code, registry_code FROM areas WHERE level IN ('district', 'ward')"
        ).df()
        code_map = con.execute(
            "SELECT m.old_code, m.new_code FROM area_code_map m JOIN areas a "
            "ON a.code = m.new_code AND a.level = 'district' WHERE m.level = 'district'"
        ).df()
        lsoa21 = (
            con.execute(
                "SELECT lsoa_code AS lsoa21_code, ward24_code, district_code AS ltla24_code "
                "FROM lsoa_lookup WHERE vintage = '2021'"
            )
            .df()
            .fillna("")
        )
        lsoa11 = (
            con.execute(
                'SELECT lsoa_code AS lsoa, registry_code AS "local-authority-code" '
                "FROM lsoa_lookup WHERE vintage = '2011'"
            )
            .df()
            .fillna("")
        )
        return cls.from_frames(areas, code_map, lsoa21, lsoa11, postcode_fn)

    @functools.cached_property
    def ward24_districts(self) -> dict[str, set[str]]:
        """May 2024 ward → its LAD 2024 district(s), from the LSOA lookup's pairs."""
        out: dict[str, set[str]] = {}
        for ward24, lad24 in self.lsoa21.values():
            if ward24 and lad24:
                out.setdefault(ward24, set()).add(lad24)
        return out

    def _newer_ward(self, code: str) -> tuple[_Place | None, str | None]:
        """A ward code that is not a December 2023 ward: a May 2024 ward (ONS's newer wards, as
        360Giving publishers geocode today) places its grant in its district only, joined on codes
        through the LSOA → ward 2024 → LAD 2024 lookup; any other is the reason it places none."""
        lads = self.ward24_districts.get(code, set())
        if len(lads) != 1:
            return None, f"ward {code} is neither a Dec 2023 nor a May 2024 ward"
        lad24 = next(iter(lads))
        district, why = self.district_now(lad24)
        if district is None:
            return None, why
        return _Place(
            district, None, None, "ward", f"ward {code} is a May 2024 ward, not a Dec 2023 one: district only"
        ), None

    def district_now(self, code: str) -> tuple[str | None, str | None]:
        """(the district ``code`` is today, None) — itself when it is a current district — or
        (None, why not)."""
        return (code, None) if code in self.districts else self.current_district(code)

    def current_district(self, code: str) -> tuple[str | None, str | None]:
        """(current district, None) or (None, why not) for a district code of any vintage."""
        succ = self.district_map.get(code, [])
        if len(succ) == 1:
            return succ[0], None
        if succ:
            return None, f"district {code} was split between {', '.join(succ)}"
        return None, f"district code {code} not found in current or former districts"

    def resolve(self, code: str) -> tuple[_Place | None, str | None]:
        """One beneficiary code → a place in current geography, or the reason it gives none."""
        head = code[:3]
        if code[0] in "WSNKL":
            return None, f"{code} is outside England"
        if head == "E01":
            if code in self.lsoa21:
                ward24, lad24 = self.lsoa21[code]
                district, why = self.district_now(lad24)
                if district is None:
                    return None, why
                if ward24 in self.wards:
                    return _Place(district, ward24, code, "lsoa"), None
                return _Place(
                    district,
                    None,
                    code,
                    "lsoa",
                    f"LSOA {code}'s May 2024 ward {ward24} is not a Dec 2023 ward: district only",
                ), None
            if code in self.lsoa11:
                return _Place(
                    self.lsoa11[code],
                    None,
                    None,
                    "lsoa",
                    f"{code} is a 2011 LSOA not in the 2021 lookup: district only (LSOA 2011 → council)",
                ), None
            return None, f"LSOA {code} not found in the 2021 or 2011 lookups"
        if head == "E05":
            if code in self.wards:
                return _Place(self.wards[code], code, None, "ward"), None
            return self._newer_ward(code)
        if head in ("E06", "E07", "E08", "E09"):
            district, why = self.current_district(code)
            return (_Place(district, None, None, "district"), None) if district else (None, why)
        return None, f"{code} is not an LSOA, ward or district code (county, region or other area)"

    def postcodes(self, postcodes: list[str]) -> pd.DataFrame:
        """Postcode → area via the ONS Postcode Directory module (or the injected function)."""
        fn = self.postcode_fn
        if fn is None:
            from powerbalance.places import postcode_to_area as fn
        return fn(postcodes)


def _compact(postcode: str | None) -> str | None:
    return postcode.replace(" ", "").upper() if isinstance(postcode, str) else None


def _place_by_codes(
    codes: Any, lookup: AreaLookup, what: str = "beneficiary locations"
) -> tuple[_Place | None, list[str]]:
    """';'-separated GSS codes → one place when they all resolve to one current district (ward
    and LSOA kept only when common to all the finer codes: a district code given beside a ward or
    LSOA inside it, as publishers list several levels of one place, sets no ward and so does not
    contradict one), with its caveat notes; else (None, why not)."""
    reasons: list[str] = []
    places: list[_Place] = []
    for code in codes.split(";") if isinstance(codes, str) and codes else []:
        place, why = lookup.resolve(code)
        (places.append(place) if place else reasons.append(why))
    if places and len({p.district for p in places}) == 1:
        finer = [p for p in places if p.kind != "district"] or places
        wards, lsoas = {p.ward for p in finer}, {p.lsoa for p in finer}
        note = "; ".join(p.note for p in places if p.note) or None
        ward, lsoa = (wards.pop() if len(wards) == 1 else None), (lsoas.pop() if len(lsoas) == 1 else None)
        return _Place(places[0].district, ward, lsoa, finer[0].kind, note), reasons
    if places:
        reasons.append(f"{what} fall in {len({p.district for p in places})} districts")
    return None, reasons


def place_grants(df: pd.DataFrame, lookup: AreaLookup) -> pd.DataFrame:
    """Assign lsoa_code / ward_code / district_code / placed_by (+ place_note) to each grant.

    Rule order: (1) the beneficiary-location codes, when they resolve to one current district
    (LSOA → ward → district, ward → district, district of any vintage → current); (2) else the
    recipient's address: its postcode through the ONS Postcode Directory, or, when that does not
    place it, the recipient organisation's location codes (``Recipient Org:Location:Geographic
    Code``, resolved as in (1)); (3) else not placed — ``placed_by`` NULL and ``place_note`` says
    why. Nothing is guessed from names.
    """
    out = df.copy()
    n = len(out)
    at = _Placing([None] * n, [None] * n, [None] * n, [None] * n, [None] * n)
    pending = _place_by_beneficiary(out["beneficiary_codes"].tolist(), lookup, at)
    unplaced = _place_by_postcode(out["recipient_postcode"].tolist(), pending, lookup, at)
    recipient_codes = out["recipient_location_codes"].tolist() if "recipient_location_codes" in out else [None] * n
    _place_by_recipient_location(recipient_codes, unplaced, lookup, at)
    out["lsoa_code"], out["ward_code"], out["district_code"] = at.lsoa, at.ward, at.district
    out["placed_by"], out["place_note"] = at.by, at.note
    return out


@dataclass
class _Placing:
    """Each grant's placement so far, by row: codes, the rule that placed it, and its note."""

    lsoa: list
    ward: list
    district: list
    by: list
    note: list

    def put(self, i: int, place: _Place, rule: str) -> None:
        self.district[i], self.ward[i], self.lsoa[i], self.by[i] = place.district, place.ward, place.lsoa, rule


def _place_by_beneficiary(codes: list, lookup: AreaLookup, at: _Placing) -> list[int]:
    """Rule 1: the beneficiary location codes. Returns the rows they do not place (noted why)."""
    pending = []
    for i, row_codes in enumerate(codes):
        place, reasons = _place_by_codes(row_codes, lookup)
        if place is not None:
            at.put(i, place, f"beneficiary_{place.kind}")
            at.note[i] = place.note
            continue
        at.note[i] = "; ".join(reasons) or "no beneficiary location code"
        pending.append(i)
    return pending


def _place_by_postcode(postcodes: list, pending: list[int], lookup: AreaLookup, at: _Placing) -> list[int]:
    """Rule 2a: the recipient's postcode (ONS Postcode Directory), its ward only when a December
    2023 ward of the district. Returns the rows still not placed (noted why)."""
    wanted = sorted({normalise_postcode(postcodes[i]) for i in pending} - {None})
    found: dict[str, tuple] = {}
    if wanted:
        res = lookup.postcodes(wanted)
        for pc, d, w, s in zip(res["postcode"], res["district_code"], res["ward_code"], res["status"]):
            found[_compact(pc)] = (d, w, s)
    unplaced = []
    for i in pending:
        current, ward, why = _postcode_place(postcodes[i], found, lookup)
        if current is None:
            at.note[i] = f"{at.note[i]}; {why}"
            unplaced.append(i)
            continue
        at.district[i], at.ward[i], at.by[i] = current, ward, "recipient_postcode"
        caveats = [] if at.note[i] == "no beneficiary location code" else [at.note[i]]
        at.note[i] = "; ".join(caveats + ([why] if why else [])) or None
    return unplaced


def _postcode_place(raw, found: dict, lookup: AreaLookup) -> tuple[str | None, str | None, str | None]:
    """(current district, its Dec 2023 ward or None, a caveat) for a postcode the directory
    placed in England; else (None, None, why not)."""
    pc = normalise_postcode(raw)
    if pc is None:
        return None, None, "no recipient postcode" if _blank(raw) else f"postcode {raw!r} is malformed"
    d, w, status = found.get(_compact(pc), (None, None, "not returned"))
    if _blank(d):
        return None, None, f"postcode {pc} not placed ({status})"
    if d[0] != "E":
        return None, None, f"postcode {pc} is outside England ({d})"
    current, why = lookup.district_now(d)
    if current is None:
        return None, None, f"postcode {pc}: {why}"
    if not _blank(w) and lookup.wards.get(w) == current:
        return current, w, None
    if _blank(w):
        return current, None, f"postcode {pc}: no ward found ({status}): district only"
    return current, None, f"postcode {pc}: ward {w} is not a Dec 2023 ward of {current}: district only"


def _place_by_recipient_location(codes: list, unplaced: list[int], lookup: AreaLookup, at: _Placing) -> None:
    """Rule 2b: the recipient organisation's location codes, resolved as beneficiary codes are."""
    for i in unplaced:
        if _blank(codes[i]):
            continue
        place, reasons = _place_by_codes(codes[i], lookup, "recipient locations")
        if place is None:
            at.note[i] = f"{at.note[i]}; recipient location: {'; '.join(reasons)}"
            continue
        at.put(i, place, "recipient_location")
        at.note[i] = "; ".join(x for x in (at.note[i], place.note) if x)


def placement_summary(placed: pd.DataFrame) -> pd.DataFrame:
    """Grants and £ by placement rule, with 'not placed' shown as its own line (never hidden)."""
    rule = placed["placed_by"].fillna("not placed")
    g = placed.assign(rule=rule).groupby("rule", sort=False)
    summary = pd.DataFrame({"grants": g.size(), "amount_gbp": g["amount_gbp"].sum(min_count=1)})
    order = [
        "beneficiary_lsoa",
        "beneficiary_ward",
        "beneficiary_district",
        "recipient_postcode",
        "recipient_location",
        "not placed",
    ]
    summary = summary.reindex([r for r in order if r in summary.index])
    summary["share_of_grants"] = summary["grants"] / max(len(placed), 1)
    return summary.reset_index()
