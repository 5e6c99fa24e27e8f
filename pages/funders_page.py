"""Funders — programme spread: where a funder's grants land (map, reach, concentration,
alignment with need, cold spots) beside the same areas' council effort. Funders can upload their
own 360Giving file: it is analysed for their browser session only, never stored or shared."""

import dataclasses
import hashlib

import streamlit as st

from powerbalance import charts, funders, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS
from powerbalance.labels import escape_markdown as md

PAGE = {"title": "Funders", "icon": ":material/volunteer_activism:", "url_path": "funders", "order": 50}

#: The widgets of an upload (never in the URL: links are shared).
UPLOAD_CHOICES = ("fu_up_funders", "fu_up_years", "fu_up_programmes")


def forget_upload() -> None:
    """Nothing of the file stays in the session: the user removed it or asked to forget it."""
    for key in ("fu_upload", "fu_up_kept", *UPLOAD_CHOICES):
        st.session_state.pop(key, None)


def on_file_change() -> None:
    if st.session_state.get("fu_file") is None:  # the user removed the file (not a redrawn, empty box)
        forget_upload()


def held_upload(file, max_bytes: int):
    """This session's upload, read once per content (keyed by its sha256): Streamlit empties a
    file box that a run did not draw (another page, another data source), so the parsed file is
    held here, for this browser session only, until the user removes it or uploads another."""
    held = st.session_state.get("fu_upload")
    if file is None or (held is not None and held["file_id"] == file.file_id):
        return held
    data = file.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if held is not None and held["digest"] == digest:
        result = dataclasses.replace(held["result"], filename=file.name)
    else:
        with st.spinner("Reading, checking and placing your grants…"):
            result = funders.analyse_upload(data, file.name, max_bytes)
        for key in ("fu_up_kept", *UPLOAD_CHOICES):  # another file: its choices start afresh
            st.session_state.pop(key, None)
    held = {"digest": digest, "file_id": file.file_id, "result": result}
    st.session_state["fu_upload"] = held
    return held


def upload_choice(key: str, options: list, default: list) -> None:
    """Before the widget ``key`` is drawn: the choice left on this upload (Streamlit forgets a
    widget's value once a run does not draw it), else ``default``; options gone are dropped."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get("fu_up_kept", {}).get(key, default)
    st.session_state[key] = [v for v in st.session_state[key] if v in options]


def keep_upload_choices() -> None:
    st.session_state["fu_up_kept"] = {k: st.session_state[k] for k in UPLOAD_CHOICES if k in st.session_state}


ui.start_page()
weights = ui.carried_weights(DEFAULT_WEIGHTS)


ui.page_header(
    "Funders",
    "Where does the money land? Pick funders, programmes and years to see how grants spread "
    "across districts and wards, how concentrated they are, how they line up with deprivation, "
    "and which high-need areas get little or nothing — beside what each council does to put "
    "money in community hands. Deprivation is shown beside the money, never mixed into a score.",
)

dataset = ui.url_radio(
    "Grants to analyse", list(funders.DATASETS), param="data", key="fu_data", format_func=funders.DATASETS.get
)
st.caption(funders.DATASET_NOTES[dataset])
if st.session_state.get("fu_last_data") not in (None, dataset):
    for param in ("funder", "programme", "years"):  # another dataset's choices do not apply
        if param in st.query_params:
            del st.query_params[param]
st.session_state["fu_last_data"] = dataset
ui.remember_page_view()  # the choices just dropped are not put back by the sidebar


def _funder_label(table):
    info = {r.funder: r for r in table.itertuples()}

    def label(name: str) -> str:
        r = info.get(name)
        if r is None:
            return name
        text = f"{name} ({r.grants:,} grants)"
        return text + " — not in the index" if isinstance(r.excluded, str) else text

    return label


# --- the grants: a stored dataset, or the user's own file ----------------------------------------------
upload = None
if dataset == "upload":
    max_mb = int(st.get_option("server.maxUploadSize"))
    file = st.file_uploader(
        f"Your 360Giving file — CSV, JSON or spreadsheet, up to {max_mb} MB and "
        f"{funders.MAX_UPLOAD_ROWS:,} grant rows per sheet (heading row, blank and empty "
        "template rows not counted)",
        type=["csv", "json", "xlsx", "xls", "ods"],
        key="fu_file",
        on_change=on_file_change,
        help="Checked with the same rules as 360Giving's data quality tool. "
        "The file stays in this browser session and is gone when you close it.",
    )
    held = held_upload(file, max_mb * 1024 * 1024)
    if held is None:
        st.info(
            "Upload a file in the 360Giving Data Standard to see where your grants land.", icon=":material/upload_file:"
        )
        st.stop()
    upload = held["result"]
    if file is None:
        st.caption(
            f"Showing {md(upload.filename)}, uploaded earlier in this browser session: upload another file to "
            "replace it."
        )
        st.button("Forget this file", key="fu_forget", on_click=forget_upload, icon=":material/delete:")
    else:  # Streamlit draws a "+" beside the file: it chooses a replacement, not a second file
        st.caption(
            "One file at a time: another file (the + beside it, or one dropped here) replaces this one. "
            "To analyse two files together, put their grants on two sheets of one workbook."
        )
    if upload.error:
        st.error(f"This file cannot be analysed: {md(upload.error)}", icon=":material/error:")
    else:
        n_err = len(upload.problems.loc[upload.problems["severity"] == "error", ["sheet", "row"]].drop_duplicates())
        templates = int(upload.sheets["template_rows"].sum()) if upload.sheets is not None else 0
        st.success(
            f"{md(upload.filename)}: {upload.rows_read:,} rows read, {len(upload.placed):,} grants loaded"
            + (f", {charts.counted(n_err, 'row')} not loaded (errors below)" if n_err else "")
            + (f"; {templates:,} empty template rows counted, not read" if templates else "")
            + ".",
            icon=":material/check:",
        )
    if upload.sheets is not None and (len(upload.sheets) > 1 or upload.sheets["skipped"].notna().any()):
        with st.expander(f"Sheets in the file ({len(upload.sheets)})", expanded=True):
            ui.table(
                upload.sheets,
                f"Sheets of {upload.filename}",
                "fu_sheets",
                caption="Every sheet with the columns Identifier, Amount Awarded, Award Date and Currency is "
                "read; the others are named with why.",
            )
    if upload.problems is not None and len(upload.problems):
        groups = upload.groups if upload.groups is not None else upload.problems  # a whole-file error: one line
        kinds = f"{len(groups):,} kind{'s' if len(groups) != 1 else ''}"
        with st.expander(
            f"Problems found in the file ({len(upload.problems):,}, {kinds})", expanded=bool(upload.error)
        ):
            ui.table(
                groups,
                f"Problems in {upload.filename}",
                "fu_problems",
                caption="One line per kind of problem and column, with how many rows and which. Errors: the "
                "row is not loaded. Warnings: loaded, worth checking. Row = the row you see when the file is "
                "opened in a spreadsheet (heading = row 1; in a CSV one row per grant, even when a cell holds "
                "line breaks), n-th grant in JSON.",
            )
            st.download_button(
                "Every problem, one line each (CSV)",
                data=lambda: funders.problems_csv(upload),
                file_name=f"{upload.filename}-problems.csv",
                mime="text/csv",
                key="fu_problems_all",
                on_click="ignore",
                icon=":material/download:",
            )
    if not upload.ok:
        st.stop()
    with st.expander("How your grants were placed"):
        ui.table(
            upload.placement,
            f"Placement of {upload.filename}",
            "fu_placement",
            caption="Beneficiary location codes first (beneficiary_…), then the recipient's address: its postcode "
            "(recipient_postcode), else the recipient organisation's own location codes (recipient_location). "
            "Grants that cannot be placed are counted, never dropped; the download names the location used.",
        )
        st.download_button(
            "Each grant: where it was placed and which location was used (CSV)",
            data=lambda: funders.placed_grants_csv(upload.placed),
            file_name=f"{upload.filename}-placement.csv",
            mime="text/csv",
            key="fu_placed_grants",
            on_click="ignore",
            icon=":material/download:",
        )
    funder_table, year_options = funders.upload_choices(upload.placed)
else:
    funder_table = ui.q(funders.funder_choices, dataset)
    year_options = ui.q(funders.year_choices, dataset)

names = funder_table["funder"].tolist()
label = _funder_label(funder_table)
default_funder = funder_table.loc[funder_table["excluded"].isna(), "funder"].head(1).tolist()
years_text = [str(y) for y in year_options]
c1, c2 = st.columns([3, 2])
if upload is not None:  # nothing of an uploaded file goes into the URL (links are shared)
    upload_choice("fu_up_funders", names, names)
    chosen = c1.multiselect("Funders", names, key="fu_up_funders", format_func=label, wrap=True, select_all=False)
    upload_choice("fu_up_years", years_text, years_text)
    chosen_years = c2.multiselect("Award years", years_text, key="fu_up_years", wrap=True)
    prog_table = funders.upload_programmes(upload.placed, chosen)
else:
    chosen = ui.url_multiselect(
        "Funders",
        names,
        param="funder",
        key="fu_funder",
        default=default_funder,
        format_func=label,
        container=c1,
        wrap=True,
        select_all=False,
        help="Marked “not in the index”: the Department for Transport's grants are transport "
        "grants to councils, left out of the index's community funding (see Method).",
    )
    chosen_years = ui.url_multiselect(
        "Award years", years_text, param="years", key="fu_years", default=years_text, container=c2, wrap=True
    )
    prog_table = ui.q(funders.programme_choices, dataset, tuple(chosen))
if dataset == "published":
    st.caption(
        "The 2013–2018 file has no programme field: choose the COVID-19 grants or upload your own file to "
        "pick programmes."
    )
    programmes = []
elif upload is not None:
    upload_choice("fu_up_programmes", prog_table["programme"].tolist(), [])
    programmes = st.multiselect(
        "Programmes",
        prog_table["programme"].tolist(),
        key="fu_up_programmes",
        placeholder="All programmes of these funders",
    )
else:
    programmes = ui.url_multiselect(
        "Programmes",
        prog_table["programme"].tolist(),
        param="programme",
        key="fu_programme",
        help="None chosen = all programmes of these funders.",
    )
periods = ui.q(funders.effort_periods)
c3, c4, c5, c6 = st.columns([2, 3, 3, 2])
level = ui.url_radio(
    "Level", list(funders.LEVELS), param="level", key="fu_level", format_func=funders.LEVELS.get, container=c3
)
scope = ui.url_radio(
    "Compare across",
    list(funders.SCOPES),
    param="scope",
    key="fu_scope",
    format_func=funders.SCOPES.get,
    container=c4,
    help="A local funder compared across all of England looks concentrated whatever it does: "
    "compare across the districts it works in instead.",
)
measure = ui.url_radio(
    "Map shows",
    list(funders.MEASURES),
    param="measure",
    key="fu_measure",
    format_func=lambda m: funders.MEASURES[m][0],
    container=c5,
)
effort = ui.url_selectbox(
    "Council effort in",
    periods,
    param="effort",
    key="fu_effort",
    default=funders.default_effort_period([int(y) for y in chosen_years], periods),
    container=c6,
    help="Financial year of the enabler ratio and index shown beside the grants "
    "(grants awarded in calendar year Y belong to financial year Y-(Y+1)).",
)
if upload is not None:
    keep_upload_choices()

if not chosen or not chosen_years:
    ui.no_data("choose at least one funder and one award year.")
    st.stop()
excluded = [f for f in chosen if funders.excluded_note(f)]
if excluded:
    st.warning(
        f"{', '.join(excluded)}: {funders.excluded_note(excluded[0])}. Shown here because you chose it, but it "
        "is left out of the index's community funding.",
        icon=":material/warning:",
    )

years = tuple(int(y) for y in chosen_years)
if upload is not None:
    report = funders.spread_from_upload(
        upload.placed,
        chosen,
        years,
        programmes,
        level,
        ui.q(funders.area_context, level),
        ui.q(funders.council_effort, effort, weights) if effort else None,
        ui.q(funders.geography),
        scope,
    )
else:
    report = ui.q(
        funders.spread_from_db, dataset, tuple(chosen), years, tuple(programmes), level, effort, weights, scope
    )
if report.grants == 0:
    ui.no_data("these funders have no grants in the chosen years and programmes.")
    st.stop()


def from_report(fn, *args, **kwargs):
    """``fn(report, …)``: for the published data, kept with the report (a rerun makes no figure or
    table again); for an upload, made from it (an upload is this session's own)."""
    if upload is not None:
        return fn(report, *args, **kwargs)
    query = (funders.spread_from_db, dataset, tuple(chosen), years, tuple(programmes), level, effort, weights, scope)
    return ui.q_then(query, fn, *args, **kwargs)


plural = "districts" if level == "district" else "wards"
rd, rw = report.reach_district, report.reach_ward
subject = ", ".join(chosen[:3]) + (f" and {len(chosen) - 3} more" if len(chosen) > 3 else "")
span = f"{min(years)}–{max(years)}" if len(years) > 1 else f"{years[0]}"
selection = f"{subject} {span}"  # names every download after the selection

# --- headline figures --------------------------------------------------------------------------------
st.header(
    f"{md(subject)}, {span}"
    + (f" — {len(programmes)} programme{'s' if len(programmes) > 1 else ''}" if programmes else "")
)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Grants", f"{report.grants:,}", border=True, help="Every grant of the selection, placed or not.")
m1.caption(f"{charts.fmt(report.amount_gbp, 0, '£')} awarded")
m2.metric(
    "Districts reached",
    f"{rd['areas_reached']:,}",
    border=True,
    help="Districts and unitaries with at least one grant.",
)
m2.caption(f"of {rd['areas_total']:,} districts ({funders.percent(rd['share_reached'])})")
no_wards = upload is not None and report.grants_in_wards == 0
m3.metric(
    "Wards reached",
    "no ward locations" if no_wards else f"{rw['areas_reached']:,}",
    border=True,
    help="Wards with at least one grant, among the wards that can be judged: those of districts where at least "
    "95% of the selection's grants are placed in current wards, or that got no grant at all.",
)
m3.caption(
    "this file places no grant in a current ward: none of its location codes or postcodes gives a December 2023 "
    "ward (each grant's reason is under How your grants were placed)"
    if no_wards
    else f"of the {rw['areas_total']:,} wards that can be judged "
    f"({funders.percent(rw['share_reached'])}); {report.wards_total:,} wards compared"
)
m4.metric(
    "Concentration (Gini)",
    charts.fmt(report.gini, 2),
    border=True,
    help="0 = every area gets the same; near 1 = nearly all the money in one area.",
)
m4.caption(f"across {report.areas_judged:,} {plural}")
notes = [
    f"**{report.ward_coverage_text()}** (December 2023 wards: a grant given for a whole district, or placed in a "
    "ward redrawn since, has no current ward)",
    f"{charts.counted(rd['grants_unplaced'], 'grant')} ({charts.fmt(rd['amount_unplaced'], 0, '£')}) "
    f"{'is' if rd['grants_unplaced'] == 1 else 'are'} not placed in any English district (outside England, or no "
    "code or postcode that places it: the placement download gives each grant's reason)",
]
if report.grants_without_gbp:
    k = report.grants_without_gbp
    notes.append(
        f"{charts.counted(k, 'grant')} {'is' if k == 1 else 'are'} not in pounds: counted, but not in £ figures"
    )
if report.without_gbp_text(plural):
    notes.append(report.without_gbp_text(plural))
if report.districts_wards_not_judged:
    k = report.districts_wards_not_judged
    notes.append(
        f"the wards of {k:,} district{'s' if k > 1 else ''} cannot be judged (fewer than 95% of the "
        "selection's grants there are placed in current wards) and are shown as no data"
    )
st.markdown("".join(f"- {n}.\n" for n in notes))

# --- map and table ---------------------------------------------------------------------------------
label_m, unit_m, digits_m = funders.MEASURES[measure]
st.header(f"Where the money lands: {label_m.lower()} by {plural[:-1]}")
values = from_report(funders.map_values, measure)
bounds = None
if level == "ward":
    districts = ui.q(queries.areas, "district")
    dnames = dict(zip(districts["code"], districts["name"]))
    zoom = ui.url_selectbox(
        "Zoom to",
        ["england", *districts["code"]],
        param="zoom",
        key="fu_zoom",
        format_func=lambda c: "All of England" if c == "england" else dnames.get(c, c),
    )
    if zoom != "england":
        values = from_report(funders.map_values, measure, district=zoom)
        bounds = ui.q(queries.area_bounds, tuple(values["code"]))
if bounds is None and scope == "reached":
    bounds = ui.q(queries.area_bounds, tuple(values["code"]))
url = ui.geo_url(level)
table = from_report(funders.area_table)
table_config = {
    "award_years": st.column_config.TextColumn("award years"),
    "amount_gbp": st.column_config.NumberColumn("£ awarded", format="localized"),
    "population": st.column_config.NumberColumn("population", format="localized"),
    "population_year": st.column_config.TextColumn("population year"),
    "imd_edition": st.column_config.TextColumn("deprivation edition"),
    "effort_period": st.column_config.TextColumn("council effort year"),
    "grants": st.column_config.NumberColumn("grants", format="localized"),
    "amount_per_head": st.column_config.NumberColumn("£ per resident", format="£%.2f"),
    "imd_decile": st.column_config.NumberColumn("deprivation decile (1 = most deprived)", format="%d"),
    "enabler_ratio": st.column_config.NumberColumn(f"council enabler ratio {effort}", format="%.2f"),
    "council_index": st.column_config.NumberColumn(f"council index {effort}", format="%.1f"),
    "council_rank": st.column_config.NumberColumn(f"council rank {effort}", format="%d"),
    "council_n_in_group": st.column_config.NumberColumn("of", format="%d"),
    "note": st.column_config.TextColumn("note (head offices; none recorded; not in pounds)"),
}
if url is not None:
    fig, alt = ui.figure(
        charts.choropleth_map,
        values,
        url,
        measure=label_m,
        unit=unit_m,
        area_label=plural,
        digits=digits_m,
        bounds=bounds,
        height=560,
    )
    ui.chart(
        fig,
        alt,
        key="fu_map",
        data=table,
        name=f"Grants by {plural[:-1]} {selection}",
        column_config=table_config,
        help="Darker blue = more. Grey = no data: a ward that cannot be judged, an area whose grants are all not "
        "in pounds (£ unknown), or no population for a per-head figure. A district or ward with nothing from "
        "these funders reads “none recorded in this file”: the file lists no grant there, which is not proof that "
        "nothing was given.",
    )
else:
    ui.table(table, f"Grants by {plural[:-1]} {selection}", "fu_table", column_config=table_config)
ui.coverage(report.areas_judged, len(report.by_area), plural)
if report.head_offices is not None and len(report.head_offices):
    st.warning(
        f"Money recorded at registered offices? {charts.counted(len(report.head_offices), 'district')} "
        f"{'gets' if len(report.head_offices) == 1 else 'get'} far more per resident by recipient address than "
        "the districts reached typically do (at least "
        f"{funders.HEAD_OFFICE_RATIO:.0f}× the median, and at least {funders.HEAD_OFFICE_SHARE:.0%} of the "
        "money): "
        + md(
            ", ".join(
                f"{r.name} (£{r.per_head:,.0f} per resident, {r.share_of_money:.0%} of the money)"
                for r in report.head_offices.head(6).itertuples()
            )
        )
        + ". National charities registered there may spend the money elsewhere; the map's hover and the "
        "table's note say so.",
        icon=":material/apartment:",
    )
st.caption(
    "Council effort beside the money: each area's (for wards: its district council's) enabler ratio — "
    "community £ per £100 of council spending — and Provider → Enabler index and rank within its tier, "
    f"{effort}."
)

# --- concentration and need ----------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.header("Concentration")
    fig, alt = from_report(funders.lorenz_chart, plural)
    ui.chart(
        fig,
        alt,
        key="fu_lorenz",
        data=report.lorenz,
        name=f"Lorenz curve {plural} {selection}",
        help="The further the curve sags below the diagonal, the more the money is concentrated in few areas.",
    )
with right:
    st.header("Alignment with need")
    if report.need["share_of_amount"].notna().any():
        fig, alt = from_report(funders.need_chart, plural)
        ui.chart(
            fig,
            alt,
            key="fu_need",
            data=report.need,
            name=f"Money by deprivation decile {selection}",
            help="A bar above its diamond: the decile gets more than an even share per resident.",
        )
    else:
        ui.no_data(f"no money was placed in {plural} with a deprivation decile.")
    na = report.need_attrs
    if na.get("areas_without_decile"):
        st.caption(
            f"{charts.counted(na['areas_without_decile'], plural[:-1])} "
            f"{'has' if na['areas_without_decile'] == 1 else 'have'} no deprivation decile "
            f"({charts.fmt(na['amount_without_decile'], 0, '£')} placed there) and are left out."
        )

# --- cold spots ----------------------------------------------------------------------------------
st.header("Cold spots: high need, little or no funding")
ca = report.cold_attrs
cold = from_report(funders.cold_table)
st.caption(
    f"{plural.capitalize()} in the two most deprived deciles whose money per resident from this selection is at "
    f"or below the lower quartile of all {plural} judged ({charts.fmt(ca.get('threshold'), 2, '£')} per resident), "
    "ranked with unfunded areas first, then the most deprived. "
    + (
        f"{charts.counted(ca['areas_not_judged'], plural[:-1])} without a decile or population cannot be judged. "
        if ca.get("areas_not_judged")
        else ""
    )
    + (f"{report.without_gbp_text(plural)}." if report.without_gbp_text(plural) else "")
)
if cold.empty:
    ui.no_data(f"no high-need {plural[:-1]} is among the least funded for this selection.")
else:
    ui.table(cold, f"Cold spots {plural} {selection}", "fu_cold", column_config=table_config)

# --- beside council effort -----------------------------------------------------------------------------
if level == "district" and effort:
    st.header(f"Funding beside council effort, {effort}")
    fig, alt = from_report(funders.effort_scatter)
    scatter_data = table[
        [
            "code",
            "name",
            "award_years",
            "amount_per_head",
            "population_year",
            "effort_period",
            "enabler_ratio",
            "council_index",
            "imd_decile",
            "imd_edition",
        ]
    ]
    ui.chart(
        fig,
        alt,
        key="fu_effort_chart",
        data=scatter_data,
        name=f"Funding and council effort {selection} {effort}",
        column_config=table_config,
        help="Each dot is a district. Right = the council puts more of its money in "
        "community hands; up = more money per resident from this selection.",
    )

credit = "the uploaded file " + upload.filename if upload is not None else "360Giving data via GrantNav"
st.caption(
    f"Source: {md(credit)}; funders: {md(subject)}. Deprivation: English Indices of Deprivation 2025. Population: "
    "ONS. Council effort: Power Balance index (see Method & weights)."
)
