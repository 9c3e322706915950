"""The page-text helper misses no element kind: a small app shows one of each, every one with its own word."""

from __future__ import annotations

from apptest_helpers import missing_keys, page_texts


def _every_element_kind() -> None:
    import pandas as pd
    import plotly.graph_objects as go
    import streamlit as st

    st.title("w_title")
    st.header("w_header")
    st.subheader("w_subheader")
    st.markdown("w_markdown")
    st.caption("w_caption")
    st.text("w_text")
    st.info("w_info")
    st.warning("w_warning")
    st.error("w_error")
    st.success("w_success")
    st.metric("w_metric_label", "w_metric_value", "w_metric_delta", help="w_metric_help")
    st.table(pd.DataFrame({"w_table_col": ["w_table_cell"]}, index=["w_table_index"]))
    st.dataframe(pd.DataFrame({"w_df_col": ["w_df_cell"]}))
    with st.expander("w_expander"):
        st.write("inside")
    tab_a, _ = st.tabs(["w_tab_a", "w_tab_b"])
    with tab_a:
        st.button("w_button")
    st.radio("w_radio", ["w_radio_opt1", "w_radio_opt2"])
    st.selectbox("w_select", ["w_select_opt"])
    st.multiselect("w_multi", ["w_multi_opt"])
    st.slider("w_slider", 0, 3, help="w_slider_help")
    st.checkbox("w_checkbox")
    st.toggle("w_toggle")
    st.text_input("w_text_input", placeholder="w_placeholder")
    st.number_input("w_number")
    st.graphviz_chart('digraph { "w_graphviz" }')
    st.plotly_chart(go.Figure(layout={"title": {"text": "⟦w_plotly⟧"}}))
    st.sidebar.markdown("w_sidebar")
    with st.status("w_status"):
        st.write("done")


WORDS = [
    "w_title", "w_header", "w_subheader", "w_markdown", "w_caption", "w_text", "w_info", "w_warning", "w_error",
    "w_success", "w_metric_label", "w_metric_value", "w_metric_delta", "w_metric_help", "w_table_col",
    "w_table_cell", "w_table_index", "w_df_col", "w_df_cell", "w_expander", "w_tab_a", "w_tab_b", "w_button",
    "w_radio", "w_radio_opt1", "w_radio_opt2", "w_select", "w_select_opt", "w_multi", "w_multi_opt", "w_slider",
    "w_slider_help", "w_checkbox", "w_toggle", "w_text_input", "w_placeholder", "w_number", "w_graphviz",
    "w_plotly", "w_sidebar", "w_status",
]  # fmt: skip


def test_page_texts_reads_every_element_kind(app_test) -> None:
    at = app_test(script=_every_element_kind, timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    joined = "\n".join(page_texts(at))
    assert [w for w in WORDS if w not in joined] == []
    # plotly escapes non-ASCII in its JSON spec; the helper reads it decoded.
    assert missing_keys(at) == ["⟦w_plotly⟧"]
