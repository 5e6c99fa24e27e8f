"""Read-only access to the live DuckDB database.

Every query runs on its own read-only connection, closed afterwards (no shared connection
between sessions or threads). A new build *replaces* the file (atomic rename): a query that
started on the old build finishes on it; the next query opens the new file. ``build_key()``
changes whenever the file is replaced, so callers can key caches on it and never mix builds.

Why not simply ``duckdb.connect(path, read_only=True)`` per query: DuckDB caches database
instances by path within a process. While any connection to the old file is still open — with
dozens of sessions querying there nearly always is one — ``connect(path)`` hands back the cached
instance of the *replaced* file, so the server would keep serving the old build indefinitely
(and cache it under the new ``build_key``). Instead, one in-memory DuckDB instance per process
ATTACHes each published file read-only under its own alias, through ``/proc/self/fd/<n>`` of a
descriptor opened on the path, so the attached file is exactly the one whose identity (inode,
mtime, size) names it even if a publish lands in between. Each query runs on its own cursor (a
separate DuckDB connection) of that instance. A replaced build is detached as soon as no query
uses it, and the kernel then frees the unlinked file. Attaching costs about a millisecond where a
new DuckDB instance costs tens, so this is also what keeps page times low under load.

``snapshot()`` pins one build for a block of several queries (e.g. one cached page query made of
two SQL statements), so they cannot straddle a publish.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import functools
import inspect
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from . import config


class DatabaseMissing(RuntimeError):
    """The database has not been built yet."""


def _path(db: str | Path | None) -> Path:
    return Path(db) if db is not None else config.db_path()


def _missing(p: Path) -> DatabaseMissing:
    return DatabaseMissing(f"database not found at {p}; run `make db` or `python -m etl build`")


def _identity(p: Path, st: os.stat_result) -> str:
    return f"{p}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def build_key(db: str | Path | None = None) -> str:
    """Identity of the file currently published at the path (inode + mtime + size) — or, inside
    a ``snapshot()`` of that path, of the pinned build, so that a cache keyed on it inside the
    block files its answer under the build the answer was read from."""
    p = _path(db)
    pinned = _PINNED.get()
    if pinned is not None and pinned.path == p:
        return pinned.key
    try:
        return _identity(p, os.stat(p))
    except FileNotFoundError:
        raise _missing(p) from None


# =============================================================================================
# One DuckDB instance per process; one attached alias per published file
# =============================================================================================


@dataclass
class _Build:
    key: str
    path: Path
    alias: str
    users: int = 0
    stale: bool = False  # replaced at its path: detach when the last user leaves


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Hub:
    """The process-wide in-memory instance and the builds attached to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._builds: dict[str, _Build] = {}
        self._aliases = itertools.count(1)

    def _instance(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = duckdb.connect(":memory:", config={"threads": 2})
        return self._con

    def acquire(self, p: Path) -> _Build:
        """The build now published at ``p``, attached and marked in use."""
        try:
            fd = os.open(p, os.O_RDONLY)
        except FileNotFoundError:
            raise _missing(p) from None
        try:
            key = _identity(p, os.fstat(fd))
            with self._lock:
                build = self._builds.get(key)
                if build is None:
                    build = self._attach(p, key, fd)
                build.users += 1
                self._mark_current(build)
                return build
        finally:
            os.close(fd)

    def _attach(self, p: Path, key: str, fd: int) -> _Build:
        pinned = f"/proc/self/fd/{fd}"
        # Without /proc (not Linux) the path is attached directly: a publish landing in the
        # microseconds between fstat and ATTACH would then give the newer file, never a mix.
        source = pinned if os.path.exists(pinned) else str(p)
        build = _Build(key, p, f"pb_build_{next(self._aliases)}")
        self._instance().execute(f"ATTACH {_sql_string(source)} AS {build.alias} (READ_ONLY)")
        self._builds[key] = build
        return build

    def _mark_current(self, build: _Build) -> None:
        """Builds at the same path that are no longer published there become stale."""
        try:
            current = _identity(build.path, os.stat(build.path))
        except FileNotFoundError:
            current = None
        for other in list(self._builds.values()):
            if other.path == build.path and other.key != current:
                other.stale = True
                if other.users == 0:
                    self._detach(other)

    def _detach(self, build: _Build) -> None:
        self._instance().execute(f"DETACH {build.alias}")
        del self._builds[build.key]

    def cursor(self, build: _Build) -> duckdb.DuckDBPyConnection:
        with self._lock:
            cur = self._instance().cursor()
        cur.execute(f"USE {build.alias}")
        return cur

    def release(self, build: _Build) -> None:
        with self._lock:
            build.users -= 1
            if build.stale and build.users == 0 and build.key in self._builds:
                self._detach(build)

    def forget(self, p: Path) -> None:
        """Detach every unused build attached from path ``p``."""
        with self._lock:
            for build in [b for b in self._builds.values() if b.path == p and b.users == 0]:
                self._detach(build)

    def attached(self) -> list[str]:
        """Keys of the builds attached now (for tests and the benchmark)."""
        with self._lock:
            return sorted(self._builds)


_HUB = _Hub()
_PINNED: contextvars.ContextVar[_Build | None] = contextvars.ContextVar("powerbalance_db_pinned", default=None)


def attached_builds() -> list[str]:
    """Identities of the builds this process has attached (a replaced build disappears once unused)."""
    return _HUB.attached()


def forget(db: str | Path) -> None:
    """Detach the builds attached from ``db`` that no query is using: for a build tool that read its
    temporary database through this module and is about to rename it into place."""
    _HUB.forget(_path(db))


@contextmanager
def _build(p: Path) -> Iterator[_Build]:
    """The build pinned by an enclosing snapshot() for this path, else the one published now."""
    pinned = _PINNED.get()
    if pinned is not None and pinned.path == p:
        yield pinned
        return
    build = _HUB.acquire(p)
    try:
        yield build
    finally:
        _HUB.release(build)


@contextmanager
def snapshot(db: str | Path | None = None) -> Iterator[str]:
    """Pin the build published now: every query inside the block (in this thread or task) runs on
    it, even if a new build is published meanwhile. Yields that build's key."""
    with _build(_path(db)) as build:
        token = _PINNED.set(build)
        try:
            yield build.key
        finally:
            _PINNED.reset(token)


@contextmanager
def connect(db: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh read-only connection to the current (or pinned) build, closed on exit."""
    with _build(_path(db)) as build:
        cur = _HUB.cursor(build)
        try:
            yield cur
        finally:
            cur.close()


def query(sql: str, params: Sequence[Any] | dict | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """Run one parameterised query on a fresh read-only connection and return a DataFrame.

    User-supplied values must always travel in ``params``, never in the SQL text.
    """
    with connect(db) as con:
        return con.execute(sql, params or []).df()


def query_many(
    statements: Sequence[tuple[str, Sequence[Any] | None]], db: str | Path | None = None
) -> list[pd.DataFrame]:
    """Several queries on ONE connection, so they all see the same build."""
    with connect(db) as con:
        return [con.execute(sql, params or []).df() for sql, params in statements]


# =============================================================================================
# Answers kept per build
# =============================================================================================

_MISS = object()


def freeze(value: Any) -> Any:
    """A hashable stand-in for an argument: dicts, lists, sets and small frames by content."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, pd.DataFrame):
        return ("frame", tuple(value.columns), tuple(map(tuple, value.astype(object).values.tolist())))
    return value


def fresh(value: Any) -> Any:
    """A kept answer handed out so that the caller cannot change the kept one: frames and series
    as shallow copies (pandas copies on write, so a changed copy never reaches the original),
    dicts, lists, tuples and dataclasses rebuilt around fresh values (plotly figures are handed out
    as they are: Streamlit copies a figure before drawing it and pages never change one)."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        drop_dead_views(value)
        return value.copy(deep=False)
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(fresh(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, fresh(getattr(value, f.name)))
        return out
    return value


def drop_dead_views(frame: pd.DataFrame | pd.Series) -> None:
    """Forget the views of ``frame`` that no longer exist. For copy-on-write, pandas keeps a weak
    reference to every copy or view sharing a frame's values (one list per block and per axis), and
    drops the dead ones only once 500 have gathered in that list. A kept answer is handed out on
    every page run, so each of its lists filled towards 500 dead references: a worker grew by about
    20 MB every 300 visits to My area, with no sign of levelling off after 2,100. Clearing them as
    the answer is handed out keeps each list as short as the views still alive."""
    tracked = [block.refs for block in frame._mgr.blocks] + [axis._references for axis in frame.axes]
    for refs in tracked:
        if refs is not None:
            refs.has_reference()  # pandas' own check, which first prunes the dead references


class AsIs:
    """An answer that :func:`fresh` hands out as it is, not rebuilt: a look-up table kept per
    build that nobody changes (rebuilding a dictionary of a few hundred entries on every call
    cost more than the look-up it serves)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class Kept:
    """Answers kept by key, the least recently used dropped beyond ``maxsize``. When several
    threads ask for the same missing answer at once, one computes it and the others wait for it
    (25 councillors opening their pages at once would otherwise compute it 25 times). Answers are
    handed out with :func:`fresh` unless ``fresh=False`` (shared objects nobody changes: figures)."""

    def __init__(self, maxsize: int, fresh: bool = True):
        self.maxsize, self.fresh = maxsize, fresh
        self._lock = threading.Lock()
        self._kept: OrderedDict = OrderedDict()
        self.hits = self.misses = 0  # for tests and the benchmark
        self._computing: dict = {}  # key -> lock held by the thread computing that answer

    def get(self, k: Any, compute: Callable[[], Any]) -> Any:
        answer = self._lookup(k)
        if answer is _MISS:
            with self._lock:
                computing = self._computing.setdefault(k, threading.Lock())
            with computing:
                answer = self._lookup(k)
                if answer is _MISS:
                    answer = compute()
                    self._keep(k, answer)
            with self._lock:
                self._computing.pop(k, None)
        return fresh(answer) if self.fresh else answer

    def _lookup(self, k) -> Any:
        with self._lock:
            answer = self._kept.get(k, _MISS)
            if answer is not _MISS:
                self._kept.move_to_end(k)
                self.hits += 1
            return answer

    def _keep(self, k, answer) -> None:
        with self._lock:
            self.misses += 1
            self._kept[k] = answer
            while len(self._kept) > self.maxsize:
                self._kept.popitem(last=False)

    def cache_clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self.hits = self.misses = 0


class _PerBuild(Kept):
    """See :func:`per_build`."""

    def __init__(self, fn, maxsize: int):
        super().__init__(maxsize)
        self.fn = fn
        self.signature = inspect.signature(fn)

    def __call__(self, *args, **kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        path = str(_path(bound.arguments.get("db")))
        with snapshot(path) as key:
            k = (key, freeze(tuple((n, v) for n, v in bound.arguments.items() if n != "db")))
            return self.get(k, lambda: self.fn(*bound.args, **bound.kwargs))


def per_build(maxsize: int = 128):
    """Decorator for a read-only query function ``fn(..., db=None)``: its answer is kept per build
    and arguments (the build pinned by :func:`snapshot` for the call, so an answer is never filed
    under a build it was not read from) and handed out with :func:`fresh`. For answers that every
    council's page shares (a level's index, a level's spread of values): the second council asks
    a dictionary, not the database."""

    def wrap(fn):
        kept = _PerBuild(fn, maxsize)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            return kept(*args, **kwargs)

        # a plain function still (inspect and the security tests see its signature), with the
        # store's counters and reset beside it
        call.kept = kept
        call.cache_clear = kept.cache_clear
        return call

    return wrap
