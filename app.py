"""resnet-viz: `streamlit run app.py`. The router: the shared sidebar, then the chosen page."""

from __future__ import annotations

import streamlit as st

from resnet_viz import memory, ui

st.set_page_config(page_title="resnet-viz", page_icon=":material/stacks:", layout="wide")
ui.warm_process()  # once per process: imports, then the collector's heap frozen (a full GC per rerun)
memory.refreeze_if_due()  # every few minutes: what the frozen heap kept from ended sessions is collected

view = ui.sidebar()  # this rerun's one View: the address, then the widgets (ui.view() hands it to the page)
t = ui.translator()

PAGES = [
    st.Page("app_pages/home.py", title=t("nav.home"), icon=":material/home:", default=True),
    st.Page("app_pages/architecture.py", title=t("nav.architecture"), icon=":material/straighten:"),
    st.Page("app_pages/shortcuts.py", title=t("nav.shortcuts"), icon=":material/alt_route:"),
    st.Page("app_pages/feature_maps.py", title=t("nav.feature_maps"), icon=":material/image:"),
    st.Page("app_pages/parameters.py", title=t("nav.parameters"), icon=":material/calculate:"),
    st.Page("app_pages/why_residual.py", title=t("nav.why_residual"), icon=":material/trending_down:"),
    st.Page("app_pages/ladder.py", title=t("nav.ladder"), icon=":material/stairs:"),
    st.Page("app_pages/lesson.py", title=t("lesson.nav"), icon=":material/school:"),
    st.Page(
        "app_pages/classroom.py", title=t("nav.classroom"), icon=":material/groups:", url_path="classroom"
    ),
]
page = st.navigation(PAGES)
# /?room=… on any page goes to the class page, which joins it; elsewhere a seated session gets "back to the class"
ui.class_route(page.url_path)
ui.sync_address(view, page.url_path)  # the view into the address bar, and the "share this view" box
page.run()
