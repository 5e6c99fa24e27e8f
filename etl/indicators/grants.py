"""Grants family: 360Giving community grants per head and per 10,000 residents, lottery money,
wards reached and the share of grants placed in current wards (``grants_agg``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from powerbalance.codes import fy_of_year
from powerbalance.indicators import EXCLUDED_FUNDERS, LOTTERY_FUNDERS, WARD_MATCH_MIN
from powerbalance.registry import Indicator

from .base import Geo, as_values, no_values, rate, rollup, with_rollups

ORDER = 20

_GRANT_NOTE = (
    "360Giving grants, all published funders except the Department for Transport (grants to councils); "
    "calendar award year Y shown as financial year Y-(Y+1)"
)

INDICATORS = (
    Indicator(
        "grants_amount_per_head",
        "Community grant funding per head",
        "funding",
        "£ per resident",
        1,
        True,
        "Pounds awarded by 360Giving funders to recipients in the area, per resident. " + _GRANT_NOTE + ". "
        "Wards: only grants placed in a December 2023 ward.",
        "grants_360_aggregate,context",
        "ward,district,county,region,country",
    ),
    Indicator(
        "lottery_amount_per_head",
        "Lottery grant funding per head",
        "funding",
        "£ per resident",
        1,
        False,
        "As community grant funding per head, for The Big Lottery Fund alone. Not scored: it is part of "
        "all grants, so scoring both would count lottery money twice.",
        "grants_360_aggregate,context",
        "ward,district,county,region,country",
    ),
    Indicator(
        "grants_per_10k",
        "Community grants per 10,000 residents",
        "projects",
        "grants per 10,000 residents",
        1,
        True,
        "Number of grants (funded projects) per 10,000 residents. " + _GRANT_NOTE + ".",
        "grants_360_aggregate,context",
        "ward,district,county,region,country",
    ),
    Indicator(
        "wards_reached_share",
        "Wards reached by at least one grant",
        "projects",
        "% of wards",
        1,
        True,
        "Share of December 2023 wards with at least one grant placed in them that year. Only where at least "
        f"{WARD_MATCH_MIN:.0%} of the district's grants could be placed in current wards (a lower bound "
        "otherwise). Wards: 100 reached, 0 not.",
        "grants_360_aggregate,geography",
        "ward,district,county,region,country",
    ),
    Indicator(
        "grants_ward_matched_share",
        "Grants placed in current wards",
        "context",
        "% of grants",
        0,
        False,
        "Share of the district's grants whose ward code is a December 2023 ward: the coverage of every "
        "ward-level grant figure.",
        "grants_360_aggregate",
        "district,county,region,country",
    ),
)


def derive(run) -> pd.DataFrame:
    """Grant indicators; keeps ``run.shared["grants"]`` (district totals per year) for the headline."""
    rows, run.shared["grants"] = _grant_indicators(run.con, run.geo, run.rep)
    return rows


def _grants(con, rep) -> pd.DataFrame:
    """360Giving aggregate per district × ward × award year, community funders only."""
    g = con.execute("""
        SELECT district_code, ward_code, award_year, funder, sum(amount_gbp) AS amount, sum(grants) AS grants
        FROM grants_agg WHERE district_code IS NOT NULL GROUP BY ALL""").df()
    if g.empty:
        return g
    for f, why in EXCLUDED_FUNDERS.items():
        ex = g[g["funder"] == f]
        if len(ex):
            rep.note(f"{f}: {int(ex['grants'].sum()):,} grants, £{ex['amount'].sum():,.0f} excluded ({why})")
            rep.facts[f"grants_excluded_{f}"] = float(ex["amount"].sum())
    other_lottery = sorted({f for f in g["funder"].unique() if "lottery" in f.lower()} - set(LOTTERY_FUNDERS))
    for f in other_lottery:
        rep.warn(f"funder {f!r} looks like a lottery distributor but is not in LOTTERY_FUNDERS")
    g = g[~g["funder"].isin(list(EXCLUDED_FUNDERS))].copy()
    g["lottery"] = np.where(g["funder"].isin(list(LOTTERY_FUNDERS)), g["amount"], 0.0)
    g["period"] = g["award_year"].map(lambda y: fy_of_year(int(y)))
    return g


def _grant_indicators(con, geo: Geo, rep) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grant indicators for districts (all grants placed in the district) and their roll-ups,
    and for wards (grants placed in a December 2023 ward). Returns the district grant totals too."""
    g = _grants(con, rep)
    if g.empty:
        rep.note("no grants rows: grant indicators not derived")
        return no_values(), pd.DataFrame()
    periods = sorted(g["period"].unique())
    year_note = {p: f"grants awarded in calendar {p[:4]}" for p in periods}
    matched = g[g["ward_code"].notna()]
    d = _district_totals(g, matched, geo, periods, year_note)
    w = _ward_totals(matched, d, geo, periods, year_note)
    out = [
        with_rollups(rate(d, "amount", "pop", 1.0), geo, "grants_amount_per_head", 1.0),
        with_rollups(rate(d, "lottery", "pop", 1.0), geo, "lottery_amount_per_head", 1.0),
        with_rollups(rate(d, "grants", "pop", 10_000.0), geo, "grants_per_10k", 10_000.0),
        with_rollups(rate(d, "matched", "grants", 100.0), geo, "grants_ward_matched_share", 100.0),
        as_values(rate(w, "amount", "pop", 1.0), "grants_amount_per_head"),
        as_values(rate(w, "lottery", "pop", 1.0), "lottery_amount_per_head"),
        as_values(rate(w, "grants", "pop", 10_000.0), "grants_per_10k"),
    ]
    reach_w = rate(w, "reached", "one", 100.0)
    out.append(as_values(reach_w, "wards_reached_share"))
    out.append(with_rollups(_district_reach(reach_w, d, geo), geo, "wards_reached_share", 100.0))
    rep.facts["grant_periods"] = float(len(periods))
    return pd.concat(out, ignore_index=True), d[["area_code", "period", "amount", "grants"]]


def _summed(frame: pd.DataFrame, by: list[str], grid: pd.MultiIndex, columns: dict[str, str]) -> pd.DataFrame:
    """``frame``'s sums by ``by`` (output column -> summed column) on every (area, period) of ``grid``;
    an area with no grant in a period has 0 (the file covers England)."""
    sums = {name: frame.groupby(by)[col].sum() for name, col in columns.items()}
    return pd.DataFrame(sums).rename_axis(["area_code", "period"]).reindex(grid).fillna(0.0).reset_index()


def _district_totals(g, matched, geo: Geo, periods, year_note) -> pd.DataFrame:
    """Every district × year: amount, lottery amount, grants and grants placed in a current ward;
    with its population, note and the share of its grants placed in wards (1 when it had none)."""
    grid = pd.MultiIndex.from_product([geo.districts["code"], periods], names=["area_code", "period"])
    by = ["district_code", "period"]
    d = _summed(g, by, grid, {"amount": "amount", "lottery": "lottery", "grants": "grants"})
    d["matched"] = _summed(matched, by, grid, {"matched": "grants"})["matched"]
    d["pop"] = d["area_code"].map(geo.pop)
    d["note"] = d["period"].map(year_note)
    d["match_share"] = np.where(d["grants"] > 0, d["matched"] / d["grants"].where(d["grants"] > 0, 1), 1.0)
    return d


def _ward_totals(matched, d: pd.DataFrame, geo: Geo, periods, year_note) -> pd.DataFrame:
    """Every current ward × year: grants placed in it; missing (with the reason) where its district's
    grants could mostly not be placed in December 2023 wards."""
    grid = pd.MultiIndex.from_product([geo.wards["code"], periods], names=["area_code", "period"])
    w = _summed(matched, ["ward_code", "period"], grid, {"amount": "amount", "lottery": "lottery", "grants": "grants"})
    w["district"] = w["area_code"].map(geo.district_of_ward)
    w = w.merge(
        d[["area_code", "period", "match_share"]].rename(columns={"area_code": "district"}),
        on=["district", "period"],
        how="left",
    )
    w["ok"] = w["match_share"].fillna(0.0) >= WARD_MATCH_MIN
    w["pop"] = w["area_code"].map(geo.pop)
    w["note"] = [
        year_note[p] + "; grants placed in this ward only"
        if ok
        else f"missing: only {m:.0%} of the district's grants in calendar {p[:4]} could be "
        "placed in December 2023 wards (wards redrawn since)"
        for ok, m, p in zip(w["ok"], w["match_share"].fillna(0.0), w["period"])
    ]
    for c in ("amount", "lottery", "grants"):
        w.loc[~w["ok"], c] = np.nan
    w["reached"] = np.where(w["ok"], (w["grants"] > 0).astype(float), np.nan)
    w["one"] = np.where(w["ok"], 1.0, np.nan)
    return w


def _district_reach(reach_w: pd.DataFrame, d: pd.DataFrame, geo: Geo) -> pd.DataFrame:
    """Share of a district's wards reached, from its wards; a district whose wards could not be
    used keeps an explicit missing row saying why."""
    reach_d = rollup(reach_w, geo.district_of_ward, 100.0, geo.wards_in_district, "wards")
    reach_d = reach_d.merge(d[["area_code", "period", "match_share"]], on=["area_code", "period"], how="left")
    reach_d["note"] = [
        f"{n}; {m:.0%} of grants placed in current wards" for n, m in zip(reach_d["note"], reach_d["match_share"])
    ]
    miss = d.loc[d["match_share"] < WARD_MATCH_MIN, ["area_code", "period", "match_share"]].copy()
    miss["value"] = np.nan
    miss["note"] = [
        f"missing: only {m:.0%} of grants in calendar {p[:4]} could be placed in December 2023 wards "
        "(wards redrawn since)"
        for m, p in zip(miss["match_share"], miss["period"])
    ]
    return pd.concat([reach_d[reach_d["value"].notna()], miss], ignore_index=True)
