"""An article view: one self-contained HTML page with each article's event sentences highlighted.

Each article gets a summary of its events at the top (label, score, CAMEO and PLOVER codes,
how many sentences support it), then its text with every evidence sentence marked in the
colour of its highest-scoring label and followed by one tag per label with that sentence's
score; hovering a marked sentence shows the same in its ``title``. A legend gives the colour
of every label. The page carries no script and loads nothing: styles are inline, and a
Content-Security-Policy forbids everything else. All text from the article is escaped.

Example:
    >>> doc = clf.classify_document(article)
    >>> page = render_page([Article("seed article", doc, article)])
    >>> page.startswith("<!DOCTYPE html>"), page.count('<mark class="event"') == len(evidence_spans(doc))
    (True, True)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inference.taxonomy import TAXONOMY

if TYPE_CHECKING:  # classifier.py imports this module lazily; no cycle at run time
    from inference.classifier import Document, Event

# One light colour per label (dark text stays readable on all), in taxonomy order; labels
# a model might carry beyond the taxonomy reuse the palette in turn.
PALETTE = ("#8ecae6", "#f4a261", "#e9c46a", "#f28482", "#90be6d", "#cdb4db", "#a8dadc", "#d4a373", "#ffafcc")
COLOURS = dict(zip(TAXONOMY.ids, PALETTE))

STYLE = """
body { font: 16px/1.6 Georgia, serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font: bold 1.6rem sans-serif; } h2 { font: bold 1.25rem sans-serif; margin-top: 2.5rem; }
table { border-collapse: collapse; font: 0.9rem sans-serif; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
.legend { font: 0.85rem sans-serif; display: flex; flex-wrap: wrap; gap: 0.4rem; padding: 0; list-style: none; }
.swatch { display: inline-block; padding: 0 0.4rem; border-radius: 3px; }
.text { white-space: pre-wrap; }
mark.event { border-radius: 3px; padding: 0.05rem 0.1rem; color: inherit; }
.tag { font: 0.7rem sans-serif; border-radius: 3px; padding: 0 0.3rem; margin-left: 0.2rem;
       vertical-align: super; border: 1px solid #0003; white-space: nowrap; }
.none { color: #666; font-style: italic; }
"""


@dataclass(frozen=True)
class Article:
    """One article for the page: a title, its classified ``Document``, and (optionally) its text.

    With the text, everything between sentences (line breaks, paragraphs) shows as written;
    without it the sentences follow one another with a space between.
    """

    title: str
    document: Document
    text: str | None = None


@dataclass(frozen=True)
class Span:
    """A highlighted sentence: offsets, text, and its events' ``(label, score)`` best first."""

    start: int
    end: int
    text: str
    labels: tuple[tuple[str, float], ...]


def evidence_spans(document: Document) -> list[Span]:
    """The sentences that are evidence for some event, in text order, each with its labels and scores.

    Example:
        >>> spans = evidence_spans(clf.classify_document(article))
        >>> all(article[s.start : s.end] == s.text for s in spans)
        True
    """
    found: dict[tuple[int, int], tuple[str, list[tuple[str, float]]]] = {}
    for event in document.events:
        for evidence in event.evidence:
            entry = found.setdefault((evidence.start, evidence.end), (evidence.text, []))
            entry[1].append((event.label, evidence.score))
    return [Span(start, end, text, tuple(sorted(labels, key=lambda pair: -pair[1])))
            for (start, end), (text, labels) in sorted(found.items())]


def colour(label: str) -> str:
    """The label's highlight colour (``#rrggbb``).

    Example:
        >>> colour("state_visit")
        '#8ecae6'
    """
    if label in COLOURS:
        return COLOURS[label]
    return PALETTE[sum(map(ord, label)) % len(PALETTE)]


def render_page(articles: Sequence[Article], heading: str = "Diplomatic events") -> str:
    """One self-contained HTML page: the heading, the legend, then every article.

    Example:
        >>> page = render_page([Article("<b>bold</b> title", clf.classify_document("Talks began."))])
        >>> "&lt;b&gt;bold&lt;/b&gt; title" in page, "<b>" in page
        (True, False)
    """
    e = html.escape
    sections = "\n".join(_article(index, article) for index, article in enumerate(articles, 1))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(heading)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{e(heading)}</h1>
{_legend()}
{sections}
</body>
</html>
"""


def iframe(page: str, height: int = 900) -> str:
    """``page`` inside an ``<iframe srcdoc>``, for a notebook: the page's styles stay out of the notebook's.

    Example:
        >>> iframe("<p>a & b</p>", 300)[:50]
        '<div><iframe srcdoc="&lt;p&gt;a &amp; b&lt;/p&gt;"'
    """
    # In a <div>: IPython warns about any HTML output that is a bare <iframe>.
    return (f'<div><iframe srcdoc="{html.escape(page)}" style="width:100%;height:{height}px;border:1px solid #ccc">'
            '</iframe></div>')


def _legend() -> str:
    items = "".join(f'<li><span class="swatch" style="background:{colour(label.id)}" '
                    f'title="{html.escape(_codes(label.id))}">{html.escape(label.name)} (<code>{label.id}</code>)'
                    '</span></li>' for label in TAXONOMY.labels)
    return f'<ul class="legend" aria-label="legend">{items}</ul>'


def _codes(label: str) -> str:
    if label not in TAXONOMY.ids:
        return label
    known = TAXONOMY.label(label)
    return f"{known.name}: CAMEO {', '.join(known.cameo)}; PLOVER {known.plover}"


def _article(index: int, article: Article) -> str:
    e = html.escape
    document = article.document
    return (f'<section id="article-{index}">\n<h2>{e(article.title)}</h2>\n'
            f'{_summary(document.events, len(document.sentences))}\n'
            f'<div class="text">{_body(article)}</div>\n</section>')


def _summary(events: Sequence[Event], sentences: int) -> str:
    e = html.escape
    if not events:
        return f'<p class="summary none">No events found in {sentences} sentences.</p>'
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{colour(ev.label)}">{e(ev.name)}</span> '
        f'<code>{e(ev.label)}</code></td><td>{ev.score:.2f}</td><td>{e(", ".join(ev.cameo))}</td>'
        f'<td>{e(ev.plover)}</td><td>{len(ev.evidence)}</td></tr>'
        for ev in events)
    return (f'<table class="summary"><caption>{len(events)} event type{"s" * (len(events) != 1)} '
            f'in {sentences} sentences</caption>'
            '<tr><th>event</th><th>score</th><th>CAMEO</th><th>PLOVER</th><th>sentences</th></tr>'
            f'{rows}</table>')


def _body(article: Article) -> str:
    """The article's text, evidence sentences wrapped in ``<mark>``, the rest as written."""
    spans = {(s.start, s.end): s for s in evidence_spans(article.document)}
    text = article.text
    parts, position = [], 0
    for sentence in article.document.sentences:
        if text is not None:
            if text[sentence.start : sentence.end] != sentence.text:
                raise ValueError(f"the text given does not hold sentence {sentence.text[:60]!r} at "
                                 f"[{sentence.start}:{sentence.end}]: pass the text the document was classified from")
            parts.append(html.escape(text[position : sentence.start]))
        elif parts:
            parts.append(" ")
        span = spans.get((sentence.start, sentence.end))
        parts.append(_mark(span) if span else html.escape(sentence.text))
        position = sentence.end
    if text is not None:
        parts.append(html.escape(text[position:]))
    return "".join(parts)


def _mark(span: Span) -> str:
    e = html.escape
    hover = "\n".join(f"{label} {score:.2f} | {_codes(label)}" for label, score in span.labels)
    names = " ".join(label for label, _ in span.labels)
    tags = "".join(f'<span class="tag" style="background:{colour(label)}" title="{e(_codes(label))}">'
                   f'{e(label)} {score:.2f}</span>' for label, score in span.labels)
    return (f'<mark class="event" style="background:{colour(span.labels[0][0])}" data-labels="{e(names)}" '
            f'data-start="{span.start}" data-end="{span.end}" title="{e(hover)}">{e(span.text)}</mark>{tags}')
