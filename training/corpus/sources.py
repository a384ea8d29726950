"""The source texts in ``../shared/data``: where each source lies, its credit line, its documents.

The repository holds no copy of them (labels are stand-off annotation); every developer
machine and CI has ``../shared`` beside the project. ``DIPLOMATIC_EVENTS_SHARED`` points
elsewhere when it is not there.

Example:
    >>> SOURCE_FILES["kremlin_news"].name
    'kremlin_news.jsonl'
    >>> doc_key("voa", "voa-6180705")
    '6180705'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from training.corpus.records import CorpusError

PROJECT = Path(__file__).resolve().parents[2]

SOURCE_FILES = {
    "voa": Path("voa_stories.jsonl"),
    "statedept_pr": Path("real/statedept_pr.jsonl"),
    "kremlin_news": Path("real/kremlin_news.jsonl"),
    "wikinews": Path("real/wikinews.jsonl"),
    "uscongress_resolutions": Path("real/uscongress_resolutions.jsonl"),
    "state_milestones": Path("real/state_milestones.jsonl"),
}
# VOA stories carry no licence field of their own; their README gives the credit.
VOA_CREDIT = "Public domain (U.S. Government work); credit: Voice of America (voanews.com)"
# Project document ids: VOA stories keep the ``voa-`` prefix the first corpus gave them.
_PREFIX = {"voa": "voa-"}


@dataclass(frozen=True)
class SourceDoc:
    """One source document: the fields sentences are cut from, and its provenance."""

    id: str
    title: str
    text: str
    url: str | None
    licence: str

    def field(self, name: str) -> str:
        """The text of field ``title`` or ``text``."""
        return self.title if name == "title" else self.text


def shared_data() -> Path:
    """``../shared/data`` beside the project (or ``$DIPLOMATIC_EVENTS_SHARED/data``), checked to exist."""
    root = Path(os.environ.get("DIPLOMATIC_EVENTS_SHARED", PROJECT.parent / "shared"))
    data = root / "data"
    if not data.is_dir():
        raise CorpusError(f"{data}:0: the source texts are not there; the corpus is built from ../shared/data "
                          "beside the project (set DIPLOMATIC_EVENTS_SHARED to its parent folder)")
    return data


def doc_key(source: str, doc_id: str) -> str:
    """The id a project document has in its source file."""
    return doc_id.removeprefix(_PREFIX.get(source, ""))


def project_doc_id(source: str, key: str) -> str:
    """The project's document id for document ``key`` of ``source``."""
    return _PREFIX.get(source, "") + key


@cache
def documents(source: str) -> dict[str, SourceDoc]:
    """Every document of ``source`` by its id in the source file."""
    if source not in SOURCE_FILES:
        raise CorpusError(f"{source}:0: unknown source; known: {', '.join(SOURCE_FILES)}")
    path = shared_data() / SOURCE_FILES[source]
    docs = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                key = str(row["id"])
                docs[key] = SourceDoc(key, row.get("title", ""), row["text"], row.get("url"),
                                      row.get("licence", VOA_CREDIT))
    return docs


def source_paths() -> list[Path]:
    """The source files, for staleness checks."""
    data = shared_data()
    return [data / path for path in SOURCE_FILES.values()]
