"""Model packs and rebuilt model folders are verified: every file of a pack is checked against the sha256
its manifest records before it is used, a damaged cached folder is rebuilt, a junk model folder is a
clear error naming it. Each case asserts a ragcompare error, never a raw library exception.

A tiny random BERT (tests/_tiny.py) packed on a tiny base stands in for the real models; one test
checks the packs shipped in data/models.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from ragcompare import storage
from ragcompare.models import pack as model_pack
from ragcompare.models import resolve
from ragcompare.models.pack import PackError
from ragcompare.models.resolve import ModelNotAvailableError
from ragcompare.settings import MODELS_DIR
from ragcompare.types import InvalidInputError, RagCompareError

sys.path.insert(0, str(Path(__file__).parent))
from _tiny import tiny_bert  # noqa: E402

GZ = "tokenizer.json.gz"


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_memo():
    """Every test hashes for itself (a byte flipped within one mtime tick must not hit the memo)."""
    storage._HASHES.clear()
    yield
    storage._HASHES.clear()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A tiny pack (base: a tiny full folder; tokenizer.json stored gzip-compressed)."""
    root = tmp_path_factory.mktemp("pack-src")
    base = tiny_bert(root / "base")
    full = root / "full"
    shutil.copytree(base, full)
    state = load_file(str(full / model_pack.FULL_WEIGHTS))
    for k in state:  # "training" changed layer 1 and the head; layer 0 and embeddings stay the base's
        if ".layer.1." in k or k.startswith("classifier"):
            state[k] = state[k] + 0.01
    save_file(state, str(full / model_pack.FULL_WEIGHTS), metadata={"format": "pt"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_pack, "_COMPRESS_ABOVE", 1024)  # the tiny tokenizer.json is a few kB
        out = model_pack.pack(full, root / "models" / "tiny", {"name": "tiny", "default": True},
                              base=base)
    assert (out / GZ).is_file()
    return out


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(root))
    return root


@pytest.fixture()
def packed(tmp_path, pristine, cache) -> Path:
    """A fresh copy of the tiny pack (its base is referred to by absolute path)."""
    return Path(shutil.copytree(pristine, tmp_path / "models" / "tiny"))


def _built(cache: Path) -> list[str]:
    models = cache / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def _flip(path: Path, where: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[min(int(len(data) * where), len(data) - 1)] ^= 0xFF
    path.write_bytes(bytes(data))


def _manifest(packed: Path) -> dict:
    return json.loads((packed / model_pack.MANIFEST).read_text())


def _edit_manifest(packed: Path, edit: Callable[[dict], None]) -> None:
    m = _manifest(packed)
    edit(m)
    (packed / model_pack.MANIFEST).write_text(json.dumps(m))


def _replace_recorded(packed: Path, name: str, data: bytes) -> None:
    """Replace a pack file and record its new hash: the manifest vouches for a damaged file."""
    (packed / name).write_bytes(data)
    _edit_manifest(packed, lambda m: m["files"].__setitem__(name, hashlib.sha256(data).hexdigest()))


# -- a damaged pack: nothing is built, a PackError names what is wrong --------------------------
PACK_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "flip-weights": (lambda p: _flip(p / model_pack.WEIGHTS), "changed or was damaged"),
    "flip-weights-header": (lambda p: _flip(p / model_pack.WEIGHTS, 0.0), "changed or was damaged"),
    "flip-config": (lambda p: _flip(p / "config.json"), "config.json changed"),
    "flip-tokenizer-config": (lambda p: _flip(p / "tokenizer_config.json"), "changed"),
    "flip-tokenizer-gz": (lambda p: _flip(p / GZ), "tokenizer.json.gz changed"),
    "flip-card": (lambda p: _flip(p / model_pack.CARD), "card.json changed"),
    "card-edited-by-hand": (lambda p: (p / model_pack.CARD).write_text('{"name": "x"}'), "card.json"),
    "truncated-manifest": (lambda p: (p / "pack.json").write_bytes((p / "pack.json").read_bytes()[:200]),
                           "corrupt"),
    "manifest-not-json": (lambda p: (p / "pack.json").write_text("this is not JSON"), "corrupt"),
    "manifest-empty": (lambda p: (p / "pack.json").write_bytes(b""), "corrupt"),
    "manifest-latin1": (lambda p: (p / "pack.json").write_bytes(b'{"format": "\xe9"}'), "corrupt"),
    "manifest-a-list": (lambda p: (p / "pack.json").write_text("[1, 2]"), "JSON object"),
    "manifest-a-folder": (lambda p: ((p / "pack.json").unlink(), (p / "pack.json").mkdir()), "folder"),
    "manifest-other-format": (lambda p: _edit_manifest(p, lambda m: m.update(format="ragcompare-pack/9")),
                              "unsupported pack format"),
    "manifest-without-hashes": (lambda p: _edit_manifest(p, lambda m: m.pop("files")), "older"),
    "manifest-files-a-list": (lambda p: _edit_manifest(p, lambda m: m.update(files=[])), "'files'"),
    "manifest-no-omitted": (lambda p: _edit_manifest(p, lambda m: m.pop("omitted_tensors")),
                            "omitted_tensors"),
    "manifest-base-a-string": (lambda p: _edit_manifest(p, lambda m: m.update(base="package")), "'base'"),
    "manifest-weights-file-an-int": (lambda p: _edit_manifest(p, lambda m: m.update(weights_file=3)),
                                     "weights_file"),
    "manifest-escaping-name": (lambda p: _edit_manifest(
        p, lambda m: m["files"].__setitem__("../../etc/passwd", "0" * 64)), "passwd"),
    "manifest-digest-not-hex": (lambda p: _edit_manifest(
        p, lambda m: m["files"].__setitem__("config.json", "xyz")), "sha256"),
    "manifest-weights-unhashed": (lambda p: _edit_manifest(
        p, lambda m: m["files"].pop(model_pack.WEIGHTS)), "weights file"),
    "manifest-gz-unhashed": (lambda p: _edit_manifest(p, lambda m: m["files"].pop(GZ)), "compressed"),
    "manifest-bad-shape": (lambda p: _edit_manifest(
        p, lambda m: next(iter(m["omitted_tensors"].values())).update(shape="big")), "shape"),
    "manifest-unknown-base": (lambda p: _edit_manifest(p, lambda m: m.update(base={"kind": "moon"})),
                              "unknown base"),
    "manifest-base-gone": (lambda p: _edit_manifest(
        p, lambda m: m.update(base={"kind": "dir", "path": str(p / "no-such-base")})), "missing"),
    "missing-config": (lambda p: (p / "config.json").unlink(), "config.json is missing"),
    "missing-weights": (lambda p: (p / model_pack.WEIGHTS).unlink(), "is missing"),
    "missing-gz": (lambda p: (p / GZ).unlink(), "is missing"),
    "foreign-file": (lambda p: (p / "pytorch_model.bin").write_bytes(b"\0" * 64), "pytorch_model.bin"),
    "bad-gzip": (lambda p: _replace_recorded(p, GZ, b"not gzip at all"), "cannot rebuild"),
    "truncated-gzip": (lambda p: _replace_recorded(p, GZ, (p / GZ).read_bytes()[:40]), "cannot rebuild"),
    "gzip-of-other-bytes": (lambda p: _replace_recorded(p, GZ, gzip.compress(b"{}")), "decompress"),
    "safetensors-header-garbage": (lambda p: _replace_recorded(p, model_pack.WEIGHTS, b"\xff" * 64),
                                   "cannot read"),
    "safetensors-truncated": (lambda p: _replace_recorded(
        p, model_pack.WEIGHTS, (p / model_pack.WEIGHTS).read_bytes()[:-100]), "cannot read"),
    "weights-of-other-tensors": (lambda p: _replace_recorded(p, model_pack.WEIGHTS, _other_weights()),
                                 "does not hold the tensors"),
}


def _other_weights() -> bytes:
    from safetensors.torch import save

    return save({"something.else": torch.zeros(2)})


@pytest.mark.parametrize("damage", list(PACK_DAMAGE), ids=list(PACK_DAMAGE))
def test_a_damaged_pack_is_refused_and_nothing_is_built(packed, cache, damage):
    corrupt, expected = PACK_DAMAGE[damage]
    corrupt(packed)
    with pytest.raises(PackError, match=expected) as err:
        model_pack.materialize(packed)
    assert isinstance(err.value, RagCompareError)
    assert "\n" not in str(err.value)
    assert _built(cache) == []  # nothing built, nothing half-built left over


def test_a_flipped_weight_byte_loads_nothing(packed, cache):
    """The issue's reproduction: before, the model loaded and scores moved from ~1.5 to ~29.6."""
    _flip(packed / model_pack.WEIGHTS, 0.7)
    for load in (lambda: resolve.resolve_model(str(packed), "cross-encoder"),
                 lambda: resolve.load_cross_encoder(str(packed), max_length=32),
                 lambda: resolve.load_bi_encoder(str(packed))):
        with pytest.raises(PackError, match="weights.fp16.safetensors changed or was damaged since "
                                            "it was packed; reinstall"):
            load()
    assert _built(cache) == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["weights.fp16.safetensors", "config.json", GZ, "card.json",
                              "tokenizer_config.json"]),
       where=st.floats(min_value=0.0, max_value=1.0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_of_any_pack_file_is_caught(pristine, tmp_path_factory, which, where, bit):
    storage._HASHES.clear()
    root = tmp_path_factory.mktemp("flip")
    packed = Path(shutil.copytree(pristine, root / "tiny"))
    path = packed / which
    if not path.is_file():
        return
    data = bytearray(path.read_bytes())
    data[min(int(len(data) * where), len(data) - 1)] ^= 1 << bit
    path.write_bytes(bytes(data))
    with pytest.raises(PackError, match=f"{which} changed or was damaged"):
        model_pack.materialize(packed, cache=root / "cache")


# -- a sound pack: verified, rebuilt once, reused ------------------------------------------------
def test_a_sound_pack_materializes_once_and_records_every_file(packed, cache, pristine):
    manifest = _manifest(packed)
    assert set(manifest["files"]) == {f.name for f in packed.iterdir()} - {"README.md", "pack.json"}
    path = model_pack.materialize(packed)
    marker = json.loads((path / ".complete").read_text())
    assert set(marker["files"]) == {f.name for f in path.iterdir()} - {".complete"}
    assert marker["files"]["model.safetensors"] == hashlib.sha256(
        (path / "model.safetensors").read_bytes()).hexdigest()
    assert model_pack.materialize(packed) == path == model_pack.materialize(path)
    assert _built(cache) == [path.name]
    assert resolve.model_hash(path) == resolve.model_hash(str(path))
    before = resolve.model_hash(path)
    storage._HASHES.clear()
    assert resolve.model_hash(path) == before  # from the marker, without hashing again


CACHE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "flip-model-weights": lambda d: _flip(d / "model.safetensors"),
    "flip-config": lambda d: _flip(d / "config.json"),
    "missing-tokenizer": lambda d: (d / "tokenizer.json").unlink(),
    "foreign-file": lambda d: (d / "pytorch_model.bin").write_bytes(b"x"),
    "marker-not-json": lambda d: (d / ".complete").write_text("garbage"),
    "marker-plain-text": lambda d: (d / ".complete").write_text("/some/pack\n"),
    "marker-without-files": lambda d: (d / ".complete").write_text(json.dumps({"format": "x"})),
}


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE), ids=list(CACHE_DAMAGE))
def test_a_damaged_cached_folder_is_rebuilt(packed, cache, damage, caplog):
    path = model_pack.materialize(packed)
    good = {f.name: f.read_bytes() for f in path.iterdir() if f.name != ".complete"}
    CACHE_DAMAGE[damage](path)
    storage._HASHES.clear()
    with caplog.at_level(logging.WARNING, logger="ragcompare.models.pack"):
        assert model_pack.materialize(packed) == path
    assert "rebuilding it" in caplog.text and str(path) in caplog.text
    assert {f.name: f.read_bytes() for f in path.iterdir() if f.name != ".complete"} == good
    assert resolve.marker_problem(path) is None
    assert _built(cache) == [path.name]  # no temporary sibling left over


def test_a_damaged_rebuilt_folder_given_directly_is_a_clear_error(packed, cache):
    path = model_pack.materialize(packed)
    _flip(path / "model.safetensors")
    storage._HASHES.clear()
    for load in (lambda: model_pack.materialize(path), lambda: resolve.resolve_model(str(path))):
        with pytest.raises(PackError, match="model.safetensors changed or was damaged"):
            load()


def test_a_damaged_base_pack_is_caught_through_the_chain(tmp_path, pristine, cache):
    """A pack on a packed base: damage in the base pack is reported (naming the base's file)."""
    models = tmp_path / "models"
    base_pack = Path(shutil.copytree(pristine, models / "tiny"))
    work = tmp_path / "work"
    shutil.copytree(model_pack.materialize(base_pack), work)
    state = load_file(str(work / "model.safetensors"))
    state["classifier.bias"] = state["classifier.bias"] + 1.0
    save_file(state, str(work / "model.safetensors"), metadata={"format": "pt"})
    (work / ".complete").unlink()
    (work / "pack.json").unlink()
    top = model_pack.pack(work, models / "top", {"name": "top"}, base=base_pack)
    assert _manifest(top)["base"] == {"kind": "packed", "name": "tiny", "path": "../tiny"}
    shutil.rmtree(cache)
    _flip(base_pack / model_pack.WEIGHTS)
    storage._HASHES.clear()
    with pytest.raises(PackError, match=f"{base_pack.name}/weights.fp16.safetensors changed"):
        model_pack.materialize(top)


def test_a_base_chain_that_loops_is_refused(packed, cache):
    _edit_manifest(packed, lambda m: m.update(base={"kind": "packed", "name": "tiny", "path": "."}))
    with pytest.raises(PackError, match="comes back to it"):
        model_pack.materialize(packed)


# -- writing: the card's hash follows the card; a failed pack keeps the previous one -------------
def test_write_card_refreshes_the_manifest_in_one_step(packed, cache):
    model_pack.write_card(packed, {"name": "tiny", "note": "re-evaluated", "default": False})
    assert _manifest(packed)["files"]["card.json"] == hashlib.sha256(
        (packed / "card.json").read_bytes()).hexdigest()
    assert '"re-evaluated"' not in (packed / "pack.json").read_text()
    path = model_pack.materialize(packed)  # verifies, including the new card
    assert model_pack.read_card(path)["note"] == "re-evaluated"
    model_pack.write_card(path, {"name": "tiny", "note": "again"})  # a rebuilt folder: marker follows
    storage._HASHES.clear()
    assert resolve.marker_problem(path) is None
    assert not [p for p in packed.parent.iterdir() if p.name.startswith(".")]  # no temporary sibling


@pytest.mark.parametrize("card", [float("nan"), {"x": object()}, "a string"], ids=["nan", "object", "str"])
def test_write_card_refuses_what_json_cannot_hold_before_writing(packed, card):
    before = {f.name: f.read_bytes() for f in packed.iterdir()}
    bad = {"name": "tiny", "score": card} if not isinstance(card, str) else card
    with pytest.raises(RagCompareError):
        model_pack.write_card(packed, bad)
    assert {f.name: f.read_bytes() for f in packed.iterdir()} == before


def test_a_failed_pack_leaves_the_previous_pack_intact(packed, cache, monkeypatch):
    full = model_pack.materialize(packed)
    before = {f.name: f.read_bytes() for f in packed.iterdir()}
    base = _manifest(packed)["base"]["path"]

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(model_pack, "save_file", full_disk)
        with pytest.raises(PackError, match="No space left on device.*untouched"):
            model_pack.pack(full, packed, {"name": "new"}, base=base)
    assert {f.name: f.read_bytes() for f in packed.iterdir()} == before
    assert not [p for p in packed.parent.iterdir() if p.name.startswith(".")]
    storage._HASHES.clear()
    assert model_pack.materialize(packed) == full


def test_pack_refuses_to_replace_what_is_not_a_pack(packed, tmp_path):
    full = model_pack.materialize(packed)
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.tex").write_text("precious")
    with pytest.raises(PackError, match="not a pack"):
        model_pack.pack(full, other, {"name": "x"}, base=_manifest(packed)["base"]["path"])
    assert (other / "chapter1.tex").read_text() == "precious"
    with pytest.raises(PackError, match="replace the model"):
        model_pack.pack(full, full, {"name": "x"})


# -- junk model folders and ids ----------------------------------------------------------------
def _junk_config(text: str) -> Callable[[Path], None]:
    return lambda d: (d / "config.json").write_text(text)


JUNK_FOLDERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty-folder": (lambda d: shutil.rmtree(d) or d.mkdir(), "holds no model"),
    "only-a-card": (lambda d: [f.unlink() for f in d.iterdir() if f.name != "card.json"]
                    and (d / "card.json").write_text("{}"), "holds no model"),
    "no-weights": (lambda d: (d / "model.safetensors").unlink(), "no weight files"),
    "truncated-config": (_junk_config('{"model_type": "be'), "config.json"),
    "config-a-list": (_junk_config("[1, 2]"), "config.json"),
    "config-latin1": (lambda d: (d / "config.json").write_bytes(b'{"model_type": "\xe9"}'), "config.json"),
    "config-without-model-type": (_junk_config('{"hidden_size": 32}'), "model_type"),
    "tokenizer-truncated": (lambda d: (d / "tokenizer.json").write_text('{"version": '), "tokenizer.json"),
    "safetensors-header-garbage": (lambda d: (d / "model.safetensors").write_bytes(b"garbage" * 10),
                                   "model.safetensors is damaged"),
    "safetensors-truncated": (lambda d: (d / "model.safetensors").write_bytes(
        (d / "model.safetensors").read_bytes()[:-100]), "model.safetensors is damaged"),
    "junk-pack-json": (lambda d: (d / "pack.json").write_text("{}"), "unsupported pack format"),
}


@pytest.fixture()
def full_folder(tmp_path) -> Path:
    return tiny_bert(tmp_path / "model")


@pytest.mark.parametrize("junk", list(JUNK_FOLDERS), ids=list(JUNK_FOLDERS))
def test_a_junk_model_folder_is_a_clear_error_naming_it(full_folder, junk):
    corrupt, expected = JUNK_FOLDERS[junk]
    corrupt(full_folder)
    with pytest.raises((ModelNotAvailableError, PackError), match=expected) as err:
        resolve.resolve_model(str(full_folder), "cross-encoder")
    assert str(full_folder) in str(err.value)


@pytest.mark.parametrize("junk", ["truncated-config", "config-without-model-type", "tokenizer-truncated",
                                  "safetensors-header-garbage", "no-weights"])
@pytest.mark.parametrize("loader", ["bi", "cross"])
def test_a_broken_folder_fails_inside_the_loader_as_a_ragcompare_error(full_folder, junk, loader,
                                                                       monkeypatch):
    """Even past resolve_model, what sentence-transformers raises reading a broken folder becomes a
    ModelNotAvailableError naming it."""
    JUNK_FOLDERS[junk][0](full_folder)
    monkeypatch.setattr(resolve, "resolve_model", lambda name, kind="bi-encoder": str(name))
    load = resolve.load_bi_encoder if loader == "bi" else resolve.load_cross_encoder
    with pytest.raises(ModelNotAvailableError, match="incomplete or damaged") as err:
        load(str(full_folder))
    assert str(full_folder) in str(err.value)


def test_a_bug_inside_the_loader_is_not_disguised(full_folder, monkeypatch):
    import sentence_transformers

    def buggy(*args, **kwargs):
        raise ValueError("a genuine bug")

    monkeypatch.setattr(sentence_transformers, "CrossEncoder", buggy)
    with pytest.raises(ValueError, match="a genuine bug") as err:
        resolve.load_cross_encoder(str(full_folder))
    assert not isinstance(err.value, RagCompareError)


def test_a_sound_folder_resolves_and_loads(full_folder):
    assert resolve.resolve_model(full_folder) == str(full_folder)  # a Path is accepted too
    model = resolve.load_cross_encoder(str(full_folder), max_length=16)
    assert len(model.predict([("the cat", "the mat")])) == 1


@pytest.mark.parametrize("name", ["", "   ", None, 42, ["a"], b"bytes", "nul\0byte"],
                         ids=["empty", "blank", "none", "int", "list", "bytes", "nul"])
def test_a_bad_model_id_is_a_clear_error(name):
    with pytest.raises(ModelNotAvailableError, match="non-empty string"):
        resolve.resolve_model(name)


def test_a_file_instead_of_a_folder(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(ModelNotAvailableError, match="is a file, not a model folder"):
        resolve.resolve_model(str(f))
    with pytest.raises(PackError, match="not a folder"):
        model_pack.materialize(f)


@pytest.mark.parametrize("call", [
    lambda p: resolve.resolve_model(str(p), kind="encoder"),
    lambda p: resolve.load_cross_encoder(str(p), max_length=0),
    lambda p: resolve.load_cross_encoder(str(p), max_length=2.5),
    lambda p: resolve.load_bi_encoder(str(p), device=None),
    lambda p: model_pack.materialize(None),
    lambda p: model_pack.materialize(""),
    lambda p: model_pack.materialize(p, unverified="embeddings"),
    lambda p: model_pack.write_card(p, ["not", "a", "card"]),
    lambda p: resolve.model_hash(None),
], ids=["kind", "max-length-0", "max-length-float", "device-none", "materialize-none",
        "materialize-empty", "unverified-str", "card-a-list", "hash-none"])
def test_bad_arguments_are_refused_with_their_name(full_folder, call):
    with pytest.raises(InvalidInputError):
        call(full_folder)


def test_model_hash_covers_the_weights(full_folder, tmp_path):
    first = resolve.model_hash(full_folder)
    assert first == resolve.model_hash(str(full_folder))
    (full_folder / "README.md").write_text("docs do not count")
    assert resolve.model_hash(full_folder) == first
    _flip(full_folder / "model.safetensors")
    storage._HASHES.clear()
    assert resolve.model_hash(full_folder) != first
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotAvailableError, match="no weight files"):
        resolve.model_hash(empty)
    with pytest.raises(ModelNotAvailableError, match="not a local model folder"):
        resolve.model_hash(str(tmp_path / "nowhere"))


# -- the shipped packs -------------------------------------------------------------------------
def test_every_shipped_pack_verifies_and_materializes():
    """All of data/models (the real cache is reused; a first run rebuilds them in about a second)."""
    shipped = sorted(p for p in MODELS_DIR.iterdir() if (p / model_pack.MANIFEST).is_file())
    assert shipped, "no packs in data/models"
    for p in shipped:
        manifest = model_pack.read_manifest(p)
        assert set(manifest["files"]) == {f.name for f in p.iterdir()} - {"README.md", "pack.json"}
        model_pack.verify_pack(p, manifest)
        path = model_pack.materialize(p)
        assert resolve.marker_problem(path) is None
        assert len(resolve.model_hash(path)) == 64
