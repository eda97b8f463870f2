"""Losses: small parameter objects, each with its derivative in log form, in one registry.

A loss is a frozen dataclass (its fields are its parameters, declared with
:func:`fastbias.extend.option`) that subclasses :class:`Loss` and gives

* ``multiclass``: whether it takes the class scores ``s = W x_i`` of multiclass data (and
  the class ``y_i``) or the margin ``s = <w, z_i>`` of binary data;
* ``derivative``: a function written with :func:`fastbias.extend.jitable` that the step
  loops call with the loss's parameter array ``lparams`` (:meth:`Loss.parameters`). A binary
  loss decreases, and ``derivative(s, lparams)`` is ``log(-l'(s))`` at the margin s. A
  multiclass loss's ``derivative(scores, r, label, lp, sg, lparams)`` writes ``log|dl/ds_c|``
  to ``lp[r, c]`` and the sign of ``dl/ds_c`` to ``sg[r, c]`` for the scores
  ``scores[r, :]`` of one sample of class ``label``, and returns the largest ``lp[r, c]``.
  Log form: no derivative ever underflows, at any margin;
* :meth:`Loss.log_sample_loss`: ``log l_i`` of every sample in NumPy, finite at any margin,
  for ``log L(w)`` in trajectories, sweeps and tables.

:func:`register_loss` enters the class under a name (``loss="exp"``); the step loops are
compiled for each loss they run with, the command line, metrics, theory helpers, benchmarks
and tests read this one table. ``docs/extending.md`` shows how a loss is added.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._jit import jitable
from ._options import check_options
from ._provenance import class_functions, with_code
from ._validation import shown

__all__ = [
    "Loss",
    "LOSSES",
    "BINARY_LOSSES",
    "MULTICLASS_LOSSES",
    "get_loss",
    "loss_from_stored",
    "register_loss",
    "unregister_loss",
    "loss_names",
    "ExpLoss",
    "LogisticLoss",
    "CrossEntropy",
    "MulticlassExpLoss",
]


class Loss:
    """Base class of the losses: a frozen dataclass of parameters with a log-derivative.

    Subclasses are dataclasses (``@dataclass(frozen=True)``) whose fields are the loss's
    parameters; they set the class attributes ``multiclass`` and ``derivative`` (a
    :func:`fastbias.extend.jitable` function, see :mod:`fastbias.losses`) and define
    :meth:`log_sample_loss`.
    """

    #: Name under which the loss is registered (set by :func:`register_loss`).
    name: ClassVar[str] = ""
    #: Whether the loss takes class scores (multiclass data) or a margin (binary data).
    multiclass: ClassVar[bool] = False
    #: The loss in words, for documentation and summaries.
    formula: ClassVar[str] = ""
    #: The log-derivative the step loops call (a jitable function; see the module).
    derivative: ClassVar[Callable]
    #: Optional: the log-value the loops call for rules that take the loss itself
    #: (loss-normalized GD): binary ``value(s, lparams) = log l(s)``, multiclass
    #: ``value(scores, r, label, lparams) = log l_i``; a jitable function.
    value: ClassVar[Callable | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:  # kept by @dataclass
            cls.__repr__ = Loss.__repr__

    def __post_init__(self):
        check_options(self)

    def parameters(self) -> np.ndarray:
        """The parameter array ``lparams`` of the derivative: the fields, in order."""
        return np.array(
            [float(getattr(self, f.name)) for f in dataclasses.fields(self)], dtype=np.float64
        )

    def log_sample_loss(self, s: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """``log l_i`` from margins (binary) or from scores (..., n, k) and labels (multiclass)."""
        raise NotImplementedError(f"{type(self).__name__} must define log_sample_loss.")

    def log_neg_derivative(self, s) -> np.ndarray:
        """``log(-l'(s))`` of a binary loss for an array of margins (NumPy).

        By default the loss's ``derivative`` applied entry by entry (as plain Python).
        """
        if self.multiclass:
            raise TypeError(f"{self!r} is a multiclass loss: it has no derivative in a margin.")
        function = python_function(type(self).derivative)
        params = self.parameters()
        s = np.asarray(s, dtype=np.float64)
        return np.vectorize(lambda x: function(float(x), params), otypes=[np.float64])(s)

    def to_stored(self):
        """The stored form: the name, or a dict with the name and the parameters."""
        stored = with_code(
            {"name": self.name, **dataclasses.asdict(self)}, type(self), class_functions(type(self))
        )
        return self.name if len(stored) == 1 else stored

    def __str__(self) -> str:
        return self.name if not dataclasses.fields(self) else repr(self)

    def __repr__(self) -> str:
        values = dataclasses.asdict(self)
        if not values:
            return repr(self.name)
        args = ", ".join(f"{key}={value!r}" for key, value in values.items())
        return f"{type(self).__name__}({args})"


def python_function(func):
    """The plain-Python function behind a jitable (or njit) function."""
    return getattr(func, "py_func", func)


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

_REGISTRY: dict[bool, dict[str, type]] = {False: {}, True: {}}
#: Registered losses: ``LOSSES[multiclass][name]`` is the class (read-only views).
LOSSES = {kind: types.MappingProxyType(table) for kind, table in _REGISTRY.items()}
#: Binary losses (take the margin ``<w, z_i>``), by name.
BINARY_LOSSES = LOSSES[False]
#: Multiclass losses (take the scores ``W x_i`` and the class), by name.
MULTICLASS_LOSSES = LOSSES[True]


def register_loss(name: str):
    """Class decorator: enter a loss class in the registry under ``name``.

    Binary and multiclass losses have separate names (``"exp"`` is both: the binary
    exponential loss and its multiclass form). The class's derivative is checked with a dry
    run in plain Python: reading beyond its parameter array or returning something other
    than a number is refused here, not discovered in a compiled loop.

    Raises
    ------
    TypeError
        If the class is not a dataclass subclass of :class:`Loss` with a ``derivative``.
    ValueError
        If the name is taken by another class, malformed, or the dry run fails.
    """
    if not isinstance(name, str) or not name or name != name.strip().lower() or " " in name:
        raise ValueError(f"name must be a lower-case word such as 'exp'; got {shown(name)}.")

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Loss) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} must be a dataclass that subclasses fastbias Loss.")
        if not callable(getattr(cls, "derivative", None)):
            raise TypeError(f"{cls.__name__}.derivative must be a jitable function.")
        table = _REGISTRY[bool(cls.multiclass)]
        previous = table.get(name)
        same = previous is not None and (previous.__module__, previous.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )
        if previous is not None and previous is not cls and not same:
            raise ValueError(
                f"a {_kind(cls.multiclass)} loss is already registered as "
                f"{name!r}: {previous.__name__}."
            )
        cls.name = name
        _dry_run(cls)
        table[name] = cls
        return cls

    return decorate


def unregister_loss(name: str, multiclass: bool = False) -> type:
    """Remove a loss from the registry; returns its class (ValueError if there is none)."""
    table = _REGISTRY[bool(multiclass)]
    if name not in table:
        raise ValueError(
            f"no {_kind(multiclass)} loss is registered as {name!r}; registered: {sorted(table)}."
        )
    return table.pop(name)


def loss_names(multiclass: bool | None = None) -> list[str]:
    """Names of the registered losses (of one kind, or of both, in registration order)."""
    if multiclass is None:
        return list(dict.fromkeys([*_REGISTRY[False], *_REGISTRY[True]]))
    return list(_REGISTRY[bool(multiclass)])


def _kind(multiclass) -> str:
    return "multiclass" if multiclass else "binary"


def _dry_run(cls) -> None:
    """Call the derivative once in plain Python with the default parameters."""
    try:
        loss = cls()
    except TypeError:
        return  # a loss without defaults: checked when it is made
    function = python_function(cls.derivative)
    params = loss.parameters()
    try:
        if cls.multiclass:
            scores = np.array([[0.5, -0.25, 0.125]])
            lp, sg = np.empty((1, 3)), np.empty((1, 3))
            value = function(scores, 0, 1, lp, sg, params)
        else:
            value = function(0.5, params)
    except (IndexError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise ValueError(
            f"loss {cls.__name__}: its derivative fails in a dry run with the parameters "
            f"{params.tolist()} ({type(exc).__name__}: {exc}); it reads lparams[j] for the "
            f"j-th field of the class, in order."
        ) from None
    if not isinstance(value, (float, int, np.floating, np.integer)) or isinstance(value, bool):
        raise TypeError(
            f"loss {cls.__name__}: its derivative must return a number (the "
            f"largest log-derivative); got {shown(value)}."
        )


def get_loss(loss, multiclass: bool = False) -> Loss:
    """The loss ``loss`` (a registered name, or a :class:`Loss`) for binary or multiclass data.

    Raises
    ------
    TypeError, ValueError
        Naming the losses registered for that kind of data.

    Examples
    --------
    >>> get_loss("logistic").formula
    'l(s) = log(1 + exp(-s))'
    >>> get_loss("exp", multiclass=True).formula
    'l = sum_{c != y} exp(s_c - s_y)'
    """
    table = _REGISTRY[bool(multiclass)]
    kind = _kind(multiclass)
    if isinstance(loss, Loss):
        if loss.multiclass != bool(multiclass):
            raise ValueError(
                f"loss {loss!r} is a {_kind(loss.multiclass)} loss; {kind} data "
                f"take one of {sorted(table)}."
            )
        return loss
    if not isinstance(loss, str):
        raise TypeError(
            f"loss must be one of {sorted(table)} for {kind} data (or a "
            f"fastbias Loss); got {shown(loss)}."
        )
    if loss not in table:
        other = _REGISTRY[not multiclass]
        hint = f" ({loss!r} is a {_kind(not multiclass)} loss)" if loss in other else ""
        raise ValueError(
            f"loss must be one of {sorted(table)} for {kind} data; got {shown(loss)}{hint}."
        )
    return table[loss]()


def loss_from_stored(value, multiclass: bool) -> Loss:
    """Rebuild a loss from :meth:`Loss.to_stored` output (a name or a dict)."""
    if isinstance(value, Mapping):
        params = dict(value)
        name = params.pop("name", None)
        params.pop("code", None)  # the fingerprint of a user's class: matched, not an option
        cls = type(get_loss(name, multiclass)) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(f"loss parameters must name a loss; got {shown(value)}.")
        try:
            return cls(**params)
        except TypeError as exc:
            raise ValueError(f"invalid parameters for loss {name!r}: {exc}") from None
    return get_loss(value, multiclass)


# --------------------------------------------------------------------------------------------
# Derivatives in log form (compiled into the step loops)
# --------------------------------------------------------------------------------------------


@jitable
def softplus(u):
    """``log(1 + e^u)`` without overflow or cancellation."""
    if u > 0.0:
        return u + math.log1p(math.exp(-u))
    return math.log1p(math.exp(u))


@jitable
def exp_log_derivative(s, lparams):
    """``log(-l'(s)) = -s`` for ``l(s) = exp(-s)``."""
    return -s


@jitable
def logistic_log_derivative(s, lparams):
    """``log(-l'(s)) = -log(1 + e^s)`` for ``l(s) = log(1 + exp(-s))``."""
    return -softplus(s)


@jitable(nrt=False)
def _log_sum_others(scores, r, label):
    """``u = log sum_{c != y} exp(s_c - s_y)`` for the scores of sample r (relative to s_y)."""
    k = scores.shape[1]
    sy = scores[r, label]
    top = -math.inf
    for c in range(k):
        if c != label:
            top = max(top, scores[r, c] - sy)
    total = 0.0
    for c in range(k):
        if c != label:
            total += math.exp((scores[r, c] - sy) - top)
    return top + math.log(total)


@jitable(nrt=False)
def ce_log_derivatives(scores, r, label, lp, sg, lparams):
    """Cross-entropy: ``dl/ds_c = p_c`` (c != y) and ``dl/ds_y = -(1 - p_y)``, in log form.

    ``p_c = exp(a_c - softplus(u))`` with ``a_c = s_c - s_y`` and ``1 - p_y = exp(u -
    softplus(u))``, never formed as ``1 - p_y``.
    """
    u = _log_sum_others(scores, r, label)
    norm = softplus(u)
    sy = scores[r, label]
    best = u - norm
    for c in range(scores.shape[1]):
        if c != label:
            lp[r, c] = (scores[r, c] - sy) - norm
            sg[r, c] = 1.0
            best = max(best, lp[r, c])
    lp[r, label] = u - norm
    sg[r, label] = -1.0
    return best


@jitable(nrt=False)
def multiclass_exp_log_derivatives(scores, r, label, lp, sg, lparams):
    """``l = sum_{c != y} exp(s_c - s_y)``: ``dl/ds_c = exp(a_c)``, ``dl/ds_y = -e^u``."""
    u = _log_sum_others(scores, r, label)
    sy = scores[r, label]
    best = u
    for c in range(scores.shape[1]):
        if c != label:
            lp[r, c] = scores[r, c] - sy
            sg[r, c] = 1.0
            best = max(best, lp[r, c])
    lp[r, label] = u
    sg[r, label] = -1.0
    return best


# Beyond this margin log(1 + e^-s) = e^-s (1 - e^-s / 2 + ...) to far below float64 precision.
_TAIL = 36.0


@jitable
def log_softplus(u):
    """``log(log(1 + e^u))``, finite for every finite u (``u - e^u / 2`` far below 0)."""
    if u < -_TAIL:
        return u - 0.5 * math.exp(u)
    return math.log(softplus(u))


@jitable
def exp_log_value(s, lparams):
    """``log l(s) = -s`` for ``l(s) = exp(-s)``."""
    return -s


@jitable
def logistic_log_value(s, lparams):
    """``log l(s) = log(log(1 + e^-s))`` for the logistic loss."""
    return log_softplus(-s)


@jitable(nrt=False)
def ce_log_value(scores, r, label, lparams):
    """``log l_i = log(log(1 + sum_{c != y} e^(s_c - s_y)))`` for cross-entropy."""
    return log_softplus(_log_sum_others(scores, r, label))


@jitable(nrt=False)
def multiclass_exp_log_value(scores, r, label, lparams):
    """``log l_i = log sum_{c != y} e^(s_c - s_y)`` for the multiclass exponential loss."""
    return _log_sum_others(scores, r, label)


# --------------------------------------------------------------------------------------------
# Loss values in NumPy (log L(w) of trajectories and tables)
# --------------------------------------------------------------------------------------------

# Beyond this margin log(1 + e^-s) = e^-s (1 - e^-s / 2 + ...) to far below float64 precision.
_LOGISTIC_TAIL = 36.0


def _log_softplus_neg(s: np.ndarray) -> np.ndarray:
    """``log(log(1 + e^-s))`` for margins s, finite for every finite margin."""
    s = np.asarray(s, dtype=np.float64)
    softplus_neg = np.maximum(-s, 0.0) + np.log1p(np.exp(-np.abs(s)))  # log(1 + e^-s)
    tail = s > _LOGISTIC_TAIL
    with np.errstate(divide="ignore"):
        out = np.log(softplus_neg)
    out[tail] = -s[tail] - 0.5 * np.exp(-s[tail])
    return out


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


# --------------------------------------------------------------------------------------------
# The built-in losses
# --------------------------------------------------------------------------------------------


@register_loss("exp")
@dataclass(frozen=True)
class ExpLoss(Loss):
    """The exponential loss of binary data, ``l(s) = exp(-s)`` (paper Section 2)."""

    formula: ClassVar[str] = "l(s) = exp(-s)"
    derivative: ClassVar[Callable] = exp_log_derivative
    value: ClassVar[Callable] = exp_log_value

    def log_sample_loss(self, s, labels=None):
        """``log l_i = -s``."""
        return -np.asarray(s, dtype=np.float64)

    def log_neg_derivative(self, s):
        """``log(-l'(s)) = -s``."""
        return -np.asarray(s, dtype=np.float64)


@register_loss("logistic")
@dataclass(frozen=True)
class LogisticLoss(Loss):
    """The logistic loss of binary data, ``l(s) = log(1 + exp(-s))``."""

    formula: ClassVar[str] = "l(s) = log(1 + exp(-s))"
    derivative: ClassVar[Callable] = logistic_log_derivative
    value: ClassVar[Callable] = logistic_log_value

    def log_sample_loss(self, s, labels=None):
        """``log l_i = log(log(1 + e^-s))``, finite at any margin."""
        return _log_softplus_neg(s)

    def log_neg_derivative(self, s):
        """``log(-l'(s)) = -log(1 + e^s)``."""
        return -np.logaddexp(0.0, np.asarray(s, dtype=np.float64))


@register_loss("ce")
@dataclass(frozen=True)
class CrossEntropy(Loss):
    """Cross-entropy of multiclass data, ``l_i = log sum_c exp(s_c - s_{y_i})`` (SPEC 9)."""

    multiclass: ClassVar[bool] = True
    formula: ClassVar[str] = "l = log sum_c exp(s_c - s_y)"
    derivative: ClassVar[Callable] = ce_log_derivatives
    value: ClassVar[Callable] = ce_log_value

    def log_sample_loss(self, s, labels=None):
        """``log l_i = log(softplus(u))`` with ``u = log sum_{c != y} e^(s_c - s_y)``."""
        u = _logsumexp(_relative_scores(s, labels))
        return _log_softplus_neg(-u)


@register_loss("exp")
@dataclass(frozen=True)
class MulticlassExpLoss(Loss):
    """The exponential loss of multiclass data, ``l_i = sum_{c != y_i} exp(s_c - s_{y_i})``."""

    multiclass: ClassVar[bool] = True
    formula: ClassVar[str] = "l = sum_{c != y} exp(s_c - s_y)"
    derivative: ClassVar[Callable] = multiclass_exp_log_derivatives
    value: ClassVar[Callable] = multiclass_exp_log_value

    def log_sample_loss(self, s, labels=None):
        """``log l_i = log sum_{c != y} e^(s_c - s_y)``."""
        return _logsumexp(_relative_scores(s, labels))
