"""Files and loading: nothing lost, nothing overwritten, nothing stale (SPEC 10, issue 13).

Crafted and damaged files given to every loader (``Trajectory.load``, ``Dataset.load``,
``MulticlassDataset.load``, ``fb.datasets.load``, ``fb.checkpoint_info`` and
``simulate(resume=...)``) get a ValueError that names the file and what is wrong, without
allocating what a header declares and without reading the members the format does not need;
the file is never changed. Checkpoints: old formats and other runs are refused and left byte
for byte as they were, an existing checkpoint is never overwritten without ``resume``,
``resume=True`` resumes or starts, an output may not be an input (except the checkpoint that is
resumed and written, however spelled), and unwritable outputs are refused before any work.
Writes go through symlinks to their target; temporary files of killed writes are removed by
the next write to the same path, those of live writers are left alone. ``record`` beyond
memory is refused before any allocation, and many records keep checkpoints cheap.

The command line has its own tests of the same rules (``test_cli_files.py``), sweeps theirs
(``test_sweep*.py``).
"""

import hashlib
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fastbias as fb
from fastbias._io import MAX_ARRAY_ELEMENTS

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
SIMULATE = sys.modules["fastbias.simulate"]  # the module (fb.simulate is the function)

DS = fb.datasets.gaussian(n=6, d=8, seed=2)
MC = fb.datasets.gaussian_multiclass(n=6, d=8, k=3, seed=1)
OPT = fb.IncAdam(sampling="reshuffle")
# the run of the checkpoint files below
RUN = dict(data=DS, optimizer=OPT, epochs=30, seed=4, record=[0, 10, 30], progress=False)


# --------------------------------------------------------------------------------------------
# .npz archives by hand
# --------------------------------------------------------------------------------------------


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_header(shape, descr="<f8") -> bytes:
    """A valid version-1.0 .npy header declaring ``shape`` (no data follows)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    pad = (64 - (10 + len(text) + 1) % 64) % 64
    text = text + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def members(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def write_zip(path, parts: dict, compress=False) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method, allowZip64=True) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return Path(path)


def crafted(src, dst, compress=False, **changes) -> Path:
    """A copy of ``src`` with members replaced (arrays or raw .npy bytes) or removed (None).

    The copy has no content checksum (as files written before checksums were stored), so
    that the checks behind the checksum are reached.
    """
    parts = members(src)
    parts.pop("checksum.npy", None)
    for key, value in changes.items():
        if value is None:
            parts.pop(f"{key}.npy", None)
        else:
            parts[f"{key}.npy"] = value if isinstance(value, bytes) else npy_bytes(value)
    return write_zip(dst, parts, compress=compress)


def patch_method(path, member: str, method: int) -> None:
    """Set the compression-method field of ``member`` in its local and central headers."""
    raw = bytearray(Path(path).read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<H", raw, info.header_offset + 8, method)
    end = raw.rindex(b"PK\x05\x06")
    count = struct.unpack_from("<H", raw, end + 10)[0]
    pos = struct.unpack_from("<I", raw, end + 16)[0]
    for _ in range(count):
        n, m, k = struct.unpack_from("<HHH", raw, pos + 28)
        if raw[pos + 46 : pos + 46 + n].decode() == member:
            struct.pack_into("<H", raw, pos + 10, method)
        pos += 46 + n + m + k
    Path(path).write_bytes(bytes(raw))


def digest(path) -> tuple:
    """Content hash and modification time: 'unchanged' means both are equal."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


def temporaries(folder) -> list:
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------------------------
# Loaders and valid files
# --------------------------------------------------------------------------------------------

# name: (call, the base file it reads, the word its messages use)
LOADERS = {
    "Trajectory.load": (fb.Trajectory.load, "traj.npz", "trajectory"),
    "Dataset.load": (fb.Dataset.load, "data.npz", "dataset"),
    "MulticlassDataset.load": (fb.MulticlassDataset.load, "mc.npz", "dataset"),
    "datasets.load": (fb.datasets.load, "data.npz", "dataset"),
    "checkpoint_info": (fb.checkpoint_info, "ckpt.npz", "checkpoint"),
    "resume": (lambda path: fb.simulate(**RUN, resume=path), "ckpt.npz", "checkpoint"),
}
# the main array of each base file
MAIN = {"traj.npz": "w", "data.npz": "X", "mc.npz": "X", "ckpt.npz": "rec_w"}


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """Valid files of every kind, written by this version."""
    folder = tmp_path_factory.mktemp("bases")
    DS.save(folder / "data.npz")
    MC.save(folder / "mc.npz")
    fb.simulate(**RUN).save(folder / "traj.npz")
    fb.simulate(**RUN, checkpoint=folder / "ckpt.npz")
    user = fb.Dataset(DS.X, DS.y)  # user data: the checkpoint holds the arrays
    fb.simulate(**{**RUN, "data": user}, checkpoint=folder / "ckpt_user.npz")
    return folder


def make(bases, tmp_path, loader, compress=False, **changes):
    """The base file of ``loader`` with some members changed, as tmp_path/crafted.npz."""
    base = LOADERS[loader][1]
    return crafted(bases / base, tmp_path / "crafted.npz", compress=compress, **changes)


def refused(loader, path, pattern, exc=ValueError):
    """``loader`` refuses ``path`` with ``exc`` matching ``pattern``; the file is unchanged."""
    before = digest(path)
    with pytest.raises(exc, match=pattern) as info:
        LOADERS[loader][0](path)
    assert digest(path) == before
    assert type(info.value) is exc  # not a subclass: e.g. no MemoryError for a ValueError
    return str(info.value)


def corrupt(loader, what):
    """The message of a damaged file: its kind, its name and what is wrong."""
    kind = LOADERS[loader][2]
    return (
        rf"{kind} file '[^']*crafted.npz' is corrupt or not a fastbias {kind} file: "
        rf"{what}"
    )


def test_the_base_files_load(bases):
    for loader, (call, base, _) in LOADERS.items():
        assert call(bases / base) is not None, loader


@pytest.fixture
def no_run(monkeypatch):
    """Fail if a run starts: refusals must come before any computation."""

    def refuse(*args, **kwargs):
        raise AssertionError("the run started before the refusal")

    monkeypatch.setattr(SIMULATE, "_run", refuse)


# --------------------------------------------------------------------------------------------
# Declared sizes: checked before any allocation
# --------------------------------------------------------------------------------------------

HUGE = [  # (loader, member, declared shape, dtype)
    ("Trajectory.load", "w", (10**11, 50), "<f8"),
    ("Trajectory.load", "epochs", (5 * 10**12,), "<i8"),
    ("Dataset.load", "X", (10**11, 50), "<f8"),
    ("Dataset.load", "y", (5 * 10**12,), "<f8"),
    ("MulticlassDataset.load", "X", (10**11, 50), "<f8"),
    ("datasets.load", "X", (10**11, 50), "<f8"),
    ("checkpoint_info", "rec_w", (10**11, 1, 50), "<f8"),
    ("resume", "rec_w", (10**11, 1, 50), "<f8"),
    ("resume", "W", (10**11, 50), "<f8"),
    ("resume", "state", (10**11, 1, 50), "<f8"),
    ("resume", "pending", (5 * 10**12,), "<i8"),
]


@pytest.mark.parametrize("loader, key, shape, descr", HUGE, ids=[f"{c[0]}-{c[1]}" for c in HUGE])
def test_a_huge_declared_shape_is_refused_before_allocation(
    bases, tmp_path, loader, key, shape, descr
):
    path = make(bases, tmp_path, loader, **{key: npy_header(shape, descr) + bytes(800)})
    tracemalloc.start()
    try:
        message = refused(
            loader,
            path,
            corrupt(
                loader,
                rf"array '{key}' declares 5,000,000,000,000 elements \(shape "
                rf"\({shape[0]},.*\)\), more than the limit {MAX_ARRAY_ELEMENTS:,}",
            ),
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB allocated for: {message}"


def test_user_data_in_a_checkpoint_are_checked_before_allocation(bases, tmp_path):
    path = crafted(
        bases / "ckpt_user.npz",
        tmp_path / "crafted.npz",
        data_X=npy_header((10**11, 50)) + bytes(800),
    )
    refused(
        "checkpoint_info",
        path,
        corrupt("checkpoint_info", r"array 'data_X' declares 5,000,000,000,000 elements"),
    )


CHILD = """
import json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import fastbias as fb
ds = fb.datasets.gaussian(n=6, d=8, seed=2)
run = dict(data=ds, optimizer=fb.IncAdam(sampling="reshuffle"), epochs=30, seed=4,
           record=[0, 10, 30], progress=False)
loaders = {
    "Trajectory.load": fb.Trajectory.load, "Dataset.load": fb.Dataset.load,
    "MulticlassDataset.load": fb.MulticlassDataset.load, "datasets.load": fb.datasets.load,
    "checkpoint_info": fb.checkpoint_info,
    "resume": lambda path: fb.simulate(**run, resume=path),
}
fb.simulate(**run)  # kernels loaded before any measurement
out = {}
for name, loader, path in json.loads(sys.argv[2]):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        loader_result = loaders[loader](path)
        outcome = ["ok", type(loader_result).__name__]
    except BaseException as exc:
        outcome = [type(exc).__name__, str(exc)]
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    out[name] = outcome + [grown / 1024]
print(json.dumps(out))
"""
LIMIT = 1 << 30  # RLIMIT_AS of the child: 1 GiB (it needs about 0.2 GiB of its own)
JUNK = 256 << 20  # bytes of zeros in the unrelated member: 256 MiB, a few hundred kB on disk


@pytest.fixture(scope="module")
def low_memory(bases, tmp_path_factory):
    """Loads under RLIMIT_AS = 1 GiB in a child, with the growth of its peak RSS (MiB).

    Cases: a declared 10**11 x 50 array; a declared 2**27 elements (1 GiB, within the
    element limit) holding 800 bytes; a valid file plus an unrelated compressed member of
    256 MiB of zeros (never read: only the needed keys are).
    """
    folder = tmp_path_factory.mktemp("low_memory")
    junk = io.BytesIO()
    with zipfile.ZipFile(
        junk, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True
    ) as archive:
        with archive.open("junk.npy", "w", force_zip64=True) as fh:
            fh.write(npy_header((JUNK // 8,)))
            chunk = bytes(8 << 20)
            for _ in range(JUNK // len(chunk)):
                fh.write(chunk)
    cases = []
    for loader, (_, base, _) in LOADERS.items():
        key = MAIN[base]
        huge = (10**11, 1, 50) if key == "rec_w" else (10**11, 50)
        within = (2**22, 1, 32) if key == "rec_w" else (2**22, 32)
        for case, value in (
            ("huge", npy_header(huge) + bytes(800)),
            ("within", npy_header(within) + bytes(800)),
        ):
            path = crafted(bases / base, folder / f"{loader}-{case}.npz", **{key: value})
            cases.append((f"{loader}-{case}", loader, str(path)))
        path = folder / f"{loader}-junk.npz"
        path.write_bytes(junk.getvalue())
        with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members(bases / base).items():
                archive.writestr(name, data)
        assert path.stat().st_size < 2 << 20
        cases.append((f"{loader}-junk", loader, str(path)))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(LIMIT), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("loader", LOADERS)
def test_a_huge_declared_shape_under_a_low_address_space_limit(low_memory, loader):
    kind, message, grown = low_memory[f"{loader}-huge"]
    assert kind == "ValueError", message
    assert "declares 5,000,000,000,000 elements" in message and f"{loader}-huge.npz" in message
    assert grown < 64


@pytest.mark.parametrize("loader", LOADERS)
def test_a_declared_size_within_the_limit_is_not_allocated_before_the_data_are_read(
    low_memory, loader
):
    # 2**27 float64 = 1 GiB: the child could not allocate it; the 800 bytes are read
    kind, message, grown = low_memory[f"{loader}-within"]
    assert kind == "ValueError", message
    assert message.endswith(
        f"is corrupt or not a fastbias {LOADERS[loader][2]} file: array "
        f"'{MAIN[LOADERS[loader][1]]}' is truncated."
    )
    assert grown < 64


@pytest.mark.parametrize("loader", LOADERS)
def test_an_unrelated_huge_member_is_never_read(low_memory, loader):
    kind, result, grown = low_memory[f"{loader}-junk"]
    assert kind == "ok", result
    assert grown < 64, f"peak RSS grew by {grown:.0f} MiB: the 256 MiB member was read"


# --------------------------------------------------------------------------------------------
# JSON fields: depth limit, type
# --------------------------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
JSON_FIELDS = [  # (loader, field)
    ("Trajectory.load", "params"),
    ("checkpoint_info", "params"),
    ("resume", "params"),
    ("checkpoint_info", "rng_state"),
    ("resume", "rng_state"),
    ("Dataset.load", "source"),
    ("MulticlassDataset.load", "source"),
    ("datasets.load", "source"),
]


@pytest.mark.parametrize("loader, field", JSON_FIELDS, ids=[f"{a}-{b}" for a, b in JSON_FIELDS])
def test_deeply_nested_json_is_a_value_error_not_a_recursion_error(bases, tmp_path, loader, field):
    path = make(bases, tmp_path, loader, **{field: np.array(DEEP)})
    refused(loader, path, rf"file '[^']*crafted.npz': {field} nests deeper than 64 levels")


@pytest.mark.parametrize("loader, field", JSON_FIELDS, ids=[f"{a}-{b}" for a, b in JSON_FIELDS])
@pytest.mark.parametrize(
    "text, got",
    [("[]", "list"), ("[1, 2]", "list"), ("3", "int"), ('"x"', "str"), ("null", "NoneType")],
)
def test_json_of_the_wrong_type_is_a_value_error(bases, tmp_path, loader, field, text, got):
    path = make(bases, tmp_path, loader, **{field: np.array(text)})
    refused(loader, path, rf"file '[^']*crafted.npz': {field} must be a JSON dict; got {got}\.")


@pytest.mark.parametrize(
    "loader, field", JSON_FIELDS[:4], ids=[f"{a}-{b}" for a, b in JSON_FIELDS[:4]]
)
def test_invalid_json_is_a_value_error(bases, tmp_path, loader, field):
    path = make(bases, tmp_path, loader, **{field: np.array("{not json")})
    refused(loader, path, rf"file '[^']*crafted.npz': {field} is not valid JSON \(Expecting")


def test_json_depth_limit_is_exact_and_ignores_brackets_in_strings(bases, tmp_path):
    params = json.loads(str(np.load(bases / "traj.npz")["params"]))
    for depth, ok in ((64, True), (65, False)):
        nested = json.loads("[" * (depth - 1) + "]" * (depth - 1))
        path = make(
            bases,
            tmp_path,
            "Trajectory.load",
            params=np.array(json.dumps({**params, "nested": nested})),
        )
        if ok:
            assert fb.Trajectory.load(path).params["nested"] == nested
        else:
            refused("Trajectory.load", path, r"params nests deeper than 64 levels")
    text = "[" * 100_000  # inside a string: no nesting
    path = make(
        bases, tmp_path, "Trajectory.load", params=np.array(json.dumps({**params, "note": text}))
    )
    assert fb.Trajectory.load(path).params["note"] == text


@pytest.mark.parametrize(
    "key, value, what",
    [
        ("epochs", "abc", "'abc'"),
        ("epochs", 0, "0"),
        ("epochs", 2.5, "2.5"),
        ("n", True, "True"),
        ("k", None, "None"),
    ],
)
def test_checkpoint_params_of_the_wrong_type_are_refused(bases, tmp_path, key, value, what):
    params = json.loads(str(np.load(bases / "ckpt.npz")["params"]))
    path = make(
        bases, tmp_path, "checkpoint_info", params=np.array(json.dumps({**params, key: value}))
    )
    refused(
        "checkpoint_info",
        path,
        rf"checkpoint '[^']*crafted.npz' is corrupt: params "
        rf"'{key}' must be an integer >= 1; got {what}\.",
    )


def test_checkpoint_params_without_a_key_are_refused(bases, tmp_path):
    params = json.loads(str(np.load(bases / "ckpt.npz")["params"]))
    del params["seed"]
    path = make(bases, tmp_path, "resume", params=np.array(json.dumps(params)))
    refused("resume", path, r"checkpoint '[^']*crafted.npz' is corrupt: params lack 'seed'")


# --------------------------------------------------------------------------------------------
# Damaged archives and members
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    "compress, method, what",
    [
        (True, 99, r"NotImplementedError: That compression method is not supported"),
        (False, 99, r"NotImplementedError: That compression method is not supported"),
        (False, 12, r"OSError: Invalid data stream"),  # bzip2 on stored bytes
        (False, 8, r"(BadZipFile: Bad CRC-32 for file|error: Error -3 while decompressing)"),
        (True, 0, r"(BadZipFile: Bad CRC-32 for file|array '\w+' has an unreadable header)"),
    ],
    ids=["deflated-99", "stored-99", "stored-as-bzip2", "stored-as-deflate", "deflated-as-stored"],
)
def test_a_changed_compression_method_is_a_value_error(
    bases, tmp_path, loader, compress, method, what
):
    path = make(bases, tmp_path, loader, compress=compress)
    patch_method(path, f"{MAIN[LOADERS[loader][1]]}.npy", method)
    refused(loader, path, corrupt(loader, what))


def test_a_damaged_member_the_format_does_not_need_is_not_read(bases, tmp_path):
    path = crafted(
        bases / "traj.npz", tmp_path / "crafted.npz", compress=True, extra=np.zeros(1000)
    )
    patch_method(path, "extra.npy", 99)
    np.testing.assert_array_equal(
        fb.Trajectory.load(path).w, fb.Trajectory.load(bases / "traj.npz").w
    )


@pytest.mark.parametrize(
    "loader, key, value, what",
    [
        (
            "Trajectory.load",
            "epochs",
            np.array(30, dtype=np.int64),
            r"array 'epochs' has shape "
            r"\(\); expected 1-D",
        ),
        (
            "Trajectory.load",
            "epochs",
            np.zeros((3, 1), dtype=np.int64),
            r"array 'epochs' has shape \(3, 1\); expected 1-D",
        ),
        ("Trajectory.load", "w", np.zeros(3), r"array 'w' has shape \(3,\); expected 2-D"),
        ("Trajectory.load", "log_loss", np.array(1.0), r"array 'log_loss' has shape \(\)"),
        ("Dataset.load", "y", np.array(1.0), r"array 'y' has shape \(\); expected 1-D"),
        ("Dataset.load", "X", np.zeros(8), r"array 'X' has shape \(8,\); expected 2-D"),
        (
            "checkpoint_info",
            "counters",
            np.array(30, dtype=np.int64),
            r"array 'counters' has shape \(\); expected 1-D",
        ),
        (
            "checkpoint_info",
            "counters",
            np.array([30, 180, 0], dtype=np.int64),
            r"array 'counters' declares 3 elements \(shape \(3,\)\), more than the limit 2",
        ),
        ("resume", "W", np.zeros((1, 1, 8)), r"array 'W' has shape \(1, 1, 8\); expected 2-D"),
        (
            "resume",
            "format",
            np.array(["fastbias-checkpoint-2"]),
            r"array 'format' has shape \(1,\); expected 0-D",
        ),
    ],
    ids=[
        "epochs-0d",
        "epochs-2d",
        "w-1d",
        "log_loss-0d",
        "y-0d",
        "X-1d",
        "counters-0d",
        "counters-3",
        "W-3d",
        "format-1d",
    ],
)
def test_arrays_of_the_wrong_dimension_are_a_value_error(bases, tmp_path, loader, key, value, what):
    path = make(bases, tmp_path, loader, **{key: value})
    refused(loader, path, corrupt(loader, what))


@pytest.mark.parametrize(
    "loader, key, descr",
    [
        ("Trajectory.load", "w", "complex128"),
        ("Trajectory.load", "log_loss", "complex128"),
        ("Trajectory.load", "min_margin", "complex64"),
        ("Dataset.load", "X", "complex128"),
        ("MulticlassDataset.load", "X", "complex128"),
        ("resume", "W", "complex128"),
        ("checkpoint_info", "rec_w", "complex128"),
        ("Trajectory.load", "epochs", "float64"),
        ("Trajectory.load", "format", "int64"),
        ("datasets.load", "format", "bytes"),
    ],
)
def test_arrays_of_the_wrong_dtype_are_refused_not_converted(bases, tmp_path, loader, key, descr):
    with np.load(bases / LOADERS[loader][1]) as saved:
        original = saved[key]
    if descr.startswith("complex"):
        value = original.astype(descr) + 1j  # an imaginary part that a cast would drop
    elif descr == "bytes":
        value = np.array(str(original).encode())
    else:
        value = np.zeros(original.shape, dtype=descr) if original.ndim else np.array(2)
    path = make(bases, tmp_path, loader, **{key: value})
    shown = {"bytes": r"\|S\d+"}.get(descr, descr)
    refused(loader, path, corrupt(loader, rf"array '{key}' has dtype {shown}; expected kind"))


@pytest.mark.parametrize("loader", LOADERS)
def test_pickled_objects_are_refused(bases, tmp_path, loader):
    key = MAIN[LOADERS[loader][1]]
    with np.load(bases / LOADERS[loader][1]) as saved:
        obj = np.empty(saved[key].shape, dtype=object)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, obj, allow_pickle=True)
    path = make(bases, tmp_path, loader, **{key: buf.getvalue()})
    refused(loader, path, corrupt(loader, rf"array '{key}' has dtype object; expected kind"))


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("cut", ["empty", "10 bytes", "half", "all but 10 bytes"])
def test_truncated_files_are_a_value_error(bases, tmp_path, loader, cut):
    raw = (bases / LOADERS[loader][1]).read_bytes()
    size = {"empty": 0, "10 bytes": 10, "half": len(raw) // 2, "all but 10 bytes": len(raw) - 10}
    path = tmp_path / "crafted.npz"
    path.write_bytes(raw[: size[cut]])
    refused(loader, path, corrupt(loader, r"BadZipFile: File is not a zip file"))


@pytest.mark.parametrize("loader", LOADERS)
def test_a_truncated_member_is_a_value_error(bases, tmp_path, loader):
    key = MAIN[LOADERS[loader][1]]
    with np.load(bases / LOADERS[loader][1]) as saved:
        full = npy_bytes(saved[key])
    path = make(bases, tmp_path, loader, **{key: full[:-8]})  # a CRC-valid zip, one short
    refused(loader, path, corrupt(loader, rf"array '{key}' is truncated"))


@pytest.mark.parametrize("loader", LOADERS)
def test_an_unreadable_npy_header_is_a_value_error(bases, tmp_path, loader):
    key = MAIN[LOADERS[loader][1]]
    path = make(bases, tmp_path, loader, **{key: b"\x93NUMPY\x01\x00garbage"})
    refused(loader, path, corrupt(loader, rf"array '{key}' has an unreadable header"))


@pytest.mark.parametrize("loader", LOADERS)
def test_a_folder_is_not_a_file(tmp_path, loader):
    folder = tmp_path / "crafted.npz"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"'[^']*crafted.npz' is a folder, not a regular file"):
        LOADERS[loader][0](folder)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_missing_file_is_file_not_found(tmp_path, loader):
    kind = LOADERS[loader][2]
    with pytest.raises(FileNotFoundError, match=rf"{kind} file '[^']*absent.npz' does not exist"):
        LOADERS[loader][0](tmp_path / "absent.npz")


# --------------------------------------------------------------------------------------------
# Format tags
# --------------------------------------------------------------------------------------------

BINARY_TAGS = r"\['fastbias-dataset-1', 'dataset-1'\]"
MULTICLASS_TAGS = r"\['fastbias-multiclass-dataset-1'\]"


@pytest.mark.parametrize(
    "loader, base, tag, message",
    [
        (
            "Dataset.load",
            "data.npz",
            "fastbias-trajectory-1",
            rf"has format 'fastbias-trajectory-1'; expected one of {BINARY_TAGS}\.$",
        ),
        (
            "datasets.load",
            "data.npz",
            "fastbias-trajectory-1",
            rf"has format 'fastbias-trajectory-1'; expected one of {BINARY_TAGS}\.$",
        ),
        (
            "MulticlassDataset.load",
            "mc.npz",
            "fastbias-trajectory-1",
            rf"has format 'fastbias-trajectory-1'; expected one of {MULTICLASS_TAGS}\.$",
        ),
        (
            "Dataset.load",
            "data.npz",
            "fastbias-dataset-2",
            rf"has format 'fastbias-dataset-2'; expected one of {BINARY_TAGS}",
        ),
        ("Dataset.load", "data.npz", "", rf"has format ''; expected one of {BINARY_TAGS}"),
        (
            "Dataset.load",
            "mc.npz",
            "fastbias-multiclass-dataset-1",
            rf"has format 'fastbias-multiclass-dataset-1'; expected one of {BINARY_TAGS} "
            r"\(it holds multiclass data: use fb.datasets.load\)",
        ),
        (
            "MulticlassDataset.load",
            "data.npz",
            "fastbias-dataset-1",
            rf"has format 'fastbias-dataset-1'; expected one of {MULTICLASS_TAGS} "
            r"\(it holds binary data: use fb.datasets.load\)",
        ),
    ],
)
def test_a_dataset_with_a_wrong_format_tag_is_refused(bases, tmp_path, loader, base, tag, message):
    path = crafted(bases / base, tmp_path / "crafted.npz", format=np.array(tag))
    refused(loader, path, rf"^dataset file '[^']*crafted.npz' {message}")


@pytest.mark.parametrize("loader", ["Dataset.load", "MulticlassDataset.load", "datasets.load"])
def test_a_dataset_without_a_format_tag_is_refused(bases, tmp_path, loader):
    path = make(bases, tmp_path, loader, format=None)
    refused(loader, path, corrupt(loader, r"missing \['format'\]"))


@pytest.mark.parametrize(
    "loader, tag, message",
    [
        (
            "Trajectory.load",
            "fastbias-dataset-1",
            r"trajectory file '[^']*crafted.npz' has format 'fastbias-dataset-1'; expected "
            r"'fastbias-trajectory-2'",
        ),
        (
            "Trajectory.load",
            "fastbias-trajectory-3",
            r"trajectory file '[^']*crafted.npz' has format 'fastbias-trajectory-3'",
        ),
        (
            "checkpoint_info",
            "fastbias-trajectory-2",
            r"checkpoint file '[^']*crafted.npz' has format 'fastbias-trajectory-2'; expected "
            r"'fastbias-checkpoint-2'",
        ),
        (
            "resume",
            "fastbias-checkpoint-3",
            r"checkpoint file '[^']*crafted.npz' has format 'fastbias-checkpoint-3'",
        ),
    ],
)
def test_trajectories_and_checkpoints_check_their_format_tag(bases, tmp_path, loader, tag, message):
    path = make(bases, tmp_path, loader, format=np.array(tag))
    refused(loader, path, message)


@pytest.mark.parametrize("loader", ["Trajectory.load", "checkpoint_info"])
def test_trajectories_and_checkpoints_without_a_tag_are_refused(bases, tmp_path, loader):
    path = make(bases, tmp_path, loader, format=None)
    refused(loader, path, corrupt(loader, r"missing \['format'\]"))


def test_files_of_fastbias_0_1_still_load(bases, tmp_path):
    data = crafted(bases / "data.npz", tmp_path / "data.npz", format=np.array("dataset-1"))
    assert fb.Dataset.load(data) == DS
    traj = crafted(
        bases / "traj.npz",
        tmp_path / "traj.npz",
        format=np.array("fastbias-trajectory-1"),
        params=None,
    )
    assert fb.Trajectory.load(traj).params == {}


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(y=np.append(DS.y[:5], 3.0)), r"y must hold exactly two distinct label values"),
        (dict(y=DS.y[:3]), r"y must have one label per row of X: X has 6 rows, y has 3"),
        (dict(X=np.where(np.eye(6, 8) > 0, np.nan, DS.X)), r"X contains NaN at row 0, column 0"),
        (dict(X=np.full((6, 8), 1e-310)), r"X has rows whose entries are all subnormal"),
    ],
)
def test_invalid_data_in_a_dataset_file_name_the_file(bases, tmp_path, change, message):
    path = crafted(bases / "data.npz", tmp_path / "crafted.npz", **change)
    for loader in ("Dataset.load", "datasets.load"):
        refused(loader, path, rf"^dataset file '[^']*crafted.npz': {message}")


def test_non_separable_data_in_a_file_name_the_file_and_the_remedy(tmp_path):
    path = fb.Dataset([[1.0, 2.0], [1.0, 2.0]], [1, -1], check_separable=False).save(
        tmp_path / "crafted.npz"
    )
    refused(
        "Dataset.load",
        path,
        r"^dataset file '[^']*crafted.npz': data are not linearly "
        r"separable .*pass check_separable=False",
    )
    assert fb.Dataset.load(path, check_separable=False).n == 2
    with pytest.raises(TypeError, match=r"check_separable must be True or False; got 'no'"):
        fb.Dataset.load(path, check_separable="no")


# --------------------------------------------------------------------------------------------
# Checkpoints: old formats, other runs, resume-or-start
# --------------------------------------------------------------------------------------------


def old_checkpoint(path) -> Path:
    """A checkpoint as fastbias 0.1 wrote it ("fastbias-checkpoint-1": w, m, v, scale(3))."""
    params = {
        "optimizer": OPT.to_dict(),
        "lr": {"name": "PolynomialDecay", "eta0": 0.1, "power": 0.5},
        "loss": "exp",
        "seed": 4,
        "epochs": 30,
        "record": 3,
        "w0": None,
        "data": DS.fingerprint,
    }
    np.savez(
        path,
        format=np.array("fastbias-checkpoint-1"),
        params=np.array(json.dumps(params)),
        w=np.ones(8),
        m=np.zeros(8),
        v=np.zeros(8),
        scale=np.zeros(3),
        counters=np.array([20, 120], dtype=np.int64),
        rng_state=np.array(json.dumps(np.random.default_rng(4).bit_generator.state)),
        rec_epochs=np.array([1, 3, 10], dtype=np.int64),
        rec_w=np.zeros((3, 8)),
    )
    return Path(path)


OLD = (
    r"checkpoint '[^']*old.npz' was written by an older fastbias \(fastbias-checkpoint-1\), "
    r"whose record grid depended on the horizon; it cannot be continued bitwise. Start the "
    r"run anew"
)


@pytest.mark.parametrize(
    "how", ["checkpoint_info", "resume=path", "resume=True", "resume=True, larger epochs"]
)
def test_an_old_format_checkpoint_is_refused_with_a_clear_message(tmp_path, how, no_run):
    path = old_checkpoint(tmp_path / "old.npz")
    before = digest(path)
    calls = {
        "checkpoint_info": lambda: fb.checkpoint_info(path),
        "resume=path": lambda: fb.simulate(**RUN, resume=path),
        "resume=True": lambda: fb.simulate(**RUN, checkpoint=path, resume=True),
        "resume=True, larger epochs": lambda: fb.simulate(
            **{**RUN, "epochs": 300}, checkpoint=path, resume=True
        ),
    }
    with pytest.raises(ValueError, match=OLD):
        calls[how]()
    assert digest(path) == before and temporaries(tmp_path) == []


OTHER_RUNS = [  # (change to RUN, the key named, how the message shows the values)
    (dict(seed=5), "seed", r"\(checkpoint 4, this call 5\)"),
    (dict(data=fb.datasets.gaussian(n=6, d=8, seed=3)), "data", r"\(checkpoint '7e5a"),
    (
        dict(optimizer=fb.IncAdam(beta2=0.99, sampling="reshuffle")),
        "optimizer.beta2",
        r"\(checkpoint 0.999, this call 0.99\)",
    ),
    (
        dict(lr=fb.Constant(0.1)),
        "lr.name",
        r"\(checkpoint 'PolynomialDecay', this call 'Constant'\)",
    ),
    (dict(loss="logistic"), "loss", r"\(checkpoint 'exp', this call 'logistic'\)"),
    (dict(record=[0, 10, 20, 30]), "record", r"\(checkpoint \[0, 10, 30\], this call "),
    (dict(record=20), "record", r"\(checkpoint \[0, 10, 30\], this call 20\)"),
    (dict(w0=np.full(8, 0.1)), "w0", r"\(checkpoint null, this call \[0.1,"),
]


@pytest.mark.parametrize("how", ["resume=path", "resume=True"])
@pytest.mark.parametrize(
    "change, key, shown",
    OTHER_RUNS,
    ids=[f"{c[1]}-{i}" for i, c in enumerate(OTHER_RUNS)],
)
def test_a_checkpoint_of_another_run_is_refused_and_left_byte_for_byte(
    bases, tmp_path, how, change, key, shown, no_run
):
    path = tmp_path / "ckpt.npz"
    shutil.copy(bases / "ckpt.npz", path)
    before = digest(path)
    kwargs = {"resume": path} if how == "resume=path" else {"checkpoint": path, "resume": True}
    with pytest.raises(
        ValueError,
        match=rf"checkpoint '[^']*ckpt.npz' belongs to a different "
        rf"run: {re.escape(key)} differs {shown}.*it is left untouched",
    ):
        fb.simulate(**{**RUN, **change}, **kwargs)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


@pytest.mark.parametrize("how", ["resume=path", "resume=True"])
def test_a_checkpoint_further_than_the_horizon_is_refused_and_left_unchanged(bases, tmp_path, how):
    path = tmp_path / "ckpt.npz"
    shutil.copy(bases / "ckpt.npz", path)
    before = digest(path)
    kwargs = {"resume": path} if how == "resume=path" else {"checkpoint": path, "resume": True}
    with pytest.raises(
        ValueError,
        match=r"checkpoint '[^']*ckpt.npz' has done 30 epochs; "
        r"epochs must be at least that to resume it; got 20",
    ):
        fb.simulate(**{**RUN, "epochs": 20}, **kwargs)
    assert digest(path) == before


@pytest.mark.parametrize(
    "existing", ["checkpoint", "checkpoint, no suffix given", "trajectory", "dataset", "any file"]
)
def test_an_existing_checkpoint_path_without_resume_is_refused(bases, tmp_path, existing, no_run):
    target = tmp_path / "F.npz"
    source = {
        "checkpoint": "ckpt.npz",
        "checkpoint, no suffix given": "ckpt.npz",
        "trajectory": "traj.npz",
        "dataset": "data.npz",
    }.get(existing)
    if source:
        shutil.copy(bases / source, target)
    else:
        target.write_text("precious")
    given = tmp_path / "F" if existing == "checkpoint, no suffix given" else target
    before = digest(target)
    with pytest.raises(
        ValueError,
        match=r"checkpoint '[^']*F.npz' exists: pass resume=True to "
        r"continue \(or extend\) the run saved there, or choose "
        r"another path; it is never overwritten by another "
        r"run\.",
    ):
        fb.simulate(**{**RUN, "epochs": 5}, checkpoint=given)
    assert digest(target) == before and temporaries(tmp_path) == []


def assert_same_run(a, b):
    np.testing.assert_array_equal(a.epochs, b.epochs)
    assert a.w.tobytes() == b.w.tobytes()  # bitwise


def test_resume_true_starts_when_the_checkpoint_does_not_exist_then_resumes(tmp_path):
    path = tmp_path / "job.npz"
    first = fb.simulate(**RUN, checkpoint=path, resume=True)  # starts
    assert_same_run(first, fb.simulate(**RUN))
    assert fb.checkpoint_info(path)["epoch"] == 30

    with np.load(path) as saved:
        state = {key: saved[key] for key in saved.files}
    again = fb.simulate(**RUN, checkpoint=path, resume=True)  # resumes a finished run
    assert_same_run(again, first)
    with np.load(path) as saved:  # the same state, rewritten identically
        assert sorted(saved.files) == sorted(state)
        for key in state:
            assert saved[key].tobytes() == state[key].tobytes(), key

    longer = fb.simulate(**{**RUN, "epochs": 300}, checkpoint=path, resume=True)  # extends
    assert_same_run(longer, fb.simulate(**{**RUN, "epochs": 300}))
    info = fb.checkpoint_info(path)
    assert (info["epoch"], info["epochs"]) == (300, 300)
    assert temporaries(tmp_path) == []


def test_resume_true_through_the_unsuffixed_name(tmp_path):
    fb.simulate(**RUN, checkpoint=tmp_path / "job", resume=True)
    assert (tmp_path / "job.npz").exists() and not (tmp_path / "job").exists()
    longer = fb.simulate(**{**RUN, "epochs": 100}, checkpoint=tmp_path / "job", resume=True)
    assert_same_run(longer, fb.simulate(**{**RUN, "epochs": 100}))


def test_resume_of_a_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"checkpoint file '[^']*missing.npz' does not exist"
    ):
        fb.simulate(**RUN, resume=tmp_path / "missing.npz")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Outputs equal to inputs
# --------------------------------------------------------------------------------------------


@pytest.fixture
def finished(bases, tmp_path, monkeypatch):
    """run.npz: a finished checkpoint of RUN; other.npz: an unrelated checkpoint."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(bases / "ckpt.npz", tmp_path / "run.npz")
    fb.simulate(**{**RUN, "seed": 9}, checkpoint=tmp_path / "other.npz")
    return tmp_path


def test_resuming_into_another_existing_checkpoint_is_refused(finished, no_run):
    before = {name: digest(finished / name) for name in ("run.npz", "other.npz")}
    with pytest.raises(
        ValueError,
        match=r"checkpoint 'other.npz' exists and is not the resumed "
        r"checkpoint '[^']*run.npz'",
    ):
        fb.simulate(**{**RUN, "epochs": 100}, resume="run.npz", checkpoint="other.npz")
    assert {name: digest(finished / name) for name in before} == before


@pytest.mark.parametrize(
    "resume, checkpoint",
    [
        ("run.npz", "run.npz"),
        ("run", "run.npz"),
        ("run.npz", "run"),
        ("run", "run"),
        ("run.npz", "link.npz"),
        ("link.npz", "run.npz"),
        ("link", "run"),
    ],
)
def test_the_checkpoint_that_is_resumed_may_be_written(finished, resume, checkpoint):
    os.symlink("run.npz", finished / "link.npz")
    tr = fb.simulate(**{**RUN, "epochs": 100}, resume=resume, checkpoint=checkpoint)
    assert_same_run(tr, fb.simulate(**{**RUN, "epochs": 100}))
    assert fb.checkpoint_info(finished / "run.npz")["epoch"] == 100
    assert os.path.islink(finished / "link.npz")
    assert sorted(p.name for p in finished.iterdir()) == ["link.npz", "other.npz", "run.npz"]


def test_resuming_into_a_new_checkpoint_leaves_the_old_one(finished):
    before = digest(finished / "run.npz")
    fb.simulate(**{**RUN, "epochs": 100}, resume="run.npz", checkpoint="more.npz")
    assert digest(finished / "run.npz") == before
    assert fb.checkpoint_info(finished / "more.npz")["epoch"] == 100


# --------------------------------------------------------------------------------------------
# Output paths checked before any work
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, message",
    [
        ("outdir", r"checkpoint 'outdir' is a folder; give a file path\."),
        ("outdir.npz", r"checkpoint 'outdir.npz' is a folder; give a file path\."),
        (
            "afile/x.npz",
            r"checkpoint 'afile/x.npz' cannot be created: '[^']*/afile' is a file, not "
            r"a folder\.",
        ),
        (
            "afile/deeper/x",
            r"checkpoint 'afile/deeper/x.npz' cannot be created: '[^']*/afile' is a "
            r"file, not a folder\.",
        ),
    ],
)
def test_unwritable_checkpoint_paths_are_refused_before_any_work(
    tmp_path, monkeypatch, no_run, given, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir.npz").mkdir()
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=message):
        fb.simulate(**{**RUN, "epochs": 10**9}, checkpoint=given)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_missing_folders_of_a_checkpoint_are_made(tmp_path):
    path = tmp_path / "new" / "deeper" / "run.npz"
    fb.simulate(**RUN, checkpoint=path)
    assert fb.checkpoint_info(path)["epoch"] == 30


READ_ONLY = """
import sys
import fastbias as fb
sim = sys.modules["fastbias.simulate"]
def refuse(*args, **kwargs):
    raise AssertionError("the run started")
sim._run = refuse
try:
    fb.simulate(fb.datasets.gaussian(n=6, d=8, seed=2), fb.IncAdam(), epochs=10**9,
                checkpoint=sys.argv[1])
except ValueError as exc:
    print(exc)
"""
SETPRIV = shutil.which("setpriv")


def test_a_read_only_folder_is_refused_before_any_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    command = [sys.executable, "-c", READ_ONLY, str(folder / "x.npz")]
    try:
        if os.geteuid() == 0:  # root writes anywhere unless CAP_DAC_OVERRIDE is dropped
            if SETPRIV is None:
                pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE")
            drop = [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
            if subprocess.run([*drop, "test", "-w", str(folder)]).returncode != 1:
                pytest.skip("setpriv cannot drop CAP_DAC_OVERRIDE here")
            command = [*drop, *command]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"checkpoint {str(folder / 'x.npz')!r} cannot be written: the folder "
        f"{str(folder)!r} is not writable.\n"
    )
    assert list(folder.iterdir()) == []


def test_saving_onto_a_folder_fails_and_leaves_nothing(tmp_path):
    (tmp_path / "t.npz").mkdir()
    with pytest.raises(ValueError, match="is a folder: only regular files are written"):
        fb.simulate(**RUN).save(tmp_path / "t.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]
    assert (tmp_path / "t.npz").is_dir()


# --------------------------------------------------------------------------------------------
# Symlinks: the link's target is written, the link stays
# --------------------------------------------------------------------------------------------

SAVERS = {
    "trajectory": (
        lambda path: fb.simulate(**RUN).save(path),
        lambda path: fb.Trajectory.load(path).epochs[-1] == 30,
    ),
    "dataset": (lambda path: DS.save(path), lambda path: fb.Dataset.load(path) == DS),
    "multiclass": (lambda path: MC.save(path), lambda path: fb.MulticlassDataset.load(path) == MC),
    "checkpoint": (
        lambda path: fb.simulate(**RUN, checkpoint=path, resume=True),
        lambda path: fb.checkpoint_info(path)["epoch"] == 30,
    ),
}


@pytest.mark.parametrize("saver", SAVERS)
@pytest.mark.parametrize(
    "layout",
    [
        "existing target",
        "dangling link",
        "chain of links",
        "link given without suffix",
        "target in another folder",
    ],
)
def test_saving_to_a_symlink_writes_its_target_and_keeps_the_link(tmp_path, saver, layout):
    save, check = SAVERS[saver]
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / (
        "elsewhere/real.npz" if layout == "target in another folder" else "real.npz"
    )
    if layout == "existing target":
        if saver == "checkpoint":  # a shorter run, extended through the link
            fb.simulate(**{**RUN, "epochs": 10}, checkpoint=target)
        else:
            target.write_bytes(b"old content")
    link = tmp_path / "link.npz"
    if layout == "chain of links":
        os.symlink("real.npz", tmp_path / "middle.npz")
        os.symlink("middle.npz", link)
    else:
        os.symlink(os.path.relpath(target, tmp_path), link)
    save(tmp_path / "link" if layout == "link given without suffix" else link)
    assert os.path.islink(link) and os.path.realpath(link) == os.path.realpath(target)
    assert target.is_file() and not target.is_symlink()
    assert check(target) and check(link)
    assert temporaries(tmp_path) == [] and temporaries(tmp_path / "elsewhere") == []


# --------------------------------------------------------------------------------------------
# Temporary files of killed writes
# --------------------------------------------------------------------------------------------

KILLED_SAVE = """
import sys
import numpy as np
import fastbias as fb
k, d = 20_000, 2_500  # 400 MB of iterates
tr = fb.Trajectory(np.arange(k), np.zeros((k, d)), np.zeros(k), np.zeros(k), {})
print("saving", flush=True)
tr.save(sys.argv[1])
print("saved", flush=True)
"""


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_temporary_file_of_a_killed_save_is_removed_by_the_next_save(tmp_path):
    target = tmp_path / "big.npz"
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            deadline = time.monotonic() + 120
            while True:
                written = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
                if written and written[0].stat().st_size > 0:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"no write to kill (exit {proc.poll()}): "
                        f"{proc.stderr.read().decode()[-2000:]}"
                    )
                time.sleep(0.001)
            proc.wait(timeout=30)  # reaped: its pid is no longer alive
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    left = temporaries(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".big.npz.{proc.pid}.")
    assert not target.exists()  # never renamed into place half-written

    fb.simulate(**RUN).save(target)
    assert temporaries(tmp_path) == []
    assert fb.Trajectory.load(target).epochs[-1] == 30


@pytest.fixture
def live_pid():
    """The pid of a live process (a writer that is still writing)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path, live_pid):
    day = 24 * 3600
    names = {
        "dead writer": (f".traj.npz.{dead_pid()}.ab12cd34.tmp", 0, False),
        "live writer": (f".traj.npz.{live_pid.pid}.ab12cd34.tmp", 0, True),
        "this process": (f".traj.npz.{os.getpid()}.ab12cd34.tmp", 0, True),
        "live writer, two days old": (f".traj.npz.{live_pid.pid}.ef56gh78.tmp", 2 * day, False),
        "another target": (f".other.npz.{dead_pid()}.ab12cd34.tmp", 0, True),
        "a name without a pid, fresh": (".traj.npz.ab12cd34.tmp", 0, True),
        "a name without a pid, two days old": (".traj.npz.ef56gh78.tmp", 2 * day, False),
        "not a temporary": (f".traj.npz.{dead_pid()}.ab12cd34.bak", 0, True),
    }
    now = time.time()
    for name, age, _ in names.values():
        (tmp_path / name).write_bytes(b"half a file")
        os.utime(tmp_path / name, (now - age, now - age))
    fb.simulate(**RUN).save(tmp_path / "traj.npz")
    kept = {case for case, (name, _, _) in names.items() if (tmp_path / name).exists()}
    assert kept == {case for case, (_, _, keep) in names.items() if keep}
    assert fb.Trajectory.load(tmp_path / "traj.npz").epochs[-1] == 30

    live_pid.kill()  # the writer died: its file is stale now
    live_pid.wait()
    fb.simulate(**RUN).save(tmp_path / "traj.npz")
    assert not (tmp_path / names["live writer"][0]).exists()


@pytest.mark.parametrize("writer", ["checkpoint", "dataset", "through a symlink"])
def test_every_writer_removes_the_stale_temporaries_of_its_path(tmp_path, writer):
    stale = tmp_path / f".out.npz.{dead_pid()}.ab12cd34.tmp"
    stale.write_bytes(b"half a file")
    if writer == "checkpoint":
        fb.simulate(**RUN, checkpoint=tmp_path / "out.npz")
    elif writer == "dataset":
        DS.save(tmp_path / "out")
    else:
        os.symlink("out.npz", tmp_path / "link.npz")
        fb.simulate(**RUN).save(tmp_path / "link.npz")
    assert not stale.exists() and (tmp_path / "out.npz").is_file()


# --------------------------------------------------------------------------------------------
# Record memory and checkpoint cost
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, record, epochs, message",
    [
        (
            DS,
            10**12,
            10**13,
            r"record=1000000000000 would keep up to 10,000,000,000,000 iterates of "
            r"64 bytes: 5\.96e\+05 GiB, more than the 2 GiB allowed for records; "
            r"ask for fewer records per decade",
        ),
        (
            MC,
            10**12,
            10**13,
            r"record=1000000000000 would keep up to 10,000,000,000,000 iterates of "
            r"192 bytes: 1\.79e\+06 GiB",
        ),
        (
            fb.datasets.gaussian(n=2, d=1000),
            list(range(300_000)),
            10**6,
            r"record=\[300000 epochs\] would keep up to 300,000 iterates of 8,000 bytes: "
            r"2\.24 GiB, more than the 2 GiB allowed",
        ),
    ],
    ids=["binary", "multiclass", "explicit-list"],
)
def test_too_many_records_are_refused_before_any_allocation(data, record, epochs, message, no_run):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            fb.simulate(data, fb.IncAdam(), epochs=epochs, record=record, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"


@pytest.mark.skipif(JIT_DISABLED, reason="2e5 epochs need the compiled kernels")
def test_slow_checkpoints_are_spaced_to_a_twentieth_of_the_run(tmp_path, monkeypatch):
    """A checkpoint that takes 1 s to write waits 20 s before the next (5% of the time); a
    fast one waits checkpoint_every. Timed with a clock that the writes advance, so that the
    outcome does not depend on the machine's speed."""
    from fastbias.simulate import _Saver

    now = [0.0]
    cost = [1.0]
    writes = []

    class State:
        def save(self, path, params, data):
            writes.append(now[0])
            now[0] += cost[0]

    saver = _Saver(tmp_path / "ck.npz", 0.1, {}, None, clock=lambda: now[0])
    state = State()
    saver.save(state)
    assert saver.wait() == pytest.approx(20.0)
    for t in (1.5, 5.0, 20.0):
        now[0] = t
        saver.maybe_save(state)
    assert writes == [0.0]  # 19 s after the end of the write: not yet
    now[0] = 21.0
    saver.maybe_save(state)
    assert writes == [0.0, 21.0]
    cost[0] = 0.01  # fast writes: every 0.1 s
    saver.save(state)
    assert saver.wait() == 0.1
    now[0] += 0.05
    saver.maybe_save(state)
    assert len(writes) == 3
    now[0] += 0.06
    saver.maybe_save(state)
    assert len(writes) == 4


def test_checkpoints_with_many_records_hold_them_all(tmp_path):
    """2e5 explicit records (88 MB of checkpoint) checkpointed every 0.1 s: every record is
    kept, and the spacing rule above keeps such writes to a small share of the run."""
    data = fb.datasets.gaussian(n=10, d=50)
    path = tmp_path / "ck.npz"
    tr = fb.simulate(
        data,
        fb.IncAdam(),
        epochs=200_000,
        record=list(range(1, 200_001)),
        progress=False,
        checkpoint=path,
        checkpoint_every=0.1,
    )
    assert fb.checkpoint_info(path)["records"] == 200_000
    assert len(tr.epochs) == 200_000


def test_a_dataset_whose_recipe_does_not_reproduce_its_arrays_is_refused(tmp_path):
    """A file that says gaussian(seed=3) but holds seed 2's arrays would later fail to resume."""
    good = fb.datasets.gaussian(n=5, d=7, seed=2)
    path = good.save(tmp_path / "data.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["source"] = np.array(json.dumps({"generator": "gaussian", "n": 5, "d": 7, "seed": 3}))
    del arrays["checksum"]  # a file without one (older): the check behind it is reached
    np.savez(tmp_path / "lying.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"dataset file '[^']*lying.npz': its recipe .* does "
        r"not reproduce its arrays",
    ):
        fb.Dataset.load(tmp_path / "lying.npz")
    assert fb.Dataset.load(path).label == "gaussian(n=5, d=7, seed=2)"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"w": np.full((3, 4), np.nan)}, "holds non-finite iterates"),
        ({"epochs": np.array([0, 5, 5])}, "its epochs must increase"),
        ({"epochs": np.array([-1, 5, 9])}, "its epochs must increase from 0 or more"),
    ],
)
def test_a_trajectory_with_impossible_values_is_refused(tmp_path, change, message):
    tr = fb.Trajectory([0, 5, 9], np.ones((3, 4)), np.zeros(3), np.zeros(3), {})
    path = tr.save(tmp_path / "t.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays.update(change)
    del arrays["checksum"]  # a file without one (older): the checks behind it are reached
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=rf"trajectory file '[^']*bad.npz' .*{message}"):
        fb.Trajectory.load(tmp_path / "bad.npz")
