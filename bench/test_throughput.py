"""Many independent runs: throughput of fb.sweep on all cores versus one core.

Run with ``pytest bench/test_throughput.py -s``. The process pool is started and warmed up
before timing (workers load the cached kernels), so the ratio measures the runs themselves.
Serial and parallel sweeps alternate for ``ROUNDS`` rounds and the best time of each is
reported, which keeps the ratio stable on a shared machine.
"""

import concurrent.futures as cf
import multiprocessing as mp
import os
import time

import fastbias as fb

ROUNDS = 3


def _configs(count):
    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    return fb.grid(
        data=data, optimizer=fb.IncAdam(sampling="reshuffle"), epochs=1_000_000,
        seed=list(range(count)), record=1,
    )


def _timed_sweep(configs, executor):
    start = time.perf_counter()
    result = fb.sweep(configs, executor=executor)
    return time.perf_counter() - start, result


def test_sweep_throughput_scales_with_cores(benchmark):
    workers = os.cpu_count() or 1
    configs = _configs(4 * workers)
    fb.warmup()
    t_serial, t_parallel = [], []
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) as pool:
        for f in [pool.submit(fb.warmup) for _ in range(2 * workers)]:
            f.result()
        for _ in range(ROUNDS):
            seconds, parallel = _timed_sweep(configs, pool)
            t_parallel.append(seconds)
            seconds, serial = _timed_sweep(configs, "serial")
            t_serial.append(seconds)
            assert not parallel.failed and not serial.failed
            for a, b in zip(parallel.trajectories, serial.trajectories, strict=True):
                assert (a.w == b.w).all()
    best_serial, best_parallel = min(t_serial), min(t_parallel)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # the timings are our own
    speedup = best_serial / best_parallel
    benchmark.extra_info.update(
        workers=workers, configs=len(configs), serial_s=best_serial,
        parallel_s=best_parallel, speedup=speedup,
    )
    print(f"\n{len(configs)} runs of 10^6 epochs (10x50, reshuffle), best of {ROUNDS}: "
          f"serial {best_serial:.2f} s, {workers} processes {best_parallel:.2f} s, "
          f"speed-up {speedup:.2f}x (all rounds: serial "
          f"{', '.join(f'{t:.2f}' for t in t_serial)}; parallel "
          f"{', '.join(f'{t:.2f}' for t in t_parallel)})")
