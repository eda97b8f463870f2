"""Analysis of runs (SPEC 12): gaps, rate fits, identify, tables and plots.

The rate fit is checked against sequences of known exponent (exact without noise; with
Gaussian noise in log space its interval covers the truth at the nominal rate, by
simulation), identify against brute-force searches with independent margin computations and
against runs of optimizers whose limit geometry is known (SignGD: l_inf, normalized GD: l_2,
AdamProxy: the fixed point).
"""

import math
import subprocess
import sys

import numpy as np
import pytest

import fastbias as fb
from fastbias.analysis import METRICS, direction_gap, metric_values

# --------------------------------------------------------------------------------------------
# fit_rate on synthetic sequences
# --------------------------------------------------------------------------------------------

T = np.logspace(1, 8, 71)


@pytest.mark.parametrize("a", [0.25, 0.5, 1.0, 2.0, 3.7])
@pytest.mark.parametrize("C", [1e-3, 1.0, 50.0])
def test_fit_rate_recovers_a_noiseless_power_law_to_rounding(a, C):
    fit = fb.fit_rate(T, C * T**-a, model="power", tail=7)
    assert abs(fit.exponent - a) <= 1e-13 * max(1.0, a)
    assert fit.constant == pytest.approx(C, rel=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-14)
    assert fit.ci[0] <= fit.exponent <= fit.ci[1]
    assert fit.ci[1] - fit.ci[0] <= 1e-12
    assert (fit.n_used, fit.n_dropped, fit.window) == (71, 0, (10.0, 1e8))
    assert fit.predict(T) == pytest.approx(C * T**-a, rel=1e-11)


@pytest.mark.parametrize("a", [0.5, 1.0, 1.15, 2.0])
def test_fit_rate_recovers_a_noiseless_log_law_to_rounding(a):
    gap = 0.3 * np.log(T) ** -a
    fit = fb.fit_rate(T, gap, model="log", tail=(1e3, 1e8))
    assert abs(fit.exponent - a) <= 1e-12
    assert fit.constant == pytest.approx(0.3, rel=1e-11)
    assert fit.window == (1e3, 1e8) and fit.n_used == 51
    assert fit.predict(T[-1]) == pytest.approx(gap[-1], rel=1e-12)


def test_fit_rate_window_first_then_drops_counted():
    t = np.array([0.0, 1.0, 2.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6])
    gap = 2.0 * np.where(t > 0, t, 1.0) ** -1.0
    # default: two decades back from the largest t, [1e4, 1e6]
    fit = fb.fit_rate(t, gap)
    assert (fit.window, fit.n_used, fit.n_dropped) == ((1e4, 1e6), 3, 0)
    bad = gap.copy()
    bad[[4, 5, 6]] = [0.0, -1e-3, np.nan]  # t = 100, 1e3, 1e4: gap <= 0 and NaN
    fit = fb.fit_rate(t, bad, tail=(1.0, 1e6))
    # in the window: t = 1 ... 1e6 (8 records); dropped: 3 bad gaps
    assert (fit.n_used, fit.n_dropped, fit.window) == (5, 3, (1.0, 1e6))
    assert fit.exponent == pytest.approx(1.0, abs=1e-13)
    # the log model also drops t <= 1 (log log t undefined): t = 1 here, t = 0 is outside
    fit = fb.fit_rate(t, bad, model="log", tail=(1.0, 1e6))
    assert (fit.n_used, fit.n_dropped, fit.window) == (4, 4, (2.0, 1e6))
    # the power model drops t <= 0 inside the window
    fit = fb.fit_rate(t, gap, tail=(0.0, 10.0))
    assert (fit.n_used, fit.n_dropped) == (3, 1)
    gap_inf = gap.copy()
    gap_inf[-1] = np.inf
    assert fb.fit_rate(t, gap_inf, tail=3).n_dropped == 1


def test_fit_rate_needs_three_usable_records():
    t = np.array([1e3, 1e4, 1e5, 1e6])
    with pytest.raises(
        ValueError, match=r"at least 3 records .* got 2 \(3 in the window, 1 dropped"
    ):
        fb.fit_rate(t, [1.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="two distinct t"):
        fb.fit_rate([5.0, 5.0, 5.0], [1.0, 2.0, 3.0], tail=1)
    with pytest.raises(ValueError, match="got 0"):
        fb.fit_rate([0.5, 0.8, 1.0], [1.0, 1.0, 1.0], model="log", tail=(0.0, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(model="exp"), ValueError, "model must be one of"),
        (dict(model=2), TypeError, "model must be one of"),
        (dict(tail=0), ValueError, r"tail must be in \(0, inf\); got 0"),
        (dict(tail=-1.0), ValueError, "tail must be in"),
        (dict(tail=(1.0, 2.0, 3.0)), ValueError, r"tail must be a number of decades or \(t_min"),
        (dict(tail=(1e4, 1e3)), ValueError, "t_min <= t_max"),
        (dict(tail=("a", 1.0)), TypeError, r"tail\[0\] must be a real number"),
        (dict(tail="2"), TypeError, "tail must be a real number"),
        (dict(level=1.0), ValueError, r"level must be in \(0, 1\); got 1.0"),
    ],
)
def test_fit_rate_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        fb.fit_rate(T, T**-1.0, **kwargs)


def test_fit_rate_bad_arrays():
    with pytest.raises(ValueError, match=r"gap must have the shape of t, \(71,\); got \(70,\)"):
        fb.fit_rate(T, T[1:] ** -1.0)
    with pytest.raises(ValueError, match="t contains NaN at index 1"):
        fb.fit_rate([1.0, np.nan, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="t must be a 1-D array"):
        fb.fit_rate(T.reshape(1, -1), T.reshape(1, -1))


def _coverage(model: str, fits: int, n: int, rng) -> tuple[int, np.ndarray]:
    """Fits of noisy sequences: how many 95 % intervals hold the truth, and |error| / stderr."""
    covered = 0
    standardized = np.empty(fits)
    for i in range(fits):
        a = rng.uniform(0.2, 3.0)
        C = math.exp(rng.uniform(-3.0, 3.0))
        sigma = rng.uniform(0.01, 0.5)
        t = np.logspace(2, 2 + rng.uniform(1.0, 4.0), n)
        base = t if model == "power" else np.log(t)
        gap = C * base**-a * np.exp(sigma * rng.standard_normal(n))
        fit = fb.fit_rate(t, gap, model=model, tail=(t[0], t[-1]))
        assert fit.n_used == n
        covered += fit.ci[0] <= a <= fit.ci[1]
        standardized[i] = abs(fit.exponent - a) / fit.stderr
    return covered, standardized


@pytest.mark.parametrize("model", ["power", "log"])
def test_fit_rate_interval_covers_the_truth_at_its_nominal_rate(model):
    """2000 fits of 6 records each (4 degrees of freedom), log-normal noise of known a.

    The count of intervals that hold the truth is Binomial(2000, 0.95) if the interval is
    right: mean 1900, standard deviation 9.7. The test accepts 1900 +- 40 (4.1 standard
    deviations; a correct interval fails with probability 4e-5, and the seed is fixed).
    It cannot pass by accident: a normal-quantile interval (1.96 instead of the t
    quantile 2.78) would cover 88 % (about 1758), a 90 % or 99 % interval 1800 or 1980,
    and the check below shows the same fits would fail with the normal quantile.
    """
    from scipy import stats

    fits, n = 2000, 6
    covered, standardized = _coverage(model, fits, n, np.random.default_rng(20))
    assert abs(covered - 0.95 * fits) <= 40, covered
    # the same fits judged with the normal quantile fall far outside the tolerance
    z_covered = int(np.sum(standardized <= stats.norm.ppf(0.975)))
    assert z_covered < 0.95 * fits - 80, z_covered
    # and the standardized errors follow Student's t with n - 2 degrees of freedom
    assert stats.kstest(standardized, stats.halfnorm.cdf).pvalue < 1e-6
    folded_t = lambda x: 2.0 * stats.t.cdf(x, n - 2) - 1.0  # noqa: E731
    assert stats.kstest(standardized, folded_t).pvalue > 1e-3


def test_fit_rate_level():
    rng = np.random.default_rng(3)
    gap = T**-1.0 * np.exp(0.1 * rng.standard_normal(T.size))
    wide, narrow = fb.fit_rate(T, gap, level=0.99), fb.fit_rate(T, gap, level=0.5)
    assert wide.exponent == narrow.exponent
    assert wide.ci[0] < narrow.ci[0] < narrow.ci[1] < wide.ci[1]
    assert "99%" in repr(wide) and "n_used = 21" in repr(wide)


# --------------------------------------------------------------------------------------------
# Gaps of trajectories
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gaussian():
    return fb.datasets.gaussian(n=10, d=50, seed=0)


@pytest.fixture(scope="module")
def references(gaussian):
    return {
        "l2": fb.max_margin(gaussian, p=2),
        "linf": fb.max_margin(gaussian, p="inf"),
        "fp": fb.fixed_point(gaussian),
    }


@pytest.fixture(scope="module")
def signgd_run(gaussian):
    return fb.simulate(gaussian, fb.SignGD(), epochs=10**4, record=10)


def test_direction_gap_is_one_minus_cosine_and_keeps_tiny_gaps():
    rng = np.random.default_rng(0)
    W, u = rng.standard_normal((5, 7)), rng.standard_normal(7)
    assert direction_gap(W, u) == pytest.approx(1.0 - fb.cosine(W, u), abs=1e-15)
    # 1 - cos(w, u) for w = (1, eps), u = (1, 0) is eps^2 / 2 - 3 eps^4 / 8 + ...
    for eps in (1e-3, 1e-9, 1e-150):
        exact = eps**2 / 2.0 - 3.0 * eps**4 / 8.0
        assert direction_gap([1.0, eps], [1.0, 0.0]) == pytest.approx(exact, rel=1e-12)
    assert 1.0 - fb.cosine([1.0, 1e-9], [1.0, 0.0]) == 0.0  # what the cosine would give
    # any scale, NaN at w = 0
    assert direction_gap(np.array([[3e300, 1e300], [0.0, 0.0]]), [3e-300, 1e-300]).tolist()[0] == 0
    assert np.isnan(direction_gap(np.zeros((2, 7)), u)).all()
    with pytest.raises(ValueError, match="u must be a nonzero direction"):
        direction_gap(W, np.zeros(7))
    with pytest.raises(ValueError, match=r"u must have the shape of one iterate, \(7,\)"):
        direction_gap(W, np.ones(6))


def test_trajectory_gaps(signgd_run, references):
    tr, linf = signgd_run, references["linf"]
    gap = tr.margin_gap("inf", linf)
    np.testing.assert_array_equal(gap, 1.0 - tr.margin_ratio("inf", linf))
    np.testing.assert_array_equal(gap, tr.margin_gap(np.inf, linf.margin))
    assert gap[-1] < 3e-3 and np.all(np.diff(gap[-20:]) < 0)
    dgap = tr.direction_gap(linf)
    np.testing.assert_allclose(dgap, 1.0 - tr.cosine(linf), rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(metric_values(tr, "margin_gap", linf), gap)
    np.testing.assert_array_equal(metric_values(tr, "direction_gap", linf.w), dgap)


def test_trajectory_fit_rate_is_fit_rate_of_its_gap(signgd_run, references):
    tr, linf = signgd_run, references["linf"]
    fit = tr.fit_rate("margin_gap", "inf", linf)
    direct = fb.fit_rate(tr.epochs, tr.margin_gap("inf", linf))
    assert (fit.exponent, fit.ci, fit.r2, fit.window) == (
        direct.exponent,
        direct.ci,
        direct.r2,
        direct.window,
    )
    assert fit.window == (100.0, 10000.0) and fit.n_used == 21
    # the norm can come from the result; the direction gap needs none
    assert tr.fit_rate("margin_gap", ref=linf, model="log").exponent == pytest.approx(
        fb.fit_rate(tr.epochs, tr.margin_gap("inf", linf), model="log").exponent, rel=1e-15
    )
    d = tr.fit_rate("direction_gap", ref=linf, tail=(1e3, 1e4))
    assert d.window == (1000.0, 10000.0) and d.exponent > 0


def test_trajectory_fit_rate_bad_arguments(signgd_run, references):
    tr = signgd_run
    with pytest.raises(ValueError, match="quantity must be one of"):
        tr.fit_rate("cosine", ref=references["l2"])
    with pytest.raises(TypeError, match="needs ref"):
        tr.fit_rate("margin_gap", "inf")
    with pytest.raises(TypeError, match="norm is for the margin metrics"):
        tr.fit_rate("direction_gap", 2, references["l2"])
    with pytest.raises(ValueError, match="a margin metric needs a norm"):
        tr.fit_rate("margin_gap", ref=references["fp"])
    with pytest.raises(ValueError, match="gamma_star is a max-margin result for the norm 2.0"):
        tr.fit_rate("margin_gap", "inf", references["l2"])
    with pytest.raises(ValueError, match="metric must be one of"):
        metric_values(tr, "loss", references["l2"])


# --------------------------------------------------------------------------------------------
# identify
# --------------------------------------------------------------------------------------------


def _brute_force_best_j(data, w):
    """The j maximizing gamma_p(w) / gamma_p* over 1/p = j / 100, from fb.normalized_margin."""
    ratios = []
    for j in range(101):
        p = math.inf if j == 0 else 100 / j
        ratios.append(fb.normalized_margin(data, w, p=p) / fb.max_margin(data, p=p).margin)
    return int(np.argmax(ratios)), ratios


def test_identify_search_finds_the_grid_maximum():
    data = fb.datasets.gaussian(n=6, d=12, seed=5)
    tr = fb.simulate(data, fb.NormalizedGD(), epochs=300)
    found = fb.identify(data, tr.w[-1], candidates=["l2"])
    j, ratios = _brute_force_best_j(data, tr.w[-1])
    assert found.best_ratio == pytest.approx(ratios[j], rel=1e-12)
    assert abs(round(100 / found.best_p) - j) <= 1  # within 0.01 in 1/p of the grid maximum
    assert found.solves <= 20  # a search, not a scan of the 101 values
    for p, ratio in found.profile:
        jp = 0 if p == math.inf else round(100 / p)
        assert ratio == pytest.approx(ratios[jp], rel=1e-12)


@pytest.mark.parametrize("p", [1.5, 3.0, 1.25])
def test_identify_names_the_p_of_an_lp_max_margin_direction(p):
    data = fb.datasets.gaussian(n=10, d=50, seed=1)
    found = fb.identify(data, fb.max_margin(data, p=p).w, candidates=[f"l{p:g}"])
    assert abs(1.0 / found.best_p - 1.0 / p) <= 0.01 + 1e-12
    assert found.best_ratio == pytest.approx(1.0, abs=2e-4)  # the grid point next to p
    assert found.table[0]["margin_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert found.table[0]["cosine"] == pytest.approx(1.0, abs=1e-9)
    assert found.decided and found.best in (f"l{p:g}", f"l{found.best_p:.4g}")


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_identify_names_the_p_of_a_steepest_descent_run(gaussian, p):
    """SPEC 12 asks for p within 0.05 in 1/p on a converged NSD run; it is within 0.01."""
    tr = fb.simulate(gaussian, fb.SteepestDescent(norm=p), epochs=1000, record=1)
    found = fb.identify(gaussian, tr)
    assert abs(1.0 / found.best_p - 1.0 / p) <= 0.01 + 1e-12


def test_identify_names_inf_for_signgd(gaussian):
    tr = fb.simulate(gaussian, fb.SignGD(), epochs=1000)
    found = fb.identify(gaussian, tr)
    assert found.best_p == math.inf and found.best == "linf" and found.decided
    assert found.best_ratio > 0.99
    assert found.table[0]["name"] == "linf"
    assert [row["name"] for row in found.table] == sorted(
        fb.analysis.BINARY_CANDIDATES,
        key=lambda name: -next(r["margin_ratio"] for r in found.table if r["name"] == name),
    )
    assert found.verdict.startswith("l_inf max margin: best p = inf")


def test_identify_names_2_for_normalized_gd(gaussian):
    long = fb.identify(gaussian, fb.simulate(gaussian, fb.NormalizedGD(), epochs=10**4))
    assert long.best_p == 2.0 and long.best == "l2" and long.decided
    assert long.table[0]["name"] == "l2"
    short = fb.identify(gaussian, fb.simulate(gaussian, fb.NormalizedGD(), epochs=1000))
    assert abs(1.0 / short.best_p - 0.5) <= 0.01 + 1e-12 and short.decided


def test_identify_cannot_decide_on_a_short_run(gaussian):
    found = fb.identify(gaussian, fb.simulate(gaussian, fb.NormalizedGD(), epochs=100))
    assert not found.decided
    assert found.ratio < 0.95
    assert found.verdict.startswith("undecided: no candidate is attained yet")


def test_identify_names_the_fixed_point_for_adam_proxy(gaussian, references):
    found = fb.identify(gaussian, fb.simulate(gaussian, fb.AdamProxy(), epochs=10**4))
    assert found.best == "fixed_point" and found.decided
    row = found.table[0]
    assert row["name"] == "fixed_point" and row["margin_ratio"] > found.best_ratio
    assert row["cosine"] > 0.999
    # the fixed point's ratio is 1 at its own direction, below 1 elsewhere
    at_fp = fb.identify(gaussian, references["fp"].w, candidates=["fixed_point"])
    assert at_fp.table[0]["margin_ratio"] == pytest.approx(1.0, abs=1e-12)


def test_identify_keeps_solutions_per_dataset_and_p():
    data = fb.datasets.gaussian(n=8, d=20, seed=41)
    tr = fb.simulate(data, fb.SignGD(), epochs=300, record=5)
    first = fb.identify(data, tr.w[-1])
    assert first.solves >= 12  # the table's six problems and the search's
    again = fb.identify(data, tr.w[-1])
    assert again.solves == 0
    assert (again.best_p, again.best_ratio, again.table) == (
        first.best_p,
        first.best_ratio,
        first.table,
    )
    # a record nearby: the coarse grid and the table are stored, a few refinement solves
    other = fb.identify(fb.datasets.gaussian(n=8, d=20, seed=41), tr.w[-5])
    assert other.solves <= 8


def test_identify_multiclass(tmp_path):
    mds = fb.datasets.gaussian_multiclass(n=30, d=50, k=3, seed=0)
    found = fb.identify(mds, fb.simulate(mds, fb.NormalizedGD(), epochs=10**4))
    names = {row["name"] for row in found.table}
    assert names == set(fb.analysis.MULTICLASS_CANDIDATES)
    assert {"max", "fro", "spectral", "l1"} <= names
    assert ("nuclear" in names) == ("nuclear" in fb.norms.MATRIX_NORMS)
    assert found.best_p == 2.0 and found.table[0]["name"] == "fro"
    # entrywise l_inf (1/p = 0) on Kesler's rows is the max-norm problem
    by_name = {row["name"]: row for row in found.table}
    assert found.profile[0][0] == math.inf
    assert found.profile[0][1] == pytest.approx(by_name["max"]["margin_ratio"], rel=1e-9)
    j2 = [ratio for p, ratio in found.profile if p == 2.0][0]
    assert j2 == pytest.approx(by_name["fro"]["margin_ratio"], rel=1e-9)


def test_identify_frame(gaussian, signgd_run):
    found = fb.identify(gaussian, signgd_run.w[-1], candidates=["l2", "linf"])
    frame = found.to_frame()
    assert list(frame.columns) == ["name", "cosine", "margin_ratio"]
    assert frame["name"].tolist() == ["linf", "l2"]
    assert frame["margin_ratio"].tolist() == [row["margin_ratio"] for row in found.table]
    assert repr(found).startswith("Identification(l_inf max margin")


def test_identify_bad_input(gaussian):
    w = np.ones(50)
    with pytest.raises(ValueError, match=r"w must have shape \(50,\)"):
        fb.identify(gaussian, np.ones(49))
    with pytest.raises(ValueError, match="w must be a nonzero iterate"):
        fb.identify(gaussian, np.zeros(50))
    with pytest.raises(ValueError, match="w contains NaN"):
        fb.identify(gaussian, np.full(50, np.nan))
    with pytest.raises(ValueError, match="candidates must name l_p max margins"):
        fb.identify(gaussian, w, candidates=["spectral"])
    with pytest.raises(ValueError, match=r"the p of candidate 'l0.5' must be in \[1, inf\]"):
        fb.identify(gaussian, w, candidates=["l0.5"])
    with pytest.raises(TypeError, match="candidates must be a list of names"):
        fb.identify(gaussian, w, candidates="l2")
    with pytest.raises(ValueError, match=r"tol must be in \(0, 1\); got 0"):
        fb.identify(gaussian, w, tol=0)
    with pytest.raises(TypeError, match="data must be a fastbias.Dataset"):
        fb.identify({"X": 1}, w)
    mds = fb.datasets.gaussian_multiclass(n=12, d=8, k=3, seed=0)
    with pytest.raises(ValueError, match="norm must be one of"):
        fb.identify(mds, np.ones((3, 8)), candidates=["linf"])


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def test_trajectory_to_frame(signgd_run, references):
    tr = signgd_run
    frame = tr.to_frame(references, metrics=("cosine", "margin_ratio", "margin_gap"), label="s")
    assert list(frame.columns) == [
        "run",
        "epoch",
        "log_loss",
        "min_margin",
        "norm_l2",
        "norm_linf",
        "cosine_l2",
        "margin_ratio_l2",
        "margin_gap_l2",
        "cosine_linf",
        "margin_ratio_linf",
        "margin_gap_linf",
        "cosine_fp",  # a fixed point has no norm of its own: the direction metrics only
    ]
    assert len(frame) == len(tr.epochs) and set(frame["run"]) == {"s"}
    np.testing.assert_array_equal(frame["epoch"], tr.epochs)
    np.testing.assert_array_equal(frame["log_loss"], tr.log_loss)
    np.testing.assert_array_equal(frame["min_margin"], tr.min_margin)
    np.testing.assert_array_equal(frame["norm_linf"], np.max(np.abs(tr.w), axis=1))
    np.testing.assert_array_equal(frame["cosine_fp"], tr.cosine(references["fp"]))
    np.testing.assert_array_equal(frame["margin_gap_l2"], tr.margin_gap(2, references["l2"]))
    plain = tr.to_frame()
    assert list(plain.columns) == ["epoch", "log_loss", "min_margin", "norm_l2", "norm_linf"]
    with pytest.raises(ValueError, match="metrics must be one of"):
        tr.to_frame(references, metrics=("cos",))
    with pytest.raises(ValueError, match="'margin_ratio' needs a max-margin reference"):
        tr.to_frame({"fp": references["fp"]}, metrics=["margin_ratio"])
    fp_only = tr.to_frame({"fp": references["fp"]})  # the default metrics: what applies
    assert list(fp_only.columns)[-1] == "cosine_fp"
    with pytest.raises(TypeError, match="references must be a dict"):
        tr.to_frame([references["l2"]])


def test_multiclass_trajectory_to_frame():
    mds = fb.datasets.gaussian_multiclass(n=12, d=8, k=3, seed=0)
    tr = fb.simulate(mds, fb.SignGD(), epochs=50)
    frame = tr.to_frame({"max": fb.max_margin(mds, norm="max")}, metrics="margin_ratio")
    assert list(frame.columns)[3:] == ["norm_max", "norm_fro", "norm_spectral", "margin_ratio_max"]
    # computed scaled (divided by max |W| first): equal to the direct norm up to rounding
    spectral = np.linalg.norm(tr.w, 2, axis=(1, 2))
    np.testing.assert_allclose(frame["norm_spectral"], spectral, rtol=1e-14)


def test_sweep_result_to_frame(gaussian):
    configs = fb.grid(data=gaussian, optimizer=[fb.SignGD(), fb.NormalizedGD()], epochs=[20, 0])
    result = fb.sweep(configs, executor="serial")
    frame = result.to_frame()
    assert list(frame.columns) == list(result.columns)
    assert len(frame) == len(result.table) == 4
    assert frame["status"].tolist() == ["ok", "error", "ok", "error"]
    assert frame["error_type"].tolist()[1] == "ValueError"
    for row, (_, frow) in zip(result.table, frame.iterrows(), strict=True):
        for name in result.columns:
            value = row[name]
            if value is None:
                assert frow[name] is None or np.isnan(frow[name])
            else:
                assert frow[name] == value


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def test_plot_trajectories(gaussian, signgd_run, references):
    from matplotlib.axes import Axes

    runs = {"SignGD": signgd_run, "NGD": fb.simulate(gaussian, fb.NormalizedGD(), epochs=1000)}
    ax = fb.plot_trajectories(runs, references["linf"], "margin_gap")
    assert isinstance(ax, Axes) and ax.figure is not None
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["SignGD", "NGD"]
    x, y = lines[0].get_data()
    keep = (signgd_run.epochs > 0) & (signgd_run.margin_gap("inf", references["linf"]) > 0)
    np.testing.assert_array_equal(x, signgd_run.epochs[keep])
    np.testing.assert_array_equal(y, signgd_run.margin_gap("inf", references["linf"])[keep])
    assert ax.get_ylabel() == METRICS["margin_gap"].label
    # several metrics on the same axes; a cosine has a linear y axis and a line at 1
    ax2 = signgd_run.plot(references["fp"], "cosine", label="fp", linewidth=2)
    assert ax2.get_yscale() == "linear" and ax2.get_lines()[0].get_linewidth() == 2
    assert ax2.get_lines()[0].get_label() == "fp"
    same = signgd_run.plot(references["l2"], ax=ax2, label="l2")
    assert same is ax2 and len(ax2.get_lines()) == 3  # two curves and the line at 1
    first, _, second = ax2.get_lines()
    assert first.get_color() != second.get_color()  # the Axes' color cycle goes on
    # default labels: the optimizers' names
    ax3 = fb.plot_trajectories([signgd_run], references["linf"].margin, "margin_ratio", norm="inf")
    assert ax3.get_lines()[0].get_label() == "SignGD"


def test_plot_trajectories_bad_input(signgd_run, references):
    with pytest.raises(TypeError, match="trajectories must be a Trajectory or a non-empty list"):
        fb.plot_trajectories([], references["l2"])
    with pytest.raises(TypeError, match="trajectories must be a Trajectory"):
        fb.plot_trajectories([signgd_run.w], references["l2"])
    with pytest.raises(ValueError, match=r"labels must give one label per run \(1\); got 2"):
        fb.plot_trajectories(signgd_run, references["l2"], labels=["a", "b"])
    with pytest.raises(ValueError, match="metric must be one of"):
        fb.plot_trajectories(signgd_run, references["l2"], "ratio")


def test_no_pyplot_state():
    code = (
        "import sys, fastbias as fb\n"
        "ds = fb.datasets.gaussian(n=4, d=6, seed=0)\n"
        "fb.simulate(ds, fb.SignGD(), epochs=10).plot(fb.max_margin(ds, p=2))\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


def test_identify_names_a_candidate_the_search_on_p_cannot_tell_apart():
    """Multiclass SignGD after 3e4 epochs: best p = 100 on the grid, one step from l_inf."""
    mds = fb.datasets.gaussian_multiclass(n=30, d=50, k=3, seed=0)
    found = fb.identify(mds, fb.simulate(mds, fb.SignGD(), epochs=30000, record=1))
    assert found.best_p == 100.0 and found.best_ratio > found.table[0]["margin_ratio"]
    assert found.best == "max" and found.ratio == found.table[0]["margin_ratio"]
    assert found.verdict.startswith("'max': margin ratio")
