"""Default answers stored in the database by the build (etl/precompute.py; tables
``index_default``, ``rank_bands_default`` and ``neighbours`` in docs/schema.md).

``powerbalance.index`` asks here first when a request is the default one (default weights,
normalisation and groups; the default rank-band draws; ten neighbours) and computes only when the
build has no stored answer (a database built before these tables existed, or a build without
derived indicators). Every read goes through ``powerbalance.db`` on the caller's pinned build.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from . import db as _db

#: (draws, seed) of the rank bands the pages show and the build stores
DEFAULT_BANDS = (500, 0)
#: statistical neighbours per council, as the pages ask for them
NEIGHBOURS_K = 10

_SQL = {
    "index_default": "SELECT * EXCLUDE (level, period, lens, ord) FROM index_default "
    "WHERE level = ? AND period = ? AND lens = ? ORDER BY ord",
    "rank_bands_default": "SELECT * EXCLUDE (level, period, lens, ord) FROM rank_bands_default "
    "WHERE level = ? AND period = ? AND lens = ? ORDER BY ord",
    "neighbours": "SELECT * EXCLUDE (ord) FROM neighbours ORDER BY ord",
}
#: dtypes powerbalance.index computes that a database round trip does not give back as such
_DTYPES = {"reason": object, "robust": "boolean"}


def is_default(weights: tuple | None, defaults: Mapping[str, float]) -> bool:
    """True for no weights or exactly the default weights (as ``index._weights_key`` gives them)."""
    return weights is None or dict(weights) == {str(k): float(v) for k, v in defaults.items()}


def _read(name: str, params: list, path: str | Path) -> pd.DataFrame | None:
    try:
        df = _db.query(_SQL[name], params, db=path)
    except duckdb.CatalogException:  # a database built before the table existed
        return None
    if df.empty:
        return None
    return df.astype({col: dtype for col, dtype in _DTYPES.items() if col in df})


def default_answer(table: str, path: str | Path, level: str, period: str, lens: str) -> pd.DataFrame | None:
    """The stored index (``index_default``) or rank bands (``rank_bands_default``) of a level,
    period and lens with default settings; None when the build stored none."""
    return _read(table, [level, period, lens], path)


def neighbours(path: str | Path) -> pd.DataFrame | None:
    """Every council's stored ten nearest neighbours (area_code, peer_code, distance, peer_rank)."""
    return _read("neighbours", [], path)
