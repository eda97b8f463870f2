"""The built-in update rules: one ``prepare`` and one ``update`` each.

Entrywise rules: ``prepare(hp, eta, t, log_scale) -> p`` gives the constants of step ``t``;
``update(g, w, state, c, k, p) -> w_new`` applies the step to coordinate ``(c, k)`` with
(scaled) gradient entry ``g`` and updates ``state[j, c, k]`` in place. Matrix rules:
``update(G, Q, W, state, p)`` updates the whole parameter ``W`` in place.

``log_scale`` is the natural log of the factor by which the scaled gradients exceed the true
ones; only rules with an epsilon need it (``eps`` must be scaled like the gradient). The
hyperparameter layouts ``hp`` are documented on each function and filled by the optimizer
classes in :mod:`fastbias.optimizers`. No input validation.
"""

import math

import numpy as np

from .._jit import jitable
from .scale import sign0

#: Singular values at or below this fraction of the largest are dropped from a polar factor
#: (the rows of every loss gradient sum to zero, so its rank is at most k - 1, and
#: the "zero" singular value comes out at 1e-17..4e-16 of the largest).
POLAR_RTOL = 1e-12
#: Coefficients of the quintic Newton-Schulz iteration used with Muon in practice.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


# --------------------------------------------------------------------------------------------
# Entrywise rules
# --------------------------------------------------------------------------------------------


@jitable
def _scaled_eps(eps, log_scale):
    """``eps * exp(log_scale)``: epsilon in the units of the scaled gradients."""
    if eps == 0.0:
        return 0.0
    return math.exp(math.log(eps) + log_scale)


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
    return (beta1, 1.0 - beta1, beta2, 1.0 - beta2, size, inv_root,
            _scaled_eps(eps, log_scale), 1.0 - eta * weight_decay, paper)


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


@jitable
def adagrad_prepare(hp, eta, t, log_scale):
    """AdaGrad. ``hp = [eps]``."""
    return (eta, _scaled_eps(hp[0], log_scale))


@jitable
def adagrad_update(g, w, state, c, k, p):
    """``v += g^2; w -= eta g / (sqrt(v) + eps)``; no step where the denominator is 0."""
    eta, eps = p
    v = state[0, c, k] + g * g
    state[0, c, k] = v
    denom = math.sqrt(v) + eps
    q = g / denom if denom > 0.0 else 0.0
    return w - eta * q


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


@jitable
def plain_prepare(hp, eta, t, log_scale):
    """Rules without hyperparameters: the step constants are ``(eta,)``."""
    return (eta,)


@jitable
def gd_update(g, w, state, c, k, p):
    """Gradient descent ``w -= eta g``."""
    return w - p[0] * g


@jitable
def signgd_update(g, w, state, c, k, p):
    """Sign descent ``w -= eta sign(g)`` with ``sign(0) = 0``."""
    return w - p[0] * sign0(g)


# --------------------------------------------------------------------------------------------
# Matrix rules
# --------------------------------------------------------------------------------------------


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


@jitable
def _frobenius(M):
    """``||M||_F`` without overflow or underflow of the squares."""
    top = 0.0
    for c in range(M.shape[0]):
        for k in range(M.shape[1]):
            top = max(top, abs(M[c, k]))
    if top == 0.0:
        return 0.0
    total = 0.0
    for c in range(M.shape[0]):
        for k in range(M.shape[1]):
            x = M[c, k] / top
            total += x * x
    return top * math.sqrt(total)


@jitable
def ngd_update(G, Q, W, state, p):
    """Normalized GD: ``W -= eta G / ||G||_F``; no step when ``G == 0``."""
    norm = _frobenius(G)
    if norm > 0.0:
        factor = p[0] / norm
        for c in range(W.shape[0]):
            for k in range(W.shape[1]):
                W[c, k] -= factor * G[c, k]


@jitable
def polar_factor(M, ns_steps):
    """``U V^T`` for the thin SVD ``M = U S V^T`` (0 when ``M == 0``).

    ``ns_steps == 0``: exact, from the SVD, with singular values ``<= POLAR_RTOL * max``
    dropped. ``ns_steps > 0``: that many steps of the quintic Newton-Schulz iteration
    ``X <- a X + (b A + c A^2) X``, ``A = X X^T``, from ``X = M / ||M||_F``.
    """
    norm = _frobenius(M)
    if norm == 0.0:
        return np.zeros_like(M)
    X = M / norm  # the polar factor is invariant to a positive scale
    if M.shape[0] == 1 and ns_steps == 0:
        return X  # one row (binary data): U V^T = m / ||m||, no SVD needed
    if ns_steps == 0:
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
        keep = s > POLAR_RTOL * s[0]
        return np.ascontiguousarray(U[:, keep]) @ np.ascontiguousarray(Vt[keep, :])
    a, b, c = NS_COEFFICIENTS
    for _ in range(ns_steps):
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return X


@jitable
def spectral_prepare(hp, eta, t, log_scale):
    """Spectral descent and Muon. ``hp = [momentum, nesterov, ns_steps]``."""
    return (hp[0], hp[1], int(hp[2]), eta)


@jitable
def spectral_update(G, Q, W, state, p):
    """Spectral descent: ``W -= eta U V^T`` for the thin SVD ``G = U S V^T``."""
    eta = p[3]
    polar = polar_factor(G, p[2])
    for c in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[c, k] -= eta * polar[c, k]


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
