"""Dev evaluation: the official Product1M mAP@10 (docs/data.md §2) of the fused embeddings `e`
(image and caption queries against the gallery, the Product1M protocol), as `vitrine train` measures
a run. The metric is this repository's tools/reference/official_metrics.py logic (AP divided by the
hits in the first k = min(N, |pos|, |ranking|); an unknown query or label counts 0)."""

from __future__ import annotations

import os

import numpy as np


def ground_truth(dataset) -> tuple:
    """(gallery first label by id, query labels by id): for Product1M the three files read as the
    official script reads them (test then dev, dev overriding); else from the loaded splits."""
    gallery, queries = {}, {}
    if dataset.format == "product1m":
        def read(name):
            path = os.path.join(dataset.root, f"product1m_{name}_ossurl_v2.txt")
            out = []
            if not os.path.exists(path):
                return out
            with open(path, "rb") as f:
                for raw in f.read().split(b"\n"):
                    try:
                        fields = raw.decode("utf-8").strip().split("#####")
                    except UnicodeDecodeError:
                        continue
                    if len(fields) < 5:
                        continue
                    out.append((fields[0], fields[4].split("#;#")))
            return out
        for item, labels in read("gallery"):
            gallery[item] = labels[0]
        for name in ("test", "dev"):
            for item, labels in read(name):
                queries[item] = labels
    else:
        for split in dataset.splits_of("gallery"):
            for s in split.samples:
                gallery[s.id] = s.labels[0] if s.labels else ""
        for split in dataset.splits_of("query"):
            for s in split.samples:
                queries[s.id] = list(s.labels) or [""]
    return gallery, queries


def map_at(rankings: list, truth: tuple, n: int = 10) -> float:
    """Mean AP@n over `rankings` [(query id, [gallery ids best first])]."""
    gallery, queries = truth
    ids_of = {}
    for item, label in gallery.items():
        ids_of.setdefault(label, []).append(item)
    total = 0.0
    for query, ranking in rankings:
        labels = queries.get(query)
        if labels is None:
            continue
        try:
            positives = []
            for label in labels:
                positives += ids_of[label]
        except KeyError:
            continue
        pos = set(positives)
        k = min(n, len(positives), len(ranking))
        if k == 0:
            continue
        hits, ap = 0, 0.0
        for i in range(k):
            if ranking[i] in pos:
                hits += 1
                ap += hits / (i + 1)
        total += ap / hits if hits else 0.0
    return total / len(rankings) if rankings else 0.0


def rank(gallery_ids: list, gallery_e: np.ndarray, query_ids: list, query_e: np.ndarray, k: int = 100) -> list:
    """Top-k gallery ids for each query by cosine (dot product of unit vectors), the query itself left out."""
    scores = query_e @ gallery_e.T
    out = []
    for qi, q in enumerate(query_ids):
        order = np.argsort(-scores[qi], kind="stable")
        ranking = [gallery_ids[j] for j in order[:k + 1] if gallery_ids[j] != q][:k]
        out.append((q, ranking))
    return out
