"""CAPTURE in PyTorch with Vitrine's checkpoint tensor names (docs/model.md §4, §8.2; MODEL.md).

Written from docs/model.md (and close to this repository's own reference,
tools/reference/capture_torch.py), with one addition for distributed training: dropout draws its
masks per sample from a generator seeded by (seed, step, global sample index), so that how a global
batch is split over ranks never changes a sample's dropout (`SampleDropout`).

Every BERT layer is post-LN: `a = LN(Dropout(Wo·Attn) + h)`, `out = LN(Dropout(W2·GELU(W1·a)) + a)`,
GELU with erf, LayerNorm eps from the configuration (1e-12); attention adds float32's most negative
value to padded keys (the same probabilities as leaving them out, which Vitrine does).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import CaptureConfig


class DropoutState:
    """Per-sample random streams for one forward pass (None: no dropout, or torch's global RNG)."""

    def __init__(self):
        self.generators: Optional[list] = None
        self.p = 0.0


class SampleDropout(nn.Module):
    """Dropout whose mask for sample b comes from `state.generators[b]` (consumed in layer order),
    so a sample's masks depend on its own stream only; with no generators, ordinary dropout."""

    def __init__(self, state: DropoutState):
        super().__init__()
        self.state = state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.state.p
        if not self.training or p <= 0:
            return x
        gens = self.state.generators
        if gens is None:
            return F.dropout(x, p, True)
        if len(gens) != x.shape[0]:
            raise RuntimeError(f"dropout: {len(gens)} sample streams for a batch of {x.shape[0]}")
        keep = torch.stack([torch.rand(x.shape[1:], generator=g, device=x.device) >= p for g in gens])
        return x * keep.to(x.dtype) / (1.0 - p)


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min


class BertSelfAttention(nn.Module):
    def __init__(self, c: CaptureConfig, state: DropoutState):
        super().__init__()
        self.heads, self.head_dim = c.heads, c.hidden // c.heads
        self.query = nn.Linear(c.hidden, c.hidden)
        self.key = nn.Linear(c.hidden, c.hidden)
        self.value = nn.Linear(c.hidden, c.hidden)
        self.dropout = SampleDropout(state)

    def _split(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, context, bias):
        q, k, v = self._split(self.query(x)), self._split(self.key(context)), self._split(self.value(context))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if bias is not None:
            scores = scores + bias
        out = self.dropout(scores.softmax(-1)) @ v
        b, _, n, _ = out.shape
        return out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class BertSelfOutput(nn.Module):
    def __init__(self, c: CaptureConfig, state: DropoutState):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = SampleDropout(state)

    def forward(self, h, residual):
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.self = BertSelfAttention(c, state)
        self.output = BertSelfOutput(c, state)

    def forward(self, x, context, bias):
        return self.output(self.self(x, context, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.intermediate)

    def forward(self, x):
        return F.gelu(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.dense = nn.Linear(c.intermediate, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = SampleDropout(state)

    def forward(self, h, residual):
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertLayer(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.attention = BertAttention(c, state)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c, state)

    def forward(self, x, bias=None, context=None):
        a = self.attention(x, x if context is None else context, bias)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c, layers, state):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c, state) for _ in range(layers))

    def forward(self, x, bias=None):
        for layer in self.layer:
            x = layer(x, bias)
        return x


class BertEmbeddings(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden)
        self.position_embeddings = nn.Embedding(c.max_positions, c.hidden)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = SampleDropout(state)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions)[None] + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class TextStream(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.embeddings = BertEmbeddings(c, state)
        self.encoder = Encoder(c, c.text_layers, state)

    def forward(self, ids, bias):
        return self.encoder(self.embeddings(ids), bias)


def image_boxes(side: int) -> torch.Tensor:
    rows = [[0.0, 0.0, 1.0, 1.0, 1.0]]
    for r in range(side):
        for c in range(side):
            rows.append([c / side, r / side, (c + 1) / side, (r + 1) / side, 1.0 / (side * side)])
    return torch.tensor(rows, dtype=torch.float32)


def image_tokens_from_cells(cells: torch.Tensor) -> torch.Tensor:
    """`[B, 49, D]` cells (row-major, after any masking) -> `[B, 50, D]`: their mean, then the cells."""
    return torch.cat([cells.mean(1, keepdim=True), cells], dim=1)


def cells_from_maps(maps: torch.Tensor) -> torch.Tensor:
    """Block-15 maps `[B, D, 7, 7]` -> cells `[B, 49, D]`, cell (r, c) at r * 7 + c."""
    return maps.flatten(2).transpose(1, 2)


class ImageStream(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.feat_proj = nn.Linear(c.region_feature_dim, c.hidden)
        self.box_proj = nn.Linear(c.box_dim, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)
        self.dropout = SampleDropout(state)
        self.encoder = Encoder(c, c.image_layers, state)
        self.register_buffer("boxes", image_boxes(c.grid_side), persistent=False)

    def forward(self, tokens):
        v0 = self.dropout(self.LayerNorm(self.feat_proj(tokens) + self.box_proj(self.boxes)[None]))
        return self.encoder(v0, None)


class CLR(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.text = nn.Linear(c.hidden, c.clr_dim)
        self.image = nn.Linear(c.hidden, c.clr_dim)


class CoAttentionLayer(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.text = BertLayer(c, state)
        self.image = BertLayer(c, state)

    def forward(self, t, v, text_bias):
        return self.text(t, bias=None, context=v), self.image(v, bias=text_bias, context=t)


class CoAttention(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.layer = nn.ModuleList(CoAttentionLayer(c, state) for _ in range(c.co_layers))


class CrossStream(nn.Module):
    def __init__(self, c, state):
        super().__init__()
        self.modality_embeddings = nn.Embedding(2, c.hidden)
        self.encoder = Encoder(c, c.cross_layers, state)


class MLMTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class MLMHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = MLMTransform(c)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))


class CaptureModel(nn.Module):
    """The whole model. `forward(ids, mask, cells)` returns (z [2B, clr] = [z_t; z_v], x the cross
    stream's output [B, L + 50, hidden], e [B, fused]); `cells` are `[B, 49, D]` (the global token
    is computed here as their mean). Dropout per sample when `set_dropout_streams` was called."""

    def __init__(self, config: CaptureConfig, seed: int = 0):
        super().__init__()
        self.config = c = config
        self.dropout_state = state = DropoutState()
        self.text = TextStream(c, state)
        self.image = ImageStream(c, state)
        self.clr = CLR(c)
        self.co = CoAttention(c, state)
        self.cross = CrossStream(c, state)
        self.fuse = nn.Linear(2 * c.hidden, c.fused_dim)
        self.mlm = MLMHead(c)
        self.mrm = nn.Linear(c.hidden, c.region_feature_dim)
        self.initialize(seed)

    @torch.no_grad()
    def initialize(self, seed: int) -> None:
        """BERT's initialisation: N(0, 0.02²) weights and embeddings, zero biases, LayerNorm 1 and 0;
        drawn from torch's generator seeded with `seed` (not Vitrine's stream: random models differ)."""
        g = torch.Generator().manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=g) * 0.02)
                if isinstance(module, nn.Linear):
                    module.bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
        self.mlm.bias.zero_()

    def set_dropout(self, p: float, generators: Optional[list]) -> None:
        self.dropout_state.p = float(p)
        self.dropout_state.generators = generators

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, cells: torch.Tensor,
                mlm_rows: Optional[torch.Tensor] = None, mrm_rows: Optional[torch.Tensor] = None):
        """(z, x, e), plus the MLM logits of the text positions `mlm_rows` ([B, L] bool) and the MRM
        predictions of the cells `mrm_rows` ([B, 49] bool) when given (the heads run inside forward so
        that DistributedDataParallel sees every parameter it uses)."""
        z, x, e = self.trunk(ids, mask, cells)
        if mlm_rows is None and mrm_rows is None:
            return z, x, e
        L = ids.shape[1]
        logits = self.mlm_logits(x[:, :L][mlm_rows]) if mlm_rows is not None else None
        predicted = self.mrm(x[:, L + 1:][mrm_rows]) if mrm_rows is not None else None
        return z, x, e, logits, predicted

    def trunk(self, ids: torch.Tensor, mask: torch.Tensor, cells: torch.Tensor):
        B, L = ids.shape
        tokens = image_tokens_from_cells(cells)
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

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlm.transform(h) @ self.text.embeddings.word_embeddings.weight.T + self.mlm.bias

    @torch.no_grad()
    def embed(self, ids, mask, cells):
        """z_t, z_v, e of captions and cells (eval mode: no dropout)."""
        was = self.training
        self.eval()
        z, _, e = self.trunk(ids, mask, cells)
        self.train(was)
        B = ids.shape[0]
        return z[:B], z[B:], e

    @torch.no_grad()
    def text_embedding(self, ids, mask):
        """z_t alone: the text stream and clr.text (eval mode)."""
        was = self.training
        self.eval()
        t = self.text(ids, additive_mask(mask))
        self.train(was)
        return F.normalize(self.clr.text(t[:, 0]), dim=-1)

    @torch.no_grad()
    def image_embedding(self, cells):
        """z_v alone: the image stream and clr.image (eval mode)."""
        was = self.training
        self.eval()
        v = self.image(image_tokens_from_cells(cells))
        self.train(was)
        return F.normalize(self.clr.image(v[:, 0]), dim=-1)

    # ---------------------------------------------------------------- parameters by checkpoint name

    def named_checkpoint_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """(checkpoint name, parameter), every tensor of docs/model.md §8.2 (sorted by name)."""
        return sorted(self.named_parameters(), key=lambda item: item[0])

    def decays(self, name: str) -> bool:
        """Weight decay applies to weight matrices and embeddings, not biases, LayerNorm or mlm.bias."""
        return name.endswith(".weight") and ".LayerNorm." not in name

    def set_frozen_text_layers(self, k: int) -> None:
        """`frozenTextLayers`: the embeddings (when k > 0) and the lowest k text layers stop training."""
        for name, p in self.named_parameters():
            if name.startswith("text.embeddings."):
                p.requires_grad_(k == 0)
            elif name.startswith("text.encoder.layer."):
                layer = int(name.split(".")[3])
                p.requires_grad_(layer >= k)
            else:
                p.requires_grad_(True)

    @torch.no_grad()
    def load_text_tower(self, source) -> None:
        """Copies the pretrained tower's tensors (Hugging Face names, optionally `bert.`-prefixed) into
        the text stream. `source`: a SafetensorsFile."""
        for name, p in self.named_parameters():
            if not name.startswith("text."):
                continue
            key = tower_source_name(name, source)
            if key not in source:
                raise ValueError(f"{source.path} has no tensor {key!r} for {name}; is it the {self.config.text_tower} tower's model.safetensors?")
            p.copy_(torch.from_numpy(source.tensor(key, tuple(p.shape))))


def tower_source_name(name: str, source) -> str:
    """The text tower file's name for checkpoint tensor `text.<name>` (`<name>` or `bert.<name>`)."""
    bare = name[len("text."):] if name.startswith("text.") else name
    return "bert." + bare if bare not in source and ("bert." + bare) in source else bare
