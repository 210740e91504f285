"""EfficientNet-Lite0 up to block 15, the twin of `Sources/Capture/Backbone.swift` and
`Sources/Capture/BackboneLayers.swift` (docs/model.md §3.2, "Backbone").

    load_backbone(weights_dir, device) -> torch.nn.Module   # [N, 3, 224, 224] -> [N, 320, 7, 7]
    backbone_sha256(weights_dir) -> str                      # the backbone's identity (§8.3)

The network, as Vitrine runs it:

- stem: 3 x 3 stride-2 convolution, 3 -> 32 channels, batch norm, ReLU6;
- 16 MBConv blocks without squeeze-and-excitation (`BLOCKS`, EfficientNet-B0's stages
  `r1_k3_s11_e1_i32_o16`, `r2_k3_s22_e6_i16_o24`, `r2_k5_s22_e6_i24_o40`, `r3_k3_s22_e6_i40_o80`,
  `r3_k5_s11_e6_i80_o112`, `r4_k5_s22_e6_i112_o192`, `r1_k3_s11_e6_i192_o320`; a repeated
  block has stride 1 and input = output channels): an optional 1 x 1 expansion + BN + ReLU6
  (not in block 0, whose expand ratio is 1), a k x k depthwise convolution + BN + ReLU6, a 1 x 1
  projection + BN (no activation), plus the input when stride is 1 and the channels agree;
- the classifier head (`_conv_head`, `_bn1`, `_fc`) is not part of the twin: the features are
  the block-15 output, 320 x 7 x 7 for a 224 x 224 input.

Every batch norm (epsilon 1e-3) is folded into its convolution when the weights are loaded,
in float64 and rounded once to float32, exactly as `BatchNorm.fold` does:
`s = gamma / sqrt(var + eps)`, `w' = w * s`, `b' = beta - mean * s`. Every convolution pads
TensorFlow's "SAME" way (`SamePadding`): `out = ceil(in / stride)`,
`total = max((out - 1) * stride + k - in, 0)`, `total // 2` before and the rest after, so a
strided 3 x 3 convolution over 224 pixels pads 0 rows before and 1 after.

The weights are `efficientnet-lite0/efficientnet-lite0.safetensors` of Vitrine's weights folder
(docs/model.md §2; made by `tools/convert_efficientnet.py`), read with the small safetensors
reader below (no `safetensors` package). Tensor names are the reference implementation's:
`_conv_stem.weight`, `_bn0.{weight,bias,running_mean,running_var}`,
`_blocks.<i>._expand_conv.weight`, `_blocks.<i>._bn0.*`, `_blocks.<i>._depthwise_conv.weight`,
`_blocks.<i>._bn1.*`, `_blocks.<i>._project_conv.weight`, `_blocks.<i>._bn2.*`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BackboneError",
    "MBConvSpec",
    "BLOCKS",
    "WEIGHTS_FILE",
    "FEATURE_CHANNELS",
    "FEATURE_SIDE",
    "BATCH_NORM_EPSILON",
    "default_weights_dir",
    "weights_path",
    "backbone_sha256",
    "read_safetensors",
    "EfficientNetLite0Trunk",
    "load_backbone",
]

#: The weights file inside the weights folder (`WeightsFolder.path(of: .efficientNetLite0)`).
WEIGHTS_FILE = os.path.join("efficientnet-lite0", "efficientnet-lite0.safetensors")
#: The network's name in identities, checkpoint metadata and the feature cache's folder name.
NAME = "efficientnet-lite0"
FEATURE_CHANNELS = 320
FEATURE_SIDE = 7
BATCH_NORM_EPSILON = 1e-3
#: Vitrine's advice when the weights are missing or broken (`WeightsError.fetchCommand`).
FETCH_ADVICE = "fetch and convert the weights with: make weights   (or: scripts/fetch-weights.sh)"


class BackboneError(RuntimeError):
    """The weights are missing, unreadable, or lack a tensor / have one of the wrong shape."""


@dataclass(frozen=True)
class MBConvSpec:
    """One MBConv block's shape (`MBConvSpec` in Backbone.swift)."""

    input_channels: int
    output_channels: int
    expand_ratio: int
    kernel: int
    stride: int

    @property
    def expanded_channels(self) -> int:
        return self.input_channels * self.expand_ratio

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.input_channels == self.output_channels


def _blocks() -> tuple[MBConvSpec, ...]:
    stages = [  # (repeats, kernel, stride, expand, input, output)
        (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ]
    specs = []
    for repeats, kernel, stride, expand, inp, out in stages:
        for r in range(repeats):
            specs.append(MBConvSpec(inp if r == 0 else out, out, expand, kernel, stride if r == 0 else 1))
    return tuple(specs)


#: The 16 MBConv blocks (`EfficientNetLite0.blocks`).
BLOCKS = _blocks()


# MARK: - Weights folder and identity


def default_weights_dir() -> str:
    """`$VITRINE_WEIGHTS` when set (and then only there), else this repository's `Weights/`
    (scaleout/../Weights), the folder a Vitrine built from this checkout uses (docs/model.md §2)."""
    configured = os.environ.get("VITRINE_WEIGHTS")
    if configured:
        return configured
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "Weights"))


def weights_path(weights_dir: str | None = None) -> str:
    """The safetensors file of `weights_dir` (a weights folder; a path to the `.safetensors`
    file itself is accepted too); `default_weights_dir()` when None."""
    folder = os.fspath(weights_dir) if weights_dir is not None else default_weights_dir()
    if folder.endswith(".safetensors") and not os.path.isdir(folder):
        return folder
    return os.path.join(folder, WEIGHTS_FILE)


def backbone_sha256(weights_dir: str | None = None) -> str:
    """Lower-case hex SHA-256 of `efficientnet-lite0.safetensors`: the backbone's identity in
    checkpoint metadata (docs/model.md §8.3) and the feature cache's key (docs/data.md §6.1)."""
    path = weights_path(weights_dir)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise BackboneError(f"EfficientNet-Lite0 weights not found at {path}; {FETCH_ADVICE}") from None
    except OSError as error:
        raise BackboneError(f"{path}: cannot read the EfficientNet-Lite0 weights ({error.strerror}); "
                            f"{FETCH_ADVICE}") from None
    return digest.hexdigest()


# MARK: - A small safetensors reader

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8"),
           "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"),
           "BOOL": np.dtype("?")}
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors (name -> numpy array, a copy) and the `__metadata__` of a safetensors file:
    an 8-byte little-endian header length, a JSON header
    `{name: {"dtype", "shape", "data_offsets": [begin, end]}}` and the data (docs/model.md §8.1).
    Every entry is checked (known dtype, offsets inside the data, size = shape x dtype) before
    it is read; a broken file is a `BackboneError` naming the file."""
    return _parse_safetensors(_read_weights(path), path)


def _read_weights(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise BackboneError(f"EfficientNet-Lite0 weights not found at {path}; {FETCH_ADVICE}") from None
    except OSError as error:
        raise BackboneError(f"{path}: cannot read the weights ({error.strerror}); {FETCH_ADVICE}") from None


def _parse_safetensors(contents: bytes, path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """`read_safetensors` on bytes already read."""

    def broken(why: str) -> BackboneError:
        return BackboneError(f"{path}: not a valid safetensors file ({why}); {FETCH_ADVICE}")

    if len(contents) < 8:
        raise broken(f"{len(contents)} bytes, shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", contents[:8])
    if header_length > _MAX_HEADER_BYTES or 8 + header_length > len(contents):
        raise broken(f"header length {header_length} does not fit in the {len(contents)}-byte file")
    try:
        header = json.loads(contents[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise broken(f"header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise broken("header is not a JSON object")
    data = memoryview(contents)[8 + header_length:]
    metadata = header.pop("__metadata__", None) or {}
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if not isinstance(entry, dict):
            raise broken(f"entry {name!r} is not an object")
        dtype = _DTYPES.get(entry.get("dtype"))
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if dtype is None:
            raise broken(f"tensor {name!r} has the unknown dtype {entry.get('dtype')!r}")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)):
            raise broken(f"tensor {name!r} has a malformed shape or data_offsets")
        begin, end = offsets
        count = math.prod(shape)
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise broken(f"tensor {name!r}: offsets {begin}..{end} do not hold {shape} {entry['dtype']} "
                         f"inside {len(data)} data bytes")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
    return tensors, metadata


# MARK: - The network


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one axis, (before, after) (`SamePadding`)."""
    output = (size + stride - 1) // stride
    total = max((output - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SameConv(nn.Module):
    """A convolution (batch norm folded in: it has a bias) with "SAME" padding and an optional
    ReLU6. `groups == channels` makes it depthwise."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: int, groups: int, relu6: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.from_numpy(weight).contiguous(memory_format=torch.channels_last),
                                   requires_grad=False)
        self.bias = nn.Parameter(torch.from_numpy(bias), requires_grad=False)
        self.stride = stride
        self.groups = groups
        self.kernel = weight.shape[-1]
        self.relu6 = relu6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = (0, 0)
        if self.kernel > 1 or self.stride > 1:
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride)
            if top == bottom and left == right:
                padding = (top, left)  # symmetric: the convolution pads (no copy)
            else:
                x = F.pad(x, (left, right, top, bottom))  # one more row/column after (SAME)
        x = F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=padding, groups=self.groups)
        return F.relu6(x, inplace=True) if self.relu6 else x


class _MBConv(nn.Module):
    """Expansion (absent when the ratio is 1), depthwise, projection, identity shortcut."""

    def __init__(self, spec: MBConvSpec, expand: _SameConv | None, depthwise: _SameConv, project: _SameConv):
        super().__init__()
        self.spec = spec
        self.expand = expand
        self.depthwise = depthwise
        self.project = project

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return y.add_(x) if self.spec.has_residual else y


class EfficientNetLite0Trunk(nn.Module):
    """EfficientNet-Lite0's stem and 16 MBConv blocks with folded batch norm: [N, 3, H, W]
    normalised images -> [N, 320, H/32, W/32] (block-15 output; [N, 320, 7, 7] at 224).

    Frozen: every parameter has `requires_grad=False`, `forward` runs without autograd, and
    `train()` keeps it in eval mode (there is no dropout or batch statistics to switch anyway).
    `sha256` and `weights_path` say which weights it holds (docs/model.md §8.3)."""

    def __init__(self, tensors: dict[str, np.ndarray], sha256: str, path: str):
        super().__init__()
        self.sha256 = sha256
        self.weights_path = path
        self.name = NAME

        def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
            if name not in tensors:
                raise BackboneError(f"EfficientNet-Lite0 weights: {path} has no tensor {name}; {FETCH_ADVICE}")
            value = tensors[name]
            if value.dtype != np.float32 or tuple(value.shape) != shape:
                raise BackboneError(f"EfficientNet-Lite0 weights: {path}: tensor {name} is {value.dtype} "
                                    f"{list(value.shape)}, expected float32 {list(shape)}; {FETCH_ADVICE}")
            if not np.all(np.isfinite(value)):
                raise BackboneError(f"EfficientNet-Lite0 weights: {path}: tensor {name} holds NaN or infinity; "
                                    f"{FETCH_ADVICE}")
            return value

        def folded(conv: str, bn: str, shape: tuple[int, ...], stride: int, groups: int, relu6: bool) -> _SameConv:
            weight = tensor(conv, shape).astype(np.float64)
            channels = shape[0]
            gamma, beta, mean, variance = (tensor(f"{bn}.{field}", (channels,)).astype(np.float64)
                                           for field in ("weight", "bias", "running_mean", "running_var"))
            # BatchNorm.fold: in float64 (epsilon is float32 1e-3 widened), rounded once to float32.
            scale = gamma / np.sqrt(variance + float(np.float32(BATCH_NORM_EPSILON)))
            w = (weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(np.float32)
            b = (beta + (0.0 - mean) * scale).astype(np.float32)
            return _SameConv(w, b, stride, groups, relu6)

        self.stem = folded("_conv_stem.weight", "_bn0", (32, 3, 3, 3), stride=2, groups=1, relu6=True)
        blocks = []
        for index, spec in enumerate(BLOCKS):
            prefix = f"_blocks.{index}."
            hidden = spec.expanded_channels
            expand = None
            if spec.expand_ratio != 1:
                expand = folded(prefix + "_expand_conv.weight", prefix + "_bn0", (hidden, spec.input_channels, 1, 1),
                                stride=1, groups=1, relu6=True)
            depthwise = folded(prefix + "_depthwise_conv.weight", prefix + "_bn1", (hidden, 1, spec.kernel, spec.kernel),
                               stride=spec.stride, groups=hidden, relu6=True)
            project = folded(prefix + "_project_conv.weight", prefix + "_bn2", (spec.output_channels, hidden, 1, 1),
                             stride=1, groups=1, relu6=False)
            blocks.append(_MBConv(spec, expand, depthwise, project))
        self.blocks = nn.ModuleList(blocks)
        self.eval()

    def train(self, mode: bool = True) -> "EfficientNetLite0Trunk":
        """Always eval: the backbone is frozen (docs/model.md §3.2)."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, 320, H/32, W/32], float32, without autograd. Always computed in
        full float32: autocast is switched off here, and on CUDA so is cuDNN's TF32 (PyTorch's
        default for convolutions, about 1e-3 relative error), which the 1e-4 agreement with
        Vitrine would not survive."""
        with torch.no_grad(), torch.autocast(device_type=images.device.type, enabled=False), \
                _ieee_convolutions(images.device):
            # Channels-last (NHWC) is what the CPU (oneDNN) and GPU (cuDNN) depthwise kernels
            # are fast in: about 2-3x faster than NCHW on CPU. The result is returned NCHW.
            x = self.stem(images.float().contiguous(memory_format=torch.channels_last))
            for block in self.blocks:
                x = block(x)
            return x.contiguous()


class _ieee_convolutions:
    """Within the block, cuDNN convolutions run in IEEE float32 rather than TF32 (CUDA only;
    the previous setting is restored). Uses `torch.backends.cudnn.conv.fp32_precision` where
    this torch has it, else the older `torch.backends.cudnn.allow_tf32`."""

    def __init__(self, device: torch.device):
        self.active = device.type == "cuda"
        self.saved = None

    def __enter__(self):
        if not self.active:
            return self
        conv = getattr(torch.backends.cudnn, "conv", None)
        if conv is not None and hasattr(conv, "fp32_precision"):
            self.saved = ("precision", conv.fp32_precision)
            conv.fp32_precision = "ieee"
        else:
            self.saved = ("allow_tf32", torch.backends.cudnn.allow_tf32)
            torch.backends.cudnn.allow_tf32 = False
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            kind, value = self.saved
            if kind == "precision":
                torch.backends.cudnn.conv.fp32_precision = value
            else:
                torch.backends.cudnn.allow_tf32 = value
        return False


def load_backbone(weights_dir: str | None, device: torch.device | str = "cpu") -> EfficientNetLite0Trunk:
    """EfficientNet-Lite0 up to block 15 with Vitrine's weights (`weights_dir` is the weights
    folder holding `efficientnet-lite0/efficientnet-lite0.safetensors`, or the file itself;
    None = `default_weights_dir()`), batch norm folded, in eval mode, frozen, on `device`.

    Maps [N, 3, 224, 224] inputs (`images.load_image`) to [N, 320, 7, 7]. Raises
    `BackboneError` (with Vitrine's fetch advice) when the file is missing or broken."""
    path = weights_path(weights_dir)
    contents = _read_weights(path)  # read once: parsed and hashed
    tensors, _ = _parse_safetensors(contents, path)
    sha256 = hashlib.sha256(contents).hexdigest()
    network = EfficientNetLite0Trunk(tensors, sha256, path)
    return network.to(device)
