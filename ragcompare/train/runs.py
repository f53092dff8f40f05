"""What each training subcommand does (``python -m ragcompare.train <command>``, see
:mod:`ragcompare.train.cli`). Each takes the parsed, validated arguments; ``a.command`` is the command
line the user ran, recorded in every result and card. Runs write ``results.json`` next to the full
model under ``--work-dir``."""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import torch

from ragcompare.data.beir import load_dataset
from ragcompare.data.pairs import scaled_pairs
from ragcompare.models import pack as model_pack
from ragcompare.models.pack import base_model_path
from ragcompare.train import cards, data, gpu, sts
from ragcompare.train.evaluation import (
    first_stages,
    held_out_table,
    measure_throughput,
    ndcg_at_10,
    speed_pairs,
    sts_combined,
    sts_table,
)
from ragcompare.train.io import bi_encoder, cross_encoder, dump_json, dump_xz, load_xz, read_json
from ragcompare.train.trainer import (
    freeze_layers,
    init_cross_encoder,
    set_seed,
    train_bi_encoder,
    train_cross_encoder,
)
from ragcompare.types import InvalidInputError

log = logging.getLogger("ragcompare.train")


def _hyperparameters(a: argparse.Namespace, *extra: str) -> dict[str, Any]:
    keys = ("epochs", "batch_size", "lr_body", "lr_head", "max_length", "seed", "budget_s")
    return {k: getattr(a, k) for k in keys + extra}


def _init_model(init: str | None, max_length: int, device: str) -> tuple[Any, str]:
    """A cross-encoder to train from ``init`` (a model folder), or from the base with a revived pooler."""
    if not init:
        return init_cross_encoder(base_model_path(), max_length, device=device), "base"
    return cross_encoder(init, max_length, device), str(Path(init).name)


def run_sts(a: argparse.Namespace) -> None:
    """STS cross-encoder: STS-B train (+ SICK train, + silver pairs), BCE on rescaled scores."""
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

    set_seed(a.seed)
    work = Path(a.work_dir) / a.name
    sources = [("stsb", "train")] + ([("sick", "train")] if a.with_sick else [])
    pairs = sts.build_sts_pairs(sources, both_orders=a.both_orders, seed=a.seed)
    dev = scaled_pairs("stsb", "dev")
    prepared = sts.read_prepared(a.prepared) if a.prepared else None
    bi = prepared.cosines if prepared else None  # loaded when first needed, as the model inits follow it
    silver: dict[str, Any] = {}
    if a.silver:
        bi = bi if bi is not None else bi_encoder(a.device)
        teacher, _ = _init_model(a.teacher, a.max_length, a.device)
        extra, silver = sts.silver_pairs(teacher, Path(a.teacher).name, bi, a.silver, a.seed,
                                         a.teacher_weight, prepared, a.prepared)
        log.info("silver pairs: %s", silver)
        pairs += extra
        random.Random(a.seed).shuffle(pairs)
    model, _ = _init_model(a.init, a.max_length, a.device)
    frozen = freeze_layers(model, a.frozen_layers)
    evaluator = CrossEncoderCorrelationEvaluator([[x, y] for x, y, _ in dev], [s for _, _, s in dev],
                                                 name="stsb-dev")
    res = train_cross_encoder(
        model, pairs, work / "trainer", evaluator=evaluator, epochs=a.epochs, batch_size=a.batch_size,
        lr_body=a.lr_body, lr_head=a.lr_head, budget_s=a.budget_s, eval_steps=a.eval_steps, seed=a.seed,
        max_steps=a.max_steps, budget_schedule=a.budget_schedule, device=a.device, progress=True)
    model.save_pretrained(str(work / "full"))
    log.info("trained: %s", res.as_dict())
    t0 = time.monotonic()
    table = sts_table(model, bi if bi is not None else bi_encoder(a.device))
    dump_json(work / "results.json", {
        "name": a.name, "command": a.command, "training": res.as_dict(),
        "train_sources": [f"{n}/{s}" for n, s in sources], "both_orders": a.both_orders,
        "silver": silver, "init": a.init or "base (pooler re-initialised to identity)",
        "frozen_layers": a.frozen_layers, "frozen_params": frozen,
        "hyperparameters": _hyperparameters(a, "max_steps", "budget_schedule", "threads"),
        "device": a.device, "evaluation": table, "eval_wall_time_s": round(time.monotonic() - t0, 1),
        "torch_threads": torch.get_num_threads(),
    })


def run_sts_prepare(a: argparse.Namespace) -> None:
    """Bi-encoder side of STS distillation, computed once (see :func:`ragcompare.train.sts.prepare_sts`)."""
    out = sts.prepare_sts(a.out, bi_encoder(a.device), a.silver, a.seed, a.neighbours, a.random_partners,
                          a.command)
    log.info("wrote %s: %d silver candidates, %d cosines", a.out, len(out["silver_candidates"]),
             len(out["cosines"]))


def reranker_data(a: argparse.Namespace) -> dict[str, Any]:
    """Training pairs (judged queries + mined negatives, optional STS and corpus adaptation) and the
    dev samples of a reranker run; ``--from-data`` reads them from a ``--dump-data`` file."""
    if a.from_data:
        d = load_xz(a.from_data)
        if sorted(d["train_on"]) != sorted(a.train_on) or d["eval_on"] != a.eval_on:
            raise InvalidInputError(f"{a.from_data} was built for --train-on {d['train_on']} --eval-on "
                                    f"{d['eval_on']}, not for this run")
        d["pairs"] = [tuple(p) for p in d["pairs"]]
        return d
    bi = bi_encoder(a.device)
    emb_cache = Path(a.work_dir) / "emb"
    pairs: list[tuple[str, str, float]] = []
    dev_samples: list[dict[str, Any]] = []
    mining: dict[str, Any] = {}
    for cname in a.train_on:
        coll = load_dataset(cname)
        bm, dense, emb = first_stages(coll, bi, emb_cache)
        negs = data.mine_hard_negatives(coll, [bm, dense], n_negatives=a.negatives, depth=a.depth,
                                        doc_emb=emb, duplicate_threshold=a.dup_threshold, seed=a.seed)
        qids = sorted(coll.queries, key=lambda q: (len(q), q))
        random.Random(a.seed).shuffle(qids)
        n_dev = max(1, int(len(qids) * a.dev_fraction))
        dev, train_q = qids[:n_dev], qids[n_dev:]
        pairs += data.build_rerank_pairs(coll, negs, train_q, a.max_positives, a.seed)
        dev_samples += data.rerank_dev_samples(coll, dense, dev, k=a.k)
        mining[cname] = {"train_queries": len(train_q), "dev_queries": len(dev),
                         "negatives_per_query": a.negatives, "depth": a.depth,
                         "dup_threshold": a.dup_threshold,
                         "bm25_dev_ndcg10": round(ndcg_at_10(coll, {q: bm[q] for q in dev}), 4),
                         "bi_dev_ndcg10": round(ndcg_at_10(coll, {q: dense[q] for q in dev}), 4)}
    if a.with_sts:
        pairs += sts.build_sts_pairs([("stsb", "train")], both_orders=False, seed=a.seed)[: a.with_sts]
    adaptation: dict[str, Any] = {}
    if a.adapt_pseudo_queries:
        # unsupervised domain adaptation: the held-out collection's corpus text only (titles as
        # pseudo-queries, labelled by a BM25 + bi-encoder RRF teacher); never its queries or qrels
        target = load_dataset(a.eval_on)
        pseudo = data.title_pseudo_queries(target, a.adapt_pseudo_queries, seed=a.seed)
        temb = data.encode_corpus(target, bi, cache_dir=emb_cache, progress=True)
        pbm = data.bm25_rankings(pseudo, 100)
        pdense = data.dense_rankings(pseudo, bi, temb, 100)
        adapt = data.distillation_pairs(pseudo, pdense, [pbm, pdense], k=a.adapt_k)
        pairs += adapt
        adaptation = {"corpus": a.eval_on, "pseudo_queries": len(pseudo.queries),
                      "candidates_per_query": a.adapt_k, "pairs": len(adapt),
                      "teacher": "RRF(BM25, bi-encoder), min-max scaled per query",
                      "uses_target_queries_or_judgments": False}
        log.info("adaptation pairs: %d from %d title pseudo-queries", len(adapt), len(pseudo.queries))
    random.Random(a.seed).shuffle(pairs)
    return {"train_on": sorted(a.train_on), "eval_on": a.eval_on, "built_by": a.command, "pairs": pairs,
            "dev_samples": dev_samples, "mining": mining, "corpus_adaptation": adaptation}


def _held_out(model: Any, collection: str, max_length: int, k: int, a: argparse.Namespace) -> dict[str, Any]:
    """The held-out table of a freshly trained or imported reranker (bi-encoder on the training device)."""
    coll = load_dataset(collection)
    bm, dense, _ = first_stages(coll, bi_encoder(a.device), Path(a.work_dir) / "emb")
    return held_out_table(model, coll, bm, dense, max_length, k)


def run_reranker(a: argparse.Namespace) -> None:
    """Reranker: train on one collection's judged queries, evaluate on a held-out one."""
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    set_seed(a.seed)
    work = Path(a.work_dir) / a.name
    built = reranker_data(a)
    if a.dump_data:
        dump_xz(a.dump_data, built)
        log.info("wrote %s: %d pairs, %d dev queries", a.dump_data, len(built["pairs"]),
                 len(built["dev_samples"]))
        return
    pairs = built["pairs"]
    log.info("train pairs: %d (%d positive)", len(pairs), sum(p[2] > 0.5 for p in pairs))
    model, init_name = _init_model(a.init, a.max_length, a.device)
    freeze_layers(model, a.frozen_layers)
    evaluator = CrossEncoderRerankingEvaluator(built["dev_samples"], at_k=10, name="dev",
                                               always_rerank_positives=False)
    res = train_cross_encoder(
        model, pairs, work / "trainer", evaluator=evaluator, epochs=a.epochs, batch_size=a.batch_size,
        lr_body=a.lr_body, lr_head=a.lr_head, budget_s=a.budget_s, eval_steps=a.eval_steps, seed=a.seed,
        budget_schedule=True, device=a.device, progress=True)
    model.save_pretrained(str(work / "full"))
    log.info("trained: %s", res.as_dict())
    table = _held_out(model, a.eval_on, a.eval_max_length, a.k, a) if a.held_out else None
    dump_json(work / "results.json", {
        "name": a.name, "command": a.command, "init": init_name,
        "training_collections": sorted(a.train_on), "training": res.as_dict(),
        "train_pairs": len(pairs), "mining": built["mining"], "frozen_layers": a.frozen_layers,
        "with_sts_pairs": a.with_sts, "corpus_adaptation": built["corpus_adaptation"],
        "data_built_by": built["built_by"] if a.from_data else None,
        "hyperparameters": _hyperparameters(a, "max_positives", "negatives", "k"),
        "eval_on": a.eval_on, "eval_max_length": a.eval_max_length, "device": a.device,
        "held_out": table, "torch_threads": torch.get_num_threads(),
    })


def run_import_trained(a: argparse.Namespace) -> None:
    """Adopt a model trained elsewhere (e.g. on a GPU machine): the trained tensors it returned go on
    top of ``--init`` (:func:`ragcompare.train.gpu.adopt_trained`); the evaluation is redone here, on the
    fp16 weights that will ship, and written with the run's results.json into ``--work``."""
    work = Path(a.work)
    res = read_json(a.results)
    n = gpu.adopt_trained(a.trained, a.init, work / "full")
    log.info("%d trained tensors from %s", n, a.trained)
    is_sts = "evaluation" in res
    max_length = res["hyperparameters"]["max_length"] if is_sts else 512
    model, _ = _init_model(str(work / "full"), max_length, a.device)
    res["trained_elsewhere"] = {"trained_tensors": n, "on_top_of": str(a.init),
                                "evaluated_here_by": a.command}
    if is_sts:  # redo the table on the shipped (fp16) weights
        res["evaluation_on_training_device"] = res["evaluation"]
        res["evaluation"] = sts_table(model, bi_encoder(a.device))
    else:
        res["held_out"] = _held_out(model, res["eval_on"], res["eval_max_length"],
                                    res["hyperparameters"]["k"], a)
    dump_json(work / "results.json", res)


def run_bi_encoder(a: argparse.Namespace) -> None:
    """Bi-encoder MNRL fine-tune with and without mined hard negatives (quick)."""
    work = Path(a.work_dir) / "bi-encoder"
    base = bi_encoder("cpu")
    base.max_seq_length = a.max_length
    coll = load_dataset(a.train_on)
    bm, dense, emb = first_stages(coll, base, Path(a.work_dir) / "emb")
    negs = data.mine_hard_negatives(coll, [bm, dense], n_negatives=4, depth=30, doc_emb=emb, seed=a.seed)
    ev = load_dataset(a.eval_on)
    out: dict[str, Any] = {"command": a.command, "train_on": a.train_on, "eval_on": a.eval_on,
                           "max_length": a.max_length}
    _, d0, _ = first_stages(ev, base, Path(a.work_dir) / "emb")
    out["base_ndcg10"] = round(ndcg_at_10(ev, d0), 4)
    for variant, n in (("in_batch", None), ("hard_negatives", negs)):
        model = bi_encoder("cpu")
        model.max_seq_length = a.max_length
        res = train_bi_encoder(model, coll, n, work / variant, epochs=a.epochs, batch_size=a.batch_size,
                               budget_s=a.budget_s, seed=a.seed, device=a.device, progress=True)
        e = data.encode_corpus(ev, model, progress=True)
        out[variant] = {"training": res.as_dict(),
                        "ndcg10": round(ndcg_at_10(ev, data.dense_rankings(ev, model, e)), 4)}
        log.info("%s: %s", variant, out[variant])
    dump_json(work / "results.json", out)


def run_evaluate(a: argparse.Namespace) -> None:
    """Re-evaluate a shipped reranker on its held-out collection at several max_lengths; print the
    tables, and store them in its card only with ``--write-card``."""
    card = model_pack.read_card(a.model)
    coll = load_dataset(card["held_out_collections"][0])
    bm, dense, _ = first_stages(coll, bi_encoder("cpu"))
    model, _ = _init_model(a.model, max(a.max_lengths), a.device)
    tables = [held_out_table(model, coll, bm, dense, ml, a.k, hybrid=True) for ml in a.max_lengths]
    print(json.dumps(tables, indent=2))
    if a.write_card:
        cards.add_max_length_tables(card, tables, a.command)
        model_pack.write_card(a.model, card)
        log.info("updated %s", Path(a.model) / model_pack.CARD)


def run_sts_eval(a: argparse.Namespace) -> None:
    """STS cross-encoder vs bi-encoder cosine, and both combined (weight fitted on STS-B dev)."""
    bi = bi_encoder("cpu")
    model, _ = _init_model(a.model, a.max_length, a.device)
    result = {"command": a.command, "max_length": a.max_length, **sts_combined(model, bi)}
    print(json.dumps(result, indent=2))
    if a.write_card:
        card = model_pack.read_card(a.model)
        cards.add_combined_table(card, result)
        model_pack.write_card(a.model, card)
        log.info("updated %s", Path(a.model) / model_pack.CARD)


def run_speed(a: argparse.Namespace) -> None:
    """Cross-encoder inference pairs/s at several max_lengths on held-out query/doc pairs."""
    pairs = speed_pairs(load_dataset(a.collection), a.queries, a.per_query)
    model = cross_encoder(a.model, max_length=None, device="cpu")
    out = [measure_throughput(model, pairs, ml) for ml in a.max_lengths]
    for r in out:
        log.info("speed: %s", r)
    dump_json(Path(a.work_dir) / "speed.json", {"command": a.command, "model": str(a.model),
                                               "collection": a.collection, "results": out})


def run_pack(a: argparse.Namespace) -> None:
    """Pack a full model folder with its card."""
    out = model_pack.pack(a.full, a.out, read_json(a.card), base=a.base)
    log.info("packed %s: %.2f MB", out, model_pack.packed_size_bytes(out) / 1e6)


def run_ship(a: argparse.Namespace) -> None:
    """Build the card from results.json, pack into ``--out``, verify the reload in a fresh process."""
    cards.ship(a.work, a.out, base=a.base, default=a.default, extra=read_json(a.extra) if a.extra else None)
