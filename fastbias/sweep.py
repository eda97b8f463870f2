"""Sweeps: many :func:`~fastbias.simulate` runs in parallel, tabulated, saved as they finish.

A config is a dict of :func:`~fastbias.simulate` keyword arguments. :func:`sweep` runs a list
of them on a pool of threads by default (the compiled kernels release the GIL), on local
processes, serially, or through any ``concurrent.futures.Executor`` (a Dask cluster through
``client.get_executor()``); it collects one table row per config and the trajectories, and
optionally keeps every result in a folder as soon as it finishes, so that an interrupted or
failed sweep loses nothing and a re-run picks up where it stopped. A run continues the
saved state of a shorter run of the same config, so that raising ``epochs`` costs only the
epochs added; the table compares each final iterate with max-margin solutions.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import inspect
import io
import itertools
import json
import math
import os
import signal
import threading
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from ._io import (
    ArraySpec,
    atomic_savez,
    atomic_write_text,
    brief_json,
    first_difference,
    of_this_series,
    output_path,
    read_npz,
)
from ._parallel import check_executor, check_progress, executor_for, progress_bar, run_tasks
from ._validation import shown
from .checkpoints import read_checkpoint
from .datasets import Dataset, MulticlassDataset
from .models import Model
from .norms import NORMS, norm_by_key, norm_key, summary_norms
from .optimizers import Optimizer
from .schedules import Schedule
from .simulate import continue_run, record_epochs, run_parameters, simulate, warmup
from .trajectory import NotSeparatedWarning, Trajectory

__all__ = [
    "sweep",
    "grid",
    "SweepResult",
    "config_key",
    "TABLE_NAME",
    "STATES_DIR",
    "REFERENCES_DIR",
    "NOT_RUN",
]

#: Name of the table written into the ``out`` folder of :func:`sweep`.
TABLE_NAME = "sweep.csv"
#: Status of the configs an interrupted sweep did not finish, in its table.
NOT_RUN = "not run"
#: Folder of the reference max-margin solutions inside the ``out`` folder.
REFERENCES_DIR = "references"
#: Folder of run states (for longer runs to continue from) inside the ``out`` folder.
STATES_DIR = "states"

# Version of the key derivation: a new one never reuses files named by an older one.
_KEY_FORMAT = "fastbias-sweep-2"
# simulate() arguments that a sweep manages itself (files, terminal output).
_MANAGED = ("progress", "checkpoint", "checkpoint_every", "resume")
_SIGNATURE = inspect.signature(simulate)
_ALLOWED = tuple(name for name in _SIGNATURE.parameters if name not in _MANAGED)
_REQUIRED = tuple(
    name for name, p in _SIGNATURE.parameters.items() if p.default is inspect.Parameter.empty
)
# The arguments that define a run (run_parameters); the others (chunk_epochs, threads) do not
# change it.
_RUN_ARGS = tuple(inspect.signature(run_parameters).parameters)
# Stored parameters that name the data without being their content: not part of a key.
_NAMING = ("data_label", "data_source")
# The normalized margins of the table: one column per summary norm of fastbias.norms.
_MARGINS = {
    kind: {f"margin_{norm.key}": norm.value for norm in summary_norms(kind)}
    for kind in (False, True)
}


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
        ``loss``, ``seed``, ``record``, ``w0``, ``model``, ``theta0``, ``chunk_epochs``,
        ``threads``). A
        list, tuple or range is
        an axis: one config per value. Any other value (a dataset, an optimizer, a number,
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
            f"configs must be a list of dicts of simulate() arguments; got {shown(configs)}."
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


def _check_threads(configs: list, kind) -> None:
    """Refuse ``threads`` > 1 in a sweep whose runs share this process's threads."""
    if kind in ("processes", "serial"):
        return
    for i, config in enumerate(configs):
        threads = config.get("threads", 1)
        if threads != 1:
            where = "a thread pool" if kind == "threads" else "a given Executor"
            raise ValueError(
                f"configs[{i}] has threads={shown(threads)}: the runs of a sweep on {where} "
                "already share the cores, and Numba's threading layer may not be entered "
                "from several threads at once; use executor='processes' or 'serial', or "
                "leave threads at 1."
            )


def _resolved(config: Mapping) -> dict:
    """The run's fully resolved parameters (:func:`~fastbias.simulate.run_parameters`)."""
    return run_parameters(**{name: config[name] for name in _RUN_ARGS if name in config})


def _stored_form(params: Mapping) -> dict:
    """Parameters as a saved file reads them back (JSON: tuples become lists)."""
    return json.loads(json.dumps(params, sort_keys=True))


def _identity(params: Mapping) -> dict:
    """What defines a run: its resolved parameters, with the data by content only."""
    return {name: value for name, value in params.items() if name not in _NAMING}


def _key(identity: Mapping) -> str:
    text = json.dumps({"format": _KEY_FORMAT, **identity}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _unstored_lr_message(where: str, lr) -> str:
    return (
        f"{where}: lr={lr!r} has no stored form (a plain function, or a schedule without "
        "to_dict), so its result cannot be saved under a key and found again; write it as a "
        "fb.Schedule subclass (a frozen dataclass with a rate(t) method), or run the sweep "
        "without out."
    )


def config_key(config: Mapping) -> str:
    """Stable identifier of the run a config describes (32 hexadecimal digits).

    The key is a SHA-256 hash of the run's fully resolved parameters
    (:func:`~fastbias.simulate.run_parameters`): defaults filled in (so ``lr=None`` and the
    optimizer's default schedule given explicitly share a key), the data by content
    (:attr:`Dataset.fingerprint`, not by name), ``record`` normalized. Arguments that do not
    change the result (``chunk_epochs``, ``threads``) are left out. :func:`sweep` names
    result files by it.

    Parameters
    ----------
    config : dict
        ``simulate()`` keyword arguments.

    Returns
    -------
    str

    Raises
    ------
    TypeError, ValueError
        For an invalid config (as :func:`~fastbias.simulate` does), or a learning rate with
        no stored form (a plain function).

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.gaussian(n=4, d=6, seed=0)
    >>> a = config_key(dict(data=ds, optimizer=fb.IncAdam(), epochs=10))
    >>> a == config_key(dict(data=ds, optimizer=fb.IncAdam(), epochs=10,
    ...                      lr=fb.PolynomialDecay(0.1, 0.5)))
    True
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of simulate() arguments; got {shown(config)}.")
    for name in config:
        _check_key_name(name, "config")
    params = _stored_form(_resolved(config))
    if params["lr"] is None:
        raise TypeError(_unstored_lr_message("config", config.get("lr")))
    return _key(_identity(params))


class _Job:
    """One config of a sweep: its resolved parameters (or why it has none) and its key."""

    __slots__ = ("index", "config", "raw", "params", "identity", "key", "lineage", "invalid")

    def __init__(self, index: int, config: dict):
        self.index, self.config = index, config
        self.raw = self.params = self.identity = self.key = self.lineage = self.invalid = None
        try:
            self.raw = _resolved(config)
        except Exception as exc:  # noqa: BLE001 (simulate raises the same: an error row)
            self.invalid = exc
            return
        self.params = _stored_form(self.raw)
        self.identity = _identity(self.params)
        if self.params["lr"] is None:  # no stored form: a run of its own, never cached
            self.key = _key({**self.identity, "lr": {"unstored": index}})
        else:
            self.key = _key(self.identity)
            # the runs that differ only in their horizon: one continues another's state
            self.lineage = _key({**self.identity, "epochs": "any"})

    @property
    def epochs(self) -> int:
        return self.params["epochs"]


# --------------------------------------------------------------------------------------------
# Work done in the workers
# --------------------------------------------------------------------------------------------


def _run_config(config: dict, continued: bool = False, state=None):
    """Run one config: ``("ok", Trajectory, state)`` or ``("error", type name, message)``.

    With ``continued``, the run starts from ``state`` (a saved state of the same run at an
    earlier epoch, or None for epoch 0) and its final state is returned (else None). A pure
    function of the config (the seed is part of it), so that any executor, any worker and
    any order give the same result, and a continued run the result of a straight one.
    """
    try:
        return ("ok", *continue_run(**config, state=state, stored=continued))
    except Exception as exc:  # reported in the table; the other configs go on
        return ("error", type(exc).__name__, str(exc))


def _warm_up(optimizers) -> None:
    """Compile (or load) the step loops of these optimizers, once, before runs start.

    Loops are compiled per update rule; an optimizer is warmed up with one sample per step
    when it takes a batch size (the tiny warm-up data could not hold a larger one). A
    failure is not raised here: the configs concerned report their own error.
    """
    for optimizer in optimizers:
        candidate = optimizer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the beta1**2 > beta2 warning, again
            if getattr(optimizer, "batch_size", None) is not None:
                with contextlib.suppress(Exception):
                    candidate = dataclasses.replace(optimizer, batch_size=1)
            with contextlib.suppress(Exception):
                warmup([candidate])


def _distinct_rules(jobs) -> list:
    """One optimizer per update rule among the valid configs (loops are compiled per rule)."""
    chosen: dict = {}
    for job in jobs:
        optimizer = job.config["optimizer"]
        if job.invalid is None and isinstance(optimizer, Optimizer):
            chosen.setdefault(id(optimizer.kernel_rule()), optimizer)
    return list(chosen.values())


# --------------------------------------------------------------------------------------------
# Saved results
# --------------------------------------------------------------------------------------------


def _save(trajectory: Trajectory, path: Path) -> None:
    """Write one result (atomically; see :meth:`Trajectory.save`)."""
    trajectory.save(path)


def _expected_epochs(params: Mapping) -> list[int]:
    grid = record_epochs(params["record"], params["epochs"]).tolist()
    if not grid or grid[-1] != params["epochs"]:
        grid.append(params["epochs"])
    return grid


def _shape(params: Mapping) -> tuple:
    return (params["k"], params["d"]) if params["kind"] == "multiclass" else (params["d"],)


def _current_series(path: Path) -> bool:
    """Whether a saved result was written by this major.minor series (or carries no version).

    Unreadable files count as current: :func:`_load_saved` reports what is wrong with them.
    """
    try:
        head = read_npz(path, "trajectory", {"format": ArraySpec("U", 0, 1)})
    except (OSError, ValueError):
        return True
    return of_this_series(head)


def _load_saved(path: Path, job: _Job) -> Trajectory:
    """Read a saved result and check that it is the result of the job's resolved config."""
    tr = Trajectory.load(path)
    stored = _identity(tr.params)
    if stored != job.identity:
        names = sorted(set(stored) | set(job.identity))
        name = next(n for n in names if stored.get(n) != job.identity.get(n))
        name, theirs, mine = first_difference(name, stored.get(name), job.identity.get(name))
        raise ValueError(
            f"saved result {str(path)!r} does not match its config: {name} differs (file "
            f"{brief_json(theirs)}, config {brief_json(mine)}); it is "
            "left untouched: delete the file to run the config again."
        )
    if tr.epochs.tolist() != _expected_epochs(job.params) or tr.w.shape[1:] != _shape(job.params):
        raise ValueError(
            f"saved result {str(path)!r} does not match its config: it holds epochs "
            f"{brief_json(tr.epochs.tolist())} of shape {tr.w.shape[1:]}; delete the file to run "
            "the config again."
        )
    return tr


def _own(tr: Trajectory, job: _Job) -> Trajectory:
    """``tr`` naming the job's data (a config sharing a key may name equal data apart)."""
    naming = {name: job.raw[name] for name in _NAMING}
    if _stored_form({name: tr.params.get(name) for name in _NAMING}) == _stored_form(naming):
        return tr
    return Trajectory(tr.epochs, tr.w, tr.log_loss, tr.min_margin, {**tr.params, **naming})


class _Outcomes:
    """What the sweep knows of each config so far, in config order."""

    def __init__(self, count: int):
        self.trajectories: list[Trajectory | None] = [None] * count
        self.errors: list[tuple[str, str] | None] = [None] * count
        self.reused = [False] * count
        self.started: list[int | None] = [None] * count


class _States:
    """Run states that a longer run of the same lineage continues from.

    The states of this sweep's runs (the latest per lineage, in memory) and, with an ``out``
    folder, those saved there by earlier sweeps (``states/<lineage>-<epoch>.npz``, the arrays
    of a checkpoint file without the data); new ones are saved there if ``keep``.
    """

    def __init__(self, out, keep: bool):
        self.folder = None if out is None else out / STATES_DIR
        self.keep = keep and out is not None
        self.latest: dict[str, tuple[int, tuple]] = {}

    def start(self, job: _Job) -> tuple[int, tuple | None]:
        """``(epoch, state)`` the job's run starts from: the latest at or before its horizon."""
        best = self.latest.get(job.lineage)
        if best is not None and best[0] > job.epochs:
            best = None
        saved = self._saved(job)
        if saved is not None and (best is None or saved[0] > best[0]):
            best = saved
        return (0, None) if best is None else best

    def _saved(self, job: _Job):
        if self.folder is None or not self.folder.is_dir():
            return None
        found = []
        for path in self.folder.glob(f"{job.lineage}-*.npz"):
            epoch = path.stem.rpartition("-")[2]
            if epoch.isdigit() and 0 < int(epoch) <= job.epochs:
                found.append((int(epoch), path))
        for epoch, path in sorted(found, reverse=True):
            try:
                saved, arrays, _ = read_checkpoint(path)
            except (OSError, ValueError) as exc:
                warnings.warn(
                    f"the saved run state {str(path)!r} cannot be continued ({exc}); "
                    f"configs[{job.index}] does not start from it.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            if not of_this_series(arrays):
                continue  # kernels may differ between series: start the run anew
            return epoch, (saved, arrays)
        return None

    def add(self, job: _Job, state: tuple) -> None:
        """Keep the final state of the job's run (and save it, if asked)."""
        epoch = job.epochs
        self.latest[job.lineage] = (epoch, state)
        if not self.keep:
            return
        path = self.folder / f"{job.lineage}-{epoch}.npz"
        try:
            self.folder.mkdir(exist_ok=True)
            atomic_savez(path, state[1])
        except OSError as exc:  # the result is saved; only a later extension is slower
            warnings.warn(
                f"the final state of configs[{job.index}] could not be saved to "
                f"{str(path)!r} ({exc}); its result is kept, but a longer run of it will "
                "start from an earlier state.",
                RuntimeWarning,
                stacklevel=2,
            )


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


def _finite(x: float):
    x = float(x)
    return x if math.isfinite(x) else None


def _final_metrics(tr: Trajectory) -> dict:
    w = tr.w[-1]
    norms = _MARGINS[tr.multiclass]
    with np.errstate(invalid="ignore", divide="ignore"):
        margins = {name: _finite(tr.normalized_margin(norm)[-1]) for name, norm in norms.items()}
    return {
        "final_epoch": int(tr.epochs[-1]),
        "final_log_loss": float(tr.log_loss[-1]),
        "min_margin": float(tr.min_margin[-1]),
        "separated": tr.separated,
        "norm_l2": float(np.linalg.norm(w)),
        **margins,
    }


def _compared(tr: Trajectory, references: dict) -> dict:
    """Cosine and margin ratio of the final iterate with each reference solution."""
    row = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for key, solution in references.items():
            norm = norm_by_key(key, tr.multiclass)
            row[f"cosine_{key}"] = _finite(tr.cosine(solution)[-1])
            row[f"margin_ratio_{key}"] = _finite(tr.margin_ratio(norm.value, solution)[-1])
    return row


def _check_references(references, jobs) -> tuple:
    """The norm keys of the reference solutions a sweep compares with, checked."""
    if references is None:
        return ()
    if isinstance(references, str):
        references = (references,)
    if not isinstance(references, (list, tuple)):
        raise TypeError(
            f'references must be "summary", None or a sequence of norm names; '
            f"got {shown(references)}."
        )
    keys, named = [], []
    for name in references:
        if name == "summary":
            keys.extend(norm.key for norm in NORMS if norm.summary)
        elif norm_key(name) is not None:
            keys.append(norm_key(name))
            named.append(norm_key(name))
        else:
            raise ValueError(
                f"references: unknown norm {name!r}; the norms are "
                f'{sorted({norm.key for norm in NORMS})} (or "summary" for those of the '
                "summary tables)."
            )
    kinds = {job.params["kind"] == "multiclass" for job in jobs if job.params is not None}
    for key in named:  # the summary norms are those of the kinds of data present
        if kinds and all(norm_by_key(key, multiclass) is None for multiclass in kinds):
            (multiclass,) = kinds  # every key is a norm of one kind of data at least
            data_kind = "multiclass" if multiclass else "binary"
            names = [norm.key for norm in NORMS if norm.multiclass == multiclass]
            raise ValueError(
                f"references: {key!r} is not a norm of {data_kind} data, and the data of this "
                f"sweep are {data_kind}; their norms are {names}."
            )
    return tuple(dict.fromkeys(keys))


# What a saved reference solution holds (the fields of MaxMarginResult or its matrix form).
_REFERENCE_SPECS = {
    "w": ArraySpec("f", (1, 2)),
    "margin": ArraySpec("f", 0, 1),
    "margin_upper": ArraySpec("f", 0, 1),
    "dual": ArraySpec("f", (1, 2)),
    "support": ArraySpec("i", (1, 2)),
    "status": ArraySpec("U", 0, 1),
}


def _reference_path(out, data, key: str):
    return None if out is None else out / REFERENCES_DIR / f"{data.fingerprint[:32]}-{key}.npz"


def _load_reference(path: Path, data, norm):
    """A reference solution saved by an earlier sweep, or None if there is none to use."""
    from .geometry import MaxMarginResult
    from .multiclass_geometry import MatrixMaxMarginResult

    if path is None or not path.is_file():
        return None
    try:
        arrays = read_npz(path, "reference solution", _REFERENCE_SPECS)
    except (OSError, ValueError):
        return None  # solved again (and saved anew)
    if not of_this_series(arrays):
        return None
    fields = {name: arrays[name] for name in ("w", "dual", "support")}
    fields.update(
        {name: float(arrays[name]) for name in ("margin", "margin_upper")},
        status=str(arrays["status"]),
    )
    shape = (data.k, data.d) if data.multiclass else (data.d,)
    if fields["w"].shape != shape:
        return None
    if data.multiclass:
        return MatrixMaxMarginResult(**fields, norm=norm.value)
    return MaxMarginResult(**fields, p=norm.value)


def _save_reference(path, result) -> None:
    if path is None:
        return
    arrays = {name: np.asarray(getattr(result, name)) for name in _REFERENCE_SPECS}
    with contextlib.suppress(OSError):  # only a later sweep solves it again
        path.parent.mkdir(exist_ok=True)
        atomic_savez(path, arrays)


def _solve_references(jobs, done: _Outcomes, reference_keys, out=None) -> dict:
    """The reference solutions of each data set with a finished run: fingerprint -> key -> it.

    Solved once per data content and norm (and kept for later sweeps in this process, and
    in ``out/references/`` for those of other processes); a problem that cannot be solved
    leaves its cells empty, with a warning.
    """
    from .analysis import SolverError, shared_max_margin

    solutions: dict[str, dict] = {}
    for job in jobs:
        if done.trajectories[job.index] is None or job.params["data"] in solutions:
            continue
        data = job.config["data"]
        found = solutions[job.params["data"]] = {}
        failed = {}
        for key in reference_keys:
            norm = norm_by_key(key, data.multiclass)
            if norm is None:
                continue
            path = _reference_path(out, data, key)
            found[key] = _load_reference(path, data, norm)
            if found[key] is not None:
                continue
            try:
                found[key] = shared_max_margin(data, norm.value)
            except (SolverError, ValueError) as exc:
                del found[key]
                failed[key] = exc
            else:
                _save_reference(path, found[key])
        if failed:
            reasons = "; ".join(f"{key}: {exc}" for key, exc in failed.items())
            warnings.warn(
                f"no max-margin solution of {data.label} in {', '.join(failed)} could be "
                f"found, so the cells of their cosine_ and margin_ratio_ columns are empty "
                f"({reasons})",
                RuntimeWarning,
                stacklevel=4,
            )
    return solutions


def _warn_unseparated(done: _Outcomes) -> None:
    """One warning naming the configs whose runs end with an iterate that misclassifies."""
    unseparated = [
        i for i, tr in enumerate(done.trajectories) if tr is not None and not tr.separated
    ]
    if unseparated:
        listed = unseparated[:10] + (["..."] if len(unseparated) > 10 else [])
        warnings.warn(
            f"{len(unseparated)} run(s) ended with smallest margin <= 0 (configs "
            f"{', '.join(map(str, listed))}; column separated): their iterates do not "
            "separate the data, so their cosines and normalized margins describe "
            "misclassifying iterates; run longer, or check that the data are separable.",
            NotSeparatedWarning,
            stacklevel=4,
        )


def _describe(job: _Job) -> dict:
    """The parameter columns of one config (resolved where the config is valid)."""
    row: dict = {}
    params, config = job.params, job.config
    data = config["data"]
    if params is not None:
        multiclass = params["kind"] == "multiclass"
        row.update(
            data=params["data_label"],
            fingerprint=params["data"][:16],
            kind=params["kind"],
            n=params["n"],
            d=params["d"],
            k=params["k"] if multiclass else None,
        )
    elif isinstance(data, (Dataset, MulticlassDataset)):
        row.update(
            data=data.label,
            fingerprint=data.fingerprint[:16],
            kind="multiclass" if data.multiclass else "binary",
            n=data.n,
            d=data.d,
            k=data.k if data.multiclass else None,
        )
    else:
        row.update(data=type(data).__name__)
    for name in ("optimizer", "lr", "model"):
        value = params.get(name) if params is not None else None
        if value is None:
            value = config.get(name)
            if isinstance(value, (Optimizer, Model)):
                value = value.to_dict()
        if isinstance(value, Schedule):
            with contextlib.suppress(TypeError):
                value = value.to_dict()
        if isinstance(value, Mapping):
            value = dict(value)
            row[name] = value.pop("name", None)
            row.update({f"{name}.{key}": _plain(val) for key, val in value.items()})
        elif callable(value) and not isinstance(value, (Optimizer, Schedule)):
            row[name] = f"function {getattr(value, '__qualname__', value)}"
        else:
            if value is None:
                row[name] = {"lr": "default", "model": "linear"}.get(name)
            else:
                row[name] = _plain(value)
    source = params if params is not None else config
    for name in ("epochs", "loss", "seed"):
        row[name] = _plain(source.get(name))
    record = source.get("record", _SIGNATURE.parameters["record"].default)
    if isinstance(record, (list, tuple, np.ndarray)):
        row["record"] = json.dumps(np.asarray(record).tolist())
    else:
        row["record"] = _plain(record)
    row["w0"] = "zeros" if source.get("w0") is None else "given"
    return row


def _columns(described: list[dict], jobs, reference_keys) -> tuple:
    names = {name: None for row in described for name in row}
    base = (
        "data",
        "fingerprint",
        "kind",
        "n",
        "d",
        "k",
        "optimizer",
        "lr",
        "model",
        "epochs",
        "loss",
        "seed",
        "record",
        "w0",
    )
    params = []
    for name in base:
        params.append(name)
        params.extend(other for other in names if other.startswith(f"{name}."))
    kinds = {job.params["kind"] for job in jobs if job.params is not None}
    margins = (
        *(_MARGINS[False] if "binary" in kinds or not kinds else ()),
        *(_MARGINS[True] if "multiclass" in kinds else ()),
    )
    present = {kind == "multiclass" for kind in kinds}
    compared_norms = [
        norm.key for norm in NORMS if norm.key in reference_keys and norm.multiclass in present
    ]
    compared = tuple(
        f"{metric}_{key}"
        for key in dict.fromkeys(compared_norms)
        for metric in ("cosine", "margin_ratio")
    )
    metrics = (
        "final_epoch",
        "final_log_loss",
        "min_margin",
        "separated",
        "norm_l2",
        *margins,
        *compared,
    )
    return ("index", "key", "status", *params, *metrics, "error_type", "error")


def _build_table(jobs, done: _Outcomes, reference_keys, solutions):
    """Rows of the configs that are done (all of them unless the sweep was interrupted).

    ``solutions`` maps a data fingerprint to its reference solutions by norm key (those not
    solved are missing: their cells are None).
    """
    trajectories, errors = done.trajectories, done.errors
    described = [_describe(job) for job in jobs]
    columns = _columns(described, jobs, reference_keys)
    table = []
    for job, row_params in zip(jobs, described, strict=True):
        i = job.index
        row = dict.fromkeys(columns)
        row.update(row_params, index=i, key=job.key)
        if trajectories[i] is not None:
            row.update(_final_metrics(trajectories[i]))
            references = solutions.get(job.params["data"], {})
            row.update(_compared(trajectories[i], references))
        if trajectories[i] is None and errors[i] is None:
            row["status"] = NOT_RUN  # the sweep was interrupted before it finished
        elif errors[i] is None:
            row["status"] = "ok"
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


# Columns read back as text whatever they look like (hex digits can look like numbers).
_TEXT_COLUMNS = ("key", "fingerprint")


def _cell(text: str):
    """A table cell read back: None, a bool, an int, a float (``repr`` is exact) or text."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


class SweepResult:
    """Results of :func:`sweep`, in config order.

    Attributes
    ----------
    table : list of dict
        One row per config: ``index``, ``key``, ``status`` (``"ok"``, ``"error"``, or
        ``"not run"`` in the table of an interrupted sweep); the
        resolved parameters: ``data`` (the dataset's readable label, e.g.
        ``gaussian(n=10, d=50, seed=0)``), ``fingerprint`` (the first 16 hex digits of its
        content hash), ``kind`` (``"binary"`` or ``"multiclass"``), ``n``, ``d``, ``k``
        (classes, multiclass only), ``optimizer`` and its options as ``optimizer.<name>``,
        ``lr`` and its parameters as ``lr.<name>`` (the default filled in), ``epochs``,
        ``model`` (``"linear"``, or the model's name and its options as ``model.<name>``),
        ``loss``, ``seed``, ``record``, ``w0`` (``"zeros"`` or ``"given"``); the final
        metrics: ``final_epoch``, ``final_log_loss`` = log L(w), ``min_margin``,
        ``separated`` (whether the smallest margin is positive),
        ``norm_l2`` (Euclidean norm of w, Frobenius for matrices) and the normalized margins
        min margin / ||w||: ``margin_l2``, ``margin_linf`` for binary data,
        ``margin_max``, ``margin_fro``, ``margin_spectral`` for multiclass data (None where
        undefined); ``cosine_<norm>`` and ``margin_ratio_<norm>`` with the max-margin
        solution in each norm of the sweep's ``references``; for a failed config
        ``error_type`` and ``error``.
        :meth:`to_frame` turns it into a pandas DataFrame.
    columns : tuple of str
        Column order of the table.
    trajectories : list of Trajectory or None
        The run of each config (None where it failed), identical to a serial
        :func:`~fastbias.simulate` call. A run whose result could not be saved is kept
        here although its row is an error.
    keys : list of str or None
        :func:`config_key` of each config (file names in ``out``); None for an invalid
        config.
    reused : list of bool
        Whether each result was read from ``out`` instead of computed.
    started : list of int or None
        The epoch each computed run started from: 0 for a run from the start, a larger
        epoch for one that continued the state of a shorter run of the same config (from
        ``out`` or from this sweep); None for results read from ``out`` and invalid configs.
    out : pathlib.Path or None
        The result folder, if any.
    table_error : str or None
        Why the table could not be written to ``out`` (a RuntimeWarning said so), else None.
    """

    def __init__(self, table, columns, trajectories, keys, reused, out, started=None):
        self.table = table
        self.columns = tuple(columns)
        self.trajectories = trajectories
        self.keys = keys
        self.reused = reused
        self.out = out
        self.started = [None] * len(keys) if started is None else started
        self.table_error = None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        failed, not_run = len(self.failed), len(self.not_run)
        ok = len(self) - failed - not_run
        tail = f", not run={not_run}" if not_run else ""
        return f"SweepResult(configs={len(self)}, ok={ok}, failed={failed}{tail})"

    @property
    def failed(self) -> list[int]:
        """Indices of the configs that raised an error (or whose result was not saved)."""
        return [row["index"] for row in self.table if row["status"] == "error"]

    @property
    def not_run(self) -> list[int]:
        """Indices of the configs an interrupted sweep did not get to (run it again)."""
        return [row["index"] for row in self.table if row["status"] == NOT_RUN]

    def to_frame(self):
        """The table as a pandas DataFrame: one row per config, the columns of :attr:`columns`.

        Parameters, final metrics and errors as in :attr:`table` (None where a row has no
        value); pandas is imported here only.
        """
        from .analysis import import_pandas

        return import_pandas().DataFrame(self.table, columns=list(self.columns))

    @classmethod
    def load(cls, out) -> SweepResult:
        """The result of a finished sweep from its ``out`` folder (its table and saved runs).

        The table is read from ``sweep.csv`` (numbers, booleans and empty cells read back as
        int, float, bool and None; floats exactly, as written by :meth:`to_csv`); each
        config's trajectory from ``<key>.npz`` (None where the row is an error or the file
        is missing). ``reused`` is True for every run read.

        Raises
        ------
        FileNotFoundError
            If ``out`` holds no ``sweep.csv``.
        ValueError
            If the table is not a sweep table (no ``index``, ``key`` and ``status`` columns).
        """
        out = Path(out)
        path = out / TABLE_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"out {str(out)!r} holds no sweep table {TABLE_NAME!r} (is it the out folder "
                "of a finished sweep?)."
            )
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = tuple(reader.fieldnames or ())
            table = [
                {k: (v or None) if k in _TEXT_COLUMNS else _cell(v) for k, v in row.items()}
                for row in reader
            ]
        missing = [name for name in ("index", "key", "status") if name not in columns]
        if missing:
            raise ValueError(f"{str(path)!r} is not a sweep table: no columns {missing}.")
        trajectories = []
        for row in table:
            saved = out / f"{row['key']}.npz"
            ok = row["status"] == "ok" and row["key"] is not None and saved.is_file()
            trajectories.append(Trajectory.load(saved) if ok else None)
        keys = [row["key"] for row in table]
        reused = [tr is not None for tr in trajectories]
        return cls(table, columns, trajectories, keys, reused, out)

    def to_csv(self, path) -> Path:
        """Write the table to a CSV file atomically (temporary file, then rename).

        Floats are written with ``repr`` (they read back exactly); empty cells are None.
        Returns the path written.
        """
        path = output_path(path, "path")
        return atomic_write_text(path, _csv_text(self.table, self.columns))


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


class _Terminated(BaseException):
    """SIGTERM during a sweep: unwinds it like Ctrl-C, so that its table is written."""


def _table_on_sigterm(function):
    """Run ``function`` with SIGTERM raising :class:`_Terminated`.

    Only in the main thread and over Python's default handler; once the function has
    unwound (writing what it writes on an interruption), the process gets SIGTERM again and
    ends by it.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            return function(*args, **kwargs)
        try:
            previous = signal.getsignal(signal.SIGTERM)
        except (ValueError, OSError):  # pragma: no cover - not on this platform
            return function(*args, **kwargs)
        if previous is not signal.SIG_DFL:
            return function(*args, **kwargs)

        def terminate(signum, frame):
            raise _Terminated

        signal.signal(signal.SIGTERM, terminate)
        try:
            return function(*args, **kwargs)
        except _Terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)  # ends the process as SIGTERM would have
            raise  # pragma: no cover - only if SIGTERM is blocked
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


@_table_on_sigterm
def sweep(
    configs,
    executor=None,
    *,
    out=None,
    progress: bool | None = None,
    max_workers: int | None = None,
    keep_states: bool = True,
    references="summary",
) -> SweepResult:
    """Run many :func:`~fastbias.simulate` configs in parallel and tabulate the results.

    Parameters
    ----------
    configs : sequence of dict
        Each a dict of ``simulate()`` keyword arguments: ``data``, ``optimizer`` and
        ``epochs`` are required; ``lr``, ``loss``, ``seed``, ``record``, ``w0``, ``model``,
        ``theta0``, ``chunk_epochs`` and ``threads`` are optional (``simulate()`` defaults;
        ``record=k`` keeps k log-spaced epochs per decade on a fixed grid, plus the
        horizon). :func:`grid` builds such lists. ``progress``, ``checkpoint``,
        ``checkpoint_every`` and ``resume`` are not allowed: the sweep manages files and
        output itself. ``threads`` > 1 only with the
        ``"processes"`` or ``"serial"`` executor.
    executor : {"threads", "processes", "serial"}, concurrent.futures.Executor or None
        Where the runs happen. None or ``"threads"`` (default): a pool of threads in this
        process; the kernels release the GIL, so threads run in parallel, and no
        ``if __name__ == "__main__":`` guard is needed in scripts. ``"processes"``: local
        worker processes (forkserver or spawn start method; scripts need the guard).
        ``"serial"``: one run after the other in this thread. Any
        ``concurrent.futures.Executor``, e.g. a Dask cluster's ``client.get_executor()``
        (the sweep never creates a cluster, nor shuts a given executor down).
    out : path, optional
        Folder for results, checked writable before any run: each run is saved as
        ``<key>.npz`` (a :class:`~fastbias.Trajectory`, written atomically, ``key`` from
        :func:`config_key`) as soon as it finishes, and the table as ``sweep.csv`` at the
        end, whatever happened (also after an interruption, where the configs not done
        yet have the status ``"not run"``).
        Running the sweep again with the same ``out`` reuses a saved result only if its
        stored parameters equal the config's fully resolved parameters; failed configs run
        again. A learning rate with no stored form (a plain function) is refused here.
        The final state of each run is kept in ``out/states/`` (see ``keep_states``): a
        later sweep whose ``epochs`` rises continues each config from there.
    progress : bool, optional
        Show a progress bar over configs (tqdm, on stderr). Default: on where a person
        watches (stderr is a terminal, or a notebook), off otherwise.
    max_workers : int, optional
        Size of the pool of threads or processes, >= 1; default the number of CPUs (never
        more than the runs to do). Not with ``"serial"`` or a given Executor.
    keep_states : bool, default True
        With ``out``, save the final state of every run in ``out/states/`` (about the size
        of its result file, without the data), so that a later sweep of the same configs
        with a larger ``epochs`` continues them instead of running them again. Saved
        states are used whether or not new ones are kept.
    references : "summary", sequence of str or None, default "summary"
        Max-margin solutions to compare the final iterates with: the table gets
        ``cosine_<norm>`` and ``margin_ratio_<norm>`` for each (norm names of
        :data:`fastbias.norms.NORMS`: ``"l2"``, ``"linf"``, ``"l1"`` for binary data,
        ``"max"``, ``"fro"``, ``"spectral"``, ``"nuclear"``, ``"l1"`` for multiclass data;
        also ``"inf"``, ``"l_inf"``, ``"L2"``). A norm that no data set of the sweep has is
        refused (ValueError) before any run.
        ``"summary"``: the norms of the summary margins (``l2``, ``linf``; ``max``, ``fro``,
        ``spectral``). Each is solved once per data set (by content) after the runs, and
        kept in ``out/references/`` for later sweeps; None adds no columns and solves
        nothing.

    Returns
    -------
    SweepResult
        ``table`` (one row per config: parameters, final metrics or the error),
        ``trajectories`` (in config order, None for failed configs), ``to_csv(path)``.

    Raises
    ------
    TypeError, ValueError
        For a malformed config list (not dicts, unknown or missing keys, empty), invalid
        sweep arguments or an ``out`` that cannot be written, before any run. Errors of
        individual runs (an invalid ``epochs``, a ``batch_size`` larger than n, a saved
        result that does not match its config, a result that could not be saved, a lost
        worker, ...) are not raised: they are that config's error row and the others go on.
    KeyboardInterrupt
        Re-raised after the sweep stopped its runs (threads at their next chunk boundary,
        processes terminated) and wrote the table (the configs not done: ``"not run"``).

    Notes
    -----
    Each run is a pure function of its config (the seed included), so the results are
    bitwise identical to serial ``simulate()`` calls whatever the executor, the number of
    workers or the order of completion. The kernels of the sweep's optimizers are compiled
    (or loaded from the on-disk Numba cache) once before dispatching, and again in each new
    worker process. Configs with the same key run once. The metrics are computed in this
    process from the returned trajectories.

    Configs that differ only in ``epochs`` run one after the other, each continuing the
    state of the shorter one before it (or the latest saved in ``out`` at or before its
    horizon): ``epochs=[10**4, 10**5, 10**6]`` costs one run of 10**6 epochs, and each
    result is bitwise equal to a straight run (:attr:`SweepResult.started` says where each
    run started).

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.gaussian(n=4, d=6, seed=0)
    >>> configs = grid(data=ds, optimizer=[fb.IncAdam(), fb.DetAdam()], epochs=50)
    >>> res = sweep(configs, progress=False)
    >>> [row["status"] for row in res.table]
    ['ok', 'ok']
    """
    configs = _check_configs(configs)
    kind, max_workers = check_executor(executor, max_workers)
    _check_threads(configs, kind)
    progress = check_progress(progress)
    if not isinstance(keep_states, bool):
        raise TypeError(f"keep_states must be True or False; got {shown(keep_states)}.")
    jobs = [_Job(i, config) for i, config in enumerate(configs)]
    reference_keys = _check_references(references, jobs)
    if out is not None:
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(
                f"out must be a path to a folder (str or os.PathLike) or None; got {shown(out)}."
            )
        out = output_path(out, "out", folder=True)
        for job in jobs:
            if job.params is not None and job.params["lr"] is None:
                raise TypeError(_unstored_lr_message(f"configs[{job.index}]", job.config.get("lr")))
        out.mkdir(parents=True, exist_ok=True)

    count = len(jobs)
    done = _Outcomes(count)
    groups: dict[str, list[_Job]] = {}
    for job in jobs:
        if job.invalid is not None:
            done.errors[job.index] = (type(job.invalid).__name__, str(job.invalid))
        else:
            groups.setdefault(job.key, []).append(job)

    try:
        todo: dict[str, list[_Job]] = {}
        for key, group in groups.items():
            saved = None if out is None else out / f"{key}.npz"
            if saved is None or not saved.exists() or not _current_series(saved):
                todo[key] = group  # results of another release series run again
                continue
            try:
                tr = _load_saved(saved, group[0])
            except (ValueError, TypeError) as exc:
                outcome = ("error", type(exc).__name__, str(exc))
            else:
                outcome = ("ok", tr, None)
            for job in group:
                done.reused[job.index] = True
            _store(outcome, group, done, None, None)
        finished = count - sum(len(group) for group in todo.values())
        with progress_bar(progress, count, finished, unit="config") as bar:
            if todo:
                states = _States(out, keep_states)
                _dispatch_waves(todo, kind, max_workers, out, done, states, bar)
        solutions = _solve_references(jobs, done, reference_keys, out)
        _warn_unseparated(done)
    except BaseException:
        # Interrupted (or a bug): keep the table of the rows done so far, then go on raising.
        if out is not None:
            with contextlib.suppress(Exception):
                _result(jobs, done, out, reference_keys, {}).to_csv(out / TABLE_NAME)
        raise
    result = _result(jobs, done, out, reference_keys, solutions)
    if out is not None:
        try:
            result.to_csv(out / TABLE_NAME)
        except OSError as exc:  # the results are computed: return them, say what was lost
            result.table_error = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"the sweep's table could not be written to {out / TABLE_NAME} "
                f"({result.table_error}); the results are returned, and the "
                "runs saved in the folder are kept.",
                RuntimeWarning,
                stacklevel=2,
            )
    return result


def _result(jobs, done: _Outcomes, out, reference_keys, solutions) -> SweepResult:
    table, columns = _build_table(jobs, done, reference_keys, solutions)
    keys = [job.key for job in jobs]
    return SweepResult(table, columns, done.trajectories, keys, done.reused, out, done.started)


def _store(outcome, group, done: _Outcomes, out_file, states) -> None:
    """Keep a run's outcome for every config of its group, and save it first if asked.

    The run's final state, if it came with one, is kept in ``states`` after the result.
    """
    error = None
    if outcome[0] == "ok" and isinstance(outcome[1], Trajectory):
        tr = outcome[1]
        if out_file is not None:
            try:
                _save(tr, out_file)
            except Exception as exc:  # noqa: BLE001 (this config's error; the others go on)
                error = (
                    type(exc).__name__,
                    f"the run finished but its result could not be saved to "
                    f"{str(out_file)!r}: {exc}",
                )
        for job in group:
            done.trajectories[job.index] = _own(tr, job)
        if states is not None and outcome[2] is not None:
            states.add(group[0], outcome[2])
    elif outcome[0] == "error":
        error = (str(outcome[1]), str(outcome[2]))
    else:
        error = ("TypeError", f"bad result {outcome!r}")
    if error is not None:
        for job in group:
            done.errors[job.index] = error


def _transport_error(exc: BaseException, kind) -> tuple:
    message = str(exc) or repr(exc)
    if isinstance(exc, BrokenProcessPool) and kind == "processes":
        message += (
            " (a worker process died: killed, out of memory, or started from a "
            'script without an `if __name__ == "__main__":` guard, whose top level '
            "worker processes re-run; the default executor, threads, needs no guard)"
        )
    return (type(exc).__name__, message)


def _dispatch_waves(todo, kind, max_workers, out, done, states, bar) -> None:
    """Run ``todo`` (key -> jobs) in waves: the runs of one lineage one after the other.

    Configs that differ only in ``epochs`` form a lineage; each of its runs continues the
    latest state at or before its horizon (of this sweep's shorter runs or saved in
    ``out``), so that a longer horizon costs only the epochs added. The first wave holds
    the shortest run of every lineage, the next the next shortest, and so on.
    """
    chains: dict[str, list[str]] = {}
    for key, group in todo.items():
        chains.setdefault(group[0].lineage or key, []).append(key)
    for chain in chains.values():
        chain.sort(key=lambda key: todo[key][0].epochs)
    optimizers = _distinct_rules(job for group in todo.values() for job in group)
    if kind != "serial":
        _warm_up(optimizers)  # before any thread starts; workers then load from disk
    for depth in range(max(len(chain) for chain in chains.values())):
        wave = {chain[depth]: todo[chain[depth]] for chain in chains.values() if depth < len(chain)}
        starts = {}
        for key, group in wave.items():
            job = group[0]
            if job.lineage is not None:
                epoch, state = states.start(job)
                starts[key] = (True, state)
                for member in group:
                    done.started[member.index] = epoch
            else:
                for member in group:
                    done.started[member.index] = 0
        _dispatch(wave, starts, kind, max_workers, optimizers, out, done, states, bar)


def _dispatch(todo, starts, kind, max_workers, optimizers, out, done, states, bar) -> None:
    """Run one config of each group of ``todo`` (key -> jobs) and store the outcomes.

    ``starts`` maps a key to the ``(continued, state)`` its run starts from. Configs whose
    worker process was lost (a killed worker breaks the whole pool, so the configs queued
    behind it fail too) run again, once, in fresh pools of one worker: there the config
    running when a pool breaks is the one that lost its worker; it alone gets an error row,
    and the others run on.
    """
    run = (starts, kind, optimizers, out, done, states, bar)
    lost = _dispatch_round(todo, max_workers, *run)
    while lost:
        retry = {key: todo[key] for key in todo if key in lost}
        lost = _dispatch_round(retry, 1, *run)
        if lost:
            culprit = next(key for key in retry if key in lost)  # the one that was running
            message = _transport_error(lost.pop(culprit), kind)[1]
            outcome = ("error", "BrokenProcessPool", f"lost its worker twice: {message}")
            _store(outcome, todo[culprit], done, None, None)
            bar.update(len(todo[culprit]))


def _dispatch_round(todo, workers, starts, kind, optimizers, out, done, states, bar) -> dict:
    """One pool over ``todo``; returns the groups whose worker process was lost (key -> error)."""
    lost = {}
    tasks = ((key, (group[0].config, *starts.get(key, ()))) for key, group in todo.items())
    with (
        executor_for(
            kind, workers, len(todo), initializer=_warm_up, initargs=(optimizers,)
        ) as executor,
        contextlib.closing(run_tasks(executor, _run_config, tasks)) as outcomes,
    ):
        for key, value, error in outcomes:
            group = todo[key]
            if isinstance(error, BrokenProcessPool) and kind == "processes":
                lost[key] = error
                continue
            outcome = ("error", *_transport_error(error, kind)) if error is not None else value
            out_file = None if out is None else out / f"{key}.npz"
            _store(outcome, group, done, out_file, states)
            bar.update(len(group))
    return lost
