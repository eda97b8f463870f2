"""Log-scale arithmetic: gradients as ``exp(log-derivative + scale)`` and exact rescaling.

The loss derivatives of a long run are of order ``exp(-margin)`` and underflow. The loops
never form them: a derivative is kept as its natural log ``lp``, and a gradient coefficient
is formed as ``exp(lp - A + (K + f) * ln 2)``. ``f`` is the binary exponent of the data row
(rows are stored divided by an exact power of two, see :func:`fastbias._kernels.engine`),
``K`` an integer number of binary digits and ``A`` a float anchor (0 unless the scale had
to jump by more than ``KMAX`` digits). Scaled gradients are the true ones times
``exp(log_scale)`` with ``log_scale = K ln 2 - A``.

Scale behaviours (declared by every update rule):

* ``STATE``: the scale follows the optimizer state. Before each update the loop compares
  the incoming gradient and the state *as it enters the update* (its stored magnitude
  bound times the factor it enters with, e.g. ``beta1 |m|`` and ``beta2 v``) with
  ``[2**-LOW_BITS, 2**HIGH_BITS]``; when they leave it, ``K`` moves by an integer ``k`` and
  every state array of degree p is multiplied by ``2**(p k)`` (exact). A state entering
  with factor 0 (``beta = 0``) is replaced by each gradient: the scale then follows the
  gradient alone.
* ``STEP``: stateless rules; the scale is chosen afresh each step from the largest
  coefficient of the batch (exact for any data scale).
* ``PLAIN``: no scaling (``A = K = 0``): plain float64, for rules that are not invariant to
  the scale of the gradient (GD, SGD).
"""

import math

import numpy as np

from .._jit import jitable, kernel, reduction_kernel

STATE = 0
STEP = 1
PLAIN = 2

#: Bounds of the scaled state and gradients, in binary digits: far from float64's under-
#: and overflow for numbers of degree 2 (v ~ m**2). The loops take them as an argument
#: (``limits = [LOW_BITS, HIGH_BITS]``), so that a stress test can make them tight.
LOW_BITS = 256
HIGH_BITS = 256
# Entries of the ``limits`` argument of the loops.
LOW, HIGH = 0, 1
LN2 = math.log(2.0)
#: The rows of the data are stored divided by a power of two so that their largest entry is
#: in [1, 2): a gradient entry ``coef * X2[i, k]`` is below ``ROW_BOUND * |coef|``.
ROW_BOUND = 2.0
LOG_ROW_BOUND = LN2
#: ln 2 split in a head with 32 significant bits and a tail (Cody and Waite): ``K * LN2_HI``
#: is exact for |K| < 2**21, so ``lp + K * LN2_HI`` cancels exactly when it should.
LN2_HI = math.ldexp(math.floor(math.ldexp(LN2, 32)), -32)
LN2_LO = LN2 - LN2_HI
#: Largest |K| kept as an integer; beyond it the scale is folded into the anchor A.
KMAX = float(2**20)
#: Largest exponent handed to ``ldexp``: beyond ~2100 binary digits every float64 is 0 or
#: inf anyway, and ``ldexp`` takes a C int.
EXP_CLAMP = 2200

# Columns of the per-state dynamics array ``dyn`` (one row per state array).
DEGREE, DECAY, GAIN, ENTER = 0, 1, 2, 3
# Layout of the ``scale`` array: anchor A, binary scale K, then one magnitude bound per state.
ANCHOR, BITS, BOUNDS = 0, 1, 2


@jitable
def sign0(x):
    """Sign with ``sign(0) = 0``."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


@reduction_kernel()
def accumulate(acc, a, b):
    """``acc + a * b`` with the reassociation flag, so that sums of it are vectorized.

    Only this addition carries the flag: the loops that call it keep every other operation
    in program order. The summation order of a vectorized sum depends on the vector width,
    so dot products are bitwise reproducible per CPU model.
    """
    return acc + a * b


@jitable(inline=True)
def dot_row(W, c, X, i):
    """``<W[c], X[i]>`` (vectorized through :func:`accumulate`; inlined: runs per sample)."""
    s = 0.0
    for k in range(X.shape[1]):
        s = accumulate(s, W[c, k], X[i, k])
    return s


@jitable
def log_coefficient(lp, anchor, bits, f):
    """``lp - anchor + (bits + f) ln 2``, exact up to the rounding of lp for |bits + f| < 2**21."""
    e = bits + f
    return ((lp - anchor) + e * LN2_HI) + e * LN2_LO


@jitable
def scaled_eps(eps, log_scale):
    """``eps * exp(log_scale)``: an epsilon in the units of the scaled gradients."""
    if eps == 0.0:
        return 0.0
    return math.exp(math.log(eps) + log_scale)


@jitable
def log_scale_of(scale):
    """Natural log of the factor by which scaled gradients exceed the true ones."""
    return scale[BITS] * LN2 - scale[ANCHOR]


@jitable
def ldexp_clamped(x, k):
    """``x * 2**k`` for any integer-valued float ``k`` (clamped: 0 or inf beyond ±2200)."""
    kk = min(max(k, -EXP_CLAMP), EXP_CLAMP)
    return math.ldexp(x, int(kk))


def default_limits() -> np.ndarray:
    """The scale bounds of ordinary runs, ``[LOW_BITS, HIGH_BITS]``, as the loops take them."""
    return np.array([float(LOW_BITS), float(HIGH_BITS)])


@jitable(nrt=False)
def state_is_small(scale, dyn, low_bits):
    """Whether every state array enters the next update below ``2**-low_bits`` (per degree)."""
    for j in range(dyn.shape[0]):
        threshold = math.ldexp(1.0, -int(low_bits) * int(dyn[j, DEGREE]))
        if dyn[j, ENTER] * scale[BOUNDS + j] >= threshold:
            return False
    return True


@jitable(nrt=False)
def follow_scale(mode, scale, state, dyn, lp, f, limits):
    """Keep the log-scale as the rule's scale behaviour says, before a step's coefficients.

    ``lp`` and ``f`` are the log-derivative and the row exponent of the step's largest
    coefficient. STATE: move the scale (and the state) when the largest incoming gradient
    entry leaves ``[2**-LOW, 2**HIGH]`` upwards, or downwards while the state entering the
    update is small too; STEP: anchor the scale on that coefficient; PLAIN: leave it.
    """
    if mode == STATE:
        log_top = log_coefficient(lp, scale[ANCHOR], scale[BITS], f) + LOG_ROW_BOUND
        if log_top > limits[HIGH] * LN2 or (
            log_top < -limits[LOW] * LN2 and state_is_small(scale, dyn, limits[LOW])
        ):
            shift_scale(scale, state, dyn, log_top, lp, f, limits[HIGH])
    elif mode == STEP:
        scale[ANCHOR] = lp
        scale[BITS] = -f


@jitable(nrt=False)
def update_bounds(scale, dyn, gmax):
    """Bounds after a step whose scaled gradient entries are at most ``gmax`` in magnitude."""
    for j in range(dyn.shape[0]):
        g = gmax if dyn[j, DEGREE] == 1.0 else gmax * gmax
        scale[BOUNDS + j] = dyn[j, DECAY] * scale[BOUNDS + j] + dyn[j, GAIN] * g


@kernel()
def shift_scale(scale, state, dyn, log_top, anchor_lp, anchor_f, high_bits):
    """Move the scale so that the larger of gradient and entering state is about 1.

    Parameters
    ----------
    scale : float64 (2 + ns,)
        ``[A, K, bounds...]``, updated in place.
    state : float64 (ns, k, d)
        State arrays (scaled), multiplied in place by ``2**(degree * shift)``.
    dyn : float64 (ns, 4)
        Degree, decay, gain and entering factor of each state array.
    log_top : float
        Natural log of the bound of the incoming scaled gradient entries (current scale).
    anchor_lp, anchor_f : float
        Log-derivative and row exponent of the largest coefficient of the step: the new
        anchor when the scale must jump by more than ``KMAX`` digits.
    high_bits : float
        The stored state stays below ``2**(degree * high_bits)``.

    Notes
    -----
    Off the common path: the loops call it only when the check of :func:`state_is_small`
    and ``log_top`` asks for it. A state entering with factor 0 is set to 0 (it would
    otherwise overflow when the scale moves up, and 0 * inf is NaN). No input validation.
    """
    bits = log_top / LN2
    for j in range(dyn.shape[0]):
        entering = dyn[j, ENTER] * scale[BOUNDS + j]
        if entering > 0.0:
            bits = max(bits, math.log2(entering) / dyn[j, DEGREE])
    if not bits > -math.inf:  # no gradient and no state: nothing to follow
        return
    k = float(-math.ceil(min(max(bits, -1e15), 1e15)))
    # A state entering with a tiny factor (beta = 1e-309) is stored far above what enters:
    # scaling up until beta * |m| is 1 would overflow m itself. The stored state stays below
    # 2**(degree * high_bits); what enters is then still a normal float (beta >= 2**-1074).
    for j in range(dyn.shape[0]):
        if dyn[j, ENTER] > 0.0 and scale[BOUNDS + j] > 0.0:
            room = high_bits - math.log2(scale[BOUNDS + j]) / dyn[j, DEGREE]
            k = min(k, float(math.floor(room)))
    if k == 0.0:
        return
    drop = False
    if abs(scale[BITS] + k) <= KMAX:
        scale[BITS] += k
    elif abs(k) <= KMAX:  # slow drift over a very long run: fold K into the anchor
        scale[ANCHOR] -= (scale[BITS] + k) * LN2
        scale[BITS] = 0.0
    else:  # a jump of more than 2**20 digits: the state is negligible (or zero)
        scale[ANCHOR] = anchor_lp
        scale[BITS] = -anchor_f
        drop = True
    for j in range(dyn.shape[0]):
        p = dyn[j, DEGREE]
        keep = dyn[j, ENTER] > 0.0 and not drop
        flat = state[j].reshape(-1)
        for q in range(flat.size):
            flat[q] = ldexp_clamped(flat[q], p * k) if keep else 0.0
        scale[BOUNDS + j] = ldexp_clamped(scale[BOUNDS + j], p * k) if keep else 0.0
