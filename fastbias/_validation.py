"""Input checks shared by every public entry point.

Every message names the parameter, states what is allowed and shows the value received
(``beta2 must be in [0, 1); got 1.0.``), so that errors read the same everywhere.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

_BRACKETS = {
    "both": ("[", "]"),
    "left": ("[", ")"),
    "right": ("(", "]"),
    "neither": ("(", ")"),
}


def shown(value) -> str:
    """A received value as a message shows it: arrays by shape and type, long reprs cut."""
    if isinstance(value, np.ndarray) and value.size > 8:
        return f"an array of shape {value.shape} ({value.dtype})"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value)} items ({shown(value[0])}, ...)"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def check_real(name: str, value) -> float:
    """Return ``value`` as a Python float; TypeError unless it is a real number (not bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        kind = type(value).__name__
        raise TypeError(f"{name} must be a real number; got {shown(value)} of type {kind}.")
    return float(value)


def check_interval(name: str, value, low: float, high: float, closed: str = "both") -> float:
    """Return ``value`` as a float after checking that it lies in the interval.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``; ``low`` or
    ``high`` may be infinite.
    """
    x = check_real(name, value)
    left, right = _BRACKETS[closed]
    ok_low = x >= low if left == "[" else x > low
    ok_high = x <= high if right == "]" else x < high
    if not (ok_low and ok_high) or x != x:
        lo = "-inf" if low == -np.inf else f"{low:g}"
        hi = "inf" if high == np.inf else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}; got {shown(value)}.")
    return x


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as a Python int; TypeError unless integral, ValueError if out of range."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer; got {shown(value)}.")
    try:
        k = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer; got {shown(value)} of type {type(value).__name__}."
        ) from None
    if (low is not None and k < low) or (high is not None and k > high):
        if high is None:
            raise ValueError(f"{name} must be an integer >= {low}; got {shown(value)}.")
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {shown(value)}.")
    return k


def check_option(name: str, value, options) -> str:
    """Return ``value`` if it is one of the strings ``options``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {sorted(options)}; got {shown(value)}.")
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}; got {shown(value)}.")
    return value


def check_finite_array(name: str, value, ndim: int) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array with ``ndim`` dimensions.

    Raises TypeError for non-numeric input and ValueError for a wrong number of dimensions,
    an empty array, or NaN/inf entries (the message gives the position of the first one).
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a {ndim}-D array of real numbers; {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold real numbers; got an array of dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers; got an array of dtype {arr.dtype}.")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = np.unravel_index(int(np.argmax(bad)), arr.shape)
        what = "NaN" if np.isnan(arr[pos]) else "inf"
        where = f"at row {pos[0]}, column {pos[1]}" if ndim == 2 else f"at index {pos[0]}"
        raise ValueError(f"{name} contains {what} {where}; all values must be finite.")
    return arr
