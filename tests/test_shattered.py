"""Shattered gradients (Balduzzi et al. 2017; resnet_viz.experiments.shattered): the autocorrelation on signals
whose autocorrelation is known, the per-input gradient against finite differences, the direction of the toy and of
the CIFAR nets at initialisation over 5 seeds, the predicates and the sentences they choose (both branches), the
CLI, and the Why residual section through AppTest."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from resnet_viz import cli
from resnet_viz.experiments import readings
from resnet_viz.experiments import shattered as sh
from resnet_viz.experiments import summaries as S
from resnet_viz.models.seeding import seeded_build

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SEEDS = (0, 1, 2, 3, 4)


# ------------------------------------------------------------------------------------------------ the statistic


def test_autocorrelation_of_white_noise_is_near_zero_and_of_a_random_walk_near_one() -> None:
    rng = np.random.default_rng(0)
    white = rng.standard_normal(4096)
    walk = np.cumsum(rng.standard_normal(4096))
    acf_white = sh.autocorrelation(white, 10)
    assert acf_white[0] == pytest.approx(1.0)
    assert np.all(np.abs(acf_white[1:]) < 4 / np.sqrt(4096))  # white noise: within a few 1/√n of 0
    assert sh.lag1(walk) > 0.95
    assert sh.autocorrelation(walk, 10)[10] > 0.8  # a random walk forgets slowly
    # the page's signal length: 256 samples
    assert abs(sh.lag1(rng.standard_normal(256))) < 0.25
    assert sh.lag1(np.cumsum(rng.standard_normal(256))) > 0.8


def test_autocorrelation_matches_the_formula_on_a_known_signal() -> None:
    # an alternating signal: centred it is ±1, so r(1) = −(n−1)/n and r(2) = (n−2)/n exactly
    n = 10
    g = np.array([1.0, -1.0] * (n // 2)) + 3.0
    acf = sh.autocorrelation(g, 2)
    assert acf[1] == pytest.approx(-(n - 1) / n)
    assert acf[2] == pytest.approx((n - 2) / n)


def test_autocorrelation_refuses_what_has_none() -> None:
    with pytest.raises(ValueError):
        sh.autocorrelation(np.full(16, 2.5))
    with pytest.raises(ValueError):
        sh.autocorrelation([1.0])
    with pytest.raises(ValueError):
        sh.autocorrelation([1.0, float("nan"), 2.0])


# ------------------------------------------------------------------------------------------------ the toy


def test_the_toy_gradient_is_each_inputs_own_derivative() -> None:
    """dy/dx by one backward pass equals the finite difference of the BN-calibrated network at each input."""
    # a shallow net and a tiny step: a shattered gradient has kinks closer together than a wide step
    run = sh.toy_gradients(6, residual=False, norm=True, seed=3, points=64)
    x = torch.linspace(*sh.TOY_RANGE, 64, dtype=torch.float64).unsqueeze(1)
    model = seeded_build(3, lambda: sh.ToyNet(6, residual=False, norm=True)).double()
    sh._calibrate_batchnorm(model, x)
    h = 1e-8
    with torch.no_grad():
        fd = ((model(x + h) - model(x - h)) / (2 * h)).squeeze(1).numpy()
    np.testing.assert_allclose(run.grad, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_the_toy_regenerates_from_its_seed() -> None:
    a = sh.toy_gradients(24, residual=True, seed=7, points=64)
    b = sh.toy_gradients(24, residual=True, seed=7, points=64)
    c = sh.toy_gradients(24, residual=True, seed=8, points=64)
    assert a == b
    assert a.grad != c.grad


def test_toy_at_depth_50_with_normalisation_residual_is_more_correlated_over_5_seeds() -> None:
    plain = S.lag1_spread([sh.toy_gradients(50, residual=False, seed=s).lag1 for s in SEEDS])
    res = S.lag1_spread([sh.toy_gradients(50, residual=True, seed=s).lag1 for s in SEEDS])
    assert S.correlation_order(plain, res) == "residual", (plain, res)
    assert S.closer_to_white(plain, res) == "plain"


# ------------------------------------------------------------------------------------------------ the CIFAR nets


def test_cifar_nets_at_init_residual_is_more_correlated_along_a_path_over_5_seeds() -> None:
    """plain-56 vs ResNet-56 at initialisation along the default path (128 steps of α to keep it cheap)."""
    a, b = sh.sample_pair()
    sweep = sh.path_sweep(a, b, nets=("plain56", "resnet56"), seeds=SEEDS, steps=128)
    plain = S.lag1_spread([r.lag1 for r in sweep.of("plain56")])
    res = S.lag1_spread([r.lag1 for r in sweep.of("resnet56")])
    assert S.correlation_order(plain, res) == "residual", (plain, res)
    assert all(r.bn == "calibrated" and not r.trained for r in sweep.runs)


def test_the_shipped_lesson_record_has_the_settings_and_the_direction(monkeypatch) -> None:
    """``assets/curves/shattered_init.json`` is what the lesson reads, without measuring (``init_path_lag1`` is made
    to fail): written with today's settings and command, and ResNet-56's lag-1 above plain-56's beyond the seed
    spread (the direction the paper reports; its numbers are recomputed in the slow test below)."""
    from resnet_viz import paths
    from resnet_viz.experiments import shipped

    record = shipped.shattered_init()
    assert record is not None, paths.SHATTERED_INIT_FILE
    assert (record["command"], record["depth"], record["steps"], record["width"], record["seeds"]) == (
        sh.RECORD_COMMAND,
        56,
        sh.PATH_STEPS,
        sh.PATH_WIDTH,
        list(SEEDS),
    )
    monkeypatch.setattr(sh, "init_path_lag1", lambda *a, **k: pytest.fail("measured live"))
    lags = sh.recorded_init_lag1(56, SEEDS)
    assert lags == {net: tuple(v) for net, v in record["lag1"].items()}
    plain, res = S.lag1_spread(lags["plain56"]), S.lag1_spread(lags["resnet56"])
    assert S.correlation_order(plain, res) == "residual" and S.closer_to_white(plain, res) == "plain"


def test_a_record_with_other_settings_is_measured_live(monkeypatch) -> None:
    """A shipped file written with another width (or none at all) is not read: the lesson measures instead."""
    from resnet_viz.experiments import shipped

    live = {"plain56": (0.5,), "resnet56": (0.6,)}
    monkeypatch.setattr(sh, "init_path_lag1", lambda depth, seeds: live)
    other = dict(shipped.shattered_init(), width=sh.PATH_WIDTH + 1)
    monkeypatch.setattr(shipped, "shattered_init", lambda: other)
    assert sh.recorded_init_lag1(56, SEEDS) is live
    monkeypatch.setattr(shipped, "shattered_init", lambda: None)
    assert sh.recorded_init_lag1(56, SEEDS) is live


@pytest.mark.slow  # ten 56-layer nets along a 256-image path: ~5–20 s of CPU
@pytest.mark.recorded_floats
def test_the_shipped_lesson_record_comes_out_of_the_measurement() -> None:
    """The shipped lag-1 values, recomputed (``python scripts/make_shattered.py`` writes them). Each gradient is
    float32 through 56 layers. Measured against the record (AVX-512 kernels) under SSE4 kernels (ATen default,
    oneDNN SSE41, MKL SSE4_2), AVX2 and AVX-512, with 1 and 2 threads: ResNet-56 moves by at most 4.5e-4, plain-56,
    whose gradient at initialisation is near white noise (chaotic), by up to 9.9e-3 under SSE4. The tolerances
    are about 3–4× those: 2e-3 and 3e-2; the plain net's direction against the residual one (−0.12 … +0.12 against
    +0.72 … +0.99) is far outside either."""
    from resnet_viz.experiments import shipped

    record = shipped.shattered_init()
    sh.init_path_runs.cache_clear()
    got = sh.init_path_lag1(record["depth"], tuple(record["seeds"]))
    for net, values in record["lag1"].items():
        atol = 3e-2 if net.startswith("plain") else 2e-3
        np.testing.assert_allclose(got[net], values, rtol=0, atol=atol, err_msg=net)


def test_the_path_derivative_is_the_chain_rule() -> None:
    """d(logit)/dα from autograd equals the finite difference of the logit along α (a narrow net, few steps)."""
    a, b = sh.sample_pair()
    run = sh.path_gradients("resnet20", a, b, seed=1, steps=16)
    model = sh.cifar_path_net("resnet20", seed=1)
    alpha, images = sh.path_images(a, b, 16)
    sh._calibrate_batchnorm(model, images)
    # in float64 with a tiny step, so that the difference crosses no ReLU kink and rounds little
    model, a, b, alpha = model.double(), a.double(), b.double(), alpha.double()
    h = 1e-7
    with torch.no_grad():
        up = model((1 - (alpha + h)).view(-1, 1, 1, 1) * a + (alpha + h).view(-1, 1, 1, 1) * b)
        down = model((1 - (alpha - h)).view(-1, 1, 1, 1) * a + (alpha - h).view(-1, 1, 1, 1) * b)
    fd = ((up - down)[:, run.logit_class] / (2 * h)).numpy()
    np.testing.assert_allclose(run.grad, fd, rtol=1e-3, atol=1e-3 * np.abs(fd).max())


def test_two_images_of_different_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        sh.path_images(torch.zeros(3, 32, 32), torch.zeros(3, 16, 16))


# ------------------------------------------------------------------------------------------------ predicates


def _s(*values: float) -> S.Lag1Spread:
    return S.lag1_spread(values)


def test_predicates_on_both_sides_of_their_thresholds() -> None:
    assert S.correlation_order(_s(0.0, 0.1), _s(0.5, 0.7)) == "residual"
    assert S.correlation_order(_s(0.5, 0.7), _s(0.0, 0.1)) == "plain"
    assert S.correlation_order(_s(0.0, 0.6), _s(0.5, 0.7)) == "overlap"
    assert S.noise_colour(_s(S.WHITE_LAG1)) == "white"
    assert S.noise_colour(_s(-S.WHITE_LAG1 - 0.01)) == "between"
    assert S.noise_colour(_s(S.BROWN_LAG1)) == "brown"
    assert S.noise_colour(_s(S.BROWN_LAG1 - 0.01)) == "between"
    assert S.closer_to_white(_s(-0.3), _s(0.2)) == "residual"
    assert S.closer_to_white(_s(0.1), _s(0.2)) == "plain"
    assert S.normalisation_shatters(_s(0.0, 0.1), _s(0.5, 0.9))
    assert not S.normalisation_shatters(_s(0.0, 0.1), _s(0.05, 0.9))  # ranges meet
    assert not S.normalisation_shatters(_s(0.5, 0.6), _s(0.8, 0.9))  # not white with BN


def _sweep(plain: list[float], res: list[float], depth: int = 50) -> SimpleNamespace:
    runs = [SimpleNamespace(depth=depth, residual=False, lag1=v) for v in plain]
    runs += [SimpleNamespace(depth=depth, residual=True, lag1=v) for v in res]
    return SimpleNamespace(
        depths=(depth,), of=lambda d, r: [x for x in runs if x.depth == d and x.residual == r]
    )


@pytest.mark.parametrize(
    ("plain", "res", "key"),
    [
        ([0.0, 0.1], [0.6, 0.7], "shattered.toy_reading_residual"),
        ([0.6, 0.7], [0.0, 0.1], "shattered.toy_reading_plain"),
        ([0.0, 0.65], [0.6, 0.7], "shattered.toy_reading_overlap"),
    ],
)
def test_the_toy_reading_follows_the_measurement(plain, res, key) -> None:
    assert readings.toy_reading(_sweep(plain, res)).key == key


def test_the_norm_reading_follows_the_measurement() -> None:
    on, off_smooth, off_white = (
        _sweep([0.0, 0.1], [0.6]),
        _sweep([0.8, 0.9], [0.9]),
        _sweep([0.0, 0.1], [0.6]),
    )
    shatters, not_alone = readings.toy_norm_reading(on, off_smooth), readings.toy_norm_reading(on, off_white)
    assert shatters.key == "shattered.norm_shatters"
    assert not_alone.key == "shattered.norm_not_alone"
    # the replication sentence ("one possible reason why a replication can fail") follows only the branch where
    # normalisation is what shatters the gradient: after "normalisation alone does not decide it" it would not
    assert [s.key for s in shatters.then] == ["shattered.norm_replication"]
    assert not_alone.then == ()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_norm_shatters_claims_no_more_than_its_predicate(lang: str) -> None:
    """normalisation_shatters holds with a no-BN plain net that is only partly correlated (mean +0.45, not
    random-walk-like): the sentence must then say "more correlated" with its colour, not "much smoother"."""
    from resnet_viz.i18n import say, translator

    t = translator(lang)
    on, off = _sweep([0.0, 0.1], [0.6]), _sweep([0.4, 0.5], [0.9])
    sentence = readings.toy_norm_reading(on, off)
    assert sentence.key == "shattered.norm_shatters"
    assert sentence.args["off_colour"].key == "shattered.colour_between"
    text = say(t, sentence, lang)
    assert t("shattered.colour_between") in text
    assert "smoother" not in text and "平滑得多" not in text


# ------------------------------------------------------------------------------------------------ the text


def _section_sentences(lang: str) -> dict[str, str]:
    """Every key of the section (and the lesson's shattered step) rendered with values of the kind the page gives
    it: the readings through ``say`` on every branch, the rest with plausible formatted values."""
    import string

    from resnet_viz.i18n import catalogue, say, translator

    t = translator(lang)
    spread = say(t, readings.lag1_text(S.lag1_spread([-0.37, 0.07, -0.07])), lang)
    values = {"plain": spread, "res": spread, "on": spread, "off": spread, "device": "cpu", "seconds": "12"}
    values |= {k: t("shattered.colour_between") for k in ("plain_colour", "res_colour", "off_colour")}
    values |= {"depths": "1、24、50" if lang == "zh" else "1, 24, 50", "seed_list": "0, 1, 2, 3, 4"}
    values |= {"why": t("nav.why_residual")}
    out: dict[str, str] = {}
    for key, template in catalogue(lang).items():
        if key.startswith(("shattered.", "lesson.shattered_")):
            names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
            out[key] = t(key, **{n: values.get(n, "−0.07") for n in names})
    readings_ = {
        "toy_reading_" + o: readings.toy_reading(_sweep(p, r))
        for o, (p, r) in {
            "residual": ([0.0], [0.7]),
            "plain": ([0.7], [0.0]),
            "overlap": ([0.0, 0.7], [0.5]),
        }.items()
    }
    on = _sweep([0.0, 0.1], [0.6])
    readings_["norm_shatters"] = readings.toy_norm_reading(on, _sweep([0.8, 0.9], [0.9]))
    readings_["norm_not_alone"] = readings.toy_norm_reading(on, on)
    readings_["link_missing"] = readings.degradation_link(None)
    for name, sentence in readings_.items():
        out[f"reading {name}"] = say(t, sentence, lang)
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_bold_in_the_section_closes_under_commonmark(lang: str) -> None:
    """zh wrote "**深度 50 的测量结果：**普通网络": a closing ** after full-width punctuation and before a letter
    is not right-flanking in CommonMark, so Streamlit showed all four asterisks. Every key of the section, rendered,
    must leave none."""
    from commonmark_emphasis import literal_asterisks

    from resnet_viz.i18n import catalogue

    rendered = _section_sentences(lang)
    assert {k for k in catalogue(lang) if k.startswith("shattered.")} <= set(rendered)  # every key is checked
    bad = {k: v for k, v in rendered.items() if literal_asterisks(v)}
    assert not bad, bad


def test_the_commonmark_check_sees_the_bug_it_guards_against() -> None:
    from commonmark_emphasis import literal_asterisks

    assert literal_asterisks("**深度 50 的测量结果：**普通网络") == 4
    assert literal_asterisks("**深度 50 的测量结果**：普通网络") == 0
    assert literal_asterisks("**ResNet-20（CIFAR）**中") == 4  # the case _format_zh keeps a space for
    assert literal_asterisks("*white* and **brown**, `a**b`") == 0


def test_zh_compares_the_seeds_r1_not_the_seeds() -> None:
    """ "每个残差网络的随机种子都高于每个普通网络的随机种子" reads as if the seed numbers were compared: every zh
    sentence that compares seeds says whose r(1) it compares."""
    from resnet_viz.i18n import catalogue

    texts = [v for k, v in catalogue("zh").items() if k.startswith(("shattered.", "lesson.shattered_"))]
    comparing = [x for x in texts if "高于" in x and "随机种子" in x]
    assert len(comparing) >= 5  # toy, path and lesson workings, norm_shatters
    for text in comparing:
        assert "随机种子都高于" not in text, text
        assert "随机种子的 r(1) 都高于" in text, text


def test_the_path_and_trained_readings_follow_the_measurement() -> None:
    def run(net: str, lag: float, trained: bool = False) -> SimpleNamespace:
        return SimpleNamespace(net=net, lag1=lag, trained=trained, plain=net.startswith("plain"), width=4)

    sweep = SimpleNamespace(
        of=lambda n: {
            "plain56": [run("plain56", 0.0), run("plain56", 0.1)],
            "resnet56": [run("resnet56", 0.8)],
        }.get(n, [])
    )
    assert readings.path_reading(sweep, 56).key == "shattered.path_reading_residual"
    assert readings.path_reading(sweep, 20) is None
    trained = readings.trained_reading([run("plain56", 0.9, True), run("resnet56", 0.95, True)])
    assert trained.key == "shattered.trained_reading"
    assert trained.args["plain_colour"].key == "shattered.colour_brown"
    assert readings.trained_reading([run("plain56", 0.9, True)]) is None


def test_the_degradation_link_follows_the_shipped_curves() -> None:
    def data(deep_final: float) -> dict:
        runs = [
            {
                "label": "plain-20",
                "depth": 20,
                "plain": True,
                "train_error": [0.5, 0.2],
                "test_error": [0.5, 0.2],
            },
            {
                "label": "plain-56",
                "depth": 56,
                "plain": True,
                "train_error": [0.6, deep_final],
                "test_error": [0.6, deep_final],
            },
        ]
        return {"runs": runs}

    assert readings.degradation_link(data(0.4)).key == "shattered.link_degrades"
    assert readings.degradation_link(data(0.1)).key == "shattered.link_not"
    assert readings.degradation_link(None).key == "shattered.link_missing"


# ------------------------------------------------------------------------------------------------ the CLI


def test_cli_mlp_prints_json_with_both_networks(capsys) -> None:
    assert cli.main(["shattered", "--net", "mlp", "--depth", "24", "--seeds", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["net"] for r in rows] == ["mlp-plain", "mlp-residual"]
    assert all(len(r["lag1"]) == 2 and r["depth"] == 24 for r in rows)
    # the printed numbers are the core's
    assert rows[1]["lag1"][0] == pytest.approx(sh.toy_gradients(24, residual=True, seed=0).lag1)


def test_cli_table(capsys) -> None:
    assert cli.main(["shattered", "--net", "mlp", "--depth", "2", "--seeds", "1", "--no-norm"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["net", "depth", "weights"]
    assert {line.split()[0] for line in out[2:]} == {"mlp-plain", "mlp-residual"}


@pytest.mark.parametrize(
    "argv",
    [
        ["shattered", "--net", "resnet57"],
        ["shattered", "--net", "mlp", "--seeds", "0"],
        ["shattered", "--net", "mlp", "--seeds", "many"],
        ["shattered", "--net", "mlp", "--depth", "0"],
        ["shattered", "--net", "plain56", "--depth", "20"],
        ["shattered", "--net", "resnet20", "--no-norm"],
        ["shattered"],
    ],
)
def test_cli_bad_arguments_are_one_line_and_exit_2(argv, capsys) -> None:
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err


# ------------------------------------------------------------------------------------------------ the page


PAGE = "app_pages/why_residual.py"


def _page_text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.info]
    parts += [x.value for x in at.header] + [x.value for x in at.subheader]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_section_shows_the_toy_and_its_reading(lang: str, app_test) -> None:
    from apptest_helpers import assert_translated

    from resnet_viz.i18n import say, translator

    at = app_test(state={"rv_lang": lang, "rv_arch": "resnet20"})
    at.run()
    at.switch_page(PAGE).run()
    assert_translated(at, f"shattered {lang}")
    t = translator(lang)
    text = _page_text(at)
    assert t("shattered.header") in text
    on, off = sh.toy_sweep(norm=True), sh.toy_sweep(norm=False)  # recomputed here: the page's are cached
    assert say(t, readings.toy_reading(on), lang) in text
    assert say(t, readings.toy_norm_reading(on, off), lang) in text
    titles = [
        json.loads(el.proto.spec)["layout"].get("title", {}).get("text") for el in at.get("plotly_chart")
    ]
    assert t("shattered.lag1_title_norm") in titles
    at.toggle(key="rvw_sh_norm").set_value(False).run()
    assert_translated(at, f"shattered {lang} without BN")
    titles = [
        json.loads(el.proto.spec)["layout"].get("title", {}).get("text") for el in at.get("plotly_chart")
    ]
    assert t("shattered.lag1_title_nonorm") in titles
    assert say(t, readings.toy_reading(off), lang) in _page_text(at)


@pytest.mark.slow  # ten 20- and 56-layer nets and two trained ones along a 256-image path: ~10–40 s
def test_the_path_button_measures_the_cifar_nets(app_test) -> None:
    from apptest_helpers import assert_translated

    from resnet_viz.i18n import say, translator

    at = app_test(state={"rv_lang": "en", "rv_arch": "resnet20"}, timeout=600)
    at.run()
    at.switch_page(PAGE).run()
    at.selectbox(key="rvw_sh_photo").set_value("generated").run()
    at.button(key="rvw_sh_path_run").click().run()
    assert_translated(at, "shattered path")
    t = translator("en")
    a, b = sh.sample_pair()
    sweep = sh.path_sweep(a, b, nets=sh.CIFAR_NETS)
    text = _page_text(at)
    assert say(t, readings.path_reading(sweep, 56), "en") in text
    assert say(t, readings.path_reading(sweep, 20), "en") in text


def test_the_imagenet_path_reports_progress_and_calibrates_bn() -> None:
    """The ImageNet pair's path (small images and few steps to keep it cheap): every chunk reported, one value per α."""
    a, b = torch.randn(3, 64, 64), torch.randn(3, 64, 64)
    calls: list[tuple[int, int]] = []
    for net in ("plain18", "resnet18"):
        calls.clear()
        run = sh.imagenet_path_gradients(
            net, a, b, steps=8, chunk=4, progress=lambda d, n: calls.append((d, n))
        )
        assert calls == [(4, 8), (8, 8)]
        assert len(run.grad) == 8 and run.bn == "calibrated" and run.net == net and not run.trained
        assert np.all(np.isfinite(run.grad))
