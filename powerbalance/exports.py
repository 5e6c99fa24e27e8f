"""Where this build's open exports are served (written by the ETL into the build's static
folder, ``static/geo/<build_id>/exports/``): the catalogue as a table with a URL per file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

EXPORT_DIR = "exports"
CATALOGUE = "catalogue.json"


def export_location(info: dict, static_root: str | Path) -> tuple[str, Path]:
    """URL path and folder of a build's exports (``info`` = queries.build_info())."""
    url = f"{info['geo_path'].rstrip('/')}/{EXPORT_DIR}"
    return url, Path(static_root) / url.removeprefix("/app/static/")


def export_files(info: dict, static_root: str | Path) -> pd.DataFrame:
    """One row per exported table: name, title, rows, csv and parquet URLs; empty when this
    server does not serve the build's exports (a build made before exports, or elsewhere)."""
    url, folder = export_location(info, static_root)
    path = folder / CATALOGUE
    if not path.is_file():
        return pd.DataFrame(columns=["name", "title", "rows", "csv", "parquet"])
    cat = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame(
        [
            {
                "name": t["name"],
                "title": t["title"],
                "rows": t["rows"],
                "csv": f"{url}/{t['files']['csv']}",
                "parquet": f"{url}/{t['files']['parquet']}",
            }
            for t in cat["tables"]
        ]
    )
