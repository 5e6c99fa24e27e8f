"""Parish tier: every English civil parish with its lookup-year ward(s) and its current district.

Parish and town councils are the most local layer of community self-government, so the number
of parishes in a ward or district is context for "communities stepping up". The newest parish
lookup available offline is ONS PAR19_WD19_LAD19 (December 2019), which replaces the December
2018 list (``PAR18_WD18_LAD18.csv`` stays in the mirror but is no longer loaded). The loader reads
whichever vintage the file's header names (``PARyyCD``, ``WDyyCD``, ``LADyyCD``), so a later ONS
lookup of the same shape loads by changing :data:`FILE` only. Its quirks decide the design:

- A parish that crosses its year's ward boundaries is listed once per ward (12,311 English rows for
  10,464 parishes in December 2019). The file carries no areas or populations, so we cannot say which ward holds
  *most* of a parish. ``parishes`` therefore has one row per parish and names a ward only when
  the parish lies in exactly one 2018 ward; every parish–ward pair is kept in ``parish_wards``
  (so "parishes per ward" counts a cross-boundary parish in each ward it touches).
- The lookup's district codes are mapped forward to LAD 2024 through ``area_code_map`` (e.g. the
  seven North Yorkshire districts → E06000065). A parish always lies in one district.
- The lookup's ward codes are kept as the Dec 2023 ward only when the very same GSS code is still
  a current ward (a ward keeps its code only while its boundary is unchanged); otherwise NULL and
  reported as unmatched: these are the parishes that cannot be placed in December 2023 wards.
- ``PAR19_names_codes.csv`` (ONS parish names and codes, same vintage) is checked against the
  lookup: an English parish in one and not the other, or named differently, is reported.
- The columns ``ward18_code``/``district18_code`` keep their names (an interface other code reads)
  but hold the lookup's own vintage: December 2019 wards and districts.
- Welsh communities (W04) in the same file are outside this England-only project and skipped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..core import BuildContext, EtlInputError, Source, decode_text, insert_rows, read_csv

FILE = "community/PAR19_WD19_LAD19.csv"
NAMES_FILE = "community/PAR19_names_codes.csv"
#: The parish code column names the vintage: PAR19CD → '19'.
VINTAGE_RE = re.compile(r"^PAR(\d\d)CD$")


def vintage_of(path: Path) -> str:
    """Two-digit year of a parish lookup, from its header (PAR19CD → '19')."""
    lines = decode_text(path).lstrip("\ufeff").splitlines()
    header = [h.strip().strip('"') for h in lines[0].split(",")] if lines else []
    years = [m.group(1) for h in header if (m := VINTAGE_RE.match(h.strip()))]
    if len(years) != 1:
        raise EtlInputError(f"expected one parish code column like 'PAR19CD'; header is {header[:8]}", file=path, row=1)
    return years[0]


class Parishes(Source):
    id = "parishes"
    title = "Parish to Ward to Local Authority District lookup (December 2019), England"
    publisher = "Office for National Statistics"
    licence = "Open Government Licence v3.0"
    attribution = (
        "Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
        "Contains OS data © Crown copyright and database right 2019."
    )
    vintage = "December 2019 (PAR19, WD19, LAD19)"
    url = "https://geoportal.statistics.gov.uk/search?q=PAR19_WD19_LAD19"
    files = (FILE, NAMES_FILE)
    depends = ("geography",)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        path, names_path = ctx.raw_dir / FILE, ctx.raw_dir / NAMES_FILE
        if not path.exists():
            raise EtlInputError(f"required raw file {FILE} not found in {ctx.raw_dir}", file=FILE)
        ctx.register_file(self, path)
        yy = vintage_of(path)
        cols = Columns(yy)
        table = read_csv(path, [cols.par, cols.nm, cols.wd, cols.lad], rep, unique=[cols.par, cols.wd])
        rep.rows_read = len(table)
        rep.facts["lookup_year"] = 2000 + int(yy)
        parishes, pairs, welsh = _read_lookup(table, cols, rep)
        rep.note(f"{welsh} Welsh community rows (W04) skipped: England only", file=path, column=cols.par)
        if names_path.exists():
            ctx.register_file(self, names_path)
            check_names(names_path, yy, parishes, rep)
        else:
            rep.warn(f"{NAMES_FILE} not found: parish names and codes not cross-checked", file=NAMES_FILE)

        district_of = self._map_districts(parishes, _district_map(ctx.con), rep, path, cols.lad)
        current_wards = dict(ctx.con.execute("SELECT code, district_code FROM areas WHERE level = 'ward'").fetchall())
        ward_rows, ward_status = self._map_wards(pairs, current_wards, district_of, rep, path, yy)
        wards_of: dict[str, list[str]] = defaultdict(list)
        for code, ward18, _ in pairs:
            wards_of[code].append(ward18)
        rows = _parish_rows(parishes, wards_of, district_of, ward_status)
        insert_rows(
            ctx.con,
            "parishes",
            rows,
            ["parish_code", "parish_name", "ward18_code", "district18_code", "district_code", "ward_code"],
        )
        insert_rows(ctx.con, "parish_wards", ward_rows, ["parish_code", "ward18_code", "ward_code"])
        rep.rows_loaded = len(rows)
        rep.facts.update(_facts(rows, ward_rows, pairs, wards_of, ward_status, welsh))

    @staticmethod
    def _map_districts(parishes, district_map, rep, path, column) -> dict[str, str]:
        """Lookup-year district → current district. A district that was split would need
        parish-level geography to place its parishes, so a split is an error rather than a guess."""
        by_lad: dict[str, list[str]] = defaultdict(list)
        for code, p in parishes.items():
            by_lad[p["lad18"]].append(code)
        out: dict[str, str] = {}
        for lad18, codes in sorted(by_lad.items()):
            succ = district_map.get(lad18, [])
            line = min(parishes[c]["line"] for c in codes)
            if not succ:
                rep.unmatched(
                    lad18,
                    "lookup district code has no current district in area_code_map",
                    file=path,
                    row=line,
                    column=column,
                )
                continue
            if len(succ) > 1:
                raise EtlInputError(
                    f"district {lad18} was split into {succ}; parishes cannot be placed",
                    file=path,
                    row=line,
                    column=column,
                )
            out.update(dict.fromkeys(codes, succ[0]))
        return out

    @staticmethod
    def _map_wards(pairs, current_wards, district_of, rep, path, yy):
        """Keep a lookup ward code only when it is still a Dec 2023 ward; report every code that is not."""
        status: dict[str, str | None] = {}
        rows = []
        for code, ward18, line in pairs:
            if ward18 not in status:
                status[ward18] = ward18 if ward18 in current_wards else None
                if status[ward18] is None:
                    rep.unmatched(
                        ward18,
                        f"20{yy} ward code is not a December 2023 ward (redrawn or recoded): its "
                        "parishes cannot be placed in December 2023 wards",
                        file=path,
                        row=line,
                        column=f"WD{yy}CD",
                    )
                elif district_of.get(code) and current_wards[ward18] != district_of[code]:
                    rep.warn(
                        f"20{yy} ward {ward18} is now in district {current_wards[ward18]} but parish {code} "
                        f"maps to {district_of[code]}",
                        file=path,
                        row=line,
                        column=f"WD{yy}CD",
                        code=ward18,
                    )
            rows.append((code, ward18, status[ward18]))
        return rows, status


def check_names(path: Path, yy: str, parishes: dict[str, dict], rep) -> None:
    """The ONS parish names file of the same vintage against the lookup: report English parishes
    in only one of them, and names that differ (the lookup's name is kept)."""
    par, nm = f"PAR{yy}CD", f"PAR{yy}NM"
    table = read_csv(path, [par, nm], rep, unique=[par])
    listed = {}
    for line, r in table:
        code = r[par].strip()
        if code.startswith("E04"):
            listed[code] = (r[nm].strip(), line)
    for code in sorted(set(listed) - set(parishes)):
        rep.unmatched(
            code,
            f"parish {listed[code][0]!r} is in the names file but not in the ward lookup",
            file=path,
            row=listed[code][1],
            column=par,
        )
    for code in sorted(set(parishes) - set(listed)):
        rep.unmatched(code, "parish is in the ward lookup but not in the names file", file=path, column=par)
    for code in sorted(set(parishes) & set(listed)):
        if listed[code][0] != parishes[code]["name"]:
            rep.warn(
                f"parish {code} is {parishes[code]['name']!r} in the lookup and {listed[code][0]!r} in the "
                "names file; the lookup's name is kept",
                file=path,
                row=listed[code][1],
                column=nm,
                code=code,
            )
    rep.facts["names_file_parishes"] = len(listed)


@dataclass(frozen=True)
class Columns:
    """The lookup's column names for its vintage (``yy`` = '19' → PAR19CD, PAR19NM, WD19CD, LAD19CD)."""

    yy: str

    @property
    def par(self) -> str:
        return f"PAR{self.yy}CD"

    @property
    def nm(self) -> str:
        return f"PAR{self.yy}NM"

    @property
    def wd(self) -> str:
        return f"WD{self.yy}CD"

    @property
    def lad(self) -> str:
        return f"LAD{self.yy}CD"


def _read_lookup(table, cols: Columns, rep) -> tuple[dict[str, dict], list[tuple[str, str, int]], int]:
    """Each English parish once (name, lookup district, first line) and every (parish, lookup ward,
    line) pair; Welsh communities are counted and skipped. A code of the wrong kind, or a parish
    under two districts, is an error naming its line."""
    parishes: dict[str, dict] = {}
    pairs: list[tuple[str, str, int]] = []
    welsh = 0
    for line, r in table:
        code, ward18, lad18 = r[cols.par].strip(), r[cols.wd].strip(), r[cols.lad].strip()
        if code.startswith("W04"):
            welsh += 1
            continue
        _check_codes(code, ward18, table.path, line, cols)
        name = r[cols.nm].strip()
        p = parishes.setdefault(code, {"name": name, "lad18": lad18, "line": line})
        if p["lad18"] != lad18:
            raise EtlInputError(
                f"parish {code} is listed under two districts ({p['lad18']} on line {p['line']}, {lad18} here)",
                file=table.path,
                row=line,
                column=cols.lad,
            )
        if p["name"] != name:
            rep.warn(
                f"parish {code} has two names: {p['name']!r} and {name!r}; first kept",
                file=table.path,
                row=line,
                column=cols.nm,
                code=code,
            )
        pairs.append((code, ward18, line))
    return parishes, pairs, welsh


def _check_codes(code: str, ward18: str, path: Path, line: int, cols: Columns) -> None:
    if not code.startswith("E04"):
        raise EtlInputError(
            f"not an English parish (E04) or Welsh community (W04) code: {code!r}", file=path, row=line, column=cols.par
        )
    if not ward18.startswith("E05"):
        raise EtlInputError(
            f"parish {code} has a ward code that is not an English ward: {ward18!r}",
            file=path,
            row=line,
            column=cols.wd,
        )


def _parish_rows(parishes, wards_of, district_of, ward_status) -> list[tuple]:
    """One row per parish; its lookup ward and current ward only when it lies in exactly one ward."""
    rows = []
    for code, p in sorted(parishes.items()):
        only = wards_of[code][0] if len(wards_of[code]) == 1 else None
        rows.append((code, p["name"], only, p["lad18"], district_of.get(code), ward_status.get(only) if only else None))
    return rows


def _facts(rows, ward_rows, pairs, wards_of, ward_status, welsh: int) -> dict:
    distinct_wards = {w for _, w, _ in pairs}
    matched_wards = {w for w in distinct_wards if ward_status.get(w)}
    return {
        "parishes": len(rows),
        "parish_ward_pairs": len(ward_rows),
        "parishes_in_several_wards": sum(1 for v in wards_of.values() if len(v) > 1),
        "parishes_with_current_district": sum(1 for r in rows if r[4]),
        "ward18_codes": len(distinct_wards),
        "ward18_codes_still_current": len(matched_wards),
        "ward18_codes_unmatched_share": round(1 - len(matched_wards) / len(distinct_wards), 4),
        "parish_ward_pairs_unmatched_share": round(sum(1 for r in ward_rows if r[2] is None) / len(ward_rows), 4),
        "parishes_with_single_current_ward": sum(1 for r in rows if r[5]),
        "parishes_touching_a_current_ward": len({r[0] for r in ward_rows if r[2]}),
        "welsh_rows_skipped": welsh,
    }


def _district_map(con) -> dict[str, list[str]]:
    """Former or current district GSS code → current district code(s), from geography's map."""
    out: dict[str, list[str]] = defaultdict(list)
    for old, new in con.execute("""SELECT m.old_code, m.new_code FROM area_code_map m
                                   JOIN areas a ON a.code = m.new_code AND a.level = 'district'
                                   WHERE m.level = 'district' ORDER BY 1, 2""").fetchall():
        out[old].append(new)
    return out


SOURCES = [Parishes()]
