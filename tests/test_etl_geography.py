"""Geography on the real files: the counts and links the brief promises."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(built):
    db, _, _ = built
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()[0]


def test_area_counts(con):
    counts = dict(con.execute("select level, count(*) from areas group by level").fetchall())
    assert counts["district"] == 296
    assert counts["county"] == 21
    assert counts["region"] == 9
    assert counts["ward"] == 6862
    assert counts["country"] == 1


def test_district_types_and_tiers(con):
    types = dict(con.execute("select type, count(*) from areas where level='district' group by type").fetchall())
    assert types == {
        "shire_district": 164,
        "unitary": 63,
        "metropolitan_district": 36,
        "london_borough": 32,
        "city_of_london": 1,
    }
    assert (
        one(
            con,
            "select count(*) from areas where level='district' and type='shire_district' "
            "and (tier <> 'lower' or county_code is null or parent_code <> county_code)",
        )
        == 0
    )
    assert (
        one(con, "select count(*) from areas where level='district' and tier='single' and county_code is not null") == 0
    )


def test_every_shire_district_has_a_current_county_and_every_ward_a_district(con):
    assert (
        one(
            con,
            """select count(*) from areas d left join areas c on c.code = d.county_code and c.level='county'
                       where d.type='shire_district' and c.code is null""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from areas w left join areas d on d.code = w.parent_code and d.level='district'
                       where w.level='ward' and d.code is null""",
        )
        == 0
    )
    # every county has districts, and every area except England has a parent that exists
    assert (
        one(
            con,
            """select count(*) from areas c where level='county' and not exists
                       (select 1 from areas d where d.county_code = c.code and d.level='district')""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from areas a left join areas p on p.code = a.parent_code
                       where a.level <> 'country' and p.code is null""",
        )
        == 0
    )


def test_buckinghamshire_predecessors_resolve(con):
    olds = {"E07000004", "E07000005", "E07000006", "E07000007"}  # Aylesbury Vale, Chiltern, South Bucks, Wycombe
    rows = con.execute(
        "select old_code, new_code, relation from area_code_map where old_code in (?, ?, ?, ?)", sorted(olds)
    ).fetchall()
    assert {r[0] for r in rows} == olds
    assert {(r[1], r[2]) for r in rows} == {("E06000060", "merged_into")}
    assert con.execute("select name, type from areas where code='E06000060'").fetchone() == (
        "Buckinghamshire",
        "unitary",
    )


def test_split_counties_map_to_both_successors(con):
    succ = {r[0] for r in con.execute("select new_code from area_code_map where old_code='E10000021'").fetchall()}
    assert succ == {"E06000061", "E06000062"}  # North and West Northamptonshire


def test_every_current_council_has_an_ecode_mapping(con):
    assert (
        one(
            con,
            """select count(*) from areas a where level in ('district','county') and ecode is not null and not
                       exists (select 1 from area_code_map m where m.old_code = a.ecode and m.new_code = a.code)""",
        )
        == 0
    )
