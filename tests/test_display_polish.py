"""Display polish: coverage sentences, small percentages, the weights scatter's summary."""

from __future__ import annotations

import pandas as pd

from powerbalance import charts, funders, queries, ui
from tests.helpers import figures
from tests.helpers import open_app_page as open_page


def test_coverage_reads_as_a_sentence_with_its_verb_agreeing():
    assert ui.coverage_text(13, 13, "wards have a value") == "13 of 13 wards have a value."
    assert ui.coverage_text(295, 296, "districts have an index value") == (
        "295 of 296 districts have an index value. 1 has no data."
    )
    assert ui.coverage_text(2, 5, "councils have an index value").endswith(" 3 have no data.")
    assert ui.coverage_text(1200, 1300, "districts") == "Based on 1,200 of 1,300 districts. 100 have no data."


def test_a_share_under_one_percent_never_reads_as_nought():
    assert funders.percent(20 / 6837) == "0.3%"
    assert funders.percent(1 / 100_000) == "<0.1%"
    assert funders.percent(0.0) == "0%"
    assert funders.percent(0.5) == "50%"
    assert funders.percent(float("nan")) == "no data"


def test_weights_scatter_says_nothing_moved_when_no_score_changed():
    same = pd.DataFrame(
        {"a": [74.5, 40.0], "b": [74.5 + 1e-9, 40.0], "g": ["x", "x"], "name": ["Derbyshire Dales", "Adur"]}
    )
    _, alt = charts.weights_scatter(same, x="a", y="b", group="g", name="name")
    assert "largest change" not in alt and "No area's index changes" in alt
    moved = same.assign(b=[80.0, 40.0])
    _, alt = charts.weights_scatter(moved, x="a", y="b", group="g", name="name")
    assert "1 area moves off the line; the largest change is Derbyshire Dales (74.5 → 80.0)." in alt


def test_a_link_to_a_year_without_an_index_says_which_year_is_shown(app, real_db):
    periods = queries.index_periods()
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000229", "year": "2023-24"})
    assert at.selectbox(key="ma_year").value == periods[-1] != "2023-24"
    notices = [i.value for i in at.info if "There is no index for 2023-24" in i.value]
    assert notices == [
        f"There is no index for 2023-24 (the index covers {periods[0]} to {periods[-1]}), so {periods[-1]} is shown."
    ]
    at.run()  # the same view again: said once, not on every rerun
    assert not any("There is no index for" in i.value for i in at.info)
    at = open_page(app, "pages/compare_page.py", {"area": "E07000229", "year": "<b>x</b>"})
    assert any(i.value.startswith("The year in this address was not recognised") for i in at.info)
    assert not any("<b>" in i.value for i in at.info)  # URL text is never echoed


def _line_traces(at) -> list[tuple[dict, dict]]:
    """(figure, trace) of every line on the page."""
    return [(f, t) for f in figures(at) for t in f["data"] if t.get("mode") == "lines+markers"]


def test_my_area_lines_keep_each_areas_colour_and_marker_and_the_index_trend_shows_missing_years(app, real_db):
    worthing = queries.area("E07000229")
    region = queries.area(worthing["region_code"])["name"]
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000229"})
    styles: dict[str, set] = {}
    for _, t in _line_traces(at):
        styles.setdefault(t["name"], set()).add((t["line"]["color"], t["marker"]["symbol"]))
    assert {"England", region, worthing["name"]} <= set(styles)  # spending, precepts, participation, index
    assert all(len(s) == 1 for s in styles.values()), styles  # one look per area on every chart
    assert len({next(iter(styles[n])) for n in ("England", region, worthing["name"])}) == 3
    # the index over time: every financial year of its span on the axis, the ones without an index as gaps
    periods = queries.index_periods()
    (fig, trend), *_ = [(f, t) for f, t in _line_traces(at) if f["layout"]["yaxis"].get("range") == [0, 100]]
    axis = fig["layout"]["xaxis"]["categoryarray"]
    assert axis == queries.every_financial_year(periods) and trend["x"] == axis
    missing = [p for p in axis if p not in periods]
    assert missing  # the real index has years without one (2015-16, 2016-17)
    assert all(y is None for x, y in zip(trend["x"], trend["y"]) if x in missing) and trend["connectgaps"] is False
    assert any(c.value.startswith(f"No index for {missing[0]}") for c in at.caption)
