"""fastbias: exact, fast simulation of optimizers on linearly separable data.

Kernels for the experiments of *Implicit Bias of Per-sample Adam on Separable Data:
Departure from the Full-batch Regime* (Baek, Song, Yun, ICLR 2026), and beyond: an open
registry of optimizers (Adam with its options, RMSProp, AdaGrad, Lion, SGD, spectral descent,
Muon), multiclass data, long runs as a workflow.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version

from . import datasets, extend, losses, metrics, theory
from .checkpoints import checkpoint_info
from .datasets import Dataset, MulticlassDataset
from .geometry import (
    ConvergenceWarning,
    SolverError,
    cosine,
    fixed_point,
    margin_ratio,
    max_margin,
    normalized_margin,
)
from .metrics import log_loss
from .optimizers import (
    GD,
    SGD,
    AdaGrad,
    AdamProxy,
    DetAdam,
    IncAdam,
    IncSignum,
    Lion,
    Muon,
    NormalizedGD,
    Optimizer,
    RMSProp,
    SignGD,
    SpectralDescent,
    UnboundedStepWarning,
)
from .schedules import Constant, PolynomialDecay, Schedule
from .simulate import RunInterrupted, simulate, warmup
from .sweep import SweepResult, grid, sweep
from .trajectory import Trajectory

try:
    __version__ = _package_version("fastbias")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "AdaGrad",
    "AdamProxy",
    "Constant",
    "ConvergenceWarning",
    "Dataset",
    "DetAdam",
    "GD",
    "IncAdam",
    "IncSignum",
    "Lion",
    "MulticlassDataset",
    "Muon",
    "NormalizedGD",
    "Optimizer",
    "PolynomialDecay",
    "RMSProp",
    "RunInterrupted",
    "SGD",
    "Schedule",
    "SignGD",
    "SolverError",
    "SpectralDescent",
    "SweepResult",
    "Trajectory",
    "UnboundedStepWarning",
    "checkpoint_info",
    "cosine",
    "datasets",
    "extend",
    "fixed_point",
    "grid",
    "log_loss",
    "losses",
    "margin_ratio",
    "max_margin",
    "metrics",
    "normalized_margin",
    "simulate",
    "sweep",
    "theory",
    "warmup",
    "__version__",
]
