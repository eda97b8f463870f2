"""Methods on the whole parameter: AdamProxy, spectral descent, Muon."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from .._jit import jitable
from .._kernels.engine import MATRIX
from .._kernels.linalg import polar_factor
from .._options import option
from .base import Optimizer, Rule, State, batch_size_option, sampling_option
from .registry import register
from .sign import plain_prepare

__all__ = ["AdamProxy", "SpectralDescent", "Muon"]


@jitable
def proxy_update(G, Q, W, state, p):
    """AdamProxy (Definition 4.2): ``W -= eta * G / sqrt(Q)`` entrywise, 0/0 -> 0.

    ``G`` is the batch gradient and ``Q`` the sum of the squared per-sample gradients (both
    divided by the batch size, which cancels).
    """
    eta = p[0]
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            if Q[c, k] > 0.0:
                W[c, k] -= eta * G[c, k] / math.sqrt(Q[c, k])


@register("adam-proxy")
@dataclass(frozen=True)
class AdamProxy(Optimizer):
    """AdamProxy (paper Definition 4.2), one step per epoch on the full data.

    ``w -= eta_t * (sum_i grad L_i(w)) / sqrt(sum_i grad L_i(w)^2)`` entrywise (0/0 -> 0):
    the beta2 -> 1 limit of cyclic Inc-Adam's epoch update (paper Proposition 4.1).

    Examples
    --------
    >>> AdamProxy().steps_per_epoch(10)
    1
    """

    rule: ClassVar[Rule] = Rule(
        "adam-proxy", plain_prepare, proxy_update, family=MATRIX, scale="step", squares=True
    )


@jitable
def spectral_prepare(hp, eta, t, log_scale):
    """Spectral descent and Muon. ``hp = [momentum, nesterov, ns_steps (0: exact)]``."""
    return (hp[0], hp[1], int(hp[2]), eta)


@jitable
def spectral_update(G, Q, W, state, p):
    """Spectral descent: ``W -= eta U V^T`` for the thin SVD ``G = U S V^T``."""
    eta = p[3]
    polar = polar_factor(G, p[2])
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[c, k] -= eta * polar[c, k]


@register("spectral-descent")
@dataclass(frozen=True)
class SpectralDescent(Optimizer):
    """Spectral descent: ``W -= eta_t U V^T`` for the thin SVD ``G = U S V^T``.

    Singular values at or below 1e-12 of the largest are dropped. On binary data (one
    parameter row) this is normalized GD.

    Examples
    --------
    >>> SpectralDescent(batch_size=1).steps_per_epoch(6)
    6
    """

    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "spectral",
        spectral_prepare,
        spectral_update,
        hp=("momentum", "nesterov", "ns_steps"),
        family=MATRIX,
        scale="step",
    )
    momentum: ClassVar[float] = 0.0
    nesterov: ClassVar[bool] = False
    ns_steps: ClassVar[int] = 0


@jitable
def muon_update(G, Q, W, state, p):
    """Muon: ``B = mu B + G; W -= eta polar(B)`` (Nesterov: ``polar(G + mu B)``)."""
    mu, nesterov, ns_steps, eta = p
    B = state[0]
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            B[c, k] = mu * B[c, k] + G[c, k]
    M = G + mu * B if nesterov != 0.0 else B
    polar = polar_factor(M, ns_steps)
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[c, k] -= eta * polar[c, k]


@register("muon")
@dataclass(frozen=True)
class Muon(Optimizer):
    """Muon: ``B = mu B + G; W -= eta_t polar(B)`` (Nesterov: ``polar(G + mu B)``).

    ``ns_steps`` None is the exact polar factor ``U V^T`` from the SVD (singular values at
    or below 1e-12 of the largest dropped); an integer is that many steps of the quintic
    Newton-Schulz iteration used in practice, which approximates the polar factor.

    Examples
    --------
    >>> Muon(ns_steps=5).hyperparameters()
    (0.95, 0.0, 5.0)
    """

    momentum: float = option(0.95, "momentum mu", low=0.0, high=1.0, closed="left")
    nesterov: bool = option(False, "Nesterov's form: the polar factor of G + mu B")
    ns_steps: int | None = option(
        None,
        "quintic Newton-Schulz steps",
        kind="int",
        low=1,
        high=100,
        none="the exact polar factor, from the SVD",
    )
    batch_size: int | None = batch_size_option(None)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "muon",
        spectral_prepare,
        muon_update,
        hp=("momentum", "nesterov", "ns_steps"),
        family=MATRIX,
        states=(State("B", 1, lambda o: (o.momentum, 1.0, o.momentum)),),
    )

    def hyperparameters(self):
        """``(momentum, nesterov, ns_steps)``, with 0 steps for the exact polar factor."""
        return (self.momentum, float(self.nesterov), float(self.ns_steps or 0))
