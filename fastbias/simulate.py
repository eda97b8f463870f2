"""The driver: validate, draw the random sample orders, run compiled chunks, record."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

import numpy as np

from ._io import atomic_savez, load_npz, resolve_npz_path
from ._kernels._scaled import EXP_LOSS, LOGISTIC_LOSS
from ._kernels.loop import run_epochs
from ._validation import check_finite_array, check_int, check_interval, check_option
from .datasets import Dataset
from .metrics import log_loss as _log_loss
from .optimizers import GD, Optimizer
from .schedules import Constant, PolynomialDecay, Schedule
from .trajectory import Trajectory

__all__ = ["simulate", "record_epochs", "warmup", "LOSSES"]

#: Loss names accepted by :func:`simulate`.
LOSSES = {"exp": EXP_LOSS, "logistic": LOGISTIC_LOSS}

# Work per compiled call, in units of multiply-adds (about 10-50 ms): chunk boundaries are
# where records, progress and checkpoints happen. Results do not depend on it.
_CHUNK_WORK = 1 << 24
_CHECKPOINT_FORMAT = "fastbias-checkpoint-1"
# Largest step counter: learning rates use float(t + 2), exact up to 2**53.
_MAX_STEPS = 2**53


def record_epochs(record, epochs: int) -> np.ndarray:
    """Epochs at which :func:`simulate` records the iterate.

    ``record`` is a count k (up to k distinct log-spaced epochs in 1..epochs, always
    including ``epochs``) or a sequence of epochs in [0, epochs] (0 is the starting point),
    to which ``epochs`` is added.
    """
    if isinstance(record, (Sequence, np.ndarray)) and not isinstance(record, str):
        arr = np.asarray(record)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(
                f"record must be a count or a 1-D sequence of integer epochs; got {record!r}."
            )
        bad = arr[(arr < 0) | (arr > epochs)]
        if bad.size:
            raise ValueError(
                f"record epochs must be in [0, epochs] = [0, {epochs}]; got {int(bad[0])}."
            )
        return np.union1d(arr.astype(np.int64), [epochs])
    k = check_int("record", record, 1)
    if k >= epochs:
        return np.arange(1, epochs + 1, dtype=np.int64)
    if k == 1:
        return np.array([epochs], dtype=np.int64)
    grid = np.rint(np.logspace(0.0, np.log10(epochs), k)).astype(np.int64)
    grid[-1] = epochs
    return np.unique(np.clip(grid, 1, epochs))


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


def _epoch_orders(rng, sampling: str, n: int, epochs: int) -> np.ndarray:
    """Sample orders of the next ``epochs`` epochs, shape (epochs, n) (or (1, n) if cyclic).

    Follows the reproducibility contract: epoch e uses ``rng.permutation(n)`` (reshuffle) or
    ``rng.integers(0, n, size=n)`` (replacement), drawn in epoch order.
    """
    if sampling == "cyclic":
        return np.arange(n, dtype=np.int64).reshape(1, n)
    if _vector_draws_match(sampling, n):
        orders = _draw_epochs_vectorized(rng, sampling, n, epochs)
    else:
        orders = np.stack([_draw_epoch(rng, sampling, n) for _ in range(epochs)])
    return np.ascontiguousarray(orders, dtype=np.int64)


def _default_lr(optimizer: Optimizer) -> Schedule:
    return Constant(0.1) if isinstance(optimizer, GD) else PolynomialDecay()


class _RunState:
    """Everything a run needs to continue: iterate, moments, log-scale, counters, records."""

    def __init__(self, w, d, rng):
        self.w = w
        self.m = np.zeros(d)
        self.v = np.zeros(d)
        self.scale = np.zeros(3)
        self.epoch = 0
        self.step = 0
        self.rng = rng
        self.rec_epochs: list[int] = []
        self.rec_w: list[np.ndarray] = []

    def arrays(self, params_json: str) -> dict:
        return {
            "format": np.array(_CHECKPOINT_FORMAT),
            "params": np.array(params_json),
            "w": self.w,
            "m": self.m,
            "v": self.v,
            "scale": self.scale,
            "counters": np.array([self.epoch, self.step], dtype=np.int64),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "rec_epochs": np.array(self.rec_epochs, dtype=np.int64),
            "rec_w": np.array(self.rec_w, dtype=np.float64).reshape(len(self.rec_w), self.w.size),
        }

    @classmethod
    def from_checkpoint(cls, path, params_json: str, d: int, steps_per_epoch: int) -> _RunState:
        """Load and check a checkpoint of the run described by ``params_json``."""
        path = resolve_npz_path(path)
        data = load_npz(
            path,
            "checkpoint",
            ("format", "params", "w", "m", "v", "scale", "counters", "rng_state", "rec_epochs",
             "rec_w"),
        )

        def bad(what):
            return ValueError(f"checkpoint {str(path)!r} is corrupt: {what}.")

        if str(data["format"]) != _CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint file {str(path)!r} has an unknown format.")
        try:
            saved = json.loads(str(data["params"]))
            rng_state = json.loads(str(data["rng_state"]))
        except json.JSONDecodeError as exc:
            raise bad(f"unreadable parameters or generator state ({exc})") from None
        wanted = json.loads(params_json)
        diff = sorted(key for key in wanted if saved.get(key) != wanted.get(key))
        if diff:
            raise ValueError(
                f"checkpoint {str(path)!r} belongs to a different run: {diff[0]} differs "
                f"(checkpoint {saved.get(diff[0])!r}, this call {wanted.get(diff[0])!r}); "
                "resume with the same data, optimizer, lr, loss, seed, epochs, record and w0."
            )
        for key, shape in (("w", (d,)), ("m", (d,)), ("v", (d,)), ("scale", (3,))):
            arr = data[key]
            if arr.dtype != np.float64 or arr.shape != shape or not np.all(np.isfinite(arr)):
                raise bad(f"{key} must be finite float64 of shape {shape}")
        counters, rec_epochs, rec_w = data["counters"], data["rec_epochs"], data["rec_w"]
        if counters.dtype != np.int64 or counters.shape != (2,):
            raise bad("counters must be two int64 values")
        epoch, step = (int(c) for c in counters)
        records = wanted["record"]
        if not (0 <= epoch <= wanted["epochs"]) or step != epoch * steps_per_epoch:
            raise bad(f"epoch {epoch} and step {step} do not fit this run")
        expected = [e for e in records if e <= epoch]
        if rec_epochs.dtype != np.int64 or rec_epochs.tolist() != expected:
            raise bad(f"recorded epochs {rec_epochs.tolist()} should be {expected}")
        if rec_w.dtype != np.float64 or rec_w.shape != (len(expected), d):
            raise bad(f"recorded iterates have shape {rec_w.shape}; expected {(len(expected), d)}")
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError) as exc:
            raise bad(f"invalid generator state ({exc!r})") from None
        state = cls(data["w"].copy(), d, rng)
        state.m, state.v, state.scale = data["m"].copy(), data["v"].copy(), data["scale"].copy()
        state.epoch, state.step = epoch, step
        state.rec_epochs = expected
        state.rec_w = [row.copy() for row in rec_w]
        return state


def _check_path(name: str, value):
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike) or None; got {value!r}.")


def _progress_bar(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="epoch", dynamic_ncols=True, leave=False)


def simulate(
    data: Dataset,
    optimizer: Optimizer,
    *,
    lr: Schedule | None = None,
    epochs: int,
    loss: str = "exp",
    seed: int = 0,
    record=200,
    w0=None,
    progress: bool = False,
    checkpoint=None,
    checkpoint_every: float = 60.0,
    resume=None,
    chunk_epochs: int | None = None,
) -> Trajectory:
    """Run an optimizer on separable data for ``epochs`` epochs, exactly at any horizon.

    Parameters
    ----------
    data : Dataset
        The samples (see :class:`fastbias.Dataset`).
    optimizer : Optimizer
        ``IncAdam``, ``DetAdam``, ``AdamProxy``, ``IncSignum``, ``SignGD``, ``GD`` or
        ``NormalizedGD``.
    lr : Schedule, optional
        Learning-rate schedule over optimizer steps t = 0, 1, ...; default
        ``PolynomialDecay(0.1, 0.5)`` (ours), ``Constant(0.1)`` for GD.
    epochs : int
        Passes over the data, >= 1 (an epoch has ceil(n / batch_size) steps).
    loss : {"exp", "logistic"}, default "exp"
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` for the sample orders (reshuffle, replacement).
    record : int or sequence of int, default 200
        A count (up to that many log-spaced epochs in 1..epochs) or explicit epochs in
        [0, epochs]; ``epochs`` is always recorded.
    w0 : array_like (d,), optional
        Starting point, default zeros.
    progress : bool, default False
        Show a progress bar (tqdm).
    checkpoint : path, optional
        Save the complete run state atomically to this ``.npz`` file every
        ``checkpoint_every`` seconds and at the end.
    checkpoint_every : float, default 60.0
        Seconds between checkpoints, > 0.
    resume : path, optional
        Continue the run saved in this checkpoint; the other arguments must be those of the
        saved run. The result is bitwise identical to an uninterrupted run.
    chunk_epochs : int, optional
        Most epochs per compiled call (default: about 20 ms of work). Results do not depend
        on it.

    Returns
    -------
    Trajectory

    Raises
    ------
    TypeError, ValueError
        For invalid arguments (before any computation), or a checkpoint of another run.

    Notes
    -----
    The kernels follow the exact recurrences of the paper's Algorithms 1, 2 and 4 and
    Definition 4.2, without epsilon or bias correction. Loss derivatives are kept as a
    mantissa times ``exp(S)`` with a log-scale S that follows the optimizer state, so no
    product underflows: runs of 1e8 steps neither freeze nor clamp. The result is a pure
    function of (data, optimizer, lr, loss, seed, w0, epochs), whatever the chunking,
    recording, checkpointing or resuming.

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.gaussian(n=4, d=8, seed=0)
    >>> tr = fb.simulate(ds, fb.IncAdam(), epochs=100, record=3)
    >>> tr.epochs
    array([  1,  10, 100])
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a fastbias.Dataset; got {type(data).__name__}.")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a fastbias optimizer such as fb.IncAdam(); got {optimizer!r}."
        )
    lr = _default_lr(optimizer) if lr is None else lr
    if not isinstance(lr, Schedule):
        raise TypeError(
            f"lr must be a schedule such as fb.PolynomialDecay(0.1, 0.5) or fb.Constant(0.1); "
            f"got {lr!r}."
        )
    epochs = check_int("epochs", epochs, 1)
    if epochs > _MAX_STEPS:
        raise ValueError(f"epochs must be at most 2**53; got {epochs}.")
    loss_code = LOSSES[check_option("loss", loss, LOSSES)]
    if isinstance(seed, np.random.Generator):
        raise TypeError(
            "seed must be an integer >= 0, not a Generator: the run draws its sample orders "
            "from numpy.random.default_rng(seed), so that it can be stored, resumed and "
            "repeated."
        )
    seed = check_int("seed", seed, 0)
    records = record_epochs(record, epochs)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False; got {progress!r}.")
    checkpoint_every = check_interval("checkpoint_every", checkpoint_every, 0, np.inf, "neither")
    if chunk_epochs is not None:
        chunk_epochs = check_int("chunk_epochs", chunk_epochs, 1)
    _check_path("checkpoint", checkpoint)
    _check_path("resume", resume)
    n, d = data.n, data.d
    spec = optimizer.resolve(n)
    steps_per_epoch = -(-n // spec.batch_size)
    if epochs * steps_per_epoch > _MAX_STEPS:
        raise ValueError(
            f"epochs must be at most 2**53 / steps per epoch = {_MAX_STEPS // steps_per_epoch} "
            f"for this data and batch size (the step counter must stay exact); got {epochs}."
        )
    if w0 is None:
        w = np.zeros(d)
    else:
        w = check_finite_array("w0", w0, ndim=1).copy()
        if w.shape != (d,):
            raise ValueError(f"w0 must have shape (d,) = ({d},); got {w.shape}.")

    params = {
        "optimizer": optimizer.to_dict(),
        "lr": lr.to_dict(),
        "loss": loss,
        "seed": seed,
        "epochs": epochs,
        "record": records.tolist(),
        "data": data.fingerprint,
        "w0": w.tolist(),
    }
    params_json = json.dumps(params, sort_keys=True)
    if resume is not None:
        state = _RunState.from_checkpoint(resume, params_json, d, steps_per_epoch)
    else:
        state = _RunState(w, d, np.random.default_rng(seed))
        if records[0] == 0:
            state.rec_epochs.append(0)
            state.rec_w.append(w.copy())

    Z = np.ascontiguousarray(data.Z)
    zinf = np.max(np.abs(Z), axis=1)
    with np.errstate(divide="ignore"):
        log_zinf = np.log(zinf)
    max_chunk = chunk_epochs or max(1, _CHUNK_WORK // (n * d * 2 + steps_per_epoch * d))
    pending = records[records > state.epoch]
    lr_buffer = np.empty(min(max_chunk, epochs) * steps_per_epoch)
    bar = _progress_bar(progress, epochs, state.epoch)
    last_save = time.monotonic()
    try:
        for target in pending:
            while state.epoch < target:
                chunk = int(min(max_chunk, target - state.epoch))
                orders = _epoch_orders(state.rng, spec.sampling, n, chunk)
                lrs = lr.rates(state.step, chunk * steps_per_epoch, out=lr_buffer)
                try:
                    run_epochs(
                        spec.rule, loss_code, Z, zinf, log_zinf, orders, chunk, spec.batch_size,
                        lrs, spec.beta1, spec.beta2, state.w, state.m, state.v, state.scale,
                    )
                    overflowed = False
                except OverflowError:  # only without the JIT: math.exp raises, Numba gives inf
                    overflowed = True
                state.epoch += chunk
                state.step += chunk * steps_per_epoch
                if overflowed or not np.all(np.isfinite(state.w)):
                    raise FloatingPointError(
                        f"the iterate left the float64 range before epoch {state.epoch}: the "
                        f"exact run diverges (lr = {lr!r} is too large for these data; "
                        "GD with the exponential loss on non-separable data does this)."
                    )
                if state.epoch == target:
                    state.rec_epochs.append(state.epoch)
                    state.rec_w.append(state.w.copy())
                if bar is not None:
                    bar.update(chunk)
                if checkpoint is not None and time.monotonic() - last_save >= checkpoint_every:
                    atomic_savez(checkpoint, state.arrays(params_json))
                    last_save = time.monotonic()
    finally:
        if bar is not None:
            bar.close()
    if checkpoint is not None:
        atomic_savez(checkpoint, state.arrays(params_json))

    W = np.array(state.rec_w)
    return Trajectory(
        state.rec_epochs,
        W,
        _log_loss(Z, W, loss),
        np.min(W @ Z.T, axis=1),
        params,
    )


def warmup() -> None:
    """Compile (or load from the on-disk cache) every kernel with its one signature.

    Call it once before timing or before dispatching many runs to worker processes, so that
    no run pays for compilation.
    """
    X = np.array([[1.0, 2.0], [1.5, -0.5]])
    data = Dataset(X, np.array([1.0, 1.0]), check_separable=False)
    from .optimizers import AdamProxy, IncAdam, NormalizedGD

    for optimizer in (IncAdam(), AdamProxy(), NormalizedGD()):
        simulate(data, optimizer, epochs=1, record=1)
