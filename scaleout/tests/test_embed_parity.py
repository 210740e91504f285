"""Issue 15, test 3: a checkpoint trained with DistributedDataParallel, loaded by `vitrine embed --model`,
gives the same e, z_t, z_v as the twin's `embed` (within 1e-4); and a checkpoint whose frozen text
tensors are left out and referenced by SHA-256 loads in Vitrine with the same embeddings.

The DDP checkpoint is that of the 2-rank run test_ddp and test_failure also read
(`_support.ddp_pretrain_run`). Vitrine's commands run while the twin's run in this process."""

import json
import os
import subprocess
import unittest
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from tests import _support as S
from vitrine_scaleout import checkpoint as K, config as C, model as M, safetensors_io as st, weights as W

TOL = 1e-4
CAPTION = "Lumessa 焕白面霜 50ml 保湿 【包邮】"


def image():
    folder = os.path.join(S.SAMPLE, "images")
    return os.path.join(folder, sorted(os.listdir(folder))[0])


class EmbedParity(unittest.TestCase):
    def setUp(self):
        S.require_weights(self)
        self.binary = S.vitrine_binary()
        if self.binary is None:
            self.skipTest("no built vitrine (set VITRINE_BIN)")

    def compare(self, checkpoint):
        with ThreadPoolExecutor(1) as pool:   # Vitrine's embed while the twin's runs here
            started = pool.submit(subprocess.run, [self.binary, "embed", "--model", checkpoint, "--caption", CAPTION,
                                                   "--image", image(), "--json"],
                                  env=S.env(), capture_output=True, text=True, timeout=120)
            ours = S.twin(["embed", "--model", checkpoint, "--caption", CAPTION, "--image", image(), "--features",
                           "compute", "--json"])
            theirs = started.result()
        self.assertEqual(theirs.returncode, 0, theirs.stderr)
        vitrine = json.loads(theirs.stdout)
        self.assertEqual(ours.returncode, 0, ours.stderr)
        twin = json.loads(ours.stdout)
        self.assertEqual(twin["tokens"], vitrine["tokens"])
        for key in ("z_t", "z_v", "e"):
            a, b = np.array(vitrine[key]), np.array(twin[key])
            self.assertEqual(a.shape, b.shape, key)
            self.assertLess(float(np.abs(a - b).max()), TOL, key)

    def test_ddp_checkpoint_in_vitrine_embed(self):
        S.ensure_cache(["train"])
        with S.TempDir() as d:
            r, out = S.ddp_pretrain_run()
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            checkpoint = os.path.join(out, "latest.safetensors")
            self.compare(checkpoint)
            # The rest of Vitrine takes it unchanged: query, eval, and a new run started from it
            # (a tiny configuration: the sample preset keeps its top two text layers trainable).
            # One after the other (they share the cache), while the twin's run below goes on.
            commands = (
                ("query", ["query", "--data", S.SAMPLE, "--model", checkpoint, "--top", "3", "--json", CAPTION]),
                ("eval", ["eval", "--data", S.SAMPLE, "--model", checkpoint, "--split", "dev", "--json", "--quiet"]),
                ("train --init-from", ["train", "--data", S.SAMPLE, "--init-from", checkpoint, "--preset", "sample",
                                       "--steps", "1", "--no-eval", "--no-flags", "--out", os.path.join(d, "ft")]))
            with ThreadPoolExecutor(1) as pool:
                started = pool.submit(S.run_all, [[self.binary] + args for _, args in commands], 1, 300, S.env())
                # And the twin itself starts a sample-preset run from it (its preset's frozen layers
                # follow the checkpoint's depth, as Vitrine's do).
                twin = S.twin(["train", "--init-from", checkpoint, "--preset", "sample", "--steps", "1", "--no-eval",
                               "--no-flags", "--data", S.SAMPLE, "--out", os.path.join(d, "twin-ft"), "--quiet"])
                results = started.result()
            for (name, _), r in zip(commands, results):
                self.assertEqual(r.returncode, 0, f"vitrine {name}: {r.stderr[-2000:]}")
                if name == "query":
                    self.assertEqual(len(json.loads(r.stdout)["matches"]), 3)
                if name == "eval":
                    self.assertGreater(json.loads(r.stdout)["top10"]["mAP"], 0)
            self.assertTrue(os.path.isfile(os.path.join(d, "ft", "latest.safetensors")))
            self.assertEqual(twin.returncode, 0, twin.stderr[-2000:])

    def test_frozen_tensors_referenced_by_hash(self):
        weights = W.Weights(S.WEIGHTS)
        tok = S.tokenizer("e5")
        config = C.tower_config("e5", tok.vocabulary_rows)
        config.image_layers = config.co_layers = config.cross_layers = 1
        model = M.CaptureModel(config, seed=5)
        model.load_text_tower(st.SafetensorsFile(weights.tower_path("e5")))
        model.set_frozen_text_layers(10)
        omitted = K.omittable_frozen(model, weights.tower_path("e5"))
        self.assertIn("text.embeddings.word_embeddings.weight", omitted)
        self.assertNotIn("text.encoder.layer.10.output.dense.weight", omitted)
        with S.TempDir() as d:
            path = os.path.join(d, "frozen.safetensors")
            meta = K.checkpoint_metadata(config, weights.tokenizer_identity("e5"), weights.backbone_identity(), 0,
                                         "test", weights.tower_identity("e5"), omitted)
            K.save_model(model, path, meta, tuple(omitted))
            f = st.SafetensorsFile(path)
            self.assertNotIn("text.embeddings.word_embeddings.weight", f)
            frozen = json.loads(f.metadata["frozen"])
            self.assertEqual(frozen["source"]["sha256"], weights.recorded_sha256(("e5-small", "model.safetensors")))
            again, _ = K.load_checkpoint(path, weights)
            for (n, a), (_, b) in zip(model.named_checkpoint_parameters(), again.named_checkpoint_parameters()):
                self.assertTrue(torch.equal(a, b), n)
            self.compare(path)


if __name__ == "__main__":
    unittest.main()
