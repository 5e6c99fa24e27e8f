"""Parishes, participation and context loaders.

Fixture tests exercise the awkward inputs (BOM, thousands separators, suppression markers, an
unknown region name, a parish in two districts) on a tiny in-memory database. Real-data tests
build geography + these three sources once and check the results against the raw files, read
here independently with the csv module (never through the loaders' own code).
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from etl.core import BuildContext, EtlInputError, LoadReport
from etl.indicators import context as context_family
from etl.sources import context, geography, parishes, participation

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "context"
REGIONS = {
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}


def area(code, name, level, parent=None, district=None):
    return (code, name, level, level, None, parent, district, None, None, None, None, None, None, "test")


def mini_ctx(tmp_path: Path, files: dict[str, str], areas=(), code_map=()) -> BuildContext:
    """A real BuildContext over an in-memory database holding only the given geography rows."""
    raw = tmp_path / "raw"
    for rel, fixture in files.items():
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIX / fixture, raw / rel)
    con = duckdb.connect()
    con.execute((ROOT / "etl" / "schema.sql").read_text())
    rows = [area("E92000001", "England", "country")] + [area(c, n, "region", "E92000001") for c, n in REGIONS.items()]
    for r in rows + list(areas):
        con.execute("INSERT INTO areas VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(r))
    for old, new in code_map:
        con.execute("INSERT INTO area_code_map VALUES (?, ?, NULL, 'district', 'merged_into', 'test')", [old, new])
    return BuildContext(con, raw, "test")


# ---- fixtures: awkward input ----------------------------------------------------------------


def test_lsoa_population_reads_bom_thousands_separators_and_suppression():
    rep = LoadReport("context")
    pop = context.read_lsoa_population(FIX / "lsoa11_population_bom.csv", rep)
    assert pop == {"E01011949": 1954.0, "E01011950": None, "E01011951": 812.0}  # Scotland and NI skipped
    (sup,) = [i for i in rep.issues if i.kind == "suppressed"]
    assert (sup.file, sup.row, sup.column) == ("lsoa11_population_bom.csv", 3, "pop")


def test_participation_unknown_region_name_stops_the_build(tmp_path):
    ctx = mini_ctx(
        tmp_path, {participation.REGIONAL: "dr41_regions_unknown_name.csv", participation.NATIONAL: "dr41_england.csv"}
    )
    with pytest.raises(EtlInputError, match="Northern Powerhouse") as exc:
        participation.Participation().load(ctx)
    assert exc.value.row == 3 and exc.value.column == "Area_name"
    assert exc.value.file.endswith("DR41-civic-engagement--by-ITL1-region-and-year--original.csv")


def test_participation_markers_na_spelling_and_breakdowns(tmp_path):
    ctx = mini_ctx(tmp_path, {participation.REGIONAL: "dr41_regions.csv", participation.NATIONAL: "dr41_england.csv"})
    participation.Participation().load(ctx)
    rows = {
        (r[0], r[1]): r[2:]
        for r in ctx.con.execute(
            "SELECT area_code, period, value_pct, lci, uci, sample_size FROM participation"
        ).fetchall()
    }
    # ITL1 spelling 'East' and lower-case 'the' resolve; the London 'Female' breakdown row is not loaded
    assert set(rows) == {
        ("E12000001", "2020"),
        ("E12000003", "2020"),
        ("E12000006", "2020"),
        ("E92000001", "2018/19"),
        ("E92000001", "2019/20"),
    }
    assert rows[("E12000003", "2020")] == (None, None, None, None)  # '[c]' suppressed → missing
    assert rows[("E92000001", "2019/20")] == (40.7, 39.5, 41.9, None)
    rep = ctx.report("participation")
    assert [(i.row, i.column) for i in rep.issues if i.kind == "suppressed"] == [(3, "Value")]  # 'NA' not counted


def test_participation_edition_4_england_series_with_the_2022_23_gap(tmp_path):
    ctx = mini_ctx(
        tmp_path, {participation.REGIONAL: "dr41_regions.csv", participation.NATIONAL: "dr41_v4_england.csv"}
    )
    participation.Participation().load(ctx)
    rows = {
        r[0]: r[1:]
        for r in ctx.con.execute(
            "SELECT period, value_pct, lci, uci FROM participation WHERE area_code = 'E92000001'"
        ).fetchall()
    }
    assert rows == {
        "2021/22": (33.93, 32.833, 35.045),
        "2022/23": (None, None, None),  # no survey: a gap
        "2023/24": (33.338, 33.058, 33.621),
    }  # not the 'Female' row
    notes = [(i.row, i.message) for i in ctx.report("participation").issues if i.kind == "note"]
    assert any(row == 3 and "no survey" in m for row, m in notes) and any(
        row == 4 and "breakdown" in m for row, m in notes
    )


def test_participation_edition_4_rejects_another_area(tmp_path):
    ctx = mini_ctx(
        tmp_path, {participation.REGIONAL: "dr41_regions.csv", participation.NATIONAL: "dr41_v4_not_england.csv"}
    )
    with pytest.raises(EtlInputError, match="expected England") as exc:
        participation.Participation().load(ctx)
    assert (exc.value.row, exc.value.column) == (5, "area_code")


def test_parish_in_two_districts_is_an_error(tmp_path):
    ctx = mini_ctx(
        tmp_path,
        {parishes.FILE: "par18_two_districts.csv"},
        areas=[area("E06000065", "Fixture Unitary", "district", "E12000003", "E06000065")],
        code_map=[("E07000163", "E06000065"), ("E07000164", "E06000065")],
    )
    with pytest.raises(EtlInputError, match="two districts") as exc:
        parishes.Parishes().load(ctx)
    assert exc.value.row == 3 and exc.value.column == "LAD18CD"


def test_parish_wards_keep_every_pair_and_only_current_ward_codes(tmp_path):
    ctx = mini_ctx(
        tmp_path,
        {parishes.FILE: "par18_wards.csv"},
        areas=[
            area("E06000065", "Fixture Unitary", "district", "E12000003", "E06000065"),
            area("E05000001", "Fixture Ward A", "ward", "E06000065", "E06000065"),
        ],
        code_map=[("E07000163", "E06000065"), ("E07000164", "E06000065")],
    )
    parishes.Parishes().load(ctx)
    got = {
        r[0]: r[1:]
        for r in ctx.con.execute(
            "SELECT parish_code, ward18_code, district18_code, district_code, ward_code FROM parishes"
        ).fetchall()
    }
    assert got == {
        "E04000001": (None, "E07000163", "E06000065", None),  # spans two 2018 wards
        "E04000002": ("E05000001", "E07000163", "E06000065", "E05000001"),
        "E04000003": ("E05000003", "E07000164", "E06000065", None),
    }  # 2018 ward no longer current
    pairs = set(ctx.con.execute("SELECT parish_code, ward18_code, ward_code FROM parish_wards").fetchall())
    assert pairs == {
        ("E04000001", "E05000001", "E05000001"),
        ("E04000001", "E05000002", None),
        ("E04000002", "E05000001", "E05000001"),
        ("E04000003", "E05000003", None),
    }
    rep = ctx.report("parishes")
    assert sorted(i.code for i in rep.issues if i.kind == "unmatched") == ["E05000002", "E05000003"]
    assert rep.facts["ward18_codes_unmatched_share"] == pytest.approx(2 / 3, abs=1e-4)


def test_parish_names_file_is_checked_against_the_lookup(tmp_path):
    ctx = mini_ctx(
        tmp_path,
        {parishes.FILE: "par18_wards.csv", parishes.NAMES_FILE: "par19_names.csv"},
        areas=[area("E06000065", "Fixture Unitary", "district", "E12000003", "E06000065")],
        code_map=[("E07000163", "E06000065"), ("E07000164", "E06000065")],
    )
    parishes.Parishes().load(ctx)
    rep = ctx.report("parishes")
    unmatched = {(i.code, i.row) for i in rep.issues if i.kind == "unmatched" and i.code.startswith("E04")}
    assert unmatched == {("E04000009", 4), ("E04000003", None)}  # in only one of the two files
    (renamed,) = [i for i in rep.issues if i.kind == "warning"]
    assert (renamed.code, renamed.row, renamed.column) == ("E04000002", 3, "PAR18NM")
    assert "'Fixture Parish Two'" in renamed.message and "'Fixture Parish 2'" in renamed.message
    assert rep.facts["names_file_parishes"] == 3 and rep.facts["lookup_year"] == 2018


def test_parish_lookup_without_a_parish_code_column_names_the_file(tmp_path):
    ctx = mini_ctx(tmp_path, {parishes.FILE: "par_no_vintage.csv"})
    with pytest.raises(EtlInputError, match="PAR19CD") as exc:
        parishes.Parishes().load(ctx)
    assert exc.value.file.endswith("PAR19_WD19_LAD19.csv") and exc.value.row == 1


def test_decile_boundaries():
    # 296 districts: a tenth is 29.6 ranks, so decile 1 = ranks 1-30, decile 2 = 31-60 (60 - 1 < 59.2)
    assert [context.decile(r, 296) for r in (1, 30, 31, 60, 61, 296)] == [1, 1, 2, 2, 3, 10]
    assert [context.decile(r, 10) for r in range(1, 11)] == list(range(1, 11))


# ---- real data --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(raw_dir, tmp_path_factory):
    from etl.build import build

    out = tmp_path_factory.mktemp("context_db")
    db = out / "pb.duckdb"
    result = build(
        raw_dir,
        db,
        static_dir=out / "static",
        derive=False,
        log=lambda *a: None,
        sources=geography.SOURCES + parishes.SOURCES + participation.SOURCES + context.SOURCES,
    )
    con = duckdb.connect(str(db), read_only=True)
    yield con, result
    con.close()


@pytest.fixture(scope="module")
def con(built):
    return built[0]


def read_raw(raw_dir: Path, rel: str) -> list[dict]:
    with open(raw_dir / rel, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def value(con, code, indicator, period):
    row = con.execute(
        "SELECT value FROM indicator_values WHERE area_code=? AND indicator_id=? AND period=?",
        [code, indicator, period],
    ).fetchone()
    return None if row is None else row[0]


def test_district_populations_sum_to_england_total_in_file(con, raw_dir):
    rows = read_raw(raw_dir, context.CENSUS_POP)
    england_in_file = sum(float(r["total_population"]) for r in rows if r["ltla21_code"].startswith("E"))
    districts = con.execute("""SELECT count(*), sum(value) FROM indicator_values v JOIN areas a ON a.code = v.area_code
                               WHERE a.level = 'district' AND indicator_id = 'population' AND period = '2021'""").fetchone()
    assert districts == (296, england_in_file)
    assert value(con, "E92000001", "population", "2021") == england_in_file
    regions = con.execute("""SELECT sum(value) FROM indicator_values v JOIN areas a ON a.code = v.area_code
                             WHERE a.level = 'region' AND indicator_id = 'population'""").fetchone()[0]
    assert regions == england_in_file


def test_north_yorkshire_population_is_the_sum_of_its_seven_former_districts(con, raw_dir):
    # Craven, Hambleton, Harrogate, Richmondshire, Ryedale, Scarborough, Selby (LAD 2021) → E06000065 (2023)
    former = {f"E0700016{i}" for i in range(3, 10)}
    rows = [r for r in read_raw(raw_dir, context.CENSUS_POP) if r["ltla21_code"] in former]
    assert len(rows) == 7
    assert value(con, "E06000065", "population", "2021") == sum(float(r["total_population"]) for r in rows)


def test_county_population_and_households_are_sums_of_districts(con):
    bad = con.execute("""SELECT c.code, v.indicator_id FROM areas c JOIN indicator_values v ON v.area_code = c.code
                         WHERE c.level = 'county' AND v.indicator_id IN ('population', 'households')
                         AND v.value <> (SELECT sum(d.value) FROM areas a JOIN indicator_values d
                             ON d.area_code = a.code AND d.indicator_id = v.indicator_id
                             WHERE a.county_code = c.code AND a.level = 'district')""").fetchall()
    assert bad == []
    assert (
        con.execute(
            "SELECT count(*) FROM indicator_values v JOIN areas a ON a.code = v.area_code "
            "WHERE a.level = 'county' AND indicator_id = 'households' AND value > 0"
        ).fetchone()[0]
        == 21
    )


def test_parishes_real(con, raw_dir):
    rows = read_raw(raw_dir, parishes.FILE)
    english = [r for r in rows if r["PAR19CD"].startswith("E04")]  # December 2019 replaces 2018
    assert len({r["PAR19CD"] for r in english}) == 10464
    assert con.execute("SELECT count(*) FROM parishes").fetchone()[0] == 10464
    assert con.execute("SELECT count(*) FROM parish_wards").fetchone()[0] == len(english)
    # every parish has a current district
    assert (
        con.execute("""SELECT count(*) FROM parishes p LEFT JOIN areas a ON a.code = p.district_code
                          AND a.level = 'district' WHERE a.code IS NULL""").fetchone()[0]
        == 0
    )
    # Horwich (Bolton) lies in two 2019 wards: no single ward, both pairs kept
    assert con.execute("SELECT ward18_code, district_code FROM parishes WHERE parish_code='E04000002'").fetchone() == (
        None,
        "E08000001",
    )
    assert con.execute("SELECT count(*) FROM parish_wards WHERE parish_code='E04000002'").fetchone()[0] == 2


def test_parish_ward_codes_only_when_still_current_and_share_reported(con, raw_dir, built):
    _, result = built
    assert (
        con.execute("""SELECT count(*) FROM parish_wards pw LEFT JOIN areas a ON a.code = pw.ward18_code
                          AND a.level = 'ward' WHERE (a.code IS NULL) <> (pw.ward_code IS NULL)
                          OR pw.ward_code <> pw.ward18_code""").fetchone()[0]
        == 0
    )
    current = {r[0] for r in con.execute("SELECT code FROM areas WHERE level = 'ward'").fetchall()}
    wards18 = {r["WD19CD"] for r in read_raw(raw_dir, parishes.FILE) if r["PAR19CD"].startswith("E04")}
    unmatched = wards18 - current
    facts = result.reports["parishes"].facts
    assert facts["ward18_codes_unmatched_share"] == pytest.approx(len(unmatched) / len(wards18), abs=1e-4)
    reported = {
        r[0]
        for r in con.execute(
            "SELECT code FROM load_issues WHERE source_id = 'parishes' AND kind = 'unmatched'"
        ).fetchall()
    }
    assert reported == unmatched


def test_participation_real(con, raw_dir):
    regional = con.execute("""SELECT count(DISTINCT area_code), count(DISTINCT period), count(*)
                              FROM participation WHERE area_code LIKE 'E12%'""").fetchone()
    assert regional == (9, 8, 72)
    # England: edition 4.0, 2013/14 → 2024/25, with 2022/23 (no survey) kept as a missing value
    england = dict(con.execute("SELECT period, value_pct FROM participation WHERE area_code = 'E92000001'").fetchall())
    assert len(england) == 12 and min(england) == "2013/14" and max(england) == "2024/25"
    assert england["2022/23"] is None and england["2024/25"] == 33.585
    (london,) = [
        r
        for r in read_raw(raw_dir, participation.REGIONAL)
        if r["Area_name"] == "London" and r["Time_period"] == "2021"
    ]
    assert con.execute(
        "SELECT value_pct, lci FROM participation WHERE area_code = 'E12000007' AND period = '2021'"
    ).fetchone() == (float(london["Value"]), None)  # 'NA' confidence limit → missing
    ci = {
        r["time_period"]: (float(r["lci"]), float(r["uci"]))
        for r in read_raw(raw_dir, participation.NATIONAL)
        if r["lci"]
    }
    got = {
        r[0]: (r[1], r[2])
        for r in con.execute("SELECT period, lci, uci FROM participation WHERE lci IS NOT NULL").fetchall()
    }
    assert got == ci and sorted(ci) == ["2019/20", "2020/21", "2021/22", "2023/24", "2024/25"]


def test_ward_population_coverage_reported(con, built):
    _, result = built
    facts = result.reports["context"].facts
    n, with_value = con.execute("""SELECT count(*), count(value) FROM indicator_values v JOIN areas a
                                   ON a.code = v.area_code WHERE a.level = 'ward' AND indicator_id = 'population'
                                   AND period = '2019'""").fetchone()
    assert n == 6862  # every Dec 2023 ward has a row; missing ones say why
    assert facts["wards_with_population"] == with_value
    assert facts["ward_population_coverage"] == pytest.approx(with_value / 6862, abs=1e-4)
    assert 0.7 < with_value / 6862 < 1
    assert (
        con.execute(
            "SELECT count(*) FROM indicator_values WHERE indicator_id = 'population' AND period = '2019' "
            "AND value IS NULL AND note NOT LIKE 'missing: %'"
        ).fetchone()[0]
        == 0
    )
    assert facts["ward24_codes_not_dec2023"] == 346
    assert (
        con.execute(
            "SELECT count(*) FROM load_issues WHERE source_id = 'context' AND kind = 'unmatched' "
            "AND column_name = 'ward24_code'"
        ).fetchone()[0]
        == 346
    )


def test_one_ward_population_and_score_from_the_raw_files(con, raw_dir):
    ward = "E05009861"  # Ladgate, Middlesbrough (first row of the LSOA→ward lookup)
    lsoas = [r["lsoa21_code"] for r in read_raw(raw_dir, context.LSOA_WARD) if r["ward24_code"] == ward]
    pop = {
        r["lsoa"]: float(r["pop"].replace(",", "")) for r in read_raw(raw_dir, context.LSOA_POP) if r["lsoa"] in lsoas
    }
    score = {
        r["lsoa21_code"]: float(r["IMD_score"])
        for r in read_raw(raw_dir, context.IMD_LSOA)
        if r["lsoa21_code"] in lsoas
    }
    assert len(lsoas) > 1 and set(pop) == set(lsoas) == set(score)
    assert value(con, ward, "population", "2019") == sum(pop.values())
    assert value(con, ward, "imd_score", "2025") == pytest.approx(
        sum(pop[x] * score[x] for x in lsoas) / sum(pop.values())
    )


def test_district_imd_against_lsoa_file_and_ranks(con, raw_dir):
    district_of = {r["lsoa21_code"]: r["ltla24_code"] for r in read_raw(raw_dir, context.LSOA_WARD)}
    counts = defaultdict(lambda: [0, 0])
    for r in read_raw(raw_dir, context.IMD_LSOA):
        c = counts[district_of[r["lsoa21_code"]]]
        c[0] += float(r["IMD_decile"]) == 1
        c[1] += 1
    shares = dict(
        con.execute(
            "SELECT area_code, value FROM indicator_values WHERE indicator_id = 'imd_most_deprived_10pct_share'"
        ).fetchall()
    )
    assert len(shares) == 296
    for code, (most, total) in counts.items():
        assert shares[code] == pytest.approx(100 * most / total, abs=0.011), code  # file rounds to 4 d.p.
    top = min(read_raw(raw_dir, context.IMD_LTLA), key=lambda r: float(r[context.IMD_RANK]))
    assert value(con, top["ltla24_code"], "imd_rank", "2025") == 1
    assert value(con, top["ltla24_code"], "imd_decile", "2025") == 1
    per_decile = dict(
        con.execute(
            "SELECT value, count(*) FROM indicator_values v JOIN areas a ON a.code = v.area_code "
            "WHERE indicator_id = 'imd_decile' AND a.level = 'district' GROUP BY 1"
        ).fetchall()
    )
    assert sorted(per_decile) == list(range(1, 11)) and all(29 <= n <= 30 for n in per_decile.values())


def test_ward_deciles_put_the_highest_scores_first(con):
    rows = con.execute("""SELECT s.value, d.value FROM indicator_values s JOIN indicator_values d
                          ON d.area_code = s.area_code AND d.indicator_id = 'imd_decile'
                          JOIN areas a ON a.code = s.area_code AND a.level = 'ward'
                          WHERE s.indicator_id = 'imd_score' AND s.value IS NOT NULL ORDER BY s.value DESC""").fetchall()
    assert rows[0][1] == 1 and rows[-1][1] == 10
    assert [d for _, d in rows] == sorted(d for _, d in rows)


def test_county_imd_agrees_with_mysociety_composite(con, raw_dir):
    """Independent check: mySociety's 2019 composite deprivation per council (3-letter codes)."""
    composite = {
        r["local-authority-code"]: float(r["la-deprivation-score"])
        for r in read_raw(raw_dir, "context/mysociety_composite_uk_imd_la.csv")
    }
    pairs = con.execute("""SELECT a.registry_code, v.value FROM areas a JOIN indicator_values v
                           ON v.area_code = a.code AND v.indicator_id = 'imd_score' WHERE a.level = 'county'""").fetchall()
    assert len(pairs) == 21
    xs, ys = [v for _, v in pairs], [composite[r] for r, _ in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    corr = cov / (sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5
    assert corr > 0.95


def test_ruc_class_on_every_district(con, raw_dir):
    expected = {
        r["ltla24_code"]: r["classification"]
        for r in read_raw(raw_dir, context.RUC)
        if r["ltla24_code"].startswith("E")
    }
    got = dict(con.execute("SELECT code, ruc_class FROM areas WHERE level = 'district'").fetchall())
    assert got == expected


def test_context_indicator_catalogue(con):
    rows = {
        r[0]: r[1:] for r in con.execute("SELECT indicator_id, domain, polarity, scored FROM indicators").fetchall()
    }
    defined = {i.id for i in context_family.INDICATORS}  # written by the source, with its values
    assert set(rows) == defined
    assert set(rows.values()) == {("context", 0, False)}
    used = {r[0] for r in con.execute("SELECT DISTINCT indicator_id FROM indicator_values").fetchall()}
    assert used == defined - {"ruc"}
