"""Full-batch steps on several threads (``simulate(threads=...)``): bitwise one thread's run.

The scores are split by samples and the gradient by coordinates, so no sum changes its
order: every record of a run on two threads must equal the run on one thread bit for bit,
for every family of rules (entrywise, normalized, matrix, with and without the squared
gradients), binary and multiclass data, a model, data scales at the float64 edges, and
shapes whose parts are uneven or empty (fewer samples than a block per thread, fewer
coordinates than a cache line). The one-thread runs are themselves checked against the
references elsewhere (tests/test_reference.py); here the contract is their equality.
"""

import concurrent.futures as cf

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbias as fb
from fastbias.cli import main
from fastbias.sweep import config_key

pytestmark = pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has a single thread on this machine"
)

FULL_BATCH = {
    "det-adam": fb.DetAdam(),
    "gd": fb.GD(),
    "signgd": fb.SignGD(),
    "inc-adam-full": fb.IncAdam(batch_size=None),
    "ngd": fb.NormalizedGD(),
    "adam-proxy": fb.AdamProxy(),
    "steepest-l3": fb.SteepestDescent(norm=3.0, momentum=0.9),
    "mirror": fb.MirrorDescent(),
}
MULTICLASS = {
    "det-adam": fb.DetAdam(),
    "spectral": fb.SpectralDescent(),
    "muon": fb.Muon(),
    "steepest-spectral": fb.SteepestDescent(norm="spectral"),
    "adam-proxy": fb.AdamProxy(),
}


def assert_same(a, b):
    """Bitwise equality of every record of two trajectories."""
    for name in ("epochs", "w", "log_loss", "min_margin"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.params == b.params


def separable(n, d, seed, scale=1.0):
    """n Gaussian samples in d dimensions labelled by a random direction (margin >= 0.05)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    w /= np.linalg.norm(w)
    s = X @ w
    X += np.where(s >= 0, 1.0, -1.0)[:, None] * np.maximum(0.05 - np.abs(s), 0.0)[:, None] * w
    return fb.Dataset(X * scale, np.where(X @ w >= 0, 1, -1))


def both(data, optimizer, **kwargs):
    kwargs.setdefault("record", 3)
    one = fb.simulate(data, optimizer, progress=False, **kwargs)
    two = fb.simulate(data, optimizer, progress=False, threads=2, **kwargs)
    return one, two


# (n, d): one block per thread and a tail; fewer samples than a block (the first part is
# empty); a single sample; fewer coordinates than a cache line (the second part of the
# gradient is empty); shapes with every remainder.
SHAPES = [(37, 29), (3, 20), (1, 12), (23, 5), (64, 64), (9, 17)]


@pytest.mark.parametrize("name", sorted(FULL_BATCH))
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{n}x{d}" for n, d in SHAPES])
def test_two_threads_equal_one_binary(name, shape):
    n, d = shape
    one, two = both(separable(n, d, seed=n + d), FULL_BATCH[name], epochs=60)
    assert_same(one, two)


@pytest.mark.parametrize("name", sorted(MULTICLASS))
@pytest.mark.parametrize("shape", [(13, 9), (5, 30)], ids=["13x9", "5x30"])
def test_two_threads_equal_one_multiclass(name, shape):
    n, d = shape
    data = fb.datasets.gaussian_multiclass(n=n, d=d, k=3, seed=n)
    for loss in ("ce", "exp"):
        one, two = both(data, MULTICLASS[name], epochs=40, loss=loss)
        assert_same(one, two)


@pytest.mark.parametrize("optimizer", [fb.GD(), fb.DetAdam()], ids=["gd", "det-adam"])
def test_two_threads_equal_one_diagonal_network(optimizer):
    data = fb.datasets.gaussian(n=11, d=9, seed=5)
    model = fb.DiagonalNet(depth=2, init_scale=0.5)
    one, two = both(data, optimizer, epochs=50, model=model)
    assert_same(one, two)
    assert one.theta.tobytes() == two.theta.tobytes()


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_two_threads_equal_one_at_extreme_scales(scale):
    data = separable(10, 14, seed=8, scale=scale)
    for optimizer in (fb.DetAdam(), fb.NormalizedGD()):
        one, two = both(data, optimizer, epochs=200)
        assert_same(one, two)
        assert np.all(np.isfinite(two.w))


def test_logistic_loss_and_long_horizon():
    data = fb.datasets.gaussian(n=21, d=13, seed=2)
    one, two = both(data, fb.DetAdam(), epochs=3000, loss="logistic", chunk_epochs=700)
    assert_same(one, two)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    exponent=st.integers(-300, 300),
)
def test_two_threads_equal_one_property(n, d, seed, exponent):
    data = separable(n, d, seed, scale=10.0**exponent)
    one, two = both(data, fb.DetAdam(), epochs=20, record=[20])
    assert_same(one, two)


def test_checkpointed_run_resumes_with_other_threads(tmp_path):
    data = fb.datasets.gaussian(n=17, d=11, seed=3)
    straight = fb.simulate(data, fb.DetAdam(), epochs=400, record=2, progress=False)
    path = tmp_path / "run.npz"
    kwargs = dict(record=2, progress=False, checkpoint=path)
    fb.simulate(data, fb.DetAdam(), epochs=150, threads=2, **kwargs)
    resumed = fb.simulate(data, fb.DetAdam(), epochs=400, resume=True, **kwargs)
    assert_same(straight, resumed)


def test_sweep_takes_threads_on_serial_and_refuses_them_on_threads():
    data = fb.datasets.gaussian(n=8, d=6, seed=1)
    configs = fb.grid(data=data, optimizer=[fb.DetAdam(), fb.GD()], epochs=30, threads=2)
    serial = fb.sweep(configs, "serial", progress=False, references=None)
    plain = fb.sweep(
        fb.grid(data=data, optimizer=[fb.DetAdam(), fb.GD()], epochs=30),
        "serial",
        progress=False,
        references=None,
    )
    for a, b in zip(serial.trajectories, plain.trajectories, strict=True):
        assert_same(a, b)
    assert [config_key(c) for c in configs] == [
        config_key({k: v for k, v in c.items() if k != "threads"}) for c in configs
    ]
    with pytest.raises(ValueError, match=r"configs\[0\] has threads=2.*'processes'"):
        fb.sweep(configs, progress=False)
    with pytest.raises(ValueError, match="a given Executor"), cf.ThreadPoolExecutor(1) as pool:
        fb.sweep(configs, pool, progress=False)


@pytest.mark.parametrize(
    ("threads", "error", "match"),
    [
        (0, ValueError, r"threads must be an integer in \[1, "),
        (numba.config.NUMBA_NUM_THREADS + 1, ValueError, r"threads must be an integer in \[1, "),
        (2.0, TypeError, "threads must be an integer"),
        (True, TypeError, "threads must be an integer"),
        ("2", TypeError, "threads must be an integer"),
    ],
)
def test_bad_threads_are_refused_before_any_work(threads, error, match, tmp_path):
    data = fb.datasets.gaussian(n=5, d=4, seed=0)
    path = tmp_path / "never.npz"
    with pytest.raises(error, match=match):
        fb.simulate(data, fb.DetAdam(), epochs=5, threads=threads, checkpoint=path)
    assert not path.exists()


@pytest.mark.parametrize(
    "optimizer", [fb.IncAdam(), fb.IncAdam(batch_size=4), fb.SGD()], ids=["b1", "b4", "sgd"]
)
def test_threads_need_full_batch_steps(optimizer):
    data = separable(10, 4, seed=0)
    with pytest.raises(ValueError, match=r"threads=2 is for full-batch steps \(batch_size = n"):
        fb.simulate(data, optimizer, epochs=5, threads=2)
    # batch_size = n is a full batch
    one, two = both(data, fb.IncAdam(batch_size=10), epochs=20)
    assert_same(one, two)


def test_command_line_threads(tmp_path, capsys):
    out1, out2 = tmp_path / "one.npz", tmp_path / "two.npz"
    common = ["run", "--data", "gaussian", "--optimizer", "det-adam", "--epochs", "200"]
    assert main([*common, "--out", str(out1), "--no-progress"]) == 0
    assert main([*common, "--out", str(out2), "--threads", "2", "--no-progress"]) == 0
    assert_same(fb.Trajectory.load(out1), fb.Trajectory.load(out2))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*common, "--out", str(tmp_path / "x.npz"), "--threads", "0"])
    assert "--threads" in capsys.readouterr().err
