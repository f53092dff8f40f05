"""Load BEIR-layout test collections (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).

Names resolve in the data directory (``$RAGCOMPARE_DATA_DIR``, default ``../shared/datasets``);
BEIR names (``scifact``, ``nfcorpus``, ...) are downloaded and cached for connected users.

The loader never guesses: a file that is not UTF-8 (a leading BOM is accepted), a record whose id or
text has the wrong type, a grade that is not an integer, or one judgment given two grades is refused
with a :class:`DatasetError` naming the file and line. What it leaves out on purpose (judgments of
unknown queries or documents, queries with no visible text or no positive grade, queries not judged
in the split) is counted in :attr:`Dataset.notes`.
"""

from __future__ import annotations

import codecs
import json
import math
import random
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ragcompare.checks import check_int, check_positive_int, shown, visible
from ragcompare.settings import cache_dir, data_dir
from ragcompare.storage import atomic_directory
from ragcompare.types import RagCompareError

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
BEIR_NAMES = (
    "scifact", "nfcorpus", "fiqa", "arguana", "scidocs", "trec-covid", "webis-touche2020",
    "quora", "nq", "hotpotqa", "dbpedia-entity", "fever", "climate-fever", "msmarco",
)
DOWNLOAD_TIMEOUT_S = 10.0
GRADE_RANGE = (-100, 100)
"""The relevance grades a qrels file may hold (BEIR uses 0-2, TREC -2-4); anything else is a typo."""
QRELS_HEADER = ("query-id", "corpus-id", "score")

_SIMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_INTEGER = re.compile(r"^[+-]?[0-9]+(?:\.0*)?$")


class DatasetError(RagCompareError):
    """A collection is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Document:
    """One corpus document."""

    title: str
    text: str

    @property
    def full_text(self) -> str:
        """Title and body as one string, the form every model reads."""
        return f"{self.title}. {self.text}" if self.title else self.text


@dataclass
class Dataset:
    """A judged collection: documents, queries (only judged ones) and graded relevance."""

    name: str
    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    path: Path | None = None
    split: str = "test"
    notes: list[str] = field(default_factory=list)

    @property
    def texts(self) -> dict[str, str]:
        """Document id -> ``title. text``."""
        return {i: d.full_text for i, d in self.corpus.items()}

    def sample_queries(self, n: int | None, seed: int = 0) -> dict[str, str]:
        """A reproducible sample of ``n`` queries (all of them when ``n`` is None or too large)."""
        n = None if n is None else check_positive_int(n, "n")
        seed = check_int(seed, "seed")
        if n is None or n >= len(self.queries):
            return dict(self.queries)
        ids = sorted(self.queries, key=_natural_key)
        chosen = set(random.Random(seed).sample(ids, n))
        return {q: self.queries[q] for q in ids if q in chosen}

    def __repr__(self) -> str:
        n_j = sum(len(v) for v in self.qrels.values())
        return (f"Dataset({self.name!r}: {len(self.corpus)} documents, {len(self.queries)} queries, "
                f"{n_j} judgments)")


def _natural_key(s: str) -> tuple[int, str]:
    return (int(s), "") if s.isascii() and s.isdigit() else (1 << 62, s)


def check_simple_name(value: object, what: str) -> str:
    """A collection, set or split name: letters, digits, ``.``, ``_``, ``-`` (no path)."""
    if not isinstance(value, str) or not _SIMPLE_NAME.match(value) or ".." in value:
        raise DatasetError(f"{what} must be a simple name (letters, digits, '.', '_', '-'), "
                           f"got {shown(value)}")
    return value


# -- reading files ----------------------------------------------------------------------------
def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file (a leading BOM is dropped); bytes that are
    not UTF-8 raise :class:`DatasetError` naming the line and byte offset."""
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    try:
        fh = path.open("rb")
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror or e}") from None
    with fh:
        offset = 0
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise DatasetError(f"{path}:1: the file is UTF-16; it must be UTF-8 (re-save it "
                                   "as UTF-8)")
            start = 3 if lineno == 1 and raw.startswith(codecs.BOM_UTF8) else 0
            try:
                line = raw[start:].decode("utf-8")
            except UnicodeDecodeError as e:
                at = offset + start + e.start
                raise DatasetError(
                    f"{path}:{lineno}: byte {raw[start + e.start]:#04x} at byte offset {at} is not "
                    "valid UTF-8; the file must be UTF-8 (re-save it as UTF-8)") from None
            offset += len(raw)
            yield lineno, line


def tsv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of a tab-separated UTF-8 file, header first; blank lines are
    skipped, every other line must have as many fields as the header (no quoting)."""
    width = None
    for lineno, line in text_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            raise DatasetError(f"{path}:{lineno}: expected {width} tab-separated columns like the "
                               f"header, got {len(fields)}")
        yield lineno, fields


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {shown(key)} appears twice")
        out[key] = value
    return out


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    """``("file:line", object)`` per non-blank line of a JSON-lines file."""
    n = 0
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: not valid JSON ({e.msg})") from None
        except (ValueError, RecursionError) as e:
            raise DatasetError(f"{where}: not valid JSON ({e})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}")
        n += 1
        yield where, row
    if not n:
        raise DatasetError(f"{path} holds no records")


def _check_string(value: str, where: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(f"{where}: {what} holds an unpaired surrogate escape (\\ud8xx); fix the "
                           "text") from None
    return value


def _check_id(value: object, where: str, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DatasetError(f"{where}: {what} must be a string or an integer, got {shown(value)}")
    text = _check_string(str(value), where, what)
    if not visible(text):
        raise DatasetError(f"{where}: {what} is empty")
    if text != text.strip():
        raise DatasetError(f"{where}: {what} {shown(text)} has leading or trailing whitespace")
    return text


def _field(row: dict, key: str, where: str, optional: bool = False) -> str:
    if key not in row and not optional:
        raise DatasetError(f"{where}: missing key {shown(key)} (expected an object with '_id' and "
                           "'text')")
    value = row.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{where}: {shown(key)} must be a string, got {shown(value)}")
    return _check_string(value, where, repr(key))


def _records(path: Path, what: str) -> Iterator[tuple[str, str, dict]]:
    """``(where, id, object)`` per record, ids checked and unique."""
    first: dict[str, str] = {}
    for where, row in _read_jsonl(path):
        if "_id" not in row:
            raise DatasetError(f"{where}: missing key '_id' (expected an object with '_id' and "
                               "'text')")
        rid = _check_id(row["_id"], where, "'_id'")
        if rid in first:
            raise DatasetError(f"{where}: duplicate {what} id {shown(rid)} (first at {first[rid]})")
        first[rid] = where.rsplit(":", 1)[1]
        yield where, rid, row


def _grade(text: str, where: str) -> int:
    lo, hi = GRADE_RANGE
    value = text.strip()
    if _INTEGER.match(value) and len(value) <= 12:
        grade: float = int(value.split(".")[0])
    else:
        try:
            grade = float(value) if "_" not in value else math.nan
        except ValueError:
            raise DatasetError(f"{where}: grade {shown(text)} is not a number (grades are whole numbers "
                               "such as 0, 1, 2)") from None
        if not math.isfinite(grade):
            raise DatasetError(f"{where}: grade {shown(text)} is not a finite number (grades are whole "
                               "numbers such as 0, 1, 2)")
        if not grade.is_integer():
            raise DatasetError(f"{where}: grade {shown(text)} is not an integer (grades are whole "
                               "numbers such as 0, 1, 2)")
    if not lo <= grade <= hi:
        raise DatasetError(f"{where}: grade {shown(text)} is outside [{lo}, {hi}]")
    return int(grade)


def _read_qrels(path: Path) -> tuple[dict[str, dict[str, int]], int]:
    """Judgments of a qrels file and how many rows repeated an earlier one (same grade)."""
    qrels: dict[str, dict[str, int]] = {}
    first: dict[tuple[str, str], int] = {}
    repeated = 0
    rows = tsv_rows(path)
    header = next(rows, None)
    if header is None or tuple(h.strip() for h in header[1][:3]) != QRELS_HEADER:
        raise DatasetError(f"{path}:{header[0] if header else 1}: expected header "
                           "'query-id<TAB>corpus-id<TAB>score' as the first line")
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        qid = _check_id(row[0], where, "query-id")
        did = _check_id(row[1], where, "corpus-id")
        grade = _grade(row[2], where)
        judged = qrels.setdefault(qid, {})
        if did in judged:
            if judged[did] != grade:
                raise DatasetError(
                    f"{where}: query {shown(qid)} / document {shown(did)} graded {grade}, but "
                    f"{judged[did]} at line {first[qid, did]}; keep one grade per pair")
            repeated += 1
            continue
        judged[did] = grade
        first[qid, did] = lineno
    if not qrels:
        raise DatasetError(f"{path} holds no judgments")
    return qrels, repeated


def _some(ids: list[str]) -> str:
    listed = ", ".join(shown(i) for i in ids[:5])
    return listed + (", ..." if len(ids) > 5 else "")


def load_beir_folder(path: str | Path, split: str = "test", name: str | None = None) -> Dataset:
    """Load a BEIR-layout folder; raise :class:`DatasetError` naming the first problem found
    (file and line); what is left out on purpose is counted in ``notes``."""
    if not isinstance(path, (str, Path)) or not str(path).strip() or "\0" in str(path):
        raise DatasetError(f"path must be a folder path, got {shown(path)}")
    split = check_simple_name(split, "split")
    if name is not None and (not isinstance(name, str) or not visible(name)):
        raise DatasetError(f"name must be a non-empty string or None, got {shown(name)}")
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"no dataset folder at {path}")
    corpus: dict[str, Document] = {}
    for where, doc_id, row in _records(path / "corpus.jsonl", "document"):
        title = _field(row, "title", where, optional=True)
        text = _field(row, "text", where)
        corpus[doc_id] = Document(title=title.strip(), text=text.strip())
    all_queries: dict[str, str] = {}
    for where, qid, row in _records(path / "queries.jsonl", "query"):
        all_queries[qid] = _field(row, "text", where)
    qrels_path = path / "qrels" / f"{split}.tsv"
    qrels_all, repeated = _read_qrels(qrels_path)

    notes: list[str] = []
    empty = [q for q, t in all_queries.items() if not visible(t)]
    queries = {q: t for q, t in all_queries.items() if visible(t)}
    unknown_q = unknown_d = 0
    no_positive: list[str] = []
    qrels: dict[str, dict[str, int]] = {}
    for qid, judged in qrels_all.items():
        if qid not in all_queries:
            unknown_q += len(judged)
            continue
        kept = {d: s for d, s in judged.items() if d in corpus}
        unknown_d += len(judged) - len(kept)
        if qid not in queries:
            continue
        if any(s > 0 for s in kept.values()):
            qrels[qid] = kept
        else:
            no_positive.append(qid)
    if unknown_q or unknown_d:
        notes.append(f"{unknown_q + unknown_d} judgments point to unknown queries/documents and were "
                     f"dropped ({unknown_q} to queries not in queries.jsonl, {unknown_d} to documents "
                     "not in corpus.jsonl)")
    if repeated:
        notes.append(f"{repeated} rows of {qrels_path.name} repeat an earlier judgment with the same "
                     "grade and were counted once")
    if empty:
        notes.append(f"{len(empty)} queries have no visible text and were dropped: {_some(empty)}")
    if no_positive:
        notes.append(f"{len(no_positive)} queries have judgments but no positive grade (> 0) among "
                     f"known documents and were dropped: {_some(no_positive)}")
    unjudged = [q for q in queries if q not in qrels_all]
    if unjudged:
        notes.append(f"{len(unjudged)} queries of queries.jsonl have no judgments in "
                     f"qrels/{split}.tsv and are not part of this split")
    blank = sum(1 for d in corpus.values() if not visible(d.full_text))
    if blank:
        notes.append(f"{blank} documents have no visible text (kept: they can never be retrieved "
                     "by their words)")
    if not qrels:
        raise DatasetError(f"{path}: no judged query matches queries.jsonl and corpus.jsonl with a "
                           f"positive grade ({'; '.join(notes) or 'nothing matched'})")
    queries = {q: t for q, t in queries.items() if q in qrels}
    return Dataset(name or path.name, corpus, queries, qrels, path=path, split=split, notes=notes)


def _unpack(zip_path: Path, name: str, folder: Path) -> None:
    """Extract the archive into ``folder`` (the contents of its ``name/`` folder)."""
    staging = folder / ".unzip"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(staging)
    inner = staging / name if (staging / name / "corpus.jsonl").is_file() else staging
    if not (inner / "corpus.jsonl").is_file():
        raise DatasetError(f"the BEIR archive for {name!r} holds no corpus.jsonl")
    for item in list(inner.iterdir()):
        item.rename(folder / item.name)
    shutil.rmtree(staging)


def download_beir(name: str, target: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download and unzip the official BEIR archive for ``name`` into ``target``; return its folder.

    The folder appears only once complete (a failed or interrupted extraction leaves nothing)."""
    name = check_simple_name(name, "name")
    url = BEIR_URL.format(name=name)
    zip_path = target / f"{name}.zip.part"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create {target}: {e.strerror or e}") from None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, zip_path.open("wb") as out:
            shutil.copyfileobj(resp, out)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        zip_path.unlink(missing_ok=True)
        raise DatasetError(
            f"could not download BEIR dataset {name!r} from {url} ({e}). You seem to be offline: "
            f"place the unzipped BEIR folder at {target / name} or set RAGCOMPARE_DATA_DIR to a "
            f"directory holding it; offline collections available here: {available_local()}"
        ) from None
    try:
        with atomic_directory(target / name) as folder:
            _unpack(zip_path, name, folder)
    except zipfile.BadZipFile:
        raise DatasetError(f"download of {url} is not a valid zip archive") from None
    except OSError as e:
        raise DatasetError(f"could not unpack {url} into {target}: {e.strerror or e}") from None
    finally:
        zip_path.unlink(missing_ok=True)
    return target / name


def available_local() -> list[str]:
    """Collections present in the data directory."""
    root = data_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "corpus.jsonl").is_file())


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def load_dataset(name_or_path: str | Path, split: str = "test") -> Dataset:
    """Load a collection by name (data dir, then BEIR download cache) or by folder path."""
    if (not isinstance(name_or_path, (str, Path)) or not str(name_or_path).strip()
            or "\0" in str(name_or_path)):
        raise DatasetError(f"dataset must be a name or a path, got {shown(name_or_path)}")
    split = check_simple_name(split, "split")
    as_path = Path(name_or_path).expanduser()
    if _is_dir(as_path):
        return load_beir_folder(as_path, split)
    name = str(name_or_path)
    if "/" in name or "\\" in name or not _SIMPLE_NAME.match(name) or ".." in name:
        raise DatasetError(f"no dataset folder at {shown(str(as_path))} (a collection name is "
                           f"letters, digits, '.', '_', '-'); available here: {available_local()}")
    local = data_dir() / name
    if _is_dir(local):
        return load_beir_folder(local, split, name)
    if name.lower() in BEIR_NAMES:
        cached = cache_dir() / "beir" / name.lower()
        if not (cached / "corpus.jsonl").is_file():
            download_beir(name.lower(), cache_dir() / "beir")
        return load_beir_folder(cached, split, name.lower())
    raise DatasetError(
        f"unknown dataset {shown(name)}: not in {data_dir()} (set RAGCOMPARE_DATA_DIR) and not a "
        f"BEIR name. Available here: {available_local()}; downloadable: {', '.join(BEIR_NAMES)}"
    )
