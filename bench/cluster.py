"""Several workers behind nginx for the bench and the tests.

:class:`ClusterServer` starts ``python -m powerbalance.cluster`` (what ``make serve`` runs) on a free
127.0.0.1 port with the ``X-PB-Worker`` diagnostic header on, and stops it (by the process group it
started) afterwards. bench/ratios.py runs the same sessions through it with one worker and with
two, in the same run, and reports the throughput ratio; tests/test_nginx.py drives it directly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .app import free_port, server_env, start_session, stop_session, wait_ready


def nginx_available() -> bool:
    from powerbalance.cluster import nginx_binary

    return nginx_binary() is not None


class ClusterServer:
    """``python -m powerbalance.cluster --workers N`` serving ``app_dir/dashboard.py`` through nginx."""

    def __init__(self, app_dir: Path, db_path: Path, workers: int = 2, timeout: float = 300.0):
        self.app_dir, self.db_path, self.workers, self.timeout = (
            Path(app_dir),
            Path(db_path).resolve(),
            workers,
            timeout,
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = Path(tempfile.mkdtemp(prefix="pb-cluster-"))
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> ClusterServer:
        self.log = open(self.run_dir / "cluster.log", "wb")
        cmd = [sys.executable, "-m", "powerbalance.cluster", "--workers", str(self.workers)]
        cmd += ["--port", str(self.port), "--worker-port", str(free_port()), "--run-dir", str(self.run_dir)]
        cmd += ["--worker-header", "--script", str(self.app_dir / "dashboard.py")]
        self.proc = start_session(cmd, self.app_dir, server_env(self.db_path), self.log)
        # nginx up and a worker behind it
        wait_ready(self, lambda: bool(self.state().get("nginx")) and _healthy(self.url), 0.5, "the cluster")
        return self

    def state(self) -> dict:
        """workers.json of the run: nginx's pid, and each worker's port, pid and restarts."""
        try:
            return json.loads((self.run_dir / "workers.json").read_text())
        except (OSError, ValueError):
            return {}

    def worker_pids(self) -> dict[str, int]:
        """'127.0.0.1:<port>' (as X-PB-Worker names it) -> the worker's current pid."""
        return {f"127.0.0.1:{w['port']}": w["pid"] for w in self.state().get("workers", [])}

    def output(self) -> str:
        parts = [p.read_text(errors="replace") for p in sorted(self.run_dir.glob("*.log"))]
        return "\n".join(parts)[-20000:]

    def __exit__(self, *exc) -> None:
        stop_session(self.proc, grace=30)  # the supervisor stops its workers and nginx
        self.log.close()


def _healthy(url: str) -> bool:
    from powerbalance.cluster import worker_healthy

    return worker_healthy(int(url.rsplit(":", 1)[1]))
