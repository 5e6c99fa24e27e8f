"""Civic participation (DCMS Community Life Survey), England and its nine regions, by year.

The only participation measure available offline is the share of adults who took part in civic
participation in the last 12 months (indicator DR41 as republished by the Social Mobility
Commission). There is no local-authority breakdown, so it is context at region and England level.

The regional file carries no area code, only the region name. Names are matched through one
explicit table (``ITL1_TO_REGION``: the ONS region names and their ITL1 spellings → E12 codes);
any other name stops the build, so a renamed or misspelt region can never be dropped silently.
This is the one place in the ETL where a name is matched. 'NA' in the files means "not
published" and is read as missing; other suppression markers are recorded in the load report.

England's series comes from edition 4.0 of the national file (2013/14 → 2024/25, confidence
intervals from 2019/20). Its layout differs from edition 1.0 (lower-case ``measure_code``,
``time_period``, ``value``, ``lci``, ``uci``; split columns instead of Age/Sex/Category), so the
reader is chosen by the header. There was no survey in 2022/23: that row's value is blank and is
loaded as a missing value, so the gap shows. The regional series (edition 1.0) stops at 2020/21.
"""

from __future__ import annotations

from powerbalance.codes import ENGLAND, is_gss

from ..core import BuildContext, EtlInputError, LoadReport, Source, Table, insert_rows, parse_number, read_csv

REGIONAL = "volunteering/DR41-civic-engagement--by-ITL1-region-and-year--original.csv"
NATIONAL = "volunteering/DR41-4.0-civic-engagement--full-dataset.csv"
#: Edition 4.0 (national) columns; the split columns say whether a row is a breakdown.
REQUIRED_V4 = [
    "measure_code",
    "area_code",
    "area_name",
    "primary_split_type",
    "secondary_split_type",
    "time_period",
    "value",
    "lci",
    "uci",
    "sample_size",
]

#: English ITL1 regions: region names (as ONS and this file spell them) → E12 region code.
ITL1_TO_REGION = {
    "North East": "E12000001",
    "North East (England)": "E12000001",
    "North West": "E12000002",
    "North West (England)": "E12000002",
    "Yorkshire and The Humber": "E12000003",
    "East Midlands": "E12000004",
    "East Midlands (England)": "E12000004",
    "West Midlands": "E12000005",
    "West Midlands (England)": "E12000005",
    "East of England": "E12000006",
    "East": "E12000006",
    "London": "E12000007",
    "South East": "E12000008",
    "South East (England)": "E12000008",
    "South West": "E12000009",
    "South West (England)": "E12000009",
}
_BY_FOLDED = {k.casefold(): v for k, v in ITL1_TO_REGION.items()}

REQUIRED = [
    "Ind_code",
    "Area_type",
    "Area_code",
    "Area_name",
    "Time_period",
    "Age",
    "Sex",
    "Category",
    "Value",
    "Sample_size",
    "LCI",
    "UCI",
]


def region_code(name: str, *, file, row) -> str:
    """E12 code for a published region name; an unknown name is an error (never guessed)."""
    code = _BY_FOLDED.get(" ".join(name.split()).casefold())
    if code is None:
        raise EtlInputError(
            f"unknown region name {name!r}: add it to ITL1_TO_REGION in "
            "etl/sources/participation.py if it is a genuine English region",
            file=file,
            row=row,
            column="Area_name",
        )
    return code


def _number(value: str, rep: LoadReport, **loc) -> float | None:
    """'NA' (the publisher's "not published") is missing without a report entry; other
    suppression markers go through parse_number and are recorded."""
    if value.strip().upper() == "NA":
        return None
    return parse_number(value, report=rep, **loc)


def _is_total(r: dict) -> bool:
    """Rows for all adults, both sexes, no breakdown category: the only rows the table holds."""
    return (
        r["Age"].strip() == "Adults (16+)"
        and r["Sex"].strip() == "Total"
        and r["Category"].strip().upper() in ("NA", "")
    )


class Participation(Source):
    id = "participation"
    title = "Civic participation in the last 12 months (Community Life Survey), England and regions"
    publisher = "Department for Culture, Media and Sport (Community Life Survey); Social Mobility Commission"
    licence = "Open Government Licence v3.0"
    attribution = (
        "Source: DCMS Community Life Survey, via the Social Mobility Commission State of the Nation "
        "data, licensed under the Open Government Licence v3.0."
    )
    vintage = "2013/14 to 2024/25 (England, edition 4.0; no survey in 2022/23); 2014 to 2021 (regions)"
    url = "https://www.gov.uk/government/collections/community-life-survey--2"
    files = (REGIONAL, NATIONAL)
    depends = ("geography",)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        for p in self.paths(ctx):
            ctx.register_file(self, p)
        current = {
            c for (c,) in ctx.con.execute("SELECT code FROM areas WHERE level IN ('region', 'country')").fetchall()
        }
        missing = sorted({ENGLAND, *ITL1_TO_REGION.values()} - current)
        if missing:
            raise EtlInputError(f"codes {missing} (England, ITL1_TO_REGION) are not current areas")

        rows: list[tuple] = []
        for rel, national in ((REGIONAL, False), (NATIONAL, True)):
            if national and is_edition_4(ctx.raw_dir / rel):
                table = read_csv(ctx.raw_dir / rel, REQUIRED_V4, rep)
                rep.rows_read += len(table)
                rows.extend(england_rows_v4(table, rep))
                continue
            table = read_csv(ctx.raw_dir / rel, REQUIRED, rep)
            rep.rows_read += len(table)
            rows.extend(self._rows(table, national, rep))
        seen: set[tuple[str, str]] = set()
        for r in rows:
            if (r[0], r[2]) in seen:
                raise EtlInputError(f"two values for {r[1]} ({r[0]}) in {r[2]}", file=r[-1][0], row=r[-1][1])
            seen.add((r[0], r[2]))
        insert_rows(
            ctx.con,
            "participation",
            [r[:-1] for r in rows],
            ["area_code", "area_name", "period", "value_pct", "lci", "uci", "sample_size"],
        )
        rep.rows_loaded = len(rows)
        rep.facts.update(
            {
                "regions": len({r[0] for r in rows if r[0] != ENGLAND}),
                "regional_rows": sum(1 for r in rows if r[0] != ENGLAND),
                "england_rows": sum(1 for r in rows if r[0] == ENGLAND),
                "rows_with_ci": sum(1 for r in rows if r[4] is not None),
            }
        )

    @staticmethod
    def _rows(table: Table, national: bool, rep: LoadReport) -> list[tuple]:
        """(area_code, name as published, period, value, lci, uci, sample size, (file, line)) per total row."""
        out = []
        path = table.path
        for line, r in table:
            if r["Ind_code"].strip() != "DR41":
                raise EtlInputError(
                    f"expected indicator DR41, found {r['Ind_code']!r}", file=path, row=line, column="Ind_code"
                )
            if not _is_total(r):
                rep.note(
                    "breakdown row (age/sex/category) skipped: only all-adult totals are loaded", file=path, row=line
                )
                continue
            code = Participation._area_code(r, national, path, line, rep)
            loc = {"file": path.name, "row": line}
            value = _number(r["Value"], rep, column="Value", **loc)
            if value is None:
                rep.note("no published value: kept as missing", column="Value", code=code, **loc)
            elif not 0 <= value <= 100:
                raise EtlInputError(f"percentage out of range: {value}", file=path, row=line, column="Value")
            out.append(
                (
                    code,
                    r["Area_name"].strip(),
                    r["Time_period"].strip(),
                    value,
                    _number(r["LCI"], rep, column="LCI", **loc),
                    _number(r["UCI"], rep, column="UCI", **loc),
                    _number(r["Sample_size"], rep, column="Sample_size", **loc),
                    (path, line),
                )
            )
        return out

    @staticmethod
    def _area_code(r, national, path, line, rep) -> str:
        """England in the national file; in the regional file the region named (the code column is 'NA')."""
        published = r["Area_code"].strip()
        if national:
            if published != ENGLAND:
                raise EtlInputError(
                    f"expected England ({ENGLAND}) in the national file, found {published!r}",
                    file=path,
                    row=line,
                    column="Area_code",
                )
            return ENGLAND
        code = region_code(r["Area_name"], file=path, row=line)
        if is_gss(published) and published != code:
            raise EtlInputError(
                f"region {r['Area_name']!r} is {code} but the row says {published}",
                file=path,
                row=line,
                column="Area_code",
            )
        if published and published.upper() != "NA" and not is_gss(published):
            rep.warn(
                f"non-GSS area code {published!r} ignored; region matched by name",
                file=path.name,
                row=line,
                column="Area_code",
            )
        return code


def is_edition_4(path) -> bool:
    """Edition 4.0 files start with the lower-case ``measure_code`` column."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        return fh.readline().lstrip('"').lower().startswith("measure_code")


def england_rows_v4(table: Table, rep: LoadReport) -> list[tuple]:
    """England's trend rows of edition 4.0 (same tuples as :meth:`Participation._rows`)."""
    out = []
    path = table.path
    for line, r in table:
        if r["measure_code"].strip().upper() != "DR41":
            raise EtlInputError(
                f"expected measure dr41, found {r['measure_code']!r}", file=path, row=line, column="measure_code"
            )
        if r["area_code"].strip() != ENGLAND:
            raise EtlInputError(
                f"expected England ({ENGLAND}) in the national file, found {r['area_code']!r}",
                file=path,
                row=line,
                column="area_code",
            )
        if r["primary_split_type"].strip() != "time_period" or r["secondary_split_type"].strip():
            rep.note("breakdown row skipped: only all-adult totals are loaded", file=path, row=line)
            continue
        loc = {"file": path.name, "row": line}
        period = r["time_period"].strip()
        value = _number(r["value"], rep, column="value", **loc)
        if value is None:
            rep.note(
                f"no published value for {period} (no survey that year): kept as missing",
                column="value",
                code=ENGLAND,
                **loc,
            )
        elif not 0 <= value <= 100:
            raise EtlInputError(f"percentage out of range: {value}", file=path, row=line, column="value")
        out.append(
            (
                ENGLAND,
                r["area_name"].strip(),
                period,
                value,
                _number(r["lci"], rep, column="lci", **loc),
                _number(r["uci"], rep, column="uci", **loc),
                _number(r["sample_size"], rep, column="sample_size", **loc),
                (path, line),
            )
        )
    return out


SOURCES = [Participation()]
