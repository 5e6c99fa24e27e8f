"""Where things live. Environment variables override the defaults so tests and servers can relocate."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def raw_dir() -> Path:
    """Raw input directory: $POWERBALANCE_RAW_DIR, else ../shared/data if it exists, else data/raw/."""
    env = os.environ.get("POWERBALANCE_RAW_DIR")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else ROOT / "data" / "raw"


def db_path() -> Path:
    """The live database: $POWERBALANCE_DB, else data/powerbalance.duckdb."""
    return Path(os.environ.get("POWERBALANCE_DB", ROOT / "data" / "powerbalance.duckdb"))


def static_dir() -> Path:
    """Folder Streamlit serves at /app/static (boundary files live under static/geo/<build_id>/)."""
    return Path(os.environ.get("POWERBALANCE_STATIC", ROOT / "static"))


def responses_path() -> Path:
    """The relationship self-assessment's own store (SQLite, writable): $POWERBALANCE_RESPONSES,
    else data/responses.sqlite. Never the analytic DuckDB file."""
    return Path(os.environ.get("POWERBALANCE_RESPONSES", ROOT / "data" / "responses.sqlite"))


def contact() -> str | None:
    """How the publisher of this copy of the dashboard is contacted (an address, a web page; Markdown),
    shown on the Accessibility page: $POWERBALANCE_CONTACT, set when deploying it; None when unset."""
    return os.environ.get("POWERBALANCE_CONTACT", "").strip() or None


def page_slots() -> int:
    """Page runs one server process runs at once (``POWERBALANCE_PAGE_SLOTS``, default 2): the rest
    wait their turn (powerbalance.slots)."""
    try:
        return max(1, int(os.environ.get("POWERBALANCE_PAGE_SLOTS", "2")))
    except ValueError:
        return 2
