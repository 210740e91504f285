"""The training losses of docs/model.md §5 (Sources/Tensor/Losses.swift), computed so that N ranks
at batch B give exactly what one process gives at batch N·B.

Every loss that is a mean over the global batch is written as (this rank's sum) / (the global count):
MLM's masked tokens and MRM's chosen cells are counted over all ranks (an all-reduce of the counts
before the forward pass), CLR's 2B rows and the robust loss's pairs are global. CLR's similarity
matrix has this rank's rows against every rank's z_t and z_v (gathered with gradients), and the
robust loss takes this rank's share of the global pairs against every rank's fused embeddings.
The value backpropagated is N times this rank's part: DistributedDataParallel averages gradients over
the N ranks, and the gather's backward sums every rank's gradient for each row, so the averaged
gradient is the gradient of the global loss.

Loss names (the `losses` object of `step` events and of probe outputs):
  pretrain: mlm, mrm, clr, total = mlm + mrm + clr
  finetune: robust, clr, mlm, total = robust + a·clr + b·mlm
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from . import distributed as D

TEMPERATURE = 0.07


@dataclasses.dataclass
class Weights:
    mlm: float = 1.0
    mrm: float = 1.0
    clr: float = 1.0
    robust: float = 0.0
    m_pos: float = 0.3
    m_neg: float = 1.0
    temperature: float = TEMPERATURE


@dataclasses.dataclass
class LocalBatch:
    """This rank's rows of a step: inputs after masking and targets.
    ids, mask [b, L] (long); cells [b, 49, D] model input; mlm_targets [b, L] (-1: not a target);
    mrm_targets [b, 49, D]; mrm_chosen [b, 49] bool; pairs: (i, j, y) over global row indices;
    sizes: every rank's row count; rank's rows are global rows offset..offset+b."""
    ids: torch.Tensor
    mask: torch.Tensor
    cells: torch.Tensor
    mlm_targets: torch.Tensor
    mrm_targets: torch.Tensor
    mrm_chosen: torch.Tensor
    pairs: list
    sizes: list


def robust_terms(a: torch.Tensor, b: torch.Tensor, y: torch.Tensor, m_pos: float, m_neg: float) -> torch.Tensor:
    """ℓ(d, y) = y·max(0, d − m_pos)² + (1 − y)·max(0, m_neg − d)², no gradient where d = 0."""
    sq = ((a - b) ** 2).sum(-1)
    positive = sq > 0
    d = torch.where(positive, sq.clamp_min(1e-30).sqrt(), torch.zeros_like(sq))
    pos = torch.clamp(d - m_pos, min=0) ** 2
    neg = torch.clamp(m_neg - d, min=0) ** 2
    terms = y * pos + (1 - y) * neg
    return torch.where(positive, terms, terms.detach())


def compute(model, batch: LocalBatch, w: Weights, ctx: D.Context, mode: str, gather: str = "grad"):
    """Forward pass and losses. Returns (loss to backpropagate, {name: global value} for reporting).
    `model` may be wrapped in DistributedDataParallel (its forward is the model's)."""
    world = ctx.world if (ctx.distributed and gather != "none") else 1
    b, L = batch.ids.shape
    sizes = batch.sizes if world > 1 else [b]
    rank = ctx.rank if world > 1 else 0
    offset = sum(sizes[:rank])
    B = sum(sizes)
    D_ = batch.mrm_targets.shape[-1]

    use_mlm = w.mlm != 0
    use_mrm = w.mrm != 0
    local_m = int((batch.mlm_targets >= 0).sum()) if use_mlm else 0
    local_r = int(batch.mrm_chosen.sum()) if use_mrm else 0
    if ctx.distributed and gather != "none":
        global_m, global_r = (int(v) for v in D.all_reduce_sum(ctx, [local_m, local_r]))
    else:
        global_m, global_r = local_m, local_r

    mlm_rows = (batch.mlm_targets >= 0) if (use_mlm and local_m > 0) else None
    mrm_rows = batch.mrm_chosen if (use_mrm and local_r > 0) else None
    z, x, e, logits, predicted = model(batch.ids, batch.mask, batch.cells, mlm_rows,
                                       mrm_rows if mrm_rows is not None else torch.zeros_like(batch.mrm_chosen))
    zeros = x.sum() * 0.0
    parts = {}

    # CLR: this rank's 2b rows against all 2B.
    zt, zv = z[:b], z[b:]
    Zt = D.gather_rows(ctx, zt, sizes, gather) if world > 1 else zt
    Zv = D.gather_rows(ctx, zv, sizes, gather) if world > 1 else zv
    U = torch.cat([Zt, Zv])
    rows = torch.cat([torch.arange(offset, offset + b), torch.arange(B + offset, B + offset + b)]).to(U.device)
    s = (U[rows] @ U.T) / w.temperature
    s = s.masked_fill(rows[:, None] == torch.arange(2 * B, device=U.device)[None, :], float("-inf"))
    targets = (rows + B) % (2 * B)
    parts["clr"] = F.cross_entropy(s, targets, reduction="sum") / (2 * B)

    if use_mlm:
        if logits is not None:
            parts["mlm"] = F.cross_entropy(logits, batch.mlm_targets[mlm_rows], reduction="sum") / global_m
        else:
            parts["mlm"] = zeros
    if use_mrm:
        if mrm_rows is not None:
            parts["mrm"] = ((predicted - batch.mrm_targets[mrm_rows]) ** 2).sum() / (global_r * D_)
        else:
            parts["mrm"] = zeros + predicted.sum() * 0.0
    if mode == "finetune":
        E = D.gather_rows(ctx, e, sizes, gather) if world > 1 else e
        pairs = batch.pairs
        if gather == "none" and ctx.distributed:
            local = [(i - offset, j - offset, y) for (i, j, y) in pairs
                     if offset <= i < offset + b and offset <= j < offset + b]
            mine, count = local, max(1, len(local))
        else:
            mine = [p for k, p in enumerate(pairs) if k % world == rank]
            count = len(pairs)
        if mine:
            ii = torch.tensor([p[0] for p in mine], device=E.device)
            jj = torch.tensor([p[1] for p in mine], device=E.device)
            yy = torch.tensor([float(p[2]) for p in mine], device=E.device)
            parts["robust"] = robust_terms(E[ii], E[jj], yy, w.m_pos, w.m_neg).sum() / count
        else:
            parts["robust"] = zeros

    weights = {"mlm": w.mlm, "mrm": w.mrm, "clr": w.clr, "robust": w.robust if mode == "finetune" else 0.0}
    local_total = sum(weights[k] * v for k, v in parts.items())
    names = ["mlm", "mrm", "clr"] if mode == "pretrain" else ["robust", "clr", "mlm"]
    values = [float(parts[k].detach()) if k in parts else 0.0 for k in names]
    if ctx.distributed:
        values = D.all_reduce_sum(ctx, values)
        if gather == "none":
            values = [v / ctx.world for v in values]
    report = dict(zip(names, values))
    report["total"] = sum(weights[k] * report[k] for k in names)
    return local_total * world, report
