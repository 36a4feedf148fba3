"""Word benchmark: importing a 50-page .docx, and compiling a 500-document handbook.

Targets (issue 7): import ≤ 2 s; handbook of 500 documents ≤ 60 s with bounded memory (the
handbook holds one batch of Markdown plus the Word document being built; peak RSS is printed).

    python benchmarks/word_bench.py --documents 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import build
from benchmarks.measure import peak_rss_mib, report, timed
from tests.word_fixtures import fifty_pages
from zhengai_docs.bootstrap import bundled
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import rebuild
from zhengai_docs.publishing.handbook import HandbookFilter, compile_handbook
from zhengai_docs.render.docx_import import convert_docx, import_docx
from zhengai_docs.render.docx_package import Limits

CHARS_PER_PAGE = 22 * 28  # GB/T 9704: 22 lines of 28 characters


def bench_import(runs: int) -> None:
    data = fifty_pages(chapters=10, clauses=36)
    markdown = import_docx(data).markdown
    pages = len(markdown) / CHARS_PER_PAGE
    print(f"import: {len(data) / 1024:.0f} KB .docx, {len(markdown)} characters of Markdown ≈ {pages:.0f} printed pages")
    report("import a 50-page .docx", timed(runs, lambda n: import_docx(data)), 2000)
    report("  of which the conversion, in process", timed(runs, lambda n: convert_docx(data, limits=Limits())))


def bench_handbook(documents: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        corpus = build(root / "content.git", documents=documents, revisions=1)
        db = Database(f"sqlite:///{root / 'zhengai.db'}")
        db.upgrade()
        rebuild(db, corpus.repo, expected=None)
        print(f"handbook corpus: {documents} documents in force, prepared in {time.perf_counter() - start:.1f} s")
        before = peak_rss_mib()
        tracemalloc.start()
        start = time.perf_counter()
        data, count = compile_handbook(
            db=db,
            repo=corpus.repo,
            selection=HandbookFilter(),
            template=bundled("templates") / "reference.docx",
            college="基准测试学院",
            today=dt.date(2026, 11, 23),
        )
        elapsed = time.perf_counter() - start
        traced = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        verdict = "✓" if elapsed <= 60 else "✗ (target ≤ 60 s)"
        print(f"handbook of {count} documents: {elapsed:.1f} s  {verdict}   .docx {len(data) / 1024 / 1024:.1f} MB")
        print(f"memory: Python peak while compiling {traced:.0f} MiB; process peak RSS {before:.0f} → {peak_rss_mib():.0f} MiB")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    bench_import(args.runs)
    bench_handbook(args.documents)


if __name__ == "__main__":
    main()
