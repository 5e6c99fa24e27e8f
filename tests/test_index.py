"""The Provider → Enabler Index (powerbalance.index).

Pure maths on tests/fixtures/index/values.csv with every expected number worked out by hand;
the database functions on the fixture database of test_indicators; invariants on the real data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from powerbalance import index as ix
from tests.helpers import build_fixture_db

FIX = Path(__file__).parent / "fixtures" / "index"

# values.csv: a, b in domain "funding" (b is providing, polarity -1, and required); c, d in "projects".
SPEC = ix.IndexSpec(
    domain={"a": "funding", "b": "funding", "c": "projects", "d": "projects"},
    polarity={"a": 1, "b": -1, "c": 1, "d": 1},
    required=("b",),
)
W = {"funding": 0.5, "projects": 0.5, "participation": 0.0}


@pytest.fixture(scope="module")
def table():
    df = pd.read_csv(FIX / "values.csv").set_index("area")
    return df[["a", "b", "c", "d"]].astype(float), df["group"]


def test_weight_of_a_domain_the_spec_scores_nothing_of_is_not_used(table):
    """SPEC has no participation indicator: a participation weight is ignored (funding and projects keep
    the proportions chosen) instead of leaving every area with "no participation indicator"."""
    values, groups = table
    assert ix.measured_weights({"funding": 0.3, "projects": 0.1, "participation": 0.6}, SPEC) == pytest.approx(
        {"funding": 0.75, "projects": 0.25, "participation": 0.0}
    )
    with_part = ix.composite(values, SPEC, {"funding": 0.5, "projects": 0.5, "participation": 0.5}, groups)
    without = ix.composite(values, SPEC, W, groups)
    assert with_part["index"].notna().any()
    pd.testing.assert_series_equal(with_part["index"], without["index"])
    assert not with_part["reason"].str.contains("participation").any()
    bands = ix.monte_carlo_ranks(values, SPEC, {"funding": 0.5, "projects": 0.5, "participation": 0.5}, groups, n=50)
    pd.testing.assert_frame_equal(bands, ix.monte_carlo_ranks(values, SPEC, W, groups, n=50))
    only = ix.composite(values, SPEC, {"participation": 1.0}, groups)  # nothing measured: said, not invented
    assert only["index"].isna().all() and only["reason"].str.contains("no participation indicator").all()


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------


def test_minmax_and_polarity():
    x = np.array([[10.0, 100.0], [20.0, 300.0], [60.0, 200.0]])
    s = ix.normalise(x, [1, -1], "minmax")
    # a: (x - 10) / 50 → 0, 20, 100; b is providing: 100 - (x - 100) / 200 × 100 → 100, 0, 50
    assert s[:, 0] == pytest.approx([0, 20, 100])
    assert s[:, 1] == pytest.approx([100, 0, 50])


def test_zscore_uses_the_normal_cdf():
    # mean 0, population sd 1 → z = ±1; Φ(1) = 0.841345 (standard normal table)
    s = ix.normalise(np.array([[-1.0], [-1.0], [1.0], [1.0]]), [1], "zscore")
    assert s[:, 0] == pytest.approx([15.8655, 15.8655, 84.1345, 84.1345], abs=1e-3)
    # providing polarity mirrors it
    assert ix.normalise(np.array([[-1.0], [1.0], [-1.0], [1.0]]), [-1], "zscore")[0, 0] == pytest.approx(
        84.1345, abs=1e-3
    )


def test_percentile_ranks_share_ties():
    # ranks 1, 2.5, 2.5, 4 → (r - 1) / 3 × 100
    s = ix.normalise(np.array([[10.0], [20.0], [20.0], [40.0]]), [1], "percentile")
    assert s[:, 0] == pytest.approx([0, 50, 50, 100])


def test_constant_indicator_and_missing_values():
    s = ix.normalise(np.array([[5.0, np.nan], [5.0, 1.0], [5.0, 3.0]]), [1, 1], "minmax")
    assert s[:, 0] == pytest.approx([50, 50, 50])  # cannot tell areas apart: all the same real value
    assert math.isnan(s[0, 1]) and s[1:, 1] == pytest.approx([0, 100])  # missing stays missing


def test_outlier_is_capped_before_minmax():
    """One extreme value (skew 4.6, kurtosis 21 > the JRC thresholds 2 and 3.5) is capped at the
    next value, so the other areas keep the whole scale."""
    x = np.r_[np.arange(1.0, 21.0), 1000.0]
    skew, kurt = ix.skew_kurtosis(x)
    assert skew == pytest.approx(pd.Series(x).skew()) and kurt == pytest.approx(pd.Series(x).kurt())
    capped, n = ix.winsorise(x)
    assert n == 1 and capped[-1] == 20.0
    s = ix.normalise(x[:, None], [1], "minmax")[:, 0]
    assert s[19] == pytest.approx(100.0) and s[-1] == pytest.approx(100.0)
    assert s[9] == pytest.approx(100 * 9 / 19)  # value 10 on the 1..20 scale
    raw = ix.normalise(x[:, None], [1], "minmax", treat_outliers=False)[:, 0]
    assert raw[19] == pytest.approx(100 * 19 / 999)  # without treatment 20 would score under 2


def test_unknown_method_and_bad_polarity():
    with pytest.raises(ValueError):
        ix.normalise(np.ones((2, 1)), [1], "rank")
    with pytest.raises(ValueError):
        ix.normalise(np.ones((2, 1)), [0], "minmax")


# ---------------------------------------------------------------------------------------------
# Weights, aggregation, ranks (hand-computed)
# ---------------------------------------------------------------------------------------------


def test_weights_sum_to_one_and_are_checked():
    w = ix.normalise_weights({"funding": 3, "projects": 1})
    assert sum(w.values()) == pytest.approx(1.0)
    assert w == pytest.approx({"funding": 0.75, "projects": 0.25, "participation": 0.0})
    assert sum(ix.DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)
    for bad in ({"funding": -1, "projects": 1}, {"funding": 0, "projects": 0}, {"wellbeing": 1}):
        with pytest.raises(ValueError):
            ix.normalise_weights(bad)


def test_composite_by_hand(table):
    values, groups = table
    res = ix.composite(values, SPEC, W, groups)
    # g1 areas with an index: A, B, C (D lacks the required b and has 2 of 4 indicators).
    # a: 10, 20, 60 → 0, 20, 100;  b (providing): 100, 300, 200 → 100, 0, 50
    # c: 1, 3, – → 0, 100, –;       d: 0, 10, 20 → 0, 50, 100
    # funding = mean(a, b): A 50, B 10, C 75;  projects = mean(c, d): A 0, B 75, C 100
    assert res.loc["A", "score_funding"] == pytest.approx(50)
    assert res.loc["B", "score_funding"] == pytest.approx(10)
    assert res.loc["C", "score_projects"] == pytest.approx(100)
    # index = 0.5 funding + 0.5 projects: A 25, B 42.5, C 87.5
    assert res.loc[["A", "B", "C"], "index"].tolist() == pytest.approx([25, 42.5, 87.5])
    assert res.loc[["C", "B", "A"], "rank"].tolist() == [1, 2, 3]
    assert (res.loc[["A", "B", "C"], "n_in_group"] == 3).all()
    # g2: E and F mirror each other (funding 50 each, projects 50 each) → a tie, both rank 1
    assert res.loc["E", "index"] == pytest.approx(50) and res.loc["F", "index"] == pytest.approx(50)
    assert res.loc["E", "rank"] == 1 and res.loc["F", "rank"] == 1


def test_missing_rule_gives_no_index_and_a_reason(table):
    values, groups = table
    res = ix.composite(values, SPEC, W, groups)
    assert math.isnan(res.loc["D", "index"]) and math.isnan(res.loc["D", "rank"])
    assert "no b" in res.loc["D", "reason"] and "only 2 of 4 scored indicators" in res.loc["D", "reason"]
    assert res.loc["C", "reason"] == ""  # 3 of 4 ≥ 2/3, both domains present
    only_c = values.copy()
    only_c.loc["C", "d"] = np.nan  # C now has no projects indicator at all
    res2 = ix.composite(only_c, SPEC, W, groups)
    assert "no projects indicator" in res2.loc["C", "reason"]
    # ...which does not matter when projects carry no weight
    res3 = ix.composite(only_c, SPEC, {"funding": 1.0}, groups)
    assert res3.loc["C", "reason"] == ""


def test_changing_a_weight_changes_the_ranking_as_expected(table):
    values, groups = table
    heavy = ix.composite(values, SPEC, {"funding": 0.9, "projects": 0.1}, groups)
    # A = 0.9 × 50 + 0.1 × 0 = 45; B = 0.9 × 10 + 0.1 × 75 = 16.5; C = 0.9 × 75 + 0.1 × 100 = 77.5
    assert heavy.loc[["A", "B", "C"], "index"].tolist() == pytest.approx([45, 16.5, 77.5])
    assert heavy.loc[["C", "A", "B"], "rank"].tolist() == [1, 2, 3]  # A overtakes B
    # all the weight on one domain ranks exactly by that domain's score
    for dom in ("funding", "projects"):
        one = ix.composite(values, SPEC, {dom: 1.0}, groups)
        g1 = one[groups == "g1"].dropna(subset=["index"])
        expected = g1[f"score_{dom}"].rank(ascending=False, method="min")
        assert (g1["rank"] == expected).all()


def test_normalisation_is_within_groups(table):
    values, groups = table
    together = ix.composite(values, SPEC, W, pd.Series("all", index=values.index))
    apart = ix.composite(values, SPEC, W, groups)
    # E and F tie within their own group but not when compared with g1
    assert apart.loc["E", "index"] == apart.loc["F", "index"]
    assert together.loc["E", "index"] != together.loc["F", "index"]


def test_index_is_bounded(table):
    values, groups = table
    for method in ix.METHODS:
        res = ix.composite(values, SPEC, W, groups, method)
        vals = res["index"].dropna()
        assert ((vals >= 0) & (vals <= 100)).all()


# ---------------------------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------------------------


def test_monte_carlo_bands(table):
    values, groups = table
    mc = ix.monte_carlo_ranks(values, SPEC, W, groups, n=300, seed=1)
    ok = mc.dropna(subset=["median_rank"])
    assert set(ok.index) == {"A", "B", "C", "E", "F"}
    assert ((ok["p5"] <= ok["median_rank"]) & (ok["median_rank"] <= ok["p95"])).all()
    assert ((ok["p5"] >= 1) & (ok["p95"] <= ok["n_in_group"])).all()
    # C leads both domains' best scores in g1 under every weighting and method: always first
    assert ok.loc["C", "median_rank"] == 1 and ok.loc["C", "band"] == 0 and bool(ok.loc["C", "robust"])
    # A and B swap places as the funding weight moves: their band is not robust in a group of 3
    assert ok.loc["A", "band"] > 0 and not bool(ok.loc["A", "robust"])
    # E and F tie in every draw (mirror images), and ties share the better rank as in composite()
    assert ok.loc[["E", "F"], "median_rank"].tolist() == [1, 1] and (ok.loc[["E", "F"], "band"] == 0).all()
    # seeded: the same draws give the same answer
    again = ix.monte_carlo_ranks(values, SPEC, W, groups, n=300, seed=1)
    pd.testing.assert_frame_equal(mc, again)


def test_monte_carlo_without_spread_reproduces_the_ranks(table):
    """With one normalisation method and (almost) no weight spread, every draw is the base case."""
    values, groups = table
    mc = ix.monte_carlo_ranks(values, SPEC, W, groups, n=50, seed=0, methods=("minmax",), concentration=1e9)
    base = ix.composite(values, SPEC, W, groups)
    g1 = ["A", "B", "C"]
    assert mc.loc[g1, "median_rank"].tolist() == base.loc[g1, "rank"].tolist()
    assert (mc.loc[g1, "band"] == 0).all()


# ---------------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------------


def test_nearest_neighbours_by_hand():
    # one feature 0, 2, 4, 6: mean 3, sd √5, so neighbours are 2/√5 = 0.894 apart
    feats = pd.DataFrame({"x": [0.0, 2.0, 4.0, 6.0, 1.0, np.nan]}, index=list("pqrstu"))
    groups = pd.Series(["g", "g", "g", "g", "h", "g"], index=feats.index)
    nn = ix.nearest_neighbours(feats, groups, k=3)
    q = nn[nn.area_code == "q"].sort_values("peer_rank")
    assert q["peer_code"].tolist() == ["p", "r", "s"]
    assert q["distance"].tolist() == pytest.approx([2 / math.sqrt(5), 2 / math.sqrt(5), 4 / math.sqrt(5)])
    assert "t" not in set(nn["peer_code"]) and "t" not in set(nn["area_code"])  # other group, alone
    assert "u" not in set(nn["peer_code"]) and "u" not in set(nn["area_code"])  # missing feature


def test_rurality_ordinal():
    assert ix.rurality_ordinal("Urban: Majority nearer to a major town or city") == 1
    assert ix.rurality_ordinal("Intermediate urban: Majority further from a major town or city") == 2
    assert ix.rurality_ordinal("Intermediate rural: Majority nearer to a major town or city") == 3
    assert ix.rurality_ordinal("Majority rural: Majority further from a major town or city") == 4
    assert ix.rurality_ordinal("RMF") == 4 and ix.rurality_ordinal("UUN") == 1
    assert ix.rurality_ordinal(None) is None and ix.rurality_ordinal("unknown") is None


# ---------------------------------------------------------------------------------------------
# Database functions on the fixture database (values of test_indicators' fixture)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixdb(tmp_path_factory) -> Path:
    return build_fixture_db(tmp_path_factory.mktemp("indexdb") / "fixture.duckdb")


def test_compute_index_on_fixture(fixdb):
    df = ix.compute_index("district", "2017-18", db=fixdb).set_index("area_code")
    # shire districts (2017-18): District One has every indicator; District Two lacks
    # parished_wards_share. With two areas min–max gives 0 or 100 per indicator:
    # D1 funding: spend (higher = providing) 0, precept share 100, grants per head 100 → 66.67
    # D1 projects: grants per 10k 100, wards reached 0, parishes 100, parished (only D1) 50 → 62.5
    assert df.loc["E07000001", "score_funding"] == pytest.approx(200 / 3)
    assert df.loc["E07000001", "score_projects"] == pytest.approx(62.5)
    assert df.loc["E07000001", "index"] == pytest.approx((200 / 3 + 62.5) / 2)
    # D2: funding 100, 0, 0 → 33.33; projects 0, 100, 0 → 33.33
    assert df.loc["E07000002", "index"] == pytest.approx(100 / 3)
    assert df.loc["E07000001", "rank"] == 1 and df.loc["E07000001", "n_in_group"] == 2
    assert df.loc["E07000001", "group"] == "shire_district"
    # Unitary Two has no spending figure for 2017-18: no index, and the reason says why
    assert math.isnan(df.loc["E06000002", "index"])
    assert "place_spend_per_head" in df.loc["E06000002", "reason"]
    assert "Old Council B" in df.loc["E06000002", "reason"]
    # Unitary One is then alone in the single-tier group
    assert df.loc["E06000001", "rank"] == 1 and df.loc["E06000001", "n_in_group"] == 1
    assert list(df.columns[:5]) == ["name", "type", "tier", "group", "index"]


def test_council_lens_never_mixes_tiers(fixdb):
    with pytest.raises(ValueError):
        ix.compute_index("district", "2017-18", lens="council", group="all", db=fixdb)
    df = ix.compute_index("district", "2017-18", lens="council", db=fixdb)
    assert set(df["group"]) == {"shire_district", "single_tier"}
    every = ix.compute_index("district", "2017-18", lens="place", group="all", db=fixdb)
    assert set(every["group"]) == {"all_districts"}


def test_local_participation_enters_the_index(tmp_path):
    """Local civic participation figures (and only they) are scored once the participation
    domain has weight; an area without one then has no index and says why."""
    local = [
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
            None,
        ),
        (
            "volunteering.csv",
            None,
            3,
            "volunteering",
            "E07000002",
            "district",
            "2017-18",
            "civic_participation_rate",
            45.0,
            None,
        ),
    ]
    db = build_fixture_db(tmp_path / "local.duckdb", local)
    default = ix.compute_index("district", "2017-18", db=db).set_index("area_code")
    # weight 0: the participation score is shown but the index is the funding/projects one
    assert default.loc["E07000001", "score_participation"] == pytest.approx(100)
    assert default.loc["E07000001", "index"] == pytest.approx((200 / 3 + 62.5) / 2)
    w = {"funding": 0.4, "projects": 0.4, "participation": 0.2}
    df = ix.compute_index("district", "2017-18", w, db=db).set_index("area_code")
    # min–max of 55 and 45 among the shire districts → 100 and 0
    assert df.loc["E07000001", "score_participation"] == pytest.approx(100)
    assert df.loc["E07000002", "score_participation"] == pytest.approx(0)
    assert df.loc["E07000001", "index"] == pytest.approx(0.4 * 200 / 3 + 0.4 * 62.5 + 0.2 * 100)
    # Unitary One has only the regional estimate, which is never scored
    assert math.isnan(df.loc["E06000001", "index"])
    assert "no participation indicator" in df.loc["E06000001", "reason"]


def test_wards_have_no_index(fixdb):
    with pytest.raises(ValueError, match="no finance"):
        ix.compute_index("ward", "2017-18", db=fixdb)


def test_shift_on_fixture(fixdb):
    assert ix.default_shift_periods(fixdb) == ("2013-14", "2017-18")
    s = ix.shift(db=fixdb).set_index("area_code")
    # enabler ratio District One: 2013-14 (3,000 + 15,000) / 400,000 × 100 = 4.5;
    # 2017-18 (4,000 + 12,000) / 350,000 × 100 = 4.571
    assert s.loc["E07000001", "ratio_from"] == pytest.approx(4.5)
    assert s.loc["E07000001", "ratio_shift"] == pytest.approx(16_000 / 350_000 * 100 - 4.5)
    # 2013-14 index of District One: funding (0 + 100 + 100) / 3, projects: grants per 10k 100,
    # wards reached (only D1) 50, parishes 100, parished (only D1) 50 → 75 → index 70.83
    assert s.loc["E07000001", "index_from"] == pytest.approx((200 / 3 + 75) / 2)
    assert s.loc["E07000001", "rank_change"] == 0
    assert math.isnan(s.loc["E06000002", "ratio_shift"])


def test_peers_and_indicator_table_on_fixture(fixdb):
    p = ix.peers("E07000001", db=fixdb)
    assert p["peer_code"].tolist() == ["E07000002"]  # the only other shire district
    t = ix.indicator_table("E07000001", db=fixdb)
    row = t[(t.indicator_id == "place_spend_per_head") & (t.period == "2013-14")].iloc[0]
    assert row["value"] == pytest.approx(400_000 / 30_000)
    assert row["unit"] == "£ per resident" and row["coverage"] == "based on 4 of 4 districts with a value"
    assert t["domain"].iloc[0] == "headline"


# ---------------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------------


def test_real_index_invariants(real_db):
    for level, lens in (
        ("district", "place"),
        ("district", "council"),
        ("county", "place"),
        ("county", "council"),
        ("region", "place"),
    ):
        df = ix.compute_index(level, "2017-18", lens=lens, db=real_db)
        vals = df["index"].dropna()
        assert len(vals) > 0
        assert ((vals >= 0) & (vals <= 100)).all(), (level, lens)
        for dom in ix.DOMAINS:
            s = df[f"score_{dom}"].dropna()
            assert ((s >= 0) & (s <= 100)).all()
        # ranks run 1..n within each group
        for _g, sub in df.dropna(subset=["index"]).groupby("group"):
            assert sub["rank"].min() == 1 and sub["rank"].max() <= len(sub)
            assert (sub["n_in_group"] == len(sub)).all()
        # the index is the weighted mean of the domain scores with weights that sum to one
        w = ix.normalise_weights(None)
        assert sum(w.values()) == pytest.approx(1.0)
        ok = df.dropna(subset=["index"])
        assert np.allclose(ok["index"], w["funding"] * ok["score_funding"] + w["projects"] * ok["score_projects"])
        # every area without an index says why
        assert (df.loc[df["index"].isna(), "reason"].str.len() > 0).all()
        assert (df.loc[df["index"].notna(), "reason"] == "").all()


def test_real_district_coverage(real_db):
    df = ix.compute_index("district", "2017-18", db=real_db)
    assert len(df) == 296
    assert df["index"].notna().sum() >= 290
    assert set(df["group"]) == {"shire_district", "single_tier"}
    missing = df[df["index"].isna()]
    assert "E06000063" in set(missing["area_code"])  # Cumberland: Copeland published no 2017-18 total
    assert "Copeland" in missing.set_index("area_code").loc["E06000063", "reason"]


def test_real_rank_bands_contain_the_median(real_db):
    mc = ix.rank_uncertainty("district", "2017-18", n=200, seed=3, db=real_db).dropna(subset=["median_rank"])
    assert len(mc) >= 290
    assert ((mc["p5"] <= mc["median_rank"]) & (mc["median_rank"] <= mc["p95"])).all()
    assert ((mc["p5"] >= 1) & (mc["p95"] <= mc["n_in_group"])).all()
    assert mc["robust"].any()


def test_real_weight_change_moves_ranks_as_expected(real_db):
    """Domain scores do not depend on the weights, so moving weight from funding to projects
    changes each index by exactly Δw × (projects − funding); all weight on one domain ranks by
    that domain; and the best-funding and best-projects shire districts swap places as the
    weight swings from one domain to the other."""
    base = ix.compute_index("district", "2017-18", db=real_db).set_index("area_code")
    moved = ix.compute_index("district", "2017-18", {"funding": 0.2, "projects": 0.8}, db=real_db).set_index(
        "area_code"
    )
    ok = base["index"].notna()
    expected = base.loc[ok, "index"] + 0.3 * (base.loc[ok, "score_projects"] - base.loc[ok, "score_funding"])
    assert np.allclose(moved.loc[expected.index, "index"], expected)
    only = ix.compute_index("district", "2017-18", {"funding": 1.0}, db=real_db).set_index("area_code")
    fund = ix.compute_index("district", "2017-18", {"funding": 0.95, "projects": 0.05}, db=real_db).set_index(
        "area_code"
    )
    proj = ix.compute_index("district", "2017-18", {"funding": 0.05, "projects": 0.95}, db=real_db).set_index(
        "area_code"
    )
    for _, sub in only.dropna(subset=["index"]).groupby("group"):
        assert (sub["rank"] == sub["score_funding"].rank(ascending=False, method="min")).all()
    shire = base[base["group"] == "shire_district"]
    best_f, best_p = shire["score_funding"].idxmax(), shire["score_projects"].idxmax()
    assert best_f != best_p
    assert fund.loc[best_f, "rank"] < fund.loc[best_p, "rank"]
    assert proj.loc[best_p, "rank"] < proj.loc[best_f, "rank"]


def test_real_peers(real_db):
    p = ix.peers("E07000105", db=real_db)  # Ashford, a Kent shire district
    assert len(p) == 10
    assert (p["type"] == "shire_district").all()
    assert p["distance"].is_monotonic_increasing
    c = ix.peers("E10000016", db=real_db)  # Kent County Council
    assert len(c) == 10 and (c["type"] == "county").all()


def test_real_default_shift(real_db):
    assert ix.default_shift_periods(real_db) == ("2013-14", "2017-18")
    s = ix.shift(db=real_db)
    assert s["ratio_shift"].notna().sum() >= 290


def test_whole_level_answers_are_cached_per_build(fixdb, tmp_path):
    """compute_index / rank_uncertainty / peers compute each whole-level answer once per build:
    a repeat is the same answer, a caller changing its copy changes nothing for the next caller,
    and a new build published at the same path is read at once (never the cached old answer)."""
    import os
    import shutil

    live = tmp_path / "live.duckdb"
    shutil.copyfile(fixdb, live)
    first = ix.compute_index("district", "2017-18", db=live)
    kept = first.copy(deep=True)
    again = ix.compute_index("district", "2017-18", db=live)
    pd.testing.assert_frame_equal(again, kept)
    again.loc[:, "index"] = -1.0  # callers scribbling on their copies
    first.loc[:, "name"] = "changed"
    pd.testing.assert_frame_equal(ix.compute_index("district", "2017-18", db=live), kept)
    bands = ix.rank_uncertainty("district", "2017-18", n=50, db=live)
    pd.testing.assert_frame_equal(ix.rank_uncertainty("district", "2017-18", n=50, db=live), bands)
    assert ix.peers("E07000001", db=live)["peer_code"].tolist() == ["E07000002"]

    # a new build at the same path, in which District One has a local participation figure
    local = [
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
            None,
        ),
        (
            "volunteering.csv",
            None,
            3,
            "volunteering",
            "E07000002",
            "district",
            "2017-18",
            "civic_participation_rate",
            45.0,
            None,
        ),
    ]
    os.replace(build_fixture_db(tmp_path / "next.duckdb", local), live)
    w = {"funding": 0.4, "projects": 0.4, "participation": 0.2}
    new = ix.compute_index("district", "2017-18", w, db=live).set_index("area_code")
    assert new.loc["E07000001", "score_participation"] == pytest.approx(100)
    assert new.loc["E07000001", "index"] == pytest.approx(0.4 * 200 / 3 + 0.4 * 62.5 + 0.2 * 100)
    old_default = kept.set_index("area_code")
    assert math.isnan(old_default.loc["E07000001", "score_participation"])
    assert ix.compute_index("district", "2017-18", db=live).set_index("area_code").loc[
        "E07000001", "score_participation"
    ] == pytest.approx(100)


def test_methodology_document_matches_the_code():
    """docs/methodology.md (shown in the dashboard) describes every indicator and the defaults."""
    from etl.indicators import definitions
    from powerbalance import indicators

    text = (Path(__file__).resolve().parent.parent / "docs" / "methodology.md").read_text()
    for ind in definitions():
        assert f"`{ind.id}`" in text, ind.id
    assert "funding 0.5, projects 0.5" in text and ix.DEFAULT_WEIGHTS == {
        "funding": 0.5,
        "projects": 0.5,
        "participation": 0.0,
    }
    assert f"{indicators.WARD_MATCH_MIN:.0%}" in text
    assert "α = 20 × weight" in text
    assert "**500 times**" in text and "10% of the group" in text
    assert ix.ROBUST_BAND == 0.10 and ix.CONCENTRATION == 20.0


# ---- issue 17 item 5: a local indicator is scored only where enough of the group has it ------------------


def _spec_with_local():
    return ix.IndexSpec(
        {"spend": "funding", "grants": "funding", "projects_a": "projects", "local_x": "projects"},
        {"spend": -1, "grants": 1, "projects_a": 1, "local_x": 1},
        ("spend",),
        ("local_x",),
    )


def _frame(n: int, local_in: int, local_value: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "spend": rng.uniform(100, 200, n),
            "grants": rng.uniform(0, 10, n),
            "projects_a": rng.uniform(0, 5, n),
            "local_x": np.nan,
        },
        index=[f"A{i:02d}" for i in range(n)],
    )
    df.iloc[:local_in, df.columns.get_loc("local_x")] = local_value + np.arange(local_in)
    return df


def test_one_councils_local_figures_even_zeros_leave_its_index_unchanged():
    spec = _spec_with_local()
    without = ix.composite(_frame(30, 0), spec)
    with_zero = ix.composite(_frame(30, 1, 0.0), spec)
    assert with_zero["index"].to_numpy() == pytest.approx(without["index"].to_numpy())
    assert with_zero.loc["A00", "score_projects"] == pytest.approx(without.loc["A00", "score_projects"])
    assert with_zero.loc["A00", "n_indicators"] == without.loc["A00", "n_indicators"]


def test_local_indicator_is_scored_once_enough_of_the_group_has_it():
    spec = _spec_with_local()
    few = ix.composite(_frame(30, ix.LOCAL_MIN_AREAS - 1), spec)
    enough = ix.composite(_frame(30, ix.LOCAL_MIN_AREAS), spec)
    base = ix.composite(_frame(30, 0), spec)
    assert few["index"].to_numpy() == pytest.approx(base["index"].to_numpy())
    assert enough.loc["A00", "score_projects"] != pytest.approx(base.loc["A00", "score_projects"])
    # the count is per comparison group: ten in another group do not make it scored in this one
    groups = pd.Series(["g1"] * 15 + ["g2"] * 15, index=_frame(30, 0).index)
    split = ix.composite(_frame(30, 12), spec, groups=groups)  # 12 in g1, none in g2
    assert split.loc["A00", "score_projects"] != pytest.approx(
        ix.composite(_frame(30, 0), spec, groups=groups).loc["A00", "score_projects"]
    )
    table = ix.local_scoring(_frame(30, 12), ["local_x"], groups)
    assert table.to_dict("records") == [
        {"group": "g1", "indicator_id": "local_x", "n_with_value": 12, "n_in_group": 15, "n_needed": 10, "scored": True}
    ]
    # a small group needs two thirds of its areas, never fewer than two
    assert ix.local_threshold([2, 3, 9, 15, 164]).tolist() == [2, 2, 6, 10, 10]
    mc = ix.monte_carlo_ranks(_frame(30, 1, 0.0), spec, n=20)
    assert mc["median_rank"].to_numpy() == pytest.approx(
        ix.monte_carlo_ranks(_frame(30, 0), spec, n=20)["median_rank"].to_numpy()
    )
