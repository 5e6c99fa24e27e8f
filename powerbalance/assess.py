"""Organiser's command line for the relationship self-assessment.

    python -m powerbalance.assess new-round --area E07000223 --closes 2027-01-31 --council 20 --community 40
    python -m powerbalance.assess rounds [--area CODE]
    python -m powerbalance.assess publish-round --round 3 [--withdraw]
    python -m powerbalance.assess export --round 3 [--format csv|html] [--out FILE]
    python -m powerbalance.assess backup --to responses-2027-01-31.sqlite
    python -m powerbalance.assess migrate

Every write goes through :mod:`powerbalance.responses` (the SQLite store named by
$POWERBALANCE_RESPONSES). The analytic DuckDB is only read, to check the area code.
"""

from __future__ import annotations

import argparse
import html
import sys
from datetime import date
from pathlib import Path

import pandas as pd

from . import responses
from .relationship import ITEMS, LABELS

#: Leading characters a spreadsheet would run as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m powerbalance.assess", description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, default=None, help="responses store (default $POWERBALANCE_RESPONSES)")
    sub = p.add_subparsers(dest="command", required=True)
    n = sub.add_parser("new-round", help="open a round for an area and print its invitation codes")
    n.add_argument("--area", required=True, help="GSS code of the area, e.g. E07000223")
    n.add_argument("--closes", required=True, type=_date, help="last day responses are accepted (YYYY-MM-DD)")
    n.add_argument("--council", type=int, default=0, help="codes for the council side")
    n.add_argument("--community", type=int, default=0, help="codes for the community side")
    n.add_argument(
        "--min-responses",
        type=int,
        default=responses.DEFAULT_MIN_RESPONSES,
        help=f"responses a side needs before it is shown (default {responses.DEFAULT_MIN_RESPONSES}, "
        f"never below {responses.MIN_RESPONSES_FLOOR})",
    )
    n.add_argument("--publish", action="store_true", help="list the round in the network view")
    r = sub.add_parser("rounds", help="list rounds with codes issued and responses received")
    r.add_argument("--area", default=None)
    pub = sub.add_parser("publish-round", help="list a round in the network view (or --withdraw it)")
    pub.add_argument("--round", type=int, required=True)
    pub.add_argument("--withdraw", action="store_true")
    e = sub.add_parser("export", help="every response of a round with its evidence text (organiser only)")
    e.add_argument("--round", type=int, required=True)
    e.add_argument("--format", choices=("csv", "html"), default="csv")
    e.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")
    b = sub.add_parser("backup", help="consistent copy of the store, safe while the dashboard runs")
    b.add_argument("--to", type=Path, required=True)
    sub.add_parser("migrate", help="bring the store to the current schema version and print it")
    return p


def area_name(code: str) -> str:
    """The area's name from the analytic database; an unknown GSS code is refused."""
    from . import queries

    info = queries.area(code)
    if info is None:
        raise responses.Rejected(
            f"{code} is not an area in the Power Balance database (use a GSS code, e.g. E07000223)"
        )
    return str(info["name"])


def new_round(args) -> str:
    name = area_name(args.area)
    rid, codes = responses.create_round(
        args.area,
        name,
        args.closes,
        args.council,
        args.community,
        min_responses=args.min_responses,
        publish=args.publish,
        path=args.store,
    )
    lines = [
        f"Round {rid} for {name} ({args.area}), open until {args.closes} inclusive"
        f"{', published in the network view' if args.publish else ''}.",
        "Each code sends one response. Hand each person one code; they are not stored and cannot be shown again.",
    ]
    for side in responses.SIDES:
        lines.append(f"\n{side} codes ({len(codes[side])}):")
        lines.extend(codes[side])
    return "\n".join(lines)


def neutralise(value):
    """A text cell a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


ROUND_COLUMNS = ["round", "area_code", "area", "opened_on", "closes_on"]


def export_table(round_id: int, path=None) -> pd.DataFrame:
    """The round's responses, each row naming its round, area and dates, the statements in the
    questionnaire's order (five principles, then Leadership, Selflessness, Trust, Momentum, Risk)."""
    df = responses.round_export(round_id, path)
    r = responses.rounds(path=path)
    r = r[r["round_id"] == int(round_id)].iloc[0]
    for n, (col, value) in enumerate(
        zip(ROUND_COLUMNS, [int(round_id), r["area_code"], r["area_name"], r["opened_on"], r["closes_on"]])
    ):
        df.insert(n, col, value)
    rest = [c for c in df.columns if c not in ITEMS]
    df = df[rest + [i for i in ITEMS if i in df.columns]]
    return df.rename(columns={i: LABELS[i] for i in ITEMS if i in df.columns})


def export_title(df: pd.DataFrame, round_id: int) -> str:
    """What the HTML export is of: 'Responses, round 1, Adur (E07000223), closing 2027-01-31'."""
    if df.empty:
        return f"Responses, round {round_id}"
    first = df.iloc[0]
    return f"Responses, round {round_id}, {first['area']} ({first['area_code']}), closing {first['closes_on']}"


def export_text(df: pd.DataFrame, fmt: str, title: str = "Responses") -> str:
    """CSV with formula-like cells neutralised, or an HTML table with every cell escaped."""
    if fmt == "csv":
        return df.map(neutralise).to_csv(index=False)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>'
        f"<h1>{html.escape(title)}</h1><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>"
    )


def export(args) -> str:
    if not (responses.rounds(path=args.store)["round_id"] == args.round).any():
        raise responses.Rejected(f"there is no round {args.round}")
    table = export_table(args.round, args.store)
    text = export_text(table, args.format, export_title(table, args.round))
    if args.out is None:
        return text
    args.out.write_text(text, encoding="utf-8")
    return f"wrote {args.out}"


def run(argv: list[str] | None = None) -> str:
    args = parser().parse_args(argv)
    if args.command == "new-round":
        return new_round(args)
    if args.command == "rounds":
        return responses.rounds(args.area, path=args.store).to_string(index=False)
    if args.command == "publish-round":
        responses.set_published(args.round, not args.withdraw, path=args.store)
        return f"round {args.round} {'withdrawn from' if args.withdraw else 'listed in'} the network view"
    if args.command == "export":
        return export(args)
    if args.command == "backup":
        return f"backed up to {responses.backup(args.to, args.store)}"
    with responses.writing(args.store):
        pass
    return f"schema version {responses.SCHEMA_VERSION}"


def main(argv: list[str] | None = None) -> int:
    try:
        print(run(argv))
    except responses.Rejected as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
