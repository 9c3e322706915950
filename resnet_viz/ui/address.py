"""The view in the address bar, and the "share this view" box.

After the sidebar resolved this rerun's :class:`~resnet_viz.links.View` (``ui.resolve``), :func:`sync_address` writes
it into the address, so that copying the address shares the view, and draws the share box with its QR code. A
page's own parameters (``sample``, ``step``) are kept only while that page is shown.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import streamlit as st

from resnet_viz import links
from resnet_viz.links import View
from resnet_viz.ui.presenter import dev_caption, presenter_style
from resnet_viz.ui.resolve import LINK_SEEN, PAGE_PARAMS, share_help, store, translator, view


def _write_address(v: View) -> None:
    want = v.query()
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)
    st.session_state[LINK_SEEN] = want


def set_page_param(name: str, value: object | None) -> View:
    """Put a page's own parameter in the view and the address (``None`` removes it); returns the new view."""
    entry = st.session_state.setdefault(PAGE_PARAMS, {"page": None, "values": {}})
    if value is None:
        entry["values"].pop(name, None)
    else:
        entry["values"][name] = value
    v = view().with_page_param(name, value)
    store(v)
    _write_address(v)
    return v


def page_param(name: str) -> object | None:
    """A page's own parameter (``sample``, ``step``) from the address that opened it, or None."""
    return view().page_param(name)


def sync_address(v: View, page_path: str) -> View:
    """After the sidebar, before the page: write the view into the address, and draw the "share" box.

    ``page_path`` is the page's url path: a page's own parameters are kept only while that page is shown.
    Returns the view the page shows (without another page's parameters)."""
    entry = st.session_state.setdefault(PAGE_PARAMS, {"page": None, "values": {}})
    if entry["page"] is None:
        entry["page"] = page_path
    elif entry["page"] != page_path:
        st.session_state[PAGE_PARAMS] = {"page": page_path, "values": {}}
        v = replace(v, page_params=())
        store(v)
    _write_address(v)
    if page_path != CLASS_PAGE_PATH:
        _share_box(v, page_path)
    presenter_style()
    return v


#: The class page's url path (``ui.classroom.PAGE_PATH``): it has no "share this view" box. The teacher's panel
#: shows the address students need (``class_qr``), and a phone in a class must not download what the box draws
#: with: ``st.code`` loads a 1.5 MB syntax-highlighter bundle, which on one server with 30 phones joining at once
#: queued the answer box's own small bundle behind it for minutes (docs/classroom.md, "Thirty phones on one
#: server").
CLASS_PAGE_PATH = "classroom"


def _share_box(v: View, page_path: str) -> None:
    """The sidebar's "share this view" box: the address, its QR code, and what an address can hold."""
    t = translator()
    with st.sidebar.expander(t("links.share_header"), icon=":material/share:", expanded=v.presenter):
        url = share_url(page_path)
        st.code(url, language=None, wrap_lines=True)
        st.caption(t("links.copy_caption"))
        # links.qr_png keeps the last few hundred addresses' codes: the same few come back on every rerun
        st.image(links.qr_png(url), caption=t("links.qr_caption"), width=220 if v.presenter else 160)
        dev_caption(share_help(t))


def share_url(page_path: str = "") -> str:
    """The full address of this view (``st.context.url`` is the browser's address without its query)."""
    base = getattr(st.context, "url", None) or ("/" + page_path)
    return f"{base}?{urlencode(view().query())}"
