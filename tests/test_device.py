"""Device choice: CUDA, else Apple MPS, else CPU; ``RESNET_VIZ_DEVICE`` overrides; absent devices fall back.

Availability is monkeypatched, so the preference order is checked on a machine without any GPU too.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from resnet_viz import describe_device, select_device
from resnet_viz.settings import DEVICE_ENV as ENV_VAR


def _set_available(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_env_cpu_gives_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_available(monkeypatch, cuda=True, mps=True)
    monkeypatch.setenv(ENV_VAR, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert select_device() == torch.device("cpu")


@pytest.mark.parametrize("wanted", ["cuda", "mps", " CUDA "])
def test_absent_device_warns_and_falls_back_to_cpu(monkeypatch: pytest.MonkeyPatch, wanted: str) -> None:
    _set_available(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv(ENV_VAR, wanted)
    with pytest.warns(
        RuntimeWarning, match=rf"device '{wanted.strip().lower()}' is not available here; using the CPU"
    ):
        assert select_device() == torch.device("cpu")


def test_unknown_device_warns_and_uses_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_available(monkeypatch, cuda=True, mps=False)
    monkeypatch.setenv(ENV_VAR, "nonsense")
    with pytest.warns(RuntimeWarning, match="'nonsense' is not available"):
        assert select_device() == torch.device("cpu")


def test_env_cuda_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No monkeypatching: this machine's own torch decides (CPU-only here and in CI: a warning and the CPU)."""
    monkeypatch.setenv(ENV_VAR, "cuda")
    if torch.cuda.is_available():
        assert select_device().type == "cuda"
    else:
        with pytest.warns(RuntimeWarning, match="'cuda' is not available here"):
            assert select_device() == torch.device("cpu")


def test_env_selects_present_device(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_available(monkeypatch, cuda=True, mps=True)
    monkeypatch.setenv(ENV_VAR, "mps")
    assert select_device() == torch.device("mps")
    monkeypatch.setenv(ENV_VAR, "cuda")
    assert select_device() == torch.device("cuda")


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_preference_order_without_env(
    monkeypatch: pytest.MonkeyPatch, no_env: None, cuda: bool, mps: bool, expected: str
) -> None:
    _set_available(monkeypatch, cuda=cuda, mps=mps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert select_device() == torch.device(expected)


def test_explicit_argument_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_available(monkeypatch, cuda=True, mps=False)
    monkeypatch.setenv(ENV_VAR, "cuda")
    assert select_device("cpu") == torch.device("cpu")


def test_this_machine_default(no_env: None) -> None:
    """Whatever the machine, the default is one of the three and is usable for a tensor."""
    device = select_device()
    assert device.type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert device == torch.device("cpu")
    assert torch.ones(2, device=device).sum().item() == 2


def test_describe_device_cpu() -> None:
    assert describe_device(torch.device("cpu")) == f"CPU ({torch.get_num_threads()} threads)"
    assert describe_device(torch.device("mps")) == "Apple MPS"


# --- the forward gate and thread count, derived from the machine ---


@pytest.mark.parametrize("cores", [None, 0, 1, 2, 3, 4, 8, 16, 64, 256])
def test_cpu_forward_budget_never_oversubscribes(cores) -> None:
    from resnet_viz.models.device import forward_budget

    b = forward_budget(cores, "cpu")
    n = max(1, cores or 1)
    assert 1 <= b.threads <= 4 and 1 <= b.max_concurrent <= 8
    # concurrent forwards × threads each never exceeds the cores (a single core may still run 2 queued forwards)
    assert b.max_concurrent * b.threads <= max(n, 2)


def test_cpu_forward_budget_on_two_cores_is_two_forwards_of_one_thread() -> None:
    from resnet_viz.models.device import forward_budget

    b = forward_budget(2, "cpu")
    assert (b.max_concurrent, b.threads) == (2, 1)  # what the load test measured best on 2 cores


def test_forward_budget_grows_with_cores_and_differs_on_a_gpu() -> None:
    from resnet_viz.models.device import forward_budget

    small, big = forward_budget(2, "cpu"), forward_budget(16, "cpu")
    assert big.max_concurrent * big.threads > small.max_concurrent * small.threads
    gpu = forward_budget(16, "cuda")
    assert gpu.max_concurrent == 4 and gpu.threads == 4
    assert forward_budget(2, "cuda").threads == 1


def test_usable_cores_follows_the_affinity(monkeypatch) -> None:
    import os

    from resnet_viz.models import device as device_module

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert device_module.usable_cores() == 3


def test_a_cuda_device_turns_tf32_off_and_the_cpu_leaves_the_flags_alone(
    monkeypatch: pytest.MonkeyPatch, no_env: None
) -> None:
    """Single numbers are rebuilt from their terms to 1e-4 (explain_value); cuDNN's default TF32 would break that
    on a GPU. Choosing CUDA turns it off for the process; choosing the CPU changes nothing."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        _set_available(monkeypatch, cuda=False, mps=False)
        assert select_device() == torch.device("cpu")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        _set_available(monkeypatch, cuda=True, mps=False)
        assert select_device() == torch.device("cuda")
        assert not torch.backends.cudnn.allow_tf32
        assert not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
