"""Models beyond the linear one (SPEC 13): diagonal linear networks ``w = u^D - v^D``.

* Every optimizer acts on theta = (u, v): compared with the step reference
  (``tests/reference.py``, ``run_reference(depth=...)``), which forms the per-sample
  gradients ``(D u^(D-1) g, -D v^(D-1) g)`` from the linear model's ``g`` and runs the
  optimizer's own step on the matrix [U; V], to 1e-12 after every epoch.
* Exact at any horizon: from starts whose margins are near 1000 (every float64 derivative
  is 0) and on data scaled by 1e-150 / 1e150 (the history reference), scale-invariant rules
  follow the recurrence.
* A closed form (one sample, sign steps), a symmetry (y -> -y with u and v swapped) and the
  gradient-flow limit of loss-normalized GD check what a reference sharing the design could
  miss.
* Files, the command line, sweeps, plots and the extension contract carry the model.
"""

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import PLAIN, TOL, history_reference, run_reference

import fastbias as fb
from fastbias import extend
from fastbias.cli import main
from fastbias.optimizers import OPTIMIZERS

BINARY = fb.datasets.gaussian(n=6, d=8, seed=4)
MULTICLASS = fb.datasets.gaussian_multiclass(n=6, d=7, k=3, seed=2)
EPOCHS = 5
POLY, POLY_REF = fb.PolynomialDecay(0.05, 0.5), ("poly", 0.05, 0.5)
CONST, CONST_REF = fb.Constant(0.01), ("const", 0.01)


def rates(optimizer):
    """Small constant rates for the plain rules, the paper's decay for the others."""
    return (CONST, CONST_REF) if type(optimizer).__name__ in PLAIN else (POLY, POLY_REF)


def reference_theta(data, optimizer, ref_lr, *, depth, init_scale, epochs=EPOCHS, **kwargs):
    """The reference's theta for a run with fastbias's default loss of the data."""
    kwargs.setdefault("loss", "ce" if data.multiclass else "exp")
    params = optimizer.to_dict()
    name = params.pop("name")
    extra = dict(labels=data.y, k=data.k) if data.multiclass else {}
    rows = data.X if data.multiclass else data.Z
    return run_reference(
        rows,
        name,
        params,
        epochs=epochs,
        lr=ref_lr,
        depth=depth,
        init_scale=init_scale,
        **extra,
        **kwargs,
    )


def relative_errors(A, R):
    flat_a, flat_r = A.reshape(len(A), -1), R.reshape(len(R), -1)
    scale = np.maximum(np.abs(flat_r).max(axis=1), 1e-300)
    return np.abs(flat_a - flat_r).max(axis=1) / scale


#: One optimizer of each way the step loops are built (entrywise with state, per-sample and
#: batch; sign; plain; normalized, with momentum; taking the loss; mirror; matrix rules).
DEFAULT_CASES = [
    fb.IncAdam(),
    fb.IncAdam(batch_size=3, sampling="reshuffle"),
    fb.SignGD(),
    fb.GD(),
    fb.NormalizedGD(),
    fb.SteepestDescent(norm=1.5, momentum=0.9, batch_size=1),
    fb.AdamProxy(),
    fb.LossNormalizedGD(),
    fb.LossNormalizedGD(power=1.0 / 3.0),
    fb.MirrorDescent(p=3.0),
]
NETWORKS = [(2, 0.1), (2, 1.0), (2, 10.0), (3, 0.1), (3, 1.0)]


@pytest.mark.filterwarnings("ignore::fastbias.models.DepthWarning")
@pytest.mark.parametrize("depth, init_scale", NETWORKS)
@pytest.mark.parametrize("optimizer", DEFAULT_CASES, ids=repr)
def test_binary_networks_match_the_reference(optimizer, depth, init_scale):
    lr, ref_lr = rates(optimizer)
    net = fb.DiagonalNet(depth=depth, init_scale=init_scale)
    tr = fb.simulate(BINARY, optimizer, lr=lr, epochs=EPOCHS, model=net, record=range(EPOCHS + 1))
    ref = reference_theta(BINARY, optimizer, ref_lr, depth=depth, init_scale=init_scale)
    assert tr.theta.shape == ref.shape == (EPOCHS + 1, 2, BINARY.d)
    assert np.all(np.isfinite(tr.theta))
    assert relative_errors(tr.theta, ref).max() <= TOL
    assert np.array_equal(tr.w, tr.theta[:, 0] ** depth - tr.theta[:, 1] ** depth)
    assert np.abs(tr.theta[-1] - init_scale).max() > 1e-4  # it moved


MULTICLASS_CASES = [
    fb.IncAdam(),
    fb.Muon(),
    fb.SpectralDescent(batch_size=2),
    fb.SteepestDescent(norm="nuclear"),
    fb.SignGD(batch_size=None),
]


@pytest.mark.filterwarnings("ignore::fastbias.models.DepthWarning")
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("optimizer", MULTICLASS_CASES, ids=repr)
def test_multiclass_networks_match_the_reference(optimizer, depth):
    lr, ref_lr = rates(optimizer)
    net = fb.DiagonalNet(depth=depth, init_scale=0.5)
    tr = fb.simulate(
        MULTICLASS, optimizer, lr=lr, epochs=EPOCHS, model=net, record=range(EPOCHS + 1)
    )
    ref = reference_theta(MULTICLASS, optimizer, ref_lr, depth=depth, init_scale=0.5)
    assert tr.theta.shape == ref.shape == (EPOCHS + 1, 2, MULTICLASS.k, MULTICLASS.d)
    assert tr.w.shape == (EPOCHS + 1, MULTICLASS.k, MULTICLASS.d)
    assert relative_errors(tr.theta, ref).max() <= TOL


BUILT_IN = [cls() for cls in OPTIMIZERS.values() if cls.__module__.startswith("fastbias.")]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", BUILT_IN, ids=repr)
def test_every_registered_optimizer_on_a_network(optimizer):
    lr, ref_lr = rates(optimizer)
    data = MULTICLASS if isinstance(getattr(optimizer, "norm", None), str) else BINARY
    net = fb.DiagonalNet(depth=2, init_scale=0.5)
    tr = fb.simulate(data, optimizer, lr=lr, epochs=EPOCHS, model=net, record=range(EPOCHS + 1))
    ref = reference_theta(data, optimizer, ref_lr, depth=2, init_scale=0.5)
    assert relative_errors(tr.theta, ref).max() <= TOL


# --------------------------------------------------------------------------------------------
# Exact at any horizon
# --------------------------------------------------------------------------------------------


def far_theta(data, depth, low=1000.0, high=1030.0):
    """(u, v) > 0 whose effective weights give margins in [low, high] (n <= d)."""
    rng = np.random.default_rng(3)
    w0, *_ = np.linalg.lstsq(data.Z, rng.uniform(low, high, data.n), rcond=None)
    u = (np.maximum(w0, 0.0) + 0.5) ** (1.0 / depth)
    v = (np.maximum(-w0, 0.0) + 0.5) ** (1.0 / depth)
    return np.stack([u, v])


SCALE_INVARIANT = [
    fb.IncAdam(),
    fb.IncAdam(beta1=0.5, beta2=0.9, batch_size=2),
    fb.SignGD(batch_size=1),
    fb.NormalizedGD(),
    fb.SteepestDescent(norm=3.0, momentum=0.5, batch_size=1),
    fb.AdamProxy(),
    fb.LossNormalizedGD(),
    fb.LossNormalizedGD(power=0.5),  # -log L near 1000 divides its steps
]


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("optimizer", SCALE_INVARIANT, ids=repr)
def test_from_margins_near_1000_networks_follow_the_recurrence(optimizer, depth):
    theta0 = far_theta(BINARY, depth)
    net = fb.DiagonalNet(depth=depth)
    assert (BINARY.Z @ net.weights(theta0)[0]).min() > 990
    lr = fb.PolynomialDecay(1e-3, 0.5)  # steps small beside the margins: no overflow
    tr = fb.simulate(
        BINARY, optimizer, lr=lr, epochs=20, model=net, theta0=theta0, record=[0, 5, 20]
    )
    ref = reference_theta(
        BINARY,
        optimizer,
        ("poly", 1e-3, 0.5),
        depth=depth,
        init_scale=None,
        epochs=20,
        theta0=theta0,
        log_scale=1000.0,
        loss=tr.params["loss"],
    )[[0, 5, 20]]
    assert relative_errors(tr.theta, ref).max() <= 100 * TOL
    assert np.abs(tr.theta[-1] - theta0).max() > 1e-3  # it moved where float64 is frozen


@pytest.mark.parametrize("factor", [1e-150, 1e150])
@pytest.mark.parametrize(
    "optimizer",
    [fb.IncAdam(), fb.SignGD(), fb.NormalizedGD(), fb.IncAdam(batch_size=2)],
    ids=repr,
)
def test_networks_at_extreme_data_scales(optimizer, factor):
    data = fb.Dataset(BINARY.X * factor, BINARY.y)
    params = optimizer.to_dict()
    name = params.pop("name")
    net = fb.DiagonalNet(depth=2, init_scale=0.5)
    tr = fb.simulate(data, optimizer, lr=POLY, epochs=4, seed=2, model=net, record=range(5))
    ref = history_reference(
        data.Z, name, params, epochs=4, lr=POLY_REF, seed=2, depth=2, init_scale=0.5
    )
    assert np.all(np.isfinite(tr.theta))
    assert relative_errors(tr.theta, ref).max() <= TOL


@pytest.mark.filterwarnings("ignore::fastbias.datasets.ZeroEntryWarning")
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("optimizer", [fb.SignGD(batch_size=1), fb.IncAdam(beta1=0.0, beta2=0.0)])
def test_one_sample_sign_steps_have_a_closed_form(optimizer, depth):
    """One sample z: every step moves u by +eta_t sign(z) and v by -eta_t sign(z) (while v
    keeps its sign), so ``u = a + S sign(z)``, ``v = a - S sign(z)``, S the sum of rates."""
    z = np.array([[0.7, -1.3, 0.0, 2.5, -1e-9]])
    data = fb.Dataset(z, np.array([1.0]))
    a, epochs = 10.0, 1500
    eta = [0.05 * (t + 2.0) ** -0.5 for t in range(epochs)]
    S = math.fsum(eta)
    assert S < a
    net = fb.DiagonalNet(depth=depth, init_scale=a)
    lr = fb.Constant(0.001) if depth == 3 else POLY
    if depth == 3:  # a constant rate keeps the closed form simple for D = 3 too
        S = 0.001 * epochs
    with pytest.warns(fb.models.DepthWarning) if depth == 3 else contextlib.nullcontext():
        tr = fb.simulate(data, optimizer, lr=lr, epochs=epochs, model=net, record=[epochs])
    s = np.sign(z[0])
    np.testing.assert_allclose(tr.theta[-1, 0], a + S * s, rtol=1e-12)
    np.testing.assert_allclose(tr.theta[-1, 1], a - S * s, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::fastbias.models.DepthWarning")
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    depth=st.sampled_from([2, 3]),
    init_scale=st.floats(0.05, 1.0),
    optimizer=st.sampled_from([fb.IncAdam(), fb.SignGD(), fb.GD(batch_size=2)]),
)
def test_flipping_the_labels_swaps_u_and_v(seed, depth, init_scale, optimizer):
    """(u, v) on Z and (v, u) on -Z give the same losses and opposite weights, so every
    entrywise rule takes the swapped steps: the runs agree bitwise, swapped."""
    data = fb.datasets.gaussian(n=5, d=6, seed=seed)
    flipped = fb.Dataset(data.X, -data.y)
    rng = np.random.default_rng(seed)
    theta0 = init_scale * rng.uniform(0.9, 1.1, size=(2, 6))
    # GD on a depth-3 network from init 1.5 and rate 0.01 diverges on most seeds (as the
    # reference does: a genuine divergence, not an error); init <= 1 at rate 0.002 converged
    # on all of 1429 seeds tried
    lr = fb.Constant(0.002)
    net = fb.DiagonalNet(depth=depth)
    a = fb.simulate(data, optimizer, lr=lr, epochs=6, model=net, theta0=theta0, record=[6])
    b = fb.simulate(
        flipped, optimizer, lr=lr, epochs=6, model=net, theta0=theta0[::-1].copy(), record=[6]
    )
    assert np.array_equal(a.theta[:, ::-1], b.theta)
    assert np.array_equal(a.w, -b.w)
    assert np.array_equal(a.log_loss, b.log_loss)


def direction_at(tr, neg_log_loss):
    """The unit direction of w where -log L first reaches a value (interpolated in log)."""
    x = np.log(-tr.log_loss[tr.log_loss < 0])
    w = tr.w[tr.log_loss < 0]
    i = np.searchsorted(x, np.log(neg_log_loss))
    assert 0 < i < len(x), "the run does not reach that loss"
    f = (np.log(neg_log_loss) - x[i - 1]) / (x[i] - x[i - 1])
    v = (1.0 - f) * w[i - 1] + f * w[i]
    return v / np.linalg.norm(v)


def test_loss_normalized_gd_follows_the_gradient_flow():
    """theta -= eta grad L / L is Euler's method for the flow of log L, whose path is
    gradient flow's (the same velocity direction, another speed), so runs are indexed by
    -log L rather than by epochs. At a matched -log L the direction converges as eta -> 0:
    at first order where the path is smooth (the gaps between eta, eta/2 and eta/4 halve),
    and within 0.01 between rates 0.002 and 0.001 up to -log L = 1e12 (SPEC 13)."""
    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    net = fb.DiagonalNet(depth=2, init_scale=0.1)
    runs = []
    for eta in (0.004, 0.002, 0.001):
        epochs = round(40 / eta)
        runs.append(
            fb.simulate(
                data,
                fb.LossNormalizedGD(),
                lr=fb.Constant(eta),
                epochs=epochs,
                model=net,
                record=range(epochs + 1),
            )
        )
    for neg_log_loss in (10.0, 100.0):
        coarse, mid, fine = (direction_at(tr, neg_log_loss) for tr in runs)
        ratio = np.linalg.norm(coarse - mid) / np.linalg.norm(mid - fine)
        assert 1.8 < ratio < 2.2, (neg_log_loss, ratio)
    for neg_log_loss in (1e3, 1e6, 1e12):
        _, mid, fine = (direction_at(tr, neg_log_loss) for tr in runs)
        assert np.linalg.norm(mid - fine) < 0.01, neg_log_loss


# --------------------------------------------------------------------------------------------
# Files, resume, extend; the command line; sweeps; plots
# --------------------------------------------------------------------------------------------


def test_extension_with_a_network_equals_the_straight_run_bitwise(tmp_path):
    net = fb.DiagonalNet(depth=2, init_scale=0.3)
    opt = fb.IncAdam(sampling="reshuffle")
    short = fb.simulate(BINARY, opt, epochs=300, model=net, checkpoint=tmp_path / "a.npz")
    longer = fb.simulate(
        BINARY,
        opt,
        epochs=900,
        model=net,
        resume=tmp_path / "a.npz",
        checkpoint=tmp_path / "b.npz",
    )
    straight = fb.simulate(BINARY, opt, epochs=900, model=net)
    assert longer.theta.tobytes() == straight.theta.tobytes()
    assert longer.w.tobytes() == straight.w.tobytes()
    on_both = np.intersect1d(short.epochs, straight.epochs)  # records up to the short horizon
    assert on_both.size > 10
    assert (
        straight.theta[np.isin(straight.epochs, on_both)].tobytes()
        == short.theta[np.isin(short.epochs, on_both)].tobytes()
    )
    with pytest.raises(ValueError, match="different run|model"):  # another model's file
        fb.simulate(
            BINARY,
            opt,
            epochs=900,
            model=fb.DiagonalNet(depth=2, init_scale=0.4),
            resume=tmp_path / "a.npz",
        )


def test_a_trajectory_with_theta_saves_and_loads(tmp_path):
    tr = fb.simulate(MULTICLASS, fb.Muon(), epochs=20, model=fb.DiagonalNet(init_scale=0.2))
    tr.save(tmp_path / "tr.npz")
    back = fb.Trajectory.load(tmp_path / "tr.npz")
    assert back.theta.tobytes() == tr.theta.tobytes()
    assert back.params["model"] == {"name": "DiagonalNet", "depth": 2, "init_scale": 0.2}
    assert fb.models.model_from_dict(back.params["model"]) == fb.DiagonalNet(init_scale=0.2)


def test_cli_runs_and_resumes_a_network(tmp_path, capsys):
    out, ck = tmp_path / "tr.npz", tmp_path / "ck.npz"
    args = [
        "run",
        "--optimizer",
        "inc-adam",
        "--data",
        "gaussian",
        "--n",
        "6",
        "--d",
        "8",
        "--epochs",
        "200",
        "--model",
        "diagonal",
        "--depth",
        "2",
        "--init-scale",
        "0.5",
        "--checkpoint",
        str(ck),
    ]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "DiagonalNet(depth=2, init_scale=0.5)" in text
    tr = fb.Trajectory.load(out)
    assert tr.theta.shape[1:] == (2, 8)
    assert main(["resume", str(ck), "--epochs", "400", "--out", str(tmp_path / "more.npz")]) == 0
    more = fb.Trajectory.load(tmp_path / "more.npz")
    straight = fb.simulate(
        fb.datasets.gaussian(n=6, d=8),
        fb.IncAdam(),
        epochs=400,
        model=fb.DiagonalNet(init_scale=0.5),
    )
    assert more.theta[-1].tobytes() == straight.theta[-1].tobytes()


def test_cli_refuses_network_flags_without_the_model(capsys):
    code = main(["run", "--optimizer", "inc-adam", "--epochs", "10", "--depth", "3"])
    assert code == 2 or code == 1
    assert "--model" in capsys.readouterr().err


def test_sweeps_name_the_model():
    configs = fb.grid(
        data=BINARY,
        optimizer=fb.SignGD(),
        lr=fb.Constant(0.01),
        epochs=50,
        model=[None, fb.DiagonalNet(init_scale=0.5)],
    )
    result = fb.sweep(configs, "serial")
    linear, net = result.table
    assert linear["model"] == "linear" and linear.get("model.depth") is None
    assert (net["model"], net["model.depth"], net["model.init_scale"]) == ("DiagonalNet", 2, 0.5)
    assert result.trajectories[0].theta is None
    assert result.trajectories[1].theta.shape == (len(result.trajectories[1].epochs), 2, 8)


def test_plot_against_neg_log_loss():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    tr = fb.simulate(
        BINARY,
        fb.LossNormalizedGD(),
        lr=fb.Constant(0.05),
        epochs=500,
        model=fb.DiagonalNet(init_scale=0.5),
    )
    ax = tr.plot(fb.max_margin(BINARY, p=1), "cosine", x="neg_log_loss")
    (line,) = ax.get_lines()[:1]
    x = line.get_xdata()
    kept = -tr.log_loss > 0
    np.testing.assert_array_equal(x, -tr.log_loss[kept])
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="x must be one of"):
        tr.plot(fb.max_margin(BINARY, p=1), "cosine", x="time")


# --------------------------------------------------------------------------------------------
# Bad input, warnings, the registry and its contract
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(model="diagonal"), TypeError, "model must be a fastbias model"),
        (dict(model=fb.DiagonalNet(), w0=np.zeros(8)), ValueError, "w0 cannot be given"),
        (dict(theta0=np.ones((2, 8))), ValueError, "theta0 is the starting parameter"),
        (dict(model=fb.DiagonalNet(), theta0=np.ones((2, 7))), ValueError, r"shape \(2, 8\)"),
        (dict(model=fb.DiagonalNet(), theta0=np.full((2, 8), np.nan)), ValueError, "theta0"),
    ],
)
def test_bad_model_arguments_are_refused_before_any_work(kwargs, error, match):
    with pytest.raises(error, match=match):
        fb.simulate(BINARY, fb.IncAdam(), epochs=10, **kwargs)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(depth=1), "depth"),
        (dict(depth=2.5), "depth"),
        (dict(init_scale=0.0), "init_scale"),
        (dict(init_scale=-1.0), "init_scale"),
        (dict(init_scale=float("inf")), "init_scale"),
    ],
)
def test_bad_network_options(options, match):
    with pytest.raises((TypeError, ValueError), match=match):
        fb.DiagonalNet(**options)


def test_deep_networks_with_a_constant_rate_warn():
    with pytest.warns(fb.models.DepthWarning, match="diverges"):
        fb.simulate(BINARY, fb.GD(), lr=fb.Constant(0.01), epochs=2, model=fb.DiagonalNet(depth=3))


def test_check_model_passes_the_network_and_catches_a_wrong_chain():
    assert extend.check_model(fb.DiagonalNet()).passed
    assert extend.check_model(fb.DiagonalNet(depth=4)).passed

    @fb.models.jitable(nrt=False)
    def wrong_chain(P, c, k, kout, j, mp):
        return 2.0 * P[c + j * kout, k]  # misses the minus sign of dw/dv

    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Broken(fb.DiagonalNet):
        chain = wrong_chain

    report = extend.check_model(Broken())
    assert not report.passed
    assert report.chain_difference > 0.1
    assert any("chain" in problem for problem in report.problems)


@fb.models.jitable(nrt=False)
def product_weight(P, c, k, kout, mp):
    return P[c, k] * P[c + kout, k]


@fb.models.jitable(nrt=False)
def product_chain(P, c, k, kout, j, mp):
    return P[c + (1 - j) * kout, k]


def test_a_user_model_runs_through_the_registry():
    """w = u * v: the D = 2 network rotated by 45 degrees (u v = ((u+v)^2 - (u-v)^2) / 4)."""
    from dataclasses import dataclass
    from typing import ClassVar

    @extend.register_model("product")
    @dataclass(frozen=True)
    class Product(extend.Model):
        scale: float = fb.models.option(1.0, "the start of u and v", low=0.0, closed="neither")
        multiplicity: ClassVar[int] = 2
        weight: ClassVar = product_weight
        chain: ClassVar = product_chain

        def weights(self, P):
            P = np.asarray(P, dtype=np.float64)
            k = P.shape[-2] // 2
            return P[..., :k, :] * P[..., k:, :]

        def initial(self, k, d):
            return np.concatenate([np.full((k, d), self.scale), np.zeros((k, d))])

    try:
        assert extend.check_model(Product()).passed
        # full-batch GD on w = u v, the chain rule written out
        tr = fb.simulate(
            BINARY, fb.GD(), lr=fb.Constant(0.01), epochs=3, model=Product(), record=range(4)
        )
        U, V = np.full(BINARY.d, 1.0), np.zeros(BINARY.d)
        for epoch in range(3):
            g = -(np.exp(-BINARY.Z @ (U * V))[:, None] * BINARY.Z).mean(axis=0)
            U, V = U - 0.01 * V * g, V - 0.01 * U * g
            np.testing.assert_allclose(tr.theta[epoch + 1], np.stack([U, V]), rtol=1e-13)
        assert extend.check_optimizer(fb.IncAdam(), model=Product()).passed
    finally:
        extend.unregister_model("product")


def test_deep_networks_grow_geometrically_with_the_loss_power():
    """Depth 3 with loss-normalized GD and power (D - 2) / D = 1/3: the relative steps stay
    bounded, so -log L grows geometrically in epochs (a constant plain rate diverges)."""
    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    opt = fb.LossNormalizedGD(power=1.0 / 3.0)
    tr = fb.simulate(
        data,
        opt,
        lr=fb.Constant(0.002),
        epochs=30_000,
        model=fb.DiagonalNet(depth=3, init_scale=1.0),
        record=[10_000, 20_000, 30_000],
    )
    grows = np.log10(-tr.log_loss)
    assert grows[0] > 20 and np.all(np.diff(grows) > 20)  # about 1e30 per 1e4 epochs
    assert np.all(tr.min_margin > 0)
