"""Boundaries: ward, district, county and region outlines for the map and the postcode finder.

Why this is more than "read and simplify": neighbouring areas must keep *shared* edges after
simplification, otherwise the map shows slivers (gaps) and double-coloured overlaps. So every
layer is turned into a topology — a set of arcs, each shared edge stored once — and each arc is
simplified once (Douglas–Peucker in metres on the British National Grid, arc ends pinned), then the
polygons are re-assembled from the simplified arcs. Neighbours therefore use the *same* simplified
edge. The ONS TopoJSON files already carry arcs; the ward GeoJSON does not, so arcs are rebuilt
from its exactly shared vertices.

Simplification and rounding can still break geometry: an arc can cut across another arc, or a
small ring can collapse. Every assembled polygon is checked (validity, and — with the GEOS
coverage validator — no overlap with any other polygon); the arcs of a failing area (and of the
area it overlaps) get a quarter of the tolerance, then none, then finer rounding, and the check
runs again. Anything still invalid after that is invalid in the published file itself and is
repaired with ``make_valid``; remaining overlaps are reported (both counted in the load report).

Outputs: ``boundaries`` rows (WKB, WGS84) and one minimal GeoJSON FeatureCollection per level in
``ctx.geo_dir`` (feature ``id`` = GSS code, properties ``code`` and ``name`` only), which the build
publishes as static files so the browser fetches each once. See docs/boundaries.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

from powerbalance.codes import is_gss

from ..core import BuildContext, EtlInputError, LoadReport, Source, insert_rows, read_json

# A topology arc reference follows the TopoJSON convention: i ≥ 0 is arc i as stored, ~i (i.e. -i-1)
# is arc i reversed.
Ring = list[int]
PolygonRefs = list[Ring]  # shell first, then holes
ENGLAND_DISTRICT_PREFIXES = ("E06", "E07", "E08", "E09")


@dataclass(frozen=True)
class AdaptiveTolerance:
    """Per-arc tolerance = min(group_factor × √(area of the area's group), area_factor × √(area)),
    clamped to [lo, hi] metres, taking the smallest over the areas that share the arc.

    For wards the group is the district. A councillor looks at wards a district at a time, so
    the first term bounds the distortion at that zoom (here 3 % of the district's width); the
    second stops a small ward losing its shape when zoomed in on. Large rural wards, which hold
    most of the vertices, lose detail nobody sees at the scale they fill the screen."""

    group_factor: float
    area_factor: float
    lo: float
    hi: float


@dataclass(frozen=True)
class LevelSpec:
    """How one level is read and simplified (see docs/boundaries.md for the measurements)."""

    level: str
    file: str  # path under the raw directory
    code_prefixes: tuple[str, ...]
    vintage: str
    tolerance: float | AdaptiveTolerance  # Douglas–Peucker tolerance (m) for the browser file
    decimals: int = 4  # rounding of the browser file (4 dp ≈ 11 m N–S, 7 m E–W)
    # The ward table geometry drives the postcode finder, so it keeps every published vertex
    # (None = same geometry as the browser file).
    table_decimals: int | None = None


LEVELS = (
    LevelSpec(
        "ward",
        "geography/wards_dec2023_england_bsc.geojson",
        ("E05",),
        "WD Dec 2023 (BSC)",
        AdaptiveTolerance(group_factor=0.03, area_factor=0.2, lo=30.0, hi=1000.0),
        table_decimals=5,
    ),
    LevelSpec(
        "district",
        "geography/Local_Authority_Districts_December_2024_Boundaries_UK_BUC.topojson",
        ENGLAND_DISTRICT_PREFIXES,
        "LAD Dec 2024 (BUC)",
        100.0,
    ),
    LevelSpec(
        "county",
        "geography/Counties_December_2024_Boundaries_EN_BSC.topojson",
        ("E10",),
        "County Dec 2024 (BSC)",
        200.0,
    ),
    LevelSpec(
        "region", "geography/Regions_December_2023_Boundaries_EN_BUC.topojson", ("E12",), "Region Dec 2023 (BUC)", 0.0
    ),
)

_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


# --------------------------------------------------------------------------------------------
# Topology
# --------------------------------------------------------------------------------------------


@dataclass
class Area:
    code: str
    name: str
    polygons: list[PolygonRefs]
    row: int  # feature index in the file (for error messages)


@dataclass
class Topology:
    """Arcs (WGS84 lon/lat arrays) plus areas whose rings are lists of arc references."""

    arcs: list[np.ndarray]
    areas: list[Area] = field(default_factory=list)


def _arc_id(ref: int) -> int:
    return ref if ref >= 0 else ~ref


def read_topojson(path: Path, report: LoadReport, prefixes: tuple[str, ...]) -> Topology:
    """Decode an ONS TopoJSON layer (quantised, delta-encoded arcs; properties AREACD/AREANM).

    TopoJSON carries no CRS: the ONS files are WGS84 longitude/latitude, which is checked by range.
    """
    doc = read_json(path, report)
    try:
        obj = next(iter(doc["objects"].values()))
        geoms = obj["geometries"]
        raw_arcs = doc["arcs"]
    except (KeyError, TypeError, StopIteration):
        raise EtlInputError("not a TopoJSON topology with one object of geometries", file=path) from None
    tr = doc.get("transform")
    arcs = []
    for a in raw_arcs:
        pts = np.asarray(a, dtype=float)
        if tr:
            pts = np.cumsum(pts, axis=0) * np.asarray(tr["scale"]) + np.asarray(tr["translate"])
        arcs.append(pts)
    topo = Topology(arcs)
    for i, g in enumerate(geoms):
        props = g.get("properties") or {}
        code, name = str(props.get("AREACD", "")).strip(), str(props.get("AREANM", "")).strip()
        if not is_gss(code):
            raise EtlInputError(f"feature has no valid GSS code in AREACD: {code!r}", file=path, row=i, column="AREACD")
        if not code.startswith(prefixes):
            continue
        if g.get("type") == "Polygon":
            polys = [g["arcs"]]
        elif g.get("type") == "MultiPolygon":
            polys = g["arcs"]
        else:
            raise EtlInputError(
                f"{code}: expected Polygon or MultiPolygon, found {g.get('type')}", file=path, row=i, column="type"
            )
        topo.areas.append(Area(code, name, [[list(r) for r in p] for p in polys], i))
    _check_lonlat(topo, path)
    return topo


def read_geojson_as_topology(
    path: Path, report: LoadReport, code_col: str, name_col: str, parent_col: str
) -> tuple[Topology, dict[str, str]]:
    """Read a polygon GeoJSON and rebuild its topology from exactly shared vertices.

    A vertex is a *junction* when the rings through it do not all pass the same pair of
    neighbours (three areas meet, or a shared edge ends). Rings are cut at junctions into arcs and
    each arc is stored once, so an edge between two areas becomes one arc used by both.
    Returns the topology and each area's parent code as published (for a consistency check).
    """
    rings, features, parents = read_polygon_features(path, report, code_col, name_col, parent_col)
    coords, pid, ring_of, lengths, start = ring_point_ids(rings)
    ring_ids, ring_cuts = cut_rings_at_junctions(len(coords), pid, ring_of, lengths, start)
    store = ArcStore(coords)
    topo = Topology(store.arcs)
    for code, name, row, ring_numbers in features:
        area_polys = [
            refs
            for refs in (
                polygon_arcs(numbers, ring_ids, ring_cuts, store, report, path, code, row) for numbers in ring_numbers
            )
            if refs
        ]
        topo.areas.append(Area(code, name, area_polys, row))
    _check_lonlat(topo, path)
    return topo, parents


def read_polygon_features(
    path: Path, report: LoadReport, code_col: str, name_col: str, parent_col: str
) -> tuple[list[np.ndarray], list[tuple], dict[str, str]]:
    """Every ring's coordinates (closing point removed); per feature (code, name, row, [[ring
    numbers] per polygon]); each feature's published parent code."""
    doc = read_json(path, report)
    if doc.get("type") != "FeatureCollection":
        raise EtlInputError("expected a GeoJSON FeatureCollection", file=path)
    crs = ((doc.get("crs") or {}).get("properties") or {}).get("name", "")
    if crs and not crs.endswith(("CRS84", "4326")):
        raise EtlInputError(f"expected WGS84 longitude/latitude, file declares {crs}", file=path, column="crs")
    rings: list[np.ndarray] = []
    features = []
    parents: dict[str, str] = {}
    for i, f in enumerate(doc.get("features") or []):
        props = f.get("properties") or {}
        code = str(props.get(code_col, "")).strip()
        if not is_gss(code):
            raise EtlInputError(f"feature has no valid GSS code: {code!r}", file=path, row=i, column=code_col)
        ring_numbers = []
        for poly in _polygons(f.get("geometry") or {}, code, path, i):
            numbers = []
            for ring in poly:
                numbers.append(len(rings))
                rings.append(_ring_coordinates(ring, code, path, i))
            ring_numbers.append(numbers)
        features.append((code, str(props.get(name_col, "")).strip(), i, ring_numbers))
        parents[code] = str(props.get(parent_col, "")).strip()
    if not rings:
        raise EtlInputError("no polygons found", file=path)
    return rings, features, parents


def _polygons(geom: dict, code: str, path: Path, row: int) -> list:
    if geom.get("type") == "Polygon":
        return [geom["coordinates"]]
    if geom.get("type") == "MultiPolygon":
        return geom["coordinates"]
    raise EtlInputError(
        f"{code}: expected Polygon or MultiPolygon, found {geom.get('type')}", file=path, row=row, column="geometry"
    )


def _ring_coordinates(ring, code: str, path: Path, row: int) -> np.ndarray:
    """A ring as an (n, 2) array without its closing point."""
    xy = np.asarray(ring, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise EtlInputError(f"{code}: ring is not a list of [lon, lat] pairs", file=path, row=row, column="geometry")
    return xy[:-1] if len(xy) > 1 and np.all(xy[0] == xy[-1]) else xy


def ring_point_ids(rings: list[np.ndarray]):
    """One id per distinct location (coords[id]); each ring as a run of ids in ``pid`` with
    consecutive repeats and a repeated closing point removed. Returns (coords, pid, ring_of,
    lengths, start) where ring_of[k] is the ring of pid[k] and ring r is pid[start[r]:][:lengths[r]]."""
    lengths = np.array([len(r) for r in rings])
    ring_of = np.repeat(np.arange(len(rings)), lengths)
    coords, pid = _unique_points(np.concatenate(rings))
    repeat = np.zeros(len(pid), dtype=bool)
    repeat[1:] = (pid[1:] == pid[:-1]) & (ring_of[1:] == ring_of[:-1])
    pid, ring_of = pid[~repeat], ring_of[~repeat]
    lengths = np.bincount(ring_of, minlength=len(rings))
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    # the ring's last point may now repeat its first
    last = start + lengths - 1
    wrap = (lengths > 1) & (pid[np.maximum(last, 0)] == pid[start])
    keep = np.ones(len(pid), dtype=bool)
    keep[last[wrap]] = False
    pid, ring_of = pid[keep], ring_of[keep]
    lengths = np.bincount(ring_of, minlength=len(rings))
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return coords, pid, ring_of, lengths, start


def cut_rings_at_junctions(n_points: int, pid, ring_of, lengths, start) -> tuple[list[list[int]], list[list[int]]]:
    """Each ring's point ids, and the positions in it of junctions: points whose rings pass them
    with different pairs of neighbours."""
    pos = np.arange(len(pid))
    first, end = start[ring_of], start[ring_of] + lengths[ring_of]
    prev = pid[np.where(pos == first, end - 1, pos - 1)]
    nxt = pid[np.where(pos == end - 1, first, pos + 1)]
    n = np.int64(n_points)
    combos = np.unique((pid * n + np.minimum(prev, nxt)) * n + np.maximum(prev, nxt))
    junction = np.bincount(combos // (n * n), minlength=n_points) > 1
    bounds = np.cumsum(lengths)[:-1]
    ring_ids = [r.tolist() for r in np.split(pid, bounds)]
    at = np.flatnonzero(junction[pid])
    local = at - start[ring_of[at]]
    ring_cuts = [c.tolist() for c in np.split(local, np.searchsorted(at, start[1:]))]
    return ring_ids, ring_cuts


class ArcStore:
    """Arcs stored once each, in a canonical direction; a reference is ~index when reversed."""

    def __init__(self, points: np.ndarray):
        self.points = points
        self.index: dict[tuple[int, ...], int] = {}
        self.arcs: list[np.ndarray] = []

    def ref(self, seq: list[int]) -> int:
        """Reference to the stored arc for this point sequence."""
        fwd = tuple(seq)
        rev = fwd[::-1]
        key, reversed_ = (fwd, False) if fwd <= rev else (rev, True)
        idx = self.index.get(key)
        if idx is None:
            idx = self.index[key] = len(self.arcs)
            self.arcs.append(self.points[list(key)])
        return ~idx if reversed_ else idx


def polygon_arcs(
    numbers: list[int], ring_ids, ring_cuts, store: ArcStore, report: LoadReport, path: Path, code: str, row: int
) -> list[Ring]:
    """One polygon's rings as arc references; a degenerate ring is dropped with a warning (a
    degenerate outer ring drops the whole polygon)."""
    refs_of_poly: list[Ring] = []
    for k, rn in enumerate(numbers):
        ring, cuts = ring_ids[rn], ring_cuts[rn]
        if len(ring) < 3:
            what = "polygon (its outer ring" if k == 0 else "hole ("
            report.warn(
                f"{code}: degenerate {what} has {len(ring)} distinct points) dropped", file=path, row=row, code=code
            )
            if k == 0:
                break
            continue
        if not cuts:
            # a whole ring with no junction (an island, or a hole filled by one other area)
            # is one closed arc, started at its smallest point id so both users find it
            k0 = ring.index(min(ring))
            rot = ring[k0:] + ring[:k0]
            refs_of_poly.append([store.ref(rot + [rot[0]])])
            continue
        rot = ring[cuts[0] :] + ring[: cuts[0]]
        rel = [c - cuts[0] for c in cuts] + [len(ring)]
        rot.append(rot[0])
        refs_of_poly.append([store.ref(rot[a : b + 1]) for a, b in zip(rel[:-1], rel[1:])])
    return refs_of_poly


def _unique_points(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (x, y) pairs and the index of each input row among them (exact float equality).
    Viewing each pair as one complex number makes this a fast 1-D unique."""
    keys = np.ascontiguousarray(xy, dtype=float).view(np.complex128).ravel()
    uniq, inverse = np.unique(keys, return_inverse=True)
    return np.column_stack([uniq.real, uniq.imag]), inverse.ravel()


def _check_lonlat(topo: Topology, path: Path) -> None:
    """TopoJSON/GeoJSON here must be WGS84 degrees over Great Britain; projected metres would fail."""
    if not topo.arcs:
        raise EtlInputError("no boundary arcs found", file=path)
    allpts = np.concatenate(topo.arcs)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    if lo[0] < -9 or hi[0] > 2.5 or lo[1] < 49 or hi[1] > 61:
        raise EtlInputError(
            f"coordinates {lo.round(3).tolist()}–{hi.round(3).tolist()} are not WGS84 "
            "longitude/latitude over Great Britain",
            file=path,
        )


# --------------------------------------------------------------------------------------------
# Simplification
# --------------------------------------------------------------------------------------------


def _dp_importances(xy: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Douglas–Peucker importance of every vertex of every arc (arcs concatenated in ``xy``, arc k
    at rows offsets[k]:offsets[k+1]): keeping the vertices with importance > t is exactly DP at
    tolerance t. Importance is capped by the parent split's, so it is monotone (as in mapshaper).
    All arcs are split level by level in one vectorised pass. Arc ends are always kept; a closed
    arc (a whole ring) keeps its farthest point from the start and one more, i.e. a triangle."""
    imp = np.zeros(len(xy))
    starts, ends = offsets[:-1], offsets[1:] - 1
    imp[starts] = np.inf
    imp[ends] = np.inf
    closed = np.all(xy[starts] == xy[ends], axis=1) & (ends - starts >= 3)
    i, j = starts, ends
    cap = np.full(len(i), np.inf)
    first = closed.copy()  # first split of a closed arc: chord is a point
    while True:
        m = j - i >= 2
        i, j, cap, first = i[m], j[m], cap[m], first[m]
        if not len(i):
            break
        n_in = j - i - 1
        group = np.repeat(np.arange(len(i)), n_in)
        group_start = np.cumsum(n_in) - n_in
        k = i[group] + 1 + (np.arange(n_in.sum()) - group_start[group])
        a = xy[i][group]
        seg = xy[j][group] - a
        q = xy[k] - a
        len2 = np.einsum("ij,ij->i", seg, seg)
        t = np.clip(np.einsum("ij,ij->i", q, seg) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
        dist = np.hypot(q[:, 0] - t * seg[:, 0], q[:, 1] - t * seg[:, 1])
        dmax = np.maximum.reduceat(dist, group_start)
        hits = np.flatnonzero(dist == dmax[group])
        _, first_hit = np.unique(group[hits], return_index=True)
        split = k[hits[first_hit]]
        d = np.where(first, np.inf, np.minimum(dmax, cap))
        imp[split] = d
        i, j = np.concatenate([i, split]), np.concatenate([split, j])
        cap = np.concatenate([d, d])
        first = np.zeros(len(i), dtype=bool)
    for s, e in zip(starts[closed], ends[closed]):
        inner = imp[s + 1 : e]
        finite = np.isfinite(inner)
        if finite.any():
            inner[np.flatnonzero(finite)[np.argmax(inner[finite])]] = np.inf  # third point of the triangle
    return imp


def _to_bng(lonlat: np.ndarray) -> np.ndarray:
    x, y = _TO_BNG.transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y])


@dataclass
class Prepared:
    """A topology flattened into arrays so that each simplification round is vectorised.

    Every arc vertex has a row in ``pts``; ``upid`` identifies its location (the copies of a
    junction in different arcs share one id, so they are always rounded alike); ``ring_seq`` lists,
    ring after ring, the vertex rows that trace each ring (arcs reversed where referenced so).
    """

    topo: Topology
    pts: np.ndarray  # (N, 2) lon/lat
    arc_of: np.ndarray  # (N,) arc of each vertex
    upid: np.ndarray  # (N,) distinct-location id
    imp: np.ndarray  # (N,) Douglas–Peucker importance in metres (inf at arc ends)
    ring_seq: np.ndarray  # vertex rows of all rings, concatenated
    ring_of_seq: np.ndarray  # ring number of each ring_seq entry
    ring_poly: np.ndarray  # polygon number of each ring (shell listed first)
    poly_shell: np.ndarray  # ring number of each polygon's shell
    poly_area: np.ndarray  # area number of each polygon
    pair_area: np.ndarray  # (area, arc) incidence: area number ...
    pair_arc: np.ndarray  # ... and arc number, one row per arc an area uses
    area_m2: np.ndarray  # area of each unsimplified area, m² (British National Grid)
    published: np.ndarray | None = None  # each area assembled as published (no simplification or rounding)


def prepare(topo: Topology, path: Path) -> Prepared:
    sizes = np.array([len(a) for a in topo.arcs])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pts = np.concatenate(topo.arcs)
    arc_of = np.repeat(np.arange(len(sizes)), sizes)
    upid = _unique_points(pts)[1]
    imp = _dp_importances(_to_bng(pts), offsets)

    rings = _ring_layout(topo)
    ring_seq, ring_of_seq = _ring_vertices(topo, rings, offsets, upid, path)
    pair_area, pair_arc = _area_arcs(rings, len(sizes))
    ring_poly, poly_shell, poly_area = rings.ring_poly, rings.poly_shell, rings.poly_area
    _keep_triangles(imp, ring_seq, ring_of_seq, upid)
    prep = Prepared(
        topo,
        pts,
        arc_of,
        upid,
        imp,
        ring_seq,
        ring_of_seq,
        np.asarray(ring_poly),
        np.asarray(poly_shell),
        np.asarray(poly_area),
        np.asarray(pair_area, dtype=np.int64),
        np.asarray(pair_arc, dtype=np.int64),
        np.zeros(len(topo.areas)),
    )
    prep.published = _assemble(prep, np.zeros(len(sizes)), None)[0]
    prep.area_m2 = shapely.area(shapely.transform(prep.published, _to_bng))
    return prep


@dataclass
class _Rings:
    """Every ring of a topology as flat arrays: the arc references of all rings in order, the ring
    of each reference, and each ring's polygon, area and each polygon's shell and area."""

    refs: np.ndarray
    ring_of_ref: np.ndarray
    ring_poly: list[int]
    ring_area: list[int]
    poly_shell: list[int]
    poly_area: list[int]


def _ring_layout(topo: Topology) -> _Rings:
    refs: list[int] = []
    ring_of_ref: list[int] = []
    ring_poly: list[int] = []
    ring_area: list[int] = []
    poly_shell: list[int] = []
    poly_area: list[int] = []
    for ai, area in enumerate(topo.areas):
        for poly in area.polygons:
            pi = len(poly_area)
            poly_area.append(ai)
            poly_shell.append(len(ring_poly))
            for ring in poly:
                if not len(ring):
                    raise ValueError(f"{area.code}: a ring without arcs")
                ring_of_ref.extend([len(ring_poly)] * len(ring))
                refs.extend(ring)
                ring_poly.append(pi)
                ring_area.append(ai)
    return _Rings(
        np.asarray(refs, dtype=np.int64),
        np.asarray(ring_of_ref, dtype=np.int64),
        ring_poly,
        ring_area,
        poly_shell,
        poly_area,
    )


def _ring_vertices(topo: Topology, rings: _Rings, offsets: np.ndarray, upid: np.ndarray, path: Path):
    """The vertex rows tracing every ring (arcs reversed where referenced so; each arc after the
    first without its first vertex, which repeats the previous arc's last) and the ring of each.
    Fails, naming the area, at the first ring whose arcs do not join up or that is not closed."""
    refs, rr = rings.refs, rings.ring_of_ref
    rev = refs < 0
    arc = np.where(rev, ~refs, refs)
    start, stop = offsets[arc], offsets[arc + 1]
    head = np.where(rev, stop - 1, start)  # first vertex of each reference as traced
    tail = np.where(rev, start, stop - 1)  # ... and its last
    later = np.concatenate([[False], rr[1:] == rr[:-1]])  # not the ring's first arc
    if np.any(stop <= start) or np.any(later & (stop - start < 2)):
        raise IndexError("an arc without vertices, or a later arc of a ring with only one")
    bad_join = np.zeros(len(refs), dtype=bool)
    bad_join[1:] = later[1:] & (upid[tail[:-1]] != upid[head[1:]])
    count = stop - start - later
    which = np.repeat(np.arange(len(refs)), count)
    step = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count) + later[which]
    seq = np.where(rev[which], stop[which] - 1 - step, start[which] + step)
    ring_of_seq = rr[which]
    n_rings = len(rings.ring_poly)
    ring_len = np.bincount(ring_of_seq, minlength=n_rings)
    ring_start = np.cumsum(ring_len) - ring_len
    open_ring = upid[seq[ring_start]] != upid[seq[ring_start + ring_len - 1]]
    joins_bad = np.zeros(n_rings, dtype=bool)
    joins_bad[rr[bad_join]] = True
    broken = np.flatnonzero(joins_bad | open_ring)
    if len(broken):
        r = broken[0]
        area = topo.areas[rings.ring_area[r]]
        what = "ring arcs do not join up" if joins_bad[r] else "ring is not closed"
        raise EtlInputError(f"{area.code}: {what}", file=path, row=area.row)
    return seq, ring_of_seq


def _area_arcs(rings: _Rings, n_arcs: int) -> tuple[np.ndarray, np.ndarray]:
    """(area, arc) incidence, one row per arc an area uses, by area then arc."""
    arc = np.where(rings.refs < 0, ~rings.refs, rings.refs)
    pairs = np.unique(np.asarray(rings.ring_area, dtype=np.int64)[rings.ring_of_ref] * n_arcs + arc)
    return pairs // n_arcs, pairs % n_arcs


def _keep_triangles(imp: np.ndarray, ring_seq: np.ndarray, ring_of_seq: np.ndarray, upid: np.ndarray) -> None:
    """A ring whose arcs meet at only two places (an islet split between two wards, say) would
    collapse to a line once its arcs are simplified: pin its most important free vertex so that
    every ring keeps at least three distinct points at any tolerance. The pinned vertex belongs to
    a shared arc, so the neighbour keeps it too."""
    pinned = np.isinf(imp[ring_seq])
    n_rings = int(ring_of_seq.max()) + 1
    n_loc = np.int64(upid.max()) + 1
    distinct = np.unique(ring_of_seq[pinned] * n_loc + upid[ring_seq[pinned]])
    short = np.bincount(distinct // n_loc, minlength=n_rings) < 3
    cand = np.flatnonzero(short[ring_of_seq] & ~pinned)
    if not len(cand):
        return
    order = np.lexsort((imp[ring_seq[cand]], ring_of_seq[cand]))
    cand = cand[order]
    last = np.concatenate([ring_of_seq[cand][1:] != ring_of_seq[cand][:-1], [True]])
    imp[ring_seq[cand[last]]] = np.inf


def _assemble(
    prep: Prepared, tol: np.ndarray, dec_u: np.ndarray | None, areas: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Areas as (Multi)Polygons for per-arc tolerances and per-location rounding (None = none),
    and the rings each area lost: every area, or only ``areas`` (the others' entries are left
    None and 0). Rings that collapse below a triangle are dropped (a dropped shell takes its holes
    with it). An area's geometry depends on its own rings only, so assembling a few areas gives
    exactly what assembling all of them gives for those."""
    n_areas = len(prep.topo.areas)
    wanted = np.ones(n_areas, dtype=bool)
    if areas is not None:
        wanted[:] = False
        wanted[areas] = True
    ring_area = prep.poly_area[prep.ring_poly]
    sel = wanted[ring_area[prep.ring_of_seq]]
    seq, rid = prep.ring_seq[sel], prep.ring_of_seq[sel]
    tol_pt = tol[prep.arc_of[seq]]
    keep = (prep.imp[seq] > tol_pt) | (tol_pt <= 0)
    seq, rid = seq[keep], rid[keep]
    c = _rounded(prep, seq, dec_u)
    dup = np.zeros(len(c), dtype=bool)
    dup[1:] = np.all(c[1:] == c[:-1], axis=1) & (rid[1:] == rid[:-1])
    c, rid = c[~dup], rid[~dup]
    ring_ok = np.bincount(rid, minlength=len(prep.ring_poly)) >= 4
    poly_ok = ring_ok[prep.poly_shell]
    ring_keep = ring_ok & poly_ok[prep.ring_poly]
    dropped = np.bincount(ring_area[wanted[ring_area] & ~ring_keep], minlength=n_areas)

    m = ring_keep[rid]
    c, rid = c[m], rid[m]
    kept_rings = np.flatnonzero(ring_keep)
    rings = shapely.linearrings(c, indices=np.searchsorted(kept_rings, rid))
    kept_polys, ring_to_poly = np.unique(prep.ring_poly[kept_rings], return_inverse=True)
    polys = shapely.polygons(rings, indices=ring_to_poly)
    kept_areas, poly_to_area = np.unique(prep.poly_area[kept_polys], return_inverse=True)
    multi = shapely.multipolygons(polys, indices=poly_to_area)
    single = shapely.get_num_geometries(multi) == 1
    multi[single] = shapely.get_geometry(multi[single], 0)
    geoms = np.full(n_areas, None, dtype=object)
    geoms[wanted] = shapely.Polygon()
    geoms[kept_areas] = multi
    return geoms, dropped


def _rounded(prep: Prepared, seq: np.ndarray, dec_u: np.ndarray | None) -> np.ndarray:
    """The vertices ``seq`` (rows of ``prep.pts``), each rounded to its location's decimals."""
    if dec_u is None:
        return prep.pts[seq]
    c = prep.pts[seq]
    dec_pt = dec_u[prep.upid[seq]]
    for d in np.unique(dec_pt):
        m = dec_pt == d
        c[m] = np.round(c[m], int(d))
    return c


def _bad_areas(geoms: np.ndarray, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (from ``subset``) of areas that are invalid or empty, and of areas that overlap
    another area of the subset. The GEOS coverage check finds any polygon whose edges run inside
    another polygon without comparing all pairs; the subset must include each area's neighbours."""
    sub = geoms[subset]
    invalid = ~shapely.is_valid(sub) | shapely.is_empty(sub)
    ok = subset[~invalid]  # (missing entries in the array confuse the coverage check: leave them out)
    overlapping = ok[~shapely.is_empty(shapely.coverage_invalid_edges(geoms[ok]))]
    return subset[invalid], overlapping


def _overlap_partners(geoms: np.ndarray, tree: shapely.STRtree, areas: np.ndarray) -> np.ndarray:
    """Areas whose interiors intersect those of ``areas``: the culprit may be a neighbour's arc
    sweeping over a small area rather than the small area's own arcs."""
    if not len(areas):
        return areas
    src, cand = tree.query(geoms[areas], predicate="intersects")
    a, b = geoms[areas[src]], geoms[cand]
    hit = (areas[src] != cand) & (shapely.overlaps(a, b) | shapely.contains(a, b) | shapely.within(a, b))
    return np.unique(cand[hit])


_WHERE = re.compile(r"\[(-?[0-9.eE+-]+) (-?[0-9.eE+-]+)\]")
REFINE_RADIUS_DEG = 0.002  # ≈ 140–220 m: vertices this close to a rounding fault get finer rounding


def _locations_to_refine(
    prep: Prepared,
    geoms: np.ndarray,
    invalid: np.ndarray,
    overlapping: np.ndarray,
    bad: np.ndarray,
    arcs: np.ndarray,
    dec_u: np.ndarray,
) -> np.ndarray:
    """Vertex locations to round one decimal finer once simplification is off but an area is still
    broken: those near where GEOS reports the fault (self-intersection point, overlapping edges),
    so one bad spot does not put a whole region on a finer grid. Falls back to every vertex of
    the bad areas when no fault location is reported or the nearby ones are already at 7 dp."""
    on_bad_arcs = np.flatnonzero(np.isin(prep.arc_of, arcs))
    faults = []
    for reason in shapely.is_valid_reason(geoms[invalid]):
        m = _WHERE.search(reason or "")
        if m is None:
            return np.unique(prep.upid[on_bad_arcs])
        faults.append((float(m[1]), float(m[2])))
    if len(overlapping):
        group = np.setdiff1d(bad, invalid)
        faults.extend(map(tuple, shapely.get_coordinates(shapely.coverage_invalid_edges(geoms[group]))))
    if faults:
        near = shapely.STRtree(shapely.points(np.asarray(faults))).query(
            shapely.points(prep.pts[on_bad_arcs]), predicate="dwithin", distance=REFINE_RADIUS_DEG
        )[0]
        locs = np.unique(prep.upid[on_bad_arcs[near]])
        if len(locs) and dec_u[locs].min() < 7:
            return locs
    return np.unique(prep.upid[on_bad_arcs])


@dataclass
class Simplified:
    geoms: np.ndarray
    relaxed: int = 0  # areas whose arcs needed a smaller tolerance or finer rounding
    repaired: list[str] = field(default_factory=list)  # codes fixed with make_valid
    rings_dropped: int = 0
    overlapping: list[str] = field(default_factory=list)


def adaptive_tolerances(prep: Prepared, groups: list[str], rule: AdaptiveTolerance) -> np.ndarray:
    """Per-arc tolerances for :class:`AdaptiveTolerance` (``groups[i]`` = group of area i)."""
    _, group_of = np.unique(np.asarray(groups), return_inverse=True)
    group_m2 = np.bincount(group_of, weights=prep.area_m2)
    per_area = np.minimum(rule.group_factor * np.sqrt(group_m2[group_of]), rule.area_factor * np.sqrt(prep.area_m2))
    per_arc = np.full(len(prep.topo.arcs), np.inf)
    np.minimum.at(per_arc, prep.pair_arc, per_area[prep.pair_area])
    return np.clip(per_arc, rule.lo, rule.hi)


def simplify(prep: Prepared, tolerance: float | np.ndarray, decimals: int | None, max_rounds: int = 16) -> Simplified:
    """Simplify each arc once, assemble, then for any area that is invalid or overlaps another,
    quarter the tolerance of its arcs (and of the area it overlaps), and once that is zero round
    its vertices one decimal finer (up to 7 dp), until everything is clean. Only the areas touched
    by a change (and whatever they now intersect) are checked again. What is still invalid after
    that is repaired with make_valid; what still overlaps is listed for the report."""
    n_areas = len(prep.topo.areas)
    tol = np.broadcast_to(np.asarray(tolerance, dtype=float), (len(prep.topo.arcs),)).copy()
    dec_u = None if decimals is None else np.full(int(prep.upid.max()) + 1, decimals)
    relaxed: set[int] = set()
    geoms, dropped = _assemble(prep, tol, dec_u)
    invalid, overlapping = _bad_areas(geoms, np.arange(n_areas))
    for _ in range(max_rounds):
        if not len(invalid) and not len(overlapping):
            break
        tree = shapely.STRtree(geoms)
        bad = np.union1d(np.union1d(invalid, overlapping), _overlap_partners(geoms, tree, overlapping))
        arcs = np.unique(prep.pair_arc[np.isin(prep.pair_area, bad)])
        if np.any(tol[arcs] > 0):
            tol[arcs] = np.where(tol[arcs] > 20, tol[arcs] / 4, 0.0)
            changed = np.isin(prep.arc_of, arcs)
        elif dec_u is not None and dec_u[prep.upid[np.isin(prep.arc_of, arcs)]].min() < 7:
            locs = _locations_to_refine(prep, geoms, invalid, overlapping, bad, arcs, dec_u)
            dec_u[locs] = np.minimum(dec_u[locs] + 1, 7)
            changed = np.isin(prep.upid, locs)
        else:
            break
        relaxed.update(bad.tolist())
        _reassemble(prep, tol, dec_u, geoms, dropped, _areas_of_vertices(prep, changed))
        touched = np.unique(prep.pair_area[np.isin(prep.pair_arc, arcs)])
        near = shapely.STRtree(geoms).query(geoms[touched], predicate="intersects")[1]
        invalid, overlapping = _bad_areas(geoms, np.union1d(touched, near))
    out = Simplified(geoms, relaxed=len(relaxed), rings_dropped=int(dropped.sum()))
    # a final check of everything, unless nothing changed since the first full check
    if relaxed:
        invalid, overlapping = _bad_areas(geoms, np.arange(n_areas))
    if len(invalid):
        for i in invalid:
            geoms[i] = _polygonal(shapely.make_valid(geoms[i]))
            out.repaired.append(prep.topo.areas[i].code)
        overlapping = _bad_areas(geoms, np.arange(n_areas))[1]
    out.overlapping = [prep.topo.areas[i].code for i in overlapping]
    out.geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    return out


def _areas_of_vertices(prep: Prepared, vertices: np.ndarray) -> np.ndarray:
    """The areas whose rings trace any of ``vertices`` (a mask over ``prep.pts``)."""
    rings = np.unique(prep.ring_of_seq[vertices[prep.ring_seq]])
    return np.unique(prep.poly_area[prep.ring_poly[rings]])


def _reassemble(
    prep: Prepared, tol: np.ndarray, dec_u: np.ndarray | None, geoms: np.ndarray, dropped: np.ndarray, areas
) -> None:
    """Assemble ``areas`` again (their vertices' tolerance or rounding changed) into ``geoms`` and
    ``dropped``; every other area stays as it was."""
    new, lost = _assemble(prep, tol, dec_u, areas)
    geoms[areas], dropped[areas] = new[areas], lost[areas]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygon parts of ``make_valid`` output (it can add stray lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [
        p for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon") for p in shapely.get_parts(g)
    ]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def geojson_features(codes: list[str], names: list[str], geoms: np.ndarray) -> list[str]:
    """Minimal GeoJSON features for the browser: id = GSS code, properties code + name, no
    whitespace. (GEOS writes each coordinate as its shortest round-trip decimal, so 4 dp stay 4 dp.)"""
    return [
        f'{{"type":"Feature","id":{json.dumps(code)},"properties":{{"code":{json.dumps(code)},'
        f'"name":{json.dumps(name, ensure_ascii=False)}}},"geometry":{geom}}}'
        for code, name, geom in zip(codes, names, shapely.to_geojson(np.asarray(geoms, dtype=object)))
    ]


def feature_collection(features: list[str]) -> bytes:
    """A FeatureCollection of :func:`geojson_features`, as UTF-8 bytes."""
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode("utf-8")


#: folder (beside ward.geojson) of one ward file per district: a council's ward map fetches its own
#: wards, not the 2.4 MB of every ward in England
WARDS_BY_DISTRICT = "ward"


def write_wards_by_district(geo_dir: Path, features: list[str], districts: list[str | None]) -> int:
    """``ward/<district code>.geojson`` for every district with wards: the features of the whole
    ward file, in its order, grouped by each ward's district in ``areas``. Returns the files written."""
    by_district: dict[str, list[str]] = {}
    for feature, district in zip(features, districts):
        if district and is_gss(district):  # a code, never a path
            by_district.setdefault(district, []).append(feature)
    folder = geo_dir / WARDS_BY_DISTRICT
    folder.mkdir(exist_ok=True)
    for district, feats in by_district.items():
        (folder / f"{district}.geojson").write_bytes(feature_collection(feats))
    return len(by_district)


# --------------------------------------------------------------------------------------------
# Source
# --------------------------------------------------------------------------------------------


#: what malformed geometry raises inside numpy/shapely; turned into the project's own error
MALFORMED = (TypeError, ValueError, KeyError, IndexError, AttributeError, shapely.errors.GEOSException)


class Boundaries(Source):
    id = "boundaries"
    title = "Ward, district, county and region boundaries"
    publisher = "Office for National Statistics (Open Geography Portal)"
    licence = "Open Government Licence v3.0"
    attribution = (
        "Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
        "Contains OS data © Crown copyright and database right 2024."
    )
    vintage = "Wards Dec 2023 (BSC), LAD Dec 2024 (BUC), counties Dec 2024 (BSC), regions Dec 2023 (BUC)"
    url = "https://geoportal.statistics.gov.uk/"
    files = tuple(spec.file for spec in LEVELS)
    depends = ("geography",)
    background = True

    def start(self, ctx: BuildContext) -> None:
        """Begin the geometry work (reading, validating and simplifying every layer, writing the
        map files) in the background as soon as ``areas`` is loaded; :meth:`load` collects it. The
        work needs only the raw files and the known codes, so later sources load meanwhile."""
        ctx.begin(self.id, compute_levels, ctx.raw_dir, ctx.geo_dir, self._known_areas(ctx))

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        for p in self.paths(ctx):
            ctx.register_file(self, p)
        if not ctx.begun(self.id):
            self.start(ctx)
        rows, done = ctx.collect(self.id)
        rep.merge(done)
        rep.rows_loaded = insert_rows(ctx.con, "boundaries", rows, ["code", "level", "vintage", "geom_wkb"])

    @staticmethod
    def _known_areas(ctx: BuildContext) -> dict[str, dict[str, tuple[str, str | None]]]:
        """level → code → (name, district code) from ``areas``."""
        known: dict[str, dict[str, tuple[str, str | None]]] = {spec.level: {} for spec in LEVELS}
        for code, name, level, district in ctx.con.execute(
            "SELECT code, name, level, district_code FROM areas WHERE level IN (?, ?, ?, ?)",
            [spec.level for spec in LEVELS],
        ).fetchall():
            known[level][code] = (name, district)
        return known


def compute_levels(
    raw_dir: Path, geo_dir: Path, known: dict[str, dict[str, tuple[str, str | None]]]
) -> tuple[list[tuple], LoadReport]:
    """Every layer's ``boundaries`` rows, with the map files written to ``geo_dir`` and what was
    found reported; needs only the raw files and the codes known at each level (no database)."""
    rep = LoadReport(Boundaries.id)
    rows: list[tuple] = []
    for spec in LEVELS:
        try:
            rows.extend(_load_level(raw_dir, geo_dir, rep, spec, known[spec.level]))
        except MALFORMED as exc:  # damaged geometry surfaces deep in numpy/shapely: say which file
            raise EtlInputError(
                f"malformed boundary geometry ({type(exc).__name__}: {exc})", file=raw_dir / spec.file
            ) from None
    return rows, rep


def _read_level(
    raw_dir: Path, rep: LoadReport, spec: LevelSpec, at_level: dict[str, tuple[str, str | None]]
) -> Topology:
    """Read one layer, keep the areas known at this level and report codes missing either way."""
    path = raw_dir / spec.file
    if path.suffix == ".geojson":
        topo, parents = read_geojson_as_topology(path, rep, "WD23CD", "WD23NM", "LAD23CD")
        topo.areas = [a for a in topo.areas if a.code.startswith(spec.code_prefixes)]
    else:
        topo, parents = read_topojson(path, rep, spec.code_prefixes), {}
    rep.rows_read += len(topo.areas)
    seen: set[str] = set()
    for a in topo.areas:
        if a.code in seen:
            raise EtlInputError(f"{a.code} appears twice", file=path, row=a.row, column="code")
        seen.add(a.code)
        if a.code not in at_level:
            rep.unmatched(
                a.code, f"boundary code is not a current {spec.level} in areas; left out", file=path.name, row=a.row
            )
        elif parents.get(a.code) and parents[a.code] != at_level[a.code][1]:
            rep.warn(
                f"{a.code}: the boundary file puts it in {parents[a.code]}, areas in {at_level[a.code][1]}",
                file=path.name,
                row=a.row,
                code=a.code,
            )
    for code in sorted(set(at_level) - seen):
        rep.unmatched(code, f"{spec.level} in areas has no boundary in {path.name}", file=path.name)
    topo.areas = [a for a in topo.areas if a.code in at_level]
    return topo


def _load_level(
    raw_dir: Path, geo_dir: Path, rep: LoadReport, spec: LevelSpec, at_level: dict[str, tuple[str, str | None]]
) -> list[tuple]:
    path = raw_dir / spec.file
    topo = _read_level(raw_dir, rep, spec, at_level)
    if not topo.areas:
        raise EtlInputError(f"no {spec.level} boundaries match current areas", file=path)
    prep = prepare(topo, path)
    codes = [a.code for a in topo.areas]

    published = prep.published
    src_invalid, src_overlap = _bad_areas(published, np.arange(len(codes)))
    rep.facts[f"{spec.level}_source_invalid"] = len(src_invalid)
    rep.facts[f"{spec.level}_source_overlapping"] = len(src_overlap)
    for i in src_invalid:
        rep.note(f"{codes[i]}: polygon invalid as published", file=path.name, row=topo.areas[i].row, code=codes[i])
    for i in src_overlap:
        rep.note(f"{codes[i]}: overlaps a neighbour as published", file=path.name, row=topo.areas[i].row, code=codes[i])

    if isinstance(spec.tolerance, AdaptiveTolerance):
        groups = [at_level[c][1] or c for c in codes]
        tolerance = adaptive_tolerances(prep, groups, spec.tolerance)
    else:
        tolerance = spec.tolerance
    web = simplify(prep, tolerance, spec.decimals)
    _report_simplification(rep, spec.level, path, codes, web)
    table_geoms = web.geoms
    if spec.table_decimals is not None:
        table = simplify(prep, 0.0, spec.table_decimals)
        _report_simplification(rep, f"{spec.level}_table", path, codes, table)
        table_geoms = table.geoms

    out = geo_dir / f"{spec.level}.geojson"
    features = geojson_features(codes, [at_level[c][0] for c in codes], web.geoms)
    out.write_bytes(feature_collection(features))
    if spec.level == "ward":
        rep.facts["ward_district_files"] = write_wards_by_district(geo_dir, features, [at_level[c][1] for c in codes])
    tol_arr = np.broadcast_to(np.asarray(tolerance, dtype=float), (len(topo.arcs),))
    rep.facts.update(
        {
            f"{spec.level}_features": len(codes),
            f"{spec.level}_file_bytes": out.stat().st_size,
            f"{spec.level}_file_coordinates": int(shapely.get_num_coordinates(web.geoms).sum()),
            f"{spec.level}_source_coordinates": int(shapely.get_num_coordinates(published).sum()),
            f"{spec.level}_tolerance_m_min": float(tol_arr.min()),
            f"{spec.level}_tolerance_m_max": float(tol_arr.max()),
            f"{spec.level}_decimals": spec.decimals,
        }
    )
    wkb = shapely.to_wkb(table_geoms)
    return [(c, spec.level, spec.vintage, bytes(w)) for c, w in zip(codes, wkb)]


def _report_simplification(rep: LoadReport, key: str, path: Path, codes: list[str], s: Simplified) -> None:
    rep.facts[f"{key}_invalid_repaired"] = len(s.repaired)
    rep.facts[f"{key}_relaxed_areas"] = s.relaxed
    rep.facts[f"{key}_overlapping"] = len(s.overlapping)
    rep.facts[f"{key}_rings_dropped"] = s.rings_dropped
    for code in s.repaired:
        rep.warn(
            f"{code}: polygon still invalid without simplification; repaired with make_valid ({key})",
            file=path.name,
            code=code,
        )
    for code in s.overlapping:
        rep.warn(
            f"{code}: overlaps a neighbour even without simplification, as published ({key})",
            file=path.name,
            code=code,
        )
    for code in [c for c, g in zip(codes, s.geoms) if g.is_empty]:
        rep.warn(f"{code}: nothing left of the boundary after rounding ({key})", file=path.name, code=code)
    if s.rings_dropped:
        rep.note(f"{s.rings_dropped} ring(s) smaller than the coordinate rounding grid dropped ({key})", file=path.name)


SOURCES = [Boundaries()]
