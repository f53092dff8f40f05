"""The notebooks are jupytext pairs: each ``.ipynb`` (executed, outputs stored) has a percent-format
``.py`` source holding the same cells; sources use the public API; stored outputs leak no machine
details; the repository is ruff-clean. Nothing here executes a notebook."""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))
EXECUTED = sorted(NOTEBOOKS.glob("*.ipynb"))

MACHINE_PATH = re.compile(r"/root/|/home/|/Users/|/work/|site-packages|\.venv\b")
INTERNAL_IMPORT = re.compile(r"^\s*(from\s+ragcompare\.\w+\.\w+\s+import|import\s+ragcompare\.\w+\.\w+)",
                             re.M)
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+|\d+(\.\d+)?\s*(it|s)/(s|it)\]")  # tqdm bar, rate
OBJECT_REPR = re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>")  # a default repr with an address
ENVIRONMENT = re.compile(r"\bos\.(environ|getenv)\b")


def _param(path: Path):
    """``path`` as a test parameter named after the notebook."""
    return pytest.param(path, id=path.stem)


def _cells(path: Path) -> list[tuple[str, str]]:
    jupytext = pytest.importorskip("jupytext")
    return [(cell.cell_type, cell.source) for cell in jupytext.read(path).cells]


def _output_texts(output: dict) -> list[str]:
    """The human-readable text of one stored output (streams, text/* data, tracebacks)."""
    if output["output_type"] == "stream":
        return ["".join(output["text"])]
    if output["output_type"] == "error":
        return ["\n".join(output.get("traceback", []))]
    return ["".join(value) if isinstance(value, list) else str(value)
            for mime, value in output.get("data", {}).items() if mime.startswith("text/")]


def output_problems(notebook: Path) -> list[str]:
    """Each stored output of ``notebook`` that is a stderr stream, a traceback, a progress bar, an object
    repr with a memory address, or names a machine path."""
    problems = []
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                what = f"{output.get('ename')}: {output.get('evalue', '')[:80]!r}"
                problems.append(f"cell {number}: traceback {what}")
                continue
            if output["output_type"] == "stream" and output.get("name") == "stderr":
                problems.append(f"cell {number}: stderr stream {''.join(output['text'])[:80]!r}")
                continue
            for text in _output_texts(output):
                if PROGRESS_BAR.search(text):
                    problems.append(f"cell {number}: progress bar {text[:80]!r}")
                if OBJECT_REPR.search(text):
                    problems.append(f"cell {number}: object repr {OBJECT_REPR.search(text).group(0)!r}")
                match = MACHINE_PATH.search(text)
                if match:
                    context = text[max(0, match.start() - 40):match.end() + 40]
                    problems.append(f"cell {number}: machine path {context!r}")
    return problems


def test_notebooks_exist():
    assert EXECUTED, f"no notebooks in {NOTEBOOKS}"


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    assert {p.stem for p in EXECUTED} == {p.stem for p in SOURCES}


@pytest.mark.parametrize("source", [_param(p) for p in SOURCES])
def test_notebook_and_source_hold_the_same_cells(source: Path):
    notebook = source.with_suffix(".ipynb")
    assert notebook.exists(), f"{source.name} has no notebook"
    expected, stored = _cells(source), _cells(notebook)
    assert [t for t, _ in stored] == [t for t, _ in expected], (
        f"{notebook.name} and {source.name} differ in their cells: run `jupytext --sync {source.name}`")
    for number, (a, b) in enumerate(zip(expected, stored)):
        assert a == b, (f"cell {number} of {notebook.name} differs from {source.name}: "
                        f"run `jupytext --sync` on the one you edited")


@pytest.mark.parametrize("notebook", [_param(p) for p in EXECUTED])
def test_stored_outputs_are_clean(notebook: Path):
    problems = output_problems(notebook)
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)


def test_output_check_finds_paths_stderr_and_progress_bars(tmp_path: Path):
    cell = {"cell_type": "code", "source": "", "metadata": {}, "outputs": [
        {"output_type": "stream", "name": "stdout", "text": ["loaded from /root/.cache/model\n"]},
        {"output_type": "stream", "name": "stderr", "text": ["a warning\n"]},
        {"output_type": "execute_result", "data": {"text/plain": ["fine"]}, "metadata": {}},
        {"output_type": "display_data", "data": {"text/html": "<td>.venv/lib</td>"}, "metadata": {}},
        {"output_type": "display_data", "metadata": {}, "data": {
            "text/plain": ["Batches:  50%|#####     | 22/44 [00:03<00:03,  6.1it/s]"]}},
        {"output_type": "stream", "name": "stdout", "text": ["3.2x at 50% of the cost | 20/20 ok\n"]},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["Traceback"]},
        {"output_type": "execute_result", "metadata": {}, "data": {
            "text/plain": ["<ragcompare.retrieval.dense.BiEncoderRetriever at 0x7f3a2c1b9d50>"]}}]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell]}))
    problems = output_problems(path)
    assert len(problems) == 6
    assert "/root/" in problems[0] and "stderr" in problems[1] and ".venv" in problems[2]
    assert "progress bar" in problems[3] and "traceback ValueError" in problems[4]
    assert "object repr" in problems[5]


@pytest.mark.parametrize("source", [_param(p) for p in SOURCES])
def test_sources_use_the_public_api_and_read_no_environment(source: Path):
    text = source.read_text(encoding="utf-8")
    internal = [m.group(1) for m in INTERNAL_IMPORT.finditer(text)]
    assert not internal, f"{source.name} imports internal modules (use ragcompare or its sub-packages)"
    assert not ENVIRONMENT.search(text), f"{source.name} reads the environment (ragcompare.settings does)"


def _ragcompare_imports(source: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every ``from ragcompare... import name`` in a notebook source."""
    tree = ast.parse("\n".join(line for line in source.read_text(encoding="utf-8").splitlines()
                               if not line.lstrip().startswith("%")))
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ragcompare"
            for alias in node.names]


@pytest.mark.parametrize("source", [_param(p) for p in SOURCES])
def test_sources_import_names_that_exist(source: Path):
    missing = []
    for module, name in _ragcompare_imports(source):
        try:
            getattr(importlib.import_module(module), name)
        except AttributeError:
            missing.append(f"{module}.{name}")
    assert not missing, f"{source.name} imports names that do not exist: {missing}"


def test_setup_notebook_configures_the_session(monkeypatch, capsys):
    plt = pytest.importorskip("matplotlib.pyplot")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("seaborn")
    torch = pytest.importorskip("torch")
    from transformers.utils import logging as hf_logging

    from ragcompare.teach import setup_notebook

    threads, verbosity = torch.get_num_threads(), hf_logging.get_verbosity()
    monkeypatch.setenv("RAGCOMPARE_QUICK", "1")
    try:
        with (plt.rc_context({"figure.dpi": 72}), warnings.catch_warnings(),
              pd.option_context("display.precision", 6, "display.max_colwidth", 50)):
            assert setup_notebook(torch_threads=1) is True
            assert plt.rcParams["figure.figsize"] == [7, 3.6]
            assert plt.rcParams["figure.dpi"] == 100
            assert pd.get_option("display.precision") == 3
            assert pd.get_option("display.max_colwidth") == 90
            assert torch.get_num_threads() == 1
            assert hf_logging.get_verbosity() == hf_logging.ERROR
            monkeypatch.delenv("RAGCOMPARE_QUICK")
            assert setup_notebook(torch_threads=None) is False
    finally:
        torch.set_num_threads(threads)
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "quick mode" and lines[2] == "full mode"
    assert "torch threads" in lines[1]


def test_pin_threads_sets_torch_and_faiss(capsys):
    torch = pytest.importorskip("torch")
    faiss = pytest.importorskip("faiss")
    from ragcompare.teach import pin_threads

    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    try:
        assert pin_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert faiss.omp_get_max_threads() == 1
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])
    assert capsys.readouterr().out == "torch threads: 1, ONNX Runtime intra-op threads: 1\n"


def test_repository_is_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
