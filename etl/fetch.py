"""``python -m etl fetch``: download every raw file the ETL needs, verified, into the raw-dir layout.

Two modes:

* **Publishers** (default): each file comes from its public GitHub repository at a pinned commit
  (``etl/origins.py``). Files used as published are verified against ``etl/manifest.sha256``.
  R ``.rda`` objects are converted (CSV / GeoJSON) with the pure-Python ``rdata`` package; a
  re-conversion is not guaranteed to reproduce the mirror's bytes, so when its sha256 differs
  the converted file's shape (row count and column names) is checked instead and the file is
  marked *converted, shape-checked* in ``FETCH_RECORD.tsv``.
* **Mirror** (``base_url``): a server laid out like ``../shared/data`` (``URL/<relative path>``);
  every file must match the manifest's sha256.

Why the care: a build must never read a half-downloaded or silently altered file. Bytes go to
``<name>.part``; a dropped connection resumes from the ``.part`` size with an HTTP Range request;
only after the sha256 (or shape) check passes is the ``.part`` fsynced and ``os.replace``d onto
the final name. Transient failures (HTTP 408/425/429/5xx, timeouts, refused or reset connections,
short bodies) are retried a bounded number of times with exponential backoff; anything else, or
running out of attempts, raises :class:`EtlInputError` naming the file and the URL.
Files already present with the right sha256 are skipped, so re-running is cheap.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from . import origins
from .core import EtlInputError, fsync_path, sha256_file
from .origins import COPY, RDA_CSV, RDA_WARDS_GEOJSON, Origin

MANIFEST = Path(__file__).with_name("manifest.sha256")
RECORD_NAME = "FETCH_RECORD.tsv"

#: Attempts per download (first try included) and the first backoff delay, doubled each retry.
RETRIES = 5
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 60.0
CHUNK_BYTES = 1 << 16
#: Files at least this large also log a line at every 25% while downloading.
PROGRESS_MIN_BYTES = 4 << 20
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "powerbalance-etl-fetch"

Log = Callable[[str], Any]


class _Transient(Exception):
    """A failure worth retrying (the next attempt may resume from the .part file)."""


class _Permanent(Exception):
    """A failure retrying cannot fix (e.g. HTTP 404)."""


# ------------------------------------------------------------------------------------------
# Manifest and selection
# ------------------------------------------------------------------------------------------

_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})  (?:\./)?(\S.*)$")


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """``relative path -> sha256`` from a ``sha256sum``-style manifest, in file order."""
    entries: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _MANIFEST_LINE.match(line)
        if not match:
            raise EtlInputError("not a '<sha256>  ./<path>' line", file=path, row=number)
        digest, rel = match.groups()
        parts = PurePosixPath(rel).parts
        if PurePosixPath(rel).is_absolute() or ".." in parts:
            raise EtlInputError(f"path {rel!r} escapes the raw directory", file=path, row=number)
        entries[rel] = digest
    return entries


def _select(manifest: dict[str, str], only: list[str] | None) -> list[str]:
    if only is None:
        return list(manifest)
    wanted = []
    for item in only:
        rel = item[2:] if item.startswith("./") else item
        if rel not in manifest:
            raise EtlInputError(f"unknown raw file {item!r}: it is not listed in {MANIFEST.name}", file=MANIFEST)
        wanted.append(rel)
    return wanted


# ------------------------------------------------------------------------------------------
# Record of what was fetched and how it was verified
# ------------------------------------------------------------------------------------------


class _Record:
    """``FETCH_RECORD.tsv`` in the raw dir: path, sha256, how it was verified, source URL.

    It says honestly which files match the project manifest and which were converted and only
    shape-checked, and it lets a re-run skip a converted file it already produced.
    """

    HEADER = "path\tsha256\tverified\tsource"

    def __init__(self, into: Path):
        self.file = into / RECORD_NAME
        self.rows: dict[str, tuple[str, str, str]] = {}
        if self.file.is_file():
            for line in self.file.read_text(encoding="utf-8").splitlines()[1:]:
                fields = line.split("\t")
                if len(fields) == 4:
                    self.rows[fields[0]] = (fields[1], fields[2], fields[3])

    def matches(self, rel: str, digest: str, source: str) -> bool:
        row = self.rows.get(rel)
        return row is not None and row[0] == digest and row[2] == source

    def set(self, rel: str, digest: str, verified: str, source: str) -> None:
        self.rows[rel] = (digest, verified, source)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(self.file.name + ".part")
        lines = [self.HEADER] + ["\t".join((path, *row)) for path, row in sorted(self.rows.items())]
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _publish(tmp, self.file)


# ------------------------------------------------------------------------------------------
# Public entry point
# ------------------------------------------------------------------------------------------


def fetch(into: Path, base_url: str | None = None, only: list[str] | None = None, log: Log = print) -> list[Path]:
    """Download the raw files (all, or ``only`` these relative paths) into ``into``; return their paths.

    ``base_url`` selects mirror mode (every file sha256-verified); without it files come from
    their publishers' repositories (see the module docstring for how converted files are checked).
    Raises :class:`EtlInputError` naming the file and URL when a file cannot be fetched.
    """
    into = Path(into)
    manifest = read_manifest()
    wanted = _select(manifest, only)
    record = _Record(into)
    where = base_url or "the publishers' repositories (raw GitHub content at pinned commits)"
    log(f"fetching {len(wanted)} raw file(s) into {into} from {where}")
    stats = {"downloaded": 0, "present": 0, "converted": 0, "shape_checked": 0}
    paths = []
    for number, rel in enumerate(wanted, start=1):
        tag = f"[{number}/{len(wanted)}] {rel}"
        final = into / rel
        if base_url is not None:
            url = f"{base_url.rstrip('/')}/{quote(rel)}"
            _fetch_verified(url, final, manifest[rel], rel, record, stats, log, tag)
        else:
            origin = origins.BY_PATH.get(rel)
            if origin is None:
                raise EtlInputError(f"no public origin is known for {rel}; add it to etl/origins.py", file=rel)
            url = origin.url(origins.GITHUB_RAW)
            if origin.kind == COPY:
                _fetch_verified(url, final, manifest[rel], rel, record, stats, log, tag)
            else:
                _fetch_converted(origin, url, final, manifest[rel], record, stats, log, tag)
        paths.append(final)
    log(
        f"done: {stats['downloaded']} downloaded, {stats['present']} already present"
        + (
            f", {stats['converted']} converted from R data ({stats['shape_checked']} shape-checked only, "
            f"see {RECORD_NAME})"
            if stats["converted"]
            else ""
        )
    )
    return paths


# ------------------------------------------------------------------------------------------
# Files verified by sha256
# ------------------------------------------------------------------------------------------


def _fetch_verified(
    url: str, final: Path, expected: str, rel: str, record: _Record, stats: dict, log: Log, tag: str
) -> None:
    verified = "sha256 matches manifest"
    if final.exists():
        if sha256_file(final) == expected:
            log(f"{tag}: already present, sha256 ok")
            record.set(rel, expected, verified, url)
            stats["present"] += 1
            return
        log(f"{tag}: existing file has the wrong sha256; removing it and downloading again")
        final.unlink()
    part = _part(final)
    if part.exists() and sha256_file(part) == expected:
        log(f"{tag}: complete download found in {part.name}, sha256 ok")
    else:
        got = _download_checked(url, part, rel, log, tag, lambda: sha256_file(part) == expected)
        if not got:
            digest = sha256_file(part)
            part.unlink()
            raise EtlInputError(
                f"sha256 mismatch for the file downloaded from {url}: expected {expected}, got "
                f"{digest}; nothing was written (the origin changed or the transfer was corrupted)",
                file=rel,
            )
    _publish(part, final)
    record.set(rel, expected, verified, url)
    stats["downloaded"] += 1


def _download_checked(url: str, part: Path, rel: str, log: Log, tag: str, check: Callable[[], bool]) -> bool:
    """Download (resuming any .part) and run ``check``; if a resumed file fails, retry once from zero.

    A stale .part from an earlier run (say, the origin was a different file) cannot be told from a
    good prefix until the whole file is hashed, hence the single fresh retry.
    """
    resumed_from = _download(url, part, rel, log, tag)
    if check():
        return True
    if resumed_from:
        log(f"{tag}: check failed after resuming at {resumed_from:,} bytes; downloading again from the start")
        part.unlink()
        _download(url, part, rel, log, tag)
        return check()
    return False


# ------------------------------------------------------------------------------------------
# Files converted from R data
# ------------------------------------------------------------------------------------------


def _fetch_converted(
    origin: Origin, url: str, final: Path, expected: str, record: _Record, stats: dict, log: Log, tag: str
) -> None:
    rel = origin.path
    if final.exists():
        digest = sha256_file(final)
        if digest == expected or record.matches(rel, digest, url):
            verified = "sha256 matches manifest" if digest == expected else record.rows[rel][1]
            log(f"{tag}: already present ({verified})")
            record.set(rel, digest, verified, url)
            stats["present"] += 1
            return
        log(f"{tag}: existing file does not match the manifest or {RECORD_NAME}; fetching again")
        final.unlink()
    # The downloaded .rda lives beside the target as a .part too: kept (to resume) if the download
    # fails, removed once converted or found unreadable.
    source = final.with_name(final.name + ".origin" + PurePosixPath(origin.repo_path).suffix + ".part")
    out = _part(final)
    shape: tuple[int, tuple[str, ...]] | None = None
    failure = ""

    def convert() -> bool:
        nonlocal shape, failure
        try:
            shape = CONVERTERS[origin.kind](source, out, origin)
        except Exception as exc:  # any parse failure of a downloaded file becomes one clear error below
            failure = exc.message if isinstance(exc, EtlInputError) else f"{type(exc).__name__}: {exc}"
            out.unlink(missing_ok=True)
            return False
        return True

    converted = _download_checked(url, source, rel, log, tag, convert)
    source.unlink(missing_ok=True)
    if not converted or shape is None:
        raise EtlInputError(f"could not convert {origin.repo_path} downloaded from {url}: {failure}", file=rel)
    rows, columns = shape
    digest = sha256_file(out)
    if digest == expected:
        verified = "sha256 matches manifest (converted from .rda)"
    else:
        problems = []
        if rows != origin.rows:
            problems.append(f"{rows:,} rows, expected {origin.rows:,}")
        if columns != origin.columns:
            problems.append(f"columns {list(columns)}, expected {list(origin.columns)}")
        if problems:
            out.unlink()
            raise EtlInputError(
                f"converted {origin.repo_path} from {url} has the wrong shape: " + "; ".join(problems), file=rel
            )
        verified = (
            f"converted from .rda; sha256 differs from manifest; shape checked ({rows} rows, {len(columns)} columns)"
        )
        stats["shape_checked"] += 1
    log(f"{tag}: converted {origin.repo_path} -> {rows:,} rows, {len(columns)} columns; {verified}")
    _publish(out, final)
    record.set(rel, digest, verified, url)
    stats["converted"] += 1
    stats["downloaded"] += 1


def _read_r_object(rda: Path, origin: Origin, constructors: dict | None = None) -> Any:
    """The data object in an .rda file (named after the file, as R packages do)."""
    import rdata

    kwargs = {"constructor_dict": constructors} if constructors else {}
    with warnings.catch_warnings():
        # rdata warns for every class it has no constructor for (tibble's tbl_df falls back to
        # data.frame, as intended) and for unexpected file types, which then fail to parse anyway.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"rdata\.")
        objects = rdata.read_rda(rda, default_encoding="utf8", **kwargs)
    if origin.object_name in objects:
        return objects[origin.object_name]
    if len(objects) == 1:
        return next(iter(objects.values()))
    raise EtlInputError(
        f"{origin.repo_path} holds {sorted(objects)}, not the object '{origin.object_name}'", file=origin.path
    )


def convert_rda_csv(rda: Path, out: Path, origin: Origin) -> tuple[int, tuple[str, ...]]:
    """Write the .rda data frame as CSV (pandas, no index, UTF-8, LF): values unchanged."""
    import pandas as pd

    frame = _read_r_object(rda, origin)
    if not isinstance(frame, pd.DataFrame):
        raise EtlInputError(
            f"{origin.repo_path}: object '{origin.object_name}' is a {type(frame).__name__}, not a data frame",
            file=origin.path,
        )
    with open(out, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
        fh.flush()
        os.fsync(fh.fileno())
    return len(frame), tuple(str(c) for c in frame.columns)


# --- sf objects (the ward boundaries): R classes sf / sfc / sfg -> a GeoDataFrame -------------


class _Geometries(list):
    """An ``sfc`` column: shapely geometries plus the CRS stored on the column."""

    crs: str | None = None


def _sfg(value: Any, attrs: dict) -> Any:
    from shapely.geometry import MultiPolygon, Polygon

    dim, kind = (str(c) for c in list(attrs["class"])[:2])
    if dim != "XY":
        raise ValueError(f"only XY geometries are supported, not {dim}")
    if kind == "MULTIPOLYGON":
        return MultiPolygon([Polygon(rings[0], rings[1:]) for rings in value])
    if kind == "POLYGON":
        return Polygon(value[0], value[1:])
    raise ValueError(f"unsupported geometry type {kind}")


def _first_string(value: Any) -> str | None:
    if value is None or len(value) == 0 or value[0] is None:
        return None
    return str(value[0])


def _sfc(value: Any, attrs: dict) -> _Geometries:
    geoms = _Geometries(value)
    crs = attrs.get("crs") or {}
    geoms.crs = _first_string(crs.get("wkt")) or _first_string(crs.get("input"))
    return geoms


def _sf(value: Any, attrs: dict) -> Any:
    import geopandas as gpd
    import rdata

    geometry_column = _first_string(attrs.get("sf_column")) or "geometry"
    geoms = value[geometry_column]
    # rdata's own data.frame constructor turns the attribute columns into pandas (NA-aware) columns.
    frame = rdata.conversion.dataframe_constructor({str(k): v for k, v in value.items() if k != geometry_column}, attrs)
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(geoms), crs=geoms.crs)


def convert_rda_wards(rda: Path, out: Path, origin: Origin) -> tuple[int, tuple[str, ...]]:
    """Write the ward ``sf`` object as GeoJSON in EPSG:4326, English wards only, the mirror's columns."""
    import rdata

    constructors = {**rdata.conversion.DEFAULT_CLASS_MAP, "sfg": _sfg, "sfc": _sfc, "sf": _sf}
    frame = _read_r_object(rda, origin, constructors)
    if not hasattr(frame, "geometry"):
        raise EtlInputError(
            f"{origin.repo_path}: object '{origin.object_name}' is not an sf data frame", file=origin.path
        )
    missing = [c for c in origin.columns if c not in frame.columns]
    if missing:
        raise EtlInputError(f"{origin.repo_path}: columns {missing} are missing", file=origin.path)
    if frame.crs is None:
        raise EtlInputError(f"{origin.repo_path}: the geometry column carries no CRS", file=origin.path)
    if frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    english = frame[frame[origin.columns[0]].astype(str).str.startswith("E")]
    english = english[[*origin.columns, "geometry"]]
    out.unlink(missing_ok=True)
    english.to_file(out, driver="GeoJSON", layer=PurePosixPath(origin.path).stem, engine="pyogrio")
    fsync_path(out)
    return len(english), tuple(origin.columns)


CONVERTERS: dict[str, Callable[[Path, Path, Origin], tuple[int, tuple[str, ...]]]] = {
    RDA_CSV: convert_rda_csv,
    RDA_WARDS_GEOJSON: convert_rda_wards,
}


# ------------------------------------------------------------------------------------------
# HTTP download with resume and retries
# ------------------------------------------------------------------------------------------


def _part(final: Path) -> Path:
    return final.with_name(final.name + ".part")


def _download(url: str, part: Path, rel: str, log: Log, tag: str) -> int:
    """Download ``url`` into ``part`` (resuming it); returns the offset resumed from (0 = fresh)."""
    delay = BACKOFF_SECONDS
    for attempt in range(1, RETRIES + 1):
        try:
            return _download_once(url, part, log, tag)
        except _Permanent as exc:
            _drop_if_empty(part)
            raise EtlInputError(f"could not download from {url}: {exc}", file=rel) from None
        except _Transient as exc:
            reason = str(exc)
        except (URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            reason = _describe(exc)
        if attempt == RETRIES:
            _drop_if_empty(part)
            kept = (
                f"; the partial download is kept as {part} and the next fetch resumes it"
                if part.exists()
                else "; nothing was written"
            )
            raise EtlInputError(f"could not download from {url} after {RETRIES} attempts: {reason}{kept}", file=rel)
        log(f"{tag}: {reason}; retrying in {delay:g} s (attempt {attempt + 1} of {RETRIES})")
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    if isinstance(exc, URLError):
        return f"cannot connect ({exc.reason})"
    return f"{type(exc).__name__}: {exc}"


def _drop_if_empty(part: Path) -> None:
    if part.exists() and part.stat().st_size == 0:
        part.unlink()


_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def _download_once(url: str, part: Path, log: Log, tag: str) -> int:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urlopen(Request(url, headers=headers), timeout=TIMEOUT_SECONDS)
    except HTTPError as exc:
        exc.close()
        if exc.code == 416 and have:
            part.unlink()
            raise _Transient("the server refused to resume (HTTP 416); starting again from zero") from None
        if exc.code in TRANSIENT_HTTP:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
    with response:
        total: int | None = None
        if have and response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                part.unlink()
                raise _Transient(
                    f"unexpected Content-Range {response.headers.get('Content-Range')!r}; starting again from zero"
                )
            total = int(match.group(3)) if match.group(3) != "*" else None
        else:
            have = 0  # a 200 answer to a Range request is the whole file: start over
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        resumed_from = have
        part.parent.mkdir(parents=True, exist_ok=True)
        received = have
        next_step = 25
        with open(part, "ab" if have else "wb") as fh:
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                fh.write(chunk)
                received += len(chunk)
                if total and total >= PROGRESS_MIN_BYTES and next_step < 100 and received * 100 >= next_step * total:
                    percent = received * 100 // total
                    log(f"{tag}: {received:,} of {total:,} bytes ({percent}%)")
                    next_step = percent // 25 * 25 + 25
            fh.flush()
            os.fsync(fh.fileno())
        if total is not None and received != total:
            raise _Transient(f"connection closed after {received:,} of {total:,} bytes")
    shown = f"{received:,} of {total:,} bytes (100%)" if total is not None else f"{received:,} bytes"
    log(f"{tag}: {shown}" + (f", resumed at {resumed_from:,}" if resumed_from else "") + f" from {url}")
    return resumed_from


# ------------------------------------------------------------------------------------------
# Atomic publish
# ------------------------------------------------------------------------------------------


def _publish(part: Path, final: Path) -> None:
    """fsync ``part``, rename it onto ``final`` (atomic on POSIX), fsync the directory entry."""
    fsync_path(part)
    os.replace(part, final)
    fsync_path(final.parent)
