"""Log-scale arithmetic: loss derivatives as ``exp(S + log(-l'(s)))`` and exact rescaling.

Adam without epsilon, Signum, SignGD, normalized GD and AdamProxy are invariant to a common
positive factor on every gradient. The kernels therefore work with scaled derivatives
``-l'(s) * exp(S)`` where the log-scale ``S`` follows the optimizer state, and multiply the
stored state by exact powers of two (``ldexp``) whenever ``S`` moves.
"""

import math

from .._jit import kernel

EXP_LOSS = 0
LOGISTIC_LOSS = 1

#: The state is renormalized when its magnitude bound leaves [2**-LOW_BITS, 2**HIGH_BITS]
#: (and the incoming gradient does too), which keeps v = m**2-sized numbers far from the
#: float64 under- and overflow thresholds (2**-1022, 2**1024).
LOW_BITS = 256
HIGH_BITS = 256
LN2 = math.log(2.0)


@kernel(inline="always")
def log_neg_derivative(s, loss):
    """``log(-l'(s))`` for margin ``s``: ``-s`` (exp loss) or ``-log(1 + e^s)`` (logistic)."""
    if loss == EXP_LOSS:
        return -s
    if s > 0.0:
        return -s - math.log1p(math.exp(-s))
    return -math.log1p(math.exp(s))


@kernel(inline="always")
def sign0(x):
    """Sign with ``sign(0) = 0``."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


@kernel()
def shift_exponent(log_grad_max, state_bound_sq):
    """Power of two ``k`` by which to multiply the state (and gradients) after a rescale.

    ``log_grad_max`` (natural log) bounds the incoming scaled gradient and
    ``state_bound_sq`` bounds ``max(|m|, sqrt(v))**2``; ``k`` brings the larger of the two
    to about 1. A zero state (start of a run) is ignored.
    """
    bits = math.ceil(log_grad_max / LN2)
    if state_bound_sq > 0.0:
        exp2 = math.frexp(state_bound_sq)[1]  # state_bound_sq < 2**exp2
        bits = max(bits, (exp2 + 1) // 2)
    return -bits


@kernel()
def rescale_state(k, m, v):
    """Multiply ``m`` by ``2**k`` and ``v`` by ``4**k`` in place (exact unless subnormal)."""
    for j in range(m.size):
        m[j] = math.ldexp(m[j], k)
    for j in range(v.size):
        v[j] = math.ldexp(v[j], 2 * k)
