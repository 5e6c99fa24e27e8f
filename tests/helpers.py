"""Small helpers shared by test modules (fixtures live in conftest.py)."""
from __future__ import annotations

import duckdb


def sql(db, text, params=()):
    """Run one query on a database file with a fresh read-only connection: the tests' independent
    view of what the ETL wrote, beside the package's own query functions."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(text, list(params)).df()
    finally:
        con.close()
