"""Every registered optimizer against its reference step, on binary and multiclass data.

The reference (``tests/reference.py``) writes each optimizer's formulas from SPEC sections
2, 8 and 9 in plain NumPy, one step at a time; the kernels must agree to ``TOL`` (1e-12
relative) after every epoch. A registered optimizer without a reference or without a case
here makes ``test_every_registered_optimizer_is_covered`` fail.

Losses: every case runs with the default loss of each kind of data (exp, ce); the other
losses (logistic, multiclass exp) run with one optimizer of each way the step loops are
built (:data:`LOSS_CASES`). The loops are compiled for each pair of rule and loss, and a
rule's functions and a loss's are independent pieces of them: the pairs tested cover every
path a loss takes through the loops, at a fraction of the compile time of all pairs.
"""

import math

import numba
import numba.extending
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import PLAIN, REFERENCE_STEPS, TOL, run_reference

import fastbias as fb
from fastbias.optimizers import OPTIMIZERS
from fastbias.optimizers.adaptive import _bias_correction

EPOCHS = 12
BINARY = fb.datasets.gaussian(n=7, d=9, seed=3)
MULTICLASS = fb.datasets.gaussian_multiclass(n=8, d=6, k=3, seed=2)

#: Options beyond the defaults (every registered optimizer also runs with its defaults).
VARIANTS = [
    fb.IncAdam(beta1=0.5, beta2=0.9, batch_size=3, sampling="reshuffle"),
    fb.IncAdam(eps=1e-3, bias_correction=True, weight_decay=0.05),
    fb.IncAdam(eps=1e-8, batch_size=2, sampling="replacement", bias_correction=True),
    fb.IncAdam(beta1=0.0, beta2=0.0),
    fb.DetAdam(eps=1e-4, bias_correction=True, weight_decay=0.01),
    fb.RMSProp(beta2=0.9, eps=1e-6, batch_size=2, sampling="reshuffle"),
    fb.AdaGrad(eps=1e-3, batch_size=None),
    fb.Lion(beta1=0.0, beta2=0.5, weight_decay=0.1, batch_size=3, sampling="replacement"),
    fb.SGD(momentum=0.5, nesterov=True, batch_size=2, sampling="reshuffle"),
    fb.IncSignum(beta=0.0, batch_size=4),
    fb.SignGD(batch_size=1, sampling="reshuffle"),
    fb.GD(batch_size=3, sampling="replacement"),
    fb.NormalizedGD(batch_size=1),
    fb.SpectralDescent(batch_size=2, sampling="reshuffle"),
    fb.Muon(momentum=0.5, nesterov=True, batch_size=1),
    fb.Muon(ns_steps=5, batch_size=3, sampling="replacement"),
    fb.IncAdam(amsgrad=True),
    fb.IncAdam(amsgrad=True, bias_correction=True, eps_root=1e-6, batch_size=2),
    fb.DetAdam(eps_root=1e-4, bias_correction=True),
    fb.DetAdam(amsgrad=True, eps=1e-8),
    fb.NAdam(beta1=0.5, beta2=0.9, batch_size=3, sampling="reshuffle"),
    fb.NAdam(eps=1e-6, batch_size=None),
    fb.AdaBelief(eps_root=1e-8, batch_size=2),
    fb.AdaBelief(beta1=0.5, eps=1e-6, batch_size=None),
    fb.Adamax(eps=1e-6, batch_size=3, sampling="replacement"),
    fb.Adamax(beta1=0.0, batch_size=None),
    *[fb.SteepestDescent(norm=p) for p in (1.0, 1.5, 3.0, float("inf"))],
    fb.SteepestDescent(norm=1.5, momentum=0.9, batch_size=1),
    fb.SteepestDescent(norm=3.0, momentum=0.5, batch_size=2, sampling="reshuffle"),
    fb.SteepestDescent(norm=1.0, momentum=0.9, batch_size=1, sampling="replacement"),
    *[fb.SteepestDescent(norm=n) for n in ("nuclear", "schatten-1.5", "schatten-3", "spectral")],
    fb.SteepestDescent(norm="schatten-3", momentum=0.9, batch_size=2, sampling="reshuffle"),
    fb.SteepestDescent(norm="nuclear", momentum=0.5, batch_size=1),
    fb.LossNormalizedGD(batch_size=3, sampling="reshuffle"),
    fb.LossNormalizedGD(batch_size=1),
    fb.LossNormalizedGD(power=0.5),
    fb.LossNormalizedGD(power=1.0 / 3.0, batch_size=2, sampling="reshuffle"),
    fb.MirrorDescent(p=1.5),
    fb.MirrorDescent(p=3.0, batch_size=2, sampling="reshuffle"),
]
BUILT_IN = [cls for cls in OPTIMIZERS.values() if cls.__module__.startswith("fastbias.")]
CASES = [cls() for cls in BUILT_IN] + VARIANTS


def lr_for(optimizer):
    """Small constant rates for the plain rules (so that nothing diverges), else the paper's."""
    if type(optimizer).__name__ in PLAIN:
        return fb.Constant(0.02), ("const", 0.02)
    return fb.PolynomialDecay(0.1, 0.5), ("poly", 0.1, 0.5)


def reference_of(data, optimizer, loss, lr, **kwargs):
    params = optimizer.to_dict()
    name = params.pop("name")
    if data.multiclass:
        return run_reference(
            data.X, name, params, epochs=EPOCHS, lr=lr, loss=loss, labels=data.y, k=data.k, **kwargs
        )
    return run_reference(data.Z, name, params, epochs=EPOCHS, lr=lr, loss=loss, **kwargs)


def assert_close(W, R, tol=TOL):
    """Every recorded iterate equals the reference to ``tol`` relative to its size."""
    assert W.shape == R.shape
    assert np.all(np.isfinite(W))
    flat_w, flat_r = W.reshape(len(W), -1), R.reshape(len(R), -1)
    scale = np.maximum(np.abs(flat_r).max(axis=1), 1e-300)
    rel = np.abs(flat_w - flat_r).max(axis=1) / scale
    assert rel.max() <= tol, f"max relative error {rel.max():.3e} at epoch {rel.argmax()}"
    return rel.max()


def test_every_registered_optimizer_has_a_reference():
    """Every optimizer of the package (those registered by tests, as in test_extend.py,
    bring their own reference); each runs below with its defaults."""
    assert BUILT_IN
    for cls in BUILT_IN:
        assert cls.__name__ in REFERENCE_STEPS, f"{cls.name}: no reference in tests/reference.py"


def matrix_only(optimizer) -> bool:
    """Schatten norms are norms of matrices: refused on binary data (tested in test_steepest)."""
    return isinstance(getattr(optimizer, "norm", None), str)


#: One optimizer for each way the loops are built: entrywise with state, with a step scale,
#: plain; normalized (three passes); matrix with state, with squares, taking the loss.
LOSS_CASES = [
    fb.IncAdam(),
    fb.IncAdam(batch_size=3, sampling="reshuffle"),
    fb.SignGD(batch_size=1),
    fb.GD(),
    fb.SteepestDescent(norm=1.5, momentum=0.9, batch_size=1),
    fb.SteepestDescent(norm=3.0),
    fb.Muon(batch_size=2),
    fb.AdamProxy(),
    fb.LossNormalizedGD(),
]


def loss_pairs(default, other):
    pairs = [(case, default) for case in CASES]
    return pairs + [(case, other) for case in LOSS_CASES]


@pytest.mark.parametrize(
    "optimizer, loss",
    [pair for pair in loss_pairs("exp", "logistic") if not matrix_only(pair[0])],
    ids=repr,
)
def test_binary_runs_match_the_reference(optimizer, loss):
    lr, ref_lr = lr_for(optimizer)
    tr = fb.simulate(
        BINARY, optimizer, lr=lr, epochs=EPOCHS, loss=loss, seed=4, record=list(range(EPOCHS + 1))
    )
    assert_close(tr.w, reference_of(BINARY, optimizer, loss, ref_lr, seed=4))


@pytest.mark.parametrize("optimizer, loss", loss_pairs("ce", "exp"), ids=repr)
def test_multiclass_runs_match_the_reference(optimizer, loss):
    lr, ref_lr = lr_for(optimizer)
    tr = fb.simulate(
        MULTICLASS,
        optimizer,
        lr=lr,
        epochs=EPOCHS,
        loss=loss,
        seed=6,
        record=list(range(EPOCHS + 1)),
    )
    assert tr.w.shape == (EPOCHS + 1, MULTICLASS.k, MULTICLASS.d)
    assert_close(tr.w, reference_of(MULTICLASS, optimizer, loss, ref_lr, seed=6))


SCALE_INVARIANT = [case for case in CASES if case.scale_invariant]


@pytest.mark.parametrize("optimizer", SCALE_INVARIANT, ids=repr)
def test_far_past_underflow_on_multiclass_data(optimizer):
    """Margins near 1000, where every float64 derivative is 0: the kernels still follow the
    recurrence (compared with the reference with every derivative scaled by e^1000)."""
    data = fb.datasets.gaussian_multiclass(n=6, d=9, k=3, seed=2)  # n <= d: any scores fit
    scores = np.random.default_rng(0).uniform(0.0, 30.0, size=(data.n, data.k))
    scores[np.arange(data.n), data.y] = 1000.0 + scores.max(axis=1)
    W0, *_ = np.linalg.lstsq(data.X, scores, rcond=None)
    W0 = W0.T
    assert np.min(data.margins(W0)) > 950
    lr, ref_lr = lr_for(optimizer)
    tr = fb.simulate(data, optimizer, lr=lr, epochs=EPOCHS, w0=W0, record=list(range(EPOCHS + 1)))
    ref = reference_of(data, optimizer, "ce", ref_lr, w0=W0, log_scale=1000.0)
    assert_close(tr.w, ref)
    assert np.abs(tr.w[-1] - W0).max() > 1e-3  # it moved
    if not getattr(optimizer, "weight_decay", 0.0):  # weight decay moves even a frozen run
        frozen = reference_of(data, optimizer, "ce", ref_lr, w0=W0)  # plain float64 does not
        assert np.array_equal(frozen[-1], W0)


# The bias corrections skip the power where ``1 - beta^(t+1)`` rounds to 1 (a bound, not a
# table): the same bits as the plain formula, in Python and compiled, on both sides of it.
SETTLING_BETAS = [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0 - 2.0**-30]


@numba.extending.register_jitable  # plain Python here, compiled inside _compiled_corrections
def _plain_correction(beta, t):
    return 1.0 - beta ** (t + 1.0)


@numba.njit
def _compiled_corrections(beta, steps):
    ours, plain = np.empty(steps.size), np.empty(steps.size)
    for i in range(steps.size):
        ours[i] = _bias_correction(beta, steps[i])
        plain[i] = _plain_correction(beta, steps[i])
    return ours, plain


@given(beta=st.floats(0.0, 1.0, exclude_max=True), t=st.integers(0, 10**15))
def test_bias_correction_is_the_plain_formula(beta, t):
    assert _bias_correction(beta, float(t)) == _plain_correction(beta, float(t))


@pytest.mark.parametrize("beta", SETTLING_BETAS)
def test_bias_correction_across_the_points_where_it_settles(beta):
    """Compiled as the kernels are: steps around the first one where ``1 - beta^(t+1)`` is
    1.0 and around the first one that skips the power (the bound's, later)."""
    if beta == 0.0:
        windows = [0.0]
    else:
        exact = math.ceil(54.0 * math.log(2.0) / -math.log(beta))  # beta^t = 2^-54
        windows = [float(exact), math.ceil(39.0 / (1.0 - beta)) - 1.0]
    steps = np.concatenate([np.arange(max(0.0, c - 2000.0), c + 2000.0) for c in windows])
    ours, plain = _compiled_corrections(beta, steps)
    assert np.array_equal(ours, plain)
    assert plain[-1] == 1.0  # where the power is skipped, the formula gives exactly 1.0
    if beta >= 0.9:  # (a small beta settles in its first steps)
        assert plain.min() < 1.0
