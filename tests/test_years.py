"""Which years a figure opens on: a partial ("thin") grants year is read from the data, shown, never chosen."""

from powerbalance import years
from powerbalance.codes import fy_of_year


def test_the_thin_grants_year_is_read_from_the_award_years(real_db):
    """2018 holds 5,902 grants against 12,864–20,119 in each of 2013–2017 (grants_agg of the real build)."""
    from powerbalance import db as _db

    counts = _db.query("SELECT award_year, sum(grants) AS n FROM grants_agg GROUP BY 1", db=real_db)
    per_year = dict(zip(counts["award_year"], counts["n"]))
    thin = years.thin_grant_years(real_db).value
    median = sorted(per_year.values())[len(per_year) // 2] if len(per_year) % 2 else None
    median = median or sum(sorted(per_year.values())[len(per_year) // 2 - 1 : len(per_year) // 2 + 1]) / 2
    assert set(thin) == {fy_of_year(y) for y, n in per_year.items() if n < median / 2}
    assert thin == {"2018-19": "partial year: 5,902 grants, against 12,864–20,119 in each other year"}
    assert years.thin_periods("grants_amount_per_head", real_db) == thin
    assert years.thin_periods("place_spend_per_head", real_db) == {}  # not made from grants


def test_thin_years_rule_and_latest_full():
    assert years.thin_years({2013: 100, 2014: 120, 2015: 40}) == {
        "2015-16": "partial year: 40 grants, against 100–120 in each other year"
    }
    assert years.thin_years({2013: 100, 2014: 60}) == {}  # within half the median
    assert years.thin_years({2013: 100}) == {}
    assert years.latest_full(["2017-18", "2018-19", "2013-14"], {"2018-19": "x"}) == "2017-18"
    assert years.latest_full(["2018-19"], {"2018-19": "x"}) == "2018-19"  # only a thin year: shown, flagged
    assert years.latest_full([], {}) is None


def test_relationship_figures_never_take_the_partial_year_as_latest(real_db):
    """Review: Relationship → "What the figures show" (Adur) gave 2018-19 grants (0.73, −1.58 since
    2013-14) as the latest; Adur's 2017-18 value is 18.05. The partial year is named as left out."""
    from powerbalance import queries
    from powerbalance import relationship as rel

    thin = years.thin_grant_years(real_db).value
    trend = queries.indicator_trend(["E07000223"], "grants_amount_per_head", db=real_db).dropna(subset=["value"])
    full = trend[~trend["period"].isin(list(thin))].sort_values("period")
    assert trend["period"].max() in thin  # Adur has a value in the partial year
    row = rel.area_figures("E07000223", db=real_db).set_index("figure").loc["Community grant funding per head"]
    assert row["latest_year"] == full["period"].iloc[-1] and row["earliest_year"] == full["period"].iloc[0]
    assert row["latest"] == f"{full['value'].iloc[-1]:.2f}"
    assert row["shift"] == f"{full['value'].iloc[-1] - full['value'].iloc[0]:+.2f}"
    assert trend["period"].max() in row["left_out"] and thin[trend["period"].max()] in row["left_out"]


def test_coverage_table_marks_the_partial_year(real_db):
    """Review: the Data coverage CSV listed 2018-19 grants as 296 of 296, hiding how thin the year is."""
    from powerbalance import queries

    thin = years.thin_grant_years(real_db).value
    cov = queries.indicator_coverage(real_db)
    marked = cov[cov["note"].str.contains("partial year", regex=False)]
    assert set(marked["period"]) == set(thin)
    grants = cov[(cov["indicator_id"] == "grants_amount_per_head") & (cov["level"] == "district")].set_index("period")
    for p in thin:
        assert grants.loc[p, "note"] == thin[p]
    assert not cov.loc[cov["indicator_id"] == "place_spend_per_head", "note"].str.contains("partial year").any()


def test_an_areas_indicator_table_falls_back_past_the_partial_year(real_db):
    """A ward with grants in the partial year but none in the last full year shows its latest full year."""
    from powerbalance import db as _db
    from powerbalance import queries

    thin = years.thin_grant_years(real_db).value
    ward = _db.query(
        """SELECT v.area_code, max(v.period) FILTER (WHERE NOT list_contains(?::VARCHAR[], v.period)) AS last_full
           FROM indicator_values v JOIN areas a ON a.code = v.area_code AND a.level = 'ward'
           WHERE v.indicator_id = 'grants_amount_per_head' AND v.value IS NOT NULL
           GROUP BY 1 HAVING max(v.period) = ? AND last_full IS NOT NULL ORDER BY 1 LIMIT 1""",
        [list(thin), max(thin)],
        db=real_db,
    ).iloc[0]
    table = queries.latest_indicators(ward["area_code"], None, db=real_db).set_index("indicator_id")
    assert table.loc["grants_amount_per_head", "period"] == ward["last_full"]
    district = _db.query("SELECT district_code FROM areas WHERE code = ?", [ward["area_code"]], db=real_db)
    heads = queries.ward_table(district["district_code"].iloc[0], None, db=real_db).columns
    grants = [h for h in heads if h.startswith("Community grant funding per head")]
    assert grants and not any(p in h for h in grants for p in thin)
