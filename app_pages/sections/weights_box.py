"""The Feature-maps page's weights chooser: pretrained, seeded random, or this session's uploaded checkpoint.

Widgets only: which weights exist, the offline memory and the checkpoint slot are resolved in the core
(``resnet_viz.models.sources``); the shared models come from ``resnet_viz.ui.feature_maps`` and are never mutated.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz import ui
from resnet_viz.architecture import catalogue
from resnet_viz.formatting import fmt_code
from resnet_viz.i18n import Translator
from resnet_viz.models import sources
from resnet_viz.render import figures_feature_maps as fm

CHECKPOINT_TYPES = ["pt", "pth", "safetensors", "bin", "ckpt"]


def checkpoint_model(t: Translator, s: ui.View):
    """This session's uploaded checkpoint (model, source), or None; a refused file keeps the previous one."""
    uploader = "fm_ckpt_file"
    up = st.file_uploader(t("feature_maps.ckpt_upload"), type=CHECKPOINT_TYPES, key=ui.upload_key(uploader),
                          help=t("feature_maps.ckpt_help"))  # fmt: skip
    slot = ui.session_slot("fm_ckpt", sources.CheckpointSlot)
    refused = ui.refused_upload(uploader)
    if up is not None:
        slot.offer(up.name, up.getvalue(), s.arch, plain=s.plain, stride_in=s.stride_in, device=ui.device())
        if slot.error is not None and slot.error[1].code not in sources.NETWORK_DEPENDENT_REFUSALS:
            # Refused whatever the network: its bytes go now (issue 22 D6), not when the session ends. A file
            # refused only for this network (other keys or shapes) stays, to be tried on the one the student picks.
            ui.drop_upload(uploader, up, slot.error)
        refused = slot.error
    if refused is not None:
        name, err = refused
        ui.show_error(err, t, about=t("feature_maps.ckpt_error", name=fmt_code(name)))
    kept = slot.current(s.arch, plain=s.plain, stride_in=s.stride_in)
    if kept is None:
        st.info(t("feature_maps.ckpt_none", arch=s.arch))
        return kept
    source = kept[1]
    if refused is not None:
        st.caption(t("feature_maps.ckpt_kept_previous", name=fmt_code(source.file_name)))
    # After the caption, and naming its file: beside a refused upload's error, a bare "this checkpoint holds
    # NaN" read as if it were about the refused file.
    if source.checkpoint is not None and source.checkpoint.nonfinite:
        bad = source.checkpoint.nonfinite
        st.warning(
            t(
                "feature_maps.ckpt_nonfinite",
                name=fmt_code(source.file_name),
                n=len(bad),
                names=t("common.list_sep").join(fmt_code(k) for k in bad),
            )
        )
    return kept


def render(t: Translator, s: ui.View):
    """The weights chooser: (model, source). Falls back to the seeded random weights whenever the choice
    cannot be had (no pretrained weights for this network, offline, no checkpoint yet)."""
    possible = catalogue.has_pretrained(s.arch, plain=s.plain, stride_in=s.stride_in)
    ss = st.session_state
    if "fm_weights" not in ss or (ss["fm_weights"] == "pretrained" and not possible):
        ss["fm_weights"] = "pretrained" if possible else "random"
    with st.container(border=True):
        choice = st.radio(
            t("feature_maps.weights_label"), list(sources.SOURCE_KINDS), key="fm_weights", horizontal=True,
            format_func=lambda k: t(f"feature_maps.weights_{k}"), help=t("feature_maps.weights_help"),
        )  # fmt: skip
        source = sources.shared_source(s.arch, plain=s.plain, stride_in=s.stride_in, choice=choice)
        found = None
        if source.kind == "pretrained":
            model = ui.pretrained_model(source, t)
            found = None if model is None else (model, source)
        elif choice == "checkpoint":
            found = checkpoint_model(t, s)
        if found is None:
            source = sources.random_source(s.arch, plain=s.plain, stride_in=s.stride_in)
            found = (ui.shared_model(source, str(ui.device())), source)
            if not possible and choice != "checkpoint":
                st.info(fm.no_pretrained_text(s.arch, s.plain, s.stride_in, t))
        kind, text = fm.source_banner(found[1], t)
        getattr(st, kind)(text)
    return found
