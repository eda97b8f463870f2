"""The ``fastbias`` command line: reproduce the paper's figures, run one simulation, solve the
AdamProxy fixed point, describe the installation.

Examples::

    fastbias reproduce fig1                      # one figure, full horizon
    fastbias reproduce all --quick --jobs 2      # all ten, short horizons, two processes
    fastbias run --optimizer inc-adam --epochs 1e6 --checkpoint state.npz
    fastbias run --optimizer inc-adam --epochs 1e6 --checkpoint state.npz --resume state.npz
    fastbias fixed-point --data gaussian
    fastbias info

This is the only module of the package that prints. Every file it writes goes to a temporary
name in the target folder first and is then renamed, so no half-written file is ever seen.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["SUBCOMMANDS", "build_parser", "main", "write_figure_files"]

_DATA_KINDS = ("gaussian", "gr", "shifted-diagonal")
_OPTIMIZERS = ("inc-adam", "det-adam", "adam-proxy", "inc-signum", "signgd", "gd", "ngd")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _progress_default(value):
    """``--progress``/``--no-progress`` if given, else on when stderr is a terminal."""
    return sys.stderr.isatty() if value is None else value


def _positive_int(text: str) -> int:
    """An integer >= 1, also written as ``1e6``."""
    try:
        value = float(text) if any(ch in text for ch in "eE.") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return int(value)


def _positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def _fmt(value: float, width: int = 11) -> str:
    if value is None or not np.isfinite(value):
        return f"{'nan' if value is not None else '-':>{width}s}"
    return f"{value:{width}.4f}" if abs(value) < 1e4 else f"{value:{width}.4g}"


# --------------------------------------------------------------------------------------------
# Shared argument groups: data, optimizer, schedule
# --------------------------------------------------------------------------------------------


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=_DATA_KINDS, default="gaussian",
                       help="generator (default: gaussian)")
    group.add_argument("--n", type=_positive_int, default=10,
                       help="samples (default: 10, ours); for shifted-diagonal also d")
    group.add_argument("--d", type=_positive_int, default=50, help="features (default: 50, ours)")
    group.add_argument("--data-seed", type=int, default=0, help="generator seed (default: 0)")
    group.add_argument("--delta", type=float, default=0.1,
                       help="shift of the shifted-diagonal data, a = linspace(1, 2, n) "
                            "(default: 0.1, ours)")
    group.add_argument("--data-file", type=Path, default=None, metavar="FILE.npz",
                       help="load X and y from a file written by Dataset.save (overrides --data)")
    group.add_argument("--no-separability-check", dest="check_separable", action="store_false",
                       help="accept data that are not linearly separable (for GD-type runs)")


def _dataset(args):
    import fastbias as fb

    check = {"check_separable": args.check_separable}
    try:
        if args.data_file is not None:
            return fb.datasets.load(args.data_file, **check)
        if args.data == "gaussian":
            return fb.datasets.gaussian(n=args.n, d=args.d, seed=args.data_seed, **check)
        if args.data == "gr":
            return fb.datasets.generalized_rademacher(n=args.n, d=args.d, seed=args.data_seed,
                                                      **check)
    except ValueError as exc:
        raise ValueError(str(exc).replace("pass check_separable=False",
                                          "pass --no-separability-check")) from None
    return fb.datasets.shifted_diagonal(np.linspace(1.0, 2.0, args.n), delta=args.delta)


def _data_text(args, data) -> str:
    if args.data_file is not None:
        return f"{args.data_file} (n={data.n}, d={data.d})"
    if args.data == "shifted-diagonal":
        return f"shifted diagonal, a = linspace(1, 2, {data.n}), delta = {args.delta}"
    return f"{args.data} n={data.n}, d={data.d}, seed={args.data_seed}"


def _add_optimizer_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("optimizer and learning rate")
    group.add_argument("--optimizer", choices=_OPTIMIZERS, default="inc-adam",
                       help="default: inc-adam (mini-batch Adam, batch size 1, cyclic)")
    group.add_argument("--beta1", type=float, default=None, help="Adam b1 (default: 0.9)")
    group.add_argument("--beta2", type=float, default=None, help="Adam b2 (default: 0.999)")
    group.add_argument("--beta", type=float, default=None,
                       help="Signum momentum (default: 0.99)")
    group.add_argument("--batch-size", type=_positive_int, default=None,
                       help="samples per step, 1..n (default: 1 for inc-adam and inc-signum, "
                            "n for the others)")
    group.add_argument("--sampling", choices=("cyclic", "reshuffle", "replacement"),
                       default=None, help="batch order (default: cyclic)")
    group.add_argument("--eta0", type=float, default=0.1,
                       help="eta_t = eta0 (t + 2)^-power (default: 0.1, ours)")
    group.add_argument("--power", type=float, default=None,
                       help="decay power (default: 0.5, ours)")
    group.add_argument("--constant-lr", action="store_true",
                       help="constant rate eta0 (always used for gd)")


#: The options each optimizer takes (the others are refused rather than ignored).
_OPTIMIZER_OPTIONS = {
    "inc-adam": ("beta1", "beta2", "batch_size", "sampling"),
    "det-adam": ("beta1", "beta2"),
    "adam-proxy": (),
    "inc-signum": ("beta", "batch_size", "sampling"),
    "signgd": ("batch_size", "sampling"),
    "gd": ("batch_size", "sampling"),
    "ngd": ("batch_size", "sampling"),
}


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _optimizer(args):
    import fastbias as fb

    name = args.optimizer
    takes = _OPTIMIZER_OPTIONS[name]
    given = {key: getattr(args, key) for key in ("beta1", "beta2", "beta", "batch_size",
                                                  "sampling") if getattr(args, key) is not None}
    refused = [key for key in given if key not in takes]
    if refused:
        allowed = ", ".join(_flag(key) for key in takes) or "no optimizer options"
        verb = "does" if len(refused) == 1 else "do"
        raise ValueError(f"{', '.join(_flag(key) for key in refused)} {verb} not apply to "
                         f"--optimizer {name} (it takes {allowed}).")
    cls = {"inc-adam": fb.IncAdam, "det-adam": fb.DetAdam, "adam-proxy": fb.AdamProxy,
           "inc-signum": fb.IncSignum, "signgd": fb.SignGD, "gd": fb.GD,
           "ngd": fb.NormalizedGD}[name]
    return cls(**given)


def _schedule(args):
    import fastbias as fb

    if args.constant_lr or args.optimizer == "gd":
        if args.power is not None:
            why = "gd runs" if args.optimizer == "gd" else "--constant-lr asks for"
            raise ValueError(f"--power does not apply: {why} a constant rate eta0.")
        return fb.Constant(args.eta0)
    return fb.PolynomialDecay(args.eta0, 0.5 if args.power is None else args.power)


def _references(data, with_fixed_point: bool = True) -> dict:
    from .geometry import fixed_point, max_margin

    refs = {"l2": max_margin(data, p=2), "linf": max_margin(data, p=np.inf)}
    if with_fixed_point:
        refs["fixed_point"] = fixed_point(data)
    return refs


# --------------------------------------------------------------------------------------------
# fastbias reproduce
# --------------------------------------------------------------------------------------------


def _reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    from .experiments import figure_names

    parser.add_argument("figures", nargs="+", metavar="FIGURE",
                        help=f"figure names ({', '.join(figure_names())}) or 'all'")
    parser.add_argument("--out", type=Path, default=Path("fastbias-figures"), metavar="DIR",
                        help="output folder (default: ./fastbias-figures)")
    parser.add_argument("--quick", action="store_true",
                        help="short horizons (each figure well under a minute)")
    parser.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                        help="horizon for every figure (overrides the registry and --quick)")
    parser.add_argument("--jobs", type=_positive_int, default=1, metavar="K",
                        help="worker processes for the independent runs (default: 1)")
    parser.add_argument("--record", type=_positive_int, default=None, metavar="K",
                        help="log-spaced records per run (default: 120, quick 60)")
    parser.add_argument("--dpi", type=_positive_int, default=100, help="PNG resolution "
                        "(default: 100)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars (default: on when writing to a terminal)")
    parser.add_argument("--quiet", action="store_true", help="do not print the summaries")


def _figure_list(names: list[str]) -> list[str]:
    from .experiments import figure_names

    known = figure_names()
    out: list[str] = []
    for name in names:
        if name == "all":
            out += known
        elif name in known:
            out.append(name)
        else:
            raise ValueError(f"figure must be one of {known} or 'all'; got {name!r}.")
    return list(dict.fromkeys(out))


def write_figure_files(result, out: Path, dpi: int = 100) -> list[Path]:
    """Write ``<fig>.png``, ``<fig>.csv`` and ``<fig>.txt`` of a reproduced figure.

    Parameters
    ----------
    result : fastbias.experiments.FigureResult
    out : path
        Folder, created if needed. Each file is written to a temporary name and renamed.
    dpi : int, default 100
        Resolution of the PNG.

    Returns
    -------
    list of Path
        The PNG (:func:`fastbias.plotting.plot_figure`), the tidy CSV (columns ``figure,
        curve, reference, metric, epoch, value``; values in shortest round-trip form) and the
        text summary (:meth:`~fastbias.experiments.FigureResult.summary`).
    """
    from ._io import atomic_write, atomic_write_text
    from .plotting import plot_figure

    out = Path(out)
    name = result.name
    fig = plot_figure(result)
    png = atomic_write(out / f"{name}.png", lambda fh: fig.savefig(fh, format="png", dpi=dpi))

    def write_csv(fh):
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("figure", "curve", "reference", "metric", "epoch", "value"))
        for row in result.rows():
            writer.writerow((*row[:5], repr(row[5])))

    table = atomic_write(out / f"{name}.csv", write_csv, mode="w")
    text = atomic_write_text(out / f"{name}.txt", result.summary())
    return [png, table, text]


def _reproduce(args) -> int:
    from .experiments import run_figures

    names = _figure_list(args.figures)
    progress = _progress_default(args.progress)
    start = time.perf_counter()
    previous = start
    for result in run_figures(names, quick=args.quick, epochs=args.epochs, jobs=args.jobs,
                              record=args.record, progress=progress):
        files = write_figure_files(result, args.out, dpi=args.dpi)
        now = time.perf_counter()
        if not args.quiet:
            print(result.summary())
        print(f"{result.name}: wrote {', '.join(str(f) for f in files)} "
              f"({now - previous:.1f} s)", flush=True)
        previous = now
    print(f"done: {len(names)} figure(s) in {time.perf_counter() - start:.1f} s")
    return 0


# --------------------------------------------------------------------------------------------
# fastbias run
# --------------------------------------------------------------------------------------------


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _add_data_arguments(parser)
    _add_optimizer_arguments(parser)
    group = parser.add_argument_group("run")
    group.add_argument("--epochs", type=_positive_int, default=10_000, metavar="N",
                       help="passes over the data (default: 10000; 1e6 style accepted)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of the sample orders (default: 0)")
    group.add_argument("--loss", choices=("exp", "logistic"), default="exp",
                       help="default: exp")
    group.add_argument("--record", type=_positive_int, default=200, metavar="K",
                       help="log-spaced records (default: 200)")
    group.add_argument("--out", type=Path, default=Path("trajectory.npz"), metavar="FILE.npz",
                       help="where to write the trajectory (default: trajectory.npz)")
    group.add_argument("--checkpoint", type=Path, default=None, metavar="FILE.npz",
                       help="save the complete run state here, atomically, every "
                            "--checkpoint-every seconds and at the end")
    group.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                       help="seconds between checkpoints (default: 60)")
    group.add_argument("--resume", type=Path, default=None, metavar="FILE.npz",
                       help="continue the run saved in this checkpoint (same arguments)")
    group.add_argument("--references", action=argparse.BooleanOptionalAction, default=True,
                       help="compare with the l_2 / l_inf max-margin directions and the fixed "
                            "point (default: on)")
    group.add_argument("--rows", type=_positive_int, default=8,
                       help="rows of the printed table (default: 8)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar (default: on when writing to a terminal)")


def _checkpoint_epoch(path) -> int | None:
    """The epoch saved in a checkpoint, or None if it cannot be read (simulate says why)."""
    from ._io import load_npz

    try:
        return int(load_npz(path, "checkpoint", ("counters",))["counters"][0])
    except (ValueError, FileNotFoundError, IndexError):  # simulate() reports it precisely
        return None


def _table_rows(epochs: np.ndarray, k: int) -> np.ndarray:
    """Indices of up to k recorded epochs, log-spaced, always including the last."""
    positive = np.flatnonzero(epochs > 0)
    if positive.size <= k:
        return positive
    grid = np.logspace(np.log10(epochs[positive[0]]), np.log10(epochs[-1]), k)
    idx = {int(positive[np.argmin(np.abs(np.log(epochs[positive] / g)))]) for g in grid}
    idx.add(int(len(epochs) - 1))
    return np.array(sorted(idx))


def _run(args) -> int:
    import fastbias as fb

    from .datasets import is_separable

    data = _dataset(args)
    optimizer = _optimizer(args)
    lr = _schedule(args)
    resumed_at = _checkpoint_epoch(args.resume) if args.resume is not None else None
    start = time.perf_counter()
    tr = fb.simulate(data, optimizer, lr=lr, epochs=args.epochs, loss=args.loss,
                     seed=args.seed, record=args.record,
                     progress=_progress_default(args.progress), checkpoint=args.checkpoint,
                     checkpoint_every=args.checkpoint_every, resume=args.resume)
    seconds = time.perf_counter() - start
    path = tr.save(args.out)
    print(f"data: {_data_text(args, data)}")
    print(f"optimizer: {optimizer!r}; lr: {lr!r}; loss: {args.loss}; seed: {args.seed}")
    if resumed_at is None:
        print(f"{args.epochs:,} epochs in {seconds:.2f} s; trajectory written to {path}")
    else:
        print(f"resumed at epoch {resumed_at:,}: {args.epochs - resumed_at:,} more epochs in "
              f"{seconds:.2f} s; trajectory written to {path}")
    if args.checkpoint is not None:
        print(f"checkpoint: {args.checkpoint}")

    gamma2 = tr.normalized_margin(2)
    gamma_inf = tr.normalized_margin(np.inf)
    columns = [("log-loss", tr.log_loss), ("gamma_2", gamma2), ("gamma_inf", gamma_inf)]
    separable = data.separability_checked or is_separable(data.Z)
    if args.references and not separable:
        print("no max-margin references: the data are not linearly separable")
    if args.references and separable:
        refs = _references(data)
        l2, linf, fp = refs["l2"], refs["linf"], refs["fixed_point"]
        print(f"l_2 max-margin gamma* = {l2.margin:.6g}; l_inf max-margin gamma* = "
              f"{linf.margin:.6g}; fixed point: {fp.iterations} iterations, residual "
              f"{fp.residual:.1e}, converged {fp.converged}")
        columns += [
            ("ratio l_2", gamma2 / l2.margin),
            ("ratio l_inf", gamma_inf / linf.margin),
            ("cos l_2", tr.cosine(l2.w)),
            ("cos l_inf", tr.cosine(linf.w)),
            ("cos fixed pt", tr.cosine(fp.w)),
        ]
    width = max(13, max(len(name) for name, _ in columns) + 1)
    print(f"{'epoch':>12s}" + "".join(f"{name:>{width}s}" for name, _ in columns))
    for i in _table_rows(tr.epochs, args.rows):
        cells = "".join(_fmt(float(values[i]), width) for _, values in columns)
        print(f"{int(tr.epochs[i]):>12,d}{cells}")
    return 0


# --------------------------------------------------------------------------------------------
# fastbias fixed-point
# --------------------------------------------------------------------------------------------


def _fixed_point_arguments(parser: argparse.ArgumentParser) -> None:
    _add_data_arguments(parser)
    group = parser.add_argument_group("iteration")
    group.add_argument("--tol", type=float, default=1e-8,
                       help="stop when ||c^(k+1) - c^k||_1 < tol (default: 1e-8)")
    group.add_argument("--max-iter", type=_positive_int, default=200,
                       help="at most this many applications of T (default: 200)")
    group.add_argument("--out", type=Path, default=None, metavar="FILE.npz",
                       help="also save c, w and the step history to this file")


def _fixed_point(args) -> int:
    from ._io import atomic_savez
    from .geometry import fixed_point, max_margin

    data = _dataset(args)
    start = time.perf_counter()
    fp = fixed_point(data, tol=args.tol, max_iter=args.max_iter)
    seconds = time.perf_counter() - start
    l2, linf = max_margin(data, p=2), max_margin(data, p=np.inf)
    w = np.asarray(fp.w)
    print(f"data: {_data_text(args, data)}")
    print(f"fixed point of T (Algorithm 3): converged {fp.converged} after {fp.iterations} "
          f"iterations in {seconds:.2f} s; residual ||T(c) - c||_1 = {fp.residual:.2e}")
    print(f"support (samples with c_i > 0): {fp.support.tolist()}")
    print("c = " + np.array2string(np.asarray(fp.c), precision=6, suppress_small=True,
                                   max_line_width=96))
    margins = data.Z @ w
    print(f"direction w (unit l_2): gamma_2(w) = {margins.min():.6g} "
          f"(ratio {margins.min() / l2.margin:.4f} of the l_2 max-margin), "
          f"gamma_inf(w) = {margins.min() / np.abs(w).max():.6g} "
          f"(ratio {margins.min() / np.abs(w).max() / linf.margin:.4f})")
    cos_l2 = float(w @ l2.w / np.linalg.norm(l2.w))
    cos_linf = float(w @ linf.w / np.linalg.norm(linf.w))
    print(f"cosine with the l_2 max-margin direction {cos_l2:.6f}, with l_inf {cos_linf:.6f}")
    if args.out is not None:
        path = atomic_savez(args.out, {"c": np.asarray(fp.c), "w": w,
                                       "history": np.asarray(fp.history),
                                       "residual": np.array(fp.residual),
                                       "converged": np.array(fp.converged)})
        print(f"written to {path}")
    return 0


# --------------------------------------------------------------------------------------------
# fastbias info
# --------------------------------------------------------------------------------------------


def _info_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "not installed"


def _info(args) -> int:
    import platform

    import numba

    import fastbias as fb

    print(f"fastbias {fb.__version__}")
    print(f"python {platform.python_version()} ({platform.python_implementation()}), "
          f"{platform.system()} {platform.machine()}")
    for name in ("numpy", "numba", "llvmlite", "scipy", "cvxpy", "clarabel", "matplotlib",
                 "tqdm"):
        print(f"  {name:<11s}{_version(name)}")
    kernels = Path(fb.__file__).parent / "_kernels"
    cache = Path(numba.config.CACHE_DIR) if numba.config.CACHE_DIR else kernels / "__pycache__"
    cached = len(list(cache.rglob("*.nbi"))) if cache.exists() else 0
    where = "NUMBA_CACHE_DIR" if numba.config.CACHE_DIR else "next to the kernel sources"
    print(f"kernel cache: {cache} ({where}; {cached} cached kernel index files)")
    jit = "disabled (NUMBA_DISABLE_JIT=1)" if numba.config.DISABLE_JIT else "enabled"
    print(f"jit: {jit}")
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        available = os.cpu_count()
    parallel = "`fastbias reproduce --jobs` or fastbias.sweep"
    print(f"threads: {os.cpu_count()} CPUs, {available} available to this process, numba "
          f"threads {numba.config.NUMBA_NUM_THREADS}; each run is sequential, runs go in "
          f"parallel with {parallel}")
    return 0


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    from .benchmarks import OPTIMIZERS, SHAPES

    shapes = " ".join(f"{n}x{d}" for n, d in SHAPES)
    p.add_argument("--shapes", nargs="+", type=_shape, default=None, metavar="NxD",
                   help=f"data shapes (default: {shapes})")
    names = [_BENCH_NAMES[name] for name in OPTIMIZERS]
    p.add_argument("--optimizers", nargs="+", default=None, choices=names, metavar="NAME",
                   help=f"optimizers of the table (default: all of {', '.join(names)})")
    p.add_argument("--loss", nargs="+", default=["exp"], choices=("exp", "logistic"),
                   help="loss functions (default: exp)")
    p.add_argument("--budget", type=_positive_float, default=0.2, metavar="SECONDS",
                   help="approximate duration of one timed call (default 0.2)")
    p.add_argument("--rounds", type=_positive_int, default=3,
                   help="timed calls per entry; the best is reported (default 3)")


#: Command-line names of the rows of the benchmark table (as in ``fastbias run --optimizer``).
_BENCH_NAMES = {"Inc-Adam b=1": "inc-adam", "Adam b=5": "adam-b5", "Det-Adam": "det-adam",
                "AdamProxy": "adam-proxy", "Inc-Signum b=1": "inc-signum", "GD": "gd"}


def _shape(text: str) -> tuple[int, int]:
    """A data shape written ``NxD`` with N, D >= 1."""
    try:
        n, d = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NxD such as 10x50; got {text!r}") from None
    if n < 1 or d < 1:
        raise argparse.ArgumentTypeError(f"expected N, D >= 1; got {text!r}")
    return n, d


def _bench(args) -> int:
    from .benchmarks import OPTIMIZERS, SHAPES, benchmark_table

    shapes = SHAPES if args.shapes is None else tuple(args.shapes)
    optimizers = {name: opt for name, opt in OPTIMIZERS.items()
                  if args.optimizers is None or _BENCH_NAMES[name] in args.optimizers}
    print("timing (each entry: one untimed warm-up call, then the best of --rounds) ...",
          file=sys.stderr, flush=True)
    rows = benchmark_table(shapes=shapes, optimizers=optimizers, losses=tuple(args.loss),
                           budget=args.budget, rounds=args.rounds)
    refs = [key[: -len("_ns_per_step")] for key in rows[0] if key.endswith("_ns_per_step")]
    header = ["shape", "optimizer", "loss", "ns/step", "ns/coord"]
    header += [f"{ref} ns/step" for ref in refs] + [f"x {ref}" for ref in refs]
    table = [header]
    for row in rows:
        table.append([row["shape"], row["optimizer"], row["loss"],
                      f"{row['ns_per_step']:.0f}", f"{row['ns_per_coordinate']:.2f}",
                      *(f"{row[f'{ref}_ns_per_step']:.0f}" for ref in refs),
                      *(f"{row[f'ratio_to_{ref}']:.2f}" for ref in refs)])
    widths = [max(len(line[k]) for line in table) for k in range(len(header))]
    for line in table:
        print("  ".join(cell.rjust(w) if k >= 3 else cell.ljust(w)
                        for k, (cell, w) in enumerate(zip(line, widths, strict=True))))
    print("\nns per optimizer step, best of --rounds, compilation excluded. References, timed "
          "in this process:\n  plain = a textbook Numba loop of cyclic Inc-Adam (exp loss, "
          "plain float64)")
    print("  c     = the same loop in C (-O3 -march=native)" if "c" in refs
          else "  (no C compiler found: no C reference)")
    print("x ref = ns/step divided by the reference's; ns/coord = ns/step / (d * batch size).")
    return 0


# --------------------------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------------------------

#: The subcommands: (name, one-line help, add_arguments(parser), handler(args) -> exit code).
#: A new subcommand is one more entry here.
SUBCOMMANDS: list[tuple[str, str, Callable, Callable]] = [
    ("reproduce", "reproduce the paper's figures (PNG, tidy CSV and text summary each)",
     _reproduce_arguments, _reproduce),
    ("run", "run one simulation, save its trajectory and print a summary table",
     _run_arguments, _run),
    ("fixed-point", "solve the AdamProxy fixed point of Algorithm 3 for a dataset",
     _fixed_point_arguments, _fixed_point),
    ("info", "versions, kernel cache location and threads", _info_arguments, _info),
    ("bench", "time the kernels in ns per step, with same-process reference loops",
     _bench_arguments, _bench),
]


def build_parser() -> argparse.ArgumentParser:
    """The ``fastbias`` argument parser with one subparser per entry of ``SUBCOMMANDS``."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="fastbias",
        description=("Exact, fast simulation of Adam-type optimizers on linearly separable "
                     "data: the experiments of 'Implicit Bias of Per-sample Adam on Separable "
                     "Data' (Baek, Song, Yun, ICLR 2026)."),
    )
    parser.add_argument("--version", action="version", version=f"fastbias {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text, add_arguments, handler in SUBCOMMANDS:
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``fastbias`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success; 2 for invalid values, reported as
        ``fastbias <command>: error: ...`` on stderr; 1 for a failed convex solve.

    Examples
    --------
    >>> main(["reproduce", "fig2", "--quick", "--out", "results"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"fastbias {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from .geometry import SolverError

        if not isinstance(exc, SolverError):
            raise
        print(f"fastbias {args.command}: solver error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fastbias {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
