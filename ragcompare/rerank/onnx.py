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
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragcompare.checks import (
    check_bool,
    check_choice,
    check_int,
    check_max_length,
    check_positive_int,
)
from ragcompare.models.resolve import resolve_model
from ragcompare.rerank.cross_encoder import CrossEncoderReranker, folder_positions
from ragcompare.settings import cache_dir
from ragcompare.storage import (
    ArtifactError,
    atomic_directory,
    atomic_output,
    atomic_write_json,
    file_sha256,
    hash_tree,
    read_json_object,
    verify_tree,
)
from ragcompare.types import InvalidInputError, RagCompareError

KINDS = ("cross-encoder", "bi-encoder")
VARIANTS = ("onnx-fp32", "onnx-opt-fp32", "onnx-int8")
"""ONNX variants: plain export, ORT-fused graph, fused graph with dynamic INT8 weights."""
_FILES = {"onnx-fp32": "model.onnx", "onnx-opt-fp32": "model_opt.onnx", "onnx-int8": "model_int8.onnx"}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                    "merges.txt", "vocab.json", "sentencepiece.bpe.model", "spm.model")
EXPORT_MANIFEST = "export.json"
"""Written last into an export folder: what it holds and the sha256 of every file. A folder
without it (an interrupted export) or whose files do not match it is rebuilt."""
EXPORT_FORMAT = "ragcompare.onnx-export/1"


class OptimizeError(RagCompareError):
    """Export, optimization or quantization failed (or its dependencies are missing)."""


class StaleExportWarning(RuntimeWarning):
    """A cached ONNX export was incomplete or damaged and is being rebuilt."""


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


# -- the export folder's manifest --------------------------------------------------------------
def read_export(folder: str | Path) -> dict[str, Any]:
    """The manifest of a complete export folder, after checking the sha256 of its base files (the
    fp32 model, tokenizer, configs); :class:`~ragcompare.storage.ArtifactError` otherwise. The
    optimized / quantized variants are checked when used."""
    folder = Path(folder)
    path = folder / EXPORT_MANIFEST
    if not path.is_file():
        raise ArtifactError(f"ONNX export {folder} is incomplete (no {EXPORT_MANIFEST})")
    manifest = read_json_object(path, "ONNX export manifest")
    files, variants = manifest.get("files"), manifest.get("variants")
    if (manifest.get("format") != EXPORT_FORMAT or not isinstance(files, dict)
            or _FILES["onnx-fp32"] not in files or not isinstance(variants, dict)):
        raise ArtifactError(f"{path} is not a {EXPORT_FORMAT} manifest (an older or foreign export)")
    verify_tree(folder, files, "ONNX export")
    return manifest


def _verified_export(folder: Path) -> dict[str, Any]:
    """:func:`read_export` for a folder handed in by the caller (refused if not intact)."""
    try:
        return read_export(folder)
    except ArtifactError as e:
        raise OptimizeError(f"{e}; rebuild it with export_onnx(model, kind)") from None


def _stale(folder: Path, reason: object) -> None:
    warnings.warn(f"cached ONNX export {folder}: {reason}; rebuilding it", StaleExportWarning,
                  stacklevel=3)


def _install(target: Path, produce: Callable[[Path], None]) -> str:
    """Run ``produce(path)`` into a scratch file, then move it onto ``target`` atomically (a reader
    never sees half a model); returns the file's sha256."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        built = Path(scratch) / target.name
        produce(built)
        with atomic_output(target) as fh, open(built, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)
    return file_sha256(target)


def _variant_ready(folder: Path, variant: str, force: bool) -> bool:
    """Whether ``variant`` is built, recorded and intact in the export ``folder`` (whose base files
    the caller checked); an unrecorded or damaged file is reported and will be rebuilt."""
    name = _FILES[variant]
    if force or not (folder / name).is_file():
        return False
    digest = read_json_object(folder / EXPORT_MANIFEST, "ONNX export manifest")["variants"].get(name)
    if digest is None:
        _stale(folder, f"{name} is not recorded in {EXPORT_MANIFEST} (an interrupted build)")
        return False
    if file_sha256(folder / name) != digest:
        _stale(folder, f"{name} does not match its recorded sha256 (damaged since it was built)")
        return False
    return True


def _record_variant(folder: Path, variant: str, digest: str) -> None:
    """Add a freshly built variant to the export manifest (atomically rewritten)."""
    manifest = read_json_object(folder / EXPORT_MANIFEST, "ONNX export manifest")
    manifest["variants"] = {**manifest.get("variants", {}), _FILES[variant]: digest}
    atomic_write_json(folder / EXPORT_MANIFEST, manifest)


def export_sha256(onnx_path: str | Path) -> str:
    """The recorded sha256 of an exported ``.onnx`` file, checked against the file."""
    path = Path(onnx_path)
    manifest = _verified_export(path.parent)
    digest = {**manifest["files"], **manifest["variants"]}.get(path.name)
    if digest is None or file_sha256(path) != digest:
        raise OptimizeError(f"{path} is not recorded in {EXPORT_MANIFEST} or does not match its "
                            "sha256; rebuild it with prepare(model, kind, [variant])")
    return digest


# -- export, fuse, quantize --------------------------------------------------------------------
def onnx_dir(model: str, kind: str) -> Path:
    """Cache folder for the ONNX files of ``model`` (changes when its weights change)."""
    kind = check_choice(kind, "kind", KINDS)
    path = Path(resolve_model(model, kind))
    name = path.name if path.name not in ("", "model") else path.parent.name
    return cache_dir() / "onnx" / f"{kind}-{name}-{_fingerprint(path)}"


def _export_into(tmp: Path, src: Path, model: str, kind: str, opset: int) -> None:
    """Trace the model at ``src`` into ``tmp``, copy what loading needs, write the manifest last."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

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

    with torch.no_grad(), _quiet():  # tracing warns about Python-level branches it freezes: expected here
        torch.onnx.export(_Wrapper(net), tuple(sample[n] for n in names),
                          str(tmp / _FILES["onnx-fp32"]), input_names=names, output_names=[output],
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    for f in (*_TOKENIZER_FILES, "config.json", "sentence_bert_config.json", "modules.json"):
        if (src / f).is_file():
            shutil.copy2(src / f, tmp / f)
    if (src / "1_Pooling" / "config.json").is_file():
        (tmp / "1_Pooling").mkdir(exist_ok=True)
        shutil.copy2(src / "1_Pooling" / "config.json", tmp / "1_Pooling" / "config.json")
    atomic_write_json(tmp / EXPORT_MANIFEST, {
        "format": EXPORT_FORMAT, "source": str(src), "model": model, "kind": kind, "inputs": names,
        "output": output, "opset": opset, "files": hash_tree(tmp), "variants": {}})


def export_onnx(model: str, kind: str = "cross-encoder", opset: int = 17,
                force: bool = False) -> Path:
    """Export a cross-encoder (sequence-classification head) or bi-encoder body to ONNX.

    Returns the folder holding ``model.onnx``, the tokenizer files and ``export.json``. The export
    is cached: a second call with unchanged weights returns at once, after checking the sha256 of
    every file; an incomplete or damaged export is rebuilt (with a :class:`StaleExportWarning`).
    The folder is built aside and swapped in whole, so an interrupted export leaves nothing that
    looks complete.
    """
    out = onnx_dir(model, kind)
    opset = check_int(opset, "opset", minimum=9)
    if not check_bool(force, "force") and out.exists():
        try:
            read_export(out)
            return out
        except ArtifactError as e:
            _stale(out, e)
    src = Path(resolve_model(model, kind))
    try:
        with atomic_directory(out) as tmp:
            _export_into(tmp, src, model, kind, opset)
    except (OSError, RuntimeError, ValueError, TypeError, ImportError) as e:
        raise OptimizeError(f"exporting {model} ({kind}) to ONNX failed: {e}") from e
    return out


def optimize_onnx(folder: str | Path, force: bool = False) -> Path:
    """Fuse attention, LayerNorm and GELU with ONNX Runtime's transformer optimizer."""
    folder = Path(folder)
    force = check_bool(force, "force")
    _verified_export(folder)
    return _optimize(folder, force)


def _optimize(folder: Path, force: bool) -> Path:
    """:func:`optimize_onnx` on an export whose base files were just checked."""
    _require_ort()
    from onnxruntime.transformers.optimizer import optimize_model

    target = folder / _FILES["onnx-opt-fp32"]
    if _variant_ready(folder, "onnx-opt-fp32", force):
        return target
    cfg = read_json_object(folder / "config.json", "model config")
    model_type = "bert" if cfg.get("model_type") in (None, "bert", "roberta", "xlm-roberta",
                                                     "electra", "distilbert") else cfg["model_type"]

    def produce(path: Path) -> None:
        opt = optimize_model(str(folder / _FILES["onnx-fp32"]), model_type=model_type,
                             num_heads=int(cfg.get("num_attention_heads", 0)),
                             hidden_size=int(cfg.get("hidden_size", 0)), opt_level=1)
        opt.save_model_to_file(str(path))

    _record_variant(folder, "onnx-opt-fp32", _install(target, produce))
    return target


def quantize_onnx(folder: str | Path, per_channel: bool = True, force: bool = False) -> Path:
    """Dynamic INT8 quantization of the fused model (per-channel int8 weights, activations quantized
    at run time). Per-tensor weights cost far more accuracy on MiniLM (cosine to fp32 down to 0.90)."""
    folder = Path(folder)
    per_channel = check_bool(per_channel, "per_channel")
    force = check_bool(force, "force")
    _verified_export(folder)
    return _quantize(folder, per_channel, force)


def _quantize(folder: Path, per_channel: bool, force: bool) -> Path:
    """:func:`quantize_onnx` on an export whose base files were just checked."""
    _require_ort()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = folder / _FILES["onnx-int8"]
    if _variant_ready(folder, "onnx-int8", force):
        return target
    source = _optimize(folder, False)

    def produce(path: Path) -> None:
        # Fused ops (com.microsoft domain) defeat shape inference; their outputs are float32.
        with _quiet():  # ORT logs a generic "consider pre-processing" advice to the root logger
            quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8,
                             per_channel=per_channel,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})

    _record_variant(folder, "onnx-int8", _install(target, produce))
    return target


def prepare(model: str, kind: str = "cross-encoder",
            variants: Sequence[str] = VARIANTS) -> dict[str, Path]:
    """Export / optimize / quantize as needed; variant name -> ``.onnx`` path."""
    if isinstance(variants, str) or not isinstance(variants, Sequence) or not variants:
        raise InvalidInputError(f"variants must be a non-empty list of {VARIANTS}, got {variants!r}")
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise InvalidInputError(f"unknown variants {bad}; choose from {VARIANTS}")
    folder = export_onnx(model, kind)
    paths = {}
    for v in variants:
        if v == "onnx-opt-fp32":
            _optimize(folder, False)
        elif v == "onnx-int8":
            _quantize(folder, True, False)
        paths[v] = folder / _FILES[v]
    return paths


def make_session(path: str | Path, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (sequential execution)."""
    ort = _require_ort()
    threads = check_positive_int(threads, "threads")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT's own errors (InvalidProtobuf, Fail, NoSuchFile...) subclass Exception
        raise OptimizeError(f"ONNX Runtime cannot load {path}: {str(e).splitlines()[0]}") from None


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
        self.max_length = check_positive_int(max_length, "max_length")
        self.threads = check_positive_int(threads, "threads")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        except (OSError, ValueError, TypeError, RuntimeError) as e:
            raise OptimizeError(f"cannot load the tokenizer in {self.folder}: {e}") from None
        self.session = make_session(self.path, self.threads)
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
        batch_size = check_positive_int(batch_size, "batch_size")
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
    """A :class:`CrossEncoderReranker` whose scores come from ONNX Runtime (``variant`` of VARIANTS).

    Every argument is checked (``max_length`` against the model's positions) before anything is
    exported.
    """

    def __init__(self, model: str, variant: str = "onnx-int8", max_length: int = 256,
                 batch_size: int = 32, threads: int = 1, show_progress: bool = False) -> None:
        self.variant = check_choice(variant, "variant", VARIANTS)
        threads = check_positive_int(threads, "threads")
        self._configure(model, max_length, batch_size, show_progress)
        self.onnx_path = prepare(model, "cross-encoder", [variant])[variant]
        self.model = OnnxCrossEncoderModel(self.onnx_path, self.max_length, threads)
        self.name = f"cross-encoder[{model.split('/')[-1]}|{variant}]"


class OnnxSentenceEncoder:
    """ONNX Runtime stand-in for ``SentenceTransformer.encode`` (mean or CLS pooling, as configured)."""

    def __init__(self, onnx_path: str | Path, max_seq_length: int | None = None,
                 threads: int = 1) -> None:
        folder = Path(onnx_path).parent
        threads = check_positive_int(threads, "threads")
        pool_cfg = folder / "1_Pooling" / "config.json"
        pooling = read_json_object(pool_cfg, "pooling config") if pool_cfg.is_file() else {
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
        positions = folder_positions(folder)
        stated = (read_json_object(sbert, "sentence-transformers config").get("max_seq_length")
                  if sbert.is_file() else None)
        default_len = stated or min(256, positions or 256)  # sentence-transformers 6 may not say
        self.max_seq_length = check_max_length(default_len if max_seq_length is None else max_seq_length,
                                               positions, str(folder))
        self.runner = _OnnxRunner(onnx_path, self.max_seq_length, threads)
        self.sort_by_length = True
        self._dim = check_positive_int(read_json_object(folder / "config.json", "model config").get(
            "hidden_size"), f"hidden_size in {folder / 'config.json'}")

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
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise InvalidInputError("texts must be a list of strings")
        if not all(isinstance(t, str) for t in texts):
            raise InvalidInputError("texts must be a list of strings")
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
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
    variant = check_choice(variant, "variant", VARIANTS)
    threads = check_positive_int(threads, "threads")
    path = prepare(model, "bi-encoder", [variant])[variant]
    retriever = BiEncoderRetriever(model, **retriever_kwargs)
    encoder = OnnxSentenceEncoder(path, retriever.model.max_seq_length, threads)
    if retriever.cache is not None:
        retriever.cache = EmbeddingCache(f"{retriever.cache.model}|{variant}|{export_sha256(path)[:16]}",
                                         dim=encoder.get_sentence_embedding_dimension())
    retriever.model = retriever.query_model = encoder
    retriever.name = f"bi-encoder[{model.split('/')[-1]}|{variant}|{retriever.index_factory}]"
    return retriever
