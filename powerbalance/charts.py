"""Plotly figure builders for the dashboard, in the Government Analysis Function (afcharts) style.

Every builder returns ``(figure, alt_text)``. The alt text is a plain-language description of
what the chart shows — built from the same data, so it cannot drift from the picture — and is
shown under the chart and given to screen readers. Colour never carries meaning on its own:
groups are also named on an axis, in the legend or on the bars; lines also differ by marker
symbol; missing values are listed as "No data" with a count.

Maps use ``Choroplethmap`` (MapLibre) with an inline map style that has no sources and no
glyphs, so the browser fetches nothing from the internet, and ``geojson`` is the *URL* of this
build's static boundary file: the browser fetches it once and Plotly keeps it for later charts,
instead of the boundaries being re-sent on every rerun.
"""

from __future__ import annotations

import json
import math
import textwrap
import threading
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64
from plotly.io.json import to_json_plotly

# --- Government Analysis Function palette (afcharts) -----------------------------------------
DARK_BLUE = "#12436D"
TURQUOISE = "#28A197"
DARK_PINK = "#801650"
ORANGE = "#F46A25"
DARK_GREY = "#3D3D3D"
LIGHT_PURPLE = "#A285D1"
CATEGORICAL: tuple[str, ...] = (DARK_BLUE, TURQUOISE, DARK_PINK, ORANGE, DARK_GREY, LIGHT_PURPLE)
#: Marker symbols paired with the categorical colours, so series differ by shape too.
SYMBOLS: tuple[str, ...] = ("circle", "square", "diamond", "triangle-up", "x", "star")
#: The palette position England and a region always take on a line chart drawn with area codes
#: (:func:`series_styles`), so each keeps its colour and marker on every chart of a page.
ENGLAND_STYLE, REGION_STYLE = 0, 1

#: Sequential blues for choropleths (afcharts sequential: light → dark blue).
SEQUENTIAL_BLUES: list[list] = [[0.0, "#C6DBEF"], [0.35, "#6BACE6"], [0.7, "#2073BC"], [1.0, DARK_BLUE]]
#: Areas with no value: a light neutral grey, clearly not the lightest blue, named in the legend.
NO_DATA_GREY = "#EBEBEB"
TEXT = "#0B0C0C"
GRID = "#D9D9D9"

#: Inline MapLibre style: a white background layer and nothing else — no tiles, no glyphs, no
#: sprites, no URL of any kind — so a map never requests anything from outside this server.
#: MapLibre requires a ``sources`` object; it holds one *empty inline* GeoJSON source rather
#: than being ``{}``, because Plotly prunes empty objects from the layout after the first draw:
#: the next render then sees a "different" style, calls setStyle, and waits for a style event
#: that an identical style never fires — the map stops answering hover and clicks.
MAP_STYLE: dict = {
    "version": 8,
    "name": "power-balance-blank",
    "sources": {"blank": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": "#FFFFFF"}}],
}
ENGLAND_CENTRE = {"lat": 52.75, "lon": -1.6}
ENGLAND_ZOOM = 4.9  # all of England in a phone-width map; a desktop map is height-limited anyway


class PlainFigure(go.Figure):
    """A figure held as the plain trace and layout dicts it was made from (:func:`_figure`).
    plotly's own state for it — every trace turned into validated objects, then deep-copied, about
    a twentieth of a council's first look — is made only when something reads or changes the
    figure through plotly's API (a test, a builder adding to it); :func:`frozen` makes the dict
    for drawing from the dicts themselves."""

    def __init__(self, spec: dict):
        object.__setattr__(self, "_spec", spec)  # not plotly's __init__: nothing validated or copied

    def __getattr__(self, name: str):
        """Any attribute plotly's figure would have: make plotly's state from the dicts, once (one
        thread at a time: a kept figure is shared by every session)."""
        with _MAKING_PLOTLY_STATE:
            spec = self.__dict__.pop("_spec", None)
            if spec is not None:
                go.Figure.__init__(self, spec, _validate=False)
        if spec is None and "_data" not in self.__dict__:  # plotly's state not made (or being made)
            raise AttributeError(name)
        return object.__getattribute__(self, name)


#: re-entrant: making plotly's state looks up attributes of the figure being made
_MAKING_PLOTLY_STATE = threading.RLock()


class FrozenFigure(PlainFigure):
    """A finished figure whose plain dict (what ``st.plotly_chart`` serialises: arrays already as
    plotly's base64 specs) is made once. Drawing a plain figure deep-copies and re-encodes every
    trace on every run, about a tenth of a page's CPU; a kept figure is drawn again and again
    unchanged, so it hands out the dict it made. Nothing may change it after (:func:`frozen`)."""

    _plain: dict

    def to_dict(self) -> dict:
        return self._plain


def frozen(value):
    """``value`` with every figure in it (a figure, or a builder's ``(fig, alt)``) frozen in place
    (:class:`FrozenFigure`; its class is switched, not the figure copied: a copy would validate
    every trace again, which costs more than building the figure)."""
    if isinstance(value, go.Figure) and not isinstance(value, FrozenFigure):
        spec = value.__dict__.get("_spec")  # a PlainFigure plotly has not been asked about
        plain = _plain_dict(spec["data"], spec["layout"], []) if spec is not None else _plain(value)
        value.__class__ = FrozenFigure
        object.__setattr__(value, "_plain", plain)
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(frozen(v) for v in value)
    return value


def _plain(fig: go.Figure) -> dict:
    """What ``pio.to_json(fig)`` encodes, as a dict, made without the deep copy of every trace
    that ``fig.to_dict()`` takes on the way (that copy, twice over with the figure's own, was a
    tenth of a first look's CPU). Only the containers are copied, since plotly's base64 encoding
    of arrays replaces values in them; numbers and text are shared until encoded."""
    return _plain_dict(fig._data, fig._layout, [frame._props for frame in fig._frame_objs])


def _plain_dict(data: list[dict], layout: dict, frames: list[dict]) -> dict:
    """:func:`_plain` of a figure's trace, layout and frame dicts."""
    res = {"data": _containers(data), "layout": _containers(layout)}
    if frames:
        res["frames"] = _containers(frames)
    convert_to_base64(res)
    for trace in res["data"]:
        trace.pop("uid", None)
    return json.loads(to_json_plotly(res))


def _containers(value):
    """A copy of every dict and list in ``value`` holding other containers; anything else shared."""
    if isinstance(value, dict):
        return {k: _containers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        return [_containers(v) for v in value]
    return value


#: Plotly config passed to st.plotly_chart: no logo, no cloud link, no scroll-zoom trap on phones, and
#: no mode bar. Its eight or nine buttons a chart (zoom, pan, autoscale, PNG …) were Tab stops one after
#: another: on My area most of the 181 presses it took to reach the brief (review; WCAG 2.4.1, 2.4.3).
#: Each chart's data table (with CSV and XLSX downloads) holds every value drawn, which is what the
#: zoom and pan were for; on a phone the bar also covered chart labels.
PLOTLY_CONFIG: dict = {
    "displaylogo": False,
    "displayModeBar": False,
    "scrollZoom": False,
    "responsive": True,
}

_FONT = {"family": "Source Sans, Arial, sans-serif", "size": 14, "color": TEXT}
_AXIS = {"showgrid": True, "gridcolor": GRID, "zeroline": False, "linecolor": DARK_GREY, "automargin": True}


#: Characters of the axis font in a line of text that fits a chart on a 320 px phone (WCAG 1.4.10 Reflow):
#: an x axis title is centred under the plot, which starts after the y axis' ticks and title (about
#: 180 px left beside a wide y axis); a legend entry starts at the plot's left edge, after its symbol.
#: Plotly never wraps text and clipped longer lines at both ends ('er ratio (£ in community hands per
#: £100 c', review): they are wrapped at spaces, on every screen (a figure cannot know the screen).
TITLE_CHARS = 24
LEGEND_CHARS = 24


def wrap(text: str, width: int = TITLE_CHARS) -> str:
    """``text`` wrapped at spaces onto lines of at most ``width`` characters (a longer word stays
    whole), joined by plotly's ``<br>``; line breaks already in it are kept."""
    lines = []
    for part in str(text).split("<br>"):
        lines.extend(textwrap.wrap(part, width, break_long_words=False, break_on_hyphens=False) or [part])
    return "<br>".join(lines)


def wrap_items(items: Sequence[str], width: int = TITLE_CHARS, sep: str = ", ") -> str:
    """``items`` joined by ``sep``, onto lines of at most ``width`` characters where they allow: a line
    breaks only between items (a name is never parted from its value); ``<br>`` between lines."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(sep) + len(item) + len(sep.rstrip()) <= width:  # room for a comma after
            lines[-1] += sep + item
        else:
            lines[-1:] = [lines[-1] + sep.rstrip()] if lines else []
            lines.append(item)
    return "<br>".join(lines)


def _wrapped_titles(layout: dict) -> dict:
    """The layout with every x axis title wrapped to fit a phone (:func:`wrap`)."""
    out = dict(layout)
    for key, axis in layout.items():
        text = (axis.get("title") or {}).get("text") if key.startswith("xaxis") and isinstance(axis, dict) else None
        if text:
            out[key] = {**axis, "title": {**axis["title"], "text": wrap(text)}}
    return out


def _wrapped_names(data: list[dict]) -> list[dict]:
    """Traces whose long legend names are wrapped to fit a phone (:func:`wrap`); the data tables keep
    the names whole."""
    return [
        {**t, "name": wrap(t["name"], LEGEND_CHARS)}
        if isinstance(t.get("name"), str) and len(t["name"]) > LEGEND_CHARS and t.get("showlegend") is not False
        else t
        for t in data
    ]


def _figure(data: list[dict], layout: dict, *, height: int, title: str | None = None, legend: bool = True) -> go.Figure:
    """A figure from plain trace and layout dicts, on one minimal template.

    Figures are assembled as dicts and held as they are (:class:`PlainFigure`), without Plotly's
    per-attribute validation: that validation (and ``update_layout`` path parsing) took most of a
    page's render time, and making plotly's objects even unvalidated a twentieth of a first look.
    The specs are validated in the tests instead (tests/test_queries.py builds every chart with
    full validation).
    """
    base = {
        "template": {},
        "height": height,
        "font": _FONT,
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        # room above the plot for the title and, under it, a one-line legend
        "margin": {"l": 8, "r": 8, "t": (40 if title else 8) + (30 if legend else 0), "b": 8},
        "showlegend": legend,
        "hoverlabel": {"bgcolor": "#FFFFFF", "font": {"color": TEXT}},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left"},
        "xaxis": dict(_AXIS),
        "yaxis": dict(_AXIS),
    }
    if title:
        base["title"] = {"text": title, "x": 0, "xanchor": "left", "font": {"size": 16}}
    for key, value in layout.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    if legend:
        data = _wrapped_names(data)
    return PlainFigure({"data": data, "layout": _wrapped_titles(base)})


#: Width of a character of the axis font, in pixels (14 px Source Sans/Arial averages under 7.5).
_CHAR_PX = 7.5
#: Pixels of a chart's height not along its plot (title and legend above; ticks, turned upright
#: on a narrow chart, and margin below).
_NOT_PLOT_PX = 150


def vertical_title(measure: str, unit: str, height: int) -> str:
    """A y axis title 'measure (unit)' that fits along the plot: wrapped at spaces onto lines no
    longer than the plot is tall (plotly clips a long one at both ends: 'ouncil service spending
    per head (place) (£ per resi'); ``automargin`` makes room for the extra lines."""
    text = measure + (" (" + unit.replace(" ", "\u00a0") + ")" if unit else "")  # the unit kept on one line
    fit = max(12, int((height - _NOT_PLOT_PX) / _CHAR_PX))
    return "<br>".join(textwrap.wrap(text, fit, break_long_words=False, break_on_hyphens=False)) or text


def _first_value_at_x(series: pd.Series, xs: pd.Series, ys: pd.Series) -> dict:
    """Series name → {x: y} with the first row of each (series, x), series in order of appearance
    (a dictionary pass: a filter, de-duplication and re-index per series cost more than the chart)."""
    out: dict = {}
    for name, x, y in zip(series.tolist(), xs.tolist(), ys.tolist()):
        out.setdefault(name, {}).setdefault(x, y)
    return out


def _list(values) -> list:
    """Numbers as a JSON-ready list, missing → None (drawn as a gap, never as zero)."""
    return [None if pd.isna(v) else float(v) for v in values]


def fmt(value, digits: int = 1, unit: str = "") -> str:
    """A number for people: thousands separators, fixed decimals, 'no data' for missing."""
    if value is None or pd.isna(value):
        return "no data"
    text = f"{float(value):,.{digits}f}"
    unit = (unit or "").strip()
    if not unit:
        return text
    if unit == "%":
        return text + "%"
    if unit.startswith("£"):  # "£ per head" → "£12.3 per head"
        return ("£" + text + " " + unit[1:].strip()).strip()
    return f"{text} {unit}"


def is_count_unit(unit: str | None) -> bool:
    """A unit that counts things ("people", "plans", "hours"): no rate, share, money, score or area."""
    u = (unit or "").strip().lower()
    return bool(u) and not any(t in u for t in ("per", "%", "£", "score", "rank", "decile", "km", "class", "change"))


def fmt_value(value, unit: str = "") -> str:
    """An indicator value with its unit: whole counts without decimals ("2,010 people", "1 plans"
    never "1.0 plans"), everything else to one decimal."""
    whole = value is not None and not pd.isna(value) and float(value).is_integer() and is_count_unit(unit)
    return fmt(value, 0 if whole else 1, unit)


def _coverage(n: int, m: int, what: str) -> str:
    return f"based on {n:,} of {m:,} {what}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 place', '3 places', '1,204 people' — the number with the right form of the noun."""
    return f"{n:,} {noun if abs(n) == 1 else (plural or noun + 's')}"


def rank_move_text(rank_from, rank_to) -> str:
    """'rank 66 → 64 (up 2 places)': rank 1 is best, so a smaller number is a move up."""
    if rank_from is None or rank_to is None or pd.isna(rank_from) or pd.isna(rank_to):
        return "rank: no data"
    a, b = int(round(float(rank_from))), int(round(float(rank_to)))
    move = "unchanged" if a == b else f"{'up' if b < a else 'down'} {counted(abs(a - b), 'place')}"
    return f"rank {a} → {b} ({move})"


#: What the rank band says of a rank with the chosen weights that lies outside it (issue: a rank
#: outside its own band was called robust). docs/methodology.md uses the same words.
RANK_OUTSIDE_BAND = "the rank with these weights lies outside the range most alternatives give"


def rank_outside_band(rank, p5, p95) -> bool | None:
    """Whether a rank lies outside its 5th–95th percentile band as shown (ends rounded to whole
    places); None when any of them is missing."""
    if any(v is None or pd.isna(v) for v in (rank, p5, p95)):
        return None
    r = round(float(rank))
    return r < round(float(p5)) or r > round(float(p95))


def rank_band_words(band: dict | None) -> tuple[str, str]:
    """('90% range 117–132', what it says of the rank): 'robust' (a narrow band holding the rank),
    'uncertain' (a wide band), :data:`RANK_OUTSIDE_BAND` (the rank with the chosen weights lies
    outside the band, however narrow) or '' (not known). ('no uncertainty estimate', '') without a band."""
    if not band:
        return "no uncertainty estimate", ""
    span = f"90% range {fmt(band.get('p5'), 0)}–{fmt(band.get('p95'), 0)}"
    if rank_outside_band(band.get("rank"), band.get("p5"), band.get("p95")):
        return span, RANK_OUTSIDE_BAND
    robust = band.get("robust")
    return span, "robust" if robust is True else "uncertain" if robust is False else ""


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 district has', '3 districts have' — for alt text read aloud."""
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word} {'has' if n == 1 else 'have'}"


def _not_drawn(n: int, lacking: str, noun: str, plural: str | None = None) -> str:
    """'3 districts have no index and are not drawn.' — the alt text's count of what a chart leaves out."""
    return f"{_count(n, noun, plural)} {lacking} and {'is' if n == 1 else 'are'} not drawn."


# =============================================================================================
# Map
# =============================================================================================


def zoom_for_bounds(bounds: Sequence[float] | None, width_px: int = 600, height_px: int = 420) -> tuple[dict, float]:
    """Centre and zoom that fit a lon/lat box (minx, miny, maxx, maxy) into a map of the given
    size (MapLibre has no ``fitbounds`` in Plotly's map subplot). Web-Mercator arithmetic."""
    if bounds is None or any(b is None or (isinstance(b, float) and math.isnan(b)) for b in bounds):
        return dict(ENGLAND_CENTRE), ENGLAND_ZOOM
    minx, miny, maxx, maxy = (float(b) for b in bounds)

    def merc_y(lat: float) -> float:
        s = math.sin(math.radians(max(min(lat, 85.0), -85.0)))
        return math.log((1 + s) / (1 - s)) / 2

    lon_span = max(maxx - minx, 1e-4)
    y_span = max(merc_y(maxy) - merc_y(miny), 1e-6)
    zoom_x = math.log2(width_px * 360.0 / (512.0 * lon_span))
    zoom_y = math.log2(height_px * 2 * math.pi / (512.0 * y_span))
    zoom = max(min(zoom_x, zoom_y) - 0.25, 3.0)
    centre_y = (merc_y(maxy) + merc_y(miny)) / 2
    centre_lat = math.degrees(math.atan(math.sinh(centre_y)))
    return {"lat": centre_lat, "lon": (minx + maxx) / 2}, round(min(zoom, 14.0), 2)


def choropleth_map(
    values: pd.DataFrame,
    geo_url: str,
    *,
    measure: str,
    unit: str = "",
    area_label: str = "areas",
    digits: int = 1,
    highlight: str | None = None,
    height: int = 520,
    bounds: Sequence[float] | None = None,
    title: str | None = None,
) -> tuple[go.Figure, str]:
    """Choropleth of ``values`` (columns ``code``, ``name``, ``value``; one row per area that
    should be drawn, value NaN when missing) over the boundary file at ``geo_url``.

    Areas with a value are shaded in sequential blues; areas without one are drawn in light
    grey as a separate trace named "No data (N)" in the legend, never as zero. ``highlight``
    outlines one area. ``bounds`` (lon/lat box) sets the view; default is all of England.
    """
    df = values[["code", "name", "value"]].copy()
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    have, missing = df[df["value"].notna()], df[df["value"].isna()]
    cap = colour_cap(have["value"])
    data = []
    if len(have):
        data.append(_value_trace(have, geo_url, measure, unit, digits, cap))
    if len(missing):
        data.append(_no_data_trace(missing, geo_url))
    if highlight is not None and highlight in set(df["code"]):
        data.append(_highlight_trace(highlight, df.loc[df["code"] == highlight, "name"].iloc[0], geo_url))
    centre, zoom = zoom_for_bounds(bounds) if bounds is not None else (dict(ENGLAND_CENTRE), ENGLAND_ZOOM)
    layout = {
        "map": {"style": MAP_STYLE, "center": centre, "zoom": zoom},
        "clickmode": "event+select",
        "dragmode": "pan",
        "margin": {"b": _scale_margin(data)},  # the colour scale sits under the map
        "legend": {
            "orientation": "h",
            "y": 0.0,
            "yanchor": "bottom",
            "x": 0.0,
            "xanchor": "left",
            "bgcolor": "rgba(255,255,255,0.85)",
        },
    }
    fig = _figure(data, layout, height=height, title=title, legend=bool(len(missing)) or highlight is not None)
    alt = map_alt_text(df, measure=measure, unit=unit, area_label=area_label, digits=digits)
    if cap is not None:
        alt += (
            f" The colour scale stops at {fmt(cap, digits, unit)} (the 95th percentile) so that a few very high "
            f"values do not wash out the rest; higher values share the darkest blue."
        )
    return fig, alt


_MAP_LINE = {"width": 0.4, "color": "#FFFFFF"}
#: A map's colour scale title is centred under the whole chart: a line of it fits a 320 px phone.
MAP_TITLE_CHARS = 34


def _scale_margin(data: list[dict]) -> int:
    """Pixels under a map for its colour scale: the bar and its ticks, and a line per line of its title."""
    title = next((t["colorbar"]["title"]["text"] for t in data if "colorbar" in t), "")
    return 50 + 20 * (title.count("<br>") + 1) if title else 90


def _map_trace(geo_url: str, name: str, areas: pd.DataFrame, z: list, **rest) -> dict:
    """One choropleth layer over the boundary file at ``geo_url`` for the ``code``/``name`` rows of ``areas``."""
    return {
        "type": "choroplethmap",
        "geojson": geo_url,
        "featureidkey": "id",
        "name": name,
        "locations": areas["code"].tolist(),
        "z": z,
        "text": areas["name"].tolist(),
        **rest,
    }


def _value_trace(have: pd.DataFrame, geo_url: str, measure: str, unit: str, digits: int, cap: float | None) -> dict:
    """The areas with a value, in sequential blues, with a horizontal colour scale under the map
    (a vertical bar would cover the east coast on a phone)."""
    scale_title = wrap(measure + (f" ({unit})" if unit else ""), MAP_TITLE_CHARS)  # centred under a full-width map
    if cap is not None:
        scale_title += "<br>" + wrap(f"values above {fmt(cap, digits)} drawn darkest", MAP_TITLE_CHARS)
    hover_value = f"%{{z:,.{digits}f}}" + (f" {unit}" if unit else "")
    return _map_trace(
        geo_url,
        measure,
        have,
        [round(float(v), 6) for v in have["value"]],
        showlegend=False,
        colorscale=SEQUENTIAL_BLUES,
        marker={"line": _MAP_LINE},
        **({"zmin": float(have["value"].min()), "zmax": cap} if cap is not None else {}),
        colorbar={
            "title": {"text": scale_title, "side": "top"},
            "orientation": "h",
            "thickness": 10,
            "len": 0.9,
            "x": 0.5,
            "xanchor": "center",
            "y": -0.02,
            "yanchor": "top",
        },
        hovertemplate="<b>%{text}</b><br>" + hover_value + "<extra></extra>",
    )


def _no_data_trace(missing: pd.DataFrame, geo_url: str) -> dict:
    """Areas without a value: light grey, named "No data (N)" in the legend, never shaded as zero."""
    return _map_trace(
        geo_url,
        f"No data ({len(missing):,})",
        missing,
        [0] * len(missing),
        showlegend=True,
        colorscale=[[0, NO_DATA_GREY], [1, NO_DATA_GREY]],
        showscale=False,
        marker={"line": _MAP_LINE},
        hovertemplate="<b>%{text}</b><br>No data<extra></extra>",
    )


def _highlight_trace(code: str, name: str, geo_url: str) -> dict:
    """An orange outline round the chosen area."""
    return _map_trace(
        geo_url,
        f"Selected: {name}",
        pd.DataFrame({"code": [code], "name": [name]}),
        [0],
        showlegend=True,
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        showscale=False,
        marker={"line": {"width": 3, "color": ORANGE}},
        hoverinfo="skip",
    )


def colour_cap(values: pd.Series) -> float | None:
    """Top of the colour scale when a few extreme values would leave every other area pale: the
    95th percentile, used when the maximum is more than 1.5 times it. None = use the full range."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if len(v) < 20:
        return None
    p95 = float(v.quantile(0.95))
    return p95 if p95 > float(v.min()) and float(v.max()) > 1.5 * p95 else None


def _singular(plural: str) -> str:
    return {
        "counties": "county",
        "wards": "ward",
        "districts": "district",
        "regions": "region",
        "areas": "area",
        "domains": "domain",
        "councils": "council",
    }.get(plural, plural.rstrip("s"))


def map_alt_text(df: pd.DataFrame, *, measure: str, unit: str, area_label: str, digits: int = 1) -> str:
    """'Map of 296 districts shaded by …: highest X (…), lowest Y (…); N have no data.'"""
    have = df[df["value"].notna()]
    n, m = len(have), len(df)
    if n == 0:
        return f"Map of {m:,} {area_label}: none has a value for {measure}; all are drawn in grey as no data."
    top = have.loc[have["value"].idxmax()]
    low = have.loc[have["value"].idxmin()]
    text = (
        f"Map of {m:,} {area_label} shaded by {measure}, darker blue for higher values. "
        f"Highest: {top['name']} ({fmt(top['value'], digits, unit)}); "
        f"lowest: {low['name']} ({fmt(low['value'], digits, unit)}); "
        f"median {fmt(have['value'].median(), digits, unit)}. "
    )
    if m > n:
        verb = "is" if m - n == 1 else "are"
        text += f"{_count(m - n, _singular(area_label), area_label)} no data and {verb} drawn in light grey; "
        return text + _coverage(n, m, area_label) + "."
    return text + f"Every one of the {m:,} {area_label} has a value."


# =============================================================================================
# Bars, lines, distributions, ranks
# =============================================================================================


def bar_chart(
    df: pd.DataFrame,
    *,
    label: str,
    value: str,
    measure: str,
    unit: str = "",
    digits: int = 1,
    color: str = DARK_BLUE,
    height: int | None = None,
    title: str | None = None,
    sort: bool = True,
    subject: str = "areas",
) -> tuple[go.Figure, str]:
    """Horizontal bars with the value written on each bar (largest at the top, or with
    ``sort=False`` in the data's order from the bottom up, the alt text then reading them top to
    bottom). Rows with a missing value are left out and counted in the alt text."""
    d = df[[label, value]].copy()
    d[value] = pd.to_numeric(d[value], errors="coerce")
    n_all = len(d)
    d = d.dropna(subset=[value])
    if sort:
        d = d.sort_values(value, ascending=True)
    texts = [fmt(v, digits, unit) for v in d[value]]
    bar = {
        "type": "bar",
        "x": _list(d[value]),
        "y": d[label].astype(str).tolist(),
        "orientation": "h",
        "marker": {"color": color},
        "text": texts,
        "textposition": "outside",
        "cliponaxis": False,
        "textfont": {"color": TEXT},
        "hovertemplate": "%{y}: %{text}<extra></extra>",
        "name": measure,
    }
    xaxis = {"title": {"text": measure + (f" ({unit})" if unit else "")}, "zeroline": True, "zerolinecolor": DARK_GREY}
    xaxis.update(_room_left_of_negative_bars(d[value]))
    fig = _figure(
        [bar],
        {
            "xaxis": xaxis,
            "yaxis": {"showgrid": False, "type": "category"},
            "margin": {"r": 90},
        },  # room for the value written after the longest bar
        height=height or max(220, 26 * len(d) + 70),
        title=title,
        legend=False,
    )
    if len(d) == 0:
        return fig, f"Bar chart of {measure}: no {subject} have a value."
    parts = [f"{name} {fmt(v, digits, unit)}" for name, v in zip(d[label].iloc[::-1], d[value].iloc[::-1])]
    order = "largest first" if sort else "top to bottom"  # unsorted bars keep the data's order
    alt = f"Bar chart of {measure} for {len(d)} {subject}, {order}: " + "; ".join(parts[:12])
    alt += "." if len(parts) <= 12 else f"; and {len(parts) - 12} more."
    gone = n_all - len(d)
    if gone:
        alt += " " + _not_drawn(gone, "no data", _singular(subject), subject)
    return fig, alt


def _room_left_of_negative_bars(values: pd.Series) -> dict:
    """An x range with room left of the most negative bar for its value (written outside the bar,
    it would otherwise land on the category labels, its minus sign lost); nothing when no bar is
    negative, so such charts keep plotly's own range (positive values are written into the right margin)."""
    lo, hi = float(values.min()) if len(values) else 0.0, float(values.max()) if len(values) else 0.0
    if not lo < 0:
        return {}
    span = max(hi, 0.0) - lo
    return {"range": [lo - 0.5 * span, max(hi, 0.0) + 0.05 * span], "autorange": False}


def grouped_bars(
    df: pd.DataFrame,
    *,
    category: str,
    series: str,
    value: str,
    measure: str,
    unit: str = "",
    digits: int = 1,
    height: int = 360,
    title: str | None = None,
    category_order: Sequence[str] | None = None,
) -> tuple[go.Figure, str]:
    """Vertical bars of ``value`` by ``category`` (e.g. domain) with one bar per ``series``
    (e.g. council), each series a palette colour *and* a bar pattern, labelled with its value."""
    d = df[[category, series, value]].copy()
    d[value] = pd.to_numeric(d[value], errors="coerce")
    cats = list(category_order) if category_order else list(pd.unique(d[category]))
    patterns = ("", "/", ".", "x", "-", "\\")
    names = list(pd.unique(d[series]))
    data = []
    for i, name in enumerate(names):
        ys = d[d[series] == name].set_index(category).reindex(cats)[value].tolist()
        data.append(
            {
                "type": "bar",
                "x": cats,
                "y": _list(ys),
                "name": str(name),
                "marker": {
                    "color": CATEGORICAL[i % len(CATEGORICAL)],
                    "pattern": {
                        "shape": patterns[i % len(patterns)],
                        "fillmode": "overlay",
                        "fgcolor": "#FFFFFF",
                        "fgopacity": 0.7,
                    },
                },
                "text": [fmt(v, digits) for v in ys],
                "textposition": "outside",
                "cliponaxis": False,
                "textfont": {"color": TEXT},
                "hovertemplate": f"{name}<br>%{{x}}: %{{text}}<extra></extra>",
            }
        )
    fig = _figure(
        data,
        {
            "barmode": "group",
            "yaxis": {"title": {"text": vertical_title(measure, unit, height)}, "rangemode": "tozero"},
            "xaxis": {"showgrid": False},
        },
        height=height,
        title=title,
    )
    lines = []
    for name in names:
        s = d[d[series] == name].set_index(category).reindex(cats)[value]
        lines.append(f"{name}: " + ", ".join(f"{c} {fmt(v, digits)}" for c, v in s.items()))
    alt = (
        f"Grouped bar chart of {measure} by {category}, one bar each for {len(names)} series: " + "; ".join(lines) + "."
    )
    return fig, alt


def series_styles(names: Sequence, codes: dict | None = None) -> list[int]:
    """The palette position (colour and marker) of each series. Without ``codes`` (series name → area
    code) by order; with them by role: England always the first (navy circle), a region the second
    (teal square), and the other areas (the council) the rest in order, so a council, its region and
    England look the same on every chart whatever order the rows come in."""
    if codes is None:
        return [i % len(CATEGORICAL) for i in range(len(names))]
    free = [i for i in range(len(CATEGORICAL)) if i not in (ENGLAND_STYLE, REGION_STYLE)]
    out, n_other = [], 0
    for name in names:
        code = str(codes.get(name, ""))
        if code == "E92000001":
            out.append(ENGLAND_STYLE)
        elif code.startswith("E12"):
            out.append(REGION_STYLE)
        else:
            out.append(free[n_other % len(free)])
            n_other += 1
    return out


def line_chart(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    series: str,
    measure: str,
    unit: str = "",
    digits: int = 1,
    height: int = 360,
    title: str | None = None,
    x_order: Sequence[str] | None = None,
    y_range: tuple[float, float] | None = None,
    code: str | None = None,
) -> tuple[go.Figure, str]:
    """Lines with markers over periods, one per ``series``; series differ by colour, marker
    symbol and a name label at their last point. Missing periods break the line (no bridging).
    With ``code`` (the column of area codes) each series is styled by its role (:func:`series_styles`)."""
    xs = list(x_order) if x_order else sorted(pd.unique(df[x]).tolist())
    at_x = _first_value_at_x(df[series], df[x], pd.to_numeric(df[y], errors="coerce"))
    codes = dict(zip(df[series], df[code])) if code else None
    alt_parts = []
    data = []
    for i, (name, points) in zip(series_styles(list(at_x), codes), at_x.items()):
        ys = [points.get(v) for v in xs]
        colour = CATEGORICAL[i % len(CATEGORICAL)]
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": _list(ys),
                "name": str(name),
                "mode": "lines+markers",
                "connectgaps": False,
                "line": {"color": colour, "width": 2.5},
                "marker": {"symbol": SYMBOLS[i % len(SYMBOLS)], "size": 9, "color": colour},
                "hovertemplate": f"{name}<br>%{{x}}: %{{y:,.{digits}f}}<extra></extra>",
            }
        )
        known = [(v, y_) for v, y_ in zip(xs, ys) if not pd.isna(y_)]
        if known:
            alt_parts.append(
                f"{name} from {fmt(known[0][1], digits, unit)} in {known[0][0]} to "
                f"{fmt(known[-1][1], digits, unit)} in {known[-1][0]}"
                + (f" ({len(xs) - len(known)} periods without data)" if len(known) < len(xs) else "")
            )
        else:
            alt_parts.append(f"{name}: no data")
    # a bounded scale (the 0–100 index) is drawn whole, so a small change does not look like a big one
    yaxis = {"title": {"text": vertical_title(measure, unit, height)}}
    if y_range is not None:
        yaxis["range"] = list(y_range)
    fig = _figure(
        data,
        {"xaxis": {"type": "category", "categoryorder": "array", "categoryarray": xs}, "yaxis": yaxis},
        height=height,
        title=title,
    )
    alt = f"Line chart of {measure} over {len(xs)} periods ({xs[0]} to {xs[-1]})" if xs else f"Line chart of {measure}"
    return fig, alt + ": " + "; ".join(alt_parts) + "."


def distribution_by_group(
    df: pd.DataFrame,
    *,
    group: str,
    value: str,
    name: str,
    measure: str,
    group_labels: dict | None = None,
    digits: int = 1,
    height: int = 380,
    title: str | None = None,
) -> tuple[go.Figure, str]:
    """Box plot with every area drawn as a point, one box per group (tier). Groups are named on
    the axis, so colour is decoration only. Areas with no value are counted, not drawn."""
    d = df[[group, value, name]].copy()
    d[value] = pd.to_numeric(d[value], errors="coerce")
    labels = group_labels or {}
    data = []
    alt = []
    for i, (g, sub) in enumerate(d.groupby(group, sort=True)):
        have = sub.dropna(subset=[value])
        label = labels.get(g, str(g))
        data.append(
            {
                "type": "box",
                "x": _list(have[value]),
                "y": [label] * len(have),
                "name": label,
                "orientation": "h",
                "boxpoints": "all",
                "jitter": 0.4,
                "pointpos": 0,
                "text": have[name].tolist(),
                "marker": {"color": CATEGORICAL[i % 6], "size": 6, "symbol": SYMBOLS[i % 6], "opacity": 0.75},
                "line": {"color": DARK_GREY, "width": 1.5},
                "fillcolor": "rgba(0,0,0,0)",
                "hovertemplate": "%{text}: %{x:,." + str(digits) + "f}<extra></extra>",
            }
        )
        if len(have):
            q1, med, q3 = have[value].quantile([0.25, 0.5, 0.75])
            alt.append(
                f"{label}: median {fmt(med, digits)}, middle half {fmt(q1, digits)}–{fmt(q3, digits)}, "
                + _coverage(len(have), len(sub), "areas")
            )
        else:
            alt.append(f"{label}: no data for any of {len(sub)} areas")
    fig = _figure(
        data,
        {"xaxis": {"title": {"text": measure}}, "yaxis": {"showgrid": False}},
        height=height,
        title=title,
        legend=False,
    )
    return fig, f"Distribution of {measure} by group, each dot an area: " + "; ".join(alt) + "."


def rank_band_chart(
    df: pd.DataFrame,
    *,
    highlight: Iterable[str] = (),
    height: int = 420,
    title: str | None = None,
    subject: str = "areas",
) -> tuple[go.Figure, str]:
    """Caterpillar plot of rank uncertainty: areas ordered by median rank along the x axis, each
    with a vertical 5th–95th percentile band. Columns: ``area_code``, ``name``, ``rank``,
    ``median_rank``, ``p5``, ``p95``, ``robust``. Highlighted areas are orange, larger, and
    labelled by name (so they are found without colour). Areas without a rank are counted."""
    n_all = len(df)
    d = _by_median_rank(df)
    pos = np.arange(1, len(d["median_rank"]) + 1)
    hi = set(highlight)
    data = []
    outside = d["outside"]
    robust = d["robust"] & ~outside  # the card's three readings (rank_band_words), not the column as given
    uncertain = ~d["robust"] & ~outside
    for mask, label, color, symbol in (
        (robust, "robust rank (narrow band)", DARK_BLUE, "circle"),
        (uncertain, "uncertain rank (wide band)", TURQUOISE, "diamond"),
        (outside, "rank with these weights outside its band", DARK_PINK, "x"),
    ):
        if not mask.any():
            continue
        p5, p95, rank = _list(d["p5"][mask]), _list(d["p95"][mask]), _list(d["rank"][mask].astype(float))
        data.append(
            {
                **_band_points(d, pos, mask, color, thickness=1, width=0),
                "mode": "markers",
                "name": label,
                "marker": {"color": color, "size": 6 if symbol == "x" else 5, "symbol": symbol},
                "customdata": [[a, b, r] for a, b, r in zip(p5, p95, rank)],
                "hovertemplate": "%{text}<br>median rank %{y:.0f} (90% range %{customdata[0]:.0f}–%{customdata[1]:.0f})"
                "<br>rank with these weights %{customdata[2]:.0f}<extra></extra>",
            }
        )
    h = np.array([c in hi for c in d["area_code"]], dtype=bool)
    if h.any():
        data.append(
            {
                **_band_points(d, pos, h, ORANGE, thickness=3, width=6),
                "mode": "markers+text",
                "name": "selected",
                "textposition": "top center",
                "marker": {"color": ORANGE, "size": 13, "symbol": "star", "line": {"color": TEXT, "width": 1}},
                "hoverinfo": "skip",
            }
        )
    fig = _figure(
        data,
        {
            "yaxis": {"autorange": "reversed", "title": {"text": "Rank (1 = most enabling)"}},
            "xaxis": {"title": {"text": f"{subject.capitalize()} ordered by median rank"}, "showticklabels": False},
        },
        height=height,
        title=title,
    )
    n_rob, n_out, n_drawn = int(robust.sum()), int(outside.sum()), len(pos)
    alt = (
        f"Rank uncertainty for {n_drawn} {subject}: each point is an area's median rank over the simulations, "
        f"with a bar from its 5th to 95th percentile rank. {n_rob} of {n_drawn} ranks are robust "
        f"(narrow band), {int(uncertain.sum())} uncertain (wide band)"
        + (f", and for {n_out} {RANK_OUTSIDE_BAND}. " if n_out else ". ")
    )
    if n_all > n_drawn:
        alt += _not_drawn(n_all - n_drawn, "no index", _singular(subject), subject) + " "
    for at in np.flatnonzero(h):
        alt += f"{d['name'][at]}: median rank {d['median_rank'][at]:.0f}, 90% range {d['p5'][at]:.0f} to {d['p95'][at]:.0f}"
        if rank_outside_band(d["rank"][at], d["p5"][at], d["p95"][at]):
            alt += f"; rank {float(d['rank'][at]):.0f} with these weights: {RANK_OUTSIDE_BAND}"
        alt += ". "
    return fig, alt.strip()


def _band_points(d: dict, pos: np.ndarray, mask: np.ndarray, color: str, thickness: int, width: int) -> dict:
    """The rank-band trace of the areas of ``mask``: each at its place and median rank, named,
    with a bar from its 5th to its 95th percentile rank."""
    median = d["median_rank"][mask]
    return {
        "type": "scatter",
        "x": pos[mask].tolist(),
        "y": _list(median),
        "text": d["name"][mask].tolist(),
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": _list(d["p95"][mask] - median),
            "arrayminus": _list(median - d["p5"][mask]),
            "color": color,
            "thickness": thickness,
            "width": width,
        },
    }


def _by_median_rank(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The rank bands' columns as arrays, rows with a median rank ordered by it (then by rank);
    ``robust`` as True/False (unknown is not robust) and ``outside`` (:func:`rank_outside_band`,
    unknown is not outside)."""
    has = df["median_rank"].notna().to_numpy()
    cols = {c: df[c].to_numpy()[has] for c in ("area_code", "name", "rank", "median_rank", "p5", "p95", "robust")}
    order = np.lexsort((cols["rank"].astype(float), cols["median_rank"].astype(float)))
    out = {c: v[order] for c, v in cols.items()}
    for c in ("median_rank", "p5", "p95"):
        out[c] = out[c].astype(float)
    out["robust"] = np.array([False if pd.isna(v) else bool(v) for v in out["robust"]], dtype=bool)
    out["outside"] = np.array(
        [bool(rank_outside_band(r, a, b)) for r, a, b in zip(out["rank"], out["p5"], out["p95"])], dtype=bool
    )
    return out


def weights_scatter(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    group: str,
    name: str,
    group_labels: dict | None = None,
    height: int = 420,
    title: str | None = None,
    highlight: str | None = None,
    code: str = "area_code",
) -> tuple[go.Figure, str]:
    """Each area's index with the default weights (x) against its index with the chosen weights
    (y), one colour *and* marker shape per comparison group, with the line of no change: areas
    off the line are the ones the weights move. Areas without both values are counted."""
    d = df[[x, y, group, name]].copy()
    n_all = len(d)
    d = d.dropna(subset=[x, y])
    hover = "%{text}<br>default weights %{x:.1f} → your weights %{y:.1f}<extra></extra>"
    data = [_NO_CHANGE_LINE] + _group_traces(d, group, x, y, name, group_labels or {}, hover)
    mine = df[(df[code] == highlight) & df[x].notna() & df[y].notna()] if highlight and code in df else df.iloc[:0]
    if len(mine):  # the user's council: a large ringed marker, named beside it
        data.append(
            {
                "type": "scatter",
                "x": _list(mine[x]),
                "y": _list(mine[y]),
                "mode": "markers+text",
                "name": f"Selected: {mine[name].iloc[0]}",
                "text": mine[name].tolist(),
                "textposition": "top center",
                "marker": {"color": "rgba(0,0,0,0)", "size": 16, "line": {"color": DARK_GREY, "width": 3}},
                "hovertemplate": hover,
            }
        )
    fig = _figure(
        data,
        {
            "xaxis": {"title": {"text": "Index with the default weights"}, "range": [-2, 102]},
            "yaxis": {"title": {"text": "Index with your weights"}, "range": [-2, 102]},
        },
        height=height,
        title=title,
    )
    diff = (d[y] - d[x]).abs()
    alt = (
        f"Scatter plot of {len(d)} areas: index with the default weights across, with your weights up; the "
        f"dashed line is no change. "
    )
    alt += _largest_change(d, diff, x=x, y=y, name=name)
    if n_all > len(d):
        alt += " " + _not_drawn(n_all - len(d), "no index", "area")
    return fig, alt


_NO_CHANGE_LINE = {
    "type": "scatter",
    "x": [0, 100],
    "y": [0, 100],
    "mode": "lines",
    "name": "no change",
    "line": {"color": DARK_GREY, "width": 1, "dash": "dash"},
    "hoverinfo": "skip",
}


def _group_traces(
    d: pd.DataFrame,
    group: str,
    x: str,
    y: str,
    name: str,
    labels: dict,
    hover: str,
    *,
    opacity: float = 0.8,
    customdata: str | None = None,
) -> list[dict]:
    """One scatter trace per comparison group (sorted; areas without a group are left out), each
    with its own colour *and* marker shape, so groups are told apart without colour."""
    col = {c: d[c].to_numpy() for c in dict.fromkeys((group, x, y, name, customdata or name))}
    data = []
    for i, g in enumerate(sorted({g for g in col[group] if not pd.isna(g)})):
        m = col[group] == g
        trace = {
            "type": "scatter",
            "x": _list(col[x][m]),
            "y": _list(col[y][m]),
            "mode": "markers",
            "name": labels.get(g, str(g)),
            "text": col[name][m].tolist(),
            "marker": {"color": CATEGORICAL[i % 6], "symbol": SYMBOLS[i % 6], "size": 7, "opacity": opacity},
            "hovertemplate": hover,
        }
        if customdata:
            trace["customdata"] = col[customdata][m].tolist()
        data.append(trace)
    return data


def _largest_change(d: pd.DataFrame, diff: pd.Series, *, x: str, y: str, name: str) -> str:
    """How far the areas move off the no-change line; that no score changed (to one decimal) when none did."""
    if not len(d):
        return ""
    moved = int((diff > 0.05).sum())
    if moved == 0:
        return "No area's index changes (to one decimal): every area is on the line."
    far = d.loc[diff.idxmax()]
    return (
        f"{counted(moved, 'area')} {'moves' if moved == 1 else 'move'} off the line; the largest change is {far[name]} "
        f"({far[x]:.1f} → {far[y]:.1f})."
    )


def _view_range(values: pd.Series, pad: float = 0.15) -> list[float] | None:
    """An axis range over the 1st–99th percentiles and zero, padded: a few extreme areas (the City of
    London's spending per resident is many times anyone else's) would otherwise squeeze every other
    area into a dot. None (autorange) for fewer than 20 values."""
    v = values.dropna().to_numpy(dtype=float)
    if v.size < 20:
        return None
    lo, hi = np.percentile(v, [1, 99])
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = (hi - lo) or 1.0
    return [float(lo - pad * span), float(hi + pad * span)]


#: Where each quadrant's name is written on the quadrant chart (paper coordinates).
_QUADRANT_CORNERS = {
    "enabling shift": (0.01, 0.99, "left", "top"),
    "retreat": (0.01, 0.01, "left", "bottom"),
    "co-investment": (0.99, 0.99, "right", "top"),
    "provider growth": (0.99, 0.01, "right", "bottom"),
}


def _two_lines(meaning: str) -> str:
    """'council spending down, community money up' as two short lines, so the four corner labels of
    a quadrant chart do not run into each other on a phone."""
    first, _, second = meaning.partition(", ")
    return f"{first},<br>{second}" if second else first


def quadrant_chart(
    placed: pd.DataFrame,
    *,
    highlight: Iterable[str] = (),
    group_labels: dict | None = None,
    height: int = 460,
    title: str | None = None,
) -> tuple[go.Figure, str]:
    """The shift as two movements: change in council spending per head (x) against change in
    community money per head (y), one colour and marker shape per group, zero lines dividing the
    four named quadrants. ``highlight`` codes are drawn large and labelled. Areas with "not
    enough data" are not drawn and are counted in the alt text. Each axis names its span (from
    ``placed.attrs``, see :func:`powerbalance.quadrants.place_areas`) and says the pounds are nominal."""
    from .quadrants import NOT_ENOUGH, span_label

    s_span, c_span = (" → ".join(placed.attrs.get(k) or ("?", "?")) for k in ("spend_span", "community_span"))
    d = placed[placed["quadrant"] != NOT_ENOUGH]
    d.attrs = {}  # read above; pandas would deep-copy them into every frame and series made from d
    hl = set(highlight)
    data = _group_traces(
        d,
        "group",
        "d_spend",
        "d_community",
        "name",
        group_labels or {},
        _QUADRANT_HOVER,
        opacity=0.45 if hl else 0.8,
        customdata="area_code",
    )
    mine = d[d["area_code"].isin(hl)] if hl else d.iloc[:0]
    if not mine.empty:
        data.append(_quadrant_highlight_trace(mine))
    zero = {"zeroline": True, "zerolinecolor": DARK_GREY, "zerolinewidth": 2}
    xr, yr = _view_range(d["d_spend"]), _view_range(d["d_community"])
    layout = {
        "xaxis": {
            **zero,
            "range": xr,
            "title": {"text": f"Council spending a head on the place<br>change {s_span} (£, nominal)"},
        },
        "yaxis": {**zero, "range": yr, "title": {"text": f"Community money a head<br>change {c_span} (£)"}},
        "annotations": _quadrant_corner_notes(),
    }
    fig = _figure(data, layout, height=height, title=title)
    alt = _quadrant_alt(d, mine, span_label(placed), xr, yr)
    gone = len(placed) - len(d)
    if gone:
        alt += " " + _not_drawn(gone, "not enough data (a year missing)", "area")
    return fig, alt


_QUADRANT_HOVER = (
    "%{text}<br>councils' spending per head on the place %{x:+,.0f} £<br>community money per head %{y:+,.2f} £"
    "<extra></extra>"
)


def _quadrant_highlight_trace(mine: pd.DataFrame) -> dict:
    """The highlighted areas: large orange stars, labelled."""
    return {
        "type": "scatter",
        "x": _list(mine["d_spend"]),
        "y": _list(mine["d_community"]),
        "mode": "markers+text",
        "name": "highlighted",
        "text": mine["name"].tolist(),
        "customdata": mine["area_code"].tolist(),
        "textposition": "top center",
        "marker": {"color": ORANGE, "symbol": "star", "size": 14, "line": {"color": TEXT, "width": 1}},
        "hovertemplate": _QUADRANT_HOVER,
    }


def _quadrant_corner_notes() -> list[dict]:
    """Each quadrant's name and meaning in its corner, on two short lines (they fit a phone)."""
    from .quadrants import QUADRANT_MEANING

    return [
        {
            "x": x,
            "y": y,
            "xref": "paper",
            "yref": "paper",
            "xanchor": xa,
            "yanchor": ya,
            "showarrow": False,
            "text": f"<b>{q}</b><br>" + _two_lines(QUADRANT_MEANING[q]),
            "font": {"size": 11, "color": DARK_GREY},
            "align": xa,
        }
        for q, (x, y, xa, ya) in _QUADRANT_CORNERS.items()
    ]


def _quadrant_alt(d: pd.DataFrame, mine: pd.DataFrame, span: str, xr, yr) -> str:
    """The chart in words: areas in each quadrant, on an axis, the highlighted ones, and those
    outside the view."""
    from .quadrants import NO_CHANGE, QUADRANT_MEANING, QUADRANTS, money

    n = d["quadrant"].value_counts()
    parts = "; ".join(f"{int(n.get(q, 0))} {q} ({QUADRANT_MEANING[q]})" for q in QUADRANTS.values())
    alt = (
        f"Scatter plot of {len(d)} areas: change in council spending per head across, change in community money "
        f"(parish precepts and community grants) per head up; {span}. {parts}."
    )
    if int(n.get(NO_CHANGE, 0)):
        alt += f" {int(n.get(NO_CHANGE, 0))} on an axis (no change)."
    for name, quadrant in zip(mine["name"], mine["quadrant"]):
        alt += f" {name}: {quadrant}."
    outside = d[
        ~d["d_spend"].between(*(xr or (-np.inf, np.inf))) | ~d["d_community"].between(*(yr or (-np.inf, np.inf)))
    ]
    if len(outside):
        top = outside.head(5)
        named = ", ".join(
            f"{name} ({money(s_)}, {money(c_)})"
            for name, s_, c_ in zip(top["name"], top["d_spend"], top["d_community"])
        )
        alt += (
            f" {len(outside)} lie outside the view (every value is in the table): {named}"
            + (" …" if len(outside) > 5 else "")
            + "."
        )
    return alt


def line_chart_with_intervals(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    lo: str,
    hi: str,
    series: str,
    measure: str,
    unit: str = "",
    digits: int = 1,
    height: int = 360,
    x_order: Sequence[str] | None = None,
    code: str | None = None,
) -> tuple[go.Figure, str]:
    """:func:`line_chart` with each point's published confidence interval as an error bar (none
    where no interval is published). Missing periods still break the line."""
    fig, alt = line_chart(
        df,
        x=x,
        y=y,
        series=series,
        measure=measure,
        unit=unit,
        digits=digits,
        height=height,
        x_order=x_order,
        code=code,
    )
    xs = list(x_order) if x_order else sorted(pd.unique(df[x]).tolist())
    for trace in fig.data:
        s = df[df[series] == trace.name].drop_duplicates(x).set_index(x).reindex(xs)
        up = pd.to_numeric(s[hi], errors="coerce") - pd.to_numeric(s[y], errors="coerce")
        down = pd.to_numeric(s[y], errors="coerce") - pd.to_numeric(s[lo], errors="coerce")
        if up.notna().any():
            trace.error_y = {
                "type": "data",
                "symmetric": False,
                "array": _list(up),
                "arrayminus": _list(down),
                "visible": True,
                "thickness": 1.5,
                "width": 4,
            }
    n_ci = int(pd.to_numeric(df[lo], errors="coerce").notna().sum())
    return fig, alt[:-1] + f"; error bars show the 95% confidence interval where published ({n_ci} points)."
