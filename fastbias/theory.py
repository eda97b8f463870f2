"""The paper's theoretical objects as plain functions, for checks and for comparisons.

- :func:`adam_metric`, :func:`p_adam`, :func:`T`: the parametric problem ``P_Adam(c)``
  (Definition 4.6) and the map ``T(c) = lambda(c) / ||lambda(c)||_1`` (Theorem 4.8).
- :func:`lemma45_direction`: ``sum_i c_i z_i / sqrt(sum_i c_i^2 z_i^2)`` (Lemma 4.5).
- :func:`adam_proxy_update`: one AdamProxy step (Definition 4.2).
- :func:`inc_adam_epoch_update`: the epoch update of cyclic Inc-Adam predicted by
  Proposition 2.5, and its ``beta2 -> 1`` limit (Proposition 4.1), which is ``sqrt(n)`` times
  the AdamProxy step.

The update helpers work with the loss derivatives in log scale, so they stay exact (no 0/0, no
underflow) at any margin: Adam without epsilon and AdamProxy are invariant to a common positive
scale of all gradients, coordinate by coordinate.

All functions accept a :class:`fastbias.Dataset` or an (n, d) array of signed samples
``z_i = y_i x_i`` (rows of Z).
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import check_int, check_interval
from .geometry import (
    PAdamProblem,
    PAdamSolution,
    _adam_metric,
    _check_simplex_weights,
    _check_vector,
    _check_weights,
    _signed_samples,
)
from .losses import get_loss

__all__ = [
    "adam_metric",
    "adam_proxy_update",
    "inc_adam_constant",
    "inc_adam_epoch_update",
    "lemma45_direction",
    "p_adam",
    "T",
]


def _Z(data) -> np.ndarray:
    return _signed_samples(data, require_separable=False)


def adam_metric(data, c) -> np.ndarray:
    """Diagonal of ``M(c) = diag_k( sqrt( sum_i c_i^2 z_i[k]^2 ) )`` (paper Definition 4.6).

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A dataset, or its signed samples as rows.
    c : array_like of shape (n,)
        Nonnegative weights (used as given, not rescaled).

    Returns
    -------
    ndarray of shape (d,)

    Raises
    ------
    ValueError
        If ``c`` has the wrong length or a negative entry.

    Examples
    --------
    >>> adam_metric([[3.0, 1.0], [4.0, 0.0]], [1.0, 1.0]).tolist()
    [5.0, 1.0]
    """
    Z = _Z(data)
    return _adam_metric(Z, _check_weights(c, Z.shape[0]))


def p_adam(data, c, *, solver: str = "CLARABEL", solver_options=None) -> PAdamSolution:
    """Solve ``P_Adam(c)``: ``min 1/2 w^T M(c) w`` subject to ``<w, z_i> >= 1`` for all i.

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A linearly separable dataset, or its signed samples as rows.
    c : array_like of shape (n,)
        Nonnegative weights with a positive sum; rescaled to the simplex (the minimizer and
        ``T(c)`` do not depend on the scale of ``c``; ``dual`` refers to the rescaled ``c``).
    solver : str, default "CLARABEL"
    solver_options : dict, optional
        As in :func:`fastbias.geometry.max_margin`.

    Returns
    -------
    PAdamSolution
        Fields ``c``, ``w`` (the minimizer, not normalized), ``dual`` (``lambda(c)``),
        ``support``, ``status``, ``polished``; property ``T``.

    Raises
    ------
    ValueError
        For invalid ``c`` or non-separable data (before any solve).
    SolverError
        If the solve fails (the message gives the CVXPY status).

    Notes
    -----
    Paper Definition 4.6. For repeated solves on the same data, build a
    :class:`fastbias.geometry.PAdamProblem` once (it is compiled once, DPP).

    Examples
    --------
    >>> sol = p_adam([[1.0, 0.5], [0.5, 1.0]], [0.5, 0.5])
    >>> sol.w.round(6).tolist(), sol.T.round(6).tolist()
    ([0.666667, 0.666667], [0.5, 0.5])
    """
    problem = PAdamProblem(data, solver=solver, solver_options=solver_options)
    return problem.solve(c)


def T(data, c, *, solver: str = "CLARABEL", solver_options=None) -> np.ndarray:
    """The map ``T(c) = lambda(c) / ||lambda(c)||_1`` of Theorem 4.8.

    Parameters
    ----------
    data, c, solver, solver_options
        As in :func:`p_adam`.

    Returns
    -------
    ndarray of shape (n,)
        A point of the simplex, zero outside the support vectors of ``P_Adam(c)``.

    Notes
    -----
    Paper Theorem 4.8; its fixed points give the limit direction of AdamProxy. Algorithm 3
    iterates this map: see :func:`fastbias.geometry.fixed_point`.

    Examples
    --------
    >>> T([[2.0, 0.1, 0.1], [0.1, 3.0, 0.1], [0.1, 0.1, 4.0]], [1.0, 0.0, 0.0]).round(6).tolist()
    [1.0, 0.0, 0.0]
    """
    return p_adam(data, c, solver=solver, solver_options=solver_options).T


def lemma45_direction(data, c) -> np.ndarray:
    """Direction ``v[k] = sum_i c_i z_i[k] / sqrt(sum_i c_i^2 z_i[k]^2)``, unit l_2 norm.

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A dataset, or its signed samples as rows.
    c : array_like of shape (n,)
        Nonnegative weights with a positive sum (the direction does not depend on their scale).

    Returns
    -------
    ndarray of shape (d,)
        ``v / ||v||_2``; coordinates where every ``c_i z_i[k]`` is zero are 0 (0/0 rule).

    Raises
    ------
    ValueError
        For invalid ``c``, or if ``v = 0``.

    Notes
    -----
    Paper Lemma 4.5 (equation 5): the limit direction of AdamProxy has this form for some
    ``c`` in the simplex supported on the support vectors; at a fixed point of Algorithm 3 the
    minimizer of ``P_Adam(c)`` has it with its own ``c`` (Theorem 4.8).

    Examples
    --------
    >>> lemma45_direction([[1.0, 2.0], [1.0, -2.0]], [0.5, 0.5]).round(6).tolist()
    [1.0, 0.0]
    """
    Z = _Z(data)
    c = _check_simplex_weights(c, Z.shape[0])
    num = c @ Z
    den = _adam_metric(Z, c)
    v = np.zeros(Z.shape[1])
    nz = den > 0
    v[nz] = num[nz] / den[nz]
    norm = np.linalg.norm(v)
    if not norm > 0:
        raise ValueError("the Lemma 4.5 direction is zero for this c (sum_i c_i z_i = 0).")
    return v / norm


# --------------------------------------------------------------------------------------------
# Predicted updates (Definition 4.2, Propositions 2.5 and 4.1)
# --------------------------------------------------------------------------------------------


def _log_grad_terms(Z: np.ndarray, w, loss: str):
    """Log-magnitudes and signs of the gradient entries ``grad L_j[k] = l'(<w, z_j>) z_j[k]``.

    Returns ``(A, sgn)`` with ``|grad L_j[k]| = exp(A[j, k])`` (``-inf`` where ``z_j[k] = 0``) and
    ``sgn = sign(grad L_j[k]) = -sign(z_j[k])``.
    """
    w = _check_vector("w", w, Z.shape[1])
    u = get_loss(loss).log_neg_derivative(Z @ w)
    with np.errstate(divide="ignore"):
        A = u[:, None] + np.log(np.abs(Z))
    return A, -np.sign(Z)


def _check_lr(lr) -> float:
    return check_interval("lr", lr, 0.0, math.inf, "neither")


def adam_proxy_update(data, w, *, lr, loss: str = "exp") -> np.ndarray:
    """One AdamProxy step: ``-lr * sum_j grad L_j(w) / sqrt(sum_j grad L_j(w)^2)`` (entrywise).

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A dataset, or its signed samples as rows.
    w : array_like of shape (d,)
        The current iterate.
    lr : float
        Learning rate ``eta_t``, in (0, inf).
    loss : str or Loss, default "exp"
        A binary loss of :data:`fastbias.losses.BINARY_LOSSES`.

    Returns
    -------
    ndarray of shape (d,)
        The update ``w_{t+1} - w_t``; 0 in coordinates where every ``z_j[k]`` is 0 (0/0 rule).

    Raises
    ------
    ValueError
        For a wrong shape of ``w``, ``lr <= 0`` or an unknown ``loss``.

    Notes
    -----
    Paper Definition 4.2, with per-sample gradients ``grad L_j(w) = l'(<w, z_j>) z_j``.
    Computed in log scale with a separate common factor per coordinate, so the result is exact
    even when every ``exp(-<w, z_j>)`` underflows.

    Examples
    --------
    >>> adam_proxy_update([[1.0, 0.0], [1.0, 1.0]], [0.0, 0.0], lr=0.1).round(6).tolist()
    [0.141421, 0.1]
    """
    Z = _Z(data)
    lr = _check_lr(lr)
    A, sgn = _log_grad_terms(Z, w, loss)
    top = A.max(axis=0)
    out = np.zeros(Z.shape[1])
    nz = np.isfinite(top)
    R = np.exp(A[:, nz] - top[nz])  # largest entry of each column is 1
    out[nz] = -lr * np.sum(sgn[:, nz] * R, axis=0) / np.sqrt(np.sum(R * R, axis=0))
    return out


def _log_powers(beta: float, n: int) -> np.ndarray:
    """``log(beta^m)`` for m = 0..n-1, with ``0^0 = 1``."""
    m = np.arange(n, dtype=np.float64)
    if beta == 0.0:
        return np.where(m == 0, 0.0, -np.inf)
    return m * math.log(beta)


def inc_adam_constant(n: int, beta1: float, beta2: float) -> float:
    """The constant ``C`` of Proposition 2.5.

    ``C = (1 - beta1) / (1 - beta1^n) * sqrt((1 - beta2^n) / (1 - beta2))``, and at
    ``beta2 = 1`` its limit ``(1 - beta1) / (1 - beta1^n) * sqrt(n)``.

    Parameters
    ----------
    n : int
        Number of samples (steps per epoch), >= 1.
    beta1 : float
        In [0, 1).
    beta2 : float
        In [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> round(inc_adam_constant(1, 0.9, 0.999), 12)
    1.0
    """
    n = check_int("n", n, 1)
    beta1 = check_interval("beta1", beta1, 0.0, 1.0, "left")
    beta2 = check_interval("beta2", beta2, 0.0, 1.0, "both")

    def geometric(beta: float) -> float:  # (1 - beta^n) / (1 - beta), accurate near beta = 1
        if beta == 0.0:
            return 1.0
        if beta == 1.0:
            return float(n)
        return -math.expm1(n * math.log(beta)) / (1.0 - beta)

    return math.sqrt(geometric(beta2)) / geometric(beta1)


def inc_adam_epoch_update(
    data, w, *, lr, beta1: float = 0.9, beta2: float = 0.999, loss: str = "exp"
) -> np.ndarray:
    """Epoch update of cyclic Inc-Adam predicted by Proposition 2.5 (and its beta2 -> 1 limit).

    ``-lr * C * sum_i [sum_j beta1^((i-j) mod n) grad L_j] / sqrt(sum_j beta2^((i-j) mod n)
    (grad L_j)^2)`` (entrywise), with every gradient taken at ``w``, the iterate at the start
    of the epoch, and ``C = inc_adam_constant(n, beta1, beta2)``.

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A dataset, or its signed samples as rows, visited in the order 0, ..., n-1.
    w : array_like of shape (d,)
        Iterate at the start of the epoch.
    lr : float
        Per-step learning rate, in (0, inf), taken as constant over the epoch.
    beta1 : float, default 0.9
        In [0, 1).
    beta2 : float, default 0.999
        In [0, 1]; ``beta2 = 1`` gives the limit ``beta2 -> 1`` (see Notes).
    loss : str or Loss, default "exp"
        A binary loss of :data:`fastbias.losses.BINARY_LOSSES`.

    Returns
    -------
    ndarray of shape (d,)
        Predicted ``w_{epoch+1} - w_epoch``; 0 in coordinates where every ``z_j[k]`` is 0.

    Raises
    ------
    ValueError
        For a wrong shape of ``w``, ``lr <= 0``, ``beta1`` outside [0, 1), ``beta2`` outside
        [0, 1] or an unknown ``loss``.

    Notes
    -----
    Paper Proposition 2.5. Derivation: with Adam's ``m = beta1 m + (1 - beta1) g`` and
    ``v = beta2 v + (1 - beta2) g^2`` over a cyclic order, and gradients frozen at the epoch
    start, the moments at step i of an epoch (once the start is forgotten) are
    ``m_i = (1 - beta1) / (1 - beta1^n) sum_j beta1^((i-j) mod n) grad L_j`` and
    ``v_i = (1 - beta2) / (1 - beta2^n) sum_j beta2^((i-j) mod n) grad L_j^2``; summing
    ``-lr m_i / sqrt(v_i)`` over the n steps gives the formula above. It is asymptotic: it
    holds once the moments have forgotten their start (many epochs when beta2 is close to 1).

    *Limit beta2 -> 1* (Proposition 4.1). The denominator no longer depends on i and
    ``C -> (1 - beta1) / (1 - beta1^n) * sqrt(n)``, while
    ``sum_i beta1^((i-j) mod n) = (1 - beta1^n) / (1 - beta1)`` for every j. Hence the update
    tends to ``-lr * sqrt(n) * sum_j grad L_j / sqrt(sum_j grad L_j^2)``, which does not
    depend on beta1 and is ``sqrt(n)`` times the AdamProxy step of Definition 4.2 with the
    same ``lr`` (:func:`adam_proxy_update`): the same direction, and the rate
    ``sqrt(n) * lr`` per epoch.

    Computed in log scale with a separate common factor for each step i and coordinate k, so
    it stays exact at any margin (for ``beta1 <= sqrt(beta2)``, the usual regime, no
    intermediate value exceeds ``n``).

    Examples
    --------
    >>> Z = [[1.0, 0.0], [1.0, 1.0]]
    >>> limit = inc_adam_epoch_update(Z, [0.0, 0.0], lr=0.1, beta2=1.0)
    >>> bool(np.allclose(limit, np.sqrt(2) * adam_proxy_update(Z, [0.0, 0.0], lr=0.1)))
    True
    """
    Z = _Z(data)
    lr = _check_lr(lr)
    C = inc_adam_constant(Z.shape[0], beta1, beta2)  # validates beta1, beta2
    A, sgn = _log_grad_terms(Z, w, loss)
    n, d = Z.shape
    if beta2 == 1.0:
        return math.sqrt(n) * adam_proxy_update(Z, w, lr=lr, loss=loss)
    lb1, lb2 = _log_powers(beta1, n), _log_powers(beta2, n)
    out = np.zeros(d)
    idx = np.arange(n)
    for i in range(n):
        lag = (i - idx) % n  # (i - j) mod n for every j
        half_den = 0.5 * lb2[lag][:, None] + A  # log sqrt(beta2^lag grad^2)
        top = half_den.max(axis=0)
        nz = np.isfinite(top)
        den = np.sqrt(np.sum(np.exp(2.0 * (half_den[:, nz] - top[nz])), axis=0))
        num_log = lb1[lag][:, None] + A[:, nz] - top[nz]
        num = np.sum(sgn[:, nz] * np.exp(num_log), axis=0)
        out[nz] += num / den
    return -lr * C * out
