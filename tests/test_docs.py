"""docs/methodology.md's indicator table is generated from the registry (``python -m etl docs``)."""

from __future__ import annotations

import dataclasses

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
