"""The experiment registry, the runner, and each figure's claim at the quick horizon.

The paper's ten figures run once in quick mode (module fixture, two threads); each test then
asserts the part of the paper's claim that is already visible at that horizon. The
experiments beyond the paper run at shorter horizons. The full-mode values are in
docs/gallery.md.
"""

import io
import os

import numpy as np
import pytest

import fastbias as fb
from fastbias import experiments as ex

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
needs_jit = pytest.mark.skipif(JIT_DISABLED, reason="quick horizons are 1e5-1e6 epochs")

ADAM_B1 = ["Inc-Adam b=1 (cyclic)", "Adam b=1 (reshuffle)", "Adam b=1 (replacement)"]
DET = "Det-Adam (full batch)"


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def test_registry_holds_the_paper_figures_in_order_then_the_others():
    assert ex.figure_names() == [
        *(f"fig{i}" for i in range(1, 11)),
        "eps",
        "adamw",
        "mc-adam",
        "mc-muon",
        "mc-per-sample",
        "nsd-lp",
        "nsd-batch",
        "mirror",
        "schatten",
        "rates",
        "diag-net",
    ]
    assert list(ex.PAPER_FIGURES) == ex.figure_names()[:10]
    for spec in ex.FIGURES.values():
        assert spec.panels and spec.checks and spec.claim and spec.notes
        assert 1 <= spec.quick_epochs <= spec.epochs
        # long horizons in full mode; runs on the -log L axis grow geometrically in epochs
        # and stop before the scores leave the float64 range
        assert spec.epochs >= 10**6 or spec.x == "neg_log_loss"


@pytest.mark.parametrize("name", ex.figure_names())
def test_every_check_refers_to_a_series_of_its_figure(name):
    spec = ex.FIGURES[name]
    series = {(c.label, p.reference, p.metric) for p in spec.panels for c in p.curves}
    labels = [c.label for c in spec.curves]
    assert len(labels) == len(set(labels))
    for check in spec.checks:
        assert check.left in series
        assert check.right in series or isinstance(check.right, float)


def test_registry_settings_follow_the_paper_defaults():
    curves = {c.label: c for c in ex.FIGURES["fig1"].curves}
    assert curves[DET].optimizer == fb.DetAdam(beta1=0.9, beta2=0.999)
    assert curves["Inc-Adam b=1 (cyclic)"].optimizer == fb.IncAdam(0.9, 0.999, 1, "cyclic")
    assert {c.optimizer.beta for c in ex.FIGURES["fig5"].curves} == {0.99}
    for name in ex.PAPER_FIGURES:
        for curve in ex.FIGURES[name].curves:
            assert curve.lr == fb.PolynomialDecay(0.1, 0.5) and curve.loss == "exp"
    for name in ("mc-adam", "mc-muon", "mc-per-sample"):
        assert {c.loss for c in ex.FIGURES[name].curves} == {"ce"}
    assert ex.FIGURES["fig2"].curves[0].data.kind == "gr"
    assert ex.FIGURES["fig4"].curves[0].data.kind == "shifted_diagonal"


def test_data_spec_builds_the_generator_data():
    spec = ex.DataSpec.of("gaussian", n=4, d=6, seed=2)
    assert spec.make() == fb.datasets.gaussian(n=4, d=6, seed=2)
    assert spec.describe() == "Gaussian n=4, d=6, seed=2"
    with pytest.raises(ValueError, match="data generator must be one of .* got 'moons'"):
        ex.DataSpec.of("moons")


def test_invalid_specs_are_rejected():
    data = ex.DataSpec.of("gaussian", n=4, d=6)
    with pytest.raises(ValueError, match="needs a max-margin reference; got 'fixed_point'"):
        ex.Panel("fixed_point", "margin_ratio", ())
    with pytest.raises(ValueError, match="reference must be one of .* got 'l7'"):
        ex.Panel("l7", "cosine", ())
    with pytest.raises(ValueError, match="reference 'max' is for multiclass data"):
        ex.Panel("max", "cosine", (ex.Curve("x", data, fb.IncAdam()),))
    with pytest.raises(ValueError, match="loss must be one of .* got 'hinge'"):
        ex.Curve("x", data, fb.IncAdam(), loss="hinge")
    with pytest.raises(ValueError, match=r"op must be one of .* got '=='"):
        ex.Check("x", ("a", "l2", "cosine"), "==", 1.0)
    with pytest.raises(ValueError, match="figure must be one of .* got 'fig11'"):
        ex.get_figure("fig11")
    with pytest.raises(ValueError, match="jobs must be an integer >= 1; got 0"):
        next(ex.run_figures(["fig1"], jobs=0))
    with pytest.raises(ValueError, match="epochs must be an integer >= 1; got 0"):
        next(ex.run_figures(["fig1"], epochs=0))


# --------------------------------------------------------------------------------------------
# Runner (short horizons)
# --------------------------------------------------------------------------------------------

SHORT = 400


@pytest.fixture(scope="module")
def short_serial():
    return {r.name: r for r in ex.run_figures(["fig2", "fig9"], epochs=SHORT, record=25)}


def test_parallel_runs_equal_serial_runs(short_serial):
    parallel = {
        r.name: r for r in ex.run_figures(["fig2", "fig9"], epochs=SHORT, record=25, jobs=2)
    }
    for name, serial in short_serial.items():
        assert len(parallel[name].series) == len(serial.series)
        for a, b in zip(serial.series, parallel[name].series, strict=True):
            assert (a.curve, a.reference, a.metric) == (b.curve, b.reference, b.metric)
            np.testing.assert_array_equal(a.epochs, b.epochs)
            assert a.values.tobytes() == b.values.tobytes()


def test_series_match_direct_simulation(short_serial):
    from fastbias.geometry import max_margin

    result = short_serial["fig2"]
    data = fb.datasets.generalized_rademacher(n=10, d=50, seed=0)
    tr = fb.simulate(data, fb.IncAdam(), epochs=SHORT, record=25)
    l2 = max_margin(data, p=2)
    expected = tr.cosine(l2.w)
    (series,) = [
        s for s in result.series if (s.curve, s.reference) == ("Inc-Adam b=1 (cyclic)", "l2")
    ]
    np.testing.assert_array_equal(series.epochs, tr.epochs)
    np.testing.assert_array_equal(series.values, expected)
    assert result.epochs == SHORT and series.epochs[-1] == SHORT


def test_shared_runs_are_simulated_once():
    fig1, fig3 = ex.run_figures(["fig1", "fig3"], epochs=50, record=5)
    label = "Inc-Adam b=1 (cyclic)"
    assert fig3.trajectories[label] is fig1.trajectories[label]
    assert fig3.run_seconds[label] == 0.0 and fig1.run_seconds[label] > 0.0
    assert fig3.run_seconds["AdamProxy"] > 0.0


def test_rows_are_tidy(short_serial):
    result = short_serial["fig9"]
    rows = result.rows()
    assert len(rows) == sum(len(s.epochs) for s in result.series)
    assert {r[0] for r in rows} == {"fig9"}
    assert {(r[2], r[3]) for r in rows} == {("l2", "cosine"), ("linf", "cosine")}
    for *_, epoch, neg_log_loss, value in rows:
        assert isinstance(epoch, int) and 1 <= epoch <= SHORT
        assert isinstance(value, float) and np.isfinite(value)
        assert isinstance(neg_log_loss, float) and np.isfinite(neg_log_loss)
    keys = [(r[1], r[2], r[3], r[4]) for r in rows]
    assert len(keys) == len(set(keys))  # one value per (curve, reference, metric, epoch)


def test_summary_states_claim_values_and_checks(short_serial):
    result = short_serial["fig2"]
    text = result.summary()
    assert text.startswith("fig2: ")
    assert "paper's claim: " in text and "Theorem 3.3" in text
    assert "settings that are ours: " in text
    assert f"horizon: {SHORT:,} epochs (full mode)" in text
    final = result.final("Inc-Adam b=1 (cyclic)", "l2", "cosine")
    assert f"{final:.4f}" in text
    assert text.count("[visible    ]") + text.count("[NOT visible]") == len(result.spec.checks)
    assert "gamma* = 3.05731" in text  # l_2 max-margin of the GR data


def test_plot_has_one_log_axis_per_panel(short_serial):
    from fastbias.plotting import plot_figure

    result = short_serial["fig2"]
    fig = plot_figure(result)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(result.spec.panels)
    for ax, panel in zip(axes, result.spec.panels, strict=True):
        assert ax.get_xscale() == "log"
        assert ax.get_title() == panel.title
        assert len(ax.get_lines()) == len(panel.curves) + 1  # curves and the y = 1 guide
    (legend,) = fig.legends  # same curves in every panel: one shared legend
    assert [t.get_text() for t in legend.get_texts()] == [c.label for c in result.spec.curves]
    assert fig.get_suptitle().startswith("fig2: GR data")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# Each figure's claim at the quick horizon
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick():
    return {r.name: r for r in ex.run_figures(ex.PAPER_FIGURES, quick=True, jobs=2)}


def final(result, curve, reference, metric="cosine"):
    return result.final(curve, reference, metric)


@needs_jit
def test_fig1_full_batch_goes_to_linf_and_batch_one_does_not(quick):
    r = quick["fig1"]
    assert final(r, DET, "linf") > 0.99 > final(r, DET, "l2")
    for label in ADAM_B1:
        assert final(r, label, "l2") > final(r, label, "linf") + 0.1


@needs_jit
def test_fig2_batch_one_goes_to_l2_on_gr_data(quick):
    r = quick["fig2"]
    assert final(r, DET, "linf") > final(r, DET, "l2")
    for label in ADAM_B1:
        assert final(r, label, "l2") > 0.9999
        assert final(r, label, "linf") < 0.9  # the l_inf direction is far (cos 0.818)


@needs_jit
def test_fig3_proxy_and_batch_one_go_to_the_fixed_point(quick):
    r = quick["fig3"]
    refs = {name: ref for (_, name), ref in r.references.items()}
    fp = refs["fixed_point"]
    assert fp.info["converged"] and fp.info["iterations"] <= 20  # as the paper reports
    for other in ("l2", "linf"):  # the predicted direction is neither max-margin direction
        assert abs(fp.w @ refs[other].w) / np.linalg.norm(refs[other].w) < 0.98
    for label in ["AdamProxy", *ADAM_B1]:
        assert final(r, label, "fixed_point") > 0.999
        assert final(r, label, "l2") < 0.98 and final(r, label, "linf") < 0.9


@needs_jit
def test_fig4_shifted_diagonal_heads_to_linf(quick):
    r = quick["fig4"]
    ratio = {s.curve: s for s in r.series if (s.reference, s.metric) == ("linf", "margin_ratio")}
    for label in ["AdamProxy", *ADAM_B1]:
        assert final(r, label, "linf") > 0.995
        assert final(r, label, "linf", "margin_ratio") > final(r, label, "l2", "margin_ratio")
        s = ratio[label]
        decade = s.values[s.epochs >= s.epochs[-1] // 10]
        assert np.all(np.diff(decade) > 0)  # still rising over the last decade
    assert final(r, "AdamProxy", "linf", "margin_ratio") > 0.96


@needs_jit
def test_fig5_signum_keeps_linf_for_every_batch_size(quick):
    r = quick["fig5"]
    for b in (1, 2, 5, 10):
        label = f"Inc-Signum b={b}"
        assert final(r, label, "linf") > 0.95
        assert final(r, label, "linf") > final(r, label, "l2") + 0.05
    assert final(r, "Inc-Signum b=1", "linf") > 0.99


@needs_jit
def test_fig6_larger_batches_are_closer_to_linf(quick):
    r = quick["fig6"]
    cos = {b: final(r, f"Inc-Adam b={b}", "linf") for b in (1, 2, 5, 10)}
    assert cos[10] > cos[5] > max(cos[1], cos[2])


@needs_jit
def test_fig7_b1_does_not_change_the_limit(quick):
    r = quick["fig7"]
    values = [final(r, f"b1={b1}", "fixed_point") for b1 in (0.0, 0.5, 0.9, 0.99)]
    assert min(values) > 0.995


@needs_jit
def test_fig8_low_b2_leaves_the_fixed_point(quick):
    r = quick["fig8"]
    cos = {b2: final(r, f"b2={b2}", "fixed_point") for b2 in (0.3, 0.5, 0.7, 0.9, 0.99, 0.999)}
    assert min(cos[0.9], cos[0.99], cos[0.999]) > 0.998
    assert max(cos[0.3], cos[0.5]) < 0.98
    assert cos[0.3] < cos[0.5] < cos[0.7] < cos[0.9]


@needs_jit
def test_fig9_gr_goes_to_l2_for_every_momentum_pair(quick):
    r = quick["fig9"]
    for curve in r.spec.curves:
        assert final(r, curve.label, "l2") > 0.9999


@needs_jit
def test_fig10_smaller_batches_need_momentum_closer_to_one(quick):
    r = quick["fig10"]

    def cos(b, beta):
        return final(r, f"b={b}, beta={beta}", "linf")

    assert min(cos(10, beta) for beta in (0.0, 0.5, 0.9)) > 0.999  # full batch: any beta
    assert cos(5, 0.9) > 0.99 and cos(5, 0.5) < 0.95
    assert cos(1, 0.99) > 0.99 and max(cos(1, beta) for beta in (0.0, 0.5, 0.9)) < 0.95
    # beta = 0 is sign descent on each batch: it keeps moving (no step is skipped)
    for b in (1, 2):
        tr = r.trajectories[f"b={b}, beta=0.0"]
        assert np.all(np.diff(np.linalg.norm(tr.w, axis=1)) > 0)


@needs_jit
def test_quick_checks_in_summaries_match_the_values(quick):
    for result in quick.values():
        for check, left, right, passed in result.check_results():
            assert (
                passed
                == {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[
                    check.op
                ]
            )


@pytest.fixture(scope="module")
def beyond():
    out = {r.name: r for r in ex.run_figures(["eps", "adamw"], quick=True, jobs=2)}
    names = ["mc-adam", "mc-muon", "mc-per-sample"]
    return out | {r.name: r for r in ex.run_figures(names, epochs=20_000, jobs=2)}


@needs_jit
def test_adam_with_eps_leaves_adams_limit(beyond):
    r = beyond["eps"]
    # eps = 1e-4 is GD-like once margins pass log(1e4) ~ 9: its margins grow like log t
    # (about 14 at 1e5 epochs) where Adam's grow like sqrt(t) (about 55), and it stays
    # farther from l_inf
    margin = {eps: r.trajectories[f"Det-Adam eps={eps:g}"].min_margin[-1] for eps in (0, 1e-4)}
    assert margin[1e-4] < 20 < 40 < margin[0]
    assert final(r, "Det-Adam eps=0.0001", "linf") < final(r, "Det-Adam eps=0", "linf") - 0.02
    # eps = 1e-8 changes nothing while |g| >> 1e-8, then stops Inc-Adam near margin 18
    a, b = r.trajectories["Inc-Adam eps=0"], r.trajectories["Inc-Adam eps=1e-08"]
    early = a.epochs == 100
    np.testing.assert_allclose(b.w[early], a.w[early], rtol=1e-4)
    assert b.min_margin[-1] < 25 < 300 < a.min_margin[-1]


@needs_jit
def test_adamw_stays_in_its_box_and_grows_towards_it(beyond):
    r = beyond["adamw"]
    for wd in (1e-3, 1e-2):
        (s,) = [s for s in r.series if s.curve == f"AdamW wd={wd:g}" and s.metric == "decay_norm"]
        assert np.all(s.values <= 1.0 + 1e-9)
        assert s.values[-1] > 1.5 * s.values[s.epochs == 1000][0]


@needs_jit
def test_multiclass_limits_at_a_short_horizon(beyond):
    r = beyond["mc-adam"]
    for k in (3, 5):
        assert final(r, f"SignGD k={k}", "max", "margin_ratio") > 0.98
        assert final(r, f"NGD k={k}", "fro", "margin_ratio") > final(
            r, f"NGD k={k}", "max", "margin_ratio"
        )
    m = beyond["mc-muon"]
    for k in (3, 5):
        for label in (f"spectral descent k={k}", f"Muon k={k}"):
            assert final(m, label, "spectral", "margin_ratio") > 0.97
            assert final(m, label, "spectral", "margin_ratio") > final(
                m, label, "fro", "margin_ratio"
            )
    p = beyond["mc-per-sample"]
    assert p.trajectories["Muon b=1"].w.shape[1:] == (3, 50)


def test_progress_bar_goes_to_stderr_only_when_asked(capsys):
    next(ex.run_figures(["fig9"], epochs=30, record=4))
    assert capsys.readouterr().err == ""
    next(ex.run_figures(["fig9"], epochs=30, record=4, progress=True))
    err = capsys.readouterr().err
    assert "simulating" in err and "/5 " in err


@needs_jit
def test_diag_net_crossover_moves_like_the_square_of_the_init_scale():
    """The crossover (cos with l_1* first above cos with l_2*) on the -log L axis, and the
    series against -log L equal to a direct run's (the figure records epochs evenly)."""
    r = ex.run_figure("diag-net", quick=True)
    crossing = {c.curve: x for c, x in r.crossing_results()}
    x = [crossing[f"D=2, init {a:g}"] for a in (0.1, 1, 10)]
    assert all(v is not None for v in x)
    assert 30 < x[1] / x[0] < 300 and 30 < x[2] / x[1] < 300  # init x 10: about x 100
    assert crossing["D=2, init 0.01"] < 2.0  # small inits turn at once
    large = r.trajectories["D=2, init 10"]
    assert large.theta.shape[1:] == (2, 50)
    s = r.series_of("D=2, init 10", "l2", "cosine")
    np.testing.assert_array_equal(s.neg_log_loss, -large.log_loss)
    early = (s.neg_log_loss > 150.0) & (s.neg_log_loss < 1500.0)
    assert early.any() and s.values[early].min() > 0.99  # the kernel regime: near l_2*
    direct = fb.simulate(
        fb.datasets.gaussian(n=10, d=50, seed=0),
        fb.LossNormalizedGD(),
        lr=fb.Constant(0.002),
        epochs=r.epochs,
        model=fb.DiagonalNet(init_scale=10.0),
        record=[r.epochs],
    )
    assert direct.w[-1].tobytes() == large.w[-1].tobytes()
    assert "crossings" in r.summary() and "-log L" in r.summary()
    # depth 3: past the l_1 solution in its own l_{2/3} geometry (margin ratio > 1)
    deep = {label: (q, ratio) for label, q, ratio in r.limit_margin_results()}
    assert sorted(deep) == ["D=3, init 0.1", "D=3, init 1"]
    for q, ratio in deep.values():
        assert q == pytest.approx(2 / 3) and ratio > 1.1
