"""The summary table of a finished run.

With the max-margin references of the summary norms of :data:`fastbias.norms.NORMS`.
"""

from __future__ import annotations

import argparse

import numpy as np

from ._args import fmt, positive_int
from ._data import separable


def add_report_arguments(group) -> None:
    group.add_argument(
        "--references",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compare with the max-margin solutions: l_2, l_inf and the AdamProxy "
        "fixed point (binary data); the max, Frobenius and spectral-norm "
        "solutions (multiclass data) (default: on)",
    )
    group.add_argument(
        "--rows", type=positive_int, default=8, help="rows of the printed table (default: 8)"
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: on when stderr is a terminal)",
    )


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
    slots = k if decades and decades[-1] == last else k - 1  # rows for decades
    if len(decades) > slots:  # too many decades: every few of them
        keep = np.unique(np.rint(np.linspace(0, len(decades) - 1, slots)).astype(int))
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


def print_report(
    tr,
    data,
    *,
    data_text,
    optimizer,
    lr,
    loss,
    seed,
    epochs,
    resumed_at,
    seconds,
    path,
    checkpoint,
    references,
    rows,
) -> None:
    """The summary of a finished run (all on stdout, after every file is written)."""
    print(f"data: {data_text}")
    print(f"optimizer: {optimizer!r}; lr: {lr!r}; loss: {loss}; seed: {seed}")
    if tr.params.get("model") is not None:
        from ..models import model_from_dict

        print(f"model: {model_from_dict(tr.params['model'])!r} (w = its effective weights)")
    if resumed_at is None:
        print(f"{epochs:,} epochs in {seconds:.2f} s; trajectory written to {path}")
    else:
        print(
            f"resumed at epoch {resumed_at:,}: {max(epochs - resumed_at, 0):,} more epochs "
            f"in {seconds:.2f} s; trajectory written to {path}"
        )
    if checkpoint is not None:
        print(f"checkpoint: {checkpoint}")
    data_separable = separable(data) if references or not tr.separated else True
    if not tr.separated:
        advice = "run longer" if data_separable else "the data are not linearly separable"
        print(
            f"separated: no (smallest margin {tr.min_margin[-1]:.3g} <= 0 at the last epoch: "
            f"the iterate misclassifies some samples; {advice})"
        )
    columns = [("log-loss", tr.log_loss)] + _norm_columns(tr, data, references, data_separable)
    width = max(11, max(len(name) for name, _ in columns) + 1)
    print(f"{'epoch':>12s}" + "".join(f"{name:>{width}s}" for name, _ in columns))
    for i in _table_rows(tr.epochs, rows):
        cells = "".join(fmt(float(values[i]), width) for _, values in columns)
        print(f"{int(tr.epochs[i]):>12,d}{cells}")


def _norm_columns(tr, data, references: bool, data_separable: bool) -> list:
    """Normalized margins in the summary norms of :data:`fastbias.norms.NORMS`.

    With the references, also the margin ratios and cosines (and the AdamProxy fixed
    point's cosine, on binary data).
    """
    from ..geometry import fixed_point, max_margin
    from ..norms import summary_norms

    norms = summary_norms(data.multiclass)
    gammas = {norm.key: tr.normalized_margin(norm.value) for norm in norms}
    columns = [(f"gamma_{norm.short}", gammas[norm.key]) for norm in norms]
    if not references:
        return columns
    if not data_separable:
        print("no max-margin references: the data are not linearly separable")
        return columns
    refs = {}
    for norm in norms:
        ref = max_margin(data, norm=norm.value)
        if float(ref.margin) > 0:
            refs[norm.key] = (norm, ref)
        else:
            print(
                f"no {norm.label} max-margin reference: the solver returned margin "
                f"{float(ref.margin):.6g} <= 0 for separable data"
            )
    text = "; ".join(f"{norm.short} {ref.margin:.6g}" for norm, ref in refs.values())
    fp = None if data.multiclass else fixed_point(data)
    if fp is None:
        text += " (no AdamProxy fixed point for multiclass data)"
    else:
        text += (
            f"; fixed point: {fp.iterations} iterations, residual {fp.residual:.1e}, "
            f"converged {fp.converged}"
        )
    print(f"max-margin gamma*: {text}")
    columns += [
        (f"ratio {norm.short}", gammas[key] / ref.margin) for key, (norm, ref) in refs.items()
    ]
    columns += [(f"cos {norm.short}", tr.cosine(ref.w)) for norm, ref in refs.values()]
    if fp is not None:
        columns.append(("cos fixed pt", tr.cosine(fp.w)))
    return columns
