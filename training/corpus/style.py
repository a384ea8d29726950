"""How the written text reads next to the real text: the measures of the corpus review, side by side.

``python -m training.corpus style`` prints one table (real, news alone, written) and says
whether the written part meets its targets: dateline share at most 15% of items,
quoted-speech share at least 20% of sentences, median length within 20% of the real median,
none-to-positive ratio at least 2:1.

Example:
    >>> measures([Record("a-0", "a", 0, '"We met," he said.', (), "written", "train")])["quoted"]
    1.0
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from training.corpus.records import Record

# "CITY (AP) —", "ASMARA, Eritrea —", "SEOUL, SOUTH KOREA —": an all-capitals place name and a dash.
DATELINE = re.compile(r"^[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+)*(?:, [A-Za-z][A-Za-z .]+)?(?: \([A-Za-z ]+\))? ?[—–-]{1,2}")
QUOTE = re.compile(r"[\"“”]")
FIRST_PERSON = re.compile(r"\b(I|we|We|our|Our|us|my|My|me)\b")
# The words that name an event type outright: a model that keys on them learns wire copy.
CORE_EVENT_WORD = re.compile(
    r"\b(visit\w*|arms|weapons?|sanction\w*|embargo\w*|talks|summit\w*|negotiat\w*|agreement\w*|treaty|"
    r"treaties|accord|deal|aid|assistance|exercises?|drills?|missiles?|condemn\w*|accus\w*|denounc\w*)\b",
    re.IGNORECASE,
)
TARGETS = {"dateline": 0.15, "quoted": 0.20, "median_ratio": 0.20, "none_per_positive": 2.0}


@dataclass(frozen=True)
class Group:
    name: str
    records: list[Record]


def measures(records: list[Record]) -> dict[str, float]:
    """The style measures of a set of sentences (shares are of sentences, datelines of documents)."""
    first = {}
    for r in records:
        if r.doc_id not in first or r.position < first[r.doc_id].position:
            first[r.doc_id] = r
    # A headline is position 0 of some items; the dateline sits on the first body sentence.
    lede = {}
    for r in records:
        if r.position <= 1 and (r.doc_id not in lede or DATELINE.match(r.text)):
            lede[r.doc_id] = r
    lengths = [len(r.text.split()) for r in records]
    positives = sum(bool(r.labels) for r in records)
    n = len(records)
    q1, median, q3 = statistics.quantiles(lengths, n=4) if n > 1 else (lengths * 3 or [0, 0, 0])
    return {
        "documents": len(first),
        "sentences": n,
        "dateline": sum(bool(DATELINE.match(r.text)) for r in lede.values()) / max(len(lede), 1),
        "quoted": sum(bool(QUOTE.search(r.text)) for r in records) / max(n, 1),
        "first_person": sum(bool(FIRST_PERSON.search(r.text)) for r in records) / max(n, 1),
        "q1": q1,
        "median": median,
        "q3": q3,
        "core_event_word": sum(bool(CORE_EVENT_WORD.search(r.text)) for r in records) / max(n, 1),
        "none_per_positive": (n - positives) / max(positives, 1),
    }


def style_table(records: list[Record]) -> tuple[str, list[str]]:
    """The Markdown table (real, news only, written) and the written part's missed targets."""
    groups = [Group("real (all sources)", [r for r in records if r.is_real]),
              Group("real news (VOA, Wikinews, seed)", [r for r in records if r.source in ("voa", "wikinews", "seed")]),
              Group("written", [r for r in records if not r.is_real])]
    values = [measures(g.records) for g in groups if g.records]
    rows = [("documents", "documents", "{:.0f}"), ("sentences", "sentences", "{:.0f}"),
            ("dateline", "dateline share (items)", "{:.1%}"), ("quoted", "quoted-speech share", "{:.1%}"),
            ("first_person", "first-person share", "{:.1%}"), ("q1", "words per sentence, Q1", "{:.0f}"),
            ("median", "words per sentence, median", "{:.0f}"), ("q3", "words per sentence, Q3", "{:.0f}"),
            ("core_event_word", "core event word share", "{:.1%}"),
            ("none_per_positive", "none : positive", "{:.2f} : 1")]
    names = [g.name for g in groups if g.records]
    lines = ["| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {title} | " + " | ".join(fmt.format(v[key]) for v in values) + " |" for key, title, fmt in rows]
    return "\n".join(lines), missed_targets(values[0], values[-1]) if len(values) == 3 else ["no written text"]


def missed_targets(real: dict[str, float], written: dict[str, float]) -> list[str]:
    """The written part's targets it does not meet, in words; ``[]`` when all are met."""
    missed = []
    if written["dateline"] > TARGETS["dateline"]:
        missed.append(f"dateline share {written['dateline']:.1%} > {TARGETS['dateline']:.0%}")
    if written["quoted"] < TARGETS["quoted"]:
        missed.append(f"quoted-speech share {written['quoted']:.1%} < {TARGETS['quoted']:.0%}")
    if abs(written["median"] - real["median"]) > TARGETS["median_ratio"] * real["median"]:
        missed.append(f"median length {written['median']:.0f} words is not within 20% of the real {real['median']:.0f}")
    if written["none_per_positive"] < TARGETS["none_per_positive"]:
        missed.append(f"none:positive {written['none_per_positive']:.2f} < 2")
    return missed
