"""Revenue Outturn Summary (RS) workbooks keyed by MHCLG data code (2023-24 onwards).

From 2023-24 MHCLG publishes RS as an ODS whose data sheet carries, above the visible header, a
(hidden) row holding each column's **data code** — ``RS-totsx-net-exp`` (total service
expenditure), ``RS-parishaggprecept-net-exp`` (parish precepts) … Columns are found by those codes,
never by position or label text, so next year's workbook with the same codes
(``funding/RS_2024-25_data_by_LA.ods``, or an ``.xlsx`` of the same layout) loads unchanged.

This module only *reads*: it turns such a workbook into the same :class:`Council` rows as the
label-keyed reader in :mod:`etl.sources.revenue_outturn`, which maps them to today's councils and
writes the ``finance`` table with the same line ids. A workbook whose layout is not recognised
(no code row, a needed code missing, no E-code header, an unknown council) stops the build with
an error naming the file, sheet, row and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from powerbalance.codes import excel_col, is_gss

from ..core import EtlInputError, LoadReport
from .revenue_outturn import (
    COUNCIL_CLASSES,
    ECODE_RE,
    HEAD_SCAN_ROWS,
    REQUIRED_LABELS,
    Cell,
    Council,
    _at,
    _present,
    _text,
    ecode_error,
    normalise_heading,
    periods_in,
    read_sheet,
    record_ecode,
)

#: One column's data code, e.g. ``RS-totsx-net-exp``.
CODE_RE = re.compile(r"^RS-[A-Za-z0-9-]+-net-exp$")
#: A row holding at least this many data codes is the code row.
MIN_CODES = 3
#: Data code → the finance line id used for every earlier year (see docs/finance.md).
CODE_LINES: dict[str, str] = {
    "RS-edu-net-exp": "education",
    "RS-trans-net-exp": "highways_transport",
    "RS-csc-net-exp": "childrens_social_care",
    "RS-asc-net-exp": "adult_social_care",
    "RS-phs-net-exp": "public_health",
    "RS-hous-net-exp": "housing_gf",
    "RS-cul-net-exp": "cultural",
    "RS-env-net-exp": "environmental",
    "RS-plan-net-exp": "planning",
    "RS-pol-net-exp": "police",
    "RS-frs-net-exp": "fire",
    "RS-cen-net-exp": "central",
    "RS-oth-net-exp": "other",
    "RS-totsx-net-exp": "total_service",
    "RS-parishaggprecept-net-exp": "parish_precepts",
    "RS-netcurrtot-net-exp": "net_current_expenditure",
}
#: Codes without which the workbook cannot be used.
REQUIRED_CODES = ("RS-totsx-net-exp", "RS-parishaggprecept-net-exp")


@dataclass
class CodeLayout:
    sheet: str
    code_row: int  # 0-based
    header_row: int  # 0-based
    period: str
    columns: dict[str, int]  # ecode/name/class/ons → index
    lines: dict[str, int]  # line id → index
    codes: dict[str, str]  # line id → data code


def code_row_of(rows: list[list[Any]]) -> int | None:
    """Index of the first row holding data codes, found by content (never by row number)."""
    for i, row in enumerate(rows):
        if sum(1 for v in row if isinstance(v, str) and CODE_RE.match(v.strip())) >= MIN_CODES:
            return i
    return None


def has_code_row(path: Path, wb) -> bool:
    """Does any sheet of the workbook carry a data code row near its top?"""
    if Path(path).suffix.lower() == ".ods":
        return True  # MHCLG's ODS workbooks are all code-keyed; one without codes is an error, not old layout
    return any(code_row_of(_head(path, wb, name)) is not None for name in wb.sheet_names)


def _head(path: Path, wb, name: str) -> list[list[Any]]:
    try:
        return read_sheet(wb, name, HEAD_SCAN_ROWS)
    except Exception as exc:  # calamine parses a sheet lazily: damage shows here
        raise EtlInputError(f"cannot read this sheet, the file is damaged: {exc}", file=path, sheet=name) from None


def _id_columns(header: list[Any]) -> dict[str, int]:
    heads = [normalise_heading(v) for v in header]
    ids = {
        key: next(i for i, h in enumerate(heads) if re.fullmatch(pat, h))
        for key, pat in REQUIRED_LABELS.items()
        if any(re.fullmatch(pat, h) for h in heads)
    }
    ons = [i for i, h in enumerate(heads) if h in ("ons code", "gss code")]
    if ons:
        ids["ons"] = ons[0]
    return ids


def _code_columns(path: Path, sheet: str, rows: list[list[Any]], at: int) -> tuple[dict[str, int], dict[str, str]]:
    """Line id → column index for the codes in :data:`CODE_LINES`; each code at most once."""
    lines: dict[str, int] = {}
    codes: dict[str, str] = {}
    for j, v in enumerate(rows[at]):
        code = v.strip() if isinstance(v, str) else ""
        line = CODE_LINES.get(code)
        if line is None:
            continue
        if line in lines:
            raise EtlInputError(
                f"data code {code} appears twice (columns {excel_col(lines[line])} and {excel_col(j)})",
                file=path,
                sheet=sheet,
                row=at + 1,
                column=excel_col(j),
            )
        lines[line], codes[line] = j, code
    missing = [c for c in REQUIRED_CODES if CODE_LINES[c] not in lines]
    if missing:
        raise EtlInputError(
            f"missing code column(s) {missing} in the data code row (expected e.g. {list(REQUIRED_CODES)})",
            file=path,
            sheet=sheet,
            row=at + 1,
        )
    return lines, codes


def find_code_layout(path: Path, wb) -> CodeLayout:
    """The one sheet with a data code row followed by the E-code / Local authority / Class header."""
    found: list[tuple[str, list[list[Any]], int]] = []
    for name in wb.sheet_names:
        rows = _head(path, wb, name)
        at = code_row_of(rows)
        if at is not None:
            found.append((name, rows, at))
    if not found:
        raise EtlInputError(
            f"missing code row: no sheet has a row of RS data codes (cells like 'RS-totsx-net-exp') "
            f"in its first {HEAD_SCAN_ROWS} rows; sheets are {wb.sheet_names}",
            file=path,
            sheet=wb.sheet_names[0] if wb.sheet_names else None,
        )
    if len(found) > 1:
        raise EtlInputError(
            f"several sheets carry RS data codes: {[f[0] for f in found]}", file=path, sheet=found[1][0]
        )
    name, rows, at = found[0]
    lines, codes = _code_columns(path, name, rows, at)
    header = next(
        (
            i
            for i in range(at + 1, len(rows))
            if any(re.fullmatch(REQUIRED_LABELS["ecode"], normalise_heading(v)) for v in rows[i])
        ),
        None,
    )
    if header is None:
        raise EtlInputError(
            f"no 'E-code' header row below the data code row (row {at + 1})", file=path, sheet=name, row=at + 2
        )
    ids = _id_columns(rows[header])
    absent = [k for k in REQUIRED_LABELS if k not in ids]
    if absent:
        raise EtlInputError(
            f"header row has no {absent} column(s) (expected E-code, Local authority, Class)",
            file=path,
            sheet=name,
            row=header + 1,
        )
    return CodeLayout(name, at, header, _period(path, name, rows[:at]), ids, lines, codes)


def _period(path: Path, sheet: str, title_rows: list[list[Any]]) -> str:
    """The financial year named by the title rows above the code row, checked against the file name."""
    titles = [str(v) for r in title_rows for v in r if isinstance(v, str) and v.strip()]
    periods = set().union(*(periods_in(t) for t in titles)) if titles else set()
    if len(periods) != 1:
        raise EtlInputError(
            f"cannot tell the financial year from the title rows (found {sorted(periods)} in {titles[:2]})",
            file=path,
            sheet=sheet,
            row=1,
        )
    period = periods.pop()
    in_name = periods_in(Path(path).name)
    if len(in_name) == 1 and period not in in_name:
        raise EtlInputError(
            f"sheet title says {period} but the file name says {in_name.pop()}", file=path, sheet=sheet, row=1
        )
    return period


def read_code_workbook(path: Path, rel: str, report: LoadReport, wb) -> tuple[str, list[Council]]:
    """Parse one code-keyed RS workbook into council rows (values still as published)."""
    layout = find_code_layout(path, wb)
    try:
        rows = read_sheet(wb, layout.sheet)
    except Exception as exc:
        raise EtlInputError(
            f"cannot read this sheet, the file is damaged: {exc}", file=path, sheet=layout.sheet
        ) from None
    labels = {
        line: f"{code}: {str(_at(rows[layout.header_row], j) or '').strip()}"
        for line, code in layout.codes.items()
        for j in [layout.lines[line]]
    }
    councils, end = _council_block(path, rel, layout, rows, labels)
    report.facts[f"aggregate_rows_skipped_{layout.period}"] = sum(1 for r in rows[end:] if any(_present(v) for v in r))
    report.note(
        f"{layout.period} read by data code (code row {layout.code_row + 1}, header row "
        f"{layout.header_row + 1}): " + ", ".join(f"{c} → {line}" for line, c in layout.codes.items()),
        file=path,
        sheet=layout.sheet,
        row=layout.code_row + 1,
    )
    return layout.period, councils


def _council_block(path: Path, rel: str, layout: CodeLayout, rows, labels) -> tuple[list[Council], int]:
    """Council rows from below the header to the first row without an E-code (ENGLAND, class
    totals and a second table follow). Returns the councils and the index where the block ended."""
    c = layout.columns
    ecol = c["ecode"]
    councils: list[Council] = []
    seen: dict[str, int] = {}
    end = len(rows)
    for i in range(layout.header_row + 1, len(rows)):
        row = rows[i]
        if not any(_present(v) for v in row):
            continue
        code = _text(_at(row, ecol))
        if not (code and ECODE_RE.match(code)):
            if not councils:
                raise ecode_error(
                    f"expected a council E-code below the header, found {code!r}", path, layout.sheet, i + 1, ecol
                )
            end = i
            break
        record_ecode(seen, code, i + 1, path, layout.sheet, ecol)
        klass = _text(_at(row, c["class"]))
        council = Council(
            code,
            _ons(path, layout, row, i, klass),
            _text(_at(row, c["name"])),
            klass,
            layout.period,
            rel,
            layout.sheet,
            i + 1,
            by_code=True,
        )
        council.cells = [Cell(line, labels[line], excel_col(j), _at(row, j)) for line, j in layout.lines.items()]
        councils.append(council)
    if not councils:
        raise ecode_error(
            "no council rows (E-codes) below the header row", path, layout.sheet, layout.header_row + 2, ecol
        )
    _check_after_block(path, layout, rows, end)
    return councils, end


def _ons(path: Path, layout: CodeLayout, row, i: int, klass: str | None) -> str | None:
    """A council's ONS code must be a GSS code; other bodies (Lee Valley Park: 'E6803') may hold anything."""
    j = layout.columns.get("ons")
    ons = _text(_at(row, j))
    if ons is not None and not is_gss(ons):
        if klass not in COUNCIL_CLASSES:
            return None
        raise EtlInputError(
            f"not a GSS code: {ons!r}", file=path, sheet=layout.sheet, row=i + 1, column=f"{excel_col(j)} (ONS Code)"
        )
    return ons


def _check_after_block(path: Path, layout: CodeLayout, rows, end: int) -> None:
    """Between the end of the council block and the next table's header, a council E-code means
    the block was cut short (a stray row would otherwise drop every council below it)."""
    ecol = layout.columns["ecode"]
    for i in range(end, len(rows)):
        v = _at(rows[i], ecol)
        if re.fullmatch(REQUIRED_LABELS["ecode"], normalise_heading(v)):
            return  # the class-breakdown table: its rows are aggregates and other bodies
        code = _text(v)
        if code and ECODE_RE.match(code):
            raise ecode_error(
                f"council row {code!r} after the end of the council block (row {end + 1})",
                path,
                layout.sheet,
                i + 1,
                ecol,
            )


def unknown_council(council: Council) -> EtlInputError:
    """A code-keyed workbook is current, so every council in it must be a council we know today:
    an unknown council code stops the build (the label-keyed years only report theirs as
    unmatched: they hold councils abolished long ago)."""
    return EtlInputError(
        f"unknown council code: E-code {council.ecode} / ONS code {council.ons} ({council.name!r}, "
        f"class {council.klass}) is not a current council in the register",
        **council.where(),
        column="E-code / ONS Code",
    )
