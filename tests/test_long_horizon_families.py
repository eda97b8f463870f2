"""Long horizons for the optimizers beyond the paper and for multiclass data (SPEC 8, 9).

Two checks per optimizer that is invariant to the scale of the gradients: 10^6 epochs stay
finite with margins still growing, and 100 epochs started from margins near 1000 (where
every float64 loss derivative is 0) equal the NumPy reference run with every derivative
scaled by e^1000.
"""

import numpy as np
import pytest
from reference import TOL, run_reference

import fastbias as fb
from fastbias.optimizers import OPTIMIZERS

SCALE_INVARIANT = [
    cls()
    for cls in OPTIMIZERS.values()
    if cls.__module__.startswith("fastbias.") and cls().scale_invariant
]
BINARY = fb.datasets.gaussian(n=6, d=9, seed=1)
MULTICLASS = fb.datasets.gaussian_multiclass(n=6, d=9, k=3, seed=1)


def far_start(data, low=1000.0, high=1030.0):
    """A starting point whose margins lie in [low, high] (n <= d: any margins fit)."""
    rng = np.random.default_rng(3)
    if not data.multiclass:
        w0, *_ = np.linalg.lstsq(data.Z, rng.uniform(low, high, data.n), rcond=None)
        return w0
    scores = rng.uniform(0.0, 5.0, size=(data.n, data.k))
    scores[np.arange(data.n), data.y] = scores.max(axis=1) + rng.uniform(low, high, data.n)
    W0, *_ = np.linalg.lstsq(data.X, scores, rcond=None)
    return W0.T


@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
@pytest.mark.parametrize("optimizer", SCALE_INVARIANT, ids=repr)
def test_hundred_epochs_from_margins_near_1000_match_the_reference(optimizer, multiclass):
    data = MULTICLASS if multiclass else BINARY
    w0 = far_start(data)
    assert data.margins(w0).min() > 990 if multiclass else (data.Z @ w0).min() > 990
    lr = fb.PolynomialDecay(0.1, 0.5)  # given: an optimizer's default may be another
    tr = fb.simulate(data, optimizer, lr=lr, epochs=100, w0=w0, record=[0, 10, 50, 100])
    params = optimizer.to_dict()
    name = params.pop("name")
    rows, extra = (data.X, dict(labels=data.y, k=data.k)) if multiclass else (data.Z, {})
    ref = run_reference(
        rows,
        name,
        params,
        epochs=100,
        lr=("poly", 0.1, 0.5),
        w0=w0,
        log_scale=1000.0,
        loss=tr.params["loss"],
        **extra,
    )[[0, 10, 50, 100]]
    scale = np.abs(ref).reshape(4, -1).max(axis=1)
    err = np.abs(tr.w - ref).reshape(4, -1).max(axis=1) / scale
    assert err.max() <= 100 * TOL, f"relative errors {err}"
    assert np.abs(tr.w[-1] - w0).max() > 0.1  # it moved where plain float64 is frozen


# (optimizer, smallest final margin): steps of size ~eta_t make margins grow like sqrt(t),
# far past the underflow of exp(-margin)**2 (margin ~ 370); AdaGrad's accumulator keeps
# the first gradients, so its steps shrink like GD's and its margins grow like log t.
NEW_FAMILIES = [
    (fb.RMSProp(), 200),
    (fb.Lion(), 200),
    (fb.SpectralDescent(), 200),
    (fb.Muon(), 200),
    (fb.IncAdam(bias_correction=True, weight_decay=1e-4), 200),
    (fb.AdaGrad(), 3),
    (fb.SteepestDescent(norm=1.5), 200),
    (fb.NAdam(), 200),
    (fb.Adamax(), 200),
    (fb.AdaBelief(), 200),
    (fb.IncAdam(amsgrad=True), 5),  # vmax never decays: the exact run freezes (SPEC 11)
]


@pytest.mark.parametrize("optimizer, floor", NEW_FAMILIES, ids=repr)
def test_million_epochs_binary(optimizer, floor):
    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    tr = fb.simulate(data, optimizer, epochs=10**6, record=2)
    assert np.all(np.isfinite(tr.w)) and np.all(np.isfinite(tr.log_loss))
    late = tr.epochs >= 10**4
    assert np.all(np.diff(tr.min_margin[late]) > 0)  # still learning
    assert tr.min_margin[-1] > floor


@pytest.mark.parametrize(
    "optimizer, floor",
    [
        (fb.IncAdam(), 200),
        (fb.IncSignum(), 200),
        (fb.Muon(), 200),
        (fb.DetAdam(), 200),
        (fb.SteepestDescent(norm="nuclear", momentum=0.9), 150),
    ],  # rank-1 steps: 184 at 10^6
    ids=repr,
)
def test_million_epochs_multiclass(optimizer, floor):
    data = fb.datasets.gaussian_multiclass(n=6, d=12, k=3, seed=0)
    tr = fb.simulate(data, optimizer, epochs=10**6, record=2)
    assert tr.w.shape[1:] == (3, 12)
    assert np.all(np.isfinite(tr.w)) and np.all(np.isfinite(tr.log_loss))
    late = tr.epochs >= 10**4
    assert np.all(np.diff(tr.min_margin[late]) > 0)
    assert tr.min_margin[-1] > floor
