"""Running the real dashboard for the bench (``python -m bench``) and the tests.

- :func:`served_app` yields a folder whose ``dashboard.py`` can be run with this build's
  boundary files served: the repository itself, with the build's ``static/geo/<build_id>/``
  copied into ``static/geo/`` when it is not there (and removed again afterwards — a copy, not
  a build, so the ``static/geo`` pruning of real builds is never triggered and nobody's files
  are replaced).
- :class:`StreamlitServer` runs ``streamlit run`` on a free 127.0.0.1 port and stops the
  process it started (by its own pid) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_of(db_path: Path) -> tuple[str, str]:
    """(build_id, geo_path) of a built database."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        build_id, geo_path = con.execute("SELECT build_id, geo_path FROM build_info").fetchone()
    finally:
        con.close()
    return build_id, geo_path


@contextlib.contextmanager
def served_app(db_path: Path, static_dir: Path | None) -> Iterator[Path]:
    """Folder holding a runnable ``dashboard.py`` with this build's boundaries served.

    ``static_dir`` is the ``--static`` folder the database was built with (its ``geo/<id>``
    is copied in when it is not already served)."""
    build_id, _ = build_of(db_path)
    target = ROOT / "static" / "geo" / build_id
    created = False
    if not target.exists() and static_dir is not None and (Path(static_dir) / "geo" / build_id).is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(static_dir) / "geo" / build_id, target)
        created = True
    try:
        yield ROOT
    finally:
        if created:
            shutil.rmtree(target, ignore_errors=True)


def proc_status_mb(pid: int, field: str) -> float | None:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM, …) in MB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def server_env(db_path: Path) -> dict:
    """The environment a served dashboard runs with: this database, and the repository importable."""
    return dict(
        os.environ,
        POWERBALANCE_DB=str(db_path),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )


def start_session(cmd: list[str], cwd: Path, env: dict, log) -> subprocess.Popen:
    """``cmd`` in a process session of its own (so :func:`stop_session` stops it and its children),
    its output into ``log``."""
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(server, ready: Callable[[], bool], pause: float, what: str) -> None:
    """Wait until ``ready()``; a process that exits first, or a ``server.timeout`` that passes, stops
    ``server`` and raises with its output."""
    deadline = time.time() + server.timeout
    while time.time() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{server.output()}")
        if ready():
            return
        time.sleep(pause)
    server.__exit__(None, None, None)
    raise RuntimeError(f"{what} did not start within {server.timeout}s:\n{server.output()}")


def stop_session(proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM to the session ``proc`` leads (what we started and nothing else), SIGKILL after ``grace`` s."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class StreamlitServer:
    """``streamlit run <app>/dashboard.py`` (through ``powerbalance.serve``, as ``make run`` starts it)
    on 127.0.0.1:<free port>, stopped on exit."""

    def __init__(self, app_dir: Path, db_path: Path, port: int | None = None, timeout: float = 60.0):
        self.app_dir, self.db_path = Path(app_dir), Path(db_path).resolve()  # the server runs in app_dir
        self.port = port or free_port()
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StreamlitServer:
        self.log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "powerbalance.serve", str(self.app_dir / "dashboard.py")]
        cmd += ["--server.port", str(self.port), "--server.address", "127.0.0.1"]
        cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
        self.proc = start_session(cmd, self.app_dir, server_env(self.db_path), self.log)
        wait_ready(self, lambda: _health_ok(self.url), 0.3, "streamlit")
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory of the server process (VmHWM), in MB."""
        return proc_status_mb(self.proc.pid, "VmHWM")

    def __exit__(self, *exc) -> None:
        stop_session(self.proc, grace=10)
