"""Tables as files to download: CSV (UTF-8 with BOM, for Excel) and one-sheet XLSX. Missing values
stay empty cells, never 0."""

from __future__ import annotations

import io

import pandas as pd


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV (UTF-8 with BOM so Excel opens names like 'Ynys Môn' correctly); missing = empty."""
    return df.to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(df: pd.DataFrame, sheet: str = "data") -> bytes:
    """One-sheet XLSX; missing values stay empty cells, never 0."""
    buf = io.BytesIO()
    safe = "".join(ch for ch in sheet if ch not in '[]:*?/\\')[:31] or "data"
    out = df.copy()
    for c in out.columns:  # Excel cannot hold timezone-aware datetimes or Python objects
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_localize(None)
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        out.to_excel(xw, sheet_name=safe, index=False)
    return buf.getvalue()


def labelled(
    df: pd.DataFrame, *, indicator: str, unit: str, period: str, period_note: str = "", after: str = "name"
) -> pd.DataFrame:
    """``df`` as a file that says what its values are: the indicator, its unit and period as columns
    after ``after``, and ``period_note`` (a partial year's warning, powerbalance.years; empty when
    none) as the last column — a table re-used away from its page keeps them."""
    out = df.copy()
    at = out.columns.get_loc(after) + 1 if after in out.columns else 0
    for i, (col, val) in enumerate((("indicator", indicator), ("unit", unit), ("period", period))):
        out.insert(at + i, col, pd.Series([val] * len(out), index=out.index, dtype="str"))
    out["period_note"] = pd.Series([period_note] * len(out), index=out.index, dtype="str")
    return out
