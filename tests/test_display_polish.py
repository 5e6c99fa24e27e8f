"""Display polish: coverage sentences, small percentages, the weights scatter's summary, a link's year, line
styles by role, the index trend's gaps, rounded tables and the county brief's districts."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from powerbalance import brief, charts, funders, queries, ui
from tests.helpers import figures, open_data_tables
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


def _decimals_at_most(values: pd.Series, n: int) -> bool:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return bool(((v * 10**n).round() - v * 10**n).abs().max() < 1e-6) if len(v) else True


def test_overview_and_compare_tables_read_as_words_with_values_rounded(app, real_db):
    periods = queries.index_periods()
    at = open_page(app, "pages/overview_page.py", {"year": periods[-1]})
    open_data_tables(at)
    heading = f"index (0–100), {periods[-1]}"
    (table,) = [d.value for d in at.dataframe if heading in d.value.columns]
    assert {"n_in_group", "group", "value"}.isdisjoint(table.columns)
    assert {"of", "ranked among", "type"} <= set(table.columns) and str(table["rank"].dtype) == "Int64"
    assert "shire_district" not in set(table["type"]) | set(table["ranked among"])
    assert "Shire district" in set(table["type"]) and "shire districts" in set(table["ranked among"])
    assert table[heading].notna().sum() > 200 and _decimals_at_most(table[heading], 1)
    assert not _decimals_at_most(queries.index_map_values("district", periods[-1], None)["value"], 1)  # it was
    at = open_page(app, "pages/compare_page.py", {"area": "E07000229"})
    (table,) = [d.value for d in at.dataframe if "group_label" in d.value.columns]
    assert set(table["type"]) == {"Shire district"}


def test_my_area_county_districts_and_wards_are_rounded_with_readable_headings(app, real_db):
    at = open_page(app, "pages/my_area_page.py", {"area": "E10000032"})  # West Sussex
    period = at.selectbox(key="ma_year").value
    head = queries.county_district_columns(period, "community")
    (parts,) = [d.value for d in at.dataframe if head["rank"] in d.value.columns]
    assert "n_in_group" not in parts.columns and parts[head["index"]].notna().any()
    assert _decimals_at_most(parts[head["index"]], 1) and _decimals_at_most(parts[head["enabler_ratio"]], 2)
    assert str(parts[head["rank"]].dtype) == "Int64"
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000229"})  # Worthing
    open_data_tables(at)
    (wards,) = [d.value for d in at.dataframe if "name" in d.value.columns and len(d.value) == 13]
    values = [c for c in wards.columns if c not in ("code", "name")]
    assert values and all(_decimals_at_most(wards[c], 2) for c in values)


@pytest.mark.slow
def test_county_brief_lists_its_districts_on_one_page(real_db):
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("weasyprint")
    period = queries.index_periods(real_db)[-1]
    for code in ("E10000032", "E10000016"):  # West Sussex (7 districts), Kent (12: more than the brief has room for)
        profile = queries.area_profile(code, period, db=real_db)
        parts = profile.districts
        html = brief.render(profile)
        assert f"Districts in {profile.name} ({len(parts)}): which parts differ" in html
        shown = parts.head(brief.DISTRICT_ROWS)
        for name, value in zip(shown["name"], shown["index"]):
            assert f"<td>{name}</td>" in html and charts.fmt(value, 1) in html
        assert (len(parts) > brief.DISTRICT_ROWS) == (f"Showing {brief.DISTRICT_ROWS} of {len(parts)} rows" in html)
        assert len(pypdf.PdfReader(io.BytesIO(brief.brief_pdf(profile))).pages) == 1, code
    assert "which parts differ" not in brief.render(queries.area_profile("E07000229", period, db=real_db))


def test_map_alt_text_is_whole_sentences_with_and_without_missing_areas():
    """The Map's description ended '… median £1.47 per resident. based on 296 of 296 districts.' when no
    area lacked a value (a sentence starting in lower case, saying nothing)."""
    full = pd.DataFrame({"code": ["A", "B", "C"], "name": ["Ay", "Bee", "Cee"], "value": [1.0, 2.0, 3.0]})
    alt = charts.map_alt_text(full, measure="M", unit="", area_label="districts")
    assert alt.endswith("median 2.0. Every one of the 3 districts has a value.") and ". based" not in alt
    gap = full.assign(value=[1.0, None, 3.0])
    alt = charts.map_alt_text(gap, measure="M", unit="", area_label="districts")
    assert alt.endswith("1 district has no data and is drawn in light grey; based on 2 of 3 districts.")
