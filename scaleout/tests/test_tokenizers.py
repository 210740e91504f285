"""The twin's tokenizers give Vitrine's model inputs: e5 ids equal e5.c's on every SampleData title and
the hostile texts (Vitrine's own fixture), and equal `vitrine embed --json` tokens on SampleData captions
(e5 and MiniLM) when a built Vitrine is at hand."""

import json
import os
import unittest

from tests import _support as S
from vitrine_scaleout import checkpoint as K, config as C, data, model as M, tokenizers, weights as W

FIXTURES = os.path.join(S.REPO, "Tests", "CaptureTests", "Fixtures")


class E5AgainstFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not S.have_weights():
            raise unittest.SkipTest(f"the pretrained weights are not in {S.WEIGHTS} (make weights)")
        cls.tok = tokenizers.load_tokenizer("e5", S.WEIGHTS)

    def test_every_sampledata_title_and_hostile_text(self):
        with open(os.path.join(FIXTURES, "e5_reference.json"), encoding="utf-8") as f:
            fixture = json.load(f)
        for entry in fixture["captions"] + fixture["hostile"]:
            text = entry["text"] if "text" in entry else bytes.fromhex(entry["bytes_hex"])
            raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
            want = entry["query"]
            got = [self.tok.bos] + self.tok.content(self.tok.query_prefix.encode() + raw) + [self.tok.eos]
            self.assertEqual(got, want, entry.get("name", entry.get("text", ""))[:60])

    def test_rows_and_truncation(self):
        ids = self.tok.piece_ids("面霜", 64)
        self.assertEqual(ids, [0, 41, 1294, 12, 6, 2879, 106226, 2])
        self.assertEqual(self.tok.encode("", 64)[:4], [int(self.tok.row_of[i]) for i in (0, 41, 1294, 12)])
        long = self.tok.encode("面霜 " * 100, 64)
        self.assertEqual(len(long), 64)
        self.assertEqual(long[-1], self.tok.special_rows["sep"])


class MiniLMAgainstFixture(unittest.TestCase):
    def test_golden_sentences(self):
        S.require_weights(self)
        path = os.path.join(FIXTURES, "minilm_reference.json")
        with open(path, encoding="utf-8") as f:
            fixture = json.load(f)
        tok = tokenizers.load_tokenizer("minilm", S.WEIGHTS)
        for sentence, ids in zip(fixture["sentences"], fixture["token_ids"]):
            self.assertEqual(tok.encode(sentence, fixture["max_length"]), ids, sentence[:60])


class AgainstVitrineEmbed(unittest.TestCase):
    """`vitrine embed --model CKPT --caption TEXT --json` prints the model's input ids (`tokens`)."""

    def test_sampledata_captions(self):
        S.require_weights(self)
        binary = S.vitrine_binary()
        if binary is None:
            self.skipTest("no built vitrine (set VITRINE_BIN)")
        weights = W.Weights(S.WEIGHTS)
        ds = data.load(S.SAMPLE)
        captions = [s.caption for split in ds.splits for s in split.samples[:2]]
        captions += ["  tabs\tand\nnew lines ", "ΟΔΟΣ Crème brûlée 「面霜」", "x" * 120 + " ok"]
        with S.TempDir() as d:
            cases = []   # (tower, tokenizer, config, checkpoint, caption): a `vitrine embed` each, 2 at a time
            for tower in ("e5", "minilm"):
                tok = tokenizers.load_tokenizer(tower, S.WEIGHTS)
                config = C.tiny_config(tower, tok.vocabulary_rows)
                path = os.path.join(d, f"{tower}.safetensors")
                K.save_model(M.CaptureModel(config), path, K.checkpoint_metadata(
                    config, weights.tokenizer_identity(tower), weights.backbone_identity(), 0, "test"))
                cases += [(tower, tok, config, path, caption) for caption in captions]
            results = S.run_all([[binary, "embed", "--model", path, "--caption", caption, "--json"]
                                 for _, _, _, path, caption in cases], workers=2, timeout=60)
            for (tower, tok, config, _, caption), r in zip(cases, results):
                self.assertEqual(r.returncode, 0, r.stderr)
                want = json.loads(r.stdout)["tokens"]
                self.assertEqual(tok.encode(caption, config.max_text_length), want, f"{tower}: {caption[:50]}")


if __name__ == "__main__":
    unittest.main()
