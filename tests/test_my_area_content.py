"""My area below the search for regions, counties and wards: a region's index over time, a county's
districts ("which parts differ"), why a region has no statistical neighbours, a rank outside its
own uncertainty band, and why a ward's per-resident figures are missing. Checked against
powerbalance.index / SQL on the real build, not against the page."""

from __future__ import annotations

import pandas as pd

from powerbalance import brief, charts, index, queries
from tests.helpers import open_app_page as open_page
from tests.helpers import sql

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


def test_region_says_it_has_no_neighbours_by_design(app):
    at = open_page(app, "pages/my_area_page.py", {"area": SOUTH_EAST})
    text = _infos(at)
    assert "regions have no statistical neighbours by design" in text
    assert "a feature such as population or deprivation is missing" not in text


def test_county_lists_its_districts_with_their_own_index(app, real_db):
    """A county's page lists the districts inside it with their index, rank among shire districts
    and enabler ratio for the same year and lens, so a county councillor sees which parts differ."""
    period = queries.index_periods(real_db)[0]  # not the default year: the section follows the chosen one
    lens = "place"
    at = open_page(app, "pages/my_area_page.py", {"area": WEST_SUSSEX, "year": period, "lens": lens})
    heads = [h.value for h in at.subheader]
    assert any(h.startswith("Districts in West Sussex") for h in heads), heads
    head = queries.county_district_columns(period, lens)  # readable headings, values rounded on screen
    tables = [d.value for d in at.dataframe if head["rank"] in d.value.columns and head["enabler_ratio"] in d.value]
    assert tables
    shown = tables[0].rename(columns={v: k for k, v in head.items()}).set_index("code")
    districts = sql(real_db, "SELECT code FROM areas WHERE level = 'district' AND county_code = ?", [WEST_SUSSEX])
    assert set(shown.index) == set(districts["code"]) and len(shown) == len(districts)
    ix = index.compute_index("district", period, lens=lens, db=real_db).set_index("area_code")
    for code in shown.index:
        assert shown.loc[code, "index"] == ix["index"].round(1)[code] or (
            pd.isna(shown.loc[code, "index"]) and pd.isna(ix.loc[code, "index"])
        )
        assert shown.loc[code, "n_in_group"] == ix.loc[code, "n_in_group"]
    ratio = sql(
        real_db,
        "SELECT area_code, value FROM indicator_values WHERE indicator_id = 'enabler_ratio' AND period = ? "
        "AND list_contains(?::VARCHAR[], area_code)",
        [period, list(shown.index)],
    ).set_index("area_code")["value"]
    assert shown["enabler_ratio"].dropna().to_dict() == ratio.dropna().round(2).to_dict()
    assert shown["rank"].dropna().is_monotonic_increasing  # most enabling first
    assert f"districts have an index in {period}" in "\n".join(c.value for c in at.caption)


def _outside(band: dict) -> bool:
    return bool(band["rank"] < round(band["p5"]) or band["rank"] > round(band["p95"]))


def test_a_rank_outside_its_band_is_never_called_robust(real_db):
    """The point rank uses the chosen weights and min–max; the band comes from draws over weights
    and normalisations, so the rank can fall outside a narrow band: then it is not "robust"."""
    lens = index.DEFAULT_LENS
    outside_yet_narrow = 0
    for period in queries.index_periods(real_db):
        bands = queries.rank_bands("district", period, None, lens, None, 500, real_db).dropna(subset=["p5", "rank"])
        for row in bands.to_dict("records"):
            span, reading = charts.rank_band_words(row)
            if _outside(row):
                outside_yet_narrow += bool(row["robust"])
                assert reading == charts.RANK_OUTSIDE_BAND, row
            else:
                assert reading == ("robust" if row["robust"] else "uncertain"), row
    assert outside_yet_narrow  # the case found on the live app (Worthing, 2014-15) exists in the data


def test_worthing_headline_and_brief_say_the_rank_lies_outside_its_band(app, real_db):
    period, lens = "2014-15", index.DEFAULT_LENS
    profile = queries.area_profile(WORTHING, period, None, lens, db=real_db)
    assert _outside(profile.band) and profile.band["robust"]  # narrow band, rank outside it
    at = open_page(app, "pages/my_area_page.py", {"area": WORTHING, "year": period})
    band_caption = [c.value for c in at.caption if c.value.startswith("90% range")]
    assert band_caption and charts.RANK_OUTSIDE_BAND in band_caption[0] and "robust" not in band_caption[0]
    html = brief.render(profile)
    assert charts.RANK_OUTSIDE_BAND in html and "(robust)" not in html


def test_rank_band_chart_draws_and_counts_the_cards_three_readings(real_db):
    """Review: the chart beside the card counted and drew Worthing (2014-15, rank 135 outside its
    narrow band 117–132) as a "robust rank" while the card said the rank lies outside its band.
    Every drawn point sits in the group its card reading names, and the alt text counts them so."""
    period, lens = "2014-15", index.DEFAULT_LENS
    bands = queries.rank_bands("district", period, None, lens, None, 500, real_db)
    sub = bands[bands["group"] == bands.set_index("area_code").at[WORTHING, "group"]]
    fig, alt = charts.rank_band_chart(sub, highlight=[WORTHING], subject="shire districts")
    traces = {t["name"].replace("<br>", " "): t for t in fig.to_dict()["data"]}  # long legend names wrap
    want = {"robust": [], "uncertain": [], charts.RANK_OUTSIDE_BAND: []}
    drawn = sub.dropna(subset=["median_rank"])
    for row, name in zip(drawn.to_dict("records"), drawn["name"]):
        want[charts.rank_band_words(row)[1]].append(name)
    assert WORTHING in sub["area_code"].tolist() and "Worthing" in want[charts.RANK_OUTSIDE_BAND]
    assert sorted(traces["robust rank (narrow band)"]["text"]) == sorted(want["robust"])
    assert sorted(traces["uncertain rank (wide band)"]["text"]) == sorted(want["uncertain"])
    assert sorted(traces["rank with these weights outside its band"]["text"]) == sorted(want[charts.RANK_OUTSIDE_BAND])
    n = len(drawn)
    assert f"{len(want['robust'])} of {n} ranks are robust (narrow band)" in alt
    assert f"{len(want['uncertain'])} uncertain (wide band)" in alt
    assert f"for {len(want[charts.RANK_OUTSIDE_BAND])} {charts.RANK_OUTSIDE_BAND}" in alt


def test_ward_per_head_figures_say_why_they_are_missing(real_db):
    """A ward reached by grants whose population estimate is missing shows the reason from its
    population row's note beside the missing per-head figure (never an invented population)."""
    found = sql(
        real_db,
        "SELECT g.area_code, g.period, p.note FROM indicator_values g "
        "JOIN areas a ON a.code = g.area_code AND a.level = 'ward' "
        "JOIN indicator_values p ON p.area_code = g.area_code AND p.indicator_id = 'population' "
        "WHERE g.indicator_id = 'grants_amount_per_head' AND g.value IS NULL AND g.numerator > 0 "
        "AND p.value IS NULL AND p.note LIKE 'missing:%' ORDER BY g.area_code, g.period LIMIT 1",
    )
    assert len(found)
    code, period, note = found.iloc[0]
    shown = queries.area_profile(code, period, None, index.DEFAULT_LENS, db=real_db).indicator_display
    row = shown[shown["indicator"] == "Community grant funding per head"].iloc[0]
    assert row["value"].startswith("no data: no population estimate")
    assert note.removeprefix("missing:").strip() in row["value"]
    reached = shown[shown["indicator"] == "Wards reached by at least one grant"]["value"].iloc[0]
    assert reached != "no data"
