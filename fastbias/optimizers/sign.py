"""Sign methods: Signum (Inc-Signum), SignGD, Lion. ``sign(0) = 0`` throughout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .._jit import jitable
from .._kernels.scale import sign0
from .._options import option
from .base import Optimizer, Rule, State, batch_size_option, sampling_option
from .registry import register

__all__ = ["IncSignum", "SignGD", "Lion"]


@jitable
def signum_prepare(hp, eta, t, log_scale):
    """Signum. ``hp = [beta]``."""
    return (hp[0], 1.0 - hp[0], eta)


@jitable
def signum_update(g, w, state, c, k, p):
    """``m = beta m + (1 - beta) g; w -= eta sign(m)`` with ``sign(0) = 0``."""
    beta, a, eta = p
    m = beta * state[0, c, k] + a * g
    state[0, c, k] = m
    return w - eta * sign0(m)


@register("inc-signum")
@dataclass(frozen=True)
class IncSignum(Optimizer):
    """Mini-batch Signum (paper Algorithm 4; Inc-Signum is b = 1, cyclic).

    ``m = beta m + (1 - beta) g``, ``w -= eta_t sign(m)`` with ``sign(0) = 0``.

    Examples
    --------
    >>> IncSignum(beta=0.9, batch_size=2).steps_per_epoch(5)
    3
    """

    beta: float = option(
        0.99,
        "momentum (paper default); beta = 0 is sign descent on each batch",
        low=0.0,
        high=1.0,
        closed="left",
    )
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "signum",
        signum_prepare,
        signum_update,
        hp=("beta",),
        states=(State("m", 1, lambda o: (o.beta, 1.0 - o.beta, o.beta)),),
    )


@jitable
def plain_prepare(hp, eta, t, log_scale):
    """Rules without hyperparameters: the step constants are ``(eta,)``."""
    return (eta,)


@jitable
def signgd_update(g, w, state, c, k, p):
    """Sign descent ``w -= eta sign(g)`` with ``sign(0) = 0``."""
    return w - p[0] * sign0(g)


@register("signgd")
@dataclass(frozen=True)
class SignGD(Optimizer):
    """Sign gradient descent: ``w -= eta_t sign(g)`` (full batch unless ``batch_size`` is set).

    Examples
    --------
    >>> SignGD().steps_per_epoch(10), SignGD(batch_size=1).steps_per_epoch(10)
    (1, 10)
    """

    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule("signgd", plain_prepare, signgd_update, scale="step")


@jitable
def lion_prepare(hp, eta, t, log_scale):
    """Lion. ``hp = [beta1, beta2, weight_decay]``."""
    return (hp[0], 1.0 - hp[0], hp[1], 1.0 - hp[1], eta, 1.0 - eta * hp[2])


@jitable
def lion_update(g, w, state, c, k, p):
    """``u = b1 m + (1-b1) g; w = w (1 - eta wd) - eta sign(u); m = b2 m + (1-b2) g``."""
    beta1, a1, beta2, a2, eta, decay = p
    m = state[0, c, k]
    u = beta1 * m + a1 * g
    state[0, c, k] = beta2 * m + a2 * g
    return w * decay - eta * sign0(u)


@register("lion")
@dataclass(frozen=True)
class Lion(Optimizer):
    """Lion (Chen et al. 2023): ``w -= eta_t (sign(b1 m + (1-b1) g) + wd w); m = b2 m + (1-b2) g``.

    Examples
    --------
    >>> Lion().scale_invariant
    True
    """

    beta1: float = option(
        0.9,
        "interpolation of momentum and gradient in the step; with beta1 = 0 the step is sign(g)",
        low=0.0,
        high=1.0,
        closed="left",
    )
    beta2: float = option(0.99, "momentum decay", low=0.0, high=1.0, closed="left")
    weight_decay: float = option(0.0, "decoupled weight decay", low=0.0)
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    # m decays with beta2 and enters the step multiplied by beta1 (never, with beta1 = 0)
    rule: ClassVar[Rule] = Rule(
        "lion",
        lion_prepare,
        lion_update,
        hp=("beta1", "beta2", "weight_decay"),
        states=(State("m", 1, lambda o: (o.beta2, 1.0 - o.beta2, o.beta1)),),
    )
