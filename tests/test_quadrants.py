"""Enabling or retreating (issue 18): the two movements on the real data and by hand."""

import math

import pandas as pd
import pytest

from powerbalance import quadrants as q
from tests.helpers import sql

SPAN = ("2013-14", "2017-18")


@pytest.fixture(scope="module")
def placed_1318(real_db):
    return q.place_areas("district", spend_span=SPAN, community_span=SPAN, db=real_db)


def test_the_issue_counts_come_out_of_the_default_build(placed_1318):
    """2013-14 → 2017-18, districts and unitaries, nominal £ per resident: council spending on the
    place vs parish precepts + community grants (issue 18's table)."""
    n = q.counts(placed_1318)
    assert (n["enabling shift"], n["retreat"], n["co-investment"], n["provider growth"]) == (102, 92, 50, 51)
    assert sum(n[x] for x in q.QUADRANTS.values()) == 295
    # the 296th is Cumberland: Copeland published no 2017-18 total, so neither measure exists
    assert n[q.NOT_ENOUGH] == 1
    assert placed_1318.loc[placed_1318["quadrant"] == q.NOT_ENOUGH, "area_code"].tolist() == ["E06000063"]


def test_each_quadrant_name_matches_its_signs(placed_1318):
    sign = {"enabling shift": (-1, 1), "retreat": (-1, -1), "co-investment": (1, 1), "provider growth": (1, -1)}
    for name, (sx, sy) in sign.items():
        rows = placed_1318[placed_1318["quadrant"] == name]
        assert len(rows) > 0
        assert ((rows["d_spend"] * sx) > 0).all() and ((rows["d_community"] * sy) > 0).all(), name
    assert q.quadrant_of(-3.0, 0.5) == "enabling shift"
    assert q.quadrant_of(-3.0, -0.5) == "retreat"
    assert q.quadrant_of(2.0, 0.5) == "co-investment"
    assert q.quadrant_of(2.0, -0.5) == "provider growth"


def test_a_missing_year_is_not_enough_data_never_a_quadrant():
    assert q.quadrant_of(float("nan"), 1.0) == q.NOT_ENOUGH
    assert q.quadrant_of(-1.0, float("nan")) == q.NOT_ENOUGH
    assert q.quadrant_of(0.0, 1.0) == q.NO_CHANGE


def test_missing_year_on_the_real_data(placed_1318):
    cumberland = placed_1318.set_index("area_code").loc["E06000063"]
    assert math.isnan(cumberland["spend_to"]) and math.isnan(cumberland["d_spend"])
    assert cumberland["quadrant"] == q.NOT_ENOUGH
    assert q.area_quadrant(placed_1318, "E06000063").startswith(q.NOT_ENOUGH)


def test_community_money_is_precepts_plus_grants_per_head(real_db, placed_1318):
    """Hand check of one district against the indicator values it is made of."""
    from powerbalance import db as _db

    v = _db.query(
        """SELECT indicator_id, period, value FROM indicator_values WHERE area_code = 'E07000008'
                     AND indicator_id IN ('parish_precepts_per_head', 'grants_amount_per_head',
                                          'place_spend_per_head')""",
        db=real_db,
    )
    v = v.set_index(["indicator_id", "period"])["value"]
    row = placed_1318.set_index("area_code").loc["E07000008"]
    for y, col in ((SPAN[0], "community_from"), (SPAN[1], "community_to")):
        assert row[col] == pytest.approx(v[("parish_precepts_per_head", y)] + v[("grants_amount_per_head", y)])
    assert row["d_spend"] == pytest.approx(v[("place_spend_per_head", SPAN[1])] - v[("place_spend_per_head", SPAN[0])])


def test_default_span_is_the_same_for_both_movements_and_ends_with_community_money(real_db):
    """Both movements over the same years, read from the data: spending alone runs on to a later year
    (2023-24), which must not stretch its span past the last year with community money, nor drop the
    councils that have no return in that later year."""
    placed = q.place_areas("district", db=real_db)
    years = q.measure_values("district", db=real_db)
    both = years[years["spend"].notna() & years["community"].notna()]
    assert years.loc[years["spend"].notna(), "period"].max() > both["period"].max()  # spending runs on
    span = (both["period"].min(), both["period"].max())
    assert placed.attrs["spend_span"] == placed.attrs["community_span"] == span
    # the default counts are those of the issue's span: nobody lost to a spending-only year
    explicit = q.place_areas("district", spend_span=span, community_span=span, db=real_db)
    assert q.counts(placed) == q.counts(explicit)
    assert q.coverage(placed)[0] == len(placed) - 1  # all but Cumberland (Copeland's missing 2017-18)
    label = q.span_label(placed)
    assert f"both measures {span[0]} → {span[1]}" in label and "nominal pounds" in label


def test_matching_span_reads_the_data_and_leaves_out_thin_years():
    v = pd.DataFrame(
        {
            "area_code": ["a"] * 5,
            "period": ["2010-11", "2013-14", "2017-18", "2018-19", "2023-24"],
            "spend": [1.0, 2.0, 3.0, 4.0, 5.0],
            "community": [float("nan"), 1.0, 2.0, 3.0, float("nan")],
        }
    )
    assert q.matching_span(v) == ("2013-14", "2018-19")
    assert q.matching_span(v, thin={"2018-19": "partial year"}) == ("2013-14", "2017-18")
    assert q.matching_span(v, thin={"2017-18": "x", "2018-19": "y"}) is None  # one year only: no change


def test_headline_states_counts_coverage_and_span(placed_1318):
    text = q.headline(placed_1318)
    assert "102 enabling shift" in text and "92 retreat" in text and "295 of 296" in text
    assert "2013-14 → 2017-18" in text and "nominal" in text


def test_chart_draws_every_placed_area_and_names_spans(real_db):
    import plotly.graph_objects as go

    from powerbalance import charts

    placed = q.place_areas("district", db=real_db)
    fig, alt = charts.quadrant_chart(placed, highlight=["E07000223", "E06000063"], group_labels=q.GROUP_LABELS)
    go.Figure(fig.to_dict())  # a valid Plotly figure (full validation)
    groups = [t for t in fig.data if t.name != "highlighted"]
    drawn = placed[placed["quadrant"] != q.NOT_ENOUGH]
    assert sum(len(t.x) for t in groups) == len(drawn) > 250  # every placed district and unitary
    assert {t.name for t in groups} == {"Shire districts", "Single-tier councils"}
    star = [t for t in fig.data if t.name == "highlighted"][0]
    assert list(star.customdata) == ["E07000223"]  # Cumberland has not enough data: not drawn
    gone = len(placed) - len(drawn)  # a year missing at either end of a span
    assert "E06000063" not in set(drawn["area_code"]) and gone >= 1
    assert (f"{gone} area has" if gone == 1 else f"{gone} areas have") + " not enough data" in alt
    assert "nominal" in alt
    assert {a.text.split("<br>")[0] for a in fig.layout.annotations} == {f"<b>{n}</b>" for n in q.QUADRANTS.values()}


def test_chart_text_fits_a_phone(real_db):
    """On a 390 px phone the plot is about 330 px wide: every line of the axis titles stays short
    enough to be read whole (it was cut at both ends), and each corner label is two short lines, so
    the four do not print over each other. The spans and the quadrants' meaning are all still said."""
    from powerbalance import charts

    placed = q.place_areas("district", db=real_db)
    fig, _ = charts.quadrant_chart(placed)
    s0, s1 = placed.attrs["spend_span"]
    titles = [fig.layout.xaxis.title.text, fig.layout.yaxis.title.text]
    assert all(f"{s0} → {s1}" in t for t in titles)
    assert max(len(line) for t in titles for line in t.split("<br>")) <= 45
    for a in fig.layout.annotations:
        name, *meaning = a.text.split("<br>")
        assert len(meaning) == 2 and max(map(len, meaning)) <= 25
        assert (
            ", ".join(m.rstrip(",") for m in meaning)
            == q.QUADRANT_MEANING[name.removeprefix("<b>").removesuffix("</b>")]
        )


def test_brief_names_the_areas_quadrant(real_db):
    from powerbalance import brief, queries

    profile = queries.area_profile("E07000223", "2017-18", db=real_db)
    expected = q.place_areas("district", db=real_db).set_index("area_code").loc["E07000223", "quadrant"]
    assert profile.quadrant.startswith(expected)
    html = brief.render(profile)
    assert f"Enabling or retreating? <b>{expected}</b>" in html and "nominal pounds" in html


def test_chart_view_keeps_extremes_out_but_names_them(real_db):
    """The City of London's spending change is ten times anyone's: the view leaves it out and the alt text names it."""
    from powerbalance import charts

    placed = q.place_areas("district", db=real_db)
    fig, alt = charts.quadrant_chart(placed)
    lo, hi = fig.layout.xaxis.range
    city = placed.set_index("area_code").loc["E09000001"]
    assert lo < 0 < hi and not lo <= city["d_spend"] <= hi
    assert "City of London (" in alt and "outside the view" in alt
    inside = placed["d_spend"].between(lo, hi) & placed["d_community"].between(*fig.layout.yaxis.range)
    assert inside.sum() >= 0.95 * (placed["quadrant"] != q.NOT_ENOUGH).sum()


def test_each_measures_longest_span_is_stated_beside_the_default(real_db):
    """Issue 18 first asked for each measure's longest span; the default now measures both over the
    same years, and the Overview states the longest-span counts beside it, with their spans."""
    from powerbalance import years

    thin = set(years.thin_grant_years(real_db).value)
    values = q.measure_values("district", real_db)
    for measure, span in zip(("spend", "community"), q.longest_spans("district", real_db)):
        have = sorted(set(values.loc[values[measure].notna(), "period"]) - thin)
        assert span == (have[0], have[-1])
    spend, community = q.longest_spans("district", real_db)
    placed = q.place_areas("district", spend, community, db=real_db)
    note = q.longest_span_note(placed)
    n = q.counts(placed)
    assert spend != community and note  # spending runs to a later year than community money here
    assert f"council spending {spend[0]} → {spend[1]}, community money {community[0]} → {community[1]}" in note
    assert ", ".join(f"{n[x]} {x}" for x in q.QUADRANTS.values()) in note
    assert f"rises over its longer span in {int((placed['d_spend'] > 0).sum())} of them" in note
    same = q.place_areas("district", db=real_db)
    assert q.longest_span_note(same) == ""  # the default: one span, nothing to add


def test_a_shire_districts_sentence_names_its_places_spending_and_its_own(real_db, placed_1318):
    """Issue: Adur cut its own spending but was called 'co-investment — council spending +£29 a head':
    the +£29 is spending on the place, 93% of it West Sussex County Council's. The sentence names the
    place's spending and gives the district's own over the same years, read from the database."""
    own = sql(
        real_db,
        """SELECT period, value FROM indicator_values
           WHERE area_code = 'E07000223' AND indicator_id = 'council_spend_per_head'""",
    ).set_index("period")["value"]
    text = q.area_quadrant(placed_1318, "E07000223")
    assert "councils' spending on the place (the district's own + its share of the county's)" in text
    assert f"the district's own spending alone {q.money(own[SPAN[1]] - own[SPAN[0]], 0)}" in text
    assert "— council spending" not in text
    # a single-tier council's place spending is its own: no second figure
    assert "own spending alone" not in q.area_quadrant(placed_1318, "E06000001")
