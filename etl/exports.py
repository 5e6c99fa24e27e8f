"""Open exports of each build: the area-level tables the dashboard shows, as CSV and Parquet,
with a JSON catalogue (name, columns, units, rows, licence, build id).

They are written by the build into the build's own static folder, ``static/geo/<build_id>/
exports/``, before it is renamed into place: the files of a build appear with it, are served by
Streamlit's static serving at ``/app/static/geo/<build_id>/exports/``, and stay exactly as long
as that build's boundary folder (old builds' folders are pruned together). The files are read
straight from the new database with DuckDB's COPY, so they equal the database they name. The
tables of :data:`TABLES` are final once the indicators are derived and the load reports recorded,
so the build writes them (:func:`write_tables`) while it computes the default answers; the index,
read from those answers, and the catalogue follow when the database is finished
(:func:`write_exports`).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

EXPORT_DIR = "exports"
CATALOGUE = "catalogue.json"

#: name → (title, SELECT, {column: unit}). Every SELECT has a total order (the files are reproducible
#: and comparable row by row with the database).
TABLES: dict[str, tuple[str, str, dict]] = {
    "areas": (
        "Areas: every ward, district, county, region and England with its parents",
        "SELECT code, name, level, type, tier, parent_code, district_code, county_code, region_code, "
        "ruc_class, vintage FROM areas ORDER BY level, code",
        {},
    ),
    "indicators": (
        "Indicator definitions: unit, direction (polarity), domain and sources",
        "SELECT indicator_id, name, domain, unit, polarity, scored, description, source_ids, levels, "
        "is_local FROM indicators ORDER BY indicator_id",
        {},
    ),
    "indicator_values": (
        "Every indicator value of every area and year (missing values are absent rows or empty)",
        "SELECT v.area_code, a.name AS area_name, a.level, v.indicator_id, i.unit, v.period, "
        "v.value, v.numerator, v.denominator, v.is_local, v.note "
        "FROM indicator_values v JOIN areas a ON a.code = v.area_code "
        "JOIN indicators i USING (indicator_id) ORDER BY v.indicator_id, v.period, v.area_code",
        {
            "value": "the row's unit column",
            "numerator": "source figure behind value",
            "denominator": "source figure behind value",
        },
    ),
    "grants_by_area": (
        "360Giving grants summed by funder, award year, district and ward (as the Funders page shows)",
        "SELECT funder, award_year, district_code, ward_code, ward_match, amount_gbp, grants, "
        "source_district_code, source_ward_code FROM grants_agg ORDER BY ALL",
        {"amount_gbp": "£ (pounds sterling, as awarded)", "grants": "number of grants"},
    ),
    "sources": (
        "Sources with publisher, licence and attribution",
        "SELECT DISTINCT source_id, title, publisher, licence, attribution, vintage, url FROM sources ORDER BY ALL",
        {},
    ),
    "load_issues": (
        "What the build could not match or read: unmatched codes, suppressed cells, warnings",
        "SELECT * FROM load_issues ORDER BY ALL",
        {},
    ),
}


def _licence(con) -> str:
    """The licences of this build's sources, as one statement."""
    rows = con.execute("SELECT DISTINCT licence FROM sources WHERE licence IS NOT NULL ORDER BY 1").fetchall()
    return "; ".join(r[0] for r in rows) + ". Attribution as listed in the 'sources' table."


def _write_table(con, folder: Path, name: str, select: str) -> int:
    """One table as CSV (UTF-8, header) and Parquet, straight from the database; returns its rows
    (as COPY counts them: the two files must agree)."""
    counts = []
    for ext, options in (("csv", "FORMAT csv, HEADER"), ("parquet", "FORMAT parquet")):
        path = (folder / f"{name}.{ext}").as_posix().replace("'", "''")
        counts.append(con.execute(f"COPY ({select}) TO '{path}' ({options})").fetchone()[0])
    if counts[0] != counts[1]:
        raise RuntimeError(f"export {name}: {counts[0]} rows written as CSV but {counts[1]} as Parquet")
    return counts[0]


def _describe(con, name: str, title: str, select: str, units: dict, build_id: str, licence: str, rows: int) -> dict:
    cols = con.execute(f"DESCRIBE ({select})").fetchall()
    return {
        "name": name,
        "title": title,
        "rows": rows,
        "build_id": build_id,
        "licence": licence,
        "files": {"csv": f"{name}.csv", "parquet": f"{name}.parquet"},
        "columns": [{"name": c[0], "type": c[1], "unit": units.get(c[0])} for c in cols],
    }


#: The index as the dashboard shows it (default weights), computed from the finished database.
INDEX_TABLE = (
    "index",
    "The Provider → Enabler index with the default weights: every council and region, "
    "every financial year, both lenses (regions: place only)",
    "SELECT * FROM index_export ORDER BY level, period, lens, area_code",
    {
        "index": "0–100 within the comparison group (100 = most enabling)",
        "rank": "1 = most enabling",
        "score_funding": "0–100",
        "score_projects": "0–100",
        "score_participation": "0–100",
        "weights": "domain weights used",
    },
)


def index_frame(db_path: Path) -> pd.DataFrame:
    """Every index table the dashboard shows with the default weights, one frame."""
    from powerbalance import queries, urlstate
    from powerbalance.index import DEFAULT_WEIGHTS

    frames = []
    for period in queries.index_periods(db_path):
        for level in queries.INDEX_LEVELS:
            for lens in ("place", "council") if level != "region" else ("place",):
                t = queries.index_table(level, period, DEFAULT_WEIGHTS, lens, None, db_path)
                frames.append(
                    t.assign(level=level, period=period, lens=lens, weights=urlstate.weights_to_param(DEFAULT_WEIGHTS))
                )
    if not frames:
        return pd.DataFrame(columns=["level", "period", "lens", "area_code"])
    df = pd.concat(frames, ignore_index=True)
    first = ["level", "period", "lens", "area_code"]
    return df[first + [c for c in df.columns if c not in first]]


def write_tables(db_path: Path, geo_dir: Path) -> dict[str, int]:
    """Write every table of :data:`TABLES` into ``geo_dir/exports``, reading the checkpointed and
    closed database ``db_path``; returns each table's rows."""
    folder = Path(geo_dir) / EXPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    # one DuckDB thread: the build computes the default answers on the other core meanwhile, and a
    # second COPY thread only takes turns with it (the files are the same byte for byte)
    con = duckdb.connect(str(db_path), read_only=True, config={"threads": 1})
    try:
        return {name: _write_table(con, folder, name, select) for name, (_, select, _) in TABLES.items()}
    finally:
        con.close()


def write_exports(db_path: Path, geo_dir: Path, build_id: str, written: dict[str, int] | None = None) -> Path:
    """Write every table of :data:`TABLES` (but those ``written`` already by :func:`write_tables`:
    name → rows), the index, and ``catalogue.json`` into ``geo_dir/exports``, reading the finished
    (checkpointed, closed) database ``db_path``."""
    folder = Path(geo_dir) / EXPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    try:
        index = index_frame(db_path)
    finally:  # the temporary file is renamed into place next: keep no handle on it
        from powerbalance import db as _db

        _db.forget(db_path)
    written = written or {}
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.register("index_export", index)
        licence = _licence(con)
        entries = []
        for name, (title, select, units) in [*TABLES.items(), (INDEX_TABLE[0], INDEX_TABLE[1:])]:
            rows = written[name] if name in written else _write_table(con, folder, name, select)
            entries.append(_describe(con, name, title, select, units, build_id, licence, rows))
    finally:
        con.close()
    catalogue = {"build_id": build_id, "licence": licence, "tables": entries}
    (folder / CATALOGUE).write_text(json.dumps(catalogue, indent=2, default=str), encoding="utf-8")
    return folder
