"""Share and embed links: the view's parameters kept, embed=true added, everything escaped."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from powerbalance import share


def test_view_url_keeps_parameters_and_adds_embed():
    url = share.view_url(
        "http://127.0.0.1:8501/map?old=1", {"level": "ward", "year": "2017-18", "embed": "x"}, embed=True
    )
    parts = urlparse(url)
    assert parts.path == "/map" and parts.netloc == "127.0.0.1:8501"
    assert parse_qs(parts.query) == {"level": ["ward"], "year": ["2017-18"], "embed": ["true"]}
    plain = share.view_url("http://h/map", {"weights": "funding:0.5,projects:0.5", "area": ""})
    assert parse_qs(urlparse(plain).query) == {"weights": ["funding:0.5,projects:0.5"]}


def test_iframe_snippet_escapes_url_and_title():
    out = share.iframe_snippet('http://h/x?a=1&b="><script>', 'Adur "<b>"')
    assert "<script>" not in out and "<b>" not in out
    assert 'src="http://h/x?a=1&amp;b=&quot;&gt;&lt;script&gt;"' in out
    assert out.startswith("<iframe ") and out.endswith("</iframe>")
