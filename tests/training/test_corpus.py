"""The corpus loader's validation, and the corpus targets of the data card, checked on the real data."""

import json
from collections import Counter

import pytest

from inference.taxonomy import TAXONOMY
from inference.text import split_sentences
from tests.conftest import ROOT
from training.corpus import CorpusError, load_dataset_dict, load_records, near_duplicate_pairs
from training.corpus_build import join_passage

CORPUS = ROOT / "data" / "corpus.jsonl"
GOOD = {"id": "x-1", "doc_id": "x", "position": 0, "text": "Talks began.", "labels": ["diplomatic_talks"],
        "source": "written", "split": "train"}


@pytest.fixture(scope="module")
def records():
    return load_records(CORPUS)


def _write(tmp_path, *rows):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "row, reason",
    [
        ("{not json", "malformed JSON"),
        ({**GOOD, "labels": ["coup"]}, "unknown label id 'coup'"),
        ({k: v for k, v in GOOD.items() if k != "text"}, "missing field 'text'"),
        ({**GOOD, "position": "first"}, "field 'position' should be int"),
        ({**GOOD, "split": "holdout"}, "split 'holdout'"),
        ({**GOOD, "text": "  "}, "empty text"),
        ({**GOOD, "source": "reuters"}, "source 'reuters'"),
        ({**GOOD, "extra": 1}, "unknown field"),
    ],
)
def test_bad_record_names_file_line_and_reason(tmp_path, row, reason):
    path = _write(tmp_path, GOOD | {"id": "x-0"}, row)
    with pytest.raises(CorpusError, match=rf"corpus.jsonl:2: .*{reason}"):
        load_records(path)


def test_duplicate_id_and_document_in_two_splits(tmp_path):
    with pytest.raises(CorpusError, match=r":2: duplicate id 'x-1' \(first on line 1\)"):
        load_records(_write(tmp_path, GOOD, GOOD))
    with pytest.raises(CorpusError, match=r":2: document 'x' is in split 'test' here but in 'train' on line 1"):
        load_records(_write(tmp_path, GOOD, {**GOOD, "id": "x-2", "split": "test"}))


def test_dataset_dict_has_multi_hot_targets(records):
    data = load_dataset_dict(CORPUS, TAXONOMY.ids)
    assert sum(len(data[s]) for s in data) == len(records)
    first = data["train"][0]
    assert len(first["target"]) == 9 and set(first["target"]) <= {0.0, 1.0}


def test_label_targets(records):
    positives = Counter(label for r in records for label in r.labels)
    for label in TAXONOMY.ids:
        assert positives[label] >= 200, label
    assert sum(not r.labels for r in records) >= 1500


def test_test_split_is_real_text_with_enough_stories(records):
    test = [r for r in records if r.split == "test"]
    assert {r.source_kind for r in test} == {"voa", "seed"}
    assert len({r.doc_id for r in test if r.source_kind == "voa"}) >= 12
    dev_kinds = {r.source_kind for r in records if r.split == "dev"}
    assert dev_kinds == {"voa", "written"}


def test_no_exact_or_near_duplicates(records):
    texts = [r.text for r in records]
    normalised = Counter(" ".join(t.lower().split()) for t in texts)
    assert [t for t, n in normalised.items() if n > 1] == []
    pairs = near_duplicate_pairs(texts, threshold=0.6)
    assert [(records[i].id, records[j].id, s) for i, j, s in pairs] == []


def test_voa_sentences_are_the_serving_splitters_output(records):
    stories = {json.loads(line)["id"]: json.loads(line)["text"]
               for line in (ROOT / "data/raw/voa_stories.jsonl").read_text().splitlines()}
    by_doc = {}
    for r in records:
        if r.source_kind == "voa":
            by_doc.setdefault(r.doc_id, []).append(r.text)
    excluded = {json.loads(line)["id"] for line in (ROOT / "data/annotation/excluded.jsonl").read_text().splitlines()}
    assert len(by_doc) == 45
    for doc_id, texts in by_doc.items():
        spans = split_sentences(stories[doc_id.removeprefix("voa-")])
        assert texts == [s.text for i, s in enumerate(spans) if f"{doc_id}-{i:03d}" not in excluded]


def test_written_passages_split_back_into_their_sentences(records):
    by_doc = {}
    for r in records:
        if r.source_kind == "written":
            by_doc.setdefault(r.doc_id, []).append(r.text)
    for texts in by_doc.values():
        assert 2 <= len(texts) <= 6
        assert [s.text for s in split_sentences(join_passage(texts))] == texts


def test_seed_gold_matches_the_corpus_and_the_text(records):
    text = (ROOT / "seeds/000_eabc39c2cad07c40.txt").read_text(encoding="utf-8")
    gold = [json.loads(line) for line in (ROOT / "seeds/000_eabc39c2cad07c40.labels.jsonl").read_text().splitlines()]
    for row in gold:
        assert text[row["start"] : row["end"]] == row["text"]
    in_corpus = {r.id: r for r in records if r.source == "seed"}
    assert {row["id"]: tuple(row["labels"]) for row in gold} == {i: r.labels for i, r in in_corpus.items()}
    requested = {label for row in gold for label in row["labels"]}
    assert {"state_visit", "arms_deal", "sanctions_appeal"} <= requested
