"""powerbalance.queries, charts and brief: the functions the pages call.

Database tests run on one real build (conftest ``real_db``) and check each answer against an
independent SQL query or the index module, never against the function's own output. The
chart/brief tests use small hand-made frames: they test rendering rules (missing drawn as
"No data", escaping), not data.
"""

from __future__ import annotations

import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from powerbalance import brief, charts, downloads, index, labels, queries, urlstate
from tests.helpers import brief_profile, sql

# =============================================================================================
# Pure helpers (no database)
# =============================================================================================


def test_weights_round_trip_and_rejects_bad_text():
    w = {"funding": 0.25, "projects": 0.75, "participation": 0.0}
    text = urlstate.weights_to_param(w)
    assert text == "funding:0.25,projects:0.75,participation:0"
    assert urlstate.weights_from_param(text) == w
    for bad in (
        "funding:-1,projects:1",
        "nonsense",
        "funding:abc",
        "money:1",
        "funding:0,projects:0",
        "funding:inf",
        "",
    ):
        assert urlstate.weights_from_param(bad) is None, bad
        assert urlstate.weights_fault(bad) == (
            None if not bad else urlstate.ALL_ZERO if bad == "funding:0,projects:0" else urlstate.UNREADABLE
        ), bad
    assert urlstate.weights_fault(text) is None


def test_downloads_keep_missing_empty_not_zero():
    df = pd.DataFrame({"code": ["E07000223", "E07000224"], "name": ["Adur", "Ynys Môn"], "value": [1.5, np.nan]})
    text = downloads.to_csv_bytes(df).decode("utf-8-sig")
    assert text.splitlines() == ["code,name,value", "E07000223,Adur,1.5", "E07000224,Ynys Môn,"]
    wb = openpyxl.load_workbook(io.BytesIO(downloads.to_xlsx_bytes(df, "Index: wards/2017")))
    ws = wb.worksheets[0]
    assert ws.title == "Index wards2017"  # Excel-forbidden characters removed
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1] == ("E07000223", "Adur", 1.5)
    assert rows[2] == ("E07000224", "Ynys Môn", None)


def test_escape_markdown_prints_data_as_text():
    assert labels.escape_markdown("<b>x</b> *y* [z](http://a)") == r"\<b\>x\</b\> \*y\* \[z\]\(http://a\)"


def test_choropleth_draws_missing_as_no_data_not_zero():
    df = pd.DataFrame({"code": ["A", "B", "C"], "name": ["Area A", "Area B", "Area C"], "value": [2.0, np.nan, 4.0]})
    fig, alt = charts.choropleth_map(
        df, "/app/static/geo/x/ward.geojson", measure="Test measure", area_label="wards", highlight="C"
    )
    spec = json.loads(fig.to_json())
    data, shaded, missing, hl = spec["data"], spec["data"][0], spec["data"][1], spec["data"][2]
    assert [t["type"] for t in data] == ["choroplethmap"] * 3
    assert all(t["geojson"] == "/app/static/geo/x/ward.geojson" and t["featureidkey"] == "id" for t in data)
    assert shaded["locations"] == ["A", "C"] and shaded["z"] == [2.0, 4.0]
    assert missing["locations"] == ["B"] and missing["name"] == "No data (1)" and missing["showlegend"] is True
    assert {c for _, c in missing["colorscale"]} == {charts.NO_DATA_GREY}
    assert hl["locations"] == ["C"] and hl["marker"]["line"]["color"] == charts.ORANGE
    style = spec["layout"]["map"]["style"]
    assert "glyphs" not in style and "sprite" not in style and "://" not in json.dumps(style)
    assert all(src["type"] == "geojson" and isinstance(src["data"], dict) for src in style["sources"].values())
    assert "template" not in spec["layout"] or not spec["layout"]["template"].get("data")
    assert "1 ward has no data" in alt and "based on 2 of 3 wards" in alt
    assert "Highest: Area C" in alt and "lowest: Area A" in alt
    assert "title" not in spec["layout"]  # no title unless asked for


def test_choropleth_caps_the_colour_scale_at_the_95th_percentile_of_a_skewed_measure():
    values = [1.0] * 95 + [2.0, 3.0, 4.0, 5.0, 500.0]  # one extreme area would leave the rest pale
    df = pd.DataFrame(
        {"code": [f"C{i}" for i in range(100)], "name": [f"Area {i}" for i in range(100)], "value": values}
    )
    fig, alt = charts.choropleth_map(df, "/g.geojson", measure="m")
    trace = fig.to_dict()["data"][0]
    assert trace["zmax"] == pytest.approx(float(pd.Series(values).quantile(0.95)))
    assert trace["zmin"] == 1.0 and max(trace["z"]) == 500.0  # values themselves are untouched
    assert "95th percentile" in alt
    even = df.assign(value=[float(i) for i in range(100)])
    assert "zmax" not in charts.choropleth_map(even, "/g.geojson", measure="m")[0].to_dict()["data"][0]


def test_bar_chart_leaves_out_and_counts_missing():
    df = pd.DataFrame({"name": ["P", "Q", "R"], "v": [1.0, np.nan, -2.0]})
    fig, alt = charts.bar_chart(df, label="name", value="v", measure="Shift", subject="districts")
    bar = fig.data[0]
    assert list(bar.y) == ["R", "P"] and list(bar.x) == [-2.0, 1.0]
    assert list(bar.text) == ["-2.0", "1.0"]
    assert "1 district has no data" in alt


def test_bar_chart_leaves_room_for_a_negative_bars_value():
    """A negative bar's value is written left of the bar: the x range must leave room for it inside
    the plot, or it lands on the category labels (the perception gap's "Shared endeavou-0.7").
    A chart with no negative bar keeps plotly's own range."""
    df = pd.DataFrame({"q": ["Shared endeavour", "Risk", "Trust"], "gap": [-0.67, -0.33, 1.5]})
    fig, _ = charts.bar_chart(df, label="q", value="gap", measure="Gap", sort=False)
    left, right = fig.to_dict()["layout"]["xaxis"]["range"]
    assert left < -0.67 - 0.25 * (1.5 + 0.67) and right >= 1.5
    assert fig.to_dict()["data"][0]["textposition"] == "outside"
    positive, _ = charts.bar_chart(df.assign(gap=df["gap"].abs()), label="q", value="gap", measure="Gap")
    assert "range" not in positive.to_dict()["layout"]["xaxis"]


def test_bar_chart_alt_text_says_the_order_it_reads():
    """Review: My area's domains (unsorted) read 'largest first: Projects 35.3; Funding 36.8'."""
    df = pd.DataFrame({"domain": ["Funding", "Projects"], "score": [36.8, 35.3]})
    fig, alt = charts.bar_chart(df, label="domain", value="score", measure="Score", sort=False, subject="domains")
    assert list(fig.data[0].y) == ["Funding", "Projects"]  # drawn bottom up: Projects on top
    assert "largest first" not in alt and "top to bottom: Projects 35.3; Funding 36.8." in alt
    _, sorted_alt = charts.bar_chart(df.iloc[::-1], label="domain", value="score", measure="Score", subject="domains")
    assert "largest first: Funding 36.8; Projects 35.3." in sorted_alt


def test_long_y_axis_titles_are_wrapped_to_fit_the_plot():
    """Review: My area's trends clipped 'Council service spending per head (place) (£ per resident)'
    to 'ouncil service spending per head (place) (£ per resi'."""
    df = pd.DataFrame({"period": ["2010-11", "2023-24"], "v": [1317.0, 1868.0], "s": ["Adur", "Adur"]})
    measure, unit = "Council service spending per head (place)", "£ per resident"
    fig, _ = charts.line_chart(df, x="period", y="v", series="s", measure=measure, unit=unit, height=360)
    text = fig.layout.yaxis.title.text
    lines = text.split("<br>")
    plot_px = 360 - 150  # the chart's height less its legend and upright ticks (seen on My area)
    assert len(lines) > 1 and all(len(line) * 7.5 <= plot_px for line in lines)
    assert " ".join(lines).replace("\u00a0", " ") == f"{measure} ({unit})"  # nothing cut
    assert lines[-1] == "(£\u00a0per\u00a0resident)"  # the unit is not split
    short, _ = charts.line_chart(df, x="period", y="v", series="s", measure="Index", unit="0–100")
    assert short.layout.yaxis.title.text == "Index (0–100)"


def test_line_chart_breaks_at_missing_periods():
    df = pd.DataFrame(
        {
            "period": ["2010-11", "2011-12", "2012-13", "2010-11"],
            "v": [1.0, np.nan, 3.0, 5.0],
            "s": ["One", "One", "One", "Two"],
        }
    )
    fig, alt = charts.line_chart(
        df, x="period", y="v", series="s", measure="Index", x_order=["2010-11", "2011-12", "2012-13"]
    )
    assert list(fig.data[0].y) == [1.0, None, 3.0] and fig.data[0].connectgaps is False
    assert list(fig.data[1].y) == [5.0, None, None]
    assert fig.data[0].marker.symbol != fig.data[1].marker.symbol  # not colour alone
    assert "2 periods without data" in alt


def test_every_chart_spec_passes_plotly_validation():
    """Charts skip Plotly's validation for speed; here each builder's output is validated."""
    import plotly.graph_objects as go

    df = pd.DataFrame({"code": ["A", "B"], "name": ["Area A", "Area B"], "value": [1.0, np.nan]})
    figs = [
        charts.choropleth_map(df, "/g.geojson", measure="m", highlight="A", bounds=(-1, 51, 0, 52))[0],
        charts.bar_chart(df, label="name", value="value", measure="m")[0],
        charts.grouped_bars(
            pd.DataFrame({"c": ["x", "y"], "s": ["S", "S"], "v": [1.0, np.nan]}),
            category="c",
            series="s",
            value="v",
            measure="m",
        )[0],
        charts.line_chart(
            pd.DataFrame({"p": ["1", "2"], "v": [1.0, np.nan], "s": ["S", "S"]}), x="p", y="v", series="s", measure="m"
        )[0],
        charts.distribution_by_group(
            pd.DataFrame({"g": ["a", "b"], "v": [1.0, 2.0], "n": ["A", "B"]}),
            group="g",
            value="v",
            name="n",
            measure="m",
        )[0],
        charts.rank_band_chart(
            pd.DataFrame(
                {
                    "area_code": ["A", "B"],
                    "name": ["Area A", "Area B"],
                    "rank": [1.0, 2.0],
                    "median_rank": [1.0, 2.0],
                    "p5": [1.0, 1.0],
                    "p95": [2.0, 2.0],
                    "robust": [True, False],
                }
            ),
            highlight=["A"],
        )[0],
    ]
    for fig in figs:
        go.Figure(fig.to_dict())  # raises on any invalid property


def test_zoom_for_bounds_fits_box():
    centre, zoom = charts.zoom_for_bounds((-1.0, 51.0, 0.0, 52.0), 600, 420)
    assert abs(centre["lon"] + 0.5) < 1e-9 and 51.0 < centre["lat"] < 52.0
    # a wide, flat box: width decides, and twice as wide is one zoom level less
    _, z1 = charts.zoom_for_bounds((-1.0, 51.45, 0.0, 51.55), 600, 420)
    _, z2 = charts.zoom_for_bounds((-2.0, 51.45, 0.0, 51.55), 600, 420)
    assert z1 - z2 == pytest.approx(1.0, abs=0.01)
    assert charts.zoom_for_bounds(None) == (charts.ENGLAND_CENTRE, charts.ENGLAND_ZOOM)


def test_brief_escapes_every_data_value():
    evil = "<script>alert('x')</script>"
    p = brief_profile(
        name=evil,
        council_name=evil,
        attributions=[evil],
        index={"index": 55.0, "rank": 3.0, "n_in_group": 164, "group": "shire_district"},
        indicators=pd.DataFrame(
            {
                "name": [evil, evil],
                "period": ["2017-18", "2017-18"],
                "value": [1.0, np.nan],
                "value_text": [evil, "no data"],
                "note": ["", f"missing: {evil}"],  # a missing value's reason is printed too
                "coverage": ["based on 1 of 2", "based on 1 of 2"],
            }
        ),
        wards=pd.DataFrame({"code": ["E05"], "name": [evil], "x (£)": [np.nan]}),
    )
    out = brief.render(p)
    assert "<script>" not in out
    assert out.count("&lt;script&gt;") >= 7
    assert "no data" in out  # the missing ward value


def test_brief_states_missing_index_and_shift():
    p = brief_profile(index={"index": np.nan, "reason": "only 3 of 7 scored indicators"}, shift=None)
    out = brief.render(p)
    assert "No index value" in out and "only 3 of 7 scored indicators" in out
    assert "<b>0.0</b>" not in out


def test_brief_direction_words_follow_the_signs_and_plurals_agree():
    """Issue 17 item 9: 'rank up 1 places' beside a falling ratio."""
    shift = {
        "from_period": "2013-14",
        "to_period": "2017-18",
        "ratio_from": 2.40,
        "ratio_to": 1.90,
        "ratio_shift": -0.50,
        "rank_from": 66.0,
        "rank_to": 65.0,
        "rank_change": 1.0,
    }
    out = brief.render(
        brief_profile(index={"index": 55.0, "rank": 65.0, "n_in_group": 164, "group": "shire_district"}, shift=shift)
    )
    assert "(down 0.50)" in out and "index rank 66 → 65 (up 1 place)" in out and "1 places" not in out
    assert charts.rank_move_text(10, 13) == "rank 10 → 13 (down 3 places)"
    assert charts.rank_move_text(4, 4) == "rank 4 → 4 (unchanged)"
    assert queries.shift_direction(0.001) == "unchanged" and queries.shift_direction(-0.2) == "towards providing"
    sens = pd.DataFrame({"name": ["A", "B"], "rank_move": [1.0, 0.0]})
    assert queries.rank_moves_summary(sens).endswith("The largest move: A, up 1 place.")


# =============================================================================================
# On the real database
# =============================================================================================


@pytest.fixture(scope="module")
def db(real_db):
    return real_db


@pytest.fixture(scope="module")
def period(db):
    return queries.index_periods(db)[-1]


def test_build_info_and_geo_location(db, built):
    _, static, result = built
    info = queries.build_info(db)
    assert info["build_id"] == result.build_id
    url, path = queries.geo_location(info, "ward", static)
    assert url == f"/app/static/geo/{result.build_id}/ward.geojson"
    assert path.is_file()
    first = json.loads(path.read_text())["features"][0]
    assert first["id"].startswith("E05")
    # a district's own ward file: the wards its profile lists
    profile = queries.area_profile("E07000223", db=db)
    url, path = queries.geo_location(info, "ward", static, profile.ward_district)
    assert url == f"/app/static/geo/{result.build_id}/ward/E07000223.geojson"
    ids = [f["id"] for f in json.loads(path.read_text())["features"]]
    assert sorted(ids) == sorted(profile.wards["code"])
    for level, district in (("district", "E07000223"), ("ward", "../x"), ("ward", "E07000223/../../y")):
        with pytest.raises(ValueError):
            queries.geo_location(info, level, static, district)
    assert queries.served_geo_location(info, "ward", static, "E07000223") == (url, path)
    assert queries.served_geo_location(info, "ward", static) == queries.geo_location(info, "ward", static)


def test_a_build_without_district_ward_files_maps_every_ward(tmp_path):
    """A database built before the per-district ward files: My area's map falls back to every ward."""
    info = {"build_id": "old", "geo_path": "/app/static/geo/old"}
    (tmp_path / "geo" / "old").mkdir(parents=True)
    (tmp_path / "geo" / "old" / "ward.geojson").write_text("{}")
    url, path = queries.served_geo_location(info, "ward", tmp_path, "E07000223")
    assert url == "/app/static/geo/old/ward.geojson" and path.is_file()


def test_map_values_has_every_area_and_no_zero_filling(db):
    ind = sql(
        db,
        """SELECT v.indicator_id, v.period, count(v.value) AS n FROM indicator_values v
                     JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
                     GROUP BY ALL HAVING count(v.value) > 0 ORDER BY n LIMIT 1""",
    ).iloc[0]
    df = queries.map_values("ward", ind["indicator_id"], ind["period"], db)
    n_wards = sql(db, "SELECT count(*) AS n FROM areas WHERE level = 'ward'")["n"].iloc[0]
    assert len(df) == n_wards and df["code"].is_unique
    assert df["value"].notna().sum() == ind["n"]
    # a ward with a value has exactly the stored value
    one = sql(
        db,
        "SELECT area_code, value FROM indicator_values WHERE indicator_id = ? AND period = ? "
        "AND value IS NOT NULL LIMIT 1",
        [ind["indicator_id"], ind["period"]],
    ).iloc[0]
    assert df.set_index("code").loc[one["area_code"], "value"] == pytest.approx(one["value"])


def test_index_table_is_compute_index_plus_geography(db, period):
    mine = queries.index_table("district", period, None, "place", None, db)
    theirs = index.compute_index("district", period, None, "place", None, db)
    assert len(mine) == len(theirs) == 296
    m = mine.set_index("area_code")
    t = theirs.set_index("area_code")
    pd.testing.assert_series_equal(m["index"].sort_index(), t["index"].sort_index())
    counties = sql(db, "SELECT code, county_code FROM areas WHERE level = 'district'").set_index("code")["county_code"]
    assert (m["county_code"].fillna("-") == counties.reindex(m.index).fillna("-")).all()


def test_biggest_shifts_are_extremes_with_the_right_sign(db):
    s = queries.shifts("district", "place", None, db=db)
    up, down = queries.biggest_shifts(s, 10)
    have = s.dropna(subset=["ratio_shift"])
    assert len(have) > 0
    assert (up["ratio_shift"] > 0).all() and (down["ratio_shift"] < 0).all()
    assert (down["ratio_fall"] == -down["ratio_shift"]).all()
    assert up["ratio_shift"].is_monotonic_decreasing and down["ratio_shift"].is_monotonic_increasing
    assert up["ratio_shift"].iloc[0] == have["ratio_shift"].max()
    assert down["ratio_shift"].iloc[0] == have["ratio_shift"].min()
    title, detail = queries.overview_headline(s)
    n_up = int((have["ratio_shift"] > 0).sum())
    f, t = index.default_shift_periods(db)
    assert title.endswith(f"shifted towards enabling between {f} and {t}")
    assert title.startswith("Most councils") == (n_up * 2 > len(have))
    assert detail.startswith(f"{n_up} of {len(have)} councils")
    median = have["ratio_shift"].median()
    assert f"£{abs(median):.2f} in community hands" in detail


def test_council_lens_shifts_and_headline_stay_within_a_tier(db):
    """Review (network 2): in the council lens the ratio divides by the council's own spending, which
    is not comparable across tiers, so the biggest shifts and the headline's counts and medians are
    per tier group (they ranked and pooled shire districts with single-tier councils)."""
    s = queries.shifts("district", "council", None, db=db)
    tiers = sql(db, "SELECT code AS area_code, tier FROM areas WHERE level = 'district'").set_index("area_code")["tier"]
    title, detail = queries.overview_headline(s, "councils", by_tier=True)
    for group, tier in (("shire_district", "lower"), ("single_tier", "single")):
        mine = s[s["area_code"].map(tiers) == tier].dropna(subset=["ratio_shift"])
        up, down = queries.biggest_shifts(s, 10, group)
        assert len(up) and len(down) and set(up["area_code"].map(tiers)) == set(down["area_code"].map(tiers)) == {tier}
        assert up["ratio_shift"].iloc[0] == mine["ratio_shift"].max()
        assert down["ratio_shift"].iloc[0] == mine["ratio_shift"].min()
        n_up, median = int((mine["ratio_shift"] > 0).sum()), mine["ratio_shift"].median()
        sign = "+" if median >= 0 else "−"
        assert f"{labels.GROUP_LABELS[group]}: {n_up} of {len(mine)} with data in both years" in detail.lower()
        assert f"median change {sign}£{abs(median):.2f} per £100 of the council's own spending" in detail
        assert queries.shift_span(s, group)[:2] == (len(mine), int((s["area_code"].map(tiers) == tier).sum()))
    assert "shire districts and" in title and "single-tier councils shifted towards enabling" in title
    # the place lens divides by all spending on the place, comparable across tiers: one list
    place = queries.shifts("district", "place", None, db=db)
    assert queries.biggest_shifts(place, 10)[0]["ratio_shift"].iloc[0] == place["ratio_shift"].max()


NORTH_NORTHANTS, DORSET, BCP = "E06000061", "E06000059", "E06000058"


def test_successor_council_years_before_it_existed_name_its_predecessors(db):
    """Review (network 5, audit 2): North Northamptonshire's 2013-14 figures are its four districts plus
    a population share of Northamptonshire County (an estimate); the value's note, My area's profile and
    the brief say so (they said nothing). Checked against the build's finance table and code map."""
    fin = sql(
        db,
        "SELECT ecode, mapping, value_gbp FROM finance WHERE council_code = ? AND period = '2013-14' "
        "AND line = 'total_service'",
        [NORTH_NORTHANTS],
    )
    names = dict(sql(db, "SELECT old_code, old_name FROM area_code_map WHERE level = 'council_ecode'").values)
    (county,) = fin.loc[fin["mapping"] == "predecessor_share", "ecode"]
    whole = sorted(names[c] for c in fin.loc[fin["mapping"] == "predecessor", "ecode"])
    published = sql(
        db,
        "SELECT sum(value_gbp) AS v FROM finance WHERE ecode = ? AND period = '2013-14' AND line = 'total_service'",
        [county],
    )["v"].iloc[0]
    share = fin.loc[fin["ecode"] == county, "value_gbp"].iloc[0] / published
    notes = sql(
        db,
        "SELECT indicator_id, period, note FROM indicator_values WHERE area_code = ? AND indicator_id IN "
        "('place_spend_per_head', 'council_spend_per_head', 'parish_precept_share', 'enabler_ratio_council')",
        [NORTH_NORTHANTS],
    )
    said = (
        "2013-14 is before this council existed: the sum of the councils it replaced, "
        + ", ".join(whole[:-1])
        + f" and {whole[-1]} plus {share:.2%} of {names[county]} County Council (an estimate"
    )
    early = notes[notes["period"] == "2013-14"]
    assert len(early) == 4 and all(said in n for n in early["note"])
    assert notes.loc[notes["period"] == "2023-24", "note"].isna().all()  # it published 2023-24 itself
    first, last = sql(
        db,
        "SELECT min(period), max(period) FROM finance WHERE council_code = ? AND mapping <> 'same'",
        [NORTH_NORTHANTS],
    ).iloc[0]
    p = queries.area_profile(NORTH_NORTHANTS, "2013-14", None, "council", db=db)
    assert p.reorganised.startswith(f"Its figures for {first} to {last}, years before this council existed, are ")
    assert said.split(": ", 1)[1] in p.reorganised
    page = brief.render(p)
    assert "Corby" in page and "an estimate" in page
    assert (
        "before this council existed" not in queries.area_profile("E07000223", None, None, "place", db=db).reorganised
    )


def test_dorset_county_credited_wholly_to_dorset_is_said_on_both_successors(db):
    """Review (audit 1): the register maps Dorset County Council wholly to Dorset Council although
    Christchurch went to BCP; the raw data hold no population for Christchurch to split it by, so both
    councils' years before 2019 say which way their figure is wrong."""
    mapped = sql(
        db,
        "SELECT DISTINCT f.council_code, f.ecode, f.class FROM finance f WHERE f.period = '2017-18' "
        "AND f.ecode IN (SELECT old_code FROM area_code_map WHERE old_name IN ('Dorset County', 'Christchurch'))",
    )
    assert set(zip(mapped["council_code"], mapped["class"])) == {(DORSET, "SC"), (BCP, "SD")}
    for code, word in ((DORSET, "too high"), (BCP, "too low")):
        notes = sql(
            db,
            "SELECT period, note FROM indicator_values WHERE area_code = ? AND indicator_id = 'place_spend_per_head'",
            [code],
        ).set_index("period")["note"]
        assert "Christchurch" in notes["2017-18"] and "Dorset County Council" in notes["2017-18"]
        assert word in notes["2017-18"] and word in notes["2010-11"]
        assert pd.isna(notes["2023-24"])


def test_comparison_groups(db):
    district = sql(
        db,
        "SELECT code, county_code, type FROM areas WHERE level = 'district' AND tier = 'lower' ORDER BY code LIMIT 1",
    ).iloc[0]
    county = queries.comparison_group(district["code"], "county", db)
    expected = set(
        sql(db, "SELECT code FROM areas WHERE level = 'district' AND county_code = ?", [district["county_code"]])[
            "code"
        ]
    )
    assert county[0] == district["code"] and set(county) == expected
    tier = queries.comparison_group(district["code"], "tier", db)
    assert len(tier) == 164 and tier[0] == district["code"]
    neighbours = queries.comparison_group(district["code"], "neighbours", db)
    assert neighbours[1:] == index.peers(district["code"], k=10, db=db)["peer_code"].tolist()
    with pytest.raises(ValueError):
        queries.comparison_group(district["code"], "everyone", db)


def test_compare_series_summarises_large_groups(db, period):
    codes = queries.comparison_group("E07000223", "tier", db)
    table = queries.compare_table(codes, period, None, "place", db)
    shown, note = queries.compare_series(table, "E07000223", max_series=8)
    assert shown["area_code"].tolist() == ["E07000223", "median"]
    rest = table[table["area_code"] != "E07000223"]
    assert shown.iloc[1]["index"] == pytest.approx(rest["index"].median(), nan_ok=True)
    assert note and f"{len(rest)} other councils" in note


def test_ward_table_one_row_per_ward_missing_kept(db):
    d = sql(
        db, "SELECT district_code, count(*) AS n FROM areas WHERE level = 'ward' GROUP BY 1 ORDER BY 1 LIMIT 1"
    ).iloc[0]
    wt = queries.ward_table(d["district_code"], db=db)
    assert len(wt) == d["n"] and wt["code"].is_unique
    for col in [c for c in wt.columns if c not in ("code", "name")]:
        assert not (wt[col] == 0).all() or wt[col].notna().all()  # never an all-zero filler column


def test_area_profile_of_a_ward_uses_its_district(db, period):
    w = sql(db, "SELECT code, district_code FROM areas WHERE level = 'ward' ORDER BY code LIMIT 1").iloc[0]
    p = queries.area_profile(w["code"], period, None, "place", db)
    assert p.level == "ward" and p.council_code == w["district_code"] and p.council_level == "district"
    assert w["code"] in set(p.wards["code"])
    t = index.compute_index("district", period, None, "place", None, db).set_index("area_code")
    if p.has_index:
        assert p.index["index"] == pytest.approx(t.loc[w["district_code"], "index"])
    else:
        assert pd.isna(t.loc[w["district_code"], "index"])


def test_area_bounds_inside_england(db):
    code = sql(db, "SELECT code FROM areas WHERE level = 'district' ORDER BY code LIMIT 1")["code"].iloc[0]
    minx, miny, maxx, maxy = queries.area_bounds([code], db)
    assert -6.5 < minx < maxx < 2.0 and 49.8 < miny < maxy < 56.0
    assert queries.area_bounds(["E99999999"], db) is None


def test_area_bounds_are_the_shapes_own_bounds(db):
    """The kept boxes give what parsing the shapes gives: a district's wards (one unknown code
    among them changes nothing), and a county with its districts."""
    import shapely

    district = sql(db, "SELECT code FROM areas WHERE level = 'district' ORDER BY code LIMIT 1 OFFSET 7")["code"].iloc[0]
    wards = sql(db, "SELECT code FROM areas WHERE level = 'ward' AND district_code = ?", [district])["code"].tolist()
    county = sql(db, "SELECT code FROM boundaries WHERE level = 'county' ORDER BY code LIMIT 1")["code"].iloc[0]
    for codes in (wards, [*wards, "E05999999"], [county, district], [district]):
        shapes = sql(db, "SELECT geom_wkb FROM boundaries WHERE list_contains(?::VARCHAR[], code)", [codes])
        b = shapely.bounds(shapely.from_wkb([bytes(g) for g in shapes["geom_wkb"]]))
        want = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
        assert queries.area_bounds(tuple(codes), db) == pytest.approx(want, abs=0)


def test_sources_and_load_report(db):
    src = queries.sources(db)
    assert len(src) == sql(db, "SELECT count(DISTINCT source_id) AS n FROM sources")["n"].iloc[0]
    assert src["licence"].notna().all() and src["attribution"].notna().all()
    cov = queries.indicator_coverage(db)
    assert ((cov["with_value"] + cov["without_value"]) == cov["n_areas"]).all()


def test_coverage_never_counts_a_regional_survey_estimate_as_a_councils_own(db):
    """Every council is given its region's civic participation figure; the coverage table had
    counted those copies ('county 21 of 21 with a value'). Recounted here from the values."""
    cov = queries.indicator_coverage(db).set_index(["indicator_id", "level", "period"])
    own = sql(
        db,
        """SELECT a.level, v.period, count(v.value) AS n, count(v.value) FILTER (WHERE NOT v.is_local) AS copies
           FROM indicator_values v JOIN areas a ON a.code = v.area_code
           WHERE v.indicator_id = 'civic_participation' GROUP BY ALL""",
    )
    checked = 0
    for r in own.itertuples():
        row = cov.loc[("civic_participation", r.level, r.period)]
        if r.level in ("district", "county"):
            assert row["with_value"] == r.n - r.copies, (r.level, r.period)
            assert (f"{r.copies:,} regional survey estimates" in row["note"]) == (r.copies > 0)
            checked += r.copies > 0
        else:  # England's and the regions' own survey figures
            assert row["with_value"] == r.n and "regional" not in row["note"]
    assert checked >= 10


def test_a_ward_brief_leads_its_ward_table_with_that_ward(db, period):
    """The ward table of a ward's brief is its council's wards (the first WARD_ROWS of them): the ward
    the brief is about comes first, marked, whatever its place in the alphabet."""
    from html import escape as html_escape

    wards = sql(
        db, "SELECT code, name FROM areas WHERE level = 'ward' AND parent_code = 'E08000025' ORDER BY name DESC LIMIT 1"
    ).iloc[0]  # last in the alphabet: never shown otherwise
    html = brief.render(queries.area_profile(wards["code"], period, db=db))
    section = html[html.index("<h2>Wards in Birmingham") :]
    body = section[section.index("<tbody>") :]
    first_row = body[: body.index("</tr>")]
    assert f"{html_escape(wards['name'])} (this ward)" in first_row
    assert html.count("(this ward)") == 1
    council = brief.render(queries.area_profile("E08000025", period, db=db))
    assert "(this ward)" not in council


# ---- issue 17: a visit's frictions ------------------------------------------------------------------------


def test_counts_are_whole_numbers_and_rates_keep_a_decimal():
    assert charts.fmt_value(2010.0, "people") == "2,010 people"
    assert charts.fmt_value(1.0, "plans") == "1 plans"
    assert charts.fmt_value(2010.5, "hours") == "2,010.5 hours"
    assert charts.fmt_value(3.0, "grants per 10,000 residents") == "3.0 grants per 10,000 residents"
    assert charts.fmt_value(42.0, "% of wards") == "42.0 % of wards"
    assert charts.fmt_value(float("nan"), "people") == "no data"


def test_a_ward_without_figures_says_why_in_its_indicator_table(db, period):
    """Wards whose figures are missing (e.g. redrawn Leeds wards) list each indicator with its reason."""
    missing = sql(
        db,
        """SELECT v.area_code, v.indicator_id, v.note FROM indicator_values v
                         JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
                         WHERE v.indicator_id = 'grants_amount_per_head' AND v.period = ?
                           AND v.value IS NULL AND v.note LIKE 'missing:%'
                           AND NOT EXISTS (SELECT 1 FROM indicator_values o WHERE o.area_code = v.area_code
                               AND o.indicator_id = v.indicator_id AND o.value IS NOT NULL)
                         ORDER BY 1 LIMIT 1""",
        [period],
    ).iloc[0]
    table = queries.latest_indicators(missing["area_code"], period, db=db).set_index("indicator_id")
    row = table.loc["grants_amount_per_head"]
    assert row["value_text"] == "no data" and row["note"] == missing["note"]
    # its own population and deprivation are there when it has them
    have = sql(
        db,
        "SELECT indicator_id FROM indicator_values WHERE area_code = ? AND value IS NOT NULL",
        [missing["area_code"]],
    )["indicator_id"]
    assert set(have) <= set(table.index[table["value_text"] != "no data"])


def test_ward_map_opens_on_the_best_covered_indicator(db, period):
    leeds = queries.ward_table("E08000035", period, db=db)
    cols = [c for c in leeds.columns if c not in ("code", "name")]
    best = queries.best_covered(leeds, cols)
    assert not best.startswith("Wards that are parished")
    assert leeds[best].notna().sum() == max(leeds[c].notna().sum() for c in cols)


def test_indicator_definitions_download_says_which_lenses_score_each_indicator(db):
    """Review: the "Indicator definitions" download said parish_precept_share scored=True with no lens, yet
    the default community lens leaves it out, so the index could not be recomputed from the downloads. Its
    ``scored_in`` names exactly the lenses whose index spec (what compute_index scores) holds it."""
    from powerbalance import registry

    cat = queries.indicator_catalogue(db).set_index("indicator_id")
    for lens in index.LENSES:
        spec = index.spec_for(lens, defs=registry.definitions(db))
        named = {i for i, words in cat["scored_in"].items() if lens in words.split(", ")}
        assert named == set(spec.domain), lens
    assert cat.loc["parish_precept_share", "scored_in"] == "place, council"
    assert cat.loc["parish_precepts_per_head", "scored_in"] == "community"
    assert cat.loc["lottery_amount_per_head", "scored_in"] == ""


def test_coverage_counts_sums_over_only_some_districts_as_partial(db):
    """Review: "What is missing" said place_spend_per_head county 2023-24 "21 of 21, 0 missing" with an empty
    note although Essex is a "sum of 9 of 12 districts" (13 councils unpublished), and England "sum of 283 of
    296". Recounted here from the values' notes with SQL: every sum over fewer parts than it has is partial."""
    cov = queries.indicator_coverage(db).set_index(["indicator_id", "level", "period"])
    parts = sql(
        db,
        r"""SELECT v.indicator_id, a.level, v.period,
                   count(*) FILTER (WHERE regexp_extract(v.note, 'sum of (\d+) of', 1)::INT
                                        < regexp_extract(v.note, 'sum of \d+ of (\d+)', 1)::INT) AS partial
            FROM indicator_values v JOIN areas a ON a.code = v.area_code
            WHERE v.value IS NOT NULL AND regexp_matches(v.note, 'sum of \d+ of \d+ ')
            GROUP BY ALL""",
    )
    assert (parts["partial"] > 0).sum() >= 20
    for r in parts.itertuples():
        row = cov.loc[(r.indicator_id, r.level, r.period)]
        assert row["partial"] == r.partial, (r.indicator_id, r.level, r.period)
        assert ("partial: " in row["note"]) == (row["partial"] > 0), (r.indicator_id, r.level, r.period)
    spend = cov.loc[("place_spend_per_head", "county", "2023-24")]
    essex = sql(
        db,
        "SELECT note FROM indicator_values WHERE area_code = 'E10000012' AND indicator_id = 'place_spend_per_head' "
        "AND period = '2023-24'",
    )["note"].iloc[0]
    n, m, _ = queries.note_coverage(essex)
    assert n < m and spend["partial"] >= 1 and spend["partial"] <= spend["with_value"]
    assert f"{spend['partial']:,} of the {spend['with_value']:,} values are partial" in spend["note"]
    england = cov.loc[("place_spend_per_head", "country", "2023-24")]
    assert england["partial"] == 1 and "the value is partial" in england["note"]
