"""The ONNX Runtime backend of the ranking models: export, graph fusion, dynamic INT8 quantization.

Pipeline (all standard tools, no hand-written graph code):

1. ``export_onnx`` - the Hugging Face model is traced to ONNX with ``torch.onnx.export``;
2. ``optimize_onnx`` - ONNX Runtime's transformer optimizer fuses attention / LayerNorm / GELU;
3. ``quantize_onnx`` - ``onnxruntime.quantization.quantize_dynamic``: INT8 weights, activations
   quantized on the fly (no calibration data needed).

Why not ``sentence_transformers.backend.export_dynamic_quantized_onnx_model`` / ``backend="onnx"``?
Those go through ``optimum-onnx``, whose only release (0.1.0) requires ``transformers<4.58`` and
fails to import with transformers 5 (``get_parameter_dtype`` is gone). The steps above are what
optimum runs under the hood. Exported files live in the cache dir (``cache_dir()/onnx``), never in git.
Measuring the variants against each other is :mod:`ragcompare.eval.speed`'s job.

``OnnxCrossEncoderReranker`` is a drop-in :class:`~ragcompare.rerank.cross_encoder.CrossEncoderReranker`
and ``OnnxSentenceEncoder`` a drop-in for the ``SentenceTransformer`` inside a
:class:`~ragcompare.retrieval.dense.BiEncoderRetriever` (see :func:`onnx_bi_encoder`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ragcompare.models.resolve import resolve_model
from ragcompare.rerank.cross_encoder import CrossEncoderReranker
from ragcompare.settings import cache_dir
from ragcompare.types import InvalidInputError, RagCompareError

KINDS = ("cross-encoder", "bi-encoder")
VARIANTS = ("onnx-fp32", "onnx-opt-fp32", "onnx-int8")
"""ONNX variants: plain export, ORT-fused graph, fused graph with dynamic INT8 weights."""
_FILES = {"onnx-fp32": "model.onnx", "onnx-opt-fp32": "model_opt.onnx", "onnx-int8": "model_int8.onnx"}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                    "merges.txt", "vocab.json", "sentencepiece.bpe.model", "spm.model")


class OptimizeError(RagCompareError):
    """Export, optimization or quantization failed (or its dependencies are missing)."""


def _require_ort():
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - depends on the environment
        raise OptimizeError("onnxruntime is not installed: pip install 'ragcompare[optimize]'") from None
    return ort


def _fingerprint(path: Path) -> str:
    """Short hash of a model folder's weight files (name, size, mtime)."""
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    if not weights:
        raise OptimizeError(f"no weights (*.safetensors / *.bin) in {path}")
    stamp = "|".join(f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights)
    return hashlib.sha256(f"{path.resolve()}|{stamp}".encode()).hexdigest()[:12]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings and log records the one-off export steps emit (none concerns the user)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


def _tmp_path(target: Path) -> Path:
    """A per-process temporary name next to ``target`` (concurrent exports never share a file)."""
    return target.with_name(f"{target.stem}.{os.getpid()}.tmp.onnx")


def onnx_dir(model: str, kind: str) -> Path:
    """Cache folder for the ONNX files of ``model`` (changes when its weights change)."""
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {KINDS}, got {kind!r}")
    path = Path(resolve_model(model, kind))
    name = path.name if path.name not in ("", "model") else path.parent.name
    return cache_dir() / "onnx" / f"{kind}-{name}-{_fingerprint(path)}"


def export_onnx(model: str, kind: str = "cross-encoder", opset: int = 17,
                force: bool = False) -> Path:
    """Export a cross-encoder (sequence-classification head) or bi-encoder body to ONNX.

    Returns the folder holding ``model.onnx``, the tokenizer files and ``export.json``. The export
    is cached: a second call with unchanged weights returns at once.
    """
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    out = onnx_dir(model, kind)
    target = out / _FILES["onnx-fp32"]
    if target.is_file() and not force:
        return out
    src = Path(resolve_model(model, kind))
    out.mkdir(parents=True, exist_ok=True)
    loader = AutoModelForSequenceClassification if kind == "cross-encoder" else AutoModel
    # Eager attention exports the standard MatMul/Softmax pattern ORT's fusion recognises.
    net = loader.from_pretrained(src, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(src)
    sample = tok(["a short query"], ["a somewhat longer document text for tracing"],
                 return_tensors="pt") if kind == "cross-encoder" else tok(
        ["a short sentence for tracing the graph"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    output = "logits" if kind == "cross-encoder" else "last_hidden_state"
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes[output] = {0: "batch"} if kind == "cross-encoder" else {0: "batch", 1: "sequence"}

    class _Wrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args)))[0]

    tmp = _tmp_path(target)
    with torch.no_grad(), _quiet():  # tracing warns about Python-level branches it freezes: expected here
        torch.onnx.export(_Wrapper(net), tuple(sample[n] for n in names), str(tmp), input_names=names,
                          output_names=[output], dynamic_axes=axes, opset_version=opset, dynamo=False)
    tmp.replace(target)
    for f in _TOKENIZER_FILES:
        if (src / f).is_file():
            shutil.copy2(src / f, out / f)
    for f in ("config.json", "sentence_bert_config.json", "modules.json"):
        if (src / f).is_file():
            shutil.copy2(src / f, out / f)
    if (src / "1_Pooling" / "config.json").is_file():
        (out / "1_Pooling").mkdir(exist_ok=True)
        shutil.copy2(src / "1_Pooling" / "config.json", out / "1_Pooling" / "config.json")
    (out / "export.json").write_text(json.dumps({"source": str(src), "model": model, "kind": kind,
                                                 "inputs": names, "output": output, "opset": opset}))
    return out


def optimize_onnx(folder: str | Path, force: bool = False) -> Path:
    """Fuse attention, LayerNorm and GELU with ONNX Runtime's transformer optimizer."""
    _require_ort()
    from onnxruntime.transformers.optimizer import optimize_model

    folder = Path(folder)
    target = folder / _FILES["onnx-opt-fp32"]
    if target.is_file() and not force:
        return target
    cfg = json.loads((folder / "config.json").read_text())
    model_type = "bert" if cfg.get("model_type") in (None, "bert", "roberta", "xlm-roberta",
                                                     "electra", "distilbert") else cfg["model_type"]
    opt = optimize_model(str(folder / _FILES["onnx-fp32"]), model_type=model_type,
                         num_heads=int(cfg.get("num_attention_heads", 0)),
                         hidden_size=int(cfg.get("hidden_size", 0)), opt_level=1)
    tmp = _tmp_path(target)
    opt.save_model_to_file(str(tmp))
    tmp.replace(target)
    return target


def quantize_onnx(folder: str | Path, per_channel: bool = True, force: bool = False) -> Path:
    """Dynamic INT8 quantization of the fused model (per-channel int8 weights, activations quantized
    at run time). Per-tensor weights cost far more accuracy on MiniLM (cosine to fp32 down to 0.90)."""
    _require_ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(folder)
    target = folder / _FILES["onnx-int8"]
    if target.is_file() and not force:
        return target
    import onnx

    source = optimize_onnx(folder)
    # Fused ops (com.microsoft domain) defeat shape inference; their outputs are float32.
    tmp = _tmp_path(target)
    with _quiet():  # ORT logs a generic "consider pre-processing" advice to the root logger
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=per_channel,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    tmp.replace(target)
    return target


def prepare(model: str, kind: str = "cross-encoder",
            variants: Sequence[str] = VARIANTS) -> dict[str, Path]:
    """Export / optimize / quantize as needed; variant name -> ``.onnx`` path."""
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise InvalidInputError(f"unknown variants {bad}; choose from {VARIANTS}")
    folder = export_onnx(model, kind)
    paths = {}
    for v in variants:
        if v == "onnx-opt-fp32":
            optimize_onnx(folder)
        elif v == "onnx-int8":
            quantize_onnx(folder)
        paths[v] = folder / _FILES[v]
    return paths


def make_session(path: str | Path, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (sequential execution)."""
    ort = _require_ort()
    if not isinstance(threads, int) or threads <= 0:
        raise InvalidInputError(f"threads must be a positive int, got {threads!r}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def batch_order(lengths: Sequence[int], sort_by_length: bool) -> np.ndarray:
    """Processing order: longest first when ``sort_by_length`` (as sentence-transformers does)."""
    lengths = np.asarray(lengths)
    return np.argsort(-lengths, kind="stable") if sort_by_length else np.arange(len(lengths))


class _OnnxRunner:
    """Tokenize, batch (optionally length-sorted) and run an ONNX session."""

    def __init__(self, onnx_path: str | Path, max_length: int, threads: int = 1) -> None:
        from transformers import AutoTokenizer

        self.path = Path(onnx_path)
        if not self.path.is_file():
            raise OptimizeError(f"no ONNX model at {self.path}")
        self.folder = self.path.parent
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.max_length = max_length
        self.threads = threads
        self.session = make_session(self.path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _tokenize(self, first: list[str], second: list[str] | None) -> dict[str, np.ndarray]:
        enc = self.tokenizer(first, second, padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="np")
        return {n: enc[n].astype(np.int64) for n in self.input_names}

    def lengths(self, first: list[str], second: list[str] | None) -> list[int]:
        """Token count of each input after truncation (no padding)."""
        enc = self.tokenizer(first, second, truncation=True, max_length=self.max_length)
        return [len(x) for x in enc["input_ids"]]

    def run(self, first: list[str], second: list[str] | None, batch_size: int, sort_by_length: bool,
            post: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """Outputs for every input, in input order; ``post(output, attention_mask)`` per batch."""
        if batch_size <= 0:
            raise InvalidInputError(f"batch_size must be positive, got {batch_size}")
        if sort_by_length:
            # Character length is what sentence-transformers sorts by too (cheap, no tokenizing).
            chars = [len(a) + (len(second[i]) if second else 0) for i, a in enumerate(first)]
            order = batch_order(chars, True)
        else:
            order = np.arange(len(first))
        outs: list[np.ndarray] = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            feats = self._tokenize([first[i] for i in idx], [second[i] for i in idx] if second else None)
            out = self.session.run(None, feats)[0]
            outs.append(post(out, feats["attention_mask"]))
        stacked = np.concatenate(outs) if outs else np.zeros((0,), dtype=np.float32)
        result = np.empty_like(stacked)
        result[order] = stacked
        return result


class OnnxCrossEncoderModel:
    """ONNX Runtime stand-in for ``sentence_transformers.CrossEncoder.predict`` (raw logits)."""

    def __init__(self, onnx_path: str | Path, max_length: int = 256, threads: int = 1) -> None:
        self.runner = _OnnxRunner(onnx_path, max_length, threads)
        self.sort_by_length = True

    def predict(self, pairs: Sequence[Sequence[str]], batch_size: int = 32,
                show_progress_bar: bool = False, activation_fn=None, convert_to_numpy: bool = True,
                **_: object) -> np.ndarray:
        """Scores for (query, document) pairs; ``activation_fn`` is applied if not Identity/None."""
        queries = [p[0] for p in pairs]
        docs = [p[1] for p in pairs]
        logits = self.runner.run(queries, docs, batch_size, self.sort_by_length,
                                 lambda out, _mask: out.astype(np.float32))
        if activation_fn is not None and type(activation_fn).__name__ != "Identity":
            import torch

            logits = activation_fn(torch.from_numpy(logits)).numpy()
        return logits


class OnnxCrossEncoderReranker(CrossEncoderReranker):
    """A :class:`CrossEncoderReranker` whose scores come from ONNX Runtime (``variant`` of VARIANTS)."""

    def __init__(self, model: str, variant: str = "onnx-int8", max_length: int = 256,
                 batch_size: int = 32, threads: int = 1, show_progress: bool = False) -> None:
        if variant not in VARIANTS:
            raise InvalidInputError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self._configure(model, max_length, batch_size, show_progress)
        self.variant = variant
        self.onnx_path = prepare(model, "cross-encoder", [variant])[variant]
        self.model = OnnxCrossEncoderModel(self.onnx_path, max_length, threads)
        self.name = f"cross-encoder[{model.split('/')[-1]}|{variant}]"


class OnnxSentenceEncoder:
    """ONNX Runtime stand-in for ``SentenceTransformer.encode`` (mean or CLS pooling, as configured)."""

    def __init__(self, onnx_path: str | Path, max_seq_length: int | None = None,
                 threads: int = 1) -> None:
        folder = Path(onnx_path).parent
        pool_cfg = folder / "1_Pooling" / "config.json"
        pooling = json.loads(pool_cfg.read_text()) if pool_cfg.is_file() else {
            "pooling_mode_mean_tokens": True}
        mode = pooling.get("pooling_mode")  # sentence-transformers >= 6 writes one key
        if mode == "mean" or (mode is None and pooling.get("pooling_mode_mean_tokens")):
            self.pooling = "mean"
        elif mode == "cls" or (mode is None and pooling.get("pooling_mode_cls_token")):
            self.pooling = "cls"
        else:
            raise OptimizeError(f"unsupported pooling in {pool_cfg}: {pooling}")
        modules = folder / "modules.json"
        self.normalize = modules.is_file() and "Normalize" in modules.read_text()
        sbert = folder / "sentence_bert_config.json"
        default_len = json.loads(sbert.read_text()).get("max_seq_length", 256) if sbert.is_file() else 256
        self.max_seq_length = int(max_seq_length or default_len)
        self.runner = _OnnxRunner(onnx_path, self.max_seq_length, threads)
        self.sort_by_length = True
        self._dim = int(json.loads((folder / "config.json").read_text())["hidden_size"])

    def get_sentence_embedding_dimension(self) -> int:
        """Embedding size."""
        return self._dim

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            return hidden[:, 0].astype(np.float32)
        m = mask[..., None].astype(np.float32)
        return ((hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32, show_progress_bar: bool = False,
               normalize_embeddings: bool = False, convert_to_numpy: bool = True,
               **_: object) -> np.ndarray:
        """Sentence embeddings, shape (len(texts), dim)."""
        self.runner.max_length = self.max_seq_length
        vecs = self.runner.run(list(texts), None, batch_size, self.sort_by_length, self._pool)
        if self.normalize or normalize_embeddings:
            vecs = vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
        return vecs.astype(np.float32)


def onnx_bi_encoder(model: str | None = None, variant: str = "onnx-int8", threads: int = 1,
                    **retriever_kwargs: object):
    """A :class:`BiEncoderRetriever` encoding through ONNX Runtime (its own embedding-cache key)."""
    from ragcompare.models.resolve import DEFAULT_BI_ENCODER
    from ragcompare.retrieval.cache import EmbeddingCache
    from ragcompare.retrieval.dense import BiEncoderRetriever

    model = model or DEFAULT_BI_ENCODER
    if variant not in VARIANTS:
        raise InvalidInputError(f"variant must be one of {VARIANTS}, got {variant!r}")
    path = prepare(model, "bi-encoder", [variant])[variant]
    retriever = BiEncoderRetriever(model, **retriever_kwargs)
    encoder = OnnxSentenceEncoder(path, retriever.model.max_seq_length, threads)
    if retriever.cache is not None:
        retriever.cache = EmbeddingCache(f"{retriever.cache.model}|{variant}|{_fingerprint_file(path)}")
    retriever.model = retriever.query_model = encoder
    retriever.name = f"bi-encoder[{model.split('/')[-1]}|{variant}|{retriever.index_factory}]"
    return retriever


def _fingerprint_file(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{int(st.st_mtime)}"
