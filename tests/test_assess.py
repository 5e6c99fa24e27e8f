"""The relationship self-assessment (issue 15): the responses store (powerbalance.responses), what
may be shown (powerbalance.relationship), the organiser's CLI (powerbalance.assess), the page
through AppTest and the whole flow in Chromium.

Store tests use a SQLite file of their own under tmp_path; nothing here writes to the DuckDB."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import threading
from datetime import date, timedelta

import pandas as pd
import pytest

from powerbalance import assess, responses
from powerbalance import relationship as rel

TODAY = date(2026, 11, 1)
CLOSES = date(2027, 1, 31)
ALL_FOURS = {i: 4 for i in rel.ITEMS}


@pytest.fixture
def store(tmp_path):
    return tmp_path / "responses.sqlite"


def new_round(store, council=6, community=6, **kw):
    kw.setdefault("today", TODAY)
    return responses.create_round("E07000223", "Adur", CLOSES, council, community, path=store, **kw)


def send(store, code, scores=None, evidence="", **kw):
    return responses.submit(
        code, ALL_FOURS if scores is None else scores, evidence, rel.ITEMS, today=TODAY, path=store, **kw
    )


def count(store, table):
    with sqlite3.connect(store) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def used_codes(store):
    with sqlite3.connect(store) as con:
        return con.execute("SELECT count(*) FROM codes WHERE used = 1").fetchone()[0]


# ---- codes -----------------------------------------------------------------------------------------


def test_codes_are_long_unique_and_stored_only_as_hashes(store):
    _, codes = new_round(store, council=20, community=40)
    every = codes["council"] + codes["community"]
    assert (len(codes["council"]), len(codes["community"])) == (20, 40)
    assert len(set(every)) == 60 and all(len(c) >= 24 for c in every)  # 18 random bytes = 144 bits
    raw = b"".join(p.read_bytes() for p in store.parent.glob("responses.sqlite*"))
    assert not any(c.encode() in raw for c in every)
    with sqlite3.connect(store) as con:
        stored = {h for (h,) in con.execute("SELECT code_hash FROM codes")}
    assert stored == {hashlib.sha256(c.encode()).hexdigest() for c in every}


def test_store_is_wal_and_at_the_current_schema_version(store):
    new_round(store)
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == responses.SCHEMA_VERSION == 2


def test_a_code_sends_one_response_then_is_refused(store):
    _, codes = new_round(store)
    inv = send(store, codes["community"][0], evidence="we co-wrote the plan")
    assert (inv.side, inv.area_code) == ("community", "E07000223")
    with pytest.raises(responses.Rejected, match="already been used"):
        send(store, codes["community"][0])
    with pytest.raises(responses.Rejected, match="already been used"):
        responses.check_code(codes["community"][0], today=TODAY, path=store)
    assert count(store, "responses") == 1 and count(store, "scores") == 10


def test_unknown_code_is_refused_and_stores_nothing(store):
    new_round(store)
    for bad in ("", "x" * 24, "' OR 1=1 --"):
        with pytest.raises(responses.Rejected, match="not recognised"):
            send(store, bad)
    assert count(store, "responses") == 0 and count(store, "scores") == 0


def test_code_is_refused_after_the_round_closes(store):
    _, codes = new_round(store)
    responses.check_code(codes["council"][0], today=CLOSES, path=store)  # the closing day is still open
    with pytest.raises(responses.Rejected, match="closed on 2027-01-31"):
        responses.submit(codes["council"][0], ALL_FOURS, "", rel.ITEMS, today=CLOSES + timedelta(days=1), path=store)
    assert count(store, "responses") == 0 and used_codes(store) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"p1_inclusive": 0}, "from 1 to 5"),
        ({"t_trust": 6}, "from 1 to 5"),
        ({"t_risk": 3.5}, "whole number"),
        ({"p2_roles": "4"}, "whole number"),
        ({"t_momentum": True}, "whole number"),
        ({"not_a_question": 3}, "unknown question"),
    ],
)
def test_bad_scores_are_refused_and_store_nothing(store, change, message):
    _, codes = new_round(store)
    with pytest.raises(responses.Rejected, match=message):
        send(store, codes["council"][0], {**ALL_FOURS, **change})
    assert count(store, "responses") == 0 and count(store, "scores") == 0 and used_codes(store) == 0
    send(store, codes["council"][0])  # the code is still good


def test_over_long_evidence_is_refused_and_stores_nothing(store):
    _, codes = new_round(store)
    with pytest.raises(responses.Rejected, match="1,001 characters long; the limit is 1,000"):
        send(store, codes["council"][0], evidence="x" * 1001)
    assert count(store, "responses") == 0 and used_codes(store) == 0
    send(store, codes["council"][0], evidence="x" * 1000)
    assert count(store, "responses") == 1


def test_unanswered_statement_is_refused_dont_know_is_accepted():
    answers = {i: "3" for i in rel.ITEMS}
    with pytest.raises(responses.Rejected, match="Not answered: Trust"):
        rel.scores_from_answers({**answers, "t_trust": None})
    assert rel.scores_from_answers({**answers, "t_trust": rel.DONT_KNOW})["t_trust"] is None


# ---- injection and escaping --------------------------------------------------------------------


NASTY = "'); DROP TABLE responses; -- <script>alert('x')</script> & <b>bold</b>"


def test_sql_is_parameterised_and_evidence_comes_back_escaped(store):
    rid, codes = new_round(store)
    send(store, codes["council"][0], evidence=NASTY)
    send(store, codes["council"][1], evidence="=HYPERLINK(\"http://127.0.0.1\")")
    export = responses.round_export(rid, store)
    assert export["evidence"].tolist() == [NASTY, "=HYPERLINK(\"http://127.0.0.1\")"]  # stored verbatim
    page = assess.export_text(assess.export_table(rid, store), "html")
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    csv_text = assess.export_text(assess.export_table(rid, store), "csv")
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text


# ---- what is shown -------------------------------------------------------------------------------


def test_a_side_is_shown_only_from_its_threshold(store):
    rid, codes = new_round(store, min_responses=5)
    for c in codes["council"][:4] + codes["community"][:5]:
        send(store, c)
    view = rel.round_view(responses.rounds(path=store).iloc[0].to_dict(), store)
    assert view.counts == {"council": 4, "community": 5}
    assert view.shown == {"council": False, "community": True}
    assert set(view.summary["side"]) == {"community"} and not view.has_gap
    assert "at least 5 responses" in rel.withheld_message(view) and "council (4 so far)" in rel.withheld_message(view)
    send(store, codes["council"][4])
    view = rel.round_view(responses.rounds(path=store).iloc[0].to_dict(), store)
    assert view.has_gap and rel.withheld_message(view) is None


def test_threshold_cannot_go_below_three(store):
    with pytest.raises(responses.Rejected, match="cannot be below 3"):
        new_round(store, min_responses=2)
    with pytest.raises(sqlite3.IntegrityError):  # nor behind the module's back
        with responses.writing(store) as con:
            con.execute(
                "INSERT INTO rounds (area_code, area_name, opened_on, closes_on, min_responses) "
                "VALUES ('E07000223', 'Adur', '2026-11-01', '2027-01-31', 1)"
            )
    assert responses.rounds(path=store).empty


def view_of(store) -> rel.RoundView:
    return rel.round_view(responses.rounds(path=store).iloc[0].to_dict(), store)


def test_bands_levels_and_perception_gap(store):
    rid, codes = new_round(store, min_responses=3, council=5, community=5)
    for c, s in zip(codes["council"], [1, 2, 3, 4, 5]):
        send(store, c, {**ALL_FOURS, "p1_inclusive": s})
    for c, s in zip(codes["community"], [5, 5, None, 5, 2]):
        send(store, c, {**ALL_FOURS, "p1_inclusive": s})
    view = view_of(store)
    s = view.summary.set_index(["side", "item"])
    # in groups of 3: the first three ratings received count until a sixth arrives; mean 2 → band 1–2
    assert s.loc[("council", "p1_inclusive"), ["responses", "counted", "bands", "level"]].tolist() == [5, 3, "1–2", 1.5]
    assert s.loc[("community", "p1_inclusive"), ["responses", "counted", "bands", "level"]].tolist() == [
        5,
        3,
        "4–5",
        4.5,
    ]
    assert not {"mean", "sd", "min", "max"} & set(view.summary.columns)
    g = view.gap.set_index("item")
    assert g.loc["p1_inclusive", "gap"] == pytest.approx(1.5 - 4.5)
    assert g.loc["t_trust", "gap"] == 0.0
    assert list(view.gap["item"]) == list(rel.ITEMS)


def _classes(shown, groups):
    """What a reader who sees ``shown(group)`` can tell: the groups of ratings behind each figure."""
    out = {}
    for g in groups:
        out.setdefault(shown(g), []).append(g)
    return out


def _giveaways(classes):
    """Figures that pin down the exact ratings, the lowest rating or the highest one."""
    return [
        (figure, members[:3])
        for figure, members in classes.items()
        if len(members) < 2 or len({min(m) for m in members}) < 2 or len({max(m) for m in members}) < 2
    ]


@pytest.mark.parametrize("need", [3, 4, 5, 6, 7, 8])
def test_no_band_ever_identifies_a_rating_or_the_lowest_or_highest(need):
    """The privacy rule, proved by enumeration: for every multiset of ``need`` ratings 1–5, what the
    page shows of it (through side_summary itself: bands, level, counted) is shared by groups with
    different exact ratings, a different lowest and a different highest rating. The old mean and sd
    failed this (the reviewer: 33 of 35 groups of three identified)."""
    from itertools import combinations_with_replacement as multisets

    def shown(group):
        scores = pd.DataFrame(
            {"side": "council", "response_id": range(len(group)), "item": "t_trust", "score": list(group)}
        )
        row = rel.side_summary(scores, ["council"], need).set_index("item").loc["t_trust"]
        return tuple(row.drop(["responses"]).tolist())

    groups = list(multisets(range(1, 6), need))
    assert _giveaways(_classes(shown, groups)) == []
    # two groups in turn (the page before and after the second): neither group is given away either
    if need <= 4:
        pairs = [(a, b) for a in groups for b in groups]
        seen = {p: (shown(p[0]), shown(p[0] + p[1])) for p in pairs}
        for part in (0, 1):
            by_figure = {}
            for p in pairs:
                by_figure.setdefault(seen[p], []).append(p[part])
            assert _giveaways(by_figure) == [], part


def test_a_statement_fewer_than_the_threshold_rated_shows_no_figures(store):
    """The reviewer's case: 3 council responses, one "don't know" to Empathy: the two raters'
    scores must not appear, as a mean, a range or a gap."""
    rid, codes = new_round(store, min_responses=3, council=3, community=3)
    for c, s in zip(codes["council"], [3, 4, None]):
        send(store, c, {**ALL_FOURS, "p4_empathy": s})
    for c in codes["community"]:
        send(store, c, {**ALL_FOURS, "p4_empathy": 2})
    view = view_of(store)
    assert view.has_gap
    s = view.summary.set_index(["side", "item"])
    empathy = s.loc[("council", "p4_empathy")]
    assert empathy["counted"] == 0 and pd.isna(empathy["bands"]) and pd.isna(empathy["level"])
    assert empathy["note"] == "fewer than 3 rated this"
    assert not {"min", "max"} & set(view.summary.columns)  # each would be one person's score
    assert s.loc[("community", "p4_empathy"), "level"] == 1.5 and s.loc[("community", "p4_empathy"), "note"] == ""
    g = view.gap.set_index("item")
    assert pd.isna(g.loc["p4_empathy", "gap"]) and g["gap"].notna().sum() == 9
    assert "Empathy and compromise" in rel.gap_withheld_message(view)
    net = rel.network(store)  # unpublished: the network never sees it
    assert net.empty


def test_one_new_response_never_moves_the_figures(store):
    """Counts are public, so a figure that changed after one response would give that response
    away (differencing): figures change only when a whole new step of the threshold is in."""
    rid, codes = new_round(store, min_responses=3, council=6, community=3)
    for c in codes["community"]:
        send(store, c)
    for c in codes["council"][:3]:
        send(store, c)
    before = view_of(store)
    for n, c in enumerate(codes["council"][3:5], 4):
        send(store, c, {**ALL_FOURS, "t_trust": 1, "p1_inclusive": None})
        after = view_of(store)
        assert after.counts["council"] == n
        pd.testing.assert_frame_equal(after.summary.drop(columns="responses"), before.summary.drop(columns="responses"))
        pd.testing.assert_frame_equal(after.gap, before.gap)
    send(store, codes["council"][5], {**ALL_FOURS, "t_trust": 1})
    s = view_of(store).summary.set_index(["side", "item"])
    assert s.loc[("council", "t_trust"), ["counted", "bands", "level"]].tolist() == [6, "4–5, 1–2", 3.0]
    assert s.loc[("council", "p1_inclusive"), ["counted", "bands"]].tolist() == [3, "4–5"]  # 4 ratings: one group


@pytest.mark.parametrize("council, community", [(4, 4), (0, 0), (5, 2)])
def test_a_round_with_fewer_codes_than_its_threshold_is_refused(store, council, community):
    """Codes cannot be added to a round later, so a side with fewer codes than the responses it needs
    could never show anything: the round is refused, and nothing is stored."""
    with pytest.raises(responses.Rejected, match="5 responses are needed on a side") as refused:
        new_round(store, council=council, community=community)
    assert (f"{council} council code" in str(refused.value)) == (council < 5)
    assert (f"{community} community code" in str(refused.value)) == (community < 5)
    assert not store.exists() or count(store, "rounds") == 0
    assert new_round(store, council=3, community=3, min_responses=3)[0] == 1


def test_network_lists_only_published_rounds(store):
    new_round(store)
    rid2, codes = new_round(store, min_responses=3, council=3, community=3)
    assert rel.network(store).empty
    assess.main(["--store", str(store), "publish-round", "--round", str(rid2)])
    for c in codes["council"]:
        send(store, c, {**ALL_FOURS, "t_risk": 5})
    net = rel.network(store)
    assert net["round"].tolist() == [rid2] and pd.isna(net.loc[0, "mean_gap"])  # community below threshold
    for c in codes["community"]:
        send(store, c, {**ALL_FOURS, "t_risk": 2})
    net = rel.network(store)
    assert net.loc[0, "mean_gap"] == pytest.approx(0.3) and net.loc[0, "largest_gap"] == "Risk (+3.0)"
    assert net.loc[0, "mean_gap_over"] == "10 of 10 statements"
    assess.main(["--store", str(store), "publish-round", "--round", str(rid2), "--withdraw"])
    assert rel.network(store).empty


def test_network_and_brief_state_coverage_name_ties_and_keep_results_over_an_empty_newer_round(store):
    """The reviewer's Adur round: a mean gap over the statements with a gap must say over how many
    (not like with like otherwise), three statements tied for the largest gap are all named (float
    noise once picked one), and the brief keeps a round's results when an empty round is opened after."""
    rid, codes = new_round(store, min_responses=3, council=3, community=3, publish=True)
    tied = {"p2_roles": (5, 2), "t_leadership": (5, 2), "t_selflessness": (5, 2)}  # bands 4–5 vs 1–2
    for n, c in enumerate(codes["council"]):
        send(store, c, {**ALL_FOURS, **{i: s for i, (s, _) in tied.items()}, "t_risk": None if n else 4})
    for c in codes["community"]:
        send(store, c, {**ALL_FOURS, **{i: s for i, (_, s) in tied.items()}})
    net = rel.network(store).iloc[0]
    assert net["mean_gap_over"] == "9 of 10 statements"  # Risk: only two council ratings
    assert net["mean_gap"] == pytest.approx(3 * 3.0 / 9)
    assert net["largest_gap"] == ("tie: Roles, priorities, flexibility (+3.0); Leadership (+3.0); Selflessness (+3.0)")
    line = rel.brief_html("E07000223", str, store)
    assert "round 1 (closing 2027-01-31): 3 council, 3 community responses" in line
    assert "over 9 of 10 statements" in line and "“Leadership” (+3.0)" in line
    responses.create_round("E07000223", "Adur", date(2026, 12, 1), 3, 3, min_responses=3, today=TODAY, path=store)
    line = rel.brief_html("E07000223", str, store)
    assert "round 2 (closing 2026-12-01): 0 council, 0 community responses; too few" in line
    assert "round 1 (closing 2027-01-31): 3 council, 3 community responses; gap" in line


def test_downloads_name_their_round_and_keep_every_statement(store):
    """A file saved from round 1 must not look like round 2's: every results table and the
    organiser's export carry the round, area and dates; the gap keeps all ten statements, a
    withheld one with an empty gap and the reason; the export lists the statements in the
    questionnaire's order."""
    new_round(store, min_responses=3, council=3, community=3)
    rid, codes = new_round(store, min_responses=3, council=3, community=3)
    for c, s in zip(codes["council"], [3, 4, None]):
        send(store, c, {**ALL_FOURS, "p4_empathy": s})
    for c in codes["community"]:
        send(store, c)
    view = rel.round_view(responses.rounds(path=store).query("round_id == @rid").iloc[0].to_dict(), store)
    gap = rel.gap_table(view)
    assert len(gap) == 10 and set(gap["round"]) == {rid} and set(gap["closes_on"]) == {CLOSES.isoformat()}
    assert set(gap["threshold"]) == {3} and set(gap["area_code"]) == {"E07000223"}
    empathy = gap.set_index("item").loc["p4_empathy"]
    assert pd.isna(empathy["gap"]) and empathy["note"] == "no gap: fewer than 3 rated this on the council side"
    assert empathy[["council_counted", "community_counted"]].tolist() == [0, 3]
    assert (gap.set_index("item").drop("p4_empathy")["note"] == "").all()
    sides = rel.with_round(view, view.summary)
    assert set(sides["round"]) == {rid} and "opened_on" in sides.columns
    export = assess.export_table(rid, store)
    assert export[["round", "area_code", "closes_on"]].drop_duplicates().values.tolist() == [
        [rid, "E07000223", CLOSES.isoformat()]
    ]
    assert list(export.columns[-10:]) == [rel.LABELS[i] for i in rel.ITEMS]
    html = assess.export_text(export, "html", assess.export_title(export, rid))
    assert f"<title>Responses, round {rid}, Adur (E07000223), closing {CLOSES.isoformat()}</title>" in html


def test_reading_never_creates_the_store(store):
    assert responses.rounds(path=store).empty and rel.network(store).empty
    with pytest.raises(responses.Rejected, match="not recognised"):
        responses.check_code("anything", path=store)
    assert not store.exists()


def test_failure_delay_grows_and_is_capped(monkeypatch):
    monkeypatch.setenv("POWERBALANCE_CODE_DELAY", "1")
    delays = [rel.failure_delay(n) for n in range(12)]
    assert delays[:3] == [0, 0, 0] and delays[3:7] == [1, 2, 4, 8] and delays[-1] == 30


# ---- schema versions, backup and restore ------------------------------------------------------------


def test_a_version_1_store_is_migrated_keeping_its_data(store):
    con = sqlite3.connect(store)
    con.executescript(responses.MIGRATIONS[0])
    con.execute("INSERT INTO rounds VALUES (1, 'E07000223', 'Adur', '2026-10-01', '2026-12-31', 5, 1)")
    con.commit()
    con.close()
    r = responses.rounds(path=store).iloc[0]  # the first read migrates it
    assert (r["area_code"], r["published_on"]) == ("E07000223", "2026-10-01")
    with sqlite3.connect(store) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_newer_store_is_not_written_by_older_code(store):
    new_round(store)
    with sqlite3.connect(store) as con:
        con.execute(f"PRAGMA user_version = {responses.SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="upgrade Power Balance"):
        new_round(store)


def test_backup_while_writing_and_restore(store, tmp_path):
    rid, codes = new_round(store)
    send(store, codes["council"][0])
    reader = sqlite3.connect(store)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM responses").fetchone()  # an open read does not stop a backup
    copy = tmp_path / "backup.sqlite"
    assess.main(["--store", str(store), "backup", "--to", str(copy)])
    reader.close()
    send(store, codes["council"][1])  # after the backup
    restored = tmp_path / "restored" / "responses.sqlite"
    restored.parent.mkdir()
    shutil.copy(copy, restored)
    assert responses.rounds(path=restored).iloc[0]["council_responses"] == 1
    with pytest.raises(responses.Rejected, match="already been used"):
        send(restored, codes["council"][0])
    send(restored, codes["council"][2])  # the restored store takes new responses
    assert count(restored, "responses") == 2


# ---- concurrency: many sessions, two server processes, a killed writer --------------------------------


def _process_writer(store, codes, seed, threads, results):
    """One 'server process': ``threads`` sessions each submitting every code in its own order."""
    accepted, refused = [], []
    lock = threading.Lock()

    def session(n):
        order = list(codes)
        random.Random(seed * 100 + n).shuffle(order)
        for c in order:
            try:
                send(store, c, {**ALL_FOURS, "t_trust": 1 + (n % 5)})
                with lock:
                    accepted.append(c)
            except responses.Rejected:
                with lock:
                    refused.append(c)

    ts = [threading.Thread(target=session, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    results.put((accepted, refused))


@pytest.mark.slow
def test_two_processes_of_many_sessions_lose_and_duplicate_nothing(store):
    _, codes = new_round(store, council=20, community=20)
    every = codes["council"] + codes["community"]
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(str(store), every, seed, 6, results)) for seed in (1, 2)]
    for p in procs:
        p.start()
    got = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    accepted = [c for a, _ in got for c in a]
    refused = [c for _, r in got for c in r]
    assert sorted(accepted) == sorted(every)  # each code accepted exactly once
    assert len(refused) == 2 * 6 * len(every) - len(every)  # every other attempt refused
    assert count(store, "responses") == 40 and count(store, "scores") == 400 and used_codes(store) == 40
    with sqlite3.connect(store) as con:
        assert con.execute("SELECT count(DISTINCT response_id) FROM scores").fetchone()[0] == 40
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _killed_writer(store, code, ready):
    def hang():
        ready.set()
        threading.Event().wait(120)  # killed here, inside the open transaction

    send(store, code, evidence="never committed", before_commit=hang)


@pytest.mark.slow
def test_a_writer_killed_mid_submission_loses_only_its_own_response(store):
    _, codes = new_round(store)
    send(store, codes["council"][0])
    send(store, codes["community"][0])
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    victim = ctx.Process(target=_killed_writer, args=(str(store), codes["council"][1], ready))
    victim.start()
    assert ready.wait(120), "the writer never reached its commit"
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(30)
    assert victim.exitcode == -signal.SIGKILL
    assert count(store, "responses") == 2 and used_codes(store) == 2  # the others are intact
    send(store, codes["council"][2])  # the store takes writes again
    send(store, codes["council"][1])  # the killed writer's code is still good
    assert count(store, "responses") == 4
    assert "never committed" not in responses.round_export(1, store)["evidence"].tolist()
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- on the real build: the CLI's area check, the figures beside, the brief, the page ----------------


def test_cli_new_round_prints_codes_for_a_real_area(real_db, store, capsys):
    closes = (date.today() + timedelta(days=60)).isoformat()
    assert (
        assess.main(
            [
                "--store",
                str(store),
                "new-round",
                "--area",
                "E07000223",
                "--closes",
                closes,
                "--council",
                "20",
                "--community",
                "40",
                "--publish",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Round 1 for Adur (E07000223)" in out and "published in the network view" in out
    council = out.split("council codes (20):\n")[1].split("\n\n")[0].split("\n")
    assert len(council) == 20 and responses.check_code(council[0], path=store).side == "council"
    assert responses.rounds(path=store).iloc[0][["council_codes", "community_codes"]].tolist() == [20, 40]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["new-round", "--area", "E99999999", "--closes", "2099-01-01", "--council", "5"], "not an area"),
        (["new-round", "--area", "E07000223", "--closes", "2020-01-01", "--council", "5"], "before today"),
        (
            ["new-round", "--area", "E07000223", "--closes", "2099-01-01", "--council", "5", "--min-responses", "2"],
            "cannot be below 3",
        ),
        (["publish-round", "--round", "7"], "no round 7"),
        (["export", "--round", "7"], "no round 7"),
    ],
)
def test_cli_refuses_bad_commands_clearly(real_db, store, capsys, argv, message):
    assert assess.main(["--store", str(store), *argv]) == 2
    assert message in capsys.readouterr().err
    assert responses.rounds(path=store).empty


def test_area_figures_name_their_years_and_match_the_database(real_db):
    from powerbalance import queries

    figs = rel.area_figures("E07000223", db=real_db).set_index("figure")
    trend = queries.indicator_trend(["E07000223"], "enabler_ratio", db=real_db).dropna(subset=["value"])
    er = figs.loc["Enabler ratio"]
    assert er["latest_year"] == trend["period"].max() and er["earliest_year"] == trend["period"].min()
    last, first = trend.sort_values("period")["value"].iloc[[-1, 0]]
    assert er["shift"] == f"{last - first:+.2f}" and er["latest"] == f"{last:.2f}"
    assert set(figs.index) == {"Enabler ratio", "Parish precept share", "Community grant funding per head"}


def test_brief_has_a_relationship_line_only_past_the_threshold(real_db, store, monkeypatch):
    from powerbalance import brief, queries

    monkeypatch.setenv("POWERBALANCE_RESPONSES", str(store))
    profile = queries.area_profile("E07000223", db=real_db)
    assert "Relationship self-assessment" not in brief.render(profile)
    _, codes = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=9), 3, 3, min_responses=3, path=store
    )
    for c in codes["council"]:
        responses.submit(c, {**ALL_FOURS, "p4_empathy": 5}, "<script>x</script>", rel.ITEMS, path=store)
    assert "too few on a side to show results yet" in brief.render(profile)
    for c in codes["community"]:
        responses.submit(c, {**ALL_FOURS, "p4_empathy": 2}, "", rel.ITEMS, path=store)
    html = brief.render(profile)
    assert "3 council, 3 community responses" in html
    assert "largest “Empathy and compromise” (+3.0)" in html and "<script>x" not in html
    assert "round 1 (closing" in html and "over 10 of 10 statements" in html


@pytest.fixture
def app(real_db, built, store, monkeypatch):
    from bench import served_app

    monkeypatch.setenv("POWERBALANCE_RESPONSES", str(store))
    monkeypatch.setenv("POWERBALANCE_CODE_DELAY", "0.01")
    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


def relationship_session(app, params=None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/relationship_page.py")
    at.query_params.update(params or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def enter_code(at, code):
    at.text_input(key="rel_code").input(code)
    at.button(key="rel_check").click()
    at.run()


def page_text(at) -> str:
    kinds = ("markdown", "caption", "info", "error", "success", "metric", "dataframe", "plotly_chart", "text_area")
    return "\n".join(str(el.proto) for k in kinds for el in at.get(k))


@pytest.mark.slow
def test_page_full_flow_respond_then_results(app, store, real_db, monkeypatch):
    import json
    from types import SimpleNamespace

    slept = []
    monkeypatch.setattr(rel, "time", SimpleNamespace(sleep=slept.append))
    duckdb_before = hashlib.sha256(real_db.read_bytes()).hexdigest()

    rid, codes = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=30), 4, 3, min_responses=3, publish=True, path=store
    )
    for side, scores in (("council", [5, 4, 5]), ("community", [2, 1, 2])):
        for code, s in zip(codes[side], scores):
            at = relationship_session(app)
            enter_code(at, code)
            assert "Responding for the **" + side in at.info[0].value
            for item in rel.ITEMS:
                at.radio(key=f"rel_q_{item}").set_value(str(s))
            at.radio(key="rel_q_t_risk").set_value(rel.DONT_KNOW)
            at.text_area(key="rel_evidence").input("<script>SECRET-EVIDENCE</script>")
            at.button(key="FormSubmitter:rel_form-Send my response").click()
            at.run()
            assert not at.exception and [e.value for e in at.success] == [
                "Thank you: your response is stored. The code cannot be used again."
            ]
    at = relationship_session(app)
    enter_code(at, codes["council"][0])
    assert "already been used" in at.error[0].value
    for _ in range(4):
        enter_code(at, "not-a-code")
    assert at.session_state["rel_failures"] == 5 and "not recognised" in at.error[0].value
    assert slept == [0.01, 0.02]  # the 4th and 5th wrong codes waited, longer each time

    at = relationship_session(app, {"area": "E07000223", "view": "results"})
    assert [m.value for m in at.metric][:2] == ["3", "3"]
    gap = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    expected = rel.round_view(responses.rounds(path=store).iloc[0].to_dict(), store).gap.dropna(subset=["gap"])
    assert gap["y"] == expected["question"].tolist()[::-1]  # first statement drawn at the top
    assert gap["x"] == pytest.approx(expected["gap"].tolist()[::-1])
    assert gap["x"][-1] == pytest.approx(4.5 - 1.5) and "Risk" not in gap["y"]  # bands 4–5 and 1–2; no Risk: don't know
    assert "SECRET-EVIDENCE" not in page_text(at)
    assert at.selectbox(key="rel_round").value == rid
    at = relationship_session(app, {"view": "network"})
    assert "Adur" in page_text(at) and "SECRET-EVIDENCE" not in page_text(at)
    network = next(d.value for d in at.dataframe if "largest_gap" in d.value.columns)
    assert network[["area_code", "council_responses", "community_responses"]].values.tolist() == [["E07000223", 3, 3]]
    assert hashlib.sha256(real_db.read_bytes()).hexdigest() == duckdb_before  # the DuckDB is only read


@pytest.mark.slow
def test_respond_form_names_plainly_takes_long_evidence_and_asks_for_an_empty_code(app, store):
    """Rating groups are named in plain text (a screen reader reads Markdown's asterisks aloud), the
    ends of the scale say what they mean, an over-long paste is kept and refused with its length
    (a browser max_chars would drop it silently), and an empty code is asked for, not counted."""
    _, codes = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=30), 3, 3, min_responses=3, path=store
    )
    at = relationship_session(app)
    for _ in range(4):
        at.button(key="rel_check").click()
        at.run()
    assert at.error[0].value == rel.EMPTY_CODE_MESSAGE and "rel_failures" not in at.session_state
    enter_code(at, codes["council"][0])
    # the code row stays where it was, so the button that was pressed keeps the keyboard focus
    # (checked in Chromium by hand: document.activeElement stays "Check code", the next Tab reaches the form)
    assert at.button(key="rel_check").label == "Check code" and at.text_input(key="rel_code").value
    radios = [at.radio(key=f"rel_q_{item}") for item in rel.ITEMS]
    assert [r.label for r in radios] == [f"{rel.LABELS[i]} — {w}" for i, _, w, _h in rel.PRINCIPLES + rel.THEMES]
    assert not any("*" in r.label for r in radios)
    assert [radios[0].options[0], radios[0].options[4], radios[0].options[5]] == [
        "1 (not at all)",
        "5 (completely)",
        rel.DONT_KNOW,
    ]
    assert at.text_area(key="rel_evidence").proto.max_chars == 0
    for r in radios:
        r.set_value("4")
    at.text_area(key="rel_evidence").input("x" * 1250)
    at.button(key="FormSubmitter:rel_form-Send my response").click()
    at.run()
    assert "1,250 characters long; the limit is 1,000" in at.error[0].value
    assert at.text_area(key="rel_evidence").value == "x" * 1250 and count(store, "responses") == 0


@pytest.mark.slow
def test_a_results_link_to_a_round_of_another_area_says_so(app, store):
    """A link whose round is not its area's (or is not a round at all) names what it shows instead,
    as an unknown area code does; choosing another area by hand says nothing."""
    adur, _ = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=30), 3, 3, path=store, min_responses=3
    )
    mid, _ = responses.create_round(
        "E07000228", "Mid Sussex", date.today() + timedelta(days=30), 3, 3, path=store, min_responses=3
    )
    at = relationship_session(app, {"view": "results", "area": "E07000228", "round": str(adur)})
    assert at.selectbox(key="rel_round").value == mid
    assert [w.value for w in at.warning] == [
        f"Round {adur} is a round of Adur, not of Mid Sussex, so Mid Sussex's round {mid} is shown instead."
    ]
    at = relationship_session(app, {"view": "results", "area": "E07000223", "round": "abc"})
    assert [w.value for w in at.warning] == [
        f"The round in this address was not recognised, so Adur's round {adur} is shown instead."
    ]
    at.selectbox(key="rel_area").set_value("E07000228").run()
    assert at.selectbox(key="rel_round").value == mid and not at.warning
    at = relationship_session(app, {"view": "results", "area": "E07000223", "round": str(adur)})
    assert not at.warning


def test_page_without_any_round_says_how_to_open_one(app):
    at = relationship_session(app, {"view": "results"})
    assert any("new-round" in i.value for i in at.info)


@pytest.mark.slow
def test_a_link_keeps_the_view_and_the_round_but_never_a_code(app, store):
    """Choose Adur's older round on Results, copy the address, open it afresh: the same view and
    round, its counts and its ratings (with a statement too few rated shown as such)."""
    old, codes = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=30), 3, 3, min_responses=3, path=store
    )
    for c, s in zip(codes["council"], [3, 4, None]):
        responses.submit(c, {**ALL_FOURS, "p4_empathy": s}, "", rel.ITEMS, path=store)
    for c in codes["community"]:
        responses.submit(c, ALL_FOURS, "", rel.ITEMS, path=store)
    newer, newer_codes = responses.create_round(
        "E07000223", "Adur", date.today() + timedelta(days=60), 3, 3, min_responses=3, path=store
    )
    at = relationship_session(app, {"area": "E07000223"})
    at.radio(key="rel_view").set_value("results").run()
    assert at.selectbox(key="rel_round").value == newer
    at.selectbox(key="rel_round").set_value(old).run()
    link = {k: at.query_params[k] for k in ("view", "area", "round")}
    assert link == {"view": "results", "area": "E07000223", "round": str(old)}

    fresh = relationship_session(app, link)
    assert fresh.radio(key="rel_view").value == "results" and fresh.selectbox(key="rel_round").value == old
    assert [m.value for m in fresh.metric][:2] == ["3", "3"]
    ratings = next(d.value for d in fresh.dataframe if "counted" in d.value.columns).set_index(["side", "question"])
    assert ratings.loc[("council", "Empathy and compromise"), "note"] == "fewer than 3 rated this"
    assert pd.isna(ratings.loc[("council", "Empathy and compromise"), "level"])
    assert not {"min", "max", "mean", "sd"} & set(ratings.columns)

    at = relationship_session(app)
    enter_code(at, newer_codes["council"][0])
    assert "Responding for the **council" in at.info[0].value
    assert newer_codes["council"][0] not in str(dict(at.query_params))
