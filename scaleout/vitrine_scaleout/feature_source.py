"""Where a sample's backbone features come from (`--features cache|compute`).

* `cache`: Vitrine's feature cache (docs/data.md §6.1), read through `features.FeatureCache`
  (the twin's cache reader; a minimal reader of the same format stands in when that module is
  absent). A missing entry stops the run with the image's path and the command that fills the cache.
* `compute`: EfficientNet-Lite0 on the training device (`backbone.load_backbone`), on
  `images.load_image` inputs, identical to Vitrine's backbone within 1e-4.

Both give cells `[49, 320]` (row-major, channels last) as float32 numpy arrays.
"""

from __future__ import annotations

import hashlib
import os
import struct

import numpy as np
import torch

from .safetext import terminal


class FeatureError(Exception):
    pass


def cache_root(explicit: str | None = None) -> str:
    """The cache folder: `--cache`, else $VITRINE_CACHE, else $XDG_CACHE_HOME/vitrine, else ~/.cache/vitrine."""
    if explicit:
        return explicit
    if os.environ.get("VITRINE_CACHE"):
        return os.environ["VITRINE_CACHE"]
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "vitrine")
    return os.path.join(os.path.expanduser("~"), ".cache", "vitrine")


class _MinimalFeatureCache:
    """Reads entries `<root>/features/efficientnet-lite0-<16 hex>/<2 hex>/<image sha>.feat`."""

    HEADER = 96

    def __init__(self, root: str, backbone_sha256: str):
        self.folder = os.path.join(root, "features", "efficientnet-lite0-" + backbone_sha256[:16])
        self.backbone = bytes.fromhex(backbone_sha256)

    def get(self, image_path: str):
        with open(image_path, "rb") as f:
            digest = hashlib.sha256(f.read()).digest()
        hexd = digest.hex()
        path = os.path.join(self.folder, hexd[:2], hexd + ".feat")
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        if len(raw) < self.HEADER or raw[:4] != b"VTFC":
            return None
        version, kind, c, h, w = struct.unpack("<5I", raw[4:24])
        if version != 1 or (c, h, w) != (320, 7, 7) or raw[24:56] != self.backbone or raw[56:88] != digest:
            return None
        (checksum,) = struct.unpack("<Q", raw[88:96])
        payload = raw[96:]
        if len(payload) != c * h * w * (4 if kind == 1 else 2):
            return None
        hv = 0xCBF29CE484222325
        for b in payload:  # FNV-1a 64 of the payload
            hv = ((hv ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        if hv != checksum:
            return None
        values = np.frombuffer(payload, dtype="<f4" if kind == 1 else "<f2").astype(np.float32)
        return values.reshape(c, h, w)


def _open_cache(root: str, backbone_sha256: str):
    try:
        from . import features  # the twin's feature-cache module
    except ImportError:
        return _MinimalFeatureCache(root, backbone_sha256)
    return features.FeatureCache(root, backbone_sha256=backbone_sha256)


class FeatureSource:
    """`cells(paths) -> np.ndarray [N, 49, 320]`."""

    def __init__(self, mode: str, weights: str, backbone_sha256: str, device: torch.device,
                 cache: str | None = None, dataset: str | None = None):
        self.dataset = dataset or "DATASET"
        if mode not in ("cache", "compute"):
            raise FeatureError(f"--features must be cache or compute (got {mode!r})")
        self.mode, self.device = mode, device
        self.root = cache_root(cache)
        self._memo: dict = {}
        if mode == "cache":
            self.cache = _open_cache(self.root, backbone_sha256)
            self.network = None
        else:
            from .backbone import load_backbone
            self.cache = None
            self.network = load_backbone(weights, device)

    def cells(self, paths: list) -> np.ndarray:
        out = [None] * len(paths)
        todo = []
        for i, p in enumerate(paths):
            if p in self._memo:
                out[i] = self._memo[p]
            else:
                todo.append(i)
        if self.mode == "cache":
            many = getattr(self.cache, "get_many", None)
            found = many([paths[i] for i in todo]) if many else [self.cache.get(paths[i]) for i in todo]
            for i, m in zip(todo, found):
                if m is None:
                    raise FeatureError(
                        f"no cached backbone features for {terminal(paths[i])} in {terminal(self.root)}; fill the cache "
                        f"with `VITRINE_CACHE={terminal(self.root)} vitrine features --data {terminal(self.dataset)}` "
                        "(or --split NAME for one split), or train with --features compute")
                out[i] = np.ascontiguousarray(np.asarray(m, dtype=np.float32).reshape(320, -1).T)
        elif todo:
            from .images import load_image
            for start in range(0, len(todo), 32):
                part = todo[start:start + 32]
                batch = torch.stack([load_image(paths[i]) for i in part]).to(self.device)
                with torch.no_grad():
                    maps = self.network(batch).float().cpu().numpy()
                for k, i in enumerate(part):
                    out[i] = np.ascontiguousarray(maps[k].reshape(maps.shape[1], -1).T)
        if len(self._memo) < 4096:  # at most ~250 MB of float32 cells
            for i in todo:
                self._memo[paths[i]] = out[i]
        return np.stack(out) if out else np.zeros((0, 49, 320), np.float32)
