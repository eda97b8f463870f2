"""Optimizers as small immutable parameter objects (the recurrences live in ``_kernels``).

All follow SPEC section 2: no epsilon, no bias correction, ``m = v = 0`` at the start, the
0/0 rule (a coordinate with ``v[k] == 0`` does not move), ``sign(0) = 0``, and the batch
gradient ``g = (1/|B|) sum_{i in B} l'(<w, z_i>) z_i``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

from ._kernels.rules import ADAM, GD_RULE, NGD_RULE, PROXY, SIGNUM
from ._validation import check_int, check_interval, check_option

__all__ = [
    "Optimizer",
    "IncAdam",
    "DetAdam",
    "AdamProxy",
    "IncSignum",
    "SignGD",
    "GD",
    "NormalizedGD",
    "SAMPLINGS",
    "optimizer_from_dict",
]

#: Ways to form the batches of an epoch (SPEC section 2).
SAMPLINGS = ("cyclic", "reshuffle", "replacement")


class KernelSpec(NamedTuple):
    """What the simulator needs to run an optimizer on data with ``n`` samples."""

    rule: int
    batch_size: int
    sampling: str
    beta1: float
    beta2: float


def _check_beta(name, value):
    return check_interval(name, value, 0.0, 1.0, "left")


def _check_batch(batch_size):
    return None if batch_size is None else check_int("batch_size", batch_size, 1)


class Optimizer:
    """Base class: an immutable set of hyperparameters plus the rule the kernels apply."""

    def _spec(self, n: int) -> KernelSpec:
        raise NotImplementedError

    def resolve(self, n: int) -> KernelSpec:
        """Kernel parameters for data with ``n`` samples; ValueError if batch_size > n."""
        spec = self._spec(n)
        if spec.batch_size > n:
            raise ValueError(
                f"batch_size must be in [1, n] = [1, {n}] for this dataset; got {spec.batch_size}."
            )
        return spec

    def steps_per_epoch(self, n: int) -> int:
        """Optimizer steps in one pass over ``n`` samples (the last batch may be smaller)."""
        b = self.resolve(n).batch_size
        return -(-n // b)

    def to_dict(self) -> dict:
        """Hyperparameters as a plain dict with the class name under ``"name"``."""
        return {"name": type(self).__name__, **asdict(self)}


class _Batched(Optimizer):
    def __post_init__(self):
        object.__setattr__(self, "batch_size", _check_batch(self.batch_size))
        check_option("sampling", self.sampling, SAMPLINGS)

    def _batch(self, n):
        return n if self.batch_size is None else self.batch_size


@dataclass(frozen=True)
class IncAdam(_Batched):
    """Mini-batch Adam without epsilon (paper Algorithm 1; Inc-Adam is b = 1, cyclic).

    Per step with batch gradient g: ``m = beta1 m + (1 - beta1) g``,
    ``v = beta2 v + (1 - beta2) g^2``, ``w -= eta_t m / sqrt(v)`` entrywise.

    Parameters
    ----------
    beta1, beta2 : float, default 0.9, 0.999
        Moment parameters in [0, 1) (paper defaults).
    batch_size : int, default 1
        Samples per step, in [1, n]; ``None`` means n (full batch).
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"
        Consecutive blocks of 0..n-1, of a fresh permutation per epoch, or of n indices drawn
        with replacement per epoch.
    """

    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int | None = 1
    sampling: str = "cyclic"

    def __post_init__(self):
        object.__setattr__(self, "beta1", _check_beta("beta1", self.beta1))
        object.__setattr__(self, "beta2", _check_beta("beta2", self.beta2))
        super().__post_init__()

    def _spec(self, n):
        return KernelSpec(ADAM, self._batch(n), self.sampling, self.beta1, self.beta2)


@dataclass(frozen=True)
class DetAdam(Optimizer):
    """Full-batch (deterministic) Adam without epsilon (paper Algorithm 2): one step per epoch.

    Parameters
    ----------
    beta1, beta2 : float, default 0.9, 0.999
        Moment parameters in [0, 1).
    """

    beta1: float = 0.9
    beta2: float = 0.999

    def __post_init__(self):
        object.__setattr__(self, "beta1", _check_beta("beta1", self.beta1))
        object.__setattr__(self, "beta2", _check_beta("beta2", self.beta2))

    def _spec(self, n):
        return KernelSpec(ADAM, n, "cyclic", self.beta1, self.beta2)


@dataclass(frozen=True)
class AdamProxy(Optimizer):
    """AdamProxy (paper Definition 4.2), one step per epoch on the full data.

    ``w -= eta_t * (sum_i grad L_i(w)) / sqrt(sum_i grad L_i(w)^2)`` entrywise (0/0 -> 0):
    the beta2 -> 1 limit of cyclic Inc-Adam's epoch update (paper Proposition 4.1).
    """

    def _spec(self, n):
        return KernelSpec(PROXY, n, "cyclic", 0.0, 0.0)


@dataclass(frozen=True)
class IncSignum(_Batched):
    """Mini-batch Signum (paper Algorithm 4; Inc-Signum is b = 1, cyclic).

    ``m = beta m + (1 - beta) g``, ``w -= eta_t sign(m)`` with ``sign(0) = 0``.

    Parameters
    ----------
    beta : float, default 0.99
        Momentum in [0, 1) (paper default).
    batch_size : int, default 1
        Samples per step, in [1, n]; ``None`` means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"
    """

    beta: float = 0.99
    batch_size: int | None = 1
    sampling: str = "cyclic"

    def __post_init__(self):
        object.__setattr__(self, "beta", _check_beta("beta", self.beta))
        super().__post_init__()

    def _spec(self, n):
        return KernelSpec(SIGNUM, self._batch(n), self.sampling, self.beta, 0.0)


@dataclass(frozen=True)
class SignGD(_Batched):
    """Sign gradient descent: ``w -= eta_t sign(g)`` (full batch unless ``batch_size`` is set)."""

    batch_size: int | None = None
    sampling: str = "cyclic"

    def _spec(self, n):
        return KernelSpec(SIGNUM, self._batch(n), self.sampling, 0.0, 0.0)


@dataclass(frozen=True)
class GD(_Batched):
    """Gradient descent: ``w -= eta_t g`` (full batch unless ``batch_size`` is set).

    GD is not invariant to the scale of the gradient, so it runs in plain float64: its
    margins grow like log t, far from underflow. The paper uses a constant rate for GD.
    """

    batch_size: int | None = None
    sampling: str = "cyclic"

    def _spec(self, n):
        return KernelSpec(GD_RULE, self._batch(n), self.sampling, 0.0, 0.0)


@dataclass(frozen=True)
class NormalizedGD(_Batched):
    """Normalized gradient descent: ``w -= eta_t g / ||g||_2`` (no step when g = 0)."""

    batch_size: int | None = None
    sampling: str = "cyclic"

    def _spec(self, n):
        return KernelSpec(NGD_RULE, self._batch(n), self.sampling, 0.0, 0.0)


_OPTIMIZERS = {
    cls.__name__: cls
    for cls in (IncAdam, DetAdam, AdamProxy, IncSignum, SignGD, GD, NormalizedGD)
}


def optimizer_from_dict(params: dict) -> Optimizer:
    """Rebuild an optimizer from :meth:`Optimizer.to_dict` output."""
    params = dict(params)
    name = params.pop("name", None)
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer name {name!r}; expected one of {sorted(_OPTIMIZERS)}.")
    return _OPTIMIZERS[name](**params)
