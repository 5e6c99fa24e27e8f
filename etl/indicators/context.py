"""Context family: population, households, deprivation (IMD 2025) and rurality. Their values are
loaded as published by the ``context`` source (etl/sources/context.py), which also writes these
definitions (so a build without derivation still describes them); this module derives nothing.
All are context: polarity 0, never scored."""

from __future__ import annotations

import pandas as pd

from powerbalance.registry import Indicator

from .base import no_values

ORDER = 80
#: The source that loads the values and writes these definitions.
WRITTEN_BY_SOURCE = "context"

INDICATORS = (
    Indicator(
        "population",
        "Population",
        "context",
        "people",
        0,
        False,
        "Usual residents, Census 2021 (districts; counties, regions and England are sums of their districts)."
        " Wards: ONS mid-2019 estimates summed over the 2021 LSOAs best-fitted to the ward (period 2019), "
        "only where every LSOA of the ward has an estimate.",
        "context",
        "country,region,county,district,ward",
    ),
    Indicator(
        "households",
        "Households",
        "context",
        "households",
        0,
        False,
        "Households with at least one usual resident, Census 2021 (sums of districts above district level).",
        "context",
        "country,region,county,district",
    ),
    Indicator(
        "imd_score",
        "Deprivation score (IMD 2025)",
        "context",
        "score",
        0,
        False,
        "English Indices of Deprivation 2025, Index of Multiple Deprivation average score (higher = more "
        "deprived). Districts as published; counties: Census 2021 population-weighted mean of their "
        "districts; wards: mid-2019 population-weighted mean of their LSOAs' scores.",
        "context",
        "county,district,ward",
    ),
    Indicator(
        "imd_rank",
        "Deprivation rank (IMD 2025)",
        "context",
        "rank of 296 (1 = most deprived)",
        0,
        False,
        "Rank of the district's IMD 2025 average score among the 296 English districts, as published.",
        "context",
        "district",
    ),
    Indicator(
        "imd_decile",
        "Deprivation decile (IMD 2025)",
        "context",
        "decile (1 = most deprived 10%)",
        0,
        False,
        "Districts: decile of the published rank of average score among 296 districts. Wards: decile of the "
        "ward deprivation score among English wards that have one.",
        "context",
        "district,ward",
    ),
    Indicator(
        "imd_most_deprived_10pct_share",
        "Neighbourhoods in England's most deprived 10%",
        "context",
        "%",
        0,
        False,
        "Share of the district's LSOAs among the 10% most deprived in England (IMD 2025), as published.",
        "context",
        "district",
    ),
    Indicator(
        "ruc",
        "Rural–urban classification (2021)",
        "context",
        "class",
        0,
        False,
        "2021 Rural–Urban Classification of the district. A class, not a number: stored in areas.ruc_class, "
        "with no rows in indicator_values.",
        "context",
        "district",
    ),
)


def derive(run) -> pd.DataFrame:
    return no_values()
