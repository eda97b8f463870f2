"""Batch paths against plain compiled peers (see ``bench/batch_peers.py``).

Run with ``pytest bench/test_batch_peers.py -s``; ``FASTBIAS_BENCH_SHAPES=10x50,100x200`` to
choose the shapes. Every peer is checked against fastbias before it is timed.
"""

import os

import pytest
from batch_peers import measure

SHAPES = os.environ.get("FASTBIAS_BENCH_SHAPES", "10x50,100x200").split(",")


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_paths_against_plain_peers(benchmark, shape):
    n, d = (int(x) for x in shape.split("x"))
    rows = measure(n, d, rounds=5)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # the timings are our own
    for _, label, steps, ours, peers in rows:
        benchmark.extra_info[f"{label} ns_per_step"] = ours
        text = "  ".join(f"{k} {v:.1f} ({ours / v:.2f}x)" for k, v in peers.items())
        print(f"\n{shape} {label}: fastbias {ours:.1f} ns/step over {steps} steps; {text}")
