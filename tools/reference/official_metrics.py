#!/usr/bin/env python3
"""Reference implementation of Product1M's official retrieval metrics (docs/data.md section 2).

A re-expression, written for Vitrine, of the logic of the official script
`CAPTURE/evaluate_suit.py` in github.com/zhanxlin/Product1M (the version after the fix
of 2022-04-20 discussed in that repository's issue #3, where the per-label recall terms
are summed). It keeps every behaviour that changes the numbers:

- queries of both the test and the dev file are known (dev read last, overriding);
- `pos` is a list: a label repeated in the query adds its gallery ids twice;
- k = min(N, len(pos), len(ranking)); AP is divided by the hits found in the first k;
- AR uses N itself: e_l = count(l in Q) * int(N / len(Q)), capped at the gallery count;
- a line that raises (unknown query id, query label without gallery items, empty ranking,
  unknown gallery id among the first N, e_l = 0 for a retrieved label) still counts in the
  denominator with what it had added before the error: AP and Prec are added together after
  both are computed, AR after it is computed;
- floats are summed line by line in file order and written with json.dump(indent=2).

Vitrine's Swift implementation (Sources/Retrieval/Evaluation) is tested against this file.

Usage: official_metrics.py --gt DATASET_DIR --rankings retrieval_id_list.txt [--out DIR]
Prints the metric_results.json text; with --out also writes DIR/metric_results.json.
"""
import argparse
import json
import os
import sys

CUTOFFS = (10, 50, 100)


def read_labelled(path):
    """(item_id, labels) pairs of a Product1M split file, read as the official script does."""
    items = []
    with open(path) as handle:
        for raw in handle.readlines():
            fields = raw.strip().split("#####")
            items.append((fields[0], fields[4].split("#;#")))
    return items


def load_ground_truth(folder):
    gallery_label = {}
    for item_id, labels in read_labelled(os.path.join(folder, "product1m_gallery_ossurl_v2.txt")):
        gallery_label[item_id] = labels[0]
    query_labels = {}
    for name in ("product1m_test_ossurl_v2.txt", "product1m_dev_ossurl_v2.txt"):
        for item_id, labels in read_labelled(os.path.join(folder, name)):
            query_labels[item_id] = labels
    ids_of_label = {}
    for item_id, label in gallery_label.items():
        ids_of_label.setdefault(label, []).append(item_id)
    return gallery_label, query_labels, ids_of_label


def precision_and_ap(ranking, positives, k):
    hits = 0
    ap = 0.0
    for i in range(k):
        if ranking[i] in positives:
            hits += 1
            ap += hits / (i + 1)
    ap = ap / hits if hits else 0
    return hits / k, ap  # raises ZeroDivisionError when k == 0


def average_recall(ranking, labels, n, gallery_label, ids_of_label):
    share = int(n / len(labels))
    expected = {}
    for label in labels:
        expected[label] = expected.get(label, 0) + share
    for label in expected:
        expected[label] = min(expected[label], len(ids_of_label[label]))
    retrieved = {}
    for item_id in ranking[:n]:
        label = gallery_label[item_id]  # KeyError for an id that is not in the gallery
        if label in expected:
            retrieved[label] = retrieved.get(label, 0) + 1
    total = 0
    for label in retrieved:  # insertion order: order of first retrieval
        total += min(retrieved[label], expected[label]) / expected[label]
    return total / len(set(labels))


def evaluate(ground_truth, lines):
    gallery_label, query_labels, ids_of_label = ground_truth
    results = {}
    for n in CUTOFFS:
        sums = {"mAP": 0, "Prec": 0, "mAR": 0}
        count = 0
        for line in lines:
            fields = line.strip().split(",")
            query_id, ranking = fields[0], fields[1:]
            count += 1
            try:
                labels = query_labels[query_id]
                positives = []
                for label in labels:
                    positives += ids_of_label[label]
                k = min(n, len(positives), len(ranking))
                precision, ap = precision_and_ap(ranking, positives, k)
                sums["mAP"] += ap
                sums["Prec"] += precision
                sums["mAR"] += average_recall(ranking, labels, n, gallery_label, ids_of_label)
            except Exception:  # the official script catches everything and goes on
                pass
        results["top%d" % n] = {key: value / count for key, value in sums.items()}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gt", required=True, help="Product1M-layout dataset folder")
    parser.add_argument("--rankings", required=True, help="retrieval_id_list.txt")
    parser.add_argument("--out", help="folder to write metric_results.json into")
    args = parser.parse_args()
    with open(args.rankings) as handle:
        lines = handle.readlines()
    results = evaluate(load_ground_truth(args.gt), lines)
    text = json.dumps(results, indent=2, ensure_ascii=False)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "metric_results.json"), "w") as handle:
            json.dump(results, handle, indent=2, ensure_ascii=False)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
