"""The corpus: the loader's validation, the stand-off build, and the corpus targets checked on the real data."""

import json
import random
import subprocess
from collections import Counter, defaultdict

import pytest

from inference.taxonomy import TAXONOMY
from inference.text import split_sentences
from tests.conftest import ROOT
from training.corpus import CORPUS, CorpusError, load_dataset_dict, load_records
from training.corpus.build import final_labels, join_passage, real_records
from training.corpus.dedup import THRESHOLD, comparable, near_duplicate_pairs
from training.corpus.sources import doc_key, documents
from training.corpus.standoff import STANDOFF, read_standoff, sentence_spans
from training.corpus.style import style_table

GOOD = {"id": "x-1", "doc_id": "x", "position": 0, "text": "Talks began.", "labels": ["diplomatic_talks"],
        "source": "written", "split": "train"}
NEW_REAL = ("statedept_pr", "kremlin_news", "wikinews", "uscongress_resolutions", "state_milestones")


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
        ({**GOOD, "source": "reuters"}, "source 'reuters' is not one of"),
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


def test_a_changed_source_is_an_error_naming_the_document(tmp_path, monkeypatch):
    shared = tmp_path / "shared" / "data"
    (shared / "real").mkdir(parents=True)
    for path in (ROOT.parent / "shared" / "data").rglob("*.jsonl"):
        target = shared / path.relative_to(ROOT.parent / "shared" / "data")
        target.write_bytes(path.read_bytes())
    stories = [json.loads(line) for line in (shared / "voa_stories.jsonl").read_text().splitlines()]
    stories[0]["text"] = "Changed. " + stories[0]["text"]
    (shared / "voa_stories.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stories))
    monkeypatch.setenv("DIPLOMATIC_EVENTS_SHARED", str(tmp_path / "shared"))
    documents.cache_clear()
    try:
        with pytest.raises(CorpusError, match=rf"document 'voa-{stories[0]['id']}' at text\[\d+:\d+\] has changed"):
            real_records()
    finally:
        documents.cache_clear()


def test_missing_sources_say_where_they_are_expected(tmp_path, monkeypatch):
    monkeypatch.setenv("DIPLOMATIC_EVENTS_SHARED", str(tmp_path / "nowhere"))
    documents.cache_clear()
    try:
        with pytest.raises(CorpusError, match="the source texts are not there"):
            real_records()
    finally:
        documents.cache_clear()


def test_every_annotated_document_is_annotated_whole():
    for path in sorted((ROOT / STANDOFF).glob("*.jsonl")):
        by_doc = defaultdict(list)
        for row in read_standoff(path):
            by_doc[row.doc_id].append(row)
        for doc_id, rows in by_doc.items():
            doc = documents(path.stem)[doc_key(path.stem, doc_id)]
            with_title = rows[0].field == "title"
            expected = [(i, f, s, e) for i, f, s, e, _ in sentence_spans(doc, doc_id, with_title)]
            assert [(r.id, r.field, r.start, r.end) for r in rows] == expected, doc_id


def test_real_text_at_scale_and_every_wikinews_article(records):
    new = [r for r in records if r.source in NEW_REAL]
    assert len(new) >= 10_000
    annotated = {r.doc_id for r in records if r.source == "wikinews"}
    assert annotated == set(documents("wikinews"))


def test_test_and_dev_are_real_text_by_whole_document(records):
    held_out = [r for r in records if r.split != "train"]
    assert all(r.is_real for r in held_out)
    for split, minimum in (("test", 150), ("dev", 100)):
        new_docs = {r.doc_id for r in records if r.split == split and r.source in NEW_REAL}
        assert len(new_docs) >= minimum, split
    first_test = json.loads((ROOT / "data/splits.json").read_text())["test"]
    assert {"seed-000", "voa-8010842"} <= set(first_test)


def test_every_label_has_real_positives_in_each_split(records):
    real = Counter((label, r.split) for r in records if r.is_real for label in r.labels)
    for label in TAXONOMY.ids:
        total = sum(real[(label, split)] for split in ("train", "dev", "test"))
        assert real[(label, "train")] > 0 and real[(label, "dev")] > 0, label
        if total >= 60:
            assert real[(label, "test")] >= 30, (label, real[(label, "test")])


def test_no_near_duplicates_across_splits(records):
    keep = comparable([r.text for r in records], [r.doc_id for r in records])
    pairs = near_duplicate_pairs([records[k].text for k in keep], THRESHOLD)
    crossing = [(records[keep[i]].id, records[keep[j]].id) for i, j, _ in pairs
                if records[keep[i]].split != records[keep[j]].split]
    assert crossing == []


def test_written_items_split_back_and_meet_the_style_targets(records):
    by_doc = defaultdict(list)
    for r in records:
        if not r.is_real:
            by_doc[r.doc_id].append(r.text)
    assert by_doc
    for texts in by_doc.values():
        assert [s.text for s in split_sentences(join_passage(texts))] == texts
    _, missed = style_table(records)
    assert missed == []


def test_every_record_keeps_its_credit_line(records):
    assert all(r.licence for r in records)
    assert {r.licence for r in records if r.source == "kremlin_news"} == {
        documents("kremlin_news")[r.doc_id].licence for r in records if r.source == "kremlin_news"}


def test_no_source_text_is_committed():
    rng = random.Random(3)
    probes = []
    for source in ("voa", *NEW_REAL):
        docs = list(documents(source).values())
        for doc in rng.sample(docs, min(40, len(docs))):
            probes += [s.text[:70] for s in split_sentences(doc.text) if len(s.text) > 80][:2]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    leaks = []
    for name in tracked:
        path = ROOT / name
        if path.is_file() and path.suffix in {".jsonl", ".json", ".md", ".py", ".txt", ".ipynb", ".yaml"}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            leaks += [(name, p) for p in probes if p in text]
    # The seed article is the project's own seed (seeds/), not a source under ../shared/data.
    assert [leak for leak in leaks if not leak[0].startswith("seeds/")] == []


def test_seed_gold_matches_the_corpus_and_the_text(records):
    text = (ROOT / "seeds/000_eabc39c2cad07c40.txt").read_text(encoding="utf-8")
    gold = [json.loads(line) for line in (ROOT / "seeds/000_eabc39c2cad07c40.labels.jsonl").read_text().splitlines()]
    for row in gold:
        assert text[row["start"] : row["end"]] == row["text"]
    in_corpus = {r.id: r for r in records if r.source == "seed"}
    assert {row["id"]: tuple(row["labels"]) for row in gold} == {i: r.labels for i, r in in_corpus.items()}
    requested = {label for row in gold for label in row["labels"]}
    assert {"state_visit", "arms_deal", "sanctions_appeal"} <= requested


def test_a_later_round_goes_to_train_but_a_near_copy_of_a_held_out_document_keeps_its_split():
    from training.corpus.records import Record
    from training.corpus.splits import assign

    def sentence(doc_id, text):
        return Record(id=f"{doc_id}-0", doc_id=doc_id, position=0, text=text, labels=(), source="kremlin_news",
                      split="")

    held = "Vladimir Putin held talks with the President of Egypt in the Kremlin on Tuesday afternoon"
    records = [sentence("old-dev", held), sentence("new-copy", held + " again"),
               sentence("new-other", "The Foreign Minister announced a package of humanitarian assistance for Syria")]
    splits = assign(records, {"dev": ["old-dev"]}, new_split="train")
    assert splits == {"test": [], "dev": ["new-copy", "old-dev"], "train": ["new-other"]}


def test_a_review_after_a_round_does_not_count_for_that_round(tmp_path):
    folder = tmp_path / "annotation"
    folder.mkdir()
    rows = [{"id": "a", "labels": ["aid"], "reason": "round 2"},
            {"id": "a", "labels": ["aid", "condemnation"], "reason": "review", "after_round": 6},
            {"id": "b", "labels": [], "reason": "review", "after_round": 6}]
    (folder / "adjudication.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert final_labels(tmp_path) == {"a": ("aid", "condemnation"), "b": ()}
    assert final_labels(tmp_path, as_of_round=7) == final_labels(tmp_path)
    assert final_labels(tmp_path, as_of_round=6) == {"a": ("aid",)}
