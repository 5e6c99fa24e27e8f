"""Tests for ``etl.fetch``: downloads over a loopback HTTP server (127.0.0.1 only, never the internet).

The offline mirror (../shared/data) plays the origin. Mirror mode is tested end to end. Publisher
mode is tested against a stand-in for raw.githubusercontent.com laid out as OWNER/REPO/COMMIT/PATH,
holding copies of mirror files and ``.rda`` files *written here* from the mirror's values (the real
publisher ``.rda`` files cannot be downloaded offline; see docs/fetch.md).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from etl import fetch as fetch_mod
from etl import origins
from etl.__main__ import main
from etl.core import EtlInputError
from etl.fetch import RECORD_NAME, fetch, read_manifest
from powerbalance import config

ROOT = Path(__file__).resolve().parent.parent


def _find_mirror() -> Path | None:
    for candidate in (config.raw_dir(), ROOT.parent / "shared" / "data"):
        if (candidate / "MANIFEST.sha256").is_file():
            return candidate
    return None


MIRROR = _find_mirror()


def uses_mirror(test):
    """Mark a test that reads the real raw files; skip it when the mirror is absent."""
    return pytest.mark.realdata(pytest.mark.skipif(MIRROR is None, reason="raw mirror ../shared/data absent")(test))


SMALL = "volunteering/DR41-civic-engagement--full-dataset.csv"
MEDIUM = "geography/lookup_gss_to_registry.csv"
HOUSEHOLDS = "context/households21_england_wales_ltla23.csv"
CAUTH = "geography/lookup_ltla23_cauth23.csv"
WARDS = "geography/wards_dec2023_england_bsc.geojson"
STALL_SECONDS = 1.0


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """Keep retry backoff and timeouts short so failure tests stay bounded."""
    monkeypatch.setattr(fetch_mod, "BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(fetch_mod, "TIMEOUT_SECONDS", 5.0)


# ------------------------------------------------------------------------------------------
# A small origin server with Range support and scripted faults
# ------------------------------------------------------------------------------------------


@dataclass
class ServerState:
    root: Path
    faults: dict[str, list] = field(default_factory=dict)  # path -> [503, "short", "garbage", ...]
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_for(self, rel: str) -> list[str | None]:
        with self.lock:
            return [rng for path, rng in self.requests if path == rel]


class OriginHandler(BaseHTTPRequestHandler):
    """GET with single ``bytes=N-`` Range support (SimpleHTTPRequestHandler has none) and faults."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        state: ServerState = self.server.state
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        rng = self.headers.get("Range")
        with state.lock:
            state.requests.append((rel, rng))
            plan = state.faults.get(rel)
            fault = plan.pop(0) if plan else None
        if isinstance(fault, int):
            self.send_error(fault)
            return
        if fault == "stall":  # answer only after the client has given up waiting
            time.sleep(STALL_SECONDS)
            return
        file = (state.root / rel).resolve()
        if not file.is_relative_to(state.root.resolve()) or not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        if fault == "garbage":
            data = b"#" * len(data)
        start = 0
        if rng:
            match = re.fullmatch(r"bytes=(\d+)-", rng)
            assert match, rng
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "short":  # promise the whole body, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients hanging up on stalls are expected
        pass


@contextmanager
def origin_server(root: Path):
    server = QuietServer(("127.0.0.1", 0), OriginHandler)
    server.state = ServerState(Path(root))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def quiet(_line: str) -> None:
    pass


# ------------------------------------------------------------------------------------------
# Manifest and origin table
# ------------------------------------------------------------------------------------------


@uses_mirror
def test_manifest_is_identical_to_the_mirrors():
    assert fetch_mod.MANIFEST.read_bytes() == (MIRROR / "MANIFEST.sha256").read_bytes()


def test_every_manifest_path_has_exactly_one_origin():
    manifest = read_manifest()
    assert len(manifest) == 43
    assert set(manifest) == set(origins.BY_PATH)
    assert len(origins.ORIGINS) == len(origins.BY_PATH)
    for origin in origins.ORIGINS:
        assert origin.kind in origins.KINDS
        assert re.fullmatch(r"[0-9a-f]{40}", origin.commit), origin
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", origin.repo), origin
        if origin.converted:
            assert origin.repo_path.endswith(".rda") and origin.rows and origin.columns, origin


@uses_mirror
def test_origins_use_the_repositories_and_commits_listed_in_sources_md():
    text = (MIRROR / "SOURCES.md").read_text(encoding="utf-8")
    table = text[text.index("## Exact origins") :]
    listed = {(m.group(1), m.group(2)) for m in re.finditer(r"^\| ([\w.-]+/[\w.-]+) \| ([0-9a-f]{40}) \|", table, re.M)}
    used = {(o.repo, o.commit) for o in origins.ORIGINS}
    assert used == listed


@uses_mirror
def test_expected_shapes_of_converted_files_match_the_mirror():
    for origin in origins.ORIGINS:
        if origin.kind == origins.RDA_CSV:
            with open(MIRROR / origin.path, newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            assert (len(rows) - 1, tuple(rows[0])) == (origin.rows, origin.columns), origin.path
        elif origin.kind == origins.RDA_WARDS_GEOJSON:
            features = json.loads((MIRROR / origin.path).read_text(encoding="utf-8"))["features"]
            assert len(features) == origin.rows
            assert {tuple(f["properties"]) for f in features} == {origin.columns}


def test_manifest_reader_rejects_malformed_lines_and_unknown_paths(tmp_path):
    bad = tmp_path / "manifest"
    bad.write_text("0" * 64 + "  ./ok.csv\nnot a manifest line\n")
    with pytest.raises(EtlInputError) as info:
        read_manifest(bad)
    assert info.value.row == 2
    with pytest.raises(EtlInputError, match="unknown raw file 'nope.csv'"):
        fetch(tmp_path / "raw", base_url="http://127.0.0.1:9", only=["nope.csv"], log=quiet)
    assert files_under(tmp_path / "raw") == []


# ------------------------------------------------------------------------------------------
# Mirror mode
# ------------------------------------------------------------------------------------------


@uses_mirror
def test_full_fetch_reproduces_the_mirror_byte_for_byte_and_rerun_is_cheap(tmp_path):
    into = tmp_path / "raw"
    manifest = read_manifest()
    lines: list[str] = []
    with origin_server(MIRROR) as (url, state):
        paths = fetch(into, base_url=url, log=lines.append)
        assert paths == [into / rel for rel in manifest]
        for rel in manifest:
            assert (into / rel).read_bytes() == (MIRROR / rel).read_bytes(), rel
        assert not [p for p in files_under(into) if p.name.endswith(".part")]
        # one progress line per file with its size, and 25% steps for the big ones
        size = (MIRROR / WARDS).stat().st_size
        assert any(
            line.startswith("[") and WARDS in line and f"{size:,} of {size:,} bytes (100%)" in line for line in lines
        )
        assert any(WARDS in line and "(25%)" in line for line in lines)
        record = (into / RECORD_NAME).read_text().splitlines()
        assert len(record) == 1 + len(manifest)
        assert all(row.split("\t")[2] == "sha256 matches manifest" for row in record[1:])

        requests_before = len(state.requests)
        lines.clear()
        assert fetch(into, base_url=url, log=lines.append) == paths
        assert len(state.requests) == requests_before  # nothing downloaded again
        assert sum("already present, sha256 ok" in line for line in lines) == len(manifest)


@uses_mirror
def test_corrupt_file_truncated_part_and_stale_part_are_repaired(tmp_path):
    into = tmp_path / "raw"
    truth = {rel: (MIRROR / rel).read_bytes() for rel in (SMALL, MEDIUM, HOUSEHOLDS)}
    (into / "volunteering").mkdir(parents=True)
    (into / "geography").mkdir()
    (into / "context").mkdir()
    corrupt = bytearray(truth[SMALL])
    corrupt[10] ^= 0xFF
    (into / SMALL).write_bytes(bytes(corrupt))  # wrong bytes under the final name
    half = len(truth[MEDIUM]) // 2
    (into / (MEDIUM + ".part")).write_bytes(truth[MEDIUM][:half])  # an honest interrupted download
    stale = b"#" * (len(truth[HOUSEHOLDS]) // 3)
    (into / (HOUSEHOLDS + ".part")).write_bytes(stale)  # a .part of some other content
    lines: list[str] = []
    with origin_server(MIRROR) as (url, state):
        fetch(into, base_url=url, only=[SMALL, MEDIUM, HOUSEHOLDS], log=lines.append)
        for rel, data in truth.items():
            assert (into / rel).read_bytes() == data, rel
        assert state.requests_for(SMALL) == [None]
        assert state.requests_for(MEDIUM) == [f"bytes={half}-"]  # resumed, not restarted
        assert state.requests_for(HOUSEHOLDS) == [f"bytes={len(stale)}-", None]  # resume failed check → fresh
    assert any("wrong sha256; removing it" in line for line in lines)
    assert any(f"resumed at {half:,}" in line for line in lines)
    assert not [p for p in files_under(into) if p.name.endswith(".part")]


@uses_mirror
def test_transient_503s_are_retried(tmp_path):
    lines: list[str] = []
    with origin_server(MIRROR) as (url, state):
        state.faults[SMALL] = [503, 503]
        fetch(tmp_path / "raw", base_url=url, only=[SMALL], log=lines.append)
        assert len(state.requests_for(SMALL)) == 3
    assert (tmp_path / "raw" / SMALL).read_bytes() == (MIRROR / SMALL).read_bytes()
    assert sum("HTTP 503" in line and "retrying" in line for line in lines) == 2


@uses_mirror
def test_timeouts_are_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "TIMEOUT_SECONDS", 0.3)
    lines: list[str] = []
    with origin_server(MIRROR) as (url, state):
        state.faults[SMALL] = ["stall"]
        fetch(tmp_path / "raw", base_url=url, only=[SMALL], log=lines.append)
        assert len(state.requests_for(SMALL)) == 2
    assert (tmp_path / "raw" / SMALL).read_bytes() == (MIRROR / SMALL).read_bytes()
    assert any("timed out" in line and "retrying" in line for line in lines)


@uses_mirror
def test_dropped_connection_resumes_with_a_range_request(tmp_path):
    data = (MIRROR / MEDIUM).read_bytes()
    with origin_server(MIRROR) as (url, state):
        state.faults[MEDIUM] = ["short"]
        fetch(tmp_path / "raw", base_url=url, only=[MEDIUM], log=quiet)
        assert state.requests_for(MEDIUM) == [None, f"bytes={len(data) // 2}-"]
    assert (tmp_path / "raw" / MEDIUM).read_bytes() == data


def test_unreachable_origin_gives_a_clear_error_and_writes_nothing(tmp_path):
    into = tmp_path / "raw"
    url = f"http://127.0.0.1:{closed_port()}"
    lines: list[str] = []
    with pytest.raises(EtlInputError) as info:
        fetch(into, base_url=url, only=[SMALL], log=lines.append)
    message = str(info.value)
    assert SMALL in message and f"{url}/{SMALL}" in message
    assert f"after {fetch_mod.RETRIES} attempts" in message and "nothing was written" in message
    assert sum("retrying" in line for line in lines) == fetch_mod.RETRIES - 1
    assert files_under(into) == []


def test_missing_file_fails_at_once_naming_file_and_url(tmp_path):
    (tmp_path / "origin").mkdir()
    with origin_server(tmp_path / "origin") as (url, state):
        with pytest.raises(EtlInputError, match=r"HTTP 404") as info:
            fetch(tmp_path / "raw", base_url=url, only=[SMALL], log=quiet)
        assert len(state.requests) == 1  # a 404 is not retried
    assert SMALL in str(info.value) and f"{url}/{SMALL}" in str(info.value)
    assert files_under(tmp_path / "raw") == []


def test_wrong_bytes_from_the_origin_are_rejected_and_not_kept(tmp_path):
    origin = tmp_path / "origin"
    (origin / "volunteering").mkdir(parents=True)
    (origin / SMALL).write_bytes(b"region,value\nNorth East,1\n")
    with origin_server(origin) as (url, _state):
        with pytest.raises(EtlInputError, match="sha256 mismatch") as info:
            fetch(tmp_path / "raw", base_url=url, only=[SMALL], log=quiet)
    assert f"{url}/{SMALL}" in str(info.value)
    assert files_under(tmp_path / "raw") == []


def test_cli_fetch_reports_failure_with_exit_code_2(tmp_path, capsys):
    url = f"http://127.0.0.1:{closed_port()}"
    code = main(["fetch", "--into", str(tmp_path / "raw"), "--base-url", url, "--only", SMALL])
    assert code == 2
    err = capsys.readouterr().err
    assert SMALL in err and url in err


@uses_mirror
def test_cli_fetch_succeeds_from_a_mirror(tmp_path, capsys):
    with origin_server(MIRROR) as (url, _state):
        code = main(["fetch", "--into", str(tmp_path / "raw"), "--base-url", url, "--only", SMALL, MEDIUM])
    assert code == 0
    assert (tmp_path / "raw" / MEDIUM).read_bytes() == (MIRROR / MEDIUM).read_bytes()
    assert "done: 2 downloaded" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------
# Publisher mode against a stand-in for raw.githubusercontent.com
# ------------------------------------------------------------------------------------------


class RObj:
    """An R value with explicit attributes (class, crs, ...) for writing test .rda files."""

    def __init__(self, value, attrs=None):
        self.value, self.attrs = value, dict(attrs or {})


def _robj_to_r(data: RObj, conv):
    from rdata.conversion import to_r
    from rdata.parser import RObjectType

    attrs = {}
    value = data.value
    if isinstance(value, dict):
        attrs["names"] = np.array(list(value), dtype="U")
        r_type, r_value = RObjectType.VEC, [conv.convert_to_r_object(v) for v in value.values()]
    elif isinstance(value, list):
        r_type, r_value = RObjectType.VEC, [conv.convert_to_r_object(v) for v in value]
    elif isinstance(value, np.ndarray) and value.ndim == 2:  # an R matrix: column-major plus dim
        base = conv.convert_to_r_object(np.ravel(value, order="F"))
        r_type, r_value = base.info.type, base.value
        attrs["dim"] = np.array(value.shape, dtype=np.int32)
    else:
        base = conv.convert_to_r_object(value)
        r_type, r_value = base.info.type, base.value
    attrs.update(data.attrs)
    return to_r.build_r_object(
        r_type,
        value=r_value,
        is_object="class" in attrs,
        attributes=conv.convert_to_r_attributes(attrs) if attrs else None,
    )


def _row_names(n: int):
    from rdata.conversion import to_r

    return np.ma.array(data=[to_r.R_INT_NA, -n], mask=[True, False], fill_value=to_r.R_INT_NA)


def tibble(columns: dict[str, np.ndarray]) -> RObj:
    n = len(next(iter(columns.values())))
    return RObj(columns, {"class": np.array(["tbl_df", "tbl", "data.frame"]), "row.names": _row_names(n)})


def write_rda(path: Path, name: str, obj: RObj) -> None:
    import rdata
    from rdata.conversion import to_r

    path.parent.mkdir(parents=True, exist_ok=True)
    rdata.write_rda(path, {name: obj}, constructor_dict={**to_r.DEFAULT_CLASS_MAP, RObj: _robj_to_r})


def mirror_columns(rel: str) -> dict[str, list[str]]:
    with open(MIRROR / rel, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}


def sf_wards(features: list[dict], crs_input: str, crs_wkt: str) -> RObj:
    """An ``sf`` object shaped like wardboundaries::wards_dec2023 (tibble + sfc_MULTIPOLYGON)."""
    from shapely.geometry import shape

    geoms = []
    for feature in features:
        mp = shape(feature["geometry"])
        polygons = [
            [RObj(np.asarray(p.exterior.coords))] + [RObj(np.asarray(r.coords)) for r in p.interiors] for p in mp.geoms
        ]
        geoms.append(RObj(polygons, {"class": np.array(["XY", "MULTIPOLYGON", "sfg"])}))
    crs = RObj({"input": crs_input, "wkt": crs_wkt}, {"class": np.array(["crs"])})
    sfc = RObj(
        geoms,
        {
            "class": np.array(["sfc_MULTIPOLYGON", "sfc"]),
            "precision": 0.0,
            "crs": crs,
            "n_empty": np.array([0], dtype=np.int32),
        },
    )
    props = {
        k: np.array([f["properties"][k] for f in features], dtype=object)
        for k in ("WD23CD", "WD23NM", "LAD23CD", "LAD23NM")
    }
    return RObj(
        {**props, "FID": np.arange(1.0, len(features) + 1), "geometry": sfc},
        {
            "class": np.array(["sf", "tbl_df", "tbl", "data.frame"]),
            "row.names": _row_names(len(features)),
            "sf_column": "geometry",
        },
    )


def github_path(root: Path, rel: str) -> Path:
    o = origins.BY_PATH[rel]
    return root / o.repo / o.commit / o.repo_path


@pytest.fixture
def github(tmp_path, monkeypatch):
    """A loopback stand-in for raw.githubusercontent.com serving tmp_path/github."""
    root = tmp_path / "github"
    root.mkdir()
    with origin_server(root) as (url, state):
        monkeypatch.setattr(origins, "GITHUB_RAW", url)
        yield root, url, state


@uses_mirror
def test_publisher_mode_copies_and_converts_rda(tmp_path, github):
    root, url, state = github
    copy_target = github_path(root, MEDIUM)
    copy_target.parent.mkdir(parents=True)
    shutil.copyfile(MIRROR / MEDIUM, copy_target)
    # character columns in a tibble: the CSV written back must be the mirror's bytes
    cauth = mirror_columns(CAUTH)
    write_rda(
        github_path(root, CAUTH),
        "lookup_ltla23_cauth23",
        tibble({k: np.array(v, dtype=object) for k, v in cauth.items()}),
    )
    # households stored as R integers: same values, but "40930" instead of the mirror's "40930.0",
    # so the sha256 differs and only the shape can be checked
    households = mirror_columns(HOUSEHOLDS)
    write_rda(
        github_path(root, HOUSEHOLDS),
        "households21_england_wales_ltla23",
        tibble(
            {
                "ltla23_code": np.array(households["ltla23_code"], dtype=object),
                "households": np.array([int(float(v)) for v in households["households"]], dtype=np.int32),
            }
        ),
    )

    into = tmp_path / "raw"
    lines: list[str] = []
    fetch(into, only=[MEDIUM, CAUTH, HOUSEHOLDS], log=lines.append)
    assert (into / MEDIUM).read_bytes() == (MIRROR / MEDIUM).read_bytes()
    assert (into / CAUTH).read_bytes() == (MIRROR / CAUTH).read_bytes()
    with open(into / HOUSEHOLDS, newline="", encoding="utf-8") as fh:
        got = list(csv.reader(fh))
    assert got[0] == ["ltla23_code", "households"] and len(got) == 1 + 318
    assert [float(r[1]) for r in got[1:]] == [float(v) for v in households["households"]]
    record = {row.split("\t")[0]: row.split("\t") for row in (into / RECORD_NAME).read_text().splitlines()[1:]}
    assert record[MEDIUM][2] == "sha256 matches manifest"
    assert record[CAUTH][2] == "sha256 matches manifest (converted from .rda)"
    assert record[HOUSEHOLDS][2].startswith("converted from .rda; sha256 differs from manifest; shape checked")
    assert (
        record[HOUSEHOLDS][3] == f"{url}/{origins.BY_PATH[HOUSEHOLDS].repo}/"
        f"{origins.BY_PATH[HOUSEHOLDS].commit}/data/households21_england_wales_ltla23.rda"
    )
    assert not [p for p in files_under(into) if p.name.endswith(".part")]

    # a re-run trusts the record for the shape-checked file and downloads nothing
    before = len(state.requests)
    fetch(into, only=[MEDIUM, CAUTH, HOUSEHOLDS], log=lines.append)
    assert len(state.requests) == before


@uses_mirror
def test_publisher_mode_rejects_a_conversion_with_the_wrong_shape(tmp_path, github):
    root, url, _state = github
    cauth = mirror_columns(CAUTH)
    write_rda(
        github_path(root, CAUTH),
        "lookup_ltla23_cauth23",
        tibble({k: np.array(v[:-1], dtype=object) for k, v in cauth.items()}),
    )  # one row short
    with pytest.raises(EtlInputError, match="52 rows, expected 53") as info:
        fetch(tmp_path / "raw", only=[CAUTH], log=quiet)
    assert CAUTH in str(info.value) and f"{url}/" in str(info.value)
    assert files_under(tmp_path / "raw") == []


def test_publisher_mode_rejects_a_file_that_is_not_r_data(tmp_path, github):
    root, url, _state = github
    target = github_path(root, CAUTH)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"<html>not R data</html>")
    with pytest.raises(EtlInputError, match="could not convert data/lookup_ltla23_cauth23.rda") as info:
        fetch(tmp_path / "raw", only=[CAUTH], log=quiet)
    assert url in str(info.value)
    assert files_under(tmp_path / "raw") == []


@pytest.mark.slow
@uses_mirror
def test_ward_sf_object_converts_to_the_mirrors_geojson(tmp_path, github):
    """All 6,862 mirror wards plus one Welsh ward go in as an sf object; the English ones come out."""
    root, _url, _state = github
    features = json.loads((MIRROR / WARDS).read_text(encoding="utf-8"))["features"]
    # A real Welsh ward code/name from the ONS lookup; its geometry is borrowed from the first
    # feature only so that the filter has something non-English to drop.
    with open(MIRROR / "geography/WD23_LAD23_UK_LU_DEC.csv", newline="", encoding="utf-8-sig") as fh:
        welsh = next(r for r in csv.DictReader(fh) if r["WD23CD"].startswith("W05"))
    extra = {
        "properties": {k: welsh[k] for k in ("WD23CD", "WD23NM", "LAD23CD", "LAD23NM")},
        "geometry": features[0]["geometry"],
    }
    wkt = (
        'GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],'
        'CS[ellipsoidal,2],AXIS["latitude",north],AXIS["longitude",east],ANGLEUNIT["degree",0.0174532925199433],'
        'ID["EPSG",4326]]'
    )
    write_rda(github_path(root, WARDS), "wards_dec2023", sf_wards(features + [extra], "WGS 84", wkt))
    fetch(tmp_path / "raw", only=[WARDS], log=quiet)
    assert (tmp_path / "raw" / WARDS).read_bytes() == (MIRROR / WARDS).read_bytes()


@uses_mirror
def test_ward_sf_object_in_british_national_grid_is_reprojected_to_wgs84(tmp_path, github):
    import geopandas as gpd
    from pyproj import CRS

    root, _url, _state = github
    source = gpd.read_file(MIRROR / WARDS).iloc[:3]
    bng = source.to_crs(27700)
    features = json.loads(bng.to_json())["features"]
    write_rda(
        github_path(root, WARDS), "wards_dec2023", sf_wards(features, "EPSG:27700", CRS.from_epsg(27700).to_wkt())
    )
    with pytest.raises(EtlInputError, match="3 rows, expected 6,862"):
        fetch(tmp_path / "raw", only=[WARDS], log=quiet)  # three wards are not the full set...
    # ...but the conversion itself, run directly, gives WGS84 coordinates of the same wards
    out = tmp_path / "wards.geojson"
    rda = github_path(root, WARDS)
    rows, columns = fetch_mod.convert_rda_wards(rda, out, origins.BY_PATH[WARDS])
    assert (rows, columns) == (3, ("WD23CD", "WD23NM", "LAD23CD", "LAD23NM"))
    result = gpd.read_file(out)
    assert result.crs.to_epsg() == 4326
    assert list(result["WD23CD"]) == list(source["WD23CD"])
    for got, want in zip(result.geometry, source.geometry):
        assert got.equals_exact(want, tolerance=1e-6)
