"""The Feature-maps page's checkpoint box with hostile and broken files (issue 22): each refusal is one clear
message about that file, never the crash box; a warning about the checkpoint still in use names that file, so
that it does not read as if it were about the file just refused."""

from __future__ import annotations

import io

import pytest
import torch
from apptest_helpers import assert_translated, uploader
from checkpoint_bombs import hash_bomb_zip
from streamlit.testing.v1 import AppTest

from resnet_viz import build_model
from resnet_viz.formatting import fmt_code
from resnet_viz.i18n import translator

PAGE = "app_pages/feature_maps.py"
EN = translator("en")


def _pt(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.fixture
def checkpoint_box(app_test, offline) -> AppTest:
    at = app_test(timeout=240, state={"rv_lang": "en", "rv_arch": "resnet20", "rv_input_size": 32})
    at.run()
    at.switch_page(PAGE).run()
    at.radio(key="fm_weights").set_value("checkpoint").run()
    assert_translated(at, "checkpoint box")
    return at


def _upload(at: AppTest, name: str, data: bytes) -> None:
    uploader(at, "fm_ckpt_file").set_value((name, data, "application/octet-stream")).run()
    assert_translated(at, name)


def _errors_about(at: AppTest, name: str) -> list[str]:
    about = EN("feature_maps.ckpt_error", name=fmt_code(name))
    return [e.value for e in at.error if e.value.startswith(about)]


@pytest.mark.slow
def test_each_refusal_is_about_its_file_and_the_nan_warning_names_the_file_in_use(checkpoint_box):
    at = checkpoint_box
    nan_state = build_model("resnet20").state_dict()
    nan_state["fc.bias"][0] = float("nan")
    nan_warning = EN("feature_maps.ckpt_nonfinite", name=fmt_code("nan.pt"), n=1, names=fmt_code("fc.bias"))
    _upload(at, "nan.pt", _pt(nan_state))
    assert [w.value for w in at.warning] == [nan_warning]

    # A second file, refused: its error; then that the first is still in use; then the first's warning, by name.
    _upload(at, "r18.pt", _pt(build_model("resnet18").state_dict()))
    assert len(_errors_about(at, "r18.pt")) == 1
    assert [c.value for c in at.caption if "nan.pt" in c.value] == [
        EN("feature_maps.ckpt_kept_previous", name=fmt_code("nan.pt"))
    ]
    assert [w.value for w in at.warning] == [nan_warning]

    # D11: a head of 0 classes is a message, not the crash box (assert_translated checks no exception).
    zero = build_model("resnet20").state_dict()
    zero["fc.weight"], zero["fc.bias"] = torch.zeros(0, 64), torch.zeros(0)
    _upload(at, "zero.pt", _pt(zero))
    assert [e for e in _errors_about(at, "zero.pt") if EN("feature_maps.ckpt_error_no_classes") in e]

    # D1: the hash bomb is refused at once, with the structure message.
    _upload(at, "bomb.pt", hash_bomb_zip(64))
    assert [e for e in _errors_about(at, "bomb.pt") if EN("feature_maps.ckpt_error_structure") in e]
    assert [w.value for w in at.warning] == [nan_warning]

    # D6: a file refused for what it is (not for the network chosen) is dropped at once: the uploader is a fresh,
    # empty one and no widget state holds its bytes; a file refused only for this network's keys is kept.
    assert uploader(at, "fm_ckpt_file").key != "fm_ckpt_file" and uploader(at, "fm_ckpt_file").value is None
    assert uploader(at, "fm_ckpt_file").key == "fm_ckpt_file_2"  # zero.pt, then bomb.pt were dropped
    assert "fm_ckpt_file" not in at.session_state and "fm_ckpt_file_1" not in at.session_state
