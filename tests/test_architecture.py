"""The layout is the architecture: layers import only downwards, settings are read in one place, every
backend satisfies the common protocols, and the public API resolves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ragcompare
from ragcompare.types import Reranker, Retriever

PACKAGE = Path(ragcompare.__file__).resolve().parent
ROOT = PACKAGE.parent

# Lowest first. Modules of layer 0 may import each other; peers of a higher layer may not.
LAYERS = {"types": 0, "checks": 0, "storage": 0, "cliutil": 0, "settings": 0, "sysinfo": 0, "_lazy": 0,
          "data": 1, "models": 2, "retrieval": 3, "rerank": 4, "eval": 5, "decide": 6, "train": 6,
          "teach": 6, "cli": 7}


FACADE = 99  # ``from ragcompare import X``: the public API sits above every layer


def _unit(module: str) -> str:
    """``ragcompare.eval.bench`` -> ``eval``; ``ragcompare.settings`` -> ``settings``; a public name
    imported from the package itself (``ragcompare.load_dataset``) -> ``ragcompare`` (the facade)."""
    parts = module.split(".")
    if len(parts) == 1:
        return ""
    return parts[1] if parts[1] in LAYERS else "ragcompare"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ragcompare import in a file, at any depth (function-level too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = path.relative_to(ROOT).with_suffix("")
    here = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("ragcompare")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = here.split(".")[: len(here.split(".")) - node.level + (rel.name == "__init__")]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("ragcompare"):
                names = [f"{module}.{a.name}" for a in node.names] if module == "ragcompare" else [module]
                out += [(node.lineno, m) for m in names]
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_module_belongs_to_a_layer():
    units = {_unit(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in _modules()}
    assert units <= set(LAYERS), f"modules outside the known layers: {sorted(units - set(LAYERS))}"


def test_layers_import_only_downwards():
    bad = []
    for path in _modules():
        mine = _unit(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for line, module in _imports(path):
            theirs = _unit(module)
            if theirs in ("", mine):
                continue
            layer = LAYERS.get(theirs, FACADE)
            lower = layer < LAYERS[mine] or layer == LAYERS[mine] == 0
            if not lower:
                bad.append(f"{path.relative_to(ROOT)}:{line} ({mine}, layer {LAYERS[mine]}) imports "
                           f"{module} ({theirs}, layer {layer})")
    assert not bad, "imports that go up or sideways:\n" + "\n".join(bad)


def test_environment_is_read_only_in_settings():
    offenders = []
    for path in [*_modules(), *(ROOT / "scripts").glob("*.py")]:
        if path == PACKAGE / "settings.py":
            continue
        text = path.read_text()
        for needle in ("os.environ", "os.getenv", "sys.path.insert", "sys.path.append"):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not offenders, "\n".join(offenders)


def test_public_api_resolves():
    for name in ragcompare.__all__:
        assert getattr(ragcompare, name) is not None, name
    with pytest.raises(AttributeError):
        ragcompare.no_such_name  # noqa: B018


def test_sub_package_exports_resolve():
    import importlib

    for unit, layer in LAYERS.items():
        if (PACKAGE / unit / "__init__.py").is_file():
            pkg = importlib.import_module(f"ragcompare.{unit}")
            missing = [n for n in pkg.__all__ if getattr(pkg, n, None) is None]
            assert not missing, f"ragcompare.{unit} (layer {layer}) lists missing names {missing}"


def test_first_stages_and_pipelines_are_retrievers(small_corpus, bi_retriever, tiny_reranker):
    from ragcompare import BM25Retriever, CrossEncoderOnly, FusionRetriever, HybridPipeline

    bm25 = BM25Retriever().index(small_corpus)
    fusion = FusionRetriever([bm25, bi_retriever])
    hybrid = HybridPipeline(fusion, tiny_reranker, k_retrieve=5).index(small_corpus, index_first_stage=False)
    only = CrossEncoderOnly(tiny_reranker).index(small_corpus)
    for r in (bm25, bi_retriever, fusion, hybrid, only):
        assert isinstance(r, Retriever), type(r).__name__
        hits = r.search(["shock wave on a swept wing"], k=3)
        assert len(hits) == 1 and len(hits[0]) <= 3 and isinstance(r.name, str)


def test_rerankers_are_rerankers(tiny_reranker, tiny_cross_encoder_dir):
    pytest.importorskip("onnxruntime")
    from ragcompare import OnnxCrossEncoderReranker

    onnx = OnnxCrossEncoderReranker(str(tiny_cross_encoder_dir), variant="onnx-fp32", max_length=32)
    for r in (tiny_reranker, onnx):
        assert isinstance(r, Reranker), type(r).__name__
        ranked = r.rerank("wing flow", {"a": "boundary layer flow", "b": "library index"})
        assert sorted(h.doc_id for h in ranked) == ["a", "b"]


def test_on_disk_format_tags_do_not_follow_the_layout():
    """Saved indexes and profiles name their format, not the module that wrote them: moving a module
    must never make yesterday's files unreadable."""
    from ragcompare import storage
    from ragcompare.decide import profile
    from ragcompare.models import pack
    from ragcompare.retrieval import bm25, dense

    assert storage.FORMAT == "ragcompare.artifact/1"
    assert (bm25.LEGACY_FORMAT, dense.LEGACY_FORMAT) == ("ragcompare.bm25/1", "ragcompare.bi_encoder/1")
    assert (bm25.FORMAT, dense.FORMAT, profile.FORMAT, pack.FORMAT) == (
        "ragcompare.bm25/2", "ragcompare.bi_encoder/2", "ragcompare.profile/1", "ragcompare-pack/1")
