"""Anchors for the benchmark scripts: a plain Python parser of the Product1M split files in a
folder, what a quick script would do.

    anchor_load.py ROOT          split every line on '#####' and '#;#', list images/, keep every
                                 sample (bench/explorer.sh)
    anchor_load.py ROOT --split  split every line the same way and keep nothing (bench/fullsize.sh:
                                 the cheapest look at every field)

Prints the number of samples read."""
import os
import sys

root = sys.argv[1]
keep = "--split" not in sys.argv[2:]
images_dir = os.path.join(root, "images")
images = set(os.listdir(images_dir)) if keep and os.path.isdir(images_dir) else set()
n = 0
samples = []
for name in ("train", "dev", "test", "gallery"):
    path = os.path.join(root, f"product1m_{name}_ossurl_v2.txt")
    if not os.path.exists(path):
        continue
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("#####")
            if len(fields) not in (4, 5):
                continue
            labels = fields[4].split("#;#") if len(fields) == 5 else []
            if keep:
                samples.append((fields[0], fields[1], labels, (fields[0] + ".jpg") in images))
            n += 1
print(n)
