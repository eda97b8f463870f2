"""Shared plumbing of the convex solvers: CVXPY setup, tolerances, status checks, polishing.

Used by :mod:`fastbias.geometry` (l_p max margins, P_Adam(c), the fixed point) and
:mod:`fastbias.multiclass_geometry` (matrix-norm max margins).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import shown

__all__ = [
    "ACCEPT_GAP",
    "InaccurateSolutionWarning",
    "CLARABEL_OPTIONS",
    "CLARABEL_OPTIONS_CONE",
    "KKT_TOL",
    "SUPPORT_RTOL",
    "SolverError",
    "import_cvxpy",
    "polish_qp",
    "power_of_two_scale",
    "readonly",
    "result_repr",
    "run_solver",
    "solver_setup",
    "support_of",
]

#: A constraint ``<w, z_i> >= 1`` counts as a support vector when its dual variable exceeds
#: ``SUPPORT_RTOL`` times the largest dual variable. At the tolerances used here an interior-point
#: solver leaves the duals of inactive constraints near 1e-13 (relative), far below this value.
SUPPORT_RTOL = 1e-9

#: Clarabel tolerances for the linear and quadratic programs (l_1, l_2, l_inf, P_Adam(c)).
#: With Clarabel's defaults (1e-8), T(c) is only accurate to about 1e-7 in l_1: the fixed point
#: of Algorithm 3 then has a residual near 7e-8 when T is recomputed independently.
CLARABEL_OPTIONS = {
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-12,
    "tol_ktratio": 1e-10,
    "max_iter": 200,
}

#: Clarabel tolerances for general p (power cones), which cannot reach 1e-12 reliably.
CLARABEL_OPTIONS_CONE = {
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "tol_feas": 1e-10,
    "tol_ktratio": 1e-8,
    "max_iter": 200,
}

# A solution that the solver marks "optimal_inaccurate" is accepted only if it is verified:
# by the polishing step (quadratic problems) or by a relative duality gap below this value.
ACCEPT_GAP = 1e-9
# Feasibility slack allowed when verifying a polished KKT point (Z w >= 1 - KKT_TOL).
KKT_TOL = 1e-10


class SolverError(RuntimeError):
    """The convex solver did not return an optimal solution.

    Attributes
    ----------
    status : str
        The CVXPY status name (for example ``"user_limit"`` or ``"solver_error"``).
    """

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


class InaccurateSolutionWarning(UserWarning):
    """A solution is returned whose certified relative duality gap is small but not tiny.

    The solver stopped short of its tolerances ("optimal_inaccurate"); the answer is kept
    because its certificate (the margin of the returned unit-norm solution, a lower bound,
    and the weak-duality upper bound) shows how far from optimal it can be, at most the gap
    named in the message.
    """


def result_repr(result) -> str:
    """A result dataclass's repr with its arrays summarized (shape, dtype) instead of dumped."""
    import dataclasses

    parts = []
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, np.ndarray):
            shape = "x".join(str(s) for s in value.shape)
            parts.append(f"{field.name}=<{shape} {value.dtype}>")
        else:
            parts.append(f"{field.name}={value!r}")
    return f"{type(result).__name__}({', '.join(parts)})"


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only copy of an array (results are immutable)."""
    a = np.array(a, dtype=a.dtype, copy=True)
    a.flags.writeable = False
    return a


def power_of_two_scale(Z: np.ndarray) -> float:
    """A power of two close to max |Z|, so that dividing by it is exact."""
    _, e = np.frexp(np.max(np.abs(Z)))
    return float(np.ldexp(1.0, int(e)))


# --------------------------------------------------------------------------------------------
# Solver plumbing
# --------------------------------------------------------------------------------------------


def import_cvxpy():
    """CVXPY, imported when a solver is first needed (it is slow to import)."""
    import cvxpy as cp

    return cp


def solver_setup(solver, solver_options, defaults: dict) -> tuple[str, dict]:
    """The solver's name and options: Clarabel's tight defaults, updated by the caller's."""
    cp = import_cvxpy()
    if not isinstance(solver, str):
        raise TypeError(
            f"solver must be a CVXPY solver name such as 'CLARABEL'; got {shown(solver)}."
        )
    name = solver.upper()
    installed = cp.installed_solvers()
    if name not in installed:
        if name == "CLARABEL":
            raise ImportError(
                "the Clarabel solver is not installed; install it with `pip install clarabel`, or "
                f"pass solver= one of the installed CVXPY solvers {sorted(installed)} (with "
                "solver_options giving tight tolerances, since results are checked to ~1e-9)."
            )
        raise ValueError(
            f"solver must be one of the installed CVXPY solvers {sorted(installed)}; "
            f"got {shown(solver)}."
        )
    if solver_options is None:
        solver_options = {}
    if not isinstance(solver_options, dict):
        raise TypeError(f"solver_options must be a dict or None; got {shown(solver_options)}.")
    opts = dict(defaults) if name == "CLARABEL" else {}
    opts.update(solver_options)
    return name, opts


def run_solver(problem, solver: str, opts: dict, what: str) -> str:
    """Solve, translating failures into SolverError; return the status name."""
    cp = import_cvxpy()
    with warnings.catch_warnings():
        # Inaccurate solutions are verified (or rejected) by the caller.
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        try:
            problem.solve(solver=solver, **opts)
        except cp.error.SolverError as exc:
            raise SolverError(
                f"{solver} failed on the {what}: status 'solver_error' ({exc})", "solver_error"
            ) from None
    status = problem.status
    if status not in ("optimal", "optimal_inaccurate"):
        raise SolverError(
            f"{solver} did not solve the {what}: status {status!r}. Try solver_options with a "
            "larger max_iter, or another solver.",
            status,
        )
    return status


def support_of(dual: np.ndarray) -> np.ndarray:
    """Indices of the support vectors: duals above ``SUPPORT_RTOL`` times the largest."""
    top = dual.max() if dual.size else 0.0
    return np.flatnonzero(dual > SUPPORT_RTOL * top).astype(np.int64)


def polish_qp(Z: np.ndarray, m: np.ndarray, dual: np.ndarray):
    """Exact KKT solution of ``min 1/2 sum_k m_k w_k^2 s.t. Z w >= 1`` on a guessed support.

    Stationarity gives ``w = Z^T lam / m``; on the support S, ``Z_S w = 1`` is the linear system
    ``(Z_S diag(1/m) Z_S^T) lam_S = 1``. The result is accepted only if it is a KKT point
    (``lam_S > 0``, ``Z w >= 1 - 1e-10``); constraints found violated join S (at most three
    rounds). Returns ``(w, lam)`` or None (then the caller keeps the solver's values).
    """
    free = m == 0
    if np.any(Z[:, free] != 0):
        return None  # an unpenalized coordinate that matters: the minimizer is not unique
    # Coordinates with m_k = 0 have z_i[k] = 0 for every i: they do not enter the problem,
    # and w_k = 0 there (the 0/0 rule of Lemma 4.5).
    keep = ~free
    Zk, mk = Z[:, keep], m[keep]
    n = Z.shape[0]
    S = support_of(dual)
    for _ in range(3):
        if S.size == 0:
            return None
        ZS = Zk[S]
        K = (ZS / mk) @ ZS.T
        try:
            lam_S = np.linalg.solve(K, np.ones(S.size))
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(lam_S)) or np.any(lam_S <= 0):
            return None
        w = np.zeros(Z.shape[1])
        w[keep] = (ZS.T @ lam_S) / mk
        margins = Z @ w
        if np.max(np.abs(margins[S] - 1.0)) > KKT_TOL:
            return None  # ill-conditioned system: keep the solver's answer
        violated = np.flatnonzero(margins < 1.0 - KKT_TOL)
        if violated.size == 0:
            lam = np.zeros(n)
            lam[S] = lam_S
            return w, lam
        S = np.union1d(S, violated)
    return None
