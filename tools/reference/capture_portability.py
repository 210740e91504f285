#!/usr/bin/env python3
"""Golden values for Vitrine's checkpoint portability test (Tests/CaptureTests/CheckpointPortabilityTests.swift).

docs/model.md §8.5: a checkpoint loads in PyTorch with `safetensors` and gives the same
embeddings (to float32 rounding) from a straightforward PyTorch implementation of that page.
torch is not available where Vitrine's tests run, so this script computes PyTorch's side once:
it loads a checkpoint written by the Swift test with `capture_torch.load_checkpoint` (eval mode,
no dropout), runs `CaptureTorch.embed` on fixed inputs (defined here by formulas, no random
generator, and written into the output so the Swift test uses exactly the same ones) and prints
one JSON object with the inputs, z_t, z_v, e and the checkpoint's SHA-256.

Regenerate (from the repository's root; any venv with torch, numpy and safetensors, e.g. the one
bench/model/run.sh makes):

    VITRINE_PORTABILITY_CHECKPOINT=/tmp/vitrine-portability.safetensors \\
        swift test -c release --filter CheckpointPortabilityTests    # writes the checkpoint
    /tmp/vitrine-torch-venv/bin/python tools/reference/capture_portability.py \\
        /tmp/vitrine-portability.safetensors > Tests/CaptureTests/Fixtures/capture_portability.json

(The test fails until the fixture matches the checkpoint; it writes the copy before checking.)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture_torch import load_checkpoint  # noqa: E402

COMMAND = ("VITRINE_PORTABILITY_CHECKPOINT=/tmp/vitrine-portability.safetensors swift test -c release "
           "--filter CheckpointPortabilityTests; /tmp/vitrine-torch-venv/bin/python "
           "tools/reference/capture_portability.py /tmp/vitrine-portability.safetensors "
           "> Tests/CaptureTests/Fixtures/capture_portability.json")


def inputs(config) -> tuple[list[list[int]], list[list[int]], np.ndarray]:
    """Three captions (two padded) and three block-15-like maps, by formulas."""
    length = 8
    captions = [[1, 7, 23, 45, 12, 2], [1, 30, 59, 4, 18, 33, 9, 2], [1, 5, 2]]
    assert all(max(c) < config.vocab_size for c in captions)
    ids = [c + [0] * (length - len(c)) for c in captions]
    mask = [[1] * len(c) + [0] * (length - len(c)) for c in captions]
    side = config.grid_side
    channels = config.region_feature_dim
    features = np.zeros((len(captions), channels, side, side), dtype=np.float32)
    for b in range(len(captions)):
        for c in range(channels):
            for k in range(side * side):
                features[b, c, k // side, k % side] = abs(math.sin(1.3 * b + 0.7 * c + 0.31 * k)) * 2
    return ids, mask, features


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    model = load_checkpoint(path).eval()
    ids, mask, features = inputs(model.config)
    with torch.no_grad():
        z_t, z_v, e = model.embed(torch.tensor(ids), torch.tensor(mask), torch.from_numpy(features))
    out = {
        "how": ("PyTorch side of CheckpointPortabilityTests, computed once with torch " + torch.__version__
                + " (CPU, float32, eval mode) by tools/reference/capture_portability.py from the checkpoint "
                "the test writes (capture_torch.load_checkpoint, then CaptureTorch.embed on the inputs below). "
                "Commands: " + COMMAND),
        "checkpoint_sha256": sha,
        "ids": ids,
        "mask": mask,
        "features": [[float(x) for x in row.reshape(-1)] for row in features],
        "z_t": z_t.tolist(),
        "z_v": z_v.tolist(),
        "e": e.tolist(),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
