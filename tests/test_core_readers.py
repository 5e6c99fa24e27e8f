"""Strict readers: every kind of bad input gives a clear error or a recorded warning, naming where."""

from __future__ import annotations

import pytest

from etl.core import EtlInputError, LoadReport, decode_text, parse_number, read_csv
from powerbalance.codes import excel_col


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(EtlInputError, match="file is empty") as e:
        read_csv(write(tmp_path, "e.csv", b""), ["a"])
    assert "e.csv" in str(e.value)


def test_header_only_is_an_error(tmp_path):
    with pytest.raises(EtlInputError, match="no data rows"):
        read_csv(write(tmp_path, "h.csv", b"a,b\n"), ["a"])


def test_missing_column_names_the_column(tmp_path):
    with pytest.raises(EtlInputError) as e:
        read_csv(write(tmp_path, "m.csv", b"code,nme\nE1,x\n"), ["code", "name"])
    assert "column 'name'" in str(e.value) and "row 1" in str(e.value)


def test_cp1252_text_is_read_with_a_warning(tmp_path):
    rep = LoadReport("t")
    p = write(tmp_path, "w.csv", "code,name\nE1,Caf\u00e9 \u00a3\n".encode("cp1252"))
    t = read_csv(p, ["code", "name"], rep)
    assert t.rows[0]["name"] == "Caf\u00e9 \u00a3"
    (issue,) = rep.issues
    assert issue.kind == "warning" and "Windows-1252" in issue.message and issue.row == 2 and issue.file == "w.csv"


def test_utf8_bom_is_stripped(tmp_path):
    t = read_csv(write(tmp_path, "b.csv", "\ufeffcode,name\nE1,x\n".encode("utf-8")), ["code"])
    assert t.columns[0] == "code"


def test_duplicate_key_names_both_rows(tmp_path):
    with pytest.raises(EtlInputError) as e:
        read_csv(write(tmp_path, "d.csv", b"code,v\nE1,1\nE2,2\nE1,3\n"), ["code"], unique=["code"])
    assert "row 4" in str(e.value) and "first seen on line 2" in str(e.value)


def test_ragged_row_is_an_error(tmp_path):
    with pytest.raises(EtlInputError, match="row 3"):
        read_csv(write(tmp_path, "r.csv", b"a,b\n1,2\n1,2,3\n"), ["a"])


def test_too_many_rows(tmp_path):
    with pytest.raises(EtlInputError, match="more than 2 data rows"):
        read_csv(write(tmp_path, "big.csv", b"a\n1\n2\n3\n"), ["a"], max_rows=2)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1,954", 1954.0),
        ("\u00a31,234.50", 1234.5),
        (" 12 ", 12.0),
        ("(5)", -5.0),
        ("-3.5", -3.5),
        ("", None),
        (7, 7.0),
    ],
)
def test_numbers_are_cleaned(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("marker", ["..", "[c]", "x", ":", "[x]", "-"])
def test_suppression_markers_are_missing_and_recorded(marker):
    rep = LoadReport("t")
    assert parse_number(marker, file="f.xlsx", sheet="S", row=9, column="C", report=rep) is None
    (issue,) = rep.issues
    assert (issue.kind, issue.sheet, issue.row, issue.column) == ("suppressed", "S", 9, "C")


def test_text_in_number_column_is_an_error_with_location():
    with pytest.raises(EtlInputError) as e:
        parse_number("twelve", file="f.xlsx", sheet="Data", row=12, column="F")
    assert str(e.value) == "file f.xlsx, sheet 'Data', row 12, column 'F': expected a number, found 'twelve'"


def test_negative_values_kept_and_counted():
    rep = LoadReport("t")
    assert parse_number("-12", report=rep) == -12.0 and rep.count("negative") == 1
    with pytest.raises(EtlInputError, match="negative"):
        parse_number("-1", allow_negative=False)


def test_excel_columns():
    assert [excel_col(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]


def test_undecodable_bytes(tmp_path):
    # 0x81 is undefined in cp1252 and invalid UTF-8 on its own
    with pytest.raises(EtlInputError, match="not UTF-8"):
        decode_text(write(tmp_path, "x.csv", b"a\n\x81\n"))


def test_inserted_tuples_read_back_as_the_pandas_route_gave_them():
    """insert_rows sends tuples through Arrow (faster than pandas' text conversion): NaN and None
    are both missing, ints and floats mix into a number column, bytes stay bytes; a column Arrow
    cannot hold in one type (text and numbers) still goes in through pandas."""
    import duckdb

    from etl.core import insert_rows

    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR, b DOUBLE, c BIGINT, d BLOB, e BOOLEAN)")
    rows = [("x", 1, 7, b"\x00\x01", True), (None, float("nan"), None, None, None), ("z", 2.5, 3, b"", False)]
    assert insert_rows(con, "t", rows) == 3
    assert con.execute("SELECT * FROM t").fetchall() == [
        ("x", 1.0, 7, b"\x00\x01", True),
        (None, None, None, None, None),
        ("z", 2.5, 3, b"", False),
    ]
    con.execute("CREATE TABLE u (a VARCHAR, b DOUBLE)")
    assert insert_rows(con, "u", [("1", 1.0), (2, 2.0)]) == 2  # text and a number: the pandas route
    assert con.execute("SELECT * FROM u ORDER BY a").fetchall() == [("1", 1.0), ("2", 2.0)]
    assert insert_rows(con, "u", []) == 0


def test_located_error_survives_pickling_with_its_location():
    """A build step run in the helper process raises its error in the build's process whole."""
    import pickle

    from etl.core import EtlInputError

    err = pickle.loads(pickle.dumps(EtlInputError("bad value", file="x.csv", sheet="Data", row=3, column="B")))
    assert type(err) is EtlInputError
    assert (err.message, err.file, err.sheet, err.row, err.column) == ("bad value", "x.csv", "Data", 3, "B")
    assert str(err) == "file x.csv, sheet 'Data', row 3, column 'B': bad value"
