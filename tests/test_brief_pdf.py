"""The one-page brief as a PDF rendered on the server (WeasyPrint): one A4 page, tagged PDF/UA,
the area's name and headline figures extractable as text, names from the data printed as text."""

from __future__ import annotations

import io

import duckdb
import pytest

from powerbalance import brief, charts, queries
from tests.helpers import brief_profile

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

A4_POINTS = (595.3, 841.9)


def _read(pdf: bytes):
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader, " ".join(p.extract_text() for p in reader.pages)


def _ward_of(db, district: str) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT code FROM areas WHERE level = 'ward' AND parent_code = ? ORDER BY code LIMIT 1", [district]
        ).fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_pdf_brief_is_one_a4_page_with_name_and_headline_figures(real_db):
    """Councils of every kind, a ward and a region: one A4 page each, and the name, index and rank
    shown on My area can be found in the PDF's text."""
    period = queries.index_periods(real_db)[-1]
    codes = [
        "E07000223",
        "E08000025",
        "E09000033",
        "E06000047",
        "E06000059",  # Dorset: a council formed in 2019, with the longest note on its earlier years
        "E10000016",
        "E12000007",
        _ward_of(real_db, "E08000025"),
    ]
    for code in codes:
        profile = queries.area_profile(code, period, db=real_db)
        reader, text = _read(brief.brief_pdf(profile))
        assert len(reader.pages) == 1, code
        box = reader.pages[0].mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4_POINTS, abs=1), code
        flat = " ".join(text.split())
        assert profile.name in flat and period in flat, code
        if profile.has_index:
            ix = profile.index
            assert charts.fmt(ix["index"], 1) in flat, code
            assert f"{charts.fmt(ix['rank'], 0)} of {charts.fmt(ix['n_in_group'], 0)}" in flat, code


@pytest.mark.slow
def test_pdf_brief_is_tagged_pdf_ua_with_language_and_title(real_db):
    profile = queries.area_profile("E07000223", queries.index_periods(real_db)[-1], db=real_db)
    reader, _ = _read(brief.brief_pdf(profile))
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])  # tagged: a structure tree for screen readers
    assert "/StructTreeRoot" in root
    assert str(root["/Lang"]).lower().startswith("en")
    assert reader.metadata.title == f"Power Balance brief: {profile.name}"
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfuaid" in xmp  # declares PDF/UA conformance


def test_pdf_brief_prints_html_in_names_as_text():
    """An area or source name holding markup is printed literally, never interpreted."""
    evil = "<b>Adur</b> & <script>alert('x')</script>"
    p = brief_profile(
        name=evil,
        council_name=evil,
        attributions=[evil],
        index={"index": 55.0, "rank": 3.0, "n_in_group": 164, "group": "shire_district"},
    )
    reader, text = _read(brief.brief_pdf(p))
    flat = " ".join(text.split())
    assert len(reader.pages) == 1
    assert "<b>Adur</b> & <script>alert('x')</script>" in flat
    assert "55.0" in flat and "3 of 164" in flat


def _indicator_rows(rows):
    """An indicator table as queries.latest_indicators gives it: (name, period, value, value_text, note)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["name", "period", "value", "value_text", "note"])
    return frame.assign(coverage="based on 10 of 20 wards with a value")


def test_brief_prints_the_figures_an_area_has_and_says_why_the_others_are_missing():
    """Review: a ward's brief spent its five indicator rows on 'no data' and cut the ward's real
    figures. The rows with a value are printed (up to INDICATOR_ROWS, catalogue order); those without
    are named with their reason, one line per reason, never as blank rows."""
    redrawn = "missing: the district's 2019 wards were redrawn, so this ward's parishes are not known"
    grants = "missing: only 0% of the district's grants in calendar 2017 could be placed in December 2023 wards"
    rows = [
        ("Community grant funding per head", "2017-18", None, "no data", grants),
        ("Lottery grant funding per head", "2017-18", None, "no data", grants),
        ("Wards that are parished", "2019", None, "no data", redrawn),
        ("Land area", "2024", 3.2, "3.2 km²", "area of the boundary"),
        ("Population", "2019", 12535.0, "12,535 people", "ONS mid-2019 estimate"),
    ]
    html = brief.render(brief_profile(code="E05013806", name="St James's", indicators=_indicator_rows(rows)))
    section = html[html.index("<h2>Indicators") : html.index("</body>")]
    table = section[: section.index("</table>")]
    assert "3.2 km²" in table and "12,535 people" in table
    assert "grant funding" not in table and "no data" not in table
    assert (
        "No data</span> for Community grant funding per head (2017-18), Lottery grant funding per head (2017-18): "
        "only 0% of the district&#x27;s grants in calendar 2017 could be placed in December 2023 wards." in section
    )
    assert (
        "No data</span> for Wards that are parished (2019): the district&#x27;s 2019 wards were redrawn, so this "
        "ward&#x27;s parishes are not known." in section
    )
    # a full table leaves room for MISSING_REASONS reasons; the others are counted, not dropped silently
    full = [(f"Figure {i}", "2019", float(i), f"{i}.0", "") for i in range(brief.INDICATOR_ROWS + 2)]
    many = [(f"Gap {i}", "2019", None, "no data", f"missing: reason {i}") for i in range(brief.MISSING_REASONS + 2)]
    html = brief.render(brief_profile(indicators=_indicator_rows(full + many)))
    assert html.count("No data</span> for Gap") == brief.MISSING_REASONS
    assert "No data</span> for 2 more indicators, for other reasons" in html
    assert f"Showing {brief.INDICATOR_ROWS} of {brief.INDICATOR_ROWS + 2} rows" in html


@pytest.mark.slow
def test_pdf_brief_of_a_redrawn_ward_shows_its_figures_and_reasons_on_one_page(real_db):
    """Review: St James's (E05013806, Westminster, whose 2019 wards were redrawn) printed five 'no
    data' rows without their reasons and cut its land area, deprivation and population."""
    period = queries.index_periods(real_db)[-1]
    profile = queries.area_profile("E05013806", period, db=real_db)
    ind = profile.indicators
    assert ind["value"].isna().any() and ind["value"].notna().any()
    reader, text = _read(brief.brief_pdf(profile))
    flat = " ".join(text.split())
    assert len(reader.pages) == 1
    for value in ind.loc[ind["value"].notna(), "value_text"].head(brief.INDICATOR_ROWS):
        assert value in flat, value
    for note in set(ind.loc[ind["value"].isna(), "note"]):
        assert " ".join(brief._missing_reason(note).split()) in flat, note
