"""Loss-normalized GD, ``w -= eta grad L / L`` (SPEC 12): exact where float64 gives 0/0.

The reference comparisons (short horizons, margins near 1000, data scales 1e-150..1e150) run
with every other optimizer in test_optimizers.py, test_long_horizon_families.py and
test_edges.py; here: what plain float64 does, and the growth of the margins.
"""

import numpy as np

import fastbias as fb

GAUSS = fb.datasets.gaussian(n=10, d=50, seed=0)


def plain_float64(Z, w, eta, steps):
    """The textbook loop: grad L / L with float64 losses (0/0 once every exp(-s) is 0)."""
    for _ in range(steps):
        e = np.exp(-(Z @ w))
        with np.errstate(invalid="ignore"):
            w = w + eta * (e[:, None] * Z).mean(axis=0) / e.mean()
    return w


def test_it_runs_where_float64_gives_zero_over_zero():
    tr = fb.simulate(GAUSS, fb.LossNormalizedGD(), epochs=6000, record=[2000, 6000])
    margins = tr.min_margin
    assert margins[0] > 745  # exp(-745) is 0 in float64 past here
    assert np.all(np.isfinite(tr.w)) and margins[1] > margins[0] + 500
    w_plain = plain_float64(GAUSS.Z, tr.w[0], 0.1, 5)
    assert np.all(np.isnan(w_plain))


def test_its_margins_grow_linearly_where_gd_s_grow_like_log_t():
    lngd = fb.simulate(GAUSS, fb.LossNormalizedGD(), epochs=10**4, record=[10**3, 10**4])
    gd = fb.simulate(GAUSS, fb.GD(), epochs=10**4, record=[10**3, 10**4])
    ratio = lngd.min_margin[1] / lngd.min_margin[0]
    assert 8.0 < ratio < 12.0  # 10x the epochs, about 10x the margin
    assert gd.min_margin[1] < 3 * gd.min_margin[0]
