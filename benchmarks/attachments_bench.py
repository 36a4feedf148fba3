"""Attachments benchmark (issue 19): the same corpus with and without 附件, side by side.

Builds N documents (`benchmarks/corpus.py`), then a copy of the same repository where every
document gets two attachments of about 200 KB each in one more commit: 附件1 a real Word form
(Chinese paragraphs and a table, and a scanned-stamp photo, as real forms carry) and 附件2 a real
Excel scoring sheet (rows of Chinese criteria). Each file holds a word found nowhere else
(`附件词<n>甲` in the .docx, `附件词<n>乙` in the .xlsx). Both copies get their SQL cache and
search index built through the app's own services, then the real app (`create_app`, requests
through its WSGI stack with Flask's test client: routing, queries, git reads, rendering) serves:

- page view: GET /documents/<code> (the page lists the attachments) — p50/p95, both corpora,
  requests interleaved so that machine noise falls on both alike; target: p95 within 10 %;
- search: GET /search?q=… over body words — p50/p95, both corpora, same target;
- attachment-only words: GET /api/search?q=附件词<n>甲 (and 乙) on the corpus with attachments:
  how many find their document (0 until attachment text is in the index; then all of them);
- repository size: `git gc`, then the bytes under objects/ of each copy.

    python benchmarks/attachments_bench.py                # 500 documents, about 3 minutes
    python benchmarks/attachments_bench.py --documents 100 --runs 100
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from flask import Flask

    from zhengai_docs.catalogue.codes import DocumentCode

# Everything beyond the standard library (the corpus helpers, Flask, python-docx, openpyxl,
# Pillow, the app) is imported inside the functions that use it: the text extraction's sandbox
# starts children that run this script's top level again (as multiprocessing's `__mp_main__`),
# and with those imports here each child paid about 2 s.

TARGET_BYTES = 200 * 1024
QUERIES = ["专业设置", "双师型教师", "质量年度报告", "诊改", "教务处", "年度计划", "预警机制", "校企合作", "考核评价", "信息公开"]


def unique_word(number: int, part: str) -> str:
    """A word found only in one attachment: 附件词12甲 (the .docx of document 12), 附件词12乙 (its .xlsx)."""
    return f"附件词{number}{part}"


def photo(rng: random.Random, *, target: int) -> bytes:
    """A JPEG of noise of about `target` bytes: a scanned stamp or signature compresses no better."""
    from PIL import Image

    side = 200
    for _ in range(2):  # one guess, then scaled by the size it gave
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(out, "JPEG", quality=80)
        side = max(64, int(side * (target / out.tell()) ** 0.5))
    return out.getvalue()


def word_form(rng: random.Random, *, title: str, word: str) -> bytes:
    """A Word form of about 200 KB: title, instructions, a table to fill in, and a photo of the
    college stamp."""
    from docx import Document as WordDocument
    from docx.shared import Cm

    from benchmarks.corpus import SUBJECTS, sentence

    document = WordDocument()
    document.add_heading(f"{title}申报表", 0)
    for _ in range(12):
        document.add_paragraph("".join(sentence(rng) for _ in range(3)))
    document.add_paragraph(f"填表说明：本表关键词为{word}，请各部门如实填写。")
    table = document.add_table(rows=16, cols=4)
    for row in range(16):
        for column in range(4):
            table.cell(row, column).text = rng.choice(SUBJECTS) if row else ("项目", "内容", "负责部门", "完成时限")[column]
    document.add_picture(io.BytesIO(photo(rng, target=TARGET_BYTES - 45 * 1024)), width=Cm(6))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def score_sheet(rng: random.Random, *, title: str, word: str) -> bytes:
    """An Excel scoring sheet of about 200 KB: 300 rows of criteria, scores and notes in Chinese,
    and the scanned signature of the head of department."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image as SheetImage

    from benchmarks.corpus import OBJECTS, SUBJECTS, sentence

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "评分细则"
    sheet.append(["序号", "评价指标", "评分标准", "分值", "备注"])
    sheet.append([0, title, f"关键词 {word}", 0, "说明"])
    for row in range(1, 301):
        sheet.append([row, rng.choice(SUBJECTS), sentence(rng) + sentence(rng), rng.randint(1, 10), rng.choice(OBJECTS)])
    sheet.add_image(SheetImage(io.BytesIO(photo(rng, target=TARGET_BYTES - 25 * 1024))), "G2")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def add_attachments(git_dir: Path, codes: list[DocumentCode], *, seed: int = 19) -> tuple[int, dict[str, int]]:
    """One commit per document adding its 附件1 (.docx) and 附件2 (.xlsx), through `git fast-import`;
    returns the bytes added and each document's number (for its unique words)."""
    from zhengai_docs.storage.paths import files_folder

    rng = random.Random(seed)
    parts: list[bytes] = []
    numbers: dict[str, int] = {}
    added = 0
    when = int(time.time()) - 3600
    for number, code in enumerate(codes, start=1):
        numbers[str(code)] = number
        folder = files_folder(code.path)
        files = {
            f"{folder}/附件1-申报表.docx": word_form(rng, title=str(code), word=unique_word(number, "甲")),
            f"{folder}/附件2-评分细则.xlsx": score_sheet(rng, title=str(code), word=unique_word(number, "乙")),
        }
        message = f"{code} 添加附件".encode()
        commit = [
            b"commit refs/heads/main\n",
            f"author 基准测试 <bench@example.edu.cn> {when + number} +0800\n".encode(),
            f"committer zhengai-docs <zhengai-docs@localhost> {when + number} +0800\n".encode(),
            f"data {len(message)}\n".encode() + message + b"\n",
        ]
        if number == 1:
            commit.append(b"from refs/heads/main^0\n")
        for path, data in files.items():
            added += len(data)
            commit.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        parts.append(b"".join(commit) + b"\n")
    subprocess.run(["git", "--git-dir", str(git_dir), "fast-import", "--quiet"], input=b"".join(parts), check=True)
    return added, numbers


def objects_size(git_dir: Path) -> int:
    """Bytes under objects/ after `git gc` (what a clone carries, give or take)."""
    subprocess.run(["git", "--git-dir", str(git_dir), "gc", "--quiet", "--prune=now"], check=True)
    return sum(p.stat().st_size for p in (git_dir / "objects").rglob("*") if p.is_file())


def serve(root: Path) -> Flask:
    """The real app over `root` (content.git and a SQLite cache), its cache and index built."""
    from zhengai_docs import create_app
    from zhengai_docs.db.database import Database
    from zhengai_docs.db.sync import rebuild
    from zhengai_docs.storage.repository import ContentRepository

    db = Database(f"sqlite:///{root / 'zhengai.db'}")
    db.upgrade()

    rebuild(db, ContentRepository(root / "content.git"), expected=None)
    db.dispose()
    app = create_app(
        {"ANONYMOUS_READ": True, "DATABASE_URL": f"sqlite:///{root / 'zhengai.db'}", "CONTENT_REPOSITORY": str(root / "content.git")},
        instance_path=str(root),
    )
    search = app.extensions["zhengai"].library.search
    start = time.perf_counter()
    search.rebuild()
    print(f"  {root.name}: search index built in {time.perf_counter() - start:.1f} s", flush=True)
    return app


def interleaved(runs: int, apps: dict[str, Flask], url: Callable[[int], str]) -> dict[str, list[float]]:
    """Milliseconds per request of the same URLs on each app, alternating app by app."""
    clients = {name: app.test_client() for name, app in apps.items()}
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for n in range(runs):
        target = url(n)
        for name in list(clients) if n % 2 == 0 else list(reversed(clients)):
            start = time.perf_counter()
            response = clients[name].get(target)
            samples[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (name, target, response.status_code)
    return samples


def compare(label: str, samples: dict[str, list[float]]) -> None:
    from benchmarks.measure import percentile, report

    for name, values in samples.items():
        report(f"{label} [{name}]", values)
    plain, attached = (percentile(v, 0.95) for v in samples.values())
    change = (attached - plain) / plain * 100
    print(f"{'':<48} p95 change with attachments: {change:+.1f} % {'✓' if change <= 10 else '✗ (target ≤ +10 %)'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--runs", type=int, default=300, help="requests per page kind and corpus")
    parser.add_argument("--keep", type=Path, help="build into this folder (kept) instead of a temporary one")
    args = parser.parse_args()
    from benchmarks.corpus import build

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        plain, attached = root / "plain", root / "attached"
        for folder in (plain, attached):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        corpus = build(plain / "content.git", documents=args.documents, revisions=1)
        shutil.copytree(plain / "content.git", attached / "content.git")
        start = time.perf_counter()
        added, numbers = add_attachments(attached / "content.git", corpus.codes)
        print(
            f"corpus: {args.documents} documents; {2 * args.documents} attachments, {added / 1024 / 1024:.0f} MiB, made in "
            f"{time.perf_counter() - start:.1f} s",
            flush=True,
        )
        sizes = {name: objects_size(folder / "content.git") for name, folder in (("without", plain), ("with", attached))}
        apps = {"without": serve(plain), "with": serve(attached)}
        try:
            codes = [str(c) for c in corpus.codes]
            rng = random.Random(5)
            for app in apps.values():
                app.test_client().get("/")  # connection pool, templates
            compare("GET /documents/<code>", interleaved(args.runs, apps, lambda n: f"/documents/{rng.choice(codes)}"))
            compare("GET /search?q=<body words>", interleaved(args.runs, apps, lambda n: f"/search?q={QUERIES[n % len(QUERIES)]}"))
            client = apps["with"].test_client()
            sample = random.Random(3).sample(codes, min(50, len(codes)))
            for part, kind in (("甲", ".docx"), ("乙", ".xlsx")):
                found = 0
                for code in sample:
                    answer = json.loads(client.get(f"/api/search?q={unique_word(numbers[code], part)}").get_data(as_text=True))
                    found += code in json.dumps(answer, ensure_ascii=False)
                print(f"attachment-only words ({kind}): {found} of {len(sample)} documents found", flush=True)
        finally:
            for app in apps.values():
                app.extensions["zhengai"].close()
        mib = {name: size / 1024 / 1024 for name, size in sizes.items()}
        print(
            f"repository after git gc: without attachments {mib['without']:.2f} MiB, with {mib['with']:.2f} MiB "
            f"(+{mib['with'] - mib['without']:.2f} MiB; attachments as uploaded {added / 1024 / 1024:.2f} MiB)"
        )
    print(f"total time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
