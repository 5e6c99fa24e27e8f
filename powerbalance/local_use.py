"""Which loaded local figures can feed the index and which are only shown (issue 17, item 6).

A local figure can enter the index only for a council (district or county: wards have no index)
and for a financial year the index covers (a calendar year Y counts as Y-(Y+1)); even then it is
scored only where enough areas of the comparison group have it (``index.LOCAL_MIN_AREAS``).
Everything else is shown for its own year on My area, the Map and the Data page, and changes no
index. One SQL text serves the build output (etl) and the Data page (queries).
"""

from __future__ import annotations

import pandas as pd

#: The same rule as ``index.periods``: years with district finance and grants.
INDEX_PERIODS_SQL = """
    SELECT v.period FROM indicator_values v JOIN areas a ON a.code = v.area_code
    WHERE a.level = 'district' AND a.tier = 'lower' AND v.value IS NOT NULL
      AND v.indicator_id IN ('council_spend_per_head', 'grants_amount_per_head')
    GROUP BY v.period HAVING count(DISTINCT v.indicator_id) = 2"""

LOCAL_USE_SQL = (
    "WITH ip AS ("
    + INDEX_PERIODS_SQL
    + """),
    lv AS (SELECT file, measure, period, area_level,
                  CASE WHEN contains(period, '-') THEN period
                       ELSE period || '-' || lpad(CAST((CAST(period AS INTEGER) + 1) % 100 AS VARCHAR), 2, '0')
                  END AS fy
           FROM local_values),
    marked AS (SELECT *, area_level <> 'ward' AND fy IN (SELECT period FROM ip) AS can_score FROM lv)
    SELECT file, measure,
           count(*) FILTER (WHERE can_score) AS can_feed_index,
           count(*) FILTER (WHERE NOT can_score) AS shown_only,
           string_agg(DISTINCT period, ', ' ORDER BY period) FILTER (WHERE can_score) AS index_years,
           string_agg(DISTINCT period, ', ' ORDER BY period)
               FILTER (WHERE NOT can_score AND area_level <> 'ward') AS years_outside_index,
           count(*) FILTER (WHERE area_level = 'ward') AS ward_values
    FROM marked GROUP BY file, measure ORDER BY file, measure"""
)


def use_text(row: pd.Series) -> str:
    """One line for a file and measure: what feeds the index and what is shown only, and why."""
    parts = []
    outside = row["years_outside_index"] if isinstance(row["years_outside_index"], str) else ""
    if row["can_feed_index"]:
        parts.append(
            f"{row['can_feed_index']:,} for {row['index_years']} can feed the index (scored where enough "
            "areas of the comparison group have it)"
        )
    if outside:
        parts.append(
            f"{outside}: shown only, the index does not cover {'these years' if ',' in outside else 'this year'}"
        )
    if row["ward_values"]:
        parts.append(
            f"{row['ward_values']:,} ward figure{'s' if row['ward_values'] != 1 else ''}: shown only, "
            "wards have no index"
        )
    return "; ".join(parts)


def summary_lines(use: pd.DataFrame) -> list[str]:
    """Build-output lines, one per file and measure."""
    return [f"local {r.file} {r.measure}: {use_text(pd.Series(r._asdict()))}" for r in use.itertuples(index=False)]
