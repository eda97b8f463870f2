"""The table of losses: names, kernel codes and the loss values used for ``log L(w)``.

Binary losses take the margin ``s = <w, z_i>``; multiclass losses take the scores
``s = W x_i`` and the class ``y_i``. The step loops get a loss's
derivatives in log form from :mod:`fastbias._kernels.losses` (one branch per loss there);
everything else (simulate, metrics, the command line, benchmarks) reads this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._kernels import losses as _kernel_losses

__all__ = ["Loss", "LOSSES", "BINARY_LOSSES", "MULTICLASS_LOSSES", "get_loss"]

# Beyond this margin log(1 + e^-s) = e^-s (1 - e^-s / 2 + ...) to far below float64 precision.
_LOGISTIC_TAIL = 36.0


def _log_softplus_neg(s: np.ndarray) -> np.ndarray:
    """``log(log(1 + e^-s))`` for margins s, finite for every finite margin."""
    softplus = np.maximum(-s, 0.0) + np.log1p(np.exp(-np.abs(s)))  # log(1 + e^-s)
    tail = s > _LOGISTIC_TAIL
    with np.errstate(divide="ignore"):
        out = np.log(softplus)
    out[tail] = -s[tail] - 0.5 * np.exp(-s[tail])
    return out


def _binary_exp(margins: np.ndarray) -> np.ndarray:
    return -margins


def _relative_scores(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``a_c = s_c - s_y`` with the true class set to -inf: shape (..., n, k)."""
    index = np.broadcast_to(y[:, None], scores.shape[:-1] + (1,))
    a = scores - np.take_along_axis(scores, index, axis=-1)
    np.put_along_axis(a, index, -np.inf, axis=-1)
    return a


def _logsumexp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(top, axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def _multiclass_ce(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``log l_i`` for ``l_i = log(1 + sum_{c != y} exp(a_c))`` (finite at any margin)."""
    u = _logsumexp(_relative_scores(scores, y))
    return _log_softplus_neg(-u)


def _multiclass_exp(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``log l_i`` for ``l_i = sum_{c != y} exp(a_c)``."""
    return _logsumexp(_relative_scores(scores, y))


@dataclass(frozen=True)
class Loss:
    """One loss of the table.

    Attributes
    ----------
    name : str
        As given to :func:`fastbias.simulate` (``loss="exp"``).
    code : int
        The kernel's code for it (:mod:`fastbias._kernels.losses`).
    multiclass : bool
        Whether it takes class scores (``W x``) rather than a margin (``<w, z>``).
    log_sample_loss : function
        ``log l_i`` for every sample: from margins (binary) or from scores and labels
        (multiclass), finite at any margin.
    formula : str
        The loss in words, for documentation and summaries.
    """

    name: str
    code: int
    multiclass: bool
    log_sample_loss: Callable
    formula: str


#: Binary losses, by name.
BINARY_LOSSES = {
    "exp": Loss("exp", _kernel_losses.BINARY_EXP, False, _binary_exp, "l(s) = exp(-s)"),
    "logistic": Loss("logistic", _kernel_losses.BINARY_LOGISTIC, False, _log_softplus_neg,
                     "l(s) = log(1 + exp(-s))"),
}
#: Multiclass losses, by name (cross-entropy is the default).
MULTICLASS_LOSSES = {
    "ce": Loss("ce", _kernel_losses.MULTICLASS_CE, True, _multiclass_ce,
               "l = log sum_c exp(s_c - s_y)"),
    "exp": Loss("exp", _kernel_losses.MULTICLASS_EXP, True, _multiclass_exp,
                "l = sum_{c != y} exp(s_c - s_y)"),
}
#: Every loss: ``LOSSES[multiclass][name]``.
LOSSES = {False: BINARY_LOSSES, True: MULTICLASS_LOSSES}


def get_loss(name, multiclass: bool = False) -> Loss:
    """The :class:`Loss` called ``name`` for binary (or multiclass) data.

    Raises
    ------
    TypeError, ValueError
        Naming the allowed losses for that kind of data.

    Examples
    --------
    >>> get_loss("logistic").formula
    'l(s) = log(1 + exp(-s))'
    """
    table = LOSSES[bool(multiclass)]
    kind = "multiclass" if multiclass else "binary"
    if not isinstance(name, str):
        raise TypeError(f"loss must be one of {sorted(table)} for {kind} data; got {name!r}.")
    if name not in table:
        raise ValueError(f"loss must be one of {sorted(table)} for {kind} data; got {name!r}.")
    return table[name]
