"""The relationship self-assessment in headless Chromium against a real ``streamlit run``: people
respond with their codes (council and community), a used and a wrong code are refused, and the
results show the perception gap with no evidence text anywhere on the page."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest

from bench import StreamlitServer, chromium_path, served_app
from powerbalance import relationship as rel
from powerbalance import responses
from tests.helpers import open_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="/usr/bin/chromium is not installed (run `make browser`)"),
]

LOCAL = ("http://127.0.0.1", "ws://127.0.0.1")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("responses") / "responses.sqlite"


@pytest.fixture(scope="module")
def rel_server(real_db, built, browser, store):
    """The app with its own responses store (the server inherits the environment at start)."""
    _, static, _ = built
    saved = {k: os.environ.get(k) for k in ("POWERBALANCE_RESPONSES", "POWERBALANCE_CODE_DELAY")}
    os.environ.update(POWERBALANCE_RESPONSES=str(store), POWERBALANCE_CODE_DELAY="0.01")
    try:
        with served_app(real_db, static) as app, StreamlitServer(app, real_db) as s:
            yield s
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def act(page, w, action) -> None:
    m = w.mark()
    action()
    w.wait_idle(page, m, timeout=120)


def enter_code(page, w, code: str) -> None:
    box = page.get_by_label("Invitation code", exact=True)
    box.fill(code)
    act(page, w, lambda: box.press("Enter"))
    act(page, w, lambda: page.get_by_role("button", name="Check code").click())


def respond(browser, server, seen, code: str, score: str) -> None:
    ctx, page, w, errors = open_page(browser, server, seen, "/relationship")
    try:
        enter_code(page, w, code)
        radios = page.locator('[data-testid="stForm"] [data-testid="stRadio"]')  # not the page's view choice
        radios.nth(9).wait_for(state="visible", timeout=60_000)  # the form opened by the code
        assert radios.count() == 10
        for i in range(10):
            radios.nth(i).get_by_text(rel.option_label(score), exact=True).click()
        page.get_by_label("Evidence (optional, at most 1,000 characters)", exact=True).fill(
            "<script>window.PWNED=1</script> SECRET-EVIDENCE"
        )
        act(page, w, lambda: page.get_by_role("button", name="Send my response").click())
        page.get_by_text("Thank you: your response is stored.").wait_for(timeout=30_000)
        assert not w.exceptions and not errors, (w.exceptions, errors)
    finally:
        ctx.close()


def test_full_flow_in_the_browser(browser, rel_server, store):
    seen: list[str] = []
    _, codes = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=30), 3, 3, min_responses=3, publish=True, path=store
    )
    for code in codes["council"]:
        respond(browser, rel_server, seen, code, "5")
    for code in codes["community"]:
        respond(browser, rel_server, seen, code, "2")
    assert responses.rounds(path=store).iloc[0][["council_responses", "community_responses"]].tolist() == [3, 3]

    ctx, page, w, errors = open_page(browser, rel_server, seen, "/relationship")
    enter_code(page, w, codes["council"][0])
    page.get_by_text("This code has already been used").wait_for(timeout=30_000)
    enter_code(page, w, "not-a-code-at-all")
    page.get_by_text("This code is not recognised").wait_for(timeout=30_000)
    ctx.close()

    ctx, page, w, errors = open_page(browser, rel_server, seen, "/relationship?area=E07000223&view=results")
    page.get_by_text("Perception gap: council minus community").wait_for(timeout=30_000)
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=60_000)
    alt = page.get_by_text("Bar chart of Council level minus community level").first.inner_text()
    assert "Inclusive and respectful 3.0" in alt
    body = page.content()
    assert "SECRET-EVIDENCE" not in body and page.evaluate("() => window.PWNED") is None
    assert not w.exceptions and not errors, (w.exceptions, errors)
    ctx.close()
    assert all(u.startswith(LOCAL) for u in seen), [u for u in seen if not u.startswith(LOCAL)]


def test_briefs_with_a_relationship_line_still_print_on_one_a4_page(browser, real_db, tmp_path, monkeypatch):
    """The brief's relationship paragraph (both sides past the threshold) does not push any kind of
    brief onto a second page (the same areas as test_browser.py::test_briefs_print_on_one_a4_page)."""
    import re

    from powerbalance import brief, queries
    from tests.helpers import sql

    store = tmp_path / "responses.sqlite"
    monkeypatch.setenv("POWERBALANCE_RESPONSES", str(store))
    period = queries.index_periods(real_db)[-1]
    ward = sql(
        real_db, "SELECT code FROM areas WHERE level = 'ward' AND parent_code = 'E08000025' ORDER BY code LIMIT 1"
    )["code"].iloc[0]
    page = browser.new_page()
    try:
        for code in ("E07000223", "E08000025", "E09000033", "E06000047", "E10000016", ward, "E12000007"):
            _, codes = responses.create_round(
                code, code, date.today() + timedelta(days=9), 3, 3, min_responses=3, path=store
            )
            for side, score in (("council", 5), ("community", 1)):
                for c in codes[side]:
                    responses.submit(c, {i: score for i in rel.ITEMS}, "", rel.ITEMS, path=store)
            html = brief.render(queries.area_profile(code, period, db=real_db))
            assert "gap (council minus community, 1–5) mean +3.0 over 10 of 10 statements" in html  # bands 4–5, 1–2
            page.set_content(html)
            pdf = page.pdf(prefer_css_page_size=True, print_background=True)
            assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1, code
            # an empty newer round is named beside the round with results: the longest line
            responses.create_round(code, code, date.today() + timedelta(days=5), 3, 3, min_responses=3, path=store)
            html = brief.render(queries.area_profile(code, period, db=real_db))
            assert "too few on a side" in html and "mean +3.0" in html
            page.set_content(html)
            pdf = page.pdf(prefer_css_page_size=True, print_background=True)
            assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1, code
    finally:
        page.close()
