"""Build ``data/corpus.jsonl`` from the annotation files, assigning splits by whole document.

Inputs, all under ``data/`` unless noted:
- ``raw/voa_stories.jsonl``: the VOA stories; split here with the serving splitter.
- ``annotation/voa_labels_*.jsonl``: first-pass labels, one line per sentence id.
- ``annotation/adjudication.jsonl``: final labels where the two passes disagreed or a
  review changed a label (``id``, ``labels``, ``reason``); these win.
- ``annotation/written_*.jsonl``: written passages, one per line, labelled per sentence.
- ``annotation/excluded.jsonl``: sentence ids left out on purpose, each with its reason
  (a story that repeats its own sentence); the build says how many it left out.
- ``seeds/*.labels.jsonl`` (project root): the seed article's gold labels.
- ``splits.json``: which documents are test and dev; everything else is train.

Example:
    >>> join_passage(["Talks open in Doha", "Envoys met on Monday."])
    'Talks open in Doha\\n\\nEnvoys met on Monday.'
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from inference.text import split_sentences
from training.corpus import CorpusError, Record, load_records

DATA = Path("data")
SEEDS = Path("seeds")
# A sentence that does not end like one (a headline) is followed by a paragraph break, so
# the splitter keeps it apart from the sentence after it.
_SENTENCE_END = re.compile(r"[.!?\"'”’)]$")


def join_passage(sentences: list[str]) -> str:
    """Join a written passage's sentences into the article text the splitter will see."""
    text = ""
    for i, sentence in enumerate(sentences):
        if i:
            text += " " if _SENTENCE_END.search(sentences[i - 1]) else "\n\n"
        text += sentence
    return text


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{number}: malformed JSON ({exc.msg})") from exc
    return rows


def voa_records(data: Path = DATA) -> list[Record]:
    """Every sentence of every VOA story with its final labels (split not yet assigned)."""
    labels = {row["id"]: row["labels"] for path in sorted((data / "annotation").glob("voa_labels_*.jsonl"))
              for row in read_jsonl(path)}
    adjudication = data / "annotation" / "adjudication.jsonl"
    if adjudication.exists():
        labels.update({row["id"]: row["labels"] for row in read_jsonl(adjudication)})
    records = []
    for story in read_jsonl(data / "raw" / "voa_stories.jsonl"):
        for position, span in enumerate(split_sentences(story["text"])):
            sentence_id = f"voa-{story['id']}-{position:03d}"
            if sentence_id not in labels:
                raise CorpusError(f"{data / 'annotation'}: sentence {sentence_id} has no labels")
            records.append(Record(sentence_id, f"voa-{story['id']}", position, span.text,
                                  tuple(labels[sentence_id]), f"voa:{story['id']}", "", story["url"]))
    return records


def seed_records(seeds: Path = SEEDS) -> list[Record]:
    """The seed articles' gold sentences, checked against the splitter's offsets."""
    records = []
    for gold_path in sorted(seeds.glob("*.labels.jsonl")):
        text = gold_path.with_name(gold_path.name.replace(".labels.jsonl", ".txt")).read_text(encoding="utf-8")
        spans = split_sentences(text)
        gold = read_jsonl(gold_path)
        if [(g["start"], g["end"]) for g in gold] != [(s.start, s.end) for s in spans]:
            raise CorpusError(f"{gold_path}: offsets do not match the sentence splitter's")
        doc_id = gold[0]["doc_id"]
        records += [Record(g["id"], doc_id, i, g["text"], tuple(g["labels"]), "seed", "", g.get("url"))
                    for i, g in enumerate(gold)]
    return records


def written_records(data: Path = DATA) -> list[Record]:
    """Written passages' sentences, checked to split back exactly as written."""
    records = []
    for path in sorted((data / "annotation").glob("written_*.jsonl")):
        for passage in read_jsonl(path):
            texts = [s["text"].strip() for s in passage["sentences"]]
            if [span.text for span in split_sentences(join_passage(texts))] != texts:
                raise CorpusError(f"{path}: passage {passage['doc_id']} does not split back into its sentences")
            records += [Record(f"{passage['doc_id']}-{i:02d}", passage["doc_id"], i, text,
                               tuple(s["labels"]), "written", "")
                        for i, (text, s) in enumerate(zip(texts, passage["sentences"]))]
    return records


def build(out: Path, data: Path = DATA, seeds: Path = SEEDS) -> list[Record]:
    """Merge all sources, assign splits from ``splits.json``, write ``out`` and re-validate it."""
    splits = json.loads((data / "splits.json").read_text(encoding="utf-8"))
    split_of = {doc: split for split in ("test", "dev") for doc in splits[split]}
    excluded = {row["id"]: row["reason"] for row in read_jsonl(data / "annotation" / "excluded.jsonl")}
    records = [
        Record(**{**r.__dict__, "split": split_of.get(r.doc_id, "train")})
        for r in voa_records(data) + seed_records(seeds) + written_records(data)
        if r.id not in excluded
    ]
    known_docs = {r.doc_id for r in records}
    stale = sorted(set(split_of) - known_docs)
    if stale:
        raise CorpusError(f"{data / 'splits.json'}: unknown document(s) {stale}")
    out.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    checked = load_records(out)
    print(f"wrote {len(checked)} sentences from {len(known_docs)} documents to {out} "
          f"({len(excluded)} left out on purpose: see {data / 'annotation' / 'excluded.jsonl'})")
    return checked


def propose_splits(records: list[Record], seed: int = 2026, test_stories: int = 13, dev_stories: int = 7,
                   written_dev_share: float = 0.15) -> dict[str, list[str]]:
    """Choose test and dev documents: whole VOA stories (test is real text only), and written passages for dev.

    Among many seeded random draws of VOA stories, keep the one whose positives cover the
    labels most evenly (each label's count capped), less a penalty for taking more than a
    proportional share of all real positives, so training keeps real examples too.
    """
    import random

    from inference.taxonomy import TAXONOMY

    stories: dict[str, list[Record]] = {}
    for r in records:
        if r.source_kind == "voa":
            stories.setdefault(r.doc_id, []).append(r)
    rng = random.Random(seed)

    total = sum(len(r.labels) for rs in stories.values() for r in rs)

    def coverage(docs: list[str], cap: int) -> float:
        counts = [sum(label in r.labels for d in docs for r in stories[d]) for label in TAXONOMY.ids]
        share = len(docs) / len(stories)
        return sum(min(cap, c) for c in counts) - 0.05 * max(0, sum(counts) - share * total)

    names = sorted(stories)
    test = max((rng.sample(names, test_stories) for _ in range(5000)), key=lambda docs: coverage(docs, 4))
    rest = [d for d in names if d not in test]
    dev = max((rng.sample(rest, dev_stories) for _ in range(5000)), key=lambda docs: coverage(docs, 3))
    written = sorted({r.doc_id for r in records if r.source_kind == "written"})
    dev += [d for d in written if int(hashlib.sha1(d.encode()).hexdigest(), 16) % 1000 < written_dev_share * 1000]
    seeds = sorted({r.doc_id for r in records if r.source_kind == "seed"})
    return {"test": sorted(test) + seeds, "dev": sorted(dev)}


def write_splits(path: Path, force: bool = False) -> None:
    """Choose the splits from the annotated documents and save them; never silently replace them."""
    if path.exists() and not force:
        raise CorpusError(f"{path}:0: already exists; splits are chosen once (use --force to redraw)")
    splits = propose_splits(voa_records() + seed_records() + written_records())
    path.write_text(json.dumps(splits, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(splits['test'])} test and {len(splits['dev'])} dev documents")
