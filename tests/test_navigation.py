"""Adding a page is adding one file (issue 11): pages are found by their ``PAGE`` literal."""

from __future__ import annotations

from pathlib import Path

import pytest

from powerbalance import navigation

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_file_is_in_the_menu_once_in_order():
    found = navigation.pages()
    assert sorted(p.file for p in found) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*_page.py"))
    assert [p.order for p in found] == sorted(p.order for p in found)
    assert [p.title for p in found if p.default] == ["Overview"]
    assert {p.url_path for p in found} >= {"overview", "my-area", "compare", "map", "funders", "method", "data"}


def _page(folder: Path, name: str, literal: str) -> None:
    (folder / f"{name}_page.py").write_text(f'"""A page."""\nimport streamlit as st\n\n{literal}\nst.title("x")\n')


def test_a_new_page_file_is_found_with_no_other_change(tmp_path):
    _page(
        tmp_path,
        "home",
        'PAGE = {"title": "Home", "icon": ":material/home:", "url_path": "home", "order": 1, "default": True}',
    )
    _page(tmp_path, "extra", 'PAGE = {"title": "Extra", "icon": ":material/add:", "url_path": "extra", "order": 2}')
    assert [(p.file, p.title, p.url_path) for p in navigation.pages(tmp_path)] == [
        ("pages/home_page.py", "Home", "home"),
        ("pages/extra_page.py", "Extra", "extra"),
    ]


@pytest.mark.parametrize(
    "literal, message",
    [
        ("", "no PAGE"),
        ('PAGE = {"title": "X", "icon": ":material/add:", "order": 2}', "lacks \\['url_path'\\]"),
    ],
)
def test_a_page_without_a_complete_literal_is_named(tmp_path, literal, message):
    _page(tmp_path, "broken", literal)
    with pytest.raises(ValueError, match=message):
        navigation.pages(tmp_path)


def test_two_pages_at_one_place_or_no_default_are_refused(tmp_path):
    same, two = tmp_path / "same_order", tmp_path / "two_defaults"
    for folder, order_b, default_b in ((same, 1, ""), (two, 2, ', "default": True')):
        folder.mkdir()
        _page(folder, "a", 'PAGE = {"title": "A", "icon": "i", "url_path": "a", "order": 1, "default": True}')
        _page(folder, "b", f'PAGE = {{"title": "B", "icon": "i", "url_path": "b", "order": {order_b}{default_b}}}')
    with pytest.raises(ValueError, match="share a order"):
        navigation.pages(same)
    with pytest.raises(ValueError, match="exactly one page"):
        navigation.pages(two)


def test_pages_are_read_once_per_process_even_from_many_threads():
    """Streamlit runs each session's script in its own thread, and CPython 3.11's ast.parse is not
    thread-safe: the menu is parsed once, under a lock, and every thread gets the same answer."""
    import threading

    navigation._pages.cache_clear()
    results, errors = [], []

    def read():
        try:
            results.append(tuple(navigation.pages()))
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1 and navigation._pages.cache_info().misses == 1
