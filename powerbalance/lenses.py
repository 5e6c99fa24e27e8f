"""How ranks move between two index lenses, and why (the Method page and docs/methodology.md).

The place and council lenses score council spending per head with polarity −1 (and parish
precepts as a share of that spending), so a cut raises an area's index. The community lens shows
spending as context and scores community money, projects, parishes and participation only. This
module lines the two rankings up and relates each area's move to its spending per head: if the
spending term drives the difference, high spenders rise when it is taken out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import db as _db
from . import index as _index

LENS_NAMES = {"place": "place", "council": "council", "community": "community"}


def rank_moves(
    level: str = "district",
    period: str = "2017-18",
    weights: Mapping[str, float] | None = None,
    lens_from: str = "place",
    lens_to: str = _index.DEFAULT_LENS,
    db=None,
) -> pd.DataFrame:
    """Per area: rank in each lens (within its group), ``move`` (positive = higher, i.e. more
    enabling, in ``lens_to``) and the spending per head the lenses disagree about.

    Columns: area_code, name, group, rank_from, rank_to, move, n_in_group, spend_per_head."""
    a = _index.compute_index(level, period, weights, lens_from, None, db).set_index("area_code")
    b = _index.compute_index(level, period, weights, lens_to, None, db).set_index("area_code")
    out = a[["name", "group", "rank", "n_in_group"]].rename(columns={"rank": "rank_from"})
    out["rank_to"] = b["rank"].reindex(out.index)
    out["move"] = out["rank_from"] - out["rank_to"]
    spend = "council_spend_per_head" if "council" in (lens_from, lens_to) else "place_spend_per_head"
    sp = _db.query(
        """SELECT v.area_code, v.value FROM indicator_values v
                      JOIN areas a ON a.code = v.area_code AND a.level = ?
                      WHERE v.indicator_id = ? AND v.period = ?""",
        [level, spend, period],
        db=db,
    )
    out["spend_per_head"] = sp.set_index("area_code")["value"].reindex(out.index)
    out.index.name = "area_code"
    return out.reset_index()


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman rank correlation over the pairs where both are present (NaN under three pairs)."""
    ok = x.notna() & y.notna()
    if ok.sum() < 3:
        return float("nan")
    return float(np.corrcoef(x[ok].rank(), y[ok].rank())[0, 1])


def moves_summary(moves: pd.DataFrame, lens_from: str, lens_to: str) -> str:
    """Plain words: how far ranks move between the lenses, and how the move follows spending."""
    have = moves.dropna(subset=["move"])
    if have.empty:
        return f"No area has a rank in both the {lens_from} and the {lens_to} lens."
    big = have[have["move"].abs() > 0.1 * have["n_in_group"]]
    rho = spearman(have["move"], have["spend_per_head"])
    text = (
        f"Between the {lens_from} and the {lens_to} lens, ranks move by a median of "
        f"{have['move'].abs().median():.0f} places; {len(big)} of {len(have)} areas move by more than a tenth "
        f"of their group."
    )
    if not np.isnan(rho):
        way = "rise" if rho > 0 else "fall"
        text += (
            (
                f" The more an area's councils spend per resident, the more it tends to {way} in the {lens_to} "
                f"lens (Spearman ρ = {rho:+.2f} between the move and spending per head): the {lens_from} lens "
                f"scores low spending as enabling, the {lens_to} lens does not."
            )
            if lens_to == "community"
            else f" Spearman ρ between the move and spending per head: {rho:+.2f}."
        )
    return text
