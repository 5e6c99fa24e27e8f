"""Enabling or retreating? The provider → enabler shift as two movements.

The research behind the dashboard describes councils stepping back *so that* communities step
up. A fall in council spending alone is not an enabling shift: it may be a retreat. This module
places every area by two changes between two financial years, each in nominal pounds per
resident (one Census 2021 population for every year, so a change is a change in money):

- x: change in council spending per head on the place (``place_spend_per_head``);
- y: change in community money per head: parish precepts per head + community grants per head
  (``parish_precepts_per_head`` + ``grants_amount_per_head``, both in the same year).

The quadrant is named from the two signs (:data:`QUADRANTS`). An area missing either measure in
either year is "not enough data" and is never placed; a change of exactly zero is "no change"
on that axis, and is not placed either. By default both movements are measured over the **same
span** (:data:`SPAN_RULE`): the earliest and latest financial year in which both measures exist,
leaving out a partial grants year (:mod:`powerbalance.years`). The span is read from the data, so
new years are picked up without a code change, and a year of one measure alone (spending six years
past the last community money) never sets it. Pounds are nominal: no deflator is available as real
data.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from . import db as _db
from . import labels as _labels
from . import years as _years

SPEND = "place_spend_per_head"
#: The council's own spending, said beside a two-tier council's place spending (never a quadrant's axis).
OWN = "council_spend_per_head"
PRECEPTS = "parish_precepts_per_head"
GRANTS = "grants_amount_per_head"

#: (sign of Δ council spending, sign of Δ community money) → quadrant name.
QUADRANTS: dict[tuple[int, int], str] = {
    (-1, 1): "enabling shift",
    (-1, -1): "retreat",
    (1, 1): "co-investment",
    (1, -1): "provider growth",
}
QUADRANT_MEANING = {
    "enabling shift": "council spending down, community money up",
    "retreat": "council spending down, community money down",
    "co-investment": "council spending up, community money up",
    "provider growth": "council spending up, community money down",
}
NOT_ENOUGH = "not enough data"
NO_CHANGE = "no change"
#: Legend names of the comparison groups (the pages' own words, capitalised for a legend).
GROUP_LABELS = {
    g: _labels.GROUP_LABELS[g][:1].upper() + _labels.GROUP_LABELS[g][1:]
    for g in ("shire_district", "single_tier", "county", "region")
}
#: How the default span is chosen, in the words the pages use.
SPAN_RULE = (
    "both movements over the same years: the earliest and latest financial year in which council "
    "spending and community money both exist (a partial grants year is left out)"
)
CURRENCY_NOTE = "nominal pounds (no inflation adjustment: no price deflator is available as real data)"


def quadrant_of(d_spend: float, d_community: float) -> str:
    """The quadrant named by the signs of the two changes; "not enough data" when either is missing
    and "no change" when either is exactly zero."""
    if d_spend is None or d_community is None or np.isnan(d_spend) or np.isnan(d_community):
        return NOT_ENOUGH
    if d_spend == 0 or d_community == 0:
        return NO_CHANGE
    return QUADRANTS[(int(np.sign(d_spend)), int(np.sign(d_community)))]


def measure_values(level: str = "district", db=None) -> pd.DataFrame:
    """Per area and financial year: ``spend`` (on the place) and ``community`` money per head, and the
    council's ``own`` spending per head (NaN when missing; regions have none).

    Community money exists only in a year with both precepts and grants for the area."""
    df = _db.query(
        """
        SELECT v.area_code, v.period, v.indicator_id, v.value
        FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = ?
        WHERE v.indicator_id IN (?, ?, ?, ?)""",
        [level, SPEND, PRECEPTS, GRANTS, OWN],
        db=db,
    )
    wide = df.pivot_table(
        index=["area_code", "period"], columns="indicator_id", values="value", aggfunc="first", dropna=False
    ).reindex(columns=[SPEND, PRECEPTS, GRANTS, OWN])
    out = pd.DataFrame(
        {"spend": wide[SPEND], "community": wide[PRECEPTS] + wide[GRANTS], "own": wide[OWN]}, index=wide.index
    )
    return out.reset_index()


def matching_span(values: pd.DataFrame, thin=()) -> tuple[str, str] | None:
    """Earliest and latest financial year in which some area has both measures, leaving out the
    ``thin`` years (None when fewer than two): the default span of both movements."""
    both = values["spend"].notna() & values["community"].notna() & ~values["period"].isin(list(thin))
    years = sorted(values.loc[both, "period"].unique())
    return (years[0], years[-1]) if len(years) >= 2 else None


def longest_spans(level: str = "district", db=None) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """Each measure's own longest span (earliest and latest financial year in which any area has it,
    a partial grants year left out): the reading issue 18 first asked for, shown beside the default."""
    values = measure_values(level, db)
    thin = list(_years.thin_grant_years(db).value)

    def span(measure: str) -> tuple[str, str] | None:
        years = sorted(values.loc[values[measure].notna() & ~values["period"].isin(thin), "period"].unique())
        return (years[0], years[-1]) if len(years) >= 2 else None

    return span("spend"), span("community")


def longest_span_note(placed: pd.DataFrame) -> str:
    """The counts over each measure's longest span, in a sentence saying why they are not the
    default when the spans differ (nominal spending over more years rises for nearly everyone)."""
    if placed.attrs.get("spend_span") == placed.attrs.get("community_span"):
        return ""
    n = counts(placed)
    placed_n = sum(n[q] for q in QUADRANTS.values())
    parts = ", ".join(f"{n[q]} {q}" for q in QUADRANTS.values())
    up = int((placed["d_spend"] > 0).sum())
    return (
        f"Over each measure's longest span instead ({span_label(placed)}): {parts}, of {placed_n} of "
        f"{len(placed)} areas. Not the default: the two movements then cover different years, and nominal "
        f"council spending rises over its longer span in {up} of them."
    )


def place_areas(
    level: str = "district",
    spend_span: tuple[str, str] | None = None,
    community_span: tuple[str, str] | None = None,
    db=None,
) -> pd.DataFrame:
    """Every area of a level placed by its two movements.

    Columns: area_code, name, group, spend_from, spend_to, d_spend, community_from, community_to,
    d_community, quadrant, own_from, own_to, d_own (the council's own spending over the spending
    span: for a shire district or county not the x axis, which is spending on the place). Each span defaults to :func:`matching_span` (the same years for both);
    ``.attrs`` holds the spans used (``spend_span``, ``community_span``) and the level."""
    path = str(Path(db) if db is not None else config.db_path())
    with _db.snapshot(path) as key:  # cached once per build, as the index is
        return _placed_cached(key, path, level, spend_span, community_span).copy()


@lru_cache(maxsize=16)
def _placed_cached(
    key: str, db: str, level: str, spend_span: tuple[str, str] | None, community_span: tuple[str, str] | None
) -> pd.DataFrame:
    values = measure_values(level, db)
    same = matching_span(values, _years.thin_grant_years(db).value)
    spend_span, community_span = spend_span or same, community_span or same
    areas = _db.query(
        "SELECT code AS area_code, name, tier FROM areas WHERE level = ? ORDER BY code", [level], db=db
    ).set_index("area_code")
    out = areas[["name"]].copy()
    out["group"] = (
        areas["tier"].map({"lower": "shire_district", "single": "single_tier"}) if level == "district" else level
    )
    for name, span in (("spend", spend_span), ("community", community_span)):
        wide = values.pivot(index="area_code", columns="period", values=name)
        wide = wide.reindex(index=out.index, columns=list(span or ()))
        out[f"{name}_from"] = wide[span[0]] if span else np.nan
        out[f"{name}_to"] = wide[span[1]] if span else np.nan
        out[f"d_{name}"] = out[f"{name}_to"] - out[f"{name}_from"]
    out["quadrant"] = [quadrant_of(x, y) for x, y in zip(out["d_spend"], out["d_community"])]
    own = values.pivot(index="area_code", columns="period", values="own").reindex(
        index=out.index, columns=list(spend_span or ())
    )
    out["own_from"] = own[spend_span[0]] if spend_span else np.nan
    out["own_to"] = own[spend_span[1]] if spend_span else np.nan
    out["d_own"] = out["own_to"] - out["own_from"]
    out = out.reset_index()
    out.attrs.update(level=level, spend_span=spend_span, community_span=community_span)
    return out


def counts(placed: pd.DataFrame) -> dict[str, int]:
    """Areas per quadrant, in QUADRANTS order, then "no change" and "not enough data"."""
    vc = placed["quadrant"].value_counts()
    return {q: int(vc.get(q, 0)) for q in (*QUADRANTS.values(), NO_CHANGE, NOT_ENOUGH)}


def coverage(placed: pd.DataFrame) -> tuple[int, int]:
    """(areas placed in a quadrant, areas)."""
    return int(placed["quadrant"].isin(QUADRANTS.values()).sum()), len(placed)


def span_label(placed: pd.DataFrame) -> str:
    """The periods of both axes and the currency, for every chart and sentence."""
    s, c = placed.attrs.get("spend_span"), placed.attrs.get("community_span")
    fmt = lambda sp: f"{sp[0]} → {sp[1]}" if sp else "no two years"  # noqa: E731
    if s == c:
        return f"both measures {fmt(s)}; {CURRENCY_NOTE}"
    return f"council spending {fmt(s)}, community money {fmt(c)}; {CURRENCY_NOTE}"


def headline(placed: pd.DataFrame) -> str:
    """One sentence with the quadrant counts, their coverage and the spans."""
    n = counts(placed)
    placed_n = sum(n[q] for q in QUADRANTS.values())
    parts = ", ".join(f"{n[q]} {q} ({QUADRANT_MEANING[q]})" for q in QUADRANTS.values())
    return f"Of {placed_n} of {len(placed)} areas with both movements: {parts} — {span_label(placed)}."


def area_quadrant(placed: pd.DataFrame, code: str) -> str:
    """One area's quadrant, then " — " and its two changes with their spans, in nominal pounds."""
    row = placed.loc[placed["area_code"] == code]
    if row.empty:
        return f"{NOT_ENOUGH} — {code} is not an area of this level"
    r = row.iloc[0]
    if r["quadrant"] == NOT_ENOUGH:
        return f"{NOT_ENOUGH} — council spending or community money is missing in a year ({span_label(placed)})"
    s, c = (" → ".join(placed.attrs[k]) for k in ("spend_span", "community_span"))
    return (
        f"{r['quadrant']} — {PLACE_SPENDING_WORDS.get(r['group'], 'council spending on the place')} "
        f"{money(r['d_spend'], 0)} a head ({s}{_own_words(r)}), community money "
        f"{money(r['d_community'], 2)} a head ({c}); nominal pounds"
    )


#: What the x axis is, for an area of each group: for a council of a two-tier area, spending on its
#: place by both tiers (docs/methodology.md, "Two-tier places"), not the council's own.
PLACE_SPENDING_WORDS = {
    "shire_district": "councils' spending on the place (the district's own + its share of the county's)",
    "county": "councils' spending on the place (the county's own + its districts')",
    "single_tier": "council spending on the place",
    "region": "councils' spending on the place",
}
#: Whose own spending is said beside the place's, by group.
OWN_SPENDING_WORDS = {"shire_district": "the district's", "county": "the county's"}


def _own_words(r) -> str:
    """'; the district's own spending alone −£12' for a council of a two-tier area with its own
    spending in both years ('' otherwise: a single-tier council's own spending is its place's)."""
    whose = OWN_SPENDING_WORDS.get(r["group"])
    if not whose or pd.isna(r.get("d_own")):
        return ""
    return f"; {whose} own spending alone {money(r['d_own'], 0)}"


def money(x: float, digits: int = 0) -> str:
    """A change in pounds with its sign: +£1.65, −£190."""
    return f"{'−' if x < 0 else '+'}£{abs(x):,.{digits}f}"
