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
