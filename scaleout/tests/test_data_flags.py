"""Data readers (Product1M and folder formats, malformed lines counted), the flags store's
majority/latest/exclude rule, and fine-tuning pairs (labels, flags overriding them)."""

import os
import sqlite3
import unittest

from tests import _support as S
from vitrine_scaleout import batches, config as C, data, flags

SCHEMA = """
CREATE TABLE flag (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, query TEXT NOT NULL,
  match TEXT NOT NULL, model_key TEXT NOT NULL, verdict TEXT NOT NULL, annotator TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'current', replaces_id INTEGER,
  replaced_by_id INTEGER, ended_at_ms INTEGER, model_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT 'annotator');
"""


def write(path, text):
    with open(path, "wb") as f:
        f.write(text.encode("utf-8") if isinstance(text, str) else text)


class Readers(unittest.TestCase):
    def test_sampledata(self):
        ds = data.load(S.SAMPLE)
        self.assertEqual([s.name for s in ds.splits], ["train", "dev", "test", "gallery"])
        self.assertEqual([len(s.samples) for s in ds.splits], [900, 150, 300, 894])
        self.assertEqual(ds.malformed, 0)
        self.assertTrue(all(s.image for split in ds.splits for s in split.samples))
        self.assertEqual(ds.identity_key, "SampleData:" + S.SAMPLE)
        g = ds.split("gallery").samples[0]
        self.assertEqual(len(g.labels), 1)

    def test_product1m_malformed_lines_are_skipped_and_counted(self):
        with S.TempDir() as d:
            os.makedirs(os.path.join(d, "images"))
            write(os.path.join(d, "images", "11.jpg"), b"x")
            write(os.path.join(d, "images", "11.PNG"), b"x")
            write(os.path.join(d, "product1m_gallery_ossurl_v2.txt"),
                  "\ufeff11#####A cream #####u#####u#####Label A \r\n"
                  "\n"
                  "12#####B#####u#####u\n"                      # 4 fields: malformed in gallery
                  "x3#####C#####u#####u#####L\n"                 # id not digits
                  "11#####dup#####u#####u#####L\n"               # duplicate id
                  "14#####D#####u#####u#####L1#;# #;#L2\n")
            ds = data.load(d)
            g = ds.split("gallery")
            self.assertEqual([s.id for s in g.samples], ["11", "14"])
            self.assertEqual(len(g.issues), 3)
            self.assertEqual([i[1] for i in g.issues], [3, 4, 5])
            self.assertEqual(g.samples[0].caption, "A cream")
            self.assertEqual(g.samples[0].labels, ("Label A",))
            self.assertTrue(g.samples[0].image.endswith("11.jpg"))
            self.assertIsNone(g.samples[1].image)
            self.assertEqual(g.samples[1].labels, ("L1", "L2"))

    def test_folder_formats(self):
        with S.TempDir() as d:
            os.makedirs(os.path.join(d, "images"))
            write(os.path.join(d, "images", "a.jpg"), b"x")
            write(os.path.join(d, "captions.tsv"),
                  "id\timage\tcaption\tlabels\tsplit\n"
                  "a\ta.jpg\tcap a\tX; Y\tgallery\n"
                  "b\t../etc/passwd\tcap b\tX\tquery\n"
                  "c\timages/a.jpg\tcap c\tX\t\n"
                  "d\ta.jpg\tcap d\tX\tnowhere\n")
            ds = data.load(d)
            self.assertEqual(ds.format, "tsv")
            self.assertEqual([s.id for s in ds.split("gallery").samples], ["a", "c"])
            self.assertEqual([s.id for s in ds.split("query").samples], ["c"])
            self.assertEqual(ds.split("gallery").samples[0].labels, ("X", "Y"))
            self.assertTrue(ds.split("gallery").samples[0].image.endswith("images/a.jpg"))
            self.assertEqual(len(ds.split("query").issues), 1)   # ../ refused in the query split
            os.unlink(os.path.join(d, "captions.tsv"))
            write(os.path.join(d, "captions.jsonl"),
                  '{"id": 7, "image": "a.jpg", "caption": "seven", "labels": "P;Q", "split": "train"}\n'
                  '{"id": "8", "caption": "eight", "labels": ["P"]}\n'
                  'not json\n')
            ds = data.load(d)
            self.assertEqual([s.name for s in ds.splits], ["train", "query", "gallery"])
            self.assertEqual(ds.split("train").samples[0].labels, ("P", "Q"))
            self.assertIsNone(ds.split("gallery").samples[0].image)


class FlagRule(unittest.TestCase):
    def store(self, d, rows):
        path = os.path.join(d, "flags.sqlite")
        db = sqlite3.connect(path)
        db.executescript(SCHEMA)
        for r in rows:
            dataset, q, m, verdict, who, t = r[:6]
            status = r[6] if len(r) > 6 else "current"
            role = r[7] if len(r) > 7 else "annotator"
            db.execute("INSERT INTO flag (dataset, query, match, model_key, verdict, annotator, created_at_ms, status, role) "
                       "VALUES (?, ?, ?, 'zero-shot:e5', ?, ?, ?, ?, ?)", (dataset, q, m, verdict, who, t, status, role))
        db.commit()
        db.close()
        return path

    def test_majority_latest_exclude(self):
        D = "SampleData:/x/SampleData"
        rows = [
            (D, "q1", "g1", "confirmed", "ana", 1), (D, "q1", "g1", "wrong", "bo", 2),           # tie: newest wins
            (D, "q1", "g2", "confirmed", "ana", 1), (D, "q1", "g2", "confirmed", "bo", 2),
            (D, "q1", "g2", "wrong", "cy", 3),                                                  # 2 to 1
            (D, "q2", "g1", "wrong", "ana", 5, "replaced"), (D, "q2", "g1", "confirmed", "ana", 6),
            (D, "q2", "g2", "confirmed", "ana", 1), (D, "q2", "g2", "wrong", "bo", 2),
            (D, "q2", "g2", "confirmed", "judge", 3, "current", "adjudicator"),                # adjudicated
            (D, "q3", "g1", "confirmed", "ana", 7), (D, "q3", "g1", "wrong", "bo", 7),           # equal times: wrong later
            ("Other:/y", "q9", "g9", "confirmed", "ana", 1),
        ]
        with S.TempDir() as d:
            got = flags.read_flags(self.store(d, rows), D)
            self.assertEqual(len(got), 11)

            def table(rule):
                return {(p.query, p.match): p.positive for p in flags.resolve_pairs(got, rule)}
            self.assertEqual(table("majority"), {("q1", "g1"): False, ("q1", "g2"): True, ("q2", "g1"): True,
                                                 ("q2", "g2"): True, ("q3", "g1"): False})
            self.assertEqual(table("latest"), {("q1", "g1"): False, ("q1", "g2"): False, ("q2", "g1"): True,
                                               ("q2", "g2"): True, ("q3", "g1"): False})
            self.assertEqual(table("exclude"), {("q2", "g1"): True, ("q2", "g2"): True})
            pairs = flags.resolve_pairs(got, "majority")
            self.assertEqual([(p.query, p.match) for p in pairs], sorted((p.query, p.match) for p in pairs))
            q2g2 = next(p for p in pairs if (p.query, p.match) == ("q2", "g2"))
            self.assertTrue(q2g2.adjudicated and q2g2.contested and q2g2.annotators == 2)

    def test_not_a_store(self):
        with S.TempDir() as d:
            write(os.path.join(d, "x.sqlite"), b"not sqlite at all, just text" * 10)
            with self.assertRaises(flags.FlagsError):
                flags.read_flags(os.path.join(d, "x.sqlite"), "k")


class FineTuningPairs(unittest.TestCase):
    def test_labels_and_flags(self):
        S.require_weights(self)
        ds = data.load(S.SAMPLE)
        tok = S.tokenizer("minilm")
        corpus = batches.Corpus(ds, ["gallery", "dev", "test"], tok, 36)
        options = C.preset("tiny", "finetune", "minilm")
        options.query_pair_splits = ["dev"]
        gallery = ds.split("gallery").samples
        a, b = gallery[0], next(s for s in gallery if s.labels[0] == gallery[0].labels[0] and s.id != gallery[0].id)
        flag = flags.FlagPair(a.id, b.id, False, 1, False, False)   # flagged wrong though the labels match
        plan = batches.Plan(corpus, options, [flag])
        rows, pairs = plan.rows(1)
        self.assertEqual(len(rows), len(set(rows)))
        ids = [corpus.sample(p).id for p in rows]
        i, j = sorted((ids.index(a.id), ids.index(b.id)))
        self.assertIn((i, j, 0), pairs)
        for x, y, label in pairs:
            if (x, y) == (i, j):
                continue
            want = batches.pair_label(corpus, rows[x], rows[y])
            self.assertEqual(bool(label), want)
        self.assertTrue(any(p[2] == 1 for p in pairs) and any(p[2] == 0 for p in pairs))
        # The same step gives the same batch; another step another.
        self.assertEqual(plan.rows(1), (rows, pairs))
        self.assertNotEqual(plan.rows(2)[0], rows)


if __name__ == "__main__":
    unittest.main()
