"""Command line: ``python -m inference --model SOURCE [FILE ...]``, JSON Lines out.

Input is one text per line, or JSON Lines with a ``text`` field (and an optional ``id``);
``-`` or no FILE reads standard input. With ``--documents`` each input is an article: a
JSON Lines record, or a whole plain-text file. Bad lines are reported on standard error
with their line number while the rest are processed; the exit code is then 1.

Example:
    $ echo "NATO condemned the missile launch." | python -m inference --model artifacts/default
    {"source": "-", "line": 1, "text": "NATO condemned ...", "labels": ["condemnation", ...], "scores": {...}}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from tqdm.auto import tqdm

from inference.artifact import ArtifactError
from inference.classifier import Classifier, Document
from inference.load import load_classifier

CHUNK = 256  # texts predicted together; keeps memory flat on large inputs


@dataclass(frozen=True)
class Item:
    source: str
    line: int
    text: str
    id: str | None = None


class BadLine(ValueError):
    """An input line that cannot be read; the message names its source and line."""


def read_items(source: str, handle: TextIO, documents: bool) -> Iterator[Item | BadLine]:
    """Yield the texts of one input, or a ``BadLine`` for each line that cannot be read."""
    lines = handle.read().splitlines()
    first = next((line for line in lines if line.strip()), "")
    if documents and not first.lstrip().startswith("{"):
        yield Item(source, 1, "\n".join(lines))
        return
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            yield Item(source, number, line)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadLine(f"{source}:{number}: malformed JSON ({exc.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield BadLine(f"{source}:{number}: expected an object with a string 'text' field")
            continue
        yield Item(source, number, record["text"], None if record.get("id") is None else str(record["id"]))


def document_json(item: Item, document: Document, with_sentences: bool) -> dict:
    out = _header(item)
    out["events"] = [
        {"label": e.label, "name": e.name, "score": round(e.score, 4), "cameo": list(e.cameo), "plover": e.plover,
         "evidence": [{"text": ev.text, "start": ev.start, "end": ev.end, "score": round(ev.score, 4)}
                      for ev in e.evidence]}
        for e in document.events
    ]
    out["sentence_count"] = len(document.sentences)
    if with_sentences:
        out["sentences"] = [{"text": s.text, "start": s.start, "end": s.end, "labels": list(s.labels),
                             "scores": s.scores} for s in document.sentences]
    return out


def document_text(item: Item, document: Document) -> str:
    """A readable report of one article's events."""
    found = len(document.events)
    lines = [f"{item.source}: {found} event type{'s' * (found != 1)} in {len(document.sentences)} sentences"]
    for e in document.events:
        lines.append(f"  {e.label:<18} score {e.score:.2f}   CAMEO {', '.join(e.cameo)} | PLOVER {e.plover}")
        for ev in e.evidence:
            lines.append(f"      [{ev.start}:{ev.end}] ({ev.score:.2f}) {ev.text}")
    return "\n".join(lines)


def _header(item: Item) -> dict:
    out: dict = {"source": item.source, "line": item.line}
    if item.id is not None:
        out["id"] = item.id
    return out


def run(clf: Classifier, items: Iterator[Item | BadLine], out: TextIO, args: argparse.Namespace) -> int:
    """Classify every item and write the results; return how many lines failed."""
    failed = 0
    chunk: list[Item] = []

    def flush() -> None:
        if args.documents:
            for item in chunk:
                document = clf.classify_document(item.text, batch_size=args.batch_size)
                if args.format == "text":
                    print(document_text(item, document), file=out)
                else:
                    print(json.dumps(document_json(item, document, args.sentences), ensure_ascii=False), file=out)
        else:
            for item, pred in zip(chunk, clf.predict([i.text for i in chunk], batch_size=args.batch_size)):
                record = {**_header(item), "text": item.text, "labels": list(pred.labels), "scores": pred.scores}
                print(json.dumps(record, ensure_ascii=False), file=out)
        chunk.clear()

    for item in tqdm(items, desc="classifying", unit=" docs" if args.documents else " lines", disable=None):
        if isinstance(item, BadLine):
            print(f"error: {item}", file=sys.stderr)
            failed += 1
            continue
        chunk.append(item)
        if len(chunk) >= (1 if args.documents else CHUNK):
            flush()
    flush()
    return failed


def _all_items(paths: list[str], documents: bool) -> Iterator[Item | BadLine]:
    for path in paths:
        if path == "-":
            yield from read_items("-", sys.stdin, documents)
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                yield from read_items(path, handle, documents)
        except (OSError, UnicodeDecodeError) as exc:
            yield BadLine(f"{path}:0: cannot read ({exc})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference", description="Label diplomatic events in text.")
    parser.add_argument("--model", required=True, help="model directory or MLflow URI (models:/NAME@ALIAS)")
    parser.add_argument("files", nargs="*", default=["-"], help="input files; '-' (default) is standard input")
    parser.add_argument("--documents", action="store_true", help="treat each input as an article")
    parser.add_argument("--sentences", action="store_true", help="with --documents: include every sentence")
    parser.add_argument("--format", choices=("jsonl", "text"), default="jsonl", help="text: readable report "
                        "(with --documents)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.format == "text" and not args.documents:
        parser.error("--format text goes with --documents")
    try:
        clf = load_classifier(args.model)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = run(clf, _all_items(args.files, args.documents), sys.stdout, args)
    if failed:
        print(f"{failed} input line(s) failed; the others were processed", file=sys.stderr)
    return 1 if failed else 0
