"""The record grid of a run: which epochs keep their iterate.

``record=k`` is a fixed grid of k log-spaced epochs per decade, the distinct
``round(10**(j / k))``, that does not depend on the horizon (a longer run's grid extends a
shorter one's, so an extended run has the records of a direct one); explicit epochs are kept
as given. The horizon itself is recorded too, appended to the returned trajectory only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._validation import check_int, shown

__all__ = ["MAX_RECORD_BYTES", "MAX_EPOCH", "record_epochs", "record_spec"]

#: Most memory the records of one run may take (bytes); more is refused before the run.
MAX_RECORD_BYTES = 2**31
#: Largest epoch: the step counter must stay exact in float64 (learning rates use t + 2).
MAX_EPOCH = 2**53


def _last_grid_index(k: int, epochs: int) -> int:
    """The largest j with ``round(10**(j / k)) <= epochs`` (10**(j/k) below epochs + 1/2)."""
    j = math.floor(k * math.log10(epochs + 0.5))
    while j >= 0 and round(10.0 ** (j / k)) > epochs:
        j -= 1
    while round(10.0 ** ((j + 1) / k)) <= epochs:
        j += 1
    return j


def _log_grid_size(k: int, epochs: int) -> int:
    """An upper bound of the number of grid points of :func:`_log_grid` (no allocation)."""
    return min(epochs, _last_grid_index(k, epochs) + 1)


def _log_grid(k: int, epochs: int) -> np.ndarray:
    """The distinct ``round(10**(j / k))`` in [1, epochs]."""
    j_max = _last_grid_index(k, epochs)
    # Below x_dense consecutive grid points are less than 1/2 apart: every integer is one.
    x_dense = 0.5 / math.expm1(math.log(10.0) / k)
    dense = np.arange(1, min(epochs, math.floor(x_dense)) + 1, dtype=np.int64)
    j0 = min(j_max + 1, max(0, math.floor(k * math.log10(max(x_dense, 1.0))) - 1))
    j = np.arange(j0, j_max + 1, dtype=np.float64)
    sparse = np.rint(np.power(10.0, j / k)).astype(np.int64)
    grid = np.union1d(dense, sparse)
    return grid[(grid >= 1) & (grid <= epochs)]


def record_epochs(record, epochs: int, *, row_bytes: int | None = None) -> np.ndarray:
    """The record grid of a run of ``epochs`` epochs (without the horizon itself).

    Parameters
    ----------
    record : int or sequence of int
        ``k``: k log-spaced epochs per decade on a fixed grid, the distinct
        ``round(10**(j / k))`` for j = 0, 1, ...; or explicit epochs in [0, ...] (0 is the
        starting point). The grid does not depend on the horizon: a longer run's grid
        extends a shorter one's.
    epochs : int
        The horizon; :func:`simulate` also records it (not part of the grid).
    row_bytes : int, optional
        Bytes of one recorded iterate: a grid whose records would take more than
        :data:`MAX_RECORD_BYTES` is refused (before it is built).

    Returns
    -------
    ndarray of int64
        The grid epochs in [0, epochs], sorted.

    Raises
    ------
    TypeError, ValueError
        For a malformed ``record``, or one whose records would not fit in memory (the
        message gives the memory needed).

    Examples
    --------
    >>> record_epochs(3, 100).tolist()
    [1, 2, 5, 10, 22, 46, 100]
    >>> record_epochs([0, 5, 50], 20).tolist()
    [0, 5]
    """
    explicit = isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str)
    if explicit:
        size = len(record)  # checked before any array is made of them
    else:
        k = check_int("record", record, 1)
        size = _log_grid_size(k, epochs)
    if row_bytes is not None and (size + 1) * row_bytes > MAX_RECORD_BYTES:
        raise ValueError(
            f"record={_shown(record)} would keep up to {size:,} iterates of {row_bytes:,} "
            f"bytes: {size * row_bytes / 2**30:,.3g} GiB, more than the "
            f"{MAX_RECORD_BYTES / 2**30:g} GiB allowed for records; ask for fewer records per "
            "decade (record=20 keeps about 20 per factor 10 of epochs) or an explicit list."
        )
    if explicit:
        arr = _explicit_epochs(record)
        return arr[arr <= epochs]
    return _log_grid(k, epochs)


def _explicit_epochs(record) -> np.ndarray:
    """Explicit record epochs as sorted distinct int64, checked as Python integers.

    Any integer dtype is accepted; values are compared before any conversion, so that a
    uint64 beyond the int64 range is refused instead of wrapping to a negative epoch.
    """
    arr = np.asarray(record)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(
            f"record must be a count per decade or a 1-D sequence of integer epochs; "
            f"got {shown(record)}."
        )
    if arr.size:
        low, high = int(arr.min()), int(arr.max())  # Python ints: no wrap-around
        if low < 0:
            raise ValueError(f"record epochs must be >= 0; got {low}.")
        if high > MAX_EPOCH:
            raise ValueError(f"record epochs must be at most 2**53 = {MAX_EPOCH}; got {high}.")
    return np.unique(arr.astype(np.int64))


def _shown(record) -> str:
    if isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str):
        return f"[{len(record)} epochs]"
    return repr(record)


def record_spec(record):
    """The record argument in its stored form (an int, or a sorted list of epochs)."""
    if isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str):
        return _explicit_epochs(record).tolist()
    return int(record)
