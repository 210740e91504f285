"""What a step trains on: the corpus, the global batch of a step, per-sample masking and the
collated inputs of one rank (docs/model.md §5; Trainer.swift's data order and batch composition).

Random streams (they differ from Vitrine's xoshiro256** streams; the semantics are the same):
  * data order: epoch e of stream S is a permutation drawn from (seed, FNV-1a(S), e): global batch of
    step s = items (s−1)·B … s·B−1 of the endless sequence of epochs; rank r takes a contiguous block of
    it, so the shards are disjoint and reshuffled every epoch;
  * fine-tuning batch composition (views of each label, a query's gallery item): from (seed, s);
  * masks (MLM tokens, MRM cells) and dropout of a sample: from (seed, s, its index in the global batch),
    so neither depends on how the batch is split over ranks, and a resumed run repeats them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .config import fnv1a64
from .losses import LocalBatch

MASK64 = (1 << 64) - 1
STREAM_COMPOSITION, STREAM_MASK, STREAM_DROPOUT = 0xC0B0, 0x3A5C, 0xD409


def sample_rng(seed: int, step: int, index: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed & MASK64, step, index, stream])))


def sample_seed(seed: int, step: int, index: int, stream: int) -> int:
    state = np.random.SeedSequence([seed & MASK64, step, index, stream]).generate_state(1, np.uint64)[0]
    return int(state) & 0x7FFF_FFFF_FFFF_FFFF


class Corpus:
    """The samples a run draws from (those with an image), by position, splits in the given order."""

    def __init__(self, dataset, split_names: list, tokenizer, max_length: int):
        self.entries = []
        self.skipped = 0
        for name in split_names:
            split = dataset.split(name)
            for s in split.samples:
                if s.image is None:
                    self.skipped += 1
                else:
                    self.entries.append((split.name, split.role, s))
        self.index = {}
        for p, (_, _, s) in enumerate(self.entries):
            self.index.setdefault(s.id, p)
        self.tokenizer, self.max_length = tokenizer, max_length
        self._tokens: dict = {}

    def __len__(self):
        return len(self.entries)

    def positions(self, role: str) -> list:
        return [p for p, e in enumerate(self.entries) if e[1] == role]

    def positions_of_split(self, name: str) -> list:
        return [p for p, e in enumerate(self.entries) if e[0] == name]

    def sample(self, p: int):
        return self.entries[p][2]

    def role(self, p: int) -> str:
        return self.entries[p][1]

    def split_name(self, p: int) -> str:
        return self.entries[p][0]

    def tokens(self, p: int) -> list:
        t = self._tokens.get(p)
        if t is None:
            t = self.tokenizer.encode(self.entries[p][2].caption, self.max_length)
            if len(self._tokens) < 300_000:   # about 150 MB of token lists at most
                self._tokens[p] = t
        return t


def pair_label(corpus: Corpus, a: int, b: int):
    """PairLabel.matches: two gallery items match when their first labels are equal; a query and a
    gallery item when the item's first label is one of the query's; None when labels cannot tell."""
    ra, rb = corpus.role(a), corpus.role(b)
    la, lb = corpus.sample(a).labels, corpus.sample(b).labels
    if ra == "gallery" and rb == "gallery":
        return (la[0] == lb[0]) if (la and lb) else None
    if ra == "query" and rb == "gallery":
        return (lb[0] in la) if (lb and la) else None
    if ra == "gallery" and rb == "query":
        return pair_label(corpus, b, a)
    return None


class Plan:
    """The global batches of a run (identical on every rank)."""

    def __init__(self, corpus: Corpus, options, flag_pairs: list):
        self.corpus, self.options = corpus, options
        self.seed = int(options.seed)
        self._orders: dict = {}
        if options.mode == "pretrain":
            self.pool = corpus.positions("train")
        else:
            self.pool = []
        groups: dict = {}
        for p in corpus.positions("gallery"):
            labels = corpus.sample(p).labels
            if labels:
                groups.setdefault(labels[0], []).append(p)
        self.gallery_by_label = groups
        minimum = min(options.views_per_label, 2)
        self.label_groups = [groups[k] for k in sorted(groups) if len(groups[k]) >= minimum]
        splits = set(options.query_pair_splits)
        self.query_pool = [] if options.mode == "pretrain" else [
            p for p in corpus.positions("query")
            if corpus.split_name(p) in splits and options.is_pair_query(corpus.sample(p).id)
            and any(l in groups for l in corpus.sample(p).labels)]
        self.flag_rows = []
        for pair in flag_pairs:
            a, b = corpus.index.get(pair.query), corpus.index.get(pair.match)
            if a is not None and b is not None and pair.query != pair.match:
                self.flag_rows.append((a, b, pair.positive))

    def ordered(self, stream: str, count: int, index: int) -> int:
        epoch = index // count
        key = (stream, epoch)
        order = self._orders.get(key)
        if order is None:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed & MASK64, fnv1a64(stream.encode()), epoch])))
            order = rng.permutation(count)
            self._orders = {k: v for k, v in self._orders.items() if k[0] != stream}
            self._orders[key] = order
        return int(order[index % count])

    def rows(self, step: int) -> tuple:
        """(global rows: corpus positions, pairs (i, j, y) over row indices) of step `step` (1-based)."""
        if self.options.mode == "pretrain":
            B = self.options.batch_size
            return [self.pool[self.ordered("pretrain", len(self.pool), (step - 1) * B + j)] for j in range(B)], []
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed & MASK64, step, STREAM_COMPOSITION])))
        rows, slot = [], {}

        def add(p):
            if p not in slot:
                slot[p] = len(rows)
                rows.append(p)
            return slot[p]
        o = self.options
        K, P = o.views_per_label, max(2, o.batch_size // o.views_per_label)
        if len(self.label_groups) >= 2:
            labels = min(P, len(self.label_groups))
            for j in range(labels):
                group = list(self.label_groups[self.ordered("labels", len(self.label_groups), (step - 1) * labels + j)])
                for i in range(min(K, len(group))):
                    k = i + int(rng.integers(len(group) - i))
                    group[i], group[k] = group[k], group[i]
                    add(group[i])
        if self.query_pool:
            queries = min(max(1, P // 2), len(self.query_pool))
            for j in range(queries):
                q = self.query_pool[self.ordered("queries", len(self.query_pool), (step - 1) * queries + j)]
                add(q)
                labels = [l for l in self.corpus.sample(q).labels if l in self.gallery_by_label]
                if labels:
                    items = self.gallery_by_label[labels[int(rng.integers(len(labels)))]]
                    add(items[int(rng.integers(len(items)))])
        explicit = {}
        if self.flag_rows and o.flag_pairs_per_batch > 0:
            count = min(o.flag_pairs_per_batch, len(self.flag_rows))
            for j in range(count):
                a, b, match = self.flag_rows[self.ordered("flags", len(self.flag_rows), (step - 1) * count + j)]
                sa, sb = add(a), add(b)
                explicit[(min(sa, sb), max(sa, sb))] = match
        if len(rows) < 2:
            add(((rows[0] + 1) if rows else 0) % len(self.corpus))
        pairs = []
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                y = explicit.get((i, j))
                if y is None:
                    y = pair_label(self.corpus, rows[i], rows[j])
                if y is not None:
                    pairs.append((i, j, 1 if y else 0))
        return rows, pairs


def shard_sizes(count: int, world: int) -> list:
    base, extra = divmod(count, world)
    return [base + (1 if r < extra else 0) for r in range(world)]


@dataclasses.dataclass
class MaskedSample:
    ids: list
    targets: list
    cells: np.ndarray       # [49, D] model input
    original: np.ndarray    # [49, D]
    chosen: np.ndarray      # [49] bool


def mask_sample(tokens: list, cells: np.ndarray, rng: np.random.Generator, special: dict, vocab: int,
                text_p: float, region_p: float) -> MaskedSample:
    """docs/model.md §5.1: each real token but the first/last/padding chosen with text_p (then 80 %
    mask, 10 % a random row of the vocabulary, 10 % kept); each cell chosen with region_p (then 90 %
    zeroed, 10 % kept). Targets: the original id, -1 elsewhere."""
    ids = list(tokens)
    targets = [-1] * len(ids)
    skip = {special["cls"], special["sep"], special["pad"]}
    if text_p > 0:
        for r, token in enumerate(ids):
            if token in skip:
                continue
            if rng.random() < text_p:
                targets[r] = token
                u = rng.random()
                if u < 0.8:
                    ids[r] = special["mask"]
                elif u < 0.9:
                    ids[r] = int(rng.integers(vocab))
    chosen = np.zeros(cells.shape[0], dtype=bool)
    masked = cells
    if region_p > 0:
        masked = cells.copy()
        for c in range(cells.shape[0]):
            if rng.random() < region_p:
                chosen[c] = True
                if rng.random() < 0.9:
                    masked[c] = 0
    return MaskedSample(ids, targets, masked, cells, chosen)


def collate(samples: list, length: int, pad: int, device, sizes: list, pairs: list) -> LocalBatch:
    n = len(samples)
    ids = torch.full((n, length), pad, dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    targets = torch.full((n, length), -1, dtype=torch.long)
    for i, s in enumerate(samples):
        k = len(s.ids)
        ids[i, :k] = torch.tensor(s.ids)
        mask[i, :k] = 1
        targets[i, :k] = torch.tensor(s.targets)
    cells = torch.from_numpy(np.stack([s.cells for s in samples]).astype(np.float32))
    original = torch.from_numpy(np.stack([s.original for s in samples]).astype(np.float32))
    chosen = torch.from_numpy(np.stack([s.chosen for s in samples]))
    return LocalBatch(ids.to(device), mask.to(device), cells.to(device), targets.to(device), original.to(device),
                      chosen.to(device), pairs, sizes)
