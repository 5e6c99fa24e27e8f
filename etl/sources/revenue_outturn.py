"""Council finance: MHCLG Revenue Outturn Summary (RS), net current expenditure by service line.

One ``finance`` row per published council × financial year × service line, in pounds (the
workbooks publish £ thousand). Files are found by glob, the sheet by its title, the header row by
its labels and the financial year by the sheet title, so a later year's workbook laid out the same
way loads without code changes. Councils are mapped to today's councils through
``area_code_map`` (level ``council_ecode``) built by the geography source:

* ``same``              – the publishing council still exists (possibly under a new GSS code);
* ``predecessor``       – it was abolished and its whole area went to one successor
                          (Aylesbury Vale → Buckinghamshire): the published value is credited to it;
* ``predecessor_share`` – it was split between successors (Cumbria, Northamptonshire): the
                          published value is shared out in proportion to the successors' Census 2021
                          population, so that summing by ``council_code`` stays additive. The share is
                          a modelled estimate, flagged as such, and recorded in ``load_facts``.

Police, fire, national park, waste and other bodies (class ``O``) are not councils and are counted
as skipped; an English council that cannot be mapped is reported as unmatched.
See docs/finance.md for the rules and the service lines.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powerbalance.codes import excel_col, open_workbook

from ..core import BuildContext, EtlInputError, LoadReport, Source, insert_rows, parse_number, read_csv

#: Published unit → pounds.
THOUSAND = 1000.0
#: Rows above the header row that are searched for the title and the header itself.
HEAD_SCAN_ROWS = 40
#: MHCLG classes of councils (the bodies the dashboard rates). ``L`` = London borough (incl. City).
COUNCIL_CLASSES = {"SC", "SD", "UA", "MD", "L", "LB"}
ECODE_RE = re.compile(r"^E\d{4}$")
#: A financial year such as 2017-18 (also 2017–18, 2017/18).
PERIOD_RE = re.compile(r"(?<!\d)(20\d\d)\s*[-–/]\s*(\d\d)(?!\d)")
#: Service-sum check tolerance, £ thousand (the published lines are rounded to £1k each).
SUM_TOLERANCE = 2.0
#: Why a published blank or marker ('[x]', '..') is missing: the reason carried into notes.
NOT_PUBLISHED = "not published by MHCLG"

#: Service lines (columns before TOTAL SERVICE EXPENDITURE). Patterns match the whole
#: normalised heading (lower case, single spaces, no leading "190: " line number).
SERVICE_LINES: list[tuple[str, str]] = [
    ("education", r"education services"),
    ("highways_transport", r"highways and transport services"),
    ("social_care", r"social care"),
    ("childrens_social_care", r"child(ren)?('s)? social care"),
    ("adult_social_care", r"adults?('s)? social care"),
    ("public_health", r"public health"),
    ("housing_gf", r"housing services \(gfra only\)"),
    ("cultural", r"cultural and related services"),
    ("environmental", r"environmental and regulatory services"),
    ("planning", r"planning and development services"),
    ("police", r"police services"),
    ("fire", r"fire and rescue services"),
    ("central", r"central services"),
    ("other", r"other services"),
]
TOTAL_LINE = ("total_service", r"total service expenditure\b.*")
SERVICE_LINE_IDS = {line for line, _ in SERVICE_LINES}
#: Lines after the total. "Parish precepts" (RS line 721) is the precept paid over to parish and
#: town councils; the 2013-14+ column "The total amount paid to local parishes ... council tax
#: support allocation" is a council-tax-support grant pass-through, not the precept.
AFTER_LINES: list[tuple[str, str]] = [
    ("parish_precepts", r"parish precepts"),
    ("net_current_expenditure", r"net current expenditure\b.*"),
]
REQUIRED_LABELS = {"ecode": r"e-? ?code", "name": r"local authority", "class": r"class"}


@dataclass
class Cell:
    line: str
    label: str  # heading as published
    column: str  # Excel letter, or the CSV header
    raw: Any


@dataclass
class Council:
    """One published council row of one file."""

    ecode: str
    ons: str | None
    name: str | None
    klass: str | None
    period: str
    file: str
    sheet: str | None
    row: int
    cells: list[Cell] = field(default_factory=list)
    by_code: bool = False  # read from a code-keyed workbook (revenue_outturn_codes): a current year

    def where(self, **more) -> dict:
        """File, sheet and row of this council's line (and ``more``: column, code): where a message points."""
        return dict(file=self.file, sheet=self.sheet, row=self.row, **more)


def normalise_heading(text: Any) -> str:
    """Lower case, straight quotes, single spaces, no leading RS line number ("190: ")."""
    s = str(text or "").replace("\u2019", "'").replace("\n", " ").strip().lower()
    s = re.sub(r"\s+", " ", s)
    return re.sub(r"^\d+\s*:\s*", "", s)


def _match(patterns: list[tuple[str, str]], heading: str) -> str | None:
    for line, pat in patterns:
        if re.fullmatch(pat, heading):
            return line
    return None


def valid_period(first: str, second: str) -> str | None:
    """'2017', '18' → '2017-18' when the two years follow each other, else None."""
    return f"{first}-{second}" if (int(first) + 1) % 100 == int(second) else None


def periods_in(text: str) -> set[str]:
    return {p for a, b in PERIOD_RE.findall(text) if (p := valid_period(a, b))}


# --------------------------------------------------------------------------------------------
# Workbooks
# --------------------------------------------------------------------------------------------


def read_sheet(wb, name: str, nrows: int | None = None) -> list[list[Any]]:
    """Rows of a sheet with row 0 = Excel row 1 (calamine trims leading empty rows by default,
    which would shift every reported row number)."""
    return wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows)


@dataclass
class Layout:
    sheet: str
    header_row: int  # 0-based index
    period: str
    title: str
    columns: dict[str, int]  # ecode/name/class/ons → index
    lines: dict[str, int]  # line id → index
    unknown_service_headings: list[tuple[int, str]]


def _header_index(rows: list[list[Any]]) -> int | None:
    for i, row in enumerate(rows):
        if any(re.fullmatch(REQUIRED_LABELS["ecode"], normalise_heading(v)) for v in row):
            return i
    return None


def _columns(header: list[Any]) -> tuple[dict[str, int], dict[str, int], list[tuple[int, str]], list[str]]:
    """Locate id columns and line columns in a header row; returns (ids, lines, unknown, problems)."""
    heads = [normalise_heading(v) for v in header]
    ids: dict[str, int] = {}
    for key, pat in REQUIRED_LABELS.items():
        hits = [i for i, h in enumerate(heads) if re.fullmatch(pat, h)]
        if hits:
            ids[key] = hits[0]
    ons = [i for i, h in enumerate(heads) if h in ("ons code", "gss code")]
    if ons:
        ids["ons"] = ons[0]
    problems = [f"no '{k}' column" for k in REQUIRED_LABELS if k not in ids]
    totals = [i for i, h in enumerate(heads) if re.fullmatch(TOTAL_LINE[1], h)]
    if not totals:
        problems.append("no 'TOTAL SERVICE EXPENDITURE' column")
        return ids, {}, [], problems
    total = totals[0]
    lines: dict[str, int] = {TOTAL_LINE[0]: total}
    unknown: list[tuple[int, str]] = []
    start = max(ids.values()) + 1 if ids else 0
    for i in range(start, total):
        if not heads[i]:
            continue
        line = _match(SERVICE_LINES, heads[i])
        if line is None:
            unknown.append((i, str(header[i]).strip()))
        elif line in lines:
            problems.append(
                f"service line '{line}' appears twice (columns {excel_col(lines[line])} and {excel_col(i)})"
            )
        else:
            lines[line] = i
    for i in range(total + 1, len(heads)):
        line = _match(AFTER_LINES, heads[i])
        if line is not None and line not in lines:
            lines[line] = i  # first occurrence after the total (2010-11 repeats headings further right)
    if "parish_precepts" not in lines:
        problems.append("no 'Parish precepts' column after the total")
    return ids, lines, unknown, problems


def find_layout(path: Path, wb) -> Layout:
    """Find the one sheet titled 'Net current expenditure (£ thousand)' with the RS header labels.

    Other sheets reuse the same headings under other titles (capital charges, reserves) or the
    same title with other headings ('PHE Check'), so both must hold."""
    found: list[Layout] = []
    reasons: list[str] = []
    best: tuple[tuple[bool, bool], str | None] = ((False, False), wb.sheet_names[0] if wb.sheet_names else None)
    for name in wb.sheet_names:
        rows = read_sheet(wb, name, HEAD_SCAN_ROWS)
        h = _header_index(rows)
        if h is None:
            reasons.append(f"'{name}': no 'E-code' header row in the first {HEAD_SCAN_ROWS} rows")
            continue
        titles = [(i, str(v)) for i, r in enumerate(rows[:h]) for v in r if isinstance(v, str) and v.strip()]
        title = next(
            ((i, t) for i, t in titles if "net current expenditure" in t.lower() and "£ thousand" in t.lower()), None
        )
        ids, lines, unknown, problems = _columns(rows[h])
        score = (not problems, title is not None)
        if score > best[0]:
            best = (score, name)
        if title is None:
            problems.insert(
                0,
                f"no 'Net current expenditure (£ thousand)' title above the header (titles found: "
                f"{[t for _, t in titles[:2]]})",
            )
        if problems:
            reasons.append(f"'{name}' (header row {h + 1}): " + "; ".join(problems))
            continue
        periods = set().union(*(periods_in(t) for _, t in titles))
        if len(periods) != 1:
            raise EtlInputError(
                f"cannot tell the financial year from the title rows (found {sorted(periods)} "
                f"in {[t for _, t in titles[:3]]})",
                file=path,
                sheet=name,
                row=title[0] + 1,
            )
        found.append(Layout(name, h, periods.pop(), title[1], ids, lines, unknown))
    if not found:
        raise EtlInputError(
            "no sheet holds the Revenue Outturn 'Net current expenditure (£ thousand)' table "
            "with E-code, Local authority, Class, TOTAL SERVICE EXPENDITURE and Parish precepts "
            "columns: " + " | ".join(reasons or ["workbook has no sheets"]),
            file=path,
            sheet=best[1],
        )
    if len(found) > 1:
        raise EtlInputError(
            f"several sheets look like the net current expenditure table: {[f.sheet for f in found]}",
            file=path,
            sheet=found[1].sheet,
        )
    layout = found[0]
    in_name = periods_in(path.name)
    if len(in_name) == 1 and layout.period not in in_name:
        raise EtlInputError(
            f"sheet title says {layout.period} but the file name says {in_name.pop()}",
            file=path,
            sheet=layout.sheet,
            row=1,
        )
    return layout


class SheetsOnce:
    """A calamine workbook whose sheets are each parsed once: calamine parses the whole sheet on
    every ``get_sheet_by_name``, and a workbook's sheets are looked at up to three times (code
    row?, layout?, then the rows)."""

    def __init__(self, wb):
        self._wb, self._sheets = wb, {}
        self.sheet_names = wb.sheet_names

    def get_sheet_by_name(self, name: str):
        if name not in self._sheets:
            self._sheets[name] = self._wb.get_sheet_by_name(name)
        return self._sheets[name]


def read_workbook(path: Path, rel: str, report: LoadReport) -> tuple[str, list[Council]]:
    """Parse one RS workbook into council rows (values still as published)."""
    wb = SheetsOnce(open_workbook(path, path, EtlInputError))
    from .revenue_outturn_codes import has_code_row, read_code_workbook

    if has_code_row(path, wb):  # 2023-24 on: columns found by MHCLG data code
        return read_code_workbook(path, rel, report, wb)
    layout = find_layout(path, wb)
    rows = read_sheet(wb, layout.sheet)
    header = rows[layout.header_row]
    for i, label in layout.unknown_service_headings:
        report.warn(
            f"heading {label!r} before TOTAL SERVICE EXPENDITURE is not a known service line; not loaded",
            file=path,
            sheet=layout.sheet,
            row=layout.header_row + 1,
            column=excel_col(i),
        )
    c = layout.columns
    ecol = c["ecode"]
    councils: list[Council] = []
    seen: dict[str, int] = {}
    in_block, ended_at, aggregates = False, None, 0
    for i in range(layout.header_row + 1, len(rows)):
        row = rows[i]
        if not any(_present(v) for v in row):
            continue
        code = _text(_at(row, ecol))
        if ended_at is not None:
            if code and ECODE_RE.match(code):
                raise ecode_error(
                    f"council row {code!r} after the end of the council block (row {ended_at})",
                    path,
                    layout.sheet,
                    i + 1,
                    ecol,
                )
            continue
        if not code:
            if in_block:
                ended_at = i + 1  # ENGLAND / class totals and notes follow the councils
            else:
                aggregates += 1
            continue
        if not ECODE_RE.match(code):
            raise ecode_error(f"not an MHCLG E-code: {code!r}", path, layout.sheet, i + 1, ecol)
        in_block = True
        record_ecode(seen, code, i + 1, path, layout.sheet, ecol)
        council = Council(
            code,
            _text(_at(row, c.get("ons"))),
            _text(_at(row, c["name"])),
            _text(_at(row, c["class"])),
            layout.period,
            rel,
            layout.sheet,
            i + 1,
        )
        for line, j in layout.lines.items():
            council.cells.append(Cell(line, str(header[j]).strip(), excel_col(j), _at(row, j)))
        councils.append(council)
    if not councils:
        raise ecode_error(
            "no council rows (E-codes) below the header row", path, layout.sheet, layout.header_row + 2, ecol
        )
    report.facts[f"aggregate_rows_skipped_{layout.period}"] = _rows_after(rows, ended_at) + aggregates
    return layout.period, councils


def ecode_error(message: str, path: Path, sheet: str, row: int, ecol: int) -> EtlInputError:
    """A located error in a workbook's E-code column."""
    return EtlInputError(message, file=path, sheet=sheet, row=row, column=f"{excel_col(ecol)} (E-code)")


def record_ecode(seen: dict[str, int], code: str, row: int, path: Path, sheet: str, ecol: int) -> None:
    """Remember the row of a council's E-code; one seen before stops the build naming both rows."""
    if code in seen:
        raise ecode_error(f"E-code {code} appears twice (rows {seen[code]} and {row})", path, sheet, row, ecol)
    seen[code] = row


def _rows_after(rows, ended_at: int | None) -> int:
    """Non-empty rows from the first aggregate row on (ENGLAND, class totals, notes)."""
    if ended_at is None:
        return 0
    return sum(1 for r in rows[ended_at - 1 :] if any(_present(v) for v in r))


def _at(row: list[Any], j: int | None) -> Any:
    return row[j] if j is not None and j < len(row) else None


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip())


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


# --------------------------------------------------------------------------------------------
# The 2015-16 / 2016-17 upper-tier extract (CSV)
# --------------------------------------------------------------------------------------------


def read_extract_csv(path: Path, rel: str, report: LoadReport) -> list[Council]:
    """BBC Data Unit's extract of RS 2015-16 and 2016-17 for the 152 upper-tier/single-tier councils.

    Its ``year`` column is the year in which the financial year *ends* (their notebook reads
    RS_2015-16 with year 2016 and RS_2016-17 with year 2017; the 2016 rows' reserves at 1 April
    equal the 2014-15 workbook's reserves at 31 March 2015). Values are £ thousand, as in RS.
    """
    table = read_csv(path, ["E-code", "Local authority", "Class", "year"], report, unique=["E-code", "year"])
    line_cols = [
        (col, line)
        for col in table.columns
        if (line := _match(SERVICE_LINES + [TOTAL_LINE] + AFTER_LINES, normalise_heading(col)))
    ]
    if not line_cols:
        raise EtlInputError(
            "no service-line columns recognised (expected e.g. '190: Education services')", file=path, row=1
        )
    ons_col = "ONS Code" if "ONS Code" in table.columns else None
    out: list[Council] = []
    for line_no, r in table:
        code = r["E-code"].strip()
        if not ECODE_RE.match(code):
            raise EtlInputError(f"not an MHCLG E-code: {code!r}", file=path, row=line_no, column="E-code")
        year = r["year"].strip()
        if not re.fullmatch(r"20\d\d", year):
            raise EtlInputError(f"year {year!r} is not a four-digit year", file=path, row=line_no, column="year")
        period = f"{int(year) - 1}-{year[2:]}"
        council = Council(
            code,
            (r[ons_col].strip() or None) if ons_col else None,
            r["Local authority"].strip(),
            r["Class"].strip(),
            period,
            rel,
            None,
            line_no,
        )
        for col, line in line_cols:
            council.cells.append(Cell(line, col, col, r[col]))
        out.append(council)
    return out


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


class ValueReader:
    """Parses published cells; aggregates negatives and numbers-as-text per file/sheet/column so a
    few hundred routine negative values do not flood the issues list."""

    def __init__(self, report: LoadReport):
        self.report = report
        self.negatives: dict[tuple, list[int]] = defaultdict(list)
        self.text_numbers: dict[tuple, list[int]] = defaultdict(list)
        self.suppressed = 0

    @staticmethod
    def _clean(v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            if v == "\u2026":  # the 2017-18 workbook and the extract use a typographic ellipsis
                v = "..."
        return v

    @classmethod
    def check(cls, council: Council) -> None:
        """Validate the cells of a row that is not loaded (skipped body, unmatched council): a
        malformed file is refused whichever row the damage is in."""
        for cell in council.cells:
            parse_number(
                cls._clean(cell.raw),
                **council.where(),
                column=f"{cell.column} ({cell.label})",
            )

    def value(self, council: Council, cell: Cell) -> float | None:
        loc = council.where(column=f"{cell.column} ({cell.label})")
        v = self._clean(cell.raw)
        if v is None or v == "":
            self.suppressed += 1
            self.report.suppressed(f"blank cell read as missing ({NOT_PUBLISHED})", **loc)
            return None
        num = parse_number(v, **loc, report=None)
        key = (council.file, council.sheet, cell.column, cell.label)
        if num is None:
            self.suppressed += 1
            self.report.suppressed(f"marker {v!r} read as missing ({NOT_PUBLISHED})", **loc)
            return None
        if isinstance(v, str) and council.sheet is not None:
            self.text_numbers[key].append(council.row)
        if num < 0:
            self.negatives[key].append(council.row)
        return num

    def flush(self) -> None:
        for (file, sheet, col, label), rows in sorted(self.negatives.items(), key=lambda kv: str(kv[0])):
            self.report.negative(
                f"{len(rows)} negative value(s) kept as published (rows {_rows(rows)})",
                file=file,
                sheet=sheet,
                row=rows[0],
                column=f"{col} ({label})",
            )
        for (file, sheet, col, label), rows in sorted(self.text_numbers.items(), key=lambda kv: str(kv[0])):
            self.report.warn(
                f"{len(rows)} number(s) stored as text parsed (rows {_rows(rows)})",
                file=file,
                sheet=sheet,
                row=rows[0],
                column=f"{col} ({label})",
            )
        self.report.facts["negative_values"] = sum(len(r) for r in self.negatives.values())
        self.report.facts["numbers_as_text"] = sum(len(r) for r in self.text_numbers.values())
        self.report.facts["missing_values"] = self.suppressed


def _rows(rows: list[int], show: int = 8) -> str:
    head = ", ".join(str(r) for r in rows[:show])
    return head + (f", … {len(rows) - show} more" if len(rows) > show else "")


# --------------------------------------------------------------------------------------------
# Mapping to today's councils
# --------------------------------------------------------------------------------------------


class CouncilMap:
    """E-code (or ONS code) → current councils, from the geography source's ``area_code_map``."""

    def __init__(self, con):
        self.ecode: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.gss: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for old, new, level, relation in con.execute(
            "SELECT m.old_code, m.new_code, m.level, m.relation FROM area_code_map m "
            "JOIN areas a ON a.code = m.new_code WHERE a.level IN ('district', 'county') "
            "AND m.level IN ('council_ecode', 'district', 'county') ORDER BY 1, 2"
        ).fetchall():
            (self.ecode if level == "council_ecode" else self.gss)[old].append((new, relation))

    def successors(self, council: Council, report: LoadReport) -> list[tuple[str, str]]:
        by_ecode = self.ecode.get(council.ecode, [])
        by_ons = self.gss.get(council.ons, []) if council.ons else []
        if by_ecode and by_ons and {n for n, _ in by_ecode} != {n for n, _ in by_ons}:
            report.warn(
                f"E-code {council.ecode} maps to {sorted(n for n, _ in by_ecode)} but ONS code {council.ons} "
                f"to {sorted(n for n, _ in by_ons)}; the E-code mapping is used",
                **council.where(),
                code=council.ecode,
            )
        if not by_ecode and by_ons:
            report.note(
                f"E-code {council.ecode} not in the register; mapped by its ONS code {council.ons}",
                **council.where(),
                code=council.ecode,
            )
            return by_ons
        return by_ecode


def population_shares(ctx: BuildContext, source: Source, codes: set[str], report: LoadReport) -> dict[str, float]:
    """Census 2021 usual residents of each current council in ``codes`` (LTLA 2021 mapped forward)."""
    path = ctx.raw_dir / POPULATION_FILE
    if not path.exists():
        raise EtlInputError(
            "Census 2021 population file needed to apportion split councils is missing", file=POPULATION_FILE
        )
    ctx.register_file(source, path)
    table = read_csv(path, ["ltla21_code", "total_population"], report, unique=["ltla21_code"])
    forward: dict[str, list[str]] = defaultdict(list)
    for old, new in ctx.con.execute("SELECT old_code, new_code FROM area_code_map WHERE level = 'district'").fetchall():
        forward[old].append(new)
    pop: dict[str, float] = defaultdict(float)
    for line, r in table:
        targets = forward.get(r["ltla21_code"].strip(), [])
        if len(targets) == 1 and targets[0] in codes:
            pop[targets[0]] += (
                parse_number(
                    r["total_population"], file=path, row=line, column="total_population", allow_negative=False
                )
                or 0.0
            )
    return dict(pop)


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------

WORKBOOK_GLOBS = (
    "funding/Revenue_Outturn_Summary*RS*.xls*",
    "funding/RS_*_data_by_LA.xls*",
    "funding/RS_*_data_by_LA.ods",
)
EXTRACT_GLOB = "funding/mhclg_RS_revenue_outturn_*.csv"
POPULATION_FILE = "context/age_gender21_ltla21_ew.csv"


class RevenueOutturn(Source):
    id = "revenue_outturn"
    title = "Revenue Outturn Summary (RS): net current expenditure by service, per council"
    publisher = "Ministry of Housing, Communities and Local Government (MHCLG)"
    licence = "Open Government Licence v3.0"
    attribution = (
        "Source: MHCLG Local authority revenue expenditure and financing, Revenue Outturn Summary (RS), "
        "licensed under the Open Government Licence v3.0. Census 2021 population (ONS, OGL v3.0) used "
        "to apportion split councils."
    )
    vintage = "2010-11 to 2017-18 and 2023-24 final outturn (2015-16 and 2016-17 upper-tier extract)"
    url = "https://www.gov.uk/government/collections/local-authority-revenue-expenditure-and-financing"
    files = WORKBOOK_GLOBS + (EXTRACT_GLOB, POPULATION_FILE)
    depends = ("geography",)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        workbooks = sorted({p for g in WORKBOOK_GLOBS for p in ctx.raw_dir.glob(g)})
        extracts = sorted(ctx.raw_dir.glob(EXTRACT_GLOB))
        if not workbooks and not extracts:
            raise EtlInputError(
                f"no Revenue Outturn files matching {list(WORKBOOK_GLOBS) + [EXTRACT_GLOB]}", file=str(ctx.raw_dir)
            )
        councils = self._read_all(ctx, workbooks, extracts, rep)
        rep.rows_read = len(councils)
        rows = self._map(ctx, councils, rep)
        rep.rows_loaded = insert_rows(ctx.con, "finance", rows, columns=FINANCE_COLUMNS)

    # -- reading ---------------------------------------------------------------------------
    def _read_all(self, ctx, workbooks, extracts, rep) -> list[Council]:
        councils: list[Council] = []
        period_file: dict[str, str] = {}
        for path in workbooks:
            ctx.register_file(self, path)
            rel = _rel(path, ctx.raw_dir)
            period, rows = read_workbook(path, rel, rep)
            if period in period_file:
                raise EtlInputError(
                    f"{period} is also published by {period_file[period]}; keep one file per year", file=path
                )
            period_file[period] = rel
            councils.extend(rows)
        for path in extracts:
            ctx.register_file(self, path)
            rel = _rel(path, ctx.raw_dir)
            rows = read_extract_csv(path, rel, rep)
            covered = sorted({c.period for c in rows if c.period in period_file})
            for p in covered:
                rep.note(
                    f"{p} rows of the extract skipped: the full workbook {period_file[p]} covers that year", file=path
                )
            rows = [c for c in rows if c.period not in period_file]
            _check_extract_unit(path, rows, councils, rep)
            for p, n in Counter(c.period for c in rows).items():
                rep.facts[f"extract_councils_{p}"] = n
                rep.note(
                    f"{p} comes from an upper-tier extract ({n} county/unitary/metropolitan/London councils, "
                    f"{len({c.line for c in rows[0].cells})} service lines, no shire districts, no total or "
                    "parish precepts)",
                    file=path,
                )
            councils.extend(rows)
        return councils

    # -- mapping ---------------------------------------------------------------------------
    def _map(self, ctx, councils: list[Council], rep: LoadReport) -> list[tuple]:
        cmap = CouncilMap(ctx.con)
        values = ValueReader(rep)
        resolved = [(c, cmap.successors(c, rep)) for c in councils]
        split_codes = {n for _, succ in resolved if len(succ) > 1 for n, _ in succ}
        pop = population_shares(ctx, self, split_codes, rep) if split_codes else {}
        skipped: Counter = Counter()
        loaded: dict[str, set] = defaultdict(set)
        out: list[tuple] = []
        shares_noted: set[str] = set()
        for council, succ in resolved:
            if not succ:
                values.check(council)
                if council.by_code and council.klass in COUNCIL_CLASSES:
                    from .revenue_outturn_codes import unknown_council

                    raise unknown_council(council)
                if council.klass in COUNCIL_CLASSES or not council.klass:
                    rep.unmatched(
                        council.ecode,
                        f"council {council.name!r} (class {council.klass}) has no current successor in area_code_map",
                        **council.where(),
                        column="E-code",
                    )
                else:
                    skipped[council.klass] += 1
                continue
            targets = self._targets(council, succ, pop, rep, shares_noted)
            if targets is None:
                continue
            nums = {cell.line: values.value(council, cell) for cell in council.cells}
            _check_service_sum(council, nums, rep)
            for cell in council.cells:
                v = nums[cell.line]
                for code, mapping, share in targets:
                    out.append(
                        (
                            code,
                            mapping,
                            council.ecode,
                            council.name,
                            council.klass,
                            council.period,
                            cell.line,
                            cell.label,
                            None if v is None else round(v * THOUSAND * share, 2),
                            council.file,
                            council.sheet,
                            council.row,
                            cell.column,
                        )
                    )
            loaded[council.period].add(council.ecode)
        values.flush()
        for klass, n in skipped.items():
            rep.facts[f"skipped_class_{klass}"] = n
        for period, codes in loaded.items():
            rep.facts[f"councils_{period}"] = len(codes)
        rep.facts["periods"] = len(loaded)
        return out

    def _targets(self, council, succ, pop, rep, shares_noted) -> list[tuple[str, str, float]] | None:
        """(council_code, mapping, share) for each successor of one published council."""
        if len(succ) == 1:
            code, relation = succ[0]
            return [(code, "same" if relation in ("same", "recoded") else "predecessor", 1.0)]
        missing = [n for n, _ in succ if not pop.get(n)]
        if missing:
            rep.unmatched(
                council.ecode,
                f"split council {council.name!r}: no Census 2021 population for successor(s) "
                f"{missing}, so it cannot be apportioned",
                **council.where(),
                column="E-code",
            )
            return None
        total = sum(pop[n] for n, _ in succ)
        shares = [(n, "predecessor_share", pop[n] / total) for n, _ in succ]
        if council.ecode not in shares_noted:
            shares_noted.add(council.ecode)
            rep.note(
                f"{council.name} ({council.ecode}) was split; its values in every year are apportioned by "
                "Census 2021 population: " + ", ".join(f"{n} {s:.4f}" for n, _, s in shares),
                code=council.ecode,
            )
            for n, _, s in shares:
                rep.facts[f"split_share_{council.ecode}_{n}"] = round(s, 6)
        return shares


FINANCE_COLUMNS = [
    "council_code",
    "mapping",
    "ecode",
    "source_name",
    "class",
    "period",
    "line",
    "line_label",
    "value_gbp",
    "file",
    "sheet",
    "row",
    "column_name",
]


def _rel(path: Path, raw_dir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(raw_dir).resolve()))
    except ValueError:
        return Path(path).name


def _check_service_sum(council: Council, nums: dict[str, float | None], rep: LoadReport) -> None:
    """The published total is the sum of the service lines: a mismatch means a column was missed
    or mis-read (e.g. a new service heading in a later year's layout)."""
    total = nums.get(TOTAL_LINE[0])
    parts = [v for line, v in nums.items() if line in SERVICE_LINE_IDS and v is not None]
    if total is None or not parts:
        return
    diff = total - sum(parts)
    if abs(diff) > SUM_TOLERANCE:
        rep.warn(
            f"service lines sum to {sum(parts):,.0f} but TOTAL SERVICE EXPENDITURE is {total:,.0f} "
            f"(£ thousand, difference {diff:,.0f})",
            **council.where(),
            code=council.ecode,
        )


def _check_extract_unit(path: Path, extract: list[Council], workbooks: list[Council], rep: LoadReport) -> None:
    """The extract states no unit: compare its education line with the nearest workbook year and
    stop if it is not £ thousand like the workbooks (a ×1000 slip would be silent otherwise)."""
    if not extract or not workbooks:
        return
    periods = sorted({c.period for c in workbooks})
    target = min(periods, key=lambda p: abs(int(p[:4]) - int(min(c.period for c in extract)[:4])))
    book = {c.ecode: c for c in workbooks if c.period == target}
    ratios = []
    for c in extract:
        other = book.get(c.ecode)
        a = _raw_line(c, "education")
        b = _raw_line(other, "education") if other else None
        if a and b and a > 0 and b > 0:
            ratios.append(a / b)
    if not ratios:
        return
    median = sorted(ratios)[len(ratios) // 2]
    rep.facts["extract_unit_check_median_ratio"] = round(median, 4)
    if not 0.5 <= median <= 2.0:
        raise EtlInputError(
            f"education values are {median:.3g}× the {target} workbook's (£ thousand) for the same "
            "councils: the extract is not in £ thousand",
            file=path,
            column="190: Education services",
        )


def _raw_line(council: Council, line: str) -> float | None:
    for cell in council.cells:
        if cell.line == line:
            try:
                return float(cell.raw)
            except (TypeError, ValueError):
                return None
    return None


SOURCES = [RevenueOutturn()]
