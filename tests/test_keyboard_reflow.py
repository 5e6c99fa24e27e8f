"""Keyboard, reflow and phone behaviour (review 5, items 2, 4, 5, 8, 9, 13): quick key presses on a
weight slider, the order of My area on a phone, a way past the charts to the brief, the search's
status message, charts at 320 px and the Data page's build id; through AppTest on the real build."""

from __future__ import annotations

import json
import re

from powerbalance import urlstate
from tests.helpers import open_app_page as open_page

SEEN = "_pb_url_seen::weights"  # ui._SEEN + the sliders' key


def _weights(at) -> str:
    return urlstate.weights_to_param(
        {d: at.slider(key=f"weights_{d}").value / 100 for d in ("funding", "projects", "participation")}
    )


def test_quick_presses_on_a_weight_slider_are_all_kept_and_the_address_names_the_weights_shown(app):
    """Review item 2: Right Arrow pressed three times 0.1 s apart on "Funding weight": each press starts
    a run that cuts the last one short, and the browser sends the next press with the address an
    earlier run wrote. That address was read back into the sliders: presses were lost (the thumb jumped
    back) and the address ended up naming other weights than those shown."""
    at = open_page(app, "pages/method_page.py")
    at.slider(key="weights_funding").set_value(55).run()
    first = at.query_params["weights"]
    at.slider(key="weights_funding").set_value(60).run()
    second = at.query_params["weights"]
    # the third press arrives with the address of the first press's run (the browser had not yet had the second's)
    at.slider(key="weights_funding").set_value(65)
    at.query_params["weights"] = first
    at.run()
    assert at.slider(key="weights_funding").value == 65
    assert at.query_params["weights"] == _weights(at) != first
    # a run cut short just after writing the address, before marking it seen, then another press
    at.session_state[SEEN] = first
    at.slider(key="weights_funding").set_value(70)
    at.query_params["weights"] = second
    at.run()
    assert at.slider(key="weights_funding").value == 70 and at.query_params["weights"] == _weights(at)
    # weights from outside (a link opened in this session) still set the sliders
    at.query_params["weights"] = "funding:0.2,projects:0.8,participation:0"
    at.run()
    assert at.slider(key="weights_funding").value == 20 and at.slider(key="weights_projects").value == 80
    assert at.query_params["weights"] == "funding:0.2,projects:0.8,participation:0"


def test_nothing_on_a_page_is_moved_out_of_reading_order_by_css():
    """Review item 5: on a phone, CSS ``order: -1`` drew My area's headline (h2, figures) above its
    title (h1) and controls, while screen readers and Tab went title → controls → headline. The page's
    stylesheet moves nothing: what is seen comes in the order it is read (WCAG 1.3.2, 2.4.3)."""
    from powerbalance import ui

    assert re.search(r"(?<![-\w])order\s*:", ui._CSS) is None, ui._CSS
    assert "flex-direction: column-reverse" not in ui._CSS and "row-reverse" not in ui._CSS


def test_the_build_id_is_shown_whole_as_text_that_wraps(app, real_db):
    """Review item 13: the Build metric cut the id to "20261201T022…" at 320 px and at 200 % zoom
    (a metric's value never wraps). It is what a user quotes: shown whole, as wrapping text to copy."""
    from powerbalance import queries

    build_id = queries.build_info(real_db)["build_id"]
    at = open_page(app, "pages/data_page.py")
    assert not [m for m in at.metric if m.value == build_id or m.label == "Build"]
    (shown,) = [c for c in at.code if c.value == build_id]
    assert shown.proto.wrap_lines


def test_a_search_says_how_many_places_match_in_a_status_message(app, real_db):
    """Review item 9: after a search the only change was a new, empty "Matches" box: a screen reader
    user pressing Enter heard nothing. A status message (st.info, which Streamlit draws with
    role="status") says how many places match, the focus left in the search box. A search whose list
    is cut, or that matched nothing, already had its own message (a status, or an alert)."""
    from powerbalance import queries

    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    for text in ("Worthing", "Hebden Royd"):
        result = queries.search_places(text, 10, db=real_db)
        at.text_input(key="ma_search").set_value(text).run()
        listed = len(at.selectbox(key="ma_pick").options)
        assert listed == len(result.found) == result.total > 0 and not result.message
        count = f"{listed} places match" if listed > 1 else "1 place matches"
        said = [i.value for i in at.info if i.value.startswith(f"{count} “{text}”")]
        assert said and "Matches" in said[0], [i.value for i in at.info]


def test_my_area_offers_a_jump_to_the_brief_and_charts_bring_no_toolbar_into_the_tab_order(app):
    """Review item 8: the brief's download was Tab stop 181 on My area, most stops being plotly's mode
    bars (eight or nine buttons a chart). A link under the place's name jumps to the brief's heading,
    and no chart draws a mode bar (its data table holds every value the zoom and pan were for)."""
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    (brief,) = [h for h in at.subheader if h.value == "One-page brief"]
    assert brief.anchor and not brief.hide_anchor
    link = f"[Go to the one-page brief](#{brief.anchor})"
    main = list(at.main)
    first_chart = next(i for i, e in enumerate(main) if e.type == "plotly_chart")
    assert any(e.type == "markdown" and e.value == link for e in main[:first_chart])
    charts = at.get("plotly_chart")
    assert charts and all(json.loads(c.proto.config).get("displayModeBar") is False for c in charts)


#: Characters of 14 px text (about 7.3 px each) that fit a chart on a 320 px phone, 288 px wide, as
#: measured in Chromium: an x title centred under a plot beside a wide y axis (group names: about 180 px
#: left), a legend entry from the plot's left edge after its symbol, a map's colour-scale title across
#: the whole chart (about 260 px).
TITLE_CHARS, LEGEND_CHARS, MAP_TITLE_CHARS = 25, 25, 35


def _too_long(fig: dict) -> list[str]:
    """Lines of a figure's x axis titles, legend entries and colour-scale titles longer than fit a chart
    on a 320 px phone (plotly never wraps text, and cut such lines at both ends). A single word longer
    than that cannot be wrapped and is let be."""
    texts = [
        (ax["title"]["text"], TITLE_CHARS)
        for k, ax in fig["layout"].items()
        if k.startswith("xaxis") and isinstance(ax, dict) and (ax.get("title") or {}).get("text")
    ]
    for t in fig["data"]:
        if fig["layout"].get("showlegend", True) and t.get("showlegend", True) is not False and t.get("name"):
            texts.append((t["name"], LEGEND_CHARS))
        if (t.get("colorbar") or {}).get("title", {}).get("text"):
            texts.append((t["colorbar"]["title"]["text"], MAP_TITLE_CHARS))
    return [line for text, most in texts for line in text.split("<br>") if len(line) > most and " " in line]


def test_chart_titles_legends_and_scale_titles_fit_a_phone(app, real_db):
    """Review item 4: at 320 px the Funders scatter's x title read "er ratio (£ in community hands per £100 c",
    Compare's legend "Median of the 10 other councils (those with", My area's ward map scale "ity grant
    funding per head (£ per resident" and the quadrant chart's x title ran off the chart. They wrap."""
    from tests.helpers import figures

    for page, params in (
        ("pages/my_area_page.py", {"area": "E07000223"}),
        ("pages/compare_page.py", {"area": "E07000223"}),
        ("pages/overview_page.py", {}),
    ):
        figs = figures(open_page(app, page, params))
        assert figs
        for fig in figs:
            assert _too_long(fig) == [], (page, _too_long(fig))


def test_the_funders_scatter_fits_a_phone_and_names_whole_what_is_off_the_scale(real_db):
    """Review item 4: the Funders scatter's x title and its "Off the scale" note were cut at 320 px (the
    City of London's value could not be read). Both wrap; a name is never parted from its value."""
    from powerbalance import funders

    report = funders.spread_from_db("published", ["Walcot Foundation"], [2017], [], "district", "2017-18", db=real_db)
    fig, _ = funders.effort_scatter(report)
    plain = fig.to_plotly_json()
    assert _too_long(json.loads(json.dumps(plain, default=list))) == []
    note = fig.layout.annotations[0].text
    top = fig.layout.yaxis.range[1]
    off = report.by_area[report.by_area["amount_per_head"] > top].sort_values("amount_per_head", ascending=False)
    assert len(off) >= 4
    lines = note.split("<br>")
    assert all(len(line.rstrip("…")) <= 30 for line in lines), lines
    for name, value in zip(off["name"].head(4), off["amount_per_head"].head(4)):
        assert any(f"{name} {funders.per_resident(value)}" in line for line in lines), (name, lines)
