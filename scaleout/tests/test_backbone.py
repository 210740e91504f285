"""The twin's image framing and EfficientNet-Lite0 against Vitrine's (docs/model.md §3.2).

Vitrine (`VITRINE_BIN`, default the checkout's .build/release/vitrine) fills a temporary
feature cache (`vitrine features --precision float32`) for a small folder-format dataset
(docs/data.md §3): SampleData JPEGs, JPEGs re-encoded by Pillow (grey, progressive, EXIF
orientations 2 to 8, CMYK with and without Adobe's APP14 marker) and PNGs (RGB, wide, a small RGBA
one that is upscaled, palette, palette with alpha, grey+alpha, grey with a tRNS key, RGB with a
tRNS key, 1-bit, 16-bit grey, 224 x 224 used as is).
For every image the dataset also holds the twin's own 224 x 224 framing of it as a PNG
(`lb_*.png`), which Vitrine uses as is. That separates the stages:

- pixels: Vitrine's features of the original == Vitrine's features of the twin's framing,
  bit for bit, so the twin decoded and letterboxed to the same bytes;
- backbone alone: the twin's backbone on the framing PNG (an exact decode) vs Vitrine's;
- whole pipeline: `load_image` + the twin's backbone on the original vs Vitrine's.

The measured differences are printed to stderr. Run:
    PYTHONPATH=scaleout .setup/scaleout-venv/bin/python -m unittest discover -s scaleout/tests \
        -t scaleout -p 'test_backbone.py'
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import numpy as np
import torch
from PIL import Image

from vitrine_scaleout import backbone, images
from vitrine_scaleout.features import FeatureCache

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEIGHTS = os.environ.get("VITRINE_WEIGHTS") or os.path.join(REPO, "Weights")
SAMPLE_IMAGES = os.path.join(REPO, "SampleData", "images")
TOLERANCE = 1e-4


def vitrine_binary() -> str | None:
    """`$VITRINE_BIN`, else the checkout's .build/release/vitrine; None when none runs."""
    for candidate in (os.environ.get("VITRINE_BIN"), os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "release", "vitrine")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_vitrine_features(binary: str, data: str, cache: str, precision: str = "float32") -> dict:
    """`vitrine features` on `data` into the cache folder `cache`; its JSON report."""
    env = dict(os.environ, VITRINE_CACHE=cache, VITRINE_WEIGHTS=WEIGHTS)
    done = subprocess.run([binary, "features", "--data", data, "--precision", precision, "--json", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"vitrine features failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def write_captions(folder: str, names: list[str]) -> None:
    """A folder-format captions.tsv (docs/data.md §3), every item in the gallery split."""
    with open(os.path.join(folder, "captions.tsv"), "w") as file:
        for i, name in enumerate(names):
            file.write(f"i{i}\timages/{name}\tcaption {i}\tlabel{i}\tgallery\n")


def sample_jpegs() -> list[str]:
    return sorted(glob.glob(os.path.join(SAMPLE_IMAGES, "*.jpg")))


def make_test_images(folder: str) -> list[str]:
    """Writes the test images into `folder`; returns their names."""
    sources = sample_jpegs()
    rng = np.random.default_rng(15)
    names = []
    for i, index in enumerate((0, 700, 1400)):  # SampleData's own JPEGs, as they are
        shutil.copy(sources[index], os.path.join(folder, f"sample{i}.jpg"))
        names.append(f"sample{i}.jpg")
    Image.open(sources[200]).convert("L").save(os.path.join(folder, "grey.jpg"), quality=90)
    Image.open(sources[300]).save(os.path.join(folder, "progressive.jpg"), quality=85, progressive=True)
    crop = Image.open(sources[400]).crop((0, 0, 200, 97))
    for orientation in range(2, 9):  # every EXIF orientation but the identity
        exif = Image.Exif()
        exif[0x0112] = orientation
        crop.save(os.path.join(folder, f"orientation{orientation}.jpg"), quality=92, exif=exif.tobytes())
        names.append(f"orientation{orientation}.jpg")
    Image.open(sources[450]).convert("CMYK").save(os.path.join(folder, "cmyk.jpg"), quality=90)  # Adobe, inverted
    with open(os.path.join(folder, "cmyk.jpg"), "rb") as file:  # the same without its Adobe APP14 segment
        data = file.read()
    app14 = data.index(b"\xff\xee")
    length = int.from_bytes(data[app14 + 2:app14 + 4], "big")
    with open(os.path.join(folder, "cmyk-plain.jpg"), "wb") as file:
        file.write(data[:app14] + data[app14 + 2 + length:])
    # A large photo: a wide downscaling filter (scale 5.7, about 12 taps a pixel), 4:2:0 chroma.
    Image.open(sources[350]).resize((1280, 905)).save(os.path.join(folder, "large.jpg"), quality=88)
    names += ["grey.jpg", "progressive.jpg", "cmyk.jpg", "cmyk-plain.jpg", "large.jpg"]
    Image.open(sources[500]).convert("RGB").save(os.path.join(folder, "photo.png"))
    Image.fromarray((rng.random((150, 400, 3)) * 255).astype(np.uint8)).save(os.path.join(folder, "wide.png"))
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, np.arange(60) * 4, 30
    rgba[..., 3] = np.linspace(0, 255, 40).astype(np.uint8)[:, None]
    Image.fromarray(rgba, "RGBA").save(os.path.join(folder, "small-alpha.png"))
    Image.open(sources[600]).convert("P", palette=Image.ADAPTIVE).save(os.path.join(folder, "palette.png"))
    Image.open(sources[800]).convert("RGB").resize((224, 224)).save(os.path.join(folder, "square224.png"))
    grey16 = (rng.random((90, 70)) * 65535).astype(np.uint16)
    Image.fromarray(grey16).save(os.path.join(folder, "grey16.png"))
    keyed = np.asarray(Image.open(sources[900]).convert("RGB")).copy()
    keyed[:40, :40] = (10, 20, 30)  # the tRNS key colour: transparent, so white
    Image.fromarray(keyed).save(os.path.join(folder, "keyed.png"), transparency=(10, 20, 30))
    source = Image.open(sources[1000]).convert("RGB")
    alphas = bytes(int(a) for a in rng.integers(0, 256, 64))  # palette with per-entry alpha (tRNS)
    source.convert("P", palette=Image.ADAPTIVE, colors=64).save(os.path.join(folder, "palette-alpha.png"),
                                                                 transparency=alphas)
    grey_alpha = np.asarray(source.convert("LA")).copy()
    grey_alpha[..., 1] = np.linspace(0, 255, grey_alpha.shape[1]).astype(np.uint8)[None]
    Image.fromarray(grey_alpha, "LA").save(os.path.join(folder, "grey-alpha.png"))
    source.convert("L").save(os.path.join(folder, "grey-key.png"), transparency=100)
    source.convert("1").save(os.path.join(folder, "bilevel.png"))
    names += ["photo.png", "wide.png", "small-alpha.png", "palette.png", "square224.png", "grey16.png", "keyed.png",
              "palette-alpha.png", "grey-alpha.png", "grey-key.png", "bilevel.png"]
    return names


@unittest.skipUnless(os.path.exists(backbone.weights_path(WEIGHTS)), "EfficientNet-Lite0 weights not installed")
class BackboneTests(unittest.TestCase):
    """The twin's backbone on its own."""

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.net = backbone.load_backbone(WEIGHTS, "cpu")

    def test_identity_is_the_weights_files_sha256(self):
        with open(os.path.join(WEIGHTS, "MANIFEST")) as manifest:
            recorded = dict(reversed(line.split()) for line in manifest if line.strip())
        expected = recorded["efficientnet-lite0/efficientnet-lite0.safetensors"]
        self.assertEqual(backbone.backbone_sha256(WEIGHTS), expected)
        self.assertEqual(self.net.sha256, expected)

    def test_shape_frozen_and_eval(self):
        x = torch.zeros(2, 3, 224, 224, requires_grad=True)
        y = self.net(x)
        self.assertEqual(tuple(y.shape), (2, 320, 7, 7))
        self.assertFalse(y.requires_grad)
        self.assertTrue(y.is_contiguous())
        self.assertTrue(all(not p.requires_grad for p in self.net.parameters()))
        self.net.train()
        self.assertFalse(self.net.training)
        # 16 MBConv blocks (docs/model.md §3.2); block 0 (expand ratio 1) has no expansion.
        self.assertEqual(len(self.net.blocks), 16)
        self.assertIsNone(self.net.blocks[0].expand)

    @unittest.skipUnless(hasattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision"), "older torch")
    def test_cuda_forward_switches_tf32_off_and_back(self):
        before = torch.backends.cudnn.conv.fp32_precision
        with backbone._ieee_convolutions(torch.device("cuda")):
            self.assertEqual(torch.backends.cudnn.conv.fp32_precision, "ieee")
        self.assertEqual(torch.backends.cudnn.conv.fp32_precision, before)

    def test_same_padding(self):
        self.assertEqual(backbone.same_padding(224, 3, 2), (0, 1))
        self.assertEqual(backbone.same_padding(112, 3, 2), (0, 1))
        self.assertEqual(backbone.same_padding(56, 5, 2), (1, 2))
        self.assertEqual(backbone.same_padding(14, 5, 1), (2, 2))
        self.assertEqual(backbone.same_padding(7, 1, 1), (0, 0))

    def test_missing_and_broken_weights(self):
        with tempfile.TemporaryDirectory() as folder:
            with self.assertRaises(backbone.BackboneError) as caught:
                backbone.load_backbone(folder, "cpu")
            self.assertIn("not found", str(caught.exception))
            self.assertIn("make weights", str(caught.exception))
            path = os.path.join(folder, backbone.WEIGHTS_FILE)
            os.makedirs(os.path.dirname(path))
            header = json.dumps({"_conv_stem.weight": {"dtype": "F32", "shape": [32, 3, 3, 3],
                                                       "data_offsets": [0, 10 ** 9]}}).encode()
            with open(path, "wb") as file:
                file.write(struct.pack("<Q", len(header)) + header + b"\0" * 64)
            with self.assertRaises(backbone.BackboneError) as caught:
                backbone.load_backbone(folder, "cpu")
            self.assertIn("not a valid safetensors file", str(caught.exception))


class ImageErrorTests(unittest.TestCase):
    """Bad files raise `ImageError` naming the file and what to do (ImagingError's wording)."""

    def setUp(self):
        self.folder = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.folder)

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "wb") as file:
            file.write(data)
        return path

    def assert_error(self, path: str, kind: str, advice: str):
        with self.assertRaises(images.ImageError) as caught:
            images.load_image(path)
        self.assertEqual(caught.exception.kind, kind, str(caught.exception))
        self.assertIn(path, str(caught.exception))
        self.assertIn(advice, str(caught.exception))
        return caught.exception

    def test_missing_file(self):
        path = os.path.join(self.folder, "absent.jpg")
        error = self.assert_error(path, "not-found", "check the path")
        self.assertIsInstance(error, FileNotFoundError)

    def test_corrupt_jpeg(self):
        self.assert_error(self.write("corrupt.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8), "corrupt",
                          "re-download or replace it")

    def test_truncated_jpeg(self):
        with open(sample_jpegs()[0], "rb") as file:
            data = file.read()
        self.assert_error(self.write("cut.jpg", data[: len(data) // 2]), "truncated", "re-download or replace it")

    def test_truncated_png(self):
        path = os.path.join(self.folder, "whole.png")
        Image.fromarray(np.full((64, 64, 3), 9, np.uint8)).save(path)
        with open(path, "rb") as file:
            data = file.read()
        error = self.assert_error(self.write("cut.png", data[:-30]), "truncated", "re-download or replace it")
        self.assertIn("PNG", str(error))

    def test_not_an_image_empty_and_other_formats(self):
        self.assert_error(self.write("notes.jpg", b"just some text\n"), "not-an-image", "replace it")
        self.assert_error(self.write("empty.png", b""), "empty", "0 bytes")
        self.assert_error(self.write("anim.jpg", b"GIF89a" + b"\0" * 32), "unsupported", "only JPEG and PNG")
        self.assert_error(self.folder, "unreadable", "it is a directory")

    def test_oversized_header_is_refused_before_decoding(self):
        # A PNG declaring 10000 x 10000 pixels (100 M > Vitrine's 50 M limit) and nothing else.
        ihdr = struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0)
        chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        error = self.assert_error(self.write("huge.png", b"\x89PNG\r\n\x1a\n" + chunk), "too-large",
                                  "downscale it")
        self.assertIn("10000x10000", str(error))
        # A JPEG whose frame header declares 9000 x 9000 (81 M pixels): refused the same way.
        with open(sample_jpegs()[0], "rb") as file:
            data = bytearray(file.read())
        sof = next(i for i in range(2, len(data) - 9) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
        data[sof + 5:sof + 9] = struct.pack(">HH", 9000, 9000)
        error = self.assert_error(self.write("huge.jpg", bytes(data)), "too-large", "downscale it")
        self.assertIn("9000x9000", str(error))


@unittest.skipUnless(os.path.exists(backbone.weights_path(WEIGHTS)), "EfficientNet-Lite0 weights not installed")
@unittest.skipUnless(vitrine_binary(), "no Vitrine binary (set VITRINE_BIN)")
@unittest.skipUnless(len(sample_jpegs()) > 800, "SampleData images missing")
class AgainstVitrineTests(unittest.TestCase):
    """The twin against Vitrine's own features of the same files."""

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.work = tempfile.mkdtemp(prefix="vitrine-twin-backbone-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)  # also when setUpClass fails
        cls.data = os.path.join(cls.work, "data")
        folder = os.path.join(cls.data, "images")
        os.makedirs(folder)
        cls.names = make_test_images(folder)
        framed = []
        for name in cls.names:  # the twin's 224 x 224 framing of every image, as a PNG
            path = os.path.join(folder, name)
            pixels = images.model_input(images.decode_rgb(images.read_image_bytes(path), path))
            Image.fromarray(pixels).save(os.path.join(folder, f"lb_{name}.png"))
            framed.append(f"lb_{name}.png")
        write_captions(cls.data, cls.names + framed)
        cls.report = run_vitrine_features(vitrine_binary(), cls.data, os.path.join(cls.work, "cache"))
        cls.net = backbone.load_backbone(WEIGHTS, "cpu")
        cls.cache = FeatureCache(os.path.join(cls.work, "cache"), backbone_sha256=cls.net.sha256)
        cls.folder = folder

    def vitrine(self, name: str) -> np.ndarray:
        features = self.cache.get(os.path.join(self.folder, name))
        self.assertIsNotNone(features, f"Vitrine wrote no entry for {name}")
        return features

    def twin(self, names: list[str]) -> np.ndarray:
        batch = torch.stack([images.load_image(os.path.join(self.folder, n)) for n in names])
        return self.net(batch).numpy()

    @staticmethod
    def differences(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
        """(max abs, max relative with the magnitude floored at 1)."""
        diff = np.abs(ours - theirs)
        return float(diff.max()), float((diff / np.maximum(np.abs(theirs), 1.0)).max())

    def test_vitrine_computed_every_image(self):
        self.assertEqual(self.report["failed"], 0, self.report.get("firstFailures"))
        self.assertEqual(self.report["images"], 2 * len(self.names))

    def test_pixels_equal_vitrines(self):
        """Vitrine gives the twin's framing PNG bit-identical features to the original file's:
        the twin decoded, oriented, composited, resampled and letterboxed to the same bytes."""
        different = [n for n in self.names if not np.array_equal(self.vitrine(n), self.vitrine(f"lb_{n}.png"))]
        print(f"\n[pixels] {len(self.names) - len(different)}/{len(self.names)} images framed to Vitrine's exact "
              f"bytes; different: {different or 'none'}", file=sys.stderr)
        self.assertEqual(different, [])

    def test_backbone_alone_within_tolerance(self):
        """Same input bytes (the framing PNG, used as is by both): only the network differs."""
        framed = [f"lb_{n}.png" for n in self.names]
        ours = self.twin(framed)
        theirs = np.stack([self.vitrine(n) for n in framed])
        max_abs, max_rel = self.differences(ours, theirs)
        print(f"\n[backbone alone] {len(framed)} images: max abs {max_abs:.2e}, max rel {max_rel:.2e} "
              f"(largest |feature| {np.abs(theirs).max():.1f})", file=sys.stderr)
        self.assertLess(max_abs, TOLERANCE)

    def test_whole_pipeline_within_tolerance(self):
        """`load_image` + backbone on the original PNG and JPEG files."""
        for kind in ("png", "jpg"):
            names = [n for n in self.names if n.endswith(kind)]
            ours = self.twin(names)
            theirs = np.stack([self.vitrine(n) for n in names])
            max_abs, max_rel = self.differences(ours, theirs)
            print(f"\n[pipeline {kind.upper()}] {len(names)} images: max abs {max_abs:.2e}, max rel {max_rel:.2e}",
                  file=sys.stderr)
            self.assertLess(max_abs, TOLERANCE, kind)


if __name__ == "__main__":
    unittest.main()
