"""Pages get data through one cache, by function (issue 11): ``ui.q(queries.shifts, …)``."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from powerbalance import funders, index, queries, ui

PAGES = sorted((Path(__file__).resolve().parent.parent / "pages").glob("*_page.py"))


def test_query_functions_are_named_by_module_and_name():
    assert ui._query(queries.shifts) == ("powerbalance.queries", "shifts")
    assert ui._query(funders.funder_choices) == ("powerbalance.funders", "funder_choices")


@pytest.mark.parametrize("fn", [len, lambda: 1, index.compute_index, ui.q])
def test_anything_but_a_query_function_is_refused(fn):
    """The cache is shared by every session: only the read-only query modules' own functions go in."""
    with pytest.raises(ValueError, match="not a query function"):
        ui._query(fn)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_call_queries_by_function_and_keep_no_cache_of_their_own(page):
    tree = ast.parse(page.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("q", "q_then"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Tuple):  # q_then((query, *args), fn, …)
                first = first.elts[0]
            assert not isinstance(first, ast.Constant), f"{page.name}:{node.lineno} names a query by string"
        if isinstance(node, ast.Attribute) and node.attr in ("cache_data", "cache_resource"):
            pytest.fail(f"{page.name}:{node.lineno} keeps a cache of its own; use ui.q")


def test_figures_are_kept_by_content_and_never_handed_out_for_other_data(real_db, monkeypatch):
    """ui.figure: the same frame again (a fresh copy, as a rerun gets) is a look-up; a frame whose
    values differ is drawn anew; only charts' own builders are accepted."""
    import pandas as pd

    from powerbalance import charts

    monkeypatch.setenv("POWERBALANCE_DB", str(real_db))
    ui.forget_all()
    drawn = []
    original = charts.bar_chart

    @functools.wraps(original)
    def counted(df, **kw):
        drawn.append(len(df))
        return original(df, **kw)

    monkeypatch.setattr(charts, "bar_chart", counted)
    frame = pd.DataFrame({"domain": ["funding", "projects"], "score": [40.0, 60.0]})
    kw = dict(label="domain", value="score", measure="Domain score", sort=False, subject="domains")
    first = ui.figure(charts.bar_chart, frame, **kw)
    again = ui.figure(charts.bar_chart, frame.copy(), **kw)
    other = ui.figure(charts.bar_chart, frame.assign(score=[41.0, 59.0]), **kw)
    assert first is again and drawn == [2, 2]
    assert other[0].data[0].x != first[0].data[0].x or other[0].data[0].y != first[0].data[0].y
    with pytest.raises(ValueError, match="not a figure builder"):
        ui.figure(len, frame)


def test_a_kept_figure_draws_exactly_as_the_figure_it_was_made_from():
    """charts.frozen: the dict Streamlit serialises is made once and is the figure's own."""
    import pandas as pd
    import plotly.io as pio

    from powerbalance import charts

    frame = pd.DataFrame({"domain": ["funding", "projects", "parishes"], "score": [40.25, float("nan"), 61.0]})
    fig, alt = charts.bar_chart(
        frame, label="domain", value="score", measure="Domain score", sort=True, subject="domains"
    )
    before = pio.to_json(fig, validate=False)
    kept, kept_alt = charts.frozen((fig, alt))
    assert isinstance(kept, charts.FrozenFigure) and kept_alt == alt
    assert pio.to_json(kept.to_dict(), validate=False) == before
    assert kept.to_dict() is kept.to_dict()  # made once
    assert charts.frozen(kept) is kept


def test_a_builders_figure_becomes_plotly_objects_only_when_asked():
    """charts.PlainFigure: a builder's figure keeps its plain dicts; frozen, its dict for drawing is
    made from them (the same dict plotly's own figure gives), and plotly's API still works on it,
    made on first use."""
    import pandas as pd
    import plotly.graph_objects as go

    from powerbalance import charts

    frame = pd.DataFrame({"domain": ["funding", "projects"], "score": [40.25, float("nan")]})
    fig, _ = charts.bar_chart(frame, label="domain", value="score", measure="Domain score", subject="domains")
    assert isinstance(fig, charts.PlainFigure) and "_data" not in vars(fig)  # nothing validated or copied
    expected = charts._plain(go.Figure(vars(fig)["_spec"], _validate=False))
    kept = charts.frozen(fig)
    assert kept.to_dict() == expected and "_data" not in vars(kept)
    assert kept.data[0].type == "bar" and kept.layout.height == vars(fig)["_plain"]["layout"]["height"]
    assert kept.to_dict() is kept.to_dict()
    other, _ = charts.bar_chart(frame, label="domain", value="score", measure="Domain score", subject="domains")
    other.layout.height = 123  # changed through plotly's API: plotly's state, then frozen from it
    assert charts.frozen(other).to_dict()["layout"]["height"] == 123
    for made in (kept, charts.bar_chart(frame, label="domain", value="score", measure="m", subject="s")[0]):
        with pytest.raises(AttributeError):
            made.no_such_attribute  # noqa: B018 (what plotly's figure has not: an error, not a loop)


def test_a_frozen_figure_with_arrays_and_frames_encodes_as_plotly_does():
    """charts.frozen makes the dict without plotly's deep copies: arrays still become plotly's
    base64 specs, uids are dropped, frames kept, and the figure's own data are left unchanged."""
    import json

    import numpy as np
    import plotly.graph_objects as go
    import plotly.io as pio

    from powerbalance import charts

    trace = {
        "type": "scatter",
        "uid": "u1",
        "y": np.array([1.5, 2.0, np.nan]),
        "customdata": np.arange(6).reshape(3, 2),
    }
    fig = go.Figure(
        {"data": [trace], "layout": {"title": {"text": "t"}}, "frames": [{"data": [{"y": [3, 4]}]}]}, _validate=False
    )
    expected = json.loads(pio.to_json(fig, validate=False))
    assert "bdata" in json.dumps(expected)  # the arrays are encoded as base64 specs
    kept = charts.frozen(fig)
    assert kept.to_dict() == expected
    assert isinstance(kept._data[0]["y"], np.ndarray)  # the figure's own data unchanged


def test_tables_go_to_streamlit_as_arrow_made_once_per_content():
    import pandas as pd
    import pyarrow as pa

    ui.forget_all()
    frame = pd.DataFrame({"area": ["Adur", "Arun"], "score": [41.5, None]}, index=[7, 9])
    first = ui._arrow(frame)
    assert isinstance(first, pa.Table) and first.column_names == ["area", "score"]  # no index column
    assert first.to_pandas().equals(frame.reset_index(drop=True))
    assert ui._arrow(frame.copy()) is first  # a rerun's fresh copy: a look-up
    assert ui._arrow(frame.assign(score=[41.5, 40.0])) is not first
    mixed = pd.DataFrame({"value": [1, "two"]})  # Arrow cannot take it: Streamlit converts it itself
    assert ui._arrow(mixed) is mixed
    odd = pd.DataFrame({"value": [lambda: 1]})  # nothing to key it by: handed over as it is
    assert ui._arrow(odd) is odd
