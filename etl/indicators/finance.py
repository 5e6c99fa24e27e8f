"""Finance family: council spending per head (place and council lens) and parish precepts as a
share of place spending, from Revenue Outturn (``finance``) and the Census 2021 population."""

from __future__ import annotations

import pandas as pd

from powerbalance.registry import Indicator

from .base import Geo, apportion_county, as_values, no_values, rate, with_rollups

ORDER = 10

#: Finance line ids written by the ``revenue_outturn`` source.
TSE_LINE = "total_service"
PRECEPT_LINE = "parish_precepts"

INDICATORS = (
    Indicator(
        "place_spend_per_head",
        "Council service spending per head (place)",
        "funding",
        "£ per resident",
        -1,
        True,
        "Total service expenditure (net current, Revenue Outturn) spent on the place by all its councils, per "
        "resident. Shire districts: own spending + the county's spending × the district's share of the "
        "county's population. Counties, regions, England: sums of their districts. The provider side.",
        "revenue_outturn,context",
        "district,county,region,country",
        lens="place",
    ),
    Indicator(
        "council_spend_per_head",
        "Council's own service spending per head",
        "funding",
        "£ per resident",
        -1,
        True,
        "The council's own total service expenditure per resident (successor councils include their "
        "predecessors). Compared only within a tier group.",
        "revenue_outturn,context",
        "district,county",
        lens="council",
    ),
    Indicator(
        "parish_precept_share",
        "Parish precepts as a share of council spending",
        "funding",
        "% of place spending",
        1,
        True,
        "Parish precepts paid over by the billing authority, as a percentage of place spending.",
        "revenue_outturn,context",
        "district,county,region,country",
    ),
)


def derive(run) -> pd.DataFrame:
    """Spending indicators; keeps ``run.shared["finance"]`` (district and county spending) for the
    headline ratios."""
    rows, run.shared["finance"] = _finance_indicators(run.con, run.geo, run.rep)
    run.shared["finance_rows"] = rows
    return rows


def _council_finance(con) -> pd.DataFrame:
    """Each current council's own total service expenditure and parish precepts per year.

    A successor council's figure is the sum of its predecessors'. A year in which fewer of them
    published a figure than in the council's best year is incomplete: the value is NaN (a partial
    sum would understate spending) and ``missing`` names who is absent. Years the council
    published itself (after a reorganisation, e.g. Buckinghamshire in 2023-24) are compared with
    each other, not with the years its predecessors published (``own_era``).
    """
    return con.execute(
        """
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
        ORDER BY 1, 2""",
        {"tse": TSE_LINE, "prec": PRECEPT_LINE},
    ).df()


def _missing_note(row) -> str:
    expected = max(int(row["n_expected"]), int(row["n_lines"]))
    if row["n_tse"] < expected:
        who = f": {row['missing']}" if isinstance(row["missing"], str) and row["missing"] else ""
        return (
            f"missing: {int(row['n_tse'])} of the {expected} councils that make up this council "
            f"published a total for {row['period']} (not published by MHCLG){who}"
        )
    return ""


def _finance_indicators(con, geo: Geo, rep) -> tuple[pd.DataFrame, tuple | pd.DataFrame]:
    """Place and council spending per head and parish precept share. Also returns, for the
    headline ratios, (district finance: area_code, period, own, place, precept, pop, note;
    county own spending: area_code, period, own), or an empty frame when there is no finance."""
    fin = _council_finance(con)
    if fin.empty:
        rep.note("no finance rows: spending indicators not derived")
        return no_values(), pd.DataFrame()
    fin["why"] = fin.apply(_missing_note, axis=1)
    place = apportion_county(fin[["council_code", "period", "own"]], geo.districts, geo.pop)
    place = place.merge(
        fin[["council_code", "period", "precept", "why"]].rename(columns={"council_code": "code"}),
        on=["code", "period"],
        how="left",
    )
    place["pop"] = place["code"].map(geo.pop)
    place["note"] = _place_notes(place, fin.set_index(["council_code", "period"])["why"], geo.county_of)
    out = []

    ps = rate(place.rename(columns={"code": "area_code"}), "place", "pop", 1.0)
    out.append(with_rollups(ps, geo, "place_spend_per_head", 1.0))

    # council lens: own spending of districts and counties
    cs = rate(place.rename(columns={"code": "area_code"}), "own", "pop", 1.0)
    cs["note"] = [w if isinstance(w, str) else "" for w in cs["why"]]
    out.append(as_values(cs, "council_spend_per_head"))
    cf = _county_own_spending(fin, geo)
    out.append(as_values(cf, "council_spend_per_head"))

    pp = rate(place.rename(columns={"code": "area_code"}), "precept", "place", 100.0)
    out.append(with_rollups(pp, geo, "parish_precept_share", 100.0))

    districts_fin = place.rename(columns={"code": "area_code"})[
        ["area_code", "period", "own", "place", "precept", "pop", "note"]
    ]
    county_own = cf[["area_code", "period", "numerator"]].rename(columns={"numerator": "own"})
    rep.facts["finance_periods"] = float(fin["period"].nunique())
    rep.facts["districts_with_place_spending_latest"] = float(
        place.loc[place["period"] == place["period"].max(), "place"].notna().sum()
    )
    return pd.concat(out, ignore_index=True), (districts_fin, county_own)


def _place_notes(place: pd.DataFrame, county_why: pd.Series, county_of: pd.Series) -> list[str]:
    """How each district's place spending was made (its own + its share of the county's), with why
    any part is missing, the district's own and its county's."""
    notes = []
    for r in place.itertuples():
        why = r.why if isinstance(r.why, str) else ""
        if pd.isna(r.share):
            notes.append(why)
            continue
        cw = county_why.get((county_of.get(r.code), r.period), "")
        base = (
            f"own £{r.own:,.0f} + county £{r.county_own:,.0f} × {r.share:.4f} (district share of the "
            "county's Census 2021 population)"
            if pd.notna(r.own) and pd.notna(r.county_own)
            else ""
        )
        notes.append("; ".join(x for x in (base, why, f"county {cw}" if cw else "") if x))
    return notes


def _county_own_spending(fin: pd.DataFrame, geo: Geo) -> pd.DataFrame:
    """Counties' own spending per head of their districts' population (council lens)."""
    county_pop = geo.pop.reindex(geo.county_of.index).groupby(geo.county_of).sum(min_count=1)
    cf = fin[fin["council_code"].isin(geo.counties["code"])].copy()
    cf["pop"] = cf["council_code"].map(county_pop)
    cf = rate(cf.rename(columns={"council_code": "area_code"}), "own", "pop", 1.0)
    cf["note"] = cf["why"]
    return cf
