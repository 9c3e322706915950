"""The server process and its device: one intra-op thread pool, the forward gate, the heap frozen after start-up.

Everything here runs once per process (``st.cache_resource``) and is shared by every session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st
import torch

from resnet_viz import settings
from resnet_viz.models.device import describe_device, forward_budget, select_device, usable_cores

#: Forward passes running at once across all sessions, derived from the cores or the GPU at start-up
#: (``models.device.forward_budget``; 2 on a 2-core CPU): more only oversubscribes the cores.
MAX_CONCURRENT_FORWARDS = forward_budget(usable_cores(), select_device().type).max_concurrent


@st.cache_resource
def _process_setup() -> threading.BoundedSemaphore:
    """Runs once per server process: one intra-op thread pool sized to the machine, and the forward gate."""
    # Cores split between the concurrent forwards (see forward_budget for the measurement behind the rule).
    settings.warn_unknown()  # a misspelt RESNET_VIZ_* name is named in the log, with the closest known one
    budget = forward_budget(usable_cores(), device().type)
    torch.set_num_threads(budget.threads)
    return threading.BoundedSemaphore(budget.max_concurrent)


@st.cache_resource(show_spinner=False)
def warm_process() -> int:
    """Once per server process, on its first script run: import what every page may need (torch, torchvision's
    models, the imaging and drawing modules), bound glibc's arenas, then freeze the collector's heap
    (``resnet_viz.memory``) so that Streamlit's full collection after each rerun walks only what that rerun made
    (~210 ms of CPU before, per rerun of every session). ``python -m benchmarks --only load``: a session's
    server CPU 2.38 → 1.09 CPU-s with the capture store. Returns the number of objects frozen."""
    import importlib

    from resnet_viz import memory

    memory.limit_arenas()  # glibc: session threads share two arenas (a thread's freed memory serves the next)
    for module in (
        "torchvision.models", "plotly.graph_objects", "pandas", "pyarrow", "PIL.Image",
        "resnet_viz.models.build", "resnet_viz.models.weights", "resnet_viz.imaging.capture",
        "resnet_viz.imaging.images", "resnet_viz.imaging.explain", "resnet_viz.render.dot",
        "resnet_viz.render.tiling",
    ):  # fmt: skip
        importlib.import_module(module)
    return memory.freeze_heap()


@st.cache_resource
def device() -> torch.device:
    """The device every shared model runs on (``RESNET_VIZ_DEVICE``, else CUDA when there is one, else CPU)."""
    return select_device()


def device_name(t: Callable[..., str]) -> str:
    """The device in the page's language: the GPU's own name, or the CPU with the cores this server may use."""
    dev = device()
    if dev.type != "cpu":
        return describe_device(dev)
    cores = usable_cores()
    return t("common.device_cpu_one", cores=cores) if cores == 1 else t("common.device_cpu", cores=cores)


def forward_gate() -> threading.BoundedSemaphore:
    """Hold this while running a forward or backward pass (``with forward_gate(): ...``)."""
    return _process_setup()
