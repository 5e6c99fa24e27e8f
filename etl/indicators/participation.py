"""Participation family: civic participation from the Community Life Survey (regional and England
estimates; districts and counties get their region's value, never scored)."""

from __future__ import annotations

import pandas as pd

from powerbalance.codes import ENGLAND, fy_of_survey
from powerbalance.registry import Indicator

from .base import Geo, as_values, no_values

ORDER = 60
NEEDS = ("local",)

INDICATORS = (
    Indicator(
        "civic_participation",
        "Civic participation",
        "participation",
        "% of adults",
        1,
        False,
        "Adults who took part in civic participation in the last 12 months (Community Life Survey). Regional "
        "estimate assigned to every area of the region, so never scored; local figures loaded through the "
        "volunteering template replace it for their area and are scored.",
        "participation,local_data",
        "district,county,region,country",
        local_scored=True,
    ),
)


def derive(run) -> pd.DataFrame:
    """Regional estimates, except where a local figure replaces one for its area and year."""
    part = _participation(run.con, run.geo, run.rep)
    local_rows = run.shared.get("local")
    if local_rows is not None and not local_rows.empty:
        key = set(zip(local_rows["area_code"], local_rows["indicator_id"], local_rows["period"]))
        part = part[[k not in key for k in zip(part["area_code"], part["indicator_id"], part["period"])]]
    return part


def _participation(con, geo: Geo, rep) -> pd.DataFrame:
    """Regional and England civic participation; districts and counties get their region's
    value marked 'regional estimate' (never scored)."""
    p = con.execute("SELECT area_code, period, value_pct, lci, uci FROM participation WHERE area_code IS NOT NULL").df()
    if p.empty:
        return no_values()
    p["fy"] = p["period"].map(fy_of_survey)
    bad = p[p["fy"].isna()]
    for per in sorted(bad["period"].unique()):
        rep.warn(f"participation period {per!r} not understood: not used")
    p = p[p["fy"].notna()]
    base = pd.DataFrame({"area_code": p["area_code"], "period": p["fy"], "value": p["value_pct"]})
    base["note"] = [
        (f"Community Life Survey {per}" + (f" (95% CI {lo:.1f}–{hi:.1f})" if pd.notna(lo) else ""))
        if pd.notna(v)
        else f"missing: no Community Life Survey estimate published for {per}"
        for per, v, lo, hi in zip(p["period"], p["value_pct"], p["lci"], p["uci"])
    ]
    regional = base[base["area_code"] != ENGLAND]
    out = [base]
    for frame in (geo.districts, geo.counties):
        m = frame[["code", "region_code"]].merge(regional, left_on="region_code", right_on="area_code")
        out.append(
            pd.DataFrame(
                {
                    "area_code": m["code"],
                    "period": m["period"],
                    "value": m["value"],
                    "note": "regional estimate: " + m["note"],
                }
            )
        )
    return as_values(pd.concat(out, ignore_index=True), "civic_participation")
