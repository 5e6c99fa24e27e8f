"""Spread measures against values worked out by hand on tests/fixtures/grants/spread_*.csv.

Fixture: six areas A1–A6 (A6 has no deprivation decile) and seven grants — A1 £100 + £100,
A3 £50, A4 £400, A5 £350, one not placed (£77) and one placed outside the areas (Z9, £10).
So money per area is A1 200, A2 0, A3 50, A4 400, A5 350, A6 0 (total £1,000).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from powerbalance.spread import amount_by_area, cold_spots, gini, lorenz, need_alignment, reach

FIX = Path(__file__).parent / "fixtures" / "grants"


@pytest.fixture(scope="module")
def areas():
    return pd.read_csv(FIX / "spread_areas.csv", dtype={"code": str})


@pytest.fixture(scope="module")
def grants():
    return pd.read_csv(FIX / "spread_grants.csv", dtype={"grant_id": str, "district_code": str})


@pytest.fixture(scope="module")
def by_area(grants, areas):
    return amount_by_area(grants, areas)


def test_amount_by_area_counts_real_zeros(by_area):
    got = by_area.set_index("code")[["grants", "amount_gbp"]].to_dict("index")
    assert got == {
        "A1": {"grants": 2, "amount_gbp": 200.0},
        "A2": {"grants": 0, "amount_gbp": 0.0},
        "A3": {"grants": 1, "amount_gbp": 50.0},
        "A4": {"grants": 1, "amount_gbp": 400.0},
        "A5": {"grants": 1, "amount_gbp": 350.0},
        "A6": {"grants": 0, "amount_gbp": 0.0},
    }


def test_reach_shows_unplaced_and_outside(grants, areas):
    assert reach(grants, areas) == {
        "grants": 7,
        "grants_placed": 6,
        "grants_unplaced": 1,
        "grants_outside_areas": 1,
        "amount_unplaced": 77.0,
        "areas_total": 6,
        "areas_reached": 4,
        "share_reached": pytest.approx(4 / 6),
    }


def test_gini_hand_computed(by_area):
    # sorted 0,0,50,200,350,400: Σ|xi−xj| over ordered pairs = 6400; G = 6400 / (2·6²·1000/6) = 0.5333…
    assert gini(by_area["amount_gbp"]) == pytest.approx(6400 / 12000)
    assert gini([5, 5, 5]) == 0
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # one of four areas gets everything: (n−1)/n
    assert gini([1, float("nan"), 1]) == 0  # missing dropped, not zero-filled
    assert math.isnan(gini([])) and math.isnan(gini([0, 0]))
    with pytest.raises(ValueError):
        gini([1, -1])


def test_lorenz_points(by_area):
    curve = lorenz(by_area["amount_gbp"])
    assert curve["share_of_areas"].tolist() == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1])
    assert curve["share_of_amount"].tolist() == pytest.approx([0, 0, 0, 0.05, 0.25, 0.6, 1])
    assert lorenz([0, 0])["share_of_amount"].isna().all()


def test_need_alignment_shares_by_decile(by_area):
    out = need_alignment(by_area, "imd_decile").set_index("decile")
    assert out.index.tolist() == list(range(1, 11))
    assert out.loc[[1, 2, 5, 10], "areas"].tolist() == [2, 1, 1, 1]
    assert out.loc[[1, 2, 5, 10], "share_of_amount"].tolist() == pytest.approx([0.2, 0.05, 0.4, 0.35])
    assert out.loc[[1, 2, 5, 10], "share_of_areas"].tolist() == pytest.approx([0.4, 0.2, 0.2, 0.2])
    assert out.loc[[1, 2, 5, 10], "ratio"].tolist() == pytest.approx([0.5, 0.25, 2.0, 1.75])
    assert out.loc[3, "amount_gbp"] == 0 and math.isnan(out.loc[3, "ratio"])  # no areas: no baseline
    assert out.attrs == {"areas_without_decile": 1, "amount_without_decile": 0.0}


def test_need_alignment_against_population(by_area):
    out = need_alignment(by_area, "imd_decile", weight_col="population").set_index("decile")
    # population with a decile: 10,000 → deciles 1, 2, 5, 10 hold 3,000 / 1,000 / 4,000 / 2,000
    assert out.loc[[1, 2, 5, 10], "share_of_weight"].tolist() == pytest.approx([0.3, 0.1, 0.4, 0.2])
    assert out.loc[[1, 2, 5, 10], "ratio"].tolist() == pytest.approx([0.2 / 0.3, 0.5, 1.0, 1.75])


def test_cold_spots(by_area):
    # judged A1–A5 (A6 has no decile); lower quartile of 0, 50, 200, 350, 400 is 50;
    # deciles ≤ 2 are A1 (200), A2 (0), A3 (50) → A2 then A3
    out = cold_spots(by_area, "imd_decile")
    assert out[["code", "rank"]].values.tolist() == [["A2", 1], ["A3", 2]]
    assert out.attrs["threshold"] == 50 and out.attrs["areas_not_judged"] == 1
    # per head: A1 .2, A2 0, A3 .05, A4 .1, A5 .175 → lower quartile .05; decile 1 only → A2
    per_head = cold_spots(by_area, "imd_decile", population_col="population", max_decile=1)
    assert per_head["code"].tolist() == ["A2"] and per_head.attrs["measure"] == "amount_per_head"


def test_cold_spots_ties_rank_most_deprived_first():
    frame = pd.DataFrame({"code": ["X", "Y", "Z", "W"], "decile": [2, 1, 1, 9], "amount_gbp": [0.0, 0.0, 0.0, 100.0]})
    assert cold_spots(frame, "decile")["code"].tolist() == ["Y", "Z", "X"]
