"""Many independent runs: throughput of fb.sweep on threads, on processes and in one thread.

Run with ``pytest bench/test_throughput.py -s`` (``bench/`` is not in the default test run).
Each round times the same 8 Inc-Adam runs (10 x 50 Gaussian data, reshuffled, exp loss) with

- ``serial``: one run after the other in this thread (one core);
- ``threads``: ``fb.sweep``'s default, a pool of threads (the kernels release the GIL);
- ``processes``: ``executor="processes"`` as a user calls it, worker start-up included
  (forkserver, import, loading the cached kernels);
- ``processes (warm pool)``: a process pool started and warmed up before timing, so that
  only the runs are timed.

The variants alternate within each round and the best of ``ROUNDS`` rounds is reported,
which keeps the ratios stable on a shared machine (``FASTBIAS_BENCH_ROUNDS=5`` for more
rounds where other jobs compete for the cores). Results are checked bitwise against the
serial runs after timing.
"""

import os
import time

import pytest

import fastbias as fb
from fastbias._parallel import cpu_count, executor_for

ROUNDS = int(os.environ.get("FASTBIAS_BENCH_ROUNDS", "3"))  # more rounds on a busy machine
RUNS = 8


def _configs(epochs):
    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    return fb.grid(
        data=data,
        optimizer=fb.IncAdam(sampling="reshuffle"),
        epochs=epochs,
        seed=list(range(RUNS)),
        record=1,
    )


def _timed(configs, executor, **kwargs):
    start = time.perf_counter()
    result = fb.sweep(configs, executor, progress=False, **kwargs)
    seconds = time.perf_counter() - start
    assert not result.failed, result.table
    return seconds, result


@pytest.mark.parametrize("epochs", [10**5, 10**6])
def test_sweep_throughput_threads_vs_processes(benchmark, epochs):
    configs = _configs(epochs)
    workers = cpu_count()
    optimizer = configs[0]["optimizer"]
    fb.warmup([optimizer])
    times = {"serial": [], "threads": [], "processes": [], "processes (warm pool)": []}
    results = {}
    with executor_for("processes", workers, initializer=fb.warmup, initargs=([optimizer],)) as pool:
        for f in [pool.submit(fb.warmup, [optimizer]) for _ in range(2 * workers)]:
            f.result()
        for _ in range(ROUNDS):
            for name, executor, kwargs in (
                ("serial", "serial", {}),
                ("threads", "threads", {"max_workers": workers}),
                ("processes", "processes", {"max_workers": workers}),
                ("processes (warm pool)", pool, {}),
            ):
                seconds, results[name] = _timed(configs, executor, **kwargs)
                times[name].append(seconds)
    for name, result in results.items():
        for a, b in zip(result.trajectories, results["serial"].trajectories, strict=True):
            assert a.w.tobytes() == b.w.tobytes(), name
    best = {name: min(ts) for name, ts in times.items()}
    steps = RUNS * epochs * 10  # 10 samples, one per step
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # the timings are our own
    benchmark.extra_info.update(
        workers=workers, runs=RUNS, epochs=epochs, **{f"{k}_s": v for k, v in best.items()}
    )
    print(
        f"\n{RUNS} Inc-Adam runs of {epochs:.0e} epochs (10x50, reshuffle, exp loss), "
        f"{workers} workers, best of {ROUNDS}:"
    )
    for name, seconds in best.items():
        print(
            f"  {name:22s} {seconds:7.3f} s  {steps / seconds / 1e6:6.1f} M steps/s  "
            f"speed-up {best['serial'] / seconds:4.2f}x  (rounds: "
            f"{', '.join(f'{t:.3f}' for t in times[name])})"
        )
