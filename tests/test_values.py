"""powerbalance.values: every indicator value read once per build and sliced by area, and the
functions that read their rows from it instead of scanning ``indicator_values`` for each area.
Each is checked against the SQL it replaced, on the real database, for every council."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from powerbalance import benchmarks, index, queries, values


@pytest.fixture(scope="module")
def con(real_db):
    c = duckdb.connect(str(real_db), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def councils(con) -> list[str]:
    return [
        r[0]
        for r in con.execute("SELECT code FROM areas WHERE level IN ('district', 'county') ORDER BY code").fetchall()
    ]


def test_an_areas_rows_are_the_tables_rows_in_indicator_and_year_order(con, real_db):
    ward = con.execute("SELECT code FROM areas WHERE level = 'ward' ORDER BY code LIMIT 1").fetchone()[0]
    for code in ("E07000223", "E92000001", ward):
        sql = con.execute(
            "SELECT * FROM indicator_values WHERE area_code = ? ORDER BY indicator_id, period", [code]
        ).df()
        mine = values.of_areas([code], db=real_db)
        assert len(mine) > 0
        pd.testing.assert_frame_equal(mine, sql[list(values.COLUMNS)], check_dtype=False)


def test_areas_come_in_the_order_asked_once_each_and_unknown_codes_have_none(real_db):
    both = values.of_areas(["E92000001", "E07000223", "E92000001", "E99999999"], db=real_db)
    assert list(dict.fromkeys(both["area_code"])) == ["E92000001", "E07000223"]
    assert values.of_areas(["E99999999"], db=real_db).empty
    assert list(values.of_areas([], db=real_db).columns) == list(values.COLUMNS)
    assert values.level_of("E07000223", db=real_db) == "district" and values.level_of("nope", db=real_db) is None


def test_indicator_table_is_the_sql_it_replaced(con, real_db, councils):
    for code in councils[::7] + ["E92000001"]:
        sql = con.execute(
            """
            SELECT v.indicator_id, i.name, i.domain, i.unit, i.polarity, i.scored, v.period, v.value,
                   v.numerator, v.denominator, v.is_local, v.note, i.source_ids
            FROM indicator_values v JOIN areas a ON a.code = v.area_code
            LEFT JOIN indicators i USING (indicator_id)
            WHERE v.area_code = ?
            ORDER BY CASE i.domain WHEN 'headline' THEN 0 WHEN 'funding' THEN 1 WHEN 'projects' THEN 2
                     WHEN 'participation' THEN 3 ELSE 4 END, v.indicator_id, v.period""",
            [code],
        ).df()
        mine = index.indicator_table(code, db=real_db)
        pd.testing.assert_frame_equal(mine.drop(columns="coverage"), sql, check_dtype=False)
        assert mine["coverage"].str.startswith("based on ").all()


def test_latest_and_longest_is_the_sql_it_replaced(con, real_db, councils):
    latest = queries._latest_periods(real_db)
    shift_of = queries.LONGEST_SHIFT_OF
    for start in range(0, len(councils), 40):
        codes = councils[start : start + 40] + ["E92000001"]
        ph = ", ".join("?" for _ in codes)
        sql = con.execute(
            f"""
            WITH latest AS (SELECT unnest(?::VARCHAR[]) AS indicator_id, unnest(?::VARCHAR[]) AS period),
            shift_of AS (SELECT unnest(?::VARCHAR[]) AS measure, unnest(?::VARCHAR[]) AS shift_id),
            has AS (SELECT DISTINCT area_code, indicator_id FROM indicator_values
                    WHERE area_code IN ({ph}) AND list_contains(?::VARCHAR[], indicator_id) AND value IS NOT NULL)
            SELECT a.code, a.name, l.indicator_id, i.name AS measure, i.unit, l.period, v.value, v.note,
                   s.period AS shift_period, s.value AS shift_value, s.denominator AS shift_from,
                   s.numerator AS shift_to, s.note AS shift_note
            FROM has h JOIN areas a ON a.code = h.area_code JOIN latest l ON l.indicator_id = h.indicator_id
            JOIN indicators i ON i.indicator_id = l.indicator_id
            LEFT JOIN indicator_values v ON v.area_code = a.code AND v.indicator_id = l.indicator_id
                 AND v.period = l.period
            LEFT JOIN shift_of sh ON sh.measure = l.indicator_id
            LEFT JOIN indicator_values s ON s.area_code = a.code AND s.indicator_id = sh.shift_id
            ORDER BY list_position(?::VARCHAR[], a.code), list_position(?::VARCHAR[], l.indicator_id)""",
            [
                list(latest["indicator_id"]),
                list(latest["period"]),
                list(shift_of),
                list(shift_of.values()),
                *codes,
                list(queries.LATEST_MEASURES),
                codes,
                list(queries.LATEST_MEASURES),
            ],
        ).df()
        mine = queries.latest_and_longest(codes, db=real_db)
        assert len(mine) == len(sql) > 0
        pd.testing.assert_frame_equal(_missing_as_none(mine), _missing_as_none(sql), check_dtype=False)


def _missing_as_none(df: pd.DataFrame) -> pd.DataFrame:
    """Missing is missing: NaN and None alike (the SQL gave None in a text column with no value)."""
    return df.astype(object).where(df.notna(), None)


def test_england_region_and_neighbours_beside_each_value_are_what_sql_says(con, real_db, councils, period):
    weights = dict(index.DEFAULT_WEIGHTS)
    for code in councils[::20]:
        region = queries.area(code, db=real_db)["region_code"]
        peers = queries.peers_of(code, period, weights, "place", 10, real_db)["peer_code"].tolist()
        got = benchmarks.benchmarks(queries.latest_indicators(code, period, db=real_db), region, peers, db=real_db)
        ph = ", ".join("?" for _ in peers)
        # a neighbour's participation figure that is not its own (its region's survey estimate) is left out
        own = "(i.domain <> 'participation' OR v.is_local)"
        sql = con.execute(
            f"""SELECT indicator_id, period,
                       max(value) FILTER (WHERE area_code = 'E92000001') AS england,
                       max(value) FILTER (WHERE area_code = ?) AS region,
                       median(value) FILTER (WHERE area_code IN ({ph}) AND {own}) AS neighbours_median,
                       count(value) FILTER (WHERE area_code IN ({ph}) AND {own}) AS neighbours_with_value
                FROM indicator_values v JOIN indicators i USING (indicator_id) WHERE value IS NOT NULL GROUP BY ALL""",
            [region, *peers, *peers],
        ).df()
        both = got.merge(sql, on=["indicator_id", "period"], how="left", suffixes=("", "_sql"))
        assert len(both) == len(got) > 10 and len(peers) == 10
        for column in ("england", "region", "neighbours_median", "neighbours_with_value"):
            pd.testing.assert_series_equal(
                both[column].astype(float), both[f"{column}_sql"].astype(float).fillna(
                    0 if column == "neighbours_with_value" else np.nan
                ), check_names=False, rtol=1e-12,
            )  # fmt: skip


def test_trends_and_wards_are_the_sql_they_replaced(con, real_db, councils):
    codes = councils[:30] + ["E92000001"]
    ph = ", ".join("?" for _ in codes)
    trend = con.execute(
        f"""SELECT a.code, a.name, v.period, v.value FROM indicator_values v JOIN areas a ON a.code = v.area_code
            WHERE v.indicator_id = 'parish_precept_share' AND v.area_code IN ({ph}) ORDER BY v.period, a.name""",
        codes,
    ).df()
    mine = queries.indicator_trend(tuple(codes), "parish_precept_share", db=real_db)
    pd.testing.assert_frame_equal(mine, trend, check_dtype=False)

    for district in [c for c in councils if c.startswith(("E07", "E08"))][:12]:
        wards = queries.ward_table(district, None, db=real_db)
        names = con.execute(
            "SELECT code, name FROM areas WHERE level = 'ward' AND district_code = ? ORDER BY name", [district]
        ).df()
        assert wards[["code", "name"]].equals(names)
        assert wards.shape[1] > 2  # a column per ward-level indicator


WARD_COLUMNS_SQL = """
    WITH wards AS (SELECT code FROM areas WHERE level = 'ward' AND district_code = ?),
    years AS (  -- each indicator's year: the wanted one if a ward has a value then, else the latest with one
                --  that is not a partial year of the indicator (? = its 'indicator period' pairs), else the latest
        SELECT indicator_id, max(period) FILTER (WHERE period = ?) AS wanted,
               max(period) FILTER (WHERE NOT list_contains(?::VARCHAR[], indicator_id || ' ' || period)) AS full_year,
               max(period) AS latest
        FROM indicator_values WHERE area_code IN (SELECT code FROM wards) AND value IS NOT NULL GROUP BY ALL)
    SELECT v.area_code AS code, i.name || ' (' || i.unit || ', ' || v.period || ')' AS heading, v.value
    FROM indicator_values v JOIN years y ON y.indicator_id = v.indicator_id
        AND v.period = coalesce(y.wanted, y.full_year, y.latest)
    JOIN indicators i ON i.indicator_id = v.indicator_id
    WHERE v.area_code IN (SELECT code FROM wards)"""


@pytest.mark.parametrize("year", [None, "first", "last"])
def test_ward_tables_hold_each_indicators_year_as_sql_chooses_it(con, real_db, councils, year):
    """Every ward table's headings and values are what SQL picks: the chosen year where the wards
    have a value then, else each indicator's latest that is not a partial year (powerbalance.years);
    missing stays missing."""
    from powerbalance import years

    periods = index.periods(real_db)
    wanted = {"first": periods[0], "last": periods[-1]}.get(year)
    ids = con.execute("SELECT indicator_id FROM indicators").df()["indicator_id"]
    thin = [f"{i} {p}" for i in ids for p in years.thin_periods(i, real_db)]
    assert thin  # the grants indicators' partial year
    for district in [c for c in councils if c.startswith(("E07", "E08"))][::9]:
        mine = queries.ward_table(district, wanted, db=real_db)
        sql = con.execute(WARD_COLUMNS_SQL, [district, wanted, thin]).df()
        assert set(mine.columns[2:]) == set(sql["heading"]), district
        for heading, got in sql.groupby("heading"):
            by_ward = dict(zip(got["code"], got["value"]))
            want = [by_ward.get(code, np.nan) for code in mine["code"]]
            np.testing.assert_array_equal(mine[heading].to_numpy(), np.array(want, dtype=float))


@pytest.mark.parametrize("lens", ["place", "council"])
def test_index_trends_are_each_years_table_rows_with_the_ratio_beside(con, real_db, councils, lens):
    """A council's index trend is its row of every year's index table, in the table's order, with
    the year's enabler ratio from ``indicator_values`` (missing where there is none)."""
    weights = dict(index.DEFAULT_WEIGHTS)
    ratio_id = "enabler_ratio_council" if lens == "council" else "enabler_ratio"
    groups = [councils[i : i + 5] for i in range(0, len(councils), 37)]
    for codes in groups + [[c] for c in councils[::23]]:
        mine = queries.index_trend(codes, weights, lens, db=real_db)
        want = []
        for period in index.periods(real_db):
            for level in ("county", "district"):
                t = queries.index_table(level, period, weights, lens, None, real_db)
                want.append(t[t["area_code"].isin(codes)].assign(period=period))
        want = pd.concat(want)
        assert mine["code"].tolist() == want["area_code"].tolist()
        np.testing.assert_array_equal(mine["index"].to_numpy(float), want["index"].to_numpy(float))
        np.testing.assert_array_equal(mine["rank"].to_numpy(float), want["rank"].to_numpy(float))
        sql = dict(
            con.execute(
                "SELECT area_code || period, value FROM indicator_values WHERE indicator_id = ? "
                "AND list_contains(?::VARCHAR[], area_code)",
                [ratio_id, codes],
            ).fetchall()
        )
        ratio = [sql.get(c + p, np.nan) for c, p in zip(mine["code"], mine["period"])]
        np.testing.assert_array_equal(mine["enabler_ratio"].to_numpy(float), np.array(ratio, dtype=float))
