"""Running experiments: every distinct curve once, references solved meanwhile, results in order."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator

import numpy as np

from .._parallel import check_progress, executor_for, progress_bar, run_tasks
from .._validation import check_int
from ..simulate import simulate, warmup
from ..trajectory import Trajectory
from .figures import figure_names, get_figure
from .report import FigureResult, Reference, Series
from .specs import REFERENCES, DataSpec, FigureSpec

__all__ = ["run_figures", "run_figure", "DEFAULT_RECORD"]

#: Records per decade of epochs in the curves of a figure.
DEFAULT_RECORD = 20


def _simulate_run(key: tuple, epochs: int, record):
    """Task: one curve's run. Returns (trajectory, seconds)."""
    data, optimizer, lr, seed, loss, model = key
    start = time.perf_counter()
    tr = simulate(
        data.make(),
        optimizer,
        lr=lr,
        epochs=epochs,
        loss=loss,
        seed=seed,
        record=list(record) if isinstance(record, tuple) else record,
        model=model,
        progress=False,
    )
    return tr, time.perf_counter() - start


def _solve_reference(data: DataSpec, name: str) -> Reference:
    from ..geometry import fixed_point, max_margin

    ds = data.make()
    if name == "fixed_point":
        fp = fixed_point(ds, tol=1e-8)
        info = {
            "iterations": fp.iterations,
            "residual": fp.residual,
            "converged": fp.converged,
            "support": fp.support.tolist(),
            "c": fp.c.tolist(),
        }
        return Reference(name, np.asarray(fp.w), None, info)
    kind = REFERENCES[name]
    mm = max_margin(ds, norm=kind.norm)
    info = {"status": mm.status, "support": np.asarray(mm.support).tolist()}
    return Reference(name, np.asarray(mm.w), float(mm.margin), info)


def _metric_values(tr: Trajectory, ref: Reference, metric: str, curve) -> np.ndarray:
    norm = REFERENCES[ref.name].norm
    if metric == "cosine":
        return np.asarray(tr.cosine(ref.w), dtype=np.float64)
    if metric == "margin_ratio":
        return np.asarray(tr.margin_ratio(norm, ref.margin), dtype=np.float64)
    if metric == "margin_gap":
        return np.asarray(tr.margin_gap(norm, ref.margin), dtype=np.float64)
    if metric == "direction_gap":
        return np.asarray(tr.direction_gap(ref.w), dtype=np.float64)
    # decay_norm: the reference's norm of the iterate times the curve's weight decay
    from ..norms import norm_values

    decay = getattr(curve.optimizer, "weight_decay", 0.0)
    return norm_values(tr.w, norm, tr.multiclass) * decay


def run_figures(
    names: Iterable[str] | None = None,
    *,
    quick: bool = False,
    epochs: int | None = None,
    jobs: int = 1,
    record: int | None = None,
    progress: bool | None = False,
    executor=None,
) -> Iterator[FigureResult]:
    """Reproduce experiments; yields one :class:`FigureResult` per name, in the order asked.

    Runs that several figures share (same data, optimizer, schedule, seed, loss and horizon)
    are simulated once. With ``jobs > 1`` (or an ``executor``) all runs are dispatched at
    once while the reference directions are solved here; results do not depend on ``jobs``.

    Parameters
    ----------
    names : iterable of str, optional
        Names of the registry (``"fig1"`` ... ``"fig10"``, ``"eps"``, ``"adamw"``,
        ``"mc-adam"``, ...); default all.
    quick : bool, default False
        Use each figure's short horizon ``quick_epochs`` instead of ``epochs``.
    epochs : int, optional
        Horizon for every figure, overriding both (>= 1).
    jobs : int, default 1
        Runs at once (>= 1): 1 runs everything in this thread; more use a pool of threads
        (the kernels release the GIL).
    record : int, optional
        Records per decade of epochs (:func:`fastbias.simulate`'s ``record``); default 20.
    progress : bool or None, default False
        Show a progress bar over runs; None: on where a person watches.
    executor : concurrent.futures.Executor or "processes", optional
        Where to run the simulations instead (for example a Dask client's
        ``get_executor()``); ``jobs`` then sets the size of a "processes" pool.

    Yields
    ------
    FigureResult

    Raises
    ------
    ValueError
        For an unknown figure name or a bad ``epochs``, ``jobs`` or ``record`` (before any
        run).

    Examples
    --------
    >>> res = next(run_figures(["fig2"], epochs=1000))  # doctest: +SKIP
    >>> res.final("Inc-Adam b=1 (cyclic)", "l2", "cosine")  # doctest: +SKIP
    """
    if isinstance(names, str):
        names = [names]
    specs = [get_figure(n) for n in (figure_names() if names is None else names)]
    if epochs is not None:
        epochs = check_int("epochs", epochs, 1)
    jobs = check_int("jobs", jobs, 1)
    record = check_int("record", DEFAULT_RECORD if record is None else record, 1)
    progress = check_progress(progress)
    if executor is None:
        executor = "threads" if jobs > 1 else "serial"

    def horizon(spec: FigureSpec) -> int:
        return epochs if epochs is not None else (spec.quick_epochs if quick else spec.epochs)

    def records(spec: FigureSpec):
        if spec.records is None:
            return record
        grid = np.linspace(0, horizon(spec), spec.records).round().astype(np.int64)
        return tuple(np.unique(grid).tolist())

    # Distinct runs in order of first use.
    runs: dict[tuple, None] = {}
    for spec in specs:
        for curve in spec.curves:
            runs.setdefault((curve.run_key, horizon(spec), records(spec)), None)

    start = time.perf_counter()
    # compile (or load) the kernels once, before any worker needs them
    warmup({run[0][1] for run in runs})
    pool_size = jobs if executor in ("threads", "processes") else None
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(progress_bar(progress, len(runs), unit="run", desc="simulating"))
        pool = stack.enter_context(executor_for(executor, pool_size, len(runs)))
        tasks = ((run, run) for run in runs)
        outcomes = stack.enter_context(contextlib.closing(run_tasks(pool, _simulate_run, tasks)))
        done: dict[tuple, tuple] = {}
        used: set = set()

        def get(run):
            while run not in done:
                outcome = next(outcomes)
                if outcome.error is not None:
                    raise outcome.error
                done[outcome.key] = outcome.value
                bar.update(1)
            fresh = run not in used
            used.add(run)
            return done[run], fresh

        references: dict[tuple, Reference] = {}
        for spec in specs:
            n_epochs = horizon(spec)
            for panel in spec.panels:  # solve while the workers simulate
                for curve in panel.curves:
                    rkey = (curve.data, panel.reference)
                    if rkey not in references:
                        references[rkey] = _solve_reference(*rkey)
            trajectories, seconds = {}, {}
            for curve in spec.curves:
                (tr, secs), fresh = get((curve.run_key, n_epochs, records(spec)))
                trajectories[curve.label] = tr
                seconds[curve.label] = secs if fresh else 0.0
            series = []
            for i, panel in enumerate(spec.panels):
                for curve in panel.curves:
                    tr = trajectories[curve.label]
                    ref = references[(curve.data, panel.reference)]
                    series.append(
                        Series(
                            i,
                            curve.label,
                            panel.reference,
                            panel.metric,
                            tr.epochs.copy(),
                            _metric_values(tr, ref, panel.metric, curve),
                            -tr.log_loss,
                        )
                    )
            keys = {(c.data, p.reference) for p in spec.panels for c in p.curves}
            yield FigureResult(
                spec=spec,
                epochs=n_epochs,
                quick=quick,
                series=tuple(series),
                trajectories=trajectories,
                references={k: v for k, v in references.items() if k in keys},
                run_seconds=seconds,
                elapsed=time.perf_counter() - start,
            )


def run_figure(name: str, **kwargs) -> FigureResult:
    """Reproduce one experiment; keyword arguments as in :func:`run_figures`."""
    return next(run_figures([name], **kwargs))
