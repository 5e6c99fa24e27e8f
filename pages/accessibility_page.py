"""Accessibility statement — how accessible this dashboard is, what is not yet accessible and
the alternatives, how it is tested, and how to report a problem (required of UK public-sector
bodies that publish it: the Public Sector Bodies Accessibility Regulations 2018)."""

import streamlit as st

from powerbalance import ui

PAGE = {"title": "Accessibility", "icon": ":material/accessibility:", "url_path": "accessibility", "order": 90}

ui.start_page()
ui.page_header(
    "Accessibility statement",
    "This statement covers the Power Balance dashboard. We want as many people as possible to be able to use it.",
)

st.header("How accessible this dashboard is")
st.markdown(
    "- Every page is checked automatically in a real browser with **axe-core** against the **WCAG 2.2 A and AA** "
    "rules; the project's tests fail on any violation it finds (`tests/test_accessibility.py`).\n"
    "- Text and captions meet the WCAG AA contrast ratio of 4.5:1 (the Government Analysis Function palette).\n"
    "- Every chart has a text description under it and its **data table** (with CSV and Excel downloads) right "
    "below it, holding every value drawn: open “Data table” with a click or the keyboard (Enter or Space).\n"
    "- Every choice on a page is kept in the page's address, so a view can be bookmarked and shared, and the page "
    "can be reached again without repeating the steps; a page you come back to by the menu shows the choices you left on it.\n"
    "- The one-page brief on **My area** is a tagged PDF (PDF/UA-1) with its language and title set, or HTML."
)

st.header("What is not yet accessible, and the alternatives")
st.markdown(
    "| Not yet accessible | Why | Alternative |\n"
    "|---|---|---|\n"
    "| Clicking an area on a **map** (Map, My area, Funders) | The maps are drawn on a canvas that a keyboard or a "
    "screen reader cannot move through area by area. | Each map's data table lists every area and value; on "
    "My area, find any council or ward by name or postcode in the search box. |\n"
    "| Hovering over **chart** points for exact values | Chart tooltips need a mouse. | The data table under each "
    "chart has every value, and its CSV/Excel download. |\n"
    "| **Colour** in maps and charts | Colour scales alone cannot be read by everyone. | Values are written in "
    "the tables; charts use a colour-blind-safe palette and labels. |\n"
    "| Third-party **downloads** (Excel) | Spreadsheets are as accessible as the program that opens them. | The "
    "same table as CSV (plain text). |"
)

st.header("Compliance status")
st.markdown(
    "This dashboard is **partially compliant** with the Web Content Accessibility Guidelines version 2.2 AA "
    "standard, because of the map interaction listed above."
)

st.header("Reporting a problem or asking for another format")
st.markdown(ui.contact_line())
st.markdown(
    "If you are not happy with how they respond, contact the "
    "[Equality Advisory and Support Service (EASS)](https://www.equalityadvisoryservice.com/)."
)

st.header("How this statement was prepared")
st.markdown(
    "The automated checks run on every page with each change to the code (the dashboard's browser tests, "
    "axe-core with the WCAG 2.2 A and AA rule tags). Automated tests find only some problems; the limitations "
    "above come from reviewing the pages by hand."
)
