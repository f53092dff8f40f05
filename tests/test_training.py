"""Quick plumbing tests for ragcompare.train (data, trainer, evaluation, gpu) and ragcompare.models.pack.

The tiny randomly-initialised BERT built here only exercises the code paths; it is never a result.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("datasets")
pytest.importorskip("accelerate")

from _tiny import WORDS, tiny_bert  # noqa: E402

from ragcompare import train as training  # noqa: E402
from ragcompare.data.beir import Dataset, Document  # noqa: E402
from ragcompare.models import pack as model_pack  # noqa: E402
from ragcompare.train import gpu  # noqa: E402
from ragcompare.types import InvalidInputError  # noqa: E402


def _tiny_model_dir(path: Path, seed: int = 0) -> Path:
    return tiny_bert(path, classifier=True, seed=seed, hidden=16)


def _pairs(n: int = 24) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        a = " ".join(rng.choice(WORDS, 4))
        b = " ".join(rng.choice(WORDS, 5))
        out.append((a, b, float(i % 2)))
    return out


def _collection() -> Dataset:
    corpus = {f"d{i}": Document(title=f"doc {i}", text=f"text {i}") for i in range(8)}
    return Dataset(name="toy", corpus=corpus, queries={"q1": "query one"},
                   qrels={"q1": {"d0": 2, "d1": 1, "d5": 0}})


def test_mining_skips_relevant_and_near_duplicates() -> None:
    coll = _collection()
    # d2 is a near-duplicate of positive d0; d5 is judged non-relevant (grade 0) -> allowed
    emb = np.eye(8, dtype=np.float32)
    emb[2] = emb[0]
    bm25 = {"q1": [("d0", 9.0), ("d2", 8.0), ("d1", 7.0), ("d3", 6.0), ("d5", 5.0)]}
    dense = {"q1": [("d1", 0.9), ("d4", 0.8), ("d0", 0.7), ("d6", 0.6)]}
    negs = training.mine_hard_negatives(coll, [bm25, dense], n_negatives=10, depth=10,
                                        doc_emb=emb, duplicate_threshold=0.93)["q1"]
    assert "d0" not in negs and "d1" not in negs  # judged relevant
    assert "d2" not in negs  # near-duplicate of a positive
    assert set(negs) == {"d3", "d4", "d5", "d6"}
    pairs = training.build_rerank_pairs(coll, {"q1": negs})
    labels = {(p[1], p[2]) for p in pairs}
    assert ("doc 0. text 0", 1.0) in labels and ("doc 3. text 3", 0.0) in labels
    assert sum(p[2] for p in pairs) == 2


def test_budget_schedule_and_callback_unit() -> None:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    sch = training.BudgetLinearSchedule(planned_steps=100, warmup_steps=10)
    assert sch(0) == pytest.approx(0.1) and sch(10) == pytest.approx(1.0) and sch(100) == 0.0
    cb = training.WallTimeBudgetCallback(budget_s=0.0)
    state, control = TrainerState(), TrainerControl()
    args = TrainingArguments(output_dir="/tmp/unused", report_to="none")
    cb.on_train_begin(args, state, control)
    state.global_step = 1
    cb.on_step_end(args, state, control)
    assert control.should_training_stop and cb.stopped_early


def test_wall_time_budget_stops_real_training(tmp_path: Path) -> None:
    model = training.init_cross_encoder(_tiny_model_dir(tmp_path / "tiny"), max_length=32)
    training.freeze_layers(model, 1)
    res = training.train_cross_encoder(model, _pairs(64), tmp_path / "out", epochs=5,
                                       batch_size=4, budget_s=0.0, seed=3)
    assert res.stopped_by_budget
    assert res.steps < res.planned_steps and res.steps <= 2
    assert res.planned_steps == 80


def test_frozen_tensors_stay_identical_and_pack_roundtrip(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file
    from sentence_transformers.cross_encoder import CrossEncoder

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path / "cache"))
    base = _tiny_model_dir(tmp_path / "base")
    model = training.init_cross_encoder(base, max_length=32, revive_pooler=True)
    frozen = training.freeze_layers(model, 1)
    assert "embeddings.word_embeddings.weight" in frozen
    training.train_cross_encoder(model, _pairs(32), tmp_path / "out", epochs=1, batch_size=8,
                                 lr_body=1e-2, lr_head=1e-2, budget_s=60)
    full = tmp_path / "full"
    model.save_pretrained(str(full))

    card = {"name": "tiny", "training_collections": ["cisi"]}
    packed = model_pack.pack(full, tmp_path / "models" / "tiny", card, base=base)
    manifest = json.loads((packed / "pack.json").read_text())
    omitted = {v["base_key"] for v in manifest["omitted_tensors"].values()}
    assert "embeddings.word_embeddings.weight" in omitted
    assert "encoder.layer.0.attention.self.query.weight" in omitted  # frozen layer
    assert not any(k.startswith("encoder.layer.1") for k in omitted)  # trained layer
    stored = load_file(str(packed / model_pack.WEIGHTS))
    assert all(t.dtype == torch.float16 for t in stored.values() if t.is_floating_point())

    path = model_pack.materialize(packed)
    assert (path / "model.safetensors").exists()
    assert model_pack.materialize(packed) == path  # idempotent
    assert model_pack.materialize(path) == path  # a materialized folder is returned as it is
    assert model_pack.training_collections(path) == {"cisi"}

    a = load_file(str(full / "model.safetensors"))
    b = load_file(str(path / "model.safetensors"))
    assert set(a) == set(b)
    assert torch.equal(a["bert.embeddings.word_embeddings.weight"],
                       b["bert.embeddings.word_embeddings.weight"])
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-3, rtol=2e-3)

    pairs = [(x, y) for x, y, _ in _pairs(8)]
    ref = model.predict(pairs)
    got = CrossEncoder(str(path), device="cpu", local_files_only=True).predict(pairs)
    np.testing.assert_allclose(got, ref, atol=2e-3)

    # a base whose embedding differs from the one trained with is refused
    bad = _tiny_model_dir(tmp_path / "bad_base", seed=1)
    manifest["base"] = {"kind": "dir", "path": str(bad)}
    (packed / "pack.json").write_text(json.dumps(manifest))
    with pytest.raises(model_pack.PackError):
        model_pack.materialize(packed)


def test_training_collection_guard(tmp_path: Path) -> None:
    for name, colls, default in (("ragcompare-reranker-a", ["cisi"], True),
                                 ("ragcompare-reranker-b", ["cranfield"], False)):
        d = tmp_path / name
        d.mkdir()
        (d / "card.json").write_text(json.dumps({"training_collections": colls,
                                                 "default": default}))
    a, b = tmp_path / "ragcompare-reranker-a", tmp_path / "ragcompare-reranker-b"
    assert model_pack.training_collections(a) == {"cisi"}
    assert model_pack.training_collections(tmp_path) == set()  # no card
    assert model_pack.check_evaluation(a, "cranfield")
    with pytest.raises(model_pack.TrainingCollectionError):
        model_pack.check_evaluation(a, "cisi")
    assert model_pack.check_evaluation(a, "cisi", strict=False) is False
    assert model_pack.select_reranker(tmp_path, "cranfield") == a
    assert model_pack.select_reranker(tmp_path, "cisi") == b


def test_split_queries_is_reproducible_and_disjoint() -> None:
    coll = _collection()
    coll.queries = {f"q{i}": f"query {i}" for i in range(9)}
    train, test = training.split_queries(coll, test_fraction=1 / 3, seed=4)
    assert len(test) == 3 and len(train) == 6
    assert not set(train) & set(test) and set(train) | set(test) == set(coll.queries)
    assert (train, test) == training.split_queries(coll, test_fraction=1 / 3, seed=4)
    with pytest.raises(ValueError, match="test_fraction"):
        training.split_queries(coll, test_fraction=1.0)
    sub = training.subset(coll, test)
    assert set(sub.queries) == set(test) and list(sub.corpus) == list(coll.corpus)
    with pytest.raises(KeyError, match="unknown query"):
        training.subset(coll, ["nope"])


def test_loss_curve_keeps_only_training_loss_points() -> None:
    history = [{"loss": 0.7, "epoch": 0.1, "step": 5}, {"eval_dev_ndcg@10": 0.4, "step": 5},
               {"loss": 0.6, "epoch": 0.2, "step": 10}, {"train_loss": 0.65, "step": 10}]
    assert [p["loss"] for p in training.loss_curve(history)] == [0.7, 0.6]


def test_title_pseudo_queries_and_teacher_labels() -> None:
    coll = _collection()
    coll.corpus["d3"] = Document("shock wave boundary layer", "text 3")
    coll.corpus["d4"] = Document("heat flow", "text 4")  # too short (< 3 words)
    pseudo = training.title_pseudo_queries(coll, n=5, min_words=3)
    assert pseudo.queries == {"pq-d3": "shock wave boundary layer"} and not pseudo.qrels
    dense = {"pq-d3": [("d3", 0.9), ("d1", 0.8), ("d2", 0.7), ("d6", 0.6)]}
    bm25 = {"pq-d3": [("d3", 9.0), ("d6", 8.0), ("d2", 7.0), ("d5", 6.0), ("d7", 5.0)]}
    pairs = training.distillation_pairs(pseudo, dense, [bm25, dense], k=3, rrf_k=60)
    labels = {p[1]: p[2] for p in pairs}
    assert "shock wave boundary layer. text 3" not in labels  # the title's own document is never a candidate
    # RRF (ranx): d6 = 1/62 + 1/64, d2 = 1/63 + 1/63, d1 = 1/62 (missing from bm25: nothing there)
    assert labels["doc 6. text 6"] == 1.0 and labels["doc 1. text 1"] == 0.0
    assert 0.0 < labels["doc 2. text 2"] < 1.0
    with pytest.raises(ValueError):
        training.title_pseudo_queries(coll, n=0)
    assert training.distillation_pairs(training.subset(pseudo, []), dense, [bm25, dense]) == []


def test_reranking_table_rows(tmp_path: Path) -> None:
    from sentence_transformers.cross_encoder import CrossEncoder

    coll = _collection()
    model = CrossEncoder(str(_tiny_model_dir(tmp_path / "tiny")), max_length=32)
    first = {"q1": [("d3", 3.0), ("d0", 2.0), ("d1", 1.0), ("d4", 0.5)]}
    rows = training.reranking_table(coll, {"bi-encoder": first}, {"tiny": model},
                                    rerank_over="bi-encoder", k=3)
    assert [r["ranking"] for r in rows] == ["bi-encoder", "bi-encoder top-3 >> tiny"]
    assert all(0.0 <= r["ndcg@10"] <= 1.0 for r in rows)
    with pytest.raises(KeyError, match="rerank_over"):
        training.reranking_table(coll, {"bi-encoder": first}, {}, rerank_over="bm25")


def test_rerank_memo_scores_each_pair_once() -> None:
    class Scorer:  # score = the document's number; records what it was asked
        def __init__(self) -> None:
            self.calls: list[list[tuple[str, str]]] = []

        def predict(self, pairs, **_):
            self.calls.append(list(pairs))
            return np.array([float(doc.split()[-1]) for _, doc in pairs])

    coll, scorer, memo = _collection(), Scorer(), {}
    first = {"q1": [("d3", 3.0), ("d0", 2.0), ("d1", 1.0), ("d4", 0.5)]}
    run, raw = training.rerank(coll, scorer, first, k=3, show_progress_bar=False, memo=memo)
    assert [d for d, _ in run["q1"]] == ["d3", "d1", "d0", "d4"] and raw["q1"] == [3.0, 0.0, 1.0]
    other = {"q1": [("d1", 9.0), ("d5", 8.0), ("d3", 7.0)]}
    run2, raw2 = training.rerank(coll, scorer, other, k=3, show_progress_bar=False, memo=memo)
    assert [len(c) for c in scorer.calls] == [3, 1]  # only d5 was new
    assert raw2["q1"] == [1.0, 5.0, 3.0] and [d for d, _ in run2["q1"]] == ["d5", "d3", "d1"]


def test_rerank_ties_keep_first_stage_order_through_evaluation() -> None:
    class Flat:  # every pair scores the same
        def predict(self, pairs, **_):
            return np.full(len(pairs), 0.5)

    coll = _collection()  # d0 (grade 2) and d1 (grade 1) are relevant
    first = {"q1": [("d3", 4.0), ("d1", 3.0), ("d0", 2.0), ("d4", 1.0)]}
    run, raw = training.rerank(coll, Flat(), first, k=3, show_progress_bar=False)
    assert [d for d, _ in run["q1"]] == ["d3", "d1", "d0", "d4"] and raw["q1"] == [0.5] * 3
    assert [s for _, s in run["q1"]] == [4.0, 3.0, 2.0, 1.0]  # strictly decreasing: ranx keeps the order
    assert training.ndcg_at_10(coll, run) == pytest.approx(training.ndcg_at_10(coll, first))


def test_ndcg_at_10_is_ranx_over_the_positive_grades() -> None:
    from ranx import Qrels, Run, evaluate

    coll = _collection()
    run = {"q1": [("d5", 3.0), ("d1", 2.0), ("d7", 1.5), ("d0", 1.0)]}  # d5: judged 0, d7: unjudged
    expected = evaluate(Qrels({"q1": {"d0": 2, "d1": 1}}), Run({"q1": dict(run["q1"])}), "ndcg@10")
    assert training.ndcg_at_10(coll, run) == pytest.approx(float(expected)) and expected < 1.0


def test_interpolate_fuses_the_head_and_keeps_the_tail() -> None:
    first = {"q1": [("d3", 3.0), ("d0", 2.0), ("d1", 1.0), ("d4", 0.5)]}
    ce = {"q1": [-2.0, 0.0, 5.0]}  # scores of the top-3: d3, d0, d1
    pure = training.interpolate(first, ce, alpha=1.0, k=3)["q1"]
    assert [d for d, _ in pure] == ["d1", "d0", "d3", "d4"]
    keep = training.interpolate(first, ce, alpha=0.0, k=3)["q1"]
    assert [d for d, _ in keep] == ["d3", "d0", "d1", "d4"]
    mixed = training.interpolate(first, ce, alpha=0.5, k=3)["q1"]
    assert mixed[-1][0] == "d4" and [s for _, s in mixed] == sorted((s for _, s in mixed), reverse=True)


def test_rrf_rankings_fuse_by_reciprocal_rank() -> None:
    a = {"q1": [("d1", 9.0), ("d2", 5.0), ("d3", 1.0)], "q2": [("d4", 1.0)]}
    b = {"q1": [("d3", 0.9), ("d2", 0.8), ("d5", 0.1)], "q2": [("d4", 0.5)]}
    fused = training.rrf_rankings([a, b], k=4)
    # d3 (ranks 3 and 1: 1/63 + 1/61) just beats d2 (ranks 2 and 2: 2/62); d1 and d5 are in one list
    assert [d for d, _ in fused["q1"]] == ["d3", "d2", "d1", "d5"]
    assert [s for _, s in fused["q1"][:2]] == pytest.approx([1 / 63 + 1 / 61, 2 / 62])
    assert [d for d, _ in fused["q2"]] == ["d4"]
    with pytest.raises(ValueError, match="same queries"):
        training.rrf_rankings([a, {"q1": b["q1"]}])


def test_neighbour_pairs_pair_similar_and_random_sentences() -> None:
    sents = ["a", "b", "c", "d"]
    emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pairs = training.neighbour_pairs(sents, emb, neighbours=1, random_partners=1, seed=0)
    assert len(pairs) == 8 and all(x != y for x, y in pairs)
    assert {("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")} <= set(pairs)  # nearest neighbours
    skipped = training.neighbour_pairs(sents, emb, neighbours=1, random_partners=0,
                                       exclude={("a", "b")})
    assert ("a", "b") not in skipped and len(skipped) == 3
    assert len(training.neighbour_pairs(sents, emb, n=5)) == 5
    with pytest.raises(ValueError):
        training.neighbour_pairs(sents, emb[:3])


def test_combined_teacher_labels_follow_the_mix_on_the_gold_scale() -> None:
    class CE:  # score = length difference, order-independent
        def predict(self, pairs, **_):
            return np.array([-abs(len(a) - len(b)) for a, b in pairs], dtype=float)

    class Bi:  # 2-d "embeddings" from the first letter
        def encode(self, texts, **_):
            v = np.array([[1.0, ord(t[0]) - 96.0] for t in texts])
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    gold = [("aa", "aa", 1.0), ("aa", "aaaa", 0.6), ("a", "zzzzzz", 0.0), ("bb", "bbb", 0.8)]
    labels = training.combined_teacher_labels(CE(), Bi(), [("aa", "aa"), ("a", "zzzzzzz"), ("b", "bb")],
                                              gold, weight=0.5)
    assert labels.shape == (3,) and ((labels >= 0) & (labels <= 1)).all()
    assert labels[0] > labels[2] > labels[1]
    with pytest.raises(InvalidInputError):
        training.combined_teacher_labels(CE(), Bi(), [("a", "b")], gold, weight=2.0)


def test_pair_cosines_stand_in_for_the_bi_encoder() -> None:
    class Bi:  # 2-d "embeddings" from the first letter; counts what it is asked to encode
        calls: list[list[str]] = []

        def encode(self, texts, **_):
            self.calls.append(list(texts))
            v = np.array([[1.0, ord(t[0]) - 96.0] for t in texts])
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    bi = Bi()
    pairs = [("a", "b"), ("b", "c"), ("a", "b"), ("c", "a")]
    cos = training.bi_cosines(bi, pairs)
    assert len(bi.calls) == 1 and sorted(bi.calls[0]) == ["a", "b", "c"]  # each text once
    e = bi.encode(["a", "b", "c"])
    assert cos == pytest.approx([e[0] @ e[1], e[1] @ e[2], e[0] @ e[1], e[2] @ e[0]])
    table = training.PairCosines({("a", "b"): 0.5, ("c", "b"): -0.25})
    assert training.bi_cosines(table, [("b", "a"), ("b", "c")]) == pytest.approx([0.5, -0.25])
    with pytest.raises(KeyError, match="no precomputed cosine"):
        table.cosines([("a", "c")])
    gold = [("a", "a", 1.0), ("a", "b", 0.5), ("a", "c", 0.0)]

    class CE:
        def predict(self, ps, **_):
            return np.array([float(a == b) for a, b in ps])

    full = training.PairCosines({(x, y): float(c) for (x, y), c in zip(
        [("a", "a"), ("a", "b"), ("a", "c"), ("b", "b")],
        training.bi_cosines(bi, [("a", "a"), ("a", "b"), ("a", "c"), ("b", "b")]))})
    assert training.combined_teacher_labels(CE(), full, [("b", "b")], gold) == pytest.approx(
        training.combined_teacher_labels(CE(), bi, [("b", "b")], gold))


def test_gpu_bundle_rebuilds_a_pack_and_extracts_the_changed_tensors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file, save_file

    base = _tiny_model_dir(tmp_path / "base")
    monkeypatch.setattr(model_pack, "base_model_path", lambda: base)
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path / "cache"))
    model = training.init_cross_encoder(base, max_length=16)
    training.freeze_layers(model, 0)  # embeddings only: those are what the GPU side lacks
    with torch.no_grad():
        for p in model.model.parameters():
            if p.requires_grad:
                p.add_(0.01)
    model.save_pretrained(str(tmp_path / "trained"))
    packed = model_pack.pack(tmp_path / "trained", tmp_path / "models" / "tiny", {"name": "tiny"})
    # the GPU side: only some embedding rows travel; the pack is rebuilt into the cache
    state = model_pack.base_tensors(base)
    keep = torch.tensor([0, 2, 3, 5, 7])
    rows = {"word_ids": keep, "word_rows": state[gpu.WORD][keep].contiguous()}
    rows.update({k: v for k, v in state.items() if k.startswith("embeddings.") and k != gpu.WORD})
    (tmp_path / "bundle").mkdir()
    save_file(rows, str(tmp_path / "bundle" / gpu.ROWS_FILE),
              metadata={"vocab_size": str(state[gpu.WORD].shape[0])})
    assert gpu.build_packs(tmp_path / "bundle", [packed]) == [model_pack.materialize(packed)]
    frozen = training.init_cross_encoder(base, max_length=16)  # layer 0 omitted: cannot travel
    training.freeze_layers(frozen, 1)
    frozen.save_pretrained(str(tmp_path / "frozen"))
    bad = model_pack.pack(tmp_path / "frozen", tmp_path / "models" / "frozen", {"name": "frozen"})
    with pytest.raises(model_pack.PackError, match="not an embedding tensor"):
        gpu.build_packs(tmp_path / "bundle", [bad])
    built = load_file(str(model_pack.materialize(packed) / model_pack.FULL_WEIGHTS))
    ref = load_file(str(tmp_path / "trained" / model_pack.FULL_WEIGHTS))
    word = next(k for k in built if k.endswith(gpu.WORD))
    assert torch.equal(built[word][keep], ref[word][keep]) and built[word][1].abs().sum() == 0
    for k in ref:
        if k != word:
            assert torch.allclose(built[k], ref[k], atol=1e-3), k  # fp16 in the pack
    # a run on top of it changes the top layer; extract returns exactly that, split by size
    trained = dict(built)
    top = [k for k in built if ".layer.1." in k or "classifier" in k]
    for k in top:
        trained[k] = built[k] + 1
    (tmp_path / "run").mkdir()
    save_file(trained, str(tmp_path / "run" / model_pack.FULL_WEIGHTS))
    out = tmp_path / "back" / "run.safetensors"
    lines = gpu.extract_changed(tmp_path / "run", packed, out, max_mb=0.002)
    assert lines[-1] == f"{len(top)} of {len(trained)} tensors changed"
    files = sorted((tmp_path / "back").iterdir())
    assert len(files) > 1
    got = {k: v for f in files for k, v in load_file(str(f)).items()}
    assert sorted(got) == sorted(top)
    assert all(torch.allclose(got[k].float(), trained[k], atol=1e-2) for k in top)


class _NumberScorer:  # score = the document's number; counts the pairs it is asked to score
    max_seq_length = 512

    def __init__(self) -> None:
        self.scored = 0

    def predict(self, pairs, **_):
        self.scored += len(pairs)
        return np.array([float(doc.split()[-1]) for _, doc in pairs])


def test_held_out_table_has_the_card_columns_and_scores_shared_pairs_once() -> None:
    coll, model = _collection(), _NumberScorer()
    bm25 = {"q1": [("d5", 3.0), ("d0", 2.0), ("d2", 1.0)]}
    dense = {"q1": [("d1", 0.9), ("d0", 0.8), ("d4", 0.7)]}
    table = training.held_out_table(model, coll, bm25, dense, max_length=64, k=2, hybrid=True)
    assert list(table) == [
        "collection", "queries", "k", "eval_max_length", "bm25", "bi_encoder", "bi_encoder_top2_reranked",
        "bi_encoder_top2_interpolated_alpha0.5", "bi_encoder_top2_interpolated_alpha0.7",
        "bm25_bi_encoder_rrf", "bm25_bi_encoder_rrf_top2_reranked",
        "bm25_bi_encoder_rrf_top2_interpolated_alpha0.5", "bm25_bi_encoder_rrf_top2_interpolated_alpha0.7",
        "rerank_wall_time_s"]
    assert table["eval_max_length"] == 64 and model.max_seq_length == 64
    assert model.scored == 2  # the RRF head (d0, d1: ties go by doc id) is the dense head's (d1, d0)
    assert all(0.0 <= v <= 1.0 for v in list(table.values())[4:-1])


def test_measure_throughput_times_one_call_after_a_warm_up() -> None:
    model = _NumberScorer()
    pairs = [("q", f"doc {i}") for i in range(10)]
    r = training.measure_throughput(model, pairs, max_length=32)
    assert model.scored == 20 and model.max_seq_length == 512  # warm-up + timed call; length restored
    assert r["max_length"] == 32 and r["pairs"] == 10 and r["pairs_per_s"] > 0 and r["threads"] >= 1
    coll = _collection()
    assert training.speed_pairs(coll, queries=1, per_query=3) == [
        ("query one", "doc 0. text 0"), ("query one", "doc 1. text 1"), ("query one", "doc 2. text 2")]
