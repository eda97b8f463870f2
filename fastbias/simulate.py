"""The driver: run compiled chunks, record, report progress, checkpoint, honour signals.

Runs are pure functions of (data, optimizer, lr, loss, seed, w0, epochs): the arguments are
validated and resolved first (:mod:`fastbias.plan`), the sample orders are drawn in Python
(:mod:`fastbias.orders`), the compiled loops are deterministic, and a run is the same bit for
bit however it is chunked, checkpointed, interrupted, resumed or extended.
"""

from __future__ import annotations

import dataclasses
import inspect
import signal
import threading
import time
import warnings
from pathlib import Path

import numba
import numpy as np

from ._io import Claim, output_path, resolve_npz_path, same_file
from ._kernels.scale import default_limits
from ._parallel import check_progress, one_blas_thread, progress_bar
from ._validation import check_int, check_interval
from .checkpoints import RunState, restore_state, resume_state
from .datasets import Dataset, MulticlassDataset
from .optimizers import Optimizer
from .orders import chunk_orders
from .plan import check_path, plan_run, run_parameters
from .records import MAX_RECORD_BYTES, record_epochs
from .schedules import Constant
from .trajectory import NotSeparatedWarning, Trajectory

__all__ = [
    "simulate",
    "run_parameters",
    "record_epochs",
    "warmup",
    "RunInterrupted",
    "MAX_RECORD_BYTES",
]

# Work per compiled call, in units of multiply-adds (about 10-50 ms): chunk boundaries are
# where records, progress and checkpoints happen. Results do not depend on it.
_CHUNK_WORK = 1 << 24
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
        if signum == signal.SIGTERM:
            # SIGTERM wins: a job stopped by its scheduler stays a SIGTERM'd job (saved, exit
            # status of SIGTERM) whatever SIGINT comes before (pending together) or after
            self.received = signum
        elif self.received == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        elif self.received is None:
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
    model=None,
    theta0=None,
    progress: bool | None = None,
    checkpoint=None,
    checkpoint_every: float = 60.0,
    resume=None,
    chunk_epochs: int | None = None,
    threads: int = 1,
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
    model : Model, optional
        A model beyond the linear one, such as ``fb.DiagonalNet(depth=2, init_scale=1.0)``
        (SPEC 13): the optimizer trains its parameter theta, whose effective weights score
        the samples; ``tr.w`` are the effective weights and ``tr.theta`` the parameters.
    theta0 : array_like, optional
        The model's starting parameter, shape ``(multiplicity, *w.shape)`` (a diagonal
        network: ``(2, d)`` or ``(2, k, d)`` for (u, v)); default the model's (u = v =
        init_scale). Not together with ``w0``.
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
    threads : int, default 1
        Threads for the two passes over the data of each full-batch step (the scores and
        the gradient), for optimizers whose steps take every sample (``batch_size`` = n):
        at most Numba's thread count (``numba.config.NUMBA_NUM_THREADS``). Results are
        bitwise those of one thread (the work is split by samples for the scores and by
        coordinates for the gradient, so no sum changes its order). Worth it on large
        data only: each step then pays two thread launches of a few microseconds (see
        the README, Performance). Threaded runs use Numba's threading layer; run them in
        the main thread or in separate processes (``sweep(..., executor="processes")``),
        not from several threads of one process at once.

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
    check_path("checkpoint", checkpoint)
    if resume is not None and resume is not True:
        check_path("resume", resume)
    if resume is True and checkpoint is None:
        raise ValueError(
            "resume=True continues the run saved in `checkpoint`; give "
            "checkpoint=<path> too (or resume=<path of a checkpoint>)."
        )
    plan = plan_run(
        data,
        optimizer,
        lr,
        epochs,
        loss,
        seed,
        record,
        w0,
        stored=checkpoint is not None or resume is not None,
        model=model,
        theta0=theta0,
    )
    progress = check_progress(progress)
    checkpoint_every = check_interval("checkpoint_every", checkpoint_every, 0, np.inf, "neither")
    execution = _check_execution(data, plan, chunk_epochs, threads)
    claim = None
    if checkpoint is not None:
        inputs = [("resume file", resume)] if resume not in (None, True) else []
        if resume not in (None, True) and same_file(
            resolve_npz_path(resume), resolve_npz_path(checkpoint)
        ):
            inputs = []  # the allowed pair: a checkpoint that is resumed and written
        checkpoint = output_path(checkpoint, "checkpoint", inputs=inputs, npz=True)
        # owned until the run ends: a second run on this file fails here, at once
        claim = Claim(checkpoint, "checkpoint")
    try:
        return _claimed_run(data, plan, resume, progress, checkpoint, checkpoint_every, execution)
    finally:
        if claim is not None:
            claim.release()


def _claimed_run(data, plan, resume, progress, checkpoint, checkpoint_every, execution):
    """:func:`simulate` once its checkpoint, if any, is owned by this run."""
    params, spec, grid = plan.params, plan.spec, plan.grid
    k, d = plan.W0.shape
    if checkpoint is not None:
        resumed_here = resume is True or (
            resume is not None and same_file(resolve_npz_path(resume), checkpoint)
        )
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
        state = resume_state(source, params, data, spec, plan.steps_per_epoch, grid, k, d)
    else:
        state = _start(plan)
    tr = _run(
        data,
        plan,
        params["epochs"],
        grid,
        state,
        progress,
        checkpoint,
        checkpoint_every,
        execution,
    )
    _warn_if_not_separated(tr, data, stacklevel=4)
    return tr


def _check_execution(data, plan, chunk_epochs, threads) -> tuple:
    """``(chunk_epochs, threads)`` of a run, checked: how it is run, not what it computes."""
    if chunk_epochs is not None:
        chunk_epochs = check_int("chunk_epochs", chunk_epochs, 1)
    threads = check_int("threads", threads, 1, numba.config.NUMBA_NUM_THREADS)
    if threads > 1 and plan.spec.batch_size < data.n:
        raise ValueError(
            f"threads={threads} is for full-batch steps (batch_size = n = {data.n}); this "
            f"optimizer takes batches of {plan.spec.batch_size} samples, which run on one "
            "thread: leave threads at 1."
        )
    return chunk_epochs, threads


def _start(plan) -> RunState:
    """The state of a run at epoch 0 (recorded there if the grid asks for it)."""
    state = RunState.start(plan, np.random.default_rng(plan.params["seed"]), plan.grid.size + 1)
    if plan.grid.size and plan.grid[0] == 0:
        state.record()
    return state


def _warn_if_not_separated(tr: Trajectory, data, stacklevel: int) -> None:
    if tr.separated:
        return
    warnings.warn(
        f"the run ended at epoch {int(tr.epochs[-1])} with smallest margin "
        f"{tr.min_margin[-1]:.3g} <= 0: the data are not separated by its iterate "
        "(cosines and normalized margins describe a misclassifying w); run longer"
        + ("" if data.separability_checked else ", or check that the data are separable")
        + ".",
        NotSeparatedWarning,
        stacklevel=stacklevel,
    )


def continue_run(
    data, optimizer, *, state=None, stored=True, chunk_epochs=None, threads=1, **arguments
):
    """:func:`simulate` from a saved state, returning the run and its final state (for sweeps).

    It does not warn when the run ends unseparated (the sweep says so, naming the configs).

    Parameters
    ----------
    data, optimizer, arguments
        As for :func:`simulate` (``lr``, ``epochs``, ``loss``, ``seed``, ``record``, ``w0``,
        ``model``, ``theta0``).
    state : tuple (params, arrays), optional
        A state of this run at an epoch <= ``epochs``, as :func:`read_checkpoint` reads it
        from a checkpoint file (or as this function returned it); default: start at epoch 0.
    stored : bool, default True
        Whether the final state is returned (the learning rate must then have a stored form).
    chunk_epochs, threads : optional
        As for :func:`simulate`.

    Returns
    -------
    (Trajectory, (dict, dict) or None)
        The run, bitwise equal to ``simulate(data, optimizer, **arguments)``, and its final
        state as ``(params, arrays)``: the arrays of a checkpoint file without the data.
    """
    bound = inspect.signature(simulate).bind(data, optimizer, **arguments)
    bound.apply_defaults()
    given = bound.arguments
    plan = plan_run(
        *(given[name] for name in ("data", "optimizer", "lr", "epochs", "loss", "seed")),
        *(given[name] for name in ("record", "w0")),
        stored=stored,
        model=given["model"],
        theta0=given["theta0"],
    )
    execution = _check_execution(data, plan, chunk_epochs, threads)
    params = plan.params
    if state is None:
        start = _start(plan)
    else:
        saved, arrays = state
        k, d = plan.W0.shape
        checked = (params, data, plan.spec, plan.steps_per_epoch, plan.grid, k, d)
        start = restore_state(saved, arrays, "the saved state", *checked)
    tr = _run(data, plan, params["epochs"], plan.grid, start, False, None, 1.0, execution)
    if not stored:
        return tr, None
    return tr, (params, start.arrays(params, data, carry_data=False))


class Runner:
    """Runs a plan's compiled loop on a run state, chunk by chunk: no records, files or signals.

    ``limits`` are the scale bounds ``[LOW_BITS, HIGH_BITS]`` (tight ones stress a rule's
    declared state dynamics, see :func:`fastbias.extend.check_optimizer`).
    """

    def __init__(self, data, plan, chunk_epochs: int | None = None, limits=None, threads=1):
        self.data, self.plan = data, plan
        self.arrays = data.kernel_arrays()
        self.loop = plan.spec.rule.loop(plan.loss, plan.model, threads)
        self.lparams = plan.loss.parameters()
        self.extra = () if plan.model is None else (plan.model.parameters(),)
        self.limits = default_limits() if limits is None else np.asarray(limits, np.float64)
        n, d = data.n, data.d
        k = data.k if data.multiclass else 1
        self.max_chunk = chunk_epochs or max(
            1, _CHUNK_WORK // (k * (n * d * 2 + plan.steps_per_epoch * d))
        )
        self._rates = np.empty(self.max_chunk * plan.steps_per_epoch)

    def scores_finite(self, W) -> bool:
        """Whether every score ``<w, x_i>`` of the parameter ``W`` is a float64 number."""
        X2, rowpow, _, _ = self.arrays
        weights = W if self.plan.model is None else self.plan.model.weights(W)
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(np.all(np.isfinite((weights @ X2.T) * rowpow)))

    def advance(self, state: RunState, chunk: int) -> bool:
        """Run ``chunk`` epochs (at most ``max_chunk``) and count them.

        Returns True if a value overflowed without the JIT (``math.exp`` raises there).
        """
        plan, spec = self.plan, self.plan.spec
        X2, rowpow, rowexp, labels = self.arrays
        orders = chunk_orders(state, spec.sampling, self.data.n, chunk)
        lrs = plan.lr.rates(state.step, chunk * plan.steps_per_epoch, out=self._rates)
        try:
            self.loop(
                X2,
                rowpow,
                rowexp,
                labels,
                self.lparams,
                orders,
                chunk,
                spec.batch_size,
                lrs,
                state.step,
                state.W,
                state.state,
                spec.hp,
                spec.dyn,
                state.scale,
                state.carry,
                self.limits,
                *self.extra,
            )
            overflowed = False
        except OverflowError:
            overflowed = True
        state.epoch += chunk
        state.step += chunk * plan.steps_per_epoch
        return overflowed


def _run(
    data, plan, epochs, grid, state, progress, checkpoint, checkpoint_every, execution
) -> Trajectory:
    """The chunk loop: run, record, report progress, checkpoint, honour signals.

    ``execution`` is ``(chunk_epochs, threads)``, see :func:`_check_execution`.
    """
    chunk_epochs, threads = execution
    with one_blas_thread(threads):  # records and metrics too
        runner = Runner(data, plan, chunk_epochs, threads=threads)
        targets = np.append(grid[grid > state.epoch], epochs) if state.epoch < epochs else grid[:0]
        targets = np.unique(targets)
        on_grid = set(grid.tolist())
        bar = progress_bar(progress, epochs, state.epoch, unit="epoch")
        saver = _Saver(checkpoint, checkpoint_every, plan.params, data)
        consistent = True  # False while the kernel's results and the counters disagree
        last_finite = state.epoch  # the last epoch at which every score was a float64 number
        try:
            with _Signals(checkpoint is not None) as signals:
                for target in targets:
                    while state.epoch < target:
                        chunk = int(min(runner.max_chunk, target - state.epoch))
                        consistent = False
                        overflowed = runner.advance(state, chunk)
                        if state.epoch == target and target in on_grid:
                            state.record()
                        consistent = True
                        if overflowed or not np.all(np.isfinite(state.W)):
                            raise FloatingPointError(
                                f"the iterate left the float64 range before epoch {state.epoch}: "
                                f"the exact run diverges (lr = {plan.lr!r} is too large for these "
                                "data, or GD-type steps on data that are not separable)."
                            )
                        if not runner.scores_finite(state.W):
                            raise FloatingPointError(
                                f"the scores <w, x_i> left the float64 range (|s| > 1.8e308) "
                                f"between epochs {last_finite} and {state.epoch}: the run cannot "
                                "go further in float64; stop it before (or, if it diverges, "
                                f"lr = {plan.lr!r} is too large for these data)."
                            )
                        last_finite = state.epoch
                        bar.update(chunk)
                        if signals.received is not None:
                            _stop(signals.received, state, saver)
                        saver.maybe_save(state)
        except KeyboardInterrupt as exc:
            if isinstance(exc, RunInterrupted) or checkpoint is None:
                raise
            if not consistent:  # interrupted inside a chunk's bookkeeping: keep the last save
                raise KeyboardInterrupt(
                    f"interrupted; the checkpoint {saver.path} holds the last saved epoch"
                ) from None
            saver.save(state)  # a KeyboardInterrupt raised outside our handler
            raise RunInterrupted(signal.SIGINT, state.epoch, saver.path) from None
        finally:
            bar.close()
        if checkpoint is not None:
            saver.save(state)
        return _trajectory(data, state, plan)


def _stop(signum: int, state: RunState, saver) -> None:
    saver.save(state)
    raise RunInterrupted(signum, state.epoch, saver.path)


class _Saver:
    """Writes checkpoints at most every ``every`` seconds and at most 5% of the time.

    A checkpoint whose writing took ``cost`` seconds (more than ``_SLOW_WRITE``) waits at
    least ``cost / _CHECKPOINT_SHARE`` before the next one. ``clock`` is the time source
    (seconds; ``time.monotonic``).
    """

    def __init__(self, path, every: float, params: dict, data, clock=time.monotonic):
        self.path, self.every, self.params, self.data = path, every, params, data
        self.clock = clock
        self.last = clock()
        self.cost = 0.0

    def wait(self) -> float:
        """Seconds between the end of the last write and the next one."""
        if self.cost > _SLOW_WRITE:
            return max(self.every, self.cost / _CHECKPOINT_SHARE)
        return self.every

    def maybe_save(self, state: RunState) -> None:
        if self.path is not None and self.clock() - self.last >= self.wait():
            self.save(state)

    def save(self, state: RunState) -> None:
        if self.path is None:
            return
        start = self.clock()
        state.save(self.path, self.params, self.data)
        self.last = self.clock()
        self.cost = self.last - start


def _trajectory(data, state: RunState, plan) -> Trajectory:
    """The returned trajectory: the grid records plus the horizon's own."""
    count = len(state.rec_epochs)
    rec_epochs = list(state.rec_epochs)
    W = state.rec_W[:count]
    if not rec_epochs or rec_epochs[-1] != state.epoch:
        rec_epochs.append(state.epoch)
        W = np.concatenate([W, state.W[None]], axis=0)
    W = W.copy()
    return Trajectory.from_run(data, rec_epochs, W, plan.params, plan.loss, plan.model)


def warmup(optimizers=None) -> None:
    """Compile (or load from the on-disk cache) the step loops of the given optimizers.

    Parameters
    ----------
    optimizers : iterable of Optimizer, optional
        Default: one of each registered optimizer class (default options).

    The loops are compiled per rule and loss: this compiles the default losses (``"exp"``
    for binary data, ``"ce"`` for multiclass data); others compile on first use. Call it
    once before timing or before dispatching many runs to worker processes, so that no run
    pays for compilation.
    """
    from .optimizers import OPTIMIZERS

    X = np.array([[1.0, 2.0], [1.5, -0.5]])
    binary = Dataset(X, np.array([1.0, 1.0]), check_separable=False)
    multiclass = MulticlassDataset(np.vstack([X, -X]), [0, 1, 2, 2], check_separable=False)
    chosen = [cls() for cls in OPTIMIZERS.values()] if optimizers is None else list(optimizers)
    compiled = set()
    for optimizer in chosen:
        if id(optimizer.kernel_rule()) in compiled:
            continue  # one loop per rule (and loss), whatever the options
        compiled.add(id(optimizer.kernel_rule()))
        if any(f.name == "batch_size" for f in dataclasses.fields(optimizer)):
            optimizer = dataclasses.replace(optimizer, batch_size=None)
        for data in (binary, multiclass):
            try:
                optimizer.check_data(data)
            except (TypeError, ValueError):
                continue  # e.g. a Schatten norm on binary data: it runs on matrices only
            with warnings.catch_warnings():  # one epoch of a compile run separates nothing
                warnings.simplefilter("ignore", NotSeparatedWarning)
                simulate(data, optimizer, lr=Constant(1e-3), epochs=1, record=1, progress=False)
