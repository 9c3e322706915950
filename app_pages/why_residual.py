"""Placeholder until its issue lands: says what the page will show."""

import streamlit as st

from resnet_viz import ui_state

t = ui_state.translator()
st.title(t("nav.why_residual"))
st.info(t("common.coming_soon"))
st.markdown(t("home.about_why_residual"))
