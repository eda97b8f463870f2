"""The driver: validate, draw the random sample orders, run compiled chunks, record, checkpoint.

Runs are pure functions of (data, optimizer, lr, loss, seed, w0, epochs): the sample orders
are drawn in Python from ``numpy.random.default_rng(seed)``, the compiled loops are
deterministic, and a run is the same bit for bit however it is chunked, checkpointed,
interrupted, resumed or extended.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._io import output_path, resolve_npz_path, same_file
from ._parallel import check_progress, progress_bar
from ._validation import check_finite_array, check_int, check_interval
from .checkpoints import MATCHED, RunState, read_checkpoint
from .datasets import Dataset, MulticlassDataset
from .losses import get_loss
from .optimizers import GD, SGD, Optimizer
from .schedules import Constant, PolynomialDecay, Schedule, as_schedule
from .trajectory import Trajectory

__all__ = ["simulate", "run_parameters", "record_epochs", "warmup", "RunInterrupted",
           "MAX_RECORD_BYTES"]

# Work per compiled call, in units of multiply-adds (about 10-50 ms): chunk boundaries are
# where records, progress and checkpoints happen. Results do not depend on it.
_CHUNK_WORK = 1 << 24
# Largest step counter: learning rates use float(t + 2), exact up to 2**53.
_MAX_STEPS = 2**53
#: Most memory the records of one run may take (bytes); more is refused before the run.
MAX_RECORD_BYTES = 2**31
# Checkpoints whose writing takes longer than _SLOW_WRITE seconds (many records, large data)
# are spaced so that writing them takes at most _CHECKPOINT_SHARE of the run time.
_CHECKPOINT_SHARE = 0.05
_SLOW_WRITE = 0.05


class RunInterrupted(KeyboardInterrupt):
    """A checkpointed run stopped by SIGINT or SIGTERM after saving its state.

    Attributes
    ----------
    signum : int
        The signal (``signal.SIGINT`` or ``signal.SIGTERM``).
    epoch : int
        The epoch saved in the checkpoint.
    checkpoint : pathlib.Path
        Where it was saved.
    """

    def __init__(self, signum: int, epoch: int, checkpoint: Path):
        name = signal.Signals(signum).name
        super().__init__(f"{name}: saved epoch {epoch:,} to {checkpoint}")
        self.signum, self.epoch, self.checkpoint = signum, epoch, checkpoint


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def _last_grid_index(k: int, epochs: int) -> int:
    """The largest j with ``round(10**(j / k)) <= epochs`` (10**(j/k) below epochs + 1/2)."""
    j = math.floor(k * math.log10(epochs + 0.5))
    while j >= 0 and round(10.0 ** (j / k)) > epochs:
        j -= 1
    while round(10.0 ** ((j + 1) / k)) <= epochs:
        j += 1
    return j


def _log_grid_size(k: int, epochs: int) -> int:
    """An upper bound of the number of grid points of :func:`_log_grid` (no allocation)."""
    return min(epochs, _last_grid_index(k, epochs) + 1)


def _log_grid(k: int, epochs: int) -> np.ndarray:
    """The distinct ``round(10**(j / k))`` in [1, epochs]."""
    j_max = _last_grid_index(k, epochs)
    # Below x_dense consecutive grid points are less than 1/2 apart: every integer is one.
    x_dense = 0.5 / math.expm1(math.log(10.0) / k)
    dense = np.arange(1, min(epochs, math.floor(x_dense)) + 1, dtype=np.int64)
    j0 = min(j_max + 1, max(0, math.floor(k * math.log10(max(x_dense, 1.0))) - 1))
    j = np.arange(j0, j_max + 1, dtype=np.float64)
    sparse = np.rint(np.power(10.0, j / k)).astype(np.int64)
    grid = np.union1d(dense, sparse)
    return grid[(grid >= 1) & (grid <= epochs)]


def record_epochs(record, epochs: int, *, row_bytes: int | None = None) -> np.ndarray:
    """The record grid of a run of ``epochs`` epochs (without the horizon itself).

    Parameters
    ----------
    record : int or sequence of int
        ``k``: k log-spaced epochs per decade on a fixed grid, the distinct
        ``round(10**(j / k))`` for j = 0, 1, ...; or explicit epochs in [0, ...] (0 is the
        starting point). The grid does not depend on the horizon: a longer run's grid
        extends a shorter one's.
    epochs : int
        The horizon; :func:`simulate` also records it (not part of the grid).
    row_bytes : int, optional
        Bytes of one recorded iterate: a grid whose records would take more than
        :data:`MAX_RECORD_BYTES` is refused (before it is built).

    Returns
    -------
    ndarray of int64
        The grid epochs in [0, epochs], sorted.

    Raises
    ------
    TypeError, ValueError
        For a malformed ``record``, or one whose records would not fit in memory (the
        message gives the memory needed).

    Examples
    --------
    >>> record_epochs(3, 100).tolist()
    [1, 2, 5, 10, 22, 46, 100]
    >>> record_epochs([0, 5, 50], 20).tolist()
    [0, 5]
    """
    explicit = isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str)
    if explicit:
        arr = np.asarray(record)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(
                f"record must be a count per decade or a 1-D sequence of integer epochs; "
                f"got {record!r}."
            )
        if arr.size and arr.min() < 0:
            raise ValueError(f"record epochs must be >= 0; got {int(arr.min())}.")
        size = arr.size
    else:
        k = check_int("record", record, 1)
        size = _log_grid_size(k, epochs)
    if row_bytes is not None and (size + 1) * row_bytes > MAX_RECORD_BYTES:
        raise ValueError(
            f"record={_shown(record)} would keep up to {size:,} iterates of {row_bytes:,} "
            f"bytes: {size * row_bytes / 2**30:,.3g} GiB, more than the "
            f"{MAX_RECORD_BYTES / 2**30:g} GiB allowed for records; ask for fewer records per "
            "decade (record=20 keeps about 20 per factor 10 of epochs) or an explicit list."
        )
    if explicit:
        grid = np.unique(arr.astype(np.int64))
        return grid[grid <= epochs]
    return _log_grid(k, epochs)


def _shown(record) -> str:
    if isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str):
        return f"[{len(record)} epochs]"
    return repr(record)


def _record_spec(record):
    """The record argument in its stored form (an int, or a sorted list of epochs)."""
    if isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str):
        return np.unique(np.asarray(record, dtype=np.int64)).tolist()
    return int(record)


# --------------------------------------------------------------------------------------------
# Sample orders
# --------------------------------------------------------------------------------------------


_VECTOR_DRAWS_OK: dict = {}


def _vector_draws_match(sampling: str, n: int) -> bool:
    """Whether one vectorized draw of several epochs equals per-epoch draws (checked once)."""
    key = (sampling, n)
    if key not in _VECTOR_DRAWS_OK:
        a, b = np.random.default_rng(12345), np.random.default_rng(12345)
        per_epoch = np.stack([_draw_epoch(a, sampling, n) for _ in range(3)])
        together = _draw_epochs_vectorized(b, sampling, n, 3)
        _VECTOR_DRAWS_OK[key] = bool(
            np.array_equal(per_epoch, together) and a.bit_generator.state == b.bit_generator.state
        )
    return _VECTOR_DRAWS_OK[key]


def _draw_epoch(rng, sampling, n):
    if sampling == "reshuffle":
        return rng.permutation(n)
    return rng.integers(0, n, size=n)


def _draw_epochs_vectorized(rng, sampling, n, epochs):
    if sampling == "reshuffle":
        return rng.permuted(np.tile(np.arange(n, dtype=np.int64), (epochs, 1)), axis=1)
    return rng.integers(0, n, size=(epochs, n))


def _draw_orders(rng, sampling: str, n: int, epochs: int) -> np.ndarray:
    """Orders of the next ``epochs`` epochs, shape (epochs, n), drawn in epoch order."""
    if _vector_draws_match(sampling, n):
        orders = _draw_epochs_vectorized(rng, sampling, n, epochs)
    else:
        orders = np.stack([_draw_epoch(rng, sampling, n) for _ in range(epochs)])
    return np.ascontiguousarray(orders, dtype=np.int64)


def _chunk_orders(state: RunState, sampling: str, n: int, chunk: int) -> np.ndarray:
    """Orders of the chunk's epochs plus the next epoch's (its first sample is needed ahead).

    Cyclic sampling draws nothing: one row serves every epoch. Otherwise the epoch after the
    chunk is drawn now and kept in ``state.pending`` for the next chunk.
    """
    if sampling == "cyclic":
        return np.arange(n, dtype=np.int64).reshape(1, n)
    if state.pending.size == 0:
        state.pending = _draw_orders(state.rng, sampling, n, 1)[0]
    fresh = _draw_orders(state.rng, sampling, n, chunk)
    orders = np.vstack([state.pending[None, :], fresh])
    state.pending = orders[-1].copy()
    return orders


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def _default_lr(optimizer: Optimizer) -> Schedule:
    """PolynomialDecay(0.1, 0.5) (ours); constant rates for the plain rules: GD 0.1, SGD 0.01."""
    if isinstance(optimizer, GD):
        return Constant(0.1)
    if isinstance(optimizer, SGD):
        return Constant(0.01)  # heavy ball multiplies the step by about 1 / (1 - momentum)
    return PolynomialDecay()


def _check_path(name: str, value):
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike) or None; got {value!r}.")


def _check_w0(w0, data, k: int) -> np.ndarray:
    d = data.d
    if w0 is None:
        return np.zeros((k, d))
    shape = (k, d) if data.multiclass else (d,)
    w = check_finite_array("w0", w0, ndim=len(shape)).copy()
    if w.shape != shape:
        raise ValueError(f"w0 must have shape {shape}; got {w.shape}.")
    W = w.reshape(k, d)
    rows = data.kernel_arrays()[0]
    with np.errstate(over="ignore", invalid="ignore"):
        reach = np.abs(W) @ np.abs(rows.T) * data.kernel_arrays()[1][None, :]
    if not np.all(np.isfinite(reach)):
        raise ValueError("w0 is too large for these data: its scores <w0, x_i> leave the "
                         "float64 range (about 1.8e308); scale it down.")
    return W


def _schedule_dict(lr: Schedule):
    """The stored form of a schedule (None for a plain function, which has none)."""
    try:
        return lr.to_dict()
    except TypeError:
        return None


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------


class _Signals:
    """Defer SIGINT and SIGTERM to the next chunk boundary, where the run saves and stops.

    Active only in the main thread and only for signals whose handler is Python's default;
    the previous handlers are restored on exit.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self._previous: dict = {}

    def __enter__(self):
        if not self.enabled:
            return self
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for signum, default in defaults.items():
            try:
                if signal.getsignal(signum) is default:
                    self._previous[signum] = signal.signal(signum, self._handle)
            except (ValueError, OSError):  # not allowed here
                pass
        return self

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.received = signum

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------


def simulate(
    data,
    optimizer: Optimizer,
    *,
    lr=None,
    epochs: int,
    loss: str | None = None,
    seed: int = 0,
    record=20,
    w0=None,
    progress: bool | None = None,
    checkpoint=None,
    checkpoint_every: float = 60.0,
    resume=None,
    chunk_epochs: int | None = None,
) -> Trajectory:
    """Run an optimizer on separable data for ``epochs`` epochs, exactly at any horizon.

    Parameters
    ----------
    data : Dataset or MulticlassDataset
        The samples. Binary data train a vector w (d,), multiclass data a matrix W (k, d).
    optimizer : Optimizer
        Any registered optimizer (``fb.IncAdam()``, ``fb.DetAdam()``, ``fb.Muon()``, ...).
    lr : Schedule or callable, optional
        Learning-rate schedule over optimizer steps t = 0, 1, ...; default
        ``PolynomialDecay(0.1, 0.5)`` (ours), ``Constant(0.1)`` for GD and
        ``Constant(0.01)`` for SGD (ours). A plain
        function ``t -> eta`` is accepted unless the run is checkpointed.
    epochs : int
        Passes over the data, >= 1 (an epoch has ceil(n / batch_size) steps).
    loss : str, optional
        Binary data: ``"exp"`` (default) or ``"logistic"``; multiclass data: ``"ce"``
        (cross-entropy, default) or ``"exp"``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` for the sample orders (reshuffle, replacement).
    record : int or sequence of int, default 20
        Records per decade on a fixed log-spaced grid (the distinct ``round(10**(j/k))``),
        or explicit epochs (0 is the starting point; epochs past the horizon are recorded
        if the run is extended). The horizon ``epochs`` is always recorded too. The grid
        does not depend on the horizon, so an extended run has the records of a direct one.
    w0 : array_like, optional
        Starting point, shape (d,) (binary) or (k, d) (multiclass); default zeros.
    progress : bool, optional
        Show a progress bar (tqdm); default on where a person watches (a terminal or a
        notebook), off otherwise.
    checkpoint : path, optional
        Save the complete run state atomically to this ``.npz`` file every
        ``checkpoint_every`` seconds, at the end, and when the run is interrupted (Ctrl-C,
        SIGTERM). An existing file is never overwritten by a new run: pass ``resume=True``.
    checkpoint_every : float, default 60.0
        Seconds between checkpoints, > 0 (stretched so that writing them takes at most 5%
        of the time).
    resume : path or True, optional
        ``True``: continue the run saved in ``checkpoint`` if that file exists (and belongs
        to this run), else start it. A path: continue the run saved there (it must exist).
        ``epochs`` may be larger than the saved run's horizon: the run is extended.
    chunk_epochs : int, optional
        Most epochs per compiled call (default: about 20 ms of work). Results do not depend
        on it.

    Returns
    -------
    Trajectory

    Raises
    ------
    TypeError, ValueError
        For invalid arguments or unwritable paths (before any computation), an existing
        ``checkpoint`` without ``resume``, or a checkpoint of another run (left untouched).
    FileNotFoundError
        If ``resume`` is a path that does not exist.
    FloatingPointError
        If the iterate leaves the float64 range (a diverging run, e.g. GD with too large a
        rate).
    RunInterrupted
        (a KeyboardInterrupt) If SIGINT or SIGTERM arrives during a checkpointed run in the
        main thread: the state is saved first, and the exception says which epoch.

    Notes
    -----
    The kernels follow the exact recurrences of the paper's Algorithms 1, 2 and 4 and
    Definition 4.2 (and the formulas of each optimizer's class for the others). Loss derivatives are
    kept as a log-derivative and a scale that follows the optimizer state, so no product
    underflows: runs of 1e8 steps neither freeze nor clamp. The result is a pure function of
    (data, optimizer, lr, loss, seed, w0, epochs), whatever the chunking, recording,
    checkpointing, resuming or extending.

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.gaussian(n=4, d=8, seed=0)
    >>> tr = fb.simulate(ds, fb.IncAdam(), epochs=100, record=1)
    >>> tr.epochs
    array([  1,  10, 100])
    """
    _check_path("checkpoint", checkpoint)
    if resume is not None and resume is not True:
        _check_path("resume", resume)
    if resume is True and checkpoint is None:
        raise ValueError("resume=True continues the run saved in `checkpoint`; give "
                         "checkpoint=<path> too (or resume=<path of a checkpoint>).")
    plan = _plan(data, optimizer, lr, epochs, loss, seed, record, w0,
                 stored=checkpoint is not None or resume is not None)
    progress = check_progress(progress)
    checkpoint_every = check_interval("checkpoint_every", checkpoint_every, 0, np.inf, "neither")
    if chunk_epochs is not None:
        chunk_epochs = check_int("chunk_epochs", chunk_epochs, 1)
    params, spec, grid = plan.params, plan.spec, plan.grid
    k, d = plan.W0.shape
    if checkpoint is not None:
        inputs = [("resume file", resume)] if resume not in (None, True) else []
        if resume not in (None, True) and same_file(resolve_npz_path(resume),
                                                    resolve_npz_path(checkpoint)):
            inputs = []  # the allowed pair: a checkpoint that is resumed and written
        checkpoint = output_path(checkpoint, "checkpoint", inputs=inputs, npz=True)
        resumed_here = resume is True or (
            resume is not None and same_file(resolve_npz_path(resume), checkpoint))
        if checkpoint.exists() and not resumed_here:
            if resume is None:
                raise ValueError(
                    f"checkpoint {str(checkpoint)!r} exists: pass resume=True to continue (or "
                    "extend) the run saved there, or choose another path; it is never "
                    "overwritten by another run."
                )
            raise ValueError(
                f"checkpoint {str(checkpoint)!r} exists and is not the resumed checkpoint "
                f"{str(resume)!r}: it is never overwritten by another run; choose another path."
            )
    source = checkpoint if resume is True else resume
    if source is not None and (resume is not True or Path(source).exists()):
        state = _resume_state(source, params, data, spec, plan.steps_per_epoch, grid, k, d)
    else:
        state = RunState(plan.W0.copy(), spec.dyn.shape[0],
                         np.random.default_rng(params["seed"]), grid.size + 1)
        if grid.size and grid[0] == 0:
            state.record()
    return _run(data, spec, plan.lr, plan.loss, params["epochs"], grid, state, params,
                plan.steps_per_epoch, progress, checkpoint, checkpoint_every, chunk_epochs)


class _Plan(NamedTuple):
    """A validated run: its stored parameters and what the driver needs."""

    params: dict
    spec: object
    lr: Schedule
    loss: object
    W0: np.ndarray
    grid: np.ndarray
    steps_per_epoch: int


def _plan(data, optimizer, lr, epochs, loss, seed, record, w0, *, stored: bool) -> _Plan:
    """Validate a run's arguments (before any work) and resolve every default."""
    if not isinstance(data, (Dataset, MulticlassDataset)):
        raise TypeError(f"data must be a fastbias.Dataset or MulticlassDataset; got "
                        f"{type(data).__name__}.")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a fastbias optimizer such as fb.IncAdam(); got {optimizer!r}."
        )
    lr = as_schedule(_default_lr(optimizer) if lr is None else lr, stored=stored)
    epochs = check_int("epochs", epochs, 1)
    loss_spec = get_loss("ce" if loss is None and data.multiclass else loss or "exp",
                         data.multiclass)
    if isinstance(seed, np.random.Generator):
        raise TypeError(
            "seed must be an integer >= 0, not a Generator: the run draws its sample orders "
            "from numpy.random.default_rng(seed), so that it can be stored, resumed and "
            "repeated."
        )
    seed = check_int("seed", seed, 0)
    n, d = data.n, data.d
    k = data.k if data.multiclass else 1
    spec = optimizer.resolve(n)
    steps_per_epoch = -(-n // spec.batch_size)
    if epochs * steps_per_epoch > _MAX_STEPS:
        raise ValueError(
            f"epochs must be at most 2**53 / steps per epoch = {_MAX_STEPS // steps_per_epoch} "
            f"for this data and batch size (the step counter must stay exact); got {epochs}."
        )
    W0 = _check_w0(w0, data, k)
    grid = record_epochs(record, epochs, row_bytes=8 * k * d)
    params = {
        "kind": "multiclass" if data.multiclass else "binary",
        "optimizer": optimizer.to_dict(),
        "lr": _schedule_dict(lr),
        "loss": loss_spec.name,
        "seed": seed,
        "epochs": epochs,
        "record": _record_spec(record),
        "w0": None if w0 is None else W0.reshape(np.shape(w0)).tolist(),
        "data": data.fingerprint,
        "data_label": data.label,
        "data_source": data.source,
        "n": n, "d": d, "k": k,
    }
    return _Plan(params, spec, lr, loss_spec, W0, grid, steps_per_epoch)


def run_parameters(data, optimizer, *, lr=None, epochs, loss=None, seed=0, record=20,
                   w0=None) -> dict:
    """The fully resolved parameters of a run, as :func:`simulate` stores them.

    Defaults are filled in (the learning rate and loss for this optimizer and data), the
    data are identified by content (``data``: their fingerprint) and the record argument is
    normalized. Two calls of :func:`simulate` give the same result exactly when these
    dicts are equal (``lr`` is None for a plain function, which cannot be compared).

    Raises
    ------
    TypeError, ValueError
        As :func:`simulate` does, for invalid arguments.

    Examples
    --------
    >>> import fastbias as fb
    >>> p = run_parameters(fb.datasets.gaussian(n=4, d=6), fb.GD(), epochs=10)
    >>> p["lr"], p["loss"], p["record"]
    ({'name': 'Constant', 'eta': 0.1}, 'exp', 20)
    """
    return _plan(data, optimizer, lr, epochs, loss, seed, record, w0, stored=False).params


def _resume_state(path, params, data, spec, steps_per_epoch, grid, k, d) -> RunState:
    """Load a checkpoint of this run (the horizon may be larger) and check every array."""
    saved, arrays, path = read_checkpoint(path)

    def bad(what):
        return ValueError(f"checkpoint {str(path)!r} is corrupt: {what}.")

    for key in MATCHED:
        mine = params[key]
        if saved.get(key) != mine:
            raise ValueError(
                f"checkpoint {str(path)!r} belongs to a different run: {key} differs "
                f"(checkpoint {_brief(saved.get(key))}, this call {_brief(mine)}); it is left "
                "untouched. Resume with the same data, optimizer, lr, loss, seed, record and "
                "w0 (epochs may be larger, to extend the run)."
            )
    counters = arrays["counters"]
    if counters.shape != (2,):
        raise bad("counters must be two integers")
    epoch, step = int(counters[0]), int(counters[1])
    if epoch > params["epochs"]:
        raise ValueError(f"checkpoint {str(path)!r} has done {epoch:,} epochs; epochs must be "
                         f"at least that to resume it; got {params['epochs']:,}.")
    if epoch < 0 or step != epoch * steps_per_epoch:
        raise bad(f"epoch {epoch} and step {step} do not fit this run")
    ns = spec.dyn.shape[0]
    shapes = {"W": (k, d), "state": (ns, k, d), "scale": (2 + ns,), "carry": (1 + k,)}
    for key, shape in shapes.items():
        arr = arrays[key]
        if arr.shape != shape or not np.all(np.isfinite(arr)):
            raise bad(f"{key} must be finite float64 of shape {shape}")
    pending = arrays["pending"]
    if pending.shape not in ((0,), (data.n,)) or (pending.size and (
            pending.min() < 0 or pending.max() >= data.n)):
        raise bad("the pending sample order does not fit the data")
    expected = grid[grid <= epoch].tolist()
    rec_epochs, rec_w = arrays["rec_epochs"], arrays["rec_w"]
    if rec_epochs.tolist() != expected:
        raise bad(f"recorded epochs {rec_epochs.tolist()[:8]}... should be {expected[:8]}...")
    if rec_w.shape != (len(expected), k, d):
        raise bad(f"recorded iterates have shape {rec_w.shape}; expected {(len(expected), k, d)}")
    rng = np.random.default_rng()
    try:
        rng.bit_generator.state = json.loads(str(arrays["rng_state"][()]))
    except (TypeError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise bad(f"invalid generator state ({exc!r})") from None
    state = RunState(arrays["W"].astype(np.float64), ns, rng, grid.size + 1)
    state.state[...] = arrays["state"]
    state.scale[...] = arrays["scale"]
    state.carry[...] = arrays["carry"]
    state.epoch, state.step = epoch, step
    state.pending = pending.astype(np.int64)
    state.rec_W[: len(expected)] = rec_w
    state.rec_epochs = expected
    return state


def _brief(value) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _run(data, spec, lr, loss_spec, epochs, grid, state, params, steps_per_epoch, progress,
         checkpoint, checkpoint_every, chunk_epochs) -> Trajectory:
    """The chunk loop: run, record, report progress, checkpoint, honour signals."""
    X2, rowpow, rowexp, labels = data.kernel_arrays()
    n, d = data.n, data.d
    k = state.W.shape[0]
    loop = spec.rule.loop()
    max_chunk = chunk_epochs or max(1, _CHUNK_WORK // (k * (n * d * 2 + steps_per_epoch * d)))
    targets = np.append(grid[grid > state.epoch], epochs) if state.epoch < epochs else grid[:0]
    targets = np.unique(targets)
    on_grid = set(grid.tolist())
    lr_buffer = np.empty(min(max_chunk, epochs) * steps_per_epoch)
    bar = progress_bar(progress, epochs, state.epoch, unit="epoch")
    saver = _Saver(checkpoint, checkpoint_every, params, data)
    consistent = True  # False while the kernel's results and the counters disagree
    try:
        with _Signals(checkpoint is not None) as signals:
            for target in targets:
                while state.epoch < target:
                    chunk = int(min(max_chunk, target - state.epoch))
                    orders = _chunk_orders(state, spec.sampling, n, chunk)
                    lrs = lr.rates(state.step, chunk * steps_per_epoch, out=lr_buffer)
                    consistent = False
                    try:
                        loop(X2, rowpow, rowexp, labels, loss_spec.code, orders, chunk,
                             spec.batch_size, lrs, state.step, state.W, state.state, spec.hp,
                             spec.dyn, state.scale, state.carry)
                        overflowed = False
                    except OverflowError:  # only without the JIT: math.exp raises
                        overflowed = True
                    state.epoch += chunk
                    state.step += chunk * steps_per_epoch
                    if state.epoch == target and target in on_grid:
                        state.record()
                    consistent = True
                    if overflowed or not np.all(np.isfinite(state.W)):
                        raise FloatingPointError(
                            f"the iterate left the float64 range before epoch {state.epoch}: "
                            f"the exact run diverges (lr = {lr!r} is too large for these data, "
                            "or GD-type steps on data that are not separable)."
                        )
                    bar.update(chunk)
                    if signals.received is not None:
                        _stop(signals.received, state, saver)
                    saver.maybe_save(state)
    except KeyboardInterrupt as exc:
        if isinstance(exc, RunInterrupted) or checkpoint is None:
            raise
        if not consistent:  # interrupted inside a chunk's bookkeeping: keep the last save
            raise KeyboardInterrupt(f"interrupted; the checkpoint {saver.path} holds the last "
                                    "saved epoch") from None
        saver.save(state)  # a KeyboardInterrupt raised outside our handler
        raise RunInterrupted(signal.SIGINT, state.epoch, saver.path) from None
    finally:
        bar.close()
    if checkpoint is not None:
        saver.save(state)
    return _trajectory(data, state, epochs, params, loss_spec)


def _stop(signum: int, state: RunState, saver) -> None:
    saver.save(state)
    raise RunInterrupted(signum, state.epoch, saver.path)


class _Saver:
    """Writes checkpoints at most every ``every`` seconds and at most 5% of the time."""

    def __init__(self, path, every: float, params: dict, data):
        self.path, self.every, self.params, self.data = path, every, params, data
        self.last = time.monotonic()
        self.cost = 0.0

    def maybe_save(self, state: RunState) -> None:
        if self.path is None:
            return
        wait = self.every
        if self.cost > _SLOW_WRITE:
            wait = max(wait, self.cost / _CHECKPOINT_SHARE)
        if time.monotonic() - self.last >= wait:
            self.save(state)

    def save(self, state: RunState) -> None:
        if self.path is None:
            return
        start = time.monotonic()
        state.save(self.path, self.params, self.data)
        self.last = time.monotonic()
        self.cost = self.last - start


def _trajectory(data, state: RunState, epochs: int, params: dict, loss_spec) -> Trajectory:
    """The returned trajectory: the grid records plus the horizon's own."""
    count = len(state.rec_epochs)
    rec_epochs = list(state.rec_epochs)
    W = state.rec_W[:count]
    if not rec_epochs or rec_epochs[-1] != state.epoch:
        rec_epochs.append(state.epoch)
        W = np.concatenate([W, state.W[None]], axis=0)
    W = W.copy()
    return Trajectory.from_run(data, rec_epochs, W, params)


def warmup(optimizers=None) -> None:
    """Compile (or load from the on-disk cache) the step loops of the given optimizers.

    Parameters
    ----------
    optimizers : iterable of Optimizer, optional
        Default: one of each registered optimizer class (default options).

    Call it once before timing or before dispatching many runs to worker processes, so that
    no run pays for compilation.
    """
    from .optimizers import OPTIMIZERS

    X = np.array([[1.0, 2.0], [1.5, -0.5]])
    binary = Dataset(X, np.array([1.0, 1.0]), check_separable=False)
    multiclass = MulticlassDataset(np.vstack([X, -X]), [0, 1, 2, 2], check_separable=False)
    chosen = [cls() for cls in OPTIMIZERS.values()] if optimizers is None else list(optimizers)
    compiled = set()
    for optimizer in chosen:
        if id(optimizer.rule) in compiled:
            continue  # one loop per rule, whatever the options
        compiled.add(id(optimizer.rule))
        if any(f.name == "batch_size" for f in dataclasses.fields(optimizer)):
            optimizer = dataclasses.replace(optimizer, batch_size=None)
        for data in (binary, multiclass):
            simulate(data, optimizer, lr=Constant(1e-3), epochs=1, record=1, progress=False)
