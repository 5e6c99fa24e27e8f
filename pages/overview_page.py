"""Overview — England at a glance: the index map, its distribution by tier, and the biggest
shifts towards enabling and towards providing, under a title that states the finding."""

import streamlit as st

from powerbalance import charts, codes, labels, quadrants, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS

PAGE = {"title": "Overview", "icon": ":material/public:", "url_path": "overview", "order": 10, "default": True}

INTRO = (
    "How far has each English area shifted from the council as **provider** of services to the council as "
    "**enabler** of community action? The index runs from 0 (most providing) to 100 (most enabling) *within* a "
    "comparison group — shire districts are compared with shire districts, single-tier councils with "
    "single-tier councils. {lens_promise} Deprivation and population are context, shown beside the index, never "
    "added into it."
)

ui.start_page()
weights = ui.carried_weights(DEFAULT_WEIGHTS)
periods = ui.q(queries.index_periods)
if not periods:
    ui.page_header("Power Balance")
    ui.no_data("the database has no financial year with spending data, so the index cannot be computed.")
    st.stop()

header = st.container()  # the title states the finding, which depends on the lens chosen below
c1, c2, c3 = st.columns([2, 3, 2])
period = ui.url_selectbox(
    "Financial year",
    periods,
    param="year",
    key="ov_year",
    default=periods[-1],
    container=c1,
    help="Revenue outturn year (grants are aligned to the year they start in).",
)
level = ui.url_radio(
    "Map level",
    ["district", "county", "region"],
    param="level",
    key="ov_level",
    format_func=lambda v: {"district": "Districts & unitaries", "county": "Counties", "region": "Regions"}[v],
    container=c2,
    help="Wards have no spending data: see the Map page for ward indicators.",
)
lens = ui.url_radio(
    "Lens",
    ui.LENS_OPTIONS,
    param="lens",
    key="ov_lens",
    container=c3,
    format_func=ui.LENS_LABELS.get,
    help=ui.LENS_HELP,
)
ui.unavailable_year_notice("ov_year")  # a link or carried view asked for a year without an index
lens_map = queries.lens_for_level(level, lens)
if lens_map != lens:
    st.info("Regions are not councils: the map shows the place lens.")

shifts = (queries.shifts, "district", lens, weights)
title, finding = ui.q_then(shifts, queries.overview_headline, "councils", by_tier=lens == "council")
placed_q = (queries.quadrant_areas, "district")
with header:
    quadrant_counts = ui.q_then(placed_q, quadrants.headline)
    ui.page_header(
        title,
        f"**{finding}** Enabling or retreating? {quadrant_counts}\n\n"
        + INTRO.format(lens_promise=ui.LENS_PROMISE[lens]),
    )
    england = (queries.latest_and_longest, (codes.ENGLAND,))
    if len(ui.q(*england)):  # the measures that run past the index years, each naming its years
        st.markdown(
            "**England, latest year:**\n" + "\n".join(f"- {x}" for x in ui.q_then(england, queries.latest_lines))
        )
        st.caption(queries.INDEX_YEARS_NOTE)

# --- the index map ---------------------------------------------------------------------------------
map_q = (queries.index_map_values, level, period, weights, lens_map)
values = ui.q(*map_q)
n, m = ui.q_then(map_q, queries.index_coverage, "value")
st.header(f"Provider → Enabler index, {period}")
map_shown, map_full = ui.q_then(map_q, queries.index_map_tables, period)
url = ui.geo_url(level)
plural = labels.LEVEL_PLURAL[level]
if url is not None:
    fig, alt = ui.q_then(map_q, charts.choropleth_map, url, measure="Index (0–100)", area_label=plural, height=540)
    event = ui.chart(
        fig,
        alt,
        key="ov_map",
        data=map_shown,
        download=map_full,
        name=f"Index {level} {period}",
        select=True,
        help="Darker blue = more enabling within its group. Grey = no index (the table says why). "
        "Click an area to open it in My area.",
    )
    clicked = ui.selected_location(event)
    if clicked:
        st.switch_page(ui.MY_AREA, query_params=ui.view_params(area=clicked, year=period, lens=lens_map))
else:
    ui.table(map_shown, f"Index {level} {period}", "ov_map_table", download=map_full)
ui.coverage(n, m, plural + " have an index value")
if level == "county":
    st.caption(queries.COUNTY_NOTE)

# --- distribution by tier ----------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.header("Distribution by tier")
    tiers = ui.q(queries.index_by_tier, period, weights, lens)
    fig, alt = ui.q_then(
        (queries.index_by_tier, period, weights, lens),
        charts.distribution_by_group,
        group="tier_label",
        value="index",
        name="name",
        measure="Index (0–100, within each tier)",
        height=360,
    )
    ui.chart(
        fig,
        alt,
        key="ov_tiers",
        data=tiers,
        name=f"Index by tier {period}",
        help="Each tier is scored within itself, so positions compare councils of the same tier only.",
    )
    tn, tm = ui.q_then((queries.index_by_tier, period, weights, lens), queries.index_coverage)
    ui.coverage(tn, tm, "councils have an index value")

# --- biggest shifts --------------------------------------------------------------------------------
with right:
    st.header("Biggest shifts")
    shift_group = None  # the place lens compares every place; the council lens one tier at a time
    if lens == "council":
        shift_group = ui.url_radio(
            "Compare within",
            queries.SHIFT_TIER_GROUPS,
            param="shift_group",
            key="ov_shift_group",
            format_func=lambda g: labels.GROUP_LABELS[g].capitalize(),
            help=queries.COUNCIL_LENS_TIER_RULE,
        )
    towards_enabling, towards_providing = ui.q_then(shifts, queries.biggest_shifts, 10, shift_group)
    n_both, n_shift, f, t = ui.q_then(shifts, queries.shift_span, shift_group)
    among = labels.GROUP_LABELS[shift_group] if shift_group else "districts"
    in_group = f" {among}" if shift_group else ""  # the downloads name the tier they list
    if not n_both:
        ui.no_data(f"none of the {among} has the enabler ratio in both years.")
    else:
        spend = "all councils' spending on the place" if lens != "council" else "the council's own spending"
        st.caption(
            f"Change in the enabler ratio — pounds in community hands (parish precepts and community grants) "
            f"per £100 of {spend} — from {f} to {t}."
            + (
                f" {labels.GROUP_LABELS[shift_group].capitalize()} only. {queries.COUNCIL_LENS_TIER_RULE}"
                if shift_group
                else ""
            )
        )
        tab_e, tab_p = st.tabs(["Towards enabling", "Towards providing"])
        with tab_e:
            if towards_enabling.empty:
                ui.no_data(f"none of the {among} moved towards enabling.")
            else:
                fig, alt = ui.figure(
                    charts.bar_chart,
                    towards_enabling,
                    label="name",
                    value="ratio_shift",
                    measure="Rise in enabler ratio",
                    unit="£ per £100",
                    digits=2,
                    color=charts.TURQUOISE,
                    subject=among,
                )
                ui.chart(
                    fig, alt, key="ov_shift_up", data=towards_enabling, name=f"Shift towards enabling {f}-{t}{in_group}"
                )
        with tab_p:
            if towards_providing.empty:
                ui.no_data(f"none of the {among} moved towards providing.")
            else:
                fig, alt = ui.figure(
                    charts.bar_chart,
                    towards_providing,
                    label="name",
                    value="ratio_fall",
                    unit="£ per £100",
                    digits=2,
                    measure="Shift towards providing (fall in enabler ratio)",
                    color=charts.DARK_PINK,
                    subject=among,
                )
                ui.chart(
                    fig,
                    alt,
                    key="ov_shift_down",
                    data=towards_providing,
                    name=f"Shift towards providing {f}-{t}{in_group}",
                )
        ui.coverage(n_both, n_shift, f"{among} have the enabler ratio in both years")

# --- enabling or retreating: the shift as two movements ---------------------------------------------
st.header("Enabling or retreating?")
st.markdown(
    "Councils stepping back is an *enabling shift* only when community money rises too. Each district or "
    "unitary is placed by the change in its councils' spending per resident and in community money "
    f"(parish precepts and community grants) per resident, {quadrants.SPAN_RULE}."
)
placed = ui.q(*placed_q)
fig, alt = ui.q_then(placed_q, charts.quadrant_chart, group_labels=quadrants.GROUP_LABELS)
ui.chart(
    fig,
    alt,
    key="ov_quadrants",
    data=placed,
    name="Enabling or retreating districts",
    help=f"Measured with {quadrants.SPAN_RULE}; pounds are nominal. An area missing a year is "
    "'not enough data' and is not drawn.",
)
ui.coverage(*ui.q_then(placed_q, quadrants.coverage), "districts have both movements")
longest = ui.q_then((queries.quadrant_areas_longest, "district"), quadrants.longest_span_note)
if longest:
    st.caption(longest)
