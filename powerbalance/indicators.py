"""Indicators: the loaded tables turned into per-area, per-year measures (``indicator_values``).

``derive(ctx)`` is called by ``etl/build.py`` after every source has loaded. It reads the raw
tables (finance, grants_agg, parishes, parish_wards, participation, local_values, boundaries and
the context indicators) and writes one row per area × indicator × period, with numerator,
denominator and a note saying how the value was made. ``docs/methodology.md`` explains every
choice; the registry below (:data:`INDICATORS`) is the single definition that the database
metadata, the index and the documentation tests all read.

Conventions (see the methodology for the reasons):

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

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

ENGLAND = "E92000001"

#: Context indicator ids written by the ``context`` source (etl/sources/context.py).
POPULATION = "population"
IMD_SCORE = "imd_score"

#: Finance line ids written by the ``revenue_outturn`` source.
TSE_LINE = "total_service"
PRECEPT_LINE = "parish_precepts"

#: 360Giving funders whose grants are not community funding. The Department for Transport's
#: 360Giving records (£3.4 bn, 1,859 grants, almost all awarded in 2016, one row alone £1.49 bn)
#: are transport capital grants to local authorities and transport bodies: money to councils,
#: not money in community hands. Counting them would multiply 2016's total by five.
EXCLUDED_FUNDERS: dict[str, str] = {
    "Department for Transport": "transport grants to local authorities, not community funding",
}

#: Lottery distributors among the 360Giving funders. The only funder in the file whose name
#: contains "Lottery" is The Big Lottery Fund (now The National Lottery Community Fund); the
#: build warns if another appears so that this list is reviewed.
LOTTERY_FUNDERS: tuple[str, ...] = ("The Big Lottery Fund",)

#: Ward-level grant figures (and the share of wards reached) are published for a district and
#: year only when at least this share of its grants could be placed in December 2023 wards.
#: Ward codes change whenever a ward is redrawn, so grants in wards redrawn since their award
#: year cannot be placed; in this file a district is either almost fully placed or hardly at all.
WARD_MATCH_MIN = 0.95

#: Period label of the parish snapshot (ONS PAR19_WD19_LAD19, December 2019).
PARISH_PERIOD = "2019"

LEVEL_ORDER = ("ward", "district", "county", "region", "country")


@dataclass(frozen=True)
class Indicator:
    """One indicator's definition (also written to the ``indicators`` table)."""

    id: str
    name: str
    domain: str          # funding | projects | participation | headline | context
    unit: str
    polarity: int        # +1 enabling, -1 providing, 0 context
    scored: bool         # part of the composite index (for its lens)
    description: str
    source_ids: str
    levels: str
    lens: str = "both"   # place | council | both: which index lens scores it
    static: bool = False  # a single snapshot, used for every period
    local_scored: bool = False  # scored only from local (is_local) values


_GRANT_NOTE = ("360Giving grants, all published funders except the Department for Transport (grants to councils); "
               "calendar award year Y shown as financial year Y-(Y+1)")

INDICATORS: tuple[Indicator, ...] = (
    # ---- funding --------------------------------------------------------------------------
    Indicator("place_spend_per_head", "Council service spending per head (place)", "funding",
              "£ per resident", -1, True,
              "Total service expenditure (net current, Revenue Outturn) spent on the place by all its councils, per "
              "resident. Shire districts: own spending + the county's spending × the district's share of the "
              "county's population. Counties, regions, England: sums of their districts. The provider side.",
              "revenue_outturn,context", "district,county,region,country", lens="place"),
    Indicator("council_spend_per_head", "Council's own service spending per head", "funding", "£ per resident",
              -1, True,
              "The council's own total service expenditure per resident (successor councils include their "
              "predecessors). Compared only within a tier group.",
              "revenue_outturn,context", "district,county", lens="council"),
    Indicator("parish_precept_share", "Parish precepts as a share of council spending", "funding",
              "% of place spending", 1, True,
              "Parish precepts paid over by the billing authority, as a percentage of place spending.",
              "revenue_outturn,context", "district,county,region,country"),
    Indicator("parish_precepts_per_head", "Parish precepts per head", "funding", "£ per resident", 1, False,
              "Parish precepts paid over by the billing authority per resident (cash terms): money raised and spent "
              "by parish and town councils. Not scored: the precept share already scores it.",
              "revenue_outturn,context", "district,county,region,country"),
    Indicator("grants_amount_per_head", "Community grant funding per head", "funding", "£ per resident", 1, True,
              "Pounds awarded by 360Giving funders to recipients in the area, per resident. " + _GRANT_NOTE + ". "
              "Wards: only grants placed in a December 2023 ward.",
              "grants_360_aggregate,context", "ward,district,county,region,country"),
    Indicator("lottery_amount_per_head", "Lottery grant funding per head", "funding", "£ per resident", 1, False,
              "As community grant funding per head, for The Big Lottery Fund alone. Not scored: it is part of "
              "all grants, so scoring both would count lottery money twice.",
              "grants_360_aggregate,context", "ward,district,county,region,country"),
    # ---- projects -------------------------------------------------------------------------
    Indicator("grants_per_10k", "Community grants per 10,000 residents", "projects", "grants per 10,000 residents",
              1, True, "Number of grants (funded projects) per 10,000 residents. " + _GRANT_NOTE + ".",
              "grants_360_aggregate,context", "ward,district,county,region,country"),
    Indicator("wards_reached_share", "Wards reached by at least one grant", "projects", "% of wards", 1, True,
              "Share of December 2023 wards with at least one grant placed in them that year. Only where at least "
              f"{WARD_MATCH_MIN:.0%} of the district's grants could be placed in current wards (a lower bound "
              "otherwise). Wards: 100 reached, 0 not.",
              "grants_360_aggregate,geography", "ward,district,county,region,country"),
    Indicator("parishes_per_10k", "Parishes per 10,000 residents", "projects", "parishes per 10,000 residents", 1,
              True, "Civil parishes (ONS, December 2019) per 10,000 residents. Used for every year.",
              "parishes,context", "ward,district,county,region,country", static=True),
    Indicator("parished_wards_share", "Wards that are parished", "projects", "% of wards", 1, True,
              "Share of December 2023 wards containing at least one civil parish (December 2019). Only where every "
              "parish's 2019 ward is still a current ward (unchanged boundary). Wards: 100 parished, 0 not.",
              "parishes,geography", "ward,district,county,region,country", static=True),
    # ---- participation --------------------------------------------------------------------
    Indicator("civic_participation", "Civic participation", "participation", "% of adults", 1, False,
              "Adults who took part in civic participation in the last 12 months (Community Life Survey). Regional "
              "estimate assigned to every area of the region, so never scored; local figures loaded through the "
              "volunteering template replace it for their area and are scored.",
              "participation,local_data", "district,county,region,country", local_scored=True),
    Indicator("formal_volunteering_rate", "Formal volunteering", "participation", "% of adults", 1, False,
              "Adults who volunteered formally in the last 12 months: local figures only (volunteering template), "
              "scored where loaded.", "local_data", "ward,district,county", local_scored=True),
    # ---- local figures (local/ templates), scored only where loaded ---------------------------
    Indicator("local_volunteers_per_1k", "Volunteers per 1,000 residents (local)", "participation",
              "volunteers per 1,000 residents", 1, False,
              "Volunteers recorded by the council or partner (volunteering template) per 1,000 residents.",
              "local_data,context", "ward,district,county", local_scored=True),
    Indicator("local_volunteer_hours_per_head", "Volunteer hours per resident (local)", "participation",
              "hours per resident", 1, False,
              "Volunteer hours recorded by the council or partner (volunteering template) per resident.",
              "local_data,context", "ward,district,county", local_scored=True),
    *[Indicator(f"local_{m}_per_10k", f"{title} per 10,000 residents (local)", "projects",
                f"{unit} per 10,000 residents", 1, False,
                f"{title} recorded by the council or partner (projects template) per 10,000 residents.",
                "local_data,context", "ward,district,county", local_scored=True)
      for m, title, unit in (("resident_led_projects", "Resident-led projects", "projects"),
                             ("community_asset_transfers", "Community asset transfers", "transfers"),
                             ("assets_of_community_value", "Assets of community value", "assets"),
                             ("neighbourhood_plans", "Neighbourhood plans", "plans"),
                             ("participatory_budgeting_rounds", "Participatory budgeting rounds", "rounds"))],
    Indicator("local_council_vcs_grants_per_head", "Council grants to community groups per resident (local)",
              "funding", "£ per resident", 1, False,
              "Council grants to voluntary and community groups (council_grants template) per resident: money the "
              "council puts in community hands.", "local_data,context", "ward,district,county", local_scored=True),
    # ---- headline -------------------------------------------------------------------------
    Indicator("enabler_ratio", "Enabler ratio", "headline", "£ per £100 of council spending", 1, False,
              "Pounds in community hands (parish precepts + community grants) per £100 the councils spend on the "
              "place directly (place spending). Grants by calendar year aligned with the financial year.",
              "revenue_outturn,grants_360_aggregate", "district,county,region,country"),
    Indicator("enabler_ratio_council", "Enabler ratio (council's own spending)", "headline",
              "£ per £100 of the council's own spending", 1, False,
              "Parish precepts + community grants in the council's area per £100 of the council's OWN service "
              "spending. Compare only within a tier group.",
              "revenue_outturn,grants_360_aggregate", "district,county"),
    Indicator("enabler_shift", "Shift in the enabler ratio", "headline", "change in £ per £100", 1, False,
              "Enabler ratio in the later year minus the earlier (default: earliest and latest financial years "
              "in which district finance and grants both exist).",
              "revenue_outturn,grants_360_aggregate", "district,county,region,country"),
    Indicator("place_spend_shift", "Change in place spending per head (longest span)", "headline",
              "change in £ per resident", -1, False,
              "Place spending per head in the latest financial year with finance minus the earliest (the widest span "
              "the data allow: 2010-11 to 2023-24). Cash terms, not adjusted for inflation. Numerator = later value, "
              "denominator = earlier.", "revenue_outturn,context", "district,county,region,country"),
    Indicator("parish_precept_share_shift", "Change in the parish precept share (longest span)", "headline",
              "change in percentage points", 1, False,
              "Parish precepts as a share of place spending in the latest financial year with finance minus the "
              "earliest (2010-11 to 2023-24): a ratio, so inflation cancels out. Numerator = later value, "
              "denominator = earlier.", "revenue_outturn,context", "district,county,region,country"),
    # ---- context / coverage ---------------------------------------------------------------
    Indicator("grants_ward_matched_share", "Grants placed in current wards", "context", "% of grants", 0, False,
              "Share of the district's grants whose ward code is a December 2023 ward: the coverage of every "
              "ward-level grant figure.", "grants_360_aggregate", "district,county,region,country"),
    Indicator("area_km2", "Land area", "context", "km²", 0, False,
              "Area of the published (generalised, coastline-clipped) boundary, computed on the British National "
              "Grid (EPSG:27700).", "boundaries", "ward,district,county,region"),
    Indicator("population_density", "Population density", "context", "residents per km²", 0, False,
              "Population / land area.", "context,boundaries", "ward,district,county,region"),
)
BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}
#: local_values measures that are (or replace) indicators of the same meaning.
LOCAL_AS_INDICATOR = {"civic_participation_rate": "civic_participation",
                      "formal_volunteering_rate": "formal_volunteering_rate"}
#: local counts and money turned into rates per resident: measure → (indicator id, residents per unit)
LOCAL_RATES = {"volunteers": ("local_volunteers_per_1k", 1_000),
               "volunteer_hours": ("local_volunteer_hours_per_head", 1),
               **{m: (f"local_{m}_per_10k", 10_000) for m in (
                   "resident_led_projects", "community_asset_transfers", "assets_of_community_value",
                   "neighbourhood_plans", "participatory_budgeting_rounds")},
               "council_vcs_grants_gbp": ("local_council_vcs_grants_per_head", 1)}

VALUE_COLUMNS = ["area_code", "indicator_id", "period", "value", "numerator", "denominator", "is_local", "note"]


# =============================================================================================
# Small pure helpers
# =============================================================================================


def fy_of_year(year: int) -> str:
    """Calendar year → the financial year starting in April of it: 2017 → '2017-18'."""
    return f"{year}-{(year + 1) % 100:02d}"


def fy_of_survey(period: str) -> str | None:
    """Community Life Survey period → financial year label.

    '2013/14' → '2013-14'. The regional file labels years by their end: its '2020' values are
    published to one decimal place exactly like England's '2019/20' (the only year so
    published), so regional Y = survey year (Y-1)/Y → '(Y-1)-Y'.
    """
    p = str(period).strip()
    if len(p) == 7 and p[4] in "/-" and p[:4].isdigit() and p[5:].isdigit():
        return f"{p[:4]}-{p[5:]}"
    if len(p) == 4 and p.isdigit():
        return fy_of_year(int(p) - 1)
    return None


def rollup(children: pd.DataFrame, parent_of: Mapping[str, str] | pd.Series, scale: float = 1.0,
           expected: Mapping[str, int] | pd.Series | None = None, child_label: str = "districts") -> pd.DataFrame:
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
    return g.rename(columns={"parent": "area_code"})[["area_code", "period", "value", "numerator", "denominator",
                                                      "note"]]


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
    out = out.merge(own[["council_code", "period", "own"]].rename(columns={"council_code": "code"}),
                    on=["code", "period"], how="left")
    out = out.merge(own[["council_code", "period", "own"]].rename(columns={"council_code": "county_code",
                                                                           "own": "county_own"}),
                    on=["county_code", "period"], how="left")
    out["place"] = np.where(out["tier"] == "lower", out["own"] + out["county_own"] * out["share"], out["own"])
    return out[["code", "period", "own", "county_own", "share", "place"]]


def _frame(rows: pd.DataFrame, indicator_id: str) -> pd.DataFrame:
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


def _rate(df: pd.DataFrame, num: str, den: str, scale: float) -> pd.DataFrame:
    """value = scale × num / den, NaN when either is missing or the denominator is not positive."""
    out = df.copy()
    out["numerator"] = out[num]
    out["denominator"] = out[den]
    ok = out["numerator"].notna() & out["denominator"].notna() & (out["denominator"] > 0)
    out["value"] = np.where(ok, scale * out["numerator"] / out["denominator"].where(ok, 1.0), np.nan)
    return out


# =============================================================================================
# derive()
# =============================================================================================


class _Geo:
    """Current areas and denominators, read once."""

    def __init__(self, con):
        areas = con.execute("SELECT code, level, tier, district_code, county_code, region_code FROM areas").df()
        self.districts = areas[areas["level"] == "district"].reset_index(drop=True)
        self.wards = areas[areas["level"] == "ward"].reset_index(drop=True)
        self.counties = areas[areas["level"] == "county"].reset_index(drop=True)
        pop = con.execute("SELECT area_code, arg_max(value, period) AS pop FROM indicator_values "
                          "WHERE indicator_id = ? AND value > 0 GROUP BY area_code", [POPULATION]).df()
        self.pop = pd.Series(pop["pop"].to_numpy(float), index=pop["area_code"])
        d = self.districts
        self.county_of = pd.Series(d["county_code"].to_numpy(), index=d["code"]).dropna()
        self.region_of = pd.Series(d["region_code"].to_numpy(), index=d["code"])
        self.district_of_ward = pd.Series(self.wards["district_code"].to_numpy(), index=self.wards["code"])
        self.wards_in_district = self.wards.groupby("district_code").size()

    def parents(self) -> list[pd.Series]:
        """District → county (shire districts only), region and England maps."""
        return [self.county_of, self.region_of, pd.Series(ENGLAND, index=self.districts["code"])]


def _with_rollups(district_rows: pd.DataFrame, geo: _Geo, indicator_id: str, scale: float) -> pd.DataFrame:
    """District rows plus their county, region and England roll-ups for one indicator."""
    parts = [_frame(district_rows, indicator_id)]
    for parent_of in geo.parents():
        parts.append(_frame(rollup(district_rows, parent_of, scale), indicator_id))
    return pd.concat(parts, ignore_index=True)


def _council_finance(con) -> pd.DataFrame:
    """Each current council's own total service expenditure and parish precepts per year.

    A successor council's figure is the sum of its predecessors'. A year in which fewer of them
    published a figure than in the council's best year is incomplete: the value is NaN (a partial
    sum would understate spending) and ``missing`` names who is absent. Years the council
    published itself (after a reorganisation, e.g. Buckinghamshire in 2023-24) are compared with
    each other, not with the years its predecessors published (``own_era``).
    """
    return con.execute("""
        WITH per AS (
            SELECT council_code, period, ecode, any_value(source_name) AS source_name,
                   sum(value_gbp) FILTER (WHERE line = $tse) AS tse,
                   count(value_gbp) FILTER (WHERE line = $tse) AS n_tse,
                   sum(value_gbp) FILTER (WHERE line = $prec) AS prec,
                   count(value_gbp) FILTER (WHERE line = $prec) AS n_prec,
                   count(*) FILTER (WHERE line = $tse) AS has_tse_line,
                   bool_or(mapping = 'same') AS by_itself
            FROM finance WHERE council_code IS NOT NULL GROUP BY ALL),
        agg AS (
            SELECT council_code, period, bool_or(by_itself) AS own_era,
                   count(*) FILTER (WHERE has_tse_line > 0) AS n_lines,
                   count(*) FILTER (WHERE n_tse > 0) AS n_tse, sum(tse) AS tse,
                   count(*) FILTER (WHERE n_prec > 0) AS n_prec, sum(prec) AS prec,
                   string_agg(source_name || ' (' || ecode || ')', ', ' ORDER BY ecode)
                       FILTER (WHERE has_tse_line > 0 AND n_tse = 0) AS missing
            FROM per GROUP BY ALL),
        expected AS (SELECT council_code, own_era, max(n_tse) AS n_expected FROM agg GROUP BY ALL)
        SELECT a.council_code, a.period, a.n_lines, a.n_tse, a.n_prec, e.n_expected, a.missing,
               CASE WHEN a.n_tse = e.n_expected AND a.n_tse > 0 THEN a.tse END AS own,
               CASE WHEN a.n_prec = e.n_expected AND a.n_prec > 0 THEN a.prec END AS precept
        FROM agg a JOIN expected e USING (council_code, own_era)
        WHERE a.n_lines > 0
        ORDER BY 1, 2""", {"tse": TSE_LINE, "prec": PRECEPT_LINE}).df()


def _missing_note(row) -> str:
    expected = max(int(row["n_expected"]), int(row["n_lines"]))
    if row["n_tse"] < expected:
        who = f": {row['missing']}" if isinstance(row["missing"], str) and row["missing"] else ""
        return (f"missing: {int(row['n_tse'])} of the {expected} councils that make up this council "
                f"published a total for {row['period']} (not published by MHCLG){who}")
    return ""


def _finance_indicators(con, geo: _Geo, rep) -> tuple[pd.DataFrame, tuple | pd.DataFrame]:
    """Place and council spending per head and parish precept share. Also returns, for the
    headline ratios, (district finance: area_code, period, own, place, precept, pop, note;
    county own spending: area_code, period, own), or an empty frame when there is no finance."""
    fin = _council_finance(con)
    if fin.empty:
        rep.note("no finance rows: spending indicators not derived")
        return pd.DataFrame(columns=VALUE_COLUMNS), pd.DataFrame()
    fin["why"] = fin.apply(_missing_note, axis=1)
    place = apportion_county(fin[["council_code", "period", "own"]], geo.districts, geo.pop)
    place = place.merge(fin[["council_code", "period", "precept", "why"]].rename(columns={"council_code": "code"}),
                        on=["code", "period"], how="left")
    county_why = fin.set_index(["council_code", "period"])["why"]
    place["pop"] = place["code"].map(geo.pop)
    notes = []
    for r in place.itertuples():
        if pd.notna(r.share):
            cw = county_why.get((geo.county_of.get(r.code), r.period), "")
            base = (f"own £{r.own:,.0f} + county £{r.county_own:,.0f} × {r.share:.4f} (district share of the "
                    "county's Census 2021 population)") if pd.notna(r.own) and pd.notna(r.county_own) else ""
            notes.append("; ".join(x for x in (base, r.why if isinstance(r.why, str) else "",
                                                f"county {cw}" if cw else "") if x))
        else:
            notes.append(r.why if isinstance(r.why, str) else "")
    place["note"] = notes
    out = []

    ps = _rate(place.rename(columns={"code": "area_code"}), "place", "pop", 1.0)
    out.append(_with_rollups(ps, geo, "place_spend_per_head", 1.0))

    # council lens: own spending of districts and counties
    cs = _rate(place.rename(columns={"code": "area_code"}), "own", "pop", 1.0)
    cs["note"] = [w if isinstance(w, str) else "" for w in cs["why"]]
    out.append(_frame(cs, "council_spend_per_head"))
    county_pop = geo.pop.reindex(geo.county_of.index).groupby(geo.county_of).sum(min_count=1)
    cf = fin[fin["council_code"].isin(geo.counties["code"])].copy()
    cf["pop"] = cf["council_code"].map(county_pop)
    cf = _rate(cf.rename(columns={"council_code": "area_code"}), "own", "pop", 1.0)
    cf["note"] = cf["why"]
    out.append(_frame(cf, "council_spend_per_head"))

    pp = _rate(place.rename(columns={"code": "area_code"}), "precept", "place", 100.0)
    out.append(_with_rollups(pp, geo, "parish_precept_share", 100.0))
    ph = _rate(place.rename(columns={"code": "area_code"}), "precept", "pop", 1.0)
    out.append(_with_rollups(ph, geo, "parish_precepts_per_head", 1.0))

    districts_fin = place.rename(columns={"code": "area_code"})[["area_code", "period", "own", "place", "precept",
                                                                 "pop", "note"]]
    county_own = cf[["area_code", "period", "numerator"]].rename(columns={"numerator": "own"})
    rep.facts["finance_periods"] = float(fin["period"].nunique())
    rep.facts["districts_with_place_spending_latest"] = float(
        place.loc[place["period"] == place["period"].max(), "place"].notna().sum())
    return pd.concat(out, ignore_index=True), (districts_fin, county_own)


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


def _grant_indicators(con, geo: _Geo, rep) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grant indicators for districts (all grants placed in the district) and their roll-ups,
    and for wards (grants placed in a December 2023 ward). Returns the district grant totals too."""
    g = _grants(con, rep)
    if g.empty:
        rep.note("no grants rows: grant indicators not derived")
        return pd.DataFrame(columns=VALUE_COLUMNS), pd.DataFrame()
    periods = sorted(g["period"].unique())
    # every district × year: a district with no recorded grant that year has 0 (the file covers England)
    grid = pd.MultiIndex.from_product([geo.districts["code"], periods], names=["area_code", "period"])
    matched = g[g["ward_code"].notna()]
    d = pd.DataFrame({
        "amount": g.groupby(["district_code", "period"])["amount"].sum(),
        "lottery": g.groupby(["district_code", "period"])["lottery"].sum(),
        "grants": g.groupby(["district_code", "period"])["grants"].sum(),
        "matched": matched.groupby(["district_code", "period"])["grants"].sum(),
    }).rename_axis(["area_code", "period"]).reindex(grid).fillna(0.0).reset_index()
    d["pop"] = d["area_code"].map(geo.pop)
    year_note = {p: f"grants awarded in calendar {p[:4]}" for p in periods}
    d["note"] = d["period"].map(year_note)
    out = [
        _with_rollups(_rate(d, "amount", "pop", 1.0), geo, "grants_amount_per_head", 1.0),
        _with_rollups(_rate(d, "lottery", "pop", 1.0), geo, "lottery_amount_per_head", 1.0),
        _with_rollups(_rate(d, "grants", "pop", 10_000.0), geo, "grants_per_10k", 10_000.0),
        _with_rollups(_rate(d, "matched", "grants", 100.0), geo, "grants_ward_matched_share", 100.0),
    ]
    d["match_share"] = np.where(d["grants"] > 0, d["matched"] / d["grants"].where(d["grants"] > 0, 1), 1.0)

    # ---- wards ----------------------------------------------------------------------------
    wgrid = pd.MultiIndex.from_product([geo.wards["code"], periods], names=["area_code", "period"])
    w = pd.DataFrame({
        "amount": matched.groupby(["ward_code", "period"])["amount"].sum(),
        "lottery": matched.groupby(["ward_code", "period"])["lottery"].sum(),
        "grants": matched.groupby(["ward_code", "period"])["grants"].sum(),
    }).rename_axis(["area_code", "period"]).reindex(wgrid).fillna(0.0).reset_index()
    w["district"] = w["area_code"].map(geo.district_of_ward)
    w = w.merge(d[["area_code", "period", "match_share"]].rename(columns={"area_code": "district"}),
                on=["district", "period"], how="left")
    w["ok"] = w["match_share"].fillna(0.0) >= WARD_MATCH_MIN
    w["pop"] = w["area_code"].map(geo.pop)
    w["note"] = [year_note[p] + "; grants placed in this ward only" if ok else
                 f"missing: only {m:.0%} of the district's grants in calendar {p[:4]} could be "
                 "placed in December 2023 wards (wards redrawn since)"
                 for ok, m, p in zip(w["ok"], w["match_share"].fillna(0.0), w["period"])]
    for c in ("amount", "lottery", "grants"):
        w.loc[~w["ok"], c] = np.nan
    w["reached"] = np.where(w["ok"], (w["grants"] > 0).astype(float), np.nan)
    w["one"] = np.where(w["ok"], 1.0, np.nan)
    out += [
        _frame(_rate(w, "amount", "pop", 1.0), "grants_amount_per_head"),
        _frame(_rate(w, "lottery", "pop", 1.0), "lottery_amount_per_head"),
        _frame(_rate(w, "grants", "pop", 10_000.0), "grants_per_10k"),
    ]
    reach_w = _rate(w, "reached", "one", 100.0)
    out.append(_frame(reach_w, "wards_reached_share"))
    reach_d = rollup(reach_w, geo.district_of_ward, 100.0, geo.wards_in_district, "wards")
    reach_d = reach_d.merge(d[["area_code", "period", "match_share"]], on=["area_code", "period"], how="left")
    reach_d["note"] = [f"{n}; {m:.0%} of grants placed in current wards" for n, m in
                       zip(reach_d["note"], reach_d["match_share"])]
    # districts whose wards could not be used keep an explicit missing row
    miss = d.loc[d["match_share"] < WARD_MATCH_MIN, ["area_code", "period", "match_share"]].copy()
    miss["value"] = np.nan
    miss["note"] = [f"missing: only {m:.0%} of grants in calendar {p[:4]} could be placed in December 2023 wards "
                    "(wards redrawn since)" for m, p in zip(miss["match_share"], miss["period"])]
    reach_d = pd.concat([reach_d[reach_d["value"].notna()], miss], ignore_index=True)
    out.append(_with_rollups(reach_d, geo, "wards_reached_share", 100.0))
    rep.facts["grant_periods"] = float(len(periods))
    return pd.concat(out, ignore_index=True), d[["area_code", "period", "amount", "grants"]]


def _parish_indicators(con, geo: _Geo, rep) -> pd.DataFrame:
    """Parishes per 10,000 residents and the share of wards that are parished (Dec 2019 snapshot).

    A ward's parish status is known when its code appears in a parish–ward pair (parished: the
    code is unchanged since 2019, so its parishes are exactly those listed), or when every
    parish–ward pair of its district maps to a current ward (then any other current ward lies
    outside every 2019 parished ward: unparished).
    """
    par = con.execute("SELECT parish_code, district_code FROM parishes WHERE district_code IS NOT NULL").df()
    if par.empty:
        rep.note("no parishes rows: parish indicators not derived")
        return pd.DataFrame(columns=VALUE_COLUMNS)
    pw = con.execute("""SELECT p.district_code, w.parish_code, w.ward_code FROM parish_wards w
                        JOIN parishes p USING (parish_code) WHERE p.district_code IS NOT NULL""").df()
    n_par = par.groupby("district_code").size().reindex(geo.districts["code"]).fillna(0)
    d = pd.DataFrame({"area_code": geo.districts["code"], "period": PARISH_PERIOD,
                      "parishes": n_par.to_numpy(float)})
    d["pop"] = d["area_code"].map(geo.pop)
    d["note"] = "ONS parish list, December 2019"
    out = [_with_rollups(_rate(d, "parishes", "pop", 10_000.0), geo, "parishes_per_10k", 10_000.0)]

    unmatched = pw[pw["ward_code"].isna()].groupby("district_code").size()
    pairs = pw.groupby("district_code").size()
    known_district = set(geo.districts["code"]) - set(unmatched.index)
    per_ward = pw[pw["ward_code"].notna()].groupby("ward_code")["parish_code"].nunique()
    w = pd.DataFrame({"area_code": geo.wards["code"], "period": PARISH_PERIOD})
    w["district"] = w["area_code"].map(geo.district_of_ward)
    listed = w["area_code"].isin(per_ward.index)
    known = listed | w["district"].isin(known_district)
    w["parishes"] = np.where(known, w["area_code"].map(per_ward).fillna(0.0), np.nan)
    w["parished"] = np.where(known, listed.astype(float), np.nan)
    w["one"] = np.where(known, 1.0, np.nan)
    w["pop"] = w["area_code"].map(geo.pop)
    w["note"] = np.where(known, "ONS parish list, December 2019 (a parish crossing wards counts in each)",
                         "missing: the district's 2019 wards were redrawn, so this ward's parishes are not known")
    out.append(_frame(_rate(w, "parishes", "pop", 10_000.0), "parishes_per_10k"))
    pw_w = _rate(w, "parished", "one", 100.0)
    out.append(_frame(pw_w, "parished_wards_share"))
    ds = rollup(pw_w[pw_w["district"].isin(known_district)], geo.district_of_ward, 100.0, geo.wards_in_district,
                "wards")
    miss = pd.DataFrame({"area_code": sorted(set(geo.districts["code"]) - known_district)})
    miss["period"] = PARISH_PERIOD
    miss["value"] = np.nan
    miss["note"] = [f"missing: {int(unmatched.get(c, 0))} of {int(pairs.get(c, 0))} parish–ward links point to 2019 "
                    "wards that have since been redrawn" for c in miss["area_code"]]
    out.append(_with_rollups(pd.concat([ds, miss], ignore_index=True), geo, "parished_wards_share", 100.0))
    rep.facts["districts_with_parished_wards_share"] = float(len(ds))
    return pd.concat(out, ignore_index=True)


def _participation(con, geo: _Geo, rep) -> pd.DataFrame:
    """Regional and England civic participation; districts and counties get their region's
    value marked 'regional estimate' (never scored)."""
    p = con.execute("SELECT area_code, period, value_pct, lci, uci FROM participation "
                    "WHERE area_code IS NOT NULL").df()
    if p.empty:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    p["fy"] = p["period"].map(fy_of_survey)
    bad = p[p["fy"].isna()]
    for per in sorted(bad["period"].unique()):
        rep.warn(f"participation period {per!r} not understood: not used")
    p = p[p["fy"].notna()]
    base = pd.DataFrame({"area_code": p["area_code"], "period": p["fy"], "value": p["value_pct"]})
    base["note"] = [(f"Community Life Survey {per}" + (f" (95% CI {lo:.1f}–{hi:.1f})" if pd.notna(lo) else ""))
                    if pd.notna(v) else f"missing: no Community Life Survey estimate published for {per}"
                    for per, v, lo, hi in zip(p["period"], p["value_pct"], p["lci"], p["uci"])]
    regional = base[base["area_code"] != ENGLAND]
    out = [base]
    for frame in (geo.districts, geo.counties):
        m = frame[["code", "region_code"]].merge(regional, left_on="region_code", right_on="area_code")
        out.append(pd.DataFrame({"area_code": m["code"], "period": m["period"], "value": m["value"],
                                 "note": "regional estimate: " + m["note"]}))
    return _frame(pd.concat(out, ignore_index=True), "civic_participation")


def _local(con, geo: _Geo, rep) -> tuple[pd.DataFrame, list[Indicator]]:
    """Councils' own figures (local_values) as local indicator values (is_local = true).

    Participation rates become (or replace, for their area and year) the participation
    indicators. Counts and money become rates per resident (:data:`LOCAL_RATES`) in their
    template's domain. All of these are scored where loaded. Every measure is also kept as
    given, as a local, unscored indicator with the measure's id. A calendar year Y is aligned
    with financial year Y-(Y+1), as for grants.
    """
    try:
        lv = con.execute("SELECT area_code, period, measure, value, template, file, source_note "
                         "FROM local_values").df()
    except Exception:  # the local_values table is optional in older schemas
        return pd.DataFrame(columns=VALUE_COLUMNS), []
    if lv.empty:
        return pd.DataFrame(columns=VALUE_COLUMNS), []
    lv["fy"] = [p if "-" in str(p) else fy_of_year(int(p)) for p in lv["period"]]
    lv["indicator_id"] = [LOCAL_AS_INDICATOR.get(m, m) for m in lv["measure"]]
    lv["note"] = [f"local figure from {f}" + (f" (calendar {p})" if "-" not in str(p) else "")
                  + (f": {s}" if isinstance(s, str) and s else "")
                  for f, p, s in zip(lv["file"], lv["period"], lv["source_note"])]
    out = pd.DataFrame({"area_code": lv["area_code"], "indicator_id": lv["indicator_id"], "period": lv["fy"],
                        "value": lv["value"].astype(float), "numerator": np.nan, "denominator": np.nan,
                        "is_local": True, "note": lv["note"]})
    rates = []
    for measure, (ind_id, per) in LOCAL_RATES.items():
        sel = out[lv["measure"].to_numpy() == measure].copy()
        if sel.empty:
            continue
        sel["indicator_id"] = ind_id
        sel["numerator"] = sel["value"]
        sel["denominator"] = sel["area_code"].map(geo.pop)
        sel["value"] = sel["numerator"] / sel["denominator"] * per
        sel.loc[sel["denominator"].isna(), "note"] = "missing: no population for this area; " + sel["note"]
        rates.append(sel)
    out = pd.concat([out, *rates], ignore_index=True)
    extra = []
    try:
        from etl.sources.local_data import MEASURES
    except ImportError:  # pragma: no cover - the package is always importable in a build
        MEASURES = {}
    for m in sorted(set(lv["measure"]) - set(LOCAL_AS_INDICATOR)):
        tpl, meas = MEASURES.get(m, (None, None))
        extra.append(Indicator(m, getattr(meas, "title", m), "context", getattr(meas, "unit", ""), 0, False,
                               f"Local figures only ({tpl or 'local'} template): " + getattr(meas, "description", ""),
                               "local_data", "ward,district,county"))
    rep.facts["local_values_used"] = float(len(out))
    return out[VALUE_COLUMNS], extra


def _areas_and_density(con, geo: _Geo, rep) -> pd.DataFrame:
    """Land area (km², British National Grid) of every boundary, and population density."""
    b = con.execute("SELECT code, level, geom_wkb FROM boundaries").df()
    if b.empty:
        rep.note("no boundaries: area and density not derived")
        return pd.DataFrame(columns=VALUE_COLUMNS)
    km2 = boundary_areas_km2(b["geom_wkb"].tolist())
    a = pd.DataFrame({"area_code": b["code"], "period": "2024", "value": km2})
    a["note"] = "area of the published generalised boundary on EPSG:27700"
    dens = a.copy()
    dens["pop"] = dens["area_code"].map(geo.pop)
    dens["km2"] = dens["value"]
    dens = _rate(dens, "pop", "km2", 1.0)
    dens["note"] = "population / land area"
    return pd.concat([_frame(a, "area_km2"), _frame(dens, "population_density")], ignore_index=True)


def boundary_areas_km2(wkbs: list) -> np.ndarray:
    """Areas in km² of WKB polygons: WGS84 longitude/latitude (as the boundaries table stores
    them) are projected to the British National Grid first; coordinates that are already
    eastings/northings (any |x| > 180) are used as they are."""
    import shapely
    from pyproj import Transformer

    geoms = shapely.from_wkb([bytes(w) for w in wkbs])
    coords = shapely.get_coordinates(geoms)
    if coords.size and np.abs(coords[:, 0]).max() <= 180 and np.abs(coords[:, 1]).max() <= 90:
        tr = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return shapely.area(geoms) / 1e6


def _headline(geo: _Geo, fin, grants: pd.DataFrame, rep) -> pd.DataFrame:
    """Enabler ratios (place and council lens) and the default shift."""
    if not isinstance(fin, tuple) or grants.empty:
        rep.note("finance or grants missing: enabler ratios not derived")
        return pd.DataFrame(columns=VALUE_COLUMNS)
    dfin, county_own = fin
    m = dfin.merge(grants, on=["area_code", "period"], how="inner")  # years with both finance and grants
    m["community"] = m["precept"] + m["amount"]
    m["note"] = [f"precepts £{p:,.0f} + grants £{a:,.0f} (calendar {per[:4]})" if pd.notna(p) else
                 "missing: no complete parish precept figure" for p, a, per in
                 zip(m["precept"], m["amount"], m["period"])]
    place = _rate(m, "community", "place", 100.0)
    out = [_with_rollups(place, geo, "enabler_ratio", 100.0)]
    council = _rate(m, "community", "own", 100.0)
    out.append(_frame(council, "enabler_ratio_council"))
    # counties (council lens): all precepts and grants in the county per £100 of the county's own spending
    lower = m[m["area_code"].isin(geo.county_of.index)].copy()
    lower["county"] = lower["area_code"].map(geo.county_of)
    n_districts = geo.county_of.groupby(geo.county_of).size()
    cc = lower.groupby(["county", "period"]).agg(community=("community", lambda s: s.sum(min_count=len(s))),
                                                n=("community", "count")).reset_index()
    cc = cc.merge(county_own.rename(columns={"area_code": "county"}), on=["county", "period"], how="left")
    cc.loc[cc["n"] < cc["county"].map(n_districts), "community"] = np.nan
    cc["note"] = [f"precepts and grants of its {n} districts" for n in cc["n"]]
    cc = _rate(cc.rename(columns={"county": "area_code"}), "community", "own", 100.0)
    out.append(_frame(cc, "enabler_ratio_council"))
    ratios = pd.concat(out, ignore_index=True)

    both = sorted(m.loc[m["place"].notna() & (m["area_code"].isin(geo.county_of.index)), "period"].unique())
    if len(both) >= 2:
        p0, p1 = both[0], both[-1]
        r = ratios[ratios["indicator_id"] == "enabler_ratio"].pivot(index="area_code", columns="period",
                                                                     values="value")
        s = pd.DataFrame({"area_code": r.index, "period": f"{p0} to {p1}", "value": (r[p1] - r[p0]).to_numpy(),
                          "numerator": r[p1].to_numpy(), "denominator": r[p0].to_numpy()})
        s["note"] = f"enabler ratio {p1} minus {p0} (numerator = later ratio, denominator = earlier)"
        out.append(_frame(s, "enabler_shift"))
        rep.facts["shift_from"] = float(p0[:4])
        rep.facts["shift_to"] = float(p1[:4])
    return pd.concat(out, ignore_index=True)


#: Measures with a "longest honest shift": measure → (shift indicator id, rate scale).
LONGEST_SHIFTS = {"place_spend_per_head": ("place_spend_shift", 1.0),
                  "parish_precept_share": ("parish_precept_share_shift", 100.0)}
#: A year counts for a measure's span when at least this share of districts have a value in it
#: (the 2015-16 and 2016-17 upper-tier extract gives no district a place value).
SPAN_MIN_COVERAGE = 0.5


def measure_span(values: pd.DataFrame, indicator_id: str, districts: pd.Series) -> tuple[str, str] | None:
    """(earliest, latest) financial year in which at least SPAN_MIN_COVERAGE of districts have a
    value of the measure; None when fewer than two such years exist."""
    v = values[(values["indicator_id"] == indicator_id) & values["area_code"].isin(districts)
               & values["value"].notna()]
    n = v.groupby("period")["area_code"].nunique()
    years = sorted(n[n >= SPAN_MIN_COVERAGE * len(districts)].index)
    return (years[0], years[-1]) if len(years) >= 2 else None


def _district_shift(v: pd.DataFrame, p0: str, p1: str) -> pd.DataFrame:
    """Later minus earlier value per district; missing (with both years' reasons) when either end is."""
    val = v.pivot(index="area_code", columns="period", values="value").reindex(columns=[p0, p1])
    why = v.pivot(index="area_code", columns="period", values="note").reindex(columns=[p0, p1])
    s = pd.DataFrame({"area_code": val.index, "value": (val[p1] - val[p0]).to_numpy(),
                      "numerator": val[p1].to_numpy(), "denominator": val[p0].to_numpy()})
    s["note"] = [f"{p1} minus {p0} (numerator = later value, denominator = earlier)" if pd.notna(x) else
                 "missing: " + "; ".join(f"no value for {p}" + (f" ({w})" if isinstance(w, str) and w else "")
                                        for p, a, w in ((p0, a0, w0), (p1, a1, w1)) if pd.isna(a))
                 for x, a0, a1, w0, w1 in zip(s["value"], val[p0], val[p1], why[p0], why[p1])]
    return s


def _matched_rollup_shift(d: pd.DataFrame, p0: str, p1: str, geo: _Geo, scale: float) -> pd.DataFrame:
    """Counties, regions and England over the SAME districts in both years (those with both
    values), so a change is never a change of coverage: later minus earlier roll-up."""
    both = d.dropna(subset=["value"]).groupby("area_code")["period"].nunique()
    d = d[d["area_code"].isin(both[both == 2].index)]
    out = []
    for parent_of in geo.parents():
        r = rollup(d, parent_of, scale)
        val = r.pivot(index="area_code", columns="period", values="value").reindex(columns=[p0, p1])
        note = r[r["period"] == p1].set_index("area_code")["note"].reindex(val.index)
        s = pd.DataFrame({"area_code": val.index, "value": (val[p1] - val[p0]).to_numpy(),
                          "numerator": val[p1].to_numpy(), "denominator": val[p0].to_numpy()})
        s["note"] = [f"{p1} minus {p0}, both over the same districts ({n} with both years)" for n in
                     note.str.replace("sum of ", "", regex=False)]
        out.append(s)
    return pd.concat(out, ignore_index=True)


def _longest_shifts(values: pd.DataFrame, geo: _Geo, rep) -> pd.DataFrame:
    """For each measure in LONGEST_SHIFTS: later minus earlier value over the widest span the
    measure has (districts; their county, region and England over matched districts)."""
    out = []
    for ind_id, (shift_id, scale) in LONGEST_SHIFTS.items():
        span = measure_span(values, ind_id, geo.districts["code"])
        if span is None:
            rep.note(f"{ind_id}: fewer than two well-covered years, no longest shift")
            continue
        p0, p1 = span
        d = values[(values["indicator_id"] == ind_id) & values["period"].isin(span)
                   & values["area_code"].isin(geo.districts["code"])]
        s = pd.concat([_district_shift(d, p0, p1), _matched_rollup_shift(d, p0, p1, geo, scale)], ignore_index=True)
        s["period"] = f"{p0} to {p1}"
        out.append(_frame(s, shift_id))
        rep.facts[f"{shift_id}_from"] = float(p0[:4])
        rep.facts[f"{shift_id}_to"] = float(p1[:4])
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=VALUE_COLUMNS)


def _metadata(extra: list[Indicator], values: pd.DataFrame, con) -> pd.DataFrame:
    """indicators rows for every indicator derived here (levels taken from the values written)."""
    level = con.execute("SELECT code, level FROM areas").df().set_index("code")["level"]
    have = values.dropna(subset=["value"])
    lv = have.assign(level=have["area_code"].map(level)).groupby("indicator_id")["level"].unique()
    rows = []
    for ind in (*INDICATORS, *extra):
        levels = [x for x in LEVEL_ORDER if x in set(lv.get(ind.id, []))]
        # local measures, and registry indicators whose only source is local data
        is_local = ind.id not in BY_ID or ind.source_ids.split(",")[0] == "local_data"
        rows.append((ind.id, ind.name, ind.domain, ind.unit, ind.polarity, ind.scored, ind.description,
                     ind.source_ids, ",".join(levels) if levels else "", is_local))
    return pd.DataFrame(rows, columns=["indicator_id", "name", "domain", "unit", "polarity", "scored", "description",
                                       "source_ids", "levels", "is_local"])


def derive(ctx) -> None:
    """Compute every indicator from the loaded tables and write ``indicators`` and ``indicator_values``."""
    from etl.core import insert_rows

    con = ctx.con
    rep = ctx.report("indicators")
    geo = _Geo(con)
    parts = []
    fin_rows, fin = _finance_indicators(con, geo, rep)
    grant_rows, grants = _grant_indicators(con, geo, rep)
    parts += [fin_rows, grant_rows, _parish_indicators(con, geo, rep), _headline(geo, fin, grants, rep),
              _longest_shifts(fin_rows, geo, rep)]
    local_rows, extra = _local(con, geo, rep)
    part = _participation(con, geo, rep)
    if not local_rows.empty:  # a local figure replaces the regional estimate for its area and year
        key = set(zip(local_rows["area_code"], local_rows["indicator_id"], local_rows["period"]))
        part = part[[k not in key for k in zip(part["area_code"], part["indicator_id"], part["period"])]]
    parts += [part, local_rows, _areas_and_density(con, geo, rep)]
    values = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=VALUE_COLUMNS)],
                       ignore_index=True)
    note = values["note"].astype(object)
    values["note"] = note.where(note.notna() & (note != ""), None)
    # Arrow-backed text columns: DuckDB scans them without touching Python objects (3× faster)
    values = values.astype({"area_code": "str", "indicator_id": "str", "period": "str", "note": "str"})
    dupes = values.duplicated(["area_code", "indicator_id", "period"])
    if dupes.any():
        raise RuntimeError(f"derive produced duplicate indicator rows: {values[dupes].head().to_dict('records')}")
    meta = _metadata(extra, values, con)
    taken = {r[0] for r in con.execute("SELECT indicator_id FROM indicators").fetchall()}
    clash = sorted(taken & set(meta["indicator_id"]))
    if clash:
        raise RuntimeError(f"indicator ids {clash} are already defined by a source")
    insert_rows(con, "indicators", meta)
    # in primary-key order: DuckDB builds the key index about twice as fast
    insert_rows(con, "indicator_values", values.sort_values(["area_code", "indicator_id", "period"]))
    rep.rows_loaded = len(values)
    rep.facts["indicator_values"] = float(len(values))
    rep.facts["indicator_values_with_value"] = float(values["value"].notna().sum())
