"""Update rules: what one optimizer step does with the (scaled) batch gradient.

Each rule updates its arrays in place and receives only scaled gradients (see
``_scaled.py``), so it never sees an underflowed derivative. No input validation.
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
def batch_gradient(Z, idx, coef, g):
    """``g = -sum_r coef[r] * Z[idx[r]]`` (the batch gradient, with ``coef = -l' / |B|``)."""
    i0 = idx[0]
    c0 = coef[0]
    for k in range(g.size):
        g[k] = -c0 * Z[i0, k]
    for r in range(1, idx.size):
        i = idx[r]
        c = coef[r]
        for k in range(g.size):
            g[k] -= c * Z[i, k]


@kernel()
def adam_update(g, w, m, v, beta1, beta2, eta):
    """Adam without epsilon or bias correction; no step where ``v[k] == 0`` (0/0 rule)."""
    a1 = 1.0 - beta1
    a2 = 1.0 - beta2
    for k in range(w.size):
        gk = g[k]
        mk = beta1 * m[k] + a1 * gk
        vk = beta2 * v[k] + a2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        if vk > 0.0:
            w[k] -= eta * mk / math.sqrt(vk)


@kernel()
def signum_update(g, w, m, beta, eta):
    """Signum: ``m = beta m + (1 - beta) g``, ``w -= eta sign(m)`` with ``sign(0) = 0``."""
    a = 1.0 - beta
    for k in range(w.size):
        mk = beta * m[k] + a * g[k]
        m[k] = mk
        w[k] -= eta * sign0(mk)


@kernel()
def gd_update(g, w, eta):
    """Gradient descent ``w -= eta g``."""
    for k in range(w.size):
        w[k] -= eta * g[k]


@kernel()
def ngd_update(g, w, eta):
    """Normalized gradient descent ``w -= eta g / ||g||_2``; no step when ``g == 0``."""
    sq = 0.0
    for k in range(g.size):
        sq += g[k] * g[k]
    if sq > 0.0:
        scale = eta / math.sqrt(sq)
        for k in range(w.size):
            w[k] -= scale * g[k]


@kernel()
def proxy_update(Z, idx, coef, w, num, den, eta):
    """AdamProxy: ``w -= eta * sum_i grad_i / sqrt(sum_i grad_i**2)`` entrywise, 0/0 -> 0.

    ``grad_i = -coef[r] * Z[idx[r]]``; ``num`` and ``den`` are scratch arrays of length d.
    """
    for k in range(w.size):
        num[k] = 0.0
        den[k] = 0.0
    for r in range(idx.size):
        i = idx[r]
        c = coef[r]
        for k in range(w.size):
            gk = c * Z[i, k]
            num[k] += gk
            den[k] += gk * gk
    for k in range(w.size):
        if den[k] > 0.0:
            w[k] += eta * num[k] / math.sqrt(den[k])


@kernel()
def apply_rule(rule, Z, idx, coef, w, m, v, g, aux, beta1, beta2, eta):
    """Apply update ``rule`` for the batch ``idx`` with coefficients ``coef`` (in place).

    ``g`` and ``aux`` are scratch arrays of length d.
    """
    if rule == PROXY:
        proxy_update(Z, idx, coef, w, g, aux, eta)
        return
    batch_gradient(Z, idx, coef, g)
    if rule == ADAM:
        adam_update(g, w, m, v, beta1, beta2, eta)
    elif rule == SIGNUM:
        signum_update(g, w, m, beta1, eta)
    elif rule == GD_RULE:
        gd_update(g, w, eta)
    else:
        ngd_update(g, w, eta)
