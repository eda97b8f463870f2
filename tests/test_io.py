"""Atomic file writes: permissions like a plain ``open``, nothing left behind on failure."""

import os
import stat

import numpy as np
import pytest

from fastbias._io import atomic_savez, atomic_write, atomic_write_text


def test_atomic_file_has_the_permissions_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = atomic_write_text(tmp_path / "atomic.txt", "x")
    assert stat.S_IMODE(os.stat(written).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_atomic_write_replaces_and_cleans_up_on_error(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "a.txt", "first")
    assert path.read_text() == "first"

    def fail(fh):
        fh.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fail, mode="w")
    assert path.read_text() == "first"  # the old file is untouched
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.txt"]


def test_atomic_savez_adds_the_suffix(tmp_path):
    path = atomic_savez(tmp_path / "state", {"a": np.arange(3.0)})
    assert path.name == "state.npz"
    with np.load(path) as saved:
        np.testing.assert_array_equal(saved["a"], [0.0, 1.0, 2.0])
