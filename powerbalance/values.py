"""Every indicator value of a build, read once per process and build, and sliced by area.

A council's first look asked DuckDB for its own rows several times over (its indicators, its
neighbours' and England's values, its wards' values, its trends), and each query scanned all
240,000 rows of ``indicator_values``: 2–8 ms a query, a third of the profile's time. Here the
table is read once per build (text held once per distinct value, so a few MB) and an area's rows
are found by position: a tenth of a millisecond. The rows and their order are the table's; what a
function does with them (joins, choices of year) stays in that function.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from . import db as _db

COLUMNS = ("area_code", "indicator_id", "period", "value", "numerator", "denominator", "is_local", "note")

#: Participation figures come from a national survey published for England and regions; every
#: district and county is given its region's figure, marked "regional estimate". Only a council's
#: own (local) participation figure is its own: the others are never scored (powerbalance.index)
#: and never compared with neighbours ("what stands out", powerbalance.benchmarks).
SURVEY_DOMAIN = "participation"


def comparable_mask(domains, is_local) -> np.ndarray:
    """True where a value may be scored or compared between areas: every value except a
    participation (survey) value not supplied locally. ``domains`` and ``is_local`` run along the
    same rows."""
    domains = np.asarray(domains, dtype=object)
    local = pd.Series(is_local, dtype=object).fillna(False).astype(bool).to_numpy()
    return (domains != SURVEY_DOMAIN) | local


_TEXT = ("area_code", "indicator_id", "period", "note")
_ALL_VALUES = "SELECT area_code, indicator_id, period, value, numerator, denominator, is_local, note FROM indicator_values"  # COLUMNS, in order


class _Values:
    """The columns (text as object arrays sharing one ``str`` per distinct value), each area's
    rows' positions in (indicator_id, period) order, and every current area's level. Not a
    dataclass or a dict: ``per_build`` hands those out rebuilt, and this is read, never changed."""

    __slots__ = ("columns", "rows_of", "level_of")

    def __init__(self, columns: dict[str, np.ndarray], rows_of: dict[str, np.ndarray], level_of: dict[str, str]):
        self.columns, self.rows_of, self.level_of = columns, rows_of, level_of


@_db.per_build(maxsize=2)
def _values(db=None) -> _Values:
    with _db.connect(db) as con:  # no ORDER BY: DuckDB's sort kept ~70 MB more of the process's memory
        table = con.sql(_ALL_VALUES).to_arrow_table()
        level_of = dict(con.execute("SELECT code, level FROM areas").fetchall())
    columns, ranks = {}, {}
    for name in COLUMNS:
        if name in _TEXT:
            words, codes = _encoded(table.column(name))
            columns[name], ranks[name] = words[codes], _sort_rank(words)[codes]
        else:
            columns[name] = table.column(name).to_numpy()
    del table
    pa.default_memory_pool().release_unused()  # the Arrow buffers of the encoding, back to the system
    order = np.lexsort((ranks["period"], ranks["indicator_id"], ranks["area_code"]))
    columns = {name: col[order] for name, col in columns.items()}
    area = columns["area_code"]
    starts = np.flatnonzero(np.r_[True, area[1:] != area[:-1]]) if len(area) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(area)]
    return _Values(columns, {area[s]: np.arange(s, e) for s, e in zip(starts, ends)}, level_of)


def _encoded(column) -> tuple[np.ndarray, np.ndarray]:
    """A text column as its distinct values (``None`` last, for missing) and each row's position
    among them: one ``str`` object per distinct value, however many rows share it."""
    encoded = column.combine_chunks().dictionary_encode()
    words = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)
    return words, encoded.indices.fill_null(len(words) - 1).to_numpy(zero_copy_only=False)


def _sort_rank(words: np.ndarray) -> np.ndarray:
    """Each word's place in sorted order (``None`` last)."""
    order = sorted(range(len(words)), key=lambda i: (words[i] is None, words[i] or ""))
    rank = np.empty(len(words), dtype=np.int64)
    rank[order] = np.arange(len(words))
    return rank


def of_areas(codes: Iterable[str], db=None, indicator_id: str | None = None) -> pd.DataFrame:
    """The ``indicator_values`` rows of these areas (columns :data:`COLUMNS`), area by area in the
    order given, each area's rows by indicator and period; an unknown code has none. With
    ``indicator_id``, only that indicator's rows (picked before any frame is made)."""
    kept = _values(db)
    found = [kept.rows_of[c] for c in dict.fromkeys(codes) if c in kept.rows_of]
    at = np.concatenate(found) if found else np.array([], dtype=int)
    if indicator_id is not None:
        at = at[kept.columns["indicator_id"][at] == indicator_id]
    frame = pd.DataFrame({name: kept.columns[name][at] for name in COLUMNS})
    frame["is_local"] = frame["is_local"].astype(bool)
    return frame


@_db.per_build(maxsize=2)
def indicator_meta(db=None) -> pd.DataFrame:
    """The ``indicators`` table's columns that go beside a value, one row per indicator."""
    return _db.query(
        "SELECT indicator_id, name, domain, unit, polarity, scored, source_ids FROM indicators ORDER BY indicator_id",
        db=db,
    )


def level_of(code: str, db=None) -> str | None:
    """The level of a current area (None when the code is not one)."""
    return _values(db).level_of.get(code)
