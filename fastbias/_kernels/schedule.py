"""Learning rates of a chunk of steps, computed outside the serial chain of the optimizer."""

from .._jit import kernel

POLYNOMIAL = 0
CONSTANT = 1


@kernel()
def fill_learning_rates(code, a, b, t0, out):
    """Write the learning rates of steps ``t0 .. t0 + len(out) - 1`` into ``out`` (in place).

    ``code`` POLYNOMIAL: ``a * (t + 2) ** (-b)``; CONSTANT: ``a``. No input validation.
    """
    if code == CONSTANT:
        for j in range(out.size):
            out[j] = a
    else:
        for j in range(out.size):
            out[j] = a * (float(t0 + j) + 2.0) ** (-b)
