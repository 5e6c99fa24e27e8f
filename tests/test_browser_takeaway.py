"""What users take away, in headless Chromium against a real ``streamlit run``: the share line's
embed link renders the chart with no sidebar, the PDF brief downloads as one page, and this
build's open files are served over HTTP exactly as written."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlparse

import pytest

from bench import chromium_path
from tests.helpers import open_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="/usr/bin/chromium is not installed (run `make browser`)"),
]

CHART = ".js-plotly-plot"


@pytest.fixture(scope="module")
def requests_seen():
    return []


def _share_links(page) -> tuple[str, str, str]:
    """(link, embed link, iframe snippet) from the first chart's share line."""
    page.locator(CHART).first.wait_for(state="visible", timeout=60_000)
    share = page.locator('[data-testid="stExpander"]').filter(has_text="Share or embed this view").first
    share.locator("summary").click()
    links = share.locator("a")
    links.first.wait_for(state="visible", timeout=30_000)
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    snippet = share.locator("code").first.inner_text()
    return hrefs[0], hrefs[1], snippet


def test_embed_link_renders_the_chart_without_sidebar(browser, server, requests_seen):
    path = "/method?level=county&lens=council"
    ctx, page, _, _ = open_page(browser, server, requests_seen, path)
    try:
        link, embed, snippet = _share_links(page)
        q = parse_qs(urlparse(embed).query)
        assert q["embed"] == ["true"] and q["level"] == ["county"] and q["lens"] == ["council"]
        assert urlparse(embed).path == "/method" and urlparse(link).path == "/method" and "embed" not in link
        assert snippet.startswith("<iframe ") and "embed=true" in snippet and 'title="Power Balance: ' in snippet
    finally:
        ctx.close()
    rel = embed[embed.index("/method") :]
    ctx, page, w, errors = open_page(browser, server, requests_seen, rel)
    try:
        page.locator(CHART).first.wait_for(state="visible", timeout=60_000)
        assert (
            page.locator('[data-testid="stSidebar"]').count() == 0
            or not page.locator('[data-testid="stSidebar"]').is_visible()
        )
        assert not page.locator('[data-testid="stSidebarNav"]').count()
        # the embedded view keeps its parameters and offers no share line of its own
        assert page.get_by_role("radio", name="Counties").is_checked()
        assert not page.get_by_text("Share or embed this view").count()
        assert not w.exceptions and not errors
    finally:
        ctx.close()


def test_pdf_brief_downloads_as_one_page(browser, server, requests_seen):
    from pypdf import PdfReader

    ctx, page, _, _ = open_page(browser, server, requests_seen, "/my-area?area=E07000223")
    try:
        with page.expect_download(timeout=90_000) as dl:
            page.locator('[data-testid="stDownloadButton"]').filter(has_text="Download the brief (PDF)").click(
                timeout=90_000
            )
        reader = PdfReader(io.BytesIO(dl.value.path().read_bytes()))
        assert len(reader.pages) == 1 and "Power Balance brief: Adur" in reader.pages[0].extract_text()
        assert dl.value.suggested_filename.endswith(".pdf")
    finally:
        ctx.close()


def test_open_files_are_served_as_written(browser, server, built):
    _, static, result = built
    folder = static / "geo" / result.build_id / "exports"
    base = f"{server.url}/app/static/geo/{result.build_id}/exports"
    ctx = browser.new_context()
    try:
        cat = ctx.request.get(f"{base}/catalogue.json")
        assert cat.ok and json.loads(cat.body())["build_id"] == result.build_id
        for t in json.loads(cat.body())["tables"]:
            for f in t["files"].values():
                got = ctx.request.get(f"{base}/{f}")
                assert got.ok and got.body() == (folder / f).read_bytes(), f
    finally:
        ctx.close()
