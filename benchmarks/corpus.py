"""A realistic Chinese corpus for benchmarks: regulations in the demo's style, built fast.

Documents are written straight into a bare repository with `git fast-import` (tens of
thousands of commits per second) instead of one plumbing write each, so a 50k-commit history
takes seconds to build. The result is an ordinary content repository the app can use.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.catalogue.codes import DocType, DocumentCode
from zhengai_docs.catalogue.model import Catalogue, Item
from zhengai_docs.storage.paths import CATALOGUE_PATH
from zhengai_docs.storage.repository import ContentRepository

DEPARTMENTS = [
    "教务处",
    "组织人事处",
    "学生工作处",
    "科研产业处",
    "计划财务处",
    "国有资产管理处",
    "招生就业处",
    "党委（院长）办公室",
    "后勤管理处",
    "质量管理办公室",
]
SUBJECTS = [
    "专业设置",
    "课程建设",
    "实习实训",
    "双师型教师",
    "人才培养方案",
    "质量年度报告",
    "诊断点",
    "专业带头人",
    "学生资助",
    "招生就业",
    "教学督导",
    "校企合作",
    "信息化建设",
    "安全稳定",
    "财务管理",
    "资产管理",
    "科研项目",
    "继续教育",
]
ACTIONS = [
    "应当建立健全",
    "负责组织实施",
    "定期开展",
    "按照规定程序",
    "每学年至少进行一次",
    "应当及时报送",
    "统筹协调",
    "加强监督检查",
    "持续改进",
    "严格执行",
]
OBJECTS = ["工作机制", "考核评价办法", "质量标准", "年度计划", "管理台账", "诊改报告", "目标任务书", "预警机制", "保障措施", "信息公开制度"]
TAILS = [
    "，确保各项工作落到实处。",
    "，并将结果纳入部门年度考核。",
    "，形成常态化的诊断与改进机制。",
    "，报学院院长办公会审议后实施。",
    "，依据 GB/T 22239-2019 做好信息安全保护。",
    "，相关材料按包职院发〔2019〕12号要求归档。",
]
TITLE_FORMS = {DocType.Z: "{}管理办法", DocType.L: "{}工作流程", DocType.B: "{}质量标准"}


@dataclass(frozen=True)
class Corpus:
    repo: ContentRepository
    codes: list[DocumentCode]
    commits: int


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(DEPARTMENTS)}{rng.choice(ACTIONS)}{rng.choice(SUBJECTS)}{rng.choice(OBJECTS)}{rng.choice(TAILS)}"


def document_text(code: DocumentCode, *, rng: random.Random, issued: dt.date, target_bytes: int) -> str:
    subject = SUBJECTS[_stable(code.item) % len(SUBJECTS)]
    title = "包头职业技术学院" + TITLE_FORMS[code.doc_type].format(subject)
    departments = sorted({DEPARTMENTS[_stable(code.item) % len(DEPARTMENTS)], rng.choice(DEPARTMENTS)})
    front = (
        f"---\ncode: {code}\ntitle: {title}\ntype: {code.doc_type.label}\ndepartments:\n"
        + "".join(f"  - {d}\n" for d in departments)
        + f"status: 现行\nissued: {issued.isoformat()}\npoints:\n  - '2.1.{rng.randint(1, 3)}'\n---\n"
    )
    body = [f"# {title}\n", "## 第一章 总则\n"]
    clause = 1
    while len("".join(body).encode()) < target_bytes:
        if clause % 6 == 0:
            body.append(f"## 第{'二三四五六七八九十'[min(clause // 6 - 1, 8)]}章 {rng.choice(SUBJECTS)}\n")
        body.append(f"**第{clause}条** " + "".join(sentence(rng) for _ in range(rng.randint(2, 4))) + "\n")
        clause += 1
    return front + "\n".join(body)


def document_codes(count: int) -> list[DocumentCode]:
    """Codes in catalogue order, three per item, items spread over levels A–Z and groups 1–9."""
    codes: list[DocumentCode] = []
    index = 0
    while len(codes) < count:
        level1 = chr(ord("A") + index % 26)
        group = index // 26 % 9 + 1
        number = index // (26 * 9) + 1
        item = f"{level1}{group}{number:02d}"
        codes += [DocumentCode(item=item, doc_type=t) for t in DocType]
        index += 1
    return codes[:count]


def catalogue_for(codes: list[DocumentCode]) -> Catalogue:
    catalogue = Catalogue(title="基准测试目录")
    for item in sorted({c.item for c in codes}):
        catalogue = catalogue.with_item(
            Item(code=item, name=f"条目{item}", departments=(DEPARTMENTS[_stable(item) % len(DEPARTMENTS)],)),
            level_name=f"一级{item[0]}",
            group_name=f"二级{item[:2]}",
        )
    return catalogue


def build(path: Path, *, documents: int, revisions: int, seed: int = 7, min_bytes: int = 2000, max_bytes: int = 4000) -> Corpus:
    """A repository with `documents` documents, each committed `revisions` times, one file per commit."""
    rng = random.Random(seed)
    repo = ContentRepository.create(path)
    codes = document_codes(documents)
    start = dt.datetime(2016, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    total = 1 + documents * revisions
    step = (dt.datetime(2026, 10, 1, tzinfo=start.tzinfo) - start) / total

    def commits() -> Iterator[tuple[str, str, str]]:
        yield CATALOGUE_PATH, catalogue_for(codes).to_yaml(), "导入目录"
        order = [c for c in codes for _ in range(revisions)]
        first, rest = order[::revisions], [c for i, c in enumerate(order) if i % revisions]
        rng.shuffle(rest)
        for n, code in enumerate(first + rest):
            issued = (start + step * (n + 1)).date()
            text = document_text(code, rng=rng, issued=issued, target_bytes=rng.randint(min_bytes, max_bytes))
            yield code.path, text, f"修订 {code}：{sentence(rng)}"

    stream = _fast_import_stream(commits(), start=start, step=step)
    subprocess.run(["git", "--git-dir", str(path), "fast-import", "--quiet"], input=stream, check=True)
    return Corpus(repo=repo, codes=codes, commits=total)


def _fast_import_stream(commits: Iterator[tuple[str, str, str]], *, start: dt.datetime, step: dt.timedelta) -> bytes:
    parts: list[bytes] = []
    for n, (path, text, message) in enumerate(commits):
        when = int((start + step * n).timestamp())
        data = text.encode()
        msg = message.encode()
        parts.append(
            b"commit refs/heads/main\n"
            + f"author 基准测试 <bench@example.edu.cn> {when} +0800\n".encode()
            + f"committer zhengai-docs <zhengai-docs@localhost> {when} +0800\n".encode()
            + f"data {len(msg)}\n".encode()
            + msg
            + f"\nM 100644 inline {path}\ndata {len(data)}\n".encode()
            + data
            + b"\n\n"
        )
    return b"".join(parts)


def _stable(text: str) -> int:
    """A hash that is the same in every run (str hashes are randomised per process)."""
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(text))
