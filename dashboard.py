"""Power Balance — Streamlit entry point. A thin router: page config and navigation only.
Pages are found in pages/*_page.py by their ``PAGE`` literal (powerbalance/navigation.py)."""

import streamlit as st

from powerbalance.navigation import pages
from powerbalance.slots import page_slot

st.set_page_config(page_title="Power Balance", page_icon="assets/icon.png", layout="wide", initial_sidebar_state="auto")

PAGES = [st.Page(p.file, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default) for p in pages()]

# An embedded view (?embed=true, from a chart's share line) shows the page alone: no sidebar navigation.
page = st.navigation(PAGES, position="hidden" if st.context.is_embedded else "sidebar")
with page_slot():  # page runs take turns (powerbalance/slots.py): 25 at once no longer all finish late
    page.run()
