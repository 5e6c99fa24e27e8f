"""Indicator families (etl/indicators/): hand-computed expectations on a small fixture, and
roll-up / apportionment invariants on the real data.

The fixture (tests/fixtures/index/*.csv) is a made-up miniature England: one region with a
two-tier county (two shire districts) and a unitary, a second region with a unitary formed from
two predecessor councils (one of which publishes nothing for 2017-18), eight wards, grants,
parishes and participation. Every expected number below is worked out by hand in the comments.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from etl import indicators as families
from etl.core import BuildContext, insert_rows
from etl.indicators import base, density
from powerbalance import codes
from powerbalance import indicators as shared
from tests.helpers import build_fixture_db, square_wkb

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "index"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    return build_fixture_db(tmp_path_factory.mktemp("indexfix") / "fixture.duckdb")


def values(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM indicator_values").df()
    finally:
        con.close()


def v(df: pd.DataFrame, area: str, indicator: str, period: str) -> float:
    row = df[(df.area_code == area) & (df.indicator_id == indicator) & (df.period == period)]
    assert len(row) == 1, f"expected one row for {area} {indicator} {period}, found {len(row)}"
    return float(row["value"].iloc[0])


def note(df, area, indicator, period) -> str:
    row = df[(df.area_code == area) & (df.indicator_id == indicator) & (df.period == period)]
    return str(row["note"].iloc[0])


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def test_period_alignment():
    assert codes.fy_of_year(2017) == "2017-18"
    assert codes.fy_of_year(1999) == "1999-00"
    assert codes.fy_of_survey("2013/14") == "2013-14"
    assert codes.fy_of_survey("2014") == "2013-14"  # regional file labels a survey year by its end
    assert codes.fy_of_survey("summer") is None


def test_rollup_sums_numerators_and_denominators():
    children = pd.DataFrame(
        {
            "area_code": ["a", "b", "c"],
            "period": ["p"] * 3,
            "numerator": [10.0, 30.0, np.nan],
            "denominator": [100.0, 300.0, 50.0],
        }
    )
    out = base.rollup(children, {"a": "X", "b": "X", "c": "X"}, scale=1000)
    # (10 + 30) / (100 + 300) × 1000 = 100; c has no numerator so it is left out, and the note says so
    assert out["value"].iloc[0] == pytest.approx(100.0)
    assert out["note"].iloc[0] == "sum of 2 of 3 districts"
    # the same as the population-weighted mean of the children's rates
    rates = np.array([10 / 100, 30 / 300]) * 1000
    assert out["value"].iloc[0] == pytest.approx(np.average(rates, weights=[100, 300]))


def test_apportion_county_shares_add_up():
    districts = pd.DataFrame(
        {"code": ["d1", "d2", "u"], "tier": ["lower", "lower", "single"], "county_code": ["C", "C", None]}
    )
    own = pd.DataFrame(
        {"council_code": ["d1", "d2", "u", "C"], "period": ["p"] * 4, "own": [100.0, 200.0, 500.0, 1000.0]}
    )
    out = base.apportion_county(own, districts, pd.Series({"d1": 30.0, "d2": 70.0, "u": 10.0})).set_index("code")
    assert out.loc["d1", "place"] == pytest.approx(100 + 1000 * 0.3)
    assert out.loc["d2", "place"] == pytest.approx(200 + 1000 * 0.7)
    assert out.loc["u", "place"] == pytest.approx(500)
    # no money is created or lost: the districts' place spending = county + districts
    assert out.loc[["d1", "d2"], "place"].sum() == pytest.approx(1000 + 100 + 200)


def test_boundary_area_of_a_known_square():
    km2 = density.boundary_areas_km2([square_wkb(400000, 300000, 10.0), square_wkb(500000, 200000, 3.0)])
    assert km2[0] == pytest.approx(100.0, rel=1e-3)
    assert km2[1] == pytest.approx(9.0, rel=1e-3)


def test_land_areas_worked_out_in_the_helper_equal_those_worked_out_here(real_db, tmp_path):
    """density.start begins the areas in the build's helper process; derive then collects exactly
    what it would have computed itself."""
    con = duckdb.connect(str(real_db), read_only=True)
    try:
        ctx = BuildContext(con, tmp_path, "test")
        run = families.Run(con, base.Geo(con), ctx.report("indicators"), ctx=ctx)
        density.start(run)
        assert ctx.begun(density.AREAS_WORK)
        from_helper = density.derive(run)
        assert not ctx.begun(density.AREAS_WORK)  # collected
        here = density.derive(families.Run(con, base.Geo(con), ctx.report("indicators")))
    finally:
        con.close()
    assert len(here) == 2 * con_count(real_db, "SELECT count(*) FROM boundaries")
    pd.testing.assert_frame_equal(from_helper, here, check_exact=True)


def con_count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_registry_is_consistent():
    ids = [i.id for i in families.definitions()]
    assert len(ids) == len(set(ids))
    for i in families.definitions():
        assert i.domain in ("funding", "projects", "participation", "headline", "context")
        assert i.polarity in (-1, 0, 1)
        assert not (i.scored and i.polarity == 0), i.id
        assert i.lens in ("place", "council", "community", "both")
    from etl.sources import all_sources

    known = {s.id for s in all_sources()}
    for i in families.definitions():
        assert set(i.source_ids.split(",")) <= known, (i.id, i.source_ids)
    assert "Department for Transport" in shared.EXCLUDED_FUNDERS
    assert shared.LOTTERY_FUNDERS == ("The Big Lottery Fund",)


# ---------------------------------------------------------------------------------------------
# Fixture: hand-computed values
# ---------------------------------------------------------------------------------------------


def test_two_tier_apportionment(fixture_db):
    df = values(fixture_db)
    # 2013-14: county £1,000,000; District One (30,000 of the county's 100,000 people) spends £100,000:
    # place = 100,000 + 1,000,000 × 0.3 = 400,000 → £13.33 per head
    assert v(df, "E07000001", "place_spend_per_head", "2013-14") == pytest.approx(400_000 / 30_000)
    # District Two: 200,000 + 1,000,000 × 0.7 = 900,000 over 70,000
    assert v(df, "E07000002", "place_spend_per_head", "2013-14") == pytest.approx(900_000 / 70_000)
    # the county's place figure is the sum of its districts: (1,000,000 + 100,000 + 200,000) / 100,000
    assert v(df, "E10000001", "place_spend_per_head", "2013-14") == pytest.approx(13.0)
    # council lens: own spending only
    assert v(df, "E07000001", "council_spend_per_head", "2013-14") == pytest.approx(100_000 / 30_000)
    assert v(df, "E10000001", "council_spend_per_head", "2013-14") == pytest.approx(10.0)
    # single tier: place = own; Unitary Two = its two predecessors 400,000 + 300,000
    assert v(df, "E06000001", "place_spend_per_head", "2013-14") == pytest.approx(15.0)
    assert v(df, "E06000002", "place_spend_per_head", "2013-14") == pytest.approx(14.0)
    # England: (400k + 900k + 1,500k + 700k) / 250,000
    assert v(df, "E92000001", "place_spend_per_head", "2013-14") == pytest.approx(14.0)
    # 2017-18: 80,000 + 900,000 × 0.3 = 350,000
    assert v(df, "E07000001", "place_spend_per_head", "2017-18") == pytest.approx(350_000 / 30_000)


def test_incomplete_successor_is_missing_not_partial(fixture_db):
    df = values(fixture_db)
    # Old Council B published nothing for 2017-18: Unitary Two's figure would be half a council
    assert math.isnan(v(df, "E06000002", "place_spend_per_head", "2017-18"))
    assert "missing: 1 of the 2 councils" in note(df, "E06000002", "place_spend_per_head", "2017-18")
    assert "Old Council B (E9932)" in note(df, "E06000002", "council_spend_per_head", "2017-18")
    # England then covers 3 of 4 districts: (350,000 + 780,000 + 1,200,000) / (30,000 + 70,000 + 100,000)
    assert v(df, "E92000001", "place_spend_per_head", "2017-18") == pytest.approx(2_330_000 / 200_000)
    assert note(df, "E92000001", "place_spend_per_head", "2017-18") == "sum of 3 of 4 districts"


def test_successor_figures_before_it_existed_name_the_councils_it_replaced(fixture_db):
    """Review (network 5): Unitary Two's 2013-14 figures are Old Council A + Old Council B, so every
    spending-based value of that year says so (the note was empty); a council publishing itself does not."""
    df = values(fixture_db)
    said = (
        "2013-14 is before this council existed: the sum of the councils it replaced, Old Council A and Old Council B"
    )
    for ind in ("place_spend_per_head", "council_spend_per_head", "parish_precept_share"):
        assert note(df, "E06000002", ind, "2013-14") == said, ind
    for ind in ("enabler_ratio", "enabler_ratio_council"):
        assert note(df, "E06000002", ind, "2013-14").endswith("; spending: " + said), ind
    # parish precepts are paid over by the billing councils (a county pays none over)
    assert note(df, "E06000002", "parish_precepts_per_head", "2013-14") == (
        "2013-14 is before this council existed: the parish precepts paid over by the councils it replaced, "
        "Old Council A"
    )
    assert "before this council existed" not in note(df, "E06000001", "parish_precepts_per_head", "2013-14")
    # 2017-18 is missing: why, and what it would have been made of
    assert note(df, "E06000002", "council_spend_per_head", "2017-18").startswith("missing: 1 of the 2 councils")
    assert "2017-18 is before this council existed" in note(df, "E06000002", "council_spend_per_head", "2017-18")
    for area in ("E06000001", "E07000001", "E10000001"):  # they published their own figures
        assert "before this council existed" not in note(df, area, "council_spend_per_head", "2013-14")


def test_parish_precept_share(fixture_db):
    df = values(fixture_db)
    assert v(df, "E07000001", "parish_precept_share", "2013-14") == pytest.approx(100 * 3000 / 400_000)
    assert v(df, "E06000001", "parish_precept_share", "2013-14") == 0.0  # published zero stays zero
    # county: (3,000 + 1,000) / 1,300,000
    assert v(df, "E10000001", "parish_precept_share", "2013-14") == pytest.approx(100 * 4000 / 1_300_000)


def test_parish_precepts_per_head(fixture_db):
    """Community money on its own: precepts per resident, not divided by council spending."""
    df = values(fixture_db)
    assert v(df, "E07000001", "parish_precepts_per_head", "2013-14") == pytest.approx(3000 / 30_000)
    assert v(df, "E06000001", "parish_precepts_per_head", "2013-14") == 0.0  # published zero stays zero
    # county: (3,000 + 1,000) / (30,000 + 70,000), a sum of its districts
    assert v(df, "E10000001", "parish_precepts_per_head", "2013-14") == pytest.approx(4000 / 100_000)
    assert note(df, "E10000001", "parish_precepts_per_head", "2013-14") == "sum of 2 of 2 districts"


def test_grant_indicators(fixture_db):
    df = values(fixture_db)
    # District One, grants awarded in 2013 (FY 2013-14): £10,000 lottery (2 grants) + £5,000 (1)
    assert v(df, "E07000001", "grants_amount_per_head", "2013-14") == pytest.approx(15_000 / 30_000)
    assert v(df, "E07000001", "lottery_amount_per_head", "2013-14") == pytest.approx(10_000 / 30_000)
    assert v(df, "E07000001", "grants_per_10k", "2013-14") == pytest.approx(3 / 30_000 * 10_000)
    # District Two: the Department for Transport's £1,000,000 is excluded → £7,000 only
    assert v(df, "E07000002", "grants_amount_per_head", "2013-14") == pytest.approx(7_000 / 70_000)
    # Unitary Two has no grant in 2013: a real zero, since the file covers England
    assert v(df, "E06000002", "grants_amount_per_head", "2013-14") == 0.0
    # county and England sums: (15,000 + 7,000) / 100,000 and 42,000 / 250,000
    assert v(df, "E10000001", "grants_amount_per_head", "2013-14") == pytest.approx(0.22)
    assert v(df, "E92000001", "grants_amount_per_head", "2013-14") == pytest.approx(42_000 / 250_000)
    assert "calendar 2013" in note(df, "E07000001", "grants_amount_per_head", "2013-14")
    # the grant with no district is not placed anywhere
    assert v(df, "E92000001", "grants_per_10k", "2017-18") == pytest.approx((3 + 3 + 3 + 1) / 250_000 * 10_000)


def test_wards_reached_and_ward_match_rule(fixture_db):
    df = values(fixture_db)
    assert v(df, "E07000001", "wards_reached_share", "2013-14") == pytest.approx(100.0)  # both wards
    assert v(df, "E06000001", "wards_reached_share", "2013-14") == pytest.approx(100 / 3)  # 1 of 3
    assert v(df, "E06000002", "wards_reached_share", "2013-14") == 0.0  # no grants at all
    # District Two's only 2013 grant has no current ward (0% placed): missing, not zero
    assert math.isnan(v(df, "E07000002", "wards_reached_share", "2013-14"))
    assert "only 0% of grants" in note(df, "E07000002", "wards_reached_share", "2013-14")
    assert math.isnan(v(df, "E05000003", "grants_amount_per_head", "2013-14"))
    assert v(df, "E07000002", "grants_ward_matched_share", "2013-14") == 0.0
    # county: District One only (2 of 2 wards) → 100, covering 1 of 2 districts
    assert v(df, "E10000001", "wards_reached_share", "2013-14") == pytest.approx(100.0)
    assert note(df, "E10000001", "wards_reached_share", "2013-14") == "sum of 1 of 2 districts"
    # England: (2 + 1 + 0) reached of (2 + 3 + 1) wards
    assert v(df, "E92000001", "wards_reached_share", "2013-14") == pytest.approx(50.0)
    assert v(df, "E07000001", "wards_reached_share", "2017-18") == pytest.approx(50.0)


def test_ward_grant_values_roll_up_to_direct_district_computation(fixture_db):
    """Ward figures (ward-matched grants, mid-2019 ward populations) summed to districts equal the
    same quantity computed directly from grants_agg."""
    df = values(fixture_db)
    con = duckdb.connect(str(fixture_db), read_only=True)
    direct = (
        con.execute("""
        SELECT g.district_code, sum(g.amount_gbp) AS amount FROM grants_agg g
        WHERE g.ward_code IS NOT NULL AND g.funder <> 'Department for Transport' AND g.award_year = 2017
        GROUP BY 1""")
        .df()
        .set_index("district_code")["amount"]
    )
    wards = con.execute("SELECT code, district_code FROM areas WHERE level = 'ward'").df()
    con.close()
    w = df[
        (df.indicator_id == "grants_amount_per_head") & (df.period == "2017-18") & df.area_code.str.startswith("E05")
    ]
    parent = dict(zip(wards.code, wards.district_code))
    rolled = base.rollup(w, parent, 1.0).set_index("area_code")
    for district, amount in direct.items():
        ward_pop = w[w.area_code.map(parent) == district]["denominator"].sum()
        assert rolled.loc[district, "numerator"] == pytest.approx(amount)
        assert rolled.loc[district, "value"] == pytest.approx(amount / ward_pop)
    # hand check: Unitary One 2017 = (15,000 + 5,000) / (50,000 + 30,000 + 20,000)
    assert rolled.loc["E06000001", "value"] == pytest.approx(0.2)


def test_parish_indicators(fixture_db):
    df = values(fixture_db)
    assert v(df, "E07000001", "parishes_per_10k", "2019") == pytest.approx(2 / 30_000 * 10_000)
    assert v(df, "E06000002", "parishes_per_10k", "2019") == 0.0  # no parish in the ONS list
    assert v(df, "E10000001", "parishes_per_10k", "2019") == pytest.approx(4 / 100_000 * 10_000)
    assert v(df, "E07000001", "parished_wards_share", "2019") == pytest.approx(100.0)
    assert v(df, "E06000001", "parished_wards_share", "2019") == pytest.approx(100 / 3)
    assert v(df, "E06000002", "parished_wards_share", "2019") == 0.0
    # District Two has a parish in a 2019 ward that no longer exists: unknown, not zero
    assert math.isnan(v(df, "E07000002", "parished_wards_share", "2019"))
    assert math.isnan(v(df, "E05000004", "parishes_per_10k", "2019"))
    # ...but Ward Three keeps its 2018 code, so its parish is known
    assert v(df, "E05000003", "parishes_per_10k", "2019") == pytest.approx(1 / 40_000 * 10_000)
    # a parish crossing two wards counts in each: Ward One holds parishes One and Two
    assert v(df, "E05000001", "parishes_per_10k", "2019") == pytest.approx(2 / 10_000 * 10_000)
    # England: (2 + 1 + 0) parished of (2 + 3 + 1) wards in the three known districts
    assert v(df, "E92000001", "parished_wards_share", "2019") == pytest.approx(50.0)


def test_enabler_ratio_and_shift(fixture_db):
    df = values(fixture_db)
    # (precepts 3,000 + grants 15,000) per £100 of place spending 400,000
    assert v(df, "E07000001", "enabler_ratio", "2013-14") == pytest.approx(4.5)
    # 2017-18: (4,000 + 12,000) / 350,000 × 100
    later = 16_000 / 350_000 * 100
    assert v(df, "E07000001", "enabler_ratio", "2017-18") == pytest.approx(later)
    assert v(df, "E07000001", "enabler_shift", "2013-14 to 2017-18") == pytest.approx(later - 4.5)
    # council lens: per £100 of District One's own 100,000
    assert v(df, "E07000001", "enabler_ratio_council", "2013-14") == pytest.approx(18.0)
    # county, council lens: all precepts and grants in the county / the county's own £1,000,000
    assert v(df, "E10000001", "enabler_ratio_council", "2013-14") == pytest.approx(2.6)
    # county, place lens: (4,000 + 22,000) / 1,300,000
    assert v(df, "E10000001", "enabler_ratio", "2013-14") == pytest.approx(2.0)
    # Unitary Two's 2017-18 spending is missing, so is its ratio and its shift
    assert math.isnan(v(df, "E06000002", "enabler_ratio", "2017-18"))
    assert math.isnan(v(df, "E06000002", "enabler_shift", "2013-14 to 2017-18"))


def test_participation_is_a_regional_estimate(fixture_db):
    df = values(fixture_db)
    assert v(df, "E07000001", "civic_participation", "2013-14") == 40.0  # regional '2014' = 2013/14
    assert v(df, "E06000002", "civic_participation", "2017-18") == 30.0
    assert note(df, "E07000001", "civic_participation", "2017-18").startswith("regional estimate")
    assert v(df, "E92000001", "civic_participation", "2017-18") == 39.0
    con = duckdb.connect(str(fixture_db), read_only=True)
    scored = con.execute("SELECT scored FROM indicators WHERE indicator_id = 'civic_participation'").fetchone()[0]
    con.close()
    assert scored is False


def test_area_and_density(fixture_db):
    df = values(fixture_db)
    assert v(df, "E07000001", "area_km2", "2024") == pytest.approx(100.0, rel=1e-3)
    assert v(df, "E07000001", "population_density", "2024") == pytest.approx(300.0, rel=1e-3)


def test_missing_values_are_null_never_zero_filled(fixture_db):
    df = values(fixture_db)
    missing = df[df["value"].isna()]
    assert len(missing) > 0
    for ind_id in ("place_spend_per_head", "wards_reached_share", "parished_wards_share"):
        rows = missing[missing.indicator_id == ind_id]
        assert (rows["note"].fillna("").str.contains("missing")).all(), rows


def test_metadata_rows(fixture_db):
    con = duckdb.connect(str(fixture_db), read_only=True)
    meta = con.execute("SELECT * FROM indicators").df().set_index("indicator_id")
    con.close()
    for i in families.derived_definitions():
        assert i.id in meta.index
    assert meta.loc["place_spend_per_head", "polarity"] == -1
    assert "ward" not in meta.loc["place_spend_per_head", "levels"].split(",")
    assert "ward" in meta.loc["grants_amount_per_head", "levels"].split(",")


def test_derive_with_nothing_loaded_writes_metadata_only():
    """A build whose optional sources found nothing still derives (no values, every definition)."""
    con = duckdb.connect()
    con.execute((ROOT / "etl" / "schema.sql").read_text())
    insert_rows(con, "areas", pd.read_csv(FIX / "areas.csv", dtype=str))
    ctx = BuildContext(con, FIX, "empty")
    families.derive(ctx)
    assert con.execute("SELECT count(*) FROM indicator_values").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM indicators").fetchone()[0] == len(families.derived_definitions())
    assert any("no finance rows" in i.message for i in ctx.reports["indicators"].issues)


def test_derive_adds_local_figures(tmp_path):
    """A loaded local civic participation figure replaces the regional estimate for its area and
    year, is marked local, and other local measures appear as local context indicators."""
    db = tmp_path / "local.duckdb"
    con = duckdb.connect(str(db))
    con.execute((ROOT / "etl" / "schema.sql").read_text())
    insert_rows(con, "areas", pd.read_csv(FIX / "areas.csv", dtype=str))
    insert_rows(con, "participation", pd.read_csv(FIX / "participation.csv", dtype={"period": str}))
    insert_rows(
        con,
        "local_values",
        [
            (
                "volunteering.csv",
                None,
                2,
                "volunteering",
                "E07000001",
                "district",
                "2017-18",
                "civic_participation_rate",
                55.0,
                "council survey",
            ),
            ("projects.csv", None, 2, "projects", "E07000001", "district", "2017", "neighbourhood_plans", 3.0, None),
        ],
        ["file", "sheet", "row", "template", "area_code", "area_level", "period", "measure", "value", "source_note"],
    )
    families.derive(BuildContext(con, FIX, "local"))
    df = con.execute("SELECT * FROM indicator_values").df()
    meta = con.execute("SELECT * FROM indicators").df().set_index("indicator_id")
    con.close()
    row = df[(df.area_code == "E07000001") & (df.indicator_id == "civic_participation") & (df.period == "2017-18")]
    assert len(row) == 1 and row["value"].iloc[0] == 55.0 and bool(row["is_local"].iloc[0])
    plan = df[(df.indicator_id == "neighbourhood_plans")]
    assert plan["period"].tolist() == ["2017-18"] and plan["value"].tolist() == [3.0]
    assert bool(meta.loc["neighbourhood_plans", "is_local"]) and not bool(meta.loc["neighbourhood_plans", "scored"])


# ---------------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(real_db):
    con = duckdb.connect(str(real_db), read_only=True)
    yield con
    con.close()


def test_real_two_tier_money_is_conserved(real):
    """Each county's place spending = the county's own + all its districts' own spending, taken
    from the finance table directly (apportioning the county by population moves money between
    its districts but never creates or loses any)."""
    df = real.execute("""
        WITH own AS (SELECT council_code, period, sum(value_gbp) AS own FROM finance
                     WHERE line = 'total_service' GROUP BY ALL),
        d AS (SELECT a.county_code, o.period, sum(o.own) AS districts_own FROM areas a
              JOIN own o ON o.council_code = a.code WHERE a.tier = 'lower' GROUP BY ALL)
        SELECT v.area_code, v.period, v.numerator, c.own + d.districts_own AS direct, v.note
        FROM indicator_values v
        JOIN own c ON c.council_code = v.area_code AND c.period = v.period
        JOIN d ON d.county_code = v.area_code AND d.period = v.period
        WHERE v.indicator_id = 'place_spend_per_head' AND v.value IS NOT NULL""").df()
    counts = df["note"].str.extract(r"sum of (\d+) of (\d+) districts").astype(float)
    full = df[counts[0] == counts[1]]
    assert full["area_code"].nunique() == 21 and len(full) >= 21 * 5
    assert np.allclose(full["numerator"], full["direct"], rtol=1e-9)


def test_real_rollups_equal_direct_computation(real):
    """England and regional grant totals built by rolling districts up equal direct sums over
    grants_agg; England's population denominator equals the Census 2021 England population."""
    g = real.execute("""
        SELECT a.region_code, sum(g.amount_gbp) AS amount, sum(g.grants) AS grants
        FROM grants_agg g JOIN areas a ON a.code = g.district_code
        WHERE g.award_year = 2017 AND g.funder NOT IN ('Department for Transport') GROUP BY ALL""").df()
    if g.empty:
        pytest.skip("no grants loaded")
    vals = (
        real.execute("""SELECT area_code, numerator, denominator FROM indicator_values
                           WHERE indicator_id = 'grants_amount_per_head' AND period = '2017-18'""")
        .df()
        .set_index("area_code")
    )
    for r in g.itertuples():
        assert vals.loc[r.region_code, "numerator"] == pytest.approx(r.amount, rel=1e-9)
    assert vals.loc["E92000001", "numerator"] == pytest.approx(g["amount"].sum(), rel=1e-9)
    pop = real.execute(
        "SELECT value FROM indicator_values WHERE area_code = 'E92000001' AND indicator_id = 'population'"
    ).fetchone()[0]
    assert vals.loc["E92000001", "denominator"] == pytest.approx(pop)


def test_real_ward_values_roll_up_to_district_ward_matched_grants(real):
    """For every district-year with published ward figures, its wards' grant money adds up to the
    district's ward-matched grants summed straight from grants_agg, and its wards_reached_share
    equals the wards with a grant over all its wards."""
    df = real.execute("""
        WITH w AS (
            SELECT a.district_code, v.period, sum(v.numerator) AS ward_sum, count(*) AS n_rows
            FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
            WHERE v.indicator_id = 'grants_amount_per_head' AND v.numerator IS NOT NULL GROUP BY ALL),
        g AS (
            SELECT district_code, (award_year::VARCHAR || '-' || lpad(((award_year + 1) % 100)::VARCHAR, 2, '0'))
                       AS period, sum(amount_gbp) AS direct
            FROM grants_agg WHERE ward_code IS NOT NULL AND funder <> 'Department for Transport' GROUP BY ALL)
        SELECT w.district_code, w.period, w.ward_sum, coalesce(g.direct, 0) AS direct
        FROM w LEFT JOIN g USING (district_code, period)""").df()
    if df.empty:
        pytest.skip("no grants loaded")
    assert len(df) > 500
    assert np.allclose(df["ward_sum"], df["direct"], rtol=1e-9, atol=0.01)
    reach = real.execute("""
        WITH w AS (SELECT a.district_code, v.period, sum(v.value) / 100 AS reached, count(*) AS wards
                   FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
                   WHERE v.indicator_id = 'wards_reached_share' AND v.value IS NOT NULL GROUP BY ALL)
        SELECT v.value, 100 * w.reached / w.wards AS direct FROM w
        JOIN indicator_values v ON v.area_code = w.district_code AND v.period = w.period
             AND v.indicator_id = 'wards_reached_share'""").df()
    assert len(reach) > 500 and np.allclose(reach["value"], reach["direct"])


def test_real_lottery_funder_list_matches_the_data(real):
    names = {r[0] for r in real.execute("SELECT DISTINCT funder FROM grants_agg").fetchall()}
    if not names:
        pytest.skip("no grants loaded")
    assert {n for n in names if "lottery" in n.lower()} == set(shared.LOTTERY_FUNDERS)


def test_real_values_are_finite_and_shares_in_range(real):
    df = (
        real.execute("""SELECT indicator_id, min(value) AS lo, max(value) AS hi, count(value) AS n
                         FROM indicator_values GROUP BY 1""")
        .df()
        .set_index("indicator_id")
    )
    for share in (
        "parish_precept_share",
        "wards_reached_share",
        "parished_wards_share",
        "grants_ward_matched_share",
        "civic_participation",
    ):
        if share in df.index and df.loc[share, "n"]:
            assert 0 <= df.loc[share, "lo"] and df.loc[share, "hi"] <= 100, share
    assert df.loc["place_spend_per_head", "lo"] > 0
