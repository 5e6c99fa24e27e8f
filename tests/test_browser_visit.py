"""Issue 17 in headless Chromium: the journeys of a real visit. Weights and the comparison group
survive the *sidebar* (which drops the query string), a ward is carried to Compare through its
council and is still there back on My area, and at phone width My area is seen in the order it is
read (its title and controls, then the place's headline), plotly's toolbar is hidden and maps do not
take taps."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from bench import chromium_path
from tests.helpers import assert_clean, open_page, wait_map

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="/usr/bin/chromium is not installed (run `make browser`)"),
]

CUSTOM = "funding:0.3,projects:0.7,participation:0"


@pytest.fixture(scope="module")
def requests_seen():
    return []


def params(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def sidebar(page, w, title: str) -> None:
    """Click a page in the sidebar navigation and wait for its run to finish."""
    m = w.mark()
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    w.wait_idle(page, m, timeout=240)
    page.locator("h1").filter(has_text=title).first.wait_for(timeout=60_000)


def test_weights_and_group_survive_the_sidebar(browser, server, requests_seen):
    ctx, page, w, errors = open_page(
        browser, server, requests_seen, f"/compare?area=E07000223&group=county&weights={CUSTOM}"
    )
    try:
        assert page.get_by_text("Custom weights").first.is_visible()
        sidebar(page, w, "Method & weights")
        assert params(page)["weights"] == CUSTOM
        sidebar(page, w, "Compare")
        got = params(page)
        assert (got["weights"], got["group"], got["area"]) == (CUSTOM, "county", "E07000223")
        assert page.get_by_text("Custom weights").first.is_visible()
        m = w.mark()
        page.get_by_role("button", name="Reset").first.click()
        w.wait_idle(page, m)
        assert "weights" not in params(page) and not page.get_by_text("Custom weights").count()
        assert_clean(w, errors)
    finally:
        ctx.close()


def test_a_ward_is_carried_to_compare_and_kept(browser, server, requests_seen):
    ctx, page, w, errors = open_page(browser, server, requests_seen, "/my-area?area=E05007562")  # Buckingham, Adur
    try:
        page.locator("h2").filter(has_text="Buckingham").first.wait_for(timeout=60_000)
        sidebar(page, w, "Compare")
        assert params(page)["area"] == "E07000223"
        assert page.get_by_role("combobox", name="Council").input_value().startswith("Adur")
        sidebar(page, w, "My area")
        assert params(page)["area"] == "E05007562"
        assert page.locator("h2").filter(has_text="Buckingham").first.is_visible()
        assert_clean(w, errors)
    finally:
        ctx.close()


def test_phone_my_area_is_seen_in_reading_order_and_maps_keep_taps_off(browser, server, requests_seen):
    """Review 5 item 5: the headline was moved above the title and controls by CSS ``order`` on a phone,
    so what was seen first was read and tabbed to last. Top to bottom now follows the page's order."""
    ctx, page, w, errors = open_page(browser, server, requests_seen, "/my-area?area=E07000223", viewport=(390, 844))
    try:
        wait_map(page)
        top = [
            page.locator(sel).first.bounding_box()["y"]
            for sel in (
                "h1",
                '[data-testid="stTextInput"]',
                '[data-testid="stRadio"]',
                "h2",
                '[data-testid="stMetric"]',
            )
        ]
        assert top == sorted(top), top  # h1, search, lens, the place's name, its figures
        canvas = page.locator(".js-plotly-plot canvas.maplibregl-canvas").first
        assert canvas.evaluate("e => getComputedStyle(e).pointerEvents") == "none"
        bars = page.locator(".js-plotly-plot .modebar-container")
        assert all(not bars.nth(i).is_visible() for i in range(bars.count()))
        assert_clean(w, errors)
    finally:
        ctx.close()
