"""The state of a run and its checkpoint file: everything needed to continue it.

A checkpoint holds the run's parameters (optimizer, schedule, loss,
seed, target horizon, record grid, starting point), the data (their generator recipe, or the
arrays themselves for user data), the optimizer state bit for bit (iterate, state arrays,
log-scale, the scores carried by the fused pass, the generator and the next epoch's order)
and the records made so far. From it alone a run can be resumed or extended
(``fastbias resume F``) with a result bitwise equal to an uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._io import (
    ArraySpec,
    atomic_savez,
    brief_json,
    check_named,
    file_version,
    first_difference,
    of_this_series,
    package_version,
    parse_json,
    read_npz,
    resolve_npz_path,
    text_field,
)
from ._validation import shown

__all__ = [
    "RunState",
    "CHECKPOINT_FORMAT",
    "checkpoint_info",
    "read_checkpoint",
    "rebuild_run",
    "restore_state",
    "resume_state",
]

CHECKPOINT_FORMAT = "fastbias-checkpoint-2"
_OLD_FORMATS = ("fastbias-checkpoint-1",)
# Parameters that must agree for a checkpoint to belong to a run; "epochs" may grow.
MATCHED = ("kind", "optimizer", "lr", "loss", "seed", "record", "w0", "data")
# Parameters of runs with a model (SPEC 13); a checkpoint without them ran the linear one.
MATCHED_MODEL = ("model", "theta0")


class RunState:
    """Everything a run needs to continue: parameter, state, scale, counters, records.

    Attributes
    ----------
    W : ndarray (k, d)
        The iterate (k = 1 for binary data).
    state : ndarray (ns, k, d)
        The rule's state arrays (scaled, see :mod:`fastbias._kernels.scale`).
    scale : ndarray (2 + ns,)
        Log-scale anchor, binary scale and state bounds.
    carry : ndarray (1 + k,)
        Scores of the next sample from the fused pass (first entry 1 when valid).
    epoch, step : int
        Epochs and optimizer steps done.
    rng : numpy.random.Generator
        The sample-order generator, after drawing ``pending``.
    pending : ndarray of int64, (n,) or (0,)
        The order of the next epoch, drawn ahead (shuffled sampling only).
    rec_epochs : list of int
        Epochs recorded so far (on the record grid).
    rec_W : ndarray (R, k, d)
        Preallocated records; the first ``len(rec_epochs)`` rows are filled.
    """

    def __init__(self, W, ns: int, rng, n_records: int):
        k, d = W.shape
        self.W = W
        self.state = np.zeros((ns, k, d))
        self.scale = np.zeros(2 + ns)
        self.carry = np.zeros(1 + k)
        self.epoch = 0
        self.step = 0
        self.rng = rng
        self.pending = np.zeros(0, dtype=np.int64)
        self.rec_epochs: list[int] = []
        self.rec_W = np.empty((n_records, k, d))

    @classmethod
    def start(cls, plan, rng, n_records: int) -> RunState:
        """The state of a run at its start.

        ``W0``, and the rule's initial state: zeros, or what its ``init`` makes of ``W0``.
        """
        state = cls(plan.W0.copy(), plan.spec.dyn.shape[0], rng, n_records)
        rule = plan.spec.rule
        if rule.init is not None:
            rule.init(plan.optimizer, state.W, state.state)
        return state

    def record(self) -> None:
        """Record the iterate at the current epoch."""
        self.rec_W[len(self.rec_epochs)] = self.W
        self.rec_epochs.append(self.epoch)

    def arrays(self, params: dict, data, *, carry_data: bool = True) -> dict:
        """The checkpoint file's arrays (user data included unless ``carry_data`` is False)."""
        count = len(self.rec_epochs)
        out = {
            "format": np.array(CHECKPOINT_FORMAT),
            "params": np.array(json.dumps(params, sort_keys=True)),
            "W": self.W,
            "state": self.state,
            "scale": self.scale,
            "carry": self.carry,
            "counters": np.array([self.epoch, self.step], dtype=np.int64),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "pending": self.pending,
            "rec_epochs": np.array(self.rec_epochs, dtype=np.int64),
            "rec_w": self.rec_W[:count],
        }
        if carry_data and data.source is None:  # user data: the checkpoint carries them
            out["data_X"] = data.X
            out["data_y"] = data.classes[data.y] if data.multiclass else data.y
        return out

    def save(self, path, params: dict, data) -> Path:
        """Write the checkpoint atomically."""
        return atomic_savez(path, self.arrays(params, data))


def _checkpoint_specs(k=None, d=None):
    """Array specs of a checkpoint file (shapes are checked in detail after reading)."""
    return {
        "format": ArraySpec("U", 0, 1),
        "params": ArraySpec("U", 0, 1),
        "W": ArraySpec("f", 2),
        "state": ArraySpec("f", 3),
        "scale": ArraySpec("f", 1),
        "carry": ArraySpec("f", 1),
        "counters": ArraySpec("i", 1, 2),
        "rng_state": ArraySpec("U", 0, 1),
        "pending": ArraySpec("i", 1),
        "rec_epochs": ArraySpec("i", 1),
        "rec_w": ArraySpec("f", 3),
    }


def read_checkpoint(path) -> tuple[dict, dict, Path]:
    """Read a checkpoint file: ``(params, arrays, resolved path)``; ValueError if malformed.

    Only the format tag and the parameters are interpreted here; :meth:`RunState` checks of
    the state against the run happen in :func:`fastbias.simulate`.
    """
    path = resolve_npz_path(path)
    head = read_npz(path, "checkpoint", {"format": ArraySpec("U", 0, 1)})
    tag = text_field(head["format"], "format", path)
    if tag in _OLD_FORMATS:
        raise ValueError(
            f"checkpoint {str(path)!r} was written by an older fastbias ({tag}), whose record "
            "grid depended on the horizon; it cannot be continued bitwise. Start the run "
            "anew (its trajectory files remain readable)."
        )
    if tag != CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint file {str(path)!r} has format {tag!r}; expected {CHECKPOINT_FORMAT!r}."
        )
    arrays = read_npz(
        path,
        "checkpoint",
        _checkpoint_specs(),
        optional={"data_X": ArraySpec("f", 2), "data_y": ArraySpec("fiuU", 1)},
    )
    params = parse_json(arrays["params"], "params", path)
    # the generator state is decoded by simulate(); checked here with the same depth limit
    # (a deeply nested one would otherwise raise RecursionError there)
    parse_json(arrays["rng_state"], "rng_state", path)
    for key in (*MATCHED, "epochs", "n", "d", "k", "data_label", "data_source"):
        if key not in params:
            raise ValueError(f"checkpoint {str(path)!r} is corrupt: params lack {key!r}.")
    for key in ("optimizer", "lr"):
        check_named(params, key, path, "checkpoint")
    for key in ("epochs", "n", "d", "k"):  # read back as the target horizon and shapes
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"checkpoint {str(path)!r} is corrupt: params {key!r} must be an "
                f"integer >= 1; got {shown(value)}."
            )
    return params, arrays, path


def checkpoint_info(path) -> dict:
    """What a checkpoint holds: progress and the run's parameters.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint written by :func:`fastbias.simulate` (``checkpoint=``).

    Returns
    -------
    dict
        ``epoch`` (epochs done), ``epochs`` (the target horizon), ``steps``, ``records``
        (records kept), ``data`` (a readable label), ``kind`` (binary or multiclass),
        ``n``, ``d``, ``k``, and the run's ``optimizer``, ``lr``, ``loss``, ``seed``,
        ``record``, ``w0`` (None for zeros), ``data_fingerprint``, ``data_source``, ``path``.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing or malformed file.

    Examples
    --------
    >>> import fastbias as fb, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "run.npz")
    >>> _ = fb.simulate(fb.datasets.gaussian(n=4, d=6), fb.IncAdam(), epochs=30, record=1,
    ...                 checkpoint=path)
    >>> info = fb.checkpoint_info(path)
    >>> info["epoch"], info["epochs"], info["optimizer"]["name"]
    (30, 30, 'IncAdam')
    """
    params, arrays, path = read_checkpoint(path)
    counters = arrays["counters"]
    if counters.shape != (2,):
        raise ValueError(f"checkpoint {str(path)!r} is corrupt: counters must be two integers.")
    return {
        "path": str(path),
        "epoch": int(counters[0]),
        "epochs": params["epochs"],
        "steps": int(counters[1]),
        "records": int(arrays["rec_epochs"].shape[0]),
        "data": params["data_label"],
        "kind": params["kind"],
        "n": params["n"],
        "d": params["d"],
        "k": params["k"],
        "optimizer": params["optimizer"],
        "lr": params["lr"],
        "loss": params["loss"],
        "seed": params["seed"],
        "record": params["record"],
        "w0": params["w0"],
        "data_fingerprint": params["data"],
        "data_source": params["data_source"],
    }


def rebuild_run(path, *, check_separable: bool = False) -> dict:
    """The ``simulate()`` arguments of the run saved in a checkpoint, from the file alone.

    Returns a dict with ``data``, ``optimizer``, ``lr``, ``loss``, ``seed``, ``record``,
    ``w0`` and ``epochs`` (the stored target); the data are rebuilt from their recipe or from
    the arrays in the file and checked against the stored fingerprint.

    Raises
    ------
    ValueError
        If the file is malformed, names an unknown optimizer or schedule, or its data cannot
        be rebuilt identically.
    """
    from .datasets import Dataset, MulticlassDataset, from_source
    from .losses import loss_from_stored
    from .models import model_from_dict
    from .optimizers import optimizer_from_dict
    from .schedules import schedule_from_dict

    params, arrays, path = read_checkpoint(path)
    try:
        if params["data_source"] is not None:
            data = from_source(params["data_source"], check_separable=check_separable)
        elif "data_X" in arrays and "data_y" in arrays:
            cls = MulticlassDataset if params["kind"] == "multiclass" else Dataset
            data = cls(arrays["data_X"], arrays["data_y"], check_separable=check_separable)
        else:
            raise ValueError("it holds neither the data nor their recipe")
        optimizer = optimizer_from_dict(params["optimizer"])
        lr = schedule_from_dict(params["lr"])
        loss = loss_from_stored(params["loss"], params["kind"] == "multiclass")
        model = model_from_dict(params.get("model"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {str(path)!r} cannot be resumed: {exc}") from None
    if data.fingerprint != params["data"]:
        raise ValueError(
            f"checkpoint {str(path)!r}: the rebuilt data differ from the run's "
            "(fingerprint mismatch); resume it from Python with the original data."
        )
    w0 = params["w0"]
    theta0 = params.get("theta0")
    return {
        "data": data,
        "optimizer": optimizer,
        "lr": lr,
        "loss": loss,
        "seed": params["seed"],
        "record": params["record"],
        "w0": None if w0 is None else np.asarray(w0, dtype=np.float64),
        "model": model,
        "theta0": None if theta0 is None else np.asarray(theta0, dtype=np.float64),
        "epochs": params["epochs"],
    }


def resume_state(path, params, data, spec, steps_per_epoch, grid, k, d) -> RunState:
    """The state saved in a checkpoint of this run (the horizon may be larger).

    Every array is checked against the run: parameters, counters, shapes, finiteness, the
    pending order and the records.
    """
    saved, arrays, path = read_checkpoint(path)
    where = f"checkpoint {str(path)!r}"
    return restore_state(saved, arrays, where, params, data, spec, steps_per_epoch, grid, k, d)


def restore_state(
    saved, arrays, where, params, data, spec, steps_per_epoch, grid, k, d
) -> RunState:
    """The run state of checkpoint arrays read by :func:`read_checkpoint`, checked.

    ``where`` names their source in the messages (``"checkpoint '/path/run.npz'"``).
    """

    def bad(what):
        return ValueError(f"{where} is corrupt: {what}.")

    if not of_this_series(arrays):
        raise ValueError(
            f"{where} was written by fastbias {file_version(arrays)}; this is fastbias "
            f"{package_version()}: runs are continued only within one major.minor series "
            "(kernels may differ between them). Finish it with that version, or start the run anew."
        )

    for key in (*MATCHED, *MATCHED_MODEL):
        if saved.get(key) != params.get(key):
            name, theirs, mine = first_difference(key, saved.get(key), params.get(key))
            raise ValueError(
                f"{where} belongs to a different run: {name} differs "
                f"(checkpoint {brief_json(theirs)}, this call {brief_json(mine)}); it is left "
                "untouched. Resume with the same data, optimizer, lr, loss, seed, record and "
                "w0 (epochs may be larger, to extend the run)."
            )
    counters = arrays["counters"]
    if counters.shape != (2,):
        raise bad("counters must be two integers")
    epoch, step = int(counters[0]), int(counters[1])
    if epoch > params["epochs"]:
        raise ValueError(
            f"{where} has done {epoch:,} epochs; epochs must be "
            f"at least that to resume it; got {params['epochs']:,}."
        )
    if epoch < 0 or step != epoch * steps_per_epoch:
        raise bad(f"epoch {epoch} and step {step} do not fit this run")
    ns = spec.dyn.shape[0]
    shapes = {"W": (k, d), "state": (ns, k, d), "scale": (2 + ns,), "carry": (1 + k,)}
    for key, shape in shapes.items():
        arr = arrays[key]
        if arr.shape != shape or not np.all(np.isfinite(arr)):
            raise bad(f"{key} must be finite float64 of shape {shape}")
    pending = arrays["pending"]
    if pending.shape not in ((0,), (data.n,)) or (
        pending.size and (pending.min() < 0 or pending.max() >= data.n)
    ):
        raise bad("the pending sample order does not fit the data")
    expected = grid[grid <= epoch].tolist()
    rec_epochs, rec_w = arrays["rec_epochs"], arrays["rec_w"]
    if rec_epochs.tolist() != expected:
        raise bad(f"recorded epochs {rec_epochs.tolist()[:8]}... should be {expected[:8]}...")
    if rec_w.shape != (len(expected), k, d):
        raise bad(f"recorded iterates have shape {rec_w.shape}; expected {(len(expected), k, d)}")
    if not np.all(np.isfinite(rec_w)):
        raise bad("recorded iterates must be finite")
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
