"""This session's own objects and the widgets' memory (``st.session_state``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")


def session_slot(key: str, factory: Callable[[], T]) -> T:
    """This session's own object under ``key`` (created by ``factory`` on first use): the pages' memories
    (:class:`~resnet_viz.models.sources.OfflineMemory`, :class:`~resnet_viz.models.sources.CheckpointSlot`,
    :class:`~resnet_viz.imaging.images.ImageSlot`) live here."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def keep_widget_state(keys: tuple[str, ...]) -> None:
    """Write these widgets' values back into session state, so the reader's choices survive.

    Widgets inside a closed tab are not drawn, and Streamlit forgets the state of widgets it did not draw; a
    widget whose label changes (another language) is a new widget to the browser. Writing the values back keeps
    the choices in both cases (seen in a browser check: the radios lost their selection in zh).
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
