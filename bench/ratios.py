"""``python -m bench.ratios`` (also run by ``make bench``): issue 13's targets, each as a ratio
against a floor measured the same way in the same run, so the figures mean the same on a fast
and a slow (or busy) machine.

Floors:

- **bare page**: a Streamlit app that shows a title and one line of text, served exactly as the
  dashboard is (``powerbalance.serve`` on 127.0.0.1, the same ``.streamlit/config.toml``) and
  driven by the same websocket sessions (bench/concurrency.py);
- **raw read**: every raw file parsed once by the plain reader of its format (CSV with pandas,
  spreadsheets with calamine, JSON with ``json``), no validation, no database.

Figures (target in brackets):

1. one session, warm rerun of each page: time p50 and server CPU per run (≤ 2× the bare page),
   the medians of 3 rounds;
2. one process, 25 sessions × 5 reruns of the Overview: rerun p95 (≤ 2×); 25 sessions opening My
   area for 25 different councils on a freshly started (warmed) server: first-look p95 (≤ 3× the
   bare page's first-run p95). Both are the medians of 3 runs alternating with the bare page's
   (``LOAD_ROUNDS``; every first look on a freshly started server);
3. through nginx (``powerbalance.cluster``): 25 sessions × 5 reruns of the Overview, throughput
   (page runs per second) of 2 workers over 1 worker (≥ 1.7× on a 2-core machine);
4. the ETL build over the raw read (≤ 3×).

Beside them, informative: a worker's memory over many visits (:func:`memory_figures`).

Page time = rerun request sent → the server's "script finished" (loopback websocket). CPU = the
server process's user + system time during the runs, divided by the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from . import ROOT, StreamlitServer, proc_status_mb
from . import concurrency as load

#: warm reruns per page for the single-user figures (CPU time is counted in 10 ms ticks)
SINGLE_RERUNS = 20
#: fresh-server first looks, 25-session loads and single-user reruns, each this many times
#: (alternating with the bare page's), their medians compared: one run swings by a quarter here
LOAD_ROUNDS = 3
#: the floors' reruns are this many times more (they are cheap, and CPU is counted in 10 ms ticks)
FLOOR_RERUNS_FACTOR = 5
BARE_PAGE = 'import streamlit as st\n\nst.title("Bare page")\nst.write("One line of text.")\n'

#: figure -> (target ratio, "max" = must be at most / "min" = at least, what it compares)
TARGETS = {
    "rerun_time_ratio": (2.0, "max", "single user, warm rerun p50, worst page / bare page"),
    "rerun_cpu_ratio": (2.0, "max", "server CPU per warm rerun, worst page / bare page"),
    "load_rerun_p95_ratio": (2.0, "max", "25 sessions x 5 reruns of Overview, p95 / bare page's p95"),
    "first_look_p95_ratio": (3.0, "max", "25 sessions, My area for 25 councils, first look p95 / bare first-run p95"),
    "nginx_throughput_ratio": (1.7, "min", "through nginx, 25 sessions x 5 reruns: 2 workers / 1 worker"),
    "etl_build_ratio": (3.0, "max", "ETL build time / reading every raw file once"),
}


# ============================================================================================= apps


@contextlib.contextmanager
def mirrored_app(db: Path, static: Path | None):
    """A runnable copy of the app serving this build, in a temporary folder of its own
    (:func:`bench.concurrency.mirror_app`), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pb-ratios-") as tmp:
        app = load.mirror_app(Path(tmp))
        load.install_build(db, static, app)
        yield app


def bare_app(folder: Path, name: str = "bare", page: str = BARE_PAGE) -> Path:
    """The floor app: a title and one line, with the project's Streamlit configuration."""
    app = Path(folder) / name
    app.mkdir(parents=True)
    shutil.copytree(ROOT / ".streamlit", app / ".streamlit")
    (app / "dashboard.py").write_text(page)
    return app


def elements_page(n: int) -> str:
    """A page of ``n`` plain text elements and nothing else: what Streamlit itself costs to run and
    send a page of that many elements (an informative figure beside the targets, not one of them)."""
    return (
        'import streamlit as st\n\nst.title("Elements")\n'
        f"for i in range({max(n, 1)}):\n"
        '    st.markdown(f"Line {i}: one plain element of a page with as many elements as the worst page.")\n'
    )


# ============================================================================================= sessions


async def _reruns(
    url: str,
    number: int,
    page: str,
    query: str,
    reruns: int,
    start: asyncio.Event,
    connected: asyncio.Semaphore,
) -> list[load.Visit]:
    """One session: the first visit (round 0), then ``reruns`` more runs of the same page, each with
    the address the page left in the browser's bar (as a browser's rerun sends it)."""
    async with load.Session(url, number) as s:
        connected.release()
        await start.wait()
        visits = []
        for r in range(reruns + 1):
            v = await s.visit(page, query)
            v.round = r
            visits.append(v)
            query = v.url_query or query
        return visits


async def _many(url: str, sessions: int, page: str, queries: list[str], reruns: int) -> tuple[list[load.Visit], float]:
    """Every session connects, then all start together; the seconds returned run from that start
    to the last session's end (connecting is not serving: a fixed wait for it had counted as
    serving time in the throughput figures)."""
    start, connected = asyncio.Event(), asyncio.Semaphore(0)
    tasks = [
        asyncio.create_task(_reruns(url, i, page, queries[i % len(queries)], reruns, start, connected))
        for i in range(sessions)
    ]
    everyone = asyncio.ensure_future(_acquire(connected, sessions))
    await asyncio.wait([everyone, *tasks], return_when=asyncio.FIRST_COMPLETED)  # a failed session ends the wait
    everyone.cancel()
    start.set()
    t0 = time.perf_counter()
    visits = [v for t in await asyncio.gather(*tasks) for v in t]
    return visits, time.perf_counter() - t0


async def _acquire(semaphore: asyncio.Semaphore, times: int) -> None:
    for _ in range(times):
        await semaphore.acquire()


def sessions_run(url: str, sessions: int, page: str, queries: list[str], reruns: int) -> tuple[list[load.Visit], float]:
    """The sessions' visits, and the seconds from their common start to the last one's end."""
    return asyncio.run(_many(url, sessions, page, queries, reruns))


def _secs(visits: list[load.Visit], first: bool) -> list[float]:
    return [v.seconds for v in visits if (v.round == 0) == first and v.seconds is not None]


def _failed(visits: list[load.Visit]) -> list[str]:
    return [
        f"{v.page}?{v.query}: {v.status} {v.exceptions[:1]}"
        for v in visits
        if v.status != "FINISHED_SUCCESSFULLY" or v.exceptions
    ]


def single_user(server, page: str, query: str, reruns: int) -> dict:
    """One session's warm reruns of one page: p50 seconds and server CPU per run."""
    sampler = load.MemorySampler(server.proc.pid)
    sessions_run(server.url, 1, page, [query], 1)  # caches warm (first look + one rerun)
    with sampler:
        visits, _ = sessions_run(server.url, 1, page, [query], reruns - 1)
    # the kernel counts CPU in clock ticks: a page too cheap to use one tick in these runs is
    # reported at one tick (an upper bound), so a ratio against it is never a division by zero
    cpu = max(sampler.cpu_s, 1 / os.sysconf("SC_CLK_TCK"))
    return {
        "p50_s": load.percentile(_secs(visits, False) + _secs(visits, True), 0.5),
        "cpu_per_run_s": cpu / reruns,
        "messages_per_run": load.percentile([float(v.messages) for v in visits if v.round > 0] or [0.0], 0.5),
        "failed": _failed(visits),
    }


# ============================================================================================= figures


def page_views(truth: load.Truth) -> list[tuple[str, str]]:
    """Every page of the navigation in its default view (My area and Compare for one council)."""
    council = truth.councils[0]
    return [(url, f"area={council}" if url in ("my-area", "compare") else "") for _, url in load.navigation()]


def serving_figures(
    app: Path,
    bare: Path,
    db: Path,
    truth: load.Truth,
    sessions: int,
    reruns: int,
    single_reruns: int = SINGLE_RERUNS,
    rounds: int = LOAD_ROUNDS,
) -> dict:
    out: dict = {"failures": []}
    out.update(first_look_figures(app, bare, db, truth, sessions, rounds))
    with StreamlitServer(bare, db) as bare_server, StreamlitServer(app, db) as server:
        singles: dict[str, list[dict]] = {}
        for _ in range(rounds):  # the bare page, then every page, each round: their medians compared
            # five times the reruns: the bare page uses about one 10 ms CPU tick in 20 runs
            singles.setdefault("", []).append(single_user(bare_server, "", "", single_reruns * FLOOR_RERUNS_FACTOR))
            for page, query in page_views(truth):
                singles.setdefault(page, []).append(single_user(server, page, query, single_reruns))
        out["bare"] = _median_run(singles.pop(""))
        out["pages"] = {page: _median_run(runs) for page, runs in singles.items()}
        p95s: dict[str, list[float]] = {"bare": [], "overview": []}
        for r in range(rounds):  # alternating which goes first
            for page in ("", "overview") if r % 2 == 0 else ("overview", ""):
                visits, _ = sessions_run((server if page else bare_server).url, sessions, page, [""], reruns)
                p95s[page or "bare"].append(load.percentile(_secs(visits, False), 0.95))
                out["failures"] += _failed(visits)
    out.update(element_floor(bare.parent, db, out, single_reruns))
    for r in [out["bare"], *out["pages"].values()]:
        out["failures"] += r.pop("failed")
    worst_time = max(out["pages"].values(), key=lambda r: r["p50_s"])
    worst_cpu = max(out["pages"].values(), key=lambda r: r["cpu_per_run_s"])
    out.update(
        rerun_time_ratio=worst_time["p50_s"] / out["bare"]["p50_s"],
        rerun_cpu_ratio=worst_cpu["cpu_per_run_s"] / out["bare"]["cpu_per_run_s"],
        load_rerun_p95_s=statistics.median(p95s["overview"]),
        load_rerun_p95_runs=[round(v, 2) for v in p95s["overview"]],
        bare_load_rerun_p95_s=statistics.median(p95s["bare"]),
        bare_load_rerun_p95_runs=[round(v, 3) for v in p95s["bare"]],
    )
    out["load_rerun_p95_ratio"] = out["load_rerun_p95_s"] / out["bare_load_rerun_p95_s"]
    return out


def _median_run(runs: list[dict]) -> dict:
    """One page's single-user figures over several rounds: the median of each, every failure kept."""
    return {
        "p50_s": statistics.median(r["p50_s"] for r in runs),
        "cpu_per_run_s": statistics.median(r["cpu_per_run_s"] for r in runs),
        "cpu_per_run_runs": [round(r["cpu_per_run_s"] * 1e3, 1) for r in runs],
        "messages_per_run": statistics.median(r["messages_per_run"] for r in runs),
        "failed": [f for r in runs for f in r["failed"]],
    }


def first_look_figures(app: Path, bare: Path, db: Path, truth: load.Truth, sessions: int, rounds: int) -> dict:
    """``sessions`` first runs at once on a freshly started server — of the bare page, and of My area
    for as many councils — ``rounds`` times each, alternating; the medians of the p95s are compared.
    One run had swung between 3.3 and 4.8 s on the same code."""
    out: dict = {"failures": []}
    p95s: dict[str, list[float]] = {"bare": [], "my-area": []}
    my_area = [f"area={c}" for c in truth.councils[:sessions]]
    for r in range(rounds):
        for page in ("", "my-area") if r % 2 == 0 else ("my-area", ""):
            with StreamlitServer(app if page else bare, db) as server:
                visits, _ = sessions_run(server.url, sessions, page, my_area if page else [""], 0)
            p95s[page or "bare"].append(load.percentile(_secs(visits, True), 0.95))
            out["failures"] += _failed(visits)
    out.update(
        first_look_p95_s=statistics.median(p95s["my-area"]),
        first_look_p95_runs=[round(v, 2) for v in p95s["my-area"]],
        bare_first_p95_s=statistics.median(p95s["bare"]),
        bare_first_p95_runs=[round(v, 3) for v in p95s["bare"]],
    )
    out["first_look_p95_ratio"] = out["first_look_p95_s"] / out["bare_first_p95_s"]
    return out


def element_floor(folder: Path, db: Path, out: dict, single_reruns: int) -> dict:
    """The worst page (by CPU) beside a page of as many plain elements (:func:`elements_page`),
    measured the same way: how much of the gap to the bare page is Streamlit's cost per element."""
    worst = max(out["pages"], key=lambda p: out["pages"][p]["cpu_per_run_s"])
    n = int(out["pages"][worst]["messages_per_run"] - out["bare"]["messages_per_run"]) + 1
    app = bare_app(folder, "elements", elements_page(n))
    with StreamlitServer(app, db) as server:
        floor = single_user(server, "", "", single_reruns * FLOOR_RERUNS_FACTOR)
    out["failures"] = out.get("failures", []) + floor.pop("failed")
    return {
        "elements_floor": {"page": worst, "elements": n, **floor},
        "rerun_cpu_vs_elements": out["pages"][worst]["cpu_per_run_s"] / floor["cpu_per_run_s"],
    }


#: councils whose My area one round of the memory figure opens (25 at a time), twice over
MEMORY_VISITS = 300


def memory_figures(app: Path, db: Path, sessions: int, visits: int = MEMORY_VISITS) -> dict:
    """A worker's resident memory over many visits: at rest after its warm-up, after a first look at
    My area for ``visits`` councils (its caches fill), and after the same visits again, which should
    add next to nothing. A worker that grows with its visitors is, sooner or later, killed for its
    memory: pandas' references to dead views of kept answers grew a worker by about 20 MB every 300
    visits until ``db.fresh`` pruned them. Informative, not one of the issue's targets."""
    councils = load.Truth.read(db, visits).councils
    out: dict = {"failures": []}
    with StreamlitServer(app, db) as server:
        rss = [proc_status_mb(server.proc.pid, "VmRSS")]
        for _ in range(2):
            for i in range(0, len(councils), sessions):
                batch = [f"area={c}" for c in councils[i : i + sessions]]
                done, _ = sessions_run(server.url, len(batch), "my-area", batch, 1)
                out["failures"] += _failed(done)
            rss.append(proc_status_mb(server.proc.pid, "VmRSS"))
    out["memory_visits"] = len(councils)
    out["memory_rss_mb"] = [round(v, 1) for v in rss]
    out["memory_second_round_growth_mb"] = rss[2] - rss[1]
    return out


#: rounds of the nginx comparison: one worker and two alternate, and the medians are compared, so a
#: burst of other work on the machine during one run does not decide the figure
NGINX_ROUNDS = 3


def nginx_figures(
    app: Path, db: Path, sessions: int, reruns: int, workers: int = 2, rounds: int = NGINX_ROUNDS
) -> dict:
    from .cluster import ClusterServer, nginx_available

    if not nginx_available():
        return {"nginx_skipped": "nginx is not installed (make nginx)"}
    out: dict = {"failures": []}
    runs: dict[int, list[float]] = {1: [], workers: []}
    with contextlib.ExitStack() as stack:
        clusters = {n: stack.enter_context(ClusterServer(app, db, workers=n)) for n in (1, workers)}
        for n, cluster in clusters.items():
            sessions_run(cluster.url, n * 2, "overview", [""], 1)  # every worker warm
        for r in range(rounds):
            for n in (1, workers) if r % 2 == 0 else (workers, 1):  # alternate which goes first
                c0 = time.process_time()
                visits, wall = sessions_run(clusters[n].url, sessions, "overview", [""], reruns)
                runs[n].append(len(visits) / wall)
                # sessions per worker (first visits): an uneven spread caps what the extra worker can add
                out[f"sessions_per_worker_{n}"] = sorted(Counter(v.worker for v in visits if v.round == 0).values())
                out[f"client_cores_busy_{n}_workers"] = (time.process_time() - c0) / wall  # the load generator
                out["failures"] += _failed(visits)
    for n, values in runs.items():
        out[f"throughput_{n}_workers"] = statistics.median(values)
        out[f"throughput_{n}_workers_runs"] = [round(v, 1) for v in values]
    out["nginx_throughput_ratio"] = out[f"throughput_{workers}_workers"] / out["throughput_1_workers"]
    return out


def read_raw_once(raw: Path) -> float:
    """Seconds to parse every raw file once with the plain reader of its format."""
    import pandas as pd
    from python_calamine import CalamineWorkbook

    t0 = time.perf_counter()
    for path in sorted(p for p in Path(raw).rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            try:
                pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace", low_memory=False)
            except (ValueError, pd.errors.ParserError):
                pd.read_csv(
                    path, dtype=str, keep_default_na=False, encoding="latin-1", on_bad_lines="skip", low_memory=False
                )
        elif suffix in (".xls", ".xlsx", ".ods"):
            wb = CalamineWorkbook.from_path(str(path))
            for name in wb.sheet_names:
                wb.get_sheet_by_name(name).to_python()
        elif suffix in (".json", ".geojson", ".topojson"):
            json.loads(path.read_bytes())
        else:
            path.read_bytes()
    return time.perf_counter() - t0


def etl_figures(raw: Path) -> dict:
    from etl.build import build
    from etl.core import helper_cpu_seconds

    # the faster of two reads: the first also brings the files into the page cache, as it leaves
    # them for the build (a cold first read had made the floor swing between 0.9 and 2.1 s)
    reads = []
    for _ in range(2):
        c0 = time.process_time()
        reads.append((read_raw_once(raw), time.process_time() - c0))
    read_s, read_cpu = min(reads)
    with tempfile.TemporaryDirectory(prefix="pb-ratio-") as tmp:
        t0, c0, h0 = time.perf_counter(), time.process_time(), helper_cpu_seconds()
        build(raw, Path(tmp) / "pb.duckdb", static_dir=Path(tmp) / "static", log=lambda *a: None)
        build_s = time.perf_counter() - t0
        build_cpu = time.process_time() - c0 + helper_cpu_seconds() - h0  # the helper process's too
    # CPU seconds beside wall seconds: on a shared machine the wall clock also counts waiting for a core;
    # the build's CPU includes its helper process, so a build that uses both cores shows it here
    return {
        "raw_read_s": read_s,
        "etl_build_s": build_s,
        "etl_build_ratio": build_s / read_s,
        "raw_read_cpu_s": read_cpu,
        "etl_build_cpu_s": build_cpu,
        "etl_build_cpu_ratio": build_cpu / read_cpu,
    }


def etl_figures_apart(raw: Path) -> dict:
    """:func:`etl_figures` in a fresh Python process: after the serving figures this process holds a
    large heap, and the raw read (which, unlike the build, leaves the garbage collector on) was
    measured up to twice as slow in it, flattering the ratio."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.ratios", "--only", "etl", "--json", "--raw", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode not in (0, 1):  # 1: measured, and the target missed
        raise RuntimeError(f"the ETL figure could not be measured:\n{out.stderr[-4000:]}")
    figures = json.loads(out.stdout)
    figures.pop("targets_missed", None)  # measure() decides that for every figure at once
    return figures


def measure(
    db: Path,
    static: Path | None,
    raw: Path,
    sessions: int = 25,
    reruns: int = 5,
    single_reruns: int = SINGLE_RERUNS,
    nginx_rounds: int = NGINX_ROUNDS,
    load_rounds: int = LOAD_ROUNDS,
    memory_visits: int = MEMORY_VISITS,
) -> dict:
    truth = load.Truth.read(db, sessions)
    res: dict = {"sessions": sessions, "reruns": reruns, "cores": os.cpu_count(), "failures": []}
    with mirrored_app(db, static) as app:
        bare = bare_app(app.parent)
        for part in (
            serving_figures(app, bare, db, truth, sessions, reruns, single_reruns, rounds=load_rounds),
            nginx_figures(app, db, sessions, reruns, rounds=nginx_rounds),
            memory_figures(app, db, sessions, memory_visits),
        ):
            res["failures"] += part.pop("failures", [])
            res.update(part)
    res.update(etl_figures_apart(raw))
    res["targets_missed"] = [k for k in TARGETS if not met(k, res.get(k))]
    return res


def met(key: str, value: float | None) -> bool:
    target, kind, _ = TARGETS[key]
    if value is None or value != value:
        return False
    return value <= target if kind == "max" else value >= target


# ============================================================================================= report


def report(r: dict) -> str:
    lines = [
        f"\nIssue 13 targets as ratios to a floor measured in the same run ({r['cores']} cores, "
        f"{r['sessions']} sessions, {r['reruns']} reruns)"
    ]
    for key, (target, kind, what) in TARGETS.items():
        value = r.get(key)
        shown = f"{value:6.2f}x" if isinstance(value, float) else "   n/a "
        need = f"{'<=' if kind == 'max' else '>='} {target}x"
        lines.append(f"  {what:<76} {shown}  (target {need}){'' if met(key, value) else '  MISSED'}")
    if "pages" in r:
        lines.append(
            f"  single user, warm rerun: bare page {r['bare']['p50_s'] * 1e3:.0f} ms, "
            f"{r['bare']['cpu_per_run_s'] * 1e3:.0f} ms CPU; per page (ms, ms CPU):"
        )
        lines.append(
            "    "
            + ", ".join(f"{p} {v['p50_s'] * 1e3:.0f}/{v['cpu_per_run_s'] * 1e3:.0f}" for p, v in r["pages"].items())
        )
        if "elements_floor" in r:
            f = r["elements_floor"]
            lines.append(
                f"  Streamlit's own share: a page of {f['elements']} plain elements (as many as {f['page']} sends) "
                f"takes {f['cpu_per_run_s'] * 1e3:.0f} ms CPU a rerun; {f['page']} is "
                f"{r['rerun_cpu_vs_elements']:.1f}x that (informative, not a target)"
            )
        lines.append(
            f"  under load (medians of {len(r.get('load_rerun_p95_runs', [1]))} alternating runs): Overview rerun "
            f"p95 {r['load_rerun_p95_s']:.2f} s {r.get('load_rerun_p95_runs')} vs bare "
            f"{r['bare_load_rerun_p95_s']:.2f} s {r.get('bare_load_rerun_p95_runs')}; My area first look p95 "
            f"{r['first_look_p95_s']:.2f} s {r.get('first_look_p95_runs')} vs bare first run "
            f"{r['bare_first_p95_s']:.2f} s {r.get('bare_first_p95_runs')}, each on a fresh server"
        )
    if "throughput_1_workers" in r:
        lines.append(
            f"  through nginx (median of {len(r.get('throughput_1_workers_runs', [1]))} alternating runs): "
            f"{r['throughput_1_workers']:.1f} page runs/s with 1 worker {r.get('throughput_1_workers_runs')}, "
            f"{r['throughput_2_workers']:.1f} with 2 {r.get('throughput_2_workers_runs')}, "
            f"sessions per worker {r.get('sessions_per_worker_2')} "
            f"(the load generator itself kept "
            f"{r['client_cores_busy_1_workers']:.2f} / {r['client_cores_busy_2_workers']:.2f} cores busy)"
        )
    elif "nginx_skipped" in r:
        lines.append(f"  through nginx: skipped ({r['nginx_skipped']})")
    if "memory_rss_mb" in r:
        lines.append(report_memory(r))
    lines.append(etl_line(r))
    for f in r["failures"][:20]:
        lines.append(f"  FAILED {f}")
    return "\n".join(lines)


def report_memory(r: dict) -> str:
    rest, first, second = r["memory_rss_mb"]
    return (
        f"  a worker's memory: {rest:.0f} MB at rest, {first:.0f} MB after a first look at My area for "
        f"{r['memory_visits']} councils, {second:.0f} MB after the same visits again "
        f"({r['memory_second_round_growth_mb']:+.0f} MB; informative)"
    )


def memory_only(db: Path, static: Path | None, sessions: int) -> dict:
    with mirrored_app(db, static) as app:
        return memory_figures(app, db, sessions)


def etl_line(r: dict) -> str:
    return (
        f"  ETL: build {r['etl_build_s']:.2f} s ({r['etl_build_cpu_s']:.2f} s CPU), reading every raw file "
        f"once {r['raw_read_s']:.2f} s ({r['raw_read_cpu_s']:.2f} s CPU): time ratio "
        f"{r['etl_build_ratio']:.2f}x, CPU ratio {r['etl_build_cpu_ratio']:.2f}x"
    )


def etl_only(raw: Path) -> tuple[dict, str]:
    """``--only etl``: the ETL figure alone (no database or server needed)."""
    r = etl_figures(raw)
    r["targets_missed"] = [] if met("etl_build_ratio", r["etl_build_ratio"]) else ["etl_build_ratio"]
    target, _, what = TARGETS["etl_build_ratio"]
    missed = "  MISSED" if r["targets_missed"] else ""
    return r, f"  {what}: {r['etl_build_ratio']:.2f}x (target <= {target}x){missed}\n{etl_line(r)}"


def main(argv: list[str] | None = None) -> int:
    from powerbalance import config

    ap = argparse.ArgumentParser(prog="python -m bench.ratios", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=config.db_path())
    ap.add_argument("--static", type=Path, default=config.static_dir())
    ap.add_argument("--raw", type=Path, default=config.raw_dir())
    ap.add_argument("--sessions", type=int, default=25)
    ap.add_argument("--reruns", type=int, default=5)
    ap.add_argument("--single-reruns", type=int, default=SINGLE_RERUNS, help="warm reruns per page, one user")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--only",
        choices=["etl", "memory"],
        help="measure one figure only: etl = the ETL build over the raw read; memory = a worker's memory over visits",
    )
    args = ap.parse_args(argv)
    if args.only == "etl":
        r, text = etl_only(args.raw)
        print(json.dumps(r, indent=2) if args.json else text)
        return 1 if r["targets_missed"] else 0
    if not args.db.exists():
        print(f"no database at {args.db}: run `make db` first", file=sys.stderr)
        return 2
    if args.only == "memory":
        r = memory_only(args.db, args.static, args.sessions)
        print(json.dumps(r, indent=2) if args.json else report_memory(r))
        return 1 if r["failures"] else 0
    r = measure(args.db, args.static, args.raw, args.sessions, args.reruns, args.single_reruns)
    print(json.dumps(r, indent=2) if args.json else report(r))
    return 1 if r["targets_missed"] or r["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
