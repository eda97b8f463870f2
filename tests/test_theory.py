"""The theory helpers: P_Adam(c), T(c), Lemma 4.5, AdamProxy and the Prop. 2.5 prediction."""

import math

import numpy as np
import pytest
from test_geometry import T_reference, p_adam_reference, separable_Z

from fastbias import datasets, theory

# --------------------------------------------------------------------------------------------
# Plain formulas, written out directly (float64, no rescaling): valid at moderate margins
# --------------------------------------------------------------------------------------------


def neg_dloss(s, loss):
    return np.exp(-s) if loss == "exp" else 1.0 / (1.0 + np.exp(s))


def gradients(Z, w, loss):
    """Per-sample gradients grad L_j = l'(<w, z_j>) z_j, rows of an (n, d) array."""
    return -neg_dloss(Z @ w, loss)[:, None] * Z


def proxy_plain(Z, w, lr, loss):
    G = gradients(Z, w, loss)
    num, den = G.sum(axis=0), np.sqrt((G**2).sum(axis=0))
    return -lr * np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def frozen_gradient_inc_adam_epoch(G, lr, beta1, beta2, epochs):
    """Run cyclic Inc-Adam (no epsilon, no bias correction) on gradients frozen at G and
    return the sum of the steps of the last epoch (moments started at 0)."""
    n, d = G.shape
    m, v = np.zeros(d), np.zeros(d)
    total = np.zeros(d)
    for _ in range(epochs):
        total = np.zeros(d)
        for i in range(n):
            m = beta1 * m + (1 - beta1) * G[i]
            v = beta2 * v + (1 - beta2) * G[i] ** 2
            step = np.zeros(d)
            np.divide(m, np.sqrt(v), out=step, where=v > 0)  # 0/0 rule: no step
            total -= lr * step
    return total


@pytest.fixture(scope="module")
def gauss():
    return datasets.gaussian(10, 50, seed=0)


# --------------------------------------------------------------------------------------------
# P_Adam(c), T(c), Lemma 4.5
# --------------------------------------------------------------------------------------------


def test_adam_metric():
    Z = np.array([[3.0, 1.0, 0.0], [4.0, -2.0, 0.0]])
    np.testing.assert_allclose(theory.adam_metric(Z, [1.0, 1.0]), [5.0, math.sqrt(5.0), 0.0])
    np.testing.assert_allclose(theory.adam_metric(Z, [0.0, 0.5]), [2.0, 1.0, 0.0])
    tiny = theory.adam_metric(1e-200 * Z, [1.0, 1.0])  # squares would underflow
    np.testing.assert_allclose(tiny / 1e-200, [5.0, math.sqrt(5.0), 0.0], rtol=1e-15)
    with pytest.raises(ValueError, match=r"c must be nonnegative; got c\[1\] = -1\.0\."):
        theory.adam_metric(Z, [1.0, -1.0])
    with pytest.raises(ValueError, match=r"c must have length 2; got length 3\."):
        theory.adam_metric(Z, [1.0, 1.0, 1.0])


def test_T_matches_independent_reference(gauss):
    rng = np.random.default_rng(1)
    for c in (np.full(10, 0.1), rng.dirichlet(np.ones(10)), rng.dirichlet(0.2 * np.ones(10))):
        np.testing.assert_allclose(theory.T(gauss, c), T_reference(gauss.Z, c), atol=1e-9)
        sol = theory.p_adam(gauss.Z, c)
        w_ref, lam_ref = p_adam_reference(gauss.Z, c)
        np.testing.assert_allclose(sol.w, w_ref, rtol=1e-7, atol=1e-7 * np.abs(w_ref).max())


def test_T_does_not_depend_on_the_scale_of_c(gauss):
    c = np.random.default_rng(2).dirichlet(np.ones(10))
    np.testing.assert_allclose(theory.T(gauss, 40.0 * c), theory.T(gauss, c), atol=1e-12)
    np.testing.assert_allclose(theory.p_adam(gauss, 40.0 * c).c, c, rtol=1e-15)


def test_T_on_gr_data_is_the_l2_dual():
    """On GR data M(c) is a multiple of I for every c (Example 4.9), so T is constant."""
    ds = datasets.generalized_rademacher(8, 20, seed=3)
    _, lam = p_adam_reference(ds.Z, np.full(8, 1 / 8))  # = l2 SVM multipliers
    for c in np.random.default_rng(3).dirichlet(np.ones(8), size=3):
        np.testing.assert_allclose(theory.T(ds, c), lam / lam.sum(), atol=1e-9)


def test_lemma45_direction():
    Z = np.array([[1.0, 2.0, 0.0, -1.0], [3.0, -1.0, 0.0, -2.0]])
    c = np.array([0.25, 0.75])
    v = (c @ Z)[[0, 1, 3]] / np.sqrt((c[:, None] ** 2 * Z**2).sum(axis=0))[[0, 1, 3]]
    expected = np.array([v[0], v[1], 0.0, v[2]])  # 0/0 -> 0 in the zero column
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(theory.lemma45_direction(Z, c), expected, rtol=1e-14)
    np.testing.assert_allclose(theory.lemma45_direction(Z, 8 * c), expected, rtol=1e-14)
    with pytest.raises(ValueError, match="the Lemma 4.5 direction is zero"):
        theory.lemma45_direction(np.array([[1.0], [-1.0]]), [0.5, 0.5])


def test_lemma45_on_gr_data_is_weighted_sum():
    """|z_i[k]| = r_i on GR data, so the denominator is constant over k: v ∝ Z^T c."""
    ds = datasets.generalized_rademacher(6, 15, seed=4)
    c = np.random.default_rng(4).dirichlet(np.ones(6))
    u = ds.Z.T @ c
    np.testing.assert_allclose(theory.lemma45_direction(ds, c), u / np.linalg.norm(u), atol=1e-14)


# --------------------------------------------------------------------------------------------
# AdamProxy (Definition 4.2) and Proposition 2.5
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_adam_proxy_update_matches_plain_formula(loss):
    Z = separable_Z(6, 9, seed=5)
    Z[:, 4] = 0.0  # a coordinate without gradient: 0/0 rule
    w = np.random.default_rng(5).standard_normal(9)
    got = theory.adam_proxy_update(Z, w, lr=0.3, loss=loss)
    np.testing.assert_allclose(got, proxy_plain(Z, w, 0.3, loss), rtol=1e-13, atol=1e-15)
    assert got[4] == 0.0


def _uniform_shift(Z):
    """u with Z u = 1 (exists for linearly independent rows): w + t u shifts all margins by t."""
    u = np.linalg.lstsq(Z, np.ones(Z.shape[0]), rcond=None)[0]
    np.testing.assert_allclose(Z @ u, 1.0, rtol=1e-12)
    return u


def test_updates_are_exact_at_huge_margins():
    """exp-loss updates depend on the margins only through their differences; at margins near
    1e4 every exp(-s) underflows, yet the helpers return the moderate-margin values."""
    Z = separable_Z(5, 8, seed=6)
    w = 0.3 * np.random.default_rng(6).standard_normal(8)
    far = w + 1e4 * _uniform_shift(Z)
    assert np.all(np.exp(-(Z @ far)) == 0.0)
    np.testing.assert_allclose(
        theory.adam_proxy_update(Z, far, lr=0.1), proxy_plain(Z, w, 0.1, "exp"), rtol=1e-9
    )
    np.testing.assert_allclose(
        theory.inc_adam_epoch_update(Z, far, lr=0.1, beta1=0.9, beta2=0.99),
        theory.inc_adam_epoch_update(Z, w, lr=0.1, beta1=0.9, beta2=0.99),
        rtol=1e-9,
    )
    # logistic: -l'(s) = exp(-s) (1 + O(exp(-s))), the same update far out
    np.testing.assert_allclose(
        theory.adam_proxy_update(Z, far, lr=0.1, loss="logistic"),
        proxy_plain(Z, w, 0.1, "exp"),
        rtol=1e-9,
    )


def test_coordinate_carried_by_a_vanishing_sample():
    """Coordinate 1 gets gradient only from sample 1, whose weight is exp(-1000) relative to
    sample 0: still one full step lr (the ratio is exact, not 0/0)."""
    Z = np.array([[1.0, 0.0], [1.0, 1.0]])
    w = np.array([0.0, 1000.0])
    np.testing.assert_allclose(theory.adam_proxy_update(Z, w, lr=0.1), [0.1, 0.1], rtol=1e-14)
    up = theory.inc_adam_epoch_update(Z, w, lr=0.1, beta1=0.9, beta2=0.999)
    assert np.all(np.isfinite(up)) and up[1] > 0


@pytest.mark.parametrize(
    "beta1, beta2, loss",
    [
        (0.9, 0.99, "exp"),
        (0.5, 0.6, "logistic"),
        (0.0, 0.9, "exp"),
        (0.9, 0.0, "exp"),
        (0.3, 0.95, "logistic"),
    ],
)
def test_prop_2_5_equals_inc_adam_with_frozen_gradients(beta1, beta2, loss):
    """With gradients frozen at the epoch start and the moments' start forgotten, the epoch
    update of cyclic Inc-Adam is exactly the Proposition 2.5 expression (this checks C)."""
    Z = separable_Z(5, 4, seed=7)
    Z[:, 2] = 0.0
    Z[3, 1] = 0.0
    w = 0.2 * np.random.default_rng(7).standard_normal(4)
    G = gradients(Z, w, loss)
    simulated = frozen_gradient_inc_adam_epoch(G, 0.05, beta1, beta2, epochs=1500)
    predicted = theory.inc_adam_epoch_update(Z, w, lr=0.05, beta1=beta1, beta2=beta2, loss=loss)
    np.testing.assert_allclose(predicted, simulated, rtol=1e-10, atol=1e-15)
    assert predicted[2] == 0.0


def test_beta2_to_one_limit_is_sqrt_n_times_adam_proxy(gauss):
    w = 0.05 * np.random.default_rng(8).standard_normal(50)
    proxy = theory.adam_proxy_update(gauss, w, lr=0.1)
    for beta1 in (0.0, 0.5, 0.9, 0.99):
        limit = theory.inc_adam_epoch_update(gauss, w, lr=0.1, beta1=beta1, beta2=1.0)
        np.testing.assert_allclose(limit, math.sqrt(10) * proxy, rtol=1e-13)
        near = theory.inc_adam_epoch_update(gauss, w, lr=0.1, beta1=beta1, beta2=1 - 1e-9)
        np.testing.assert_allclose(near, limit, rtol=1e-6)
    far = theory.inc_adam_epoch_update(gauss, w, lr=0.1, beta1=0.9, beta2=0.5)
    assert np.linalg.norm(far - math.sqrt(10) * proxy) > 1e-3 * np.linalg.norm(proxy)


def test_inc_adam_constant():
    assert theory.inc_adam_constant(1, 0.9, 0.999) == pytest.approx(1.0, rel=1e-14)
    assert theory.inc_adam_constant(7, 0.0, 0.0) == 1.0
    direct = (1 - 0.9) / (1 - 0.9**10) * math.sqrt((1 - 0.999**10) / (1 - 0.999))
    assert theory.inc_adam_constant(10, 0.9, 0.999) == pytest.approx(direct, rel=1e-12)
    limit = (1 - 0.9) / (1 - 0.9**10) * math.sqrt(10)
    assert theory.inc_adam_constant(10, 0.9, 1.0) == pytest.approx(limit, rel=1e-15)
    assert theory.inc_adam_constant(10, 0.9, 1 - 1e-12) == pytest.approx(limit, rel=1e-10)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"beta1": 1.0}, ValueError, r"beta1 must be in \[0, 1\); got 1\.0\."),
        ({"beta2": 1.5}, ValueError, r"beta2 must be in \[0, 1\]; got 1\.5\."),
        ({"beta2": -0.1}, ValueError, r"beta2 must be in \[0, 1\]; got -0\.1\."),
        ({"lr": 0.0}, ValueError, r"lr must be in \(0, inf\); got 0\.0\."),
        ({"lr": "fast"}, TypeError, r"lr must be a real number; got 'fast'"),
        (
            {"loss": "hinge"},
            ValueError,
            r"loss must be one of \['exp', 'logistic'\] for binary data; got 'hinge'",
        ),
        ({"w": [0.0, 0.0]}, ValueError, r"w must have length 3; got length 2\."),
        ({"w": [0.0, np.inf, 0.0]}, ValueError, r"w contains inf at index 1"),
    ],
)
def test_update_helpers_reject_bad_arguments(kwargs, error, match):
    args = {"w": np.zeros(3), "lr": 0.1, "beta1": 0.9, "beta2": 0.999, "loss": "exp", **kwargs}
    Z = np.eye(3)
    with pytest.raises(error, match=match):
        theory.inc_adam_epoch_update(Z, **args)
    if "beta1" not in kwargs and "beta2" not in kwargs:
        with pytest.raises(error, match=match):
            theory.adam_proxy_update(Z, args["w"], lr=args["lr"], loss=args["loss"])


def test_dataset_and_signed_samples_agree(gauss):
    w = 0.1 * np.ones(50)
    np.testing.assert_array_equal(
        theory.adam_proxy_update(gauss, w, lr=0.1), theory.adam_proxy_update(gauss.Z, w, lr=0.1)
    )
    np.testing.assert_array_equal(
        theory.lemma45_direction(gauss, np.ones(10)),
        theory.lemma45_direction(gauss.Z.tolist(), np.ones(10)),
    )
