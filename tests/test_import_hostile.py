"""Imports that trust nothing (issue 12): folders with links and special files, Word files that run
past their limits, XML with a DOCTYPE in any encoding or place, spreadsheets with a million rows
or a zip bomb inside, and forms whose `base` is a commit off `main`."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from flask import Flask
from flask.testing import FlaskClient

from tests import word_fixtures as fx
from tests.actors import AS_EDITOR
from tests.conftest import EDITOR, OpenApp, csrf_token, login
from tests.html_reader import form_fields, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.framework import InvalidFramework, framework_from_file
from zhengai_docs.catalogue.importer import MAX_ROWS, read_rows
from zhengai_docs.cli import cli
from zhengai_docs.errors import ImportProblem, Refused
from zhengai_docs.library import Library
from zhengai_docs.render.docx_import import convert_docx, import_docx
from zhengai_docs.render.docx_package import Limits, WordImportError
from zhengai_docs.render.sandbox import LimitExceeded, run_limited
from zhengai_docs.storage.drafts import DraftStore, draft_ref
from zhengai_docs.storage.repository import ContentRepository

pytestmark = pytest.mark.xdist_group("import_hostile")  # --dist loadgroup: the million-row workbook is written once per worker

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A101Z = document_code("A101Z")
MB = 1024 * 1024


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the run) when the block takes longer than `seconds`."""

    def expired(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def python_peak(limit_bytes: int) -> Iterator[None]:
    """The block's peak Python allocation in this (the parent) process stays under the limit."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"peak {peak / MB:.0f} MB"


def run(instance: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--instance", str(instance), *args])


# -- folders: no link, special file or hard link is followed ----------------------------------------


def test_folder_import_follows_no_link_and_opens_no_special_file(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    open_app(instance)  # the instance's secret_key exists, as on a server
    secret = (instance / "secret_key").read_text(encoding="ascii").strip()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "A107B 外部标准.md").write_text("# 外部标准\n\n文件夹以外的文字。\n", encoding="utf-8")
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    folder = tmp_path / "定稿"
    folder.mkdir()
    (folder / "A108Z 招生工作管理办法.docx").write_bytes(fx.unstyled_regulation())
    (folder / "A105B 链接.md").symlink_to("/etc/passwd")
    (folder / "A106B 密钥.md").symlink_to(instance / "secret_key")
    (folder / "A104B 相对链接.md").symlink_to(Path("..") / "outside" / "passwd")
    (folder / "子文件夹").symlink_to(outside, target_is_directory=True)
    os.mkfifo(folder / "A103B 管道.md")
    os.link(outside / "passwd", folder / "A102B 硬链接.md")
    repo = ContentRepository(instance / "content.git")
    head = repo.head()

    with within(120):
        result = run(instance, "import-folder", str(folder), "--apply")

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    for name in ("A105B 链接.md", "A106B 密钥.md", "A104B 相对链接.md", "子文件夹"):
        assert any(line.strip().startswith(f"{name}：这是符号链接") for line in lines), (name, result.output)
    assert any(line.strip().startswith("A103B 管道.md：不是普通文件") for line in lines), result.output
    assert any(line.strip().startswith("A102B 硬链接.md：文件另有硬链接") for line in lines), result.output
    assert "已提交 1 份文档" in result.output
    new_head = repo.head()
    assert new_head is not None and head is not None
    assert [change.path for change in repo.changes_between(head, new_head)] == ["regulations/A/A1/A108Z.md"]
    published = "".join(text for _blob, text in repo.read_blobs(repo.list_files(new_head).values()))
    assert secret not in published and "root:x:0:0" not in published and "文件夹以外的文字" not in published


def test_import_word_checks_the_size_before_reading_and_never_opens_a_pipe(instance: Path, tmp_path: Path) -> None:
    huge = tmp_path / "A101Z 巨大.docx"
    with huge.open("wb") as stream:
        stream.truncate(200 * MB)  # sparse: 200 MB long, nothing on disk
    pipe = tmp_path / "A101Z 管道.docx"
    os.mkfifo(pipe)
    with within(60), python_peak(20 * MB):
        too_large = run(instance, "import-word", "A101Z", str(huge))
        piped = run(instance, "import-word", "A101Z", str(pipe))
    assert too_large.exit_code == 1 and "文件大小 200.0 MB，超过导入上限 10 MB，未读取" in too_large.output
    assert piped.exit_code == 1 and "不是普通文件" in piped.output


def test_web_upload_over_the_limit_is_refused_from_its_length(instance: Path, open_app: OpenApp) -> None:
    app = open_app(instance, WORD_IMPORT_MAX_MB=0.1)  # a small body: the test client keeps it in memory
    client = app.test_client()
    login(client, "jiaowu")
    head = app.extensions["zhengai"].library.repo.head()
    data = {"csrf_token": csrf_token(client, "/documents/A101Z/import"), "file": (io.BytesIO(b"PK" + b"\0" * 300 * 1024), "大文件.docx")}
    response = client.post("/documents/A101Z/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "文件超过导入上限 0.1 MB，未读取" in visible_text(response.get_data(as_text=True))
    assert app.extensions["zhengai"].library.repo.head() == head


# -- Word: limits enforced inside the conversion ------------------------------------------------------


def _one_paragraph(runs: int, *, text: Callable[[int], str] = lambda i: "字") -> bytes:
    """A .docx whose body is one paragraph of `runs` runs (it compresses to a few hundred KB)."""
    parts = fx._parts(fx.save(Document()))
    body = "".join(f"<w:r><w:t>{text(i)}</w:t></w:r>" for i in range(runs))
    parts["word/document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body><w:p>{body}</w:p></w:body></w:document>'.encode()
    )
    return fx._package(parts)


@pytest.fixture(scope="module")
def many_runs() -> bytes:
    """400,000 runs in one paragraph: seconds of work and hundreds of MB once parsed."""
    return _one_paragraph(400_000)


def test_the_deadline_is_checked_inside_a_paragraph(many_runs: bytes) -> None:
    start = time.monotonic()
    with pytest.raises(WordImportError, match=r"文档处理超过 0\.3 秒"):
        convert_docx(many_runs, limits=Limits(max_seconds=0.3))  # in this process: only the converter's own check
    assert time.monotonic() - start < 5  # the whole paragraph takes far longer; the check comes per run


def test_a_many_runs_file_is_stopped_at_the_time_limit_with_the_parents_memory_bounded(many_runs: bytes) -> None:
    start = time.monotonic()
    with within(60), python_peak(30 * MB), pytest.raises(WordImportError, match="文档处理超过 1 秒仍未完成，已停止"):
        import_docx(many_runs, limits=Limits(max_seconds=1))
    assert time.monotonic() - start < 1 + 10  # the limit, the kill grace, a fork on a busy machine


def test_a_many_runs_file_is_stopped_at_the_memory_limit(many_runs: bytes) -> None:
    with within(120), python_peak(30 * MB), pytest.raises(WordImportError, match="文档处理所需内存超过上限 64 MB，已停止"):
        import_docx(many_runs, limits=Limits(max_seconds=60, max_memory_bytes=64 * MB))


def test_the_finding_file_converts_whole_and_fast_enough(tmp_path: Path) -> None:
    """The reviewer's file: one paragraph of 50,000 runs (about 130 KB). Text is joined, not grown."""
    data = _one_paragraph(50_000, text=lambda i: f"第{i}段")
    imported = import_docx(data, limits=Limits(max_chars=10**7))
    assert imported.markdown.count("段") == 50_000 and "第49999段" in imported.markdown


@pytest.mark.parametrize(
    ("function", "argument", "kind"),
    [
        (time.sleep, 120, "time"),  # no CPU: the wall clock kills it
        (sum, range(10**15), "time"),  # CPU in C code, where no deadline is ever checked
        (bytearray, 4 * 1024 * MB, "memory"),  # 4 GB at once
    ],
    ids=["sleeping", "spinning", "allocating"],
)
def test_the_child_is_stopped_whatever_it_does(function: Callable[[Any], Any], argument: Any, kind: str) -> None:
    start = time.monotonic()
    with within(60), pytest.raises(LimitExceeded) as caught:
        run_limited(function, argument, seconds=1, memory_bytes=128 * MB)
    assert caught.value.kind == kind
    assert time.monotonic() - start < 1 + 10
    assert run_limited(len, b"still works", seconds=5, memory_bytes=128 * MB) == 11


def test_errors_raised_in_the_child_arrive_as_they_are() -> None:
    with pytest.raises(WordImportError, match="文件是空的"):
        import_docx(b"")
    with pytest.raises(WordImportError, match="不是有效的 Word 文档"):
        import_docx(fx.not_a_zip())


# -- XML: a DOCTYPE is refused in any encoding and anywhere ---------------------------------------------


def _with_part(name: str, data: bytes) -> bytes:
    parts = fx._parts(fx.styled_standard())
    parts[name] = data
    return fx._package(parts)


_BODY = f"<w:document {W}><w:body><w:p><w:r><w:t>正文</w:t></w:r></w:p></w:body></w:document>"
_ENTITY_BODY = f"<w:document {W}><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>"
HOSTILE_XML = {
    "UTF-16 with a DTD": (
        "word/document.xml",
        f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE w:document [<!ENTITY x "哈">]>{_ENTITY_BODY}'.encode("utf-16"),
    ),
    "UTF-16BE without BOM": (
        "word/document.xml",
        f'<?xml version="1.0" encoding="UTF-16BE"?><!DOCTYPE w:document>{_BODY}'.encode("utf-16-be"),
    ),
    "late DOCTYPE": (
        "word/document.xml",
        f'<?xml version="1.0"?><!--{"注释" * 4000}--><!DOCTYPE w:document [<!ENTITY x "哈">]>{_ENTITY_BODY}'.encode(),
    ),
    "external DTD": ("word/document.xml", f'<?xml version="1.0"?><!DOCTYPE w:document SYSTEM "file:///etc/passwd">{_BODY}'.encode()),
    "DTD in styles": ("word/styles.xml", f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE w:styles><w:styles {W}/>'.encode("utf-16")),
    "entity loop in UTF-16": (
        "word/document.xml",
        f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE w:document [<!ENTITY x "&y;"><!ENTITY y "&x;">]>{_ENTITY_BODY}'.encode("utf-16"),
    ),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_XML))
def test_any_doctype_is_refused(kind: str) -> None:
    part, data = HOSTILE_XML[kind]
    with pytest.raises(WordImportError, match=f"文档部件 {part} 含有 DTD 声明"):
        import_docx(_with_part(part, data))


def test_a_utf16_document_without_a_doctype_is_read() -> None:
    data = _with_part("word/document.xml", f'<?xml version="1.0" encoding="UTF-16"?>{_BODY}'.encode("utf-16"))
    assert import_docx(data).markdown == "正文\n"


# -- spreadsheets: streamed, capped while reading, zip bombs refused from the directory -------------------


def _xlsx(path: Path, rows: Iterator[str], *, dimension: str | None = None) -> Path:
    """An .xlsx whose sheet XML is written here, row by row (a million rows in about a second)."""
    template = io.BytesIO()
    openpyxl.Workbook().save(template)  # the package around the sheet
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info))
                continue
            with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?>')
                sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
                if dimension:
                    sheet.write(f'<dimension ref="{dimension}"/>'.encode())
                sheet.write(b"<sheetData>")
                chunk: list[str] = []
                for row in rows:
                    chunk.append(row)
                    if len(chunk) == 10_000:
                        sheet.write("".join(chunk).encode())
                        chunk = []
                sheet.write("".join(chunk).encode() + b"</sheetData></worksheet>")
    return path


def _numbered_rows(count: int) -> Iterator[str]:
    for number in range(1, count + 1):
        yield f'<row r="{number}"><c r="A{number}"><v>{number}</v></c></row>'


@pytest.fixture(scope="module")
def million_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _xlsx(tmp_path_factory.mktemp("xlsx") / "百万行.xlsx", _numbered_rows(1_000_000))


def test_a_million_row_sheet_is_refused_while_streaming(million_rows: Path) -> None:
    """Measured in a fresh process: its peak RSS is the whole cost (lxml and expat allocate
    outside Python's tracemalloc). Reading the sheet whole took minutes and gigabytes."""
    script = (
        "import json, sys, time\n"
        "from zhengai_docs.catalogue.importer import read_rows\n"
        "from zhengai_docs.errors import ImportProblem\n"
        "start = time.monotonic()\n"
        "try:\n"
        "    read_rows(__import__('pathlib').Path(sys.argv[1]))\n"
        "    message = None\n"
        "except ImportProblem as exc:\n"
        "    message = str(exc)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"  # ru_maxrss would count pytest's, from before exec
        "rss = int(status.split()[0]) / 1024\n"
        "print(json.dumps({'message': message, 'seconds': time.monotonic() - start, 'rss_mb': rss}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(million_rows)], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["message"] is not None and f"表格超过 {MAX_ROWS} 行（读到第 {MAX_ROWS + 1} 行时停止）" in result["message"]
    assert result["seconds"] < 20
    assert result["rss_mb"] < 150  # the interpreter, lxml and openpyxl themselves take about 60 MB


def test_a_million_row_framework_table_is_refused_by_the_cli_and_the_web(million_rows: Path, instance: Path, open_app: OpenApp) -> None:
    head = ContentRepository(instance / "content.git").head()
    with within(120):
        result = run(instance, "import-framework", str(million_rows), "--id", "million-1", "--name", "百万行")
    assert result.exit_code == 1 and f"表格超过 {MAX_ROWS} 行" in result.output
    client = open_app(instance).test_client()
    login(client, "zhiliang")
    upload = {
        "csrf_token": csrf_token(client, "/audit/frameworks"),
        "file": (io.BytesIO(million_rows.read_bytes()), "百万行.xlsx"),
        "framework_id": "million-1",
        "name": "百万行",
    }
    with within(120):
        response = client.post("/audit/frameworks/import", data=upload, content_type="multipart/form-data", follow_redirects=True)
    assert f"导入失败：表格超过 {MAX_ROWS} 行" in visible_text(response.get_data(as_text=True))
    assert ContentRepository(instance / "content.git").head() == head


def test_rows_declared_far_apart_count_as_rows(tmp_path: Path) -> None:
    sparse = _xlsx(
        tmp_path / "稀疏.xlsx", iter(['<row r="2"><c r="A2"><v>1</v></c></row>', '<row r="1048576"><c r="A1048576"><v>2</v></c></row>'])
    )
    with within(30), pytest.raises(ImportProblem, match=f"表格超过 {MAX_ROWS} 行"):
        read_rows(sparse)


def test_a_declared_sheet_size_does_not_widen_every_row(tmp_path: Path) -> None:
    wide = _xlsx(tmp_path / "宽.xlsx", _numbered_rows(3000), dimension="A1:XFD1048576")
    with within(30), python_peak(30 * MB):
        rows = read_rows(wide)
    assert len(rows) == 3000 and max(len(cells) for _number, cells in rows) == 1


def test_an_xlsx_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    bomb = tmp_path / "炸弹.xlsx"
    _xlsx(bomb, iter([]))
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/media/padding.bin", "w", force_zip64=True) as pad:
        for _ in range(200):
            pad.write(b"\0" * MB)
    assert bomb.stat().st_size < 2 * MB
    with within(30), python_peak(10 * MB), pytest.raises(ImportProblem, match="疑似“压缩炸弹”"):
        read_rows(bomb)


def test_a_catalogue_table_over_the_cap_is_refused_early(instance: Path, tmp_path: Path) -> None:
    table = tmp_path / "目录.csv"
    with table.open("w", encoding="utf-8") as stream:
        stream.write("l1,l2,l3,z,l,b,departments\n")
        for number in range(800_000):  # under the 20 MB a table may have: refused by its rows
            stream.write(f"A,A1,A{number % 1000:03d},,,,教务处\n")
    assert table.stat().st_size < 20 * MB
    head = ContentRepository(instance / "content.git").head()
    start = time.monotonic()
    with within(60), python_peak(30 * MB):
        result = run(instance, "import-catalogue", str(table))
    assert result.exit_code == 1 and f"表格超过 {MAX_ROWS} 行（读到第 {MAX_ROWS + 1} 行时停止）" in result.output
    assert time.monotonic() - start < 30
    assert ContentRepository(instance / "content.git").head() == head


def test_tables_are_checked_before_they_are_read(tmp_path: Path) -> None:
    huge = tmp_path / "巨大.csv"
    with huge.open("wb") as stream:
        stream.truncate(100 * MB)
    with python_peak(5 * MB), pytest.raises(ImportProblem, match="超过表格导入上限 20 MB，未读取"):
        read_rows(huge)
    pipe = tmp_path / "管道.tsv"
    os.mkfifo(pipe)
    with within(10), pytest.raises(ImportProblem, match="不是普通文件"):
        read_rows(pipe)
    gbk = tmp_path / "目录.csv"
    gbk.write_bytes("一级,二级\n".encode("gbk"))
    with pytest.raises(ImportProblem, match="不是 UTF-8 编码"):
        read_rows(gbk)


def _word_table(path: Path, *, rows: int, span: int = 1, merged: bool = False) -> Path:
    """A one-column table whose cells span `span` columns, or are one cell merged down all rows."""
    document = Document()
    table = document.add_table(rows=1, cols=1)
    template = table.rows[0]._tr
    for index in range(rows):
        tr = template if index == 0 else deepcopy(template)
        properties = tr.tc_lst[0].get_or_add_tcPr()
        if span > 1:
            properties.append(parse_xml(f'<w:gridSpan {nsdecls("w")} w:val="{span}"/>'))
        if merged:
            properties.append(parse_xml(f'<w:vMerge {nsdecls("w")} w:val="{"restart" if index == 0 else "continue"}"/>'))
        if index:
            table._tbl.append(tr)
    document.save(str(path))
    return path


def test_word_tables_are_read_in_one_pass_whatever_their_merges(tmp_path: Path) -> None:
    """A cell spanning a million columns, and one merged down 5,000 rows (python-docx's
    `row.cells` took 5 s for 400 rows of that and failed with RecursionError past ~1,000)."""
    with within(30):
        wide = read_rows(_word_table(tmp_path / "宽.docx", rows=2, span=1_000_000))
    assert [len(cells) for _number, cells in wide] == [0, 0]  # empty cells, and never a million of them
    long = _word_table(tmp_path / "长.docx", rows=MAX_ROWS, merged=True)
    with within(30):
        rows = read_rows(long)
    assert len(rows) == MAX_ROWS


def test_framework_yaml_without_aliases_and_within_its_size(tmp_path: Path) -> None:
    laughs = tmp_path / "laughs.yaml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(8)
    ]
    laughs.write_text("\n".join(levels) + "\nid: laughs-1\nname: 笑\nitems: [{id: 1, name: 项, elements: *i}]\n", encoding="utf-8")
    with within(10), pytest.raises(InvalidFramework, match="YAML 锚点引用"):
        framework_from_file(laughs, framework="", name="")
    large = tmp_path / "large.yaml"
    large.write_text("# " + "长" * (1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(InvalidFramework, match="超过框架文件上限 2 MB"):
        framework_from_file(large, framework="", name="")


# -- a `base` that is not on main is refused ----------------------------------------------------------


def _off_main_commits(repo: ContentRepository) -> dict[str, str]:
    """A draft commit (on refs/drafts/…) and an unrelated commit, both with main's tree: the
    document's blob is the same as on main, so only their place in history tells them apart."""
    head = repo.require_head()
    draft = DraftStore(repo).create(draft_ref(A101Z, 991), base=head, text=None, author=EDITOR, message="草稿")
    unrelated = (
        subprocess.run(
            ["git", "--git-dir", str(repo.path), "commit-tree", f"{head}^{{tree}}", "-m", "无关的提交"],
            check=True,
            capture_output=True,
            env={**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x", "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"},
        )
        .stdout.decode()
        .strip()
    )
    return {"draft": draft, "unrelated": unrelated}


@pytest.mark.parametrize("which", ["draft", "unrelated"])
def test_restore_with_a_base_off_main_is_refused(which: str, app: Flask, client: FlaskClient) -> None:
    library: Library = app.extensions["zhengai"].library
    original = library.load(A101Z)
    library.save(original.document.with_changes(body="新正文\n"), actor=AS_EDITOR, message="改", base=original.version.commit)
    head = library.repo.require_head()
    base = _off_main_commits(library.repo)[which]
    with pytest.raises(Refused, match="恢复所依据的版本不在现行版本的历史上"):
        library.restore(A101Z, original.version.commit, actor=AS_EDITOR, message="恢复", base=base)
    login(client, "jiaowu")
    data = {"csrf_token": csrf_token(client, "/documents/A101Z/history"), "revision": original.version.commit, "base": base}
    response = client.post("/documents/A101Z/restore", data=data)
    assert response.status_code == 400
    assert "恢复所依据的版本不在现行版本的历史上" in visible_text(response.get_data(as_text=True))
    assert library.repo.head() == head and library.load(A101Z).document.body == "新正文\n"


@pytest.mark.parametrize("which", ["draft", "unrelated"])
def test_word_confirmation_with_a_base_off_main_is_refused(which: str, app: Flask, client: FlaskClient) -> None:
    library: Library = app.extensions["zhengai"].library
    before = library.load(A101Z).document
    login(client, "jiaowu")
    page = client.post(
        "/documents/A101Z/import",
        data={"csrf_token": csrf_token(client, "/documents/A101Z/import"), "file": (io.BytesIO(fx.unstyled_regulation()), "定稿.docx")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    fields = form_fields(page, "confirm-form")
    fields["message"] = "从 Word 导入"
    fields["base"] = _off_main_commits(library.repo)[which]
    head = library.repo.head()
    response = client.post("/documents/A101Z/import/confirm", data=fields)
    assert response.status_code == 400
    assert "导入所依据的版本不在现行版本的历史上" in visible_text(response.get_data(as_text=True))
    assert library.repo.head() == head and library.load(A101Z).document == before
