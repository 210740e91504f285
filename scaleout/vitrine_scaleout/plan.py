"""A plan on paper for a run at Product1M's size: samples per epoch, FLOPs per step, step time
per GPU at a stated sustained rate, and what the feature cache costs on disk.

    python -m vitrine_scaleout plan                       # the `full` preset, e5, 8 GPUs
    python -m vitrine_scaleout plan --gpus 4 --rate 20 --calibrate 2.29

The FLOPs are counted from the architecture (docs/model.md §4), matrix products only (the
softmaxes, LayerNorms, GELUs and the optimiser are memory-bound and small next to them): a
multiply-add is 2 FLOPs. A trained layer costs its forward pass three times (forward, gradient
of its input, gradient of its weights); a frozen layer below every trained one costs its forward
pass only. MLM's decoder (the tied 250,002-word embedding matrix) runs on the masked positions
only, as in Vitrine (`Sources/Capture/CaptureModel.swift`).

`--calibrate SECONDS` takes a measured seconds-per-step of the same preset and batch on some
machine (for example `vitrine train`'s step time on this CPU, docs/model.md §5.4) and prints the
sustained rate that implies, so the assumed GPU rate can be read against a measured one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys

# Product1M (docs/data.md §1; the official split sizes).
PRODUCT1M_TRAIN_PAIRS = 1_132_830
PRODUCT1M_GALLERY = 40_033

# Feature cache entries (docs/data.md §6.1): a 96-byte header and a 320 x 7 x 7 map.
CACHE_HEADER = 96
MAP_ELEMENTS = 320 * 7 * 7
BLOCK = 4096


@dataclasses.dataclass
class Shape:
    """The default model's sizes (docs/model.md §1) and a batch's."""

    hidden: int = 384
    intermediate: int = 1536
    text_layers: int = 12
    frozen_text_layers: int = 0
    image_layers: int = 2
    co_layers: int = 2
    cross_layers: int = 2
    vocab: int = 250_002
    region_dim: int = 320
    image_tokens: int = 50
    clr_dim: int = 256
    fused_dim: int = 256
    text_length: int = 40          # padded length of a batch: Product1M titles run to 33 pieces at p99, plus "query: ", <s>, </s>
    mlm_fraction: float = 0.15
    mrm_fraction: float = 0.15


def layer_flops(queries: int, keys: int, d: int, f: int) -> float:
    """Forward FLOPs of one BERT layer whose `queries` tokens attend to `keys` tokens."""
    projections = 2 * queries * d * d + 2 * 2 * keys * d * d + 2 * queries * d * d  # Q; K, V; output dense
    attention = 2 * queries * keys * d * 2                                          # scores and the weighted sum
    ffn = 2 * 2 * queries * d * f
    return projections + attention + ffn


def sample_flops(s: Shape) -> dict[str, float]:
    """Forward FLOPs per sample, part by part, and the training total (forward + backward)."""
    d, f, L, N = s.hidden, s.intermediate, s.text_length, s.image_tokens
    text_layer = layer_flops(L, L, d, f)
    parts = {
        "text (trained layers)": (s.text_layers - s.frozen_text_layers) * text_layer,
        "text (frozen layers)": s.frozen_text_layers * text_layer,
        "image stream": 2 * N * (s.region_dim + 5) * d + s.image_layers * layer_flops(N, N, d, f),
        "co-attention": s.co_layers * (layer_flops(L, N, d, f) + layer_flops(N, L, d, f)),
        "cross stream": s.cross_layers * layer_flops(L + N, L + N, d, f),
        "CLR and fusion": 2 * 2 * d * s.clr_dim + 2 * 2 * d * s.fused_dim,
        "MLM head": s.mlm_fraction * (L - 2) * (2 * d * d + 2 * d * s.vocab),
        "MRM head": s.mrm_fraction * (N - 1) * 2 * d * s.region_dim,
    }
    forward = sum(parts.values())
    training = 3 * (forward - parts["text (frozen layers)"]) + parts["text (frozen layers)"]
    return {"parts": parts, "forward": forward, "training": training}


def cache_bytes(images: int, bytes_per_element: int) -> tuple[int, int]:
    """(bytes of the entries, bytes they fill on disk in 4 KiB blocks)."""
    entry = CACHE_HEADER + MAP_ELEMENTS * bytes_per_element
    return images * entry, images * math.ceil(entry / BLOCK) * BLOCK


def human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plan(args) -> dict:
    shape = Shape(text_length=args.text_length, frozen_text_layers=args.frozen_text_layers)
    per_sample = sample_flops(shape)
    global_batch = args.batch_per_gpu * args.gpus
    steps = math.ceil(args.pairs / global_batch)
    step_flops = per_sample["training"] * args.batch_per_gpu          # one GPU's share of a step
    step_seconds = step_flops / (args.rate * 1e12)
    result = {
        "pairs": args.pairs,
        "gpus": args.gpus,
        "batch_per_gpu": args.batch_per_gpu,
        "global_batch": global_batch,
        "steps_per_epoch": steps,
        "forward_gflop_per_sample": per_sample["forward"] / 1e9,
        "training_gflop_per_sample": per_sample["training"] / 1e9,
        "training_gflop_per_step_per_gpu": step_flops / 1e9,
        "assumed_tflops": args.rate,
        "step_seconds_per_gpu": step_seconds,
        "epoch_seconds": steps * step_seconds,
        "parts_gflop_per_sample": {k: v / 1e9 for k, v in per_sample["parts"].items()},
    }
    if args.calibrate:
        result["calibration"] = {
            "measured_step_seconds": args.calibrate,
            "implied_tflops": step_flops / args.calibrate / 1e12,
        }
    images = args.pairs + args.gallery
    for name, width in (("float16", 2), ("float32", 4)):
        payload, disk = cache_bytes(images, width)
        result[f"cache_{name}_bytes"] = payload
        result[f"cache_{name}_disk_bytes"] = disk
    result["cache_images"] = images
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vitrine_scaleout plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=PRODUCT1M_TRAIN_PAIRS, help="training pairs (default: Product1M's train split)")
    parser.add_argument("--gallery", type=int, default=PRODUCT1M_GALLERY, help="gallery items whose features the cache also holds")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--batch-per-gpu", type=int, default=32, help="pairs per GPU per step (the full preset's batch)")
    parser.add_argument("--text-length", type=int, default=40, help="padded text length of a batch")
    parser.add_argument("--frozen-text-layers", type=int, default=0, help="0 for the full preset")
    parser.add_argument("--rate", type=float, default=15.0,
                        help="sustained TFLOP/s per GPU assumed (default 15: about a quarter of an H100's FP32 peak; "
                             "384-wide products keep GPUs far from peak)")
    parser.add_argument("--calibrate", type=float, default=None, help="a measured seconds per step (batch-per-gpu pairs) to compare")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for name in ("pairs", "gpus", "batch_per_gpu", "text_length"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not (0 < args.rate < 1e4):
        parser.error("--rate must be between 0 and 10,000 TFLOP/s")
    if args.gallery < 0:
        parser.error("--gallery must not be negative")
    if not 0 <= args.frozen_text_layers <= Shape().text_layers:
        parser.error(f"--frozen-text-layers must be 0...{Shape().text_layers}")
    if args.calibrate is not None and not (0 < args.calibrate < 1e6):
        parser.error("--calibrate must be a measured step time in seconds, above 0")
    r = plan(args)
    if args.json:
        print(json.dumps(r, sort_keys=True))
        return 0
    print(f"{r['pairs']:,} pairs an epoch; {r['gpus']} GPU(s) x {r['batch_per_gpu']} = {r['global_batch']} a step: "
          f"{r['steps_per_epoch']:,} steps an epoch")
    print(f"FLOPs: {r['forward_gflop_per_sample']:.2f} GFLOP forward, {r['training_gflop_per_sample']:.2f} GFLOP to train, a sample; "
          f"{r['training_gflop_per_step_per_gpu']:.0f} GFLOP a step on each GPU")
    for k, v in r["parts_gflop_per_sample"].items():
        print(f"    {k:24s} {v:7.3f} GFLOP forward")
    print(f"at {r['assumed_tflops']:g} TFLOP/s sustained: {r['step_seconds_per_gpu'] * 1000:.0f} ms a step, "
          f"{human_seconds(r['epoch_seconds'])} an epoch (compute only)")
    if "calibration" in r:
        c = r["calibration"]
        print(f"a measured {c['measured_step_seconds']:g} s a step means {c['implied_tflops'] * 1000:.0f} GFLOP/s sustained")
    for name in ("float16", "float32"):
        print(f"feature cache, {name}: {r['cache_images']:,} images, {r[f'cache_{name}_bytes'] / 1e9:.1f} GB of entries, "
              f"{r[f'cache_{name}_disk_bytes'] / 1e9:.1f} GB on disk in 4 KiB blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
