"""Precepts family: parish precepts per resident, community money measured on its own rather than
as a share of council spending (so a council's cuts cannot raise it). Scored in the community lens."""

from __future__ import annotations

import numpy as np
import pandas as pd

from powerbalance.registry import Indicator

from .base import no_values, rate, with_rollups

ORDER = 11
NEEDS = ("finance",)

INDICATORS = (
    Indicator(
        "parish_precepts_per_head",
        "Parish precepts per head",
        "funding",
        "£ per resident",
        1,
        True,
        "Parish precepts paid over by the billing authority, per resident: community money measured on its "
        "own, not as a share of council spending (so a council's cuts cannot raise it). Counties, regions, "
        "England: sums of their districts. Scored in the community lens.",
        "revenue_outturn,context",
        "district,county,region,country",
        lens="community",
    ),
)


def derive(run) -> pd.DataFrame:
    """Parish precepts per resident for districts, rolled up to counties, regions and England."""
    fin = run.shared["finance"]
    if not isinstance(fin, tuple):
        return no_values()
    pp = rate(fin[0], "precept", "pop", 1.0)
    missing = np.where(pp["precept"].isna(), "missing: no complete parish precept figure", "")
    pp["note"] = ["; ".join(x for x in (m, p) if x) or None for m, p in zip(missing, pp["precepts_of"])]
    return with_rollups(pp, run.geo, "parish_precepts_per_head", 1.0)
