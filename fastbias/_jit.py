"""The one place where kernels are compiled and the fastmath policy is set.

Also where the on-disk kernel cache is guarded: a cache file that cannot be read (truncated,
overwritten with garbage) is removed with a :class:`KernelCacheWarning` and the kernel is
compiled anew, instead of every later run failing until the cache is deleted by hand.
"""

import os
import warnings

import numba
from numba.extending import register_jitable


class KernelCacheWarning(UserWarning):
    """A damaged file of the kernel cache was removed; its kernel is compiled again."""


def _discard(path: str, exc: BaseException) -> None:
    warnings.warn(
        f"the kernel cache file {path!r} is damaged ({type(exc).__name__}: {exc}); it is "
        "removed and the kernel is compiled again.",
        KernelCacheWarning,
        stacklevel=3,
    )
    try:
        os.unlink(path)
    except OSError:
        pass


def _guard_cache() -> None:
    """Make Numba's cache loader treat an unreadable index or data file as a cache miss.

    Numba itself handles missing and outdated files; this adds damaged ones (any error
    while unpickling them). Installed once, when fastbias is imported; a file that loads
    behaves exactly as before.
    """
    from numba.core import caching

    cls = caching.IndexDataCacheFile
    if getattr(cls, "_fastbias_guarded", False):
        return
    load_index, load_data = cls._load_index, cls._load_data

    def _load_index(self):
        try:
            return load_index(self)
        except Exception as exc:  # noqa: BLE001 (any damage: unpickling runs arbitrary code paths)
            _discard(self._index_path, exc)
            return {}

    def _load_data(self, name):
        try:
            return load_data(self, name)
        except OSError:
            raise  # numba's own "file removed" case
        except Exception as exc:  # noqa: BLE001
            path = self._data_path(name)
            _discard(path, exc)
            raise OSError(f"damaged kernel cache file {path!r}") from None  # numba: a miss

    cls._load_index, cls._load_data = _load_index, _load_data
    cls._fastbias_guarded = True


_guard_cache()

#: fastmath policy of every kernel. Off: the kernels rely on IEEE inf/NaN semantics and on
#: an explicit 0/0 rule, and their results must be reproducible bit for bit.
FASTMATH = False


def kernel(**overrides):
    """Return the ``numba.njit`` decorator used for every fastbias kernel.

    Defaults: ``cache=True``, ``error_model="numpy"``, ``nogil=True`` and the package
    fastmath policy; keyword arguments override them.
    """
    options = {"cache": True, "error_model": "numpy", "fastmath": FASTMATH, "nogil": True}
    options.update(overrides)
    return numba.njit(**options)


def jitable(func=None, *, nrt=True, inline=False):
    """Mark a function as callable from kernels (compiled inside the kernel that calls it).

    Update rules and other pieces that the step loops of :mod:`fastbias._kernels.engine`
    call are written this way: they stay plain Python functions (so that the loops can be
    specialized for each rule and cached on disk), and they are compiled into every loop
    that uses them (with Numba's default flags: no fastmath).

    ``nrt=False`` compiles the function without reference counting. It is meant for
    helpers that take arrays, never allocate, and run once per sample or per step: each
    array argument would otherwise cost two atomic operations per call, which measured
    30-40% of a full-batch step on small data.

    ``inline=True`` inlines the function into its callers before they are compiled (Numba
    IR inlining). Otherwise such helpers stay calls, and each array argument is passed as
    its 7-9 fields; for a small function called once per sample (a dot product) the call
    costs more than its work. Inlining lengthens the compilation of every caller, so it is
    kept for small functions.
    """
    if func is None:
        return lambda f: jitable(f, nrt=nrt, inline=inline)
    if inline:
        return register_jitable(inline="always")(func)
    if nrt:
        return register_jitable(func)
    return register_jitable(_nrt=False)(func)


#: Flags of the reductions (dot products) only: let the compiler reorder the sum so that it
#: is vectorized. Results are then bitwise reproducible for a given CPU model (vector width)
#: and agree across CPUs to rounding. Every other operation is compiled without them.
REDUCTION_FASTMATH = frozenset({"reassoc"})


def reduction_kernel(**overrides):
    """The :func:`kernel` decorator with :data:`REDUCTION_FASTMATH` (for dot products)."""
    return kernel(fastmath=set(REDUCTION_FASTMATH), **overrides)
