"""The relationship self-assessment: what is asked, and what may be shown of the answers.

Ten questions: NLGN's five operating principles for councils and communities (*Rebalancing the
Power*, Local Trust, 2018) and INLOGOV's five themes of effective collaboration (*Building Better
Collaboration*, for the District Councils' Network, 2015). Each is rated 1–5 or "don't know".
Wording and sources: docs/relationship.md.

Privacy: a side (council or community) is shown only once it has at least the round's
``min_responses`` responses (default 5, never below 3), and a statement's figures only once that
many people on the side rated it. Ratings are taken in whole groups of that threshold N (the
earliest N, the next N, …), and each group's mean is shown only as a band (:data:`BANDS`): no exact
mean, no spread, no lowest or highest score, each of which with so few ratings would give away
individual answers. A band never identifies anyone's rating, nor the lowest or highest (proof by
enumeration in tests/test_assess.py); groups never overlap, so no two figures can be subtracted. Evidence text is never part of
anything here (only the organiser's export has it). All the arithmetic the Relationship page shows lives
here; writes go through :mod:`powerbalance.responses`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pandas as pd

from . import responses

NLGN = (
    "NLGN, Rebalancing the Power: Five principles for a successful relationship between councils and "
    "communities (Local Trust, September 2018)"
)
INLOGOV = (
    "INLOGOV (University of Birmingham), Building Better Collaboration: Improving collaborative behaviours "
    "in local government (District Councils' Network, 2015)"
)

#: (id, short label, wording, how the wording was found: ``quoted`` from NLGN's page, ``reported`` as a news
#: report of the launch gives it, ``partial`` opening words only, ``summary`` our summary). See WORDING_NOTES.
PRINCIPLES = (
    (
        "p1_inclusive",
        "Inclusive and respectful",
        "Be inclusive and treat all parties with respect from the start.",
        "quoted",
    ),
    (
        "p2_roles",
        "Roles, priorities, flexibility",
        "Find ways to reflect a changed relationship which clearly set out the roles that different parties play, "
        "mutual priorities and areas with some level of flexibility.",
        "quoted",
    ),
    (
        "p3_communication",
        "Agreed communication",
        "Agree how different parties would like to communicate in the future and build this into the relationship "
        "from the start.",
        "reported",
    ),
    (
        "p4_empathy",
        "Empathy and compromise",
        "Seek to develop empathy for each other's position and be prepared to compromise on certain issues to "
        "achieve the best outcomes for the whole.",
        "reported",
    ),
    ("p5_endeavour", "Shared endeavour", "Foster a shared sense of endeavour …", "partial"),
)
THEMES = (
    (
        "t_leadership",
        "Leadership",
        "Chief executives and council leaders take responsibility for driving change.",
        "summary",
    ),
    (
        "t_selflessness",
        "Selflessness",
        "Partners put in more than they get back in direct benefit when the people they serve gain.",
        "summary",
    ),
    ("t_trust", "Trust", "Trust is built across the public, private and third sectors.", "summary"),
    ("t_momentum", "Momentum", "Small obstacles are not allowed to stall the work.", "summary"),
    ("t_risk", "Risk", "Risk is shared, and that sense of shared risk drives timely action.", "summary"),
)
ITEMS: tuple[str, ...] = tuple(i[0] for i in PRINCIPLES + THEMES)
LABELS = {i[0]: i[1] for i in PRINCIPLES + THEMES}
FAMILY = {**{i[0]: "principle" for i in PRINCIPLES}, **{i[0]: "theme" for i in THEMES}}
SIDE_LABELS = {"council": "Council", "community": "Community"}

#: The area's own figures set beside the perception gap (indicator id → short label).
AREA_FIGURES = {
    "enabler_ratio": "Enabler ratio",
    "parish_precept_share": "Parish precept share",
    "grants_amount_per_head": "Community grant funding per head",
}


def failure_delay(failures: int) -> float:
    """Seconds to wait before checking the next code after ``failures`` wrong ones in a session:
    none for the first 3, then doubling from $POWERBALANCE_CODE_DELAY (default 1 s) up to 30 s."""
    base = float(os.environ.get("POWERBALANCE_CODE_DELAY", "1"))
    return 0.0 if failures < 3 else min(30.0, base * 2 ** (failures - 3))


def pause_after_failures(failures: int) -> float:
    """Sleep for :func:`failure_delay` before a code is checked; returns the seconds slept."""
    delay = failure_delay(failures)
    if delay:
        time.sleep(delay)
    return delay


# ---- what a round shows ----------------------------------------------------------------------------


@dataclass
class RoundView:
    """One round as the page may show it: counts always; scores only for sides over the threshold."""

    round: dict
    counts: dict  # side → responses received
    shown: dict  # side → bool (at least min_responses responses)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # per shown side × item
    gap: pd.DataFrame = field(default_factory=pd.DataFrame)  # per item, council minus community

    @property
    def need(self) -> int:
        return threshold(self.round)

    @property
    def has_gap(self) -> bool:
        return all(self.shown.values()) and not self.gap.empty and bool(self.gap["gap"].notna().any())


def threshold(round_row: dict) -> int:
    """How many responses a side, and how many ratings a statement, need before anything is shown."""
    return max(responses.MIN_RESPONSES_FLOOR, int(round_row["min_responses"]))


def counted(ratings: pd.Series, need: int) -> pd.Series:
    """The ratings the figures use: the earliest whole multiple of ``need`` received (none below
    ``need``). One more response changes the figures only when it completes a new step of ``need``
    ratings, so comparing the page before and after it never isolates one person's scores."""
    return ratings.iloc[: len(ratings) // need * need]


#: The bands a group's mean is shown in (label, mid-point), lowest first. See :func:`band_of`.
BANDS = (("1–2", 1.5), ("2–3", 2.5), ("3", 3.0), ("3–4", 3.5), ("4–5", 4.5))


def band_of(ratings) -> int:
    """Which of :data:`BANDS` the mean of one group of integer ratings falls in: 1–2 (mean 2 or
    below), 2–3 (above 2, below 3), 3 (exactly 3), 3–4 (above 3, below 4), 4–5 (4 or above).
    Computed on the integer sum, so no rounding decides a band. Every band holds groups with
    different lowest and different highest ratings (``tests/test_assess.py`` enumerates every group
    of 3 to 8 ratings), so a band never tells anyone's rating, nor the lowest or highest one."""
    total, n = int(sum(ratings)), len(ratings)
    if total <= 2 * n:
        return 0
    if total < 3 * n:
        return 1
    if total == 3 * n:
        return 2
    return 3 if total < 4 * n else 4


def step_bands(ratings: pd.Series, need: int) -> list[int]:
    """The band of each whole group of ``need`` ratings, in the order received (the first
    ``need``, the next ``need`` …). Groups never overlap, so no two figures can be subtracted to
    single out a newer group's ratings; an unfinished group shows nothing."""
    v = counted(ratings, need).astype(int).tolist()
    return [band_of(v[i : i + need]) for i in range(0, len(v), need)]


def level(bands: list[int]) -> float | None:
    """A statement's level on the 1–5 scale: the mean of its groups' band mid-points (None without a group)."""
    return sum(BANDS[b][1] for b in bands) / len(bands) if bands else None


def side_summary(scores: pd.DataFrame, sides: list[str], need: int) -> pd.DataFrame:
    """Per side and question: responses, ratings counted (:func:`counted`), the band of each group
    of ``need`` ratings (:func:`step_bands`) and the level those give (:func:`level`), only for
    ``sides``. Never a mean, spread, lowest or highest rating of the ratings themselves: with so
    few ratings each would give away who said what. A question fewer than ``need`` people rated
    has no figures, and a note says so."""
    rows = []
    for side in sides:
        s = scores[scores["side"] == side].sort_values("response_id")
        n_resp = s["response_id"].nunique()
        for item in ITEMS:
            bands = step_bands(s.loc[s["item"] == item, "score"].dropna(), need)
            rows.append(
                {
                    "side": side,
                    "item": item,
                    "question": LABELS[item],
                    "family": FAMILY[item],
                    "responses": n_resp,
                    "counted": len(bands) * need,
                    "bands": ", ".join(BANDS[b][0] for b in bands) or None,
                    "level": level(bands),
                    "note": "" if bands else f"fewer than {need} rated this",
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


#: Columns of :func:`side_summary`.
SUMMARY_COLUMNS = ["side", "item", "question", "family", "responses", "counted", "bands", "level", "note"]


def perception_gap(summary: pd.DataFrame) -> pd.DataFrame:
    """Council level minus community level per question (:func:`level`; positive: the council rates
    the relationship higher than the community does). Missing when either side has no figures for it."""
    wide = summary.pivot(index="item", columns="side", values="level").reindex(ITEMS)
    council = pd.to_numeric(wide.get("council"), errors="coerce")
    community = pd.to_numeric(wide.get("community"), errors="coerce")
    return pd.DataFrame(
        {
            "item": ITEMS,
            "question": [LABELS[i] for i in ITEMS],
            "family": [FAMILY[i] for i in ITEMS],
            "council_level": council.to_numpy(),
            "community_level": community.to_numpy(),
            "gap": (council - community).to_numpy(),
        }
    )


def round_view(round_row: dict, path=None) -> RoundView:
    """What the page may show of one round (a row of :func:`responses.rounds`)."""
    need = threshold(round_row)
    counts = {s: int(round_row[f"{s}_responses"]) for s in responses.SIDES}
    shown = {s: counts[s] >= need for s in responses.SIDES}
    view = RoundView(round=dict(round_row), counts=counts, shown=shown)
    sides = [s for s in responses.SIDES if shown[s]]
    if sides:
        view.summary = side_summary(responses.round_scores(int(round_row["round_id"]), path), sides, need)
        if len(sides) == 2:
            view.gap = perception_gap(view.summary)
    return view


def with_round(view: RoundView, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the round it comes from in its first columns (round, area, opened and closing
    dates, the threshold), so a saved file says which round and period it shows."""
    r = view.round
    head = {
        "round": int(r["round_id"]),
        "area_code": r["area_code"],
        "area": r["area_name"],
        "opened_on": r["opened_on"],
        "closes_on": r["closes_on"],
        "threshold": view.need,
    }
    out = frame.copy()
    for n, (col, value) in enumerate(head.items()):
        out.insert(n, col, value)
    return out


def gap_table(view: RoundView) -> pd.DataFrame:
    """All ten statements' gap with the ratings counted on each side and, for a statement with no
    gap, why (a download that dropped them would hide what the page says under the chart)."""
    counted_by = view.summary.pivot(index="item", columns="side", values="counted").reindex(ITEMS)
    out = view.gap.copy()
    for side in responses.SIDES:
        col = counted_by[side] if side in counted_by else pd.Series(0, index=ITEMS)
        out.insert(len(out.columns) - 1, f"{side}_counted", col.fillna(0).astype(int).to_numpy())
    short = [
        [SIDE_LABELS[s].lower() for s in responses.SIDES if c[f"{s}_counted"] == 0] for c in out.to_dict("records")
    ]
    out["note"] = [
        f"no gap: fewer than {view.need} rated this on the {' and '.join(s)} side" if s else "" for s in short
    ]
    return with_round(view, out)


def round_link_notice(asked: str | None, area_code: str, shown: int, all_rounds: pd.DataFrame) -> str | None:
    """Why the Results view shows another round than its address asked for (None when it shows that
    round, or the address names none). Text from the address is repeated only when it is a number."""
    if asked in (None, "") or asked == str(shown):
        return None
    name = dict(zip(all_rounds["area_code"], all_rounds["area_name"])).get(area_code, area_code)
    instead = f"so {name}'s round {shown} is shown instead."
    owner = dict(zip(all_rounds["round_id"].astype(str), all_rounds["area_name"]))
    if not asked.isdigit():
        return f"The round in this address was not recognised, {instead}"
    if asked not in owner:
        return f"There is no round {int(asked)} (it may have been removed), {instead}"
    return f"Round {int(asked)} is a round of {owner[asked]}, not of {name}, {instead}"


def gap_withheld_message(view: RoundView) -> str | None:
    """Which statements have no gap because fewer than the threshold rated them on a side."""
    if not all(view.shown.values()) or view.gap.empty:
        return None
    missing = view.gap.loc[view.gap["gap"].isna(), "question"].tolist()
    if not missing:
        return None
    return f"No gap for {', '.join(missing)}: fewer than {view.need} people on a side rated it."


def steps_note(need: int) -> str:
    """How the figures follow the responses (the page's promise about privacy)."""
    return (
        f"Ratings are taken in groups of {need}, in the order received: the first {need}, the next {need} … "
        "(“counted”); an unfinished group waits. Each group's mean is shown only as a band (1–2, 2–3, 3, 3–4, "
        "4–5), never as a number, and with no spread, lowest or highest score: with so few ratings any of "
        "those would give away who said what. The level is the average of the groups' band mid-points "
        f"(1.5, 2.5, 3, 3.5, 4.5). A statement fewer than {need} people rated shows nothing."
    )


def withheld_message(view: RoundView) -> str | None:
    """Why a side is not shown (None when both are)."""
    need = view.need
    hidden = [f"{SIDE_LABELS[s].lower()} ({view.counts[s]} so far)" for s in responses.SIDES if not view.shown[s]]
    if not hidden:
        return None
    return (
        f"Nothing is shown for a side until it has at least {need} responses, so that no one's answers can "
        f"be picked out. Waiting for: {' and '.join(hidden)}."
    )


def gap_headline(view: RoundView) -> dict | None:
    """The mean gap, over how many of the ten statements, and the largest gap, every statement tied
    for it named (gaps compared at two decimals, so float noise never breaks a tie); None without a gap."""
    g = view.gap.dropna(subset=["gap"]) if view.has_gap else pd.DataFrame()
    if g.empty:
        return None
    size = g["gap"].round(2).abs()
    top = g[size == size.max()]
    return {
        "mean": float(g["gap"].mean()),
        "covered": len(g),
        "total": len(ITEMS),
        "largest": list(zip(top["question"], top["gap"])),
    }


def largest_text(largest: list[tuple[str, float]], quote=lambda q: q) -> str:
    """'Leadership (+2.0)', or every statement tied for the largest gap: 'tie: A (+2.0); B (+2.0)'."""
    text = "; ".join(f"{quote(q)} ({g:+.1f})" for q, g in largest)
    return f"tie: {text}" if len(largest) > 1 else text


def network(path=None) -> pd.DataFrame:
    """Published rounds, for networks comparing practice: responses per side and, where both
    sides are over the threshold, the mean gap, how many of the ten statements it covers (a
    statement too few rated on a side has no gap) and the largest gap (all tied statements named)."""
    rows = []
    for r in responses.rounds(published_only=True, path=path).to_dict("records"):
        v = round_view(r, path)
        head = gap_headline(v)
        rows.append(
            {
                "area_code": r["area_code"],
                "area": r["area_name"],
                "round": r["round_id"],
                "closes_on": r["closes_on"],
                "council_responses": v.counts["council"],
                "community_responses": v.counts["community"],
                "mean_gap": head["mean"] if head else None,
                "mean_gap_over": f"{head['covered']} of {head['total']} statements" if head else None,
                "largest_gap": largest_text(head["largest"]) if head else None,
            }
        )
    return pd.DataFrame(rows, columns=NETWORK_COLUMNS)


#: Columns of :func:`network`.
NETWORK_COLUMNS = [
    "area_code",
    "area",
    "round",
    "closes_on",
    "council_responses",
    "community_responses",
    "mean_gap",
    "mean_gap_over",
    "largest_gap",
]


# ---- the area's own figures beside what people say ----------------------------------------------------


def area_figures(code: str, db=None) -> pd.DataFrame:
    """The area's enabler ratio, parish precept share and community grant funding per head: first
    and latest year with a value, and the change between them (read-only, from the DuckDB). A
    partial year of the figure's source (powerbalance.years: 2018 grants) is never its latest; the
    ``left_out`` column says which year was passed over and why."""
    from . import queries
    from . import years as _years
    from .charts import fmt

    rows = []
    for ind, label in AREA_FIGURES.items():
        t = queries.indicator_trend([code], ind, db=db)
        t = t[t["value"].notna()].sort_values("period")
        thin = _years.thin_periods(ind, db)
        latest = _years.latest_full(t["period"], thin)
        skipped = [p for p in t["period"] if p in thin and p > (latest or "")]
        t = t[t["period"] <= latest] if latest else t
        unit = (queries.indicator_info(ind, db=db) or {}).get("unit") or ""
        first, last = (t.iloc[0], t.iloc[-1]) if len(t) else (None, None)
        shift = float(last["value"] - first["value"]) if len(t) > 1 else None
        rows.append(
            {
                "figure": label,
                "unit": unit,
                "latest": fmt(last["value"], 2) if last is not None else "no data",
                "latest_year": last["period"] if last is not None else None,
                "earliest_year": first["period"] if len(t) > 1 else None,
                "shift": f"{shift:+.2f}" if shift is not None else "no data",
                "years_with_data": len(t),
                "left_out": "; ".join(f"{p} ({thin[p]})" for p in skipped),
            }
        )
    return pd.DataFrame(rows, columns=FIGURE_COLUMNS)


#: Columns of :func:`area_figures`.
FIGURE_COLUMNS = ["figure", "unit", "latest", "latest_year", "earliest_year", "shift", "years_with_data", "left_out"]


def brief_rounds(area_code: str, path=None) -> list[RoundView]:
    """The rounds the brief reports: the newest round with a gap to show and, when a newer round
    has none yet, that one too (newest first); else just the newest round. An empty round opened
    later never hides results."""
    r = responses.rounds(area_code, path=path)
    views = [round_view(row, path) for row in r.to_dict("records")]
    with_gap = next((v for v in views if v.has_gap), None)
    if with_gap is None:
        return views[:1]
    return [views[0], with_gap] if views[0] is not with_gap else [with_gap]


def _brief_round_text(view: RoundView, esc) -> str:
    text = (
        f"round {view.round['round_id']} (closing {esc(view.round['closes_on'])}): "
        f"{view.counts['council']} council, {view.counts['community']} community responses"
    )
    head = gap_headline(view)
    if head is None:
        return text + "; too few on a side to show results yet"
    return text + (
        f"; gap (council minus community, 1–5) mean {head['mean']:+.1f} over {head['covered']} of "
        f"{head['total']} statements, largest {largest_text(head['largest'], lambda q: f'“{esc(q)}”')}"
    )


def brief_html(area_code: str, esc, path=None) -> str:
    """One line for the printable brief's footer (empty when the area has no round); ``esc`` is
    the brief's HTML escaper. Only sides over the threshold contribute numbers; each round is named."""
    try:
        views = brief_rounds(area_code, path)
    except Exception:  # the brief never fails because the responses store is unreadable
        return ""
    if not views:
        return ""
    return "<p><b>Relationship self-assessment</b>, " + "; ".join(_brief_round_text(v, esc) for v in views) + ".</p>"


# ---- the page's text helpers -----------------------------------------------------------------------

DONT_KNOW = "Don't know"
WORDING_NOTES = {
    "quoted": f"Quoted as published: {NLGN}.",
    "reported": f"{NLGN}. Quoted as a September 2018 news report of the launch gives it (NLGN's own page was "
    "found only for principles 1 and 2).",
    "partial": f"{NLGN}. Only the opening words of this principle were found as published and are quoted; "
    "the rest of the sentence is not reproduced here.",
    "summary": f"{INLOGOV}. The theme's name is the report's; the sentence is a summary of the theme "
    "(after a 2015 news report of the launch), not the report's own wording.",
}


def scores_from_answers(answers: dict) -> dict:
    """Radio answers ('1'–'5', "Don't know") → scores (int, None for don't know). An unanswered
    question is refused: "don't know" is an answer, a blank is not."""
    blank = [LABELS[i] for i, a in answers.items() if a is None]
    if blank:
        raise responses.Rejected(
            "Please answer every statement (“Don't know” is an answer). Not answered: " + ", ".join(blank) + "."
        )
    return {i: None if a == DONT_KNOW else int(a) for i, a in answers.items()}


EMPTY_CODE_MESSAGE = "Paste the invitation code you were given into the box, then choose “Check code”."
#: What the ends of the 1–5 scale mean, said on the options themselves (for screen readers too).
SCALE_ENDS = {"1": "1 (not at all)", "5": "5 (completely)"}


def option_label(option: str) -> str:
    """A rating option as shown and announced: the ends of the scale say what they mean."""
    return SCALE_ENDS.get(option, option)


def question_label(label: str, wording: str) -> str:
    """A statement as its rating group's name: plain text, since the label is also the accessible
    name (and its help button's) and a screen reader would read Markdown's asterisks aloud."""
    return f"{label} — {wording}"


def round_label(round_row: dict) -> str:
    return f"Round {round_row['round_id']}: opened {round_row['opened_on']}, closes {round_row['closes_on']}" + (
        " · published" if round_row.get("published") else ""
    )


def questions_markdown() -> str:
    """The ten statements with their sources and how each is worded."""
    lines = [
        "### Five operating principles",
        f"From {NLGN}. The report's own list of five operating principles "
        "is used. A second summary circulates (five “components”, such as “Take active steps to build "
        "trust”); it is not used here.",
        "",
    ]
    source = {
        "quoted": "quoted from NLGN's page",
        "reported": "quoted from a news report of the launch",
        "partial": "opening words only: the rest was not found as published",
    }
    lines += [f"{n}. **{label}** — “{text}” ({source[how]})" for n, (_, label, text, how) in enumerate(PRINCIPLES, 1)]
    lines += [
        "",
        "### Five themes of effective collaboration",
        f"From {INLOGOV}: leadership, selflessness, trust, "
        "momentum and risk. Each sentence below is a summary of the theme, not the report's wording.",
        "",
    ]
    lines += [f"{n}. **{label}** — {text}" for n, (_, label, text, _h) in enumerate(THEMES, 1)]
    lines += ["", "Each is rated 1 (not at all) to 5 (completely), or “don't know”. Full notes: docs/relationship.md."]
    return "\n".join(lines)
