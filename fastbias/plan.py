"""A run's plan: its arguments validated before any work, every default resolved.

:func:`run_parameters` is the plan's stored form: two runs give the same result exactly when
their parameters are equal, which checkpoints and sweeps rely on.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import NamedTuple

import numpy as np

from ._validation import check_finite_array, check_int, shown
from .datasets import Dataset, MulticlassDataset
from .losses import Loss, get_loss
from .models import Model
from .optimizers import KernelSpec, Optimizer
from .records import MAX_EPOCH, record_epochs, record_spec
from .schedules import Schedule, as_schedule

__all__ = ["Plan", "plan_run", "run_parameters", "check_path", "check_epochs"]


class Plan(NamedTuple):
    """A validated run: its stored parameters and what the driver needs."""

    params: dict
    spec: KernelSpec
    lr: Schedule
    loss: Loss
    W0: np.ndarray
    grid: np.ndarray
    steps_per_epoch: int
    optimizer: Optimizer
    model: object = None


def check_path(name: str, value) -> None:
    """A file path argument (str or os.PathLike) or None; TypeError otherwise."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a file path (str or os.PathLike) or None; got {shown(value)}."
        )


def check_epochs(name: str, value, low: int = 1) -> int:
    """An epoch count: an integer, or an integral float such as ``1e6``, >= ``low``."""
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        value = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral | bool):
        raise TypeError(
            f"{name} must be an integer (1e6 style is accepted when it is a whole "
            f"number); got {shown(value)}."
        )
    return check_int(name, value, low)


def _check_w0(w0, data, k: int) -> np.ndarray:
    d = data.d
    if w0 is None:
        return np.zeros((k, d))
    shape = (k, d) if data.multiclass else (d,)
    w = check_finite_array("w0", w0, ndim=len(shape)).copy()
    if w.shape != shape:
        raise ValueError(f"w0 must have shape {shape}; got {w.shape}.")
    W = w.reshape(k, d)
    rows, powers = data.kernel_arrays()[:2]
    with np.errstate(over="ignore", invalid="ignore"):
        reach = np.abs(W) @ np.abs(rows.T) * powers[None, :]
    if not np.all(np.isfinite(reach)):
        raise ValueError(
            "w0 is too large for these data: its scores <w0, x_i> leave the "
            "float64 range (about 1.8e308); scale it down."
        )
    return W


def _schedule_dict(lr: Schedule):
    """The stored form of a schedule (None for a plain function, which has none)."""
    try:
        return lr.to_dict()
    except TypeError:
        return None


def _check_theta0(theta0, model, data, k: int) -> np.ndarray:
    """The starting parameter of a model, as the (multiplicity * k, d) matrix of the loops.

    ``theta0`` of shape (multiplicity, *w.shape), or the model's default.
    """
    m = type(model).multiplicity
    if theta0 is None:
        return model.initial(k, data.d)
    shape = (m, k, data.d) if data.multiclass else (m, data.d)
    theta = check_finite_array("theta0", theta0, ndim=len(shape)).copy()
    if theta.shape != shape:
        raise ValueError(f"theta0 must have shape {shape}; got {theta.shape}.")
    return theta.reshape(m * k, data.d)


def plan_run(
    data, optimizer, lr, epochs, loss, seed, record, w0, *, stored: bool, model=None, theta0=None
) -> Plan:
    """Validate a run's arguments (before any work) and resolve every default."""
    if not isinstance(data, (Dataset, MulticlassDataset)):
        raise TypeError(
            f"data must be a fastbias.Dataset or MulticlassDataset; got {type(data).__name__}."
        )
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a fastbias optimizer such as fb.IncAdam(); got {shown(optimizer)}."
        )
    lr = as_schedule(type(optimizer).default_lr if lr is None else lr, stored=stored)
    epochs = check_epochs("epochs", epochs)
    if loss is None:
        loss = "ce" if data.multiclass else "exp"
    loss = get_loss(loss, data.multiclass)
    if isinstance(seed, np.random.Generator):
        raise TypeError(
            "seed must be an integer >= 0, not a Generator: the run draws its sample orders "
            "from numpy.random.default_rng(seed), so that it can be stored, resumed and "
            "repeated."
        )
    seed = check_int("seed", seed, 0)
    n, d = data.n, data.d
    k = data.k if data.multiclass else 1
    optimizer.check_data(data)
    spec = optimizer.resolve(n)
    steps_per_epoch = -(-n // spec.batch_size)
    if epochs * steps_per_epoch > MAX_EPOCH:
        raise ValueError(
            f"epochs must be at most 2**53 / steps per epoch = {MAX_EPOCH // steps_per_epoch} "
            f"for this data and batch size (the step counter must stay exact); got {epochs}."
        )
    if model is not None and not isinstance(model, Model):
        raise TypeError(
            f"model must be a fastbias model such as fb.DiagonalNet(), or None "
            f"for the linear one; got {shown(model)}."
        )
    if model is None:
        if theta0 is not None:
            raise ValueError(
                "theta0 is the starting parameter of a model; the linear model starts from w0."
            )
        W0 = _check_w0(w0, data, k)
    else:
        if w0 is not None:
            raise ValueError(
                "w0 cannot be given with a model: give its parameter theta0 "
                "(the effective weights follow from it)."
            )
        W0 = _check_theta0(theta0, model, data, k)
        with np.errstate(over="ignore", invalid="ignore"):
            effective = model.weights(W0)
        _check_w0(effective if data.multiclass else effective[0], data, k)
        model.check_run(optimizer, lr)
    rows = W0.shape[0]
    grid = record_epochs(record, epochs, row_bytes=8 * rows * d)
    params = {
        "kind": "multiclass" if data.multiclass else "binary",
        "optimizer": optimizer.to_dict(),
        "lr": _schedule_dict(lr),
        "loss": loss.to_stored(),
        "seed": seed,
        "epochs": epochs,
        "record": record_spec(record),
        "w0": None if w0 is None else W0.reshape(np.shape(w0)).tolist(),
        "model": None if model is None else model.to_dict(),
        "theta0": None if theta0 is None else np.asarray(theta0, dtype=np.float64).tolist(),
        "data": data.fingerprint,
        "data_label": data.label,
        "data_source": data.source,
        "n": n,
        "d": d,
        "k": k,
    }
    return Plan(params, spec, lr, loss, W0, grid, steps_per_epoch, optimizer, model)


def run_parameters(
    data,
    optimizer,
    *,
    lr=None,
    epochs,
    loss=None,
    seed=0,
    record=20,
    w0=None,
    model=None,
    theta0=None,
) -> dict:
    """The fully resolved parameters of a run, as :func:`fastbias.simulate` stores them.

    Defaults are filled in (the learning rate and loss for this optimizer and data), the
    data are identified by content (``data``: their fingerprint) and the record argument is
    normalized. Two calls of :func:`fastbias.simulate` give the same result exactly when
    these dicts are equal (``lr`` is None for a plain function, which cannot be compared).

    Raises
    ------
    TypeError, ValueError
        As :func:`fastbias.simulate` does, for invalid arguments.

    Examples
    --------
    >>> import fastbias as fb
    >>> p = run_parameters(fb.datasets.gaussian(n=4, d=6), fb.GD(), epochs=10)
    >>> p["lr"], p["loss"], p["record"]
    ({'name': 'Constant', 'eta': 0.1}, 'exp', 20)
    """
    return plan_run(
        data,
        optimizer,
        lr,
        epochs,
        loss,
        seed,
        record,
        w0,
        stored=False,
        model=model,
        theta0=theta0,
    ).params
