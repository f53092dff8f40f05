"""The seed course's rules of thumb, kept unchanged as the explained baseline, and a table that puts
them next to the measured recommendation."""

from __future__ import annotations

from dataclasses import dataclass

from ragcompare.decide.profile import HardwareProfile
from ragcompare.decide.recommender import check_needs, recommend


@dataclass(frozen=True)
class SeedAdvice:
    """What the seed's rules of thumb say, and which rule fired."""

    approach: str
    rule: str


def seed_rule(corpus_size: float, latency_budget_ms: float, accuracy: str = "medium") -> SeedAdvice:
    """The seed course's rules of thumb, unchanged (the baseline the measurements are compared to).

    * "cross-encoder when < 1000 candidates" (and the budget allows a rerank: >= 50 ms);
    * "bi-encoder for millions of documents and < 10 ms" (and whenever accuracy need is low or the
      budget is below the hybrid range);
    * "hybrid at 50-100 ms" otherwise.
    """
    n, budget, acc = check_needs(corpus_size, latency_budget_ms, accuracy)
    if n < 1000 and budget >= 50 and acc != "low":
        return SeedAdvice("cross-encoder", "fewer than 1000 candidates: score them all with a "
                                           "cross-encoder")
    if budget < 10 or (n >= 1_000_000 and budget < 50):
        return SeedAdvice("bi-encoder", "millions of documents / under 10 ms: bi-encoder with ANN")
    if budget < 50 or acc == "low":
        return SeedAdvice("bi-encoder", "below the 50-100 ms hybrid range (or accuracy need low): "
                                        "bi-encoder")
    return SeedAdvice("hybrid", "50-100 ms or more: bi-encoder retrieval + cross-encoder rerank")


def compare_with_seed(corpus_sizes=(500, 1e4, 1e5, 1e6, 1e7), budgets=(10, 50, 100, 500, 2000),
                      accuracies=("low", "medium", "high"),
                      profile: str | HardwareProfile | None = None):
    """A DataFrame: the seed rule's answer next to the measured recommendation for a grid."""
    import pandas as pd

    rows = []
    for n in corpus_sizes:
        for b in budgets:
            for a in accuracies:
                seed = seed_rule(n, b, a)
                rec = recommend(n, b, a, profile=profile)
                rows.append({"corpus_size": int(n), "budget_ms": b, "accuracy": a,
                             "seed": seed.approach,
                             "measured": rec.approach if rec.feasible else "infeasible",
                             "settings": rec.settings.describe() if rec.settings else "",
                             "p50_ms": rec.predicted_p50_ms, "ndcg10": rec.expected_ndcg10,
                             "agree": seed.approach == rec.approach})
    return pd.DataFrame(rows)
