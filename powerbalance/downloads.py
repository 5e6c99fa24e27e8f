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
