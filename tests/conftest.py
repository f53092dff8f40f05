"""Shared fixtures: real collections and the real offline bi-encoder; a tiny random cross-encoder
only for plumbing tests (its scores are never presented as results)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragcompare.data.beir import Dataset, load_dataset


@pytest.fixture(scope="session")
def cranfield() -> Dataset:
    """The real Cranfield collection from the data directory."""
    return load_dataset("cranfield")


@pytest.fixture(scope="session")
def small_corpus(cranfield: Dataset) -> dict[str, str]:
    """The first 150 Cranfield documents that have a title (id -> 'title. text')."""
    ids = [i for i, d in cranfield.corpus.items() if d.title][:150]
    return {i: cranfield.corpus[i].full_text for i in ids}


@pytest.fixture(scope="session")
def bi_retriever(small_corpus):
    """The real all-MiniLM-L6-v2 bi-encoder over the small corpus (exact FAISS)."""
    from ragcompare.retrieval.dense import BiEncoderRetriever

    return BiEncoderRetriever(use_cache=False, show_progress=False).index(small_corpus)


@pytest.fixture(scope="session")
def tiny_cross_encoder_dir(tmp_path_factory) -> Path:
    """A 2-layer randomly initialised BERT cross-encoder (plumbing tests only)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ragcompare.models.resolve import resolve_model

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-ce")
    tok = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, num_labels=1,
                     max_position_embeddings=512)
    BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_reranker(tiny_cross_encoder_dir):
    """CrossEncoderReranker over the tiny random model."""
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(str(tiny_cross_encoder_dir), max_length=128, batch_size=8)
