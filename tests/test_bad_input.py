"""Bad input at every public entry point: a ValueError or TypeError that names the parameter.

Never a Numba typing error, a NumPy message without the parameter name, a crash or a hang.
Every case asserts the exception type and a message that names the parameter (or the file)
and what is wrong with it. The last test fuzzes ``simulate`` (with the objects it takes) with
Hypothesis: each draw makes at most one parameter invalid, and the error must be of the type
that value calls for and name exactly that parameter; a draw with no invalid parameter gives a
valid, finite Trajectory (or, for a run whose exact iterates leave the float64 range, an
ArithmeticError that names the learning rate).

Crafted and damaged files, output paths and the other file faults of SPEC 10 are in
``test_files.py``.
"""

import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbias as fb
from fastbias.datasets import ZeroEntryWarning
from fastbias.optimizers import SAMPLINGS, UnboundedStepWarning, optimizer_from_dict
from fastbias.schedules import schedule_from_dict
from fastbias.sweep import grid, sweep

DS = fb.datasets.gaussian(n=6, d=8, seed=2)
OTHER = fb.datasets.gaussian(n=6, d=8, seed=3)
X, Y = DS.X.copy(), DS.y.copy()
OPT = fb.IncAdam(sampling="reshuffle")
# the run that the checkpoint files below belong to
CK = dict(data=DS, optimizer=OPT, epochs=30, seed=4, record=[0, 10, 30], progress=False)


def sim(**kwargs):
    """simulate() on valid defaults, with some arguments replaced."""
    return fb.simulate(
        **{"data": DS, "optimizer": OPT, "epochs": 5, "record": 3, "progress": False, **kwargs}
    )


def one_config(**kwargs):
    return [{"data": DS, "optimizer": OPT, "epochs": 5, **kwargs}]


def _rewrite(src, dst, **changes):
    """Copy an .npz file with some arrays replaced (None: removed); a CRC-valid tampering.

    The copy has no content checksum (as files written before checksums were stored), so
    that the checks behind it are reached.
    """
    with np.load(src) as archive:
        arrays = dict(archive)
    arrays.pop("checksum", None)
    arrays.update(changes)
    np.savez(dst, **{k: v for k, v in arrays.items() if v is not None})
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Valid, truncated, corrupt and tampered trajectory, checkpoint and dataset files.

    The checkpoint has the format "fastbias-checkpoint-2": W (k, d), state (ns, k, d),
    scale (2 + ns), carry (1 + k), counters (epoch, step), rng_state, pending, rec_epochs,
    rec_w (r, k, d) and the params JSON.
    """
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
        W, state, rec_epochs = archive["W"], archive["state"], archive["rec_epochs"]
    assert W.shape == (1, 8) and state.shape == (2, 1, 8)  # Adam: m and v
    at = raw.find(W.tobytes()) + 3  # a byte inside the stored iterate
    flipped = bytearray(raw)
    flipped[at] ^= 0xFF
    paths["ckpt_bitflip"] = folder / "ckpt_bitflip.npz"
    paths["ckpt_bitflip"].write_bytes(bytes(flipped))
    tamper = {
        "ckpt_rng": dict(rng_state=np.array("{not json")),
        "ckpt_counters": dict(counters=np.array([10**6, 10**7], dtype=np.int64)),
        "ckpt_steps": dict(counters=np.array([10, 7], dtype=np.int64)),
        "ckpt_pending": dict(pending=np.full(6, 6, dtype=np.int64)),
        "ckpt_rec_epochs": dict(rec_epochs=np.array([0, 11, 30], dtype=np.int64)),
        "ckpt_state": dict(state=state[:1]),
        "ckpt_nan": dict(W=np.full((1, 8), np.nan)),
        "ckpt_int": dict(W=np.zeros((1, 8), dtype=np.int64)),
        "ckpt_no_records": dict(rec_w=None),
    }
    assert rec_epochs.tolist() == [0, 10, 30]
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
    case(
        "X-nan",
        lambda f: fb.Dataset(np.where(np.eye(6, 8) > 0, np.nan, X), Y),
        ValueError,
        r"X contains NaN at row 0, column 0",
    ),
    case(
        "X-inf",
        lambda f: fb.Dataset(np.where(np.eye(6, 8) > 0, -np.inf, X), Y),
        ValueError,
        r"X contains inf at row 0, column 0",
    ),
    case(
        "y-nan",
        lambda f: fb.Dataset(X, np.where(np.arange(6) == 2, np.nan, Y)),
        ValueError,
        r"y contains NaN at index 2",
    ),
    case(
        "X-1d",
        lambda f: fb.Dataset(X[0], Y),
        ValueError,
        r"X must be a 2-D array; got shape \(8,\)",
    ),
    case(
        "X-3d",
        lambda f: fb.Dataset(X[None], Y),
        ValueError,
        r"X must be a 2-D array; got shape \(1, 6, 8\)",
    ),
    case(
        "X-strings",
        lambda f: fb.Dataset([["a", "b"]], [1]),
        TypeError,
        r"X must hold real numbers; got an array of dtype <U1",
    ),
    case(
        "X-complex",
        lambda f: fb.Dataset(X + 1j, Y),
        TypeError,
        r"X must hold real numbers; got an array of dtype complex128",
    ),
    case(
        "X-object",
        lambda f: fb.Dataset(None, [1]),
        TypeError,
        r"X must hold real numbers; got an array of dtype object",
    ),
    case(
        "X-ragged",
        lambda f: fb.Dataset([[1.0, 2.0], [3.0]], [1, -1]),
        ValueError,
        r"X must be a 2-D array of real numbers; setting an array element with a sequence",
    ),
    case(
        "X-empty",
        lambda f: fb.Dataset(np.zeros((0, 3)), np.zeros(0)),
        ValueError,
        r"X must not be empty; got shape \(0, 3\)",
    ),
    case(
        "y-length",
        lambda f: fb.Dataset(X, Y[:5]),
        ValueError,
        r"y must have one label per row of X: X has 6 rows, y has 5",
    ),
    case(
        "y-2d",
        lambda f: fb.Dataset(X, Y[:, None]),
        ValueError,
        r"y must be a 1-D array; got shape \(6, 1\)",
    ),
    case(
        "y-one-class",
        lambda f: fb.Dataset(X, np.zeros(6)),
        ValueError,
        r"y must hold exactly two distinct label values .*got 1 distinct",
    ),
    case(
        "y-three-classes",
        lambda f: fb.Dataset(X, [0, 1, 2, 0, 1, 2]),
        ValueError,
        r"y must hold exactly two distinct label values .*got 3 distinct .*"
        r"use fb.MulticlassDataset",
    ),
    case(
        "y-three-text-labels",
        lambda f: fb.Dataset(X[:3], ["a", "b", "c"]),
        ValueError,
        r"text labels y must .*exactly two distinct values; got 3 distinct values",
    ),
    case(
        "X-subnormal-row",
        lambda f: fb.Dataset([[1e-310, 2e-310], [1.0, 1.0]], [1, 1]),
        ValueError,
        r"X has rows whose entries are all subnormal.*first row 0",
    ),
    case(
        "shifted-diagonal-repeated-a",
        lambda f: fb.datasets.shifted_diagonal([1.0, 2.0, 1.0]),
        ValueError,
        r"a must hold distinct values .*1\.0 occurs more than once",
    ),
    case(
        "not-separable",
        lambda f: fb.Dataset([[1.0], [1.0]], [1, -1]),
        ValueError,
        r"data are not linearly separable \(no w has y_i <w, x_i> > 0 for every i\); "
        r"pass check_separable=False",
    ),
    case(
        "check_separable-type",
        lambda f: fb.Dataset(X, Y, check_separable="no"),
        TypeError,
        r"check_separable must be True or False; got 'no'",
    ),
    case(
        "gaussian-n",
        lambda f: fb.datasets.gaussian(n=0),
        ValueError,
        r"n must be an integer >= 1; got 0",
    ),
    case(
        "gaussian-d-float",
        lambda f: fb.datasets.gaussian(d=2.5),
        TypeError,
        r"d must be an integer; got 2.5 of type float",
    ),
    case(
        "gaussian-not-separable",
        lambda f: fb.datasets.gaussian(n=40, d=2),
        ValueError,
        r"data are not linearly separable",
    ),
    case(
        "gaussian-seed",
        lambda f: fb.datasets.gaussian(seed=-1),
        ValueError,
        r"seed must be an integer >= 0; got -1",
    ),
    case(
        "gr-low",
        lambda f: fb.datasets.generalized_rademacher(low=0.0),
        ValueError,
        r"low must be in \(0, inf\); got 0.0",
    ),
    case(
        "gr-high",
        lambda f: fb.datasets.generalized_rademacher(low=2.0, high=1.0),
        ValueError,
        r"high must be in \[2, inf\); got 1.0",
    ),
    case(
        "diagonal-a",
        lambda f: fb.datasets.shifted_diagonal(a=[1.0, -1.0]),
        ValueError,
        r"a must be positive; got min\(a\) = -1.0",
    ),
    case(
        "diagonal-a-nan",
        lambda f: fb.datasets.shifted_diagonal(a=[1.0, np.nan]),
        ValueError,
        r"a contains NaN at index 1",
    ),
    case(
        "diagonal-delta",
        lambda f: fb.datasets.shifted_diagonal(delta=0.0),
        ValueError,
        r"delta must be in \(0, inf\); got 0.0",
    ),
    # --- optimizers ------------------------------------------------------------------------
    case(
        "beta1-1",
        lambda f: fb.IncAdam(beta1=1.0),
        ValueError,
        r"beta1 must be in \[0, 1\); got 1.0",
    ),
    case(
        "beta2-negative",
        lambda f: fb.IncAdam(beta2=-0.1),
        ValueError,
        r"beta2 must be in \[0, 1\); got -0.1",
    ),
    case(
        "detadam-beta2",
        lambda f: fb.DetAdam(beta2=1.5),
        ValueError,
        r"beta2 must be in \[0, 1\); got 1.5",
    ),
    case(
        "signum-beta-1",
        lambda f: fb.IncSignum(beta=1.0),
        ValueError,
        r"beta must be in \[0, 1\); got 1.0",
    ),
    case(
        "signum-beta-nan",
        lambda f: fb.IncSignum(beta=float("nan")),
        ValueError,
        r"beta must be in \[0, 1\); got nan",
    ),
    case(
        "beta1-string",
        lambda f: fb.IncAdam(beta1="0.9"),
        TypeError,
        r"beta1 must be a real number; got '0.9' of type str",
    ),
    case(
        "eps-negative",
        lambda f: fb.IncAdam(eps=-1e-8),
        ValueError,
        r"eps must be in \[0, inf\); got -1e-08",
    ),
    case(
        "optimizer-torch-betas",
        lambda f: fb.IncAdam(betas=(0.9, 0.99)),
        TypeError,
        r"IncAdam got an unexpected option 'betas': give beta1=\.\.\., beta2=\.\.\.",
    ),
    case(
        "batch-size-0",
        lambda f: fb.IncAdam(batch_size=0),
        ValueError,
        r"batch_size must be an integer >= 1; got 0",
    ),
    case(
        "batch-size-float",
        lambda f: fb.IncSignum(batch_size=2.0),
        TypeError,
        r"batch_size must be an integer; got 2.0 of type float",
    ),
    case(
        "batch-size-above-n",
        lambda f: sim(optimizer=fb.IncAdam(batch_size=7)),
        ValueError,
        r"batch_size must be in \[1, n\] = \[1, 6\] for this dataset; got 7",
    ),
    case(
        "sampling-name",
        lambda f: fb.IncAdam(sampling="random"),
        ValueError,
        r"sampling must be one of \['cyclic', 'replacement', 'reshuffle'\]; got 'random'",
    ),
    case(
        "sampling-type",
        lambda f: fb.SignGD(sampling=None),
        TypeError,
        r"sampling must be one of \['cyclic', 'replacement', 'reshuffle'\]; got None",
    ),
    case(
        "optimizer-name",
        lambda f: optimizer_from_dict({"name": "AdamW"}),
        ValueError,
        r"unknown optimizer name 'AdamW'; expected one of \['AdaBelief', 'AdaGrad', ",
    ),
    # --- schedules -------------------------------------------------------------------------
    case(
        "eta0-0",
        lambda f: fb.PolynomialDecay(eta0=0.0),
        ValueError,
        r"eta0 must be in \(0, inf\); got 0.0",
    ),
    case(
        "eta0-negative",
        lambda f: fb.PolynomialDecay(eta0=-0.1),
        ValueError,
        r"eta0 must be in \(0, inf\); got -0.1",
    ),
    case(
        "power-0",
        lambda f: fb.PolynomialDecay(power=0.0),
        ValueError,
        r"power must be in \(0, 1\]; got 0.0",
    ),
    case(
        "power-above-1",
        lambda f: fb.PolynomialDecay(power=1.5),
        ValueError,
        r"power must be in \(0, 1\]; got 1.5",
    ),
    case(
        "constant-0", lambda f: fb.Constant(0.0), ValueError, r"eta must be in \(0, inf\); got 0.0"
    ),
    case(
        "constant-inf",
        lambda f: fb.Constant(np.inf),
        ValueError,
        r"eta must be in \(0, inf\); got inf",
    ),
    case(
        "schedule-name",
        lambda f: schedule_from_dict({"name": "Cosine"}),
        ValueError,
        r"unknown schedule name 'Cosine'; expected one of \['Constant', 'PolynomialDecay'\]",
    ),
    # --- simulate --------------------------------------------------------------------------
    case(
        "seed-generator",
        lambda f: sim(seed=np.random.default_rng(0)),
        TypeError,
        r"seed must be an integer >= 0, not a Generator",
    ),
    case("epochs-0", lambda f: sim(epochs=0), ValueError, r"epochs must be an integer >= 1; got 0"),
    case(
        "epochs-negative",
        lambda f: sim(epochs=-3),
        ValueError,
        r"epochs must be an integer >= 1; got -3",
    ),
    case(
        "epochs-float",
        lambda f: sim(epochs=2.5),
        TypeError,
        r"epochs must be an integer \(1e6 style is accepted when it is a whole number\); "
        r"got 2.5",
    ),
    case(
        "epochs-beyond-int64",
        lambda f: sim(epochs=2**70),
        ValueError,
        r"epochs must be at most 2\*\*53 / steps per epoch = \d+ for this data and batch size "
        r"\(the step counter must stay exact\); got 1180591620717411303424",
    ),
    case("record-0", lambda f: sim(record=0), ValueError, r"record must be an integer >= 1; got 0"),
    case(
        "record-negative",
        lambda f: sim(record=[-1]),
        ValueError,
        r"record epochs must be >= 0; got -1",
    ),
    case(
        "record-floats",
        lambda f: sim(record=[1.5]),
        TypeError,
        r"record must be a count per decade or a 1-D sequence of integer epochs; got \[1.5\]",
    ),
    case(
        "record-beyond-int64",
        lambda f: sim(record=[2, 2**70]),
        TypeError,
        r"record must be a count per decade or a 1-D sequence of integer epochs; got \[2, 1180",
    ),
    case(
        "record-string",
        lambda f: sim(record="10"),
        TypeError,
        r"record must be an integer; got '10' of type str",
    ),
    case(
        "record-too-many",
        lambda f: sim(record=10**12, epochs=10**13),
        ValueError,
        r"record=1000000000000 would keep up to 10,000,000,000,000 iterates of 64 bytes: "
        r"[\d.e+]+ GiB, more than the 2 GiB allowed for records",
    ),
    case(
        "loss-name",
        lambda f: sim(loss="hinge"),
        ValueError,
        r"loss must be one of \['exp', 'logistic'\] for binary data; got 'hinge'",
    ),
    case(
        "loss-type",
        lambda f: sim(loss=3),
        TypeError,
        r"loss must be one of \['exp', 'logistic'\] for binary data \(or a fastbias Loss\); "
        r"got 3",
    ),
    case(
        "loss-multiclass-only",
        lambda f: sim(loss="ce"),
        ValueError,
        r"loss must be one of \['exp', 'logistic'\] for binary data; got 'ce'",
    ),
    case(
        "seed-negative", lambda f: sim(seed=-1), ValueError, r"seed must be an integer >= 0; got -1"
    ),
    case(
        "seed-float",
        lambda f: sim(seed=1.0),
        TypeError,
        r"seed must be an integer; got 1.0 of type float",
    ),
    case(
        "w0-shape",
        lambda f: sim(w0=np.zeros(3)),
        ValueError,
        r"w0 must have shape \(8,\); got \(3,\)",
    ),
    case("w0-nan", lambda f: sim(w0=np.full(8, np.nan)), ValueError, r"w0 contains NaN at index 0"),
    case(
        "w0-huge",
        lambda f: sim(w0=np.full(8, 1e308)),
        ValueError,
        r"w0 is too large for these data: its scores <w0, x_i> leave the float64 range",
    ),
    case(
        "data-array",
        lambda f: sim(data=X),
        TypeError,
        r"data must be a fastbias.Dataset or MulticlassDataset; got ndarray",
    ),
    case(
        "optimizer-class",
        lambda f: sim(optimizer=fb.IncAdam),
        TypeError,
        r"optimizer must be a fastbias optimizer such as fb.IncAdam\(\); got <class",
    ),
    case(
        "lr-float",
        lambda f: sim(lr=0.1),
        TypeError,
        r"lr must be a schedule, not a number: write lr=fb.Constant\(0.1\)",
    ),
    case(
        "lr-string",
        lambda f: sim(lr="0.1"),
        TypeError,
        r"lr must be a schedule such as fb.PolynomialDecay\(0.1, 0.5\) or fb.Constant\(0.1\), "
        r"or a function t -> eta; got '0.1'",
    ),
    case(
        "progress-type",
        lambda f: sim(progress="yes"),
        TypeError,
        r"progress must be True or False, or None for the default .*; got 'yes'",
    ),
    case(
        "checkpoint_every-0",
        lambda f: sim(checkpoint_every=0),
        ValueError,
        r"checkpoint_every must be in \(0, inf\); got 0",
    ),
    case(
        "chunk_epochs-0",
        lambda f: sim(chunk_epochs=0),
        ValueError,
        r"chunk_epochs must be an integer >= 1; got 0",
    ),
    case(
        "checkpoint-type",
        lambda f: sim(checkpoint=3),
        TypeError,
        r"checkpoint must be a file path \(str or os.PathLike\) or None; got 3",
    ),
    case(
        "resume-type",
        lambda f: sim(resume=3),
        TypeError,
        r"resume must be a file path \(str or os.PathLike\) or None; got 3",
    ),
    case(
        "resume-true-without-checkpoint",
        lambda f: sim(resume=True),
        ValueError,
        r"resume=True continues the run saved in `checkpoint`; give checkpoint=<path> too",
    ),
    # --- trajectory and dataset files ------------------------------------------------------
    case(
        "trajectory-truncated",
        lambda f: fb.Trajectory.load(f["traj_truncated"]),
        ValueError,
        r"trajectory file .*traj_truncated.npz' is corrupt or not a fastbias trajectory file: "
        r"BadZipFile",
    ),
    case(
        "trajectory-garbage",
        lambda f: fb.Trajectory.load(f["traj_garbage"]),
        ValueError,
        r"trajectory file .*traj_garbage.npz' is corrupt or not a fastbias trajectory file: "
        r"BadZipFile",
    ),
    case(
        "trajectory-shapes",
        lambda f: fb.Trajectory.load(f["traj_shapes"]),
        ValueError,
        r"trajectory file .*traj_shapes.npz' is inconsistent: inconsistent trajectory arrays: "
        r"epochs \(3,\), w \(2, 8\)",
    ),
    case(
        "trajectory-format",
        lambda f: fb.Trajectory.load(f["traj_format"]),
        ValueError,
        r"trajectory file .*traj_format.npz' has format 'x-1'; expected 'fastbias-trajectory-2'",
    ),
    case(
        "trajectory-is-checkpoint",
        lambda f: fb.Trajectory.load(f["ckpt"]),
        ValueError,
        r"trajectory file .*ckpt.npz' is corrupt or not a fastbias trajectory file: missing "
        r"\['epochs', 'w', 'log_loss', 'min_margin'\]",
    ),
    case(
        "dataset-garbage",
        lambda f: fb.Dataset.load(f["dataset_garbage"]),
        ValueError,
        r"dataset file .*dataset_garbage.npz' is corrupt or not a fastbias dataset file: "
        r"BadZipFile",
    ),
    # --- checkpoint files ------------------------------------------------------------------
    case(
        "checkpoint-truncated",
        lambda f: fb.simulate(**CK, resume=f["ckpt_truncated"]),
        ValueError,
        r"checkpoint file .*ckpt_truncated.npz' is corrupt or not a fastbias "
        r"checkpoint file: BadZipFile",
    ),
    case(
        "checkpoint-bitflip",
        lambda f: fb.simulate(**CK, resume=f["ckpt_bitflip"]),
        ValueError,
        r"checkpoint file .*ckpt_bitflip.npz' is corrupt or not a fastbias "
        r"checkpoint file: BadZipFile: Bad CRC-32 for file 'W.npy'",
    ),
    case(
        "checkpoint-other-data",
        lambda f: fb.simulate(**{**CK, "data": OTHER}, resume=f["ckpt"]),
        ValueError,
        r"checkpoint .*ckpt.npz' belongs to a different run: data differs",
    ),
    case(
        "checkpoint-other-seed",
        lambda f: fb.simulate(**{**CK, "seed": 5}, resume=f["ckpt"]),
        ValueError,
        r"checkpoint .*ckpt.npz' belongs to a different run: seed differs "
        r"\(checkpoint 4, this call 5\); it is left untouched",
    ),
    case(
        "checkpoint-is-trajectory",
        lambda f: fb.simulate(**CK, resume=f["traj"]),
        ValueError,
        r"checkpoint file .*traj.npz' has format 'fastbias-trajectory-2'; expected "
        r"'fastbias-checkpoint-2'",
    ),
    case(
        "checkpoint-rng-state",
        lambda f: fb.simulate(**CK, resume=f["ckpt_rng"]),
        ValueError,
        r"file .*ckpt_rng.npz': rng_state is not valid JSON",
    ),
    case(
        "checkpoint-counters",
        lambda f: fb.simulate(**CK, resume=f["ckpt_counters"]),
        ValueError,
        r"checkpoint .*ckpt_counters.npz' has done 1,000,000 epochs; epochs must "
        r"be at least that to resume it; got 30",
    ),
    case(
        "checkpoint-steps",
        lambda f: fb.simulate(**CK, resume=f["ckpt_steps"]),
        ValueError,
        r"checkpoint .*ckpt_steps.npz' is corrupt: epoch 10 and step 7 do not fit this run",
    ),
    case(
        "checkpoint-pending",
        lambda f: fb.simulate(**CK, resume=f["ckpt_pending"]),
        ValueError,
        r"checkpoint .*ckpt_pending.npz' is corrupt: the pending sample order does not fit",
    ),
    case(
        "checkpoint-record-epochs",
        lambda f: fb.simulate(**CK, resume=f["ckpt_rec_epochs"]),
        ValueError,
        r"checkpoint .*ckpt_rec_epochs.npz' is corrupt: recorded epochs "
        r"\[0, 11, 30\]",
    ),
    case(
        "checkpoint-state-shape",
        lambda f: fb.simulate(**CK, resume=f["ckpt_state"]),
        ValueError,
        r"checkpoint .*ckpt_state.npz' is corrupt: state must be finite float64 of "
        r"shape \(2, 1, 8\)",
    ),
    case(
        "checkpoint-nan",
        lambda f: fb.simulate(**CK, resume=f["ckpt_nan"]),
        ValueError,
        r"checkpoint .*ckpt_nan.npz' is corrupt: W must be finite float64 of shape \(1, 8\)",
    ),
    case(
        "checkpoint-int-dtype",
        lambda f: fb.simulate(**CK, resume=f["ckpt_int"]),
        ValueError,
        r"checkpoint file .*ckpt_int.npz' is corrupt or not a fastbias checkpoint file: "
        r"array 'W' has dtype int64; expected kind 'f'",
    ),
    case(
        "checkpoint-no-records",
        lambda f: fb.simulate(**CK, resume=f["ckpt_no_records"]),
        ValueError,
        r"checkpoint file .*ckpt_no_records.npz' is corrupt or not a fastbias "
        r"checkpoint file: missing \['rec_w'\]",
    ),
    case(
        "checkpoint-fewer-epochs",
        lambda f: fb.simulate(**{**CK, "epochs": 20}, resume=f["ckpt"]),
        ValueError,
        r"checkpoint .*ckpt.npz' has done 30 epochs; epochs must be at least that "
        r"to resume it; got 20",
    ),
    case(
        "checkpoint-missing",
        lambda f: fb.simulate(**CK, resume=f["a_file"].parent / "no"),
        FileNotFoundError,
        r"checkpoint file '.*files\d*/no' does not exist",
    ),
    # --- sweep and grid --------------------------------------------------------------------
    case(
        "sweep-single-dict",
        lambda f: sweep(one_config()[0]),
        TypeError,
        r"configs must be a list of dicts .*wrap it in a list",
    ),
    case(
        "sweep-empty",
        lambda f: sweep([]),
        ValueError,
        r"configs must hold at least one config; got an empty sequence",
    ),
    case(
        "sweep-not-dict",
        lambda f: sweep([1]),
        TypeError,
        r"configs\[0\] must be a dict of simulate\(\) arguments; got int 1",
    ),
    case(
        "sweep-unknown-key",
        lambda f: sweep(one_config(lrr=0.1)),
        TypeError,
        r"configs\[0\] has the unknown key 'lrr'",
    ),
    case(
        "sweep-managed-key",
        lambda f: sweep(one_config(checkpoint="x.npz")),
        TypeError,
        r"configs\[0\] has the key 'checkpoint', which a sweep manages itself",
    ),
    case(
        "sweep-missing-key",
        lambda f: sweep([{"data": DS, "optimizer": OPT}]),
        TypeError,
        r"configs\[0\] lacks the required key 'epochs'",
    ),
    case(
        "sweep-executor-name",
        lambda f: sweep(one_config(), executor="thread"),
        ValueError,
        r"executor must be None \(threads\), 'threads', 'processes', 'serial' or a "
        r"concurrent.futures.Executor; got 'thread'",
    ),
    case(
        "sweep-executor-type",
        lambda f: sweep(one_config(), executor=4),
        TypeError,
        r"executor must be None \(threads\), 'threads', 'processes', 'serial' or a "
        r"concurrent.futures.Executor .*; got 4",
    ),
    case(
        "sweep-max-workers",
        lambda f: sweep(one_config(), max_workers=0),
        ValueError,
        r"max_workers must be an integer >= 1; got 0",
    ),
    case(
        "sweep-max-workers-executor",
        lambda f: sweep(one_config(), "serial", max_workers=2),
        ValueError,
        r"max_workers applies only to the default executor \(threads\) and "
        r"'processes'; got max_workers=2 with executor='serial'",
    ),
    case(
        "sweep-out-file",
        lambda f: sweep(one_config(), "serial", out=f["a_file"]),
        ValueError,
        r"out must be a folder; '.*a_file.txt' exists and is not one",
    ),
    case(
        "sweep-out-type",
        lambda f: sweep(one_config(), "serial", out=3),
        TypeError,
        r"out must be a path to a folder \(str or os.PathLike\) or None; got 3",
    ),
    case(
        "sweep-progress",
        lambda f: sweep(one_config(), "serial", progress="no"),
        TypeError,
        r"progress must be True or False, or None for the default .*; got 'no'",
    ),
    case(
        "grid-nothing",
        lambda f: grid(),
        TypeError,
        r"grid needs at least one keyword argument among \['data', 'optimizer'",
    ),
    case(
        "grid-empty-axis",
        lambda f: grid(seed=[]),
        ValueError,
        r"seed must list at least one value; got an empty list",
    ),
    case(
        "grid-unknown-key",
        lambda f: grid(betas=[0.9]),
        TypeError,
        r"grid has the unknown key 'betas'; allowed keys are the simulate\(\) arguments",
    ),
    # --- metrics and geometry --------------------------------------------------------------
    case(
        "log_loss-name",
        lambda f: fb.log_loss(DS.Z, np.ones(8), loss="hinge"),
        ValueError,
        r"loss must be one of \['exp', 'logistic'\] for binary data; got 'hinge'",
    ),
    case(
        "log_loss-w-shape",
        lambda f: fb.log_loss(DS.Z, np.ones(5)),
        ValueError,
        r"w must have shape \(d,\) or \(r, d\) with d = 8; got \(5,\)",
    ),
    case(
        "normalized_margin-p",
        lambda f: fb.normalized_margin(DS, np.ones(8), p=0.5),
        ValueError,
        r"p must be in \[1, inf\]; got 0.5",
    ),
    case(
        "normalized_margin-w-shape",
        lambda f: fb.normalized_margin(DS, np.ones(5)),
        ValueError,
        r"w must have shape \(d,\) or \(r, d\) with d = 8; got \(5,\)",
    ),
    case(
        "margin_ratio-gamma_star",
        lambda f: fb.margin_ratio(DS, np.ones(8), 2, 0.0),
        ValueError,
        r"gamma_star must be in \(0, inf\); got 0.0",
    ),
    case(
        "cosine-length",
        lambda f: fb.cosine(np.ones(8), np.ones(5)),
        ValueError,
        r"u must have length d = 8 \(the length of w\); got length 5",
    ),
    case(
        "cosine-nan",
        lambda f: fb.cosine(np.full(8, np.nan), np.ones(8)),
        ValueError,
        r"w contains NaN at row 0, column 0",
    ),
    case(
        "trajectory-gamma_star",
        lambda f: sim().margin_ratio(2, 0.0),
        ValueError,
        r"gamma_star must be in \(0, inf\); got 0.0",
    ),
    case(
        "trajectory-p",
        lambda f: sim().normalized_margin(0.5),
        ValueError,
        r"p must be in \[1, inf\]; got 0.5",
    ),
    case(
        "max_margin-p",
        lambda f: fb.max_margin(DS, p=0.5),
        ValueError,
        r"p must be in \[1, inf\]; got 0.5",
    ),
    case(
        "max_margin-not-separable",
        lambda f: fb.max_margin(np.array([[1.0], [-1.0]])),
        ValueError,
        r"data are not linearly separable \(no w has <w, z_i> > 0 for every i\)",
    ),
    case(
        "fixed_point-tol",
        lambda f: fb.fixed_point(DS, tol=0.0),
        ValueError,
        r"tol must be in \(0, 2\); got 0.0",
    ),
    case(
        "fixed_point-max_iter",
        lambda f: fb.fixed_point(DS, max_iter=0),
        ValueError,
        r"max_iter must be an integer >= 1; got 0",
    ),
]


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


def test_record_epochs_beyond_the_horizon_are_kept_for_an_extension():
    # the record grid does not depend on the horizon (SPEC 6 and 10): an epoch past it is
    # recorded when the run is extended, not refused
    np.testing.assert_array_equal(sim(record=[2, 7]).epochs, [2, 5])
    np.testing.assert_array_equal(sim(record=[2, 7], epochs=8).epochs, [2, 7, 8])


def test_gd_leaving_the_float64_range_is_a_clear_error():
    # exp loss, non-separable data (z_1 = -z_0), a start with margins -6 and 6: the exact GD
    # iterate has |w| ~ 1e84 after one epoch and ~ exp(1e84) after two, far beyond float64;
    # the run must not return NaN silently
    data = fb.Dataset([[1.0, 2.0], [1.0, 2.0]], [-1, 1], check_separable=False)
    with pytest.raises(
        FloatingPointError, match=r"the iterate left the float64 range before epoch \d+: .*\blr\b"
    ):
        fb.simulate(data, fb.GD(batch_size=1), epochs=2, w0=[2.0, 2.0], progress=False)


def test_checkpoint_path_without_suffix_resumes(tmp_path):
    path = tmp_path / "run"  # saved as run.npz, like numpy.savez
    full = fb.simulate(**CK, checkpoint=path)
    assert (tmp_path / "run.npz").exists() and not path.exists()
    resumed = fb.simulate(**CK, resume=path)
    np.testing.assert_array_equal(resumed.w, full.w)


# --------------------------------------------------------------------------------------------
# Fuzz: at most one invalid parameter per draw, named exactly
# --------------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
# the options each fuzzed optimizer takes (all others keep their defaults)
OPTIMIZER_OPTIONS = {
    "IncAdam": ("beta1", "beta2", "batch_size", "sampling"),
    "DetAdam": ("beta1", "beta2"),
    "AdamProxy": (),
    "IncSignum": ("beta", "batch_size", "sampling"),
    "SignGD": ("batch_size", "sampling"),
    "GD": ("batch_size", "sampling"),
    "NormalizedGD": ("batch_size", "sampling"),
}
ADAM_TYPES = ("IncAdam", "DetAdam")  # warn when beta1**2 > beta2 (eps = 0)
SCHEDULE_OPTIONS = {
    None: (),
    "function": (),
    "PolynomialDecay": ("eta0", "power"),
    "Constant": ("eta",),
}
RUN_PARAMETERS = ("X", "y", "data", "lr", "epochs", "record", "loss", "seed", "w0")
# invalid values of each parameter, with the exception each must raise
BAD_VALUES = {
    "beta": [
        (-0.5, ValueError),
        (1.0, ValueError),
        (1.5, ValueError),
        (NAN, ValueError),
        (INF, ValueError),
        ("0.9", TypeError),
    ],
    "batch_size": [(-1, ValueError), (0, ValueError), (2.0, TypeError), ("n + 1", ValueError)],
    "sampling": [("bogus", ValueError), (1, TypeError)],
    "eta0": [(0.0, ValueError), (-1.0, ValueError), (INF, ValueError), ("0.1", TypeError)],
    "power": [
        (0.0, ValueError),
        (-0.5, ValueError),
        (1.5, ValueError),
        (NAN, ValueError),
        ("0.5", TypeError),
    ],
    "eta": [(0.0, ValueError), (-1.0, ValueError), (INF, ValueError), (NAN, ValueError)],
    "lr": [(0.1, TypeError), ("fast", TypeError)],
    "epochs": [(-1, ValueError), (0, ValueError), (2.5, TypeError), (2**70, ValueError)],
    "record": [
        (0, ValueError),
        (-1, ValueError),
        ("3", TypeError),
        ([1.5], TypeError),
        ([2, -1], ValueError),
    ],
    "loss": [("hinge", ValueError), ("ce", ValueError), (3, TypeError)],
    "seed": [(-1, ValueError), (1.5, TypeError)],
    "w0": [("one entry too many", ValueError), ("a NaN entry", ValueError)],
    "X": [(NAN, ValueError), (INF, ValueError), (-INF, ValueError)],
    "y": [("not two labels", ValueError)],
    "data": [("a sample repeated with the other label", ValueError)],
}
BAD_VALUES["beta1"] = BAD_VALUES["beta2"] = BAD_VALUES["beta"]


def _separable(draw, n, d):
    """Data separable by construction: rows reflected onto the side of a drawn w* and pushed
    away from its boundary; sides alternate, so both classes appear when n >= 2."""
    X = np.array(draw(st.lists(st.floats(-4, 4), min_size=n * d, max_size=n * d)))
    X = X.reshape(n, d)
    w_star = np.array(draw(st.lists(st.floats(-2, 2), min_size=d, max_size=d)))
    if np.linalg.norm(w_star) < 0.1:
        w_star[0] = 1.0
    side = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X *= np.where((X @ w_star) * side >= 0, 1.0, -1.0)[:, None]
    X += 0.1 * side[:, None] * w_star / np.linalg.norm(w_star)
    return X, side


@st.composite
def fuzz_inputs(draw):
    """(spec, expected): spec builds the call; expected is None or (parameter, exception)."""
    kind = draw(st.sampled_from(sorted(OPTIMIZER_OPTIONS)))
    schedule = draw(st.sampled_from([None, "function", "PolynomialDecay", "Constant"]))
    candidates = [*RUN_PARAMETERS, *OPTIMIZER_OPTIONS[kind], *SCHEDULE_OPTIONS[schedule]]
    bad = draw(st.one_of(st.none(), st.sampled_from(candidates)))
    expected = None
    bad_value = None
    if bad is not None:
        bad_value, exc = draw(st.sampled_from(BAD_VALUES[bad]))
        expected = (bad, exc)

    def value(name, valid):
        return bad_value if name == bad else draw(valid)

    # data: X, labels and separability
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    X, side = _separable(draw, n, d)
    labels = draw(st.sampled_from([(-1.0, 1.0), (0.0, 1.0)] + ([("no", "yes")] if n >= 2 else [])))
    y = np.where(side > 0, labels[1], labels[0])
    check_separable = True if bad == "data" else draw(st.booleans())
    if bad == "X":
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = bad_value
    elif bad == "y":  # three distinct values, or a single one that is not +-1
        y = np.array([-1.0, 0.0, 1.0] * 2)[:n] if n >= 3 else np.full(n, 2.0)
    elif bad == "data":  # the first sample again, with the other label: not separable
        X = np.vstack([X, X[:1]])
        y = np.append(y, labels[0] if y[0] == labels[1] else labels[1])
        n += 1

    # optimizer options
    options = {}
    for name in OPTIMIZER_OPTIONS[kind]:
        if name.startswith("beta"):
            options[name] = value(name, st.floats(0.0, 0.999))
        elif name == "batch_size":
            options[name] = value(name, st.one_of(st.none(), st.integers(1, n)))
            if options[name] == "n + 1":
                options[name] = n + 1  # valid for the optimizer, refused by simulate
        else:
            options[name] = value(name, st.sampled_from(SAMPLINGS))

    # learning rate
    if schedule == "PolynomialDecay":
        lr = (schedule, value("eta0", st.floats(1e-3, 5.0)), value("power", st.floats(0.05, 1.0)))
    elif schedule == "Constant":
        lr = (schedule, value("eta", st.floats(1e-3, 5.0)))
    else:
        lr = (schedule, draw(st.floats(1e-3, 1.0)))
    if bad == "lr":
        lr = ("value", bad_value)

    # simulate's own arguments
    if bad == "w0":
        w0 = [0.5] * (d + 1) if bad_value == "one entry too many" else [0.5] * (d - 1) + [NAN]
    else:
        w0 = draw(st.one_of(st.none(), st.lists(st.floats(-3, 3), min_size=d, max_size=d)))
    kwargs = dict(
        epochs=value("epochs", st.integers(1, 6)),
        record=value(
            "record", st.one_of(st.integers(1, 8), st.lists(st.integers(0, 10), max_size=3))
        ),
        loss=value("loss", st.sampled_from([None, "exp", "logistic"])),
        seed=value("seed", st.integers(0, 2**40)),
        w0=w0,
    )
    return (X, y, check_separable, (kind, options), lr, kwargs), expected


def _build_and_run(X, y, check_separable, optimizer, lr, kwargs):
    data = fb.Dataset(X, y, check_separable=check_separable)
    kind, options = optimizer
    opt = getattr(fb, kind)(**options)
    if lr[0] is None:
        schedule = None
    elif lr[0] == "value":
        schedule = lr[1]
    elif lr[0] == "function":
        rate = lr[1]
        schedule = lambda t: np.full(np.shape(t), rate)  # noqa: E731 (a plain function)
    else:
        schedule = getattr(fb, lr[0])(*lr[1:])
    return data, fb.simulate(data, opt, lr=schedule, progress=False, **kwargs)


def _unbounded_steps_warned(spec, expected) -> bool:
    """Whether the Adam-type optimizer is built with valid betas and beta1**2 > beta2."""
    _, _, _, (kind, options), _, _ = spec
    if kind not in ADAM_TYPES:
        return False
    if expected is not None and expected[0] in ("X", "y", "data"):
        return False  # the data are refused before the optimizer is built
    if expected is not None and expected[0] in OPTIMIZER_OPTIONS[kind]:
        late = (
            expected[0] == "batch_size"
            and isinstance(options["batch_size"], int)
            and not isinstance(options["batch_size"], bool)
            and options["batch_size"] >= 1
        )
        if not late:  # the constructor refuses the option before the betas are weighed
            return False
    # in exact arithmetic: beta1**2 underflows to 0 for beta1 < 1.5e-162
    return Fraction(options["beta1"]) ** 2 > Fraction(options["beta2"])


@settings(deadline=None, max_examples=150)
@given(fuzz_inputs())
def test_fuzz_simulate_names_the_invalid_parameter(drawn):
    spec, expected = drawn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data, tr = _build_and_run(*spec)
        except Exception as exc:  # noqa: BLE001 (checked below)
            error = exc
        else:
            error = None
    kinds = {type(w.message) for w in caught}
    allowed = {ZeroEntryWarning, UnboundedStepWarning, fb.NotSeparatedWarning}
    assert kinds <= allowed, [str(w.message) for w in caught]
    unseparated = error is None and tr.epochs[-1] > 0 and tr.min_margin[-1] <= 0
    assert (fb.NotSeparatedWarning in kinds) == unseparated
    assert (UnboundedStepWarning in kinds) == _unbounded_steps_warned(spec, expected)

    if expected is not None:
        name, exc_type = expected
        assert error is not None, f"{name} = {spec!r} was accepted"
        assert type(error) is exc_type, f"{name}: {type(error).__name__}: {error}"
        assert re.match(rf"{name}\b", str(error)), (
            f"the message does not start with {name!r}: {error}"
        )
        return
    if error is not None:  # all valid: only a run that leaves float64 may fail, naming lr
        assert isinstance(error, ArithmeticError), f"{type(error).__name__}: {error}"
        assert re.search(r"left the float64 range.*\blr\b", str(error)), str(error)
        return
    epochs = spec[5]["epochs"]
    assert isinstance(tr, fb.Trajectory)
    assert tr.epochs[-1] == epochs and np.all(np.diff(tr.epochs) > 0)
    k = tr.epochs.shape[0]
    assert tr.w.shape == (k, data.d) and tr.log_loss.shape == (k,)
    assert tr.min_margin.shape == (k,)
    assert np.all(np.isfinite(tr.w)) and np.all(np.isfinite(tr.log_loss))
    assert np.all(np.isfinite(tr.min_margin))


BIG = np.ones(300)


@pytest.mark.parametrize(
    "call",
    [
        lambda: fb.Constant(BIG),
        lambda: fb.IncAdam(beta1=BIG),
        lambda: fb.simulate(fb.datasets.gaussian(n=4, d=6), fb.IncAdam(), epochs=BIG),
        lambda: fb.max_margin(fb.datasets.gaussian(n=4, d=6), p=BIG),
        lambda: fb.Dataset(np.eye(3), np.ones(3), intercept=BIG),
        lambda: fb.simulate(fb.datasets.gaussian(n=4, d=6), fb.IncAdam(), epochs=3, record=BIG),
        lambda: fb.sweep(
            [dict(data=fb.datasets.gaussian(n=4, d=6), optimizer=fb.SignGD(), epochs=3)],
            references=BIG,
        ),
    ],
)
def test_an_array_where_a_number_belongs_is_shown_by_its_shape(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert "an array of shape (300,) (float64)" in str(info.value) and len(str(info.value)) < 300
