"""Command line: ``python -m inference --model SOURCE [FILE ...]``, JSON Lines out.

Input is one text per line, or JSON Lines with a ``text`` field (and an optional ``id``);
``-`` or no FILE reads standard input. The format is decided once per file: JSON Lines when
its first non-blank line is a JSON object, plain text otherwise. Lines end at ``\n`` only
(a ``\r`` before it is dropped), so U+2028 or a form feed inside a JSON string stays in its
record; a UTF-8 byte-order mark is skipped. With ``--documents`` each input is an article:
a JSON Lines record, or a whole plain-text file (offsets index the file's characters). Bad
lines (malformed JSON, invalid UTF-8, text with lone surrogates) are reported on standard
error with their line number while the rest are processed; the exit code is then 1.
``--documents --format text`` prints a readable report instead, and ``--format html`` one
self-contained page with every article's events highlighted (:mod:`inference.html`).

Example:
    $ echo "NATO condemned the missile launch." | python -m inference --model artifacts/default
    {"source": "-", "line": 1, "text": "NATO condemned ...", "labels": ["condemnation", ...], "scores": {...}}
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from tqdm.auto import tqdm

from inference.artifact import BACKEND_NAMES, ArtifactError
from inference.classifier import Classifier, Document, Prediction, unencodable
from inference.html import Article, render_page
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


def read_items(source: str, handle: BinaryIO, documents: bool) -> Iterator[Item | BadLine]:
    """Yield the texts of one input, or a ``BadLine`` for each line that cannot be read."""
    data = handle.read().removeprefix(codecs.BOM_UTF8)
    lines = data.split(b"\n")
    if not is_json_lines(lines):
        if documents:
            yield from _plain_document(source, data)
        else:
            for number, raw in enumerate(lines, 1):
                text = _decoded(raw, source, number)
                if isinstance(text, BadLine) or text.strip():
                    yield text if isinstance(text, BadLine) else Item(source, number, text)
        return
    for number, raw in enumerate(lines, 1):
        item = json_record(raw, source, number)
        if item is not None:
            yield item


def json_record(raw: bytes, source: str, number: int) -> Item | BadLine | None:
    """One JSON Lines line as an ``Item``, a ``BadLine`` saying why it cannot be read, or ``None`` if blank.

    Example:
        >>> json_record(b'{"id": 7, "text": "Talks."}', "in.jsonl", 3)
        Item(source='in.jsonl', line=3, text='Talks.', id='7')
        >>> json_record(b'{"text": 5}', "in.jsonl", 4)
        BadLine("in.jsonl:4: expected an object with a string 'text' field")
    """
    line = _decoded(raw, source, number)
    if isinstance(line, BadLine) or not line.strip():
        return line if isinstance(line, BadLine) else None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(f"{source}:{number}: malformed JSON ({exc.msg})")
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return BadLine(f"{source}:{number}: expected an object with a string 'text' field")
    problem = unencodable(record["text"])
    if problem:
        return BadLine(f"{source}:{number}: the text {problem}")
    return Item(source, number, record["text"], None if record.get("id") is None else str(record["id"]))


def is_json_lines(lines: list[bytes]) -> bool:
    """The format rule: JSON Lines when the first non-blank line parses as a JSON object.

    Example:
        >>> is_json_lines([b"", b'{"text": "Talks."}']), is_json_lines([b"{Kim} met Putin."])
        (True, False)
    """
    first = next((line for line in lines if line.strip()), b"")
    try:
        return isinstance(json.loads(first.decode("utf-8")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def _decoded(raw: bytes, source: str, number: int) -> str | BadLine:
    """One line as text, without its ``\r``; invalid UTF-8 is a ``BadLine`` naming the line."""
    try:
        return raw.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(f"{source}:{number}: invalid UTF-8 at byte {exc.start + 1} of the line")


def _plain_document(source: str, data: bytes) -> Iterator[Item | BadLine]:
    """A whole plain-text file as one article; invalid bytes are replaced (U+FFFD) and reported by line."""
    try:
        yield Item(source, 1, data.decode("utf-8"))
        return
    except UnicodeDecodeError:
        pass
    for number, raw in enumerate(data.split(b"\n"), 1):
        problem = _decoded(raw, source, number)
        if isinstance(problem, BadLine):
            yield BadLine(f"{problem} (replaced with U+FFFD; the article was still classified)")
    yield Item(source, 1, data.decode("utf-8", errors="replace"))


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


def sentence_json(item: Item, prediction: Prediction) -> dict:
    """One sentence's output record: where it came from, its text, labels and scores."""
    return {**_header(item), "text": item.text, "labels": list(prediction.labels), "scores": prediction.scores}


def document_text(item: Item, document: Document) -> str:
    """A readable report of one article's events."""
    found = len(document.events)
    lines = [f"{item.source}: {found} event type{'s' * (found != 1)} in {len(document.sentences)} sentences"]
    for e in document.events:
        lines.append(f"  {e.label:<18} score {e.score:.2f}   CAMEO {', '.join(e.cameo)} | PLOVER {e.plover}")
        for ev in e.evidence:
            lines.append(f"      [{ev.start}:{ev.end}] ({ev.score:.2f}) {ev.text}")
    return "\n".join(lines)


# Characters that str.splitlines() and many readers take for line ends; inside a JSON string
# they are escaped, so every output record stays on one line for every consumer.
_LINE_LIKE = {ord(c): f"\\u{ord(c):04x}" for c in "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"}


def json_line(record: dict) -> str:
    """One JSON Lines record, readable UTF-8, with no character any reader splits lines on.

    Example:
        >>> json_line({"text": "a\u2028b"})
        '{"text": "a\\\\u2028b"}'
    """
    return json.dumps(record, ensure_ascii=False).translate(_LINE_LIKE)


def _header(item: Item) -> dict:
    out: dict = {"source": item.source, "line": item.line}
    if item.id is not None:
        out["id"] = item.id
    return out


def run(clf: Classifier, items: Iterator[Item | BadLine], out: TextIO, args: argparse.Namespace) -> int:
    """Classify every item and write the results; return how many lines failed."""
    failed = 0
    chunk: list[Item] = []
    page: list[Article] = []  # --format html: one page for the whole run, written at the end

    def flush() -> None:
        if args.documents:
            for item in chunk:
                document = clf.classify_document(item.text, batch_size=args.batch_size)
                if args.format == "text":
                    print(document_text(item, document), file=out)
                elif args.format == "html":
                    page.append(Article(html_title(item), document, item.text))
                else:
                    print(json_line(document_json(item, document, args.sentences)), file=out)
        else:
            for item, pred in zip(chunk, clf.predict([i.text for i in chunk], batch_size=args.batch_size)):
                print(json_line(sentence_json(item, pred)), file=out)
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
    if args.format == "html":
        print(render_page(page), file=out, end="")
    return failed


def html_title(item: Item) -> str:
    """An article's heading on the HTML page: its file, and its line and id for JSON Lines records.

    Example:
        >>> html_title(Item("docs.jsonl", 3, "...", id="a7")), html_title(Item("seed.txt", 1, "..."))
        ('docs.jsonl:3 (a7)', 'seed.txt')
    """
    if item.id is not None:
        return f"{item.source}:{item.line} ({item.id})"
    return item.source if item.line == 1 else f"{item.source}:{item.line}"


def _all_items(paths: list[str], documents: bool) -> Iterator[Item | BadLine]:
    for path in paths:
        if path == "-":
            yield from read_items("-", sys.stdin.buffer, documents)
            continue
        try:
            with open(path, "rb") as handle:
                yield from read_items(path, handle, documents)
        except OSError as exc:
            yield BadLine(f"{path}:0: cannot read ({exc})")


def positive_int(value: str) -> int:
    """argparse type for counts: ``0``, negatives and non-numbers are usage errors, not tracebacks."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference", description="Label diplomatic events in text.")
    parser.add_argument("--model", required=True, help="model directory or MLflow URI (models:/NAME@ALIAS)")
    parser.add_argument("files", nargs="*", default=["-"], help="input files; '-' (default) is standard input")
    parser.add_argument("--documents", action="store_true", help="treat each input as an article")
    parser.add_argument("--sentences", action="store_true", help="with --documents: include every sentence")
    parser.add_argument("--format", choices=("jsonl", "text", "html"), default="jsonl", help="text: readable "
                        "report; html: one page with every article's events highlighted (both with --documents)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="sentences per forward pass (default 32)")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help="torch, onnx (int8) or onnx-fp32 (default: the one the model directory names)")
    args = parser.parse_args(argv)
    if args.format in ("text", "html") and not args.documents:
        parser.error(f"--format {args.format} goes with --documents")
    try:
        clf = load_classifier(args.model, backend=args.backend)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        failed = run(clf, _all_items(args.files, args.documents), sys.stdout, args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``| head``): nothing is wrong, so no traceback; and
        # Python's own flush at exit must not hit the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if failed:
        print(f"{failed} input line(s) failed; the others were processed", file=sys.stderr)
    return 1 if failed else 0
