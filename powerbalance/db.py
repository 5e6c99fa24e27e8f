"""Read-only access to the live DuckDB database.

Every query opens its own read-only connection and closes it afterwards (no shared connection
between sessions or threads). Because a new build *replaces* the file (atomic rename), a query
that started on the old build finishes on it; the next query opens the new file. ``build_key()``
changes whenever the file is replaced, so callers can key caches on it and never mix builds.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import pandas as pd

from . import config


class DatabaseMissing(RuntimeError):
    """The database has not been built yet."""


def _path(db: str | Path | None) -> Path:
    return Path(db) if db is not None else config.db_path()


def build_key(db: str | Path | None = None) -> str:
    """Identity of the file currently published at the path (inode + mtime + size)."""
    p = _path(db)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise DatabaseMissing(f"database not found at {p}; run `make db` or `python -m etl build`") from None
    return f"{p}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


@contextmanager
def connect(db: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh read-only connection, closed on exit."""
    p = _path(db)
    if not p.exists():
        raise DatabaseMissing(f"database not found at {p}; run `make db` or `python -m etl build`")
    con = duckdb.connect(str(p), read_only=True, config={"threads": 2})
    try:
        yield con
    finally:
        con.close()


def query(sql: str, params: Sequence[Any] | dict | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """Run one parameterised query on a fresh read-only connection and return a DataFrame.

    User-supplied values must always travel in ``params``, never in the SQL text.
    """
    with connect(db) as con:
        return con.execute(sql, params or []).df()


def query_many(statements: Sequence[tuple[str, Sequence[Any] | None]], db: str | Path | None = None) -> list[pd.DataFrame]:
    """Several queries on ONE connection, so they all see the same build."""
    with connect(db) as con:
        return [con.execute(sql, params or []).df() for sql, params in statements]
