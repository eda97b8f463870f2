"""Norms of iterates: l_p norms of vectors (binary data) and matrix norms (multiclass data).

Binary data compare iterates with l_p max-margin directions, p in [1, inf];
multiclass data with the max-margin matrices of a matrix norm: ``"max"`` (largest
absolute entry), ``"fro"`` (Frobenius), ``"spectral"`` (largest singular value),
``"nuclear"`` (sum of the singular values) and ``"l1"``
(sum of absolute entries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import check_interval, shown

__all__ = [
    "Norm",
    "NORMS",
    "MATRIX_NORMS",
    "check_p",
    "check_matrix_norm",
    "check_norm",
    "norm_values",
    "norm_label",
    "summary_norms",
    "named_norm",
    "norm_by_key",
    "norm_key",
]


@dataclass(frozen=True)
class Norm:
    """A named norm of iterates, as tables, references and plots show it.

    Attributes
    ----------
    key : str
        Its name (``"l2"``, ``"max"``), unique per kind of data.
    value : float or str
        What the norm functions take: an l_p exponent (binary data) or a matrix norm name.
    multiclass : bool
        Whether it is a norm of multiclass parameters (matrices).
    short : str
        A short column name (``"l_2"``, ``"spectral"``).
    label : str
        In words (``"Frobenius"``), before "max-margin" in references.
    dual : str
        The dual norm (matrix norms: for the certificates of the max-margin solvers).
    summary : bool
        Whether the summary tables (``fastbias run``, sweeps) show the normalized margin in it.
    """

    key: str
    value: object
    multiclass: bool
    short: str
    label: str
    dual: str = ""
    summary: bool = False


#: The named norms, binary then multiclass; each fact about them is stated here once.
NORMS = (
    Norm("l1", 1.0, False, "l_1", "l_1", "linf"),
    Norm("l1.5", 1.5, False, "l_1.5", "l_1.5", "l3"),
    Norm("l2", 2.0, False, "l_2", "l_2", "l2", summary=True),
    Norm("l3", 3.0, False, "l_3", "l_3", "l1.5"),
    Norm("linf", math.inf, False, "l_inf", "l_inf", "l1", summary=True),
    Norm("max", "max", True, "max", "max-norm", "l1", summary=True),
    Norm("fro", "fro", True, "fro", "Frobenius", "fro", summary=True),
    Norm("spectral", "spectral", True, "spectral", "spectral-norm", "nuclear", summary=True),
    Norm("nuclear", "nuclear", True, "nuclear", "nuclear-norm", "spectral"),
    Norm("l1", "l1", True, "l1", "entrywise l_1", "max"),
)

#: Matrix norms of multiclass parameters, with their duals (for certificates).
MATRIX_NORMS = {norm.value: norm.dual for norm in NORMS if norm.multiclass}


def summary_norms(multiclass: bool) -> list[Norm]:
    """The norms whose normalized margins summary tables show, for one kind of data."""
    return [norm for norm in NORMS if norm.summary and norm.multiclass == bool(multiclass)]


def named_norm(value, multiclass: bool) -> Norm | None:
    """The :class:`Norm` of a norm value (``2.0``, ``"fro"``), or None if it has no name."""
    for norm in NORMS:
        if norm.multiclass == bool(multiclass) and norm.value == value:
            return norm
    return None


def norm_by_key(key: str, multiclass: bool) -> Norm | None:
    """The :class:`Norm` named ``key`` (``"l2"``, ``"fro"``) for one kind of data, or None."""
    for norm in NORMS:
        if norm.multiclass == bool(multiclass) and norm.key == key:
            return norm
    return None


def norm_key(name) -> str | None:
    """The key of a named norm (``"l2"``, ``"fro"``), or None if it names no norm.

    Also under the names :func:`check_p` takes (``"inf"``, ``"l_inf"``, ``"L2"``).
    """
    if not isinstance(name, str):
        return None
    if any(norm.key == name for norm in NORMS):
        return name
    p = _P_NAMES.get(name.lower())
    return None if p is None else named_norm(p, False).key


#: Names accepted for the common l_p norms.
_P_NAMES = {
    "inf": math.inf,
    "linf": math.inf,
    "l_inf": math.inf,
    "l2": 2.0,
    "l_2": 2.0,
    "l1": 1.0,
    "l_1": 1.0,
}


def check_p(p) -> float:
    """``p`` of an l_p norm as a float in [1, inf]; also ``"inf"``, ``"l2"``, ``"l_inf"``, ..."""
    if isinstance(p, str):
        if p.lower() in _P_NAMES:
            return _P_NAMES[p.lower()]
        hint = f" ({p!r} is a matrix norm, for multiclass data)" if p in MATRIX_NORMS else ""
        raise TypeError(
            f"p must be a real number in [1, inf] or one of {sorted(_P_NAMES)}; "
            f"got {shown(p)}{hint}."
        )
    return check_interval("p", p, 1.0, math.inf, "both")


def check_matrix_norm(norm) -> str:
    """A matrix norm name, one of :data:`MATRIX_NORMS`."""
    if not isinstance(norm, str) or norm not in MATRIX_NORMS:
        raise ValueError(
            f"norm must be one of {sorted(MATRIX_NORMS)} for multiclass data; got {shown(norm)}."
        )
    return norm


def check_norm(norm, multiclass: bool):
    """The norm of an iterate: an l_p exponent (binary) or a matrix norm name (multiclass)."""
    return check_matrix_norm(norm) if multiclass else check_p(norm)


def lp_norm(W: np.ndarray, p: float, axis=-1) -> np.ndarray:
    """``||w||_p`` along ``axis``, computed scaled: ``max|w| * ||w / max|w| ||_p``.

    The powers ``|w_i / max|w||**p`` lie in [0, 1], so no p (120, 1000, ...) and no scale of
    ``w`` (1e-300 or 1e300) over- or underflows the sum; ``w = 0`` has norm 0.
    """
    W = np.asarray(W, dtype=np.float64)
    top = np.max(np.abs(W), axis=axis, keepdims=True)
    if p == math.inf:
        return np.squeeze(top, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(top > 0, W / np.where(top > 0, top, 1.0), 0.0)
    return np.squeeze(top, axis=axis) * np.linalg.norm(unit, ord=p, axis=axis)


def norm_values(W: np.ndarray, norm, multiclass: bool) -> np.ndarray:
    """Norms of iterates: ``W`` of shape (..., d) (binary) or (..., k, d) (multiclass)."""
    W = np.asarray(W, dtype=np.float64)
    if not multiclass:
        return lp_norm(W, norm)
    ords = {"l1": None, "fro": "fro", "spectral": 2, "nuclear": "nuc"}
    if norm != "max" and norm not in ords:
        raise ValueError(f"unknown norm {norm!r}.")
    # scaled like lp_norm: each matrix divided by its largest entry first, so that no
    # square overflows (|W| > 1e154) or underflows
    top = np.max(np.abs(W), axis=(-2, -1))
    if norm == "max":
        return top
    unit = W / np.where(top > 0, top, 1.0)[..., None, None]
    if norm == "l1":
        size = np.sum(np.abs(unit), axis=(-2, -1))
    else:
        size = np.linalg.norm(unit, ord=ords[norm], axis=(-2, -1))
    return size * top


def norm_label(norm) -> str:
    """``"l_2"``, ``"l_inf"`` or the matrix norm's name, for tables and plots."""
    if isinstance(norm, str):
        return norm
    return "l_inf" if norm == math.inf else f"l_{norm:g}"
