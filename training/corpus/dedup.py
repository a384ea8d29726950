"""Near-duplicate detection: word-trigram Jaccard between sentences, and document clusters.

Official prose repeats its formulas ("End text.", "Resolved, That the Senate—", "The leaders
discussed current issues of bilateral relations"), so a sentence is compared only when it
has at least :data:`MIN_WORDS` words and is not *boilerplate*: text (lower-cased, spaces
folded) that occurs in :data:`BOILERPLATE_DOCS` or more documents. Documents that share a
near-duplicate sentence form one cluster and are always put in the same split.

Example:
    >>> near_duplicate_pairs(["the visit to Hanoi went well", "the visit to Hanoi went well today", "no"])
    [(0, 1, 0.8)]
"""

from __future__ import annotations

import re
from collections import defaultdict

MIN_WORDS = 8
BOILERPLATE_DOCS = 3
THRESHOLD = 0.6


def word_trigrams(text: str) -> frozenset[tuple[str, ...]]:
    """Lower-cased word trigrams, the unit of the near-duplicate check."""
    words = re.findall(r"\w+", text.lower())
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def near_duplicate_pairs(texts: list[str], threshold: float = 0.6) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, jaccard)`` of texts whose word-trigram Jaccard similarity exceeds ``threshold``.

    Only pairs that share a trigram are compared, so this stays fast on thousands of texts.

    Example:
        >>> near_duplicate_pairs(["the visit to Hanoi went well", "the visit to Hanoi went well today", "no"])
        [(0, 1, 0.8)]
    """
    grams = [word_trigrams(text) for text in texts]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, gram_set in enumerate(grams):
        for gram in gram_set:
            index[gram].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for holders in index.values():
        for a in range(len(holders)):
            for b in range(a + 1, len(holders)):
                shared[(holders[a], holders[b])] += 1
    pairs = []
    for (i, j), common in shared.items():
        jaccard = common / (len(grams[i]) + len(grams[j]) - common)
        if jaccard > threshold:
            pairs.append((i, j, round(jaccard, 3)))
    return sorted(pairs)



def folded(text: str) -> str:
    """Lower-cased text with runs of white space folded: the key of exact duplicates."""
    return " ".join(text.lower().split())


def boilerplate(texts: list[str], doc_ids: list[str]) -> set[str]:
    """Folded texts that occur in at least ``BOILERPLATE_DOCS`` different documents."""
    docs: dict[str, set[str]] = defaultdict(set)
    for text, doc_id in zip(texts, doc_ids):
        docs[folded(text)].add(doc_id)
    return {text for text, holders in docs.items() if len(holders) >= BOILERPLATE_DOCS}


def comparable(texts: list[str], doc_ids: list[str]) -> list[int]:
    """Indices of the sentences the near-duplicate check looks at: long enough, not boilerplate."""
    common = boilerplate(texts, doc_ids)
    return [i for i, text in enumerate(texts) if len(text.split()) >= MIN_WORDS and folded(text) not in common]


def document_clusters(texts: list[str], doc_ids: list[str]) -> dict[str, str]:
    """Map each document to a cluster representative; documents sharing a near-duplicate sentence share one.

    Example:
        >>> texts = ["the visit to Hanoi went well and was long", "the visit to Hanoi went well and was long too"]
        >>> document_clusters(texts, ["a", "b"])
        {'a': 'a', 'b': 'a'}
    """
    parent = {doc: doc for doc in doc_ids}

    def root(doc: str) -> str:
        while parent[doc] != doc:
            parent[doc] = parent[parent[doc]]
            doc = parent[doc]
        return doc

    keep = comparable(texts, doc_ids)
    for i, j, _ in near_duplicate_pairs([texts[k] for k in keep], THRESHOLD):
        a, b = root(doc_ids[keep[i]]), root(doc_ids[keep[j]])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {doc: root(doc) for doc in parent}
