"""The passes over a batch's data: its scores and its gradient, on one thread or several.

A batch step reads the data twice: the scores ``<W[c], X[i]>`` of its samples (rows of the
data against the parameter) and the gradient ``G = sum_r coef[r] X[i_r]`` (the same rows,
weighted). Both are blocked four rows per pass (gemv-style).

On several threads the work is split so that no sum changes its order: the scores by
samples (contiguous parts of whole blocks of rows, each score the same dot product as on one
thread), the gradient by coordinates (contiguous parts of the columns, each entry summed
over the batch's rows in batch order). Results are therefore bitwise those of one thread,
for any number of threads. The threaded passes are compiled with ``parallel=True`` (Numba's
threading layer); the loops that use them are separate from the one-thread loops, so that a
run on one thread never compiles or starts the threading layer.
"""

import numba
import numpy as np
from numba import prange

from .._jit import jitable, kernel
from .scale import accumulate, dot_row

#: Rows per pass of the scores and of the gradient (and of the fused mini-batch step: its
#: last block of the batch gradient and the scores of the first rows of the next batch are
#: formed in the update's pass).
BLOCK = 4

#: Coordinates of the gradient's parts on several threads are multiples of this (a cache
#: line of float64), so that two threads never write to the same line of ``G``.
LINE = 8


@jitable(nrt=False)
def block_scores(W, X2, rowpow, order, er, first, count, scores, offset):
    """``scores[offset + r, 0] = <W[0], X[i_r]>`` for ``i_r = order[er, first + r]``, r < count.

    Four rows per pass over ``W``, the rows after the last full block one at a time.
    """
    d = X2.shape[1]
    r = 0
    while r + BLOCK <= count:
        i0, i1 = order[er, first + r], order[er, first + r + 1]
        i2, i3 = order[er, first + r + 2], order[er, first + r + 3]
        a0 = a1 = a2 = a3 = 0.0
        for k in range(d):
            wk = W[0, k]
            a0 = accumulate(a0, wk, X2[i0, k])
            a1 = accumulate(a1, wk, X2[i1, k])
            a2 = accumulate(a2, wk, X2[i2, k])
            a3 = accumulate(a3, wk, X2[i3, k])
        scores[offset + r, 0] = a0 * rowpow[i0]
        scores[offset + r + 1, 0] = a1 * rowpow[i1]
        scores[offset + r + 2, 0] = a2 * rowpow[i2]
        scores[offset + r + 3, 0] = a3 * rowpow[i3]
        r += BLOCK
    while r < count:
        i = order[er, first + r]
        scores[offset + r, 0] = dot_row(W, 0, X2, i) * rowpow[i]
        r += 1


@jitable(nrt=False)
def class_scores(W, X2, rowpow, order, er, first, count, scores, offset):
    """``scores[offset + r, c] = <W[c], X[i_r]>`` for every class c (multiclass data)."""
    for r in range(count):
        i = order[er, first + r]
        for c in range(W.shape[0]):
            scores[offset + r, c] = dot_row(W, c, X2, i) * rowpow[i]


@jitable(nrt=False)
def gradient_columns(X2, order, er, start, nb, coef, G, Q, k0, k1):
    """Columns ``k0 <= k < k1`` of :func:`batch_gradient` (``k0, k1`` unsigned integers).

    Unsigned, so that the compiler knows the indices are not negative (a signed index may
    wrap around, and the loops over k would then not be vectorized). It stays a call:
    inlined into each step loop it made full-batch steps at 10 x 50 10-20 % faster, but
    nearly doubled the compile time of a cold test suite.
    """
    kout = G.shape[0]
    squares = Q.shape[1] > 0
    for c in range(kout):
        for k in range(k0, k1):
            G[c, k] = 0.0
            if squares:
                Q[c, k] = 0.0
        r = 0
        while r + BLOCK <= nb:
            i0, i1 = order[er, start + r], order[er, start + r + 1]
            i2, i3 = order[er, start + r + 2], order[er, start + r + 3]
            c0, c1, c2, c3 = coef[r, c], coef[r + 1, c], coef[r + 2, c], coef[r + 3, c]
            if squares:
                for k in range(k0, k1):
                    g0, g1 = c0 * X2[i0, k], c1 * X2[i1, k]
                    g2, g3 = c2 * X2[i2, k], c3 * X2[i3, k]
                    G[c, k] = (((G[c, k] + g0) + g1) + g2) + g3
                    Q[c, k] = (((Q[c, k] + g0 * g0) + g1 * g1) + g2 * g2) + g3 * g3
            else:
                for k in range(k0, k1):
                    G[c, k] = (
                        ((G[c, k] + c0 * X2[i0, k]) + c1 * X2[i1, k]) + c2 * X2[i2, k]
                    ) + c3 * X2[i3, k]
            r += BLOCK
        while r < nb:
            i = order[er, start + r]
            cc = coef[r, c]
            for k in range(k0, k1):
                gk = cc * X2[i, k]
                G[c, k] += gk
                if squares:
                    Q[c, k] += gk * gk
            r += 1


@jitable(nrt=False, inline=True)
def batch_gradient(X2, order, er, start, nb, coef, G, Q):
    """``G = sum_r coef[r] X2[i_r]``, and ``Q`` the sum of the squared terms unless it is empty.

    Four rows per pass over ``G`` (gemv-style blocking: a quarter of the loads and stores of
    G), each entry still summed over the rows in batch order, so the result is bitwise that
    of one row at a time.
    """
    gradient_columns(X2, order, er, start, nb, coef, G, Q, np.uint64(0), np.uint64(G.shape[1]))


@jitable(nrt=False, inline=True)
def part_scores(W, X2, rowpow, order, er, first, count, scores, offset):
    """``scores[offset + r, c] = <W[c], X[i_r]>`` for ``count`` samples from ``first``.

    One output row: :func:`block_scores`; several (classes): :func:`class_scores`.
    """
    if W.shape[0] == 1:
        block_scores(W, X2, rowpow, order, er, first, count, scores, offset)
    else:
        class_scores(W, X2, rowpow, order, er, first, count, scores, offset)


@jitable(nrt=False, inline=True)
def scores_on_one_thread(W, X2, rowpow, order, er, first, count, scores, threads):
    """The scores of the batch, :func:`part_scores` of all of it (``threads`` is not used)."""
    part_scores(W, X2, rowpow, order, er, first, count, scores, 0)


@jitable(nrt=False, inline=True)
def gradient_on_one_thread(X2, order, er, start, nb, coef, G, Q, threads):
    """:func:`batch_gradient` (``threads`` is not used)."""
    batch_gradient(X2, order, er, start, nb, coef, G, Q)


@jitable(nrt=False, inline=True)
def scores_on_threads(W, X2, rowpow, order, er, first, count, scores, threads):
    """:func:`scores_on_one_thread` on ``threads`` threads (:func:`threaded_scores`)."""
    threaded_scores(W, X2, rowpow, order, er, first, count, scores, threads)


@jitable(nrt=False, inline=True)
def gradient_on_threads(X2, order, er, start, nb, coef, G, Q, threads):
    """:func:`batch_gradient` on ``threads`` threads (:func:`threaded_gradient`)."""
    threaded_gradient(X2, order, er, start, nb, coef, G, Q, threads)


def passes(threads: int) -> tuple:
    """``(scores, gradient)``: the functions of the two passes for ``threads`` threads.

    Chosen here, not by a branch in compiled code, so that a one-thread loop compiles no
    threaded pass (and never starts Numba's threading layer). Loops that use the threaded
    passes need the threading layer started before they run: a loop loaded from Numba's
    cache has their parallel code linked in but does not start it (calling it then
    crashes), so it is started here.
    """
    if threads == 1:
        return scores_on_one_thread, gradient_on_one_thread
    numba.get_num_threads()  # starts the threading layer
    return scores_on_threads, gradient_on_threads


@kernel(parallel=True)
def threaded_scores(W, X2, rowpow, order, er, first, count, scores, threads):
    """:func:`part_scores` of the batch on ``threads`` threads.

    The samples are split into ``threads`` contiguous parts of whole blocks (the last part
    also takes the rows after the last block), so each score is computed as on one thread.
    """
    blocks = count // BLOCK
    per = -(-blocks // threads) * BLOCK
    for t in prange(threads):
        lo = min(t * per, blocks * BLOCK)
        hi = count if t == threads - 1 else min(lo + per, blocks * BLOCK)
        part_scores(W, X2, rowpow, order, er, first + lo, hi - lo, scores, lo)


@kernel(parallel=True)
def threaded_gradient(X2, order, er, start, nb, coef, G, Q, threads):
    """:func:`batch_gradient` on ``threads`` threads, the coordinates split into parts."""
    d = G.shape[1]
    part = -(-d // threads)
    per = -(-part // LINE) * LINE
    for t in prange(threads):
        lo = min(t * per, d)
        hi = min(lo + per, d)
        gradient_columns(X2, order, er, start, nb, coef, G, Q, np.uint64(lo), np.uint64(hi))
