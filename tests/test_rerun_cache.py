"""A warm rerun does no pandas work for what a page derives from its queries: the Overview's
headline, map, tier distribution, quadrants, coverage counts and biggest shifts are cached per build
and query (ui.q_then), so a rerun of the same view calls none of them again, and another view does;
and every figure it draws is frozen (encoded once, not deep-copied by plotly on every run)."""

from __future__ import annotations

import functools

import plotly.graph_objects as go
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench import served_app
from powerbalance import charts, quadrants, queries, ui

DERIVED = [
    (queries, "overview_headline"),
    (queries, "biggest_shifts"),
    (queries, "shift_span"),  # the shift's years and how many areas have both
    (queries, "index_coverage"),  # the map's and the tiers' "based on N of M"
    (charts, "choropleth_map"),
    (charts, "distribution_by_group"),
    (charts, "quadrant_chart"),
    (quadrants, "coverage"),
    (quadrants, "headline"),  # the quadrant counts in the page's intro
    (queries, "latest_lines"),  # England's latest year in sentences
]


@pytest.fixture(scope="module")
def app(real_db, built):
    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


def _count_calls(monkeypatch, functions: list[tuple]) -> dict[str, int]:
    """Calls of each (module, name) from now on, by name, counted in the returned dict."""
    counts: dict[str, int] = {}
    for module, name in functions:
        original = getattr(module, name)

        @functools.wraps(original)
        def counted(*a, _name=name, _original=original, **k):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(*a, **k)

        monkeypatch.setattr(module, name, counted)
    return counts


@pytest.fixture()
def calls(monkeypatch):
    counts = _count_calls(monkeypatch, DERIVED)
    st.cache_data.clear()
    ui.forget_all()
    return counts


def _open(app, page_file: str) -> AppTest:
    """A session that has opened ``page_file`` once, as a visitor arriving from the home page."""
    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=300)
    at.run()
    at.switch_page(page_file)
    at.run()
    assert not at.exception
    return at


def test_overview_rerun_derives_nothing_again(app, real_db, calls):
    at = _open(app, "pages/overview_page.py")
    first = dict(calls)
    assert {name for _, name in DERIVED} <= set(first)
    encoded = []  # plotly's own to_dict: a deep copy of every trace, for a figure that is not frozen
    original = go.Figure.to_dict
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(go.Figure, "to_dict", lambda self: encoded.append(type(self).__name__) or original(self))
        at.run()  # the same view again
    assert not at.exception
    assert calls == first
    assert encoded == []
    at.query_params["lens"] = "council"  # another view: derived again, once
    at.run()
    assert not at.exception
    assert calls["distribution_by_group"] == first["distribution_by_group"] + 1
    assert calls["biggest_shifts"] == first["biggest_shifts"] + 1


def test_method_rerun_summarises_nothing_again(app, real_db, monkeypatch):
    """The Method page's two summaries in words (how far the chosen weights move ranks, and how
    ranks move between the lenses) are made once per build and view, not on every rerun."""
    from powerbalance import lenses

    counts = _count_calls(monkeypatch, [(queries, "rank_moves_summary"), (lenses, "moves_summary")])
    ui.forget_all()
    at = _open(app, "pages/method_page.py")
    first = dict(counts)
    assert first == {"rank_moves_summary": 1, "moves_summary": 1}
    summary = [m.value for m in at.markdown if m.value.startswith("**Between the ")]
    at.run()  # the same view again
    assert not at.exception and counts == first
    assert [m.value for m in at.markdown if m.value.startswith("**Between the ")] == summary
    at.query_params["level"] = "county"  # another view: summarised again, once each
    at.run()
    assert not at.exception
    assert counts == {"rank_moves_summary": 2, "moves_summary": 2}


def test_a_rerun_checks_no_area_code_it_published_itself(app, real_db, monkeypatch):
    """A link's area code is checked against current and former areas once; the code a page put
    in the address itself is current, so a rerun does not look it up again (a query a run)."""
    counts = _count_calls(monkeypatch, [(ui, "_current_area")])
    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=300)
    at.switch_page("pages/my_area_page.py")
    at.query_params["area"] = "E07000229"  # arrives by a link
    at.run()
    assert not at.exception and counts == {"_current_area": 1}
    at.run()  # the same view again
    at.run()
    assert not at.exception and counts == {"_current_area": 1}
    at.query_params["area"] = "E07000004"  # another link, to a former council: checked, and replaced
    at.run()
    assert not at.exception and counts == {"_current_area": 2}
    assert at.query_params["area"] == "E06000060"
