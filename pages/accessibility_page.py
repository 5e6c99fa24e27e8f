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
    "- These pages are checked automatically in a real browser with **axe-core** against the **WCAG 2.2 A and "
    "AA** rules, as each first opens: Overview, My area (one council), Compare, Map, Funders, Method & weights, "
    "Data, Relationship (the questions) and this statement; the project's tests fail on any violation found "
    "(`tests/test_accessibility.py`). The checks do not open the data tables, upload a file to Funders or fill "
    "in the Relationship response form, so those states are reviewed by hand only.\n"
    "- Text and captions meet the WCAG AA contrast ratio of 4.5:1 (the Government Analysis Function palette).\n"
    "- Every chart has a text description under it and its **data table** (with CSV and Excel downloads) right "
    "below it, holding every value drawn: open “Data table” with a click or the keyboard (Enter or Space). A "
    "screen reader names each chart by its description; where that is long, by its first sentences or its kind "
    "and subject, ending “Described in full in the text under the chart.”\n"
    "- Each page has one main heading, and its sections are headings one level below it, so the list of "
    "headings a screen reader offers follows the page.\n"
    "- Each download button says what it downloads (“Download Wards in Adur as CSV”, with its number of rows), and each data "
    "table is in a region named after the table.\n"
    "- Every choice on a page is kept in the page's address, so a view can be bookmarked and shared, and the page "
    "can be reached again without repeating the steps; a page you come back to by the menu shows the choices you "
    "left on it.\n"
    "- The one-page brief on **My area** is a tagged PDF (PDF/UA-1) with its language and title set, or HTML."
)

st.header("What is not yet accessible, and the alternatives")
st.markdown(
    "These problems were found by reviewing the pages by hand (keyboard, screen-reader accessibility tree, a "
    "320 pixel wide screen, 200% zoom). Each names the WCAG 2.2 criterion it fails."
)
st.markdown(
    "| Not yet accessible | Why (criterion) | Alternative |\n"
    "|---|---|---|\n"
    "| Clicking an area on a **map** (Map, My area, Funders) | The maps are drawn on a canvas that a keyboard or a "
    "screen reader cannot move through area by area (2.1.1 Keyboard). | Each map's data table lists every area and "
    "value; on My area, find any council or ward by name or postcode in the search box. |\n"
    "| Hovering over **chart** points for exact values | Chart tooltips need a mouse (2.1.1 Keyboard). | The data "
    "table under each chart has every value, and its CSV/Excel download. |\n"
    "| **Colour** in maps and charts | Colour scales alone cannot be read by everyone (1.4.1 Use of Color). | "
    "Values are written in the tables; charts use a colour-blind-safe palette and labels. |\n"
    "| **Many Tab stops** (My area above all) | Each heading's link and each table are stops; the brief's "
    "download is about 120 presses from the top of My area (2.4.1 Bypass Blocks). | The “Go to the one-page "
    "brief” link under the area's name (the download is then two presses away), or move by headings. |\n"
    "| **Inside a data table** | The grid is drawn on a canvas: the table itself has no name (its region, the "
    "heading above it and its download buttons do), and its canvas is a Tab stop without a name (1.3.1 Info and "
    "Relationships, 4.1.2 Name, Role, Value). | The table's CSV download (plain text). |\n"
    "| **Weight sliders** (Method & weights) | Each is announced with its name twice, as the slider Streamlit "
    "draws gives it two labels (4.1.2 Name, Role, Value). | Set the weights in the address "
    "(`weights=funding:0.5,projects:0.5,participation:0`). |\n"
    "| Third-party **downloads** (Excel) | Spreadsheets are as accessible as the program that opens them. | The "
    "same table as CSV (plain text). |"
)

st.header("Compliance status")
st.markdown(
    "This dashboard is **partially compliant** with the Web Content Accessibility Guidelines version 2.2 AA "
    "standard, because of the non-compliances listed above."
)

st.header("Reporting a problem or asking for another format")
st.markdown(ui.contact_line())
st.markdown(
    "If you are not happy with how they respond, contact the "
    "[Equality Advisory and Support Service (EASS)](https://www.equalityadvisoryservice.com/)."
)

st.header("How this statement was prepared")
st.markdown(
    "The automated checks run on the pages listed above with each change to the code (the dashboard's browser tests, "
    "axe-core with the WCAG 2.2 A and AA rule tags). Automated tests find only some problems; the limitations "
    "above come from reviewing the pages by hand."
)
