"""Kernel speed: ns per step of every registered optimizer at each shape, and ratios to
same-process references (a plain Numba loop and a one-pass C kernel, see
``fastbias.benchmarks``).

Run with ``pytest bench/test_kernels.py --benchmark-columns=min,mean,rounds``. Compilation
is excluded (a warm-up call precedes every measurement) and every round starts from zero.
The references are timed only on normal floats (before their moments go subnormal).
"""

import numpy as np
import pytest

import fastbias as fb
from fastbias.benchmarks import (
    REFERENCE_EPOCHS,
    SHAPES,
    bench_optimizers,
    floor_timing,
    plain_inc_adam,
    reference_timings,
)

OPTIMIZERS = bench_optimizers()
_REFS = {}


def _references(n, d):
    if (n, d) not in _REFS:
        _REFS[(n, d)] = reference_timings(n, d, rounds=5)
    return _REFS[(n, d)]


def _epochs(opt, n, d):
    epochs = max(1, int(0.1 / (1.5e-9 * d * n * (3 if opt.full_batch else 2))))
    if opt.resolve(n).batch_size == 1:
        epochs = min(epochs, REFERENCE_EPOCHS[(n, d)])
    return epochs


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_kernel_speed(benchmark, shape, name, loss):
    n, d = shape
    opt = OPTIMIZERS[name]
    epochs = _epochs(opt, n, d)
    data = fb.datasets.gaussian(n=n, d=d, seed=0, check_separable=False)
    kwargs = dict(epochs=epochs, loss=loss, record=1, progress=False, chunk_epochs=epochs)
    first = fb.simulate(data, opt, **kwargs)  # compile or load from the cache
    tr = benchmark.pedantic(fb.simulate, args=(data, opt), kwargs=kwargs, rounds=5)
    np.testing.assert_array_equal(tr.w, first.w)  # every round computes the same run
    steps = epochs * opt.steps_per_epoch(n)
    ns = benchmark.stats.stats.min / steps * 1e9
    benchmark.extra_info.update(
        steps=steps,
        ns_per_step=ns,
        shape=f"{n}x{d}",
        ns_per_coordinate=ns / (d * opt.resolve(n).batch_size),
    )
    for ref_name, ref in _references(n, d).items():
        benchmark.extra_info[f"{ref_name}_ns_per_step"] = ref.ns_per_step
        benchmark.extra_info[f"ratio_to_{ref_name}"] = ns / ref.ns_per_step


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reference_speed(benchmark, shape):
    """The plain Numba reference, timed by pytest-benchmark too (for the saved report)."""
    n, d = shape
    Z = np.ascontiguousarray(fb.datasets.gaussian(n=n, d=d, seed=0, check_separable=False).Z)
    lrs = fb.PolynomialDecay(0.1, 0.5).rates(0, REFERENCE_EPOCHS[shape] * n)
    plain_inc_adam(Z, np.zeros(d), np.zeros(d), np.zeros(d), lrs[:10], 0.9, 0.999)
    benchmark.pedantic(
        plain_inc_adam,
        setup=lambda: ((Z, np.zeros(d), np.zeros(d), np.zeros(d), lrs, 0.9, 0.999), {}),
        rounds=5,
    )
    benchmark.extra_info.update(
        steps=lrs.size, ns_per_step=benchmark.stats.stats.min / lrs.size * 1e9
    )


def test_floor(benchmark):
    """The floor: one correctly rounded sqrt and one division per coordinate, vectorized
    over an in-cache array (Numba, and C at each vector width); kernels are reported as ns
    per coordinate over it (``fastbias bench``, column ``x floor``)."""
    timings = benchmark.pedantic(floor_timing, kwargs=dict(budget=0.05), rounds=3)
    benchmark.extra_info.update(timings)
    assert timings["floor"] == min(v for k, v in timings.items() if k != "floor")
