"""The build stores the default answers (etl/precompute.py): the index and rank bands of every
level, year and lens with default settings, and every council's ten neighbours. The server reads
them instead of computing them (powerbalance.stored), and what it reads is exactly what it would
have computed."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

from powerbalance import index, stored, warm

CACHES = ("_level_rows", "_load", "_index_cached", "_bands_cached", "_neighbours_cached")


def _clear() -> None:
    for name in CACHES:
        getattr(index, name).cache_clear()


def _computed(monkeypatch, fn):
    """fn() with the stored answers hidden, so powerbalance.index computes everything."""
    with monkeypatch.context() as m:
        m.setattr(stored, "default_answer", lambda *a, **k: None)
        m.setattr(stored, "neighbours", lambda *a, **k: None)
        _clear()
        try:
            return fn()
        finally:
            _clear()


def test_stored_answers_equal_fresh_computation(real_db, monkeypatch):
    combos = warm.default_combinations(real_db)
    pairs = [(lv, ln) for lv in index.LEVELS for ln in index.LENSES if (lv, ln) != ("region", "council")]
    assert len(combos) == len(pairs) * len(index.periods(real_db))  # regions have no council lens
    con = duckdb.connect(str(real_db), read_only=True)
    try:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("index_default", "rank_bands_default", "neighbours")
        }
    finally:
        con.close()
    assert all(counts.values()), counts
    for level, lens, period in combos:
        for weights in (None, dict(index.DEFAULT_WEIGHTS)):
            _clear()
            kept = index.compute_index(level, period, weights, lens, db=real_db)
            fresh = _computed(
                monkeypatch,
                lambda lv=level, p=period, w=weights, ln=lens: index.compute_index(lv, p, w, ln, db=real_db),
            )
            pd.testing.assert_frame_equal(kept, fresh)
        _clear()
        kept = index.rank_uncertainty(level, period, None, lens, db=real_db)
        fresh = _computed(
            monkeypatch, lambda lv=level, p=period, ln=lens: index.rank_uncertainty(lv, p, None, ln, db=real_db)
        )
        pd.testing.assert_frame_equal(kept, fresh)
    _clear()
    kept = index.neighbour_table(db=real_db)
    pd.testing.assert_frame_equal(kept, _computed(monkeypatch, lambda: index.neighbour_table(db=real_db)))


def test_default_requests_are_read_not_computed(real_db, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("computed although the build stored the answer")

    _clear()
    monkeypatch.setattr(index, "composite", refuse)
    monkeypatch.setattr(index, "monte_carlo_ranks", refuse)
    monkeypatch.setattr(index, "nearest_neighbours", refuse)
    period = index.periods(real_db)[-1]
    assert len(index.compute_index("district", period, dict(index.DEFAULT_WEIGHTS), "council", db=real_db)) > 0
    assert len(index.rank_uncertainty("county", period, None, "place", db=real_db)) > 0
    assert len(index.peers("E07000223", db=real_db)) == stored.NEIGHBOURS_K
    with pytest.raises(AssertionError, match="computed although"):  # other weights are computed
        index.compute_index("district", period, {"funding": 0.9, "projects": 0.1}, db=real_db)
    _clear()


def test_a_database_without_stored_answers_is_computed(real_db, tmp_path):
    old = tmp_path / "old.duckdb"
    shutil.copy2(real_db, old)
    con = duckdb.connect(str(old))
    con.execute("DROP TABLE index_default; DROP TABLE rank_bands_default; DELETE FROM neighbours")
    con.close()
    _clear()
    period = index.periods(old)[-1]
    new = index.compute_index("district", period, db=old)
    _clear()
    assert new.equals(index.compute_index("district", period, db=real_db))
    assert len(index.peers("E07000223", db=old)) == stored.NEIGHBOURS_K
    _clear()


def test_the_build_computes_its_answers_without_reading_stored_ones(real_db, monkeypatch):
    """What the build stores (index.default_answers) is computed from the indicator values, never read
    back from answers a database already holds, and equals what the server computes without them."""
    period = index.periods(real_db)[-1]
    for level, lens in (("district", "community"), ("region", "place")):
        expected = (
            _computed(monkeypatch, lambda lv=level, ln=lens: index.compute_index(lv, period, None, ln, db=real_db)),
            _computed(
                monkeypatch,
                lambda lv=level, ln=lens: index.rank_uncertainty(
                    lv, period, None, ln, *stored.DEFAULT_BANDS, db=real_db
                ),
            ),
        )
        with monkeypatch.context() as m:
            m.setattr(stored, "default_answer", lambda *a, **k: pytest.fail("read a stored answer"))
            got = index.default_answers(level, period, lens, *stored.DEFAULT_BANDS, db=real_db)
        for frame, want in zip(got, expected):
            pd.testing.assert_frame_equal(frame, want, check_exact=True)
    _clear()


def test_a_level_is_read_once_for_every_period_and_lens(real_db, monkeypatch):
    """The index of each period and lens takes its rows from one read of the level's values."""
    from powerbalance import db as _db

    reads = []
    real_query_many = _db.query_many
    monkeypatch.setattr(_db, "query_many", lambda *a, **k: reads.append(a) or real_query_many(*a, **k))
    _clear()
    for period in index.periods(real_db):
        for lens in ("place", "council", "community"):
            assert len(index.default_answers("county", period, lens, 20, 0, db=real_db)[0]) > 0
    _clear()
    assert len(reads) == 1
