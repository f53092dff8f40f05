"""The command lines check every argument before any work and never show a traceback: a user error is
one ``ragcompare: error: ...`` line with exit status 2, an unexpected one a line with a ``--debug``
hint (exit 1), Ctrl-C exit 130 with the finished part of a benchmark saved. Plus the argument checks
of the Python entries behind them (``run_benchmark``, ``recommend``, ``calibrate``, profiles) and
their atomic saves."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ragcompare.data.beir as beir
import ragcompare.decide.calibration as calibration
import ragcompare.decide.quality as quality_module
import ragcompare.decide.recommender as recommender
import ragcompare.eval.bench as bench
import ragcompare.models.resolve as resolve
import ragcompare.sysinfo as sysinfo
from ragcompare import cli
from ragcompare.decide.profile import SHIPPED_PROFILE, HardwareProfile, ProfileError, load_profile
from ragcompare.settings import PROJECT_ROOT
from ragcompare.storage import ArtifactError
from ragcompare.train import cli as train_cli
from ragcompare.train.io import dump_json, dump_xz, load_xz, read_json
from ragcompare.types import Hit, InvalidInputError

PREFIX = "ragcompare: error: "


def _forbid(what: str) -> Callable[..., None]:
    def fail(*_args, **_kwargs) -> None:
        raise AssertionError(f"{what} ran before the arguments were checked")

    return fail


@pytest.fixture()
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every entry that reads data, loads a model, measures or trains fails the test if reached."""
    for module, name in ((bench, "run_benchmark"), (beir, "load_dataset"), (sysinfo, "set_threads"),
                         (resolve, "load_bi_encoder"), (resolve, "load_cross_encoder"),
                         (calibration, "_calibrate"), (calibration, "measure_quality"),
                         (quality_module, "measure_quality"), (recommender, "candidate_options"),
                         (train_cli, "_train_run"), (train_cli, "_gpu_run")):
        monkeypatch.setattr(module, name, _forbid(f"{module.__name__}.{name}"))


def _one_error_line(capsys: pytest.CaptureFixture, code: int, expect: int = 2) -> str:
    out, err = capsys.readouterr()
    assert code == expect, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), err
    assert lines[0].startswith(PREFIX), lines[0]
    assert out == ""
    return lines[0]


# -- files the cases point at -------------------------------------------------------------------
def _tiny_beir(root: Path) -> Path:
    """A three-document BEIR-layout collection with two judged queries."""
    (root / "qrels").mkdir(parents=True)
    docs = {"d1": "shock waves on swept wings", "d2": "boundary layer heat transfer",
            "d3": "library classification"}
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n"
                                               for k, v in docs.items()))
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "shock wave"}) + "\n"
                                        + json.dumps({"_id": "q2", "text": "heat transfer"}) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return root


def _shipped() -> dict:
    return json.loads(SHIPPED_PROFILE.read_text())


def _set(path: str, value: object) -> Callable[[dict], None]:
    """A mutation setting ``d[a][b]...`` (``a.b.0.c``) to ``value``."""
    def mutate(d: dict) -> None:
        *head, last = path.split(".")
        for key in head:
            d = d[int(key)] if isinstance(d, list) else d[key]
        d[int(last) if isinstance(d, list) else last] = value

    return mutate


def _drop(path: str) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        *head, last = path.split(".")
        for key in head:
            d = d[int(key)] if isinstance(d, list) else d[key]
        del d[last]

    return mutate


PROFILE_DEFECTS = {  # id: (mutation of the shipped profile, what the message names)
    "bi-encoder-empty": (_set("bi_encoder", {}), "bi_encoder is empty"),
    "bi-encoder-list": (_set("bi_encoder", []), "bi_encoder"),
    "indexes-missing": (_drop("indexes"), "missing indexes"),
    "indexes-empty": (_set("indexes", {}), "indexes is empty"),
    "cross-encoder-empty": (_set("cross_encoder", {}), "cross_encoder is empty"),
    "p50-a-string": (_set("bi_encoder.p50_ms", "fast"), "bi_encoder.p50_ms"),
    "p50-nan": (_set("bi_encoder.p50_ms", math.nan), "bi_encoder.p50_ms"),
    "p50-zero": (_set("bi_encoder.p50_ms", 0), "bi_encoder.p50_ms"),
    "p95-missing": (_drop("bi_encoder.p95_ms"), "bi_encoder.p95_ms is missing"),
    "points-not-a-list": (_set("indexes.Flat.points", {}), "indexes.Flat.points"),
    "points-empty": (_set("indexes.Flat.points", []), "indexes.Flat.points"),
    "point-n-missing": (_drop("indexes.Flat.points.0.n"), "indexes.Flat.points[0].n"),
    "recall-above-1": (_set("indexes.HNSW32.points.0.recall@10", 1.5), "recall@10"),
    "bytes-infinite": (_set("indexes.Flat.points.1.bytes", math.inf), "bytes"),
    "bytes-a-bool": (_set("indexes.Flat.points.1.bytes", True), "bytes"),
    "int8-a-string": (_set("cross_encoder.settings.128.int8", "no"), "int8"),
    "ms-per-pair-null": (_set("cross_encoder.settings.256.ms_per_pair", None), "ms_per_pair"),
    "max-length-zero": (_set("cross_encoder.settings.256.max_length", 0), "max_length"),
    "settings-a-list": (_set("cross_encoder.settings", []), "cross_encoder.settings"),
    "machine-a-list": (_set("machine", []), "machine"),
    "device-a-number": (_set("device", 3), "device"),
    "format-foreign": (_set("format", "other/1"), "not a ragcompare hardware profile"),
    "unknown-field": (_set("surprise", 1), "unknown surprise"),
    "quality-datasets-a-list": (_set("quality.datasets", []), "quality.datasets"),
}
PROFILE_FILES = {  # id: file content (None: no file), what the message names
    "missing": (None, "no hardware profile"),
    "not-json": (b"{not json", "corrupt"),
    "empty-file": (b"", "corrupt"),
    "json-list": (b"[1, 2]", "expected a JSON object"),
    "not-utf8": (b"\xff\xfe{}", "corrupt"),
}


def _bad_profile(tmp: Path, case: str) -> tuple[Path, str]:
    path = tmp / f"{case}.json"
    if case in PROFILE_FILES:
        content, expected = PROFILE_FILES[case]
        if content is not None:
            path.write_bytes(content)
        return path, expected
    mutate, expected = PROFILE_DEFECTS[case]
    d = _shipped()
    mutate(d)
    path.write_text(json.dumps(d))  # NaN / Infinity as JSON's extensions, as a hand edit would
    return path, expected


PROFILE_CASES = [*PROFILE_FILES, *PROFILE_DEFECTS]


# -- ragcompare bench / recommend / calibrate: bad arguments ------------------------------------
def _files(tmp: Path) -> dict[str, str]:
    junk = tmp / "junk-model"
    junk.mkdir()
    (junk / "config.json").write_text("{broken")
    (junk / "model.safetensors").write_bytes(b"\x00" * 16)
    weightless = tmp / "weightless-model"
    weightless.mkdir()
    (weightless / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp / "a-file.txt").write_text("x")
    (tmp / "a-folder").mkdir()
    return {"junk": str(junk), "weightless": str(weightless), "file": str(tmp / "a-file.txt"),
            "folder": str(tmp / "a-folder"), "missing_dir_out": str(tmp / "no" / "such" / "x.json"),
            "tmp": str(tmp)}


BENCH = {  # id: argv after "bench" (``{name}`` formatted from _files)
    "k-retrieve-0": ["--k-retrieve", "0"],
    "k-retrieve-negative": ["--k-retrieve", "-5"],
    "k-retrieve-fraction": ["--k-retrieve", "2.5"],
    "k-retrieve-word": ["--k-retrieve", "many"],
    "k-retrieve-no-value": ["--k-retrieve"],
    "max-length-0": ["--max-length", "0"],
    "max-length-empty": ["--max-length", ""],
    "rerank-queries-negative": ["--rerank-queries", "-1"],
    "rerank-queries-0": ["--rerank-queries", "0"],
    "ce-only-queries-negative": ["--ce-only-queries", "-1"],
    "threads-negative": ["--threads", "-1"],
    "threads-0": ["--threads", "0"],
    "threads-word": ["--threads", "all"],
    "output-missing-folder": ["--output", "{missing_dir_out}"],
    "output-is-a-folder": ["--output", "{folder}"],
    "output-under-a-file": ["--output", "{file}/x.json"],
    "output-empty": ["--output", ""],
    "alpha-above-1": ["--alpha", "1.5"],
    "alpha-negative": ["--alpha=-0.1"],
    "alpha-word": ["--alpha", "half"],
    "alpha-nan": ["--alpha", "nan"],
    "alpha-empty-item": ["--alpha", "0.3,,0.5"],
    "first-stage-unknown": ["--first-stages", "bm25,foo"],
    "first-stages-empty": ["--first-stages", ""],
    "dataset-unknown": ["--dataset", "no-such-set"],
    "dataset-missing-path": ["--dataset", "{tmp}/nothing/here"],
    "dataset-empty": ["--dataset", " "],
    "cross-encoder-junk-folder": ["--cross-encoder", "{junk}"],
    "cross-encoder-a-file": ["--cross-encoder", "{file}"],
    "cross-encoder-no-weights": ["--cross-encoder", "{weightless}"],
    "bi-encoder-junk-folder": ["--bi-encoder", "{junk}"],
    "unknown-option": ["--frobnicate"],
}
RECOMMEND = {  # id: argv after "recommend"
    "corpus-1e400": ["--corpus-size", "1e400", "--latency-ms", "50"],
    "corpus-nan": ["--corpus-size", "nan", "--latency-ms", "50"],
    "corpus-inf": ["--corpus-size", "inf", "--latency-ms", "50"],
    "corpus-0": ["--corpus-size", "0", "--latency-ms", "50"],
    "corpus-negative": ["--corpus-size", "-3", "--latency-ms", "50"],
    "corpus-word": ["--corpus-size", "lots", "--latency-ms", "50"],
    "corpus-rounds-to-0": ["--corpus-size", "0.2", "--latency-ms", "50"],
    "latency-0": ["--corpus-size", "1e4", "--latency-ms", "0"],
    "latency-negative": ["--corpus-size", "1e4", "--latency-ms", "-1"],
    "latency-inf": ["--corpus-size", "1e4", "--latency-ms", "inf"],
    "latency-missing": ["--corpus-size", "1e4"],
    "accuracy-unknown": ["--corpus-size", "1e4", "--latency-ms", "50", "--accuracy", "ultra"],
    "accuracy-empty": ["--corpus-size", "1e4", "--latency-ms", "50", "--accuracy", ""],
    "memory-0": ["--corpus-size", "1e4", "--latency-ms", "50", "--memory-gb", "0"],
    "memory-negative": ["--corpus-size", "1e4", "--latency-ms", "50", "--memory-gb", "-2"],
    "memory-nan": ["--corpus-size", "1e4", "--latency-ms", "50", "--memory-gb", "nan"],
    "query-tokens-0": ["--corpus-size", "1e4", "--latency-ms", "50", "--query-tokens", "0"],
    "query-tokens-negative": ["--corpus-size", "1e4", "--latency-ms", "50", "--query-tokens", "-5"],
    "query-tokens-huge": ["--corpus-size", "1e4", "--latency-ms", "50", "--query-tokens", "1e9"],
    "profile-unknown-device": ["--corpus-size", "1e4", "--latency-ms", "50", "--profile", "tpu"],
    "profile-a-folder": ["--corpus-size", "1e4", "--latency-ms", "50", "--profile", "{folder}"],
}
CALIBRATE = {  # id: argv after "calibrate"
    "threads-negative": ["--threads", "-1"],
    "threads-0": ["--threads", "0"],
    "quality-queries-0": ["--quality", "--quality-queries", "0"],
    "quality-queries-negative": ["--quality-queries", "-2"],
    "output-missing-folder": ["--output", "{missing_dir_out}"],
    "output-is-a-folder": ["--output", "{folder}"],
    "quality-only-missing-profile": ["--quality-only", "--output", "{tmp}/absent.json"],
    "quality-only-corrupt-profile": ["--quality-only", "--output", "{file}"],
}
CASES = ([("bench", k, v) for k, v in BENCH.items()] + [("recommend", k, v) for k, v in RECOMMEND.items()]
         + [("calibrate", k, v) for k, v in CALIBRATE.items()] + [("", "no-command", []),
                                                                   ("frobnicate", "unknown-command", [])])


@pytest.mark.parametrize(("command", "argv"), [pytest.param(c, a, id=f"{c or 'ragcompare'}-{i}")
                                               for c, i, a in CASES])
def test_ragcompare_refuses_bad_arguments_in_one_line(command, argv, tmp_path, no_work, capsys):
    files = _files(tmp_path)
    full = ([command] if command else []) + [a.format(**files) for a in argv]
    line = _one_error_line(capsys, cli.main(full))
    assert "unexpected" not in line


@pytest.mark.parametrize("case", PROFILE_CASES)
def test_recommend_refuses_a_bad_profile_in_one_line(case, tmp_path, no_work, capsys):
    path, expected = _bad_profile(tmp_path, case)
    line = _one_error_line(capsys, cli.main(["recommend", "--corpus-size", "1e4", "--latency-ms",
                                             "50", "--profile", str(path)]))
    assert str(path) in line and expected in line


@pytest.mark.parametrize("case", PROFILE_CASES)
def test_load_profile_names_the_profile_and_the_field(case, tmp_path):
    path, expected = _bad_profile(tmp_path, case)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(path) in str(err.value) and expected in str(err.value)


@pytest.mark.parametrize("case", ["not-json", "indexes-empty", "json-list"])
def test_a_damaged_own_profile_is_named_not_replaced_by_the_shipped_one(case, tmp_path, monkeypatch,
                                                                        no_work, capsys):
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    (tmp_path / "profiles").mkdir()
    path, _ = _bad_profile(tmp_path / "profiles", case)
    path.rename(tmp_path / "profiles" / "cpu.json")
    with pytest.raises(ProfileError, match="cpu.json"):
        load_profile()
    line = _one_error_line(capsys, cli.main(["recommend", "--corpus-size", "1e4", "--latency-ms", "50"]))
    assert str(tmp_path / "profiles" / "cpu.json") in line


def test_the_error_names_the_argument_and_points_to_help(no_work, capsys):
    line = _one_error_line(capsys, cli.main(["bench", "--k-retrieve", "0"]))
    assert line == (f"{PREFIX}argument --k-retrieve: must be at least 1, got 0 "
                    "(see ragcompare bench --help)")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.integers(max_value=0).map(str),
                       st.floats(allow_nan=True, allow_infinity=True).filter(
                           lambda x: not (math.isfinite(x) and x == int(x))).map(repr),
                       st.text(st.characters(blacklist_categories=["Nd"]), max_size=12)))
def test_any_bad_k_retrieve_is_one_line(value, no_work, capsys):
    _one_error_line(capsys, cli.main(["bench", f"--k-retrieve={value}"]))


# -- python -m ragcompare.train / ragcompare.train.gpu --------------------------------------------
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that passes the 'is a model folder' check (nothing loads it)."""
    folder = tmp_path_factory.mktemp("m") / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 2}))
    (folder / "card.json").write_text(json.dumps({"held_out_collections": ["cisi"]}))
    return folder


RR = ["reranker", "--name", "x", "--train-on", "cisi", "--eval-on", "cranfield"]
TRAIN = {  # id: argv (``{model}``, ``{file}``, ``{folder}``, ``{tmp}`` formatted)
    "seed-word": ["--seed", "abc", "sts"],
    "threads-negative": ["--threads", "-1", "sts"],
    "work-dir-a-file": ["--work-dir", "{file}", "sts"],
    "epochs-0": ["sts", "--epochs", "0"],
    "epochs-nan": ["sts", "--epochs", "nan"],
    "lr-body-negative": ["sts", "--lr-body=-1e-5"],
    "budget-inf": ["sts", "--budget-s", "inf"],
    "eval-steps-0": ["sts", "--eval-steps", "0"],
    "max-steps-0": ["sts", "--max-steps", "0"],
    "frozen-layers-negative": ["sts", "--frozen-layers", "-1"],
    "frozen-layers-too-many": ["sts", "--init", "{model}", "--frozen-layers", "3"],
    "silver-negative": ["sts", "--silver", "-1"],
    "negatives-negative": [*RR, "--negatives", "-1"],
    "adapt-k-1": [*RR, "--adapt-k", "1"],
    "dev-fraction-0": [*RR, "--dev-fraction", "0"],
    "dev-fraction-above-1": [*RR, "--dev-fraction", "2"],
    "dup-threshold-0": [*RR, "--dup-threshold", "0"],
    "eval-max-length-too-long": [*RR, "--eval-max-length", "1024"],
    "dump-data-a-folder": [*RR, "--dump-data", "{folder}"],
    "from-data-missing": [*RR, "--from-data", "{tmp}/absent.json.xz"],
    "evaluate-k-0": ["evaluate", "--model", "{model}", "--k", "0"],
    "speed-per-query-0": ["speed", "--model", "{model}", "--per-query", "0"],
    "sts-prepare-out-a-folder": ["sts-prepare", "--silver", "5", "--out", "{folder}"],
    "pack-out-a-file": ["pack", "--full", "{model}", "--out", "{file}", "--card", "{file}"],
    "pack-card-not-json": ["pack", "--full", "{model}", "--out", "{tmp}/o", "--card", "{file}"],
    "ship-out-under-a-file": ["ship", "--work", "{tmp}", "--out", "{file}/o"],
    "device-tpu": ["--device", "tpu", "sts"],
}
GPU = {
    "extract-max-mb-0": ["extract", "--full", "{model}", "--init", "{model}", "--out", "{tmp}/x",
                         "--max-mb", "0"],
    "extract-out-a-folder": ["extract", "--full", "{model}", "--init", "{model}", "--out", "{folder}"],
    "make-out-a-file": ["make", "--out", "{file}"],
}


@pytest.mark.parametrize(("main", "argv"),
                         [pytest.param("main", a, id=f"train-{i}") for i, a in TRAIN.items()]
                         + [pytest.param("gpu_main", a, id=f"gpu-{i}") for i, a in GPU.items()])
def test_train_refuses_bad_arguments_in_one_line(main, argv, model_dir, tmp_path, no_work, capsys):
    files = _files(tmp_path)
    files["model"] = str(model_dir)
    work = tmp_path / "work"
    code = getattr(train_cli, main)(["--work-dir", str(work)] * (main == "main" and "--work-dir" not in argv)
                                    + [a.format(**files) for a in argv])
    _one_error_line(capsys, code)
    assert not work.exists() and not (tmp_path / "o").exists()


# -- unexpected errors, --debug, Ctrl-C, --help -------------------------------------------------
def _inject(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[str]:
    import ragcompare.decide.cli as decide_cli

    def recommend(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(decide_cli, "recommend", recommend)
    return ["recommend", "--corpus-size", "1e4", "--latency-ms", "50"]


def test_an_unexpected_error_is_one_line_with_a_debug_hint(monkeypatch, capsys):
    argv = _inject(monkeypatch, RuntimeError("the disk\nfell off"))
    line = _one_error_line(capsys, cli.main(argv), expect=1)
    assert line == (f"{PREFIX}unexpected RuntimeError: the disk fell off "
                    "(rerun with --debug for the traceback)")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(where, monkeypatch, capsys):
    argv = _inject(monkeypatch, RuntimeError("boom"))
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "RuntimeError: boom" in err
    assert err.splitlines()[-1] == f"{PREFIX}unexpected RuntimeError: boom"


def test_ctrl_c_is_exit_130_in_one_line(monkeypatch, capsys):
    argv = _inject(monkeypatch, KeyboardInterrupt())
    assert cli.main(argv) == 130
    assert capsys.readouterr().err == "ragcompare: interrupted\n"


def test_train_unexpected_error_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(train_cli, "_train_run", lambda a: {}["missing"])
    code = train_cli.main(["--work-dir", str(tmp_path / "w"), "sts-prepare", "--silver", "1", "--out",
                           str(tmp_path / "p.json.xz")])
    line = _one_error_line(capsys, code, expect=1)
    assert line.startswith(f"{PREFIX}unexpected KeyError: 'missing'") and "--debug" in line


def test_help_returns_0_without_raising(capsys):
    assert cli.main(["--help"]) == 0
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--k-retrieve" in out and "--debug" in out


@pytest.mark.parametrize("argv", [
    pytest.param(["-m", "ragcompare.cli", "bench", "--k-retrieve", "0"], id="python-m-ragcompare.cli"),
    pytest.param(["-m", "ragcompare.train", "--threads", "-1", "sts"], id="python-m-ragcompare.train"),
    pytest.param(["-m", "ragcompare.cli", "recommend", "--corpus-size", "1e400", "--latency-ms", "5"],
                 id="python-m-recommend-1e400"),
])
def test_a_real_process_prints_one_line_and_no_traceback(argv):
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=str(PROJECT_ROOT),
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(PREFIX), proc.stderr


def test_the_console_script_prints_one_line():
    script = Path(sys.executable).parent / "ragcompare"
    if not script.is_file():
        pytest.skip("the ragcompare console script is not installed in this environment")
    proc = subprocess.run([str(script), "bench", "--threads", "-1"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == (f"{PREFIX}argument --threads: must be at least 1, got -1 "
                           "(see ragcompare bench --help)\n")


# -- bench: atomic output, partial results on Ctrl-C --------------------------------------------
def _record(name: str) -> bench.BenchRecord:
    return bench.BenchRecord(name, {"ndcg@10": np.float64(0.5), "map": math.nan},
                             {"p50_ms": 1.0, "p95_ms": 2.0}, {"k1": np.float32(1.5)}, 2)


@pytest.fixture()
def quick_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysinfo, "machine_info", lambda: {"cpu": "test", "cores": 1})
    monkeypatch.setattr(sysinfo, "describe_machine", lambda *a, **k: "test machine")


def test_interrupted_bench_saves_and_prints_what_finished(tmp_path, monkeypatch, quick_machine, capsys):
    seen = {}

    def run(dataset, on_record=None, **kwargs):
        seen.update(kwargs)
        on_record(_record("bm25"), {"q1": [Hit("d1", 1.0)], "q2": [Hit("d2", 1.0)]})
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run_benchmark", run)
    out = tmp_path / "bench.json"
    code = cli.main(["bench", "--dataset", str(_tiny_beir(tmp_path / "set")), "--output", str(out),
                     "--alpha", "0.5,0.5", "--first-stages", "rrf,bm25"])
    printed, err = capsys.readouterr()
    assert code == 130
    assert err.splitlines() == [f"ragcompare: interrupted: 1 pipelines had finished; wrote them to {out} "
                                "(marked interrupted)"]
    assert seen["alphas"] == [0.5] and seen["hybrid_first_stages"] == ["rrf", "bm25"]
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and [r["name"] for r in report["records"]] == ["bm25"]
    assert report["records"][0]["metrics"] == {"ndcg@10": 0.5, "map": None}  # NaN: null, not lost
    assert "INTERRUPTED" in printed and "bm25" in printed and "p50_ms" in printed
    assert sorted(p.name for p in out.parent.iterdir()) == ["bench.json", "set"]  # no temporary left


def test_bench_interrupted_before_anything_finished_writes_nothing(tmp_path, monkeypatch, quick_machine,
                                                                   capsys):
    def run(dataset, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run_benchmark", run)
    out = tmp_path / "bench.json"
    code = cli.main(["bench", "--dataset", str(_tiny_beir(tmp_path / "set")), "--output", str(out)])
    assert code == 130 and not out.exists()
    assert capsys.readouterr().err == "ragcompare: interrupted: no pipeline had finished; nothing was saved\n"


def test_bench_output_replaces_the_previous_file_atomically(tmp_path, monkeypatch, quick_machine, capsys):
    def run(dataset, on_record=None, **kwargs):
        on_record(_record("bm25"), {})
        return bench.BenchReport(dataset.name, [_record("bm25")], {"cpu": "test"}, {"bm25_index_s": 0.1})

    monkeypatch.setattr(bench, "run_benchmark", run)
    out = tmp_path / "bench.json"
    out.write_text("previous")
    assert cli.main(["bench", "--dataset", str(_tiny_beir(tmp_path / "set")), "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["interrupted"] is False and report["records"][0]["settings"] == {"k1": 1.5}
    assert f"wrote {out}" in capsys.readouterr().out


# -- run_benchmark / recommend / calibrate: their own argument checks ---------------------------
@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> beir.Dataset:
    return beir.load_dataset(_tiny_beir(tmp_path_factory.mktemp("tiny") / "set"))


@pytest.mark.parametrize("bad", [
    {"k_retrieve": 0}, {"k_retrieve": 2.5}, {"k_retrieve": "20"}, {"max_length": True},
    {"max_length": 0}, {"rerank_queries": -1}, {"ce_only_queries": 1.5}, {"ce_only_queries": -1},
    {"depth": 0}, {"ce_only_max_docs": -1}, {"seed": "0"}, {"hybrid_first_stages": "bm25"},
    {"hybrid_first_stages": ["dense"]}, {"alphas": 0.5}, {"alphas": [math.nan]}, {"metrics": ["nope@10"]},
    {"on_record": 3}, {"log": None}, {"dataset": {"queries": {}}},
], ids=lambda bad: "-".join(f"{k}={v!r}" for k, v in bad.items()))
def test_run_benchmark_checks_everything_before_any_work(bad, tiny_set, monkeypatch):
    from ragcompare.retrieval.bm25 import BM25Retriever
    from ragcompare.retrieval.dense import BiEncoderRetriever

    monkeypatch.setattr(BM25Retriever, "index", _forbid("BM25 indexing"))
    monkeypatch.setattr(BiEncoderRetriever, "__init__", _forbid("the bi-encoder"))
    kwargs = {"progress": False, "log": lambda _msg: None, **bad}
    with pytest.raises(InvalidInputError):
        bench.run_benchmark(kwargs.pop("dataset", tiny_set), **kwargs)


@pytest.mark.parametrize("bad", [
    {"corpus_size": math.inf}, {"corpus_size": math.nan}, {"corpus_size": 0}, {"corpus_size": -1},
    {"corpus_size": 0.2}, {"corpus_size": "1e4"}, {"corpus_size": True}, {"corpus_size": None},
    {"latency_budget_ms": 0}, {"latency_budget_ms": -5}, {"latency_budget_ms": math.inf},
    {"accuracy": "ultra"}, {"accuracy": 3}, {"accuracy": None}, {"memory_budget_gb": 0},
    {"memory_budget_gb": math.nan}, {"memory_budget_gb": "1"}, {"query_tokens": 0},
    {"query_tokens": 1e9}, {"query_tokens": math.nan}, {"slowdown": 0}, {"slowdown": math.inf},
    {"profile": 3}, {"profile": ""},
], ids=lambda bad: "-".join(f"{k}={v!r}" for k, v in bad.items()))
def test_recommend_checks_its_arguments(bad, monkeypatch):
    monkeypatch.setattr(recommender, "candidate_options", _forbid("candidate_options"))
    kwargs = {"corpus_size": 1e4, "latency_budget_ms": 50.0, **bad}
    with pytest.raises(InvalidInputError):
        recommender.recommend(**kwargs)


def test_recommend_takes_numpy_numbers():
    rec = recommender.recommend(np.int64(10_000), np.float32(500), "HIGH ", memory_budget_gb=np.float64(4),
                                query_tokens=np.int32(20))
    assert rec.inputs["corpus_size"] == 10_000 and rec.inputs["accuracy"] == "high"


@pytest.mark.parametrize("bad", [{"threads": 0}, {"threads": 1.5}, {"quality": "yes"}, {"quick": "no"},
                                 {"output": "{tmp}/no/such/p.json"}, {"output": "{tmp}"}, {"log": 3}],
                         ids=lambda bad: "-".join(f"{k}={v!r}" for k, v in bad.items()))
def test_calibrate_checks_before_measuring(bad, tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "_calibrate", _forbid("calibration"))
    kwargs = {k: v.format(tmp=tmp_path) if isinstance(v, str) and "{" in v else v for k, v in bad.items()}
    with pytest.raises((InvalidInputError, ArtifactError)):
        calibration.calibrate(**kwargs)


@pytest.mark.parametrize("bad", ["n_queries-0", "missing-profile", "empty-section"])
def test_update_quality_checks_before_measuring(bad, tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "measure_quality", _forbid("measure_quality"))
    path, _ = _bad_profile(tmp_path, "missing" if bad == "missing-profile" else "indexes-empty")
    if bad == "n_queries-0":
        with pytest.raises(InvalidInputError):
            calibration.update_quality(SHIPPED_PROFILE, n_queries=0)
        return
    with pytest.raises(ProfileError):
        calibration.update_quality(path)


# -- atomic saves -------------------------------------------------------------------------------
def test_a_failed_profile_save_keeps_the_previous_file(tmp_path):
    prof = HardwareProfile.load(SHIPPED_PROFILE)
    path = prof.save(tmp_path / "cpu.json")
    before = path.read_bytes()
    prof.bi_encoder = {**prof.bi_encoder, "p50_ms": math.nan}  # JSON cannot hold it
    with pytest.raises(ProfileError, match="not saved"):
        prof.save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["cpu.json"]
    with pytest.raises(ProfileError, match="not saved"):
        prof.save(path / "under-a-file.json")


def test_train_files_are_written_atomically_and_read_with_clear_errors(tmp_path):
    dump_json(tmp_path / "r.json", {"a": 1})
    with pytest.raises(ArtifactError):
        dump_json(tmp_path / "r.json", {"a": {1, 2}})  # a set: not JSON
    assert read_json(tmp_path / "r.json") == {"a": 1}
    dump_xz(tmp_path / "d" / "x.json.xz", {"pairs": [1, 2]})
    assert load_xz(tmp_path / "d" / "x.json.xz") == {"pairs": [1, 2]}
    data = (tmp_path / "d" / "x.json.xz").read_bytes()
    for name, content in (("truncated", data[:-6]), ("garbage", b"not xz"), ("empty", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ArtifactError):
            load_xz(tmp_path / name)
    (tmp_path / "bad.json").write_text("{not json")
    for fn, path in ((read_json, tmp_path / "bad.json"), (load_xz, tmp_path / "none.xz")):
        with pytest.raises(ArtifactError):
            fn(path)


def test_result_sets_are_saved_atomically(tmp_path):
    import pandas as pd

    from ragcompare.eval.perf import ResultSet

    rs = ResultSet("run", {"k": 1}, {"t": pd.DataFrame({"a": [1.0, math.nan]})}, {"cpu": "x"})
    paths = rs.save(tmp_path)
    assert [p.name for p in paths] == ["run.json", "run_t.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "run_t.csv"]
    assert ResultSet.load(paths[0]).tables["t"]["a"].tolist()[0] == 1.0
