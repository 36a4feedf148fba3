"""Revision-cycle benchmark: dashboards, lists, on-time ratios and exports over a generated corpus.

Builds N documents with R revisions each (or reuses `--keep DIR` from an earlier run of this or
pages_bench.py), then times requests through the real app with Flask's test client, as of a
fixed day so the figures do not drift with the calendar. Target (issue 6) at 10k documents:
dashboard pages p95 ≤ 100 ms. Results are cached per commit (`derived.View.cached`), so the first view
after each commit pays for computing every clock: that is timed separately ("cold").

    python benchmarks/cycles_bench.py --documents 10000 --revisions 5 --keep /tmp/pages-10k
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import DEPARTMENTS
from benchmarks.measure import peak_rss_mib, report, statements, timed
from benchmarks.pages_bench import prepare
from zhengai_docs import create_app
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cycles import report as cycle_report
from zhengai_docs.cycles import rules
from zhengai_docs.cycles.rules import Policy
from zhengai_docs.db.database import Database
from zhengai_docs.permissions import Actor
from zhengai_docs.users import Role, create_user

TODAY = dt.date(2026, 11, 23)
PASSWORD = "bench-password"  # noqa: S105 - a throw-away account in a temporary database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder instead of a temporary one")
    args = parser.parse_args()
    rules.today = lambda now=None: TODAY  # the one clock the app reads

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        prepare(root, args.documents, args.revisions)
        settings = {"DATABASE_URL": f"sqlite:///{root / 'zhengai.db'}", "CONTENT_REPOSITORY": str(root / "content.git")}
        app = create_app({**settings, "WTF_CSRF_ENABLED": False}, instance_path=str(root))
        db: Database = app.extensions["zhengai"].db
        start = time.perf_counter()
        db.upgrade()  # an older --keep folder: migrate, then the first request rebuilds the cache
        app.extensions["zhengai"].library.sync()
        print(f"migrate + sync: {time.perf_counter() - start:.1f} s")
        if not _has_user(app, "bench-editor"):
            create_user(db, username="bench-editor", password=PASSWORD, role=Role.EDITOR, departments=(DEPARTMENTS[0],))
        cycles = cycle_report.document_cycles(db, policy=Policy.default(), today=TODAY)
        states = Counter(c.clock.state.label for c in cycles)
        print(f"{len(cycles)} documents with a cycle as of {TODAY}: " + "，".join(f"{k} {v}" for k, v in states.items()))

        client = app.test_client()
        response = client.post("/login", data={"username": "bench-editor", "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        codes = sorted(c.code for c in cycles)
        rng = random.Random(3)

        def get(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        get("/cycles/")  # first request: template compilation
        runs = args.runs
        report("GET /cycles/ (overview)", timed(runs, lambda n: get("/cycles/")), 100)
        report("GET /cycles/?by=quarter", timed(runs, lambda n: get("/cycles/?by=quarter")), 100)
        report("GET /cycles/mine (one department)", timed(runs, lambda n: get("/cycles/mine")), 100)
        report("GET /cycles/?dept=…&level=…", timed(runs, lambda n: get(f"/cycles/?dept={DEPARTMENTS[n % 10]}&level=A")), 100)
        report("GET /cycles/list?state=overdue&page=2", timed(runs, lambda n: get("/cycles/list?state=overdue&page=2")), 100)
        report("GET /cycles/ontime?years=3", timed(runs, lambda n: get("/cycles/ontime?years=3")), 100)
        report("GET /cycles/documents/<code>", timed(runs, lambda n: get(f"/cycles/documents/{rng.choice(codes)}")), 100)

        library = app.extensions["zhengai"].library

        def after_a_save(n: int, url: str) -> float:
            """Save one document, then time the first view (the clocks are brought forward)."""
            loaded = library.load(document_code(codes[n * 37 % len(codes)]))
            body = loaded.document.body + "\n补充。\n"
            writer = Actor.system(name="基准", email="bench@x")
            library.save(loaded.document.with_changes(body=body), actor=writer, message="基准修订", base=loaded.version.commit)
            start = time.perf_counter()
            get(url)
            return (time.perf_counter() - start) * 1000

        report("GET /cycles/, first view after a save", [after_a_save(n, "/cycles/") for n in range(20)], 100)
        report("GET /cycles/ontime, first view after a save", [after_a_save(n + 20, "/cycles/ontime?years=3") for n in range(10)], 100)
        report("GET /documents/<code> (with cycle panel)", timed(runs, lambda n: get(f"/documents/{rng.choice(codes)}")))
        report("GET /cycles/export.csv (overdue + due soon)", timed(max(runs // 5, 5), lambda n: get("/cycles/export.csv")))
        report("GET /cycles/export.docx (overdue + due soon)", timed(5, lambda n: get("/cycles/export.docx")))
        engine = db.engine
        for url in ("/cycles/", "/cycles/ontime?years=3", "/cycles/mine"):
            print(f"SQL statements per request, GET {url}: warm {statements(engine, lambda url=url: get(url))}")
        print(f"SQL statements, first GET /cycles/ after a save: {statements(engine, lambda: after_a_save(99, '/cycles/'))}")
        page = client.get("/cycles/").get_data(as_text=True)
        print(f"overview page: {len(page) // 1024} KiB, {len(re.findall('<tr>', page))} table rows")
        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        db.dispose()


def _has_user(app: object, username: str) -> bool:
    from zhengai_docs.users import check_credentials

    return check_credentials(app.extensions["zhengai"].db, username=username, password=PASSWORD) is not None  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
