"""Parishes family: civil parishes per 10,000 residents and the share of wards that are parished
(ONS parish list, December 2019: one snapshot used for every year)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from powerbalance.registry import Indicator

from .base import Geo, as_values, no_values, rate, rollup, with_rollups

ORDER = 30

#: Period label of the parish snapshot (ONS PAR19_WD19_LAD19, December 2019).
PARISH_PERIOD = "2019"

INDICATORS = (
    Indicator(
        "parishes_per_10k",
        "Parishes per 10,000 residents",
        "projects",
        "parishes per 10,000 residents",
        1,
        True,
        "Civil parishes (ONS, December 2019) per 10,000 residents. Used for every year.",
        "parishes,context",
        "ward,district,county,region,country",
        static=True,
    ),
    Indicator(
        "parished_wards_share",
        "Wards that are parished",
        "projects",
        "% of wards",
        1,
        True,
        "Share of December 2023 wards containing at least one civil parish (December 2019). Only where every "
        "parish's 2019 ward is still a current ward (unchanged boundary). Wards: 100 parished, 0 not.",
        "parishes,geography",
        "ward,district,county,region,country",
        static=True,
    ),
)


def derive(run) -> pd.DataFrame:
    return _parish_indicators(run.con, run.geo, run.rep)


def _parish_indicators(con, geo: Geo, rep) -> pd.DataFrame:
    """Parishes per 10,000 residents and the share of wards that are parished (Dec 2019 snapshot).

    A ward's parish status is known when its code appears in a parish–ward pair (parished: the
    code is unchanged since 2019, so its parishes are exactly those listed), or when every
    parish–ward pair of its district maps to a current ward (then any other current ward lies
    outside every 2019 parished ward: unparished).
    """
    par = con.execute("SELECT parish_code, district_code FROM parishes WHERE district_code IS NOT NULL").df()
    if par.empty:
        rep.note("no parishes rows: parish indicators not derived")
        return no_values()
    pw = con.execute("""SELECT p.district_code, w.parish_code, w.ward_code FROM parish_wards w
                        JOIN parishes p USING (parish_code) WHERE p.district_code IS NOT NULL""").df()
    n_par = par.groupby("district_code").size().reindex(geo.districts["code"]).fillna(0)
    d = pd.DataFrame({"area_code": geo.districts["code"], "period": PARISH_PERIOD, "parishes": n_par.to_numpy(float)})
    d["pop"] = d["area_code"].map(geo.pop)
    d["note"] = "ONS parish list, December 2019"
    out = [with_rollups(rate(d, "parishes", "pop", 10_000.0), geo, "parishes_per_10k", 10_000.0)]

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
    w["note"] = np.where(
        known,
        "ONS parish list, December 2019 (a parish crossing wards counts in each)",
        "missing: the district's 2019 wards were redrawn, so this ward's parishes are not known",
    )
    out.append(as_values(rate(w, "parishes", "pop", 10_000.0), "parishes_per_10k"))
    pw_w = rate(w, "parished", "one", 100.0)
    out.append(as_values(pw_w, "parished_wards_share"))
    ds = rollup(
        pw_w[pw_w["district"].isin(known_district)], geo.district_of_ward, 100.0, geo.wards_in_district, "wards"
    )
    miss = pd.DataFrame({"area_code": sorted(set(geo.districts["code"]) - known_district)})
    miss["period"] = PARISH_PERIOD
    miss["value"] = np.nan
    miss["note"] = [
        f"missing: {int(unmatched.get(c, 0))} of {int(pairs.get(c, 0))} parish–ward links point to 2019 "
        "wards that have since been redrawn"
        for c in miss["area_code"]
    ]
    out.append(with_rollups(pd.concat([ds, miss], ignore_index=True), geo, "parished_wards_share", 100.0))
    rep.facts["districts_with_parished_wards_share"] = float(len(ds))
    return pd.concat(out, ignore_index=True)
