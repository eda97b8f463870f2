"""Sample orders: drawn in Python from ``numpy.random.default_rng(seed)``, in epoch order.

Reproducibility contract (SPEC 2): epoch e uses ``rng.permutation(n)`` (reshuffle) or
``rng.integers(0, n, size=n)`` (replacement), drawn in epoch order; cyclic sampling draws
nothing. A run is then the same whatever its chunking, checkpointing or resuming.
"""

from __future__ import annotations

import numpy as np

__all__ = ["chunk_orders"]


_VECTOR_DRAWS_OK: dict = {}


def _vector_draws_match(sampling: str, n: int) -> bool:
    """Whether one vectorized draw of several epochs equals per-epoch draws (checked once)."""
    key = (sampling, n)
    if key not in _VECTOR_DRAWS_OK:
        a, b = np.random.default_rng(12345), np.random.default_rng(12345)
        per_epoch = np.stack([_draw_epoch(a, sampling, n) for _ in range(3)])
        together = _draw_epochs_vectorized(b, sampling, n, 3)
        _VECTOR_DRAWS_OK[key] = bool(
            np.array_equal(per_epoch, together) and a.bit_generator.state == b.bit_generator.state
        )
    return _VECTOR_DRAWS_OK[key]


def _draw_epoch(rng, sampling, n):
    if sampling == "reshuffle":
        return rng.permutation(n)
    return rng.integers(0, n, size=n)


def _draw_epochs_vectorized(rng, sampling, n, epochs):
    if sampling == "reshuffle":
        return rng.permuted(np.tile(np.arange(n, dtype=np.int64), (epochs, 1)), axis=1)
    return rng.integers(0, n, size=(epochs, n))


def _draw_orders(rng, sampling: str, n: int, epochs: int) -> np.ndarray:
    """Orders of the next ``epochs`` epochs, shape (epochs, n), drawn in epoch order."""
    if _vector_draws_match(sampling, n):
        orders = _draw_epochs_vectorized(rng, sampling, n, epochs)
    else:
        orders = np.stack([_draw_epoch(rng, sampling, n) for _ in range(epochs)])
    return np.ascontiguousarray(orders, dtype=np.int64)


def chunk_orders(state, sampling: str, n: int, chunk: int) -> np.ndarray:
    """Orders of the chunk's epochs plus the next epoch's (its first sample is needed ahead).

    Cyclic sampling draws nothing: one row serves every epoch. Otherwise the epoch after the
    chunk is drawn now and kept in ``state.pending`` for the next chunk.
    """
    if sampling == "cyclic":
        return np.arange(n, dtype=np.int64).reshape(1, n)
    if state.pending.size == 0:
        state.pending = _draw_orders(state.rng, sampling, n, 1)[0]
    fresh = _draw_orders(state.rng, sampling, n, chunk)
    orders = np.vstack([state.pending[None, :], fresh])
    state.pending = orders[-1].copy()
    return orders
