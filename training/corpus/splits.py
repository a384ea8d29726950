"""Choose the test and dev documents once and fix them in ``data/splits.json``.

Test and dev hold real text only; written text is train only. The VOA stories and the seed
keep the splits the first corpus gave them, so old and new figures stay comparable. The
other real documents are assigned as whole near-duplicate clusters (``dedup``), so no
sentence has a near-twin in another split. Among many seeded random draws, the one kept
comes closest to each label's target share in test and dev, and gives every label at least
``min_test_positives`` real test positives where the sources hold twice that many.

Example:
    >>> sorted(json.loads(Path("data/splits.json").read_text()))
    ['dev', 'test']
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

from inference.taxonomy import TAXONOMY
from training.corpus.dedup import document_clusters
from training.corpus.records import CorpusError, Record

FIRST_CORPUS_SOURCES = ("voa", "seed")


def propose_splits(records: list[Record], previous: dict[str, list[str]], seed: int = 2026,
                   test_share: float = 0.22, dev_share: float = 0.15, min_test_positives: int = 30,
                   draws: int = 3000) -> dict[str, list[str]]:
    """Test and dev documents: the first corpus's real ones as before, plus a stratified share of the new ones."""
    kept = {split: [d for d in previous.get(split, []) if not d.startswith("w-")] for split in ("test", "dev")}
    new = [r for r in records if r.is_real and r.source not in FIRST_CORPUS_SOURCES]
    clusters: dict[str, list[str]] = defaultdict(list)
    for doc, root in document_clusters([r.text for r in new], [r.doc_id for r in new]).items():
        clusters[root].append(doc)
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in new:
        root_counts = counts[r.doc_id]
        root_counts["sentences"] += 1
        for label in r.labels:
            root_counts[label] += 1
    unit = {root: sum((counts[d] for d in docs), Counter()) for root, docs in clusters.items()}
    total = sum(unit.values(), Counter())
    targets = {label: max(test_share * total[label], min(min_test_positives, total[label] / 2))
               for label in TAXONOMY.ids}

    def penalty(test: Counter, dev: Counter) -> float:
        miss = sum(max(0.0, targets[label] - test[label]) * 3 for label in TAXONOMY.ids)
        spread = sum(abs(test[label] - test_share * total[label]) + abs(dev[label] - dev_share * total[label])
                     for label in TAXONOMY.ids)
        return miss + spread

    rng = random.Random(seed)
    roots = sorted(clusters)
    best: tuple[float, list[str], list[str]] | None = None
    for _ in range(draws):
        rng.shuffle(roots)
        test, dev, test_counts, dev_counts = [], [], Counter(), Counter()
        for root in roots:
            if test_counts["sentences"] < test_share * total["sentences"]:
                test.append(root)
                test_counts += unit[root]
            elif dev_counts["sentences"] < dev_share * total["sentences"]:
                dev.append(root)
                dev_counts += unit[root]
        score = penalty(test_counts, dev_counts)
        if best is None or score < best[0]:
            best = (score, list(test), list(dev))
    assert best is not None
    _, test_roots, dev_roots = best
    return {"test": sorted(kept["test"] + [d for root in test_roots for d in clusters[root]]),
            "dev": sorted(kept["dev"] + [d for root in dev_roots for d in clusters[root]])}


def write_splits(path: Path, records: list[Record], force: bool = False) -> dict[str, list[str]]:
    """Choose the splits and save them; never silently replace chosen ones."""
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    new_docs = {r.doc_id for r in records if r.is_real and r.source not in FIRST_CORPUS_SOURCES}
    if new_docs & set(previous.get("test", []) + previous.get("dev", [])) and not force:
        raise CorpusError(f"{path}:0: already holds the new documents; splits are chosen once (--force redraws)")
    splits = propose_splits(records, previous)
    path.write_text(json.dumps(splits, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(splits['test'])} test and {len(splits['dev'])} dev documents")
    return splits
