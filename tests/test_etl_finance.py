"""Revenue Outturn (council finance) loader: fixtures for every kind of bad input, then the real
MHCLG workbooks spot-checked cell by cell (cells located here independently with python_calamine,
openpyxl and the csv module, not with the loader's own code)."""

from __future__ import annotations

import csv
import functools
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from etl.build import SCHEMA
from etl.core import BuildContext, EtlInputError, insert_rows
from etl.sources.revenue_outturn import RevenueOutturn

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "finance"
RAW = Path(os.environ.get("POWERBALANCE_RAW_DIR", ROOT.parent / "shared" / "data"))

# Real Census 2021 populations of Cumbria's six former districts (context/age_gender21_ltla21_ew.csv).
CUMBRIA_DISTRICTS = {
    "E07000026": ("Allerdale", 96145, "E06000063"),
    "E07000027": ("Barrow-in-Furness", 67402, "E06000064"),
    "E07000028": ("Carlisle", 110017, "E06000063"),
    "E07000029": ("Copeland", 67078, "E06000063"),
    "E07000030": ("Eden", 54738, "E06000064"),
    "E07000031": ("South Lakeland", 104448, "E06000064"),
}


# --------------------------------------------------------------------------------------------
# Fixture harness: a tiny geography and a raw directory holding one workbook
# --------------------------------------------------------------------------------------------


def _geography(con) -> None:
    def area(code, name):
        return (code, name, "district", "unitary", "single", None, code, None, None, None, None, None, None, "LAD 2024")

    insert_rows(
        con,
        "areas",
        [
            area("E06000023", "City of Bristol"),
            area("E06000060", "Buckinghamshire"),
            area("E06000063", "Cumberland"),
            area("E06000064", "Westmorland and Furness"),
        ],
    )
    amap = [
        ("E0102", "E06000023", "City of Bristol", "council_ecode", "same"),
        ("E0431", "E06000060", "Aylesbury Vale", "council_ecode", "merged_into"),
        ("E0920", "E06000063", "Cumbria", "council_ecode", "split"),
        ("E0920", "E06000064", "Cumbria", "council_ecode", "split"),
        ("E06000023", "E06000023", None, "district", "same"),
    ]
    amap += [(code, new, name, "district", "merged_into") for code, (name, _, new) in CUMBRIA_DISTRICTS.items()]
    insert_rows(con, "area_code_map", [r + ("geography",) for r in amap])


def _raw_dir(tmp_path: Path, workbooks: dict[str, str], extract: str | None = None) -> Path:
    raw = tmp_path / "raw"
    (raw / "funding").mkdir(parents=True)
    (raw / "context").mkdir()
    for target, fixture in workbooks.items():
        shutil.copy(FIXTURES / fixture, raw / "funding" / target)
    if extract:
        (raw / "funding" / "mhclg_RS_revenue_outturn_2016_2017_uppertier.csv").write_text(extract)
    with open(raw / "context" / "age_gender21_ltla21_ew.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ltla21_code", "total_population"])
        for code, (_, pop, _) in CUMBRIA_DISTRICTS.items():
            w.writerow([code, f"{pop}.0"])
    return raw


def load_fixture(tmp_path, workbooks: dict[str, str], extract: str | None = None):
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute(SCHEMA.read_text())
    _geography(con)
    ctx = BuildContext(con, _raw_dir(tmp_path, workbooks, extract), "test")
    RevenueOutturn().load(ctx)
    return con, ctx.report("revenue_outturn")


def finance(con, where: str = "TRUE", params=()) -> list[dict]:
    cur = con.execute(f"SELECT * FROM finance WHERE {where} ORDER BY ecode, period, line, council_code", params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


@functools.cache
def _openpyxl_book(name: str):
    return load_workbook(FIXTURES / name, data_only=True)


def fixture_cell(name: str, sheet: str, ref: str):
    """A fixture cell read with openpyxl (a reader independent of the loader's calamine)."""
    return _openpyxl_book(name)[sheet][ref].value


# --------------------------------------------------------------------------------------------
# Fixtures: what loads, and where
# --------------------------------------------------------------------------------------------


def test_good_workbook_loads_in_pounds_with_cell_provenance(tmp_path):
    con, rep = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"})
    rows = finance(con, "ecode = 'E0102'")
    assert {r["period"] for r in rows} == {"2017-18"}
    assert {r["line"] for r in rows} == {
        "education",
        "highways_transport",
        "childrens_social_care",
        "adult_social_care",
        "public_health",
        "housing_gf",
        "cultural",
        "environmental",
        "planning",
        "police",
        "fire",
        "central",
        "other",
        "total_service",
        "parish_precepts",
        "net_current_expenditure",
    }
    for r in rows:
        assert r["council_code"] == "E06000023" and r["mapping"] == "same"
        assert r["sheet"] == "RS LA Data 2017-18"  # not the '(2)' capital sheet, not 'PHE Check'
        published = fixture_cell("good.xlsx", r["sheet"], f"{r['column_name']}{r['row']}")
        assert r["value_gbp"] == pytest.approx(published * 1000)
    edu = next(r for r in rows if r["line"] == "education")
    assert (edu["row"], edu["column_name"], edu["line_label"]) == (8, "F", "Education services")
    assert edu["file"] == "funding/RS_2017-18_data_by_LA.xlsx"


def test_parish_precepts_is_the_precept_column_not_the_lcts_payment(tmp_path):
    con, _ = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"})
    [row] = finance(con, "ecode = 'E0431' AND line = 'parish_precepts'")
    assert row["line_label"] == "Parish Precepts" and row["column_name"] == "T"
    assert row["value_gbp"] == 5321 * 1000  # the LCTS column beside it holds 210


def test_predecessor_and_split_mapping(tmp_path):
    con, rep = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"})
    av = finance(con, "ecode = 'E0431'")
    assert {(r["council_code"], r["mapping"]) for r in av} == {("E06000060", "predecessor")}
    cumbria = finance(con, "ecode = 'E0920' AND line = 'total_service'")
    assert {(r["council_code"], r["mapping"]) for r in cumbria} == {
        ("E06000063", "predecessor_share"),
        ("E06000064", "predecessor_share"),
    }
    published = fixture_cell("good.xlsx", "RS LA Data 2017-18", f"{cumbria[0]['column_name']}{cumbria[0]['row']}")
    assert sum(r["value_gbp"] for r in cumbria) == pytest.approx(published * 1000)  # additive
    cumberland = sum(p for _, p, s in CUMBRIA_DISTRICTS.values() if s == "E06000063")
    share = cumberland / sum(p for _, p, _ in CUMBRIA_DISTRICTS.values())
    assert cumbria[0]["value_gbp"] == pytest.approx(published * 1000 * share)
    assert rep.facts["split_share_E0920_E06000063"] == pytest.approx(share, abs=1e-6)


def test_police_body_skipped_and_unknown_council_reported(tmp_path):
    con, rep = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"})
    assert finance(con, "ecode IN ('E7052', 'E9999')") == []
    assert rep.facts["skipped_class_O"] == 1
    [unmatched] = [i for i in rep.issues if i.kind == "unmatched"]
    assert (unmatched.code, unmatched.file, unmatched.sheet, unmatched.row) == (
        "E9999",
        "RS_2017-18_data_by_LA.xlsx",
        "RS LA Data 2017-18",
        12,
    )
    assert rep.facts["councils_2017-18"] == 3
    assert rep.facts["aggregate_rows_skipped_2017-18"] == 4  # ENGLAND, class rows, source note


def test_markers_blank_pound_strings_and_negatives(tmp_path):
    con, rep = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"})
    av = {r["line"]: r for r in finance(con, "ecode = 'E0431'")}
    assert av["education"]["value_gbp"] == 1234 * 1000  # '£1,234' as text
    for line in ("police", "fire", "central", "other"):  # '..', '[c]', blank, 'x'
        assert av[line]["value_gbp"] is None
    assert av["housing_gf"]["value_gbp"] == -120 * 1000  # negative kept
    suppressed = {(i.row, i.column.split(" ")[0]) for i in rep.issues if i.kind == "suppressed"}
    assert suppressed == {(9, "O"), (9, "P"), (9, "Q"), (9, "R")}
    assert [i.message for i in rep.issues if i.kind == "warning"] == ["1 number(s) stored as text parsed (rows 9)"]
    negatives = [i for i in rep.issues if i.kind == "negative"]
    assert rep.facts["negative_values"] == 2 and len(negatives) == 2  # one per column, not per cell


def test_moved_table_keeps_true_excel_positions(tmp_path):
    con, _ = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "moved_title.xlsx"})
    rows = finance(con, "ecode = 'E0102'")
    assert rows and all(r["sheet"] == "Data" and r["period"] == "2017-18" for r in rows)
    edu = next(r for r in rows if r["line"] == "education")
    assert (edu["row"], edu["column_name"]) == (12, "H")
    for r in rows:
        assert r["value_gbp"] == pytest.approx(
            fixture_cell("moved_title.xlsx", "Data", f"{r['column_name']}{r['row']}") * 1000
        )


def test_next_year_file_loads_without_code_changes(tmp_path):
    con, rep = load_fixture(
        tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx", "RS_2018-19_data_by_LA.xlsx": "next_year.xlsx"}
    )
    periods = [r[0] for r in con.execute("SELECT DISTINCT period FROM finance ORDER BY 1").fetchall()]
    assert periods == ["2017-18", "2018-19"]
    assert rep.facts["councils_2018-19"] == 3


def test_unknown_service_heading_is_warned_and_total_checked(tmp_path):
    con, rep = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "new_heading.xlsx"})
    warnings = [i for i in rep.issues if i.kind == "warning"]
    assert any("Brexit preparation services" in w.message and w.column == "K" and w.row == 7 for w in warnings)
    assert any("service lines sum to" in w.message and w.code == "E0102" for w in warnings)
    assert finance(con, "line = 'housing_gf'") == []


# --------------------------------------------------------------------------------------------
# Fixtures: what stops the build, and that the error says where
# --------------------------------------------------------------------------------------------


def _error(tmp_path, fixture: str, target: str = "RS_2017-18_data_by_LA.xlsx") -> EtlInputError:
    with pytest.raises(EtlInputError) as exc:
        load_fixture(tmp_path, {target: fixture})
    return exc.value


def test_text_in_a_number_column_names_cell(tmp_path):
    err = _error(tmp_path, "text_in_number.xlsx")
    assert (err.file is not None and err.file.endswith("RS_2017-18_data_by_LA.xlsx"), err.sheet, err.row) == (
        True,
        "RS LA Data 2017-18",
        8,
    )
    assert err.column == "F (Education services)" and "'n/k'" in str(err)


def test_text_in_a_row_that_is_not_loaded_still_stops(tmp_path):
    err = _error(tmp_path, "text_in_skipped_row.xlsx")
    assert (err.row, err.column) == (11, "O (Police services)") and "'see note'" in str(err)


def test_duplicate_ecode(tmp_path):
    err = _error(tmp_path, "duplicate_ecode.xlsx")
    assert (err.sheet, err.row, err.column) == ("RS LA Data 2017-18", 13, "A (E-code)")
    assert "E0102 appears twice (rows 8 and 13)" in str(err)


def test_missing_title_is_unrecognised_layout(tmp_path):
    err = _error(tmp_path, "no_title.xlsx")
    assert err.file.endswith("RS_2017-18_data_by_LA.xlsx") and err.sheet == "RS LA Data 2017-18"
    assert "no 'Net current expenditure (£ thousand)' title" in str(err)


def test_title_without_year(tmp_path):
    err = _error(tmp_path, "no_period.xlsx")
    assert (err.sheet, err.row) == ("RS LA Data 2017-18", 2) and "financial year" in str(err)


def test_year_in_title_must_agree_with_file_name(tmp_path):
    err = _error(tmp_path, "next_year.xlsx", target="RS_2017-18_data_by_LA.xlsx")
    assert "2018-19" in str(err) and "2017-18" in str(err) and err.sheet == "RS LA Data 2018-19"


def test_empty_sheet(tmp_path):
    err = _error(tmp_path, "empty_sheet.xlsx")
    assert err.file.endswith("RS_2017-18_data_by_LA.xlsx") and err.sheet == "RS LA Data 2017-18"


def test_two_files_for_one_year(tmp_path):
    with pytest.raises(EtlInputError, match="2017-18 is also published by"):
        load_fixture(
            tmp_path,
            {
                "RS_2017-18_data_by_LA.xlsx": "good.xlsx",
                "Revenue_Outturn_Summary__RS__data_2017-18_by_LA.xlsx": "good.xlsx",
            },
        )


def test_extract_not_in_thousands_is_refused(tmp_path):
    extract = (
        '"","E-code","ONS Code","Local authority","Class","190: Education services","year"\n'
        '"1","E0102","E06000023","Bristol UA","UA","230269000",2017\n'
    )
    with pytest.raises(EtlInputError, match="not in £ thousand") as exc:
        load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"}, extract)
    assert exc.value.file.endswith("mhclg_RS_revenue_outturn_2016_2017_uppertier.csv")


def test_extract_year_is_the_year_the_financial_year_ends(tmp_path):
    extract = (
        '"","E-code","ONS Code","Local authority","Class","190: Education services","year"\n'
        '"1","E0102","E06000023","Bristol UA","UA","230269",2017\n'
        '"2","E0102","E06000023","Bristol UA","UA","225000",2018\n'
    )
    con, rep = load_fixture(tmp_path, {"RS_2017-18_data_by_LA.xlsx": "good.xlsx"}, extract)
    rows = finance(con, "ecode = 'E0102' AND line = 'education'")
    assert [(r["period"], r["value_gbp"], r["row"]) for r in rows] == [
        ("2016-17", 230269000, 2),
        ("2017-18", 223517000, 8),
    ]
    assert any("2017-18 rows of the extract skipped" in i.message for i in rep.issues)


# --------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------

needs_raw = pytest.mark.skipif(not (RAW / "funding").is_dir(), reason=f"raw data not found at {RAW}")
WB = {
    "2010-11": ("Revenue_Outturn_Summary__RS__data_2010-11_by_LA_-_27-Nov-2012-v2.xls", "RS LA Data 2010-11 (1)"),
    "2011-12": ("Revenue_Outturn_Summary__RS__data_2011-12_by_LA_-_Revised_28-Nov-2013.xls", "RS LA Data 2011-12 (1)"),
    "2012-13": (
        "Revenue_Outturn_Summary__RS__data_2012-13_by_LA__Revised__-_18-Feb-2014.xls",
        "RS LA Data 2012-13 (1)",
    ),
    "2013-14": ("Revenue_Outturn_Summary__RS__data_2013-14_by_LA_-_Revised_28-Jan-2015.xls", "RS LA Data 2013-14 (1)"),
    "2014-15": ("Revenue_Outturn_Summary__RS__data_2014-15_by_LA_-_02-Feb-2016.xls", "RS LA Data 2014-15 (1)"),
    "2017-18": ("RS_2017-18_data_by_LA.xlsx", "RS LA Data 2017-18"),
}
EXTRACT = "mhclg_RS_revenue_outturn_2016_2017_uppertier.csv"
COUNCIL_CLASSES = {"SC", "SD", "UA", "MD", "L"}


@functools.cache
def sheet_rows(period: str) -> list[list]:
    file, sheet = WB[period]
    return (
        CalamineWorkbook.from_path(str(RAW / "funding" / file))
        .get_sheet_by_name(sheet)
        .to_python(skip_empty_area=False)
    )


def published(period: str, ecode: str, heading_prefix: str) -> tuple[float, int, str]:
    """(value, Excel row, column letter) of one cell, found by E-code and heading text."""
    rows = sheet_rows(period)
    h = next(i for i, r in enumerate(rows) if "E-code" in r)
    col = next(j for j, v in enumerate(rows[h]) if str(v).strip().lower().startswith(heading_prefix.lower()))
    i = next(i for i, r in enumerate(rows) if r[rows[h].index("E-code")] == ecode)
    letter = chr(65 + col) if col < 26 else chr(64 + col // 26) + chr(65 + col % 26)
    return rows[i][col], i + 1, letter


def council_ecodes(period: str) -> set[str]:
    rows = sheet_rows(period)
    h = next(i for i, r in enumerate(rows) if "E-code" in r)
    e, c = rows[h].index("E-code"), rows[h].index("Class")
    return {r[e] for r in rows[h + 1 :] if r[e] and r[c] in COUNCIL_CLASSES}


@pytest.mark.realdata
@needs_raw
@pytest.mark.parametrize(
    "period, ecode, heading, line, council, mapping",
    [
        ("2010-11", "E0102", "TOTAL SERVICE EXPENDITURE", "total_service", "E06000023", "same"),  # Bristol
        ("2017-18", "E2631", "Parish Precepts", "parish_precepts", "E07000143", "same"),  # Breckland
        ("2014-15", "E0431", "TOTAL SERVICE EXPENDITURE", "total_service", "E06000060", "predecessor"),  # Aylesbury V.
        ("2014-15", "E0801", "Adult Social Care", "adult_social_care", "E06000052", "same"),  # Cornwall
        ("2012-13", "E4601", "Children Social Care", "childrens_social_care", "E08000025", "same"),  # Birmingham
        ("2010-11", "E4601", "Social care", "social_care", "E08000025", "same"),  # single line
        ("2017-18", "E0102", "NET CURRENT EXPENDITURE", "net_current_expenditure", "E06000023", "same"),
    ],
)
def test_spot_check_real_cells(finance_built, period, ecode, heading, line, council, mapping):
    con, _ = finance_built
    value, row, letter = published(period, ecode, heading)
    got = finance(con, "ecode = ? AND period = ? AND line = ?", [ecode, period, line])
    assert len(got) == 1
    r = got[0]
    assert (r["council_code"], r["mapping"]) == (council, mapping)
    assert r["value_gbp"] == pytest.approx(value * 1000, abs=0.01)
    assert (r["file"], r["sheet"], r["row"], r["column_name"]) == (
        "funding/" + WB[period][0],
        WB[period][1],
        row,
        letter,
    )


@pytest.mark.realdata
@needs_raw
def test_2017_18_precept_column_is_parish_precepts_not_lcts(finance_built):
    con, _ = finance_built
    rows = sheet_rows("2017-18")
    h = next(i for i, r in enumerate(rows) if "E-code" in r)
    assert rows[h][24] == "Parish Precepts" and "paid to local parishes" in rows[h][88]
    labels = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT column_name FROM finance WHERE period = '2017-18' AND line = 'parish_precepts'"
        ).fetchall()
    }
    assert labels == {"Y"}


@pytest.mark.realdata
@needs_raw
def test_cumbria_split_is_apportioned_and_additive(finance_built):
    con, rep = finance_built
    value, _, _ = published("2013-14", "E0920", "TOTAL SERVICE EXPENDITURE")
    rows = finance(con, "ecode = 'E0920' AND period = '2013-14' AND line = 'total_service'")
    assert {r["mapping"] for r in rows} == {"predecessor_share"}
    assert sum(r["value_gbp"] for r in rows) == pytest.approx(value * 1000, abs=0.02)
    pop = {}
    with open(RAW / "context" / "age_gender21_ltla21_ew.csv", newline="") as fh:
        for rec in csv.DictReader(fh):
            if rec["ltla21_code"] in CUMBRIA_DISTRICTS:
                pop[CUMBRIA_DISTRICTS[rec["ltla21_code"]][2]] = pop.get(
                    CUMBRIA_DISTRICTS[rec["ltla21_code"]][2], 0
                ) + float(rec["total_population"])
    share = pop["E06000063"] / (pop["E06000063"] + pop["E06000064"])
    cumberland = next(r for r in rows if r["council_code"] == "E06000063")
    assert cumberland["value_gbp"] == pytest.approx(value * 1000 * share, abs=0.02)


@pytest.mark.realdata
@needs_raw
@pytest.mark.parametrize("period", sorted(WB))
def test_every_english_council_mapped_or_reported(finance_built, period):
    con, rep = finance_built
    expected = council_ecodes(period)
    loaded = {r[0] for r in con.execute("SELECT DISTINCT ecode FROM finance WHERE period = ?", [period]).fetchall()}
    reported = {i.code for i in rep.issues if i.kind == "unmatched" and i.file == WB[period][0]}
    assert expected == loaded | reported
    assert rep.facts[f"councils_{period}"] == len(loaded) == 353  # 27 SC, 201 SD, 56 UA, 36 MD, 33 London
    current = con.execute("SELECT count(DISTINCT council_code) FROM finance WHERE period = ?", [period]).fetchone()[0]
    assert current == 317  # every current district and county


@pytest.mark.realdata
@needs_raw
def test_upper_tier_extract_years_and_values(finance_built):
    con, rep = finance_built
    with open(RAW / "funding" / EXTRACT, newline="") as fh:
        recs = list(csv.DictReader(fh))
    bristol = next((n + 2, r) for n, r in enumerate(recs) if r["E-code"] == "E0102" and r["year"] == "2017")
    [row] = finance(con, "ecode = 'E0102' AND period = '2016-17' AND line = 'education'")
    assert row["value_gbp"] == pytest.approx(float(bristol[1]["190: Education services"]) * 1000)
    assert (row["row"], row["column_name"], row["sheet"]) == (bristol[0], "190: Education services", None)
    assert rep.facts["extract_councils_2015-16"] == rep.facts["extract_councils_2016-17"] == 152
    # Isles of Scilly's 2016-17 row is all '…': missing, and said so
    scilly = finance(con, "ecode = 'E4001' AND period = '2016-17'")
    assert scilly and all(r["value_gbp"] is None for r in scilly)
    assert any(
        i.kind == "suppressed"
        and i.row == next(n + 2 for n, r in enumerate(recs) if r["E-code"] == "E4001" and r["year"] == "2017")
        for i in rep.issues
    )


@pytest.mark.realdata
@needs_raw
def test_extract_year_2016_is_financial_year_2015_16(finance_built):
    """Evidence for the year convention: reserves 'at 1 April' in the extract's year-2016 rows are the
    2014-15 workbook's reserves at 31 March 2015 (= 1 April 2015, the start of 2015-16)."""
    wb = CalamineWorkbook.from_path(str(RAW / "funding" / WB["2014-15"][0]))
    rows = wb.get_sheet_by_name("RS LA Data 2014-15 (2)").to_python(skip_empty_area=False)
    assert rows[4][69] == "Financial reserves levels at 31 March 2015"
    march15 = {r[0]: r[69:73] for r in rows[7:] if r[0]}
    cols = [
        "school reserves at 1 April",
        "public health reserves at 1 April",
        "other earmarked reserves at 1 April",
        "unallocated financial reserves at 1 April",
    ]
    with open(RAW / "funding" / EXTRACT, newline="") as fh:
        recs = list(csv.DictReader(fh))

    def same(r):
        try:
            return all(abs(float(r[c]) - float(m or 0)) < 1 for c, m in zip(cols, march15[r["E-code"]]))
        except (KeyError, ValueError):
            return False

    assert sum(same(r) for r in recs if r["year"] == "2016") >= 90
    assert sum(same(r) for r in recs if r["year"] == "2017") <= 2


@pytest.mark.realdata
@needs_raw
def test_copeland_2017_18_not_returned_is_missing(finance_built):
    con, rep = finance_built
    rows = finance(con, "ecode = 'E0934' AND period = '2017-18'")
    assert rows and all(r["value_gbp"] is None for r in rows) and {r["council_code"] for r in rows} == {"E06000063"}
    assert sum(
        1
        for i in rep.issues
        if i.kind == "suppressed" and i.code is None and i.row == rows[0]["row"] and i.file == WB["2017-18"][0]
    ) == len(rows)


@pytest.mark.realdata
@needs_raw
def test_report_facts(finance_built):
    con, rep = finance_built
    assert rep.facts["skipped_class_O"] > 500  # police, fire, GLA, parks, waste: skipped, not unmatched
    assert rep.count("unmatched") == 0
    assert rep.count("negative") < 100 < rep.facts["negative_values"]  # aggregated per column
