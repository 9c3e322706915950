"""Issue 21, the Parameters, Shortcuts, Shape walk and Home pages: every sentence true for the network it is shown
for, and kept true.

* (that every key of these sections is registered, types no number and follows the zh glossary is
  tests/test_claims.py's and tests/test_glossary.py's, for every section);
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
import test_glossary
from apptest_helpers import assert_translated, page_texts
from streamlit.testing.v1 import AppTest

from resnet_viz import ARCHS, build_model, get_spec, trace
from resnet_viz.architecture import counting
from resnet_viz.architecture.catalogue import CATALOGUE, IMAGENET_ARCHS, has_pretrained
from resnet_viz.architecture.trace import conv_out, smallest_input
from resnet_viz.formatting import fmt_int, fmt_params
from resnet_viz.i18n import LANGUAGES, translator
from resnet_viz.render import code_view
from resnet_viz.render.figures_shapes import down_steps

SECTIONS = ("parameters", "diagrams", "shapes", "home", "common", "nav")
STRINGS = test_claims.STRINGS
CLAIMS = test_claims.CLAIMS
LABELS = test_claims.REGISTER["not_claims"]

# ------------------------------------------------------------------------------------------ the claims register


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
    depth_ratio = {"en": "1.47× ResNet-34's 34", "zh": "是 ResNet-34 的 34 层的 1.47 倍"}[lang]
    act_ratio = {"en": "(2.9×)", "zh": "（2.9 倍）"}[lang]  # one notation for ratios in the sentence
    assert depth_ratio in params and act_ratio in params and "×2.9" not in params
    assert "+17%" in params and "+12%" in params


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


# ------------------------------------------------------------------------------------------ the second reading
# The second reader's findings on these pages (issue 21): each test below failed on the text it replaced.


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plain_numbers_never_appear_under_a_residual_name(lang: str, open_page) -> None:
    """Finding 1: with the sidebar's plain network on, Home said "Now showing ResNet-50: … 22,780,456 parameters"
    (plain-50's count) and the dashboard compared plain-50 with plain-34 under the names ResNet-50 and ResNet-34
    (+5% instead of +17%). Plain numbers now carry the plain network's name, and the dashboard always compares the
    residual networks."""
    t = translator(lang)
    plain50, res50, res34 = trace("resnet50", 224, plain=True), trace("resnet50", 224), trace("resnet34", 224)
    plain34 = trace("resnet34", 224, plain=True)
    plain_title = t("common.title_plain_imagenet", depth=50)
    _, home = open_page("app_pages/home.py", lang, "resnet50", plain=True)
    formula = plain50.layer_count_formula
    assert t("home.current", title=plain_title, formula=formula, params=fmt_int(plain50.total_params)) in home
    at, params = open_page("app_pages/parameters.py", lang, "resnet50", plain=True)
    assert t("parameters.where_heading", title=plain_title) in params
    assert t("parameters.dash_residual") in params
    change = f"{100 * (res50.total_params / res34.total_params - 1):+.0f}%"
    plain_change = f"{100 * (plain50.total_params / plain34.total_params - 1):+.0f}%"
    assert (change, plain_change) == ("+17%", "+5%")
    why_50 = next(line for line in params.splitlines() if change in line)
    assert fmt_params(res50.total_params) in why_50 and fmt_params(res34.total_params) in why_50
    assert fmt_params(plain50.total_params) not in why_50 and plain_change not in why_50
    frame = next(d.value for d in at.dataframe if t("parameters.col_network") in d.value.columns)
    assert fmt_int(res50.total_params) in [fmt_int(v) for v in frame[t("parameters.col_params")]]


def test_plain_titles_follow_the_paper(open_page) -> None:
    """plain-34, as the paper's Table 2 names it; 34 层普通网络 in zh, as the Figure 3 diagram already says."""
    from resnet_viz.i18n import arch_title

    assert arch_title(translator("en"), "resnet34", plain=True) == "plain-34"
    assert arch_title(translator("zh"), "resnet56", plain=True) == "56 层普通网络（CIFAR）"
    for arch in ARCHS:
        for lang in LANGUAGES:
            t = translator(lang)
            assert arch_title(t, arch, plain=True) != arch_title(t, arch)


def _nvidia_keys(lang: str) -> dict[str, str]:
    return {k: v for k, v in STRINGS[lang].items() if k.split(".")[0] in SECTIONS and "NVIDIA" in v}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nvidias_gain_is_said_of_resnet50_only(lang: str) -> None:
    """Finding 2: NVIDIA measured v1.5's ~0.5% top-1 for ResNet-50 only; the text showed it for 101 and 152 too."""
    keys = _nvidia_keys(lang)
    assert {"parameters.v15_text", "diagrams.v1_v15", "common.stride_in_help"} <= set(keys)
    for key, text in keys.items():
        assert "ResNet-50" in text and "ResNet-50/101/152" not in text.split("NVIDIA", 1)[1], key


# "多 4 倍", "增加 4 倍", "少 4 倍", "缩小了 4 倍", "宽 4 倍": read as ×5 (or are not Chinese); "是…的 4 倍" is fine.
_AMBIGUOUS_TIMES = re.compile(
    r"(多|少|增加了?|减少了?|缩小了?|扩大了?|宽|窄|大|小|高|低)\s*(\{[^}]*\}|[\d.]+)\s*倍"
)


def test_zh_multiples_say_what_they_mean() -> None:
    """Finding 3: "位置多 4 倍" / "增加 4 倍" mean ×5 to a Chinese reader, "少 4 倍" is not Chinese."""
    for bad in (
        "位置少 {area} 倍",
        "权重多 {area} 倍",
        "增加 4 倍",
        "每边缩小了 {factor} 倍",
        "宽 {times} 倍",
    ):
        assert _AMBIGUOUS_TIMES.search(bad), bad
    for fine in ("是原来的 {area} 倍", "是内部宽度的 {expansion} 倍", "位置只有 1/{area}"):
        assert not _AMBIGUOUS_TIMES.search(fine), fine
    hits = {
        k: _AMBIGUOUS_TIMES.findall(v)
        for k, v in STRINGS["zh"].items()
        if k.split(".")[0] in SECTIONS and _AMBIGUOUS_TIMES.search(v)
    }
    assert not hits, hits


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_kinds_of_block_in_a_plain_network(lang: str, open_page) -> None:
    """Finding 4: in plain mode the only tab is "plain", but the text described solid and dashed shortcuts."""
    t = translator(lang)
    for arch in ("resnet34", "resnet50", "resnet20"):
        at, text = open_page("app_pages/shortcuts.py", lang, arch, plain=True)
        assert t("diagrams.tab_identity") not in "\n".join(x.label for x in at.tabs)
        for family in ("basic", "bottleneck", "cifar"):
            intro = t(f"diagrams.kinds_intro_{family}", dashed_stages="")
            assert intro.split("{")[0][:40] not in text, (arch, family)
        assert t("diagrams.kinds_intro_plain", block=trace(arch, 32).block_class) in text
        assert t("common.title_plain_" + get_spec(arch).family, depth=get_spec(arch).depth) in text


def test_the_reworded_sentences() -> None:
    """Findings 5, 6, 7, 11 and 13, in en; each phrase below is the one the second reader flagged."""
    en, help_text = STRINGS["en"], STRINGS["en"]["common.stride_in_help"]
    # 5: "…first 1×1 conv, which does fewer multiply-adds but is slightly less accurate" made the conv inaccurate
    assert "which does fewer multiply-adds" not in help_text
    assert "v1 (the paper's models) strides in the first 1×1 conv and does fewer" in help_text
    # 6: the page quotes NVIDIA's measured gain too, which is not computed from the network's layers
    assert "Every number is computed" not in en["parameters.intro"]
    assert "the notes' listing" in en["diagrams.page_intro"]  # 7: its 32×32 ResNet-34 has 1×1 projections too
    assert "per side" in en["shapes.seed_reduce"] and "每边" in STRINGS["zh"]["shapes.seed_reduce"]  # 11
    assert "weights" not in en["parameters.projection_text"].split("=")[-1]  # 13: with BN, γ/β are no weights


def test_the_notes_listing_has_projection_shortcuts() -> None:
    """diagrams.page_intro (finding 7): the notes' 32×32 ResNet-34 uses 1×1 projections, as the ImageNet ones."""
    tr = trace("resnet34_cifar", 32)
    assert [p.c_in for p in counting.projections(tr)] == [64, 128, 256]
    assert all(b.shortcut != "zero_pad" for b in tr.blocks)


# test_glossary's check of the translations (ASCII punctuation touching a Chinese character), applied to what the
# pages show, plus two cases that only text joined in code produces.
_CJK = test_glossary.CJK
_HALF_WIDTH = re.compile(
    test_glossary._HALF_WIDTH.pattern
    + r"|\)[（、：]"  # an ASCII bracket beside full-width punctuation
    + rf"|\([^()]*[{_CJK}][^()]*\)"  # Chinese words inside ASCII brackets
)


def test_the_half_width_check_can_fail() -> None:
    for bad in (
        "conv2_1 (layer1.0.downsample, 1×1 卷积 64→256，步距 1): ",
        "(conv3_1)（3×3 卷积",
        "conv3_1 (layer2.0)、",
        "卷积 (步距 1)",
    ):
        assert _HALF_WIDTH.search(bad), bad
    assert not _HALF_WIDTH.search("形状为 (28, 28, 128)。") and not _HALF_WIDTH.search("F(x) + x")


@pytest.mark.parametrize(
    ("page", "arch"),
    [("app_pages/parameters.py", "resnet50"), ("app_pages/parameters.py", "resnet34"),
     ("app_pages/shortcuts.py", "resnet50"), ("app_pages/architecture.py", "resnet50"),
     ("app_pages/architecture.py", "resnet20")],
)  # fmt: skip
def test_zh_lists_built_by_code_use_full_width_punctuation(page: str, arch: str, open_page) -> None:
    """Finding 8: the lists the pages build ("conv2_1 (layer1.0.downsample, 1×1 卷积 64→256，步距 1): …",
    "**layer2.0.conv1** (conv3_1)（3×3 卷积", "conv3_1 (layer2.0)、conv4_1 (layer3.0)") take their brackets,
    separators and colons from the catalogue."""
    at, text = open_page(page, "zh", arch)
    lines = [line for line in text.splitlines() if re.search(f"[{_CJK}]", line)]
    hits = [line for line in lines if _HALF_WIDTH.search(line)]
    assert not hits, hits[:5]


def test_zh_rule_total_brackets_bn() -> None:
    zh = STRINGS["zh"]
    for key in ("parameters.rule_total", "parameters.rule_total_zero_pad"):
        assert "BN（其 γ 和 β 计入参数量）" in zh[key] and "——" not in zh[key], key


STEM_KEYS = ("parameters.kind_stem", "parameters.group_stem", "parameters.reason_stem_conv", "parameters.rule_intro",
             "parameters.rule_total", "parameters.rule_total_zero_pad", "parameters.col_formula",
             "shapes.layers_formula", "shapes.layers_formula_zero_pad", "shapes.table_every_layer_help")  # fmt: skip


def test_zh_names_the_stem_one_way() -> None:
    """Finding 9: "stem（conv1 + bn1）", "默认只列出 stem", "开头的卷积", "第一层卷积", "第一个卷积（conv1）" were one
    thing under four names, English inside the sentences."""
    zh = STRINGS["zh"]
    variants = re.compile(r"(?<!（)\bstem\b|开头的卷积|第一层卷积|第一个卷积")
    for key in STEM_KEYS:
        assert "输入部分" in zh[key], key
    hits = {
        k: variants.findall(v) for k, v in zh.items() if k.split(".")[0] in SECTIONS and variants.search(v)
    }
    assert not hits, hits


def test_zh_one_name_for_the_layer_count() -> None:
    """Finding 10: the same metric was 名字所数的层数 on one page and 名字里的层数 on the other."""
    zh = STRINGS["zh"]
    assert zh["parameters.layer_count"] == zh["shapes.metric_layers"] == "名字里的层数"


def test_the_stride_claims_name_sources_that_say_them() -> None:
    """Finding 12: "fewer multiply-adds" rests on stride_variant_macs; "one position in four" and "every position"
    on what a strided conv reads (PyTorch's Conv2d)."""
    for key in ("common.stride_in_help", "parameters.v15_text"):
        assert "code resnet_viz.architecture.counting:stride_variant_macs" in CLAIMS[key], key
    assert any(s.startswith("PyTorch Conv2d") for s in CLAIMS["diagrams.v1_v15"])


def test_a_strided_1x1_conv_reads_one_position_in_four_and_a_strided_3x3_every_position() -> None:
    """What diagrams.v1_v15 says, checked on PyTorch itself: with stride 2, a 1×1 conv's output does not depend on
    3 positions in 4; a 3×3 conv with padding 1 depends on every position."""
    import torch

    torch.manual_seed(0)
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    for kernel, padding, read in ((1, 0, 16), (3, 1, 64)):
        conv = torch.nn.Conv2d(4, 4, kernel, stride=2, padding=padding, bias=False)
        (grad,) = torch.autograd.grad(conv(x).sum(), x)
        assert int((grad.abs().sum(dim=(0, 1)) > 0).sum()) == read, kernel


def test_projection_text_counts_parameters_with_bn(open_page) -> None:
    """Finding 13: "1×1×256×512 + 2×512 = 132,096 weights" called BN's γ and β weights."""
    at, _ = open_page("app_pages/parameters.py", "en", "resnet50")
    at.toggle(key="params_include_bn").set_value(True).run()
    text = _text(at)
    assert "1×1×256×512 + 2×512 = **132,096** parameters" in text
    assert "132,096** weights" not in text


def test_zh_bold_lead_ins_close_before_the_full_stop() -> None:
    """The lead-in "**实线（恒等映射）。** 输入…" needed a space after the bold (Markdown does not close ** between "。" and a
    Chinese character), which a zh sentence does not have: the full stop now follows the bold."""
    zh = STRINGS["zh"]
    for key in [k for k in zh if k.startswith("diagrams.explain_")]:
        assert zh[key].startswith("**") and "**。" in zh[key] and "。** " not in zh[key], key
