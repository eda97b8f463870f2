"""Timing of the geometry solvers (pytest-benchmark): ``pytest bench/test_geometry.py``.

Each benchmark calls the function once before timing, so that imports and the solver's
first-call costs are not measured, then checks the result after timing.
"""

import numpy as np
import pytest

from fastbias import datasets
from fastbias.geometry import fixed_point, max_margin

SIZES = [(10, 50), (100, 200)]
ROUNDS = {(10, 50): 20, (100, 200): 3}


@pytest.mark.parametrize("n, d", SIZES, ids=[f"{n}x{d}" for n, d in SIZES])
def test_fixed_point(benchmark, n, d):
    ds = datasets.gaussian(n, d, seed=0)
    fixed_point(ds)  # warm-up
    result = benchmark.pedantic(fixed_point, args=(ds,), rounds=ROUNDS[n, d], iterations=1)
    benchmark.extra_info["iterations"] = result.iterations
    benchmark.extra_info["residual"] = result.residual
    benchmark.extra_info["seconds_per_iteration"] = benchmark.stats["mean"] / (
        result.iterations + 1  # one solve per iteration plus the residual solve
    )
    assert result.converged and result.residual <= 1e-8


@pytest.mark.parametrize("p", [1.0, 2.0, np.inf], ids=["l1", "l2", "linf"])
@pytest.mark.parametrize("n, d", SIZES, ids=[f"{n}x{d}" for n, d in SIZES])
def test_max_margin(benchmark, n, d, p):
    ds = datasets.gaussian(n, d, seed=0)
    max_margin(ds, p)  # warm-up
    result = benchmark.pedantic(max_margin, args=(ds, p), rounds=ROUNDS[n, d], iterations=1)
    benchmark.extra_info["support"] = int(result.support.size)
    assert 1 - result.margin / result.margin_upper <= 1e-9
