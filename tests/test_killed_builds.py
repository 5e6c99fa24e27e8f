"""Killed builds: SIGKILL a real build at random moments; the live database must stay as it was
(byte for byte) and openable, and nothing may be left that blocks or confuses the next build.

Two kinds of build are killed, each on the real raw files:

- 20 kills of a *short* build — the real ``etl.build.build`` publish path with a few real
  sources (geography, parishes, participation, the 360Giving aggregate), a few seconds long, so
  the kills land all through it: reading, loading, the checkpoint, the fsync and the rename. A
  third of the kill times are drawn from the last 15% of the build (and a little past it), where
  the publish happens.
- 3 kills of the full ``python -m etl build`` command on every source, at random times within
  its measured length.

After every kill: the process and its children are gone; the live file is unchanged (or, when
the kill came after the atomic rename, is the complete new build with its boundary folder); it
opens read-only both directly and through powerbalance.db; there is no ``.wal`` beside it; the
build lock can be taken at once. The next build starts without "another build holds the lock",
and the final build leaves no temporary file or folder of any killed build behind.

The random seed is printed and can be fixed with ``PB_KILL_SEED=<n>``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from bench.app import build_of
from powerbalance import db as pbdb

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SHORT_SOURCES = ("geography", "parishes", "participation", "grants_360_aggregate")
SHORT_KILLS = 20
FULL_KILLS = 3
SEED = int(os.environ.get("PB_KILL_SEED", str(int(time.time()))))

SHORT_BUILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from etl.build import build
    from etl.sources import all_sources

    build(Path({raw!r}), Path({db!r}), static_dir=Path({static!r}),
          sources=[s for s in all_sources() if s.id in {ids!r}], derive=False)
""")


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def leftovers(dbp: Path, static: Path) -> list[str]:
    return sorted(
        p.name for p in list(dbp.parent.glob(f".{dbp.name}.building-*")) + list((static / "geo").glob(".building-*"))
    )


class Site:
    """A live database and its static folder, as a server would have them."""

    def __init__(self, root: Path, raw: Path):
        self.raw = raw
        self.dbp = root / "live" / "pb.duckdb"
        self.static = root / "static"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.kills: list[str] = []

    def short_cmd(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            SHORT_BUILD.format(
                root=str(ROOT), raw=str(self.raw), db=str(self.dbp), static=str(self.static), ids=SHORT_SOURCES
            ),
        ]

    def full_cmd(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "etl",
            "build",
            "--raw",
            str(self.raw),
            "--db",
            str(self.dbp),
            "--static",
            str(self.static),
            "--no-fetch",
        ]

    def start(self, cmd: list[str], name: str) -> tuple[subprocess.Popen, Path]:
        log = self.logs / f"{name}.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # progress lines reach the log as they happen
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        return proc, log

    def run(self, cmd: list[str], name: str, marker: str | None = None) -> tuple[float, float]:
        """A complete build: (wall time, time from ``marker`` appearing in its log to the end)."""
        t0 = time.perf_counter()
        proc, log = self.start(cmd, name)
        seen = None
        while proc.poll() is None:
            if marker and seen is None and _has_line(log, marker):
                seen = time.perf_counter()
            time.sleep(0.01)
        end = time.perf_counter()
        assert proc.returncode == 0, log.read_text()[-3000:]
        return end - t0, (end - seen) if seen else 0.0

    def kill_at(self, cmd: list[str], name: str, after: float, marker: str | None = None) -> str:
        """Start a build and SIGKILL its process group ``after`` seconds after it starts (or after
        ``marker`` appears in its output); return its log."""
        proc, log = self.start(cmd, name)
        if marker:
            while proc.poll() is None and not _has_line(log, marker):
                time.sleep(0.005)
        try:
            proc.wait(timeout=after)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
            os.killpg(proc.pid, signal.SIGKILL)  # the build and any child it started (git)
            proc.wait(timeout=30)
        text = log.read_text(errors="replace")
        assert "another build holds" not in text, f"a killed build's lock blocked this one:\n{text}"
        stage = [ln.split()[0] for ln in text.splitlines() if ln.startswith("  ")]
        when = f"{after:.2f}s after {marker!r} appeared" if marker else f"{after:.2f}s"
        self.kills.append(
            f"{name}: {'finished' if finished else 'killed'} at {when}; last step done: "
            f"{stage[-1] if stage else 'none'}"
        )
        return text


def _has_line(log: Path, marker: str) -> bool:
    try:
        return any(ln.startswith(marker) for ln in log.read_text(errors="replace").splitlines())
    except OSError:
        return False


def assert_live_intact(site: Site, before_sha: str, before_id: str, seed: int) -> tuple[str, str]:
    """The checks after one kill; returns the (sha, build id) now live."""
    dbp, static = site.dbp, site.static
    where = f"(seed {seed}; {site.kills[-1]})"
    now = sha(dbp)
    if now != before_sha:
        # only a complete build may have replaced it: one build_info row, its boundary folder present
        new_id = build_of(dbp)[0]
        assert new_id != before_id, where
        con = duckdb.connect(str(dbp), read_only=True)
        try:
            geo = con.execute("SELECT geo_path FROM build_info").fetchone()[0]
        finally:
            con.close()
        assert (static / "geo" / geo.rsplit("/", 1)[-1]).is_dir(), f"published build without its boundaries {where}"
    con = duckdb.connect(str(dbp), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM areas").fetchone()[0] > 7000, where
    finally:
        con.close()
    assert pbdb.query("SELECT count(*) AS n FROM areas", db=dbp)["n"].iloc[0] > 7000, where
    assert not Path(str(dbp) + ".wal").exists(), f"WAL beside the live database {where}"
    lock = dbp.parent / f".{dbp.name}.lock"
    if lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a dead build still held it
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return now, build_of(dbp)[0]


def test_short_builds_killed_at_random_points(raw_dir, tmp_path):
    rng = random.Random(SEED)
    site = Site(tmp_path, raw_dir)
    from etl.build import order_sources
    from etl.sources import all_sources

    # printed when the last source is loaded: reports, checkpoint, fsync and renames follow
    last = f"  {order_sources([s for s in all_sources() if s.id in SHORT_SOURCES])[-1].id} "
    length, publish = site.run(site.short_cmd(), "first", marker=last)
    before, before_id = sha(site.dbp), build_of(site.dbp)[0]
    published = 0
    for i in range(SHORT_KILLS):
        if i % 3:  # anywhere while sources load
            site.kill_at(site.short_cmd(), f"short-{i:02d}", rng.uniform(0.05, length - publish))
        else:  # while reports are written, checkpointed, fsynced and renamed into place
            site.kill_at(site.short_cmd(), f"short-{i:02d}", rng.uniform(0.0, 1.2 * publish), marker=last)
        now, now_id = assert_live_intact(site, before, before_id, SEED)
        published += now != before
        before, before_id = now, now_id
    # the next complete build is not blocked and sweeps every killed build's leftovers away
    site.run(site.short_cmd(), "final")
    assert leftovers(site.dbp, site.static) == [], f"seed {SEED}"
    assert not Path(str(site.dbp) + ".wal").exists()
    print(
        f"\nseed {SEED}; short build {length:.1f}s, of which publishing {publish:.2f}s; {published} of "
        f"{SHORT_KILLS} builds got as far as publishing\n" + "\n".join(site.kills)
    )
    assert published < SHORT_KILLS / 2, "most kills came too late to test anything; the kill times are wrong"


def test_full_build_command_killed(raw_dir, built, tmp_path):
    """Kills of ``python -m etl build`` on every source. The live database to protect is a copy
    of the session's full build (so no extra full build is needed to set it up)."""
    rng = random.Random(SEED + 1)
    db0, static0, result = built
    site = Site(tmp_path, raw_dir)
    site.dbp.parent.mkdir(parents=True)
    shutil.copyfile(db0, site.dbp)
    shutil.copytree(static0 / "geo" / result.build_id, site.static / "geo" / result.build_id)
    length = max(result.seconds, 5.0) + 2.0  # + interpreter start-up
    before, before_id = sha(site.dbp), build_of(site.dbp)[0]
    for i in range(FULL_KILLS):
        after = rng.uniform(0.5, 0.95 * length)
        site.kill_at(site.full_cmd(), f"full-{i}", after)
        before, before_id = assert_live_intact(site, before, before_id, SEED + 1)
    site.run(site.short_cmd(), "final")  # not blocked, and sweeps the killed builds' leftovers away
    assert leftovers(site.dbp, site.static) == [], f"seed {SEED + 1}"
    print(f"\nseed {SEED + 1}; full build ~{length:.0f}s\n" + "\n".join(site.kills))
