"""FAISS index configurations and embedding quantization: recall@10 vs exact, queries/s, bytes/vector.

    python scripts/bench_ann.py --threads 1 --out results/ann

Vectors are real all-MiniLM-L6-v2 embeddings: the Cranfield and CISI documents plus the unique
STS-B / SICK sentences (about 24k vectors; embedding cache makes re-runs instant); queries are the
301 Cranfield + CISI queries. Ground truth is exact inner-product search (FAISS Flat).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from ragcompare.eval import ResultSet, ann
from ragcompare.sysinfo import set_threads
from ragcompare.types import InvalidInputError


def real_vectors(pair_limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(document vectors, query vectors): Cranfield + CISI docs and STS/SICK sentences; their queries."""
    from ragcompare.data.beir import load_dataset
    from ragcompare.data.pairs import pair_sentences
    from ragcompare.retrieval.dense import BiEncoderRetriever

    r = BiEncoderRetriever(show_progress=False)
    docs, queries = [], []
    for name in ("cranfield", "cisi"):
        d = load_dataset(name)
        docs.append(r.encode_documents(list(d.texts.values())))
        queries.append(r.encode_queries(list(d.queries.values())))
    docs.append(r.encode_documents(pair_sentences(limit=pair_limit)))
    return np.vstack(docs), np.vstack(queries)


def extra_specs(n: int) -> list[ann.IndexSpec]:
    """Compressed configurations around the 8x-memory bar (384-d float32 = 1536 bytes)."""
    nlist = 256 if n >= 256 * 39 else 64
    specs = [
        ann.IndexSpec("HNSW32 ef=16", "HNSW32", {"efSearch": 16}),
        ann.IndexSpec("SQ4", "SQ4"),
        ann.IndexSpec("PCA256,SQ8", "PCA256,SQ8"),
        ann.IndexSpec("PQ128x8", "PQ128x8"),
        ann.IndexSpec(f"IVF{nlist},PQ128x8 nprobe=32", f"IVF{nlist},PQ128x8", {"nprobe": 32}),
        ann.IndexSpec("PQ192x4fs", "PQ192x4fs"),
        ann.IndexSpec("PQ96x4fs", "PQ96x4fs"),
        ann.IndexSpec(f"IVF{nlist},PQ96x8 nprobe=32", f"IVF{nlist},PQ96x8", {"nprobe": 32}),
        ann.IndexSpec(f"IVF{nlist},SQ4 nprobe=32", f"IVF{nlist},SQ4", {"nprobe": 32}),
        ann.IndexSpec(f"IVF{nlist},PQ96x4fs nprobe=32", f"IVF{nlist},PQ96x4fs", {"nprobe": 32}),
    ]
    out = []
    for s in specs:
        try:
            ann.validate_spec(s, 384, n)
            out.append(s)
        except InvalidInputError:
            continue
    return out


def run(vectors: np.ndarray, queries: np.ndarray, repeats: int = 3, train_size: int = 12_000,
        skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every configuration plus embedding quantization, one table (quantizers trained on a sample)."""
    train = vectors[np.random.default_rng(0).permutation(len(vectors))[:min(len(vectors), train_size)]]
    specs = ann.default_specs(vectors.shape[1], len(train)) + extra_specs(len(train))
    specs = [sp for sp in specs if not any(x and x in sp.factory for x in skip)]
    frame = ann.evaluate_specs(specs, vectors, queries, k=10, repeats=repeats, train=train,
                               progress=lambda name: print("  building", name, flush=True))
    print("  embedding quantization (sentence-transformers)", flush=True)
    quant = ann.evaluate_embedding_quantization(vectors, queries, k=10, repeats=1)
    return pd.concat([frame, quant])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pair-limit", type=int, default=None, help="cap on STS/SICK sentences")
    p.add_argument("--train-size", type=int, default=12_000, help="vectors the quantizers train on")
    p.add_argument("--skip", default="", help="comma-separated factory substrings to leave out")
    p.add_argument("--out", default="results/ann")
    a = p.parse_args()


    set_threads(a.threads)
    vectors, queries = real_vectors(a.pair_limit)
    print(f"{len(vectors)} vectors, {len(queries)} queries, {vectors.shape[1]} dims")
    frame = run(vectors, queries, train_size=a.train_size, skip=tuple(a.skip.split(",")))
    rs = ResultSet("ann", settings={**vars(a), "command": " ".join(sys.argv),
                                    "vectors": len(vectors), "queries": len(queries)})
    rs.add("indexes", frame.drop(columns=["params"]))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.drop(columns=["params", "factory"]).round(3).to_string())
        print("\n>= 8x smaller than Flat at recall@10 >= 0.9:")
        print(ann.frontier(frame).drop(columns=["params", "factory"]).round(3).to_string())
    for path in rs.save(a.out):
        print("wrote", path)


if __name__ == "__main__":
    main()
