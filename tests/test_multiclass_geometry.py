"""Multiclass max-margin matrices (SPEC 9), checked against references that do not use CVXPY.

- ``"max"`` and ``"l1"``: linear programs written out here and solved with SciPy's HiGHS.
- ``"fro"``: the dual QP ``min 1/2 ||K^T lam||^2 - sum(lam)``, ``lam >= 0``, solved exactly by
  NNLS (Lawson-Hanson): with ``K b = 1`` it equals ``1/2 ||K^T lam - b||^2`` up to a constant.
- ``"spectral"``: the dual certificate, recomputed from the returned multipliers with the
  nuclear norm (``np.linalg.svd``), must meet the margin of the returned ``w``.
- Closed forms: k = 2 against the binary l_p max margin, the identity data ``X = I_3`` and
  three unit vectors at 120 degrees.

``K`` is the matrix of Kesler rows ``vec(A_ic)``, ``A_ic = (e_{y_i} - e_c) x_i^T``, built here
with plain loops.
"""

import math

import numpy as np
import pytest
from scipy.optimize import linprog, nnls

import fastbias.multiclass_geometry as mg
from fastbias.datasets import Dataset, MulticlassDataset, gaussian_multiclass
from fastbias.geometry import SUPPORT_RTOL, SolverError, max_margin
from fastbias.geometry import cosine as mg_cosine
from fastbias.multiclass_geometry import MatrixMaxMarginResult, max_margin_multiclass

NORMS = ["max", "fro", "spectral", "l1"]
REL = 1e-6  # accuracy required against the independent references

# --------------------------------------------------------------------------------------------
# Naive references (loops, no CVXPY)
# --------------------------------------------------------------------------------------------


def kesler(ds):
    """Rows vec(A_ic) for every i and c != y_i (row-major vec), with the pairs (i, c)."""
    rows, pairs = [], []
    for i in range(ds.n):
        for c in range(ds.k):
            if c == ds.y[i]:
                continue
            A = np.zeros((ds.k, ds.d))
            A[ds.y[i]] += ds.X[i]
            A[c] -= ds.X[i]
            rows.append(A.ravel())
            pairs.append((i, c))
    return np.array(rows), np.array(pairs)


def naive_margin(ds, W):
    return min(
        float((W[ds.y[i]] - W[c]) @ ds.X[i])
        for i in range(ds.n)
        for c in range(ds.k)
        if c != ds.y[i]
    )


def matrix_norm(W, norm):
    return {
        "max": lambda: np.max(np.abs(W)),
        "l1": lambda: np.sum(np.abs(W)),
        "fro": lambda: np.sqrt(np.sum(W * W)),
        "spectral": lambda: np.linalg.svd(W, compute_uv=False)[0],
    }[norm]()


def dual_norm(V, norm):
    return {
        "max": lambda: np.sum(np.abs(V)),
        "l1": lambda: np.max(np.abs(V)),
        "fro": lambda: np.sqrt(np.sum(V * V)),
        "spectral": lambda: np.sum(np.linalg.svd(V, compute_uv=False)),  # nuclear
    }[norm]()


def combination(ds, dual):
    """sum_ic dual_ic A_ic, term by term."""
    V = np.zeros((ds.k, ds.d))
    for i in range(ds.n):
        for c in range(ds.k):
            if c != ds.y[i]:
                V[ds.y[i]] += dual[i, c] * ds.X[i]
                V[c] -= dual[i, c] * ds.X[i]
    return V


_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def gamma_max_linprog(ds):
    """1 / min{t : K w >= 1, -t <= w <= t} (HiGHS)."""
    K, _ = kesler(ds)
    m, p = K.shape
    eye = np.eye(p)
    A = np.block([[-K, np.zeros((m, 1))], [eye, -np.ones((p, 1))], [-eye, -np.ones((p, 1))]])
    b = np.r_[-np.ones(m), np.zeros(2 * p)]
    res = linprog(
        np.r_[np.zeros(p), 1.0],
        A_ub=A,
        b_ub=b,
        bounds=[(None, None)] * (p + 1),
        method="highs",
        options=_HIGHS,
    )
    assert res.status == 0, res.message
    return 1.0 / res.fun


def gamma_l1_linprog(ds):
    """1 / min{sum(u + v) : K (u - v) >= 1, u, v >= 0} (HiGHS)."""
    K, _ = kesler(ds)
    p = K.shape[1]
    res = linprog(
        np.ones(2 * p),
        A_ub=np.hstack([-K, K]),
        b_ub=-np.ones(K.shape[0]),
        bounds=[(0, None)] * (2 * p),
        method="highs",
        options=_HIGHS,
    )
    assert res.status == 0, res.message
    return 1.0 / res.fun


def fro_nnls(ds):
    """Frobenius max margin and its maximizer from the dual QP, solved by NNLS.

    ``min_{lam >= 0} 1/2 ||K^T lam||^2 - sum(lam)``; for b with ``K b = 1`` (K has full row
    rank here) this is ``1/2 ||K^T lam - b||^2 - 1/2 ||b||^2``. Then ``W* = K^T lam`` and
    ``gamma* = 1 / ||W*||_F``.
    """
    K, _ = kesler(ds)
    b = np.linalg.lstsq(K, np.ones(K.shape[0]), rcond=None)[0]
    assert np.allclose(K @ b, 1.0, atol=1e-12), "K must have full row rank for this reference"
    lam, _ = nnls(K.T, b, maxiter=50 * K.shape[0])
    W = (K.T @ lam).reshape(ds.k, ds.d)
    assert naive_margin(ds, W) >= 1 - 1e-10  # the KKT point is primal feasible
    return 1.0 / np.linalg.norm(W), W / np.linalg.norm(W)


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ds3():
    return gaussian_multiclass(n=30, d=50, k=3, seed=0)


@pytest.fixture(scope="module")
def ds5():
    return gaussian_multiclass(n=30, d=50, k=5, seed=0)


@pytest.fixture(scope="module")
def solved(ds3, ds5):
    """Every norm on both datasets, solved once."""
    return {
        (name, norm): max_margin_multiclass(ds, norm)
        for name, ds in (("ds3", ds3), ("ds5", ds5))
        for norm in NORMS
    }


def _rel(a, b):
    return abs(a - b) / abs(b)


# --------------------------------------------------------------------------------------------
# The certificate of every result
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ds3", "ds5"])
@pytest.mark.parametrize("norm", NORMS)
def test_result_is_certified(solved, ds3, ds5, name, norm):
    ds = {"ds3": ds3, "ds5": ds5}[name]
    r = solved[name, norm]
    assert isinstance(r, MatrixMaxMarginResult)
    assert r.norm == norm and r.status in ("optimal", "optimal_inaccurate")
    assert r.w.shape == (ds.k, ds.d)
    assert matrix_norm(r.w, norm) == pytest.approx(1.0, rel=1e-12)
    # margin is the naive margin of the returned w
    assert r.margin == pytest.approx(naive_margin(ds, r.w), rel=1e-12)
    # margin_upper is the weak-duality bound of the returned dual, recomputed term by term
    upper = dual_norm(combination(ds, r.dual), norm) / r.dual.sum()
    assert r.margin_upper == pytest.approx(upper, rel=1e-10)
    assert r.margin <= r.margin_upper * (1 + 1e-12)
    assert _rel(r.margin, upper) <= (1e-7 if norm == "spectral" else 1e-9)


# --------------------------------------------------------------------------------------------
# Independent references per norm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ds3", "ds5"])
def test_max_matches_linprog(solved, ds3, ds5, name):
    ds = {"ds3": ds3, "ds5": ds5}[name]
    assert _rel(solved[name, "max"].margin, gamma_max_linprog(ds)) <= REL


@pytest.mark.parametrize("name", ["ds3", "ds5"])
def test_l1_matches_linprog(solved, ds3, ds5, name):
    ds = {"ds3": ds3, "ds5": ds5}[name]
    assert _rel(solved[name, "l1"].margin, gamma_l1_linprog(ds)) <= REL


@pytest.mark.parametrize("name", ["ds3", "ds5"])
def test_fro_matches_dual_qp(solved, ds3, ds5, name):
    ds = {"ds3": ds3, "ds5": ds5}[name]
    gamma, W = fro_nnls(ds)
    r = solved[name, "fro"]
    assert _rel(r.margin, gamma) <= REL
    np.testing.assert_allclose(r.w, W, atol=1e-8)  # the Frobenius maximizer is unique


@pytest.mark.parametrize("name", ["ds3", "ds5"])
def test_spectral_dual_certificate(solved, ds3, ds5, name):
    """Primal: ||w||_2 = 1 and its margin; dual: nuclear norm of sum dual A_ic; they meet."""
    ds = {"ds3": ds3, "ds5": ds5}[name]
    r = solved[name, "spectral"]
    assert np.linalg.norm(r.w, 2) == pytest.approx(1.0, rel=1e-12)
    lower = naive_margin(ds, r.w)
    V = combination(ds, r.dual)
    upper = np.sum(np.linalg.svd(V, compute_uv=False)) / r.dual.sum()
    assert lower <= upper * (1 + 1e-12)
    assert _rel(lower, upper) <= REL
    # the solution is centered (rows sum to zero), like every iterate of spectral descent
    np.testing.assert_allclose(r.w.sum(axis=0), 0.0, atol=1e-12)


def test_norms_order_consistently(solved):
    """||W||_max <= ||W||_2 <= ||W||_F <= ||W||_1, so gamma_l1 <= gamma_fro <= gamma_spec <= ..."""
    for name in ("ds3", "ds5"):
        g = {norm: solved[name, norm].margin for norm in NORMS}
        assert g["l1"] <= g["fro"] <= g["spectral"] <= g["max"]


# --------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------


def test_two_classes_reduce_to_binary():
    """k = 2: with u = W[1] - W[0] and z_i = +-x_i (+ for class 1), the margins are <u, z_i>.

    min ||W|| over W with W[1] - W[0] = u is attained at W = [-u/2, u/2]: ||W||_F =
    ||W||_2 = ||u||_2 / sqrt(2), ||W||_max = ||u||_inf / 2, ||W||_1 = ||u||_1 (for the last
    two by |a| + |a + u_j| >= |u_j| and max(|a|, |a + u_j|) >= |u_j| / 2). Hence
    gamma_fro = gamma_spec = sqrt(2) gamma_2, gamma_max = 2 gamma_inf, gamma_l1 = gamma_1, and
    the Frobenius maximizer is [-u*, u*] / sqrt(2).
    """
    ds = gaussian_multiclass(n=20, d=30, k=2, seed=1)
    Z = np.where(ds.y == 1, 1.0, -1.0)[:, None] * ds.X
    b2, b1, binf = (max_margin(Z, p) for p in (2, 1, math.inf))
    expected = {
        "fro": math.sqrt(2) * b2.margin,
        "spectral": math.sqrt(2) * b2.margin,
        "max": 2 * binf.margin,
        "l1": b1.margin,
    }
    for norm in NORMS:
        r = max_margin_multiclass(ds, norm)
        assert _rel(r.margin, expected[norm]) <= 1e-8, norm
    u = b2.w
    W = np.vstack([-u, u]) / math.sqrt(2)
    np.testing.assert_allclose(max_margin_multiclass(ds, "fro").w, W, atol=1e-10)
    # spectral: not unique (W + [v, v] with small v orthogonal to u has the same norm), but the
    # centered solution returned is exactly [-u, u] / sqrt(2)
    np.testing.assert_allclose(max_margin_multiclass(ds, "spectral").w, W, atol=1e-6)


@pytest.mark.filterwarnings("ignore::fastbias.datasets.ZeroEntryWarning")  # X has zeros
def test_identity_data_by_hand():
    """X = I_3, one sample per class: margin (i, c) is W[i, i] - W[c, i].

    max: W = 2 I - 11^T (entries +-1), gamma = 2. l1: summing the two margins of column i,
    2 gamma <= 2 W[i,i] - W[c,i] - W[c',i] <= 2 ||W[:, i]||_1, so gamma <= 1/3, attained only
    by W = I / 3. fro: W = a (3/2 I - 1/2 11^T) by symmetry, gamma = (a + a/2) / (a sqrt(3/2)) =
    1 / sqrt(2). spectral: W = I - 11^T / 3 has norm 1 and margin 1; equal duals give
    V ∝ 3 I - 11^T with nuclear norm / sum(dual) = 1, so gamma = 1.
    """
    ds = MulticlassDataset(np.eye(3), [0, 1, 2])
    expected = {"max": 2.0, "l1": 1.0 / 3.0, "fro": 1.0 / math.sqrt(2.0), "spectral": 1.0}
    results = {norm: max_margin_multiclass(ds, norm) for norm in NORMS}
    for norm in NORMS:
        assert results[norm].margin == pytest.approx(expected[norm], rel=1e-9), norm
        assert results[norm].margin_upper == pytest.approx(expected[norm], rel=1e-9), norm
    ones = np.ones((3, 3))
    np.testing.assert_allclose(results["max"].w, 2 * np.eye(3) - ones, atol=1e-9)
    np.testing.assert_allclose(results["l1"].w, np.eye(3) / 3, atol=1e-9)
    W = 1.5 * np.eye(3) - 0.5 * ones
    np.testing.assert_allclose(results["fro"].w, W / np.linalg.norm(W), atol=1e-12)


def test_three_unit_vectors_at_120_degrees():
    """x_c = (cos t_c, sin t_c), t_c = 90 + 120 c degrees: W* = a X by symmetry (rotation by
    120 degrees with a relabelling, and the reflection x -> (-x1, x2)). Margins 3a/2;
    ||X||_F = sqrt(3), ||X||_2 = sqrt(3/2) (X^T X = 3/2 I): gamma_fro = sqrt(3)/2,
    gamma_spec = sqrt(3/2)."""
    t = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    X = np.column_stack([np.cos(t), np.sin(t)])
    ds = MulticlassDataset(X, [0, 1, 2])
    fro = max_margin_multiclass(ds, "fro")
    spec = max_margin_multiclass(ds, "spectral")
    assert fro.margin == pytest.approx(math.sqrt(3) / 2, rel=1e-12)
    assert spec.margin == pytest.approx(math.sqrt(1.5), rel=1e-9)
    np.testing.assert_allclose(fro.w, X / math.sqrt(3), atol=1e-12)


# --------------------------------------------------------------------------------------------
# Scale invariance
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("factor", [1e-150, 1e150])
def test_scale_invariance(ds3, solved, norm, factor):
    """Scaled data: margins scale by the factor; the direction is the same where it is unique
    (fro), and is as good (same normalized margin on the original data) where it is not."""
    r = solved["ds3", norm]
    rs = max_margin_multiclass(MulticlassDataset(ds3.X * factor, ds3.y), norm)
    assert _rel(rs.margin, r.margin * factor) <= 1e-8
    assert _rel(rs.margin_upper, r.margin_upper * factor) <= 1e-8
    assert _rel(ds3.margins(rs.w).min(), r.margin) <= 1e-8
    assert np.all(np.isfinite(rs.dual))
    if norm == "fro":
        np.testing.assert_array_equal(rs.support, r.support)
        np.testing.assert_allclose(rs.w, r.w, atol=1e-8)
        # multipliers of 1/2 ||W||_F^2 scale as 1 / factor^2
        np.testing.assert_allclose(rs.dual * factor**2, r.dual, rtol=1e-8, atol=0)
    else:
        # multipliers of ||W|| scale as 1 / factor: sum(dual) = 1 / gamma*
        assert _rel(rs.dual.sum() * factor, r.dual.sum()) <= 1e-6


@pytest.mark.parametrize("norm", NORMS)
def test_power_of_two_scale_is_exact(ds3, solved, norm):
    """A power-of-two factor leaves the internally scaled problem bit for bit the same."""
    factor = 2.0**-500
    r = solved["ds3", norm]
    rs = max_margin_multiclass(MulticlassDataset(ds3.X * factor, ds3.y), norm)
    np.testing.assert_array_equal(rs.w, r.w)
    assert rs.margin == pytest.approx(r.margin * factor, rel=1e-15)
    power = 2 if norm == "fro" else 1
    np.testing.assert_allclose(rs.dual, r.dual / factor**power, rtol=1e-15, atol=0)


# --------------------------------------------------------------------------------------------
# Dual variables and support
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
def test_dual_layout_and_support(ds3, solved, norm):
    r = solved["ds3", norm]
    assert r.dual.shape == (ds3.n, ds3.k) and r.dual.dtype == np.float64
    assert np.all(r.dual >= 0)
    assert np.all(r.dual[np.arange(ds3.n), ds3.y] == 0)
    assert r.support.dtype == np.int64 and r.support.shape[1] == 2
    expected = np.argwhere(r.dual > SUPPORT_RTOL * r.dual.max())
    np.testing.assert_array_equal(r.support, expected)
    assert np.all(r.support[:, 1] != ds3.y[r.support[:, 0]])
    # complementary slackness: support pairs are active at the unnormalized solution w / margin
    i, c = r.support.T
    active = np.einsum("md,md->m", r.w[ds3.y[i]] - r.w[c], ds3.X[i]) / r.margin
    np.testing.assert_allclose(active, 1.0, atol=1e-6)
    for field in (r.w, r.dual, r.support):
        assert not field.flags.writeable


def test_fro_dual_reproduces_w(ds3, solved):
    """For 1/2 ||W||_F^2: sum_ic dual_ic A_ic = W* = w / margin."""
    r = solved["ds3", "fro"]
    np.testing.assert_allclose(combination(ds3, r.dual), r.w / r.margin, rtol=0, atol=1e-10)
    assert r.dual.sum() == pytest.approx(1.0 / r.margin**2, rel=1e-10)  # ||W*||^2 = sum(dual)


@pytest.mark.parametrize("norm", ["max", "l1", "spectral"])
def test_norm_duals_sum_to_inverse_margin(ds3, solved, norm):
    """For min ||W||: sum(dual) = ||W*|| = 1 / gamma* and ||sum dual A_ic||_* = 1."""
    r = solved["ds3", norm]
    assert r.dual.sum() == pytest.approx(1.0 / r.margin, rel=1e-7)
    assert dual_norm(combination(ds3, r.dual), norm) == pytest.approx(1.0, rel=1e-7)


# --------------------------------------------------------------------------------------------
# Bad input and solver failures
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::fastbias.datasets.ZeroEntryWarning")  # X has zeros
def test_rejects_binary_dataset_and_arrays(ds3):
    binary = Dataset(np.eye(2), [1.0, -1.0])
    with pytest.raises(TypeError, match=r"data must be a fastbias\.MulticlassDataset.*got Dataset"):
        max_margin_multiclass(binary)
    with pytest.raises(TypeError, match=r"MulticlassDataset.*got ndarray"):
        max_margin_multiclass(ds3.X)


@pytest.mark.parametrize("norm", ["trace", "inf", "Fro", 2, None])
def test_rejects_unknown_norm(ds3, norm):
    with pytest.raises(
        ValueError,
        match=r"norm must be one of \['fro', 'l1', 'max', 'nuclear', 'spectral'\]"
        rf".*got {norm!r}",
    ):
        max_margin_multiclass(ds3, norm)


@pytest.mark.filterwarnings("ignore::fastbias.datasets.ZeroEntryWarning")  # X has zeros
def test_rejects_non_separable_data():
    # sample 0 (class 0) and sample 1 (class 1) coincide: no W separates them
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ds = MulticlassDataset(X, [0, 1, 2], check_separable=False)
    for norm in NORMS:
        with pytest.raises(ValueError, match="data are not linearly separable"):
            max_margin_multiclass(ds, norm)


def test_rejects_bad_solver_arguments(ds3):
    with pytest.raises(TypeError, match="solver must be a CVXPY solver name"):
        max_margin_multiclass(ds3, solver=3)
    with pytest.raises(TypeError, match="solver_options must be a dict or None"):
        max_margin_multiclass(ds3, solver_options=[("max_iter", 3)])
    with pytest.raises(ValueError, match="solver must be one of the installed CVXPY solvers"):
        max_margin_multiclass(ds3, solver="NO_SUCH_SOLVER")


def test_iteration_limit_raises_solver_error(ds3):
    with pytest.raises(SolverError, match="status 'user_limit'") as info:
        max_margin_multiclass(ds3, "max", solver_options={"max_iter": 2})
    assert info.value.status == "user_limit"


def test_spectral_needs_an_sdp_solver(ds3):
    with pytest.raises(SolverError, match="HIGHS failed") as info:
        max_margin_multiclass(ds3, "spectral", solver="HIGHS")
    assert info.value.status == "solver_error"


def _fake_inaccurate(perturb):
    """A run_solver that solves properly, optionally spoils the primal, says "inaccurate"."""
    real = mg.run_solver

    def run(problem, solver, opts, what):
        real(problem, solver, opts, what)
        if perturb:
            var = problem.variables()[0]
            rng = np.random.default_rng(0)
            var.value = var.value * (1 + 1e-4 * rng.standard_normal(var.shape))
        return "optimal_inaccurate"

    return run


def test_inaccurate_solution_is_verified(ds3, monkeypatch):
    monkeypatch.setattr(mg, "run_solver", _fake_inaccurate(perturb=False))
    r = max_margin_multiclass(ds3, "max")
    assert r.status == "optimal_inaccurate"
    monkeypatch.setattr(mg, "run_solver", _fake_inaccurate(perturb=True))
    with pytest.raises(SolverError, match="relative duality gap") as info:
        max_margin_multiclass(ds3, "max")
    assert info.value.status == "optimal_inaccurate"


# --------------------------------------------------------------------------------------------
# Working sets, the multiclass separability check, certified answers with a warning
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
def test_working_set_solves_the_whole_problem(ds5, solved, norm, monkeypatch):
    """Solved on a working set of pairs (forced on a small problem), the answer is the same."""
    sizes = []
    real = mg._solve_on

    def recording(K, *args):
        sizes.append(K.shape[0])
        return real(K, *args)

    monkeypatch.setattr(mg, "_WORKING_SET_MIN_PAIRS", 0)
    monkeypatch.setattr(mg, "_solve_on", recording)
    r = max_margin_multiclass(ds5, norm)
    whole = solved["ds5", norm]
    assert sizes[0] == ds5.n < ds5.n * (ds5.k - 1)  # started from one pair per sample
    assert _rel(r.margin, whole.margin) <= REL
    assert naive_margin(ds5, r.w) == pytest.approx(r.margin, rel=1e-12)
    assert r.margin <= r.margin_upper and 1 - r.margin / r.margin_upper <= 1e-7
    if norm == "fro":  # the unique maximizer
        np.testing.assert_allclose(r.w, whole.w, atol=1e-7)


def _spoiled(scale):
    """A run_solver that solves, perturbs the primal by a relative ``scale``, says inaccurate."""
    real = mg.run_solver

    def run(problem, solver, opts, what):
        real(problem, solver, opts, what)
        var = problem.variables()[0]
        rng = np.random.default_rng(0)
        var.value = var.value * (1 + scale * rng.standard_normal(var.shape))
        return "optimal_inaccurate"

    return run


def test_spectral_answer_with_a_small_gap_is_returned_with_a_warning(ds3, monkeypatch):
    monkeypatch.setattr(mg, "run_solver", _spoiled(3e-7))
    with pytest.warns(mg.InaccurateSolutionWarning, match=r"relative duality gap") as record:
        r = max_margin_multiclass(ds3, "spectral")
    gap = 1 - r.margin / r.margin_upper
    assert 1e-7 < gap <= 1e-5
    assert f"{gap:.2e}" in str(record[0].message)
    assert naive_margin(ds3, r.w) == pytest.approx(r.margin, rel=1e-12)
    monkeypatch.setattr(mg, "run_solver", _spoiled(1e-3))
    with pytest.raises(SolverError, match="relative duality gap"):
        max_margin_multiclass(ds3, "spectral")
    monkeypatch.setattr(mg, "run_solver", _spoiled(3e-7))
    with pytest.raises(SolverError, match="relative duality gap"):  # LPs: no warning band
        max_margin_multiclass(ds3, "max")


def test_results_print_their_arrays_as_shapes(ds3, solved):
    text = repr(solved["ds3", "max"])
    assert text.startswith("MatrixMaxMarginResult(w=<3x50 float64>, margin=")
    assert "dual=<30x3 float64>" in text and "norm='max'" in text and "[" not in text
    binary = repr(max_margin(Dataset(np.eye(2) + 0.5, [1.0, -1.0]), p=2))
    assert binary.startswith("MaxMarginResult(w=<2 float64>, margin=") and "[" not in binary


def test_nuclear_max_margin_is_certified_and_bounded_by_the_other_norms():
    """Unit nuclear ball inside the unit spectral ball (||W||_2 <= ||W||_*), and ||W||_* <=
    sqrt(k - 1) ||W||_F on centered matrices (rank <= k - 1): gamma_spec >= gamma_nuc >=
    gamma_fro / sqrt(k - 1)."""
    data = gaussian_multiclass(n=10, d=20, k=4, seed=1)
    nuc = max_margin(data, norm="nuclear")
    assert 1.0 - nuc.margin / nuc.margin_upper < 1e-7  # certified (an SDP: 1e-7 accepted)
    assert np.sum(np.linalg.svd(nuc.w, compute_uv=False)) == pytest.approx(1.0, rel=1e-12)
    assert np.min(data.margins(nuc.w)) == pytest.approx(nuc.margin, rel=1e-12)
    spec = max_margin(data, norm="spectral")
    fro = max_margin(data, norm="fro")
    assert spec.margin >= nuc.margin * (1 - 1e-9)
    assert nuc.margin >= fro.margin / np.sqrt(data.k - 1) * (1 - 1e-9)


def test_with_two_classes_the_nuclear_problem_is_the_frobenius_one():
    """Centered W = [a; -a] has one singular value sqrt(2) |a|: nuclear = spectral = fro."""
    data = gaussian_multiclass(n=8, d=6, k=2, seed=3)
    nuc, fro = max_margin(data, norm="nuclear"), max_margin(data, norm="fro")
    assert nuc.margin == pytest.approx(fro.margin, rel=1e-7)
    assert mg_cosine(nuc.w.ravel(), fro.w.ravel()) > 1 - 1e-7


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_matrix_norms_at_any_scale(scale):
    """Closed forms of W = [[3, 4], [0, 0]] (one singular value 5) where squares overflow."""
    from fastbias.norms import norm_values

    W = np.array([[[3.0, 4.0], [0.0, 0.0]]]) * scale
    expected = {"max": 4.0, "l1": 7.0, "fro": 5.0, "spectral": 5.0, "nuclear": 5.0}
    for norm, value in expected.items():
        np.testing.assert_allclose(norm_values(W, norm, True), [value * scale], rtol=1e-15)
