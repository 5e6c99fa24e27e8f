"""Warm a server process's caches before it accepts connections (``powerbalance.serve`` calls
:func:`warm_caches`).

What every visitor needs with default settings — the index, its Monte Carlo rank bands and the
shift between the first and last year, for every level, year and lens, with the default weights
(as the pages pass them), and every council's statistical neighbours — is computed here once per
process and build, and so is every council's profile as My area first shows it, so the first
visitors after a start get warm answers instead of paying for them while 25 others wait. Nothing
here imports Streamlit.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from powerbalance import benchmarks, index, queries, values


def import_page_modules() -> list[str]:
    """Import every module of this package (the pages' helpers among them, Streamlit too), so the
    first visitor's page does not pay for the imports. Returns their names."""
    import importlib
    import pkgutil

    import powerbalance

    names = [f"powerbalance.{m.name}" for m in pkgutil.iter_modules(powerbalance.__path__)]
    skip = {"powerbalance.serve", "powerbalance.cluster", "powerbalance.__main__"}
    for name in names:
        if name not in skip:
            importlib.import_module(name)
    return names


def default_combinations(db=None) -> list[tuple[str, str, str]]:
    """(level, lens, period) of every index the pages can show (regions have no council lens)."""
    return [
        (level, lens, period)
        for level in index.LEVELS
        for lens in index.LENSES
        if not (lens == "council" and level == "region")
        for period in index.periods(db)
    ]


def default_requests(db=None) -> list[tuple[str, Callable[[], object]]]:
    """(label, call) for every whole-level answer a page asks for with default settings."""
    weights = dict(index.DEFAULT_WEIGHTS)  # what the pages pass (ui.carried_weights), not None
    out: list[tuple[str, Callable[[], object]]] = [("neighbours", lambda: index.peers(_any_council(db), k=10, db=db))]
    for level, lens, period in default_combinations(db):
        out.append(
            (
                f"index {level} {lens} {period}",
                lambda lv=level, ln=lens, p=period: index.compute_index(lv, p, weights, ln, db=db),
            )
        )
        # the Method page compares the chosen weights with the defaults asked for as None
        out.append(
            (
                f"index {level} {lens} {period} (weights=None)",
                lambda lv=level, ln=lens, p=period: index.compute_index(lv, p, None, ln, db=db),
            )
        )
        out.append(
            (
                f"rank bands {level} {lens} {period}",
                lambda lv=level, ln=lens, p=period: index.rank_uncertainty(lv, p, weights, ln, db=db),
            )
        )
    for level, lens in dict.fromkeys((lv, ln) for lv, ln, _ in default_combinations(db)):
        out.append(
            (f"shift {level} {lens}", lambda lv=level, ln=lens: index.shift(lv, lens=ln, weights=weights, db=db))
        )
    return out + page_requests(db)


def page_requests(db=None) -> list[tuple[str, Callable[[], object]]]:
    """(label, call) for the whole-level answers of :mod:`powerbalance.queries` that every council's
    My area and Compare pages share (kept per build, ``db.per_build``): with these warm, a council's
    first look reads only its own rows."""
    weights = index.normalise_weights(dict(index.DEFAULT_WEIGHTS))
    out: list[tuple[str, Callable[[], object]]] = [
        ("areas", lambda: queries.area(_any_council(db), db=db)),
        ("build info", lambda: (queries.build_info(db), queries.attributions(db), benchmarks.source_titles(db))),
        # every indicator value, read once and sliced by area (powerbalance.values)
        ("indicator values", lambda: (values.of_areas([], db), values.indicator_meta(db))),  # levels kept with them
        ("map views", lambda: queries.area_bounds([], db)),  # every boundary's box, read once
    ]
    for level, lens, period in default_combinations(db):
        out.append(
            (
                f"index table {level} {lens} {period}",
                lambda lv=level, ln=lens, p=period: queries.index_table(lv, p, weights, ln, None, db),
            )
        )
        out.append(
            (
                f"rank bands table {level} {lens} {period}",
                lambda lv=level, ln=lens, p=period: queries.rank_bands(lv, p, weights, ln, None, 500, db),
            )
        )
    for level in ("district", "county"):
        out.append((f"quadrants {level}", lambda lv=level: queries.quadrant_areas(lv, db)))
    return out + council_profiles(db)


def council_profiles(db=None) -> list[tuple[str, Callable[[], object]]]:
    """(label, call) for every council's profile as My area first shows it (latest year, default
    weights and lens): the largest part of a council's first look, about 7 s for all 317 at
    start-up and about 70 MB kept, so 25 councillors opening 25 councils at once do not compute
    them while the others wait."""
    periods = index.periods(db)
    if not periods:
        return []
    weights = dict(index.DEFAULT_WEIGHTS)  # what ui.carried_weights hands the page
    return [
        (f"profile {code}", lambda c=code: queries.area_profile(c, periods[-1], weights, index.DEFAULT_LENS, db))
        for code in queries.councils(db)["code"]
    ]


def _any_council(db) -> str:
    info, _ = index.peer_features(db)
    return info.index[0]


def warm_caches(db=None, log: Callable[[str], None] = print) -> dict[str, float]:
    """Compute every default answer (see :func:`default_requests`); returns seconds per answer.
    A failure is logged and skipped: a cold cache is slower, never wrong."""
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    try:
        requests = default_requests(db)
    except Exception as exc:  # noqa: BLE001 - e.g. a damaged database: the pages say so to users
        log(f"warm-up skipped: {type(exc).__name__}: {exc}")
        return timings
    for label, call in requests:
        t0 = time.perf_counter()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the page will say what is wrong when asked
            log(f"warm-up: {label} failed: {type(exc).__name__}: {exc}")
            continue
        timings[label] = time.perf_counter() - t0
    log(f"warm-up: {len(timings)} default answers computed in {time.perf_counter() - t_all:.1f} s")
    return timings
