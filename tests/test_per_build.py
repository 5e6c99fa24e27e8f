"""Answers kept per build (``db.per_build``): a kept answer is never changed by a caller, never
served for another build, found again for arguments of the same content, and computed once when
many threads ask at once."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from powerbalance import db


def _publish(path: Path, value: int) -> None:
    """A one-table database at ``path``, replaced atomically as the ETL publishes a build."""
    tmp = path.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("CREATE TABLE t AS SELECT ? AS x, 'a' AS k", [value])
    con.close()
    os.replace(tmp, path)


@db.per_build(maxsize=8)
def _values(weights: dict | None = None, codes: list | None = None, db=None) -> pd.DataFrame:
    time.sleep(0.05)  # long enough for the threads of the concurrency test to ask at the same moment
    return _query("SELECT x, k FROM t", db)


def _query(sql: str, path) -> pd.DataFrame:
    return db.query(sql, db=path)


@pytest.fixture()
def path(tmp_path):
    p = tmp_path / "pb.duckdb"
    _publish(p, 1)
    _values.cache_clear()
    yield p
    db.forget(p)


def test_a_changed_answer_never_reaches_the_kept_one(path):
    first = _values(db=path)
    first["y"] = 0
    first.loc[0, "x"] = 99
    again = _values(db=path)
    assert list(again.columns) == ["x", "k"] and again.loc[0, "x"] == 1
    assert (_values.kept.hits, _values.kept.misses) == (1, 1)


def test_a_new_build_is_read_not_the_kept_answer(path):
    assert _values(db=path).loc[0, "x"] == 1
    _publish(path, 2)
    assert _values(db=path).loc[0, "x"] == 2
    assert _values.kept.misses == 2


def test_arguments_are_matched_by_content(path):
    _values({"funding": 0.5, "projects": 0.5}, ["E1", "E2"], db=path)
    _values(weights={"projects": 0.5, "funding": 0.5}, codes=("E1", "E2"), db=path)
    _values({"funding": 0.4, "projects": 0.6}, ["E1", "E2"], db=path)
    assert (_values.kept.hits, _values.kept.misses) == (1, 2)


def test_many_threads_get_the_same_answer(path):
    answers, errors = [], []

    def ask():
        try:
            answers.append(_values(db=path).loc[0, "x"])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    start = threading.Barrier(16)
    threads = [threading.Thread(target=lambda: (start.wait(), ask())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and answers == [1] * 16
    assert (_values.kept.hits, _values.kept.misses) == (15, 1)  # computed once, the others waited for it


def test_fresh_copies_containers_and_dataclasses():
    from powerbalance.queries import AreaProfile

    frame = pd.DataFrame({"a": [1]})
    kept = AreaProfile("E1", "x", "district", "NMD", {}, None, None, None, "2017-18", "place", {}, trend=frame)
    out = db.fresh({"p": kept, "l": [frame], "t": (frame,)})
    out["p"].trend["b"] = 2
    out["p"].name = "changed"
    out["l"][0]["c"] = 3
    out["t"][0].loc[0, "a"] = 5
    assert kept.name == "x" and list(frame.columns) == ["a"] and frame.loc[0, "a"] == 1


def _references_held(frame: pd.DataFrame) -> int:
    """Weak references pandas holds for the views of ``frame``'s values and axes (copy-on-write)."""
    lists = [b.refs.referenced_blocks for b in frame._mgr.blocks]
    lists += [a._references.referenced_blocks for a in frame.axes if a._references is not None]
    return sum(map(len, lists))


def test_a_kept_frame_handed_out_many_times_holds_no_dead_views():
    """Every page run takes a copy of a kept answer and views of it, which die with the run. pandas
    drops its references to dead views only once 500 have gathered per block, so a worker serving
    thousands of visits grew by tens of MB; handed out through ``db.fresh`` they are dropped."""
    kept = db.Kept(maxsize=4)
    frame = pd.DataFrame({"code": pd.array(["E1", "E2", "E3"], dtype="string"), "x": [1.0, 2.0, 3.0]})
    held = []
    for _ in range(2000):  # as a page run does with an answer: select, filter, re-index
        out = kept.get("k", lambda: frame)
        views = [out[["x"]], out[out["x"] > 1], out.set_index("code")]
        del out, views
        held.append(_references_held(frame))
    assert max(held) < 50  # one run's views at most (about 25 here); pandas alone keeps up to 500 a list
    alive = kept.get("k", lambda: frame)
    alive.loc[0, "x"] = 9.0  # a live copy is still tracked: writing to it never reaches the kept frame
    assert frame.loc[0, "x"] == 1.0


def test_every_process_that_imports_the_package_holds_text_as_python_strings():
    """The server, the ETL (and its helper) and the tests compute alike: importing ``powerbalance``
    or ``etl`` in a fresh interpreter sets pandas' string storage, and a query's text columns come
    back as ``str`` held in Python, not Arrow (measured faster on the small frames pages use)."""
    import subprocess
    import sys

    for package in ("powerbalance", "etl"):
        code = (
            f"import {package}, pandas as pd; s = pd.Series(['a', None]); "
            "print(pd.get_option('mode.string_storage'), s.dtype, type(s.array).__name__)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        assert out == ["python", "str", "StringArray"], (package, out)
