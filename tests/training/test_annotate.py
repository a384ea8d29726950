"""The annotation rounds are reproducible: the seeded selection gives exactly the documents annotated."""

from collections import defaultdict

from tests.conftest import ROOT
from training.corpus.annotate import annotation_rounds
from training.corpus.records import load_records
from training.corpus.standoff import STANDOFF, read_standoff


def test_the_five_selection_rounds_are_the_annotated_documents(built_corpus):
    annotated = defaultdict(set)
    titled = set()
    for path in sorted((ROOT / STANDOFF).glob("*.jsonl")):
        if path.stem != "voa":
            for row in read_standoff(path):
                annotated[path.stem].add(row.doc_id)
                if row.field == "title":
                    titled.add(row.doc_id)
    rounds = annotation_rounds(load_records(built_corpus))
    chosen = defaultdict(set)
    for source, doc_id, with_title in (item for round_ in rounds for item in round_):
        chosen[source].add(doc_id)
        assert (doc_id in titled) == with_title, doc_id
    assert chosen == annotated
