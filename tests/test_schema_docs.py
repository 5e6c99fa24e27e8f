"""docs/schema.md must describe every table and column the ETL creates (the database is a product interface)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def schema_tables() -> dict[str, list[str]]:
    con = duckdb.connect()
    con.execute((ROOT / "etl" / "schema.sql").read_text())
    out: dict[str, list[str]] = {}
    for (table,) in con.execute("select table_name from information_schema.tables order by 1").fetchall():
        out[table] = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        ]
    return out


def documented() -> dict[str, set[str]]:
    """Tables are '### `name`' headings; columns are the first cell of the table rows beneath."""
    text = (ROOT / "docs" / "schema.md").read_text()
    out: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^###\s+`([a-z0-9_]+)`", line)
        if m:
            current = out.setdefault(m.group(1), set())
            continue
        m = re.match(r"^\|\s*`([a-z0-9_]+)`\s*\|", line)
        if m and current is not None:
            current.add(m.group(1))
    return out


def test_every_table_and_column_is_documented():
    docs = documented()
    missing = {t: [c for c in cols if c not in docs.get(t, set())] for t, cols in schema_tables().items()}
    missing = {t: cols for t, cols in missing.items() if cols or t not in docs}
    assert not missing, f"undocumented in docs/schema.md: {missing}"


def test_docs_describe_no_table_or_column_that_does_not_exist():
    real = schema_tables()
    extra = {t: sorted(cols - set(real.get(t, []))) for t, cols in documented().items()}
    extra = {t: c for t, c in extra.items() if c or t not in real}
    assert not extra, f"docs/schema.md documents things the schema lacks: {extra}"
