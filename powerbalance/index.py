"""The Provider → Enabler Index: normalise, weight, aggregate, rank; uncertainty; peers.

The steps follow the OECD/JRC *Handbook on Constructing Composite Indicators* (2008) and are
described for readers in ``docs/methodology.md``:

1. **Select** the scored indicators of the chosen lens (the ``indicators`` table, read by ``powerbalance.registry``).
2. **Missing data**: nothing is imputed. An area whose data are too thin gets no index value
   and a ``reason`` (see :func:`availability`).
3. **Normalise** each indicator to 0–100 *within the comparison group* (like with like),
   turning "providing" indicators round so that 100 is always the most enabling end.
4. **Weight and aggregate**: the mean of the available indicator scores in each domain, then
   the weighted mean of the domain scores (weights sum to one).
5. **Rank** within the group, 1 = most enabling.
6. **Uncertainty**: Monte Carlo over weights and normalisation methods → median rank and a
   5th–95th percentile band per area.

The maths are pure functions on DataFrames/arrays (``normalise`` … ``nearest_neighbours``) so
that tests can check them by hand without a database; the functions at the bottom of the
module read the built database and call them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from . import db as _db
from . import indicators as _ind
from . import registry as _registry
from . import stored as _stored
from . import values as _values

DOMAINS: tuple[str, ...] = ("funding", "projects", "participation")

#: Default domain weights. Participation is 0 because the only participation data available
#: offline are regional survey estimates: every area in a region would get the same value, so
#: scoring it would rank areas on their region. Users may change these in the dashboard.
DEFAULT_WEIGHTS: dict[str, float] = {"funding": 0.5, "projects": 0.5, "participation": 0.0}

#: Normalisation methods. The first is the default; all three are used by the Monte Carlo.
METHODS: tuple[str, ...] = ("minmax", "zscore", "percentile")
DEFAULT_METHOD = "minmax"

#: JRC outlier rule (COIN audits): treat an indicator whose |skewness| > 2 and kurtosis > 3.5 by
#: capping up to five extreme values.
OUTLIER_SKEW = 2.0
OUTLIER_KURTOSIS = 3.5
OUTLIER_MAX_POINTS = 5

#: An area needs at least this share of the lens's scored indicators to get an index value.
MIN_SHARE = 2 / 3

#: A local indicator (a council's own figures, loaded through the templates) is scored within a
#: comparison group only when at least this many areas of the group have a value: min–max over one
#: value always gives 50 and over two gives 0 and 100, so a handful of suppliers would move their own
#: index by loading any figures, zeros included. Ten is the size of a statistical-neighbour group, the
#: smallest comparison the dashboard offers; a group smaller than 15 needs two thirds of its areas
#: (:data:`MIN_SHARE`), and never fewer than two. Below that the figures are shown beside the index,
#: unscored.
LOCAL_MIN_AREAS = 10

#: Dirichlet concentration for Monte Carlo weights: alpha = CONCENTRATION × weights. With two
#: domains at 0.5 each, a draw's funding weight is Beta(10, 10): 90% of draws fall in 0.32–0.68.
CONCENTRATION = 20.0

#: A rank is "robust" when its 5th–95th percentile band spans at most this share of the group.
ROBUST_BAND = 0.10

LEVELS = ("district", "county", "region")
LENSES = ("place", "council", "community")

#: The lens the dashboard opens on. The community lens scores community money, projects, parishes and
#: participation and shows council spending only as context, so cutting services cannot raise a rank
#: (docs/methodology.md, "Which lens, and why"). The functions below keep ``lens="place"`` as their
#: default so that existing callers are unchanged.
DEFAULT_LENS = "community"

#: Indicators that divide by council spending: a cut raises them, so the community lens leaves them out.
SPENDING_BASED = frozenset({"parish_precept_share"})

#: The indicator a lens cannot do without (the index's ``required``): each spending lens needs its
#: spending measure; the community lens needs parish precepts (half of community money, and the
#: same finance years as the other lenses).
LENS_REQUIRED = {
    "place": "place_spend_per_head",
    "council": "council_spend_per_head",
    "community": "parish_precepts_per_head",
}

#: Why a financial year outside :func:`periods` has no index (e.g. 2023-24: finance, no grants).
#: The index is never computed from some domains of one year and others of another.
NOT_COMPUTED = (
    "not computed for {period}: the index needs district finance and grants in the same financial "
    "year, and {period} has no {absent}{why} (index years: {years})"
)
#: The sources an index year needs: indicator standing for it → its name in NOT_COMPUTED.
NEEDED = {"council_spend_per_head": "district finance", "grants_amount_per_head": "grants"}


# =============================================================================================
# Pure maths
# =============================================================================================


def normalise_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Domain weights → non-negative weights over DOMAINS that sum to one.

    Unknown domain names and negative or all-zero weights are errors: a silently "fixed" weight
    would change a ranking without the user knowing.
    """
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(w) - set(DOMAINS)
    if unknown:
        raise ValueError(f"unknown domain(s) {sorted(unknown)}; domains are {list(DOMAINS)}")
    vals = {d: float(w.get(d, 0.0)) for d in DOMAINS}
    if any(v < 0 or not math.isfinite(v) for v in vals.values()):
        raise ValueError(f"weights must be finite and non-negative, got {vals}")
    total = sum(vals.values())
    if total <= 0:
        raise ValueError("at least one domain needs a positive weight")
    return {d: v / total for d, v in vals.items()}


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (numpy has no erf; math.erf is exact and the arrays are small)."""
    erf = np.frompyfunc(math.erf, 1, 1)
    out = np.full(z.shape, np.nan)
    ok = ~np.isnan(z)
    out[ok] = 0.5 * (1.0 + erf(z[ok] / math.sqrt(2.0)).astype(float))
    return out


def _average_ranks(col: np.ndarray) -> np.ndarray:
    """1-based ranks (ties share their average rank) of the non-missing values; NaN stays NaN."""
    out = np.full(col.shape, np.nan)
    ok = ~np.isnan(col)
    vals = col[ok]
    if vals.size == 0:
        return out
    order = np.argsort(vals, kind="mergesort")
    ranks = np.empty(vals.size)
    sorted_vals = vals[order]
    i = 0
    while i < vals.size:  # walk runs of ties
        j = i
        while j + 1 < vals.size and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    out[ok] = ranks
    return out


def skew_kurtosis(x: np.ndarray) -> tuple[float, float]:
    """Sample skewness and excess kurtosis with the usual bias corrections (as Excel's SKEW and
    KURT, and pandas): the statistics the JRC outlier rule is stated in."""
    n = x.size
    if n < 4:
        return 0.0, 0.0
    d = x - x.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    if m2 == 0:
        return 0.0, 0.0
    g1 = m3 / m2**1.5
    g2 = m4 / m2**2 - 3.0
    skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    kurt = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return float(skew), float(kurt)


def winsorise(x: np.ndarray, max_points: int = OUTLIER_MAX_POINTS) -> tuple[np.ndarray, int]:
    """JRC outlier treatment: while |skewness| > 2 and kurtosis > 3.5, cap the most extreme value
    on the skewed side at the next value in, up to ``max_points`` values. Returns the treated
    values and how many were capped. (Otherwise one extreme area — the City of London spends 13
    times the median single-tier council per resident — squeezes every other area into a sliver
    of the 0–100 min–max scale.)"""
    x = np.asarray(x, dtype=float).copy()
    order = np.sort(x)
    n = x.size
    treated = 0
    for k in range(1, max_points + 1):
        skew, kurt = skew_kurtosis(x)
        if not (abs(skew) > OUTLIER_SKEW and kurt > OUTLIER_KURTOSIS) or k >= n:
            break
        if skew > 0:
            x = np.minimum(x, order[n - 1 - k])
        else:
            x = np.maximum(x, order[k])
        treated = k
    return x, treated


def normalise(
    values: np.ndarray, polarity: Sequence[int], method: str = DEFAULT_METHOD, treat_outliers: bool = True
) -> np.ndarray:
    """Scores 0–100 for one comparison group: rows are areas, columns indicators.

    - ``minmax``: 100 × (x − min) / (max − min).
    - ``zscore``: z = (x − mean) / sd (population sd), mapped to 0–100 by the standard normal
      CDF, 100 × Φ(z). (A *linear* rescaling of z-scores to 0–100 over the group would give
      exactly the min–max scores, so it would not be an alternative.) Less sensitive to one
      extreme area than min–max.
    - ``percentile``: 100 × (rank − 1) / (n − 1), ties sharing their average rank.

    Before ``minmax`` and ``zscore`` an indicator with |skewness| > 2 and kurtosis > 3.5 in the
    group has up to five extreme values capped (:func:`winsorise`); ``percentile`` uses ranks and
    needs no treatment. ``treat_outliers=False`` switches this off.

    Polarity −1 ("providing") indicators are turned round (100 − score) so that 100 is always
    the enabling end. Missing values stay missing. An indicator with the same value for every
    area of the group cannot tell them apart: each area scores 50 (the same real value, not an
    imputed one). A group with a single valued area also scores 50.
    """
    if method not in METHODS:
        raise ValueError(f"unknown normalisation method {method!r}; choose from {METHODS}")
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise ValueError("values must be a 2-D array (areas × indicators)")
    pol = np.asarray(polarity, dtype=float)
    if pol.shape != (x.shape[1],) or not np.all(np.isin(pol, (-1.0, 1.0))):
        raise ValueError("polarity must be +1 or -1 for every indicator")
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        col = x[:, j]
        ok = ~np.isnan(col)
        if not ok.any():
            continue
        vals = col[ok]
        if treat_outliers and method != "percentile":
            vals, _ = winsorise(vals)
        if vals.size == 1 or np.nanmax(vals) == np.nanmin(vals):
            out[ok, j] = 50.0
            continue
        if method == "minmax":
            s = 100.0 * (vals - vals.min()) / (vals.max() - vals.min())
        elif method == "zscore":
            s = 100.0 * _phi((vals - vals.mean()) / vals.std())
        else:
            s = 100.0 * (_average_ranks(vals) - 1.0) / (vals.size - 1)
        out[ok, j] = s if pol[j] > 0 else 100.0 - s
    return out


def normalise_frame(
    values: pd.DataFrame, polarity: Mapping[str, int], groups: pd.Series | None = None, method: str = DEFAULT_METHOD
) -> pd.DataFrame:
    """:func:`normalise` applied separately inside each comparison group (like with like)."""
    cols = list(values.columns)
    pol = [int(polarity[c]) for c in cols]
    if groups is None:
        groups = pd.Series("all", index=values.index)
    arr = values.to_numpy(dtype=float)
    out = np.full(arr.shape, np.nan)
    for g in pd.unique(groups):
        mask = (groups == g).to_numpy()
        out[mask] = normalise(arr[mask], pol, method)
    return pd.DataFrame(out, index=values.index, columns=cols)


def domain_scores(scores: pd.DataFrame, domain_of: Mapping[str, str]) -> pd.DataFrame:
    """Mean of the *available* indicator scores of each domain (NaN when the domain has none)."""
    out = {}
    for d in DOMAINS:
        cols = [c for c in scores.columns if domain_of[c] == d]
        if cols:
            block = scores[cols].to_numpy(dtype=float)
            n = (~np.isnan(block)).sum(axis=1)
            total = np.nansum(block, axis=1)
            out[d] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        else:
            out[d] = np.full(len(scores), np.nan)
    return pd.DataFrame(out, index=scores.index)


def measured_weights(weights: Mapping[str, float] | None, spec: IndexSpec) -> dict[str, float]:
    """``weights`` normalised, with the weight of every domain the lens scores no indicator of (at this
    level and period) set to zero and the rest rescaled: a domain nobody has a figure for (participation,
    until local figures are loaded) cannot empty the index. :func:`unmeasured_domains` names them for the
    pages. When no weighted domain is measured at all the weights are kept, and every area says why."""
    w = normalise_weights(weights)
    measured = set(spec.domain.values())
    kept = {d: (v if d in measured else 0.0) for d, v in w.items()}
    return normalise_weights(kept) if sum(kept.values()) > 0 else w


def aggregate(domains: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Weighted mean of domain scores; NaN when any positively weighted domain is missing."""
    w = normalise_weights(weights)
    used = [d for d in DOMAINS if w[d] > 0]
    block = domains[used].to_numpy(dtype=float)
    vals = block @ np.array([w[d] for d in used])
    return pd.Series(vals, index=domains.index)  # NaN propagates through the matrix product


def availability(
    values: pd.DataFrame,
    domain_of: Mapping[str, str],
    weights: Mapping[str, float],
    required: Sequence[str] = (),
    min_share: float = MIN_SHARE,
    optional: Sequence[str] = (),
) -> pd.Series:
    """Why an area cannot get an index value ("" when it can).

    Rules (never impute): every positively weighted domain needs at least one indicator value;
    the area needs at least ``min_share`` of the scored indicators of the positively weighted
    domains (an indicator whose domain has no weight cannot count for or against); and every ``required``
    indicator (the provider-side spending indicator: without it an index would say nothing
    about the provider → enabler balance). ``optional`` indicators (local figures) count towards a
    domain but never towards the share, so areas without them are judged exactly as before.
    """
    w = normalise_weights(weights)
    cols = [c for c in values.columns if w[domain_of[c]] > 0]  # indicators that count at these weights
    have = values[cols].notna()
    counted = [c for c in cols if c not in optional]
    n_total = len(counted)
    n = have[counted].sum(axis=1).to_numpy()
    req = [c for c in required if c in cols]
    fails = {f"no {c}": ~values[c].notna().to_numpy() for c in req}
    for d in DOMAINS:
        in_d = [c for c in cols if domain_of[c] == d]
        if w[d] > 0:
            fails[f"no {d} indicator"] = ~have[in_d].any(axis=1).to_numpy() if in_d else np.ones(len(values), bool)
    too_few = n < min_share * n_total - 1e-9 if n_total else np.zeros(len(values), bool)
    reasons = np.full(len(values), "", dtype=object)
    any_fail = too_few | np.any(np.column_stack(list(fails.values())), axis=1) if fails else too_few
    hv = have.to_numpy()
    for i in np.flatnonzero(any_fail):  # strings only for the (few) areas that fail
        why = [label for label, mask in fails.items() if mask[i]]
        if too_few[i]:
            gone = [c for c, h in zip(cols, hv[i]) if not h and c not in optional]
            why.append(f"only {int(n[i])} of {n_total} scored indicators (missing: {', '.join(gone)})")
        reasons[i] = "; ".join(why)
    return pd.Series(reasons, index=values.index, dtype=object)


def thin_local_removed(
    values: pd.DataFrame, optional: Sequence[str], groups: pd.Series, min_areas: int = LOCAL_MIN_AREAS
) -> pd.DataFrame:
    """``values`` with each local (``optional``) indicator blanked in every group where fewer than
    ``min_areas`` areas have it: there it is shown beside the index, not scored."""
    cols = [c for c in optional if c in values.columns]
    if not cols:
        return values
    counts = values[cols].notna().groupby(groups).transform("sum")
    needed = local_threshold(groups.groupby(groups).transform("size"), min_areas)
    return values.assign(**{c: values[c].where(counts[c] >= needed) for c in cols})


def local_threshold(group_size, min_areas: int = LOCAL_MIN_AREAS):
    """Areas of a group that must have a local indicator for it to be scored there (see
    :data:`LOCAL_MIN_AREAS`): ``min_areas``, or two thirds of a smaller group, never under two."""
    return np.maximum(2, np.minimum(min_areas, np.ceil(MIN_SHARE * np.asarray(group_size) - 1e-9)))


def local_scoring(
    values: pd.DataFrame, optional: Sequence[str], groups: pd.Series, min_areas: int = LOCAL_MIN_AREAS
) -> pd.DataFrame:
    """Per group and local indicator: how many areas have it, of how many, and whether it is scored."""
    rows = []
    for c in [c for c in optional if c in values.columns]:
        have = values[c].notna().groupby(groups).agg(["sum", "size"])
        for g, (n, m) in have.iterrows():
            if n:
                rows.append(
                    {
                        "group": g,
                        "indicator_id": c,
                        "n_with_value": int(n),
                        "n_in_group": int(m),
                        "n_needed": int(local_threshold(m, min_areas)),
                        "scored": bool(n >= local_threshold(m, min_areas)),
                    }
                )
    return pd.DataFrame(rows, columns=["group", "indicator_id", "n_with_value", "n_in_group", "n_needed", "scored"])


def rank_within(index: pd.Series, groups: pd.Series) -> pd.Series:
    """Rank 1 = highest index within each group; ties share the better rank; NaN stays NaN."""
    return index.groupby(groups).rank(ascending=False, method="min")


@dataclass(frozen=True)
class IndexSpec:
    """The scored indicators of a lens: their domain and polarity, and which are required."""

    domain: dict[str, str]
    polarity: dict[str, int]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()  # local-only: never counted against an area that lacks them

    @property
    def ids(self) -> list[str]:
        return list(self.domain)


def composite(
    values: pd.DataFrame,
    spec: IndexSpec,
    weights: Mapping[str, float] | None = None,
    groups: pd.Series | None = None,
    method: str = DEFAULT_METHOD,
) -> pd.DataFrame:
    """The whole pipeline on a table of indicator values (rows = areas, columns = indicators).

    Returns per area: one ``score_<domain>`` column per domain, ``index`` (0–100, NaN when the
    area fails :func:`availability`), ``rank`` within its group, ``n_in_group`` (areas of the
    group with an index), ``n_indicators`` (scored indicators with a value) and ``reason``.
    Areas without an index are left out of normalisation too, so they cannot move the others.
    """
    w = measured_weights(weights, spec)
    groups = pd.Series("all", index=values.index) if groups is None else groups.reindex(values.index)
    values = thin_local_removed(values[spec.ids], spec.optional, groups)
    reason = availability(values, spec.domain, w, spec.required, optional=spec.optional)
    ok = reason == ""
    scores = normalise_frame(values[ok], spec.polarity, groups[ok], method)
    doms = domain_scores(scores, spec.domain).reindex(values.index)
    idx = aggregate(doms, w)
    idx[~ok] = np.nan
    out = doms.add_prefix("score_")
    out["index"] = idx
    out["rank"] = rank_within(idx, groups)
    out["n_in_group"] = idx.notna().groupby(groups).transform("sum").astype(int)
    out["n_indicators"] = values.notna().sum(axis=1).astype(int)
    out["reason"] = reason
    return out


def monte_carlo_ranks(
    values: pd.DataFrame,
    spec: IndexSpec,
    weights: Mapping[str, float] | None = None,
    groups: pd.Series | None = None,
    n: int = 500,
    seed: int = 0,
    methods: Sequence[str] = METHODS,
    concentration: float = CONCENTRATION,
) -> pd.DataFrame:
    """Rank uncertainty: ``n`` draws, each with domain weights from a Dirichlet centred on the
    chosen weights (alpha = concentration × weight, zero-weight domains stay at zero) and a
    normalisation method drawn uniformly from ``methods``. Ranks are recomputed within each
    group for every draw. Returns ``median_rank``, ``p5``, ``p95``, ``band`` (p95 − p5),
    ``robust`` (band ≤ ROBUST_BAND × group size) and ``n_in_group``; areas without an index get
    NaN. Vectorised: the domain scores for each method are computed once, draws are a matrix
    product and an argsort.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    w = measured_weights(weights, spec)
    groups = pd.Series("all", index=values.index) if groups is None else groups.reindex(values.index)
    values = thin_local_removed(values[spec.ids], spec.optional, groups)
    ok = (availability(values, spec.domain, w, spec.required, optional=spec.optional) == "").to_numpy()
    used = [d for d in DOMAINS if w[d] > 0]
    rng = np.random.default_rng(seed)
    # domain scores per method: (methods, areas, used domains)
    stack = np.stack(
        [
            domain_scores(normalise_frame(values[ok], spec.polarity, groups[ok], m), spec.domain)[used].to_numpy()
            for m in methods
        ]
    )
    method_draw = rng.integers(0, len(methods), size=n)
    alpha = np.array([w[d] for d in used]) * concentration
    wdraw = rng.dirichlet(alpha, size=n) if len(used) > 1 else np.ones((n, 1))
    sims = np.einsum("nak,nk->na", stack[method_draw], wdraw)  # (draws, areas with index)

    stats = np.full((len(values), 4), np.nan)  # median rank, p5, p95, areas of the group with an index
    g_ok = groups[ok].to_numpy()
    at_ok = np.flatnonzero(ok)
    for g in pd.unique(g_ok):
        cols = np.flatnonzero(g_ok == g)
        ranks = _min_ranks_desc(sims[:, cols])
        p5, med, p95 = np.percentile(ranks, [5, 50, 95], axis=0)
        stats[at_ok[cols]] = np.column_stack([med, p5, p95, np.full(cols.size, float(cols.size))])
    median_rank, p5, p95, n_in_group = stats.T
    out = pd.DataFrame(
        {"median_rank": median_rank, "p5": p5, "p95": p95, "band": p95 - p5, "n_in_group": n_in_group},
        index=values.index,
    )
    robust = pd.array(out["band"] <= ROBUST_BAND * out["n_in_group"], dtype="boolean")
    robust[out["band"].isna().to_numpy()] = pd.NA
    out["robust"] = robust
    return out


def _min_ranks_desc(sub: np.ndarray) -> np.ndarray:
    """Row-wise ranks, 1 = highest, ties sharing the better rank (like ``rank_within``).

    Each row is shifted into its own band (index values are 0–100, rows 1000 apart) so one
    flat sort and ``searchsorted`` rank every row at once: rank = 1 + number of larger values.
    """
    n, m = sub.shape
    shifted = -sub + (np.arange(n) * 1000.0)[:, None]
    flat = np.sort(shifted, axis=1).ravel()
    pos = np.searchsorted(flat, shifted.ravel(), side="left").reshape(n, m)
    return pos - (np.arange(n) * m)[:, None] + 1


def nearest_neighbours(features: pd.DataFrame, groups: pd.Series, k: int = 10) -> pd.DataFrame:
    """Statistical nearest neighbours within each group.

    Each feature is z-scored over the group (so no feature dominates because of its units),
    distances are Euclidean over the z-scores, and the ``k`` nearest other areas are returned
    as rows (area_code, peer_code, distance, peer_rank); equal distances are broken by code
    order. Areas with any missing feature have no
    peers and are nobody's peer (distances over partial features are not comparable).
    """
    rows = []
    complete = features.notna().all(axis=1)
    for g in pd.unique(groups):
        members = features.index[(groups == g).to_numpy() & complete.to_numpy()].sort_values()
        if len(members) < 2:
            continue
        x = features.loc[members].to_numpy(dtype=float)
        sd = x.std(axis=0)
        z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        dist = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2))
        np.fill_diagonal(dist, np.inf)
        kk = min(k, len(members) - 1)
        # equal distances (to 1e-12) keep code order, so ties never depend on rounding noise
        nearest = np.argsort(np.round(dist, 12), axis=1, kind="stable")[:, :kk]
        for i, code in enumerate(members):
            for r, j in enumerate(nearest[i], start=1):
                rows.append((code, members[j], float(dist[i, j]), r))
    return pd.DataFrame(rows, columns=["area_code", "peer_code", "distance", "peer_rank"])


def rurality_ordinal(ruc: str | None) -> float | None:
    """2021 Rural–Urban Classification of a district → 1 (urban) … 4 (majority rural).

    Accepts the code (UUN, UIF, RMF, …) or the published label. The second letter pair orders
    rurality: UU urban, UI intermediate urban, RI intermediate rural, RM majority rural; the
    final N/F (nearer/further from a major town) is about remoteness, which density and the
    other features already reflect, so it is not part of the ordinal.
    """
    if ruc is None or (isinstance(ruc, float) and math.isnan(ruc)):
        return None
    s = str(ruc).strip()
    by_code = {"UU": 1.0, "UI": 2.0, "RI": 3.0, "RM": 4.0}
    if s[:2].upper() in by_code and len(s) <= 3:
        return by_code[s[:2].upper()]
    low = s.lower()
    for prefix, val in (
        ("urban", 1.0),
        ("intermediate urban", 2.0),
        ("intermediate rural", 3.0),
        ("majority rural", 4.0),
    ):
        if low.startswith(prefix):
            return val
    return None


# =============================================================================================
# Reading the database
# =============================================================================================


def spec_for(
    lens: str, local_present: Iterable[str] = (), defs: Sequence[_registry.Indicator] | None = None
) -> IndexSpec:
    """Scored indicators of a lens, from the definitions ``defs`` (default: the served build's).

    Local-only indicators are scored when some area has a local value for them
    (``local_present``); they are ``optional``: an area without one is not counted short of
    indicators, so loading a council's own figures changes that council's index and no other."""
    if lens not in LENSES:
        raise ValueError(f"unknown lens {lens!r}; choose from {LENSES}")
    defs = _registry.definitions() if defs is None else defs
    domain, polarity = {}, {}
    for ind in defs:
        if not lens_scores(ind, lens):
            continue
        if not (ind.scored or (ind.local_scored and ind.id in local_present)):
            continue
        domain[ind.id] = ind.domain
        polarity[ind.id] = ind.polarity
    scored = {i.id for i in defs if i.scored}
    optional = tuple(i for i in domain if i not in scored)
    return IndexSpec(domain, polarity, (LENS_REQUIRED[lens],), optional)


def lens_scores(ind: _registry.Indicator, lens: str) -> bool:
    """Whether a lens may score an indicator. ``lens="both"`` indicators belong to the place and council
    lenses; the community lens takes those that do not divide by council spending, and its own."""
    if lens == "community":
        return ind.lens == "community" or (ind.lens == "both" and ind.id not in SPENDING_BASED)
    return ind.lens in ("both", lens)


def scoring_lenses(ind: _registry.Indicator) -> tuple[str, ...]:
    """The lenses (of :data:`LENSES`, in order) whose index scores ``ind``; none when it is not scored.
    parish_precept_share: place and council (the community lens leaves out :data:`SPENDING_BASED`)."""
    return tuple(x for x in LENSES if lens_scores(ind, x)) if ind.scored else ()


def _group_of(areas: pd.DataFrame, level: str, lens: str, group: str | None) -> pd.Series:
    """Comparison groups. Default: like with like (shire districts vs shire districts, single
    tier vs single tier). ``type`` splits single tier into unitary / metropolitan / London;
    ``all`` compares every place (place lens only: a council lens comparison of councils that
    run different services would rate them on services they do not run)."""
    if level != "district":
        if group not in (None, "all", "tier", "type"):
            raise ValueError(f"unknown group {group!r}")
        return pd.Series(level, index=areas.index)
    group = group or "tier"
    if group == "tier":
        return areas["tier"].map({"lower": "shire_district", "single": "single_tier"})
    if group == "type":
        return areas["type"].replace({"city_of_london": "london_borough"})
    if group == "all":
        if lens == "council":
            raise ValueError("the council lens compares councils only within their tier: use group='tier' or 'type'")
        return pd.Series("all_districts", index=areas.index)
    raise ValueError(f"unknown group {group!r}; choose 'tier', 'type' or 'all'")


@lru_cache(maxsize=8)
def _level_rows(key: str, db: str, level: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Areas of a level and the values, in every period, of the indicators any lens may score
    (read once per build and level: the index of each period and lens takes its rows from them)."""
    defs = _registry.definitions(db)
    ids = [i.id for i in defs if i.scored or i.local_scored]
    areas, vals = _db.query_many(
        [
            (
                "SELECT code AS area_code, name, type, tier, county_code, region_code FROM areas "
                "WHERE level = ? ORDER BY code",
                [level],
            ),
            (
                """SELECT v.area_code, v.indicator_id, v.period, v.value, v.is_local, v.note
                FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = ?
                WHERE list_contains(?::VARCHAR[], v.indicator_id)""",
                [level, ids],
            ),
        ],
        db=db,
    )
    return areas, vals


@lru_cache(maxsize=64)
def _load(
    key: str, db: str, level: str, period: str, lens: str
) -> tuple[pd.DataFrame, pd.DataFrame, frozenset, pd.Series]:
    """Areas of a level and their scored indicator values for one period (cached per build)."""
    defs = _registry.definitions(db)
    ids = [i.id for i in defs if (i.scored or i.local_scored) and lens_scores(i, lens)]
    static = [i.id for i in defs if i.static and i.id in ids]
    areas, vals = _level_rows(key, db, level)
    vals = vals[vals["indicator_id"].isin(ids) & ((vals["period"] == period) | vals["indicator_id"].isin(static))]
    areas = areas.set_index("area_code")
    # why a provider-side value is missing (e.g. a predecessor council published nothing)
    spend = vals[vals["indicator_id"].isin(list(LENS_REQUIRED.values())) & vals["value"].isna()]
    notes = spend.set_index(["area_code", "indicator_id"])["note"] if "note" in spend else pd.Series(dtype=object)
    domain_of = {i.id: i.domain for i in defs}
    is_local = vals["is_local"].fillna(False).astype(bool)
    local = frozenset(vals.loc[is_local & vals["value"].notna(), "indicator_id"])
    # regional estimates are never scored: keep participation values only when they are local
    vals = vals[_values.comparable_mask(vals["indicator_id"].map(domain_of), is_local)]
    # a static indicator (one snapshot) uses its latest snapshot for every period
    vals = vals.sort_values("period").drop_duplicates(["area_code", "indicator_id"], keep="last")
    table = vals.pivot(index="area_code", columns="indicator_id", values="value")
    table = table.reindex(index=areas.index, columns=ids).astype(float)
    return areas, table, local, notes


def _inputs(level: str, period: str, lens: str, db) -> tuple[pd.DataFrame, pd.DataFrame, IndexSpec, pd.Series]:
    if level not in LEVELS:
        raise ValueError(
            f"the index is computed for {LEVELS}; wards have no finance data, so ward "
            "indicators are shown one by one instead"
        )
    if lens not in LENSES:
        raise ValueError(f"unknown lens {lens!r}; choose from {LENSES}")
    if lens == "council" and level == "region":
        raise ValueError("regions are not councils: use the place lens")
    path = str(Path(db) if db is not None else config.db_path())
    areas, table, local, notes = _load(_db.build_key(path), path, level, period, lens)
    spec = spec_for(lens, local, _registry.definitions(path))
    return areas, table[spec.ids], spec, notes


def unmeasured_domains(weights: Mapping[str, float] | None, db=None) -> tuple[str, ...]:
    """The domains given weight in ``weights`` that no area has a scored figure for in this build
    (participation: civic participation is published for England and regions only, so it counts only
    through local figures). :func:`measured_weights` ignores their weight; pages say so."""
    w = normalise_weights(weights)
    measured = _measured_domains(db=db)
    return tuple(d for d in DOMAINS if w[d] > 0 and d not in measured)


def nothing_measured(weights: Mapping[str, float] | None, db=None) -> bool:
    """Whether every domain given weight in ``weights`` is one no area has a figure for
    (:func:`unmeasured_domains`): there is then nothing to weigh, and :func:`compute_index` leaves
    every area without an index, saying why. Pages use the default weights instead and say so."""
    w = normalise_weights(weights)
    return set(unmeasured_domains(weights, db=db)) == {d for d in DOMAINS if w[d] > 0}


@_db.per_build(maxsize=4)
def _measured_domains(db=None) -> tuple[str, ...]:
    """Domains with an indicator the index scores everywhere, or a local figure it scores."""
    defs = _registry.definitions(db)
    local = [i.id for i in defs if i.local_scored and not i.scored]
    have = set(
        _db.query(
            "SELECT DISTINCT indicator_id FROM indicator_values WHERE is_local AND value IS NOT NULL "
            "AND list_contains(?::VARCHAR[], indicator_id)",
            [local],
            db=db,
        )["indicator_id"]
    )
    return tuple(sorted({i.domain for i in defs if i.scored or i.id in have}))


def _weights_key(weights: Mapping[str, float] | None) -> tuple | None:
    return None if weights is None else tuple(sorted((str(k), float(v)) for k, v in weights.items()))


@contextmanager
def _per_build(db):
    """(build key, path) of the build published now, pinned for the block: a whole-level answer
    cached under that key was computed from that build only (see db.snapshot)."""
    path = str(Path(db) if db is not None else config.db_path())
    with _db.snapshot(path) as key:
        yield key, path


def compute_index(
    level: str = "district",
    period: str = "2017-18",
    weights: Mapping[str, float] | None = None,
    lens: str = "place",
    group: str | None = None,
    db=None,
    method: str = DEFAULT_METHOD,
) -> pd.DataFrame:
    """The Provider → Enabler Index for every area of a level in one period.

    Columns: area_code, name, type, tier, group, index (0–100), rank (1 = most enabling, within
    the group), n_in_group, score_funding, score_projects, score_participation, n_indicators,
    reason ("" when the area has an index; otherwise why not).

    The answer is the same for every council that asks, so it is computed once per build and
    arguments (a council's page then costs a lookup, not a recomputation); callers get a copy.
    """
    with _per_build(db) as (key, path):
        return _index_cached(key, path, level, period, _weights_key(weights), lens, group, method).copy()


@lru_cache(maxsize=256)
def _index_cached(
    key: str, path: str, level: str, period: str, weights: tuple | None, lens: str, group: str | None, method: str
) -> pd.DataFrame:
    if group is None and method == DEFAULT_METHOD and _stored.is_default(weights, DEFAULT_WEIGHTS):
        kept = _stored.default_answer("index_default", path, level, period, lens)  # stored by the build
        if kept is not None:
            return kept
    return _fresh_index(path, level, period, weights, lens, group, method)


def _fresh_index(
    path: str, level: str, period: str, weights: tuple | None, lens: str, group: str | None, method: str
) -> pd.DataFrame:
    """:func:`compute_index`'s answer computed from the indicator values (never a stored one)."""
    weights = dict(weights) if weights is not None else None
    areas, values, spec, notes = _inputs(level, period, lens, path)
    groups = _group_of(areas, level, lens, group)
    res = composite(values, spec, weights, groups, method)
    for (code, ind_id), note in notes.items():  # say why the spending figure is missing
        if code in res.index and res.at[code, "reason"] and isinstance(note, str) and note:
            res.at[code, "reason"] += f" ({ind_id}: {note})"
    nowhere = [c for c in spec.ids if values[c].isna().all()]
    if nowhere:  # say when a whole source is absent for the period (e.g. no district finance for 2016-17)
        res.loc[res["reason"] != "", "reason"] += f" (no area has {', '.join(nowhere)} for {period})"
    years = periods(path)
    if period not in years:  # never an index from the domains one year happens to have
        res = _not_computed(res, _not_computed_reason(period, years, path))
    out = areas[["name", "type", "tier"]].copy()
    out["group"] = groups
    out = out.join(res)
    out.index.name = "area_code"
    cols = [
        "name",
        "type",
        "tier",
        "group",
        "index",
        "rank",
        "n_in_group",
        *[f"score_{d}" for d in DOMAINS],
        "n_indicators",
        "reason",
    ]
    return out[cols].reset_index().sort_values(["group", "rank", "area_code"], na_position="last", ignore_index=True)


def local_figures_scored(
    area_code: str, level: str, period: str, lens: str = "place", group: str | None = None, db=None
) -> pd.DataFrame:
    """The area's local indicators in ``period`` and whether each is scored in its comparison group
    (:data:`LOCAL_MIN_AREAS`): indicator_id, n_with_value, n_in_group, scored."""
    with _per_build(db) as (_key, path):
        areas, values, spec, _notes = _inputs(level, period, lens, path)
    if area_code not in values.index:
        return local_scoring(values.iloc[:0], spec.optional, pd.Series(dtype=object))
    mine = [c for c in spec.optional if pd.notna(values.at[area_code, c])]
    if not mine:  # no local figure of its own (most councils): nothing to count in its group
        return local_scoring(values.iloc[:0], [], pd.Series(dtype=object)).drop(columns="group")
    groups = _group_of(areas, level, lens, group)
    table = local_scoring(values, mine, groups)
    return table[table["group"] == groups[area_code]].drop(columns="group").reset_index(drop=True)


def _not_computed_reason(period: str, years: list[str], db) -> str:
    have = set(
        _db.query(
            """SELECT DISTINCT v.indicator_id FROM indicator_values v JOIN areas a ON a.code = v.area_code
                            WHERE a.level = 'district' AND a.tier = 'lower' AND v.value IS NOT NULL AND v.period = ?
                            AND list_contains(?::VARCHAR[], v.indicator_id)""",
            [period, list(NEEDED)],
            db=db,
        )["indicator_id"]
    )
    absent = [name for ind, name in NEEDED.items() if ind not in have]
    why = " (the grants data stop in 2018)" if "grants" in absent and period > "2018" else ""
    return NOT_COMPUTED.format(
        period=period, absent=" and no ".join(absent) or "complete data", why=why, years=", ".join(years) or "none"
    )


def _not_computed(res: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Every area without an index, rank or domain score, for ``reason``."""
    res = res.copy()
    for col in res.columns:
        if col != "reason":
            res[col] = np.nan
    res["reason"] = reason
    return res


def rank_uncertainty(
    level: str = "district",
    period: str = "2017-18",
    weights: Mapping[str, float] | None = None,
    lens: str = "place",
    n: int = 500,
    seed: int = 0,
    db=None,
    group: str | None = None,
) -> pd.DataFrame:
    """Monte Carlo rank bands (see :func:`monte_carlo_ranks`): area_code, group, rank (with the
    chosen weights and the default normalisation), median_rank, p5, p95, band, robust, n_in_group.
    Computed once per build and arguments, like :func:`compute_index`."""
    with _per_build(db) as (key, path):
        return _bands_cached(key, path, level, period, _weights_key(weights), lens, n, seed, group).copy()


@lru_cache(maxsize=64)
def _bands_cached(
    key: str, path: str, level: str, period: str, weights: tuple | None, lens: str, n: int, seed: int, group: str | None
) -> pd.DataFrame:
    if (n, seed) == _stored.DEFAULT_BANDS and group is None and _stored.is_default(weights, DEFAULT_WEIGHTS):
        kept = _stored.default_answer("rank_bands_default", path, level, period, lens)  # stored by the build
        if kept is not None:
            return kept
    # the ranks with the chosen weights are compute_index's (cached for this build), not computed again
    base = _index_cached(key, path, level, period, weights, lens, group, DEFAULT_METHOD)
    return _fresh_bands(path, level, period, weights, lens, n, seed, group, base)


def _fresh_bands(
    path: str,
    level: str,
    period: str,
    weights: tuple | None,
    lens: str,
    n: int,
    seed: int,
    group: str | None,
    base: pd.DataFrame,
) -> pd.DataFrame:
    """:func:`rank_uncertainty`'s answer computed from the indicator values (never a stored one),
    beside the ranks of ``base``, the index with the same arguments."""
    areas, values, spec, _ = _inputs(level, period, lens, path)
    groups = _group_of(areas, level, lens, group)
    mc = monte_carlo_ranks(values, spec, dict(weights) if weights is not None else None, groups, n=n, seed=seed)
    out = pd.DataFrame({"group": groups, "rank": base.set_index("area_code")["rank"]}).join(mc)
    out.index.name = "area_code"
    return out.reset_index()


def default_answers(level: str, period: str, lens: str, n: int, seed: int, db) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The index and the rank bands (``n`` draws, ``seed``) of a level, period and lens with default
    settings, computed from the indicator values even when the build at ``db`` stored them: what
    a build stores (etl/precompute.py)."""
    with _per_build(db) as (_key, path):
        idx = _fresh_index(path, level, period, None, lens, None, DEFAULT_METHOD)
        return idx, _fresh_bands(path, level, period, None, lens, n, seed, None, idx)


def periods(db=None) -> list[str]:
    """Financial years in which the index can be computed (district finance AND grants exist),
    oldest first. With the offline data: 2013-14, 2014-15 and 2017-18."""
    return _index_periods(db)["period"].tolist()


def default_shift_periods(db=None) -> tuple[str, str]:
    """Earliest and latest financial years in which district finance AND grants both exist."""
    df = _index_periods(db)
    if df.empty:
        raise ValueError("no financial year has both district finance and grants")
    return df["period"].iloc[0], df["period"].iloc[-1]


@_db.per_build(maxsize=8)
def _index_periods(db=None) -> pd.DataFrame:
    return _db.query(
        """
        SELECT v.period FROM indicator_values v JOIN areas a ON a.code = v.area_code
        WHERE a.level = 'district' AND a.tier = 'lower' AND v.value IS NOT NULL
          AND v.indicator_id IN ('council_spend_per_head', 'grants_amount_per_head')
        GROUP BY v.period HAVING count(DISTINCT v.indicator_id) = 2 ORDER BY v.period""",
        db=db,
    )


#: Columns of :func:`shift` (besides ``area_code``).
SHIFT_COLUMNS = [
    "name",
    "group",
    "ratio_from",
    "ratio_to",
    "ratio_shift",
    "index_from",
    "index_to",
    "index_shift",
    "rank_from",
    "rank_to",
    "rank_change",
    "from_period",
    "to_period",
]


@_db.per_build(maxsize=128)
def shift(
    level: str = "district",
    from_period: str | None = None,
    to_period: str | None = None,
    lens: str = "place",
    weights: Mapping[str, float] | None = None,
    group: str | None = None,
    db=None,
) -> pd.DataFrame:
    """Change between two financial years: the enabler ratio (absolute, £ per £100) and the
    index and rank (relative: the index is normalised within each year, so its shift is a change
    of position among peers, not of level).

    Columns: area_code, name, group, ratio_from, ratio_to, ratio_shift, index_from, index_to,
    index_shift, rank_from, rank_to, rank_change (positive = moved up), from_period, to_period.
    """
    if from_period is None or to_period is None:
        d_from, d_to = default_shift_periods(db)
        from_period, to_period = from_period or d_from, to_period or d_to
    ratio_id = "enabler_ratio_council" if lens == "council" else "enabler_ratio"
    a = compute_index(level, from_period, weights, lens, group, db)
    b = compute_index(level, to_period, weights, lens, group, db)
    ratios = _db.query(
        """SELECT v.area_code, v.period, v.value FROM indicator_values v
                          JOIN areas a ON a.code = v.area_code AND a.level = ?
                          WHERE v.indicator_id = ? AND v.period IN (?, ?)""",
        [level, ratio_id, from_period, to_period],
        db=db,
    )
    r = ratios.pivot(index="area_code", columns="period", values="value").reindex(columns=[from_period, to_period])
    out = a.set_index("area_code")[["name", "group", "index", "rank"]].rename(
        columns={"index": "index_from", "rank": "rank_from"}
    )
    out = out.join(b.set_index("area_code")[["index", "rank"]].rename(columns={"index": "index_to", "rank": "rank_to"}))
    out["ratio_from"] = r[from_period]
    out["ratio_to"] = r[to_period]
    out["ratio_shift"] = out["ratio_to"] - out["ratio_from"]
    out["index_shift"] = out["index_to"] - out["index_from"]
    out["rank_change"] = out["rank_from"] - out["rank_to"]
    out["from_period"], out["to_period"] = from_period, to_period
    out.index.name = "area_code"
    return out[SHIFT_COLUMNS].reset_index()


def peer_features(db=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Councils (districts and counties) with their peer features and tier group.

    Features: log population, IMD 2025 average score, rurality ordinal (RUC 2021), log
    population density. Counties' rurality is the population-weighted mean of their districts'
    ordinals (the classification is published for districts only).
    """
    areas, vals = _db.query_many(
        [
            (
                "SELECT code AS area_code, name, level, type, tier, ruc_class, county_code FROM areas "
                "WHERE level IN ('district', 'county') ORDER BY code",
                None,
            ),
            (
                "SELECT v.area_code, v.indicator_id, v.value FROM indicator_values v "
                "JOIN areas a ON a.code = v.area_code AND a.level IN ('district', 'county') "
                "WHERE v.indicator_id IN (?, ?, ?)",
                [_ind.POPULATION, _ind.IMD_SCORE, "area_km2"],
            ),
        ],
        db=db,
    )
    areas = areas.set_index("area_code")
    v = (
        vals.drop_duplicates(["area_code", "indicator_id"])
        .pivot(index="area_code", columns="indicator_id", values="value")
        .reindex(index=areas.index, columns=[_ind.POPULATION, _ind.IMD_SCORE, "area_km2"])
    )
    rural = areas["ruc_class"].map(rurality_ordinal).astype(float)
    pop = v[_ind.POPULATION]
    lower = areas[areas["tier"] == "lower"]
    county_rural = (rural[lower.index] * pop[lower.index]).groupby(lower["county_code"]).sum(min_count=1) / pop[
        lower.index
    ].where(rural[lower.index].notna()).groupby(lower["county_code"]).sum(min_count=1)
    counties = areas.index[areas["level"] == "county"]
    rural[counties] = county_rural.reindex(counties)
    feats = pd.DataFrame(
        {
            "log_population": np.log(pop.where(pop > 0)),
            "imd_score": v[_ind.IMD_SCORE],
            "rurality": rural,
            "log_density": np.log((pop / v["area_km2"]).where(lambda s: s > 0)),
        }
    )
    groups = areas["tier"].map({"lower": "shire_district", "single": "single_tier", "upper": "county"})
    info = areas[["name", "level", "type", "tier"]].assign(group=groups)
    return info, feats


def peers(area_code: str, k: int = 10, db=None) -> pd.DataFrame:
    """The k statistical nearest neighbours of a council, within its tier group.

    Columns: peer_code, name, type, distance, peer_rank, and the peer's features. Empty when the
    council lacks a feature (``peer_features`` shows which)."""
    with _per_build(db) as (key, path):
        info, feats, nn = _neighbours_cached(key, path, k)
    if area_code not in info.index:
        raise KeyError(f"{area_code} is not a current district or county")
    mine = nn[nn["area_code"] == area_code].drop(columns="area_code")
    out = mine.join(info[["name", "type"]], on="peer_code").join(feats, on="peer_code")
    return out.reset_index(drop=True)


@lru_cache(maxsize=8)
def _neighbours_cached(key: str, path: str, k: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every council's k nearest neighbours, once per build (callers only read the frames)."""
    info, feats = peer_features(path)
    kept = _stored.neighbours(path) if k == _stored.NEIGHBOURS_K else None  # stored by the build
    return info, feats, kept if kept is not None else nearest_neighbours(feats, info["group"], k=k)


def neighbour_table(k: int = _stored.NEIGHBOURS_K, db=None) -> pd.DataFrame:
    """Every council's k nearest neighbours: area_code, peer_code, distance, peer_rank."""
    with _per_build(db) as (key, path):
        return _neighbours_cached(key, path, k)[2].copy()


_KEY = ["indicator_id", "period"]  # one row of an indicator table per indicator and year
_DOMAIN_RANK = {"headline": 0, "funding": 1, "projects": 2, "participation": 3}  # then the rest
_INDICATOR_TABLE_COLUMNS = [
    "indicator_id", "name", "domain", "unit", "polarity", "scored", "period", "value",
    "numerator", "denominator", "is_local", "note", "source_ids",
]  # fmt: skip


def indicator_table(area_code: str, db=None) -> pd.DataFrame:
    """Every indicator value for one area, with its metadata, note and coverage.

    ``coverage`` says how many areas of the same level have a value for that indicator and
    period ("based on N of M"), so a reader sees how complete each comparison is. The counts are
    the level's (:func:`level_coverage`, kept per build); only the area's own rows are read here.
    """
    level = _values.level_of(area_code, db)
    rows = _values.of_areas([area_code] if level else [], db)
    meta = _values.indicator_meta(db).set_index("indicator_id").reindex(rows["indicator_id"])
    keys = zip(meta["domain"].tolist(), rows["indicator_id"].tolist(), rows["period"].tolist())
    keys = [(_DOMAIN_RANK.get(d, 4), i, p) for d, i, p in keys]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    cov = _coverage_of(level, db).value if len(rows) else {}
    out = {}
    for col in _INDICATOR_TABLE_COLUMNS:
        if col == "source_ids":  # the coverage goes just before the sources, as the columns always were
            key = zip(rows["indicator_id"].to_numpy()[order], rows["period"].to_numpy()[order])
            out["coverage"] = pd.Series([cov.get(k, np.nan) for k in key], dtype="str" if len(rows) else object)
        column = meta[col] if col in meta.columns else rows[col]
        out[col] = pd.Series(column.to_numpy()[order], dtype=column.dtype)
    return pd.DataFrame(out)


@_db.per_build(maxsize=16)
def _coverage_of(level: str, db=None) -> _db.AsIs:
    """(indicator_id, period) → its coverage text for ``level`` (:func:`level_coverage`)."""
    cov = level_coverage(level, db)
    return _db.AsIs(dict(zip(zip(cov["indicator_id"], cov["period"]), cov["coverage"])))


@_db.per_build(maxsize=16)
def level_coverage(level: str, db=None) -> pd.DataFrame:
    """'based on N of M <level>s with a value' for every (indicator_id, period) of a level."""
    return _db.query(
        """
        WITH n_level AS (SELECT count(*) AS n FROM areas WHERE level = ?)
        SELECT v.indicator_id, v.period,
               'based on ' || count(v.value) || ' of ' || any_value(n_level.n) || ' ' || ? || 's with a value'
                   AS coverage
        FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = ?
        CROSS JOIN n_level
        GROUP BY v.indicator_id, v.period""",
        [level, level, level],
        db=db,
    )
