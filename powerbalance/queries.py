"""One function per question the dashboard asks of the database.

Pages never write SQL and never do arithmetic on the data: they call these functions (through
the cached wrappers in :mod:`powerbalance.ui`). Every user-supplied value travels as a query
parameter through :mod:`powerbalance.db`; every index number comes from
:mod:`powerbalance.index`, which owns the maths. Nothing here imports Streamlit, so the
functions are tested directly (tests/test_queries.py) and reused by the bench.

Missing is missing: functions return NaN/None for absent values and say how many areas have a
value ("based on N of M"), they never fill zeros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import benchmarks as _benchmarks
from . import config
from . import db as _db
from . import index as _index
from . import lenses as _lenses
from . import quadrants as _quadrants
from . import registry as _registry
from . import values as _values
from . import years as _years
from .codes import ENGLAND, is_gss
from .labels import BEFORE_IT_EXISTED, DOMAIN_LABELS, GROUP_LABELS, TIER_LABELS, TYPE_LABELS, and_list

LEVELS = ("ward", "district", "county", "region")
INDEX_LEVELS = tuple(_index.LEVELS)
DOMAINS = tuple(_index.DOMAINS)


# =============================================================================================
# Build and boundaries
# =============================================================================================


@_db.per_build(maxsize=4)
def build_info(db=None) -> dict:
    """The one build_info row (build id, time, duration, code version, boundary URL path)."""
    df = _db.query("SELECT build_id, built_at, raw_dir, code_version, seconds, geo_path FROM build_info", db=db)
    if df.empty:
        raise _db.DatabaseMissing("the database has no build_info row; rebuild it")
    row = df.iloc[0].to_dict()
    row["built_at"] = str(row["built_at"])[:19]
    return row


def geo_location(info: dict, level: str, static_root: str | Path, district: str | None = None) -> tuple[str, Path]:
    """URL (for Plotly) and file path of a level's boundary file for a build; with ``district``,
    of that district's own ward file (``ward/<code>.geojson``, written by the build beside the
    whole level's file). ``static_root`` is the folder Streamlit serves at /app/static
    (``static/`` beside the main script). A database built with ``--static`` elsewhere points at
    files this server does not serve; the caller checks the path and says so instead of drawing
    an empty map."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    if district is not None and (level != "ward" or not is_gss(district)):
        raise ValueError(f"no {level} file of district {district!r}")
    name = f"ward/{district}" if district else level
    url = f"{info['geo_path'].rstrip('/')}/{name}.geojson"
    return url, Path(static_root) / url.removeprefix("/app/static/")


def served_geo_location(
    info: dict, level: str, static_root: str | Path, district: str | None = None
) -> tuple[str, Path]:
    """:func:`geo_location` of a district's own ward file when the build has written it, else of
    the whole level's file (a build older than the per-district files)."""
    if district is not None:
        url, path = geo_location(info, level, static_root, district)
        if path.is_file():
            return url, path
    return geo_location(info, level, static_root)


def area_bounds(codes: list[str] | tuple[str, ...], db=None) -> tuple[float, float, float, float] | None:
    """Lon/lat box (minx, miny, maxx, maxy) around the boundaries of ``codes``; None if none has one."""
    row_of, boxes = _boundary_boxes(db).value
    at = [row_of[c] for c in dict.fromkeys(codes) if c in row_of]
    if not at:
        return None
    b = boxes[at]
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


@_db.per_build(maxsize=2)
def _boundary_boxes(db=None) -> _db.AsIs:
    """Every boundary's row (code → row) and lon/lat box (minx, miny, maxx, maxy), read once per
    build (7,000 shapes, 3 MB, in a few hundredths of a second): a map's view is then a lookup,
    not a parse of each of its wards' shapes."""
    import shapely

    df = _db.query("SELECT code, geom_wkb FROM boundaries ORDER BY code", db=db)
    boxes = shapely.bounds(shapely.from_wkb([bytes(b) for b in df["geom_wkb"]])) if len(df) else np.empty((0, 4))
    return _db.AsIs(({code: i for i, code in enumerate(df["code"])}, np.asarray(boxes, dtype=float)))


# =============================================================================================
# Areas and finding places
# =============================================================================================


@_db.per_build(maxsize=4)
def _area_rows(db=None) -> pd.DataFrame:
    """Every current area with the names of its district, county and region, indexed by code
    (read once per build: a council's first look is then a lookup)."""
    return _db.query(
        """
        SELECT a.code, a.name, a.level, a.type, a.tier, a.parent_code, a.district_code, a.county_code,
               a.region_code, d.name AS district_name, c.name AS county_name, r.name AS region_name,
               a.ruc_class, a.vintage
        FROM areas a
        LEFT JOIN areas d ON d.code = a.district_code
        LEFT JOIN areas c ON c.code = a.county_code
        LEFT JOIN areas r ON r.code = a.region_code""",
        db=db,
    ).set_index("code", drop=False)


@_db.per_build(maxsize=4096)
def area(code: str, db=None) -> dict | None:
    """One current area with the names of its district, county and region (None if unknown)."""
    rows = _area_rows(db)
    if not isinstance(code, str) or code not in rows.index:
        return None
    return {k: (None if (not isinstance(v, str) and pd.isna(v)) else v) for k, v in rows.loc[code].to_dict().items()}


def area_label(info: dict) -> str:
    """'Hebden Royd (Ward, Calderdale)' — names alone are not unique (many wards share one)."""
    kind = TYPE_LABELS.get(info["type"], info["type"])
    if info.get("level") == "ward" and info.get("district_name"):
        return f"{info['name']} ({kind}, {info['district_name']})"
    return f"{info['name']} ({kind})"


def areas(level: str, db=None) -> pd.DataFrame:
    """Every current area of a level: code, name, type, tier, district/county/region names."""
    if level not in LEVELS + ("combined_authority",):
        raise ValueError(f"unknown level {level!r}")
    return _db.query(
        """
        SELECT a.code, a.name, a.type, a.tier, a.district_code, d.name AS district_name, a.county_code,
               c.name AS county_name, a.region_code, r.name AS region_name
        FROM areas a
        LEFT JOIN areas d ON d.code = a.district_code AND a.level = 'ward'
        LEFT JOIN areas c ON c.code = a.county_code
        LEFT JOIN areas r ON r.code = a.region_code
        WHERE a.level = ? ORDER BY a.name, a.code""",
        [level],
        db=db,
    )


def councils(db=None) -> pd.DataFrame:
    """Districts (all types) and counties: the councils a user can pick, with a display label."""
    df = _db.query(
        """
        SELECT code, name, level, type, tier, county_code, region_code FROM areas
        WHERE level IN ('district', 'county') ORDER BY name, code""",
        db=db,
    )
    df["label"] = df["name"] + " (" + df["type"].map(TYPE_LABELS).fillna(df["type"]) + ")"
    return df


def former_area(code: str, db=None) -> dict | None:
    """For a former council's or county's code (``area_code_map``): the current council it opens as
    (the first by code when it was split) and a notice saying why — 'Aylesbury Vale (E07000004) is
    now part of Buckinghamshire (E06000060), which is shown instead.' None for any other code."""
    from . import places

    former = places.former_areas(code, db_path=db)
    if former.empty:
        return None
    return {"code": former["code"].iloc[0], "notice": places.successor_notice(former)}


def search_places(query: str, limit: int = 10, db=None):
    """The My area search box's answer (:class:`powerbalance.places.PlaceSearch`): the places found
    (at most ``limit``, but every place whose whole name is the text), how many match in all, and
    what to tell the user when the list alone would mislead (cut, a postcode outside England or not
    in the directory, half a postcode, close names for a name matching nothing)."""
    from . import places

    return places.search(query, db_path=db, limit=limit)


def find_places(query: str, limit: int = 10, db=None) -> pd.DataFrame:
    """Places matching a name, ward name or postcode (the boundaries helper's finder), with a
    label that disambiguates same-named wards by their district."""
    from . import places

    query = (query or "").strip()
    if not query:
        return pd.DataFrame(columns=["code", "name", "level", "label"])
    found = places.find_places(query, db_path=db, limit=limit)
    df = pd.DataFrame(found) if not isinstance(found, pd.DataFrame) else found.copy()
    if df.empty:
        return pd.DataFrame(columns=["code", "name", "level", "label"])
    if "label" not in df.columns:
        df["label"] = df["name"]
    return df.reset_index(drop=True)


# =============================================================================================
# Indicators
# =============================================================================================


def indicator_catalogue(db=None) -> pd.DataFrame:
    """Every indicator with its definition, unit, polarity, domain, sources and levels, and ``scored_in``:
    the index lenses that score it ("place, council" for parish_precept_share, which the community lens
    leaves out; empty when no lens does), so the index can be recomputed from the downloads."""
    df = _db.query(
        """
        SELECT indicator_id, name, domain, unit, polarity, scored, description, source_ids, levels, is_local
        FROM indicators ORDER BY CASE domain WHEN 'headline' THEN 0 WHEN 'funding' THEN 1 WHEN 'projects' THEN 2
                 WHEN 'participation' THEN 3 ELSE 4 END, indicator_id""",
        db=db,
    )
    lenses = {i.id: ", ".join(_index.scoring_lenses(i)) for i in _registry.definitions(db)}
    df.insert(df.columns.get_loc("scored") + 1, "scored_in", df["indicator_id"].map(lenses).fillna(""))
    return df


def indicator_periods(level: str, db=None) -> pd.DataFrame:
    """For a level: which indicator has values in which period, and for how many areas."""
    return _db.query(
        """
        SELECT v.indicator_id, i.name, i.domain, i.unit, v.period, count(v.value) AS n_with_value,
               (SELECT count(*) FROM areas WHERE level = ?) AS n_areas
        FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = ?
        JOIN indicators i USING (indicator_id)
        GROUP BY ALL HAVING count(v.value) > 0
        ORDER BY v.indicator_id, v.period""",
        [level, level],
        db=db,
    )


#: Said under every county map: the blank areas are not missing data.
COUNTY_NOTE = (
    "Only the 21 two-tier areas have a county council; the rest of England (unitary, metropolitan and "
    "London councils) is left blank at this level — see districts & unitaries."
)

INDEX_ID = "index"
INDEX_DESCRIPTION = (
    "The Provider → Enabler index, 0 (most providing) to 100 (most enabling), computed within "
    "each comparison group with the chosen domain weights. See Method & weights."
)
_DOMAIN_ORDER = {"headline": 0, "funding": 1, "projects": 2, "participation": 3, "context": 4}


def map_indicator_choices(level: str, db=None) -> pd.DataFrame:
    """What the Map page can draw at a level: the index (for levels it is computed at) and
    every indicator with values there, each with its periods (oldest first), a label, the year it
    opens on and its partial years (``thin``: year → note, powerbalance.years), shown but never
    opened on."""
    avail = indicator_periods(level, db)
    rows = []
    if level in INDEX_LEVELS:
        per = index_periods(db)
        if per:
            rows.append(
                {
                    "indicator_id": INDEX_ID,
                    "label": "Provider → Enabler index (0–100)",
                    "domain": "index",
                    "periods": per,
                    "default_period": per[-1],
                    "thin": {},
                    "_o": -1,
                }
            )
    for ind, g in avail.groupby("indicator_id", sort=False):
        first = g.iloc[0]
        # default year: the latest one covering at least half as many areas as the best-covered
        # year — 2023-24 spending (283 of 296 districts) opens, a sparsely covered latest year would
        # not — and not a partial year of its source (2018 grants)
        thin = _years.thin_periods(ind, db)
        covered = g.loc[g["n_with_value"] * 2 >= g["n_with_value"].max(), "period"]
        rows.append(
            {
                "indicator_id": ind,
                "label": f"{first['name']} ({first['unit']})",
                "domain": first["domain"],
                "periods": sorted(g["period"].tolist()),
                "default_period": _years.latest_full(covered, thin),
                "thin": {p: note for p, note in thin.items() if p in set(g["period"])},
                "_o": _DOMAIN_ORDER.get(first["domain"], 5),
            }
        )
    if not rows:
        return pd.DataFrame(columns=["indicator_id", "label", "domain", "periods", "default_period", "thin"])
    return pd.DataFrame(rows).sort_values(["_o", "label"]).drop(columns="_o").reset_index(drop=True)


def map_values(level: str, indicator_id: str, period: str, db=None) -> pd.DataFrame:
    """Every area of a level with its value of one indicator in one period (NaN = no data), its
    parent district (wards) and the value's note. All areas are returned so the map can draw
    the missing ones as "No data" and the caption can say "based on N of M"."""
    return _db.query(
        """
        SELECT a.code, a.name, d.name AS district, v.value, v.is_local, v.note
        FROM areas a
        LEFT JOIN areas d ON d.code = a.district_code AND a.level = 'ward'
        LEFT JOIN indicator_values v ON v.area_code = a.code AND v.indicator_id = ? AND v.period = ?
        WHERE a.level = ?
        ORDER BY a.name, a.code""",
        [indicator_id, period, level],
        db=db,
    )


def indicator_info(indicator_id: str, db=None) -> dict | None:
    df = _db.query("SELECT * FROM indicators WHERE indicator_id = ?", [indicator_id], db=db)
    return None if df.empty else df.iloc[0].to_dict()


@_db.per_build(maxsize=2048)
def indicator_trend(codes: list[str] | tuple[str, ...], indicator_id: str, db=None) -> pd.DataFrame:
    """Values of one indicator for several areas over every period that has any value."""
    rows = _values.of_areas(codes, db, indicator_id)
    names = _area_names(db).value
    picked = [(p, names[c], c, v) for c, p, v in zip(rows["area_code"], rows["period"], rows["value"]) if c in names]
    picked.sort(key=lambda r: (r[0], r[1]))  # by period, then name; stable (an area's rows keep their order)
    return pd.DataFrame(
        {
            "code": pd.Series([r[2] for r in picked], dtype="str"),
            "name": pd.Series([r[1] for r in picked], dtype="str"),
            "period": pd.Series([r[0] for r in picked], dtype="str"),
            "value": np.array([r[3] for r in picked], dtype=float),
        }
    )


def latest_indicators(code: str, period: str | None = None, db=None) -> pd.DataFrame:
    """One value of every indicator for one area — for ``period`` where that year has a value,
    otherwise its latest year with one, a partial year (powerbalance.years) only when it has no other
    — with coverage ("based on N of M"), a formatted value
    and a mark on locally supplied data (from index.indicator_table). Local figures of other years
    follow their indicator's row, marked as not in this year's index (issue 17)."""
    df = _index.indicator_table(code, db=db)
    if df.empty:
        return df.assign(value_text=pd.Series(dtype=str))
    thin = _thin_of(df["indicator_id"], db)
    order, others = _shown_rows(df, period, thin)
    out = df.iloc[order].reset_index(drop=True)
    periods = df["period"].tolist()
    notes = [
        _other_year_note(periods[at], note, period) if at in others else note for at, note in zip(order, out["note"])
    ]
    notes = [  # a partial year shown (the area has no other) says so
        f"{note}; {thin[ind][p]}" if p in thin.get(ind, {}) else note
        for note, ind, p in zip(notes, out["indicator_id"], out["period"])
    ]
    from .charts import fmt_value

    why = _no_population_reason(df)
    return out.assign(
        note=pd.Series(notes, dtype=object),
        value_text=[
            (f"no data: {why}" if why and _lacks_population(v, n, d, u) else fmt_value(v, u))
            + (" (local data)" if loc else "")
            for v, n, d, u, loc in zip(
                out["value"],
                out["numerator"],
                out["denominator"],
                out["unit"].fillna(""),
                out["is_local"].fillna(False),
            )
        ],
    )


def _lacks_population(value, numerator, denominator, unit: str) -> bool:
    """A figure about residents missing only for want of a population: a per-resident figure whose
    count is there (grants reached the ward) but not the population it is divided by, or residents
    per km² with the area there but not the residents."""
    if not pd.isna(value) or "resident" not in unit:
        return False
    if unit.startswith("residents per"):
        return pd.isna(numerator) and not pd.isna(denominator)
    return not pd.isna(numerator) and pd.isna(denominator)


def _no_population_reason(table: pd.DataFrame) -> str | None:
    """Why an area has no population estimate, from the note on its population row (the build
    writes e.g. 'missing: 2 of its 6 LSOAs lack a mid-2019 estimate'); 'no population estimate'
    when the row gives no reason; None when the area has a population."""
    rows = table[table["indicator_id"] == "population"]
    if rows["value"].notna().any():
        return None
    notes = [n for n in rows["note"] if isinstance(n, str) and n.strip()]
    if not notes:
        return "no population estimate"
    note = notes[-1].strip()
    return "no population estimate (" + (note[len("missing:") :].strip() if note.startswith("missing:") else note) + ")"


def best_covered(table: pd.DataFrame, columns: list[str]) -> str | None:
    """The column with the most values (the first of equals): a ward map opens on it, not on a
    mostly empty one."""
    return max(columns, key=lambda c: int(table[c].notna().sum()), default=None)


def _shown_rows(df: pd.DataFrame, period: str | None, thin: dict | None = None) -> tuple[list[int], set[int]]:
    """The rows of an indicator table that My area lists, in order: each indicator's value in
    ``period`` (else its latest year with a value that is not one of its ``thin`` years, indicator →
    years; one with none keeps a "no data" row), followed by its local figures of other years (also
    returned on their own)."""
    ids, values, periods = df["indicator_id"].tolist(), df["value"].tolist(), df["period"].tolist()
    thin = thin or {}
    best: dict[str, tuple] = {}
    for at, (ind, v, p) in enumerate(zip(ids, values, periods)):
        key = (v == v, *_year_rank(p, period, thin.get(ind, ())))
        if ind not in best or key > best[ind][0]:
            best[ind] = (key, at)
    picked = {at for _, at in best.values()}
    local = df["is_local"].fillna(False).astype(bool).tolist()
    others = {at for at in range(len(df)) if local[at] and values[at] == values[at] and at not in picked}
    domains = df["domain"].tolist()
    order = sorted(picked | others, key=lambda at: (_DOMAIN_ORDER.get(domains[at], 5), ids[at], at in others, at))
    return order, others


def _other_year_note(year: str, note, period: str | None) -> str:
    """The note of a local figure listed for its own year, not the one shown (issue 17: a
    council's own 2023-24 figures)."""
    return f"local figure for {year}, shown for its own year; not in the {period or 'chosen'} index" + (
        f" ({note})" if isinstance(note, str) and note else ""
    )


def ward_table(district_code: str, period: str | None = None, db=None) -> pd.DataFrame:
    """Wards of a district, one column per ward-level indicator — for ``period`` where the
    district's wards have values that year, otherwise the latest year they have — headed with
    its unit and year. Enabling measures first, context last. Missing stays missing."""
    wards = _wards_of(district_code, db)
    meta = _indicator_heads(db).value
    rows = _values.of_areas(wards["code"], db)
    rows = [r for r in zip(rows["area_code"], rows["indicator_id"], rows["period"], rows["value"]) if r[1] in meta]
    chosen = _ward_years(rows, period, _thin_of({r[1] for r in rows}, db))
    at_year: dict[str, dict[str, float]] = {}  # indicator -> ward -> its value in the chosen year
    for code, ind, p, v in rows:
        if chosen.get(ind) == p:
            at_year.setdefault(ind, {}).setdefault(code, v)
    columns: dict[str, dict[str, float]] = {}
    for ind in sorted(chosen, key=lambda i: (_DOMAIN_ORDER.get(meta[i][1], 5), i)):
        name, _domain, unit = meta[ind]
        got = columns.setdefault(f"{name} ({unit}, {chosen[ind]})", {})
        for code, v in at_year[ind].items():
            got.setdefault(code, v)  # a ward's first value under this heading
    return wards.assign(
        **{col: np.array([got.get(c, np.nan) for c in wards["code"]], dtype=float) for col, got in columns.items()}
    )


def _ward_years(rows: list[tuple], period: str | None, thin: dict | None = None) -> dict[str, str]:
    """indicator → the year a ward table shows: ``period`` if any ward has a value that year,
    else the latest year one has that is not one of the indicator's ``thin`` years (else a thin one)."""
    thin = thin or {}
    chosen: dict[str, str] = {}
    for _, ind, p, v in rows:
        t = thin.get(ind, ())
        if v == v and (ind not in chosen or _year_rank(p, period, t) > _year_rank(chosen[ind], period, t)):
            chosen[ind] = p
    return chosen


def _year_rank(year: str, wanted: str | None, thin=()) -> tuple[bool, bool, str]:
    """Which year of an indicator a table shows, as a sort key: the wanted year above any other,
    then a full year above a ``thin`` (partial) one, then the latest."""
    return year == wanted, year not in thin, year


def _thin_of(indicator_ids, db=None) -> dict[str, dict[str, str]]:
    """indicator → its partial years (powerbalance.years), for those that have any."""
    thin = {ind: _years.thin_periods(ind, db) for ind in set(indicator_ids)}
    return {ind: t for ind, t in thin.items() if t}


@_db.per_build(maxsize=2)
def _indicator_heads(db=None) -> _db.AsIs:
    """indicator_id → (name, domain, unit)."""
    meta = _values.indicator_meta(db)
    return _db.AsIs(
        {i: (n, d, u) for i, n, d, u in zip(meta["indicator_id"], meta["name"], meta["domain"], meta["unit"])}
    )


@_db.per_build(maxsize=2)
def _area_names(db=None) -> _db.AsIs:
    """Every current area's name by code."""
    rows = _area_rows(db)
    return _db.AsIs(dict(zip(rows.index, rows["name"])))


def _wards_of(district_code: str, db=None) -> pd.DataFrame:
    """Code and name of a district's wards, by name."""
    codes, names = _wards_by_district(db).value.get(district_code, ((), ()))
    return pd.DataFrame({"code": pd.Series(codes, dtype="str"), "name": pd.Series(names, dtype="str")})


@_db.per_build(maxsize=2)
def _wards_by_district(db=None) -> _db.AsIs:
    """district code → its wards' (codes, names), by name (stable: the areas' order among equals)."""
    rows = _area_rows(db)
    wards = rows[rows["level"] == "ward"][["code", "name", "district_code"]].sort_values("name", kind="stable")
    out: dict[str, tuple[list[str], list[str]]] = {}
    for code, name, district in zip(wards["code"], wards["name"], wards["district_code"]):
        got = out.setdefault(district, ([], []))
        got[0].append(code)
        got[1].append(name)
    return _db.AsIs({d: (tuple(c), tuple(n)) for d, (c, n) in out.items()})


# =============================================================================================
# The index (all maths in powerbalance.index)
# =============================================================================================


def index_periods(db=None) -> list[str]:
    """Financial years the index can be computed for, oldest first."""
    return _index.periods(db=db)


@_db.per_build(maxsize=256)
def index_table(
    level: str = "district",
    period: str | None = None,
    weights: dict | None = None,
    lens: str = "place",
    group: str | None = None,
    db=None,
) -> pd.DataFrame:
    """The index for every area of a level (index.compute_index) plus the area's county and
    region codes, so pages can filter to a comparison group without SQL."""
    period = period or index_periods(db)[-1]
    df = _index.compute_index(level=level, period=period, weights=weights, lens=lens, group=group, db=db)
    df["reason"] = readable_reasons(df["reason"], db)
    geo = _db.query("SELECT code AS area_code, county_code, region_code FROM areas WHERE level = ?", [level], db=db)
    return df.merge(geo, on="area_code", how="left")


def indicator_words(db=None) -> dict[str, str]:
    """Indicator id → its name as words inside a sentence ('parish precepts per head': the first
    letter lowered unless the name starts with an acronym)."""
    out = {}
    for ind in _registry.definitions(db):
        name = str(ind.name)
        out[ind.id] = name[0].lower() + name[1:] if len(name) > 1 and not name[1].isupper() else name
    return out


def readable_reasons(reasons: pd.Series, db=None) -> pd.Series:
    """Why-no-index reasons with each indicator id written as the indicator's name ('missing:
    parish_precepts_per_head, wards_reached_share' → 'missing: parish precepts per head, wards
    reached …'); each distinct reason is rewritten once."""
    words = indicator_words(db)
    if not words:
        return reasons
    ids = re.compile(r"\b(" + "|".join(re.escape(i) for i in sorted(words, key=len, reverse=True)) + r")\b")
    distinct = {r: ids.sub(lambda m: words[m.group(1)], r) for r in reasons.dropna().unique() if r}
    return reasons.map(lambda r: distinct.get(r, r))


def lens_for_level(level: str, lens: str) -> str:
    """The lens an index of ``level`` is computed with: the place lens for regions when the council
    lens is chosen (regions are not councils), else ``lens``."""
    return "place" if level == "region" and lens == "council" else lens


#: Columns of an index table that count (ranks, group sizes): whole numbers, missing stays missing.
INDEX_COUNT_COLUMNS = ("rank", "n_in_group", "n_indicators")


def index_download(
    level: str = "district",
    period: str | None = None,
    weights: dict | None = None,
    lens: str = _index.DEFAULT_LENS,
    db=None,
) -> pd.DataFrame:
    """:func:`index_table` as a file to download: ranks and counts as whole numbers (an area
    without an index keeps an empty rank), scores at full precision."""
    df = index_table(level, period, weights, lens, None, db)
    for col in INDEX_COUNT_COLUMNS:
        if col in df.columns:
            df[col] = df[col].round().astype("Int64")
    return df


def index_coverage(df: pd.DataFrame, column: str = "index") -> tuple[int, int]:
    """(areas with an index, areas) of an index table; of a map's values (:func:`index_map_values`)
    with ``column="value"``."""
    return int(df[column].notna().sum()), len(df)


def index_map_values(
    level: str, period: str, weights: dict | None, lens: str = "place", group: str | None = None, db=None
) -> pd.DataFrame:
    """Index values in the shape the map expects (code, name, value) + rank, group, reason."""
    df = index_table(level, period, weights, lens, group, db)
    return df.rename(columns={"area_code": "code", "index": "value"})[
        ["code", "name", "value", "rank", "n_in_group", "group", "type", "reason"]
    ]


def index_by_tier(period: str, weights: dict | None, lens: str = "place", db=None) -> pd.DataFrame:
    """District and county index values with a tier label, for the distribution chart. Each
    tier is normalised within its own group, so tiers are shown side by side, not pooled."""
    d = index_table("district", period, weights, lens, None, db)
    c = index_table("county", period, weights, lens, None, db)
    both = pd.concat([d, c], ignore_index=True)
    both["tier_label"] = both["tier"].map(TIER_LABELS)
    return both[["area_code", "name", "type", "tier", "tier_label", "index", "rank", "n_in_group", "reason"]]


def shifts(
    level: str = "district",
    lens: str = "place",
    weights: dict | None = None,
    from_period: str | None = None,
    to_period: str | None = None,
    db=None,
) -> pd.DataFrame:
    """Change in enabler ratio, index and rank between two financial years (index.shift).
    Empty (with the same columns) when no two years have the data: pages then say "no data"."""
    try:
        return _index.shift(
            level=level, from_period=from_period, to_period=to_period, lens=lens, weights=weights, db=db
        )
    except ValueError:
        return pd.DataFrame(columns=SHIFT_COLUMNS)


SHIFT_COLUMNS = ["area_code", *_index.SHIFT_COLUMNS]


#: The tier groups the council lens compares within (index._group_of), in the order pages show them.
SHIFT_TIER_GROUPS = ("shire_district", "single_tier")

#: Why the council lens splits the shift by tier (docs/methodology.md, "Headline: the enabler ratio").
COUNCIL_LENS_TIER_RULE = (
    "In the council lens the ratio divides by the council's own spending, so it is compared only within a "
    "tier group: a shire district spends little itself (the county runs social care, education and "
    "highways), so its ratio is naturally far higher than a single-tier council's."
)


def shifts_in_group(df: pd.DataFrame, group: str | None = None) -> pd.DataFrame:
    """The rows of a shift table in one comparison group (``group`` column, e.g. 'shire_district');
    every row when ``group`` is None (the place lens compares every place: its ratio divides by all
    councils' spending on the place, which is comparable across tiers)."""
    return df if group is None else df[df["group"] == group]


def biggest_shifts(df: pd.DataFrame, n: int = 10, group: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The n areas that moved furthest towards enabling and towards providing, by the change
    in enabler ratio (an absolute measure, unlike the within-year index); the second table has
    ``ratio_fall`` (the fall, positive) for its bars. Areas without both years are left out
    (the page counts them). ``group`` keeps one comparison group (the council lens: one tier)."""
    have = shifts_in_group(df, group).dropna(subset=["ratio_shift"])
    up = have.sort_values("ratio_shift", ascending=False).head(n)
    down = have.sort_values("ratio_shift", ascending=True).head(n)
    down = down[down["ratio_shift"] < 0].assign(ratio_fall=lambda d: -d["ratio_shift"])  # drawn as a positive fall
    return up[up["ratio_shift"] > 0].reset_index(drop=True), down.reset_index(drop=True)


def shift_span(shift_df: pd.DataFrame, group: str | None = None) -> tuple[int, int, str | None, str | None]:
    """(areas with the enabler ratio in both years, areas, first year, last year) of a shift
    table (of one comparison group when ``group`` is given); the years are None when no area has both."""
    shift_df = shifts_in_group(shift_df, group)
    have = shift_df.dropna(subset=["ratio_shift"])
    if have.empty:
        return 0, len(shift_df), None, None
    return len(have), len(shift_df), have["from_period"].iloc[0], have["to_period"].iloc[0]


def overview_headline(shift_df: pd.DataFrame, group_label: str = "councils", by_tier: bool = False) -> tuple[str, str]:
    """The Overview's active title — the finding in words — and the figures behind it, from the
    shift table (areas with the enabler ratio in both years; the median says which way the
    typical one moved). ``by_tier`` (the council lens) counts and takes the median within each tier
    group: the council's-own-spending ratio is not comparable across tiers."""
    have = shift_df.dropna(subset=["ratio_shift"])
    if have.empty:
        return (
            "Not enough data to measure a shift between years",
            "No area has the enabler ratio in two financial years.",
        )
    f, t = have["from_period"].iloc[0], have["to_period"].iloc[0]
    if by_tier:
        return _headline_by_tier(have, f, t)
    n_up, n, money = _shift_summary(have)
    lead = "Most" if n_up * 2 > n else "Fewer than half of"
    title = f"{lead} {group_label} shifted towards enabling between {f} and {t}"
    detail = (
        f"{n_up} of {n} {group_label} with data in both years moved towards enabling; the median change was "
        f"{money} in community hands per £100 of council spending."
    )
    return title, detail


def _shift_summary(have: pd.DataFrame) -> tuple[int, int, str]:
    """(areas that moved towards enabling, areas, the median change as signed pounds)."""
    median = float(have["ratio_shift"].median())
    return int((have["ratio_shift"] > 0).sum()), len(have), ("+" if median >= 0 else "−") + f"£{abs(median):.2f}"


def _headline_by_tier(have: pd.DataFrame, f: str, t: str) -> tuple[str, str]:
    """The council lens's title and figures: one clause per tier group, never a count or median
    across tiers."""
    leads, details = [], []
    for g in SHIFT_TIER_GROUPS:
        part = have[have["group"] == g]
        if part.empty:
            continue
        n_up, n, money = _shift_summary(part)
        leads.append(f"{'most' if n_up * 2 > n else 'fewer than half of'} {GROUP_LABELS[g]}")
        details.append(
            f"{GROUP_LABELS[g]}: {n_up} of {n} with data in both years moved towards enabling, median change "
            f"{money} per £100 of the council's own spending"
        )
    title = f"{' and '.join(leads)} shifted towards enabling between {f} and {t}"
    detail = "; ".join(details) + ". Each tier is counted on its own: the two are not comparable in this lens."
    return title[:1].upper() + title[1:], detail[:1].upper() + detail[1:]


@_db.per_build(maxsize=64)
def rank_bands(
    level: str, period: str, weights: dict | None, lens: str = "place", group: str | None = None, n: int = 500, db=None
) -> pd.DataFrame:
    """Monte Carlo rank bands (index.rank_uncertainty) with area names (a whole level's, kept per
    build: every council's profile of the level reads the same table)."""
    band = _index.rank_uncertainty(level=level, period=period, weights=weights, lens=lens, n=n, group=group, db=db)
    names = _db.query("SELECT code AS area_code, name FROM areas WHERE level = ?", [level], db=db)
    return band.merge(names, on="area_code", how="left")


def weight_sensitivity(
    level: str, period: str, weights: dict | None, lens: str = "place", group: str | None = None, db=None
) -> pd.DataFrame:
    """The index with the user's weights beside the default-weight index: how far each area's
    rank moves when the weights change (Method & weights page)."""
    mine = index_table(level, period, weights, lens, group, db)
    base = index_table(level, period, None, lens, group, db)[["area_code", "index", "rank"]]
    out = mine.merge(base.rename(columns={"index": "index_default", "rank": "rank_default"}), on="area_code")
    out["rank_move"] = out["rank_default"] - out["rank"]
    return out


def rank_moves_summary(sens: pd.DataFrame) -> str:
    """One sentence on how much the chosen weights move ranks compared with the defaults."""
    from .charts import counted

    have = sens.dropna(subset=["rank_move"])
    if have.empty:
        return "No area has a rank with both these weights and the default weights."
    moved = have[have["rank_move"] != 0]
    if moved.empty:
        return f"With these weights no rank changes from the default weights ({len(have)} areas ranked)."
    big = int((moved["rank_move"].abs() >= 10).sum())
    top = moved.loc[moved["rank_move"].abs().idxmax()]
    return (
        f"With these weights {len(moved)} of {len(have)} areas change rank compared with the default weights; "
        f"{big} move 10 places or more. The largest move: {top['name']}, "
        f"{'up' if top['rank_move'] > 0 else 'down'} {counted(abs(int(top['rank_move'])), 'place')}."
    )


def shift_direction(change: float) -> str:
    """Words for a change of the enabler ratio that follow its sign (zero to two decimals: unchanged)."""
    if round(float(change), 2) == 0:
        return "unchanged"
    return "towards enabling" if change > 0 else "towards providing"


def local_unscored_note(code: str | None, level: str | None, period: str, lens: str = "place", db=None) -> str | None:
    """'Shown beside the index, not scored: …' for a council's local figures that too few areas of
    its comparison group have (index.LOCAL_MIN_AREAS); None when there are none."""
    if not code or level not in ("district", "county"):
        return None
    table = _index.local_figures_scored(code, level, period, lens, db=db)
    thin = table[~table["scored"]]
    if thin.empty:
        return None
    by_id = _registry.by_id(db)
    parts = [
        f"{by_id[ind].name if ind in by_id else ind} ({n_with} of {n_group} areas of its group have it; {needed} needed)"
        for ind, n_with, n_group, needed in zip(
            thin["indicator_id"], thin["n_with_value"], thin["n_in_group"], thin["n_needed"]
        )
    ]
    return (
        "Shown beside the index, not scored in "
        + period
        + ": "
        + "; ".join(parts)
        + ". A local figure is scored only where enough areas of the comparison group have one."
    )


def own_area_first(table: pd.DataFrame, code: str | None) -> pd.DataFrame:
    """The table with the user's area as its first row (marked), the rest in their order."""
    mine = table["area_code"] == code
    if not mine.any():
        return table
    first = table[mine].assign(name=table.loc[mine, "name"] + " (your council)")
    return pd.concat([first, table[~mine]], ignore_index=True)


def area_rank_move(sens: pd.DataFrame, code: str | None) -> str | None:
    """'Adur: rank 66 → 64 (up 2 places) among shire districts' for the user's council on the
    Method page (None when it is not in the table)."""
    from .charts import rank_move_text

    row = sens[sens["area_code"] == code]
    if not len(row):
        return None
    r = row.iloc[0]
    group = GROUP_LABELS.get(r["group"], str(r["group"]))
    return f"{r['name']}: {rank_move_text(r['rank_default'], r['rank'])} among {group}, default weights → yours"


@_db.per_build(maxsize=16)
def quadrant_areas(level: str = "district", db=None) -> pd.DataFrame:
    """Every area placed by its two movements, both over the same span (powerbalance.quadrants.SPAN_RULE)."""
    return _quadrants.place_areas(level, db=db)


def quadrant_areas_longest(level: str = "district", db=None) -> pd.DataFrame:
    """:func:`quadrant_areas` over each measure's own longest span (quadrants.longest_spans)."""
    spend, community = _quadrants.longest_spans(level, db)
    return _quadrants.place_areas(level, spend, community, db=db)


def lens_rank_moves(
    level: str, period: str, weights: dict | None, lens_from: str, lens_to: str, db=None
) -> pd.DataFrame:
    """Ranks in two lenses side by side and the move (powerbalance.lenses.rank_moves)."""
    return _lenses.rank_moves(level, period, weights, lens_from, lens_to, db)


def peers_of(code: str, period: str, weights: dict | None, lens: str = "place", k: int = 10, db=None) -> pd.DataFrame:
    """Statistical nearest neighbours (index.peers) with their index and rank in ``period``."""
    a = area(code, db)
    if a is None or a["level"] not in ("district", "county"):
        return pd.DataFrame(columns=["peer_code", "name", "type", "distance", "index", "rank"])
    p = _index.peers(code, k=k, db=db)
    if p.empty:
        return p.assign(index=pd.Series(dtype=float), rank=pd.Series(dtype=float))
    idx = index_table(a["level"], period, weights, lens, None, db)[["area_code", "index", "rank"]]
    return p.merge(idx.rename(columns={"area_code": "peer_code"}), on="peer_code", how="left")


#: Columns of the neighbours table shown to people (the download has them too).
PEER_COLUMNS = ["name", "type", "index", "rank", "distance", "peer_code"]
#: Their headings, and the decimals each number is shown with on screen (downloads keep every digit).
PEER_HEADINGS = {
    "name": "council",
    "type": "type",
    "index": "index (0–100)",
    "rank": "rank",
    "distance": "distance (0 = identical)",
    "peer_code": "code",
}
PEER_DIGITS = {"index": 1, "distance": 2}


def peer_tables(peers: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The neighbours table as people read it (readable headings and types, scores rounded, ranks
    whole) and as downloaded (the same headings, every digit kept); None without neighbours."""
    if peers is None or not len(peers):
        return None
    return display_tables(peers[PEER_COLUMNS], PEER_HEADINGS, PEER_DIGITS, whole=("rank",))


def comparison_group(code: str, kind: str, db=None) -> list[str]:
    """Councils to compare with ``code``: ``tier`` (same council type), ``county`` (the other
    districts of its county), ``neighbours`` (its 10 statistical nearest neighbours). The area
    itself comes first."""
    a = area(code, db)
    if a is None:
        raise KeyError(f"unknown area {code}")
    if kind == "tier":
        df = _db.query(
            "SELECT code FROM areas WHERE level = ? AND type = ? ORDER BY name", [a["level"], a["type"]], db=db
        )
        others = [c for c in df["code"] if c != code]
    elif kind == "county":
        if not a.get("county_code"):
            return [code]
        df = _db.query(
            "SELECT code FROM areas WHERE level = 'district' AND county_code = ? ORDER BY name",
            [a["county_code"]],
            db=db,
        )
        others = [c for c in df["code"] if c != code]
    elif kind == "neighbours":
        if a["level"] not in ("district", "county"):
            return [code]
        others = _index.peers(code, k=10, db=db)["peer_code"].tolist()
    else:
        raise ValueError(f"unknown comparison group {kind!r}; choose tier, county or neighbours")
    return [code, *others]


def compare_table(
    codes: list[str] | tuple[str, ...], period: str, weights: dict | None, lens: str = "place", db=None
) -> pd.DataFrame:
    """Index, rank and domain scores of several councils side by side (districts and counties
    each from their own level's index, ranked within their own group)."""
    codes = list(codes)
    frames = []
    for level in ("district", "county"):
        t = index_table(level, period, weights, lens, None, db)
        frames.append(t[t["area_code"].isin(codes)])
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    order = {c: i for i, c in enumerate(codes)}
    out["_o"] = out["area_code"].map(order)
    out = out.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    out["group_label"] = out["group"].map(GROUP_LABELS).fillna(out["group"])
    return out


def median_label(n_others: int) -> str:
    """The legend of a median drawn for the rest of a comparison, the same on every chart: the
    councils it summarises, and that each median is over those of them with a value."""
    return f"Median of the {n_others} other councils (those with a value)"


def compare_series(table: pd.DataFrame, base: str, max_series: int = 8) -> tuple[pd.DataFrame, str | None]:
    """Rows to draw side by side from a compare table. Up to ``max_series`` councils are drawn
    one by one; a larger group is drawn as the chosen council beside the group's median (of the
    councils with a value), so a chart of 164 shire districts stays readable. Returns the rows
    and a note saying what was summarised and how many have each value (None when nothing was)."""
    if len(table) <= max_series:
        return table.reset_index(drop=True), None
    mine = table[table["area_code"] == base]
    rest = table[table["area_code"] != base]
    cols = ["index", "rank", *[f"score_{d}" for d in DOMAINS]]
    med = {c: rest[c].median() for c in cols}
    med_row = pd.DataFrame([{"area_code": "median", "name": median_label(len(rest)), **med}])
    counts = ", ".join(f"{DOMAIN_LABELS[d].lower()} score {int(rest[f'score_{d}'].notna().sum())}" for d in DOMAINS)
    note = (
        f"The {len(rest)} other councils are summarised by their median, over those with a value: "
        f"{int(rest['index'].notna().sum())} have an index; {counts}."
    )
    return pd.concat([mine, med_row], ignore_index=True), note


def compare_trend(
    codes: list[str] | tuple[str, ...],
    base: str | None = None,
    weights: dict | None = None,
    lens: str = "place",
    max_series: int = 6,
    db=None,
) -> tuple[pd.DataFrame, str | None]:
    """Index over time for a comparison: every council when there are at most ``max_series``,
    otherwise the chosen council (``base``, default the first) beside the median of the others
    in each year (with how many had an index that year)."""
    codes = list(codes)
    base = base or (codes[0] if codes else None)
    trend = index_trend(codes, weights, lens, db)
    if len(codes) <= max_series:
        return trend, None
    mine = trend[trend["code"] == base]
    rest = trend[trend["code"] != base]
    med = rest.groupby("period").agg(index=("index", "median"), n=("index", "count")).reset_index()
    med["code"], med["name"] = "median", median_label(len(codes) - 1)
    note = (
        f"Median per year of the {len(codes) - 1} other councils, over those with an index that year: "
        + ", ".join(f"{p} ({int(n)})" for p, n in zip(med["period"], med["n"]))
        + "."
    )
    return pd.concat([mine, med.drop(columns="n")], ignore_index=True), note


def index_column_config() -> dict:
    """Column labels for index tables shown with st.dataframe (a plain dict, so no Streamlit
    import here: pages pass it straight to st.dataframe's column_config)."""
    labels = {
        "area_code": "code",
        "name": "area",
        "type": "type",
        "group_label": "ranked among",
        "index": "index (0–100)",
        "rank": "rank",
        "n_in_group": "of",
        "n_indicators": "indicators with data",
        "reason": "why no index",
        "county_code": "county",
        "region_code": "region",
    }
    labels.update({f"score_{d}": f"{DOMAIN_LABELS[d].lower()} score" for d in DOMAINS})
    return labels


def domain_long(df: pd.DataFrame, label: str = "name") -> pd.DataFrame:
    """Domain score columns of an index table → long (series, domain, score) for grouped bars."""
    rows = []
    for _, r in df.iterrows():
        for d in DOMAINS:
            rows.append({"series": r[label], "domain": DOMAIN_LABELS[d], "score": r.get(f"score_{d}")})
    return pd.DataFrame(rows, columns=["series", "domain", "score"])


def index_trend(codes: list[str] | tuple[str, ...], weights: dict | None, lens: str = "place", db=None) -> pd.DataFrame:
    """Index and rank of councils (and regions) in every financial year the index covers, with the enabler
    ratio (absolute) beside them: the index is relative to each year's group, the ratio is not."""
    codes = list(codes)
    infos = {c: area(c, db) for c in codes}
    levels = sorted({i["level"] for i in infos.values() if i and i["level"] in INDEX_LEVELS})
    rows = []
    for period in index_periods(db):
        for level in levels:
            by_code = _index_rows(level, period, weights, lens, db).value
            rows.extend(row for _, row in sorted(by_code[c] for c in set(codes) if c in by_code))  # the table's order
    out = pd.DataFrame(rows, columns=["code", "name", "period", "index", "rank", "n_in_group"])
    ratio_id = "enabler_ratio_council" if lens == "council" else "enabler_ratio"
    ratio = indicator_trend(codes, ratio_id, db)
    ratio = dict(zip(zip(ratio["code"], ratio["period"]), ratio["value"]))
    return out.assign(
        enabler_ratio=np.array([ratio.get(k, np.nan) for k in zip(out["code"], out["period"])], dtype=float)
    )


#: Columns of :func:`county_districts` before the domain scores (which follow, one per weighted domain).
COUNTY_DISTRICT_COLUMNS = ["code", "name", "index", "rank", "n_in_group"]


def county_districts(code: str, period: str, weights: dict | None, lens: str = "place", db=None) -> pd.DataFrame:
    """The districts of a county (``code``) with their own index, rank among shire districts and score in each
    weighted domain for ``period`` and ``lens`` (the county page's "which parts differ"), with the
    enabler ratio of the same year and lens beside them and the reason where a district has no
    index; most enabling first, districts without an index last. Missing stays missing."""
    w = _index.normalise_weights(weights)
    t = index_table("district", period, w, lens, None, db)
    t = t[t["county_code"] == code].sort_values(["rank", "name"], na_position="last", kind="stable")
    scores = [f"score_{d}" for d in DOMAINS if w[d] > 0]
    ratio_id = "enabler_ratio_council" if lens == "council" else "enabler_ratio"
    ratio = indicator_trend(tuple(t["area_code"]), ratio_id, db)
    ratio = dict(zip(ratio["code"][ratio["period"] == period], ratio["value"][ratio["period"] == period]))
    out = t.rename(columns={"area_code": "code"})[[*COUNTY_DISTRICT_COLUMNS, *scores, "reason"]]
    out = out.assign(enabler_ratio=np.array([ratio.get(c, np.nan) for c in out["code"]], dtype=float))
    out["reason"] = [r if isinstance(r, str) and r else None for r in out["reason"]]
    return out[[*COUNTY_DISTRICT_COLUMNS, *scores, "enabler_ratio", "reason"]].reset_index(drop=True)


def county_district_columns(period: str, lens: str) -> dict:
    """Column labels of :func:`county_districts` for people (a plain dict for st.dataframe)."""
    ratio = "enabler ratio (council's own spending)" if lens == "council" else "enabler ratio"
    labels = {
        "code": "code",
        "name": "district",
        "index": f"index (0–100), {period}",
        "rank": "rank among shire districts",
        "n_in_group": "of",
        "enabler_ratio": f"{ratio}, £ per £100, {period}",
        "reason": "why no index",
    }
    labels.update({f"score_{d}": f"{DOMAIN_LABELS[d].lower()} score" for d in DOMAINS})
    return labels


def in_words(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table with the codes of council types and comparison groups in words ('Shire
    district', 'shire districts'); any code without words stays as it is."""
    out = df.copy()
    if "type" in out.columns:
        out["type"] = out["type"].map(TYPE_LABELS).fillna(out["type"])
    if "group" in out.columns:
        out["group"] = out["group"].map(GROUP_LABELS).fillna(out["group"])
    return out


def display_tables(
    df: pd.DataFrame, headings: dict, digits: dict[str, int], whole: tuple[str, ...] = ("rank", "n_in_group")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A table as people read it (:func:`in_words`, ranks whole, each column of ``digits`` rounded to
    its decimals, headings from ``headings``) and as downloaded (the same words and headings, every
    digit kept). Missing stays missing."""
    full = in_words(df)
    for col in whole:
        if col in full.columns:
            full[col] = pd.to_numeric(full[col], errors="coerce").round().astype("Int64")
    shown = full.copy()
    for col, n in digits.items():
        if col in shown.columns:
            shown[col] = pd.to_numeric(shown[col], errors="coerce").round(n)
    return shown.rename(columns=headings), full.rename(columns=headings)


#: Decimals of the index tables on screen: index and domain scores to one (the downloads keep every digit).
INDEX_DIGITS = {"index": 1, "value": 1, **{f"score_{d}": 1 for d in DOMAINS}, "enabler_ratio": 2}


def county_district_tables(parts: pd.DataFrame, period: str, lens: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A county's districts (:func:`county_districts`) shown and downloaded (:func:`display_tables`)."""
    return display_tables(parts, county_district_columns(period, lens), INDEX_DIGITS)


def index_map_tables(values: pd.DataFrame, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The index map's table (:func:`index_map_values`) shown and downloaded (:func:`display_tables`)."""
    headings = {**index_column_config(), "value": f"index (0–100), {period}", "group": "ranked among"}
    return display_tables(values, headings, INDEX_DIGITS)


#: Decimals of ward indicator values on screen (their units differ: shares, £ per resident, rates).
WARD_DIGITS = 2


def ward_tables(wards: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The wards of a district (one column per indicator, headed by its name) shown, values to
    WARD_DIGITS decimals, and downloaded with every digit (:func:`display_tables`)."""
    values = {c: WARD_DIGITS for c in wards.columns if c not in ("code", "name")}
    return display_tables(wards, {}, values, whole=())


#: Why a region's page lists no statistical neighbours (it is not a missing feature).
REGION_NO_PEERS = (
    "regions have no statistical neighbours by design: neighbours are found among councils of the same "
    "tier (shire districts, single-tier councils, counties). The nine regions are ranked against each other above."
)


def peers_missing_reason(level: str | None) -> str:
    """Why a profile shows no statistical neighbours."""
    if level == "region":
        return REGION_NO_PEERS
    return "no statistical neighbours (a feature such as population or deprivation is missing)."


@_db.per_build(maxsize=64)
def _index_rows(level: str, period: str, weights: dict | None, lens: str, db=None) -> _db.AsIs:
    """area code → (its place in :func:`index_table`, (code, name, period, index, rank, n_in_group))."""
    t = index_table(level, period, weights, lens, None, db)
    columns = zip(t["area_code"], t["name"], t["index"], t["rank"], t["n_in_group"])
    return _db.AsIs({c: (i, (c, n, period, x, r, g)) for i, (c, n, x, r, g) in enumerate(columns)})


# =============================================================================================
# My area: everything about one place
# =============================================================================================


@dataclass
class AreaProfile:
    """Everything the My area page and the printable brief show about one place."""

    code: str
    name: str
    level: str
    type: str
    parent_names: dict
    council_code: str | None  # council whose index applies (a ward's district)
    council_name: str | None
    council_level: str | None
    period: str
    lens: str
    weights: dict
    group_label: str = ""
    index: dict | None = None
    band: dict | None = None
    bands: pd.DataFrame | None = None  # rank bands of the council's comparison group
    shift: dict | None = None
    quadrant: str | None = None  # enabling shift / retreat / ... (powerbalance.quadrants)
    domains: pd.DataFrame | None = None
    trend: pd.DataFrame | None = None
    peers: pd.DataFrame | None = None
    indicators: pd.DataFrame | None = None
    wards: pd.DataFrame | None = None
    districts: pd.DataFrame | None = None  # a county's districts with their own index (county_districts)
    ward_district: str | None = None  # the district whose wards ``wards`` lists
    latest: pd.DataFrame | None = None  # measures at their latest year, with the longest shift (issue 12)
    build_id: str = ""
    built_at: str = ""
    attributions: list = field(default_factory=list)
    benchmarks: pd.DataFrame | None = None  # each indicator beside England, region, neighbours (same year)
    stand_out: pd.DataFrame | None = None  # "what stands out" against the neighbours (benchmarks.stand_out)
    latest_lines: list = field(default_factory=list)  # the latest year in sentences (latest_lines)
    indicator_display: pd.DataFrame | None = None  # indicators beside their benchmarks, as people read them
    latest_display: tuple | None = None  # (shown, download) of the latest year (latest_tables)
    peer_display: tuple | None = None  # (shown, download) of the neighbours (peer_tables)
    reorganised: str = ""  # its figures for years before the council existed (reorganisation_note)

    @property
    def has_index(self) -> bool:
        return bool(self.index) and not pd.isna(self.index.get("index"))

    @property
    def has_shift(self) -> bool:
        return bool(self.shift) and not pd.isna(self.shift.get("ratio_shift"))


@_db.per_build(maxsize=512)
def area_profile(
    code: str, period: str | None = None, weights: dict | None = None, lens: str = "place", db=None
) -> AreaProfile:
    """Collect the profile of one area. Wards take the index of their district (the index is
    not computed for wards: they have no spending data) and show their own indicators. Kept per
    build (every council's, with the pages' default settings, is made by the server's warm-up:
    :func:`powerbalance.warm.council_profiles`)."""
    a = area(code, db)
    if a is None:
        raise KeyError(f"unknown area {code}")
    period = period or index_periods(db)[-1]
    w = _index.normalise_weights(weights)
    council = a["district_code"] if a["level"] == "ward" else code if a["level"] in _OWN_INDEX_LEVELS else None
    council_area = area(council, db) if council else None
    info = build_info(db)
    p = AreaProfile(
        code=code,
        name=a["name"],
        level=a["level"],
        type=a["type"],
        parent_names={
            "district": a.get("district_name"),
            "county": a.get("county_name"),
            "region": a.get("region_name"),
        },
        council_code=council,
        council_name=council_area["name"] if council_area else None,
        council_level=council_area["level"] if council_area else None,
        period=period,
        lens=lens,
        weights=w,
        build_id=info["build_id"],
        built_at=info["built_at"],
        attributions=attributions(db),
    )
    if council_area is not None and council_area["level"] in INDEX_LEVELS:
        _add_index(p, council, council_area["level"], period, w, lens, db)
    p.indicators = latest_indicators(code, period, db)
    p.latest = latest_and_longest([council or code], db)
    p.reorganised = reorganisation_note(council or code, db)
    _add_benchmarks(p, a, db)
    if a["level"] == "county":
        p.districts = county_districts(code, period, w, lens, db)
    if a["level"] in ("district", "ward"):
        p.wards = ward_table(a["district_code"], period, db)
        p.ward_district = a["district_code"]
    _add_reading(p)
    return p


def reorganisation_note(code: str, db=None) -> str:
    """For a council formed since 2019: which of its spending years come before it existed and what
    they are (the sum of the councils it replaced, any county share an estimate), in one sentence
    from the values' notes; '' for any other area."""
    rows = _values.of_areas([code], db, indicator_id="council_spend_per_head")
    marker = f" {BEFORE_IT_EXISTED}: "
    marked = sorted((p, n) for p, n in zip(rows["period"], rows["note"]) if isinstance(n, str) and marker in n)
    if not marked:
        return ""
    years = marked[0][0] if len(marked) == 1 else f"{marked[0][0]} to {marked[-1][0]}"
    what = marked[-1][1].split(marker, 1)[1]
    return f"Its figures for {years}, years before this council existed, are {what}."


def reorganisation_notes(codes: list[str] | tuple[str, ...], db=None) -> list[str]:
    """'Name: <reorganisation_note>' for each of these councils formed since 2019 (Compare)."""
    out = []
    for code in codes:
        note = reorganisation_note(code, db)
        if note:
            out.append(f"{(area(code, db) or {}).get('name', code)}: {note}")
    return out


#: Levels whose profile shows their own index (a ward shows its district's; a parish none).
_OWN_INDEX_LEVELS = ("district", "county", "region")


def _add_index(p: AreaProfile, council: str, lvl: str, period: str, w: dict, lens: str, db) -> None:
    """The council's index row and domain scores, rank band, shift, quadrant, trend and (districts
    and counties) statistical neighbours, in the lens its level uses."""
    lens_here = lens_for_level(lvl, lens)
    t = index_table(lvl, period, w, lens_here, None, db)
    row = t[t["area_code"] == council]
    if len(row):
        r = row.iloc[0].to_dict()
        p.index = r
        p.group_label = GROUP_LABELS.get(r["group"], str(r["group"]))
        p.domains = pd.DataFrame(
            {
                "domain": [DOMAIN_LABELS[d] for d in DOMAINS],
                "score": [r.get(f"score_{d}") for d in DOMAINS],
                "weight_pct": [100.0 * w[d] for d in DOMAINS],
            }
        )
    band = rank_bands(lvl, period, w, lens_here, None, 500, db)
    b = band[band["area_code"] == council]
    p.band = b.iloc[0].to_dict() if len(b) and not pd.isna(b.iloc[0]["median_rank"]) else None
    if p.band is not None:
        p.bands = band[band["group"] == p.band["group"]].reset_index(drop=True)
    s = shifts(lvl, lens_here, w, None, None, db)
    srow = s[s["area_code"] == council]
    p.shift = srow.iloc[0].to_dict() if len(srow) else None
    p.quadrant = _quadrants.area_quadrant(quadrant_areas(lvl, db), council)
    p.trend = index_trend([council], w, lens_here, db)
    p.peers = peers_of(council, period, w, lens_here, 10, db) if lvl in ("district", "county") else None


def _add_reading(p: AreaProfile) -> None:
    """The latest-year sentences and the indicator table as people read them (beside England, the
    region and the neighbours), made with the profile so a kept profile needs no more work."""
    if p.latest is not None and len(p.latest):
        p.latest_lines = latest_lines(p.latest)
        p.latest_display = latest_tables(p.latest)
    p.peer_display = peer_tables(p.peers)
    if p.indicators is not None and len(p.indicators):
        p.indicator_display = _benchmarks.display_table(p.indicators, p.benchmarks)


def _add_benchmarks(p: AreaProfile, a: dict, db=None) -> None:
    """England, region and neighbours beside each indicator, and what stands out (councils only:
    a ward's neighbours would be its council's)."""
    peers = p.peers["peer_code"].tolist() if p.peers is not None and p.code == p.council_code else []
    p.benchmarks = _benchmarks.benchmarks(p.indicators, a.get("region_code"), peers, db)
    spread = _benchmarks.level_spread(a["level"], p.benchmarks[["indicator_id", "period"]], a.get("tier"), db)
    p.stand_out = _benchmarks.stand_out(p.benchmarks, spread, tier=a.get("tier"), lens=p.lens)


# =============================================================================================
# Data page: sources, load report
# =============================================================================================


def methodology_markdown() -> str | None:
    """docs/methodology.md (written with the index), or None before it exists."""
    path = config.ROOT / "docs" / "methodology.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def sources(db=None) -> pd.DataFrame:
    """Sources with licence and attribution, one row per source (files listed together)."""
    return _db.query(
        """
        SELECT source_id, any_value(title) AS title, any_value(publisher) AS publisher,
               any_value(licence) AS licence, any_value(attribution) AS attribution,
               any_value(vintage) AS vintage, any_value(url) AS url, count(*) AS files,
               sum(bytes) AS bytes, string_agg(file, '; ' ORDER BY file) AS file_list
        FROM sources GROUP BY source_id ORDER BY source_id""",
        db=db,
    )


def source_files(db=None) -> pd.DataFrame:
    """Every raw file read, with its checksum (provenance)."""
    return _db.query("SELECT source_id, file, sha256, bytes, loaded_at FROM sources ORDER BY source_id, file", db=db)


@_db.per_build(maxsize=4)
def attributions(db=None) -> list[str]:
    """Distinct attribution statements to print with any view of the data."""
    df = _db.query("SELECT DISTINCT attribution FROM sources WHERE attribution IS NOT NULL ORDER BY 1", db=db)
    return df["attribution"].tolist()


def load_report(db=None) -> pd.DataFrame:
    return _db.query("SELECT * FROM load_report ORDER BY source_id", db=db)


def load_issues(kind: str | None = None, db=None) -> pd.DataFrame:
    """Problems the ETL reported (unmatched codes, suppressed cells, warnings …)."""
    if kind:
        return _db.query("SELECT * FROM load_issues WHERE kind = ? ORDER BY source_id, file, \"row\"", [kind], db=db)
    return _db.query("SELECT * FROM load_issues ORDER BY source_id, kind, file, \"row\"", db=db)


def load_facts(db=None) -> pd.DataFrame:
    return _db.query("SELECT * FROM load_facts ORDER BY source_id, fact", db=db)


def local_data(db=None) -> pd.DataFrame:
    """Councils' and partners' own figures in this build: per file and measure, how many values for
    how many areas and periods, and the scored indicator each joins (issue 6)."""
    from .indicators import LOCAL_AS_INDICATOR, LOCAL_RATES
    from .registry import by_id

    BY_ID = by_id(db)

    df = _db.query(
        """
        SELECT file, template, measure, count(*) AS "values", count(DISTINCT area_code) AS areas,
               string_agg(DISTINCT period, ', ' ORDER BY period) AS periods
        FROM local_values GROUP BY file, template, measure ORDER BY file, measure""",
        db=db,
    )
    joins = {m: LOCAL_RATES[m][0] if m in LOCAL_RATES else LOCAL_AS_INDICATOR.get(m) for m in df["measure"]}
    df["joins_indicator"] = df["measure"].map(joins)
    df["domain"] = df["joins_indicator"].map(lambda i: BY_ID[i].domain if i in BY_ID else None)
    return df.merge(local_index_use(db), on=["file", "measure"], how="left")


def local_index_use(db=None) -> pd.DataFrame:
    """Per local file and measure: how many figures can feed the index, and which are shown only
    (a year the index does not cover, or a ward) — issue 17."""
    from .local_use import LOCAL_USE_SQL, use_text

    use = _db.query(LOCAL_USE_SQL, db=db)
    use["use"] = [use_text(r) for _, r in use.iterrows()] if len(use) else pd.Series(dtype=str)
    return use[["file", "measure", "can_feed_index", "shown_only", "use"]]


def indicator_coverage(db=None) -> pd.DataFrame:
    """Per indicator, level and period: how many areas have a value of their own of how many ("what
    is missing"; a council's regional survey estimate is its region's figure, not its own:
    :func:`powerbalance.values.comparable_mask`); how many of those values are ``partial`` (a county,
    region or England sum — or a district's sum of wards — over only some of its parts, from each
    value's note); and a ``note`` on a partial year of its source (powerbalance.years: every area may
    have a 2018 grants value, from far fewer grants than other years), on the partial values or on the
    regional estimates left out."""
    cov = _db.query(
        """
        WITH n AS (SELECT level, count(*) AS n_areas FROM areas GROUP BY level),
        v AS (SELECT v.indicator_id, i.name, a.level, v.period, v.value,
                     coalesce(i.domain = ? AND NOT coalesce(v.is_local, false) AND a.level NOT IN ('region', 'country'),
                              false) AS regional_estimate
              FROM indicator_values v JOIN areas a ON a.code = v.area_code LEFT JOIN indicators i USING (indicator_id))
        SELECT v.indicator_id, v.name, v.level, v.period,
               count(v.value) FILTER (WHERE NOT v.regional_estimate) AS with_value, n.n_areas,
               n.n_areas - count(v.value) FILTER (WHERE NOT v.regional_estimate) AS without_value,
               count(v.value) FILTER (WHERE v.regional_estimate) AS regional_estimates
        FROM v JOIN n ON n.level = v.level
        GROUP BY v.indicator_id, v.name, v.level, v.period, n.n_areas
        ORDER BY v.indicator_id, v.level, v.period""",
        [_values.SURVEY_DOMAIN],
        db=db,
    )
    thin = {ind: _years.thin_periods(ind, db) for ind in cov["indicator_id"].unique()}
    partial = _partial_values(db)
    keys = list(zip(cov["indicator_id"], cov["level"], cov["period"]))
    cov.insert(cov.columns.get_loc("with_value") + 1, "partial", [partial.get(k, (0, ""))[0] for k in keys])
    cov["note"] = [
        "; ".join(x for x in (thin[k[0]].get(k[2], ""), _partial_note(partial.get(k), n), _regional_note(int(r))) if x)
        for k, n, r in zip(keys, cov["with_value"], cov["regional_estimates"])
    ]
    return cov.drop(columns="regional_estimates")


def _partial_values(db=None) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(indicator, level, period) → (how many of its values are made from only some of their parts, what
    the parts are), read from each value's note (:func:`note_coverage`): Essex's 2023-24 place spending is
    "sum of 9 of 12 districts"."""
    notes = _db.query(
        """
        SELECT v.indicator_id, a.level, v.period, v.note, count(*) AS n
        FROM indicator_values v JOIN areas a ON a.code = v.area_code
        WHERE v.value IS NOT NULL AND v.note LIKE '% of %'
        GROUP BY ALL""",
        db=db,
    )
    out: dict[tuple[str, str, str], tuple[int, str]] = {}
    for ind, level, period, note, n in zip(
        notes["indicator_id"], notes["level"], notes["period"], notes["note"], notes["n"]
    ):
        parts = note_coverage(note)
        if parts and parts[0] < parts[1]:
            had = out.get((ind, level, period), (0, parts[2]))
            out[(ind, level, period)] = (had[0] + int(n), had[1])
    return out


def _partial_note(partial: tuple[int, str] | None, with_value: int) -> str:
    if not partial:
        return ""
    if with_value == 1:
        return f"the value is partial: made from only some of its {partial[1]} (its note says how many)"
    return (
        f"{partial[0]:,} of the {with_value:,} values are partial: each made from only some of its {partial[1]} "
        "(its note says how many)"
    )


def _regional_note(n: int) -> str:
    return f"{n:,} regional survey estimates (each its region's figure) not counted as the area's own" if n else ""


def indicator_values_all(db=None) -> pd.DataFrame:
    """The whole indicator_values table with area names and levels (for download)."""
    return _db.query(
        """
        SELECT v.area_code, a.name AS area_name, a.level, v.indicator_id, i.name AS indicator, i.unit, v.period,
               v.value, v.numerator, v.denominator, v.is_local, v.note
        FROM indicator_values v JOIN areas a ON a.code = v.area_code LEFT JOIN indicators i USING (indicator_id)
        ORDER BY a.level, v.area_code, v.indicator_id, v.period""",
        db=db,
    )


def areas_all(db=None) -> pd.DataFrame:
    return _db.query("SELECT * FROM areas ORDER BY level, code", db=db)


# =============================================================================================
# The latest year and the longest shift (issue 12): measures that run past the index years
# =============================================================================================

#: Measures that run to the latest finance year (2023-24), shown at that year on every page.
LATEST_MEASURES = ("place_spend_per_head", "council_spend_per_head", "parish_precept_share", "parish_precepts_per_head")
#: Measure → its longest-shift indicator (powerbalance.indicators.LONGEST_SHIFTS).
LONGEST_SHIFT_OF = {"place_spend_per_head": "place_spend_shift", "parish_precept_share": "parish_precept_share_shift"}
LATEST_COLUMNS = [
    "code",
    "name",
    "indicator_id",
    "measure",
    "unit",
    "period",
    "value",
    "note",
    "shift_period",
    "shift_value",
    "shift_from",
    "shift_to",
    "shift_note",
]


def latest_and_longest(codes: list[str] | tuple[str, ...], db=None) -> pd.DataFrame:
    """For each area, each measure of :data:`LATEST_MEASURES` it has at all, at the latest
    financial year the measure has for any area (so an area missing that year shows it as
    missing, with the reason, never an older year in its place), with the measure's longest shift
    (earliest → latest year, :data:`LONGEST_SHIFT_OF`) where one is defined."""
    codes = list(codes)
    if not codes:
        return pd.DataFrame(columns=LATEST_COLUMNS)
    names = _area_names(db).value
    found = [c for c in dict.fromkeys(codes) if c in names]
    lp = _latest_periods(db)
    latest = dict(zip(lp["indicator_id"], lp["period"]))
    heads = _indicator_heads(db).value
    out = []
    for code in found:
        out.extend(_measure_rows(code, names[code], _values.of_areas([code], db), latest, heads))
    return pd.DataFrame(out, columns=LATEST_COLUMNS).astype(_LATEST_TYPES)


def _measure_rows(code: str, name: str, values: pd.DataFrame, latest: dict, heads: dict) -> list[list]:
    """One area's rows of :func:`latest_and_longest`: each measure it has any value of, at the
    measure's latest year, once per longest-shift row (or once, with none)."""
    columns = ("indicator_id", "period", "value", "denominator", "numerator", "note")
    rows = list(zip(*(values[c] for c in columns)))
    out = []
    for measure in LATEST_MEASURES:
        has_value = any(ind == measure and v == v for ind, _p, v, *_ in rows)
        if measure not in latest or measure not in heads or not has_value:
            continue
        year = latest[measure]
        now = next(((v, note) for ind, p, v, _d, _n, note in rows if ind == measure and p == year), (np.nan, np.nan))
        head = [code, name, measure, heads[measure][0], heads[measure][2], year, *now]
        # a longest shift: its span, value, from (the denominator), to (the numerator) and note
        shifts = [shift for ind, *shift in rows if ind == LONGEST_SHIFT_OF.get(measure)] or [[np.nan] * 5]
        out.extend(head + list(shift) for shift in shifts)
    return out


#: Headings of the latest-year table on screen (values written with their unit, rounded as the
#: sentences round them).
LATEST_SHOWN = {
    "name": "area",
    "measure": "measure",
    "period": "year",
    "value_text": "value",
    "coverage": "coverage",
    "shift_period": "longest shift",
    "shift_from_text": "at the start",
    "shift_text": "change",
    "note": "how it is made up",
    "shift_note": "how the change is made up",
}
#: Headings of the latest-year table as downloaded: readable too, numbers with every digit and their
#: unit beside them.
LATEST_DOWNLOAD = {
    "code": "code",
    "name": "area",
    "indicator_id": "indicator id",
    "measure": "measure",
    "unit": "unit",
    "period": "year",
    "value": "value",
    "coverage": "coverage",
    "shift_period": "longest shift",
    "shift_from": "at the start",
    "shift_value": "change",
    "note": "how it is made up",
    "shift_note": "how the change is made up",
}


def latest_tables(latest: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """:func:`latest_and_longest` as people read it (each value written with its unit, as in
    :func:`latest_sentence`, and its coverage) and as downloaded (readable headings, every digit);
    None when there is nothing to show."""
    if latest is None or not len(latest):
        return None
    df = latest.copy()
    units = df["unit"].fillna("").astype(str).tolist()

    def text(col: str, change: bool = False) -> list[str]:
        return [_measure_text(v, u, change) if pd.notna(v) else "" for v, u in zip(df[col], units)]

    df["value_text"] = [t or "no data" for t in text("value")]
    df["shift_from_text"] = text("shift_from")
    df["shift_text"] = text("shift_value", change=True)
    df["coverage"] = [based_on(n) for n in df["note"]]
    for col in ("shift_period", "shift_note", "note"):  # a measure without a longest shift: blank, not missing
        df[col] = df[col].fillna("")
    drop = ["coverage"] if not any(df["coverage"]) else []  # one council: no sum to be short of parts
    return (
        df[[c for c in LATEST_SHOWN if c not in drop]].rename(columns=LATEST_SHOWN),
        df[[c for c in LATEST_DOWNLOAD if c not in drop]].rename(columns=LATEST_DOWNLOAD),
    )


#: The columns of :func:`latest_and_longest` that hold numbers (the others hold text).
_LATEST_TYPES = {c: float if c in ("value", "shift_value", "shift_from", "shift_to") else "str" for c in LATEST_COLUMNS}


@_db.per_build(maxsize=4)
def _latest_periods(db=None) -> pd.DataFrame:
    """The latest financial year with any value of each of :data:`LATEST_MEASURES` (kept per build:
    the same for every area)."""
    return _db.query(
        """
        SELECT indicator_id, max(period) AS period FROM indicator_values
        WHERE list_contains(?::VARCHAR[], indicator_id) AND value IS NOT NULL AND period NOT LIKE '% to %'
        GROUP BY ALL""",
        [list(LATEST_MEASURES)],
        db=db,
    )


def _measure_text(value: float, unit: str, change: bool = False) -> str:
    sign = "+" if change and value >= 0 else "−" if change else ""
    if unit.startswith("%"):
        return f"{sign}{abs(value) if change else value:,.2f}" + (" percentage points" if change else "%")
    if unit.startswith("£"):
        return f"{sign}£{abs(value) if change else value:,.0f}{unit[1:]}"
    return f"{sign}{abs(value) if change else value:,.1f} {unit}"


#: A rolled-up value's note (etl.indicators.base.with_rollups): "sum of 283 of 296 districts".
_SUM_OF = re.compile(r"sum of (\d+) of (\d+) (\w+)")
#: A longest shift's note over a matched set (etl.indicators.longest_shift): "… both over the same
#: districts (283 of 296 districts with both years)".
_SAME_SET = re.compile(r"both over the same (\w+) \((\d+) of (\d+) \w+ with both years\)")


def note_coverage(note) -> tuple[int, int, str] | None:
    """(N, M, what) of a rolled-up value's note ("sum of N of M districts") or of a longest shift's
    over a matched set ("both over the same districts (N of M districts with both years)"); None for
    a value that is not a sum of parts."""
    if not isinstance(note, str):
        return None
    if m := _SUM_OF.search(note):
        return int(m.group(1)), int(m.group(2)), m.group(3)
    if m := _SAME_SET.search(note):
        return int(m.group(2)), int(m.group(3)), m.group(1)
    return None


def based_on(note) -> str:
    """'based on 283 of 296 districts' when a value is made from only some of its parts (a roll-up's
    "sum of N of M", a longest shift's "same districts (N of M … with both years)": read from its
    note, never assumed); '' when it has them all or is not a sum."""
    cov = note_coverage(note)
    return f"based on {cov[0]:,} of {cov[1]:,} {cov[2]}" if cov and cov[0] < cov[1] else ""


def coverage_words(note) -> str:
    """', based on 283 of 296 districts' (:func:`based_on`) to follow a figure; '' when it has all its parts."""
    words = based_on(note)
    return f", {words}" if words else ""


def _shift_set_words(note) -> str:
    """' over the same 283 districts' when a longest shift compares only the parts with both years
    (its earlier value is then over those parts, not the year's published whole)."""
    m = _SAME_SET.search(str(note)) if isinstance(note, str) else None
    return f" over the same {int(m.group(2)):,} {m.group(1)}" if m and int(m.group(2)) < int(m.group(3)) else ""


def latest_sentence(row) -> str:
    """One measure in words, naming its years and, for a sum over councils missing some, its
    coverage, e.g. 'Council service spending per head (place): £1,783 per resident in 2023-24,
    based on 283 of 296 districts (£1,511 per resident in 2010-11 over the same 283 districts: +£272
    per resident, cash terms)'."""
    unit = str(row["unit"])
    if pd.notna(row["value"]):
        now = f"{_measure_text(row['value'], unit)} in {row['period']}{coverage_words(row.get('note'))}"
    else:
        why = " (not published by MHCLG)" if "not published by MHCLG" in str(row.get("note")) else ""
        now = f"no value for {row['period']}{why}"
    then = ""
    if pd.notna(row.get("shift_value")):
        start = str(row["shift_period"]).split(" to ")[0]
        then = (
            f" ({_measure_text(row['shift_from'], unit)} in {start}{_shift_set_words(row.get('shift_note'))}: "
            f"{_measure_text(row['shift_value'], unit, change=True)}"
            + (", cash terms" if unit.startswith("£") else "")
            + ")"
        )
    return f"{row['measure']}: {now}{then}"


def latest_lines(df: pd.DataFrame) -> list[str]:
    """:func:`latest_sentence` for every row (pages show them as a list)."""
    return [latest_sentence(r) for _, r in df.iterrows()]


#: Said wherever the index is shown beside figures for later years.
INDEX_YEARS_NOTE = (
    "The index and the enabler ratio stop at 2017-18: they need community grants, and the grants data "
    "end in 2018, so no index is computed for 2023-24. Spending, parish precepts and participation "
    "run on to their latest year."
)


def participation_series(region_code: str | None = None, db=None) -> pd.DataFrame:
    """Civic participation (Community Life Survey) for England (to 2024/25, with confidence
    intervals where published) and, when given, a region (to 2020/21), every period labelled as a
    financial year. England's 2022/23 (no survey) is a row with no value, so charts show the gap."""
    from .codes import fy_of_survey

    codes = [ENGLAND] + ([region_code] if region_code else [])
    df = _db.query(
        """SELECT p.area_code, coalesce(a.name, p.area_name) AS name, p.period AS survey_period,
                             p.value_pct AS value, p.lci, p.uci
                      FROM participation p LEFT JOIN areas a ON a.code = p.area_code
                      WHERE list_contains(?::VARCHAR[], p.area_code)""",
        [codes],
        db=db,
    )
    df["period"] = df["survey_period"].map(fy_of_survey)
    return df.sort_values(["area_code", "period"]).reset_index(drop=True)


def every_financial_year(periods) -> list[str]:
    """Every financial year from the earliest to the latest of ``periods`` (e.g. 2010-11 … 2023-24),
    so a trend's x axis shows the years without data as gaps rather than closing them up."""
    from .codes import fy_of_year

    starts = [int(str(p)[:4]) for p in periods if str(p)[:4].isdigit() and len(str(p)) == 7]
    return [fy_of_year(y) for y in range(min(starts), max(starts) + 1)] if starts else []


def years_without(years, have) -> str:
    """The years of ``years`` missing from ``have``, in words ('2015-16 and 2016-17'; '' when none)."""
    have = set(have)
    missing = [y for y in years if y not in have]
    return and_list(missing)


def trend_coverage(code: str, indicator_id: str, db=None) -> str:
    """For :func:`longest_trend`'s areas, the years whose value is a sum over fewer councils than
    the area has, from the values' notes: 'England: 2023-24 based on 283 of 296 districts.' ('' when
    every year is whole)."""
    codes = [code] if code == ENGLAND else [code, ENGLAND]
    rows = _values.of_areas(codes, db, indicator_id)
    names = _area_names(db).value
    short: dict[str, list[str]] = {}
    for c, p, note in sorted(
        zip(rows["area_code"], rows["period"], rows["note"]), key=lambda r: (codes.index(r[0]), r[1])
    ):
        words = based_on(note)
        if words and " to " not in str(p):
            short.setdefault(names.get(c, c), []).append(f"{p} {words}")
    return " ".join(f"{name}: {'; '.join(years)}." for name, years in short.items())


def longest_trend(code: str, indicator_id: str, db=None) -> pd.DataFrame:
    """One measure's yearly values for an area and England (every year it has), for the longest
    trend chart; missing years are absent rows, drawn as gaps over :func:`every_financial_year`."""
    codes = [code] if code == ENGLAND else [code, ENGLAND]
    df = indicator_trend(codes, indicator_id, db=db)
    return df[~df["period"].str.contains(" to ", regex=False)].reset_index(drop=True)
