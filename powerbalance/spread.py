"""How a funder's money is spread across places (the "Programme spread" view for funders).

Pure pandas functions on two shapes of data:

* ``grants`` — one row per grant, with an area column (``district_code`` or ``ward_code``, as
  set by :func:`powerbalance.grants360.place_grants`; NULL = not placed) and ``amount_gbp``;
* ``by_area`` — one row per area of the comparison set, made by :func:`amount_by_area`, with the
  money received and any context columns (deprivation decile, population).

Deprivation deciles follow the English Indices of Deprivation: **1 = most deprived 10%**.
Context such as deprivation is shown beside the money, never folded into a score. Definitions
are in docs/funders.md.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def amount_by_area(
    grants: pd.DataFrame,
    areas: pd.DataFrame,
    area_col: str = "district_code",
    amount_col: str = "amount_gbp",
    code_col: str = "code",
) -> pd.DataFrame:
    """Every area of ``areas`` with the number of grants and the money placed in it.

    An area the file gives nothing to gets 0 grants and £0 in the measures — shown to people as
    "none recorded in this file", since a file may not list every grant — so the comparison set,
    not the grants, decides which areas count. Grants not placed, or placed outside ``areas``, are left out here; :func:`reach`
    counts them. ``areas`` keeps its other columns (decile, population ...).
    """
    placed = grants[grants[area_col].notna()]
    totals = placed.groupby(area_col).agg(grants=(amount_col, "size"), amount_gbp=(amount_col, "sum"))
    out = areas.merge(totals, how="left", left_on=code_col, right_index=True)
    out["grants"] = out["grants"].fillna(0).astype("int64")
    out["amount_gbp"] = out["amount_gbp"].fillna(0.0)
    return out


def reach(
    grants: pd.DataFrame,
    areas: pd.DataFrame,
    area_col: str = "district_code",
    amount_col: str = "amount_gbp",
    code_col: str = "code",
) -> dict[str, float]:
    """How many of the comparison areas received at least one grant, and what could not be placed.

    Returns ``grants``, ``grants_placed``, ``grants_unplaced`` (no area: shown, never hidden),
    ``grants_outside_areas`` (placed, but not in ``areas``), ``amount_unplaced``,
    ``areas_total``, ``areas_reached`` and ``share_reached`` (= areas_reached / areas_total;
    NaN when there are no areas).
    """
    codes = set(areas[code_col])
    placed = grants[area_col].notna()
    inside = grants[area_col].isin(codes)
    reached = grants.loc[inside, area_col].nunique()
    return {
        "grants": int(len(grants)),
        "grants_placed": int(placed.sum()),
        "grants_unplaced": int((~placed).sum()),
        "grants_outside_areas": int((placed & ~inside).sum()),
        "amount_unplaced": float(grants.loc[~placed, amount_col].sum()),
        "areas_total": len(codes),
        "areas_reached": int(reached),
        "share_reached": reached / len(codes) if codes else float("nan"),
    }


def _clean(values: Iterable[float]) -> np.ndarray:
    """Values as floats without missing entries (missing is not zero); negatives refused."""
    arr = pd.to_numeric(pd.Series(list(values), dtype="float64"), errors="raise").dropna().to_numpy()
    if (arr < 0).any():
        raise ValueError("spread measures need amounts of 0 or more; found a negative value")
    return arr


def gini(values: Iterable[float]) -> float:
    """Gini coefficient of money across areas: 0 = every area gets the same, → 1 = one area gets it all.

    G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄), computed on the sorted values as
    G = 2 Σᵢ i·x₍ᵢ₎ / (n Σ x) − (n + 1) / n with i = 1..n. Areas with £0 count (pass them in);
    NaN values are dropped. NaN when there is no area or no money.
    """
    x = np.sort(_clean(values))
    n, total = len(x), x.sum() if len(x) else 0.0
    if n == 0 or total == 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(2 * np.sum(i * x) / (n * total) - (n + 1) / n)


def lorenz(values: Iterable[float]) -> pd.DataFrame:
    """Lorenz curve points: areas sorted from least to most funded, cumulative shares.

    Columns ``share_of_areas`` and ``share_of_amount``, starting at (0, 0) and ending at (1, 1);
    the further the curve sags below the diagonal, the more concentrated the money.
    ``share_of_amount`` is NaN when there is no money at all.
    """
    x = np.sort(_clean(values))
    n, total = len(x), x.sum() if len(x) else 0.0
    cum = np.concatenate([[0.0], np.cumsum(x)])
    return pd.DataFrame(
        {
            "share_of_areas": np.arange(n + 1) / n if n else np.array([0.0]),
            "share_of_amount": cum / total if total else np.full(n + 1, np.nan),
        }
    )


def need_alignment(
    by_area: pd.DataFrame, decile_col: str, amount_col: str = "amount_gbp", weight_col: str | None = None
) -> pd.DataFrame:
    """Share of the money going to each deprivation decile (1 = most deprived), beside a baseline.

    One row per decile 1–10 with ``areas``, ``amount_gbp``, ``share_of_amount`` (of money placed
    in areas with a decile), the even-spread baseline ``share_of_areas`` — or
    ``share_of_weight`` (e.g. population) when ``weight_col`` is given — and ``ratio`` = share of
    money ÷ baseline (above 1: the decile gets more than its share). Areas without a decile are
    left out and counted in ``.attrs['areas_without_decile']`` / ``.attrs['amount_without_decile']``.
    """
    known = by_area[by_area[decile_col].notna()]
    missing = by_area[by_area[decile_col].isna()]
    deciles = pd.Index(range(1, 11), name="decile")
    g = known.groupby(known[decile_col].astype(int))
    out = pd.DataFrame({"areas": g.size(), "amount_gbp": g[amount_col].sum()}).reindex(deciles)
    out["areas"] = out["areas"].fillna(0).astype("int64")
    out["amount_gbp"] = out["amount_gbp"].fillna(0.0)
    total = out["amount_gbp"].sum()
    out["share_of_amount"] = out["amount_gbp"] / total if total else np.nan
    if weight_col:
        weights = g[weight_col].sum(min_count=1).reindex(deciles)
        out["share_of_weight"] = weights / weights.sum()
        base = out["share_of_weight"]
    else:
        out["share_of_areas"] = out["areas"] / out["areas"].sum() if out["areas"].sum() else np.nan
        base = out["share_of_areas"]
    out["ratio"] = out["share_of_amount"] / base.where(base > 0)
    out = out.reset_index()
    out.attrs["areas_without_decile"] = int(len(missing))
    out.attrs["amount_without_decile"] = float(missing[amount_col].sum())
    return out


def cold_spots(
    by_area: pd.DataFrame,
    decile_col: str,
    amount_col: str = "amount_gbp",
    population_col: str | None = None,
    max_decile: int = 2,
    quantile: float = 0.25,
    code_col: str = "code",
) -> pd.DataFrame:
    """High-need areas with little or no funding, ranked (rank 1 = coldest).

    *High need*: deprivation decile ≤ ``max_decile`` (default: the most deprived 20%).
    *Little or no funding*: the area's money — per head when ``population_col`` is given — is at
    or below the ``quantile`` (default: lower quartile) of all areas in ``by_area``, zeros included.
    Ranked by funding ascending (areas with nothing first), then most deprived first, then code.
    Areas whose decile or population is missing cannot be judged and are left out (counted in
    ``.attrs['areas_not_judged']``).
    """
    frame = by_area.copy()
    measure = amount_col
    if population_col:
        frame["amount_per_head"] = frame[amount_col] / frame[population_col].where(frame[population_col] > 0)
        measure = "amount_per_head"
    judged = frame[frame[measure].notna() & frame[decile_col].notna()]
    if judged.empty:
        out = judged.assign(rank=pd.Series(dtype="int64"))
        out.attrs["threshold"] = float("nan")
    else:
        threshold = float(judged[measure].quantile(quantile))
        out = judged[(judged[decile_col] <= max_decile) & (judged[measure] <= threshold)]
        out = out.sort_values([measure, decile_col, code_col]).reset_index(drop=True)
        out["rank"] = np.arange(1, len(out) + 1)
        out.attrs["threshold"] = threshold
    out.attrs["measure"] = measure
    out.attrs["areas_not_judged"] = int(len(frame) - len(judged))
    return out
