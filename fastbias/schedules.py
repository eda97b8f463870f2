"""Learning-rate schedules, indexed by the optimizer step counter t = 0, 1, 2, ...

A schedule is an immutable object that gives the rates of a chunk of steps at once
(:meth:`Schedule.rates`) and has a dict form (:meth:`Schedule.to_dict`) so that checkpoints
and sweeps can store and compare it. Subclass :class:`Schedule` (as a frozen dataclass) and
define :meth:`Schedule.rate` to add one: every subclass is registered by its class name so
that :func:`schedule_from_dict` can rebuild it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from ._kernels.schedule import CONSTANT, POLYNOMIAL, fill_learning_rates
from ._provenance import with_code
from ._validation import check_interval, shown

__all__ = [
    "PolynomialDecay",
    "Constant",
    "Schedule",
    "FunctionSchedule",
    "schedule_from_dict",
    "as_schedule",
]

_SCHEDULES: dict[str, type] = {}


class Schedule:
    """Base class of the learning-rate schedules.

    Subclass it as a frozen dataclass and define :meth:`rate` (rates of an array of step
    counters, vectorized); the fields are the schedule's parameters and form its dict
    (:meth:`to_dict`), by which checkpoints and sweeps recognize it. Subclasses register
    themselves by class name (define them at module level, imported before a checkpoint that
    uses them is resumed).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Harmonic(Schedule):
    ...     eta0: float = 1.0
    ...     def rate(self, t):
    ...         return self.eta0 / (t + 1.0)
    >>> Harmonic(2.0).rates(0, 3)
    array([2.        , 1.        , 0.66666667])
    >>> schedule_from_dict(Harmonic(2.0).to_dict())
    Harmonic(eta0=2.0)
    >>> float(Harmonic(2.0).rate(1))
    1.0

    Notes
    -----
    The method was called ``eta`` before 0.3; a subclass that defines ``eta(t)`` still works
    (with a DeprecationWarning). It was renamed because :class:`Constant`'s field ``eta``
    hid it.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _SCHEDULES[cls.__name__] = cls
        old = cls.__dict__.get("eta")
        if callable(old) and "rate" not in cls.__dict__:
            import warnings

            warnings.warn(
                f"{cls.__name__} defines eta(t): the method of fb.Schedule is now "
                "rate(t); eta(t) is used for it (rename it).",
                DeprecationWarning,
                stacklevel=2,
            )
            cls.rate = old

    def rate(self, t):
        """Learning rates of the step counters ``t`` (a number or a float64 array)."""
        raise NotImplementedError(f"{type(self).__name__} must define rate(t).")

    def rates(self, t0: int, steps: int, out: np.ndarray | None = None) -> np.ndarray:
        """Learning rates of steps ``t0, ..., t0 + steps - 1`` as a float64 array.

        ``out`` (float64, at least ``steps`` long) is reused if given; the returned array is
        then a view of it. Raises ValueError if a rate is not positive and finite.
        """
        steps = int(steps)
        out = np.empty(steps, dtype=np.float64) if out is None else out[:steps]
        t = np.arange(t0, t0 + steps, dtype=np.float64)
        values = np.asarray(self.rate(t), dtype=np.float64)
        if values.shape != (steps,):
            values = np.broadcast_to(values, (steps,))
        out[:] = values
        bad = ~(np.isfinite(out) & (out > 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"lr: the learning rate of step {t0 + i} is {float(out[i])!r}; "
                "rates must be positive and finite."
            )
        return out

    def to_dict(self) -> dict:
        """Parameters as a plain dict with the class name under ``"name"``."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} must be a dataclass (or define to_dict).")
        return with_code({"name": type(self).__name__, **asdict(self)}, type(self))


class _Compiled(Schedule):
    """Schedules computed by the compiled routine the simulator uses (chunk-invariant)."""

    _code: int

    def _params(self) -> tuple[float, float]:
        raise NotImplementedError

    def rate(self, t):
        """Rates of the step counters ``t``, from the same compiled routine as :meth:`rates`."""
        values = np.array([self.rates(int(s), 1)[0] for s in np.ravel(t)])
        return float(values[0]) if np.ndim(t) == 0 else values.reshape(np.shape(t))

    def rates(self, t0: int, steps: int, out: np.ndarray | None = None) -> np.ndarray:
        """Learning rates of steps ``t0, ..., t0 + steps - 1`` (compiled; see :class:`Schedule`)."""
        out = np.empty(int(steps), dtype=np.float64) if out is None else out[: int(steps)]
        a, b = self._params()
        fill_learning_rates(self._code, a, b, np.int64(t0), out)
        return out


@dataclass(frozen=True)
class PolynomialDecay(_Compiled):
    """``eta_t = eta0 * (t + 2) ** (-power)`` (paper Assumption 2.3 for ``0 < power <= 1``).

    Parameters
    ----------
    eta0 : float, default 0.1
        Scale, ``eta0 > 0`` (default ours).
    power : float, default 0.5
        Decay exponent in (0, 1] (default ours).

    Examples
    --------
    >>> PolynomialDecay(0.1, 0.5).rates(0, 2)
    array([0.07071068, 0.05773503])
    """

    eta0: float = 0.1
    power: float = 0.5
    _code = POLYNOMIAL

    def __post_init__(self):
        object.__setattr__(self, "eta0", check_interval("eta0", self.eta0, 0.0, np.inf, "neither"))
        object.__setattr__(self, "power", check_interval("power", self.power, 0.0, 1.0, "right"))

    def _params(self):
        return self.eta0, self.power


@dataclass(frozen=True)
class Constant(_Compiled):
    """Constant learning rate ``eta_t = eta`` (the paper uses it for GD).

    Parameters
    ----------
    eta : float, default 0.1
        Positive step size.

    Examples
    --------
    >>> Constant(0.5).rates(10, 2)
    array([0.5, 0.5])
    >>> Constant(0.5).rate(3)
    0.5
    """

    eta: float = 0.1
    _code = CONSTANT

    def __post_init__(self):
        object.__setattr__(self, "eta", check_interval("eta", self.eta, 0.0, np.inf, "neither"))

    def _params(self):
        return self.eta, 0.0


class FunctionSchedule(Schedule):
    """A plain function ``t -> eta`` used as a schedule (see :func:`as_schedule`).

    It has no dict form: a run with it cannot be checkpointed or cached by a sweep.
    The function is called on an array of step counters when it accepts one, else on each
    step counter.
    """

    def __init__(self, function: Callable):
        self.function = function
        self._vectorized: bool | None = None

    def __repr__(self) -> str:
        return f"FunctionSchedule({getattr(self.function, '__name__', self.function)!r})"

    def rate(self, t):
        """The function's rates: on the array of step counters if it takes one, else each."""
        if self._vectorized is not False:
            try:
                values = np.asarray(self.function(t), dtype=np.float64)
                if values.shape == t.shape:
                    self._vectorized = True
                    return values
            except Exception:  # noqa: BLE001 (a scalar-only function: call it per step)
                pass
            self._vectorized = False
        return np.array([float(self.function(int(s))) for s in t])

    def to_dict(self) -> dict:
        """Refused: a plain function has no stored form (TypeError, with the way out)."""
        raise TypeError(
            "lr: a learning rate given as a plain function has no stored form, so it cannot "
            "be checkpointed or cached by a sweep; write it as a fb.Schedule subclass (a "
            "frozen dataclass with a rate(t) method) to do that."
        )


def as_schedule(lr, *, stored: bool) -> Schedule:
    """``lr`` as a :class:`Schedule`: schedules as they are, plain functions wrapped.

    Parameters
    ----------
    lr : Schedule or callable
    stored : bool
        Whether the run must store the schedule (a checkpoint or a sweep's cache); a plain
        function is then refused.

    Raises
    ------
    TypeError
        For a number (with the fastbias spelling) or anything else that is not a schedule.
    """
    if isinstance(lr, Schedule):
        return lr
    if isinstance(lr, (int, float, np.number)) and not isinstance(lr, bool):
        raise TypeError(
            f"lr must be a schedule, not a number: write lr=fb.Constant({lr!r}) for a constant "
            f"rate or lr=fb.PolynomialDecay(eta0={lr!r}, power=0.5) for the paper's decay."
        )
    if callable(lr):
        if stored:
            FunctionSchedule(lr).to_dict()  # raises the explanation
        return FunctionSchedule(lr)
    raise TypeError(
        f"lr must be a schedule such as fb.PolynomialDecay(0.1, 0.5) or "
        f"fb.Constant(0.1), or a function t -> eta; got {shown(lr)}."
    )


def schedule_from_dict(params: dict) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output."""
    if not isinstance(params, Mapping):
        raise ValueError(f"schedule parameters must be a dict; got {type(params).__name__}.")
    params = dict(params)
    name = params.pop("name", None)
    params.pop("code", None)  # the fingerprint of a user's class: matched, not an option
    if name not in _SCHEDULES or name in ("_Compiled", "FunctionSchedule"):
        known = sorted(k for k in _SCHEDULES if k not in ("_Compiled", "FunctionSchedule"))
        raise ValueError(
            f"unknown schedule name {name!r}; expected one of {known} (a schedule "
            "class of your own must be imported first)."
        )
    try:
        return _SCHEDULES[name](**params)
    except TypeError as exc:
        raise ValueError(f"invalid parameters for schedule {name}: {exc}") from None
