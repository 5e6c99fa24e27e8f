"""Running the real dashboard for the bench (``python -m bench``) and the browser tests.

- :func:`served_app` yields a folder whose ``dashboard.py`` can be run with this build's
  boundary files served: the repository itself, with the build's ``static/geo/<build_id>/``
  copied into ``static/geo/`` when it is not there (and removed again afterwards — a copy, not
  a build, so the ``static/geo`` pruning of real builds is never triggered and nobody's files
  are replaced).
- :class:`StreamlitServer` runs ``streamlit run`` on a free 127.0.0.1 port and stops the
  process it started (by its own pid) afterwards.
- :data:`CHROMIUM_ARGS` / :func:`chromium_path`: Debian's Chromium for Playwright, headless,
  no network side-channels.
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
from pathlib import Path
from typing import Iterator

import duckdb

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # MapLibre needs WebGL; without a GPU Chromium provides it only through SwiftShader.
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def chromium_path() -> str | None:
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


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


class Watcher:
    """Reads the Streamlit websocket of a Playwright page: bytes the server sends, when each
    script run starts (the browser's ``rerun_script`` message) and finishes (the server's
    ``script_finished``), any exception element the server renders and any "page not found"
    dialog it asks the browser to show.

    Every frame is decoded with Streamlit's own protobuf classes, so "finished" means the
    server says the script finished — not a guess from the page's look.
    """

    def __init__(self, page) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._Fwd, self._Back = ForwardMsg, BackMsg
        self.page = page
        self.bytes_received = 0
        self.frames = 0
        self.runs_started: list[float] = []
        self.runs_finished: list[tuple[float, str]] = []
        self.exceptions: list[str] = []
        self.page_names: list[str] = []         # pages of the last navigation message
        self.pages_not_found = 0                # "page not found" dialogs the server asked for
        # HTTP is measured with the browser's Resource Timing (bytes on the wire, after gzip),
        # which also sees fetches Playwright's response events report late or not at all.
        page.add_init_script("performance.setResourceTimingBufferSize(100000)")
        page.on("websocket", self._on_ws)

    def resources(self) -> list[dict]:
        """Every HTTP resource the current document loaded: name, transferSize, decodedBodySize."""
        try:
            return self.page.evaluate(
                "performance.getEntriesByType('resource').map(e => ({name: e.name, transfer: e.transferSize, "
                "decoded: e.decodedBodySize}))")
        except Exception:  # navigating: no document to ask
            return []

    def _on_ws(self, ws) -> None:
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _sent(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._Back()
        try:
            msg.ParseFromString(payload)
        except Exception:
            return
        if msg.WhichOneof("type") == "rerun_script":
            self.runs_started.append(time.perf_counter())

    def _received(self, payload) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.bytes_received += len(data)
        self.frames += 1
        msg = self._Fwd()
        try:
            msg.ParseFromString(data)
        except Exception:
            return
        kind = msg.WhichOneof("type")
        if kind == "navigation":
            self.page_names = [p.page_name for p in msg.navigation.app_pages]
        elif kind == "page_not_found":
            self.pages_not_found += 1
        elif kind == "script_finished":
            self.runs_finished.append((time.perf_counter(), self._Fwd.ScriptFinishedStatus.Name(msg.script_finished)))
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            if el.WhichOneof("type") == "exception":
                self.exceptions.append(el.exception.type + ": " + el.exception.message)

    def mark(self) -> dict:
        """Counters now, to measure one interaction as the difference to a later mark."""
        return {"bytes": self.bytes_received, "started": len(self.runs_started), "finished": len(self.runs_finished),
                "http": len(self.resources())}

    def wait_idle(self, page, since: dict, timeout: float = 120.0, settle: float = 0.6) -> dict:
        """Wait until at least one run started after ``since`` has finished successfully and no
        new run starts for ``settle`` seconds (a switch_page is a second run). Returns the
        interaction's server time (first rerun request → last successful finish), bytes over
        the websocket and HTTP bytes fetched."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            page.wait_for_timeout(50)
            done = [f for f in self.runs_finished[since["finished"]:] if f[1] == "FINISHED_SUCCESSFULLY"]
            if done and len(self.runs_finished) >= len(self.runs_started) and \
                    time.perf_counter() - self.runs_finished[-1][0] >= settle:
                start = self.runs_started[since["started"]] if len(self.runs_started) > since["started"] else None
                end = done[-1][0]
                new = self.resources()[since["http"]:]
                return {"seconds": (end - start) if start else None,
                        "ws_bytes": self.bytes_received - since["bytes"],
                        "http_bytes": sum(r["transfer"] for r in new),
                        "http": new}
        raise TimeoutError(f"the app did not finish a run within {timeout}s (runs started "
                           f"{len(self.runs_started) - since['started']}, finished "
                           f"{[f[1] for f in self.runs_finished[since['finished']:]]}, exceptions {self.exceptions})")


_FIRST_MAP_JS = ("[...document.querySelectorAll('.js-plotly-plot')]"
                 ".find(g => g.querySelector('canvas.maplibregl-canvas'))")
#: True once the first Plotly map on the page can answer hover and clicks (its shapes are
#: indexed: Plotly fills ``_polygons`` when the boundary file has arrived and been drawn).
MAP_READY_JS = f"""() => {{ const gd = {_FIRST_MAP_JS};
  return !!(gd && gd.calcdata && gd.calcdata.length && gd.calcdata[0][0] && gd.calcdata[0][0]._polygons); }}"""


def first_map(page):
    """Locator of the first Plotly figure on the page that is a map."""
    return page.locator(".js-plotly-plot", has=page.locator("canvas.maplibregl-canvas")).first


def click_map(page, fx: float = 0.5, fy: float = 0.55, timeout_ms: int = 60_000) -> None:
    """Hover then click a point of the first map, as a person would: Plotly picks the area to
    click from its hover data, so the pointer moves there and the click waits until Plotly has
    found the area under it (on a busy machine that takes a while for 6,862 wards)."""
    page.wait_for_function(MAP_READY_JS, timeout=timeout_ms)
    page.wait_for_timeout(300)  # a rerun may still be redrawing the same figure
    page.wait_for_function(MAP_READY_JS, timeout=timeout_ms)
    plot = first_map(page)
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.evaluate(f"() => {{ const gd = {_FIRST_MAP_JS}; gd._hoverdata = undefined; }}")
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y, steps=8)
    page.wait_for_function(f"() => {{ const gd = {_FIRST_MAP_JS};"
                           " return !!(gd && gd._hoverdata && gd._hoverdata.length); }", timeout=timeout_ms)
    page.mouse.click(x, y)


def proc_status_mb(pid: int, field: str) -> float | None:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM, …) in MB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class StreamlitServer:
    """``streamlit run <app>/dashboard.py`` (through ``powerbalance.serve``, as ``make run`` starts it)
    on 127.0.0.1:<free port>, stopped on exit."""

    def __init__(self, app_dir: Path, db_path: Path, port: int | None = None, timeout: float = 60.0):
        self.app_dir, self.db_path = Path(app_dir), Path(db_path).resolve()  # the server runs in app_dir
        self.port = port or free_port()
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "StreamlitServer":
        env = dict(os.environ, POWERBALANCE_DB=str(self.db_path),
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "powerbalance.serve", str(self.app_dir / "dashboard.py"), "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=self.app_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"streamlit did not start within {self.timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory of the server process (VmHWM), in MB."""
        return proc_status_mb(self.proc.pid, "VmHWM")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the session we started: streamlit and nothing else
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
