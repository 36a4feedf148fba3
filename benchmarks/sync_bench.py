"""Cache sync benchmark: how long the SQL cache takes to follow commits pushed from outside.

Every changed file is read by the one front-matter reader (`catalogue.document`), once for the
document's row and for each revision row. Builds a content repository of N documents with R
revisions each, then prints p50/p95 of:

- sync after one external commit that changes 100 documents (issue 13's yardstick),
- sync after 100 external commits of one document each,
- sync after one external commit of one document,

and the time of a cold rebuild (every revision of every document read once).

    python benchmarks/sync_bench.py --documents 10000 --revisions 5
    python benchmarks/sync_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:55432/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import build
from benchmarks.measure import report
from zhengai_docs.catalogue.codes import DocumentCode
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import rebuild, sync
from zhengai_docs.storage.repository import Author, ContentRepository

AUTHOR = Author("外部提交者", "ext@example.edu.cn")


def revised(text: str, *, n: int, rng: random.Random) -> str:
    """The document as someone editing it by hand would push it: new title, new issue date, and a
    "reviewed, no change" in flow style on some of them."""
    issued = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(900))
    lines = []
    for line in text.split("\n"):
        if line.startswith("title: "):
            line = f"title: 外部修订 {n} {line[7:]}"
        elif line.startswith("issued: "):
            line = f"issued: {issued.isoformat()}"
            if rng.random() < 0.3:
                line += f"\nreviewed: {{date: {issued + dt.timedelta(days=30)}, by: 教务处, reason: 仍适用}}"
        lines.append(line)
    return "\n".join(lines)


def external_commits(repo: ContentRepository, groups: list[list[DocumentCode]], *, n: int, rng: random.Random) -> None:
    """One commit per group, each rewriting the group's documents."""
    for index, group in enumerate(groups):
        changes = {code.path: revised(repo.read(code.path).text, n=n, rng=rng) for code in group}
        repo.commit(changes, author=AUTHOR, message=f"线下修订 {n}.{index}", base=repo.head())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database-url", help="an empty database to use instead of a SQLite file")
    args = parser.parse_args()
    rng = random.Random(13)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = build(root / "content.git", documents=args.documents, revisions=args.revisions)
        print(f"corpus: {args.documents} documents, {corpus.commits} commits")
        db = Database(args.database_url or f"sqlite:///{root / 'zhengai.db'}")
        db.upgrade()
        start = time.perf_counter()
        result = rebuild(db, corpus.repo, expected=None)
        print(f"cold rebuild: {time.perf_counter() - start:.2f} s ({result.documents} documents, {result.revisions} revisions)")
        corpus.repo.optimise()

        def measure(name: str, shape: int, size: int) -> None:
            samples = []
            for n in range(args.runs):
                chosen = rng.sample(corpus.codes, shape * size)
                external_commits(corpus.repo, [chosen[i : i + size] for i in range(0, len(chosen), size)], n=n, rng=rng)
                start = time.perf_counter()
                outcome = sync(db, corpus.repo)
                samples.append((time.perf_counter() - start) * 1000)
                assert outcome.mode == "incremental", outcome
            report(name, samples)

        measure("sync: 1 commit changing 100 documents", 1, 100)
        measure("sync: 100 commits of 1 document each", 100, 1)
        measure("sync: 1 commit changing 1 document", 1, 1)
        db.dispose()


if __name__ == "__main__":
    main()
