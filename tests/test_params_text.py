"""Issue 21, the Parameters, Shortcuts, Shape walk and Home pages: every sentence true for the network it is shown
for, and kept true.

* the claims register covers the parameters, diagrams, shapes, home, common and nav sections (every key registered
  with a source or declared a label), no translation there types a number from data, and the zh texts use the
  glossary's one term per concept;
* the facts the rewritten sentences rest on hold for every network and option the pages can show (the ResNet-34
  → 50 comparison, padded stride-2 steps halving the size rounded up, the trace totals of the models torchvision
  lacks);
* the pages, driven headless, show one number for the shortcuts, the per-network variants (option A, networks
  torchvision lacks, CIFAR names) and none of the audited overclaims.
"""

from __future__ import annotations

import math
import re

import pytest
import test_claims
from apptest_helpers import assert_translated, page_texts
from streamlit.testing.v1 import AppTest

from resnet_viz import ARCHS, build_model, get_spec, trace
from resnet_viz.architecture import counting
from resnet_viz.architecture.catalogue import CATALOGUE, IMAGENET_ARCHS, has_pretrained
from resnet_viz.architecture.trace import conv_out, smallest_input
from resnet_viz.formatting import fmt_int
from resnet_viz.i18n import LANGUAGES, translator
from resnet_viz.render import code_view
from resnet_viz.render.figures_shapes import down_steps

SECTIONS = ("parameters", "diagrams", "shapes", "home", "common", "nav")
STRINGS = test_claims.STRINGS
CLAIMS = test_claims.CLAIMS
LABELS = test_claims.REGISTER["not_claims"]

# ------------------------------------------------------------------------------------------ the claims register


@pytest.mark.parametrize("section", SECTIONS)
def test_every_key_of_the_section_is_registered_or_a_label(section: str) -> None:
    keys = {k.split(".", 1)[1] for k in STRINGS["en"] if k.startswith(section + ".")}
    registered = {k.split(".", 1)[1] for k in CLAIMS if k.startswith(section + ".")}
    labels = set(LABELS.get(section, []))
    assert not registered & labels, f"both a claim and a label: {registered & labels}"
    assert not (labels - keys), f"labels that are no key: {labels - keys}"
    assert not (registered - keys), f"registered keys that do not exist: {registered - keys}"
    assert keys == registered | labels, (
        f"neither registered nor a label: {sorted(keys - registered - labels)}"
    )


def _typed_numbers(text: str) -> list[str]:
    """Numbers quoted from data (test_claims' patterns), less the arithmetic of a formula: "2×C", "2×{p}"."""
    return [hit for hit in test_claims._quoted_numbers(text) if not re.fullmatch(r"\d+×", hit)]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("section", SECTIONS)
def test_no_translation_types_a_number_from_data(lang: str, section: str) -> None:
    found = {
        k: hits
        for k, v in STRINGS[lang].items()
        if k.startswith(section + ".") and (hits := _typed_numbers(v))
    }
    assert not found, f"numbers typed into {lang} translations (format them at render time): {found}"


def test_the_typed_number_check_still_catches_data() -> None:
    assert _typed_numbers("about 0.5% more accurate") and _typed_numbers("位置多 4 倍")
    assert not _typed_numbers("each BatchNorm 2×C") and not _typed_numbers("⌊({n} + 2×{p} − 3)/1⌋")


# The glossary's choices for these pages (text_common: one word per concept), and the variants that are rejected
# inside a zh sentence. English words inside a zh sentence are rejected where the glossary has a Chinese term.
ZH_REJECTED = {
    "步距": re.compile(r"步幅|步长|stride\s*=|\bstride\b"),
    "残差块": re.compile(r"模块|[Pp]lain ?块"),
    "捷径分支": re.compile(r"(?i)\bshortcut\b(?!\()"),
    "填充": re.compile(r"(?i)\bpadding\b"),
    "阶段": re.compile(r"\bstage\b"),
    "BN": re.compile(r"BatchNorm"),
    "普通网络": re.compile(r"(?i)\bplain\b"),
    "G 或 亿": re.compile(r"十亿次"),
    "零填充": re.compile(r"补零"),
}


@pytest.mark.parametrize("term", sorted(ZH_REJECTED))
def test_zh_uses_the_glossary_term(term: str) -> None:
    pattern = ZH_REJECTED[term]
    hits = {
        k: pattern.findall(v)
        for k, v in STRINGS["zh"].items()
        if k.split(".")[0] in SECTIONS and pattern.search(re.sub(r"\{[^}]*\}|`[^`]*`", "", v))
    }
    assert not hits, f"zh variants where the glossary says {term!r}: {hits}"


def test_zh_keeps_降维_for_fewer_channels() -> None:
    """降维 means reducing the channels (the Bottleneck's first 1×1 conv), never a smaller map."""
    assert "降维到" not in STRINGS["zh"]["home.about_architecture"]
    for key, text in STRINGS["zh"].items():
        if key.split(".")[0] in SECTIONS and "降维" in text:
            assert "1×1" in text or "C/4" in text or "降维/升维" in text, key


# ------------------------------------------------------------------------------------------ the facts behind words

CONFIGS = [(p, si) for p in (False, True) for si in ("3x3", "1x1")]
SIZES = sorted({smallest_input("resnet50"), 2, 7, 32, 64, 97, 224, 225, 512, 1000, 4096})


@pytest.mark.parametrize(("plain", "stride_in"), CONFIGS)
def test_resnet50_against_34_is_deeper_but_not_proportionally_bigger(plain: bool, stride_in: str) -> None:
    """What parameters.dash_title and parameters.why_50 say, at every input size and option the dashboard takes:
    the parameters grow less than the depth, the activation memory more; and ResNet-34 and 50 have the same
    blocks per stage ("Both have 3+4+6+3 blocks")."""
    assert CATALOGUE["resnet34"].layers == CATALOGUE["resnet50"].layers
    for size in SIZES:
        stats = {d.arch: d for d in counting.depth_scaling(size, 1, plain=plain, stride_in=stride_in)}
        r34, r50 = stats["resnet34"], stats["resnet50"]
        depth = r50.depth / r34.depth
        assert 1 < r50.params / r34.params < depth, size
        assert r50.macs / r34.macs < depth, size
        assert r50.activation_bytes / r34.activation_bytes > depth, size


def test_the_old_title_was_wrong_on_the_default_view() -> None:
    """'Deeper is not always bigger' sat over a table where every deeper network was bigger on every column."""
    stats = counting.depth_scaling(224, 32)
    for a, b in zip(stats, stats[1:]):
        assert b.params > a.params and b.macs > a.macs and b.activation_bytes > a.activation_bytes


@pytest.mark.parametrize("arch", ARCHS)
def test_padded_stride_2_steps_halve_rounding_up(arch: str) -> None:
    """shapes.keep_size: every network has padded stride-2 steps (the notes' summary says padding is only for
    stride 1), and with its padding such a step gives ⌈in/2⌉; without it, less for the wider kernels."""
    spec = get_spec(arch)
    for stride_in in ("3x3", "1x1") if spec.block == "bottleneck" else ("3x3",):
        for size in (smallest_input(arch), 7, spec.default_input, 97, 225):
            padded = [
                d for d in down_steps(trace(arch, size, stride_in=stride_in)) if d.stride > 1 and d.padding
            ]
            assert padded
            for d in padded:
                assert d.stride == 2 and d.kernel == 2 * d.padding + 1
                assert d.size_out == math.ceil(d.size_in / 2) == conv_out(d.size_in, d.kernel, 2, d.padding)


@pytest.mark.parametrize("arch", [a for a in ARCHS if a not in IMAGENET_ARCHS] + ["resnet18", "resnet50"])
def test_totals_of_the_models_torchvision_lacks_are_those_of_the_built_model(arch: str) -> None:
    """parameters.source_built: for every layout torchvision does not ship (CIFAR, the notes' listing, plain nets),
    the page's total is that of the model this app builds."""
    for plain in (False, True):
        if has_pretrained(arch, plain=plain):
            continue
        model = build_model(arch, plain=plain)
        size = get_spec(arch).default_input
        assert trace(arch, size, plain=plain).total_params == sum(p.numel() for p in model.parameters())


def test_zero_pad_listing_marks_its_forward_as_the_downsample() -> None:
    source = code_view.zero_pad_source()
    lines = code_view.layer_lines(source, "downsample", zero_pad=True)
    body = source.splitlines()
    assert "def forward" in body[lines[0] - 1] and "F.pad" in body[lines[-1] - 1]
    assert lines == list(range(lines[0], lines[-1] + 1))  # the whole forward, nothing else
    assert code_view.layer_lines(source, "conv1", zero_pad=True) == []
    assert code_view.layer_lines(source, "downsample") == []  # as plain Python it has no self.downsample


# ------------------------------------------------------------------------------------------ the pages


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.info]
    parts += [e.value for e in at.success] + [x.value for x in at.title] + [x.value for x in at.subheader]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def open_page(app_test):
    def open_(page: str, lang: str, arch: str, plain: bool = False) -> tuple[AppTest, str]:
        at = app_test(timeout=60, state={"rv_lang": lang, "rv_arch": arch, "rv_plain": plain})
        at.run()
        at.switch_page(page).run()
        assert_translated(at, f"{page} {lang} {arch}")
        return at, _text(at)

    return open_


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("arch", ["resnet34", "resnet50"])
def test_one_number_for_the_projection_shortcuts_on_both_pages(lang: str, arch: str, open_page) -> None:
    """Wrong 6: the Parameters page gave the 1×1 convs alone (172,032 for ResNet-34), the Shortcuts page the convs
    and their BNs (173,824). Both now give Trace.shortcut_params, and neither the convs-only sum."""
    tr = trace(arch, 224)
    convs_only = sum(p.conv_params for p in counting.projections(tr))
    assert convs_only != tr.shortcut_params
    _, params_text = open_page("app_pages/parameters.py", lang, arch)
    _, shortcuts_text = open_page("app_pages/shortcuts.py", lang, arch, plain=True)
    for text in (params_text, shortcuts_text):
        assert fmt_int(tr.shortcut_params) in text
        assert fmt_int(convs_only) not in text


OVERCLAIMS = {
    "en": ("barely bigger", "almost the same number of weights", "not always bigger", "outputs F(x) + x",
           "Where a stage starts", "equals torchvision's"),
    "zh": ("大一点点", "几乎一样多", "更深不一定更大", "输出 F(x) + x", "在每个 stage 的开头", "与 torchvision 完全一致",
           "padding 只负责"),
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_audited_overclaims_are_gone(lang: str, open_page) -> None:
    texts = [open_page(page, lang, "resnet34")[1] for page in
             ("app_pages/home.py", "app_pages/parameters.py", "app_pages/architecture.py")]  # fmt: skip
    for text in texts:
        for phrase in OVERCLAIMS[lang]:
            assert phrase not in text, phrase
    t = translator(lang)
    assert "ReLU(F(x) + x)" in t("home.intro")
    home, params, shapes = texts
    at, _ = open_page("app_pages/parameters.py", lang, "resnet34")
    assert t("parameters.dash_title") in "\n".join(page_texts(at))  # the dashboard figure's title
    # the ResNet-34 → 50 comparison, with its ratios formatted from the dashboard's numbers
    assert "×1.47" in params and "×2.9" in params and "+17%" in params and "+12%" in params


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cifar_networks_get_their_own_sentences(lang: str, open_page) -> None:
    """Generic text on nets it does not fit: option A has no shortcut conv, torchvision has no CIFAR ResNet, the
    paper names no CIFAR stage, and the notes' listing (a 1×1 projection) is not this network's shortcut."""
    t = translator(lang)
    at, text = open_page("app_pages/parameters.py", lang, "resnet20")
    assert t("parameters.rule_zero_pad") in text and t("parameters.rule_projection") not in text
    assert t("parameters.source_built") in text
    frame = at.dataframe[0].value
    assert t("parameters.col_paper_style") in frame.columns and t("parameters.col_paper") not in frame.columns
    assert "32×32" in text and "16×16" in text and "8×8" in text  # names_cifar: the paper's map sizes
    _, text = open_page("app_pages/architecture.py", lang, "resnet20")
    assert (
        t("shapes.layers_formula_zero_pad", formula=CATALOGUE["resnet20"].layer_count_formula, per=2) in text
    )
    at, _ = open_page("app_pages/shortcuts.py", lang, "resnet20")
    tabs = [x.label for x in at.tabs]
    assert t("diagrams.code_zero_pad") in tabs and t("links.code_notes") not in tabs
    # …and the ImageNet ones keep theirs
    at, text = open_page("app_pages/parameters.py", lang, "resnet18")
    assert t("parameters.rule_projection") in text
    assert t("parameters.source_torchvision", arch="resnet18", params=fmt_int(11_689_512)) in text
    assert t("parameters.col_paper") in at.dataframe[0].value.columns


def test_parameters_lists_every_projection_where_it_is(open_page) -> None:
    """'Where a stage starts … stride 2' was not true at conv2_1 (stride 1, channels only) nor, for ResNet-18/34,
    at conv2_x at all: the page now lists each projection with its own stride."""
    _, text = open_page("app_pages/parameters.py", "en", "resnet50")
    assert "conv2_1 (layer1.0.downsample, 1×1 conv 64→256, stride 1)" in text
    assert "conv3_1 (layer2.0.downsample, 1×1 conv 256→512, stride 2)" in text
    _, text = open_page("app_pages/parameters.py", "en", "resnet34")
    assert "first block of conv3_x, conv4_x, conv5_x" in text and "conv2_1 (layer1.0.downsample" not in text


def test_the_rule_lists_the_relu_inside_each_block(open_page) -> None:
    at, _ = open_page("app_pages/parameters.py", "en", "resnet18")
    line = next(x for m in at.markdown for x in m.value.splitlines() if "(layer1.0)" in x)
    greyed = line.split(":gray[", 1)[1].rstrip("]").split(", ")  # the steps not counted, by reason
    assert greyed == ["BN ×2", "ReLU", "identity shortcut", "addition + ReLU"]  # bn1, ReLU, bn2, x, +, ReLU
