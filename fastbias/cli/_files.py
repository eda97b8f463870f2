"""Output files of the commands.

Checked before any work, written atomically, and their errors name the file.
"""

from __future__ import annotations

from pathlib import Path

from ._args import one_line


def output_file(path, name: str, inputs=()) -> Path:
    """Check an ``.npz`` output path before any work; return it with its ``.npz`` suffix.

    Refused (ValueError): a folder (also when given without the suffix that would be
    added), a path under a regular file, an unwritable folder, one of ``inputs`` (after
    resolving the ``.npz`` suffix and symlinks), and an existing checkpoint or dataset file,
    which an output of another kind would destroy.
    """
    from .._io import output_path

    if Path(path).is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give a file path.")
    path = output_path(path, name, inputs=inputs, npz=True)
    kind = _fastbias_file_kind(path)
    if kind is not None:
        raise ValueError(
            f"{name} {str(path)!r} is an existing fastbias {kind} file: refusing "
            "to overwrite it; choose another path."
        )
    return path


def _fastbias_file_kind(path: Path) -> str | None:
    """``"checkpoint"`` or ``"dataset"`` if ``path`` is such a fastbias file, else None."""
    from .._io import ArraySpec, read_npz, text_field

    if not path.is_file():
        return None
    try:
        head = read_npz(path, "file", {"format": ArraySpec("U", 0, 1)})
        tag = text_field(head["format"], "format", path)
    except (ValueError, OSError):
        return None  # not a fastbias file with a format tag: an ordinary output to replace
    if tag.startswith("fastbias-checkpoint"):
        return "checkpoint"
    if "dataset" in tag:
        return "dataset"
    return None


def write_error(exc: OSError, what: str, path) -> OSError:
    """An OSError of a write, saying what was being written where (one line)."""
    reason = exc.strerror or one_line(exc)
    return OSError(exc.errno, f"cannot write the {what} {str(path)!r}: {reason}")


def run_simulation(checkpoint, **kwargs):
    """``fastbias.simulate``; a failed checkpoint write names the checkpoint."""
    import fastbias as fb

    try:
        return fb.simulate(checkpoint=checkpoint, **kwargs)
    except OSError as exc:
        # reading errors are ValueError / FileNotFoundError; other OSErrors are writes
        if checkpoint is None or isinstance(exc, FileNotFoundError) or exc.filename:
            raise
        raise write_error(exc, "checkpoint", checkpoint) from None


def save_trajectory(tr, path) -> Path:
    try:
        return tr.save(path)
    except OSError as exc:
        raise write_error(exc, "trajectory", path) from None


def trajectory_next_to(checkpoint) -> Path:
    """``job.npz`` -> ``job.trajectory.npz`` (in the checkpoint's folder)."""
    from .._io import npz_path

    path = npz_path(checkpoint)
    return path.with_name(path.name[: -len(".npz")] + ".trajectory.npz")
