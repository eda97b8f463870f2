"""Fingerprints of user code in stored parameters.

A schedule, optimizer, loss or model defined outside fastbias is stored with a fingerprint
of its source (``"code"``), so that a checkpoint or a sweep's saved result is not continued
or reused after that code was edited: their stored parameters differ. The classes of
fastbias itself carry none (a release series fixes their code, and files record it).
"""

from __future__ import annotations

import functools
import hashlib
import inspect

__all__ = ["code_fingerprint", "with_code", "class_functions"]


def code_fingerprint(cls, functions=()) -> str | None:
    """The fingerprint of a class defined outside fastbias and of ``functions``, else None.

    Sixteen hexadecimal digits of a SHA-256 of their source (of their compiled code where
    Python keeps no source, e.g. a class typed at a prompt). Functions and modules that the
    class calls are not part of it.
    """
    module = getattr(cls, "__module__", "") or ""
    if module == "fastbias" or module.startswith("fastbias."):
        return None
    return _digest(cls, tuple(functions))


@functools.lru_cache(maxsize=256)
def _digest(cls, functions: tuple) -> str:
    h = hashlib.sha256()
    for obj in (cls, *functions):
        h.update(_text(obj).encode())
    return h.hexdigest()[:16]


def _text(obj) -> str:
    obj = getattr(obj, "py_func", obj)  # the Python function behind a compiled one
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        if hasattr(obj, "__code__"):
            codes = [obj.__code__]
        else:
            codes = [f.__code__ for f in vars(obj).values() if hasattr(f, "__code__")]
        return "".join(code.co_code.hex() + repr(code.co_consts) for code in codes)


def with_code(stored: dict, cls, functions=()) -> dict:
    """``stored`` with the ``"code"`` fingerprint of ``cls`` added (classes outside fastbias)."""
    code = code_fingerprint(cls, functions)
    return stored if code is None else {**stored, "code": code}


def class_functions(cls) -> tuple:
    """The functions a class holds as attributes (compiled ones included), in name order."""
    return tuple(
        value
        for _, value in sorted(vars(cls).items())
        if callable(value) and not isinstance(value, type)
    )
