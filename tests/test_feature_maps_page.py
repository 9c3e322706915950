"""The Feature-maps page end to end through AppTest: a sample uploaded as a file gives predictions and a grid for
every stage; bad images and bad checkpoints give one message each and the previous good state stays; a
checkpoint saved here shows its model's top-5; display changes rerun no forward pass; zh, CIFAR, plain and v1.

Offline by construction: RESNET_VIZ_OFFLINE=1 and an empty TORCH_HOME, so "pretrained" falls back to random
weights with its message (which is itself checked)."""

from __future__ import annotations

import io
import pickle
import struct
import zlib

import pytest
import torch
from apptest_helpers import assert_translated, uploader
from streamlit.testing.v1 import AppTest
from torchvision import models as tvm

from resnet_viz import build_model
from resnet_viz.formatting import fmt_code
from resnet_viz.i18n import translator
from resnet_viz.imaging import capture as capture_module
from resnet_viz.imaging import images, preprocessing
from resnet_viz.models import weights
from resnet_viz.render import figures_feature_maps as fm
from resnet_viz.render.figures_explain import join_sentences
from resnet_viz.render.figures_shapes import stage_names_note

PAGE = "app_pages/feature_maps.py"
EN = translator("en")


@pytest.fixture
def page(app_test, offline):
    def open_page(arch: str = "resnet18", size: int = 64, lang: str = "en", **state) -> AppTest:
        at = app_test(timeout=240, state={"rv_lang": lang, "rv_arch": arch, "rv_input_size": size, **state})
        at.run()
        at.switch_page(PAGE).run()
        ok(at)
        return at

    return open_page


def ok(at: AppTest) -> None:
    assert_translated(at, "feature maps")


def image_uploader(at: AppTest):
    """The picture's uploader: its key is ``fm_upload`` until a file is refused, then a new one each time."""
    return uploader(at, "fm_upload")


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    if at.radio(key="fm_input").value != "upload":
        at.radio(key="fm_input").set_value("upload").run()
    image_uploader(at).set_value((name, data, mime)).run()
    ok(at)
    return at


def captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


def shown_image_name(at: AppTest) -> str:
    first = next(c for c in captions(at) if c.startswith("1. "))
    return first.split("“")[1].split("”")[0].strip("`")  # the name is echoed as a code span (fmt_code)


def open_tab(at: AppTest, name: str, lang: str = "en") -> AppTest:
    """The page's tabs run lazily (on_change="rerun"); AppTest selects one through its session state."""
    at.session_state["fm_tab"] = translator(lang)(f"feature_maps.tab_{name}")
    at.run()
    ok(at)
    return at


def top5_indices(at: AppTest) -> list[int]:
    open_tab(at, "predictions")
    df = at.dataframe[-1].value
    return [int(i) for i in df[EN("feature_maps.col_index")]]


def test_uploaded_sample_gives_predictions_and_a_grid_for_every_stage(page, monkeypatch):
    calls = []
    real = capture_module.capture_batch  # every forward of the page, batched across sessions or not
    monkeypatch.setattr(capture_module, "capture_batch", lambda *a, **k: calls.append(1) or real(*a, **k))
    at = page()
    # Offline with an empty cache: a clear message, and the page goes on with random weights.
    assert any("No internet connection" in e.value for e in at.error)
    assert any("random initialisation" in w.value for w in at.warning)

    sample = images.sample_images()["chelsea"]
    upload(at, "chelsea.png", sample.read_bytes())
    assert shown_image_name(at) == "chelsea.png"
    caps = captions(at)
    for step in ("1. original", "2. shorter side resized to 73", "3. centre crop 64×64", "4. normalized"):
        assert any(c.startswith(step) for c in caps), step
    for stage, paper in [("conv1", None), ("maxpool", "conv2_x"), ("layer1", "conv2_x"),
                         ("layer2", "conv3_x"), ("layer3", "conv4_x"), ("layer4", "conv5_x")]:  # fmt: skip
        assert any(c.startswith(f"{stage} ({paper}):" if paper else f"{stage}:") for c in caps), stage
    assert all(img.value and all(img.value) for img in at.image)  # every image has a media URL

    open_tab(at, "predictions")
    assert "fm_layer" not in [w.key for w in at.selectbox]  # the closed tabs did not run
    top = at.dataframe[-1].value
    assert len(top) == 5
    probs = [float(p.rstrip(" %")) for p in top[EN("feature_maps.col_prob")]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 100.01
    assert list(top[EN("feature_maps.col_class")]) == [
        EN("feature_maps.class_n", n=i) for i in top5_indices(at)
    ]
    assert any(EN("feature_maps.untrained_guess") == w.value for w in at.warning)
    # CAM at layer4 (64 / 32 = 2×2)
    assert EN("feature_maps.cam_caption", h=2, w=2) in captions(at)

    forward_passes = len(calls)
    assert forward_passes >= 1
    open_tab(at, "maps")
    layer_box = at.selectbox(key="fm_layer")
    stage_outputs = [o for o in layer_box.options if "output of" in o]
    assert len(stage_outputs) == 4
    for name in ("conv1", "maxpool", "layer1.1", "layer2.1", "layer3.1", "layer4.1"):
        at.selectbox(key="fm_layer").set_value(name).run()
        ok(at)
        grid = [c for c in captions(at) if c.startswith(name) and " channels of " in c]
        assert grid, name
        assert at.download_button(key="fm_download") is not None
    at.selectbox(key="fm_cmap").set_value("magma").run()
    at.radio(key="fm_norm").set_value("global").run()
    at.radio(key="fm_show").set_value("top").run()
    at.slider(key="fm_k").set_value(5).run()
    assert any("The 5 most active of 512 channels" in c for c in captions(at))
    at.toggle(key="fm_overlay").set_value(True).run()
    open_tab(at, "residual")
    at.selectbox(key="fm_block").set_value("layer3.0").run()
    ok(at)
    assert any("Dashed-line shortcut: a 1×1 conv" in c.value for c in at.caption)
    assert len(calls) == forward_passes  # display changes ran no forward pass
    open_tab(at, "maps")  # the choices made before switching tabs are still there
    assert at.selectbox(key="fm_cmap").value == "magma" and at.slider(key="fm_k").value == 5


def _png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    )  # fmt: skip


def test_bad_images_get_one_message_and_the_previous_image_stays(page):
    at = page()
    open_tab(at, "predictions")
    before = shown_image_name(at)
    good_png = images.sample_images()["chelsea"].read_bytes()
    bad = [
        ("empty.png", b"", "empty"),
        ("notes.png", b"This is a text file, not a picture.\n" * 20, "not_image"),
        ("cut.png", good_png[: len(good_png) // 3], "truncated"),
        ("bomb.png", _png_bomb(), "too_large"),
    ]
    for name, data, code in bad:
        upload(at, name, data)
        errors = [e.value for e in at.error if f"“{fmt_code(name)}”" in e.value]
        assert len(errors) == 1, (name, [e.value for e in at.error])
        expected_start = EN(f"images.error_{code}").split("{")[0][:25]
        assert expected_start in errors[0], (code, errors[0])
        assert shown_image_name(at) == before  # the previous good image is still what the page shows
        assert len(at.dataframe[-1].value) == 5  # and its predictions
    upload(at, "coffee.jpg", images.sample_images()["coffee"].read_bytes(), "image/jpeg")
    assert shown_image_name(at) == "coffee.jpg"
    assert not [e for e in at.error if "cannot be used" in e.value]


def test_the_image_uploader_takes_what_an_image_may_be_and_drops_a_refused_file_at_once(page, monkeypatch):
    """D6: the browser is told the images' own limit (64 MB, not the server's 300 MB for checkpoints), and a file
    refused anyway (sent past the browser's check, or not an image) leaves the server's uploaded-file store and
    the session's widget state in the run that refuses it; the next run shows an empty uploader."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    removed: list[str] = []
    real = MemoryUploadedFileManager.remove_file

    def spy(self, session_id: str, file_id: str) -> None:
        removed.append(file_id)
        real(self, session_id=session_id, file_id=file_id)

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", spy)
    at = page()
    at.radio(key="fm_input").set_value("upload").run()
    assert image_uploader(at).proto.max_upload_size_mb == images.MAX_BYTES // 2**20 == 64
    before = shown_image_name(at)
    for round_, (name, data) in enumerate(
        [("big.png", b"\x89PNG\r\n\x1a\n" + bytes(images.MAX_BYTES)), ("notes.png", b"not an image\n" * 40)],
        start=1,
    ):
        upload(at, name, data)
        assert [e.value for e in at.error if f"“{fmt_code(name)}”" in e.value], name  # refused, and said so
        assert len(removed) == round_  # out of the uploaded-file store now, not when the session ends
        assert "fm_upload" not in at.session_state and f"fm_upload_{round_ - 1}" not in at.session_state
        # the same run (it reran at once): a fresh, empty uploader under a new key, ready for the next file
        assert image_uploader(at).key == f"fm_upload_{round_}" and image_uploader(at).value is None
        assert shown_image_name(at) == before
        at.run()  # the message was about that upload: it does not come back
        assert not [e.value for e in at.error if f"“{fmt_code(name)}”" in e.value]
    upload(at, "coffee.jpg", images.sample_images()["coffee"].read_bytes(), "image/jpeg")
    assert shown_image_name(at) == "coffee.jpg" and len(removed) == 2  # an accepted file is kept


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pt(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.slow
def test_checkpoint_upload_shows_its_models_top5_and_bad_ones_are_refused(page, tmp_path):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4321)
        source = build_model("resnet18")
    at = page()
    at.radio(key="fm_weights").set_value("checkpoint").run()
    ok(at)
    assert any(EN("feature_maps.ckpt_none", arch="resnet18") == i.value for i in at.info)

    marker = tmp_path / "pwned"
    uploader(at, "fm_ckpt_file").set_value(
        ("evil.pt", pickle.dumps(_Payload(str(marker)), protocol=2), "application/octet-stream")
    ).run()
    ok(at)
    assert not marker.exists()
    assert any(EN("feature_maps.ckpt_error_unsafe") in e.value for e in at.error)

    uploader(at, "fm_ckpt_file").set_value(
        ("mine.pt", _pt({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}), "")
    ).run()
    ok(at)
    assert not at.error
    assert any("your checkpoint" in i.value and "mine.pt" in i.value for i in at.info)
    steps = preprocessing.preprocess_steps(images.load_sample("chelsea"), resize=73, crop=64)
    want = [i for i, _ in capture_module.capture(source, steps.tensor).top(5)]
    assert top5_indices(at) == want

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        other = build_model("resnet34").state_dict()
    uploader(at, "fm_ckpt_file").set_value(("r34.pt", _pt(other), "")).run()
    ok(at)
    assert any("layers do not match resnet18" in e.value and "layer1.2." in e.value for e in at.error)
    assert any("mine.pt" in c.value for c in at.caption)  # the previous checkpoint is still in use
    assert top5_indices(at) == want


@pytest.mark.slow
def test_chinese_cifar_plain_and_v1_networks_work_with_random_weights(page):
    at = page(arch="resnet20", size=32, lang="zh")
    assert at.title[0].value == translator("zh")("feature_maps.title")
    open_tab(at, "residual", "zh")
    assert not at.error  # no pretrained weights exist for resnet20: a note, not an error
    assert any("torchvision 没有" in i.value for i in at.info)
    caps = captions(at)
    assert any(c.startswith("3. 中心裁剪 32×32") for c in caps)
    assert any(c.startswith("layer3（conv4_x）：64×8×8") for c in caps)
    assert not any(c.startswith("maxpool") for c in caps)
    at.selectbox(key="fm_block").set_value("layer2.0").run()
    ok(at)
    assert any("方案 A" in c.value for c in at.caption)

    at.toggle(key="rv_plain").set_value(True).run()
    ok(at)
    assert any("普通网络" in c.value for c in at.caption)

    at = page(arch="resnet50", size=48, rv_stride_in="1x1")
    assert any(EN("feature_maps.no_pretrained_v1", arch="resnet50") == i.value for i in at.info)
    assert any(c.startswith("layer4 (conv5_x): 2048×") for c in captions(at))


def test_webcam_asks_for_the_camera_only_behind_its_toggle(page):
    at = page(arch="resnet20", size=32)
    at.radio(key="fm_input").set_value("webcam").run()
    ok(at)
    assert len(at.camera_input) == 0  # no camera widget (so no browser permission prompt) until switched on
    at.toggle(key="fm_webcam_on").set_value(True).run()
    ok(at)
    assert len(at.camera_input) == 1
    photo = images.sample_images()["coffee"].read_bytes()
    at.camera_input(key="fm_camera").set_value(("shot.jpg", photo, "image/jpeg")).run()
    ok(at)
    assert shown_image_name(at) == EN("feature_maps.webcam_name")
    at.camera_input(key="fm_camera").set_value(
        ("shot.jpg", b"\xff\xd8\xff" + b"\x00" * 50, "image/jpeg")
    ).run()
    ok(at)
    assert len(at.error) == 1 and shown_image_name(at) == EN("feature_maps.webcam_name")


@pytest.mark.slow
def test_cached_pretrained_weights_bring_their_class_names_and_their_own_preprocessing(page):
    """The pretrained path without a network: a weights file already in the (temporary) hub cache is used."""
    path = weights.cache_path("resnet18")
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        torch.save(build_model("resnet18").state_dict(), path)
    at = page()  # resnet18 with the sidebar's 64-pixel input
    assert not at.error
    assert any(
        "ImageNet-pretrained" in b.value and "ResNet18_Weights.IMAGENET1K_V1" in b.value for b in at.success
    )
    assert any(c.startswith("3. centre crop 224×224") for c in captions(at))  # the weights' size, not 64
    assert EN("feature_maps.pipeline_weights") in [c.value for c in at.caption]
    open_tab(at, "predictions")
    assert not at.warning  # real class names: no "untrained" or "no class names" warning
    names = list(at.dataframe[-1].value[EN("feature_maps.col_class")])
    categories = tvm.ResNet18_Weights.DEFAULT.meta["categories"]
    assert names == [categories[i] for i in top5_indices(at)]


def test_a_capture_is_shared_read_only_and_freed_when_its_sessions_end(page):
    """Two sessions showing the same photo share one capture (one forward, the same read-only arrays); a photo
    only one session showed is freed when that session ends (its state collected), the shared one when both have.
    A session alive when the app froze the collector's heap (the first one of a process) is collected at the app's
    periodic refreeze (memory.refreeze_if_due, called here as if its period had passed)."""
    from resnet_viz import memory, ui

    def collect() -> None:
        assert memory.refreeze_if_due(period_s=0)  # the app has frozen the heap on its first run

    store = ui.capture_store()
    memory.freeze_heap()  # earlier tests' sessions are gone before counting
    before = store.stats()
    first, second = page(), page()
    sample = images.sample_images()["chelsea"].read_bytes()
    upload(first, "chelsea.png", sample)
    upload(second, "chelsea.png", sample)
    upload(first, "coffee.png", images.sample_images()["coffee"].read_bytes())
    after = store.stats()
    assert after.made - before.made == 2 and after.hits - before.hits >= 1  # chelsea made once, for both
    assert after.entries - before.entries == 2
    assert all(not a.flags.writeable for a in _kept_arrays(store))
    del first
    collect()
    ended = store.stats()
    assert ended.entries == after.entries - 1  # coffee, only the first session's, is gone; chelsea stays
    assert ended.bytes < after.bytes
    del second
    collect()
    assert store.stats().entries == before.entries


def _kept_arrays(store):
    from resnet_viz.imaging.store import _arrays

    return [a for entry in store._entries.values() for a in _arrays(entry.value)]


def test_the_page_says_what_one_pass_computes_and_what_random_weights_show(page):
    """Issue 21: the intro claimed one pass for everything (the inspector runs its own); the overview promised
    "more abstract" features with random weights and typed its channel count; the ratio chart divided by ‖x‖."""
    for lang in ("en", "zh"):
        t = translator(lang)
        at = page(arch="resnet20", size=32, lang=lang)
        assert t("feature_maps.intro", inspector=t("inspector.tab")) in [c.value for c in at.caption]
        assert [
            h.value
            for h in at.subheader
            if h.value == t("feature_maps.overview_title", k=fm.OVERVIEW_CHANNELS)
        ]
        # the CIFAR net's stage names are this app's: the overview caption says so (Table 1's style)
        note = stage_names_note(t, "resnet20")
        overview = join_sentences(
            t("feature_maps.overview_caption"), t("feature_maps.overview_untrained"), note
        )
        assert note and overview in [c.value for c in at.caption]
        assert not [c.value for c in at.caption if t("feature_maps.overview_trained") in c.value]
        open_tab(at, "residual", lang)
        at.selectbox(key="fm_block").set_value("layer2.0").run()
        ok(at)
        assert t("feature_maps.shortcut_zero_pad", stride=2) in [c.value for c in at.caption]
        assert t("feature_maps.ratio_caption") in [c.value for c in at.caption]
    plain = page(arch="resnet20", size=32, rv_plain=True)
    open_tab(plain, "residual")
    assert EN("feature_maps.ratio_none") in [i.value for i in plain.info]
    assert EN("feature_maps.explain_main_plain") in [c.value for c in plain.caption]
