"""Normalized steepest descent in any norm, with momentum (SPEC 11), and mirror descent.

Every optimizer here is steepest descent for some norm: SignGD is l_inf, normalized GD l_2,
spectral descent Schatten-inf. :class:`SteepestDescent` makes the norm a parameter: with
``m = momentum m + (1 - momentum) g``, ``w -= eta_t d`` for the unit direction ``d =
argmax_{||d|| <= 1} <m, d>``. :class:`MirrorDescent` is p-GD, mirror descent with the l_p
potential.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._jit import jitable
from .._kernels.engine import MATRIX, NORMALIZED
from .._kernels.linalg import schatten_direction
from .._options import option
from .._validation import check_interval, shown
from ..schedules import Constant, Schedule
from .base import Optimizer, Rule, State, batch_size_option, sampling_option
from .registry import register

__all__ = ["SteepestDescent", "MirrorDescent", "check_descent_norm"]

#: Names of the Schatten norms of matrices.
_SCHATTEN_ALIASES = {"nuclear": "schatten-1", "fro": "schatten-2", "spectral": "schatten-inf"}
_NUMBER_NAMES = {
    "inf": math.inf,
    "linf": math.inf,
    "l_inf": math.inf,
    "l2": 2.0,
    "l_2": 2.0,
    "l1": 1.0,
    "l_1": 1.0,
}
_SCHATTEN = re.compile(r"schatten-(inf|[0-9.eE+]+)")
_ALLOWED = (
    "a number p in [1, inf] (the entrywise l_p norm), or 'schatten-P' with P in [1, "
    "inf] (aliases 'nuclear', 'fro', 'spectral'; matrices only)"
)


def check_descent_norm(name: str, value):
    """The norm of a steepest descent, normalized: a float p in [1, inf] or ``"schatten-P"``.

    Numbers may be given as strings (``"3"``, ``"inf"``, ``"l2"``); the Schatten norms as
    ``"schatten-P"`` or by their aliases. The stored form is a float, or ``"schatten-P"``
    with P written by ``format(P, "g")`` (``"schatten-1"``, ``"schatten-inf"``).

    Examples
    --------
    >>> check_descent_norm("norm", "nuclear"), check_descent_norm("norm", "3")
    ('schatten-1', 3.0)
    """
    if isinstance(value, str):
        text = value.strip().lower()
        text = _SCHATTEN_ALIASES.get(text, text)
        if text in _NUMBER_NAMES:
            return _NUMBER_NAMES[text]
        match = _SCHATTEN.fullmatch(text)
        if match:
            power = math.inf if match.group(1) == "inf" else _float(match.group(1), name, value)
            power = check_interval(f"the P of {name}={value!r}", power, 1.0, math.inf, "both")
            return f"schatten-{power:g}"
        number = _float(text, name, value)
        return check_interval(name, number, 1.0, math.inf, "both")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be {_ALLOWED}; got {shown(value)}.")
    return check_interval(name, value, 1.0, math.inf, "both")


def _float(text: str, name: str, value) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be {_ALLOWED}; got {shown(value)}.") from None


def _power(norm) -> float:
    """The p of a stored norm (the P of ``"schatten-P"``)."""
    return float(norm.split("-", 1)[1]) if isinstance(norm, str) else float(norm)


# --------------------------------------------------------------------------------------------
# The entrywise l_p direction (the "normalized" family of the step loops)
# --------------------------------------------------------------------------------------------


@jitable
def nsd_prepare(hp, eta, t, log_scale):
    """NSD. ``hp = [momentum, q - 1, 1 / p, ties (1 for p = 1)]``; q = p / (p - 1)."""
    return (hp[0], 1.0 - hp[0], hp[1], hp[2], hp[3])


@jitable
def nsd_moment(g, w, state, c, k, p):
    """``m = momentum m + (1 - momentum) g`` (m = g when momentum = 0); returns m."""
    m = p[0] * state[0, c, k] + p[1] * g
    state[0, c, k] = m
    return m


@jitable
def lp_factor(a, p):
    """``a^(q-1)`` of a normalized magnitude ``a = |m_k| / max|m|`` in [0, 1].

    p = 1 (``ties``): 1 where ``a == 1`` (the entries equal to the maximum, exactly), else 0.
    Never overflows (a <= 1) and is never NaN: for q large it underflows to 0 below the
    maximum, which is the limit of the direction as p -> 1.
    """
    if p[4] != 0.0:
        return 1.0 if a == 1.0 else 0.0
    if p[2] == 1.0:  # p = 2 (exactly a ** 1.0, without a call of pow)
        return a
    if p[2] == 0.0:  # p = inf
        return 1.0
    return a ** p[2]


@jitable
def lp_divisor(total, p):
    """``S^(1/p)`` for ``S = sum_k a_k^q`` (p = 1: S, the number of tied maxima)."""
    if p[4] != 0.0:
        return total
    if p[3] == 0.5:  # p = 2: the correctly rounded square root
        return math.sqrt(total)
    if p[3] == 0.0:  # p = inf
        return 1.0
    return total ** p[3]


NSD_LP = Rule(
    "nsd-lp",
    nsd_prepare,
    nsd_moment,
    hp=("momentum", "q_minus_1", "inverse_p", "ties"),
    family=NORMALIZED,
    states=(State("m", 1, lambda o: (o.momentum, 1.0 - o.momentum, o.momentum)),),
    factor=lp_factor,
    divisor=lp_divisor,
)


# --------------------------------------------------------------------------------------------
# The Schatten-p direction of a matrix (from its SVD)
# --------------------------------------------------------------------------------------------


@jitable
def schatten_prepare(hp, eta, t, log_scale):
    """NSD in a Schatten norm. ``hp`` as for the l_p direction."""
    return (hp[0], 1.0 - hp[0], hp[1], hp[2], hp[3], eta)


@jitable
def schatten_update(G, Q, W, state, p):
    """``M = momentum M + (1 - momentum) G; W -= eta U diag(s^(q-1)) V^T / ||s||_q^(q-1)``."""
    mu, a, qm1, inv_p, ties, eta = p
    M = state[0]
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            M[c, k] = mu * M[c, k] + a * G[c, k]
    direction = schatten_direction(M, qm1, inv_p, ties)
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[c, k] -= eta * direction[c, k]


NSD_SCHATTEN = Rule(
    "nsd-schatten",
    schatten_prepare,
    schatten_update,
    hp=("momentum", "q_minus_1", "inverse_p", "ties"),
    family=MATRIX,
    states=(State("m", 1, lambda o: (o.momentum, 1.0 - o.momentum, o.momentum)),),
)


@register("steepest-descent")
@dataclass(frozen=True)
class SteepestDescent(Optimizer):
    """Normalized steepest descent in a norm, and its momentum form (SPEC 11).

    ``m = momentum m + (1 - momentum) g`` (m = g when momentum = 0), ``w -= eta_t d`` with
    the unit direction ``d = argmax_{||d|| <= 1} <m, d>``:

    * a number p in [1, inf]: the entrywise l_p norm, ``d_k = sign(m_k) |m_k|^(q-1) /
      ||m||_q^(q-1)`` with ``q = p / (p - 1)``; p = inf is ``sign(m)`` (SignGD, Signum),
      p = 2 is ``m / ||m||_2`` (normalized GD); p = 1 shares the step among the entries
      equal to the largest ``|m_k|`` (exactly), ``d_k = sign(m_k) / |K|``. Entrywise on
      multiclass W too;
    * ``"schatten-P"`` (aliases ``"nuclear"`` = schatten-1, ``"fro"`` = schatten-2,
      ``"spectral"`` = schatten-inf; multiclass W only): ``d = U diag(s^(q-1)) V^T /
      ||s||_q^(q-1)`` for the thin SVD ``m = U diag(s) V^T``, singular values at or below
      1e-12 of the largest dropped (schatten-inf is spectral descent; schatten-1 the top
      singular pair, shared among exact ties).

    ``m = 0`` gives no step (the 0/0 rule).

    Notes
    -----
    Invariant to a positive factor on the gradients: exact at any horizon, for every norm,
    momentum and batch size. The powers ``|m_k / max|m||^(q-1)`` are of numbers in [0, 1],
    so p near 1 (q large) neither overflows nor turns to NaN. One-sample steps on binary
    data make three passes over the coordinates (the moments and their maximum, the powers
    and their sum, the step fused with the next dot product). Gunasekar et al. 2018
    (steepest descent in a general norm); Fan et al. 2025 (Schatten norms of matrices).

    Examples
    --------
    >>> SteepestDescent(norm="nuclear").norm, SteepestDescent(norm=3).norm
    ('schatten-1', 3.0)
    """

    norm: object = option(
        2.0,
        "the norm of the direction",
        checker=check_descent_norm,
        text=_ALLOWED,
        type_name="float or str",
    )
    momentum: float = option(
        0.0, "decay of the moment m (0: m = g)", low=0.0, high=1.0, closed="left"
    )
    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = NSD_LP

    @property
    def schatten(self) -> bool:
        """Whether the norm is a Schatten norm of matrices."""
        return isinstance(self.norm, str)

    @property
    def q_minus_1(self) -> float:
        """``q - 1 = 1 / (p - 1)`` (0 for p = inf; unused for p = 1)."""
        p = _power(self.norm)
        return 0.0 if p == math.inf or p == 1.0 else 1.0 / (p - 1.0)

    @property
    def inverse_p(self) -> float:
        """``1 / p``, the power of the divisor ``S^(1/p)``."""
        return 1.0 / _power(self.norm)

    @property
    def ties(self) -> bool:
        """Whether p = 1: the step is shared among the largest entries (singular values)."""
        return _power(self.norm) == 1.0

    def kernel_rule(self) -> Rule:
        """The Schatten rule (an SVD per step) for a Schatten norm, the l_p one otherwise."""
        return NSD_SCHATTEN if self.schatten else NSD_LP

    def check_data(self, data) -> None:
        """Schatten norms need a matrix parameter: refused on binary data."""
        if self.schatten and not data.multiclass:
            raise ValueError(
                f"norm={self.norm!r} is a norm of matrices; binary data train a vector w, "
                "where every Schatten norm is the l_2 norm: use norm=2.0."
            )


# --------------------------------------------------------------------------------------------
# Mirror descent with the l_p potential
# --------------------------------------------------------------------------------------------


@jitable
def mirror_prepare(hp, eta, t, log_scale):
    """Mirror descent. ``hp = [p - 1, 1 / (p - 1)]``."""
    return (hp[1], eta)


@jitable
def mirror_update(g, w, state, c, k, p):
    """``phi -= eta g; w = sign(phi) |phi|^(1/(p-1))`` (phi the state)."""
    inverse, eta = p
    phi = state[0, c, k] - eta * g
    state[0, c, k] = phi
    if phi > 0.0:
        return phi**inverse
    if phi < 0.0:
        return -((-phi) ** inverse)
    return 0.0


def mirror_init(optimizer, W, state) -> None:
    """``phi = sign(w) |w|^(p-1)`` of the starting point (0 at w = 0)."""
    state[0] = np.sign(W) * np.abs(W) ** (optimizer.p - 1.0)


@register("mirror-descent")
@dataclass(frozen=True)
class MirrorDescent(Optimizer):
    """Mirror descent with the l_p potential (p-GD, Sun et al. 2022).

    Dual variable ``phi = sign(w) |w|^(p-1)``: ``phi -= eta_t g; w = sign(phi)
    |phi|^(1/(p-1))``, entrywise (on multiclass W too). ``phi`` is the state (checkpoints
    hold it); it starts from ``w0``. p = 2 is gradient descent.

    Notes
    -----
    Not invariant to the scale of the gradient: plain float64, like GD, whose margins grow
    slowly (like log t); the default learning rate is ``Constant(0.1)`` (ours, as GD's).

    Examples
    --------
    >>> MirrorDescent(p=3.0).scale_invariant
    False
    """

    p: float = option(3.0, "the exponent of the potential ||w||_p^p / p", low=1.0, closed="neither")
    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "mirror",
        mirror_prepare,
        mirror_update,
        hp=("p_minus_1", "inverse"),
        states=(State("phi", 1),),
        scale="plain",
        init=mirror_init,
    )
    default_lr: ClassVar[Schedule] = Constant(0.1)

    @property
    def p_minus_1(self) -> float:
        """``p - 1``."""
        return self.p - 1.0

    @property
    def inverse(self) -> float:
        """``1 / (p - 1)``, the power that maps phi back to w."""
        return 1.0 / (self.p - 1.0)
