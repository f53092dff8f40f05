"""Train cross-encoders (STS and reranking) and small bi-encoder fine-tunes offline.

Everything here uses sentence-transformers' trainers and losses (``CrossEncoderTrainer``,
``SentenceTransformerTrainer``); there is no hand-written training loop. The helpers cover:

* loading the pair sets (STS-B, SICK) and the judged collections (cranfield, cisi),
* first-stage rankings (BM25 via ``bm25s``, the all-MiniLM-L6-v2 bi-encoder) and hard-negative
  mining that skips judged-relevant documents and near-duplicates of positives,
* a wall-time budget callback, fixed seeds, evaluation during training,
* held-out evaluation (nDCG@10 via ``ranx``) and a throughput measurement.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers import set_seed as hf_set_seed

from ragcompare.data.pairs import scaled_pairs as load_pairs  # noqa: F401 (used by scripts/train.py)
from ragcompare.eval.sts import spearman
from ragcompare.models.pack import base_model_path  # noqa: F401 (used by scripts/train.py)
from ragcompare.settings import data_dir, train_device

logger = logging.getLogger(__name__)

COLLECTIONS = ("cranfield", "cisi")


# --------------------------------------------------------------------------------------------
# Paths, seeds
# --------------------------------------------------------------------------------------------


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (via transformers.set_seed)."""
    random.seed(seed)
    np.random.seed(seed)
    hf_set_seed(seed)


# --------------------------------------------------------------------------------------------
# Data loading
# --------------------------------------------------------------------------------------------


@dataclass
class Collection:
    """A judged retrieval collection (BEIR layout)."""

    name: str
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    doc_ids: list[str] = field(default_factory=list)

    def doc_text(self, doc_id: str) -> str:
        """Title and text joined, as fed to the encoders."""
        doc = self.corpus[doc_id]
        title, text = doc.get("title", "").strip(), doc.get("text", "").strip()
        return f"{title}. {text}" if title else text


def _read_beir(path: Path, name: str) -> Collection:
    corpus: dict[str, dict[str, str]] = {}
    with open(path / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            corpus[str(row["_id"])] = {"title": row.get("title", ""), "text": row.get("text", "")}
    queries: dict[str, str] = {}
    with open(path / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(path / "qrels" / "test.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")[:3]
            qrels.setdefault(qid, {})[did] = int(float(score))
    return Collection(name, corpus, queries, qrels)


def load_collection(name: str) -> Collection:
    """Load a judged collection, through ``ragcompare.data.beir`` when it is available."""
    try:
        from ragcompare.data.beir import load_dataset  # type: ignore[import-not-found]

        ds = load_dataset(name)
        corpus = {
            str(k): {"title": v.get("title", ""), "text": v.get("text", "")}
            for k, v in ds.corpus.items()
        }
        queries = {str(k): str(v) for k, v in ds.queries.items()}
        qrels = {str(q): {str(d): int(s) for d, s in r.items()} for q, r in ds.qrels.items()}
        coll = Collection(name, corpus, queries, qrels)
    except (ImportError, AttributeError, TypeError, KeyError, FileNotFoundError):
        coll = _read_beir(data_dir() / name, name)
    coll.doc_ids = list(coll.corpus)
    # keep only judged queries that have at least one relevant document
    coll.queries = {q: t for q, t in coll.queries.items() if any(coll.qrels.get(q, {}).values())}
    return coll


def split_queries(coll: Collection, test_fraction: float = 0.33, seed: int = 12
                  ) -> tuple[list[str], list[str]]:
    """Split the judged queries into (train, test) query ids, reproducibly.

    A query split keeps the corpus and the judging style shared between train and test: it
    measures *in-domain* generalisation to new queries, not transfer to a new collection.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    qids = sorted(coll.queries)
    if len(qids) < 2:
        raise ValueError(f"{coll.name}: need at least 2 judged queries to split, got {len(qids)}")
    random.Random(seed).shuffle(qids)
    n_test = min(len(qids) - 1, max(1, round(len(qids) * test_fraction)))
    return sorted(qids[n_test:]), sorted(qids[:n_test])


def subset(coll: Collection, qids: Iterable[str]) -> Collection:
    """The same collection restricted to some queries (corpus shared, qrels of those queries)."""
    qids = list(qids)
    keep = [q for q in qids if q in coll.queries]
    missing = set(qids) - set(keep)
    if missing:
        raise KeyError(f"{coll.name}: unknown query ids {sorted(missing)[:5]}")
    return Collection(f"{coll.name}[{len(keep)} queries]", coll.corpus,
                      {q: coll.queries[q] for q in keep},
                      {q: coll.qrels.get(q, {}) for q in keep}, list(coll.doc_ids))


def loss_curve(log_history: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Training-loss points ``[{"step", "epoch", "loss"}]`` from a trainer's log history."""
    return [{"step": float(h["step"]), "epoch": float(h.get("epoch", float("nan"))),
             "loss": float(h["loss"])} for h in log_history if "loss" in h and "step" in h]


# --------------------------------------------------------------------------------------------
# Wall-time budget
# --------------------------------------------------------------------------------------------


class BudgetLinearSchedule:
    """Linear warm-up/decay whose horizon (``total``) can be re-estimated during training.

    Used with :class:`WallTimeBudgetCallback`, the decay is stretched or shrunk so that it ends
    when the wall-time budget runs out (at most at the planned step count).
    """

    def __init__(self, planned_steps: int, warmup_steps: int) -> None:
        self.planned = max(1, planned_steps)
        self.total = self.planned
        self.warmup = warmup_steps

    def __call__(self, step: int) -> float:
        """LR multiplier at ``step``."""
        if step < self.warmup:
            return (step + 1) / max(1, self.warmup)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


class WallTimeBudgetCallback(TrainerCallback):
    """Stop training once ``budget_s`` seconds of wall time have passed since ``on_train_begin``.

    With a :class:`BudgetLinearSchedule`, the schedule's horizon is re-estimated from the
    measured seconds per step (every step after ``calibrate_after``) so the LR reaches zero at
    the budget; training then stops at that horizon.
    """

    def __init__(self, budget_s: float, schedule: BudgetLinearSchedule | None = None,
                 calibrate_after: int = 10) -> None:
        self.budget_s = float(budget_s)
        self.schedule = schedule
        self.calibrate_after = calibrate_after
        self.start: float | None = None
        self.stopped_early = False
        self.elapsed_s = 0.0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Start the clock."""
        self.start = time.monotonic()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Re-estimate the schedule horizon; ask the trainer to stop once the budget is spent."""
        if self.start is None:
            self.start = time.monotonic()
        self.elapsed_s = time.monotonic() - self.start
        step = state.global_step
        sch = self.schedule
        if sch is not None and step >= self.calibrate_after and step < sch.total:
            per_step = self.elapsed_s / step
            est = step + int((self.budget_s - self.elapsed_s) / per_step)
            sch.total = max(step + 1, min(sch.planned, est))
        over_budget = self.elapsed_s >= self.budget_s
        at_horizon = sch is not None and step >= sch.total and sch.total < sch.planned
        if (over_budget or at_horizon) and not control.should_training_stop:
            logger.warning("wall-time budget %.0fs: stopping at step %d (%.0fs elapsed)",
                           self.budget_s, step, self.elapsed_s)
            self.stopped_early = True
            control.should_training_stop = True
            control.should_save = False


# --------------------------------------------------------------------------------------------
# First stage + hard negatives
# --------------------------------------------------------------------------------------------


def bm25_rankings(coll: Collection, k: int = 100) -> dict[str, list[tuple[str, float]]]:
    """Rank every query's top-k documents with BM25 (bm25s, English stopwords, Snowball stems)."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    docs = [coll.doc_text(d) for d in coll.doc_ids]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    qids = list(coll.queries)
    qtok = bm25s.tokenize([coll.queries[q] for q in qids], stopwords="en", stemmer=stemmer,
                          show_progress=False)
    k = min(k, len(docs))
    idx, scores = retriever.retrieve(qtok, k=k, show_progress=False)
    return {
        q: [(coll.doc_ids[int(i)], float(s)) for i, s in zip(idx[n], scores[n], strict=True)]
        for n, q in enumerate(qids)
    }


def encode_corpus(
    coll: Collection, model: Any, cache_dir: Path | None = None, batch_size: int = 32
) -> np.ndarray:
    """Encode all documents with a SentenceTransformer (normalised), cached on disk if asked."""
    cache = None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        msl = getattr(model, "max_seq_length", 0)
        cache = cache_dir / f"{coll.name}-docs-{len(coll.doc_ids)}-len{msl}.npy"
        if cache.exists():
            return np.load(cache)
    emb = model.encode(
        [coll.doc_text(d) for d in coll.doc_ids],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=True,
    )
    if cache is not None:
        np.save(cache, emb)
    return emb


def rrf_rankings(
    runs: Sequence[dict[str, list[tuple[str, float]]]], k: int = 100
) -> dict[str, list[tuple[str, float]]]:
    """Reciprocal-rank fusion (ranx, k=60) of several rankings of the same queries, top-k kept."""
    from ragcompare.retrieval.fusion import fuse_hits
    from ragcompare.types import Hit

    qids = list(runs[0])
    if any(set(r) != set(qids) for r in runs[1:]):
        raise ValueError("every ranking must cover the same queries")
    fused = fuse_hits([[[Hit(d, s) for d, s in r[q]] for q in qids] for r in runs], k=k,
                      method="rrf")
    return {q: [(h.doc_id, h.score) for h in row] for q, row in zip(qids, fused, strict=True)}


def dense_rankings(
    coll: Collection, model: Any, doc_emb: np.ndarray, k: int = 100
) -> dict[str, list[tuple[str, float]]]:
    """Rank every query's top-k documents by cosine with the bi-encoder."""
    qids = list(coll.queries)
    qemb = model.encode([coll.queries[q] for q in qids], normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)
    sims = qemb @ doc_emb.T
    k = min(k, doc_emb.shape[0])
    out: dict[str, list[tuple[str, float]]] = {}
    for n, q in enumerate(qids):
        top = np.argsort(-sims[n])[:k]
        out[q] = [(coll.doc_ids[int(i)], float(sims[n, i])) for i in top]
    return out


def mine_hard_negatives(
    coll: Collection,
    rankings: Sequence[dict[str, list[tuple[str, float]]]],
    n_negatives: int = 8,
    depth: int = 30,
    skip_top: int = 0,
    doc_emb: np.ndarray | None = None,
    duplicate_threshold: float = 0.93,
    seed: int = 12,
) -> dict[str, list[str]]:
    """Pick hard negatives per query from the first-stage rankings.

    Candidates are the ranks ``skip_top..depth`` of every ranking (interleaved); documents judged
    relevant (any grade > 0) are never negatives, and with ``doc_emb`` given, neither is any
    document whose cosine to one of the query's positives is >= ``duplicate_threshold``
    (likely false negatives / near-duplicates). Returns ``qid -> [doc_id, ...]``.
    """
    rng = random.Random(seed)
    index = {d: i for i, d in enumerate(coll.doc_ids)}
    out: dict[str, list[str]] = {}
    for qid in coll.queries:
        judged = coll.qrels.get(qid, {})
        positives = [d for d, g in judged.items() if g > 0 and d in index]
        pos_emb = None
        if doc_emb is not None and positives:
            pos_emb = doc_emb[[index[d] for d in positives]]
        seen: set[str] = set()
        pool: list[str] = []
        lists = [r.get(qid, [])[skip_top:depth] for r in rankings]
        for rank in range(max((len(x) for x in lists), default=0)):
            for lst in lists:
                if rank >= len(lst):
                    continue
                did = lst[rank][0]
                if did in seen:
                    continue
                seen.add(did)
                if judged.get(did, 0) > 0:
                    continue
                if pos_emb is not None and did in index:
                    if float(np.max(pos_emb @ doc_emb[index[did]])) >= duplicate_threshold:
                        continue
                pool.append(did)
        # keep the hardest half deterministic, sample the rest for diversity
        head = pool[: n_negatives // 2]
        tail = pool[n_negatives // 2 :]
        rng.shuffle(tail)
        out[qid] = head + tail[: n_negatives - len(head)]
    return out


def build_rerank_pairs(
    coll: Collection,
    negatives: dict[str, list[str]],
    qids: Iterable[str] | None = None,
    max_positives: int = 8,
    seed: int = 12,
) -> list[tuple[str, str, float]]:
    """(query, document, label) pairs: up to ``max_positives`` judged positives + the negatives."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str, float]] = []
    for qid in qids if qids is not None else coll.queries:
        judged = coll.qrels.get(qid, {})
        pos = sorted((d for d, g in judged.items() if g > 0 and d in coll.corpus),
                     key=lambda d: (-judged[d], d))
        # highest grades first, then random among the rest
        top, rest = pos[: max_positives // 2], pos[max_positives // 2 :]
        rng.shuffle(rest)
        pos = top + rest[: max_positives - len(top)]
        q = coll.queries[qid]
        pairs += [(q, coll.doc_text(d), 1.0) for d in pos]
        pairs += [(q, coll.doc_text(d), 0.0) for d in negatives.get(qid, [])]
    rng.shuffle(pairs)
    return pairs


def title_pseudo_queries(coll: Collection, n: int, seed: int = 12, min_words: int = 3) -> Collection:
    """Up to ``n`` pseudo-queries made from document titles: corpus text only, no queries or judgments.

    Query ids are ``"pq-<doc id>"`` so the source document can be recognised (and excluded) later.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    docs = [d for d in coll.doc_ids if len(coll.corpus[d].get("title", "").split()) >= min_words]
    random.Random(seed).shuffle(docs)
    queries = {f"pq-{d}": coll.corpus[d]["title"].strip() for d in docs[:n]}
    return Collection(f"{coll.name}-title-queries", coll.corpus, queries, {}, list(coll.doc_ids))


def distillation_pairs(
    pseudo: Collection,
    candidates: dict[str, list[tuple[str, float]]],
    teachers: Sequence[dict[str, list[tuple[str, float]]]],
    k: int = 12,
    rrf_k: int = 60,
) -> list[tuple[str, str, float]]:
    """(pseudo-query, candidate, soft label) pairs labelled by a rank-fusion teacher.

    For each pseudo-query the candidates are ``candidates``' top ``k`` without the source document
    (the one the title came from); the teacher score is reciprocal-rank fusion over ``teachers``
    (e.g. BM25 and the bi-encoder), min-max scaled to [0, 1] per query. The student learns the
    teacher's ordering of exactly the kind of list it will rerank, on the target corpus's own text.
    """
    pairs: list[tuple[str, str, float]] = []
    for q, text in pseudo.queries.items():
        source = q[3:] if q.startswith("pq-") else None
        cands = [d for d, _ in candidates.get(q, []) if d != source][:k]
        if len(cands) < 2:
            continue
        fused = np.zeros(len(cands))
        for run in teachers:
            ranks = {d: r + 1 for r, (d, _) in enumerate(run.get(q, []))}
            missing = len(run.get(q, [])) + 1
            fused += [1.0 / (rrf_k + ranks.get(d, missing)) for d in cands]
        span = fused.max() - fused.min()
        labels = (fused - fused.min()) / span if span > 0 else np.full(len(cands), 0.5)
        pairs += [(text, pseudo.doc_text(d), float(y)) for d, y in zip(cands, labels, strict=True)]
    return pairs


def build_sts_pairs(
    sources: Sequence[tuple[str, str]], both_orders: bool = True, seed: int = 12
) -> list[tuple[str, str, float]]:
    """Concatenate pair sets (``[(name, split), ...]``), optionally adding the swapped order."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str, float]] = []
    for name, split in sources:
        for a, b, s in load_pairs(name, split):
            pairs.append((a, b, s))
            if both_orders:
                pairs.append((b, a, s))
    rng.shuffle(pairs)
    return pairs


def neighbour_pairs(
    sentences: Sequence[str], embeddings: np.ndarray, neighbours: int = 2, random_partners: int = 1,
    exclude: Iterable[tuple[str, str]] = (), n: int | None = None, seed: int = 12,
) -> list[tuple[str, str]]:
    """Unlabelled sentence pairs for silver labelling (Augmented SBERT's sampling).

    Each sentence is paired with its ``neighbours`` nearest other sentences by cosine of the
    (normalised) ``embeddings`` and with ``random_partners`` random ones, so both similar and
    dissimilar pairs appear. Pairs in ``exclude`` (e.g. the gold pairs) are skipped; the result is
    shuffled and cut to ``n``.
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(sentences) or len(sentences) < 2:
        raise ValueError("need >= 2 sentences and one embedding row per sentence")
    skip = set(exclude)
    rng = random.Random(seed)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    out: list[tuple[str, str]] = []
    for i, sent in enumerate(sentences):
        for j in np.argsort(-sims[i])[:neighbours]:
            if (sent, sentences[int(j)]) not in skip:
                out.append((sent, sentences[int(j)]))
        for _ in range(random_partners):
            j = rng.randrange(len(sentences) - 1)
            j += j >= i  # never the sentence itself
            out.append((sent, sentences[j]))
    rng.shuffle(out)
    return out[:n] if n is not None else out


class PairCosines:
    """Precomputed bi-encoder cosines of sentence pairs, usable wherever a bi-encoder is asked for
    pair cosines (:func:`bi_cosines`): lets the cross-encoder side run where the bi-encoder is not
    installed (e.g. a GPU machine), with the cosines computed here beforehand."""

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = dict(table)

    def cosines(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Cosines of ``pairs`` (either order); KeyError names the first missing pair."""
        out = np.empty(len(pairs), dtype=np.float32)
        for i, (a, b) in enumerate(pairs):
            v = self.table.get((a, b), self.table.get((b, a)))
            if v is None:
                raise KeyError(f"no precomputed cosine for the pair {(a[:40], b[:40])!r}")
            out[i] = v
        return out


def bi_cosines(bi_encoder: Any, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Cosine of the normalised bi-encoder embeddings of each pair (or a :class:`PairCosines` lookup)."""
    if isinstance(bi_encoder, PairCosines):
        return bi_encoder.cosines(pairs)
    texts = sorted({t for p in pairs for t in p})  # each distinct sentence encoded once
    emb = bi_encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    row = {t: i for i, t in enumerate(texts)}
    return np.einsum("ij,ij->i", emb[[row[a] for a, _ in pairs]], emb[[row[b] for _, b in pairs]])


def combined_teacher_labels(
    cross_encoder: Any, bi_encoder: Any, pairs: Sequence[tuple[str, str]],
    gold: Sequence[tuple[str, str, float]], weight: float = 0.45, batch_size: int = 64,
) -> np.ndarray:
    """Silver labels in [0, 1] from ``weight * z(CE) + (1 - weight) * z(bi-encoder cosine)``.

    The cross-encoder score is the mean over both pair orders. z-scores use the mean/std of the
    ``gold`` pairs' scores, and a linear fit on those gold pairs maps the mix to the label scale.
    """
    from ragcompare.types import check_alpha

    weight = check_alpha(weight)

    def scores(ps: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        ce = (np.asarray(cross_encoder.predict(list(ps), batch_size=batch_size, show_progress_bar=False))
              + np.asarray(cross_encoder.predict([(b, a) for a, b in ps], batch_size=batch_size,
                                                 show_progress_bar=False))) / 2
        return ce, bi_cosines(bi_encoder, ps)

    gc, gb = scores([(a, b) for a, b, _ in gold])
    stats = (gc.mean(), gc.std(), gb.mean(), gb.std())
    if min(stats[1], stats[3]) == 0:
        raise ValueError("constant teacher scores on the gold pairs")

    def mix(c: np.ndarray, b: np.ndarray) -> np.ndarray:
        return weight * (c - stats[0]) / stats[1] + (1 - weight) * (b - stats[2]) / stats[3]

    slope, intercept = np.polyfit(mix(gc, gb), [g for _, _, g in gold], 1)
    return np.clip(slope * mix(*scores(pairs)) + intercept, 0.0, 1.0)


def pairs_to_dataset(pairs: Sequence[tuple[str, str, float]]) -> Any:
    """Turn (text1, text2, label) tuples into a ``datasets.Dataset``."""
    from datasets import Dataset

    return Dataset.from_dict({
        "sentence1": [p[0] for p in pairs],
        "sentence2": [p[1] for p in pairs],
        "label": [float(p[2]) for p in pairs],
    })


# --------------------------------------------------------------------------------------------
# Cross-encoder construction and training
# --------------------------------------------------------------------------------------------


def init_cross_encoder(
    model_path: str | Path, max_length: int = 256, revive_pooler: bool = True
) -> Any:
    """Build a 1-label CrossEncoder from a BERT folder.

    With ``revive_pooler`` the BERT pooler is reset to identity weight / zero bias: the
    all-MiniLM-L6-v2 pooler is nearly dead (it was trained with mean pooling), which keeps a fresh
    classification head from learning.
    """
    from sentence_transformers.cross_encoder import CrossEncoder

    model = CrossEncoder(str(model_path), num_labels=1, max_length=max_length, device=train_device(),
                         local_files_only=True)
    hf = model.model
    if revive_pooler:
        dense = hf.base_model.pooler.dense
        with torch.no_grad():
            dense.weight.copy_(torch.eye(dense.weight.shape[0]))
            dense.bias.zero_()
    return model


def freeze_layers(model: Any, n_frozen_layers: int = 0) -> list[str]:
    """Freeze the embeddings (always) and the first ``n_frozen_layers`` encoder layers.

    Frozen tensors stay bit-identical to the initial weights, which lets ``model_pack`` ship only
    the trained ones. Returns the frozen parameter names.
    """
    frozen: list[str] = []
    base = model.model.base_model
    for name, p in base.embeddings.named_parameters():
        p.requires_grad_(False)
        frozen.append(f"embeddings.{name}")
    for i in range(n_frozen_layers):
        for name, p in base.encoder.layer[i].named_parameters():
            p.requires_grad_(False)
            frozen.append(f"encoder.layer.{i}.{name}")
    return frozen


def make_optimizer(
    model: Any, lr_body: float, lr_head: float, total_steps: int, warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR, BudgetLinearSchedule]:
    """AdamW with two groups (encoder vs pooler+classifier) and linear warm-up/decay."""
    head, body = [], []
    for name, p in model.model.named_parameters():
        if not p.requires_grad:
            continue
        (head if ("pooler" in name or "classifier" in name) else body).append(p)
    opt = torch.optim.AdamW(
        [{"params": body, "lr": lr_body}, {"params": head, "lr": lr_head}],
        weight_decay=weight_decay,
    )
    schedule = BudgetLinearSchedule(total_steps, int(warmup_ratio * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    return opt, sched, schedule


@dataclass
class TrainResult:
    """What a training run did."""

    steps: int
    planned_steps: int
    epochs_done: float
    train_pairs: int
    wall_time_s: float
    stopped_by_budget: bool
    log_history: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (log history kept short)."""
        return {
            "steps": self.steps,
            "planned_steps": self.planned_steps,
            "epochs_done": round(self.epochs_done, 3),
            "train_pairs": self.train_pairs,
            "wall_time_s": round(self.wall_time_s, 1),
            "stopped_by_budget": self.stopped_by_budget,
            "eval_history": [h for h in self.log_history if any(k.startswith("eval_") for k in h)],
        }


def train_cross_encoder(
    model: Any,
    train_pairs: Sequence[tuple[str, str, float]],
    output_dir: str | Path,
    evaluator: Any = None,
    epochs: float = 1.0,
    batch_size: int = 16,
    lr_body: float = 4e-5,
    lr_head: float = 1e-3,
    warmup_ratio: float = 0.1,
    budget_s: float = 900.0,
    eval_steps: int = 200,
    seed: int = 12,
    max_steps: int | None = None,
    budget_schedule: bool = False,
    logging_steps: int | None = None,
) -> TrainResult:
    """Train with ``CrossEncoderTrainer`` + ``BinaryCrossEntropyLoss`` (soft labels allowed).

    ``max_steps`` caps the planned steps. The ``WallTimeBudgetCallback`` stops training after
    ``budget_s``; with ``budget_schedule`` the linear decay is re-fitted to end at the budget
    (step count then depends on machine speed, and is recorded).
    """
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    set_seed(seed)
    ds = pairs_to_dataset(train_pairs)
    steps_per_epoch = math.ceil(len(ds) / batch_size)
    planned = int(math.ceil(steps_per_epoch * epochs))
    if max_steps is not None:
        planned = min(planned, max_steps)
    opt, sched, schedule = make_optimizer(model, lr_body, lr_head, planned, warmup_ratio)
    budget_cb = WallTimeBudgetCallback(budget_s, schedule if budget_schedule else None)
    args = CrossEncoderTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=math.ceil(epochs),
        max_steps=planned,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        seed=seed,
        data_seed=seed,
        logging_steps=logging_steps or max(1, min(50, eval_steps)),
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=eval_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=train_device() == "cpu",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        loss=BinaryCrossEntropyLoss(model),
        evaluator=evaluator,
        callbacks=[budget_cb],
        optimizers=(opt, sched),
    )
    t0 = time.monotonic()
    trainer.train()
    wall = time.monotonic() - t0
    steps = trainer.state.global_step
    return TrainResult(
        steps=steps,
        planned_steps=planned,
        epochs_done=steps / steps_per_epoch,
        train_pairs=len(ds),
        wall_time_s=wall,
        stopped_by_budget=budget_cb.stopped_early,
        log_history=list(trainer.state.log_history),
    )


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def cross_encoder_sts(model: Any, pairs: Sequence[tuple[str, str, float]],
                      batch_size: int = 64) -> float:
    """Spearman of cross-encoder scores vs gold on a pair set."""
    scores = model.predict([(a, b) for a, b, _ in pairs], batch_size=batch_size,
                           show_progress_bar=False)
    return spearman(scores, [s for _, _, s in pairs])


def bi_encoder_sts(model: Any, pairs: Sequence[tuple[str, str, float]]) -> float:
    """Spearman of bi-encoder cosine (or :class:`PairCosines`) vs gold on a pair set."""
    return spearman(bi_cosines(model, [(a, b) for a, b, _ in pairs]), [s for _, _, s in pairs])


def ndcg_at_10(coll: Collection, run: dict[str, list[tuple[str, float]]]) -> float:
    """nDCG@10 with ranx (graded qrels as given), over the judged queries present in ``run``."""
    from ranx import Qrels, Run, evaluate

    qids = [q for q in coll.queries if q in run]
    qrels = Qrels({q: {d: int(g) for d, g in coll.qrels[q].items() if g > 0} for q in qids})
    r = Run({q: {d: float(s) for d, s in run[q]} for q in qids})
    return float(evaluate(qrels, r, "ndcg@10"))


def rerank(
    coll: Collection,
    model: Any,
    first_stage: dict[str, list[tuple[str, float]]],
    k: int = 20,
    batch_size: int = 32,
    show_progress_bar: bool = True,
    memo: dict[tuple[str, str], float] | None = None,
) -> tuple[dict[str, list[tuple[str, float]]], dict[str, list[float]]]:
    """Rerank each query's top-k with a cross-encoder; ranks below k keep first-stage order.

    Returns the reranked run and the raw cross-encoder scores per query (top-k order). ``memo``
    (query id, doc id) -> score is read and filled, so reranking several first stages of the same
    queries scores each pair once.
    """
    qids = list(first_stage)
    memo = {} if memo is None else memo
    todo = list(dict.fromkeys((q, d) for q in qids for d, _ in first_stage[q][:k]
                              if (q, d) not in memo))
    if todo:
        scores = model.predict([(coll.queries[q], coll.doc_text(d)) for q, d in todo],
                               batch_size=batch_size, show_progress_bar=show_progress_bar)
        memo.update({pair: float(x) for pair, x in zip(todo, scores, strict=True)})
    out: dict[str, list[tuple[str, float]]] = {}
    raw: dict[str, list[float]] = {}
    for q in qids:
        top = first_stage[q][:k]
        s = [memo[(q, d)] for d, _ in top]
        raw[q] = s
        ranked = sorted(zip([d for d, _ in top], s, strict=True), key=lambda x: -x[1])
        n = len(ranked)
        # map onto descending pseudo-scores so ranx keeps exactly this order
        merged = [(d, float(2 * len(first_stage[q]) - i)) for i, (d, _) in enumerate(ranked)]
        merged += [(d, float(len(first_stage[q]) - i)) for i, (d, _) in
                   enumerate(first_stage[q][n:])]
        out[q] = merged
    return out, raw


def interpolate(
    first_stage: dict[str, list[tuple[str, float]]],
    ce_scores: dict[str, list[float]],
    alpha: float,
    k: int = 20,
) -> dict[str, list[tuple[str, float]]]:
    """Optional score fusion: ``alpha * z(CE) + (1 - alpha) * z(first stage)`` within the top-k.

    Scores are z-normalised per query (:func:`ragcompare.retrieval.fusion.interpolate_hits`). Ranks below k
    keep first-stage order. Documented option, reported separately from pure reranking.
    """
    from ragcompare.rerank.head import interpolate_hits
    from ragcompare.types import Hit

    qids = list(first_stage)
    heads = [[Hit(d, float(s)) for d, s in first_stage[q][:k]] for q in qids]
    ce = [[Hit(h.doc_id, float(c)) for h, c in zip(head, ce_scores[q])] for q, head in zip(qids, heads)]
    out: dict[str, list[tuple[str, float]]] = {}
    for q, fused in zip(qids, interpolate_hits(heads, ce, alpha)):
        lst = first_stage[q]
        merged = [(h.doc_id, float(2 * len(lst) - r)) for r, h in enumerate(fused)]
        merged += [(d, float(len(lst) - i)) for i, (d, _) in enumerate(lst[len(fused):])]
        out[q] = merged
    return out


def reranking_table(
    coll: Collection,
    first_stages: dict[str, dict[str, list[tuple[str, float]]]],
    rerankers: dict[str, Any],
    rerank_over: str,
    k: int = 20,
    show_progress_bar: bool = False,
) -> list[dict[str, Any]]:
    """nDCG@10 of each first stage and of each cross-encoder reranking ``rerank_over``'s top-k.

    Rows ``{"collection", "ranking", "ndcg@10"}``; ranks below k keep the first-stage order.
    """
    if rerank_over not in first_stages:
        raise KeyError(f"rerank_over={rerank_over!r} is not one of {sorted(first_stages)}")
    rows = [{"collection": coll.name, "ranking": name, "ndcg@10": ndcg_at_10(coll, run)}
            for name, run in first_stages.items()]
    base = first_stages[rerank_over]
    for name, model in rerankers.items():
        run, _ = rerank(coll, model, base, k=k, show_progress_bar=show_progress_bar)
        rows.append({"collection": coll.name, "ranking": f"{rerank_over} top-{k} >> {name}",
                     "ndcg@10": ndcg_at_10(coll, run)})
    return rows


def rerank_dev_samples(
    coll: Collection, first_stage: dict[str, list[tuple[str, float]]], qids: Iterable[str],
    k: int = 20,
) -> list[dict[str, Any]]:
    """Samples for ``CrossEncoderRerankingEvaluator`` (query, positives, first-stage top-k)."""
    samples = []
    for q in qids:
        pos = [coll.doc_text(d) for d, g in coll.qrels.get(q, {}).items() if g > 0]
        docs = [coll.doc_text(d) for d, _ in first_stage[q][:k]]
        samples.append({"query": coll.queries[q], "positive": pos, "documents": docs})
    return samples


def measure_throughput(model: Any, pairs: Sequence[tuple[str, str]], max_length: int,
                       batch_size: int = 32) -> dict[str, float]:
    """Cross-encoder inference pairs/second at a given max_length (fp32, current threads)."""
    old = model.max_seq_length
    model.max_seq_length = max_length
    model.predict(list(pairs[:batch_size]), batch_size=batch_size, show_progress_bar=False)
    t0 = time.perf_counter()
    model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False)
    dt = time.perf_counter() - t0
    model.max_seq_length = old
    return {"max_length": max_length, "pairs": len(pairs), "seconds": round(dt, 2),
            "pairs_per_s": round(len(pairs) / dt, 2), "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------------------------
# Bi-encoder fine-tune (in-batch negatives)
# --------------------------------------------------------------------------------------------


def train_bi_encoder(
    model: Any,
    coll: Collection,
    negatives: dict[str, list[str]] | None,
    output_dir: str | Path,
    max_positives: int = 8,
    epochs: float = 1.0,
    batch_size: int = 16,
    lr: float = 2e-5,
    budget_s: float = 300.0,
    seed: int = 12,
    evaluator: Any = None,
    eval_steps: int = 50,
    logging_steps: int = 10,
) -> TrainResult:
    """Fine-tune a SentenceTransformer with MultipleNegativesRankingLoss.

    Rows are (query, positive) or, with ``negatives``, (query, positive, hard negative); the loss
    always adds the other in-batch documents as negatives.
    """
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    set_seed(seed)
    rng = random.Random(seed)
    rows: dict[str, list[str]] = {"anchor": [], "positive": []}
    if negatives is not None:
        rows["negative"] = []
    for q in coll.queries:
        judged = coll.qrels.get(q, {})
        pos = [d for d, g in judged.items() if g > 0 and d in coll.corpus]
        rng.shuffle(pos)
        negs = list(negatives.get(q, [])) if negatives is not None else []
        for i, d in enumerate(pos[:max_positives]):
            if negatives is not None:
                if not negs:
                    continue
                rows["negative"].append(coll.doc_text(negs[i % len(negs)]))
            rows["anchor"].append(coll.queries[q])
            rows["positive"].append(coll.doc_text(d))
    ds = Dataset.from_dict(rows).shuffle(seed=seed)
    steps_per_epoch = math.ceil(len(ds) / batch_size)
    planned = int(math.ceil(steps_per_epoch * epochs))
    budget_cb = WallTimeBudgetCallback(budget_s)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=math.ceil(epochs),
        max_steps=planned,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_ratio=0.1,
        seed=seed,
        data_seed=seed,
        batch_sampler="no_duplicates",
        logging_steps=logging_steps,
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=eval_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=train_device() == "cpu",
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        loss=MultipleNegativesRankingLoss(model),
        evaluator=evaluator,
        callbacks=[budget_cb],
    )
    t0 = time.monotonic()
    trainer.train()
    wall = time.monotonic() - t0
    return TrainResult(
        steps=trainer.state.global_step,
        planned_steps=planned,
        epochs_done=trainer.state.global_step / steps_per_epoch,
        train_pairs=len(ds),
        wall_time_s=wall,
        stopped_by_budget=budget_cb.stopped_early,
        log_history=list(trainer.state.log_history),
    )
