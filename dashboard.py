"""Power Balance — Streamlit entry point. A thin router: page config and navigation only."""
import streamlit as st

st.set_page_config(page_title="Power Balance", page_icon="assets/icon.png", layout="wide",
                   initial_sidebar_state="expanded")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/public:", url_path="overview", default=True),
    st.Page("pages/my_area.py", title="My area", icon=":material/location_on:", url_path="my-area"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/map.py", title="Map", icon=":material/map:", url_path="map"),
    st.Page("pages/funders.py", title="Funders", icon=":material/volunteer_activism:", url_path="funders"),
    st.Page("pages/method.py", title="Method & weights", icon=":material/tune:", url_path="method"),
    st.Page("pages/data.py", title="Data", icon=":material/database:", url_path="data"),
]

st.navigation(PAGES).run()
