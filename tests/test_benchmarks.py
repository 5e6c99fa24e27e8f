"""Benchmarks beside each indicator (England, region, neighbours' median — same year) and "what
stands out" against the statistical neighbours: the rule on hand-made frames, the values on the
real build checked against the database with independent SQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from powerbalance import benchmarks, brief, queries
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


def test_judged_takes_a_councils_own_spending_by_tier_and_lens():
    """Hand-made: what "what stands out" may call the council's value, for each tier and lens."""
    ids = ["place_spend_per_head", "enabler_shift", "council_spend_per_head", "grants_per_10k"]
    keep = lambda tier, lens: [i for i, ok in zip(ids, benchmarks.judged(ids, tier, lens)) if ok]  # noqa: E731
    for lens in ("place", "council"):
        # a shire district's or county's place spending holds the other tier's: its own is compared
        assert keep("lower", lens) == keep("upper", lens) == ["council_spend_per_head", "grants_per_10k"]
        # a single-tier council's place spending is its own: said once, as the place measure
        assert keep("single", lens) == ["place_spend_per_head", "enabler_shift", "grants_per_10k"]
    # the community lens treats council spending as context, for every tier
    for tier in ("lower", "upper", "single"):
        assert keep(tier, "community") == ["grants_per_10k"]


def test_stand_out_leaves_out_what_is_not_judged_and_states_partial_values():
    rows = [
        ["place_spend_per_head", "Place", "2017-18", 30.0, "£", 10.0, 8, -1],  # −2.0 ranges: the largest gap
        ["council_spend_per_head", "Own", "2017-18", 5.0, "£", 4.0, 8, -1],  # −1.0
    ]
    b = _bench(rows).assign(partial=["", "based on 6 of 12 districts"], neighbours_partial=[0, 3])
    spread = pd.DataFrame(
        {"indicator_id": ["place_spend_per_head", "council_spend_per_head"], "period": "2017-18", "iqr": [10.0, 1.0]}
    )
    out = benchmarks.stand_out(b, spread, tier="lower", lens="council")
    assert out["indicator_id"].tolist() == ["council_spend_per_head"]
    assert "£5.0 (based on 6 of 12 districts) against" in out["sentence"][0]
    assert "(8 neighbours with a value, 3 of them also based on only part of their area)" in out["sentence"][0]
    assert benchmarks.stand_out(b, spread, tier="lower", lens="community").empty


@pytest.mark.slow
def test_a_two_tier_council_is_never_called_out_on_its_places_spending(real_db):
    """Issue: Cambridge was called 'more enabling' on place spending that is mostly Cambridgeshire
    County Council's, and West Sussex 'more providing' on a place change that holds its districts'
    spending. Every 4th shire district and every county, in every lens: no place-spending measure
    stands out; in the community lens no spending measure at all; the table still shows them."""
    period = queries.index_periods(real_db)[-1]
    two_tier = sql(
        real_db, "SELECT code FROM areas WHERE tier IN ('lower', 'upper') AND level IN ('district', 'county')"
    )
    codes = sorted(set(two_tier["code"][::4]) | {"E07000008", "E10000032"})
    place = {"place_spend_per_head", "parish_precept_share", "enabler_ratio", "enabler_shift"}
    place |= {"place_spend_shift", "parish_precept_share_shift"}  # made from spending on the place
    own = {"council_spend_per_head", "enabler_ratio_council"}
    own_shown = 0
    for code in codes:
        for lens in ("place", "council", "community"):
            p = queries.area_profile(code, period, lens=lens, db=real_db)
            out = set(p.stand_out["indicator_id"])
            assert not out & place, (code, lens, out)
            if lens == "community":
                assert not out & own, (code, lens, out)
            own_shown += "council_spend_per_head" in out
            assert "place_spend_per_head" in set(p.benchmarks["indicator_id"]), code
    assert own_shown > 0  # the council's own spending is still compared in the spending lenses


@pytest.mark.slow
def test_the_spread_is_taken_within_the_councils_tier(real_db):
    """A shire district's own spending (about £110 a head) is measured against the spread of shire
    districts, not of every district (unitaries spend ten times as much)."""
    pairs = pd.DataFrame({"indicator_id": ["council_spend_per_head"], "period": ["2017-18"]})
    got = benchmarks.level_spread("district", pairs, "lower", real_db)["iqr"].iloc[0]
    vals = sql(
        real_db,
        """SELECT v.value FROM indicator_values v JOIN areas a ON a.code = v.area_code
           WHERE a.level = 'district' AND a.tier = 'lower' AND v.indicator_id = 'council_spend_per_head'
             AND v.period = '2017-18' AND v.value IS NOT NULL""",
    )["value"]
    assert got == pytest.approx(vals.quantile(0.75) - vals.quantile(0.25))


@pytest.mark.slow
def test_a_value_summed_over_some_districts_says_so_in_what_stands_out(real_db):
    """Issue: Kent's 'wards reached' (6 of 12 districts) was compared as if complete. Every county in
    every index year: a stand-out value whose note says 'sum of N of M' (N < M) carries 'based on N of M'."""
    import re

    counties = sql(real_db, "SELECT code FROM areas WHERE level = 'county'")["code"]
    notes = sql(real_db, "SELECT area_code, indicator_id, period, note FROM indicator_values")
    notes = notes.set_index(["area_code", "indicator_id", "period"])["note"]
    checked = 0
    for period in queries.index_periods(real_db):
        for code in counties:
            p = queries.area_profile(code, period, lens="community", db=real_db)
            for ind, per, sentence in zip(p.stand_out["indicator_id"], p.stand_out["period"], p.stand_out["sentence"]):
                m = re.search(r"sum of (\d+) of (\d+) districts", str(notes.get((code, ind, per), "")))
                if m and int(m.group(1)) < int(m.group(2)):
                    words = f"(based on {m.group(1)} of {m.group(2)} districts)"
                    assert words in sentence, sentence
                    assert words in brief.render(p), (code, period)  # the brief's short line too
                    checked += 1
    assert checked > 0
