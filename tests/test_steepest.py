"""Steepest descent in any norm, mirror descent and the rest of the Adam family (SPEC 11).

Closed forms and identities, not only the reference: p = inf is SignGD and Signum (bitwise),
p = 2 is normalized GD, schatten-inf is spectral descent, mirror descent with p = 2 is GD;
per-sample steepest descent without momentum steps by ``eta_t dir_p(z_i)`` whatever the loss,
so its iterate has a closed form at any horizon; the l_p direction is the unit vector that
attains the dual norm (Hoelder's equality), for every p in [1, inf], near 1 and near inf.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import lp_direction, schatten_direction

import fastbias as fb

GAUSS = fb.datasets.gaussian(n=10, d=50, seed=0)
SMALL = fb.datasets.gaussian(n=6, d=8, seed=4)
MC = fb.datasets.gaussian_multiclass(n=12, d=9, k=3, seed=2)
JIT_DISABLED = __import__("os").environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def run(data, optimizer, epochs=50, **kwargs):
    return fb.simulate(data, optimizer, epochs=epochs, record=list(range(epochs + 1)), **kwargs)


def relative(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("data", [GAUSS, MC], ids=["binary", "multiclass"])
def test_p_inf_is_sign_descent_bit_for_bit(data):
    assert np.array_equal(run(data, fb.SteepestDescent(norm="inf")).w, run(data, fb.SignGD()).w)
    nsd = fb.SteepestDescent(norm=math.inf, momentum=0.99, batch_size=1, sampling="reshuffle")
    signum = fb.IncSignum(beta=0.99, batch_size=1, sampling="reshuffle")
    assert np.array_equal(run(data, nsd, seed=3).w, run(data, signum, seed=3).w)


@pytest.mark.parametrize("batch_size", [None, 1, 3])
@pytest.mark.parametrize("data", [GAUSS, MC], ids=["binary", "multiclass"])
def test_p_2_is_normalized_gd(data, batch_size):
    nsd = run(data, fb.SteepestDescent(norm=2.0, batch_size=batch_size))
    ngd = run(data, fb.NormalizedGD(batch_size=batch_size))
    assert relative(nsd.w, ngd.w) <= 1e-12


@pytest.mark.parametrize("batch_size", [None, 1])
def test_schatten_inf_is_spectral_descent_and_schatten_2_is_normalized_gd(batch_size):
    spectral = run(MC, fb.SteepestDescent(norm="spectral", batch_size=batch_size))
    assert relative(spectral.w, run(MC, fb.SpectralDescent(batch_size=batch_size)).w) <= 1e-12
    fro = run(MC, fb.SteepestDescent(norm="fro", batch_size=batch_size))
    assert relative(fro.w, run(MC, fb.NormalizedGD(batch_size=batch_size)).w) <= 1e-12


def test_per_sample_schatten_norms_agree_because_per_sample_gradients_have_rank_one():
    """At b = 1 a gradient x_i (p - e_y)^T has rank 1: every Schatten-p direction is the same
    (SPEC 11: say so rather than plot it as a finding)."""
    runs = [
        run(MC, fb.SteepestDescent(norm=n, batch_size=1), epochs=20).w
        for n in ("nuclear", "schatten-3", "spectral")
    ]
    for other in runs[1:]:
        assert relative(other, runs[0]) <= 1e-12


def closed_form_lp(Z, epochs, p, sampling, seed, eta0=0.1, power=0.5):
    """``sum_t eta_t dir_p(z_{i_t})``: the iterate of per-sample NSD without momentum."""
    n = Z.shape[0]
    rng = np.random.default_rng(seed)
    if sampling == "cyclic":
        order = np.tile(np.arange(n), epochs)
    else:
        order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    t = np.arange(order.size, dtype=np.float64)
    eta = eta0 * (t + 2.0) ** (-power)
    per_sample = np.array([math.fsum(eta[order == i]) for i in range(n)])
    return per_sample @ np.array([lp_direction(z, p) for z in Z])


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("sampling", ["cyclic", "reshuffle"])
@pytest.mark.parametrize("p", [1.5, 3.0])
def test_per_sample_steepest_descent_has_a_closed_form(p, sampling, loss):
    """w_T = sum_t eta_t dir_p(z_{i_t}) at 10^5 epochs (SPEC 11, nsd-batch): the departure of
    b = 1 from the l_p max margin is structural."""
    epochs = 2_000 if JIT_DISABLED else 100_000
    opt = fb.SteepestDescent(norm=p, batch_size=1, sampling=sampling)
    tr = fb.simulate(GAUSS, opt, epochs=epochs, seed=7, loss=loss, record=1)
    exact = closed_form_lp(GAUSS.Z, epochs, p, sampling, seed=7)
    assert np.abs(tr.w[-1] - exact).max() <= 1e-10 * np.abs(exact).max()


NORMS = st.one_of(
    st.sampled_from([1.0, 1.0 + 1e-12, 1.001, 1.5, 2.0, 3.0, 1e6, math.inf]),
    st.floats(1.0, 50.0),
)


@given(p=NORMS, seed=st.integers(0, 10**6), momentum=st.sampled_from([0.0, 0.5]))
def test_one_step_is_the_dual_norm_direction_for_any_p(p, seed, momentum):
    """After one full-batch step from w0: w0 - w1 = eta_0 d with d the steepest direction of
    the gradient; ||d||_p = 1 and <m, d> = ||m||_q (Hoelder's equality), no NaN near 1 or inf."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(SMALL.d) * 0.1
    opt = fb.SteepestDescent(norm=p, momentum=momentum)
    tr = fb.simulate(SMALL, opt, epochs=1, w0=w0, record=[0, 1])
    eta = fb.PolynomialDecay().rate(0)
    d = (tr.w[0] - tr.w[1]) / eta
    assert np.all(np.isfinite(d))
    s = SMALL.Z @ w0
    m = -((np.exp(-s))[:, None] * SMALL.Z).mean(axis=0) * (1.0 - momentum)
    np.testing.assert_allclose(d, lp_direction(m, p), rtol=1e-9, atol=1e-12)
    norm_p = np.linalg.norm(d, p) if p < 1e300 else np.abs(d).max()
    assert norm_p == pytest.approx(1.0, rel=1e-9)
    q = math.inf if p == 1.0 else (1.0 if p == math.inf else p / (p - 1.0))
    dual = np.abs(m).max() if q > 1e12 else np.linalg.norm(m / np.abs(m).max(), q) * np.abs(m).max()
    assert m @ d == pytest.approx(dual, rel=1e-6)


def test_p_1_shares_the_step_among_exact_ties():
    data = fb.Dataset([[1.0, 1.0, 0.5], [1.0, 1.0, -0.5]], [1, 1])  # |g_0| = |g_1| > |g_2|
    tr = fb.simulate(data, fb.SteepestDescent(norm=1.0), epochs=1, record=[0, 1])
    eta = fb.PolynomialDecay().rate(0)
    np.testing.assert_allclose(tr.w[1], [eta / 2, eta / 2, 0.0], rtol=1e-15)


def test_schatten_direction_of_the_kernel_agrees_with_numpy():
    tr = fb.simulate(MC, fb.SteepestDescent(norm="schatten-3"), epochs=1, record=[0, 1])
    eta = fb.PolynomialDecay().rate(0)
    X, y = MC.X, MC.y
    G = np.zeros((MC.k, MC.d))
    for i in range(MC.n):  # cross-entropy gradient at W = 0: (softmax - e_y) x_i^T
        p = np.full(MC.k, 1.0 / MC.k)
        p[y[i]] -= 1.0
        G += np.outer(p, X[i]) / MC.n
    np.testing.assert_allclose(tr.w[1], -eta * schatten_direction(G, 3.0), atol=1e-13)


def test_schatten_norms_are_refused_on_binary_data():
    with pytest.raises(ValueError, match=r"norm='schatten-1' is a norm of matrices; binary data"):
        fb.simulate(GAUSS, fb.SteepestDescent(norm="nuclear"), epochs=2)


@pytest.mark.parametrize(
    "value, expected",
    [
        (3, 3.0),
        ("3", 3.0),
        ("inf", math.inf),
        ("l2", 2.0),
        ("nuclear", "schatten-1"),
        ("fro", "schatten-2"),
        ("spectral", "schatten-inf"),
        ("schatten-1.5", "schatten-1.5"),
        ("Schatten-INF", "schatten-inf"),
    ],
)
def test_norm_spellings(value, expected):
    assert fb.SteepestDescent(norm=value).norm == expected


@pytest.mark.parametrize(
    "value, error, message",
    [
        (0.5, ValueError, r"norm must be in \[1, inf\]; got 0.5"),
        ("schatten-0.5", ValueError, r"the P of norm='schatten-0.5' must be in \[1, inf\]"),
        ("l7x", ValueError, r"norm must be a number p in \[1, inf\] .*; got 'l7x'"),
        (True, TypeError, r"norm must be a number p in \[1, inf\]"),
        (None, TypeError, r"norm must be a number p"),
    ],
)
def test_bad_norms_are_refused(value, error, message):
    with pytest.raises(error, match=message):
        fb.SteepestDescent(norm=value)


def test_mirror_descent_with_p_2_is_gd_and_starts_from_w0():
    assert np.array_equal(run(GAUSS, fb.MirrorDescent(p=2.0)).w, run(GAUSS, fb.GD()).w)
    w0 = np.random.default_rng(1).standard_normal(GAUSS.d) * 0.3
    tr = fb.simulate(GAUSS, fb.MirrorDescent(p=3.0), epochs=1, w0=w0, record=[0, 1])
    g = -((np.exp(-GAUSS.Z @ w0))[:, None] * GAUSS.Z).mean(axis=0)
    phi = np.sign(w0) * w0**2 - 0.1 * g
    np.testing.assert_allclose(tr.w[1], np.sign(phi) * np.sqrt(np.abs(phi)), rtol=1e-13)


def test_mirror_descent_resumes_its_dual_variable_bit_for_bit(tmp_path):
    w0 = np.random.default_rng(2).standard_normal(SMALL.d) * 0.3
    opt = fb.MirrorDescent(p=1.5, batch_size=2, sampling="reshuffle")
    direct = fb.simulate(SMALL, opt, epochs=300, w0=w0, seed=4)
    path = tmp_path / "md.npz"
    fb.simulate(SMALL, opt, epochs=100, w0=w0, seed=4, checkpoint=path)
    resumed = fb.simulate(SMALL, opt, epochs=300, w0=w0, seed=4, checkpoint=path, resume=True)
    assert np.array_equal(direct.w, resumed.w)


def test_adabelief_without_momentum_and_eps_never_moves_and_says_so():
    with pytest.warns(UserWarning, match=r"AdaBelief\(beta1=0, eps=0, eps_root=0\) never moves"):
        opt = fb.AdaBelief(beta1=0.0)
    tr = fb.simulate(SMALL, opt, epochs=5, record=1)
    assert not np.any(tr.w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fb.AdaBelief(beta1=0.0, eps=1e-8)


def test_amsgrad_freezes_like_the_exact_recurrence():
    """vmax never decays: once the derivatives shrink, the steps shrink with them (SPEC 11)."""
    plain = fb.simulate(GAUSS, fb.IncAdam(), epochs=10**4, record=1)
    ams = fb.simulate(GAUSS, fb.IncAdam(amsgrad=True), epochs=10**4, record=1)
    assert ams.min_margin[-1] < 0.5 * plain.min_margin[-1]
    assert np.all(np.isfinite(ams.w))
    assert fb.IncAdam(amsgrad=True).kernel_rule().name == "amsgrad"
    assert fb.IncAdam().kernel_rule().name == "adam"


@pytest.mark.parametrize(
    "name", ["steepest-descent", "mirror-descent", "nadam", "adabelief", "adamax"]
)
def test_the_command_line_names(name, tmp_path):
    from fastbias.cli import main

    out = tmp_path / "r.npz"
    assert (
        main(
            [
                "run",
                "--optimizer",
                name,
                "--epochs",
                "20",
                "--n",
                "4",
                "--d",
                "6",
                "--no-references",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert fb.Trajectory.load(out).epochs[-1] == 20


def test_the_command_line_norm_and_momentum(tmp_path):
    from fastbias.cli import main

    out = tmp_path / "r.npz"
    argv = [
        "run",
        "--optimizer",
        "steepest-descent",
        "--norm",
        "1.5",
        "--momentum",
        "0.9",
        "--batch-size",
        "1",
        "--epochs",
        "20",
        "--n",
        "4",
        "--d",
        "6",
        "--no-references",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert (
        fb.Trajectory.load(out).params["optimizer"]
        == fb.SteepestDescent(norm=1.5, momentum=0.9, batch_size=1).to_dict()
    )
    argv = [
        "run",
        "--data",
        "gaussian-multiclass",
        "--optimizer",
        "steepest-descent",
        "--norm",
        "nuclear",
        "--epochs",
        "5",
        "--no-references",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
