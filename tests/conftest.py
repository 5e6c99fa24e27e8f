"""Shared fixtures. The real database is built ONCE per test session from the raw directory
(../shared/data or $POWERBALANCE_RAW_DIR) into a temporary folder; tests never touch data/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from powerbalance import config

FIXTURES = Path(__file__).parent / "fixtures"


def _raw_dir() -> Path | None:
    p = config.raw_dir().resolve()  # absolute: tests symlink its folders into temporary raw dirs
    return p if (p / "geography" / "uk_local_authorities_future.csv").exists() else None


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    p = _raw_dir()
    if p is None:
        pytest.skip("real raw data not available (set POWERBALANCE_RAW_DIR or provide ../shared/data)")
    return p


@pytest.fixture(scope="session")
def built(raw_dir, tmp_path_factory):
    """(db_path, static_dir, BuildResult) of one full build on the real data."""
    from etl.build import build

    out = tmp_path_factory.mktemp("realdb")
    db = out / "pb.duckdb"
    static = out / "static"
    result = build(raw_dir, db, static_dir=static, log=lambda *a: None)
    return db, static, result


@pytest.fixture(scope="session")
def real_db(built, tmp_path_factory) -> Path:
    db, static, _ = built
    os.environ["POWERBALANCE_DB"] = str(db)
    os.environ["POWERBALANCE_STATIC"] = str(static)
    return db


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (
            "real_db" in getattr(item, "fixturenames", ())
            or "built" in getattr(item, "fixturenames", ())
            or "raw_dir" in getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.realdata)


# ---- browser tests (Debian's chromium through Playwright) ------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module, launched with no network side channels."""
    from playwright.sync_api import sync_playwright

    from bench.browser import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(real_db, built, browser):
    """A real `streamlit run` of the app on a free 127.0.0.1 port, serving the session's build.

    Its root is opened once first so the tests time pages, not the process's first imports
    (a cold deep link has its own test: tests/test_browser.py::test_deep_link_on_fresh_server_runs_router)."""
    from bench.app import StreamlitServer, served_app
    from bench.browser import Watcher

    _, static, _ = built
    with served_app(real_db, static) as app, StreamlitServer(app, real_db) as s:
        page = browser.new_page()
        w = Watcher(page)
        m = w.mark()
        page.goto(s.url + "/")
        w.wait_idle(page, m, timeout=240)
        page.close()
        yield s


# ---- AppTest pages (Streamlit's testing API on the real build) -------------------------------------


@pytest.fixture(scope="module")
def app(real_db, built):
    """A folder serving the dashboard (pages, assets) for AppTest on the session's build."""
    from bench.app import served_app

    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


@pytest.fixture(scope="module")
def period(real_db):
    """The latest index year of the real build."""
    from powerbalance import queries

    return queries.index_periods(real_db)[-1]


@pytest.fixture(scope="module")
def finance_built(raw_dir, tmp_path_factory):
    """(read-only connection, revenue_outturn report) of a build of geography and finance only."""
    import duckdb

    from etl.build import build
    from etl.sources.geography import Geography
    from etl.sources.revenue_outturn import RevenueOutturn

    out = tmp_path_factory.mktemp("finance_build")
    result = build(
        raw_dir,
        out / "pb.duckdb",
        out / "static",
        sources=[Geography(), RevenueOutturn()],
        derive=False,
        log=lambda *_: None,
    )
    con = duckdb.connect(str(result.db_path), read_only=True)
    yield con, result.reports["revenue_outturn"]
    con.close()
