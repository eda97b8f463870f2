"""``fastbias fixed-point``: the AdamProxy fixed point of Algorithm 3 for a dataset."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ._args import positive_float, positive_int
from ._data import add_data_arguments, data_text, dataset_of
from ._files import output_file, write_error

#: Vectors longer than this are summarized (the whole of them is in the file of --out).
_SHOWN = 20


def fixed_point_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastbias fixed-point``."""
    add_data_arguments(parser, multiclass=False)
    group = parser.add_argument_group("iteration")
    group.add_argument(
        "--tol",
        type=positive_float,
        default=1e-8,
        help="stop when ||c^(k+1) - c^k||_1 < tol (default: 1e-8)",
    )
    group.add_argument(
        "--max-iter",
        type=positive_int,
        default=200,
        help="at most this many applications of T (default: 200)",
    )
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.npz",
        help="also save c, w and the step history to this file",
    )


def fixed_point(args) -> int:
    """``fastbias fixed-point``: solve, print, and save if asked."""
    from .._io import atomic_savez
    from ..geometry import fixed_point, max_margin

    out = None
    if args.out is not None:  # checked before any work
        out = output_file(args.out, "--out", inputs=[("--data-file", args.data_file)])
    data = dataset_of(args)
    if data.multiclass:
        raise ValueError(
            "fixed-point needs binary data: the AdamProxy fixed point is defined "
            "for labels -1/+1; got multiclass data."
        )
    start = time.perf_counter()
    fp = fixed_point(data, tol=args.tol, max_iter=args.max_iter)
    seconds = time.perf_counter() - start
    l2, linf = max_margin(data, p=2), max_margin(data, p=np.inf)
    w = np.asarray(fp.w)
    if out is not None:
        try:
            out = atomic_savez(
                out,
                {
                    "c": np.asarray(fp.c),
                    "w": w,
                    "history": np.asarray(fp.history),
                    "residual": np.array(fp.residual),
                    "converged": np.array(fp.converged),
                },
            )
        except OSError as exc:
            raise write_error(exc, "fixed point", out) from None
    print(f"data: {data_text(args, data)}")
    print(
        f"fixed point of T (Algorithm 3): converged {fp.converged} after {fp.iterations} "
        f"iterations in {seconds:.2f} s; residual ||T(c) - c||_1 = {fp.residual:.2e}"
    )
    support = fp.support.tolist()
    c = np.asarray(fp.c)
    if c.size <= _SHOWN:
        print(f"support (samples with c_i > 0): {support}")
        print("c = " + np.array2string(c, precision=6, suppress_small=True, max_line_width=96))
    else:  # the whole vector goes to --out
        top = int(np.argmax(c))
        head = ", ".join(map(str, support[:_SHOWN])) + (", ..." if len(support) > _SHOWN else "")
        print(f"support (samples with c_i > 0): {len(support)} of {c.size} samples: [{head}]")
        print(
            f"c: largest c_{top} = {c[top]:.6g}; "
            + ("all of it in the file of --out" if out is not None else "all of it with --out FILE")
        )
    margins = data.Z @ w
    print(
        f"direction w (unit l_2): gamma_2(w) = {margins.min():.6g} "
        f"(ratio {margins.min() / l2.margin:.4f} of the l_2 max-margin), "
        f"gamma_inf(w) = {margins.min() / np.abs(w).max():.6g} "
        f"(ratio {margins.min() / np.abs(w).max() / linf.margin:.4f})"
    )
    cos_l2 = float(w @ l2.w / np.linalg.norm(l2.w))
    cos_linf = float(w @ linf.w / np.linalg.norm(linf.w))
    print(f"cosine with the l_2 max-margin direction {cos_l2:.6f}, with l_inf {cos_linf:.6f}")
    if out is not None:
        print(f"written to {out}")
    return 0
