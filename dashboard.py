"""Power Balance — Streamlit entry point. A thin router: page config and navigation only."""
import streamlit as st

st.set_page_config(page_title="Power Balance", page_icon="assets/icon.png", layout="wide",
                   initial_sidebar_state="auto")

PAGES = [
    st.Page("pages/overview_page.py", title="Overview", icon=":material/public:", url_path="overview", default=True),
    st.Page("pages/my_area_page.py", title="My area", icon=":material/location_on:", url_path="my-area"),
    st.Page("pages/compare_page.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/map_page.py", title="Map", icon=":material/map:", url_path="map"),
    st.Page("pages/funders_page.py", title="Funders", icon=":material/volunteer_activism:", url_path="funders"),
    st.Page("pages/relationship_page.py", title="Relationship", icon=":material/handshake:", url_path="relationship"),
    st.Page("pages/method_page.py", title="Method & weights", icon=":material/tune:", url_path="method"),
    st.Page("pages/data_page.py", title="Data", icon=":material/database:", url_path="data"),
    st.Page("pages/accessibility_page.py", title="Accessibility", icon=":material/accessibility:", url_path="accessibility"),
]

# An embedded view (?embed=true, from a chart's share line) shows the page alone: no sidebar navigation.
st.navigation(PAGES, position="hidden" if st.context.is_embedded else "sidebar").run()
