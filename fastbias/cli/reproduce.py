"""``fastbias reproduce``: the experiments of the registry.

Each as a PNG, a tidy CSV and a text summary.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from .._validation import shown
from ._args import positive_int, progress_default


def reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastbias reproduce``."""
    from ..experiments import figure_names

    parser.add_argument(
        "figures",
        nargs="+",
        metavar="FIGURE",
        help=f"figure names ({', '.join(figure_names())}) or 'all'",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("fastbias-figures"),
        metavar="DIR",
        help="output folder (default: ./fastbias-figures)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short horizons (each figure well under a minute)"
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        metavar="N",
        help="horizon for every figure (overrides the registry and --quick)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="K",
        help="runs at once, on threads (default: 1)",
    )
    parser.add_argument(
        "--record",
        type=positive_int,
        default=None,
        metavar="K",
        help="log-spaced records per run (default: 120, quick 60)",
    )
    parser.add_argument(
        "--dpi", type=positive_int, default=100, help="PNG resolution (default: 100)"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: on when writing to a terminal)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the summaries")


def _figure_list(names: list[str]) -> list[str]:
    from ..experiments import figure_names

    known = figure_names()
    out: list[str] = []
    for name in names:
        if name == "all":
            out += known
        elif name in known:
            out.append(name)
        else:
            raise ValueError(f"figure must be one of {known} or 'all'; got {shown(name)}.")
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
        curve, reference, metric, epoch, neg_log_loss, value``; values in shortest round-trip
        form) and the
        text summary (:meth:`~fastbias.experiments.FigureResult.summary`).
    """
    from .._io import atomic_write
    from ..plotting import plot_figure
    from ._files import write_error

    out = Path(out)
    name = result.name
    fig = plot_figure(result)

    def write_csv(fh):
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            ("figure", "curve", "reference", "metric", "epoch", "neg_log_loss", "value")
        )
        for row in result.rows():
            writer.writerow((*row[:5], repr(row[5]), repr(row[6])))

    def write(path, what, writer, mode):
        try:
            return atomic_write(path, writer, mode=mode)
        except OSError as exc:  # a full disk, a quota: say which file
            raise write_error(exc, what, path) from None

    png = write(
        out / f"{name}.png", "figure", lambda fh: fig.savefig(fh, format="png", dpi=dpi), "wb"
    )
    table = write(out / f"{name}.csv", "table", write_csv, "w")
    text = write(out / f"{name}.txt", "summary", lambda fh: fh.write(result.summary()), "w")
    return [png, table, text]


def reproduce(args) -> int:
    """``fastbias reproduce``: run the experiments and write their files."""
    from .._io import output_path
    from ..experiments import run_figures

    names = _figure_list(args.figures)
    output_path(args.out, "--out", folder=True)  # before any run
    progress = progress_default(args.progress)
    start = time.perf_counter()
    previous = start
    for result in run_figures(
        names,
        quick=args.quick,
        epochs=args.epochs,
        jobs=args.jobs,
        record=args.record,
        progress=progress,
    ):
        files = write_figure_files(result, args.out, dpi=args.dpi)
        now = time.perf_counter()
        if not args.quiet:
            print(result.summary())
        print(
            f"{result.name}: wrote {', '.join(str(f) for f in files)} ({now - previous:.1f} s)",
            flush=True,
        )
        previous = now
    print(f"done: {len(names)} figure(s) in {time.perf_counter() - start:.1f} s")
    return 0
