"""Tables for the data card: counts per label x split x source, co-occurrence, agreement.

``python -m training.corpus stats --write`` puts them between the markers in
``data/DATACARD.md`` so the card never drifts from the data.

Example:
    >>> "| label |" in markdown_stats(load_records("data/corpus.jsonl"))
    True
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from inference.taxonomy import TAXONOMY
from training.corpus import SPLITS, Record, load_records
from training.corpus_build import read_jsonl

BEGIN, END = "<!-- stats:begin -->", "<!-- stats:end -->"
SOURCES = ("voa", "seed", "written")
ANNOTATION = Path("data/annotation")


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def label_counts(records: list[Record]) -> Counter:
    """Sentences per ``(label, split, source kind)``; the label ``none`` counts empty sets."""
    counts: Counter = Counter()
    for record in records:
        for label in record.labels or ("none",):
            counts[(label, record.split, record.source_kind)] += 1
    return counts


def markdown_stats(records: list[Record]) -> str:
    """All corpus tables as Markdown."""
    counts = label_counts(records)
    columns = [(split, source) for split in SPLITS for source in SOURCES]
    rows = []
    for label in (*TAXONOMY.ids, "none"):
        per = [counts[(label, split, source)] for split, source in columns]
        real = sum(counts[(label, split, source)] for split in SPLITS for source in ("voa", "seed"))
        rows.append([f"`{label}`", *per, real, sum(per)])
    sentences = Counter((r.split, r.source_kind) for r in records)
    rows.append(["**sentences**", *[sentences[c] for c in columns], sentences_real(records), len(records)])
    docs = Counter((r.split, r.source_kind) for r in {r.doc_id: r for r in records}.values())
    rows.append(["**documents**", *[docs[c] for c in columns], "", sum(docs.values())])
    header = ["label", *[f"{split} {source}" for split, source in columns], "real total", "total"]
    parts = ["### Sentences per label, split and source", _table(header, rows)]
    parts += ["### Label co-occurrence (sentences carrying both)", cooccurrence_table(records)]
    multi = Counter(len(r.labels) for r in records)
    parts += ["### Labels per sentence", _table(["labels", "sentences"], [[k, multi[k]] for k in sorted(multi)])]
    parts += ["### Agreement of the blind second pass (VOA sentences)", agreement_table()]
    return "\n\n".join(parts) + "\n"


def sentences_real(records: list[Record]) -> int:
    return sum(r.source_kind != "written" for r in records)


def cooccurrence_table(records: list[Record]) -> str:
    pairs: Counter = Counter()
    for record in records:
        for a in record.labels:
            for b in record.labels:
                pairs[(a, b)] += 1
    short = [label.split("_")[0][:8] for label in TAXONOMY.ids]
    rows = [[f"`{a}`", *[pairs[(a, b)] or "" for b in TAXONOMY.ids]] for a in TAXONOMY.ids]
    return _table(["", *short], rows)


def agreement_table(annotation: Path = ANNOTATION) -> str:
    """Cohen's kappa per label between the first pass and the blind second pass."""
    first = {row["id"]: set(row["labels"]) for path in annotation.glob("voa_labels_*.jsonl")
             for row in read_jsonl(path)}
    second = {row["id"]: set(row["labels"]) for path in annotation.glob("second_pass_labels_*.jsonl")
              for row in read_jsonl(path)}
    ids = sorted(set(first) & set(second))
    if not ids:
        return "(no second-pass labels found)"
    rows = []
    for label in TAXONOMY.ids:
        a = [label in first[i] for i in ids]
        b = [label in second[i] for i in ids]
        agree = sum(x == y for x, y in zip(a, b)) / len(ids)
        kappa = f"{cohen_kappa_score(a, b):.2f}" if any(a) or any(b) else "n/a (no positives)"
        rows.append([f"`{label}`", sum(a), sum(b), f"{agree:.1%}", kappa])
    exact = sum(first[i] == second[i] for i in ids) / len(ids)
    note = f"{len(ids)} sentences labelled twice; identical label sets on {exact:.1%} of them."
    return note + "\n\n" + _table(["label", "first pass +", "second pass +", "agreement", "Cohen's kappa"], rows)


def print_or_write_stats(corpus: Path, write: bool = False, card: Path = Path("data/DATACARD.md")) -> None:
    """Print the tables, or replace the block between the markers in the data card."""
    tables = markdown_stats(load_records(corpus))
    if not write:
        print(tables)
        return
    text = card.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{card}: markers {BEGIN} and {END} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    card.write_text(f"{head}{BEGIN}\n{tables}{END}{tail}", encoding="utf-8")
    print(f"updated the tables in {card}")
