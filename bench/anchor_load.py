"""Anchor for bench/explorer.sh: a plain Python parser of the same Product1M
split files (split on '#####' and '#;#', list images/), what a quick script
would do. Prints the number of samples read."""
import os
import sys

root = sys.argv[1]
images = set(os.listdir(os.path.join(root, "images"))) if os.path.isdir(os.path.join(root, "images")) else set()
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
            samples.append((fields[0], fields[1], labels, (fields[0] + ".jpg") in images))
            n += 1
print(n)
