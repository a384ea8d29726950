"""Score a large file on one machine, in chunks that survive an interruption.

    python -m inference.batch --model SOURCE --input FILE --output FILE [--documents] [--backend NAME] [--threads N]

Input and output are JSON Lines or Parquet (by suffix), one sentence a record, or one
article a record with ``--documents``. The input is read in chunks of ``--chunk-size``
lines (rows), so memory holds one chunk whatever the file's size. Each finished chunk is
written to ``OUTPUT.parts/`` (atomically: a temporary file, then a rename) beside a small
JSON file with its digest. After an interruption (Ctrl-C, ``kill``) the same command
resumes: finished chunks are checked against the input and kept, not rescored. The job
refuses to resume when the input (size, modification time, a chunk's digest), the model,
its backend or the options changed, and says which; ``--restart`` discards the finished
chunks. ``--threads`` is not checked: scores do not depend on it.
When every chunk is done the output is assembled in a temporary file in the output's
folder and renamed into place, so it is complete or absent, never half written. Bad
records are reported with their line and skipped; the summary counts them; the exit code
is then 1. The job is a throughput job, so its threads sleep between operations instead
of spin-waiting: on a machine whose cores other work holds, spinning threads cost most of
the throughput (docs/SCALING.md).

Example:
    >>> path = tmp / "news.jsonl"
    >>> _ = path.write_text('{"text": "Putin arrived in Hanoi."}\\n{"text": 7}\\n{"text": "Aid arrived."}\\n')
    >>> summary = run_job(clf, "tiny", path, tmp / "out.jsonl", JobOptions(chunk_size=2))  # line 2 -> stderr
    >>> summary.records, summary.bad, summary.chunks, len((tmp / "out.jsonl").read_text().splitlines())
    (2, 1, 2, 2)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

from tqdm.auto import tqdm

from inference.artifact import BACKEND_NAMES, ArtifactError
from inference.batch_formats import Entry, FormatError, JsonlWriter, ParquetWriter, open_input, writer_for
from inference.classifier import Classifier
from inference.cli import BadLine, Item, document_json, positive_int, sentence_json
from inference.load import load_classifier, resolve_model_dir

STATE_FILE = "state.json"


class JobError(RuntimeError):
    """A job that cannot start or resume; the message says why and what to do."""


@dataclass(frozen=True)
class JobOptions:
    """What changes the output: a resumed job must use the same options."""

    documents: bool = False
    chunk_size: int = 1000
    batch_size: int = 32


@dataclass(frozen=True)
class Summary:
    """What a finished job did: records written, bad records skipped, chunks (and how many were resumed)."""

    records: int
    bad: int
    chunks: int
    resumed: int


def model_fingerprint(model_dir: Path) -> str:
    """A hash of every file in a model directory: a resumed job must score with the same weights.

    Example:
        >>> len(model_fingerprint(model_dir))
        16
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def parts_dir(output: Path) -> Path:
    """The sidecar folder of a job's finished chunks and state: ``OUTPUT.parts`` beside the output."""
    return output.with_name(output.name + ".parts")


def run_job(clf: Classifier, model_id: str, input_path: Path, output: Path, options: JobOptions,
            restart: bool = False) -> Summary:
    """Score ``input_path`` into ``output`` chunk by chunk, resuming finished chunks; see the module docstring."""
    input_path, output = Path(input_path), Path(output)
    source = open_input(input_path)
    writer = writer_for(output, clf.labels, options.documents)
    folder = parts_dir(output)
    state = {"input": str(input_path.resolve()), "input_size": input_path.stat().st_size,
             "input_mtime_ns": input_path.stat().st_mtime_ns, "model": model_id,
             "backend": clf.backend.name, **asdict(options)}  # int8 and fp32 give other scores
    _prepare(folder, state, restart)
    records = bad = resumed = 0
    parts = []
    bar = tqdm(total=source.total, unit=source.unit, unit_scale=True, desc=f"scoring {input_path.name}",
               mininterval=0.5 if sys.stderr.isatty() else 30)  # logs get a line every 30 s
    with bar:
        for index, chunk in enumerate(_chunks(source.entries, options.chunk_size)):
            part = folder / f"chunk-{index:06d}{writer.suffix}"
            done = _finished(part, _digest(chunk))
            if done is None:
                done = _score_chunk(clf, chunk, part, writer, options)
            else:
                resumed += 1
            for message in done["bad"]:
                bar.write(f"error: {message}", file=sys.stderr)
            records, bad = records + done["records"], bad + len(done["bad"])
            parts.append(part)
            bar.update(sum(entry.size for entry in chunk))
    _assemble(writer, parts, output)
    shutil.rmtree(folder)
    return Summary(records, bad, len(parts), resumed)


def _prepare(folder: Path, state: dict, restart: bool) -> None:
    """Start a job's folder, or check that the one there belongs to this same job."""
    saved_path = folder / STATE_FILE
    if folder.exists() and restart:
        shutil.rmtree(folder)
    if saved_path.exists():
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        changed = [key for key in state if saved.get(key) != state[key]]
        if changed:
            finished = len(list(folder.glob("chunk-*.json")))
            raise JobError(f"{folder} holds {finished} finished chunk(s) of a job with other "
                           f"{', '.join(changed)} (was {', '.join(repr(saved.get(k)) for k in changed)}); "
                           "rerun with the same input, model, backend and options, or add --restart to "
                           "discard them")
        print(f"resuming: {len(list(folder.glob('chunk-*.json')))} finished chunk(s) in {folder}", file=sys.stderr)
        return
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(saved_path, json.dumps(state, indent=2) + "\n")


def _chunks(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    while chunk := list(islice(entries, size)):
        yield chunk


def _digest(chunk: Sequence[Entry]) -> str:
    digest = hashlib.sha256()
    for entry in chunk:
        digest.update(entry.raw + b"\n")
    return digest.hexdigest()


def _finished(part: Path, digest: str) -> dict | None:
    """The record of a finished chunk, or ``None`` when it must be scored; a changed chunk is an error."""
    done_path = part.with_suffix(".json")
    if not done_path.exists() or not part.exists():
        return None
    done = json.loads(done_path.read_text(encoding="utf-8"))
    if done["digest"] != digest:
        raise JobError(f"{part.name} was scored from other input lines than the file now holds (its digest "
                       "differs): the input changed since; add --restart to score it again from the start")
    return done


def _score_chunk(clf: Classifier, chunk: Sequence[Entry], part: Path, writer: JsonlWriter | ParquetWriter,
                 options: JobOptions) -> dict:
    """Score one chunk, write its part atomically, then the record that marks it finished."""
    items = [entry.item for entry in chunk if isinstance(entry.item, Item)]
    bad = [str(entry.item) for entry in chunk if isinstance(entry.item, BadLine)]
    if options.documents:
        output = [document_json(item, clf.classify_document(item.text, batch_size=options.batch_size), False)
                  for item in items]
    else:
        predictions = clf.predict([item.text for item in items], batch_size=options.batch_size)
        output = [sentence_json(item, prediction) for item, prediction in zip(items, predictions)]
    partial = part.with_name(part.name + ".partial")
    writer.write_part(partial, output)
    os.replace(partial, part)
    done = {"digest": _digest(chunk), "records": len(output), "bad": bad}
    _write_atomic(part.with_suffix(".json"), json.dumps(done) + "\n")
    return done


def _assemble(writer: JsonlWriter | ParquetWriter, parts: Sequence[Path], output: Path) -> None:
    """Join the parts into a temporary file beside ``output``, then rename it into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    os.close(handle)
    try:
        writer.assemble(parts, Path(temporary))
        os.replace(temporary, output)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _interrupt_on_signals() -> None:
    """``kill`` (SIGTERM) raises KeyboardInterrupt like Ctrl-C, so the job stops between two writes."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupt)  # also when a script started us with SIGINT ignored
    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.batch",
                                     description="Score a large JSON Lines or Parquet file in resumable chunks.")
    parser.add_argument("--model", required=True, help="model directory or MLflow URI (models:/NAME@ALIAS)")
    parser.add_argument("--input", required=True, type=Path, help="a .jsonl or .parquet file with a 'text' field")
    parser.add_argument("--output", required=True, type=Path, help="a .jsonl or .parquet file to write")
    parser.add_argument("--documents", action="store_true", help="each record is an article: events out")
    parser.add_argument("--chunk-size", type=positive_int, default=JobOptions.chunk_size,
                        help=f"input lines (rows) per chunk, the unit of resuming (default {JobOptions.chunk_size})")
    parser.add_argument("--batch-size", type=positive_int, default=JobOptions.batch_size,
                        help=f"sentences per forward pass (default {JobOptions.batch_size})")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help="torch, onnx (int8) or onnx-fp32 (default: the one the model directory names)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads per forward pass (default: every available CPU)")
    parser.add_argument("--restart", action="store_true", help="discard the finished chunks of an earlier run")
    args = parser.parse_args(argv)
    _interrupt_on_signals()
    options = JobOptions(documents=args.documents, chunk_size=args.chunk_size, batch_size=args.batch_size)
    try:
        model_dir = resolve_model_dir(args.model)
        clf = load_classifier(model_dir, backend=args.backend, threads=args.threads, spinning=False)
        summary = run_job(clf, model_fingerprint(model_dir), args.input, args.output, options, args.restart)
    except (ArtifactError, FormatError, JobError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished chunks are kept in {parts_dir(args.output)}; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    print(f"wrote {args.output}: {summary.records} records in {summary.chunks} chunk(s) "
          f"({summary.resumed} resumed from an earlier run); {summary.bad} bad record(s) skipped", file=sys.stderr)
    return 1 if summary.bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
