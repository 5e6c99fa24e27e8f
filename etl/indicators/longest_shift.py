"""Longest-shift family: for spending per head and the parish precept share, the later minus the
earlier value over the widest span of financial years the data allow (2010-11 → 2023-24 today),
read from the data so a new year lengthens the span with no code change. Counties, regions and
England compare the same districts in both years, so a change is never a change of coverage."""

from __future__ import annotations

import pandas as pd

from powerbalance.registry import Indicator

from .base import Geo, as_values, no_values, rollup

ORDER = 45
NEEDS = ("finance",)

INDICATORS = (
    Indicator(
        "place_spend_shift",
        "Change in place spending per head (longest span)",
        "headline",
        "change in £ per resident",
        -1,
        False,
        "Place spending per head in the latest financial year with finance minus the earliest (the widest span "
        "the data allow: 2010-11 to 2023-24). Cash terms, not adjusted for inflation. Numerator = later value, "
        "denominator = earlier.",
        "revenue_outturn,context",
        "district,county,region,country",
    ),
    Indicator(
        "parish_precept_share_shift",
        "Change in the parish precept share (longest span)",
        "headline",
        "change in percentage points",
        1,
        False,
        "Parish precepts as a share of place spending in the latest financial year with finance minus the "
        "earliest (2010-11 to 2023-24): a ratio, so inflation cancels out. Numerator = later value, "
        "denominator = earlier.",
        "revenue_outturn,context",
        "district,county,region,country",
    ),
)

#: Measures with a "longest honest shift": measure → (shift indicator id, rate scale).
LONGEST_SHIFTS = {
    "place_spend_per_head": ("place_spend_shift", 1.0),
    "parish_precept_share": ("parish_precept_share_shift", 100.0),
}
#: A year counts for a measure's span when at least this share of districts have a value in it
#: (the 2015-16 and 2016-17 upper-tier extract gives no district a place value).
SPAN_MIN_COVERAGE = 0.5


def derive(run) -> pd.DataFrame:
    return _longest_shifts(run.shared.get("finance_rows", no_values()), run.geo, run.rep)


def measure_span(values: pd.DataFrame, indicator_id: str, districts: pd.Series) -> tuple[str, str] | None:
    """(earliest, latest) financial year in which at least SPAN_MIN_COVERAGE of districts have a
    value of the measure; None when fewer than two such years exist."""
    v = values[(values["indicator_id"] == indicator_id) & values["area_code"].isin(districts) & values["value"].notna()]
    n = v.groupby("period")["area_code"].nunique()
    years = sorted(n[n >= SPAN_MIN_COVERAGE * len(districts)].index)
    return (years[0], years[-1]) if len(years) >= 2 else None


def _later_minus_earlier(val: pd.DataFrame, p0: str, p1: str) -> pd.DataFrame:
    """area_code, value (later minus earlier), numerator (later) and denominator (earlier) from a
    frame of values with one column per period."""
    return pd.DataFrame(
        {
            "area_code": val.index,
            "value": (val[p1] - val[p0]).to_numpy(),
            "numerator": val[p1].to_numpy(),
            "denominator": val[p0].to_numpy(),
        }
    )


def _district_shift(v: pd.DataFrame, p0: str, p1: str) -> pd.DataFrame:
    """Later minus earlier value per district; missing (with both years' reasons) when either end is."""
    val = v.pivot(index="area_code", columns="period", values="value").reindex(columns=[p0, p1])
    why = v.pivot(index="area_code", columns="period", values="note").reindex(columns=[p0, p1])
    s = _later_minus_earlier(val, p0, p1)
    s["note"] = [
        f"{p1} minus {p0} (numerator = later value, denominator = earlier)"
        if pd.notna(x)
        else "missing: "
        + "; ".join(
            f"no value for {p}" + (f" ({w})" if isinstance(w, str) and w else "")
            for p, a, w in ((p0, a0, w0), (p1, a1, w1))
            if pd.isna(a)
        )
        for x, a0, a1, w0, w1 in zip(s["value"], val[p0], val[p1], why[p0], why[p1])
    ]
    return s


def _matched_rollup_shift(d: pd.DataFrame, p0: str, p1: str, geo: Geo, scale: float) -> pd.DataFrame:
    """Counties, regions and England over the SAME districts in both years (those with both
    values), so a change is never a change of coverage: later minus earlier roll-up."""
    both = d.dropna(subset=["value"]).groupby("area_code")["period"].nunique()
    d = d[d["area_code"].isin(both[both == 2].index)]
    out = []
    for parent_of in geo.parents():
        r = rollup(d, parent_of, scale)
        val = r.pivot(index="area_code", columns="period", values="value").reindex(columns=[p0, p1])
        note = r[r["period"] == p1].set_index("area_code")["note"].reindex(val.index)
        s = _later_minus_earlier(val, p0, p1)
        s["note"] = [
            f"{p1} minus {p0}, both over the same districts ({n} with both years)"
            for n in note.str.replace("sum of ", "", regex=False)
        ]
        out.append(s)
    return pd.concat(out, ignore_index=True)


def _longest_shifts(values: pd.DataFrame, geo: Geo, rep) -> pd.DataFrame:
    """For each measure in LONGEST_SHIFTS: later minus earlier value over the widest span the
    measure has (districts; their county, region and England over matched districts)."""
    out = []
    for ind_id, (shift_id, scale) in LONGEST_SHIFTS.items():
        span = measure_span(values, ind_id, geo.districts["code"])
        if span is None:
            rep.note(f"{ind_id}: fewer than two well-covered years, no longest shift")
            continue
        p0, p1 = span
        d = values[
            (values["indicator_id"] == ind_id)
            & values["period"].isin(span)
            & values["area_code"].isin(geo.districts["code"])
        ]
        s = pd.concat([_district_shift(d, p0, p1), _matched_rollup_shift(d, p0, p1, geo, scale)], ignore_index=True)
        s["period"] = f"{p0} to {p1}"
        out.append(as_values(s, shift_id))
        rep.facts[f"{shift_id}_from"] = float(p0[:4])
        rep.facts[f"{shift_id}_to"] = float(p1[:4])
    return pd.concat(out, ignore_index=True) if out else no_values()
