"""Indicator families: the loaded tables turned into per-area, per-year measures.

Every module in this package that defines ``INDICATORS`` (a tuple of
:class:`powerbalance.registry.Indicator`) and ``derive(run)`` is one family, found automatically
as ``etl/sources`` are. ``ORDER`` says when it runs; ``NEEDS`` names the families whose results
(``run.shared``) it uses, which must run before it. A family may also define ``start(run)``, called
before any family derives, to begin work in the build's helper process that its ``derive`` collects. Adding an indicator therefore means adding
one module here (definitions + derivation) and its test; ``python -m etl docs`` then regenerates
the indicator table in docs/methodology.md.

:func:`derive` is called by ``etl/build.py`` after every source has loaded. It writes one row
per area × indicator × period to ``indicator_values`` (numerator, denominator and a note saying
how the value was made) and every definition field to ``indicators``. docs/methodology.md
explains every choice.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType

import pandas as pd

from powerbalance.registry import LEVEL_ORDER, Indicator

from ..core import BuildContext, LoadReport, insert_rows
from .base import VALUE_COLUMNS, Geo


@dataclass
class Run:
    """What a family's ``derive`` gets: the new database, the areas, the report, results shared
    between families, definitions of indicators found only in the data (local measures), and the
    build's context (for work begun in its helper process; None outside a build)."""

    con: object
    geo: Geo
    rep: LoadReport
    shared: dict = field(default_factory=dict)
    extra: list[Indicator] = field(default_factory=list)
    ctx: BuildContext | None = None


def families() -> list[ModuleType]:
    """Family modules in run order; fails when a family needs one that runs later or ids repeat."""
    found = []
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "INDICATORS") and hasattr(module, "derive"):
            found.append(module)
    found.sort(key=lambda m: (m.ORDER, m.__name__))
    names = [family_name(m) for m in found]
    for i, m in enumerate(found):
        late = [n for n in getattr(m, "NEEDS", ()) if n not in names[:i]]
        if late:
            raise ValueError(f"indicator family {names[i]} needs {late}, which do not run before it (ORDER)")
    ids = [ind.id for ind in definitions(found)]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"indicator ids defined twice: {dupes}")
    return found


def family_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def definitions(found: Iterable[ModuleType] | None = None) -> tuple[Indicator, ...]:
    """Every registered indicator definition, in family order."""
    return tuple(ind for m in (families() if found is None else found) for ind in m.INDICATORS)


def derived_definitions(found: Iterable[ModuleType] | None = None) -> tuple[Indicator, ...]:
    """Definitions that :func:`derive` writes (not those a source writes with its values)."""
    found = families() if found is None else found
    return definitions([m for m in found if not getattr(m, "WRITTEN_BY_SOURCE", None)])


def derive(ctx) -> None:
    """Run every family and write ``indicator_values`` and the definitions to ``indicators``."""
    con = ctx.con
    rep = ctx.report("indicators")
    run = Run(con, Geo(con), rep, ctx=ctx)
    found = families()
    for module in found:  # helper work first, so that it runs while the families derive
        if hasattr(module, "start"):
            module.start(run)
    values = _combine([m.derive(run) for m in found])
    derived = derived_definitions(found)
    _check_defined(values, definitions(found), run.extra)
    taken = {r[0] for r in con.execute("SELECT indicator_id FROM indicators").fetchall()}
    clash = sorted(taken & {i.id for i in (*derived, *run.extra)})
    if clash:
        raise RuntimeError(f"indicator ids {clash} are already defined by a source")
    # in (area, indicator, period) order: a page's queries for one area then read few row groups
    insert_rows(con, "indicator_values", values.sort_values(["area_code", "indicator_id", "period"]))
    check_one_row_each(con)
    write_definitions(con, derived, levels_from_values=True)
    write_definitions(con, run.extra, levels_from_values=True, local=True)
    rep.rows_loaded = len(values)
    rep.facts["indicator_values"] = float(len(values))
    rep.facts["indicator_values_with_value"] = float(values["value"].notna().sum())


def check_one_row_each(con) -> None:
    """One ``indicator_values`` row per area, indicator and period, whoever wrote it (a source or
    a family): the table has no key index, so this is the check."""
    dupes = con.execute(
        "SELECT area_code, indicator_id, period, count(*) AS n FROM indicator_values "
        "GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 5"
    ).fetchall()
    if dupes:
        raise RuntimeError(f"indicator_values has more than one row for (area, indicator, period): {dupes}")


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """All families' values in one frame, text columns Arrow-backed; fails on a repeated row."""
    values = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=VALUE_COLUMNS)], ignore_index=True)
    # Arrow-backed text columns: DuckDB scans them without touching Python objects (3× faster)
    values = values.astype({"area_code": "str", "indicator_id": "str", "period": "str", "note": "str"})
    values["note"] = values["note"].where(values["note"] != "")  # an empty note is no note (missing)
    dupes = values.duplicated(["area_code", "indicator_id", "period"])
    if dupes.any():
        raise RuntimeError(f"derive produced duplicate indicator rows: {values[dupes].head().to_dict('records')}")
    return values


def _check_defined(values: pd.DataFrame, registered: Iterable[Indicator], extra: Iterable[Indicator]) -> None:
    undefined = sorted(set(values["indicator_id"].unique()) - {i.id for i in (*registered, *extra)})
    if undefined:
        raise RuntimeError(f"values derived for indicators with no definition: {undefined}")


def write_definitions(con, defs: Iterable[Indicator], levels_from_values: bool = False, local: bool = False) -> None:
    """``indicators`` rows for these definitions. ``periods`` are the periods with a value in
    ``indicator_values``; ``levels`` too when ``levels_from_values`` (else as declared).
    ``is_local``: a measure found only in local data (``local``) or computed from local data only."""
    defs = list(defs)
    if not defs:
        return
    have = _levels_and_periods(con, [i.id for i in defs])
    rows = []
    for ind in defs:
        levels, periods = have.get(ind.id, ("", ""))
        is_local = local or ind.source_ids.split(",")[0] == "local_data"
        rows.append(
            (
                ind.id,
                ind.name,
                ind.domain,
                ind.unit,
                ind.polarity,
                ind.scored,
                ind.description,
                ind.source_ids,
                levels if levels_from_values else ind.levels,
                is_local,
                ind.lens,
                ind.static,
                ind.local_scored,
                periods,
            )
        )
    insert_rows(
        con,
        "indicators",
        rows,
        [
            "indicator_id",
            "name",
            "domain",
            "unit",
            "polarity",
            "scored",
            "description",
            "source_ids",
            "levels",
            "is_local",
            "lens",
            "static",
            "local_scored",
            "periods",
        ],
    )


def _levels_and_periods(con, ids: list[str]) -> dict[str, tuple[str, str]]:
    """indicator id → (levels with a value, smallest first; periods with a value, in order)."""
    df = con.execute(
        """
        SELECT v.indicator_id, list(DISTINCT a.level) AS levels, list(DISTINCT v.period ORDER BY v.period) AS periods
        FROM indicator_values v LEFT JOIN areas a ON a.code = v.area_code
        WHERE v.value IS NOT NULL AND v.indicator_id IN (SELECT unnest(?))
        GROUP BY v.indicator_id""",
        [ids],
    ).fetchall()
    return {
        i: (",".join(x for x in LEVEL_ORDER if x in set(lv)), ",".join(p for p in per if p is not None))
        for i, lv, per in df
    }
