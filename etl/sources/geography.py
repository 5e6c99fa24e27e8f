"""Geography: current English areas, their hierarchy and every former code mapped forward.

Sources combined (all joined on GSS codes, never names):
- mySociety's register of UK councils (types, county over each district, E-codes, successors),
- ONS lookups: LAD 2024 → region, ward (Dec 2023) → LAD 2023, LAD code chain 2016 → 2024, former
  GSS code → register code,
- ONS combined authorities of May 2025 (``CAUTH_MAY_2025``: the 15 codes and names). No ONS lookup of
  that vintage is in the raw files (the LAD 2023 → CA 2023 one predates the North East merger and the
  five authorities created since), so a district's combined authority is the one whose May 2025
  boundary holds its LAD December 2024 boundary — an overlay of two ONS files, never a match of names.

The result is ``areas`` (current areas only) and ``area_code_map`` (former district/county
codes and MHCLG E-codes → current councils), which every other loader uses to map old codes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from powerbalance.codes import ENGLAND, is_gss

from ..core import BuildContext, EtlInputError, Source, Table, insert_rows, read_csv
from .boundaries import ENGLAND_DISTRICT_PREFIXES, read_topojson

# mySociety local-authority-type → (our type, tier)
DISTRICT_TYPES = {
    "NMD": ("shire_district", "lower"),
    "UA": ("unitary", "single"),
    "MD": ("metropolitan_district", "single"),
    "LBO": ("london_borough", "single"),
    "CC": ("city_of_london", "single"),
}

#: Combined authorities (codes, names, boundaries) and the district boundaries their members are found with.
CA_FILE = "CAUTH_MAY_2025_EN_BUC.topojson"
LAD_FILE = "Local_Authority_Districts_December_2024_Boundaries_UK_BUC.topojson"
CA_VINTAGE = "CA May 2025"
#: A district is in the combined authority that covers at least this share of its area. On the real files
#: every district is over 95 % inside one authority or under 0.1 % inside any (generalised edges).
CA_MEMBER_SHARE = 0.5
#: A district with a share of an authority between these is reported: the two files disagree on its edge.
CA_UNCLEAR = (0.05, 0.95)


class Geography(Source):
    id = "geography"
    title = "Local authorities, wards, regions and code changes"
    publisher = "Office for National Statistics; mySociety"
    licence = "Open Government Licence v3.0 (ONS); CC-BY-4.0 (mySociety)"
    attribution = (
        "Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
        "Local authority register © mySociety, CC-BY-4.0."
    )
    vintage = "LAD 2024, wards December 2023, combined authorities May 2025, register 2025"
    url = "https://geoportal.statistics.gov.uk/ ; https://github.com/mysociety/uk_local_authority_names_and_codes"
    files = (
        "geography/uk_local_authorities_future.csv",
        "geography/lookup_ltla24_region24.csv",
        f"geography/{CA_FILE}",
        f"geography/{LAD_FILE}",
        "geography/WD23_LAD23_UK_LU_DEC.csv",
        "geography/lookup_ltla_ltla.csv",
        "geography/lookup_gss_to_registry.csv",
        "geography/lookup_lsoa21_ward24_ltla24.csv",
        "geography/lookup_lsoa_to_registry.csv",
    )

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        raw = ctx.raw_dir / "geography"
        for p in self.paths(ctx):
            ctx.register_file(self, p)
        t = read_tables(raw, rep)
        reg = Register(t.reg)
        region_of, region_name = read_regions(t.regions)
        county_gss = current_counties(reg)
        cas = read_shapes(raw / CA_FILE, rep, ("E47",))
        ca_of = ca_membership(read_shapes(raw / LAD_FILE, rep, ENGLAND_DISTRICT_PREFIXES), cas, rep)
        district_rows, county_region = district_areas(reg, t, region_of, county_gss, ca_of, rep)
        rows = country_and_regions(region_name)
        rows += county_areas(reg, county_gss, county_region, t.reg.path.name, rep)
        rows += district_rows
        rows += combined_authorities(cas, reg)
        ward_rows = ward_areas(t.wards, district_rows, rep)
        rows += ward_rows
        insert_rows(ctx.con, "areas", rows)
        rep.rows_loaded = len(rows)

        codes = CodeMap(reg, {r[0] for r in rows if r[2] in ("district", "county")}, self.id)
        codes.add_register(rep, t.reg.path.name)
        codes.add_chain(t.chain)
        codes.add_gss_register(t.gss_reg, rep)
        final = codes.rows()
        insert_rows(ctx.con, "area_code_map", final)
        self._load_lsoa_lookup(ctx, raw, rep)
        rep.facts.update(
            {
                "districts": len(district_rows),
                "counties": len(county_gss),
                "wards": len(ward_rows),
                "regions": len(region_name),
                "combined_authorities": len(cas),
                "districts_in_a_combined_authority": sum(1 for d in district_rows if d[9]),
                "former_code_mappings": len(final),
            }
        )

    def _load_lsoa_lookup(self, ctx: BuildContext, raw, rep) -> None:
        """English LSOAs: 2021 codes → May 2024 ward and LAD 2024; 2011 codes → register council."""
        l21 = read_csv(
            raw / "lookup_lsoa21_ward24_ltla24.csv",
            ["lsoa21_code", "ward24_code", "ltla24_code"],
            rep,
            unique=["lsoa21_code"],
        )
        l11 = read_csv(raw / "lookup_lsoa_to_registry.csv", ["lsoa", "local-authority-code"], rep, unique=["lsoa"])
        rows = [
            (r["lsoa21_code"], "2021", r["ward24_code"] or None, r["ltla24_code"] or None, None)
            for _, r in l21
            if r["lsoa21_code"].startswith("E01")
        ]
        rows += [
            (r["lsoa"], "2011", None, None, r["local-authority-code"] or None)
            for _, r in l11
            if r["lsoa"].startswith("E01")
        ]
        rep.rows_read += len(l21) + len(l11)
        insert_rows(ctx.con, "lsoa_lookup", rows)


SOURCES = [Geography()]


# --------------------------------------------------------------------------------------------
# Named steps of Geography.load
# --------------------------------------------------------------------------------------------


@dataclass
class Tables:
    """The geography CSVs, read strictly."""

    reg: Table
    regions: Table
    wards: Table
    chain: Table
    gss_reg: Table


def read_tables(raw, rep) -> Tables:
    t = Tables(
        reg=read_csv(
            raw / "uk_local_authorities_future.csv",
            [
                "local-authority-code",
                "nice-name",
                "gss-code",
                "end-date",
                "replaced-by",
                "nation",
                "local-authority-type",
                "county-la",
                "former-gss-codes",
                "ecode",
            ],
            rep,
            unique=["local-authority-code"],
        ),
        regions=read_csv(
            raw / "lookup_ltla24_region24.csv",
            ["ltla24_code", "ltla24_name", "region24_code", "region24_name"],
            rep,
            unique=["ltla24_code"],
        ),
        wards=read_csv(raw / "WD23_LAD23_UK_LU_DEC.csv", ["WD23CD", "WD23NM", "LAD23CD"], rep, unique=["WD23CD"]),
        chain=read_csv(raw / "lookup_ltla_ltla.csv", ["ltla16_code", "ltla24_code"], rep),
        gss_reg=read_csv(raw / "lookup_gss_to_registry.csv", ["gss-code", "local-authority-code"], rep),
    )
    rep.rows_read = sum(len(x) for x in (t.reg, t.regions, t.wards, t.chain, t.gss_reg))
    return t


class Register:
    """mySociety's register by register code: every council, the English ones, the current ones."""

    def __init__(self, reg: Table):
        self.by_code = {r["local-authority-code"]: (line, r) for line, r in reg}
        self.england = {k: v for k, v in self.by_code.items() if v[1]["nation"] == "England"}
        self.current = {k: v for k, v in self.england.items() if not v[1]["end-date"].strip()}


def read_regions(regions: Table) -> tuple[dict[str, str], dict[str, str]]:
    """(LAD 2024 code → region code, region code → name); every code must be a GSS code."""
    region_of: dict[str, str] = {}
    region_name: dict[str, str] = {}
    for line, r in regions:
        for col in ("ltla24_code", "region24_code"):
            if not is_gss(r[col]):
                raise EtlInputError(f"not a GSS code: {r[col]!r}", file=regions.path, row=line, column=col)
        region_of[r["ltla24_code"]] = r["region24_code"]
        region_name[r["region24_code"]] = r["region24_name"]
    return region_of, region_name


def country_and_regions(region_name: dict[str, str]) -> list[tuple]:
    rows: list[tuple] = [
        (ENGLAND, "England", "country", "country", None, None, None, None, None, None, None, None, None, "2024")
    ]
    for code, name in sorted(region_name.items()):
        rows.append(
            (code, name, "region", "region", None, ENGLAND, None, None, code, None, None, None, None, "Region Dec 2023")
        )
    return rows


def current_counties(reg: Register) -> dict[str, str]:
    """Register code → GSS code of every current county council."""
    return {rc: r["gss-code"] for rc, (line, r) in reg.current.items() if r["local-authority-type"] == "CTY"}


def district_areas(
    reg: Register, t: Tables, region_of: dict[str, str], county_gss: dict[str, str], ca_of: dict[str, str], rep
) -> tuple[list[tuple], dict[str, str]]:
    """areas rows of current districts (with county, region and combined authority: ``ca_of``), and each
    county's region. Districts missing from either the register or the region lookup are reported."""
    county_region: dict[str, str] = {}
    district_rows = []
    seen_districts = set()
    for rc, (line, r) in sorted(reg.current.items()):
        lt = r["local-authority-type"]
        if lt not in DISTRICT_TYPES:
            continue
        code = r["gss-code"]
        typ, tier = DISTRICT_TYPES[lt]
        if code not in region_of:
            rep.unmatched(
                code,
                "current council in the register but not in the LAD 2024 → region lookup",
                file=t.reg.path.name,
                row=line,
                column="gss-code",
            )
            continue
        county = None
        if tier == "lower":
            county = county_gss.get(r["county-la"])
            if county is None:
                raise EtlInputError(
                    f"shire district {code} names county {r['county-la']!r}, which is not a current county",
                    file=t.reg.path,
                    row=line,
                    column="county-la",
                )
            county_region.setdefault(county, region_of[code])
        parent = county or region_of[code]
        district_rows.append(
            (
                code,
                r["nice-name"],
                "district",
                typ,
                tier,
                parent,
                code,
                county,
                region_of[code],
                ca_of.get(code),
                rc,
                r["ecode"] or None,
                None,
                "LAD 2024",
            )
        )
        seen_districts.add(code)
    for code in sorted(set(region_of) - seen_districts):
        rep.unmatched(
            code,
            "district in the LAD 2024 → region lookup but not a current council in the register",
            file=t.regions.path.name,
            column="ltla24_code",
        )
    return district_rows, county_region


def county_areas(
    reg: Register, county_gss: dict[str, str], county_region: dict[str, str], file: str, rep
) -> list[tuple]:
    rows = []
    for rc, gss in sorted(county_gss.items()):
        line, r = reg.current[rc]
        if gss not in county_region:
            rep.warn("county has no current shire districts", file=file, row=line, code=gss)
        rows.append(
            (
                gss,
                r["nice-name"],
                "county",
                "county",
                "upper",
                county_region.get(gss),
                None,
                gss,
                county_region.get(gss),
                None,
                rc,
                r["ecode"] or None,
                None,
                "County 2024",
            )
        )
    return rows


def combined_authorities(cas: dict[str, tuple[str, shapely.Geometry]], reg: Register) -> list[tuple]:
    """areas rows of the combined authorities of :data:`CA_FILE`, named as ONS names them, with the
    register's code and E-code where the register has the authority (joined on the GSS code)."""
    in_register = {
        r["gss-code"]: (rc, r) for rc, (line, r) in reg.current.items() if r["local-authority-type"] == "COMB"
    }
    rows = []
    for code, (name, _) in sorted(cas.items()):
        rc, r = in_register.get(code, (None, {}))
        rows.append(
            (
                code,
                name,
                "combined_authority",
                "combined_authority",
                None,
                ENGLAND,
                None,
                None,
                None,
                code,
                rc,
                r.get("ecode") or None,
                None,
                CA_VINTAGE,
            )
        )
    return rows


def read_shapes(path: Path, rep, prefixes: tuple[str, ...]) -> dict[str, tuple[str, shapely.Geometry]]:
    """Code → (name, polygon as published) of an ONS TopoJSON layer's areas whose codes start with
    ``prefixes``. A ring the generalisation collapsed (under four points) is left out."""
    try:
        topo = read_topojson(path, rep, prefixes)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise EtlInputError(f"not a TopoJSON layer of areas with AREACD and AREANM ({e})", file=path) from None
    shapes = {}
    for area in topo.areas:
        if area.code in shapes:
            raise EtlInputError(f"{area.code} appears twice", file=path, row=area.row, column="AREACD")
        try:
            shapes[area.code] = (area.name, _shape(topo.arcs, area.polygons))
        except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as e:
            raise EtlInputError(
                f"{area.code}: its outline cannot be built from the file's arcs ({e})", file=path, row=area.row
            ) from None
    return shapes


def _shape(arcs: list[np.ndarray], polygons: list[list[list[int]]]) -> shapely.Geometry:
    parts = []
    for rings in polygons:
        coords = [_ring(arcs, refs) for refs in rings]
        if coords and len(coords[0]) >= 4:
            parts.append(shapely.Polygon(coords[0], [c for c in coords[1:] if len(c) >= 4]))
    return shapely.make_valid(shapely.MultiPolygon(parts))


def _ring(arcs: list[np.ndarray], refs: list[int]) -> np.ndarray:
    """One ring's points from its arc references (~i: arc i reversed); each arc starts where the last ended."""
    parts = [arcs[r] if r >= 0 else arcs[~r][::-1] for r in refs]
    return np.concatenate([parts[0], *(p[1:] for p in parts[1:])]) if parts else np.empty((0, 2))


def ca_membership(
    districts: dict[str, tuple[str, shapely.Geometry]], cas: dict[str, tuple[str, shapely.Geometry]], rep
) -> dict[str, str]:
    """District code → the combined authority covering at least :data:`CA_MEMBER_SHARE` of its area.
    A district partly in an authority (:data:`CA_UNCLEAR`) is reported."""
    member = {}
    for code, (name, shape) in sorted(districts.items()):
        area = shapely.area(shape)
        for ca, (ca_name, ca_shape) in sorted(cas.items()):
            try:
                share = float(shapely.area(shapely.intersection(shape, ca_shape))) / area if area > 0 else 0.0
            except shapely.errors.GEOSException as e:
                raise EtlInputError(
                    f"district {code} and combined authority {ca} cannot be overlaid ({e})", file=CA_FILE
                ) from None
            if share >= CA_MEMBER_SHARE:
                member[code] = ca
            if CA_UNCLEAR[0] < share < CA_UNCLEAR[1]:
                rep.warn(
                    f"district {name} lies {share:.0%} in combined authority {ca} {ca_name}: "
                    f"{'counted' if share >= CA_MEMBER_SHARE else 'not counted'} as a member",
                    file=CA_FILE,
                    code=code,
                )
    return member


def ward_areas(wards: Table, district_rows: list[tuple], rep) -> list[tuple]:
    """English December 2023 wards of current districts; a ward whose district is not current is reported."""
    district_info = {d[0]: d for d in district_rows}
    rows = []
    for line, w in wards:
        code = w["WD23CD"].strip()
        if not code.startswith("E05"):
            continue  # Wales, Scotland, Northern Ireland
        lad = w["LAD23CD"].strip()
        d = district_info.get(lad)
        if d is None:
            rep.unmatched(
                lad, "ward's district is not a current district", file=wards.path.name, row=line, column="LAD23CD"
            )
            continue
        rows.append(
            (
                code,
                w["WD23NM"].strip(),
                "ward",
                "ward",
                None,
                lad,
                lad,
                d[7],
                d[8],
                d[9],
                None,
                None,
                None,
                "WD Dec 2023",
            )
        )
    return rows


class CodeMap:
    """Former district/county codes and MHCLG E-codes → current councils (``area_code_map``)."""

    def __init__(self, reg: Register, current_codes: set[str], source_id: str):
        self.reg, self.current_codes, self.source_id = reg, current_codes, source_id
        self.mapping: dict[tuple[str, str], tuple] = {}
        for code in sorted(current_codes):
            self.add(code, code, None, "county" if code.startswith("E10") else "district", "same")

    def add(self, old, new, old_name, level, relation) -> None:
        if old and new and (old, new) not in self.mapping:
            self.mapping[(old, new)] = (old, new, old_name, level, relation, self.source_id)

    def successors(self, rc: str, depth=0) -> list[str]:
        """Follow replaced-by links in the register until current councils are reached."""
        if depth > 10 or rc not in self.reg.england:
            return []
        line, r = self.reg.england[rc]
        if not r["end-date"].strip():
            return [r["gss-code"]] if r["gss-code"] in self.current_codes else []
        out: list[str] = []
        for nxt in [x.strip() for x in r["replaced-by"].split(",") if x.strip()]:
            out.extend(self.successors(nxt, depth + 1))
        return sorted(set(out))

    def add_register(self, rep, file: str) -> None:
        """Every English district or county in the register → its current successor(s)."""
        for rc, (line, r) in sorted(self.reg.england.items()):
            lt = r["local-authority-type"]
            if lt not in DISTRICT_TYPES and lt != "CTY":
                continue
            level = "county" if lt == "CTY" else "district"
            succ = self.successors(rc)
            if not succ:
                if r["end-date"].strip():
                    rep.unmatched(
                        r["gss-code"],
                        "former council with no current successor",
                        file=file,
                        row=line,
                        column="replaced-by",
                    )
                continue
            relation = "same" if not r["end-date"].strip() else ("split" if len(succ) > 1 else "merged_into")
            for s in succ:
                if r["end-date"].strip():
                    self.add(r["gss-code"], s, r["nice-name"], level, relation)
                for fg in [x.strip() for x in r["former-gss-codes"].split(",") if x.strip()]:
                    self.add(fg, s, r["nice-name"], level, "recoded" if relation == "same" else relation)
                if r["ecode"].strip():
                    self.add(r["ecode"].strip(), s, r["nice-name"], "council_ecode", relation)

    def add_chain(self, chain: Table) -> None:
        """ONS LAD code chain 2016 → 2024: every older code → its LAD 2024 code."""
        for _line, r in chain:
            new = r["ltla24_code"].strip()
            for col in [c for c in chain.columns if c.endswith("_code") and c != "ltla24_code"]:
                old = r[col].strip()
                if old and old != new and old.startswith("E") and is_gss(old):
                    self.add(old, new, r.get(col.replace("_code", "_name")), "district", "recoded")

    def add_gss_register(self, gss_reg: Table, rep) -> None:
        """Former GSS code → register code → current successor(s)."""
        for line, r in gss_reg:
            old = r["gss-code"].strip()
            if not old:
                rep.note(
                    "register code with no GSS code skipped",
                    file=gss_reg.path.name,
                    row=line,
                    column="gss-code",
                    code=r["local-authority-code"],
                )
                continue
            if old.startswith("E") and (old, old) not in self.mapping:
                for s in self.successors(r["local-authority-code"].strip()):
                    if s != old:
                        self.add(old, s, None, "district", "recoded")

    def rows(self) -> list[tuple]:
        """The mapping, sorted; a former code that now maps to several councils says 'split'."""
        fanout = defaultdict(set)
        for old, new in self.mapping:
            fanout[old].add(new)
        final = []
        for _key, rec in sorted(self.mapping.items()):
            old, new, name, level, relation, sid = rec
            if len(fanout[old]) > 1 and relation != "split":
                relation = "split"
            final.append((old, new, name, level, relation, sid))
        return final
