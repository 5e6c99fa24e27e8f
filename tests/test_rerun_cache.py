"""A warm rerun does no pandas work for what a page derives from its queries: the Overview's
headline, tier distribution, tier coverage count and biggest shifts are cached per build and query
(ui.q_then), so a rerun of the same view calls none of them again, and another view does."""

from __future__ import annotations

import functools

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench import served_app
from powerbalance import charts, quadrants, queries, ui

# (the map's coverage count is still made on each run: a count of one column, no sorting or grouping)
DERIVED = [
    (queries, "overview_headline"),
    (queries, "biggest_shifts"),
    (charts, "distribution_by_group"),
    (quadrants, "headline"),  # the quadrant counts in the page's intro
    (queries, "latest_lines"),  # England's latest year in sentences
]


@pytest.fixture(scope="module")
def app(real_db, built):
    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


@pytest.fixture()
def calls(monkeypatch):
    counts: dict[str, int] = {}
    for module, name in DERIVED:
        original = getattr(module, name)

        @functools.wraps(original)
        def counted(*a, _name=name, _original=original, **k):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(*a, **k)

        monkeypatch.setattr(module, name, counted)
    st.cache_data.clear()
    ui.forget_all()
    return counts


def test_overview_rerun_derives_nothing_again(app, real_db, calls):
    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/overview_page.py")
    at.run()
    assert not at.exception
    first = dict(calls)
    assert {"overview_headline", "biggest_shifts", "distribution_by_group", "headline", "latest_lines"} <= set(first)
    at.run()  # the same view again
    assert not at.exception
    assert calls == first
    at.query_params["lens"] = "council"  # another view: derived again, once
    at.run()
    assert not at.exception
    assert calls["distribution_by_group"] == first["distribution_by_group"] + 1
    assert calls["biggest_shifts"] == first["biggest_shifts"] + 1
