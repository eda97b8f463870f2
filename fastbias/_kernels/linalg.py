"""Small dense linear algebra for the matrix rules: norms without overflow, polar factors."""

import math

import numpy as np

from .._jit import jitable

#: Singular values at or below this fraction of the largest are dropped from a polar factor
#: (the rows of every loss gradient sum to zero, so its rank is at most k - 1, and
#: the "zero" singular value comes out at 1e-17..4e-16 of the largest).
POLAR_RTOL = 1e-12
#: Coefficients of the quintic Newton-Schulz iteration used with Muon in practice.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


@jitable
def frobenius(M):
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
def polar_factor(M, ns_steps):
    """``U V^T`` for the thin SVD ``M = U S V^T`` (0 when ``M == 0``).

    ``ns_steps == 0``: exact, from the SVD, with singular values ``<= POLAR_RTOL * max``
    dropped. ``ns_steps > 0``: that many steps of the quintic Newton-Schulz iteration
    ``X <- a X + (b A + c A^2) X``, ``A = X X^T``, from ``X = M / ||M||_F``.
    """
    norm = frobenius(M)
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
def schatten_direction(M, qm1, inv_p, ties):
    """The unit direction of steepest descent for ``M`` in the Schatten-p norm.

    ``U diag(a^(q-1)) V^T / S^(1/p)`` for the thin SVD ``M = U diag(s) V^T``, with ``a =
    s / max s`` (singular values ``<= POLAR_RTOL * max`` dropped) and ``S = sum a^q``;
    ``ties`` (p = 1): the singular pairs whose value equals the largest share the step.
    0 when ``M == 0``. p = inf (``qm1 = 0``, ``inv_p = 0``) is the polar factor.
    """
    norm = frobenius(M)
    if norm == 0.0:
        return np.zeros_like(M)
    X = M / norm  # the direction is invariant to a positive scale
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    out = np.zeros_like(M)
    total = 0.0
    weights = np.zeros(s.size)
    for r in range(s.size):
        if s[r] > POLAR_RTOL * s[0]:
            a = s[r] / s[0]
            if ties != 0.0:
                weights[r] = 1.0 if s[r] == s[0] else 0.0
            else:
                weights[r] = a**qm1
            total += weights[r] * a
    divisor = total if ties != 0.0 else total**inv_p
    for r in range(s.size):
        if weights[r] > 0.0:
            f = weights[r] / divisor
            for c in range(M.shape[0]):
                for k in range(M.shape[1]):
                    out[c, k] += f * U[c, r] * Vt[r, k]
    return out
