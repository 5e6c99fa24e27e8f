"""The community lens (issue 18): council spending is context, not scored, so a cut cannot raise a rank."""

import numpy as np
import pandas as pd
import pytest

from etl.indicators import definitions
from powerbalance import index as ix
from powerbalance import lenses

DEFS = tuple(definitions())  # the registry as the build writes it (no database needed)


def spec_for(lens):
    return ix.spec_for(lens, defs=DEFS)


def test_community_lens_scores_no_spending_measure():
    spec = spec_for("community")
    assert "place_spend_per_head" not in spec.ids and "council_spend_per_head" not in spec.ids
    assert "parish_precept_share" not in spec.ids  # divides by spending: a cut would raise it
    assert "parish_precepts_per_head" in spec.ids and "grants_amount_per_head" in spec.ids
    assert all(spec.polarity[i] == 1 for i in spec.ids)  # nothing "providing" is scored
    assert spec.required == ("parish_precepts_per_head",)
    # the spending lenses are unchanged and never score the community lens's own indicator
    assert "parish_precepts_per_head" not in spec_for("place").ids
    assert spec_for("place").required == ("place_spend_per_head",)
    assert ix.DEFAULT_LENS in ix.LENSES


def test_a_cut_raises_the_place_index_but_not_the_community_index():
    """Two areas alike in everything; one cuts spending. Place lens: it ranks higher. Community lens: equal."""
    vals = pd.DataFrame(
        {
            i: [5.0, 5.0, 1.0]
            for i in (d.id for d in DEFS)
            if i in set(spec_for("place").ids) | set(spec_for("community").ids)
        },
        index=["cutter", "keeper", "other"],
    )
    vals["place_spend_per_head"] = [800.0, 1000.0, 900.0]
    vals["parish_precept_share"] = 100 * vals["parish_precepts_per_head"] / vals["place_spend_per_head"]
    place = ix.composite(vals, spec_for("place"))
    community = ix.composite(vals, spec_for("community"))
    assert place.loc["cutter", "index"] > place.loc["keeper", "index"]
    assert community.loc["cutter", "index"] == community.loc["keeper", "index"]


def test_community_index_on_the_real_data(real_db):
    df = ix.compute_index("district", "2017-18", lens="community", db=real_db).set_index("area_code")
    assert df["index"].notna().sum() == 295
    # Cumberland: no complete precept figure (Copeland published nothing), said in the reason
    assert "parish_precepts_per_head" in df.loc["E06000063", "reason"]
    regions = ix.compute_index("region", "2017-18", lens="community", db=real_db)
    assert regions["index"].notna().sum() == 9  # regions are places: the lens applies
    s = ix.shift("district", lens="community", db=real_db).set_index("area_code")["ratio_shift"].sort_index()
    place = ix.shift("district", lens="place", db=real_db).set_index("area_code")["ratio_shift"].sort_index()
    assert np.allclose(s, place, equal_nan=True)  # the ratio is shown as context


def test_ranks_move_with_spending_between_lenses(real_db):
    moves = lenses.rank_moves("district", "2017-18", None, "place", "community", db=real_db)
    have = moves.dropna(subset=["move"])
    assert len(have) == 295
    assert (have["move"] == have["rank_from"] - have["rank_to"]).all()
    # the spending term drives the difference: high spenders rise once it is no longer scored
    assert lenses.spearman(have["move"], have["spend_per_head"]) > 0.5
    text = lenses.moves_summary(moves, "place", "community")
    assert "rise in the community lens" in text and "of 295 areas" in text


def test_spearman_by_hand():
    assert lenses.spearman(pd.Series([1.0, 2, 3, 4]), pd.Series([10.0, 20, 30, 40])) == pytest.approx(1.0)
    assert lenses.spearman(pd.Series([1.0, 2, 3, 4]), pd.Series([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    assert np.isnan(lenses.spearman(pd.Series([1.0, np.nan]), pd.Series([1.0, 2.0])))
