"""Load BEIR-layout test collections (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).

Names resolve in the data directory (``$RAGCOMPARE_DATA_DIR``, default ``../shared/datasets``);
BEIR names (``scifact``, ``nfcorpus``, ...) are downloaded and cached for connected users.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ragcompare.settings import cache_dir, data_dir
from ragcompare.types import RagCompareError

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
BEIR_NAMES = (
    "scifact", "nfcorpus", "fiqa", "arguana", "scidocs", "trec-covid", "webis-touche2020",
    "quora", "nq", "hotpotqa", "dbpedia-entity", "fever", "climate-fever", "msmarco",
)
DOWNLOAD_TIMEOUT_S = 10.0


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
    return (int(s), "") if s.isdigit() else (1 << 62, s)


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict) or any(k not in row for k in required):
                raise DatasetError(f"{path}:{lineno}: expected an object with keys {required}")
            rows.append(row)
    if not rows:
        raise DatasetError(f"{path} holds no records")
    return rows


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
            raise DatasetError(f"{path}: expected header 'query-id<TAB>corpus-id<TAB>score'")
        for lineno, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) < 3:
                raise DatasetError(f"{path}:{lineno}: expected 3 tab-separated columns")
            try:
                score = int(float(row[2]))
            except ValueError:
                raise DatasetError(f"{path}:{lineno}: score {row[2]!r} is not a number") from None
            qrels.setdefault(row[0], {})[row[1]] = score
    if not qrels:
        raise DatasetError(f"{path} holds no judgments")
    return qrels


def load_beir_folder(path: str | Path, split: str = "test", name: str | None = None) -> Dataset:
    """Load a BEIR-layout folder; raise :class:`DatasetError` naming the first problem found."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"no dataset folder at {path}")
    notes: list[str] = []
    corpus: dict[str, Document] = {}
    for row in _read_jsonl(path / "corpus.jsonl", ("_id", "text")):
        doc_id = str(row["_id"])
        if doc_id in corpus:
            raise DatasetError(f"{path / 'corpus.jsonl'}: duplicate document id {doc_id!r}")
        title, text = row.get("title") or "", row["text"]
        if not isinstance(title, str) or not isinstance(text, str):
            raise DatasetError(f"{path / 'corpus.jsonl'}: document {doc_id!r} has non-string text")
        corpus[doc_id] = Document(title=title.strip(), text=text.strip())
    queries: dict[str, str] = {}
    for row in _read_jsonl(path / "queries.jsonl", ("_id", "text")):
        qid = str(row["_id"])
        if qid in queries:
            raise DatasetError(f"{path / 'queries.jsonl'}: duplicate query id {qid!r}")
        queries[qid] = str(row["text"])
    qrels_all = _read_qrels(path / "qrels" / f"{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    dropped = 0
    for qid, judged in qrels_all.items():
        if qid not in queries:
            dropped += len(judged)
            continue
        kept = {d: s for d, s in judged.items() if d in corpus}
        dropped += len(judged) - len(kept)
        if any(s > 0 for s in kept.values()):
            qrels[qid] = kept
    if dropped:
        notes.append(f"{dropped} judgments point to unknown queries/documents and were dropped")
    if not qrels:
        raise DatasetError(f"{path}: no judged query matches queries.jsonl and corpus.jsonl")
    queries = {q: t for q, t in queries.items() if q in qrels and t.strip()}
    return Dataset(name or path.name, corpus, queries, qrels, path=path, split=split, notes=notes)


def download_beir(name: str, target: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download and unzip the official BEIR archive for ``name`` into ``target``; return its folder."""
    url = BEIR_URL.format(name=name)
    target.mkdir(parents=True, exist_ok=True)
    zip_path = target / f"{name}.zip.part"
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
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(target)
    except zipfile.BadZipFile:
        raise DatasetError(f"download of {url} is not a valid zip archive") from None
    finally:
        zip_path.unlink(missing_ok=True)
    return target / name


def available_local() -> list[str]:
    """Collections present in the data directory."""
    root = data_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "corpus.jsonl").is_file())


def load_dataset(name_or_path: str | Path, split: str = "test") -> Dataset:
    """Load a collection by name (data dir, then BEIR download cache) or by folder path."""
    if not isinstance(name_or_path, (str, Path)) or not str(name_or_path).strip():
        raise DatasetError(f"dataset must be a name or a path, got {name_or_path!r}")
    as_path = Path(name_or_path).expanduser()
    if as_path.is_dir():
        return load_beir_folder(as_path, split)
    name = str(name_or_path)
    local = data_dir() / name
    if local.is_dir():
        return load_beir_folder(local, split, name)
    if name.lower() in BEIR_NAMES:
        cached = cache_dir() / "beir" / name.lower()
        if not (cached / "corpus.jsonl").is_file():
            download_beir(name.lower(), cache_dir() / "beir")
        return load_beir_folder(cached, split, name.lower())
    if "/" in name or "\\" in name:
        raise DatasetError(f"no dataset folder at {as_path}")
    raise DatasetError(
        f"unknown dataset {name!r}: not in {data_dir()} (set RAGCOMPARE_DATA_DIR) and not a BEIR "
        f"name. Available here: {available_local()}; downloadable: {', '.join(BEIR_NAMES)}"
    )
