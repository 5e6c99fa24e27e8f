"""Proof of "no change" for refactors (issue 11): the real build's derived data is exactly what
``main`` produced before the indicator registry moved to etl/indicators/.

The digests are of sorted ``indicator_values`` rows (numbers to 6 significant digits) and of the
``indicators`` definitions (tests.helpers.indicator_digest). Work that is MEANT to change the
data (a new year, indicator or source) updates them in the same commit, saying why:
``python -c "from tests.helpers import indicator_digest; print(indicator_digest('data/powerbalance.duckdb'))"``.
"""
from __future__ import annotations

from tests.helpers import indicator_digest

VALUES_SHA256 = "2b7bb97dcdd3b75754653e10aeb207d6d07e4481f6c2e566148560f01f4cc3c0"
DEFINITIONS_SHA256 = "1b407ba66feffec9fe3d44f4b27b28eb72dc494c76a2d5fc65f9fb29215af4f9"


def test_indicator_values_and_definitions_are_unchanged(real_db):
    assert indicator_digest(real_db) == (VALUES_SHA256, DEFINITIONS_SHA256)
