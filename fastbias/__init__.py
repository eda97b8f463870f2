"""fastbias: exact, fast simulation of optimizers on linearly separable data.

Kernels for the experiments of *Implicit Bias of Per-sample Adam on Separable Data:
Departure from the Full-batch Regime* (Baek, Song, Yun, ICLR 2026), and beyond: an open
registry of optimizers (Adam with its options, RMSProp, AdaGrad, Lion, SGD, spectral descent,
Muon), multiclass data, long runs as a workflow.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version

from . import analysis, datasets, extend, losses, metrics, theory
from . import optimizers as _optimizers
from .analysis import Identification, RateFit, fit_rate, identify
from .checkpoints import checkpoint_info
from .datasets import Dataset, MulticlassDataset
from .geometry import (
    ConvergenceWarning,
    InaccurateSolutionWarning,
    SolverError,
    cosine,
    fixed_point,
    margin_ratio,
    max_margin,
    normalized_margin,
)
from .metrics import log_loss
from .models import DiagonalNet, Model
from .optimizers import Optimizer, UnboundedStepWarning
from .plotting import plot_trajectories
from .schedules import Constant, PolynomialDecay, Schedule
from .simulate import RunInterrupted, simulate, warmup
from .sweep import SweepResult, grid, sweep
from .trajectory import NotSeparatedWarning, Trajectory

# the built-in optimizer classes (fb.IncAdam, ...), from the registry
globals().update({name: getattr(_optimizers, name) for name in _optimizers.BUILT_IN})

try:
    __version__ = _package_version("fastbias")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

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
