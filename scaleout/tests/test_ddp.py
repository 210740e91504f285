"""Issue 15, test 1: `torchrun --nproc_per_node=2` with gloo, on SampleData (tiny preset, dropout off):
the parameters are identical on both ranks, and 2 ranks at batch B give the same losses and parameters
as 1 process at batch 2B (within 1e-5); without the gradient-keeping gather they do not.

The 2-rank pretraining run (6 steps) is the one test_failure and test_embed_parity also read
(`_support.ddp_pretrain_run`); the one-process runs are made in this process (`_support.in_process`)."""

import os
import unittest

import numpy as np

from tests import _support as S
from vitrine_scaleout import safetensors_io as st

TOL = 1e-5


def params(path):
    f = st.SafetensorsFile(path)
    return {n: f.tensor(n) for n in f.names}


def max_diff(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[n] - b[n]).max()) for n in a)


def loss_diff(a, b):
    assert a.keys() == b.keys(), (a.keys(), b.keys())
    return max(abs(a[s][k] - b[s][k]) for s in a for k in a[s])


class DistributedEquivalence(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not S.have_weights():
            raise unittest.SkipTest("no pretrained weights (make weights)")
        S.ensure_cache(["train", "gallery", "dev", "test"])

    def outputs(self, result, folder):
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        return S.step_losses(folder), params(os.path.join(folder, "latest.safetensors"))

    def run_twin(self, folder, mode, nproc, gather="grad", batch=8):
        if mode == "pretrain":
            args = S.DDP_PRETRAIN + ["--out", folder, "--gather", gather, "--timeout", "60"]
        else:
            args = ["train", "--preset", "tiny", "--mode", mode, "--data", S.SAMPLE, "--steps", "3", "--batch", str(batch),
                    "--no-eval", "--out", folder, "--quiet", "--seed", "7", "--dropout", "0", "--timeout", "60",
                    "--gather", gather, "--no-flags", "--query-pairs", "dev"]
        r = S.twin(args, nproc=nproc, extra_env={"VITRINE_SCALEOUT_DUMP_PARAMS": os.path.join(folder, "ranks")})
        return self.outputs(r, folder)

    def test_pretrain_two_ranks_equal_one_process(self):
        with S.TempDir() as d:
            one_l, one_p = self.run_twin(os.path.join(d, "one"), "pretrain", 1)
            result, two = S.ddp_pretrain_run()
            two_l, two_p = self.outputs(result, two)
            r0 = params(os.path.join(two, "ranks", "rank0.safetensors"))
            r1 = params(os.path.join(two, "ranks", "rank1.safetensors"))
            self.assertEqual(max_diff(r0, r1), 0.0, "the ranks' parameters differ")
            self.assertEqual(max_diff(r0, two_p), 0.0, "the checkpoint is not rank 0's parameters")
            self.assertEqual(sorted(one_l), [1, 2, 3, 4, 5, 6])
            self.assertLess(loss_diff(one_l, two_l), TOL, (one_l, two_l))
            self.assertLess(max_diff(one_p, two_p), TOL)
            # Without gathering the negatives, or gathering them without their gradients, the
            # two-rank run is no longer the one-process run.
            none_l, none_p = self.run_twin(os.path.join(d, "none"), "pretrain", 2, gather="none")
            self.assertGreater(abs(none_l[1]["clr"] - one_l[1]["clr"]), 1e-2)
            self.assertGreater(max_diff(one_p, none_p), 100 * TOL)
            nograd_l, nograd_p = self.run_twin(os.path.join(d, "nograd"), "pretrain", 2, gather="nograd")
            self.assertLess(abs(nograd_l[1]["clr"] - one_l[1]["clr"]), TOL)  # same forward ...
            self.assertGreater(max_diff(one_p, nograd_p), 100 * TOL)          # ... wrong gradients
            self.assertGreater(abs(nograd_l[3]["clr"] - one_l[3]["clr"]), 10 * TOL)

    def test_finetune_two_ranks_equal_one_process(self):
        # Fine-tuning batches have an odd number of rows at times (uneven shards), pairs across
        # ranks for the robust loss, and MLM's masked-token count differs between ranks.
        with S.TempDir() as d:
            one_l, one_p = self.run_twin(os.path.join(d, "one"), "finetune", 1)
            two_l, two_p = self.run_twin(os.path.join(d, "two"), "finetune", 2)
            self.assertLess(loss_diff(one_l, two_l), TOL, (one_l, two_l))
            self.assertLess(max_diff(one_p, two_p), TOL)
            self.assertTrue(all(v["robust"] > 0 for v in one_l.values()))


if __name__ == "__main__":
    unittest.main()
