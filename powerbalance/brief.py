"""A one-page printable brief on one area (HTML, A4), for a councillor to print or save as PDF.

The brief is a self-contained HTML document: inline CSS only, no scripts, no fonts or images
from anywhere, so it prints the same offline. Every value that comes from the data — names,
notes, indicator labels, even numbers — passes through :func:`html.escape`, so a name such as
``<script>`` in a source file is printed as text, never run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import pandas as pd

from . import relationship
from .charts import fmt, rank_band_words, rank_move_text
from .labels import enabler_ratio_words

TYPE_LABELS = {
    "shire_district": "shire district council",
    "unitary": "unitary council",
    "metropolitan_district": "metropolitan district council",
    "london_borough": "London borough council",
    "city_of_london": "City of London Corporation",
    "county": "county council",
    "region": "region",
    "ward": "electoral ward",
    "country": "country",
    "combined_authority": "combined authority",
}

_CSS = """
@page { size: A4; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: Arial, Helvetica, sans-serif; font-size: 8pt; color: #0B0C0C; margin: 0; line-height: 1.25; }
h1 { font-size: 15pt; margin: 0 0 1mm; color: #12436D; }
h2 { font-size: 10pt; margin: 2.2mm 0 0.8mm; color: #12436D; border-bottom: 1px solid #12436D; }
p { margin: 0 0 1.5mm; }
.meta { color: #3D3D3D; font-size: 8pt; }
.key { display: flex; gap: 3mm; margin: 2mm 0; }
.key div { flex: 1; border: 1px solid #3D3D3D; padding: 1.5mm 2.5mm; font-size: 8.5pt; }
.key b { display: block; font-size: 13pt; }
table { border-collapse: collapse; width: 100%; font-size: 7.5pt; table-layout: fixed; overflow-wrap: anywhere; }
th, td { text-align: left; padding: 0.5mm 1.2mm; border-bottom: 1px solid #D9D9D9; vertical-align: top; }
th { background: #F3F2F1; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
.bar { display: inline-block; height: 3mm; background: #12436D; vertical-align: middle; }
.nodata { color: #3D3D3D; font-style: italic; }
.cols { display: flex; gap: 5mm; }
.cols > section { flex: 1; min-width: 0; }
ul.out { margin: 0 0 1mm; padding-left: 4mm; }
ul.out li { margin: 0 0 0.5mm; }
footer { margin-top: 2mm; font-size: 6pt; color: #3D3D3D; }
footer p { margin: 0 0 0.8mm; }
body { max-width: 190mm; }
@media screen { body { margin: 8mm auto; padding: 0 4mm; } }
"""


#: A brief is one A4 page: the first indicators with a value, and at most this many wards
#: (the dashboard and its downloads have every ward and every indicator).
WARD_COLUMNS = 4
WARD_ROWS = 8  # 8, not 10, since the brief names the area's quadrant (enabling or retreating)
INDICATOR_ROWS = 5  # 5, not 7, since the brief also says what stands out and the latest year
#: Rows given up by the ward table when "what stands out" is printed (so the brief stays one page).
STAND_OUT_ROOM = 6
#: At most this many reasons for missing indicators are printed, one line each (more are counted),
#: plus one for each row the indicator table leaves free.
MISSING_REASONS = 2
#: At most this many districts in a county's brief (a county has no ward table; 8 rows still fit on
#: the page with "what stands out" for every county, year and lens: 6 keeps a margin).
DISTRICT_ROWS = 6


def _short_coverage(text) -> str:
    """'based on 295 of 296 districts with a value' → '295 of 296'."""
    m = re.search(r"(\d[\d,]*) of (\d[\d,]*)", str(text or ""))
    return f"{m.group(1)} of {m.group(2)}" if m else str(text or "")


def e(value) -> str:
    """Escape anything for HTML text (None/NaN → 'no data')."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return '<span class="nodata">no data</span>'
    return html.escape(str(value), quote=True)


def _num(value, digits: int = 1, unit: str = "") -> str:
    text = fmt(value, digits, unit)
    return '<span class="nodata">no data</span>' if text == "no data" else html.escape(text)


def _table(df: pd.DataFrame, columns: Iterable[tuple[str, str, str]], max_rows: int | None = None) -> str:
    """Rows of ``df`` as an HTML table. ``columns`` = (column, heading, kind) with kind 'text',
    'num', 'num0', 'num2' (decimals) or 'bar' (a 0–100 score drawn as a bar *and* written as a number)."""
    cols = list(columns)
    head = "".join(f'<th class="{"num" if k != "text" else ""}">{e(h)}</th>' for _, h, k in cols)
    body = []
    rows = df if max_rows is None else df.head(max_rows)
    for _, r in rows.iterrows():
        cells = []
        for c, _, kind in cols:
            v = r.get(c)
            if kind == "text":
                cells.append(f"<td>{e(v)}</td>")
            elif kind in ("num0", "num2"):
                cells.append(f'<td class="num">{_num(v, int(kind[-1]))}</td>')
            elif kind == "bar":
                width = 0.0 if pd.isna(v) else max(0.0, min(100.0, float(v))) * 0.3
                bar = f'<span class="bar" style="width:{width:.1f}mm"></span> ' if not pd.isna(v) else ""
                cells.append(f'<td class="num">{bar}{_num(v, 1)}</td>')
            else:
                cells.append(f'<td class="num">{_num(v, 1)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = f'<p class="meta">Showing {max_rows} of {len(df)} rows; the dashboard has the full table.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _quadrant_line(text: str | None) -> str:
    """'retreat — council spending … ' → one line: the quadrant in bold, then the changes."""
    if not text:
        return ""
    name, _, detail = text.partition(" — ")
    return f'<p class="meta">Enabling or retreating? <b>{e(name)}</b>: {e(detail)}.</p>'


def render(profile) -> str:
    """The brief for an :class:`powerbalance.queries.AreaProfile` as one HTML document (str)."""
    p = profile
    parts = [
        _heading(p),
        _ward_uses_council_note(p),
        _reorganised_note(p),
        _index_section(p),
        _latest_section(p),
        _stand_out_html(getattr(p, "stand_out", None)),
        _columns_section(p),
        _indicators_section(p),
        _wards_section(p),
        _districts_section(p),
        _footer(p),
    ]
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Power Balance brief: {e(p.name)}</title><style>{_CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def _heading(p) -> str:
    """Title and one line naming the area's kind, code, the places it lies in, year, lens and weights."""
    kind = TYPE_LABELS.get(p.type, p.type)
    parents = (p.parent_names.get("district"), p.parent_names.get("county"), p.parent_names.get("region"))
    place = ", ".join(x for x in parents if x and x != p.name)
    weights = ", ".join(f"{d} {w:.0%}" for d, w in p.weights.items())
    return (
        f"<h1>Power Balance brief: {e(p.name)}</h1>"
        f'<p class="meta">{e(kind)} · {e(p.code)}{" · " + e(place) if place else ""} · financial year '
        f"{e(p.period)} · {e(p.lens)} lens · domain weights {e(weights)}</p>"
    )


def _reorganised_note(p) -> str:
    """For a council formed since 2019: its years before it existed are the sums of its predecessors."""
    text = getattr(p, "reorganised", "")
    return f'<p class="meta"><b>{e(p.council_name or p.name)}:</b> {e(text)}</p>' if text else ""


def _ward_uses_council_note(p) -> str:
    if not (p.council_code and p.council_code != p.code):
        return ""
    return (
        f"<p>Wards have no spending data, so the index below is that of the council area "
        f"<b>{e(p.council_name)}</b> ({e(p.council_code)}); the ward's own figures follow.</p>"
    )


def _index_section(p) -> str:
    """The index, its rank with its range, the enabler ratio's move and the quadrant; or why there is
    no index."""
    ix = p.index or {}
    if not ix or pd.isna(ix.get("index")):
        reason = ix.get("reason") if ix else "not an area the index covers"
        return f"<p><b>No index value</b> for {e(p.council_name or p.name)} in {e(p.period)}: {e(reason)}.</p>"
    span, reading = rank_band_words(p.band)
    band_text = span + (f" ({reading})" if reading else "")
    ratio_name, ratio_unit = enabler_ratio_words(p.lens)
    ratio = (
        f"<div>{e(ratio_name)} {e(p.shift.get('from_period'))} → {e(p.shift.get('to_period'))}"
        f"<b>{_num(p.shift.get('ratio_from'), 2)} → {_num(p.shift.get('ratio_to'), 2)}</b>"
        f"{e(ratio_unit)} "
        f"({_ratio_direction(p.shift)}); index {_rank_move(p.shift)}</div>"
        if p.shift
        else ""
    )
    return (
        '<div class="key">'
        f"<div>Provider → Enabler index<b>{_num(ix.get('index'), 1)}</b>0 = most providing, "
        f"100 = most enabling, within {e(p.group_label)}</div>"
        f"<div>Rank<b>{_num(ix.get('rank'), 0)} of {_num(ix.get('n_in_group'), 0)}</b>{band_text}</div>"
        + ratio
        + "</div>"
        + _quadrant_line(p.quadrant)
    )


def _columns_section(p) -> str:
    """Domain scores and the index over time on the left; statistical neighbours on the right."""
    left, right = [], []
    if p.domains is not None and len(p.domains):
        columns = [("domain", "Domain", "text"), ("score", "Score", "bar"), ("weight_pct", "Weight %", "num0")]
        left.append("<h2>Domain scores (0–100)</h2>" + _table(p.domains, columns))
    if p.trend is not None and len(p.trend):
        columns = [
            ("period", "Year", "text"),
            ("index", "Index", "num"),
            ("rank", "Rank", "num0"),
            ("enabler_ratio", enabler_ratio_words(p.lens)[0], "num"),
        ]
        left.append("<h2>Over time</h2>" + _table(p.trend, columns))
    if p.peers is not None and len(p.peers):
        columns = [("name", "Council", "text"), ("index", "Index", "num"), ("rank", "Rank", "num0")]
        right.append("<h2>Statistical neighbours</h2>" + _table(p.peers, columns, max_rows=6))
    return f'<div class="cols"><section>{"".join(left)}</section><section>{"".join(right)}</section></div>'


def _indicators_section(p) -> str:
    """The area's own figures: the indicators with a value (catalogue order, at most
    :data:`INDICATOR_ROWS`), then the ones without, named in one line per reason the build gives
    (a ward of a district whose wards were redrawn has no grants or parish figures, and says why), so
    a missing figure is never printed without its reason nor takes the room of a figure the area has."""
    if p.indicators is None or not len(p.indicators):
        return ""
    ind = p.indicators.assign(cover=[_short_coverage(c) for c in p.indicators["coverage"]])
    has = ind["value"].notna()
    columns = [
        ("name", "Indicator", "text"),
        ("period", "Year", "text"),
        ("value_text", "Value", "text"),
        ("cover", "Areas with data", "text"),
    ]
    table = _table(ind[has], columns, max_rows=INDICATOR_ROWS) if has.any() else ""
    room = MISSING_REASONS + max(0, INDICATOR_ROWS - int(has.sum()))  # rows the table leaves free
    return f"<h2>Indicators ({e(p.period)} where available)</h2>" + table + _missing_indicators(ind[~has], room)


def _missing_reason(note) -> str:
    """A missing value's note without its 'missing: ' prefix; 'no reason recorded' when there is none."""
    text = str(note).strip() if isinstance(note, str) else ""
    return re.sub(r"^missing:\s*", "", text) or "no reason recorded"


def _missing_indicators(missing: pd.DataFrame, reasons_max: int = MISSING_REASONS) -> str:
    """'No data for Wards that are parished, Parishes per 10,000 residents (2019): the district's 2019
    wards were redrawn, so this ward's parishes are not known.' — one line per reason, at most
    ``reasons_max`` of them (the rest counted)."""
    if not len(missing):
        return ""
    by_reason: dict[str, list[str]] = {}
    for name, period, note in zip(missing["name"], missing["period"], missing["note"]):
        by_reason.setdefault(_missing_reason(note), []).append(f"{name} ({period})")
    reasons = list(by_reason.items())
    lines = "".join(
        f'<p class="meta"><span class="nodata">No data</span> for {e(", ".join(names))}: {e(reason)}.</p>'
        for reason, names in reasons[:reasons_max]
    )
    rest = sum(len(names) for _, names in reasons[reasons_max:])
    if rest:
        lines += (
            f'<p class="meta"><span class="nodata">No data</span> for {rest} more indicator{"s" if rest > 1 else ""}'
            ", for other reasons: the dashboard's indicator table gives each.</p>"
        )
    return lines


def _wards_section(p) -> str:
    """The council's wards (a ward's brief puts its own row first, marked), leaving room for the
    "what stands out" list when there is one."""
    if p.wards is None or not len(p.wards):
        return ""
    values = [c for c in p.wards.columns if c not in ("code", "name")][:WARD_COLUMNS]
    wards = p.wards
    if "code" in wards and p.code in set(wards["code"]):
        mine = wards["code"] == p.code
        wards = pd.concat([wards[mine].assign(name=wards.loc[mine, "name"] + " (this ward)"), wards[~mine]])
    stand_out = getattr(p, "stand_out", None)
    rows = WARD_ROWS - (STAND_OUT_ROOM if stand_out is not None and len(stand_out) else 0)
    columns = [("name", "Ward", "text")] + [(c, c, "num") for c in values]
    return f"<h2>Wards in {e(p.council_name or p.name)} ({len(p.wards)})</h2>" + _table(wards, columns, max_rows=rows)


def _footer(p) -> str:
    return (
        "<footer>"
        + relationship.brief_html(p.code, e)
        + f"<p>Built {e(p.built_at)} (build {e(p.build_id)}). Missing values are shown as “no data”, never "
        "as zero. Context (deprivation, population) is shown beside the index, never added into it.</p>"
        f"<p>Sources: {e('; '.join(p.attributions))}</p></footer>"
    )


def _districts_section(p) -> str:
    """A county's districts with their own index, rank among all shire districts and enabler ratio (the
    My area page's "which parts differ"), most enabling first; at most DISTRICT_ROWS of them, so the
    brief stays one page ('' for any other area)."""
    districts = getattr(p, "districts", None)
    if districts is None or not len(districts):
        return ""
    n_group = districts["n_in_group"].dropna()
    among = f"all {_num(n_group.max(), 0)} shire districts" if len(n_group) else "all shire districts"
    with_index = int(districts["index"].notna().sum())
    return (
        f"<h2>Districts in {e(p.name)} ({len(districts)}): which parts differ</h2>"
        f'<p class="meta">Each district\'s own index in {e(p.period)}, ranked among {among} in England, not '
        f"within the county; {with_index} of {len(districts)} have an index.</p>"
        + _table(
            districts,
            [
                ("name", "District", "text"),
                ("index", "Index", "bar"),
                ("rank", "Rank", "num0"),
                ("enabler_ratio", "Enabler ratio", "num2"),
            ],
            max_rows=DISTRICT_ROWS,
        )
    )


def _rank_move(shift: dict) -> str:
    """The index rank's move over the shift's years, in words ('rank 66 → 64 (up 2 places)')."""
    if shift.get("rank_from") is None or pd.isna(shift.get("rank_from")) or pd.isna(shift.get("rank_to")):
        return 'rank: <span class="nodata">no data</span>'
    return html.escape(rank_move_text(shift["rank_from"], shift["rank_to"]))


def _ratio_direction(shift: dict) -> str:
    """Which way the enabler ratio moved: the words follow the sign of the change."""
    change = shift.get("ratio_shift")
    if change is None or pd.isna(change):
        return "change: no data"
    return "unchanged" if round(float(change), 2) == 0 else ("up" if change > 0 else "down") + f" {abs(change):.2f}"


def _latest_section(p) -> str:
    """Spending and parish precepts at their latest year, with the longest shift, each naming its
    years (they run past the index years: see queries.INDEX_YEARS_NOTE)."""
    latest = getattr(p, "latest", None)
    if latest is None or not len(latest):
        return ""
    from .queries import latest_lines

    with_shift = latest[latest["shift_period"].notna()]  # the two measures with a longest shift
    lines = " · ".join(e(line) for line in latest_lines(with_shift if len(with_shift) else latest))
    return (
        f'<p class="meta"><b>Latest year, {e(p.council_name or p.name)}:</b> {lines}. No index after '
        "2017-18: the grants data end in 2018.</p>"
    )


def _stand_out_html(stand_out) -> str:
    """'What stands out' against the statistical neighbours as a short list ('' when none)."""
    if stand_out is None or not len(stand_out):
        return ""
    items = "".join(
        f"<li>{e(r.name)} ({e(r.period)}): <b>{_num(r.value, 1, r.unit)}</b>"
        f"{f' ({e(r.partial)})' if isinstance(r.partial, str) and r.partial else ''}, neighbours' median "
        f"{_num(r.neighbours_median, 1, r.unit)} — {e(r.leaning)}</li>"
        for r in stand_out.itertuples(index=False)
    )
    return (
        '<h2>What stands out against the statistical neighbours (same year; rule on the Method page)</h2>'
        f'<ul class="out">{items}</ul>'
    )


#: WeasyPrint's PDF variant for the brief: PDF/UA-1 (tagged, with the document's language and
#: title, for screen readers), the accessible profile the installed WeasyPrint writes.
PDF_VARIANT = "pdf/ua-1"


def brief_pdf(profile) -> bytes:
    """The brief of :func:`render` as a one-page A4 PDF (tagged PDF/UA-1), rendered on the server
    with WeasyPrint from the same escaped HTML, so names print as text and never run."""
    from weasyprint import HTML  # imported on use: the system libraries it loads are big

    return HTML(string=render(profile)).write_pdf(pdf_variant=PDF_VARIANT)
