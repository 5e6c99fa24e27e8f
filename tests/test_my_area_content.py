"""My area below the search for regions, counties and wards: a region's index over time, a county's
districts ("which parts differ"), why a region has no statistical neighbours, a rank outside its
own uncertainty band, and why a ward's per-resident figures are missing. Checked against
powerbalance.index / SQL on the real build, not against the page."""

from __future__ import annotations

from powerbalance import index, queries
from tests.helpers import open_app_page as open_page

SOUTH_EAST, WEST_SUSSEX, WORTHING = "E12000008", "E10000032", "E07000229"


def _infos(at) -> str:
    return "\n".join(i.value for i in at.info)


def test_region_over_time_shows_the_regions_index_each_year(app, real_db):
    """Regions are ranked among regions: their trend is read from the region table of each year,
    so "Over time" agrees with the headline rank (it said "no index in any year")."""
    lens = index.DEFAULT_LENS
    at = open_page(app, "pages/my_area_page.py", {"area": SOUTH_EAST})
    assert "no index in any year" not in _infos(at)
    trend = queries.area_profile(SOUTH_EAST, None, None, lens, db=real_db).trend
    expected = []
    for period in queries.index_periods(real_db):
        row = index.compute_index("region", period, lens=lens, db=real_db).set_index("area_code").loc[SOUTH_EAST]
        if row["index"] == row["index"]:
            expected.append((period, round(float(row["index"]), 6), int(row["rank"])))
    assert len(expected) >= 2
    got = [(p, round(float(x), 6), int(r)) for p, x, r in zip(trend["period"], trend["index"], trend["rank"])]
    assert got == expected
    latest = expected[-1]
    assert at.metric[1].value == f"{latest[2]} of 9"
