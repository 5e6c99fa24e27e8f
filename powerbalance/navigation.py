"""The dashboard's pages, found in ``pages/*_page.py``: each page file begins with a literal

    PAGE = {"title": "Map", "icon": ":material/map:", "url_path": "map", "order": 40}

(``"default": True`` on the one the app opens on). This module reads those literals without
running the pages (``ast.literal_eval``), so ``dashboard.py``, the benches and the tests all list the
same pages, and adding a page is adding one file. No Streamlit here.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import ROOT

PAGES_DIR = ROOT / "pages"
REQUIRED = ("title", "icon", "url_path", "order")
#: CPython 3.11's ``ast.parse`` is not safe to run in several threads at once (it can fail with
#: "AST constructor recursion depth mismatch"), and Streamlit runs every session's script in its own
#: thread: the pages are parsed once per process, under a lock.
_PARSE = threading.Lock()


@dataclass(frozen=True)
class PageInfo:
    file: str  # relative to the project root, e.g. "pages/map_page.py"
    title: str
    icon: str
    url_path: str
    order: int
    default: bool = False


def page_literal(path: Path) -> dict:
    """The ``PAGE`` literal of one page file; a missing or incomplete one is an error naming the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PAGE" for t in node.targets):
            page = ast.literal_eval(node.value)
            missing = [k for k in REQUIRED if k not in page]
            if missing:
                raise ValueError(f"{path}: PAGE lacks {missing}")
            return page
    raise ValueError(f"{path}: no PAGE = {{...}} literal (title, icon, url_path, order)")


def pages(folder: Path = PAGES_DIR) -> list[PageInfo]:
    """Every page, in menu order (read once per process); fails when two pages share an order or a
    URL path, or when not exactly one page is the default."""
    with _PARSE:
        return list(_pages(Path(folder)))


@lru_cache(maxsize=8)
def _pages(folder: Path) -> tuple[PageInfo, ...]:
    found = [PageInfo(file=f"pages/{p.name}", **page_literal(p)) for p in sorted(folder.glob("*_page.py"))]
    found.sort(key=lambda p: p.order)
    for attr in ("order", "url_path"):
        seen = [getattr(p, attr) for p in found]
        if len(seen) != len(set(seen)):
            raise ValueError(f"two pages share a {attr}: {sorted(seen)}")
    if sum(p.default for p in found) != 1:
        raise ValueError("exactly one page must say \"default\": True")
    return tuple(found)
