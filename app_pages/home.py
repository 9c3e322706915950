"""Home: what ResNet is, in two sentences, and a link to every page."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.architecture.catalogue import CATALOGUE
from resnet_viz.formatting import fmt_int

t = ui.translator()
s = ui.view()
tr = ui.trace_of(s)

st.title(t("home.title"))
st.markdown(t("home.intro"))
# The block as the paper (§3.2) and torchvision build it: the ReLU comes after the addition.
st.latex(r"y = \mathrm{ReLU}\big(\mathcal{F}(x) + x\big)")
st.info(
    t(
        "home.current",
        title=ui.arch_title(s.arch, plain=s.plain),
        formula=tr.layer_count_formula,
        params=fmt_int(tr.total_params),
    )
)
# Each page's one-line description, with the numbers of the network chosen in the sidebar where it has any.
about_args = {
    "architecture": {"size_in": tr.input_size[1], "size_out": tr.stages[-1].output_shape[1]},
    "parameters": {"formula": CATALOGUE["resnet34"].layer_count_formula},  # the notes' worked example
}
for page, key in (
    ("app_pages/architecture.py", "architecture"),
    ("app_pages/shortcuts.py", "shortcuts"),
    ("app_pages/feature_maps.py", "feature_maps"),
    ("app_pages/parameters.py", "parameters"),
    ("app_pages/why_residual.py", "why_residual"),
    ("app_pages/ladder.py", "ladder"),
):
    about = t(f"home.about_{key}", **about_args.get(key, {}))
    st.page_link(page, label=t(f"nav.{key}"), help=about)
    st.caption(about)
