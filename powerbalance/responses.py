"""The one module through which every write of the relationship self-assessment goes.

Responses live in their own SQLite file (``config.responses_path()``, $POWERBALANCE_RESPONSES,
default ``data/responses.sqlite``), never in the analytic DuckDB, which stays read-only and
rebuildable. The file is in WAL mode: readers never block the one writer, and several server
processes on ONE machine may share it (SQLite's locks live in the file system and its ``-shm``
memory map; they do not work over a network file system, so never share it across machines).

Every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before anything is
read, so two writers cannot both see a code as unused) with a busy timeout, so concurrent
submissions queue instead of failing. A submission checks its invitation code, inserts the
response and its scores and marks the code used in that same transaction: a writer killed at any
point loses only its own response and leaves its code unused.

Invitation codes are ``secrets.token_urlsafe(18)`` (144 random bits), stored only as SHA-256
hashes. A code is looked up by its hash and the stored hash is compared with
``hmac.compare_digest``. The codes table has no link to the responses table, so a response
cannot be traced back to the code (or the person) that sent it. No name or e-mail is stored.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order
on every connection that writes. To move to a server database later, reimplement the public
functions of this module (same names, same errors) over the new store; nothing else writes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from . import config

SIDES = ("council", "community")
SCORE_MIN, SCORE_MAX = 1, 5
EVIDENCE_MAX = 1000  # characters of evidence text per response
MIN_RESPONSES_FLOOR = 3  # nothing is ever shown for a side with fewer responses than this
DEFAULT_MIN_RESPONSES = 5
MAX_CODES_PER_SIDE = 10_000
CODE_BYTES = 18  # 144 bits of randomness per invitation code
BUSY_TIMEOUT_MS = 30_000

#: Schema migrations, applied in order; each ends by setting ``user_version`` to its own number.
MIGRATIONS: tuple[str, ...] = (
    # 1: rounds, single-use codes (hashed), responses and their scores
    """
    CREATE TABLE rounds (
        round_id      INTEGER PRIMARY KEY,
        area_code     TEXT NOT NULL,
        area_name     TEXT NOT NULL,
        opened_on     TEXT NOT NULL,
        closes_on     TEXT NOT NULL,
        min_responses INTEGER NOT NULL CHECK (min_responses >= 3),
        published     INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1))
    );
    CREATE TABLE codes (
        code_hash TEXT PRIMARY KEY,
        round_id  INTEGER NOT NULL REFERENCES rounds(round_id),
        side      TEXT NOT NULL CHECK (side IN ('council', 'community')),
        used      INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
    ) WITHOUT ROWID;
    CREATE TABLE responses (
        response_id  INTEGER PRIMARY KEY,
        round_id     INTEGER NOT NULL REFERENCES rounds(round_id),
        side         TEXT NOT NULL CHECK (side IN ('council', 'community')),
        submitted_on TEXT NOT NULL,
        evidence     TEXT NOT NULL DEFAULT '' CHECK (length(evidence) <= 1000)
    );
    CREATE TABLE scores (
        response_id INTEGER NOT NULL REFERENCES responses(response_id),
        item        TEXT NOT NULL,
        score       INTEGER CHECK (score IS NULL OR score BETWEEN 1 AND 5),
        PRIMARY KEY (response_id, item)
    ) WITHOUT ROWID;
    CREATE INDEX responses_round ON responses(round_id, side);
    PRAGMA user_version = 1;
    """,
    # 2: when a round was published (the network view says since when)
    """
    ALTER TABLE rounds ADD COLUMN published_on TEXT;
    UPDATE rounds SET published_on = opened_on WHERE published = 1;
    PRAGMA user_version = 2;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class Rejected(ValueError):
    """A submission or command refused, with a message fit to show the person (nothing stored)."""


@dataclass(frozen=True)
class Invitation:
    """What a valid, unused code opens: one side of one round."""

    round_id: int
    side: str
    area_code: str
    area_name: str
    closes_on: str


# ---- connections and schema ---------------------------------------------------------------------


def _path(path: Path | str | None) -> Path:
    return Path(path) if path is not None else config.responses_path()


def _open(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA foreign_keys = ON")  # the busy timeout is connect()'s timeout
    return con


@contextmanager
def writing(path: Path | str | None = None) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE) on a migrated store, committed on success and
    rolled back on any error. Creates the file, in WAL mode, when it does not exist."""
    p = _path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with closing(_open(p)) as con:
        if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")
        migrate(con)
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


@contextmanager
def reading(path: Path | str | None = None) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when the store does not exist yet (reading never creates it)."""
    p = _path(path)
    if not p.exists():
        yield None
        return
    if _stored_version(p) < SCHEMA_VERSION:  # an older store is brought up to date before it is read
        with writing(p):
            pass
    with closing(_open_read_only(p)) as con:
        yield con if schema_version(con) >= 1 else None


def _open_read_only(p: Path) -> sqlite3.Connection:
    return sqlite3.connect(
        p.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )


def _stored_version(p: Path) -> int:
    with closing(_open_read_only(p)) as con:
        return schema_version(con)


def schema_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def migrate(con: sqlite3.Connection) -> int:
    """Apply the migrations this store has not had yet, each in its own transaction; returns the
    version. A store newer than this code is refused rather than written by old code."""
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"responses store has schema version {version}; this code knows up to "
            f"{SCHEMA_VERSION}: upgrade Power Balance before writing to it"
        )
    while version < SCHEMA_VERSION:
        con.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(con) == version:  # another process may have migrated meanwhile
                for statement in _statements(MIGRATIONS[version]):
                    con.execute(statement)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        version = schema_version(con)
    return version


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


# ---- codes ---------------------------------------------------------------------------------------


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def _find_code(con: sqlite3.Connection, code: str, today: date | None) -> Invitation:
    """The invitation behind an unused code of an open round, else :class:`Rejected`."""
    wanted = hash_code(code or "")
    row = con.execute(
        "SELECT c.code_hash, c.round_id, c.side, c.used, r.area_code, r.area_name, r.closes_on "
        "FROM codes c JOIN rounds r USING (round_id) WHERE c.code_hash = ?",
        (wanted,),
    ).fetchone()
    if row is None or not hmac.compare_digest(row[0], wanted):
        raise Rejected("This code is not recognised. Check it was typed exactly as given.")
    if row[3]:
        raise Rejected("This code has already been used: each code sends one response.")
    if _today(today).isoformat() > row[6]:
        raise Rejected(f"This round closed on {row[6]}: responses are no longer accepted.")
    return Invitation(round_id=row[1], side=row[2], area_code=row[4], area_name=row[5], closes_on=row[6])


def check_code(code: str, *, today: date | None = None, path: Path | str | None = None) -> Invitation:
    """What a code opens, without using it (the form is shown; :func:`submit` uses it)."""
    with reading(path) as con:
        if con is None:
            raise Rejected("This code is not recognised. Check it was typed exactly as given.")
        return _find_code(con, code, today)


# ---- writes --------------------------------------------------------------------------------------


def create_round(
    area_code: str,
    area_name: str,
    closes_on: date,
    council: int,
    community: int,
    *,
    min_responses: int = DEFAULT_MIN_RESPONSES,
    publish: bool = False,
    today: date | None = None,
    path: Path | str | None = None,
) -> tuple[int, dict[str, list[str]]]:
    """Open a round for one area; returns (round id, {side: [plain codes]}). The plain codes
    exist only in this return value: the store keeps their hashes."""
    opened = _today(today)
    _check_round(closes_on, opened, council, community, min_responses)
    codes = {"council": [new_code() for _ in range(council)], "community": [new_code() for _ in range(community)]}
    with writing(path) as con:
        cur = con.execute(
            "INSERT INTO rounds (area_code, area_name, opened_on, closes_on, min_responses, published, "
            "published_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                area_code,
                area_name,
                opened.isoformat(),
                closes_on.isoformat(),
                int(min_responses),
                int(publish),
                opened.isoformat() if publish else None,
            ),
        )
        round_id = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO codes (code_hash, round_id, side) VALUES (?, ?, ?)",
            [(hash_code(c), round_id, side) for side, cs in codes.items() for c in cs],
        )
    return round_id, codes


def _check_round(closes_on: date, opened: date, council: int, community: int, min_responses: int) -> None:
    if closes_on < opened:
        raise Rejected(f"the closing date {closes_on} is before today ({opened})")
    for side, n in (("council", council), ("community", community)):
        if not 0 <= n <= MAX_CODES_PER_SIDE:
            raise Rejected(f"--{side} must be between 0 and {MAX_CODES_PER_SIDE} codes, not {n}")
    if int(min_responses) < MIN_RESPONSES_FLOOR:
        raise Rejected(
            f"the minimum number of responses before a side is shown cannot be below "
            f"{MIN_RESPONSES_FLOOR} (asked for {min_responses})"
        )
    short = [f"{n} {side} code{'' if n == 1 else 's'}" for side, n in (("council", council), ("community", community))]
    short = [text for text, n in zip(short, (council, community)) if n < int(min_responses)]
    if short:
        raise Rejected(
            f"{' and '.join(short)} but {int(min_responses)} responses are needed on a side before anything is "
            "shown, so its results could never appear, and codes cannot be added to a round later: issue at "
            f"least {int(min_responses)} codes per side (or a lower --min-responses, not below {MIN_RESPONSES_FLOOR})"
        )


def set_published(
    round_id: int, published: bool = True, *, today: date | None = None, path: Path | str | None = None
) -> None:
    """List a round in the network view (or take it off)."""
    with writing(path) as con:
        cur = con.execute(
            "UPDATE rounds SET published = ?, published_on = ? WHERE round_id = ?",
            (int(published), _today(today).isoformat() if published else None, int(round_id)),
        )
        if cur.rowcount != 1:
            raise Rejected(f"there is no round {round_id}")


def validate_answers(scores: dict, evidence: str, items: tuple[str, ...]) -> tuple[dict, str]:
    """Scores for exactly ``items`` (each 1–5, or None for "don't know") and evidence text of at
    most EVIDENCE_MAX characters; else :class:`Rejected` naming what is wrong."""
    unknown = sorted(set(scores) - set(items))
    if unknown:
        raise Rejected(f"unknown question(s): {', '.join(map(str, unknown))}")
    clean = {}
    for item in items:
        value = scores.get(item)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX
        ):
            raise Rejected(
                f"the score for {item} must be a whole number from {SCORE_MIN} to {SCORE_MAX} "
                f"(or “don't know”), not {value!r}"
            )
        clean[item] = value
    text = (evidence or "").strip()
    if len(text) > EVIDENCE_MAX:
        raise Rejected(
            f"The evidence is {len(text):,} characters long; the limit is {EVIDENCE_MAX:,}. Please shorten it "
            "and send again (nothing was stored)."
        )
    return clean, text


def submit(
    code: str,
    scores: dict,
    evidence: str,
    items: tuple[str, ...],
    *,
    today: date | None = None,
    path: Path | str | None = None,
    before_commit: Callable[[], None] | None = None,
) -> Invitation:
    """Store one response and use its code, in one transaction; :class:`Rejected` stores nothing.
    ``before_commit`` runs inside the transaction just before it commits (tests kill a writer there)."""
    clean, text = validate_answers(scores, evidence, items)
    with writing(path) as con:
        inv = _find_code(con, code, today)
        cur = con.execute(
            "INSERT INTO responses (round_id, side, submitted_on, evidence) VALUES (?, ?, ?, ?)",
            (inv.round_id, inv.side, _today(today).isoformat(), text),
        )
        con.executemany(
            "INSERT INTO scores (response_id, item, score) VALUES (?, ?, ?)",
            [(cur.lastrowid, item, value) for item, value in clean.items()],
        )
        used = con.execute("UPDATE codes SET used = 1 WHERE code_hash = ? AND used = 0", (hash_code(code),))
        if used.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; never store a second response
            raise Rejected("This code has already been used: each code sends one response.")
        if before_commit is not None:
            before_commit()
    return inv


def backup(dest: Path | str, path: Path | str | None = None) -> Path:
    """A consistent copy of the live store (SQLite's online backup, safe while others write)."""
    src = _path(path)
    if not src.exists():
        raise Rejected(f"there is no responses store at {src}")
    dest = Path(dest)
    with closing(_open(src)) as con, closing(sqlite3.connect(str(dest))) as out:
        con.backup(out)
    return dest


# ---- reads ---------------------------------------------------------------------------------------

_ROUND_COLUMNS = [
    "round_id",
    "area_code",
    "area_name",
    "opened_on",
    "closes_on",
    "min_responses",
    "published",
    "published_on",
    "council_codes",
    "community_codes",
    "council_responses",
    "community_responses",
]


def rounds(area_code: str | None = None, published_only: bool = False, path: Path | str | None = None) -> pd.DataFrame:
    """Rounds (newest first) with codes issued and responses received per side."""
    sql = (
        "SELECT r.round_id, r.area_code, r.area_name, r.opened_on, r.closes_on, r.min_responses, r.published, "
        "r.published_on, "
        "(SELECT count(*) FROM codes c WHERE c.round_id = r.round_id AND c.side = 'council'), "
        "(SELECT count(*) FROM codes c WHERE c.round_id = r.round_id AND c.side = 'community'), "
        "(SELECT count(*) FROM responses s WHERE s.round_id = r.round_id AND s.side = 'council'), "
        "(SELECT count(*) FROM responses s WHERE s.round_id = r.round_id AND s.side = 'community') "
        "FROM rounds r WHERE (? IS NULL OR r.area_code = ?) AND (? = 0 OR r.published = 1) "
        "ORDER BY r.round_id DESC"
    )
    with reading(path) as con:
        rows = [] if con is None else con.execute(sql, (area_code, area_code, int(published_only))).fetchall()
    return pd.DataFrame(rows, columns=_ROUND_COLUMNS)


def round_scores(round_id: int, path: Path | str | None = None) -> pd.DataFrame:
    """Every score of a round: response_id, side, item, score (None = don't know). No evidence."""
    with reading(path) as con:
        rows = (
            []
            if con is None
            else con.execute(
                "SELECT s.response_id, r.side, s.item, s.score FROM scores s JOIN responses r USING (response_id) "
                "WHERE r.round_id = ? ORDER BY s.response_id, s.item",
                (int(round_id),),
            ).fetchall()
        )
    return pd.DataFrame(rows, columns=["response_id", "side", "item", "score"]).astype({"score": "Int64"})


def round_export(round_id: int, path: Path | str | None = None) -> pd.DataFrame:
    """One row per response — side, date, each score and the evidence text — for the organiser's
    export (never shown on the page)."""
    with reading(path) as con:
        rows = (
            []
            if con is None
            else con.execute(
                "SELECT response_id, side, submitted_on, evidence FROM responses WHERE round_id = ? "
                "ORDER BY response_id",
                (int(round_id),),
            ).fetchall()
        )
    base = pd.DataFrame(rows, columns=["response_id", "side", "submitted_on", "evidence"])
    scores = round_scores(round_id, path)
    if scores.empty:
        return base
    wide = scores.pivot(index="response_id", columns="item", values="score").reset_index()
    return base.merge(wide, on="response_id", how="left")
