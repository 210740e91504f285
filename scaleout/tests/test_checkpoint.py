"""Checkpoints and run folders: the safetensors container round trip, Vitrine's exact bytes, the
manifest, and a twin run folder that Vitrine itself reads and resumes."""

import json
import os
import struct
import subprocess
import unittest

import numpy as np
import torch

from tests import _support as S
from vitrine_scaleout import checkpoint as K, config as C, model as M, safetensors_io as st, weights as W


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


class Container(unittest.TestCase):
    def test_round_trip_and_layout(self):
        with S.TempDir() as d:
            path = os.path.join(d, "t.safetensors")
            tensors = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.array([1.5], np.float32)}
            st.write(path, tensors, {"k": "v\u0007", "format": "x/1"})
            raw = read(path)
            (n,) = struct.unpack("<Q", raw[:8])
            self.assertEqual(n % 8, 0)
            header = raw[8:8 + n].decode()
            self.assertTrue(header.startswith('{"__metadata__":{"format":"x/1","k":"v\\u0007"},"a":'))
            back, meta = st.read(path)
            self.assertEqual(meta, {"k": "v\u0007", "format": "x/1"})
            for k in tensors:
                np.testing.assert_array_equal(back[k], tensors[k])
            self.assertFalse([x for x in os.listdir(d) if ".tmp-" in x])
            with open(path, "r+b") as f:
                f.truncate(len(raw) - 4)
            with self.assertRaises(st.SafetensorsError):
                st.SafetensorsFile(path)
            with self.assertRaises(st.SafetensorsError):
                st.SafetensorsFile("/dev/zero")

    def test_non_finite_refused(self):
        with S.TempDir() as d:
            with self.assertRaises(st.SafetensorsError):
                st.write(os.path.join(d, "x.safetensors"), {"x": np.array([np.nan], np.float32)})


class ModelFiles(unittest.TestCase):
    def setUp(self):
        S.require_weights(self)
        self.weights = W.Weights(S.WEIGHTS)

    def tiny(self, seed=1):
        tok = S.tokenizer("e5")
        return M.CaptureModel(C.tiny_config("e5", tok.vocabulary_rows), seed=seed)

    def test_save_load_round_trip(self):
        model = self.tiny()
        with S.TempDir() as d:
            path = os.path.join(d, "m.safetensors")
            meta = K.checkpoint_metadata(model.config, self.weights.tokenizer_identity("e5"),
                                         self.weights.backbone_identity(), 12, "SampleData: train, 900 pairs")
            K.save_model(model, path, meta)
            again, loaded = K.load_checkpoint(path, self.weights, self.weights.backbone_identity())
            self.assertEqual(loaded["step"], "12")
            self.assertEqual(json.loads(loaded["config"])["hidden"], 32)
            for (n, a), (_, b) in zip(model.named_checkpoint_parameters(), again.named_checkpoint_parameters()):
                self.assertTrue(torch.equal(a, b), n)
            # The same model and metadata give the same bytes.
            K.save_model(again, os.path.join(d, "m2.safetensors"), meta)
            self.assertEqual(read(path), read(os.path.join(d, "m2.safetensors")))
            # Another backbone is refused.
            with self.assertRaises(K.CheckpointError):
                K.load_checkpoint(path, self.weights, {"name": "efficientnet-lite0", "sha256": "0" * 64})

    def test_manifest_text(self):
        self.assertEqual(K.manifest_text(4, None, None, [3, 4]),
                         '{\n  "format" : "vitrine-training\\/1",\n  "latestStep" : 4,\n  "steps" : [\n    3,\n    4\n  ]\n}')
        self.assertIn('"bestMAP10" : 0.5,\n  "bestStep" : 2', K.manifest_text(4, 2, 0.5, [2, 4]))

    def test_vitrine_checkpoint_rewritten_byte_for_byte(self):
        binary = S.vitrine_binary()
        if binary is None:
            self.skipTest("no built vitrine (set VITRINE_BIN)")
        S.ensure_cache(["train"])
        with S.TempDir() as d:
            run = os.path.join(d, "vitrine")
            r = subprocess.run([binary, "train", "--preset", "tiny", "--mode", "pretrain", "--data", S.SAMPLE, "--steps", "1",
                                "--no-eval", "--out", run, "--json"], env=S.env(), capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            src = os.path.join(run, "step-000001.safetensors")
            model, meta = K.load_checkpoint(src, self.weights)
            K.save_model(model, os.path.join(d, "again.safetensors"), dict(meta))
            self.assertEqual(read(src), read(os.path.join(d, "again.safetensors")))
            state = st.SafetensorsFile(os.path.join(run, "step-000001.state.safetensors"))
            trainer = json.loads(state.metadata["trainer"])
            options = C.TrainingOptions.from_dict(trainer["options"])
            self.assertEqual(C.swift_json(dict(trainer, options=options.to_dict())), state.metadata["trainer"])
            self.assertEqual(read(os.path.join(run, "training.json"), "r"), K.manifest_text(1, None, None, [1]))

    def test_vitrine_resumes_a_twin_run(self):
        binary = S.vitrine_binary()
        if binary is None:
            self.skipTest("no built vitrine (set VITRINE_BIN)")
        S.ensure_cache(["train"])
        with S.TempDir() as d:
            run = os.path.join(d, "twin")
            r = S.twin(["train", "--preset", "tiny", "--mode", "pretrain", "--data", S.SAMPLE, "--steps", "2",
                        "--no-eval", "--out", run, "--quiet"])
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run([binary, "train", "--preset", "tiny", "--mode", "pretrain", "--data", S.SAMPLE, "--steps", "3",
                                "--no-eval", "--resume", run, "--json"], env=S.env(), capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [json.loads(x) for x in r.stdout.splitlines()]
            self.assertEqual(next(e for e in lines if e["event"] == "started")["startStep"], 2)
            self.assertEqual(lines[-1]["outcome"], "completed")
            self.assertEqual(K.read_manifest(run)["latestStep"], 3)
            self.assertTrue(os.path.samefile(os.path.join(run, "latest.safetensors"), K.model_path(run, 3)))


if __name__ == "__main__":
    unittest.main()
