"""Update rules: what one optimizer step does with the (scaled) batch gradient.

A rule receives the batch gradient as ``g = -c * src[r]``: for one sample ``src`` is Z,
``r`` the sample and ``c`` its scaled loss derivative, so no gradient array is formed; for a
batch, ``src`` is a (1, d) array holding the coefficient-weighted sum of the rows, ``r = 0``
and ``c = 1``. Rows are indexed in place rather than sliced (no array views in the hot
loop). Gradients are scaled
(see ``_scaled.py``), so a rule never sees an underflowed derivative. Rules update their
arrays in place. No input validation.
"""

import math

from .._jit import kernel
from ._scaled import sign0

ADAM = 0
SIGNUM = 1
GD_RULE = 2
NGD_RULE = 3
PROXY = 4


@kernel(inline="always")
def adam_update(src, r, c, w, m, v, beta1, beta2, eta):
    """Adam without epsilon or bias correction; no step where ``v[k] == 0`` (0/0 rule)."""
    a1 = 1.0 - beta1
    a2 = 1.0 - beta2
    for k in range(w.size):
        gk = -c * src[r, k]
        mk = beta1 * m[k] + a1 * gk
        vk = beta2 * v[k] + a2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        if vk > 0.0:
            w[k] -= eta * mk / math.sqrt(vk)


@kernel(inline="always")
def signum_update(src, r, c, w, m, beta, eta):
    """Signum: ``m = beta m + (1 - beta) g``, ``w -= eta sign(m)`` with ``sign(0) = 0``."""
    a = 1.0 - beta
    for k in range(w.size):
        mk = beta * m[k] + a * (-c * src[r, k])
        m[k] = mk
        w[k] -= eta * sign0(mk)


@kernel(inline="always")
def gd_update(src, r, c, w, eta):
    """Gradient descent ``w -= eta g``."""
    for k in range(w.size):
        w[k] -= eta * (-c * src[r, k])


@kernel(inline="always")
def ngd_update(src, r, c, w, eta):
    """Normalized gradient descent ``w -= eta g / ||g||_2``; no step when ``g == 0``."""
    sq = 0.0
    for k in range(w.size):
        gk = c * src[r, k]
        sq += gk * gk
    if sq > 0.0:
        scale = eta / math.sqrt(sq)
        for k in range(w.size):
            w[k] -= scale * (-c * src[r, k])


@kernel(inline="always")
def proxy_update(Z, order, e, coef, w, num, den, eta):
    """AdamProxy: ``w -= eta * sum_i grad_i / sqrt(sum_i grad_i**2)`` entrywise, 0/0 -> 0.

    ``grad_i = -coef[r] * Z[order[e, r]]`` over the whole epoch order; ``num`` and ``den``
    are scratch arrays of length d.
    """
    num[:] = 0.0
    den[:] = 0.0
    for r in range(order.shape[1]):
        i = order[e, r]
        c = coef[r]
        for k in range(w.size):
            gk = c * Z[i, k]
            num[k] += gk
            den[k] += gk * gk
    for k in range(w.size):
        if den[k] > 0.0:
            w[k] += eta * num[k] / math.sqrt(den[k])


@kernel(inline="always")
def apply_rule(rule, src, r, c, w, m, v, beta1, beta2, eta):
    """Apply a gradient rule (all but PROXY) with ``g = -c * src[r]``, in place."""
    if rule == ADAM:
        adam_update(src, r, c, w, m, v, beta1, beta2, eta)
    elif rule == SIGNUM:
        signum_update(src, r, c, w, m, beta1, eta)
    elif rule == GD_RULE:
        gd_update(src, r, c, w, eta)
    else:
        ngd_update(src, r, c, w, eta)
