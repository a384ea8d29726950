"""Build the labelled corpus by joining the stand-off annotation with the source texts.

Inputs, all under ``data/`` unless noted:
- ``annotation/standoff/<source>.jsonl``: real sentences by reference (see ``standoff``),
  resolved against ``../shared/data`` and checked sentence by sentence.
- ``annotation/adjudication.jsonl``: final labels where the two passes disagreed or a
  review changed a label (``id``, ``labels``, ``reason``); these win.
- ``annotation/written/*.jsonl``: passages and stories the project wrote, labelled per sentence.
- ``annotation/excluded.jsonl``: sentence ids left out on purpose, each with its reason.
- ``seeds/*.labels.jsonl`` (project root): the seed article's gold labels.
- ``splits.json``: which documents are test and dev; everything else is train.

The output, ``build/corpus.jsonl`` by default, is ignored by git and rebuilt whenever an
input is newer (:func:`ensure_built`), so training needs no separate step.

Example:
    >>> join_passage(["Talks open in Doha", "Envoys met on Monday."])
    'Talks open in Doha\\n\\nEnvoys met on Monday.'
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from inference.text import split_sentences
from training.corpus.records import CorpusError, Record, load_records, read_jsonl
from training.corpus.sources import PROJECT, VOA_CREDIT, source_paths
from training.corpus.standoff import read_standoff, resolve

DATA = PROJECT / "data"
SEEDS = PROJECT / "seeds"
CORPUS = PROJECT / "build" / "corpus.jsonl"
WRITTEN_LICENCE = "Apache-2.0 (written for this project)"
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


def final_labels(data: Path = DATA, as_of_round: int | None = None) -> dict[str, tuple[str, ...]]:
    """Adjudicated labels by sentence id: they replace the first pass's.

    ``as_of_round`` gives the labels as they stood when that annotation round's documents were
    chosen: a row with ``"after_round": N`` (a review made after round N was chosen) counts
    only for rounds after N, so a later review cannot change what an earlier round picked.
    """
    path = data / "annotation" / "adjudication.jsonl"
    rows = read_jsonl(path) if path.exists() else []
    return {row["id"]: tuple(row["labels"]) for row in rows
            if as_of_round is None or row.get("after_round", 0) < as_of_round}


def real_records(data: Path = DATA) -> list[Record]:
    """Every annotated real sentence with its first-pass labels, its text taken from ``../shared/data``."""
    records = []
    for path in sorted((data / "annotation" / "standoff").glob("*.jsonl")):
        source = path.stem
        positions: dict[str, int] = {}
        for row in read_standoff(path):
            text, doc = resolve(row, source, path)
            position = positions[row.doc_id] = positions.get(row.doc_id, -1) + 1
            records.append(Record(row.id, row.doc_id, position, text, row.labels, source, "", doc.url, doc.licence))
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
        records += [Record(g["id"], doc_id, i, g["text"], tuple(g["labels"]), "seed", "", g.get("url"), VOA_CREDIT)
                    for i, g in enumerate(gold)]
    return records


def written_records(data: Path = DATA) -> list[Record]:
    """Written items' sentences, checked to split back exactly as written."""
    records = []
    for path in sorted((data / "annotation" / "written").glob("*.jsonl")):
        for item in read_jsonl(path):
            texts = [s["text"].strip() for s in item["sentences"]]
            if [span.text for span in split_sentences(join_passage(texts))] != texts:
                raise CorpusError(f"{path}: item {item['doc_id']} does not split back into its sentences")
            records += [Record(f"{item['doc_id']}-{i:02d}", item["doc_id"], i, text, tuple(s["labels"]),
                               "written", "", None, WRITTEN_LICENCE)
                        for i, (text, s) in enumerate(zip(texts, item["sentences"]))]
    return records


def all_records(data: Path = DATA, seeds: Path = SEEDS, as_of_round: int | None = None) -> list[Record]:
    """Every sentence of every source with its final labels (or those of ``as_of_round``, see
    :func:`final_labels`), less the excluded ones, with no split yet."""
    excluded = {row["id"] for row in read_jsonl(data / "annotation" / "excluded.jsonl")}
    adjudicated = final_labels(data, as_of_round)
    records = real_records(data) + seed_records(seeds) + written_records(data)
    known = {r.id for r in records}
    unknown = sorted(set(adjudicated) - known)
    if unknown:
        raise CorpusError(f"{data / 'annotation' / 'adjudication.jsonl'}: unknown sentence id(s) {unknown[:5]}")
    return [Record(**{**r.__dict__, "labels": adjudicated.get(r.id, r.labels)})
            for r in records if r.id not in excluded]


def build(out: Path = CORPUS, data: Path = DATA, seeds: Path = SEEDS) -> list[Record]:
    """Join all sources, assign splits from ``splits.json``, write ``out`` and re-validate it."""
    splits_path = data / "splits.json"
    splits = json.loads(splits_path.read_text(encoding="utf-8"))
    split_of = {doc: split for split in ("test", "dev", "train") for doc in splits.get(split, [])}
    records = []
    for r in all_records(data, seeds):
        split = split_of.get(r.doc_id, "train" if not r.is_real else "")
        if not split:
            raise CorpusError(f"{splits_path}:0: document {r.doc_id!r} has no split yet; "
                              "run python -m training.corpus split")
        if not r.is_real and r.doc_id in split_of:
            raise CorpusError(f"{splits_path}:0: written document {r.doc_id!r} is listed; written text is train only")
        records.append(Record(**{**r.__dict__, "split": split}))
    known_docs = {r.doc_id for r in records}
    stale = sorted(set(split_of) - known_docs)
    if stale:
        raise CorpusError(f"{splits_path}:0: unknown document(s) {stale[:5]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # A private temporary name: several processes (parallel tests, a training run) may build at once.
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    partial.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    checked = load_records(partial)
    partial.replace(out)
    print(f"built {out}: {len(checked)} sentences from {len(known_docs)} documents")
    return checked


def inputs(data: Path = DATA, seeds: Path = SEEDS) -> list[Path]:
    """Every file the build reads: annotation, splits, seeds and the source texts."""
    return [*sorted((data / "annotation").rglob("*.jsonl")), data / "splits.json",
            *sorted(seeds.glob("*")), *source_paths(), *sorted(Path(__file__).parent.glob("*.py"))]


def ensure_built(path: str | Path = CORPUS) -> Path:
    """The corpus file to train on: the default one is (re)built when missing or older than an input.

    Any other path is taken as given, so a user can train on a corpus of their own.
    """
    path = Path(path)
    if path.resolve() != CORPUS.resolve():
        return path
    if not path.exists() or path.stat().st_mtime < max(p.stat().st_mtime for p in inputs()):
        build(path)
    return path
