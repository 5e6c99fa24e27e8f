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
