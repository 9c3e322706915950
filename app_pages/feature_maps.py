"""Feature maps: an image flows through the network — stage and block activations, the residual addition itself,
predictions and a class activation map, with pretrained, random or uploaded weights.

Thin page: widgets and layout only. One forward pass per (network, weights, image) in
``ui_state.cached_capture``; every display choice below re-renders from the cached numpy arrays.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

# Imported here, fully, before plotly looks for it: plotly only peeks into sys.modules for pandas, and a first
# import still running in another session's thread made it see a half-initialised module (seen in a browser check).
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from resnet_viz import ui_state
from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.imaging import images
from resnet_viz.imaging.capture import cam_heat
from resnet_viz.models import weights
from resnet_viz.render import tiling
from resnet_viz.render.style import FONT

t = ui_state.translator()
s = ui_state.current()
spec = get_spec(s.arch)
ss = st.session_state
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
OFFLINE_RETRY_S = 300

st.title(t("feature_maps.title"))
st.caption(t("feature_maps.intro"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Widgets inside a closed tab are not drawn, and Streamlit forgets the state of widgets it did not draw; a
# widget whose label changes (another language) is a new widget to the browser. Writing the values back keeps
# the reader's choices in both cases (seen in a browser check: the radios lost their selection in zh).
for _key in ("fm_weights", "fm_input", "fm_layer", "fm_norm", "fm_cmap", "fm_show", "fm_k", "fm_channel", "fm_overlay", "fm_alpha",
             "fm_block", "fm_cam_alpha", "fm_sample", "fm_webcam_on"):  # fmt: skip
    if _key in ss:
        ss[_key] = ss[_key]

# ----------------------------------------------------------------------------------------------- weights
try:
    weights.pretrained_weights(s.arch, plain=s.plain, stride_in=s.stride_in)
    pretrained_possible = True
except weights.WeightsError:
    pretrained_possible = False

SOURCES = ["pretrained", "random", "checkpoint"]
if "fm_weights" not in ss or (ss["fm_weights"] == "pretrained" and not pretrained_possible):
    ss["fm_weights"] = "pretrained" if pretrained_possible else "random"

with st.container(border=True):
    st.radio(
        t("feature_maps.weights_label"), SOURCES, key="fm_weights", horizontal=True,
        format_func=lambda k: t(f"feature_maps.weights_{k}"), help=t("feature_maps.weights_help"),
    )  # fmt: skip
    choice = ss["fm_weights"]
    if choice == "pretrained" and not pretrained_possible:
        choice = "random"
    model = None
    weights_id = "random:seed0"
    categories: list[str] | None = None
    transforms = None
    banner: tuple[str, str] | None = None  # (kind, text) shown at the top of the weights box

    def _shared(source: str, device_name: str = s.device):
        return ui_state.shared_model(s.arch, s.plain, s.stride_in, source, device_name)

    if choice == "pretrained":
        w = weights.pretrained_weights(s.arch)
        # An offline machine is remembered for a few minutes, so reruns do not wait for the network again.
        failed = ss.get("fm_weights_failed", {}).get(s.arch)
        try:
            if failed is not None and time.time() - failed[0] < OFFLINE_RETRY_S:
                raise weights.WeightsError(failed[1], "remembered", **failed[2])
            if weights.check_obtainable(s.arch):  # cached (or offline: WeightsError before any waiting)
                model = _shared("pretrained")
            else:
                size_mb = round(float(w.meta.get("_file_size", 0))) or "?"
                with st.status(
                    t("feature_maps.downloading", name=weights.weights_name(s.arch), size=size_mb),
                    expanded=True,
                ) as status:
                    st.write(t("feature_maps.downloading_detail", path=str(weights.cache_path(s.arch))))
                    try:
                        model = _shared("pretrained")
                    except weights.WeightsError:
                        status.update(state="error", expanded=False)
                        raise
                    status.update(label=t("feature_maps.downloaded"), state="complete", expanded=False)
            weights_id = f"pretrained:{weights.weights_name(s.arch)}"
            categories = list(w.meta["categories"])
            transforms = w.transforms()
            acc = w.meta.get("_metrics", {}).get("ImageNet-1K", {})
            banner = (
                "success",
                t(
                    "feature_maps.using_pretrained",
                    name=weights.weights_name(s.arch),
                    top1=acc.get("acc@1", "?"),
                    top5=acc.get("acc@5", "?"),
                ),
            )
        except weights.WeightsError as err:
            if err.code == "offline" and failed is None:
                ss.setdefault("fm_weights_failed", {})[s.arch] = (time.time(), err.code, err.params)
            st.error(t(f"feature_maps.weights_error_{err.code}", **err.params))
            model = None
    elif choice == "checkpoint":
        ckpt_file = st.file_uploader(
            t("feature_maps.ckpt_upload"), type=["pt", "pth", "safetensors", "bin", "ckpt"],
            key="fm_ckpt_file", help=t("feature_maps.ckpt_help"),
        )  # fmt: skip
        config = (s.arch, s.plain, s.stride_in)
        if ckpt_file is not None:
            data = ckpt_file.getvalue()
            tried = (_sha(data), config)
            if ss.get("fm_ckpt_tried") != tried:
                ss["fm_ckpt_tried"] = tried
                ss.pop("fm_ckpt_error", None)
                try:
                    loaded, info = weights.load_checkpoint(data, s.arch, plain=s.plain, stride_in=s.stride_in)
                    # This session's own model: moving it to the device mutates nothing shared.
                    ss["fm_ckpt"] = (loaded.to(ui_state.device()), info, ckpt_file.name, config)
                except weights.CheckpointError as err:
                    ss["fm_ckpt_error"] = (ckpt_file.name, err.code, err.params)
        err_state = ss.get("fm_ckpt_error")
        if ckpt_file is not None and err_state is not None:
            name, code, params = err_state
            st.error(
                t("feature_maps.ckpt_error", name=name) + " " + t(f"feature_maps.ckpt_error_{code}", **params)
            )
        kept = ss.get("fm_ckpt")
        if kept is not None and kept[3] == config:
            model, info, name, _ = kept
            weights_id = f"ckpt:{info.sha256}"
            banner = (
                "info",
                t("feature_maps.using_checkpoint", name=name, sha=info.sha256[:12], classes=info.num_classes,
                  fmt=info.format, tensors=info.tensors),
            )  # fmt: skip
            if err_state is not None and ckpt_file is not None:
                st.caption(t("feature_maps.ckpt_kept_previous", name=name))
        else:
            st.info(t("feature_maps.ckpt_none", arch=s.arch))
    if model is None:
        model = _shared("random")
        weights_id = "random:seed0"
        if not pretrained_possible and choice != "checkpoint":
            st.info(t("feature_maps.no_pretrained", arch=s.arch))
        banner = ("warning", t("feature_maps.using_random"))
    kind, text = banner
    getattr(st, kind)(text)

# ----------------------------------------------------------------------------------------------- input image
samples = images.sample_images()
if "fm_image" not in ss:
    first = next(iter(samples))
    ss["fm_image"] = (first, samples[first].read_bytes())

INPUTS = ["sample", "upload", "webcam"]
with st.container(border=True):
    source = st.radio(
        t("feature_maps.input_label"), INPUTS, key="fm_input", horizontal=True,
        format_func=lambda k: t(f"feature_maps.input_{k}"),
    )  # fmt: skip
    incoming = None  # (name, bytes) offered this run
    if source == "sample":
        sample = st.selectbox(
            t("feature_maps.sample_label"), list(samples), key="fm_sample",
            format_func=lambda k: t(f"feature_maps.sample_{k}") if k in ("chelsea", "coffee", "astronaut", "rocket") else k,
        )  # fmt: skip
        incoming = (sample, samples[sample].read_bytes())
    elif source == "upload":
        up = st.file_uploader(
            t("feature_maps.upload_label"),
            type=UPLOAD_TYPES,
            key="fm_upload",
            help=t("feature_maps.upload_help"),
        )
        if up is not None:
            incoming = (up.name, up.getvalue())
    else:
        if st.toggle(t("feature_maps.webcam_toggle"), key="fm_webcam_on", help=t("feature_maps.webcam_help")):
            shot = st.camera_input(t("feature_maps.webcam_label"), key="fm_camera")
            if shot is not None:
                incoming = (t("feature_maps.webcam_name"), shot.getvalue())
    if incoming is not None:
        name, data = incoming
        digest = _sha(data)
        if digest == _sha(ss["fm_image"][1]):
            ss["fm_image"] = (name, data)  # the same picture from another source: only its name changes
        else:
            verdict = ss.get("fm_checked", {})
            if digest not in verdict:
                try:
                    images.load_image(data)
                    verdict[digest] = None
                except images.ImageError as err:
                    verdict[digest] = (err.code, err.params)
                ss["fm_checked"] = dict(list(verdict.items())[-16:])  # a few verdicts, not every upload ever
            problem = ss["fm_checked"][digest]
            if problem is None:
                ss["fm_image"] = (name, data)
            else:
                code, params = problem
                st.error(
                    t("feature_maps.bad_image", name=name) + " " + t(f"images.error_{code}", **params)
                    + " " + t("images.kept_previous")
                )  # fmt: skip

image_name, image_bytes = ss["fm_image"]
image_sha = _sha(image_bytes)

# ----------------------------------------------------------------------------------------------- preprocessing
if transforms is not None:
    crop, resize = 224, 256
    mean, std = images.IMAGENET_MEAN, images.IMAGENET_STD
    pipeline = weights_id
elif spec.family == "imagenet":
    crop = s.input_size
    resize = max(crop, round(crop * 256 / 224))
    mean, std = images.IMAGENET_MEAN, images.IMAGENET_STD
    pipeline = "imagenet"
else:  # CIFAR-sized networks see 32×32 (or the sidebar's size), without a border to crop
    crop = resize = s.input_size
    mean, std = images.CIFAR10_MEAN, images.CIFAR10_STD
    pipeline = "cifar"
steps = ui_state.cached_preprocess(image_sha, resize, crop, pipeline, mean, std, image_bytes, transforms)
cfg = steps["settings"]
crop = cfg["crop"]

st.subheader(t("feature_maps.preprocess_title"))
ow, oh = cfg["original_size"]
rw, rh = cfg["resized_size"]
cols = st.columns(4)
captions = [
    t("feature_maps.step_original", name=image_name, w=ow, h=oh),
    t("feature_maps.step_resized", size=cfg["resize"], w=rw, h=rh),
    t("feature_maps.step_cropped", size=crop),
    t("feature_maps.step_normalized", mean=", ".join(f"{m:.3f}" for m in cfg["mean"]),
      std=", ".join(f"{v:.3f}" for v in cfg["std"])),
]  # fmt: skip
for col, key, caption in zip(cols, ("original", "resized", "cropped", "normalized_preview"), captions):
    with col:
        st.image(steps["display"][key], caption=caption, width="stretch", output_format="JPEG")
st.caption(
    t("feature_maps.pipeline_weights")
    if transforms is not None
    else t("feature_maps.pipeline_sidebar", size=crop)
)

# ----------------------------------------------------------------------------------------------- forward pass
tensor = steps["tensor"]
image_key = f"{image_sha}:{pipeline}:{resize}:{crop}"
try:
    cap, fell_back = ui_state.capture_with_fallback(
        s.arch, s.plain, s.stride_in, weights_id, image_key, model, tensor,
        cpu_model=lambda: model.to("cpu") if weights_id.startswith("ckpt:") else _shared(
            "pretrained" if weights_id.startswith("pretrained:") else "random", "cpu"),
    )  # fmt: skip
except RuntimeError as exc:  # e.g. an input too small for this network's pooling
    st.error(t("feature_maps.forward_failed", error=str(exc).splitlines()[0][:200]))
    st.stop()
if fell_back:
    st.warning(t("feature_maps.oom_fallback"))
capture_key = f"{s.arch}:{s.plain}:{s.stride_in}:{weights_id}:{image_key}"

tr = ui_state.cached_trace(s.arch, crop, s.plain, s.stride_in)
paper = {r.name: r.paper_name for r in tr.rows}
stage_paper = {st_.name: st_.paper_name for st_ in tr.stages}


def paper_of(name: str) -> str:
    """The paper's name for a layer or stage (conv3_1, conv4_x), or "" where it is the same as ours (conv1).
    The max pool sits in the paper's conv2_x row, which the trace writes "conv2_x (pool)"."""
    found = stage_paper.get(name) or paper.get(name, "")
    found = found.replace(" (pool)", "")
    return "" if found == name else found


def layer_label(name: str) -> str:
    extra = ""
    for stage, last in cap.stage_of.items():
        if last == name:
            extra = " — " + t("feature_maps.stage_output", stage=stage, paper=stage_paper.get(stage, ""))
    return (f"{name} ({paper_of(name)})" if paper_of(name) else name) + extra


def png(rgb: np.ndarray) -> bytes:
    return tiling.encode_png(rgb)


# ----------------------------------------------------------------------------------------------- overview
st.subheader(t("feature_maps.overview_title"))
st.caption(t("feature_maps.overview_caption"))
overview = ["conv1", *(["maxpool"] if "maxpool" in cap.layers else []), *cap.stage_of.values()]
ov_cols = st.columns(len(overview))
for col, name in zip(ov_cols, overview):
    maps = cap.layers[name]
    tiles_png, _ = ui_state.cached_grid_png(capture_key, name, "channel", "viridis", 16, 4, 160, maps)
    title = name if name in ("conv1", "maxpool") else next(k for k, v in cap.stage_of.items() if v == name)
    with col:
        st.image(
            tiles_png,
            caption=t("feature_maps.overview_tile" if paper_of(title) else "feature_maps.overview_tile_plain",
                      name=title, paper=paper_of(title), c=maps.shape[0], h=maps.shape[1], w=maps.shape[2]),
            width="stretch", output_format="PNG",
        )  # fmt: skip

# on_change="rerun": a tab's content runs only while it is open, so a display change in one tab does not
# redraw the other two.
tab_maps, tab_res, tab_pred = st.tabs(
    [t("feature_maps.tab_maps"), t("feature_maps.tab_residual"), t("feature_maps.tab_predictions")],
    key="fm_tab", on_change="rerun",
)  # fmt: skip

# ----------------------------------------------------------------------------------------------- one layer's grid
with tab_maps:
    if tab_maps.open is not False:  # lazy tabs: only the open one runs
        names = list(cap.layers)
        if ss.get("fm_layer") not in names:
            ss["fm_layer"] = cap.stage_of.get("layer1", names[0])
        c1, c2, c3 = st.columns([2, 1, 1])
        with c1:
            layer = st.selectbox(
                t("feature_maps.layer_label"), names, key="fm_layer", format_func=layer_label
            )
        with c2:
            mode = st.radio(
                t("feature_maps.norm_label"), list(tiling.NORMALIZE_MODES), key="fm_norm",
                format_func=lambda k: t(f"feature_maps.norm_{k}"), help=t("feature_maps.norm_help"),
            )  # fmt: skip
        with c3:
            cmap = st.selectbox(t("feature_maps.cmap_label"), list(tiling.CMAPS), key="fm_cmap")
        maps = cap.layers[layer]
        n_ch = maps.shape[0]
        c4, c5 = st.columns([1, 2])
        with c4:
            show = st.radio(
                t("feature_maps.show_label"), ["all", "top"], key="fm_show", horizontal=True,
                format_func=lambda k: t(f"feature_maps.show_{k}", cap=tiling.MAX_GRID_CHANNELS),
            )  # fmt: skip
        with c5:
            k_max = min(n_ch, tiling.MAX_GRID_CHANNELS)
            ss["fm_k"] = min(int(ss.get("fm_k", 16)), k_max)  # a default through session state, not value=
            k = st.slider(
                t("feature_maps.k_label"), 1, max(k_max, 2), key="fm_k", disabled=show == "all" or k_max < 2
            )  # fmt: skip
        grid_png, index = ui_state.cached_grid_png(
            capture_key, layer, mode, cmap, None if show == "all" else k, None, 720, maps, cap.global_range
        )
        shown_note = (
            t("feature_maps.shown_all", n=n_ch)
            if len(index) == n_ch
            else t("feature_maps.shown_top", shown=len(index), n=n_ch)
        )
        st.image(
            grid_png,
            caption=t("feature_maps.grid_caption", name=layer_label(layer), c=n_ch, h=maps.shape[1], w=maps.shape[2])
            + " " + shown_note, output_format="PNG",  # PNG: st.image would re-encode "auto" as a JPEG
        )  # fmt: skip
        st.download_button(
            t("feature_maps.download_grid"), data=grid_png, file_name=f"{s.arch}_{layer}_{mode}_{cmap}.png",
            mime="image/png", key="fm_download", on_click="ignore",
        )  # fmt: skip

        st.markdown(t("feature_maps.stats_title"))
        # (shown, 3): mean, max, fraction of zeros; computed once per layer, not on every rerun
        stats = ui_state.cached_layer_stats(capture_key, layer, maps)[index]
        st.dataframe(
            pd.DataFrame(
                {
                    t("feature_maps.col_channel"): [int(c) for c in index],
                    t("feature_maps.col_mean"): [round(float(v), 4) for v in stats[:, 0]],
                    t("feature_maps.col_max"): [round(float(v), 4) for v in stats[:, 1]],
                    t("feature_maps.col_zeros"): [round(100 * float(v), 1) for v in stats[:, 2]],
                }
            ),
            column_config={t("feature_maps.col_zeros"): st.column_config.NumberColumn(format="%.1f %%")},
            hide_index=True,
            height=240,
        )
        st.caption(t("feature_maps.stats_caption"))

        st.markdown(t("feature_maps.one_channel_title"))
        e1, e2 = st.columns([1, 2])
        with e1:
            channel = st.selectbox(t("feature_maps.channel_label"), [int(c) for c in index], key="fm_channel")
            overlay_on = st.toggle(t("feature_maps.overlay_label"), key="fm_overlay")
            ss.setdefault("fm_alpha", 0.5)
            alpha = st.slider(
                t("feature_maps.alpha_label"), 0.1, 0.9, step=0.1, key="fm_alpha", disabled=not overlay_on
            )
        with e2:
            one = maps[channel : channel + 1]
            one01 = tiling.normalize(one, mode if mode != "layer" else "global", cap.global_range if mode == "global"
                                     else tiling.value_range(maps) if mode == "layer" else None)[0]  # fmt: skip
            if overlay_on:
                big = tiling.overlay(steps["cropped"], one01, alpha=alpha, cmap=cmap)
            else:
                big = tiling.upscale_nearest(tiling.colorize(one01, cmap), max(1, 320 // one01.shape[1]))
            st.image(
                png(np.asarray(big)),
                caption=t(
                    "feature_maps.channel_caption", name=layer, ch=channel, h=one01.shape[0], w=one01.shape[1]
                ),
                width=360,
                output_format="PNG",
            )

# ----------------------------------------------------------------------------------------------- residual addition
with tab_res:
    if tab_res.open is not False:  # lazy tabs: only the open one runs
        st.markdown(t("feature_maps.residual_intro"))
        blocks = [r.block for r in cap.residuals]
        if ss.get("fm_block") not in blocks:
            ss["fm_block"] = blocks[0]
        block = st.selectbox(t("feature_maps.block_label"), blocks, key="fm_block", format_func=layer_label)
        res = next(r for r in cap.residuals if r.block == block)
        st.caption(t(f"feature_maps.shortcut_{res.shortcut}"))
        lo, hi = res.common_range
        terms = [
            ("x", res.x_mean),
            ("main", res.main_mean),
            ("shortcut", res.shortcut_mean),
            ("sum", res.sum_mean),
            ("out", res.out_mean),
        ]
        rcols = st.columns(5)
        for col, (key, arr) in zip(rcols, terms):
            with col:
                st.markdown(f"**{t(f'feature_maps.term_{key}')}**")
                if arr is None:
                    st.info(t("feature_maps.term_none"))
                else:
                    heat = tiling.normalize(arr[None], "global", (lo, hi), symmetric=True)[0]
                    rgb = tiling.colorize(heat, "RdBu")
                    st.image(png(tiling.upscale_nearest(rgb, max(1, 224 // arr.shape[1]))), width="stretch",
                             output_format="PNG")  # fmt: skip
                    st.caption(t(f"feature_maps.explain_{key}", h=arr.shape[0], w=arr.shape[1]))
        st.caption(t("feature_maps.residual_scale", lo=lo, hi=hi))

        ratios = [r.ratio for r in cap.residuals]
        fig = go.Figure(
            go.Scatter(
                x=[f"{r.block}<br>{paper.get(r.block, '')}" for r in cap.residuals], y=ratios, mode="lines+markers",
                marker={"color": ["#d62728" if r.shortcut in ("projection", "zero_pad") else "#1f77b4"
                                  for r in cap.residuals], "size": 9},
                hovertemplate="%{x}<br>‖F(x)‖/‖x‖ = %{y:.3f}<extra></extra>",
            )
        )  # fmt: skip
        fig.update_layout(
            title=t("feature_maps.ratio_title"), xaxis_title=t("feature_maps.ratio_x"), yaxis_title=t("feature_maps.ratio_y"),
            font={"family": FONT}, height=340, margin={"l": 40, "r": 20, "t": 50, "b": 60},
        )  # fmt: skip
        st.plotly_chart(fig, key="fm_ratio_chart", config={"displayModeBar": False})
        st.caption(t("feature_maps.ratio_caption"))

# ----------------------------------------------------------------------------------------------- predictions
with tab_pred:
    if tab_pred.open is not False:  # lazy tabs: only the open one runs
        top = cap.top(5)
        if categories:
            labels = [categories[i] for i, _ in top]
        else:
            labels = [t("feature_maps.class_n", n=i) for i, _ in top]
            st.warning(t("feature_maps.untrained_guess") if weights_id.startswith("random") else
                       t("feature_maps.no_class_names", n=len(cap.probs)))  # fmt: skip
        p1, p2 = st.columns([1, 1])
        with p1:
            st.markdown(t("feature_maps.top5_title"))
            st.dataframe(
                pd.DataFrame(
                    {
                        t("feature_maps.col_rank"): list(range(1, len(top) + 1)),
                        t("feature_maps.col_class"): labels,
                        t("feature_maps.col_index"): [i for i, _ in top],
                        t("feature_maps.col_prob"): [f"{100 * p:.2f} %" for _, p in top],
                    }
                ),
                hide_index=True,
            )
            st.caption(t("feature_maps.top5_caption", n=len(cap.probs)))
        with p2:
            st.markdown(t("feature_maps.cam_title", label=labels[0]))
            ss.setdefault("fm_cam_alpha", 0.5)
            cam_alpha = st.slider(t("feature_maps.alpha_label"), 0.1, 0.9, step=0.1, key="fm_cam_alpha")
            st.image(png(np.asarray(tiling.overlay(steps["cropped"], cam_heat(cap), alpha=cam_alpha, cmap="magma"))),
                     width=360, caption=t("feature_maps.cam_caption", h=cap.cam.shape[0], w=cap.cam.shape[1]),
                     output_format="PNG")  # fmt: skip
