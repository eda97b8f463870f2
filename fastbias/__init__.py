"""fastbias: exact, fast simulation of optimizers on linearly separable data.

Kernels for the experiments of *Implicit Bias of Per-sample Adam on Separable Data:
Departure from the Full-batch Regime* (Baek, Song, Yun, ICLR 2026), and beyond: an open
registry of optimizers (Adam with its options, RMSProp, AdaGrad, Lion, SGD, spectral descent,
Muon), multiclass data, long runs as a workflow.
"""

import importlib

from . import datasets, losses, metrics
from . import optimizers as _optimizers
from .checkpoints import checkpoint_info
from .datasets import Dataset, MulticlassDataset
from .metrics import log_loss
from .models import DiagonalNet, Model
from .optimizers import Optimizer, UnboundedStepWarning
from .schedules import Constant, PolynomialDecay, Schedule
from .simulate import RunInterrupted, simulate, warmup
from .sweep import SweepResult, grid, sweep
from .trajectory import NotSeparatedWarning, Trajectory

# the built-in optimizer classes (fb.IncAdam, ...), from the registry
globals().update({name: getattr(_optimizers, name) for name in _optimizers.BUILT_IN})

#: Public names whose modules a simulation does not need (the max-margin solvers, the
#: analysis of runs, the theory, the extension API, plots), by module: imported on first
#: use, so that ``import fastbias`` loads only what a run needs. A module's own name gives
#: the module.
_LAZY = {
    "analysis": ("analysis", "Identification", "RateFit", "fit_rate", "identify"),
    "geometry": (
        "ConvergenceWarning",
        "InaccurateSolutionWarning",
        "SolverError",
        "cosine",
        "fixed_point",
        "margin_ratio",
        "max_margin",
        "normalized_margin",
    ),
    "extend": ("extend",),
    "theory": ("theory",),
    "plotting": ("plot_trajectories",),
}
_LAZY_MODULE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    """The public names of :data:`_LAZY` and ``__version__``, loaded on first access."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("fastbias")
        except PackageNotFoundError:  # running from a source tree that was not installed
            value = "0.0.0"
    elif name in _LAZY_MODULE:
        module = importlib.import_module(f".{_LAZY_MODULE[name]}", __name__)
        value = module if name == _LAZY_MODULE[name] else getattr(module, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Constant",
    "ConvergenceWarning",
    "Dataset",
    "DiagonalNet",
    "Identification",
    "InaccurateSolutionWarning",
    "Model",
    "MulticlassDataset",
    "NotSeparatedWarning",
    "Optimizer",
    "PolynomialDecay",
    "RateFit",
    "RunInterrupted",
    "Schedule",
    "SolverError",
    "SweepResult",
    "Trajectory",
    "UnboundedStepWarning",
    "analysis",
    "checkpoint_info",
    "cosine",
    "datasets",
    "extend",
    "fit_rate",
    "fixed_point",
    "grid",
    "identify",
    "log_loss",
    "losses",
    "margin_ratio",
    "max_margin",
    "metrics",
    "models",
    "normalized_margin",
    "plot_trajectories",
    "simulate",
    "sweep",
    "theory",
    "warmup",
    "__version__",
    *_optimizers.BUILT_IN,
]
