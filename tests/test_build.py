"""The build publishes atomically: a failed or killed build leaves the previous database, byte for byte."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from etl.build import build
from etl.core import EtlInputError, Source, insert_rows

ROOT = Path(__file__).resolve().parent.parent


class TinySource(Source):
    """A real Source that loads one row per call into `areas` from a tiny CSV in the raw dir."""

    id = "tiny"
    title = "tiny fixture"
    publisher = "tests"
    licence = "CC0"
    vintage = "test"
    url = "https://example.invalid"
    files = ("tiny.csv",)

    def load(self, ctx):
        from etl.core import read_csv

        (path,) = self.paths(ctx)
        ctx.register_file(self, path)
        t = read_csv(path, ["code", "name"], ctx.report(self.id), unique=["code"])
        insert_rows(
            ctx.con,
            "areas",
            [
                (
                    r["code"],
                    r["name"],
                    "country",
                    "country",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "test",
                )
                for _, r in t
            ],
        )
        ctx.report(self.id).rows_loaded = len(t)


class Boom(TinySource):
    id = "boom"

    def load(self, ctx):
        raise EtlInputError("deliberately bad", file="bad.csv", row=7, column="value")


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture()
def tiny_raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "tiny.csv").write_text("code,name\nE92000001,England\n")
    return raw


def leftovers(db: Path, static: Path) -> list[Path]:
    return list(db.parent.glob(f".{db.name}.building-*")) + list((static / "geo").glob(".building-*"))


def test_build_publishes_and_records_provenance(tiny_raw, tmp_path):
    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    res = build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select name from areas").fetchall() == [("England",)]
    (file, digest) = con.execute("select file, sha256 from sources").fetchone()
    assert file == "tiny.csv" and digest == hashlib.sha256((tiny_raw / "tiny.csv").read_bytes()).hexdigest()
    assert con.execute("select build_id from build_info").fetchone()[0] == res.build_id
    assert con.execute("select rows_read, rows_loaded from load_report where source_id='tiny'").fetchone() == (0, 1)
    con.close()
    assert (static / "geo" / res.build_id).is_dir()
    assert leftovers(db, static) == []


def test_failed_build_leaves_previous_database_byte_for_byte(tiny_raw, tmp_path):
    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    first = build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    before = sha(db)
    with pytest.raises(EtlInputError) as err:
        build(tiny_raw, db, static_dir=static, sources=[TinySource(), Boom()], derive=False, log=lambda *a: None)
    assert "bad.csv" in str(err.value) and "row 7" in str(err.value) and "'value'" in str(err.value)
    assert sha(db) == before
    assert leftovers(db, static) == []
    assert sorted(p.name for p in (static / "geo").iterdir()) == [first.build_id]


@pytest.mark.parametrize("step", ["tiny", "before_publish"])
def test_failure_at_any_step_publishes_nothing(tiny_raw, tmp_path, step):
    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    before = sha(db)
    with pytest.raises(RuntimeError, match="injected"):
        build(
            tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None, _fail_after=step
        )
    assert sha(db) == before and leftovers(db, static) == []


def test_bad_raw_file_names_file_row_and_column(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "tiny.csv").write_text("code,name\nE92000001,England\nE92000001,Again\n")
    with pytest.raises(EtlInputError) as err:
        build(
            raw,
            tmp_path / "pb.duckdb",
            static_dir=tmp_path / "s",
            sources=[TinySource()],
            derive=False,
            log=lambda *a: None,
        )
    msg = str(err.value)
    assert "tiny.csv" in msg and "row 3" in msg and "'code'" in msg and "duplicate" in msg
    assert not (tmp_path / "pb.duckdb").exists()


KILLED_BUILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from etl.build import build
    from tests.test_build import TinySource

    class Slow(TinySource):
        id = "slow"
        def load(self, ctx):
            super().load(ctx)
            print("loading", flush=True)
            time.sleep(30)

    build(Path({raw!r}), Path({db!r}), static_dir=Path({static!r}), sources=[Slow()], derive=False)
""")


def test_killed_build_leaves_live_db_and_no_stale_lock(tiny_raw, tmp_path):
    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    before = sha(db)
    script = KILLED_BUILD.format(root=str(ROOT), raw=str(tiny_raw), db=str(db), static=str(static))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "loading"
    assert leftovers(db, static), "the build should be writing a temporary file"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert sha(db) == before
    duckdb.connect(str(db), read_only=True).close()
    # the next build is not blocked by the dead one's lock and removes its leftovers
    build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    assert leftovers(db, static) == []


def test_second_concurrent_build_is_refused(tiny_raw, tmp_path):
    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    script = KILLED_BUILD.format(root=str(ROOT), raw=str(tiny_raw), db=str(db), static=str(static))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "loading"
        with pytest.raises(EtlInputError, match="another build"):
            build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_cli_reports_error_and_exit_code(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl",
            "build",
            "--raw",
            str(tmp_path / "nope"),
            "--db",
            str(tmp_path / "x.duckdb"),
            "--no-fetch",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "raw data directory not found" in out.stderr and "previous database" in out.stderr


def test_garbage_collection_is_back_on_after_a_build_even_a_failed_one(tiny_raw, tmp_path):
    """The build pauses cyclic garbage collection (its objects live until it ends) and must give
    it back whatever happens."""
    import gc

    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    assert gc.isenabled()
    build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="injected"):
        build(
            tiny_raw,
            db,
            static_dir=static,
            sources=[TinySource()],
            derive=False,
            log=lambda *a: None,
            _fail_after="tiny",
        )
    assert gc.isenabled()
    gc.disable()
    try:
        build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


# --- work begun in the background (a Source with ``background``; boundaries is one) ----------


def helper_pid(marker: str | None = None, seconds: float = 0.0) -> int:
    """Runs in the build's helper process: its pid (written to ``marker`` first), after a wait."""
    import os
    import time

    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def helper_fails(path: str) -> None:
    raise EtlInputError("bad geometry", file=path, row=7, column="geom")


class Background(TinySource):
    """Loads `tiny`, with work begun in the helper as soon as `tiny` is loaded."""

    id = "background"
    depends = ("tiny",)
    background = True
    work: tuple = (helper_pid,)
    files = ()

    def start(self, ctx):
        ctx.begin(self.id, *self.work)

    def load(self, ctx):
        pid = ctx.collect(self.id)
        ctx.report(self.id).facts["helper_pid"] = pid


class After(TinySource):
    id = "after"
    depends = ()
    files = ()

    def load(self, ctx):
        ctx.report(self.id).facts["background_begun"] = float(ctx.begun("background"))


def test_background_source_is_begun_early_loaded_late_and_runs_in_another_process(tiny_raw, tmp_path):
    from etl.build import order_sources

    sources = [Background(), TinySource(), After()]
    assert [s.id for s in order_sources(sources)] == ["tiny", "after", "background"]
    res = build(tiny_raw, tmp_path / "pb.duckdb", static_dir=tmp_path / "s", sources=sources, derive=False, log=print)
    assert res.reports["after"].facts["background_begun"] == 1.0  # begun before `after` loaded
    assert res.reports["background"].facts["helper_pid"] not in (0, os.getpid())


class TinyNotingHelper(TinySource):
    """`tiny`, noting how many helper processes were running when it loaded (the first source)."""

    def load(self, ctx):
        from etl import core

        super().load(ctx)
        ctx.report(self.id).facts["helpers_running"] = float(len(getattr(core._HELPER, "_processes", None) or {}))


def test_helper_is_started_before_the_first_source_loads(tiny_raw, tmp_path):
    """The helper starts (and imports the background sources' modules) while the first sources
    load, not when the background work is begun."""
    from etl import core

    if core._HELPER is not None:  # one helper serves every build of a process: start from none
        core._HELPER.shutdown()
        core._HELPER = None
    sources = [Background(), TinyNotingHelper(), After()]
    res = build(tiny_raw, tmp_path / "pb.duckdb", static_dir=tmp_path / "s", sources=sources, derive=False, log=print)
    assert res.reports["tiny"].facts["helpers_running"] >= 1


class Prepared(TinySource):
    """Notes when its raw-file work ran: while the helper's work was still running or at its turn."""

    id = "prepared"
    depends = ("background",)
    files = ()

    def prepare(self, ctx):
        import time

        return {"helper_busy": float(ctx.begun("background")), "at": time.perf_counter()}

    def load(self, ctx):
        import time

        facts = ctx.report(self.id).facts
        facts.update(ctx.prepared(self))
        facts["waited"] = time.perf_counter() - facts["at"]


def test_raw_file_work_is_prepared_while_the_build_waits_for_background_work(tiny_raw, tmp_path):
    slow = Background()
    slow.work = (helper_pid, None, 0.5)
    res = build(
        tiny_raw, tmp_path / "a.duckdb", static_dir=tmp_path / "s", sources=[TinySource(), slow, Prepared()],
        derive=False, log=print,
    )  # fmt: skip
    facts = res.reports["prepared"].facts
    assert facts["helper_busy"] == 1.0  # prepared before the background work was collected
    assert facts["waited"] >= 0.4  # ... so well before its own turn
    alone = build(
        tiny_raw, tmp_path / "b.duckdb", static_dir=tmp_path / "s2", sources=[TinySource(), Prepared()],
        derive=False, log=print,
    )  # fmt: skip
    assert alone.reports["prepared"].facts["helper_busy"] == 0.0  # nothing to wait for: prepared at its turn
    assert alone.reports["prepared"].facts["waited"] < 0.4


def test_error_in_background_work_keeps_its_location_and_publishes_nothing(tiny_raw, tmp_path):
    failing = Background()
    failing.work = (helper_fails, "boundaries.geojson")
    db = tmp_path / "pb.duckdb"
    with pytest.raises(EtlInputError) as err:
        build(tiny_raw, db, static_dir=tmp_path / "s", sources=[TinySource(), failing], derive=False, log=print)
    assert (err.value.file, err.value.row, err.value.column) == ("boundaries.geojson", 7, "geom")
    assert "boundaries.geojson, row 7, column 'geom': bad geometry" in str(err.value)
    assert not db.exists() and leftovers(db, tmp_path / "s") == []


KILLED_WITH_HELPER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from etl.build import build
    from tests.test_build import Background, TinySource, helper_pid

    class SlowHelper(Background):
        work = (helper_pid, {marker!r}, 60)

    build(Path({raw!r}), Path({db!r}), static_dir=Path({static!r}), sources=[TinySource(), SlowHelper()], derive=False)
""")


def test_killed_build_takes_its_helper_with_it(tiny_raw, tmp_path):
    import time

    marker = tmp_path / "helper.pid"
    script = KILLED_WITH_HELPER.format(
        root=str(ROOT),
        raw=str(tiny_raw),
        db=str(tmp_path / "pb.duckdb"),
        static=str(tmp_path / "s"),
        marker=str(marker),
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, "the helper never started"
        time.sleep(0.05)
    helper = int(marker.read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    while Path(f"/proc/{helper}").exists() and "zombie" not in _state(helper):
        assert time.monotonic() < deadline + 10, "the helper outlived the killed build"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def helper_spins(seconds: float) -> None:
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_helpers_cpu_is_counted():
    """bench.ratios counts a build's CPU whole: its own and its helper process's."""
    from etl.core import helper_cpu_seconds, in_helper

    in_helper(helper_spins, 0.0).result()  # the helper is up
    before = helper_cpu_seconds()
    in_helper(helper_spins, 0.3).result()
    assert helper_cpu_seconds() - before >= 0.25


def test_helper_work_runs_with_the_collector_paused():
    """As the build pauses cyclic garbage collection in its own process, work begun in the helper runs
    without it; the collector is on again between pieces of work."""
    import gc

    from etl.core import _without_gc, in_helper

    assert in_helper(gc.isenabled).result() is False
    assert gc.isenabled()
    assert _without_gc(gc.isenabled) is False
    assert gc.isenabled()


def test_work_is_done_in_the_build_when_the_helper_dies(tmp_path):
    """A helper killed mid-work (out of memory, say) costs time, not the build: the work is done
    in the build's own process, and the next work gets a new helper."""
    import time

    from etl.core import in_helper

    marker = tmp_path / "helper.pid"
    work = in_helper(helper_pid, str(marker), 1.0)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the helper never started"
        time.sleep(0.02)
    os.kill(int(marker.read_text()), signal.SIGKILL)
    assert work.result() == os.getpid()
    assert in_helper(helper_pid).result() not in (0, os.getpid())


def test_exports_written_beside_the_default_answers_match_the_database(tiny_raw, tmp_path, monkeypatch):
    """The helper writes the open exports of the finished tables while the build computes the
    default answers; the files are those of the published database."""
    import pandas as pd

    from etl import build as build_module
    from etl import precompute
    from etl.exports import EXPORT_DIR, TABLES

    monkeypatch.setattr(build_module, "_derive_indicators", lambda *a: None)  # tiny has nothing to derive from
    monkeypatch.setattr(precompute, "answers_of_file", lambda path: {})
    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    res = build(tiny_raw, db, static_dir=static, sources=[TinySource()], log=lambda *a: None)
    con = duckdb.connect(str(db), read_only=True)
    try:
        for name, (_, select, _) in TABLES.items():
            written = pd.read_parquet(res.geo_dir / EXPORT_DIR / f"{name}.parquet")
            assert len(written) == con.execute(f"SELECT count(*) FROM ({select})").fetchone()[0], name
    finally:
        con.close()
    assert leftovers(db, static) == []


def test_failure_while_the_helper_writes_exports_publishes_nothing_and_leaves_no_files(tiny_raw, tmp_path, monkeypatch):
    """A build failing while its helper writes the open exports waits for the helper before it
    removes its files: the live database is untouched and nothing is written after."""
    import time

    from etl import build as build_module
    from etl import precompute

    def fail(path):
        raise RuntimeError("injected failure computing the default answers")

    db, static = tmp_path / "pb.duckdb", tmp_path / "static"
    build(tiny_raw, db, static_dir=static, sources=[TinySource()], derive=False, log=lambda *a: None)
    before = sha(db)
    monkeypatch.setattr(build_module, "_derive_indicators", lambda *a: None)
    monkeypatch.setattr(precompute, "answers_of_file", fail)
    with pytest.raises(RuntimeError, match="injected failure computing"):
        build(tiny_raw, db, static_dir=static, sources=[TinySource()], log=lambda *a: None)
    time.sleep(0.3)  # any export still being written would appear now
    assert sha(db) == before and leftovers(db, static) == []
    assert len(list((static / "geo").iterdir())) == 1  # the first build's folder only
