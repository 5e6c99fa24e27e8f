"""Boundaries: topology-preserving simplification, validity, static browser files.

Unit tests build tiny layers in a temporary folder; the real-data tests build geography +
boundaries from the raw files once for this module and check the published layers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from etl.core import EtlInputError, LoadReport
from etl.sources import boundaries as b

TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def bng(geoms):
    return shapely.transform(
        np.asarray(geoms, dtype=object), lambda c: np.column_stack(TO_BNG.transform(c[:, 0], c[:, 1]))
    )


def write_geojson(path: Path, features: list[tuple[str, str, list]]) -> Path:
    """features: (code, district, polygon rings as lon/lat lists)."""
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"WD23CD": code, "WD23NM": f"Ward {code[-2:]}", "LAD23CD": lad},
                "geometry": {"type": "Polygon", "coordinates": rings},
            }
            for code, lad, rings in features
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def wiggle(a, b, n=12, amp=0.0008, seed=0):
    """A wavy line from a to b (lon/lat), endpoints exact."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    pts = np.outer(1 - t, a) + np.outer(t, b)
    normal = np.array([-(b[1] - a[1]), b[0] - a[0]])
    normal = normal / np.hypot(*normal)
    pts[1:-1] += np.outer(rng.uniform(-amp, amp, n - 2), normal)
    return [list(map(float, p)) for p in pts]


def ring(*parts):
    """Join line parts (each starting where the last ended) into a closed ring."""
    out = list(parts[0])
    for p in parts[1:]:
        out += p[1:]
    assert out[0] == out[-1]
    return out


def rev(line):
    return line[::-1]


X0, Y0, S = -1.5, 52.5, 0.02  # a 2 km-ish grid cell in the Midlands


def grid_2x2():
    """Four wards in a 2×2 grid with wavy shared edges; every shared edge is written out in both
    neighbours with identical vertices, as in the ONS ward file."""
    c = [X0 + S, Y0 + S]
    mids = {"s": [X0 + S, Y0], "n": [X0 + S, Y0 + 2 * S], "w": [X0, Y0 + S], "e": [X0 + 2 * S, Y0 + S]}
    inner = {k: wiggle(c, v, seed=i) for i, (k, v) in enumerate(mids.items())}
    outer = {  # L-shaped outer edges, counter-clockwise around the block
        "sw": wiggle(mids["w"], [X0, Y0], seed=10)[:-1] + wiggle([X0, Y0], mids["s"], seed=11),
        "se": wiggle(mids["s"], [X0 + 2 * S, Y0], seed=12)[:-1] + wiggle([X0 + 2 * S, Y0], mids["e"], seed=13),
        "ne": wiggle(mids["e"], [X0 + 2 * S, Y0 + 2 * S], seed=14)[:-1]
        + wiggle([X0 + 2 * S, Y0 + 2 * S], mids["n"], seed=15),
        "nw": wiggle(mids["n"], [X0, Y0 + 2 * S], seed=16)[:-1] + wiggle([X0, Y0 + 2 * S], mids["w"], seed=17),
    }
    return [
        ("E05000001", "E06000001", [ring(inner["w"], outer["sw"], rev(inner["s"]))]),
        ("E05000002", "E06000001", [ring(inner["s"], outer["se"], rev(inner["e"]))]),
        ("E05000003", "E06000001", [ring(inner["e"], outer["ne"], rev(inner["n"]))]),
        ("E05000004", "E06000001", [ring(inner["n"], outer["nw"], rev(inner["w"]))]),
    ]


def assert_clean_coverage(geoms):
    """Valid, no overlaps (union area = sum of areas) and no gaps (union without holes)."""
    g = bng(geoms)
    assert shapely.is_valid(g).all() and not shapely.is_empty(g).any()
    union = shapely.union_all(g)
    total = shapely.area(g).sum()
    assert abs(total - union.area) / total < 1e-9
    assert all(len(p.interiors) == 0 for p in shapely.get_parts(union))


# --------------------------------------------------------------------------------------------
# Douglas–Peucker importances
# --------------------------------------------------------------------------------------------


def reference_dp(p, tol):
    """Plain recursive Douglas–Peucker (keep mask), written independently of the module."""
    keep = np.zeros(len(p), dtype=bool)
    keep[0] = keep[-1] = True

    def rec(i, j):
        if j - i < 2:
            return
        a, c = p[i], p[j]
        best, k = -1.0, None
        for m in range(i + 1, j):
            seg, q = c - a, p[m] - a
            t = 0.0 if not seg.any() else min(1.0, max(0.0, float(q @ seg) / float(seg @ seg)))
            d = float(np.hypot(*(q - t * seg)))
            if d > best:
                best, k = d, m
        if best > tol:
            keep[k] = True
            rec(i, k)
            rec(k, j)

    rec(0, len(p) - 1)
    return keep


def test_dp_importance_equals_douglas_peucker_at_every_tolerance():
    rng = np.random.default_rng(7)
    arcs = [np.cumsum(rng.normal(size=(rng.integers(2, 30), 2)) * 100, axis=0) for _ in range(120)]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arcs])])
    imp = b._dp_importances(np.concatenate(arcs), offsets)
    for tol in (5.0, 40.0, 150.0, 600.0):
        for k, arc in enumerate(arcs):
            assert np.array_equal(imp[offsets[k] : offsets[k + 1]] > tol, reference_dp(arc, tol))


def test_closed_arc_keeps_a_triangle():
    theta = np.linspace(0, 2 * np.pi, 40)
    circle = np.column_stack([np.cos(theta), np.sin(theta)]) * 100
    circle[-1] = circle[0]
    imp = b._dp_importances(circle, np.array([0, len(circle)]))
    kept = circle[imp > 1e9]
    assert len(np.unique(kept, axis=0)) == 3


# --------------------------------------------------------------------------------------------
# Topology and simplification on small layers
# --------------------------------------------------------------------------------------------


def test_geojson_topology_stores_each_shared_edge_once(tmp_path):
    topo, parents = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", grid_2x2()), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    # junctions: the centre and the four outer midpoints → 4 inner arcs + 4 outer arcs
    assert len(topo.arcs) == 8
    uses = [b._arc_id(r) for a in topo.areas for p in a.polygons for rg in p for r in rg]
    assert sorted(np.bincount(uses).tolist()) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert parents == {f"E0500000{i}": "E06000001" for i in range(1, 5)}


@pytest.mark.parametrize("tolerance", [0.0, 20.0, 40.0, 70.0, 100.0, 400.0, 5000.0])
def test_simplified_neighbours_share_edges(tmp_path, tolerance):
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", grid_2x2()), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    prep = b.prepare(topo, tmp_path / "w.geojson")
    out = b.simplify(prep, tolerance, 4)
    assert_clean_coverage(out.geoms)
    n_source = sum(len(r) for f in grid_2x2() for r in f[2])
    n_out = int(shapely.get_num_coordinates(out.geoms).sum())
    assert n_out <= n_source
    if tolerance >= 400:
        assert n_out < n_source / 2
    # every coordinate is rounded to 4 decimals
    coords = shapely.get_coordinates(out.geoms)
    assert np.array_equal(coords, np.round(coords, 4))


def test_enclave_hole_and_island_stay_identical(tmp_path):
    square = [[X0, Y0], [X0 + S, Y0], [X0 + S, Y0 + S], [X0, Y0 + S], [X0, Y0]]
    c = [X0 + S / 2, Y0 + S / 2]
    theta = np.linspace(0, 2 * np.pi, 30)
    island = [[c[0] + 0.004 * np.cos(t), c[1] + 0.003 * np.sin(t)] for t in theta]
    island[-1] = island[0]
    feats = [("E05000001", "E06000001", [square, island[::-1]]), ("E05000002", "E06000001", [island])]
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", feats), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    assert len(topo.arcs) == 2  # the outer square and the island ring, each once
    out = b.simplify(b.prepare(topo, tmp_path / "w.geojson"), 300.0, 4)
    outer, inner = out.geoms
    assert shapely.equals(shapely.Polygon(outer.interiors[0]), inner)
    assert_clean_coverage(out.geoms)


def test_ring_between_two_junctions_does_not_collapse(tmp_path):
    """A lens-shaped ward touching its two neighbours at only two points: both arcs would
    simplify to the same chord; one vertex is pinned so it keeps an area."""
    left, right = [X0, Y0], [X0 + S, Y0]
    top = [[X0 + S * t, Y0 + 0.002 * np.sin(np.pi * t)] for t in np.linspace(0, 1, 9)]
    bottom = [[X0 + S * t, Y0 - 0.002 * np.sin(np.pi * t)] for t in np.linspace(0, 1, 9)]
    top[0] = bottom[0] = left
    top[-1] = bottom[-1] = right
    north = ring(top, [[X0 + S, Y0 + S], [X0, Y0 + S], left])
    south = ring(rev(bottom), [[X0, Y0 - S], [X0 + S, Y0 - S], right])
    lens = ring(bottom, rev(top))
    feats = [
        ("E05000001", "E06000001", [rev(north)]),
        ("E05000002", "E06000001", [lens]),
        ("E05000003", "E06000001", [rev(south)]),
    ]
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", feats), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    prep = b.prepare(topo, tmp_path / "w.geojson")
    for r in range(len(prep.ring_poly)):  # every ring keeps 3 distinct points at any tolerance
        seq = prep.ring_seq[prep.ring_of_seq == r]
        assert len(np.unique(prep.upid[seq[np.isinf(prep.imp[seq])]])) >= 3
    out = b.simplify(prep, 10_000.0, 4)
    assert out.rings_dropped == 0
    assert shapely.area(bng(out.geoms[1:2]))[0] > 0
    assert_clean_coverage(out.geoms)


def test_rounding_collapse_is_relaxed_not_dropped(tmp_path):
    """A ward 3 m wide vanishes on the 4-decimal grid (≈ 7 m × 11 m): its vertices get finer
    rounding instead, and its neighbour follows because they share the arcs."""
    w = 0.00004
    big = [[X0, Y0], [X0 + S, Y0], [X0 + S, Y0 + S], [X0 + w, Y0 + S], [X0 + w, Y0 + S / 2], [X0, Y0 + S / 2], [X0, Y0]]
    thin = [[X0, Y0 + S / 2], [X0 + w, Y0 + S / 2], [X0 + w, Y0 + S], [X0, Y0 + S], [X0, Y0 + S / 2]]
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", [("E05000001", "E06000001", [big]), ("E05000002", "E06000001", [thin])]),
        LoadReport("t"),
        "WD23CD",
        "WD23NM",
        "LAD23CD",
    )
    out = b.simplify(b.prepare(topo, tmp_path / "w.geojson"), 0.0, 4)
    assert out.relaxed >= 1 and not out.repaired
    assert_clean_coverage(out.geoms)


@pytest.mark.parametrize("change", ["tolerance", "rounding"])
def test_reassembling_the_areas_a_change_touches_equals_assembling_all(tmp_path, change):
    """simplify re-assembles only the areas whose vertices a round changed: their geometries and
    dropped rings are exactly what assembling every area gives, and the others stay as they were."""
    w = 0.00004  # a ward 3 m wide, dropped on the 4-decimal grid until its vertices are rounded finer
    thin = [[X0, Y0 + S / 2], [X0 + w, Y0 + S / 2], [X0 + w, Y0 + S], [X0, Y0 + S], [X0, Y0 + S / 2]]
    feats = [*grid_2x2(), ("E05000009", "E06000001", [[[x + 2 * S, y] for x, y in thin]])]
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", feats), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    prep = b.prepare(topo, tmp_path / "w.geojson")
    tol = np.full(len(topo.arcs), 400.0)
    dec_u = np.full(int(prep.upid.max()) + 1, 4)
    geoms, dropped = b._assemble(prep, tol, dec_u)
    assert dropped.sum() == 1
    before = shapely.to_wkb(geoms)
    if change == "tolerance":
        tol[: len(tol) // 2] = 0.0
        changed = np.isin(prep.arc_of, np.arange(len(tol) // 2))
    else:
        dec_u[prep.upid[prep.ring_seq[prep.ring_of_seq == len(prep.ring_poly) - 1]]] = 6
        changed = np.isin(prep.upid, np.flatnonzero(dec_u == 6))
    areas = b._areas_of_vertices(prep, changed)
    assert 0 < len(areas) < len(geoms)
    b._reassemble(prep, tol, dec_u, geoms, dropped, areas)
    full, full_dropped = b._assemble(prep, tol, dec_u)
    assert shapely.to_wkb(geoms).tolist() == shapely.to_wkb(full).tolist()
    assert dropped.tolist() == full_dropped.tolist()
    untouched = np.setdiff1d(np.arange(len(geoms)), areas)
    assert shapely.to_wkb(geoms[untouched]).tolist() == before[untouched].tolist()
    assert (change == "rounding") == (dropped.sum() == 0)


def test_adaptive_tolerance_follows_district_and_ward_size(tmp_path):
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", grid_2x2()), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    prep = b.prepare(topo, tmp_path / "w.geojson")
    rule = b.AdaptiveTolerance(group_factor=0.03, area_factor=0.2, lo=1.0, hi=1e6)
    tol = b.adaptive_tolerances(prep, ["D"] * 4, rule)
    district_width = np.sqrt(prep.area_m2.sum())
    ward_width = np.sqrt(prep.area_m2)
    # 4 equal-ish wards: the district term (3 % of ~2.7 km) is below the ward term (20 % of ~1.4 km)
    assert np.allclose(tol, 0.03 * district_width)
    assert np.all(0.03 * district_width < 0.2 * ward_width.min())


def test_feature_collection_is_minimal_geojson():
    geoms = np.array([shapely.Polygon([(0, 0), (1, 0), (1, 1)]), shapely.Polygon([(2, 2), (3, 2), (3, 3)])])
    text = b.feature_collection(
        b.geojson_features(["E05000001", "E05000002"], ['St Mary\'s "Old" Town', "Ynys Môn"], geoms)
    )
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == ["E05000001", "E05000002"]
    assert doc["features"][0]["properties"] == {"code": "E05000001", "name": 'St Mary\'s "Old" Town'}
    assert doc["features"][1]["properties"]["name"] == "Ynys Môn"
    assert set(doc["features"][0]) == {"type", "id", "properties", "geometry"}
    assert text == json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")  # compact


# --------------------------------------------------------------------------------------------
# TopoJSON decoding and bad input
# --------------------------------------------------------------------------------------------


def topojson_doc(props):
    # one square split into two triangles along its diagonal; quantised, delta-encoded arcs
    return {
        "type": "Topology",
        "transform": {"scale": [0.001, 0.002], "translate": [-1.0, 52.0]},
        "arcs": [
            [[0, 0], [10, 10]],  # diagonal (0,0) → (10,10)
            [[10, 10], [-10, 0], [0, -10]],  # (10,10) → (0,10) → (0,0)
            [[0, 0], [10, 0], [0, 10]],
        ],  # (0,0) → (10,0) → (10,10)
        "objects": {
            "data": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "properties": props[0], "arcs": [[0, 1]]},
                    {"type": "Polygon", "properties": props[1], "arcs": [[2, -1]]},
                ],
            }
        },
    }


def test_topojson_arcs_are_decoded_and_shared(tmp_path):
    path = tmp_path / "t.topojson"
    path.write_text(
        json.dumps(topojson_doc([{"AREACD": "E06000001", "AREANM": "A"}, {"AREACD": "E06000002", "AREANM": "B"}]))
    )
    topo = b.read_topojson(path, LoadReport("t"), ("E06",))
    assert np.allclose(topo.arcs[1], [[-0.99, 52.02], [-1.0, 52.02], [-1.0, 52.0]])
    out = b.simplify(b.prepare(topo, path), 0.0, 5)
    assert shapely.equals(out.geoms[0], shapely.Polygon([(-1, 52), (-0.99, 52.02), (-1, 52.02)]))
    assert shapely.equals(out.geoms[1], shapely.Polygon([(-1, 52), (-0.99, 52), (-0.99, 52.02)]))
    assert_clean_coverage(out.geoms)


def test_topojson_without_gss_code_names_file_and_row(tmp_path):
    path = tmp_path / "bad.topojson"
    path.write_text(json.dumps(topojson_doc([{"AREACD": "E06000001"}, {"AREACD": "Barnsley"}])))
    with pytest.raises(EtlInputError) as err:
        b.read_topojson(path, LoadReport("t"), ("E06",))
    assert err.value.file == str(path) and err.value.row == 1 and err.value.column == "AREACD"


def test_projected_coordinates_are_refused(tmp_path):
    feats = [("E05000001", "E06000001", [[[400000, 300000], [401000, 300000], [401000, 301000], [400000, 300000]]])]
    with pytest.raises(EtlInputError, match="not WGS84"):
        b.read_geojson_as_topology(
            write_geojson(tmp_path / "w.geojson", feats), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
        )


# --------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------

LEVEL_FILES = {spec.level: spec.file for spec in b.LEVELS}


@pytest.fixture(scope="module")
def geo_build(raw_dir, tmp_path_factory):
    from etl.build import build
    from etl.sources import get

    out = tmp_path_factory.mktemp("boundaries")
    result = build(
        raw_dir,
        out / "pb.duckdb",
        static_dir=out / "static",
        sources=[get("geography"), get("boundaries")],
        derive=False,
        log=lambda *a: None,
    )
    return result


@pytest.fixture(scope="module")
def con(geo_build):
    c = duckdb.connect(str(geo_build.db_path), read_only=True)
    yield c
    c.close()


def _areas(con, level):
    return {r[0] for r in con.execute("SELECT code FROM areas WHERE level = ?", [level]).fetchall()}


def test_every_area_has_a_boundary_and_every_boundary_an_area(con, raw_dir):
    expected = {"ward": 6862, "district": 296, "county": 21, "region": 9}
    for level, n in expected.items():
        codes = {r[0] for r in con.execute("SELECT code FROM boundaries WHERE level = ?", [level]).fetchall()}
        assert codes == _areas(con, level)
        assert len(codes) == n
    # independent count straight from the raw LAD file: English districts only
    lad = json.loads((raw_dir / LEVEL_FILES["district"]).read_text())
    english = [
        g for g in lad["objects"]["data"]["geometries"] if g["properties"]["AREACD"][:3] in ("E06", "E07", "E08", "E09")
    ]
    assert len(english) == 296
    unmatched = con.execute(
        "SELECT count(*) FROM load_issues WHERE source_id = 'boundaries' AND kind = 'unmatched'"
    ).fetchone()[0]
    assert unmatched == 0


def test_all_geometries_valid_and_polygonal(con):
    rows = con.execute("SELECT code, level, geom_wkb FROM boundaries").fetchall()
    geoms = shapely.from_wkb([bytes(r[2]) for r in rows])
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert set(shapely.get_type_id(geoms).tolist()) <= {3, 6}  # Polygon, MultiPolygon
    lon, lat = shapely.get_coordinates(geoms).T
    assert lon.min() > -7 and lon.max() < 2 and lat.min() > 49.8 and lat.max() < 56


def test_ward_table_keeps_every_published_vertex(con, raw_dir):
    """The postcode finder uses the table's ward polygons: they are the published ones, rounded
    to 5 dp, not the simplified browser file."""
    src = json.loads((raw_dir / LEVEL_FILES["ward"]).read_text())
    n_source = sum(len(r) for f in src["features"] for p in f["geometry"]["coordinates"] for r in p)
    rows = con.execute("SELECT geom_wkb FROM boundaries WHERE level = 'ward'").fetchall()
    geoms = shapely.from_wkb([bytes(r[0]) for r in rows])
    assert int(shapely.get_num_coordinates(geoms).sum()) == n_source
    coords = shapely.get_coordinates(geoms)
    assert np.array_equal(coords, np.round(coords, 5))


@pytest.mark.parametrize(
    "level,budget", [("ward", 2_500_000), ("district", 1_000_000), ("county", 500_000), ("region", 500_000)]
)
def test_static_files(geo_build, con, level, budget):
    path = geo_build.geo_dir / f"{level}.geojson"
    size = path.stat().st_size
    print(f"{level}.geojson: {size:,} bytes")
    assert size < budget
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    ids = [f["id"] for f in doc["features"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == _areas(con, level)
    names = dict(con.execute("SELECT code, name FROM areas WHERE level = ?", [level]).fetchall())
    for f in doc["features"]:
        assert f["properties"] == {"code": f["id"], "name": names[f["id"]]}
    # coordinates on the 4-decimal grid, except the few vertices refined where rounding broke a polygon
    decimals = [len(d) for d in re.findall(r"\d\.(\d+)", text.split('"features"', 1)[1])]
    assert max(decimals) <= 7
    assert sum(d > 4 for d in decimals) < 0.01 * len(decimals)
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]])
    assert shapely.is_valid(geoms).all()
    facts = dict(con.execute("SELECT fact, value FROM load_facts WHERE source_id = 'boundaries'").fetchall())
    assert facts[f"{level}_file_bytes"] == size and facts[f"{level}_features"] == len(ids)
    assert geo_build.geo_dir.name == geo_build.build_id
    assert con.execute("SELECT geo_path FROM build_info").fetchone()[0].endswith(f"/geo/{geo_build.build_id}")


def test_each_district_has_its_own_ward_file(geo_build, con):
    """``ward/<district>.geojson``: exactly the district's wards in ``areas`` that the whole ward
    file has, as the same features in the same order, so a council's ward map fetches its own."""
    whole = json.loads((geo_build.geo_dir / "ward.geojson").read_text(encoding="utf-8"))["features"]
    district_of = dict(con.execute("SELECT code, district_code FROM areas WHERE level = 'ward'").fetchall())
    expected: dict[str, list[dict]] = {}
    for f in whole:
        expected.setdefault(district_of[f["id"]], []).append(f)
    files = sorted((geo_build.geo_dir / "ward").glob("*.geojson"))
    assert {p.stem for p in files} == set(expected)
    districts = {c for (c,) in con.execute("SELECT code FROM areas WHERE level = 'district'").fetchall()}
    assert set(expected) <= districts
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["type"] == "FeatureCollection" and doc["features"] == expected[path.stem]
    facts = dict(con.execute("SELECT fact, value FROM load_facts WHERE source_id = 'boundaries'").fetchall())
    assert facts["ward_district_files"] == len(files)
    adur = (geo_build.geo_dir / "ward" / "E07000223.geojson").stat().st_size
    assert adur < (geo_build.geo_dir / "ward.geojson").stat().st_size / 100  # a council fetches its own


def test_ward_files_are_written_for_codes_only(tmp_path):
    feats = ['{"id":"a"}', '{"id":"b"}', '{"id":"c"}', '{"id":"d"}']
    n = b.write_wards_by_district(tmp_path, feats, ["E07000223", None, "../../etc", "E07000223"])
    assert n == 1 and [p.name for p in (tmp_path / "ward").iterdir()] == ["E07000223.geojson"]
    assert json.loads((tmp_path / "ward" / "E07000223.geojson").read_text()) == {
        "type": "FeatureCollection",
        "features": [{"id": "a"}, {"id": "d"}],
    }


@pytest.mark.parametrize("level", ["ward", "district", "region"])
def test_simplified_layers_have_no_overlaps_or_gaps(geo_build, level):
    """In EPSG:27700: the union's area equals the sum of the areas (no overlap) and the union has
    no holes (no slivers between neighbours; these three levels tile England)."""
    doc = json.loads((geo_build.geo_dir / f"{level}.geojson").read_text())
    g = bng(shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]]))
    union = shapely.union_all(g)
    total = shapely.area(g).sum()
    print(f"{level}: overlap fraction {(total - union.area) / total:.2e}")
    assert abs(total - union.area) / total < 1e-9
    assert sum(len(p.interiors) for p in shapely.get_parts(union)) == 0
    # and the simplified layer still covers what the published one covers (within 1 %)
    assert union.area == pytest.approx(1.3e11, rel=0.05)  # England ≈ 130,000 km²


def test_a_ring_whose_arcs_do_not_meet_is_an_error_naming_the_area(tmp_path):
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", grid_2x2()), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    broken = next(a for a in topo.areas if len(a.polygons[0][0]) > 1)
    ring = broken.polygons[0][0]
    ring[1] = ~ring[1]  # the second arc traced backwards: it starts where the first did not end
    with pytest.raises(EtlInputError, match=f"{broken.code}: ring arcs do not join up") as err:
        b.prepare(topo, tmp_path / "w.geojson")
    assert err.value.row == broken.row


def test_a_ring_that_does_not_close_is_an_error_naming_the_area(tmp_path):
    topo, _ = b.read_geojson_as_topology(
        write_geojson(tmp_path / "w.geojson", grid_2x2()), LoadReport("t"), "WD23CD", "WD23NM", "LAD23CD"
    )
    broken = next(a for a in topo.areas if len(a.polygons[0][0]) > 1)
    del broken.polygons[0][0][-1]  # the last arc, which led back to the start, left out
    with pytest.raises(EtlInputError, match=f"{broken.code}: ring is not closed") as err:
        b.prepare(topo, tmp_path / "w.geojson")
    assert err.value.row == broken.row
