"""Display polish: coverage sentences, small percentages, the weights scatter's summary."""

from __future__ import annotations

import pandas as pd

from powerbalance import charts, funders, queries, ui
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
