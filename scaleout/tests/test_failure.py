"""Issue 15, test 4: a rank killed mid-run ends the run with a clear error within the timeout, and
`--resume` reproduces the uninterrupted run's losses.

The uninterrupted run is the 2-rank run test_ddp and test_embed_parity also read
(`_support.ddp_pretrain_run`: 6 steps, a checkpoint every 2); the broken run and its resumption use
the same arguments, with a process-group timeout of 20 s."""

import os
import time
import unittest

from tests import _support as S

TIMEOUT = 20


class LostRank(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not S.have_weights():
            raise unittest.SkipTest("no pretrained weights (make weights)")
        S.ensure_cache(["train"])

    def args(self, out, resume=False):
        a = S.DDP_PRETRAIN + ["--gather", "grad", "--timeout", str(TIMEOUT)]
        return a + (["--resume", out] if resume else ["--out", out])

    def test_killed_rank_fails_the_run_and_resume_reproduces_the_losses(self):
        with S.TempDir() as d:
            broken = os.path.join(d, "broken")
            r, whole = S.ddp_pretrain_run()
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            expected = S.step_losses(whole)
            self.assertEqual(sorted(expected), [1, 2, 3, 4, 5, 6])

            started = time.time()
            r = S.twin(self.args(broken), nproc=2,
                       extra_env={"VITRINE_SCALEOUT_FAIL_RANK": 1, "VITRINE_SCALEOUT_FAIL_STEP": 4})
            elapsed = time.time() - started
            self.assertNotEqual(r.returncode, 0)
            self.assertLess(elapsed, TIMEOUT + 25, "the run did not end within the timeout")
            last = S.events(broken)[-1]
            self.assertEqual(last["event"], "failed", last)
            self.assertIn("rank 1", last["message"])
            self.assertIn("step 4", last["message"])
            self.assertIn("--resume", last["message"])
            # Steps 1-3 ran; the checkpoint of step 2 is the latest complete one.
            self.assertEqual(sorted(S.step_losses(broken)), [1, 2, 3])
            from vitrine_scaleout import checkpoint
            self.assertEqual(checkpoint.read_manifest(broken)["latestStep"], 2)

            r = S.twin(self.args(broken, resume=True), nproc=2)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            events = S.events(broken)
            starts = [e for e in events if e["event"] == "started"]
            self.assertEqual([e["startStep"] for e in starts], [0, 2])
            resumed = {}
            for e in events[events.index(starts[-1]):]:
                if e["event"] == "step":
                    resumed[e["step"]] = e["losses"]
            self.assertEqual(sorted(resumed), [3, 4, 5, 6])
            for step, losses in resumed.items():
                for name, value in losses.items():
                    self.assertAlmostEqual(value, expected[step][name], delta=1e-6, msg=f"step {step} {name}")
            self.assertEqual(events[-1]["event"], "finished")
            self.assertEqual(events[-1]["outcome"], "completed")


if __name__ == "__main__":
    unittest.main()
