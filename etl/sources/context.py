"""Context: population, households, deprivation and rurality — shown beside the index, never in it.

One id per concept across levels (``docs/context.md`` has the full method):

- ``population``: Census 2021 usual residents per district (LTLA 2021 codes mapped forward to
  LAD 2024 by summing predecessors), summed to counties, regions and England (period '2021').
  Wards: ONS mid-2019 LSOA estimates summed over the LSOAs the ONS best-fit lookup places in the
  ward (period '2019'), only when every LSOA of the ward has an estimate; the value's note says so.
- ``households``: Census 2021 households, districts and their sums (period '2021').
- ``imd_score``: IoD2025 average score. Districts as published; counties the population-weighted
  (Census 2021) mean of their districts; wards the population-weighted (mid-2019) mean of their
  LSOAs' scores (period '2025').
- ``imd_rank`` (rank of average score, 1 = most deprived of 296), ``imd_decile`` (districts: decile
  of that rank; wards: decile of ward imd_score among English wards with a score; 1 = most
  deprived), ``imd_most_deprived_10pct_share`` (% of the district's LSOAs in England's most
  deprived 10%).
- ``ruc``: the 2021 Rural–Urban Classification is a class, not a number: it goes to
  ``areas.ruc_class`` and the indicator row only documents it.

Wards are Dec 2023 wards: an LSOA counts only when its May 2024 ward code is still a Dec 2023 ward
(same code = same boundary). Every code that does not match is reported.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from powerbalance.codes import ENGLAND

from ..core import BuildContext, EtlInputError, LoadReport, Source, insert_rows, parse_number, read_csv
from ..indicators import context as context_family
from ..indicators import write_definitions

IMD_LTLA = "context/imd2025_england_ltla24.csv"
IMD_LSOA = "context/imd2025_england_lsoa21.csv"
CENSUS_POP = "context/age_gender21_ltla21_ew.csv"
HOUSEHOLDS = "context/households21_england_wales_ltla23.csv"
RUC = "context/ruc21_ltla24.csv"
LSOA_POP = "context/lsoa11_population_mid2019.csv"
LSOA_WARD = "geography/lookup_lsoa21_ward24_ltla24.csv"

IMD_SCORE = "imd_average_score"
IMD_RANK = "imd_rank_of_average_score"
IMD_SHARE = "imd_proportion_of_lso_as_in_most_deprived_10_percent_nationally"


class Context(Source):
    id = "context"
    title = "Context: deprivation (IoD2025), Census 2021 population and households, rurality, ward population"
    publisher = "Ministry of Housing, Communities and Local Government; Office for National Statistics"
    licence = "Open Government Licence v3.0"
    attribution = (
        "Contains MHCLG data (English Indices of Deprivation 2025) and ONS data (Census 2021, mid-2019 "
        "LSOA population estimates, 2021 Rural–Urban Classification, LSOA–ward lookup) licensed under "
        "the Open Government Licence v3.0."
    )
    vintage = "IoD 2025 (LAD 2024, LSOA 2021); Census 2021; mid-2019 LSOA population; RUC 2021; LSOA21→ward May 2024"
    url = (
        "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2025 ; "
        "https://www.ons.gov.uk/census ; "
        "https://www.ons.gov.uk/peoplepopulationandcommunity/populationandmigration/populationestimates/datasets/"
        "lowersuperoutputareamidyearpopulationestimates ; "
        "https://www.gov.uk/government/collections/rural-urban-classification ; "
        "https://geoportal.statistics.gov.uk/"
    )
    files = (IMD_LTLA, IMD_LSOA, CENSUS_POP, HOUSEHOLDS, RUC, LSOA_POP, LSOA_WARD)
    depends = ("geography",)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        for p in self.paths(ctx):
            ctx.register_file(self, p)
        geo = _Geography(ctx.con)
        raw = ctx.raw_dir
        values: list[tuple] = []

        pop, pop_from = forward_sum(raw / CENSUS_POP, "ltla21_code", "total_population", geo, rep)
        hh, hh_from = forward_sum(raw / HOUSEHOLDS, "ltla23_code", "households", geo, rep)
        for ind, by_district, came_from in (("population", pop, pop_from), ("households", hh, hh_from)):
            values += [
                (c, ind, "2021", v, None, None, _census_note(c, came_from[c])) for c, v in sorted(by_district.items())
            ]
            values += _sum_above_districts(ind, by_district, geo, rep)

        imd, ranked = district_imd(raw / IMD_LTLA, geo, rep)
        values += _district_imd_values(imd, ranked)
        values += _county_imd(imd, pop, geo, rep)
        ruc = district_ruc(raw / RUC, geo, rep)
        _update_ruc(ctx.con, ruc)

        lsoa_pop = read_lsoa_population(raw / LSOA_POP, rep)
        lsoa_imd = read_lsoa_imd(raw / IMD_LSOA, rep)
        lsoa_ward = read_lsoa_wards(raw / LSOA_WARD, geo, rep)
        values += ward_values(lsoa_ward, lsoa_pop, lsoa_imd, geo, rep)

        insert_rows(
            ctx.con,
            "indicator_values",
            values,
            ["area_code", "indicator_id", "period", "value", "numerator", "denominator", "note"],
        )
        write_definitions(ctx.con, context_family.INDICATORS)
        rep.rows_loaded = len(values)
        rep.facts.update(
            {
                "districts_with_population": len(pop),
                "districts_with_households": len(hh),
                "districts_with_imd": len(imd),
                "districts_with_ruc": len(ruc),
                "england_population_2021": sum(pop.values()),
            }
        )


class _Geography:
    """The current areas this loader needs, read once from the geography tables."""

    def __init__(self, con):
        rows = con.execute(
            "SELECT code, level, county_code, region_code, district_code FROM areas "
            "WHERE level IN ('district', 'county', 'region', 'ward')"
        ).fetchall()
        self.districts = {r[0]: (r[2], r[3]) for r in rows if r[1] == "district"}
        self.counties = sorted(r[0] for r in rows if r[1] == "county")
        self.regions = sorted(r[0] for r in rows if r[1] == "region")
        self.wards = {r[0]: r[4] for r in rows if r[1] == "ward"}
        self.forward: dict[str, list[str]] = defaultdict(list)
        for old, new in con.execute("""SELECT m.old_code, m.new_code FROM area_code_map m
                                       JOIN areas a ON a.code = m.new_code AND a.level = 'district'
                                       WHERE m.level = 'district' ORDER BY 1, 2""").fetchall():
            self.forward[old].append(new)


# ---- district tables ---------------------------------------------------------------------------


def forward_sum(
    path: Path, code_col: str, value_col: str, geo: _Geography, rep: LoadReport
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Counts per district of an older vintage → current districts, summing predecessors.
    Returns the values and, per current district, the published codes that were summed.

    A current district is given a value only when every code that maps to it has one, and never
    from both its own code and a predecessor's (that would double count). England only."""
    table = read_csv(path, [code_col, value_col], rep, unique=[code_col])
    rep.rows_read += len(table)
    fname = path.name
    parts: dict[str, list[tuple[str, float | None]]] = defaultdict(list)
    skipped = 0
    for line, r in table:
        code = r[code_col].strip()
        if not code.startswith("E"):
            skipped += 1
            continue
        value = parse_number(r[value_col], file=fname, row=line, column=value_col, report=rep, allow_negative=False)
        succ = geo.forward.get(code, [])
        if not succ:
            rep.unmatched(code, "district code not found in area_code_map", file=path, row=line, column=code_col)
        elif len(succ) > 1:
            raise EtlInputError(
                f"district {code} was split into {succ}: its count cannot be divided",
                file=path,
                row=line,
                column=code_col,
            )
        else:
            parts[succ[0]].append((code, value))
    rep.note(f"{skipped} rows outside England skipped", file=path, column=code_col)
    out: dict[str, float] = {}
    for new, contrib in parts.items():
        codes = [c for c, _ in contrib]
        if new in codes and len(codes) > 1:
            raise EtlInputError(
                f"{new} appears both itself and through predecessors {sorted(set(codes) - {new})}",
                file=path,
                column=code_col,
            )
        if any(v is None for _, v in contrib):
            rep.warn(
                f"district {new} left missing: no value for {[c for c, v in contrib if v is None]}",
                file=path,
                column=value_col,
                code=new,
            )
            continue
        out[new] = sum(v for _, v in contrib)
    for code in sorted(set(geo.districts) - set(parts)):
        rep.warn("current district has no row in this file: left missing", file=path, code=code)
    return out, {new: sorted(c for c, _ in contrib) for new, contrib in parts.items()}


def _census_note(code: str, published: list[str]) -> str:
    if published == [code]:
        return "Census 2021"
    return f"Census 2021: sum of former districts {', '.join(published)}"


def _sum_above_districts(
    indicator: str, by_district: dict[str, float], geo: _Geography, rep: LoadReport
) -> list[tuple]:
    """Counties, regions and England as sums of their districts; missing if any district is."""
    members: dict[str, list[str]] = defaultdict(list)
    for d, (county, region) in geo.districts.items():
        members[ENGLAND].append(d)
        members[region].append(d)
        if county:
            members[county].append(d)
    out = []
    for area in [ENGLAND, *geo.regions, *geo.counties]:
        ds = members.get(area, [])
        lacking = [d for d in ds if d not in by_district]
        if not ds or lacking:
            rep.warn(f"{indicator} for {area} left missing: no value for districts {lacking}", code=area)
            continue
        out.append(
            (
                area,
                indicator,
                "2021",
                sum(by_district[d] for d in ds),
                None,
                None,
                f"Census 2021: sum of {len(ds)} districts",
            )
        )
    return out


def _current_district(code: str, geo: _Geography, rep: LoadReport, path: Path, line: int, column: str) -> bool:
    """LAD 2024 files must already use current district codes: averages and classes of former
    districts cannot be carried forward. Non-English codes are out of scope (False, no report)."""
    if not code.startswith("E"):
        return False
    if code not in geo.districts:
        rep.unmatched(code, "not a current (LAD 2024) district", file=path, row=line, column=column)
        return False
    return True


def district_imd(path: Path, geo: _Geography, rep: LoadReport) -> tuple[dict[str, tuple[float, int, float]], int]:
    """District → (IMD average score, rank of average score, proportion of LSOAs in the most deprived 10%),
    and the number of districts ranked (the deciles' denominator)."""
    table = read_csv(path, ["ltla24_code", IMD_SCORE, IMD_RANK, IMD_SHARE], rep, unique=["ltla24_code"])
    rep.rows_read += len(table)
    fname = path.name
    out = {}
    for line, r in table:
        code = r["ltla24_code"].strip()
        if not _current_district(code, geo, rep, path, line, "ltla24_code"):
            continue
        nums = [
            parse_number(r[c], file=fname, row=line, column=c, report=rep) for c in (IMD_SCORE, IMD_RANK, IMD_SHARE)
        ]
        if None in nums:
            rep.warn("district IMD values incomplete: district left missing", file=path, row=line, code=code)
            continue
        score, rank, share = nums
        if rank != int(rank) or not 1 <= rank <= len(table) or not 0 <= share <= 1:
            raise EtlInputError(f"implausible rank {rank} or proportion {share}", file=path, row=line, column=IMD_RANK)
        out[code] = (score, int(rank), share)
    ranks = [v[1] for v in out.values()]
    if len(set(ranks)) != len(ranks):
        raise EtlInputError("two districts share a rank of average score", file=path, column=IMD_RANK)
    return out, len(table)


def decile(rank: int, n: int) -> int:
    """Decile of a 1-based rank among n (1 = the first tenth, i.e. the most deprived)."""
    return (rank - 1) * 10 // n + 1


def _district_imd_values(imd: dict[str, tuple[float, int, float]], n: int) -> list[tuple]:
    out = []
    for code, (score, rank, share) in sorted(imd.items()):
        out += [
            (code, "imd_score", "2025", score, None, None, "IoD2025 average score, as published"),
            (code, "imd_rank", "2025", float(rank), None, None, f"rank of average score among {n} districts"),
            (
                code,
                "imd_decile",
                "2025",
                float(decile(rank, n)),
                None,
                None,
                f"decile of the rank of average score among {n} districts",
            ),
            (
                code,
                "imd_most_deprived_10pct_share",
                "2025",
                share * 100,
                None,
                None,
                "IoD2025 proportion of LSOAs in the most deprived 10% nationally, as a percentage",
            ),
        ]
    return out


def _county_imd(imd, pop, geo: _Geography, rep: LoadReport) -> list[tuple]:
    """County score = Census 2021 population-weighted mean of its districts' average scores (the IoD
    district average score is itself a population-weighted mean of LSOA scores)."""
    out = []
    for county in geo.counties:
        ds = [d for d, (c, _) in geo.districts.items() if c == county]
        lacking = [d for d in ds if d not in imd or d not in pop]
        if not ds or lacking:
            rep.warn(f"county imd_score left missing: no score or population for {lacking}", code=county)
            continue
        weight = sum(pop[d] for d in ds)
        out.append(
            (
                county,
                "imd_score",
                "2025",
                sum(imd[d][0] * pop[d] for d in ds) / weight,
                None,
                weight,
                f"Census 2021 population-weighted mean of the IoD2025 average scores of its {len(ds)} districts",
            )
        )
    return out


def district_ruc(path: Path, geo: _Geography, rep: LoadReport) -> dict[str, str]:
    """District → 2021 Rural–Urban Classification label (e.g. 'Urban: Majority nearer to a major town or city')."""
    table = read_csv(path, ["ltla24_code", "ruc21_code", "classification"], rep, unique=["ltla24_code"])
    rep.rows_read += len(table)
    out = {}
    for line, r in table:
        code = r["ltla24_code"].strip()
        if not _current_district(code, geo, rep, path, line, "ltla24_code"):
            continue
        label = r["classification"].strip()
        if not label or label.upper() == "NA":
            rep.warn("no classification: left missing", file=path, row=line, column="classification", code=code)
            continue
        out[code] = label
    return out


def _update_ruc(con, ruc: dict[str, str]) -> None:
    import pandas as pd

    con.register("_ruc", pd.DataFrame(sorted(ruc.items()), columns=["code", "ruc_class"]))
    try:
        con.execute("UPDATE areas SET ruc_class = _ruc.ruc_class FROM _ruc WHERE areas.code = _ruc.code")
    finally:
        con.unregister("_ruc")


# ---- LSOA tables and wards ---------------------------------------------------------------------


def read_lsoa_population(path: Path, rep: LoadReport) -> dict[str, float | None]:
    """English LSOA (2011 code) → mid-2019 population. The file has a UTF-8 BOM and numbers with
    thousands separators in quotes ("1,954"); Scottish, Welsh and Northern Irish rows are skipped.
    A suppressed value is kept as None (recorded), so the ward holding it is left missing."""
    table = read_csv(path, ["lsoa", "pop"], rep, unique=["lsoa"])
    rep.rows_read += len(table)
    fname = path.name
    out: dict[str, float | None] = {}
    for line, r in table:
        code = r["lsoa"].strip()
        if code.startswith("E01"):
            out[code] = parse_number(r["pop"], file=fname, row=line, column="pop", report=rep, allow_negative=False)
    rep.note(
        f"{len(table) - len(out)} rows outside England (Wales, Scotland, Northern Ireland) skipped",
        file=path,
        column="lsoa",
    )
    return out


def read_lsoa_imd(path: Path, rep: LoadReport) -> dict[str, float | None]:
    """LSOA 2021 → IoD2025 IMD score."""
    table = read_csv(path, ["lsoa21_code", "IMD_score"], rep, unique=["lsoa21_code"])
    rep.rows_read += len(table)
    fname = path.name
    out = {}
    for line, r in table:
        code = r["lsoa21_code"].strip()
        if not code.startswith("E01"):
            raise EtlInputError(f"not an English LSOA code: {code!r}", file=path, row=line, column="lsoa21_code")
        out[code] = parse_number(r["IMD_score"], file=fname, row=line, column="IMD_score", report=rep)
    return out


def read_lsoa_wards(path: Path, geo: _Geography, rep: LoadReport) -> dict[str, str | None]:
    """English LSOA 2021 → Dec 2023 ward, or None when its May 2024 ward code is not a Dec 2023 ward
    (the fifteen districts re-warded in May 2024). Each such ward code is reported once."""
    table = read_csv(path, ["lsoa21_code", "ward24_code", "ltla24_code"], rep, unique=["lsoa21_code"])
    rep.rows_read += len(table)
    out: dict[str, str | None] = {}
    reported: set[str] = set()
    for line, r in table:
        lsoa, ward, lad = r["lsoa21_code"].strip(), r["ward24_code"].strip(), r["ltla24_code"].strip()
        if not lsoa.startswith("E01"):
            continue
        if ward in geo.wards:
            if geo.wards[ward] != lad:
                rep.warn(
                    f"ward {ward} is in district {geo.wards[ward]} but the lookup says {lad}",
                    file=path,
                    row=line,
                    column="ltla24_code",
                    code=ward,
                )
            out[lsoa] = ward
        else:
            out[lsoa] = None
            if ward not in reported:
                reported.add(ward)
                rep.unmatched(
                    ward, "May 2024 ward code is not a December 2023 ward", file=path, row=line, column="ward24_code"
                )
    ward24 = {r["ward24_code"].strip() for _, r in table if r["lsoa21_code"].startswith("E01")}
    rep.facts.update(
        {
            "lsoa21_in_lookup": len(out),
            "lsoa21_in_dec2023_ward": sum(1 for w in out.values() if w),
            "lsoa21_ward_unmatched_share": round(sum(1 for w in out.values() if not w) / len(out), 4),
            "ward24_codes": len(ward24),
            "ward24_codes_not_dec2023": len(reported),
            "ward24_codes_unmatched_share": round(len(reported) / len(ward24), 4),
        }
    )
    return out


def ward_values(lsoa_ward, lsoa_pop, lsoa_imd, geo: _Geography, rep: LoadReport) -> list[tuple]:
    """Ward population (mid-2019) and IMD score/decile (IoD2025, population-weighted) for every
    Dec 2023 ward. A ward gets values only when every LSOA placed in it has a mid-2019 estimate
    (and a score): a partial sum would understate it. Otherwise the row is NULL with a note."""
    lsoas_of = _lsoas_of_wards(lsoa_ward, lsoa_pop, lsoa_imd, rep)
    pops, scores, why_missing = _ward_sums(geo.wards, lsoas_of, lsoa_pop, lsoa_imd)
    ranked = sorted(scores, key=lambda w: (-scores[w], w))
    deciles = {w: decile(i + 1, len(ranked)) for i, w in enumerate(ranked)}
    out = []
    for ward in sorted(geo.wards):
        if ward in why_missing:
            out += _missing_ward_rows(ward, why_missing[ward])
        else:
            out += _ward_rows(ward, len(lsoas_of[ward]), pops[ward], scores[ward], deciles[ward], len(ranked))
    rep.facts.update(
        {
            "wards": len(geo.wards),
            "wards_in_lookup": sum(1 for w in geo.wards if lsoas_of.get(w)),
            "wards_with_population": len(pops),
            "ward_population_coverage": round(len(pops) / len(geo.wards), 4),
            "wards_with_imd_score": len(ranked),
            "ward_population_2019_total": sum(pops.values()),
            "lsoa21_without_2019_population": sum(1 for x in lsoa_ward if lsoa_pop.get(x) is None),
        }
    )
    return out


def _lsoas_of_wards(lsoa_ward, lsoa_pop, lsoa_imd, rep: LoadReport) -> dict[str, list[str]]:
    """Ward -> the LSOAs the lookup places in it; reports every LSOA missing from the lookup or
    from the mid-2019 estimates."""
    for lsoa in sorted(set(lsoa_imd) - set(lsoa_ward)):
        rep.unmatched(lsoa, "IoD2025 LSOA not in the LSOA → ward lookup", file=IMD_LSOA, column="lsoa21_code")
    lsoas_of: dict[str, list[str]] = defaultdict(list)
    for lsoa, ward in lsoa_ward.items():
        if ward:
            lsoas_of[ward].append(lsoa)
        if lsoa not in lsoa_pop:
            rep.unmatched(
                lsoa, "LSOA 2021 code has no mid-2019 estimate (new or changed in 2021)", file=LSOA_POP, column="lsoa"
            )
    return lsoas_of


def _ward_sums(wards, lsoas_of, lsoa_pop, lsoa_imd) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Each ward's population and population-weighted IMD score when every one of its LSOAs has
    both; otherwise why it has none."""
    pops: dict[str, float] = {}
    scores: dict[str, float] = {}
    why_missing: dict[str, str] = {}
    for ward in sorted(wards):
        lsoas = lsoas_of.get(ward, [])
        no_pop = [x for x in lsoas if lsoa_pop.get(x) is None]
        no_score = [x for x in lsoas if lsoa_imd.get(x) is None]
        if not lsoas:
            why_missing[ward] = "no LSOA is placed in this ward by the May 2024 lookup (ward redrawn)"
        elif no_pop or no_score:
            why_missing[ward] = f"{len(no_pop)} of its {len(lsoas)} LSOAs lack a mid-2019 estimate" + (
                f", {len(no_score)} lack an IoD2025 score" if no_score else ""
            )
        else:
            pops[ward] = sum(lsoa_pop[x] for x in lsoas)
            scores[ward] = sum(lsoa_pop[x] * lsoa_imd[x] for x in lsoas) / pops[ward]
    return pops, scores, why_missing


def _missing_ward_rows(ward: str, why: str) -> list[tuple]:
    miss = f"missing: {why}"
    return [
        (ward, ind, period, None, None, None, miss)
        for ind, period in (("population", "2019"), ("imd_score", "2025"), ("imd_decile", "2025"))
    ]


def _ward_rows(ward: str, n: int, pop: float, score: float, dec: int, ranked: int) -> list[tuple]:
    """A ward's population, IMD score and decile rows, each with its note (``n`` LSOAs; ``ranked``
    wards with a score)."""
    best_fitted = f"the {n} LSOAs best-fitted to the ward"
    return [
        (ward, "population", "2019", pop, None, None, f"ONS mid-2019 estimate (not Census 2021): sum of {best_fitted}"),
        (
            ward,
            "imd_score",
            "2025",
            score,
            None,
            pop,
            f"mid-2019 population-weighted mean of the IoD2025 scores of {best_fitted}",
        ),
        (
            ward,
            "imd_decile",
            "2025",
            float(dec),
            None,
            None,
            f"decile of the ward imd_score among {ranked} English wards with one (1 = most deprived)",
        ),
    ]


SOURCES = [Context()]
