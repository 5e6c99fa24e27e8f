"""The Funders page's questions: where a funder's money lands, beside need and council effort.

Three kinds of grants go through the same analysis:

* ``published`` — the 360Giving aggregate 2013–2018 (``grants_agg``: funder × award year ×
  district × Dec 2023 ward where the ward code is still current);
* ``covid`` — the record-level COVID-19 sample (``grants``, with programmes where given);
* an **upload** — a funder's own 360Giving file, read and placed in memory
  (:func:`analyse_upload`), kept in the browser session by the page and never written to the
  database, to disk or into a cache shared between sessions.

Each is reduced to *cells*: rows of (district_code, ward_code, grants, amount_gbp) where
``grants`` counts grants (the aggregate's cells hold many; a record is one). The spread
measures of :mod:`powerbalance.spread` then run on money per area. Ward-level figures are judged
only where they can be: a district's wards are compared when at least
``indicators.WARD_MATCH_MIN`` (95%) of the selection's grants in that district are placed in
current wards, or when the selection has no grant there (a real zero). Elsewhere the wards are
missing — never a zero that is really "ward redrawn since".

No Streamlit here (pages/funders_page.py calls these functions); user values reach SQL only as bound
parameters through :mod:`powerbalance.db`, which opens the database read-only.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import charts, config, downloads, places, spread
from . import db as _db
from . import index as _index
from .grants360 import (
    AreaLookup,
    GrantsFileError,
    TooManyRows,
    group_problems,
    place_grants,
    placement_summary,
    read_360giving,
)
from .indicators import EXCLUDED_FUNDERS, IMD_SCORE, POPULATION, WARD_MATCH_MIN

#: Where the grants come from (URL value → label).
DATASETS: dict[str, str] = {
    "published": "Published grants 2013–2018",
    "covid": "COVID-19 grants 2020 (with programmes)",
    "upload": "Your own 360Giving file",
}
DATASET_NOTES: dict[str, str] = {
    "published": "360Giving data via GrantNav: grants of 57 funders summed by funder, award year, district and ward "
    "(no programme field).",
    "covid": "360Giving data via GrantNav: the COVID-19 grants sample (March–May 2020), one row per grant, with the "
    "grant programme where the funder gave one.",
    "upload": "Your file is read and placed in memory for this browser session only: it is never stored in the "
    "shared database or on disk, and nobody else can see it.",
}
LEVELS: dict[str, str] = {"district": "Districts & unitaries", "ward": "Wards"}
#: Which areas the spread is measured across. A local funder measured across all of England
#: looks maximally concentrated (Gini near 1) whatever it does locally, so it can be measured
#: across the districts it works in instead.
SCOPES: dict[str, str] = {"england": "All of England", "reached": "Only the districts these grants reach"}
MEASURES: dict[str, tuple[str, str, int]] = {  # value → (label, unit, digits)
    "amount": ("Amount awarded", "£", 0),
    "grants": ("Number of grants", "", 0),
    "per_head": ("Amount per resident", "£ per resident", 2),
}
#: Programme choice standing for grants whose file gives no programme.
NO_PROGRAMME = "(no programme given)"
#: Uploads: at most this many grants (the server also caps the file size: server.maxUploadSize).
MAX_UPLOAD_ROWS = 50_000
IMD_DECILE = "imd_decile"
CELL_COLUMNS = ["district_code", "ward_code", "grants", "amount_gbp", "grants_without_gbp", "amount_by_address"]
#: A district is flagged as money recorded at registered offices when the money placed there by
#: recipient address is at least HEAD_OFFICE_RATIO times the median £ per resident of the districts
#: reached, and at least HEAD_OFFICE_SHARE of all the selection's placed money (docs/funders.md).
HEAD_OFFICE_RATIO = 20.0
HEAD_OFFICE_SHARE = 0.02
#: Placement rules that place a grant at the recipient's address (its postcode or its own location codes).
BY_RECIPIENT_ADDRESS = ("recipient_postcode", "recipient_location")
NONE_RECORDED = "none recorded in this file"


def percent(share: float) -> str:
    """A share (0–1) as a whole percentage for people, to one decimal below 1% so a small share never
    reads as 0% ('0.3%'; '<0.1%' below that); 'no data' when there is none."""
    if share != share:
        return charts.fmt(None, 0, "%")
    pct = 100 * share
    if 0 < pct < 0.05:
        return "<0.1%"
    return charts.fmt(pct, 1 if 0 < pct < 1 or 99 < pct < 100 else 0, "%")


def excluded_note(funder: str | None) -> str | None:
    """Why a funder is left out of the index's grant indicators (None when it is not)."""
    return EXCLUDED_FUNDERS.get(funder) if funder else None


# =============================================================================================
# Choices (database)
# =============================================================================================


def funder_choices(dataset: str, db=None) -> pd.DataFrame:
    """Funders of a stored dataset, most grants first: funder, grants, amount_gbp, first_year,
    last_year, excluded (why the index leaves it out, else None)."""
    if dataset == "published":
        sql = """SELECT funder, sum(grants)::BIGINT AS grants, sum(amount_gbp) AS amount_gbp,
                        min(award_year) AS first_year, max(award_year) AS last_year
                 FROM grants_agg GROUP BY funder ORDER BY grants DESC, funder"""
    elif dataset == "covid":
        sql = """SELECT coalesce(funder_name, funder_id) AS funder, count(*) AS grants, sum(amount_gbp) AS amount_gbp,
                        min(year(award_date)) AS first_year, max(year(award_date)) AS last_year
                 FROM grants GROUP BY 1 ORDER BY grants DESC, funder"""
    else:
        raise ValueError(f"unknown stored dataset {dataset!r}")
    df = _db.query(sql, db=db)
    df["excluded"] = df["funder"].map(excluded_note)
    return df


def year_choices(dataset: str, db=None) -> list[int]:
    """Award years (calendar) present in a stored dataset, oldest first."""
    if dataset == "published":
        df = _db.query("SELECT DISTINCT award_year AS y FROM grants_agg ORDER BY 1", db=db)
    elif dataset == "covid":
        df = _db.query(
            "SELECT DISTINCT year(award_date) AS y FROM grants WHERE award_date IS NOT NULL ORDER BY 1", db=db
        )
    else:
        raise ValueError(f"unknown stored dataset {dataset!r}")
    return [int(y) for y in df["y"]]


def programme_choices(dataset: str, funders: Sequence[str], db=None) -> pd.DataFrame:
    """Programmes of the chosen funders (record-level data only): programme, grants. Grants
    without a programme are offered as :data:`NO_PROGRAMME`. Empty for the aggregate, which
    has no programme field."""
    funders = list(funders)
    if dataset != "covid" or not funders:
        return pd.DataFrame({"programme": pd.Series(dtype=object), "grants": pd.Series(dtype="int64")})
    return _db.query(
        """SELECT coalesce(programme, ?) AS programme, count(*) AS grants FROM grants
                        WHERE list_contains(?::VARCHAR[], coalesce(funder_name, funder_id))
                        GROUP BY 1 ORDER BY grants DESC, programme""",
        [NO_PROGRAMME, funders],
        db=db,
    )


def upload_choices(grants: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """(funders with grant counts, award years) of an uploaded file's grants."""
    funder = _funder_of(grants)
    f = (
        pd.DataFrame({"funder": funder, "amount_gbp": grants["amount_gbp"]})
        .groupby("funder", sort=False)
        .agg(grants=("amount_gbp", "size"), amount_gbp=("amount_gbp", "sum"))
        .reset_index()
    )
    f = f.sort_values(["grants", "funder"], ascending=[False, True], ignore_index=True)
    f["excluded"] = f["funder"].map(excluded_note)
    years = sorted({int(d.year) for d in pd.to_datetime(grants["award_date"]).dropna()})
    return f, years


def upload_programmes(grants: pd.DataFrame, funders: Sequence[str]) -> pd.DataFrame:
    """Programmes of the chosen funders in an uploaded file: programme, grants."""
    sel = grants[_funder_of(grants).isin(list(funders))]
    prog = sel["programme"].fillna(NO_PROGRAMME)
    out = prog.value_counts().rename_axis("programme").reset_index(name="grants")
    return out.sort_values(["grants", "programme"], ascending=[False, True], ignore_index=True)


def _funder_of(grants: pd.DataFrame) -> pd.Series:
    """A grant's funder as shown: its name, else its identifier, else 'funder not given'."""
    return grants["funder_name"].fillna(grants["funder_id"]).fillna("(funder not given)")


# =============================================================================================
# Cells: grants reduced to (district, ward, grants, £)
# =============================================================================================


def published_cells(funders: Sequence[str], years: Sequence[int], db=None) -> pd.DataFrame:
    """Cells of the 2013–2018 aggregate for the chosen funders and award years."""
    funders, years = list(funders), [int(y) for y in years]
    if not funders or not years:
        return _empty_cells()
    return _db.query(
        """
        SELECT district_code, ward_code, sum(grants)::BIGINT AS grants, sum(amount_gbp) AS amount_gbp,
               0::BIGINT AS grants_without_gbp, sum(amount_gbp) AS amount_by_address
        FROM grants_agg WHERE list_contains(?::VARCHAR[], funder) AND list_contains(?::INTEGER[], award_year)
        GROUP BY ALL ORDER BY ALL""",
        [funders, years],
        db=db,
    )


def covid_cells(funders: Sequence[str], years: Sequence[int], programmes: Sequence[str] = (), db=None) -> pd.DataFrame:
    """Cells of the record-level grants for the chosen funders, award years and (optionally)
    programmes; no programme chosen = all of the funders' programmes."""
    funders, years, programmes = list(funders), [int(y) for y in years], list(programmes)
    if not funders or not years:
        return _empty_cells()
    return _db.query(
        """
        SELECT district_code, ward_code, count(*) AS grants, sum(amount_gbp) AS amount_gbp,
               count(*) - count(amount_gbp) AS grants_without_gbp,
               coalesce(sum(amount_gbp) FILTER (WHERE list_contains(?::VARCHAR[], placed_by)), 0) AS amount_by_address
        FROM grants
        WHERE list_contains(?::VARCHAR[], coalesce(funder_name, funder_id))
          AND list_contains(?::INTEGER[], year(award_date))
          AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], coalesce(programme, ?)))
        GROUP BY ALL ORDER BY ALL""",
        [list(BY_RECIPIENT_ADDRESS), funders, years, programmes, programmes, NO_PROGRAMME],
        db=db,
    )


def upload_cells(
    placed: pd.DataFrame, funders: Sequence[str], years: Sequence[int], programmes: Sequence[str] = ()
) -> pd.DataFrame:
    """Cells of an uploaded, placed file for the chosen funders, years and programmes (pandas
    only: the file never enters the database)."""
    sel = placed[_funder_of(placed).isin(list(funders))]
    sel = sel[pd.to_datetime(sel["award_date"]).dt.year.isin([int(y) for y in years])]
    if programmes:
        sel = sel[sel["programme"].fillna(NO_PROGRAMME).isin(list(programmes))]
    if sel.empty:
        return _empty_cells()
    keys = sel[["district_code", "ward_code"]].astype(object)
    by_address = sel["amount_gbp"].where(sel["placed_by"].isin(BY_RECIPIENT_ADDRESS), 0.0).fillna(0.0)
    g = pd.DataFrame(
        {
            "district_code": keys["district_code"],
            "ward_code": keys["ward_code"],
            "amount_gbp": sel["amount_gbp"],
            "no_gbp": sel["amount_gbp"].isna(),
            "by_address": by_address,
        }
    )
    out = (
        g.groupby(["district_code", "ward_code"], dropna=False, sort=True)
        .agg(
            grants=("amount_gbp", "size"),
            amount_gbp=("amount_gbp", "sum"),
            grants_without_gbp=("no_gbp", "sum"),
            amount_by_address=("by_address", "sum"),
        )
        .reset_index()
    )
    out["grants"] = out["grants"].astype("int64")
    out["grants_without_gbp"] = out["grants_without_gbp"].astype("int64")
    out["amount_gbp"] = out["amount_gbp"].mask(out["grants_without_gbp"] >= out["grants"])  # no £: unknown
    for c in ("district_code", "ward_code"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out[CELL_COLUMNS]


def _empty_cells() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district_code": pd.Series(dtype=object),
            "ward_code": pd.Series(dtype=object),
            "grants": pd.Series(dtype="int64"),
            "amount_gbp": pd.Series(dtype=float),
            "grants_without_gbp": pd.Series(dtype="int64"),
            "amount_by_address": pd.Series(dtype=float),
        }
    )


# =============================================================================================
# Context: areas with deprivation, population, and council effort (database)
# =============================================================================================


def area_context(level: str, db=None) -> pd.DataFrame:
    """Every current area of a level with its district, deprivation decile (1 = most deprived) and
    its IoD edition ('IoD 2025'), IMD score, and population with its year (latest period of each;
    NULL stays NULL)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose from {list(LEVELS)}")
    return _db.query(
        """
        WITH latest AS (
            SELECT v.area_code, v.indicator_id, v.value, v.period
            FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = ?
            WHERE v.indicator_id IN (?, ?, ?)
            QUALIFY row_number() OVER (PARTITION BY v.area_code, v.indicator_id ORDER BY v.period DESC) = 1)
        SELECT a.code, a.name, a.district_code, d.name AS district_name,
               dec.value AS imd_decile, 'IoD ' || dec.period AS imd_edition, sc.value AS imd_score,
               pop.value AS population, pop.period AS population_year
        FROM areas a
        LEFT JOIN areas d ON d.code = a.district_code
        LEFT JOIN latest dec ON dec.area_code = a.code AND dec.indicator_id = ?
        LEFT JOIN latest sc ON sc.area_code = a.code AND sc.indicator_id = ?
        LEFT JOIN latest pop ON pop.area_code = a.code AND pop.indicator_id = ?
        WHERE a.level = ? ORDER BY a.code""",
        [level, IMD_DECILE, IMD_SCORE, POPULATION, IMD_DECILE, IMD_SCORE, POPULATION, level],
        db=db,
    )


def effort_periods(db=None) -> list[str]:
    """Financial years with a council-effort index (oldest first)."""
    return _index.periods(db=db)


def default_effort_period(years: Sequence[int], periods: Sequence[str]) -> str | None:
    """The council year to show beside grants of ``years``: grants awarded in calendar year Y
    count in financial year Y-(Y+1) (as in the index), so the latest index year matching a
    chosen award year; else the latest index year."""
    periods = list(periods)
    if not periods:
        return None
    matching = [p for p in periods if int(p[:4]) in {int(y) for y in years}]
    return (matching or periods)[-1]


def council_effort(period: str, weights: dict | None = None, db=None) -> pd.DataFrame:
    """District councils' effort in one financial year (place lens): district_code,
    enabler_ratio (community £ per £100 of council spending), council_index (0–100),
    council_rank (1 = most enabling), council_n_in_group, council_group, and effort_period (the
    financial year of these figures, named in every table beside them). NaN where missing."""
    ix = _index.compute_index("district", period, weights, "place", None, db)
    ratio = _db.query(
        """SELECT v.area_code, v.value AS enabler_ratio FROM indicator_values v
                         JOIN areas a ON a.code = v.area_code AND a.level = 'district'
                         WHERE v.indicator_id = 'enabler_ratio' AND v.period = ?""",
        [period],
        db=db,
    )
    out = ix[["area_code", "index", "rank", "n_in_group", "group"]].merge(ratio, on="area_code", how="left")
    out = out.rename(
        columns={
            "area_code": "district_code",
            "index": "council_index",
            "rank": "council_rank",
            "n_in_group": "council_n_in_group",
            "group": "council_group",
        }
    )
    out["effort_period"] = period
    return out[
        [
            "district_code",
            "effort_period",
            "enabler_ratio",
            "council_index",
            "council_rank",
            "council_n_in_group",
            "council_group",
        ]
    ]


# =============================================================================================
# Spread measures on cells (pure)
# =============================================================================================


def money_by_area(cells: pd.DataFrame, areas: pd.DataFrame, area_col: str) -> pd.DataFrame:
    """:func:`spread.amount_by_area` for cells: every area of ``areas`` with the grants, the £ and
    the grants not in pounds placed in it. £0 where the selection gave nothing (a real zero); NaN
    where every grant there is not in pounds (the £ amount is unknown, never £0). Cells not
    placed in an area of ``areas`` are left out here and counted by :func:`cell_reach`."""
    placed = cells[cells[area_col].notna()]
    totals = placed.groupby(area_col).agg(
        grants=("grants", "sum"), amount_gbp=("amount_gbp", "sum"), grants_without_gbp=("grants_without_gbp", "sum")
    )
    totals["amount_gbp"] = totals["amount_gbp"].mask(totals["grants_without_gbp"] >= totals["grants"])
    out = areas.merge(totals, how="left", left_on="code", right_index=True)
    nothing = out["grants"].isna()
    out["grants"] = out["grants"].fillna(0).astype("int64")
    out["grants_without_gbp"] = out["grants_without_gbp"].fillna(0).astype("int64")
    out["amount_gbp"] = out["amount_gbp"].astype(float).mask(nothing, 0.0)
    return out


def cell_reach(cells: pd.DataFrame, codes: Sequence[str], area_col: str) -> dict:
    """:func:`spread.reach` for cells (same keys): areas of ``codes`` with at least one grant,
    and grants not placed at this level or placed outside ``codes``."""
    codes = set(codes)
    placed = cells[area_col].notna()
    inside = cells[area_col].isin(codes)
    reached = cells.loc[inside & (cells["grants"] > 0), area_col].nunique()
    return {
        "grants": int(cells["grants"].sum()),
        "grants_placed": int(cells.loc[placed, "grants"].sum()),
        "grants_unplaced": int(cells.loc[~placed, "grants"].sum()),
        "grants_outside_areas": int(cells.loc[placed & ~inside, "grants"].sum()),
        "amount_unplaced": float(cells.loc[~placed, "amount_gbp"].sum()),
        "areas_total": len(codes),
        "areas_reached": int(reached),
        "share_reached": reached / len(codes) if codes else float("nan"),
    }


def ward_judgement(cells: pd.DataFrame, districts: Sequence[str]) -> pd.DataFrame:
    """Per current district: grants placed there, of which in current wards, the share, and
    whether its wards can be judged (share ≥ WARD_MATCH_MIN, or no grant there: a real zero)."""
    in_d = cells[cells["district_code"].notna()]
    g = in_d.groupby("district_code")["grants"].sum()
    w = in_d[in_d["ward_code"].notna()].groupby("district_code")["grants"].sum()
    out = pd.DataFrame({"district_code": list(districts)})
    out["grants"] = out["district_code"].map(g).fillna(0).astype("int64")
    out["grants_in_wards"] = out["district_code"].map(w).fillna(0).astype("int64")
    out["ward_share"] = (out["grants_in_wards"] / out["grants"].where(out["grants"] > 0)).astype(float)
    out["wards_judged"] = (out["grants"] == 0) | (out["ward_share"] >= WARD_MATCH_MIN)
    return out


@dataclass
class SpreadReport:
    """Everything the Programme spread view shows for one selection at one level."""

    level: str
    grants: int
    amount_gbp: float
    grants_without_gbp: int
    grants_in_england: int  # placed in a current district
    grants_in_wards: int  # of those, placed in a current (Dec 2023) ward
    reach_district: dict  # over every current district
    reach_ward: dict  # over the wards that can be judged
    wards_total: int
    wards_judged: int
    districts_wards_not_judged: int
    by_area: pd.DataFrame  # every area of the level; NaN money = not judged (wards) or £ unknown
    gini: float
    lorenz: pd.DataFrame
    need: pd.DataFrame
    need_attrs: dict
    cold: pd.DataFrame
    cold_attrs: dict
    judgement: pd.DataFrame
    head_offices: pd.DataFrame | None = None  # districts flagged (head_office_flags)
    #: areas (otherwise judged) whose grants are all not in pounds: £ unknown, left out of every measure
    areas_without_gbp: int = 0

    @property
    def areas_judged(self) -> int:
        return int(self.by_area["amount_gbp"].notna().sum())

    def without_gbp_text(self, areas: str) -> str | None:
        """What happens to the areas whose grants are all not in pounds (None when there is none)."""
        k = self.areas_without_gbp
        if not k:
            return None
        noun = charts.counted(k, areas.rstrip("s"), areas)
        return (
            f"{noun} whose grants are all not in pounds {'has' if k == 1 else 'have'} no £ figure: shown as no "
            "data, never £0, and not judged (left out of the concentration, need alignment and cold spots)"
        )

    def ward_coverage_text(self) -> str:
        """The statement required beside every ward figure."""
        n, m = self.grants_in_wards, self.grants_in_england
        share = f" ({n / m:.0%})" if m else ""
        return f"{n:,} of {m:,} grants placed in current wards{share}"


def geography(db=None) -> pd.DataFrame:
    """Every current district and ward: code, level, district_code (the comparison sets)."""
    return _db.query(
        "SELECT code, level, district_code FROM areas WHERE level IN ('district', 'ward') ORDER BY level, code", db=db
    )


def spread_report(
    cells: pd.DataFrame,
    context: pd.DataFrame,
    effort: pd.DataFrame | None,
    level: str,
    geo: pd.DataFrame,
    scope: str = "england",
    award_years: Sequence[int] = (),
) -> SpreadReport:
    """Reach, Gini, Lorenz, need alignment and cold spots for one selection.

    ``context``: :func:`area_context` of ``level``; ``effort``: :func:`council_effort` (joined on
    each area's district, so a ward shows its district council's effort); ``geo``:
    :func:`geography` (every district and ward, for reach and the ward judgement); ``scope``
    (:data:`SCOPES`): the areas compared — district reach is always over all of England;
    ``award_years``: the selection's award years, named beside its money in the tables.
    An area whose grants are all not in pounds has an unknown £ amount: it is left out of the
    Gini, Lorenz curve, need alignment and cold spots like a ward that cannot be judged, and
    counted in ``areas_without_gbp``."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose from {list(SCOPES)}")
    districts = geo.loc[geo["level"] == "district", "code"].tolist()
    wards = geo[geo["level"] == "ward"]
    if scope == "reached":
        reached = set(cells.loc[cells["district_code"].notna() & (cells["grants"] > 0), "district_code"])
        wards = wards[wards["district_code"].isin(reached)]
        context = context[context["district_code"].isin(reached)]
    judgement = ward_judgement(cells, districts)
    judged_district = judgement.set_index("district_code")["wards_judged"]
    judged_wards = wards.loc[wards["district_code"].map(judged_district).fillna(False).astype(bool), "code"]

    by_area, without_gbp = _money_by_judged_area(cells, context, level, judged_wards, award_years)
    if effort is not None:
        by_area = by_area.merge(effort, on="district_code", how="left")
    judged = by_area[by_area["amount_gbp"].notna()]
    need = _with_periods(_need_by_decile(judged), judged)
    cold = spread.cold_spots(judged, IMD_DECILE, population_col="population")
    offices = head_office_flags(cells, context if level == "district" else _district_context(context, geo))
    by_area["note"] = area_notes(by_area, offices, level)
    return SpreadReport(
        level=level,
        grants=int(cells["grants"].sum()),
        amount_gbp=float(cells["amount_gbp"].sum()),
        grants_without_gbp=int(cells["grants_without_gbp"].sum()),
        grants_in_england=int(cells.loc[cells["district_code"].notna(), "grants"].sum()),
        grants_in_wards=int(cells.loc[cells["ward_code"].notna(), "grants"].sum()),
        reach_district=cell_reach(cells, districts, "district_code"),
        reach_ward=cell_reach(cells, judged_wards, "ward_code"),
        wards_total=len(wards),
        wards_judged=len(judged_wards),
        districts_wards_not_judged=int((~judgement["wards_judged"]).sum()),
        by_area=by_area,
        gini=spread.gini(judged["amount_gbp"]),
        lorenz=spread.lorenz(judged["amount_gbp"]).assign(award_years=years_text(award_years)),
        need=need,
        need_attrs=dict(need.attrs),
        cold=cold,
        cold_attrs=dict(cold.attrs),
        judgement=judgement,
        head_offices=offices,
        areas_without_gbp=int(without_gbp.sum()),
    )


def _money_by_judged_area(
    cells: pd.DataFrame, context: pd.DataFrame, level: str, judged_wards: pd.Series, award_years: Sequence[int]
) -> tuple[pd.DataFrame, pd.Series]:
    """Money and grants per area with £ per resident and the award years; a ward that cannot be
    judged has none. Also which areas have only grants not in pounds (an unknown £ amount)."""
    by_area = money_by_area(cells, context, "district_code" if level == "district" else "ward_code")
    without_gbp = by_area["amount_gbp"].isna()  # every grant there is not in pounds
    if level == "ward":
        not_judged = ~by_area["code"].isin(set(judged_wards))
        by_area.loc[not_judged, ["grants", "amount_gbp", "grants_without_gbp"]] = np.nan
        without_gbp &= ~not_judged
    by_area["amount_per_head"] = by_area["amount_gbp"] / by_area["population"].where(by_area["population"] > 0)
    by_area.insert(by_area.columns.get_loc("grants"), "award_years", years_text(award_years))
    return by_area, without_gbp


def _need_by_decile(judged: pd.DataFrame) -> pd.DataFrame:
    """Money's share by deprivation decile beside each decile's share of areas and of residents."""
    need = spread.need_alignment(judged, IMD_DECILE)
    need_pop = spread.need_alignment(judged, IMD_DECILE, weight_col="population")
    with_decile = judged[judged[IMD_DECILE].notna()]
    need["population"] = (
        with_decile.groupby(with_decile[IMD_DECILE].astype(int))["population"]
        .sum(min_count=1)
        .reindex(need["decile"])
        .to_numpy()
    )
    need["share_of_population"] = need_pop["share_of_weight"].to_numpy()
    need["ratio_to_population"] = need_pop["ratio"].to_numpy()
    return need


def years_text(years: Sequence[int]) -> str | None:
    """Award years as the tables name them: '2014, 2015' (None when none was given)."""
    return ", ".join(str(int(y)) for y in sorted(set(years))) or None


def _periods_of(values: pd.Series) -> str | None:
    """The period(s) of a column's figures as one text: '2021', or '2019, 2021' when they differ."""
    found = sorted({str(v) for v in values.dropna()})
    return ", ".join(found) or None


def _with_periods(need: pd.DataFrame, judged: pd.DataFrame) -> pd.DataFrame:
    """The need table with the period of each of its figures: award years of the money, the
    population's year and the deprivation (IoD) edition of the areas judged."""
    out = need.assign(
        imd_edition=_periods_of(judged["imd_edition"]) if "imd_edition" in judged else None,
        population_year=_periods_of(judged["population_year"]) if "population_year" in judged else None,
    )
    if "award_years" in judged:
        out.insert(out.columns.get_loc("areas") + 1, "award_years", _periods_of(judged["award_years"]))
    out.attrs = dict(need.attrs)
    return out


def _district_context(context: pd.DataFrame, geo: pd.DataFrame) -> pd.DataFrame:
    """District names and populations summed from their wards (for the flag at ward level)."""
    pop = context.groupby("district_code")["population"].sum(min_count=1)
    names = context.drop_duplicates("district_code").set_index("district_code")["district_name"]
    codes = geo.loc[geo["level"] == "district", "code"]
    return pd.DataFrame({"code": codes, "name": codes.map(names), "population": codes.map(pop)})


def head_office_flags(cells: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
    """Districts whose money looks recorded at registered offices rather than spent there: money
    placed by recipient address of at least HEAD_OFFICE_RATIO × the median £ per resident of the
    districts reached, and at least HEAD_OFFICE_SHARE of the selection's placed money (the City of
    London, 8,600 residents and many national charities' head offices, is the case in point).
    Grants placed by a beneficiary location never count towards it. Returns code, name,
    amount_by_address, per_head, times_median, share_of_money (largest first)."""
    placed = cells[cells["district_code"].notna()]
    money = placed.groupby("district_code")[["amount_gbp", "amount_by_address"]].sum()
    d = districts[["code", "name", "population"]].merge(money, left_on="code", right_index=True, how="inner")
    d = d[(d["amount_gbp"] > 0) & (d["population"] > 0)]
    cols = ["code", "name", "amount_by_address", "per_head", "times_median", "share_of_money"]
    total = float(money["amount_gbp"].sum())
    if d.empty or total <= 0:
        return pd.DataFrame(columns=cols)
    median = float((d["amount_gbp"] / d["population"]).median())
    d = d.assign(per_head=d["amount_by_address"] / d["population"], share_of_money=d["amount_by_address"] / total)
    d["times_median"] = d["per_head"] / median if median > 0 else np.nan
    flagged = d[(d["times_median"] >= HEAD_OFFICE_RATIO) & (d["share_of_money"] >= HEAD_OFFICE_SHARE)]
    return flagged.sort_values("amount_by_address", ascending=False, ignore_index=True)[cols]


def head_office_note(row) -> str:
    return (
        f"money recorded at registered offices? £{row.per_head:,.0f} per resident by recipient address, "
        f"{row.times_median:,.0f}× the median district reached"
    )


def area_notes(by_area: pd.DataFrame, offices: pd.DataFrame, level: str) -> pd.Series:
    """Per area: the head-office flag (a ward shows its district's), 'none recorded in this file'
    where the selection has no grant there, and what grants not in pounds do to its £ figures
    (:func:`not_in_pounds_note`); else empty."""
    flags = {r.code: head_office_note(r) for r in offices.itertuples()}
    key = by_area["code"] if level == "district" else by_area["district_code"]
    note = key.map(flags)
    empty = by_area["grants"].eq(0) & note.isna()
    note = note.where(~empty, NONE_RECORDED)
    money = [not_in_pounds_note(n, k) for n, k in zip(by_area["grants"], by_area["grants_without_gbp"])]
    both = ["; ".join(t for t in (a, b) if isinstance(t, str)) or None for a, b in zip(note, money, strict=True)]
    return pd.Series(both, index=by_area.index, dtype=object)


def not_in_pounds_note(grants, without_gbp) -> str | None:
    """What an area's grants not in pounds do to its £ figures: all of them → the £ amount is
    unknown (no data, not judged); some → the £ figures count only the others. None otherwise."""
    if not without_gbp or without_gbp != without_gbp:
        return None
    k = int(without_gbp)
    if k >= grants:
        return (
            f"{'its only grant is' if k == 1 else f'all {k:,} grants are'} not in pounds: £ amount unknown, not judged"
        )
    rest = int(grants) - k
    return f"{charts.counted(k, 'grant')} not in pounds: £ figures count only the other {charts.counted(rest, 'grant')}"


def spread_from_db(
    dataset: str,
    funders: Sequence[str],
    years: Sequence[int],
    programmes: Sequence[str],
    level: str,
    effort_period: str | None,
    weights: dict | None = None,
    scope: str = "england",
    db=None,
) -> SpreadReport:
    """The whole Programme spread view for a stored dataset (one call, so a page caches it)."""
    if dataset == "published":
        cells = published_cells(funders, years, db)
    elif dataset == "covid":
        cells = covid_cells(funders, years, programmes, db)
    else:
        raise ValueError(f"unknown stored dataset {dataset!r}")
    return spread_report(
        cells,
        area_context(level, db),
        council_effort(effort_period, weights, db) if effort_period else None,
        level,
        geography(db),
        scope,
        years,
    )


def spread_from_upload(
    placed: pd.DataFrame,
    funders: Sequence[str],
    years: Sequence[int],
    programmes: Sequence[str],
    level: str,
    context: pd.DataFrame,
    effort: pd.DataFrame | None,
    geo: pd.DataFrame,
    scope: str = "england",
) -> SpreadReport:
    """The Programme spread view for an uploaded file (context, effort and geography come from
    the database — cached by the page —; the grants never go there)."""
    cells = upload_cells(placed, funders, years, programmes)
    return spread_report(cells, context, effort, level, geo, scope, years)


def map_values(report: SpreadReport, measure: str, district: str | None = None) -> pd.DataFrame:
    """code, name, value for the choropleth: the chosen measure; NaN (drawn as no data) where a
    ward cannot be judged or a per-head figure has no population. ``district``: only the wards
    (or the district itself) of that district, to zoom in."""
    col = {"amount": "amount_gbp", "grants": "grants", "per_head": "amount_per_head"}[measure]
    df = report.by_area
    if district is not None:
        df = df[df["district_code"] == district]
    name = (
        df["name"] + df["note"].map(lambda n: f" ({n})" if isinstance(n, str) else "") if "note" in df else df["name"]
    )
    df = df[["code", col]].rename(columns={col: "value"}).assign(name=name)[["code", "name", "value"]]
    return df.assign(value=df["value"].astype(float)).reset_index(drop=True)


def area_table(report: SpreadReport) -> pd.DataFrame:
    """The by-area table shown beside the map: money, need and council effort side by side, each
    with its period in a column of its own (award years, population year, IoD edition, effort
    year), so a downloaded file names them as the screen does."""
    cols = [
        "code",
        "name",
        "district_name",
        "award_years",
        "grants",
        "amount_gbp",
        "population",
        "population_year",
        "amount_per_head",
        "imd_decile",
        "imd_edition",
        "effort_period",
        "enabler_ratio",
        "council_index",
        "council_rank",
        "council_n_in_group",
        "note",
    ]
    df = report.by_area[[c for c in cols if c in report.by_area.columns]]
    if report.level == "district":
        df = df.drop(columns="district_name")
    reached = df["grants"].gt(0).rename("_reached")  # areas with grants first, those of unknown £ last among them
    order = pd.concat([df, reached], axis=1).sort_values(
        ["_reached", "amount_gbp", "code"], ascending=[False, False, True], na_position="last"
    )
    return df.loc[order.index].reset_index(drop=True)


def cold_table(report: SpreadReport) -> pd.DataFrame:
    """Cold spots, ranked (rank 1 = coldest), with the council effort beside them (and each
    figure's period in a column, as in :func:`area_table`)."""
    cols = [
        "rank",
        "code",
        "name",
        "district_name",
        "imd_decile",
        "imd_edition",
        "population",
        "population_year",
        "award_years",
        "grants",
        "amount_gbp",
        "amount_per_head",
        "effort_period",
        "enabler_ratio",
        "council_index",
        "council_rank",
    ]
    df = report.cold
    out = df[[c for c in cols if c in df.columns]]
    return out.drop(columns="district_name") if report.level == "district" else out


# =============================================================================================
# Upload: read → place → keep in memory (never stored)
# =============================================================================================


@dataclass
class UploadResult:
    """One uploaded file, read, checked and placed — held in the uploader's session only."""

    filename: str
    size_bytes: int
    format: str | None = None
    rows_read: int = 0
    placed: pd.DataFrame | None = None  # good rows with placement columns (place_grants)
    problems: pd.DataFrame | None = None  # severity, check, message, sheet, row, column, cell, grant_id
    placement: pd.DataFrame | None = None  # placement_summary
    error: str | None = None  # the whole file could not be used
    groups: pd.DataFrame | None = None  # problems grouped by kind and column (grants360.group_problems)
    sheets: pd.DataFrame | None = None  # per sheet: rows read, template rows, grants, why skipped

    @property
    def ok(self) -> bool:
        return self.error is None and self.placed is not None and len(self.placed) > 0


PROBLEM_COLUMNS = ["severity", "check", "message", "sheet", "row", "column", "cell", "grant_id"]


#: What this page can offer a file over the row limit: the page holds one file at a time (another
#: replaces it) and the limit is a server setting, but the limit is per sheet.
UPLOAD_ROW_LIMIT_ADVICE = (
    "this page reads one file at a time, so two halves cannot be analysed together — put the grants on "
    "two or more sheets of one workbook (.xlsx), each under the limit with the same heading row, and upload that"
)


def analyse_upload(
    data: bytes, filename: str, max_bytes: int, max_rows: int = MAX_UPLOAD_ROWS, db=None, today=None
) -> UploadResult:
    """Read a funder's file with :func:`grants360.read_360giving` (same checks as the ETL), place
    its grants with :func:`grants360.place_grants` on a read-only view of the database, and return
    everything in memory. Nothing is written anywhere; the caller keeps the result in its own
    browser session. A file over ``max_bytes`` or ``max_rows``, or one that is not 360Giving data,
    gives a result with ``error`` set and the located problem in ``problems``."""
    size = len(data)
    if size > max_bytes:
        msg = f"the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB — split it into smaller files"
        return UploadResult(filename, size, error=msg, problems=_file_problem(msg))
    try:
        gf = read_360giving(data, filename, max_rows=max_rows, today=today)
    except TooManyRows as exc:
        exc = exc.advised(UPLOAD_ROW_LIMIT_ADVICE)
        return UploadResult(
            filename, size, error=str(exc), problems=_file_problem(exc.message, exc.sheet, exc.row, exc.column)
        )
    except GrantsFileError as exc:
        return UploadResult(
            filename, size, error=str(exc), problems=_file_problem(exc.message, exc.sheet, exc.row, exc.column)
        )
    problems = gf.problems_frame()
    groups, sheets = group_problems(problems), gf.sheets_frame()
    if gf.grants.empty:
        return UploadResult(
            filename,
            size,
            gf.format,
            gf.rows_read,
            gf.grants,
            problems,
            error="no grant in the file could be loaded (see the problems below)",
            groups=groups,
            sheets=sheets,
        )
    placed = place_grants(gf.grants, area_lookup(db))
    return UploadResult(
        filename,
        size,
        gf.format,
        gf.rows_read,
        placed,
        problems,
        placement_summary(placed),
        groups=groups,
        sheets=sheets,
    )


def placed_grants_table(placed: pd.DataFrame) -> pd.DataFrame:
    """Per grant: where it was placed and from which location — the beneficiary location codes
    when they placed it, else the recipient's postcode or the recipient organisation's location
    codes — or why it was not placed."""
    rule = placed["placed_by"].fillna("")
    used = placed["beneficiary_codes"].where(
        rule.str.startswith("beneficiary"),
        placed["recipient_postcode"].where(
            rule == "recipient_postcode",
            placed.get("recipient_location_codes", pd.Series(None, index=placed.index, dtype=object)).where(
                rule == "recipient_location"
            ),
        ),
    )
    out = placed.assign(location_used=used, placed_by=placed["placed_by"].fillna("not placed"))
    cols = [
        "grant_id",
        "sheet",
        "row",
        "funder_name",
        "amount_gbp",
        "award_date",
        "placed_by",
        "location_used",
        "district_code",
        "ward_code",
        "place_note",
    ]
    return out[[c for c in cols if c in out.columns]].reset_index(drop=True)


def problems_csv(result: UploadResult) -> bytes:
    """Every problem of an upload, one line each, as CSV (the fast full export)."""
    frame = result.problems if result.problems is not None else pd.DataFrame(columns=PROBLEM_COLUMNS)
    return downloads.to_csv_bytes(frame)


def placed_grants_csv(placed: pd.DataFrame) -> bytes:
    """:func:`placed_grants_table` as CSV (per grant: a plain CSV keeps a 50,000-grant file fast)."""
    return downloads.to_csv_bytes(placed_grants_table(placed))


def _file_problem(message: str, sheet=None, row=None, column=None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "severity": "error",
                "check": "file",
                "message": message,
                "sheet": sheet,
                "row": row,
                "column": column,
                "cell": None,
                "grant_id": None,
            }
        ],
        columns=PROBLEM_COLUMNS,
    )


def area_lookup(db=None) -> AreaLookup:
    """Codes → current areas from the published build (read-only), cached per build: it is
    reference data from the shared database, the same for every session, never an upload."""
    path = str(Path(db) if db is not None else config.db_path())
    with _db.snapshot(path) as key:
        return _area_lookup(path, key)


@functools.lru_cache(maxsize=2)
def _area_lookup(path: str, key: str) -> AreaLookup:
    with _db.connect(path) as con:
        return AreaLookup.from_db(con, postcode_fn=functools.partial(places.postcode_to_area, db_path=path))


# =============================================================================================
# Figures (palette, layout and alt-text style of powerbalance.charts)
# =============================================================================================


def _layout(fig: go.Figure, height: int, x_title: str, y_title: str, x_range=None, y_range=None) -> go.Figure:
    """The charts module's look (white, AF palette, light grid, legend on top) for the two
    figure types it does not build — using only its public constants."""
    axis = dict(showgrid=True, gridcolor=charts.GRID, zeroline=False, linecolor=charts.DARK_GREY, automargin=True)
    fig.update_layout(
        template=None,
        height=height,
        paper_bgcolor="#FFFFFF",
        plot_bgcolor="#FFFFFF",
        font=dict(family="Source Sans, Arial, sans-serif", size=14, color=charts.TEXT),
        margin=dict(l=8, r=8, t=8, b=8),
        hoverlabel=dict(bgcolor="#FFFFFF", font=dict(color=charts.TEXT)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, xanchor="left"),
        xaxis=dict(axis, title=dict(text=charts.wrap(x_title)), range=x_range),  # fits a phone
        yaxis=dict(axis, title=dict(text=y_title), range=y_range),
    )
    return fig


def lorenz_chart(report: SpreadReport, subject: str) -> tuple[go.Figure, str]:
    """Lorenz curve of money across the areas judged, with the line of equality, and alt text."""
    curve = report.lorenz
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 100],
            mode="lines",
            name="Every area the same (equality)",
            line=dict(color=charts.DARK_GREY, dash="dash", width=1.5),
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=(100 * curve["share_of_areas"]).tolist(),
            y=(100 * curve["share_of_amount"]).tolist(),
            mode="lines",
            name="This selection",
            line=dict(color=charts.DARK_BLUE, width=3),
            hovertemplate="poorest-funded %{x:.0f}% of " + subject + " get %{y:.1f}% of the money<extra></extra>",
        )
    )
    _layout(
        fig, 360, f"Share of {subject}, least funded first (%)", "Cumulative share of money (%)", [0, 100], [0, 100]
    )
    n = report.areas_judged
    if not n or curve["share_of_amount"].isna().all():
        return fig, f"Lorenz curve: no money was placed in any of the {n:,} {subject}, so there is no curve."
    half = _share_at(curve, 0.5)
    top10 = 1 - _share_at(curve, 0.9)
    alt = (
        f"Lorenz curve of money across {n:,} {subject}, least funded first. Gini coefficient "
        f"{charts.fmt(report.gini, 2)} (0 = every area the same, near 1 = all in one area). "
        f"The least funded half of {subject} get {half:.1%} of the money; the best funded 10% get {top10:.1%}."
    )
    return fig, alt


def _share_at(curve: pd.DataFrame, x: float) -> float:
    """Cumulative share of money at a share of areas (linear between the curve's points)."""
    return float(np.interp(x, curve["share_of_areas"], curve["share_of_amount"]))


def need_chart(report: SpreadReport, subject: str) -> tuple[go.Figure, str]:
    """Share of money by deprivation decile (bars) beside each decile's share of residents
    (grey diamonds): a bar above its diamond = more than an even share per resident. The two
    differ by shape as well as colour."""
    n = report.need
    labels = [_decile_label(d) for d in n["decile"]]
    money, residents = (100 * n["share_of_amount"]).tolist(), (100 * n["share_of_population"]).tolist()
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=labels,
            y=_nan_to_none(money),
            name="Share of money",
            marker=dict(color=charts.DARK_BLUE),
            text=[charts.fmt(v, 1, "%") for v in money],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:.1f}% of the money<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=_nan_to_none(residents),
            name="Share of residents",
            mode="markers",
            marker=dict(color=charts.DARK_GREY, symbol="diamond", size=12, line=dict(color="#FFFFFF", width=1)),
            hovertemplate="%{x}: %{y:.1f}% of residents<extra></extra>",
        )
    )
    _layout(fig, 380, "Deprivation decile (IoD 2025)", "Share (%)")
    fig.update_xaxes(type="category", showgrid=False)
    fig.update_yaxes(rangemode="tozero")
    parts = [
        f"decile {int(d)}: {charts.fmt(m, 1, '%')} of the money, {charts.fmt(r, 1, '%')} of residents"
        for d, m, r in zip(n["decile"], money, residents)
    ]
    alt = (
        f"Bar chart of the share of money placed in {subject} of each deprivation decile (1 = most deprived), "
        "with each decile's share of residents as a grey diamond: " + "; ".join(parts) + "."
    )
    return fig, alt


def _decile_label(decile: int) -> str:
    """Category text for a decile (never a bare number: the axis must not turn numeric)."""
    return {1: "1 most deprived", 10: "10 least deprived"}.get(int(decile), f"Decile {int(decile)}")


def _nan_to_none(values: list) -> list:
    return [None if v is None or v != v else v for v in values]


def effort_scatter(report: SpreadReport) -> tuple[go.Figure, str]:
    """Districts: council effort (enabler ratio) against the selection's £ per resident; cold
    spots are orange stars, so they are found without colour. A few extreme areas (the City of
    London has 8,600 residents and national charities' head offices) would squash every other
    point onto the axis, so the y axis stops above the 98th percentile and the areas beyond it
    are named on the chart and in the alt text (their values are in the data table)."""
    d = report.by_area.dropna(subset=["enabler_ratio", "amount_per_head"])
    cold = set(report.cold["code"]) if len(report.cold) else set()
    rest, hot = d[~d["code"].isin(cold)], d[d["code"].isin(cold)]
    fig = go.Figure()
    _add_effort_points(fig, rest, hot)
    y_range, off = _effort_y_range(d)
    _layout(
        fig,
        400,
        "Council enabler ratio (£ in community hands per £100 of council spending)",
        "This selection: £ per resident",
        y_range=y_range,
    )
    if len(off):
        _name_off_scale(fig, off)
    if d.empty:
        return fig, "Scatter of council effort against funding: no district has both values."
    return fig, _effort_alt(d, hot, off, len(report.by_area))


_EFFORT_HOVER = "%{text}<br>enabler ratio %{x:.2f}<br>£%{y:,.2f} per resident<extra></extra>"


def per_resident(value: float) -> str:
    """£ per resident as the scatter's hover writes it (two decimals), so a district that got money
    never reads '£0': below a penny it reads 'under £0.01'."""
    if value == value and 0 < value < 0.005:
        return "under £0.01"
    return charts.fmt(value, 2, "£")


def _add_effort_points(fig: go.Figure, rest: pd.DataFrame, hot: pd.DataFrame) -> None:
    """Districts as blue dots; cold spots as larger orange stars (found without colour)."""
    fig.add_trace(
        go.Scatter(
            x=rest["enabler_ratio"].tolist(),
            y=rest["amount_per_head"].tolist(),
            mode="markers",
            name="District",
            text=rest["name"].tolist(),
            hovertemplate=_EFFORT_HOVER,
            marker=dict(color=charts.DARK_BLUE, size=7, opacity=0.7, symbol="circle"),
        )
    )
    if len(hot):
        fig.add_trace(
            go.Scatter(
                x=hot["enabler_ratio"].tolist(),
                y=hot["amount_per_head"].tolist(),
                mode="markers",
                name=charts.wrap("Cold spot (high need, little funding)", charts.LEGEND_CHARS),
                text=hot["name"].tolist(),
                hovertemplate=_EFFORT_HOVER.replace("%{text}", "%{text} (cold spot)"),
                marker=dict(color=charts.ORANGE, size=12, symbol="star", line=dict(color=charts.TEXT, width=1)),
            )
        )


def _effort_y_range(d: pd.DataFrame) -> tuple[list[float] | None, pd.DataFrame]:
    """A y axis stopping above the 98th percentile when a few areas lie far beyond it (with 20 or
    more districts), and those areas, highest first; else no range and no area off the scale."""
    if len(d) >= 20:
        top = float(d["amount_per_head"].quantile(0.98))
        if top > 0 and d["amount_per_head"].max() > 3 * top:
            y_range = [0, 1.15 * top]
            return y_range, d[d["amount_per_head"] > y_range[1]].sort_values("amount_per_head", ascending=False)
    return None, pd.DataFrame(columns=d.columns)


def _name_off_scale(fig: go.Figure, off: pd.DataFrame) -> None:
    names = [f"{n} {per_resident(v)}" for n, v in zip(off["name"].head(4), off["amount_per_head"].head(4))]
    fig.add_annotation(  # on short lines that fit a phone, a name never parted from its value
        text="Off the scale:<br>" + charts.wrap_items(names, 30) + ("…" if len(off) > 4 else ""),
        xref="paper",
        yref="paper",
        x=1,
        y=1,
        xanchor="right",
        yanchor="top",
        showarrow=False,
        font=dict(size=12, color=charts.TEXT),
        align="right",
        bgcolor="rgba(255,255,255,0.85)",
    )


def _effort_alt(d: pd.DataFrame, hot: pd.DataFrame, off: pd.DataFrame, n_all: int) -> str:
    """The scatter in words: how many drawn, the rank correlation, the cold spots, the areas off the
    scale and how many are not drawn."""
    rho = d["enabler_ratio"].rank().corr(d["amount_per_head"].rank())
    alt = (
        f"Scatter of {len(d):,} districts: council enabler ratio (x) against this selection's money per resident "
        f"(y). Rank correlation {charts.fmt(rho, 2)}. "
    )
    if len(hot):
        listed = ", ".join(hot["name"].head(8)) + ("…" if len(hot) > 8 else "")
        alt += f"{len(hot)} cold spot{'s are' if len(hot) > 1 else ' is'} marked as orange stars: {listed}. "
    if len(off):
        beyond = ", ".join(f"{n} ({per_resident(v)} per resident)" for n, v in zip(off["name"], off["amount_per_head"]))
        alt += f"{len(off)} beyond the top of the y axis: {beyond}. "
    if n_all > len(d):
        k = n_all - len(d)
        alt += f"{charts.counted(k, 'district')} {'lacks' if k == 1 else 'lack'} one of the two values and "
        alt += f"{'is' if k == 1 else 'are'} not drawn."
    return alt.strip()
