"""Sweeps: many :func:`~fastbias.simulate` runs through any ``concurrent.futures`` executor.

A config is a dict of :func:`~fastbias.simulate` keyword arguments. :func:`sweep` runs a list
of them in parallel (local processes by default, any ``concurrent.futures.Executor``
otherwise, e.g. a Dask cluster through ``client.get_executor()``), collects one table row per
config and the trajectories, and optionally keeps every result in a folder so that an
interrupted sweep picks up where it stopped.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import inspect
import io
import itertools
import json
import multiprocessing
import numbers
import operator
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ._io import atomic_write_text
from ._validation import check_int
from .datasets import Dataset
from .optimizers import Optimizer
from .schedules import Schedule
from .simulate import record_epochs, simulate, warmup
from .trajectory import Trajectory

__all__ = ["sweep", "grid", "SweepResult", "config_key", "TABLE_NAME"]

#: Name of the table written into the ``out`` folder of :func:`sweep`.
TABLE_NAME = "sweep.csv"

_KEY_FORMAT = "fastbias-sweep-1"
# simulate() arguments that a sweep manages itself (files, terminal output).
_MANAGED = ("progress", "checkpoint", "checkpoint_every", "resume")
# simulate() arguments that do not change the result, hence not part of a config's key.
_RESULT_NEUTRAL = ("chunk_epochs",)
_SIGNATURE = inspect.signature(simulate)
_ALLOWED = tuple(name for name in _SIGNATURE.parameters if name not in _MANAGED)
_REQUIRED = tuple(
    name for name, p in _SIGNATURE.parameters.items() if p.default is inspect.Parameter.empty
)
_DEFAULTS = {
    name: p.default
    for name, p in _SIGNATURE.parameters.items()
    if p.default is not inspect.Parameter.empty and name not in _MANAGED
}
_METRICS = ("final_epoch", "final_log_loss", "min_margin", "norm_l2", "margin_l2", "margin_linf")


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


def _check_key_name(name, where: str) -> None:
    if name in _MANAGED:
        raise TypeError(
            f"{where} has the key {name!r}, which a sweep manages itself; allowed keys are "
            f"{list(_ALLOWED)}."
        )
    if name not in _ALLOWED:
        raise TypeError(
            f"{where} has the unknown key {name!r}; allowed keys are the simulate() arguments "
            f"{list(_ALLOWED)}."
        )


def grid(**axes) -> list[dict]:
    """Cartesian product of :func:`~fastbias.simulate` arguments, as a list of configs.

    Parameters
    ----------
    **axes
        ``simulate()`` keyword arguments (``data``, ``optimizer``, ``lr``, ``epochs``,
        ``loss``, ``seed``, ``record``, ``w0``, ``chunk_epochs``). A list, tuple or range is
        an axis: one config per value. Any other value (a Dataset, an optimizer, a number,
        a string, a NumPy array) is the same in every config. To give a list-valued argument
        such as ``record=[0, 10, 100]`` to every config, wrap it: ``record=[[0, 10, 100]]``.

    Returns
    -------
    list of dict
        One dict per combination; the last axis varies fastest.

    Raises
    ------
    TypeError
        For a keyword that is not a ``simulate()`` argument a sweep accepts, or no keyword.
    ValueError
        For an empty axis.

    Examples
    --------
    >>> import fastbias as fb
    >>> configs = grid(optimizer=[fb.IncAdam(), fb.DetAdam()], seed=range(2), epochs=10)
    >>> [(c["optimizer"].__class__.__name__, c["seed"]) for c in configs]
    [('IncAdam', 0), ('IncAdam', 1), ('DetAdam', 0), ('DetAdam', 1)]
    """
    if not axes:
        raise TypeError(f"grid needs at least one keyword argument among {list(_ALLOWED)}.")
    names, options = [], []
    for name, value in axes.items():
        _check_key_name(name, "grid")
        if isinstance(value, (list, tuple, range)):
            values = list(value)
            if not values:
                raise ValueError(
                    f"{name} must list at least one value; got an empty {type(value).__name__}."
                )
        else:
            values = [value]
        names.append(name)
        options.append(values)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*options)]


def _check_configs(configs) -> list[dict]:
    if isinstance(configs, Mapping):
        raise TypeError(
            "configs must be a list of dicts of simulate() arguments; got a single dict "
            "(wrap it in a list)."
        )
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Iterable):
        raise TypeError(
            f"configs must be a list of dicts of simulate() arguments; got {configs!r}."
        )
    checked = []
    for i, config in enumerate(configs):
        if not isinstance(config, Mapping):
            raise TypeError(
                f"configs[{i}] must be a dict of simulate() arguments; got "
                f"{type(config).__name__} {config!r}."
            )
        for name in config:
            _check_key_name(name, f"configs[{i}]")
        missing = [name for name in _REQUIRED if name not in config]
        if missing:
            raise TypeError(f"configs[{i}] lacks the required key {missing[0]!r}.")
        checked.append(dict(config))
    if not checked:
        raise ValueError("configs must hold at least one config; got an empty sequence.")
    return checked


class _Fingerprints:
    """Data fingerprints, computed once per Dataset object within a sweep."""

    def __init__(self):
        self._cache: dict[int, tuple[Dataset, str]] = {}

    def __call__(self, data: Dataset) -> str:
        hit = self._cache.get(id(data))
        if hit is None or hit[0] is not data:
            hit = (data, data.fingerprint)
            self._cache[id(data)] = hit
        return hit[1]


def _canonical(value, fingerprint):
    """A JSON-ready form of a config value, equal for equal runs (lists and arrays alike)."""
    if isinstance(value, Dataset):
        return {"dataset": fingerprint(value)}
    if isinstance(value, (Optimizer, Schedule)):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist(), fingerprint)
    if isinstance(value, np.generic):
        return _canonical(value.item(), fingerprint)
    if isinstance(value, (list, tuple)):
        return [_canonical(v, fingerprint) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return {"repr": f"{type(value).__name__}:{value!r}"}


def config_key(config: Mapping, *, _fingerprint=None) -> str:
    """Stable identifier of the run a config describes (32 hexadecimal digits).

    The key is a SHA-256 hash of the data fingerprint (:attr:`Dataset.fingerprint`), the
    optimizer and schedule parameters (``to_dict()``), ``epochs``, ``loss``, ``seed``,
    ``record`` and ``w0``, with ``simulate()`` defaults filled in. Arguments that do not change
    the result (``chunk_epochs``) are left out. :func:`sweep` names result files by it.

    Parameters
    ----------
    config : dict
        ``simulate()`` keyword arguments.

    Returns
    -------
    str
    """
    fingerprint = _fingerprint or _Fingerprints()
    full = {**_DEFAULTS, **config}
    if full["w0"] is not None:  # simulate() reads w0 as float64: [0, 1] and [0.0, 1.0] agree
        try:
            full["w0"] = np.asarray(full["w0"], dtype=np.float64)
        except (TypeError, ValueError):
            pass
    payload = {
        name: _canonical(value, fingerprint)
        for name, value in full.items()
        if name not in _RESULT_NEUTRAL
    }
    text = json.dumps({"format": _KEY_FORMAT, **payload}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Work done in the worker processes
# --------------------------------------------------------------------------------------------


def _worker_init() -> None:
    """Load every kernel from the on-disk cache when a worker process starts."""
    warmup()


def _run_config(config: dict):
    """Run one config: ``("ok", Trajectory)`` or ``("error", type name, message)``.

    A pure function of the config (the seed is part of it), so that any executor, any
    worker and any order give the same result.
    """
    try:
        return ("ok", simulate(**config))
    except Exception as exc:  # reported in the table; the other configs go on
        return ("error", type(exc).__name__, str(exc))


# --------------------------------------------------------------------------------------------
# Saved results
# --------------------------------------------------------------------------------------------


def _expected_params(config: dict, fingerprint) -> dict:
    """The ``Trajectory.params`` entries a successful run of ``config`` must have."""
    full = {**_DEFAULTS, **config}
    data = full["data"]
    epochs = operator.index(full["epochs"])
    w0 = full["w0"]
    expected = {
        "data": fingerprint(data),
        "optimizer": full["optimizer"].to_dict(),
        "loss": full["loss"],
        "seed": operator.index(full["seed"]),
        "epochs": epochs,
        "record": record_epochs(full["record"], epochs).tolist(),
        "w0": np.zeros(data.d).tolist() if w0 is None else np.asarray(w0, float).tolist(),
    }
    if full["lr"] is not None:
        expected["lr"] = full["lr"].to_dict()
    return expected


def _load_saved(path: Path, config: dict, fingerprint) -> Trajectory:
    """Read a saved result and check that it is the result of ``config``."""
    tr = Trajectory.load(path)
    expected = _expected_params(config, fingerprint)
    for name, want in expected.items():
        got = tr.params.get(name)
        if got != want:
            raise ValueError(
                f"saved result {str(path)!r} does not match its config: {name} differs "
                f"(file {got!r}, config {want!r}); delete the file to run the config again."
            )
    if not np.array_equal(tr.epochs, expected["record"]) or tr.w.shape[1] != len(expected["w0"]):
        raise ValueError(
            f"saved result {str(path)!r} does not match its config: it holds epochs "
            f"{tr.epochs.tolist()} in dimension {tr.w.shape[1]}; delete the file to run the "
            "config again."
        )
    return tr


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


def _plain(value):
    """A table cell: None, bool, int, float or str."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _final_metrics(tr: Trajectory) -> dict:
    w = tr.w[-1]
    min_margin = float(tr.min_margin[-1])
    norm_l2 = float(np.linalg.norm(w))
    norm_linf = float(np.max(np.abs(w)))
    return {
        "final_epoch": int(tr.epochs[-1]),
        "final_log_loss": float(tr.log_loss[-1]),
        "min_margin": min_margin,
        "norm_l2": norm_l2,
        "margin_l2": min_margin / norm_l2 if norm_l2 > 0 else None,
        "margin_linf": min_margin / norm_linf if norm_linf > 0 else None,
    }


def _describe(config: dict, fingerprint) -> dict:
    """The parameter columns of one config."""
    full = {**_DEFAULTS, **config}
    row: dict = {}
    data = full["data"]
    if isinstance(data, Dataset):
        row.update(data=fingerprint(data)[:16], n=data.n, d=data.d)
    else:
        row.update(data=type(data).__name__, n=None, d=None)
    for name in ("optimizer", "lr"):
        value = full[name]
        if isinstance(value, (Optimizer, Schedule)):
            params = value.to_dict()
            row[name] = params.pop("name")
            row.update({f"{name}.{key}": _plain(val) for key, val in params.items()})
        else:
            row[name] = "default" if value is None else _plain(value)
    for name in ("epochs", "loss", "seed"):
        row[name] = _plain(full[name])
    record = full["record"]
    if isinstance(record, (list, tuple, np.ndarray)):
        row["record"] = json.dumps(_canonical(np.asarray(record).tolist(), fingerprint))
    else:
        row["record"] = _plain(record)
    row["w0"] = "zeros" if full["w0"] is None else "given"
    return row


def _build_table(configs, keys, trajectories, errors, fingerprint):
    rows = [_describe(config, fingerprint) for config in configs]
    # parameter columns in a fixed order, each optimizer/schedule parameter after its parent
    names = {name: None for row in rows for name in row}
    base = ("data", "n", "d", "optimizer", "lr", "epochs", "loss", "seed", "record", "w0")
    params = []
    for name in base:
        params.append(name)
        params.extend(other for other in names if other.startswith(f"{name}."))
    columns = ("index", "key", "status", *params, *_METRICS, "error_type", "error")
    table = []
    for i, described in enumerate(rows):
        row = dict.fromkeys(columns)
        row.update(described, index=i, key=keys[i])
        if trajectories[i] is not None:
            row["status"] = "ok"
            row.update(_final_metrics(trajectories[i]))
        else:
            row["status"] = "error"
            row["error_type"], row["error"] = errors[i]
        table.append(row)
    return table, columns


def _csv_text(table, columns) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


class SweepResult:
    """Results of :func:`sweep`, in config order.

    Attributes
    ----------
    table : list of dict
        One row per config: ``index``, ``key``, ``status`` (``"ok"`` or ``"error"``), the
        parameters (data fingerprint prefix, n, d, optimizer and its hyperparameters as
        ``optimizer.<name>``, lr and its parameters as ``lr.<name>``, epochs, loss, seed,
        record, w0), the final metrics (``final_epoch``, ``final_log_loss`` = log L(w),
        ``min_margin`` = min_i <w, z_i>, ``norm_l2``, ``margin_l2`` and ``margin_linf``,
        the normalized l_2 and l_inf margins; None where undefined) and, for a failed config,
        ``error_type`` and ``error``. ``pandas.DataFrame(result.table)`` turns it into a data
        frame.
    columns : tuple of str
        Column order of the table.
    trajectories : list of Trajectory or None
        The run of each config (None for a failed one), identical to a serial
        :func:`~fastbias.simulate` call.
    keys : list of str
        :func:`config_key` of each config (file names in ``out``).
    reused : list of bool
        Whether each result was read from ``out`` instead of computed.
    out : pathlib.Path or None
        The result folder, if any.
    """

    def __init__(self, table, columns, trajectories, keys, reused, out):
        self.table = table
        self.columns = tuple(columns)
        self.trajectories = trajectories
        self.keys = keys
        self.reused = reused
        self.out = out

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        failed = len(self.failed)
        return f"SweepResult(configs={len(self)}, ok={len(self) - failed}, failed={failed})"

    @property
    def failed(self) -> list[int]:
        """Indices of the configs that raised an error."""
        return [row["index"] for row in self.table if row["status"] != "ok"]

    def to_csv(self, path) -> Path:
        """Write the table to a CSV file atomically (temporary file, then rename).

        Floats are written with ``repr`` (they read back exactly); empty cells are None.
        Returns the path written.
        """
        return atomic_write_text(Path(path), _csv_text(self.table, self.columns))


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


def _default_executor(max_workers: int | None, tasks: int) -> cf.ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    # Never "fork": forking a process that holds Numba's and the BLAS's threads can deadlock.
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    workers = max(1, min(max_workers or os.cpu_count() or 1, tasks))
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init
    )


def _outcome(future):
    try:
        return future.result()
    except Exception as exc:  # the worker or the transport failed (e.g. a worker was killed)
        return ("error", type(exc).__name__, str(exc))


def _progress_bar(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="config", dynamic_ncols=True, leave=False)


def sweep(
    configs,
    executor=None,
    *,
    out=None,
    progress: bool = False,
    max_workers: int | None = None,
) -> SweepResult:
    """Run many :func:`~fastbias.simulate` configs in parallel and tabulate the results.

    Parameters
    ----------
    configs : sequence of dict
        Each a dict of ``simulate()`` keyword arguments: ``data``, ``optimizer`` and
        ``epochs`` are required; ``lr``, ``loss``, ``seed``, ``record``, ``w0`` and
        ``chunk_epochs`` are optional (``simulate()`` defaults). :func:`grid` builds such
        lists. ``progress``, ``checkpoint``, ``checkpoint_every`` and ``resume`` are not
        allowed: the sweep manages files and output itself.
    executor : concurrent.futures.Executor, "serial" or None, default None
        Where the runs happen. None: a pool of local processes (``max_workers``, default
        ``os.cpu_count()``; forkserver or spawn start method), shut down at the end. Any
        ``concurrent.futures.Executor``, e.g. a Dask cluster's ``client.get_executor()``
        (the sweep never creates a cluster). ``"serial"``: one run after the other in this
        process, for debugging.
    out : path, optional
        Folder for results: each successful run is saved as ``<key>.npz`` (a
        :class:`~fastbias.Trajectory`, written atomically, ``key`` from :func:`config_key`)
        as soon as it finishes, and the table as ``sweep.csv`` at the end. Running the same
        sweep again with the same ``out`` reads and validates the saved results instead of
        recomputing them; failed configs are run again.
    progress : bool, default False
        Show a progress bar over configs (tqdm).
    max_workers : int, optional
        Number of processes of the default executor, >= 1. Only with ``executor=None``.

    Returns
    -------
    SweepResult
        ``table`` (one row per config: parameters, final metrics or the error),
        ``trajectories`` (in config order, None for failed configs), ``to_csv(path)``.

    Raises
    ------
    TypeError, ValueError
        For a malformed config list (not dicts, unknown or missing keys, empty) or invalid
        sweep arguments, before any run. Errors of individual runs (an invalid ``epochs``,
        a ``batch_size`` larger than n, a saved result that does not match its config, ...)
        are not raised: they are reported in the table and the other configs go on.

    Notes
    -----
    Each run is a pure function of its config (the seed included), so the results are
    bitwise identical to serial ``simulate()`` calls whatever the executor, the number of
    workers or the order of completion. Kernels are compiled (or loaded from the on-disk
    Numba cache) before dispatching, and again in each new worker process. Identical configs
    run once. Scripts that use the default executor or a local Dask cluster must guard the
    sweep with ``if __name__ == "__main__":`` (worker processes import the main module).
    The metrics in the table are computed in this process from the returned trajectories.

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.gaussian(n=4, d=6, seed=0)
    >>> configs = grid(data=ds, optimizer=[fb.IncAdam(), fb.DetAdam()], epochs=50)
    >>> res = sweep(configs, executor="serial")
    >>> [row["status"] for row in res.table]
    ['ok', 'ok']
    """
    configs = _check_configs(configs)
    if isinstance(executor, str):
        if executor != "serial":
            raise ValueError(
                "executor must be None, 'serial' or a concurrent.futures.Executor; "
                f"got {executor!r}."
            )
    elif executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(
            "executor must be None, 'serial' or a concurrent.futures.Executor (for Dask: "
            f"client.get_executor()); got {executor!r}."
        )
    if max_workers is not None:
        if executor is not None:
            raise ValueError(
                "max_workers applies only to the default executor (executor=None); got "
                f"max_workers={max_workers!r} with executor={executor!r}."
            )
        max_workers = check_int("max_workers", max_workers, 1)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False; got {progress!r}.")
    if out is not None:
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"out must be a path to a folder or None; got {out!r}.")
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"out must be a folder; {str(out)!r} exists and is not one.")
        out.mkdir(parents=True, exist_ok=True)

    fingerprint = _Fingerprints()
    keys = [config_key(config, _fingerprint=fingerprint) for config in configs]
    count = len(configs)
    trajectories: list[Trajectory | None] = [None] * count
    errors: list[tuple[str, str] | None] = [None] * count
    reused = [False] * count
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)

    todo: dict[str, list[int]] = {}
    for key, indices in by_key.items():
        saved = None if out is None else out / f"{key}.npz"
        if saved is None or not saved.exists():
            todo[key] = indices
            continue
        try:
            _expected_params(configs[indices[0]], fingerprint)
        except Exception:  # not a valid config: run it to get its own error message
            todo[key] = indices
            continue
        try:
            outcome = ("ok", _load_saved(saved, configs[indices[0]], fingerprint))
        except (ValueError, TypeError) as exc:
            outcome = ("error", type(exc).__name__, str(exc))
        for i in indices:
            reused[i] = True
        _store(outcome, indices, trajectories, errors, None)

    bar = _progress_bar(progress, count, count - sum(len(v) for v in todo.values()))
    try:
        if todo:
            _dispatch(configs, todo, executor, max_workers, out, trajectories, errors, bar)
    finally:
        if bar is not None:
            bar.close()

    table, columns = _build_table(configs, keys, trajectories, errors, fingerprint)
    result = SweepResult(table, columns, trajectories, keys, reused, out)
    if out is not None:
        result.to_csv(out / TABLE_NAME)
    return result


def _store(outcome, indices, trajectories, errors, out_file) -> None:
    if outcome[0] == "ok" and isinstance(outcome[1], Trajectory):
        if out_file is not None:
            outcome[1].save(out_file)
        for i in indices:
            trajectories[i] = outcome[1]
    else:
        error = outcome[1:] if outcome[0] == "error" else ("TypeError", f"bad result {outcome!r}")
        for i in indices:
            errors[i] = (str(error[0]), str(error[1]))


def _dispatch(configs, todo, executor, max_workers, out, trajectories, errors, bar) -> None:
    """Run the configs of ``todo`` (key -> config indices) and store their outcomes."""

    def finish(key, outcome):
        out_file = None if out is None else out / f"{key}.npz"
        _store(outcome, todo[key], trajectories, errors, out_file)
        if bar is not None:
            bar.update(len(todo[key]))

    if executor == "serial":
        for key, indices in todo.items():
            finish(key, _run_config(configs[indices[0]]))
        return
    warmup()  # fill the on-disk cache once, so that workers load kernels instead of compiling
    own = executor is None
    if own:
        executor = _default_executor(max_workers, len(todo))
    futures = {}
    try:
        for key, indices in todo.items():
            futures[executor.submit(_run_config, configs[indices[0]])] = key
        for future in cf.as_completed(futures):
            finish(futures[future], _outcome(future))
    except BaseException:  # e.g. KeyboardInterrupt: drop the queued runs, do not wait for them
        for future in futures:
            future.cancel()
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        executor.shutdown(wait=True)
