"""Bad input: every loader either loads a mutated file or raises etl.core.EtlInputError.

For every Source in etl/sources/ (found the same way the build finds them), Hypothesis picks one
of its raw files and mutates it — byte damage (truncation, flipped, inserted or deleted bytes,
binary garbage, empty file), CSV damage (cells replaced by hostile text, rows or columns dropped
or duplicated, ragged rows, renamed headers, other encodings), JSON damage (any node replaced by
other JSON, keys dropped, lists cut) and spreadsheet damage (cells rewritten with text, numbers,
booleans, dates and formulas, rows deleted, sheets renamed or removed, an XLSX under an .xls
name). The loader then runs on a real database that already holds the real geography (inside a
transaction that is rolled back, so each example starts clean). The test fails on any other
exception, and on a hang (a per-example alarm).

Seeds are the real raw files; files over ~600 kB are cut to their first rows/features so each
example runs in well under a second or two. Examples are bounded per source (FUZZ_EXAMPLES
scales them) so the file runs in under two minutes on two cores.

`make test` (and CI) runs a fixed set of examples (Hypothesis ``derandomize``), so the gate gives
the same answer on every run; `make fuzz` (FUZZ_RANDOM=1, more examples) explores new inputs. What
exploration finds becomes a fixed regression test here (e.g. the damaged-sheet test below).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from etl.build import SCHEMA
from etl.core import BuildContext, EtlInputError
from etl.sources import all_sources

pytestmark = [pytest.mark.slow]

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = 600_000  # bytes: larger seeds are cut down
HEAD_ROWS = 120  # CSV data rows kept from a large file
HEAD_ITEMS = 40  # JSON list items kept from a large file
HANG_SECONDS = 30  # one example taking longer than this is a hang
SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "") in ("", "0")  # fixed examples unless exploring
EXAMPLES = {
    "geography": 14,
    "boundaries": 10,
    "context": 14,
    "revenue_outturn": 8,
    "grants_360_aggregate": 14,
    "grants_360_records": 14,
    "parishes": 14,
    "participation": 20,
    "local_data": 20,
}
SOURCES = {s.id: s for s in all_sources()}

# Hostile or awkward cell text: publisher markers, numbers in odd forms, codes of the wrong kind,
# injection and control characters, very long text.
NASTY = [
    "",
    " ",
    "..",
    "[c]",
    "[x]",
    "-",
    "—",
    "n/a",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "-1e309",
    "-5",
    "(12)",
    "£1,234",
    "1,2,3",
    "0x10",
    "１２３",
    "1.2.3",
    "  7  ",
    "E06000060",
    "E0600006",
    "e06000060",
    "W06000001",
    "E05999999",
    "E9999",
    "99999999999999999999999",
    "2017-18",
    "2099-00",
    "18-2017",
    "TRUE",
    "=1+1",
    "\x00",
    "\u202e",
    "\ufeff",
    "<script>alert(1)</script>",
    "'; DROP TABLE areas; --",
    "\"",
    "a\nb",
    "x" * 5000,
]
TEXT = st.one_of(st.sampled_from(NASTY), st.text(max_size=24))
CELL = st.one_of(
    TEXT,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.dates(dt.date(1899, 12, 31), dt.date(2100, 1, 1)),
)
JSON_VALUE = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False), TEXT
    ),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(TEXT, kids, max_size=3)),
    max_leaves=6,
)


# --------------------------------------------------------------------------------------------- seeds


def _cut_csv(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[: HEAD_ROWS + 1])


def _cut_json(data: bytes) -> bytes:
    doc = json.loads(data.decode("utf-8-sig"))
    for key in ("features", "grants"):
        if isinstance(doc, dict) and isinstance(doc.get(key), list):
            doc[key] = doc[key][:HEAD_ITEMS]
    return json.dumps(doc).encode()


def _seed_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.stat().st_size <= SMALL:
        shutil.copyfile(src, dst)
    elif src.suffix.lower() == ".csv":
        dst.write_bytes(_cut_csv(src.read_bytes()))
    elif src.suffix.lower() in (".json", ".geojson"):
        dst.write_bytes(_cut_json(src.read_bytes()))
    else:  # workbooks: real files, mutated as they are
        shutil.copyfile(src, dst)


def _local_seeds(seed: Path) -> None:
    """local/ is empty in the real raw dir: the template-shaped fixture, as CSV and as XLSX."""
    from openpyxl import Workbook

    (seed / "local").mkdir(parents=True, exist_ok=True)
    good = FIXTURES / "local" / "volunteering_good.csv"
    shutil.copyfile(good, seed / "local" / "volunteering.csv")
    wb = Workbook()
    ws = wb.active
    ws.title = "data"
    earlier = {"2023-24": "2021-22", "2023": "2021"}  # other years: the same figure in two files stops a build
    for row in csv.reader(io.StringIO(good.read_text())):
        ws.append([earlier.get(c, c) for c in row])
    wb.save(seed / "local" / "volunteering_2.xlsx")


@pytest.fixture(scope="session")
def seeds(raw_dir, tmp_path_factory) -> dict[str, list[Path]]:
    """{source id: [seed files, relative to the seed dir]} plus the seed dir under key ''."""
    seed = tmp_path_factory.mktemp("fuzz_seeds")
    probe = BuildContext(None, raw_dir, "probe")
    out: dict[str, list[Path]] = {"": [seed]}
    for sid, source in SOURCES.items():
        rels = [p.relative_to(raw_dir) for p in source.paths(probe)]
        for rel in rels:
            if not (seed / rel).exists():
                _seed_file(raw_dir / rel, seed / rel)
        out[sid] = rels
    _local_seeds(seed)
    out["local_data"] = [Path("local/volunteering.csv"), Path("local/volunteering_2.xlsx")]
    return out


#: The database each loader runs on: what the real build has loaded before it that it reads —
#: geography loads into an empty schema, boundaries onto geography, every other loader onto
#: geography and boundaries (the 360Giving records place postcodes within ward boundaries).
BASE = {"geography": "empty", "boundaries": "geography"}


@pytest.fixture(scope="session")
def databases(raw_dir):
    """{"empty", "geography", "boundaries"} → in-memory databases; a loader runs on one of them
    inside a transaction that is rolled back."""
    out = {}
    for name, loaded in (("empty", ()), ("geography", ("geography",)), ("boundaries", ("geography", "boundaries"))):
        con = duckdb.connect(":memory:")
        con.execute(SCHEMA.read_text())
        with tempfile.TemporaryDirectory(prefix="fuzz-base-geo-") as geo:
            ctx = BuildContext(con, raw_dir, "fuzz-base")
            ctx.geo_dir, ctx.geo_url = Path(geo), "/app/static/geo/fuzz-base"
            for sid in loaded:
                SOURCES[sid].load(ctx)
        out[name] = con
    yield out
    for con in out.values():
        con.close()


def base_for(databases, source_id: str):
    return databases[BASE.get(source_id, "boundaries")]


# --------------------------------------------------------------------------------------------- mutations


def byte_mutation(data, content: bytes) -> bytes:
    op = data.draw(st.sampled_from(["truncate", "flip", "delete", "insert", "empty", "garbage"]), label="byte op")
    n = len(content)
    if op == "truncate":
        return content[: data.draw(st.integers(0, max(n - 1, 0)), label="cut at")]
    if op == "flip":
        buf = bytearray(content)
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            if buf:
                buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
        return bytes(buf)
    if op == "delete":
        a = data.draw(st.integers(0, max(n - 1, 0)))
        return content[:a] + content[a + data.draw(st.integers(1, 4096)) :]
    if op == "insert":
        a = data.draw(st.integers(0, n))
        return content[:a] + data.draw(st.binary(min_size=1, max_size=64)) + content[a:]
    if op == "empty":
        return data.draw(st.sampled_from([b"", b"\n", b"   \r\n", b"\xef\xbb\xbf"]))
    return data.draw(st.binary(min_size=1, max_size=2048), label="garbage")


def csv_mutation(data, content: bytes) -> bytes:
    text = content.decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return byte_mutation(data, content)
    op = data.draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "drop_column",
                "drop_row",
                "dup_row",
                "ragged",
                "rename_header",
                "dup_header",
                "encoding",
                "only_header",
                "cr_newlines",
            ]
        ),
        label="csv op",
    )
    r = data.draw(st.integers(0, len(rows) - 1), label="row")
    width = max(len(rows[r]), 1)
    c = data.draw(st.integers(0, width - 1), label="column")
    encoding = "utf-8"
    newline = "\n"
    if op == "cell":
        while len(rows[r]) <= c:
            rows[r].append("")
        rows[r][c] = data.draw(TEXT, label="text")
    elif op == "drop_column":
        rows = [row[:c] + row[c + 1 :] for row in rows]
    elif op == "drop_row":
        del rows[r]
    elif op == "dup_row":
        rows.insert(r, list(rows[r]))
    elif op == "ragged":
        rows[r] = rows[r] + ["extra"] if data.draw(st.booleans()) else rows[r][:-1]
    elif op == "rename_header":
        if rows[0]:
            rows[0][c % len(rows[0])] = data.draw(TEXT)
    elif op == "dup_header":
        if rows[0]:
            rows[0].append(rows[0][c % len(rows[0])])
    elif op == "encoding":
        encoding = data.draw(st.sampled_from(["cp1252", "latin-1", "utf-16", "utf-8-sig"]))
        rows[r] = [v + "é" for v in rows[r]]
    elif op == "only_header":
        rows = rows[:1]
    elif op == "cr_newlines":
        newline = "\r"
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode(encoding, errors="replace")


def _json_paths(node, path=(), out=None, limit=400):
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    out.append(path)
    if isinstance(node, dict):
        for k, v in node.items():
            _json_paths(v, path + (k,), out, limit)
    elif isinstance(node, list):
        for i, v in enumerate(node[:20]):
            _json_paths(v, path + (i,), out, limit)
    return out


def json_mutation(data, content: bytes) -> bytes:
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except ValueError:
        return byte_mutation(data, content)
    paths = _json_paths(doc)
    target = data.draw(st.sampled_from(paths), label="json path")
    op = data.draw(st.sampled_from(["replace", "replace", "delete", "cut_list", "wrap"]), label="json op")
    if not target:
        return json.dumps(data.draw(JSON_VALUE) if op == "replace" else [doc]).encode()
    parent = doc
    for step in target[:-1]:
        parent = parent[step]
    last = target[-1]
    if op == "replace":
        parent[last] = data.draw(JSON_VALUE, label="new value")
    elif op == "delete":
        del parent[last]
    elif op == "cut_list" and isinstance(parent[last], list):
        parent[last] = parent[last][: data.draw(st.integers(0, 2))]
    else:
        parent[last] = [parent[last]]
    return json.dumps(doc).encode()


def xlsx_mutation(data, content: bytes, rows: list[list] | None = None) -> bytes:
    """Spreadsheet damage through openpyxl (from the workbook itself or, for .xls, its rows)."""
    from openpyxl import Workbook, load_workbook

    if rows is None:
        try:
            wb = load_workbook(io.BytesIO(content))
        except Exception:
            return byte_mutation(data, content)
    else:
        wb = Workbook()
        ws = wb.active
        for row in rows:
            ws.append(list(row))
    ws = wb[data.draw(st.sampled_from(wb.sheetnames), label="sheet")]
    max_row, max_col = max(ws.max_row, 1), max(ws.max_column, 1)
    op = data.draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "formula",
                "delete_rows",
                "insert_rows",
                "delete_cols",
                "rename_sheet",
                "remove_sheet",
            ]
        ),
        label="xlsx op",
    )
    r = data.draw(st.integers(1, min(max_row, 80)), label="row")
    c = data.draw(st.integers(1, min(max_col, 60)), label="col")
    if op == "cell":
        value = data.draw(CELL, label="value")
        if isinstance(value, str):
            value = "".join(ch for ch in value if ch >= " " or ch in "\t\n")  # XML forbids control chars
        ws.cell(r, c).value = value
    elif op == "formula":
        ws.cell(r, c).value = data.draw(st.sampled_from(["=1/0", "=NA()", "=A1", "=\"x\"&1"]))
    elif op == "delete_rows":
        ws.delete_rows(r, data.draw(st.integers(1, 10)))
    elif op == "insert_rows":
        ws.insert_rows(r, data.draw(st.integers(1, 3)))
    elif op == "delete_cols":
        ws.delete_cols(c, data.draw(st.integers(1, 3)))
    elif op == "rename_sheet":
        ws.title = data.draw(st.sampled_from(["Sheet1", "data ", "RS 2017-18", "x"]))
    elif op == "remove_sheet" and len(wb.sheetnames) > 1:
        wb.remove(ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xls_rows(path: Path) -> list[list]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    return wb.get_sheet_by_name(wb.sheet_names[0]).to_python(skip_empty_area=False)[:100]


def mutate(data, path: Path) -> bytes:
    content = path.read_bytes()
    suffix = path.suffix.lower()
    if data.draw(st.integers(0, 4), label="byte-level?") == 0:
        return byte_mutation(data, content)
    if suffix == ".csv":
        return csv_mutation(data, content)
    if suffix in (".json", ".geojson", ".topojson"):
        return json_mutation(data, content)
    if suffix == ".xlsx":
        return xlsx_mutation(data, content)
    if suffix == ".xls":  # cannot write .xls: an .xlsx made from its first sheet's rows, under the .xls name
        return xlsx_mutation(data, content, rows=xls_rows(path))
    return byte_mutation(data, content)


# --------------------------------------------------------------------------------------------- running


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"loader did not finish within {HANG_SECONDS}s")


def run_loader(source_id: str, raw: Path, con) -> None:
    """Load one source into ``con`` inside a transaction that is always rolled back."""
    with tempfile.TemporaryDirectory(prefix="fuzz-geo-") as geo:
        ctx = BuildContext(con, raw, "fuzz")
        ctx.geo_dir, ctx.geo_url = Path(geo), "/app/static/geo/fuzz"
        con.execute("BEGIN TRANSACTION")
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_SECONDS)
        try:
            SOURCES[source_id].load(ctx)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            con.execute("ROLLBACK")


def example_raw(seeds, source_id: str, target: Path, content: bytes) -> Path:
    raw = Path(tempfile.mkdtemp(prefix=f"fuzz-{source_id}-"))
    for rel in seeds[source_id]:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel != target:
            (raw / rel).symlink_to(seeds[""][0] / rel)
    (raw / target).write_bytes(content)
    return raw


def check_one(data, seeds, databases, source_id: str) -> None:
    target = data.draw(st.sampled_from(seeds[source_id]), label="file")
    check_content(seeds, databases, source_id, target, mutate(data, seeds[""][0] / target))


def check_content(seeds, databases, source_id: str, target: Path, content: bytes) -> None:
    """The loader, with ``target`` replaced by ``content``, loads or raises a located EtlInputError."""
    con = base_for(databases, source_id)
    raw = example_raw(seeds, source_id, target, content)
    try:
        run_loader(source_id, raw, con)
    except EtlInputError as exc:
        assert str(exc).strip(), "EtlInputError without a message"
        assert exc.file, f"EtlInputError does not name the file: {exc}"
    finally:
        shutil.rmtree(raw, ignore_errors=True)


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_every_file_empty_or_only_a_byte_order_mark(source_id, seeds, databases):
    """Fixed regression sweep (exploration found a BOM-only aggregate CSV raising pandas'
    EmptyDataError): each raw file of each loader, replaced by nothing, by a UTF-8 byte-order mark
    alone, or by blank lines, gives a located EtlInputError (or loads)."""
    for target in seeds[source_id]:
        for content in (b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n\r\n", b"\n\n\n"):
            check_content(seeds, databases, source_id, target, content)


def test_every_source_is_fuzzed():
    """A new loader must get an example budget here (and so be fuzzed)."""
    assert set(SOURCES) <= set(EXAMPLES), sorted(set(SOURCES) - set(EXAMPLES))


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_unmutated_seeds_load(source_id, seeds, databases):
    """The harness itself: each loader loads its seeds (cut-down real files) without error, so
    the mutations below start from input that reaches deep into the loader."""
    raw = Path(tempfile.mkdtemp(prefix=f"fuzz-{source_id}-"))
    try:
        for rel in seeds[source_id]:
            (raw / rel).parent.mkdir(parents=True, exist_ok=True)
            (raw / rel).symlink_to(seeds[""][0] / rel)
        run_loader(source_id, raw, base_for(databases, source_id))
    finally:
        shutil.rmtree(raw, ignore_errors=True)


def _fuzz_test(source_id: str):
    @settings(
        max_examples=max(1, int(EXAMPLES.get(source_id, 10) * SCALE)),
        deadline=dt.timedelta(seconds=20),
        database=None,
        print_blob=True,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
        # no shrinking: it can take minutes; the failing example's draws are printed as found
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    @given(data=st.data())
    def run(data, seeds, databases):
        check_one(data, seeds, databases, source_id)

    return run


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_loader_survives_mutated_input(source_id, seeds, databases):
    _fuzz_test(source_id)(seeds=seeds, databases=databases)


# --------------------------------------------------------------------------------------------- uploads


@pytest.fixture(scope="module")
def upload_seeds(tmp_path_factory) -> list[Path]:
    """A funder's 360Giving file as CSV, JSON and XLSX (the test fixtures of the grants reader)."""
    from openpyxl import Workbook

    out = tmp_path_factory.mktemp("upload_seeds")
    csv_seed, json_seed = FIXTURES / "grants" / "good.csv", FIXTURES / "grants" / "good.json"
    wb = Workbook()
    ws = wb.active
    ws.title = "grants"
    for row in csv.reader(io.StringIO(csv_seed.read_text(encoding="utf-8-sig"))):
        ws.append(row)
    wb.save(out / "good.xlsx")
    return [csv_seed, json_seed, out / "good.xlsx"]


@settings(
    max_examples=max(1, int(40 * SCALE)),
    deadline=dt.timedelta(seconds=20),
    database=None,
    print_blob=True,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_upload_survives_mutated_files(data, upload_seeds, real_db):
    """The Funders page's upload (a file from outside, read in the server): every mutated file
    gives a result — grants, or a stated reason the file cannot be used — never an exception."""
    from powerbalance import funders

    seed = data.draw(st.sampled_from(upload_seeds), label="file")
    content = mutate(data, seed)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        result = funders.analyse_upload(content, seed.name, max_bytes=20 * 1024 * 1024, db=real_db)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert isinstance(result, funders.UploadResult)
    assert (
        result.ok
        or (isinstance(result.error, str) and result.error.strip())
        or (result.placed is not None and result.placed.empty)
    ), result


def damage_first_sheet(src: Path, dst: Path) -> str:
    """A copy of an .xlsx whose first worksheet's compressed bytes are scrambled: the workbook still
    opens (its directory and workbook.xml are intact) and fails only when that sheet is read —
    the case hypothesis found (``corrupt deflate stream``). Returns the damaged member's name."""
    import zipfile

    with zipfile.ZipFile(src) as z:
        member = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))[0]
        info = z.getinfo(member)
    raw = bytearray(src.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + info.compress_size - 2):  # every byte of the deflate stream
        raw[i] ^= 0x5A
    dst.write_bytes(bytes(raw))
    return member


def test_a_damaged_sheet_is_a_stated_reason_not_an_exception(upload_seeds, real_db, tmp_path):
    """Regression: calamine opens such a workbook and raises only when the sheet is read; the upload
    must say the file is damaged, naming the sheet, and the ETL reader must raise its located error."""
    from etl.core import EtlInputError, read_excel_rows
    from powerbalance import funders, grants360

    xlsx = next(p for p in upload_seeds if p.suffix == ".xlsx")
    bad = tmp_path / "damaged.xlsx"
    damage_first_sheet(xlsx, bad)
    with pytest.raises(grants360.GrantsFileError) as err:
        grants360.read_360giving(bad.read_bytes(), bad.name)
    assert err.value.sheet == "grants" and "damaged" in str(err.value) and bad.name in str(err.value)
    result = funders.analyse_upload(bad.read_bytes(), bad.name, max_bytes=20 * 1024 * 1024, db=real_db)
    assert not result.ok and "sheet 'grants'" in result.error and "damaged" in result.error

    finance = tmp_path / "finance.xlsx"
    damage_first_sheet(FIXTURES / "finance" / "good.xlsx", finance)
    from python_calamine import CalamineWorkbook

    first = CalamineWorkbook.from_path(str(finance)).sheet_names[0]
    with pytest.raises(EtlInputError) as err:
        read_excel_rows(finance, first)
    assert err.value.sheet == first and "damaged" in str(err.value) and "finance.xlsx" in str(err.value)
