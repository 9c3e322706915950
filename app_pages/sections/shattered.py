"""Why residual, § shattered gradients (Balduzzi et al. 2017): the paper's toy with its normalisation switch, the
same measurement along an image path on the CIFAR nets (at init and trained), the ImageNet pair behind a button."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import streamlit as st

from resnet_viz import ui
from resnet_viz.experiments import readings
from resnet_viz.experiments import shattered as sh
from resnet_viz.experiments import shipped as shipped_data
from resnet_viz.experiments import summaries as S
from resnet_viz.formatting import fmt_list
from resnet_viz.i18n import Sentence, Translator, say
from resnet_viz.render import figures_shattered as fs

#: The image b every path ends at (a generated image of the trained nets' data), and the path's choices for a.
GENERATED = "generated"
#: The ImageNet pair's input size, seed, and the images per chunk of its BN calibration and gradient (the text
#: says how chunked calibration differs from the CIFAR nets').
IMAGENET_SIZE = 224
IMAGENET_SEED = 0
IMAGENET_CHUNK = 16
#: The depth the path's text names (its reading covers both depths of :data:`shattered.CIFAR_NETS`).
PATH_DEPTH = 56


def _depth(net: str) -> int:
    return int(net.removeprefix("plain").removeprefix("resnet"))


def _net_names(t: Translator) -> dict[str, str]:
    names = {}
    for net in sh.CIFAR_NETS:
        depth = _depth(net)
        kind = "plain" if net.startswith("plain") else "resnet"
        names[net] = t(f"why_residual.run_{kind}", depth=depth)
    return names


def _image_a(choice: str) -> tuple[str, Any]:
    """Image a of the path (a bundled photo, or the generated image) as (cache key, tensor)."""
    if choice == GENERATED:
        return "generated-0", sh.sample_pair()[0]
    from resnet_viz.imaging.images import load_sample, sample_images

    data = sample_images()[choice].read_bytes()
    return hashlib.sha256(data).hexdigest()[:16], sh.photo_tensor(load_sample(choice))


def render(t: Translator, settings: Any) -> None:
    """Draw the section (after the degradation curves, which its reading refers to)."""
    lang = settings.lang

    def said(sentence: Sentence) -> str:
        return say(t, sentence, lang)

    st.header(t("shattered.header"))
    st.markdown(t("shattered.intro"))
    st.latex(
        r"r(k) = \frac{\sum_{i=1}^{n-k} (g_i - \bar g)(g_{i+k} - \bar g)}{\sum_{i=1}^{n} (g_i - \bar g)^2}"
    )
    st.markdown(t("shattered.acf_explain", white=S.WHITE_LAG1, brown=S.BROWN_LAG1))

    # ------------------------------------------------------------ the toy
    st.subheader(t("shattered.toy_header"))
    st.markdown(
        t(
            "shattered.toy_setup",
            paper_shallow=sh.PAPER_FIG1_FEEDFORWARD_DEPTHS[0],
            paper_deep=sh.PAPER_FIG1_FEEDFORWARD_DEPTHS[1],
            paper_res=sh.PAPER_FIG1_RESNET_DEPTH,
            width=sh.TOY_WIDTH,
            depths=fmt_list(sh.TOY_DEPTHS, t("common.list_sep")),
            points=sh.TOY_POINTS,
            lo=f"{sh.TOY_RANGE[0]:g}".replace("-", "−"),
            hi=f"{sh.TOY_RANGE[1]:g}",
            seed_list=fmt_list(sh.DEFAULT_SEEDS, t("common.list_sep")),
        )
    )
    norm = st.toggle(t("shattered.norm_toggle"), value=True, help=t("shattered.norm_help"), key="rvw_sh_norm")
    started = time.perf_counter()
    with_norm, without_norm = ui.cached_toy_sweep(True), ui.cached_toy_sweep(False)
    toy_seconds = time.perf_counter() - started
    sweep = with_norm if norm else without_norm
    ui.figure(fs.toy_gradient_figure(sweep, t), key="rvw_sh_toy_grad")
    ui.figure(fs.toy_acf_figure(sweep, t), key="rvw_sh_toy_acf")
    ui.figure(fs.toy_lag1_figure(sweep, t), key="rvw_sh_toy_lag1")
    st.markdown(said(readings.toy_reading(sweep)))
    st.markdown(said(readings.toy_norm_reading(with_norm, without_norm)))
    with st.expander(t("shattered.bn_expander")):
        st.markdown(t("shattered.bn_mode"))

    # ------------------------------------------------------------ the CIFAR nets along an image path
    st.subheader(t("shattered.path_header"))
    names = _net_names(t)
    st.markdown(
        t(
            "shattered.path_intro",
            steps=sh.PATH_STEPS,
            depths=fmt_list(sorted({_depth(n) for n in sh.CIFAR_NETS}), t("common.list_sep")),
            depth=PATH_DEPTH,
            width=sh.PATH_WIDTH,
            seed_list=fmt_list(sh.DEFAULT_SEEDS, t("common.list_sep")),
        )
    )
    st.caption(t("shattered.path_bn", steps=sh.PATH_STEPS))
    from resnet_viz.imaging.images import sample_images

    choices = [*sample_images(), GENERATED]
    choice = st.selectbox(
        t("shattered.path_pick"),
        choices,
        format_func=lambda c: t("shattered.path_photo_generated") if c == GENERATED else c,
        key="rvw_sh_photo",
    )
    if st.button(t("shattered.path_run"), key="rvw_sh_path_run"):
        key, a = _image_a(choice)
        b = sh.sample_pair()[1]
        started = time.perf_counter()
        nets, seeds = len(sh.CIFAR_NETS), len(sh.DEFAULT_SEEDS)
        trained_n = len(shipped_data.trained_nets())  # what ui.cached_path_sweep(…, True, …) measures
        running = t(
            "shattered.path_running", n=nets * seeds + trained_n, nets=nets, seeds=seeds, trained=trained_n
        )
        with st.spinner(running):
            st.session_state["rvw_sh_path"] = (
                choice,
                ui.cached_path_sweep(key, False, a, b),
                ui.cached_path_sweep(key, True, a, b),
                time.perf_counter() - started,
            )
    done = st.session_state.get("rvw_sh_path")
    if done and done[0] == choice:
        _, init, trained, path_seconds = done
        seed0 = [r for r in init.runs if r.seed == init.seeds[0]]
        ui.figure(
            fs.path_figure(seed0, t, names, t("shattered.path_init_title", seed=init.seeds[0])),
            key="rvw_sh_path_init",
        )
        ui.figure(
            fs.path_lag1_figure(init.runs, t, names, t("shattered.path_lag1_title")), key="rvw_sh_path_lag"
        )
        for depth in (20, 56):
            sentence = readings.path_reading(init, depth)
            if sentence is not None:
                st.markdown(said(sentence))
        if trained is None:
            st.info(t("shattered.trained_missing"))
        else:
            ui.figure(
                fs.path_figure(trained.runs, t, names, t("shattered.path_trained_title")),
                key="rvw_sh_path_trained",
            )
            sentence = readings.trained_reading(trained.runs)
            if sentence is not None:
                st.markdown(said(sentence))
        ui.dev_caption(
            t("shattered.took", toy=f"{toy_seconds:.1f}", path=f"{path_seconds:.1f}", device="cpu")
        )

    # ------------------------------------------------------------ the reading: the degradation curves, one account
    st.markdown(said(readings.degradation_link(shipped_data.degradation())))

    # ------------------------------------------------------------ the ImageNet pair (slow)
    with st.expander(t("shattered.imagenet_header")):
        depth = st.radio(t("shattered.imagenet_pick"), [18, 50], horizontal=True, key="rvw_sh_in_depth")
        device = ui.device()
        st.markdown(
            t(
                "shattered.imagenet_intro",
                depth=depth,
                size=IMAGENET_SIZE,
                seed=IMAGENET_SEED,
                steps=sh.PATH_STEPS,
                chunk=IMAGENET_CHUNK,
                chunks=-(-sh.PATH_STEPS // IMAGENET_CHUNK),
                device=device,
            )
        )
        if st.button(t("shattered.imagenet_run"), key="rvw_sh_in_run"):
            _imagenet(t, choice, depth, device)
        got = st.session_state.get("rvw_sh_in")
        if got and got["depth"] == depth:
            p, r = S.lag1_spread([got["plain"]]), S.lag1_spread([got["res"]])
            st.markdown(
                t(
                    "shattered.imagenet_result",
                    seed=IMAGENET_SEED,
                    depth=depth,
                    plain=readings.fmt_lag1(p.mean),
                    res=readings.fmt_lag1(r.mean),
                    plain_colour=said(readings.colour_name(p)),
                    res_colour=said(readings.colour_name(r)),
                    seconds=f"{got['seconds']:.0f}",
                    device=got["device"],
                )
            )


def _imagenet(t: Translator, choice: str, depth: int, device: Any) -> None:
    """Run the ImageNet pair with a progress bar; keep the two lag-1 values in the session."""
    from resnet_viz.imaging.images import load_sample, sample_images

    photos = list(sample_images())
    first = choice if choice in photos else photos[0]
    second = next(p for p in photos if p != first)
    a = sh.photo_tensor(load_sample(first), size=IMAGENET_SIZE)
    b = sh.photo_tensor(load_sample(second), size=IMAGENET_SIZE)
    bar = st.progress(0.0)
    out: dict[str, Any] = {"depth": depth, "device": str(device)}
    started = time.perf_counter()
    for i, kind in enumerate(("plain", "resnet")):
        net = f"{kind}{depth}"

        def progress(done: int, total: int, i: int = i, net: str = net) -> None:
            bar.progress(
                (i + done / total) / 2, text=t("shattered.imagenet_progress", net=net, done=done, total=total)
            )

        with ui.forward_gate():
            run = sh.imagenet_path_gradients(
                net,
                a,
                b,
                seed=IMAGENET_SEED,
                chunk=IMAGENET_CHUNK,
                device=device,
                progress=progress,
            )
        out["plain" if kind == "plain" else "res"] = run.lag1
    out["seconds"] = time.perf_counter() - started
    bar.empty()
    st.session_state["rvw_sh_in"] = out
