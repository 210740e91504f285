"""Checkpoints, trainer state and run folders, as Vitrine writes them (docs/model.md §8, §8.6;
Sources/Capture/Checkpoint.swift, Sources/Training/CheckpointStore.swift, Trainer.swift).

Run folder:
    step-NNNNNN.safetensors        the model (F32), metadata format/config/tokenizer/backbone/step/data[/frozen]
    step-NNNNNN.state.safetensors  AdamW's moments m.<name>, v.<name>; metadata format vitrine-trainer/1,
                                   trainer (JSON: step, optimizer steps, options, evaluation state),
                                   and scaleout (JSON: world size, global batch; the twin's own)
    latest.safetensors, best.safetensors   hard links to model files
    training.json                  the manifest (vitrine-training/1)
    events.jsonl                   the run's events, one JSON line each (the twin's addition)
Every file is written to a temporary file, fsynced, renamed and the folder fsynced; the manifest
and links change only after both files of a step are complete; old steps are deleted after that.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np
import torch

from . import safetensors_io as st
from .config import CaptureConfig, swift_json
from .model import CaptureModel, tower_source_name
from .safetext import quoted

FORMAT = "vitrine-capture/1"
TRAINER_FORMAT = "vitrine-trainer/1"
MANIFEST_FORMAT = "vitrine-training/1"


class CheckpointError(Exception):
    pass


def model_path(folder: str, step: int) -> str:
    return os.path.join(folder, "step-%06d.safetensors" % step)


def state_path(folder: str, step: int) -> str:
    return os.path.join(folder, "step-%06d.state.safetensors" % step)


# ------------------------------------------------------------------------------ model files

def omittable_frozen(model: CaptureModel, tower_file: Optional[str]) -> list:
    """Frozen text parameters bit-for-bit equal to the pretrained tower's (FrozenTensors.textTower):
    the tensors a checkpoint may leave out and reference by the tower file's SHA-256."""
    if tower_file is None:
        return []
    source = st.SafetensorsFile(tower_file)
    names = []
    for name, p in model.named_parameters():   # the model's parameter order, as Vitrine lists them
        if not name.startswith("text.") or p.requires_grad:
            continue
        key = tower_source_name(name, source)
        if key not in source or tuple(source.shape(key)) != tuple(p.shape):
            continue
        values = source.tensor(key)
        current = p.detach().cpu().numpy()
        if np.array_equal(values.view(np.uint32), current.view(np.uint32)):
            names.append(name)
    return names


def checkpoint_metadata(config: CaptureConfig, tokenizer: dict, backbone: dict, step: int, data: str,
                        frozen_source: Optional[dict] = None, omitted: Optional[list] = None) -> dict:
    meta = {"format": FORMAT, "config": config.to_json(), "tokenizer": swift_json(tokenizer),
            "backbone": swift_json(backbone), "step": str(step), "data": data}
    if frozen_source is not None and omitted:
        meta["frozen"] = swift_json({"source": frozen_source, "tensors": list(omitted)})
    return meta


def save_model(model: CaptureModel, path: str, metadata: dict, omit: tuple = ()) -> None:
    omitted = set(omit)
    tensors = {name: p.detach().float().cpu().numpy() for name, p in model.named_checkpoint_parameters()
               if name not in omitted}
    st.write(path, tensors, metadata)


def read_metadata(path: str) -> tuple:
    """(config, metadata) of the checkpoint at `path`, checked as Vitrine checks them."""
    f = st.SafetensorsFile(path)
    return _decode(f), f


def _decode(f: st.SafetensorsFile) -> CaptureConfig:
    meta = f.metadata
    if "format" not in meta:
        raise CheckpointError(f"checkpoint {f.path}: it is a safetensors file but not a Vitrine checkpoint (no \"format\" in its metadata)")
    if meta["format"] != FORMAT:
        raise CheckpointError(f"checkpoint {f.path}: its format is {quoted(meta['format'])}; this version reads \"{FORMAT}\"")
    for key in ("config", "tokenizer", "backbone", "step"):
        if key not in meta:
            raise CheckpointError(f"checkpoint {f.path}: its metadata has no \"{key}\"")
    try:
        config = CaptureConfig.from_dict(json.loads(meta["config"]))
        step = int(meta["step"])
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"checkpoint {f.path}: its metadata is not valid: {error}") from None
    if step < 0:
        raise CheckpointError(f"checkpoint {f.path}: its metadata's \"step\" is negative ({step})")
    return config


def load_checkpoint(path: str, weights=None, expected_backbone: Optional[dict] = None,
                    into: Optional[CaptureModel] = None) -> tuple:
    """(model, metadata): a model built from the checkpoint's configuration (or `into`, whose
    configuration must match), every tensor read (frozen ones it left out from its text tower's file
    in `weights`, a `weights.Weights`, after checking the recorded SHA-256)."""
    f = st.SafetensorsFile(path)
    config = _decode(f)
    meta = f.metadata
    if expected_backbone is not None:
        recorded = json.loads(meta["backbone"])
        if recorded != expected_backbone:
            raise CheckpointError(f"checkpoint {path}: it was trained on backbone {recorded.get('name')} (sha256 "
                                  f"{recorded.get('sha256')}), but this installation's is {expected_backbone['name']} "
                                  f"(sha256 {expected_backbone['sha256']}); its image embeddings would be meaningless. "
                                  "Install the matching backbone weights or retrain")
    model = into if into is not None else CaptureModel(config)
    if into is not None and into.config != config:
        raise CheckpointError(f"checkpoint {path}: its configuration does not match the model's")
    params = dict(model.named_checkpoint_parameters())
    for name in f.names:
        if name not in params:
            raise CheckpointError(f"checkpoint {path}: it holds tensor {quoted(name, 200)}, which this model does not have")
    frozen = json.loads(meta["frozen"]) if "frozen" in meta else None
    omitted = set(frozen["tensors"]) if frozen else set()
    values = {}
    for name, p in params.items():
        if name in f:
            t = f.tensor(name, tuple(p.shape))
            if not np.all(np.isfinite(t)):
                raise CheckpointError(f"checkpoint {path}: tensor {quoted(name, 200)} holds a value that is not finite "
                                      "(NaN or infinity): the file is damaged or comes from a run that diverged; "
                                      "use an earlier checkpoint of the run")
            values[name] = t
        elif name not in omitted:
            raise CheckpointError(f"checkpoint {path}: it has no tensor {quoted(name, 200)} and does not say it left it out")
    missing = [n for n in params if n not in values]
    if missing:
        if weights is None:
            raise CheckpointError(f"checkpoint {path}: it leaves out {len(missing)} frozen tensors of "
                                  f"{frozen['source']['name']}, read from the weights folder, and none was given (--weights)")
        from .tokenizers import MODEL_FILES
        tower_file = MODEL_FILES[config.text_tower]
        installed = weights.recorded_sha256(tower_file)
        if installed != frozen["source"]["sha256"]:
            raise CheckpointError(f"checkpoint {path}: it leaves out {len(missing)} frozen tensors of "
                                  f"{frozen['source']['name']} (sha256 {frozen['source']['sha256']}), but {weights.folder} "
                                  f"holds sha256 {installed}; install the weights it was trained from (make weights)")
        source = st.SafetensorsFile(weights.path(tower_file))
        for name in missing:
            if not name.startswith("text."):
                raise CheckpointError(f"checkpoint {path}: it leaves out {quoted(name)}, which is not a text-tower parameter")
            values[name] = source.tensor(tower_source_name(name, source), tuple(params[name].shape))
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.from_numpy(np.ascontiguousarray(values[name])))
    return model, meta


# ------------------------------------------------------------------------------ run folders

def read_manifest(folder: str) -> Optional[dict]:
    try:
        with open(os.path.join(folder, "training.json"), encoding="utf-8") as f:
            m = json.load(f)
        return m if isinstance(m, dict) and "latestStep" in m else None
    except (OSError, ValueError):
        return None


def manifest_text(latest: int, best_step: Optional[int], best_map: Optional[float], steps: list) -> str:
    """training.json as Swift's JSONEncoder([.prettyPrinted, .sortedKeys]) writes it."""
    lines = ["{"]
    entries = []
    if best_map is not None:
        entries.append('  "bestMAP10" : ' + swift_json(float(best_map)))
    if best_step is not None:
        entries.append('  "bestStep" : %d' % best_step)
    entries.append('  "format" : "vitrine-training\\/1"')
    entries.append('  "latestStep" : %d' % latest)
    if steps:
        entries.append('  "steps" : [\n' + ",\n".join("    %d" % s for s in steps) + "\n  ]")
    else:
        entries.append('  "steps" : [\n\n  ]')
    lines.append(",\n".join(entries))
    lines.append("}")
    return "\n".join(lines)


def commit(folder: str, step: int, is_best: bool, best_map: Optional[float], keep: int) -> None:
    """CheckpointStore.commit: the manifest, latest (and best) links, then old steps removed."""
    previous = read_manifest(folder) or {}
    best_step, best = previous.get("bestStep"), previous.get("bestMAP10")
    if is_best:
        best_step, best = step, best_map
    steps = sorted(set(previous.get("steps", [])) | {step})
    kept = steps[-keep:]
    if best_step is not None and best_step in steps and best_step not in kept:
        kept.append(best_step)
    steps = sorted(kept)
    st.write_bytes_atomically(os.path.join(folder, "training.json"),
                              manifest_text(step, best_step, best, steps).encode("utf-8"))
    st.link_atomically(model_path(folder, step), os.path.join(folder, "latest.safetensors"))
    if is_best:
        st.link_atomically(model_path(folder, step), os.path.join(folder, "best.safetensors"))
    remove_unlisted(folder, set(steps))


def remove_unlisted(folder: str, keeping: set) -> None:
    for name in os.listdir(folder):
        if name.startswith(".") and ".tmp-" in name:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
            continue
        if not (name.startswith("step-") and name.endswith(".safetensors")):
            continue
        digits = ""
        for ch in name[5:]:
            if not ch.isdigit():
                break
            digits += ch
        if digits and int(digits) not in keeping:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def latest_checkpoint(folder: str) -> Optional[str]:
    m = read_manifest(folder)
    return model_path(folder, int(m["latestStep"])) if m else None
