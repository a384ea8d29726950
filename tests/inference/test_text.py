from hypothesis import given, settings
from hypothesis import strategies as st

from inference.text import MAX_SENTENCE_CHARS, normalize, split_sentences
from tests.conftest import SEED_TEXT


def test_offsets_point_into_the_text():
    text = SEED_TEXT.read_text(encoding="utf-8")
    spans = split_sentences(text)
    assert len(spans) == 16
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.text == span.text.strip() and span.text


def test_abbreviations_do_not_end_sentences():
    spans = split_sentences("A U.S. official met Gen. Smith in Washington on Monday. They talked.")
    assert [s.text for s in spans] == ["A U.S. official met Gen. Smith in Washington on Monday.", "They talked."]


def test_blank_text_has_no_sentences():
    assert split_sentences("") == []
    assert split_sentences(" \n\t ") == []


def test_long_text_without_stops_is_cut_into_bounded_pieces():
    text = "word " * 100_000
    spans = split_sentences(text)
    assert all(len(s.text) <= MAX_SENTENCE_CHARS for s in spans)
    assert "".join(s.text for s in spans).replace(" ", "") == text.replace(" ", "")


def test_normalize_folds_space_and_composes_unicode():
    assert normalize("Cafe\u0301  \u00a0 talks\n") == "Caf\u00e9 talks"


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_any_unicode_splits_into_exact_slices(text):
    for span in split_sentences(text):
        assert text[span.start : span.end] == span.text
        assert span.text.strip()


def test_every_line_break_ends_a_sentence_with_offsets_into_the_text():
    text = "Whereas the Senate met;\nWhereas it voted;\r\nResolved, That—\n\n(1) urges sanctions;"
    spans = split_sentences(text)
    assert [s.text for s in spans] == ["Whereas the Senate met;", "Whereas it voted;", "Resolved, That—",
                                       "(1) urges sanctions;"]
    assert all(text[s.start : s.end] == s.text for s in spans)
