"""The training loss of iterates, as ``log L(w)``: finite at any margin."""

from __future__ import annotations

import numpy as np

from ._validation import check_finite_array, check_option

__all__ = ["log_loss"]

# Beyond this margin log(1 + e^-s) = e^-s (1 - e^-s / 2 + ...) to far below float64 precision.
_LOGISTIC_TAIL = 36.0


def _log_sample_losses(margins: np.ndarray, loss: str) -> np.ndarray:
    """``log l(s)`` for each margin, finite for every finite margin."""
    s = np.asarray(margins, dtype=np.float64)
    if loss == "exp":
        return -s
    softplus = np.maximum(-s, 0.0) + np.log1p(np.exp(-np.abs(s)))  # log(1 + e^-s)
    tail = s > _LOGISTIC_TAIL
    with np.errstate(divide="ignore"):
        out = np.log(softplus)
    out[tail] = -s[tail] - 0.5 * np.exp(-s[tail])
    return out


def log_loss(Z, w, loss: str = "exp") -> np.ndarray | float:
    """``log L(w)`` with ``L(w) = (1/n) sum_i l(<w, z_i>)``, through logsumexp.

    Finite at any horizon (no underflow of ``exp(-margin)``).

    Parameters
    ----------
    Z : ndarray (n, d)
        Signed samples.
    w : ndarray (d,) or (k, d)
        One iterate or a stack of iterates.
    loss : {"exp", "logistic"}

    Returns
    -------
    float or ndarray (k,)
    """
    check_option("loss", loss, ("exp", "logistic"))
    Z = check_finite_array("Z", Z, ndim=2)
    W = np.asarray(w, dtype=np.float64)
    if W.ndim not in (1, 2) or W.shape[-1] != Z.shape[1]:
        raise ValueError(f"w must have shape (d,) or (k, d) with d = {Z.shape[1]}; got {W.shape}.")
    W = np.atleast_2d(W)
    logl = _log_sample_losses(W @ Z.T, loss)
    top = logl.max(axis=1)  # logsumexp, without importing scipy.special at start-up
    out = top + np.log(np.exp(logl - top[:, None]).sum(axis=1)) - np.log(Z.shape[0])
    return float(out[0]) if np.ndim(w) == 1 else out
