"""Datasets as training needs them (docs/data.md §1, §3, §5): Product1M split files and the plain
folder format (captions.tsv / captions.jsonl), read with Vitrine's loading rules. A malformed line
is skipped, counted and reported (`file:line: reason`); a missing image is not malformed (the sample
is kept without one, and training leaves it out).

What is kept per sample: id, caption, image path (or None), labels (file order, repeats kept), line.
Everything is held in memory (about 0.3-0.5 KB a sample: ~0.5 GB for Product1M's 1.13 M training
lines per process), where Vitrine keeps 26 bytes a line and reads lines back on demand.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

MAX_TITLE_BYTES = 4096
MAX_LABELS = 256
MAX_LABEL_BYTES = 1024
MAX_ID_BYTES = 1024
MAX_FILE_BYTES = 8 << 30
PRODUCT1M_SPLITS = (("train", "train", True), ("dev", "query", False), ("test", "query", False),
                    ("gallery", "gallery", False))
ASCII_WS = " \t\n\r\x0b\x0c"


class DatasetError(Exception):
    pass


@dataclasses.dataclass
class Sample:
    id: str
    caption: str
    image: Optional[str]
    labels: tuple
    line: int


@dataclasses.dataclass
class Split:
    name: str
    role: str            # train, query, gallery
    file: str
    samples: list
    issues: list         # (file, line, reason)

    def __post_init__(self):
        self.index = {s.id: i for i, s in enumerate(self.samples)}


@dataclasses.dataclass
class Dataset:
    root: str
    name: str
    format: str
    splits: list

    @property
    def identity_key(self) -> str:
        """`name:root`, as the explorer writes flags (Dataset.identityKey)."""
        return f"{self.name}:{self.root}"

    def split(self, name: str) -> Optional[Split]:
        return next((s for s in self.splits if s.name == name), None)

    def splits_of(self, role: str) -> list:
        return [s for s in self.splits if s.role == role]

    @property
    def malformed(self) -> int:
        return sum(len(s.issues) for s in self.splits)


def _regular_file(path: str) -> None:
    import stat
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError(f"{path} is not a regular file (a FIFO, device or folder); a split file must be a file")
    if st.st_size > MAX_FILE_BYTES:
        raise DatasetError(f"{path} is {st.st_size} bytes, above the 8 GiB limit of a split file")


def _lines(data: bytes):
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    number = 0
    for raw in data.split(b"\n"):
        number += 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        yield number, raw


def _image_table(root: str) -> dict:
    """images/ listed once: id -> path, `.jpg` over `.jpeg` over `.png` (any case)."""
    folder = os.path.join(root, "images")
    rank = {"jpg": 0, "jpeg": 1, "png": 2}
    table: dict = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return table
    for name in sorted(names):
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem.isdigit() or not stem.isascii() or ext.lower() not in rank:
            continue
        r = rank[ext.lower()]
        if stem not in table or r < table[stem][0]:
            table[stem] = (r, os.path.join(folder, name))
    return {k: v[1] for k, v in table.items()}


def _label_problem(count: int, longest: int) -> Optional[str]:
    if count > MAX_LABELS:
        return f"more than {MAX_LABELS} labels"
    if longest > MAX_LABEL_BYTES:
        return f"a label longer than {MAX_LABEL_BYTES} bytes"
    return None


def load_product1m(root: str) -> list:
    images = _image_table(root)
    splits = []
    for name, role, four in PRODUCT1M_SPLITS:
        path = os.path.join(root, f"product1m_{name}_ossurl_v2.txt")
        if not os.path.exists(path):
            continue
        _regular_file(path)
        with open(path, "rb") as f:
            data = f.read()
        samples, issues, seen = [], [], {}
        for number, raw in _lines(data):
            if not raw.strip(ASCII_WS.encode()):
                continue

            def bad(reason):
                issues.append((path, number, reason))
            fields = raw.split(b"#####")
            if not (len(fields) == 5 or (four and len(fields) == 4)):
                bad(f"expected {'4 or 5' if four else '5'} fields separated by #####, found {len(fields)}")
                continue
            try:
                texts = [f.decode("utf-8").strip(ASCII_WS) for f in fields]
            except UnicodeDecodeError:
                bad("invalid UTF-8")
                continue
            item, caption = texts[0], texts[1]
            if not item:
                bad("empty id"); continue
            if not (item.isascii() and item.isdigit()):
                bad("the id is not digits only"); continue
            if len(item.encode()) > MAX_ID_BYTES:
                bad(f"the id is longer than {MAX_ID_BYTES} bytes"); continue
            if len(caption.encode()) > MAX_TITLE_BYTES:
                bad(f"the title is longer than {MAX_TITLE_BYTES} bytes"); continue
            labels = []
            if len(texts) == 5:
                labels = [l.strip(ASCII_WS) for l in texts[4].split("#;#")]
                labels = [l for l in labels if l]
            problem = _label_problem(len(labels), max((len(l.encode()) for l in labels), default=0))
            if problem:
                bad(problem); continue
            if item in seen:
                bad(f"duplicate id {item} (first on line {seen[item]})"); continue
            seen[item] = number
            samples.append(Sample(item, caption, images.get(item), tuple(labels), number))
        splits.append(Split(name, role, path, samples, issues))
    return splits


def _escapes(image: str) -> Optional[str]:
    if "\x00" in image:
        return "holds a NUL byte"
    if image.startswith("/"):
        return "is an absolute path"
    if image.startswith("~"):
        return "starts with ~"
    if ".." in image.split("/"):
        return "has a .. component"
    return None


def _resolve(root: str, image: str) -> Optional[str]:
    if not image:
        return None
    path = os.path.join(root, image)
    if os.path.isfile(path):
        return path
    if "/" not in image:
        alt = os.path.join(root, "images", image)
        if os.path.isfile(alt):
            return alt
    return None


def load_folder(root: str, fmt: str) -> list:
    path = os.path.join(root, "captions.tsv" if fmt == "tsv" else "captions.jsonl")
    _regular_file(path)
    with open(path, "rb") as f:
        data = f.read()
    samples: dict = {"train": [], "query": [], "gallery": []}
    index: dict = {"train": {}, "query": {}, "gallery": {}}
    issues: dict = {"train": [], "query": [], "gallery": [], None: []}
    uses_split = False
    header_names = [["id"], ["image", "image-file", "image_file"], ["caption"], ["labels"], ["split"]]
    for number, raw in _lines(data):
        if not raw.strip(ASCII_WS.encode()):
            continue
        target = None          # None: unknown; "": no split (query and gallery)

        def bad(reason, where):
            for role in (["query", "gallery"] if where == "" else [where]):
                issues[role].append((path, number, reason))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad("invalid UTF-8", None); continue
        if fmt == "tsv":
            fields = [f.strip(ASCII_WS) for f in text.split("\t")]
            if number == 1 and len(fields) in (4, 5) and all(fields[k].lower() in header_names[k] for k in range(len(fields))):
                uses_split = uses_split or len(fields) == 5
                continue
            if len(fields) == 5 and fields[4]:
                target = fields[4].lower()
                if target not in samples:
                    bad(f"unknown split {fields[4]!r} (expected train, query or gallery)", None); continue
            elif len(fields) in (4, 5):
                target = ""
            if len(fields) not in (4, 5):
                bad(f"expected 4 or 5 tab-separated fields, found {len(fields)}", target); continue
            item, image, caption = fields[0], fields[1], fields[2]
            labels = [l.strip(ASCII_WS) for l in fields[3].split(";")]
        else:
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                bad(f"not a JSON object ({error})", None); continue
            split = obj.get("split")
            if split is None or (isinstance(split, str) and not split.strip()):
                target = ""
            elif isinstance(split, str) and split.strip().lower() in samples:
                target = split.strip().lower()
            else:
                bad(f"unknown split {split!r} (expected train, query or gallery)", None); continue
            item = obj.get("id")
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            image = obj.get("image") or ""
            caption = obj.get("caption")
            labels = obj.get("labels") or []
            if isinstance(labels, str):
                labels = [l.strip(ASCII_WS) for l in labels.split(";")]
            if not isinstance(item, str) or not isinstance(caption, str) or not isinstance(image, str) \
                    or not isinstance(labels, list) or not all(isinstance(l, str) for l in labels):
                bad("a field has the wrong JSON type (id string or number, caption string, image string, labels list)", target)
                continue
        labels = [l for l in labels if l]
        if not item:
            bad("empty id", target); continue
        if len(caption.encode()) > MAX_TITLE_BYTES:
            bad(f"the caption is longer than {MAX_TITLE_BYTES} bytes", target); continue
        problem = _label_problem(len(labels), max((len(l.encode()) for l in labels), default=0))
        if problem:
            bad(problem, target); continue
        if len(item.encode()) > MAX_ID_BYTES or len(image.encode()) > MAX_ID_BYTES:
            bad(f"the id or image reference is over {MAX_ID_BYTES} bytes", target); continue
        escape = _escapes(image)
        if escape:
            bad(f"image {image!r} {escape}: images are read from inside the dataset folder only", target); continue
        roles = [target] if target else ["query", "gallery"]
        if target:
            uses_split = True
        if any(item in index[r] for r in roles):
            bad(f"duplicate id {item!r}", target); continue
        sample = Sample(item, caption, _resolve(root, image), tuple(labels), number)
        for r in roles:
            index[r][item] = len(samples[r])
            samples[r].append(sample)
    splits = []
    for role in ("train", "query", "gallery"):
        present = (samples[role] or issues[role]) if uses_split else role != "train"
        if present:
            splits.append(Split(role, role, path, samples[role], issues[role]))
    return splits


def load(path: str) -> Dataset:
    """The dataset at `path`: Product1M when a split file is there, else captions.tsv, else .jsonl."""
    root = os.path.normpath(os.path.abspath(path))
    if not os.path.isdir(root):
        raise DatasetError(f"no such dataset folder: {root}; pass --data DIR (a Product1M layout or a captions.tsv/.jsonl folder)")
    name = os.path.basename(root) or "/"
    if any(os.path.exists(os.path.join(root, f"product1m_{s}_ossurl_v2.txt")) for s, _, _ in PRODUCT1M_SPLITS):
        return Dataset(root, name, "product1m", load_product1m(root))
    for fmt, file in (("tsv", "captions.tsv"), ("jsonl", "captions.jsonl")):
        if os.path.exists(os.path.join(root, file)):
            return Dataset(root, name, fmt, load_folder(root, fmt))
    raise DatasetError(f"{root} holds no dataset: no product1m_*_ossurl_v2.txt split file, no captions.tsv or captions.jsonl")
