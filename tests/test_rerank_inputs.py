"""Reranker inputs are checked early with the parameter's name (PyTorch and ONNX Runtime backends),
the model's answers are checked, and cached ONNX exports are complete or rebuilt.

The tiny random cross-encoders only exercise code paths; their scores are never results.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragcompare.rerank.cross_encoder import CrossEncoderReranker, ModelOutputError, model_positions
from ragcompare.types import InvalidInputError, RagCompareError

EMPTY_QUERIES = {
    "empty": "",
    "spaces": "   \t\n",
    "zero-width": "\u200b\u200c\u200d\ufeff",
    "nul": "\x00\x00\x00",
    "mixed-invisible": "\u200b \x00\t\u2060",
}
NOT_TEXT = {"none": None, "int": 5, "bytes": b"query", "list": ["query"]}
CANDIDATES = {"a": "the cat sat on the mat", "b": "heat flow in a boundary layer", "c": ""}


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """One cache dir for the ONNX exports of this module's plain tests."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("onnx-cache")
        mp.setenv("RAGCOMPARE_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def onnx_reranker(tiny_cross_encoder_dir, onnx_cache):
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank.onnx import OnnxCrossEncoderReranker

    return OnnxCrossEncoderReranker(str(tiny_cross_encoder_dir), variant="onnx-fp32", max_length=64,
                                    batch_size=np.int64(4), threads=np.int64(1))


@pytest.fixture(params=["torch", "onnx"])
def reranker(request, tiny_reranker):
    return tiny_reranker if request.param == "torch" else request.getfixturevalue("onnx_reranker")


# -- queries ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", list({**EMPTY_QUERIES, **NOT_TEXT}.values()),
                         ids=list({**EMPTY_QUERIES, **NOT_TEXT}))
def test_empty_or_non_text_query_is_refused(reranker, query):
    with pytest.raises(InvalidInputError, match="query"):
        reranker.rerank(query, CANDIDATES)
    with pytest.raises(InvalidInputError, match="query"):
        reranker.score(query, ["a document"])
    with pytest.raises(InvalidInputError, match="query"):
        reranker.score_pairs([("a fine query", "doc"), (query, "doc")])


def test_lone_surrogate_is_refused_not_a_tokenizer_crash(tiny_reranker):
    with pytest.raises(InvalidInputError, match="surrogate"):
        tiny_reranker.score("wing \ud800", ["doc"])
    with pytest.raises(InvalidInputError, match="surrogate"):
        tiny_reranker.score("wing", ["doc \udfff"])


def test_empty_document_is_a_corpus_entry_and_gets_a_score(reranker):
    hits = reranker.rerank("cat on a mat", CANDIDATES)
    assert sorted(h.doc_id for h in hits) == ["a", "b", "c"]
    assert all(np.isfinite(h.score) for h in hits)
    alone = reranker.score("cat on a mat", [""])
    assert alone.shape == (1,) and np.isfinite(alone[0])
    assert reranker.score("cat on a mat", []).shape == (0,)


# -- documents, candidates, pairs, k, flags ----------------------------------------------------------
@pytest.mark.parametrize("documents", ["one string", None, [1, 2], ["ok", None], ["ok", b"bytes"]],
                         ids=["str", "none", "ints", "none-item", "bytes-item"])
def test_bad_documents_are_refused(reranker, documents):
    with pytest.raises(InvalidInputError, match="document"):
        reranker.score("a wing", documents)


@pytest.mark.parametrize("candidates", [["a", "b"], None, "text", {1: "a"}, {"a": 3}, {"": "text"},
                                        {"\u200b": "text"}, {"a": None}],
                         ids=["list", "none", "str", "int-id", "int-text", "empty-id", "invisible-id",
                              "none-text"])
def test_bad_candidates_are_refused(reranker, candidates):
    with pytest.raises(InvalidInputError):
        reranker.rerank("a wing", candidates)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "2", 4, np.float64(2.0)],
                         ids=["zero", "negative", "float", "bool", "str", "more-than-candidates",
                              "numpy-float"])
def test_bad_k_is_refused(reranker, k):
    with pytest.raises(InvalidInputError, match="k"):
        reranker.rerank("a wing", CANDIDATES, k=k)


def test_numpy_k_is_accepted(reranker):
    hits = reranker.rerank("a wing", CANDIDATES, k=np.int64(2))
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert reranker.rerank("a wing", {}, k=np.int32(3)) == []


@pytest.mark.parametrize("pairs", ["q d", ("q", "d"), [("q",)], [("q", "d", "e")], [(1, "d")],
                                   [("q", None)], [["q"]], None],
                         ids=["str", "bare-tuple", "one-item", "three-items", "int-query", "none-doc",
                              "short-list", "none"])
def test_bad_pairs_are_refused(reranker, pairs):
    with pytest.raises(InvalidInputError, match="pair"):
        reranker.score_pairs(pairs)


@pytest.mark.parametrize("calibrated", ["yes", None, 1], ids=["str", "none", "int"])
def test_calibrated_must_be_a_bool(reranker, calibrated):
    with pytest.raises(InvalidInputError, match="calibrated"):
        reranker.score("a wing", ["doc"], calibrated=calibrated)


def test_onnx_scores_match_torch(tiny_cross_encoder_dir, onnx_reranker):
    pairs = [("cat sat", "the cat sat on the mat"), ("wing", ""), ("heat", "flow " * 200)]
    ref = CrossEncoderReranker(str(tiny_cross_encoder_dir), max_length=64).score_pairs(pairs)
    np.testing.assert_allclose(onnx_reranker.score_pairs(pairs), ref, atol=1e-4, rtol=1e-4)


# -- what the model answers ----------------------------------------------------------------------------
class _Fake:
    def __init__(self, out) -> None:
        self.out = out

    def predict(self, pairs, **_kwargs):
        return np.asarray(self.out(len(pairs)), dtype=np.float32)


@pytest.mark.parametrize("out", [lambda n: np.full(n, np.nan), lambda n: np.r_[np.zeros(n - 1), np.inf],
                                 lambda n: np.full(n, -np.inf)], ids=["nan", "inf", "minus-inf"])
def test_non_finite_logits_are_an_error(tiny_reranker, out):
    broken = copy.copy(tiny_reranker)
    broken.model = _Fake(out)
    with pytest.raises(ModelOutputError, match="non-finite"):
        broken.rerank("a wing", CANDIDATES)
    with pytest.raises(ModelOutputError):
        broken.score_pairs([("a", "b"), ("c", "d")], calibrated=True)


def test_multi_label_model_is_refused(tiny_reranker):
    broken = copy.copy(tiny_reranker)
    broken.model = _Fake(lambda n: np.zeros((n, 3)))
    with pytest.raises(InvalidInputError, match="labels"):
        broken.score("a wing", ["doc"])


# -- construction ------------------------------------------------------------------------------------
BAD_SETTINGS = {
    "max_length-0": {"max_length": 0},
    "max_length-negative": {"max_length": -8},
    "max_length-float": {"max_length": 12.5},
    "max_length-bool": {"max_length": True},
    "max_length-str": {"max_length": "128"},
    "max_length-none": {"max_length": None},
    "max_length-past-positions": {"max_length": 513},
    "max_length-1024": {"max_length": 1024},
    "batch_size-0": {"batch_size": 0},
    "batch_size-float": {"batch_size": 2.5},
    "batch_size-bool": {"batch_size": True},
    "batch_size-numpy-float": {"batch_size": np.float64(8.0)},
    "show_progress-str": {"show_progress": "yes"},
}
TORCH_ONLY = {
    "backend": {"backend": "tensorflow"},
    "device-empty": {"device": ""},
    "device-int": {"device": 0},
    "model_kwargs-str": {"model_kwargs": "fp16"},
}
ONNX_ONLY = {
    "variant-unknown": {"variant": "onnx-fp16"},
    "variant-none": {"variant": None},
    "threads-0": {"threads": 0},
    "threads-negative": {"threads": -1},
    "threads-float": {"threads": 2.5},
    "threads-str": {"threads": "2"},
}


@pytest.mark.parametrize("case", list({**BAD_SETTINGS, **TORCH_ONLY}))
def test_bad_torch_settings_are_refused_before_loading(tiny_cross_encoder_dir, monkeypatch, case):
    import ragcompare.rerank.cross_encoder as module

    def no_loading(*_a, **_k):
        raise AssertionError("the model was loaded before the settings were checked")

    monkeypatch.setattr(module, "load_cross_encoder", no_loading)
    with pytest.raises(InvalidInputError):
        CrossEncoderReranker(str(tiny_cross_encoder_dir), **{**BAD_SETTINGS, **TORCH_ONLY}[case])


@pytest.mark.parametrize("case", list({**BAD_SETTINGS, **ONNX_ONLY}))
def test_bad_onnx_settings_are_refused_before_exporting(tiny_cross_encoder_dir, tmp_path, monkeypatch,
                                                        case):
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank import onnx

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    kwargs = {"variant": "onnx-fp32", **{**BAD_SETTINGS, **ONNX_ONLY}[case]}
    with pytest.raises(InvalidInputError):
        onnx.OnnxCrossEncoderReranker(str(tiny_cross_encoder_dir), **kwargs)
    assert not (tmp_path / "onnx").exists()


def test_numpy_settings_are_accepted(tiny_cross_encoder_dir):
    ce = CrossEncoderReranker(str(tiny_cross_encoder_dir), max_length=np.int64(512),
                              batch_size=np.int64(8))
    assert (ce.max_length, ce.batch_size) == (512, 8) and type(ce.batch_size) is int
    assert ce.score("wing " * 600, ["flow " * 600]).shape == (1,)  # the full 512 positions work


@pytest.mark.parametrize("config, positions", [
    ({"model_type": "bert", "max_position_embeddings": 512}, 512),
    ({"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
    ({"model_type": "xlm-roberta", "max_position_embeddings": 514}, 512),
    ({"model_type": "mpnet", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
    ({"model_type": "bert"}, None),
    ({"max_position_embeddings": True}, None),
    ({"max_position_embeddings": "512"}, None),
], ids=["bert", "roberta", "xlm-roberta-default-pad", "mpnet", "missing", "bool", "str"])
def test_model_positions(config, positions):
    assert model_positions(config) == positions


def test_roberta_positions_are_checked_from_the_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}))
    from safetensors.numpy import save_file

    save_file({"unused": np.zeros(1, np.float32)}, str(tmp_path / "model.safetensors"))  # never loaded
    with pytest.raises(InvalidInputError, match="512 positions"):
        CrossEncoderReranker(str(tmp_path), max_length=513)


# -- ONNX: sessions, prepare, cached exports ------------------------------------------------------------
def test_make_session_refuses_junk_and_bad_threads(tmp_path):
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank.onnx import OptimizeError, make_session

    junk = tmp_path / "model.onnx"
    junk.write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(OptimizeError, match="cannot load"):
        make_session(junk)
    for threads in (0, 1.5, "1", None):
        with pytest.raises(InvalidInputError, match="threads"):
            make_session(junk, threads)


@pytest.mark.parametrize("variants", ["onnx-int8", [], ["onnx-fp16"], None],
                         ids=["str", "empty", "unknown", "none"])
def test_prepare_refuses_bad_variants(tiny_cross_encoder_dir, tmp_path, monkeypatch, variants):
    from ragcompare.rerank.onnx import prepare

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    with pytest.raises(InvalidInputError, match="variants"):
        prepare(str(tiny_cross_encoder_dir), "cross-encoder", variants)
    assert not (tmp_path / "onnx").exists()


def _stale(caught) -> list:
    from ragcompare.rerank.onnx import StaleExportWarning

    return [w for w in caught if issubclass(w.category, StaleExportWarning)]


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "model-byte-flipped": lambda f: _flip(f / "model.onnx"),
    "model-truncated": lambda f: (f / "model.onnx").write_bytes((f / "model.onnx").read_bytes()[:1000]),
    "model-missing": lambda f: (f / "model.onnx").unlink(),
    "tokenizer-changed": lambda f: (f / "tokenizer_config.json").write_text("{}"),
    "config-changed": lambda f: _flip(f / "config.json", 0.3),
    "manifest-missing": lambda f: (f / "export.json").unlink(),
    "manifest-truncated": lambda f: (f / "export.json").write_text('{"format": "ragcompare.onn'),
    "manifest-old-format": lambda f: (f / "export.json").write_text(json.dumps({"model": "x"})),
    "manifest-not-object": lambda f: (f / "export.json").write_text("[1, 2]"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_cached_export_is_rebuilt(tiny_cross_encoder_dir, tmp_path, monkeypatch, case):
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank.onnx import OnnxCrossEncoderReranker, read_export

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    model = str(tiny_cross_encoder_dir)
    first = OnnxCrossEncoderReranker(model, variant="onnx-fp32", max_length=32)
    pairs = [("cat sat", "the cat sat on the mat"), ("wing", "heat flow")]
    ref = first.score_pairs(pairs)
    folder = first.onnx_path.parent
    DAMAGE[case](folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = OnnxCrossEncoderReranker(model, variant="onnx-fp32", max_length=32)
    assert len(_stale(caught)) == 1 and str(folder) in str(_stale(caught)[0].message)
    np.testing.assert_allclose(again.score_pairs(pairs), ref, atol=1e-6)
    read_export(folder)  # complete and intact again
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no leftovers


@pytest.mark.parametrize("damage", ["flip", "unrecorded"])
def test_damaged_variant_alone_is_rebuilt(tiny_cross_encoder_dir, tmp_path, monkeypatch, damage):
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank.onnx import EXPORT_MANIFEST, prepare, read_export

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    model = str(tiny_cross_encoder_dir)
    path = prepare(model, "cross-encoder", ["onnx-int8"])["onnx-int8"]
    folder = path.parent
    base = (folder / "model.onnx").stat().st_mtime_ns
    good = path.read_bytes()
    if damage == "flip":
        _flip(path)
    else:  # a build interrupted between writing the file and recording it
        manifest = json.loads((folder / EXPORT_MANIFEST).read_text())
        del manifest["variants"]["model_int8.onnx"]
        (folder / EXPORT_MANIFEST).write_text(json.dumps(manifest))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepare(model, "cross-encoder", ["onnx-int8"])
    assert len(_stale(caught)) == 1 and "model_int8.onnx" in str(_stale(caught)[0].message)
    assert path.read_bytes() == good and (folder / "model.onnx").stat().st_mtime_ns == base
    assert "model_int8.onnx" in read_export(folder)["variants"]


def test_interrupted_export_leaves_nothing_that_looks_complete(tiny_cross_encoder_dir, tmp_path,
                                                               monkeypatch):
    pytest.importorskip("onnxruntime")
    import torch

    from ragcompare.rerank import onnx

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    model = str(tiny_cross_encoder_dir)
    real_export = torch.onnx.export

    def dies_half_way(net, args, path, **kwargs):
        real_export(net, args, path, **kwargs)  # model.onnx is written ...
        raise RuntimeError("killed")  # ... but nothing after it

    monkeypatch.setattr(torch.onnx, "export", dies_half_way)
    with pytest.raises(onnx.OptimizeError, match="killed"):
        onnx.export_onnx(model)
    folder = onnx.onnx_dir(model, "cross-encoder")
    assert not folder.exists() and not list(folder.parent.iterdir())
    monkeypatch.setattr(torch.onnx, "export", real_export)
    assert onnx.read_export(onnx.export_onnx(model))["files"]["model.onnx"]
    # a failed forced rebuild keeps the previous, complete export
    before = onnx.read_export(folder)
    monkeypatch.setattr(torch.onnx, "export", dies_half_way)
    with pytest.raises(onnx.OptimizeError):
        onnx.export_onnx(model, force=True)
    assert onnx.read_export(folder) == before


def test_export_arguments_are_checked(tiny_cross_encoder_dir, tmp_path, monkeypatch):
    from ragcompare.rerank import onnx

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    model = str(tiny_cross_encoder_dir)
    for kwargs in ({"kind": "reranker"}, {"opset": 2.5}, {"opset": 3}, {"force": "yes"}):
        with pytest.raises(InvalidInputError):
            onnx.export_onnx(model, **kwargs)
    with pytest.raises(onnx.OptimizeError, match="incomplete"):
        onnx.optimize_onnx(tmp_path / "not-an-export")
    with pytest.raises(InvalidInputError, match="per_channel"):
        onnx.quantize_onnx(tmp_path, per_channel="no")


# -- the profile's reranker settings (decide) ---------------------------------------------------------
@pytest.mark.parametrize("args", [("128", True), (128, "yes"), (12.5, False), (-1, False)],
                         ids=["str-length", "str-flag", "float-length", "negative-length"])
def test_setting_key_refuses_bad_values(args):
    from ragcompare.decide.rerankers import setting_key

    with pytest.raises(InvalidInputError):
        setting_key(*args)


@pytest.mark.parametrize("kwargs", [{"int8": 1}, {"int8": True, "threads": 0},
                                    {"int8": False, "max_length": 2.5}],
                         ids=["int-flag", "threads-0", "float-length"])
def test_setting_reranker_refuses_bad_values(tiny_cross_encoder_dir, kwargs):
    from ragcompare.decide.rerankers import setting_reranker

    with pytest.raises(InvalidInputError):
        setting_reranker(str(tiny_cross_encoder_dir), **{"max_length": 32, **kwargs})


def test_stand_in_is_saved_whole_and_rebuilt_when_damaged(tiny_cross_encoder_dir, tmp_path,
                                                          monkeypatch):
    import ragcompare.models.pack as pack
    from ragcompare.decide.rerankers import STAND_IN_RECORD, stand_in_path

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pack, "base_model_path", lambda: tiny_cross_encoder_dir)
    target = stand_in_path()
    assert (target / STAND_IN_RECORD).is_file() and stand_in_path() == target
    weights = next(target.glob("*.safetensors"))
    good = weights.read_bytes()
    _flip(weights)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert stand_in_path() == target
    assert any("rebuilding" in str(w.message) for w in caught) and weights.read_bytes() == good
    (target / STAND_IN_RECORD).unlink()  # a folder saved by an interrupted (or older) run
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        stand_in_path()
    assert (target / STAND_IN_RECORD).is_file()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]
    assert isinstance(CrossEncoderReranker(str(target), max_length=32).score("a", ["b"])[0], np.floating)


def test_errors_are_ragcompare_errors():
    from ragcompare.rerank.onnx import OptimizeError

    assert issubclass(ModelOutputError, RagCompareError) and issubclass(OptimizeError, RagCompareError)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=30), docs=st.lists(st.text(max_size=40), max_size=4))
def test_any_text_gets_a_clear_error_or_finite_scores(tiny_reranker, query, docs):
    from ragcompare.checks import visible

    try:
        scores = tiny_reranker.score(query, docs)
    except InvalidInputError:
        assert not visible(query)
        return
    assert visible(query) and scores.shape == (len(docs),) and np.isfinite(scores).all()


def test_onnx_bi_encoder_cache_knows_its_dimension(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from _tiny import tiny_bert
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from ragcompare.rerank.onnx import onnx_bi_encoder

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path / "cache"))
    tr = Transformer(str(tiny_bert(tmp_path / "body", classifier=False)), max_seq_length=32)
    SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), "mean"), Normalize()]).save(
        str(tmp_path / "st"))
    retriever = onnx_bi_encoder(str(tmp_path / "st"), "onnx-fp32", threads=np.int64(1),
                                show_progress=False)
    assert retriever.cache.dim == 32 and "onnx-fp32" in retriever.cache.model
    first = retriever.encode_documents(["the cat sat", "heat flow"])
    np.testing.assert_array_equal(retriever.encode_documents(["the cat sat", "heat flow"]), first)
    assert (retriever.cache.misses, retriever.cache.hits) == (2, 2)
    for bad in ({"variant": "onnx-fp16"}, {"threads": 0}):
        with pytest.raises(InvalidInputError):
            onnx_bi_encoder(str(tmp_path / "st"), **{"variant": "onnx-fp32", **bad})
