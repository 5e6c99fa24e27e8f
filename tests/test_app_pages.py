"""Every page through Streamlit's AppTest on one real build: no exceptions, the widgets, the
data behind each figure (checked against powerbalance.index / SQL, not against the page), and
the URL round trip (query params → widgets → query params → same view).

A map *click* cannot be simulated in AppTest (Plotly selections are set by the browser); the
browser tests click a real map. Here the selection → area step is tested on the helper.
"""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from bench import served_app
from powerbalance import index, queries, ui
from tests.helpers import sql

TIMEOUT = 180


@pytest.fixture(scope="module")
def app(real_db, built):
    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


@pytest.fixture(scope="module")
def period(real_db):
    return queries.index_periods(real_db)[-1]


def open_page(app, page: str, params: dict | None = None, timeout: float = TIMEOUT) -> AppTest:
    """A fresh session on ``page`` with exactly ``params`` in the URL."""
    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=timeout)
    at.run()
    at.switch_page(page)
    at.query_params.clear()
    at.query_params.update(params or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


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
    assert at.query_params == {"year": period, "level": "district", "lens": "place"}
    figs = figures(at)
    shaded, missing = map_codes(figs[0])
    expected = index.compute_index("district", period, db=real_db).set_index("area_code")["index"]
    assert sorted(shaded + missing) == sorted(expected.index)
    assert set(shaded) == set(expected.dropna().index)
    z = dict(zip(figs[0]["data"][0]["locations"], figs[0]["data"][0]["z"]))
    code = expected.dropna().index[0]
    assert z[code] == pytest.approx(expected[code], abs=1e-5)
    geo_path = sql(real_db, "SELECT geo_path FROM build_info")["geo_path"].iloc[0]
    assert figs[0]["data"][0]["geojson"] == f"{geo_path}/district.geojson"
    assert f"Based on {expected.notna().sum():,} of 296 districts" in captions(at)
    # distribution by tier: one box per tier, every council with an index drawn
    boxes = [d for d in figs[1]["data"] if d["type"] == "box"]
    assert len(boxes) == 3
    n_tier = sum(index.compute_index(lv, period, db=real_db)["index"].notna().sum() for lv in ("district", "county"))
    assert sum(len(b["x"]) for b in boxes) == n_tier
    # every chart has its alt text caption and a data table with downloads
    assert len(at.get("plotly_chart")) >= 3
    assert len(at.download_button) >= 2 * len(at.get("plotly_chart"))


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
    row = index.compute_index("district", period, db=real_db).set_index("area_code").loc["E07000223"]
    metric = at.metric[0]
    if row["index"] == row["index"]:
        assert metric.value == f"{row['index']:,.1f}"
        assert at.metric[1].value == f"{int(row['rank'])} of {int(row['n_in_group'])}"
    else:
        assert metric.value == "no data"
    labels = [b.label for b in at.download_button]
    assert "Download the brief (HTML)" in labels and "Download the brief (PDF)" in labels
    peers = index.peers("E07000223", k=10, db=real_db)
    peer_tables = [d.value for d in at.dataframe if "peer_code" in d.value.columns]
    assert peer_tables and peer_tables[0]["peer_code"].tolist() == peers["peer_code"].tolist()


def test_my_area_ward_shows_district_index_and_ward_map(app, real_db):
    w = sql(real_db, "SELECT w.code, w.name, d.code AS dcode, d.name AS dname FROM areas w JOIN areas d "
                     "ON d.code = w.district_code WHERE w.level = 'ward' ORDER BY w.code LIMIT 1").iloc[0]
    at = open_page(app, "pages/my_area_page.py", {"area": w["code"]})
    assert at.header[0].value == w["name"]
    assert any(w["dname"] in i.value for i in at.info)
    ward_maps = [f for f in figures(at) if f["data"] and f["data"][0]["type"] == "choroplethmap"]
    assert ward_maps
    shaded, missing = map_codes(ward_maps[0])
    in_district = set(sql(real_db, "SELECT code FROM areas WHERE level = 'ward' AND district_code = ?",
                          [w["dcode"]])["code"])
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
    event = {"selection": {"points": [{"curve_number": 0, "location": "E05013038", "z": 1.0}],
                           "point_indices": [0], "box": [], "lasso": []}}
    assert ui.selected_location(event) == "E05013038"
    assert ui.selected_location({"selection": {"points": [], "point_indices": []}}) is None
    assert ui.selected_location(None) is None


# --------------------------------------------------------------------------------------------- Compare


def test_compare_same_county(app, real_db, period):
    d = sql(real_db, "SELECT code, county_code FROM areas WHERE level = 'district' AND tier = 'lower' "
                     "ORDER BY code LIMIT 1").iloc[0]
    at = open_page(app, "pages/compare_page.py", {"area": d["code"], "group": "county", "year": period})
    members = set(sql(real_db, "SELECT code FROM areas WHERE level = 'district' AND county_code = ?",
                      [d["county_code"]])["code"])
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    assert set(table["area_code"]) == members
    expected = index.compute_index("district", period, db=real_db).set_index("area_code")
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
    assert set(table["group_label"]) == {"shire districts"}, set(table["group_label"])   # like with like
    at.radio(key="cmp_group").set_value("pick").run()
    assert at.query_params["group"] == "pick"


def test_compare_tier_is_summarised(app):
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "group": "tier"})
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert names[0] == "Adur" and names[1].startswith("Median of ")
    table = [df.value for df in at.dataframe if "group_label" in df.value.columns][0]
    assert len(table) == 164


# --------------------------------------------------------------------------------------------- Map


def test_map_wards(app, real_db):
    ind = sql(real_db, """SELECT v.indicator_id, v.period, count(v.value) AS n FROM indicator_values v
                          JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
                          GROUP BY ALL HAVING count(v.value) > 0 ORDER BY v.indicator_id, v.period LIMIT 1""").iloc[0]
    at = open_page(app, "pages/map_page.py", {"level": "ward", "indicator": ind["indicator_id"], "year": ind["period"]})
    assert at.radio(key="map_level").value == "ward"
    assert at.selectbox(key="map_indicator").value == ind["indicator_id"]
    fig = figures(at)[0]
    shaded, missing = map_codes(fig)
    assert len(shaded) == ind["n"] and len(shaded) + len(missing) == 6862
    assert fig["data"][0]["geojson"].endswith("/ward.geojson")
    assert f"Based on {ind['n']:,} of 6,862 wards" in captions(at)


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
    mine = index.compute_index("district", period, {"funding": 0.8, "projects": 0.2, "participation": 0.0},
                               db=real_db)["index"].dropna()
    default = index.compute_index("district", period, db=real_db)["index"].dropna()
    assert sorted(v for t in scatter for v in t["y"]) == pytest.approx(sorted(mine.tolist()))
    assert sorted(v for t in scatter for v in t["x"]) == pytest.approx(sorted(default.tolist()))
    at.slider(key="weights_funding").set_value(30).run()
    assert at.query_params["weights"] == "funding:0.3,projects:0.2,participation:0"
    bands = [f for f in figures(at) if "Ranks among" in (f["layout"].get("title") or {}).get("text", "")]
    groups = index.rank_uncertainty("district", period, db=real_db)["group"].nunique()
    assert len(bands) == groups
    catalogue = [d.value for d in at.dataframe if "polarity" in d.value.columns][0]
    assert len(catalogue) == sql(real_db, "SELECT count(*) AS n FROM indicators")["n"].iloc[0]


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
    assert metrics["Build"] == build_id
    built = sql(real_db, "SELECT built_at FROM build_info")["built_at"].iloc[0]
    assert metrics["Built (UTC)"] == str(built)[:16]
    labels = [b.label for b in at.download_button]
    assert labels.count("CSV") == labels.count("XLSX") >= 8
