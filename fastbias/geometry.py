"""Limit directions: verified l_p max-margin solutions and the AdamProxy fixed point.

Every problem is solved with CVXPY and, by default, the interior-point solver Clarabel at tight
tolerances. Each answer comes with a check that does not depend on the solver: a dual bound on
the max-margin value (weak duality), and for the quadratic problems an exact solve of the KKT
system restricted to the support (a "polishing" step) that is kept only when it verifies.

Notation (paper Section 4): ``z_i = y_i x_i`` are the signed samples (rows of ``Z``), the
l_p max-margin problem is ``min ||w||_p s.t. Z w >= 1`` with margin ``gamma_p* = 1 / ||w*||_p``,
and ``P_Adam(c)`` (Definition 4.6) is ``min 1/2 w^T M(c) w s.t. Z w >= 1`` with
``M(c) = diag_k( sqrt( sum_i c_i^2 z_i[k]^2 ) )``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import check_finite_array, check_int, check_interval, shown
from .datasets import Dataset, MulticlassDataset, is_separable
from .norms import check_matrix_norm, check_p, lp_norm, norm_values
from .solvers import (
    ACCEPT_GAP,
    CLARABEL_OPTIONS,
    CLARABEL_OPTIONS_CONE,
    SUPPORT_RTOL,
    InaccurateSolutionWarning,
    SolverError,
    import_cvxpy,
    polish_qp,
    power_of_two_scale,
    readonly,
    result_repr,
    run_solver,
    solver_setup,
    support_of,
)

__all__ = [
    "ConvergenceWarning",
    "FixedPointResult",
    "InaccurateSolutionWarning",
    "MaxMarginResult",
    "PAdamProblem",
    "PAdamSolution",
    "SolverError",
    "cosine",
    "fixed_point",
    "margin_ratio",
    "max_margin",
    "normalized_margin",
    "SUPPORT_RTOL",
]


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at ``max_iter`` before meeting its tolerance."""


@dataclass(frozen=True, eq=False, repr=False)
class MaxMarginResult:
    """Solution of the l_p max-margin problem (returned by :func:`max_margin`).

    Attributes
    ----------
    w : ndarray of shape (d,)
        A maximizer of ``min_i <w, z_i>`` over ``||w||_p <= 1``, with ``||w||_p = 1``. For
        p = 1 and p = inf the maximizer may be non-unique; compare directions with
        :func:`margin_ratio` rather than by cosine alone.
    margin : float
        ``min_i <w, z_i>`` for the returned ``w``: a certified lower bound on ``gamma_p*``,
        equal to it up to the solver accuracy (see ``margin_upper``).
    margin_upper : float
        Upper bound on ``gamma_p*`` from the dual variables (weak duality:
        ``gamma_p* <= ||Z^T dual||_q / sum(dual)`` with ``1/p + 1/q = 1``). The relative gap
        ``1 - margin / margin_upper`` measures how well the problem was solved.
    dual : ndarray of shape (n,)
        Lagrange multipliers (>= 0) of ``Z w >= 1`` in ``min 1/2 ||w||_2^2`` for p = 2, so that
        ``Z^T dual = w / margin`` (the unnormalized solution); in ``min ||w||_p`` otherwise, so
        that ``sum(dual) = 1 / gamma_p*`` and ``||Z^T dual||_q = 1``. For p = 2 they scale
        as ``1 / |Z|^2`` and leave the float64 range (0 or inf) for data beyond about
        ``1e+-154``; ``margin_upper`` and ``support`` do not depend on it.
    support : ndarray of int
        Indices of the support vectors: ``dual[i] > SUPPORT_RTOL * max(dual)``.
    p : float
        The norm (1.0, 2.0, ``inf`` or any p >= 1).
    status : str
        CVXPY status of the solve (``"optimal"``, or ``"optimal_inaccurate"`` when the result
        passed the verification described in :func:`max_margin`).
    """

    __repr__ = result_repr  # arrays summarized, not dumped

    w: np.ndarray
    margin: float
    margin_upper: float
    dual: np.ndarray
    support: np.ndarray
    p: float
    status: str


@dataclass(frozen=True, eq=False, repr=False)
class PAdamSolution:
    """Primal and dual solution of ``P_Adam(c)`` (paper Definition 4.6).

    Attributes
    ----------
    c : ndarray of shape (n,)
        The parameter, rescaled to the simplex.
    w : ndarray of shape (d,)
        The minimizer (not normalized): ``Z w >= 1`` with equality on the support.
    dual : ndarray of shape (n,)
        ``lambda(c)``: Lagrange multipliers (>= 0) of ``Z w >= 1``, so that
        ``M(c) w = Z^T dual``. ``T(c) = dual / sum(dual)``.
    support : ndarray of int
        Indices with ``dual[i] > SUPPORT_RTOL * max(dual)``.
    status : str
        CVXPY status of the solve.
    polished : bool
        Whether ``w`` and ``dual`` come from the exact solve of the KKT system on the support
        (verified: nonnegative duals, all constraints satisfied to 1e-10). Otherwise they are
        the solver's values.
    """

    __repr__ = result_repr  # arrays summarized, not dumped

    c: np.ndarray
    w: np.ndarray
    dual: np.ndarray
    support: np.ndarray
    status: str
    polished: bool

    @property
    def T(self) -> np.ndarray:
        """``T(c) = lambda(c) / ||lambda(c)||_1`` (Theorem 4.8)."""
        return self.dual / self.dual.sum()


@dataclass(frozen=True, eq=False, repr=False)
class FixedPointResult:
    """Result of the fixed-point iteration of Algorithm 3 (returned by :func:`fixed_point`).

    Attributes
    ----------
    c : ndarray of shape (n,)
        The last iterate ``c^K`` (in the simplex).
    w : ndarray of shape (d,)
        The minimizer of ``P_Adam(c)`` for the returned ``c``, normalized to unit l_2 norm: the
        predicted limit direction of AdamProxy (Theorem 4.8).
    iterations : int
        Number K of applications of T, i.e. ``len(history)``.
    history : ndarray of shape (K,)
        ``||c^{k+1} - c^k||_1`` for k = 0, ..., K-1.
    residual : float
        ``||T(c) - c||_1`` for the returned ``c``, from one more solve of ``P_Adam(c)``.
    support : ndarray of int
        Support vectors of ``P_Adam(c)`` for the returned ``c``.
    converged : bool
        Whether ``history[-1] < tol`` (the stopping rule of Algorithm 3).
    """

    __repr__ = result_repr  # arrays summarized, not dumped

    c: np.ndarray
    w: np.ndarray
    iterations: int
    history: np.ndarray
    residual: float
    support: np.ndarray
    converged: bool


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _signed_samples(data, *, require_separable: bool = True) -> np.ndarray:
    """Return the signed-sample matrix Z of a Dataset or of an (n, d) array of signed samples."""
    if isinstance(data, Dataset):
        Z = data.Z
        checked = data.separability_checked
    elif isinstance(data, (np.ndarray, list, tuple)):
        Z = check_finite_array("data", data, ndim=2)
        checked = False
    else:
        raise TypeError(
            "data must be a fastbias.Dataset or an (n, d) array of signed samples z_i = y_i x_i; "
            f"got {type(data).__name__}."
        )
    if require_separable and not checked and not is_separable(Z):
        raise ValueError(
            "data are not linearly separable (no w has <w, z_i> > 0 for every i); the max-margin "
            "problem and P_Adam(c) have no solution."
        )
    return Z


def _check_vector(name: str, value, size: int) -> np.ndarray:
    v = check_finite_array(name, value, ndim=1)
    if v.shape[0] != size:
        raise ValueError(f"{name} must have length {size}; got length {v.shape[0]}.")
    return v


def _check_weights(c, n: int, name: str = "c") -> np.ndarray:
    """Validate a vector of n nonnegative weights."""
    c = _check_vector(name, c, n)
    if np.any(c < 0):
        i = int(np.argmax(c < 0))
        raise ValueError(f"{name} must be nonnegative; got {name}[{i}] = {float(c[i])!r}.")
    return c


def _check_simplex_weights(c, n: int, name: str = "c") -> np.ndarray:
    """Validate nonnegative weights with a positive sum and rescale them to the simplex."""
    c = _check_weights(c, n, name)
    total = c.sum()
    if not total > 0:
        raise ValueError(f"{name} must have a positive entry; got all zeros.")
    return c / total


def _dual_norm(p: float) -> float:
    if p == 1.0:
        return math.inf
    if p == math.inf:
        return 1.0
    return p / (p - 1.0)


# --------------------------------------------------------------------------------------------
# Margins
# --------------------------------------------------------------------------------------------


def _data_and_iterate(first, second, function: str):
    """``(data, w)`` from ``function(data, w)``, or from the old order ``(w, data)`` (warns)."""
    datasets = (Dataset, MulticlassDataset)
    old = False
    if isinstance(second, datasets) and not isinstance(first, datasets):
        old = True
    elif not isinstance(first, datasets):
        a, b = np.asarray(first), np.asarray(second)
        old = a.ndim == 1 and b.ndim == 2  # w (d,), then samples (n, d)
    if old:
        warnings.warn(
            f"{function}(w, data) is deprecated: pass the data first, {function}(data, w), as "
            "in max_margin(data, p); the old order is accepted for one more release.",
            DeprecationWarning,
            stacklevel=3,
        )
        return second, first
    return first, second


def _resolve_norm(data, p, norm):
    """The norm of a call: ``p`` (binary, default 2) or ``norm`` (multiclass, default "fro")."""
    if p is not None and norm is not None and p != norm:
        raise TypeError(f"give the norm once (p={shown(p)} or norm={shown(norm)}), not both.")
    value = norm if norm is not None else p
    if isinstance(data, MulticlassDataset):
        return check_matrix_norm("fro" if value is None else value)
    return check_p(2.0 if value is None else value)


def normalized_margin(data, w, p=None, *, norm=None):
    """Normalized margin ``gamma(w) = min margin / ||w||``.

    Binary data: ``gamma_p(w) = min_i <w, z_i> / ||w||_p``. Multiclass data:
    ``min_{i, c != y_i} (W[y_i] - W[c]) . x_i / ||W||`` for a matrix norm.

    Parameters
    ----------
    data : Dataset, MulticlassDataset or array_like of shape (n, d)
        A dataset, or the signed samples ``z_i = y_i x_i`` of binary data as rows.
    w : array_like
        One iterate ((d,) or (k, d) for multiclass data) or a stack of them as rows.
    p : float or str, optional
        Binary data: the l_p norm, p in [1, inf] (``numpy.inf`` or ``"inf"`` for the max
        norm); default 2.
    norm : str, optional
        Multiclass data: ``"max"``, ``"fro"`` (default), ``"spectral"``, ``"nuclear"`` or
        ``"l1"``.

    Returns
    -------
    float or ndarray
        The normalized margin; NaN for a zero iterate (0/0).

    Raises
    ------
    TypeError
        If ``data`` is neither a dataset nor an array, or the norm is not a number / name.
    ValueError
        If the norm is out of range or the shapes of ``w`` and ``data`` do not match.

    Notes
    -----
    Paper Section 4: iterates are compared with the max-margin solution
    through ``gamma(w) / gamma*`` (see :func:`margin_ratio`), which is meaningful even when
    the maximizer is not unique (p = 1, inf). The order ``(w, data)`` of fastbias 0.1 still
    works for one release, with a DeprecationWarning.

    Examples
    --------
    >>> normalized_margin([[1.0, 0.0], [0.0, 2.0]], [1.0, 1.0], p=2)
    0.7071067811865475
    """
    from .metrics import min_margins

    data, w = _data_and_iterate(data, w, "normalized_margin")
    norm = _resolve_norm(data, p, norm)
    multiclass = isinstance(data, MulticlassDataset)
    if not multiclass:
        data = _signed_samples(data, require_separable=False)
    mins = np.asarray(min_margins(data, w), dtype=np.float64)
    W = check_finite_array("w", w, ndim=np.ndim(w)) if np.ndim(w) else np.asarray(w)
    norms = np.asarray(norm_values(W, norm, multiclass))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(norms > 0, mins / np.where(norms > 0, norms, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def margin_ratio(data, w, p=None, gamma_star=None, *, norm=None):
    """Normalized-margin ratio ``gamma(w) / gamma*`` (1 at a max-margin direction).

    Parameters
    ----------
    data : Dataset, MulticlassDataset or array_like of shape (n, d)
        A dataset, or the signed samples of binary data as rows.
    w : array_like
        One iterate or a stack of them.
    p : float or str, optional
        Binary data: the l_p norm, p in [1, inf]; default 2.
    gamma_star : float or max-margin result, optional
        The max-margin value ``gamma*`` (or the result of :func:`max_margin` for the same
        norm). Computed with :func:`max_margin` when omitted.
    norm : str, optional
        Multiclass data: ``"max"``, ``"fro"`` (default), ``"spectral"``, ``"nuclear"`` or
        ``"l1"``.

    Returns
    -------
    float or ndarray
        At most 1 (up to solver accuracy); NaN for a zero iterate.

    Raises
    ------
    ValueError
        If ``gamma_star`` is not positive, or is a result for another norm.

    Notes
    -----
    The l_1 and l_inf max-margin solutions may be non-unique, so iterates are
    compared by this ratio rather than by cosine similarity with one particular solution.

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.shifted_diagonal([1.0, 2.0, 3.0], delta=0.1)
    >>> round(margin_ratio(ds, [1.0, 1.0, 1.0], p=float("inf")), 9)
    1.0
    """
    data, w = _data_and_iterate(data, w, "margin_ratio")
    norm = _resolve_norm(data, p, norm)
    if gamma_star is None:
        gamma_star = max_margin(data, norm=norm).margin
    key = "norm" if isinstance(norm, str) else "p"
    return normalized_margin(data, w, **{key: norm}) / check_gamma_star(gamma_star, norm)


def check_gamma_star(gamma_star, norm) -> float:
    """``gamma_star`` as a positive float; a max-margin result must be for the same norm."""
    result_norm = getattr(gamma_star, "norm", getattr(gamma_star, "p", None))
    if result_norm is not None and hasattr(gamma_star, "margin"):
        if result_norm != norm:
            raise ValueError(
                f"gamma_star is a max-margin result for the norm {result_norm!r}; expected "
                f"{norm!r}."
            )
        return gamma_star.margin
    return check_interval("gamma_star", gamma_star, 0.0, math.inf, "neither")


def cosine(w, u):
    """Cosine similarity ``<w, u> / (||w||_2 ||u||_2)``; rows of a 2-D ``w`` one by one.

    Parameters
    ----------
    w : array_like of shape (d,) or (k, d)
    u : array_like of shape (d,)

    Returns
    -------
    float or ndarray of shape (k,)
        NaN where ``w`` or ``u`` is zero.

    Examples
    --------
    >>> cosine([1.0, 0.0], [1.0, 1.0])
    0.7071067811865475
    """
    u = check_finite_array("u", u, ndim=1)
    W = np.asarray(w, dtype=np.float64)
    single = W.ndim == 1
    W = check_finite_array("w", W[None, :] if single else W, ndim=2)
    if W.shape[1] != u.shape[0]:
        raise ValueError(
            f"u must have length d = {W.shape[1]} (the length of w); got length {u.shape[0]}."
        )
    # each row and u divided by its largest entry first: no overflow of the squares at
    # |w| > 1e154 (iterates of long runs) and no underflow at |w| < 1e-154
    top = np.abs(W).max(axis=1)
    u_top = np.abs(u).max() if u.size else 0.0
    out = np.full(W.shape[0], np.nan)
    nz = top > 0
    if u_top > 0 and nz.any():
        Ws, us = W[nz] / top[nz, None], u / u_top
        out[nz] = (Ws @ us) / (np.linalg.norm(Ws, axis=1) * np.linalg.norm(us))
    return float(out[0]) if single else out


# --------------------------------------------------------------------------------------------
# l_p max margin
# --------------------------------------------------------------------------------------------


def max_margin(data, p=None, *, norm=None, solver: str = "CLARABEL", solver_options=None):
    """Solve the max-margin problem ``max_{||w|| <= 1} min_i <w, z_i>`` (l_p or a matrix norm).

    Solved as ``min ||w||_p s.t. Z w >= 1`` (as ``min 1/2 ||w||_2^2`` for p = 2) with CVXPY;
    the solution is returned normalized to unit l_p norm.

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A dataset, or its signed samples ``z_i = y_i x_i`` as rows. Must be linearly separable.
    p : float, default 2
        Binary data: the norm, in [1, inf]: 1, 2 and ``numpy.inf`` (or ``"inf"``) are the
        common choices; any p >= 1 works (general p uses power cones, solved to 1e-10).
    norm : {"max", "fro", "spectral", "nuclear", "l1"}, optional
        Multiclass data (a :class:`~fastbias.MulticlassDataset`): the matrix norm of
        ``max_{||W|| <= 1} min_{i, c != y_i} (W[y_i] - W[c]) . x_i``; default
        "fro". See :func:`fastbias.multiclass_geometry.max_margin_multiclass`.
    solver : str, default "CLARABEL"
        CVXPY solver name. Clarabel runs with the tight tolerances of ``CLARABEL_OPTIONS``
        (``CLARABEL_OPTIONS_CONE`` for general p); other solvers run with their defaults.
    solver_options : dict, optional
        Extra keyword arguments for ``Problem.solve`` (override the defaults above).

    Returns
    -------
    MaxMarginResult
        Fields ``w`` (unit l_p norm), ``margin`` (``gamma_p*``, achieved by ``w``),
        ``margin_upper`` (dual bound), ``dual``, ``support``, ``p``, ``status``.

    Raises
    ------
    TypeError
        If ``data`` is not a Dataset or array, or ``p`` is not a number.
    ValueError
        If ``p < 1``, or the data are not linearly separable (checked with a linear program
        before any solve, unless a Dataset already checked it).
    ImportError
        If Clarabel is requested but not installed (``pip install clarabel``).
    SolverError
        If the solver does not return an optimal solution; the message and ``.status`` give
        the CVXPY status name.

    Notes
    -----
    Paper Section 4 (the l_p max-margin problem; l_inf for full-batch Adam and Inc-Signum,
    Theorem 5.1; l_2 for Inc-Adam on GR data, Theorem 3.3).

    *Verification.* ``margin`` is ``min_i <w, z_i>`` of the returned unit-norm ``w``, so it
    never exceeds ``gamma_p*``; ``margin_upper = ||Z^T dual||_q / sum(dual)`` never falls below
    it (weak duality), and the two agree to about 1e-10 relative. For p = 2 the solution is
    polished: the KKT system on the support is solved exactly and kept when it verifies. A
    solution marked ``"optimal_inaccurate"`` by the solver is accepted only if it is polished
    (p = 2) or its relative duality gap is below 1e-9; otherwise SolverError is raised.

    *Non-uniqueness.* For p = 2 (and 1 < p < inf) the maximizer is unique. For p = 1 and
    p = inf it may not be: the interior-point solver then returns a point inside the optimal
    face, not necessarily a vertex, so compare with :func:`margin_ratio`.

    *Support.* ``dual[i] > SUPPORT_RTOL * max(dual)`` with ``SUPPORT_RTOL = 1e-9``. For p = 1
    and p = inf, an active constraint can have a zero multiplier (degenerate LP); it is then not
    in ``support``.

    Data are divided internally by a power of two near ``max |Z|`` (exact), so the accuracy
    does not depend on the units of the data.

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.shifted_diagonal([1.0, 2.0, 3.0], delta=0.1)
    >>> mm = max_margin(ds, p=float("inf"))
    >>> round(mm.margin, 9)
    1.3
    """
    if isinstance(data, MulticlassDataset):
        from .multiclass_geometry import max_margin_multiclass

        return max_margin_multiclass(
            data, _resolve_norm(data, p, norm), solver=solver, solver_options=solver_options
        )
    p = _resolve_norm(data, p, norm)
    Z = _signed_samples(data)
    cone = p not in (1.0, 2.0, math.inf)
    solver, opts = solver_setup(
        solver, solver_options, CLARABEL_OPTIONS_CONE if cone else CLARABEL_OPTIONS
    )
    cp = import_cvxpy()
    n, d = Z.shape
    scale = power_of_two_scale(Z)
    Zs = Z / scale
    w = cp.Variable(d)
    constraint = Zs @ w >= 1
    if p == 2.0:
        objective = 0.5 * cp.sum_squares(w)
    elif p == 1.0:
        objective = cp.norm1(w)
    elif p == math.inf:
        objective = cp.norm_inf(w)
    else:
        objective = cp.pnorm(w, p, approx=False)  # exact power cones, no rational approximation
    problem = cp.Problem(cp.Minimize(objective), [constraint])
    status = run_solver(problem, solver, opts, f"l_{p:g} max-margin problem")
    if w.value is None or constraint.dual_value is None:
        raise SolverError(
            f"{solver} returned no solution for the l_{p:g} max-margin problem: status {status!r}.",
            status,
        )
    w_s = np.asarray(w.value, dtype=np.float64)
    dual_s = np.maximum(np.asarray(constraint.dual_value, dtype=np.float64).reshape(n), 0.0)
    polished = None
    if p == 2.0:
        polished = polish_qp(Zs, np.ones(d), dual_s)
        if polished is not None:
            w_s, dual_s = polished
    # Undo the scaling: w(Z) = w(Zs) / scale; the multipliers scale as 1/scale^2 for
    # 1/2 ||w||^2 and as 1/scale for ||w||_p (both margin bounds are scale-free).
    # Beyond data scales of about 1e+-154 the p = 2 multipliers leave the float64 range (0 or
    # inf); the bound and the support below use the scale-free dual_s, so they are unaffected.
    with np.errstate(over="ignore", under="ignore"):
        dual = dual_s / scale / scale if p == 2.0 else dual_s / scale
    norm = float(lp_norm(w_s, p))
    if not (np.all(np.isfinite(w_s)) and norm > 0):
        raise SolverError(
            f"{solver} returned an invalid solution for the l_{p:g} max-margin "
            f"problem: status {status!r}.",
            status,
        )
    w_unit = w_s / norm
    margin = float(np.min(Z @ w_unit))
    total = dual_s.sum()
    upper = float(lp_norm(Zs.T @ dual_s, _dual_norm(p)) / total) * scale if total > 0 else math.inf
    gap = 1.0 - margin / upper if upper > 0 else math.inf
    if status == "optimal_inaccurate" and polished is None and not gap <= ACCEPT_GAP:
        raise SolverError(
            f"{solver} returned an inaccurate solution of the l_{p:g} max-margin problem "
            f"(status {status!r}, relative duality gap {gap:.2e}).",
            status,
        )
    return MaxMarginResult(
        w=readonly(w_unit),
        margin=margin,
        margin_upper=upper,
        dual=readonly(dual),
        support=readonly(support_of(dual_s)),
        p=p,
        status=status,
    )


# --------------------------------------------------------------------------------------------
# P_Adam(c) and Algorithm 3
# --------------------------------------------------------------------------------------------


def _unit(w: np.ndarray) -> np.ndarray:
    """``w / ||w||_2`` without over- or underflow (w may be of order 1e+-300)."""
    top = np.max(np.abs(w))
    if not (np.isfinite(top) and top > 0):
        raise SolverError("the solver returned a zero or non-finite direction.", "invalid")
    u = w / top
    return u / np.linalg.norm(u)


def _adam_metric(Z: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Diagonal of ``M(c)``: ``sqrt(sum_i c_i^2 z_i[k]^2)`` for each k (no validation)."""
    # Scale each column before squaring so that tiny or huge entries neither under- nor
    # overflow; the result is exact up to rounding.
    A = np.abs(c[:, None] * Z)
    top = A.max(axis=0)
    out = np.zeros(Z.shape[1])
    nz = top > 0
    out[nz] = top[nz] * np.sqrt(np.sum((A[:, nz] / top[nz]) ** 2, axis=0))
    return out


class PAdamProblem:
    """``P_Adam(c)`` compiled once with CVXPY (DPP) for repeated solves with new ``c``.

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A linearly separable dataset, or its signed samples as rows.
    solver : str, default "CLARABEL"
    solver_options : dict, optional
        As in :func:`max_margin`.

    Attributes
    ----------
    problem : cvxpy.Problem
        ``min 1/2 sum_squares(s * w) s.t. Z w >= 1`` with the nonnegative Parameter
        ``s = sqrt(diag M(c))``, computed from ``c`` in NumPy. The problem is DPP
        (``problem.is_dcp(dpp=True)``), so it is compiled on the first solve only.
    n, d : int

    Notes
    -----
    Paper Definition 4.6. Data are divided internally by a power of two near ``max |Z|``; the
    solution is mapped back exactly.

    Examples
    --------
    >>> problem = PAdamProblem([[1.0, 0.5], [0.5, 1.0]])
    >>> problem.problem.is_dcp(dpp=True)
    True
    >>> problem.solve([0.5, 0.5]).T.round(6).tolist()
    [0.5, 0.5]
    """

    def __init__(self, data, *, solver: str = "CLARABEL", solver_options=None):
        cp = import_cvxpy()
        Z = _signed_samples(data)
        self._solver, self._opts = solver_setup(solver, solver_options, CLARABEL_OPTIONS)
        self.n, self.d = Z.shape
        self._Z = Z
        self._scale = power_of_two_scale(Z)
        self._Zs = Z / self._scale
        self._w = cp.Variable(self.d)
        self._s = cp.Parameter(self.d, nonneg=True)
        self._constraint = self._Zs @ self._w >= 1
        self.problem = cp.Problem(
            cp.Minimize(0.5 * cp.sum_squares(cp.multiply(self._s, self._w))), [self._constraint]
        )

    def solve(self, c) -> PAdamSolution:
        """Solve ``P_Adam(c)`` for weights ``c >= 0`` with a positive sum.

        ``c`` is rescaled to the simplex; raises ValueError for a wrong length or a negative
        entry, and SolverError (with the CVXPY status) if the solve fails.
        """
        c = _check_simplex_weights(c, self.n)
        return self._solve(c)

    def _solve(self, c: np.ndarray) -> PAdamSolution:
        m_s = _adam_metric(self._Zs, c)
        self._s.value = np.sqrt(m_s)
        status = run_solver(self.problem, self._solver, self._opts, "problem P_Adam(c)")
        if self._w.value is None or self._constraint.dual_value is None:
            raise SolverError(
                f"{self._solver} returned no solution for P_Adam(c): status {status!r}.", status
            )
        w_s = np.asarray(self._w.value, dtype=np.float64)
        dual_s = np.maximum(
            np.asarray(self._constraint.dual_value, dtype=np.float64).reshape(self.n), 0.0
        )
        polished = polish_qp(self._Zs, m_s, dual_s)
        if polished is not None:
            w_s, dual_s = polished
        elif status != "optimal":
            raise SolverError(
                f"{self._solver} returned an inaccurate solution of P_Adam(c) that could not be "
                f"verified: status {status!r}.",
                status,
            )
        if not dual_s.sum() > 0:
            raise SolverError(
                f"{self._solver} returned zero dual variables for P_Adam(c): status {status!r}.",
                status,
            )
        # Z = scale * Zs gives M(c) = scale * M_s(c): w = w_s / scale, lambda = lambda_s / scale.
        return PAdamSolution(
            c=readonly(c),
            w=readonly(w_s / self._scale),
            dual=readonly(dual_s / self._scale),
            support=readonly(support_of(dual_s)),
            status=status,
            polished=polished is not None,
        )


def fixed_point(
    data,
    tol: float = 1e-8,
    max_iter: int = 200,
    *,
    c0=None,
    solver: str = "CLARABEL",
    solver_options=None,
) -> FixedPointResult:
    """Fixed point of ``T(c) = lambda(c) / ||lambda(c)||_1`` by iteration (paper Algorithm 3).

    Starting from ``c^0`` (uniform by default), iterates ``c^{k+1} = T(c^k)`` until
    ``||c^{k+1} - c^k||_1 < tol``, where ``lambda(c)`` is the dual solution of ``P_Adam(c)``.
    The predicted limit direction of AdamProxy (and of Inc-Adam as beta2 -> 1) is the
    minimizer of ``P_Adam(c*)`` at the fixed point ``c*``.

    Parameters
    ----------
    data : Dataset or array_like of shape (n, d)
        A linearly separable dataset, or its signed samples as rows.
    tol : float, default 1e-8
        Stopping tolerance on ``||c^{k+1} - c^k||_1``, in (0, 2).
    max_iter : int, default 200
        Maximum number of applications of T, an integer >= 1. The iteration converges
        linearly: we measured a contraction of about 0.2 per iteration on 10 x 50 Gaussian
        data, and up to about 0.85 on small random data (up to ~100 iterations for
        tol = 1e-8).
    c0 : array_like of shape (n,), optional
        Starting weights, nonnegative with a positive sum (rescaled to the simplex). Default
        ``1/n`` (Algorithm 3).
    solver : str, default "CLARABEL"
    solver_options : dict, optional
        As in :func:`max_margin`.

    Returns
    -------
    FixedPointResult
        Fields ``c``, ``w`` (unit l_2 norm), ``iterations``, ``history``, ``residual``,
        ``support``, ``converged``.

    Raises
    ------
    TypeError, ValueError
        For invalid arguments or non-separable data, before any solve.
    ImportError
        If Clarabel is requested but not installed (``pip install clarabel``).
    SolverError
        If a solve of ``P_Adam(c)`` fails (the message gives the CVXPY status).

    Warns
    -----
    ConvergenceWarning
        If ``max_iter`` iterations do not meet ``tol``; the result then has
        ``converged=False``.

    Notes
    -----
    Paper Definition 4.6 (``P_Adam(c)``), Theorem 4.8 (the limit direction is ``w(c*)`` for a
    fixed point ``T(c*) = c*``) and Algorithm 3 (the iteration; the paper reports convergence
    within 20 iterations on its data, and no convergence guarantee is known).
    ``P_Adam(c)`` is compiled once as a DPP problem with ``s = sqrt(diag M(c))`` as a
    Parameter and re-solved for every ``c``; each dual is polished (exact KKT solve on the
    support), so T is evaluated to about 1e-13 and the residual is limited by ``tol``, not by
    the solver.

    The returned ``c`` is the last iterate ``c^K``; ``w``, ``support`` and ``residual =
    ||T(c^K) - c^K||_1`` come from one more solve of ``P_Adam(c^K)``, so they refer to the
    returned ``c`` exactly. At a fixed point, ``w`` satisfies Lemma 4.5:
    ``w ∝ sum_i c_i z_i / sqrt(sum_i c_i^2 z_i^2)`` (see ``fastbias.theory.lemma45_direction``).

    The dual ``lambda(c)`` is unique under the paper's Assumption 4.7 (linearly independent
    support vectors), which holds for data in general position with ``n <= d``; otherwise T
    uses the solver's choice of dual (for duplicated samples, an even split). The primal is
    unique when ``diag M(c) > 0``, which Assumption 2.2 (nonzero entries) guarantees; a
    coordinate that is zero in every sample gets ``w[k] = 0``. On GR
    data ``M(c)`` is a multiple of the identity and the fixed point is the l_2 max-margin
    direction (Example 4.9).

    Examples
    --------
    >>> import fastbias as fb
    >>> fp = fixed_point(fb.datasets.shifted_diagonal([1.0, 2.0, 3.0], delta=0.1))
    >>> fp.converged, fp.c.round(6).tolist()
    (True, [1.0, 0.0, 0.0])
    """
    tol = check_interval("tol", tol, 0.0, 2.0, "neither")
    max_iter = check_int("max_iter", max_iter, 1)
    problem = PAdamProblem(data, solver=solver, solver_options=solver_options)
    n = problem.n
    c = np.full(n, 1.0 / n) if c0 is None else _check_simplex_weights(c0, n, "c0")
    solution = problem._solve(c)
    history = []
    converged = False
    for _ in range(max_iter):
        c_next = solution.T
        step = float(np.abs(c_next - c).sum())
        history.append(step)
        c = c_next
        solution = problem._solve(c)
        if step < tol:
            converged = True
            break
    residual = float(np.abs(solution.T - c).sum())
    if not converged:
        warnings.warn(
            f"fixed_point did not converge in max_iter={max_iter} iterations: last step "
            f"||c^(k+1) - c^k||_1 = {history[-1]:.3e} >= tol = {tol:g}; returning the last "
            "iterate with converged=False.",
            ConvergenceWarning,
            stacklevel=2,
        )
    w = _unit(solution.w)
    return FixedPointResult(
        c=readonly(c),
        w=readonly(w),
        iterations=len(history),
        history=readonly(np.asarray(history)),
        residual=residual,
        support=solution.support,
        converged=converged,
    )
