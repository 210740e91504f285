#!/usr/bin/env python3
"""Vitrine's exact search against faiss's IndexFlatIP: same vectors, same queries, top-k.

For each gallery size and batch size it times both engines on the same random unit vectors
(numpy, seeded), checks that they return the same ids, and prints queries per second and the
ratio. Vitrine runs through its hidden `vitrine bench-search` command; faiss (faiss-cpu from
PyPI) is a benchmark-only dependency, installed by run.sh into a throwaway virtual environment.

Usage: faiss_bench.py --vitrine PATH [--sizes 100000,1000000] [--batches 1,64] [--work DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import faiss
import numpy as np

MAX_THREADS = faiss.omp_get_max_threads()


def unit_vectors(rows, dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def cached(path, make):
    if not os.path.exists(path):
        make().tofile(path + ".tmp")
        os.replace(path + ".tmp", path)
    return path


def time_faiss(index, queries, batch, k):
    """faiss's best queries per second over OpenMP thread counts 1 and all (with other work on the
    machine, faiss's OpenMP threads spin at barriers and one thread can beat two), and its ids."""
    best = (0.0, None, 0)
    for threads in sorted({1, MAX_THREADS}):
        faiss.omp_set_num_threads(threads)
        index.search(queries[:batch], k)  # warm-up
        ids = []
        start = time.perf_counter()
        for i in range(0, len(queries), batch):
            _, found = index.search(queries[i:i + batch], k)
            ids.append(found)
        qps = len(queries) / (time.perf_counter() - start)
        if qps > best[0]:
            best = (qps, np.vstack(ids), threads)
    faiss.omp_set_num_threads(MAX_THREADS)
    return best


def run_vitrine(vitrine, gallery_path, query_path, dim, batch, k, compact, ids_path):
    command = [vitrine, "bench-search", "--gallery", gallery_path, "--queries", query_path,
               "--dim", str(dim), "--k", str(k), "--batch", str(batch), "--ids-out", ids_path]
    if compact:
        command.append("--compact")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    report = json.loads(output.strip().splitlines()[-1])
    return report["qps"], np.fromfile(ids_path, dtype=np.int64).reshape(-1, k)


def compare(gallery, queries, a, b):
    """(same lists, lists differing only by near-ties, lists differing otherwise)."""
    same = near = other = 0
    for q in range(len(a)):
        if np.array_equal(a[q], b[q]):
            same += 1
            continue
        scores = gallery.astype(np.float64) @ queries[q].astype(np.float64)
        # Differences are acceptable only between items whose exact scores are within float32 noise.
        sa, sb = scores[a[q]], scores[b[q]]
        if np.all(np.abs(np.sort(sa)[::-1] - np.sort(sb)[::-1]) < 1e-5):
            near += 1
        else:
            other += 1
    return same, near, other


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vitrine", required=True, help="path of the vitrine executable (release build)")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--work", default="/tmp/vitrine-bench-search")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each engine this many times, alternating, and keep the best (other work on a shared machine only slows runs down)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    dim, k = args.dim, args.k

    rows = []
    print("faiss %s (best of 1 and %d OpenMP threads), numpy %s; best of %d runs each; load average %s"
          % (faiss.__version__, MAX_THREADS, np.__version__, args.repeat, open("/proc/loadavg").read().split()[0]))
    for n in [int(s) for s in args.sizes.split(",")]:
        gallery_path = cached(os.path.join(args.work, "gallery-%d-%d.f32" % (n, dim)),
                              lambda: unit_vectors(n, dim, args.seed))
        gallery = np.fromfile(gallery_path, dtype=np.float32).reshape(n, dim)
        index = faiss.IndexFlatIP(dim)
        index.add(gallery)
        for batch in [int(s) for s in args.batches.split(",")]:
            # Enough queries for a few seconds of faiss time at the speeds of the issue.
            count = max(batch * 4, int(256 if n >= 1_000_000 else 1024) // batch * batch)
            query_path = cached(os.path.join(args.work, "queries-%d-%d.f32" % (count, dim)),
                                lambda: unit_vectors(count, dim, args.seed + 1))
            queries = np.fromfile(query_path, dtype=np.float32).reshape(count, dim)
            variants = [False, True] if batch == 1 else [False]
            best = {}
            for _ in range(args.repeat):
                faiss_qps, faiss_ids, faiss_threads = time_faiss(index, queries, batch, k)
                if faiss_qps > best.get("faiss", 0):
                    best["faiss"], best["faiss_threads"] = faiss_qps, faiss_threads
                for compact in variants:
                    ids_path = os.path.join(args.work, "vitrine-ids.i64")
                    qps, ids = run_vitrine(args.vitrine, gallery_path, query_path, dim, batch, k, compact, ids_path)
                    best[compact] = max(best.get(compact, 0), qps)
                    if compact not in best.get("ids", {}):
                        best.setdefault("ids", {})[compact] = compare(gallery, queries, faiss_ids, ids)
            for compact in variants:
                same, near, other = best["ids"][compact]
                faiss_qps, qps = best["faiss"], best[compact]
                rows.append((n, batch, "bf16+rescore" if compact else "f32", count, faiss_qps, qps, same, near, other))
                print("n=%d batch=%d %s: faiss %.1f q/s (%d thread%s), vitrine %.1f q/s (x%.2f); ids: %d identical, %d near-tie, %d different"
                      % (n, batch, rows[-1][2], faiss_qps, best["faiss_threads"], "" if best["faiss_threads"] == 1 else "s",
                         qps, qps / faiss_qps, same, near, other), flush=True)
        del index

    print()
    print("| gallery | batch | vitrine path | queries | faiss q/s | vitrine q/s | ratio | same ids |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for n, batch, path, count, fq, vq, same, near, other in rows:
        detail = "%d/%d" % (same, count) + ("" if near == 0 else ", %d near-tie" % near) + ("" if other == 0 else ", %d DIFFERENT" % other)
        print("| %s | %d | %s | %d | %.1f | %.1f | %.2f | %s |" % ("{:,}".format(n), batch, path, count, fq, vq, vq / fq, detail))
    return 1 if any(r[8] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
