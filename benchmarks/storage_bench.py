"""Storage and cache benchmark: save, read, history, cold rebuild, sync after external commits.

Builds a content repository of N documents with R revisions each (N×R commits), then prints
p50/p95 latencies. Targets (issue 2) at 10k documents / 50k commits: save p95 ≤ 100 ms,
read p95 ≤ 10 ms, history p95 ≤ 20 ms, sync of one changed document ≤ 200 ms.

    python benchmarks/storage_bench.py --documents 10000 --revisions 5
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import build, sentence
from benchmarks.measure import peak_rss_mib, report, timed
from zhengai_docs import create_app
from zhengai_docs.catalogue.document import parse_document
from zhengai_docs.db import queries
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import rebuild, sync
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.repository import Author

AUTHOR = Author("基准测试", "bench@example.edu.cn")
WRITER = Actor.system(name=AUTHOR.name, email=AUTHOR.email)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(11)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        corpus = build(root / "content.git", documents=args.documents, revisions=args.revisions)
        print(f"corpus: {args.documents} documents, {corpus.commits} commits, built in {time.perf_counter() - start:.1f} s")
        db = Database(f"sqlite:///{root / 'zhengai.db'}")
        db.upgrade()
        library = Library(repo=corpus.repo, db=db)

        start = time.perf_counter()
        result = rebuild(db, corpus.repo, expected=None)
        print(f"cold cache rebuild: {time.perf_counter() - start:.2f} s ({result.documents} documents, {result.revisions} revisions)")
        corpus.repo.optimise()
        library.sync()

        start = time.perf_counter()
        app = create_app({"TESTING": True, "ANONYMOUS_READ": True, "DATABASE_URL": db.url}, instance_path=str(root))
        print(f"create_app (startup, no repository scan): {(time.perf_counter() - start) * 1000:.1f} ms")
        app.extensions["zhengai"].db.dispose()

        codes = corpus.codes
        paths = [c.path for c in codes]
        report("read one document at head (git)", timed(args.runs, lambda n: corpus.repo.read(rng.choice(paths))), 10)
        report("load one document (read + parse)", timed(args.runs, lambda n: library.load(rng.choice(codes))))
        report("history of one document (SQL cache)", timed(args.runs, lambda n: queries.history(db, str(rng.choice(codes)))), 20)
        report("history of one document (git log, commit-graph)", timed(50, lambda n: corpus.repo.history(rng.choice(paths))))

        def save(n: int) -> None:
            code = rng.choice(codes)
            loaded = library.load(code)
            document = loaded.document.with_changes(body=loaded.document.body + f"\n**补充条款{n}** {sentence(rng)}\n")
            library.save(document, actor=WRITER, message=f"基准修订 {n}", base=loaded.version.commit)

        report("save one document (git write + cache sync)", timed(args.runs, save), 100)

        def external(count: int) -> Callable[[int], object]:
            def commit_then_sync(n: int) -> object:
                chosen = rng.sample(codes, count)
                changes = {}
                for code in chosen:
                    text = corpus.repo.read(code.path).text
                    changes[code.path] = parse_document(text, path=code.path).with_changes(title=f"外部修订 {n}").dump()
                corpus.repo.commit(changes, author=AUTHOR, message=f"外部提交 {n}", base=corpus.repo.head())
                start = time.perf_counter()
                sync(db, corpus.repo)
                return time.perf_counter() - start

            return commit_then_sync

        one = [external(1)(n) * 1000 for n in range(30)]  # type: ignore[operator]
        report("sync after external commit of 1 document", one, 200)
        hundred = [external(100)(n) * 1000 for n in range(5)]  # type: ignore[operator]
        report("sync after external commit of 100 documents", hundred)

        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        db.dispose()


if __name__ == "__main__":
    main()
