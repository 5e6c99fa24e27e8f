"""Shared steps of every indicator family: the value frame, rates, roll-ups and the areas.

Conventions (see docs/methodology.md for the reasons):

- Periods are financial years ('2017-18'). Grants awarded in calendar year Y are aligned with
  financial year Y-(Y+1) (9 of its 12 months overlap) and every such value's note says so.
  Snapshot indicators (parishes, Dec 2019) have one period and are used for every year.
- Per-head denominators are one population for every year (Census 2021 for districts and above,
  mid-2019 LSOA-based for wards): per-head changes reflect money, not population.
- Roll-ups (ward → district, district → county / region / England) sum numerators and
  denominators over the children that have a value, so rates are population-weighted and money
  adds up; the note says how many children were covered.
- Missing stays missing: a value that cannot be computed is NULL with a note, never 0. A zero
  is written only when the source is complete for that area and really holds none (no grants
  recorded, no parishes in the ONS list).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from powerbalance.codes import ENGLAND
from powerbalance.indicators import POPULATION

VALUE_COLUMNS = ["area_code", "indicator_id", "period", "value", "numerator", "denominator", "is_local", "note"]


def no_values() -> pd.DataFrame:
    """An empty frame of indicator values."""
    return pd.DataFrame(columns=VALUE_COLUMNS)


def rollup(
    children: pd.DataFrame,
    parent_of: Mapping[str, str] | pd.Series,
    scale: float = 1.0,
    expected: Mapping[str, int] | pd.Series | None = None,
    child_label: str = "districts",
) -> pd.DataFrame:
    """Aggregate child rows (area_code, period, numerator, denominator) to parents.

    Numerators and denominators are summed over the children that have both (so a rate is the
    denominator-weighted mean of the children's rates, and money adds up); value = scale ×
    Σnumerator / Σdenominator. The note states coverage: "sum of N of M <children>", where M is
    ``expected[parent]`` (default: the number of children mapped to the parent).
    """
    parent_of = pd.Series(parent_of, dtype=object)
    df = children[["area_code", "period", "numerator", "denominator"]].copy()
    df["parent"] = df["area_code"].map(parent_of)
    df = df[df["parent"].notna()]
    ok = df["numerator"].notna() & df["denominator"].notna() & (df["denominator"] > 0)
    df = df[ok]
    if expected is None:
        expected = parent_of.dropna().groupby(parent_of.dropna()).size()
    expected = pd.Series(expected)
    grouped = df.groupby(["parent", "period"], sort=True)
    g = grouped[["numerator", "denominator"]].sum()
    g["n"] = grouped.size()  # children are unique per parent and period
    g = g.reset_index()
    g["value"] = scale * g["numerator"] / g["denominator"]
    g["note"] = [f"sum of {n} of {int(expected.get(p, n))} {child_label}" for p, n in zip(g["parent"], g["n"])]
    return g.rename(columns={"parent": "area_code"})[
        ["area_code", "period", "value", "numerator", "denominator", "note"]
    ]


def apportion_county(own: pd.DataFrame, districts: pd.DataFrame, population: pd.Series) -> pd.DataFrame:
    """Place spending per district: own spending, plus for a shire district its county's spending
    × the district's share of the county's population (the sum of its districts' populations,
    so the shares of a county add up to exactly one).

    ``own``: council_code, period, own (NaN when incomplete). ``districts``: code, tier,
    county_code. Returns code, period, own, county_own, share, place.
    """
    d = districts[["code", "tier", "county_code"]].copy()
    d["pop"] = d["code"].map(population)
    county_pop = d[d["tier"] == "lower"].groupby("county_code")["pop"].sum(min_count=1)
    # a county whose districts do not all have a population cannot be apportioned
    incomplete = d[(d["tier"] == "lower") & d["pop"].isna()]["county_code"].unique()
    county_pop[county_pop.index.isin(incomplete)] = np.nan
    d["share"] = np.where(d["tier"] == "lower", d["pop"] / d["county_code"].map(county_pop), np.nan)
    # every district × every finance year, with its own and its county's spending
    out = d.merge(pd.DataFrame({"period": sorted(own["period"].unique())}), how="cross")
    out = out.merge(
        own[["council_code", "period", "own"]].rename(columns={"council_code": "code"}),
        on=["code", "period"],
        how="left",
    )
    out = out.merge(
        own[["council_code", "period", "own"]].rename(columns={"council_code": "county_code", "own": "county_own"}),
        on=["county_code", "period"],
        how="left",
    )
    out["place"] = np.where(out["tier"] == "lower", out["own"] + out["county_own"] * out["share"], out["own"])
    return out[["code", "period", "own", "county_own", "share", "place"]]


def as_values(rows: pd.DataFrame, indicator_id: str) -> pd.DataFrame:
    """Standardise a computed frame to VALUE_COLUMNS for one indicator."""
    out = rows.copy()
    out["indicator_id"] = indicator_id
    if "note" not in out:
        out["note"] = None
    for c in ("numerator", "denominator"):
        if c not in out:
            out[c] = np.nan
    if "is_local" not in out:
        out["is_local"] = False
    out["value"] = out["value"].astype(float)
    out.loc[~np.isfinite(out["value"]), "value"] = np.nan
    return out[VALUE_COLUMNS]


def rate(df: pd.DataFrame, num: str, den: str, scale: float) -> pd.DataFrame:
    """value = scale × num / den, NaN when either is missing or the denominator is not positive."""
    out = df.copy()
    out["numerator"] = out[num]
    out["denominator"] = out[den]
    ok = out["numerator"].notna() & out["denominator"].notna() & (out["denominator"] > 0)
    out["value"] = np.where(ok, scale * out["numerator"] / out["denominator"].where(ok, 1.0), np.nan)
    return out


class Geo:
    """Current areas and denominators, read once."""

    def __init__(self, con):
        areas = con.execute("SELECT code, level, tier, district_code, county_code, region_code FROM areas").df()
        self.districts = areas[areas["level"] == "district"].reset_index(drop=True)
        self.wards = areas[areas["level"] == "ward"].reset_index(drop=True)
        self.counties = areas[areas["level"] == "county"].reset_index(drop=True)
        pop = con.execute(
            "SELECT area_code, arg_max(value, period) AS pop FROM indicator_values "
            "WHERE indicator_id = ? AND value > 0 GROUP BY area_code",
            [POPULATION],
        ).df()
        self.pop = pd.Series(pop["pop"].to_numpy(float), index=pop["area_code"])
        d = self.districts
        self.county_of = pd.Series(d["county_code"].to_numpy(), index=d["code"]).dropna()
        self.region_of = pd.Series(d["region_code"].to_numpy(), index=d["code"])
        self.district_of_ward = pd.Series(self.wards["district_code"].to_numpy(), index=self.wards["code"])
        self.wards_in_district = self.wards.groupby("district_code").size()

    def parents(self) -> list[pd.Series]:
        """District → county (shire districts only), region and England maps."""
        return [self.county_of, self.region_of, pd.Series(ENGLAND, index=self.districts["code"])]


def with_rollups(district_rows: pd.DataFrame, geo: Geo, indicator_id: str, scale: float) -> pd.DataFrame:
    """District rows plus their county, region and England roll-ups for one indicator."""
    parts = [as_values(district_rows, indicator_id)]
    for parent_of in geo.parents():
        parts.append(as_values(rollup(district_rows, parent_of, scale), indicator_id))
    return pd.concat(parts, ignore_index=True)
