"""Issue 12 end to end on the real data: 2023-24 finance in the indicators, the longest shifts,
the index kept to years with every domain, and the participation series with its 2022/23 gap.
Expected values are recomputed here from the raw facts (RS 2023-24 ODS) and the population
indicator, not read back from the code under test."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from etl.indicators.longest_shift import measure_span
from powerbalance import index as ix
from powerbalance import queries

ADUR, WEST_SUSSEX, BIRMINGHAM, ENGLAND = "E07000223", "E10000032", "E08000025", "E92000001"


def _value(db, code, indicator, period):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT value, note FROM indicator_values WHERE area_code = ? AND indicator_id = ? AND period = ?",
            [code, indicator, period],
        ).fetchone()
    finally:
        con.close()


def _population(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(
            con.execute(
                "SELECT v.area_code, v.value FROM indicator_values v JOIN areas a ON a.code = "
                "v.area_code WHERE v.indicator_id = 'population' AND a.level = 'district'"
            ).fetchall()
        )
    finally:
        con.close()


def test_measure_span_is_the_widest_well_covered_span():
    districts = pd.Series(["A", "B", "C", "D"])
    v = pd.DataFrame(
        {
            "indicator_id": "m",
            "area_code": ["A", "B", "C", "A", "B", "C", "D", "A"],
            "period": ["2010-11"] * 3 + ["2023-24"] * 4 + ["2016-17"],
            "value": [1.0, 2.0, np.nan, 1.0, 1.0, 1.0, 1.0, 5.0],
        }
    )
    assert measure_span(v, "m", districts) == ("2010-11", "2023-24")  # 2016-17: 1 of 4, too thin
    assert measure_span(v[v["period"] != "2010-11"], "m", districts) is None


def test_adur_2023_24_place_spending_is_apportioned_from_the_published_totals(real_db):
    pop = _population(real_db)
    con = duckdb.connect(str(real_db), read_only=True)
    ws = [
        c
        for (c,) in con.execute(
            "SELECT code FROM areas WHERE county_code = ? AND level = 'district'", [WEST_SUSSEX]
        ).fetchall()
    ]
    con.close()
    share = pop[ADUR] / sum(pop[c] for c in ws)
    place = 11_894_000 + 1_486_213_000 * share  # RS 2023-24: Adur TSE, West Sussex TSE
    value, note = _value(real_db, ADUR, "place_spend_per_head", "2023-24")
    assert value == pytest.approx(place / pop[ADUR])
    precept_share, _ = _value(real_db, ADUR, "parish_precept_share", "2023-24")
    assert precept_share == pytest.approx(100 * 440_000 / place)
    assert _value(real_db, ADUR, "parish_precepts_per_head", "2023-24")[0] == pytest.approx(440_000 / pop[ADUR])
    assert "county £1,486,213,000" in note


def _latest_finance_year(db) -> str:
    """The newest financial year with council spending, read from the build (so a newer Revenue
    Outturn file moves every test below with it: CONTRIBUTING, "Add a year")."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT max(period) FROM indicator_values WHERE indicator_id = 'place_spend_per_head' AND value IS NOT NULL"
        ).fetchone()[0]
    finally:
        con.close()


def test_unpublished_2023_24_council_is_missing_with_the_reason(real_db):
    value, note = _value(real_db, BIRMINGHAM, "place_spend_per_head", "2023-24")
    assert value is None and "not published by MHCLG" in note
    latest = _latest_finance_year(real_db)
    con = duckdb.connect(str(real_db), read_only=True)
    unpublished = con.execute(
        """SELECT v.area_code FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = 'district'
           WHERE v.indicator_id = 'place_spend_per_head' AND v.period = ? AND v.value IS NULL""",
        [latest],
    ).fetchall()
    con.close()
    for (code,) in unpublished:  # the longest shift of a council without the latest year says why
        value, note = _value(real_db, code, "place_spend_shift", f"2010-11 to {latest}")
        assert value is None and f"no value for {latest}" in note, code


def test_longest_shift_runs_2010_11_to_the_latest_year(real_db):
    latest = _latest_finance_year(real_db)
    assert latest >= "2023-24"
    for measure, shift in (
        ("place_spend_per_head", "place_spend_shift"),
        ("parish_precept_share", "parish_precept_share_shift"),
    ):
        later, _ = _value(real_db, ADUR, measure, latest)
        earlier, _ = _value(real_db, ADUR, measure, "2010-11")
        got, note = _value(real_db, ADUR, shift, f"2010-11 to {latest}")
        assert got == pytest.approx(later - earlier) and f"{latest} minus 2010-11" in note


def test_england_shift_compares_the_same_districts_in_both_years(real_db):
    latest = _latest_finance_year(real_db)
    con = duckdb.connect(str(real_db), read_only=True)
    d = con.execute(
        """SELECT v.area_code, v.period, v.numerator, v.denominator FROM indicator_values v
           JOIN areas a ON a.code = v.area_code AND a.level = 'district'
           WHERE v.indicator_id = 'parish_precept_share' AND v.period IN ('2010-11', ?)
           AND v.value IS NOT NULL""",
        [latest],
    ).df()
    con.close()
    assert _districts_with(real_db, "parish_precept_share", "2023-24")[0] == 283  # 13 did not publish 2023-24
    both = d.groupby("area_code")["period"].nunique()
    d = d[d["area_code"].isin(both[both == 2].index)]
    n = d["area_code"].nunique()
    s = d.groupby("period")[["numerator", "denominator"]].sum()
    expected = 100 * (
        s.loc[latest, "numerator"] / s.loc[latest, "denominator"]
        - s.loc["2010-11", "numerator"] / s.loc["2010-11", "denominator"]
    )
    got, note = _value(real_db, ENGLAND, "parish_precept_share_shift", f"2010-11 to {latest}")
    assert got == pytest.approx(expected) and f"{n} of 296 districts with both years" in note


def test_index_is_not_computed_for_a_year_without_grants(real_db):
    assert ix.periods(real_db) == ["2013-14", "2014-15", "2017-18"]
    assert ix.default_shift_periods(real_db) == ("2013-14", "2017-18")  # the enabler ratio keeps its span
    df = ix.compute_index("district", "2023-24", db=real_db)
    assert len(df) == 296 and df["index"].isna().all() and df["rank"].isna().all()
    assert df["reason"].str.startswith("not computed for 2023-24").all()
    assert "grants data stop in 2018" in df["reason"].iloc[0]
    assert ix.compute_index("district", "2017-18", db=real_db)["index"].notna().sum() > 290


def test_latest_and_longest_name_their_years(real_db):
    latest = _latest_finance_year(real_db)
    df = queries.latest_and_longest([ADUR, BIRMINGHAM], db=real_db)
    assert set(df["period"]) == {latest}  # the latest year, never an older stand-in
    words = [queries.latest_sentence(r) for _, r in df.iterrows()]
    later, _ = _value(real_db, ADUR, "parish_precept_share", latest)
    earlier, _ = _value(real_db, ADUR, "parish_precept_share", "2010-11")
    assert (
        f"Parish precepts as a share of council spending: {later:.2f}% in {latest} ({earlier:.2f}% in 2010-11: "
        f"{later - earlier:+.2f} percentage points)" in words
    )
    birmingham, note = _value(real_db, BIRMINGHAM, "place_spend_per_head", latest)
    if birmingham is None and "not published by MHCLG" in note:  # as Birmingham's 2023-24
        assert f"Council service spending per head (place): no value for {latest} (not published by MHCLG)" in words


def _districts_with(db, indicator, period, region=None):
    """(districts with a value of ``indicator`` in ``period``, districts) in England or a region."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            """SELECT count(v.value), count(*) FROM areas a LEFT JOIN indicator_values v
               ON v.area_code = a.code AND v.indicator_id = ? AND v.period = ?
               WHERE a.level = 'district' AND (? IS NULL OR a.region_code = ?)""",
            [indicator, period, region, region],
        ).fetchone()
    finally:
        con.close()


def test_england_and_region_latest_lines_say_their_coverage(real_db):
    """Review: England's 2023-24 spending is a sum over the districts that published, and the change
    since 2010-11 is over those same districts; the sentences said neither."""
    latest = _latest_finance_year(real_db)
    assert _districts_with(real_db, "place_spend_per_head", "2023-24")[0] < 296  # the gap that made it matter
    for code, region in ((ENGLAND, None), ("E12000008", "E12000008")):
        n, m = _districts_with(real_db, "place_spend_per_head", latest, region)
        n0, _ = _districts_with(real_db, "place_spend_per_head", "2010-11", region)
        assert n0 == m
        lines = queries.latest_lines(queries.latest_and_longest([code], db=real_db))
        spend = next(w for w in lines if w.startswith("Council service spending per head (place)"))
        precepts = next(w for w in lines if w.startswith("Parish precepts per head"))
        if n < m:
            assert f"in {latest}, based on {n} of {m} districts (" in spend
            assert f"in 2010-11 over the same {n} districts: +£" in spend
            assert precepts.endswith(f"in {latest}, based on {n} of {m} districts")
        else:
            assert "based on" not in spend and "based on" not in precepts
    adur = queries.latest_lines(queries.latest_and_longest([ADUR], db=real_db))
    assert not any("based on" in w or "over the same" in w for w in adur)  # one council: nothing to say


def test_participation_series_england_to_2024_25_beside_the_region(real_db):
    df = queries.participation_series("E12000003", db=real_db)
    eng = df[df["area_code"] == ENGLAND].set_index("period")
    assert eng.index.tolist()[-4:] == ["2021-22", "2022-23", "2023-24", "2024-25"]
    assert np.isnan(eng.loc["2022-23", "value"])  # no survey: a gap, not a zero
    assert eng.loc["2024-25", ["value", "lci", "uci"]].tolist() == [33.585, 33.303, 33.868]
    region = df[df["area_code"] == "E12000003"]
    assert region["period"].max() == "2020-21" and len(region) == 8
