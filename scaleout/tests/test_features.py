"""Vitrine's feature cache from Python (docs/data.md §6.1): what Vitrine wrote is read back
exactly, damaged or hostile entries are refused, and entries the twin writes are read by Vitrine.

Vitrine (`VITRINE_BIN`, default the checkout's .build/release/vitrine) fills temporary caches with
`vitrine features`; the tests that need it are skipped without it. Run:
    PYTHONPATH=scaleout .setup/scaleout-venv/bin/python -m unittest discover -s scaleout/tests \
        -t scaleout -p 'test_features.py'
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch
from PIL import Image

from vitrine_scaleout import backbone, features
from vitrine_scaleout.features import FeatureCache, compute_features, default_cache_dir, fnv1a64
from vitrine_scaleout.images import ImageError

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEIGHTS = os.environ.get("VITRINE_WEIGHTS") or os.path.join(REPO, "Weights")
SAMPLE_JPEGS = sorted(glob.glob(os.path.join(REPO, "SampleData", "images", "*.jpg")))
HAVE_WEIGHTS = os.path.exists(backbone.weights_path(WEIGHTS))
ENTRY_BYTES_32 = features.HEADER_BYTES + 320 * 49 * 4
ENTRY_BYTES_16 = features.HEADER_BYTES + 320 * 49 * 2


def vitrine_binary() -> str | None:
    for candidate in (os.environ.get("VITRINE_BIN"), os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "release", "vitrine")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def vitrine_features(data: str, cache: str, precision: str) -> dict:
    """`vitrine features --json` into the cache folder `cache`; its report."""
    env = dict(os.environ, VITRINE_CACHE=cache, VITRINE_WEIGHTS=WEIGHTS)
    done = subprocess.run([vitrine_binary(), "features", "--data", data, "--precision", precision, "--json",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"vitrine features failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def make_dataset(folder: str, count: int, offset: int) -> list[str]:
    """A folder-format dataset (docs/data.md §3) of `count` SampleData JPEGs and one PNG."""
    os.makedirs(os.path.join(folder, "images"))
    paths = []
    for i in range(count):
        path = os.path.join(folder, "images", f"img{i}.jpg")
        shutil.copy(SAMPLE_JPEGS[offset + 37 * i], path)
        paths.append(path)
    path = os.path.join(folder, "images", "img.png")
    Image.open(SAMPLE_JPEGS[offset + 1]).convert("RGB").save(path)
    paths.append(path)
    with open(os.path.join(folder, "captions.tsv"), "w") as file:
        for i, p in enumerate(paths):
            file.write(f"i{i}\timages/{os.path.basename(p)}\tcaption {i}\tlabel{i}\tgallery\n")
    return paths


class FormatTests(unittest.TestCase):
    """Pieces that need neither Vitrine nor the weights."""

    def test_fnv1a64_known_values(self):
        self.assertEqual(fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(fnv1a64(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(fnv1a64(b"foobar"), 0x85944171F73967E8)

    def test_lockstep_checksums_and_lookup_many(self):
        payloads = [os.urandom(300) for _ in range(20)] + [b"", b"xy"]
        self.assertEqual(features.fnv1a64_many(payloads), [fnv1a64(p) for p in payloads])
        rng = np.random.default_rng(5)
        with tempfile.TemporaryDirectory() as root:
            cache = FeatureCache(root, backbone_sha256="ab" * 32)
            keys = [f"{i:064x}" for i in range(20)]
            stored = [rng.standard_normal((320, 7, 7)).astype(np.float32) for _ in keys]
            for key, values in zip(keys, stored):
                cache.put_hash(key, values)
            with open(cache.path_for_hash(keys[7]), "r+b") as file:  # one damaged payload byte
                file.seek(features.HEADER_BYTES + 999)
                file.write(b"\x01" if file.read(1) != b"\x01" else b"\x02")
            found = cache.lookup_many(keys + ["ef" * 32])
            self.assertEqual([r.status for r in found], ["hit"] * 7 + ["corrupt"] + ["hit"] * 12 + ["miss"])
            self.assertIn("checksum mismatch", found[7].reason)
            for i in (0, 8, 19):
                np.testing.assert_array_equal(found[i].features, stored[i])

    def test_default_location_follows_vitrine(self):
        self.assertEqual(default_cache_dir({"VITRINE_CACHE": "/x/cache", "HOME": "/home/u"}), "/x/cache")
        self.assertEqual(default_cache_dir({"VITRINE_CACHE": "", "XDG_CACHE_HOME": "/xdg", "HOME": "/home/u"}),
                         "/xdg/vitrine")
        self.assertEqual(default_cache_dir({"XDG_CACHE_HOME": "relative", "HOME": "/home/u/"}),
                         "/home/u/.cache/vitrine")
        sha = "ab" * 32
        cache = FeatureCache(None, backbone_sha256=sha)
        self.assertEqual(cache.root, default_cache_dir())
        self.assertEqual(cache.directory, default_cache_dir() + "/features/efficientnet-lite0-" + "ab" * 8)
        self.assertEqual(cache.path_for_hash("CD" * 32), cache.directory + "/cd/" + "cd" * 32 + ".feat")
        with mock.patch.dict(os.environ, {"VITRINE_CACHE": "/somewhere/cache"}):
            self.assertEqual(FeatureCache(None, backbone_sha256=sha).directory,
                             "/somewhere/cache/features/efficientnet-lite0-" + "ab" * 8)

    def test_invalid_hashes_and_values_are_refused(self):
        with self.assertRaises(ValueError):
            FeatureCache("/tmp/none", backbone_sha256="xyz")
        with tempfile.TemporaryDirectory() as root:
            cache = FeatureCache(root, backbone_sha256="ab" * 32)
            self.assertEqual(cache.lookup("not-a-hash").status, "corrupt")
            with self.assertRaises(ValueError):
                cache.put_hash("cd" * 32, np.zeros((320, 49), np.float32))
            bad = np.zeros((320, 7, 7), np.float32)
            bad[3, 2, 1] = np.nan
            with self.assertRaises(ValueError):
                cache.put_hash("cd" * 32, bad)
            self.assertEqual(os.listdir(root), [])

    def test_put_then_get_both_precisions(self):
        values = np.random.default_rng(3).standard_normal((320, 7, 7)).astype(np.float32) * 4
        with tempfile.TemporaryDirectory() as root:
            image = os.path.join(root, "x.png")
            Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(image)
            exact = FeatureCache(root, backbone_sha256="ab" * 32)
            path = exact.put(image, torch.from_numpy(values))
            self.assertEqual(os.path.getsize(path), ENTRY_BYTES_32)
            np.testing.assert_array_equal(exact.get(image), values)
            half = FeatureCache(root, backbone_sha256="ab" * 32, precision="float16")
            self.assertEqual(os.path.getsize(half.put(image, values)), ENTRY_BYTES_16)
            np.testing.assert_array_equal(exact.get(image), values.astype(np.float16).astype(np.float32))
            leftovers = [n for _, _, names in os.walk(root) for n in names if ".tmp-" in n]
            self.assertEqual(leftovers, [])
            with self.assertRaises(ImageError):
                exact.get(os.path.join(root, "absent.png"))
            blocked = FeatureCache(image, backbone_sha256="ab" * 32)  # its root is a file
            with self.assertRaises(features.FeatureCacheError) as caught:
                blocked.put(image, values)
            self.assertIn("point VITRINE_CACHE at a writable folder", str(caught.exception))


@unittest.skipUnless(HAVE_WEIGHTS, "EfficientNet-Lite0 weights not installed")
@unittest.skipUnless(vitrine_binary(), "no Vitrine binary (set VITRINE_BIN)")
@unittest.skipUnless(len(SAMPLE_JPEGS) > 400, "SampleData images missing")
class AgainstVitrineTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.work = tempfile.mkdtemp(prefix="vitrine-twin-features-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)  # also when setUpClass fails
        cls.images = make_dataset(os.path.join(cls.work, "data"), count=3, offset=10)
        cls.root32 = os.path.join(cls.work, "cache32")
        cls.root16 = os.path.join(cls.work, "cache16")
        cls.report32 = vitrine_features(os.path.join(cls.work, "data"), cls.root32, "float32")
        cls.report16 = vitrine_features(os.path.join(cls.work, "data"), cls.root16, "float16")
        cls.sha = backbone.backbone_sha256(WEIGHTS)
        cls.cache32 = FeatureCache(cls.root32, backbone_sha256=cls.sha)
        cls.cache16 = FeatureCache(cls.root16, backbone_sha256=cls.sha)

    def test_reads_what_vitrine_wrote(self):
        self.assertEqual(self.report32["computed"], len(self.images))
        self.assertEqual(self.report32["cache"], self.cache32.directory)
        for image in self.images:
            raw = read_bytes(self.cache32.path(image))
            self.assertEqual(len(raw), ENTRY_BYTES_32)
            stored = np.frombuffer(raw, "<f4", offset=features.HEADER_BYTES).reshape(320, 7, 7)
            ours = self.cache32.get(image)
            self.assertEqual((ours.dtype, ours.shape), (np.float32, (320, 7, 7)))
            np.testing.assert_array_equal(ours, stored)
            half = self.cache16.get(image)
            self.assertEqual(os.path.getsize(self.cache16.path(image)), ENTRY_BYTES_16)
            np.testing.assert_array_equal(half, ours.astype(np.float16).astype(np.float32))

    def test_layout_is_channel_row_column(self):
        """The stored map is the twin's [320, 7, 7] output as it is (not cell-major)."""
        net = backbone.load_backbone(WEIGHTS, "cpu")
        computed = compute_features(self.images[:2], net, "cpu", batch_size=2)
        self.assertEqual(computed.shape, (2, 320, 7, 7))
        for i in range(2):
            self.assertLess(np.abs(computed[i] - self.cache32.get(self.images[i])).max(), 1e-4)

    def test_damaged_and_hostile_entries_are_refused(self):
        image = self.images[0]
        key = FeatureCache.image_sha256(image)
        good = read_bytes(self.cache32.path_for_hash(key))
        other_key = FeatureCache.image_sha256(self.images[1])

        def patched(offset: int, data: bytes) -> bytes:
            return good[:offset] + data + good[offset + len(data):]

        cases = {
            "truncated": (good[:-100], "corrupt", "truncated"),
            "header only": (good[:features.HEADER_BYTES], "corrupt", "truncated"),
            "short header": (good[:50], "corrupt", "shorter than"),
            "empty": (b"", "corrupt", "shorter than"),
            "bit flip": (patched(5000, bytes([good[5000] ^ 1])), "corrupt", "checksum"),
            "bad magic": (patched(0, b"XTFC"), "corrupt", "bad magic"),
            "version 2": (patched(4, (2).to_bytes(4, "little")), "stale", "format version"),
            "element type 7": (patched(8, (7).to_bytes(4, "little")), "corrupt", "element type"),
            "float16 claimed": (patched(8, (2).to_bytes(4, "little")), "corrupt", "truncated"),
            "huge shape": (patched(12, (2 ** 31).to_bytes(4, "little")), "stale", "shape"),
            "other backbone": (patched(24, bytes(32)), "stale", "another backbone"),
            "other image": (patched(56, bytes.fromhex(other_key)), "stale", "another image"),
            "too long": (good + bytes(100), "corrupt", "above the"),
        }
        with tempfile.TemporaryDirectory() as root:
            cache = FeatureCache(root, backbone_sha256=self.sha)
            path = cache.path_for_hash(key)
            os.makedirs(os.path.dirname(path))
            for name, (data, status, reason) in cases.items():
                with self.subTest(name):
                    with open(path, "wb") as file:
                        file.write(data)
                    result = cache.lookup(key)
                    self.assertEqual(result.status, status)
                    self.assertIn(reason, result.reason)
                    self.assertIn(path, result.reason)
                    self.assertIsNone(cache.get(image))
            os.unlink(path)
            os.mkfifo(path)  # must not block
            self.assertEqual(cache.lookup(key).status, "corrupt")
            os.unlink(path)
            self.assertEqual(cache.lookup(key).status, "miss")

    def test_vitrine_reads_the_twins_entries(self):
        """Entries the twin writes are used by `vitrine features` as its own (reported cached,
        left untouched), in both precisions; a damaged one is recomputed by Vitrine too."""
        net = backbone.load_backbone(WEIGHTS, "cpu")
        for precision in ("float32", "float16"):
            with self.subTest(precision):
                root = os.path.join(self.work, f"twin-{precision}")
                cache = FeatureCache(root, backbone_sha256=net.sha256, precision=precision)
                computed = compute_features(self.images, net, "cpu", batch_size=4, cache=cache)
                written = {p: read_bytes(cache.path(p)) for p in self.images}
                report = vitrine_features(os.path.join(self.work, "data"), root, precision)
                self.assertEqual((report["cached"], report["computed"], report["failed"]),
                                 (len(self.images), 0, 0), report)
                for p in self.images:
                    self.assertEqual(read_bytes(cache.path(p)), written[p])
                # A second pass reads them back instead of computing.
                np.testing.assert_array_equal(compute_features(self.images, net, "cpu", cache=cache),
                                              np.stack([cache.get(p) for p in self.images]))
                self.assertLess(np.abs(computed - np.stack([self.cache32.get(p) for p in self.images])).max(),
                                1e-4 if precision == "float32" else 2e-2)
                # One damaged entry: both readers refuse it; Vitrine recomputes just that one.
                damaged = cache.path(self.images[0])
                with open(damaged, "r+b") as file:
                    file.seek(features.HEADER_BYTES + 10)
                    file.write(b"\x7f")
                self.assertIsNone(cache.get(self.images[0]))
                report = vitrine_features(os.path.join(self.work, "data"), root, precision)
                self.assertEqual((report["cached"], report["computed"]), (len(self.images) - 1, 1), report)
                self.assertIsNotNone(cache.get(self.images[0]))


if __name__ == "__main__":
    unittest.main()
