"""The Funders page (programme spread) and its module.

- Pure checks of the cell functions against :mod:`powerbalance.spread` on the hand-computed
  spread fixture, and of the ward judgement on a tiny hand-made case.
- The page through Streamlit's AppTest on one real build: a funder and years chosen by URL, every
  figure's data checked against a direct SQL computation on that database (not against the
  page's own module); the ward judgement; programmes; the Department for Transport flag; URL
  round trip.
- The upload path: tests/fixtures/funders/upload.csv (real COVID-19 grants + one invalid row,
  see make_fixture.py) through AppTest's file uploader — figures checked against the ETL's own
  placement of the same grants in the ``grants`` table; the problems table located and
  downloadable; nothing of the file in the URL; a second session sees nothing; the database
  file's sha256 unchanged; size and row limits refused with a message; after a file is replaced
  the view's buttons show what the page and the URL show.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit.config as st_config
from streamlit.testing.v1 import AppTest

from bench.app import served_app
from powerbalance import funders, spread
from tests.helpers import GRANT_COLUMNS, GRANTNAV_HEADER, figures, open_app_page, open_data_tables, sql

TIMEOUT = 240
FIX = Path(__file__).parent / "fixtures"
UPLOAD = FIX / "funders" / "upload.csv"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def gini_pairs(values) -> float:
    """Gini from its definition Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄) — not the sorted formula the module uses."""
    x = np.asarray(values, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


# =============================================================================================
# Pure functions
# =============================================================================================


def test_cells_agree_with_spread_functions_on_the_hand_computed_fixture():
    """One grant per cell must give exactly spread.amount_by_area / spread.reach (tested by hand
    in tests/test_spread.py): the weighted versions only add the grant count."""
    areas = pd.read_csv(FIX / "grants" / "spread_areas.csv", dtype={"code": str})
    grants = pd.read_csv(FIX / "grants" / "spread_grants.csv", dtype={"grant_id": str, "district_code": str})
    cells = grants.assign(ward_code=None, grants=1, grants_without_gbp=0)
    mine = funders.money_by_area(cells, areas, "district_code")
    theirs = spread.amount_by_area(grants, areas)
    pd.testing.assert_frame_equal(mine[theirs.columns], theirs)
    assert funders.cell_reach(cells, areas["code"], "district_code") == spread.reach(grants, areas)
    # a cell holding 3 grants counts 3 (the aggregate's cells)
    heavy = cells.assign(grants=[3, 1, 1, 1, 1, 1, 1])
    assert funders.money_by_area(heavy, areas, "district_code").set_index("code").loc["A1", "grants"] == 4


def test_ward_judgement_rule():
    cells = pd.DataFrame(
        {
            "district_code": ["D1", "D1", "D2", "D2", None],
            "ward_code": ["W1", None, "W2", None, None],
            "grants": [96, 4, 9, 1, 5],
            "amount_gbp": [1.0] * 5,
            "grants_without_gbp": [0] * 5,
        }
    )
    j = funders.ward_judgement(cells, ["D1", "D2", "D3"]).set_index("district_code")
    assert j.loc["D1", "ward_share"] == pytest.approx(0.96) and j.loc["D1", "wards_judged"]
    assert j.loc["D2", "ward_share"] == pytest.approx(0.9) and not j.loc["D2", "wards_judged"]
    assert j.loc["D3", "grants"] == 0 and j.loc["D3", "wards_judged"]  # nothing there: a real zero
    assert np.isnan(j.loc["D3", "ward_share"])


def test_default_effort_period():
    periods = ["2013-14", "2014-15", "2017-18"]
    assert funders.default_effort_period([2013, 2014, 2016], periods) == "2014-15"
    assert funders.default_effort_period([2020], periods) == "2017-18"
    assert funders.default_effort_period([2020], []) is None


# =============================================================================================
# The page on a real build
# =============================================================================================


@pytest.fixture(scope="module")
def app(real_db, built):
    _, static, _ = built
    with served_app(real_db, static) as folder:
        yield folder


def open_page(app, params: dict | None = None) -> AppTest:
    return open_app_page(app, "pages/funders_page.py", params, timeout=TIMEOUT)


def the_map(at) -> tuple[dict, list]:
    """(code → z of shaded areas, codes drawn as no data) of the page's choropleth."""
    fig = [f for f in figures(at) if f["data"] and f["data"][0]["type"] == "choroplethmap"][0]
    z, missing = {}, []
    for t in fig["data"]:
        if t.get("name", "").startswith("No data"):
            missing += t["locations"]
        else:
            z.update(zip(t["locations"], t["z"]))
    return z, missing


def metric(at, label: str) -> str:
    return [m.value for m in at.metric if m.label == label][0]


def frame_with(at, *cols) -> pd.DataFrame:
    return [d.value for d in at.dataframe if set(cols) <= set(d.value.columns)][0]


def text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def agg_by_district(db, funder, years):
    ph = ", ".join("?" for _ in years)
    return sql(
        db,
        f"""SELECT a.code, coalesce(sum(g.amount_gbp), 0) AS amount, coalesce(sum(g.grants), 0) AS grants,
                              p.value AS population, d.value AS decile
                       FROM areas a
                       LEFT JOIN grants_agg g ON g.district_code = a.code AND g.funder = ? AND g.award_year IN ({ph})
                       LEFT JOIN indicator_values p ON p.area_code = a.code AND p.indicator_id = 'population'
                                                      AND p.period = '2021'
                       LEFT JOIN indicator_values d ON d.area_code = a.code AND d.indicator_id = 'imd_decile'
                       WHERE a.level = 'district' GROUP BY a.code, p.value, d.value ORDER BY a.code""",
        [funder, *years],
    ).set_index("code")


def test_funder_and_years_match_sql(app, real_db):
    at = open_page(app, {"data": "published", "funder": "Sport England", "years": "2014,2015", "level": "district"})
    assert at.multiselect(key="fu_funder").value == ["Sport England"]
    assert at.multiselect(key="fu_years").value == ["2014", "2015"]
    assert at.query_params["funder"] == "Sport England" and at.query_params["years"] == "2014,2015"
    assert at.query_params["effort"] == "2014-15"  # grants of calendar 2014 → financial year 2014-15
    exp = agg_by_district(real_db, "Sport England", [2014, 2015])
    tot = sql(
        real_db,
        """SELECT sum(grants) AS g, sum(grants) FILTER (WHERE district_code IS NOT NULL) AS eng,
                                 sum(grants) FILTER (WHERE ward_code IS NOT NULL) AS w
                          FROM grants_agg WHERE funder = 'Sport England' AND award_year IN (2014, 2015)""",
    ).iloc[0]
    # map: every district, £ as SQL sums (0 where Sport England gave nothing: a real zero)
    z, missing = the_map(at)
    assert missing == [] and set(z) == set(exp.index)
    for code in exp.index:
        assert z[code] == pytest.approx(exp.loc[code, "amount"], abs=1e-3)
    # headline figures
    assert metric(at, "Grants") == f"{int(tot['g']):,}"
    assert metric(at, "Districts reached") == f"{int((exp['grants'] > 0).sum())}"
    assert "of 296 districts" in text(at)
    assert metric(at, "Concentration (Gini)") == f"{gini_pairs(exp['amount']):.2f}"
    assert "across 296 districts" in text(at)
    assert f"{int(tot['w']):,} of {int(tot['eng']):,} grants placed in current wards" in text(at)
    # the charts' data tables, made once opened
    n_charts = len(at.get("plotly_chart"))
    assert open_data_tables(at) == n_charts
    # Lorenz data: the least funded half's share, from the SQL values
    curve = frame_with(at, "share_of_areas", "share_of_amount")
    x = np.sort(exp["amount"].to_numpy())
    assert curve["share_of_amount"].iloc[148] == pytest.approx(x[:148].sum() / x.sum())
    # need: money share and population share of the most deprived decile
    need = frame_with(at, "decile", "share_of_amount", "share_of_population").set_index("decile")
    d1 = exp[exp["decile"] == 1]
    assert need.loc[1, "share_of_amount"] == pytest.approx(d1["amount"].sum() / exp["amount"].sum())
    assert need.loc[1, "share_of_population"] == pytest.approx(d1["population"].sum() / exp["population"].sum())
    # cold spots: most deprived 20%, £ per head at or below the lower quartile of all districts
    per_head = exp["amount"] / exp["population"]
    cold_exp = set(exp.index[(exp["decile"] <= 2) & (per_head <= per_head.quantile(0.25))])
    cold = frame_with(at, "rank", "code", "imd_decile")
    assert set(cold["code"]) == cold_exp and cold["rank"].tolist() == list(range(1, len(cold_exp) + 1))
    assert (cold["amount_per_head"].diff().dropna() >= 0).all()
    # council effort beside the money: enabler ratio of the same district in 2014-15
    table = frame_with(at, "code", "amount_gbp", "enabler_ratio", "council_index")
    ratio = sql(
        real_db,
        "SELECT area_code, value FROM indicator_values WHERE indicator_id = 'enabler_ratio' AND period = '2014-15'",
    ).set_index("area_code")["value"]
    t = table.set_index("code")
    assert t["enabler_ratio"].to_dict() == pytest.approx(ratio.reindex(t.index).to_dict(), nan_ok=True)
    # every chart has its alt text and a data table with downloads
    assert len(at.download_button) >= 2 * len(at.get("plotly_chart"))


def test_ward_level_judges_only_placeable_districts(app, real_db):
    at = open_page(app, {"data": "published", "funder": "The Big Lottery Fund", "years": "2017", "level": "ward"})
    by_d = sql(
        real_db,
        """SELECT a.code, coalesce(sum(g.grants), 0) AS n,
                                  coalesce(sum(g.grants) FILTER (WHERE g.ward_code IS NOT NULL), 0) AS w
                           FROM areas a LEFT JOIN grants_agg g ON g.district_code = a.code
                                AND g.funder = 'The Big Lottery Fund' AND g.award_year = 2017
                           WHERE a.level = 'district' GROUP BY a.code""",
    ).set_index("code")
    ok = set(by_d.index[(by_d["n"] == 0) | (by_d["w"] >= 0.95 * by_d["n"])])
    wards = sql(real_db, "SELECT code, district_code FROM areas WHERE level = 'ward'")
    judged = set(wards.loc[wards["district_code"].isin(ok), "code"])
    per_ward = sql(
        real_db,
        """SELECT ward_code, sum(amount_gbp) AS amount, sum(grants) AS n FROM grants_agg
                               WHERE funder = 'The Big Lottery Fund' AND award_year = 2017 AND ward_code IS NOT NULL
                               GROUP BY 1""",
    ).set_index("ward_code")
    z, missing = the_map(at)
    assert set(z) == judged and set(missing) == set(wards["code"]) - judged
    for code in judged:
        assert z[code] == pytest.approx(per_ward["amount"].get(code, 0.0), abs=1e-3)
    reached = len(set(per_ward.index[per_ward["n"] > 0]) & judged)
    assert metric(at, "Wards reached") == f"{reached:,}"
    assert f"of the {len(judged):,} wards that can be judged" in text(at)
    assert metric(at, "Concentration (Gini)") == f"{gini_pairs([per_ward['amount'].get(c, 0.0) for c in judged]):.2f}"
    assert f"the wards of {296 - len(ok):,} districts cannot be judged" in text(at)
    # zoom to one judged district with grants: only its wards are drawn
    target = sorted(d for d in ok if by_d.loc[d, "n"] > 0)[0]
    at.selectbox(key="fu_zoom").set_value(target).run()
    z, missing = the_map(at)
    assert set(z) | set(missing) == set(wards.loc[wards["district_code"] == target, "code"])
    assert at.query_params["zoom"] == target


def test_covid_programme_and_scope(app, real_db):
    funder, prog = "County Durham Community Foundation", "Covid19 Sustainability Fund"
    at = open_page(app, {"data": "covid", "funder": funder, "programme": prog, "scope": "reached"})
    assert at.multiselect(key="fu_programme").value == [prog]
    exp = sql(
        real_db,
        """SELECT district_code, count(*) AS n, sum(amount_gbp) AS amount FROM grants
                          WHERE funder_name = ? AND programme = ? GROUP BY 1""",
        [funder, prog],
    )
    assert metric(at, "Grants") == f"{int(exp['n'].sum()):,}"
    placed = exp.dropna(subset=["district_code"]).set_index("district_code")
    z, missing = the_map(at)  # compared across the districts these grants reach only
    assert set(z) == set(placed.index) and missing == []
    for code, row in placed.iterrows():
        assert z[code] == pytest.approx(row["amount"])
    # the programme list offers the funder's programmes, and "no programme given" where grants have none
    progs = sql(
        real_db,
        "SELECT DISTINCT coalesce(programme, '(no programme given)') AS p FROM grants WHERE funder_name = ?",
        [funder],
    )["p"]
    assert set(at.multiselect(key="fu_programme").options) == set(progs)


def test_department_for_transport_is_shown_and_flagged(app, real_db):
    at = open_page(app, {"data": "published", "funder": "Department for Transport", "years": "2016"})
    assert any("Department for Transport" in w.value and "not community funding" in w.value for w in at.warning)
    n = sql(
        real_db,
        "SELECT sum(grants) AS n FROM grants_agg WHERE funder = 'Department for Transport' AND award_year = 2016",
    )["n"].iloc[0]
    assert metric(at, "Grants") == f"{int(n):,}"
    options = at.multiselect(key="fu_funder")
    assert len(options.options) == sql(real_db, "SELECT count(DISTINCT funder) AS n FROM grants_agg")["n"].iloc[0]


def test_url_round_trip_and_dataset_switch(app):
    at = open_page(app, {"data": "published", "funder": "Sport England", "years": "2016"})
    at.radio(key="fu_level").set_value("ward").run()
    at.radio(key="fu_measure").set_value("grants").run()
    assert at.query_params["level"] == "ward" and at.query_params["measure"] == "grants"
    again = open_page(app, dict(at.query_params))
    assert the_map(again) == the_map(at)
    # another dataset: the first dataset's funder and years do not carry over
    at.radio(key="fu_data").set_value("covid").run()
    assert not at.exception
    assert at.query_params["data"] == "covid" and at.query_params["years"] == "2020"
    assert at.multiselect(key="fu_funder").value == ["Esmée Fairbairn Foundation"]


# =============================================================================================
# Upload
# =============================================================================================


def fixture_rows() -> list[dict]:
    with UPLOAD.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_upload_path(app, real_db):
    before = sha256(real_db)
    at = open_page(app, {"data": "upload"})
    assert any("Upload a file" in i.value for i in at.info) and not at.metric
    at.file_uploader(key="fu_file").upload("upload.csv", UPLOAD.read_bytes(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]

    rows = fixture_rows()
    good = [r for r in rows if float(r["Amount Awarded"]) >= 0]
    assert any(f"{len(rows)} rows read, {len(good)} grants loaded, 1 row not loaded" in s.value for s in at.success)
    # the problems, grouped by kind and column (rows located), downloadable grouped and one per line
    problems = frame_with(at, "severity", "check", "rows", "column", "count")
    bad = problems[problems["severity"] == "error"].iloc[0]
    # the invalid row is the file's last line (heading = line 1)
    assert (bad["check"], bad["rows"], bad["column"], bad["count"]) == (
        "negative_amount",
        f"{len(rows) + 1:,}",
        "Amount Awarded",
        1,
    )
    assert "360G-fixture-negative" not in bad["example"] and "negative" in bad["example"]
    assert {"fu_problems_csv", "fu_problems_xlsx", "fu_problems_all", "fu_placed_grants"} <= {
        b.key for b in at.download_button
    }

    # figures: the ETL placed the same grants in the `grants` table — compare with it
    ids = [r["Identifier"] for r in good]
    ph = ", ".join("?" for _ in ids)
    ref = sql(
        real_db,
        f"SELECT grant_id, district_code, ward_code, amount_gbp, programme FROM grants WHERE grant_id IN ({ph})",
        ids,
    )
    assert len(ref) == len(ids)
    assert metric(at, "Grants") == f"{len(ids):,}"
    by_d = ref.dropna(subset=["district_code"]).groupby("district_code")["amount_gbp"].sum()
    z, _ = the_map(at)
    assert len(z) == 296
    for code, value in z.items():
        assert value == pytest.approx(by_d.get(code, 0.0))
    assert metric(at, "Districts reached") == f"{len(by_d)}"
    assert (
        f"{ref['ward_code'].notna().sum()} of {ref['district_code'].notna().sum()} grants placed in current "
        "wards" in text(at)
    )

    # programme filter: only that programme's grants
    prog = "Community Resilience Fund"
    at.multiselect(key="fu_up_programmes").select(prog).run()
    assert metric(at, "Grants") == str(sum(r["Grant Programme:Title"] == prog for r in good))

    # nothing of the file goes into the URL; the database file is untouched
    url = "&".join(f"{k}={v}" for k, v in at.query_params.items())
    for secret in ("Virgin", "Walcot", "Resilience", "upload.csv", "Sussex"):
        assert secret not in url
    assert sha256(real_db) == before

    # a second session on the same server process sees no upload
    other = open_page(app, {"data": "upload"})
    assert "fu_upload" not in other.session_state
    assert not other.metric and any("Upload a file" in i.value for i in other.info)
    assert "Virgin" not in text(other)
    # the first session still has it
    at.run()
    assert metric(at, "Grants") == str(sum(r["Grant Programme:Title"] == prog for r in good))


def test_a_second_file_replaces_the_first(app):
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload("upload.csv", UPLOAD.read_bytes(), "text/csv").run()
    at.multiselect(key="fu_up_programmes").select("Community Resilience Fund").run()
    text_rows = UPLOAD.read_text(encoding="utf-8").splitlines()
    walcot = [text_rows[0]] + [r for r in text_rows[1:] if r.startswith("360G-Walcot-")]
    at.file_uploader(key="fu_file").set_value(("walcot.csv", "\n".join(walcot).encode(), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="fu_up_funders").value == ["Walcot Foundation"]
    assert at.multiselect(key="fu_up_programmes").value == []
    assert metric(at, "Grants") == str(len(walcot) - 1)


def by_sidebar(at, page: str) -> None:
    """Open ``page`` in the same session as the sidebar does: the query string dropped."""
    at.switch_page(page)
    at.query_params.clear()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_an_upload_and_its_choices_stay_for_the_browser_session(app):
    """Issue: the upload was thrown away when the page was left (sidebar) or another data source
    shown, since Streamlit empties a file box that a run does not draw. It is held for the session:
    back on the page (empty query string) the same file, funders, years and level are shown."""
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload("upload.csv", UPLOAD.read_bytes(), "text/csv").run()
    one = "Walcot Foundation"
    at.multiselect(key="fu_up_funders").set_value([one]).run()
    at.radio(key="fu_level").set_value("ward").run()
    assert not at.exception, [e.value for e in at.exception]
    walcot = sum(r["Funding Org:Name"] == one and float(r["Amount Awarded"]) >= 0 for r in fixture_rows())
    assert metric(at, "Grants") == str(walcot)

    def same_view():
        assert not any("Upload a file" in i.value for i in at.info)
        assert at.query_params["data"] == "upload" and at.query_params["level"] == "ward"
        assert at.multiselect(key="fu_up_funders").value == [one]
        assert metric(at, "Grants") == str(walcot)
        assert any("uploaded earlier in this browser session" in c.value for c in at.caption)

    by_sidebar(at, "pages/my_area_page.py")
    by_sidebar(at, "pages/funders_page.py")
    same_view()
    at.radio(key="fu_data").set_value("covid").run()  # another data source, then back
    assert "Walcot" not in at.query_params.get("funder", "")
    at.radio(key="fu_data").set_value("upload").run()
    same_view()
    at.radio(key="fu_scope").set_value("reached").run()  # a rerun sends the empty file box: still held
    assert metric(at, "Grants") == str(walcot)
    # nothing of the file in the URL; removing it forgets it
    url = "&".join(f"{k}={v}" for k, v in at.query_params.items())
    assert "Walcot" not in url and "upload.csv" not in url
    at.button(key="fu_forget").click().run()
    assert "fu_upload" not in at.session_state and "fu_up_kept" not in at.session_state
    assert any("Upload a file" in i.value for i in at.info) and not at.metric


def test_problem_count_of_a_file_that_fails_counts_kinds(app):
    """Every row with the same single problem: the heading counts the problems and one kind, and
    the table has one grouped line (it said '(N, N kinds)' and listed N lines)."""
    head = GRANT_COLUMNS
    n = 28
    lines = [",".join(head)] + [
        f"360G-x-{i},t,d,GBP,ten pounds,2020-01-01,GB-CHC-1136547,R,GB-CHC-299963,F" for i in range(n)
    ]
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload("same.csv", "\n".join(lines).encode(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no grant in the file could be loaded" in e.value for e in at.error)
    labels = [e.label for e in at.expander if e.label.startswith("Problems found")]
    assert labels == [f"Problems found in the file ({n}, 1 kind)"]
    groups = frame_with(at, "severity", "check", "rows", "count")
    assert groups[["check", "column", "count"]].values.tolist() == [["amount_not_number", "Amount Awarded", n]]


def test_upload_that_is_not_360giving_is_explained(app):
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload("members.csv", b"name,email\nA,a@example.org\n", "text/csv").run()
    assert not at.exception
    assert any("not a 360Giving grants file" in e.value for e in at.error)
    problems = frame_with(at, "severity", "message", "row", "column")
    assert problems.iloc[0]["row"] == 1 and problems.iloc[0]["column"] == "Identifier"
    assert not at.metric


def test_upload_size_limit_on_the_page(app):
    old = st_config.get_option("server.maxUploadSize")
    st_config.set_option("server.maxUploadSize", 1)
    try:
        at = open_page(app, {"data": "upload"})
        data = UPLOAD.read_bytes()
        big = data + b"\n" * (1024 * 1024 + 1 - len(data))
        at.file_uploader(key="fu_file").upload("big.csv", big, "text/csv").run()
        assert not at.exception
        assert any("the limit is 1 MB" in e.value for e in at.error)
        assert not at.metric
    finally:
        st_config.set_option("server.maxUploadSize", old)


def test_upload_handler_limits_and_real_file(real_db, raw_dir):
    """The handler directly: the byte and row caps, and the whole real COVID-19 file uploaded
    gives exactly the stored dataset's figures (same reader and placer, database lookups)."""
    data = UPLOAD.read_bytes()
    assert "limit is" in funders.analyse_upload(data, "upload.csv", max_bytes=len(data) - 1).error
    capped = funders.analyse_upload(data, "upload.csv", max_bytes=10**7, max_rows=5)
    assert "more than 5 grants" in capped.error and capped.problems.iloc[0]["row"] == 7
    full = (raw_dir / "funding" / "360giving_covid19_grants_2020-05-07.json").read_bytes()
    before = sha256(real_db)
    res = funders.analyse_upload(full, "covid.json", max_bytes=20 * 1024 * 1024)
    assert res.ok and len(res.placed) == sql(real_db, "SELECT count(*) AS n FROM grants")["n"].iloc[0]
    names, years = funders.upload_choices(res.placed)
    ctx, geo = funders.area_context("district"), funders.geography()
    mine = funders.spread_from_upload(res.placed, names["funder"], years, [], "district", ctx, None, geo)
    stored = funders.spread_from_db("covid", names["funder"].tolist(), years, [], "district", None)
    assert mine.reach_district == stored.reach_district and mine.ward_coverage_text() == stored.ward_coverage_text()
    pd.testing.assert_series_equal(
        mine.by_area.set_index("code")["amount_gbp"], stored.by_area.set_index("code")["amount_gbp"], rtol=1e-9
    )
    assert sha256(real_db) == before


PAYLOADS = ["x' OR '1'='1", "'; DROP TABLE grants; --", "Sport England' --", "%", "*"]


def test_funder_and_programme_values_are_plain_parameters(real_db):
    """Names chosen in the page reach SQL only as bound list parameters: a payload matches
    nothing (like any unknown name) and changes nothing."""
    before = sha256(real_db)
    for payload in PAYLOADS:
        assert funders.published_cells([payload], [2014], real_db).empty
        assert funders.covid_cells([payload], [2020], [], real_db).empty
        assert funders.covid_cells(["Trust for London"], [2020], [payload], real_db).empty
        assert funders.programme_choices("covid", [payload], real_db).empty
    # the same calls with real names do return rows (so "empty" above means "matched nothing")
    assert len(funders.published_cells(["Sport England"], [2014], real_db))
    assert len(funders.covid_cells(["Trust for London"], [2020], ["Decent living standards"], real_db))
    assert sha256(real_db) == before


# =============================================================================================
# Funders' own files (issue 14) and the page's frictions (issue 17, item 8)
# =============================================================================================


def test_head_office_rule_on_a_hand_made_case():
    """Ten districts of 1,000 residents with £1,000 each; one with £1m by recipient address (flagged);
    one with £1m placed by beneficiary location (not flagged: the rule only reads address money)."""
    codes = [f"E0700000{i}" for i in range(10)] + ["E06000001", "E06000002"]
    cells = pd.DataFrame(
        {
            "district_code": codes,
            "ward_code": None,
            "grants": 1,
            "amount_gbp": [1000.0] * 10 + [1e6, 1e6],
            "grants_without_gbp": 0,
            "amount_by_address": [1000.0] * 10 + [1e6, 0.0],
        }
    )
    districts = pd.DataFrame({"code": codes, "name": codes, "population": 1000.0})
    flags = funders.head_office_flags(cells, districts)
    assert flags["code"].tolist() == ["E06000001"]
    # per head 1,000 / median 1 (the median over the 12 districts reached is £1 per resident)
    assert flags.loc[0, "per_head"] == 1000 and flags.loc[0, "times_median"] == 1000
    assert flags.loc[0, "share_of_money"] == pytest.approx(1e6 / (2e6 + 1e4))


def test_head_offices_flagged_and_empty_districts_say_none_recorded(app, real_db):
    at = open_page(
        app,
        {
            "data": "published",
            "funder": "The Big Lottery Fund",
            "years": "2013,2014,2015,2016,2017,2018",
            "level": "district",
        },
    )
    assert not at.exception, [e.value for e in at.exception]
    [warn] = [w.value for w in at.warning if "registered offices" in w.value]
    city = sql(
        real_db,
        "SELECT sum(amount_gbp) AS amount FROM grants_agg WHERE funder = 'The Big Lottery Fund' "
        "AND district_code = 'E09000001'",
    )["amount"].iloc[0]
    assert round(city / 1e6, 1) == 250.5 and warn.index("City of London") < warn.index("Camden")
    open_data_tables(at)
    table = frame_with(at, "code", "note", "amount_gbp").set_index("code")
    assert table.loc["E09000001", "note"].startswith("money recorded at registered offices?")
    none_there = sql(
        real_db,
        "SELECT count(*) AS n FROM grants_agg WHERE funder = 'The Big Lottery Fund' AND district_code = 'E06000002'",
    )["n"].iloc[0]
    assert none_there == 0 and table.loc["E06000002", "note"] == "none recorded in this file"
    flagged = table["note"].fillna("").str.startswith("money recorded")
    assert set(table.index[flagged]) == {"E09000001", "E09000007", "E09000019", "E06000009"}
    # on the map: the hover names the flag, and an empty district's hover says none recorded
    fig = json.dumps([f for f in figures(at) if f["data"] and f["data"][0]["type"] == "choroplethmap"][0])
    assert "City of London (money recorded at registered offices?" in fig
    assert "Middlesbrough (none recorded in this file)" in fig


def two_sheet_workbook() -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    import io

    header = [*GRANT_COLUMNS[:8], "Beneficiary Location:Geographic Code", *GRANT_COLUMNS[8:]]
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Our grants, one sheet a year"])
    for year, ids in ((2022, ["360G-w-1", "360G-w-2"]), (2023, ["360G-w-3"])):
        ws = wb.create_sheet(f"grants {year}")
        ws.append(header)
        for i in ids:
            ws.append(
                [
                    i,
                    "t",
                    "d",
                    "GBP",
                    1000,
                    f"24/07/{year}",
                    "GB-CHC-1136547",
                    "Org",
                    "E06000002",
                    "GB-CHC-299963",
                    "Walcot Foundation",
                ]
            )
        for _ in range(100 if year == 2023 else 0):
            ws.append([None] * 9 + ["GB-CHC-299963", "Walcot Foundation"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_two_sheet_workbook_with_template_rows_and_uk_dates_on_the_page(app):
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload(
        "years.xlsx", two_sheet_workbook(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("3 rows read, 3 grants loaded; 100 empty template rows counted, not read" in s.value for s in at.success)
    sheets = frame_with(at, "sheet", "rows_read", "template_rows", "grants", "skipped")
    assert sheets[["sheet", "rows_read", "template_rows", "grants"]].values.tolist() == [
        ["Notes", 0, 0, 0],
        ["grants 2022", 2, 0, 2],
        ["grants 2023", 1, 100, 1],
    ]
    groups = frame_with(at, "severity", "check", "rows", "count")
    assert sorted(zip(groups["check"], groups["sheet"], groups["count"])) == [
        ("date_format", "grants 2022", 1),
        ("date_format", "grants 2023", 1),
        ("sheet_skipped", "Notes", 1),
        ("template_rows", "grants 2023", 1),
    ]
    # district codes only: the page says the file has no ward locations, not "0 of 6,594 wards"
    assert metric(at, "Wards reached") == "no ward locations"
    assert metric(at, "Grants") == "3"


#: The Funders page's radio groups: (URL parameter, value → label shown on the button).
VIEW_BUTTONS = {
    "fu_level": ("level", funders.LEVELS),
    "fu_scope": ("scope", funders.SCOPES),
    "fu_measure": ("measure", {m: v[0] for m, v in funders.MEASURES.items()}),
}


def shown_on_mount(radio) -> str:
    """The option a browser shows for a radio group it mounts anew (the run before did not draw it):
    the value the server sends with the group, else the group's default option."""
    return radio.proto.raw_value if radio.proto.set_value else radio.options[radio.proto.default]


def replace_file_as_a_browser_does(at, name: str, data: bytes, mime: str) -> None:
    """A browser replacing the file in the box sends two runs: the box emptied (the page forgets the
    upload and stops before its buttons), then the new file — sent before the first run has finished,
    so with the values of the buttons the browser still shows. The first run's end then drops those
    buttons in the browser: the second run's buttons are mounted anew."""
    held = list(at._tree.get_widget_states().widgets)
    at.file_uploader(key="fu_file").clear().run()
    at.file_uploader(key="fu_file").upload(name, data, mime)
    states = at._tree.get_widget_states()
    sent = {w.id for w in states.widgets}
    states.widgets.extend(w for w in held if w.id not in sent)
    at._run(states)


@pytest.mark.parametrize("path", ["upload over it", "forget after leaving", "remove with x"])
def test_view_buttons_show_the_view_after_the_file_is_replaced(app, path):
    """Issue: after a file was replaced (uploaded over, forgotten after a visit to another page, or
    removed and uploaded again: runs that stop before the buttons) the Level, Compare across and Map
    shows buttons showed their first options while the page and the URL kept the wards,
    reached-districts, per-resident view."""
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload(
        "years.xlsx", two_sheet_workbook(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ).run()
    for key, value in (("fu_level", "ward"), ("fu_scope", "reached"), ("fu_measure", "per_head")):
        at.radio(key=key).set_value(value).run()
    if path == "upload over it":
        replace_file_as_a_browser_does(at, "upload.csv", UPLOAD.read_bytes(), "text/csv")
    else:
        if path == "forget after leaving":
            by_sidebar(at, "pages/overview_page.py")
            by_sidebar(at, "pages/funders_page.py")
            at.button(key="fu_forget").click().run()
        else:
            at.file_uploader(key="fu_file").clear().run()
        assert not [r for r in at.radio if r.key in VIEW_BUTTONS]  # a run without the buttons
        assert any("Upload a file" in i.value for i in at.info)
        at.file_uploader(key="fu_file").upload("upload.csv", UPLOAD.read_bytes(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    new_file = rf"upload\.csv: {len(fixture_rows())} rows read"
    assert any(s.value.startswith(new_file) for s in at.success)  # the new file is shown
    wanted = {"level": "ward", "scope": "reached", "measure": "per_head"}  # view settings outlive a file
    assert {p: at.query_params[p] for p in wanted} == wanted
    assert "Where the money lands: amount per resident by ward" in [s.value for s in at.header]
    for key, (param, labels) in VIEW_BUTTONS.items():
        radio = at.radio(key=key)
        assert shown_on_mount(radio) == labels[at.query_params[param]] == labels[radio.value], key


def test_effort_scatter_counts_the_districts_it_leaves_out_in_words(real_db):
    """'1 district lacks …', never '1 districts lack …' (seen for every funder, 2017-18)."""
    import duckdb

    with duckdb.connect(str(real_db), read_only=True) as con:
        chosen = [r[0] for r in con.execute("SELECT DISTINCT funder FROM grants_agg").fetchall()]
        years = [r[0] for r in con.execute("SELECT DISTINCT award_year FROM grants_agg ORDER BY 1").fetchall()]
    seen = set()
    for period in ("2013-14", "2017-18"):
        report = funders.spread_from_db("published", chosen, years, [], "district", period, db=real_db)
        left_out = len(report.by_area) - len(report.by_area.dropna(subset=["enabler_ratio", "amount_per_head"]))
        _, alt = funders.effort_scatter(report)
        if left_out == 1:
            assert alt.endswith("1 district lacks one of the two values and is not drawn."), alt
        elif left_out > 1:
            assert alt.endswith(f"{left_out:,} districts lack one of the two values and are not drawn."), alt
        seen.add(left_out == 1)
    assert True in seen  # the real data has a year with exactly one district left out


# =============================================================================================
# Review findings: grants not in pounds (I), periods in the downloaded tables (H), small sums (M)
# =============================================================================================

HARTLEPOOL = "E06000001"  # decile 1; the fixture has no grant there


def upload_with_one_euro_grant() -> bytes:
    """The upload fixture plus one grant in euros, placed by its beneficiary code in Hartlepool."""
    rows = fixture_rows()
    extra = dict(rows[0])
    extra.update(
        {
            "Identifier": "360G-fixture-euro",
            "Currency": "EUR",
            "Amount Awarded": "5000",
            "Recipient Org:Postal Code": "",
            "Beneficiary Location:Geographic Code": HARTLEPOOL,
            "Beneficiary Location:Geographic Code Type": "UA",
        }
    )
    lines = [",".join(rows[0].keys())] + [
        ",".join(f'"{v}"' if "," in v else v for v in r.values()) for r in [*rows, extra]
    ]
    return "\n".join(lines).encode()


def test_a_district_whose_grants_are_all_not_in_pounds_is_unknown_never_a_cold_spot(app, real_db):
    """Review I: Hartlepool's only grant is in euros. Its £ is unknown — blank, left out of the Gini, the
    Lorenz curve, need alignment and cold spots, counted as not judged — never £0 and 'unfunded'."""
    at = open_page(app, {"data": "upload", "level": "district"})
    at.file_uploader(key="fu_file").upload("euro.csv", upload_with_one_euro_grant(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    open_data_tables(at)
    table = frame_with(at, "code", "note", "amount_gbp", "grants").set_index("code")
    assert table.loc[HARTLEPOOL, "grants"] == 1
    assert np.isnan(table.loc[HARTLEPOOL, "amount_gbp"]) and np.isnan(table.loc[HARTLEPOOL, "amount_per_head"])
    assert "not in pounds" in table.loc[HARTLEPOOL, "note"]
    z, missing = the_map(at)
    assert HARTLEPOOL in missing and HARTLEPOOL not in z  # drawn as no data
    cold = frame_with(at, "rank", "code", "imd_decile")
    assert HARTLEPOOL not in set(cold["code"])
    # the measures run over the districts with a known £ amount only (the fixture's grants: all in £)
    known = table[table.index != HARTLEPOOL]["amount_gbp"]
    assert metric(at, "Concentration (Gini)") == f"{gini_pairs(known):.2f}"
    assert "across 295 districts" in text(at) and "Based on 295 of 296 districts" in text(at)
    curve = frame_with(at, "share_of_areas", "share_of_amount")
    assert len(curve) == 295 + 1
    need = frame_with(at, "decile", "share_of_amount", "share_of_population")
    with_decile = table[table.index != HARTLEPOOL]["imd_decile"].notna().sum()
    assert need["areas"].sum() == with_decile
    # said on the page, in the notes and beside the cold spots
    assert "1 grant is not in pounds: counted, but not in £ figures" in text(at)
    said = "1 district whose grants are all not in pounds has no £ figure"
    assert text(at).count(said) == 2


def test_an_area_with_some_grants_not_in_pounds_keeps_its_pounds_and_says_so():
    """Review I, mixed: a district's £ counts its grants in pounds and its note says how many are not;
    a district with only grants not in pounds has no £ (an upload's cells and the COVID-19 table's alike)."""
    cells = pd.DataFrame(
        {
            "district_code": ["D1", "D1", "D2", "D3"],
            "ward_code": None,
            "grants": [2, 1, 3, 1],
            "amount_gbp": [500.0, np.nan, np.nan, 20.0],
            "grants_without_gbp": [0, 1, 3, 0],
        }
    )
    areas = pd.DataFrame({"code": ["D1", "D2", "D3", "D4"]})
    money = funders.money_by_area(cells, areas, "district_code").set_index("code")
    assert money.loc["D1", "amount_gbp"] == 500 and money.loc["D1", "grants"] == 3
    assert np.isnan(money.loc["D2", "amount_gbp"]) and money.loc["D2", "grants"] == 3
    assert money.loc["D4", "amount_gbp"] == 0 and money.loc["D4", "grants"] == 0  # nothing there: a real zero
    notes = funders.area_notes(money.reset_index(), pd.DataFrame(columns=["code"]), "district")
    assert notes.tolist() == [
        "1 grant not in pounds: £ figures count only the other 2 grants",
        "all 3 grants are not in pounds: £ amount unknown, not judged",
        None,
        funders.NONE_RECORDED,
    ]


def test_every_downloaded_table_names_the_period_of_its_figures(app, real_db):
    """Review H: the area and cold-spot tables (shown = downloaded) carried the council's 2017-18 figures
    with no year in a file named for the award years. Each figure with a period has it in a column: award
    years, population year, IoD edition, council effort year — the values the database holds."""
    at = open_page(app, {"data": "published", "funder": "Sport England", "years": "2014,2015", "effort": "2013-14"})
    open_data_tables(at)
    periods = sql(
        real_db,
        """SELECT indicator_id, min(period) AS p FROM indicator_values v JOIN areas a ON a.code = v.area_code
           WHERE a.level = 'district' AND indicator_id IN ('population', 'imd_decile') GROUP BY 1""",
    ).set_index("indicator_id")["p"]
    needs = {
        "grants": "award_years",
        "amount_gbp": "award_years",
        "amount_per_head": "award_years",
        "population": "population_year",
        "imd_decile": "imd_edition",
        "enabler_ratio": "effort_period",
        "council_index": "effort_period",
        "council_rank": "effort_period",
        "share_of_amount": "award_years",
        "share_of_population": "population_year",
    }
    expected = {
        "award_years": "2014, 2015",
        "population_year": periods["population"],
        "imd_edition": f"IoD {periods['imd_decile']}",
        "effort_period": "2013-14",
    }
    tables = [d.value for d in at.dataframe if {"code"} <= set(d.value.columns) or "decile" in d.value.columns]
    assert len(tables) >= 4  # the area table, the cold spots, the scatter's data, need alignment
    for df in tables:
        for col, period in needs.items():
            if col in df.columns:
                assert period in df.columns, (col, list(df.columns))
                assert set(df[period].dropna()) == {expected[period]}, (period, set(df[period]))
    lorenz = frame_with(at, "share_of_areas", "share_of_amount")
    assert set(lorenz["award_years"]) == {"2014, 2015"}


def test_effort_scatter_writes_small_sums_per_resident_in_pence(real_db):
    """Review M: districts off the top of the y axis were named '£0' (whole pounds) though they got money
    and the axis ran to £0.17: they read to the penny, as the hover does (Walcot Foundation, 2017)."""
    report = funders.spread_from_db("published", ["Walcot Foundation"], [2017], [], "district", "2017-18", db=real_db)
    fig, alt = funders.effort_scatter(report)
    top = fig.layout.yaxis.range[1]
    drawn = report.by_area.dropna(subset=["enabler_ratio", "amount_per_head"])
    off = drawn[drawn["amount_per_head"] > top].sort_values("amount_per_head", ascending=False)
    assert len(off) > 4 and (off["amount_per_head"] < 0.5).any()  # the case seen: money under 50p per resident
    note = fig.layout.annotations[0].text
    for name, value in zip(off["name"], off["amount_per_head"]):
        assert f"{name} (£{value:,.2f} per resident)" in alt
    for name, value in zip(off["name"].head(4), off["amount_per_head"].head(4)):
        assert f"{name} £{value:,.2f}" in note
    assert note.endswith("…")


def test_a_grantnav_file_with_recipient_ward_codes_and_no_postcodes_is_placed(app, real_db):
    """A GrantNav export gives the recipient's ward (Recipient Org:Location:0:Geographic Code) and
    often no postcode. Its grants are placed by that code — the placement table says so — and the
    page never says the file has no ward codes; GrantNav's own extra location column is named once
    as not read."""
    wards = sql(
        real_db,
        "SELECT code, district_code FROM areas WHERE level = 'ward' AND code LIKE 'E05%' ORDER BY code LIMIT 6",
    )
    header = [c for c in GRANTNAV_HEADER if not c.startswith("Beneficiary")]  # recipient codes only
    lines = [",".join(header)] + [
        f"360G-gn-{n},t,d,GBP,{1000 * n},2023-01-01,GB-CHC-11{n:05d},R,,WD,{code},GB-CHC-299963,F,{code}"
        for n, code in enumerate(wards["code"], start=1)
    ]
    at = open_page(app, {"data": "upload"})
    at.file_uploader(key="fu_file").upload("grantnav.csv", "\n".join(lines).encode(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("6 rows read, 6 grants loaded." in s.value for s in at.success)
    placement = frame_with(at, "rule", "grants", "share_of_grants")
    assert placement[["rule", "grants"]].values.tolist() == [["recipient_location", 6]]
    assert metric(at, "Wards reached") != "no ward locations"
    assert "6 of 6 grants placed in current wards" in text(at)
    assert metric(at, "Districts reached") == str(wards["district_code"].nunique())
    groups = frame_with(at, "severity", "check", "rows", "count")
    unused = groups[groups["check"] == "column_not_used"]
    assert unused[["column", "count"]].values.tolist() == [
        ["Best Available Recipient Ward Geographic Code (additional data)", 1]
    ]


def test_an_upload_over_the_row_limit_is_told_what_works_on_this_page():
    """The page holds one file at a time and the limit is a server setting: the advice is the
    one a funder can follow here (several sheets of one workbook; the limit is per sheet)."""
    rows = [
        [f"360G-r-{n}", "t", "d", "GBP", "100", "2023-04-01", "GB-CHC-1136547", "O", "GB-CHC-299963", "F"]
        for n in range(7)
    ]
    data = "\n".join(",".join(r) for r in [GRANT_COLUMNS, *rows]).encode()
    res = funders.analyse_upload(data, "big.csv", max_bytes=10**7, max_rows=5)
    assert "more than 5 grants" in res.error and res.problems.iloc[0]["row"] == 7
    assert "raise the limit" not in res.error and "split the file" not in res.error
    assert "sheets of one workbook" in res.error and "one file at a time" in res.error


def test_a_shown_upload_says_another_file_replaces_it(app):
    """Streamlit draws a '+' beside an uploaded file, which reads as 'add a file'; the box holds
    one file, so whenever a file is shown the page says another replaces it."""
    at = open_page(app, {"data": "upload"})
    assert not any("replaces this one" in c.value for c in at.caption)  # nothing to replace yet
    at.file_uploader(key="fu_file").upload("upload.csv", UPLOAD.read_bytes(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("One file at a time" in c.value and "replaces this one" in c.value for c in at.caption)
