"""The Funders page's real upload in headless Chromium (Debian's /usr/bin/chromium through
Playwright) against ``streamlit run`` on a real build: the file goes through Streamlit's upload
endpoint (server.maxUploadSize applies), is analysed for that browser session only, and

- the page shows the file's figures and its located problems, downloadable as CSV;
- nothing of the file reaches the URL;
- a second browser session on the same server sees none of it;
- the database file's sha256 is unchanged;
- a file over the 20 MB limit is refused by Streamlit before it reaches the page;
- every request goes to this server.

Skipped with a reason when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bench.browser import Watcher, chromium_path
from powerbalance import funders
from tests import helpers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="/usr/bin/chromium is not installed (run `make browser`)"),
]

UPLOAD = Path(__file__).parent / "fixtures" / "funders" / "upload.csv"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seen():
    return []


def open_page(browser, server, seen, path: str):
    return helpers.open_page(browser, server, seen, path, viewport=(1366, 900))


def upload(page, w: Watcher, path: Path) -> None:
    m = w.mark()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    w.wait_idle(page, m, timeout=240)


def metric_value(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_upload_is_analysed_in_this_session_only(browser, server, seen, real_db):
    before = sha256(real_db)
    with UPLOAD.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    good = [r for r in rows if float(r["Amount Awarded"]) >= 0]

    ctx, page, w, errors = open_page(browser, server, seen, "/funders?data=upload")
    try:
        assert page.get_by_text("Upload a file in the 360Giving Data Standard").is_visible()
        upload(page, w, UPLOAD)
        assert not w.exceptions and not errors, (w.exceptions, errors)
        assert page.get_by_text(f"{len(rows)} rows read, {len(good)} grants loaded").first.is_visible()
        assert metric_value(page, "Grants") == f"{len(good)}"
        # the problems, located and downloadable
        # open the expander by its own summary (collapsed expanders' contents are inert); generous
        # timeouts because CI shares two cores
        expander = page.locator('[data-testid="stExpander"]').filter(has_text="Problems found in the file").first
        expander.locator("summary").first.click(timeout=120_000)
        with page.expect_download(timeout=120_000) as dl:
            expander.locator('[data-testid="stDownloadButton"]').filter(
                has_text="Every problem, one line each"
            ).first.click(timeout=120_000)
        assert dl.value.suggested_filename == "upload.csv-problems.csv"
        problems = list(csv.DictReader(io.StringIO(dl.value.path().read_text(encoding="utf-8-sig"))))
        assert [(p["severity"], p["check"], p["row"], p["column"]) for p in problems] == [
            ("error", "negative_amount", str(len(rows) + 1), "Amount Awarded")
        ]
        for secret in ("Virgin", "Walcot", "upload.csv", "Resilience"):
            assert secret not in page.url
        first_session_url = page.url

        # another browser session, same server, same link: nothing of the upload
        ctx2, page2, w2, errors2 = open_page(browser, server, seen, urlparse(first_session_url).path + "?data=upload")
        try:
            assert page2.get_by_text("Upload a file in the 360Giving Data Standard").is_visible()
            body = page2.locator("body").inner_text()
            assert "Virgin Money Foundation" not in body and "grants loaded" not in body
            assert page2.locator('[data-testid="stMetric"]').count() == 0
            assert not w2.exceptions and not errors2
        finally:
            ctx2.close()
        # the first session still has its file after the other session ran
        m = w.mark()
        page.get_by_text("Wards", exact=True).first.click()
        w.wait_idle(page, m, timeout=240)
        assert metric_value(page, "Grants") == f"{len(good)}"
    finally:
        ctx.close()
    assert sha256(real_db) == before


def test_file_over_the_limit_is_refused(browser, server, seen, tmp_path):
    big = tmp_path / "big.csv"
    data = UPLOAD.read_bytes()
    big.write_bytes(data + b"\n" * (20 * 1024 * 1024 + 1 - len(data)))
    ctx, page, w, errors = open_page(browser, server, seen, "/funders?data=upload")
    try:
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(big))
        page.get_by_text("File must be 20.0MB or smaller.").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        assert page.get_by_text("Upload a file in the 360Giving Data Standard").is_visible()
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert not w.exceptions and not errors
    finally:
        ctx.close()


def chips(page, label: str) -> list[str]:
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label).first
    return [b.get_attribute("aria-label")[len("Remove ") :] for b in box.locator('button[aria-label^="Remove "]').all()]


def test_enter_in_the_funder_box_picks_one_funder(browser, server, seen):
    """Issue 17 item 8: typing 'Lloyds' and pressing Enter chose every match (Lloyd's Register
    Foundation too); it must choose the one highlighted funder."""
    ctx, page, w, errors = open_page(browser, server, seen, "/funders?data=published&funder=Sport%20England")
    try:
        box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Funders").first
        box.locator("input").first.click()
        box.locator("input").first.fill("Lloyds")
        m = w.mark()
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        w.wait_idle(page, m, timeout=240)
        picked = chips(page, "Funders")
        assert len(picked) == 2 and picked[0].startswith("Sport England"), picked
        assert "Lloyds" in picked[1] and "Register" not in picked[1], picked
        assert not w.exceptions and not errors
    finally:
        ctx.close()


def test_effort_year_box_matches_the_heading_after_an_upload(browser, server, seen):
    """Issue 17 item 8: after an upload the 'Council effort in' box showed another year than the
    heading and the URL (the box re-mounted at its first option, 2013-14). Journey: the published
    grants (effort 2017-18, not the first year), then the upload."""
    ctx, page, w, errors = open_page(browser, server, seen, "/funders")
    try:
        first_year = funders.effort_periods()[0]
        m = w.mark()
        page.get_by_text(funders.DATASETS["upload"], exact=True).first.click()
        w.wait_idle(page, m, timeout=240)
        upload(page, w, UPLOAD)
        effort = page.url.split("effort=")[1].split("&")[0]
        assert effort != first_year
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Council effort in").first
        assert box.locator("input").first.input_value() == effort
        assert page.get_by_text(f"Funding beside council effort, {effort}").first.is_visible()
        m = w.mark()
        page.get_by_text("Wards", exact=True).first.click()  # the next run keeps the year shown
        w.wait_idle(page, m, timeout=240)
        assert f"effort={effort}" in page.url and box.locator("input").first.input_value() == effort
        assert not w.exceptions and not errors
    finally:
        ctx.close()


def test_chips_stay_in_sight_cold_spots_fit_and_downloads_name_the_selection(browser, server, seen, real_db):
    """Issue 17 item 8: chosen funder and year chips overflowed out of sight; the cold-spot table
    showed empty rows below its last; downloads were not named after the selection."""
    years = [2013, 2014, 2015, 2016, 2017, 2018]
    funders_chosen = ["Sport England", "The Big Lottery Fund", "The Henry Smith Charity"]
    report = funders.spread_from_db("published", funders_chosen, years, [], "district", None, db=real_db)
    n_cold = len(funders.cold_table(report))
    query = "funder=" + ",".join(f.replace(" ", "%20") for f in funders_chosen) + "&years=" + ",".join(map(str, years))
    ctx, page, w, errors = open_page(browser, server, seen, f"/funders?data=published&{query}&level=district")
    try:
        for label, n in (("Funders", 3), ("Award years", 6)):
            box = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label).first
            outer = box.bounding_box()
            tags = box.locator('button[aria-label^="Remove "]').all()
            assert len(tags) == n
            for tag in tags:
                b = tag.bounding_box()
                assert outer["x"] <= b["x"] and b["x"] + b["width"] <= outer["x"] + outer["width"] + 1, (label, b)
        frames = page.locator('[data-testid="stDataFrame"]').all()
        cold = [f for f in frames if f.is_visible()][-1]
        assert 0 < n_cold < 10
        assert cold.bounding_box()["height"] <= (n_cold + 1) * 36 + 12
        button = page.locator('[data-testid="stDownloadButton"]').filter(has_text="CSV").locator("visible=true").last
        with page.expect_download(timeout=120_000) as dl:
            button.click(timeout=120_000)
        assert dl.value.suggested_filename.startswith("Cold_spots_districts_Sport_England__The_Big_Lottery_Fund")
        assert "2013_2018" in dl.value.suggested_filename
        assert not w.exceptions and not errors
    finally:
        ctx.close()


def test_zz_every_request_stayed_on_this_server(seen):
    assert seen
    hosts = {urlparse(u).hostname for u in seen if urlparse(u).scheme not in ("blob", "data")}
    assert hosts <= LOCAL_HOSTS, sorted(hosts - LOCAL_HOSTS)
