"""Start the dashboard: ``python -m powerbalance.serve [APP.py] [streamlit run options]``.

The same as ``streamlit run dashboard.py …`` with one difference. Streamlit (1.67) decides once
per server process whether the app is a version-1 multipage app by looking for a folder named
``pages/`` beside the main script, and keeps that answer until ``st.navigation`` has run once.
Our ``pages/`` folder holds the pages of a ``st.navigation`` router (``dashboard.py``), so on a
freshly started server the first deep link (``/compare``) was served by the v1 machinery: the
right page, but under a "page not found" dialog. This launcher records the right answer (no v1
pages folder) before the server starts, so the first visitor gets what every later one gets.

Before the server listens, it warms this process's caches (:mod:`powerbalance.warm`: the
index, rank bands, shifts and neighbours every visitor needs with default settings, and every
council's profile as My area first shows it) and then
freezes the objects that live as long as the process (``gc.freeze``), so the garbage collector
no longer walks the ~300 MB of tables, modules and caches on every collection. A worker behind
nginx (``powerbalance.cluster``) therefore takes its first visitor warm. ``POWERBALANCE_WARM=0``
skips the warm-up (the answers are then computed on first use, as before).

``make run``, ``make serve``, the benchmarks and the browser tests all start the app through here.
"""

from __future__ import annotations

import functools
import gc
import os
import socket
import sys

from powerbalance.config import ROOT


def warm_up() -> None:
    """Fill the default answers' caches, then move everything alive now out of the collector's way."""
    if os.environ.get("POWERBALANCE_WARM", "1") != "0":
        from powerbalance import db, warm

        warm.import_page_modules()

        try:
            db.build_key()
        except Exception as exc:  # noqa: BLE001 - no or a broken database: the pages say so to users
            print(f"warm-up skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            warm.warm_caches(log=lambda msg: print(msg, file=sys.stderr, flush=True))
    gc.collect()
    gc.freeze()


def no_nagle() -> None:
    """Turn Nagle's algorithm off for every connection the server accepts.

    Streamlit (1.67, its Starlette server) binds its listening socket itself, as protocol 0, and
    asyncio turns Nagle's algorithm off only on sockets marked TCP. So each websocket held every
    small message of a page run until the previous one was acknowledged, and the other end (a
    browser, nginx) acknowledges late — 40 ms on Linux: every page run waited about 40 ms for
    nothing, and a session's clicks queued behind that wait. Setting ``TCP_NODELAY`` on the
    listening socket is enough: Linux hands it to every connection accepted from it."""
    from streamlit.web.server.starlette import starlette_server

    bind = getattr(starlette_server, "_bind_socket", None)
    if bind is None or getattr(bind, "no_nagle", False):
        return

    @functools.wraps(bind)
    def bind_without_nagle(*args, **kwargs):
        sock = bind(*args, **kwargs)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    bind_without_nagle.no_nagle = True
    starlette_server._bind_socket = bind_without_nagle


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    script = args.pop(0) if args and args[0].endswith(".py") else str(ROOT / "dashboard.py")

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    # What dashboard.py's st.navigation sets on its first run; None would make Streamlit look
    # for a pages/ folder and serve it as a v1 multipage app until then.
    PagesManager.uses_pages_directory = False
    no_nagle()
    warm_up()
    sys.argv = ["streamlit", "run", script, *args]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
