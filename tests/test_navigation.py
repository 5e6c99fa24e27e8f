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
    _page(tmp_path, "a", 'PAGE = {"title": "A", "icon": "i", "url_path": "a", "order": 1, "default": True}')
    _page(tmp_path, "b", 'PAGE = {"title": "B", "icon": "i", "url_path": "b", "order": 1}')
    with pytest.raises(ValueError, match="share a order"):
        navigation.pages(tmp_path)
    _page(tmp_path, "b", 'PAGE = {"title": "B", "icon": "i", "url_path": "b", "order": 2, "default": True}')
    with pytest.raises(ValueError, match="exactly one page"):
        navigation.pages(tmp_path)
