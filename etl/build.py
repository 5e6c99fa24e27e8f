"""Build orchestration: validate → transform → load into a NEW DuckDB file → publish atomically.

The live database is never opened for writing. A build writes ``.<name>.building-<pid>`` beside
it, checkpoints and closes it, fsyncs it, and only then ``os.replace``s it over the live file (an
atomic rename on POSIX). Static boundary files for the browser are written to a fresh
``static/geo/<build_id>/`` directory that is renamed into place before the database is swapped,
so every database build points at boundary files that exist. A failed or killed build leaves
the previous database serving, byte for byte; its leftovers are removed by the next build.
A ``fcntl`` lock (released by the kernel if the process dies) stops two builds racing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .core import (
    BuildContext,
    EtlInputError,
    LoadReport,
    Source,
    fsync_path,
    gc_paused,
    in_helper,
    insert_rows,
    pid_alive,
    preload,
)
from .exports import write_exports, write_tables
from .sources.local_data import report_index_use

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).with_name("schema.sql")
KEEP_GEO_BUILDS = 3
EXPORTS = "exports"  # the helper's work writing the open exports of the finished tables


@dataclass
class BuildResult:
    build_id: str
    db_path: Path
    geo_dir: Path
    seconds: float
    reports: dict[str, LoadReport]
    timings: dict[str, float]


def new_build_id() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _git_version() -> str | None:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except Exception:
        return None


def clean_stale(db_path: Path, static_geo: Path) -> list[Path]:
    """Remove leftovers of builds whose process is gone (killed builds)."""
    removed = []
    for p in list(db_path.parent.glob(f".{db_path.name}.building-*")) + (
        list(static_geo.glob(".building-*")) if static_geo.exists() else []
    ):
        try:
            pid = int(p.name.split("building-")[1].split("-")[0].split(".")[0])
        except (IndexError, ValueError):
            pid = -1
        if pid != os.getpid() and (pid < 0 or not pid_alive(pid)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _prune_geo(static_geo: Path, keep: str) -> None:
    builds = sorted(
        (p for p in static_geo.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for p in builds[KEEP_GEO_BUILDS:]:
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)


def _record_reports(con, reports: dict[str, LoadReport]) -> None:
    """Every source's report, issues and facts, each table in one insert (in source order)."""
    summary, issues, facts = [], [], []
    for sid, r in reports.items():
        summary.append(
            (
                sid,
                r.rows_read,
                r.rows_loaded,
                r.count("unmatched"),
                r.count("suppressed"),
                r.count("negative"),
                r.count("warning"),
                round(r.seconds, 3),
            )
        )
        issues += [i.as_row(sid) for i in r.issues]
        facts += [(sid, k, float(v)) for k, v in r.facts.items()]
    con.executemany("INSERT INTO load_report VALUES (?, ?, ?, ?, ?, ?, ?, ?)", summary)
    insert_rows(con, "load_issues", issues)
    insert_rows(con, "load_facts", facts)


def order_sources(sources: list[Source]) -> list[Source]:
    by_id = {s.id: s for s in sources}
    done: list[Source] = []
    seen: set[str] = set()

    def visit(s: Source, stack=()):
        if s.id in seen:
            return
        if s.id in stack:
            raise ValueError(f"source dependency cycle at {s.id}")
        for d in s.depends:
            if d in by_id:
                visit(by_id[d], stack + (s.id,))
        seen.add(s.id)
        done.append(s)

    # background sources (and what depends on them) as late as possible, so their work overlaps the rest
    for s in sorted(sources, key=lambda s: _waits_for_background(s, by_id)):
        visit(s)
    return done


def _waits_for_background(s: Source, by_id: dict[str, Source], stack: tuple[str, ...] = ()) -> bool:
    if s.background:
        return True
    return any(
        d in by_id and d not in stack and _waits_for_background(by_id[d], by_id, stack + (s.id,)) for d in s.depends
    )


def build(
    raw_dir: Path,
    db_path: Path,
    static_dir: Path | None = None,
    sources: list[Source] | None = None,
    derive: bool = True,
    log=print,
    _fail_after: str | None = None,
) -> BuildResult:
    """Build a fresh database from ``raw_dir`` and publish it at ``db_path``.

    ``_fail_after`` (tests only) raises after the named step to prove a failed build changes nothing.
    """
    from .sources import all_sources

    t_start = time.perf_counter()
    raw_dir = Path(raw_dir)
    db_path = Path(db_path).resolve()
    static_geo = Path(static_dir or (ROOT / "static")) / "geo"
    if not raw_dir.is_dir():
        raise EtlInputError(f"raw data directory not found: {raw_dir} (set POWERBALANCE_RAW_DIR or --raw)")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    static_geo.mkdir(parents=True, exist_ok=True)

    with _build_lock(db_path), gc_paused():
        clean_stale(db_path, static_geo)
        build_id = new_build_id()
        tmp_db = db_path.parent / f".{db_path.name}.building-{os.getpid()}-{build_id}"
        tmp_geo = static_geo / f".building-{os.getpid()}-{build_id}"
        final_geo = static_geo / build_id
        tmp_geo.mkdir()
        timings: dict[str, float] = {}
        con = duckdb.connect(str(tmp_db))
        published = False
        ctx: BuildContext | None = None
        try:
            con.execute(SCHEMA.read_text())
            ctx = BuildContext(con, raw_dir, build_id)
            ctx.geo_dir = tmp_geo
            ctx.geo_url = f"/app/static/geo/{build_id}"
            _load_sources(
                ctx, order_sources(sources if sources is not None else all_sources()), timings, log, _fail_after
            )
            exported: dict[str, int] = {}
            if derive:
                in_helper(preload, "etl.exports")  # for the open exports it writes while the answers are computed
                _derive_indicators(ctx, timings, log)
            _record_reports(con, ctx.reports)
            if derive:
                con, exported = _answers_and_exports(ctx, con, tmp_db, tmp_geo, log, timings)
                ctx.con = con
            _record_build(con, ctx, raw_dir, time.perf_counter() - t_start)
            if _fail_after == "before_publish":
                raise RuntimeError("injected failure before publish")
            _publish(con, tmp_db, tmp_geo, final_geo, db_path, build_id, exported)
            published = True
            _prune_geo(static_geo, keep=build_id)
        finally:
            if not published:
                if ctx is not None:
                    ctx.end_background()  # the helper writes no export into the folder being removed
                _discard(con, tmp_db, tmp_geo)
        total = time.perf_counter() - t_start
        log(f"  {'TOTAL':<22} {total:6.2f}s  → {db_path} (build {build_id})")
        return BuildResult(build_id, db_path, final_geo, total, ctx.reports, timings)


@contextlib.contextmanager
def _build_lock(db_path: Path):
    """Hold an exclusive ``fcntl`` lock beside the database for the whole build (released by the
    kernel if the process dies); a second build fails at once."""
    lock_path = db_path.parent / f".{db_path.name}.lock"
    lock_fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EtlInputError(f"another build holds {lock_path}; wait for it to finish") from None
        yield
    finally:
        os.close(lock_fd)


def _load_sources(
    ctx: BuildContext, sources: list[Source], timings: dict[str, float], log, _fail_after: str | None
) -> None:
    """Run every source's ``load`` in dependency order, timing and logging each. A ``background``
    source is started as soon as its dependencies are loaded, and loaded (its work collected) at its
    turn; the time logged for it is the wait plus its loading. Before the build first waits for
    background work, the sources still to load do their raw-file work (``prepare``) meanwhile."""
    try:
        _ready_helper_for(sources)
        _start_ready(ctx, sources, loaded=set())
        for i, src in enumerate(sources):
            if src.background and ctx.begun(src.id):  # about to wait for it: prepare what needs no database
                _prepare_all(ctx, sources[i:], log)
            _load_one(ctx, src, timings, log, _fail_after)
            _start_ready(ctx, sources[i + 1 :], loaded={s.id for s in sources[: i + 1]})
    finally:
        ctx.end_background()


def _ready_helper_for(sources: list[Source]) -> None:
    """Start the helper process now and have it import the background sources' modules while the
    first sources load, so their work begins the moment their dependencies are in (starting the
    helper and importing shapely and friends there had taken half a second of that work's time)."""
    for module in dict.fromkeys(type(s).__module__ for s in sources if s.background):
        in_helper(preload, module)


def _prepare_all(ctx: BuildContext, sources: list[Source], log) -> None:
    """The raw-file work of every source that has some (:meth:`Source.prepare`), done while the
    helper finishes the background work the build is about to wait for."""
    for src in sources:
        if type(src).prepare is not Source.prepare:
            t0 = time.perf_counter()
            ctx.prepare(src)
            log(f"  {src.id + ' (prepared)':<22} {time.perf_counter() - t0:6.2f}s  while background work finishes")


def _start_ready(ctx: BuildContext, waiting: list[Source], loaded: set[str]) -> None:
    for src in waiting:
        if src.background and not ctx.begun(src.id) and all(d in loaded for d in src.depends):
            src.start(ctx)


def _load_one(ctx: BuildContext, src: Source, timings: dict[str, float], log, _fail_after: str | None) -> None:
    t0 = time.perf_counter()
    rep = ctx.report(src.id)
    src.load(ctx)
    rep.seconds = time.perf_counter() - t0
    timings[src.id] = rep.seconds
    log(
        f"  {src.id:<22} {rep.seconds:6.2f}s  read {rep.rows_read:>8,}  loaded {rep.rows_loaded:>8,}"
        f"  unmatched {rep.count('unmatched'):>5}  warnings {rep.count('warning'):>4}"
    )
    if _fail_after == src.id:
        raise RuntimeError(f"injected failure after {src.id}")


def _derive_indicators(ctx: BuildContext, timings: dict[str, float], log) -> None:
    from . import indicators

    t0 = time.perf_counter()
    indicators.derive(ctx)
    timings["derive_indicators"] = time.perf_counter() - t0
    log(f"  {'derive_indicators':<22} {timings['derive_indicators']:6.2f}s")
    for line in report_index_use(ctx):  # which local figures feed the index, which are shown only
        log(f"  {line}")


def _answers_and_exports(
    ctx: BuildContext, con, tmp_db: Path, tmp_geo: Path, log, timings: dict[str, float]
) -> tuple[duckdb.DuckDBPyConnection, dict[str, int]]:
    """Checkpoint and close the new database; while this process computes the default answers
    from the file, the helper writes the open exports of its finished tables from it (both only
    read it). Then the answers are stored through a new connection. Returns that connection and
    the rows of each table exported."""
    from . import precompute

    t0 = time.perf_counter()
    con.execute("CHECKPOINT")
    con.close()
    ctx.begin(EXPORTS, write_tables, tmp_db, tmp_geo)
    tables = precompute.answers_of_file(tmp_db)
    exported = ctx.collect(EXPORTS)  # the helper has let the file go: it can be written again
    con = precompute.store_default_answers(tmp_db, tables)
    timings["default_answers"] = time.perf_counter() - t0
    log(
        f"  {'default_answers':<22} {timings['default_answers']:6.2f}s  rows {sum(len(t) for t in tables.values()):>8,}"
        f"  (open exports of {len(exported)} tables written meanwhile)"
    )
    return con, exported


def _record_build(con, ctx: BuildContext, raw_dir: Path, seconds: float) -> None:
    con.execute(
        "INSERT INTO build_info VALUES (?, ?, ?, ?, ?, ?)",
        [
            ctx.build_id,
            _dt.datetime.now(_dt.UTC).replace(tzinfo=None),
            str(raw_dir),
            _git_version(),
            round(seconds, 3),
            ctx.geo_url,
        ],
    )


def _publish(
    con, tmp_db: Path, tmp_geo: Path, final_geo: Path, db_path: Path, build_id: str, exported: dict[str, int]
) -> None:
    """Checkpoint, close and fsync the new database, write its open files beside its boundary
    files (those not ``exported`` already), move that folder into place, then swap the database
    over the live file with one atomic rename."""
    con.execute("CHECKPOINT")
    con.close()
    fsync_path(tmp_db)
    write_exports(tmp_db, tmp_geo, build_id, exported)  # open CSV/Parquet + catalogue, in this build's folder
    os.rename(tmp_geo, final_geo)
    os.replace(tmp_db, db_path)
    fsync_path(db_path.parent)


def _discard(con, tmp_db: Path, tmp_geo: Path) -> None:
    """Remove a failed build's files; the live database is untouched."""
    try:
        con.close()
    except Exception:
        pass
    tmp_db.unlink(missing_ok=True)
    Path(str(tmp_db) + ".wal").unlink(missing_ok=True)
    shutil.rmtree(tmp_geo, ignore_errors=True)
