"""Self-checks of the slow references against closed forms and against each other."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    TOL,
    batch_gradient,
    epoch_batches,
    epoch_order,
    learning_rate,
    log_loss_reference,
    neg_loss_derivative,
    simulate_decimal,
    simulate_reference,
)

from fastbias.losses import BINARY_LOSSES

POLY = ("poly", 0.1, 0.5)
LOSSES = list(BINARY_LOSSES)  # every binary loss of the table


def separable(n, d, seed, min_margin=0.5):
    """Signed samples with ``<w*, z_i> >= min_margin`` for a random unit ``w*``."""
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=d)
    w_star /= np.linalg.norm(w_star)
    X = rng.normal(size=(n, d))
    Z = np.where((X @ w_star >= 0)[:, None], X, -X)
    short = np.maximum(min_margin - Z @ w_star, 0.0)
    return Z + short[:, None] * w_star, w_star


def high_margin_problem(n, d, seed):
    """Data and a start ``w0`` whose margins all lie in [1000, 1200].

    Rows are rescaled so that ``<w*, z_i>`` is in [10, 12] and ``w0 = 100 w*``; the spread
    stays far below float64's exponent range once shifted by ``log_scale = 1000``.
    """
    Z, w_star = separable(n, d, seed)
    target = np.random.default_rng(seed + 1).uniform(10.0, 12.0, size=n)
    Z = Z * (target / (Z @ w_star))[:, None]
    return Z, 100.0 * w_star


def row_relative_error(A, B):
    """Largest ``max_k |A[e, k] - B[e, k]| / max_k |B[e, k]|`` over rows with ``B[e] != 0``."""
    scale = np.max(np.abs(B), axis=1)
    nonzero = scale > 0
    assert np.array_equal(A[~nonzero], B[~nonzero])
    return np.max(np.max(np.abs(A - B), axis=1)[nonzero] / scale[nonzero])


# (method, keyword arguments) pairs covering every method, batch size and sampling mode.
RUNS = [
    ("adam", {"batch_size": 1}),
    ("adam", {}),
    ("adam", {"batch_size": 2, "sampling": "reshuffle"}),
    ("adam", {"batch_size": 3, "sampling": "replacement", "beta1": 0.5, "beta2": 0.6}),
    ("signum", {"batch_size": 1}),
    ("signum", {"batch_size": 2, "sampling": "reshuffle", "beta": 0.9}),
    ("proxy", {}),
    ("signgd", {}),
    ("signgd", {"batch_size": 2, "sampling": "replacement"}),
    ("ngd", {"batch_size": 3}),
]
RUN_IDS = [f"{m}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'full'}" for m, kw in RUNS]


# ---------------------------------------------------------------------------------------
# learning rate, sampling order, batches
# ---------------------------------------------------------------------------------------


def test_learning_rate_poly_and_const():
    assert learning_rate(("poly", 0.1, 0.5), 0) == pytest.approx(0.1 / math.sqrt(2), rel=TOL)
    assert learning_rate(("poly", 0.1, 0.5), 2) == pytest.approx(0.05, rel=TOL)
    assert learning_rate(("poly", 3.0, 1.0), 8) == pytest.approx(0.3, rel=TOL)
    assert learning_rate(("const", 0.25), 10**9) == 0.25
    with pytest.raises(ValueError, match="'cosine'"):
        learning_rate(("cosine", 0.1), 0)


def test_epoch_batches_when_b_does_not_divide_n():
    order = np.array([4, 0, 6, 2, 1, 5, 3])
    batches = epoch_batches(order, 3)
    assert [b.tolist() for b in batches] == [[4, 0, 6], [2, 1, 5], [3]]
    assert [b.tolist() for b in epoch_batches(order, 7)] == [order.tolist()]
    assert [b.tolist() for b in epoch_batches(order, 1)] == [[i] for i in order]
    with pytest.raises(ValueError, match="0"):
        epoch_batches(order, 0)


@settings(deadline=None, max_examples=50)
@given(n=st.integers(1, 40), b=st.integers(1, 40))
def test_epoch_batches_partition_the_order(n, b):
    order = np.random.default_rng(n).permutation(n)
    batches = epoch_batches(order, b)
    assert len(batches) == -(-n // b)
    assert all(len(x) == b for x in batches[:-1])
    assert 1 <= len(batches[-1]) <= b
    assert np.array_equal(np.concatenate(batches), order)


def test_cyclic_order_draws_nothing():
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert np.array_equal(epoch_order(5, "cyclic", rng), np.arange(5))
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("sampling", ["reshuffle", "replacement"])
def test_epoch_orders_follow_the_generator_stream(sampling):
    n, seed = 9, 11
    rng = np.random.default_rng(seed)
    orders = [epoch_order(n, sampling, rng) for _ in range(3)]
    expected_rng = np.random.default_rng(seed)
    for order in orders:
        if sampling == "reshuffle":
            expected = expected_rng.permutation(n)
            assert sorted(order.tolist()) == list(range(n))
        else:
            expected = expected_rng.integers(0, n, size=n)
        assert np.array_equal(order, expected)
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])


@pytest.mark.parametrize(
    ("method", "sampling", "b"),
    [("adam", "reshuffle", 1), ("adam", "replacement", 2), ("signum", "reshuffle", 3)],
)
def test_sampled_run_equals_cyclic_run_on_the_drawn_sequence(method, sampling, b):
    # Two epochs of a sampled run = one cyclic epoch over the 2n rows it visits, in order
    # (b divides n, so no batch straddles an epoch boundary and t counts the same steps).
    n, seed = 6, 5
    Z, _ = separable(n, 3, seed=2)
    rng = np.random.default_rng(seed)
    visited = np.concatenate([epoch_order(n, sampling, rng) for _ in range(2)])
    W = simulate_reference(Z, method, epochs=2, lr=POLY, seed=seed, batch_size=b, sampling=sampling)
    W_cyc = simulate_reference(Z[visited], method, epochs=1, lr=POLY, batch_size=b)
    assert np.array_equal(W[2], W_cyc[1])
    W_other_seed = simulate_reference(
        Z, method, epochs=2, lr=POLY, seed=seed + 1, batch_size=b, sampling=sampling
    )
    assert not np.array_equal(W[2], W_other_seed[2])


# ---------------------------------------------------------------------------------------
# loss derivatives and gradients
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_scale", [0.0, 5.0, -3.0])
def test_neg_loss_derivative_matches_closed_forms(log_scale):
    s = np.concatenate([np.linspace(-30.0, 30.0, 61), [-700.0, -40.0, 40.0, 700.0]])
    exp_form = np.array([math.exp(log_scale - x) for x in s])
    assert np.allclose(neg_loss_derivative(s, "exp", log_scale), exp_form, rtol=TOL, atol=0)
    logistic_form = np.array([math.exp(log_scale) / (1.0 + math.exp(x)) for x in s])
    got = neg_loss_derivative(s, "logistic", log_scale)
    assert np.allclose(got, logistic_form, rtol=TOL, atol=0)
    # 1/(1+e^s) + 1/(1+e^-s) = 1
    both = neg_loss_derivative(s, "logistic") + neg_loss_derivative(-s, "logistic")
    assert np.allclose(both, 1.0, rtol=0, atol=1e-15)
    assert isinstance(neg_loss_derivative(0.5, "exp", log_scale), float)


def test_neg_loss_derivative_at_huge_margins():
    # Plain float64 underflows at s = 1000; the log-scale recovers the value, no warnings.
    assert neg_loss_derivative(1000.0, "exp") == 0.0
    assert neg_loss_derivative(1000.0, "logistic") == 0.0
    assert neg_loss_derivative(1000.0, "exp", 1000.0) == 1.0
    assert neg_loss_derivative(1000.0, "logistic", 1000.0) == 1.0
    assert neg_loss_derivative(1001.0, "logistic", 1000.0) == pytest.approx(math.exp(-1.0), rel=TOL)
    assert neg_loss_derivative(-1000.0, "logistic") == 1.0
    with pytest.raises(ValueError, match="'hinge'"):
        neg_loss_derivative(0.0, "hinge")


def test_batch_gradient_counts_repeated_indices():
    Z = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])
    w = np.array([0.3, -0.1])
    phi = np.exp(-(Z @ w))
    expected = -(2 * phi[1] * Z[1] + phi[2] * Z[2]) / 3
    got = batch_gradient(Z, w, np.array([1, 2, 1]), "exp")
    assert np.allclose(got, expected, rtol=TOL, atol=0)


# ---------------------------------------------------------------------------------------
# closed forms and identities between methods
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("sampling", ["cyclic", "reshuffle"])
def test_det_adam_first_step(loss, sampling):
    # From w0 = 0 every -l'(0) is the same (1 or 1/2), so g = -c mean(Z) and
    # m / sqrt(v) = (1-b1) g / sqrt((1-b2) g^2) = (1-b1)/sqrt(1-b2) sign(g).
    Z, _ = separable(7, 5, seed=1)
    b1, b2 = 0.9, 0.999
    W = simulate_reference(Z, "adam", epochs=1, lr=POLY, loss=loss, sampling=sampling)
    eta0 = 0.1 * 2**-0.5
    expected = eta0 * (1 - b1) / math.sqrt(1 - b2) * np.sign(Z.mean(axis=0))
    assert np.allclose(W[1], expected, rtol=TOL, atol=0)


@pytest.mark.parametrize("loss", LOSSES)
def test_proxy_first_step(loss):
    # From w0 = 0: grad L_i = -c z_i, so the step is sum_i z_i / sqrt(sum_i z_i^2).
    Z, _ = separable(6, 4, seed=3)
    W = simulate_reference(Z, "proxy", epochs=1, lr=POLY, loss=loss)
    expected = 0.1 * 2**-0.5 * Z.sum(axis=0) / np.sqrt((Z**2).sum(axis=0))
    assert np.allclose(W[1], expected, rtol=TOL, atol=0)


def test_gd_and_ngd_first_step():
    Z, _ = separable(6, 4, seed=4)
    W_gd = simulate_reference(Z, "gd", epochs=1, lr=("const", 0.7))
    assert np.allclose(W_gd[1], 0.7 * Z.mean(axis=0), rtol=TOL, atol=0)
    W_ngd = simulate_reference(Z, "ngd", epochs=1, lr=("const", 0.7))
    mean = Z.mean(axis=0)
    assert np.allclose(W_ngd[1], 0.7 * mean / np.linalg.norm(mean), rtol=TOL, atol=0)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(
    ("b", "sampling"), [(None, "cyclic"), (1, "cyclic"), (2, "reshuffle"), (3, "replacement")]
)
def test_adam_without_moments_is_signgd(loss, b, sampling):
    # b1 = b2 = 0: m = g, v = g*g and g / sqrt(fl(g*g)) = sign(g) exactly in IEEE arithmetic.
    Z, _ = separable(7, 4, seed=5)
    kw = {"epochs": 6, "lr": POLY, "loss": loss, "batch_size": b, "sampling": sampling}
    W_adam = simulate_reference(Z, "adam", beta1=0.0, beta2=0.0, seed=8, **kw)
    W_sign = simulate_reference(Z, "signgd", seed=8, **kw)
    assert np.array_equal(W_adam, W_sign)
    assert np.all(W_adam[-1] != 0)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(("b", "sampling"), [(None, "cyclic"), (1, "cyclic"), (3, "reshuffle")])
def test_signum_without_momentum_is_signgd(loss, b, sampling):
    Z, _ = separable(7, 4, seed=6)
    kw = {"epochs": 6, "lr": POLY, "loss": loss, "batch_size": b, "sampling": sampling}
    W_signum = simulate_reference(Z, "signum", beta=0.0, seed=2, **kw)
    assert np.array_equal(W_signum, simulate_reference(Z, "signgd", seed=2, **kw))


def test_proxy_with_one_sample_is_signgd():
    z = np.array([[0.5, -1.5, 2.0]])
    W_proxy = simulate_reference(z, "proxy", epochs=5, lr=POLY)
    assert np.array_equal(W_proxy, simulate_reference(z, "signgd", epochs=5, lr=POLY))


def test_proxy_on_generalized_rademacher_data_is_rescaled_gd():
    # |z_i[k]| = r_i for all k, so sqrt(sum_i (phi_i z_i[k])^2) = sqrt(sum_i phi_i^2 r_i^2)
    # is the same for every k and the AdamProxy step is the full gradient over that norm.
    rng = np.random.default_rng(7)
    n, d = 4, 6
    r = rng.uniform(1.0, 2.0, size=n)
    Z = r[:, None] * rng.choice([-1.0, 1.0], size=(n, d))
    W = simulate_reference(Z, "proxy", epochs=4, lr=POLY)
    for e in range(4):
        phi = np.exp(-(Z @ W[e]))
        expected = learning_rate(POLY, e) * (phi @ Z) / np.sqrt(np.sum(phi**2 * r**2))
        assert np.allclose(W[e + 1] - W[e], expected, rtol=TOL, atol=TOL * np.abs(W[e]).max())


@pytest.mark.parametrize("simulate", [simulate_reference, simulate_decimal])
@pytest.mark.parametrize(("method", "kw"), RUNS + [("gd", {})], ids=RUN_IDS + ["gd-full"])
def test_zero_coordinate_never_moves(simulate, method, kw):
    # 0/0 rule (v[k] == 0 or sum_i grad_i[k]^2 == 0 -> step 0) and sign(0) = 0.
    Z, _ = separable(6, 4, seed=8)
    Z[:, 2] = 0.0
    w0 = np.array([0.1, -0.2, 0.3, 0.0])
    W = simulate(Z, method, epochs=3, lr=POLY, w0=w0, **kw)
    assert np.all(W[:, 2] == 0.3)
    assert np.all(W[-1, [0, 1, 3]] != w0[[0, 1, 3]])


# ---------------------------------------------------------------------------------------
# float64 vs decimal
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(("method", "kw"), RUNS + [("gd", {})], ids=RUN_IDS + ["gd-full"])
def test_decimal_equals_float64_on_short_horizons(loss, method, kw):
    Z, _ = separable(7, 4, seed=9)
    W_float = simulate_reference(Z, method, epochs=8, lr=POLY, loss=loss, seed=4, **kw)
    W_dec = simulate_decimal(Z, method, epochs=8, lr=POLY, loss=loss, seed=4, **kw)
    assert row_relative_error(W_float, W_dec) <= TOL / 10


@pytest.mark.parametrize(("method", "kw"), [r for r in RUNS if r[0] != "gd"], ids=RUN_IDS)
def test_log_scale_does_not_change_scale_invariant_methods(method, kw):
    Z, _ = separable(7, 4, seed=10)
    W0 = simulate_reference(Z, method, epochs=8, lr=POLY, seed=1, **kw)
    W7 = simulate_reference(Z, method, epochs=8, lr=POLY, seed=1, log_scale=7.0, **kw)
    assert row_relative_error(W7, W0) <= TOL


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(("method", "kw"), RUNS, ids=RUN_IDS)
def test_log_scale_follows_decimal_where_float64_freezes(loss, method, kw):
    Z, w0 = high_margin_problem(5, 3, seed=11)
    assert 1000.0 <= (Z @ w0).min() and (Z @ w0).max() <= 1200.0
    common = {"epochs": 6, "lr": POLY, "loss": loss, "seed": 3, "w0": w0, **kw}
    # Plain float64: every exp(-s) underflows to 0, so the iterate never moves.
    W_plain = simulate_reference(Z, method, **common)
    assert np.array_equal(W_plain, np.broadcast_to(w0, W_plain.shape))
    # Exact arithmetic moves it; shifting the derivatives by e^1000 recovers that motion.
    W_dec = simulate_decimal(Z, method, **common)
    movement = np.abs(W_dec - w0).max()
    assert movement > 0.1
    W_scaled = simulate_reference(Z, method, log_scale=1000.0, **common)
    assert np.abs(W_scaled - W_dec).max() <= TOL * movement


def test_decimal_adam_steps_coordinate_whose_gradient_is_e_minus_1000_smaller():
    # Inc-Adam, z_1 = (1, 0) at margin 0, then z_2 = (1, 1) at margin ~1000: coordinate 1
    # first sees a gradient e^-1000 times smaller than coordinate 0 did, with v[1] = 0, so
    # exact arithmetic takes a full step C sign(g) there. No single float64 scale can hold
    # both 1 and e^-1000 (their ratio underflows), and the plain reference misses the step.
    Z = np.array([[1.0, 0.0], [1.0, 1.0]])
    w0 = np.array([0.0, 1000.0])
    b1, b2 = 0.9, 0.999
    C = (1 - b1) / math.sqrt(1 - b2)
    eta0, eta1 = learning_rate(POLY, 0), learning_rate(POLY, 1)
    expected = w0 + np.array([eta0 * C + eta1 * C * b1 / math.sqrt(b2), eta1 * C])
    W_dec = simulate_decimal(Z, "adam", epochs=1, lr=POLY, w0=w0, batch_size=1)
    assert np.allclose(W_dec[1], expected, rtol=TOL, atol=0)
    W_float = simulate_reference(Z, "adam", epochs=1, lr=POLY, w0=w0, batch_size=1)
    assert W_float[1, 1] == w0[1]
    assert W_float[1, 0] == pytest.approx(expected[0], rel=TOL)


# ---------------------------------------------------------------------------------------
# log loss
# ---------------------------------------------------------------------------------------


def test_log_loss_matches_float64_at_small_margins():
    Z, _ = separable(8, 5, seed=12)
    w = np.random.default_rng(0).normal(size=5)
    s = Z @ w
    assert np.abs(s).max() < 30
    exp_direct = math.log(np.mean(np.exp(-s)))
    logistic_direct = math.log(np.mean(np.log1p(np.exp(-s))))
    assert log_loss_reference(Z, w, "exp") == pytest.approx(exp_direct, rel=TOL)
    assert log_loss_reference(Z, w, "logistic") == pytest.approx(logistic_direct, rel=TOL)


def test_log_loss_at_huge_margins():
    # d = 1 and w = 1: the margins are the (exactly representable) entries of Z.
    w = np.array([1.0])
    Z = np.array([[1000.0], [1001.0], [1100.0]])
    expected = -1000.0 - math.log(3.0) + math.log1p(math.exp(-1.0) + math.exp(-100.0))
    assert log_loss_reference(Z, w, "exp") == pytest.approx(expected, rel=TOL)
    # ln(1 + x) = x (1 + O(x)) with x ~ e^-1000: same value for the logistic loss.
    assert log_loss_reference(Z, w, "logistic") == pytest.approx(expected, rel=TOL)
    # Well-separated margins: log L = -min margin - log n + O(e^-200).
    Z_far = np.array([[1500.0], [1200.0], [1000.0], [4000.0]])
    far = -1000.0 - math.log(4.0)
    assert log_loss_reference(Z_far, w, "exp") == pytest.approx(far, rel=TOL)
    assert log_loss_reference(Z_far, w, "logistic") == pytest.approx(far, rel=TOL)
    # A huge negative margin dominates: log((e^1000 + e^-1000) / 2) and log(1000 / 2).
    Z_neg = np.array([[-1000.0], [1000.0]])
    assert log_loss_reference(Z_neg, w, "exp") == pytest.approx(1000 - math.log(2), rel=TOL)
    assert log_loss_reference(Z_neg, w, "logistic") == pytest.approx(math.log(500), rel=TOL)


# ---------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("simulate", [simulate_reference, simulate_decimal])
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"method": "sgd"}, "'sgd'"),
        ({"loss": "hinge"}, "'hinge'"),
        ({"sampling": "random"}, "'random'"),
        ({"batch_size": 0}, "0"),
        ({"batch_size": 4}, "4"),
        ({"epochs": -1}, "-1"),
    ],
)
def test_invalid_arguments_raise(simulate, kw, message):
    Z, _ = separable(3, 2, seed=0)
    args = {"method": "adam", "epochs": 1, "lr": POLY, **kw}
    with pytest.raises(ValueError, match=message):
        simulate(Z, args.pop("method"), **args)


def test_gd_rejects_log_scale():
    Z, _ = separable(3, 2, seed=0)
    with pytest.raises(ValueError, match="5.0"):
        simulate_reference(Z, "gd", epochs=1, lr=("const", 0.1), log_scale=5.0)
    W = simulate_reference(Z, "gd", epochs=1, lr=("const", 0.1), log_scale=0.0)
    assert W.shape == (2, 2)
