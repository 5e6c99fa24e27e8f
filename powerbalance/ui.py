"""Shared Streamlit helpers for the pages — imported only by pages/, never by the rest of
powerbalance (which must not need Streamlit).

- **Cached queries**: :func:`q` calls a function of :mod:`powerbalance.queries` through a store
  of this process (``db.Kept``) keyed on ``db.build_key()`` and the arguments, and hands out fresh
  copies (``db.fresh``), so a new build is picked up on the next rerun and two builds are never mixed.
- **URL state**: the ``url_*`` widgets read their initial value from ``st.query_params`` and
  write it back, so a link reproduces the view (area, level, indicator, year, weights …).
- **Charts and tables**: :func:`chart` shows a figure with its alt text (caption + help) and
  its data table with CSV/XLSX downloads beside it; :func:`table` shows any table with
  downloads; :func:`coverage` says "based on N of M"; :func:`no_data` says what is missing.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from . import charts, config, db, funders, labels, lenses, quadrants, queries, share, urlstate
from .downloads import to_csv_bytes, to_xlsx_bytes
from .index import DEFAULT_LENS, LENSES, normalise_weights, nothing_measured, unmeasured_domains

_SEEN = "_pb_url_seen::"
_RUN = "_pb_run"  # runs of this session (start_page), to see a widget re-mounted
_SHOWN = "_pb_shown_in_run::"
_SHARED = "_pb_shared_in_run"  # the run whose share line is drawn (one a page)
LAST_AREA = "_pb_last_area"
#: Page files as registered by dashboard.py (one place to change if the folder is renamed).
MY_AREA = "pages/my_area_page.py"
COMPARE = "pages/compare_page.py"
#: View state that follows the user: kept in the session, mirrored to the URL on every page run
#: (Streamlit's sidebar navigation drops the query string), read from the URL first when a page is
#: opened by a link. ``areas`` holds the councils picked by hand on Compare (its "Councils I pick").
CARRIED = ("area", "weights", "group", "year", "lens", "areas")
_VIEW = "_pb_view::"
_WEIGHTS_APPLY = "_pb_weights_apply"
_WEIGHTS_NOTICE = "_pb_weights_notice"  # why a link's weights were not used, said by page_header
_PUBLISHED_AREA = "_pb_published_area"
_FALLBACK = "_pb_fallback::"
_OWN_VIEW = "_pb_own_view::"  # + page: the page's own parameters (level, issues, …) it last showed
_AREA_NOTICE = "_pb_area_notice"  # what became of an area code in a link, said by page_header
_UNAVAILABLE = "_pb_unavailable::"  # (asked, shown, first, last) of a widget whose URL value it lacks
#: Said when a link's area code is neither a current area nor a former one ``area_code_map`` knows.
UNKNOWN_AREA = (
    "The area code in this address was not recognised: it is not the code of any current or former area "
    "in England, so it was ignored and this page opens as it would without it."
)
LENS_LABELS = {
    "community": "Community (spending shown, not scored)",
    "place": "Place (all councils' spend in the area)",
    "council": "Council (its own spend)",
}
#: Lens choices on the pages, the default (index.DEFAULT_LENS) first.
LENS_OPTIONS = ["community", "place", "council"]
LENS_HELP = (
    "Community: community money, projects and parishes are scored; council spending is context, so a cut "
    "cannot raise a rank. Place: spending by every council serving the area, scored as providing. "
    "Council: the council's own budget, compared only with councils of the same tier."
)
#: What each lens scores, as Compare and the Overview promise it beside their like-with-like groups
#: (docs/methodology.md, "Comparing like with like"): only the council lens rates a council on its
#: own services alone; the place lens rates a shire district's place, county services included.
LENS_PROMISE = {
    "community": (
        "The community lens scores community money, projects and parishes; council spending is shown, "
        "not scored, so no council is rated on spending at all."
    ),
    "place": (
        "The place lens scores spending on the place by every council serving it: a shire district's "
        "figure includes its share of its county's spending (social care, education, highways), so it "
        "rates the place, not the district council alone."
    ),
    "council": (
        "The council lens scores each council's own spending, so a shire district is never rated on "
        "social care it does not run."
    ),
}


# =============================================================================================
# Database and cache
# =============================================================================================


def build_key() -> str:
    """The current build's key; stops the page with an explanation when there is no database."""
    try:
        return db.build_key()
    except db.DatabaseMissing:
        st.error(
            "The Power Balance database has not been built yet. Run `make db` (or "
            "`python -m etl build`) and reload this page."
        )
        st.stop()
        raise  # unreachable: st.stop() raises


#: Our own static stylesheet (no data in it). Streamlit draws captions in a faded text colour
#: that is below the WCAG AA 4.5:1 contrast for small text on white; chart descriptions live in
#: captions, so they get the AF dark grey (#3D3D3D, 10.4:1) at full opacity (Streamlit also fades
#: the caption box to 0.6, which turns #3D3D3D into #8B8B8B, 3.4:1: axe-core's finding).
#: On a phone (issue 17): maps do not take taps (a tap on a map left the page and a drag on it could not
#: scroll the page): their data tables below are the way in. (Plotly's mode bar is off everywhere:
#: ``charts.PLOTLY_CONFIG``.) Nothing is moved with CSS ``order``: what is seen comes in the order it is read and
#: tabbed through (review: My area's headline moved above its title and controls on a phone, so its
#: h2 came before the h1 and Tab jumped back up the page; WCAG 1.3.2, 2.4.3).
_CSS = """<style>
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #3D3D3D; opacity: 1; }
@media (max-width: 640px) {
  .js-plotly-plot .maplibregl-canvas-container, .js-plotly-plot .mapboxgl-canvas-container,
  .js-plotly-plot .maplibregl-canvas, .js-plotly-plot .mapboxgl-canvas { pointer-events: none !important; }
}
</style>"""
#: Key of the container a page puts its headline figures in (the place's name and figures).
HEADLINE = "headline"
#: Anchor of My area's one-page brief heading, which a link under the place's name jumps to.
BRIEF_ANCHOR = "brief"


def start_page() -> None:
    """First call of every page: stop with an explanation when there is no database, add the
    accessibility stylesheet, and put the view the user carries (area, weights, group, year,
    lens, councils picked) back into the URL when a navigation dropped it."""
    build_key()
    st.session_state[_RUN] = st.session_state.get(_RUN, 0) + 1  # for _remounted
    st.html(_CSS)
    st.session_state.pop(_WEIGHTS_APPLY, None)
    st.session_state.pop(_WEIGHTS_NOTICE, None)
    carry_view()
    restore_page_view()


#: Modules whose functions pages call through :func:`q`: read-only answers from the published build.
QUERY_MODULES = {m.__name__: m for m in (queries, funders)}


#: Query answers (and what ``q_then`` makes from them) and figures kept for every session of this
#: process, by build and arguments (a dictionary look-up: Streamlit's own caches hashed every
#: argument through ``inspect`` on each call, a sixth of a warm page's CPU); tables are in ``_ARROW``.
_ANSWERS = db.Kept(maxsize=512)
_FIGURES = db.Kept(maxsize=512, fresh=False)


def forget_all() -> None:
    """Empty the kept answers, figures and Arrow tables (tests; the benchmark's cold runs)."""
    _ANSWERS.cache_clear()
    _FIGURES.cache_clear()
    _ARROW.cache_clear()


def _cached(module: str, name: str, key: str, args: tuple, kwargs: dict) -> Any:
    """``<module>.<name>(*args, **kwargs)`` on the build identified by ``key``, kept as the object
    itself (not pickled and unpickled on every read, as ``st.cache_data`` does) and handed out as a
    fresh copy (``db.fresh``), so no page can change it."""
    return _ANSWERS.get(
        (key, module, name, db.freeze(args), db.freeze(kwargs)),
        lambda: getattr(QUERY_MODULES[module], name)(*args, **kwargs),
    )


def _query(fn: Callable) -> tuple[str, str]:
    """(module, name) of a query function; anything else is refused (the cache is shared by every
    session, so only functions of the published build's read-only modules may go through it)."""
    module, name = getattr(fn, "__module__", None), getattr(fn, "__name__", None)
    if module not in QUERY_MODULES or getattr(QUERY_MODULES[module], name, None) is not fn:
        raise ValueError(f"{module}.{name} is not a query function of {sorted(QUERY_MODULES)}")
    return module, name


def q(fn: Callable, *args, **kwargs) -> Any:
    """Cached call of a query function on the current build: ``ui.q(queries.shifts, "district")``.
    The build is pinned for the whole call (``db.snapshot``), so the cache key and every SQL
    statement behind the answer belong to the same build even if a new one is published meanwhile."""
    build_key()  # a missing database stops the page with an explanation
    module, name = _query(fn)
    with db.snapshot() as key:
        return _cached(module, name, key, args, kwargs)


_PURE = {"queries": queries, "charts": charts, "funders": funders, "quadrants": quadrants, "lenses": lenses}


def _cached_then(
    query: tuple[str, str], key: str, args: tuple, module: str, fn: str, fn_args: tuple, fn_kwargs: dict
) -> Any:
    """<module>.<fn>(<query>(*args), *fn_args, **fn_kwargs) on build ``key``, kept as :func:`_cached`."""
    return _ANSWERS.get(
        (key, query, db.freeze(args), module, fn, db.freeze(fn_args), db.freeze(fn_kwargs)),
        # a figure in the answer is frozen: encoded once, not deep-copied by plotly on every run
        lambda: charts.frozen(getattr(_PURE[module], fn)(_cached(*query, key, args, {}), *fn_args, **fn_kwargs)),
    )


def q_then(query: tuple, fn: Callable, *fn_args, **fn_kwargs) -> Any:
    """``fn(<the cached answer of ui.q(*query)>, *fn_args, **fn_kwargs)``, itself cached for the
    build: a figure, summary or count made from a query's answer (``ui.q_then((queries.index_by_tier,
    period, weights, lens), charts.distribution_by_group, group=…)``). ``fn`` is a pure function of
    :mod:`powerbalance.queries`, :mod:`powerbalance.charts`, :mod:`powerbalance.funders`,
    :mod:`powerbalance.quadrants` or :mod:`powerbalance.lenses`; the key is the query's name and
    arguments and the build, so a rerun is one lookup — no pandas work and no hashing of frames. A
    figure made this way is frozen (``charts.frozen``), as :func:`figure` freezes its figures."""
    build_key()
    with db.snapshot() as key:
        return _cached_then(
            _query(query[0]), key, tuple(query[1:]), fn.__module__.rsplit(".", 1)[-1], fn.__name__, fn_args, fn_kwargs
        )


def _fingerprint(value: Any) -> str:
    """A digest of the arguments' pickle: the same for the same frames and values (a different pickle
    of equal content only costs a new entry, never a wrong figure), and about a tenth of the time
    Streamlit's own hashing takes for a frame of a few hundred rows (0.07 ms against 1 ms)."""
    return hashlib.blake2b(pickle.dumps(value, protocol=5), digest_size=20).hexdigest()


def figure(builder: Callable, *args, **kwargs) -> Any:
    """``builder(*args, **kwargs)`` for a figure builder of :mod:`powerbalance.charts` (a ``(fig, alt)``
    pair), kept per build and arguments: a rerun or another visitor with the same view is handed the
    figure already made (plotly's validation of every trace was most of a page's CPU). The figure
    is shared and frozen (``charts.frozen``: its dict for drawing is made once), so nothing may
    change it after."""
    name = getattr(builder, "__name__", None)
    if getattr(charts, name or "", None) is not builder:
        raise ValueError(f"{name} is not a figure builder of powerbalance.charts")
    with db.snapshot() as key:
        return _FIGURES.get((key, name, _fingerprint((args, kwargs))), lambda: charts.frozen(builder(*args, **kwargs)))


# =============================================================================================
# URL state
# =============================================================================================


def _load_from_url(key: str, param: str, default, options: Sequence | None, parse: Callable[[str], Any]) -> None:
    """Before a keyed widget is created: set its value from the URL when the page opens, or when
    the URL parameter was changed from outside (a link, a map click, another page); otherwise
    leave the user's current choice alone."""
    raw = st.query_params.get(param)
    seen = st.session_state.get(_SEEN + key)
    current_ok = key in st.session_state and (options is None or _in(st.session_state[key], options))
    if current_ok and raw == seen:
        return
    value = default
    if raw is not None and raw != "":
        try:
            parsed = parse(raw)
        except (ValueError, TypeError):
            parsed = None
        if parsed is not None and (options is None or _in(parsed, options)):
            value = parsed
    if options is not None and not _in(value, options):
        value = options[0] if len(options) else None
    st.session_state.pop(_UNAVAILABLE + key, None)
    if param in CARRIED and raw not in (None, "") and value != parse_or_none(parse, raw):
        st.session_state[_FALLBACK + param] = str(value)  # this page cannot show the carried value
        if options:
            st.session_state[_UNAVAILABLE + key] = (raw, value, options[0], options[-1])
    st.session_state[key] = value


def parse_or_none(parse: Callable[[str], Any], raw: str):
    try:
        return parse(raw)
    except (ValueError, TypeError):
        return None


def _remounted(key: str) -> bool:
    """Whether the widget ``key`` was not drawn in the previous run of this session (runs are
    counted by :func:`start_page`); records that it is drawn in this one."""
    run = st.session_state.get(_RUN, 0)
    last = st.session_state.get(_SHOWN + key)
    st.session_state[_SHOWN + key] = run
    return last != run - 1


def _resend_if_remounted(key: str, remounted: bool) -> None:
    """A widget absent from the previous run (a page that stopped before it: no file uploaded yet) is
    mounted anew by the browser at its first option unless the run sends its value, and Streamlit
    sends it only when session state was written in this run — so it is written here; else the
    widget could show its first option while the page uses the value kept for the key (and in the URL)."""
    if remounted and key in st.session_state:
        st.session_state[key] = st.session_state[key]


def _in(value, options) -> bool:
    if isinstance(value, (list, tuple)):
        return all(v in options for v in value)
    return value in options


def publish(param: str, value, key: str | None = None, dump: Callable[[Any], str] = str, default=None) -> None:
    """Write one value to the URL (removing the parameter when empty). A carried parameter is
    remembered for the next pages only when it is the user's choice, not the page's ``default``
    (a year left at one page's default must not pin another page that opens on a later year)."""
    text = None if value is None or value == [] or value == () else dump(value)
    if text in (None, ""):
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != text:
        st.query_params[param] = text
    if key is not None:
        st.session_state[_SEEN + key] = text
    if param not in CARRIED:
        remember_page_view()
    if param == "area":  # the place itself is remembered by remember_area only
        st.session_state[_PUBLISHED_AREA] = text
    elif param in CARRIED and text is not None and text == st.session_state.get(_FALLBACK + param):
        pass  # a page's own fallback (e.g. for a year it lacks) is not kept: the user's choice stays
    elif param in CARRIED:
        if default is not None and text == dump(default):
            st.session_state.pop(_VIEW + param, None)
        else:
            st.session_state[_VIEW + param] = text
        st.session_state.pop(_FALLBACK + param, None)


def url_selectbox(
    label: str,
    options: Sequence,
    *,
    param: str,
    key: str,
    default=None,
    format_func: Callable = str,
    help: str | None = None,
    container=None,
    parse=str,
    dump=str,
):
    """A selectbox whose value lives in the URL parameter ``param`` (kept on a remount: :func:`_resend_if_remounted`)."""
    options = list(options)
    default = default if default is not None else (options[0] if options else None)
    remounted = _remounted(key)
    _load_from_url(key, param, default, options, parse)
    _resend_if_remounted(key, remounted)
    value = (container or st).selectbox(label, options, key=key, format_func=format_func, help=help)
    publish(param, value, key, dump, default)
    return value


def url_radio(
    label: str,
    options: Sequence,
    *,
    param: str,
    key: str,
    default=None,
    format_func: Callable = str,
    help: str | None = None,
    container=None,
    horizontal: bool = True,
):
    """A radio group (all options visible: better than a dropdown for 2–5 choices) in the URL (kept on
    a remount: :func:`_resend_if_remounted`)."""
    options = list(options)
    default = default if default is not None else options[0]
    remounted = _remounted(key)
    _load_from_url(key, param, default, options, str)
    _resend_if_remounted(key, remounted)
    value = (container or st).radio(label, options, key=key, format_func=format_func, help=help, horizontal=horizontal)
    publish(param, value, key, default=default)
    return value


def url_multiselect(
    label: str,
    options: Sequence,
    *,
    param: str,
    key: str,
    default: Sequence = (),
    format_func: Callable = str,
    help: str | None = None,
    max_selections: int | None = None,
    container=None,
    wrap: bool | None = None,
    select_all: bool | int = 1000,
) -> list:
    """A multiselect stored in the URL as comma-separated values. ``wrap=True`` keeps every chosen
    chip in sight (in a column Streamlit otherwise scrolls them sideways); ``select_all=False``
    makes Enter pick the highlighted match instead of every match."""
    options = list(options)

    def parse(text: str) -> list:
        vals = [v for v in text.split(",") if v]
        return [v for v in vals if v in options][: max_selections or None]

    _load_from_url(key, param, [v for v in default if v in options], None, parse)
    st.session_state[key] = [v for v in st.session_state[key] if v in options]
    value = (container or st).multiselect(
        label,
        options,
        key=key,
        format_func=format_func,
        help=help,
        max_selections=max_selections,
        wrap=wrap,
        select_all=select_all,
    )
    publish(param, value, key, lambda v: ",".join(v))
    return value


def url_weights(defaults: dict, *, param: str = "weights", key: str = "weights", container=None) -> dict:
    """One slider per domain (0–100%), stored in the URL as 'funding:0.5,projects:0.5,…'.
    Returns the raw weights; the index normalises them to sum to one."""
    box = container or st
    raw = st.query_params.get(param)
    seen = st.session_state.get(_SEEN + key)
    parsed = urlstate.weights_from_param(raw) if raw else None
    keys = {d: f"{key}_{d}" for d in defaults}
    if _weights_from_outside(raw, seen, key) or any(k not in st.session_state for k in keys.values()):
        fault = urlstate.weights_fault(raw) if raw != seen else None
        if fault:  # a link's weights that cannot be used: said, like an unknown area code
            box.info(labels.link_weights_note(fault == urlstate.ALL_ZERO, defaults), icon=":material/tune:")
        src = parsed or defaults
        for d, k in keys.items():
            st.session_state[k] = int(round(100 * float(src.get(d, 0.0))))
    values = {}
    for d, k in keys.items():
        values[d] = (
            box.slider(
                f"{labels.DOMAIN_LABELS.get(d, d)} weight (%)",
                0,
                100,
                step=5,
                key=k,
                help=f"How much the {d} domain counts in the index. Weights are rescaled to sum to 100%.",
            )
            / 100.0
        )
    if sum(values.values()) <= 0:
        box.warning("At least one weight must be above zero; using the default weights.")
        values = dict(defaults)
    elif nothing_measured(values):
        box.warning(labels.nothing_measured_note(unmeasured_domains(values), defaults))
        values = dict(defaults)
    text = urlstate.weights_to_param(values)
    shown = None if text == urlstate.weights_to_param(defaults) else text
    _note_published(key, shown)  # before the URL is written: a run may be cut short right after it
    publish(param, shown, key, str)
    weights_notice(values, defaults, container=box)
    return values


#: + key: the weights texts this session's sliders last put in the URL (newest last).
_PUBLISHED = "_pb_published::"
_PUBLISHED_KEPT = 10


def _note_published(key: str, text: str | None) -> None:
    """Remember that the sliders ``key`` put ``text`` in the URL (the last few, newest last)."""
    kept = [t for t in st.session_state.get(_PUBLISHED + key, []) if t != text]
    st.session_state[_PUBLISHED + key] = (kept + [text])[-_PUBLISHED_KEPT:]


def _weights_from_outside(raw: str | None, seen: str | None, key: str) -> bool:
    """Whether the URL's weights ``raw`` came from outside (a link, another page) rather than from
    these sliders. Quick key presses on a slider start runs that cut each other short, and the
    browser may send back an address an earlier run of this session wrote (or one a run wrote just
    before it was cut short, its ``seen`` marker not yet updated): reading that into the sliders
    threw the user's latest presses away and left the address naming other weights than those shown
    (review). Text the sliders themselves published lately is never read back into them."""
    return raw != seen and raw not in st.session_state.get(_PUBLISHED + key, [])


def carried_weights(defaults: dict, param: str = "weights") -> dict:
    """Weights for a page that uses them without showing sliders: read from the URL, and kept
    there when they are not the defaults, so a link from this page carries them on."""
    weights, notice = usable_weights(st.query_params.get(param), defaults)
    if notice:
        st.session_state[_WEIGHTS_NOTICE] = notice  # page_header says it
    text = urlstate.weights_to_param(weights)
    publish(param, None if text == urlstate.weights_to_param(defaults) else text)
    st.session_state[_WEIGHTS_APPLY] = (weights, dict(defaults))  # page_header says so when custom
    return weights


def usable_weights(raw: str | None, defaults: dict) -> tuple[dict, str | None]:
    """The weights URL text ``raw`` asks for, or ``defaults`` with a notice saying why when they
    cannot be used: unreadable, all zero, or given only to domains no area has a figure for (an
    index of nothing). No notice when there is no text."""
    fault = urlstate.weights_fault(raw)
    if fault:
        return dict(defaults), labels.link_weights_note(fault == urlstate.ALL_ZERO, defaults)
    weights = urlstate.weights_from_param(raw)
    if weights is None:
        return dict(defaults), None
    if nothing_measured(weights):
        return dict(defaults), labels.nothing_measured_note(unmeasured_domains(weights), defaults)
    return weights, None


def carried_lens() -> str:
    """The lens of the view the user carries (the URL, put back from the session by
    :func:`carry_view`), for a page that uses it without showing the lens choice; the default lens
    (``index.DEFAULT_LENS``) when none is chosen or the URL's is unknown."""
    raw = st.query_params.get("lens")
    return raw if raw in LENSES else DEFAULT_LENS


def remember_area(code: str | None) -> None:
    """The last area the user looked at, offered as the default on other pages."""
    if code:
        st.session_state[LAST_AREA] = code


def last_area(default: str | None = None) -> str | None:
    return st.session_state.get(LAST_AREA, default)


def carry_view() -> None:
    """The view follows the user: a carried parameter in the URL (a link, a shared view) is
    remembered; one missing from it (sidebar navigation) is put back from the session, so the
    address bar always reproduces what is shown. The place comes from :func:`remember_area`."""
    for param in CARRIED:
        raw = st.query_params.get(param)
        if raw and param == "area" and raw != st.session_state.get(_PUBLISHED_AREA):
            raw = _current_area(raw)  # a code from outside (a link): the one a page published is current
        if raw:
            if param == "area":
                if raw != st.session_state.get(_PUBLISHED_AREA):  # a link, not a page's own fallback
                    remember_area(raw)
            else:
                st.session_state[_VIEW + param] = raw
            continue
        kept = last_area() if param == "area" else st.session_state.get(_VIEW + param)
        if kept:
            st.query_params[param] = kept


def _page() -> str:
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def remember_page_view() -> None:
    """Keep, for this browser session, the page's own parameters now in the URL (its level, the Data
    page's issue filter, …: every parameter that is not carried from page to page). :func:`publish`
    calls it; a page that changes ``st.query_params`` itself calls it after."""
    st.session_state[_OWN_VIEW + _page()] = {p: st.query_params[p] for p in st.query_params if p not in CARRIED}


def restore_page_view() -> None:
    """Sidebar navigation drops the query string: a page opened with none of its own parameters (only
    the carried view, which :func:`carry_view` put back) shows its own choices left earlier in this
    session. A link that names any of them opens on exactly what it names."""
    kept = st.session_state.get(_OWN_VIEW + _page())
    if kept and all(p in CARRIED for p in st.query_params):
        st.query_params.update(kept)


def _current_area(raw: str) -> str | None:
    """The current area a link's ``area`` names, put in the URL in its place: the code itself when it
    is one; the council a former code now belongs to (``area_code_map``), or None for a code nobody
    knows, either with a notice for :func:`page_header` to show."""
    if q(queries.area, raw) is not None:
        return raw
    former = q(queries.former_area, raw)
    st.session_state[_AREA_NOTICE] = former["notice"] if former else UNKNOWN_AREA
    if former:
        st.query_params["area"] = former["code"]
        return former["code"]
    del st.query_params["area"]
    return None


def view_params(**changes) -> dict:
    """Query parameters for a link or page switch: every carried parameter of the current view,
    with ``changes`` applied (None removes one). One helper builds every in-app link."""
    params = {p: st.query_params.get(p) for p in CARRIED}
    params.update(changes)
    return {k: str(v) for k, v in params.items() if v not in (None, "")}


def council_of(code: str | None, councils: Sequence[str]) -> str | None:
    """The council a place belongs to, for council-only pages: itself when it is a council,
    else its district (a ward) or None. The remembered place is left as it is."""
    if code is None or code in councils:
        return code
    info = q(queries.area, code)
    district = info.get("district_code") if info else None
    return district if district in councils else None


def council_standing_in(code: str | None, councils: Sequence[str], default: str) -> str:
    """The council a council-only page opens on for the place ``code`` (:func:`council_of`), saying
    so when it is not the place itself: a ward is shown through its council; a place that is no
    council and in none (a region, a combined authority, England) leaves ``default``, and the
    notice says why. The remembered place is left as it is."""
    council = council_of(code, councils)
    if code is None or council == code:
        return council or default
    info = q(queries.area, code)
    place = queries.area_label(info) if info else code
    if council is not None:
        st.caption(f"{place} is compared through its council, {queries.area_label(q(queries.area, council))}.")
        return council
    st.info(
        f"{place} is not a council, and this page compares councils only, so it opens on "
        f"{queries.area_label(q(queries.area, default))}: choose a council below. {place} stays your place "
        "on the other pages.",
        icon=":material/info:",
    )
    return default


def _reset_weights(keys: Sequence[str]) -> None:
    if "weights" in st.query_params:
        del st.query_params["weights"]
    st.session_state.pop(_VIEW + "weights", None)
    for k in keys:  # sliders go back to the defaults on the rerun
        st.session_state.pop(k, None)


def weights_notice(weights: dict, defaults: dict, container=None) -> None:
    """A visible 'Custom weights 30 / 70 / 0 · Reset' line wherever non-default weights apply."""
    if urlstate.weights_to_param(weights) == urlstate.weights_to_param(defaults):
        return
    w = normalise_weights(weights)
    text = " / ".join(f"{labels.DOMAIN_LABELS.get(d, d).lower()} {100 * float(w.get(d, 0)):.0f}" for d in defaults)
    row = (container or st).container(horizontal=True, gap="small", key="pb_custom_weights")
    row.markdown(
        f":material/tune: **Custom weights** {text} (default "
        f"{' / '.join(f'{100 * float(v):.0f}' for v in defaults.values())})"
    )
    row.button(
        "Reset",
        key="pb_reset_weights",
        icon=":material/restart_alt:",
        help="Back to the default weights",
        on_click=_reset_weights,
        args=([f"weights_{d}" for d in defaults],),
    )
    note = labels.unmeasured_weights_note(unmeasured_domains(weights))
    if note:
        (container or st).info(note, icon=":material/info:")


# =============================================================================================
# Rendering
# =============================================================================================


def page_header(title: str, intro: str | None = None) -> None:
    st.title(title)
    if intro:
        st.markdown(intro)
    notice = st.session_state.pop(_AREA_NOTICE, None)  # set by carry_view earlier in this run
    if notice:
        st.info(notice, icon=":material/history:")  # names from area_code_map and areas, never URL text
    weights_fell = st.session_state.pop(_WEIGHTS_NOTICE, None)  # set by carried_weights earlier in this run
    if weights_fell:
        st.info(weights_fell, icon=":material/tune:")
    applied = st.session_state.pop(_WEIGHTS_APPLY, None)  # set by carried_weights earlier in this run
    if applied is not None:
        weights_notice(*applied)


_ATX_HEADING = re.compile(r"^(#{1,6})(?=\s)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _outside_code(doc: str):
    """(line, is it outside a fenced code block) for each line of Markdown ``doc``."""
    in_code = False
    for line in doc.splitlines():
        fence = bool(_FENCE.match(line))
        in_code ^= fence
        yield line, not (in_code or fence)


def headings_from(doc: str, top: int) -> str:
    """Markdown ``doc`` with its headings moved so its highest level becomes ``top`` (``#`` → ``##``
    for ``top`` 2), the others keeping their steps below it: a document shown inside a page section
    then makes one h1 per page and skips no level. Lines in fenced code blocks are left as they are."""
    levels = [len(m.group(1)) for line, text in _outside_code(doc) if text and (m := _ATX_HEADING.match(line))]
    if not levels:
        return doc
    shift = top - min(levels)
    moved = (
        _ATX_HEADING.sub(lambda m: "#" * max(1, min(6, len(m.group(1)) + shift)), line) if text else line
        for line, text in _outside_code(doc)
    )
    return "\n".join(moved)


_FINANCIAL_YEAR = re.compile(r"\d{4}-\d{2}")


def unavailable_year_text(asked: str, shown: str, first: str, last: str, what: str = "index") -> str:
    """Why a page opened on another year than the one its address (or the view carried from another
    page) asked for. The year asked for is named only when it looks like a financial year: text from
    the URL is never echoed otherwise."""
    years = f"{first} to {last}" if first != last else first
    if _FINANCIAL_YEAR.fullmatch(asked or ""):
        return f"There is no {what} for {asked} (the {what} covers {years}), so {shown} is shown."
    return f"The year in this address was not recognised (the {what} covers {years}), so {shown} is shown."


def unavailable_year_notice(key: str, what: str = "index") -> None:
    """A notice, once, when the year selector ``key`` could not show the year its URL asked for."""
    fell = st.session_state.pop(_UNAVAILABLE + key, None)
    if fell:
        st.info(unavailable_year_text(*fell, what=what), icon=":material/event_busy:")


def coverage_text(n: int, m: int, what: str) -> str:
    """'13 of 13 wards have a value.' when ``what`` says what the counted ones have (a noun and its
    verb); 'Based on 12 of 300 districts.' for a bare plural noun; then how many have no data, the
    verb agreeing with the number ('1 has no data', '3 have no data')."""
    head = f"{n:,} of {m:,} {what}." if " " in what.strip() else f"Based on {n:,} of {m:,} {what}."
    missing = m - n
    return head + (f" {missing:,} {'has' if missing == 1 else 'have'} no data." if missing > 0 else "")


def coverage(n: int, m: int, what: str) -> None:
    """How many of the areas a chart or table is based on (coverage_text) under it."""
    st.caption(coverage_text(n, m, what))


def contact_line() -> str:
    """How to report a problem or ask for another format: the publisher's contact when the deployment
    gives one (``config.contact``), else that none is given yet, never an invented address."""
    who = config.contact()
    lead = "If you find a problem not listed here, or need the information in another format, "
    if who:
        return lead + f"contact the organisation that publishes this dashboard: {who}."
    return (
        lead + "contact the organisation that publishes this dashboard. This copy does not give its contact "
        "details yet: Power Balance is open-source software, and whoever deploys it adds them with the "
        "`POWERBALANCE_CONTACT` setting (docs/operations.md)."
    )


def no_data(message: str) -> None:
    """A visible 'no data' statement (never an empty chart that looks like zero)."""
    st.info(f"No data: {message}", icon=":material/block:")


def downloads(df: pd.DataFrame | Callable[[], pd.DataFrame], name: str, key: str) -> None:
    """CSV and XLSX download buttons for a table (or for a function that makes it, so a big
    table is only read when someone downloads it). Files are generated on click (deferred), so
    the buttons cost nothing on a rerun, and clicking does not rerun the page."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name).strip("_") or "table"
    get = df if callable(df) else (lambda: df)
    rows = "" if callable(df) else f" ({len(df):,} rows)"
    row = st.container(horizontal=True, gap="small")
    row.download_button(
        f"Download {name} as CSV{rows}",
        data=lambda: to_csv_bytes(get()),
        file_name=f"{safe}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
        help=f"File: {safe}.csv (plain text, opens in any spreadsheet)",
    )
    row.download_button(
        f"Download {name} as Excel{rows}",
        data=lambda: to_xlsx_bytes(get(), safe),
        file_name=f"{safe}.xlsx",
        key=f"{key}_xlsx",
        on_click="ignore",
        icon=":material/download:",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        help=f"File: {safe}.xlsx (Excel workbook)",
    )


def index_columns() -> dict:
    """st.dataframe column config for index tables: readable headings, one decimal for scores,
    whole numbers for ranks."""
    cfg = {}
    for col, label in queries.index_column_config().items():
        if col == "index" or col.startswith("score_"):
            cfg[col] = st.column_config.NumberColumn(label, format="%.1f")
        elif col in ("rank", "n_in_group", "n_indicators"):
            cfg[col] = st.column_config.NumberColumn(label, format="%d")
        else:
            cfg[col] = label
    return cfg


def ward_columns() -> dict:
    """Ward tables: the ward's name pinned at the left, so its values stay readable when a narrow
    screen scrolls the table sideways; the code column is in the downloads."""
    return {"code": None, "name": st.column_config.TextColumn("ward", pinned=True)}


def rank_move_columns() -> dict:
    """Column config for the Method page's weights table: readable headings, whole-number ranks."""
    num = st.column_config.NumberColumn
    return {
        "area_code": "code",
        "name": "area",
        "group": "compared with",
        "index_default": num("index, default weights", format="%.1f"),
        "rank_default": num("rank, default weights", format="%d"),
        "index": num("index, your weights", format="%.1f"),
        "rank": num("rank, your weights", format="%d"),
        "rank_move": num("places moved (+ = up)", format="%+d"),
        "reason": "why no index",
    }


def table(
    df: pd.DataFrame,
    name: str,
    key: str,
    *,
    column_config: dict | None = None,
    height: int | str = "auto",
    caption: str | None = None,
    download: pd.DataFrame | None = None,
) -> None:
    """A data table with its downloads. Missing values show as empty cells labelled by the
    column config, never 0. ``download`` is the table's file when it differs from what is shown
    (every digit of values shown rounded or written with their unit). ``name`` is also the grid's
    accessible name (Streamlit's ``alt``: a named region a screen reader announces)."""
    st.dataframe(
        _arrow(df),
        hide_index=True,
        column_config=column_config,
        height=height,
        key=f"{key}_df",
        placeholder="no data",
        alt=name,
    )
    if caption:
        st.caption(caption)
    downloads(df if download is None else download, name, key)


#: Tables as Arrow, by content: ``st.dataframe`` converts a pandas frame to Arrow on every run
#: (about a sixth of a page's CPU); the same table again is a look-up.
_ARROW = db.Kept(maxsize=512, fresh=False)


def _arrow(df: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """``df`` as an Arrow table (its index dropped: tables never show it), made once per content;
    the frame itself when Arrow cannot take it as it is (Streamlit then converts it its own way)."""
    try:
        key = _fingerprint(df)
    except (pickle.PicklingError, TypeError, AttributeError):  # a cell holding something unpicklable
        return df
    return _ARROW.get(key, lambda: _to_arrow(df))


def _to_arrow(df: pd.DataFrame) -> pa.Table | pd.DataFrame:
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError):  # mixed types in a column, repeated names
        return df


#: The longest name a chart's figure is given (Streamlit's ``alt``); a longer description is shortened by
#: :func:`short_alt` and read in full in the caption under the chart.
ALT_LIMIT = 300
#: Ends a shortened figure name: where the rest of its description is.
ALT_FOLLOWS = "Described in full in the text under the chart."
_SENTENCE_END = re.compile(r"\.(?=\s)")


def short_alt(alt: str, limit: int = ALT_LIMIT) -> str:
    """The figure's name: its whole description when that fits in ``limit`` characters; otherwise
    its whole sentences that fit, or (when even the first does not) the part before the first colon,
    the chart's kind and subject, with what follows the colon up to the first semicolon when that
    holds no figure (a scatter's axes, not one item of a list), followed by where the full
    description is. Never a cut mid-word or mid-number: a screen reader reads this name when it
    reaches the figure."""
    alt = alt.strip()
    if len(alt) <= limit:
        return alt
    room = limit - len(ALT_FOLLOWS) - 1
    ends = [m.end() for m in _SENTENCE_END.finditer(alt) if m.end() <= room]
    if ends:
        return f"{alt[: ends[-1]]} {ALT_FOLLOWS}"
    head, _, rest = (part.strip() for part in alt.partition(":"))
    if len(head) + 2 > room:  # no colon early enough: the chart's kind alone, never a cut word
        return f"Chart. {ALT_FOLLOWS}"
    clause = rest.split(";", 1)[0].strip().rstrip(".")
    if clause and not any(ch.isdigit() for ch in clause) and len(head) + len(clause) + 4 <= room:
        head = f"{head}: {clause}"
    return f"{head}. {ALT_FOLLOWS}"


def chart_description(alt: str, help: str | None = None) -> str:
    """The text under a chart: its full description, then how to read it (written out, not in a
    tooltip: a caption's help button can only be named "Help", the same for every chart)."""
    return alt if not help else f"{alt}\n\n**How to read this chart:** {help}"


#: The key suffix of a chart's data-table expander (``<chart key>_tx``): its open state is a widget value.
TABLE_BOX = "_tx"


def chart(
    fig,
    alt: str,
    *,
    key: str,
    data: pd.DataFrame,
    name: str,
    select: bool = False,
    help: str | None = None,
    column_config: dict | None = None,
    table_open: bool = False,
    download: pd.DataFrame | None = None,
):
    """A figure, its alt text as a caption (with ``help``), and its data table with downloads in
    an expander right under it (``download``: the file when it differs from the table shown, see
    :func:`table`). The expander is lazy (``on_change="rerun"``): its table and
    download buttons are made when someone opens it (one quick rerun), not on every run for
    every chart — on My area, 8 charts' tables were a quarter of the page's elements. With
    ``select`` the chart returns click selections."""
    kwargs = dict(key=key, theme=None, config=charts.PLOTLY_CONFIG, alt=short_alt(alt), width="stretch")
    if select:
        event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", **kwargs)
    else:
        st.plotly_chart(fig, **kwargs)
        event = None
    st.caption(chart_description(alt, help))
    box = st.expander(f"Data table: {name}", expanded=table_open, key=f"{key}{TABLE_BOX}", on_change="rerun")
    if box.open:  # made only when opened: a closed table is one element, not five, with no Arrow or files
        with box:
            table(
                data,
                name,
                f"{key}_t",
                column_config=column_config,
                height=320 if len(data) > 8 else "auto",
                download=download,
            )
    share_line(name)
    return event


def index_trend_chart(
    trend: pd.DataFrame, periods: Sequence[str], *, key: str, name: str, help: str, by_role: bool = False
) -> None:
    """The index of one or more councils over the years (0–100, a line per council), with its table. The
    axis has every financial year of the index's span, so a year without an index is a gap in the line
    (never bridged) and said under the chart. ``by_role``: the council, its region and England keep
    the colours and markers they have on the page's other charts (charts.series_styles)."""
    years = queries.every_financial_year(periods)
    fig, alt = figure(
        charts.line_chart,
        trend,
        x="period",
        y="index",
        series="name",
        measure="Index (0–100)",
        x_order=years,
        y_range=(0, 100),
        code="code" if by_role else None,
    )
    chart(fig, alt, key=key, data=trend, name=name, help=help)
    gaps = queries.years_without(years, periods)
    if gaps:
        st.caption(f"No index for {gaps}: the gap in the line, not bridged.")


def share_line(name: str) -> None:
    """The view's share line, under the page's first chart: a link to this view and an ``<iframe>``
    to embed it (the page with ``?embed=true`` and the view's parameters: no sidebar). Once a page,
    not under every chart: the link is the same for every chart of a view, and each repeat was
    three more elements sent on every run. Nothing inside an embedded page."""
    if st.context.is_embedded or not st.context.url or st.session_state.get(_SHARED) == st.session_state.get(_RUN):
        return
    st.session_state[_SHARED] = st.session_state.get(_RUN)
    params = {k: st.query_params.get(k) for k in st.query_params}
    link = share.view_url(st.context.url, params)
    embed = share.view_url(st.context.url, params, embed=True)
    with st.expander("Share or embed this view", icon=":material/share:"):
        st.markdown(f"[Link to this view]({link}) · [the view alone, for embedding]({embed})")
        st.code(share.iframe_snippet(embed, f"Power Balance: {name}"), language="html", wrap_lines=True)


def selected_location(event) -> str | None:
    """The area code of the first point clicked on a choropleth (None when nothing is selected)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for p in points or []:
        loc = p.get("location") if isinstance(p, dict) else None
        if loc:
            return str(loc)
    return None


def served_static_root() -> Path:
    """The folder Streamlit serves at /app/static: ``static/`` beside the running main script."""
    ctx = get_script_run_ctx()
    main = Path(ctx.main_script_path) if ctx is not None and ctx.main_script_path else config.ROOT / "dashboard.py"
    return main.parent / "static"


def geo_url(level: str, district: str | None = None) -> str | None:
    """URL of this build's boundary file, or None (with a visible explanation) when the file is
    not where this server serves static files. With ``district``: that district's own ward file,
    so a council's ward map fetches its wards only (a build older than those files: every ward)."""
    info = q(queries.build_info)
    url, path = queries.served_geo_location(info, level, served_static_root(), district)
    if not path.is_file():
        st.warning(
            f"The map cannot be drawn: this build's {level} boundaries are not in the folder this server "
            f"serves (`static/geo/{info['build_id']}/`). Rebuild with the default `--static` folder. The "
            "table below has every value.",
            icon=":material/map:",
        )
        return None
    return url
