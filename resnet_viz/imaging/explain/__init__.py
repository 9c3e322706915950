"""Look inside one number: how one activation of a real ResNet was computed, where on the photo it looks, and
where the network looks at every stage.

* :func:`explain_value` rebuilds one activation from the terms a student can read: a conv's input window and
  kernel, its dot product split into the 8 input channels that contribute most (and the rest), the bias, the
  BatchNorm arithmetic and the ReLU; a block's output as F(x) + shortcut(x) → ReLU, with the projection's 1×1
  channel mix or option A's zero-padded channels; a max pool's window. It is split in two so the page can pick a
  new position without a new forward pass: :func:`record_layer` (one forward up to the layer, kept as float32
  numpy) and :func:`explain_at` (numpy arithmetic on that record).
* :func:`rf_box` is the theoretical receptive field of a position (from the trace), :func:`effective_rf` the
  effective one, |∂y/∂input| of one activation (Luo et al., 2016), by one backward pass w.r.t. the input only.
* :func:`grad_cam` is Grad-CAM (Selvaraju et al., 2017) at any stage's output, and :func:`sanity_check` the
  model-randomisation test of Adebayo et al. (2018): the same map from a randomly initialised network and the
  Spearman rank correlation between the two.

The parts: :mod:`.records` (what an explanation is made of), :mod:`.walk` (the forward pass up to a layer, each
block's terms through the one block walker), :mod:`.terms` (the per-layer arithmetic), :mod:`.receptive` (the
receptive fields) and :mod:`.gradcam`. Every public name is importable from this package.

Like :mod:`resnet_viz.imaging.capture`, this walks the model's own submodules in the order torchvision's
``forward`` calls them (no hooks: the model is shared between sessions). Nothing is registered on the model, no
parameter's ``requires_grad`` is changed and no ``.grad`` is written (``torch.autograd.grad`` w.r.t. the input or
a feature map only); the walk re-implements only the ReLUs and the residual addition, which
``tests/test_explain.py`` checks against the blocks' own forward.
"""

from __future__ import annotations

from resnet_viz.imaging.explain.gradcam import (
    BN_INITIAL_MEAN,
    BN_INITIAL_VAR,
    RHO_DECIMALS,
    SANITY_SEED,
    SIMILAR_RHO,
    GradCam,
    SanityCheck,
    grad_cam,
    initial_statistics,
    maps_alike,
    randomized_like,
    sanity_check,
    sanity_reading,
    shown_rho,
    spearman,
    stage_outputs,
    trained_statistics,
)
from resnet_viz.imaging.explain.receptive import (
    FOLD_CACHE_MODELS,
    RFBox,
    effective_rf,
    folded_weight_bytes,
    rf_box,
    zero_padded_channel,
)
from resnet_viz.imaging.explain.receptive import (
    _fold_cache as _fold_cache,  # the folded weights' cache, looked at by tests/test_explain.py
)
from resnet_viz.imaging.explain.records import TOLERANCE, TOP_CHANNELS, Explanation, LayerRecord, Term, Window
from resnet_viz.imaging.explain.terms import explain_at, explain_value
from resnet_viz.imaging.explain.walk import layer_names, record_layer

__all__ = [
    "BN_INITIAL_MEAN",
    "BN_INITIAL_VAR",
    "FOLD_CACHE_MODELS",
    "SANITY_SEED",
    "RHO_DECIMALS",
    "SIMILAR_RHO",
    "TOLERANCE",
    "TOP_CHANNELS",
    "Explanation",
    "GradCam",
    "LayerRecord",
    "RFBox",
    "SanityCheck",
    "Term",
    "Window",
    "effective_rf",
    "folded_weight_bytes",
    "explain_at",
    "explain_value",
    "grad_cam",
    "initial_statistics",
    "layer_names",
    "maps_alike",
    "shown_rho",
    "randomized_like",
    "record_layer",
    "rf_box",
    "zero_padded_channel",
    "sanity_check",
    "sanity_reading",
    "spearman",
    "stage_outputs",
    "trained_statistics",
]
