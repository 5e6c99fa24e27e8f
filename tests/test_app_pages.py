"""Every page through Streamlit's AppTest on one real build: no exceptions, the widgets, the
data behind each figure (checked against powerbalance.index / SQL, not against the page), and
the URL round trip (query params → widgets → query params → same view).

A map *click* cannot be simulated in AppTest (Plotly selections are set by the browser); the
browser tests click a real map. Here the selection → area step is tested on the helper.
"""

from __future__ import annotations

import re

import pytest

from powerbalance import index, queries, ui
from tests.helpers import figures, open_data_tables, sql
from tests.helpers import open_app_page as open_page


def map_codes(fig: dict) -> tuple[list, list]:
    """(shaded codes, no-data codes) of a choropleth built by charts.choropleth_map."""
    shaded, missing = [], []
    for t in fig["data"]:
        if t["type"] != "choroplethmap" or t.get("name", "").startswith("Selected"):
            continue
        (missing if t.get("name", "").startswith("No data") else shaded).extend(t["locations"])
    return shaded, missing


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


# --------------------------------------------------------------------------------------------- Overview


def test_overview_map_tiers_and_shifts(app, real_db, period):
    at = open_page(app, "pages/overview_page.py")
    f, t = index.default_shift_periods(real_db)
    assert at.title[0].value.endswith(f"shifted towards enabling between {f} and {t}")
    assert at.query_params == {"year": period, "level": "district", "lens": index.DEFAULT_LENS}
    figs = figures(at)
    shaded, missing = map_codes(figs[0])
    expected = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db).set_index("area_code")[
        "index"
    ]
    assert sorted(shaded + missing) == sorted(expected.index)
    assert set(shaded) == set(expected.dropna().index)
    z = dict(zip(figs[0]["data"][0]["locations"], figs[0]["data"][0]["z"]))
    code = expected.dropna().index[0]
    assert z[code] == pytest.approx(expected[code], abs=1e-5)
    geo_path = sql(real_db, "SELECT geo_path FROM build_info")["geo_path"].iloc[0]
    assert figs[0]["data"][0]["geojson"] == f"{geo_path}/district.geojson"
    assert f"{expected.notna().sum():,} of 296 districts have an index value" in captions(at)
    # distribution by tier: one box per tier, every council with an index drawn
    boxes = [d for d in figs[1]["data"] if d["type"] == "box"]
    assert len(boxes) == 3
    n_tier = sum(
        index.compute_index(lv, period, lens=index.DEFAULT_LENS, db=real_db)["index"].notna().sum()
        for lv in ("district", "county")
    )
    assert sum(len(b["x"]) for b in boxes) == n_tier
    # every chart has its alt text caption and a data table with downloads, made when opened
    n_charts = len(at.get("plotly_chart"))
    assert n_charts >= 3
    assert len(at.expander) >= n_charts and not at.dataframe and not at.download_button
    assert open_data_tables(at) == n_charts
    assert len(at.dataframe) >= n_charts
    assert len(at.download_button) >= 2 * n_charts


def quadrant_figures(at) -> list[dict]:
    return [
        f
        for f in figures(at)
        if any(t.get("name") == "Shire districts" for t in f["data"])
        and "community money" in f["layout"]["yaxis"]["title"]["text"].lower()
    ]


def test_overview_enabling_or_retreating(app, real_db):
    """Issue 18: the quadrant chart of every district, coloured by group, counts in the headline finding."""
    from powerbalance import quadrants

    at = open_page(app, "pages/overview_page.py")
    placed = quadrants.place_areas("district", db=real_db)
    n = quadrants.counts(placed)
    finding = at.markdown[0].value if at.markdown else ""
    text = "\n".join(m.value for m in at.markdown)
    assert f"{n['enabling shift']} enabling shift" in text and f"{n['retreat']} retreat" in text, finding
    fig = quadrant_figures(at)[0]
    drawn = [c for t in fig["data"] for c in t["customdata"]]
    assert sorted(drawn) == sorted(placed.loc[placed["quadrant"] != quadrants.NOT_ENOUGH, "area_code"])
    assert "E06000063" not in drawn  # Cumberland: not enough data, never placed
    s0, s1 = placed.attrs["spend_span"]
    # both movements over the same years, and the page says so
    assert placed.attrs["community_span"] == (s0, s1) and quadrants.SPAN_RULE in text
    assert f"both measures {s0} → {s1}" in finding
    xtitle = fig["layout"]["xaxis"]["title"]["text"]
    assert f"{s0} → {s1}" in xtitle and "nominal" in xtitle
    longest = quadrants.place_areas("district", *quadrants.longest_spans("district", real_db), db=real_db)
    assert quadrants.longest_span_note(longest) in [c.value for c in at.caption]  # issue 18's first reading


def test_my_area_and_compare_highlight_the_area(app, real_db):
    from powerbalance import quadrants

    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    quadrant = quadrants.place_areas("district", db=real_db).set_index("area_code").loc["E07000223", "quadrant"]
    assert any(f"Adur: {quadrant}" in m.value for m in at.markdown)
    hl = [t for t in quadrant_figures(at)[0]["data"] if t["name"] == "highlighted"]
    assert hl and hl[0]["customdata"] == ["E07000223"]
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "group": "pick", "areas": "E07000224"})
    hl = [t for t in quadrant_figures(at)[0]["data"] if t["name"] == "highlighted"]
    assert sorted(hl[0]["customdata"]) == ["E07000223", "E07000224"]


def test_overview_url_round_trip(app, real_db):
    first = queries.index_periods(real_db)[0]
    at = open_page(app, "pages/overview_page.py", {"level": "county", "year": first})
    assert at.radio(key="ov_level").value == "county" and at.selectbox(key="ov_year").value == first
    shaded, missing = map_codes(figures(at)[0])
    assert len(shaded) + len(missing) == 21
    at.radio(key="ov_level").set_value("region").run()
    assert at.query_params["level"] == "region" and at.query_params["year"] == first
    again = open_page(app, "pages/overview_page.py", dict(at.query_params))
    assert figures(again)[0] == figures(at)[0]


# --------------------------------------------------------------------------------------------- My area


def test_my_area_district(app, real_db, period):
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    assert at.header[0].value == "Adur"
    assert at.query_params["area"] == "E07000223"
    row = (
        index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db)
        .set_index("area_code")
        .loc["E07000223"]
    )
    metric = at.metric[0]
    if row["index"] == row["index"]:
        assert metric.value == f"{row['index']:,.1f}"
        assert at.metric[1].value == f"{int(row['rank'])} of {int(row['n_in_group'])}"
    else:
        assert metric.value == "no data"
    labels = [b.label for b in at.download_button]
    assert "Download the brief (HTML)" in labels and "Download the brief (PDF)" in labels
    peers = index.peers("E07000223", k=10, db=real_db)
    peer_tables = [d.value for d in at.dataframe if "distance (0 = identical)" in d.value.columns]
    assert peer_tables and peer_tables[0]["code"].tolist() == peers["peer_code"].tolist()


def test_my_area_no_index_message_names_the_indicators(app, real_db, period):
    """Review: Cumberland's no-index message listed internal ids ('missing: parish_precepts_per_head,
    wards_reached_share, parished_wards_share'); it names the indicators."""
    names = dict(zip(*sql(real_db, "SELECT indicator_id, name FROM indicators").to_dict("list").values()))
    raw = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db).set_index("area_code")
    missing = raw.loc["E06000063", "reason"]
    used = [i for i in names if f"{i}," in missing or f"{i})" in missing or f"no {i};" in missing]
    assert used  # the computed reason speaks in ids; the page must not
    at = open_page(app, "pages/my_area_page.py", {"area": "E06000063", "year": period})
    message = next(i.value for i in at.info if "has no index in" in i.value)
    assert not any(i in message for i in used), message
    assert all(names[i].lower() in message.lower() for i in used)


def test_my_area_and_compare_tables_read_as_words_and_rounded_numbers(app, real_db, period):
    """Review: 'Latest year' and 'Statistical neighbours' showed internal column names and values
    such as indicator_id, shire_district, 1868.0394 and 3.7255."""
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223", "year": period})
    tables = [d.value for d in at.dataframe]
    latest = next(t for t in tables if "longest shift" in t.columns)
    peers = next(t for t in tables if "distance (0 = identical)" in t.columns)
    for t in (latest, peers):
        assert not [c for c in t.columns if "_" in c], t.columns  # no internal names
    place = sql(
        real_db,
        "SELECT value FROM indicator_values WHERE area_code = 'E07000223' AND indicator_id = 'place_spend_per_head' "
        "AND period = '2023-24'",
    )["value"].iloc[0]
    row = latest.set_index("measure").loc["Council service spending per head (place)"]
    assert row["value"] == f"£{place:,.0f} per resident" and row["year"] == "2023-24"
    expected = index.peers("E07000223", db=real_db).set_index("peer_code")
    got = peers.set_index("code")
    assert set(got["type"]) == {"Shire district"}
    assert (got["distance (0 = identical)"] - expected.loc[got.index, "distance"].round(2)).abs().max() < 1e-9
    assert (got["index (0–100)"].dropna() * 10).sub((got["index (0–100)"].dropna() * 10).round()).abs().max() < 1e-6
    assert str(got["rank"].dtype) == "Int64"
    cmp = open_page(app, "pages/compare_page.py", {"area": "E07000223", "year": period})
    shown = next(d.value for d in cmp.dataframe if "longest shift" in d.value.columns)
    assert not [c for c in shown.columns if "_" in c] and "£" in shown["value"].iloc[0]


def test_my_area_ward_shows_district_index_and_ward_map(app, real_db):
    w = sql(
        real_db,
        "SELECT w.code, w.name, d.code AS dcode, d.name AS dname FROM areas w JOIN areas d "
        "ON d.code = w.district_code WHERE w.level = 'ward' ORDER BY w.code LIMIT 1",
    ).iloc[0]
    at = open_page(app, "pages/my_area_page.py", {"area": w["code"]})
    assert at.header[0].value == w["name"]
    assert any(w["dname"] in i.value for i in at.info)
    ward_maps = [f for f in figures(at) if f["data"] and f["data"][0]["type"] == "choroplethmap"]
    assert ward_maps
    shaded, missing = map_codes(ward_maps[0])
    in_district = set(
        sql(real_db, "SELECT code FROM areas WHERE level = 'ward' AND district_code = ?", [w["dcode"]])["code"]
    )
    assert set(shaded + missing) == in_district
    selected = [t for t in ward_maps[0]["data"] if t.get("name", "").startswith("Selected")]
    assert selected and selected[0]["locations"] == [w["code"]]


def test_my_area_search_then_choose(app):
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    at.text_input(key="ma_search").set_value("Arun").run()
    pick = at.selectbox(key="ma_pick")
    assert pick.options[0] == "Arun"  # exact name first (the options are shown by label)
    pick.set_value("E07000224").run()
    assert not at.exception
    assert at.header[0].value == "Arun" and at.query_params["area"] == "E07000224"


def test_selected_location_reads_the_clicked_area():
    event = {
        "selection": {
            "points": [{"curve_number": 0, "location": "E05013038", "z": 1.0}],
            "point_indices": [0],
            "box": [],
            "lasso": [],
        }
    }
    assert ui.selected_location(event) == "E05013038"
    assert ui.selected_location({"selection": {"points": [], "point_indices": []}}) is None
    assert ui.selected_location(None) is None


# --------------------------------------------------------------------------------------------- Compare


def test_compare_same_county(app, real_db, period):
    d = sql(
        real_db, "SELECT code, county_code FROM areas WHERE level = 'district' AND tier = 'lower' ORDER BY code LIMIT 1"
    ).iloc[0]
    at = open_page(app, "pages/compare_page.py", {"area": d["code"], "group": "county", "year": period})
    members = set(
        sql(real_db, "SELECT code FROM areas WHERE level = 'district' AND county_code = ?", [d["county_code"]])["code"]
    )
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    assert set(table["area_code"]) == members
    expected = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db).set_index("area_code")
    got = table.set_index("area_code")["index"]
    for code in members:
        assert got[code] == pytest.approx(expected.loc[code, "index"], nan_ok=True)


def test_compare_pick_url_round_trip(app):
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "group": "pick", "areas": "E07000224,E07000225"})
    assert at.multiselect(key="cmp_areas").value == ["E07000224", "E07000225"]
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    assert table["area_code"].tolist() == ["E07000223", "E07000224", "E07000225"]
    at.multiselect(key="cmp_areas").unselect("E07000225").run()
    assert at.query_params["areas"] == "E07000224"
    domains = figures(at)[0]
    assert [t["name"] for t in domains["data"]] == ["Adur", "Arun"]


def test_compare_opens_on_statistical_neighbours(app, real_db, period):
    """A council arriving on Compare with no group chosen is compared with its statistical
    neighbours (its own tier), and the choice is in the URL so the link reproduces it."""
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "year": period})
    assert at.radio(key="cmp_group").value == "neighbours"
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    peers = index.peers("E07000223", db=real_db)["peer_code"].tolist()
    assert len(peers) == 10 and table["area_code"].tolist()[0] == "E07000223"
    assert set(table["area_code"]) == {"E07000223", *peers}
    assert set(table["group_label"]) == {"shire districts"}, set(table["group_label"])  # like with like
    at.radio(key="cmp_group").set_value("pick").run()
    assert at.query_params["group"] == "pick"


def test_compare_median_legends_agree_and_say_what_they_summarise(app, real_db):
    """Review: with one council of eleven lacking an index, the domains legend said 'Median of 9
    other councils' and the trend legend 'Median of 10 other councils'."""
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "weights": "funding:0,projects:1"})
    others = len(index.peers("E07000223", db=real_db))
    medians = [  # long legend names wrap to fit a phone
        t["name"].replace("<br>", " ")
        for f in figures(at)
        for t in f["data"]
        if str(t.get("name", "")).startswith("Median")
    ]
    assert len(medians) >= 2  # the domains chart and the trend
    assert set(medians) == {f"Median of the {others} other councils (those with a value)"}
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    with_index = int(table.loc[table["area_code"] != "E07000223", "index"].notna().sum())
    assert f"The {others} other councils are summarised by their median" in captions(at)
    assert f"{with_index} have an index" in captions(at)


def test_compare_tier_is_summarised(app):
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "group": "tier"})
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert names[0] == "Adur" and names[1].startswith("Median of ")
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    assert len(table) == 164


# --------------------------------------------------------------------------------------------- Map


def test_map_wards(app, real_db):
    ind = sql(
        real_db,
        """SELECT v.indicator_id, v.period, count(v.value) AS n FROM indicator_values v
                          JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
                          GROUP BY ALL HAVING count(v.value) > 0 ORDER BY v.indicator_id, v.period LIMIT 1""",
    ).iloc[0]
    at = open_page(app, "pages/map_page.py", {"level": "ward", "indicator": ind["indicator_id"], "year": ind["period"]})
    assert at.radio(key="map_level").value == "ward"
    assert at.selectbox(key="map_indicator").value == ind["indicator_id"]
    fig = figures(at)[0]
    shaded, missing = map_codes(fig)
    assert len(shaded) == ind["n"] and len(shaded) + len(missing) == 6862
    assert fig["data"][0]["geojson"].endswith("/ward.geojson")
    assert f"{ind['n']:,} of 6,862 wards have a value" in captions(at)


def test_map_bad_params_fall_back_and_url_round_trip(app, real_db):
    at = open_page(app, "pages/map_page.py", {"level": "parish", "indicator": "<script>", "year": "1066"})
    assert at.radio(key="map_level").value == "district"
    assert at.selectbox(key="map_indicator").value == queries.INDEX_ID
    at.radio(key="map_level").set_value("county").run()
    assert at.query_params["level"] == "county"
    again = open_page(app, "pages/map_page.py", dict(at.query_params))
    assert figures(again)[0] == figures(at)[0]


# --------------------------------------------------------------------------------------------- Method


def test_method_weights_recompute_live(app, real_db, period):
    at = open_page(app, "pages/method_page.py", {"weights": "funding:0.8,projects:0.2,participation:0"})
    assert at.slider(key="weights_funding").value == 80 and at.slider(key="weights_projects").value == 20
    scatter = figures(at)[0]["data"][1:]  # [0] is the line of no change
    mine = index.compute_index(
        "district", period, {"funding": 0.8, "projects": 0.2, "participation": 0.0}, lens=index.DEFAULT_LENS, db=real_db
    )["index"].dropna()
    default = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db)["index"].dropna()
    assert sorted(v for t in scatter for v in t["y"]) == pytest.approx(sorted(mine.tolist()))
    assert sorted(v for t in scatter for v in t["x"]) == pytest.approx(sorted(default.tolist()))
    at.slider(key="weights_funding").set_value(30).run()
    assert at.query_params["weights"] == "funding:0.3,projects:0.2,participation:0"
    bands = [f for f in figures(at) if "Ranks among" in (f["layout"].get("title") or {}).get("text", "")]
    groups = index.rank_uncertainty("district", period, lens=index.DEFAULT_LENS, db=real_db)["group"].nunique()
    assert len(bands) == groups
    catalogue = [d.value for d in at.dataframe if "polarity" in d.value.columns][0]
    assert len(catalogue) == sql(real_db, "SELECT count(*) AS n FROM indicators")["n"].iloc[0]


def test_a_weight_on_a_domain_nobody_measures_is_ignored_and_said(app, real_db, period):
    """Review: any participation weight emptied every index ("No data", Overview map all grey), the
    reason only in a CSV column. No area has a participation figure without local data, so its weight
    is not used and every page that uses weights says so."""
    w = {"funding": 0.5, "projects": 0.5, "participation": 0.5}
    assert index.unmeasured_domains(w, db=real_db) == ("participation",)
    mine = index.compute_index("district", period, w, lens=index.DEFAULT_LENS, db=real_db)
    default = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db)
    assert mine["index"].notna().sum() == default["index"].notna().sum() > 0
    assert mine.set_index("area_code")["index"].dropna().to_dict() == pytest.approx(
        default.set_index("area_code")["index"].dropna().to_dict()
    )
    for page in ("pages/method_page.py", "pages/overview_page.py", "pages/data_page.py"):
        at = open_page(app, page, {"weights": "funding:0.5,projects:0.5,participation:0.5"})
        notes = [i.value for i in at.info]
        assert any("participation weight is not used" in n for n in notes), (page, notes)
        assert not any("no area has an index" in n for n in notes), page
        assert at.query_params["weights"] == "funding:0.5,projects:0.5,participation:0.5"  # its meaning is kept


def test_text_names_where_things_are(app, real_db, monkeypatch):
    """Review: the Data page sent users to Overview, My area or Compare for weights (the sliders are on
    Method & weights only); the Method page showed My area's "this council's" stand-out rule with no
    council chosen; the Accessibility page said "contact the organisation" with no contact."""
    from powerbalance import benchmarks, navigation

    with_sliders = []
    for page in navigation.pages():
        at = open_page(app, page.file)
        if any(str(x.key).startswith("weights_") for x in at.slider):
            with_sliders.append(page.title)
    assert with_sliders == ["Method & weights"]
    assert "(choose them on Method & weights)" in captions(open_page(app, "pages/data_page.py"))

    method = open_page(app, "pages/method_page.py")
    assert benchmarks.STAND_OUT_RULE not in captions(method) and "this council" not in captions(method)
    assert benchmarks.STAND_OUT_RULE_ELSEWHERE in captions(method)

    monkeypatch.delenv("POWERBALANCE_CONTACT", raising=False)
    text = _markdown(open_page(app, "pages/accessibility_page.py"))
    assert "does not give its contact details yet" in text and "POWERBALANCE_CONTACT" in text
    monkeypatch.setenv("POWERBALANCE_CONTACT", "[access@council.example](mailto:access@council.example)")
    text = _markdown(open_page(app, "pages/accessibility_page.py"))
    assert "publishes this dashboard: [access@council.example](mailto:access@council.example)." in text


# --------------------------------------------------------------------------------------------- Data


def test_data_sources_report_downloads(app, real_db):
    at = open_page(app, "pages/data_page.py")
    n_sources = sql(real_db, "SELECT count(DISTINCT source_id) AS n FROM sources")["n"].iloc[0]
    src = [d.value for d in at.dataframe if "licence" in d.value.columns][0]
    assert len(src) == n_sources and src["attribution"].notna().all()
    report = [d.value for d in at.dataframe if "rows_loaded" in d.value.columns][0]
    assert set(report["source_id"]) == set(sql(real_db, "SELECT source_id FROM load_report")["source_id"])
    build_id = sql(real_db, "SELECT build_id FROM build_info")["build_id"].iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert build_id in [c.value for c in at.code]  # whole, as text that wraps (tests/test_keyboard_reflow.py)
    built = sql(real_db, "SELECT built_at FROM build_info")["built_at"].iloc[0]
    assert metrics["Built (UTC)"] == str(built)[:16]
    labels = [b.label for b in at.download_button]
    rows = r"( \([\d,]+ rows\))?"  # each button names its table and file type
    csv = [label for label in labels if re.fullmatch(rf"Download .+ as CSV{rows}", label)]
    xlsx = [label for label in labels if re.fullmatch(rf"Download .+ as Excel{rows}", label)]
    assert len(csv) == len(xlsx) >= 8 and len(set(labels)) == len(labels)


def test_data_index_downloads_follow_the_chosen_lens(app, real_db, period):
    """Review: the index downloads used the place lens while every other page opens on the default
    lens; they now follow the lens and weights carried in the URL and say which in their title."""
    at = open_page(app, "pages/data_page.py")
    titles = [m.value for m in at.markdown if m.value.startswith("**Index ")]
    assert f"**Index district {period}, {index.DEFAULT_LENS} lens, default weights**" in titles
    at = open_page(app, "pages/data_page.py", {"lens": "place", "weights": "funding:0,projects:1"})
    titles = [m.value for m in at.markdown if m.value.startswith("**Index ")]
    custom = f"**Index district {period}, place lens, weights funding 0 / projects 100 / participation 0**"
    assert custom in titles
    names = [b.label for b in at.download_button]  # each download button is named by its table
    assert f"Download {custom.strip('*')} as CSV" in names
    at = open_page(app, "pages/data_page.py", {"lens": "council"})  # regions are not councils
    titles = [m.value for m in at.markdown if m.value.startswith("**Index ")]
    assert f"**Index district {period}, council lens, default weights**" in titles
    assert f"**Index region {period}, place lens, default weights**" in titles


def test_index_download_has_whole_ranks_of_the_lens(real_db, period):
    got = queries.index_download("district", period, None, index.DEFAULT_LENS, db=real_db).set_index("area_code")
    expected = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db).set_index("area_code")
    assert str(got["rank"].dtype) == "Int64" and str(got["n_in_group"].dtype) == "Int64"
    ranked = expected["rank"].dropna()
    assert got["rank"].dropna().sort_index().tolist() == ranked.astype(int).sort_index().tolist()
    assert got.loc[expected["rank"].isna(), "rank"].isna().all()
    assert got["index"].dropna().sort_index().tolist() == expected["index"].dropna().sort_index().tolist()


def test_method_shows_how_ranks_move_between_lenses(app, real_db, period):
    """Issue 18: the Method page lines up the place and community ranks and says why they move."""
    from powerbalance import lenses

    at = open_page(app, "pages/method_page.py", {"year": period})
    table = [d.value for d in at.dataframe if "move" in d.value.columns and "rank_to" in d.value.columns][0]
    expected = lenses.rank_moves("district", period, None, "place", "community", db=real_db)
    assert sorted(table["area_code"]) == sorted(expected["area_code"])
    got = table.set_index("area_code")["move"].dropna().sort_index()
    assert got.tolist() == expected.set_index("area_code")["move"].dropna().sort_index().tolist()
    text = "\n".join(m.value for m in at.markdown)
    assert lenses.moves_summary(expected, "place", "community") in text


# --------------------------------------------------------------------------------------------- Issue 12: 2023-24


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_pages_open_on_the_latest_year_each_measure_has(app, real_db):
    words = queries.latest_lines(queries.latest_and_longest(["E07000223"], db=real_db))
    assert any(
        w.startswith("Parish precepts as a share of council spending: 0.36% in 2023-24 (0.33% in 2010-11")
        for w in words
    )
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    assert all(w in _markdown(at) for w in words) and queries.INDEX_YEARS_NOTE in captions(at)
    part = [f for f in figures(at) if any(t.get("name") == "England" and "error_y" in t for t in f["data"])]
    eng = next(t for t in part[0]["data"] if t["name"] == "England")
    assert eng["y"][eng["x"].index("2022-23")] is None  # no survey: a gap in the line
    longest = [
        f
        for f in figures(at)
        if f["data"] and f["data"][0].get("x", [None])[0] == "2010-11" and f["data"][0]["x"][-1] == "2023-24"
    ]
    assert len(longest) == 2  # spending per head, precept share
    adur = next(t for t in longest[1]["data"] if t["name"] == "Adur")
    assert adur["y"][adur["x"].index("2018-19")] is None  # years not published: gaps
    pop = sql(
        real_db,
        """SELECT v.area_code, v.value FROM indicator_values v JOIN areas a ON a.code = v.area_code
                          WHERE a.county_code = 'E10000032' AND a.level = 'district'
                          AND v.indicator_id = 'population'""",
    ).set_index("area_code")["value"]
    place = 11_894_000 + 1_486_213_000 * pop["E07000223"] / pop.sum()  # RS 2023-24: Adur and West Sussex
    assert adur["y"][-1] == pytest.approx(100 * 440_000 / place)
    assert eng["x"][-1] == "2024-25" and eng["y"][-1] == pytest.approx(33.585)
    ov = open_page(app, "pages/overview_page.py")
    england = queries.latest_lines(queries.latest_and_longest(["E92000001"], db=real_db))
    assert "England, latest year" in _markdown(ov) and all(w in _markdown(ov) for w in england)
    mp = open_page(app, "pages/map_page.py", {"level": "district", "indicator": "place_spend_per_head"})
    assert mp.selectbox(key="map_year").value == "2023-24"
    cmp = open_page(app, "pages/compare_page.py", {"area": "E07000223", "group": "county"})
    latest = [d.value for d in cmp.dataframe if "longest shift" in d.value.columns]
    assert latest and set(latest[0]["year"]) == {"2023-24"}


def test_my_area_trends_say_which_years_england_lacks_councils(app, real_db):
    """Review: England's 2023-24 point on My area's trends is a sum over the districts that published
    (not all 296); the page said so nowhere."""
    counts = sql(
        real_db,
        """SELECT v.period, count(v.value) AS n, (SELECT count(*) FROM areas WHERE level = 'district') AS m
           FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = 'district'
           WHERE v.indicator_id = 'place_spend_per_head' AND v.period NOT LIKE '% to %' GROUP BY v.period""",
    )
    short = counts[counts["n"] < counts["m"]].sort_values("period")
    assert "2023-24" in set(short["period"])
    words = "; ".join(f"{p} based on {n} of {m} districts" for p, n, m in zip(short["period"], short["n"], short["m"]))
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    assert f"England: {words}." in captions(at)


def test_my_area_finds_a_parish_and_says_which(app):
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    at.text_input(key="ma_search").set_value("Hebden Royd").run()
    pick = at.selectbox(key="ma_pick")
    assert pick.options == [
        "Hebden Royd (parish) — Calder ward, Calderdale",
        "Hebden Royd (parish) — Luddendenfoot ward, Calderdale",
    ]
    pick.set_value("E05001372").run()
    assert not at.exception
    assert at.header[0].value == "Calder" and at.query_params["area"] == "E05001372"
    assert any("Calderdale" in i.value for i in at.info)
    assert any("Parish found: Hebden Royd (parish) — Calder ward, Calderdale" in i.value for i in at.info)


def test_my_area_search_finds_the_council_however_st_and_punctuation_are_typed(app):
    """Review: 'Saint Helens' and "King's Lynn" found nothing and 'St Helens' offered wards but not
    the council (ONS: St. Helens E08000013, Kings Lynn and West Norfolk E07000146)."""
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    for text, code, label in [
        ("Saint Helens", "E08000013", "St. Helens"),
        ("St Helens", "E08000013", "St. Helens"),
        ("King's Lynn", "E07000146", "Kings Lynn and West Norfolk"),
    ]:
        at.text_input(key="ma_search").set_value(text).run()
        assert not at.warning, text
        pick = at.selectbox(key="ma_pick")
        assert pick.options[0] == label, text  # the council first, as ONS names it
        pick.set_value(code).run()
        assert not at.exception and at.query_params["area"] == code, text


def test_my_area_search_reaches_every_same_named_ward(app, real_db):
    """Review: 'Central' offered 10 of the 13 wards so named and claimed '10 matches'; 'Central,
    Worthing' (the list's own label) found nothing. Every Central ward is offered, the page says how
    many places match in all, and a ward is found by its name with its council's."""
    centrals = sql(
        real_db,
        "SELECT a.code, d.name FROM areas a JOIN areas d ON d.code = a.district_code AND d.level = 'district' "
        "WHERE a.level = 'ward' AND a.name = 'Central'",
    )
    assert len(centrals) > 10
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    at.text_input(key="ma_search").set_value("Central").run()
    pick = at.selectbox(key="ma_pick")
    assert {f"Central, {d}" for d in centrals["name"]} <= set(pick.options)  # the options are shown by label
    (note,) = [i.value for i in at.info if i.value.startswith("Showing ")]
    assert note.startswith(f"Showing {len(pick.options)} of ") and "the council's name" in note
    assert pick.proto.placeholder.startswith(f"{len(pick.options)} of ")
    worthing = centrals.loc[centrals["name"] == "Worthing", "code"].iloc[0]
    at.text_input(key="ma_search").set_value("Central, Worthing").run()
    pick = at.selectbox(key="ma_pick")
    assert pick.options == ["Central, Worthing"]
    pick.set_value(worthing).run()
    assert not at.exception and at.query_params["area"] == worthing


def test_my_area_search_says_why_nothing_is_found(app):
    """Review: a Welsh postcode, half a postcode and a misspelling all said 'No data: nothing in
    England matches'."""
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    at.text_input(key="ma_search").set_value("CF10 1EP").run()
    assert [w.value for w in at.warning] == ["CF10 1EP is in Wales: Power Balance covers English councils only."]
    at.text_input(key="ma_search").set_value("BN11").run()
    assert any(i.value.startswith("BN11 is only the first half of a postcode") for i in at.info)
    assert "Worthing" in at.selectbox(key="ma_pick").options
    at.text_input(key="ma_search").set_value("manchestr").run()
    assert any("Did you mean “Manchester”?" in i.value for i in at.info)
    assert at.selectbox(key="ma_pick").options[0] == "Manchester"
    assert not any(i.value.startswith("No data:") for i in at.info)


def test_my_area_search_offers_the_successor_of_an_abolished_council(app):
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223"})
    at.text_input(key="ma_search").set_value("Allerdale").run()
    assert not at.warning
    pick = at.selectbox(key="ma_pick")
    assert pick.options == ["Allerdale (E07000026) is now part of Cumberland (E06000063)"]
    pick.set_value("E06000063").run()
    assert not at.exception
    assert at.header[0].value == "Cumberland" and at.query_params["area"] == "E06000063"
    assert any(i.value.startswith("Allerdale (E07000026) is now part of Cumberland") for i in at.info)


def test_map_opens_grants_on_the_last_full_year_and_flags_the_partial_one(app, real_db):
    """Review: /map?indicator=grants_amount_per_head opened on 2018-19, the thin grants year, with no
    warning. It opens on the latest year that is not partial; the partial year stays selectable, flagged."""
    from powerbalance import years

    thin = years.thin_grant_years(real_db).value
    periods = sql(
        real_db,
        """SELECT DISTINCT v.period FROM indicator_values v JOIN areas a ON a.code = v.area_code
           WHERE a.level = 'district' AND v.indicator_id = 'grants_amount_per_head' AND v.value IS NOT NULL""",
    )["period"]
    assert thin and max(periods) in thin  # the latest grants year is the partial one
    at = open_page(app, "pages/map_page.py", {"level": "district", "indicator": "grants_amount_per_head"})
    assert at.selectbox(key="map_year").value == max(p for p in periods if p not in thin)
    assert not at.warning
    year = max(thin)
    assert (
        year in at.selectbox(key="map_year").options[-1] and "partial year" in at.selectbox(key="map_year").options[-1]
    )
    at = open_page(app, "pages/map_page.py", {"level": "district", "indicator": "grants_amount_per_head", "year": year})
    assert at.selectbox(key="map_year").value == year  # still selectable
    assert any(thin[year] in w.value for w in at.warning)


def test_map_table_download_keeps_the_unit_the_year_and_the_partial_year_warning(app, real_db, monkeypatch):
    """Review: the Map's table CSV was code,name,district,value,is_local,note — no unit (the screen says
    "£ per resident") and, for 2018-19 grants, nothing of the partial-year warning shown above the map. The
    file now names the indicator, its unit (from the indicators table), the year, and the partial year."""
    from powerbalance import years

    files = {}
    real_downloads = ui.downloads
    monkeypatch.setattr(ui, "downloads", lambda df, name, key: (files.update({key: df}), real_downloads(df, name, key)))
    thin = years.thin_grant_years(real_db).value
    year = max(thin)
    ind = sql(real_db, "SELECT name, unit FROM indicators WHERE indicator_id = 'grants_amount_per_head'").iloc[0]
    at = open_page(app, "pages/map_page.py", {"level": "region", "indicator": "grants_amount_per_head", "year": year})
    open_data_tables(at)
    got = files["map_map_t"]
    assert list(got.columns[:5]) == ["code", "name", "indicator", "unit", "period"]
    assert set(got["unit"]) == {ind["unit"]} and set(got["period"]) == {year} and set(got["indicator"]) == {ind["name"]}
    assert set(got["period_note"]) == {thin[year]}
    want = sql(
        real_db,
        "SELECT area_code, value FROM indicator_values WHERE indicator_id = 'grants_amount_per_head' AND period = ?",
        [year],
    ).set_index("area_code")["value"]
    assert got.set_index("code")["value"].to_dict() == pytest.approx(want.reindex(got["code"]).to_dict())
    # a full year says so by an empty note, and the unit follows the indicator
    files.clear()
    at = open_page(
        app, "pages/map_page.py", {"level": "county", "indicator": "place_spend_per_head", "year": "2023-24"}
    )
    open_data_tables(at)
    got = files["map_map_t"]
    unit = sql(real_db, "SELECT unit FROM indicators WHERE indicator_id = 'place_spend_per_head'")["unit"].iloc[0]
    assert set(got["unit"]) == {unit} and set(got["period"]) == {"2023-24"} and set(got["period_note"]) == {""}


@pytest.mark.parametrize("page", ["pages/compare_page.py", "pages/overview_page.py"])
def test_the_like_with_like_promise_is_the_lens_shown(app, page):
    """Issue: Compare and the Overview promised in every lens that a shire district is never rated on
    social care it does not run, while the place lens scores its share of its county's spending. Each
    lens's page says what that lens scores, and only the council lens makes the promise."""
    for lens in index.LENSES:
        at = open_page(app, page, {"lens": lens, "area": "E07000223"})
        text = "\n".join(m.value for m in at.markdown)
        assert ("does not run" in text) == (lens == "council"), (page, lens)
        assert ui.LENS_PROMISE[lens] in text, (page, lens)


def test_overview_council_lens_compares_shifts_within_a_tier(app, real_db):
    """Review (network 2): in the council lens "Biggest shifts" listed only shire districts ranked with
    single-tier councils and the headline pooled both tiers; now one tier at a time, said so."""
    shifts = queries.shifts("district", "council", None, db=real_db)
    tiers = sql(real_db, "SELECT code, tier FROM areas WHERE level = 'district'").set_index("code")["tier"]
    names = dict(sql(real_db, "SELECT code, name FROM areas WHERE level = 'district'").values)
    for group, tier in (("shire_district", "lower"), ("single_tier", "single")):
        params = {"lens": "council"} | ({} if group == "shire_district" else {"shift_group": group})
        at = open_page(app, "pages/overview_page.py", params)
        assert at.radio(key="ov_shift_group").value == group  # shire districts by default
        mine = shifts[shifts["area_code"].map(tiers) == tier].dropna(subset=["ratio_shift"])
        top = mine.sort_values("ratio_shift", ascending=False).head(10)
        bars = [f for f in figures(at) if f["data"] and f["data"][0]["type"] == "bar"]
        drawn = {str(y) for f in bars[:1] for t in f["data"] for y in t["y"]}
        assert {names[c] for c in top["area_code"]} <= drawn
        other = shifts[shifts["area_code"].map(tiers) != tier]["area_code"]
        assert not drawn & {names[c] for c in other}
        text = captions(at)
        assert "compared only within a tier group" in text and "have the enabler ratio in both years" in text
        title, detail = queries.overview_headline(shifts, "councils", by_tier=True)
        assert at.title[0].value == title and "single-tier councils:" in detail
        assert any(detail in m.value for m in at.markdown)
    place = open_page(app, "pages/overview_page.py", {"lens": "place"})
    assert not [r for r in place.radio if r.key == "ov_shift_group"]  # the place lens compares every place


def test_my_area_council_lens_card_names_the_council_ratio(app, real_db):
    """Review (network 6): in the council lens the enabler ratio card showed the council's-own-spending
    ratio under the plain name and help of the place ratio; it now names the measure it shows."""
    adur = "E07000223"
    shift = queries.shifts("district", "council", None, db=real_db).set_index("area_code").loc[adur]
    at = open_page(app, "pages/my_area_page.py", {"area": adur, "lens": "council"})
    card = at.metric[2]
    assert card.label.startswith("Enabler ratio (council's own spending)")
    assert card.value == f"{shift['ratio_to']:.2f}"
    assert "per £100 of the council's own spending" in captions(at)
    place = open_page(app, "pages/my_area_page.py", {"area": adur, "lens": "place"})
    assert place.metric[2].label.startswith("Enabler ratio ") and "own spending" not in place.metric[2].label


def test_compare_says_which_councils_figures_come_from_before_they_existed(app, real_db):
    """Review (network 5): Compare showed a council formed since 2019 beside others with no word that its
    index years are the sums of the councils it replaced; it now names them (from the values' notes)."""
    north_northants, adur = "E06000061", "E07000223"
    at = open_page(app, "pages/compare_page.py", {"area": adur, "group": "pick", "areas": north_northants})
    text = captions(at)
    said = queries.reorganisation_note(north_northants, db=real_db)
    assert said and "Corby" in said and "an estimate" in said
    assert "North Northamptonshire: Its figures for" in text.replace("\\", "") and "Corby" in text
    assert not queries.reorganisation_note(adur, db=real_db)  # Adur published its own figures
