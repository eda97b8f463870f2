"""Shared fixtures: Hypothesis profiles, kernels compiled once, small datasets."""

import os
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastbias as fb

# The first call of a kernel compiles it; Hypothesis must not time examples. A user's run
# draws a fresh seed each time (the suite passes on any: 60 seeds checked); with CI=1 the
# main run is derandomized so that a CI failure can be replayed, and .ci/run adds runs of
# the properties on further fixed seeds (--hypothesis-profile=default --hypothesis-seed=N).
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=25
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=25,
    derandomize=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"

# A test run started in the background by a non-interactive shell (`pytest &`, a CI runner)
# inherits SIGINT ignored, and so would every process it starts: the tests that interrupt a
# child with SIGINT need the default behaviour, which the children inherit from here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _compiled_kernels():
    """Compile (or load) every kernel once so that no test example pays for it."""
    fb.warmup()


def run_code_blocks(blocks, source: str) -> dict:
    """Run documentation code blocks in order in one namespace, as a reader would.

    A failing block fails the test with its number (``<source> block <i>``) and its code.
    """
    namespace = {"__name__": "__main__"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{source} block {i + 1}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 (say which block failed)
            pytest.fail(f"{source} block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}")
    return namespace


def separable_data(n, d, seed, labels=(-1.0, 1.0)):
    """Separable data by construction: points labelled by a random w*, classes alternating.

    Each point is reflected (x -> -x) if needed so that sample i lies on the side of w* its
    label asks for, and pushed away from the boundary by at least 0.1 ||w*||.
    """
    rng = np.random.default_rng(seed)
    w_star = rng.standard_normal(d)
    X = rng.standard_normal((n, d))
    side = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X *= np.where(X @ w_star >= 0, 1.0, -1.0)[:, None] * side[:, None]
    X += 0.1 * side[:, None] * w_star / np.linalg.norm(w_star)
    y = np.where(side > 0, labels[1], labels[0])
    return X, y


@pytest.fixture(scope="session")
def user_data():
    """User data with 0/1 labels and a duplicated sample (n = 7, d = 4 < n)."""
    X, y = separable_data(6, 4, seed=11, labels=(0.0, 1.0))
    X = np.vstack([X, X[2]])
    y = np.append(y, y[2])
    return fb.Dataset(X, y)
