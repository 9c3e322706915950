"""The Feature-maps page's pictures, figures and tables: pure functions of a capture's numpy arrays and a ``t``.

Pictures are PNG bytes (square pixels: one activation stays one block); the ‖F(x)‖/‖shortcut(x)‖ chart is a plotly
figure;
the tables are pandas frames with translated column names. The grids of whole layers are
:func:`resnet_viz.render.tiling.grid_png` (cached in ``resnet_viz.ui.feature_maps``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Imported here, fully, before plotly looks for it: plotly only peeks into sys.modules for pandas, and a first
# import still running in another session's thread made it see a half-initialised module (seen in a browser check).
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from resnet_viz.architecture import catalogue
from resnet_viz.architecture.trace import Trace
from resnet_viz.formatting import fmt_code, fmt_int
from resnet_viz.i18n import Translator, arch_title
from resnet_viz.imaging.capture import Capture, Residual, cam_heat
from resnet_viz.imaging.preprocessing import PreprocessSettings
from resnet_viz.models.sources import ModelSource
from resnet_viz.models.weights import RANDOM_SEED
from resnet_viz.render import tiling
from resnet_viz.render.figures_explain import join_sentences
from resnet_viz.render.style import FONT

#: How many channels each picture of the overview row shows (the most active, by mean activation).
OVERVIEW_CHANNELS = 16


class LayerNames:
    """Our layer names with the paper's beside them (``layer3.0 (conv4_1)``), from the trace of the network."""

    def __init__(self, tr: Trace, cap: Capture) -> None:
        self._paper = {r.name: r.paper_name for r in tr.rows}
        self._stage_paper = {s.name: s.paper_name for s in tr.stages}
        self._dashed = {b.name for b in tr.blocks if b.dashed}
        self._stride = {b.name: b.stride for b in tr.blocks}
        self._stage_of = cap.stage_of

    def paper(self, name: str) -> str:
        """The paper's name for a layer or stage (conv3_1, conv4_x), or "" where it is the same as ours (conv1).
        The max pool sits in the paper's conv2_x row, which the trace writes "conv2_x (pool)"."""
        found = self._stage_paper.get(name) or self._paper.get(name, "")
        found = found.replace(" (pool)", "")
        return "" if found == name else found

    def dashed(self, block: str) -> bool:
        """Whether the block's shortcut changes the shape (the paper's dashed line), as the trace says."""
        return block in self._dashed

    def stride(self, block: str) -> int | None:
        """The block's own stride, as the trace says (its projection's or option A's stride: 1 in ResNet-50's
        layer1.0, whose projection changes only the channels)."""
        return self._stride.get(block)

    def row_paper(self, name: str) -> str:
        """The trace's paper name of one row, as it is (for chart axes)."""
        return self._paper.get(name, "")

    def label(self, name: str, t: Translator) -> str:
        """``layer2.1 (conv3_2) — output of layer2 (conv3_x)`` for the last block of a stage."""
        extra = ""
        for stage, last in self._stage_of.items():
            if last == name:
                extra = " — " + t(
                    "feature_maps.stage_output", stage=stage, paper=self._stage_paper.get(stage, "")
                )
        paper = self.paper(name)
        return (t("feature_maps.name_and_paper", name=name, paper=paper) if paper else name) + extra

    def overview_caption(self, title: str, maps: np.ndarray, t: Translator) -> str:
        """``layer2 (conv3_x): 128×8×8`` under one picture of the overview row."""
        c, h, w = maps.shape
        paper = self.paper(title)
        key = "feature_maps.overview_tile" if paper else "feature_maps.overview_tile_plain"
        return t(key, name=title, paper=paper, c=c, h=h, w=w)

    def grid_caption(self, layer: str, maps: np.ndarray, index: Sequence[int], t: Translator) -> str:
        """The caption of one layer's grid: which layer, its shape, and which channels are shown."""
        c, h, w = maps.shape
        shown = (
            t("feature_maps.shown_all", n=c)
            if len(index) == c
            else t("feature_maps.shown_top", shown=len(index), n=c)
        )
        return join_sentences(t("feature_maps.grid_caption", name=self.label(layer, t), c=c, h=h, w=w), shown)


def source_banner(source: ModelSource, t: Translator) -> tuple[str, str]:
    """(kind of box: success | info | warning, text) saying which weights the page runs with."""
    if source.kind == "pretrained":
        top1, top5 = ("?" if v is None else v for v in (source.top1, source.top5))
        return "success", t(
            "feature_maps.using_pretrained", name=source.weights_name, top1=top1, top5=top5,
            images=fmt_int(catalogue.IMAGENET_TRAIN_IMAGES),
        )  # fmt: skip
    if source.kind == "checkpoint" and source.checkpoint is not None:
        info = source.checkpoint
        return "info", t(
            "feature_maps.using_checkpoint",
            name=fmt_code(source.file_name),
            sha=info.sha256[:12],
            classes=info.num_classes,
            fmt=info.format,
            tensors=info.tensors,
        )
    cifar = catalogue.get_spec(source.arch).family == "cifar"  # built here, initialised as torchvision does
    return "warning", t(
        "feature_maps.using_random_cifar" if cifar else "feature_maps.using_random", seed=RANDOM_SEED
    )


def no_pretrained_text(arch: str, plain: bool, stride_in: str, t: Translator) -> str:
    """Why the network runs with random weights when pretrained ones were asked for, by the catalogue's rule
    (:func:`~resnet_viz.architecture.catalogue.pretrained_problem`): not an ImageNet net, a plain net, or a
    Bottleneck net with the stride on its first 1×1 conv (v1)."""
    if catalogue.get_spec(arch).family != "imagenet":
        nets = [a for a in catalogue.IMAGENET_ARCHS if catalogue.has_pretrained(a)]
        return t("feature_maps.no_pretrained_family", arch=arch_title(t, arch),
                 nets=t("common.list_sep").join(arch_title(t, a) for a in nets))  # fmt: skip
    if plain:
        return t("feature_maps.no_pretrained_plain", arch=arch)
    return t("feature_maps.no_pretrained_v1", arch=arch)


def layer_label(has_maxpool: bool, plain: bool, t: Translator) -> str:
    """The layer picker's label: it lists conv1, the max-pool where the net has one, and every block, which a
    plain network's blocks are not residual (no shortcut, no addition)."""
    key = "layer_label" if has_maxpool else "layer_label_no_pool"
    return t(f"feature_maps.{key}_plain" if plain else f"feature_maps.{key}")


def overview_note(trained: bool, t: Translator) -> str:
    """The overview's second caption: what trained features do (Zeiler & Fergus), or that these are untrained."""
    return t("feature_maps.overview_trained" if trained else "feature_maps.overview_untrained")


def shortcut_caption(res: Residual, names: LayerNames, t: Translator) -> str:
    """What the block's shortcut does, with the block's own stride where it has one."""
    return t(f"feature_maps.shortcut_{res.shortcut}", stride=names.stride(res.block))


def term_explanation(term: str, res: Residual, h: int, w: int, t: Translator) -> str:
    """The caption under one term of the addition; a plain block has no addition to speak of."""
    plain = res.shortcut == "none" and term in ("main", "sum")
    return t(f"feature_maps.explain_{term}" + ("_plain" if plain else ""), h=h, w=w)


def step_captions(settings: PreprocessSettings, name: str, t: Translator) -> list[str]:
    """The captions of the four preprocessing pictures (original, resized, cropped, normalized), from the
    numbers the pipeline used (``preprocess_steps(...).settings``)."""
    (ow, oh), (rw, rh) = settings.original_size, settings.resized_size
    return [
        t("feature_maps.step_original", name=name, w=ow, h=oh),
        t("feature_maps.step_resized", size=settings.resize, w=rw, h=rh),
        t("feature_maps.step_cropped", size=settings.crop),
        t(
            "feature_maps.step_normalized",
            mean=", ".join(f"{m:.3f}" for m in settings.mean),
            std=", ".join(f"{v:.3f}" for v in settings.std),
        ),
    ]


def overview_layers(cap: Capture) -> list[tuple[str, str]]:
    """(title, captured layer) of the overview row: conv1, the max pool if any, and every stage's output."""
    out = [("conv1", "conv1")]
    if "maxpool" in cap.layers:
        out.append(("maxpool", "maxpool"))
    return out + list(cap.stage_of.items())


def channel_png(
    maps: np.ndarray,
    channel: int,
    mode: tiling.NormalizeMode,
    cmap: str,
    global_range: tuple[float, float] | None,
    *,
    photo: Image.Image | None = None,
    alpha: float = 0.5,
    width: int = 320,
) -> tuple[bytes, tuple[int, int]]:
    """One channel, normalized as the layer's grid is: enlarged to about ``width`` pixels, or blended over the
    ``photo`` when one is given. Returns (PNG bytes, the channel's (h, w))."""
    one01 = tiling.normalize_channels(maps, [channel], mode, global_range)[0]
    if photo is not None:
        big = tiling.overlay(photo, one01, alpha=alpha, cmap=cmap)
    else:
        big = tiling.upscale_nearest(tiling.colorize(one01, cmap), max(1, width // one01.shape[1]))
    return tiling.encode_png(np.asarray(big)), one01.shape


def residual_term_png(term: np.ndarray, value_range: tuple[float, float], width: int = 224) -> bytes:
    """One term of a block's addition (its mean over channels, (h, w)) on the diverging scale shared by all five
    terms, with 0 in white."""
    heat = tiling.normalize(term[None], "global", value_range, symmetric=True)[0]
    rgb = tiling.colorize(heat, "RdBu")
    return tiling.encode_png(tiling.upscale_nearest(rgb, max(1, width // term.shape[1])))


def residual_terms(res: Residual) -> list[tuple[str, np.ndarray | None]]:
    """The five terms of ``out = ReLU(F(x) + shortcut(x))`` in reading order (the shortcut is None in a plain
    block)."""
    return [
        ("x", res.x_mean),
        ("main", res.main_mean),
        ("shortcut", res.shortcut_mean),
        ("sum", res.sum_mean),
        ("out", res.out_mean),
    ]


def cam_png(photo: Image.Image, cap: Capture, alpha: float) -> bytes:
    """The class activation map of the top class blended over the cropped photo."""
    return tiling.encode_png(np.asarray(tiling.overlay(photo, cam_heat(cap), alpha=alpha, cmap="magma")))


def ratio_figure(residuals: Sequence[Residual], names: LayerNames, t: Translator) -> go.Figure | None:
    """‖F(x)‖/‖shortcut(x)‖ of every block (:attr:`Residual.ratio`), in network order; blocks whose shortcut
    changes the shape in red. None for a plain network: no block has a shortcut(x) to compare with."""
    if all(r.shortcut == "none" for r in residuals):
        return None
    fig = go.Figure(
        go.Scatter(
            x=[f"{r.block}<br>{names.row_paper(r.block)}" for r in residuals],
            y=[r.ratio for r in residuals],
            mode="lines+markers",
            marker={
                "color": ["#d62728" if names.dashed(r.block) else "#1f77b4" for r in residuals],
                "size": 9,
            },
            hovertemplate="%{x}<br>‖F(x)‖/‖shortcut(x)‖ = %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=t("feature_maps.ratio_title"),
        xaxis_title=t("feature_maps.ratio_x"),
        yaxis_title=t("feature_maps.ratio_y"),
        font={"family": FONT},
        height=340,
        margin={"l": 40, "r": 20, "t": 50, "b": 60},
    )
    return fig


def stats_table(index: Sequence[int], stats: np.ndarray, t: Translator) -> pd.DataFrame:
    """Per shown channel: mean, max and the percentage of zeros (``stats``: rows of mean, max, zero fraction)."""
    return pd.DataFrame(
        {
            t("feature_maps.col_channel"): [int(c) for c in index],
            t("feature_maps.col_mean"): [round(float(v), 4) for v in stats[:, 0]],
            t("feature_maps.col_max"): [round(float(v), 4) for v in stats[:, 1]],
            t("feature_maps.col_zeros"): [round(100 * float(v), 1) for v in stats[:, 2]],
        }
    )


def class_names(
    top: Sequence[tuple[int, float]], categories: Sequence[str] | None, t: Translator
) -> list[str]:
    """The names of the top classes from the weights' metadata, or "class n" where the classes have none."""
    if categories:
        return [categories[i] for i, _ in top]
    return [t("feature_maps.class_n", n=i) for i, _ in top]


def top_table(top: Sequence[tuple[int, float]], labels: Sequence[str], t: Translator) -> pd.DataFrame:
    """Rank, class name, class index and probability of the top classes."""
    return pd.DataFrame(
        {
            t("feature_maps.col_rank"): list(range(1, len(top) + 1)),
            t("feature_maps.col_class"): list(labels),
            t("feature_maps.col_index"): [i for i, _ in top],
            t("feature_maps.col_prob"): [f"{100 * p:.2f} %" for _, p in top],
        }
    )
