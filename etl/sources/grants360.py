"""360Giving grants: the published aggregate (2013–2018) and record-level Data Standard files.

**Aggregate** (``grants_360_aggregate``): real 360Giving grants summed by funder × award year ×
recipient district × recipient ward, with codes *of their year*. Decisions:

- ``Identifier`` is the number of grants in the cell; the first, unnamed column is a row index
  and is dropped. Totals are kept exactly (84,705 grants, £8.45 bn in the 2013–2018 file),
  including rows that cannot be mapped, so nothing disappears from a total.
- Ward first: a published ward code that is still a December 2023 ward (same GSS code, hence
  same boundary) gives ``ward_code`` *and* ``district_code`` (the ward's current district) —
  the finest current fact available, and the only way to place a ward of a district that was
  later split. Otherwise ``ward_code`` is NULL, ``ward_match = 'unmatched'`` and the district
  comes from the published district code through ``area_code_map``. A former district that was
  split between several current districts cannot be placed without its ward: ``district_code``
  NULL and reported (no split happens to occur among 2013–2018 district codes).
- The file (despite its name) also holds Welsh and Scottish councils: kept with no current area
  (this project covers England) and reported, so England-only shares can be stated.
- Unmatched codes are listed once per distinct code, with the first row, rows, grants and £.

**Records** (``grants_360_records``): every ``funding/360giving_*.{json,csv,xlsx}`` that is not
the aggregate, plus anything in a ``360giving/`` folder of the raw directory. Reading, checking
and placement are ``powerbalance.grants360`` (shared with the dashboard's upload); here each
problem goes to ``load_issues`` with sheet/row/column, good rows load, and a file that is not
360Giving at all stops the build (:class:`EtlInputError`).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from powerbalance.grants360 import (
    GRANT_COLUMNS,
    AreaLookup,
    GrantsFile,
    GrantsFileError,
    place_grants,
    placement_summary,
    read_360giving,
)
from powerbalance.places import directory_rows, postcode_to_area

from ..core import BuildContext, EtlInputError, Source, decode_text, insert_rows

AGG_GLOB = "funding/360giving_grants_eng_LAD_ward_donor_year_*.csv"
AGG_COLUMNS = [
    "Funding Org:Name",
    "Award Year",
    "Recipient District Geographic Code",
    "Recipient Ward Geographic Code",
    "Recipient Region",
    "Amount Awarded",
    "Identifier",
]
#: The ETL takes larger files than a dashboard upload; beyond this a file is refused as too big.
RECORDS_MAX_ROWS = 500_000

ATTRIBUTION = "360Giving data via GrantNav; grant data © each funder, published openly (CC-BY-4.0 / OGL / CC0)."


class Grants360Aggregate(Source):
    id = "grants_360_aggregate"
    title = "360Giving grants by funder, award year, recipient district and ward (2013–2018)"
    publisher = "360Giving (funders' open data, aggregated by yanoak/360giving-deprivation)"
    licence = "CC-BY-4.0 / OGL v3.0 / CC0, as published by each funder"
    attribution = ATTRIBUTION
    vintage = "awards 2013–2018; district and ward codes of their year"
    url = "https://grantnav.threesixtygiving.org/ ; https://github.com/yanoak/360giving-deprivation"
    files = (AGG_GLOB,)
    depends = ("geography",)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        wards = dict(ctx.con.execute("SELECT code, district_code FROM areas WHERE level = 'ward'").fetchall())
        successors = _district_successors(ctx.con)
        frames = []
        for path in self.paths(ctx):
            ctx.register_file(self, path)
            frame = _read_aggregate(path, rep)
            frames.append(_map_aggregate(frame, wards, successors, rep, path))
        out = pd.concat(frames, ignore_index=True)
        cols = [
            "funder",
            "award_year",
            "source_district_code",
            "source_ward_code",
            "region_name",
            "district_code",
            "ward_code",
            "ward_match",
            "amount_gbp",
            "grants",
            "row",
        ]
        rep.rows_loaded = insert_rows(ctx.con, "grants_agg", out[cols])
        rep.facts.update(_aggregate_facts(out))


def _district_successors(con) -> dict[str, list[str]]:
    """District code of any vintage → current district(s), from geography's area_code_map."""
    out: dict[str, list[str]] = {}
    for old, new in con.execute("""SELECT m.old_code, m.new_code FROM area_code_map m
                                   JOIN areas a ON a.code = m.new_code AND a.level = 'district'
                                   WHERE m.level = 'district' ORDER BY 1, 2""").fetchall():
        out.setdefault(old, []).append(new)
    return out


def _read_aggregate(path: Path, rep) -> pd.DataFrame:
    """The aggregate CSV, strictly: required columns, numbers that parse, counts that are whole.

    Read with pandas' C parser (the strict row-by-row reader takes seconds on 45,901 rows);
    ``row`` is still the physical line, counting any line breaks inside quoted fields."""
    text = decode_text(path, rep)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError:  # nothing but (perhaps) a byte-order mark or blank lines
        raise EtlInputError("file is empty: no header row", file=path, row=1) from None
    except pd.errors.ParserError as exc:
        raise EtlInputError(f"not readable as CSV: {exc}", file=path) from None
    missing = [c for c in AGG_COLUMNS if c not in df.columns]
    if missing:
        raise EtlInputError(
            f"missing required column(s) {missing}; found {list(df.columns)[:10]}", file=path, row=1, column=missing[0]
        )
    if df.columns[0] != "Unnamed: 0":
        rep.note(
            f"first column {df.columns[0]!r} is not the unnamed row index the file is known to have; ignored",
            file=path,
            row=1,
            column=df.columns[0],
        )
    df = df[AGG_COLUMNS].fillna("")
    df["row"] = 2 + np.arange(len(df))
    if text.count("\n") > len(df) + 1:  # line breaks inside quoted fields shift the physical lines
        breaks = df.apply(lambda s: s.str.count("\n")).sum(axis=1)
        df["row"] += breaks.cumsum().shift(fill_value=0).to_numpy()
    df = df[(df[AGG_COLUMNS] != "").any(axis=1)].reset_index(drop=True)
    if df.empty:
        raise EtlInputError("file has a header but no data rows", file=path, row=2)
    rep.rows_read += len(df)
    for col in AGG_COLUMNS:
        df[col] = df[col].str.strip()
    amount = pd.to_numeric(df["Amount Awarded"], errors="coerce")
    grants = pd.to_numeric(df["Identifier"], errors="coerce")
    year = pd.to_numeric(df["Award Year"], errors="coerce")
    for col, _values, ok in (
        ("Amount Awarded", amount, amount.notna()),
        ("Identifier", grants, grants.notna() & (grants >= 1) & (grants % 1 == 0)),
        ("Award Year", year, year.between(1990, 2100) & (year % 1 == 0)),
    ):
        if not ok.all():
            i = int((~ok).to_numpy().nonzero()[0][0])
            what = {
                "Identifier": "a whole number of grants (1 or more)",
                "Award Year": "a year",
                "Amount Awarded": "a number",
            }[col]
            raise EtlInputError(
                f"expected {what}, found {df[col].iloc[i]!r}", file=path, row=int(df["row"].iloc[i]), column=col
            )
    df["amount_gbp"], df["grants"], df["award_year"] = amount, grants.astype("int64"), year.astype("int64")
    for i in (amount < 0).to_numpy().nonzero()[0]:
        rep.negative(file=path, row=int(df["row"].iloc[i]), column="Amount Awarded")
    zero = amount == 0
    if zero.any():
        rep.note(
            f"{int(zero.sum())} rows ({int(grants[zero].sum())} grants) have Amount Awarded £0; kept as "
            f"published (first on row {int(df['row'][zero].iloc[0])})",
            file=path,
            column="Amount Awarded",
        )
    return df


def _map_aggregate(
    df: pd.DataFrame, wards: dict[str, str], successors: dict[str, list[str]], rep, path: Path
) -> pd.DataFrame:
    """Ward first, then the district code of its year; every code left unmatched is reported."""
    ward_src, dist_src = df["Recipient Ward Geographic Code"], df["Recipient District Geographic Code"]
    ward_district = ward_src.map(wards)
    single = {k: v[0] for k, v in successors.items() if len(v) == 1}
    code_district = dist_src.map(single)
    both = ward_district.notna() & code_district.notna() & (ward_district != code_district)
    if both.any():
        first = df[both].iloc[0]
        rep.warn(
            f"{int(both.sum())} rows have a ward whose current district differs from the one their district "
            f"code maps to; the ward's district is used (first: ward {first['Recipient Ward Geographic Code']}, "
            f"district {first['Recipient District Geographic Code']})",
            file=path,
            row=int(first["row"]),
            column="Recipient Ward Geographic Code",
        )
    out = pd.DataFrame(
        {
            "funder": df["Funding Org:Name"],
            "award_year": df["award_year"],
            "source_district_code": dist_src,
            "source_ward_code": ward_src,
            "region_name": df["Recipient Region"].replace("", None),
            "district_code": ward_district.fillna(code_district),
            "ward_code": ward_src.where(ward_district.notna()),
            "ward_match": ward_district.notna().map({True: "exact", False: "unmatched"}),
            "amount_gbp": df["amount_gbp"],
            "grants": df["grants"],
            "row": df["row"],
        }
    )
    out["england"] = dist_src.str.startswith("E")
    _report_unmatched(out, successors, rep, path)
    return out


def _report_unmatched(out: pd.DataFrame, successors: dict[str, list[str]], rep, path: Path) -> None:
    """One line per distinct code: why, where first, and how much it carries."""

    def groups(mask, key):
        g = out[mask].groupby(key, sort=True)
        return g.agg(
            first=("row", "min"), rows=("row", "size"), grants=("grants", "sum"), amount=("amount_gbp", "sum")
        ).itertuples()

    def size(r):
        return f"{r.rows} rows, {r.grants} grants, £{r.amount:,.0f}; first on row {r.first}"

    for r in groups(~out["england"], "source_district_code"):
        rep.unmatched(
            r.Index,
            f"outside England (Welsh or Scottish council): {size(r)}; kept with no current area",
            file=path,
            row=int(r.first),
            column="Recipient District Geographic Code",
        )
    for r in groups(out["england"] & out["district_code"].isna(), "source_district_code"):
        succ = successors.get(r.Index, [])
        why = f"split between {', '.join(succ)}" if succ else "not a current or former district in area_code_map"
        rep.unmatched(
            r.Index,
            f"district code {why} and the ward is not current: {size(r)}; district left empty",
            file=path,
            row=int(r.first),
            column="Recipient District Geographic Code",
        )
    for r in groups(out["england"] & (out["ward_match"] == "unmatched"), "source_ward_code"):
        rep.unmatched(
            r.Index,
            f"ward code is not a December 2023 ward (redrawn or recoded since): {size(r)}; "
            "placed at district level only",
            file=path,
            row=int(r.first),
            column="Recipient Ward Geographic Code",
        )


def _aggregate_facts(out: pd.DataFrame) -> dict[str, float]:
    """Totals and the unmatched shares (by grants and by £), for all rows and for England only."""

    def share(mask, frame):
        return (
            round(float(frame.loc[mask, "grants"].sum() / frame["grants"].sum()), 4),
            round(float(frame.loc[mask, "amount_gbp"].sum() / frame["amount_gbp"].sum()), 4),
        )

    eng = out[out["england"]]
    facts = {
        "grants_total": int(out["grants"].sum()),
        "amount_total_gbp": round(float(out["amount_gbp"].sum()), 2),
        "rows": len(out),
        "grants_outside_england": int(out.loc[~out["england"], "grants"].sum()),
        "amount_outside_england_gbp": round(float(out.loc[~out["england"], "amount_gbp"].sum()), 2),
        "distinct_ward_codes_unmatched_england": int(
            eng.loc[eng["ward_match"] == "unmatched", "source_ward_code"].nunique()
        ),
    }
    for name, frame in (("", out), ("_england", eng)):
        facts[f"ward_unmatched_share_grants{name}"], facts[f"ward_unmatched_share_amount{name}"] = share(
            frame["ward_match"] == "unmatched", frame
        )
        facts[f"district_unmatched_share_grants{name}"], facts[f"district_unmatched_share_amount{name}"] = share(
            frame["district_code"].isna(), frame
        )
    return facts


class Grants360Records(Source):
    id = "grants_360_records"
    title = "360Giving Data Standard grant records"
    publisher = "360Giving publishers (each funder)"
    licence = "CC-BY-4.0 / OGL v3.0 / CC0, as published by each funder"
    attribution = ATTRIBUTION
    vintage = "as published in each file (COVID-19 grants sample: March–May 2020)"
    url = "https://www.threesixtygiving.org/data/data-standard/ ; https://grantnav.threesixtygiving.org/"
    files = tuple(
        f"{folder}{ext}" for folder in ("funding/360giving_*", "360giving/*") for ext in (".json", ".csv", ".xlsx")
    )
    depends = ("geography", "boundaries")  # postcodes' wards come from the ward boundaries
    optional = True

    def prepare(self, ctx: BuildContext) -> tuple[list[tuple[Path, GrantsFile]], pd.DataFrame]:
        """Every record-level file read, and all their recipients' postcodes looked up in the ONS
        Postcode Directory at once (most of this source's time; needs no database, so the build
        does it early)."""
        aggregates = set(ctx.raw_dir.glob(AGG_GLOB))
        files = [(p, self._read(ctx, p)) for p in self.paths(ctx) if p not in aggregates]
        postcodes = [pc for _, gf in files for pc in gf.grants["recipient_postcode"].dropna()]
        return files, directory_rows(postcodes)

    def load(self, ctx: BuildContext) -> None:
        rep = ctx.report(self.id)
        files, directory = ctx.prepared(self)
        if not files:
            rep.note("no record-level 360Giving files found (funding/360giving_*, 360giving/)")
            return
        lookup = AreaLookup.from_db(
            ctx.con, postcode_fn=lambda pcs: postcode_to_area(pcs, con=ctx.con, directory=directory)
        )
        totals: dict[str, float] = {}
        for path, gf in files:
            ctx.register_file(self, path)
            placed = self._load_file(ctx, path, gf, lookup, rep)
            for key, value in _record_facts(placed).items():
                totals[key] = totals.get(key, 0) + value
        rep.facts.update(totals)
        rep.facts["files"] = len(files)

    @staticmethod
    def _read(ctx: BuildContext, path: Path) -> GrantsFile:
        try:
            return read_360giving(path, filename=str(path.relative_to(ctx.raw_dir)), max_rows=RECORDS_MAX_ROWS)
        except GrantsFileError as exc:
            raise EtlInputError(exc.message, file=path, sheet=exc.sheet, row=exc.row, column=exc.column) from None

    def _load_file(self, ctx: BuildContext, path: Path, gf: GrantsFile, lookup: AreaLookup, rep) -> pd.DataFrame:
        rep.rows_read += gf.rows_read
        for p in gf.problems:
            where = f" [{p.cell}]" if p.cell else ""
            grant = f" (grant {p.grant_id})" if p.grant_id else ""
            verdict = "row not loaded: " if p.severity == "error" else ""
            rep.warn(
                f"{verdict}{p.check}: {p.message}{grant}{where}", file=path, sheet=p.sheet, row=p.row, column=p.column
            )
        placed = place_grants(gf.grants, lookup)
        rep.rows_loaded += insert_rows(ctx.con, "grants", placed[GRANT_COLUMNS])
        for _, g in placed[placed["placed_by"].isna()].iterrows():
            codes, postcode = g["beneficiary_codes"], g["recipient_postcode"]
            code = codes.split(";")[0] if isinstance(codes, str) else postcode if isinstance(postcode, str) else None
            rep.unmatched(
                code,
                f"grant {g['grant_id']} not placed: {g['place_note']}",
                file=path,
                sheet=g["sheet"],
                row=int(g["row"]),
            )
        summary = placement_summary(placed)
        rep.note(
            f"{len(placed)} grants loaded ({len(gf.errors)} rows not loaded); placed by: "
            + ", ".join(f"{r.rule} {r.grants}" for r in summary.itertuples()),
            file=path,
        )
        return placed


def _record_facts(placed: pd.DataFrame) -> dict[str, float]:
    """Counts and £ per placement rule; placed + unplaced always equals the grants loaded."""
    facts: dict[str, float] = {
        "grants": len(placed),
        "amount_gbp": float(placed["amount_gbp"].sum()),
        "grants_without_gbp_amount": int(placed["amount_gbp"].isna().sum()),
    }
    for r in placement_summary(placed).itertuples():
        key = r.rule.replace(" ", "_")
        facts[f"grants_{key}"] = int(r.grants)
        facts[f"amount_gbp_{key}"] = float(0 if pd.isna(r.amount_gbp) else r.amount_gbp)
    facts["grants_unplaced"] = int(placed["placed_by"].isna().sum())
    facts["grants_placed_district_only"] = int((placed["placed_by"].notna() & placed["ward_code"].isna()).sum())
    return facts


SOURCES = [Grants360Aggregate(), Grants360Records()]
