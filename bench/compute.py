"""``python -m bench.compute`` (also run by ``make bench``): how long the data work takes on the
real files — no browser, no server.

- **ETL**: a complete ``etl.build`` of the raw directory into a temporary folder, per source and
  for the derived indicators (the live database is not touched);
- **index**: ``compute_index`` for 296 districts with empty caches, again (per-build cache) and
  with new weights (what a weight slider costs); the Monte Carlo rank bands (500 draws);
- **a council's page data**: ``queries.area_profile`` for the first council asked about (empty
  caches) and then for further councils (the whole-level answers are cached per build, so a new
  council costs only its own queries).

Targets (printed beside the figures, exit code 1 when one is missed): a build under 120 s, any one
source under 30 s, derived indicators under 10 s; the index with new weights under 0.3 s (keeps up
with a slider); 500 Monte Carlo draws under 2 s; a further council's page data under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from powerbalance import config

TARGETS = {
    "build_s": 120.0,
    "slowest_source_s": 30.0,
    "derive_s": 10.0,
    "index_new_weights_s": 0.3,
    "monte_carlo_500_s": 2.0,
    "area_profile_next_s": 0.5,
}


def _timed(fn, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def etl_figures(raw: Path) -> dict:
    from etl.build import build

    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        t0 = time.perf_counter()
        result = build(raw, Path(tmp) / "pb.duckdb", static_dir=Path(tmp) / "static", log=lambda *a: None)
        total = time.perf_counter() - t0
    sources = {k: round(v, 2) for k, v in result.timings.items() if k not in ("derive_indicators", "default_answers")}
    return {
        "build_s": round(total, 2),
        "sources_s": sources,
        "slowest_source_s": max(sources.values()),
        "derive_s": round(result.timings.get("derive_indicators", float("nan")), 2),
    }


def index_figures(db: Path, councils: list[str]) -> dict:
    from powerbalance import index, queries

    period = index.periods(db)[-1]
    out = {
        "period": period,
        "index_cold_s": _timed(index.compute_index, "district", period, db=db),
        "index_cached_s": _timed(index.compute_index, "district", period, db=db),
        "index_new_weights_s": _timed(
            index.compute_index, "district", period, {"funding": 0.3, "projects": 0.7}, db=db
        ),
        "monte_carlo_500_s": _timed(index.rank_uncertainty, "district", period, n=500, seed=1, db=db),
    }
    first, *rest = councils
    out["area_profile_first_s"] = _timed(queries.area_profile, first, period, db=db)
    nexts = [_timed(queries.area_profile, c, period, db=db) for c in rest]
    out["area_profile_next_s"] = max(nexts) if nexts else float("nan")
    out["councils"] = councils
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}


def _some_councils(db: Path, per_tier: int = 2) -> list[str]:
    """Councils of every tier (shire districts, single-tier councils, counties), spread through
    each tier's list: the same ones on every run."""
    from powerbalance import db as _db

    df = _db.query("SELECT code, tier FROM areas WHERE level IN ('district', 'county') ORDER BY tier, code", db=db)
    out = []
    for _, codes in df.groupby("tier", sort=True)["code"]:
        codes = codes.tolist()
        step = max(1, len(codes) // per_tier)
        out += codes[step // 2 :: step][:per_tier]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compute", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=config.db_path())
    ap.add_argument("--raw", type=Path, default=config.raw_dir())
    ap.add_argument("--no-etl", action="store_true", help="skip the full build")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.db.exists():
        print(f"no database at {args.db}: run `make db` first", file=sys.stderr)
        return 2
    res: dict = {"cores": os.cpu_count()}
    if not args.no_etl:
        res.update(etl_figures(args.raw))
    res.update(index_figures(args.db, _some_councils(args.db)))
    missed = [k for k, limit in TARGETS.items() if k in res and not res[k] < limit]
    res["targets_missed"] = missed
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        _print(res)
    return 1 if missed else 0


def _print(r: dict) -> None:
    def line(label: str, key: str, unit: str = "s") -> None:
        target = f"(target < {TARGETS[key]} {unit})" if key in TARGETS else ""
        flag = "  MISSED" if key in r.get("targets_missed", []) else ""
        print(f"  {label:<46} {r[key]:>8.2f} {unit}  {target}{flag}")

    print(f"\nData work on the real files ({r['cores']} cores)")
    if "build_s" in r:
        print("ETL (a complete build into a temporary folder)")
        line("whole build", "build_s")
        for sid, s in sorted(r["sources_s"].items(), key=lambda kv: -kv[1]):
            print(f"    {sid:<44} {s:>8.2f} s")
        line("slowest source", "slowest_source_s")
        line("derived indicators", "derive_s")
    print(f"Index ({r['period']}, 296 districts)")
    line("compute_index, empty caches", "index_cold_s")
    line("compute_index, same again (per-build cache)", "index_cached_s")
    line("compute_index, new weights (a slider)", "index_new_weights_s")
    line("rank bands, 500 Monte Carlo draws", "monte_carlo_500_s")
    print(f"A council's page data (queries.area_profile; {', '.join(r['councils'])})")
    line("first council (empty caches)", "area_profile_first_s")
    line("slowest further council", "area_profile_next_s")


if __name__ == "__main__":
    sys.exit(main())
