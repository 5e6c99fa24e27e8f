"""Small helpers shared by test modules (fixtures live in conftest.py)."""
from __future__ import annotations

import duckdb


def open_page(browser, server, requests_seen: list, path: str, viewport=(1366, 768)):
    """A new browser context on ``server.url + path``, waited until the app's run has finished.
    Every request and websocket the page opens is appended to ``requests_seen`` (to check none
    leaves this machine). Returns (context, page, bench.Watcher, page errors)."""
    from bench import Watcher

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


def sql(db, text, params=()):
    """Run one query on a database file with a fresh read-only connection: the tests' independent
    view of what the ETL wrote, beside the package's own query functions."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(text, list(params)).df()
    finally:
        con.close()
