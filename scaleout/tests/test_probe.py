"""`make-batch` and `probe`: the batch file format, losses equal to the training step's on the same batch,
gradients for every checkpoint tensor (checked against finite differences).

The training run is `_support.probe_pretrain_run` (test_probe_parity reads its checkpoint); the twin's
commands run in this process (`_support.in_process`)."""

import json
import os
import unittest

import numpy as np
import torch

from tests import _support as S
from vitrine_scaleout import checkpoint as K, config as C, distributed as D, losses as Lo, model as M
from vitrine_scaleout import probe as P, safetensors_io as st, weights as W


class Probe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not S.have_weights():
            raise unittest.SkipTest("no pretrained weights (make weights)")
        S.ensure_cache(["train", "gallery", "dev", "test"])

    def checkpoint(self, d, seed=11):
        weights = W.Weights(S.WEIGHTS)
        tok = S.tokenizer("e5")
        config = C.tiny_config("e5", tok.vocabulary_rows)
        path = os.path.join(d, "init.safetensors")
        K.save_model(M.CaptureModel(config, seed=seed), path, K.checkpoint_metadata(
            config, weights.tokenizer_identity("e5"), weights.backbone_identity(), 0, "test"))
        return path

    def test_pretrain_probe_matches_the_first_training_step(self):
        with S.TempDir() as d:
            ckpt = self.checkpoint(d)
            batch, grads = os.path.join(d, "b.safetensors"), os.path.join(d, "g.safetensors")
            r = S.twin(["make-batch", "--data", S.SAMPLE, "--model", ckpt, "--mode", "pretrain", "--batch-size", "4",
                        "--seed", "11", "--out", batch])
            self.assertEqual(r.returncode, 0, r.stderr)
            f = st.SafetensorsFile(batch)
            self.assertEqual(f.metadata["mode"], "pretrain")
            self.assertEqual(set(f.names), {"ids", "attention_mask", "features", "mlm_targets", "mrm_targets", "mrm_chosen"})
            self.assertEqual(f.shape("features")[1:], (49, 320))
            self.assertTrue(all(f.dtype(n) == "F32" for n in f.names))
            r = S.twin(["probe", "--model", ckpt, "--batch", batch, "--out", grads])
            self.assertEqual(r.returncode, 0, r.stderr)
            g = st.SafetensorsFile(grads)
            losses = json.loads(g.metadata["losses"])
            self.assertEqual(set(losses), {"mlm", "mrm", "clr", "total"})
            self.assertAlmostEqual(losses["total"], losses["mlm"] + losses["mrm"] + losses["clr"], places=5)
            model, _ = K.load_checkpoint(ckpt, W.Weights(S.WEIGHTS))
            self.assertEqual(set(g.names), {"grad." + n for n, _ in model.named_checkpoint_parameters()})
            self.assertFalse(np.any(g.tensor("grad.fuse.weight")))      # pretraining never reaches fuse
            self.assertTrue(np.any(g.tensor("grad.mrm.weight")))
            # The same batch is step 1 of a training run with this seed and initial model (the
            # shared run's seed and batch are this test's).
            self.assertEqual(S.PROBE_PRETRAIN[S.PROBE_PRETRAIN.index("--seed") + 1], "11")
            self.assertEqual(S.PROBE_PRETRAIN[S.PROBE_PRETRAIN.index("--batch") + 1], "4")
            r, out = S.probe_pretrain_run()
            self.assertEqual(r.returncode, 0, r.stderr)
            step1 = S.step_losses(out)[1]
            for name in losses:
                self.assertAlmostEqual(losses[name], step1[name], delta=1e-5, msg=name)

    def test_finetune_gradients_against_finite_differences(self):
        with S.TempDir() as d:
            ckpt = self.checkpoint(d, seed=4)
            batch = os.path.join(d, "f.safetensors")
            r = S.twin(["make-batch", "--data", S.SAMPLE, "--model", ckpt, "--mode", "finetune", "--batch-size", "8",
                        "--seed", "2", "--mlm-weight", "0.1", "--out", batch])
            self.assertEqual(r.returncode, 0, r.stderr)
            mode, w, b = P.read_batch(batch, torch.device("cpu"))
            self.assertEqual(mode, "finetune")
            self.assertTrue(b.pairs)
            model, _ = K.load_checkpoint(ckpt, W.Weights(S.WEIGHTS))
            model = model.double()
            b.cells, b.mrm_targets = b.cells.double(), b.mrm_targets.double()
            for p in model.parameters():
                p.requires_grad_(True)
            model.set_dropout(0.0, None)
            ctx = D.Context()
            loss, report = Lo.compute(model, b, w, ctx, "finetune")
            self.assertEqual(set(report), {"robust", "clr", "mlm", "total"})
            self.assertGreater(report["mlm"], 0)
            loss.backward()
            params = dict(model.named_checkpoint_parameters())
            for name, index in (("fuse.weight", (3, 5)), ("clr.image.bias", (1,)), ("mlm.transform.dense.weight", (0, 0)),
                                ("co.layer.0.text.attention.self.value.weight", (2, 7))):
                p = params[name]
                analytic = float(p.grad[index])
                eps = 1e-5
                with torch.no_grad():
                    p[index] += eps
                    up = float(Lo.compute(model, b, w, ctx, "finetune")[0])
                    p[index] -= 2 * eps
                    down = float(Lo.compute(model, b, w, ctx, "finetune")[0])
                    p[index] += eps
                numeric = (up - down) / (2 * eps)
                self.assertAlmostEqual(analytic, numeric, delta=1e-6 + 1e-4 * abs(numeric), msg=name)


if __name__ == "__main__":
    unittest.main()
