"""The budget of one request (issue 22, D3): each capture, inspector record, effective receptive field and
Grad-CAM check is estimated from the network's trace before it runs (``resnet_viz.memory``) and compared with
``$RESNET_VIZ_REQUEST_MB``; the page runs a capture over it at the largest input size that fits and refuses an
inspector request over it, with a notice either way; the caches are bounded by bytes.

* the estimates: exact where they count kept arrays, upper bounds of the peak RSS measured in a fresh process;
* every network's requests at its own input size fit the default budget (the budget never gets in a lesson's way);
* the largest-fitting search, and the receptive field of a network too large to fold (no weight copy);
* the page: the worst link is scaled down with a notice, a budget nothing fits refuses, the inspector refuses
  without running anything;
* a subprocess opens ``/feature_maps?net=resnet110&size=1024`` several times (and the inspector's receptive field
  at 1024) and its peak RSS stays within the budget plus the caches' bounds (``tests/rss_probe.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import streamlit as st
import torch
from repo import ROOT

from resnet_viz import build_model, memory, settings
from resnet_viz.architecture.catalogue import ARCHS
from resnet_viz.architecture.trace import trace
from resnet_viz.i18n import translator
from resnet_viz.imaging import capture as capture_module
from resnet_viz.imaging.explain import effective_rf, layer_names, receptive, stage_outputs
from resnet_viz.imaging.store import nbytes
from resnet_viz.links import start_size
from resnet_viz.models.seeding import seeded_build

MB = 2**20
EN = translator("en")
PAGE = "app_pages/feature_maps.py"


# ----------------------------------------------------------------------------------------------- the estimates
def test_the_kept_bytes_are_the_captures_own() -> None:
    """The part of a capture's estimate that it keeps is exactly what a real capture holds: the maps in float16,
    the residual means, logits and CAM in float32 (a plain network has no shortcut means: a little less)."""
    assert memory.KEPT_BYTES == np.dtype(capture_module.MAP_DTYPE).itemsize
    for arch, size, plain in (("resnet18", 64, False), ("resnet20", 40, False), ("resnet50", 96, False),
                              ("resnet34", 64, True)):  # fmt: skip
        tr = trace(arch, size, plain=plain)
        model = build_model(arch, plain=plain).eval()
        cap = capture_module.capture(model, torch.randn(1, 3, size, size))
        kept = memory.capture_bytes(tr) - memory.working_bytes(tr)
        assert kept == nbytes(cap) if not plain else 0 < kept - nbytes(cap) < kept // 10


def test_a_deeper_layer_and_a_larger_input_cost_more() -> None:
    tr, big = trace("resnet50", 224), trace("resnet50", 448)
    assert (
        memory.erf_bytes(tr, "layer1.0") < memory.erf_bytes(tr, "layer3.0") < memory.erf_bytes(tr, "layer4.2")
    )
    assert memory.gradcam_bytes(tr, "layer4") < memory.gradcam_bytes(
        tr, "layer1"
    )  # backward from the stage on
    assert memory.capture_bytes(tr) < memory.capture_bytes(big)
    assert memory.record_bytes(tr, "layer1.0.conv1") < memory.record_bytes(big, "layer1.0.conv1")
    with pytest.raises(ValueError, match="unknown layer"):
        memory.record_bytes(tr, "layer9")


_PEAK = textwrap.dedent(
    """
    import json, sys, torch
    from pathlib import Path
    torch.set_num_threads(2)
    from resnet_viz import build_model
    from resnet_viz.imaging import capture
    from resnet_viz.imaging.explain import effective_rf, record_layer, sanity_check, randomized_like

    def kb(field):
        return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines()
                    if l.startswith(field + ":"))

    kind, arch, size, layer = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    model = build_model(arch).eval()
    other = randomized_like(lambda: build_model(arch), 7) if kind == "gradcam" else None
    x = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        model(torch.randn(1, 3, 64, 64))  # the libraries' first-call set-up is not the request's
    Path("/proc/self/clear_refs").write_text("5")
    base = kb("VmRSS")
    if kind == "capture":
        capture.capture(model, x)
    elif kind == "record":
        record_layer(model, x, layer)
    elif kind == "erf":
        effective_rf(model, x, layer, 0, 0, 0)
    else:
        sanity_check(model, other, x, layer)
    print(json.dumps((kb("VmHWM") - base) * 1024))
    """
)


@pytest.mark.slow  # one fresh interpreter per request: a few seconds each
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="measures the peak RSS through /proc")
@pytest.mark.parametrize(
    ("kind", "arch", "size", "layer"),
    [
        ("capture", "resnet110", 256, "-"),  # most kept maps per MAC: the worst link's network
        ("record", "resnet110", 384, "layer1.0"),  # the convolutions' unfolded inputs dominate
        ("erf", "resnet18", 224, "layer4.1"),  # folded weights, copied once
        (
            "erf",
            "resnet152",
            224,
            "layer4.2",
        ),  # too large to fold: nothing copied, the largest default request
        ("gradcam", "resnet50", 224, "layer1"),  # a backward through three stages, twice
    ],
)
def test_each_estimate_bounds_the_peak_measured_in_a_fresh_process(kind, arch, size, layer) -> None:
    """Peak RSS above the process's RSS before the request (the model built and run once at 64 pixels), 2
    threads. Measured on a 2-core Xeon: 97, 134, 84, 146 and 105–112 MB, against estimates of 179, 203, 115, 225
    and 125 MB."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, kind, arch, str(size), layer],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    peak = json.loads(out.stdout.strip().splitlines()[-1])
    tr = trace(arch, size)
    model = build_model(arch)
    estimate = {
        "capture": lambda: memory.capture_bytes(tr),
        "record": lambda: memory.record_bytes(tr, layer),
        "erf": lambda: memory.erf_bytes(tr, layer, receptive.folded_weight_bytes(model)),
        "gradcam": lambda: memory.gradcam_bytes(tr, layer),
    }[kind]()
    assert peak <= estimate, (
        f"{kind} {arch}@{size} {layer}: peak {peak / MB:.0f} MB > estimate {estimate / MB:.0f}"
    )


# ----------------------------------------------------------------------------------------------- the defaults
@pytest.mark.parametrize("arch", ARCHS)
def test_every_request_at_the_networks_own_size_fits_the_default_budget(arch: str) -> None:
    """The budget is for hostile links, never for a lesson: at each network's own input size its capture, the
    record of every layer, the receptive field of its deepest block and Grad-CAM at every stage all fit."""
    budget = settings.DEFAULTS.request_bytes
    size = start_size(arch)
    model = build_model(arch)
    tr = trace(arch, size)
    assert memory.capture_bytes(tr) <= budget
    assert max(memory.record_bytes(tr, name) for name in layer_names(model)) <= budget
    assert memory.erf_bytes(tr, tr.blocks[-1].name, receptive.folded_weight_bytes(model)) <= budget
    assert max(memory.gradcam_bytes(tr, stage) for stage in stage_outputs(model)) <= budget


def test_the_worst_link_is_over_the_default_budget_and_fits_smaller() -> None:
    budget = settings.DEFAULTS.request_bytes
    assert memory.capture_bytes(trace("resnet110", 1024)) > 3 * budget
    fit = memory.fitting_capture_size("resnet110", False, "3x3", 1024, budget)
    assert fit is not None and 32 <= fit < 1024 and fit % memory.SIZE_STEP == 0
    assert memory.capture_bytes(trace("resnet110", fit)) <= budget
    assert memory.capture_bytes(trace("resnet110", fit + memory.SIZE_STEP)) > budget


def test_fitting_size_finds_the_largest_size_within_the_budget() -> None:
    def area(size: int) -> int:
        return size * size

    assert memory.fitting_size(area, 100, 100 * 100, 16) == 100  # fits as asked: unchanged, even off the step
    assert memory.fitting_size(area, 1000, 300 * 300, 16) == 288  # the largest multiple of 16 under 300
    assert memory.fitting_size(area, 1000, 20 * 20, 17) == 17  # only the smallest input fits
    assert memory.fitting_size(area, 1000, 10 * 10, 17) is None


# ----------------------------------------------------------------------------------------------- the receptive field
@pytest.mark.recorded_floats
def test_a_network_too_large_to_fold_copies_no_weights_and_gives_the_same_field(monkeypatch) -> None:
    """resnet101 and resnet152 would keep a 170–230 MB copy of their weights for the receptive field; above
    FOLD_CACHE_BYTES each BN runs as a scale and shift after the model's own conv weight instead: same values."""
    assert receptive.folded_weight_bytes(build_model("resnet152")) == 0
    assert receptive.folded_weight_bytes(build_model("resnet50")) > 0
    # Seeded: unseeded weights came from wherever earlier tests left torch's generator, and some of them put a ReLU
    # input within rounding of zero (1.08e-2 x max apart, past the bound, with the generator seeded 4 before this
    # test). Seed 0 measured across kernel sets (tests/test_any_cpu.py): 5.6e-7 x max, the totals 8.7e-8.
    model = seeded_build(0, lambda: build_model("resnet18")).eval()
    with torch.no_grad():  # BN statistics that are not the identity, so that folding them matters
        gen = torch.Generator().manual_seed(0)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    receptive._fold_cache.clear()
    folded = effective_rf(model, x, "layer3.1", 2, 1, 1)
    assert len(receptive._fold_cache) == 1
    receptive._fold_cache.clear()
    monkeypatch.setattr(receptive, "FOLD_CACHE_BYTES", 0)
    assert receptive.folded_weight_bytes(model) == 0
    unfolded = effective_rf(model, x, "layer3.1", 2, 1, 1)
    assert len(receptive._fold_cache) == 0  # nothing made, nothing kept
    # The two sum in another order, so a ReLU input within rounding of zero may land on either side of the kink
    # (as tests/test_explain.py measures for folded against unfolded): over 64 random nets × 24 kernel sets one
    # pixel moved by up to 1.27e-2 × the peak, the totals by 1.0e-4 at most; seed 0 flips none. A BN applied
    # wrongly would be off by tens of percent.
    np.testing.assert_allclose(unfolded, folded, rtol=0, atol=1e-2 * folded.max())
    assert abs(unfolded.sum() - folded.sum()) <= 1e-3 * folded.sum()


# ----------------------------------------------------------------------------------------------- the page
@pytest.fixture
def budget_page(app_test, offline, monkeypatch):
    """Open the Feature-maps page at an address with the process's byte-bounded stores made afresh (they read the
    settings when first made) and cleared again after."""
    from resnet_viz.ui import feature_maps as ui_fm

    def open_page(query: dict[str, str], **env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        ui_fm._cache_stores.clear()
        ui_fm.capture_store.clear()
        at = app_test(timeout=300, query=query)
        at.switch_page(PAGE).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield open_page
    st.cache_resource.clear()
    st.cache_data.clear()


def _warnings(at) -> list[str]:
    return [str(w.value) for w in at.warning]


def _captions(at) -> list[str]:
    return [c for img in at.image for c in img.captions]


@pytest.mark.slow
def test_the_worst_link_runs_at_the_largest_size_that_fits_with_a_notice(budget_page, monkeypatch) -> None:
    sizes = []
    real = capture_module.capture_batch
    monkeypatch.setattr(capture_module, "capture_batch", lambda m, x: sizes.append(x.shape[-1]) or real(m, x))
    budget_mb = 96  # small, so the test's forward is short; the default is checked above
    at = budget_page({"net": "resnet110", "size": "1024"}, RESNET_VIZ_REQUEST_MB=str(budget_mb))
    fit = memory.fitting_capture_size("resnet110", False, "3x3", 1024, budget_mb * MB)
    assert sizes == [fit]  # one forward, at the fitted size: never at 1024
    notice = [w for w in _warnings(at) if "1024×1024" in w]
    assert len(notice) == 1 and f"{fit}×{fit}" in notice[0] and "96 MiB" in notice[0], _warnings(at)
    assert any(c.startswith(f"3. centre crop {fit}×{fit}") for c in _captions(at)), _captions(at)


def test_a_budget_nothing_fits_refuses_with_a_message(budget_page, monkeypatch) -> None:
    monkeypatch.setattr(capture_module, "capture_batch", lambda *a: pytest.fail("no forward may run"))
    at = budget_page({"net": "resnet18", "size": "224"}, RESNET_VIZ_REQUEST_MB="1")
    errors = [str(e.value) for e in at.error if "224×224" in str(e.value)]
    assert errors == [
        EN(
            "feature_maps.budget_refused",
            net="ResNet-18",
            size=224,
            need=errors[0].split("about ")[1].split(" of")[0],
            budget="1 MiB",
        )
    ], errors
    assert not at.image or not any(c.startswith("1. ") for c in _captions(at))


def test_the_inspector_refuses_what_is_over_the_budget_and_runs_nothing(budget_page, monkeypatch) -> None:
    """At 128 pixels resnet20's capture fits a 64 MB budget, but the receptive field of its last block does not:
    the tab says so, names the largest input size at which it would run, and computes nothing."""
    from resnet_viz.imaging import explain

    budget = 64
    at = budget_page({"net": "resnet20", "size": "128"}, RESNET_VIZ_REQUEST_MB=str(budget))
    tr = trace("resnet20", 128)
    assert memory.capture_bytes(tr) <= budget * MB < memory.erf_bytes(tr, "layer3.2")
    monkeypatch.setattr(explain, "effective_rf", lambda *a: pytest.fail("no backward pass may run"))
    at.session_state["fm_tab"] = EN("inspector.tab")
    at.run()
    at.session_state["ix_layer"] = "layer3.2"
    at.session_state["ix_rf"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    weights = receptive.folded_weight_bytes(build_model("resnet20"))
    fit = memory.fitting_erf_size("resnet20", False, "3x3", "layer3.2", weights, 128, budget * MB)
    notice = [w for w in _warnings(at) if w.startswith("The effective receptive field of layer3.2")]
    assert len(notice) == 1 and f"{fit}×{fit} or smaller" in notice[0], _warnings(at)


def test_the_page_caches_are_bounded_in_bytes_by_the_settings(budget_page) -> None:
    from resnet_viz import ui

    budget_page({"net": "resnet18", "size": "64"}, RESNET_VIZ_CACHE_MB="3")
    for name in ("prepared", "grid", "stats", "record", "erf", "sanity"):
        assert ui.cache_store(name).max_bytes == 3 * MB
        assert ui.cache_store(name).stats().bytes <= 3 * MB
    assert ui.cache_store("grid").stats().entries > 0  # the overview's grids went through it


# ----------------------------------------------------------------------------------------------- the worst link's RSS
def _probe(*args: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "rss_probe.py"), *args],
        capture_output=True, text=True, timeout=1800, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


#: What the probe's process may hold above its warm RSS besides one request: the page's byte-bounded caches
#: (their settings below), and Streamlit's own per-session objects (measured: ~10 MB for three sessions).
SLACK_MB = 40


@pytest.mark.slow  # a subprocess opening the page four times: a minute or two on 2 busy cores
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="measures the peak RSS through /proc")
@pytest.mark.parametrize("erf", [False, True], ids=["feature_maps", "inspector_erf"])
def test_the_worst_link_opened_again_and_again_stays_within_the_budget(erf: bool) -> None:
    """``/feature_maps?net=resnet110&size=1024`` in three sessions of one process (two with the inspector's
    receptive field of the deepest block, at 1024): the peak RSS above the warm process is at most one request's
    budget plus the bounded caches, visit after visit. Before the budget the first visit peaked at +1.6 GB (+6.1 GB
    with the receptive field); now +49 MB (+66 MB) with these settings."""
    request_mb, cache_mb = 96, 8
    env = {"RESNET_VIZ_REQUEST_MB": str(request_mb), "RESNET_VIZ_CACHE_MB": str(cache_mb)}
    report = _probe("--visits", "2" if erf else "3", *(["--erf"] if erf else []), env=env)
    bound = report["warm_rss_mb"] + request_mb + 6 * cache_mb + SLACK_MB
    assert max(report["peak_mb"]) <= bound, report
    assert any("1024×1024" in n for n in report["notices"]), report  # scaled down, and said so
    if erf:
        assert any(n.startswith("The effective receptive field of layer3.17") for n in report["notices"]), (
            report
        )


# ----------------------------------------------------------------------------------------------- the knobs and models
@pytest.mark.parametrize(
    ("name", "text", "attr", "value"),
    [
        ("RESNET_VIZ_REQUEST_MB", "128", "request_mb", 128.0),
        ("RESNET_VIZ_REQUEST_MB", "0", "request_mb", 320),  # nothing could run: the default, with a warning
        ("RESNET_VIZ_REQUEST_MB", "-5", "request_mb", 320),
        ("RESNET_VIZ_CACHE_MB", "0", "cache_mb", 0.0),  # keep nothing: allowed
        ("RESNET_VIZ_CACHE_MB", "lots", "cache_mb", 32),
        ("RESNET_VIZ_MODELS_MB", "1024", "models_mb", 1024.0),
        ("RESNET_VIZ_MODELS_MB", "inf", "models_mb", 512),
    ],
)
def test_the_budget_knobs_are_parsed(monkeypatch, caplog, name, text, attr, value) -> None:
    monkeypatch.setenv(name, text)
    settings._parse.cache_clear()
    got = getattr(settings.current(), attr)
    assert got == value
    warned = any(name in r.getMessage() for r in caplog.records)
    assert warned == (value == getattr(settings.DEFAULTS, attr))  # no case above names the default itself
    settings._parse.cache_clear()


def test_the_shared_models_are_bounded_by_their_bytes(monkeypatch) -> None:
    """Six variants of resnet152 (pretrained, random, plain, the stride's place, …) were six 230 MB models kept
    by count; now the models together stay under RESNET_VIZ_MODELS_MB, the least recently used rebuilt."""
    from resnet_viz.models.sources import random_source
    from resnet_viz.ui import feature_maps as ui_fm

    monkeypatch.setenv("RESNET_VIZ_MODELS_MB", "100")
    ui_fm.model_store.clear()
    try:
        small = ui_fm.shared_model(random_source("resnet18"), "cpu")
        assert ui_fm.shared_model(random_source("resnet18"), "cpu") is small  # kept: one build
        # four bytes a value, and BN's step counters are int64: a few bytes more
        floats = 4 * sum(v.numel() for v in small.state_dict().values())
        assert floats <= ui_fm.model_bytes(small) < floats + 1024
        ui_fm.shared_model(random_source("resnet34"), "cpu")  # 87 MB: resnet18's 45 MB must make room
        stats = ui_fm.model_store().stats()
        assert stats.bytes <= 100 * MB and (stats.entries, stats.evicted) == (1, 1)
        assert ui_fm.shared_model(random_source("resnet18"), "cpu") is not small  # built again
    finally:
        ui_fm.model_store.clear()


def test_a_full_batch_of_captures_stays_within_one_budget() -> None:
    """The batcher merges up to RESNET_VIZ_MAX_BATCH sessions' captures into one forward: the page batches only
    captures small enough that a full batch fits one request's budget, and runs larger ones alone. At 224 the
    load test's resnet34 and resnet50 batch; resnet152 runs alone."""
    from resnet_viz.models.sources import random_source
    from resnet_viz.ui import feature_maps as ui_fm

    budget, full = settings.DEFAULTS.request_bytes, settings.DEFAULTS.max_batch

    def need(arch: str) -> int:
        return ui_fm.batch_need(ui_fm.capture_need(random_source(arch), 224), full)

    assert need("resnet34") <= need("resnet50") <= budget < need("resnet152")
    assert ui_fm.batch_need(100 * MB, 1) == 100 * MB
