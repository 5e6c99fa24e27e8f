"""What an indicator is: the :class:`Indicator` definition, shared by the ETL and the dashboard.

The definitions themselves live beside their derivation, one module per family in
``etl/indicators/`` (finance, grants, parishes, participation, local, headline, density,
context). The build writes every field to the ``indicators`` table; the dashboard reads them
back from the database it is serving (:func:`definitions`, cached per build), never from ``etl``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from . import config
from . import db as _db

#: Plain words for a polarity: what a higher value means.
DIRECTIONS = {1: "higher means more enabling", -1: "higher means more providing", 0: "context only"}
#: Area levels from smallest to largest (the order of ``levels``).
LEVEL_ORDER = ("ward", "district", "county", "region", "country")


@dataclass(frozen=True)
class Indicator:
    """One indicator's definition (one row of the ``indicators`` table)."""

    id: str
    name: str
    domain: str  # funding | projects | participation | headline | context
    unit: str
    polarity: int  # +1 enabling, -1 providing, 0 context
    scored: bool  # part of the composite index (for its lens)
    description: str
    source_ids: str
    levels: str  # levels it is defined for (the table holds the levels that have values)
    lens: str = "both"  # place | council | both: which index lens scores it
    static: bool = False  # a single snapshot, used for every period
    local_scored: bool = False  # scored only from local (is_local) values
    periods: str = ""  # periods with values, written by the build

    @property
    def direction(self) -> str:
        """'higher means more enabling' / 'higher means more providing' / 'context only'."""
        return DIRECTIONS[self.polarity]


#: Columns of the ``indicators`` table that hold a definition field (table column ← field).
TABLE_FIELDS = {"indicator_id": "id", **{f.name: f.name for f in fields(Indicator) if f.name != "id"}}


def definitions(db=None) -> tuple[Indicator, ...]:
    """Every indicator defined in the build published at ``db`` (default: the configured one)."""
    path = str(Path(db) if db is not None else config.db_path())
    return _definitions(_db.build_key(path), path)


def by_id(db=None) -> dict[str, Indicator]:
    return {i.id: i for i in definitions(db)}


@lru_cache(maxsize=16)
def _definitions(key: str, path: str) -> tuple[Indicator, ...]:
    df = _db.query("SELECT * FROM indicators ORDER BY rowid", db=path)
    missing = sorted(set(TABLE_FIELDS) - set(df.columns))
    if missing:
        raise RuntimeError(
            f"{path} was built before the indicators table had {missing}: rebuild the database (python -m etl build)"
        )
    df = df[list(TABLE_FIELDS)]
    return tuple(Indicator(**{TABLE_FIELDS[c]: _plain(v) for c, v in row.items()}) for row in df.to_dict("records"))


def _plain(value):
    """numpy scalars and missing text → plain Python values."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value.item() if hasattr(value, "item") else value
