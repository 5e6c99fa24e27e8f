"""The README's "What is where" names every module (issue 11), and CONTRIBUTING.md names the files it
tells a contributor to touch — docs checked by tests, so they stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("powerbalance", "etl", "etl/sources", "etl/indicators", "bench", "pages")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("folder", FOLDERS)
def test_what_is_where_names_every_module(folder):
    where = _section((ROOT / "README.md").read_text(encoding="utf-8"), "## What is where")
    missing = [
        p.name
        for p in sorted((ROOT / folder).glob("*.py"))
        if p.name != "__init__.py" and f"`{p.name}`" not in where and f"`{folder}/{p.name}`" not in where
    ]
    assert missing == [], f"README 'What is where' does not name {folder}/{missing}"


def test_contributing_names_files_that_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:etl|powerbalance|pages|tests|bench)/[\w/]+\.py)`", text))
    assert len(named) > 10
    assert sorted(p for p in named if not (ROOT / p).exists() and "<" not in p) == []
