"""Local data: councils' and partners' own volunteering, community-project and grant figures.

No national open file gives these by council, so the project accepts them through documented
templates (``templates/local/``: CSV, XLSX and a Frictionless Table Schema each). Every CSV or XLSX
file in the raw directory's ``local/`` folder whose name starts with a template name
(``volunteering…``, ``projects…``, ``council_grants…``) is validated and loaded into
``local_values``. Invalid rows are skipped and reported with file, sheet, row and column; the
rest of the file still loads. Retired area codes are reported with the current code to use.

``python -m etl templates`` regenerates the templates from :data:`TEMPLATES` below, which is the
single definition of every measure (tests check the committed files match).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from powerbalance.codes import open_workbook

from ..core import (
    BuildContext,
    EtlInputError,
    LoadReport,
    Source,
    decode_text,
    insert_rows,
    parse_number,
    read_excel_rows,
)


@dataclass(frozen=True)
class Measure:
    id: str
    title: str
    unit: str
    description: str
    maximum: float | None = None  # e.g. 100 for percentages
    integer: bool = False


TEMPLATES: dict[str, list[Measure]] = {
    "volunteering": [
        Measure(
            "formal_volunteering_rate",
            "Formal volunteering rate",
            "%",
            "Percentage of adults (16+) who volunteered formally (through a group, club or organisation) in "
            "the last 12 months, e.g. the Community Life Survey local estimate.",
            maximum=100,
        ),
        Measure(
            "civic_participation_rate",
            "Civic participation rate",
            "%",
            "Percentage of adults (16+) who took part in civic participation in the last 12 months "
            "(local estimate; replaces the regional survey figure for this area).",
            maximum=100,
        ),
        Measure(
            "volunteers",
            "Volunteers",
            "people",
            "Number of residents volunteering in council-supported or partner schemes in the period.",
            integer=True,
        ),
        Measure(
            "volunteer_hours",
            "Volunteer hours",
            "hours",
            "Hours given by volunteers in the period, as recorded by the council or partner.",
        ),
    ],
    "projects": [
        Measure(
            "resident_led_projects",
            "Resident-led projects",
            "projects",
            "Projects designed and run by residents that were active in the period.",
            integer=True,
        ),
        Measure(
            "community_asset_transfers",
            "Community asset transfers",
            "transfers",
            "Council land or buildings transferred to community ownership or management in the period.",
            integer=True,
        ),
        Measure(
            "assets_of_community_value",
            "Assets of community value",
            "assets",
            "Assets listed on the council's register of assets of community value at the end of the period.",
            integer=True,
        ),
        Measure(
            "neighbourhood_plans",
            "Neighbourhood plans made",
            "plans",
            "Neighbourhood development plans made (adopted) and in force at the end of the period.",
            integer=True,
        ),
        Measure(
            "participatory_budgeting_rounds",
            "Participatory budgeting rounds",
            "rounds",
            "Participatory budgeting rounds in which residents decided how money was spent.",
            integer=True,
        ),
    ],
    "council_grants": [
        Measure(
            "council_vcs_grants_gbp",
            "Council grants to voluntary and community groups",
            "£",
            "Pounds the council granted to voluntary, community and social enterprise groups in the period.",
        ),
    ],
}
MEASURES = {m.id: (tpl, m) for tpl, ms in TEMPLATES.items() for m in ms}
COLUMNS = ["area_code", "period", "measure", "value", "source_note"]
#: Columns of the ``local_values`` table, in the order the loader writes them.
TABLE_COLUMNS = [
    "file",
    "sheet",
    "row",
    "template",
    "area_code",
    "area_level",
    "period",
    "measure",
    "value",
    "source_note",
]
REQUIRED = ["area_code", "period", "measure", "value"]
PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
#: File types read from local/ (any letter case); every other file there is named as ignored.
READ_SUFFIXES = (".csv", ".xlsx", ".xls", ".ods")
AREA_LEVELS = ("ward", "district", "county")
MAX_ROWS = 100_000


def table_schema(template: str) -> dict:
    """The Frictionless Table Schema for one template."""
    measures = TEMPLATES[template]
    return {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "title": f"Power Balance local data: {template.replace('_', ' ')}",
        "description": "One row per area, period and measure. Put filled-in files in the raw directory's local/ "
        f"folder with a name starting '{template}'. See docs/local-data.md.",
        "fields": [
            {
                "name": "area_code",
                "type": "string",
                "title": "Area code",
                "description": "Current GSS code of a ward (E05), district (E06/E07/E08/E09) or county (E10).",
                "constraints": {"required": True, "pattern": "^E(05|06|07|08|09|10)[0-9]{6}$"},
            },
            {
                "name": "period",
                "type": "string",
                "title": "Period",
                "description": "Financial year such as 2023-24, or calendar year such as 2023.",
                "constraints": {"required": True, "pattern": "^[0-9]{4}(-[0-9]{2})?$"},
            },
            {
                "name": "measure",
                "type": "string",
                "title": "Measure",
                "description": "; ".join(f"{m.id}: {m.description} ({m.unit})" for m in measures),
                "constraints": {"required": True, "enum": [m.id for m in measures]},
            },
            {
                "name": "value",
                "type": "number",
                "title": "Value",
                "description": "The figure, in the measure's unit. No thousands separators needed; never blank — leave "
                "the row out when there is no figure.",
                "constraints": {"required": True, "minimum": 0},
            },
            {
                "name": "source_note",
                "type": "string",
                "title": "Source note",
                "description": "Optional: who collected the figure and how.",
            },
        ],
        "primaryKey": ["area_code", "period", "measure"],
        "measures": [
            {
                "id": m.id,
                "title": m.title,
                "unit": m.unit,
                "description": m.description,
                "maximum": m.maximum,
                "integer": m.integer,
            }
            for m in measures
        ],
    }


def write_templates(out: Path) -> list[Path]:
    """Write CSV, XLSX and schema JSON for every template (header only: templates carry no values)."""
    from openpyxl import Workbook

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for tpl in TEMPLATES:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(COLUMNS)
        (out / f"{tpl}.csv").write_text(buf.getvalue())
        (out / f"{tpl}.schema.json").write_text(json.dumps(table_schema(tpl), indent=2) + "\n")
        wb = Workbook()
        ws = wb.active
        ws.title = "data"
        ws.append(COLUMNS)
        guide = wb.create_sheet("guide")
        guide.append(["measure", "title", "unit", "description"])
        for m in TEMPLATES[tpl]:
            guide.append([m.id, m.title, m.unit, m.description])
        wb.properties.creator = "Power Balance"
        path = out / f"{tpl}.xlsx"
        wb.save(path)
        written += [out / f"{tpl}.csv", out / f"{tpl}.schema.json", path]
    return written


def _template_of(path: Path) -> str:
    stem = path.stem.lower()
    for tpl in sorted(TEMPLATES, key=len, reverse=True):
        if stem.startswith(tpl):
            return tpl
    raise EtlInputError(
        f"local file name must start with one of {sorted(TEMPLATES)} so its template is known", file=path
    )


def _rows(path: Path, report: LoadReport) -> tuple[str | None, list[tuple[int, dict[str, object]]]]:
    """(sheet, [(row number, {column: value})]) from a CSV or the first sheet of an XLSX."""
    if path.suffix.lower() == ".csv":  # .CSV too
        text = decode_text(path, report)
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(reader, [])]
        sheet = None
        body = [(reader.line_num, rec) for rec in reader]
    else:
        sheet = open_workbook(path, path, EtlInputError).sheet_names[0]
        rows = read_excel_rows(path, sheet)
        if not rows:
            raise EtlInputError("sheet is empty", file=path, sheet=sheet)
        header = [str(h).strip() for h in rows[0]]
        body = [(i + 2, list(r)) for i, r in enumerate(rows[1:])]
    if not header or not any(header):
        raise EtlInputError("file has no header row", file=path, sheet=sheet, row=1)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise EtlInputError(
            f"missing required column(s) {missing}; expected {COLUMNS}",
            file=path,
            sheet=sheet,
            row=1,
            column=missing[0],
        )
    out = []
    for line, rec in body:
        if not any(str(v).strip() for v in rec if v is not None):
            continue
        if len(out) >= MAX_ROWS:
            raise EtlInputError(f"more than {MAX_ROWS} data rows", file=path, sheet=sheet, row=line)
        out.append((line, {h: (rec[i] if i < len(rec) else None) for i, h in enumerate(header)}))
    return sheet, out


class LocalData(Source):
    id = "local_data"
    title = "Local data from councils and partners"
    publisher = "The council or partner named in each file's source notes"
    licence = "As stated by the supplier of each file"
    attribution = "Local figures supplied by councils and partners; see each value's source note."
    vintage = "As given per row"
    url = "docs/local-data.md"
    files = ("local/*.csv", "local/*.xlsx", "local/*.xls", "local/*.ods")
    depends = ("geography",)
    optional = True

    def paths(self, ctx: BuildContext) -> list[Path]:
        """Every CSV, XLSX, XLS or ODS file in local/ whatever the letter case of its ending
        (``.CSV`` too). Other files there are named in the report as ignored, never skipped silently."""
        folder = ctx.raw_dir / "local"
        if not folder.is_dir():
            return []
        found = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))
        for p in found:
            if p.suffix.lower() not in READ_SUFFIXES:
                ctx.report(self.id).warn(
                    f"file ignored: only {', '.join(READ_SUFFIXES)} files are read from local/", file=p.name
                )
        return [p for p in found if p.suffix.lower() in READ_SUFFIXES]

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        paths = self.paths(ctx)
        if not paths:
            rep.note("no local files found in local/ (optional)")
            return
        places = {
            c: (lvl, d, cty)
            for c, lvl, d, cty in ctx.con.execute(
                f"select code, level, district_code, county_code from areas where level in {AREA_LEVELS}"
            ).fetchall()
        }
        levels = {c: v[0] for c, v in places.items()}
        successors: dict[str, list[str]] = {}
        for old, new in ctx.con.execute(
            "select old_code, new_code from area_code_map where relation <> 'same' order by 1, 2"
        ).fetchall():
            successors.setdefault(old, []).append(new)
        out: list[tuple] = []
        earlier: dict[tuple, tuple] = {}  # (area, financial year, measure) → (file, sheet, row) in earlier files
        for path in paths:
            ctx.register_file(self, path)
            tpl = _template_of(path)
            sheet, rows = _rows(path, rep)
            rep.rows_read += len(rows)
            seen: dict[tuple, int] = {}
            kept = []
            for line, r in rows:
                rec = self._validate(path, sheet, line, r, tpl, levels, successors, seen, rep)
                if rec is not None:
                    kept.append((path.name, sheet, line, tpl, *rec))
            refuse_cross_file_duplicates(kept, earlier)
            warn_doubtful(kept, places, rep)
            out += kept
        insert_rows(
            ctx.con,
            "local_values",
            out,
            TABLE_COLUMNS,
        )
        rep.rows_loaded = len(out)
        rep.facts["local_files"] = len(paths)
        rep.facts["local_rows_skipped"] = rep.rows_read - len(out)

    @staticmethod
    def _validate(path, sheet, line, r, tpl, levels, successors, seen, rep):
        loc = dict(file=path.name, sheet=sheet, row=line)

        def skip(msg, column, code=None):
            if code is not None:
                rep.unmatched(code, msg, column=column, **loc)
            else:
                rep.warn(msg + "; row skipped", column=column, **loc)
            return None

        code = str(r.get("area_code") or "").strip().upper()
        if not code:
            return skip("area_code is blank", "area_code")
        if code not in levels:
            if code in successors:
                return skip(
                    f"retired area code; use {' or '.join(successors[code])} instead; row skipped", "area_code", code
                )
            return skip("unknown area code (not a current ward, district or county); row skipped", "area_code", code)
        period = str(r.get("period") or "").strip()
        if isinstance(r.get("period"), float) and float(r["period"]).is_integer():
            period = str(int(r["period"]))  # XLSX stores 2023 as a number
        m = PERIOD_RE.match(period)
        if not m or (m.group(2) and int(m.group(2)) != (int(m.group(1)) + 1) % 100):
            return skip(f"period {period!r} is not a year like 2023 or a financial year like 2023-24", "period")
        measure = str(r.get("measure") or "").strip()
        if measure not in MEASURES or MEASURES[measure][0] != tpl:
            allowed = [x.id for x in TEMPLATES[tpl]]
            return skip(f"measure {measure!r} is not one of the {tpl} template's measures {allowed}", "measure")
        meta = MEASURES[measure][1]
        try:
            value = parse_number(r.get("value"), column="value", report=rep, allow_negative=False, **loc)
        except EtlInputError as exc:
            return skip(exc.message, "value")
        if value is None:
            return skip("value is blank or suppressed (leave the row out when there is no figure)", "value")
        if meta.maximum is not None and value > meta.maximum:
            return skip(f"value {value:g} is above the maximum {meta.maximum:g} for {meta.unit}", "value")
        if meta.integer and not float(value).is_integer():
            return skip(f"value {value:g} should be a whole number of {meta.unit}", "value")
        key = (code, financial_year(period), measure)
        if key in seen:
            return skip(
                f"duplicate of row {seen[key]} (same area, period and measure"
                + (f"; calendar {period} counts as {key[1]}" if "-" not in period else "")
                + ")",
                "area_code",
            )
        seen[key] = line
        note = r.get("source_note")
        note = str(note).strip() if note not in (None, "") else None
        return code, levels[code], period, measure, value, note


def report_index_use(ctx: BuildContext) -> list[str]:
    """After the indicators are derived: which loaded figures can feed the index and which are shown
    only (a year the index does not cover, or a ward), as notes on the Data page and build-output lines."""
    from powerbalance.local_use import LOCAL_USE_SQL, summary_lines

    try:
        use = ctx.con.execute(LOCAL_USE_SQL).df()
    except Exception:  # no local_values table in a partial build
        return []
    lines = summary_lines(use)
    rep = ctx.report(LocalData.id)
    for line, file in zip(lines, use["file"]):
        rep.note(line, file=file)
    return lines


def financial_year(period: str) -> str:
    """A local period as the financial year it counts for: calendar 2023 → '2023-24' (as for grants)."""
    return period if "-" in period else f"{period}-{(int(period) + 1) % 100:02d}"


def _where(rec: tuple) -> str:
    file, sheet, row = rec[:3]
    return f"{file}" + (f" sheet {sheet!r}" if sheet else "") + f" row {row}"


def refuse_cross_file_duplicates(kept: list[tuple], earlier: dict[tuple, tuple]) -> None:
    """Stop the build when one file repeats an area, financial year and measure already given by
    another (a revised file beside the old one; calendar 2023 beside 2023-24): which figure is right
    is the supplier's call, so the error names both files and rows."""
    for rec in kept:
        file, sheet, row, _tpl, code, _lvl, period, measure = rec[:8]
        key = (code, financial_year(period), measure)
        if key in earlier:
            first = earlier[key]
            raise EtlInputError(
                f"{code} {measure} for {key[1]} is given twice: here (period {period!r}) and in "
                f"{_where(first)} (period {first[6]!r}); keep one file's figure and remove the "
                "other",
                file=file,
                sheet=sheet,
                row=row,
                column="area_code",
            )
    for rec in kept:
        earlier.setdefault((rec[4], financial_year(rec[6]), rec[7]), rec)


def period_start(period: str) -> _dt.date:
    """First day of a local period: 1 April of a financial year, 1 January of a calendar year."""
    year = int(period[:4])
    return _dt.date(year, 4, 1) if "-" in period else _dt.date(year, 1, 1)


def warn_doubtful(kept: list[tuple], places: dict[str, tuple], rep: LoadReport, today: _dt.date | None = None) -> None:
    """Rows that load but are probably mistakes get a located warning: a period that has not
    started yet; a percentage between 0 and 1 (likely a fraction: 0.235 for 23.5%); a ward outside
    every council the same file gives figures for."""
    today = today or _dt.date.today()
    councils = {rec[4] for rec in kept if rec[5] in ("district", "county")}
    for rec in kept:
        file, sheet, row, _tpl, code, level, period, measure, value = rec[:9]
        loc = dict(file=file, sheet=sheet, row=row)
        if period_start(period) > today:
            rep.warn(
                f"period {period} has not started yet (today is {today:%d %B %Y}); check the year",
                column="period",
                **loc,
            )
        meta = MEASURES[measure][1]
        if meta.maximum == 100 and 0 < value <= 1:
            rep.warn(
                f"{measure} {value:g} looks like a fraction; percentages are given 0–100 "
                f"(e.g. {value * 100:g} for {value:.1%})",
                column="value",
                **loc,
            )
        if level == "ward" and councils:
            _, district, county = places[code]
            if district not in councils and county not in councils:
                rep.warn(
                    f"ward {code} is in district {district}, not in the council(s) this file covers "
                    f"({', '.join(sorted(councils))}); check the code",
                    column="area_code",
                    **loc,
                )


SOURCES = [LocalData()]
