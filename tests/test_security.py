"""Security: hardened server config, parameterised SQL, escaped HTML, audited dependencies.

- The Streamlit config is read with tomllib and every key is checked against Streamlit's own
  option list (a misspelt key would silently leave the insecure default in force); a running
  server is then probed: an upload without the XSRF token is refused and /app/static cannot be
  escaped with ``..``.
- SQL: an AST scan of powerbalance/ and pages/ finds every f-string that builds SQL and allows
  only placeholder lists ("?, ?, ?") to be interpolated; then every function of
  powerbalance.queries (and powerbalance.places, once it exists) that takes user text is called
  with quote and SQL-comment payloads, and must behave exactly as for a plain unknown value
  (an injection would change the answer); finally every page is run through AppTest with the
  payloads in every URL parameter and in the search box.
- HTML: no page or helper renders HTML built from data (unsafe_allow_html / st.html /
  components.html only with constant text), and an area and a funder named ``<script>...``
  come out escaped in the printable brief and never inside any HTML element of any page.
- Dependencies: pip-audit on the installed environment — skipped, saying why, when the advisory
  service cannot be reached (this machine has no internet access); never reported as a pass.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from powerbalance import queries
from tests.helpers import open_data_tables

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".streamlit" / "config.toml"
APP_SOURCES = (
    sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "powerbalance").glob("*.py")) + [ROOT / "dashboard.py"]
)

#: Each starts with text that matches nothing, so an injected OR / UNION / comment that widened
#: the query would return rows the plain unknown value does not.
PAYLOADS = [
    "zzqx' OR '1'='1",
    "zzqx' OR 1=1 --",
    "zzqx'; DROP TABLE areas; --",
    'zzqx" OR "1"="1',
    "zzqx' /* c */ OR '' = '",
    "zzqx%' OR code LIKE '%",
    "zzqx') OR ('1'='1",
    "zzqx' UNION SELECT build_id FROM build_info --",
]
UNKNOWN = "zzqx"
SCRIPT = '<script>alert("pb")</script>'


# ============================================================================================= config


def _config() -> dict:
    with open(CONFIG, "rb") as fh:
        return tomllib.load(fh)


def test_streamlit_config_is_hardened():
    cfg = _config()
    server, client = cfg["server"], cfg["client"]
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True  # same-origin websocket; XSRF needs it on
    assert client["showErrorDetails"] == "none"  # users see a generic message; details go to the log
    assert 1 <= server["maxUploadSize"] <= 50  # MB; Streamlit's default is 200
    assert server["maxMessageSize"] <= 200
    assert cfg["browser"]["gatherUsageStats"] is False
    assert server.get("enableAgentApi", False) is False
    assert not server.get("corsAllowedOrigins")
    assert server.get("xsrfCookieSameSite", "lax") in ("lax", "strict")
    assert client.get("toolbarMode") in ("minimal", "viewer")  # no developer menu for users
    assert server.get("fileWatcherType") == "none" and server.get("runOnSave") is False


def test_every_config_key_is_a_real_streamlit_option():
    from streamlit import config as st_config

    known = st_config._config_options_template
    keys = [f"{section}.{key}" for section, values in _config().items() if section != "theme" for key in values]
    assert [k for k in keys if k not in known] == []


def test_config_names_no_path_outside_the_app():
    """Streamlit serves only ./static beside dashboard.py; the config must not point anywhere
    else (watch lists, certificate or static paths), and static/ must not link outside itself."""
    paths = [
        v
        for section in _config().values()
        for v in section.values()
        if isinstance(v, str) and ("/" in v or "\\" in v) and not v.startswith("#")
    ]
    assert paths == []
    static = ROOT / "static"
    if static.exists():
        root = static.resolve()
        escaping = [p for p in static.rglob("*") if p.is_symlink() and root not in p.resolve().parents]
        assert escaping == []


# ============================================================================================= SQL


SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|ATTACH|DETACH|USE|CREATE|DROP|PRAGMA)\b")
#: Expressions that may be interpolated into SQL text: lists of "?" placeholders and, inside
#: powerbalance/db.py, the alias it generated itself and the quoted path of the database file.
ALLOWED_INTERPOLATIONS = {"ph", "ph_static", "placeholders", "build.alias", "_sql_string(source)"}


def _sql_fstrings(path: Path) -> list[tuple[int, str]]:
    """(line, interpolated expression) of every SQL-looking f-string, % or .format() in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL_WORDS.search(text):
                for v in node.values:
                    if isinstance(v, ast.FormattedValue) and ast.unparse(v.value) not in ALLOWED_INTERPOLATIONS:
                        bad.append((node.lineno, ast.unparse(v.value)))
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and SQL_WORDS.search(node.left.value)
        ):
            bad.append((node.lineno, "% formatting"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
            and SQL_WORDS.search(node.func.value.value)
        ):
            bad.append((node.lineno, ".format()"))
    return bad


def test_sql_text_never_interpolates_values():
    found = {str(p.relative_to(ROOT)): bad for p in APP_SOURCES if (bad := _sql_fstrings(p))}
    assert found == {}, "user values must travel as parameters (?), never in SQL text"


def test_the_sql_scan_catches_interpolation(tmp_path):
    """The scanner itself: it flags a value in SQL text and passes a placeholder list."""
    src = tmp_path / "x.py"
    src.write_text(
        'def f(code, ph):\n    a = f"SELECT * FROM areas WHERE code = \'{code}\'"\n'
        '    b = f"SELECT * FROM areas WHERE code IN ({ph})"\n'
        '    c = "SELECT * FROM t WHERE x = %s" % code\n'
    )
    assert _sql_fstrings(src) == [(2, "code"), (4, "% formatting")]


def _user_text_functions():
    """Functions of powerbalance.queries / powerbalance.places with a parameter of user text."""
    modules = [queries]
    try:
        from powerbalance import places

        modules.append(places)
    except ImportError:
        pass
    out = []
    for module in modules:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            params = [
                p
                for p in inspect.signature(fn).parameters.values()
                if "str" in str(p.annotation) and p.name not in NOT_USER_TEXT
            ]
            if params:
                out.append((module.__name__.rsplit(".", 1)[-1], name, fn, params))
    return out


#: str parameters that never carry user input (labels chosen by the page, file names, SQL-free helpers).
NOT_USER_TEXT = {"db", "db_path", "static_root", "sheet", "label", "group_label", "base", "name"}
#: Functions that take text but never touch the database (formatting helpers).
NO_DATABASE = {
    "escape_markdown",
    "area_label",
    "geo_location",
    "served_geo_location",
    "weights_to_param",
    "to_xlsx_bytes",
    "overview_headline",
    "biggest_shifts",  # the council lens's tier group picks rows of a shift table already read
    "shift_span",
    "shifts_in_group",
    "domain_long",
    "compare_series",
    "rank_moves_summary",
    "best_covered",
    "index_coverage",
    "own_area_first",
    "area_rank_move",
    "display_tables",  # tables shown and downloaded, made from frames already read
    "county_district_tables",
    "index_map_tables",
}


def _valid_args(fn, real_db, period) -> dict | None:
    """Ordinary arguments for fn (Adur district, the latest index year); None if unknown."""
    values = {
        "code": "E07000223",
        "district_code": "E07000223",
        "codes": ["E07000223", "E07000224"],
        "level": "district",
        "period": period,
        "from_period": None,
        "to_period": None,
        "lens": "place",
        "group": None,
        "kind": "tier",
        "indicator_id": "imd_score",
        "query": "Adur",
        "text": None,
        "postcodes": ["SW1A 1AA"],
        "weights": None,
        "limit": 10,
        "k": 10,
        "n": 10,
        "db": real_db,
        "db_path": real_db,
        "lens_from": "place",
        "lens_to": "community",
    }
    kwargs = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name in values:
            kwargs[p.name] = values[p.name]
        elif p.default is inspect.Parameter.empty:
            return None
    return kwargs


def _outcome(fn, kwargs):
    """What a call did, in a form two calls can be compared by: the error type, or the answer's shape."""
    try:
        res = fn(**kwargs)
    except (ValueError, KeyError, LookupError, TypeError) as exc:
        return ("rejected", type(exc).__name__)
    if res is None:
        return ("none",)
    if isinstance(res, pd.DataFrame):
        return ("frame", len(res), tuple(res.columns))
    if isinstance(res, (list, tuple, set, dict)):
        return (type(res).__name__, len(res))
    return (type(res).__name__,)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_user_text_function_is_covered():
    names = {name for _, name, _, _ in _user_text_functions()} - NO_DATABASE
    # the functions the pages call with URL or typed text must be among them
    assert {
        "area",
        "find_places",
        "search_places",
        "area_profile",
        "comparison_group",
        "ward_table",
        "map_values",
        "indicator_info",
        "latest_indicators",
        "index_table",
        "shifts",
    } <= names


@pytest.mark.slow
def test_queries_treat_payloads_as_plain_values(real_db):
    period = queries.index_periods(real_db)[-1]
    before = _sha(real_db)
    checked, failures = 0, []
    for module, name, fn, params in _user_text_functions():
        if name in NO_DATABASE:
            continue
        kwargs = _valid_args(fn, real_db, period)
        assert kwargs is not None, f"{module}.{name}: add its arguments to _valid_args"
        for p in params:
            as_list = "list" in str(p.annotation) and p.name.endswith("s")
            baseline = _outcome(fn, {**kwargs, p.name: [UNKNOWN] if as_list else UNKNOWN})
            for payload in PAYLOADS:
                got = _outcome(fn, {**kwargs, p.name: [payload] if as_list else payload})
                checked += 1
                if got != baseline:
                    failures.append(f"{module}.{name}({p.name}={payload!r}): {got} but {UNKNOWN!r} gives {baseline}")
    assert failures == []
    assert checked >= 100
    assert _sha(real_db) == before


def test_the_payload_oracle_catches_an_injectable_query(real_db):
    """The oracle itself: a query that pastes the value into SQL answers a payload differently."""
    from powerbalance import db

    def injectable(code: str):
        return db.query(f"SELECT code FROM areas WHERE code = '{code}'", db=real_db)  # deliberately unsafe

    def safe(code: str):
        return db.query("SELECT code FROM areas WHERE code = ?", [code], db=real_db)

    assert _outcome(injectable, {"code": PAYLOADS[0]}) != _outcome(injectable, {"code": UNKNOWN})
    assert all(_outcome(safe, {"code": p}) == _outcome(safe, {"code": UNKNOWN}) for p in PAYLOADS)


# ============================================================================================= pages


PAGES = ["overview", "my_area", "compare", "map", "funders", "relationship", "method", "data"]


def _url_params() -> list[str]:
    """Every URL parameter the pages read: ``param="..."`` of the URL widgets, direct
    ``st.query_params`` reads, and the helpers' defaults (powerbalance/ui.py)."""
    text = "\n".join(p.read_text() for p in [*(ROOT / "pages").glob("*.py"), ROOT / "powerbalance" / "ui.py"])
    found = set(re.findall(r'param(?:=|: str = )"([a-z_]+)"', text))
    found |= set(re.findall(r'query_params(?:\.get\(|\[)"([a-z_]+)"', text))
    return sorted(found)


URL_PARAMS = _url_params()


@pytest.fixture(scope="module")
def app(real_db, built):
    from bench.app import served_app

    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


def _run_page(app, page: str, params: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=180)
    at.run()
    at.switch_page(f"pages/{page}_page.py")
    at.query_params.clear()
    at.query_params.update(params)
    at.run()
    if not at.exception:
        open_data_tables(at)  # the charts' tables too, made only once opened
    return at


def _page_exists(page: str) -> bool:
    return (ROOT / "pages" / f"{page}_page.py").exists()


def _fingerprint(at, value: str) -> dict:
    """What a run showed, with the injected value replaced by a token: the URL afterwards, the
    headings, metrics, captions and texts, and each table's and chart's size."""

    def norm(x) -> str:
        return str(x).replace(value, "<value>")

    return {
        "url": {k: norm(v) for k, v in at.query_params.items()},
        "text": [
            norm(e.value)
            for kind in ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success")
            for e in getattr(at, kind)
        ],
        "metrics": [(norm(m.label), norm(m.value)) for m in at.metric],
        "tables": [len(d.value) for d in at.dataframe],
        "charts": len(at.get("plotly_chart")),
    }


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_url_parameters_with_sql_payloads(app, real_db, page):
    """Every URL parameter set to a payload: the page shows exactly what it shows for a plain
    unknown value (each is replaced by a valid choice or reported as unknown)."""
    if not _page_exists(page):
        pytest.skip(f"pages/{page}_page.py is not written yet")
    before = _sha(real_db)
    at = _run_page(app, page, {k: UNKNOWN for k in URL_PARAMS})
    assert not at.exception, [e.value for e in at.exception]
    baseline = _fingerprint(at, UNKNOWN)
    for payload in PAYLOADS:
        at = _run_page(app, page, {k: payload for k in URL_PARAMS})
        assert not at.exception, (payload, [e.value for e in at.exception])
        assert _fingerprint(at, payload) == baseline, payload
    assert _sha(real_db) == before


def test_url_parameter_list_is_complete():
    assert {"area", "areas", "year", "level", "lens", "indicator", "weights", "group", "issues"} <= set(URL_PARAMS)


@pytest.mark.slow
def test_text_inputs_with_sql_payloads(app, real_db):
    """Every text box of every page, typed into with each payload: no exception, and a search
    for a payload finds nothing to choose from (it is a string no place is called)."""
    exercised = []
    for page in PAGES:
        if not _page_exists(page):
            continue
        at = _run_page(app, page, {})
        for key in [t.key for t in at.text_input]:
            for payload in PAYLOADS:
                at.text_input(key).set_value(payload)
                at.run()
                assert not at.exception, (page, key, payload, [e.value for e in at.exception])
                assert not [s for s in at.selectbox if s.key and s.key.endswith("_pick")], (page, key, payload)
            exercised.append(f"{page}:{key}")
    assert exercised, "no page has a text input any more: update this test"
    print("text inputs exercised:", exercised)


# ============================================================================================= HTML


HTML_CALLS = {"html", "markdown", "write", "caption", "components"}


def _html_sinks(path: Path) -> list[tuple[int, str]]:
    """Calls that render raw HTML (unsafe_allow_html=True, st.html, components.html) whose
    content is not a constant string of this module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    constants = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        raw = any(
            k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in node.keywords
        )
        raw = raw or func.endswith(".html") or "components" in func
        if not raw:
            continue
        arg = node.args[0] if node.args else None
        constant = (
            isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
            or isinstance(arg, ast.Name)
            and arg.id in constants
        )
        if not constant:
            out.append((node.lineno, func))
    return out


def test_no_html_is_rendered_from_data():
    found = {str(p.relative_to(ROOT)): s for p in APP_SOURCES if (s := _html_sinks(p))}
    assert found == {}, "render data as text (st.markdown without unsafe_allow_html, st.dataframe) or escape it"


def test_the_html_scan_catches_unsafe_calls(tmp_path):
    src = tmp_path / "x.py"
    src.write_text(
        'import streamlit as st\nCSS = "<style></style>"\nst.html(CSS)\n'
        'st.markdown(f"<b>{name}</b>", unsafe_allow_html=True)\nst.html(name)\n'
        'st.markdown(name)\n'
    )
    assert _html_sinks(src) == [(4, "st.markdown"), (5, "st.html")]


@pytest.fixture(scope="module")
def script_db(real_db, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the real build where one district and every funder are called <script>...</script>."""
    out = tmp_path_factory.mktemp("scriptdb") / "pb.duckdb"
    shutil.copyfile(real_db, out)
    con = duckdb.connect(str(out))
    try:
        code = "E07000223"
        con.execute("UPDATE areas SET name = ? WHERE code = ?", [SCRIPT, code])
        con.execute("UPDATE grants_agg SET funder = ? || funder", [SCRIPT])
        con.execute(
            "UPDATE grants SET funder_name = ? || coalesce(funder_name, ''), "
            "recipient_name = ? || coalesce(recipient_name, '')",
            [SCRIPT, SCRIPT],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return out, code


def test_brief_escapes_a_script_name(script_db):
    from powerbalance import brief

    db, code = script_db
    period = queries.index_periods(db)[-1]
    page = brief.render(queries.area_profile(code, period, None, "place", db=db))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;pb&quot;)&lt;/script&gt;" in page


def _elements(at):
    """Every element proto AppTest received (main area and sidebar, nested in containers)."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(proto)
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
    return out


def _raw_html_with_script(proto) -> str | None:
    """The HTML of an element that the browser would render as HTML, if it holds the script."""
    kind = type(proto).__name__
    if kind == "Markdown" and getattr(proto, "allow_html", False) and "<script" in proto.body.lower():
        return proto.body
    if kind == "Html" and "<script" in proto.body.lower():
        return proto.body
    if kind == "IFrame" and "<script" in (proto.srcdoc or "").lower():
        return proto.srcdoc
    return None


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_script_names_never_reach_html(script_db, built, page):
    from bench.app import served_app

    if not _page_exists(page):
        pytest.skip(f"pages/{page}_page.py is not written yet")
    db, code = script_db
    _, static, _ = built
    import os

    old = os.environ.get("POWERBALANCE_DB")
    os.environ["POWERBALANCE_DB"] = str(db)
    try:
        with served_app(db, static) as folder:
            at = _run_page(folder, page, {"area": code})
            assert not at.exception, [e.value for e in at.exception]
            protos = _elements(at)
            assert protos, "no elements rendered"
            leaks = [h[:200] for p in protos if (h := _raw_html_with_script(p))]
            assert leaks == []
    finally:
        if old is None:
            os.environ.pop("POWERBALANCE_DB", None)
        else:
            os.environ["POWERBALANCE_DB"] = old


# ============================================================================================= server


@pytest.fixture(scope="module")
def server(app, real_db):
    from bench.app import StreamlitServer

    with StreamlitServer(app, real_db) as srv:
        yield srv


def _get(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_upload_without_xsrf_token_is_refused(server):
    status, _ = _get(
        f"{server.url}/_stcore/upload_file/session/file", "PUT", b"x" * 10, {"Content-Type": "application/octet-stream"}
    )
    assert status == 403


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "/app/static/../../dashboard.py",
        "/app/static/%2e%2e/%2e%2e/dashboard.py",
        "/app/static/..%2f..%2fdashboard.py",
        "/app/static/%2e%2e%2fdashboard.py",
        "/app/static//etc/passwd",
        "/app/static/..%5c..%5cdashboard.py",
    ],
)
def test_static_files_cannot_escape_the_static_folder(server, path):
    status, body = _get(server.url + path)
    assert b"st.navigation" not in body and b"root:" not in body
    assert status != 200 or len(body) == 0 or b"<!doctype html" in body[:200].lower()


# ============================================================================================= dependencies


def test_dependencies_pass_pip_audit():
    """pip-audit over the installed environment. Offline (no route to the advisory service)
    every package comes back 'not found' and nothing is audited: that is a skip, not a pass."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--local", "--progress-spinner", "off", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
    except FileNotFoundError:
        pytest.skip("pip-audit is not installed (pinned in requirements.txt; run `make test`)")
    if "No module named pip_audit" in proc.stderr:
        pytest.skip("pip-audit is not installed (pinned in requirements.txt; run `make test`)")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        if re.search(r"ConnectionError|NameResolution|Max retries|timed out", proc.stderr):
            pytest.skip("vulnerability advisory service unreachable (no network): dependencies NOT audited")
        raise AssertionError(f"pip-audit failed:\n{proc.stderr[-2000:]}") from None
    deps = report["dependencies"]
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        pytest.skip(
            f"vulnerability advisory service unreachable: pip-audit could audit 0 of {len(deps)} "
            "installed packages ('not found on PyPI'): dependencies NOT audited"
        )
    vulnerable = {d["name"]: [v["id"] for v in d["vulns"]] for d in audited if d.get("vulns")}
    assert vulnerable == {}


# ============================================================================================= offline


OFFLINE_RUN = """
import asyncio, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
from bench.app import StreamlitServer
from bench import concurrency as load
db, static = Path({db!r}), Path({static!r})
truth = load.Truth.read(db, 3)
with tempfile.TemporaryDirectory() as tmp:
    app = load.mirror_app(Path(tmp))
    load.install_build(db, static, app)
    with StreamlitServer(app, db) as server:
        visits = asyncio.run(load.load(server.url, truth, 3))
bad = [(v.page, v.status, v.exceptions, v.problems) for v in visits if not v.ok]
print("visits", len(visits), "bad", bad)
sys.exit(1 if bad or not visits else 0)
"""


@pytest.mark.slow
def test_app_serves_every_page_with_no_network(real_db, built):
    """The server in a network namespace that has only a loopback interface (no route anywhere,
    no DNS): three sessions visit every page and fetch the boundary files, with no failure. (The
    browser side — no tiles, fonts or CDNs — is tests/test_browser.py::test_zz_no_request_left_this_machine.)"""
    _, static, _ = built
    unshare = shutil.which("unshare")
    ip = shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace here (needs unshare and root or user namespaces)")
    script = OFFLINE_RUN.format(root=str(ROOT), db=str(real_db), static=str(static))
    proc = subprocess.run(
        [unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$0" -c "$1"', sys.executable, script],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    probe = subprocess.run(
        [unshare, "-n", sys.executable, "-c", "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0, "the namespace was not offline, so this test proved nothing"


@pytest.mark.slow
def test_error_details_stay_on_the_server(tmp_path):
    """A page that fails (here: the database file is not a database) shows users a generic message;
    the exception type, its text and the file path appear only in the server log."""
    import asyncio

    from bench import concurrency as load
    from bench.app import StreamlitServer

    bad_db = tmp_path / "secret-location" / "pb.duckdb"
    bad_db.parent.mkdir()
    bad_db.write_bytes(b"this is not a DuckDB file " * 100)
    app = load.mirror_app(tmp_path)

    async def visit(url):
        async with load.Session(url, 0) as s:
            return await s.visit("overview")

    with StreamlitServer(app, bad_db) as server:
        v = asyncio.run(visit(server.url))
        log = server.output()
    assert v.exceptions, "the page should have failed on a corrupt database"
    shown = " ".join(v.exceptions)
    for secret in ("secret-location", "pb.duckdb", "DuckDB", "IOException", "Traceback", str(tmp_path)):
        assert secret.lower() not in shown.lower(), f"{secret!r} shown to the user: {shown}"
    assert "secret-location" in log, "the details should be in the server log"
