"""Exact at the edges of the scale rule (SPEC section 3): beta = 0, extreme data scales.

* Rules whose state is replaced by each gradient (Signum with beta = 0, Adam with
  beta1 = beta2 = 0, SignGD with batch size 1) take the step ``eta_t sign(z_i)`` at every
  step in exact arithmetic: the final iterate has a closed form at any horizon.
* Scale-invariant rules on data scaled by 1e-150 .. 1e300 follow the recurrence: compared
  with a reference that keeps every gradient as a log-scale and a mantissa and forms the
  moments from the whole history (``tests/reference.py``, history_reference).
* The geometry at extreme scales returns the unscaled problem's direction.
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import history_reference, run_reference

import fastbias as fb

GAUSS = fb.datasets.gaussian(n=10, d=50, seed=0)
JIT_DISABLED = __import__("os").environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def closed_form(Z, epochs, sampling, seed, eta0=0.1, power=0.5):
    """``sum_t eta_t sign(z_{i_t})`` with the sample orders of SPEC 2, summed per sample."""
    n = Z.shape[0]
    rng = np.random.default_rng(seed)
    if sampling == "cyclic":
        order = np.tile(np.arange(n), epochs)
    else:
        order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    t = np.arange(order.size, dtype=np.float64)
    eta = eta0 * (t + 2.0) ** (-power)
    per_sample = np.array([math.fsum(eta[order == i]) for i in range(n)])
    return per_sample @ np.sign(Z)


REPLACED_STATE = [
    fb.IncSignum(beta=0.0),
    fb.IncAdam(beta1=0.0, beta2=0.0),
    fb.SignGD(batch_size=1),
]


@pytest.mark.parametrize("sampling", ["cyclic", "reshuffle"])
@pytest.mark.parametrize("optimizer", REPLACED_STATE, ids=repr)
def test_state_replaced_by_each_gradient_has_a_closed_form(optimizer, sampling):
    epochs = 2_000 if JIT_DISABLED else 100_000
    params = optimizer.to_dict()
    params.pop("name")
    opt = type(optimizer)(**{**params, "sampling": sampling})
    tr = fb.simulate(GAUSS, opt, lr=fb.PolynomialDecay(0.1, 0.5), epochs=epochs, seed=7, record=1)
    exact = closed_form(GAUSS.Z, epochs, sampling, seed=7)
    rel = np.abs(tr.w[-1] - exact).max() / np.abs(exact).max()
    assert rel <= 1e-10, f"relative error {rel:.2e}"
    if not JIT_DISABLED:
        # consecutive samples' derivatives differ by far more than float64's range (e^1480
        # here): a scale that followed the previous sample would skip steps (SPEC 3)
        assert np.ptp(GAUSS.Z @ tr.w[-1]) > 1000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adam_without_moments_stays_finite_and_exact_with_reshuffling(seed):
    """On these data the old scale rule left the float64 range (a FloatingPointError)."""
    data = fb.datasets.gaussian(n=20, d=50, seed=seed)
    epochs = 1_000 if JIT_DISABLED else 30_000
    tr = fb.simulate(
        data, fb.IncAdam(0.0, 0.0, sampling="reshuffle"), epochs=epochs, seed=5, record=1
    )
    exact = closed_form(data.Z, epochs, "reshuffle", seed=5)
    assert np.abs(tr.w[-1] - exact).max() <= 1e-10 * np.abs(exact).max()


SCALE_INVARIANT = [
    fb.IncAdam(),
    fb.IncAdam(beta1=0.5, beta2=0.6, batch_size=3, sampling="reshuffle"),
    fb.IncAdam(beta1=0.0, beta2=0.0),
    fb.IncAdam(bias_correction=True, weight_decay=0.01),
    fb.DetAdam(),
    fb.RMSProp(),
    fb.AdaGrad(),
    fb.Lion(),
    fb.Lion(beta1=0.0, beta2=0.9, weight_decay=0.1, batch_size=2),
    fb.IncSignum(),
    fb.IncSignum(beta=0.0, sampling="replacement"),
    fb.SignGD(),
    fb.SignGD(batch_size=1),
    fb.NormalizedGD(),
    fb.AdamProxy(),
    fb.SpectralDescent(batch_size=2),
    fb.Muon(),
    fb.Muon(momentum=0.5, nesterov=True, batch_size=1),
    fb.IncAdam(amsgrad=True),
    fb.DetAdam(amsgrad=True, bias_correction=True),
    fb.NAdam(),
    fb.NAdam(beta1=0.5, beta2=0.9, batch_size=2),
    fb.AdaBelief(),
    fb.AdaBelief(beta1=0.5, beta2=0.9, batch_size=None),
    fb.Adamax(),
    fb.Adamax(beta1=0.0, batch_size=3, sampling="reshuffle"),
    *[fb.SteepestDescent(norm=p) for p in (1.0, 1.5, 3.0, float("inf"))],
    fb.SteepestDescent(norm=1.5, momentum=0.9, batch_size=1),
    fb.SteepestDescent(norm=3.0, momentum=0.5, batch_size=2, sampling="reshuffle"),
    fb.LossNormalizedGD(),
    fb.LossNormalizedGD(batch_size=2),
]
SMALL = fb.datasets.gaussian(n=6, d=8, seed=4)


def scaled(data, factor):
    return fb.Dataset(data.X * factor, data.y)


@pytest.mark.parametrize("factor", [1e-150, 1e10, 1e150])
@pytest.mark.parametrize("optimizer", SCALE_INVARIANT, ids=repr)
def test_scale_invariant_rules_at_extreme_data_scales(optimizer, factor):
    data = scaled(SMALL, factor)
    params = optimizer.to_dict()
    name = params.pop("name")
    lr = fb.PolynomialDecay(0.1, 0.5)
    tr = fb.simulate(data, optimizer, lr=lr, epochs=4, seed=2, record=[0, 1, 2, 3, 4])
    ref = history_reference(data.Z, name, params, epochs=4, lr=("poly", 0.1, 0.5), seed=2)
    assert np.all(np.isfinite(tr.w))
    err = np.abs(tr.w - ref).max(axis=1) / np.maximum(np.abs(ref).max(axis=1), 1e-300)
    assert err.max() <= 1e-12, f"relative errors per epoch {err}"


@pytest.mark.parametrize("factor", [1e-300, 1e300])
@pytest.mark.parametrize(
    "optimizer", [fb.NormalizedGD(), fb.AdamProxy(), fb.SignGD(), fb.SpectralDescent()], ids=repr
)
def test_stateless_rules_over_the_whole_float64_range(optimizer, factor):
    data = scaled(SMALL, factor)
    params = optimizer.to_dict()
    name = params.pop("name")
    tr = fb.simulate(data, optimizer, epochs=6, record=list(range(7)))
    ref = history_reference(data.Z, name, params, epochs=6, lr=("poly", 0.1, 0.5))
    assert np.all(np.diff(tr.w, axis=0).any(axis=1))  # moves at every epoch
    np.testing.assert_allclose(tr.w, ref, rtol=1e-12, atol=0)


def test_history_reference_agrees_with_the_step_reference_at_ordinary_scales():
    """The two references are independent; where float64 suffices they must agree."""
    for optimizer in SCALE_INVARIANT:
        params = optimizer.to_dict()
        name = params.pop("name")
        kw = dict(epochs=5, lr=("poly", 0.1, 0.5), seed=3)
        a = history_reference(SMALL.Z, name, params, **kw)
        b = run_reference(SMALL.Z, name, params, **kw)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=fb.PolynomialDecay(eta0=1e10)), dict(w0=1e10 * np.ones(8))],
    ids=["huge lr", "huge w0"],
)
def test_huge_learning_rate_or_start_stays_exact(kwargs):
    params = fb.IncAdam().to_dict()
    params.pop("name")
    eta0 = kwargs["lr"].eta0 if "lr" in kwargs else 0.1
    tr = fb.simulate(SMALL, fb.IncAdam(), epochs=3, record=[0, 1, 2, 3], **kwargs)
    ref = history_reference(
        SMALL.Z, "IncAdam", params, epochs=3, lr=("poly", eta0, 0.5), w0=kwargs.get("w0")
    )
    np.testing.assert_allclose(tr.w, ref, rtol=1e-12)


def test_unrepresentable_start_is_refused_before_any_work():
    w0 = np.zeros(50)
    w0[0] = 1.7e308
    with pytest.raises(ValueError, match=r"w0 is too large for these data: its scores"):
        fb.simulate(GAUSS, fb.AdamProxy(), epochs=3, w0=w0)


@pytest.mark.parametrize("factor", [1e-155, 1e200, 2.0**-500])
def test_fixed_point_at_extreme_scales_is_the_unscaled_direction(factor):
    base = fb.fixed_point(SMALL)
    fp = fb.fixed_point(scaled(SMALL, factor))
    assert fp.converged and np.all(np.isfinite(fp.w))
    assert np.linalg.norm(fp.w) == pytest.approx(1.0, rel=1e-14)
    assert fp.w @ base.w == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(fp.c, base.c, atol=1e-8)


@pytest.mark.parametrize("p", [1, 2, np.inf])
@pytest.mark.parametrize("factor", [1e-155, 1e200])
def test_max_margin_at_extreme_scales_is_the_unscaled_direction(p, factor):
    base = fb.max_margin(SMALL, p)
    mm = fb.max_margin(scaled(SMALL, factor), p)
    assert mm.margin == pytest.approx(base.margin * factor, rel=1e-8)
    ratio = fb.margin_ratio(SMALL, mm.w, p, gamma_star=base.margin)
    assert ratio == pytest.approx(1.0, abs=1e-8)


BETAS = st.one_of(st.just(0.0), st.floats(0.0, 0.999))


def least_float_at_least_square(b1: float) -> float:
    """The smallest float64 >= b1**2 in exact arithmetic (``b1 * b1`` may round down or
    underflow to 0: with b1 > 0 and b2 = 0, b1**2 > b2 and Adam's steps are unbounded)."""
    low = b1 * b1
    while Fraction(low) < Fraction(b1) ** 2:
        low = math.nextafter(low, math.inf)
    return low


@st.composite
def bounded_adam_betas(draw):
    """(b1, b2) in [0, 1) with b1**2 <= b2 exactly (bounded steps), exactly 0 included."""
    b1 = draw(BETAS)
    if not b1:
        return b1, draw(BETAS)
    low = least_float_at_least_square(b1)
    return b1, draw(st.one_of(st.just(low), st.floats(low, 0.999)))


def test_the_beta_strategy_keeps_the_steps_bounded():
    """b1 = 5e-324 with b2 = b1 * b1 = 0.0 is unbounded Adam: the old strategy drew it."""
    assert least_float_at_least_square(5e-324) == 5e-324
    assert least_float_at_least_square(0.5) == 0.25
    b1 = 0.1 + 2e-17  # its square rounds down in float64
    assert Fraction(least_float_at_least_square(b1)) >= Fraction(b1) ** 2
    assert not fb.optimizers.unbounded_moments(b1, least_float_at_least_square(b1))
    assert fb.optimizers.unbounded_moments(5e-324, 0.0)


def record_errors(w, ref):
    """Largest error of each record relative to the largest entry of the reference record.

    Not entry by entry: an entry of w is a sum of signed steps that may nearly cancel, and
    its own relative error is then amplified by the cancellation (measured: up to 1.3e-11
    at data scale 1e100, where the record's error relative to its largest entry is 3e-14).
    """
    top = np.abs(ref).reshape(len(ref), -1).max(axis=1)
    diff = np.abs(w - ref).reshape(len(ref), -1).max(axis=1)
    return diff[1:] / top[1:]


@given(
    betas=bounded_adam_betas(),
    beta=BETAS,
    sampling=st.sampled_from(["cyclic", "reshuffle"]),
    factor=st.sampled_from([1e-100, 1.0, 1e100]),
)
def test_any_beta_in_zero_one_is_exact(betas, beta, sampling, factor):
    data = scaled(SMALL, factor)
    adam = fb.IncAdam(*betas, sampling=sampling)
    for optimizer in (adam, fb.IncSignum(beta, sampling=sampling)):
        params = optimizer.to_dict()
        name = params.pop("name")
        tr = fb.simulate(data, optimizer, epochs=3, seed=1, record=[0, 1, 2, 3])
        ref = history_reference(data.Z, name, params, epochs=3, lr=("poly", 0.1, 0.5), seed=1)
        assert np.all(tr.w[0] == 0) and np.all(ref[0] == 0)
        err = record_errors(tr.w, ref)
        assert err.max() <= 1e-12, f"{optimizer!r}: relative errors per epoch {err}"


TINY_MOMENTUM = [
    fb.IncSignum(beta=2.225073858507203e-309),
    fb.IncSignum(beta=5e-324),
    fb.IncAdam(beta1=2.2e-309, beta2=0.5),
    fb.IncAdam(beta1=1e-200, beta2=1e-300),
]


@pytest.mark.parametrize("factor", [1e-100, 1.0, 1e100])
@pytest.mark.parametrize("optimizer", TINY_MOMENTUM, ids=repr)
def test_a_tiny_momentum_is_exact(optimizer, factor):
    """A state entering with beta = 1e-309 is stored far above what enters; scaling it until
    beta * |m| was 1 overflowed m (30% off at data scale 1e100, found by Hypothesis)."""
    data = scaled(SMALL, factor)
    params = optimizer.to_dict()
    name = params.pop("name")
    tr = fb.simulate(data, optimizer, epochs=3, seed=1, record=[0, 1, 2, 3])
    ref = history_reference(data.Z, name, params, epochs=3, lr=("poly", 0.1, 0.5), seed=1)
    assert record_errors(tr.w, ref).max() <= 1e-12


def test_unbounded_adam_warns():
    with pytest.warns(fb.UnboundedStepWarning, match=r"IncAdam\(beta1=0.9, beta2=0.5\)"):
        fb.IncAdam(beta1=0.9, beta2=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fb.IncAdam(beta1=0.9, beta2=0.5, eps=1e-8)  # eps bounds the step: no warning
        fb.IncAdam(beta1=0.9, beta2=0.81)


def test_unbounded_nadam_and_adamax_warn_on_their_own_conditions():
    with pytest.warns(fb.UnboundedStepWarning, match=r"NAdam\(beta1=0.9, beta2=0.5\): beta1\*\*2"):
        fb.NAdam(beta1=0.9, beta2=0.5)
    # Adamax: u decays like beta2**k, m like beta1**k: unbounded iff beta1 > beta2
    with pytest.warns(fb.UnboundedStepWarning, match=r"beta1 > beta2, so \|m\| / u"):
        fb.Adamax(beta1=0.9, beta2=0.85)  # beta1**2 <= beta2, still unbounded
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fb.NAdam(beta1=0.9, beta2=0.5, eps=1e-8)
        fb.Adamax(beta1=0.9, beta2=0.9)
        fb.AdaBelief(beta1=0.9, beta2=0.5)  # s follows (g - m)^2: no growth after a spike
