"""The browser side of the bench and the browser tests: Debian's Chromium for Playwright
(:data:`CHROMIUM_ARGS`, :func:`chromium_path`: headless, no network side-channels), the
:class:`Watcher` that reads a page's Streamlit websocket, and map helpers (:func:`click_map`).
"""

from __future__ import annotations

import os
import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # MapLibre needs WebGL; without a GPU Chromium provides it only through SwiftShader.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def chromium_path() -> str | None:
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


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
        self.page_names: list[str] = []  # pages of the last navigation message
        self.pages_not_found = 0  # "page not found" dialogs the server asked for
        # HTTP is measured with the browser's Resource Timing (bytes on the wire, after gzip),
        # which also sees fetches Playwright's response events report late or not at all.
        page.add_init_script("performance.setResourceTimingBufferSize(100000)")
        page.on("websocket", self._on_ws)

    def resources(self) -> list[dict]:
        """Every HTTP resource the current document loaded: name, transferSize, decodedBodySize."""
        try:
            return self.page.evaluate(
                "performance.getEntriesByType('resource').map(e => ({name: e.name, transfer: e.transferSize, "
                "decoded: e.decodedBodySize}))"
            )
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
        return {
            "bytes": self.bytes_received,
            "started": len(self.runs_started),
            "finished": len(self.runs_finished),
            "http": len(self.resources()),
        }

    def wait_idle(self, page, since: dict, timeout: float = 120.0, settle: float = 0.6) -> dict:
        """Wait until at least one run started after ``since`` has finished successfully and no
        new run starts for ``settle`` seconds (a switch_page is a second run). Returns the
        interaction's server time (first rerun request → last successful finish), bytes over
        the websocket and HTTP bytes fetched."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            page.wait_for_timeout(50)
            done = [f for f in self.runs_finished[since["finished"] :] if f[1] == "FINISHED_SUCCESSFULLY"]
            if (
                done
                and len(self.runs_finished) >= len(self.runs_started)
                and time.perf_counter() - self.runs_finished[-1][0] >= settle
            ):
                start = self.runs_started[since["started"]] if len(self.runs_started) > since["started"] else None
                end = done[-1][0]
                new = self.resources()[since["http"] :]
                return {
                    "seconds": (end - start) if start else None,
                    "ws_bytes": self.bytes_received - since["bytes"],
                    "http_bytes": sum(r["transfer"] for r in new),
                    "http": new,
                }
        raise TimeoutError(
            f"the app did not finish a run within {timeout}s (runs started "
            f"{len(self.runs_started) - since['started']}, finished "
            f"{[f[1] for f in self.runs_finished[since['finished'] :]]}, exceptions {self.exceptions})"
        )


_FIRST_MAP_JS = (
    "[...document.querySelectorAll('.js-plotly-plot')].find(g => g.querySelector('canvas.maplibregl-canvas'))"
)
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
    page.wait_for_function(
        f"() => {{ const gd = {_FIRST_MAP_JS}; return !!(gd && gd._hoverdata && gd._hoverdata.length); }}",
        timeout=timeout_ms,
    )
    page.mouse.click(x, y)
