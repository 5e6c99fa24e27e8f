"""``make bench`` / ``python -m bench``: per page, on the real database —

- **server time** of a **first** render (empty caches) and a **repeat** render (caches warm): the
  page script's run time, measured in-process with Streamlit's AppTest (no browser, no network),
  and beside it the same two renders as a real browser sees them on ``streamlit run`` (a fresh
  server per page; the repeat is Streamlit's rerun shortcut in the same session);
- **bytes sent to the browser** per interaction: websocket payload bytes (decoded protobuf
  frames, uncompressed) plus any HTTP response bodies the interaction fetched (boundary files);
- **peak memory** of the server process (VmHWM from /proc) after the page's interactions.

How: ``streamlit run`` on a free 127.0.0.1 port, driven by headless Chromium through Playwright
(:class:`bench.Watcher` times each run from the browser's ``rerun_script`` message to the
server's ``script_finished`` message — server time plus a loopback hop, with the browser drawing
on the same two cores, so it is an upper bound of the server's time). Pages are shown in
their heaviest view: ward level where the page has one (Map at ward level; My area for a
district with its ward map and table; Funders at ward level); the index pages (Overview, Compare, Method) have no
ward view because the index is not computed for wards, so they run at district level.

Budgets (issue 4): repeat render under 0.5 s (checked on the server time); a map interaction under
2.5 MB (websocket + HTTP bytes of one click on a map).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from powerbalance import config

from .app import StreamlitServer, served_app
from .browser import CHROMIUM_ARGS, MAP_READY_JS, Watcher, chromium_path, click_map

REPEAT_BUDGET_S = 0.5
MAP_BYTES_BUDGET = 2.5e6

#: (page url path, query string, interaction kind, has a map, description)
PAGES = [
    ("", "level=district", "map_click", True, "Overview (root URL), district index map; click a district"),
    (
        "my-area",
        "area=E07000223",
        "select:Ward indicator",
        True,
        "My area for Adur with its ward map; interaction: change the ward indicator",
    ),
    (
        "compare",
        "area=E07000223&group=neighbours",
        "radio:Same county",
        False,
        "Compare with statistical neighbours; interaction: switch to same county",
    ),
    (
        "map",
        "level=ward&indicator=grants_amount_per_head",
        "map_click",
        True,
        "Map at ward level; interaction: click a ward",
    ),
    (
        "funders",
        "level=ward",
        "radio:Number of grants",
        True,
        "Funders at ward level (the default funder, all years); interaction: map the number of grants",
    ),
    ("method", "level=district", "slider", False, "Method & weights; interaction: move the funding weight slider"),
    ("data", "", "radio:warning", False, "Data; interaction: show another kind of load issue"),
]


def _interact(page, kind: str) -> None:
    """Perform one user interaction of the given kind."""
    if kind == "map_click":
        click_map(page)
    elif kind.startswith("select:"):
        label = kind.split(":", 1)[1]
        box = page.get_by_label(label, exact=False).first
        box.click()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
    elif kind.startswith("radio:"):
        page.locator("label").filter(has_text=kind.split(":", 1)[1]).first.click()
    elif kind == "slider":
        handle = page.get_by_role("slider").first
        handle.focus()
        page.keyboard.press("ArrowLeft")
    else:
        raise ValueError(kind)


def bench_page(app: Path, db: Path, url_path: str, query: str, kind: str, has_map: bool, browser) -> dict:
    out: dict = {"page": url_path or "overview", "view": query}
    with StreamlitServer(app, db) as server:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        w = Watcher(page)
        try:
            mark = w.mark()
            page.goto(f"{server.url}/{url_path}" + (f"?{query}" if query else ""))
            first = w.wait_idle(page, mark, timeout=180)
            if has_map:
                page.wait_for_function(MAP_READY_JS, timeout=120_000)  # boundaries fetched and drawn
            geo_bytes = sum(r["transfer"] for r in w.resources() if r["name"].endswith(".geojson"))
            mark = w.mark()
            page.keyboard.press("r")  # Streamlit's rerun shortcut: the same view again, caches warm
            repeat = w.wait_idle(page, mark)
            mark = w.mark()
            _interact(page, kind)
            inter = w.wait_idle(page, mark)
            out.update(
                first_s=first["seconds"],
                repeat_s=repeat["seconds"],
                first_ws_bytes=first["ws_bytes"],
                boundary_bytes=geo_bytes,
                repeat_ws_bytes=repeat["ws_bytes"],
                interaction=kind,
                interaction_s=inter["seconds"],
                interaction_bytes=inter["ws_bytes"] + inter["http_bytes"],
                interaction_url=page.url.split("127.0.0.1", 1)[-1],
                exceptions=list(w.exceptions),
                peak_mb=server.peak_rss_mb(),
                router="Overview" in w.page_names,
            )
        finally:
            page.close()
    return out


def _clear_caches() -> None:
    """Empty every data cache of this process, so the next render computes everything again:
    Streamlit's st.cache_data, the pages' kept answers, figures and tables (``ui.forget_all``) and
    the per-build caches of powerbalance.index, queries and benchmarks."""
    import streamlit as st

    from powerbalance import benchmarks, index, queries, ui

    st.cache_data.clear()
    ui.forget_all()
    for module in (index, queries, benchmarks):
        for obj in vars(module).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()


def script_times(app: Path, url_path: str, query: str) -> tuple[float, float]:
    """Server time of one page's script, measured in-process with Streamlit's AppTest: the time
    its page script takes to run (queries, figures, serialisation of every element), first with
    empty caches, then again with the caches the first run filled. No browser, no network."""
    from urllib.parse import parse_qsl

    from streamlit.navigation import page as st_page
    from streamlit.testing.v1 import AppTest

    runs: list[float] = []
    original = st_page.StreamlitPage.run

    def timed(self):
        t0 = time.perf_counter()
        try:
            return original(self)
        finally:
            if "pages" in Path(str(getattr(self, "_page", ""))).parts:  # the page itself, not the router
                runs.append(time.perf_counter() - t0)

    st_page.StreamlitPage.run = timed
    try:
        at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=600)
        at.run()
        file = {"": "overview", "my-area": "my_area"}.get(url_path, url_path)
        at.switch_page(f"pages/{file}_page.py")
        at.query_params.clear()
        at.query_params.update(dict(parse_qsl(query)))
        _clear_caches()
        runs.clear()
        at.run()
        first = runs[-1]
        at.run()
        return first, runs[-1]
    finally:
        st_page.StreamlitPage.run = original


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=config.db_path())
    ap.add_argument(
        "--static", type=Path, default=config.static_dir(), help="the --static folder the database was built with"
    )
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--pages", nargs="*", help="url paths to run (default: all)")
    ap.add_argument(
        "--no-concurrency",
        action="store_true",
        help="skip the 25-session concurrency run (bench/concurrency.py; also skipped when --pages is given)",
    )
    ap.add_argument(
        "--no-compute",
        action="store_true",
        help="skip the data-work timings (bench/compute.py: "
        "a full ETL build, the index, a council's page data; also skipped when --pages is given)",
    )
    ap.add_argument(
        "--no-ratios",
        action="store_true",
        help="skip issue 13's ratios to a bare page and the raw "
        "read, with 1 and 2 workers behind nginx (bench/ratios.py; also skipped when --pages is given)",
    )
    args = ap.parse_args(argv)
    if not args.db.exists():
        print(f"no database at {args.db}: run `make db` first", file=sys.stderr)
        return 2
    if chromium_path() is None:
        print("bench needs /usr/bin/chromium (make browser)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    results = []
    import os

    os.environ["POWERBALANCE_DB"] = str(args.db)  # for the in-process AppTest timings
    with served_app(args.db, args.static) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for url_path, query, kind, has_map, _ in PAGES:
                if args.pages and (url_path or "overview") not in args.pages:
                    continue
                print(f"… {url_path}?{query}", file=sys.stderr, flush=True)
                try:
                    results.append(bench_page(app, args.db, url_path, query, kind, has_map, browser))
                    results[-1]["script_first_s"], results[-1]["script_repeat_s"] = script_times(app, url_path, query)
                except Exception as exc:  # one page failing must not hide the others' numbers
                    results.append(
                        {"page": url_path or "overview", "view": query, "error": f"{type(exc).__name__}: {exc}"}
                    )
        finally:
            browser.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)
    bad = [
        r
        for r in results
        if "error" in r
        or r["script_repeat_s"] >= REPEAT_BUDGET_S
        or r["exceptions"]
        or not r["router"]
        or (r["interaction"] == "map_click" and r["interaction_bytes"] >= MAP_BYTES_BUDGET)
    ]
    rc = 1 if bad else 0
    # --- data work: ETL build, index, a council's page data — bench/compute.py ----------------------
    if not args.no_compute and not args.pages:
        from . import compute

        rc = max(rc, compute.main(["--db", str(args.db)] + (["--json"] if args.json else [])))
        # exports of a 20 MB funder upload (issue 14) — bench/funders_upload.py
        from . import funders_upload

        rc = max(rc, funders_upload.main(["--db", str(args.db)] + (["--json"] if args.json else [])))
    # --- concurrent sessions (issue 7) — bench/concurrency.py: 25 sessions at once, every page, ----
    # --- p50/p95 page time and memory per session. In --json mode it prints its own JSON document. --
    if not args.no_concurrency and not args.pages:
        from . import concurrency

        rc = max(
            rc,
            concurrency.main(["--db", str(args.db), "--static", str(args.static)] + (["--json"] if args.json else [])),
        )
    # --- issue 13's targets as ratios to a bare page / the raw read, through nginx too — bench/ratios.py
    if not args.no_ratios and not args.pages:
        from . import ratios

        rc = max(
            rc, ratios.main(["--db", str(args.db), "--static", str(args.static)] + (["--json"] if args.json else []))
        )
    return rc


def _print(results: list[dict]) -> None:
    head = (
        f"{'page':<9} {'view':<44} {'server s':>14} {'browser s':>14} {'first KB':>9} {'geo KB':>7} "
        f"{'rerun KB':>8} {'interaction':<22} {'int. s':>6} {'int. KB':>8} {'peak MB':>8}"
    )
    print(head)
    print(f"{'':<54}{'first  repeat':>14} {'first  repeat':>14}")
    print("-" * len(head))
    for r in results:
        if "error" in r:
            print(f"{r['page']:<9} {r['view'][:44]:<44} FAILED: {r['error'][:200]}")
            continue
        print(
            f"{r['page']:<9} {r['view'][:44]:<44} {r['script_first_s']:>6.2f} {r['script_repeat_s']:>7.2f} "
            f"{r['first_s']:>6.2f} {r['repeat_s']:>7.2f} {r['first_ws_bytes'] / 1e3:>9.0f} "
            f"{r['boundary_bytes'] / 1e3:>7.0f} {r['repeat_ws_bytes'] / 1e3:>8.0f} {r['interaction']:<22} "
            f"{r['interaction_s'] or 0:>6.2f} {r['interaction_bytes'] / 1e3:>8.0f} {(r['peak_mb'] or 0):>8.0f}"
        )
        if r["exceptions"]:
            print(f"    EXCEPTIONS: {r['exceptions']}")
        if not r["router"]:
            print(
                "    PROBLEM: this deep link ran the page without dashboard.py's router (Streamlit took the "
                "pages/ folder for a v1 multipage app: was the server started without powerbalance.serve?)"
            )
    print(f"""
server s  = the page script's run time in-process (AppTest): first with empty caches, repeat with warm ones.
            Budget: repeat < {REPEAT_BUDGET_S} s.
browser s = a real browser's round trip on `streamlit run`: its rerun request → the server's 'script
            finished' message (server time + loopback + the browser drawing on the same 2 cores).
KB        = websocket payload sent to the browser (decoded, uncompressed); geo KB = boundary file bytes on the
            wire (gzip), fetched once; int. KB = everything one interaction sent: websocket + HTTP.
            Budget: a map interaction (map_click) < {MAP_BYTES_BUDGET / 1e6} MB.
peak MB   = the server process's peak resident memory (VmHWM) after the page's visits.""")


if __name__ == "__main__":
    sys.exit(main())
