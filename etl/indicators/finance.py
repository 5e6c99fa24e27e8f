"""Finance family: council spending per head (place and council lens) and parish precepts as a
share of place spending, from Revenue Outturn (``finance``) and the Census 2021 population."""

from __future__ import annotations

import pandas as pd

from powerbalance.labels import BEFORE_IT_EXISTED, and_list
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
    made_of, precepts_of = _successor_notes(con)
    place = apportion_county(fin[["council_code", "period", "own"]], geo.districts, geo.pop)
    place = place.merge(
        fin[["council_code", "period", "precept", "why"]].rename(columns={"council_code": "code"}),
        on=["code", "period"],
        how="left",
    )
    place["pop"] = place["code"].map(geo.pop)
    place["made_of"] = [made_of.get(k, "") for k in zip(place["code"], place["period"])]
    place["precepts_of"] = [precepts_of.get(k, "") for k in zip(place["code"], place["period"])]
    place["note"] = _place_notes(place, fin.set_index(["council_code", "period"])["why"], geo.county_of)
    out = []

    ps = rate(place.rename(columns={"code": "area_code"}), "place", "pop", 1.0)
    out.append(with_rollups(ps, geo, "place_spend_per_head", 1.0))

    # council lens: own spending of districts and counties
    cs = rate(place.rename(columns={"code": "area_code"}), "own", "pop", 1.0)
    cs["note"] = [_joined(w, m) for w, m in zip(cs["why"], cs["made_of"])]
    out.append(as_values(cs, "council_spend_per_head"))
    cf = _county_own_spending(fin, geo)
    out.append(as_values(cf, "council_spend_per_head"))

    pp = rate(place.rename(columns={"code": "area_code"}), "precept", "place", 100.0)
    out.append(with_rollups(pp, geo, "parish_precept_share", 100.0))

    districts_fin = place.rename(columns={"code": "area_code"})[
        ["area_code", "period", "own", "place", "precept", "pop", "note", "made_of", "precepts_of"]
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
        why = _joined(r.why, r.made_of)
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


def _joined(*parts) -> str:
    """The non-empty text parts of a note, joined with '; '."""
    return "; ".join(p for p in parts if isinstance(p, str) and p)


def _successor_notes(con) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """({(council_code, period): note on its spending}, {…: note on its parish precepts}) for each council
    whose figure for a year is made from the councils it replaced (a year before it existed). The
    spending note names them, marks a population-apportioned county share as an estimate, and says where
    a former shire district's county went wholly to another successor (Christchurch's Dorset County
    services are in Dorset Council's figure, not BCP's); the precept note names the billing councils
    (districts and unitaries: counties pay over no parish precepts)."""
    fin = _predecessor_rows(con)
    spending, precepts = {}, {}
    keys = [fin["council_code"], fin["period"]]
    existed = fin["mapping"].eq("same").groupby(keys).transform("any")  # its own figure that year
    for (code, period), g in fin[~existed].groupby(["council_code", "period"]):
        spending[(code, period)] = [_predecessor_sum_note(period, g)]
        billing = sorted(g.loc[g["class"] != "SC", "source_name"])
        if billing:
            precepts[(code, period)] = (
                f"{period} {BEFORE_IT_EXISTED}: the parish precepts paid over by the councils it replaced, "
                + and_list(billing)
            )
    names = dict(con.execute("SELECT code, name FROM areas WHERE level IN ('district', 'county')").fetchall())
    for key, note in _county_left_behind_notes(fin, names):
        spending.setdefault(key, []).append(note)
    return {k: "; ".join(v) for k, v in spending.items()}, precepts


def _predecessor_rows(con) -> pd.DataFrame:
    """Every published council's total service row with the current council it counts in, its register
    name (a county's as '… County Council', the same in every year) and, for a split county, the share
    its successor got (its value over the county's published value)."""
    fin = con.execute(
        """SELECT f.council_code, f.period, f.ecode, f.class, f.mapping, f.value_gbp,
                  any_value(f.source_name) AS source_name, any_value(m.old_name) AS register_name
           FROM finance f LEFT JOIN area_code_map m ON m.old_code = f.ecode AND m.level = 'council_ecode'
           WHERE f.line = ? AND f.council_code IS NOT NULL GROUP BY ALL""",
        [TSE_LINE],
    ).df()
    split = fin[fin["mapping"] == "predecessor_share"]
    fin["share"] = fin["value_gbp"] / split.groupby(["ecode", "period"])["value_gbp"].transform("sum")
    named = fin["register_name"].notna()
    county = named & (fin["class"] == "SC")
    fin.loc[named, "source_name"] = fin.loc[named, "register_name"]
    fin.loc[county, "source_name"] = fin.loc[county, "source_name"].str.removesuffix(" County") + " County Council"
    return fin


def _predecessor_sum_note(period: str, g: pd.DataFrame) -> str:
    """'2013-14 is before this council existed: the sum of the councils it replaced, A, B and C plus
    45.78% of D County Council (an estimate: …)' for one successor's rows of one year."""
    whole = sorted(g.loc[g["mapping"] == "predecessor", "source_name"])
    parts = [and_list(whole)] if whole else []
    split = g[g["mapping"] == "predecessor_share"]
    parts += [
        f"{share:.2%} of {name} (an estimate: the county's figure split between its successors by Census 2021 "
        "population)"
        for name, share in zip(split["source_name"], split["share"])
    ]
    return f"{period} {BEFORE_IT_EXISTED}: the sum of the councils it replaced, " + " plus ".join(parts)


def _county_left_behind_notes(fin: pd.DataFrame, names: dict) -> list[tuple[tuple[str, str], str]]:
    """Notes for a former shire district that went to another successor than its county did whole (MHCLG
    E-codes share their first three characters within a county: E1221 Dorset CC, E1232 Christchurch):
    the district's successor lacks the county's spending on its residents, the county's successor has
    too much. No population figure for a former district exists in the raw data to split the county."""
    counties = fin[(fin["class"] == "SC") & (fin["mapping"] == "predecessor")]
    county_at = {
        (p, e[:3]): (c, n)
        for p, e, c, n in zip(counties["period"], counties["ecode"], counties["council_code"], counties["source_name"])
    }
    districts = fin[(fin["class"] == "SD") & (fin["mapping"] == "predecessor")]  # abolished districts
    out = []
    for period, code, district, ecode in zip(
        districts["period"], districts["council_code"], districts["source_name"], districts["ecode"]
    ):
        c_code, c_name = county_at.get((period, ecode[:3]), (code, ""))
        if c_code == code:
            continue
        out.append(
            (
                (code, period),
                f"without {c_name}'s spending on {district}'s residents: that county is counted wholly in "
                f"{names.get(c_code, c_code)} ({c_code}), and the data hold no population for {district}'s area "
                "to split it by, so the figure is too low",
            )
        )
        out.append(
            (
                (c_code, period),
                f"includes all of {c_name}'s spending, though {district} (now part of {names.get(code, code)}, "
                f"{code}) was in that county: the data hold no population for {district}'s area to split it by, "
                "so the figure is too high",
            )
        )
    return out


def _county_own_spending(fin: pd.DataFrame, geo: Geo) -> pd.DataFrame:
    """Counties' own spending per head of their districts' population (council lens)."""
    county_pop = geo.pop.reindex(geo.county_of.index).groupby(geo.county_of).sum(min_count=1)
    cf = fin[fin["council_code"].isin(geo.counties["code"])].copy()
    cf["pop"] = cf["council_code"].map(county_pop)
    cf = rate(cf.rename(columns={"council_code": "area_code"}), "own", "pop", 1.0)
    cf["note"] = cf["why"]
    return cf
