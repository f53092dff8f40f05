"""Bad and edge inputs for the dataset loaders and the evaluation: every malformed file is refused
naming its file and line, nothing is dropped without a note, and evaluation refuses results it
would score as a ranking nobody gave (duplicates, non-finite or rising scores, unknown metrics)."""

from __future__ import annotations

import codecs
import io
import json
import math
import os
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragcompare.data.beir import DatasetError, load_beir_folder, load_dataset
from ragcompare.data.pairs import load_sentence_pairs, pair_sentences, scaled_pairs
from ragcompare.eval.comparison import compare, paired_difference, shared_queries
from ragcompare.eval.metrics import (
    evaluate,
    per_query,
    retrieve,
    to_results,
    to_run,
    write_trec,
)
from ragcompare.storage import ArtifactError
from ragcompare.types import Hit, InvalidInputError

CORPUS = [{"_id": "d1", "title": "t", "text": "alpha"}, {"_id": "d2", "title": "", "text": "beta"},
          {"_id": "d3", "text": "gamma"}]
QUERIES = [{"_id": "q1", "text": "alpha?"}, {"_id": "q2", "text": "beta?"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n"


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _folder(root: Path, corpus: bytes | None = None, queries: bytes | None = None,
            qrels: bytes | None = None) -> Path:
    """A tiny BEIR folder; each file may be replaced by raw bytes."""
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_bytes(_jsonl(CORPUS) if corpus is None else corpus)
    (root / "queries.jsonl").write_bytes(_jsonl(QUERIES) if queries is None else queries)
    (root / "qrels" / "test.tsv").write_bytes(QRELS.encode() if qrels is None else qrels)
    return root


# -- bad files: (file, bytes appended to the good file, line the error must name) ---------------
_Q = "qrels/test.tsv"
BAD_FILES = {
    # qrels: the grade column
    "grade-0.9": (_Q, b"q1\td2\t0.9\n", 4),
    "grade-1.5": (_Q, b"q1\td2\t1.5\n", 4),
    "grade-inf": (_Q, b"q1\td2\tinf\n", 4),
    "grade-minus-inf": (_Q, b"q1\td2\t-inf\n", 4),
    "grade-nan": (_Q, b"q1\td2\tnan\n", 4),
    "grade-abc": (_Q, b"q1\td2\tabc\n", 4),
    "grade-empty": (_Q, b"q1\td2\t\n", 4),
    "grade-negative-huge": (_Q, b"q1\td2\t-1e300\n", 4),
    "grade-1e400": (_Q, b"q1\td2\t1e400\n", 4),
    "grade-20-digits": (_Q, b"q1\td2\t99999999999999999999\n", 4),
    "grade-5000-digits": (_Q, b"q1\td2\t" + b"9" * 5000 + b"\n", 4),
    "grade-underscore": (_Q, b"q1\td2\t1_0\n", 4),
    "grade-quoted": (_Q, b'q1\td2\t"1"\n', 4),
    # qrels: the shape of a row and its ids
    "qrels-two-columns": (_Q, b"q1\td2\n", 4),
    "qrels-four-columns": (_Q, b"q1\td2\t1\tx\n", 4),
    "qrels-spaces-not-tabs": (_Q, b"q1 d2 1\n", 4),
    "qrels-empty-query-id": (_Q, b"\td2\t1\n", 4),
    "qrels-empty-corpus-id": (_Q, b"q1\t\t1\n", 4),
    "qrels-zero-width-id": (_Q, "\u200b\td2\t1\n".encode(), 4),
    "qrels-padded-id": (_Q, b"q1 \td2\t1\n", 4),
    "qrels-conflicting-grades": (_Q, b"q1\td1\t2\n", 4),
    "qrels-latin1": (_Q, b"q1\td\xe92\t1\n", 4),
    # corpus: ids
    "corpus-id-null": ("corpus.jsonl", b'{"_id": null, "text": "x"}\n', 4),
    "corpus-id-list": ("corpus.jsonl", b'{"_id": ["d4"], "text": "x"}\n', 4),
    "corpus-id-bool": ("corpus.jsonl", b'{"_id": true, "text": "x"}\n', 4),
    "corpus-id-float": ("corpus.jsonl", b'{"_id": 1.5, "text": "x"}\n', 4),
    "corpus-id-empty": ("corpus.jsonl", b'{"_id": "", "text": "x"}\n', 4),
    "corpus-id-missing": ("corpus.jsonl", b'{"text": "x"}\n', 4),
    "corpus-id-duplicate": ("corpus.jsonl", b'{"_id": "d1", "text": "x"}\n', 4),
    "corpus-id-5000-digits": ("corpus.jsonl", b'{"_id": ' + b"1" * 5000 + b', "text": "x"}\n', 4),
    # corpus: text and title
    "corpus-text-null": ("corpus.jsonl", b'{"_id": "d4", "text": null}\n', 4),
    "corpus-text-missing": ("corpus.jsonl", b'{"_id": "d4", "title": "t"}\n', 4),
    "corpus-text-number": ("corpus.jsonl", b'{"_id": "d4", "text": 5}\n', 4),
    "corpus-text-list": ("corpus.jsonl", b'{"_id": "d4", "text": ["a"]}\n', 4),
    "corpus-title-number": ("corpus.jsonl", b'{"_id": "d4", "title": 5, "text": "x"}\n', 4),
    "corpus-lone-surrogate": ("corpus.jsonl", b'{"_id": "d4", "text": "a\\ud800b"}\n', 4),
    "corpus-latin1": ("corpus.jsonl", b'{"_id": "d4", "text": "caf\xe9"}\n', 4),
    # corpus: the JSON itself
    "corpus-not-json": ("corpus.jsonl", b"{not json\n", 4),
    "corpus-truncated": ("corpus.jsonl", b'{"_id": "d4", "text": "gam\n', 4),
    "corpus-array": ("corpus.jsonl", b"[1, 2]\n", 4),
    "corpus-string": ("corpus.jsonl", b'"just text"\n', 4),
    "corpus-duplicate-key": ("corpus.jsonl", b'{"_id": "d4", "_id": "d5", "text": "x"}\n', 4),
    "corpus-deep-nesting": ("corpus.jsonl", b"[" * 100_000 + b"\n", 4),
    # queries
    "query-text-null": ("queries.jsonl", b'{"_id": "q3", "text": null}\n', 3),
    "query-text-number": ("queries.jsonl", b'{"_id": "q3", "text": 3}\n', 3),
    "query-id-null": ("queries.jsonl", b'{"_id": null, "text": "x"}\n', 3),
    "query-id-object": ("queries.jsonl", b'{"_id": {"a": 1}, "text": "x"}\n', 3),
    "query-id-duplicate": ("queries.jsonl", b'{"_id": "q1", "text": "again"}\n', 3),
    "query-latin1": ("queries.jsonl", b'{"_id": "q3", "text": "\xff"}\n', 3),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_names_file_and_line(tmp_path, case):
    name, extra, line = BAD_FILES[case]
    folder = _folder(tmp_path / "x")
    with (folder / name).open("ab") as fh:
        fh.write(extra)
    with pytest.raises(DatasetError) as err:
        load_beir_folder(folder)
    msg = str(err.value)
    assert f"{Path(name).name}:{line}:" in msg, msg
    assert "\n" not in msg and len(msg) < 400


WHOLE_FILES = {
    "utf16-queries": ("queries.jsonl", codecs.BOM_UTF16_LE + _jsonl(QUERIES).decode().encode("utf-16-le"),
                      "UTF-8"),
    "latin1-corpus-line-1": ("corpus.jsonl", '{"_id": "d1", "text": "Ã©t\xe9"}\n'.encode("latin-1"),
                             "UTF-8"),
    "qrels-no-header": (_Q, b"q1\td1\t1\n", "expected header"),
    "qrels-header-only": (_Q, b"query-id\tcorpus-id\tscore\n", "no judgments"),
    "qrels-empty": (_Q, b"", "expected header"),
    "corpus-empty": ("corpus.jsonl", b"\n\n", "no records"),
    "queries-only-blank": ("queries.jsonl", b"   \n", "no records"),
}


@pytest.mark.parametrize("case", list(WHOLE_FILES))
def test_bad_whole_file(tmp_path, case):
    name, content, expect = WHOLE_FILES[case]
    folder = _folder(tmp_path / "x")
    (folder / name).write_bytes(content)
    with pytest.raises(DatasetError, match=expect) as err:
        load_beir_folder(folder)
    assert Path(name).name in str(err.value)


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    folder = _folder(tmp_path / "x", queries=b'{"_id": "q1", "text": "a"}\n{"_id": "q2", "text": "\xe9"}\n')
    with pytest.raises(DatasetError, match=r"queries.jsonl:2: byte 0xe9 at byte offset 50 .*must be UTF-8"):
        load_beir_folder(folder)


def _same(a, b) -> None:
    assert (a.corpus, a.queries, a.qrels, a.notes) == (b.corpus, b.queries, b.qrels, b.notes)


def test_bom_and_crlf_give_the_same_dataset(tmp_path):
    plain = load_beir_folder(_folder(tmp_path / "plain"))
    bom = codecs.BOM_UTF8
    with_bom = load_beir_folder(_folder(tmp_path / "bom", bom + _jsonl(CORPUS), bom + _jsonl(QUERIES),
                                        bom + QRELS.encode()))
    _same(plain, with_bom)
    crlf = load_beir_folder(_folder(tmp_path / "crlf", _jsonl(CORPUS).replace(b"\n", b"\r\n"),
                                    _jsonl(QUERIES).replace(b"\n", b"\r\n"),
                                    QRELS.encode().replace(b"\n", b"\r\n")))
    _same(plain, crlf)
    assert plain.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}} and plain.notes == []


@pytest.mark.parametrize("grade, expected", [("1", 1), ("2", 2), ("1.0", 1), (" 2 ", 2), ("+1", 1),
                                             ("1e0", 1), ("0", 0), ("-1", -1)])
def test_integer_grades_in_any_plain_spelling(tmp_path, grade, expected):
    qrels = f"query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t{grade}\n".encode()
    assert load_beir_folder(_folder(tmp_path / "x", qrels=qrels)).qrels["q1"]["d2"] == expected


def test_ids_may_be_ints_and_titles_null(tmp_path):
    corpus = _jsonl([{"_id": 7, "title": None, "text": "alpha"}, {"_id": "d2", "text": "b"}])
    queries = _jsonl([{"_id": 1, "text": "alpha?"}])
    d = load_beir_folder(_folder(tmp_path / "x", corpus, queries, b"query-id\tcorpus-id\tscore\n1\t7\t1\n"))
    assert d.queries == {"1": "alpha?"} and d.qrels == {"1": {"7": 1}} and d.corpus["7"].title == ""


def test_nothing_is_dropped_without_a_note(tmp_path):
    queries = _jsonl([*QUERIES, {"_id": "q3", "text": "\u200b \u2060\x00"}, {"_id": "q4", "text": "zero"},
                      {"_id": "q5", "text": "never judged"}])
    qrels = (QRELS + "q1\td1\t1\nq3\td1\t1\nq4\td1\t0\nq4\td2\t0\nq9\td1\t1\nq1\tzz\t1\n").encode()
    d = load_beir_folder(_folder(tmp_path / "x", queries=queries, qrels=qrels))
    assert set(d.queries) == {"q1", "q2"} and d.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    notes = " | ".join(d.notes)
    assert "2 judgments point to unknown queries/documents" in notes  # q9 -> d1, q1 -> zz
    assert "1 rows of test.tsv repeat an earlier judgment" in notes
    assert "1 queries have no visible text and were dropped: 'q3'" in notes
    assert "1 queries have judgments but no positive grade" in notes and "'q4'" in notes
    assert "1 queries of queries.jsonl have no judgments" in notes
    assert len(d.notes) == 5


def test_all_queries_unusable_is_an_error_that_says_why(tmp_path):
    qrels = b"query-id\tcorpus-id\tscore\nq1\td1\t0\nq2\td2\t0\n"
    with pytest.raises(DatasetError, match="no positive grade"):
        load_beir_folder(_folder(tmp_path / "x", qrels=qrels))


@pytest.mark.parametrize("args", [(None,), (3,), ("",), ("   ",), ("a\0b",), (["cranfield"],),
                                  ("cranfield", "../x"), ("cranfield", "a/b"), ("cranfield", ""),
                                  ("cranfield", None), ("cranfield", 1), ("../cranfield",),
                                  ("x" * 5000,), ("no such collection",)])
def test_load_dataset_refuses_bad_arguments(args):
    with pytest.raises(DatasetError):
        load_dataset(*args)


def test_load_beir_folder_refuses_bad_split(tmp_path):
    folder = _folder(tmp_path / "x")
    with pytest.raises(DatasetError, match="split"):
        load_beir_folder(folder, "../../etc")
    with pytest.raises(DatasetError, match="dev.tsv"):
        load_beir_folder(folder, "dev")


@pytest.mark.parametrize("n", [0, -1, 2.5, "3", True, float("nan")])
def test_sample_queries_refuses_bad_n(cranfield, n):
    with pytest.raises(InvalidInputError, match="n must"):
        cranfield.sample_queries(n)


def test_sample_queries_accepts_numpy_ints(cranfield):
    assert cranfield.sample_queries(np.int64(5), seed=np.int32(1)) == cranfield.sample_queries(5, seed=1)
    with pytest.raises(InvalidInputError, match="seed"):
        cranfield.sample_queries(5, seed=1.5)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _serve(monkeypatch, tmp_path, payload: bytes) -> None:
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))


def test_beir_download_unpacks_into_a_complete_folder(monkeypatch, tmp_path):
    files = {"scifact/corpus.jsonl": _jsonl(CORPUS), "scifact/queries.jsonl": _jsonl(QUERIES),
             "scifact/qrels/test.tsv": QRELS.encode()}
    _serve(monkeypatch, tmp_path, _zip(files))
    d = load_dataset("scifact")
    assert d.name == "scifact" and d.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    folder = tmp_path / "cache" / "beir"
    assert sorted(p.name for p in folder.iterdir()) == ["scifact"]


@pytest.mark.parametrize("payload, match", [(b"not a zip", "not a valid zip"),
                                            (None, "no corpus.jsonl")])
def test_bad_beir_download_leaves_nothing_behind(monkeypatch, tmp_path, payload, match):
    _serve(monkeypatch, tmp_path, payload if payload is not None else _zip({"scifact/README": b"x"}))
    with pytest.raises(DatasetError, match=match):
        load_dataset("scifact")
    assert list((tmp_path / "cache" / "beir").iterdir()) == []


# -- sentence pairs ----------------------------------------------------------------------------
PAIRS = "sentence1\tsentence2\tscore\tgenre\nA man.\tA person.\t4.5\tx\nA dog.\tA cat.\t1.000\ty\n"


@pytest.fixture
def pairs_dir(tmp_path, monkeypatch):
    (tmp_path / "pairs" / "stsb").mkdir(parents=True)
    monkeypatch.setenv("RAGCOMPARE_DATA_DIR", str(tmp_path))
    return tmp_path / "pairs" / "stsb"


BAD_PAIRS = {
    "score-abc": b"a\tb\tabc\tz\n",
    "score-nan": b"a\tb\tnan\tz\n",
    "score-inf": b"a\tb\tinf\tz\n",
    "score-1e400": b"a\tb\t1e400\tz\n",
    "score-empty": b"a\tb\t\tz\n",
    "score-out-of-range": b"a\tb\t7\tz\n",
    "score-negative": b"a\tb\t-0.5\tz\n",
    "score-underscore": b"a\tb\t1_0\tz\n",
    "too-few-columns": b"a\tb\t1.0\n",
    "too-many-columns": b"a\tb\t1.0\tz\textra\n",
    "empty-sentence": b"\tb\t1.0\tz\n",
    "invisible-sentence": "a\t\u200b\t1.0\tz\n".encode(),
    "latin1": b"caf\xe9\tb\t1.0\tz\n",
}


@pytest.mark.parametrize("case", list(BAD_PAIRS))
def test_bad_pair_file_names_file_and_line(pairs_dir, case):
    (pairs_dir / "test.tsv").write_bytes(PAIRS.encode() + BAD_PAIRS[case])
    with pytest.raises(DatasetError, match=r"test\.tsv:4:"):
        load_sentence_pairs("stsb", "test")


def test_pair_file_with_bom_and_crlf_is_the_same(pairs_dir):
    (pairs_dir / "test.tsv").write_text(PAIRS)
    plain = load_sentence_pairs("stsb", "test")
    (pairs_dir / "test.tsv").write_bytes(codecs.BOM_UTF8 + PAIRS.replace("\n", "\r\n").encode())
    assert load_sentence_pairs("stsb", "test").equals(plain)
    assert list(plain.columns) == ["sentence1", "sentence2", "score", "genre"]
    assert plain["score"].tolist() == [4.5, 1.0]
    assert scaled_pairs("stsb", "test")[0] == ("A man.", "A person.", 0.9)
    assert pair_sentences(("stsb",)) == ["A man.", "A person.", "A dog.", "A cat."]


@pytest.mark.parametrize("header, match", [(b"sentence1\tsentence2\tlabel\n", "score"),
                                           (b"sentence1\tscore\tscore\n", "twice"),
                                           (b"", "empty"), (b"sentence1\tsentence2\tscore\n", "no pairs")])
def test_bad_pair_headers(pairs_dir, header, match):
    (pairs_dir / "test.tsv").write_bytes(header)
    with pytest.raises(DatasetError, match=match):
        load_sentence_pairs("stsb", "test")


@pytest.mark.parametrize("kwargs, error", [({"name": "../stsb"}, DatasetError),
                                           ({"split": "a/b"}, DatasetError),
                                           ({"name": None}, DatasetError),
                                           ({"n": 0}, InvalidInputError),
                                           ({"n": 1.5}, InvalidInputError),
                                           ({"seed": -1}, InvalidInputError)])
def test_load_sentence_pairs_refuses_bad_arguments(pairs_dir, kwargs, error):
    (pairs_dir / "test.tsv").write_text(PAIRS)
    with pytest.raises(error):
        load_sentence_pairs(**{"name": "stsb", "split": "test", **kwargs})


def test_pair_sentences_refuses_bad_arguments(pairs_dir):
    with pytest.raises(DatasetError, match="not one string"):
        pair_sentences("stsb")
    with pytest.raises(InvalidInputError, match="limit"):
        pair_sentences(("stsb",), limit=0)


# -- evaluation --------------------------------------------------------------------------------
EQRELS = {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 1}}
GOOD = {"q1": [Hit("d2", 3.0), Hit("d1", 2.0)], "q2": [Hit("d2", 1.0), Hit("d3", 0.5)]}


def test_duplicate_document_is_refused_not_collapsed():
    # ranx keeps one score per document: [d2, d1, d2] would score nDCG@10 1.0 (d1 first), while
    # the ranking as given has d1 at rank 2 (0.631)
    dup = {"q1": [Hit("d2", 3.0), Hit("d1", 2.0), Hit("d2", 1.0)]}
    for entry in (evaluate, per_query):
        with pytest.raises(InvalidInputError, match=r"query 'q1' lists document 'd2' twice"):
            entry(dup, EQRELS, ["ndcg@10"])
    with pytest.raises(InvalidInputError, match="twice"):
        to_run(dup)
    with pytest.raises(InvalidInputError, match="twice"):
        to_results(["q1"], [dup["q1"]])
    with pytest.raises(InvalidInputError, match="twice"):
        compare({"a": dup, "b": dup}, EQRELS)
    as_given = evaluate({"q1": dup["q1"][:2]}, EQRELS, ["ndcg@10"])["ndcg@10"]
    assert as_given == pytest.approx(1 / math.log2(3)) and round(as_given, 3) == 0.631


BAD_RESULTS = {
    "nan-score": {"q1": [Hit("d1", float("nan"))]},
    "inf-score": {"q1": [Hit("d1", float("inf"))]},
    "minus-inf-score": {"q1": [Hit("d1", 1.0), Hit("d2", -float("inf"))]},
    "numpy-nan-score": {"q1": [Hit("d1", np.float32("nan"))]},
    "string-score": {"q1": [Hit("d1", "1.0")]},
    "none-score": {"q1": [Hit("d1", None)]},
    "bool-score": {"q1": [Hit("d1", True)]},
    "rising-scores": {"q1": [Hit("d1", 1.0), Hit("d2", 2.0)]},
    "int-doc-id": {"q1": [Hit(1, 1.0)]},
    "empty-doc-id": {"q1": [Hit("", 1.0)]},
    "tuple-not-hit": {"q1": [("d1", 1.0)]},
    "one-hit-not-list": {"q1": Hit("d1", 1.0)},
    "dict-not-list": {"q1": {"d1": 1.0}},
    "string-not-list": {"q1": "d1"},
    "int-query-id": {1: [Hit("d1", 1.0)]},
    "list-not-mapping": [[Hit("d1", 1.0)]],
    "none": None,
    "string": "q1",
}


@pytest.mark.parametrize("case", list(BAD_RESULTS))
@pytest.mark.parametrize("entry", ["evaluate", "per_query"])
def test_bad_results_are_refused(case, entry):
    fn = {"evaluate": evaluate, "per_query": per_query}[entry]
    with pytest.raises(InvalidInputError):
        fn(BAD_RESULTS[case], EQRELS, ["ndcg@10"])


@pytest.mark.parametrize("metrics", [["ndcg@0"], ["nDCG@10"], ["foo"], ["ndcg@x"], "ndcg@10", [],
                                     [1], ["map", "map"], ["ndcg@10-l0"], ["rbp"], None])
def test_bad_metric_names_are_refused_clearly(metrics):
    with pytest.raises(InvalidInputError, match="metric") as err:
        evaluate(GOOD, EQRELS, metrics)
    assert "KeyError" not in str(err.value)


def test_unknown_metric_lists_valid_names():
    with pytest.raises(InvalidInputError, match=r"ndcg@10.*mrr@10"):
        per_query(GOOD, EQRELS, ["ndgc@10"])


@pytest.mark.parametrize("qrels", [{}, None, [("q1", "d1", 1)], {"q1": {"d1": 0.9}}, {"q1": {"d1": "1"}},
                                   {"q1": {"d1": True}}, {"q1": {"d1": None}}, {"q1": {1: 1}},
                                   {1: {"d1": 1}}, {"q1": ["d1"]}, {"q1": {}}, {"zz": {"d1": 1}}])
def test_bad_qrels_are_refused(qrels):
    with pytest.raises(InvalidInputError):
        evaluate(GOOD, qrels, ["ndcg@10"])


def test_numpy_grades_and_int_scores_are_accepted():
    qrels = {"q1": {"d1": np.int64(1)}, "q2": {"d2": np.int32(2), "d3": 1}}
    ints = {"q1": [Hit("d2", 3), Hit("d1", np.float32(2.0))], "q2": GOOD["q2"]}
    assert evaluate(ints, qrels) == evaluate(GOOD, EQRELS)


def test_empty_hit_list_scores_zero_and_unjudged_queries_are_not_scored():
    m = evaluate({"q1": [], "q2": GOOD["q2"], "unjudged": [Hit("d1", 1.0)]}, EQRELS, ["mrr@10"])
    assert m["mrr@10"] == pytest.approx(0.5)


class _Fake:
    """A retriever answering a fixed ranking (records the k it got)."""

    def __init__(self, hits):
        self.hits, self.k = hits, None

    def search(self, queries, k):
        self.k = k
        return [list(self.hits) for _ in queries]


def test_retrieve_accepts_numpy_k_and_refuses_bad_input():
    fake = _Fake([Hit("d1", 2.0), Hit("d2", 1.0)])
    res = retrieve(fake, {"q1": "alpha"}, k=np.int64(2))
    assert res == {"q1": fake.hits} and fake.k == 2 and type(fake.k) is int
    for queries, k in [({"q1": "a"}, 0), ({"q1": "a"}, 2.5), ({"q1": "a"}, "10"), ({}, 2),
                       (["a"], 2), ({"q1": "\u200b"}, 2), ({"q1": None}, 2), ({1: "a"}, 2)]:
        with pytest.raises(InvalidInputError):
            retrieve(fake, queries, k)
    with pytest.raises(InvalidInputError, match="twice"):
        retrieve(_Fake([Hit("d1", 1.0), Hit("d1", 1.0)]), {"q1": "a"}, 2)
    with pytest.raises(InvalidInputError, match="search"):
        retrieve(object(), {"q1": "a"}, 2)


def test_to_results_refuses_repeated_query_ids():
    with pytest.raises(InvalidInputError, match="duplicate query id 'q1'"):
        to_results(["q1", "q1"], [[], []])
    with pytest.raises(InvalidInputError):
        to_results("q1", [[]])


def test_write_trec_is_atomic_and_checked(tmp_path, monkeypatch):
    path = write_trec(GOOD, tmp_path / "run.trec", "demo")
    before = path.read_text()
    assert before.splitlines()[0] == "q1 Q0 d2 1 3.000000 demo"
    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_trec({"q1": [Hit("d9", 1.0)]}, path, "demo")
    monkeypatch.setattr(os, "replace", real_replace)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["run.trec"]
    with pytest.raises(ArtifactError, match="does not exist"):
        write_trec(GOOD, tmp_path / "missing" / "run.trec")
    with pytest.raises(InvalidInputError, match="whitespace"):
        write_trec({"q 1": [Hit("d1", 1.0)]}, tmp_path / "x.trec")
    with pytest.raises(InvalidInputError, match="run_name"):
        write_trec(GOOD, tmp_path / "x.trec", "my run")
    with pytest.raises(InvalidInputError, match="nan|finite"):
        write_trec({"q1": [Hit("d1", float("nan"))]}, tmp_path / "x.trec")


def test_comparison_checks_its_runs():
    with pytest.raises(InvalidInputError, match="finite"):
        shared_queries({"a": {"q1": [Hit("d1", float("nan"))]}}, EQRELS)
    with pytest.raises(InvalidInputError, match="runs must be a mapping"):
        compare([GOOD], EQRELS)
    with pytest.raises(InvalidInputError, match="test"):
        compare({"a": GOOD, "b": GOOD}, EQRELS, test="wilcoxon")
    with pytest.raises(InvalidInputError, match="not finite"):
        paired_difference([0.1, float("nan")], [0.2, 0.3])


@st.composite
def _runs(draw):
    docs = [f"d{i}" for i in range(8)]
    n_q = draw(st.integers(1, 5))
    qrels, results = {}, {}
    for q in range(n_q):
        judged = draw(st.dictionaries(st.sampled_from(docs), st.integers(0, 3), min_size=1, max_size=5))
        if not any(judged.values()):
            judged[docs[0]] = 1
        qrels[f"q{q}"] = judged
        ranked = draw(st.lists(st.sampled_from(docs), unique=True, max_size=8))
        scores = sorted(draw(st.lists(st.floats(-5, 5), min_size=len(ranked), max_size=len(ranked))),
                        reverse=True)
        results[f"q{q}"] = [Hit(d, s) for d, s in zip(ranked, scores)]
    return results, qrels


@settings(max_examples=25, deadline=None)
@given(_runs())
def test_evaluate_is_the_mean_of_per_query(run):
    results, qrels = run
    metrics = ["ndcg@10", "mrr@10", "recall@5", "map"]
    mean = evaluate(results, qrels, metrics)
    frame = per_query(results, qrels, metrics)
    assert sorted(frame.index) == sorted(results)
    for m in metrics:
        assert mean[m] == pytest.approx(frame[m].mean(), abs=1e-9)
        assert ((frame[m] >= 0) & (frame[m] <= 1 + 1e-9)).all()
    q = sorted(results)[-1]  # each row is its own query's score (index and values aligned)
    assert evaluate({q: results[q]}, qrels, metrics) == pytest.approx(frame.loc[q].to_dict(), abs=1e-9)
