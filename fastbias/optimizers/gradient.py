"""Gradient methods: GD, SGD with heavy-ball momentum, normalized GD."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from .._jit import jitable
from .._kernels.engine import MATRIX
from .._kernels.linalg import frobenius
from .._options import option
from ..schedules import Constant, Schedule
from .base import Optimizer, Rule, State, batch_size_option, sampling_option
from .registry import register
from .sign import plain_prepare

__all__ = ["GD", "SGD", "NormalizedGD", "LossNormalizedGD"]


@jitable
def gd_update(g, w, state, c, k, p):
    """Gradient descent ``w -= eta g``."""
    return w - p[0] * g


@register("gd")
@dataclass(frozen=True)
class GD(Optimizer):
    """Gradient descent: ``w -= eta_t g`` (full batch unless ``batch_size`` is set).

    GD is not invariant to the scale of the gradient, so it runs in plain float64: its
    margins grow like log t, far from underflow. The paper uses a constant rate for GD,
    the default learning rate of a run with it (``Constant(0.1)``, ours).

    Examples
    --------
    >>> GD().scale_invariant
    False
    """

    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule("gd", plain_prepare, gd_update, scale="plain")
    default_lr: ClassVar[Schedule] = Constant(0.1)


@jitable
def sgd_prepare(hp, eta, t, log_scale):
    """SGD with heavy-ball momentum. ``hp = [momentum, nesterov (0 or 1)]``."""
    return (hp[0], hp[1], eta)


@jitable
def sgd_update(g, w, state, c, k, p):
    """``buf = mu buf + g; w -= eta buf`` (Nesterov: ``w -= eta (g + mu buf)``)."""
    mu, nesterov, eta = p
    buf = mu * state[0, c, k] + g
    state[0, c, k] = buf
    direction = g + mu * buf if nesterov != 0.0 else buf
    return w - eta * direction


@register("sgd")
@dataclass(frozen=True)
class SGD(Optimizer):
    """SGD with heavy-ball momentum: ``buf = mu buf + g; w -= eta_t buf``.

    torch.optim.SGD with ``dampening = 0``; Nesterov: ``w -= eta_t (g + mu buf)`` with the
    updated buf. Not scale invariant: plain float64, like GD. Default learning rate
    ``Constant(0.01)`` (ours: heavy ball multiplies the step by about 1 / (1 - momentum)).

    Examples
    --------
    >>> SGD(momentum=0.5).scale_invariant
    False
    """

    momentum: float = option(0.9, "heavy-ball momentum mu", low=0.0, high=1.0, closed="left")
    nesterov: bool = option(False, "Nesterov's form of the step")
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "sgd",
        sgd_prepare,
        sgd_update,
        hp=("momentum", "nesterov"),
        states=(State("buf", 1),),
        scale="plain",
    )
    default_lr: ClassVar[Schedule] = Constant(0.01)


@jitable
def ngd_update(G, Q, W, state, p):
    """Normalized GD: ``W -= eta G / ||G||_F``; no step when ``G == 0``."""
    norm = frobenius(G)
    if norm > 0.0:
        factor = p[0] / norm
        for c in range(W.shape[0]):
            for k in range(W.shape[1]):
                W[c, k] -= factor * G[c, k]


@register("ngd")
@dataclass(frozen=True)
class NormalizedGD(Optimizer):
    """Normalized gradient descent: ``w -= eta_t g / ||g||`` (no step when g = 0).

    The norm is the l_2 norm of the gradient vector (Frobenius norm for a multiclass
    parameter matrix).

    Examples
    --------
    >>> NormalizedGD().steps_per_epoch(10)
    1
    """

    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule("ngd", plain_prepare, ngd_update, family=MATRIX, scale="step")


@jitable
def lngd_prepare(hp, eta, t, log_scale):
    """``(eta, log_scale, power)``: the loss's scale gives ``-log L`` (``hp = [power]``)."""
    return (eta, log_scale, hp[0])


@jitable
def lngd_update(G, Q, W, state, p):
    """Loss-normalized GD: ``W -= eta G / (L max(1, -log L)^power)``.

    ``L = Q[0, 0]`` is the batch's mean loss scaled like the gradients, by
    ``exp(log_scale)``: ``-log L = log_scale - log Q[0, 0]``.
    """
    eta, log_scale, power = p
    loss = Q[0, 0]
    if loss > 0.0:
        factor = eta / loss
        if power != 0.0:
            factor /= max(1.0, log_scale - math.log(loss)) ** power
        for c in range(W.shape[0]):
            for k in range(W.shape[1]):
                W[c, k] -= factor * G[c, k]


@register("loss-normalized-gd")
@dataclass(frozen=True)
class LossNormalizedGD(Optimizer):
    """Loss-normalized gradient descent: ``w -= eta_t grad L(w) / L(w)`` (SPEC 12).

    With ``power > 0`` the step is also divided by ``max(1, -log L)^power``: ``w -= eta_t
    grad L / (L max(1, -log L)^power)``, a rate that shrinks with the training loss (a
    depth-D diagonal network needs ``power = (D - 2) / D`` to keep its relative steps from
    growing; SPEC 13).

    Full batch by default; with ``batch_size`` the batch loss and its gradient. ``grad L / L``
    is a ratio of two sums of the same derivatives' scale, invariant to their common factor:
    exact at any horizon in log form, where plain float64 stops at margins near 745 (0/0).

    Notes
    -----
    Its margin gap shrinks like 1/t (Ji and Telgarsky 2021, O(log n / t)), where GD's shrinks
    like 1/log t. At rates of 0.5 and more the iteration is chaotic on Gaussian 10 x 50 data
    (runs in float64 and in 50-digit arithmetic part by 1e-5 within 50 epochs: sensitivity,
    not error); the default rate is ``Constant(0.1)`` (ours). The loss must give its
    log-value (the built-in ones do).

    Examples
    --------
    >>> LossNormalizedGD().steps_per_epoch(10)
    1
    """

    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    power: float = option(0.0, "divide the step by max(1, -log L)^power", low=0.0)
    rule: ClassVar[Rule] = Rule(
        "lngd",
        lngd_prepare,
        lngd_update,
        hp=("power",),
        family=MATRIX,
        scale="step",
        takes_loss=True,
    )
    default_lr: ClassVar[Schedule] = Constant(0.1)
