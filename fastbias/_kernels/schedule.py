"""Learning rates of a chunk of steps, computed outside the serial chain of the optimizer."""

import math

from .._jit import kernel

POLYNOMIAL = 0
CONSTANT = 1


@kernel()
def fill_learning_rates(code, a, b, t0, out):
    """Write the learning rates of steps ``t0 .. t0 + len(out) - 1`` into ``out`` (in place).

    ``code`` POLYNOMIAL: ``a * (t + 2) ** (-b)``; CONSTANT: ``a``. The powers 1/2 and 1 use a
    correctly rounded square root or division (35x faster than ``pow``, and at least as
    accurate). No input validation.
    """
    if code == CONSTANT:
        for j in range(out.size):
            out[j] = a
    elif b == 0.5:
        for j in range(out.size):
            out[j] = a / math.sqrt(float(t0 + j) + 2.0)
    elif b == 1.0:
        for j in range(out.size):
            out[j] = a / (float(t0 + j) + 2.0)
    else:
        for j in range(out.size):
            out[j] = a * (float(t0 + j) + 2.0) ** (-b)
