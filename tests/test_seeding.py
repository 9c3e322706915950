"""One discipline for seeded initialisation: the seeded random models built from 8 threads at once — the
experiments' nets and the Feature-maps page's random nets, mixed, beside builds whose random start is overwritten
at once (a checkpoint, the shipped trained nets) — have exactly the state_dicts of their single-threaded builds."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from resnet_viz.experiments.nets import cifar_net, load_trained
from resnet_viz.models import seeding, weights
from resnet_viz.models.build import build_model
from resnet_viz.models.seeding import seeded_build

# name -> a seeded build, as the code that owns it does it (small nets; resnet18 once, in its own thread).
SEEDED: dict[str, Callable[[], nn.Module]] = {
    # experiments: training (narrow CIFAR nets), gradient flow (plain vs residual, same seed), identity at init
    "training resnet20 w8 seed1": lambda: seeded_build(1, lambda: cifar_net(20, plain=False, width=8)),
    "training plain20 w8 seed1": lambda: seeded_build(1, lambda: cifar_net(20, plain=True, width=8)),
    "gradient flow plain20 seed3": lambda: seeded_build(3, lambda: build_model("resnet20", plain=True)),
    "gradient flow resnet20 seed3": lambda: seeded_build(3, lambda: build_model("resnet20")),
    "identity resnet32 zero-init seed0": lambda: seeded_build(
        0, lambda: build_model("resnet32", zero_init_residual=True)
    ),
    # the Feature-maps page's random weights
    "feature maps resnet20": lambda: weights.load_random("resnet20"),
    "feature maps plain resnet20": lambda: weights.load_random("resnet20", plain=True),
}
BIG = ("feature maps resnet18", lambda: weights.load_random("resnet18"))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def overwritten_builds(tmp_path) -> list[Callable[[], nn.Module]]:
    """Builds whose random start is replaced by loaded weights: they draw from the same generator."""
    trained = tmp_path / "plain20_w8.safetensors"
    save_file(
        {k: v.contiguous() for k, v in cifar_net(20, plain=True, width=8).state_dict().items()}, trained
    )
    buffer = io.BytesIO()
    torch.save(build_model("resnet20").state_dict(), buffer)
    checkpoint = buffer.getvalue()
    return [
        lambda: weights.load_checkpoint(checkpoint, "resnet20")[0],
        lambda: load_trained(trained, depth=20, width=8, plain=True),
    ]


def test_seeded_builds_from_eight_threads_equal_their_single_threaded_builds(overwritten_builds):
    names = list(SEEDED)
    alone = {name: _state(build()) for name, build in [*SEEDED.items(), BIG]}
    assert not _same(alone["training resnet20 w8 seed1"], _state(cifar_net(20, plain=False, width=8)))
    assert not _same(alone["gradient flow resnet20 seed3"], alone["feature maps resnet20"])  # seeds differ

    # Thread 0 builds resnet18; threads 1-7 each build three of the small nets (every one several times, in
    # different company) with a checkpoint or trained-weights load in between. All start at one barrier.
    plans: list[list[tuple[str, Callable[[], nn.Module]]]] = [[BIG]]
    for i in range(1, 8):
        plan = [(names[(i + j) % len(names)], SEEDED[names[(i + j) % len(names)]]) for j in range(3)]
        plan.insert(1, ("", overwritten_builds[i % 2]))
        plans.append(plan)
    barrier = threading.Barrier(len(plans))
    results: list[tuple[str, dict[str, torch.Tensor]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(plan: list[tuple[str, Callable[[], nn.Module]]]) -> None:
        try:
            barrier.wait()
            for name, build in plan:
                state = _state(build())
                if name:
                    with lock:
                        results.append((name, state))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(plan,)) for plan in plans]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(results) == 1 + 7 * 3
    assert {name for name, _ in results} == set(alone)
    differ = [name for name, state in results if not _same(state, alone[name])]
    assert not differ, f"seeded builds changed by the threads around them: {differ}"


def test_seeded_leaves_the_callers_random_stream_where_it_was():
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    seeded_build(0, lambda: build_model("resnet20"))
    seeding.unseeded_build(lambda: build_model("resnet20"))
    assert torch.equal(torch.rand(4), expected)
