"""Compare — councils side by side: pick them, or take a comparison group (same tier, same
county, statistical neighbours). Domains, trends and a table."""

import streamlit as st

from powerbalance import charts, labels, quadrants, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS

PAGE = {"title": "Compare", "icon": ":material/compare_arrows:", "url_path": "compare", "order": 30}

LIKE_WITH_LIKE = "Compare like with like: a council is ranked only against councils of its own tier."

ui.start_page()
weights = ui.carried_weights(DEFAULT_WEIGHTS)
periods = ui.q(queries.index_periods)
councils = ui.q(queries.councils)
council_labels = dict(zip(councils["code"], councils["label"]))
codes = councils["code"].tolist()

header = st.container()  # what the ranking promises depends on the lens chosen below
if not periods:
    with header:
        ui.page_header("Compare", LIKE_WITH_LIKE)
    ui.no_data("no financial year has spending data, so there is no index to compare.")
    st.stop()

# statistical neighbours first: a council arriving here is compared with its like at once
GROUPS = {
    "neighbours": "Statistical neighbours",
    "tier": "Same type of council",
    "county": "Same county",
    "pick": "Councils I pick",
}
c1, c2 = st.columns([3, 4])
start = ui.council_standing_in(ui.last_area(), codes, codes[0])  # a ward's council; the ward stays remembered
base = ui.url_selectbox(
    "Council",
    codes,
    param="area",
    key="cmp_area",
    default=start,
    format_func=lambda c: council_labels.get(c, c),
    container=c1,
)
if base != start:
    ui.remember_area(base)
kind = ui.url_radio(
    "Compare with",
    list(GROUPS),
    param="group",
    key="cmp_group",
    format_func=GROUPS.get,
    container=c2,
    help="Statistical neighbours: the 10 most similar councils of the same tier by "
    "population, deprivation, rurality and density.",
)
c3, c4 = st.columns([2, 5])
period = ui.url_selectbox("Financial year", periods, param="year", key="cmp_year", default=periods[-1], container=c3)
lens = ui.url_radio(
    "Lens",
    ui.LENS_OPTIONS,
    param="lens",
    key="cmp_lens",
    container=c4,
    format_func=ui.LENS_LABELS.get,
    help=ui.LENS_HELP,
)
with header:
    ui.page_header("Compare", f"{LIKE_WITH_LIKE} {ui.LENS_PROMISE[lens]}")
ui.unavailable_year_notice("cmp_year")  # a link or carried view asked for a year without an index

if kind == "pick":
    others = ui.url_multiselect(
        "Councils to compare with",
        [c for c in codes if c != base],
        param="areas",
        key="cmp_areas",
        format_func=lambda c: council_labels.get(c, c),
        max_selections=7,
        help="Up to 7 councils. Councils of another tier are shown, but ranked within their own tier.",
    )
    chosen = [base, *others]
else:
    chosen = ui.q(queries.comparison_group, base, kind)
    if len(chosen) == 1:
        ui.no_data(
            f"{council_labels.get(base, base)} has no {GROUPS[kind].lower()} to compare with "
            f"({'it is not in a county' if kind == 'county' else 'a feature is missing'})."
        )

table = ui.q(queries.compare_table, tuple(chosen), period, weights, lens)
mixed = table["group"].nunique() > 1
if mixed:
    st.warning(
        "These councils belong to different comparison groups; each is ranked within its own group, so "
        "compare their ranks and domain scores with care.",
        icon=":material/warning:",
    )

reorganised = ui.q(queries.reorganisation_notes, tuple(chosen))
if reorganised:  # councils formed since 2019: their index years are their predecessors' sums
    st.caption("\n".join(f"- {labels.escape_markdown(x)}" for x in reorganised))

shown, note = queries.compare_series(table, base, max_series=8)
left, right = st.columns(2)
with left:
    st.header("Domains side by side")
    long = queries.domain_long(shown)
    if long["score"].notna().any():
        fig, alt = ui.figure(
            charts.grouped_bars,
            long,
            category="domain",
            series="series",
            value="score",
            measure="Domain score (0–100)",
            category_order=list(labels.DOMAIN_LABELS.values()),
        )
        ui.chart(fig, alt, key="cmp_domains", data=long, name=f"Domain scores {period}")
    else:
        ui.no_data("none of these councils has domain scores this year.")
    if note:
        st.caption(note)
with right:
    st.header("Index over time")
    trend, trend_note = ui.q(queries.compare_trend, tuple(chosen), base, weights, lens)
    if trend["index"].notna().any():
        ui.index_trend_chart(
            trend,
            periods,
            key="cmp_trend",
            name="Index over time",
            help="The index is relative to each year's group; the enabler ratio in the table is absolute.",
        )
        if trend_note:
            st.caption(trend_note)
    else:
        ui.no_data("no index in any year for these councils.")

st.header("Table")
cols = [
    "area_code",
    "name",
    "type",
    "group_label",
    "index",
    "rank",
    "n_in_group",
    *[f"score_{d}" for d in queries.DOMAINS],
    "n_indicators",
    "reason",
]
ui.table(queries.in_words(table[cols]), f"Compare {period}", "cmp_table", column_config=ui.index_columns())
n, m = queries.index_coverage(table)
ui.coverage(n, m, "councils have an index value")

st.header("Enabling or retreating?")
base_level = ui.q(queries.area, base)["level"]
placed = ui.q(queries.quadrant_areas, base_level)
fig, alt = ui.figure(charts.quadrant_chart, placed, highlight=chosen, group_labels=quadrants.GROUP_LABELS, height=440)
ui.chart(
    fig,
    alt,
    key="cmp_quadrants",
    data=placed[placed["area_code"].isin(chosen)],
    name="Enabling or retreating: these councils",
    help="Every council of this level is drawn; the ones compared are highlighted. Measured with "
    f"{quadrants.SPAN_RULE}; pounds are nominal.",
)

# --- the latest year and the longest shift (spending and precepts run past the index years) ---------
st.header("Latest year and longest shift")
latest = ui.q(queries.latest_and_longest, tuple(chosen))
if len(latest):
    shown, full = ui.q_then((queries.latest_and_longest, tuple(chosen)), queries.latest_tables)
    ui.table(shown, "Compare latest year", "cmp_latest", caption=queries.INDEX_YEARS_NOTE, download=full)
else:
    ui.no_data("none of these councils has spending or parish precept figures.")
ui.coverage(
    int(latest.groupby("code")["value"].apply(lambda v: v.notna().any()).sum()) if len(latest) else 0,
    len(chosen),
    "councils have a value in the latest year",
)
