"""Which financial years a figure may open on: a partial ("thin") grants year is shown, never chosen.

The grants data hold one calendar year far smaller than the others (2018: 5,902 grants against
12,864–20,119 in each of 2013–2017), because the publishers had not finished it. Its values are real
and stay selectable, but a figure that picks "the latest year" or a default span skips it and says
so where it is shown. The rule is read from the data (``grants_agg``), never a named year: an award
year is thin when it holds fewer than half as many grants as the median award year.
"""

from __future__ import annotations

import pandas as pd

from . import db as _db
from .codes import fy_of_year

#: The source whose award years are checked (an indicator made from it shares its thin years).
GRANTS_SOURCE = "grants_360_aggregate"
#: An award year with fewer grants than this share of the median award year is thin.
THIN_SHARE = 0.5


@_db.per_build(maxsize=4)
def thin_grant_years(db=None) -> _db.AsIs:
    """Financial year → why it is thin ("partial year: 5,902 grants, against 12,864–20,119 in each
    other year"), for every grants award year under :data:`THIN_SHARE` of the median."""
    counts = _db.query(
        "SELECT award_year, sum(grants) AS grants FROM grants_agg GROUP BY award_year ORDER BY award_year", db=db
    )
    return _db.AsIs(thin_years(dict(zip(counts["award_year"], counts["grants"]))))


def thin_years(grants_per_year: dict[int, int]) -> dict[str, str]:
    """The thin years of a calendar year → number of grants table, each with its note."""
    if len(grants_per_year) < 2:
        return {}
    median = float(pd.Series(list(grants_per_year.values()), dtype=float).median())
    thin = {y: int(n) for y, n in grants_per_year.items() if n < THIN_SHARE * median}
    full = [int(n) for y, n in grants_per_year.items() if y not in thin]
    return {
        fy_of_year(int(y)): f"partial year: {n:,} grants, against {min(full):,}–{max(full):,} in each other year"
        for y, n in thin.items()
    }


@_db.per_build(maxsize=4)
def _grants_indicators(db=None) -> _db.AsIs:
    ids = _db.query(
        "SELECT indicator_id FROM indicators WHERE list_contains(string_split(source_ids, ','), ?)",
        [GRANTS_SOURCE],
        db=db,
    )
    return _db.AsIs(frozenset(ids["indicator_id"]))


def thin_periods(indicator_id: str, db=None) -> dict[str, str]:
    """The thin years of one indicator (those of the grants data when it is made from them), each with its note."""
    return dict(thin_grant_years(db).value) if indicator_id in _grants_indicators(db).value else {}


def latest_full(periods, thin) -> str | None:
    """The latest of ``periods`` that is not thin; the latest of all when every one is thin; None when none."""
    periods = sorted(periods)
    full = [p for p in periods if p not in thin]
    return (full or periods or [None])[-1]
