#!/usr/bin/env python3
"""PyTorch CPU side of Vitrine's model benchmark (bench/model/README.md).

Times, with `torch.set_num_threads(2)` (the machine's cores) in eager mode, on
tools/reference/capture_torch.py (a straightforward PyTorch implementation of docs/model.md):

* a pretraining step of the default model at batch 32: text length 36 (every row 36 real
  tokens, [CLS] ... [SEP]), 50 image tokens from cached backbone features (random 320 x 7 x 7
  maps: the backbone is not part of the step), MLM + MRM + CLR masking drawn as docs/model.md §5.1 says,
  forward, backward, gradient clipping to norm 1 and an AdamW step (lr 1e-4, weight decay 0.01,
  none on biases, LayerNorms and mlm.bias), zero_grad. Dropout 0.1 as BERT (train mode).
  Variants:
    all            everything trainable;
    frozen0-3      text embeddings and text layers 0-3 frozen (so the tied MLM decoder matrix is
                   frozen too, and no backward pass runs below text layer 4);
    frozen0-3-only text layers 0-3 frozen, text embeddings (and so the tied decoder) trainable:
                   the backward pass still runs through layers 0-3 for the embeddings' gradient.
  Each variant runs in its own process (so its peak RSS is its own): warm-up steps, then the
  median (and min, max, and every step) of the timed steps, split into forward / backward /
  optimiser, the process's CPU seconds per step (median; about 2x the wall time when both
  threads are busy; it includes OpenMP's spin-waiting, so it also grows when the cores are
  shared with other work), and
  the matmul FLOPs of one step (torch's FlopCounterMode) with the achieved GFLOP/s.
* caption embedding latency: MiniLM (the text stream alone) on a 16-token caption at batch 1,
  mean pooling over real tokens and L2 normalisation, inference mode; median of many runs.

The text stream is MiniLM from Weights/minilm/model.safetensors when present (random
otherwise; the output says which: the timings do not depend on it). Prints one JSON object.
The load average before and after each part is in the output: other work on the two cores
changes these numbers, so compare only figures from one run.

    /tmp/tref/bin/python tools/reference/capture_bench.py                 # all parts
    /tmp/tref/bin/python tools/reference/capture_bench.py --steps 20 --warmup 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture_torch import (CLS_ID, SEP_ID, CaptureConfig, CaptureTorch, image_tokens, load_minilm,  # noqa: E402
                           mask_batch)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MINILM = os.path.join(REPO, "Weights", "minilm", "model.safetensors")
E5_MODEL = os.path.join(REPO, "Weights", "e5-small", "model.safetensors")
E5_TOKENIZER = os.path.join(REPO, "Weights", "e5-small", "tokenizer.bin")
# 16 Chinese characters of a real-looking title (Sources/vitrine/BenchModel.swift's e5Caption).
E5_CAPTION = "韩国黄金水乳霜套盒蜗牛玻尿酸精华"
VARIANTS = ("all", "frozen0-3", "frozen0-3-only")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def make_model(config: CaptureConfig) -> tuple[CaptureTorch, str]:
    torch.manual_seed(0)
    model = CaptureTorch(config)
    if os.path.exists(MINILM):
        load_minilm(model, MINILM)
        return model, "MiniLM from " + os.path.relpath(MINILM, REPO)
    return model, "random (Weights/minilm/model.safetensors not found)"


def freeze(model: CaptureTorch, variant: str) -> None:
    frozen = []
    if variant in ("frozen0-3", "frozen0-3-only"):
        frozen += [f"text.encoder.layer.{i}." for i in range(4)]
    if variant == "frozen0-3":
        frozen.append("text.embeddings.")
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith(tuple(frozen)))


def adamw(model: CaptureTorch) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith(".bias") or ".LayerNorm." in name or name == "mlm.bias" else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=1e-4, foreach=True)


def random_batch(config: CaptureConfig, batch: int, length: int, generator: torch.Generator):
    ids = torch.randint(1000, config.vocab_size, (batch, length), generator=generator)
    ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
    mask = torch.ones(batch, length, dtype=torch.long)
    features = torch.randn(batch, config.region_feature_dim, 7, 7, generator=generator).abs()
    return ids, mask, image_tokens(features)[:, 1:]


def train_variant(variant: str, batch: int, length: int, warmup: int, steps: int) -> dict:
    config = CaptureConfig()
    model, text_source = make_model(config)
    freeze(model, variant)
    model.train()
    optimizer = adamw(model)
    generator = torch.Generator().manual_seed(1)
    ids, mask, cells = random_batch(config, batch, length, generator)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total_params = sum(p.numel() for p in model.parameters())

    def step(timed: dict | None):
        masked_ids, image_input, targets, region_mask, region_targets = mask_batch(ids, mask, cells, config, generator)
        c0, t0 = time.process_time(), time.perf_counter()
        losses = model.pretraining_losses(masked_ids, mask, image_input, targets, region_mask, region_targets)
        t1 = time.perf_counter()
        losses["total"].backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3, c3 = time.perf_counter(), time.process_time()
        if timed is not None:
            timed["cpu"].append(c3 - c0)
            timed["forward"].append(t1 - t0); timed["backward"].append(t2 - t1)
            timed["optimizer"].append(t3 - t2); timed["step"].append(t3 - t0)
        return {k: v.item() for k, v in losses.items()}

    load_before = load_average()
    for _ in range(warmup):
        step(None)
    timed = {"step": [], "forward": [], "backward": [], "optimizer": [], "cpu": []}
    losses = [step(timed)["total"] for _ in range(steps)]
    load_after = load_average()

    # Matmul FLOPs of one step (forward + backward), counted once, untimed.
    from torch.utils.flop_counter import FlopCounterMode
    masked = mask_batch(ids, mask, cells, config, generator)
    counter = FlopCounterMode(display=False)
    with counter:
        out = model.pretraining_losses(masked[0], mask, *masked[1:])
        out["total"].backward()
    optimizer.zero_grad(set_to_none=True)
    flops = counter.get_total_flops()
    median = statistics.median(timed["step"])
    return {
        "variant": variant, "text_stream": text_source, "batch": batch, "text_length": length,
        "image_tokens": config.image_tokens, "parameters": total_params, "trainable_parameters": trainable,
        "warmup_steps": warmup, "timed_steps": steps,
        "step_s": {"median": round(median, 4), "min": round(min(timed["step"]), 4),
                   "max": round(max(timed["step"]), 4)},
        "steps_s": [round(t, 3) for t in timed["step"]],
        "cpu_s_per_step_median": round(statistics.median(timed["cpu"]), 4),
        "forward_s_median": round(statistics.median(timed["forward"]), 4),
        "backward_s_median": round(statistics.median(timed["backward"]), 4),
        "optimizer_s_median": round(statistics.median(timed["optimizer"]), 4),
        "matmul_gflop_per_step": round(flops / 1e9, 1),
        "achieved_gflops_at_median": round(flops / 1e9 / median, 1),
        "loss_first_last": [round(losses[0], 3), round(losses[-1], 3)],
        "peak_rss_mib": peak_rss_mib(), "load_average_before": load_before, "load_average_after": load_after,
    }


def caption_latency(tokens: int, warmup: int, runs: int, tower: str = "minilm") -> dict:
    extra = {}
    if tower == "e5":
        # The same dequantised float32 weights as Vitrine's, the ids of tools/reference/e5_reference.py's
        # tokenizer (e5.c's ids; checked against Vitrine's by bench/model/compare.py).
        from e5_reference import E5Tokenizer
        tokenizer = E5Tokenizer(E5_TOKENIZER)
        pieces = tokenizer.encode(E5_CAPTION)
        rows = [int(tokenizer.row_of[i]) for i in pieces]
        config = CaptureConfig(text_layers=12, vocab_size=int(tokenizer.rows), text_tower="e5")
        torch.manual_seed(0)
        model = CaptureTorch(config)
        load_minilm(model, E5_MODEL)
        text_source = "e5 from " + os.path.relpath(E5_MODEL, REPO)
        ids = torch.tensor([rows])
        tokens = len(rows)
        extra = {"piece_ids": pieces, "text": E5_CAPTION}
    else:
        config = CaptureConfig()
        model, text_source = make_model(config)
        ids = torch.randint(1000, config.vocab_size, (1, tokens), generator=torch.Generator().manual_seed(2))
        ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
    text = model.text.eval()
    mask = torch.ones(1, tokens, dtype=torch.long)
    from capture_torch import additive_mask

    def embed():
        x = text(ids, additive_mask(mask))
        m = mask[..., None].to(torch.float32)
        return torch.nn.functional.normalize((x * m).sum(1) / m.sum(1), dim=-1)

    load_before = load_average()
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            embed()
        for _ in range(runs):
            t0 = time.perf_counter()
            embed()
            times.append(time.perf_counter() - t0)
    return {**extra, "tokens": tokens, "batch": 1, "text_stream": text_source, "text_tower": tower, "runs": runs,
            "latency_ms": {"median": round(statistics.median(times) * 1e3, 3),
                           "min": round(min(times) * 1e3, 3), "max": round(max(times) * 1e3, 3)},
            "peak_rss_mib": peak_rss_mib(), "load_average_before": load_before, "load_average_after": load_average()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=36)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of " + ", ".join(VARIANTS))
    parser.add_argument("--caption-tokens", type=int, default=16)
    parser.add_argument("--caption-runs", type=int, default=300)
    parser.add_argument("--only", help=argparse.SUPPRESS)  # internal: one part in this process
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.only:
        if args.only in ("caption", "caption-e5"):
            result = caption_latency(args.caption_tokens, 30, args.caption_runs,
                                     tower="e5" if args.only == "caption-e5" else "minilm")
        else:
            result = train_variant(args.only, args.batch, args.length, args.warmup, args.steps)
        print(json.dumps(result))
        return 0

    report = {"torch": torch.__version__, "threads": args.threads, "mode": "eager, float32, CPU",
              "cpu_count": os.cpu_count(), "load_average_start": load_average(), "train_step": [], "caption": None,
              "caption_e5": None}
    parts = [v for v in args.variants.split(",") if v] + ["caption"]
    if os.path.exists(E5_MODEL) and os.path.exists(E5_TOKENIZER):
        parts.append("caption-e5")
    for part in parts:
        if part not in ("caption", "caption-e5") and part not in VARIANTS:
            parser.error(f"unknown variant {part!r}; choose from {', '.join(VARIANTS)}")
        cmd = [sys.executable, os.path.abspath(__file__), "--only", part, "--threads", str(args.threads),
               "--batch", str(args.batch), "--length", str(args.length), "--warmup", str(args.warmup),
               "--steps", str(args.steps), "--caption-tokens", str(args.caption_tokens),
               "--caption-runs", str(args.caption_runs)]
        print(f"running {part} ...", file=sys.stderr, flush=True)
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if part == "caption":
            report["caption"] = result
        elif part == "caption-e5":
            report["caption_e5"] = result
        else:
            report["train_step"].append(result)
    report["load_average_end"] = load_average()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
