"""Accessibility as tested, not hoped: axe-core (shipped by axe-playwright-python) runs on every
page of a real ``streamlit run`` in headless Chromium with the WCAG 2.0/2.1/2.2 A and AA rules,
once the page's charts and tables are drawn, and the test fails on any violation."""

from __future__ import annotations

import pytest

from bench import chromium_path
from tests.helpers import open_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="/usr/bin/chromium is not installed (run `make browser`)"),
]

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

#: axe-core rule tags for WCAG 2.2 levels A and AA (2.2 includes the 2.0 and 2.1 criteria).
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PAGES = [
    "",
    "my-area?area=E07000223",
    "compare",
    "map",
    "funders",
    "method",
    "data",
    "relationship?view=questions",
    "accessibility",
]
DRAWN = '.js-plotly-plot, [data-testid="stDataFrame"]'
#: Pages with neither a chart nor a table to wait for.
TEXT_ONLY = {"accessibility", "relationship?view=questions"}


@pytest.fixture(scope="module")
def requests_seen():
    return []


def axe_violations(page) -> tuple[int, str]:
    """(number of violated rules, axe's readable report) on the page as it is now."""
    results = axe_playwright.Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    return results.violations_count, results.generate_report()


#: True when no element is greyed out as stale (Streamlit fades the previous run's elements while a
#: rerun is in progress; axe would then measure the fade, not the page).
NOTHING_STALE_JS = "() => !document.querySelector('[data-stale=\"true\"]')"


def wait_settled(page, w, quiet_ms: int = 1500) -> None:
    """Until every run the browser asked for has finished and nothing was stale for ``quiet_ms``
    (charts that report their size rerun the page once after their first draw)."""
    for _ in range(120):
        page.wait_for_function(NOTHING_STALE_JS, timeout=60_000)
        before = len(w.runs_started)
        page.wait_for_timeout(quiet_ms)
        if len(w.runs_started) == before and len(w.runs_finished) >= before and page.evaluate(NOTHING_STALE_JS):
            return
    raise TimeoutError("the page kept rerunning")


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_wcag_22_aa_violation(browser, server, requests_seen, path):
    ctx, page, w, _ = open_page(browser, server, requests_seen, f"/{path}")
    try:
        if path not in TEXT_ONLY:
            page.locator(DRAWN).first.wait_for(state="visible", timeout=60_000)
        wait_settled(page, w)
        count, report = axe_violations(page)
        assert count == 0, report
    finally:
        ctx.close()


def test_accessibility_statement_lists_what_is_not_accessible(browser, server, requests_seen):
    ctx, page, _, _ = open_page(browser, server, requests_seen, "/accessibility")
    try:
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert "Accessibility statement" in text
        assert "map" in text.lower() and "data table" in text.lower()  # what is not accessible, and the alternative
        assert "WCAG 2.2" in text
    finally:
        ctx.close()


def test_overview_names_its_figures_buttons_and_headings_for_a_screen_reader(browser, server, requests_seen):
    """Review findings 1, 6, 7 and 12: figures named by whole descriptions (never cut mid-number),
    one h1 and no skipped level, no run of buttons named only "Help" or "CSV"."""
    ctx, page, w, _ = open_page(browser, server, requests_seen, "/")
    try:
        page.locator(DRAWN).first.wait_for(state="visible", timeout=60_000)
        wait_settled(page, w)
        main = page.locator('[data-testid="stMain"]')
        figures = [f.get_attribute("aria-label") for f in main.get_by_role("figure").all()]
        assert len(figures) >= 3 and all(figures)
        captions = main.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
        for name in figures:
            assert len(name) <= 300
            whole = any(c.strip().startswith(name) for c in captions)
            assert whole or name.endswith("Described in full in the text under the chart."), name
        levels = [int(h.evaluate("e => e.tagName")[1]) for h in main.locator("h1, h2, h3, h4, h5, h6").all()]
        assert levels.count(1) == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
        buttons = [b.get_attribute("aria-label") or b.inner_text().strip() for b in main.get_by_role("button").all()]
        assert "Help" not in buttons and "CSV" not in buttons
    finally:
        ctx.close()
