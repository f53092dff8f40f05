"""Metrics against a hand-checked example, TREC export, and the bench CLI end to end."""

from __future__ import annotations

import json

import pytest

from ragcompare.cli import main
from ragcompare.eval.bench import benchmark_pipelines, measure_pipeline
from ragcompare.eval.comparison import QuerySetMismatchError, compare
from ragcompare.eval.metrics import evaluate, to_results, write_trec
from ragcompare.types import Hit, InvalidInputError

QRELS = {"q1": {"d1": 2, "d3": 1}, "q2": {"d2": 1}}
RESULTS = {"q1": [Hit("d1", 3), Hit("d2", 2), Hit("d3", 1)], "q2": [Hit("d1", 1), Hit("d2", 0.5)]}


def test_metrics_match_hand_computation():
    # q1: DCG = 2/log2(2) + 1/log2(4) = 2.5, IDCG = 2 + 1/log2(3); q2: DCG = 1/log2(3), IDCG = 1
    import math

    ndcg = ((2.5 / (2 + 1 / math.log2(3))) + 1 / math.log2(3)) / 2
    m = evaluate(RESULTS, QRELS)
    assert m["ndcg@10"] == pytest.approx(ndcg)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2) / 2)
    assert m["map"] == pytest.approx(((1 + 2 / 3) / 2 + 1 / 2) / 2)
    assert m["recall@100"] == pytest.approx(1.0)


def test_only_run_queries_are_scored():
    assert evaluate({"q2": RESULTS["q2"]}, QRELS)["mrr@10"] == pytest.approx(0.5)
    with pytest.raises(InvalidInputError):
        evaluate({"zz": []}, QRELS)


def test_compare_and_trec(tmp_path):
    with pytest.raises(QuerySetMismatchError, match="a: 2, b: 1"):
        compare({"a": RESULTS, "b": {"q1": RESULTS["q1"]}}, QRELS)
    frame = compare({"a": RESULTS, "b": {"q1": RESULTS["q1"]}}, QRELS, align="intersect")
    assert list(frame.index) == ["a", "b"] and list(frame["queries"]) == [1, 1]
    assert frame.loc["a", "ndcg@10"] == pytest.approx(evaluate({"q1": RESULTS["q1"]}, QRELS)["ndcg@10"])
    path = write_trec(RESULTS, tmp_path / "run.trec", "demo")
    assert path.read_text().splitlines()[0] == "q1 Q0 d1 1 3.000000 demo"
    with pytest.raises(InvalidInputError):
        to_results(["q1"], [])


class _Fixed:
    """A retriever returning the same hits for every query (counts its searches)."""

    name = "fixed"

    def __init__(self) -> None:
        self.doc_ids, self.searches, self.last_timings = ["d1", "d2", "d3"], 0, {}

    def search(self, queries, k=10):
        self.searches += len(queries)
        return [RESULTS["q1"][:k] for _ in queries]


def test_measure_pipeline_and_benchmark_pipelines_agree():
    r = _Fixed()
    rec, results = measure_pipeline("fixed", r, {"q1": "a", "q2": "b"}, QRELS, k=3, metrics=["mrr@10"],
                                    settings={"x": 1}, notes=["n"])
    assert r.searches == 3  # one warm-up query, then each query once
    assert rec.metrics == evaluate(results, QRELS, ["mrr@10"]) and rec.queries_evaluated == 2
    assert rec.latency["n"] == 2 and rec.settings == {"x": 1} and rec.notes == ["n"]

    class Data:
        queries = {"q1": "a", "q2": "b"}
        qrels = QRELS

    frame = benchmark_pipelines({"all": _Fixed(), "other": _Fixed()}, Data(), k=10, metrics=["mrr@10"])
    assert list(frame.index) == ["all", "other"] and frame["queries"].tolist() == [2, 2]
    assert frame.loc["all", "mrr@10"] == pytest.approx(rec.metrics["mrr@10"])
    assert frame.loc["other", "Δ mrr@10"] == 0.0 and frame.attrs["baseline"] == "all"
    for col in ("p50_ms", "p95_ms", "p99_ms", "qps"):
        assert (frame[col] > 0).all()


def test_bench_cli_writes_json_records(tmp_path, cranfield, tiny_cross_encoder_dir, capsys):
    # A 60-document slice of Cranfield in BEIR layout, to keep the run short.
    qids = list(cranfield.queries)[:3]
    docs = {d for q in qids for d in cranfield.qrels[q]}
    docs |= set(list(cranfield.corpus)[:60])
    root = tmp_path / "slice"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": d, "title": cranfield.corpus[d].title, "text": cranfield.corpus[d].text})
        + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": q, "text": cranfield.queries[q]}) + "\n" for q in qids))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{s}\n" for q in qids for d, s in cranfield.qrels[q].items()))
    out = tmp_path / "results.json"
    rc = main(["bench", "--dataset", str(root), "--cross-encoder", str(tiny_cross_encoder_dir),
               "--k-retrieve", "5", "--ce-only-queries", "1",
               "--first-stages", "bi-encoder,rrf", "--alpha", "0.5", "--no-progress",
               "--output", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    names = [r["name"] for r in report["records"]]
    assert names[:3] == ["bm25", "bi-encoder", "rrf(bm25+bi-encoder)"]
    assert "bi-encoder >> cross-encoder@5 (alpha=0.5)" in names
    assert "rrf >> cross-encoder@5 (alpha=0.5)" in names
    assert "cross-encoder only" in names and len(names) == 8
    full = [r for r in report["records"] if not r["sampled"]]
    assert {r["queries_evaluated"] for r in full} == {3}  # every full-set row on the same queries
    assert [r["name"] for r in report["records"] if r["sampled"]] == ["cross-encoder only"]
    bi = next(r for r in report["records"] if r["name"] == "bi-encoder")
    for r in report["records"]:
        assert set(r["metrics"]) == {"ndcg@10", "mrr@10", "recall@100", "map"}
        assert r["latency"]["p50_ms"] > 0 and r["settings"]
        d = r["comparison"]["ndcg@10"]
        assert d["baseline"] == "bi-encoder" and d["low"] <= d["diff"] <= d["high"]
        assert d["queries"] == r["queries_evaluated"]
        assert 0 <= d["p_value"] <= 1 if d["queries"] > 1 else d["p_value"] in (None, 1.0)
        if not r["sampled"]:
            assert d["diff"] == pytest.approx(r["metrics"]["ndcg@10"] - bi["metrics"]["ndcg@10"])
    assert report["machine"]["cores"] >= 1
    printed = capsys.readouterr().out
    assert "p50_ms" in printed and "machine:" in printed and "95% CI" in printed
    assert "SAMPLED" in printed  # the cross-encoder-only row is printed in a table of its own


def test_cli_unknown_dataset_exit_code(capsys):
    assert main(["bench", "--dataset", "no-such-set"]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_cli_rejects_bad_alpha_before_running(cranfield, capsys):
    for bad in ("half", "1.5"):
        assert main(["bench", "--dataset", "cranfield", "--alpha", bad, "--no-progress"]) == 2
        assert "alpha" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [{"k_retrieve": -3}, {"max_length": 0}, {"ce_only_queries": -1},
                                 {"rerank_queries": 0}, {"hybrid_first_stages": ("bm25", "foo")},
                                 {"alphas": (1.5,)}])
def test_benchmark_refuses_bad_settings_before_any_work(bad, cranfield, monkeypatch):
    from ragcompare.eval.bench import run_benchmark
    from ragcompare.retrieval.bm25 import BM25Retriever

    def no_work(*_args, **_kwargs):
        raise AssertionError("the benchmark started working before checking its settings")

    monkeypatch.setattr(BM25Retriever, "index", no_work)
    with pytest.raises(InvalidInputError):
        run_benchmark(cranfield, progress=False, log=lambda _msg: None, **bad)
