"""Shared ETL machinery: the Source contract, input errors, the load report and strict readers.

Every source module in ``etl/sources/`` declares *what* it loads (publisher, licence, vintage,
official page, raw files) and implements ``load(ctx)``. Everything about *how* bad input is
reported lives here so that every loader speaks the same language: an :class:`EtlInputError`
names the file, sheet, row and column; a recoverable oddity becomes a warning in the load report.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import importlib
import io
import json
import multiprocessing
import os
import re
import select
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from powerbalance.codes import NotText, decode_bytes, open_workbook, sheet_rows
from powerbalance.errors import LocatedError

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class EtlInputError(LocatedError):
    """Bad input that stops a build. Always says where: file, sheet, row, column
    (see :class:`powerbalance.errors.LocatedError`)."""


# --------------------------------------------------------------------------------------------
# Load report
# --------------------------------------------------------------------------------------------

#: Markers statistical publishers use for suppressed / not available cells.
SUPPRESSION_MARKERS = {
    "..",
    "...",
    "[c]",
    "[x]",
    "[z]",
    "[low]",
    "x",
    "c",
    ":",
    "-",
    "–",
    "—",
    "n/a",
    "na",
    "*",
    "[u]",
    "[w]",
    "#",
    "\u2026",
}


@dataclass
class Issue:
    kind: str  # warning | unmatched | suppressed | negative | note
    message: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    code: str | None = None

    def as_row(self, source_id: str) -> tuple:
        return (source_id, self.kind, self.message, self.file, self.sheet, self.row, self.column, self.code)


@dataclass
class LoadReport:
    """What a source did: rows read/loaded and every problem, kept for the ``load_report`` table."""

    source_id: str
    rows_read: int = 0
    rows_loaded: int = 0
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0
    # free-form numeric facts worth publishing (e.g. "grants_unplaced": 12)
    facts: dict[str, float] = field(default_factory=dict)

    def _add(self, kind, message, file=None, sheet=None, row=None, column=None, code=None):
        self.issues.append(
            Issue(
                kind,
                message,
                None if file is None else Path(file).name,
                sheet,
                row,
                None if column is None else str(column),
                code,
            )
        )

    def warn(self, message, **loc):
        self._add("warning", message, **loc)

    def note(self, message, **loc):
        self._add("note", message, **loc)

    def unmatched(self, code: str, message: str = "code not found in current geography", **loc):
        self._add("unmatched", message, code=code, **loc)

    def suppressed(self, message="suppressed or not-available marker read as missing", **loc):
        self._add("suppressed", message, **loc)

    def negative(self, message="negative value kept as published", **loc):
        self._add("negative", message, **loc)

    def count(self, kind: str) -> int:
        return sum(1 for i in self.issues if i.kind == kind)

    def merge(self, other: LoadReport) -> None:
        """Take in what work done elsewhere (a background step) read, found and noted."""
        self.rows_read += other.rows_read
        self.issues.extend(other.issues)
        self.facts.update(other.facts)


# --------------------------------------------------------------------------------------------
# Source contract
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a raw file can be downloaded from (used by ``python -m etl fetch``)."""

    path: str  # path under the raw directory, e.g. "geography/WD23_LAD23_UK_LU_DEC.csv"
    repo: str  # owner/name on GitHub
    commit: str
    repo_path: str  # path inside the repository
    convert: str | None = None  # e.g. "rda-csv" / "rda-geojson" when the file is converted from .rda
    rda_object: str | None = None


class Source:
    """A raw data source. Subclasses set the class attributes and implement :meth:`load`."""

    id: ClassVar[str]
    title: ClassVar[str]
    publisher: ClassVar[str]
    licence: ClassVar[str]
    attribution: ClassVar[str] = ""
    vintage: ClassVar[str]
    url: ClassVar[str]  # official download / landing page
    files: ClassVar[Sequence[str]]  # glob patterns relative to the raw directory
    origins: ClassVar[Sequence[Origin]] = ()
    depends: ClassVar[Sequence[str]] = ()
    optional: ClassVar[bool] = False  # optional sources (e.g. local/) may find no files

    def load(self, ctx: BuildContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    #: a source whose :meth:`start` begins work in the background: the build starts it as soon as
    #: its ``depends`` are loaded and loads it as late as its dependants allow
    background: ClassVar[bool] = False

    def start(self, ctx: BuildContext) -> None:
        """Begin, with :meth:`BuildContext.begin`, work that needs only the raw files and what the
        ``depends`` loaded; :meth:`load` collects it. Only for sources with ``background``."""

    def prepare(self, ctx: BuildContext) -> Any:
        """Work on the raw files alone (reading, parsing, looking things up outside the database),
        which the build may do early: while it waits for background work, before this source's
        turn. :meth:`load` takes the result with :meth:`BuildContext.prepared`, which calls this
        then if the build has not. Must not touch the database; returns what :meth:`load` needs."""
        return None

    # helpers -------------------------------------------------------------------------------
    def paths(self, ctx: BuildContext) -> list[Path]:
        out: list[Path] = []
        for pattern in self.files:
            matched = sorted(ctx.raw_dir.glob(pattern))
            if not matched and not self.optional:
                raise EtlInputError(f"required raw file matching '{pattern}' not found in {ctx.raw_dir}", file=pattern)
            out.extend(matched)
        return out


class BuildContext:
    """Handed to every source: the new (not yet live) database, the raw directory and reports."""

    def __init__(self, con, raw_dir: Path, build_id: str):
        self.con = con
        self.raw_dir = Path(raw_dir)
        self.build_id = build_id
        self.reports: dict[str, LoadReport] = {}
        self._work: dict[str, HelperWork] = {}
        self._prepared: dict[str, Any] = {}

    def begin(self, source_id: str, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the build's helper process (a second core: a thread would share one
        with the build through Python's lock); :meth:`collect` returns its result. ``fn`` is a
        module-level function; it, its arguments and its result are pickled, and it must not touch
        the database."""
        self._work[source_id] = in_helper(fn, *args)

    def begun(self, source_id: str) -> bool:
        return source_id in self._work

    def collect(self, source_id: str) -> Any:
        """The result of the work begun for ``source_id`` (waiting for it); its error if it failed."""
        return self._work.pop(source_id).result()

    def end_background(self) -> None:
        """Wait for work begun and not collected (a failed build must not leave it writing files)."""
        for work in self._work.values():
            work.settle()
        self._work.clear()

    def prepare(self, source: Source) -> None:
        """Do ``source``'s :meth:`Source.prepare` now and keep the result for its :meth:`load`."""
        if source.id not in self._prepared:
            self._prepared[source.id] = source.prepare(self)

    def prepared(self, source: Source) -> Any:
        """What ``source``'s :meth:`Source.prepare` returned, done now if the build has not yet."""
        self.prepare(source)
        return self._prepared.pop(source.id)

    def report(self, source_id: str) -> LoadReport:
        return self.reports.setdefault(source_id, LoadReport(source_id))

    def register_file(self, source: Source, path: Path) -> str:
        """Record a raw file's provenance in ``sources``; returns its sha256."""
        digest = sha256_file(path)
        rel = (
            str(Path(path).resolve().relative_to(self.raw_dir.resolve()))
            if _is_under(path, self.raw_dir)
            else Path(path).name
        )
        self.con.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                source.id,
                source.title,
                rel,
                digest,
                Path(path).stat().st_size,
                source.publisher,
                source.licence,
                source.attribution or source.publisher,
                source.vintage,
                source.url,
            ],
        )
        return digest


_HELPER: ProcessPoolExecutor | None = None


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection inside the block (a build, or a piece of its work in the helper):
    its objects (parsed JSON, rows, geometries) live until it ends, and the collector re-scanning
    them again and again cost about 6 % of the build, 10 % of the boundaries' work. Re-enabled (if
    it was on) when the block ends or fails."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _without_gc(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in the helper with the collector paused, as the build pauses its own."""
    with gc_paused():
        return fn(*args)


class HelperWork:
    """``fn(*args)`` begun in the build's helper process. If the helper cannot start or dies before
    answering (killed, out of memory), :meth:`result` does the work here instead: the build is
    slower, never wrong or lost."""

    def __init__(self, fn: Callable[..., Any], args: tuple):
        self.fn, self.args = fn, args
        try:
            self.future: Future | None = _helper().submit(_without_gc, fn, *args)
        except (OSError, RuntimeError, BrokenProcessPool):  # no helper here: the work is done at result()
            self.future = None

    def result(self) -> Any:
        if self.future is not None:
            try:
                return self.future.result()
            except BrokenProcessPool:
                self.future = None
        return self.fn(*self.args)

    def settle(self) -> None:
        """Cancel the work if it has not started, else wait for it to end."""
        if self.future is not None and not self.future.cancel():
            wait([self.future])


def in_helper(fn: Callable[..., Any], *args: Any) -> HelperWork:
    """``fn(*args)`` in the build's helper process (see :meth:`BuildContext.begin`)."""
    return HelperWork(fn, args)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc/<pid>/stat``); NaN when
    it cannot be read (gone, or not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def helper_cpu_seconds() -> float:
    """CPU seconds the helper process has used so far (0 when none runs), so a build's CPU can be
    counted whole."""
    seconds = [process_cpu_seconds(p.pid) for p in (getattr(_HELPER, "_processes", None) or {}).values()]
    return sum(s for s in seconds if s == s)  # a helper that has just gone counts nothing


def preload(module: str) -> None:
    """Import ``module`` (in the helper, while it is idle, before work that needs it arrives)."""
    importlib.import_module(module)


def _helper() -> ProcessPoolExecutor:
    """One helper process for every build in this process, started on first use from a clean
    ``forkserver`` (not a fork of the build, whose database threads must not be copied)."""
    global _HELPER
    if _HELPER is None or getattr(_HELPER, "_broken", False):
        _HELPER = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_end_with_build,
            initargs=(os.getpid(),),
        )
    return _HELPER


def _end_with_build(build_pid: int) -> None:
    """In the helper: end it as soon as the build's process ends, so a killed build leaves no
    helper writing into its abandoned files (the helper's parent is the forkserver, which the
    helper itself keeps alive, so the parent's death cannot be the signal)."""
    threading.Thread(target=_exit_when_ended, args=(build_pid,), daemon=True, name="pb-watch-build").start()


def _exit_when_ended(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # readable once the process has ended, reaped or not (Linux)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while pid_alive(pid):
            time.sleep(0.25)
    os._exit(1)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_under(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def fsync_path(path: Path) -> None:
    """Flush a file (or a directory's entries) to disk: used before and after atomic renames."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Strict readers
# --------------------------------------------------------------------------------------------


def decode_text(path: Path, report: LoadReport | None = None) -> str:
    """Read a text file as UTF-8 (BOM stripped). cp1252 files are accepted with a recorded warning."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise EtlInputError("file is empty", file=path)
    try:
        text, not_utf8 = decode_bytes(data)
    except NotText as exc:
        raise EtlInputError(
            f"not UTF-8 text (byte 0x{exc.byte:02x} at line {exc.line}) and not cp1252 either", file=path, row=exc.line
        ) from None
    if not_utf8 and report is not None:
        report.warn(
            f"file is not UTF-8 (first bad byte at line {not_utf8[0]}); read as Windows-1252",
            file=path,
            row=not_utf8[0],
        )
    return text


@dataclass
class Table:
    """A CSV read as strings, with its file name and 1-based line numbers for error messages."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]]
    lines: list[int]  # physical line number of each row (header is line 1)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(zip(self.lines, self.rows))


def read_csv(
    path: Path,
    required: Iterable[str],
    report: LoadReport | None = None,
    unique: Sequence[str] | None = None,
    max_rows: int | None = None,
) -> Table:
    """Read a CSV strictly: every required column present, optional unique key, all values as text."""
    text = decode_text(path, report)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise EtlInputError("file has no header row", file=path) from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise EtlInputError(
            f"missing required column(s) {missing}; found {header[:12]}", file=path, row=1, column=missing[0]
        )
    dupes = {h for h in header if h and header.count(h) > 1}
    if dupes & set(required):
        raise EtlInputError(
            f"column name(s) repeated in header: {sorted(dupes)}", file=path, row=1, column=sorted(dupes)[0]
        )
    rows, lines = [], []
    seen: dict[tuple, int] = {}
    width = len(header)
    position = {h: i for i, h in enumerate(header)}  # the last of a repeated name, as dict(zip()) keeps
    key_at = [position[k] for k in unique or ()]
    for rec in reader:
        line = reader.line_num
        if not "".join(rec).strip():  # a blank row (faster than testing each field)
            continue
        if max_rows is not None and len(rows) >= max_rows:
            raise EtlInputError(f"more than {max_rows} data rows", file=path, row=line)
        if len(rec) != width:
            raise EtlInputError(f"row has {len(rec)} fields but the header has {len(header)}", file=path, row=line)
        if key_at:
            key = tuple([rec[i].strip() for i in key_at])
            if key in seen:
                raise EtlInputError(
                    f"duplicate key {dict(zip(unique, key))} (first seen on line {seen[key]})",
                    file=path,
                    row=line,
                    column=unique[0],
                )
            seen[key] = line
        rows.append(dict(zip(header, rec)))
        lines.append(line)
    if not rows:
        raise EtlInputError("file has a header but no data rows", file=path, row=2)
    return Table(Path(path), header, rows, lines)


_NUM_CLEAN = re.compile(r"[£$€,\s]")


def parse_number(
    value: Any,
    *,
    file=None,
    sheet=None,
    row=None,
    column=None,
    report: LoadReport | None = None,
    allow_negative: bool = True,
) -> float | None:
    """Parse a published number. Blank → None; suppression marker → None (recorded);
    thousands separators and currency signs removed; anything else non-numeric is an error."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise EtlInputError(
            f"expected a number, found boolean {value!r}", file=file, sheet=sheet, row=row, column=column
        )
    if isinstance(value, (int, float)):
        num = float(value)
        if num != num:  # NaN
            return None
    else:
        s = str(value).strip()
        if s == "":
            return None
        if s.lower() in SUPPRESSION_MARKERS:
            if report is not None:
                report.suppressed(f"marker {s!r} read as missing", file=file, sheet=sheet, row=row, column=column)
            return None
        cleaned = _NUM_CLEAN.sub("", s)
        neg = cleaned.startswith("(") and cleaned.endswith(")")
        if neg:
            cleaned = cleaned[1:-1]
        try:
            num = float(cleaned)
        except ValueError:
            raise EtlInputError(
                f"expected a number, found {s!r}", file=file, sheet=sheet, row=row, column=column
            ) from None
        if neg:
            num = -num
    if num < 0:
        if not allow_negative:
            raise EtlInputError(f"negative value {num} not allowed", file=file, sheet=sheet, row=row, column=column)
        if report is not None:
            report.negative(f"negative value {num:g} kept as published", file=file, sheet=sheet, row=row, column=column)
    return num


def read_excel_rows(path: Path, sheet: str) -> list[list[Any]]:
    """All rows of one sheet via the calamine engine (xls and xlsx)."""
    wb = open_workbook(path, path, EtlInputError)
    if sheet not in wb.sheet_names:
        raise EtlInputError(f"sheet not found; sheets are {wb.sheet_names}", file=path, sheet=sheet)
    # skip_empty_area=False keeps leading blank rows/columns so row numbers match what Excel shows
    return sheet_rows(wb, sheet, path, EtlInputError, skip_empty_area=False)[1]


def read_json(path: Path, report: LoadReport | None = None) -> Any:
    text = decode_text(path, report)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EtlInputError(f"invalid JSON: {exc.msg}", file=path, row=exc.lineno, column=exc.colno) from None


def _arrow_rows(rows: list[Sequence[Any]], columns: list[str]):
    """Tuples as an Arrow table, one column at a time (NaN read as missing, as DuckDB reads a
    pandas frame's NaN); None when a column mixes kinds Arrow cannot hold in one type."""
    import pyarrow as pa

    if set(map(len, rows)) != {len(columns)}:
        return None  # pandas says what is wrong
    try:
        return pa.table([pa.array(col, from_pandas=True) for col in zip(*rows)], names=columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def insert_rows(con, table: str, rows: Sequence[Sequence[Any]] | Any, columns: Sequence[str] | None = None) -> int:
    """Bulk insert (tuples or a DataFrame) via an Arrow table or a pandas frame: executemany is far
    too slow in DuckDB, and tuples go to Arrow directly (pandas' own text conversion is slower)."""
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        frame, names = rows, list(rows.columns)
    else:
        if columns is None:
            columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        rows, names = list(rows), list(columns)
        if not rows:
            return 0
        frame = _arrow_rows(rows, names)
        if frame is None:
            frame = pd.DataFrame.from_records(rows, columns=names)
    if not len(frame):
        return 0
    cols = ", ".join(f'"{c}"' for c in names)
    con.register("_insert_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _insert_frame")
    finally:
        con.unregister("_insert_frame")
    return len(frame)
