"""Build step: the answers every visitor needs with default settings, computed once per build and
stored in the new database (``index_default``, ``rank_bands_default``, ``neighbours``; see
docs/schema.md), so a server process reads them instead of computing them on a first visit.

"Default settings" = the default weights, normalisation and comparison groups, the Monte Carlo
rank bands with ``powerbalance.stored.DEFAULT_BANDS`` draws and seed, and each council's ten
statistical neighbours — for every level, financial year and lens the index is computed for.
They are computed by ``powerbalance.index`` itself from the new file (checkpointed first, read
through ``powerbalance.db`` read-only, then let go), so what is stored is exactly what the
server would compute; ``tests/test_precompute.py`` checks every stored frame against a fresh
computation.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from powerbalance import db as _db
from powerbalance import index
from powerbalance.stored import DEFAULT_BANDS, NEIGHBOURS_K
from powerbalance.warm import default_combinations


def default_answers(path: Path) -> dict[str, pd.DataFrame]:
    """Table name -> rows, computed by powerbalance.index from the database at ``path``: for every
    (level, lens, period) the index is computed for, and the statistical neighbours."""
    out: dict[str, list[pd.DataFrame]] = {"index_default": [], "rank_bands_default": []}
    draws, seed = DEFAULT_BANDS
    for level, lens, period in default_combinations(path):
        key = {"level": level, "period": period, "lens": lens}
        idx, bands = index.default_answers(level, period, lens, draws, seed, db=path)
        out["index_default"].append(_keyed(idx, key))
        out["rank_bands_default"].append(_keyed(bands, key))
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in out.items() if frames}
    tables["neighbours"] = _keyed(index.neighbour_table(NEIGHBOURS_K, db=path), {})
    return tables


def answers_of_file(path: Path) -> dict[str, pd.DataFrame]:
    """:func:`default_answers` for the build's checkpointed and closed file, letting it go after
    (no read-only handle on it while it is written again)."""
    try:
        return default_answers(path)
    finally:
        _db.forget(path)


def _keyed(df: pd.DataFrame, key: dict) -> pd.DataFrame:
    return pd.DataFrame({**key, "ord": range(len(df))}, index=df.index).join(df)


def store_default_answers(path: Path, tables: dict[str, pd.DataFrame]) -> duckdb.DuckDBPyConnection:
    """Store the answers :func:`answers_of_file` computed from the build's file at ``path`` through
    a new connection, and return it (the build goes on with that one)."""
    con = duckdb.connect(str(path))
    for name, frame in tables.items():
        con.register("_pb_default_rows", frame)
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _pb_default_rows")
        con.unregister("_pb_default_rows")
    return con
