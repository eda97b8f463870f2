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

__all__ = [
    "UnboundedStepWarning",
    "unbounded_moments",
    "IncAdam",
    "DetAdam",
    "RMSProp",
    "AdaGrad",
    "NAdam",
    "AdaBelief",
    "Adamax",
]


class UnboundedStepWarning(UserWarning):
    """Adam without epsilon with ``beta1**2 > beta2``: ``|m| / sqrt(v)`` is not bounded.

    With ``beta1**2 <= beta2`` every step satisfies ``|m_k| / sqrt(v_k) <= (1 - beta1) /
    sqrt((1 - beta2)(1 - beta1**2 / beta2))``; otherwise the steps can grow geometrically
    and the iterates may diverge (the exact run then leaves the float64 range, and the
    scaled arithmetic is not promised to follow it there). The same holds for NAdam; for
    Adamax, whose ``u`` decays like ``beta2**k``, the condition is ``beta1 > beta2``.
    """


def unbounded_moments(beta1: float, beta2: float) -> bool:
    """Whether ``beta1**2 > beta2`` in exact arithmetic (``beta1**2`` may underflow in float64)."""
    return Fraction(beta1) ** 2 > Fraction(beta2)


# --------------------------------------------------------------------------------------------
# Adam
# --------------------------------------------------------------------------------------------


@jitable
def _bias_correction(beta, t):
    """``1 - beta^(t+1)`` for ``0 <= beta < 1``, without the power where it rounds to 1.

    ``beta^(t+1) <= exp(-(t+1)(1-beta))`` (as ``log(beta) <= beta - 1``); once that bound is
    below ``exp(-39) < 2^-56``, the power is below half an ulp of 1 (``2^-54``) even with
    the power's own rounding, so ``1 - beta^(t+1)`` is exactly 1.0: the same bits, without a
    call to ``pow`` on every later step.
    """
    if (t + 1.0) * (1.0 - beta) >= 39.0:
        return 1.0
    return 1.0 - beta ** (t + 1.0)


@jitable
def adam_prepare(hp, eta, t, log_scale):
    """Adam. ``hp = [beta1, beta2, eps, bias_correction (0 or 1), weight_decay, eps_root]``.

    Returns ``(beta1, 1 - beta1, beta2, 1 - beta2, step size, 1 / sqrt(1 - beta2^(t+1)),
    scaled eps, 1 - eta * weight_decay, scaled eps_root)``. Without bias correction the step
    size is eta and the correction factor is 1.
    """
    beta1, beta2, eps, correct, weight_decay, eps_root = hp[0], hp[1], hp[2], hp[3], hp[4], hp[5]
    size = eta
    inv_root = 1.0
    if correct != 0.0:
        bc1 = _bias_correction(beta1, t)
        bc2_root = math.sqrt(_bias_correction(beta2, t))
        if eps == 0.0 and eps_root == 0.0:
            # eta / bc1 * m / (sqrt(v) / bc2_root) = (eta bc2_root / bc1) m / sqrt(v)
            size = eta * bc2_root / bc1
        else:
            size = eta / bc1
            inv_root = 1.0 / bc2_root
    return (
        beta1,
        1.0 - beta1,
        beta2,
        1.0 - beta2,
        size,
        inv_root,
        scaled_eps(eps, log_scale),
        1.0 - eta * weight_decay,
        scaled_eps(eps_root, 2.0 * log_scale),  # of degree 2, like v
    )


@jitable
def _adam_step(m, v, w, p):
    """``w (1 - eta wd) - size m / denom`` with ``denom = sqrt(v_hat + eps_root) + eps``.

    ``v_hat = v / (1 - b2^(t+1))`` (or v); the step is 0 where ``denom == 0`` (the 0/0 rule,
    only possible for eps = eps_root = 0).
    """
    size, inv_root, eps, decay, root = p[4], p[5], p[6], p[7], p[8]
    # One square root and one division per coordinate whatever the options: the branches
    # select operands only (a vectorized loop would otherwise evaluate both square roots).
    # The paper's Adam (inv_root = 1, eps = 0, decay = 1) gets w - size * (m / sqrt(v)),
    # exactly: x * 1 = x and x + 0 = x for x >= 0.
    shifted = root > 0.0
    x = v * (inv_root * inv_root) + root if shifted else v
    r = math.sqrt(x)
    denom = (r if shifted else r * inv_root) + eps
    q = m / denom if denom > 0.0 else 0.0
    return w * decay - size * q


@jitable
def adam_update(g, w, state, c, k, p):
    """``m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2``, then the step of :func:`_adam_step`."""
    m = p[0] * state[0, c, k] + p[1] * g
    v = p[2] * state[1, c, k] + p[3] * (g * g)
    state[0, c, k] = m
    state[1, c, k] = v
    return _adam_step(m, v, w, p)


@jitable
def amsgrad_update(g, w, state, c, k, p):
    """AMSGrad (torch's): Adam's moments and ``vmax = max(vmax, v)``, uncorrected.

    The step is Adam's with ``vmax`` in place of v.
    """
    m = p[0] * state[0, c, k] + p[1] * g
    v = p[2] * state[1, c, k] + p[3] * (g * g)
    vmax = max(state[2, c, k], v)
    state[0, c, k] = m
    state[1, c, k] = v
    state[2, c, k] = vmax
    return _adam_step(m, vmax, w, p)


_MOMENTS = (
    State("m", 1, lambda o: (o.beta1, 1.0 - o.beta1, o.beta1)),
    State("v", 2, lambda o: (o.beta2, 1.0 - o.beta2, o.beta2)),
)
_ADAM_HP = ("beta1", "beta2", "eps", "bias_correction", "weight_decay", "eps_root")
ADAM = Rule("adam", adam_prepare, adam_update, hp=_ADAM_HP, states=_MOMENTS)
# vmax never decays: vmax_new = max(vmax, b2 v + (1 - b2) g^2) <= vmax + (1 - b2) G^2
AMSGRAD = Rule(
    "amsgrad",
    adam_prepare,
    amsgrad_update,
    hp=_ADAM_HP,
    states=(*_MOMENTS, State("vmax", 2, lambda o: (1.0, 1.0 - o.beta2, 1.0))),
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


_AMSGRAD = (
    "keep the largest second moment, vmax = max(vmax, v), and divide by it "
    "(torch's AMSGrad; vmax never decays, so the steps shrink like the derivatives and "
    "the run freezes, also in exact arithmetic)"
)
_EPS_ROOT = (
    "added to the (bias-corrected) second moment inside the square root (optax's "
    "eps_root), scaled like v"
)


class _AdamChecks:
    """The unbounded-step warning and the scale behaviour of the Adam-type classes."""

    #: The condition under which ``|m|`` over the denominator is not bounded, as words.
    unbounded_when: ClassVar[tuple[str, str, str]] = ("beta1**2 > beta2", "sqrt(v)", "<=")

    def _unbounded(self) -> bool:
        return unbounded_moments(self.beta1, self.beta2)

    def _check(self):
        if self.eps == 0.0 and self._unbounded():
            condition, denominator, fix = self.unbounded_when
            warnings.warn(
                f"{type(self).__name__}(beta1={self.beta1!r}, beta2={self.beta2!r}): "
                f"{condition}, so |m| / {denominator} is not bounded and the steps can grow; "
                f"use {condition.replace('>', fix)} or eps > 0.",
                UnboundedStepWarning,
                stacklevel=5,
            )

    @property
    def scale_invariant(self) -> bool:
        """Whether the rule is invariant to a positive factor on the gradients."""
        return self.eps == 0.0 and getattr(self, "eps_root", 0.0) == 0.0

    def kernel_rule(self) -> Rule:
        """AMSGrad's rule with ``amsgrad=True``, Adam's otherwise."""
        return AMSGRAD if getattr(self, "amsgrad", False) else self.rule


@register("inc-adam")
@dataclass(frozen=True)
class IncAdam(_AdamChecks, Optimizer):
    """Mini-batch Adam (paper Algorithm 1; Inc-Adam is b = 1, cyclic), with torch's options.

    Per step with batch gradient g (t = 0, 1, ...): ``m = beta1 m + (1 - beta1) g``,
    ``v = beta2 v + (1 - beta2) g^2``, ``w = w (1 - eta_t weight_decay) - eta_t / bc1 * m /
    (sqrt(v / bc2 + eps_root) + eps)`` entrywise, with ``bc1 = 1 - beta1^(t+1)`` and ``bc2 =
    1 - beta2^(t+1)`` if ``bias_correction`` else 1 (torch.optim.Adam, and AdamW with weight
    decay; ``eps_root`` is optax's). With ``amsgrad`` the largest v so far, ``vmax``
    (uncorrected, torch's AMSGrad), takes the place of v. The defaults are the paper's Adam:
    no epsilon, no bias correction.

    Warns
    -----
    UnboundedStepWarning
        When ``beta1**2 > beta2`` and ``eps == 0``.

    Notes
    -----
    With ``eps = eps_root = 0`` the rule is invariant to a positive factor on the gradients
    and runs exactly at any horizon (AMSGrad too: the log-scale follows vmax; since vmax
    never decays, AMSGrad's steps shrink like the derivatives and the exact run freezes);
    with ``eps > 0`` or ``eps_root > 0`` they are scaled like the gradients, exact while the
    true step is a normal float. ``amsgrad`` without bias correction equals
    ``optax.amsgrad(bias_correction_mu=False, bias_correction_nu=False)`` (optax's default
    takes the maximum of the corrected v).

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
    amsgrad: bool = option(False, _AMSGRAD)
    eps_root: float = _nonnegative(0.0, _EPS_ROOT)
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
    amsgrad: bool = option(False, _AMSGRAD)
    eps_root: float = _nonnegative(0.0, _EPS_ROOT)
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
    eps_root: ClassVar[float] = 0.0

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


# --------------------------------------------------------------------------------------------
# NAdam, AdaBelief, Adamax (optax's semantics, always bias-corrected)
# --------------------------------------------------------------------------------------------


@jitable
def nadam_prepare(hp, eta, t, log_scale):
    """NAdam. ``hp = [beta1, beta2, eps]``.

    Returns ``(beta1, 1 - beta1, beta2, 1 - beta2, beta1 / (1 - beta1^(t+2)),
    (1 - beta1) / (1 - beta1^(t+1)), 1 / sqrt(1 - beta2^(t+1)), scaled eps, eta)``.
    """
    beta1, beta2 = hp[0], hp[1]
    return (
        beta1,
        1.0 - beta1,
        beta2,
        1.0 - beta2,
        beta1 / _bias_correction(beta1, t + 1.0),
        (1.0 - beta1) / _bias_correction(beta1, t),
        1.0 / math.sqrt(_bias_correction(beta2, t)),
        scaled_eps(hp[2], log_scale),
        eta,
    )


@jitable
def nadam_update(g, w, state, c, k, p):
    """``m, v`` as Adam; ``w -= eta (c1 m + c2 g) / (sqrt(v / bc2) + eps)`` (optax.nadam)."""
    beta1, a1, beta2, a2, c1, c2, inv_root, eps, eta = p
    m = beta1 * state[0, c, k] + a1 * g
    v = beta2 * state[1, c, k] + a2 * (g * g)
    state[0, c, k] = m
    state[1, c, k] = v
    denom = math.sqrt(v) * inv_root + eps
    return w - eta * ((c1 * m + c2 * g) / denom if denom > 0.0 else 0.0)


@register("nadam")
@dataclass(frozen=True)
class NAdam(_AdamChecks, Optimizer):
    """NAdam (Dozat 2016) with optax's semantics (``optax.nadam``).

    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2`` first; then ``m_hat =
    beta1 m / (1 - beta1^(t+2)) + (1 - beta1) g / (1 - beta1^(t+1))``, ``v_hat = v / (1 -
    beta2^(t+1))``, ``w -= eta_t m_hat / (sqrt(v_hat) + eps)`` (always bias-corrected).

    Notes
    -----
    With ``eps = 0`` (the default, ours, for exactness; optax's is 1e-8) the rule is
    invariant to a positive factor on the gradients and runs exactly at any horizon.

    Examples
    --------
    >>> NAdam().scale_invariant
    True
    """

    beta1: float = _beta(0.9, "decay of the first moment")
    beta2: float = _beta(0.999, "decay of the second moment")
    eps: float = _nonnegative(0.0, "added to the denominator (0: the 0/0 rule where v = 0)")
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    rule: ClassVar[Rule] = Rule(
        "nadam", nadam_prepare, nadam_update, hp=("beta1", "beta2", "eps"), states=_MOMENTS
    )


@jitable
def adabelief_prepare(hp, eta, t, log_scale):
    """AdaBelief. ``hp = [beta1, beta2, eps, eps_root]``."""
    beta1, beta2 = hp[0], hp[1]
    return (
        beta1,
        1.0 - beta1,
        beta2,
        1.0 - beta2,
        eta / _bias_correction(beta1, t),
        1.0 / math.sqrt(_bias_correction(beta2, t)),
        scaled_eps(hp[2], log_scale),
        scaled_eps(hp[3], 2.0 * log_scale),
    )


@jitable
def adabelief_update(g, w, state, c, k, p):
    """``m = b1 m + (1-b1) g; s = b2 s + (1-b2) (g - m)^2 + eps_root``, then the step.

    The bias-corrected step ``w -= eta m_hat / (sqrt(s_hat) + eps)`` (optax.adabelief).
    """
    beta1, a1, beta2, a2, size, inv_root, eps, root = p
    m = beta1 * state[0, c, k] + a1 * g
    e = g - m
    s = beta2 * state[1, c, k] + a2 * (e * e) + root
    state[0, c, k] = m
    state[1, c, k] = s
    denom = math.sqrt(s) * inv_root + eps
    return w - size * (m / denom if denom > 0.0 else 0.0)


@register("adabelief")
@dataclass(frozen=True)
class AdaBelief(Optimizer):
    """AdaBelief (Zhuang et al. 2020) with optax's semantics (``optax.adabelief``).

    ``m = beta1 m + (1 - beta1) g`` first, then ``s = beta2 s + (1 - beta2) (g - m)^2 +
    eps_root``, ``m_hat = m / (1 - beta1^(t+1))``, ``s_hat = s / (1 - beta2^(t+1))``,
    ``w -= eta_t m_hat / (sqrt(s_hat) + eps)`` (always bias-corrected).

    Warns
    -----
    UserWarning
        With ``beta1 = 0`` and ``eps = eps_root = 0``: then ``g - m = 0``, ``s = 0`` and
        the 0/0 rule stops every step.

    Notes
    -----
    The defaults ``eps = eps_root = 0`` are ours, for exactness (optax's are 1e-16): the
    rule is then invariant to a positive factor on the gradients and runs exactly at any
    horizon.

    Examples
    --------
    >>> AdaBelief().scale_invariant
    True
    """

    beta1: float = _beta(0.9, "decay of the first moment")
    beta2: float = _beta(0.999, "decay of the squared prediction error g - m")
    eps: float = _nonnegative(0.0, "added to the denominator (0: the 0/0 rule where s = 0)")
    eps_root: float = _nonnegative(0.0, "added to s at every step (optax's eps_root)")
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    # |g - m| <= |g| + |m| <= 2 G, so s gains at most (1 - beta2) (2 G)^2 per step
    rule: ClassVar[Rule] = Rule(
        "adabelief",
        adabelief_prepare,
        adabelief_update,
        hp=("beta1", "beta2", "eps", "eps_root"),
        states=(_MOMENTS[0], State("s", 2, lambda o: (o.beta2, 4.0 * (1.0 - o.beta2), o.beta2))),
    )

    def _check(self):
        if self.beta1 == 0.0 and self.eps == 0.0 and self.eps_root == 0.0:
            warnings.warn(
                "AdaBelief(beta1=0, eps=0, eps_root=0) never moves: m = g, so s = 0 and the "
                "0/0 rule stops every step; give beta1 > 0 or eps > 0.",
                UserWarning,
                stacklevel=5,
            )

    @property
    def scale_invariant(self) -> bool:
        """Whether the rule is invariant to a positive factor on the gradients."""
        return self.eps == 0.0 and self.eps_root == 0.0


@jitable
def adamax_prepare(hp, eta, t, log_scale):
    """Adamax. ``hp = [beta1, beta2, eps]``."""
    beta1 = hp[0]
    return (
        beta1,
        1.0 - beta1,
        hp[1],
        eta / _bias_correction(beta1, t),
        scaled_eps(hp[2], log_scale),
    )


@jitable
def adamax_update(g, w, state, c, k, p):
    """``m = b1 m + (1-b1) g; u = max(b2 u, |g| + eps); w -= eta m_hat / u`` (0 where u = 0)."""
    beta1, a1, beta2, size, eps = p
    m = beta1 * state[0, c, k] + a1 * g
    u = max(beta2 * state[1, c, k], abs(g) + eps)
    state[0, c, k] = m
    state[1, c, k] = u
    return w - size * (m / u if u > 0.0 else 0.0)


@register("adamax")
@dataclass(frozen=True)
class Adamax(_AdamChecks, Optimizer):
    """Adamax (Kingma and Ba 2015, section 7.1) with optax's semantics (``optax.adamax``).

    ``m = beta1 m + (1 - beta1) g``, ``u = max(beta2 u, |g| + eps)``, ``w -= eta_t (m / (1 -
    beta1^(t+1))) / u`` (0 where u = 0; always bias-corrected).

    Notes
    -----
    With ``eps = 0`` (the default, ours; optax's is 1e-8) the rule is invariant to a positive
    factor on the gradients and runs exactly at any horizon.

    Examples
    --------
    >>> Adamax(beta1=0.5).steps_per_epoch(3)
    3
    """

    beta1: float = _beta(0.9, "decay of the first moment")
    beta2: float = _beta(0.999, "decay of the infinity norm u")
    eps: float = _nonnegative(0.0, "added to |g| in the infinity norm")
    batch_size: int | None = batch_size_option(1)
    sampling: str = sampling_option()
    # u <= max(b2 u, G) <= b2 u + G; it enters the next step multiplied by beta2
    rule: ClassVar[Rule] = Rule(
        "adamax",
        adamax_prepare,
        adamax_update,
        hp=("beta1", "beta2", "eps"),
        states=(_MOMENTS[0], State("u", 1, lambda o: (o.beta2, 1.0, o.beta2))),
    )
    unbounded_when: ClassVar[tuple[str, str, str]] = ("beta1 > beta2", "u", "<=")

    def _unbounded(self) -> bool:
        return self.beta1 > self.beta2
