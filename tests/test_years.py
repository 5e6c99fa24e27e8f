"""Which years a figure opens on: a partial ("thin") grants year is read from the data, shown, never chosen."""

from powerbalance import years


def test_the_thin_grants_year_is_read_from_the_award_years(real_db):
    """2018 holds 5,902 grants against 12,864–20,119 in each of 2013–2017 (grants_agg of the real build)."""
    from powerbalance import db as _db

    counts = _db.query("SELECT award_year, sum(grants) AS n FROM grants_agg GROUP BY 1", db=real_db)
    per_year = dict(zip(counts["award_year"], counts["n"]))
    thin = years.thin_grant_years(real_db).value
    median = sorted(per_year.values())[len(per_year) // 2] if len(per_year) % 2 else None
    median = median or sum(sorted(per_year.values())[len(per_year) // 2 - 1 : len(per_year) // 2 + 1]) / 2
    assert set(thin) == {years.financial_year(y) for y, n in per_year.items() if n < median / 2}
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
