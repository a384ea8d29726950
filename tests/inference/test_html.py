"""The article view: escaping, the CLI's ``--format html``, and the page as headless Chromium sees it."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from inference.artifact import META_FILE, read_meta
from inference.cli import main
from inference.html import Article, evidence_spans, render_page
from inference.load import load_classifier
from inference.taxonomy import TAXONOMY
from inference.text import split_sentences
from tests.conftest import SEED_TEXT, make_model_dir

MARKUP = ('Talks began <b>today</b> & "tonight".\n\n<script>alert("x")</script> The EU '
          "extended sanctions.\nDonors pledged aid <img src=x onerror=alert(1)>.")

SEED_LABELS = ("state_visit", "aid")


class Marks(HTMLParser):
    """Every ``<mark class="event">`` of a page: its offsets, labels and the text inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "mark" and attrs.get("class") == "event":
            self._open = {"start": int(attrs["data-start"]), "end": int(attrs["data-end"]),
                          "labels": attrs["data-labels"].split(), "title": attrs["title"], "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "mark" and self._open is not None:
            self.marks.append(self._open)
            self._open = None


def marks_of(page: str) -> list[dict]:
    parser = Marks()
    parser.feed(page)
    return parser.marks


def open_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM headless Chromium builds from ``page``, and every console message it logged.

    The page has no script, so any console message at all (a blocked load, a policy
    violation, a script that ran) is an error. A missing browser fails the test: CI
    installs Debian's ``chromium`` in ``.ci/run``, so skipping would hide a broken setup.
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed; .ci/run installs it: apt-get install -y --no-install-recommends "
                    "chromium")
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def seed_model_dir(tmp_path_factory, tiny_model_dir, tiny_classifier) -> Path:
    """The tiny model with two labels' thresholds at their median score over the seed's sentences.

    The tiny random model scores every sentence about 0.5, so at its default thresholds it
    marks all of the seed's sentences or none. With two labels at their medians (the others
    out of reach at 1.0) some sentences carry one event, some two and some none, which is
    what the highlighting has to tell apart.
    """
    text = SEED_TEXT.read_text(encoding="utf-8")
    scores = tiny_classifier.score([span.text for span in split_sentences(text)])
    folder = tmp_path_factory.mktemp("seed-model") / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    meta = read_meta(folder)
    thresholds = {label: float(np.median(scores[:, j])) if label in SEED_LABELS else 1.0
                  for j, label in enumerate(meta.labels)}
    (folder / META_FILE).write_text(dataclasses.replace(meta, thresholds=thresholds).to_json(), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def seed_classifier(seed_model_dir):
    return load_classifier(seed_model_dir)


@pytest.fixture(scope="module")
def seed_document(seed_classifier):
    text = SEED_TEXT.read_text(encoding="utf-8")
    return text, seed_classifier.classify_document(text)


def test_highlighted_spans_in_chromium_are_exactly_the_evidence_sentences(seed_document, tmp_path):
    text, document = seed_document
    evidence = {(ev.start, ev.end, ev.text) for event in document.events for ev in event.evidence}
    assert evidence, "the seed classifier must mark at least one sentence"
    assert len(evidence) < len(document.sentences), "some sentences must stay unmarked"
    assert {event.label for event in document.events} == set(SEED_LABELS)
    page = tmp_path / "seed.html"
    page.write_text(document.to_html("seed article", text), encoding="utf-8")

    dom, console = open_in_chromium(page, tmp_path / "profile")

    assert console == []
    marks = marks_of(dom)
    assert {(m["start"], m["end"], m["text"]) for m in marks} == evidence
    assert len(marks) == len(evidence)
    for mark in marks:
        expected = {event.label for event in document.events
                    if any((ev.start, ev.end) == (mark["start"], mark["end"]) for ev in event.evidence)}
        assert set(mark["labels"]) == expected
    # The page keeps the article's text, line breaks included, around the marks.
    assert "".join(text.split()) in "".join(dom_text(dom).split())


def dom_text(dom: str) -> str:
    """The text of the article sections (the part after the legend), without tags."""

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.inside, self.skip = [], False, 0

        def handle_starttag(self, tag, attrs):
            self.inside |= dict(attrs).get("class") == "text"
            self.skip += tag == "span" and dict(attrs).get("class") == "tag"

        def handle_endtag(self, tag):
            if tag == "span" and self.skip:
                self.skip -= 1

        def handle_data(self, data):
            if self.inside and not self.skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(dom)
    return "".join(parser.parts)


def test_console_capture_sees_a_blocked_load(seed_document, tmp_path):
    """The console check can fail: the same page with an image the page's policy blocks logs a message."""
    text, document = seed_document
    page = tmp_path / "bad.html"
    page.write_text(document.to_html("seed", text).replace("</body>", '<img src="x.png"></body>'), encoding="utf-8")
    _, console = open_in_chromium(page, tmp_path / "profile")
    assert console and "Content Security Policy" in console[0]


def test_markup_and_script_tags_in_the_text_are_escaped(tmp_path):
    clf = load_classifier(make_model_dir(tmp_path / "all", thresholds=dict.fromkeys(TAXONOMY.ids, 0.0)))
    document = clf.classify_document(MARKUP)
    page = document.to_html('<script>alert("title")</script>', MARKUP)
    assert "<script" not in page and "<b>" not in page and "<img" not in page
    marks = marks_of(page)  # the parser unescapes: each mark reads as the raw sentence
    assert [m["text"] for m in marks] == [s.text for s in document.sentences]
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in page


def test_summary_legend_and_hover_carry_scores_and_codes(seed_document):
    text, document = seed_document
    page = document.to_html("seed", text)
    for event in document.events:
        assert f"{event.score:.2f}" in page and ", ".join(event.cameo) in page and event.plover in page
    for label in TAXONOMY.ids:
        assert f"<code>{label}</code>" in page  # the legend lists every label
    for mark in marks_of(page):
        assert "CAMEO" in mark["title"] and "PLOVER" in mark["title"]
    assert "<script" not in page and "http" not in page.split("</head>")[1]  # no script, no network asset


def test_without_the_text_sentences_follow_one_another(seed_document):
    _, document = seed_document
    marks = marks_of(document.to_html("seed"))
    assert [(m["start"], m["text"]) for m in marks] == [(s.start, s.text) for s in evidence_spans(document)]


def test_a_text_that_is_not_the_documents_is_refused(seed_document):
    text, document = seed_document
    with pytest.raises(ValueError, match="does not hold sentence"):
        document.to_html("seed", text.replace("the", "THE"))


def test_page_with_no_events_says_so(tiny_classifier):
    page = render_page([Article("blank", tiny_classifier.classify_document("   "))])
    assert "No events found in 0 sentences." in page and "<mark" not in page


def test_cli_writes_one_page_for_all_articles(seed_model_dir, seed_document, tmp_path, capsys):
    text, document = seed_document
    second = tmp_path / "second.txt"
    second.write_text("Talks began in Geneva.\n", encoding="utf-8")
    code = main(["--model", str(seed_model_dir), "--documents", "--format", "html", str(SEED_TEXT), str(second)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("<!DOCTYPE html>") == 1 and out.count("<section") == 2
    expected = marks_of(document.to_html("seed", text))
    assert marks_of(out)[: len(expected)] == expected


def test_cli_html_needs_documents(tiny_model_dir, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--model", str(tiny_model_dir), "--format", "html", "-"])
    assert stopped.value.code == 2 and "--format html goes with --documents" in capsys.readouterr().err
