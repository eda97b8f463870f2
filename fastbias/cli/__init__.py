"""The ``fastbias`` command line.

Reproduce the paper's figures, run, resume and extend simulations, inspect checkpoints,
solve the AdamProxy fixed point, time the kernels.

Examples::

    fastbias reproduce fig1                      # one figure, full horizon
    fastbias reproduce all --quick --jobs 2      # every experiment, short horizons, two threads
    fastbias run --optimizer inc-adam --epochs 1e6
    fastbias run --optimizer lion --beta1 0.95 --weight-decay 1e-3 --loss logistic
    fastbias run --data gaussian-multiclass --k 3 --optimizer muon --ns-steps 5 --epochs 1e4
    fastbias run --optimizer inc-adam --epochs 1e8 --checkpoint job.npz
    fastbias resume job.npz                      # continue from the checkpoint alone
    fastbias resume job.npz --epochs 1e9         # extend a run (same records as a direct run)
    fastbias info job.npz                        # progress and parameters of a checkpoint
    fastbias fixed-point --data gaussian
    fastbias info                                # versions, kernel cache, threads

Optimizers and their options come from the registry (:mod:`fastbias.optimizers`): every
option of every registered optimizer is a flag (``--beta1``, ``--ns-steps``,
``--bias-correction/--no-bias-correction``, ...), and an option the chosen optimizer does not
have is refused, naming those it takes.

Long runs. ``fastbias run ... --checkpoint F`` starts the run, or continues
it when F holds this run (a requeued job simply reruns its command); a checkpoint of another
run is refused and left untouched. ``fastbias resume F`` continues from the file alone (it
holds every parameter, and the data when they came from a file). SIGINT and SIGTERM during a
checkpointed run save it first and say ``saved epoch N to F``.

Output files. ``--out`` of ``run`` defaults to ``trajectory.npz``, or, when a checkpoint is
written or resumed, to ``<checkpoint name>.trajectory.npz`` next to it (``job.npz`` ->
``job.trajectory.npz``), which is also the default of ``resume``. Every output path is
checked before any computation (its folder can be created and written, it is not a folder,
it lies under no regular file) and may not be one of the command's inputs (``--data-file``,
a resumed checkpoint, or ``--checkpoint`` used as ``--out``; paths are compared after
resolving the ``.npz`` suffix and symlinks); the one allowed pair is a checkpoint that is
both resumed and written. Every file goes to a temporary name first and is then renamed.

Exit codes: 0 success; 1 the work failed (a file could not be written, the convex solver
failed, the run diverged); 2 invalid arguments or input files, reported on one line
``fastbias <command>: error: ...``; 130 SIGINT (Ctrl-C) and 143 SIGTERM (with a checkpoint,
after saving it); 141 the reader of the output went away (``fastbias ... | head``): the
command stops quietly, as a program killed by SIGPIPE would (the shell reports ``head``'s
status unless ``pipefail`` is set). ``run`` and ``resume`` print nothing to stdout before
their files are written, so a closed pipe never loses a run.

This package (one module per command, plus the argument types, data options, optimizer
options, output files and summary tables they share) is the only part of fastbias that
prints.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from collections.abc import Callable

from ._args import one_line, os_message
from .bench import bench, bench_arguments
from .fixed_point import fixed_point, fixed_point_arguments
from .info import info, info_arguments
from .reproduce import reproduce, reproduce_arguments, write_figure_files
from .run import resume, resume_arguments, run, run_arguments

__all__ = ["SUBCOMMANDS", "build_parser", "main", "write_figure_files"]

#: Exit code when stdout's reader went away (128 + SIGPIPE, as for a program killed by it).
EXIT_BROKEN_PIPE = 141


#: The subcommands: (name, one-line help, add_arguments(parser), handler(args) -> exit code).
#: A new subcommand is one more entry here.
SUBCOMMANDS: list[tuple[str, str, Callable, Callable]] = [
    (
        "reproduce",
        "reproduce the paper's figures (PNG, tidy CSV and text summary each)",
        reproduce_arguments,
        reproduce,
    ),
    (
        "run",
        "run one simulation (or continue it from --checkpoint), save its trajectory and "
        "print a summary table",
        run_arguments,
        run,
    ),
    (
        "resume",
        "continue or extend the run saved in a checkpoint, from the file alone",
        resume_arguments,
        resume,
    ),
    (
        "fixed-point",
        "solve the AdamProxy fixed point of Algorithm 3 for a dataset",
        fixed_point_arguments,
        fixed_point,
    ),
    (
        "info",
        "versions, kernel cache location and threads; or what a checkpoint holds",
        info_arguments,
        info,
    ),
    (
        "bench",
        "time the kernels in ns per step, with same-process reference loops",
        bench_arguments,
        bench,
    ),
]


def _unavailable(name: str, exc: BaseException) -> Callable:
    """Handler of a subcommand whose options could not be set up (a module being rebuilt)."""

    def handler(args) -> int:
        print(
            f"fastbias {name}: error: this command is unavailable "
            f"({type(exc).__name__}: {one_line(exc)})",
            file=sys.stderr,
        )
        return 1

    return handler


#: Options named as in other libraries, and what fastbias calls them.
_FLAG_HINTS = {
    "--betas": "give --beta1 and --beta2",
    "--lr": "give --eta0 (eta_t = eta0 (t + 2)^-power; --constant-lr for a constant rate)",
    "--learning-rate": "give --eta0 (eta_t = eta0 (t + 2)^-power; --constant-lr for a "
    "constant rate)",
    "--alpha": "RMSProp's decay rate is --beta2",
    "--batch": "give --batch-size",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``fastbias run: error: ...`` and a pointer to --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _unrecognized(extra: list[str]) -> str:
    """The message for unknown arguments, with the fastbias spelling where there is one."""
    hints = []
    for arg in extra:
        flag = arg.split("=", 1)[0]
        if flag in _FLAG_HINTS:
            hints.append(f"{flag}: {_FLAG_HINTS[flag]}")
        elif flag.startswith("--") and "_" in flag:
            hints.append(f"{flag}: options are spelled with dashes ({flag.replace('_', '-')})")
    text = f"unrecognized arguments: {' '.join(extra)}"
    return text + (f" ({'; '.join(hints)})" if hints else "")


def build_parser() -> argparse.ArgumentParser:
    """The ``fastbias`` argument parser with one subparser per entry of ``SUBCOMMANDS``.

    A subcommand whose options cannot be set up (say, an import fails) stays listed and
    reports the problem when called; the other subcommands are unaffected.
    """
    from .. import __version__

    parser = _Parser(
        prog="fastbias",
        description=(
            "Exact, fast simulation of optimizers on linearly separable data: the "
            "experiments of 'Implicit Bias of Per-sample Adam on Separable Data' "
            "(Baek, Song, Yun, ICLR 2026), and beyond (any registered optimizer, "
            "multiclass data, long runs)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"fastbias {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text, add_arguments, handler in SUBCOMMANDS:
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        try:
            add_arguments(p)
        except Exception as exc:  # noqa: BLE001 (keep the other subcommands working)
            p.description = f"Unavailable ({type(exc).__name__}: {one_line(exc)})."
            p.set_defaults(unavailable=True)  # main() then accepts any arguments for it
            handler = _unavailable(name, exc)
        p.set_defaults(handler=handler)
    return parser


def _show_warning(command: str):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fastbias {command}: warning: {one_line(message)}", file=sys.stderr)

    return show


def _silence_stdout() -> None:
    """After a broken pipe: send what is left to /dev/null (Python docs, signal module)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture it)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def import_plugins(argv) -> list[str]:
    """Import the modules named by ``--import`` before the parser is built.

    A module that registers optimizers or losses (``fastbias.extend.register``) then has its
    names and options in ``--optimizer`` and ``--loss`` and their flags. A name is imported
    as a module (``my_package.optimizers``), a path ending in ``.py`` as that file.

    Raises
    ------
    ValueError
        If a module cannot be found; an error raised while importing it propagates.
    """
    import importlib
    import importlib.util

    names = []
    for i, arg in enumerate(argv):
        if arg == "--import" and i + 1 < len(argv):
            names.append(argv[i + 1])
        elif arg.startswith("--import="):
            names.append(arg.split("=", 1)[1])
    for name in names:
        if name.endswith(".py"):
            path = os.path.abspath(name)
            if not os.path.isfile(path):
                raise ValueError(f"--import {name!r}: no such file.")
            module = os.path.splitext(os.path.basename(path))[0]
            spec = importlib.util.spec_from_file_location(module, path)
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[module] = loaded
            spec.loader.exec_module(loaded)
        else:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name.split(".")[0] and exc.name != name:
                    raise
                raise ValueError(
                    f"--import {name!r}: no module named {name!r} (give a module "
                    "on the Python path, or a path to a .py file)."
                ) from None
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the ``fastbias`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success; 2 for invalid values or input files, reported on one line
        ``fastbias <command>: error: ...`` on stderr; 1 when the work fails (a file cannot be
        written, the convex solver fails, the run diverges), also on one line; 130 / 143 on
        SIGINT / SIGTERM (a checkpointed run saves first and says ``saved epoch N to F``);
        141 when stdout's reader goes away (``fastbias ... | head``), quietly.

    Examples
    --------
    >>> main(["reproduce", "fig2", "--quick", "--out", "results"])  # doctest: +SKIP
    """
    given = sys.argv[1:] if argv is None else list(argv)
    names = {entry[0] for entry in SUBCOMMANDS}
    command = given[0] if given and given[0] in names else ""  # until parsed
    try:
        import_plugins(given)
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "unavailable", False):
            _error(
                args.command or "",
                f"{_unrecognized(extra)} (see fastbias {args.command or ''} --help)".replace(
                    "  ", " "
                ),
            )
            return 2
        if args.command is None:
            parser.print_help()
            return 2
        command = args.command
        with warnings.catch_warnings():
            warnings.simplefilter("default", UserWarning)
            warnings.showwarning = _show_warning(command)
            code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as exc:
        from ..simulate import RunInterrupted

        if isinstance(exc, RunInterrupted):
            name = signal.Signals(exc.signum).name
            _error(command, f"{name}: saved epoch {exc.epoch} to {exc.checkpoint}", "")
            return 128 + int(exc.signum)
        detail = one_line(exc) if str(exc) else ""
        _error(command, detail or "interrupted", "")
        return 128 + int(signal.SIGINT)
    except RuntimeError as exc:
        from ..geometry import SolverError

        if not isinstance(exc, SolverError):
            raise
        _error(command, one_line(exc), "solver error: ")
        return 1
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _error(command, one_line(exc))
        return 2
    except OSError as exc:
        _error(command, os_message(exc))
        return 1
    except (FloatingPointError, MemoryError, ImportError) as exc:
        _error(command, one_line(exc))
        return 1


def _error(command: str, message: str, kind: str = "error: ") -> None:
    try:
        where = f"fastbias {command}" if command else "fastbias"
        print(f"{where}: {kind}{message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr itself is gone
        pass
