"""Saves on a node with a central repository (CONTENT_REMOTE) against the same saves on one machine.

Builds one corpus, then two instance folders from it: "embedded" (the content repository is the
record) and "node" (a mirror of a central bare repository served on 127.0.0.1 by `git daemon`,
made by `zhengai-docs remote init-central`'s function). Each gets its SQL cache and search index
built, then the same sequence of saves runs through `Library.save` — git write (for the node:
the compare-and-swap push to the central repository, then the mirror's ref), cache sync and
search index — and p50/p95/p99 are printed side by side. Target: node p95 ≤ 250 ms.

    python benchmarks/remote_bench.py --documents 1000 --runs 100
    python benchmarks/remote_bench.py --postgres-admin postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    python benchmarks/remote_bench.py --postgres-admin … --search-backend postgresql   # as several nodes run
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks.corpus import build, sentence
from benchmarks.measure import percentile, timed
from tests.remote_daemon import git_daemon
from zhengai_docs.catalogue.codes import DocumentCode
from zhengai_docs.db.sync import rebuild
from zhengai_docs.permissions import Actor
from zhengai_docs.search.indexer import rebuild_index
from zhengai_docs.services import Services, load_services
from zhengai_docs.storage.remote import Remote, init_central

WRITER = Actor.system(name="教务处 王老师", email="jiaowu@example.edu.cn")
TARGET_MS = 250.0


def database_url(root: Path, name: str, admin: str | None) -> str:
    if not admin:
        return f"sqlite:///{root / name / 'zhengai.db'}"
    database = f"remote_bench_{name}_{uuid.uuid4().hex[:8]}"
    _admin_sql(admin, f"CREATE DATABASE {database} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0")
    return make_url(admin).set(database=database).render_as_string(hide_password=False)


def drop_database(url: str, admin: str | None) -> None:
    if admin:
        _admin_sql(admin, f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


def _admin_sql(admin: str, statement: str) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def prepared(instance: Path, settings: dict[str, object]) -> Services:
    """The instance's services with cache and index built at its head."""
    services = load_services(instance, {"BACKGROUND_SYNC": False, **settings})
    services.db.upgrade()
    library = services.library
    rebuild(services.db, library.repo, expected=None)
    if library.search is not None:
        rebuild_index(library.search.backend, library.repo)
    library.sync()
    return services


def saver(services: Services, codes: list[DocumentCode], *, seed: int) -> Callable[[int], None]:
    rng = random.Random(seed)
    library = services.library

    def save(n: int) -> None:
        code = rng.choice(codes)
        loaded = library.load(code)
        document = loaded.document.with_changes(body=loaded.document.body + f"\n**补充条款{n}** {sentence(rng)}\n")
        library.save(document, actor=WRITER, message=f"基准修订 {n}", base=loaded.version.commit)

    for n in range(5):  # warm-up: imports, connection pools, the first searcher
        save(-1 - n)
    return save


def timed_publish(remote: Remote) -> list[float]:
    """Milliseconds of each `publish` (the push and the mirror's ref), recorded as the saves run."""
    samples: list[float] = []
    publish = remote.publish

    def recorded(ref: str, *, new: str | None, old: str | None) -> bool:
        start = time.perf_counter()
        try:
            return publish(ref, new=new, old=old)
        finally:
            samples.append((time.perf_counter() - start) * 1000)

    remote.publish = recorded  # type: ignore[method-assign]
    return samples


def line(name: str, samples: list[float], target: float | None = None) -> str:
    p50, p95, p99 = statistics.median(samples), percentile(samples, 0.95), percentile(samples, 0.99)
    verdict = "" if target is None else ("  ✓" if p95 <= target else f"  ✗ (target p95 ≤ {target:g} ms)")
    return f"{name:<44} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   p99 {p99:7.1f} ms   n={len(samples)}{verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--postgres-admin", help="PostgreSQL admin URL: each instance gets a database of its own (default: SQLite)")
    parser.add_argument("--search-backend", choices=["whoosh", "postgresql"], default="whoosh", help="SEARCH_BACKEND of both instances")
    args = parser.parse_args()
    if args.search_backend == "postgresql" and not args.postgres_admin:
        parser.error("--search-backend postgresql needs --postgres-admin")
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        start = time.perf_counter()
        corpus = build(root / "embedded" / "content.git", documents=args.documents, revisions=args.revisions)
        corpus.repo.optimise()
        print(f"corpus: {args.documents} documents, {corpus.commits} commits, built in {time.perf_counter() - start:.1f} s", flush=True)
        central = init_central(root / "served" / "central.git")
        subprocess.run(["git", f"--git-dir={corpus.repo.path}", "push", "-q", str(central), "refs/heads/main"], check=True)
        subprocess.run(["git", f"--git-dir={central}", "repack", "-adq"], check=True)
        with git_daemon(root / "served") as prefix:
            (root / "node").mkdir()
            search = {"SEARCH_BACKEND": args.search_backend}
            urls = {name: database_url(root, name, args.postgres_admin) for name in ("embedded", "node")}
            embedded = prepared(root / "embedded", {"DATABASE_URL": urls["embedded"], **search})
            node_settings: dict[str, object] = {"DATABASE_URL": urls["node"], "CONTENT_REMOTE": f"{prefix}/central.git", **search}
            node = prepared(root / "node", node_settings)
            engine = "PostgreSQL" if args.postgres_admin else "SQLite"
            served = f"{prefix}/central.git (git daemon on 127.0.0.1)"
            print(f"database: {engine}; search: {args.search_backend}; central repository: {served}", flush=True)
            try:
                # the two run in turns, so both meet the same load on the machine
                saves = {name: saver(services, corpus.codes, seed=11) for name, services in (("embedded", embedded), ("node", node))}
                assert node.library.repo.remote is not None
                publishes = timed_publish(node.library.repo.remote)
                results: dict[str, list[float]] = {"embedded": [], "node": []}
                for n in range(args.runs):
                    for name, save in saves.items():
                        results[name].extend(timed(1, lambda _i, save=save, n=n: save(n)))  # type: ignore[misc]
                print(line("save, one machine (no remote)", results["embedded"]))
                print(line("save, node with CONTENT_REMOTE (incl. push)", results["node"], TARGET_MS))
                print(line("  of which publish (push, then mirror ref)", publishes))
                central_head = subprocess.run(
                    ["git", f"--git-dir={central}", "rev-parse", "refs/heads/main"], capture_output=True, text=True, check=True
                ).stdout.strip()
                assert central_head == node.library.repo.head(), "the node's mirror and the central repository disagree"
            finally:
                embedded.close()
                node.close()
                for url in urls.values():
                    drop_database(url, args.postgres_admin)


if __name__ == "__main__":
    main()
