"""Revenue Outturn 2023-24 onwards, read by MHCLG data code (etl/sources/revenue_outturn_codes.py).

Fixtures are small workbooks written here with the real 2023-24 title, code and header rows and
real council rows (Adur, Amber Valley, West Sussex, Birmingham's unpublished row), as .ods (a
minimal OpenDocument writer below: odfpy is not a requirement) and as .xlsx (openpyxl). The real
ODS is then spot-checked against cells located with python_calamine independently of the loader.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb
import pytest
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from etl.build import SCHEMA, build
from etl.core import BuildContext, EtlInputError, insert_rows
from etl.sources.revenue_outturn import RevenueOutturn

ROOT = Path(__file__).resolve().parent.parent
RAW = Path(os.environ.get("POWERBALANCE_RAW_DIR", ROOT.parent / "shared" / "data"))
ODS = "RS_2023-24_data_by_LA.ods"
SHEET = "RS_LA_Data_2023-24"

# The real 2023-24 layout, cut down to the id columns and the codes the loader maps (plus one it ignores).
TITLE = [
    ["Worksheet 2: Revenue Outturn (RO) 2023-24: Revenue Outturn Summary (RS) data"],
    ["This worksheet contains 2 tables. Data are reported in £ thousand. "],
    ['Produced on a non-IAS19 and PFI "Off Balance Sheet" basis unless stated otherwise.'],
    ["Source: Ministry of Housing, Communities & Local Government Revenue account Outturn (RO) returns 2023-24"],
    ["Last updated: 12 December 2024"],
    ["Rows 7-10 are hidden. These rows contain reference data required for this table to populate. "],
]
IDS = ["E-code", "ONS Code", "Local authority", "Notes", "Class"]
CODES = ["RS-hous-net-exp", "RS-cen-net-exp", "RS-totsx-net-exp", "RS-hbrent-net-exp", "RS-parishaggprecept-net-exp"]
HEADS = [
    "Housing services (GFRA only)",
    "Central services",
    "TOTAL SERVICE EXPENDITURE (total of lines 190 to 698)",
    "Housing benefits: rent allowances - mandatory payments",
    "Parish Precepts",
]
COUNCILS = [
    ["E3831", "E07000223", "Adur", "", "SD", 2611.0, 3381.0, 11894.0, 6587.0, 440.0],
    ["E1031", "E07000032", "Amber Valley", "", "SD", 1.0, 2.0, 17552.0, 3.0, 2851.0],
    ["E4601", "E08000025", "Birmingham", "M", "MD", "[x]", "[x]", "[x]", "[x]", "[x]"],
    ["E3820", "E10000032", "West Sussex", "", "SC", 4.0, 5.0, 1486213.0, 0.0, 0.0],
]
TAIL = [
    ["Eng", "E92000001", "ENGLAND", "", "", 1.0, 1.0, 1.0, 1.0, 1.0],
    [],
    IDS + HEADS,
    ["E5100", "E12000007", "Greater London Authority", "", "O", 0.0, 0.0, 0.0, 0.0, 0.0],
]


def sheet_rows(codes=CODES, councils=COUNCILS, title=TITLE, code_row=True) -> list[list]:
    blank = [""] * len(IDS)
    rows = [list(r) for r in title]
    rows.append(blank + list(codes) if code_row else [])
    rows += [blank + ["C1R" + str(i) for i in range(len(codes))], [], [], blank + ["Service Expenditure"], []]
    return rows + [IDS + HEADS] + [list(c) for c in councils] + TAIL


def _cell(v) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f'<table:table-cell office:value-type="float" office:value="{v}"/>'
    if v in ("", None):
        return "<table:table-cell/>"
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'


def write_ods(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A minimal, valid OpenDocument spreadsheet (what MHCLG publishes), written without odfpy."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    body = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>" + ("".join(_cell(v) for v in r) or "<table:table-cell/>") + "</table:table-row>"
            for r in rows
        )
        + "</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append([None if v == "" else v for v in r] or [None])
    wb.save(path)
    return path


def _geography(con) -> None:
    def area(code, name, tier, county=None):
        return (
            code,
            name,
            "county" if tier == "upper" else "district",
            "x",
            tier,
            None,
            code,
            county,
            None,
            None,
            None,
            None,
            None,
            "LAD 2024",
        )

    insert_rows(
        con,
        "areas",
        [
            area("E07000223", "Adur", "lower", "E10000032"),
            area("E07000032", "Amber Valley", "lower"),
            area("E08000025", "Birmingham", "single"),
            area("E10000032", "West Sussex", "upper"),
        ],
    )
    amap = [
        ("E3831", "E07000223", "Adur", "council_ecode", "same"),
        ("E1031", "E07000032", "Amber Valley", "council_ecode", "same"),
        ("E4601", "E08000025", "Birmingham", "council_ecode", "same"),
        ("E3820", "E10000032", "West Sussex", "council_ecode", "same"),
    ]
    insert_rows(con, "area_code_map", [r + ("geography",) for r in amap])


def load(tmp_path: Path, files: dict[str, dict[str, list[list]]]):
    """Load workbooks {file name: {sheet: rows}} (written as .ods or .xlsx by their suffix)."""
    raw = tmp_path / "raw"
    (raw / "funding").mkdir(parents=True, exist_ok=True)
    for name, sheets in files.items():
        (write_ods if name.endswith(".ods") else write_xlsx)(raw / "funding" / name, sheets)
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute(SCHEMA.read_text())
    _geography(con)
    ctx = BuildContext(con, raw, "test")
    RevenueOutturn().load(ctx)
    return con, ctx.report("revenue_outturn")


def value(con, code: str, period: str, line: str):
    return con.execute(
        "SELECT value_gbp, file, sheet, row, column_name, line_label FROM finance "
        "WHERE council_code = ? AND period = ? AND line = ?",
        [code, period, line],
    ).fetchone()


# --------------------------------------------------------------------------------------------
# Fixtures: what loads
# --------------------------------------------------------------------------------------------


def test_ods_loads_by_data_code_in_pounds_with_provenance(tmp_path):
    con, rep = load(tmp_path, {ODS: {"Notes": [["Note number", "Note text"]], SHEET: sheet_rows()}})
    tse = value(con, "E07000223", "2023-24", "total_service")
    assert tse == (
        11_894_000.0,
        f"funding/{ODS}",
        SHEET,
        14,
        "H",
        "RS-totsx-net-exp: TOTAL SERVICE EXPENDITURE (total of lines 190 to 698)",
    )
    assert value(con, "E07000223", "2023-24", "parish_precepts")[0] == 440_000.0
    assert value(con, "E07000032", "2023-24", "total_service")[0] == 17_552_000.0
    assert value(con, "E07000032", "2023-24", "parish_precepts")[0] == 2_851_000.0
    assert value(con, "E10000032", "2023-24", "total_service")[0] == 1_486_213_000.0
    lines = {r[0] for r in con.execute("SELECT DISTINCT line FROM finance").fetchall()}
    assert lines == {"housing_gf", "central", "total_service", "parish_precepts"}  # RS-hbrent… is not a line
    assert rep.facts["councils_2023-24"] == 4  # the GLA below the second header is not read


def test_unpublished_cells_are_missing_not_zero_with_the_reason(tmp_path):
    con, rep = load(tmp_path, {ODS: {SHEET: sheet_rows()}})
    rows = con.execute("SELECT value_gbp FROM finance WHERE council_code = 'E08000025'").fetchall()
    assert len(rows) == 4 and all(v is None for (v,) in rows)
    why = [i for i in rep.issues if i.kind == "suppressed" and i.row == 16]
    assert len(why) == 4 and all("'[x]'" in i.message and "not published by MHCLG" in i.message for i in why)


def test_next_year_loads_with_no_code_change_and_columns_moved(tmp_path):
    """RS 2024-25 with the same codes in another column order, as .xlsx beside the 2023-24 ODS."""
    order = [2, 4, 0, 1, 3]  # the code columns shuffled: only the codes say which is which
    nxt = [[r.replace("2023-24", "2024-25") for r in t] for t in TITLE]
    councils = [c[:5] + [c[5 + i] for i in order] for c in COUNCILS]
    rows = sheet_rows([CODES[i] for i in order], councils, nxt)
    rows[rows.index(IDS + HEADS)] = IDS + [HEADS[i] for i in order]
    con, rep = load(tmp_path, {ODS: {SHEET: sheet_rows()}, "RS_2024-25_data_by_LA.xlsx": {"RS_LA_Data": rows}})
    assert value(con, "E07000223", "2024-25", "total_service")[:5] == (
        11_894_000.0,
        "funding/RS_2024-25_data_by_LA.xlsx",
        "RS_LA_Data",
        14,
        "F",
    )
    assert value(con, "E07000223", "2024-25", "parish_precepts")[0] == 440_000.0
    assert rep.facts["councils_2024-25"] == rep.facts["councils_2023-24"] == 4


# --------------------------------------------------------------------------------------------
# Fixtures: what stops the build, and where
# --------------------------------------------------------------------------------------------


def _error(tmp_path, rows=None, name=ODS, sheets=None) -> EtlInputError:
    with pytest.raises(EtlInputError) as exc:
        load(tmp_path, {name: sheets or {SHEET: rows}})
    return exc.value


def test_missing_code_row(tmp_path):
    err = _error(tmp_path, sheet_rows(code_row=False))
    assert err.file.endswith(ODS) and "missing code row" in str(err) and "RS-totsx-net-exp" in str(err)


def test_missing_code_column(tmp_path):
    codes = [c if c != "RS-parishaggprecept-net-exp" else "RS-levyita-net-exp" for c in CODES]
    err = _error(tmp_path, sheet_rows(codes))
    assert (err.sheet, err.row) == (SHEET, 7) and "missing code column" in str(err)
    assert "RS-parishaggprecept-net-exp" in str(err)


def test_code_twice(tmp_path):
    err = _error(tmp_path, sheet_rows([c if c != "RS-hous-net-exp" else "RS-cen-net-exp" for c in CODES]))
    assert (err.row, err.column) == (7, "G") and "RS-cen-net-exp appears twice" in str(err)


def test_unknown_council_code(tmp_path):
    councils = COUNCILS + [["E9999", "E07000999", "Nowhere", "", "SD", 1.0, 1.0, 2.0, 0.0, 0.0]]
    err = _error(tmp_path, sheet_rows(councils=councils))
    assert (err.sheet, err.row) == (SHEET, 18) and "unknown council code" in str(err) and "E07000999" in str(err)


def test_council_ons_code_not_gss(tmp_path):
    councils = [COUNCILS[0][:1] + ["E0700022"] + COUNCILS[0][2:]] + COUNCILS[1:]
    err = _error(tmp_path, sheet_rows(councils=councils))
    assert (err.row, err.column) == (14, "B (ONS Code)") and "'E0700022'" in str(err)


def test_text_in_a_value_cell(tmp_path):
    councils = [COUNCILS[0][:7] + ["eleven"] + COUNCILS[0][8:]] + COUNCILS[1:]
    err = _error(tmp_path, sheet_rows(councils=councils))
    assert (err.row, err.column) == (
        14,
        "H (RS-totsx-net-exp: TOTAL SERVICE EXPENDITURE (total of lines 190 to 698))",
    ) and "'eleven'" in str(err)


def test_council_row_cut_off_from_the_block(tmp_path):
    rows = sheet_rows()
    at = rows.index(COUNCILS[2])
    rows.insert(at, ["Eng", "E92000001", "ENGLAND"])
    err = _error(tmp_path, rows)
    assert err.row == at + 2 and "after the end of the council block" in str(err)


def test_year_in_title_must_agree_with_file_name(tmp_path):
    err = _error(tmp_path, sheet_rows(), name="RS_2024-25_data_by_LA.ods")
    assert "2023-24" in str(err) and "2024-25" in str(err) and err.sheet == SHEET


def test_malformed_ods(tmp_path):
    raw = tmp_path / "raw" / "funding"
    raw.mkdir(parents=True)
    good = write_ods(tmp_path / "good.ods", {SHEET: sheet_rows()}).read_bytes()
    (raw / ODS).write_bytes(good[: len(good) // 2])
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute(SCHEMA.read_text())
    with pytest.raises(EtlInputError) as exc:
        RevenueOutturn().load(BuildContext(con, tmp_path / "raw", "test"))
    assert exc.value.file.endswith(ODS) and "cannot open" in str(exc.value)
    assert con.execute("SELECT count(*) FROM finance").fetchone()[0] == 0


def test_bad_workbook_publishes_nothing(tmp_path):
    """A full build meeting a bad RS workbook fails and the previous database keeps serving."""
    raw = tmp_path / "raw"
    (raw / "funding").mkdir(parents=True)
    write_ods(raw / "funding" / ODS, {SHEET: sheet_rows(code_row=False)})
    live = tmp_path / "pb.duckdb"
    live.write_bytes(b"previous build")
    with pytest.raises(EtlInputError):
        build(raw, live, tmp_path / "static", sources=[RevenueOutturn()], derive=False, log=lambda *_: None)
    assert live.read_bytes() == b"previous build"


# --------------------------------------------------------------------------------------------
# The real 2023-24 ODS
# --------------------------------------------------------------------------------------------

needs_raw = pytest.mark.skipif(not (RAW / "funding" / ODS).is_file(), reason=f"{ODS} not found under {RAW}")


def real_cell(ons: str, code: str):
    """(value, Excel row, column index) found by ONS code and data code, with calamine directly."""
    rows = (
        CalamineWorkbook.from_path(str(RAW / "funding" / ODS)).get_sheet_by_name(SHEET).to_python(skip_empty_area=False)
    )
    crow = next(r for r in rows if code in r)
    i = next(i for i, r in enumerate(rows) if r[1] == ons)
    return rows[i][crow.index(code)], i + 1, crow.index(code)


@pytest.mark.realdata
@needs_raw
@pytest.mark.parametrize(
    "ons, line, code, pounds",
    [
        ("E07000223", "total_service", "RS-totsx-net-exp", 11_894_000),  # Adur
        ("E07000223", "parish_precepts", "RS-parishaggprecept-net-exp", 440_000),
        ("E07000032", "total_service", "RS-totsx-net-exp", 17_552_000),  # Amber Valley
        ("E07000032", "parish_precepts", "RS-parishaggprecept-net-exp", 2_851_000),
        ("E10000032", "total_service", "RS-totsx-net-exp", 1_486_213_000),  # West Sussex
    ],
)
def test_real_2023_24_facts(finance_built, ons, line, code, pounds):
    con, _ = finance_built
    published, row, col = real_cell(ons, code)
    got = value(con, ons, "2023-24", line)
    assert got[0] == pounds == published * 1000
    assert got[1:4] == (f"funding/{ODS}", SHEET, row)


@pytest.mark.realdata
@needs_raw
def test_real_2023_24_every_council_loaded_and_x_missing(finance_built):
    con, rep = finance_built
    assert rep.facts["councils_2023-24"] == 317
    n = con.execute("SELECT count(DISTINCT council_code) FROM finance WHERE period = '2023-24'").fetchone()[0]
    assert n == 317  # every current district and county, on 2023 codes
    unpublished = {
        r[0]
        for r in con.execute(
            "SELECT council_code FROM finance WHERE period = '2023-24' AND line = 'total_service' AND value_gbp IS NULL"
        ).fetchall()
    }
    assert "E08000025" in unpublished and len(unpublished) == 13  # Birmingham and 12 other councils
    assert rep.count("unmatched") == 0
