"""Several workers behind nginx for the bench and the tests.

:class:`ClusterServer` starts ``python -m powerbalance.cluster`` (what ``make serve`` runs) on a free
127.0.0.1 port with the ``X-PB-Worker`` diagnostic header on, and stops it (by the process group it
started) afterwards. bench/ratios.py runs the same sessions through it with one worker and with
two, in the same run, and reports the throughput ratio; tests/test_nginx.py drives it directly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import ROOT, free_port


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
        worker_port = free_port()
        env = dict(
            os.environ,
            POWERBALANCE_DB=str(self.db_path),
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        )
        self.log = open(self.run_dir / "cluster.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "powerbalance.cluster",
                "--workers",
                str(self.workers),
                "--port",
                str(self.port),
                "--worker-port",
                str(worker_port),
                "--run-dir",
                str(self.run_dir),
                "--worker-header",
                "--script",
                str(self.app_dir / "dashboard.py"),
            ],
            cwd=self.app_dir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the cluster exited early:\n{self.output()}")
            if self.state().get("nginx") and _healthy(self.url):  # nginx up and a worker behind it
                return self
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"the cluster did not start within {self.timeout}s:\n{self.output()}")

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
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the supervisor stops its workers and nginx
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def _healthy(url: str) -> bool:
    from powerbalance.cluster import worker_healthy

    return worker_healthy(int(url.rsplit(":", 1)[1]))
