"""Search benchmark, every backend on the same corpus: reindex, query latency with highlights,
save→searchable latency, size, RSS — printed side by side.

Generates N documents of 2–4 KB from the bundled regulations' sentences (`search_corpus`),
commits them with one `git fast-import`, then runs each phase of each backend in its own process
so that each peak RSS is that phase's alone:

- reindex: `rebuild_index` (what `zhengai-docs reindex` runs), documents/s, index size;
- search: a query mix of 1-, 2-, 3- and 4+-character Chinese, Latin letters and digits, common
  and rare words, some with filters; first page of 20 with highlighted snippets, p50/p95 over all
  runs; recall and precision of every query's full result set checked against a scan of the
  documents (the ground truth);
- save: a document saved through the Library, timed until a search finds its new text.

The PostgreSQL backend runs when `--postgresql` names an admin URL (a database is created for
the run and dropped after it); `--generic-plans` also times it without `force_custom_plan`.
Targets (issue 16) at 20,000 documents: p95 ≤ 100 ms (Whoosh), ≤ 20 ms (PostgreSQL), exact.

    python benchmarks/search_bench.py --documents 20000 \
        --postgresql postgresql+psycopg://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.search_corpus import CorpusGenerator, write_repository
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import rebuild
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.search.analysis import fold, plain_text, search_text
from zhengai_docs.search.backend import IndexedDocument, SearchBackend, SearchFilters, SearchRequest
from zhengai_docs.search.hits import match_text
from zhengai_docs.search.indexer import SearchIndex, indexed_document, rebuild_index
from zhengai_docs.search.query import parse_query
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.storage.repository import ContentRepository

WORDS = (
    "质", "学", "号", "双师", "诊改", "实训", "年度", "教务处", "诊断点", "双师型", "1+x", "实习实训",
    "专业带头", "人才培养", "质量保证", "专业带头人", "质量年度报", "质量年度报告", "人才培养方案", "内部质量保证",
    "GB/T 22239-2019", "包职院发〔2019〕", "12号", "ISO 9001", "kpi", "PDCA循环", "诊改 双师", "年度 考核",
    "顶岗实习", "课程思政", "校企合作", "学生工作处", "V2.0", "9001:2015", "不存在的词语", "8字形",
)  # fmt: skip
FILTERED = (
    ("双师", SearchFilters(doc_types=("B",))),
    ("质量", SearchFilters(departments=("教务处",))),
    ("诊改", SearchFilters(level1="A")),
    ("实习", SearchFilters(issued_from=dt.date(2020, 1, 1), issued_to=dt.date(2022, 12, 31))),
    ("专业带头人", SearchFilters(statuses=("废止",))),
    ("", SearchFilters(departments=("督导室",), doc_types=("L",))),
)
QUERIES: tuple[tuple[str, SearchFilters], ...] = tuple((w, SearchFilters()) for w in WORDS) + FILTERED
BACKENDS = ("whoosh", "postgresql")
WRITER = Actor.system(name="基准测试", email="bench@example.edu.cn")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- phases, each run in a child process ----------------------------------------------------------


@contextlib.contextmanager
def open_backend(kind: str, root: Path) -> Iterator[SearchBackend]:
    """The backend under test: Whoosh in the run's folder, PostgreSQL in the run's database."""
    if kind == "whoosh":
        backend: SearchBackend = WhooshBackend(root / "index")
        try:
            yield backend
        finally:
            backend.close()
        return
    from zhengai_docs.search.postgres_backend import PostgresBackend

    database = Database((root / "postgresql-url").read_text(encoding="utf-8").strip())
    try:
        yield PostgresBackend(database.engine)
    finally:
        database.dispose()


def phase_reindex(root: Path, kind: str) -> dict[str, Any]:
    with open_backend(kind, root) as backend:
        return _reindex(root, backend)


def _reindex(root: Path, backend: SearchBackend) -> dict[str, Any]:
    start = time.perf_counter()
    result = rebuild_index(backend, ContentRepository(root / "content.git"))
    seconds = time.perf_counter() - start
    state = backend.state()
    return {"documents": result.documents, "seconds": seconds, "size_mib": state.size_bytes / 2**20, "rss_mib": peak_rss_mib()}


def _passes(document: IndexedDocument, filters: SearchFilters) -> bool:
    """The filters' definitions (backend.SearchFilters), written out independently of the engines."""
    return (
        (document.status in filters.statuses if filters.statuses else document.status != "废止")
        and (not filters.doc_types or document.doc_type in filters.doc_types)
        and (not filters.departments or bool(set(filters.departments) & set(document.departments)))
        and (filters.level1 is None or document.level1 == filters.level1)
        and (filters.issued_from is None or (document.issued is not None and document.issued >= filters.issued_from))
        and (filters.issued_to is None or (document.issued is not None and document.issued <= filters.issued_to))
    )


def _expected(root: Path) -> list[set[str]]:
    """Documents that contain each query's terms, by scanning every document's display text."""
    repo = ContentRepository(root / "content.git")
    files = repo.list_files(repo.require_head())
    texts = dict(repo.read_blobs(set(files.values())))
    documents = [d for d in (indexed_document(path, texts[blob]) for path, blob in files.items()) if d is not None]
    visible = {d.code: fold(search_text(title=d.title, doc_number=d.doc_number, body_text=d.body_text)) for d in documents}
    assert all(visible[d.code] == match_text(d).text for d in documents[:50])  # no attachments here
    return [
        {d.code for d in documents if _passes(d, filters) and all(term in visible[d.code] for term in parse_query(query).terms)}
        for query, filters in QUERIES
    ]


def phase_search(root: Path, kind: str, runs: int) -> dict[str, Any]:
    expected = _expected(root)
    with open_backend(kind, root) as backend:
        return _search(backend, expected, runs)


def _search(backend: SearchBackend, expected: list[set[str]], runs: int) -> dict[str, Any]:
    start = time.perf_counter()
    backend.search(SearchRequest(text="双师"))
    first = (time.perf_counter() - start) * 1000  # opens the index and reads the match records
    samples: list[float] = []
    cpu: list[float] = []  # CPU time too: wall time also counts other processes on a shared machine
    per_query: dict[str, float] = {}
    for query, filters in QUERIES:
        times = []
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            results = backend.search(SearchRequest(text=query, filters=filters, per_page=20))
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        samples += times
        per_query[query + (" (filtered)" if filters.active else "")] = statistics.median(times)
        assert len(results.hits) == min(20, results.total)
    exact = 0
    for (query, filters), truth in zip(QUERIES, expected, strict=True):
        everything = SearchRequest(text=query, filters=filters, per_page=max(1, len(truth)) * 2, snippets=False, suggest=False)
        results = backend.search(everything)
        found = {h.code for h in results.hits}
        exact += found == truth and results.total == len(truth)
    slowest = sorted(per_query.items(), key=lambda kv: -kv[1])[:3]
    return {
        "first_ms": first,
        "p50_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 0.95),
        "max_ms": max(samples),
        "cpu_p50_ms": statistics.median(cpu),
        "cpu_p95_ms": percentile(cpu, 0.95),
        "load": os.getloadavg()[0],
        "exact_queries": exact,
        "queries": len(QUERIES),
        "matches_median": statistics.median(len(v) for v in expected),
        "slowest": slowest,
        "rss_mib": peak_rss_mib(),
    }


def phase_save(root: Path, kind: str, saves: int) -> dict[str, Any]:
    with open_backend(kind, root) as backend:
        return _save(root, backend, saves)


def _save(root: Path, backend: SearchBackend, saves: int) -> dict[str, Any]:
    repo = ContentRepository(root / "content.git")
    db = Database(f"sqlite:///{root / 'zhengai.db'}")
    db.upgrade()
    rebuild(db, repo, expected=None)
    library = Library(repo=repo, db=db, search=SearchIndex(backend, repo))
    library.sync()
    codes = sorted(p.rsplit("/", 1)[1][:5] for p in repo.list_files(repo.require_head()) if p.endswith(".md"))
    latencies = []
    for n in range(saves):
        code = document_code(codes[(n * 7919) % len(codes)])
        loaded = library.load(code)
        token = f"benchtoken{n}x"
        document = loaded.document.with_changes(body=loaded.document.body + f"\n补充条款 {token}。\n")
        start = time.perf_counter()
        library.save(document, actor=WRITER, message=f"基准修订 {n}", base=loaded.version.commit)
        every = SearchFilters(statuses=("现行", "草稿", "废止"))  # the saved document may be repealed
        while not backend.search(SearchRequest(text=token, filters=every, snippets=False, suggest=False)).total:
            if time.perf_counter() - start > 60:
                raise RuntimeError(f"{token} not searchable after 60 s")
            time.sleep(0.001)
        latencies.append((time.perf_counter() - start) * 1000)
    db.dispose()
    return {"p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 0.95), "saves": saves, "rss_mib": peak_rss_mib()}


# -- driver ---------------------------------------------------------------------------------------


def run_phase(name: str, root: Path, *extra: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--root", str(root), *extra], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


TARGET_P95 = {"whoosh": 100.0, "postgresql": 20.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10, help="runs of each query")
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--postgresql", help="admin URL of a PostgreSQL server (UTF-8 locale, pg_trgm) to also run that backend")
    parser.add_argument("--backends", default="whoosh,postgresql", help="comma-separated subset of whoosh,postgresql")
    parser.add_argument("--phase", choices=["reindex", "search", "save"], help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phases = {
            "reindex": lambda: phase_reindex(args.root, args.backend),
            "search": lambda: phase_search(args.root, args.backend, args.runs),
            "save": lambda: phase_save(args.root, args.backend, args.saves),
        }
        print(json.dumps(phases[args.phase]()))
        return

    kinds = [k for k in args.backends.split(",") if k in BACKENDS and (k != "postgresql" or args.postgresql)]
    with tempfile.TemporaryDirectory() as tmp, _database(args.postgresql, Path(tmp)):
        root = Path(tmp)
        start = time.perf_counter()
        documents = CorpusGenerator().corpus(args.documents)
        write_repository(root / "content.git", documents)
        sizes = [len(d.text.encode()) for d in documents]
        chars = [len(plain_text(d.text)) for d in documents]
        print(f"corpus: {len(documents)} documents, {min(sizes)}–{max(sizes)} bytes (median {statistics.median(sizes):.0f}), "
              f"median {statistics.median(chars):.0f} characters; built in {time.perf_counter() - start:.1f} s")  # fmt: skip
        del documents
        if "postgresql" not in kinds:
            print("postgresql: not run (give --postgresql ADMIN_URL)")
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for kind in kinds:
            r = results.setdefault(kind, {})
            r["reindex"] = run_phase("reindex", root, "--backend", kind)
            r["search"] = run_phase("search", root, "--backend", kind, "--runs", str(args.runs))
        for kind in kinds:
            results[kind]["save"] = run_phase("save", root, "--backend", kind, "--saves", str(args.saves))
        _report(results, runs=args.runs)


@contextlib.contextmanager
def _database(admin_url: str | None, root: Path) -> Iterator[None]:
    """A database of the run's own on the PostgreSQL server, dropped afterwards."""
    if not admin_url:
        yield
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"zhengai_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8'"))
    (root / "postgresql-url").write_text(make_url(admin_url).set(database=name).render_as_string(hide_password=False), encoding="utf-8")
    try:
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _report(results: dict[str, dict[str, dict[str, Any]]], *, runs: int) -> None:
    kinds = list(results)
    print(f"\n{'':44}" + "".join(f"{k:>16}" for k in kinds))

    def row(label: str, cell: Any) -> None:
        print(f"{label:44}" + "".join(f"{cell(results[k], k):>16}" for k in kinds))

    row("reindex: seconds", lambda r, k: f"{r['reindex']['seconds']:.1f} s")
    row("reindex: documents/s", lambda r, k: f"{r['reindex']['documents'] / r['reindex']['seconds']:.0f}")
    row("index size", lambda r, k: f"{r['reindex']['size_mib']:.0f} MiB")
    row("reindex: peak RSS", lambda r, k: f"{r['reindex']['rss_mib']:.0f} MiB")
    queries = results[kinds[0]]["search"]["queries"]
    row(f"search p50 ({queries} queries × {runs}, page of 20)", lambda r, k: f"{r['search']['p50_ms']:.1f} ms")
    row("search p95", lambda r, k: f"{r['search']['p95_ms']:.1f} ms")
    row("search max", lambda r, k: f"{r['search']['max_ms']:.1f} ms")
    row("search p95 target", lambda r, k: f"≤ {TARGET_P95[k]:.0f} ms " + ("✓" if r["search"]["p95_ms"] <= TARGET_P95[k] else "✗"))
    row("search CPU p50 / p95 (this process)", lambda r, k: f"{r['search']['cpu_p50_ms']:.0f} / {r['search']['cpu_p95_ms']:.0f} ms")
    row("exact result sets (recall = precision = 1)", lambda r, k: f"{r['search']['exact_queries']}/{r['search']['queries']}")
    row("first search in a new process", lambda r, k: f"{r['search']['first_ms']:.0f} ms")
    row("search: peak RSS", lambda r, k: f"{r['search']['rss_mib']:.0f} MiB")
    row("save → searchable p50", lambda r, k: f"{r['save']['p50_ms']:.0f} ms")
    row("save → searchable p95", lambda r, k: f"{r['save']['p95_ms']:.0f} ms")
    for kind in kinds:
        s = results[kind]["search"]
        print(f"{kind}: median matches per query {s['matches_median']:.0f}; slowest: "
              + ", ".join(f"{q} {ms:.0f} ms" for q, ms in s["slowest"]) + f"; load average {s['load']:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
