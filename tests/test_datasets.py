"""Dataset loading: real collections and every malformed-input path."""

from __future__ import annotations

import json
import time

import pytest

from ragcompare.data import beir as ds
from ragcompare.data.beir import DatasetError, load_beir_folder, load_dataset


def _write_beir(root, docs=None, queries=None, qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\n"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    docs = docs if docs is not None else [{"_id": "d1", "title": "t", "text": "alpha"},
                                          {"_id": "d2", "title": "", "text": "beta"}]
    queries = queries if queries is not None else [{"_id": "q1", "text": "alpha?"}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_real_collections_match_their_readme(cranfield):
    assert (len(cranfield.corpus), len(cranfield.queries)) == (1400, 225)
    assert sum(len(v) for v in cranfield.qrels.values()) == 1612
    cisi = load_dataset("cisi")
    assert (len(cisi.corpus), len(cisi.queries)) == (1460, 76)
    assert sum(len(v) for v in cisi.qrels.values()) == 3114


def test_load_by_path_and_env(tmp_path, monkeypatch):
    folder = _write_beir(tmp_path / "mini")
    d = load_dataset(str(folder))
    assert d.name == "mini" and d.texts == {"d1": "t. alpha", "d2": "beta"}
    monkeypatch.setenv("RAGCOMPARE_DATA_DIR", str(tmp_path))
    assert load_dataset("mini").queries == {"q1": "alpha?"}


def test_sample_queries_is_reproducible(cranfield):
    a, b = cranfield.sample_queries(10, seed=1), cranfield.sample_queries(10, seed=1)
    assert a == b and len(a) == 10 and set(a) <= set(cranfield.queries)
    assert cranfield.sample_queries(None) == cranfield.queries


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_missing_file_is_named(tmp_path, missing):
    folder = _write_beir(tmp_path / "x")
    (folder / missing).unlink()
    with pytest.raises(DatasetError, match=missing.split("/")[-1]):
        load_beir_folder(folder)


def test_corrupt_jsonl_reports_line(tmp_path):
    folder = _write_beir(tmp_path / "x")
    with (folder / "corpus.jsonl").open("a") as f:
        f.write("{not json\n")
    with pytest.raises(DatasetError, match=r"corpus.jsonl:3: not valid JSON"):
        load_beir_folder(folder)


def test_duplicate_document_ids(tmp_path):
    docs = [{"_id": "d1", "text": "a"}, {"_id": "d1", "text": "b"}]
    with pytest.raises(DatasetError, match="duplicate document id 'd1'"):
        load_beir_folder(_write_beir(tmp_path / "x", docs=docs))


def test_bad_qrels_header_and_score(tmp_path):
    with pytest.raises(DatasetError, match="expected header"):
        load_beir_folder(_write_beir(tmp_path / "a", qrels="q1\td1\t1\n"))
    with pytest.raises(DatasetError, match="not a number"):
        load_beir_folder(_write_beir(tmp_path / "b", qrels="query-id\tcorpus-id\tscore\nq1\td1\tx\n"))


def test_qrels_matching_nothing(tmp_path):
    with pytest.raises(DatasetError, match="no judged query"):
        load_beir_folder(_write_beir(tmp_path / "x", qrels="query-id\tcorpus-id\tscore\nq9\td1\t1\n"))


def test_dangling_judgments_are_dropped_with_a_note(tmp_path):
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tzz\t1\n"
    d = load_beir_folder(_write_beir(tmp_path / "x", qrels=qrels))
    assert d.qrels == {"q1": {"d1": 1}} and "1 judgments" in d.notes[0]


def test_unknown_name_lists_what_exists():
    with pytest.raises(DatasetError, match="cranfield"):
        load_dataset("no-such-collection")


def test_beir_download_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ds, "BEIR_URL", "http://127.0.0.1:9/{name}.zip")  # refused at once
    t0 = time.perf_counter()
    with pytest.raises(DatasetError, match="could not download BEIR dataset 'scifact'"):
        load_dataset("scifact")
    assert time.perf_counter() - t0 < 10
    assert not list(tmp_path.rglob("*.part"))
