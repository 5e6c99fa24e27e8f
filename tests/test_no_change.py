"""Proof of "no change" for refactors (issue 11): the real build's derived data is exactly what
``main`` produced before the indicator registry moved to etl/indicators/.

The digests are of sorted ``indicator_values`` rows (numbers to 6 significant digits) and of the
``indicators`` definitions (tests.helpers.indicator_digest). Work that is MEANT to change the
data (a new year, indicator or source) updates them in the same commit, saying why:
``python -c "from tests.helpers import indicator_digest; print(indicator_digest('data/powerbalance.duckdb'))"``.
"""

from __future__ import annotations

from tests.helpers import indicator_digest

VALUES_SHA256 = "960f2d96a4437c7cc0b80080545d29943440dddf39d1ff78a8882d761718e350"
DEFINITIONS_SHA256 = "22c0d36e8bf6eee36bfa2c606f359d095c481a7442b72e8d9ab540587ade877b"


def test_indicator_values_and_definitions_are_unchanged(real_db):
    assert indicator_digest(real_db) == (VALUES_SHA256, DEFINITIONS_SHA256)
