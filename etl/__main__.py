"""Command line: ``python -m etl build [--raw DIR] [--db PATH]``, ``python -m etl fetch``, ``python -m etl templates``
and ``python -m etl docs [--check]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from powerbalance import config

from .core import EtlInputError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m etl", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the database from raw files and publish it atomically")
    b.add_argument(
        "--raw",
        type=Path,
        default=None,
        help="raw data directory (default: $POWERBALANCE_RAW_DIR, ../shared/data, data/raw)",
    )
    b.add_argument("--db", type=Path, default=None, help="database path (default: data/powerbalance.duckdb)")
    b.add_argument("--static", type=Path, default=None, help="static folder for boundary files (default: static/)")
    b.add_argument("--if-missing", action="store_true", help="do nothing when the database already exists")
    b.add_argument("--no-fetch", action="store_true", help="never download missing raw files")

    f = sub.add_parser("fetch", help="download raw files from their public origins and verify sha256")
    f.add_argument("--into", type=Path, default=None, help="target directory (default: data/raw)")
    f.add_argument("--base-url", default=None, help="origin base URL (default: raw GitHub content)")
    f.add_argument("--only", nargs="*", default=None, help="only these paths (relative to the raw dir)")

    t = sub.add_parser("templates", help="write the local-data templates (CSV, XLSX, Table Schema)")
    t.add_argument("--out", type=Path, default=config.ROOT / "templates" / "local")

    d = sub.add_parser("docs", help="regenerate the indicator table in docs/methodology.md from the registry")
    d.add_argument("--check", action="store_true", help="only check: exit 1 when the document is stale")

    args = ap.parse_args(argv)
    try:
        if args.cmd == "build":
            db = args.db or config.db_path()
            if args.if_missing and db.exists():
                print(f"database exists: {db} (use 'python -m etl build' to rebuild)")
                return 0
            raw = args.raw or config.raw_dir()
            if not raw.is_dir() and not args.no_fetch:
                from .fetch import fetch

                print(f"raw directory {raw} not found: fetching from the publishers' origins")
                fetch(raw)
            from .build import build

            print(f"building {db} from {raw}")
            build(raw, db, static_dir=args.static or config.static_dir())
        elif args.cmd == "templates":
            from .sources.local_data import write_templates

            for p in write_templates(args.out):
                print(f"wrote {p}")
        elif args.cmd == "docs":
            from .docs import METHODOLOGY, update_methodology

            current = update_methodology(check=args.check)
            if args.check and not current:
                print(f"{METHODOLOGY} is stale: run python -m etl docs", file=sys.stderr)
                return 1
            print(f"{METHODOLOGY}: " + ("up to date" if current else "indicator table rewritten"))
        elif args.cmd == "fetch":
            from .fetch import fetch

            fetch(args.into or (config.ROOT / "data" / "raw"), base_url=args.base_url, only=args.only)
    except EtlInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.cmd == "build":
            print("nothing was published; the previous database (if any) is still serving", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
