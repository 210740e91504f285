"""Anchor for bench/fullsize.sh: a Python loop that reads every line of the Product1M split files
and splits it on '#####' and '#;#', keeping nothing (what the cheapest script pays to look at every
field once). Prints the number of lines with 4 or 5 fields."""
import os
import sys

root = sys.argv[1]
n = 0
for name in ("train", "dev", "test", "gallery"):
    path = os.path.join(root, f"product1m_{name}_ossurl_v2.txt")
    if not os.path.exists(path):
        continue
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\r\n").split("#####")
            if len(fields) in (4, 5):
                if len(fields) == 5:
                    fields[4].split("#;#")
                n += 1
print(n)
