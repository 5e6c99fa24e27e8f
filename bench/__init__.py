"""Benchmarks (``python -m bench``, ``make bench``) and the harness they share with the tests.

- :mod:`bench.app`: run the real dashboard (:func:`~bench.app.served_app`,
  :class:`~bench.app.StreamlitServer`, :func:`~bench.app.build_of`).
- :mod:`bench.browser`: Chromium for Playwright and the websocket :class:`~bench.browser.Watcher`.
- :mod:`bench.compute`, :mod:`bench.concurrency`: the measurements.

The names below are re-exported (listed in ``__all__``) so that code written against the old
``from bench import …`` keeps working; new code imports from the modules themselves.
"""

from __future__ import annotations

from .app import ROOT, StreamlitServer, build_of, free_port, proc_status_mb, served_app
from .browser import CHROMIUM, CHROMIUM_ARGS, MAP_READY_JS, Watcher, chromium_path, click_map, first_map

__all__ = [
    "ROOT",
    "StreamlitServer",
    "build_of",
    "free_port",
    "proc_status_mb",
    "served_app",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "MAP_READY_JS",
    "Watcher",
    "chromium_path",
    "click_map",
    "first_map",
]
