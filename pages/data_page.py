"""Data — where every number comes from: sources with licences and attributions, the ETL load
report (what failed to match, what is missing), the build, and downloads of every table."""

import streamlit as st

from powerbalance import exports, labels, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS

PAGE = {"title": "Data", "icon": ":material/database:", "url_path": "data", "order": 80}

ISSUES_SHOWN = 1000  # rows of one kind drawn in the page (the downloads have all of them)

ui.start_page()
weights = ui.carried_weights(DEFAULT_WEIGHTS)  # the index downloads follow the view the user carries
lens = ui.carried_lens()
ui.page_header(
    "Data",
    "Every figure in this dashboard comes from the public files listed here, loaded by the "
    "project's ETL. Nothing is invented; what is missing is listed.",
)

info = ui.q(queries.build_info)
c1, c2, c3 = st.columns([2, 1, 3])
c1.metric("Built (UTC)", info["built_at"][:16], border=True, help=f"Finished {info['built_at']} UTC")
c2.metric("Build took", f"{info['seconds']:.1f} s", border=True)
build = c3.container(border=True, key="da_build")  # an id to quote whole: text that wraps, not a metric that cuts it
build.markdown("Build", help=f"Build {info['build_id']}, code version {info.get('code_version') or 'unknown'}")
build.code(info["build_id"], language=None, wrap_lines=True)

st.header("Sources, licences and attributions")
src = ui.q(queries.sources)
ui.table(
    src[["source_id", "title", "publisher", "licence", "attribution", "vintage", "url", "files"]],
    "Sources",
    "da_sources",
    column_config={"url": st.column_config.LinkColumn("url")},
)
st.markdown("**Attributions**")
for a in ui.q(queries.attributions):
    st.markdown(f"- {labels.escape_markdown(a)}")
with st.expander("Every raw file read, with its checksum"):
    ui.table(ui.q(queries.source_files), "Source files", "da_files")

st.header("Load report")
st.caption(
    "Rows read and loaded per source; codes that matched no current area; suppressed cells read as missing; "
    "negative values kept as published."
)
rep = ui.q(queries.load_report)
ui.table(rep, "Load report", "da_report")
issues = ui.q(queries.load_issues)
kinds = sorted(issues["kind"].unique().tolist()) if len(issues) else []
if kinds:
    counts = issues["kind"].value_counts().to_dict()
    kind = ui.url_radio(
        "Show issues of kind",
        kinds,
        param="issues",
        key="da_kind",
        default="unmatched" if "unmatched" in kinds else kinds[0],
        format_func=lambda k: f"{k} ({counts.get(k, 0):,})",
    )
    of_kind = issues[issues["kind"] == kind]
    shown = of_kind.head(ISSUES_SHOWN)
    ui.table(shown, f"Load issues {kind}", "da_issues", height=320)
    if len(of_kind) > len(shown):
        st.caption(
            f"Showing the first {len(shown):,} of {len(of_kind):,} {kind} issues; every one is in the "
            "CSV/XLSX of the whole list below."
        )
        ui.downloads(of_kind, f"Load issues {kind} (all)", "da_issues_all")
else:
    st.success("The ETL reported no issues.")

st.header("What is missing")
cov = ui.q(queries.indicator_coverage)
ui.table(
    cov,
    "Indicator coverage",
    "da_cov",
    height=320,
    caption="For each indicator, level and period: how many areas have a value of their own, how many of those "
    "are partial (a county, region or England figure made from only some of its districts, or a district's from "
    "some of its wards: each value's note says how many), and how many areas have none. A note marks the partial "
    "values, a partial year of the source (every area can have a value made from far fewer records) and the "
    "councils given their region's survey figure (shown, never counted as their own).",
)

st.header("Local data")
local = ui.q(queries.local_data)
if local.empty:
    st.info(
        "No local figures are loaded. Councils and partners can add volunteering, community-project and "
        "grant figures with the templates in `templates/local/` (see docs/local-data.md); they are marked "
        "*local* wherever they appear and join their domain of the index."
    )
else:
    ui.table(
        local,
        "Local data",
        "da_local",
        caption="Figures loaded from the raw directory's local/ folder: each measure joins the indicator "
        "shown and is marked local wherever it appears. “use” says which can feed the index (a "
        "council's figure for a year the index covers, scored where enough areas of the comparison "
        "group have it) and which are shown only.",
    )

st.header("Download every table")
weights_text = labels.weights_words(weights, DEFAULT_WEIGHTS)
st.caption(
    f"CSV (UTF-8) or Excel. Missing values are empty cells, never zero. Index tables use the {lens} lens and "
    f"{weights_text}, as on the other pages (choose them on Method & weights); each title and "
    "file name says which."
)
periods = ui.q(queries.index_periods)
tables = [
    ("Indicator values (all areas, all years)", "indicator_values_all", ()),
    ("Indicator definitions", "indicator_catalogue", ()),
    ("Areas", "areas_all", ()),
    ("Load facts", "load_facts", ()),
]
if periods:
    for level in ("district", "county", "region"):
        lens_here = queries.lens_for_level(level, lens)  # regions are not councils
        tables.append(
            (
                f"Index {level} {periods[-1]}, {lens_here} lens, {weights_text}",
                "index_download",
                (level, periods[-1], weights, lens_here),
            )
        )
for title, fn, args in tables:
    with st.container(border=True):
        st.markdown(f"**{title}**")
        # read only when downloaded: the biggest table has every value of every area and year
        ui.downloads(
            lambda fn=fn, args=args: getattr(queries, fn)(*args),
            title,
            f"da_dl_{fn}_{'_'.join(str(a) for a in args[:2])}",
        )

st.header("Open data files of this build")
files = exports.export_files(info, ui.served_static_root())
if files.empty:
    st.info("This build's open files are not served here (rebuild with the default `--static` folder).")
else:
    cat_url = exports.export_location(info, ui.served_static_root())[0] + "/" + exports.CATALOGUE
    st.markdown(
        f"Every area-level table as CSV and Parquet, written when build `{info['build_id']}` was made and "
        f"kept while the build's files are served. [Catalogue (JSON)]({cat_url}): columns, units, rows, "
        "licence and build id."
    )
    ui.table(
        files,
        "Open data files",
        "da_open",
        column_config={
            "csv": st.column_config.LinkColumn("CSV", display_text="CSV"),
            "parquet": st.column_config.LinkColumn("Parquet", display_text="Parquet"),
        },
    )
