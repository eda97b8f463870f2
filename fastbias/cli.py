"""The ``fastbias`` command line: reproduce the paper's figures, run, resume and extend
simulations, inspect checkpoints, solve the AdamProxy fixed point, time the kernels.

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

This is the only module of the package that prints.
"""

from __future__ import annotations

import argparse
import ast
import csv
import inspect
import math
import os
import re
import signal
import sys
import time
import types
import typing
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["SUBCOMMANDS", "build_parser", "main", "write_figure_files"]

#: Exit code when stdout's reader went away (128 + SIGPIPE, as for a program killed by it).
EXIT_BROKEN_PIPE = 141
#: Matrix norms of the multiclass summary table, with their column names.
_MATRIX_NORMS = {"max": "max", "fro": "fro", "spectral": "spec"}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _progress_default(value):
    """``--progress``/``--no-progress`` if given, else on where a person watches."""
    from ._parallel import progress_default

    return progress_default() if value is None else value


def _integer(text: str, low: int | None, what: str) -> int:
    """An integer written ``123`` or ``1e6``; never OverflowError (``1e999``, ``nan``)."""
    try:
        return _check_low(int(text), low, text, what)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
    if not math.isfinite(value) or not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return _check_low(int(value), low, text, what)


def _check_low(value: int, low: int | None, text: str, what: str) -> int:
    if low is not None and value < low:
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return value


def _positive_int(text: str) -> int:
    """An integer >= 1, also written as ``1e6``."""
    return _integer(text, 1, "a positive integer")


def _nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    return _integer(text, 0, "an integer >= 0")


def _any_int(text: str) -> int:
    """Any integer (the optimizer checks its range and says which)."""
    return _integer(text, None, "an integer")


def _positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def _finite_float(text: str) -> float:
    """A finite number (the receiving object checks its range)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number; got {text!r}")
    return value


def _fmt(value: float, width: int = 11) -> str:
    """A table cell of ``width`` characters, always with a space before the number."""
    w = width - 1
    if value is None or not np.isfinite(value):
        return f" {'nan' if value is not None else '-':>{w}s}"
    return f" {value:{w}.4f}" if abs(value) < 1e4 else f" {value:{w}.4g}"


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name if it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _os_message(exc: OSError) -> str:
    """An OSError on one line without the ``[Errno N]`` prefix, naming the file if known."""
    text = exc.strerror or _one_line(exc)
    for name in (exc.filename, exc.filename2):
        if name is not None:
            text += f": {str(name)!r}"
    return " ".join(text.split())


def _call_text(params) -> str:
    """``Name(a=1, b=2)`` from a stored ``{"name": ..., ...}`` dict."""
    if not isinstance(params, dict):
        return "a plain function (not stored)" if params is None else repr(params)
    args = ", ".join(f"{key}={value!r}" for key, value in params.items() if key != "name")
    return f"{params.get('name', '?')}({args})"


# --------------------------------------------------------------------------------------------
# Output paths (nothing lost, checked before any work)
# --------------------------------------------------------------------------------------------


def _output_file(path, name: str, inputs=()) -> Path:
    """Check an ``.npz`` output path before any work; return it with its ``.npz`` suffix.

    Refused (ValueError): a folder (also when given without the suffix that would be
    added), a path under a regular file, an unwritable folder, one of ``inputs`` (after
    resolving the ``.npz`` suffix and symlinks), and an existing checkpoint or dataset file,
    which an output of another kind would destroy.
    """
    from ._io import output_path

    if Path(path).is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give a file path.")
    path = output_path(path, name, inputs=inputs, npz=True)
    kind = _fastbias_file_kind(path)
    if kind is not None:
        raise ValueError(f"{name} {str(path)!r} is an existing fastbias {kind} file: refusing "
                         "to overwrite it; choose another path.")
    return path


def _fastbias_file_kind(path: Path) -> str | None:
    """``"checkpoint"`` or ``"dataset"`` if ``path`` is such a fastbias file, else None."""
    from ._io import ArraySpec, read_npz, text_field

    if not path.is_file():
        return None
    try:
        head = read_npz(path, "file", {"format": ArraySpec("U", 0, 1)})
        tag = text_field(head["format"], "format", path)
    except (ValueError, OSError):
        return None  # not a fastbias file with a format tag: an ordinary output to replace
    if tag.startswith("fastbias-checkpoint"):
        return "checkpoint"
    if "dataset" in tag:
        return "dataset"
    return None


def _write_error(exc: OSError, what: str, path) -> OSError:
    """An OSError of a write, saying what was being written where (one line)."""
    reason = exc.strerror or _one_line(exc)
    return OSError(exc.errno, f"cannot write the {what} {str(path)!r}: {reason}")


def _simulate(checkpoint, **kwargs):
    """``fastbias.simulate``; a failed checkpoint write names the checkpoint."""
    import fastbias as fb

    try:
        return fb.simulate(checkpoint=checkpoint, **kwargs)
    except OSError as exc:
        # reading errors are ValueError / FileNotFoundError; other OSErrors are writes
        if checkpoint is None or isinstance(exc, FileNotFoundError) or exc.filename:
            raise
        raise _write_error(exc, "checkpoint", checkpoint) from None


def _save(tr, path) -> Path:
    try:
        return tr.save(path)
    except OSError as exc:
        raise _write_error(exc, "trajectory", path) from None


def _trajectory_next_to(checkpoint) -> Path:
    """``job.npz`` -> ``job.trajectory.npz`` (in the checkpoint's folder)."""
    from ._io import npz_path

    path = npz_path(checkpoint)
    return path.with_name(path.name[: -len(".npz")] + ".trajectory.npz")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

#: Command-line data generators: the ``fastbias.datasets`` function and the options it takes.
_GENERATORS = {
    "gaussian": ("gaussian", ("n", "d", "data_seed")),
    "gr": ("generalized_rademacher", ("n", "d", "data_seed")),
    "shifted-diagonal": ("shifted_diagonal", ("n", "delta")),
    "gaussian-multiclass": ("gaussian_multiclass", ("n", "d", "k", "data_seed")),
}
_DATA_OPTIONS = ("n", "d", "k", "data_seed", "delta")


def _generator_default(kind: str, option: str):
    """The default of a generator's argument, read from its signature."""
    from . import datasets

    function = getattr(datasets, _GENERATORS[kind][0])
    if kind == "shifted-diagonal" and option == "n":
        return 10  # shifted_diagonal's default a = linspace(1, 2, 10)
    key = {"data_seed": "seed"}.get(option, option)
    return inspect.signature(function).parameters[key].default


def _add_data_arguments(parser: argparse.ArgumentParser, multiclass: bool = True) -> None:
    kinds = [k for k in _GENERATORS if multiclass or k != "gaussian-multiclass"]
    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=kinds, default=None,
                       help="generator (default: gaussian); each takes the options below that "
                            "name it")
    group.add_argument("--n", type=_positive_int, default=None,
                       help="samples (default: 10 for the binary generators, ours; 30 for "
                            "gaussian-multiclass); for shifted-diagonal also d")
    group.add_argument("--d", type=_positive_int, default=None,
                       help="features (default: 50, ours; gaussian, gr, gaussian-multiclass)")
    if multiclass:
        group.add_argument("--k", type=_positive_int, default=None,
                           help="classes, >= 2 (default: 3; gaussian-multiclass)")
    group.add_argument("--data-seed", type=_nonnegative_int, default=None,
                       help="generator seed (default: 0; gaussian, gr, gaussian-multiclass)")
    group.add_argument("--delta", type=_finite_float, default=None,
                       help="shift of the shifted-diagonal data, a = linspace(1, 2, n) "
                            "(default: 0.1, ours)")
    group.add_argument("--data-file", type=Path, default=None, metavar="FILE.npz",
                       help="read the data from a file written by Dataset.save or "
                            "MulticlassDataset.save (instead of a generator)")
    group.add_argument("--no-separability-check", dest="check_separable", action="store_false",
                       help="accept data that are not linearly separable (for GD-type runs)")


def _dataset(args):
    from . import datasets

    check = {"check_separable": args.check_separable}
    given = [key for key in _DATA_OPTIONS if getattr(args, key, None) is not None]
    if args.data_file is not None:
        if args.data is not None or given:
            flags = ", ".join(_flag(key) for key in (["data"] if args.data else []) + given)
            raise ValueError(f"{flags} cannot be combined with --data-file (the file holds the "
                             "data).")
        data = _separable_hint(datasets.load, args.data_file, **check)
        return data
    kind = args.data or "gaussian"
    function, takes = _GENERATORS[kind]
    refused = [key for key in given if key not in takes]
    if refused:
        verb = "does" if len(refused) == 1 else "do"
        raise ValueError(f"{', '.join(_flag(key) for key in refused)} {verb} not apply to "
                         f"--data {kind} (it takes {', '.join(_flag(key) for key in takes)}).")
    value = {key: (getattr(args, key) if getattr(args, key) is not None
                   else _generator_default(kind, key)) for key in takes}
    if kind == "shifted-diagonal":
        return datasets.shifted_diagonal(np.linspace(1.0, 2.0, value["n"]), delta=value["delta"])
    kwargs = {("seed" if key == "data_seed" else key): v for key, v in value.items()}
    return _separable_hint(getattr(datasets, function), **kwargs, **check)


def _separable_hint(function, *args, **kwargs):
    """Call a data constructor; its separability advice names the command-line flag."""
    try:
        return function(*args, **kwargs)
    except ValueError as exc:
        raise ValueError(str(exc).replace("pass check_separable=False",
                                          "pass --no-separability-check")) from None


def _data_text(args, data) -> str:
    shape = f"n={data.n}, d={data.d}" + (f", k={data.k}" if data.multiclass else "")
    if getattr(args, "data_file", None) is not None:
        return f"{args.data_file} ({'multiclass, ' if data.multiclass else ''}{shape})"
    return data.label


def _is_separable(data) -> bool:
    if data.separability_checked:
        return True
    if data.multiclass:
        import fastbias as fb

        try:
            fb.MulticlassDataset(data.X, data.y, check_separable=True)
        except ValueError:
            return False
        return True
    from .datasets import is_separable

    return is_separable(data.Z)


# --------------------------------------------------------------------------------------------
# Optimizers and their options, from the registry
# --------------------------------------------------------------------------------------------


def _numpydoc_parameters(cls) -> dict[str, tuple[str, str]]:
    """``name -> (type line, description)`` from the Parameters section of a class docstring."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    out: dict[str, list] = {}
    start = next((i + 2 for i in range(len(lines) - 1) if lines[i].strip() == "Parameters"
                  and set(lines[i + 1].strip()) == {"-"}), None)
    if start is None:
        return {}
    names: list[str] = []
    for i in range(start, len(lines)):
        line = lines[i]
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and not line[0].isspace() and following and set(following) == {"-"}:
            break  # the next section
        if line.strip() and not line[0].isspace():
            head, _, kind = line.partition(" : ")
            names = [name.strip() for name in head.split(",") if name.strip()]
            for name in names:
                out[name] = [kind.strip(), []]
        elif line.strip():
            for name in names:
                out[name][1].append(line.strip())
    return {name: (kind, " ".join(text)) for name, (kind, text) in out.items()}


def _options(cls) -> list:
    """The options of an optimizer class (unevaluated annotations if they cannot be resolved)."""
    import dataclasses

    from .optimizers import Option, options_of

    try:
        return options_of(cls)
    except (NameError, TypeError, AttributeError):  # a user class with forward references
        return [Option(f.name, f.type, f.default) for f in dataclasses.fields(cls)]


def _registry_options() -> dict[str, dict]:
    """Every option of every registered optimizer: its type, choices, help and defaults."""
    from .optimizers import get_optimizer, optimizer_names

    fields: dict[str, dict] = {}
    for name in optimizer_names():
        cls = get_optimizer(name)
        docs = _numpydoc_parameters(cls)
        for option in _options(cls):
            entry = fields.setdefault(option.name, {"type": option.type, "defaults": {},
                                                    "kind": "", "docs": {}})
            entry["defaults"][name] = option.default
            kind, doc = docs.get(option.name, ("", ""))
            entry["kind"] = entry["kind"] or kind
            if doc:
                entry["docs"].setdefault(doc.replace("``", "").rstrip("."), []).append(name)
    return fields


def _choices(kind_line: str):
    """The choices of a numpydoc type such as ``{"cyclic", "reshuffle"}, default ...``."""
    match = re.match(r"\s*\{([^}]*)\}", kind_line)
    if not match:
        return None
    try:
        values = ast.literal_eval(f"[{match.group(1)}]")
    except (ValueError, SyntaxError):
        return None
    return values if values and all(isinstance(v, str) for v in values) else None


def _field_parser(tp, kind_line: str):
    """``(is_bool, type function, choices, metavar)`` for an optimizer option of type ``tp``."""
    args = typing.get_args(tp)
    optional = (typing.get_origin(tp) in (typing.Union, types.UnionType)
                and type(None) in args)
    if optional:
        rest = [a for a in args if a is not type(None)]
        base = rest[0] if len(rest) == 1 else str
    else:
        base = tp
    if base is bool:
        return True, None, None, None
    if typing.get_origin(base) is typing.Literal:
        return False, str, [str(a) for a in typing.get_args(base)], None
    if base is int:
        parse, metavar = _any_int, "INT"
    elif base is float:
        parse, metavar = _finite_float, "X"
    else:
        parse, metavar = str, "TEXT"
    choices = _choices(kind_line) if base is str else None
    if optional:
        inner = parse

        def parse(text, inner=inner):
            return None if text.strip().lower() == "none" else inner(text)

        parse.__name__ = getattr(inner, "__name__", "value")
        metavar = f"{metavar}|none"
    return False, parse, choices, (None if choices else metavar)


def _field_help(entry: dict) -> str:
    """The help of a shared flag: each optimizer's own description, then the defaults."""
    by_default: dict[str, list[str]] = {}
    for name, default in entry["defaults"].items():
        shown = ("none" if default is None else "on" if default is True else
                 "off" if default is False else str(default))
        by_default.setdefault(shown, []).append(name)
    defaults = "; ".join(f"{shown} for {', '.join(names)}" for shown, names in by_default.items())
    docs = entry["docs"]
    if len(docs) == 1:
        text = f"{next(iter(docs))}. "
    else:
        text = "".join(f"{', '.join(names)}: {doc}. " for doc, names in docs.items())
    return f"{text}Default: {defaults}.".replace("%", "%%")


def _add_optimizer_options(group) -> dict[str, str]:
    """One flag per option of the registered optimizers; returns ``field -> flag shown``."""
    shown = {}
    for field, entry in _registry_options().items():
        is_bool, parse, choices, metavar = _field_parser(entry["type"], entry["kind"])
        help_text = _field_help(entry)
        for flag in (_flag(field), _flag(f"optimizer_{field}")):  # the second if taken
            try:
                if is_bool:
                    group.add_argument(flag, dest=f"opt_{field}", default=argparse.SUPPRESS,
                                       action=argparse.BooleanOptionalAction, help=help_text)
                    shown[field] = f"--[no-]{flag[2:]}"
                else:
                    group.add_argument(flag, dest=f"opt_{field}", default=argparse.SUPPRESS,
                                       type=parse, choices=choices, metavar=metavar,
                                       help=help_text)
                    shown[field] = flag
                break
            except argparse.ArgumentError:
                continue
    return shown


def _add_optimizer_arguments(parser: argparse.ArgumentParser, group=None) -> None:
    from .optimizers import optimizer_names

    group = group or parser.add_argument_group("optimizer and learning rate")
    names = optimizer_names()
    group.add_argument("--optimizer", choices=names, default="inc-adam",
                       help="default: inc-adam (mini-batch Adam, batch size 1, cyclic)")
    group.add_argument("--eta0", type=_positive_float, default=None,
                       help="eta_t = eta0 (t + 2)^-power, or the constant rate (default: the "
                            "optimizer's, as in fastbias.simulate: 0.1 (ours), 0.01 for sgd)")
    group.add_argument("--power", type=_finite_float, default=None,
                       help="decay power in (0, 1] (default: 0.5, ours)")
    group.add_argument("--constant-lr", action="store_true",
                       help="constant rate eta0 (the default for gd and sgd)")
    return group


def _optimizer(args):
    from .optimizers import get_optimizer

    name = args.optimizer
    cls = get_optimizer(name)
    shown = args.optimizer_flags
    given = {field: getattr(args, f"opt_{field}") for field in shown
             if hasattr(args, f"opt_{field}")}
    takes = [option.name for option in _options(cls)]
    refused = [field for field in given if field not in takes]
    if refused:
        allowed = ", ".join(shown[field] for field in takes) or "no optimizer options"
        verb = "does" if len(refused) == 1 else "do"
        raise ValueError(f"{', '.join(shown[field] for field in refused)} {verb} not apply to "
                         f"--optimizer {name} (it takes {allowed}).")
    return cls(**given)


def _schedule(args, data, optimizer):
    """The learning rate: the optimizer's default schedule, changed by the flags given."""
    from .schedules import Constant, PolynomialDecay, schedule_from_dict
    from .simulate import run_parameters

    default = schedule_from_dict(run_parameters(data, optimizer, epochs=1, record=1)["lr"])
    constant = isinstance(default, Constant) or args.constant_lr
    if args.power is not None and constant:
        why = "--constant-lr asks for" if args.constant_lr else f"--optimizer {args.optimizer} runs"
        raise ValueError(f"--power does not apply: {why} a constant rate eta0.")
    if args.eta0 is None and args.power is None and not args.constant_lr:
        return default
    eta0 = args.eta0
    if eta0 is None:
        eta0 = getattr(default, "eta", getattr(default, "eta0", 0.1))
    if constant:
        return Constant(eta0)
    return PolynomialDecay(eta0, args.power if args.power is not None
                           else getattr(default, "power", 0.5))


def _loss(args, data, optimizer) -> str:
    """``--loss``, or the default for the kind of data (as fastbias.simulate resolves it)."""
    from .losses import LOSSES
    from .simulate import run_parameters

    table = LOSSES[bool(data.multiclass)]
    if args.loss is None:
        return run_parameters(data, optimizer, epochs=1, record=1)["loss"]
    if args.loss not in table:
        kind = "multiclass" if data.multiclass else "binary"
        raise ValueError(f"--loss {args.loss} does not apply to {kind} data (it takes "
                         f"{', '.join(table)}).")
    return args.loss


def _all_losses() -> list[str]:
    from .losses import LOSSES

    return list(dict.fromkeys(name for table in LOSSES.values() for name in table))


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
                        help="runs at once, on threads (default: 1)")
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
    from ._io import output_path
    from .experiments import run_figures

    names = _figure_list(args.figures)
    output_path(args.out, "--out", folder=True)  # before any run
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
# fastbias run and fastbias resume
# --------------------------------------------------------------------------------------------


def _add_report_arguments(group) -> None:
    group.add_argument("--references", action=argparse.BooleanOptionalAction, default=True,
                       help="compare with the max-margin solutions: l_2, l_inf and the AdamProxy "
                            "fixed point (binary data); the max, Frobenius and spectral-norm "
                            "solutions (multiclass data) (default: on)")
    group.add_argument("--rows", type=_positive_int, default=8,
                       help="rows of the printed table (default: 8)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: on when stderr is a terminal)")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _add_data_arguments(parser)
    _add_optimizer_arguments(parser)
    group = parser.add_argument_group("run")
    group.add_argument("--epochs", type=_positive_int, default=10_000, metavar="N",
                       help="passes over the data (default: 10000; 1e6 style accepted)")
    group.add_argument("--seed", type=_nonnegative_int, default=0,
                       help="seed of the sample orders (default: 0)")
    group.add_argument("--loss", choices=_all_losses(), default=None,
                       help="binary data: exp (default) or logistic; multiclass data: ce "
                            "(default) or exp")
    group.add_argument("--record", type=_positive_int, default=20, metavar="K",
                       help="records per decade of epochs, on a fixed log-spaced grid (the "
                            "distinct round(10^(j/K))), plus the last epoch (default: 20)")
    group.add_argument("--out", type=Path, default=None, metavar="FILE.npz",
                       help="where to write the trajectory (default: trajectory.npz, or "
                            "<checkpoint name>.trajectory.npz next to the checkpoint)")
    group.add_argument("--checkpoint", type=Path, default=None, metavar="FILE.npz",
                       help="save the complete run state here, atomically, every "
                            "--checkpoint-every seconds, at the end and on SIGINT/SIGTERM; if "
                            "the file holds this run, continue it (a checkpoint of another run "
                            "is refused, never overwritten)")
    group.add_argument("--checkpoint-every", type=_positive_float, default=60.0,
                       metavar="SECONDS", help="seconds between checkpoints (default: 60)")
    group.add_argument("--resume", type=Path, default=None, metavar="FILE.npz",
                       help="continue the run saved in this checkpoint, given the same "
                            "arguments (writes to --checkpoint if given); `fastbias resume "
                            "FILE` needs no arguments")
    _add_report_arguments(group)
    parser.set_defaults(optimizer_flags=_add_optimizer_options(
        parser.add_argument_group("optimizer options (from the registry; each applies to the "
                                  "optimizers named in its help)")))


def _resume_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT.npz",
                        help="a checkpoint written by `fastbias run --checkpoint` or "
                             "fastbias.simulate(checkpoint=...)")
    group = parser.add_argument_group("run")
    group.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                       help="horizon, at least the epochs done (default: the stored target); "
                            "larger extends the run")
    group.add_argument("--out", type=Path, default=None, metavar="FILE.npz",
                       help="where to write the trajectory (default: next to the checkpoint, "
                            "<checkpoint name>.trajectory.npz)")
    group.add_argument("--checkpoint-every", type=_positive_float, default=60.0,
                       metavar="SECONDS", help="seconds between checkpoints (default: 60)")
    _add_report_arguments(group)


def _saved_epoch(path) -> int | None:
    """The epoch saved in a checkpoint, or None if there is none (simulate says why)."""
    import fastbias as fb

    try:
        return int(fb.checkpoint_info(path)["epoch"])
    except (ValueError, OSError, KeyError, TypeError):
        return None


def _run_paths(args):
    """Check every output of ``run`` against the inputs, before any work."""
    from ._io import npz_path, output_path, resolve_npz_path, same_file

    resumed = resolve_npz_path(args.resume) if args.resume is not None else None
    checkpoint = None
    if args.checkpoint is not None:
        # the one allowed pair: a checkpoint that is both resumed and written
        own = resumed is not None and same_file(resumed, npz_path(args.checkpoint))
        inputs = [("--data-file", args.data_file)]
        if resumed is not None and not own:
            inputs.append(("--resume checkpoint", resumed))
        if Path(args.checkpoint).is_dir():
            raise ValueError(f"--checkpoint {str(args.checkpoint)!r} is a folder; give a file "
                             "path.")
        checkpoint = output_path(args.checkpoint, "--checkpoint", inputs=inputs, npz=True)
        if resumed is not None and not own and checkpoint.exists():
            raise ValueError(f"--checkpoint {str(checkpoint)!r} exists and is not the resumed "
                             "checkpoint: refusing to overwrite it; choose another path.")
    out = args.out
    if out is None:
        anchor = args.checkpoint if args.checkpoint is not None else args.resume
        out = Path("trajectory.npz") if anchor is None else _trajectory_next_to(anchor)
    out = _output_file(out, "--out", inputs=[("--data-file", args.data_file),
                                            ("--resume checkpoint", resumed),
                                            ("--checkpoint", args.checkpoint)])
    return out, checkpoint


def _run(args) -> int:
    out, checkpoint = _run_paths(args)
    data = _dataset(args)
    optimizer = _optimizer(args)
    lr = _schedule(args, data, optimizer)
    loss = _loss(args, data, optimizer)
    resume = args.resume if args.resume is not None else (True if checkpoint else None)
    source = checkpoint if resume is True else resume
    resumed_at = _saved_epoch(source) if source is not None else None
    start = time.perf_counter()
    tr = _simulate(checkpoint, data=data, optimizer=optimizer, lr=lr, epochs=args.epochs,
                   loss=loss, seed=args.seed, record=args.record,
                   progress=_progress_default(args.progress),
                   checkpoint_every=args.checkpoint_every, resume=resume)
    seconds = time.perf_counter() - start
    path = _save(tr, out)
    _report(tr, data, data_text=_data_text(args, data), optimizer=optimizer, lr=lr, loss=loss,
            seed=args.seed, epochs=args.epochs, resumed_at=resumed_at, seconds=seconds,
            path=path, checkpoint=checkpoint, references=args.references, rows=args.rows)
    return 0


def _resume(args) -> int:
    from ._io import resolve_npz_path
    from .checkpoints import rebuild_run

    checkpoint = resolve_npz_path(args.checkpoint)
    if not checkpoint.exists():
        raise FileNotFoundError(f"checkpoint file {str(checkpoint)!r} does not exist.")
    if checkpoint.is_dir():
        raise ValueError(f"checkpoint {str(checkpoint)!r} is a folder, not a checkpoint file.")
    out = _output_file(args.out if args.out is not None else _trajectory_next_to(checkpoint),
                       "--out", inputs=[("resumed checkpoint", checkpoint)])
    run = rebuild_run(checkpoint)
    epochs = run["epochs"] if args.epochs is None else args.epochs
    resumed_at = _saved_epoch(checkpoint)
    start = time.perf_counter()
    tr = _simulate(checkpoint, data=run["data"], optimizer=run["optimizer"], lr=run["lr"],
                   epochs=epochs, loss=run["loss"], seed=run["seed"], record=run["record"],
                   w0=run["w0"], progress=_progress_default(args.progress),
                   checkpoint_every=args.checkpoint_every, resume=checkpoint)
    seconds = time.perf_counter() - start
    path = _save(tr, out)
    _report(tr, run["data"], data_text=run["data"].label, optimizer=run["optimizer"],
            lr=run["lr"], loss=run["loss"], seed=run["seed"], epochs=epochs,
            resumed_at=resumed_at, seconds=seconds, path=path, checkpoint=checkpoint,
            references=args.references, rows=args.rows)
    return 0


def _table_rows(epochs: np.ndarray, k: int) -> np.ndarray:
    """Indices of up to k recorded epochs, log-spaced, always including the last.

    Powers of ten are preferred (every decade's first record is one on the record grid);
    between them the rows are spread evenly on a log scale.
    """
    positive = np.flatnonzero(epochs > 0)
    if positive.size <= k:
        return positive
    last = int(len(epochs) - 1)
    decades = [int(i) for i in positive if _power_of_ten(int(epochs[i]))]
    if len(decades) + 1 > k:  # too many decades: every few of them
        keep = np.unique(np.rint(np.linspace(0, len(decades) - 1, k - 1)).astype(int))
        return np.array(sorted({decades[j] for j in keep} | {last}))
    idx = set(decades) | {last}
    grid = np.logspace(np.log10(epochs[positive[0]]), np.log10(epochs[-1]), k)
    for g in grid:  # fill the remaining rows evenly on a log scale
        if len(idx) >= k:
            break
        idx.add(int(positive[np.argmin(np.abs(np.log(epochs[positive] / g)))]))
    return np.array(sorted(idx))


def _power_of_ten(e: int) -> bool:
    while e % 10 == 0 and e > 1:
        e //= 10
    return e == 1


def _report(tr, data, *, data_text, optimizer, lr, loss, seed, epochs, resumed_at, seconds,
            path, checkpoint, references, rows) -> None:
    """The summary of a finished run (all on stdout, after every file is written)."""
    print(f"data: {data_text}")
    print(f"optimizer: {optimizer!r}; lr: {lr!r}; loss: {loss}; seed: {seed}")
    if resumed_at is None:
        print(f"{epochs:,} epochs in {seconds:.2f} s; trajectory written to {path}")
    else:
        print(f"resumed at epoch {resumed_at:,}: {max(epochs - resumed_at, 0):,} more epochs "
              f"in {seconds:.2f} s; trajectory written to {path}")
    if checkpoint is not None:
        print(f"checkpoint: {checkpoint}")
    columns = [("log-loss", tr.log_loss)]
    if data.multiclass:
        columns += _multiclass_columns(tr, data, references)
    else:
        columns += _binary_columns(tr, data, references)
    width = max(11, max(len(name) for name, _ in columns) + 1)
    print(f"{'epoch':>12s}" + "".join(f"{name:>{width}s}" for name, _ in columns))
    for i in _table_rows(tr.epochs, rows):
        cells = "".join(_fmt(float(values[i]), width) for _, values in columns)
        print(f"{int(tr.epochs[i]):>12,d}{cells}")


def _binary_columns(tr, data, references: bool) -> list:
    gamma2 = tr.normalized_margin(2)
    gamma_inf = tr.normalized_margin(np.inf)
    columns = [("gamma_2", gamma2), ("gamma_inf", gamma_inf)]
    if not references:
        return columns
    if not _is_separable(data):
        print("no max-margin references: the data are not linearly separable")
        return columns
    refs = _references(data)
    l2, linf, fp = refs["l2"], refs["linf"], refs["fixed_point"]
    print(f"l_2 max-margin gamma* = {l2.margin:.6g}; l_inf max-margin gamma* = "
          f"{linf.margin:.6g}; fixed point: {fp.iterations} iterations, residual "
          f"{fp.residual:.1e}, converged {fp.converged}")
    return columns + [
        ("ratio l_2", gamma2 / l2.margin),
        ("ratio l_inf", gamma_inf / linf.margin),
        ("cos l_2", tr.cosine(l2.w)),
        ("cos l_inf", tr.cosine(linf.w)),
        ("cos fixed pt", tr.cosine(fp.w)),
    ]


def _multiclass_columns(tr, data, references: bool) -> list:
    """Normalized margins per matrix norm; with references, ratios and cosines."""
    import fastbias as fb

    gammas = {norm: tr.normalized_margin(norm) for norm in _MATRIX_NORMS}
    columns = [(f"gamma_{short}", gammas[norm]) for norm, short in _MATRIX_NORMS.items()]
    if not references:
        return columns
    if not _is_separable(data):
        print("no max-margin references: the data are not linearly separable")
        return columns
    refs = {}
    for norm in _MATRIX_NORMS:
        try:
            refs[norm] = fb.max_margin(data, norm=norm)
        except (NotImplementedError, AttributeError, TypeError) as exc:  # not available
            print(f"no {norm}-norm max-margin reference: {_one_line(exc)}")
    bad = [norm for norm, ref in refs.items() if not float(ref.margin) > 0]
    for norm in bad:
        print(f"no {norm}-norm max-margin reference: the solver returned margin "
              f"{float(refs.pop(norm).margin):.6g} <= 0 for separable data")
    if not refs:
        return columns
    print("max-margin gamma*: " + "; ".join(f"{norm} {ref.margin:.6g}"
                                           for norm, ref in refs.items())
          + " (no AdamProxy fixed point for multiclass data)")
    columns += [(f"ratio {_MATRIX_NORMS[norm]}", gammas[norm] / ref.margin)
                for norm, ref in refs.items()]
    columns += [(f"cos {_MATRIX_NORMS[norm]}", tr.cosine(ref.w)) for norm, ref in refs.items()]
    return columns


# --------------------------------------------------------------------------------------------
# fastbias fixed-point
# --------------------------------------------------------------------------------------------


def _fixed_point_arguments(parser: argparse.ArgumentParser) -> None:
    _add_data_arguments(parser, multiclass=False)
    group = parser.add_argument_group("iteration")
    group.add_argument("--tol", type=_positive_float, default=1e-8,
                       help="stop when ||c^(k+1) - c^k||_1 < tol (default: 1e-8)")
    group.add_argument("--max-iter", type=_positive_int, default=200,
                       help="at most this many applications of T (default: 200)")
    group.add_argument("--out", type=Path, default=None, metavar="FILE.npz",
                       help="also save c, w and the step history to this file")


def _fixed_point(args) -> int:
    from ._io import atomic_savez
    from .geometry import fixed_point, max_margin

    out = None
    if args.out is not None:  # checked before any work
        out = _output_file(args.out, "--out", inputs=[("--data-file", args.data_file)])
    data = _dataset(args)
    if data.multiclass:
        raise ValueError("fixed-point needs binary data: the AdamProxy fixed point is defined "
                         "for labels -1/+1; got multiclass data.")
    start = time.perf_counter()
    fp = fixed_point(data, tol=args.tol, max_iter=args.max_iter)
    seconds = time.perf_counter() - start
    l2, linf = max_margin(data, p=2), max_margin(data, p=np.inf)
    w = np.asarray(fp.w)
    if out is not None:
        try:
            out = atomic_savez(out, {"c": np.asarray(fp.c), "w": w,
                                     "history": np.asarray(fp.history),
                                     "residual": np.array(fp.residual),
                                     "converged": np.array(fp.converged)})
        except OSError as exc:
            raise _write_error(exc, "fixed point", out) from None
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
    if out is not None:
        print(f"written to {out}")
    return 0


# --------------------------------------------------------------------------------------------
# fastbias info
# --------------------------------------------------------------------------------------------


def _info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", type=Path, default=None,
                        metavar="CHECKPOINT.npz",
                        help="describe this checkpoint (progress and the run's parameters) "
                             "instead of the installation")


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "not installed"


def _info(args) -> int:
    if args.checkpoint is not None:
        return _checkpoint_info(args.checkpoint)
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


def _checkpoint_info(path) -> int:
    """Print :func:`fastbias.checkpoint_info` of a checkpoint, one fact per line."""
    import fastbias as fb

    info = fb.checkpoint_info(path)
    done, target = info["epoch"], info["epochs"]
    share = 100.0 * done / target if target else 100.0
    state = "finished" if done >= target else "in progress"
    record = info["record"]
    record_text = (f"{record} per decade of epochs" if isinstance(record, int)
                   else f"{len(record)} explicit epochs")
    shape = f"n={info['n']}, d={info['d']}" + (f", k={info['k']}" if info["kind"] ==
                                                "multiclass" else "")
    origin = ("rebuilt from its generator" if info["data_source"] is not None
              else "stored in the checkpoint")
    print(f"checkpoint: {info['path']}")
    print(f"progress: epoch {done:,} of {target:,} ({share:.1f}%, {state}); "
          f"{info['steps']:,} optimizer steps; {info['records']:,} records on the record grid "
          "(a returned trajectory adds its horizon)")
    print(f"data: {info['data']} ({info['kind']}, {shape}; {origin})")
    print(f"data fingerprint: {info['data_fingerprint']}")
    print(f"optimizer: {_call_text(info['optimizer'])}")
    print(f"lr: {_call_text(info['lr'])}")
    print(f"loss: {info['loss']}; seed: {info['seed']}; record: {record_text}; w0: "
          f"{'zeros' if info['w0'] is None else 'given'}")
    if done >= target:
        print(f"extend: fastbias resume {info['path']} --epochs N (N > {target:,})")
    else:
        print(f"continue: fastbias resume {info['path']}")
    return 0


# --------------------------------------------------------------------------------------------
# fastbias bench
# --------------------------------------------------------------------------------------------


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    from .benchmarks import SHAPES, bench_optimizers

    shapes = " ".join(f"{n}x{d}" for n, d in SHAPES)
    p.add_argument("--shapes", nargs="+", type=_shape, default=None, metavar="NxD",
                   help=f"data shapes (default: {shapes})")
    names = list(bench_optimizers())
    p.add_argument("--optimizers", nargs="+", default=None, choices=names, metavar="NAME",
                   help=f"optimizers of the table, as in `run --optimizer` (default: all of "
                        f"{', '.join(names)})")
    p.add_argument("--loss", nargs="+", default=["exp"], choices=("exp", "logistic"),
                   help="loss functions (default: exp)")
    p.add_argument("--budget", type=_positive_float, default=0.2, metavar="SECONDS",
                   help="approximate duration of one timed call (default 0.2)")
    p.add_argument("--rounds", type=_positive_int, default=3,
                   help="timed calls per entry; the best is reported (default 3)")


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
    from .benchmarks import SHAPES, bench_optimizers, benchmark_table

    shapes = SHAPES if args.shapes is None else tuple(args.shapes)
    optimizers = {name: opt for name, opt in bench_optimizers().items()
                  if args.optimizers is None or name in args.optimizers}
    print("timing (each entry: one untimed warm-up call, then the best of --rounds) ...",
          file=sys.stderr, flush=True)
    rows = benchmark_table(shapes=shapes, optimizers=optimizers, losses=tuple(args.loss),
                           budget=args.budget, rounds=args.rounds)
    refs = [key[: -len("_ns_per_step")] for key in rows[0] if key.endswith("_ns_per_step")]
    header = ["shape", "optimizer", "loss", "ns/step", "ns/coord"]
    header += [f"{ref} ns/step" for ref in refs] + [f"x {ref}" for ref in refs]
    table = [header]
    for row in rows:
        diverged = row.get("diverged", False)
        table.append([row["shape"], row["optimizer"], row["loss"],
                      "diverged" if diverged else f"{row['ns_per_step']:.0f}",
                      "-" if diverged else f"{row['ns_per_coordinate']:.2f}",
                      *(f"{row[f'{ref}_ns_per_step']:.0f}" for ref in refs),
                      *("-" if diverged else f"{row[f'ratio_to_{ref}']:.2f}" for ref in refs)])
    widths = [max(len(line[k]) for line in table) for k in range(len(header))]
    for line in table:
        print("  ".join(cell.rjust(w) if k >= 3 else cell.ljust(w)
                        for k, (cell, w) in enumerate(zip(line, widths, strict=True))))
    print("\nns per optimizer step, best of --rounds, compilation excluded. References, timed "
          "in this process:\n  plain = a textbook Numba loop of cyclic Inc-Adam (exp loss, "
          "plain float64)")
    print("  c     = cyclic Inc-Adam in C, one fused pass over the coordinates per step "
          "(-O3 -march=native)" if "c" in refs else "  (no C compiler found: no C reference)")
    print("The references are plain float64 and are timed only before their moments turn "
          "subnormal (which would slow them down).")
    print("x ref = ns/step divided by the reference's; ns/coord = ns/step / (d * batch size).")
    if any(row.get("diverged", False) for row in rows):
        print("diverged = the exact run leaves the float64 range at the optimizer's default "
              "learning rate on these data: not timed.")
    return 0


# --------------------------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------------------------

#: The subcommands: (name, one-line help, add_arguments(parser), handler(args) -> exit code).
#: A new subcommand is one more entry here.
SUBCOMMANDS: list[tuple[str, str, Callable, Callable]] = [
    ("reproduce", "reproduce the paper's figures (PNG, tidy CSV and text summary each)",
     _reproduce_arguments, _reproduce),
    ("run", "run one simulation (or continue it from --checkpoint), save its trajectory and "
     "print a summary table", _run_arguments, _run),
    ("resume", "continue or extend the run saved in a checkpoint, from the file alone",
     _resume_arguments, _resume),
    ("fixed-point", "solve the AdamProxy fixed point of Algorithm 3 for a dataset",
     _fixed_point_arguments, _fixed_point),
    ("info", "versions, kernel cache location and threads; or what a checkpoint holds",
     _info_arguments, _info),
    ("bench", "time the kernels in ns per step, with same-process reference loops",
     _bench_arguments, _bench),
]


def _unavailable(name: str, exc: BaseException) -> Callable:
    """Handler of a subcommand whose options could not be set up (a module being rebuilt)."""

    def handler(args) -> int:
        print(f"fastbias {name}: error: this command is unavailable "
              f"({type(exc).__name__}: {_one_line(exc)})", file=sys.stderr)
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
    from . import __version__

    parser = _Parser(
        prog="fastbias",
        description=("Exact, fast simulation of optimizers on linearly separable data: the "
                     "experiments of 'Implicit Bias of Per-sample Adam on Separable Data' "
                     "(Baek, Song, Yun, ICLR 2026), and beyond (any registered optimizer, "
                     "multiclass data, long runs)."),
    )
    parser.add_argument("--version", action="version", version=f"fastbias {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text, add_arguments, handler in SUBCOMMANDS:
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        try:
            add_arguments(p)
        except Exception as exc:  # noqa: BLE001 (keep the other subcommands working)
            p.description = f"Unavailable ({type(exc).__name__}: {_one_line(exc)})."
            p.set_defaults(unavailable=True)  # main() then accepts any arguments for it
            handler = _unavailable(name, exc)
        p.set_defaults(handler=handler)
    return parser


def _show_warning(command: str):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fastbias {command}: warning: {_one_line(message)}", file=sys.stderr)

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
    command = "?"
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "unavailable", False):
            _error(args.command or "", f"{_unrecognized(extra)} (see fastbias "
                                       f"{args.command or ''} --help)".replace("  ", " "))
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
        from .simulate import RunInterrupted

        if isinstance(exc, RunInterrupted):
            name = signal.Signals(exc.signum).name
            _error(command, f"{name}: saved epoch {exc.epoch} to {exc.checkpoint}", "")
            return 128 + int(exc.signum)
        detail = _one_line(exc) if str(exc) else ""
        _error(command, detail or "interrupted", "")
        return 128 + int(signal.SIGINT)
    except RuntimeError as exc:
        from .geometry import SolverError

        if not isinstance(exc, SolverError):
            raise
        _error(command, _one_line(exc), "solver error: ")
        return 1
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _error(command, _one_line(exc))
        return 2
    except OSError as exc:
        _error(command, _os_message(exc))
        return 1
    except (FloatingPointError, MemoryError, ImportError) as exc:
        _error(command, _one_line(exc))
        return 1


def _error(command: str, message: str, kind: str = "error: ") -> None:
    try:
        print(f"fastbias {command}: {kind}{message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr itself is gone
        pass


if __name__ == "__main__":
    sys.exit(main())
