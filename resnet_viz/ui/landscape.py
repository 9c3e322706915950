"""The loss-landscape section's cache (app_pages/sections/landscape.py).

A finished live slice is deterministic in (net, seed, points, batch, weights file), so it is kept once for every
session; bounded, and guarded by a lock (sessions are threads).
"""

from __future__ import annotations

import threading

import streamlit as st

_LANDSCAPE_KEEP = 16


@st.cache_resource
def _landscape_results() -> tuple[threading.Lock, dict]:
    return threading.Lock(), {}


def landscape_result(key: tuple) -> dict | None:
    lock, store = _landscape_results()
    with lock:
        return store.get(key)


def keep_landscape_result(key: tuple, result: dict) -> None:
    lock, store = _landscape_results()
    with lock:
        store[key] = result
        while len(store) > _LANDSCAPE_KEEP:
            store.pop(next(iter(store)))  # the oldest (dicts keep insertion order)
