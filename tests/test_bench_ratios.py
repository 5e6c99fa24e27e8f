"""``make bench`` reports every issue-13 target as a ratio to a floor measured in the same run
(bench/ratios.py). What is checked is that every figure is measured and reported — never how fast
anything is (timings belong in the bench, not in tests)."""

from __future__ import annotations

import math

import pytest

from bench import ratios


def test_report_prints_every_target_and_flags_a_missed_one():
    r = {
        "cores": 2,
        "sessions": 3,
        "reruns": 1,
        "failures": [],
        "raw_read_s": 1.0,
        "etl_build_s": 2.0,
        "raw_read_cpu_s": 1.0,
        "etl_build_cpu_s": 2.0,
        "etl_build_cpu_ratio": 2.0,
        **{k: 1.0 for k in ratios.TARGETS},
    }
    r["nginx_throughput_ratio"] = 1.2  # below its minimum
    text = ratios.report(r)
    for key, (target, _, what) in ratios.TARGETS.items():
        line = next(line for line in text.splitlines() if what in line)
        assert f"target {'<=' if ratios.TARGETS[key][1] == 'max' else '>='} {target}x" in line
        assert line.endswith("MISSED") == (key == "nginx_throughput_ratio")
    assert not ratios.met("etl_build_ratio", float("nan"))  # an unmeasured figure is never "met"


@pytest.mark.slow
def test_bench_measures_every_figure_on_the_real_build(real_db, built, raw_dir):
    _, static, _ = built
    r = ratios.measure(
        real_db, static, raw_dir, sessions=3, reruns=1, single_reruns=2, nginx_rounds=2, load_rounds=2, memory_visits=6
    )
    assert r["failures"] == []
    # first looks and loads: runs alternating with the bare page's, the figure the ratio of medians
    for figure, floor in (("first_look_p95", "bare_first_p95"), ("load_rerun_p95", "bare_load_rerun_p95")):
        assert len(r[f"{figure}_runs"]) == len(r[f"{floor}_runs"]) == 2
        assert r[f"{figure}_ratio"] == pytest.approx(r[f"{figure}_s"] / r[f"{floor}_s"])
        assert r[f"{figure}_s"] == pytest.approx(sum(r[f"{figure}_runs"]) / 2, abs=0.01)
    measured = {k: r.get(k) for k in ratios.TARGETS}
    if "nginx_skipped" in r:
        measured.pop("nginx_throughput_ratio")
    else:  # one worker and two, measured alternately: the figure is the ratio of the medians
        runs1, runs2 = r["throughput_1_workers_runs"], r["throughput_2_workers_runs"]
        assert len(runs1) == len(runs2) == 2
        assert r["nginx_throughput_ratio"] == pytest.approx((sum(runs2) / 2) / (sum(runs1) / 2), rel=0.01)
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in measured.values()), measured
    assert set(r["pages"]) == {url for _, url in ratios.load.navigation()}  # every page's rerun measured
    assert all(len(p["cpu_per_run_runs"]) == 2 for p in r["pages"].values())  # one per round, median kept
    # the informative floor: a page of as many plain elements as the worst page sends
    assert r["elements_floor"]["page"] in r["pages"] and r["elements_floor"]["elements"] > 10
    assert math.isfinite(r["rerun_cpu_vs_elements"]) and r["rerun_cpu_vs_elements"] > 0
    assert "plain elements" in ratios.report(r)
    # the informative memory figure: a worker at rest, after 6 councils' first looks, after them again
    assert r["memory_visits"] == 6 and len(r["memory_rss_mb"]) == 3 and all(v > 100 for v in r["memory_rss_mb"])
    assert r["memory_second_round_growth_mb"] == pytest.approx(r["memory_rss_mb"][2] - r["memory_rss_mb"][1], abs=0.1)
    assert "after the same visits again" in ratios.report(r)
    assert set(r["targets_missed"]) <= set(ratios.TARGETS)
    text = ratios.report(r)
    assert all(what in text for _, _, what in ratios.TARGETS.values())


def test_only_etl_measures_the_etl_figure_alone(monkeypatch, capsys, tmp_path):
    """``python -m bench.ratios --only etl`` needs no database or server: it reports the build over
    the raw read, and fails (exit 1) only when that ratio misses its target."""
    figures = {
        "raw_read_s": 1.0,
        "etl_build_s": 2.5,
        "etl_build_ratio": 2.5,
        "raw_read_cpu_s": 1.0,
        "etl_build_cpu_s": 2.4,
        "etl_build_cpu_ratio": 2.4,
    }
    asked = []
    monkeypatch.setattr(ratios, "etl_figures", lambda raw: asked.append(raw) or dict(figures))
    assert ratios.main(["--only", "etl", "--raw", str(tmp_path), "--db", str(tmp_path / "none.duckdb")]) == 0
    out = capsys.readouterr().out
    assert asked == [tmp_path]
    assert "2.50x (target <= 3.0x)" in out and "MISSED" not in out and "CPU ratio 2.40x" in out
    figures.update(etl_build_s=3.5, etl_build_ratio=3.5)
    assert ratios.main(["--only", "etl", "--raw", str(tmp_path)]) == 1
    assert "3.50x (target <= 3.0x)  MISSED" in capsys.readouterr().out


def test_sessions_that_cannot_connect_fail_the_run_at_once():
    """The sessions start together once every one has connected; one that cannot connect ends the
    wait with its error (the run neither hangs nor reports a figure)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(OSError):
        ratios.sessions_run(f"http://127.0.0.1:{port}", 3, "overview", [""], 1)
