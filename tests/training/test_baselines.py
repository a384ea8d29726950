import numpy as np

from inference.taxonomy import TAXONOMY
from training.baselines import KEYWORDS, KeywordRules, TfidfLogReg
from training.config import BaselineConfig


def test_every_label_has_a_rule():
    assert set(KEYWORDS) == set(TAXONOMY.ids)


def test_keyword_rules_fire_on_their_words():
    rules = KeywordRules(TAXONOMY.ids)
    scores = rules.score(["Seoul condemned the missile launch.", "The weather was fine."])
    assert scores.shape == (2, 9)
    assert scores[0, TAXONOMY.ids.index("condemnation")] == 1.0
    assert scores[1].sum() == 0


def test_tfidf_learns_a_separable_toy_problem():
    texts = ["aid convoy reached the city", "food aid was delivered", "tanks were sold abroad", "jets were sold"] * 5
    gold = np.array([[1, 0], [1, 0], [0, 1], [0, 1]] * 5)
    model = TfidfLogReg(("aid", "arms_deal"), BaselineConfig(min_df=1)).fit(texts, gold)
    scores = model.score(["more aid was delivered", "drones were sold"])
    assert scores[0, 0] > 0.5 > scores[0, 1]
    assert scores[1, 1] > 0.5 > scores[1, 0]
