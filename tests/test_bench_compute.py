"""``bench/compute.py`` (part of ``make bench``) runs on the real build and reports every figure it
promises. It asserts no timing — speed targets are the bench's business, printed, not tested."""

from __future__ import annotations

import json
import math

from bench import compute


def test_compute_bench_reports_every_figure(real_db, capsys):
    rc = compute.main(["--db", str(real_db), "--no-etl", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc in (0, 1) and (rc == 1) == bool(out["targets_missed"])
    assert set(out["targets_missed"]) <= set(compute.TARGETS)
    for key in (
        "index_cold_s",
        "index_cached_s",
        "index_new_weights_s",
        "monte_carlo_500_s",
        "area_profile_first_s",
        "area_profile_next_s",
    ):
        assert math.isfinite(out[key]) and out[key] >= 0, key
    # councils of every tier are timed: shire districts, single-tier councils and counties
    tiers = {c[:3] for c in out["councils"]}
    assert {"E07", "E10"} <= tiers and tiers & {"E06", "E08", "E09"}
    assert out["period"] == "2017-18"
