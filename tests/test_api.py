"""Public API: datasets, schedules, optimizers, records, trajectories, errors, kernel hygiene."""

import importlib.metadata
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import JIT_DISABLED, separable_data

import fastbias as fb
from fastbias.simulate import record_epochs

# --- datasets ---------------------------------------------------------------------------


def test_labels_two_values_map_larger_to_plus_one():
    X, y = separable_data(6, 3, seed=0, labels=(3.0, 7.0))
    ds = fb.Dataset(X, y)
    np.testing.assert_array_equal(ds.y, np.where(y == 7.0, 1.0, -1.0))
    np.testing.assert_array_equal(ds.Z, ds.y[:, None] * X)
    assert (ds.n, ds.d) == (6, 3)


def test_text_labels_map_the_later_one_to_plus_one():
    X, y = separable_data(6, 3, seed=0, labels=(3.0, 7.0))
    text = np.where(y == 7.0, "spam", "ham")
    np.testing.assert_array_equal(fb.Dataset(X, text).y, fb.Dataset(X, y).y)


def test_signed_labels_are_kept_even_with_one_class():
    ds = fb.datasets.shifted_diagonal([1.0, 2.0, 3.0], delta=0.5)
    np.testing.assert_array_equal(ds.y, 1.0)
    np.testing.assert_array_equal(ds.X, np.diag([1.0, 2.0, 3.0]) + 0.5)


def test_dataset_arrays_are_read_only():
    ds = fb.datasets.gaussian(n=3, d=4)
    with pytest.raises(ValueError, match="read-only"):
        ds.X[0, 0] = 1.0


@pytest.mark.parametrize(
    "X, y, exc, pattern",
    [
        ([[1.0, np.nan]], [1], ValueError, r"X contains NaN at row 0, column 1"),
        ([[1.0, np.inf]], [1], ValueError, r"X contains inf"),
        ([1.0, 2.0], [1, 1], ValueError, r"X must be a 2-D array"),
        ([[1.0], [2.0]], [1], ValueError, r"y must have one label per row of X"),
        ([[1.0], [2.0], [3.0]], [0, 1, 2], ValueError, r"exactly two distinct label values"),
        ([[1.0], [2.0]], [5, 5], ValueError, r"exactly two distinct label values"),
        ([[1.0], [1.0]], [1, -1], ValueError, r"not linearly separable"),
        ([["a"]], [1], TypeError, r"X must hold real numbers"),
        (np.zeros((0, 2)), [], ValueError, r"X must not be empty"),
    ],
)
def test_dataset_rejects_bad_input(X, y, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fb.Dataset(X, y)


def test_non_separable_allowed_on_request():
    ds = fb.Dataset([[1.0], [1.0]], [1, -1], check_separable=False)
    tr = fb.simulate(ds, fb.GD(), epochs=5, record=1)
    np.testing.assert_array_equal(tr.w[-1], 0.0)  # the two gradients cancel


def test_dataset_save_load_roundtrip(tmp_path):
    ds = fb.datasets.generalized_rademacher(n=4, d=6, seed=3)
    path = ds.save(tmp_path / "gr")
    assert path.name == "gr.npz"
    back = fb.Dataset.load(path)
    assert back == ds and back.fingerprint == ds.fingerprint
    assert fb.datasets.gaussian(n=4, d=6, seed=3).fingerprint != ds.fingerprint


def test_generators_are_seeded():
    a, b = fb.datasets.gaussian(seed=5), fb.datasets.gaussian(seed=5)
    assert a == b and a != fb.datasets.gaussian(seed=6)
    assert (a.n, a.d) == (10, 50)


# --- schedules and optimizers -------------------------------------------------------------


def test_polynomial_decay_rates():
    rates = fb.PolynomialDecay(0.2, 0.5).rates(7, 3)
    np.testing.assert_allclose(rates, 0.2 * np.array([9.0, 10.0, 11.0]) ** -0.5, rtol=1e-15)
    np.testing.assert_array_equal(fb.Constant(0.3).rates(0, 4), 0.3)


@pytest.mark.parametrize(
    "build, exc, pattern",
    [
        (lambda: fb.PolynomialDecay(0.0, 0.5), ValueError, r"eta0 must be in \(0, inf\); got 0.0"),
        (lambda: fb.PolynomialDecay(0.1, 1.5), ValueError, r"power must be in \(0, 1\]; got 1.5"),
        (lambda: fb.PolynomialDecay(0.1, 0.0), ValueError, r"power must be in \(0, 1\]"),
        (lambda: fb.Constant(-1), ValueError, r"eta must be in \(0, inf\)"),
        (lambda: fb.Constant("a"), TypeError, r"eta must be a real number"),
        (lambda: fb.IncAdam(beta2=1.0), ValueError, r"beta2 must be in \[0, 1\); got 1.0"),
        (lambda: fb.IncAdam(beta1=-0.1), ValueError, r"beta1 must be in \[0, 1\)"),
        (lambda: fb.IncAdam(batch_size=0), ValueError, r"batch_size must be an integer >= 1"),
        (lambda: fb.IncAdam(batch_size=1.5), TypeError, r"batch_size must be an integer"),
        (lambda: fb.IncAdam(sampling="random"), ValueError, r"sampling must be one of"),
        (lambda: fb.DetAdam(beta1=True), TypeError, r"beta1 must be a real number"),
        (lambda: fb.IncSignum(beta=1.0), ValueError, r"beta must be in \[0, 1\)"),
    ],
)
def test_parameter_objects_validate(build, exc, pattern):
    with pytest.raises(exc, match=pattern):
        build()


def test_optimizer_roundtrip_through_dict():
    from fastbias.optimizers import optimizer_from_dict
    from fastbias.schedules import schedule_from_dict

    for opt in [
        fb.IncAdam(0.8, 0.99, 3, "reshuffle"),
        fb.DetAdam(),
        fb.AdamProxy(),
        fb.IncSignum(0.9, 2, "replacement"),
        fb.SignGD(),
        fb.GD(),
        fb.NormalizedGD(),
    ]:
        assert optimizer_from_dict(opt.to_dict()) == opt
    for lr in [fb.PolynomialDecay(0.3, 0.7), fb.Constant(0.2)]:
        assert schedule_from_dict(lr.to_dict()) == lr


# --- simulate --------------------------------------------------------------------------


def test_record_epochs_is_a_fixed_log_grid():
    # 10**(j/3) = 1, 2.15, 4.64, 10, 21.5, 46.4, 100
    np.testing.assert_array_equal(record_epochs(3, 100), [1, 2, 5, 10, 22, 46, 100])
    np.testing.assert_array_equal(record_epochs(1, 7), [1])
    np.testing.assert_array_equal(record_epochs([0, 5, 5, 2, 30], 9), [0, 2, 5])
    assert record_epochs(200, 10).tolist() == list(range(1, 11))
    assert record_epochs(10**9, 1000).tolist() == list(range(1, 1001))


@pytest.mark.parametrize("k", [1, 7, 20, 50, 333, 5000])
def test_record_grid_equals_the_definition_and_does_not_depend_on_the_horizon(k):
    horizon = 10**6
    j = np.arange(int(np.floor(k * 6 + 1e-9)) + 1)
    direct = np.unique(np.rint(10.0 ** (j / k)).astype(np.int64))
    np.testing.assert_array_equal(record_epochs(k, horizon), direct[direct <= horizon])
    long = record_epochs(k, horizon)
    for shorter in [*range(1, 3000), 12345, 99999, 100000, 100001]:
        np.testing.assert_array_equal(record_epochs(k, shorter), long[long <= shorter])


GAUSS = fb.datasets.gaussian(n=5, d=8, seed=1)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(epochs=0), ValueError, r"epochs must be an integer >= 1; got 0"),
        (dict(epochs=2.5), TypeError, r"epochs must be an integer"),
        (dict(epochs=5, loss="hinge"), ValueError, r"loss must be one of \['exp', 'logistic'\]"),
        (dict(epochs=5, record=0), ValueError, r"record must be an integer >= 1; got 0"),
        (
            dict(epochs=10**13, record=10**12),
            ValueError,
            r"record=1000000000000 would keep up "
            r"to 10,000,000,000,000 iterates of "
            r"64 bytes: 5.96e\+05 GiB",
        ),
        (dict(epochs=5, record=[-1]), ValueError, r"record epochs must be >= 0; got -1"),
        (dict(epochs=5, record=[1.5]), TypeError, r"record must be a count per decade or"),
        (dict(epochs=5, seed=-1), ValueError, r"seed must be an integer >= 0"),
        (dict(epochs=5, w0=np.ones(3)), ValueError, r"w0 must have shape \(8,\); got \(3,\)"),
        (dict(epochs=5, w0=[np.nan] * 8), ValueError, r"w0 contains NaN"),
        (
            dict(epochs=5, lr=0.1),
            TypeError,
            r"lr must be a schedule, not a number: write "
            r"lr=fb.Constant\(0.1\)",
        ),
        (dict(epochs=5, lr="fast"), TypeError, r"lr must be a schedule such as"),
        (
            dict(epochs=5, progress="yes"),
            TypeError,
            r"progress must be True or False, or None for the default",
        ),
        (dict(epochs=5, checkpoint_every=0), ValueError, r"checkpoint_every must be in"),
    ],
)
def test_simulate_rejects_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fb.simulate(GAUSS, fb.IncAdam(), **kwargs)


def test_simulate_rejects_wrong_objects():
    with pytest.raises(TypeError, match="data must be a fastbias.Dataset"):
        fb.simulate(GAUSS.X, fb.IncAdam(), epochs=1)
    with pytest.raises(TypeError, match="optimizer must be a fastbias optimizer"):
        fb.simulate(GAUSS, "adam", epochs=1)
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, n\] = \[1, 5\]"):
        fb.simulate(GAUSS, fb.IncAdam(batch_size=6), epochs=1)


def test_diverging_gd_is_an_error():
    with pytest.raises(FloatingPointError, match=r"exact run diverges \(lr = Constant"):
        fb.simulate(GAUSS, fb.GD(), lr=fb.Constant(1e6), epochs=5, record=1)


def test_trajectory_contents_and_diagnostics():
    tr = fb.simulate(GAUSS, fb.IncAdam(), epochs=50, record=[0, 10, 50])
    np.testing.assert_array_equal(tr.epochs, [0, 10, 50])
    np.testing.assert_array_equal(tr.w[0], 0.0)
    np.testing.assert_allclose(tr.log_loss, fb.log_loss(GAUSS.Z, tr.w), rtol=1e-14)
    assert tr.log_loss[0] == 0.0  # L(0) = 1
    np.testing.assert_allclose(tr.min_margin, (tr.w @ GAUSS.Z.T).min(axis=1), rtol=1e-14)
    u = np.arange(8.0)
    cos = tr.cosine(u)
    assert np.isnan(cos[0])
    np.testing.assert_allclose(
        cos[1:], tr.w[1:] @ u / np.linalg.norm(tr.w[1:], axis=1) / np.linalg.norm(u), rtol=1e-14
    )
    ratio = tr.margin_ratio(np.inf, 2.0)
    np.testing.assert_allclose(ratio[1:], tr.min_margin[1:] / np.abs(tr.w[1:]).max(axis=1) / 2.0)
    with pytest.raises(ValueError, match=r"p must be in \[1, inf\]"):
        tr.margin_ratio(0.5, 1.0)
    with pytest.raises(ValueError, match=r"gamma_star must be in \(0, inf\)"):
        tr.margin_ratio(2, 0.0)
    mm = fb.max_margin(GAUSS, p=np.inf)
    np.testing.assert_array_equal(tr.margin_ratio("inf", mm), tr.margin_ratio(np.inf, mm.margin))
    with pytest.raises(ValueError, match="max-margin result for the norm inf; expected 2.0"):
        tr.margin_ratio(2, mm)
    with pytest.raises(ValueError, match=r"u must have shape \(8,\); got \(3,\)"):
        tr.cosine(np.ones(3))


def test_log_loss_is_finite_at_huge_margins():
    Z = np.array([[1.0, 0.0], [0.0, 1.0]])
    w = np.array([5000.0, 6000.0])
    assert fb.log_loss(Z, w, "exp") == pytest.approx(-5000.0 - np.log(2.0), rel=1e-15)
    assert fb.log_loss(Z, w, "logistic") == pytest.approx(-5000.0 - np.log(2.0), rel=1e-15)
    assert fb.log_loss(Z, -w, "logistic") == pytest.approx(np.log(5500.0), rel=1e-3)
    small = np.array([0.3, -0.2])
    direct = np.log(np.mean(np.log1p(np.exp(-(Z @ small)))))
    assert fb.log_loss(Z, small, "logistic") == pytest.approx(direct, rel=1e-14)


def test_trajectory_save_load_roundtrip(tmp_path):
    tr = fb.simulate(
        GAUSS,
        fb.IncSignum(batch_size=2, sampling="reshuffle"),
        epochs=20,
        loss="logistic",
        seed=3,
        record=4,
    )
    path = tr.save(tmp_path / "run.npz")
    back = fb.Trajectory.load(path)
    for name in ("epochs", "w", "log_loss", "min_margin"):
        np.testing.assert_array_equal(getattr(back, name), getattr(tr, name))
    assert back.params == tr.params
    assert back.params["optimizer"]["name"] == "IncSignum" and back.params["seed"] == 3
    assert back.params["data"] == GAUSS.fingerprint
    assert not list(tmp_path.glob("*.tmp"))


def test_trajectory_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="corrupt or not a fastbias trajectory"):
        fb.Trajectory.load(bad)
    GAUSS.save(tmp_path / "data.npz")
    with pytest.raises(ValueError, match="missing"):
        fb.Trajectory.load(tmp_path / "data.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fb.Trajectory.load(tmp_path / "nothing.npz")


def test_progress_bar_does_not_change_results():
    a = fb.simulate(GAUSS, fb.IncAdam(), epochs=30, record=2)
    b = fb.simulate(GAUSS, fb.IncAdam(), epochs=30, record=2, progress=True)
    np.testing.assert_array_equal(a.w, b.w)


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    import importlib
    import shutil

    sim = importlib.import_module("fastbias.checkpoints")

    opt = fb.IncAdam(batch_size=2, sampling="reshuffle")
    full = fb.simulate(GAUSS, opt, epochs=300, seed=9, record=7)
    ckpt = tmp_path / "ck.npz"
    # keep a copy of the state file as it was at the first checkpoint past epoch 100
    saves = []

    def save_and_keep(path, arrays):
        out = atomic_savez(path, arrays)
        epoch = int(arrays["counters"][0])
        if 100 <= epoch < 300 and not any(100 <= e < 300 for e in saves):
            shutil.copy(out, tmp_path / "mid.npz")
        saves.append(epoch)
        return out

    atomic_savez = sim.atomic_savez
    monkeypatch.setattr(sim, "atomic_savez", save_and_keep)
    # a checkpoint at every chunk, also where writing is slow (a loaded machine would space
    # them 20 write-times apart, past the end of this short run)
    monkeypatch.setattr(importlib.import_module("fastbias.simulate"), "_SLOW_WRITE", math.inf)
    part = fb.simulate(
        GAUSS,
        opt,
        epochs=300,
        seed=9,
        record=7,
        checkpoint=ckpt,
        chunk_epochs=37,
        checkpoint_every=1e-9,
    )
    monkeypatch.undo()
    np.testing.assert_array_equal(part.w, full.w)
    assert any(100 <= e < 300 for e in saves) and saves[-1] == 300
    resumed = fb.simulate(GAUSS, opt, epochs=300, seed=9, record=7, resume=tmp_path / "mid.npz")
    np.testing.assert_array_equal(resumed.w, full.w)
    np.testing.assert_array_equal(resumed.epochs, full.epochs)
    with pytest.raises(ValueError, match="belongs to a different run: seed differs"):
        fb.simulate(GAUSS, opt, epochs=300, seed=10, record=7, resume=ckpt)
    other = fb.datasets.gaussian(n=5, d=8, seed=2)
    with pytest.raises(ValueError, match="belongs to a different run: data differs"):
        fb.simulate(other, opt, epochs=300, seed=9, record=7, resume=ckpt)


def test_checkpoint_before_the_first_record(tmp_path):
    opt = fb.IncSignum()
    ckpt = tmp_path / "ck.npz"
    full = fb.simulate(GAUSS, opt, epochs=100, record=[100])
    fb.simulate(
        GAUSS,
        opt,
        epochs=100,
        record=[100],
        checkpoint=ckpt,
        chunk_epochs=30,
        checkpoint_every=1e-9,
    )
    assert np.load(ckpt)["rec_w"].shape == (1, 1, 8)
    resumed = fb.simulate(GAUSS, opt, epochs=100, record=[100], resume=ckpt)
    np.testing.assert_array_equal(resumed.w, full.w)


# --- import hygiene -----------------------------------------------------------------------

#: Libraries and fastbias modules that a run does not need: not imported by ``import
#: fastbias``, nor by a first simulation (the solvers, analysis and plots load them on use).
NOT_FOR_A_RUN = (
    "cvxpy",
    "clarabel",
    "pandas",
    "matplotlib",
    "tqdm",
    "hypothesis",
    "distributed",
    "scipy.optimize",
    "scipy.sparse",
    "scipy.stats",
    "fastbias.analysis",
    "fastbias.extend",
    "fastbias.geometry",
    "fastbias.multiclass_geometry",
    "fastbias.plotting",
    "fastbias.solvers",
    "fastbias.theory",
)


def _loaded_after(code):
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import fastbias",
        "import fastbias as fb\n"
        "ds = fb.datasets.gaussian(n=10, d=50, seed=0)\n"
        "fb.simulate(ds, fb.IncAdam(), epochs=10)",
    ],
    ids=["import", "first-simulate"],
)
def test_a_run_does_not_import_what_it_does_not_need(code):
    loaded = _loaded_after(code)
    assert "fastbias.simulate" in loaded  # the probe sees the package's modules
    assert sorted(loaded.intersection(NOT_FOR_A_RUN)) == []


def test_lazy_public_names_are_the_modules_objects():
    import fastbias.analysis
    import fastbias.extend
    import fastbias.geometry
    import fastbias.plotting
    import fastbias.theory

    assert fb.analysis is fastbias.analysis and fb.theory is fastbias.theory
    assert fb.extend is fastbias.extend
    for name in ("max_margin", "fixed_point", "cosine", "SolverError", "ConvergenceWarning"):
        assert getattr(fb, name) is getattr(fastbias.geometry, name)
    for name in ("fit_rate", "identify", "Identification", "RateFit"):
        assert getattr(fb, name) is getattr(fastbias.analysis, name)
    assert fb.plot_trajectories is fastbias.plotting.plot_trajectories
    assert callable(fb.sweep) and callable(fb.simulate)  # the functions, not their modules
    assert set(fb.__all__) <= set(dir(fb))
    assert all(hasattr(fb, name) for name in fb.__all__)
    assert fb.__version__ == importlib.metadata.version("fastbias")
    namespace = {}
    exec("from fastbias import *", namespace)
    assert namespace["max_margin"] is fastbias.geometry.max_margin
    with pytest.raises(AttributeError, match="module 'fastbias' has no attribute 'max_margn'"):
        fb.max_margn  # noqa: B018


# --- kernel hygiene -----------------------------------------------------------------------


def test_njit_only_in_the_jit_factory():
    root = pathlib.Path(fb.__file__).parent
    offenders = [
        p.name
        for p in root.rglob("*.py")
        if p.name != "_jit.py" and re.search(r"\bnjit\(|fastmath\s*=", p.read_text())
    ]
    assert offenders == []


@pytest.mark.skipif(JIT_DISABLED, reason="dispatchers are plain functions without the JIT")
def test_each_kernel_has_one_compiled_signature():
    from fastbias._kernels import schedule

    fb.simulate(
        GAUSS,
        fb.IncAdam(batch_size=2, sampling="replacement"),
        epochs=3,
        loss="logistic",
        w0=np.arange(8),
        record=[0, 1],
    )
    fb.simulate(GAUSS, fb.GD(), lr=fb.Constant(1), epochs=3, record=1)
    for cls, loss in ((fb.IncAdam, "logistic"), (fb.GD, "exp")):
        loop = cls.rule.loop(fb.losses.get_loss(loss))
        assert len(loop.signatures) == 1  # every batch size
    assert len(schedule.fill_learning_rates.signatures) == 1


@pytest.mark.filterwarnings("ignore::fastbias.datasets.ZeroEntryWarning")
@pytest.mark.parametrize("path", ["certificate", "linear program"])
def test_multiclass_separability_by_certificate_or_linear_program(path, monkeypatch):
    import fastbias.datasets as fd

    if path == "linear program":  # no certificate: the linear program decides alone
        monkeypatch.setattr(fd, "_separates", lambda Xs, y, W: False)
    rng = np.random.default_rng(3)
    centers = 4.0 * np.eye(6)[:4]
    y = np.repeat(np.arange(4), 30)
    X = centers[y] + rng.standard_normal((120, 6))
    assert fd.is_multiclass_separable(X, y, 4)
    # four points on the axes, one class each: W = X separates them
    X2 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert fd.is_multiclass_separable(X2, np.array([0, 1, 2, 3]), 4)
    # a sample repeated with another class: no W separates them
    X3 = np.vstack([X, X[0]])
    y3 = np.append(y, 1)
    assert not fd.is_multiclass_separable(X3, y3, 4)
    with pytest.raises(ValueError, match="not linearly separable"):
        fb.MulticlassDataset(X3, y3)
    # a zero sample has every margin 0
    assert not fd.is_multiclass_separable(np.vstack([X, np.zeros(6)]), np.append(y, 0), 4)


def test_intercept_appends_a_constant_column_and_is_suggested():
    X, y = [[1.0], [2.0], [3.0], [4.0]], [-1, -1, 1, 1]  # separable only by x > 2.5
    with pytest.raises(ValueError, match=r"with an intercept column they are: pass intercept=True"):
        fb.Dataset(X, y)
    ds = fb.Dataset(X, y, intercept=True)
    np.testing.assert_array_equal(ds.X, [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [4.0, 1.0]])
    assert ds.d == 2
    with pytest.raises(TypeError, match=r"intercept must be True or False; got 1"):
        fb.Dataset(X, y, intercept=1)
    # no suggestion when the intercept does not help (a sample repeated with the other label)
    with pytest.raises(ValueError, match=r"not linearly separable") as info:
        fb.Dataset([[1.0], [1.0]], [1, -1])
    assert "intercept" not in str(info.value)
    # multiclass: three classes on a line, separable only with an intercept
    Xm, ym = [[1.0], [2.0], [3.0]], [0, 1, 2]
    with pytest.raises(ValueError, match=r"pass intercept=True"):
        fb.MulticlassDataset(Xm, ym)
    mds = fb.MulticlassDataset(Xm, ym, intercept=True)
    assert mds.X.shape == (3, 2) and np.all(mds.X[:, 1] == 1.0)


def test_a_run_that_ends_unseparated_warns_and_says_so():
    ds = fb.Dataset([[1.0, 2.0], [1.0, 2.0]], [1, -1], check_separable=False)
    with pytest.warns(fb.NotSeparatedWarning, match=r"smallest margin .* <= 0.*run longer"):
        tr = fb.simulate(ds, fb.GD(), epochs=5)
    assert not tr.separated
    separable = fb.datasets.gaussian(4, 6)
    assert fb.simulate(separable, fb.GD(), epochs=50).separated


def test_warmup_takes_optimizers_of_matrices_only():
    fb.warmup([fb.SteepestDescent(norm="nuclear"), fb.SteepestDescent(norm="fro")])
