"""The model's configuration and the training options, with the values and presets of
Sources/Capture/CaptureConfig.swift and Sources/Training/TrainingOptions.swift, and Swift's JSON
forms of them (checkpoint metadata `config`, trainer state `options`)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Optional

import numpy as np

# --------------------------------------------------------------------------- Swift-shaped JSON


class F32(float):
    """A value Swift holds as Float: written with the shortest digits that read back as that float32."""

    def __new__(cls, value):
        return float.__new__(cls, float(np.float32(value)))


def _number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"a non-finite number ({value}) cannot be written as JSON")
    text = str(np.float32(value)) if isinstance(value, F32) else repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text


def swift_json(value) -> str:
    """JSON as Swift's JSONEncoder with `.sortedKeys` writes it: compact, keys sorted, "/" escaped."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("/", "\\/")
    if isinstance(value, dict):
        return "{" + ",".join(swift_json(str(k)) + ":" + swift_json(value[k]) for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(swift_json(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# --------------------------------------------------------------------------- the model's shape

_CAMEL = {
    "hidden": "hidden", "heads": "heads", "intermediate": "intermediate", "vocab_size": "vocabSize",
    "max_positions": "maxPositions", "type_vocab_size": "typeVocabSize", "text_layers": "textLayers",
    "image_layers": "imageLayers", "co_layers": "coLayers", "cross_layers": "crossLayers", "clr_dim": "clrDim",
    "fused_dim": "fusedDim", "region_feature_dim": "regionFeatureDim", "box_dim": "boxDim",
    "image_tokens": "imageTokens", "max_text_length": "maxTextLength", "layer_norm_eps": "layerNormEps",
    "text_tower": "textTower",
}
TOWERS = ("e5", "minilm")
TOWER_LAYERS = {"e5": 12, "minilm": 6}


@dataclasses.dataclass
class CaptureConfig:
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
    text_tower: str = "minilm"

    @property
    def grid_side(self) -> int:
        return math.isqrt(self.image_tokens - 1)

    def to_dict(self) -> dict:
        out = {}
        for field, key in _CAMEL.items():
            value = getattr(self, field)
            out[key] = F32(value) if field == "layer_norm_eps" else value
        return out

    def to_json(self) -> str:
        return swift_json(self.to_dict())

    @classmethod
    def from_dict(cls, values: dict) -> "CaptureConfig":
        """From a checkpoint's `config` (camelCase); every key but textTower is required (absent
        textTower: MiniLM, as Vitrine reads checkpoints written before the e5 tower)."""
        kwargs = {}
        for field, key in _CAMEL.items():
            if key not in values:
                if key == "textTower":
                    continue
                raise ValueError(f"the configuration has no \"{key}\"")
            kwargs[field] = values[key]
        config = cls(**kwargs)
        problem = config.problem()
        if problem:
            raise ValueError(f"the configuration is not one Vitrine can build: {problem}")
        return config

    def problem(self) -> Optional[str]:
        """What is out of range (CaptureConfig.problem in Swift), or None."""
        ranges = [("hidden", self.hidden, 1, 4096), ("heads", self.heads, 1, 64),
                  ("intermediate", self.intermediate, 1, 16384), ("vocabSize", self.vocab_size, 8, 1_000_000),
                  ("maxPositions", self.max_positions, 3, 8192), ("typeVocabSize", self.type_vocab_size, 1, 16),
                  ("textLayers", self.text_layers, 1, 48), ("imageLayers", self.image_layers, 1, 48),
                  ("coLayers", self.co_layers, 1, 48), ("crossLayers", self.cross_layers, 1, 48),
                  ("clrDim", self.clr_dim, 1, 4096), ("fusedDim", self.fused_dim, 1, 4096),
                  ("regionFeatureDim", self.region_feature_dim, 1, 4096), ("boxDim", self.box_dim, 5, 5),
                  ("imageTokens", self.image_tokens, 2, 1025), ("maxTextLength", self.max_text_length, 3, 8192)]
        for name, value, low, high in ranges:
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                return f"{name} is {value}, outside {low}...{high}"
        if self.hidden % self.heads:
            return f"hidden ({self.hidden}) is not a multiple of heads ({self.heads})"
        if self.grid_side ** 2 != self.image_tokens - 1:
            return f"imageTokens ({self.image_tokens}) is not 1 + a square number of cells"
        if self.max_text_length > self.max_positions:
            return f"maxTextLength ({self.max_text_length}) is above maxPositions ({self.max_positions})"
        if not (isinstance(self.layer_norm_eps, (int, float)) and 0 < self.layer_norm_eps < 1):
            return f"layerNormEps is {self.layer_norm_eps}, outside (0, 1)"
        if self.text_tower not in TOWERS:
            return f"textTower is {self.text_tower!r}, not e5 or minilm"
        return None


def tower_config(tower: str, vocabulary_rows: int) -> CaptureConfig:
    """TextTower.configuration(vocabularyRows:): the default widths, the tower's depth and length."""
    c = CaptureConfig(text_tower=tower, vocab_size=vocabulary_rows, text_layers=TOWER_LAYERS[tower])
    if tower == "e5":
        c.max_text_length = 64
    return c


def tiny_config(tower: str, vocabulary_rows: int) -> CaptureConfig:
    """TrainingOptions.tinyConfig with the tower's vocabulary (what `--preset tiny` trains)."""
    return CaptureConfig(hidden=32, heads=2, intermediate=64, max_positions=64, text_layers=1, image_layers=1,
                         co_layers=1, cross_layers=1, clr_dim=16, fused_dim=16, text_tower=tower,
                         vocab_size=vocabulary_rows)


# --------------------------------------------------------------------------- training options

@dataclasses.dataclass
class Objective:
    positive_margin: float = 0.3
    negative_margin: float = 1.0
    clr_weight: float = 0.5
    mlm_weight: float = 0.1

    def to_dict(self) -> dict:
        return {"clrWeight": F32(self.clr_weight), "mlmWeight": F32(self.mlm_weight),
                "negativeMargin": F32(self.negative_margin), "positiveMargin": F32(self.positive_margin)}

    @classmethod
    def from_dict(cls, d: dict) -> "Objective":
        return cls(d["positiveMargin"], d["negativeMargin"], d["clrWeight"], d["mlmWeight"])


MODES = ("finetune", "pretrain")
PRESETS = ("sample", "small", "full", "tiny")
RULES = ("majority", "latest", "exclude")


@dataclasses.dataclass
class TrainingOptions:
    """TrainingOptions.swift, field for field. `batch_size` is the global batch: each of N ranks
    takes batch_size / N of it."""
    mode: str
    preset: str
    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    weight_decay: float = 0.01
    max_gradient_norm: float = 1.0
    dropout: float = 0.1
    seed: int = 0
    frozen_text_layers: int = 0
    evaluation_interval: int = 0
    patience: int = 0
    checkpoint_interval: int = 10
    keep_checkpoints: int = 2
    objective: Objective = dataclasses.field(default_factory=Objective)
    views_per_label: int = 2
    flag_pairs_per_batch: int = 4
    query_pair_splits: list = dataclasses.field(default_factory=list)
    query_pair_share: float = 1.0
    flag_rule: Optional[str] = None
    text_learning_rate_scale: Optional[float] = None
    throttle: float = 0.0

    def to_dict(self) -> dict:
        d = {"mode": self.mode, "preset": self.preset, "steps": self.steps, "batchSize": self.batch_size,
             "learningRate": F32(self.learning_rate), "warmupSteps": self.warmup_steps,
             "weightDecay": F32(self.weight_decay), "maxGradientNorm": F32(self.max_gradient_norm),
             "dropout": F32(self.dropout), "seed": self.seed, "frozenTextLayers": self.frozen_text_layers,
             "evaluationInterval": self.evaluation_interval, "patience": self.patience,
             "checkpointInterval": self.checkpoint_interval, "keepCheckpoints": self.keep_checkpoints,
             "objective": self.objective.to_dict(), "viewsPerLabel": self.views_per_label,
             "flagPairsPerBatch": self.flag_pairs_per_batch, "queryPairSplits": list(self.query_pair_splits),
             "queryPairShare": float(self.query_pair_share), "throttle": float(self.throttle)}
        if self.flag_rule is not None:
            d["flagRule"] = self.flag_rule
        if self.text_learning_rate_scale is not None:
            d["textLearningRateScale"] = F32(self.text_learning_rate_scale)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingOptions":
        return cls(mode=d["mode"], preset=d["preset"], steps=d["steps"], batch_size=d["batchSize"],
                   learning_rate=d["learningRate"], warmup_steps=d["warmupSteps"], weight_decay=d["weightDecay"],
                   max_gradient_norm=d["maxGradientNorm"], dropout=d["dropout"], seed=d["seed"],
                   frozen_text_layers=d["frozenTextLayers"], evaluation_interval=d["evaluationInterval"],
                   patience=d["patience"], checkpoint_interval=d["checkpointInterval"],
                   keep_checkpoints=d["keepCheckpoints"], objective=Objective.from_dict(d["objective"]),
                   views_per_label=d["viewsPerLabel"], flag_pairs_per_batch=d["flagPairsPerBatch"],
                   query_pair_splits=list(d["queryPairSplits"]), query_pair_share=d["queryPairShare"],
                   flag_rule=d.get("flagRule"), text_learning_rate_scale=d.get("textLearningRateScale"),
                   throttle=d.get("throttle", 0.0))

    def is_pair_query(self, item_id: str) -> bool:
        """TrainingOptions.isPairQuery: the first `query_pair_share` of ids by FNV-1a."""
        h = fnv1a64(item_id.encode("utf-8"))
        h ^= h >> 33
        return (h % 1_000_000) / 1_000_000 < self.query_pair_share

    def validate(self, config: CaptureConfig) -> None:
        def fail(message):
            raise ValueError(f"invalid training options: {message}")
        if self.steps <= 0:
            fail(f"steps must be positive (got {self.steps})")
        if self.batch_size < 2:
            fail(f"the batch needs at least 2 pairs for CLR's negatives (got {self.batch_size})")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            fail(f"the learning rate must be positive (got {self.learning_rate})")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.max_gradient_norm < 0:
            fail("warm-up steps, weight decay and the gradient clip must not be negative")
        if not 0 <= self.dropout < 1:
            fail(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0 <= self.frozen_text_layers <= config.text_layers:
            fail(f"frozen text layers must be 0...{config.text_layers} (got {self.frozen_text_layers})")
        if self.evaluation_interval < 0 or self.patience < 0:
            fail("the evaluation interval and patience must not be negative")
        if self.checkpoint_interval <= 0:
            fail(f"the checkpoint interval must be positive (got {self.checkpoint_interval})")
        if self.keep_checkpoints < 1:
            fail(f"keep at least 1 checkpoint (got {self.keep_checkpoints})")
        if self.text_learning_rate_scale is not None and not 0 < self.text_learning_rate_scale <= 10:
            fail(f"the text tower's learning-rate scale must be in (0, 10] (got {self.text_learning_rate_scale})")
        if not 0 <= self.query_pair_share <= 1:
            fail(f"the query pair share must be in [0, 1] (got {self.query_pair_share})")
        if not 0 <= self.throttle < 0.95:
            fail(f"throttle must be in [0, 0.95) (got {self.throttle})")
        if not 0 <= self.objective.positive_margin < self.objective.negative_margin:
            fail("need 0 <= positive margin < negative margin")
        if self.mode == "finetune":
            if self.views_per_label < 1 or self.batch_size // self.views_per_label < 2:
                fail(f"fine-tuning needs at least 2 labels per batch: batch size {self.batch_size} / views per label {self.views_per_label}")
            if self.flag_pairs_per_batch < 0:
                fail("flag pairs per batch must not be negative")


def preset(name: str, mode: str, tower: str = "minilm") -> TrainingOptions:
    """TrainingOptions.preset(_:mode:tower:)."""
    o = _base_preset(name, mode)
    layers = TOWER_LAYERS[tower]
    if name == "sample" and tower == "minilm":
        o.frozen_text_layers = layers
    elif name == "sample" and tower == "e5":
        o.frozen_text_layers = layers - 2
        o.learning_rate = 3e-4
        o.steps = 400
    elif name == "small":
        o.frozen_text_layers = max(0, layers - 2)
    return o


def _base_preset(name: str, mode: str) -> TrainingOptions:
    if name == "sample" and mode == "finetune":
        return TrainingOptions(mode, name, steps=150, batch_size=16, learning_rate=2e-4, warmup_steps=10,
                               frozen_text_layers=6, evaluation_interval=50, patience=2, checkpoint_interval=50,
                               objective=Objective(0.4, 1.0, 0.2, 0.0), views_per_label=2,
                               query_pair_splits=["dev"], query_pair_share=0.5)
    if name == "sample":
        return TrainingOptions(mode, name, steps=150, batch_size=16, learning_rate=1e-4, warmup_steps=10,
                               frozen_text_layers=6, evaluation_interval=0, patience=0, checkpoint_interval=50)
    if name == "small":
        return TrainingOptions(mode, name, steps=1000, batch_size=24, learning_rate=1e-4, warmup_steps=50,
                               frozen_text_layers=4, evaluation_interval=200,
                               patience=3 if mode == "finetune" else 0, checkpoint_interval=200)
    if name == "full":
        return TrainingOptions(mode, name, steps=20000, batch_size=32, learning_rate=5e-5, warmup_steps=1000,
                               frozen_text_layers=0, evaluation_interval=1000,
                               patience=5 if mode == "finetune" else 0, checkpoint_interval=1000, keep_checkpoints=3)
    if name == "tiny":
        return TrainingOptions(mode, name, steps=40, batch_size=8, learning_rate=1e-3, warmup_steps=2, dropout=0.0,
                               frozen_text_layers=0, evaluation_interval=0, patience=0, checkpoint_interval=10,
                               flag_pairs_per_batch=2)
    raise ValueError(f"unknown preset {name!r} (sample, small, full, tiny)")


def learning_rate(options: TrainingOptions, step: int) -> float:
    """LearningRateSchedule(peak, warmup, total, linear, final 0) at update `step` (1-based), in float32."""
    peak = np.float32(options.learning_rate)
    step = max(step, 1)
    if step <= options.warmup_steps:
        return float(peak * np.float32(step) / np.float32(options.warmup_steps))
    span = options.steps - options.warmup_steps
    if span <= 0:
        return 0.0
    progress = min(np.float32(1), np.float32(step - options.warmup_steps) / np.float32(span))
    return float(peak * (np.float32(1) - progress))


# --------------------------------------------------------------------------- hashing

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h
