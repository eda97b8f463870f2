"""The training loss and the margins of iterates, finite at any horizon."""

from __future__ import annotations

import numpy as np

from ._validation import check_finite_array
from .losses import get_loss, loss_from_stored

__all__ = ["log_loss", "min_margins"]


def _as_data(data):
    """``(multiclass, rows, labels)``: a Dataset, a MulticlassDataset or signed samples Z."""
    from .datasets import Dataset, MulticlassDataset

    if isinstance(data, MulticlassDataset):
        return True, data.X, data.y
    if isinstance(data, Dataset):
        return False, data.Z, None
    return False, check_finite_array("Z", data, ndim=2), None


def _stack(w, multiclass: bool, k: int | None, d: int):
    """Iterates as a stack (r, d) or (r, k, d), and whether one iterate was given."""
    W = np.asarray(w, dtype=np.float64)
    one = W.ndim == (2 if multiclass else 1)
    W = W[None] if one else W
    shape = (k, d) if multiclass else (d,)
    if W.shape[1:] != shape:
        what = "(k, d) or (r, k, d)" if multiclass else "(d,) or (r, d)"
        classes = f"k = {k}, " if multiclass else ""
        raise ValueError(f"w must have shape {what} with {classes}d = {d}; got {np.shape(w)}.")
    return W, one


def min_margins(data, w) -> np.ndarray | float:
    """Smallest margin over the samples for each iterate.

    Binary: ``min_i <w, z_i>``. Multiclass: ``min_i min_{c != y_i} (W[y_i] - W[c]) . x_i``.

    Examples
    --------
    >>> min_margins([[1.0, 0.0], [0.0, 2.0]], [1.0, 1.0])
    1.0
    """
    multiclass, rows, labels = _as_data(data)
    k = data.k if multiclass else None
    W, one = _stack(w, multiclass, k, rows.shape[1])
    if multiclass:
        out = data.margins(W).min(axis=-1)
    else:
        out = np.min(W @ rows.T, axis=1)
    return float(out[0]) if one else out


def log_loss(data, w, loss: str | None = None) -> np.ndarray | float:
    """``log L(w)`` with ``L(w) = (1/n) sum_i l_i(w)``, through logsumexp.

    Finite at any horizon (no underflow of ``exp(-margin)``).

    Parameters
    ----------
    data : Dataset, MulticlassDataset or ndarray (n, d)
        The data, or the signed samples Z of binary data.
    w : ndarray
        One iterate ((d,) binary, (k, d) multiclass) or a stack of them.
    loss : str, dict or Loss, optional
        A loss registered for the kind of data (:data:`fastbias.losses.LOSSES`), by name, in
        its stored form, or as an object; default ``"exp"`` (binary) or ``"ce"``
        (multiclass).

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(log_loss([[1.0, 0.0]], [2.0, 0.0]), 12)
    -2.0
    """
    multiclass, rows, labels = _as_data(data)
    if loss is None:
        loss = "ce" if multiclass else "exp"
    spec = (
        loss_from_stored(loss, multiclass) if isinstance(loss, dict) else get_loss(loss, multiclass)
    )
    k = data.k if multiclass else None
    W, one = _stack(w, multiclass, k, rows.shape[1])
    if multiclass:
        scores = np.einsum("rcd,nd->rnc", W, rows)
        logl = spec.log_sample_loss(scores, labels)
    else:
        logl = spec.log_sample_loss(W @ rows.T)
    top = logl.max(axis=1)  # logsumexp, without importing scipy.special at start-up
    finite = np.isfinite(top)
    safe = np.where(finite, top, 0.0)
    with np.errstate(divide="ignore"):
        out = safe + np.log(np.exp(logl - safe[:, None]).sum(axis=1)) - np.log(rows.shape[0])
    out = np.where(finite, out, top)
    return float(out[0]) if one else out
