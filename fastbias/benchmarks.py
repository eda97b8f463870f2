"""Speed of the kernels: ns per step, and ratios to references timed in the same process.

Two references make the numbers comparable on noisy, shared machines:

* ``plain``: a textbook Numba loop of cyclic Inc-Adam (exp loss, plain float64, one pass for
  the margin and one for the update), the way one would first write it;
* ``c``: cyclic Inc-Adam in C making ONE pass over the coordinates per step (the update of
  m, v, w fused with the dot product the next step needs), compiled at benchmark time with
  ``-O3 -march=native`` and OpenMP SIMD pragmas, when a C compiler is found, once for each
  vector width the machine has (256 bits, and 512 on AVX-512 machines): the faster build at
  each shape is the reference (512-bit vectors are not always faster for short loops).

And a floor: :func:`floor_timing`, the per-coordinate cost of the arithmetic an Adam-type
step cannot avoid, one correctly rounded square root and one division, vectorized over an
array that stays in cache (``out[k] += a[k] / sqrt(b[k])``, compiled both by Numba and by
C at the machine's full vector width; the faster counts). Kernels are reported as ns per
coordinate divided by it.

The references are plain float64: their moments turn subnormal after about 1e5 epochs of
10 x 50 data, which slows them down and would flatter fastbias. They are timed only on
normal floats (the horizons of :data:`REFERENCE_EPOCHS`), and :func:`reference_timings`
checks that their final moments are normal and that their iterate equals fastbias's.

Start-up: :func:`startup_timing` times fresh interpreters (``import fastbias``, and import,
data and a first simulation with warm caches) beside ``import numpy, numba`` and beside
Numba's own floor, the first call of one cached trivial kernel.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._jit import kernel
from .datasets import gaussian
from .optimizers import OPTIMIZERS, IncAdam, Optimizer
from .schedules import PolynomialDecay

__all__ = [
    "SHAPES",
    "REFERENCE_EPOCHS",
    "bench_optimizers",
    "Timing",
    "time_call",
    "reference_timings",
    "benchmark_table",
    "simulate_timing",
    "floor_timing",
    "floor_loop",
    "vector_widths",
    "FLOOR_SIZE",
    "STARTUP_PROGRAMS",
    "startup_timing",
]

#: (n, d) shapes of the benchmark table.
SHAPES = ((10, 50), (100, 200), (1000, 1000))
#: Epochs of the timed reference runs per shape: well before their moments go subnormal.
REFERENCE_EPOCHS = {(10, 50): 20_000, (100, 200): 2_000, (1000, 1000): 60}
_LR = PolynomialDecay(0.1, 0.5)


def bench_optimizers() -> dict:
    """Optimizers of the benchmark table, by command-line name.

    Each registered one with its defaults, plus mini-batch Adam (``inc-adam-b5``).
    """
    out = {name: cls() for name, cls in OPTIMIZERS.items()}
    out["inc-adam-b5"] = IncAdam(batch_size=5)
    return out


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


@kernel()
def plain_inc_adam(Z, w, m, v, lrs, beta1, beta2):
    """Textbook cyclic Inc-Adam, exp loss, plain float64 (timing reference only)."""
    n, d = Z.shape
    for t in range(lrs.size):
        i = t % n
        s = 0.0
        for k in range(d):
            s += Z[i, k] * w[k]
        c = math.exp(-s)
        for k in range(d):
            g = -c * Z[i, k]
            m[k] = beta1 * m[k] + (1.0 - beta1) * g
            v[k] = beta2 * v[k] + (1.0 - beta2) * g * g
            if v[k] > 0.0:
                w[k] -= lrs[t] * m[k] / math.sqrt(v[k])


_C_SOURCE = r"""
#include <math.h>

/* Cyclic Inc-Adam on the exponential loss, one pass over the coordinates per step: the
   update of m, v and w is fused with <w_new, z_next>, the margin the next step needs. */
void inc_adam(const double *restrict Z, long n, long d, double *restrict w,
              double *restrict m, double *restrict v, long steps,
              const double *restrict eta, double b1, double b2) {
    const double a1 = 1.0 - b1, a2 = 1.0 - b2;
    double s = 0.0;
    for (long k = 0; k < d; ++k) s += Z[k] * w[k];
    for (long t = 0; t < steps; ++t) {
        const double *z = Z + (t % n) * d;
        const double *zn = Z + ((t + 1) % n) * d;
        const double c = -exp(-s), et = eta[t];
        double acc = 0.0;
        #pragma omp simd reduction(+:acc)
        for (long k = 0; k < d; ++k) {
            const double g = c * z[k];
            const double mk = b1 * m[k] + a1 * g;
            const double vk = b2 * v[k] + a2 * (g * g);
            const double wk = w[k] - (vk > 0.0 ? et * (mk / sqrt(vk)) : 0.0);
            m[k] = mk;
            v[k] = vk;
            w[k] = wk;
            acc += wk * zn[k];
        }
        s = acc;
    }
}

/* The floor: one correctly rounded sqrt and one division per coordinate, vectorized. */
void floor_loop(const double *restrict a, const double *restrict b, double *restrict out,
                long size, long repeats) {
    for (long r = 0; r < repeats; ++r) {
        #pragma omp simd
        for (long k = 0; k < size; ++k) out[k] += a[k] / sqrt(b[k]);
    }
}
"""

_C_LIBRARIES: dict = {}


def vector_widths() -> tuple:
    """The SIMD widths in bits the C references are built for: (256,) or (256, 512)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = set(fh.read().split())
    except OSError:
        flags = set()
    return (256, 512) if "avx512f" in flags else (256,)


def _c_library(width: int):
    """The C references built for one vector width (ctypes CDLL), or None without a compiler."""
    if width not in _C_LIBRARIES:
        _C_LIBRARIES[width] = None
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if cc is not None:
            folder = tempfile.mkdtemp(prefix="fastbias-c-")
            src, lib = os.path.join(folder, "kernels.c"), os.path.join(folder, "kernels.so")
            with open(src, "w") as fh:
                fh.write(_C_SOURCE)
            flags = [
                "-O3",
                "-march=native",
                f"-mprefer-vector-width={width}",
                "-fno-math-errno",
                "-fopenmp-simd",
                "-shared",
                "-fPIC",
            ]
            done = subprocess.run([cc, *flags, src, "-o", lib, "-lm"], capture_output=True)
            if done.returncode == 0:
                _C_LIBRARIES[width] = ctypes.CDLL(lib)
    return _C_LIBRARIES[width]


def c_inc_adam(width: int = 256):
    """The one-pass C kernel for a vector width as a ctypes function, or None (no compiler)."""
    library = _c_library(width)
    if library is None:
        return None
    func = library.inc_adam
    dp, lg, db = ctypes.POINTER(ctypes.c_double), ctypes.c_long, ctypes.c_double
    func.argtypes = [dp, lg, lg, dp, dp, dp, lg, dp, db, db]
    func.restype = None
    return func


@kernel()
def floor_loop(a, b, out, repeats):
    """``out[k] += a[k] / sqrt(b[k])`` over the array, ``repeats`` times (the floor)."""
    for _ in range(repeats):
        for k in range(a.size):
            out[k] += a[k] / math.sqrt(b[k])


#: Length of the floor's arrays: three of them stay in the first-level cache.
FLOOR_SIZE = 1024


def floor_timing(budget: float = 0.1, rounds: int = 3) -> dict:
    """Ns per coordinate of one correctly rounded sqrt and one division, vectorized.

    Times :func:`floor_loop` (Numba) and the same loop in C at every width of
    :func:`vector_widths`, over arrays of :data:`FLOOR_SIZE` entries in [1, 2) (normal
    floats, in cache). Returns ``{"numba": ns, "c256": ns, ..., "floor": the smallest}``.
    """
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1.0, 2.0, FLOOR_SIZE), rng.uniform(1.0, 2.0, FLOOR_SIZE)
    repeats = max(1, int(budget / (FLOOR_SIZE * 1e-9)))
    steps = repeats * FLOOR_SIZE

    def setup():
        return (np.zeros(FLOOR_SIZE),)

    def compiled(o):
        floor_loop(a, b, o, repeats)

    out = {"numba": time_call("numba", compiled, setup, steps, rounds)}
    for width in vector_widths():
        library = _c_library(width)
        if library is None:
            continue
        func = library.floor_loop
        dp, lg = ctypes.POINTER(ctypes.c_double), ctypes.c_long
        func.argtypes = [dp, dp, dp, lg, lg]
        func.restype = None

        def native(o, func=func):
            func(_ptr(a), _ptr(b), _ptr(o), FLOOR_SIZE, repeats)

        out[f"c{width}"] = time_call(f"c{width}", native, setup, steps, rounds)
    ns = {name: t.ns_per_step for name, t in out.items()}
    ns["floor"] = min(ns.values())
    return ns


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Best-of-``rounds`` time of one call, per step."""

    name: str
    seconds: float
    steps: int

    @property
    def ns_per_step(self) -> float:
        """Best time per optimizer step, in nanoseconds."""
        return self.seconds / self.steps * 1e9


def time_call(name, func, setup, steps, rounds=3) -> Timing:
    """Best wall time of ``func(*setup())`` over ``rounds`` calls after one warm-up call."""
    func(*setup())
    best = math.inf
    for _ in range(rounds):
        args = setup()
        start = time.perf_counter()
        func(*args)
        best = min(best, time.perf_counter() - start)
    return Timing(name, best, steps)


def _data(n: int, d: int):
    return gaussian(n=n, d=d, seed=0, check_separable=False)


def reference_timings(n: int, d: int, epochs: int | None = None, rounds: int = 3) -> dict:
    """Timings of the plain Numba and (if a compiler is present) C references.

    Both run cyclic Inc-Adam (0.9, 0.999) on ``gaussian(n, d, seed=0)`` from zero for
    ``epochs`` (default :data:`REFERENCE_EPOCHS`) with fastbias's learning rates. Raises
    RuntimeError if a reference ends in subnormal moments (the timing would be slowed by
    them) or disagrees with fastbias by more than 1e-9.
    """
    epochs = REFERENCE_EPOCHS.get((n, d), 1000) if epochs is None else epochs
    data = _data(n, d)
    Z = np.ascontiguousarray(data.Z)
    steps = epochs * n
    lrs = _LR.rates(0, steps)
    expected = None

    def setup():
        return (np.zeros(d), np.zeros(d), np.zeros(d))

    def check(name, w, v):
        nonlocal expected
        if expected is None:
            from .simulate import simulate

            expected = simulate(data, IncAdam(), lr=_LR, epochs=epochs, record=1, progress=False).w[
                -1
            ]
        tiny = np.finfo(np.float64).tiny
        if np.any((v != 0) & (np.abs(v) < tiny)):
            raise RuntimeError(
                f"the {name} reference reached subnormal moments at {n}x{d}, "
                f"{epochs} epochs; time it on fewer epochs."
            )
        err = np.linalg.norm(w - expected) / np.linalg.norm(expected)
        if not err < 1e-9:
            raise RuntimeError(
                f"the {name} reference disagrees with fastbias (relative error "
                f"{err:.1e}) at {n}x{d}."
            )

    def plain(w, m, v):
        plain_inc_adam(Z, w, m, v, lrs, 0.9, 0.999)
        return w, v

    out = {"plain": time_call("plain", plain, setup, steps, rounds)}
    check("plain", *plain(*setup()))
    for width in vector_widths():
        c = c_inc_adam(width)
        if c is None:
            continue

        def native(w, m, v, c=c):
            c(_ptr(Z), n, d, _ptr(w), _ptr(m), _ptr(v), steps, _ptr(lrs), 0.9, 0.999)
            return w, v

        timing = time_call(f"c ({width}-bit)", native, setup, steps, rounds)
        check("c", *native(*setup()))
        if "c" not in out or timing.seconds < out["c"].seconds:
            out["c"] = timing
    return out


def simulate_timing(
    optimizer: Optimizer, n: int, d: int, epochs: int, loss: str = "exp", rounds: int = 3
) -> Timing:
    """Time ``fb.simulate`` (one compiled call, from zero) after a warm-up call.

    The learning rate is the optimizer's default (``PolynomialDecay(0.1, 0.5)``, a constant
    rate for GD and SGD), as :func:`fastbias.simulate` chooses it.
    """
    from .simulate import simulate
    from .trajectory import NotSeparatedWarning

    data = _data(n, d)
    data.kernel_arrays()  # prepared once, as a user's dataset is

    def run():
        with warnings.catch_warnings():  # short timed runs need not separate the data
            warnings.simplefilter("ignore", NotSeparatedWarning)
            return simulate(
                data,
                optimizer,
                epochs=epochs,
                loss=loss,
                record=1,
                progress=False,
                chunk_epochs=epochs,
            )

    return time_call(
        type(optimizer).__name__, run, tuple, epochs * optimizer.steps_per_epoch(n), rounds
    )


def _epochs_for(optimizer: Optimizer, n: int, d: int, budget: float) -> int:
    """Epochs of about ``budget`` seconds (from a rough 1.5 ns per multiply-add)."""
    per_epoch = 1.5e-9 * d * n * (3 if optimizer.full_batch else 2)
    return max(1, int(budget / per_epoch))


def benchmark_table(shapes=SHAPES, optimizers=None, losses=("exp",), budget=0.2, rounds=3):
    """Rows of (shape, optimizer, loss, ns/step, ns/coordinate, ratios to the references).

    ``ratio_to_floor`` is ns per coordinate over :func:`floor_timing`'s floor.

    ``budget`` is the approximate duration of one timed call in seconds; one-sample steps
    of the binary rules are timed below the subnormal horizon of the references too.
    """
    optimizers = bench_optimizers() if optimizers is None else optimizers
    floor = floor_timing(budget=min(0.1, budget), rounds=rounds)["floor"]
    rows = []
    for n, d in shapes:
        refs = reference_timings(n, d, rounds=rounds)
        for label, opt in optimizers.items():
            b = opt.resolve(n).batch_size
            epochs = _epochs_for(opt, n, d, budget)
            if b == 1:
                epochs = min(epochs, REFERENCE_EPOCHS.get((n, d), epochs))
            for loss in losses:
                try:
                    t = simulate_timing(opt, n, d, epochs, loss, rounds)
                except FloatingPointError:  # this setting diverges: no timing, say so
                    rows.append(
                        {
                            "shape": f"{n}x{d}",
                            "optimizer": label,
                            "loss": loss,
                            "epochs": epochs,
                            "ns_per_step": math.nan,
                            "ns_per_coordinate": math.nan,
                            "diverged": True,
                            "floor_ns_per_coordinate": floor,
                            "ratio_to_floor": math.nan,
                            **{f"{k}_ns_per_step": r.ns_per_step for k, r in refs.items()},
                            **{f"ratio_to_{k}": math.nan for k in refs},
                        }
                    )
                    continue
                row = {
                    "shape": f"{n}x{d}",
                    "optimizer": label,
                    "loss": loss,
                    "epochs": epochs,
                    "ns_per_step": t.ns_per_step,
                    "ns_per_coordinate": t.ns_per_step / (d * b),
                    "floor_ns_per_coordinate": floor,
                    "ratio_to_floor": t.ns_per_step / (d * b) / floor,
                }
                for name, ref in refs.items():
                    row[f"{name}_ns_per_step"] = ref.ns_per_step
                    row[f"ratio_to_{name}"] = t.ns_per_step / ref.ns_per_step
                rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Start-up
# --------------------------------------------------------------------------------------------

#: The programs of :func:`startup_timing`, by name; each runs in a fresh interpreter.
#: ``numba floor`` calls one cached trivial kernel (``startup_kernel.one``, written to a
#: temporary folder): the target initialization that Numba does on the first call of any
#: cached kernel, whatever the package.
STARTUP_PROGRAMS = {
    "numpy+numba": "import numpy, numba",
    "numba floor": "import numpy, numba, startup_kernel; startup_kernel.one(1.0)",
    "import fastbias": "import fastbias",
    "first simulate": (
        "import fastbias as fb; ds = fb.datasets.gaussian(n=10, d=50, seed=0); "
        "fb.simulate(ds, fb.IncAdam(), epochs=10)"
    ),
}
_STARTUP_KERNEL = """import numba


@numba.jit(cache=True)
def one(x):
    return x + 1.0
"""


def startup_timing(rounds: int = 7) -> dict:
    """Seconds of each of :data:`STARTUP_PROGRAMS` in a fresh interpreter, best of ``rounds``.

    The programs are run once untimed (which fills the kernel and bytecode caches), then
    ``rounds`` times each, interleaved, so that a busy machine slows them alike. The
    fastbias programs use the caller's environment (and so its ``NUMBA_CACHE_DIR``); the
    floor's kernel and its cache live in a temporary folder. Returns ``{name: seconds}``.
    """
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "startup_kernel.py").write_text(_STARTUP_KERNEL)
        path = os.pathsep.join(filter(None, (folder, os.environ.get("PYTHONPATH"))))
        floor_env = {**os.environ, "PYTHONPATH": path, "NUMBA_CACHE_DIR": folder}

        def seconds(name: str) -> float:
            env = floor_env if name == "numba floor" else None
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", STARTUP_PROGRAMS[name]],
                env=env,
                check=True,
                capture_output=True,
            )
            return time.perf_counter() - start

        for name in STARTUP_PROGRAMS:
            seconds(name)
        best = dict.fromkeys(STARTUP_PROGRAMS, math.inf)
        for _ in range(rounds):
            for name in STARTUP_PROGRAMS:
                best[name] = min(best[name], seconds(name))
    return best
