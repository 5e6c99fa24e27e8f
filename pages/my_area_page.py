"""My area — find a place by name, ward or postcode and see its index, domains, shift over
time, rank with its uncertainty band, statistical neighbours, the wards inside it (a county: its
districts), and a printable one-page brief."""

import streamlit as st

from powerbalance import benchmarks, brief, charts, labels, quadrants, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS

PAGE = {"title": "My area", "icon": ":material/location_on:", "url_path": "my-area", "order": 20}

ui.start_page()
weights = ui.carried_weights(DEFAULT_WEIGHTS)
periods = ui.q(queries.index_periods)
councils = ui.q(queries.councils)
council_labels = dict(zip(councils["code"], councils["label"]))

# --- choosing the place ------------------------------------------------------------------------------
ui.page_header(
    "My area",
    "Find your council or ward. The index belongs to councils; a ward shows its own "
    "figures beside its council's index.",
)


def _choose(code: str, found_as: dict | None = None) -> None:
    """Search result chosen: make it the area (callback, runs before the rerun); a parish or a former
    council found by name is remembered (code, label, match) so the page can say what it opened."""
    if code:
        st.session_state["ma_area"] = code
        st.session_state["ma_found"] = (code, *found_as[code]) if found_as and code in found_as else None


search = st.text_input(
    "Search by place name, ward or postcode",
    key="ma_search",
    placeholder="e.g. Adur, Hebden Royd, Central Worthing, or SW1A 1AA",
    help="Matches councils (former councils too, as the council they are now part of), wards, parishes and "
    "postcodes in England. Many wards share a name: add the council's name to find one (“Central, Worthing”).",
)
if search.strip():
    result = ui.q(queries.search_places, search, 10)
    found = result.found
    if result.message and found.empty:
        st.warning(result.message, icon=":material/search_off:")
    elif result.message:
        st.info(result.message, icon=":material/search:")
    elif not found.empty:  # st.info is a role=status region: a screen reader says how many, focus stays put
        st.info(labels.escape_markdown(labels.search_status(search, len(found))), icon=":material/search:")
    if not found.empty:
        opts = found["code"].tolist()
        flabels = dict(zip(found["code"], found["label"]))
        found_as = {
            c: (lab, m) for c, lab, m in zip(found["code"], found["label"], found["match"]) if m in ("parish", "former")
        }
        shown = f"{len(opts)} of {result.total} matches" if result.total > len(opts) else f"{len(opts)} matches"
        st.selectbox(
            "Matches",
            opts,
            index=None,
            format_func=lambda c: flabels.get(c, c),
            key="ma_pick",
            placeholder=("1 match" if len(opts) == 1 and result.total == 1 else shown) + " — choose one",
            on_change=lambda: _choose(st.session_state.get("ma_pick"), found_as),
        )

# Wards and regions are not in the council list: the one in the URL or just chosen is added to it.
extra = {}
for cand in (st.query_params.get("area"), st.session_state.get("ma_area")):
    if cand and cand not in council_labels and cand not in extra:
        info = ui.q(queries.area, cand)
        if info is not None:
            extra[cand] = queries.area_label(info)
options = list(extra) + councils["code"].tolist()
all_labels = {**council_labels, **extra}
if not (st.query_params.get("area") or st.session_state.get("ma_area") or ui.last_area()):
    st.info("Search above for your council, ward or postcode to see its profile.", icon=":material/search:")
    st.stop()  # before any search: a prompt, not the first council's profile
c1, c2, c3 = st.columns([3, 2, 2])
code = ui.url_selectbox(
    "Area",
    options,
    param="area",
    key="ma_area",
    default=ui.last_area(councils["code"].iloc[0]),
    format_func=lambda c: all_labels.get(c, c),
    container=c1,
)
ui.remember_area(code)
if not periods:
    ui.no_data("no financial year has spending data, so there is no index to show.")
    st.stop()
period = ui.url_selectbox("Financial year", periods, param="year", key="ma_year", default=periods[-1], container=c2)
lens = ui.url_radio(
    "Lens",
    ui.LENS_OPTIONS,
    param="lens",
    key="ma_lens",
    container=c3,
    format_func=ui.LENS_LABELS.get,
    help=ui.LENS_HELP,
)
ui.unavailable_year_notice("ma_year")  # a link or carried view asked for a year without an index

profile = ui.q(queries.area_profile, code, period, weights, lens)
head = st.container(key=ui.HEADLINE)  # the place and its headline figures, after the controls (as read)
head.header(profile.name)
where = ", ".join(
    x
    for x in (
        profile.parent_names.get("district"),
        profile.parent_names.get("county"),
        profile.parent_names.get("region"),
    )
    if x and x != profile.name
)
head.caption(
    f"{labels.TYPE_LABELS.get(profile.type, profile.type)} · {profile.code}" + (f" · {where}" if where else "")
)
# a way past the charts and tables to the page's main action: the link moves the focus starting point there
head.markdown(f"[Go to the one-page brief](#{ui.BRIEF_ANCHOR})")
if profile.reorganised:  # a council formed since 2019: its earlier years are its predecessors' sums
    head.info(
        f"**{labels.escape_markdown(profile.council_name or profile.name)}:** "
        f"{labels.escape_markdown(profile.reorganised)}",
        icon=":material/merge:",
    )
chosen = st.session_state.get("ma_found")  # (code, label, match) of the search result chosen
if chosen and chosen[0] == profile.code and chosen[2] == "parish":
    st.info(f"Parish found: {chosen[1]} (ONS parishes, December 2019).", icon=":material/home_work:")
elif chosen and chosen[0] == profile.code:
    st.info(f"{chosen[1]}, which is shown.", icon=":material/history:")
if profile.council_code and profile.council_code != profile.code:
    head.info(
        f"Wards have no spending data, so the index shown is that of **{profile.council_name}**. "
        "The ward's own figures are in the indicator table.",
        icon=":material/info:",
    )

# --- headline figures --------------------------------------------------------------------------------
ix = profile.index or {}
m1, m2, m3 = head.columns(3)
if profile.has_index:
    m1.metric(
        "Provider → Enabler index",
        charts.fmt(ix["index"], 1),
        border=True,
        help=f"0 = most providing, 100 = most enabling, within {profile.group_label}.",
    )
    band_text = " · ".join(x for x in charts.rank_band_words(profile.band) if x)
    m2.metric(
        f"Rank among {profile.group_label}",
        f"{charts.fmt(ix['rank'], 0)} of {charts.fmt(ix['n_in_group'], 0)}",
        border=True,
        help="1 = most enabling. " + band_text,
    )
    m2.caption(band_text)
else:
    m1.metric("Provider → Enabler index", "no data", border=True)
    ui.no_data(
        f"{profile.council_name or profile.name} has no index in {period}: "
        f"{ix.get('reason') or 'the index covers districts, unitaries, counties and regions'}."
    )
sh = profile.shift or {}
if profile.has_shift:
    ratio_name, ratio_unit = labels.enabler_ratio_words(profile.lens)
    m3.metric(
        f"{ratio_name} {sh['from_period']} → {sh['to_period']}",
        charts.fmt(sh["ratio_to"], 2),
        delta=f"{sh['ratio_shift']:+.2f} ({queries.shift_direction(sh['ratio_shift'])})",
        delta_color="off",
        border=True,
        help=f"{ratio_unit}: an absolute measure of the shift."
        + (f" Compare it only with other {profile.group_label}." if profile.lens == "council" else ""),
    )
    m3.caption(ratio_unit)
else:
    m3.metric("Shift over time", "no data", border=True, help="The enabler ratio is not available in both years.")

# --- what stands out against the neighbours (nothing when too few neighbours have values) -------------
if profile.stand_out is not None and len(profile.stand_out):
    st.subheader("What stands out")
    st.markdown("\n".join(f"- {labels.escape_markdown(t)}" for t in profile.stand_out["sentence"]))
    st.caption(benchmarks.STAND_OUT_RULE)

# --- enabling or retreating ---------------------------------------------------------------------------
if profile.quadrant:
    st.subheader("Enabling or retreating?")
    st.markdown(f"**{profile.council_name}: {profile.quadrant}.**")
    placed = ui.q(queries.quadrant_areas, profile.council_level)
    fig, alt = ui.figure(
        charts.quadrant_chart, placed, highlight=[profile.council_code], group_labels=quadrants.GROUP_LABELS, height=420
    )
    ui.chart(
        fig,
        alt,
        key="ma_quadrants",
        data=placed,
        name=f"Enabling or retreating {profile.council_level}",
        help="Councils' spending on the place per resident (for a shire district, its own and its share of its "
        "county's) against community money (parish precepts and community grants) "
        f"per resident, {quadrants.SPAN_RULE}; pounds are nominal.",
    )

# --- the latest year and the longest shift (spending, precepts, participation run past the index) ------
if profile.latest is not None and len(profile.latest):
    st.subheader(f"Latest year: {profile.council_name or profile.name}")
    st.markdown("\n".join(f"- {line}" for line in profile.latest_lines))
    st.caption(queries.INDEX_YEARS_NOTE)
    shown, full = profile.latest_display
    ui.table(shown, f"{profile.name} latest year", "ma_latest", download=full)
    for col, measure in zip(st.columns(2), queries.LONGEST_SHIFT_OF):
        trend = ui.q(queries.longest_trend, profile.council_code or profile.code, measure)
        if len(trend):
            years = queries.every_financial_year(trend["period"])
            label = profile.latest.loc[profile.latest["indicator_id"] == measure, ["measure", "unit"]]
            name, unit = label.iloc[0].tolist() if len(label) else (measure, "")
            fig, alt = ui.figure(
                charts.line_chart,
                trend,
                x="period",
                y="value",
                series="name",
                measure=name,
                unit=unit,
                digits=2,
                x_order=years,
                code="code",
            )
            with col:
                ui.chart(
                    fig,
                    alt,
                    key=f"ma_long_{measure}",
                    data=trend,
                    name=f"{name} {years[0]} to {years[-1]}",
                    help="Years without published figures are gaps, never filled in. Cash terms.",
                )
                partial = ui.q(queries.trend_coverage, profile.council_code or profile.code, measure)
                if partial:
                    st.caption(partial)
info = ui.q(queries.area, code) or {}
part = ui.q(queries.participation_series, info.get("region_code"))
if len(part):
    st.subheader("Civic participation: England and region")
    years = sorted(part["period"].dropna().unique())
    fig, alt = ui.figure(
        charts.line_chart_with_intervals,
        part,
        x="period",
        y="value",
        lo="lci",
        hi="uci",
        series="name",
        measure="Civic participation",
        unit="% of adults",
        x_order=years,
        code="area_code",
    )
    ui.chart(
        fig,
        alt,
        key="ma_part",
        data=part,
        name="Civic participation England and region",
        help="Community Life Survey. England to 2024/25 (no survey in 2022/23: the gap); regions to 2020/21. "
        "Survey estimates, not local figures: never scored.",
    )

# --- domains, trend, rank band ---------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Domains")
    if profile.domains is not None and profile.domains["score"].notna().any():
        fig, alt = ui.figure(
            charts.bar_chart,
            profile.domains,
            label="domain",
            value="score",
            measure="Domain score (0–100)",
            sort=False,
            subject="domains",
        )
        ui.chart(fig, alt, key="ma_domains", data=profile.domains, name=f"{profile.council_name} domains {period}")
    else:
        ui.no_data("no domain scores for this area in this year.")
with right:
    st.subheader("Over time")
    if profile.trend is not None and profile.trend["index"].notna().any():
        ui.index_trend_chart(
            profile.trend,
            periods,
            key="ma_trend",
            name=f"{profile.council_name} index over time",
            help="The index is relative to each year's group; the enabler ratio column in the table is "
            "the absolute measure.",
            by_role=True,
        )
    else:
        ui.no_data("no index in any year for this area.")

if profile.bands is not None:
    st.subheader("Rank and its uncertainty")
    bands = profile.bands
    fig, alt = ui.figure(
        charts.rank_band_chart, bands, highlight=[profile.council_code], subject=profile.group_label, height=360
    )
    ui.chart(
        fig,
        alt,
        key="ma_band",
        data=bands,
        name=f"Rank uncertainty {profile.group_label} {period}",
        help="Ranks recomputed 500 times with other reasonable weights and normalisations.",
    )

# --- peers and indicators -------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Statistical neighbours")
    if profile.peer_display is not None:
        ui.table(
            profile.peer_display[0],
            f"{profile.council_name} statistical neighbours",
            "ma_peers",
            caption="Nearest councils of the same tier by population, deprivation, rurality and density.",
            download=profile.peer_display[1],
        )
        st.page_link(
            ui.COMPARE,
            label="Compare with these neighbours",
            icon=":material/compare_arrows:",
            query_params=ui.view_params(group="neighbours"),
        )
    else:
        ui.no_data(queries.peers_missing_reason(profile.level))
with right:
    st.subheader("Indicators")
    if profile.indicators is not None and len(profile.indicators):
        ui.table(
            profile.indicator_display,
            f"{profile.name} indicators",
            "ma_ind",
            caption="Each value beside England, the region and the statistical neighbours' median "
            "(how many neighbours have a value) for the same year.",
        )
        unscored = ui.q(queries.local_unscored_note, profile.council_code, profile.council_level, period, lens)
        if unscored:
            st.caption(unscored)
    else:
        ui.no_data("no indicator values for this area.")

# --- wards ---------------------------------------------------------------------------------------
if profile.wards is not None and len(profile.wards):
    st.subheader(f"Wards in {profile.council_name}")
    wards = profile.wards
    ward_shown, ward_full = queries.ward_tables(wards)
    value_cols = [c for c in wards.columns if c not in ("code", "name")]
    if value_cols:
        metric = ui.url_selectbox(
            "Ward indicator",
            value_cols,
            param="indicator",
            key="ma_ward_metric",
            default=queries.best_covered(wards, value_cols),
        )
        url = ui.geo_url("ward", profile.ward_district)
        if url is not None:
            bounds = ui.q(queries.area_bounds, tuple(wards["code"]))
            fig, alt = ui.figure(
                charts.choropleth_map,
                wards.rename(columns={metric: "value"}),
                url,
                measure=metric,
                area_label="wards",
                bounds=bounds,
                height=420,
                highlight=profile.code if profile.level == "ward" else None,
            )
            event = ui.chart(
                fig,
                alt,
                key="ma_ward_map",
                data=ward_shown,
                name=f"Wards in {profile.council_name}",
                select=True,
                help="Click a ward to open it.",
                table_open=True,
                column_config=ui.ward_columns(),
                download=ward_full,
            )
            clicked = ui.selected_location(event)
            if clicked and clicked != profile.code:
                st.switch_page(ui.MY_AREA, query_params=ui.view_params(area=clicked))
        else:
            ui.table(ward_shown, f"Wards in {profile.council_name}", "ma_wards", download=ward_full)
        ui.coverage(int(wards[metric].notna().sum()), len(wards), "wards have a value")
    else:
        ui.table(ward_shown, f"Wards in {profile.council_name}", "ma_wards", download=ward_full)
        ui.no_data("no ward-level indicator has values in this district.")

# --- a county's districts: which parts differ --------------------------------------------------------
if profile.districts is not None and len(profile.districts):
    parts = profile.districts
    st.subheader(f"Districts in {profile.name}: which parts differ")
    st.caption(
        f"Each district's own index in {period} ({lens} lens, the same weights as above), "
        "ranked among all shire districts in England, not within the county; the enabler ratio is "
        "the absolute measure."
    )
    fig, alt = ui.figure(
        charts.bar_chart,
        parts,
        label="name",
        value="index",
        measure=f"District index (0–100), {period}",
        subject="districts",
    )
    shown, full = queries.county_district_tables(parts, period, lens)
    ui.chart(
        fig,
        alt,
        key="ma_districts",
        data=shown,
        name=f"Districts in {profile.name} {period}",
        table_open=True,
        download=full,
    )
    ui.coverage(int(parts["index"].notna().sum()), len(parts), f"districts have an index in {period}")

# --- the printable brief --------------------------------------------------------------------------
st.subheader("One-page brief", anchor=ui.BRIEF_ANCHOR)
st.caption("A one-page A4 summary of this page: a PDF to attach to committee papers, or HTML to open and print.")
brief_row = st.container(horizontal=True, gap="small")
brief_row.download_button(
    "Download the brief (PDF)",
    data=lambda: brief.brief_pdf(profile),
    file_name=f"power-balance-{profile.code}-{period}.pdf",
    mime="application/pdf",
    key="ma_brief_pdf",
    on_click="ignore",
    icon=":material/picture_as_pdf:",
    type="primary",
)
brief_row.download_button(
    "Download the brief (HTML)",
    data=lambda: brief.render(profile).encode("utf-8"),
    file_name=f"power-balance-{profile.code}-{period}.html",
    mime="text/html",
    key="ma_brief",
    on_click="ignore",
    icon=":material/print:",
)
