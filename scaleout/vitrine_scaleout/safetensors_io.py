"""The safetensors container (docs/model.md §8.1), read and written without the `safetensors`
package, and Vitrine's atomic, durable file writes.

Writing follows Vitrine byte for byte (Sources/Capture/Safetensors.swift): the `__metadata__`
entry first with its keys sorted, then the tensors sorted by name, each
`{"dtype":"F32","shape":[..],"data_offsets":[b,e]}`, strings quoted by SafeText's rule, the header
padded with spaces to a multiple of 8 bytes, the data back to back. Reading accepts F32, F16 and
BF16 and checks the structure (header length, JSON, dtypes, shapes against byte counts, offsets
inside the file, no gaps or overlaps).
"""

from __future__ import annotations

import json
import mmap
import os
import stat
import struct
import tempfile
from typing import Iterable

import numpy as np

from .safetext import json_quoted, quoted

MAX_HEADER_BYTES = 100_000_000
_DTYPES = {"F32": (np.dtype("<f4"), 4), "F16": (np.dtype("<f2"), 2), "BF16": (np.dtype("<u2"), 2)}


class SafetensorsError(Exception):
    pass


class SafetensorsFile:
    """An open safetensors file: `names`, `metadata`, `shape(name)`, `tensor(name)` (float32 numpy
    copy). The data is memory-mapped, so a large table costs only the rows read."""

    def __init__(self, path: str):
        self.path = path
        try:
            st = os.stat(path)
        except OSError as error:
            raise SafetensorsError(f"cannot open {path}: {error.strerror}; check the path") from None
        if not stat.S_ISREG(st.st_mode):
            raise SafetensorsError(f"{path} is not a regular file (a FIFO, device or folder); pass a .safetensors file")
        size = st.st_size
        if size < 8:
            raise SafetensorsError(f"{path}: {size} bytes, too short for a safetensors file (truncated?)")
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > MAX_HEADER_BYTES or 8 + n > size:
                raise SafetensorsError(f"{path}: header length {n} is beyond the file ({size} bytes) or the "
                                       f"{MAX_HEADER_BYTES}-byte limit; the file is damaged or not safetensors")
            raw = f.read(n)
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size > 8 + n else None
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SafetensorsError(f"{path}: the header is not valid JSON ({error})") from None
        if not isinstance(header, dict):
            raise SafetensorsError(f"{path}: the header is not a JSON object")
        meta = header.pop("__metadata__", {}) or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise SafetensorsError(f"{path}: __metadata__ must map names to strings")
        self.metadata: dict[str, str] = dict(meta)
        self._base = 8 + n
        data_size = size - self._base
        self._entries: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
        spans = []
        for name, entry in header.items():
            try:
                dtype, shape, (begin, end) = entry["dtype"], tuple(int(s) for s in entry["shape"]), entry["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise SafetensorsError(f"{path}: tensor {quoted(name)} has a malformed entry") from None
            if dtype not in _DTYPES:
                raise SafetensorsError(f"{path}: tensor {quoted(name)} has dtype {quoted(str(dtype))}; F32, F16 and BF16 are read")
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if any(s < 0 for s in shape) or end - begin != count * _DTYPES[dtype][1] or begin < 0 or end > data_size:
                raise SafetensorsError(f"{path}: tensor {quoted(name)}: shape {list(shape)} and offsets "
                                       f"[{begin}, {end}] do not agree or run past the data ({data_size} bytes)")
            self._entries[name] = (dtype, shape, begin, end)
            spans.append((begin, end, name))
        spans.sort()
        position = 0
        for begin, end, name in spans:
            if begin != position:
                raise SafetensorsError(f"{path}: tensor {quoted(name)} starts at {begin}, not {position} (a gap or an overlap)")
            position = end
        if position != data_size:
            raise SafetensorsError(f"{path}: the tensors cover {position} of {data_size} data bytes")

    @property
    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def shape(self, name: str) -> tuple[int, ...]:
        return self._entries[name][1]

    def dtype(self, name: str) -> str:
        return self._entries[name][0]

    def tensor(self, name: str, shape: Iterable[int] | None = None) -> np.ndarray:
        if name not in self._entries:
            raise SafetensorsError(f"{self.path}: has no tensor {quoted(name, 200)}")
        dtype, stored, begin, end = self._entries[name]
        if shape is not None and tuple(shape) != stored:
            raise SafetensorsError(f"{self.path}: tensor {quoted(name, 200)} has shape {list(stored)}, expected {list(shape)}")
        np_dtype, _ = _DTYPES[dtype]
        count = int(np.prod(stored, dtype=np.int64)) if stored else 1
        if count == 0:
            return np.zeros(stored, dtype=np.float32)
        raw = np.frombuffer(self._map, dtype=np_dtype, count=count, offset=self._base + begin)
        if dtype == "F32":
            values = raw.astype(np.float32)
        elif dtype == "F16":
            values = raw.astype(np.float32)
        else:
            values = (raw.astype(np.uint32) << 16).view(np.float32)
        return values.reshape(stored)

    def rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Selected rows of a 2-D tensor, reading only those pages."""
        t = self._entries[name]
        if t[0] != "F32":
            return self.tensor(name)[rows]
        width = t[1][1]
        view = np.frombuffer(self._map, dtype="<f4", count=t[1][0] * width, offset=self._base + t[2]).reshape(t[1])
        return np.asarray(view[rows], dtype=np.float32)


def read(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    f = SafetensorsFile(path)
    return {name: f.tensor(name) for name in f.names}, f.metadata


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> tuple[bytes, list]:
    """The header bytes and the tensor payload order for `tensors` (all written as F32)."""
    metadata = metadata or {}
    parts = ['{"__metadata__":{']
    parts.append(",".join(json_quoted(k) + ":" + json_quoted(metadata[k]) for k in sorted(metadata)))
    parts.append("}")
    position = 0
    order = []
    for name in sorted(tensors):
        if not name or name == "__metadata__":
            raise SafetensorsError(f"invalid tensor name {quoted(name)}")
        array = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        if not np.all(np.isfinite(array)):
            raise SafetensorsError(f"tensor {quoted(name, 200)} holds a value that is not finite (NaN or infinity); "
                                   "the run diverged: lower the learning rate")
        size = array.size * 4
        parts.append("," + json_quoted(name) + ':{"dtype":"F32","shape":[' + ",".join(str(s) for s in array.shape)
                     + '],"data_offsets":[%d,%d]}' % (position, position + size))
        position += size
        order.append(array)
    parts.append("}")
    header = "".join(parts).encode("utf-8")
    header += b" " * ((8 - len(header) % 8) % 8)
    return header, order


def write(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Writes an F32 safetensors file atomically and durably (temporary file, fsync, rename, fsync
    of the folder), with Vitrine's exact bytes for the same tensors and metadata."""
    header, order = encode(tensors, metadata)

    def body(f):
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for array in order:
            f.write(array.tobytes())

    write_atomically(path, body)


def fsync_folder(folder: str) -> None:
    fd = os.open(folder or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str, body) -> None:
    """Calls `body(file)` on a temporary file beside `path` (`.NAME.tmp-XXXX`, which a run folder's
    cleanup removes if the writer is killed), fsyncs it, renames it over `path`, fsyncs the folder."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)   # mkstemp makes 0600; a written file gets the usual mode
        with os.fdopen(fd, "wb") as f:
            body(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_folder(folder)


def write_bytes_atomically(path: str, data: bytes) -> None:
    write_atomically(path, lambda f: f.write(data))


def link_atomically(target: str, link_path: str) -> None:
    """Makes `link_path` a hard link to `target`, atomically (a reader sees the old or the new file)."""
    folder = os.path.dirname(os.path.abspath(link_path))
    temp = os.path.join(folder, "." + os.path.basename(link_path) + ".tmp-link-%d" % os.getpid())
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    os.link(target, temp)
    os.replace(temp, link_path)
    fsync_folder(folder)
