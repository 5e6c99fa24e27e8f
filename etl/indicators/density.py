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


#: the helper's work for this family: the land area of every boundary
AREAS_WORK = "density: boundary areas"


def start(run) -> None:
    """Begin the land areas (the family's costly part: reprojecting every boundary) in the build's
    helper process, so they are worked out while the families before this one derive."""
    if run.ctx is not None:
        run.ctx.begin(AREAS_WORK, areas_by_code, *_boundaries(run.con))


def derive(run) -> pd.DataFrame:
    return _areas_and_density(run.con, run.geo, run.rep, run.ctx)


def _boundaries(con) -> tuple[list[str], list[bytes]]:
    codes, wkbs = con.execute(
        "SELECT list(code ORDER BY code), list(geom_wkb ORDER BY code) FROM boundaries"
    ).fetchone()
    return codes or [], wkbs or []


def areas_by_code(codes: list[str], wkbs: list) -> pd.Series:
    """Land area in km² (:func:`boundary_areas_km2`) by boundary code."""
    return pd.Series(boundary_areas_km2(wkbs), index=codes, dtype=float)


def _areas_and_density(con, geo: Geo, rep, ctx=None) -> pd.DataFrame:
    """Land area (km², British National Grid) of every boundary, and population density; the areas
    are the helper's when :func:`start` began them there."""
    km2 = ctx.collect(AREAS_WORK) if ctx is not None and ctx.begun(AREAS_WORK) else areas_by_code(*_boundaries(con))
    if km2.empty:
        rep.note("no boundaries: area and density not derived")
        return no_values()
    a = pd.DataFrame({"area_code": km2.index, "period": "2024", "value": km2.to_numpy()})
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
