"""Start-up: fresh interpreters with warm caches, beside ``import numpy, numba``.

Run with ``pytest bench/test_startup.py -s`` (``bench/`` is not in the default test run);
``fastbias bench --startup`` prints the same table. Each program of
``fastbias.benchmarks.STARTUP_PROGRAMS`` runs once untimed (filling the kernel and bytecode
caches), then ``FASTBIAS_BENCH_ROUNDS`` times (default 7), interleaved; the best is kept:

- ``numpy+numba``: ``import numpy, numba``, the reference of the ratios;
- ``numba floor``: the same and the first call of one cached trivial kernel, i.e. Numba's
  target initialization, which any package pays on its first cached kernel;
- ``import fastbias``;
- ``first simulate``: import, 10 x 50 Gaussian data and ten epochs of Inc-Adam.

Whatever fastbias loads beyond the floor is ``first simulate - numba floor``.
"""

import os

from fastbias.benchmarks import STARTUP_PROGRAMS, startup_timing

ROUNDS = int(os.environ.get("FASTBIAS_BENCH_ROUNDS", "7"))


def test_startup(benchmark):
    seconds = benchmark.pedantic(startup_timing, kwargs=dict(rounds=ROUNDS), rounds=1)
    assert list(seconds) == list(STARTUP_PROGRAMS)
    base = seconds["numpy+numba"]
    for name, value in seconds.items():
        benchmark.extra_info[f"{name} s"] = value
        benchmark.extra_info[f"{name} x numpy+numba"] = value / base
    benchmark.extra_info["fastbias beyond the floor s"] = (
        seconds["first simulate"] - seconds["numba floor"]
    )
    print()
    for name, value in seconds.items():
        print(f"{name:16s} {value:.3f} s  {value / base:.2f}x numpy+numba")
    # every program imports numpy and numba; the first simulation also imports fastbias
    assert min(seconds.values()) == base
    assert seconds["first simulate"] > seconds["import fastbias"]
