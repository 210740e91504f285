"""Shared helpers of the twin's tests: paths, the Vitrine binary, a feature cache for SampleData,
running the twin (one process: in this interpreter; torchrun: a subprocess), and the runs several
tests share.

Time: `make test` runs these next to Swift's tests on 2 cores, so what costs is starting Python and
torch (about 3 s of CPU a process, 9 s a torchrun launch of 2 ranks). One-process commands therefore
run in the test process itself (`cli.main`, the code `python -m vitrine_scaleout` runs; torchrun
launches and `python -m vitrine_scaleout plan` still start the module for real), and a run that
several tests only read is made once per test process (`shared_run`).

Environment:
  VITRINE_BIN        a built `vitrine` (default: the checkout's .build/release/vitrine)
  VITRINE_WEIGHTS    the weights folder (default: the checkout's Weights/)
  SCALEOUT_TEST_CACHE  where the tests keep their feature cache (default: $VITRINE_E2E_CACHE, else
                       $TMPDIR/vitrine-scaleout-test-cache)
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
import unittest
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

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
    """`python -m vitrine_scaleout ARGS`: under torchrun (a subprocess, killed after `timeout`) when
    nproc > 1, else in this process (`in_process`)."""
    if nproc > 1:
        cmd = [TORCHRUN, f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
               "-m", "vitrine_scaleout"] + args
        return subprocess.run(cmd, env=env(**(extra_env or {})), capture_output=True, text=True, timeout=timeout,
                              cwd=REPO)
    return in_process(args, extra_env)


_tokenizers = {}


def tokenizer(tower: str, weights: str | None = None):
    """`tokenizers.load_tokenizer(tower, weights)` (default WEIGHTS), loaded once per test process: e5's
    tokenizer.bin takes about 0.9 s of CPU to read, and nothing changes a tokenizer once loaded. The
    tokenizer's own tests (test_tokenizers) load theirs themselves."""
    from vitrine_scaleout import tokenizers
    key = (tower, os.path.realpath(weights or WEIGHTS))
    if key not in _tokenizers:
        _tokenizers[key] = tokenizers.load_tokenizer(tower, weights or WEIGHTS)
    return _tokenizers[key]


class _Exited(BaseException):
    """os._exit called by the command (the trainer's way out of a broken run)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def in_process(args: list, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `vitrine_scaleout.cli.main(ARGS)` (what `python -m vitrine_scaleout ARGS` runs) in this
    process, as `twin` would run it in a fresh one: the same environment variables (and
    `extra_env`), working directory, one torch thread (OMP_NUM_THREADS=1 there); stdout and stderr
    captured; `os._exit`, `sys.exit` and an escaping exception become the return code. Signal
    handlers and the thread count are restored afterwards. The commands' `load_tokenizer` is
    `tokenizer` (the same file read once per test process, not once per command)."""
    import torch
    from vitrine_scaleout import cli, probe, trainer
    variables = {"VITRINE_WEIGHTS": WEIGHTS, "VITRINE_CACHE": CACHE}
    variables.update({k: str(v) for k, v in (extra_env or {}).items()})
    out, err = io.StringIO(), io.StringIO()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    threads, cwd = torch.get_num_threads(), os.getcwd()
    code = 0

    def exit_now(status):
        raise _Exited(status)

    try:
        with mock.patch.dict(os.environ, variables), mock.patch.object(os, "_exit", exit_now), \
                mock.patch.object(trainer, "load_tokenizer", tokenizer), mock.patch.object(probe, "load_tokenizer", tokenizer), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
                os.environ.pop(name, None)
            torch.set_num_threads(1)
            os.chdir(REPO)
            try:
                code = cli.main([str(a) for a in args])
            except _Exited as exited:
                code = exited.code
            except SystemExit as exited:
                code = exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 1)
            except Exception:
                err.write(traceback.format_exc())
                code = 1
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(["vitrine_scaleout"] + list(args), code, out.getvalue(), err.getvalue())


def run_all(commands: list, workers: int = 2, timeout: float = 120, environment: dict | None = None) -> list:
    """subprocess.run of every command (lists of arguments) with `environment` (default `env()`),
    `workers` at a time (Vitrine's commands use one core each): the results, in the order of
    `commands`. (From another thread, pass `environment`: an in-process command may be changing
    os.environ meanwhile.)"""
    environment = environment or env()

    def one(cmd):
        return subprocess.run(cmd, env=environment, capture_output=True, text=True, timeout=timeout)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        return list(pool.map(one, commands))


# --------------------------------------------------------------------------- runs tests share

_shared_root = None
_shared = {}


def _shared_folder(name: str) -> str:
    global _shared_root
    if _shared_root is None:
        _shared_root = tempfile.mkdtemp(prefix="scaleout-test-shared-")
        atexit.register(shutil.rmtree, _shared_root, True)
    return os.path.join(_shared_root, name)


def shared_run(name: str, args: list, nproc: int = 1, extra_env: dict | None = None):
    """`twin(ARGS + ["--out", FOLDER], nproc)` once per test process, whichever test asks first:
    (the result, FOLDER). Tests only read FOLDER (they copy what they change), and each checks the
    result's return code itself, so a broken run fails every test that uses it. `extra_env` values
    may name the folder as {out}."""
    if name not in _shared:
        folder = _shared_folder(name)
        values = {k: str(v).format(out=folder) for k, v in (extra_env or {}).items()}
        _shared[name] = (twin(list(args) + ["--out", folder], nproc=nproc, extra_env=values), folder)
    return _shared[name]


# The 2-rank pretraining run of tiny models on SampleData that test_ddp (2 ranks = 1 process),
# test_failure (the uninterrupted run a resumed one must reproduce) and test_embed_parity (a DDP
# checkpoint in Vitrine) share: 6 steps of batch 8, dropout off, a checkpoint every 2 steps, every
# rank's final parameters in FOLDER/ranks. Tests add --gather and --timeout, which do not change the
# losses (the shared run: --gather grad --timeout 60).
DDP_PRETRAIN = ["train", "--preset", "tiny", "--mode", "pretrain", "--data", SAMPLE, "--steps", "6", "--batch", "8",
                "--checkpoint-every", "2", "--no-eval", "--quiet", "--seed", "3", "--dropout", "0"]


def ddp_pretrain_run():
    """(result, folder) of DDP_PRETRAIN under torchrun with 2 ranks (gathered negatives with gradients)."""
    ensure_cache(["train"])
    return shared_run("ddp-pretrain", DDP_PRETRAIN + ["--gather", "grad", "--timeout", "60"], nproc=2,
                      extra_env={"VITRINE_SCALEOUT_DUMP_PARAMS": os.path.join("{out}", "ranks")})


# One step of pretraining (seed 11, batch 4) from CaptureModel(tiny config, seed=11): test_probe
# compares its step-1 losses with `probe` on the same batch, test_probe_parity uses its checkpoint.
PROBE_PRETRAIN = ["train", "--preset", "tiny", "--mode", "pretrain", "--data", SAMPLE, "--steps", "1", "--batch", "4",
                  "--seed", "11", "--no-eval", "--quiet"]


def probe_pretrain_run():
    ensure_cache(["train"])
    return shared_run("probe-pretrain", PROBE_PRETRAIN)


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
