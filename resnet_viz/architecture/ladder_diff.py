"""The difference between two networks, step by step: what was added, removed or reshaped, and what it costs.

Pure arithmetic on :class:`~resnet_viz.architecture.ladder.RungTrace` records (no torch). Records are matched by
their ``role`` (the same job on any rung: ``stage3.0.conv1``), not by their module name, because the ladder's
last step changes torchvision's container: ResNet's ``layer3.0.conv1`` is ConvNeXt's ``features.5.0.block.0``.
A record whose role is in both networks and whose kind, shapes, kernel, stride, groups, bias and parameters are
all equal is unchanged even if its name differs (it is listed in ``renamed``).

Works on any two rungs of the ladder (consecutive or not), its kernel variants, and the catalogue's ImageNet
ResNets (``resnet18`` … ``resnet152``: :func:`~resnet_viz.architecture.ladder.network_trace`). The CIFAR networks
are not accepted: their option-A shortcuts and three stages share no roles with these worth comparing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from resnet_viz.architecture.ladder import LayerRecord, RungTrace, network_trace

#: The fields that make a step "the same step": a difference in any of them is a change.
COMPARED: tuple[str, ...] = (
    "kind",
    "input_shape",
    "output_shape",
    "kernel",
    "stride",
    "groups",
    "bias",
    "params",
)

ChangeKind = Literal["added", "removed", "changed", "renamed"]


@dataclass(frozen=True)
class ModuleChange:
    """One role that differs between network A and network B. ``a``/``b`` is the record on each side (None where
    the role is absent); ``fields`` lists the :data:`COMPARED` fields that differ (empty for added, removed and
    renamed)."""

    role: str
    change: ChangeKind
    a: LayerRecord | None
    b: LayerRecord | None
    fields: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The module's name in B, or in A for a removed one; ``A-name → B-name`` when it was renamed."""
        if self.a is not None and self.b is not None and self.a.name != self.b.name:
            return f"{self.a.name} → {self.b.name}"
        return (self.b or self.a).name  # type: ignore[union-attr]

    @property
    def delta_params(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def delta_macs(self) -> int:
        return (self.b.macs if self.b else 0) - (self.a.macs if self.a else 0)

    @property
    def block(self) -> str:
        return (self.b or self.a).block  # type: ignore[union-attr]

    def to_dict(self) -> dict[str, Any]:
        def rec(r: LayerRecord | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {**asdict(r), "input_shape": list(r.input_shape), "output_shape": list(r.output_shape)}

        return {"role": self.role, "change": self.change, "name": self.name, "fields": list(self.fields),
                "delta_params": self.delta_params, "delta_macs": self.delta_macs, "a": rec(self.a),
                "b": rec(self.b)}  # fmt: skip


@dataclass(frozen=True)
class LadderDiff:
    """Everything that differs from network ``a`` to network ``b`` at one input size, with the totals."""

    a: str
    b: str
    input_size: tuple[int, int, int]
    added: tuple[ModuleChange, ...]
    removed: tuple[ModuleChange, ...]
    changed: tuple[ModuleChange, ...]
    renamed: tuple[ModuleChange, ...]
    params: tuple[int, int]
    macs: tuple[int, int]
    receptive_field: tuple[int, int]  # of the last feature map before the global pool
    blocks_added: tuple[str, ...] = ()  # blocks (stage3.6) B has and A has not a single step of
    blocks_removed: tuple[str, ...] = ()  # blocks A has and B has not a single step of

    @property
    def delta_params(self) -> int:
        return self.params[1] - self.params[0]

    @property
    def delta_macs(self) -> int:
        return self.macs[1] - self.macs[0]

    @property
    def delta_receptive_field(self) -> int:
        return self.receptive_field[1] - self.receptive_field[0]

    @property
    def identical(self) -> bool:
        """No step added, removed, reshaped or renamed."""
        return not (self.added or self.removed or self.changed or self.renamed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a, "b": self.b, "input_size": list(self.input_size),
            "params": list(self.params), "macs": list(self.macs), "receptive_field": list(self.receptive_field),
            "delta_params": self.delta_params, "delta_macs": self.delta_macs,
            "delta_receptive_field": self.delta_receptive_field, "identical": self.identical,
            "blocks_added": list(self.blocks_added), "blocks_removed": list(self.blocks_removed),
            **{k: [c.to_dict() for c in getattr(self, k)] for k in ("removed", "added", "changed", "renamed")},
        }  # fmt: skip


def _value(r: LayerRecord, f: str) -> object:
    """A field as compared: a linear layer applied at every pixel is a 1×1 conv, stride 1, one group (the paper
    notes the same), so conv → linear reads as a change of kind only, not of kernel, stride and groups."""
    v = getattr(r, f)
    if v is None and r.kind == "linear" and f in ("kernel", "stride", "groups"):
        return 1
    return v


def _differing(a: LayerRecord, b: LayerRecord) -> tuple[str, ...]:
    if (a.kind, a.input_shape, a.output_shape, a.kernel, a.stride, a.groups, a.bias, a.params) == (
        b.kind, b.input_shape, b.output_shape, b.kernel, b.stride, b.groups, b.bias, b.params
    ):  # fmt: skip
        return ()  # the common case, without the field-by-field walk
    return tuple(f for f in COMPARED if _value(a, f) != _value(b, f))


def diff_traces(a: RungTrace, b: RungTrace) -> LadderDiff:
    """The :class:`LadderDiff` from ``a`` to ``b`` (traces at the same input size)."""
    if a.input_size != b.input_size:
        raise ValueError(f"compare networks at one input size, not {a.input_size} and {b.input_size}")
    in_a = {r.role: r for r in a.records}
    in_b = {r.role: r for r in b.records}
    added, changed, renamed = [], [], []
    for rb in b.records:
        ra = in_a.get(rb.role)
        if ra is None:
            added.append(ModuleChange(rb.role, "added", None, rb))
        elif fields := _differing(ra, rb):
            changed.append(ModuleChange(rb.role, "changed", ra, rb, fields))
        elif ra.name != rb.name:
            renamed.append(ModuleChange(rb.role, "renamed", ra, rb))
    removed = [ModuleChange(ra.role, "removed", ra, None) for ra in a.records if ra.role not in in_b]
    return LadderDiff(
        a.key, b.key, a.input_size, tuple(added), tuple(removed), tuple(changed), tuple(renamed),
        (a.total_params, b.total_params), (a.total_macs, b.total_macs), (a.receptive_field, b.receptive_field),
        _blocks_only_in(b, a), _blocks_only_in(a, b),
    )  # fmt: skip


def _blocks(tr: RungTrace) -> tuple[str, ...]:
    """The residual blocks of ``tr`` (``stage3.6``), in order."""
    return tuple(
        dict.fromkeys(r.block for r in tr.records if r.block.count(".") == 1 and r.block[-1].isdigit())
    )


def _blocks_only_in(x: RungTrace, y: RungTrace) -> tuple[str, ...]:
    other = set(_blocks(y))
    return tuple(b for b in _blocks(x) if b not in other)


def diff(net_a: str, net_b: str, input_size: Any = 224) -> LadderDiff:
    """The difference from ``net_a`` to ``net_b``: two rung keys, kernel variants or catalogue ImageNet ResNets
    (:data:`~resnet_viz.architecture.ladder.NETWORKS`); a ``ValueError`` naming the valid ones otherwise."""
    return diff_traces(network_trace(net_a, input_size), network_trace(net_b, input_size))
