"""The course's starting rules of thumb, kept unchanged as the explained baseline, and a table that
puts them next to the measured recommendation."""

from __future__ import annotations

from dataclasses import dataclass

from ragcompare.decide.profile import HardwareProfile
from ragcompare.decide.recommender import check_needs, recommend


@dataclass(frozen=True)
class RuleOfThumbAdvice:
    """What the course's starting rules of thumb say, and which rule fired."""

    approach: str
    rule: str


def rule_of_thumb(corpus_size: float, latency_budget_ms: float,
                  accuracy: str = "medium") -> RuleOfThumbAdvice:
    """The course's starting rules of thumb, unchanged (the baseline the measurements are compared to).

    * "cross-encoder when < 1000 candidates" (and the budget allows a rerank: >= 50 ms);
    * "bi-encoder for millions of documents and < 10 ms" (and whenever accuracy need is low or the
      budget is below the hybrid range);
    * "hybrid at 50-100 ms" otherwise.
    """
    n, budget, acc = check_needs(corpus_size, latency_budget_ms, accuracy)
    if n < 1000 and budget >= 50 and acc != "low":
        return RuleOfThumbAdvice("cross-encoder", "fewer than 1000 candidates: score them all with a "
                                                  "cross-encoder")
    if budget < 10 or (n >= 1_000_000 and budget < 50):
        return RuleOfThumbAdvice("bi-encoder", "millions of documents / under 10 ms: bi-encoder with ANN")
    if budget < 50 or acc == "low":
        return RuleOfThumbAdvice("bi-encoder", "below the 50-100 ms hybrid range (or accuracy need low): "
                                               "bi-encoder")
    return RuleOfThumbAdvice("hybrid", "50-100 ms or more: bi-encoder retrieval + cross-encoder rerank")


def compare_with_rules_of_thumb(corpus_sizes=(500, 1e4, 1e5, 1e6, 1e7), budgets=(10, 50, 100, 500, 2000),
                                accuracies=("low", "medium", "high"),
                                profile: str | HardwareProfile | None = None):
    """A DataFrame: the rules of thumb's answer next to the measured recommendation for a grid
    (columns ``rule_of_thumb``, ``measured``, ``interpolated``, ``settings``, ``p50_ms``, ``ndcg10``,
    ``gain``, ``gain_low``, ``gain_high`` -- the chosen option's gain over the bi-encoder and its 95%
    interval, empty for the bi-encoder itself -- and ``agree``)."""
    import pandas as pd

    rows = []
    for n in corpus_sizes:
        for b in budgets:
            for a in accuracies:
                thumb = rule_of_thumb(n, b, a)
                rec = recommend(n, b, a, profile=profile)
                g = rec.gain
                rows.append({"corpus_size": int(n), "budget_ms": b, "accuracy": a,
                             "rule_of_thumb": thumb.approach,
                             "measured": rec.approach if rec.feasible else "infeasible",
                             "interpolated": bool(rec.settings and rec.settings.alpha is not None),
                             "settings": rec.settings.describe() if rec.settings else "",
                             "p50_ms": rec.predicted_p50_ms, "ndcg10": rec.expected_ndcg10,
                             "gain": g.diff if g else None, "gain_low": g.low if g else None,
                             "gain_high": g.high if g else None,
                             "agree": thumb.approach == rec.approach})
    return pd.DataFrame(rows)
