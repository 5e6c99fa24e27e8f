"""Map — any indicator (or the index) as a choropleth at ward, district, county or region
level, for a chosen year. Click an area to open it in My area."""

import streamlit as st

from powerbalance import charts, downloads, labels, queries, ui
from powerbalance.index import DEFAULT_WEIGHTS

PAGE = {"title": "Map", "icon": ":material/map:", "url_path": "map", "order": 40}

ui.start_page()
weights = ui.carried_weights(DEFAULT_WEIGHTS)
ui.page_header("Map", "Choose a level, an indicator and a year. Grey areas have no data — they are not zero.")

LEVEL_NAMES = {"ward": "Wards", "district": "Districts & unitaries", "county": "Counties", "region": "Regions"}
c1, c2, c3 = st.columns([3, 4, 2])
level = ui.url_radio(
    "Level",
    list(LEVEL_NAMES),
    param="level",
    key="map_level",
    default="district",
    format_func=LEVEL_NAMES.get,
    container=c1,
)
choices = ui.q(queries.map_indicator_choices, level)
names = dict(zip(choices["indicator_id"], choices["label"]))
if choices.empty:
    ui.no_data(f"no indicator has values for {labels.LEVEL_PLURAL[level]}.")
    st.stop()
indicator = ui.url_selectbox(
    "Indicator",
    choices["indicator_id"].tolist(),
    param="indicator",
    key="map_indicator",
    default=choices["indicator_id"].iloc[0],
    format_func=lambda i: names.get(i, i),
    container=c2,
)
chosen = choices[choices["indicator_id"] == indicator].iloc[0]
years, thin = chosen["periods"], chosen["thin"]
year = ui.url_selectbox(
    "Year",
    years,
    param="year",
    key="map_year",
    default=chosen["default_period"],
    format_func=lambda y: f"{y} (partial year)" if y in thin else y,
    container=c3,
    help="Opens on the latest year that covers at least half as many areas as the best-covered year, "
    "leaving out a partial year (still selectable, and flagged).",
)

if indicator == queries.INDEX_ID:
    lens = ui.url_radio(
        "Lens",
        [x for x in ui.LENS_OPTIONS if level != "region" or x != "council"],
        param="lens",
        key="map_lens",
        format_func=ui.LENS_LABELS.get,
        help="Place: all councils' spending in the area. Council: its own budget.",
    )
    values = ui.q(queries.index_map_values, level, year, weights, lens)
    info = {"name": "Provider → Enabler index", "unit": "0–100", "description": queries.INDEX_DESCRIPTION}
    unit, digits = "", 1
    measure = f"Provider → Enabler index ({lens} lens, {labels.weights_words(weights, DEFAULT_WEIGHTS)})"
else:
    values = ui.q(queries.map_values, level, indicator, year)
    info = ui.q(queries.indicator_info, indicator) or {"name": indicator, "unit": "", "description": ""}
    unit, digits = info.get("unit") or "", 2
    measure = info["name"]
# the file keeps what the screen says around the table: the measure, its unit and year, a partial year
download = downloads.labelled(
    values, indicator=measure, unit=info.get("unit") or "", period=year, period_note=thin.get(year, "")
)

st.header(f"{info['name']}, {year}")
if year in thin:
    st.warning(
        f"{year}: {thin[year]}. Compare it with other years with care; the map opens on {chosen['default_period']}."
    )
if info.get("description"):
    st.caption(info["description"])
plural = labels.LEVEL_PLURAL[level]
n = int(values["value"].notna().sum())
url = ui.geo_url(level)
if url is not None:
    fig, alt = ui.figure(
        charts.choropleth_map,
        values,
        url,
        measure=info["name"],
        unit=unit,
        area_label=plural,
        digits=digits,
        height=600,
    )
    event = ui.chart(
        fig,
        alt,
        key="map_map",
        data=values,
        name=f"{info['name']} {level} {year}",
        select=True,
        help="Click an area to open it in My area. Darker blue = higher value.",
        download=download,
    )
    clicked = ui.selected_location(event)
    if clicked:
        st.switch_page(ui.MY_AREA, query_params=ui.view_params(area=clicked))
else:
    ui.table(values, f"{info['name']} {level} {year}", "map_table", download=download)
ui.coverage(n, len(values), f"{plural} have a value")
if level == "county":
    st.caption(queries.COUNTY_NOTE)
if "is_local" in values.columns and values["is_local"].fillna(False).astype(bool).any():
    st.caption("Some values come from local data supplied by councils or partners (marked in the table).")
