"""Issue 17, items 1-3: the view follows the user. Sidebar navigation (a page switch with the query
string dropped, as Streamlit's sidebar does), in-app links and a ward carried to council-only pages,
through Streamlit's AppTest on the real build; the browser journeys are in test_browser_visit.py."""

from __future__ import annotations

from urllib.parse import parse_qs

from powerbalance import index, queries, ui, urlstate
from tests.helpers import figures, open_data_tables
from tests.helpers import open_app_page as open_page

CUSTOM = "funding:0.3,projects:0.7,participation:0"
W = urlstate.weights_from_param(CUSTOM)


def sidebar_to(at, page: str):
    """What the sidebar does: open another page of the same session with an empty query string."""
    at.switch_page(page)
    at.query_params.clear()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_weights_group_year_and_lens_follow_sidebar_navigation(app, real_db):
    periods = queries.index_periods(real_db)
    at = open_page(app, "pages/method_page.py", {"weights": CUSTOM, "year": periods[0], "lens": "council"})
    assert "Custom weights" in markdown(at)
    sidebar_to(at, "pages/compare_page.py")
    assert at.query_params["weights"] == CUSTOM and at.query_params["year"] == periods[0]
    assert at.query_params["lens"] == "council"
    assert "Custom weights" in markdown(at) and "funding 30 / projects 70" in markdown(at)
    base = "E07000224"  # Arun, chosen here: remembered for My area
    at.selectbox(key="cmp_area").set_value(base).run()
    at.radio(key="cmp_group").set_value("county").run()
    table = [d.value for d in at.dataframe if "area_code" in d.value.columns and "rank" in d.value.columns][0]
    expected = index.compute_index("district", periods[0], W, lens="council", db=real_db).set_index("area_code")
    row = table.set_index("area_code").loc[base]
    assert row["rank"] == expected.loc[base, "rank"]
    sidebar_to(at, "pages/my_area_page.py")
    assert at.query_params["weights"] == CUSTOM and at.query_params["area"] == base
    sidebar_to(at, "pages/compare_page.py")
    assert at.query_params["group"] == "county" and at.radio(key="cmp_group").value == "county"


def test_reset_returns_to_the_default_weights_everywhere(app):
    at = open_page(app, "pages/compare_page.py", {"weights": CUSTOM, "area": "E07000223"})
    at.button(key="pb_reset_weights").click().run()
    assert "weights" not in at.query_params and "Custom weights" not in markdown(at)
    sidebar_to(at, "pages/my_area_page.py")
    assert "weights" not in at.query_params and at.query_params["area"] == "E07000223"


def test_compare_with_neighbours_link_carries_the_whole_view(app, real_db, period):
    at = open_page(
        app, "pages/my_area_page.py", {"area": "E07000223", "weights": CUSTOM, "lens": "council", "year": period}
    )
    (link,) = [p for p in at.get("page_link") if p.proto.label == "Compare with these neighbours"]
    params = {k: v[0] for k, v in parse_qs(link.proto.query_string).items()}
    assert params == {"area": "E07000223", "weights": CUSTOM, "lens": "council", "year": period, "group": "neighbours"}


def test_a_ward_is_compared_through_its_council_and_stays_remembered(app, real_db):
    ward = "E05007562"  # Buckingham, a ward of Adur
    at = open_page(app, "pages/my_area_page.py", {"area": ward})
    sidebar_to(at, "pages/compare_page.py")
    assert at.selectbox(key="cmp_area").value == "E07000223"
    sidebar_to(at, "pages/my_area_page.py")
    assert at.query_params["area"] == ward and at.header[0].value == "Buckingham"


def test_my_area_prompts_before_any_search(app):
    at = open_page(app, "pages/my_area_page.py", {})
    assert any("Search above" in i.value for i in at.info)
    assert not at.metric and "area" not in at.query_params
    at.text_input(key="ma_search").set_value("zzzz no such place").run()
    assert not at.metric and any("Nothing in England is called" in w.value for w in at.warning)


def test_method_page_finds_the_users_council_and_says_how_it_moved(app, real_db, period):
    at = open_page(app, "pages/my_area_page.py", {"area": "E05007562"})  # a ward of Adur
    at.switch_page("pages/method_page.py")
    at.query_params.clear()
    at.query_params.update({"weights": CUSTOM})
    at.run()
    assert not at.exception
    sens = queries.weight_sensitivity("district", period, W, index.DEFAULT_LENS, db=real_db).set_index("area_code")
    a, b = int(sens.loc["E07000223", "rank_default"]), int(sens.loc["E07000223", "rank"])
    assert f"Adur: rank {a} → {b}" in markdown(at)
    open_data_tables(at)
    table = [d.value for d in at.dataframe if "rank_move" in d.value.columns][0]
    assert table.iloc[0]["area_code"] == "E07000223" and table.iloc[0]["name"] == "Adur (your council)"
    assert "shire_district" not in set(table["group"]) and "shire districts" in set(table["group"])
    scatter = [f for f in figures(at) if any(t.get("name", "").startswith("Selected: Adur") for t in f["data"])]
    assert scatter


def test_a_page_that_lacks_the_carried_year_does_not_lose_it(app, real_db):
    first = queries.index_periods(real_db)[0]
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "year": first})
    at.switch_page("pages/map_page.py")
    at.query_params.clear()
    at.query_params.update({"level": "district", "indicator": "imd_score"})  # deprivation: 2025 only
    at.run()
    assert not at.exception and at.query_params["year"] != first
    sidebar_to(at, "pages/compare_page.py")
    assert at.query_params["year"] == first and at.selectbox(key="cmp_year").value == first


def test_councils_picked_by_hand_follow_sidebar_navigation(app):
    at = open_page(app, "pages/compare_page.py", {"area": "E07000223", "group": "pick"})
    picked = ["E07000229", "E07000224"]  # Worthing and Arun
    at.multiselect(key="cmp_areas").set_value(picked).run()
    assert at.query_params["areas"] == ",".join(picked)
    sidebar_to(at, "pages/my_area_page.py")
    assert at.query_params["areas"] == ",".join(picked)
    sidebar_to(at, "pages/compare_page.py")
    assert at.query_params["group"] == "pick" and at.query_params["areas"] == ",".join(picked)
    assert at.multiselect(key="cmp_areas").value == picked
    table = [d.value for d in at.dataframe if "area_code" in d.value.columns and "rank" in d.value.columns][0]
    assert sorted(table["area_code"]) == sorted(["E07000223", *picked])
    at.multiselect(key="cmp_areas").set_value([]).run()  # emptied: nothing comes back
    sidebar_to(at, "pages/my_area_page.py")
    sidebar_to(at, "pages/compare_page.py")
    assert "areas" not in at.query_params and at.multiselect(key="cmp_areas").value == []


def test_a_former_council_code_opens_its_successor_and_says_so(app):
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000004"})  # Aylesbury Vale, abolished
    assert at.query_params["area"] == "E06000060" and at.header[0].value == "Buckinghamshire"
    notices = [i.value for i in at.info]
    assert "Aylesbury Vale (E07000004) is now part of Buckinghamshire (E06000060), which is shown instead." in notices
    sidebar_to(at, "pages/compare_page.py")  # the successor is what is carried on
    assert at.query_params["area"] == "E06000060" and at.selectbox(key="cmp_area").value == "E06000060"


def test_an_unknown_area_code_is_said_to_be_unknown_not_shown_as_adur(app):
    at = open_page(app, "pages/my_area_page.py", {"area": "XYZ123"})
    assert ui.UNKNOWN_AREA in [i.value for i in at.info]
    assert "area" not in at.query_params and not at.metric  # no profile: the search prompt
    assert any("Search above" in i.value for i in at.info)
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000224"})  # Arun seen, then a bad link
    at.query_params["area"] = "XYZ123"
    at.run()
    assert ui.UNKNOWN_AREA in [i.value for i in at.info]
    assert at.query_params["area"] == "E07000224" and at.header[0].value == "Arun"


ADUR = "E07000223"


def _default_rank(real_db, period) -> str:
    row = index.compute_index("district", period, lens=index.DEFAULT_LENS, db=real_db).set_index("area_code").loc[ADUR]
    return f"{int(row['rank'])} of {int(row['n_in_group'])}"


def test_a_link_whose_weights_cannot_be_used_says_so_and_which_are_shown(app, real_db, period):
    """Review: an all-zero weights link was silently replaced by the default weights (no notice, the
    parameter dropped), where an unknown area code is said to be unknown. It is said, with the weights
    shown instead; so is weights text that cannot be read."""
    for text, why in (("funding:0,projects:0,participation:0", "every weight in it is 0"), ("funding:abc", "read")):
        at = open_page(app, "pages/my_area_page.py", {"area": ADUR, "year": period, "weights": text})
        (notice,) = [i.value for i in at.info if "weights in this address" in i.value]
        assert why in notice and "the default weights (funding 50 / projects 50 / participation 0)" in notice
        assert at.metric[1].value == _default_rank(real_db, period) and "Custom weights" not in markdown(at)
        assert "weights" not in at.query_params  # the address reproduces what is shown
    at = open_page(app, "pages/method_page.py", {"weights": "funding:0,projects:0,participation:0"})
    assert any("every weight in it is 0" in i.value for i in at.info)
    assert at.slider(key="weights_funding").value == 50 and at.slider(key="weights_projects").value == 50


def test_weights_only_on_a_domain_nobody_measures_fall_back_to_the_defaults_and_say_so(app, real_db, period):
    """Review: with funding and projects at 0 and participation (no area has a figure) above 0, the
    notice said "the participation weight is not used" while every index beside it was empty. There is
    nothing to weigh: the default weights are used, and the notice says so."""
    only = urlstate.weights_from_param("funding:0,projects:0,participation:1")
    assert index.nothing_measured(only, db=real_db) and not index.nothing_measured(W, db=real_db)
    at = open_page(
        app, "pages/my_area_page.py", {"area": ADUR, "year": period, "weights": urlstate.weights_to_param(only)}
    )
    notes = [i.value for i in at.info]
    assert any("nothing to weigh" in n and "the default weights" in n for n in notes), notes
    assert not any("participation weight is not used" in n for n in notes)
    assert at.metric[1].value == _default_rank(real_db, period)  # an index, the default one: not "no data"
    at = open_page(app, "pages/method_page.py", {"year": period})
    for d, v in (("funding", 0), ("projects", 0), ("participation", 40)):
        at.slider(key=f"weights_{d}").set_value(v).run()
    warned = [w.value for w in at.warning if "nothing to weigh" in w.value]
    assert warned and not any("participation weight is not used" in i.value for i in at.info)
    assert "weights" not in at.query_params and "Custom weights" not in markdown(at)


def test_a_region_on_compare_says_why_it_opens_on_a_council(app):
    region = "E12000008"  # South East: no council stands in for a region
    at = open_page(app, "pages/my_area_page.py", {"area": region})
    sidebar_to(at, "pages/compare_page.py")
    first = queries.councils()["code"].iloc[0]
    assert at.selectbox(key="cmp_area").value == first
    (notice,) = [i.value for i in at.info if "not a council" in i.value]
    assert notice.startswith("South East (Region) is not a council") and queries.area(first)["name"] in notice
    sidebar_to(at, "pages/my_area_page.py")  # the region stays the user's place
    assert at.query_params["area"] == region and at.header[0].value == "South East"


def test_a_ward_on_compare_says_its_council_stands_in(app):
    at = open_page(app, "pages/compare_page.py", {"area": "E05007562"})  # Buckingham, a ward of Adur
    assert at.selectbox(key="cmp_area").value == "E07000223"
    assert any(c.value.startswith("Buckingham (Ward, Adur) is compared through its council") for c in at.caption)


def test_a_pages_own_choices_survive_sidebar_navigation(app, real_db):
    """Review: Counties chosen on Overview, Map or Method (or an issue kind on Data) was gone after
    leaving the page by the sidebar and coming back (level=district, issues=unmatched). A page's own
    choices are kept for the session (ui.restore_page_view); a link naming one still wins."""
    at = open_page(app, "pages/overview_page.py")
    at.radio(key="ov_level").set_value("county").run()
    at = sidebar_to(at, "pages/map_page.py")
    assert at.query_params["level"] == "district"  # Map's own level, not Overview's
    at.radio(key="map_level").set_value("county").run()
    at = sidebar_to(at, "pages/method_page.py")
    at.radio(key="me_level").set_value("county").run()
    at = sidebar_to(at, "pages/data_page.py")
    kinds = sorted(set(queries.load_issues(db=real_db)["kind"]))
    other = [k for k in kinds if k != at.radio(key="da_kind").value][0]
    at.radio(key="da_kind").set_value(other).run()
    for page, key in (
        ("pages/overview_page.py", "ov_level"),
        ("pages/map_page.py", "map_level"),
        ("pages/method_page.py", "me_level"),
    ):
        at = sidebar_to(at, page)
        assert at.query_params["level"] == "county" and at.radio(key=key).value == "county", page
    at = sidebar_to(at, "pages/data_page.py")
    assert at.query_params["issues"] == other and at.radio(key="da_kind").value == other
    at.switch_page("pages/overview_page.py")  # a link that names the level opens on it
    at.query_params.clear()
    at.query_params["level"] = "region"
    at.run()
    assert at.radio(key="ov_level").value == "region"
