"""Diagnostics of iterates: log-loss at any margin, cosine similarity, normalized margins."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = ["log_loss", "cosine", "normalized_margin"]

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
    Z = np.asarray(Z, dtype=np.float64)
    W = np.atleast_2d(np.asarray(w, dtype=np.float64))
    logl = _log_sample_losses(W @ Z.T, loss)
    out = logsumexp(logl, axis=1) - np.log(Z.shape[0])
    return float(out[0]) if np.ndim(w) == 1 else out


def cosine(w, u) -> np.ndarray | float:
    """Cosine similarity of ``w`` (one vector or rows of a stack) with ``u``; NaN where w = 0."""
    W = np.atleast_2d(np.asarray(w, dtype=np.float64))
    u = np.asarray(u, dtype=np.float64).ravel()
    if u.shape[0] != W.shape[1]:
        raise ValueError(f"u must have length d = {W.shape[1]}; got shape {np.shape(u)}.")
    nu = np.linalg.norm(u)
    if nu == 0.0:
        raise ValueError("u must be nonzero to define a cosine similarity.")
    nw = np.linalg.norm(W, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (W @ u) / (nw * nu)
    return float(out[0]) if np.ndim(w) == 1 else out


def _p_norm(W: np.ndarray, p: float) -> np.ndarray:
    return np.linalg.norm(W, ord=p, axis=1)


def normalized_margin(Z, w, p: float) -> np.ndarray | float:
    """``gamma_p(w) = min_i <w, z_i> / ||w||_p`` for one iterate or a stack; NaN where w = 0."""
    Z = np.asarray(Z, dtype=np.float64)
    W = np.atleast_2d(np.asarray(w, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.min(W @ Z.T, axis=1) / _p_norm(W, p)
    return float(out[0]) if np.ndim(w) == 1 else out
