"""Local family: councils' and partners' own figures (``local_values``, the local/ templates) as
local indicators, scored where loaded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from powerbalance.codes import fy_of_year
from powerbalance.indicators import LOCAL_AS_INDICATOR, LOCAL_RATES
from powerbalance.registry import Indicator

from .base import VALUE_COLUMNS, Geo, no_values

ORDER = 50

INDICATORS = (
    Indicator(
        "formal_volunteering_rate",
        "Formal volunteering",
        "participation",
        "% of adults",
        1,
        False,
        "Adults who volunteered formally in the last 12 months: local figures only (volunteering template), "
        "scored where loaded.",
        "local_data",
        "ward,district,county",
        local_scored=True,
    ),
    Indicator(
        "local_volunteers_per_1k",
        "Volunteers per 1,000 residents (local)",
        "participation",
        "volunteers per 1,000 residents",
        1,
        False,
        "Volunteers recorded by the council or partner (volunteering template) per 1,000 residents.",
        "local_data,context",
        "ward,district,county",
        local_scored=True,
    ),
    Indicator(
        "local_volunteer_hours_per_head",
        "Volunteer hours per resident (local)",
        "participation",
        "hours per resident",
        1,
        False,
        "Volunteer hours recorded by the council or partner (volunteering template) per resident.",
        "local_data,context",
        "ward,district,county",
        local_scored=True,
    ),
    *[
        Indicator(
            f"local_{m}_per_10k",
            f"{title} per 10,000 residents (local)",
            "projects",
            f"{unit} per 10,000 residents",
            1,
            False,
            f"{title} recorded by the council or partner (projects template) per 10,000 residents.",
            "local_data,context",
            "ward,district,county",
            local_scored=True,
        )
        for m, title, unit in (
            ("resident_led_projects", "Resident-led projects", "projects"),
            ("community_asset_transfers", "Community asset transfers", "transfers"),
            ("assets_of_community_value", "Assets of community value", "assets"),
            ("neighbourhood_plans", "Neighbourhood plans", "plans"),
            ("participatory_budgeting_rounds", "Participatory budgeting rounds", "rounds"),
        )
    ],
    Indicator(
        "local_council_vcs_grants_per_head",
        "Council grants to community groups per resident (local)",
        "funding",
        "£ per resident",
        1,
        False,
        "Council grants to voluntary and community groups (council_grants template) per resident: money the "
        "council puts in community hands.",
        "local_data,context",
        "ward,district,county",
        local_scored=True,
    ),
)


def derive(run) -> pd.DataFrame:
    """Local values; keeps ``run.shared["local"]`` (they replace regional estimates) and adds a
    definition for every local measure that is not an indicator of its own."""
    rows, extra = _local(run.con, run.geo, run.rep)
    run.shared["local"] = rows
    run.extra.extend(extra)
    return rows


def _local(con, geo: Geo, rep) -> tuple[pd.DataFrame, list[Indicator]]:
    """Councils' own figures (local_values) as local indicator values (is_local = true).

    Participation rates become (or replace, for their area and year) the participation
    indicators. Counts and money become rates per resident (:data:`LOCAL_RATES`) in their
    template's domain. All of these are scored where loaded. Every measure is also kept as
    given, as a local, unscored indicator with the measure's id. A calendar year Y is aligned
    with financial year Y-(Y+1), as for grants.
    """
    try:
        lv = con.execute("SELECT area_code, period, measure, value, template, file, source_note FROM local_values").df()
    except Exception:  # the local_values table is optional in older schemas
        return no_values(), []
    if lv.empty:
        return no_values(), []
    out = _as_given(lv)
    out = pd.concat([out, *_local_rates(out, lv["measure"].to_numpy(), geo)], ignore_index=True)
    rep.facts["local_values_used"] = float(len(out))
    return out[VALUE_COLUMNS], _local_only_indicators(set(lv["measure"]))


def _as_given(lv: pd.DataFrame) -> pd.DataFrame:
    """Each local figure as a local indicator value, in its financial year (calendar year Y →
    Y-(Y+1)), noting its file, calendar year and the council's own note."""
    notes = [
        f"local figure from {f}"
        + (f" (calendar {p})" if "-" not in str(p) else "")
        + (f": {s}" if isinstance(s, str) and s else "")
        for f, p, s in zip(lv["file"], lv["period"], lv["source_note"])
    ]
    return pd.DataFrame(
        {
            "area_code": lv["area_code"],
            "indicator_id": [LOCAL_AS_INDICATOR.get(m, m) for m in lv["measure"]],
            "period": [p if "-" in str(p) else fy_of_year(int(p)) for p in lv["period"]],
            "value": lv["value"].astype(float),
            "numerator": np.nan,
            "denominator": np.nan,
            "is_local": True,
            "note": notes,
        }
    )


def _local_rates(out: pd.DataFrame, measures, geo: Geo) -> list[pd.DataFrame]:
    """Counts and money as rates per resident (:data:`LOCAL_RATES`); missing, with the reason,
    where the area has no population."""
    rates = []
    for measure, (ind_id, per) in LOCAL_RATES.items():
        sel = out[measures == measure].copy()
        if sel.empty:
            continue
        sel["indicator_id"] = ind_id
        sel["numerator"] = sel["value"]
        sel["denominator"] = sel["area_code"].map(geo.pop)
        sel["value"] = sel["numerator"] / sel["denominator"] * per
        sel.loc[sel["denominator"].isna(), "note"] = "missing: no population for this area; " + sel["note"]
        rates.append(sel)
    return rates


def _local_only_indicators(measures: set[str]) -> list[Indicator]:
    """An unscored context indicator for every measure that is not an indicator of its own."""
    try:
        from etl.sources.local_data import MEASURES
    except ImportError:  # pragma: no cover - the package is always importable in a build
        MEASURES = {}
    extra = []
    for m in sorted(measures - set(LOCAL_AS_INDICATOR)):
        tpl, meas = MEASURES.get(m, (None, None))
        extra.append(
            Indicator(
                m,
                getattr(meas, "title", m),
                "context",
                getattr(meas, "unit", ""),
                0,
                False,
                f"Local figures only ({tpl or 'local'} template): " + getattr(meas, "description", ""),
                "local_data",
                "ward,district,county",
            )
        )
    return extra
