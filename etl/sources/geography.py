"""Geography: current English areas, their hierarchy and every former code mapped forward.

Sources combined (all joined on GSS codes, never names):
- mySociety's register of UK councils (types, county over each district, E-codes, successors),
- ONS lookups: LAD 2024 → region, LAD 2023 → combined authority, ward (Dec 2023) → LAD 2023,
  LAD code chain 2016 → 2024, former GSS code → register code.

The result is ``areas`` (current areas only) and ``area_code_map`` (former district/county
codes and MHCLG E-codes → current councils), which every other loader uses to map old codes.
"""
from __future__ import annotations

from collections import defaultdict

from powerbalance.codes import ENGLAND, is_gss

from ..core import BuildContext, EtlInputError, Source, insert_rows, read_csv


# mySociety local-authority-type → (our type, tier)
DISTRICT_TYPES = {
    "NMD": ("shire_district", "lower"),
    "UA": ("unitary", "single"),
    "MD": ("metropolitan_district", "single"),
    "LBO": ("london_borough", "single"),
    "CC": ("city_of_london", "single"),
}


class Geography(Source):
    id = "geography"
    title = "Local authorities, wards, regions and code changes"
    publisher = "Office for National Statistics; mySociety"
    licence = "Open Government Licence v3.0 (ONS); CC-BY-4.0 (mySociety)"
    attribution = ("Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
                   "Local authority register © mySociety, CC-BY-4.0.")
    vintage = "LAD 2024, wards December 2023, register 2025"
    url = "https://geoportal.statistics.gov.uk/ ; https://github.com/mysociety/uk_local_authority_names_and_codes"
    files = (
        "geography/uk_local_authorities_future.csv",
        "geography/lookup_ltla24_region24.csv",
        "geography/lookup_ltla23_cauth23.csv",
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

        reg = read_csv(raw / "uk_local_authorities_future.csv",
                       ["local-authority-code", "nice-name", "gss-code", "end-date", "replaced-by", "nation",
                        "local-authority-type", "county-la", "former-gss-codes", "ecode"],
                       rep, unique=["local-authority-code"])
        regions = read_csv(raw / "lookup_ltla24_region24.csv",
                           ["ltla24_code", "ltla24_name", "region24_code", "region24_name"], rep,
                           unique=["ltla24_code"])
        cauth = read_csv(raw / "lookup_ltla23_cauth23.csv", ["ltla23_code", "cauth23_code", "cauth23_name"], rep,
                         unique=["ltla23_code"])
        wards = read_csv(raw / "WD23_LAD23_UK_LU_DEC.csv", ["WD23CD", "WD23NM", "LAD23CD"], rep, unique=["WD23CD"])
        chain = read_csv(raw / "lookup_ltla_ltla.csv", ["ltla16_code", "ltla24_code"], rep)
        gss_reg = read_csv(raw / "lookup_gss_to_registry.csv", ["gss-code", "local-authority-code"], rep)
        rep.rows_read = sum(len(t) for t in (reg, regions, cauth, wards, chain, gss_reg))

        by_reg = {r["local-authority-code"]: (line, r) for line, r in reg}
        england = {k: v for k, v in by_reg.items() if v[1]["nation"] == "England"}
        current = {k: v for k, v in england.items() if not v[1]["end-date"].strip()}

        # ---- regions -------------------------------------------------------------------------
        region_of: dict[str, str] = {}
        region_name: dict[str, str] = {}
        for line, r in regions:
            for col in ("ltla24_code", "region24_code"):
                if not is_gss(r[col]):
                    raise EtlInputError(f"not a GSS code: {r[col]!r}", file=regions.path, row=line, column=col)
            region_of[r["ltla24_code"]] = r["region24_code"]
            region_name[r["region24_code"]] = r["region24_name"]
        ca_of = {r["ltla23_code"]: r["cauth23_code"] for _, r in cauth}

        rows: list[tuple] = [(ENGLAND, "England", "country", "country", None, None, None, None, None, None, None,
                              None, None, "2024")]
        for code, name in sorted(region_name.items()):
            rows.append((code, name, "region", "region", None, ENGLAND, None, None, code, None, None, None, None,
                         "Region Dec 2023"))

        # ---- counties --------------------------------------------------------------------------
        county_gss: dict[str, str] = {}  # register code → gss
        for rc, (line, r) in current.items():
            if r["local-authority-type"] == "CTY":
                county_gss[rc] = r["gss-code"]
        county_region: dict[str, str] = {}

        # ---- districts -------------------------------------------------------------------------
        district_rows = []
        seen_districts = set()
        for rc, (line, r) in sorted(current.items()):
            lt = r["local-authority-type"]
            if lt not in DISTRICT_TYPES:
                continue
            code = r["gss-code"]
            typ, tier = DISTRICT_TYPES[lt]
            if code not in region_of:
                rep.unmatched(code, "current council in the register but not in the LAD 2024 → region lookup",
                              file=reg.path.name, row=line, column="gss-code")
                continue
            county = None
            if tier == "lower":
                county = county_gss.get(r["county-la"])
                if county is None:
                    raise EtlInputError(f"shire district {code} names county {r['county-la']!r}, which is not a "
                                        "current county", file=reg.path, row=line, column="county-la")
                county_region.setdefault(county, region_of[code])
            parent = county or region_of[code]
            district_rows.append((code, r["nice-name"], "district", typ, tier, parent, code, county,
                                  region_of[code], ca_of.get(code), rc, r["ecode"] or None, None, "LAD 2024"))
            seen_districts.add(code)
        for code in sorted(set(region_of) - seen_districts):
            rep.unmatched(code, "district in the LAD 2024 → region lookup but not a current council in the register",
                          file=regions.path.name, column="ltla24_code")

        for rc, gss in sorted(county_gss.items()):
            line, r = current[rc]
            if gss not in county_region:
                rep.warn("county has no current shire districts", file=reg.path.name, row=line, code=gss)
            rows.append((gss, r["nice-name"], "county", "county", "upper", county_region.get(gss), None, gss,
                         county_region.get(gss), None, rc, r["ecode"] or None, None, "County 2024"))
        rows.extend(district_rows)

        # ---- combined authorities --------------------------------------------------------------
        for rc, (line, r) in sorted(current.items()):
            if r["local-authority-type"] == "COMB" and r["gss-code"].startswith("E47"):
                rows.append((r["gss-code"], r["nice-name"], "combined_authority", "combined_authority", None,
                             ENGLAND, None, None, None, r["gss-code"], rc, r["ecode"] or None, None, "CA 2025"))

        # ---- wards -----------------------------------------------------------------------------
        district_info = {d[0]: d for d in district_rows}
        n_wards = 0
        for line, w in wards:
            code = w["WD23CD"].strip()
            if not code.startswith("E05"):
                continue  # Wales, Scotland, Northern Ireland
            lad = w["LAD23CD"].strip()
            d = district_info.get(lad)
            if d is None:
                rep.unmatched(lad, "ward's district is not a current district", file=wards.path.name, row=line,
                              column="LAD23CD")
                continue
            rows.append((code, w["WD23NM"].strip(), "ward", "ward", None, lad, lad, d[7], d[8], d[9], None, None,
                         None, "WD Dec 2023"))
            n_wards += 1

        insert_rows(ctx.con, "areas", rows)
        rep.rows_loaded = len(rows)

        # ---- former codes → current -----------------------------------------------------------
        current_codes = {r[0] for r in rows if r[2] in ("district", "county")}

        def successors(rc: str, depth=0) -> list[str]:
            """Follow replaced-by links in the register until current councils are reached."""
            if depth > 10 or rc not in england:
                return []
            line, r = england[rc]
            if not r["end-date"].strip():
                return [r["gss-code"]] if r["gss-code"] in current_codes else []
            out: list[str] = []
            for nxt in [x.strip() for x in r["replaced-by"].split(",") if x.strip()]:
                out.extend(successors(nxt, depth + 1))
            return sorted(set(out))

        mapping: dict[tuple[str, str], tuple] = {}

        def add(old, new, old_name, level, relation):
            if old and new and (old, new) not in mapping:
                mapping[(old, new)] = (old, new, old_name, level, relation, self.id)

        for code in sorted(current_codes):
            add(code, code, None, "county" if code.startswith("E10") else "district", "same")
        for rc, (line, r) in sorted(england.items()):
            lt = r["local-authority-type"]
            if lt not in DISTRICT_TYPES and lt != "CTY":
                continue
            level = "county" if lt == "CTY" else "district"
            succ = successors(rc)
            if not succ:
                if r["end-date"].strip():
                    rep.unmatched(r["gss-code"], "former council with no current successor", file=reg.path.name,
                                  row=line, column="replaced-by")
                continue
            relation = "same" if not r["end-date"].strip() else ("split" if len(succ) > 1 else "merged_into")
            for s in succ:
                if r["end-date"].strip():
                    add(r["gss-code"], s, r["nice-name"], level, relation)
                for fg in [x.strip() for x in r["former-gss-codes"].split(",") if x.strip()]:
                    add(fg, s, r["nice-name"], level, "recoded" if relation == "same" else relation)
                if r["ecode"].strip():
                    add(r["ecode"].strip(), s, r["nice-name"], "council_ecode", relation)
        for line, r in chain:
            new = r["ltla24_code"].strip()
            for col in [c for c in chain.columns if c.endswith("_code") and c != "ltla24_code"]:
                old = r[col].strip()
                if old and old != new and old.startswith("E") and is_gss(old):
                    add(old, new, r.get(col.replace("_code", "_name")), "district", "recoded")
        for line, r in gss_reg:
            old = r["gss-code"].strip()
            if not old:
                rep.note("register code with no GSS code skipped", file=gss_reg.path.name, row=line,
                         column="gss-code", code=r["local-authority-code"])
                continue
            if old.startswith("E") and (old, old) not in mapping:
                for s in successors(r["local-authority-code"].strip()):
                    if s != old:
                        add(old, s, None, "district", "recoded")
        # a former code that now maps to several councils must say so
        fanout = defaultdict(set)
        for (old, new) in mapping:
            fanout[old].add(new)
        final = []
        for key, rec in sorted(mapping.items()):
            old, new, name, level, relation, sid = rec
            if len(fanout[old]) > 1 and relation != "split":
                relation = "split"
            final.append((old, new, name, level, relation, sid))
        insert_rows(ctx.con, "area_code_map", final)
        self._load_lsoa_lookup(ctx, raw, rep)
        rep.facts.update({"districts": len(district_rows), "counties": len(county_gss), "wards": n_wards,
                          "regions": len(region_name), "former_code_mappings": len(final)})


    def _load_lsoa_lookup(self, ctx: BuildContext, raw, rep) -> None:
        """English LSOAs: 2021 codes → May 2024 ward and LAD 2024; 2011 codes → register council."""
        l21 = read_csv(raw / "lookup_lsoa21_ward24_ltla24.csv", ["lsoa21_code", "ward24_code", "ltla24_code"], rep,
                       unique=["lsoa21_code"])
        l11 = read_csv(raw / "lookup_lsoa_to_registry.csv", ["lsoa", "local-authority-code"], rep, unique=["lsoa"])
        rows = [(r["lsoa21_code"], "2021", r["ward24_code"] or None, r["ltla24_code"] or None, None)
                for _, r in l21 if r["lsoa21_code"].startswith("E01")]
        rows += [(r["lsoa"], "2011", None, None, r["local-authority-code"] or None)
                 for _, r in l11 if r["lsoa"].startswith("E01")]
        rep.rows_read += len(l21) + len(l11)
        insert_rows(ctx.con, "lsoa_lookup", rows)


SOURCES = [Geography()]
