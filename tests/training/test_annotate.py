"""The annotation rounds are reproducible: the seeded selection gives exactly the documents annotated."""

from collections import defaultdict

from tests.conftest import ROOT
from training.corpus.annotate import (
    APPEAL_WORDS,
    POSTURE_ARMS_WORDS,
    ROUND_2,
    ROUND_3,
    ROUND_4,
    WEAK_LABEL_WORDS,
    away_from_held_out,
    select_documents,
)
from training.corpus.records import load_records
from training.corpus.standoff import STANDOFF, read_standoff


def test_the_four_selection_rounds_are_the_annotated_documents(built_corpus):
    annotated = defaultdict(set)
    titled = set()
    for path in sorted((ROOT / STANDOFF).glob("*.jsonl")):
        if path.stem != "voa":
            for row in read_standoff(path):
                annotated[path.stem].add(row.doc_id)
                if row.field == "title":
                    titled.add(row.doc_id)
    records = load_records(built_corpus)
    first = select_documents()
    second = select_documents(2, ROUND_2, APPEAL_WORDS, frozenset(doc for _, doc, _ in first))
    third = away_from_held_out(select_documents(3, ROUND_3, WEAK_LABEL_WORDS,
                                                frozenset(doc for _, doc, _ in first + second)),
                               records)
    fourth = away_from_held_out(select_documents(4, ROUND_4, POSTURE_ARMS_WORDS,
                                                 frozenset(doc for _, doc, _ in first + second + third)),
                                records)
    chosen = defaultdict(set)
    for source, doc_id, with_title in first + second + third + fourth:
        chosen[source].add(doc_id)
        assert (doc_id in titled) == with_title, doc_id
    assert chosen == annotated
