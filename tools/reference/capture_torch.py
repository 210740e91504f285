#!/usr/bin/env python3
"""CAPTURE as Vitrine's docs/model.md specifies it, in plain PyTorch: the portability reference.

This is a straightforward implementation of docs/model.md (Vitrine's model documentation), written
for reading, not for speed. Its parameter names are exactly the checkpoint names of docs/model.md §8.2,
so a Vitrine checkpoint loads with

    model = CaptureTorch(config)
    model.load_state_dict(safetensors.torch.load_file(path), strict=False)   # frozen parts aside

(or with `load_checkpoint`, which also reads the configuration from the metadata, widens
float16, fills referenced frozen parts from MiniLM's file and checks that nothing else is missing).

What it fixes, part by part (every width 384, 12 heads of 32, FFN 1536, GELU with erf,
LayerNorm eps 1e-12, post-LN layers as in BERT):

* text stream `text.`: BERT embeddings (word + position + token type 0, LayerNorm, dropout)
  and `text_layers` BERT layers, Hugging Face names (MiniLM-L6's weights load as they are);
* image stream `image.`: image tokens are a global token (mean of the 49 cells) then the 49
  cells row-major, with boxes (x1, y1, x2, y2, area): cell (r, c) is (c/7, r/7, (c+1)/7,
  (r+1)/7, 1/49), the global token (0, 0, 1, 1, 1);
  `v0 = dropout(LayerNorm(feat_proj(f) + box_proj(box)))`, then `image_layers` BERT layers
  (no padding among image tokens);
* CLR projections `clr.text`, `clr.image` (384 -> 256, no activation) on t[CLS] and v[global]
  of the single-stream outputs, L2-normalised: z_t, z_v;
* co-attention `co.layer.N.{text,image}.`: two BERT layers that read the same inputs; the text
  side's queries attend to the image tokens (none masked), the image side's queries attend to
  the text tokens (padding masked); each side keeps its own residual, LayerNorms and FFN;
* cross stream `cross.`: `[text; image] + modality_embeddings[0 | 1]` (no LayerNorm, no
  dropout on the sum), then `cross_layers` BERT layers, text padding masked;
* fusion `fuse` (768 -> 256) on `[x[CLS]; x[global]]`, x[global] being position `length`
  (the padded text length) of the cross stream, L2-normalised: e;
* heads: `mlm.transform.{dense,LayerNorm}`, GELU between them, then the word-embedding matrix
  (tied, `text.embeddings.word_embeddings.weight`) plus `mlm.bias`; `mrm` (384 -> 320).

Attention: scores `q k^T / sqrt(32)` plus an additive mask of `finfo(float32).min` on padded
keys (as Hugging Face BERT), softmax, dropout on the probabilities in training.
Dropout 0.1 (BERT's hidden and attention probabilities) in training, none in eval (`model.eval()`).

Losses (`pretraining_losses`), summed with weight 1:
* MLM: cross-entropy over the masked text positions of the cross stream;
* MRM: mean squared error (mean over the chosen regions and their 320 channels) between the
  `mrm` output on the cross stream's chosen image tokens and the original backbone features;
* CLR: NT-Xent over the 2B vectors [z_t; z_v], temperature 0.07: row i's positive is the other
  modality of the same pair, every other row except itself a negative (2B - 2 of them); the
  loss is the mean over all 2B rows.
`mask_batch` draws the MLM and MRM masks as docs/model.md §5.1 says (see its docstring for the details).

Usage: `python3 tools/reference/capture_torch.py --help` (a self-check, an embedding of given
inputs from a checkpoint, or a few training steps on random inputs). torch, numpy and
safetensors are needed; torch is never a dependency of Vitrine itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

# BERT uncased special tokens (MiniLM's vocab.txt).
PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 101, 102, 103


# --------------------------------------------------------------------------- configuration

@dataclasses.dataclass
class CaptureConfig:
    """Layer counts and widths; the defaults are what ships (docs/model.md §1, "Overview")."""

    hidden: int = 384
    heads: int = 12
    intermediate: int = 1536
    vocab_size: int = 30522
    max_positions: int = 512
    type_vocab_size: int = 2
    text_layers: int = 6
    image_layers: int = 2
    co_layers: int = 2
    cross_layers: int = 2
    clr_dim: int = 256
    fused_dim: int = 256
    region_feature_dim: int = 320
    box_dim: int = 5
    image_tokens: int = 50
    max_text_length: int = 36
    layer_norm_eps: float = 1e-12
    # The pretrained tower the text stream started from: "minilm" (all-MiniLM-L6-v2, WordPiece)
    # or "e5" (multilingual-e5-small, SentencePiece, pruned word table). The architecture is the
    # same; it decides which weights file holds the frozen text tensors a checkpoint leaves out.
    # Checkpoints written before the choice existed have none: MiniLM.
    text_tower: str = "minilm"
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1

    @property
    def grid_side(self) -> int:
        side = math.isqrt(self.image_tokens - 1)
        if side * side != self.image_tokens - 1:
            raise ValueError(f"image_tokens ({self.image_tokens}) must be 1 + a square number of cells")
        return side

    @classmethod
    def from_dict(cls, values: dict) -> "CaptureConfig":
        """From a checkpoint's configuration JSON, with snake_case or camelCase keys
        (Vitrine's Swift `CaptureConfig` writes camelCase: `vocabSize`, `textLayers`, ...)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        out = {}
        for key, value in values.items():
            snake = "".join("_" + ch.lower() if ch.isupper() else ch for ch in key)
            if snake in fields:
                out[snake] = value
        return cls(**out)


# --------------------------------------------------------------------------- BERT blocks

def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """`[batch, keys]` of 1 (real) / 0 (padding) -> `[batch, 1, 1, keys]` additive attention bias."""
    return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min


class BertSelfAttention(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.heads, self.head_dim = c.heads, c.hidden // c.heads
        self.query = nn.Linear(c.hidden, c.hidden)
        self.key = nn.Linear(c.hidden, c.hidden)
        self.value = nn.Linear(c.hidden, c.hidden)
        self.dropout = nn.Dropout(c.attention_dropout)
        self.last_probabilities: Optional[torch.Tensor] = None
        self.keep_probabilities = False

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        q, k, v = self.split(self.query(x)), self.split(self.key(context)), self.split(self.value(context))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if bias is not None:
            scores = scores + bias
        probabilities = scores.softmax(-1)
        if self.keep_probabilities:
            self.last_probabilities = probabilities.detach()
        out = self.dropout(probabilities) @ v
        b, _, n, _ = out.shape
        return out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class BertSelfOutput(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, x, context, bias):
        return self.output(self.self(x, context, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.intermediate)

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact (erf) GELU


class BertOutput(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.dense = nn.Linear(c.intermediate, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout)

    def forward(self, h, residual):
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertLayer(nn.Module):
    """A post-LN BERT layer. With `context`, queries come from `x` and keys/values from
    `context` (a co-attention side); `bias` masks the keys."""

    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, x, bias=None, context=None):
        a = self.attention(x, x if context is None else context, bias)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c: CaptureConfig, layers: int):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(layers))

    def forward(self, x, bias=None):
        for layer in self.layer:
            x = layer(x, bias)
        return x


class BertEmbeddings(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden, padding_idx=None)
        self.position_embeddings = nn.Embedding(c.max_positions, c.hidden)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions)[None] + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


# --------------------------------------------------------------------------- streams

class TextStream(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = Encoder(c, c.text_layers)

    def forward(self, ids, bias):
        return self.encoder(self.embeddings(ids), bias)


def image_boxes(side: int) -> torch.Tensor:
    """`[side² + 1, 5]`: the global token's box (0, 0, 1, 1, 1), then cell (r, c)'s
    (c/side, r/side, (c+1)/side, (r+1)/side, 1/side²), row-major."""
    rows = [[0.0, 0.0, 1.0, 1.0, 1.0]]
    for r in range(side):
        for c in range(side):
            rows.append([c / side, r / side, (c + 1) / side, (r + 1) / side, 1.0 / (side * side)])
    return torch.tensor(rows, dtype=torch.float32)


def image_tokens(features: torch.Tensor) -> torch.Tensor:
    """Block-15 maps `[batch, 320, 7, 7]` -> token features `[batch, 50, 320]`: the mean of
    the 49 cells, then the cells in row-major order."""
    cells = features.flatten(2).transpose(1, 2)  # [batch, 49, 320], cell index r * 7 + c
    return torch.cat([cells.mean(1, keepdim=True), cells], dim=1)


class ImageStream(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.feat_proj = nn.Linear(c.region_feature_dim, c.hidden)
        self.box_proj = nn.Linear(c.box_dim, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout)
        self.encoder = Encoder(c, c.image_layers)
        self.register_buffer("boxes", image_boxes(c.grid_side), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """`tokens`: `[batch, 50, 320]` token features (global first)."""
        v0 = self.dropout(self.LayerNorm(self.feat_proj(tokens) + self.box_proj(self.boxes)[None]))
        return self.encoder(v0, None)


class CLR(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.text = nn.Linear(c.hidden, c.clr_dim)
        self.image = nn.Linear(c.hidden, c.clr_dim)


class CoAttentionLayer(nn.Module):
    """A ViLBERT connection layer: both sides read the same inputs."""

    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.text = BertLayer(c)
        self.image = BertLayer(c)

    def forward(self, t, v, text_bias):
        t_next = self.text(t, bias=None, context=v)          # text queries, image keys (none padded)
        v_next = self.image(v, bias=text_bias, context=t)    # image queries, text keys (padding masked)
        return t_next, v_next


class CoAttention(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.layer = nn.ModuleList(CoAttentionLayer(c) for _ in range(c.co_layers))


class CrossStream(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.modality_embeddings = nn.Embedding(2, c.hidden)
        self.encoder = Encoder(c, c.cross_layers)


class MLMTransform(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class MLMHead(nn.Module):
    def __init__(self, c: CaptureConfig):
        super().__init__()
        self.transform = MLMTransform(c)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))

    def forward(self, x, word_embeddings: torch.Tensor):
        return self.transform(x) @ word_embeddings.T + self.bias


# --------------------------------------------------------------------------- the model

class CaptureTorch(nn.Module):
    def __init__(self, config: CaptureConfig = CaptureConfig()):
        super().__init__()
        self.config = c = config
        self.text = TextStream(c)
        self.image = ImageStream(c)
        self.clr = CLR(c)
        self.co = CoAttention(c)
        self.cross = CrossStream(c)
        self.fuse = nn.Linear(2 * c.hidden, c.fused_dim)
        self.mlm = MLMHead(c)
        self.mrm = nn.Linear(c.hidden, c.region_feature_dim)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module):
        """BERT's initialisation: N(0, 0.02²) weights, zero biases, LayerNorm 1 and 0."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def trunk(self, ids: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor):
        """Runs everything but the heads. `ids`, `mask`: `[B, L]`; `tokens`: `[B, 50, 320]`.
        Returns (z, x, e): z `[2B, 256]` = [z_t; z_v], the cross stream's output `[B, L + 50, 384]`
        and e `[B, 256]`."""
        B, L = ids.shape
        text_bias = additive_mask(mask)
        t = self.text(ids, text_bias)
        v = self.image(tokens)
        z = F.normalize(torch.cat([self.clr.text(t[:, 0]), self.clr.image(v[:, 0])]), dim=-1)
        for layer in self.co.layer:
            t, v = layer(t, v, text_bias)
        modality = self.cross.modality_embeddings.weight
        x = torch.cat([t + modality[0], v + modality[1]], dim=1)
        cross_mask = torch.cat([mask.to(torch.float32), torch.ones(B, v.shape[1], device=mask.device)], dim=1)
        x = self.cross.encoder(x, additive_mask(cross_mask))
        e = F.normalize(self.fuse(torch.cat([x[:, 0], x[:, L]], dim=-1)), dim=-1)
        return z, x, e

    def embed(self, ids: torch.Tensor, mask: torch.Tensor, features: torch.Tensor):
        """z_t, z_v, e (each `[B, 256]`, unit rows) of captions and block-15 maps `[B, 320, 7, 7]`.
        Uses the module's mode: call `model.eval()` first for retrieval embeddings."""
        z, _, e = self.trunk(ids, mask, image_tokens(features))
        B = ids.shape[0]
        return z[:B], z[B:], e

    def pretraining_losses(self, ids, mask, image_input, mlm_targets, region_mask, region_targets,
                           temperature: float = 0.07) -> dict[str, torch.Tensor]:
        """The three pretraining losses of a masked batch (see `mask_batch`)."""
        B, L = ids.shape
        z, x, _ = self.trunk(ids, mask, image_input)
        text_x, image_x = x[:, :L], x[:, L:]
        selected = mlm_targets != -100
        if selected.any():
            logits = self.mlm(text_x[selected], self.text.embeddings.word_embeddings.weight)
            mlm = F.cross_entropy(logits, mlm_targets[selected])
        else:
            mlm = x.sum() * 0
        regions = region_mask.bool()
        if regions.any():
            mrm = F.mse_loss(self.mrm(image_x[regions]), region_targets[regions])
        else:
            mrm = x.sum() * 0
        clr = nt_xent(z, temperature)
        return {"mlm": mlm, "mrm": mrm, "clr": clr, "total": mlm + mrm + clr}


def nt_xent(z: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """SimCLR's NT-Xent over `[2B, d]` unit rows (text rows first, then image rows): row i's
    positive is row (i + B) mod 2B; all other rows but itself are negatives; mean over 2B rows."""
    n = z.shape[0]
    pairs = n // 2
    s = (z @ z.T) / temperature
    s = s.masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = (torch.arange(n, device=z.device) + pairs) % n
    return F.cross_entropy(s, targets)


def mask_batch(ids: torch.Tensor, mask: torch.Tensor, cells: torch.Tensor, config: CaptureConfig,
               generator: Optional[torch.Generator] = None, text_probability: float = 0.15,
               region_probability: float = 0.15):
    """MLM and MRM masking of a batch (docs/model.md §5.1, "Pretraining"), drawn as Vitrine's Swift side does.

    * Text: each real token that is not [CLS], [SEP] or [PAD] is chosen independently with
      probability 0.15 (a Bernoulli draw per token, so the count varies); a chosen token
      becomes [MASK] (80 %), a uniformly random id of the whole vocabulary (10 %) or stays
      (10 %); its original id is the MLM target (-100 elsewhere).
    * Image: each of the 49 cells is chosen independently with probability 0.15 (the global
      token never is); a chosen cell's input feature is set to zero (90 %) or left (10 %).
      The global token is the mean of the cells AFTER masking. The MRM targets are the
      original features.

    `cells`: `[B, 49, 320]` row-major cell features. Returns (ids, image_input `[B, 50, 320]`,
    mlm_targets `[B, L]`, region_mask `[B, 50]`, region_targets `[B, 50, 320]`).
    """
    B, L = ids.shape
    g = generator
    special = (ids == CLS_ID) | (ids == SEP_ID) | (ids == PAD_ID) | (mask == 0)
    chosen = (torch.rand(B, L, generator=g) < text_probability) & ~special
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    u = torch.rand(B, L, generator=g)
    random_ids = torch.randint(0, config.vocab_size, (B, L), generator=g)
    masked_ids = torch.where(chosen & (u < 0.8), torch.full_like(ids, MASK_ID), ids)
    masked_ids = torch.where(chosen & (u >= 0.8) & (u < 0.9), random_ids, masked_ids)

    n_cells = cells.shape[1]
    chosen_cells = torch.rand(B, n_cells, generator=g) < region_probability
    zeroed = chosen_cells & (torch.rand(B, n_cells, generator=g) < 0.9)
    masked_cells = cells.masked_fill(zeroed[..., None], 0.0)
    image_input = torch.cat([masked_cells.mean(1, keepdim=True), masked_cells], dim=1)
    region_targets = torch.cat([cells.mean(1, keepdim=True), cells], dim=1)
    region_mask = torch.cat([torch.zeros(B, 1, dtype=torch.bool), chosen_cells], dim=1)
    return masked_ids, image_input, targets, region_mask, region_targets


# --------------------------------------------------------------------------- weights

TEXT_IGNORED = ("pooler.", "embeddings.position_ids")


def minilm_state(path: str) -> dict[str, torch.Tensor]:
    """MiniLM's model.safetensors renamed into the text stream (`text.` + HF names),
    without the pooler and the position-id buffer."""
    from safetensors.torch import load_file
    return {"text." + k: v for k, v in load_file(path).items() if not k.startswith(TEXT_IGNORED)}


def load_minilm(model: CaptureTorch, path: str) -> None:
    """Loads MiniLM into the text stream; everything else keeps its initialisation."""
    result = model.load_state_dict(minilm_state(path), strict=False)
    missing_text = [k for k in result.missing_keys if k.startswith("text.")]
    if missing_text or result.unexpected_keys:
        raise ValueError(f"{path}: missing text tensors {missing_text[:5]}, unexpected {result.unexpected_keys[:5]}")


def load_checkpoint(path: str, text_weights: Optional[str] = None) -> CaptureTorch:
    """A model from a Vitrine checkpoint: the configuration from the metadata's "config"
    (JSON; defaults if absent), float16 tensors widened to float32. Frozen parts that a
    fine-tuned checkpoint leaves out (referenced by hash) are taken from `text_weights` (the
    checkpoint's text tower's model.safetensors: Weights/minilm/ or Weights/e5-small/, as its
    configuration's textTower says) when given; any other missing tensor is an error."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
    config = CaptureConfig()
    if "config" in metadata:
        config = CaptureConfig.from_dict(json.loads(metadata["config"]))
    model = CaptureTorch(config)
    state = {k: v.to(torch.float32) for k, v in load_file(path).items()}
    if text_weights:
        for k, v in minilm_state(text_weights).items():
            state.setdefault(k, v)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"{path}: missing tensors {result.missing_keys[:8]} ({len(result.missing_keys)}), "
                         f"unexpected {result.unexpected_keys[:8]} ({len(result.unexpected_keys)}); "
                         "pass --text-weights for a checkpoint that references the frozen text tower")
    return model


# --------------------------------------------------------------------------- command line

def self_check() -> None:
    """Checks that the names are those of docs/model.md §8.2 and that a state dict round-trips through safetensors."""
    import tempfile
    import os
    from safetensors.torch import save_file
    torch.manual_seed(0)
    small = CaptureConfig(hidden=32, heads=4, intermediate=64, vocab_size=200, max_positions=40,
                          text_layers=2, clr_dim=16, fused_dim=16, region_feature_dim=12)
    model = CaptureTorch(small).eval()
    names = set(model.state_dict())
    for expected in ["text.embeddings.word_embeddings.weight", "text.encoder.layer.0.attention.self.query.weight",
                     "image.feat_proj.weight", "image.box_proj.bias", "image.LayerNorm.weight",
                     "image.encoder.layer.1.output.LayerNorm.bias", "clr.text.weight", "clr.image.bias",
                     "co.layer.0.text.attention.self.key.weight", "co.layer.1.image.output.dense.weight",
                     "co.layer.0.image.attention.output.LayerNorm.weight", "co.layer.0.text.intermediate.dense.bias",
                     "cross.modality_embeddings.weight", "cross.encoder.layer.1.attention.self.value.bias",
                     "fuse.weight", "mlm.transform.dense.weight", "mlm.transform.LayerNorm.bias", "mlm.bias",
                     "mrm.weight", "mrm.bias"]:
        assert expected in names, expected
    prefixes = ("text.", "image.", "clr.", "co.layer.", "cross.", "fuse.", "mlm.", "mrm.")
    assert all(n.startswith(prefixes) for n in names), sorted(n for n in names if not n.startswith(prefixes))
    ids = torch.randint(104, 200, (3, 9))
    ids[:, 0], ids[:, -1] = CLS_ID % 200, SEP_ID % 200
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 5:] = 0
    features = torch.randn(3, 12, 7, 7)
    with torch.no_grad():
        before = model.embed(ids, mask, features)
        # Padding is masked: changing padded ids changes nothing.
        ids2 = ids.clone(); ids2[1, 5:] = 7
        padded = model.embed(ids2, mask, features)
    assert all(torch.allclose(a[1], b[1], atol=1e-6) for a, b in zip(before, padded))
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "ckpt.safetensors")
        save_file(model.state_dict(), p, metadata={"config": json.dumps(dataclasses.asdict(small))})
        again = load_checkpoint(p).eval()
        with torch.no_grad():
            after = again.embed(ids, mask, features)
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    model.train()
    cells = image_tokens(features)[:, 1:]
    masked = mask_batch(ids, mask, cells, small, torch.Generator().manual_seed(1))
    losses = model.pretraining_losses(masked[0], mask, *masked[1:])
    losses["total"].backward()
    print(json.dumps({k: round(v.item(), 4) for k, v in losses.items()}))
    print("self-check passed: MODEL.md names, padding masked, safetensors round trip, losses backpropagate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("self-check", help="names, masking, round trip and losses on a small random model")
    emb = sub.add_parser("embed", help="z_t, z_v, e for token ids and a block-15 map, as JSON")
    emb.add_argument("--model", required=True, help="a Vitrine checkpoint (.safetensors)")
    emb.add_argument("--text-weights", help="the text tower's model.safetensors (Weights/minilm/ or Weights/e5-small/), for checkpoints that leave it out")
    emb.add_argument("--ids", required=True, help="token ids, comma-separated ([CLS] ... [SEP])")
    emb.add_argument("--features", required=True,
                     help="a .npy (float32, [320, 7, 7] or [1, 320, 7, 7]) block-15 map")
    args = parser.parse_args()
    if args.command == "self-check":
        self_check()
        return 0
    import numpy as np
    model = load_checkpoint(args.model, args.text_weights).eval()
    ids = torch.tensor([[int(s) for s in args.ids.split(",")]])
    features = torch.from_numpy(np.load(args.features).astype(np.float32)).reshape(1, -1, 7, 7)
    with torch.no_grad():
        z_t, z_v, e = model.embed(ids, torch.ones_like(ids), features)
    print(json.dumps({"z_t": z_t[0].tolist(), "z_v": z_v[0].tolist(), "e": e[0].tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
