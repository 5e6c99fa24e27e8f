"""Relationship — councils and communities rate their relationship (NLGN's five principles and
INLOGOV's five themes), and see the perception gap beside the area's own figures. UI only: the
store is powerbalance.responses, the arithmetic and privacy threshold powerbalance.relationship."""

import streamlit as st

from powerbalance import charts, responses, ui
from powerbalance import relationship as rel

PAGE = {"title": "Relationship", "icon": ":material/handshake:", "url_path": "relationship", "order": 60}

ui.start_page()
ui.page_header(
    "Relationship",
    "Spending, precepts and grants are proxies. Here the council and the community "
    "rate the relationship itself, each from their own side, and see what people say beside what the "
    "figures show. Taking part needs an invitation code from the round's organiser; no name or e-mail "
    "is asked for.",
)
VIEWS = {"respond": "Respond", "results": "Results", "network": "Network", "questions": "The questions"}
# A radio in the address, not st.tabs: a link then opens on the view it was copied from.
chosen = ui.url_radio("View", list(VIEWS), param="view", key="rel_view", format_func=VIEWS.get)
OPTIONS = ["1", "2", "3", "4", "5", rel.DONT_KNOW]


def _check_code() -> None:
    """'Check code' clicked: wait longer after each failure in this session, then open the form.
    An empty box is asked for a code; it is not a wrong guess, so it neither waits nor counts."""
    if not (st.session_state.get("rel_code") or "").strip():
        st.session_state.pop("rel_invite", None)
        st.session_state["rel_error"] = rel.EMPTY_CODE_MESSAGE
        return
    rel.pause_after_failures(st.session_state.get("rel_failures", 0))
    try:
        st.session_state["rel_invite"] = responses.check_code(st.session_state.get("rel_code", ""))
        st.session_state["rel_code_ok"] = st.session_state.get("rel_code", "").strip()
        st.session_state.pop("rel_error", None)
    except responses.Rejected as exc:
        st.session_state.pop("rel_invite", None)  # a form for an earlier code would now mislead
        st.session_state["rel_failures"] = st.session_state.get("rel_failures", 0) + 1
        st.session_state["rel_error"] = str(exc)


def _question(item: str, label: str, wording: str, how: str) -> None:
    st.radio(
        rel.question_label(label, wording),
        OPTIONS,
        index=None,
        horizontal=True,
        format_func=rel.option_label,
        key=f"rel_q_{item}",
        help=rel.WORDING_NOTES[how],
    )


if chosen == "respond":
    if st.session_state.pop("rel_thanks", None):
        st.success("Thank you: your response is stored. The code cannot be used again.", icon=":material/check:")
    # The code row stays on the page once a code is accepted: the button keeps the keyboard focus
    # (removing it would drop focus to the top of the page) and the next Tab reaches the form.
    st.text_input(
        "Invitation code",
        key="rel_code",
        placeholder="paste the code you were given",
        help="Each code sends one response and stops working when the round closes.",
    )
    st.button("Check code", key="rel_check", on_click=_check_code, type="primary")
    if st.session_state.get("rel_error"):
        st.error(st.session_state["rel_error"], icon=":material/error:")
    invite = st.session_state.get("rel_invite")
    if invite is not None:
        st.info(
            f"Responding for the **{rel.SIDE_LABELS[invite.side].lower()}** side in **{invite.area_name}** "
            f"({invite.area_code}); the round closes on {invite.closes_on}. Rate each statement for how well it "
            "describes the relationship between the council and the community in this area: 1 = not at all, "
            "5 = completely.",
            icon=":material/forum:",
        )
        with st.form("rel_form"):
            st.header("Five operating principles (NLGN, 2018)")
            for q in rel.PRINCIPLES:
                _question(*q)
            st.header("Five themes of effective collaboration (INLOGOV, 2015)")
            for q in rel.THEMES:
                _question(*q)
            # No max_chars: the browser would drop an over-long paste without a word; the limit is
            # checked on sending, with a message saying how long the text is.
            evidence = st.text_area(
                f"Evidence (optional, at most {responses.EVIDENCE_MAX:,} characters)",
                key="rel_evidence",
                help="An example behind your ratings. Only the organiser sees it; it is never "
                "shown on this page. Please leave out names. Longer text is not cut: you are asked to "
                "shorten it.",
            )
            sent = st.form_submit_button("Send my response", type="primary")
        if sent:
            answers = {item: st.session_state.get(f"rel_q_{item}") for item in rel.ITEMS}
            try:
                responses.submit(st.session_state["rel_code_ok"], rel.scores_from_answers(answers), evidence, rel.ITEMS)
            except responses.Rejected as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                for key in (
                    "rel_invite",
                    "rel_code_ok",
                    "rel_code",
                    "rel_evidence",
                    *(f"rel_q_{i}" for i in rel.ITEMS),
                ):
                    st.session_state.pop(key, None)
                st.session_state["rel_thanks"] = True
                st.rerun()

elif chosen == "results":
    all_rounds = responses.rounds()
    if all_rounds.empty:
        ui.no_data(
            "no round has been opened yet. An organiser opens one with "
            "`python -m powerbalance.assess new-round --area CODE --closes YYYY-MM-DD --council N "
            "--community N`."
        )
    else:
        names = dict(zip(all_rounds["area_code"], all_rounds["area_name"] + " (" + all_rounds["area_code"] + ")"))
        code = ui.url_selectbox(
            "Area",
            list(dict.fromkeys(all_rounds["area_code"])),
            param="area",
            key="rel_area",
            format_func=lambda c: names.get(c, c),
        )
        mine = all_rounds[all_rounds["area_code"] == code]
        asked = st.query_params.get("round")
        switched = st.session_state.get("rel_area_before", code) != code  # the reader chose another area
        st.session_state["rel_area_before"] = code
        rid = ui.url_selectbox(
            "Round",
            mine["round_id"].tolist(),
            param="round",
            key="rel_round",
            parse=int,
            format_func=lambda r: rel.round_label(mine[mine["round_id"] == r].iloc[0].to_dict()),
        )
        notice = None if switched else rel.round_link_notice(asked, code, rid, all_rounds)
        if notice:
            st.warning(notice, icon=":material/link_off:")
        view = rel.round_view(mine[mine["round_id"] == rid].iloc[0].to_dict())
        m1, m2, m3 = st.columns(3)
        m1.metric("Council responses", view.counts["council"], border=True)
        m2.metric("Community responses", view.counts["community"], border=True)
        m3.metric("Round closes", view.round["closes_on"], border=True)
        if rel.withheld_message(view):
            st.info(rel.withheld_message(view), icon=":material/lock:")
        left, right = st.columns([3, 2])
        with left:
            st.header("Perception gap: council minus community")
            if view.has_gap:
                gap = view.gap.dropna(subset=["gap"])
                fig, alt = ui.figure(
                    charts.bar_chart,
                    gap.iloc[::-1],
                    label="question",
                    value="gap",
                    sort=False,
                    measure="Council level minus community level (1–5 scale)",
                    subject="questions",
                )
                ui.chart(
                    fig,
                    alt,
                    key="rel_gap",
                    data=rel.gap_table(view),
                    name=f"Perception gap {view.round['area_name']} round {rid}",
                    help="Above zero: the council rates this part of the relationship higher than the community does.",
                )
                if rel.gap_withheld_message(view):
                    st.caption(rel.gap_withheld_message(view))
            else:
                ui.no_data(
                    f"the gap needs both sides over the response threshold and, for a statement, at least "
                    f"{view.need} people on each side rating it."
                )
        with right:
            st.header("What the figures show")
            figures = rel.area_figures(code)
            for f in figures.to_dict("records"):
                st.metric(
                    f"{f['figure']}, {f['unit']} ({f['latest_year'] or 'no year'})",
                    f["latest"],
                    border=True,
                    delta=f"{f['shift']} since {f['earliest_year']}" if f["earliest_year"] else None,
                    delta_color="off",
                )
            st.caption(
                "From the Power Balance database: the latest year with a value, and the change since the "
                "earliest year with one. What people say sits beside these figures; neither is added into "
                "the other."
            )
            for f in figures.to_dict("records"):
                if f["left_out"]:
                    st.caption(f"{f['figure']}: not shown as latest — {f['left_out']}.")
            ui.downloads(figures, f"{view.round['area_name']} figures", "rel_figures")
        if not view.summary.empty:
            st.header("Each side's ratings")
            ui.table(
                rel.with_round(view, view.summary.drop(columns=["item"])),
                f"Ratings by side {view.round['area_name']} round {rid}",
                "rel_sides",
                column_config={
                    "counted": "ratings counted",
                    "bands": st.column_config.TextColumn("band of each group's mean", width="medium"),
                    "level": st.column_config.NumberColumn("level (1–5)", format="%.2f"),
                    "note": st.column_config.TextColumn("note", width="medium"),
                },
                caption="Bands of the 1–5 ratings counted (“don't know” is not a rating). "
                + rel.steps_note(view.need)
                + " Evidence text is never shown here.",
            )

elif chosen == "network":
    st.markdown(
        "Areas whose organisers chose to publish their round, for district networks comparing practice. "
        "Results appear once both sides are over the response threshold."
    )
    net = rel.network()
    if net.empty:
        ui.no_data("no organiser has published a round yet (`python -m powerbalance.assess publish-round --round N`).")
    else:
        ui.table(
            net,
            "Published relationship rounds",
            "rel_network",
            column_config={
                "mean_gap": st.column_config.NumberColumn("mean gap", format="%+.2f"),
                "mean_gap_over": "mean gap over",
                "largest_gap": st.column_config.TextColumn("largest gap", width="medium"),
            },
            caption="Gap: council level minus community level (1–5). The mean is over the statements with a "
            "gap (“mean gap over”): one fewer than the threshold rated on a side has none, so means over "
            "different numbers of statements are not like with like. Statements tied for the largest gap are "
            "all named.",
        )

else:
    st.markdown(ui.headings_from(rel.questions_markdown(), top=2))  # h2 under the page's h1
