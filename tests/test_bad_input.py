"""Bad input at every public entry point: a ValueError or TypeError that names the parameter.

Never a Numba typing error, a NumPy message without the parameter name, a crash or a hang.
The last tests fuzz ``simulate`` (with the objects it takes) with Hypothesis: every draw
gives either a valid, finite Trajectory or such an error (or, for a run whose exact iterates
leave the float64 range, an ArithmeticError that names the learning rate).
"""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbias as fb
from fastbias.datasets import ZeroEntryWarning
from fastbias.optimizers import SAMPLINGS, optimizer_from_dict
from fastbias.schedules import schedule_from_dict
from fastbias.sweep import grid, sweep

DS = fb.datasets.gaussian(n=6, d=8, seed=2)
OTHER = fb.datasets.gaussian(n=6, d=8, seed=3)
X, Y = DS.X.copy(), DS.y.copy()
OPT = fb.IncAdam(sampling="reshuffle")
# the run that the checkpoint files below belong to
CK = dict(data=DS, optimizer=OPT, epochs=30, seed=4, record=[0, 10, 30])


def sim(**kwargs):
    """simulate() on valid defaults, with some arguments replaced."""
    return fb.simulate(**{"data": DS, "optimizer": OPT, "epochs": 5, "record": 3, **kwargs})


def one_config(**kwargs):
    return [{"data": DS, "optimizer": OPT, "epochs": 5, **kwargs}]


def _rewrite(src, dst, **changes):
    """Copy an .npz file with some arrays replaced (None: removed); a CRC-valid tampering."""
    with np.load(src) as archive:
        arrays = dict(archive)
    arrays.update(changes)
    np.savez(dst, **{k: v for k, v in arrays.items() if v is not None})
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Valid, truncated, corrupt and tampered trajectory, checkpoint and dataset files."""
    folder = tmp_path_factory.mktemp("files")
    paths = {}
    traj = fb.simulate(**CK).save(folder / "traj.npz")
    raw = traj.read_bytes()
    paths["traj"] = traj
    paths["traj_truncated"] = folder / "traj_truncated.npz"
    paths["traj_truncated"].write_bytes(raw[: len(raw) // 2])
    paths["traj_garbage"] = folder / "traj_garbage.npz"
    paths["traj_garbage"].write_bytes(b"this is not an npz file")
    paths["traj_shapes"] = _rewrite(traj, folder / "traj_shapes.npz", w=np.zeros((2, 8)))
    paths["traj_format"] = _rewrite(traj, folder / "traj_format.npz", format=np.array("x-1"))

    ckpt = folder / "ckpt.npz"
    fb.simulate(**CK, checkpoint=ckpt)
    raw = ckpt.read_bytes()
    paths["ckpt"] = ckpt
    paths["ckpt_truncated"] = folder / "ckpt_truncated.npz"
    paths["ckpt_truncated"].write_bytes(raw[: len(raw) // 2])
    with np.load(ckpt) as archive:
        w = archive["w"]
    at = raw.find(w.tobytes()) + 3  # a byte inside the stored iterate
    flipped = bytearray(raw)
    flipped[at] ^= 0xFF
    paths["ckpt_bitflip"] = folder / "ckpt_bitflip.npz"
    paths["ckpt_bitflip"].write_bytes(bytes(flipped))
    tamper = {
        "ckpt_rng": dict(rng_state=np.array("{not json")),
        "ckpt_counters": dict(counters=np.array([10**6, 10**7], dtype=np.int64)),
        "ckpt_nan": dict(w=np.full(8, np.nan)),
        "ckpt_int": dict(w=np.zeros(8, dtype=np.int64), counters=np.array([0, 0], np.int64)),
        "ckpt_no_records": dict(rec_w=None),
    }
    for name, changes in tamper.items():
        paths[name] = _rewrite(ckpt, folder / f"{name}.npz", **changes)

    paths["dataset_garbage"] = folder / "dataset_garbage.npz"
    paths["dataset_garbage"].write_bytes(b"PK\x03\x04 truncated")
    paths["a_file"] = folder / "a_file.txt"
    paths["a_file"].write_text("not a folder")
    return paths


def case(name, call, exc, match):
    return pytest.param(call, exc, match, id=name)


CASES = [
    # --- data ------------------------------------------------------------------------------
    case("X-nan", lambda f: fb.Dataset(np.where(np.eye(6, 8) > 0, np.nan, X), Y), ValueError,
         r"X contains NaN at row 0, column 0"),
    case("X-inf", lambda f: fb.Dataset(np.where(np.eye(6, 8) > 0, -np.inf, X), Y), ValueError,
         r"X contains inf"),
    case("y-nan", lambda f: fb.Dataset(X, np.where(np.arange(6) == 2, np.nan, Y)), ValueError,
         r"y contains NaN at index 2"),
    case("X-1d", lambda f: fb.Dataset(X[0], Y), ValueError, r"X must be a 2-D array"),
    case("X-3d", lambda f: fb.Dataset(X[None], Y), ValueError, r"X must be a 2-D array"),
    case("X-strings", lambda f: fb.Dataset([["a", "b"]], [1]), TypeError,
         r"X must hold real numbers"),
    case("X-complex", lambda f: fb.Dataset(X + 1j, Y), TypeError, r"X must hold real numbers"),
    case("X-object", lambda f: fb.Dataset(None, [1]), TypeError, r"X must hold real numbers"),
    case("X-ragged", lambda f: fb.Dataset([[1.0, 2.0], [3.0]], [1, -1]), ValueError,
         r"X must be a 2-D array"),
    case("X-empty", lambda f: fb.Dataset(np.zeros((0, 3)), np.zeros(0)), ValueError,
         r"X must not be empty"),
    case("y-length", lambda f: fb.Dataset(X, Y[:5]), ValueError,
         r"y must have one label per row of X"),
    case("y-2d", lambda f: fb.Dataset(X, Y[:, None]), ValueError, r"y must be a 1-D array"),
    case("y-one-class", lambda f: fb.Dataset(X, np.zeros(6)), ValueError,
         r"y must hold exactly two distinct label values .*got 1 distinct"),
    case("y-three-classes", lambda f: fb.Dataset(X, [0, 1, 2, 0, 1, 2]), ValueError,
         r"y must hold exactly two distinct label values .*got 3 distinct"),
    case("y-three-text-labels", lambda f: fb.Dataset(X[:3], ["a", "b", "c"]), ValueError,
         r"text labels y must .*exactly two distinct values"),
    case("X-subnormal-row", lambda f: fb.Dataset([[1e-310, 2e-310], [1.0, 1.0]], [1, 1]),
         ValueError, r"X has rows whose entries are all subnormal.*first row 0"),
    case("shifted-diagonal-repeated-a", lambda f: fb.datasets.shifted_diagonal([1.0, 2.0, 1.0]),
         ValueError, r"a must hold distinct values .*1\.0 occurs more than once"),
    case("not-separable", lambda f: fb.Dataset([[1.0], [1.0]], [1, -1]), ValueError,
         r"data are not linearly separable.*check_separable=False"),
    case("check_separable-type", lambda f: fb.Dataset(X, Y, check_separable="no"), TypeError,
         r"check_separable must be True or False"),
    case("gaussian-n", lambda f: fb.datasets.gaussian(n=0), ValueError,
         r"n must be an integer >= 1; got 0"),
    case("gaussian-d-float", lambda f: fb.datasets.gaussian(d=2.5), TypeError,
         r"d must be an integer"),
    case("gaussian-not-separable", lambda f: fb.datasets.gaussian(n=40, d=2), ValueError,
         r"not linearly separable"),
    case("gaussian-seed", lambda f: fb.datasets.gaussian(seed=-1), ValueError, r"seed"),
    case("gr-low", lambda f: fb.datasets.generalized_rademacher(low=0.0), ValueError,
         r"low must be in \(0, inf\); got 0.0"),
    case("gr-high", lambda f: fb.datasets.generalized_rademacher(low=2.0, high=1.0), ValueError,
         r"high must be in"),
    case("diagonal-a", lambda f: fb.datasets.shifted_diagonal(a=[1.0, -1.0]), ValueError,
         r"a must be positive"),
    case("diagonal-a-nan", lambda f: fb.datasets.shifted_diagonal(a=[1.0, np.nan]), ValueError,
         r"a contains NaN"),
    case("diagonal-delta", lambda f: fb.datasets.shifted_diagonal(delta=0.0), ValueError,
         r"delta must be in \(0, inf\); got 0.0"),
    # --- optimizers ------------------------------------------------------------------------
    case("beta1-1", lambda f: fb.IncAdam(beta1=1.0), ValueError,
         r"beta1 must be in \[0, 1\); got 1.0"),
    case("beta2-negative", lambda f: fb.IncAdam(beta2=-0.1), ValueError,
         r"beta2 must be in \[0, 1\); got -0.1"),
    case("detadam-beta2", lambda f: fb.DetAdam(beta2=1.5), ValueError,
         r"beta2 must be in \[0, 1\); got 1.5"),
    case("signum-beta-1", lambda f: fb.IncSignum(beta=1.0), ValueError,
         r"beta must be in \[0, 1\); got 1.0"),
    case("signum-beta-nan", lambda f: fb.IncSignum(beta=float("nan")), ValueError,
         r"beta must be in \[0, 1\); got nan"),
    case("beta1-string", lambda f: fb.IncAdam(beta1="0.9"), TypeError,
         r"beta1 must be a real number"),
    case("batch-size-0", lambda f: fb.IncAdam(batch_size=0), ValueError,
         r"batch_size must be an integer >= 1; got 0"),
    case("batch-size-float", lambda f: fb.IncSignum(batch_size=2.0), TypeError,
         r"batch_size must be an integer"),
    case("batch-size-above-n", lambda f: sim(optimizer=fb.IncAdam(batch_size=7)), ValueError,
         r"batch_size must be in \[1, n\] = \[1, 6\] for this dataset; got 7"),
    case("sampling-name", lambda f: fb.IncAdam(sampling="random"), ValueError,
         r"sampling must be one of \['cyclic', 'replacement', 'reshuffle'\]; got 'random'"),
    case("sampling-type", lambda f: fb.SignGD(sampling=None), TypeError,
         r"sampling must be one of"),
    case("optimizer-name", lambda f: optimizer_from_dict({"name": "AdamW"}), ValueError,
         r"unknown optimizer name 'AdamW'"),
    # --- schedules -------------------------------------------------------------------------
    case("eta0-0", lambda f: fb.PolynomialDecay(eta0=0.0), ValueError,
         r"eta0 must be in \(0, inf\); got 0.0"),
    case("eta0-negative", lambda f: fb.PolynomialDecay(eta0=-0.1), ValueError,
         r"eta0 must be in \(0, inf\); got -0.1"),
    case("power-0", lambda f: fb.PolynomialDecay(power=0.0), ValueError,
         r"power must be in \(0, 1\]; got 0.0"),
    case("power-above-1", lambda f: fb.PolynomialDecay(power=1.5), ValueError,
         r"power must be in \(0, 1\]; got 1.5"),
    case("constant-0", lambda f: fb.Constant(0.0), ValueError, r"eta must be in \(0, inf\)"),
    case("constant-inf", lambda f: fb.Constant(np.inf), ValueError,
         r"eta must be in \(0, inf\); got inf"),
    case("schedule-name", lambda f: schedule_from_dict({"name": "Cosine"}), ValueError,
         r"Cosine"),
    # --- simulate --------------------------------------------------------------------------
    case("seed-generator", lambda f: sim(seed=np.random.default_rng(0)), TypeError,
         r"seed must be an integer >= 0, not a Generator"),
    case("epochs-0", lambda f: sim(epochs=0), ValueError, r"epochs must be an integer >= 1; got 0"),
    case("epochs-negative", lambda f: sim(epochs=-3), ValueError, r"epochs must be an integer"),
    case("epochs-float", lambda f: sim(epochs=2.5), TypeError, r"epochs must be an integer"),
    case("epochs-beyond-int64", lambda f: sim(epochs=2**70), ValueError, r"epochs"),
    case("record-0", lambda f: sim(record=0), ValueError, r"record must be an integer >= 1"),
    case("record-beyond-epochs", lambda f: sim(record=[2, 7]), ValueError,
         r"record epochs must be in \[0, epochs\] = \[0, 5\]; got 7"),
    case("record-negative", lambda f: sim(record=[-1]), ValueError,
         r"record epochs must be in \[0, epochs\]"),
    case("record-floats", lambda f: sim(record=[1.5]), TypeError,
         r"record must be a count or a 1-D sequence of integer epochs"),
    case("record-string", lambda f: sim(record="10"), TypeError, r"record must be"),
    case("loss-name", lambda f: sim(loss="hinge"), ValueError,
         r"loss must be one of \['exp', 'logistic'\]; got 'hinge'"),
    case("loss-type", lambda f: sim(loss=None), TypeError, r"loss must be one of"),
    case("seed-negative", lambda f: sim(seed=-1), ValueError, r"seed must be an integer >= 0"),
    case("seed-float", lambda f: sim(seed=1.0), TypeError, r"seed must be an integer"),
    case("w0-shape", lambda f: sim(w0=np.zeros(3)), ValueError,
         r"w0 must have shape \(d,\) = \(8,\); got \(3,\)"),
    case("w0-nan", lambda f: sim(w0=np.full(8, np.nan)), ValueError, r"w0 contains NaN"),
    case("data-array", lambda f: sim(data=X), TypeError, r"data must be a fastbias.Dataset"),
    case("optimizer-class", lambda f: sim(optimizer=fb.IncAdam), TypeError,
         r"optimizer must be a fastbias optimizer"),
    case("lr-float", lambda f: sim(lr=0.1), TypeError, r"lr must be a schedule"),
    case("progress-type", lambda f: sim(progress="yes"), TypeError,
         r"progress must be True or False"),
    case("checkpoint_every-0", lambda f: sim(checkpoint_every=0), ValueError,
         r"checkpoint_every must be in \(0, inf\)"),
    case("chunk_epochs-0", lambda f: sim(chunk_epochs=0), ValueError,
         r"chunk_epochs must be an integer >= 1"),
    case("checkpoint-type", lambda f: sim(checkpoint=3), TypeError, r"checkpoint"),
    case("resume-type", lambda f: sim(resume=3), TypeError, r"resume"),
    # --- trajectory and dataset files ------------------------------------------------------
    case("trajectory-truncated", lambda f: fb.Trajectory.load(f["traj_truncated"]), ValueError,
         r"trajectory file .*traj_truncated.npz' is corrupt"),
    case("trajectory-garbage", lambda f: fb.Trajectory.load(f["traj_garbage"]), ValueError,
         r"trajectory file .*traj_garbage.npz' is corrupt"),
    case("trajectory-shapes", lambda f: fb.Trajectory.load(f["traj_shapes"]), ValueError,
         r"trajectory file .*traj_shapes.npz' is inconsistent"),
    case("trajectory-format", lambda f: fb.Trajectory.load(f["traj_format"]), ValueError,
         r"trajectory file .*traj_format.npz' has format 'x-1'"),
    case("trajectory-is-checkpoint", lambda f: fb.Trajectory.load(f["ckpt"]), ValueError,
         r"not a fastbias trajectory file: missing"),
    case("dataset-garbage", lambda f: fb.Dataset.load(f["dataset_garbage"]), ValueError,
         r"dataset file .*dataset_garbage.npz' is corrupt"),
    # --- checkpoint files ------------------------------------------------------------------
    case("checkpoint-truncated", lambda f: fb.simulate(**CK, resume=f["ckpt_truncated"]),
         ValueError, r"checkpoint file .*ckpt_truncated.npz' is corrupt"),
    case("checkpoint-bitflip", lambda f: fb.simulate(**CK, resume=f["ckpt_bitflip"]),
         ValueError, r"checkpoint file .*ckpt_bitflip.npz' is corrupt"),
    case("checkpoint-other-data", lambda f: fb.simulate(**{**CK, "data": OTHER},
                                                        resume=f["ckpt"]),
         ValueError, r"belongs to a different run: data differs"),
    case("checkpoint-other-seed", lambda f: fb.simulate(**{**CK, "seed": 5}, resume=f["ckpt"]),
         ValueError, r"belongs to a different run: seed differs \(checkpoint 4, this call 5\)"),
    case("checkpoint-is-trajectory", lambda f: fb.simulate(**CK, resume=f["traj"]), ValueError,
         r"not a fastbias checkpoint file: missing"),
    case("checkpoint-rng-state", lambda f: fb.simulate(**CK, resume=f["ckpt_rng"]), ValueError,
         r"checkpoint .*ckpt_rng.npz"),
    case("checkpoint-counters", lambda f: fb.simulate(**CK, resume=f["ckpt_counters"]),
         ValueError, r"checkpoint .*ckpt_counters.npz"),
    case("checkpoint-nan", lambda f: fb.simulate(**CK, resume=f["ckpt_nan"]), ValueError,
         r"checkpoint .*ckpt_nan.npz"),
    case("checkpoint-int-dtype", lambda f: fb.simulate(**CK, resume=f["ckpt_int"]), ValueError,
         r"checkpoint .*ckpt_int.npz"),
    case("checkpoint-no-records", lambda f: fb.simulate(**CK, resume=f["ckpt_no_records"]),
         ValueError, r"checkpoint .*ckpt_no_records.npz"),
    # --- sweep and grid --------------------------------------------------------------------
    case("sweep-single-dict", lambda f: sweep(one_config()[0]), TypeError,
         r"configs must be a list of dicts .*wrap it in a list"),
    case("sweep-empty", lambda f: sweep([]), ValueError, r"configs must hold at least one"),
    case("sweep-not-dict", lambda f: sweep([1]), TypeError, r"configs\[0\] must be a dict"),
    case("sweep-unknown-key", lambda f: sweep(one_config(lrr=0.1)), TypeError,
         r"configs\[0\] has the unknown key 'lrr'"),
    case("sweep-managed-key", lambda f: sweep(one_config(checkpoint="x.npz")), TypeError,
         r"configs\[0\] has the key 'checkpoint', which a sweep manages itself"),
    case("sweep-missing-key", lambda f: sweep([{"data": DS, "optimizer": OPT}]), TypeError,
         r"configs\[0\] lacks the required key 'epochs'"),
    case("sweep-executor-name", lambda f: sweep(one_config(), executor="threads"), ValueError,
         r"executor must be None, 'serial' or a concurrent.futures.Executor; got 'threads'"),
    case("sweep-executor-type", lambda f: sweep(one_config(), executor=4), TypeError,
         r"executor must be None, 'serial' or a concurrent.futures.Executor"),
    case("sweep-max-workers", lambda f: sweep(one_config(), max_workers=0), ValueError,
         r"max_workers must be an integer >= 1; got 0"),
    case("sweep-max-workers-executor", lambda f: sweep(one_config(), "serial", max_workers=2),
         ValueError, r"max_workers applies only to the default executor"),
    case("sweep-out-file", lambda f: sweep(one_config(), "serial", out=f["a_file"]),
         ValueError, r"out must be a folder"),
    case("sweep-out-type", lambda f: sweep(one_config(), "serial", out=3), TypeError,
         r"out must be a path"),
    case("sweep-progress", lambda f: sweep(one_config(), "serial", progress="no"), TypeError,
         r"progress must be True or False"),
    case("grid-nothing", lambda f: grid(), TypeError, r"grid needs at least one keyword"),
    case("grid-empty-axis", lambda f: grid(seed=[]), ValueError,
         r"seed must list at least one value"),
    case("grid-unknown-key", lambda f: grid(betas=[0.9]), TypeError,
         r"grid has the unknown key 'betas'"),
    # --- metrics and geometry --------------------------------------------------------------
    case("log_loss-name", lambda f: fb.log_loss(DS.Z, np.ones(8), loss="hinge"), ValueError,
         r"loss must be one of"),
    case("log_loss-w-shape", lambda f: fb.log_loss(DS.Z, np.ones(5)), ValueError, r"\bw\b"),
    case("normalized_margin-p", lambda f: fb.normalized_margin(np.ones(8), DS, p=0.5),
         ValueError, r"p must be in \[1, inf\]"),
    case("normalized_margin-w-shape", lambda f: fb.normalized_margin(np.ones(5), DS),
         ValueError, r"w must have 8 entries"),
    case("margin_ratio-gamma_star", lambda f: fb.margin_ratio(np.ones(8), DS, 2, 0.0),
         ValueError, r"gamma_star must be in \(0, inf\)"),
    case("cosine-length", lambda f: fb.cosine(np.ones(8), np.ones(5)), ValueError,
         r"u must have length d = 8"),
    case("cosine-nan", lambda f: fb.cosine(np.full(8, np.nan), np.ones(8)), ValueError,
         r"w contains NaN"),
    case("trajectory-gamma_star", lambda f: sim().margin_ratio(2, 0.0), ValueError,
         r"gamma_star must be in \(0, inf\)"),
    case("trajectory-p", lambda f: sim().normalized_margin(0.5), ValueError,
         r"p must be in \[1, inf\]"),
    case("max_margin-p", lambda f: fb.max_margin(DS, p=0.5), ValueError,
         r"p must be in \[1, inf\]"),
    case("max_margin-not-separable", lambda f: fb.max_margin(np.array([[1.0], [-1.0]])),
         ValueError, r"not linearly separable"),
    case("fixed_point-tol", lambda f: fb.fixed_point(DS, tol=0.0), ValueError, r"tol must be in"),
    case("fixed_point-max_iter", lambda f: fb.fixed_point(DS, max_iter=0), ValueError,
         r"max_iter must be an integer >= 1"),
]


def test_the_matrix_is_large():
    assert len(CASES) >= 25


@pytest.mark.parametrize("call, exc, match", CASES)
def test_bad_input_raises_a_clear_error(files, call, exc, match):
    with pytest.raises(exc, match=match):
        call(files)


# --------------------------------------------------------------------------------------------
# Valid input that must not be rejected or blow up
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e6, 1e20])
def test_separable_data_are_accepted_at_any_scale(scale):
    ds = fb.Dataset(X * scale, Y)
    assert ds.n == 6


def test_record_count_above_epochs_records_every_epoch():
    tr = sim(record=10**12)
    np.testing.assert_array_equal(tr.epochs, [1, 2, 3, 4, 5])


def test_gd_leaving_the_float64_range_is_a_clear_error():
    # exp loss, non-separable data (z_1 = -z_0), a start with margins -6 and 6: the exact GD
    # iterate has |w| ~ 1e84 after one epoch and ~ exp(1e84) after two, far beyond float64;
    # the run must not return NaN silently
    data = fb.Dataset([[1.0, 2.0], [1.0, 2.0]], [-1, 1], check_separable=False)
    with pytest.raises((ValueError, ArithmeticError), match=r"\blr\b"):
        fb.simulate(data, fb.GD(batch_size=1), epochs=2, w0=[2.0, 2.0])


def test_checkpoint_path_without_suffix_resumes(tmp_path):
    path = tmp_path / "run"  # saved as run.npz, like numpy.savez
    full = fb.simulate(**CK, checkpoint=path)
    resumed = fb.simulate(**CK, resume=path)
    np.testing.assert_array_equal(resumed.w, full.w)


# --------------------------------------------------------------------------------------------
# Fuzz
# --------------------------------------------------------------------------------------------

PARAMETERS = re.compile(
    r"\b(X|y|data|beta1|beta2|beta|batch_size|sampling|eta0|power|eta|epochs|record|loss|"
    r"seed|w0|check_separable|lr)\b"
)
BAD_REAL = st.sampled_from([-0.5, 1.0, 1.5, float("nan"), float("inf")])


def _now_and_then(draw, valid, bad):
    """Mostly a valid value, sometimes (about one draw in ten) a bad one."""
    return draw(bad) if draw(st.integers(0, 9)) == 5 else draw(valid)


@st.composite
def fuzz_inputs(draw):
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    X = np.array(draw(st.lists(st.floats(-4, 4), min_size=n * d, max_size=n * d)))
    X = X.reshape(n, d)
    if draw(st.integers(0, 9)) == 5:
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    labels = _now_and_then(
        draw, st.sampled_from([(-1.0, 1.0), (0.0, 1.0)]), st.just((-2, -1, 0, 1, 2))
    )
    y = draw(st.lists(st.sampled_from(labels), min_size=n, max_size=n))

    def beta():
        return _now_and_then(draw, st.floats(0.0, 0.999), BAD_REAL)

    def batch():
        return _now_and_then(draw, st.one_of(st.none(), st.integers(1, n)),
                             st.sampled_from([-1, 0, n + 1, 2.0]))

    def sampling():
        return _now_and_then(draw, st.sampled_from(SAMPLINGS), st.sampled_from(["bogus", 1]))

    kind = draw(st.sampled_from(
        ["IncAdam", "DetAdam", "AdamProxy", "IncSignum", "SignGD", "GD", "NormalizedGD"]
    ))
    if kind == "IncAdam":
        params = dict(beta1=beta(), beta2=beta(), batch_size=batch(), sampling=sampling())
    elif kind == "DetAdam":
        params = dict(beta1=beta(), beta2=beta())
    elif kind == "AdamProxy":
        params = {}
    elif kind == "IncSignum":
        params = dict(beta=beta(), batch_size=batch(), sampling=sampling())
    else:
        params = dict(batch_size=batch(), sampling=sampling())
    rate = _now_and_then(draw, st.floats(1e-3, 5.0), st.sampled_from([0.0, -1.0, np.inf]))
    lr = draw(st.sampled_from([None, "PolynomialDecay", "Constant"]))
    if lr == "PolynomialDecay":
        lr = (lr, rate, _now_and_then(draw, st.floats(0.05, 1.0), BAD_REAL))
    elif lr == "Constant":
        lr = (lr, rate)
    w0 = _now_and_then(
        draw,
        st.one_of(st.none(), st.lists(st.floats(-3, 3), min_size=d, max_size=d)),
        st.lists(st.floats(-3, 3), min_size=d + 1, max_size=d + 1),
    )
    kwargs = dict(
        epochs=_now_and_then(draw, st.integers(1, 6), st.sampled_from([-1, 0, 2.0])),
        record=_now_and_then(
            draw,
            st.one_of(st.integers(1, 8), st.lists(st.integers(0, 1), max_size=3)),
            st.one_of(st.sampled_from([0, -1, "3"]), st.lists(st.integers(-1, 8), max_size=4)),
        ),
        loss=_now_and_then(draw, st.sampled_from(["exp", "logistic"]),
                           st.sampled_from(["hinge", None])),
        seed=_now_and_then(draw, st.integers(0, 2**40), st.sampled_from([-1, 1.5])),
        w0=w0,
    )
    return X, y, draw(st.booleans()), (kind, params), lr, kwargs


def _build_and_run(X, y, check_separable, optimizer, lr, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroEntryWarning)
        data = fb.Dataset(X, y, check_separable=check_separable)
    kind, params = optimizer
    opt = getattr(fb, kind)(**params)
    schedule = None if lr is None else getattr(fb, lr[0])(*lr[1:])
    return data, fb.simulate(data, opt, lr=schedule, **kwargs)


@settings(deadline=None, max_examples=150)
@given(fuzz_inputs())
def test_fuzz_simulate_gives_a_finite_trajectory_or_a_clear_error(inputs):
    try:
        data, tr = _build_and_run(*inputs)
    except (ValueError, TypeError, ArithmeticError) as exc:  # e.g. GD overflowing float64
        assert PARAMETERS.search(str(exc)), f"the message names no parameter: {exc}"
        return
    epochs = inputs[5]["epochs"]
    assert isinstance(tr, fb.Trajectory)
    assert tr.epochs[-1] == epochs and np.all(np.diff(tr.epochs) > 0)
    k = tr.epochs.shape[0]
    assert tr.w.shape == (k, data.d) and tr.log_loss.shape == (k,)
    assert tr.min_margin.shape == (k,)
    assert np.all(np.isfinite(tr.w)) and np.all(np.isfinite(tr.log_loss))
    assert np.all(np.isfinite(tr.min_margin))
