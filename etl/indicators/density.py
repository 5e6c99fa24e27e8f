"""Density family: land area of every boundary (km², British National Grid) and population density."""

from __future__ import annotations

import numpy as np
import pandas as pd

from powerbalance.registry import Indicator

from .base import Geo, as_values, no_values, rate

ORDER = 70

INDICATORS = (
    Indicator(
        "area_km2",
        "Land area",
        "context",
        "km²",
        0,
        False,
        "Area of the published (generalised, coastline-clipped) boundary, computed on the British National "
        "Grid (EPSG:27700).",
        "boundaries",
        "ward,district,county,region",
    ),
    Indicator(
        "population_density",
        "Population density",
        "context",
        "residents per km²",
        0,
        False,
        "Population / land area.",
        "context,boundaries",
        "ward,district,county,region",
    ),
)


def derive(run) -> pd.DataFrame:
    return _areas_and_density(run.con, run.geo, run.rep)


def _areas_and_density(con, geo: Geo, rep) -> pd.DataFrame:
    """Land area (km², British National Grid) of every boundary, and population density."""
    b = con.execute("SELECT code, level, geom_wkb FROM boundaries").df()
    if b.empty:
        rep.note("no boundaries: area and density not derived")
        return no_values()
    km2 = boundary_areas_km2(b["geom_wkb"].tolist())
    a = pd.DataFrame({"area_code": b["code"], "period": "2024", "value": km2})
    a["note"] = "area of the published generalised boundary on EPSG:27700"
    dens = a.copy()
    dens["pop"] = dens["area_code"].map(geo.pop)
    dens["km2"] = dens["value"]
    dens = rate(dens, "pop", "km2", 1.0)
    dens["note"] = "population / land area"
    return pd.concat([as_values(a, "area_km2"), as_values(dens, "population_density")], ignore_index=True)


def boundary_areas_km2(wkbs: list) -> np.ndarray:
    """Areas in km² of WKB polygons: WGS84 longitude/latitude (as the boundaries table stores
    them) are projected to the British National Grid first; coordinates that are already
    eastings/northings (any |x| > 180) are used as they are."""
    import shapely
    from pyproj import Transformer

    geoms = shapely.from_wkb([bytes(w) for w in wkbs])
    coords = shapely.get_coordinates(geoms)
    if coords.size and np.abs(coords[:, 0]).max() <= 180 and np.abs(coords[:, 1]).max() <= 90:
        tr = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return shapely.area(geoms) / 1e6
