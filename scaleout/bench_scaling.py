#!/usr/bin/env python3
"""Steps per second of the twin with 1 and 2 processes on this machine, and the scaling efficiency.

    PYTHONPATH=scaleout .setup/scaleout-venv/bin/python scaleout/bench_scaling.py [--preset sample] \
        [--mode pretrain] [--batch 16] [--steps 8] [--warmup 3] [--data SampleData]

Runs `vitrine_scaleout train` (the default model of the preset, e5 for `sample`, on SampleData, no
evaluation, dropout as the preset has it) three times: one process with every core's threads, one
process with one thread, and `torchrun --nproc_per_node=2` (one thread each, gloo), the latter at the
same per-process batch (weak scaling: global batch 2B) and at the same global batch (strong scaling).
A step's time is the interval between its `step` event and the previous one, read from the JSON lines
as they arrive; the first --warmup steps are left out. Scaling efficiency (weak) = samples/s with 2
processes / (2 x samples/s with 1 process of one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(args, nproc: int, threads: int, batch: int, out: str) -> dict:
    train = ["train", "--preset", args.preset, "--mode", args.mode, "--data", args.data, "--steps", str(args.steps),
             "--batch", str(batch), "--no-eval", "--out", out, "--json", "--checkpoint-every", "100000",
             "--features", args.features]
    if nproc > 1:
        cmd = [os.path.join(os.path.dirname(sys.executable), "torchrun"), f"--nproc_per_node={nproc}",
               "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "vitrine_scaleout"] + train
    else:
        cmd = [sys.executable, "-m", "vitrine_scaleout"] + train
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=HERE)
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
    arrivals = []
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "step":
            arrivals.append((event["step"], time.time()))
        elif event.get("event") == "failed":
            raise SystemExit(f"the run failed: {event['message']}")
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    gaps = [b[1] - a[1] for a, b in zip(arrivals, arrivals[1:]) if a[0] >= args.warmup]
    step = statistics.median(gaps)
    return {"processes": nproc, "threads": threads, "batch": batch, "seconds_per_step": step,
            "steps_per_second": 1 / step, "samples_per_second": batch / step, "steps_timed": len(gaps),
            "wall_seconds": time.time() - started}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="sample")
    p.add_argument("--mode", default="pretrain")
    p.add_argument("--batch", type=int, default=16, help="per-process batch of the weak-scaling runs")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=3, help="steps left out of the timing")
    p.add_argument("--data", default=os.path.join(REPO, "SampleData"))
    p.add_argument("--features", default="cache")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    results = []
    with tempfile.TemporaryDirectory() as d:
        for name, nproc, threads, batch in (("1 process, all cores", 1, cores, args.batch),
                                            ("1 process, 1 thread", 1, 1, args.batch),
                                            ("2 processes (weak: same batch each)", 2, 1, 2 * args.batch),
                                            ("2 processes (strong: same global batch)", 2, 1, args.batch)):
            r = run(args, nproc, threads, batch, os.path.join(d, f"run{len(results)}"))
            r["name"] = name
            results.append(r)
            print(f"{name:42s} batch {batch:3d}: {r['seconds_per_step']:.3f} s/step, {r['steps_per_second']:.3f} steps/s, "
                  f"{r['samples_per_second']:.2f} samples/s", file=sys.stderr, flush=True)
    one_thread, all_cores, weak, strong = results[1], results[0], results[2], results[3]
    summary = {
        "cpu": cpu_model(), "cores": cores, "torch_threads_default": cores, "preset": args.preset, "mode": args.mode,
        "runs": results,
        "weak_scaling_efficiency_vs_1_thread": weak["samples_per_second"] / (2 * one_thread["samples_per_second"]),
        "weak_scaling_speedup_vs_all_cores": weak["samples_per_second"] / all_cores["samples_per_second"],
        "strong_scaling_efficiency_vs_1_thread": one_thread["seconds_per_step"] / (2 * strong["seconds_per_step"]),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"CPU: {summary['cpu']} ({cores} cores seen)")
        for r in results:
            print(f"  {r['name']:42s} batch {r['batch']:3d}: {r['steps_per_second']:.3f} steps/s, {r['samples_per_second']:.2f} samples/s")
        print(f"weak scaling efficiency (2 processes vs 2 x 1 process of 1 thread): {summary['weak_scaling_efficiency_vs_1_thread']:.2f}")
        print(f"speed-up of 2 processes over 1 process using all {cores} cores: {summary['weak_scaling_speedup_vs_all_cores']:.2f}")
        print(f"strong scaling efficiency (same global batch): {summary['strong_scaling_efficiency_vs_1_thread']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
