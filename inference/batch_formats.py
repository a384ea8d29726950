"""Reading and writing the files of a batch job: JSON Lines and Parquet, one record at a time.

Readers stream: JSON Lines line by line, Parquet one record batch at a time, so memory
holds one chunk whatever the file's size. Each entry keeps its raw form, which the job
hashes to check that a resumed chunk still reads the same. Output records are the CLI's
(``source``, ``line``, ``id``, then ``text``/``labels``/``scores`` or ``events``); in Parquet
``line`` is the 1-based row and ``scores`` a struct with one field per label.

Example:
    >>> path = tmp / "in.jsonl"
    >>> _ = path.write_text('{"id": 1, "text": "Talks began."}\\n{oops\\n')
    >>> source = open_input(path)
    >>> [(e.item.text if isinstance(e.item, Item) else str(e.item)) for e in source.entries]  # doctest: +ELLIPSIS
    ['Talks began.', '...in.jsonl:2: malformed JSON (...)']
"""

from __future__ import annotations

import codecs
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.cli import BadLine, Item, json_line, json_record

PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_READ_ROWS = 1024  # rows decoded at a time; a row group is never read whole


class FormatError(ValueError):
    """A file the batch job cannot read or write (unknown suffix, no ``text`` column)."""


@dataclass(frozen=True)
class Entry:
    """One input record (or why it is unreadable; ``None`` for a blank line), its raw form, its share of the bar."""

    item: Item | BadLine | None
    raw: bytes
    size: int


@dataclass(frozen=True)
class Source:
    """An opened input: its entries in order, and the progress bar's total and unit."""

    entries: Iterator[Entry]
    total: int
    unit: str


def file_format(path: Path) -> str:
    """``"parquet"`` or ``"jsonl"``, from the file name's suffix.

    Example:
        >>> file_format(Path("news.parquet")), file_format(Path("news.jsonl"))
        ('parquet', 'jsonl')
    """
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise FormatError(f"{path}: unknown file type {suffix or '(no suffix)'!r}; use one of "
                      f"{', '.join(JSONL_SUFFIXES + PARQUET_SUFFIXES)}")


def open_input(path: Path) -> Source:
    """Open ``path`` for streaming; JSON Lines progress counts bytes, Parquet progress rows."""
    if file_format(path) == "parquet":
        return _parquet_source(path)
    return Source(_jsonl_entries(path), path.stat().st_size, "B")


def _jsonl_entries(path: Path) -> Iterator[Entry]:
    with open(path, "rb") as handle:
        # Iterating a binary file splits on b"\n" only, as the CLI does.
        for number, raw in enumerate(handle, 1):
            size = len(raw)
            raw = raw.removesuffix(b"\n")
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            # A blank line is still an entry: chunks are cut by line, so they stay put on resume.
            yield Entry(json_record(raw, str(path), number), raw, size)


def _parquet_source(path: Path) -> Source:
    import pyarrow.parquet as pq  # only Parquet needs it (it comes with mlflow)

    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    if "text" not in names:
        raise FormatError(f"{path}: no 'text' column (columns: {', '.join(names)})")
    columns = ["text"] + (["id"] if "id" in names else [])

    def entries() -> Iterator[Entry]:
        number = 0
        for batch in parquet.iter_batches(batch_size=PARQUET_READ_ROWS, columns=columns):
            ids = batch.column("id").to_pylist() if "id" in columns else [None] * batch.num_rows
            for text, key in zip(batch.column("text").to_pylist(), ids):
                number += 1
                raw = json.dumps([text, key], ensure_ascii=False, default=str).encode()
                if not isinstance(text, str):
                    item: Item | BadLine = BadLine(f"{path}:{number}: 'text' is {type(text).__name__}, not a string")
                else:
                    item = Item(str(path), number, text, None if key is None else str(key))
                yield Entry(item, raw, 1)

    return Source(entries(), parquet.metadata.num_rows, " rows")


class JsonlWriter:
    """Chunk parts and the final output as JSON Lines (the CLI's records, one a line)."""

    suffix = ".jsonl"

    def write_part(self, path: Path, records: Sequence[dict]) -> None:
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            for record in records:
                out.write(json_line(record) + "\n")

    def assemble(self, parts: Sequence[Path], path: Path) -> None:
        with open(path, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out)


class ParquetWriter:
    """Chunk parts and the final output as Parquet, with a fixed schema (one row group a chunk)."""

    suffix = ".parquet"

    def __init__(self, labels: Sequence[str], documents: bool) -> None:
        self.schema = output_schema(labels, documents)

    def write_part(self, path: Path, records: Sequence[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(list(records), schema=self.schema), path)

    def assemble(self, parts: Sequence[Path], path: Path) -> None:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, self.schema) as out:
            for part in parts:  # one part in memory at a time
                out.write_table(pq.read_table(part, schema=self.schema))


def output_schema(labels: Sequence[str], documents: bool) -> Any:
    """The Parquet schema of the output records (see the module docstring).

    Example:
        >>> output_schema(["aid", "arms_deal"], documents=False).field("scores").type
        StructType(struct<aid: double, arms_deal: double>)
    """
    import pyarrow as pa

    head = [("source", pa.string()), ("line", pa.int64()), ("id", pa.string())]
    if not documents:
        scores = pa.struct([(label, pa.float64()) for label in labels])
        return pa.schema(head + [("text", pa.string()), ("labels", pa.list_(pa.string())), ("scores", scores)])
    evidence = pa.struct([("text", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("score", pa.float64())])
    event = pa.struct([("label", pa.string()), ("name", pa.string()), ("score", pa.float64()),
                       ("cameo", pa.list_(pa.string())), ("plover", pa.string()), ("evidence", pa.list_(evidence))])
    return pa.schema(head + [("events", pa.list_(event)), ("sentence_count", pa.int64())])


def writer_for(path: Path, labels: Sequence[str], documents: bool) -> JsonlWriter | ParquetWriter:
    """The writer for an output file, chosen by its suffix like the input's reader."""
    return ParquetWriter(labels, documents) if file_format(path) == "parquet" else JsonlWriter()
