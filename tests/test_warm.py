"""The server's warm-up (powerbalance.warm, run by powerbalance.serve before it listens): after it,
the pages with default settings — every level and lens of the Overview, the Method page's rank
bands, My area's neighbours — compute no whole-level answer again; they only look them up."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from bench import served_app
from powerbalance import index, warm

LOOKUPS = ("_index_cached", "_bands_cached", "_neighbours_cached")


def _misses() -> dict[str, int]:
    return {name: getattr(index, name).cache_info().misses for name in LOOKUPS}


def _clear() -> None:
    for name in ("_load", *LOOKUPS):
        getattr(index, name).cache_clear()


@pytest.fixture(scope="module")
def app(real_db, built):
    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


def test_warm_up_computes_every_default_answer(real_db):
    _clear()
    timings = warm.warm_caches(real_db, log=lambda *a: None)
    periods = index.periods(real_db)
    # level-lens pairs (regions have no council lens) x periods x (index with the default weights
    # as a dict and as None, bands) + a shift per pair + neighbours
    pairs = [(lv, ln) for lv in index.LEVELS for ln in index.LENSES if (lv, ln) != ("region", "council")]
    # and the answers of powerbalance.queries every council's page shares (warm.page_requests)
    assert len(timings) == len(pairs) * len(periods) * 3 + len(pairs) + 1 + len(warm.page_requests(real_db))
    before = _misses()
    warm.warm_caches(real_db, log=lambda *a: None)
    assert _misses() == before  # the second time every answer is a lookup


@pytest.mark.parametrize(
    "page, params",
    [
        ("pages/overview_page.py", {}),
        ("pages/overview_page.py", {"level": "county", "lens": "council"}),
        ("pages/overview_page.py", {"level": "region"}),
        ("pages/method_page.py", {}),
        ("pages/my_area_page.py", {"area": "E07000223"}),
    ],
)
def test_default_pages_after_warm_up_compute_nothing_whole_level(app, real_db, page, params):
    _clear()
    warm.warm_caches(real_db, log=lambda *a: None)
    before = _misses()
    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=300)
    at.run()
    at.switch_page(page)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    assert _misses() == before, f"{page} {params} computed {_misses()} (after warm-up: {before})"


SHARED = ("index_table", "quadrant_areas", "build_info", "attributions", "_area_rows")


def test_a_new_councils_first_look_reads_only_its_own_rows(app, real_db):
    """After the warm-up, My area for councils nobody has opened computes none of the answers every
    council shares (a level's index table, shifts, quadrants, the areas lookup) again."""
    from powerbalance import queries

    warm.warm_caches(real_db, log=lambda *a: None)
    codes = queries.councils(real_db)["code"].tolist()[-3:]
    before = {name: getattr(queries, name).kept.misses for name in SHARED} | {"shift": index.shift.kept.misses}
    for code in codes:
        at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=300)
        at.run()
        at.switch_page("pages/my_area_page.py")
        at.query_params["area"] = code
        at.run()
        assert not at.exception
        name = queries.area(code, real_db)["name"]
        assert any(name in (h.value or "") for h in [*at.title, *at.header, *at.subheader, *at.markdown])
    assert {name: getattr(queries, name).kept.misses for name in SHARED} | {"shift": index.shift.kept.misses} == before


def test_every_councils_first_look_finds_its_profile_made(app, real_db):
    """The warm-up makes every council's profile as My area first shows it (latest year, default
    weights and lens): a council nobody has opened is then shown without making it again, while a
    view the warm-up did not make (another year) is made on the first visit."""
    from powerbalance import queries

    timings = warm.warm_caches(real_db, log=lambda *a: None)
    codes = queries.councils(real_db)["code"].tolist()
    assert {f"profile {code}" for code in codes} <= set(timings)
    kept = queries.area_profile.kept
    for code, year in ((codes[-1], None), (codes[-2], None), (codes[-2], index.periods(real_db)[0])):
        before = kept.misses
        at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=300)
        at.run()
        at.switch_page("pages/my_area_page.py")
        at.query_params.update({"area": code} | ({"year": year} if year else {}))
        at.run()
        assert not at.exception
        assert kept.misses == before + (1 if year else 0), (code, year)
