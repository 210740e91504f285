"""`embed`, `probe` and `make-batch`: the twin's side of the parity checks with Vitrine.

Probe batch file (safetensors, every tensor F32):
  ids [B, L]            token ids (rows of the word table) after masking, as fed to the model
  attention_mask [B, L] 1 on real tokens, 0 on padding
  features [B, 49, 320] the cells after masking, row-major, channels last (the model computes the
                        global token itself as their mean)
  mlm_targets [B, L]    the original id at chosen positions, -1 elsewhere
  mrm_targets [B, 49, 320], mrm_chosen [B, 49] (1/0)
  pairs [P, 3]          fine-tuning only: rows (i, j, y), y = 1 for a matching pair
  metadata: mode = pretrain | finetune; objective = JSON {"mlm": w, "mrm": w, "clr": w, "robust": w,
            "mPos": x, "mNeg": x, "temperature": 0.07}
Probe output (safetensors, F32): `grad.<checkpoint tensor name>` for every parameter of the checkpoint
(every one trainable in the probe; zeros where a loss does not reach it), and metadata `losses` = JSON
with the names `vitrine train` reports in its step events plus `total`:
  pretrain: mlm, mrm, clr, total = w_mlm·mlm + w_mrm·mrm + w_clr·clr
  finetune: robust, clr, mlm, total = w_robust·robust + w_clr·clr + w_mlm·mlm
A loss whose weight is 0 is not computed and reported as 0, as Vitrine's model does (fine-tuning with
MLM weight 0 has no MLM; fine-tuning never has MRM). CLR is always computed. Dropout is off.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

from . import batches as Bt
from . import checkpoint as K
from . import config as C
from . import data as Data
from . import distributed as D
from . import losses as Lo
from . import safetensors_io as st
from .feature_source import FeatureSource
from .safetext import terminal
from .tokenizers import load_tokenizer
from .weights import Weights, locate


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _fail(command: str, error: Exception) -> int:
    sys.stderr.write(f"vitrine-scaleout {command}: {terminal(str(error))}\n")
    return 1


def embed(args) -> int:
    try:
        if not args.caption and not args.image:
            raise ValueError("give --caption TEXT, --image PATH or both")
        weights = Weights(locate(args.weights))
        device = _device(args.device)
        model, meta = K.load_checkpoint(args.model, weights, weights.backbone_identity())
        model.to(device).eval()
        config = model.config
        tokenizer = load_tokenizer(config.text_tower, weights.folder)
        out = {}
        ids = mask = cells = None
        if args.caption is not None:
            tokens = tokenizer.encode(args.caption, config.max_text_length)
            out["tokens"] = tokens
            if config.text_tower == "e5":
                out["piece_ids"] = tokenizer.piece_ids(args.caption, config.max_text_length)
            ids = torch.tensor([tokens], device=device)
            mask = torch.ones_like(ids)
            out["z_t"] = model.text_embedding(ids, mask)[0].cpu().tolist()
        if args.image is not None:
            source = FeatureSource(args.features, weights.folder, weights.backbone_identity()["sha256"], device, args.cache)
            cells = torch.from_numpy(source.cells([os.path.abspath(args.image)])).to(device)
            out["z_v"] = model.image_embedding(cells)[0].cpu().tolist()
        if ids is not None and cells is not None:
            _, _, e = model.embed(ids, mask, cells)
            out["e"] = e[0].cpu().tolist()
        sys.stdout.write(json.dumps(out, ensure_ascii=True) + "\n")
        return 0
    except Exception as error:
        return _fail("embed", error)


def read_batch(path: str, device) -> tuple:
    f = st.SafetensorsFile(path)
    mode = f.metadata.get("mode")
    if mode not in ("pretrain", "finetune"):
        raise ValueError(f"{path}: metadata \"mode\" must be pretrain or finetune (got {mode!r})")
    try:
        objective = json.loads(f.metadata["objective"])
    except (KeyError, ValueError):
        raise ValueError(f"{path}: metadata \"objective\" must be a JSON object of loss weights") from None
    t = {name: torch.from_numpy(f.tensor(name)) for name in f.names}
    for need in ("ids", "attention_mask", "features", "mlm_targets", "mrm_targets", "mrm_chosen"):
        if need not in t:
            raise ValueError(f"{path}: the batch has no tensor {need!r} (see `python -m vitrine_scaleout probe --help`)")
    pairs = []
    if "pairs" in t:
        pairs = [(int(i), int(j), int(y)) for i, j, y in t["pairs"].round().long().tolist()]
    B = t["ids"].shape[0]
    batch = Lo.LocalBatch(t["ids"].round().long().to(device), t["attention_mask"].round().long().to(device),
                          t["features"].float().to(device), t["mlm_targets"].round().long().to(device),
                          t["mrm_targets"].float().to(device), (t["mrm_chosen"] > 0.5).to(device), pairs, [B])
    defaults = {"pretrain": {"mlm": 1.0, "mrm": 1.0, "clr": 1.0, "robust": 0.0},
                "finetune": {"mlm": 0.1, "mrm": 0.0, "clr": 0.5, "robust": 1.0}}[mode]
    w = Lo.Weights(mlm=float(objective.get("mlm", defaults["mlm"])),
                   mrm=float(objective.get("mrm", defaults["mrm"])) if mode == "pretrain" else 0.0,
                   clr=float(objective.get("clr", defaults["clr"])),
                   robust=float(objective.get("robust", defaults["robust"])),
                   m_pos=float(objective.get("mPos", 0.3)), m_neg=float(objective.get("mNeg", 1.0)),
                   temperature=float(objective.get("temperature", Lo.TEMPERATURE)))
    return mode, w, batch


def probe(args) -> int:
    try:
        weights = Weights(locate(args.weights))
        device = _device(args.device)
        model, _ = K.load_checkpoint(args.model, weights)
        model.to(device)
        for p in model.parameters():
            p.requires_grad_(True)
        model.train()
        model.set_dropout(0.0, None)
        mode, w, batch = read_batch(args.batch, device)
        loss, report = Lo.compute(model, batch, w, D.Context(device=device), mode)
        model.zero_grad(set_to_none=True)
        loss.backward()
        grads = {}
        for name, p in model.named_checkpoint_parameters():
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            grads["grad." + name] = g.detach().float().cpu().numpy()
        st.write(args.out, grads, {"losses": json.dumps(report, sort_keys=True), "mode": mode})
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
        return 0
    except Exception as error:
        return _fail("probe", error)


def make_batch(args) -> int:
    try:
        weights = Weights(locate(args.weights))
        config, _ = K.read_metadata(args.model)
        tokenizer = load_tokenizer(config.text_tower, weights.folder)
        dataset = Data.load(args.data)
        options = C.preset("sample", args.mode, config.text_tower)
        options.seed, options.batch_size = args.seed, args.batch_size
        if args.mode == "pretrain":
            names = [s.name for s in dataset.splits_of("train")]
        else:
            names = [s.name for s in dataset.splits_of("gallery") + dataset.splits_of("query")]
            ob = options.objective
            options.objective = C.Objective(args.positive_margin if args.positive_margin is not None else ob.positive_margin,
                                            args.negative_margin if args.negative_margin is not None else ob.negative_margin,
                                            args.clr_weight if args.clr_weight is not None else ob.clr_weight,
                                            args.mlm_weight if args.mlm_weight is not None else ob.mlm_weight)
        corpus = Bt.Corpus(dataset, names, tokenizer, config.max_text_length)
        plan = Bt.Plan(corpus, options, [])
        rows, pairs = plan.rows(args.step)
        source = FeatureSource(args.features, weights.folder, weights.backbone_identity()["sha256"],
                               torch.device("cpu"), args.cache, dataset.root)
        cells = source.cells([corpus.sample(p).image for p in rows])
        if args.mode == "pretrain":
            text_p, region_p = 0.15, 0.15
            objective = {"mlm": 1.0, "mrm": 1.0, "clr": 1.0, "robust": 0.0}
        else:
            ob = options.objective
            text_p, region_p = (0.15 if ob.mlm_weight != 0 else 0.0), 0.0
            objective = {"mlm": ob.mlm_weight, "mrm": 0.0, "clr": ob.clr_weight, "robust": 1.0}
        objective.update({"mPos": options.objective.positive_margin, "mNeg": options.objective.negative_margin,
                          "temperature": Lo.TEMPERATURE})
        samples = [Bt.mask_sample(corpus.tokens(p), cells[k], Bt.sample_rng(args.seed, args.step, k, Bt.STREAM_MASK),
                                  tokenizer.special_rows, config.vocab_size, text_p, region_p)
                   for k, p in enumerate(rows)]
        L = max(len(s.ids) for s in samples)
        b = Bt.collate(samples, L, tokenizer.pad_row, torch.device("cpu"), [len(rows)], pairs)
        tensors = {"ids": b.ids.float().numpy(), "attention_mask": b.mask.float().numpy(),
                   "features": b.cells.numpy(), "mlm_targets": b.mlm_targets.float().numpy(),
                   "mrm_targets": b.mrm_targets.numpy(), "mrm_chosen": b.mrm_chosen.float().numpy()}
        if args.mode == "finetune":
            tensors["pairs"] = np.array(pairs, dtype=np.float32).reshape(-1, 3)
        st.write(args.out, tensors, {"mode": args.mode, "objective": json.dumps(objective, sort_keys=True),
                                     "ids": json.dumps([corpus.sample(p).id for p in rows], ensure_ascii=True)})
        sys.stderr.write(f"wrote {terminal(args.out)}: {len(rows)} rows, {len(pairs)} pairs, length {L}\n")
        return 0
    except Exception as error:
        return _fail("make-batch", error)
