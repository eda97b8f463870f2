"""Max-margin matrices of multiclass data: max, Frobenius, spectral, nuclear and l_1 norms.

Multiclass max margins (Fan et al. 2025, arXiv 2502.04664): for a matrix norm ``||.||`` the
max-margin problem is

    ``gamma* = max_{||W|| <= 1} min_{i, c != y_i} <W, A_ic>``,  ``A_ic = (e_{y_i} - e_c) x_i^T``,

so that ``<W, A_ic> = (W[y_i] - W[c]) . x_i``. It is solved as ``min ||W|| s.t. <W, A_ic> >= 1``
(as ``min 1/2 ||W||_F^2`` for the Frobenius norm), whose minimizer ``W*`` gives
``gamma* = 1 / ||W*||``, with CVXPY and, by default, Clarabel at tight tolerances. As for the
binary problem (:func:`fastbias.geometry.max_margin`), each answer carries a certificate that
does not trust the solver: the margin of the returned unit-norm ``W`` (a lower bound on
``gamma*``) and a weak-duality upper bound from the multipliers, ``||sum_ic dual_ic A_ic||_* /
sum(dual)`` with the dual norm ``||.||_*`` (max <-> l1 entrywise, fro <-> fro,
spectral <-> nuclear).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .datasets import MulticlassDataset, is_multiclass_separable
from .norms import check_matrix_norm
from .solvers import (
    ACCEPT_GAP,
    CLARABEL_OPTIONS,
    CLARABEL_OPTIONS_CONE,
    KKT_TOL,
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
)

__all__ = [
    "CLARABEL_OPTIONS_SDP",
    "MatrixMaxMarginResult",
    "max_margin_multiclass",
]

#: Clarabel tolerances for the spectral-norm problem (a semidefinite program): those of the
#: other conic problems, :data:`fastbias.solvers.CLARABEL_OPTIONS_CONE` (1e-10). At the 1e-12
#: of ``CLARABEL_OPTIONS`` Clarabel stops short on every SDP we tried and reports
#: "optimal_inaccurate". At 1e-10 it reports "optimal" on most problems (relative duality gap
#: of the result 1e-11 .. 1e-9) and "optimal_inaccurate" on degenerate ones, where the largest
#: singular value of the solution is repeated (gaps up to 2.4e-8 on the 85 Gaussian problems
#: we measured); those are accepted up to a gap of ``_ACCEPT_GAP_SDP = 1e-7``.
CLARABEL_OPTIONS_SDP = CLARABEL_OPTIONS_CONE

# A solution marked "optimal_inaccurate" is accepted only when its relative duality gap
# 1 - margin / margin_upper is at most ``ACCEPT_GAP`` (as in the binary code) ...
# ... or this one for the semidefinite program (spectral norm): interior-point methods lose
# accuracy on degenerate SDPs (see CLARABEL_OPTIONS_SDP), and 1e-9 would reject some of the
# problems we measured (gaps up to 2.4e-8).
_ACCEPT_GAP_SDP = 1e-7
# ... and up to this gap the SDP's answer is returned with an InaccurateSolutionWarning: its
# certificate bounds the error (Clarabel stops at gaps near 4e-7 on the digits problem, where
# every looser setting tried ends the same way and a first-order solver takes minutes).
_WARN_GAP_SDP = 1e-5
# The exact KKT solve of the Frobenius problem (polishing) needs the dense rows of the pairs
# with a positive multiplier; above this many entries (80 MB) the solver's answer is kept.
_POLISH_MAX_ENTRIES = 10**7
# Problems with more pairs (i, c) than this are solved on a working set of pairs (see
# _solve_with_working_set): on digits (16173 pairs) the last sets hold 2300 to 2600 pairs.
_WORKING_SET_MIN_PAIRS = 2000
_WORKING_SET_ROUNDS = 30
_WORKING_SET_TOL = 1e-12
# Pairs join the working set below margin 1 + slack: Clarabel stalls short of its
# tolerances on the linear programs over tight sets (relative gaps near 4e-8 on digits with
# 1e-6), less often with some inactive pairs (0.3); the QP and the SDP do best on tight sets.
_WORKING_SET_SLACK = {"max": 0.3, "l1": 0.3, "fro": 1e-6, "spectral": 1e-6, "nuclear": 1e-6}
#: The matrix norms whose problems are semidefinite programs.
_SDP_NORMS = ("spectral", "nuclear")


@dataclass(frozen=True, eq=False, repr=False)
class MatrixMaxMarginResult:
    """Solution of a multiclass max-margin problem (returned by :func:`max_margin_multiclass`).

    Attributes
    ----------
    w : ndarray of shape (k, d)
        A maximizer of ``min_{i, c != y_i} (W[y_i] - W[c]) . x_i`` over ``||W|| <= 1``, with
        ``||W|| = 1`` in ``norm``. Only the Frobenius maximizer is unique in general; for the
        other norms compare iterates by their normalized margin, not by cosine.
    margin : float
        ``min_{i, c != y_i} (w[y_i] - w[c]) . x_i`` of the returned ``w``
        (``data.margins(w).min()``): a certified lower bound on ``gamma*``.
    margin_upper : float
        Weak-duality upper bound on ``gamma*``:
        ``||sum_ic dual_ic A_ic||_* / sum(dual)`` with ``A_ic = (e_{y_i} - e_c) x_i^T`` and
        ``||.||_*`` the dual norm (l1 for max, max for l1, fro for fro, nuclear for spectral,
        spectral for nuclear).
        The relative gap ``1 - margin / margin_upper`` measures how well the problem was solved.
    dual : ndarray of shape (n, k)
        ``dual[i, c]`` is the Lagrange multiplier (>= 0) of ``<W, A_ic> >= 1``; 0 at
        ``c = y_i``. For ``"fro"`` they belong to ``min 1/2 ||W||_F^2``, so that
        ``sum_ic dual_ic A_ic = w / margin`` (the unnormalized solution) and they scale as
        ``1 / |X|^2``: they leave the float64 range (0 or inf) for data beyond about
        ``1e+-154``. For the other norms they belong to ``min ||W||``, so that
        ``sum(dual) = 1 / gamma*``, and they scale as ``1 / |X|``. ``margin_upper`` and
        ``support`` do not depend on the scale.
    support : ndarray of shape (m, 2), int64
        The pairs ``(i, c)`` with ``dual[i, c] > SUPPORT_RTOL * dual.max()``, in row-major
        order.
    norm : str
        ``"max"``, ``"fro"``, ``"spectral"``, ``"nuclear"`` or ``"l1"``.
    status : str
        CVXPY status of the solve (``"optimal"``, or ``"optimal_inaccurate"`` when the result
        passed the duality-gap check described in :func:`max_margin_multiclass`).
    """

    __repr__ = result_repr  # arrays summarized, not dumped

    w: np.ndarray
    margin: float
    margin_upper: float
    dual: np.ndarray
    support: np.ndarray
    norm: str
    status: str


def _constraint_pairs(y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i, c) with c != y_i, in row-major order (i first, then c)."""
    n = y.shape[0]
    i = np.repeat(np.arange(n, dtype=np.int64), k)
    c = np.tile(np.arange(k, dtype=np.int64), n)
    keep = c != y[i]
    return i[keep], c[keep]


def _kesler_matrix(X: np.ndarray, y: np.ndarray, k: int, i: np.ndarray, c: np.ndarray):
    """Sparse (m, k d) matrix whose row r is ``vec(A_{i_r c_r})`` (row-major vec of W).

    ``<W, A_ic> = (W[y_i] - W[c]) . x_i``: row r holds ``x_i`` in block ``y_i`` and ``-x_i``
    in block ``c`` (2 d nonzeros).
    """
    import scipy.sparse as sp

    m, d = i.size, X.shape[1]
    cols = np.arange(d, dtype=np.int64)
    rows = np.repeat(np.arange(m, dtype=np.int64), 2 * d)
    col_index = np.hstack([y[i][:, None] * d + cols, c[:, None] * d + cols])
    values = np.hstack([X[i], -X[i]])
    return sp.csr_array((values.ravel(), (rows, col_index.ravel())), shape=(m, k * d))


def _combination(X: np.ndarray, y: np.ndarray, dual: np.ndarray) -> np.ndarray:
    """``sum_ic dual_ic A_ic`` as a (k, d) matrix (``dual`` of shape (n, k), 0 at c = y_i).

    Row c collects ``x_i`` with weight ``sum_c' dual_ic'`` from the samples of class c and
    ``-dual_ic x_i`` from every sample.
    """
    n, k = dual.shape
    B = -dual.copy()
    B[np.arange(n), y] += dual.sum(axis=1)
    return B.T @ X


def _centering_basis(k: int) -> np.ndarray:
    """(k, k - 1) matrix with orthonormal columns spanning ``{v : sum(v) = 0}``."""
    Q, _ = np.linalg.qr(np.eye(k)[:, : k - 1] - 1.0 / k)
    return Q


def _dual_norm(V: np.ndarray, norm: str) -> float:
    """The dual of the matrix norm ``norm`` at V."""
    if norm == "max":
        return float(np.sum(np.abs(V)))
    if norm == "l1":
        return float(np.max(np.abs(V)))
    if norm == "fro":
        return float(np.linalg.norm(V))
    if norm == "nuclear":
        return float(np.linalg.norm(V, 2))  # spectral, dual of nuclear
    return float(np.sum(np.linalg.svd(V, compute_uv=False)))  # nuclear, dual of spectral


def _matrix_norm(W: np.ndarray, norm: str) -> float:
    if norm == "max":
        return float(np.max(np.abs(W)))
    if norm == "l1":
        return float(np.sum(np.abs(W)))
    if norm == "fro":
        return float(np.linalg.norm(W))
    if norm == "nuclear":
        return float(np.sum(np.linalg.svd(W, compute_uv=False)))
    return float(np.linalg.norm(W, 2))


def _solve_on(K, norm: str, k: int, d: int, solver: str, opts: dict, what: str):
    """``min ||W|| s.t. K vec(W) >= 1`` (``1/2 ||W||_F^2`` for fro): ``(vec(W), dual, status)``."""
    cp = import_cvxpy()
    if norm in _SDP_NORMS:
        # W = Q B with the columns of Q an orthonormal basis of 1^perp (W centered: 1^T W = 0).
        # No loss: centering W -> (I - 11^T/k) W changes no margin and, being an orthogonal
        # projection, increases no singular value (so neither ||W||_2 nor ||W||_*). It
        # removes the directions 1 v^T along which the margins are constant, and with them
        # much of the SDP's degeneracy (spectral: gaps up to 3e-7 without it, 2e-8 with it,
        # on the problems we measured).
        Q = _centering_basis(k)
        B = cp.Variable((k - 1, d))
        W = Q @ B
        # ||Q B|| = ||B|| for both (Q has orthonormal columns)
        objective = cp.sigma_max(B) if norm == "spectral" else cp.normNuc(B)
    else:
        W = cp.Variable((k, d))
        if norm == "fro":
            objective = 0.5 * cp.sum_squares(W)
        elif norm == "max":
            objective = cp.max(cp.abs(W))
        else:
            objective = cp.sum(cp.abs(W))
    constraint = K @ cp.vec(W, order="C") >= 1
    problem = cp.Problem(cp.Minimize(objective), [constraint])
    status = run_solver(problem, solver, opts, what)
    if W.value is None or constraint.dual_value is None:
        raise SolverError(
            f"{solver} returned no solution for the {what}: status {status!r}.", status
        )
    w_s = np.asarray(W.value, dtype=np.float64).reshape(k * d)
    lam_s = np.maximum(np.asarray(constraint.dual_value, dtype=np.float64).reshape(-1), 0.0)
    return w_s, lam_s, status


def _solve_with_working_set(
    Xs, y, k: int, K, norm: str, solver: str, opts: dict, what: str, whole: bool = False
):
    """The solution on every pair (i, c), found by solving on a working set of pairs.

    Problems with at most ``_WORKING_SET_MIN_PAIRS`` pairs are solved whole. Larger ones
    start from the pair of each sample with the smallest margin under the least-squares W of
    the one-hot targets; after each solve, the pairs outside the set whose margin is below
    ``1 + _WORKING_SET_SLACK[norm]`` join it, until none is below ``1 - _WORKING_SET_TOL``. The
    solution of the last set then satisfies every constraint, so it solves the whole
    problem, and its multipliers (0 outside the set) give the same weak-duality bound.
    """
    n, d = Xs.shape
    m = K.shape[0]
    if whole or m <= _WORKING_SET_MIN_PAIRS:
        return _solve_on(K, norm, k, d, solver, opts, what)
    targets = np.zeros((n, k))
    targets[np.arange(n), y] = 1.0
    W0 = np.linalg.lstsq(Xs, targets, rcond=None)[0].T
    first = np.argmin((K @ W0.reshape(-1)).reshape(n, k - 1), axis=1)
    in_set = np.zeros(m, dtype=bool)
    in_set[np.arange(n) * (k - 1) + first] = True
    for _ in range(_WORKING_SET_ROUNDS):
        w_s, lam_set, status = _solve_on(K[in_set], norm, k, d, solver, opts, what)
        margins = K @ w_s
        if not np.any(~in_set & (margins < 1.0 - _WORKING_SET_TOL)):
            lam_s = np.zeros(m)
            lam_s[in_set] = lam_set
            return w_s, lam_s, status
        in_set |= margins < 1.0 + _WORKING_SET_SLACK[norm]
    return _solve_on(K, norm, k, d, solver, opts, what)


def _polished(K, w_s, lam_s):
    """The Frobenius solution polished on its working set (kept if it verifies on every pair).

    :func:`fastbias.solvers.polish_qp` solves the KKT system exactly on the support; it
    needs the dense rows of the pairs with a positive multiplier, here at most
    ``_POLISH_MAX_ENTRIES`` entries.
    """
    rows = np.flatnonzero(lam_s > 0.0)
    if rows.size * K.shape[1] > _POLISH_MAX_ENTRIES:
        return w_s, lam_s
    polished = polish_qp(K[rows].toarray(), np.ones(K.shape[1]), lam_s[rows])
    if polished is None:
        return w_s, lam_s
    w_p, lam_rows = polished
    if np.min(K @ w_p) < 1.0 - KKT_TOL:
        return w_s, lam_s  # a pair outside the rows is violated: keep the solver's answer
    lam_p = np.zeros_like(lam_s)
    lam_p[rows] = lam_rows
    return w_p, lam_p


def max_margin_multiclass(
    data, norm: str = "fro", *, solver: str = "CLARABEL", solver_options=None
) -> MatrixMaxMarginResult:
    """Solve the multiclass max-margin problem ``max_{||W|| <= 1} min_{i, c != y_i} <W, A_ic>``.

    ``A_ic = (e_{y_i} - e_c) x_i^T``, so ``<W, A_ic> = (W[y_i] - W[c]) . x_i``. Solved as
    ``min ||W|| s.t. <W, A_ic> >= 1`` for every i and c != y_i (as ``min 1/2 ||W||_F^2`` for
    ``"fro"``) with CVXPY; the solution is returned normalized to unit norm.

    Parameters
    ----------
    data : MulticlassDataset
        Multiclass data (X, y) with k >= 2 classes. Must be linearly separable (some W has every
        margin > 0).
    norm : {"max", "fro", "spectral", "nuclear", "l1"}, default "fro"
        The matrix norm of W: ``"max"`` (largest absolute entry; a linear program), ``"fro"``
        (Frobenius; a quadratic program, the hard-margin multiclass SVM), ``"spectral"``
        (largest singular value; a semidefinite program), ``"nuclear"`` (sum of the
        singular values; a semidefinite program) or ``"l1"`` (sum of absolute entries; a
        linear program).
    solver : str, default "CLARABEL"
        CVXPY solver name; for ``"spectral"`` and ``"nuclear"`` it must support semidefinite
        cones (Clarabel
        and SCS do). Clarabel runs with the tolerances of
        :data:`fastbias.geometry.CLARABEL_OPTIONS` (1e-12), or :data:`CLARABEL_OPTIONS_SDP`
        (1e-10) for ``"spectral"``; other solvers run with their defaults.
    solver_options : dict, optional
        Extra keyword arguments for ``Problem.solve`` (override the defaults above).

    Returns
    -------
    MatrixMaxMarginResult
        Fields ``w`` (shape (k, d), unit norm), ``margin`` (``gamma*``, achieved by ``w``),
        ``margin_upper`` (dual bound), ``dual`` (shape (n, k)), ``support`` (pairs (i, c)),
        ``norm``, ``status``.

    Raises
    ------
    TypeError
        If ``data`` is not a MulticlassDataset, or ``solver`` / ``solver_options`` have the
        wrong type.
    ValueError
        If ``norm`` is not one of "fro", "l1", "max", "spectral", "nuclear", the solver is not
        installed, or the data are not linearly separable (checked with a linear program on
        Kesler's rows before any solve, unless the dataset already checked it).
    ImportError
        If Clarabel is requested but not installed (``pip install clarabel``).
    SolverError
        If the solver does not return an optimal solution; the message and ``.status`` give
        the CVXPY status name.

    Notes
    -----
    After Fan et al. (2025, arXiv 2502.04664): full-batch SignGD and Adam
    converge in direction to the max-norm max-margin matrix, normalized GD to the Frobenius
    one, spectral descent and Muon to the spectral-norm one; steepest descent in the
    Schatten-1 norm (``fb.SteepestDescent(norm="nuclear")``) to the nuclear-norm one.

    *Verification.* ``margin`` is the smallest margin of the returned unit-norm ``w``, so it
    never exceeds ``gamma*``; ``margin_upper = ||sum_ic dual_ic A_ic||_* / sum(dual)`` never
    falls below it (weak duality, for any multipliers >= 0). We measured relative gaps
    ``1 - margin / margin_upper`` of about 1e-15 for ``"fro"``, 1e-13 .. 1e-12 for ``"max"``
    and ``"l1"``, and 1e-11 .. 1e-9 for ``"spectral"`` (up to 2.4e-8 on degenerate problems,
    where the largest singular value of the solution is repeated; the SDP runs at the looser
    :data:`CLARABEL_OPTIONS_SDP`). For ``"fro"`` the solution is polished as in the binary
    code: the KKT system on the support is solved exactly and kept only when it verifies. A
    solution marked ``"optimal_inaccurate"`` by the solver is accepted only if its relative
    duality gap is at most 1e-9 (1e-7 for the SDP norms); otherwise SolverError is raised.

    *Non-uniqueness.* The Frobenius maximizer is unique, and lies in the span of the
    ``A_ic`` (its columns sum to zero). The max, l1, spectral and nuclear maximizers may not
    be unique; an interior-point solver then returns a point inside the optimal face. The
    spectral and nuclear problems are solved over centered matrices (``1^T W = 0``), which
    loses nothing (centering keeps every margin and increases no singular value) and is where
    the iterates of spectral descent and Muon from ``W0 = 0`` live (every gradient has
    ``1^T G = 0``).

    *Scale.* X is divided internally by a power of two near ``max |X|`` (exact), so the
    accuracy does not depend on the units of the data; ``w``, ``margin``, ``margin_upper``
    and ``dual`` are reported in the original units (``dual`` scales as ``1 / |X|^2`` for
    ``"fro"`` and ``1 / |X|`` otherwise; see :class:`MatrixMaxMarginResult`).

    The constraint matrix has ``n (k - 1)`` rows and ``k d`` columns with ``2 d`` nonzeros per
    row (sparse). The spectral norm uses a PSD cone of size ``k - 1 + d``, which dominates the
    cost for large d.

    Examples
    --------
    Three unit vectors at 120 degrees, one per class: by symmetry ``W* ∝ X``, and
    ``gamma* = 3/2 / sqrt(3) = sqrt(3) / 2`` in the Frobenius norm.

    >>> import numpy as np
    >>> from fastbias.datasets import MulticlassDataset
    >>> angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    >>> X = np.column_stack([np.cos(angles), np.sin(angles)])
    >>> mm = max_margin_multiclass(MulticlassDataset(X, [0, 1, 2]), "fro")
    >>> round(mm.margin ** 2, 9), mm.w.shape, mm.dual.shape
    (0.75, (3, 2), (3, 3))
    >>> bool(np.allclose(mm.w, X / np.sqrt(3)))
    True
    """
    if not isinstance(data, MulticlassDataset):
        raise TypeError(
            "data must be a fastbias.MulticlassDataset (features X and classes y); got "
            f"{type(data).__name__}. For binary data use fastbias.geometry.max_margin."
        )
    norm = check_matrix_norm(norm)
    sdp = norm in _SDP_NORMS
    solver, opts = solver_setup(
        solver, solver_options, CLARABEL_OPTIONS_SDP if sdp else CLARABEL_OPTIONS
    )
    X, y, k = data.X, data.y, data.k
    n, d = X.shape
    pairs_i, pairs_c = _constraint_pairs(y, k)
    scale = power_of_two_scale(X)
    Xs = X / scale  # exact: scale is a power of two
    K = _kesler_matrix(Xs, y, k, pairs_i, pairs_c)
    if not data.separability_checked and not is_multiclass_separable(X, y, k):
        raise ValueError(
            "data are not linearly separable (no W has (W[y_i] - W[c]) . x_i > 0 for every i "
            "and c != y_i); the multiclass max-margin problem has no solution."
        )

    what = f"multiclass {norm!r}-norm max-margin problem"
    accept = _ACCEPT_GAP_SDP if sdp else ACCEPT_GAP
    for whole in (False, True):
        w_s, lam_s, status = _solve_with_working_set(Xs, y, k, K, norm, solver, opts, what, whole)
        if norm == "fro":
            w_s, lam_s = _polished(K, w_s, lam_s)
        W_s = w_s.reshape(k, d)
        size = _matrix_norm(W_s, norm)
        if not (np.all(np.isfinite(W_s)) and size > 0):
            raise SolverError(
                f"{solver} returned an invalid solution for the {what}: status {status!r}.",
                status,
            )
        w_unit = W_s / size
        margin = float(np.min(data.margins(w_unit)))
        dual_s = np.zeros((n, k))
        dual_s[pairs_i, pairs_c] = lam_s
        total = dual_s.sum()
        # Both bounds in scaled units times `scale`: <W, A_ic(X)> = scale <W, A_ic(Xs)>.
        combined = _dual_norm(_combination(Xs, y, dual_s), norm)
        upper = float(combined / total * scale) if total > 0 else math.inf
        gap = 1.0 - margin / upper if upper > 0 else math.inf
        if status == "optimal" or gap <= accept or K.shape[0] <= _WORKING_SET_MIN_PAIRS:
            break  # else the working set's answer is not certified: solve the whole problem
    if status == "optimal_inaccurate" and not gap <= accept:
        if not (sdp and gap <= _WARN_GAP_SDP):
            raise SolverError(
                f"{solver} returned an inaccurate solution of the {what} (status {status!r}, "
                f"relative duality gap {gap:.2e}).",
                status,
            )
        warnings.warn(
            f"{solver} stopped short on the {what} (status {status!r}); the solution is "
            f"returned with its certificate: margin {margin:.10g} <= gamma* <= "
            f"{upper:.10g} (relative duality gap {gap:.2e}).",
            InaccurateSolutionWarning,
            stacklevel=2,
        )
    # Undo the scaling: W(X) = W(Xs) / scale, and the multipliers scale as 1/scale^2 for
    # 1/2 ||W||_F^2 (sum dual A_ic = W) and as 1/scale for ||W|| (sum dual = ||W||).
    with np.errstate(over="ignore", under="ignore"):
        dual = dual_s / scale / scale if norm == "fro" else dual_s / scale
    top = dual_s.max() if dual_s.size else 0.0
    support = np.argwhere(dual_s > SUPPORT_RTOL * top).astype(np.int64).reshape(-1, 2)
    return MatrixMaxMarginResult(
        w=readonly(w_unit),
        margin=margin,
        margin_upper=upper,
        dual=readonly(dual),
        support=readonly(support),
        norm=norm,
        status=status,
    )
