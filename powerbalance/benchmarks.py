"""Benchmarks beside an area's indicator values, and "what stands out" against its neighbours.

For every indicator value shown on My area (one year per indicator, chosen by
``queries.latest_indicators``) :func:`benchmarks` adds, **for the same year**:

- England's value and the area's region's value (both as published or summed by the ETL);
- the median of the area's statistical neighbours' values (``index.peers``), with how many of
  them have a value;
- in plain words which way the indicator points (higher = more enabling, more providing, or
  context only), and the source it comes from.

:func:`stand_out` states the rule of "what stands out" (also on the Method page and in
docs/methodology.md): among indicators that point one way (not context), on the area's own value
(never a regional survey estimate, :func:`powerbalance.values.comparable_mask`), with at least
:data:`MIN_NEIGHBOURS` neighbours holding a value in the same year, the gap between the area's
value and its neighbours' median is divided by the indicator's interquartile range across the
areas of the same level and tier in that year (the group the neighbours come from; so £ per head
and % of wards compare on one scale), and the :data:`STAND_OUT_COUNT` largest gaps of at least
:data:`MIN_GAP_IQR` ranges are shown. It speaks of the council, so spending is the council's own
(:func:`judged`): a council of a two-tier area (shire district or county) is never called out on a
measure of spending on the place, which holds the other tier's spending, and in the community
lens, which treats council spending as context, no measure made from council spending is called
out. A value summed over only some of its parts says so ("based on 6 of 12 districts"), as the
neighbours' values that are. Nothing is shown when no indicator qualifies. Nothing is imputed: a
missing value stays missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import db as _db
from . import values as _values
from .codes import ENGLAND

#: "What stands out" needs at least this many neighbours with a value of the indicator that year.
MIN_NEIGHBOURS = 5
#: How many indicators "what stands out" names at most.
STAND_OUT_COUNT = 3
#: A gap smaller than this many interquartile ranges is not called out.
MIN_GAP_IQR = 0.25

DIRECTION_WORDS = {1: "higher = more enabling", -1: "higher = more providing", 0: "context only"}

#: Measures made from the councils' spending on the place: a shire district's own spending plus its
#: population share of its county's, a county's own plus its districts' (docs/methodology.md, "Two-tier
#: places"). For a council of a two-tier area they are not the council's own, so never called out as
#: its value; for a single-tier council they equal its own spending.
PLACE_SPENDING = frozenset(
    {
        "place_spend_per_head",
        "parish_precept_share",
        "enabler_ratio",
        "enabler_shift",
        "place_spend_shift",
        "parish_precept_share_shift",
    }
)
#: Measures made from the council's own spending (compared only within a tier group).
OWN_SPENDING = frozenset({"council_spend_per_head", "enabler_ratio_council"})
#: Tiers of two-tier areas (``areas.tier``): shire districts and counties.
TWO_TIER = ("lower", "upper")

BENCHMARK_COLUMNS = [
    "indicator_id",
    "name",
    "period",
    "value",
    "unit",
    "england",
    "region",
    "neighbours_median",
    "neighbours_with_value",
    "neighbours_partial",
    "direction",
    "source",
    "partial",
]


def direction_words(polarity) -> str:
    """Plain words for an indicator's polarity (+1, −1 or 0)."""
    try:
        return DIRECTION_WORDS[int(polarity)]
    except (TypeError, ValueError, KeyError):
        return DIRECTION_WORDS[0]


@_db.per_build(maxsize=64)
def level_spread(level: str, pairs: pd.DataFrame, tier: str | None = None, db=None) -> pd.DataFrame:
    """Interquartile range of each (indicator, period) across every area of ``level`` and ``tier``
    (``areas.tier``: the group a council's neighbours come from; None for a level without tiers)
    with a value. Within the tier, because a council's own spending is not comparable across tiers
    (a shire district spends a tenth of what a unitary does)."""
    if pairs.empty:
        return pd.DataFrame(columns=["indicator_id", "period", "iqr"])
    placeholders = " OR ".join("(v.indicator_id = ? AND v.period = ?)" for _ in range(len(pairs)))
    params = [level, tier] + [x for pair in pairs[["indicator_id", "period"]].itertuples(index=False) for x in pair]
    return _db.query(
        f"""
        SELECT v.indicator_id, v.period,
               quantile_cont(v.value, 0.75) - quantile_cont(v.value, 0.25) AS iqr
        FROM indicator_values v
        JOIN areas a ON a.code = v.area_code AND a.level = ? AND a.tier IS NOT DISTINCT FROM ?
        WHERE v.value IS NOT NULL AND ({placeholders}) GROUP BY ALL""",
        params,
        db=db,
    )


@_db.per_build(maxsize=4)
def source_titles(db=None) -> dict:
    """source_id → title, for naming where an indicator comes from."""
    df = _db.query("SELECT source_id, any_value(title) AS title FROM sources GROUP BY source_id", db=db)
    return dict(zip(df["source_id"], df["title"]))


def _primary_source(source_ids, titles: dict) -> str:
    """The first source an indicator is built from (the others are population or geography)."""
    first = str(source_ids or "").split(",")[0].strip()
    return titles.get(first, first or "unknown source")


def benchmarks(indicators: pd.DataFrame, region_code: str | None, peer_codes: list[str], db=None) -> pd.DataFrame:
    """``indicators`` (one row per indicator and the year shown, as from
    ``queries.latest_indicators``) with England, the region and the neighbours' median for the
    same year, the direction in plain words and the source. Columns: :data:`BENCHMARK_COLUMNS`."""
    if indicators is None or indicators.empty:
        return pd.DataFrame(columns=BENCHMARK_COLUMNS)
    rows = indicators[indicators["indicator_id"] != "ruc"].copy()
    rows = rows.assign(**_beside(rows, region_code, [c for c in peer_codes if c], db))
    rows["direction"] = rows["polarity"].map(direction_words)
    titles = source_titles(db)
    rows["source"] = [_primary_source(s, titles) for s in rows.get("source_ids", pd.Series([None] * len(rows)))]
    rows["comparable"] = _values.comparable_mask(rows["domain"], rows["is_local"])
    from .queries import based_on

    rows["partial"] = [based_on(n) for n in rows.get("note", pd.Series([None] * len(rows)))]
    return rows[BENCHMARK_COLUMNS + ["polarity", "comparable"]].reset_index(drop=True)


def _beside(rows: pd.DataFrame, region_code: str | None, peers: list[str], db=None) -> dict[str, list]:
    """For each row (indicator_id, period): England's value, the region's, and the neighbours'
    median and how many neighbours have a value (missing values are left out, never zero). The
    values are looked up by key, not merged and grouped: the frames are a few dozen rows."""
    from .queries import based_on

    vals = _values.of_areas([ENGLAND, *([region_code] if region_code else []), *peers], db)
    domain = dict(zip(*(_values.indicator_meta(db)[c] for c in ("indicator_id", "domain"))))
    peers = list(dict.fromkeys(peers))
    # a neighbour's regional survey estimate is its region's figure, not its own: never in the median
    own = _values.comparable_mask(vals["indicator_id"].map(domain), vals["is_local"]) | ~vals["area_code"].isin(peers)
    vals = vals[own]
    at, partial = {}, set()
    for a, i, p, v, note in zip(vals["area_code"], vals["indicator_id"], vals["period"], vals["value"], vals["note"]):
        if v == v:  # not NaN
            at[(a, i, p)] = v
            if a in peers and isinstance(note, str) and based_on(note):
                partial.add((a, i, p))
    out: dict[str, list] = {k: [] for k in ("england", "region", "neighbours_median", "neighbours_with_value")}
    out["neighbours_partial"] = []
    for i, p in zip(rows["indicator_id"], rows["period"]):
        near = [at[(c, i, p)] for c in peers if (c, i, p) in at]
        out["england"].append(at.get((ENGLAND, i, p), np.nan))
        out["region"].append(at.get((region_code, i, p), np.nan))
        out["neighbours_median"].append(float(np.median(near)) if near else np.nan)
        out["neighbours_with_value"].append(len(near))
        out["neighbours_partial"].append(sum((c, i, p) in partial for c in peers))
    return out


def judged(indicator_ids, tier: str | None, lens: str | None) -> list[bool]:
    """Whether "what stands out" may call each indicator the council's value. In the community lens,
    which treats council spending as context, no measure made from council spending is; otherwise
    a council of a two-tier area (``tier`` lower or upper) is judged on its own spending, never on
    spending on the place (which holds the other tier's), and a single-tier council on its place
    measures (equal to its own spending, so each is said once). Unknown tier and lens: every one."""
    if lens == "community":
        out = PLACE_SPENDING | OWN_SPENDING
    elif tier in TWO_TIER:
        out = PLACE_SPENDING
    elif tier is None and lens is None:
        out = frozenset()
    else:
        out = OWN_SPENDING
    return [i not in out for i in indicator_ids]


def stand_out(
    bench: pd.DataFrame,
    spread: pd.DataFrame,
    n: int = STAND_OUT_COUNT,
    tier: str | None = None,
    lens: str | None = None,
) -> pd.DataFrame:
    """The (at most) ``n`` indicators on which the area differs most from its neighbours' median,
    by the rule in the module docstring, among those :func:`judged` for the council's ``tier`` and
    the ``lens`` shown. Columns: name, period, value, unit, neighbours_median,
    neighbours_with_value, gap_iqr, leaning ('more enabling' / 'more providing'), partial ('based on
    6 of 12 districts' for a value summed over only some of its parts, else ''), sentence."""
    cols = [
        "indicator_id",
        "name",
        "period",
        "value",
        "unit",
        "neighbours_median",
        "neighbours_with_value",
        "gap_iqr",
        "leaning",
        "partial",
        "sentence",
    ]
    if bench is None or bench.empty or spread is None or spread.empty:
        return pd.DataFrame(columns=cols)
    iqr = dict(zip(zip(spread["indicator_id"], spread["period"]), spread["iqr"]))
    bench = bench[judged(bench["indicator_id"], tier, lens)].reset_index(drop=True)
    gaps = _gaps(bench, iqr)
    if gaps is None:
        return pd.DataFrame(columns=cols)
    top = sorted((g for g in gaps if abs(g[1]) >= MIN_GAP_IQR), key=lambda g: -abs(g[1]))[:n]
    df = bench.iloc[[at for at, _ in top]].assign(gap_iqr=np.array([gap for _, gap in top], dtype=float))
    df["leaning"] = ["more enabling" if g * p > 0 else "more providing" for g, p in zip(df["gap_iqr"], df["polarity"])]
    df["sentence"] = [_sentence(r) for r in df.itertuples(index=False)]
    return df.reindex(columns=cols).reset_index(drop=True)


def _gaps(bench: pd.DataFrame, iqr: dict) -> list[tuple[int, float]] | None:
    """(row of ``bench``, gap in interquartile ranges) of every indicator the rule compares (the
    area's own value, not a regional survey estimate; scored direction; enough neighbours with a
    value, a value, a median and a spread); None when none is."""
    rows = zip(
        bench["indicator_id"],
        bench["period"],
        bench["polarity"],
        bench["neighbours_with_value"],
        bench["value"],
        bench["neighbours_median"],
        bench["comparable"],
    )
    gaps = []
    for at, (ind, period, polarity, n_with, value, median, own) in enumerate(rows):
        spread = iqr.get((ind, period), np.nan)
        enough = n_with >= MIN_NEIGHBOURS and value == value and median == median and spread > 0
        if own and polarity != 0 and enough:
            gaps.append((at, (value - median) / spread))
    return gaps or None


def _sentence(r) -> str:
    """'Grants per head (2017-18): £12.3 against a neighbours' median of £4.1 (8 neighbours with a
    value) — higher, so more enabling.', a value summed over only some of its parts saying so
    ('65.9 % of wards (based on 6 of 12 districts)'), and the neighbours' values that are counted."""
    from .charts import fmt

    unit = r.unit or ""
    side = "higher" if r.gap_iqr > 0 else "lower"
    own = getattr(r, "partial", "") or ""
    partial = int(getattr(r, "neighbours_partial", 0) or 0)
    near = f"{r.neighbours_with_value} neighbours with a value" + (
        f", {partial} of them also based on only part of their area" if partial else ""
    )
    return (
        f"{r.name} ({r.period}): {fmt(r.value, 1, unit)}{f' ({own})' if own else ''} against a neighbours' "
        f"median of {fmt(r.neighbours_median, 1, unit)} ({near}) — {side}, so {r.leaning}."
    )


DISPLAY_COLUMNS = {
    "name": "indicator",
    "period": "year",
    "value_text": "value",
    "england": "England",
    "region": "region",
    "neighbours_median": "neighbours' median",
    "direction": "direction",
    "source": "source",
    "coverage": "coverage",
    "note": "note",
}


def display_table(indicators: pd.DataFrame, bench: pd.DataFrame) -> pd.DataFrame:
    """The indicator table people read: each value with England, region and neighbours' median
    for the same year written with the indicator's unit ('no data' when missing), the direction
    in plain words, the source, coverage and note. Columns renamed by :data:`DISPLAY_COLUMNS`."""
    from .charts import fmt

    if bench is None or bench.empty:
        return pd.DataFrame(columns=list(DISPLAY_COLUMNS.values()))
    extra = [c for c in ("value_text", "coverage", "note") if c in indicators]
    df = bench.merge(indicators[["indicator_id", "period", *extra]], on=["indicator_id", "period"], how="left")
    for col in ("england", "region", "neighbours_median"):
        df[col] = [fmt(v, 1, u) for v, u in zip(df[col], df["unit"].fillna(""))]
    df["neighbours_median"] = [
        f"{t} ({n})" if n else t for t, n in zip(df["neighbours_median"], df["neighbours_with_value"])
    ]
    return df.reindex(columns=list(DISPLAY_COLUMNS)).rename(columns=DISPLAY_COLUMNS)


def _stand_out_rule(lead: str, whose: str) -> str:
    return (
        f"{lead}: of the indicators where higher means more enabling or more providing, the "
        f"{STAND_OUT_COUNT} on which {whose} value is furthest from its statistical neighbours' "
        f"median in the same year, measured in interquartile ranges of that indicator across the councils "
        f"of its tier (shire districts, single-tier councils or counties); an indicator needs at least "
        f"{MIN_NEIGHBOURS} neighbours with a value and a gap of at least {MIN_GAP_IQR} of a range. "
        f"Spending is the council's own: a shire district or county is never called out on spending on "
        f"the place, which includes the other tier's (a district's share of its county's social care, "
        f"education and highways), and in the community lens, where council spending is context, no "
        f"spending figure is called out. A value summed over only some districts says so. Nothing is "
        f"shown when none qualifies."
    )


#: The rule, in plain words, shown under "What stands out" on My area (a council is chosen there).
STAND_OUT_RULE = _stand_out_rule("What stands out", "this council's")
#: The same rule as the Method page states it (no council is chosen there).
STAND_OUT_RULE_ELSEWHERE = _stand_out_rule("What stands out (on My area and in its brief)", "the chosen council's")
