"""Issue 15, test 2: one fixed batch (dropout off) through `vitrine train`'s loss code (`vitrine
train-probe`) and through the twin's (`python -m vitrine_scaleout probe`) gives the same losses and
the same gradient for every checkpoint tensor, within 1e-4, in pretraining and in fine-tuning.

The model is the checkpoint of `_support.probe_pretrain_run` (one step, which test_probe also reads);
the twin's commands run in this process (`_support.in_process`)."""

import json
import os
import subprocess
import unittest

import numpy as np

from tests import _support as S
from vitrine_scaleout import safetensors_io as st

TOLERANCE = 1e-4


class ProbeParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not S.have_weights():
            raise unittest.SkipTest("no pretrained weights (make weights)")
        cls.binary = S.vitrine_binary()
        if cls.binary is None:
            raise unittest.SkipTest("no vitrine binary (VITRINE_BIN)")
        S.ensure_cache(["train", "gallery", "dev", "test"])

    def compare(self, mode: str, extra: list[str]):
        with S.TempDir() as d:
            # The model both read: a twin checkpoint of the tiny preset's shape (e5's vocabulary).
            r, run = S.probe_pretrain_run()
            self.assertEqual(r.returncode, 0, r.stderr)
            ckpt = os.path.join(run, "latest.safetensors")
            batch = os.path.join(d, "batch.safetensors")
            r = S.twin(["make-batch", "--data", S.SAMPLE, "--model", ckpt, "--mode", mode, "--seed", "3", "--out", batch] + extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            ours, theirs = os.path.join(d, "twin.safetensors"), os.path.join(d, "vitrine.safetensors")
            r = S.twin(["probe", "--model", ckpt, "--batch", batch, "--out", ours])
            self.assertEqual(r.returncode, 0, r.stderr)
            p = subprocess.run([self.binary, "train-probe", "--model", ckpt, "--batch", batch, "--out", theirs],
                               env=S.env(), capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            a, b = st.SafetensorsFile(ours), st.SafetensorsFile(theirs)
            la, lb = json.loads(a.metadata["losses"]), json.loads(b.metadata["losses"])
            self.assertEqual(set(la), set(lb))
            for name in la:
                self.assertAlmostEqual(la[name], lb[name], delta=TOLERANCE, msg=f"{mode} loss {name}")
            self.assertEqual(set(a.names), set(b.names))
            worst, where, nonzero = 0.0, "", 0
            for name in sorted(a.names):
                x, y = a.tensor(name).astype(np.float64), b.tensor(name).astype(np.float64)
                self.assertEqual(x.shape, y.shape, name)
                diff = float(np.max(np.abs(x - y))) if x.size else 0.0
                if diff > worst:
                    worst, where = diff, name
                nonzero += int(np.any(y))
            print(f"\n  probe parity ({mode}): {len(la)} losses, {len(a.names)} gradients ({nonzero} non-zero), "
                  f"largest difference {worst:.2e} ({where})")
            self.assertLessEqual(worst, TOLERANCE, f"{mode}: gradient {where} differs by {worst}")
            self.assertGreater(nonzero, len(a.names) // 2, "most gradients are zero: the comparison proves little")

    def test_pretraining_batch(self):
        self.compare("pretrain", ["--batch-size", "4"])

    def test_finetuning_batch(self):
        self.compare("finetune", ["--batch-size", "8", "--mlm-weight", "0.1"])


if __name__ == "__main__":
    unittest.main()
