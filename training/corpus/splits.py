"""Choose the split of every real document once and fix it in ``data/splits.json``.

Test and dev hold real text only; written text is always train and is not listed. Every
real document is listed under ``train``, ``dev`` or ``test``; a document annotated in a
later round is assigned when ``python -m training.corpus split`` next runs, and documents
already assigned never move (``--force`` redraws all but the first corpus's). The VOA
stories and the seed keep the splits the first corpus gave them. Other documents are
assigned as whole near-duplicate clusters (``dedup``), joining the split of an assigned
document of their cluster if there is one. The rest are drawn: among many seeded random
draws, the one kept comes closest to each label's target share in test and dev, and gives
every label at least ``min_test_positives`` real test positives where the drawn documents
hold twice that many.

Example:
    >>> from training.corpus.build import DATA
    >>> sorted(json.loads((DATA / "splits.json").read_text()))
    ['dev', 'test', 'train']
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

from inference.taxonomy import TAXONOMY
from training.corpus.dedup import document_clusters
from training.corpus.records import SPLITS, CorpusError, Record

FIRST_CORPUS_SOURCES = ("voa", "seed")


def draw(units: dict[str, Counter], seed: int = 2026, test_share: float = 0.22, dev_share: float = 0.15,
         min_test_positives: int = 30, draws: int = 3000,
         assigned: dict[str, Counter] | None = None) -> dict[str, list[str]]:
    """Assign units (clusters, with their label and sentence counts) to test, dev and train.

    ``assigned`` holds the counts of documents assigned before (``test``, ``dev``, ``train``):
    the label targets apply to the whole, so a later round tops up what test and dev lack.

    Example:
        >>> units = {f"u{i}": Counter(sentences=10, aid=i % 2) for i in range(20)}
        >>> {split: len(names) for split, names in draw(units, draws=10).items()}
        {'test': 5, 'dev': 3, 'train': 12}
    """
    base = assigned or {}
    pool = sum(units.values(), Counter())
    total = pool + sum(base.values(), Counter())
    targets = {label: max(test_share * total[label], min(min_test_positives, total[label] / 2))
               for label in TAXONOMY.ids}

    def penalty(test: Counter, dev: Counter) -> float:
        test, dev = test + base.get("test", Counter()), dev + base.get("dev", Counter())
        miss = sum(max(0.0, targets[label] - test[label]) * 3 for label in TAXONOMY.ids)
        spread = sum(abs(test[label] - test_share * total[label]) + abs(dev[label] - dev_share * total[label])
                     for label in TAXONOMY.ids)
        return miss + spread

    rng = random.Random(seed)
    names = sorted(units)
    best: tuple[float, dict[str, list[str]]] | None = None
    for _ in range(draws):
        rng.shuffle(names)
        chosen: dict[str, list[str]] = {"test": [], "dev": [], "train": []}
        counts = {"test": Counter(), "dev": Counter()}
        for name in names:
            if counts["test"]["sentences"] < test_share * pool["sentences"]:
                split = "test"
            elif counts["dev"]["sentences"] < dev_share * pool["sentences"]:
                split = "dev"
            else:
                split = "train"
            chosen[split].append(name)
            if split != "train":
                counts[split] += units[name]
        score = penalty(counts["test"], counts["dev"])
        if best is None or score < best[0]:
            best = (score, {split: list(members) for split, members in chosen.items()})
    assert best is not None
    return best[1]


def assign(records: list[Record], previous: dict[str, list[str]], seed: int = 2026,
           new_split: str | None = None) -> dict[str, list[str]]:
    """Every real document's split: the previous ones kept, the unassigned ones drawn by cluster.

    With ``new_split`` (``"train"`` for annotation round 3) the unassigned clusters all go to that
    split instead of being drawn, so dev and test stay as measured before. A new document that is a
    near-duplicate of an assigned one still joins that one's split: nothing leaks across splits.
    """
    split_of = {doc: split for split in SPLITS for doc in previous.get(split, [])}
    real = [r for r in records if r.is_real]
    for r in real:
        if r.source in FIRST_CORPUS_SOURCES and r.doc_id not in split_of:
            split_of[r.doc_id] = "train"
    new = [r for r in real if r.source not in FIRST_CORPUS_SOURCES]
    clusters: dict[str, list[str]] = defaultdict(list)
    for doc, root in document_clusters([r.text for r in new], [r.doc_id for r in new]).items():
        clusters[root].append(doc)
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in new:
        counts[r.doc_id]["sentences"] += 1
        counts[r.doc_id].update(r.labels)
    units, assigned = {}, {split: Counter() for split in ("test", "dev", "train")}
    for root, docs in clusters.items():
        splits_of_cluster = {split_of[d] for d in docs if d in split_of}
        if len(splits_of_cluster) > 1:
            raise CorpusError(f"data/splits.json:0: near-duplicate documents {sorted(docs)} are in "
                              f"{sorted(splits_of_cluster)}")
        if splits_of_cluster:
            split = splits_of_cluster.pop()
            split_of.update(dict.fromkeys(docs, split))
            assigned[split] += sum((counts[d] for d in docs), Counter())
        else:
            units[root] = sum((counts[d] for d in docs), Counter())
    if units and new_split:
        split_of.update({doc: new_split for root in units for doc in clusters[root]})
    elif units:
        for split, roots in draw(units, seed, assigned=assigned).items():
            split_of.update({doc: split for root in roots for doc in clusters[root]})
    return {split: sorted(doc for doc, s in split_of.items() if s == split) for split in ("test", "dev", "train")}


def write_splits(path: Path, records: list[Record], force: bool = False,
                 new_split: str | None = None) -> dict[str, list[str]]:
    """Assign the documents that have no split yet (all but the first corpus's with ``force``) and save."""
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if force:
        first = {r.doc_id for r in records if r.source in FIRST_CORPUS_SOURCES}
        previous = {split: [d for d in docs if d in first] for split, docs in previous.items()}
    splits = assign(records, previous, new_split=new_split)
    path.write_text(json.dumps(splits, indent=1) + "\n", encoding="utf-8")
    before = sum(len(previous.get(split, [])) for split in SPLITS)
    print(f"wrote {path}: {len(splits['test'])} test, {len(splits['dev'])} dev and {len(splits['train'])} train "
          f"documents ({sum(map(len, splits.values())) - before} newly assigned)")
    return splits
