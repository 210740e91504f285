"""vitrine_scaleout: the PyTorch twin of `vitrine train` (scaleout/README.md).

Modules:
  config      CaptureConfig, TrainingOptions and the presets (Sources/Training/TrainingOptions.swift)
  model       the CAPTURE model with Vitrine's checkpoint tensor names (docs/model.md §4, §8.2)
  losses      MLM, MRM, NT-Xent, robust contrastive; global (cross-rank) reductions
  distributed process group, the gradient-keeping all-gather, rank helpers
  tokenizers  e5 SentencePiece (as e5.c) and MiniLM WordPiece, ids equal to Vitrine's
  data        Product1M and folder-format readers, the training corpus
  flags       the annotators' flags store (SQLite) and the majority/latest/exclude rule
  feature_source  backbone features: Vitrine's feature cache or computed on the device
  safetensors_io  the safetensors container, atomic durable writes
  checkpoint  checkpoints, trainer state, run folders (training.json, latest/best links)
  events      `vitrine train --json` event lines (events.jsonl)
  trainer     the training loop (pretrain / finetune), resume, evaluation
  evaluation  official Product1M mAP@10 (docs/data.md §2)
  probe       one forward/backward on a fixed batch file, and the batch-file maker
  cli         `python -m vitrine_scaleout {train,embed,probe,make-batch}`
"""

__version__ = "0.1.0"
