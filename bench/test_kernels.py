"""Kernel speed: ns per step for each optimizer and shape, and ratios to same-process references.

Run with ``pytest bench/test_kernels.py --benchmark-columns=min,mean,rounds``. Compilation
is excluded (a warm-up call precedes every measurement); every round starts from w = m = v = 0.
The ratios in ``extra_info`` compare with a plain Numba loop and a C kernel compiled at
benchmark time (see ``fastbias.benchmarks``), timed in the same process.
"""

import numpy as np
import pytest

import fastbias as fb
from fastbias.benchmarks import MAX_STEPS, OPTIMIZERS, SHAPES, KernelRun, reference_timings

_REFS = {}


def _references(n, d):
    if (n, d) not in _REFS:
        steps = min(MAX_STEPS, max(1, int(0.2 / (1.5e-9 * d))))
        _REFS[(n, d)] = reference_timings(n, d, steps, rounds=5)
    return _REFS[(n, d)]


def _record(benchmark, run, n, d):
    ns = benchmark.stats.stats.min / run.steps * 1e9
    coords = d * run.spec.batch_size
    benchmark.extra_info.update(
        steps=run.steps, ns_per_step=ns, ns_per_coordinate=ns / coords, shape=f"{n}x{d}"
    )
    for name, ref in _references(n, d).items():
        benchmark.extra_info[f"{name}_ns_per_step"] = ref.ns_per_step
        benchmark.extra_info[f"ratio_to_{name}"] = ns / ref.ns_per_step


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("label", list(OPTIMIZERS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_kernel_speed(benchmark, shape, label, loss):
    n, d = shape
    opt = OPTIMIZERS[label]
    per_step = 1.5e-9 * d * opt.resolve(n).batch_size
    epochs = max(1, min(MAX_STEPS, int(0.1 / per_step)) // opt.steps_per_epoch(n))
    run = KernelRun(opt, n, d, epochs, loss)
    run(*run.fresh_state())  # compile or load from the cache
    w = benchmark.pedantic(run, setup=lambda: (run.fresh_state(), {}), rounds=5)
    _record(benchmark, run, n, d)
    # the timed call is the real simulator: same final iterate as fb.simulate
    data = fb.datasets.gaussian(n=n, d=d, seed=0, check_separable=False)
    tr = fb.simulate(data, opt, epochs=epochs, loss=loss, record=1)
    np.testing.assert_array_equal(w, tr.w[-1])


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reference_speed(benchmark, shape):
    """The plain Numba reference, timed by pytest-benchmark too (for the saved report)."""
    n, d = shape
    from fastbias.benchmarks import plain_inc_adam

    Z = np.ascontiguousarray(fb.datasets.gaussian(n=n, d=d, seed=0, check_separable=False).Z)
    steps = min(MAX_STEPS, max(1, int(0.1 / (1.5e-9 * d))))
    plain_inc_adam(Z, np.zeros(d), np.zeros(d), np.zeros(d), 10, 0.1, 0.5, 0.9, 0.999)
    benchmark.pedantic(
        plain_inc_adam,
        setup=lambda: ((Z, np.zeros(d), np.zeros(d), np.zeros(d), steps, 0.1, 0.5, 0.9, 0.999), {}),
        rounds=5,
    )
    benchmark.extra_info.update(steps=steps, ns_per_step=benchmark.stats.stats.min / steps * 1e9)
