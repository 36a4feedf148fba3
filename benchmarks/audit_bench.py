"""Audit views benchmark: coverage, gaps, matrix, completeness, flags and a point page at N
documents with five frameworks loaded (issue 5 target: every view p95 ≤ 100 ms at 10k).

Reuses (or builds) the corpus of `pages_bench.py`, adds five frameworks as commits, then times
requests through the real app (server-side time, Flask's test client).

    python benchmarks/audit_bench.py --documents 10000 --keep /tmp/pages-10k
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import peak_rss_mib, report, statements, timed
from benchmarks.pages_bench import prepare
from zhengai_docs import create_app
from zhengai_docs.bootstrap import SYSTEM_AUTHOR, builtin_data
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.framework import parse_framework
from zhengai_docs.frameworks import FrameworkStore, framework_path
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.repository import ContentRepository


def load_frameworks(repo: ContentRepository) -> None:
    """The two built-in frameworks and three provincial variants: five in all (set-up data,
    committed to the corpus repository before the app and its services exist)."""
    if len(FrameworkStore(repo).ids()) >= 5:
        return

    def commit(text: str, message: str) -> None:
        framework = parse_framework(text)
        repo.write(framework_path(framework.id), framework.to_yaml(), author=SYSTEM_AUTHOR, message=message, base=repo.head())

    national = builtin_data("framework-moe-2015.yaml").read_text(encoding="utf-8")
    commit(national, "框架 moe-2015")
    commit(builtin_data("framework-beijing-2016.yaml").read_text(encoding="utf-8"), "框架 beijing-2016")
    for province in ("hunan-2017", "jiangsu-2017", "zhejiang-2018"):
        commit(national.replace("id: moe-2015", f"id: {province}", 1), f"框架 {province}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        prepare(root, args.documents, args.revisions)
        load_frameworks(ContentRepository(root / "content.git"))
        app = create_app(
            {"ANONYMOUS_READ": True, "DATABASE_URL": f"sqlite:///{root / 'zhengai.db'}", "CONTENT_REPOSITORY": str(root / "content.git")},
            instance_path=str(root),
        )
        app.extensions["zhengai"].db.upgrade()
        client = app.test_client()
        rng = random.Random(3)
        points = [p.id for p in app.extensions["zhengai"].library.frameworks.get("moe-2015").framework.points()]

        def get(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        get("/audit/")
        print(f"{len(app.extensions['zhengai'].library.frameworks.ids())} frameworks; timing {args.runs} requests per view")
        for url in ("/audit/", "/audit/coverage", "/audit/gaps", "/audit/matrix", "/audit/completeness", "/audit/flags"):
            report(f"GET {url}", timed(args.runs, lambda n, url=url: get(url)), 100)
        report("GET /audit/gaps?dept=教务处", timed(args.runs, lambda n: get("/audit/gaps?dept=教务处")), 100)
        report("GET /audit/points/<id>", timed(args.runs, lambda n: get(f"/audit/points/{rng.choice(points)}")), 100)
        report("GET /audit/gaps?format=xlsx", timed(args.runs // 4, lambda n: get("/audit/gaps?format=xlsx")), 100)
        library = app.extensions["zhengai"].library
        codes = [f"{chr(65 + i)}101B" for i in range(26)]

        def after_a_save(n: int) -> None:
            loaded = library.load(document_code(codes[n % len(codes)]))
            library.save(loaded.document.with_changes(body=loaded.document.body + "\n补充。\n"), actor=Actor.system(), message="基准修订",
                         base=loaded.version.commit)  # fmt: skip
            get("/audit/")

        report("save, then the first GET /audit/ (cache rebuilt)", timed(5, after_a_save))
        engine = app.extensions["zhengai"].db.engine
        for url in ("/audit/", "/audit/coverage", "/audit/gaps", "/audit/points/2.1.1"):
            print(f"SQL statements per request, GET {url}: warm {statements(engine, lambda url=url: get(url))}")
        print(f"SQL statements, save + first GET /audit/: {statements(engine, lambda: after_a_save(99))}")
        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        app.extensions["zhengai"].db.dispose()


if __name__ == "__main__":
    main()
