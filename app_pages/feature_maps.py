"""Feature maps: an image flows through the network — stage and block activations, the residual addition itself,
predictions and a class activation map, with pretrained, random or uploaded weights.

Thin page: widgets and layout only. Which weights (a typed ``ModelSource``), their preprocessing and the
session's memories (offline server, uploaded checkpoint, chosen picture) are resolved in the core
(``resnet_viz.models.sources``, ``resnet_viz.imaging.images``); every picture, figure and table comes from
``resnet_viz.render.figures_feature_maps``. One forward pass per (weights, image, preprocessing) in
``ui.cached_capture``; every display choice below re-renders from the cached numpy arrays.
"""

from __future__ import annotations

import streamlit as st

from app_pages.sections import inspector, weights_box
from resnet_viz import ui
from resnet_viz.formatting import fmt_bytes_short, fmt_code
from resnet_viz.imaging import images
from resnet_viz.imaging.capture import Capture
from resnet_viz.imaging.explain import trained_statistics
from resnet_viz.models import sources
from resnet_viz.models.sources import ModelSource
from resnet_viz.render import figures_explain as fx
from resnet_viz.render import figures_feature_maps as fm
from resnet_viz.render import tiling
from resnet_viz.render.figures_shapes import stage_names_note

t = ui.translator()
s = ui.view()
ss = st.session_state
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
SAMPLE_NAMES = ("chelsea", "coffee", "astronaut", "rocket")  # the bundled photos with a translated name
INPUTS = ["sample", "upload", "webcam"]
WIDGET_KEYS = ("fm_weights", "fm_input", "fm_layer", "fm_norm", "fm_cmap", "fm_show", "fm_k", "fm_channel",
               "fm_overlay", "fm_alpha", "fm_block", "fm_cam_alpha", "fm_sample", "fm_webcam_on",
               *inspector.KEYS)  # fmt: skip

st.title(t("feature_maps.title"))
st.caption(t("feature_maps.intro", inspector=t("inspector.tab")))

ui.keep_widget_state(WIDGET_KEYS)  # the choices survive closed tabs and a language switch


# ----------------------------------------------------------------------------------------------- input image
def image_box() -> images.ImageSlot:
    """The picture chooser (sample, upload, webcam): the session's picture, which a bad file never replaces."""
    samples = images.sample_images()
    if s.page_param("sample") in samples and "fm_sample" not in ss:  # a shared link's photo
        ss["fm_sample"] = s.page_param("sample")
    first = next(iter(samples))
    slot = ui.session_slot("fm_image", lambda: images.ImageSlot(first, samples[first].read_bytes()))
    with st.container(border=True):
        kind = st.radio(
            t("feature_maps.input_label"), INPUTS, key="fm_input", horizontal=True,
            format_func=lambda k: t(f"feature_maps.input_{k}"),
        )  # fmt: skip
        incoming = None  # (name, bytes) offered this run
        upload, uploader = None, ""  # the uploader's file (dropped at once if refused), and which uploader
        if kind == "sample":
            sample = st.selectbox(
                t("feature_maps.sample_label"), list(samples), key="fm_sample",
                format_func=lambda k: t(f"feature_maps.sample_{k}") if k in SAMPLE_NAMES else k,
            )  # fmt: skip
            incoming = (sample, samples[sample].read_bytes())
            ui.set_page_param("sample", sample)
        elif kind == "upload":
            # The browser refuses a file over the limit before sending it (the server's own limit is the
            # checkpoints'); a file sent anyway is refused by its size below, before it is read.
            uploader = "fm_upload"
            upload = st.file_uploader(
                t("feature_maps.upload_label"), type=UPLOAD_TYPES, key=ui.upload_key(uploader),
                help=t("feature_maps.upload_help", megapixels=round(images.MAX_PIXELS / 1e6)),
                max_upload_size=images.MAX_BYTES // 2**20,
            )  # fmt: skip
            if upload is not None:
                incoming = (upload.name, upload.getvalue())
        elif st.toggle(t("feature_maps.webcam_toggle"), key="fm_webcam_on",
                       help=t("feature_maps.webcam_help")):  # fmt: skip
            uploader = "fm_camera"
            upload = st.camera_input(t("feature_maps.webcam_label"), key=ui.upload_key(uploader))
            if upload is not None:
                incoming = (t("feature_maps.webcam_name"), upload.getvalue())
        if incoming is not None and (problem := slot.offer(*incoming)) is not None:
            if upload is not None:  # its bytes go now, not at the session's end; the page reruns, says why
                ui.drop_upload(uploader, upload, (incoming[0], problem))
            refused = incoming[0], problem
        else:
            refused = ui.refused_upload("fm_upload", "fm_camera")
        if refused is not None:
            about, after = t("feature_maps.bad_image", name=fmt_code(refused[0])), t("images.kept_previous")
            ui.show_error(refused[1], t, about=about, after=after)
    return slot


# ----------------------------------------------------------------------------------------------- preprocessing
def preprocessing_section(picture: images.ImageSlot, prep: sources.Preprocessing) -> ui.PreparedImage:
    """The four preprocessing steps, as the network sees them; returns the cached steps."""
    steps = ui.cached_preprocess(picture.sha, prep, picture.data)
    st.subheader(t("feature_maps.preprocess_title"))
    captions = fm.step_captions(steps.settings, fmt_code(picture.name), t)
    for col, jpeg, caption in zip(st.columns(4), steps.jpegs, captions):
        with col:
            st.image(jpeg, caption=caption, width="stretch", output_format="JPEG")
    crop = steps.settings.crop
    ui.dev_caption(t("feature_maps.pipeline_weights") if prep.from_weights else
               t("feature_maps.pipeline_sidebar", size=crop))  # fmt: skip
    return steps


# ----------------------------------------------------------------------------------------------- overview
def overview_section(
    key: ui.CaptureKey, cap: Capture, names: fm.LayerNames, trained: bool, arch: str
) -> None:
    st.subheader(t("feature_maps.overview_title", k=fm.OVERVIEW_CHANNELS))
    # the CIFAR nets' and the notes' stage names are this app's, in Table 1's style: the note says so
    st.caption(fx.join_sentences(t("feature_maps.overview_caption"), fm.overview_note(trained, t),
                                 stage_names_note(t, arch)))  # fmt: skip
    shown = fm.overview_layers(cap)
    for col, (title, name) in zip(st.columns(len(shown)), shown):
        maps = cap.layers[name]
        tiles_png, _ = ui.cached_grid_png(key, name, "channel", "viridis", fm.OVERVIEW_CHANNELS, 4, 160, maps)
        with col:
            st.image(
                tiles_png,
                caption=names.overview_caption(title, maps, t),
                width="stretch",
                output_format="PNG",
            )
            # A stage tile selects that stage's output (its last block) on every page.
            mark = "▶ " if ui.selected_step() == name else ""
            st.button(
                f"{mark}{name}",
                key=f"fm_tile_{name}",
                on_click=ui.select,
                args=(name,),
                width="stretch",
            )


# ----------------------------------------------------------------------------------------------- one layer's grid
def maps_tab(key: ui.CaptureKey, cap: Capture, steps: ui.PreparedImage, names: fm.LayerNames) -> None:
    layers = list(cap.layers)
    if ui.selected_step() in layers:  # the one selection, when it is a captured layer
        ss["fm_layer"] = ui.selected_step()
    if ss.get("fm_layer") not in layers:
        ss["fm_layer"] = cap.stage_of.get("layer1", layers[0])
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        layer = st.selectbox(
            fm.layer_label("maxpool" in layers, key.source.plain, t), layers, key="fm_layer", format_func=lambda n: names.label(n, t),
            on_change=lambda: ui.select(ss["fm_layer"]),
        )  # fmt: skip
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
        k = st.slider(t("feature_maps.k_label"), 1, max(k_max, 2), key="fm_k",
                      disabled=show == "all" or k_max < 2)  # fmt: skip
    grid_png, index = ui.cached_grid_png(
        key,
        layer,
        mode,
        cmap,
        None if show == "all" else k,
        None,
        1200 if ui.presenting() else 720,
        maps,
        cap.global_range,
    )
    # PNG: st.image would re-encode "auto" as a JPEG
    # Presenter mode: the grid at the page's full width (square pixels are upscaled with nearest neighbour first).
    st.image(
        grid_png, caption=names.grid_caption(layer, maps, index, t), output_format="PNG",
        width="stretch" if ui.presenting() else "content",
    )  # fmt: skip
    st.download_button(
        t("feature_maps.download_grid"), data=grid_png, file_name=f"{s.arch}_{layer}_{mode}_{cmap}.png",
        mime="image/png", key="fm_download", on_click="ignore",
    )  # fmt: skip

    st.markdown(t("feature_maps.stats_title"))
    stats = ui.cached_layer_stats(key, layer, maps)[index]  # once per layer, not on every rerun
    st.dataframe(
        fm.stats_table(index, stats, t),
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
        alpha = st.slider(t("feature_maps.alpha_label"), 0.1, 0.9, step=0.1, key="fm_alpha",
                          disabled=not overlay_on)  # fmt: skip
    with e2:
        photo = steps.cropped if overlay_on else None
        picture, (h, w) = fm.channel_png(
            maps, channel, mode, cmap, cap.global_range, photo=photo, alpha=alpha
        )
        caption = t("feature_maps.channel_caption", name=layer, ch=channel, h=h, w=w)
        st.image(picture, caption=caption, width=360, output_format="PNG")


# ----------------------------------------------------------------------------------------------- residual addition
def residual_tab(cap: Capture, names: fm.LayerNames) -> None:
    st.markdown(t("feature_maps.residual_intro"))
    blocks = [r.block for r in cap.residuals]
    if ui.selected_step() in blocks:  # the one selection, when it is a block
        ss["fm_block"] = ui.selected_step()
    if ss.get("fm_block") not in blocks:
        ss["fm_block"] = blocks[0]
    block = st.selectbox(
        t("feature_maps.block_label"), blocks, key="fm_block", format_func=lambda n: names.label(n, t),
        on_change=lambda: ui.select(ss["fm_block"]),
    )  # fmt: skip
    res = next(r for r in cap.residuals if r.block == block)
    st.caption(fm.shortcut_caption(res, names, t))
    lo, hi = res.common_range
    for col, (term, arr) in zip(st.columns(5), fm.residual_terms(res)):
        with col:
            st.markdown(f"**{t(f'feature_maps.term_{term}')}**")
            if arr is None:
                st.info(t("feature_maps.term_none"))
            else:
                st.image(fm.residual_term_png(arr, (lo, hi)), width="stretch", output_format="PNG")
                st.caption(fm.term_explanation(term, res, arr.shape[0], arr.shape[1], t))
    st.caption(t("feature_maps.residual_scale", lo=lo, hi=hi))
    figure = fm.ratio_figure(cap.residuals, names, t)
    if figure is None:  # a plain network: no shortcut(x) to compare F(x) with
        st.info(t("feature_maps.ratio_none"))
        return
    ui.figure(figure, key="fm_ratio_chart", config={"displayModeBar": False})
    st.caption(t("feature_maps.ratio_caption"))


# ----------------------------------------------------------------------------------------------- predictions
def predictions_tab(cap: Capture, source: ModelSource, steps: ui.PreparedImage) -> None:
    top = cap.top(5)
    labels = fm.class_names(top, source.categories, t)
    if not source.categories:
        st.warning(t("feature_maps.untrained_guess") if source.kind == "random" else
                   t("feature_maps.no_class_names", n=len(cap.probs)))  # fmt: skip
    p1, p2 = st.columns([1, 1])
    with p1:
        st.markdown(t("feature_maps.top5_title"))
        st.dataframe(fm.top_table(top, labels, t), hide_index=True)
        st.caption(t("feature_maps.top5_caption", n=len(cap.probs)))
    with p2:
        st.markdown(t("feature_maps.cam_title", label=labels[0]))
        ss.setdefault("fm_cam_alpha", 0.5)
        cam_alpha = st.slider(t("feature_maps.alpha_label"), 0.1, 0.9, step=0.1, key="fm_cam_alpha")
        st.image(fm.cam_png(steps.cropped, cap, cam_alpha), width=360, output_format="PNG",
                 caption=t("feature_maps.cam_caption", h=cap.cam.shape[0], w=cap.cam.shape[1]))  # fmt: skip


# ----------------------------------------------------------------------------------------------- the page
# ----------------------------------------------------------------------------------------------- the budget
def budget_notice(source: ModelSource, prep: sources.Preprocessing, fit: ui.Fit) -> None:
    """Say why the page runs at a smaller input size than asked, or not at all (``$RESNET_VIZ_REQUEST_MB``)."""
    numbers = dict(net=ui.arch_title(source.arch), size=fit.requested, need=fmt_bytes_short(fit.need),
                   budget=fmt_bytes_short(fit.budget))  # fmt: skip
    if fit.refused:
        fixed = prep.from_weights  # the weights' own input size: no smaller one to fall back to
        st.error(t("feature_maps.budget_fixed" if fixed else "feature_maps.budget_refused", **numbers))
        st.stop()
    st.warning(t("feature_maps.budget_scaled", fit=fit.size, **numbers))


model, source = weights_box.render(t, s)
picture = image_box()
prep, fit = ui.budgeted_preprocessing(source, s.input_size)
if fit.size != fit.requested:
    budget_notice(source, prep, fit)
steps = preprocessing_section(picture, prep)
key = ui.CaptureKey(source, picture.sha, prep)
try:
    cap, fell_back = ui.capture_with_fallback(key, model, steps.tensor)
except RuntimeError as exc:  # e.g. an input too small for this network's pooling
    st.error(t("feature_maps.forward_failed", error=str(exc).splitlines()[0][:200]))
    st.stop()
if fell_back:
    st.warning(t("feature_maps.oom_fallback"))
names = fm.LayerNames(ui.cached_trace(s.arch, steps.settings.crop, s.plain, s.stride_in), cap)

overview_section(key, cap, names, trained_statistics(model), s.arch)
# on_change="rerun": a tab's content runs only while it is open, so a display change in one tab does not
# redraw the other two.
tab_maps, tab_res, tab_pred, tab_inspect = st.tabs(
    [t("feature_maps.tab_maps"), t("feature_maps.tab_residual"), t("feature_maps.tab_predictions"),
     t("inspector.tab")],
    key="fm_tab", on_change="rerun",
)  # fmt: skip
with tab_maps:
    if tab_maps.open is not False:  # lazy tabs: only the open one runs
        maps_tab(key, cap, steps, names)
with tab_res:
    if tab_res.open is not False:
        residual_tab(cap, names)
with tab_pred:
    if tab_pred.open is not False:
        predictions_tab(cap, source, steps)
with tab_inspect:
    if tab_inspect.open is not False:
        inspector.render(model=model, steps=steps, key=key, settings=s, t=t)
