"""Open exports per build: CSV and Parquet of every area-level table with a JSON catalogue,
written into the build's own static folder; they equal the database of the build they name, and
an older build's files stay exactly as long as its boundary folder."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

from etl import build as _build
from etl.exports import CATALOGUE, EXPORT_DIR, INDEX_TABLE, TABLES
from powerbalance import queries
from powerbalance.index import DEFAULT_WEIGHTS
from tests.helpers import sql

pytestmark = pytest.mark.slow


def _exports(built):
    _, static, result = built
    return static / "geo" / result.build_id / EXPORT_DIR


def test_catalogue_names_its_build_and_describes_every_table(built):
    db, _, result = built
    cat = json.loads((_exports(built) / CATALOGUE).read_text(encoding="utf-8"))
    assert cat["build_id"] == result.build_id == sql(db, "SELECT build_id FROM build_info")["build_id"][0]
    assert [t["name"] for t in cat["tables"]] == [*TABLES, "index"]
    for t in cat["tables"]:
        assert t["build_id"] == result.build_id and "Open Government Licence" in t["licence"]
        assert t["rows"] > 0 and t["columns"] and all({"name", "type", "unit"} <= set(c) for c in t["columns"])
    units = {c["name"]: c["unit"] for c in cat["tables"][list(TABLES).index("indicator_values")]["columns"]}
    assert units["value"] and "unit" in units


@pytest.mark.parametrize("name", list(TABLES))
def test_files_equal_the_database_they_name(built, name):
    """CSV and Parquet hold exactly the rows of the table in the build's database."""
    db, _, _ = built
    folder = _exports(built)
    want = sql(db, TABLES[name][1])
    parquet = pd.read_parquet(folder / f"{name}.parquet")
    assert list(parquet.columns) == list(want.columns)
    pd.testing.assert_frame_equal(parquet.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    csv = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
    assert len(csv) == len(want) and list(csv.columns) == list(want.columns)
    cat = json.loads((folder / CATALOGUE).read_text(encoding="utf-8"))
    assert next(t for t in cat["tables"] if t["name"] == name)["rows"] == len(want)
    if "value" in want:  # numbers round-trip through the CSV text
        pd.testing.assert_series_equal(
            pd.to_numeric(csv["value"].replace("", None)), want["value"], check_names=False, check_dtype=False
        )


def test_older_build_files_stay_until_its_boundary_folder_goes(built, tmp_path):
    """Exports live inside static/geo/<build>/, so pruning is one rule: a build's files go with
    its boundary folder and never before."""
    _, static, result = built
    geo = tmp_path / "geo"
    builds = [f"old{i}" for i in range(_build.KEEP_GEO_BUILDS + 1)]
    for i, name in enumerate(builds):  # oldest first: copies of a real build folder, exports included
        shutil.copytree(static / "geo" / result.build_id, geo / name)
        mtime = 1_700_000_000 + i
        os.utime(geo / name, (mtime, mtime))
    _build._prune_geo(geo, keep=builds[-1])
    kept = sorted(p.name for p in geo.iterdir())
    assert kept == sorted(builds[1:])  # the oldest boundary folder went …
    for name in kept:  # … and every kept build still has all its exports
        assert (geo / name / EXPORT_DIR / CATALOGUE).is_file()
        assert all((geo / name / EXPORT_DIR / f"{t}.parquet").is_file() for t in [*TABLES, "index"])


def test_index_file_equals_the_index_the_dashboard_computes(built):
    """The index export holds, for every level, year and lens, the default-weights index the
    pages compute from the same database."""
    db, _, _ = built
    got = pd.read_parquet(_exports(built) / "index.parquet")
    assert INDEX_TABLE[0] == "index" and len(got)
    for (level, period, lens), part in got.groupby(["level", "period", "lens"]):
        want = queries.index_table(level, period, DEFAULT_WEIGHTS, lens, None, db)
        have = part.drop(columns=["level", "period", "lens", "weights"]).set_index("area_code").sort_index()
        want = want.set_index("area_code").sort_index()[list(have.columns)]

        def missing_as_none(df):  # a missing value is missing, whether pandas says None or NaN
            return df.astype(object).where(df.notna(), None)

        pd.testing.assert_frame_equal(
            missing_as_none(have), missing_as_none(want), check_dtype=False, check_index_type=False
        )
    assert set(got["period"]) == set(queries.index_periods(db))
    assert {("region", "council")}.isdisjoint(set(zip(got["level"], got["lens"])))
