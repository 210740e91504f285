"""Shared helpers of the twin's tests: paths, the Vitrine binary, a feature cache for SampleData,
and running the twin (single process or torchrun) as a subprocess.

Environment:
  VITRINE_BIN        a built `vitrine` (default: the checkout's .build/release/vitrine)
  VITRINE_WEIGHTS    the weights folder (default: the checkout's Weights/)
  SCALEOUT_TEST_CACHE  where the tests keep their feature cache (default: $VITRINE_E2E_CACHE, else
                       $TMPDIR/vitrine-scaleout-test-cache)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCALEOUT = os.path.dirname(HERE)
REPO = os.path.dirname(SCALEOUT)
SAMPLE = os.path.join(REPO, "SampleData")
WEIGHTS = os.environ.get("VITRINE_WEIGHTS") or os.path.join(REPO, "Weights")
PYTHON = sys.executable
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")
# `make test` runs these after Swift's tests and points them at the same end-to-end cache, whose
# SampleData features those tests have mostly computed already.
CACHE = os.environ.get("SCALEOUT_TEST_CACHE") or os.environ.get("VITRINE_E2E_CACHE") or \
    os.path.join(tempfile.gettempdir(), "vitrine-scaleout-test-cache")

if SCALEOUT not in sys.path:
    sys.path.insert(0, SCALEOUT)


def vitrine_binary():
    for candidate in (os.environ.get("VITRINE_BIN"), os.path.join(REPO, ".build", "release", "vitrine")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def have_weights() -> bool:
    return os.path.isfile(os.path.join(WEIGHTS, "e5-small", "tokenizer.bin")) and \
        os.path.isfile(os.path.join(WEIGHTS, "efficientnet-lite0", "efficientnet-lite0.safetensors"))


def require_weights(test: unittest.TestCase) -> None:
    if not have_weights():
        test.skipTest(f"the pretrained weights are not in {WEIGHTS} (make weights)")


def env(**extra) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = SCALEOUT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["VITRINE_WEIGHTS"] = WEIGHTS
    e["VITRINE_CACHE"] = CACHE
    e.setdefault("OMP_NUM_THREADS", "1")
    e.update({k: str(v) for k, v in extra.items()})
    return e


_filled = set()


def ensure_cache(splits=("train",)) -> str:
    """Fills the tests' feature cache with SampleData's features of `splits` (once; entries are keyed
    by content, so a cache left by an earlier run is reused): with `vitrine features` when a binary
    is there, else with the twin's backbone."""
    key = tuple(sorted(splits))
    if key in _filled:
        return CACHE
    os.makedirs(CACHE, exist_ok=True)
    from vitrine_scaleout import data, features
    cache = features.FeatureCache(CACHE, weights_dir=WEIGHTS)
    ds = data.load(SAMPLE)
    paths = [s.image for name in splits for s in ds.split(name).samples if s.image]
    missing = [p for p, f in zip(paths, cache.get_many(paths)) if f is None]
    if missing:
        binary = vitrine_binary()
        if binary:
            for name in splits:
                subprocess.run([binary, "features", "--data", SAMPLE, "--split", name], env=env(), check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            from vitrine_scaleout import backbone
            net = backbone.load_backbone(WEIGHTS, "cpu")
            maps = features.compute_features(missing, net, "cpu")
            for p, m in zip(missing, maps):
                cache.put(p, m)
    _filled.add(key)
    return CACHE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twin(args: list, nproc: int = 1, timeout: float = 240, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `python -m vitrine_scaleout ARGS`, under torchrun when nproc > 1."""
    if nproc > 1:
        cmd = [TORCHRUN, f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
               "-m", "vitrine_scaleout"] + args
    else:
        cmd = [PYTHON, "-m", "vitrine_scaleout"] + args
    return subprocess.run(cmd, env=env(**(extra_env or {})), capture_output=True, text=True, timeout=timeout, cwd=REPO)


def events(run_dir: str) -> list:
    with open(os.path.join(run_dir, "events.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def step_losses(run_dir: str) -> dict:
    out = {}
    for e in events(run_dir):
        if e["event"] == "step":
            out[e["step"]] = e["losses"]
    return out


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="scaleout-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
