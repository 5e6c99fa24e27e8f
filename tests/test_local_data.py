"""Local data (issue 6): templates round-trip, files load, every validation rule has a bad-file test."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from python_calamine import CalamineWorkbook

from etl.build import build
from etl.core import EtlInputError
from etl.sources import get
from etl.sources.local_data import COLUMNS, TEMPLATES, table_schema, write_templates

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "local"
COMMITTED = ROOT / "templates" / "local"


def xlsx_cells(path: Path) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_path(str(path))
    return {s: wb.get_sheet_by_name(s).to_python() for s in wb.sheet_names}


def test_committed_templates_match_the_definitions(tmp_path):
    write_templates(tmp_path)
    for tpl in TEMPLATES:
        assert (COMMITTED / f"{tpl}.csv").read_text() == (tmp_path / f"{tpl}.csv").read_text()
        assert json.loads((COMMITTED / f"{tpl}.schema.json").read_text()) == table_schema(tpl)
        assert xlsx_cells(COMMITTED / f"{tpl}.xlsx") == xlsx_cells(tmp_path / f"{tpl}.xlsx")


def test_schema_describes_template_columns_and_measures():
    for tpl, measures in TEMPLATES.items():
        schema = table_schema(tpl)
        assert [f["name"] for f in schema["fields"]] == COLUMNS
        measure_field = next(f for f in schema["fields"] if f["name"] == "measure")
        assert measure_field["constraints"]["enum"] == [m.id for m in measures]
        with open(COMMITTED / f"{tpl}.csv") as fh:
            assert next(csv.reader(fh)) == COLUMNS
        assert xlsx_cells(COMMITTED / f"{tpl}.xlsx")["data"] == [COLUMNS]


def make_raw(raw_dir: Path, tmp_path: Path, files: dict[str, Path]) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "geography").symlink_to(raw_dir / "geography")
    (raw / "local").mkdir()
    for name, src in files.items():
        shutil.copy(src, raw / "local" / name)
    return raw


def load(raw: Path, tmp_path: Path):
    db = tmp_path / "pb.duckdb"
    res = build(
        raw,
        db,
        static_dir=tmp_path / "static",
        sources=[get("geography"), get("local_data")],
        derive=False,
        log=lambda *a: None,
    )
    return duckdb.connect(str(db), read_only=True), res.reports["local_data"]


def filled_xlsx(tmp_path: Path) -> Path:
    """The committed XLSX template, filled in the way a council officer would."""
    from openpyxl import load_workbook

    wb = load_workbook(COMMITTED / "council_grants.xlsx")
    ws = wb["data"]
    ws.append(["E07000223", "2022-23", "council_vcs_grants_gbp", 125000, "Adur grants register (fixture)"])
    ws.append(["E07000223", 2023, "council_vcs_grants_gbp", 98000.5, None])
    out = tmp_path / "council_grants_adur.xlsx"
    wb.save(out)
    return out


def test_filled_templates_load_exactly(raw_dir, tmp_path):
    raw = make_raw(
        raw_dir,
        tmp_path,
        {"volunteering_good.csv": FIX / "volunteering_good.csv", "council_grants_adur.xlsx": filled_xlsx(tmp_path)},
    )
    con, rep = load(raw, tmp_path)
    rows = con.execute(
        "select file, sheet, row, template, area_code, area_level, period, measure, value, source_note "
        "from local_values order by file, row"
    ).fetchall()
    assert rows == [
        (
            "council_grants_adur.xlsx",
            "data",
            2,
            "council_grants",
            "E07000223",
            "district",
            "2022-23",
            "council_vcs_grants_gbp",
            125000.0,
            "Adur grants register (fixture)",
        ),
        (
            "council_grants_adur.xlsx",
            "data",
            3,
            "council_grants",
            "E07000223",
            "district",
            "2023",
            "council_vcs_grants_gbp",
            98000.5,
            None,
        ),
        (
            "volunteering_good.csv",
            None,
            2,
            "volunteering",
            "E07000223",
            "district",
            "2023-24",
            "formal_volunteering_rate",
            27.5,
            "Community Life Survey 2023/24 local estimate (fixture)",
        ),
        (
            "volunteering_good.csv",
            None,
            3,
            "volunteering",
            "E07000223",
            "district",
            "2023-24",
            "volunteers",
            1204.0,
            "Adur volunteer centre register (fixture)",
        ),
        (
            "volunteering_good.csv",
            None,
            4,
            "volunteering",
            "E05007562",
            "ward",
            "2023",
            "volunteer_hours",
            5400.0,
            None,
        ),
        (
            "volunteering_good.csv",
            None,
            5,
            "volunteering",
            "E10000032",
            "county",
            "2023-24",
            "civic_participation_rate",
            31.0,
            "fixture",
        ),
    ]
    assert rep.rows_read == 6 and rep.rows_loaded == 6 and rep.count("warning") == 0
    files = {r[0] for r in con.execute("select file from sources where source_id='local_data'").fetchall()}
    assert files == {"local/volunteering_good.csv", "local/council_grants_adur.xlsx"}


def test_every_rule_reports_file_row_and_column_and_good_rows_still_load(raw_dir, tmp_path):
    raw = make_raw(raw_dir, tmp_path, {"projects_bad.csv": FIX / "projects_bad.csv"})
    con, rep = load(raw, tmp_path)
    assert con.execute("select area_code, period, measure, value from local_values").fetchall() == [
        ("E07000223", "2020-21", "participatory_budgeting_rounds", 4.0)
    ]
    by_row = {}
    for i in rep.issues:
        if i.kind in ("warning", "unmatched"):
            assert i.file == "projects_bad.csv"
            by_row[i.row] = (i.column, i.message, i.code)
    assert by_row[2][0] == "area_code" and "retired" in by_row[2][1] and "E06000060" in by_row[2][1]
    assert by_row[3][0] == "area_code" and by_row[3][2] == "E99999999" and "unknown" in by_row[3][1]
    assert by_row[4][0] == "period" and by_row[5][0] == "period"
    assert by_row[6][0] == "measure" and "volunteers" in by_row[6][1]
    assert by_row[7][0] == "value" and "negative" in by_row[7][1]
    assert by_row[8][0] == "value" and "whole number" in by_row[8][1]
    assert by_row[9][0] == "value" and "blank or suppressed" in by_row[9][1]
    assert by_row[10][0] == "value" and "'two'" in by_row[10][1]
    assert by_row[12][0] == "area_code" and "duplicate of row 11" in by_row[12][1]
    assert by_row[13][0] == "area_code" and "blank" in by_row[13][1]
    assert 11 not in by_row
    assert rep.rows_read == 12 and rep.rows_loaded == 1


def test_rate_above_100_is_rejected(raw_dir, tmp_path):
    bad = tmp_path / "volunteering_x.csv"
    bad.write_text("area_code,period,measure,value\nE07000223,2023-24,formal_volunteering_rate,127\n")
    con, rep = load(make_raw(raw_dir, tmp_path, {bad.name: bad}), tmp_path)
    assert con.execute("select count(*) from local_values").fetchone()[0] == 0
    (w,) = [i for i in rep.issues if i.kind == "warning"]
    assert (w.row, w.column) == (2, "value") and "maximum 100" in w.message


def test_missing_column_stops_the_build_naming_file_and_column(raw_dir, tmp_path):
    bad = tmp_path / "projects_nomeasure.csv"
    bad.write_text("area_code,period,value\nE07000223,2023-24,3\n")
    with pytest.raises(EtlInputError) as e:
        load(make_raw(raw_dir, tmp_path, {bad.name: bad}), tmp_path)
    assert "projects_nomeasure.csv" in str(e.value) and "column 'measure'" in str(e.value)


def test_unknown_file_name_stops_the_build(raw_dir, tmp_path):
    bad = tmp_path / "stuff.csv"
    bad.write_text("area_code,period,measure,value\n")
    with pytest.raises(EtlInputError, match="must start with one of"):
        load(make_raw(raw_dir, tmp_path, {bad.name: bad}), tmp_path)


def test_cp1252_local_file_loads_with_warning(raw_dir, tmp_path):
    bad = tmp_path / "volunteering_cp.csv"
    bad.write_bytes(
        "area_code,period,measure,value,source_note\nE07000223,2023,volunteers,12,Caf\u00e9 £\n".encode("cp1252")
    )
    con, rep = load(make_raw(raw_dir, tmp_path, {bad.name: bad}), tmp_path)
    assert con.execute("select source_note from local_values").fetchone()[0] == "Caf\u00e9 £"
    assert any("Windows-1252" in i.message for i in rep.issues)


def test_no_local_folder_is_fine(raw_dir, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "geography").symlink_to(raw_dir / "geography")
    con, rep = load(raw, tmp_path)
    assert con.execute("select count(*) from local_values").fetchone()[0] == 0
    assert rep.rows_loaded == 0


@pytest.mark.slow
def test_local_file_changes_the_affected_areas_index_and_nothing_else(raw_dir, built, tmp_path):
    """Issue 6: a council's own figures join the right domain and move only the index of areas that
    have them. Issue 17: a local indicator is scored only where enough of the comparison group has it
    (resident-led projects: 12 shire districts; asset transfers: Worthing alone, shown unscored), and
    figures for a year the index does not cover are shown only, and said so."""
    from powerbalance import index as ix

    base_db, _, _ = built
    raw = tmp_path / "raw"
    raw.mkdir()
    for sub in raw_dir.iterdir():
        if sub.is_dir():
            (raw / sub.name).symlink_to(sub)
    (raw / "local").mkdir()
    shutil.copy(FIX / "projects_adur_worthing.csv", raw / "local" / "projects_adur_worthing.csv")
    before = ix.compute_index("district", "2017-18", db=base_db).set_index("area_code")
    more = [
        c
        for c in before.index[(before["group"] == "shire_district") & before["index"].notna()]
        if c not in ("E07000223", "E07000229")
    ][:10]
    _csv(
        raw / "local",
        "projects_ten_more.csv",
        *[f"{c},2017-18,resident_led_projects,{i + 1}" for i, c in enumerate(more)],
    )
    _csv(raw / "local", "volunteering_adur.csv", "E07000223,2023-24,civic_participation_rate,38.5")
    db = tmp_path / "local.duckdb"
    lines: list[str] = []
    build(raw, db, static_dir=tmp_path / "static", log=lambda *a: lines.append(" ".join(map(str, a))))

    after = ix.compute_index("district", "2017-18", db=db).set_index("area_code")
    affected = {"E07000223", "E07000229", *more}  # Adur, Worthing and ten more shire districts
    for code in affected:
        assert after.loc[code, "score_projects"] != pytest.approx(before.loc[code, "score_projects"])
    others = before.index.difference(sorted(affected))
    diff = (after.loc[others, "index"] - before.loc[others, "index"]).abs()
    assert after.loc[others, "index"].isna().equals(before.loc[others, "index"].isna())
    assert diff.max() < 1e-9, diff.sort_values().tail()
    assert (after.loc[others, "reason"] == before.loc[others, "reason"]).all()
    scoring = ix.local_figures_scored("E07000229", "district", "2017-18", db=db).set_index("indicator_id")
    assert scoring.loc["local_resident_led_projects_per_10k", ["n_with_value", "scored"]].tolist() == [12, True]
    assert scoring.loc["local_community_asset_transfers_per_10k", ["n_with_value", "scored"]].tolist() == [1, False]
    from powerbalance import queries

    note = queries.local_unscored_note("E07000229", "district", "2017-18", db=db)
    assert note.startswith(
        "Shown beside the index, not scored in 2017-18: Community asset transfers per 10,000 "
        "residents (local) (1 of 164 areas of its group have it; 10 needed)"
    )
    assert "Resident-led" not in note

    con = duckdb.connect(str(db), read_only=True)
    rate = con.execute("""select value, numerator, denominator, is_local from indicator_values
                          where area_code = 'E07000229' and period = '2017-18'
                          and indicator_id = 'local_resident_led_projects_per_10k'""").fetchone()
    pop = con.execute(
        "select value from indicator_values where area_code = 'E07000229' and indicator_id = 'population'"
    ).fetchone()[0]
    assert rate[1:] == (30.0, pop, True) and rate[0] == pytest.approx(30 / pop * 10_000)
    meta = con.execute(
        "select domain, is_local from indicators where indicator_id = 'local_resident_led_projects_per_10k'"
    ).fetchone()
    assert meta == ("projects", True)

    from powerbalance import queries  # the Data page's listing of local figures

    listed = queries.local_data(db=db).set_index(["file", "measure"])
    adur_ww = listed.loc["projects_adur_worthing.csv"]
    assert adur_ww.loc[
        "resident_led_projects", ["values", "areas", "periods", "joins_indicator", "domain"]
    ].tolist() == [2, 2, "2017-18", "local_resident_led_projects_per_10k", "projects"]
    assert "can feed the index" in adur_ww.loc["community_asset_transfers", "use"]
    civic = listed.loc[("volunteering_adur.csv", "civic_participation_rate")]
    assert (civic["can_feed_index"], civic["shown_only"]) == (0, 1) and "2023-24: shown only" in civic["use"]
    assert any("volunteering_adur.csv civic_participation_rate: 2023-24: shown only" in line for line in lines)
    # My area lists the council's own 2023-24 figure beside the 2017-18 values, for its own year
    mine = queries.latest_indicators("E07000223", "2017-18", db=db)
    own = mine[(mine["indicator_id"] == "civic_participation") & (mine["period"] == "2023-24")]
    assert len(own) == 1 and own.iloc[0]["value_text"] == "38.5 % of adults (local data)"
    assert "not in the 2017-18 index" in own.iloc[0]["note"]
    rows = mine.index[mine["indicator_id"] == "civic_participation"].tolist()
    assert rows == list(range(rows[0], rows[0] + len(rows))) and rows[-1] == own.index[0]  # after its indicator's row


# ---- issue 17 item 7: loading mistakes -----------------------------------------------------------------


def _csv(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("area_code,period,measure,value\n" + "".join(r + "\n" for r in rows))
    return path


def _ods(path: Path, rows: list[list]) -> Path:
    """A minimal OpenDocument spreadsheet (what LibreOffice saves), written by hand: no odfpy needed."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(v):
        if isinstance(v, (int, float)):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
        f'<office:spreadsheet><table:table table:name="data">{body}</table:table></office:spreadsheet>'
        '</office:body></office:document-content>'
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '</manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content)
    return path


def test_revised_file_beside_the_old_one_stops_the_build_naming_both_files_and_rows(raw_dir, tmp_path):
    old = _csv(tmp_path, "projects_adur.csv", "E07000223,2022-23,neighbourhood_plans,1")
    new = _csv(
        tmp_path,
        "projects_adur_revised.csv",
        "E07000229,2022-23,neighbourhood_plans,2",
        "E07000223,2022-23,neighbourhood_plans,2",
    )
    with pytest.raises(EtlInputError) as e:
        load(make_raw(raw_dir, tmp_path, {old.name: old, new.name: new}), tmp_path)
    err = e.value
    assert (err.file, err.row, err.column) == ("projects_adur_revised.csv", 3, "area_code")
    assert "projects_adur.csv row 2" in str(err) and "given twice" in str(err)


def test_calendar_year_beside_its_financial_year_is_a_duplicate(raw_dir, tmp_path):
    a = _csv(tmp_path, "volunteering_a.csv", "E07000223,2023,volunteers,10")
    b = _csv(tmp_path, "volunteering_b.csv", "E07000223,2023-24,volunteers,12")
    with pytest.raises(EtlInputError, match=r"volunteering_a.csv row 2 \(period '2023'\)"):
        load(make_raw(raw_dir, tmp_path, {a.name: a, b.name: b}), tmp_path)
    both = _csv(tmp_path, "volunteering_both.csv", "E07000223,2023,volunteers,10", "E07000223,2023-24,volunteers,12")
    one_file = tmp_path / "one_file"
    one_file.mkdir()
    con, rep = load(make_raw(raw_dir, one_file, {both.name: both}), one_file)
    assert con.execute("select period, value from local_values").fetchall() == [("2023", 10.0)]
    (w,) = [i for i in rep.issues if i.kind == "warning"]
    assert w.row == 3 and "duplicate of row 2" in w.message and "calendar" not in w.message


def test_ods_and_upper_case_csv_are_read_and_other_files_are_named_as_ignored(raw_dir, tmp_path):
    upper = _csv(tmp_path, "PROJECTS_ADUR.CSV", "E07000223,2022-23,neighbourhood_plans,1")
    ods = _ods(
        tmp_path / "volunteering_adur.ods",
        [["area_code", "period", "measure", "value"], ["E07000223", "2023-24", "volunteers", 2010]],
    )
    note = tmp_path / "volunteering_readme.txt"
    note.write_text("how we counted")
    con, rep = load(make_raw(raw_dir, tmp_path, {upper.name: upper, ods.name: ods, note.name: note}), tmp_path)
    assert con.execute("select file, measure, value from local_values order by file").fetchall() == [
        ("PROJECTS_ADUR.CSV", "neighbourhood_plans", 1.0),
        ("volunteering_adur.ods", "volunteers", 2010.0),
    ]
    (w,) = [i for i in rep.issues if i.kind == "warning"]
    assert w.file == "volunteering_readme.txt" and "ignored" in w.message


def test_future_period_fraction_rate_and_ward_of_another_district_load_with_warnings(raw_dir, tmp_path):
    import datetime as dt

    future = dt.date.today().year + 2
    bad = _csv(
        tmp_path,
        "volunteering_adur.csv",
        "E07000223,2022-23,volunteers,10",  # Adur: the file's council
        f"E07000223,{future}-{(future + 1) % 100:02d},volunteers,11",  # not started yet
        "E07000223,2022-23,formal_volunteering_rate,0.235",  # a fraction, not 23.5%
        "E05007694,2022-23,volunteer_hours,300",  # Broadwater: a Worthing ward
        "E05007562,2022-23,volunteer_hours,200",
    )  # Buckingham: an Adur ward (fine)
    con, rep = load(make_raw(raw_dir, tmp_path, {bad.name: bad}), tmp_path)
    assert con.execute("select count(*) from local_values").fetchone()[0] == 5  # warned, still loaded
    warned = {i.row: (i.column, i.message) for i in rep.issues if i.kind == "warning"}
    assert sorted(warned) == [3, 4, 5]
    assert warned[3][0] == "period" and "not started" in warned[3][1]
    assert warned[4][0] == "value" and "fraction" in warned[4][1] and "23.5" in warned[4][1]
    assert warned[5][0] == "area_code" and "E07000229" in warned[5][1]
