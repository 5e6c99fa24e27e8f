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

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .codes import GSS_RE, NotText, decode_bytes, excel_col, normalise_postcode, open_workbook, sheet_rows
from .errors import LocatedError

#: Columns of the ``grants`` table (etl/schema.sql), in order.
GRANT_COLUMNS = ["dataset", "grant_id", "title", "award_date", "amount_gbp", "currency", "funder_id",
                 "funder_name", "programme", "recipient_id", "recipient_name", "recipient_postcode",
                 "beneficiary_codes", "lsoa_code", "ward_code", "district_code", "placed_by", "row"]

#: Without these columns a file is not a usable 360Giving grants file at all.
ESSENTIAL_COLUMNS = ["Identifier", "Amount Awarded", "Award Date", "Currency"]

#: Required by the 360Giving schema but not needed to place money: missing → warning, row kept.
SCHEMA_REQUIRED_COLUMNS = ["Title", "Description", "Funding Org:Identifier", "Funding Org:Name"]

#: Standard column titles we read (matched case-insensitively; ``:0:`` list indexes removed).
KNOWN_TITLES = [
    "Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
    "Planned Dates:Start Date", "Planned Dates:End Date",
    "Recipient Org:Identifier", "Recipient Org:Name", "Recipient Org:Charity Number",
    "Recipient Org:Company Number", "Recipient Org:Postal Code", "Recipient Ind:Identifier", "Recipient Ind:Name",
    "Beneficiary Location:Name", "Beneficiary Location:Country Code", "Beneficiary Location:Geographic Code",
    "Beneficiary Location:Geographic Code Type", "Funding Org:Identifier", "Funding Org:Name",
    "Grant Programme:Code", "Grant Programme:Title",
]
_TITLE_BY_KEY = {t.casefold(): t for t in KNOWN_TITLES}

# JSON property → column title, per object (the standard's own flattening), for the fields we read.
_GRANT_PROPS = {"id": "Identifier", "title": "Title", "description": "Description", "currency": "Currency",
                "amountAwarded": "Amount Awarded", "awardDate": "Award Date"}
_ORG_PROPS = {"id": "Identifier", "name": "Name", "charityNumber": "Charity Number",
              "companyNumber": "Company Number", "postalCode": "Postal Code"}
_LIST_OBJECTS = {  # JSON array → (title prefix, property → title)
    "recipientOrganization": ("Recipient Org", _ORG_PROPS),
    "fundingOrganization": ("Funding Org", {"id": "Identifier", "name": "Name"}),
    "grantProgramme": ("Grant Programme", {"code": "Code", "title": "Title"}),
    "plannedDates": ("Planned Dates", {"startDate": "Start Date", "endDate": "End Date"}),
}
_LOCATION_PROPS = {"geoCode": "Geographic Code", "geoCodeType": "Geographic Code Type", "name": "Name",
                   "countryCode": "Country Code"}

_BENEFICIARY_CODE = re.compile(r"^Beneficiary Location(?::(\d+))?:Geographic Code$")
_INDEX_SEGMENT = re.compile(r":0(?=:)")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
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


@dataclass
class Problem:
    """One finding about one cell (or the file). ``error`` rows are not loaded; ``warning`` rows are."""

    severity: str                 # error | warning
    check: str                    # short rule id, e.g. "zero_amount" (see docs/funders.md)
    message: str
    sheet: str | None = None
    row: int | None = None        # CSV line / spreadsheet row (header = 1) / JSON: n-th grant
    column: str | None = None     # standard column title
    grant_id: str | None = None
    cell: str | None = None       # "C12" in a spreadsheet or CSV, "grants/11/amountAwarded" in JSON


@dataclass
class GrantsFile:
    """A read and checked 360Giving file."""

    filename: str
    format: str                   # json | csv | spreadsheet
    sheet: str | None
    rows_read: int
    grants: pd.DataFrame          # good rows, GRANT_COLUMNS (placement columns empty until place_grants)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def problems_frame(self) -> pd.DataFrame:
        """Problems as a table for display (one line per problem, located)."""
        cols = ["severity", "check", "message", "sheet", "row", "column", "cell", "grant_id"]
        return pd.DataFrame([{c: getattr(p, c) for c in cols} for p in self.problems], columns=cols)


@dataclass
class _Record:
    """One grant flattened to standard titles, remembering where each value came from."""

    row: int
    values: dict[str, Any]
    where: dict[str, str]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_360giving(source: Path | str | bytes, filename: str | None = None, max_rows: int = 50_000,
                   today: dt.date | None = None) -> GrantsFile:
    """Read, flatten and check one 360Giving file.

    ``source`` is a path or the file's bytes (an upload); ``filename`` names it in messages and
    chooses the format by extension (content is sniffed when the extension says nothing).
    More than ``max_rows`` grants, unreadable content or missing essential columns raise
    :class:`GrantsFileError`; every other problem is returned with its location and the good
    rows are kept. ``today`` fixes "the future" for the date checks (tests).
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
    fmt = _detect_format(data, filename)
    problems: list[Problem] = []
    sheet = None
    if fmt == "json":
        records = _json_records(_decode(data, filename, problems), filename, max_rows)
        sheet = "grants"
    elif fmt == "csv":
        records = _csv_records(_decode(data, filename, problems), filename, max_rows, problems)
    else:
        sheet, records = _spreadsheet_records(data, filename, max_rows, problems)
    frame = _validate(records, filename, sheet, problems, today or dt.date.today())
    return GrantsFile(filename, fmt, sheet, len(records), frame, problems)


def _detect_format(data: bytes, filename: str) -> str:
    """Spreadsheet by its signature (a workbook saved as '.csv' happens); else by extension; else sniffed."""
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "spreadsheet"
    ext = Path(filename).suffix.lower()
    if ext == ".json":
        return "json"
    if ext == ".csv":
        return "csv"
    if ext in SPREADSHEET_EXTS:
        return "spreadsheet"
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _decode(data: bytes, filename: str, problems: list[Problem]) -> str:
    """UTF-8 (BOM stripped). A Windows-1252 file is read with a located warning, because
    360Giving files must be UTF-8 and characters such as '£' or 'é' may be wrong. UTF-16 (Excel's
    "Unicode text") is recognised by its byte-order mark and read with a warning too."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        problems.append(Problem("warning", "encoding", "file is UTF-16, not UTF-8; read as UTF-16"))
        return data.decode("utf-16")
    try:
        text, not_utf8 = decode_bytes(data)
    except NotText as exc:
        raise GrantsFileError(f"not UTF-8 text (byte 0x{exc.byte:02x} on line {exc.line}) and not "
                              "Windows-1252 either; save the file as UTF-8", filename, row=exc.line) from None
    if not_utf8:
        line, byte = not_utf8
        problems.append(Problem("warning", "encoding",
                                f"file is not UTF-8 (first bad byte 0x{byte:02x} on line {line}); "
                                "read as Windows-1252 — check accented letters and '£' signs", row=line))
    return text


def _check_size(n: int, max_rows: int, filename: str, sheet: str | None = None, row: int | None = None) -> None:
    if n > max_rows:
        raise GrantsFileError(f"more than {max_rows:,} grants; split the file or raise the limit", filename,
                              sheet, row)


def _json_records(text: str, filename: str, max_rows: int) -> list[_Record]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GrantsFileError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", filename,
                              row=exc.lineno) from None
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
        ind = grant.get("recipientIndividual")
        if isinstance(ind, dict):
            for sub, title in (("id", "Identifier"), ("name", "Name")):
                if sub in ind:
                    values[f"Recipient Ind:{title}"], where[f"Recipient Ind:{title}"] = \
                        ind[sub], f"{base}/recipientIndividual/{sub}"
        for n, loc in enumerate(grant.get("beneficiaryLocation") or []):
            if not isinstance(loc, dict):
                continue
            infix = "" if n == 0 else f"{n}:"
            for sub, title in _LOCATION_PROPS.items():
                if sub in loc:
                    key = f"Beneficiary Location:{infix}{title}"
                    values[key], where[key] = loc[sub], f"{base}/beneficiaryLocation/{n}/{sub}"
        out.append(_Record(i + 1, values, where))
    return out


def canonical_title(header: Any) -> str:
    """A column heading as the standard spells it: whitespace tidied, case folded to the known
    title, the first list item's ``:0`` index dropped (``Recipient Org:0:Identifier``)."""
    h = " ".join(str(header or "").split())
    h = _INDEX_SEGMENT.sub("", h)
    h = re.sub(r"\s*:\s*", ":", h)
    known = _TITLE_BY_KEY.get(h.casefold())
    if known:
        return known
    m = re.match(r"^beneficiary location:(\d+):(.+)$", h, re.IGNORECASE)
    if m:
        sub = _TITLE_BY_KEY.get(f"beneficiary location:{m.group(2)}".casefold())
        if sub:
            return f"Beneficiary Location:{m.group(1)}:{sub.split(':', 1)[1]}"
    return h



def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or \
        (isinstance(value, float) and value != value)


def _table_records(header: list[Any], rows: Iterable[tuple[int, list[Any]]], filename: str, sheet: str | None,
                   header_row: int, max_rows: int, problems: list[Problem]) -> list[_Record]:
    """Records from a heading row and located data rows (CSV lines or spreadsheet rows)."""
    titles = [canonical_title(h) for h in header]
    missing = [c for c in ESSENTIAL_COLUMNS if c not in titles]
    if missing:
        raise GrantsFileError(f"not a 360Giving grants file: missing column(s) {missing}; found "
                              f"{[t for t in titles if t][:10]}", filename, sheet, header_row, missing[0])
    first_at: dict[str, int] = {}
    for i, t in enumerate(titles):
        if not t:
            continue
        if t in first_at:
            problems.append(Problem("warning", "duplicate_column",
                                    f"column '{t}' appears twice; the first (column {excel_col(first_at[t])}) "
                                    "is used", sheet, header_row, t, cell=f"{excel_col(i)}{header_row}"))
        else:
            first_at[t] = i
    out: list[_Record] = []
    for rownum, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        _check_size(len(out) + 1, max_rows, filename, sheet, rownum)
        if len(cells) > len(titles) and any(not _blank(c) for c in cells[len(titles):]):
            problems.append(Problem("warning", "extra_cells", f"row has {len(cells)} cells but only "
                                    f"{len(titles)} headings; the extra cells are ignored", sheet, rownum))
        values = {t: cells[i] if i < len(cells) else None for t, i in first_at.items()}
        where = {t: f"{excel_col(i)}{rownum}" for t, i in first_at.items()}
        out.append(_Record(rownum, values, where))
    return out


def _csv_records(text: str, filename: str, max_rows: int, problems: list[Problem]) -> list[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    located: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for rec in reader:
            located.append((start, rec))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise GrantsFileError(f"not readable as CSV: {exc}", filename, row=reader.line_num) from None
    while located and all(_blank(c) for c in located[0][1]):
        located.pop(0)
    if not located:
        raise GrantsFileError("file has no heading row", filename)
    header_row, header = located[0]
    return _table_records(header, located[1:], filename, None, header_row, max_rows, problems)


def _spreadsheet_records(data: bytes, filename: str, max_rows: int,
                         problems: list[Problem]) -> tuple[str, list[_Record]]:
    """First sheet whose heading row (within the first 20 rows) has the standard columns."""
    wb = open_workbook(data, filename, GrantsFileError)
    for name in wb.sheet_names:
        sheet, rows = sheet_rows(wb, name, filename, GrantsFileError)
        first_row = (sheet.start or (0, 0))[0] + 1  # to_python starts at the first used row
        for k, cells in enumerate(rows[:20]):
            titles = {canonical_title(c) for c in cells}
            if "Identifier" in titles and "Amount Awarded" in titles:
                located = [(first_row + j, list(r)) for j, r in enumerate(rows) if j > k]
                return name, _table_records(list(cells), located, filename, name, first_row + k, max_rows,
                                            problems)
    raise GrantsFileError(f"no sheet has the 360Giving columns 'Identifier' and 'Amount Awarded' "
                          f"(sheets: {wb.sheet_names})", filename)


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


def _parse_amount(value: Any) -> float | None:
    """A number, or a string holding one (thousands commas allowed). None when not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if value != value else float(value)
    s = (_text(value) or "").replace(",", "")
    return float(s) if _NUMBER.match(s) else None


def _parse_date(value: Any) -> tuple[dt.date | None, str | None]:
    """ISO date or date-time (or a spreadsheet date cell) → (date, None); else (None, reason)."""
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    s = _text(value) or ""
    m = _ISO_DATE.match(s)
    if not m:
        return None, f"{s!r} is not a date in the form YYYY-MM-DD"
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None
    except ValueError:
        return None, f"{s!r} is a date that does not exist"


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


def beneficiary_codes(values: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(column, code, code type) for every beneficiary location of one flattened grant, in order."""
    found = []
    for key, value in values.items():
        m = _BENEFICIARY_CODE.match(key)
        if m:
            idx = m.group(1)
            type_key = "Beneficiary Location:" + (f"{idx}:" if idx else "") + "Geographic Code Type"
            found.append((int(idx or 0), key, _text(value), _text(values.get(type_key))))
    return [(k, c, t) for _, k, c, t in sorted(found)]


def _validate(records: list[_Record], filename: str, sheet: str | None, problems: list[Problem],
              today: dt.date) -> pd.DataFrame:
    """Apply every row check; return the good rows shaped like the ``grants`` table."""
    seen_ids: dict[str, int] = {}
    good: list[dict[str, Any]] = []
    far_past = today.replace(year=today.year - 25) if not (today.month == 2 and today.day == 29) \
        else dt.date(today.year - 25, 2, 28)
    for rec in records:
        v = rec.values
        gid = _text(v.get("Identifier"))
        bad = False

        def add(severity: str, check: str, message: str, column: str | None = None) -> None:
            nonlocal bad
            bad = bad or severity == "error"
            problems.append(Problem(severity, check, message, sheet, rec.row, column, gid,
                                    rec.where.get(column) if column else None))

        # identifiers --------------------------------------------------------------------------
        if gid is None:
            add("error", "required", "Identifier is required (a unique grant id)", "Identifier")
        elif gid in seen_ids:
            add("error", "duplicate_id", f"duplicate grant Identifier {gid!r} (first on row {seen_ids[gid]}); "
                "this row is not loaded", "Identifier")
        else:
            seen_ids[gid] = rec.row
            if not gid.upper().startswith("360G-"):
                add("warning", "malformed_id", f"grant Identifier {gid!r} does not start with the publisher's "
                    "'360G-' prefix", "Identifier")
        # amount and currency ----------------------------------------------------------------------
        amount = None
        if _blank(v.get("Amount Awarded")):
            add("error", "required", "Amount Awarded is required", "Amount Awarded")
        else:
            amount = _parse_amount(v.get("Amount Awarded"))
            if amount is None:
                add("error", "amount_not_number", f"Amount Awarded {v.get('Amount Awarded')!r} is not a number",
                    "Amount Awarded")
            elif amount < 0:
                add("error", "negative_amount", f"Amount Awarded is negative ({amount:,.2f}); the standard "
                    "records returned money as transactions, not negative awards — row not loaded",
                    "Amount Awarded")
            elif amount == 0:
                add("warning", "zero_amount", "Amount Awarded is £0; loaded, but check whether it belongs "
                    "in the data", "Amount Awarded")
        currency = (_text(v.get("Currency")) or "").upper() or None
        if currency is None:
            add("error", "required", "Currency is required (e.g. GBP)", "Currency")
        elif not re.fullmatch(r"[A-Z]{3}", currency):
            add("error", "malformed_currency", f"Currency {currency!r} is not a three-letter ISO 4217 code",
                "Currency")
        elif currency != "GBP":
            add("warning", "not_gbp", f"amount is in {currency}, not converted: it is loaded without a £ "
                "amount and left out of £ totals", "Currency")
        # dates -------------------------------------------------------------------------------
        award_date = None
        if _blank(v.get("Award Date")):
            add("error", "required", "Award Date is required", "Award Date")
        else:
            award_date, why = _parse_date(v.get("Award Date"))
            if why:
                add("error", "impossible_date" if "does not exist" in why else "malformed_date",
                    f"Award Date {why}", "Award Date")
            elif award_date > today:
                add("warning", "future_date", f"Award Date {award_date.isoformat()} is in the future",
                    "Award Date")
            elif award_date < far_past:
                add("warning", "far_past_date", f"Award Date {award_date.isoformat()} is more than 25 years "
                    "ago", "Award Date")
        planned = {}
        for col in ("Planned Dates:Start Date", "Planned Dates:End Date"):
            if not _blank(v.get(col)):
                planned[col], why = _parse_date(v.get(col))
                if why:
                    add("warning", "impossible_date" if "does not exist" in why else "malformed_date",
                        f"{col.split(':')[1]} {why}", col)
        if all(planned.get(c) for c in ("Planned Dates:Start Date", "Planned Dates:End Date")) and \
                planned["Planned Dates:Start Date"] > planned["Planned Dates:End Date"]:
            add("warning", "planned_dates_order", "Planned Dates:Start Date is after the End Date",
                "Planned Dates:Start Date")
        # other fields the standard requires (not needed to place money) -------------------
        for col in SCHEMA_REQUIRED_COLUMNS:
            if _blank(v.get(col)):
                add("warning", "required", f"{col} is required by the 360Giving standard (row still loaded)", col)
        recipient_id = _text(v.get("Recipient Org:Identifier"))
        if recipient_id is None and _blank(v.get("Recipient Ind:Identifier")):
            add("warning", "required", "Recipient Org:Identifier (or Recipient Ind:Identifier) is required by "
                "the 360Giving standard (row still loaded)", "Recipient Org:Identifier")
        if v.get("_extra_recipients"):
            add("warning", "several_recipients", f"{v['_extra_recipients']} recipient organisations; the "
                "first is used", "Recipient Org:Identifier")
        for col in ("Funding Org:Identifier", "Recipient Org:Identifier"):
            org_id = _text(v.get(col))
            why = org_id and _org_id_problem(org_id)
            if why:
                add("warning", "malformed_org_id", f"{col} {org_id!r} {why}", col)
        charity = _text(v.get("Recipient Org:Charity Number"))
        if charity and not _charity_number_ok(charity[2:] if charity[:2].isalpha() else charity):
            add("warning", "malformed_charity_number", f"Recipient Org:Charity Number {charity!r} does not look "
                "like a UK charity number (6 or 7 digits)", "Recipient Org:Charity Number")
        company = _text(v.get("Recipient Org:Company Number"))
        if company and not _COMPANY_NO.match(company):
            add("warning", "malformed_company_number", f"Recipient Org:Company Number {company!r} does not look "
                "like a company number (8 characters, e.g. 09876543 or SC123459)", "Recipient Org:Company Number")
        # locations -----------------------------------------------------------------------
        postcode = _text(v.get("Recipient Org:Postal Code"))
        if postcode and normalise_postcode(postcode) is None:
            add("warning", "malformed_postcode", f"Recipient Org:Postal Code {postcode!r} does not look like a "
                "UK postcode; it cannot place the grant", "Recipient Org:Postal Code")
        codes = []
        for col, code, code_type in beneficiary_codes(v):
            if code is None:
                continue
            if GSS_RE.match(code.upper()):
                codes.append(code.upper())
            elif code_type and GSS_RE.match(code_type.upper()):
                add("warning", "geocode_swapped", f"Geographic Code {code!r} and Geographic Code Type "
                    f"{code_type!r} look swapped; {code_type!r} is used as the code", col)
                codes.append(code_type.upper())
            elif normalise_postcode(code):
                add("warning", "geocode_postcode", f"Geographic Code {code!r} looks like a postcode, not a "
                    "GSS area code; not used", col)
            else:
                add("warning", "malformed_geocode", f"Geographic Code {code!r} is not a GSS area code (e.g. "
                    "E01000001); not used", col)
        if bad:
            continue
        good.append({
            "dataset": filename, "grant_id": gid, "title": _text(v.get("Title")), "award_date": award_date,
            "amount_gbp": amount if currency == "GBP" else None, "currency": currency,
            "funder_id": _text(v.get("Funding Org:Identifier")), "funder_name": _text(v.get("Funding Org:Name")),
            "programme": _text(v.get("Grant Programme:Title")) or _text(v.get("Grant Programme:Code")),
            "recipient_id": recipient_id or _text(v.get("Recipient Ind:Identifier")),
            "recipient_name": _text(v.get("Recipient Org:Name")) or _text(v.get("Recipient Ind:Name")),
            "recipient_postcode": postcode, "beneficiary_codes": ";".join(dict.fromkeys(codes)) or None,
            "lsoa_code": None, "ward_code": None, "district_code": None, "placed_by": None, "row": rec.row,
        })
    frame = pd.DataFrame(good, columns=GRANT_COLUMNS)
    frame["amount_gbp"] = frame["amount_gbp"].astype("float64")
    frame["row"] = frame["row"].astype("int64")
    return frame


# --------------------------------------------------------------------------------------------
# Placement
# --------------------------------------------------------------------------------------------


@dataclass
class _Place:
    district: str
    ward: str | None = None
    lsoa: str | None = None
    kind: str = "district"        # lsoa | ward | district: which kind of code placed it
    note: str | None = None


@dataclass
class AreaLookup:
    """Codes → current areas, built from the database (areas, area_code_map) and ONS/mySociety
    LSOA lookups. ``postcode_fn`` follows ``powerbalance.places.postcode_to_area``'s contract:
    list of postcodes → DataFrame[postcode, district_code, ward_code, status]."""

    wards: dict[str, str]                    # Dec 2023 ward → current district
    districts: set[str]                      # current (LAD 2024) districts
    district_map: dict[str, list[str]]       # district code of any vintage → current successor(s)
    lsoa21: dict[str, tuple[str, str]]       # LSOA 2021 → (ward May 2024, LAD 2024)
    lsoa11: dict[str, str]                   # LSOA 2011 → current district (via the council register)
    postcode_fn: Callable[[list[str]], pd.DataFrame] | None = None

    @classmethod
    def from_frames(cls, areas: pd.DataFrame, code_map: pd.DataFrame, lsoa21: pd.DataFrame,
                    lsoa11: pd.DataFrame, postcode_fn=None) -> "AreaLookup":
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
            lsoa21={c: (w, d) for c, w, d in zip(lsoa21["lsoa21_code"], lsoa21["ward24_code"],
                                                  lsoa21["ltla24_code"])},
            lsoa11={c: by_registry[r] for c, r in zip(l11["lsoa"], l11["local-authority-code"])
                    if r in by_registry},
            postcode_fn=postcode_fn)

    @classmethod
    def from_db(cls, con, postcode_fn=None) -> "AreaLookup":
        """From a database alone (``areas``, ``area_code_map``, ``lsoa_lookup``; ``boundaries`` for
        postcodes' wards), so the dashboard never needs the raw files. Postcodes go through
        ``places.postcode_to_area`` on this same connection unless ``postcode_fn`` is given (the
        dashboard may pass ``places.postcode_to_area`` itself, which caches the live database's ward index)."""
        if postcode_fn is None:
            from powerbalance.places import postcode_to_area

            def postcode_fn(postcodes: list[str]) -> pd.DataFrame:
                return postcode_to_area(postcodes, con=con)
        areas = con.execute("SELECT code, level, district_code, registry_code FROM areas "
                            "WHERE level IN ('district', 'ward')").df()
        code_map = con.execute("SELECT m.old_code, m.new_code FROM area_code_map m JOIN areas a "
                               "ON a.code = m.new_code AND a.level = 'district' WHERE m.level = 'district'").df()
        lsoa21 = con.execute("SELECT lsoa_code AS lsoa21_code, ward24_code, district_code AS ltla24_code "
                             "FROM lsoa_lookup WHERE vintage = '2021'").df().fillna("")
        lsoa11 = con.execute('SELECT lsoa_code AS lsoa, registry_code AS "local-authority-code" '
                             "FROM lsoa_lookup WHERE vintage = '2011'").df().fillna("")
        return cls.from_frames(areas, code_map, lsoa21, lsoa11, postcode_fn)

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
                district, why = (lad24, None) if lad24 in self.districts else self.current_district(lad24)
                if district is None:
                    return None, why
                if ward24 in self.wards:
                    return _Place(district, ward24, code, "lsoa"), None
                return _Place(district, None, code, "lsoa",
                              f"LSOA {code}'s May 2024 ward {ward24} is not a Dec 2023 ward: district only"), None
            if code in self.lsoa11:
                return _Place(self.lsoa11[code], None, None, "lsoa",
                              f"{code} is a 2011 LSOA not in the 2021 lookup: district only (LSOA 2011 → "
                              "council)"), None
            return None, f"LSOA {code} not found in the 2021 or 2011 lookups"
        if head == "E05":
            if code in self.wards:
                return _Place(self.wards[code], code, None, "ward"), None
            return None, f"ward {code} is not a Dec 2023 ward"
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


def place_grants(df: pd.DataFrame, lookup: AreaLookup) -> pd.DataFrame:
    """Assign lsoa_code / ward_code / district_code / placed_by (+ place_note) to each grant.

    Rule order: (1) the beneficiary-location codes, when they resolve to one current district
    (LSOA → ward → district, ward → district, district of any vintage → current); (2) else the
    recipient's postcode through the ONS Postcode Directory; (3) else not placed —
    ``placed_by`` NULL and ``place_note`` says why. Nothing is guessed from names.
    """
    out = df.copy()
    n = len(out)
    lsoa, ward, district, by, note = ([None] * n for _ in range(5))
    pending: list[int] = []
    for i, codes in enumerate(out["beneficiary_codes"].tolist()):
        reasons: list[str] = []
        places: list[_Place] = []
        for code in (codes.split(";") if isinstance(codes, str) and codes else []):
            place, why = lookup.resolve(code)
            (places.append(place) if place else reasons.append(why))
        if places and len({p.district for p in places}) == 1:
            district[i] = places[0].district
            wards = {p.ward for p in places}
            ward[i] = wards.pop() if len(wards) == 1 else None
            lsoas = {p.lsoa for p in places}
            lsoa[i] = lsoas.pop() if len(lsoas) == 1 else None
            by[i] = f"beneficiary_{places[0].kind}"
            note[i] = "; ".join(p.note for p in places if p.note) or None
            continue
        if places:
            reasons.append(f"beneficiary locations fall in {len({p.district for p in places})} districts")
        note[i] = "; ".join(reasons) or "no beneficiary location code"
        pending.append(i)

    postcodes = out["recipient_postcode"].tolist()
    wanted = sorted({normalise_postcode(postcodes[i]) for i in pending} - {None})
    found: dict[str, tuple] = {}
    if wanted:
        res = lookup.postcodes(wanted)
        for pc, d, w, s in zip(res["postcode"], res["district_code"], res["ward_code"], res["status"]):
            found[_compact(pc)] = (d, w, s)
    for i in pending:
        pc = normalise_postcode(postcodes[i])
        if pc is None:
            why = "no recipient postcode" if _blank(postcodes[i]) else f"postcode {postcodes[i]!r} is malformed"
            note[i] = f"{note[i]}; {why}"
            continue
        d, w, status = found.get(_compact(pc), (None, None, "not returned"))
        if _blank(d):
            note[i] = f"{note[i]}; postcode {pc} not placed ({status})"
            continue
        if d[0] != "E":
            note[i] = f"{note[i]}; postcode {pc} is outside England ({d})"
            continue
        current, why = (d, None) if d in lookup.districts else lookup.current_district(d)
        if current is None:
            note[i] = f"{note[i]}; postcode {pc}: {why}"
            continue
        district[i], by[i] = current, "recipient_postcode"
        caveats = [] if note[i] == "no beneficiary location code" else [note[i]]
        if not _blank(w) and lookup.wards.get(w) == current:
            ward[i] = w
        elif _blank(w):
            caveats.append(f"postcode {pc}: no ward found ({status}): district only")
        else:
            caveats.append(f"postcode {pc}: ward {w} is not a Dec 2023 ward of {current}: district only")
        note[i] = "; ".join(caveats) or None
    out["lsoa_code"], out["ward_code"], out["district_code"] = lsoa, ward, district
    out["placed_by"], out["place_note"] = by, note
    return out


def placement_summary(placed: pd.DataFrame) -> pd.DataFrame:
    """Grants and £ by placement rule, with 'not placed' shown as its own line (never hidden)."""
    rule = placed["placed_by"].fillna("not placed")
    g = placed.assign(rule=rule).groupby("rule", sort=False)
    summary = pd.DataFrame({"grants": g.size(), "amount_gbp": g["amount_gbp"].sum(min_count=1)})
    order = ["beneficiary_lsoa", "beneficiary_ward", "beneficiary_district", "recipient_postcode", "not placed"]
    summary = summary.reindex([r for r in order if r in summary.index])
    summary["share_of_grants"] = summary["grants"] / max(len(placed), 1)
    return summary.reset_index()
