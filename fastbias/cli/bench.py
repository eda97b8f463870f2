"""``fastbias bench``: ns per step of every registered optimizer.

Beside references timed in the same process; with ``--startup``, the start-up time of fresh
interpreters instead.
"""

from __future__ import annotations

import argparse
import sys

from ._args import positive_float, positive_int, shape


def bench_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``fastbias bench``."""
    from ..benchmarks import SHAPES, bench_optimizers

    shapes = " ".join(f"{n}x{d}" for n, d in SHAPES)
    p.add_argument(
        "--shapes",
        nargs="+",
        type=shape,
        default=None,
        metavar="NxD",
        help=f"data shapes (default: {shapes})",
    )
    names = list(bench_optimizers())
    p.add_argument(
        "--optimizers",
        nargs="+",
        default=None,
        choices=names,
        metavar="NAME",
        help=f"optimizers of the table, as in `run --optimizer` (default: all of "
        f"{', '.join(names)})",
    )
    p.add_argument(
        "--loss",
        nargs="+",
        default=["exp"],
        choices=("exp", "logistic"),
        help="loss functions (default: exp)",
    )
    p.add_argument(
        "--budget",
        type=positive_float,
        default=0.2,
        metavar="SECONDS",
        help="approximate duration of one timed call (default 0.2)",
    )
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=None,
        help="timed calls per entry; the best is reported (default 3, with --startup 7)",
    )
    p.add_argument(
        "--startup",
        action="store_true",
        help="time the start-up of fresh interpreters instead: import, data and a first "
        "simulation with warm caches, beside `import numpy, numba` and Numba's own floor",
    )


def bench(args) -> int:
    """``fastbias bench``: print the table of ns per step (or of start-up times)."""
    from ..benchmarks import SHAPES, bench_optimizers, benchmark_table

    if args.startup:
        return _startup(7 if args.rounds is None else args.rounds)

    shapes = SHAPES if args.shapes is None else tuple(args.shapes)
    optimizers = {
        name: opt
        for name, opt in bench_optimizers().items()
        if args.optimizers is None or name in args.optimizers
    }
    print(
        "timing (each entry: one untimed warm-up call, then the best of --rounds) ...",
        file=sys.stderr,
        flush=True,
    )
    rows = benchmark_table(
        shapes=shapes,
        optimizers=optimizers,
        losses=tuple(args.loss),
        budget=args.budget,
        rounds=3 if args.rounds is None else args.rounds,
    )
    refs = [key[: -len("_ns_per_step")] for key in rows[0] if key.endswith("_ns_per_step")]
    header = ["shape", "optimizer", "loss", "ns/step", "ns/coord", "x floor"]
    header += [f"{ref} ns/step" for ref in refs] + [f"x {ref}" for ref in refs]
    table = [header]
    for row in rows:
        diverged = row.get("diverged", False)
        table.append(
            [
                row["shape"],
                row["optimizer"],
                row["loss"],
                "diverged" if diverged else f"{row['ns_per_step']:.0f}",
                "-" if diverged else f"{row['ns_per_coordinate']:.2f}",
                "-" if diverged else f"{row['ratio_to_floor']:.2f}",
                *(f"{row[f'{ref}_ns_per_step']:.0f}" for ref in refs),
                *("-" if diverged else f"{row[f'ratio_to_{ref}']:.2f}" for ref in refs),
            ]
        )
    widths = [max(len(line[k]) for line in table) for k in range(len(header))]
    for line in table:
        print(
            "  ".join(
                cell.rjust(w) if k >= 3 else cell.ljust(w)
                for k, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print(
        "\nns per optimizer step, best of --rounds, compilation excluded. References, timed "
        "in this process:\n  plain = a textbook Numba loop of cyclic Inc-Adam (exp loss, "
        "plain float64)"
    )
    print(
        "  c     = cyclic Inc-Adam in C, one fused pass over the coordinates per step "
        "(-O3 -march=native; the faster of the 256- and 512-bit builds where AVX-512 exists)"
        if "c" in refs
        else "  (no C compiler found: no C reference)"
    )
    print(
        "The references are plain float64 and are timed only before their moments turn "
        "subnormal (which would slow them down)."
    )
    print("x ref = ns/step divided by the reference's; ns/coord = ns/step / (d * batch size).")
    print(
        f"floor = {rows[0]['floor_ns_per_coordinate']:.3f} ns per coordinate on this machine: one "
        "correctly rounded sqrt and one division, vectorized over an in-cache array (the "
        "arithmetic an Adam-type step cannot avoid); x floor = ns/coord divided by it."
    )
    if any(row.get("diverged", False) for row in rows):
        print(
            "diverged = the exact run leaves the float64 range at the optimizer's default "
            "learning rate on these data: not timed."
        )
    return 0


def _startup(rounds: int) -> int:
    """``fastbias bench --startup``: seconds of fresh interpreters, and their ratios."""
    import os

    from ..benchmarks import STARTUP_PROGRAMS, startup_timing

    print(
        f"timing fresh interpreters (one untimed run of each, then the best of {rounds}, "
        "interleaved) ...",
        file=sys.stderr,
        flush=True,
    )
    seconds = startup_timing(rounds)
    base = seconds["numpy+numba"]
    width = max(map(len, seconds))
    print(f"{'program'.ljust(width)}  seconds  x numpy+numba")
    for name, value in seconds.items():
        print(f"{name.ljust(width)}  {value:7.3f}  {value / base:13.2f}")
    print(f"\nBest of {rounds} fresh interpreters each, caches warm (compiled kernels on disk).")
    for name, code in STARTUP_PROGRAMS.items():
        print(f"  {name}: {code}")
    print(
        "numba floor: the first call of one cached trivial kernel, i.e. Numba's target "
        "initialization (with scipy.linalg, which Numba imports to look for BLAS), paid by "
        "any package on its first cached kernel."
    )
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(
            "PYTHONDONTWRITEBYTECODE is set: every process compiles the source of modules "
            "without a bytecode cache (fastbias's, if it is not installed with one)."
        )
    return 0
