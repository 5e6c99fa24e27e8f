"""Several workers behind nginx (``make serve WORKERS=N`` = ``python -m powerbalance.cluster``), on a
real build, driven over Streamlit's own websocket protocol through nginx (bench/concurrency.py's
sessions, each with its own browser cookie):

- every request of one browser — its websocket, its reruns, reconnects after a reload, HTTP
  fetches — reaches the same worker (cookie affinity), and different browsers use both workers;
- a worker killed with SIGKILL is started again by the supervisor, and meanwhile the other worker
  serves every page (sessions on it keep going; browsers of the dead worker reconnect and are served);
- a new database published at the served path (the real ``etl build``) reaches every worker.

Skipped, saying why, only when nginx is not installed (``make nginx`` installs Debian's package).
The generated and deployed nginx configurations are checked by nginx itself (``nginx -t``).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from bench import build_of
from bench import concurrency as load
from bench.cluster import ClusterServer, nginx_available
from powerbalance import cluster

ROOT = Path(__file__).resolve().parent.parent
needs_nginx = pytest.mark.skipif(
    not nginx_available(),
    reason="nginx is not installed (`make nginx` installs Debian's package; `make test` does it first)",
)


# ============================================================================================= configuration


def test_deployed_site_is_what_the_generator_writes():
    site = (ROOT / "deploy" / "nginx" / "powerbalance.conf").read_text()
    assert site == cluster.site_config([8501, 8502], "0.0.0.0:80")
    assert "X-PB-Worker" not in site  # the diagnostic header is for tests only


@needs_nginx
@pytest.mark.parametrize("config", ["generated", "deployed"])
def test_nginx_accepts_the_configuration(tmp_path, config):
    if config == "generated":
        conf = tmp_path / "nginx.conf"
        conf.write_text(cluster.nginx_config(tmp_path, [8651, 8652], "127.0.0.1:8650", worker_header=True))
    else:  # the deployed site inside a minimal nginx.conf, as sites-enabled would include it
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
            f"include {ROOT / 'deploy' / 'nginx' / 'powerbalance.conf'};\n}}\n"
        )
    (tmp_path / "nginx-tmp").mkdir(exist_ok=True)
    r = subprocess.run(
        [cluster.nginx_binary(), "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_make_run_and_serve_listen_on_loopback_unless_told():
    def dry(*args):
        return subprocess.run(
            ["make", "-n", "-W", "requirements.txt", "-o", ".venv/.installed", "-o", "nginx", "DB=Makefile", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout

    assert "--server.address 127.0.0.1" in dry("run")
    assert "--server.address 0.0.0.0" in dry("run", "HOST=0.0.0.0")
    serve = dry("serve", "WORKERS=3")
    assert "powerbalance.cluster --workers 3 --host 127.0.0.1" in serve


# ============================================================================================= through nginx


@pytest.fixture(scope="module")
def served(real_db, built, tmp_path_factory):
    """Two workers behind nginx serving a copy of the real build at a path tests may republish."""
    if not nginx_available():
        pytest.skip("nginx is not installed (`make nginx` installs Debian's package)")
    _, static, _ = built
    folder = tmp_path_factory.mktemp("nginx-app")
    app = load.mirror_app(folder)
    live = folder / "live" / "pb.duckdb"
    live.parent.mkdir()
    shutil.copy2(real_db, live)
    load.install_build(live, static, app)
    with ClusterServer(app, live, workers=2) as server:
        server.app, server.live = app, live
        yield server


def _first_cookie(url: str) -> str:
    """What a browser's first request gets: nginx's affinity cookie."""
    with urllib.request.urlopen(url + "/") as r:
        header = r.headers["Set-Cookie"]
    assert header and header.startswith(f"{cluster.COOKIE}=") and "HttpOnly" in header
    return header.split(";", 1)[0]


def _http_worker(url: str, cookie: str) -> str:
    req = urllib.request.Request(url + "/_stcore/health", headers={"Cookie": cookie})
    with urllib.request.urlopen(req) as r:
        assert r.headers.get("Set-Cookie", "").startswith(cluster.COOKIE) is False  # known browser: no new cookie
        return r.headers["X-PB-Worker"]


async def _visits(s: load.Session, pages: list[tuple[str, str]]) -> list[load.Visit]:
    return [await s.visit(p, q) for p, q in pages]


def _get(url: str, **headers) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), b""


@needs_nginx
def test_static_files_are_served_by_nginx_itself(served):
    """A build's boundary maps and exports come from nginx, not a worker (no worker address on the
    response): the file's bytes, compressed when the browser accepts it, and nothing hidden."""
    con = duckdb.connect(str(served.live), read_only=True)
    geo_path = con.execute("SELECT geo_path FROM build_info").fetchone()[0]
    con.close()
    folder = served.app / "static" / geo_path.removeprefix("/app/static/")
    for name in ("district.geojson", "ward/E07000223.geojson"):
        status, headers, body = _get(served.url + f"{geo_path}/{name}")
        assert status == 200 and "X-PB-Worker" not in headers
        assert headers["Content-Type"] == "application/geo+json" and headers["X-Content-Type-Options"] == "nosniff"
        assert body == (folder / name).read_bytes()
        status, headers, body = _get(served.url + f"{geo_path}/{name}", **{"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip" and gzip.decompress(body) == (folder / name).read_bytes()
    hidden = served.app / "static" / "geo" / ".building-test"
    hidden.mkdir(exist_ok=True)
    (hidden / "ward.geojson").write_text("{}")
    assert _get(served.url + "/app/static/geo/.building-test/ward.geojson")[0] == 404
    assert _get(served.url + f"{geo_path}/no-such.geojson")[0] == 404
    # the page itself still comes from a worker
    assert "X-PB-Worker" in _get(served.url + "/_stcore/health")[1]


@needs_nginx
def test_each_browser_stays_on_one_worker(served):
    async def browser(i: int) -> tuple[set[str], list[load.Visit]]:
        cookie = _first_cookie(served.url)
        seen: set[str] = set()
        visits: list[load.Visit] = []
        s = load.Session(served.url, i, cookie=cookie)
        for _reload in range(2):  # a page reload = a new websocket, same cookie
            await s.connect()
            seen.add(s.worker)
            visits += await _visits(s, [("data", ""), ("method", ""), ("data", "")])  # reruns on one socket
            seen.add(await asyncio.to_thread(_http_worker, served.url, cookie))
            await s.ws.close()
        return seen, visits

    async def all_browsers():
        return await asyncio.gather(*(browser(i) for i in range(8)))

    results = asyncio.run(all_browsers())
    for seen, visits in results:
        assert len(seen) == 1 and None not in seen, seen
        assert [v for v in visits if not v.ok] == []
    assert {w for seen, _ in results for w in seen} == set(served.worker_pids())  # both workers serve


@needs_nginx
def test_new_browsers_spread_evenly_and_their_cookie_names_the_worker(served):
    """Browsers without a worker cookie go to the worker with the fewest open sessions (not a hash
    of a random cookie, which can split 25 sessions 10/15), and the first response names that
    worker in the cookie."""
    cookie = _first_cookie(served.url)
    assert cookie in {f"{cluster.COOKIE}=w0", f"{cluster.COOKIE}=w1"}

    async def open_ten() -> list[str]:
        sessions = []
        for i in range(10):
            s = load.Session(served.url, 300 + i, cookie=f"{cluster.COOKIE}=unknown-{i}")
            await s.connect()
            sessions.append(s)
        workers = [s.worker for s in sessions]
        for s in sessions:
            await s.ws.close()
        return workers

    counts = Counter(asyncio.run(open_ten()))
    assert len(counts) == 2 and max(counts.values()) - min(counts.values()) <= 1, counts


async def _on_worker(url: str, worker: str, prefix: str = "probe", timeout: float = 60.0) -> load.Session:
    """A connected session whose cookie nginx hashes to ``worker``. A worker that has just come
    back is tried again by nginx only after ``fail_timeout`` (3 s), so keep trying for a while."""
    deadline = time.time() + timeout
    i = 0
    while time.time() < deadline:
        s = load.Session(url, i, cookie=f"{cluster.COOKIE}={prefix}-{i}")
        await s.connect()
        if s.worker == worker:
            return s
        await s.ws.close()
        i += 1
        if i % 20 == 0:
            await asyncio.sleep(1)
    raise AssertionError(f"no cookie of {i} reached {worker} within {timeout} s")


@needs_nginx
def test_killed_worker_is_restarted_and_the_other_keeps_serving(served):
    pids = served.worker_pids()
    victim, survivor = sorted(pids)
    truth_build, _ = build_of(served.live)

    async def scenario():
        on_victim = [load.Session(served.url, i, cookie=f"{cluster.COOKIE}=kill-{i}") for i in range(40)]
        for s in on_victim:
            await s.connect()
        keep = [s for s in on_victim if s.worker == survivor][:4]
        doomed = [s for s in on_victim if s.worker == victim][:4]
        for s in on_victim:
            if s not in keep and s not in doomed:
                await s.ws.close()
        assert keep and doomed, "40 cookies did not reach both workers"
        before = [v for s in keep + doomed for v in await _visits(s, [("data", "")])]

        os.kill(pids[victim], signal.SIGKILL)
        # the surviving worker's sessions keep going while the victim is down (and being restarted)
        during = [v for s in keep for v in await _visits(s, [("data", ""), ("method", ""), ("overview", "")])]
        # the dead worker's browsers reconnect (as Streamlit's frontend does) and are served at once
        moved = []
        for s in doomed:
            await s.connect()
            moved += await _visits(s, [("data", "")])
        # brand-new browsers are served too, whichever worker their cookie hashes to
        fresh = []
        for i in range(6):
            async with load.Session(served.url, 100 + i, cookie=f"{cluster.COOKIE}=fresh-{i}") as s:
                fresh += await _visits(s, [("data", "")])
        for s in keep + doomed:
            await s.ws.close()
        return before, during, moved, fresh

    before, during, moved, fresh = asyncio.run(scenario())
    for v in before + during + moved + fresh:
        assert v.ok, (v.page, v.status, v.exceptions, v.problems)
    assert all(v.metrics.get("Build") == truth_build for v in before + moved + fresh if v.page == "data")

    deadline = time.time() + 300
    while time.time() < deadline:
        state = {f"127.0.0.1:{w['port']}": w for w in served.state()["workers"]}
        if state[victim]["restarts"] >= 1 and cluster.worker_healthy(state[victim]["port"]):
            break
        time.sleep(1)
    else:
        pytest.fail(f"the killed worker was not restarted:\n{served.output()}")
    assert state[victim]["pid"] != pids[victim]
    assert served.worker_pids()[survivor] == pids[survivor]  # the survivor was never touched

    # the restarted worker serves its browsers again
    async def back():
        s = await _on_worker(served.url, victim)
        try:
            return await _visits(s, [("data", ""), ("overview", "")])
        finally:
            await s.ws.close()

    assert [v for v in asyncio.run(back()) if not v.ok] == []


@needs_nginx
def test_a_published_build_reaches_every_worker(served, raw_dir):
    from etl.build import build

    async def data_pages(sessions):
        return [(s.worker, v) for s in sessions for v in await _visits(s, [("data", "")])]

    async def scenario():
        sessions = [await _on_worker(served.url, w, prefix="refresh") for w in sorted(served.worker_pids())]
        old = await data_pages(sessions)
        new_id = (
            await asyncio.to_thread(build, raw_dir, served.live, served.app / "static", log=lambda *a: None)
        ).build_id
        new = await data_pages(sessions)  # the same open sessions, rerun after the publish
        for s in sessions:
            await s.ws.close()
        return old, new_id, new

    old_id, _ = build_of(served.live)
    old, new_id, new = asyncio.run(scenario())
    assert new_id != old_id
    assert {w for w, _ in old} == set(served.worker_pids())
    assert all(v.ok and v.metrics.get("Build") == old_id for _, v in old)
    assert {w for w, _ in new} == set(served.worker_pids())
    assert all(v.ok and v.metrics.get("Build") == new_id for _, v in new), [(w, v.metrics) for w, v in new]
