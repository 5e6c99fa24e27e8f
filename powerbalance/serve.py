"""Start the dashboard: ``python -m powerbalance.serve [APP.py] [streamlit run options]``.

The same as ``streamlit run dashboard.py …`` with one difference. Streamlit (1.67) decides once
per server process whether the app is a version-1 multipage app by looking for a folder named
``pages/`` beside the main script, and keeps that answer until ``st.navigation`` has run once.
Our ``pages/`` folder holds the pages of a ``st.navigation`` router (``dashboard.py``), so on a
freshly started server the first deep link (``/compare``) was served by the v1 machinery: the
right page, but under a "page not found" dialog. This launcher records the right answer (no v1
pages folder) before the server starts, so the first visitor gets what every later one gets.

``make run``, the benchmarks and the browser tests all start the app through here.
"""
from __future__ import annotations

import sys

from powerbalance.config import ROOT


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    script = args.pop(0) if args and args[0].endswith(".py") else str(ROOT / "dashboard.py")

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    # What dashboard.py's st.navigation sets on its first run; None would make Streamlit look
    # for a pages/ folder and serve it as a v1 multipage app until then.
    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", script, *args]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
