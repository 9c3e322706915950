"""The address-bar parameters (resnet_viz.links): every parameter good and bad, the nearest-step fallback, encoding."""

from __future__ import annotations

import re

import pytest

from resnet_viz import ARCHS
from resnet_viz.architecture.trace import trace
from resnet_viz.i18n import catalogue
from resnet_viz.links import (
    KNOWN,
    MAX_VALUE_LEN,
    SHOWN_LEN,
    encode,
    nearest_step,
    parse,
    qr_png,
    row_holds,
    selectable_steps,
    step_of,
)


def _steps(net: str, size: int, stride: str, plain: bool) -> list[str]:
    return selectable_steps(trace(net, size, plain=plain, stride_in=stride))


def _parse(query: dict) -> tuple[dict, dict]:
    link = parse(query, samples=["chelsea", "coffee"], lesson_steps=14, steps_of=_steps)
    return link.values, {p.param: p.code for p in link.problems}


def test_good_values_are_typed() -> None:
    values, problems = _parse(
        {"lang": "zh", "net": "resnet50", "size": "160", "stride": "1x1", "plain": "1", "block": "layer3.5",
         "sample": "coffee", "step": "4", "present": "1"}
    )  # fmt: skip
    assert problems == {}
    assert values == {"lang": "zh", "net": "resnet50", "size": 160, "stride": "1x1", "plain": True,
                      "block": "layer3.5", "sample": "coffee", "step": 4, "present": True}  # fmt: skip


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("lang", "fr", "bad_lang"),
        ("net", "resnet35", "bad_net"),
        ("size", "-3", "bad_size"),
        ("size", "abc", "bad_size"),
        ("size", "15", "bad_size"),
        ("size", "1025", "bad_size"),
        ("size", "1e3", "bad_size"),
        ("size", "٣٢", "bad_size"),  # Arabic-Indic digits: str.isdigit says yes, int() would accept them
        ("stride", "2x2", "bad_stride"),
        ("plain", "yes", "bad_plain"),
        ("present", "2", "bad_present"),
        ("block", "layer9.9", "absent_block"),
        ("block", "<script>", "bad_block"),
        ("sample", "../../etc/passwd", "bad_sample"),
        ("step", "0", "bad_step"),
        ("step", "15", "bad_step"),
        ("rung", "resnet18", "bad_rung"),
        ("rung", "kernel5", "bad_rung"),  # a kernel variant the paper tried is no rung of the page
        ("colour", "red", "unknown"),
    ],
)
def test_one_bad_value_gets_one_problem_and_the_others_still_apply(param: str, value: str, code: str) -> None:
    query = (
        {"lang": "zh", "net": "resnet18", param: value} if param not in ("lang", "net") else {param: value}
    )
    values, problems = _parse(query)
    assert problems == {param: code}
    assert param not in values
    if param not in ("lang", "net"):
        assert values["lang"] == "zh" and values["net"] == "resnet18"


def test_a_block_the_chosen_network_lacks_is_refused() -> None:
    assert _parse({"net": "resnet18", "block": "layer3.5"})[1] == {"block": "absent_block"}
    assert _parse({"net": "resnet50", "block": "layer3.5"})[1] == {}
    assert _parse({"net": "resnet20", "block": "layer4.0"})[1] == {"block": "absent_block"}
    assert _parse({"block": "maxpool"})[0]["block"] == "maxpool"  # the default network (resnet34) has one
    assert _parse({"net": "resnet20", "block": "maxpool"})[1] == {
        "block": "absent_block"
    }  # CIFAR: no max-pool


def test_a_very_long_value_is_cut_in_the_notice() -> None:
    link = parse({"net": "x" * 5000, "lang": "zh"})
    (problem,) = link.problems
    assert problem.code == "too_long" and problem.length == 5000 and len(problem.value) == SHOWN_LEN
    assert link.values == {"lang": "zh"}
    assert (
        parse({"net": "r" * MAX_VALUE_LEN}).problems[0].code == "bad_net"
    )  # at the limit: read, then refused


def test_repeated_parameters_use_the_last_value() -> None:
    assert parse({"net": ["resnet18", "resnet50"]}).values == {"net": "resnet50"}


def test_selectable_steps_are_the_diagram_nodes() -> None:
    steps = _steps("resnet18", 224, "3x3", False)
    assert steps[:3] == ["conv1", "maxpool", "layer1.0"] and steps[-2:] == ["avgpool", "fc"]
    assert len(steps) == 2 + sum((2, 2, 2, 2)) + 2
    assert "maxpool" not in _steps("resnet20", 32, "3x3", False)


@pytest.mark.parametrize(
    ("name", "net", "expected"),
    [
        ("layer3.5", "resnet18", "layer3.1"),  # same stage, the closest index
        ("layer3.1", "resnet50", "layer3.1"),  # present: kept
        ("layer4.1", "resnet20", "layer3.2"),  # no layer4: the last block of the deepest earlier stage
        ("maxpool", "resnet20", "conv1"),  # CIFAR stem has no max-pool
    ],
)
def test_nearest_step(name: str, net: str, expected: str) -> None:
    assert nearest_step(name, _steps(net, 224 if net != "resnet20" else 32, "3x3", False)) == expected


def test_every_block_of_every_network_falls_back_inside_every_other() -> None:
    for a in ARCHS:
        for b in ARCHS:
            target = _steps(b, 64, "3x3", False)
            for name in _steps(a, 64, "3x3", False):
                assert nearest_step(name, target) in target


def test_encode_round_trips_through_parse() -> None:
    values = {
        "lang": "en",
        "net": "resnet101",
        "size": 96,
        "stride": "3x3",
        "plain": False,
        "block": "layer3.22",
    }
    query = encode(values)
    assert list(query) == [k for k in KNOWN if k in values]
    assert query["plain"] == "0" and query["size"] == "96"
    assert parse(query, steps_of=_steps).values == values


def test_qr_png_is_a_png() -> None:
    data = qr_png("http://localhost:8501/feature_maps?net=resnet50&block=layer3.1&lang=zh")
    assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_table_rows_map_to_steps() -> None:
    steps = _steps("resnet50", 224, "3x3", False)
    assert step_of("layer3.1.conv2", steps) == "layer3.1"
    assert step_of("layer3.1.downsample.0", steps) == "layer3.1"
    assert step_of("layer3", steps) == "layer3.0"
    assert step_of("stem", steps) == step_of("bn1", steps) == "conv1"
    assert step_of("fc", steps) == "fc" and step_of("softmax", steps) is None
    assert row_holds("layer3.1.conv2", "layer3.1") and row_holds("layer3", "layer3.1")
    assert not row_holds("layer3.10", "layer3.1") and not row_holds("layer3.1", "layer3.10")
    assert row_holds("stem", "maxpool") and not row_holds("stem", "layer1.0")


#: The templates that echo a value from outside (an address parameter, an uploaded file's name), by the
#: placeholders that receive it already wrapped by ``formatting.fmt_code``.
ECHOING = {
    **{
        f"links.{code}": ("param", "setting")
        for code in (
            "unknown",
            "too_long",
            "bad_lang",
            "bad_net",
            "bad_size",
            "bad_stride",
            "bad_plain",
            "bad_present",
            "bad_block",
            "absent_block",
            "bad_sample",
            "bad_step",
            "bad_rung",
        )
    },  # fmt: skip
    "links.block_moved": ("old", "new"),
    **{
        f"feature_maps.{key}": ("name",)
        for key in ("bad_image", "ckpt_error", "ckpt_kept_previous", "step_original", "using_checkpoint")
    },  # fmt: skip
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_echoing_templates_put_no_backtick_or_backslash_next_to_an_echoed_value(lang: str) -> None:
    # A backtick of the template's own beside the helper's span (the old `net={value}`) changes where the span
    # ends; a backslash before it escapes the span's first backtick.
    texts = catalogue(lang)
    for key, names in ECHOING.items():
        used = [n for n in names if "{" + n + "}" in texts[key]]
        assert used, (key, texts[key])
        for name in used:
            for before, after in re.findall(r"(.?)\{" + name + r"\}(.?)", texts[key]):
                assert before not in ("`", "\\") and after != "`", (lang, key, texts[key])


def test_a_long_unknown_key_is_cut_with_an_ellipsis() -> None:
    (problem,) = parse({"k" * 100: "1"}).problems
    assert problem.code == "unknown" and len(problem.param) == SHOWN_LEN and problem.param.endswith("…")


def test_too_long_says_the_whole_value_is_ignored() -> None:
    """parse drops a value over MAX_VALUE_LEN whole: nothing of it is read."""
    from resnet_viz.i18n import translator

    link = parse({"net": "resnet50" + "x" * MAX_VALUE_LEN})
    assert "net" not in link.values
    text = translator("en")("links.too_long", param="net", length=72, max=MAX_VALUE_LEN)
    assert "ignored" in text and "are read" not in text


def test_share_help_names_exactly_the_parameters_the_address_carries() -> None:
    from resnet_viz import links
    from resnet_viz.i18n import translator
    from resnet_viz.ui.resolve import share_help

    for lang in ("en", "zh"):
        t = translator(lang)
        text = share_help(t)
        carried = links.SHARED + links.PAGE_PARAMS  # role (links.REQUESTS) is read once, never written back
        assert set(KNOWN) - set(carried) == set(links.REQUESTS) == {"role"}
        assert all(t(f"links.param_{name}") in text for name in carried), lang
        sep = t("common.list_sep")
        assert sep.join(t(f"links.param_{name}") for name in links.SHARED) in text
        # The sample photo, the lesson step, the ladder's rung and the class's room travel only on their own page:
        # named after the shared ones, apart.
        assert links.PAGE_PARAMS == ("sample", "step", "rung", "room")  # the sentence names these four
        present = text.index(t("links.param_present"))
        for name in links.PAGE_PARAMS:
            assert text.index(t(f"links.param_{name}")) > present, name
        assert sep.join(t(f"links.param_{name}") for name in KNOWN) not in text
    assert "weights" in share_help(translator("en")) and "not shared" in share_help(translator("en"))


def test_the_plain_block_caption_says_it_drops_the_shortcut_module() -> None:
    """PlainBasicBlock keeps torchvision's layers but drops the projection _make_layer hands it."""
    from torch import nn

    from resnet_viz.i18n import translator
    from resnet_viz.models.build import PlainBasicBlock

    projection = nn.Sequential(nn.Conv2d(64, 128, 1, 2, bias=False), nn.BatchNorm2d(128))
    assert PlainBasicBlock(64, 128, 2, projection).downsample is None
    caption = translator("en")("links.code_plain_caption")
    assert "rewrites only forward" not in caption and "drops the projection" in caption
    # The CIFAR builder gives a plain net no ZeroPadShortcut at all: the caption must not say one is dropped.
    from resnet_viz.models.build import ZeroPadShortcut, build_model

    plain56 = build_model("resnet56", plain=True)
    assert not any(isinstance(m, ZeroPadShortcut) for m in plain56.modules())
    for lang in ("en", "zh"):
        text = translator(lang)("links.code_plain_caption")
        assert "_make_layer" in text and "zero-padding" not in text and "零填充" not in text


def test_the_notice_lists_choices_with_the_languages_own_separator() -> None:
    from resnet_viz.i18n import translator
    from resnet_viz.links import Problem, View
    from resnet_viz.ui.resolve import _problem_text

    v = View(lang="zh", arch="resnet34", input_size=224, stride_in="3x3", plain=False, step="layer2.0",
             presenter=False, page_params=())  # fmt: skip
    zh = _problem_text(Problem("net", "bad_net", "x"), v, translator("zh"))
    assert "resnet18、resnet34" in zh and "resnet18, resnet34" not in zh
    en = _problem_text(Problem("net", "bad_net", "x"), v, translator("en"))
    assert "resnet18, resnet34" in en


def test_the_presenter_help_names_the_screen_from_the_constant_not_the_translation() -> None:
    from resnet_viz.i18n import catalogue, translator
    from resnet_viz.ui.presenter import PRESENTER_SCREEN_PX
    from resnet_viz.ui.resolve import present_help

    width, height = PRESENTER_SCREEN_PX
    for lang in ("en", "zh"):
        assert f"{width}×{height}" in present_help(translator(lang))
        assert str(width) not in catalogue(lang)["links.present_help"]


def test_room_is_read_in_every_form_a_student_types_and_role_is_never_written_back() -> None:
    """``room``: the code as printed (K7Q-X2M), lower case, or as stored; anything else is a bad_room problem.
    ``role`` is validated, then left out of every address written (it is a request, not part of the view)."""
    from resnet_viz.links import encode

    for typed in ("K7QX2M", "k7q-x2m", "K7Q X2M", "k7qx2m"):
        assert parse({"room": typed}).values == {"room": "K7QX2M"}, typed
    for bad in ("K7QX2", "K7QX2MM", "K7Q_X2M", "<script>", ""):
        link = parse({"room": bad})
        assert "room" not in link.values and [p.code for p in link.problems] == ["bad_room"], bad
    assert parse({"role": "teacher"}).values == {"role": "teacher"}
    assert [p.code for p in parse({"role": "admin"}).problems] == ["bad_role"]
    assert encode({"room": "K7QX2M", "role": "teacher", "lang": "en"}) == {"lang": "en", "room": "K7QX2M"}
