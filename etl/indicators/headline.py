"""Headline family: enabler ratios (pounds in community hands per £100 of council spending, place
and council lens) and the shift between the first and last years with finance and grants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from powerbalance.registry import Indicator

from .base import Geo, as_values, no_values, rate, with_rollups

ORDER = 40
NEEDS = ("finance", "grants")

INDICATORS = (
    Indicator(
        "enabler_ratio",
        "Enabler ratio",
        "headline",
        "£ per £100 of council spending",
        1,
        False,
        "Pounds in community hands (parish precepts + community grants) per £100 the councils spend on the "
        "place directly (place spending). Grants by calendar year aligned with the financial year.",
        "revenue_outturn,grants_360_aggregate",
        "district,county,region,country",
    ),
    Indicator(
        "enabler_ratio_council",
        "Enabler ratio (council's own spending)",
        "headline",
        "£ per £100 of the council's own spending",
        1,
        False,
        "Parish precepts + community grants in the council's area per £100 of the council's OWN service "
        "spending. Compare only within a tier group.",
        "revenue_outturn,grants_360_aggregate",
        "district,county",
    ),
    Indicator(
        "enabler_shift",
        "Shift in the enabler ratio",
        "headline",
        "change in £ per £100",
        1,
        False,
        "Enabler ratio in the later year minus the earlier (default: earliest and latest financial years "
        "in which district finance and grants both exist).",
        "revenue_outturn,grants_360_aggregate",
        "district,county,region,country",
    ),
)


def derive(run) -> pd.DataFrame:
    return _headline(run.geo, run.shared["finance"], run.shared["grants"], run.rep)


def _headline(geo: Geo, fin, grants: pd.DataFrame, rep) -> pd.DataFrame:
    """Enabler ratios (place and council lens) and the default shift."""
    if not isinstance(fin, tuple) or grants.empty:
        rep.note("finance or grants missing: enabler ratios not derived")
        return no_values()
    dfin, county_own = fin
    m = dfin.merge(grants, on=["area_code", "period"], how="inner")  # years with both finance and grants
    m["community"] = m["precept"] + m["amount"]
    m["note"] = [
        (
            f"precepts £{p:,.0f} + grants £{a:,.0f} (calendar {per[:4]})"
            if pd.notna(p)
            else "missing: no complete parish precept figure"
        )
        + (f"; spending: {made}" if isinstance(made, str) and made else "")
        for p, a, per, made in zip(m["precept"], m["amount"], m["period"], m["made_of"])
    ]
    place = rate(m, "community", "place", 100.0)
    out = [with_rollups(place, geo, "enabler_ratio", 100.0)]
    council = rate(m, "community", "own", 100.0)
    out.append(as_values(council, "enabler_ratio_council"))
    # counties (council lens): all precepts and grants in the county per £100 of the county's own spending
    lower = m[m["area_code"].isin(geo.county_of.index)].copy()
    lower["county"] = lower["area_code"].map(geo.county_of)
    n_districts = geo.county_of.groupby(geo.county_of).size()
    cc = (
        lower.groupby(["county", "period"])
        .agg(community=("community", lambda s: s.sum(min_count=len(s))), n=("community", "count"))
        .reset_index()
    )
    cc = cc.merge(county_own.rename(columns={"area_code": "county"}), on=["county", "period"], how="left")
    cc.loc[cc["n"] < cc["county"].map(n_districts), "community"] = np.nan
    cc["note"] = [f"precepts and grants of its {n} districts" for n in cc["n"]]
    cc = rate(cc.rename(columns={"county": "area_code"}), "community", "own", 100.0)
    out.append(as_values(cc, "enabler_ratio_council"))
    ratios = pd.concat(out, ignore_index=True)

    both = sorted(m.loc[m["place"].notna() & (m["area_code"].isin(geo.county_of.index)), "period"].unique())
    if len(both) >= 2:
        p0, p1 = both[0], both[-1]
        r = ratios[ratios["indicator_id"] == "enabler_ratio"].pivot(index="area_code", columns="period", values="value")
        s = pd.DataFrame(
            {
                "area_code": r.index,
                "period": f"{p0} to {p1}",
                "value": (r[p1] - r[p0]).to_numpy(),
                "numerator": r[p1].to_numpy(),
                "denominator": r[p0].to_numpy(),
            }
        )
        s["note"] = f"enabler ratio {p1} minus {p0} (numerator = later ratio, denominator = earlier)"
        out.append(as_values(s, "enabler_shift"))
        rep.facts["shift_from"] = float(p0[:4])
        rep.facts["shift_to"] = float(p1[:4])
    return pd.concat(out, ignore_index=True)
