"""Every page in headless Chromium (Debian's /usr/bin/chromium through Playwright) against a real
``streamlit run`` of the dashboard on a real build:

- each page loads without an exception (checked on the decoded websocket messages, since the
  hardened config hides exception text from the page) and without a browser error;
- maps draw (MapLibre canvas present, the boundary file fetched once, from this server);
- a click on a map area opens that area in My area;
- downloads work (a table's CSV, the one-page brief);
- the layout fits a 1366×768 screen and a phone (no horizontal scrolling);
- every network request of the whole module goes to 127.0.0.1 / localhost.

Skipped with a reason when /usr/bin/chromium is absent (``make browser`` installs it).
"""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from bench.app import StreamlitServer, served_app
from bench.browser import Watcher, chromium_path, click_map
from powerbalance.index import DOMAINS
from tests.helpers import assert_clean, open_page, wait_map

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="/usr/bin/chromium is not installed (run `make browser`)"),
]

PAGES = {
    "": "Overview",
    "my-area": "My area",
    "compare": "Compare",
    "map": "Map",
    "method": "Method & weights",
    "data": "Data",
}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def requests_seen():
    return []


def geo_requests(w: Watcher) -> list[str]:
    """Boundary files this document fetched over the network (Resource Timing)."""
    return [r["name"] for r in w.resources() if r["name"].endswith(".geojson")]


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_loads_cleanly(browser, server, requests_seen, path):
    # My area opens on a search prompt until a place is chosen (issue 17): open it on one
    query = "?area=E07000223" if path == "my-area" else ""
    ctx, page, w, errors = open_page(browser, server, requests_seen, f"/{path}{query}")
    try:
        assert_clean(w, errors)
        assert not page.get_by_text("Page not found").count()
        assert page.locator("h1").first.is_visible()
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert all(title in nav for title in PAGES.values())  # the router's pages, not a pages/ listing
        # every page shows at least one chart or data table once the browser has drawn it
        page.locator('.js-plotly-plot, [data-testid="stDataFrame"]').first.wait_for(state="visible", timeout=60_000)
    finally:
        ctx.close()


def test_map_draws_once_fetched_and_click_opens_my_area(browser, server, requests_seen, real_db):
    ctx, page, w, errors = open_page(browser, server, requests_seen, "/map?level=district")
    try:
        wait_map(page)
        assert_clean(w, errors)
        fetched = geo_requests(w)
        assert len(fetched) == 1 and fetched[0].endswith("/district.geojson")
        # change the year: a rerun redraws the map without fetching the boundaries again
        m = w.mark()
        page.locator("label").filter(has_text="Counties").first.click()
        w.wait_idle(page, m)
        wait_map(page)
        page.locator("label").filter(has_text="Districts").first.click()
        w.wait_idle(page, w.mark())
        wait_map(page)
        assert geo_requests(w).count(fetched[0]) == 1
        # click the middle of the map: it lands on a district, which opens in My area
        m = w.mark()
        click_map(page)
        w.wait_idle(page, m)
        page.wait_for_url("**/my-area?*", timeout=30_000)
        code = parse_qs(urlparse(page.url).query)["area"][0]
        con = duckdb.connect(str(real_db), read_only=True)
        name, level = con.execute("SELECT name, level FROM areas WHERE code = ?", [code]).fetchone()
        con.close()
        assert level == "district"
        assert page.locator("h2").filter(has_text=name).first.is_visible()
        assert_clean(w, errors)
    finally:
        ctx.close()


def test_ward_map_and_brief_download(browser, server, requests_seen):
    ctx, page, w, errors = open_page(browser, server, requests_seen, "/my-area?area=E07000223")
    try:
        wait_map(page)
        assert geo_requests(w) and all(u.endswith("/ward/E07000223.geojson") for u in geo_requests(w))  # Adur's own
        with page.expect_download() as dl:
            page.locator('[data-testid="stDownloadButton"]').filter(has_text="Download the brief (HTML)").click()
        html = dl.value.path().read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>") and "Power Balance brief: Adur" in html
        assert "<script" not in html.lower() and "http" not in html.split("<footer>")[0]
        assert_clean(w, errors)
    finally:
        ctx.close()


def test_chart_data_table_is_made_when_opened(browser, server, requests_seen):
    """A chart's data table and its downloads are sent only once its expander is opened (here from
    the keyboard; one quick rerun), and then hold the chart's values: Adur's three domain scores."""
    ctx, page, w, errors = open_page(browser, server, requests_seen, "/my-area?area=E07000223")
    try:
        box = page.locator('[data-testid="stExpander"]').filter(has_text="Data table: Adur domains").first
        assert box.locator('[data-testid="stDataFrame"]').count() == 0  # closed: nothing made
        m = w.mark()
        box.locator("summary").first.focus(timeout=90_000)
        page.keyboard.press("Enter")  # opened from the keyboard, as the Accessibility page says
        w.wait_idle(page, m, timeout=120)
        table = box.locator('[data-testid="stDataFrame"]').first
        table.wait_for(timeout=90_000)
        assert table.bounding_box()["height"] < 250  # three rows: as tall as they are, not a fixed 320 px
        with page.expect_download(timeout=90_000) as dl:
            box.locator('[data-testid="stDownloadButton"]').filter(has_text="CSV").first.click(timeout=90_000)
        rows = list(csv.DictReader(io.StringIO(dl.value.path().read_text(encoding="utf-8-sig"))))
        assert len(rows) == len(DOMAINS) and {"domain", "score"} <= set(rows[0])
        assert_clean(w, errors)
    finally:
        ctx.close()


def test_table_csv_download(browser, server, requests_seen, real_db):
    ctx, page, w, errors = open_page(browser, server, requests_seen, "/data")
    try:
        with page.expect_download(timeout=90_000) as dl:  # generous: CI shares two cores
            page.locator('[data-testid="stDownloadButton"]').filter(has_text="CSV").first.click(timeout=90_000)
        rows = list(csv.DictReader(io.StringIO(dl.value.path().read_text(encoding="utf-8-sig"))))
        con = duckdb.connect(str(real_db), read_only=True)
        n = con.execute("SELECT count(DISTINCT source_id) FROM sources").fetchone()[0]
        con.close()
        assert len(rows) == n and {"licence", "attribution"} <= set(rows[0])
        assert_clean(w, errors)
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["/", "/map?level=ward&indicator=grants_amount_per_head"])
def test_phone_width_has_no_horizontal_scroll(browser, server, requests_seen, path):
    ctx, page, w, errors = open_page(browser, server, requests_seen, path, viewport=(390, 844))
    try:
        wait_map(page)
        assert_clean(w, errors)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
    finally:
        ctx.close()


@pytest.mark.parametrize("path, title", [("/compare", "Compare"), ("/map", "Map")])
def test_deep_link_on_fresh_server_runs_router(browser, real_db, built, requests_seen, path, title):
    """A shared link to a page must show that page, with its router and nothing over it, even as
    the very first request to a freshly started server. Streamlit 1.67 treats a folder named
    ``pages/`` beside the main script as a version-1 multipage app until ``st.navigation`` has run
    once in the process: a deep link then got the right page under a "page not found" dialog
    (and, were a page file named like its url_path, that file alone, without the router).
    ``powerbalance.serve`` (how ``make run`` and these tests start the app) settles that before
    the server starts."""
    _, static, _ = built
    with served_app(real_db, static) as app, StreamlitServer(app, real_db) as fresh:
        ctx, page, w, errors = open_page(browser, fresh, requests_seen, path)
        try:
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Method & weights" in nav
            assert page.locator("h1").first.inner_text().strip() == title
            assert not page.get_by_text("Page not found").count()
            assert page.locator('[role="dialog"]').count() == 0
            assert_clean(w, errors)
        finally:
            ctx.close()


def test_briefs_print_on_one_a4_page(browser, real_db):
    """ "A one-page brief a councillor can print": for a council of every kind, a ward and a region,
    the brief prints from Chromium on exactly one A4 page (its own @page size and margins)."""
    import re

    from powerbalance import brief, queries

    period = queries.index_periods(real_db)[-1]
    ward = duckdb.connect(str(real_db), read_only=True)
    try:
        ward_code = ward.execute(
            "SELECT code FROM areas WHERE level = 'ward' AND parent_code = 'E08000025' ORDER BY code LIMIT 1"
        ).fetchone()[0]
    finally:
        ward.close()
    page = browser.new_page()
    try:
        for code in ("E07000223", "E08000025", "E09000033", "E06000047", "E10000016", ward_code, "E12000007"):
            page.set_content(brief.render(queries.area_profile(code, period, db=real_db)))
            pdf = page.pdf(prefer_css_page_size=True, print_background=True)
            pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
            assert pages == 1, (code, pages)
    finally:
        page.close()


def test_zz_no_request_left_this_machine(requests_seen):
    """Runs last in this module: every request any page made went to this server."""
    assert requests_seen, "no requests were recorded"
    hosts = {urlparse(u).hostname for u in requests_seen if urlparse(u).scheme not in ("blob", "data")}
    assert hosts <= LOCAL_HOSTS, sorted(hosts - LOCAL_HOSTS)
