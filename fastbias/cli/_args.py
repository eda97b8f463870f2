"""Argument types and text helpers of the command line.

Integers written ``1e6``, finite and positive numbers, data shapes, one-line messages.
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def progress_default(value):
    """``--progress``/``--no-progress`` if given, else on where a person watches."""
    from .._parallel import progress_default

    return progress_default() if value is None else value


def _integer(text: str, low: int | None, what: str) -> int:
    """An integer written ``123`` or ``1e6``; never OverflowError (``1e999``, ``nan``)."""
    try:
        return _check_low(int(text), low, text, what)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
    if not math.isfinite(value) or not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return _check_low(int(value), low, text, what)


def _check_low(value: int, low: int | None, text: str, what: str) -> int:
    if low is not None and value < low:
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1, also written as ``1e6``."""
    return _integer(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    return _integer(text, 0, "an integer >= 0")


def any_int(text: str) -> int:
    """Any integer (the optimizer checks its range and says which)."""
    return _integer(text, None, "an integer")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def finite_float(text: str) -> float:
    """A finite number (the receiving object checks its range)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number; got {text!r}")
    return value


def fmt(value: float, width: int = 11) -> str:
    """A table cell of ``width`` characters, always with a space before the number."""
    w = width - 1
    if value is None or not np.isfinite(value):
        return f" {'nan' if value is not None else '-':>{w}s}"
    return f" {value:{w}.4f}" if abs(value) < 1e4 else f" {value:{w}.4g}"


def flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name if it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def os_message(exc: OSError) -> str:
    """An OSError on one line without the ``[Errno N]`` prefix, naming the file if known."""
    text = exc.strerror or one_line(exc)
    for name in (exc.filename, exc.filename2):
        if name is not None:
            text += f": {str(name)!r}"
    return " ".join(text.split())


def call_text(params) -> str:
    """``Name(a=1, b=2)`` from a stored ``{"name": ..., ...}`` dict."""
    if not isinstance(params, dict):
        return "a plain function (not stored)" if params is None else repr(params)
    args = ", ".join(f"{key}={value!r}" for key, value in params.items() if key != "name")
    return f"{params.get('name', '?')}({args})"


def shape(text: str) -> tuple[int, int]:
    """A data shape written ``NxD`` with N, D >= 1."""
    try:
        n, d = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NxD such as 10x50; got {text!r}") from None
    if n < 1 or d < 1:
        raise argparse.ArgumentTypeError(f"expected N, D >= 1; got {text!r}")
    return n, d
