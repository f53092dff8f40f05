"""A tiny random BERT for plumbing tests: it exercises code paths, its scores are never results."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "wing", "flow", "shock", "library",
         "index", "book", "fast", "slow", "air", "boundary", "layer", "heat", "search"]


def tiny_bert(path: Path, classifier: bool = True, seed: int = 0, hidden: int = 32) -> Path:
    """Save a tiny random BERT (1-logit sequence classifier or bare encoder) + WordPiece tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=64,
                     num_labels=1)
    net = BertForSequenceClassification(cfg) if classifier else BertModel(cfg)
    net.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path
