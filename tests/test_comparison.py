"""The comparison protocol: same queries or a clear refusal, paired intervals and p-values that
agree with scipy, and properties of the paired difference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ragcompare.eval.comparison import (
    QuerySetMismatchError,
    compare,
    compare_runs,
    format_comparison,
    format_p,
    paired_difference,
    shared_queries,
)
from ragcompare.eval.metrics import evaluate, per_query
from ragcompare.types import Hit, InvalidInputError

QRELS = {f"q{i}": {f"d{i}": 1} for i in range(40)}


def _run(hit_rank: dict[str, int]) -> dict[str, list[Hit]]:
    """Each query's relevant document placed at the given rank (1-based) among fillers."""
    out = {}
    for q, rank in hit_rank.items():
        docs = [f"x{j}" for j in range(10)]
        docs.insert(rank - 1, f"d{q[1:]}")
        out[q] = [Hit(d, 100.0 - j) for j, d in enumerate(docs)]
    return out


GOOD = _run({q: 1 + (i % 2) for i, q in enumerate(QRELS)})
BAD = _run({q: 3 + (i % 5) for i, q in enumerate(QRELS)})


def test_per_query_means_are_the_metric():
    frame = per_query(GOOD, QRELS, ["ndcg@10", "mrr@10"])
    assert list(frame.index) == sorted(QRELS)
    assert frame.mean().to_dict() == pytest.approx(evaluate(GOOD, QRELS, ["ndcg@10", "mrr@10"]))


def test_compare_reports_difference_interval_and_p_value():
    frame = compare({"bad": BAD, "good": GOOD}, QRELS, metrics=["mrr@10", "ndcg@10"])
    assert frame.attrs["baseline"] == "bad" and frame["queries"].tolist() == [40, 40]
    diff = frame.loc["good", "mrr@10"] - frame.loc["bad", "mrr@10"]
    assert frame.loc["good", "Δ mrr@10"] == pytest.approx(diff)
    assert frame.loc["good", "Δ mrr@10 low"] > 0  # always better: the interval excludes 0
    assert frame.loc["good", "p mrr@10"] < 0.01
    assert frame.loc["bad", "Δ mrr@10"] == 0 and frame.loc["bad", "p mrr@10"] == 1.0
    text = format_comparison(frame)
    assert text.loc["bad", "Δ mrr@10 (95% CI)"] == "baseline"
    assert text.loc["good", "Δ mrr@10 (95% CI)"].startswith("+0.")


def test_mismatched_query_sets_are_refused_or_aligned():
    part = {q: BAD[q] for q in list(BAD)[:10]}
    with pytest.raises(QuerySetMismatchError, match="good: 40, part: 10"):
        compare({"good": GOOD, "part": part}, QRELS)
    assert shared_queries({"good": GOOD, "part": part}, QRELS, align="intersect") == sorted(part)
    d = compare_runs({"good": GOOD, "part": part}, QRELS, metrics=["mrr@10"], align="intersect")
    assert d["part"]["mrr@10"].queries == 10
    with pytest.raises(InvalidInputError, match="align"):
        shared_queries({"good": GOOD}, QRELS, align="sometimes")
    with pytest.raises(InvalidInputError, match="baseline"):
        compare({"good": GOOD}, QRELS, baseline="nope")
    with pytest.raises(InvalidInputError, match="share no"):
        compare({"a": {"q1": GOOD["q1"]}, "b": {"q2": GOOD["q2"]}}, QRELS, align="intersect")


def test_student_p_value_is_scipys_paired_t_test():
    rng = np.random.default_rng(3)
    a, b = rng.random(50), rng.random(50)
    diff, low, high, p = paired_difference(a, b, test="student")
    assert p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert diff == pytest.approx((a - b).mean()) and low < diff < high


def test_fisher_and_student_agree_roughly_and_inputs_are_checked():
    rng = np.random.default_rng(4)
    a = rng.random(80)
    b = a - 0.05 + rng.normal(0, 0.1, 80)
    pf = paired_difference(a, b, test="fisher")[3]
    pt = paired_difference(a, b, test="student")[3]
    assert abs(pf - pt) < 0.02
    for bad in ({"test": "wilcoxon"}, {"confidence": 1.5}):
        with pytest.raises(InvalidInputError):
            paired_difference(a, b, **bad)
    with pytest.raises(InvalidInputError):
        paired_difference(a, b[:10])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=40), st.floats(-0.5, 0.5))
def test_paired_difference_properties(values, shift):
    a = np.asarray(values)
    b = np.clip(a - shift, -1, 2)
    diff, low, high, p = paired_difference(a, b, n_resamples=500)
    assert diff == pytest.approx((a - b).mean())
    assert low - 1e-12 <= diff <= high + 1e-12 or np.isnan(p)
    back = paired_difference(b, a, n_resamples=500)  # swapping the arms flips the sign
    assert back[0] == pytest.approx(-diff)


def test_format_p():
    assert format_p(0.0004) == "<0.001" and format_p(0.0123) == "0.012" and format_p(0.5) == "0.50"


def test_median_interval_brackets_the_median():
    from ragcompare.eval.comparison import median_interval

    med, low, high = median_interval([1.0, 2.0, 3.0, 4.0, 100.0])
    assert med == 3.0 and low <= med <= high
    assert median_interval([2.0, 2.0]) == (2.0, 2.0, 2.0)
    with pytest.raises(InvalidInputError):
        median_interval([])


def test_claim_verdicts():
    from ragcompare.teach.claims import verdict

    assert verdict(2.1, 3.5, within=(2, 4)) == "holds"
    assert verdict(0.5, 0.9, within=(1, 5)).startswith("does not hold (lower")
    assert verdict(1.5, 3.0, within=(2, 4)).startswith("inconclusive")
    assert verdict(4.0, 6.0, equals=5).startswith("holds")
    assert verdict(6.0, 7.0, equals=5).startswith("does not hold (higher")
    assert verdict(-0.02, 0.01, at_least=0).startswith("inconclusive")
    assert verdict(0.01, 0.02, at_least=0) == "holds"
    with pytest.raises(InvalidInputError):
        verdict(0, 1, within=(0, 1), equals=0.5)
    with pytest.raises(InvalidInputError):
        verdict(1, 0, equals=0.5)
