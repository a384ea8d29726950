"""The labelled corpus: one JSON Lines record per sentence, validated on every load.

Record fields: ``id``, ``doc_id``, ``position`` (sentence index in its document; the title,
when labelled, is position 0), ``text``, ``labels`` (label ids; ``[]`` = none), ``source``
(one of :data:`SOURCES`), ``split`` (train, dev or test), ``url`` and ``licence`` (the
credit line of the source). Splits are assigned by whole document. A bad record stops the
load with its file, line and reason: nothing is dropped silently.

Example:
    >>> from training.corpus import ensure_built
    >>> records = load_records(ensure_built())
    >>> sorted({r.split for r in records})
    ['dev', 'test', 'train']
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.context import document_contexts
from inference.taxonomy import TAXONOMY

SPLITS = ("train", "dev", "test")
# Where each sentence comes from: the real sources in ``../shared/data`` (see
# ``training.corpus.sources``), the seed article, and the passages the project wrote.
REAL_SOURCES = ("voa", "statedept_pr", "kremlin_news", "wikinews", "uscongress_resolutions", "state_milestones")
SOURCES = (*REAL_SOURCES, "seed", "written")
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
    licence: str | None = None

    @property
    def is_real(self) -> bool:
        """True for text someone else published (news, statements, resolutions, essays, the seed)."""
        return self.source != "written"

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
    unknown = set(data) - set(_FIELDS) - {"url", "licence"}
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
    if data["source"] not in SOURCES:
        raise CorpusError(f"{where}: source {data['source']!r} is not one of {', '.join(SOURCES)}")
    return Record(
        id=data["id"],
        doc_id=data["doc_id"],
        position=data["position"],
        text=data["text"],
        labels=tuple(data["labels"]),
        source=data["source"],
        split=data["split"],
        url=data.get("url"),
        licence=data.get("licence"),
    )


def read_jsonl(path: Path) -> list[dict]:
    """Every JSON object of a JSON Lines file; a malformed line is a ``CorpusError`` with its number."""
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{path}:{number}: malformed JSON ({exc.msg})") from exc
    return rows


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


def record_contexts(records: list[Record], mode: str) -> dict[str, str]:
    """Each record's context segment (:func:`inference.context.document_contexts`), by record id.

    A document's sentences are its records in ``position`` order, as the serving code splits
    an article (the corpus holds whole documents).

    Example:
        >>> records = [Record("d-1", "d", 1, "He arrived.", (), "voa", "train"),
        ...            Record("d-0", "d", 0, "Putin visits Hanoi", (), "voa", "train")]
        >>> record_contexts(records, "previous")
        {'d-0': '', 'd-1': 'Putin visits Hanoi'}
    """
    by_doc: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_doc[record.doc_id].append(record)
    contexts: dict[str, str] = {}
    for document in by_doc.values():
        document.sort(key=lambda r: r.position)
        for record, context in zip(document, document_contexts([r.text for r in document], mode)):
            contexts[record.id] = context
    return contexts


def load_dataset_dict(path: str | Path, label_ids: tuple[str, ...], context: str = "none") -> Any:
    """The validated corpus as a ``datasets.DatasetDict`` with a multi-hot ``target`` column.

    ``context`` (an :data:`inference.context.CONTEXT_MODES` mode) fills the ``context`` column.
    """
    import datasets

    records = load_records(path)
    contexts = record_contexts(records, context)
    by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_split[record.split].append(
            {
                "id": record.id,
                "doc_id": record.doc_id,
                "text": record.text,
                "context": contexts[record.id],
                "source": record.source,
                "target": multi_hot(record.labels, label_ids),
            }
        )
    return datasets.DatasetDict({split: datasets.Dataset.from_list(by_split[split]) for split in SPLITS})
