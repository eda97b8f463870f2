"""``fastbias run`` and ``fastbias resume``: one simulation.

Its trajectory file and its summary table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._args import nonnegative_int, positive_float, positive_int, progress_default
from ._data import add_data_arguments, data_text, dataset_of
from ._files import output_file, run_simulation, save_trajectory, trajectory_next_to
from ._registry import (
    add_model_arguments,
    add_optimizer_arguments,
    add_optimizer_options,
    all_losses,
    loss_of,
    model_of,
    optimizer_of,
    schedule_of,
)
from ._report import add_report_arguments, print_report


def add_import_argument(parser: argparse.ArgumentParser) -> None:
    """``--import MODULE``: a module that registers optimizers or losses (read before parsing)."""
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module (a name on the Python path, or a .py file) first: the "
        "optimizers and losses it registers can then be named (repeatable; needed to resume "
        "a checkpoint of an optimizer of your own)",
    )


def run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastbias run``: data, optimizer, run, report."""
    add_import_argument(parser)
    add_data_arguments(parser)
    add_optimizer_arguments(parser)
    add_model_arguments(parser)
    group = parser.add_argument_group("run")
    group.add_argument(
        "--epochs",
        type=positive_int,
        default=10_000,
        metavar="N",
        help="passes over the data (default: 10000; 1e6 style accepted)",
    )
    group.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of the sample orders (default: 0)"
    )
    group.add_argument(
        "--loss",
        choices=all_losses(),
        default=None,
        help="binary data: exp (default) or logistic; multiclass data: ce (default) or exp",
    )
    group.add_argument(
        "--record",
        type=positive_int,
        default=20,
        metavar="K",
        help="records per decade of epochs, on a fixed log-spaced grid (the "
        "distinct round(10^(j/K))), plus the last epoch (default: 20)",
    )
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.npz",
        help="where to write the trajectory (default: trajectory.npz, or "
        "<checkpoint name>.trajectory.npz next to the checkpoint)",
    )
    group.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="FILE.npz",
        help="save the complete run state here, atomically, every "
        "--checkpoint-every seconds, at the end and on SIGINT/SIGTERM; if "
        "the file holds this run, continue it (a checkpoint of another run "
        "is refused, never overwritten)",
    )
    group.add_argument(
        "--checkpoint-every",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between checkpoints (default: 60)",
    )
    add_threads_argument(group)
    group.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="FILE.npz",
        help="continue the run saved in this checkpoint, given the same "
        "arguments (writes to --checkpoint if given); `fastbias resume "
        "FILE` needs no arguments",
    )
    add_report_arguments(group)
    parser.set_defaults(
        optimizer_flags=add_optimizer_options(
            parser.add_argument_group(
                "optimizer options (from the registry; each applies to the "
                "optimizers named in its help)"
            )
        )
    )


def resume_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastbias resume``."""
    add_import_argument(parser)
    parser.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT.npz",
        help="a checkpoint written by `fastbias run --checkpoint` or "
        "fastbias.simulate(checkpoint=...)",
    )
    group = parser.add_argument_group("run")
    group.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        metavar="N",
        help="horizon, at least the epochs done (default: the stored target); "
        "larger extends the run",
    )
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.npz",
        help="where to write the trajectory (default: next to the checkpoint, "
        "<checkpoint name>.trajectory.npz)",
    )
    group.add_argument(
        "--checkpoint-every",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between checkpoints (default: 60)",
    )
    add_threads_argument(group)
    add_report_arguments(group)


def add_threads_argument(group) -> None:
    """``--threads``: threads of full-batch steps (``simulate(threads=...)``)."""
    group.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="threads for the passes over the data of full-batch steps (same results "
        "bitwise; worth it on large data; default: 1)",
    )


def _saved_epoch(path) -> int | None:
    """The epoch saved in a checkpoint, or None if there is none (simulate says why)."""
    import fastbias as fb

    try:
        return int(fb.checkpoint_info(path)["epoch"])
    except (ValueError, OSError, KeyError, TypeError):
        return None


def _run_paths(args):
    """Check every output of ``run`` against the inputs, before any work."""
    from .._io import npz_path, output_path, resolve_npz_path, same_file

    resumed = resolve_npz_path(args.resume) if args.resume is not None else None
    checkpoint = None
    if args.checkpoint is not None:
        # the one allowed pair: a checkpoint that is both resumed and written
        own = resumed is not None and same_file(resumed, npz_path(args.checkpoint))
        inputs = [("--data-file", args.data_file)]
        if resumed is not None and not own:
            inputs.append(("--resume checkpoint", resumed))
        if Path(args.checkpoint).is_dir():
            raise ValueError(
                f"--checkpoint {str(args.checkpoint)!r} is a folder; give a file path."
            )
        checkpoint = output_path(args.checkpoint, "--checkpoint", inputs=inputs, npz=True)
        if resumed is not None and not own and checkpoint.exists():
            raise ValueError(
                f"--checkpoint {str(checkpoint)!r} exists and is not the resumed "
                "checkpoint: refusing to overwrite it; choose another path."
            )
    out = args.out
    if out is None:
        anchor = args.checkpoint if args.checkpoint is not None else args.resume
        out = Path("trajectory.npz") if anchor is None else trajectory_next_to(anchor)
    out = output_file(
        out,
        "--out",
        inputs=[
            ("--data-file", args.data_file),
            ("--resume checkpoint", resumed),
            ("--checkpoint", args.checkpoint),
        ],
    )
    return out, checkpoint


def run(args) -> int:
    """``fastbias run``: simulate (or continue), save the trajectory, print the table."""
    out, checkpoint = _run_paths(args)
    data = dataset_of(args)
    optimizer = optimizer_of(args)
    lr = schedule_of(args, optimizer)
    loss = loss_of(args, data)
    model = model_of(args)
    resume = args.resume if args.resume is not None else (True if checkpoint else None)
    source = checkpoint if resume is True else resume
    resumed_at = _saved_epoch(source) if source is not None else None
    start = time.perf_counter()
    tr = run_simulation(
        checkpoint,
        data=data,
        optimizer=optimizer,
        lr=lr,
        epochs=args.epochs,
        loss=loss,
        seed=args.seed,
        record=args.record,
        model=model,
        progress=progress_default(args.progress),
        checkpoint_every=args.checkpoint_every,
        resume=resume,
        threads=args.threads,
    )
    seconds = time.perf_counter() - start
    path = save_trajectory(tr, out)
    print_report(
        tr,
        data,
        data_text=data_text(args, data),
        optimizer=optimizer,
        lr=lr,
        loss=loss,
        seed=args.seed,
        epochs=args.epochs,
        resumed_at=resumed_at,
        seconds=seconds,
        path=path,
        checkpoint=checkpoint,
        references=args.references,
        rows=args.rows,
    )
    return 0


def resume(args) -> int:
    """``fastbias resume``: continue or extend a checkpointed run from the file alone."""
    from .._io import resolve_npz_path
    from ..checkpoints import rebuild_run

    checkpoint = resolve_npz_path(args.checkpoint)
    if not checkpoint.exists():
        raise FileNotFoundError(f"checkpoint file {str(checkpoint)!r} does not exist.")
    if checkpoint.is_dir():
        raise ValueError(f"checkpoint {str(checkpoint)!r} is a folder, not a checkpoint file.")
    out = output_file(
        args.out if args.out is not None else trajectory_next_to(checkpoint),
        "--out",
        inputs=[("resumed checkpoint", checkpoint)],
    )
    run = rebuild_run(checkpoint)
    epochs = run["epochs"] if args.epochs is None else args.epochs
    resumed_at = _saved_epoch(checkpoint)
    start = time.perf_counter()
    tr = run_simulation(
        checkpoint,
        data=run["data"],
        optimizer=run["optimizer"],
        lr=run["lr"],
        epochs=epochs,
        loss=run["loss"],
        seed=run["seed"],
        record=run["record"],
        w0=run["w0"],
        model=run["model"],
        theta0=run["theta0"],
        progress=progress_default(args.progress),
        checkpoint_every=args.checkpoint_every,
        resume=checkpoint,
        threads=args.threads,
    )
    seconds = time.perf_counter() - start
    path = save_trajectory(tr, out)
    print_report(
        tr,
        run["data"],
        data_text=run["data"].label,
        optimizer=run["optimizer"],
        lr=run["lr"],
        loss=run["loss"],
        seed=run["seed"],
        epochs=epochs,
        resumed_at=resumed_at,
        seconds=seconds,
        path=path,
        checkpoint=checkpoint,
        references=args.references,
        rows=args.rows,
    )
    return 0
