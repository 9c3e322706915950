"""Home: what ResNet is, in two sentences, and a link to every page."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.formatting import fmt_int

t = ui.translator()
s = ui.view()
tr = ui.trace_of(s)

st.title(t("home.title"))
st.markdown(t("home.intro"))
st.latex(r"y = \mathcal{F}(x) + x")
st.info(
    t(
        "home.current",
        title=ui.arch_title(s.arch),
        formula=tr.layer_count_formula,
        params=fmt_int(tr.total_params),
    )
)
for page, key in (
    ("app_pages/architecture.py", "architecture"),
    ("app_pages/shortcuts.py", "shortcuts"),
    ("app_pages/feature_maps.py", "feature_maps"),
    ("app_pages/parameters.py", "parameters"),
    ("app_pages/why_residual.py", "why_residual"),
):
    st.page_link(page, label=t(f"nav.{key}"), help=t(f"home.about_{key}"))
    st.caption(t(f"home.about_{key}"))
