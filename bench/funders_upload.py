"""``python -m bench.funders_upload`` (also run by ``make bench``): what exporting the problems and
results of a 20 MB funder upload costs — no browser, no server.

The upload is made here, in memory: the header and grants of tests/fixtures/funders/upload.csv
(real COVID-19 grants) repeated with new identifiers, some with UK dates, none with a Description
(a warning each) and every fifth with a negative amount (an error), up to 45,000 grants, then empty
template rows (only a pre-filled funder) until the file is 20 MB — the shape of the
files that used to flood the page (issue 14). It is analysed once with
``funders.analyse_upload`` on the live database; then each export the Funders page offers is
timed and its extra memory (tracemalloc peak, a separate pass) measured:

- the problems: every problem one per line (CSV), the grouped problems (CSV, XLSX);
- the results: per-grant placement (CSV), placement summary and the district table (CSV, XLSX).

Each is reported in seconds and MB, and as a ratio to a floor measured in the same run: reading
the 20 MB upload's raw bytes with ``csv.reader`` (the least any export of that file could cost).
Targets (exit code 1 when one is missed): every export ≤ 2 s and ≤ +200 MB.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import tracemalloc
from pathlib import Path

from powerbalance import config, downloads

TARGET_S, TARGET_MB = 2.0, 200.0
SIZE = 20 * 1024 * 1024
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "funders" / "upload.csv"


def make_upload(size: int = SIZE, grants: int = 45_000) -> bytes:
    """Real grants repeated with new ids (every third with a UK date), then template rows to ``size`` bytes."""
    rows = list(csv.reader(io.StringIO(FIXTURE.read_text(encoding="utf-8"))))
    header, body = rows[0], [r for r in rows[1:] if float(r[4]) >= 0]
    id_col, date_col = header.index("Identifier"), header.index("Award Date")
    desc_col, amount_col = header.index("Description"), header.index("Amount Awarded")
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(header)
    for i in range(grants):
        r = list(body[i % len(body)])
        r[id_col] = f"{r[id_col]}-{i}"
        r[desc_col] = ""  # a warning on every grant (Description is required)
        if i % 5 == 1:
            r[amount_col] = "-1"  # an error on every fifth
        if i % 3 == 0:
            y, m, d = r[date_col][:10].split("-")
            r[date_col] = f"{d}/{m}/{y}"
        out.writerow(r)
    template = ["" for _ in header]
    template[header.index("Funding Org:Identifier")], template[header.index("Funding Org:Name")] = (
        "GB-CHC-312800",
        "Walcot Foundation",
    )
    line = ",".join(template) + "\n"
    text = buf.getvalue()
    return (text + line * max(0, (size - len(text.encode())) // len(line))).encode()


def _measure(fn) -> tuple[float, float]:
    """(seconds, peak extra MB) of one call: timed alone, then measured under tracemalloc."""
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak / 1e6


def exports(result, db: Path) -> dict:
    """The Funders page's exports of one analysed upload, as name → zero-argument function."""
    from powerbalance import funders

    names, years = funders.upload_choices(result.placed)
    report = funders.spread_from_upload(
        result.placed,
        names["funder"].tolist(),
        years,
        [],
        "district",
        funders.area_context("district", db),
        None,
        funders.geography(db),
    )
    table = funders.area_table(report)
    return {
        "problems, every one (CSV)": lambda: funders.problems_csv(result),
        "problems grouped (CSV)": lambda: downloads.to_csv_bytes(result.groups),
        "problems grouped (XLSX)": lambda: downloads.to_xlsx_bytes(result.groups),
        "placement per grant (CSV)": lambda: funders.placed_grants_csv(result.placed),
        "placement summary (XLSX)": lambda: downloads.to_xlsx_bytes(result.placement),
        "districts table (CSV)": lambda: downloads.to_csv_bytes(table),
        "districts table (XLSX)": lambda: downloads.to_xlsx_bytes(table),
    }


def figures(db: Path) -> dict:
    from powerbalance import funders

    data = make_upload()
    floor_s, floor_mb = _measure(lambda: sum(1 for _ in csv.reader(io.StringIO(data.decode()))))
    t0 = time.perf_counter()
    result = funders.analyse_upload(data, "bench-upload.csv", max_bytes=SIZE, db=db)
    analyse_s = time.perf_counter() - t0
    if not result.ok:
        raise RuntimeError(f"the bench upload was not analysed: {result.error}")
    out = {
        "upload_mb": round(len(data) / 1e6, 1),
        "grants": len(result.placed),
        "problems": len(result.problems),
        "problem_groups": len(result.groups),
        "floor_s": round(floor_s, 3),
        "floor_mb": round(floor_mb, 1),
        "analyse_s": round(analyse_s, 2),
        "exports": {},
    }
    for name, fn in exports(result, db).items():
        s, mb = _measure(fn)
        out["exports"][name] = {"s": round(s, 3), "mb": round(mb, 1), "x_floor": round(s / floor_s, 2)}
    out["targets_missed"] = [n for n, e in out["exports"].items() if e["s"] > TARGET_S or e["mb"] > TARGET_MB]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.funders_upload", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=config.db_path())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.db.exists():
        print(f"no database at {args.db}: run `make db` first", file=sys.stderr)
        return 2
    res = figures(args.db)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        _print(res)
    return 1 if res["targets_missed"] else 0


def _print(r: dict) -> None:
    print(
        f"\nExports of a {r['upload_mb']} MB funder upload ({r['grants']:,} grants, {r['problems']:,} problems in "
        f"{r['problem_groups']} kinds; analysed in {r['analyse_s']} s)"
    )
    print(f"  floor: reading the raw upload with csv.reader    {r['floor_s']:>7.3f} s  {r['floor_mb']:>7.1f} MB")
    for name, e in r["exports"].items():
        flag = "  MISSED" if name in r["targets_missed"] else ""
        print(
            f"  {name:<46} {e['s']:>7.3f} s  {e['mb']:>7.1f} MB  {e['x_floor']:>6.2f}× floor "
            f"(target ≤ {TARGET_S} s, ≤ +{TARGET_MB:.0f} MB){flag}"
        )


if __name__ == "__main__":
    sys.exit(main())
