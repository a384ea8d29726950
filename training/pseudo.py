"""Self-training: pseudo-labels from a trained model on the real sentences nobody annotated.

    python -m training.pseudo --config configs/pseudo/news.yaml [--set KEY=VALUE ...]

The corpus annotates a few hundred real documents; ``../shared/data`` holds about 90,000
real sentences. A teacher (a trained model directory) scores the sentences of every real
document the corpus does not hold (so no dev or test text is seen), and keeps a sentence
only when each of its labels is confidently decided:

- positive when its score reaches ``max(threshold, cut-off)``; each label's cut-off is the
  lowest at which the teacher's positive decisions for it on real dev are at least
  ``target_precision`` precise (:func:`tune_cutoffs`); a label that never is gets no
  pseudo-positives;
- negative when its score is at most ``max_negative_score``;
- anything between makes the sentence uncertain, and it is dropped.

Sentences with no label are kept at ``negatives_per_positive`` per labelled one, drawn by
the seed. The result (``.cache/pseudo/NAME.jsonl``, a cache git ignores, with a
``NAME.json`` stamp of what was measured) is what a training config names as
``data.pseudo_labels``. Tracked in MLflow (experiment ``diplomatic-events-pseudo``).

Example:
    >>> scores, gold = np.array([[0.95], [0.7], [0.6]]), np.array([[1], [1], [0]])
    >>> cut = tune_cutoffs(scores, gold, {"aid": 0.5}, ("aid",), 0.9, min_decisions=2)["aid"]
    >>> cut.cutoff, cut.precision
    (0.65, 1.0)
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from training import tracking
from training.config import ConfigError, PseudoConfig, config_parser, flatten, load_config, pseudo_label_config
from training.corpus import CorpusError, ensure_built, load_records, multi_hot

# Cut-offs tried per label, lowest first: the lowest that is precise enough keeps the most sentences.
CUTOFFS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)


class PseudoLabelError(ValueError):
    """Pseudo-labels cannot be made or read; the message says why and what to change."""


@dataclass(frozen=True)
class Cutoff:
    """One label's confidence cut-off chosen on dev, and what the teacher's dev decisions above it were worth."""

    cutoff: float
    precision: float  # of the label's positive decisions at or above it
    recall: float  # share of the label's dev positives those decisions find
    decisions: int


def tune_cutoffs(scores: np.ndarray, gold: np.ndarray, thresholds: dict[str, float], labels: tuple[str, ...],
                 target_precision: float, min_decisions: int = 10, cutoffs: tuple[float, ...] = CUTOFFS
                 ) -> dict[str, Cutoff | None]:
    """Per label, the lowest cut-off in ``cutoffs`` whose positive decisions on dev reach ``target_precision``.

    A label's bar is ``max(threshold, cut-off)``. A label gets ``None`` (no pseudo-positives)
    when no cut-off with at least ``min_decisions`` dev decisions is precise enough: one
    global cut-off would be set by the most frequent label alone.
    """
    chosen: dict[str, Cutoff | None] = {}
    for j, label in enumerate(labels):
        chosen[label] = None
        for cutoff in cutoffs:
            decided = scores[:, j] >= max(thresholds[label], cutoff)
            count, correct = int(decided.sum()), int(gold[decided, j].sum())
            if count < min_decisions:
                break
            if correct / count >= target_precision:
                recall = correct / max(int(gold[:, j].sum()), 1)
                chosen[label] = Cutoff(cutoff, round(correct / count, 4), round(recall, 4), count)
                break
    return chosen


def confident_rows(scores: np.ndarray, thresholds: dict[str, float], labels: tuple[str, ...],
                   cutoffs: dict[str, Cutoff | None], max_negative_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Which sentences every label decides confidently, and their decisions: ``(kept (n,), decisions (n, labels))``.

    A label without a cut-off is never positive, so a sentence that scores above
    ``max_negative_score`` on it is uncertain, and dropped.

    Example:
        >>> cut = {"aid": Cutoff(0.8, 0.9, 0.5, 20)}
        >>> kept, decided = confident_rows(np.array([[0.9], [0.3], [0.05]]), {"aid": 0.5}, ("aid",), cut, 0.1)
        >>> kept.tolist(), decided[:, 0].tolist()
        ([True, False, True], [1, 0, 0])
    """
    bars = np.array([max(thresholds[label], cutoffs[label].cutoff) if cutoffs[label] else np.inf for label in labels])
    decided = (scores >= bars).astype(np.int8)
    uncertain = (decided == 0) & (scores > max_negative_score)
    return ~uncertain.any(axis=1), decided


def select_rows(kept: np.ndarray, decided: np.ndarray, negatives_per_positive: float, seed: int) -> list[int]:
    """Every kept sentence with a label, and a seeded draw of kept sentences without one; in index order.

    Example:
        >>> select_rows(np.array([True, True, True, False]), np.array([[1], [0], [0], [1]]), 1.0, 0)
        [0, 1]
    """
    labelled = np.flatnonzero(kept & (decided.sum(axis=1) > 0))
    unlabelled = np.flatnonzero(kept & (decided.sum(axis=1) == 0))
    count = min(len(unlabelled), round(negatives_per_positive * len(labelled)))
    drawn = np.random.default_rng(seed).permutation(unlabelled)[:count]
    return sorted(labelled.tolist() + drawn.tolist())


def make_pseudo_labels(cfg: PseudoConfig) -> Path:
    """Score the unannotated real sentences with ``cfg.teacher``, keep the confident ones, write ``cfg.path``."""
    from inference import load_classifier
    from inference.artifact import read_meta
    from training.adapt import unlabelled_sentences
    from training.corpus.records import SPLITS

    if not (cfg.teacher / "classifier.json").is_file():
        raise PseudoLabelError(f"the teacher {cfg.teacher} is not a model directory; train it first, e.g. "
                               f"python -m training.train --config configs/default.yaml")
    meta = read_meta(cfg.teacher)
    records = load_records(ensure_built(cfg.corpus))
    dev = [r for r in records if r.split == "dev"]
    texts = unlabelled_sentences(records, cfg.max_sentences, cfg.min_words, cfg.seed, held_out_splits=SPLITS,
                                 skip_corpus_texts=True)
    teacher = load_classifier(cfg.teacher, threads=cfg.threads, cascade=False, spinning=False)
    dev_gold = np.array([multi_hot(r.labels, meta.labels) for r in dev]).reshape(len(dev), len(meta.labels))
    cutoffs = tune_cutoffs(teacher.score([r.text for r in dev], cfg.batch_size), dev_gold, meta.thresholds,
                           meta.labels, cfg.target_precision, cfg.min_decisions)
    if not any(cutoffs.values()):
        raise PseudoLabelError(f"no label's dev decisions are {cfg.target_precision:.0%} precise at any cut-off; "
                               f"lower target_precision or train a better teacher")
    for label, cut in cutoffs.items():
        print(f"{label}: " + (f"cut-off {cut.cutoff}, dev precision {cut.precision:.1%}, recall {cut.recall:.1%} "
                              f"({cut.decisions} decisions)" if cut else "never positive (not precise enough on dev)"))
    print(f"scoring {len(texts)} unannotated sentences")
    scores = teacher.score(texts, cfg.batch_size)
    kept, decided = confident_rows(scores, meta.thresholds, meta.labels, cutoffs, cfg.max_negative_score)
    rows = select_rows(kept, decided, cfg.negatives_per_positive, cfg.seed)
    per_label = {label: int(decided[rows, j].sum()) for j, label in enumerate(meta.labels)}
    stamp = {"teacher": str(cfg.teacher), "teacher_run_id": meta.mlflow_run_id,
             "cutoffs": {label: asdict(cut) if cut else None for label, cut in cutoffs.items()},
             "scored": len(texts), "confident": int(kept.sum()), "written": len(rows),
             "labelled": int((decided[rows].sum(axis=1) > 0).sum()), "per_label": per_label}
    tracking.setup(cfg.tracking.experiment)
    with tracking.run(cfg.name, tags={"stage": "pseudo"}):
        tracking.log_params(flatten(cfg))
        tracking.log_metrics({k: v for k, v in stamp.items() if isinstance(v, (int, float))})
        tracking.log_metrics({f"labelled_{label}": n for label, n in per_label.items()})
        tracking.log_metrics({f"cutoff_{label}": cut.cutoff for label, cut in cutoffs.items() if cut})
    cfg.path.parent.mkdir(parents=True, exist_ok=True)
    partial = cfg.path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for i in rows:
            labels = [label for j, label in enumerate(meta.labels) if decided[i, j]]
            out.write(json.dumps({"text": texts[i], "labels": labels, "score": round(float(scores[i].max()), 4)},
                                 ensure_ascii=False) + "\n")
    cfg.path.with_suffix(".json").write_text(json.dumps(stamp, indent=2) + "\n")
    partial.rename(cfg.path)  # a training config only ever reads a finished file
    print(f"{len(rows)} sentences ({stamp['labelled']} with a label) -> {cfg.path}; per label: {per_label}")
    return cfg.path


def read_pseudo_labels(path: Path, labels: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """The texts and multi-hot labels (over ``labels``) of a pseudo-label file; labels outside ``labels`` are dropped.

    Raises:
        PseudoLabelError: naming the line of a malformed row.
    """
    from inference.taxonomy import TAXONOMY

    texts, gold = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            text, row_labels = row["text"], tuple(row["labels"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PseudoLabelError(f"{path}:{number}: not a pseudo-label row ({exc})") from exc
        unknown = [label for label in row_labels if label not in TAXONOMY.ids]
        if not isinstance(text, str) or not text.strip() or unknown:
            raise PseudoLabelError(f"{path}:{number}: needs a text and known labels (unknown: {unknown})")
        texts.append(text)
        gold.append(multi_hot(row_labels, labels))
    return texts, np.array(gold, dtype=np.float32).reshape(len(texts), len(labels))


def ensure_pseudo_labels(path: Path | None) -> None:
    """Write ``path`` first when it is a pseudo-label cache (``.cache/pseudo/NAME.jsonl``) not written yet."""
    config = pseudo_label_config(path) if path is not None else None
    if config is not None and not path.is_file():
        print(f"the pseudo-labels {path} are not written yet: making them first ({config})")
        make_pseudo_labels(load_config(config, schema=PseudoConfig))


def main(argv: list[str] | None = None) -> int:
    parser = config_parser("python -m training.pseudo", __doc__.split("\n\n")[0], "configs/pseudo/news.yaml",
                           "target_precision=0.9")
    args = parser.parse_args(argv)
    try:
        make_pseudo_labels(load_config(args.config, args.overrides, schema=PseudoConfig))
    except (ConfigError, CorpusError, PseudoLabelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
