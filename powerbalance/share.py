"""Share and embed links for a view: the page's URL with the view's parameters and
``embed=true`` (Streamlit then draws the page without its sidebar, header and toolbar), and an
``<iframe>`` snippet to paste into another site. Pure functions: the page passes its own URL."""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit, urlunsplit

EMBED_HEIGHT = 640


def view_url(page_url: str, params: dict, embed: bool = False) -> str:
    """``page_url`` (any query string dropped) with ``params``; with ``embed`` also embed=true."""
    parts = urlsplit(page_url)
    query = {k: v for k, v in params.items() if k != "embed" and v not in (None, "")}
    if embed:
        query["embed"] = "true"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def iframe_snippet(embed_url: str, title: str, height: int = EMBED_HEIGHT) -> str:
    """HTML to embed a view; the URL and title are escaped, so neither can break out of it."""
    return (
        f'<iframe src="{html.escape(embed_url, quote=True)}" title="{html.escape(title, quote=True)}" '
        f'width="100%" height="{int(height)}" style="border:0" loading="lazy"></iframe>'
    )
