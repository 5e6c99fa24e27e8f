"""Read-side constants shared by the ETL's indicator families (``etl/indicators/``) and the dashboard.

The indicator definitions live beside their derivation, one module per family in
``etl/indicators/``; the dashboard reads them from the database it serves
(:mod:`powerbalance.registry`). What stays here are the few facts both sides need by name: the
context indicator ids, which 360Giving funders count as community funding, the ward-placement
threshold, and how local measures join indicators.
"""

from __future__ import annotations

#: Context indicator ids written by the ``context`` source (etl/sources/context.py).
POPULATION = "population"
IMD_SCORE = "imd_score"

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

#: local_values measures that are (or replace) indicators of the same meaning.
LOCAL_AS_INDICATOR = {
    "civic_participation_rate": "civic_participation",
    "formal_volunteering_rate": "formal_volunteering_rate",
}
#: local counts and money turned into rates per resident: measure → (indicator id, residents per unit)
LOCAL_RATES = {
    "volunteers": ("local_volunteers_per_1k", 1_000),
    "volunteer_hours": ("local_volunteer_hours_per_head", 1),
    **{
        m: (f"local_{m}_per_10k", 10_000)
        for m in (
            "resident_led_projects",
            "community_asset_transfers",
            "assets_of_community_value",
            "neighbourhood_plans",
            "participatory_budgeting_rounds",
        )
    },
    "council_vcs_grants_gbp": ("local_council_vcs_grants_per_head", 1),
}
