"""The annotators' flags store (docs/flags.md), read from its SQLite file, and the rule that turns
verdicts into training pairs (docs/flags.md §5, FlagStore.resolvePairs):

1. verdicts are grouped by (query, match), whatever the model;
2. each annotator counts once, with their most recent verdict (at equal times `wrong` counts as the
   later one, then the larger id);
3. a pair with an adjudicator's verdict takes the most recent adjudication, under every rule;
4. otherwise the rule decides: `majority` (more confirmed than wrong; a tie goes to the most recent
   vote), `latest` (the most recent vote), `exclude` (contested pairs are left out).
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3


class FlagsError(Exception):
    pass


@dataclasses.dataclass
class Flag:
    id: int
    query: str
    match: str
    verdict: str        # wrong | confirmed
    annotator: str
    role: str           # annotator | adjudicator
    created_ms: int


@dataclasses.dataclass
class FlagPair:
    query: str
    match: str
    positive: bool
    annotators: int
    contested: bool
    adjudicated: bool


def default_path() -> str:
    """$VITRINE_FLAGS, else $XDG_DATA_HOME/vitrine/flags.sqlite (absolute), else ~/.local/share/vitrine/flags.sqlite."""
    if os.environ.get("VITRINE_FLAGS"):
        return os.environ["VITRINE_FLAGS"]
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = xdg if xdg.startswith("/") else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "vitrine", "flags.sqlite")


def read_flags(path: str, dataset_key: str) -> list:
    """The current verdicts of `dataset_key` in the store at `path` (opened read-only)."""
    if not os.path.isfile(path):
        raise FlagsError(f"no flags store at {path}; pass --flags STORE (a flags.sqlite), or --no-flags")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as error:
        raise FlagsError(f"cannot open the flags store {path}: {error}") from None
    try:
        try:
            columns = {row[1] for row in db.execute("PRAGMA table_info(flag)")}
        except sqlite3.DatabaseError as error:
            raise FlagsError(f"{path} is not a SQLite flags store ({error})") from None
        if not {"query", "match", "verdict", "annotator", "created_at_ms", "status"} <= columns:
            raise FlagsError(f"{path} has no Vitrine flag table; is it a flags store (vitrine flags)?")
        role = "role" if "role" in columns else "'annotator'"
        rows = db.execute(f"SELECT id, query, match, verdict, annotator, {role}, created_at_ms FROM flag "
                          "WHERE status = 'current' AND dataset = ? ORDER BY query, match, created_at_ms, id",
                          (dataset_key,)).fetchall()
    except sqlite3.Error as error:
        raise FlagsError(f"cannot read the flags store {path}: {error}") from None
    finally:
        db.close()
    return [Flag(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows]


def _later(a: Flag, b: Flag) -> bool:
    """`a` is more recent than `b`: later time; at equal times `wrong`; then the larger id."""
    if a.created_ms != b.created_ms:
        return a.created_ms > b.created_ms
    if a.verdict != b.verdict:
        return a.verdict == "wrong"
    return a.id > b.id


def _latest(flags: list) -> Flag:
    best = flags[0]
    for f in flags[1:]:
        if _later(f, best):
            best = f
    return best


def resolve_pairs(flags: list, rule: str = "majority") -> list:
    if rule not in ("majority", "latest", "exclude"):
        raise FlagsError(f"unknown flag rule {rule!r} (majority, latest, exclude)")
    groups: dict = {}
    for f in flags:
        groups.setdefault((f.query, f.match), []).append(f)
    result = []
    for (query, match), verdicts in groups.items():
        per_annotator: dict = {}
        for f in verdicts:
            if f.role != "annotator":
                continue
            seen = per_annotator.get(f.annotator)
            if seen is None or not _later(seen, f):
                per_annotator[f.annotator] = f
        votes = list(per_annotator.values())
        adjudications = [f for f in verdicts if f.role == "adjudicator"]
        adjudication = _latest(adjudications) if adjudications else None
        wrong = sum(1 for v in votes if v.verdict == "wrong")
        confirmed = len(votes) - wrong
        contested = wrong > 0 and confirmed > 0
        if not votes and adjudication is None:
            continue
        if adjudication is not None:
            positive = adjudication.verdict == "confirmed"
        else:
            newest = _latest(votes)
            if rule == "majority":
                positive = newest.verdict == "confirmed" if confirmed == wrong else confirmed > wrong
            elif rule == "latest":
                positive = newest.verdict == "confirmed"
            else:
                if contested:
                    continue
                positive = confirmed > 0
        result.append(FlagPair(query, match, positive, len(votes), contested, adjudication is not None))
    result.sort(key=lambda p: (p.query, p.match))
    return result
