"""Many independent runs: throughput of fb.sweep on all cores versus one core.

Run with ``pytest bench/test_throughput.py -s``. The process pool is started and warmed up
before timing (workers load the cached kernels), so the ratio measures the runs themselves.
"""

import concurrent.futures as cf
import multiprocessing as mp
import os
import time

import fastbias as fb


def _configs(count):
    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    return fb.grid(
        data=data, optimizer=fb.IncAdam(sampling="reshuffle"), epochs=300_000,
        seed=list(range(count)), record=1,
    )


def test_sweep_throughput_scales_with_cores(benchmark):
    workers = os.cpu_count() or 1
    configs = _configs(4 * workers)
    fb.warmup()
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) as pool:
        for f in [pool.submit(fb.warmup) for _ in range(2 * workers)]:
            f.result()
        start = time.perf_counter()
        parallel = fb.sweep(configs, executor=pool)
        t_parallel = time.perf_counter() - start
    start = time.perf_counter()
    serial = benchmark.pedantic(fb.sweep, args=(configs,), kwargs={"executor": "serial"},
                                rounds=1, iterations=1)
    t_serial = time.perf_counter() - start
    assert not parallel.failed and not serial.failed
    for a, b in zip(parallel.trajectories, serial.trajectories, strict=True):
        assert (a.w == b.w).all()
    speedup = t_serial / t_parallel
    benchmark.extra_info.update(
        workers=workers, configs=len(configs), serial_s=t_serial, parallel_s=t_parallel,
        speedup=speedup,
    )
    print(f"\n{len(configs)} runs: serial {t_serial:.2f} s, {workers} processes "
          f"{t_parallel:.2f} s, speed-up {speedup:.2f}x")
