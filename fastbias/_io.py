"""Atomic files: write to a temporary name in the target folder, then rename."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np


def atomic_write(path, write, mode: str = "wb") -> Path:
    """Create ``path`` so that no half-written file is ever seen under that name.

    ``write(fh)`` writes to a temporary file in the same folder (opened with ``mode``), which
    is flushed to disk and renamed over ``path`` (atomic on POSIX and Windows). The folder is
    created if needed; on any error the temporary file is removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    text = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
    try:
        with os.fdopen(fd, mode, **text) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file readable by its owner only
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    """The process's file-creation mask (read by setting it and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def atomic_savez(path, arrays: dict) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (suffix added if missing)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return atomic_write(path, lambda fh: np.savez(fh, **arrays))


def resolve_npz_path(path) -> Path:
    """``path``, or ``path + ".npz"`` when only that exists (as :func:`atomic_savez` names it)."""
    path = Path(path)
    if not path.exists() and path.suffix != ".npz":
        with_suffix = path.with_name(path.name + ".npz")
        if with_suffix.exists():
            return with_suffix
    return path


def load_npz(path, kind: str, required) -> dict:
    """Read every array of an ``.npz`` file written by :func:`atomic_savez`.

    Raises ValueError naming ``path`` if the file is not a readable npz archive or lacks one
    of the ``required`` keys (a truncated or foreign file), FileNotFoundError if it is absent.
    """
    path = resolve_npz_path(path)
    if not path.exists():
        raise FileNotFoundError(f"{kind} file {str(path)!r} does not exist.")
    try:
        with open(path, "rb") as fh:
            archive = np.load(fh, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("not an npz archive")
            with archive:
                data = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(
            f"{kind} file {str(path)!r} is corrupt or not a fastbias {kind} file ({exc})."
        ) from None
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(
            f"{kind} file {str(path)!r} is not a fastbias {kind} file: missing {missing}."
        )
    return data
