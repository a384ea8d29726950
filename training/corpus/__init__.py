"""The labelled corpus: stand-off annotation over ``../shared/data``, written text, and the build that joins them.

Modules, each importing only those above it:

- ``records``: the validated sentence record and its JSON Lines file;
- ``dedup``: near-duplicate sentences and document clusters;
- ``sources``: the source texts in ``../shared/data`` and their credit lines;
- ``standoff``: labels that point into the sources by document id and offsets;
- ``build``: joins everything into ``build/corpus.jsonl`` (rebuilt on demand);
- ``annotate``: chooses the documents of each annotation round and imports their labels;
- ``splits``: chooses the test and dev documents once (``data/splits.json``);
- ``style``: how the written text reads next to the real text;
- ``stats``: the data card's tables.

Command line: ``python -m training.corpus {build,split,stats,style,check}``.

Example:
    >>> records = load_records(ensure_built())
    >>> {r.split for r in records if not r.is_real}
    {'train'}
"""

from training.corpus.build import CORPUS, ensure_built
from training.corpus.dedup import near_duplicate_pairs, word_trigrams  # noqa: I001 (records first: no cycles)
from training.corpus.records import (
    REAL_SOURCES,
    SOURCES,
    SPLITS,
    CorpusError,
    Record,
    fingerprint,
    load_dataset_dict,
    load_records,
    multi_hot,
    read_jsonl,
)

__all__ = ["CORPUS", "REAL_SOURCES", "SOURCES", "SPLITS", "CorpusError", "Record", "ensure_built", "fingerprint",
           "load_dataset_dict", "load_records", "multi_hot", "near_duplicate_pairs", "read_jsonl", "word_trigrams"]
