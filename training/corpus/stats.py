"""Tables for the data card: counts per label, split and source, co-occurrence, agreement, style.

``python -m training.corpus stats --write`` puts them between the markers in
``data/DATACARD.md`` so the card never drifts from the data.

Example:
    >>> from training.corpus.build import ensure_built
    >>> "| label |" in markdown_stats(load_records(ensure_built()))
    True
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from inference.taxonomy import TAXONOMY
from training.corpus.records import REAL_SOURCES, SPLITS, Record, load_records, read_jsonl
from training.corpus.sources import PROJECT
from training.corpus.standoff import read_standoff
from training.corpus.style import style_table

BEGIN, END = "<!-- stats:begin -->", "<!-- stats:end -->"
KINDS = ("real", "written")
ANNOTATION = PROJECT / "data" / "annotation"


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def label_counts(records: list[Record]) -> Counter:
    """Sentences per ``(label, split, real or written)``; the label ``none`` counts empty sets."""
    counts: Counter = Counter()
    for record in records:
        for label in record.labels or ("none",):
            counts[(label, record.split, "real" if record.is_real else "written")] += 1
    return counts


def markdown_stats(records: list[Record]) -> str:
    """All corpus tables as Markdown."""
    counts = label_counts(records)
    columns = [(split, kind) for split in SPLITS for kind in KINDS if not (split != "train" and kind == "written")]
    rows = []
    for label in (*TAXONOMY.ids, "none"):
        per = [counts[(label, split, kind)] for split, kind in columns]
        real = sum(counts[(label, split, "real")] for split in SPLITS)
        rows.append([f"`{label}`", *per, real, sum(per)])
    sentences = Counter((r.split, "real" if r.is_real else "written") for r in records)
    rows.append(["**sentences**", *[sentences[c] for c in columns], sum(r.is_real for r in records), len(records)])
    docs = Counter((r.split, "real" if r.is_real else "written") for r in {r.doc_id: r for r in records}.values())
    rows.append(["**documents**", *[docs[c] for c in columns], "", sum(docs.values())])
    header = ["label", *[f"{split} {kind}" for split, kind in columns], "real total", "total"]
    parts = ["### Sentences per label, split and kind of text", _table(header, rows)]
    parts += ["### Real sentences per label and source", source_table(records)]
    parts += ["### Label co-occurrence (sentences carrying both)", cooccurrence_table(records)]
    multi = Counter(len(r.labels) for r in records)
    parts += ["### Labels per sentence", _table(["labels", "sentences"], [[k, multi[k]] for k in sorted(multi)])]
    for title, first, second in agreement_groups():
        parts += [f"### Agreement of the blind second pass: {title}", agreement_table(first, second)]
    style, missed = style_table(records)
    parts += ["### Style: written against real text (`python -m training.corpus style`)", style,
              "Written-text targets: " + ("all met." if not missed else "missed: " + "; ".join(missed))]
    return "\n\n".join(parts) + "\n"


def source_table(records: list[Record]) -> str:
    """Real positives per label and source, with sentence and document counts."""
    sources = [s for s in (*REAL_SOURCES, "seed") if any(r.source == s for r in records)]
    per: Counter = Counter()
    for r in records:
        for label in r.labels or ("none",):
            per[(label, r.source)] += 1
    rows = [[f"`{label}`", *[per[(label, s)] for s in sources]] for label in (*TAXONOMY.ids, "none")]
    rows.append(["**sentences**", *[sum(r.source == s for r in records) for s in sources]])
    rows.append(["**documents**", *[len({r.doc_id for r in records if r.source == s}) for s in sources]])
    return _table(["label", *sources], rows)


def cooccurrence_table(records: list[Record]) -> str:
    pairs: Counter = Counter()
    for record in records:
        for a in record.labels:
            for b in record.labels:
                pairs[(a, b)] += 1
    short = [label.split("_")[0][:8] for label in TAXONOMY.ids]
    rows = [[f"`{a}`", *[pairs[(a, b)] or "" for b in TAXONOMY.ids]] for a in TAXONOMY.ids]
    return _table(["", *short], rows)


def agreement_groups(annotation: Path = ANNOTATION) -> list[tuple[str, dict, dict]]:
    """``(title, first pass, second pass)`` label sets by sentence id, for VOA, the new real text and written text."""
    standoff = {path.stem: {row.id: set(row.labels) for row in read_standoff(path)}
                for path in sorted((annotation / "standoff").glob("*.jsonl"))}
    other_real = {i: labels for source, rows in standoff.items() if source != "voa" for i, labels in rows.items()}
    written = {f"{item['doc_id']}-{k:02d}": set(s["labels"])
               for path in sorted((annotation / "written").glob("*.jsonl")) for item in read_jsonl(path)
               for k, s in enumerate(item["sentences"])}

    def second(pattern: str) -> dict:
        return {row["id"]: set(row["labels"]) for path in sorted((annotation / "second_pass").glob(pattern))
                for row in read_jsonl(path)}

    return [("VOA stories (first corpus)", standoff.get("voa", {}), second("voa_*.jsonl")),
            ("new real text (statements, news items, resolutions, essays, Wikinews)", other_real,
             second("real*.jsonl")),
            ("written text", written, second("written*.jsonl"))]


def agreement_table(first: dict[str, set], second: dict[str, set]) -> str:
    """Cohen's kappa per label between the first pass and the blind second pass."""
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
    share = len(ids) / len(first)
    note = (f"{len(ids)} sentences ({share:.1%} of this part) labelled twice; identical label sets on "
            f"{exact:.1%} of them.")
    return note + "\n\n" + _table(["label", "first pass +", "second pass +", "agreement", "Cohen's kappa"], rows)


def print_or_write_stats(corpus: Path, write: bool = False, card: Path = PROJECT / "data" / "DATACARD.md") -> None:
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
