"""Learning-rate schedules, indexed by the optimizer step counter t = 0, 1, 2, ..."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ._kernels.schedule import CONSTANT, POLYNOMIAL, fill_learning_rates
from ._validation import check_interval

__all__ = ["PolynomialDecay", "Constant", "Schedule", "schedule_from_dict"]


class Schedule:
    """Base class of the learning-rate schedules (immutable parameter objects)."""

    _code: int

    def _params(self) -> tuple[float, float]:
        raise NotImplementedError

    def rates(self, t0: int, steps: int, out: np.ndarray | None = None) -> np.ndarray:
        """Learning rates of steps ``t0, ..., t0 + steps - 1`` as a float64 array.

        Computed by the same compiled routine the simulator uses, so values are identical
        however a run is split into chunks. ``out`` (float64, at least ``steps`` long) is
        reused if given; the returned array is then a view of it.
        """
        out = np.empty(int(steps), dtype=np.float64) if out is None else out[: int(steps)]
        a, b = self._params()
        fill_learning_rates(self._code, a, b, np.int64(t0), out)
        return out

    def to_dict(self) -> dict:
        """Parameters as a plain dict with the class name under ``"name"``."""
        return {"name": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class PolynomialDecay(Schedule):
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
class Constant(Schedule):
    """Constant learning rate ``eta_t = eta`` (the paper uses it for GD).

    Parameters
    ----------
    eta : float, default 0.1
        Positive step size.
    """

    eta: float = 0.1
    _code = CONSTANT

    def __post_init__(self):
        object.__setattr__(self, "eta", check_interval("eta", self.eta, 0.0, np.inf, "neither"))

    def _params(self):
        return self.eta, 0.0


_SCHEDULES = {cls.__name__: cls for cls in (PolynomialDecay, Constant)}


def schedule_from_dict(params: dict) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output."""
    params = dict(params)
    name = params.pop("name", None)
    if name not in _SCHEDULES:
        raise ValueError(f"unknown schedule name {name!r}; expected one of {sorted(_SCHEDULES)}.")
    return _SCHEDULES[name](**params)
