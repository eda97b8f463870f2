"""Adaptive methods: Adam (the paper's, and torch's options), RMSProp, AdaGrad.

Each optimizer is a rule (two compiled functions, next to the options they read) and a
parameter class. t counts optimizer steps from 0, so bias correction uses ``t + 1``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

from .._jit import jitable
from .._kernels.scale import scaled_eps
from .._options import option
from .base import Optimizer, Rule, State, batch_size_option, sampling_option
from .registry import register

__all__ = ["UnboundedStepWarning", "unbounded_moments", "IncAdam", "DetAdam", "RMSProp", "AdaGrad"]


class UnboundedStepWarning(UserWarning):
    """Adam without epsilon with ``beta1**2 > beta2``: ``|m| / sqrt(v)`` is not bounded.

    With ``beta1**2 <= beta2`` every step satisfies ``|m_k| / sqrt(v_k) <= (1 - beta1) /
    sqrt((1 - beta2)(1 - beta1**2 / beta2))``; otherwise the steps can grow geometrically
    and the iterates may diverge (the exact run then leaves the float64 range, and the
    scaled arithmetic is not promised to follow it there).
    """


def unbounded_moments(beta1: float, beta2: float) -> bool:
    """Whether ``beta1**2 > beta2`` in exact arithmetic (``beta1**2`` may underflow in float64)."""
    return Fraction(beta1) ** 2 > Fraction(beta2)


# --------------------------------------------------------------------------------------------
# Adam
# --------------------------------------------------------------------------------------------


@jitable
def adam_prepare(hp, eta, t, log_scale):
    """Adam. ``hp = [beta1, beta2, eps, bias_correction (0 or 1), weight_decay]``.

    Returns ``(beta1, 1 - beta1, beta2, 1 - beta2, step size, 1 / sqrt(1 - beta2^(t+1)),
    scaled eps, 1 - eta * weight_decay, paper)``; ``paper`` is True for the paper's Adam
    (no eps, no weight decay), whose step is ``size * m / sqrt(v)``. Without bias
    correction the step size is eta and the correction factor is 1.
    """
    beta1, beta2, eps, correct, weight_decay = hp[0], hp[1], hp[2], hp[3], hp[4]
    size = eta
    inv_root = 1.0
    if correct != 0.0:
        bc1 = 1.0 - beta1 ** (t + 1.0)
        bc2_root = math.sqrt(1.0 - beta2 ** (t + 1.0))
        if eps == 0.0:  # eta / bc1 * m / (sqrt(v) / bc2_root) = (eta bc2_root / bc1) m / sqrt(v)
            size = eta * bc2_root / bc1
        else:
            size = eta / bc1
            inv_root = 1.0 / bc2_root
    paper = eps == 0.0 and weight_decay == 0.0
    return (
        beta1,
        1.0 - beta1,
        beta2,
        1.0 - beta2,
        size,
        inv_root,
        scaled_eps(eps, log_scale),
        1.0 - eta * weight_decay,
        paper,
    )


@jitable
def adam_update(g, w, state, c, k, p):
    """``m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w = w (1 - eta wd) - size m / denom``.

    ``denom = sqrt(v) / sqrt(1 - b2^(t+1)) + eps``; the step is 0 where ``denom == 0``
    (the 0/0 rule, only possible for eps = 0).
    """
    beta1, a1, beta2, a2, size, inv_root, eps, decay, paper = p
    m = beta1 * state[0, c, k] + a1 * g
    v = beta2 * state[1, c, k] + a2 * (g * g)
    state[0, c, k] = m
    state[1, c, k] = v
    if paper:  # the same value as below with inv_root = 1, eps = 0, decay = 1; fewer operations
        return w - size * (m / math.sqrt(v) if v > 0.0 else 0.0)
    denom = math.sqrt(v) * inv_root + eps
    q = m / denom if denom > 0.0 else 0.0
    return w * decay - size * q


ADAM = Rule(
    "adam",
    adam_prepare,
    adam_update,
    hp=("beta1", "beta2", "eps", "bias_correction", "weight_decay"),
    states=(
        State("m", 1, lambda o: (o.beta1, 1.0 - o.beta1, o.beta1)),
        State("v", 2, lambda o: (o.beta2, 1.0 - o.beta2, o.beta2)),
    ),
)


def _beta(default, what):
    return option(default, what, low=0.0, high=1.0, closed="left")


def _nonnegative(default, what):
    return option(default, what, low=0.0)


_EPS = (
    "added to the denominator (the paper's Adam has none; with eps = 0 the step is 0 where v = 0)"
)
_BIAS = "divide the moments by 1 - beta^(t+1), as torch.optim.Adam does"
_DECAY = "decoupled weight decay (AdamW): w *= 1 - eta_t weight_decay before the step"


class _AdamChecks:
    """The unbounded-step warning and the scale behaviour of the Adam-type classes."""

    def _check(self):
        if self.eps == 0.0 and unbounded_moments(self.beta1, self.beta2):
            warnings.warn(
                f"{type(self).__name__}(beta1={self.beta1!r}, beta2={self.beta2!r}): "
                "beta1**2 > beta2, so |m| / sqrt(v) is not bounded and the steps can grow; "
                "use beta1**2 <= beta2 or eps > 0.",
                UnboundedStepWarning,
                stacklevel=5,
            )

    @property
    def scale_invariant(self) -> bool:
        return self.eps == 0.0


@register("inc-adam")
@dataclass(frozen=True)
class IncAdam(_AdamChecks, Optimizer):
    """Mini-batch Adam (paper Algorithm 1; Inc-Adam is b = 1, cyclic), with torch's options.

    Per step with batch gradient g (t = 0, 1, ...): ``m = beta1 m + (1 - beta1) g``,
    ``v = beta2 v + (1 - beta2) g^2``, ``w = w (1 - eta_t weight_decay) - eta_t / bc1 * m /
    (sqrt(v) / sqrt(bc2) + eps)`` entrywise, with ``bc1 = 1 - beta1^(t+1)`` and ``bc2 = 1 -
    beta2^(t+1)`` if ``bias_correction`` else 1 (torch.optim.Adam, and AdamW with weight
    decay). The defaults are the paper's Adam: no epsilon, no bias correction.

    Warns
    -----
    UnboundedStepWarning
        When ``beta1**2 > beta2`` and ``eps == 0``.

    Notes
    -----
    With ``eps = 0`` the rule is invariant to a positive factor on the gradients and runs
    exactly at any horizon; with ``eps > 0`` epsilon is scaled like the gradients, exact
    while the true step is a normal float.

    Examples
    --------
    >>> IncAdam(beta1=0.9, beta2=0.999).steps_per_epoch(10)
    10
    >>> IncAdam(batch_size=None).steps_per_epoch(10)
    1
    """

    beta1: float = _beta(0.9, "decay of the first moment (paper default)")
    beta2: float = _beta(0.999, "decay of the second moment (paper default)")
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    eps: float = _nonnegative(0.0, _EPS)
    bias_correction: bool = option(False, _BIAS)
    weight_decay: float = _nonnegative(0.0, _DECAY)
    rule: ClassVar[Rule] = ADAM


@register("det-adam")
@dataclass(frozen=True)
class DetAdam(_AdamChecks, Optimizer):
    """Full-batch (deterministic) Adam (paper Algorithm 2): one step per epoch.

    The same recurrence and options as :class:`IncAdam` with every sample in each step.

    Warns
    -----
    UnboundedStepWarning
        When ``beta1**2 > beta2`` and ``eps == 0``.

    Examples
    --------
    >>> DetAdam().steps_per_epoch(10)
    1
    """

    beta1: float = _beta(0.9, "decay of the first moment (paper default)")
    beta2: float = _beta(0.999, "decay of the second moment (paper default)")
    eps: float = _nonnegative(0.0, _EPS)
    bias_correction: bool = option(False, _BIAS)
    weight_decay: float = _nonnegative(0.0, _DECAY)
    rule: ClassVar[Rule] = ADAM


@register("rmsprop")
@dataclass(frozen=True)
class RMSProp(Optimizer):
    """RMSProp: Adam with beta1 = 0 (torch.optim.RMSprop with alpha = beta2, no momentum).

    ``v = beta2 v + (1 - beta2) g^2``, ``w -= eta_t g / (sqrt(v) + eps)``.

    Examples
    --------
    >>> RMSProp(beta2=0.9).scale_invariant
    True
    """

    beta2: float = _beta(0.99, "decay of the squared-gradient average (torch's alpha)")
    eps: float = _nonnegative(
        0.0, "added to the denominator; with eps = 0 the step is 0 where v = 0"
    )
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = ADAM
    beta1: ClassVar[float] = 0.0
    bias_correction: ClassVar[bool] = False
    weight_decay: ClassVar[float] = 0.0

    @property
    def scale_invariant(self) -> bool:
        """Whether the rule is invariant to a positive factor on the gradients (eps = 0)."""
        return self.eps == 0.0


# --------------------------------------------------------------------------------------------
# AdaGrad
# --------------------------------------------------------------------------------------------


@jitable
def adagrad_prepare(hp, eta, t, log_scale):
    """AdaGrad. ``hp = [eps]``."""
    return (eta, scaled_eps(hp[0], log_scale))


@jitable
def adagrad_update(g, w, state, c, k, p):
    """``v += g^2; w -= eta g / (sqrt(v) + eps)``; no step where the denominator is 0."""
    eta, eps = p
    v = state[0, c, k] + g * g
    state[0, c, k] = v
    denom = math.sqrt(v) + eps
    q = g / denom if denom > 0.0 else 0.0
    return w - eta * q


@register("adagrad")
@dataclass(frozen=True)
class AdaGrad(Optimizer):
    """AdaGrad: ``v += g^2``, ``w -= eta_t g / (sqrt(v) + eps)``.

    torch.optim.Adagrad with ``lr_decay = 0`` and ``initial_accumulator_value = 0``.

    Examples
    --------
    >>> AdaGrad().steps_per_epoch(4)
    4
    """

    eps: float = _nonnegative(
        0.0,
        "added to the denominator; with eps = 0 the step is 0 "
        "where v = 0 and the rule is scale invariant",
    )
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "adagrad",
        adagrad_prepare,
        adagrad_update,
        hp=("eps",),
        states=(State("v", 2, lambda o: (1.0, 1.0, 1.0)),),
    )

    @property
    def scale_invariant(self) -> bool:
        """Whether the rule is invariant to a positive factor on the gradients (eps = 0)."""
        return self.eps == 0.0
