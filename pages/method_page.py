"""Method & weights — indicator definitions and sources, weight sliders that recompute the index
live, the rank-uncertainty chart, and the methodology document."""

import streamlit as st

from powerbalance import benchmarks, charts, labels, lenses, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS

PAGE = {"title": "Method & weights", "icon": ":material/tune:", "url_path": "method", "order": 70}

ui.start_page()
ui.page_header(
    "Method & weights",
    "How the index is built, what goes into it, and how much the ranking depends on choices you can change here.",
)
periods = ui.q(queries.index_periods)

st.header("Indicators")
catalogue = ui.q(queries.indicator_catalogue)
if catalogue.empty:
    ui.no_data("the database has no indicators.")
else:
    ui.table(
        catalogue,
        "Indicator definitions",
        "me_ind",
        column_config={
            "polarity": st.column_config.NumberColumn(
                "polarity", help="+1: higher = more enabling; −1: higher = more providing; 0: context only"
            ),
            "scored": st.column_config.CheckboxColumn("in the index"),
            "scored_in": st.column_config.TextColumn(
                "scored in lenses", help="The index lenses that score it: place, council, community"
            ),
        },
        caption="Scored indicators make up the index of the lenses named (the community lens leaves out the "
        "parish precept share, which divides by council spending). Context indicators (deprivation, population, "
        "rurality) are shown beside it and never added into it.",
    )

st.caption(benchmarks.STAND_OUT_RULE_ELSEWHERE)

if not periods:
    ui.no_data("no financial year has spending data, so the index cannot be computed.")
    st.stop()

st.header("Weights")
st.markdown(
    "Move the sliders: the index and ranks below are recomputed with your weights. The link in your "
    "browser's address bar keeps them, so you can share this view."
)
wcol, ocol = st.columns([2, 3])
with wcol:
    weights = ui.url_weights(DEFAULT_WEIGHTS)
with ocol:
    level = ui.url_radio(
        "Level",
        ["district", "county", "region"],
        param="level",
        key="me_level",
        format_func=lambda v: {"district": "Districts & unitaries", "county": "Counties", "region": "Regions"}[v],
    )
    period = ui.url_selectbox("Financial year", periods, param="year", key="me_year", default=periods[-1])
    lens = ui.url_radio(
        "Lens",
        [x for x in ui.LENS_OPTIONS if level != "region" or x != "council"],
        param="lens",
        key="me_lens",
        format_func=ui.LENS_LABELS.get,
    )

st.caption(queries.INDEX_YEARS_NOTE)
sens_query = (queries.weight_sensitivity, level, period, weights, lens)
sens = ui.q(*sens_query)
st.markdown(f"**{ui.q_then(sens_query, queries.rank_moves_summary)}**")
mine = ui.council_of(ui.last_area(), sens["area_code"].tolist())  # the user's own council, highlighted
moved = queries.area_rank_move(sens, mine)
if moved:
    st.markdown(f":material/location_on: **{moved}**")
if sens["index"].notna().any():
    fig, alt = ui.figure(
        charts.weights_scatter,
        sens,
        x="index_default",
        y="index",
        group="group",
        name="name",
        group_labels=labels.GROUP_LABELS,
        highlight=mine,
    )
    shown = queries.own_area_first(
        sens[["area_code", "name", "group", "index_default", "rank_default", "index", "rank", "rank_move", "reason"]],
        mine,
    ).assign(group=lambda d: d["group"].map(labels.GROUP_LABELS).fillna(d["group"]))
    ui.chart(
        fig,
        alt,
        key="me_scatter",
        data=shown,
        name=f"Index with chosen weights {level} {period}",
        column_config=ui.rank_move_columns(),
        help="Each area is ranked within its own group; the table has every area's rank with the default "
        "weights, with yours, and how far it moved (your council first).",
    )
else:
    ui.no_data("no area has an index with these weights.")
n, m = queries.index_coverage(sens)
ui.coverage(n, m, f"{labels.LEVEL_PLURAL[level]} have an index value")

st.header("Which lens? How ranks move when council spending is not scored")
st.markdown(
    "The place and council lenses score council spending per resident as *providing* (and parish precepts "
    "as a share of it), so a council that cuts services rises even if nothing reaches its communities. The "
    "community lens shows spending as context and scores community money, projects, parishes and "
    "participation only; the dashboard opens on it. *Enabling or retreating?* on the Overview shows the "
    "spending side beside it."
)
spend_lens = "place" if lens == "community" else lens
moves_query = (queries.lens_rank_moves, level, period, weights, spend_lens, "community")
moves = ui.q(*moves_query)
st.markdown(f"**{ui.q_then(moves_query, lenses.moves_summary, spend_lens, 'community')}**")
ui.table(
    moves.reindex(moves["move"].abs().sort_values(ascending=False).index),
    f"Ranks in the {spend_lens} and community lenses {level} {period}",
    "me_lens_moves",
    caption="rank_from: rank in the spending lens; rank_to: rank in the community lens; move: places gained "
    "in the community lens (within the area's own group); spend_per_head: council spending per resident "
    f"in {period} (nominal £), shown as context.",
)

st.header("How certain is each rank?")
bands = ui.q(queries.rank_bands, level, period, weights, lens)
for group, sub in bands.groupby("group", sort=True):
    label = labels.GROUP_LABELS.get(group, group)
    fig, alt = ui.figure(charts.rank_band_chart, sub, subject=label, height=380, title=f"Ranks among {label}")
    ui.chart(
        fig,
        alt,
        key=f"me_band_{group}",
        data=sub,
        name=f"Rank uncertainty {label} {period}",
        help="Each area's rank recomputed 500 times, drawing the domain weights around your choice and the "
        "normalisation method (min–max, z-score, percentile) at random.",
    )

doc = queries.methodology_markdown()
if doc is None:
    st.header("Methodology")
    ui.no_data("docs/methodology.md has not been written yet.")
else:
    st.markdown(ui.headings_from(doc, top=2))  # its title is the section's h2, its sections h3 and h4
