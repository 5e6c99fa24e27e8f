"""Benchmarks beside each indicator (England, region, neighbours' median — same year) and "what
stands out" against the statistical neighbours: the rule on hand-made frames, the values on the
real build checked against the database with independent SQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from powerbalance import benchmarks, queries
from tests.helpers import sql


def _bench(rows, comparable=None):
    cols = ["indicator_id", "name", "period", "value", "unit", "neighbours_median", "neighbours_with_value", "polarity"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(comparable=[True] * len(frame) if comparable is None else comparable)


SPREAD = pd.DataFrame(
    {"indicator_id": ["a", "b", "c", "d", "e"], "period": ["2017-18"] * 5, "iqr": [10.0, 1.0, 2.0, 5.0, 4.0]}
)


def test_stand_out_takes_the_largest_gaps_in_interquartile_ranges_with_direction():
    b = _bench(
        [
            ["a", "A", "2017-18", 30.0, "£ per resident", 10.0, 8, 1],  # +2.0 ranges, enabling
            ["b", "B", "2017-18", 5.0, "%", 4.0, 8, 1],  # +1.0
            ["c", "C", "2017-18", 100.0, "£ per resident", 106.0, 8, -1],  # −3.0 on a providing one
            ["d", "D", "2017-18", 9.0, "%", 10.0, 8, 1],  # −0.2: below the threshold
            ["e", "E", "2017-18", 90.0, "people", 10.0, 8, 0],
        ]
    )  # context: never
    out = benchmarks.stand_out(b, SPREAD)
    assert out["indicator_id"].tolist() == ["c", "a", "b"]
    assert out["gap_iqr"].tolist() == pytest.approx([-3.0, 2.0, 1.0])
    # lower spending on a "higher = more providing" indicator leans enabling
    assert out["leaning"].tolist() == ["more enabling", "more enabling", "more enabling"]
    assert "lower, so more enabling" in out["sentence"][0] and "2017-18" in out["sentence"][0]


def test_stand_out_is_empty_with_too_few_neighbours_or_no_spread():
    few = benchmarks.MIN_NEIGHBOURS - 1
    b = _bench([["a", "A", "2017-18", 30.0, "£", 10.0, few, 1], ["b", "B", "2017-18", 5.0, "%", np.nan, 0, 1]])
    assert benchmarks.stand_out(b, SPREAD).empty
    flat = SPREAD.assign(iqr=0.0)
    b2 = _bench([["a", "A", "2017-18", 30.0, "£", 10.0, 8, 1]])
    assert benchmarks.stand_out(b2, flat).empty
    assert benchmarks.stand_out(b2.assign(polarity=-1), SPREAD)["leaning"].tolist() == ["more providing"]


def test_direction_words():
    assert benchmarks.direction_words(1) == "higher = more enabling"
    assert benchmarks.direction_words(-1) == "higher = more providing"
    assert benchmarks.direction_words(0) == "context only"


@pytest.mark.slow
def test_adur_benchmarks_equal_the_database_for_the_same_year(real_db):
    period = queries.index_periods(real_db)[-1]
    p = queries.area_profile("E07000223", period, db=real_db)
    b = p.benchmarks
    assert len(b) and set(b["indicator_id"]) == set(p.indicators["indicator_id"]) - {"ruc"}
    peers = p.peers["peer_code"].tolist()
    assert len(peers) >= benchmarks.MIN_NEIGHBOURS
    vals = sql(real_db, "SELECT area_code, indicator_id, period, value FROM indicator_values WHERE value IS NOT NULL")
    # neighbours' own figures: a participation figure not supplied locally is its region's survey estimate
    own = sql(
        real_db,
        """SELECT v.area_code, v.indicator_id, v.period, v.value FROM indicator_values v
           JOIN indicators i USING (indicator_id)
           WHERE v.value IS NOT NULL AND (i.domain <> 'participation' OR v.is_local)""",
    )
    checked = 0
    for r in b.itertuples(index=False):
        same = vals[(vals["indicator_id"] == r.indicator_id) & (vals["period"] == r.period)].set_index("area_code")
        eng = same["value"].get("E92000001", np.nan)
        reg = same["value"].get("E12000008", np.nan)  # Adur is in the South East
        near = own[(own["indicator_id"] == r.indicator_id) & (own["period"] == r.period)].set_index("area_code")
        med = near["value"].reindex(peers).median()
        assert r.england == pytest.approx(eng, nan_ok=True), r.indicator_id
        assert r.region == pytest.approx(reg, nan_ok=True), r.indicator_id
        assert r.neighbours_median == pytest.approx(med, nan_ok=True), r.indicator_id
        assert r.neighbours_with_value == near["value"].reindex(peers).notna().sum()
        checked += not np.isnan(eng)
    assert checked >= 5
    assert set(b["direction"]) <= set(benchmarks.DIRECTION_WORDS.values())
    assert b["source"].str.len().min() > 0
    shown = benchmarks.display_table(p.indicators, b)
    assert list(shown.columns) == list(benchmarks.DISPLAY_COLUMNS.values())
    assert len(p.stand_out) <= benchmarks.STAND_OUT_COUNT
    assert (p.stand_out["neighbours_with_value"] >= benchmarks.MIN_NEIGHBOURS).all()


@pytest.mark.slow
def test_ward_and_region_have_no_stand_out(real_db):
    """A ward has no neighbours of its own and a region none at all: nothing stands out, but
    England and region values are still there."""
    period = queries.index_periods(real_db)[-1]
    ward = sql(real_db, "SELECT code FROM areas WHERE level = 'ward' AND district_code = 'E07000223' LIMIT 1")
    for code in (ward["code"][0], "E12000007"):
        p = queries.area_profile(code, period, db=real_db)
        assert p.stand_out.empty, code
        assert p.benchmarks["england"].notna().any(), code
        assert p.benchmarks["neighbours_median"].isna().all(), code


def test_a_value_that_is_not_the_areas_own_never_stands_out():
    rows = [
        ["a", "A", "2017-18", 30.0, "%", 10.0, 8, 1],  # +2.0 ranges, but a regional estimate
        ["b", "B", "2017-18", 5.0, "%", 4.0, 8, 1],  # +1.0, the council's own
    ]
    out = benchmarks.stand_out(_bench(rows, comparable=[False, True]), SPREAD)
    assert out["indicator_id"].tolist() == ["b"]


@pytest.mark.slow
def test_regional_survey_estimates_are_not_compared_with_neighbours(real_db):
    """Civic participation is given to every council as its region's survey figure (issue: Hartlepool
    was called 'more providing' because its region answered the survey differently). It never stands
    out for a council without a local figure, and neighbours' regional figures never make a median."""
    local = sql(real_db, "SELECT DISTINCT area_code FROM indicator_values WHERE is_local")["area_code"].tolist()
    councils = sql(real_db, "SELECT code FROM areas WHERE level IN ('district', 'county') ORDER BY code")["code"]
    checked = 0
    for period in ("2013-14", "2017-18"):
        for code in councils[::9]:
            if code in local:
                continue
            p = queries.area_profile(code, period, db=real_db)
            assert "civic_participation" not in set(p.stand_out["indicator_id"]), (code, period)
            civic = p.benchmarks[p.benchmarks["indicator_id"] == "civic_participation"]
            if len(civic) and p.peers is not None and not set(p.peers["peer_code"]) & set(local):
                assert civic["neighbours_median"].isna().all() and (civic["neighbours_with_value"] == 0).all(), code
                checked += 1
    assert checked > 20  # councils whose civic participation row was checked
