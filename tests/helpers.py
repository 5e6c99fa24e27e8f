"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

#: Seconds an AppTest run may take (the first run of a page loads the whole build).
TIMEOUT = 180
ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "index"
#: The columns of a small 360Giving grants file, as the upload tests write one.
GRANT_COLUMNS = [
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Awarded",
    "Award Date",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Funding Org:Identifier",
    "Funding Org:Name",
]
#: A 360Giving file's columns as GrantNav writes them, with a recipient location and a beneficiary code.
GRANTNAV_HEADER = [
    *GRANT_COLUMNS[:8],  # identifier … recipient name
    "Recipient Org:Postal Code",
    "Recipient Org:Location:0:Geographic Code Type",
    "Recipient Org:Location:0:Geographic Code",
    "Beneficiary Location:0:Geographic Code",
    *GRANT_COLUMNS[8:],  # the funder
    "Best Available Recipient Ward Geographic Code (additional data)",
]


def workbook(sheets: dict[str, list[list]]) -> bytes:
    """An .xlsx file of these sheets (name -> rows, the first row the headings)."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def open_page(browser, server, requests_seen: list, path: str, viewport=(1366, 768)):
    """A new browser context on ``server.url + path``, waited until the app's run has finished.
    Every request and websocket the page opens is appended to ``requests_seen`` (to check none
    leaves this machine). Returns (context, page, bench.Watcher, page errors)."""
    from bench.browser import Watcher

    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests_seen.append(r.url))
    page.on("websocket", lambda ws: requests_seen.append(ws.url))
    w = Watcher(page)
    m = w.mark()
    page.goto(server.url + path)
    w.wait_idle(page, m, timeout=240)
    return ctx, page, w, errors


def open_app_page(app, page: str, params: dict | None = None, timeout: float = TIMEOUT) -> AppTest:  # noqa: F821 - imported when called
    """A fresh session on ``page`` with exactly ``params`` in the URL."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=timeout)
    at.run()
    at.switch_page(page)
    at.query_params.clear()
    at.query_params.update(params or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_data_tables(at) -> int:
    """Open every chart's data-table expander, as a visitor clicking each would, and rerun: the
    tables and their downloads are made only when opened (``ui.chart``). Returns how many opened."""
    from powerbalance.ui import TABLE_BOX

    keys = [k for k in at.session_state.keys() if isinstance(k, str) and k.endswith(TABLE_BOX)]
    for k in keys:
        at.session_state[k] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return len(keys)


def figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def sql(db, text, params=()):
    """Run one query on a database file with a fresh read-only connection: the tests' independent
    view of what the ETL wrote, beside the package's own query functions."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(text, list(params)).df()
    finally:
        con.close()


# District squares on the British National Grid (side in km), for area_km2 and density.
SQUARES_KM = {"E07000001": 10.0, "E07000002": 5.0, "E06000001": 20.0, "E06000002": 2.0}


def square_wkb(x0: float, y0: float, side_km: float) -> bytes:
    """A square drawn on EPSG:27700, densified and stored as WGS84 WKB like the boundaries table."""
    import shapely
    from pyproj import Transformer

    s = side_km * 1000
    sq = shapely.segmentize(shapely.box(x0, y0, x0 + s, y0 + s), 100.0)
    tr = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    wgs = shapely.transform(sq, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return shapely.to_wkb(wgs)


def build_fixture_db(path: Path, local_rows: list[tuple] | None = None) -> Path:
    """Schema + fixture tables (+ optional local_values rows) + derive(), as a build would do it."""
    from etl.core import BuildContext, insert_rows
    from etl.indicators import context, derive, write_definitions
    from etl.sources.local_data import TABLE_COLUMNS

    con = duckdb.connect(str(path))
    con.execute((ROOT / "etl" / "schema.sql").read_text())
    areas = pd.read_csv(FIX / "areas.csv", dtype=str)
    insert_rows(con, "areas", areas)
    for table in ("finance", "grants_agg", "parishes", "parish_wards", "participation"):
        df = pd.read_csv(FIX / f"{table}.csv", dtype={"district_code": str, "ward_code": str, "period": str})
        if table == "grants_agg":
            df["row"] = range(1, len(df) + 1)
        insert_rows(con, table, df)
    ctxv = pd.read_csv(FIX / "context_values.csv", dtype={"period": str})
    insert_rows(con, "indicator_values", ctxv)
    write_definitions(con, [i for i in context.INDICATORS if i.id in ("population", "imd_score")])
    rows = [
        (code, "district", "fixture", square_wkb(400000 + i * 30000, 300000, side))
        for i, (code, side) in enumerate(SQUARES_KM.items())
    ]
    insert_rows(con, "boundaries", rows, ["code", "level", "vintage", "geom_wkb"])
    if local_rows:
        insert_rows(
            con,
            "local_values",
            local_rows,
            TABLE_COLUMNS,
        )
    ctx = BuildContext(con, FIX, "fixture")
    derive(ctx)
    con.execute("CHECKPOINT")
    con.close()
    return path


def indicator_digest(db) -> tuple[str, str]:
    """sha256 of ``indicator_values`` (sorted rows, numbers to 6 significant digits: a build's
    parallel sums may differ in the last bits) and of the ``indicators`` definitions."""
    import hashlib

    def text(v):
        return f"{v:.6g}" if isinstance(v, float) else repr(v)

    con = duckdb.connect(str(db), read_only=True)
    try:
        values = con.execute("SELECT * FROM indicator_values ORDER BY ALL").fetchall()
        defs = con.execute(
            "SELECT indicator_id, name, domain, unit, polarity, scored, description, source_ids, "
            "levels, is_local FROM indicators ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    return tuple(
        hashlib.sha256("\n".join("|".join(text(v) for v in r) for r in rows).encode()).hexdigest()
        for rows in (values, defs)
    )


# ---- browser pages -----------------------------------------------------------------------------


def assert_clean(w, errors: list[str]) -> None:
    assert not w.exceptions, w.exceptions
    assert not errors, errors
    assert w.pages_not_found == 0, "the server sent a 'page not found' dialog"


def wait_map(page) -> None:
    """The first map is drawn: its MapLibre canvas is visible and its areas are indexed."""
    page.locator(".js-plotly-plot canvas.maplibregl-canvas").first.wait_for(state="visible", timeout=60_000)
    from bench.browser import MAP_READY_JS

    page.wait_for_function(MAP_READY_JS, timeout=60_000)


def brief_profile(**kw):
    """An AreaProfile for Adur with made-up build details, for brief and PDF tests; ``kw`` overrides."""
    from powerbalance import queries

    base = dict(
        code="E07000223",
        name="Adur",
        level="district",
        type="shire_district",
        parent_names={"county": "West Sussex", "region": "South East"},
        council_code="E07000223",
        council_name="Adur",
        council_level="district",
        period="2017-18",
        lens="place",
        weights={"funding": 0.5, "projects": 0.5, "participation": 0.0},
        group_label="shire districts",
        build_id="b1",
        built_at="2026-01-01 00:00:00",
        attributions=["Source: ONS"],
    )
    base.update(kw)
    return queries.AreaProfile(**base)
