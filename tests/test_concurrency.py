"""Concurrent sessions: 25 sessions open at once against a real ``streamlit run`` of the dashboard
(127.0.0.1 only) on a real build, each visiting every page of the navigation.

Each session speaks Streamlit's own websocket protocol (the messages a browser tab exchanges,
without 25 browsers' rendering on a two-core machine — see bench/concurrency.py) and fetches
the boundary files its maps point at. Every page visit must finish without an exception, and
show that session's data: My area the session's own council (25 different councils, names read
from the database file directly, not through the app), Compare the same council carried over,
Data the build id of the database served. The same run is what ``make bench`` reports (p50/p95
page time and memory per session).

Real browsers, and the assertion that no request leaves 127.0.0.1/localhost, are in
tests/test_browser.py (``test_zz_no_request_left_this_machine``).
"""

from __future__ import annotations

import pytest

from bench import concurrency as load
from bench.app import StreamlitServer

pytestmark = [pytest.mark.slow]

SESSIONS = 25


@pytest.fixture(scope="module")
def served(real_db, built, tmp_path_factory):
    _, static, _ = built
    app = load.mirror_app(tmp_path_factory.mktemp("load-app"))
    load.install_build(real_db, static, app)
    with StreamlitServer(app, real_db) as server:
        yield server


def test_25_sessions_at_once_every_page_right_data(served, real_db):
    truth = load.Truth.read(real_db, SESSIONS)
    assert len(set(truth.councils)) == SESSIONS
    result = load.run(served, truth, SESSIONS)
    load.print_result(result)
    pages = [url for _, url in load.navigation()]
    assert len(result.visits) == SESSIONS * len(pages)
    assert {(v.session, v.page) for v in result.visits} == {(s, p) for s in range(SESSIONS) for p in pages}
    assert result.failures() == []
    # the sessions really asked for different data: 25 councils' names appeared on My area
    shown = {h for v in result.visits if v.page == "my-area" for h in v.headings}
    assert {truth.names[c] for c in truth.councils} <= shown
    # memory was measured, and 25 sessions did not each cost a copy of the database
    assert result.baseline_mb > 0 and result.peak_mb >= result.baseline_mb
    assert result.per_session_mb < 100
    assert "Traceback" not in served.output()


def test_a_session_keeps_big_elements_as_a_browser_does(served, real_db):
    """On a rerun the server names the big elements the session already holds (Streamlit's message
    cache, which browsers use), and the session still sees the whole page: same headings, metrics
    and maps as on its first run."""
    import asyncio

    council = load.Truth.read(real_db, 1).councils[0]

    async def twice():
        async with load.Session(served.url, 0) as s:
            first = await s.visit("my-area", f"area={council}")
            again = await s.visit("my-area", first.url_query)
            return s, first, again

    s, first, again = asyncio.run(twice())
    assert first.ok and again.ok, (first.exceptions, again.exceptions)
    assert s.references > 0 and s.kept
    assert (again.headings, again.metrics, again.geo_urls) == (first.headings, first.metrics, first.geo_urls)


def test_a_session_opens_the_default_page_as_a_browser_does(served):
    """The Overview is the app's root address: a session asks for it as a browser does (page name
    ""), and a page Streamlit does not know is a problem of the visit, not a quiet fall-back."""
    import asyncio

    async def visits():
        async with load.Session(served.url, 0) as s:
            return await s.visit("overview"), await s.visit("no-such-page")

    overview, missing = asyncio.run(visits())
    assert load.browser_page_name("overview") == "" and load.browser_page_name("my-area") == "my-area"
    assert overview.ok and overview.headings, overview.problems
    assert not missing.ok and any("page not found" in p for p in missing.problems)


def test_the_data_check_catches_another_sessions_data(real_db):
    """The checker itself: a My area showing another council, or a Data page showing another
    build, is reported."""
    truth = load.Truth.read(real_db, SESSIONS)
    mine, other = truth.councils[0], truth.councils[1]
    v = load.Visit(
        0,
        "my-area",
        f"area={mine}",
        0.0,
        1.0,
        "FINISHED_SUCCESSFULLY",
        headings=["My area", truth.names[other]],
        url_query=f"area={other}",
    )
    load.check(v, truth, mine)
    assert not v.ok and len(v.problems) == 2
    d = load.Visit(
        0,
        "data",
        "",
        0.0,
        1.0,
        "FINISHED_SUCCESSFULLY",
        headings=["Data"],
        metrics={"Build": "20000101T000000Z-000000"},
    )
    load.check(d, truth, mine)
    assert not d.ok
    good = load.Visit(
        0, "data", "", 0.0, 1.0, "FINISHED_SUCCESSFULLY", headings=["Data"], metrics={"Build": truth.build_id}
    )
    load.check(good, truth, mine)
    assert good.ok
