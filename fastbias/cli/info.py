"""``fastbias info``: versions, the kernel cache and threads; or what a checkpoint holds."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._args import call_text


def info_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastbias info``."""
    parser.add_argument(
        "checkpoint",
        nargs="?",
        type=Path,
        default=None,
        metavar="CHECKPOINT.npz",
        help="describe this checkpoint (progress and the run's parameters) "
        "instead of the installation",
    )


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "not installed"


def info(args) -> int:
    """``fastbias info``: the installation, or what a checkpoint holds."""
    if args.checkpoint is not None:
        return _checkpoint_info(args.checkpoint)
    import platform

    import numba

    import fastbias as fb

    print(f"fastbias {fb.__version__}")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}"
    )
    for name in ("numpy", "numba", "llvmlite", "scipy", "cvxpy", "clarabel", "matplotlib", "tqdm"):
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
    print(
        f"threads: {os.cpu_count()} CPUs, {available} available to this process, numba "
        f"threads {numba.config.NUMBA_NUM_THREADS}; each run is sequential, runs go in "
        f"parallel with {parallel}"
    )
    return 0


def _checkpoint_info(path) -> int:
    """Print :func:`fastbias.checkpoint_info` of a checkpoint, one fact per line."""
    import fastbias as fb

    info = fb.checkpoint_info(path)
    done, target = info["epoch"], info["epochs"]
    share = 100.0 * done / target if target else 100.0
    state = "finished" if done >= target else "in progress"
    record = info["record"]
    record_text = (
        f"{record} per decade of epochs"
        if isinstance(record, int)
        else f"{len(record)} explicit epochs"
    )
    shape = f"n={info['n']}, d={info['d']}" + (
        f", k={info['k']}" if info["kind"] == "multiclass" else ""
    )
    origin = (
        "rebuilt from its generator"
        if info["data_source"] is not None
        else "stored in the checkpoint"
    )
    print(f"checkpoint: {info['path']}")
    print(
        f"progress: epoch {done:,} of {target:,} ({share:.1f}%, {state}); "
        f"{info['steps']:,} optimizer steps; {info['records']:,} records on the record grid "
        "(a returned trajectory adds its horizon)"
    )
    print(f"data: {info['data']} ({info['kind']}, {shape}; {origin})")
    print(f"data fingerprint: {info['data_fingerprint']}")
    print(f"optimizer: {call_text(info['optimizer'])}")
    print(f"lr: {call_text(info['lr'])}")
    print(
        f"loss: {info['loss']}; seed: {info['seed']}; record: {record_text}; w0: "
        f"{'zeros' if info['w0'] is None else 'given'}"
    )
    if done >= target:
        print(f"extend: fastbias resume {info['path']} --epochs N (N > {target:,})")
    else:
        print(f"continue: fastbias resume {info['path']}")
    return 0
