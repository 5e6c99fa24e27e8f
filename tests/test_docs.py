"""docs/methodology.md's indicator table is generated from the registry (``python -m etl docs``)."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd

from etl import docs
from etl.indicators import definitions


def test_committed_methodology_table_is_current():
    assert docs.update_methodology(check=True), "docs/methodology.md is stale: run python -m etl docs"


def test_table_has_one_row_per_indicator_in_plain_words():
    table = docs.indicator_table()
    defs = definitions()
    assert len(table.splitlines()) == 2 + len(defs)
    for ind in defs:
        assert f"| `{ind.id}` | {ind.name} |" in table
    assert "| higher means more providing | yes (place lens) |" in table  # place_spend_per_head


def test_a_changed_definition_makes_the_document_stale(tmp_path):
    doc = tmp_path / "methodology.md"
    doc.write_text(docs.METHODOLOGY.read_text(encoding="utf-8"), encoding="utf-8")
    assert docs.update_methodology(doc, check=True)
    first = definitions()[0]
    renamed = (dataclasses.replace(first, name=first.name + " (renamed)"), *definitions()[1:])
    assert f"{first.name} (renamed)" in docs.indicator_table(renamed)
    doc.write_text(doc.read_text(encoding="utf-8").replace(f"| {first.name} |", "| old name |"), encoding="utf-8")
    assert not docs.update_methodology(doc, check=True)
    assert docs.update_methodology(doc) is False and docs.update_methodology(doc, check=True)


# The Method page shows docs/methodology.md under its live figures: a figure the document quotes must be
# the build's, or the page contradicts itself on the same settings.

LIVE_ON_THE_METHOD_PAGE = re.compile(
    r"median of \d+ places|\d+ of \d+ areas move|\d+ of \d+ (?:shire districts|single-tier councils) (?:and|are)"
    r"|median band is \d+"
)


def test_methodology_quotes_no_figure_the_method_page_computes_live():
    """Review: the document said "median of 8 places… 73 of 295" and "44 of 164 shire districts" while the
    live text above it said 7, 63 and 56 for the same settings. Those figures are the page's, not the
    document's: it refers to them."""
    text = docs.METHODOLOGY.read_text(encoding="utf-8")
    assert LIVE_ON_THE_METHOD_PAGE.findall(text) == []


def _coverage_rows(text: str) -> tuple[list[str], dict[str, list[str]]]:
    block = text.split("## Coverage on the real data", 1)[1].split("\n## ", 1)[0]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines() if line.startswith("|")
    ]
    return rows[0][1:], {r[0]: r[1:] for r in rows[2:]}


def _first_numbers(cell: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", cell.split("(")[0])]


def test_methodology_coverage_table_is_the_builds(real_db):
    """Review: the table said 172 districts have parished_wards_share (the 2018 parish list) where the
    build has 216. Every figure of the table is recounted here from the build."""
    from powerbalance import index
    from tests.helpers import sql

    text = docs.METHODOLOGY.read_text(encoding="utf-8")
    periods, rows = _coverage_rows(text)
    assert periods and set(periods) <= set(index.periods(real_db))

    def has_value(ind: str) -> dict[str, int]:
        got = sql(
            real_db,
            "SELECT period, count(*) AS n FROM indicator_values v JOIN areas a ON a.code = v.area_code "
            "AND a.level = 'district' WHERE indicator_id = ? AND value IS NOT NULL GROUP BY period",
            [ind],
        )
        return dict(zip(got["period"], got["n"]))

    def with_index(level: str, period: str) -> int:
        lenses = [x for x in index.LENSES if not (level == "region" and x == "council")]
        got = [index.compute_index(level, period, lens=x, db=real_db)["index"].notna() for x in lenses]
        return int(pd.concat(got, axis=1).any(axis=1).sum())

    reached, parished = has_value("wards_reached_share"), has_value("parished_wards_share")
    n_districts = len(index.compute_index("district", periods[0], db=real_db))
    for i, period in enumerate(periods):
        assert _first_numbers(rows["districts with an index (either lens)"][i]) == [
            with_index("district", period),
            n_districts,
        ]
        assert _first_numbers(rows["counties / regions with an index"][i]) == [
            with_index("county", period),
            with_index("region", period),
        ]
        assert _first_numbers(rows["districts with `wards_reached_share`"][i]) == [reached[period]]
        assert _first_numbers(rows["districts with `parished_wards_share`"][i]) == list(parished.values())
    assert f"{next(iter(parished.values()))} of {n_districts} districts have a value" in text


def test_the_docs_name_the_builds_latest_finance_year(real_db):
    """CONTRIBUTING, "Add a year": the pages read a new year from the data, but the methodology's
    Periods table and the README's summary are prose. A new Revenue Outturn year fails here until
    they name it (a reviewer found them silently stale after adding one)."""
    import duckdb

    from powerbalance import config

    with duckdb.connect(str(real_db), read_only=True) as con:
        periods = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT period FROM indicator_values WHERE indicator_id = 'place_spend_per_head' "
                "AND value IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
    latest = periods[-1]
    methodology = (config.ROOT / "docs" / "methodology.md").read_text(encoding="utf-8")
    finance_row = next(line for line in methodology.splitlines() if line.startswith("| Council finance"))
    for period in periods:
        assert period in finance_row or _within_a_named_run(period, finance_row), period
    readme = (config.ROOT / "README.md").read_text(encoding="utf-8")
    assert f"longest shift 2010-11 → {latest}" in readme
    assert f"and {latest} (" in readme  # "The finance series runs … and <latest> (… gaps …)"


def _within_a_named_run(period: str, text: str) -> bool:
    """'2012-13' lies in a run written 'financial years 2010-11 … 2014-15'."""
    return any(a <= period <= b for a, b in re.findall(r"(\d{4}-\d\d) … (\d{4}-\d\d)", text))


def test_the_scored_column_names_exactly_the_lenses_whose_index_scores_each_indicator():
    """Review: parish_precept_share read plain "yes" although the default community lens leaves it out, so
    the index could not be recomputed from the published definitions. Each row names the lenses (or "every
    lens") whose index spec (powerbalance.index.spec_for, what the index really scores) holds it."""
    from powerbalance.index import LENSES, spec_for

    defs = definitions()
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[6].strip()
        for line in docs.indicator_table().splitlines()[2:]
    }
    for lens in LENSES:
        scored = set(spec_for(lens, defs=defs).domain)
        named = {i for i, words in rows.items() if words.startswith("yes") and (lens in words or "every lens" in words)}
        assert named == scored, lens
    assert rows["parish_precept_share"] == "yes (place and council lenses)"
