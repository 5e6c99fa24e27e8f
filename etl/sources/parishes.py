"""Parish tier: every English civil parish with its 2018 ward(s) and its current district.

Parish and town councils are the most local layer of community self-government, so the number
of parishes in a ward or district is context for "communities stepping up". The only parish
lookup available offline is ONS PAR18_WD18_LAD18 (December 2018). Its quirks decide the design:

- A parish that crosses 2018 ward boundaries is listed once per ward (12,310 English rows for
  10,462 parishes). The file carries no areas or populations, so we cannot say which ward holds
  *most* of a parish. ``parishes`` therefore has one row per parish and names a ward only when
  the parish lies in exactly one 2018 ward; every parish–ward pair is kept in ``parish_wards``
  (so "parishes per ward" counts a cross-boundary parish in each ward it touches).
- LAD 2018 codes are mapped forward to LAD 2024 through ``area_code_map`` (e.g. the seven
  North Yorkshire districts → E06000065). A parish always lies in one district.
- Ward codes of 2018 are kept as the Dec 2023 ward only when the very same GSS code is still a
  current ward (a ward keeps its code only while its boundary is unchanged); otherwise NULL and
  reported as unmatched. Most English wards have been redrawn since 2018, so coverage is partial.
- Welsh communities (W04) in the same file are outside this England-only project and skipped.
"""
from __future__ import annotations

from collections import defaultdict

from ..core import BuildContext, EtlInputError, Source, insert_rows, read_csv

FILE = "community/PAR18_WD18_LAD18.csv"


class Parishes(Source):
    id = "parishes"
    title = "Parish to Ward to Local Authority District lookup (December 2018), England"
    publisher = "Office for National Statistics"
    licence = "Open Government Licence v3.0"
    attribution = ("Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
                   "Contains OS data © Crown copyright and database right 2018.")
    vintage = "December 2018 (PAR18, WD18, LAD18)"
    url = "https://geoportal.statistics.gov.uk/search?q=PAR18_WD18_LAD18"
    files = (FILE,)
    depends = ("geography",)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        (path,) = self.paths(ctx)
        ctx.register_file(self, path)
        table = read_csv(path, ["PAR18CD", "PAR18NM", "WD18CD", "LAD18CD"], rep, unique=["PAR18CD", "WD18CD"])
        rep.rows_read = len(table)

        district_map = _district_map(ctx.con)
        current_wards = dict(ctx.con.execute(
            "SELECT code, district_code FROM areas WHERE level = 'ward'").fetchall())

        parishes: dict[str, dict] = {}
        pairs: list[tuple[str, str, int]] = []  # (parish, 2018 ward, line)
        welsh = 0
        for line, r in table:
            code, ward18, lad18 = r["PAR18CD"].strip(), r["WD18CD"].strip(), r["LAD18CD"].strip()
            if code.startswith("W04"):
                welsh += 1
                continue
            if not code.startswith("E04"):
                raise EtlInputError(f"not an English parish (E04) or Welsh community (W04) code: {code!r}",
                                    file=path, row=line, column="PAR18CD")
            if not ward18.startswith("E05"):
                raise EtlInputError(f"parish {code} has a ward code that is not an English ward: {ward18!r}",
                                    file=path, row=line, column="WD18CD")
            p = parishes.setdefault(code, {"name": r["PAR18NM"].strip(), "lad18": lad18, "line": line})
            if p["lad18"] != lad18:
                raise EtlInputError(f"parish {code} is listed under two districts ({p['lad18']} on line "
                                    f"{p['line']}, {lad18} here)", file=path, row=line, column="LAD18CD")
            if p["name"] != r["PAR18NM"].strip():
                rep.warn(f"parish {code} has two names: {p['name']!r} and {r['PAR18NM'].strip()!r}; first kept",
                         file=path, row=line, column="PAR18NM", code=code)
            pairs.append((code, ward18, line))
        rep.note(f"{welsh} Welsh community rows (W04) skipped: England only", file=path, column="PAR18CD")

        district_of = self._map_districts(parishes, district_map, rep, path)
        ward_rows, ward_status = self._map_wards(pairs, current_wards, district_of, rep, path)

        wards_of: dict[str, list[str]] = defaultdict(list)
        for code, ward18, _ in pairs:
            wards_of[code].append(ward18)
        rows = []
        for code, p in sorted(parishes.items()):
            only = wards_of[code][0] if len(wards_of[code]) == 1 else None
            rows.append((code, p["name"], only, p["lad18"], district_of.get(code),
                         ward_status.get(only) if only else None))
        insert_rows(ctx.con, "parishes", rows,
                    ["parish_code", "parish_name", "ward18_code", "district18_code", "district_code", "ward_code"])
        insert_rows(ctx.con, "parish_wards", ward_rows, ["parish_code", "ward18_code", "ward_code"])
        rep.rows_loaded = len(rows)

        distinct_wards = {w for _, w, _ in pairs}
        matched_wards = {w for w in distinct_wards if ward_status.get(w)}
        rep.facts.update({
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
        })

    @staticmethod
    def _map_districts(parishes, district_map, rep, path) -> dict[str, str]:
        """LAD 2018 → current district. A 2018 district that was split would need parish-level
        geography to place its parishes, so a split is an error rather than a guess."""
        by_lad: dict[str, list[str]] = defaultdict(list)
        for code, p in parishes.items():
            by_lad[p["lad18"]].append(code)
        out: dict[str, str] = {}
        for lad18, codes in sorted(by_lad.items()):
            succ = district_map.get(lad18, [])
            line = min(parishes[c]["line"] for c in codes)
            if not succ:
                rep.unmatched(lad18, "2018 district code has no current district in area_code_map", file=path,
                              row=line, column="LAD18CD")
                continue
            if len(succ) > 1:
                raise EtlInputError(f"2018 district {lad18} was split into {succ}; parishes cannot be placed",
                                    file=path, row=line, column="LAD18CD")
            out.update(dict.fromkeys(codes, succ[0]))
        return out

    @staticmethod
    def _map_wards(pairs, current_wards, district_of, rep, path):
        """Keep a 2018 ward code only when it is still a Dec 2023 ward; report every code that is not."""
        status: dict[str, str | None] = {}
        rows = []
        for code, ward18, line in pairs:
            if ward18 not in status:
                status[ward18] = ward18 if ward18 in current_wards else None
                if status[ward18] is None:
                    rep.unmatched(ward18, "2018 ward code is not a December 2023 ward (redrawn or recoded)",
                                  file=path, row=line, column="WD18CD")
                elif district_of.get(code) and current_wards[ward18] != district_of[code]:
                    rep.warn(f"2018 ward {ward18} is now in district {current_wards[ward18]} but parish {code} "
                             f"maps to {district_of[code]}", file=path, row=line, column="WD18CD", code=ward18)
            rows.append((code, ward18, status[ward18]))
        return rows, status


def _district_map(con) -> dict[str, list[str]]:
    """Former or current district GSS code → current district code(s), from geography's map."""
    out: dict[str, list[str]] = defaultdict(list)
    for old, new in con.execute("""SELECT m.old_code, m.new_code FROM area_code_map m
                                   JOIN areas a ON a.code = m.new_code AND a.level = 'district'
                                   WHERE m.level = 'district' ORDER BY 1, 2""").fetchall():
        out[old].append(new)
    return out


SOURCES = [Parishes()]
