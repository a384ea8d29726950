"""Baselines tracked beside the transformer: TF-IDF + logistic regression, and keyword rules.

Both expose ``fit(texts, gold)`` and ``score(texts) -> array (n, labels)``, so they go
through the same evaluation, thresholds, reports and plots as the transformer.

Example:
    >>> rules = KeywordRules(("condemnation",))
    >>> rules.score(["Tokyo condemned the launch."]).tolist()
    [[1.0]]
"""

from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from inference.text import normalize
from training.config import BaselineConfig

# In the spirit of dictionary coders (TABARI/PETRARCH verb dictionaries): one pattern per
# label, written from the taxonomy's definitions, never fitted to the corpus.
KEYWORDS: dict[str, str] = {
    "state_visit": r"\b(visit(s|ed|ing)?|arriv(e|es|ed|ing) in|trip to|travel(s|led|ed|ling)? to|"
                   r"hosts?|hosted|hosting|delegation|state visit|landed in|tour of)\b",
    "arms_deal": r"\b(arms (sales?|deals?|transfers?|purchases?|supplies)|"
                 r"weapons? (sales?|deals?|deliver\w*|transfers?)|"
                 r"(sell|sold|buy|bought|purchas\w*|suppl\w*|deliver\w*|transfer\w*) [\w\s,-]{0,40}"
                 r"(weapons|arms|jets|tanks|drones|missiles|ammunition|shells|howitzers|submarines|frigates)|"
                 r"military (aid|equipment|hardware))\b",
    "sanctions_appeal": r"\b(urg\w*|call\w* (on|for)|ask\w*|demand\w*|press\w*|appeal\w*|push\w* for) "
                        r"[^.]{0,80}\b(sanctions?|embargo\w*|boycott\w*)",
    "sanctions_imposed": r"\b((impos\w*|extend\w*|tighten\w*|lift\w*|eas\w*|renew\w*|announc\w*|slapp?\w*) "
                         r"[^.]{0,40}\b(sanctions?|embargo\w*)|sanctions? (on|against)|asset freezes?|export bans?|"
                         r"blacklist\w*)\b",
    "diplomatic_talks": r"\b(talks|met with|meet\w* with|meetings?|negotiat\w*|summit|phone call|spoke by phone|"
                        r"held discussions|discussed|consultations)\b",
    "agreement": r"\b(sign\w* [^.]{0,40}(agreement|deal|accord|treaty|memorandum|pact)|agreed to|"
                 r"ceasefire (deal|agreement)|ratif\w*|treaty|accord)\b",
    "aid": r"\b(humanitarian aid|aid (package|shipment|convoy)s?|assistance|donat\w*|pledg\w*|relief supplies|"
           r"grants?|food aid|emergency funding)\b",
    "military_posture": r"\b(military exercises?|drills?|missile (launch|test)\w*|test-fired|"
                        r"launched [^.]{0,30}missiles?|"
                        r"troops? build-?up|warships|military parade|threat\w* [^.]{0,30}(force|strike|attack)|"
                        r"mobiliz\w*|deploy\w* [^.]{0,30}troops)\b",
    "condemnation": r"\b(condemn\w*|denounc\w*|criticiz\w*|criticis\w*|accus\w*|protest\w*|rejected|slamm?\w*|"
                    r"deplor\w*|summon\w* [^.]{0,40}ambassador|expel\w*|recall\w* [^.]{0,20}ambassador)\b",
}


class KeywordRules:
    """Scores 1.0 for a label when its pattern matches the sentence, else 0.0."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.patterns = [re.compile(KEYWORDS[label], re.IGNORECASE) for label in labels]

    def fit(self, texts: list[str], gold: np.ndarray) -> KeywordRules:
        return self  # nothing to learn: the rules are fixed in advance

    def score(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0 if p.search(normalize(t)) else 0.0 for p in self.patterns] for t in texts]).reshape(
            len(texts), len(self.labels)
        )


class TfidfLogReg:
    """Word n-gram TF-IDF with one balanced logistic regression per label."""

    def __init__(self, labels: tuple[str, ...], cfg: BaselineConfig, seed: int = 0) -> None:
        self.labels = labels
        self.pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, cfg.ngram_max), min_df=cfg.min_df, sublinear_tf=True),
            OneVsRestClassifier(LogisticRegression(C=cfg.C, class_weight="balanced", max_iter=2000,
                                                   random_state=seed)),
        )

    def fit(self, texts: list[str], gold: np.ndarray) -> TfidfLogReg:
        self.pipeline.fit([normalize(t) for t in texts], gold.astype(int))
        return self

    def score(self, texts: list[str]) -> np.ndarray:
        return self.pipeline.predict_proba([normalize(t) for t in texts])
