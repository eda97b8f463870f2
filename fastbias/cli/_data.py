"""The data options of the commands.

A generator of :data:`fastbias.datasets.GENERATORS` and its options, or a data file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._args import finite_float, flag, nonnegative_int, positive_int

#: The options of the data generators (each generator of fastbias.datasets.GENERATORS takes
#: some of them).
_DATA_OPTIONS = ("n", "d", "k", "data_seed", "delta")


def _takers(option: str, multiclass: bool) -> str:
    """``"gaussian, gr"``: the command-line names of the generators that take an option."""
    from ..datasets import GENERATORS

    return ", ".join(
        gen.cli
        for gen in GENERATORS.values()
        if option in dict(gen.options) and (multiclass or not gen.multiclass)
    )


def _defaults(option: str, multiclass: bool) -> str:
    """``"10 (gaussian, gr), 30 (gaussian-multiclass)"``: the defaults of an option."""
    from ..datasets import GENERATORS

    by_value: dict[str, list[str]] = {}
    for gen in GENERATORS.values():
        if option in dict(gen.options) and (multiclass or not gen.multiclass):
            by_value.setdefault(str(gen.default(dict(gen.options)[option])), []).append(gen.cli)
    return "; ".join(f"{value} for {', '.join(names)}" for value, names in by_value.items())


def add_data_arguments(parser: argparse.ArgumentParser, multiclass: bool = True) -> None:
    """The data options: a generator and its options, or a data file."""
    from ..datasets import GENERATORS

    kinds = [gen.cli for gen in GENERATORS.values() if multiclass or not gen.multiclass]
    what = {
        "n": "samples (for shifted-diagonal also d)",
        "d": "features",
        "k": "classes, >= 2",
        "data_seed": "generator seed",
        "delta": "shift of the shifted-diagonal data, a = linspace(1, 2, n)",
    }
    types = {
        "n": positive_int,
        "d": positive_int,
        "k": positive_int,
        "data_seed": nonnegative_int,
        "delta": finite_float,
    }
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        choices=kinds,
        default=None,
        help="generator (default: gaussian); each takes the options below that name it",
    )
    for option in _DATA_OPTIONS:
        takers = _takers(option, multiclass)
        if takers:
            group.add_argument(
                flag(option),
                type=types[option],
                default=None,
                help=f"{what[option]} ({takers}; default: {_defaults(option, multiclass)}; ours)",
            )
    group.add_argument(
        "--data-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the data from a file (instead of a generator): one written by "
        "Dataset.save or MulticlassDataset.save, a plain np.savez(FILE, X=..., y=...) or a "
        "CSV file of numbers (.csv; one sample per row, the label in the last column, an "
        "optional header row); two labels make binary data, more multiclass data",
    )
    group.add_argument(
        "--intercept",
        action="store_true",
        help="append a constant-1 feature to the data of --data-file (a bias term: data "
        "separable only by an affine hyperplane become separable)",
    )
    group.add_argument(
        "--no-separability-check",
        dest="check_separable",
        action="store_false",
        help="accept data that are not linearly separable (for GD-type runs)",
    )


def dataset_of(args):
    """The data of the command's options: a generator's, or a data file's."""
    from .. import datasets

    check = {"check_separable": args.check_separable}
    given = [key for key in _DATA_OPTIONS if getattr(args, key, None) is not None]
    if args.data_file is not None:
        if args.data is not None or given:
            flags = ", ".join(flag(key) for key in (["data"] if args.data else []) + given)
            raise ValueError(
                f"{flags} cannot be combined with --data-file (the file holds the data)."
            )
        return _separable_hint(
            read_data_file, args.data_file, intercept=getattr(args, "intercept", False), **check
        )
    if getattr(args, "intercept", False):
        raise ValueError(
            "--intercept applies to the data of --data-file (the generators' data are "
            "separable through the origin)."
        )
    gen = datasets.get_generator(args.data or "gaussian")
    takes = [option for option, _ in gen.options]
    refused = [key for key in given if key not in takes]
    if refused:
        verb = "does" if len(refused) == 1 else "do"
        raise ValueError(
            f"{', '.join(flag(key) for key in refused)} {verb} not apply to "
            f"--data {gen.cli} (it takes {', '.join(flag(key) for key in takes)})."
        )
    values = {key: getattr(args, key, None) for key in takes}
    return _separable_hint(gen.from_options, **values, **check)


def read_data_file(path, check_separable: bool = True, intercept: bool = False):
    """The data of ``--data-file``: a fastbias dataset file, a plain ``.npz`` or a CSV file.

    With ``intercept``, a constant-1 column is appended to the features.
    """
    from .. import datasets
    from .._io import ArraySpec, read_npz

    path = Path(path)
    cls = None  # the kind of data: a fastbias file's own, else by the number of labels
    if path.suffix.lower() == ".csv":
        X, y = _read_csv(path)
    else:
        head = read_npz(path, "data", {}, optional={"format": ArraySpec("U", 0, 1)})
        if "format" in head:
            data = datasets.load(path, check_separable=check_separable and not intercept)
            if not intercept:
                return data
            # the stored data, with the column: checked as new data
            X, cls = data.X, type(data)
            y = data.classes[data.y] if data.multiclass else data.y
        else:
            specs = {"X": ArraySpec("fiub", 2), "y": ArraySpec("fiuU", 1)}
            arrays = read_npz(path, "data", specs)
            X, y = arrays["X"], arrays["y"]
    if cls is None:
        cls = datasets.Dataset if np.unique(y).size <= 2 else datasets.MulticlassDataset
    try:
        return cls(X, y, intercept=intercept, check_separable=check_separable)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"data file {str(path)!r}: {exc}") from None


def _read_csv(path: Path):
    """``(X, y)`` of a CSV file of numbers, the label last; a non-numeric first row is a header."""
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist.")
    rows = None
    for skip in (0, 1):
        try:
            rows = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=skip)
            break
        except ValueError as exc:
            error = exc
    if rows is None:
        raise ValueError(
            f"data file {str(path)!r} is not a CSV file of numbers (one sample per row, the "
            f"label in the last column, an optional header row): {error}"
        )
    if rows.shape[0] == 0 or rows.shape[1] < 2:
        raise ValueError(
            f"data file {str(path)!r} needs at least one row of at least two columns (the "
            f"features, then the label); got shape {rows.shape}."
        )
    return rows[:, :-1], rows[:, -1]


def _separable_hint(function, *args, **kwargs):
    """Call a data constructor; its separability advice names the command-line flag."""
    try:
        return function(*args, **kwargs)
    except ValueError as exc:
        message = str(exc).replace("pass check_separable=False", "pass --no-separability-check")
        raise ValueError(message.replace("pass intercept=True", "pass --intercept")) from None


def data_text(args, data) -> str:
    size = f"n={data.n}, d={data.d}" + (f", k={data.k}" if data.multiclass else "")
    if getattr(args, "data_file", None) is not None:
        return f"{args.data_file} ({'multiclass, ' if data.multiclass else ''}{size})"
    return data.label


def separable(data) -> bool:
    """Whether the data are linearly separable (checked when the dataset did not)."""
    if data.separability_checked:
        return True
    if data.multiclass:
        import fastbias as fb

        try:
            fb.MulticlassDataset(data.X, data.y, check_separable=True)
        except ValueError:
            return False
        return True
    from ..datasets import is_separable

    return is_separable(data.Z)
