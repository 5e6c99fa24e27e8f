"""What users take away, through AppTest on the real build: benchmarks and "what stands out" on
My area, the open data files on the Data page, the accessibility statement page."""

from __future__ import annotations

import pytest

from powerbalance import benchmarks, index, labels, queries
from tests.helpers import open_app_page as open_page

pytestmark = pytest.mark.slow


def test_my_area_shows_benchmarks_and_what_stands_out(app, real_db, period):  # noqa: F811
    at = open_page(app, "pages/my_area_page.py", {"area": "E07000223", "year": period})
    profile = queries.area_profile("E07000223", period, lens=index.DEFAULT_LENS, db=real_db)
    table = [d.value for d in at.dataframe if "neighbours' median" in d.value.columns]
    assert table, "no indicator table with benchmarks"
    shown = table[0]
    assert {"England", "region", "direction", "source", "year"} <= set(shown.columns)
    assert len(shown) == len(profile.benchmarks)
    assert set(shown["direction"]) <= set(benchmarks.DIRECTION_WORDS.values())
    subheads = [s.value for s in at.subheader]
    if len(profile.stand_out):
        assert "What stands out" in subheads
        text = "\n".join(m.value for m in at.markdown)
        for name in profile.stand_out["name"]:
            assert labels.escape_markdown(name) in text
        assert benchmarks.STAND_OUT_RULE in [c.value for c in at.caption]
    else:
        assert "What stands out" not in subheads


def test_ward_shows_no_stand_out(app, real_db, period):  # noqa: F811
    from tests.helpers import sql

    ward = sql(real_db, "SELECT code FROM areas WHERE level = 'ward' AND district_code = 'E07000223' LIMIT 1")
    at = open_page(app, "pages/my_area_page.py", {"area": ward["code"][0], "year": period})
    assert "What stands out" not in [s.value for s in at.subheader]


def test_data_page_links_this_builds_open_files(app, real_db):  # noqa: F811
    at = open_page(app, "pages/data_page.py")
    build_id = queries.build_info(real_db)["build_id"]
    files = [d.value for d in at.dataframe if "parquet" in d.value.columns]
    assert files, "no open data files table"
    urls = files[0]["csv"].tolist() + files[0]["parquet"].tolist()
    assert urls and all(u.startswith(f"/app/static/geo/{build_id}/exports/") for u in urls)
    assert any("catalogue.json" in m.value for m in at.markdown)
    for u in urls:  # each link is a file this server serves
        assert (app / "static" / u.removeprefix("/app/static/")).is_file(), u


def test_accessibility_page_renders(app):  # noqa: F811
    at = open_page(app, "pages/accessibility_page.py")
    assert at.title[0].value == "Accessibility statement"
    text = "\n".join(m.value for m in at.markdown)
    assert "WCAG 2.2" in text and "data table" in text and "map" in text.lower()
