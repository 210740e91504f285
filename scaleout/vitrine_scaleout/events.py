"""`vitrine train --json` event lines (Sources/Training/TrainingEventJSON.swift), written by rank 0
to `events.jsonl` in the run folder (one object per line, flushed per line) and, with --json, to
standard output. Field names and types are those `TrainingEvent.decodeLine` reads:

  started     mode, preset, totalSteps, batchSize, startStep, seed, dataset, outputDirectory, flagPairs
  step        step, totalSteps, losses {name: number}, learningRate, samplesPerSecond, etaSeconds
  evaluation  step, devMAP10, bestMAP10, improved
  checkpoint  step, path
  skipped     id, reason
  finished    outcome, steps, wallSeconds, devMAP10Before?, devMAP10After?, checkpoint?
  failed      message
Non-finite numbers are written as "nan", "inf", "-inf"; strings are escaped by SafeText's rule.
"""

from __future__ import annotations

import os
import sys
import threading

from .safetext import json_line, terminal


class EventWriter:
    def __init__(self, path: str | None, json_stdout: bool, quiet: bool = False):
        self.path = path
        self.json_stdout = json_stdout
        self.quiet = quiet
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.closed = False

    def emit(self, name: str, **fields) -> None:
        line = json_line(dict(fields, event=name))
        with self.lock:
            if self.closed:
                return
            if self.file:
                self.file.write(line + "\n")
                self.file.flush()
            if self.json_stdout:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            elif not self.quiet:
                self._human(name, fields)
            if name in ("finished", "failed"):
                self.closed = True
                if self.file:
                    try:
                        os.fsync(self.file.fileno())
                    except OSError:
                        pass

    def note(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(terminal(text) + "\n")
            sys.stderr.flush()

    def _human(self, name, f) -> None:
        if name == "started":
            self.note(f"{f['mode']} ({f['preset']}): steps {f['startStep'] + 1}...{f['totalSteps']}, batch {f['batchSize']}, "
                      f"seed {f['seed']}, {f['flagPairs']} flag pairs, checkpoints in {f['outputDirectory']}")
        elif name == "step":
            names = [n for n in ("total", "robust", "mlm", "mrm", "clr") if n in f["losses"]]
            text = "  ".join(f"{n} {f['losses'][n]:.3f}" for n in names)
            self.note(f"step {f['step']}/{f['totalSteps']}  {text}  lr {f['learningRate']:.1e}  {f['samplesPerSecond']:.1f} samples/s")
        elif name == "evaluation":
            self.note(f"step {f['step']}: dev mAP@10 {f['devMAP10']:.4f} (best {f['bestMAP10']:.4f})" + (" *" if f["improved"] else ""))
        elif name == "checkpoint":
            self.note(f"checkpoint {f['path']}")
        elif name == "skipped":
            self.note(f"skipped {f['id']}: {f['reason']}")
        elif name == "finished":
            self.note(f"{f['outcome']} after {f['steps']} steps in {f['wallSeconds']:.1f} s; model: {f.get('checkpoint') or 'none written'}")
        elif name == "failed":
            self.note(f"training failed: {f['message']}")

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.file:
                self.file.close()
                self.file = None
