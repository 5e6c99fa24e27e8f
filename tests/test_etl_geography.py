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


def test_combined_authorities_are_the_ons_may_2025_set_with_their_members(con, raw_dir):
    """Review: the areas mixed the register's authorities (North of Tyne, abolished in May 2024, offered as
    current; E47000016 named "Yorkshire and The Humber MCA") with 2023 memberships, all labelled "CA 2025";
    four authorities had no member and three were missing. Now: exactly the 15 codes and names of ONS's
    CAUTH May 2025 file, each with members, checked against two code-keyed files that do not feed them."""
    import csv
    import json

    topo = json.loads((raw_dir / "geography" / "CAUTH_MAY_2025_EN_BUC.topojson").read_text(encoding="utf-8"))
    ons = {
        g["properties"]["AREACD"]: g["properties"]["AREANM"] for g in next(iter(topo["objects"].values()))["geometries"]
    }
    got = dict(con.execute("select code, name from areas where level = 'combined_authority'").fetchall())
    assert got == ons and len(got) == 15
    assert {
        v for (v,) in con.execute("select distinct vintage from areas where level = 'combined_authority'").fetchall()
    } == {"CA May 2025"}
    members = dict(
        con.execute("select code, ca_code from areas where level = 'district' and ca_code is not null").fetchall()
    )
    assert set(members.values()) == set(ons)  # every authority has members, and no member names another
    # the ONS 2023 lookup, for the authorities that kept their code and area since
    with open(raw_dir / "geography" / "lookup_ltla23_cauth23.csv", encoding="utf-8") as f:
        in_2023 = {r["ltla23_code"]: r["cauth23_code"] for r in csv.DictReader(f)}
    kept = {c for c in in_2023.values() if c in ons}
    assert len(kept) == 8
    assert {d for d, c in in_2023.items() if c in kept} == {d for d, c in members.items() if c in kept}
    assert all(members[d] == c for d, c in in_2023.items() if c in kept)
    # the North East's two 2023 authorities are one since May 2024 (E47000014)
    assert {members.get(d) for d, c in in_2023.items() if c in ("E47000010", "E47000011")} == {"E47000014"}
    # mySociety's register names each council's authority by its three-letter code: the newer ones agree
    with open(raw_dir / "geography" / "uk_local_authorities_future.csv", encoding="utf-8") as f:
        reg = [r for r in csv.DictReader(f) if r["current-authority"] == "True"]
    gss_of = {r["local-authority-code"]: r["gss-code"] for r in reg}
    newer = {"E47000012", "E47000013", "E47000016", "E47000017"}
    checked = [
        (r["gss-code"], gss_of[r["combined-authority"]]) for r in reg if gss_of.get(r["combined-authority"]) in newer
    ]
    district_codes = {d for (d,) in con.execute("select code from areas where level = 'district'").fetchall()}
    checked = [(d, c) for d, c in checked if d in district_codes]  # counties are not district rows
    assert len(checked) >= 6 and all(members.get(d) == c for d, c in checked)
    assert members["E06000010"] == "E47000016"  # Kingston upon Hull: Hull and East Yorkshire
    assert "E06000026" not in members and members["E06000027"] == "E47000015"  # Plymouth out, Torbay in
