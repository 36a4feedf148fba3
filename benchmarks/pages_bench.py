"""Web page benchmark: server-side latency of the main pages over a generated corpus.

Builds N documents with R revisions each (or reuses a folder from an earlier run with
`--keep DIR`), brings the SQL cache up to date, then times requests through the real app with
Flask's test client (server-side time: routing, queries, git reads, rendering; no network).
Target (issue 3) at 10k documents: document page, catalogue tree and history page p95 ≤ 50 ms.

    python benchmarks/pages_bench.py --documents 10000 --revisions 5 --keep /tmp/pages-10k
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import build
from benchmarks.measure import peak_rss_mib, report, timed
from zhengai_docs import create_app
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import rebuild
from zhengai_docs.storage.repository import ContentRepository


def prepare(root: Path, documents: int, revisions: int) -> None:
    """A content repository and an up-to-date cache in `root` (kept between runs)."""
    if (root / "ready").exists():
        print(f"reusing {root}")
        return
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    corpus = build(root / "content.git", documents=documents, revisions=revisions)
    print(f"corpus: {documents} documents, {corpus.commits} commits, built in {time.perf_counter() - start:.1f} s")
    db = Database(f"sqlite:///{root / 'zhengai.db'}")
    db.upgrade()
    start = time.perf_counter()
    rebuild(db, corpus.repo, expected=None)
    corpus.repo.optimise()
    print(f"cache rebuilt in {time.perf_counter() - start:.1f} s")
    db.dispose()
    (root / "ready").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder instead of a temporary one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        prepare(root, args.documents, args.revisions)
        app = create_app(
            {"ANONYMOUS_READ": True, "DATABASE_URL": f"sqlite:///{root / 'zhengai.db'}", "CONTENT_REPOSITORY": str(root / "content.git")},
            instance_path=str(root),
        )
        client = app.test_client()
        repo = ContentRepository(root / "content.git")
        codes = sorted(p.rsplit("/", 1)[1][:-3] for p in repo.list_files(repo.require_head()) if p.endswith(".md"))
        levels = sorted({c[0] for c in codes})
        rng = random.Random(5)
        print(f"{len(codes)} documents; timing {args.runs} requests per page")

        def get(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        get("/")  # first request: connection pool, template compilation
        report("GET /documents/<code>", timed(args.runs, lambda n: get(f"/documents/{rng.choice(codes)}")), 50)
        report("GET /catalogue/<level 1>", timed(args.runs, lambda n: get(f"/catalogue/{rng.choice(levels)}")), 50)
        report("GET /documents/<code>/history", timed(args.runs, lambda n: get(f"/documents/{rng.choice(codes)}/history")), 50)
        report("GET /items/<code>", timed(args.runs, lambda n: get(f"/items/{rng.choice(codes)[:4]}")))
        report("GET / (home)", timed(args.runs // 4, lambda n: get("/")))
        report("GET /catalogue (whole tree)", timed(args.runs // 10, lambda n: get("/catalogue")))
        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        app.extensions["zhengai"].db.dispose()


if __name__ == "__main__":
    main()
