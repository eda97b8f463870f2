"""Files under concurrency and odd paths, and data that must not change behind a run's back.

Two processes and four threads on one checkpoint path: the first run owns it, every other
claimant is refused at once, and a run killed with SIGKILL is resumed by its requeue (its
lock is taken over). Outputs: only regular files are replaced, their mode is kept, names of
any legal length work, two names of one file are recognised. Inputs that are FIFOs or
devices are refused before they are opened. Recipes are size-checked; datasets copy their
inputs and keep valid fingerprints across pickle and copy.
"""

import copy
import importlib
import os
import pickle
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from interrupts import assert_same_trajectory, saved_epoch

import fastbias as fb
from fastbias import _io
from fastbias.cli import main

POSIX = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX files and signals")
JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
EPOCHS = 3_000 if JIT_DISABLED else 600_000
CHUNK = 5 if JIT_DISABLED else 2_000
DATA = fb.datasets.gaussian(n=10, d=50, seed=0)
OPT = fb.IncAdam(sampling="reshuffle")

CHILD = """
import sys
import fastbias as fb

data = fb.datasets.gaussian(n=10, d=50, seed=0)
fb.simulate(data, fb.IncAdam(sampling="reshuffle"), epochs={epochs}, seed=3, record=40,
            checkpoint=sys.argv[1], checkpoint_every=0.05, chunk_epochs={chunk},
            resume=True)
"""


def small():
    return fb.datasets.gaussian(n=4, d=6, seed=0)


# --------------------------------------------------------------------------------------------
# Ownership of a checkpoint
# --------------------------------------------------------------------------------------------


@POSIX
def test_two_processes_and_a_requeue_on_one_checkpoint(tmp_path):
    """A second process is refused while the first runs; the killed first run's requeue resumes."""
    path = tmp_path / "job.npz"
    child = [sys.executable, "-c", CHILD.format(epochs=EPOCHS, chunk=CHUNK), str(path)]
    refused = {}

    def claim_while_running():
        # called by the polling loop below once the child has saved 5%: it still runs
        with pytest.raises(ValueError, match=r"in use by process \d+") as info:
            fb.simulate(DATA, OPT, epochs=EPOCHS, seed=1, record=40, checkpoint=path)
        refused["message"] = str(info.value)
        refused["epoch"] = saved_epoch(path)

    with subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            while saved_epoch(path) < EPOCHS // 20:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.002)
            claim_while_running()
            assert proc.poll() is None  # the owner was not disturbed
        finally:
            proc.kill()
            proc.communicate()
    assert str(path) in refused["message"]
    killed_at = saved_epoch(path)
    assert killed_at >= refused["epoch"] > 0  # progress of the owner kept
    # the requeue (same run) takes the dead run's lock over and resumes
    resumed = fb.simulate(DATA, OPT, epochs=EPOCHS, seed=3, record=40, checkpoint=path, resume=True)
    direct = fb.simulate(DATA, OPT, epochs=EPOCHS, seed=3, record=40)
    assert_same_trajectory(resumed, direct)
    assert not _io.lock_path(path).exists()  # released at the end


def test_four_threads_on_one_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "thr.npz"
    outcome = {}
    barrier = threading.Barrier(4)
    simulate_module = importlib.import_module("fastbias.simulate")
    real_run = simulate_module._run

    def run_once_the_others_were_refused(*args, **kwargs):
        # the winner holds the checkpoint until the three others have tried it (however
        # the threads are scheduled on a loaded machine)
        deadline = time.monotonic() + 60
        while len(outcome) < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(simulate_module, "_run", run_once_the_others_were_refused)

    def run(seed):
        barrier.wait()
        try:
            fb.simulate(
                small(),
                fb.IncAdam(),
                epochs=20_000,
                seed=seed,
                record=1,
                checkpoint=path,
                progress=False,
            )
            outcome[seed] = "ok"
        except ValueError as exc:
            outcome[seed] = str(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [seed for seed, what in outcome.items() if what == "ok"]
    assert len(winners) == 1, outcome
    for seed, what in outcome.items():
        if seed not in winners:
            assert "is in use by" in what and str(path) in what
    assert fb.checkpoint_info(path)["seed"] == winners[0]  # the file is the winner's run
    assert fb.checkpoint_info(path)["epoch"] == 20_000


def test_cli_second_run_on_a_busy_checkpoint_is_refused(tmp_path, capsys):
    path = tmp_path / "job.npz"
    with _io.Claim(path, "checkpoint"):  # a live run holds it
        code = main(
            [
                "run",
                "--seed",
                "1",
                "--epochs",
                "10",
                "--checkpoint",
                str(path),
                "--n",
                "4",
                "--d",
                "6",
                "--out",
                str(tmp_path / "t.npz"),
            ]
        )
    assert code != 0
    assert "is in use by" in capsys.readouterr().err
    assert not path.exists()


def test_claim_is_released_and_a_stale_lock_is_taken_over(tmp_path):
    path = tmp_path / "run.npz"
    lock = _io.lock_path(path)
    lock.write_text("999999999")  # left by a killed run: no process holds it
    fb.simulate(small(), fb.IncAdam(), epochs=10, record=1, checkpoint=path)
    assert not lock.exists()
    again = fb.simulate(small(), fb.IncAdam(), epochs=20, record=1, checkpoint=path, resume=True)
    assert again.epochs[-1] == 20


def test_claims_compare_files_not_spellings(tmp_path):
    (tmp_path / "sub").mkdir()
    link = tmp_path / "alias"
    link.symlink_to(tmp_path / "sub")
    with _io.Claim(tmp_path / "sub" / "a.npz", "checkpoint"):
        with pytest.raises(ValueError, match="in use by"):
            _io.Claim(link / "a.npz", "checkpoint")
        with _io.Claim(tmp_path / "sub" / "b.npz", "checkpoint"):
            pass  # another file: free


# --------------------------------------------------------------------------------------------
# Output targets
# --------------------------------------------------------------------------------------------


@POSIX
def test_fifo_target_is_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        _io.output_path(fifo, "--out", npz=True)
    with pytest.raises(ValueError, match="FIFO"):
        _io.atomic_write_text(fifo, "x")
    with pytest.raises(ValueError, match="FIFO"):
        fb.simulate(small(), fb.IncAdam(), epochs=5, checkpoint=fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_folder_target_is_refused(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        _io.atomic_write_text(tmp_path, "x")


@POSIX
def test_atomic_write_keeps_the_targets_mode(tmp_path):
    path = tmp_path / "private.npz"
    fb.simulate(small(), fb.IncAdam(), epochs=5, record=1, checkpoint=path)
    os.chmod(path, 0o600)
    fb.simulate(small(), fb.IncAdam(), epochs=10, record=1, checkpoint=path, resume=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    new = tmp_path / "new.txt"
    _io.atomic_write_text(new, "x")  # a new file: the umask decides, not mkstemp's 600
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o666 & ~_io._umask()


@pytest.mark.parametrize("length", [200, 240, 251, 255])
def test_long_target_names_are_written(tmp_path, length):
    name = "r" * (length - 4) + ".npz"
    limit = _io._name_max(tmp_path)
    if length > limit:
        pytest.skip(f"names are limited to {limit} bytes here")
    path = _io.output_path(tmp_path / name, "checkpoint", npz=True)
    assert os.listdir(tmp_path) == []  # the preflight probe leaves nothing
    tr = fb.simulate(small(), fb.IncAdam(), epochs=5, record=1, checkpoint=path)
    tr.save(tmp_path / ("t" * (length - 4) + ".npz"))
    assert sorted(os.listdir(tmp_path)) == sorted([name, "t" * (length - 4) + ".npz"])


def test_stale_temporaries_of_long_names_are_removed(tmp_path):
    name = "x" * 251 + ".npz"
    if len(name) > _io._name_max(tmp_path):
        pytest.skip("names this long are not allowed here")
    prefix = _io._tmp_prefix(tmp_path, name)
    stale = tmp_path / f"{prefix}999999999.abcdefgh.tmp"
    stale.write_bytes(b"")
    _io.atomic_write_text(tmp_path / name, "x")
    assert not stale.exists()


def test_preflight_uses_the_real_temporary_name(tmp_path, monkeypatch):
    """A folder that refuses the temporary file fails the preflight, not the final write."""

    def refuse(target):
        raise OSError(36, "File name too long")

    monkeypatch.setattr(_io, "_mkstemp", refuse)
    with pytest.raises(ValueError, match="temporary file beside it cannot be created"):
        _io.output_path(tmp_path / "a.npz", "--out", npz=True)


def test_two_names_of_one_file_are_one_file(tmp_path):
    real = tmp_path / "a.npz"
    real.write_bytes(b"")
    hard = tmp_path / "b.npz"
    os.link(real, hard)
    assert _io.same_file(real, hard)
    (tmp_path / "sub").mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(tmp_path / "sub")
    assert _io.same_file(tmp_path / "sub" / "new.npz", alias / "new.npz")  # not yet existing
    assert not _io.same_file(real, tmp_path / "sub" / "a.npz")
    with pytest.raises(ValueError, match="is also the"):
        _io.output_path(hard, "--out", inputs=[("--checkpoint", real)], npz=True)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize(
    "read",
    [
        lambda p: fb.datasets.load(p),
        lambda p: fb.checkpoint_info(p),
        lambda p: fb.Trajectory.load(p),
        lambda p: fb.simulate(small(), fb.IncAdam(), epochs=5, resume=p),
    ],
    ids=["dataset", "checkpoint", "trajectory", "resume"],
)
def test_fifo_input_is_refused_before_opening(tmp_path, read):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(ValueError, match="FIFO"):
        read(fifo)


@POSIX
def test_cli_refuses_fifo_and_device_inputs(tmp_path, capsys):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    assert main(["info", str(fifo)]) != 0
    assert "FIFO" in capsys.readouterr().err
    if os.path.exists("/dev/zero"):
        out = str(tmp_path / "t.npz")
        assert main(["run", "--data-file", "/dev/zero", "--epochs", "5", "--out", out]) != 0
        assert "character device" in capsys.readouterr().err


def test_folder_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        _io.input_file(tmp_path, "dataset")
    with pytest.raises(FileNotFoundError):
        _io.input_file(tmp_path / "none.npz", "dataset")


# --------------------------------------------------------------------------------------------
# Recipes and datasets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        {"generator": "gaussian", "n": 40_000, "d": 40_000, "seed": 0},
        {"generator": "generalized_rademacher", "n": 2**15, "d": 2**14, "seed": 0},
        {"generator": "gaussian_multiclass", "n": 2**20, "d": 2**9, "k": 3, "seed": 0},
    ],
)
def test_huge_recipes_are_refused_before_any_array(source):
    with pytest.raises(ValueError, match="more than the limit"):
        fb.datasets.from_source(source)


def test_huge_recipe_in_a_dataset_file_is_refused(tmp_path):
    ds = small()
    path = ds.save(tmp_path / "d.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["source"] = np.array('{"generator": "gaussian", "n": 40000, "d": 40000, "seed": 0}')
    del arrays["checksum"]  # as a file written before checksums: the size check is reached
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="more than the limit"):
        fb.datasets.load(path)


@pytest.mark.parametrize("cls", [fb.Dataset, fb.MulticlassDataset])
def test_datasets_copy_their_inputs(cls):
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0], [2.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0, -1.0]) if cls is fb.Dataset else np.array([0, 1, 2, 0])
    view = X[:, :]
    ds = cls(X, y, check_separable=False)
    assert X.flags.writeable and y.flags.writeable  # no side effect on the caller
    before = ds.fingerprint
    view[0, 0] = 99.0
    y[0] = y[1]
    assert ds.X[0, 0] == 1.0 and ds.fingerprint == before
    assert (
        cls(
            ds.X, ds.y if cls is fb.Dataset else ds.classes[ds.y], check_separable=False
        ).fingerprint
        == before
    )


@pytest.mark.parametrize(
    "clone",
    [lambda d: pickle.loads(pickle.dumps(d)), copy.copy, copy.deepcopy],
    ids=["pickle", "copy", "deepcopy"],
)
def test_fingerprints_stay_valid_across_pickle_and_copy(clone):
    ds = fb.datasets.gaussian(n=5, d=7, seed=2)
    twin = clone(ds)
    for arr in (twin.X, twin.y, twin.Z):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0.0
    assert twin.fingerprint == ds.fingerprint
    assert twin.fingerprint == fb.Dataset(ds.X, ds.y).fingerprint


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]
)
def test_record_arrays_of_any_integer_dtype(dtype):
    tr = fb.simulate(small(), fb.IncAdam(), epochs=20, record=np.array([0, 5, 20], dtype=dtype))
    assert tr.epochs.tolist() == [0, 5, 20]


def test_record_beyond_int64_is_refused_not_wrapped():
    with pytest.raises(ValueError, match="at most"):
        fb.simulate(
            small(), fb.IncAdam(), epochs=20, record=np.array([0, 2**63 + 5], dtype=np.uint64)
        )


# --------------------------------------------------------------------------------------------
# Norms and margins for large p, computed scaled
# --------------------------------------------------------------------------------------------


def _decimal_norm(w, p):
    """``||w||_p`` in 60-digit decimal arithmetic (no float64 range involved)."""
    from decimal import Decimal, getcontext

    getcontext().prec = 60
    total = sum(Decimal(abs(float(x))) ** Decimal(p) for x in w)
    return float(total ** (Decimal(1) / Decimal(p)))


@pytest.mark.parametrize("p", [2.0, 7.5, 120.0, 400.0, 1000.0])
@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e300])
def test_lp_norm_of_constant_vectors_is_closed_form(p, scale):
    from fastbias.norms import lp_norm

    d = 50
    value = lp_norm(np.full(d, -scale), p)
    assert value == pytest.approx(scale * d ** (1.0 / p), rel=1e-14)
    assert lp_norm(np.zeros(d), p) == 0.0


@pytest.mark.parametrize("p", [120, 400, 1000])
def test_normalized_margin_for_large_p(p):
    """Iterates with entries of 10 (whose 400th power overflows) and 1e-3 (underflows)."""
    rng = np.random.default_rng(0)
    w = np.stack([10.0 * rng.uniform(0.5, 1.0, 6), 1e-3 * rng.uniform(0.5, 1.0, 6)])
    min_margin = np.array([2.0, 3e-4])
    tr = fb.Trajectory([1, 10], w, np.zeros(2), min_margin, {})
    want = [m / _decimal_norm(v, p) for m, v in zip(min_margin, w, strict=True)]
    np.testing.assert_allclose(tr.normalized_margin(p), want, rtol=1e-12)
    run = fb.simulate(fb.datasets.gaussian(n=10, d=50, seed=0), fb.IncAdam(), epochs=200)
    final = run.min_margin[-1] / _decimal_norm(run.w[-1], p)
    assert final > 0 and run.normalized_margin(p)[-1] == pytest.approx(final, rel=1e-12)


@pytest.mark.parametrize("p", [120.0, 1000.0])
def test_max_margin_for_large_p_is_the_dual_norm_of_one_sample(p):
    """One sample z: gamma_p* = ||z||_q with 1/p + 1/q = 1 (Hoelder)."""
    z = 1e-3 * np.array([1.0, 2.0, 3.0, 0.5])  # min ||w|| has entries near 300
    q = p / (p - 1.0)
    want = float(np.sum(np.abs(z) ** q) ** (1.0 / q))
    mm = fb.max_margin(fb.Dataset(z[None, :], [1.0]), p=p)
    assert mm.margin == pytest.approx(want, rel=1e-8)
    assert _decimal_norm(mm.w, p) == pytest.approx(1.0, rel=1e-12)


def test_max_margin_grows_with_p_towards_l_inf():
    ds = fb.datasets.gaussian(n=10, d=50, seed=0)
    margins = [fb.max_margin(ds, p=p).margin for p in (2.0, 8.0, 120.0, 1000.0)]
    top = fb.max_margin(ds, p=np.inf).margin
    assert all(a < b for a, b in zip(margins, margins[1:], strict=False)) and margins[-1] <= top * (
        1 + 1e-9
    )
    assert margins[-1] > 0.99 * top


# --------------------------------------------------------------------------------------------
# Content checksums and versions
# --------------------------------------------------------------------------------------------


def _edited(path, edit):
    """Rewrite an npz file by hand (``np.savez``) after ``edit(arrays)``, keeping its checksum."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    edit(arrays)
    np.savez(path, **arrays)


def _set_param(arrays, key, value):
    import json

    params = json.loads(str(arrays["params"][()]))
    params[key] = value
    arrays["params"] = np.array(json.dumps(params, sort_keys=True))


HAND_EDITS = {
    "parameter changed": lambda a: _set_param(a, "seed", 7),
    "arrays swapped": lambda a: a.update(W=a["state"][0], state=a["W"][None].repeat(2, 0)),
    "negative second moment": lambda a: a["state"].__setitem__((1, 0, 0), -1.0),
    "NaN records": lambda a: a["rec_w"].__setitem__((0, 0, 0), np.nan),
    "counter changed": lambda a: a["counters"].__setitem__(0, 3),
}


@pytest.mark.parametrize("edit", HAND_EDITS.values(), ids=HAND_EDITS.keys())
def test_hand_edited_checkpoints_are_refused(tmp_path, edit):
    path = tmp_path / "c.npz"
    fb.simulate(small(), fb.IncAdam(), epochs=10, record=1, checkpoint=path)
    _edited(path, edit)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="content checksum does not match"):
        fb.checkpoint_info(path)
    with pytest.raises(ValueError, match="content checksum does not match"):
        fb.simulate(small(), fb.IncAdam(), epochs=20, record=1, checkpoint=path, resume=True)
    assert path.read_bytes() == before  # left untouched


@pytest.mark.parametrize("write", ["trajectory", "dataset"])
def test_hand_edited_results_and_datasets_are_refused(tmp_path, write):
    path = tmp_path / "f.npz"
    if write == "trajectory":
        fb.simulate(small(), fb.IncAdam(), epochs=10, record=1).save(path)
        _edited(path, lambda a: a["w"].__setitem__((1, 0), 5.0))
        load = fb.Trajectory.load
    else:
        fb.Dataset([[1.0, 2.0], [-1.0, 0.5]], [1, -1]).save(path)
        _edited(path, lambda a: a["X"].__setitem__((0, 0), 3.0))
        load = fb.datasets.load
    with pytest.raises(ValueError, match="content checksum does not match"):
        load(path)


def test_every_npz_file_carries_version_and_checksum(tmp_path):
    tr = fb.simulate(small(), fb.IncAdam(), epochs=5, record=1, checkpoint=tmp_path / "c.npz")
    tr.save(tmp_path / "t.npz")
    small().save(tmp_path / "d.npz")
    fb.datasets.gaussian_multiclass(n=6, d=8).save(tmp_path / "m.npz")
    for name in ("c", "t", "d", "m"):
        with np.load(tmp_path / f"{name}.npz") as f:
            assert str(f["fastbias_version"][()]) == fb.__version__
            digest, *covered = str(f["checksum"][()]).split(" ")
            assert len(digest) == 64 and "fastbias_version.npy" in covered


def test_optimizer_that_is_not_an_object_is_refused_at_load(tmp_path):
    import json

    tr = fb.simulate(small(), fb.IncAdam(), epochs=5, record=1)
    path = tmp_path / "t.npz"
    _io.atomic_savez(
        path,
        {
            "format": np.array("fastbias-trajectory-2"),
            "epochs": tr.epochs,
            "w": tr.w,
            "log_loss": tr.log_loss,
            "min_margin": tr.min_margin,
            "params": np.array(json.dumps({**tr.params, "optimizer": 5})),
        },
    )
    with pytest.raises(ValueError, match="params 'optimizer' must be an object with a 'name'"):
        fb.Trajectory.load(path)


def _written_by(monkeypatch, version, write):
    monkeypatch.setattr(_io, "package_version", lambda: version)
    write()
    monkeypatch.undo()


@pytest.mark.parametrize("version, ok", [("0.2.9", False), ("1.3.0", False), (None, True)])
def test_checkpoints_continue_within_one_release_series(tmp_path, monkeypatch, version, ok):
    path = tmp_path / "c.npz"
    series = ".".join(fb.__version__.split(".")[:2])
    version = version or f"{series}.99"  # same major.minor: continued
    _written_by(
        monkeypatch,
        version,
        lambda: fb.simulate(small(), fb.IncAdam(), epochs=10, record=1, checkpoint=path),
    )
    again = lambda: fb.simulate(  # noqa: E731
        small(), fb.IncAdam(), epochs=20, record=1, checkpoint=path, resume=True
    )
    if ok:
        assert again().epochs[-1] == 20
    else:
        with pytest.raises(ValueError, match=f"written by fastbias {version}"):
            again()


def test_sweep_recomputes_results_of_another_release_series(tmp_path, monkeypatch):
    configs = [dict(data=small(), optimizer=fb.IncAdam(), epochs=10, record=1)]
    _written_by(monkeypatch, "0.1.0", lambda: fb.sweep(configs, out=tmp_path, executor="serial"))
    second = fb.sweep(configs, out=tmp_path, executor="serial")
    assert second.reused == [False]
    third = fb.sweep(configs, out=tmp_path, executor="serial")
    assert third.reused == [True]


# --------------------------------------------------------------------------------------------
# A damaged kernel cache
# --------------------------------------------------------------------------------------------

CACHED = """
import warnings
import fastbias._jit  # installs the cache guard
from fastbias._jit import KernelCacheWarning, kernel

@kernel()
def twice(x):
    return 2.0 * x

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert twice(21.0) == 42.0
print(sum(issubclass(w.category, KernelCacheWarning) for w in caught))
"""


@pytest.mark.skipif(JIT_DISABLED, reason="needs the compiler's cache")
@pytest.mark.parametrize("damage", ["garbage", pytest.param("truncated", marks=pytest.mark.slow)])
def test_a_damaged_kernel_cache_is_rebuilt_with_a_warning(tmp_path, damage):
    (tmp_path / "cached_kernel.py").write_text(CACHED)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run():
        proc = subprocess.run(
            [sys.executable, str(tmp_path / "cached_kernel.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout.split()[-1])

    assert run() == 0  # compiled and cached
    files = [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert {p.suffix for p in files} == {".nbi", ".nbc"}
    for p in files:
        p.write_bytes(p.read_bytes()[:7] if damage == "truncated" else b"garbage\n" * 3)
    assert run() >= 1  # warned, compiled again, right result
    assert run() == 0  # the rebuilt cache loads silently


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def test_disk_full_during_reproduce_names_the_file(tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_io.os, "fsync", full)
    args = ["reproduce", "fig2", "--epochs", "50", "--record", "5", "--out", str(tmp_path)]
    assert main([*args, "--no-progress", "--dpi", "20"]) != 0
    err = capsys.readouterr().err
    assert f"cannot write the figure '{tmp_path / 'fig2.png'}': No space left on device" in err
    assert list(tmp_path.iterdir()) == []  # no temporary file left
