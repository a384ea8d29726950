"""The labelled corpus: one JSON Lines record per sentence, validated on every load.

Record fields: ``id``, ``doc_id``, ``position`` (sentence index in its document), ``text``,
``labels`` (label ids; ``[]`` = none), ``source`` (``voa:<story id>``, ``seed`` or
``written``), ``url`` (for VOA and the seed) and ``split`` (train, dev or test). Splits are
assigned by whole document. A bad record stops the load with its file, line and reason:
nothing is dropped silently.

Command line (``python -m training.corpus``): ``split`` chooses the test and dev documents
once (``data/splits.json``, kept under version control); ``build`` merges the annotation files into
``data/corpus.jsonl``; ``stats`` prints (or, with ``--write``, puts into the data card)
the tables of counts, co-occurrence and agreement; ``check`` validates.

Example:
    >>> records = load_records("data/corpus.jsonl")
    >>> sorted({r.split for r in records})
    ['dev', 'test', 'train']
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.taxonomy import TAXONOMY

SPLITS = ("train", "dev", "test")
_SOURCE = re.compile(r"^(voa:\d+|seed|written)$")
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "doc_id": str,
    "position": int,
    "text": str,
    "labels": list,
    "source": str,
    "split": str,
}


class CorpusError(ValueError):
    """A corpus record is malformed; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Record:
    """One labelled sentence."""

    id: str
    doc_id: str
    position: int
    text: str
    labels: tuple[str, ...]
    source: str
    split: str
    url: str | None = None

    @property
    def source_kind(self) -> str:
        """``voa``, ``seed`` or ``written``: the part of ``source`` before any colon."""
        return self.source.split(":", 1)[0]

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["labels"] = list(self.labels)
        return json.dumps(data, ensure_ascii=False)


def load_records(path: str | Path) -> list[Record]:
    """Read and validate every record of a corpus file.

    Raises:
        CorpusError: malformed JSON, a missing or mistyped field, an unknown label id,
            a duplicate id, or a document found in two splits; with file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}:0: no such corpus file")
    records: list[Record] = []
    first_line: dict[str, int] = {}
    doc_split: dict[str, tuple[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = _parse(line, f"{path}:{number}")
            if record.id in first_line:
                first = first_line[record.id]
                raise CorpusError(f"{path}:{number}: duplicate id {record.id!r} (first on line {first})")
            first_line[record.id] = number
            split, seen_at = doc_split.setdefault(record.doc_id, (record.split, number))
            if split != record.split:
                raise CorpusError(
                    f"{path}:{number}: document {record.doc_id!r} is in split {record.split!r} here "
                    f"but in {split!r} on line {seen_at}"
                )
            records.append(record)
    return records


def _parse(line: str, where: str) -> Record:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: expected a JSON object")
    for name, kind in _FIELDS.items():
        if name not in data:
            raise CorpusError(f"{where}: missing field {name!r}")
        if not isinstance(data[name], kind) or isinstance(data[name], bool):
            raise CorpusError(f"{where}: field {name!r} should be {kind.__name__}")
    unknown = set(data) - set(_FIELDS) - {"url"}
    if unknown:
        raise CorpusError(f"{where}: unknown field(s) {sorted(unknown)}")
    if not data["text"].strip():
        raise CorpusError(f"{where}: empty text")
    for label in data["labels"]:
        if label not in TAXONOMY.ids:
            raise CorpusError(f"{where}: unknown label id {label!r}")
    if len(set(data["labels"])) != len(data["labels"]):
        raise CorpusError(f"{where}: a label is listed twice")
    if data["split"] not in SPLITS:
        raise CorpusError(f"{where}: split {data['split']!r} is not one of {', '.join(SPLITS)}")
    if not _SOURCE.match(data["source"]):
        raise CorpusError(f"{where}: source {data['source']!r} is not voa:<story id>, seed or written")
    return Record(
        id=data["id"],
        doc_id=data["doc_id"],
        position=data["position"],
        text=data["text"],
        labels=tuple(data["labels"]),
        source=data["source"],
        split=data["split"],
        url=data.get("url"),
    )


def fingerprint(path: str | Path) -> str:
    """SHA-256 of the corpus file: two runs with the same fingerprint saw the same data."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def multi_hot(labels: tuple[str, ...], label_ids: tuple[str, ...]) -> list[float]:
    """``labels`` as a 0/1 vector over ``label_ids``.

    Example:
        >>> multi_hot(("aid",), ("arms_deal", "aid"))
        [0.0, 1.0]
    """
    return [1.0 if label in labels else 0.0 for label in label_ids]


def load_dataset_dict(path: str | Path, label_ids: tuple[str, ...]) -> Any:
    """The validated corpus as a ``datasets.DatasetDict`` with a multi-hot ``target`` column."""
    import datasets

    by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in load_records(path):
        by_split[record.split].append(
            {
                "id": record.id,
                "doc_id": record.doc_id,
                "text": record.text,
                "source": record.source_kind,
                "target": multi_hot(record.labels, label_ids),
            }
        )
    return datasets.DatasetDict({split: datasets.Dataset.from_list(by_split[split]) for split in SPLITS})


def word_trigrams(text: str) -> frozenset[tuple[str, ...]]:
    """Lower-cased word trigrams, the unit of the near-duplicate check."""
    words = re.findall(r"\w+", text.lower())
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def near_duplicate_pairs(texts: list[str], threshold: float = 0.6) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, jaccard)`` of texts whose word-trigram Jaccard similarity exceeds ``threshold``.

    Only pairs that share a trigram are compared, so this stays fast on thousands of texts.

    Example:
        >>> near_duplicate_pairs(["the visit to Hanoi went well", "the visit to Hanoi went well today", "no"])
        [(0, 1, 0.8)]
    """
    grams = [word_trigrams(text) for text in texts]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, gram_set in enumerate(grams):
        for gram in gram_set:
            index[gram].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for holders in index.values():
        for a in range(len(holders)):
            for b in range(a + 1, len(holders)):
                shared[(holders[a], holders[b])] += 1
    pairs = []
    for (i, j), common in shared.items():
        jaccard = common / (len(grams[i]) + len(grams[j]) - common)
        if jaccard > threshold:
            pairs.append((i, j, round(jaccard, 3)))
    return sorted(pairs)


def main(argv: list[str] | None = None) -> int:
    """``python -m training.corpus {build,stats,check}``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("split", "build", "stats", "check"))
    parser.add_argument("--corpus", default="data/corpus.jsonl")
    parser.add_argument("--write", action="store_true", help="stats: rewrite the tables in data/DATACARD.md")
    parser.add_argument("--force", action="store_true", help="split: replace an existing data/splits.json")
    args = parser.parse_args(argv)
    try:
        if args.command == "split":
            from training.corpus_build import write_splits

            write_splits(Path("data/splits.json"), force=args.force)
        elif args.command == "build":
            from training.corpus_build import build

            build(Path(args.corpus))
        elif args.command == "stats":
            from training.corpus_stats import print_or_write_stats

            print_or_write_stats(Path(args.corpus), write=args.write)
        else:
            records = load_records(args.corpus)
            print(f"{args.corpus}: {len(records)} valid records")
    except CorpusError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
