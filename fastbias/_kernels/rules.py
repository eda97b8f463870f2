"""Update rules: what one optimizer step does with the (scaled) batch gradient.

A rule receives the batch gradient as ``g = -c * src``: for one sample ``src`` is its row
of Z and ``c`` its scaled loss derivative, so no gradient array is formed; for a batch,
``src`` is the coefficient-weighted sum of the rows and ``c = 1``. Gradients are scaled
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


@kernel()
def adam_update(src, c, w, m, v, beta1, beta2, eta):
    """Adam without epsilon or bias correction; no step where ``v[k] == 0`` (0/0 rule)."""
    a1 = 1.0 - beta1
    a2 = 1.0 - beta2
    for k in range(w.size):
        gk = -c * src[k]
        mk = beta1 * m[k] + a1 * gk
        vk = beta2 * v[k] + a2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        if vk > 0.0:
            w[k] -= eta * mk / math.sqrt(vk)


@kernel()
def signum_update(src, c, w, m, beta, eta):
    """Signum: ``m = beta m + (1 - beta) g``, ``w -= eta sign(m)`` with ``sign(0) = 0``."""
    a = 1.0 - beta
    for k in range(w.size):
        mk = beta * m[k] + a * (-c * src[k])
        m[k] = mk
        w[k] -= eta * sign0(mk)


@kernel()
def gd_update(src, c, w, eta):
    """Gradient descent ``w -= eta g``."""
    for k in range(w.size):
        w[k] -= eta * (-c * src[k])


@kernel()
def ngd_update(src, c, w, eta):
    """Normalized gradient descent ``w -= eta g / ||g||_2``; no step when ``g == 0``."""
    sq = 0.0
    for k in range(w.size):
        gk = c * src[k]
        sq += gk * gk
    if sq > 0.0:
        scale = eta / math.sqrt(sq)
        for k in range(w.size):
            w[k] -= scale * (-c * src[k])


@kernel()
def proxy_update(Z, idx, coef, w, num, den, eta):
    """AdamProxy: ``w -= eta * sum_i grad_i / sqrt(sum_i grad_i**2)`` entrywise, 0/0 -> 0.

    ``grad_i = -coef[r] * Z[idx[r]]``; ``num`` and ``den`` are scratch arrays of length d.
    """
    num[:] = 0.0
    den[:] = 0.0
    for r in range(idx.size):
        z = Z[idx[r]]
        c = coef[r]
        for k in range(w.size):
            gk = c * z[k]
            num[k] += gk
            den[k] += gk * gk
    for k in range(w.size):
        if den[k] > 0.0:
            w[k] += eta * num[k] / math.sqrt(den[k])


@kernel()
def apply_rule(rule, src, c, w, m, v, beta1, beta2, eta):
    """Apply a gradient rule (all but PROXY) with ``g = -c * src``, in place."""
    if rule == ADAM:
        adam_update(src, c, w, m, v, beta1, beta2, eta)
    elif rule == SIGNUM:
        signum_update(src, c, w, m, beta1, eta)
    elif rule == GD_RULE:
        gd_update(src, c, w, eta)
    else:
        ngd_update(src, c, w, eta)
