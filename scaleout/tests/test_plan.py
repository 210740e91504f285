"""`python -m vitrine_scaleout plan`: the counts it prints follow from the architecture and the formats."""

import json
import subprocess
import unittest

from tests import _support as S
from vitrine_scaleout import plan


class Plan(unittest.TestCase):
    def test_a_layer_counted_by_hand(self):
        # 3 tokens attending to 5, width 4, FFN 8: Q 2*3*16, K and V 2*2*5*16, output 2*3*16,
        # scores and weighted sum 2*2*3*5*4, FFN 2*2*3*4*8.
        self.assertEqual(plan.layer_flops(3, 5, 4, 8), 96 + 320 + 96 + 240 + 384)

    def test_training_counts_frozen_layers_once(self):
        full = plan.sample_flops(plan.Shape())
        frozen = plan.sample_flops(plan.Shape(frozen_text_layers=10))
        self.assertAlmostEqual(full["training"], 3 * full["forward"])
        text_layer = plan.layer_flops(40, 40, 384, 1536)
        self.assertAlmostEqual(full["training"] - frozen["training"], 10 * text_layer * 2)

    def test_the_command(self):
        r = subprocess.run([S.PYTHON, "-m", "vitrine_scaleout", "plan", "--gpus", "8", "--calibrate", "2.0", "--json"],
                           env=S.env(), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = json.loads(r.stdout)
        self.assertEqual(p["global_batch"], 256)
        self.assertEqual(p["steps_per_epoch"], -(-1_132_830 // 256))
        images = 1_132_830 + 40_033
        self.assertEqual(p["cache_float16_bytes"], images * (96 + 320 * 49 * 2))       # docs/data.md §6.1: 31,456 an entry
        self.assertEqual(p["cache_float16_disk_bytes"], images * 8 * 4096)
        self.assertAlmostEqual(p["calibration"]["implied_tflops"] * 2.0 * 1e12, p["training_gflop_per_step_per_gpu"] * 1e9)
        bad = subprocess.run([S.PYTHON, "-m", "vitrine_scaleout", "plan", "--gpus", "0"], env=S.env(),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--gpus must be at least 1", bad.stderr)
        for args, message in ((["--calibrate", "0"], "--calibrate must be"), (["--frozen-text-layers", "13"], "--frozen-text-layers must be"),
                              (["--gallery", "-1"], "--gallery must not be negative")):
            bad = subprocess.run([S.PYTHON, "-m", "vitrine_scaleout", "plan"] + args, env=S.env(),
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(bad.returncode, 2, args)
            self.assertIn(message, bad.stderr)


if __name__ == "__main__":
    unittest.main()
