"""Concurrent sessions against a real ``streamlit run``: ``python -m bench.concurrency`` (also run
by ``make bench``).

N sessions (default 25) connect at once, each over its own Streamlit websocket — the same
protobuf protocol the browser speaks, without a browser's rendering cost, so on a small machine
the numbers are the server's — and each visits every page of the dashboard in turn: My area
for its own council first (so every session asks for different data), then every other page
of the navigation. Boundary files a page points its maps at are fetched over HTTP once per
session, as a browser would. Everything is on 127.0.0.1.

Measured per page visit: the time from the request to the server's "script finished" message,
exceptions the server rendered, and whether the page showed the right data for that session.
Memory: the server's resident set is sampled throughout; memory per session is the peak during
the load minus the resident set after one warm-up session, divided by N.

Before the load, one session visits every page (caches warm, as on a server already in use);
``--cold`` skips that.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from etl.core import process_cpu_seconds

from .app import proc_status_mb

ROOT = Path(__file__).resolve().parent.parent
N_SESSIONS = 25
VISIT_TIMEOUT_S = 600.0


# ============================================================================================= app


def navigation() -> list[tuple[str, str]]:
    """(page file, url path) of every page in dashboard.py's navigation, in order."""
    from powerbalance.navigation import pages

    return [(p.file, p.url_path) for p in pages()]


@functools.cache
def _default_url_path() -> str:
    from powerbalance.navigation import pages

    return next(p.url_path for p in pages() if p.default)


def browser_page_name(url_path: str) -> str:
    """The page name a browser's rerun sends for a page: "" for the default page (the app's root
    address; its own path, e.g. "overview", is not a page to Streamlit, which would answer "page
    not found" and run the default page anyway)."""
    return "" if url_path == _default_url_path() else url_path


def mirror_app(folder: Path) -> Path:
    """A runnable copy of the app in ``folder``: dashboard.py and .streamlit copied, every page
    (and assets/) linked to the real file, and an empty ``static/`` that builds for this app may write into
    (so a test's build never prunes the repository's static/geo). A page the router lists but
    nobody has written yet gets a one-line placeholder here (never in the repository)."""
    app = Path(folder) / "app"
    (app / "pages").mkdir(parents=True)
    (app / "static" / "geo").mkdir(parents=True)
    shutil.copy2(ROOT / "dashboard.py", app / "dashboard.py")
    shutil.copytree(ROOT / ".streamlit", app / ".streamlit")
    for extra in ("assets",):  # files dashboard.py refers to by relative path (the page icon)
        if (ROOT / extra).exists():
            (app / extra).symlink_to(ROOT / extra)
    for page_file, _ in navigation():
        src, dst = ROOT / page_file, app / page_file
        if src.exists():
            dst.symlink_to(src)
        else:
            dst.write_text('import streamlit as st\nst.title("Not written yet")\n')
    return app


def missing_pages() -> list[str]:
    return [p for p, _ in navigation() if not (ROOT / p).exists()]


def install_build(db: Path, static: Path | None, app: Path) -> str:
    """Make ``app`` serve the boundary files of the build in ``db``; returns its build id."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        build_id = con.execute("SELECT build_id FROM build_info").fetchone()[0]
    finally:
        con.close()
    target = app / "static" / "geo" / build_id
    source = Path(static) / "geo" / build_id if static else None
    if not target.exists() and source is not None and source.is_dir():
        shutil.copytree(source, target)
    return build_id


# ============================================================================================= one session


@dataclass
class Visit:
    session: int
    page: str
    query: str
    started: float
    seconds: float | None = None
    status: str = "timeout"
    exceptions: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    url_query: str = ""
    geo_urls: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failed data checks
    round: int = 0  # 0 = the session's first pass over the pages
    messages: int = 0  # messages the server sent for this run (elements, blocks, page info …)
    worker: str | None = None  # the worker that served it, behind nginx (X-PB-Worker)

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED_SUCCESSFULLY" and not self.exceptions and not self.problems


#: Streamlit's global.maxCachedMessageAge: how many runs a browser keeps an unused big element
MESSAGE_MAX_AGE = 2


class Session:
    """One Streamlit session over a raw websocket (what a browser tab holds open)."""

    def __init__(self, url: str, number: int, cookie: str | None = None):
        self.url, self.number = url, number
        # a browser's own affinity cookie for nginx (powerbalance.cluster); a bare server ignores it
        self.cookie = cookie or f"pb_worker=session-{number}"
        self.ws = None
        self.worker: str | None = None  # X-PB-Worker of the websocket, behind nginx
        self.fetched: dict[str, tuple[int, int]] = {}  # url -> (status, bytes)
        # big elements already received, by hash: a browser keeps them and tells the server, which
        # then sends a reference instead of the element again (Streamlit's ForwardMsg cache)
        self.kept: dict[str, bytes] = {}
        self.used: dict[str, int] = {}  # hash -> the run it was last used in (kept for MAX_AGE runs)
        self.runs = 0
        self.references = 0  # elements the server named instead of sending again

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def connect(self) -> None:
        """Open the session's websocket (again, after a reload or a lost connection)."""
        import websockets

        self.ws = await websockets.connect(
            self.url.replace("http://", "ws://") + "/_stcore/stream",
            subprotocols=["streamlit"],
            origin=self.url,
            max_size=None,
            open_timeout=120,
            ping_interval=None,
            additional_headers={"Cookie": self.cookie},
        )
        self.worker = self.ws.response.headers.get("X-PB-Worker")

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def visit(self, page: str, query: str = "", timeout: float = VISIT_TIMEOUT_S) -> Visit:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = browser_page_name(page)
        msg.rerun_script.cached_message_hashes.extend(self.kept)
        v = Visit(self.number, page, query, time.time(), worker=self.worker)
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        try:
            async with asyncio.timeout(timeout):
                while True:
                    fwd = self._received(await self.ws.recv())
                    v.messages += 1
                    kind = fwd.WhichOneof("type")
                    if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                        self._element(fwd.delta.new_element, v)
                    elif kind == "page_info_changed":
                        v.url_query = fwd.page_info_changed.query_string
                    elif kind == "page_not_found":
                        v.problems.append(f"page not found: {page!r} (the default page ran instead)")
                    elif (
                        kind == "session_event"
                        and fwd.session_event.WhichOneof("type") == "script_compilation_exception"
                    ):
                        v.exceptions.append("script compilation error")
                    elif kind == "script_finished":
                        v.status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                        if fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                            break
        except TimeoutError:
            v.status = "timeout"
        v.seconds = time.perf_counter() - t0
        await self._fetch_boundaries(v)
        return v

    def _received(self, data: bytes):
        """The message as the browser has it: a reference is replaced by the element it names, and a
        cacheable element is kept under its hash, as the browser's message cache does."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        fwd = ForwardMsg()
        fwd.ParseFromString(data)
        if fwd.WhichOneof("type") == "ref_hash":
            ref = fwd.ref_hash
            if ref not in self.kept:
                raise RuntimeError(f"the server referred to an element this session never received ({ref})")
            metadata = fwd.metadata
            fwd = ForwardMsg()
            fwd.ParseFromString(self.kept[ref])
            fwd.metadata.CopyFrom(metadata)
            self.used[ref] = self.runs
            self.references += 1
        elif fwd.metadata.cacheable and fwd.hash:
            self.kept[fwd.hash], self.used[fwd.hash] = data, self.runs
        elif fwd.WhichOneof("type") == "script_finished":
            self._age()
        return fwd

    def _age(self) -> None:
        """After each finished run, forget what went unused for more than MAX_AGE runs (the
        browser's ``global.maxCachedMessageAge``, 2 by default)."""
        self.runs += 1
        for h in [h for h, run in self.used.items() if self.runs - run > MESSAGE_MAX_AGE]:
            del self.kept[h], self.used[h]

    @staticmethod
    def _element(el, v: Visit) -> None:
        kind = el.WhichOneof("type")
        if kind == "exception":
            v.exceptions.append(f"{el.exception.type}: {el.exception.message}"[:300])
        elif kind == "heading":
            v.headings.append(el.heading.body)
        elif kind == "metric":
            v.metrics[el.metric.label] = el.metric.body
        elif kind == "code" and v.page == "data" and "Build" not in v.metrics:
            v.metrics["Build"] = el.code.code_text  # the build id, the page's first code block (it wraps)
        elif kind == "plotly_chart":
            try:
                spec = json.loads(el.plotly_chart.spec)
            except ValueError:
                return
            for trace in spec.get("data", []):
                if isinstance(trace.get("geojson"), str):
                    v.geo_urls.append(trace["geojson"])

    async def _fetch_boundaries(self, v: Visit) -> None:
        """Fetch each boundary file a map points at, once per session (the browser caches)."""
        for path in dict.fromkeys(v.geo_urls):
            if path in self.fetched:
                continue
            self.fetched[path] = await asyncio.to_thread(_http_get, self.url + path, self.cookie)
            if self.fetched[path][0] != 200:
                v.problems.append(f"boundary file {path} answered {self.fetched[path][0]}")


def _http_get(url: str, cookie: str | None = None) -> tuple[int, int]:
    try:
        req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, len(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, 0
    except OSError:
        return 0, 0


# ============================================================================================= what is right


@dataclass
class Truth:
    """What each session must see, read straight from the database file (not through the app)."""

    build_id: str
    names: dict[str, str]  # council code -> name
    councils: list[str]  # one per session

    @classmethod
    def read(cls, db: Path, n: int) -> Truth:
        con = duckdb.connect(str(db), read_only=True)
        try:
            build_id = con.execute("SELECT build_id FROM build_info").fetchone()[0]
            rows = con.execute(
                "SELECT code, name FROM areas WHERE level IN ('district', 'county') ORDER BY code"
            ).fetchall()
        finally:
            con.close()
        step = max(1, len(rows) // n)
        chosen = [rows[i * step][0] for i in range(n)]  # spread over counties, unitaries, districts
        return cls(build_id, dict(rows), chosen)


def check(v: Visit, truth: Truth, council: str, build_ids: set[str] | None = None) -> None:
    """Record in ``v.problems`` anything the page showed that is not this session's data."""
    if v.page == "my-area":
        if truth.names[council] not in v.headings:
            v.problems.append(f"My area for {council} shows {v.headings[:3]}, not {truth.names[council]!r}")
        if f"area={council}" not in v.url_query:
            v.problems.append(f"My area URL is {v.url_query!r}, not area={council}")
    elif v.page == "compare":
        if f"area={council}" not in v.url_query:
            v.problems.append(f"Compare opened on {v.url_query!r}, not the session's council {council}")
    elif v.page == "data":
        allowed = build_ids or {truth.build_id}
        if v.metrics.get("Build") not in allowed:
            v.problems.append(f"Data page shows build {v.metrics.get('Build')!r}, not one of {sorted(allowed)}")
    if not v.headings:
        v.problems.append("the page rendered no heading")


def plan_for(council: str, offset: int = 0) -> list[tuple[str, str]]:
    """(page, query string) in visiting order: My area for the session's council, then the other
    pages, rotated by ``offset`` so that sessions spread over the pages rather than marching in step."""
    rest = [(url, "") for _, url in navigation() if url != "my-area"]
    k = offset % len(rest) if rest else 0
    return [("my-area", f"area={council}")] + rest[k:] + rest[:k]


# ============================================================================================= memory


class MemorySampler:
    """Resident set (VmRSS) of a process, sampled in a thread, and the CPU time it used."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.cpu_s = 0.0
        self.wall_s = 0.0

    def rss_mb(self) -> float | None:
        return proc_status_mb(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (NaN when unreadable)."""
        return process_cpu_seconds(self.pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            mb = self.rss_mb()
            if mb is not None:
                self.samples.append((time.time(), mb))
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._cpu0, self._t0 = self.cpu_seconds(), time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.cpu_s = self.cpu_seconds() - self._cpu0
        self.wall_s = time.perf_counter() - self._t0

    def peak(self) -> float:
        return max((mb for _, mb in self.samples), default=float("nan"))


# ============================================================================================= the load


async def _session_run(
    url: str,
    number: int,
    steps: list[tuple[str, str]],
    start: asyncio.Event,
    after: Callable[[Visit], None],
    keep_going: Callable[[list[Visit]], bool],
    think: float,
) -> list[Visit]:
    visits: list[Visit] = []
    async with Session(url, number) as s:
        await start.wait()
        while keep_going(visits):
            for page, query in steps:
                v = await s.visit(page, query)
                v.round = len(visits) // len(steps)
                after(v)
                visits.append(v)
                if think:
                    await asyncio.sleep(think)
    return visits


def one_round(visits: list[Visit]) -> bool:
    return not visits


def rounds(n: int, steps: int) -> Callable[[list[Visit]], bool]:
    """keep_going for ``n`` passes over ``steps`` pages."""
    return lambda visits: len(visits) < n * steps


async def load(
    url: str,
    truth: Truth,
    n: int,
    keep_going: Callable[[list[Visit]], bool] = one_round,
    think: float = 0.0,
    build_ids: Callable[[], set[str]] | None = None,
    observe: Callable[[Visit], None] | None = None,
) -> list[Visit]:
    """n sessions at once, each visiting every page in turn, round after round while
    ``keep_going(its visits so far)`` is true (default: one round). ``observe`` is called with
    each visit as soon as it has been checked (e.g. to start something once a page has been seen)."""
    start = asyncio.Event()

    def after(v: Visit) -> None:
        check(v, truth, truth.councils[v.session % len(truth.councils)], build_ids() if build_ids else None)
        if observe:
            observe(v)

    tasks = [
        asyncio.create_task(
            _session_run(url, i, plan_for(truth.councils[i % len(truth.councils)], i), start, after, keep_going, think)
        )
        for i in range(n)
    ]
    await asyncio.sleep(0.5)  # every session connects first; then all start together
    start.set()
    return [v for t in await asyncio.gather(*tasks) for v in t]


async def warm_up(url: str, truth: Truth) -> list[Visit]:
    return await load(url, truth, 1)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


@dataclass
class Result:
    sessions: int
    visits: list[Visit]
    wall_s: float
    baseline_mb: float
    peak_mb: float
    after_mb: float
    server_cpu_s: float = float("nan")

    @property
    def per_session_mb(self) -> float:
        return (self.peak_mb - self.baseline_mb) / self.sessions

    def by_page(self, round: int | None = None) -> dict[str, dict]:
        visits = [v for v in self.visits if round is None or v.round == round]
        out = {}
        for page in dict.fromkeys(v.page for v in visits):
            secs = [v.seconds for v in visits if v.page == page and v.seconds is not None]
            out[page] = {
                "visits": len(secs),
                "p50_s": percentile(secs, 0.5),
                "p95_s": percentile(secs, 0.95),
                "max_s": max(secs, default=float("nan")),
                "failed": sum(1 for v in visits if v.page == page and not v.ok),
            }
        secs = [v.seconds for v in visits if v.seconds is not None]
        out["all"] = {
            "visits": len(secs),
            "p50_s": percentile(secs, 0.5),
            "p95_s": percentile(secs, 0.95),
            "max_s": max(secs, default=float("nan")),
            "failed": sum(1 for v in visits if not v.ok),
        }
        return out

    @property
    def rounds(self) -> int:
        return 1 + max((v.round for v in self.visits), default=0)

    def failures(self) -> list[str]:
        return [
            f"session {v.session} {v.page}?{v.query}: {v.status} {v.exceptions} {v.problems}"
            for v in self.visits
            if not v.ok
        ]

    def as_dict(self) -> dict:
        return {
            "sessions": self.sessions,
            "wall_s": self.wall_s,
            "baseline_mb": self.baseline_mb,
            "peak_mb": self.peak_mb,
            "after_mb": self.after_mb,
            "per_session_mb": self.per_session_mb,
            "server_cpu_s": self.server_cpu_s,
            "server_cores_busy": self.server_cpu_s / self.wall_s,
            "pages_by_round": [self.by_page(r) for r in range(self.rounds)],
            "failures": self.failures(),
        }


def run(server, truth: Truth, n: int = N_SESSIONS, cold: bool = False, passes: int = 1) -> Result:
    """The whole measurement against a started :class:`bench.StreamlitServer`: ``n`` sessions at
    once, each making ``passes`` passes over every page."""
    sampler = MemorySampler(server.proc.pid)
    if not cold:
        warm = asyncio.run(warm_up(server.url, truth))
        bad = [v for v in warm if not v.ok]
        if bad:
            raise RuntimeError(f"warm-up session failed: {[(v.page, v.status, v.exceptions, v.problems) for v in bad]}")
    time.sleep(1.0)
    baseline = sampler.rss_mb()
    t0 = time.perf_counter()
    with sampler:
        visits = asyncio.run(load(server.url, truth, n, keep_going=rounds(passes, len(plan_for(truth.councils[0])))))
    wall = time.perf_counter() - t0
    return Result(n, visits, wall, baseline, sampler.peak(), sampler.rss_mb(), sampler.cpu_s)


def print_result(r: Result, cores: int | None = os.cpu_count()) -> None:
    print(
        f"\n{r.sessions} concurrent sessions, each visiting every page {r.rounds} time(s) "
        f"({len(r.visits)} page visits in {r.wall_s:.1f} s on {cores} cores)"
    )
    for rnd in range(r.rounds):
        if r.rounds > 1:
            print(
                f"\npass {rnd + 1}"
                + (
                    " (each session's first look: its council computed for the first time)"
                    if rnd == 0
                    else " (the same views again: caches warm)"
                )
            )
        head = f"{'page':<10} {'visits':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'failed':>7}"
        print(head)
        print("-" * len(head))
        for page, st in r.by_page(rnd).items():
            print(
                f"{page:<10} {st['visits']:>6} {st['p50_s']:>7.2f} {st['p95_s']:>7.2f} {st['max_s']:>7.2f} "
                f"{st['failed']:>7}"
            )
    print(
        f"\nServer memory: {r.baseline_mb:.0f} MB after one warm-up session, peak {r.peak_mb:.0f} MB under load, "
        f"{r.after_mb:.0f} MB after → {r.per_session_mb:.1f} MB per concurrent session."
    )
    print(
        f"Server CPU: {r.server_cpu_s:.0f} s in {r.wall_s:.0f} s = {r.server_cpu_s / r.wall_s:.2f} cores busy on "
        "average (one Streamlit process; Python runs one thread at a time, so about 1 core is its ceiling)."
    )
    print("Page time = request sent → server's 'script finished' (websocket, loopback; no browser rendering).")
    for f in r.failures()[:20]:
        print("  FAILED", f)


def main(argv: list[str] | None = None) -> int:
    from powerbalance import config

    from .app import StreamlitServer

    ap = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=config.db_path())
    ap.add_argument(
        "--static", type=Path, default=config.static_dir(), help="the --static folder the database was built with"
    )
    ap.add_argument("--sessions", type=int, default=N_SESSIONS)
    ap.add_argument("--cold", action="store_true", help="no warm-up session before the load")
    ap.add_argument(
        "--passes",
        type=int,
        default=2,
        help="passes over every page per session (default 2: the first look, then the same views with caches warm)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.db.exists():
        print(f"no database at {args.db}: run `make db` first", file=sys.stderr)
        return 2
    truth = Truth.read(args.db, args.sessions)
    with tempfile.TemporaryDirectory(prefix="pb-load-") as tmp:
        app = mirror_app(Path(tmp))
        install_build(args.db, args.static, app)
        with StreamlitServer(app, args.db) as server:
            result = run(server, truth, args.sessions, args.cold, args.passes)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_result(result)
    return 1 if result.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
