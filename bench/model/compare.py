#!/usr/bin/env python3
"""The model benchmark, both sides in one run (`make bench`; bench/model/README.md).

Runs, one part per child process (so each peak RSS is its own, read with wait4's rusage):
  * Vitrine: `vitrine bench-model --part sgemm|train|caption|backbone --json` (hidden command);
  * PyTorch: bench/model/run.sh (tools/reference/capture_bench.py: training step and caption
    latency) and tools/reference/efficientnet_reference.py --bench (backbone images/s);
then prints one table with the ratios of the two sides measured in this run, the load averages
before and after every part, and writes every raw figure as JSON (--json-out).

OpenBLAS reads OPENBLAS_CORETYPE when it loads. The environment's value is used as it is for
Vitrine's figures; with --coretype-variant NAME (default SkylakeX, "" for none) the GEMM
ceiling and the training step are measured once more with OPENBLAS_CORETYPE=NAME set for that
child process only, and shown in separate, labelled rows (a benchmark override: Vitrine itself
never changes the user's environment). PyTorch does not use OpenBLAS.

    bench/model/compare.py                      # everything (about 6 minutes on a quiet machine)
    bench/model/compare.py --steps 5 --no-torch # Vitrine only, shorter

Run it on a quiet machine: on 2 cores any other work changes these figures several times over.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.environ.get("VITRINE_TORCH_VENV", "/tmp/vitrine-torch-venv")
PTH = os.path.join(REPO, "Weights", "efficientnet-lite0", "efficientnet-lite0-57934424.pth")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_child_rss(cmd: list[str], env: dict | None = None, label: str = "") -> tuple[str, float]:
    """Runs `cmd` with its stdout in a pipe read to the end, waits with wait4 and returns
    (stdout, peak RSS of the child in MiB)."""
    print(f"  {label or ' '.join(cmd)} (load {load_average()[0]}) ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        errors.seek(0)
        err = errors.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{err[-3000:]}")
    return out, round(usage.ru_maxrss / 1024, 1)  # Linux: KiB


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON object in the output:\n" + text[-2000:])


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo), empty when they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_description() -> str:
    """The CPU's model name and the vector extensions that choose Vitrine's kernels."""
    name = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = cpu_flags()
    vector = [f for f in ("avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512_bf16") if f in flags]
    return f"{name}; {' '.join(vector) or 'no AVX2'}"


def default_coretype_variant() -> str:
    """An OpenBLAS kernel family this CPU can run: forcing SkylakeX on a CPU without AVX-512
    dies with SIGILL, so the variant follows the CPU's own flags."""
    flags = cpu_flags()
    if "avx512f" in flags:
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return ""


def vitrine(binary: str, part: str, args: list[str], coretype: str | None = None,
            gemm: str | None = None) -> dict:
    env = dict(os.environ)
    label = f"vitrine bench-model --part {part} {' '.join(args)}"
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
        label += f" [OPENBLAS_CORETYPE={coretype}]"
    if gemm is not None:
        env["VITRINE_GEMM"] = gemm
        label += f" [VITRINE_GEMM={gemm}]"
    out, rss = run_child_rss([binary, "bench-model", "--part", part, "--json"] + args, env, label)
    result = last_json(out)
    result["child_peak_rss_mib"] = rss
    return result


def torch_side(args) -> dict:
    out, _ = run_child_rss([os.path.join(REPO, "bench/model/run.sh"), "--variants", "all,frozen0-3",
                            "--warmup", str(args.warmup), "--steps", str(args.steps)],
                           label="bench/model/run.sh (PyTorch training steps, caption latency)")
    report = json.loads(out[out.index("{"):])
    backbone = None
    try:
        cmd = [os.path.join(VENV, "bin", "python"), "tools/reference/efficientnet_reference.py", "--bench"]
        if os.path.exists(PTH):
            cmd += ["--pth", PTH]
        text, rss = run_child_rss(cmd, label="tools/reference/efficientnet_reference.py --bench (PyTorch backbone)")
        m = re.search(r"([\d.]+) images/s", text)
        backbone = {"images_per_s": float(m.group(1)) if m else None, "line": text.strip(), "peak_rss_mib": rss}
    except Exception as error:  # the backbone's reference code is fetched with pip: may be offline
        backbone = {"images_per_s": None, "error": str(error)[:500]}
    report["backbone"] = backbone
    return report


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def ratio(ours, theirs, lower_is_better=True):
    """How many times faster (or smaller) Vitrine is: >1 means Vitrine wins."""
    if not ours or not theirs:
        return "n/a"
    r = theirs / ours if lower_is_better else ours / theirs
    return f"{r:.2f}x" + (" (Vitrine ahead)" if r > 1 else " (PyTorch ahead)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(REPO, ".build", "release", "vitrine"))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--coretype-variant", default=default_coretype_variant(),
                        help='OPENBLAS_CORETYPE for the extra, labelled rows ("" for none); default: '
                             'SkylakeX on a CPU with AVX-512F, Haswell on one with AVX2 only, none otherwise')
    parser.add_argument("--no-torch", action="store_true", help="Vitrine's side only")
    parser.add_argument("--json-out", default=os.path.join(REPO, ".build", "bench-model.json"))
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"bench/model: {args.bin} is not built; run `make build` (or pass --bin)")

    results: dict = {"load_average_start": load_average(), "cpu_count": os.cpu_count(),
                     "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", ""),
                     "cpu": cpu_description(),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    print(f"bench/model: load average at start {results['load_average_start']}", file=sys.stderr)
    steps = ["--warmup", str(args.warmup), "--steps", str(args.steps)]
    s = results["vitrine"] = {}
    s["sgemm"] = vitrine(args.bin, "sgemm", [])
    s["train_all"] = vitrine(args.bin, "train", ["--variant", "all"] + steps)
    s["train_frozen"] = vitrine(args.bin, "train", ["--variant", "frozen0-3"] + steps)
    s["caption"] = vitrine(args.bin, "caption", [])
    # Without Vitrine's AVX-512 few-rows kernel (what a processor without AVX-512 runs).
    s["caption_openblas"] = vitrine(args.bin, "caption", [], gemm="openblas")
    # The e5 text tower (12 layers) on 16 Chinese characters, the same weights on both sides.
    s["caption_e5"] = vitrine(args.bin, "caption", ["--text-tower", "e5"])
    s["caption_e5_openblas"] = vitrine(args.bin, "caption", ["--text-tower", "e5"], gemm="openblas")
    s["backbone"] = vitrine(args.bin, "backbone", [])
    if args.coretype_variant:
        c = args.coretype_variant
        s["sgemm_override"] = vitrine(args.bin, "sgemm", [], coretype=c)
        s["train_all_override"] = vitrine(args.bin, "train", ["--variant", "all"] + steps, coretype=c)
        s["train_frozen_override"] = vitrine(args.bin, "train", ["--variant", "frozen0-3"] + steps, coretype=c)
    if not args.no_torch:
        results["torch"] = torch_side(args)
    results["load_average_end"] = load_average()
    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    with open(args.json_out, "w") as f:
        json.dump(results, f, indent=1)

    t = results.get("torch") or {}
    tsteps = {v["variant"]: v for v in t.get("train_step", [])}
    rows = []

    def add(what, ours, theirs, r, load):
        rows.append((what, ours, theirs, r, load))

    def loads(*parts):
        return " / ".join(f"{p['load_average_before'][0]}->{p['load_average_after'][0]}" for p in parts if p)

    ceiling = s["sgemm"]["sgemm"]["openblas_threads"]["gflops_median"]
    env_core = results["openblas_coretype_env"] or "auto"
    add(f"OpenBLAS sgemm 1024^3, 2 threads (GFLOP/s) [coretype {env_core}]", fmt(ceiling, 1), "", "", loads(s["sgemm"]))
    for key, variant, label in [("train_all", "all", "all trainable"), ("train_frozen", "frozen0-3", "text emb. + 0-3 frozen")]:
        ours, theirs = s[key], tsteps.get(variant)
        add(f"training step, {label} (s, median) [{env_core}]",
            f"{fmt(ours['step_s']['median'])} (f {fmt(ours['forward_s_median'])}, b {fmt(ours['backward_s_median'])}, o {fmt(ours['optimizer_s_median'])})",
            f"{fmt(theirs['step_s']['median'])} (f {fmt(theirs['forward_s_median'])}, b {fmt(theirs['backward_s_median'])}, o {fmt(theirs['optimizer_s_median'])})" if theirs else "n/a",
            ratio(ours["step_s"]["median"], theirs["step_s"]["median"] if theirs else None), loads(ours, theirs))
        add(f"  share of time in GEMM, {label}", f"{ours['gemm_share'] * 100:.0f} %", "n/a (not measured)", "", "")
        add(f"  model GFLOP/s, {label} (of sgemm ceiling)",
            f"{fmt(ours['achieved_gflops_at_median'], 1)} ({ours['achieved_gflops_at_median'] / ceiling * 100:.0f} %), "
            f"{fmt(ours['matmul_gflop_per_step'], 1)} GFLOP/step",
            f"{fmt(theirs['achieved_gflops_at_median'], 1)} ({theirs['achieved_gflops_at_median'] / ceiling * 100:.0f} %), "
            f"{fmt(theirs['matmul_gflop_per_step'], 1)} GFLOP/step" if theirs else "n/a", "", "")
        add(f"  peak RSS, {label} (MiB)", fmt(ours["child_peak_rss_mib"], 0),
            fmt(theirs["peak_rss_mib"], 0) if theirs else "n/a",
            ratio(ours["child_peak_rss_mib"], theirs["peak_rss_mib"] if theirs else None), "")
    cap, tcap = s["caption"], t.get("caption")
    add("caption embedding, 16 tokens, batch 1 (ms, p50)", fmt(cap["latency_ms"]["median"]),
        fmt(tcap["latency_ms"]["median"]) if tcap else "n/a",
        ratio(cap["latency_ms"]["median"], tcap["latency_ms"]["median"] if tcap else None), loads(cap, tcap))
    cob = s["caption_openblas"]
    add("  same, dense layers through OpenBLAS only [VITRINE_GEMM=openblas]", fmt(cob["latency_ms"]["median"]),
        fmt(tcap["latency_ms"]["median"]) if tcap else "n/a",
        ratio(cob["latency_ms"]["median"], tcap["latency_ms"]["median"] if tcap else None), loads(cob))
    e5, te5 = s["caption_e5"], t.get("caption_e5")
    if te5 and te5.get("piece_ids") != e5.get("piece_ids"):
        print("bench/model: warning: the e5 caption's ids differ between Vitrine and the Python tokenizer", file=sys.stderr)
    e5label = f"caption embedding, e5, 16 Chinese characters ({e5['tokens']} pieces), batch 1 (ms, p50)"
    add(e5label, fmt(e5["latency_ms"]["median"]), fmt(te5["latency_ms"]["median"]) if te5 else "n/a",
        ratio(e5["latency_ms"]["median"], te5["latency_ms"]["median"] if te5 else None), loads(e5, te5))
    eob = s["caption_e5_openblas"]
    add("  same, dense layers through OpenBLAS only [VITRINE_GEMM=openblas]", fmt(eob["latency_ms"]["median"]),
        fmt(te5["latency_ms"]["median"]) if te5 else "n/a",
        ratio(eob["latency_ms"]["median"], te5["latency_ms"]["median"] if te5 else None), loads(eob))
    bb, tbb = s["backbone"], (t.get("backbone") or {})
    add("backbone to block 15, 224x224, batch 32 (images/s, median)", fmt(bb["images_per_s_median"], 1),
        fmt(tbb.get("images_per_s"), 1), ratio(bb["images_per_s_median"], tbb.get("images_per_s"), lower_is_better=False),
        loads(bb))
    if args.coretype_variant:
        c = args.coretype_variant
        oc = s["sgemm_override"]["sgemm"]["openblas_threads"]["gflops_median"]
        add(f"OpenBLAS sgemm 1024^3, 2 threads (GFLOP/s) [OPENBLAS_CORETYPE={c}, bench override]", fmt(oc, 1), "", "",
            loads(s["sgemm_override"]))
        for key, variant, label in [("train_all_override", "all", "all trainable"),
                                    ("train_frozen_override", "frozen0-3", "text emb. + 0-3 frozen")]:
            ours, theirs = s[key], tsteps.get(variant)
            add(f"training step, {label} (s, median) [{c}, bench override]",
                f"{fmt(ours['step_s']['median'])} (GEMM {ours['gemm_share'] * 100:.0f} %, "
                f"{fmt(ours['achieved_gflops_at_median'], 1)} GFLOP/s)",
                fmt(theirs["step_s"]["median"]) if theirs else "n/a",
                ratio(ours["step_s"]["median"], theirs["step_s"]["median"] if theirs else None), loads(ours))

    print()
    print(f"Model benchmark, {results['started']}; 2 threads each side; Vitrine {os.path.relpath(args.bin, REPO)}, "
          f"PyTorch {t.get('torch', 'not run')} eager; OPENBLAS_CORETYPE in the environment: {env_core}")
    print(f"load average: start {results['load_average_start']}, end {results['load_average_end']}")
    print(f"CPU: {results['cpu']}")
    header = ("what", "Vitrine", "PyTorch", "ratio (>1: Vitrine ahead)", "load 1-min before->after")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    prof = s["train_all"]["kernel_wall_s"]
    total = s["train_all"]["profiled_step_s"]
    print(f"\nWhere Vitrine's step goes (all trainable, one profiled step of {total:.3f} s, wall seconds by kernel):")
    for name, secs in sorted(prof.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s} {secs:7.3f} s  {secs / total * 100:5.1f} %")
    print(f"(raw figures: {os.path.relpath(args.json_out, REPO)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
