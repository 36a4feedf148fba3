"""Realistic synthetic corpora for the search benchmark.

Sentences come from the bundled regulations and standards, recombined and varied (departments,
numbers, years, domain terms, a few Latin/number tokens such as GB/T 22239-2019), into documents
of 2-4 KB with real front matter. The repository is written with one `git fast-import` stream
(one commit), not one write per document.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.bootstrap import bundled
from zhengai_docs.catalogue.codes import DocType, DocumentCode
from zhengai_docs.catalogue.document import DocumentMeta, Status, new_document, parse_document
from zhengai_docs.search.analysis import plain_text
from zhengai_docs.storage.repository import ContentRepository

DEPARTMENTS = (
    "教务处", "学生工作处", "组织人事处", "招生就业处", "科研处", "质量管理办公室", "督导室",
    "财务处", "国有资产管理处", "图书馆", "信息中心", "团委", "继续教育学院", "国际交流合作处",
)  # fmt: skip
TOPICS = (
    "专业设置与调整", "人才培养方案制订", "课程标准建设", "实习实训", "顶岗实习", "双师型教师认定",
    "专业带头人遴选", "教学质量监控", "质量年度报告编制", "诊断与改进", "学生综合素质评价",
    "教材选用", "校企合作", "现代学徒制试点", "1+X证书制度试点", "兼职教师聘用", "教学事故认定",
    "网络安全等级保护", "实训基地建设", "科研项目管理", "学籍管理", "毕业设计", "督导听课",
    "数据采集与管理平台", "内部质量保证体系运行", "专业群建设", "课程思政", "招生录取",
)  # fmt: skip
KINDS = {
    DocType.Z: ("管理办法", "实施细则", "管理规定", "工作制度"),
    DocType.L: ("工作流程", "办理流程"),
    DocType.B: ("质量标准", "考核标准", "建设标准"),
}
EXTRAS = (
    "按照GB/T 22239-2019《信息安全技术 网络安全等级保护基本要求》执行。",
    "质量管理体系参照ISO 9001:2015建立，按PDCA循环持续改进。",
    "各部门年度KPI完成情况纳入考核。",
    "试点1+X证书制度，证书通过率不低于85%。",
    "依据教职成〔2015〕10号文件精神制定。",
    "数据于每年9月30日前通过状态数据平台V2.0上报。",
    "诊改工作按“8字形质量改进螺旋”组织实施。",
    "双师型教师比例达到60%以上，专业带头人不少于2名。",
)


def source_sentences() -> list[str]:
    sentences: list[str] = []
    for folder in ("regulations", "standards"):
        for file in sorted(bundled(folder).rglob("*.md")):
            path = f"{folder}/{file.relative_to(bundled(folder)).as_posix()}"
            body = parse_document(file.read_text(encoding="utf-8"), path=path).body
            for line in plain_text(body).splitlines():
                line = re.sub(r"^第[一二三四五六七八九十百]+条\s*", "", line.strip())
                for sentence in re.findall(r"[^。；]+[。；]", line):
                    if 8 <= len(sentence) <= 160 and "|" not in sentence:
                        sentences.append(sentence)
    return sentences


_NUMBER = re.compile(r"(?<![A-Za-z〔])\d{1,3}(?![\d〕])")
_YEAR = re.compile(r"20[12]\d")


@dataclass
class CorpusDocument:
    code: DocumentCode
    text: str

    @property
    def path(self) -> str:
        return self.code.path


class CorpusGenerator:
    def __init__(self, *, seed: int = 42) -> None:
        self.random = random.Random(seed)
        self.sentences = source_sentences()

    def _sentence(self) -> str:
        r = self.random
        sentence = r.choice(self.sentences)
        sentence = _NUMBER.sub(lambda m: str(r.randint(1, 120)), sentence)
        sentence = _YEAR.sub(lambda m: str(r.randint(2012, 2025)), sentence)
        for department in DEPARTMENTS:
            if department in sentence and r.random() < 0.5:
                sentence = sentence.replace(department, r.choice(DEPARTMENTS))
        if r.random() < 0.04:
            sentence = r.choice(EXTRAS)
        return sentence

    def codes(self, count: int) -> list[DocumentCode]:
        codes = []
        for level1 in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            for level2 in range(1, 10):
                for number in range(1, 100):
                    for doc_type in DocType:
                        codes.append(DocumentCode(item=f"{level1}{level2}{number:02d}", doc_type=doc_type))
        self.random.shuffle(codes)
        return sorted(codes[:count], key=lambda c: c.sort_key)

    def document(self, code: DocumentCode, *, min_bytes: int = 2048, max_bytes: int = 4096) -> CorpusDocument:
        r = self.random
        title = f"包头职业技术学院{r.choice(TOPICS)}{r.choice(KINDS[code.doc_type])}"
        target = r.randint(min_bytes, max_bytes)
        lines = [f"# {title}", ""]
        size = len("\n".join(lines).encode())
        chapter = article = 0
        chinese_numbers = "一二三四五六七八九十"
        while size < target - 200:
            if article % 4 == 0:
                chapter += 1
                lines += [f"## 第{chinese_numbers[(chapter - 1) % 10]}章 {r.choice(TOPICS)}", ""]
            article += 1
            paragraph = "".join(self._sentence() for _ in range(r.randint(1, 3)))
            lines += [f"**第{article}条** {paragraph}", ""]
            size = len("\n".join(lines).encode())
        status = r.choices([Status.IN_FORCE, Status.DRAFT, Status.REPEALED], weights=[80, 10, 10])[0]
        issued = dt.date(2012, 1, 1) + dt.timedelta(days=r.randint(0, 13 * 365))
        meta = DocumentMeta(
            code=code,
            title=title,
            departments=tuple(r.sample(DEPARTMENTS, r.randint(1, 2))),
            status=status,
            issued=issued,
            doc_number=f"包职院发〔{issued.year}〕{r.randint(1, 60)}号",
            approved_by="院长办公会",
            points=tuple(sorted({f"{r.randint(1, 6)}.{r.randint(1, 5)}.{r.randint(1, 4)}" for _ in range(r.randint(1, 3))})),
        )
        text = new_document(meta, "\n".join(lines)).dump()
        return CorpusDocument(code=code, text=text)

    def corpus(self, count: int) -> list[CorpusDocument]:
        return [self.document(code) for code in self.codes(count)]


def write_repository(path: Path, documents: list[CorpusDocument]) -> ContentRepository:
    """All documents as one commit, through one `git fast-import` stream."""
    repo = ContentRepository.create(path)
    chunks: list[bytes] = []
    for mark, document in enumerate(documents, start=1):
        data = document.text.encode("utf-8")
        chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
    message = f"导入基准语料（{len(documents)} 份）".encode()
    chunks.append(b"commit refs/heads/main\n")
    chunks.append(b"author bench <bench@localhost> 1700000000 +0800\ncommitter bench <bench@localhost> 1700000000 +0800\n")
    chunks.append(b"data %d\n%s\n" % (len(message), message))
    for mark, document in enumerate(documents, start=1):
        chunks.append(b"M 100644 :%d %s\n" % (mark, document.path.encode()))
    chunks.append(b"\n")
    env = {**os.environ, "GIT_DIR": str(path)}
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(chunks), env=env, check=True)
    return repo
