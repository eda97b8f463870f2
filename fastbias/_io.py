"""Files: atomic writes, checked output paths and guarded reading of ``.npz`` archives.

Writing: every file is written to a temporary name in the target folder and renamed (atomic
on POSIX and Windows), through symlinks to their target, keeping an existing target's
permission bits; only regular files are ever replaced. Temporary files of killed writes are
removed at the next write to the same path; their names fit beside any legal target name.
Output paths are checked before any work (:func:`output_path`, which creates the real
temporary name once), and an output may never be one of the inputs (files compared by the
device and inode of their folder and their entry name, or their own inode). A run owns its
checkpoint for its whole life (:class:`Claim`).

Reading: inputs must be regular files (:func:`input_file`: a FIFO or device is refused
before it is opened).

:func:`read_npz` checks the declared shape and dtype of every array it needs against
limits before reading it, reads nothing else, and turns every kind of damage into a
ValueError naming the file and what is wrong. JSON fields are parsed with a depth limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validation import shown

# Temporary files are named ".<target name>.<pid>.<random>.tmp" in the target's folder.
_TMP_SUFFIX = ".tmp"
# A temporary file of a process that is still alive is left alone unless it is this old.
_STALE_SECONDS = 24 * 3600.0
# What lies between ".<target name>." and ".tmp": "<pid>.<mkstemp's 8 characters>", or the
# 8 characters alone in names of fastbias 0.1.
_TMP_MIDDLE = re.compile(r"(?:(\d+)\.)?[a-z0-9_]{8}")
#: Deepest nesting accepted in a JSON field of a fastbias file.
MAX_JSON_DEPTH = 64
#: Largest number of elements of one array read from a file (2 GiB of float64, as much as
#: the records of one run may take).
MAX_ARRAY_ELEMENTS = 2**28


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def npz_path(path) -> Path:
    """``path`` with the ``.npz`` suffix that :func:`atomic_savez` adds when it is missing."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def resolve_npz_path(path) -> Path:
    """``path``, or ``path + ".npz"`` when only that exists (as :func:`atomic_savez` names it)."""
    path = Path(path)
    if not path.exists() and path.suffix != ".npz":
        with_suffix = path.with_name(path.name + ".npz")
        if with_suffix.exists():
            return with_suffix
    return path


def entry_key(path) -> tuple:
    """What names a file: ``(st_dev, st_ino)`` of its real folder and its entry name.

    Two spellings of one entry (a symlinked folder, a bind mount, ``..``) have the same key;
    a folder that does not exist yet is keyed by its resolved path.
    """
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    try:
        st = os.stat(folder)
    except OSError:
        return ("path", folder, name)
    return (st.st_dev, st.st_ino, name)


def same_file(a, b) -> bool:
    """Whether two paths name the same file.

    True when they name the same folder entry (:func:`entry_key`, after resolving symlinks)
    or, when both exist, the same inode (hard links, a case-insensitive file system).
    """
    if entry_key(a) == entry_key(b):
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def input_file(path, kind: str) -> Path:
    """Check that an input ``path`` is a regular file before opening it; return it.

    A FIFO, device, socket or folder would block or never end: refused with a ValueError
    naming the file, before anything is read.

    Raises
    ------
    FileNotFoundError
        If nothing exists at ``path``.
    ValueError
        If ``path`` is not a regular file.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{kind} file {str(path)!r} does not exist.") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(
            f"{kind} file {str(path)!r} is {_file_type(st.st_mode)}, not a regular file; "
            "refusing to read it."
        )
    return path


def _file_type(mode: int) -> str:
    for test, text in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return text
    return "not a regular file"


def _check_regular_target(target: Path, name: str, shown) -> None:
    """An existing output target must be a regular file (never a FIFO, device, folder)."""
    try:
        st = os.stat(target)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(
            f"{name} {str(shown)!r} is {_file_type(st.st_mode)}: only regular files are "
            "written; choose another path."
        )


def output_path(path, name: str, *, inputs=(), npz: bool = False, folder: bool = False) -> Path:
    """Check before any work that ``path`` can be written; return it (``.npz`` added if asked).

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        What the path is, for messages (``"--out"``, ``"checkpoint"``).
    inputs : iterable of (str, path)
        Files the same run reads, with their names: the output must not be one of them
        (paths compared after resolving the ``.npz`` suffix and symlinks).
    npz : bool
        The file is written by :func:`atomic_savez` (``.npz`` added when missing).
    folder : bool
        ``path`` is a folder to write files into, not a file.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If the path is an input, a folder where a file is expected (or the reverse), lies
        under a regular file, or its folder is not writable.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike); got {shown(path)}.")
    if npz and not folder and Path(path).is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give a file path.")
    path = npz_path(path) if npz else Path(path)
    for input_name, input_path in inputs:
        if input_path is None:
            continue
        candidates = {Path(input_path), npz_path(input_path)}
        if any(same_file(path, c) for c in candidates):
            raise ValueError(
                f"{name} {str(path)!r} is also the {input_name}: refusing to overwrite an input; "
                "choose another path."
            )
    target = Path(os.path.realpath(path))
    if folder:
        if target.exists() and not target.is_dir():
            raise ValueError(f"{name} must be a folder; {str(path)!r} exists and is not one.")
        _check_creatable(target, name, path)
        return path
    if target.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give a file path.")
    _check_regular_target(target, name, path)
    _check_creatable(target.parent, name, path)
    if target.exists() and not os.access(target, os.W_OK) and not os.access(target.parent, os.W_OK):
        raise ValueError(f"{name} {str(path)!r} is not writable.")
    if target.parent.is_dir():
        _probe_temporary(target, name, path)
    return path


def _probe_temporary(target: Path, name: str, shown) -> None:
    """Create and remove a temporary file named as :func:`atomic_write` names it."""
    try:
        fd, tmp = _mkstemp(target)
    except OSError as exc:
        raise ValueError(
            f"{name} {str(shown)!r} cannot be written: a temporary file beside it cannot be "
            f"created ({exc.strerror or exc})."
        ) from None
    os.close(fd)
    os.unlink(tmp)


def _check_creatable(folder: Path, name: str, shown: Path) -> None:
    """The folder exists and is writable, or its nearest existing ancestor is a writable folder."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(
            f"{name} {str(shown)!r} cannot be created: {str(probe)!r} is a file, not a folder."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(
            f"{name} {str(shown)!r} cannot be written: the folder {str(probe)!r} is not writable."
        )


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


# Longest name of a folder entry when the file system does not say (POSIX NAME_MAX).
_NAME_MAX = 255


def _name_max(folder) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not on every platform
        return _NAME_MAX


def _side_stem(folder, target_name: str, extra: int) -> str:
    """The stem of a side file (temporary, lock) of ``target_name``: ``".<name>"``.

    When that name plus ``extra`` characters would be longer than the folder allows, the
    target's name is replaced by its SHA-256 prefix, so that every legal target name has
    side files.
    """
    stem = f".{target_name}"
    if len(os.fsencode(stem)) + extra > _name_max(folder):
        stem = ".fastbias-" + hashlib.sha256(os.fsencode(target_name)).hexdigest()[:32]
    return stem


# ".<pid>." + mkstemp's 8 characters + ".tmp": pids have at most 20 digits
_TMP_EXTRA = 1 + 20 + 1 + 8 + len(_TMP_SUFFIX)


def _tmp_prefix(folder, target_name: str) -> str:
    return _side_stem(folder, target_name, _TMP_EXTRA) + "."


def _mkstemp(target: Path):
    """A new temporary file for ``target`` in its folder: ``(fd, path)``."""
    prefix = _tmp_prefix(target.parent, target.name)
    return tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}.", suffix=_TMP_SUFFIX, dir=target.parent)


def _remove_stale_temporaries(folder: Path, target_name: str) -> None:
    """Remove temporary files left by killed writes of ``target_name`` in ``folder``."""
    prefix = _tmp_prefix(folder, target_name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(_TMP_SUFFIX)):
            continue
        ours = _TMP_MIDDLE.fullmatch(entry.name[len(prefix) : -len(_TMP_SUFFIX)])
        if ours is None:
            continue  # not one of ours (or of another target whose name extends this one)
        try:
            old = now - entry.stat().st_mtime > _STALE_SECONDS
        except OSError:
            continue  # already gone
        # without a pid (written by fastbias 0.1) the writer cannot be asked: age decides
        stale = old or (ours.group(1) is not None and not _alive(int(ours.group(1))))
        if stale:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid)
        return False
    except (PermissionError, OSError):
        return True
    return True


def atomic_write(path, write: Callable, mode: str = "wb") -> Path:
    """Create ``path`` so that no half-written file is ever seen under that name.

    ``write(fh)`` writes to a temporary file in the same folder (opened with ``mode``), which
    is flushed to disk and renamed over ``path``. A symlink is written through (its target
    is replaced, the link stays). An existing target keeps its permission bits; only a
    regular file is ever replaced (a FIFO, device or folder there: ValueError). The folder
    is created if needed; temporary files of killed writes to the same path are removed
    first; on any error the temporary file is removed and the old file, if any, is
    untouched. Returns ``path``.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    folder = target.parent
    _check_regular_target(target, "output", path)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder, target.name)
    fd, tmp = _mkstemp(target)
    text = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
    try:
        with os.fdopen(fd, mode, **text) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            kept = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            kept = 0o666 & ~_umask()  # mkstemp makes the file readable by its owner only
        os.chmod(tmp, kept)
        os.replace(tmp, target)
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


#: Member of every ``.npz`` file fastbias writes: SHA-256 of all its other members.
CHECKSUM_KEY = "checksum"
#: Member of every ``.npz`` file fastbias writes: the version of fastbias that wrote it.
VERSION_KEY = "fastbias_version"
_CHUNK = 1 << 20


class _Digest:
    """A file-like sink hashing what is written to it (one npy member)."""

    def __init__(self):
        self.h = hashlib.sha256()

    def write(self, data) -> int:
        self.h.update(data)
        return len(data)


def _combine(members: dict) -> str:
    """The file checksum: SHA-256 over the sorted member names and their own digests.

    Written as ``"<hex digest> <member> <member> ..."``: the members it covers are named, so
    that a reader hashes those and never reads (or hashes) others.
    """
    h = hashlib.sha256(b"fastbias-checksum-1")
    for name in sorted(members):
        h.update(name.encode() + b"\0" + members[name])
    return " ".join([h.hexdigest(), *sorted(members)])


def package_version() -> str:
    """The installed fastbias version (written into every file)."""
    from . import __version__

    return __version__


def release_series(version: str) -> tuple:
    """``"0.3.1.dev0"`` -> ``(0, 3)``: results are reused within one major.minor series."""
    parts = re.match(r"(\d+)\.(\d+)", str(version))
    return (int(parts.group(1)), int(parts.group(2))) if parts else (str(version),)


def atomic_savez(path, arrays: dict) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (suffix added if missing).

    The file also holds :data:`VERSION_KEY` (the package version) and :data:`CHECKSUM_KEY`
    (a SHA-256 of the npy bytes of every other member, naming them), checked by
    :func:`read_npz`.
    """
    arrays = {**arrays, VERSION_KEY: np.array(package_version())}
    digests = {}
    for key, value in arrays.items():
        sink = _Digest()
        np.lib.format.write_array(sink, np.asanyarray(value), allow_pickle=False)
        digests[f"{key}.npy"] = sink.h.digest()
    arrays[CHECKSUM_KEY] = np.array(_combine(digests))
    return atomic_write(npz_path(path), lambda fh: np.savez(fh, **arrays))


def _verify_checksum(archive: zipfile.ZipFile, names: set, bad) -> None:
    """Compare the stored checksum with the members' bytes (files without one: older)."""
    member = f"{CHECKSUM_KEY}.npy"
    if member not in names:
        return  # written before checksums were stored
    with archive.open(member) as fh:
        stored = _read_member(fh, CHECKSUM_KEY, ArraySpec("U", 0, 1), bad)
    covered = str(stored[()]).split(" ")[1:]
    if not covered or member in covered or not set(covered) <= names:
        raise bad("its content checksum names members it does not have")
    digests = {}
    for name in covered:
        info = archive.getinfo(name)
        if info.file_size > MAX_ARRAY_ELEMENTS * 8 + 4096:
            raise bad(f"member {name!r} declares {info.file_size:,} bytes, more than allowed")
        h = hashlib.sha256()
        with archive.open(name) as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        digests[name] = h.digest()
    if str(stored[()]) != _combine(digests):
        raise bad(
            "its content checksum does not match (the file was edited or damaged after "
            "fastbias wrote it)"
        )


def file_version(arrays: dict) -> str | None:
    """The fastbias version stored in a file's arrays (None for files written before 0.3)."""
    value = arrays.get(VERSION_KEY)
    return None if value is None else str(value[()])


def of_this_series(arrays: dict) -> bool:
    """Whether a file's arrays were written by this major.minor series (or carry no version)."""
    written = file_version(arrays)
    return written is None or release_series(written) == release_series(package_version())


# --------------------------------------------------------------------------------------------
# Ownership
# --------------------------------------------------------------------------------------------

_LOCK_SUFFIX = ".lock"
# Claims held by this process, by entry key: a second claim from another thread is refused
# at once (flock alone would also refuse it, but not on every file system).
_HELD: dict = {}
_HELD_GUARD = threading.Lock()


def lock_path(path) -> Path:
    """The lock file of an output: ``.<name>.lock`` beside its real target."""
    target = Path(os.path.realpath(path))
    stem = _side_stem(target.parent, target.name, len(_LOCK_SUFFIX))
    return target.parent / f"{stem}{_LOCK_SUFFIX}"


class Claim:
    """Exclusive ownership of an output file for the life of a run.

    Taken with ``Claim(path, what)`` (or as a context manager) before the file is checked
    and released by :meth:`release`. The claim is an ``flock`` on a lock file beside the
    target (``.<name>.lock``) holding the owner's pid: the operating system drops it when
    the owner dies, so the lock of a killed run is taken over by the next one (its requeue
    resumes), while a live owner, in another process or another thread of this one, makes
    every other claim fail at once. Where ``fcntl`` is missing the lock file is created
    exclusively and a lock of a dead pid is taken over.

    Raises
    ------
    ValueError
        If another run holds the claim (naming the path and the owner's pid).
    """

    def __init__(self, path, what: str):
        self.path, self.what = Path(path), what
        self.key = entry_key(path)
        self.lock = lock_path(path)
        self._fd = None
        with _HELD_GUARD:
            if self.key in _HELD:
                raise self._busy(os.getpid(), "another thread of this process")
            _HELD[self.key] = self
        try:
            self._acquire()
        except BaseException:
            with _HELD_GUARD:
                del _HELD[self.key]
            raise

    def _busy(self, pid, who=None) -> ValueError:
        who = who or (f"process {pid}" if pid else "another process")
        return ValueError(
            f"{self.what} {str(self.path)!r} is in use by {who} (lock {str(self.lock)!r}): "
            "two runs must not share one file; wait for that run to end or choose another path."
        )

    def _acquire(self) -> None:
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            self._acquire_exclusive()
            return
        while True:
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_pid(fd)
                os.close(fd)
                raise self._busy(owner) from None
            # the file may have been removed by its releasing owner after we opened it
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def _acquire_exclusive(self) -> None:  # pragma: no cover - not POSIX
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                with open(self.lock, "rb") as fh:
                    owner = _read_pid(fh.fileno())
                if owner is not None and _alive(owner):
                    raise self._busy(owner) from None
                os.unlink(self.lock)  # the lock of a dead run
                continue
            os.write(fd, str(os.getpid()).encode())
            self._fd = fd
            return
        raise self._busy(None)

    def release(self) -> None:
        """Give the file up (the lock file is removed); idempotent."""
        if self._fd is None:
            return
        try:
            os.unlink(self.lock)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
        with _HELD_GUARD:
            _HELD.pop(self.key, None)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd) -> int | None:
    try:
        text = os.pread(fd, 32, 0) if hasattr(os, "pread") else os.read(fd, 32)
        return int(text.decode().strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------------------------
# Guarded reading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArraySpec:
    """What an array of a file may be: dtype kinds, number of dimensions, element limit.

    Parameters
    ----------
    kinds : str
        Allowed ``dtype.kind`` letters (``"f"`` float, ``"i"`` signed int, ``"U"`` text,
        ``"b"`` bool, ...).
    ndim : int or tuple of int
        Allowed numbers of dimensions.
    max_elements : int
        Largest number of elements (checked on the declared shape, before reading).
    """

    kinds: str
    ndim: int | tuple = 1
    max_elements: int = MAX_ARRAY_ELEMENTS


def read_npz(path, kind: str, required: dict, optional: dict | None = None) -> dict:
    """Read the arrays ``required`` (and those of ``optional`` that exist) of an ``.npz`` file.

    Each array's header is checked against its :class:`ArraySpec` before its data are read;
    other members of the archive are only hashed, to compare the file's content checksum
    (:data:`CHECKSUM_KEY`) when it has one. Pickled objects are refused. The stored package
    version, if any, is returned under :data:`VERSION_KEY`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        Naming the file and the problem: not a regular file, not an npz archive, a missing
        key, a damaged member, a declared shape or dtype outside the spec, a content checksum
        that does not match (a file edited by hand).
    """
    path = input_file(resolve_npz_path(path), kind)
    optional = optional or {}

    def bad(what):
        return ValueError(
            f"{kind} file {str(path)!r} is corrupt or not a fastbias {kind} file: {what}."
        )

    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [key for key in required if f"{key}.npy" not in names]
            if missing:
                raise bad(f"missing {missing}")
            version_spec = {VERSION_KEY: ArraySpec("U", 0, 1)}
            for key, spec in {**required, **optional, **version_spec}.items():
                if f"{key}.npy" in names:
                    with archive.open(f"{key}.npy") as member:
                        out[key] = _read_member(member, key, spec, bad)
            _verify_checksum(archive, names, bad)  # after the cheap checks of the headers
    except ValueError:
        raise
    except (
        OSError,
        zipfile.BadZipFile,
        EOFError,
        zlib.error,
        NotImplementedError,
        RuntimeError,
        KeyError,
    ) as exc:
        raise bad(f"{type(exc).__name__}: {exc}") from None
    return out


def _read_member(member, key: str, spec: ArraySpec, bad) -> np.ndarray:
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise bad(f"array {key!r} has an unsupported npy version {version}")
    except ValueError as exc:
        if "corrupt" in str(exc):
            raise
        raise bad(f"array {key!r} has an unreadable header ({exc})") from None
    ndims = spec.ndim if isinstance(spec.ndim, tuple) else (spec.ndim,)
    if dtype.hasobject or dtype.kind not in spec.kinds:
        raise bad(f"array {key!r} has dtype {dtype}; expected kind {spec.kinds!r}")
    if len(shape) not in ndims:
        raise bad(f"array {key!r} has shape {shape}; expected {ndims[0]}-D")
    size = int(np.prod(shape, dtype=object))
    if size > spec.max_elements:
        raise bad(
            f"array {key!r} declares {size:,} elements (shape {shape}), more than the "
            f"limit {spec.max_elements:,}"
        )
    count = size
    data = member.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise bad(f"array {key!r} is truncated")
    array = np.frombuffer(data, dtype=dtype, count=count)
    order = "F" if fortran else "C"
    return array.reshape(shape, order=order).copy()


def _json_depth(text: str) -> int:
    """Largest nesting depth of brackets in a JSON text (outside strings)."""
    depth = top = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            top = max(top, depth)
        elif ch in "]}":
            depth -= 1
    return top


def parse_json(value, what: str, path, expect: type = dict):
    """Parse a JSON field of a file (a 0-d text array or a string) with a depth limit.

    Raises ValueError naming the file if the text is not JSON, nests deeper than
    :data:`MAX_JSON_DEPTH`, or is not of type ``expect``.
    """
    text = str(value[()] if isinstance(value, np.ndarray) else value)
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"file {str(path)!r}: {what} nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"file {str(path)!r}: {what} is not valid JSON ({exc}).") from None
    if not isinstance(parsed, expect):
        raise ValueError(
            f"file {str(path)!r}: {what} must be a JSON {expect.__name__}; "
            f"got {type(parsed).__name__}."
        )
    return parsed


def check_named(params: dict, key: str, path, kind: str) -> None:
    """A stored ``params[key]`` (optimizer, schedule) must be absent, null or ``{"name": ...}``."""
    value = params.get(key)
    if value is not None and not (isinstance(value, dict) and isinstance(value.get("name"), str)):
        raise ValueError(
            f"{kind} file {str(path)!r} is corrupt: params {key!r} must be an object with a "
            f"'name'; got {value!r:.80}."
        )


def text_field(value, what: str, path) -> str:
    """A 0-d text array of a file as a Python string; ValueError otherwise."""
    if not isinstance(value, np.ndarray) or value.ndim != 0 or value.dtype.kind != "U":
        raise ValueError(f"file {str(path)!r}: {what} must be a text field.")
    return str(value[()])


def brief_json(value) -> str:
    """A stored parameter as a message shows it: JSON (a string quoted), at most 120 characters."""
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def first_difference(name: str, a, b) -> tuple[str, object, object]:
    """Where two stored parameters first differ: ``(dotted name, value in a, value in b)``.

    Dicts are compared key by key, ``name`` first (``optimizer.name``, else
    ``optimizer.sampling``), so that a message names what differs rather than two long dicts.
    """
    while isinstance(a, dict) and isinstance(b, dict):
        keys = ["name", *sorted(set(a) | set(b))]  # another kind first, then an option
        key = next((k for k in keys if a.get(k) != b.get(k)), None)
        if key is None:
            break
        name, a, b = f"{name}.{key}", a.get(key), b.get(key)
    return name, a, b
