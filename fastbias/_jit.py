"""The one place where kernels are compiled and the fastmath policy is set."""

import numba

#: fastmath policy of every kernel. Off: the kernels rely on IEEE inf/NaN semantics and on
#: an explicit 0/0 rule, and their results must be reproducible bit for bit on any CPU.
FASTMATH = False


def kernel(**overrides):
    """Return the ``numba.njit`` decorator used for every fastbias kernel.

    Defaults: ``cache=True``, ``error_model="numpy"``, ``nogil=True`` and the package
    fastmath policy; keyword arguments override them.
    """
    options = {"cache": True, "error_model": "numpy", "fastmath": FASTMATH, "nogil": True}
    options.update(overrides)
    return numba.njit(**options)


#: Flags of the reductions (dot products) only: let the compiler reorder the sum so that it
#: is vectorized (4x faster at d >= 200). Results are then bitwise reproducible for a given
#: CPU model (vector width), and agree across CPUs to rounding.
REDUCTION_FASTMATH = frozenset({"reassoc"})


def reduction_kernel(**overrides):
    """The :func:`kernel` decorator with :data:`REDUCTION_FASTMATH` (for dot products)."""
    return kernel(fastmath=set(REDUCTION_FASTMATH), **overrides)
