"""Word commands: import one file, import a folder (dry run first, one commit per document), export, handbook, report."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from click.testing import CliRunner, Result
from docx import Document
from docx.oxml.ns import qn

from tests import word_fixtures as fx
from zhengai_docs.cli import cli
from zhengai_docs.storage.repository import ContentRepository


def run(instance: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--instance", str(instance), *args])


def _repo(instance: Path) -> ContentRepository:
    return ContentRepository(instance / "content.git")


def test_import_word_dry_run_then_commit(instance: Path, tmp_path: Path) -> None:
    source = tmp_path / "招生工作管理办法.docx"
    source.write_bytes(fx.unstyled_regulation())
    head = _repo(instance).head()
    dry = run(instance, "import-word", "A108Z", str(source), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "A108Z：新建" in dry.output and "{+**第一条** 为规范招生工作" in dry.output and "试运行" in dry.output
    assert _repo(instance).head() == head
    done = run(instance, "import-word", "A108Z", str(source), "-m", "迁移：招生工作管理办法")
    assert done.exit_code == 0, done.output
    assert "已提交" in done.output
    assert _repo(instance).history("regulations/A/A1/A108Z.md")[0].message == "迁移：招生工作管理办法"
    again = run(instance, "import-word", "A108Z", str(source))
    assert "内容没有变化" in again.output


def test_import_word_refuses_a_hostile_file(instance: Path, tmp_path: Path) -> None:
    source = tmp_path / "宏.docx"
    source.write_bytes(fx.macro_document())
    head = _repo(instance).head()
    result = run(instance, "import-word", "A101Z", str(source))
    assert result.exit_code == 1 and "启用宏的 Word 文档" in result.output
    assert _repo(instance).head() == head


def test_import_folder_reports_first_and_commits_one_document_each(instance: Path, tmp_path: Path) -> None:
    folder = tmp_path / "定稿"
    folder.mkdir()
    (folder / "A108Z 招生工作管理办法.docx").write_bytes(fx.unstyled_regulation())
    (folder / "a108b-招生质量标准.md").write_text("# 招生质量标准\n\n| 指标 | 目标值 |\n|---|---|\n| 报到率 | ≥ 90% |\n", encoding="utf-8")
    titled = Document()
    fx.bold_line(titled, "包头职业技术学院专业设置与调整管理办法")  # an existing document's title: A101Z
    titled.add_paragraph("第一条 修订后的条款。")
    (folder / "专业设置办法（修订稿）.docx").write_bytes(fx.save(titled))
    (folder / "会议纪要.docx").write_bytes(fx.numbered_clauses())  # no code, and a title no document has
    (folder / "课程标准.docx").write_bytes(fx.styled_standard())  # titled like A105B: recognised by its title
    (folder / "A104Z 与 A105Z 合并稿.docx").write_bytes(fx.numbered_clauses())  # two codes
    (folder / "Z999Z 不存在.docx").write_bytes(fx.numbered_clauses())  # unknown item
    (folder / "旧稿.docx").write_bytes(fx.old_doc())
    head = _repo(instance).head()

    dry = run(instance, "import-folder", str(folder))
    assert dry.exit_code == 1, dry.output  # files were left out
    out = dry.output
    assert "新建 A108Z ← A108Z 招生工作管理办法.docx" in out
    assert "更新 A108B ← a108b-招生质量标准.md" in out
    assert "更新 A105B ← 课程标准.docx" in out
    assert "更新 A101Z ← 专业设置办法（修订稿）.docx" in out
    assert "会议纪要.docx：无法确定代码" in out
    assert "A104Z 与 A105Z 合并稿.docx：代码不明确：A104Z、A105Z" in out
    assert "Z999Z 不存在.docx：目录中没有条目 Z999" in out
    assert "旧稿.docx：这是旧版 Word 97-2003 文档" in out
    assert "试运行" in out and _repo(instance).head() == head

    applied = run(instance, "import-folder", str(folder), "--apply")
    assert "已提交 4 份文档（每份一个提交）" in applied.output
    repo = _repo(instance)
    messages = [r.message for r in repo.history("regulations/A/A1/A108Z.md")]
    assert messages == ["从 Word 批量导入新建：A108Z 招生工作管理办法.docx"]
    assert len(list(repo.log(since=head))) == 4  # one commit per document
    assert "**第一条** 修订后的条款。" in repo.read("regulations/A/A1/A101Z.md").text
    assert "doc_number: 包职院发〔2019〕12号" in repo.read("regulations/A/A1/A101Z.md").text  # front matter kept

    rerun = run(instance, "import-folder", str(folder), "--apply")
    assert "无变化 A108Z" in rerun.output and len(list(_repo(instance).log(since=head))) == 4


def test_two_files_for_one_code_are_both_left_out(instance: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dup"
    folder.mkdir()
    (folder / "A108Z 初稿.docx").write_bytes(fx.unstyled_regulation())
    (folder / "A108Z 定稿.docx").write_bytes(fx.unstyled_regulation())
    result = run(instance, "import-folder", str(folder), "--apply")
    assert result.exit_code == 1
    assert result.output.count("代码不明确：A108Z 初稿.docx、A108Z 定稿.docx 都对应 A108Z") == 2
    assert "已提交" not in result.output


def test_export_word_and_handbook(instance: Path, tmp_path: Path) -> None:
    target = tmp_path / "A101Z.docx"
    result = run(instance, "export-word", "A101Z", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert Document(io.BytesIO(target.read_bytes())).paragraphs[0].text == "包头职业技术学院专业设置与调整管理办法"
    handbook = tmp_path / "汇编.docx"
    result = run(instance, "handbook", "-o", str(handbook), "--department", "教务处")
    assert result.exit_code == 0, result.output
    document = Document(io.BytesIO(handbook.read_bytes()))
    titles = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Document Title"]
    count = int(result.output.split("已汇编 ")[1].split(" ")[0])
    assert len(titles) == count > 0
    package = zipfile.ZipFile(io.BytesIO(handbook.read_bytes()))
    contents = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "toc 3"]
    assert len(contents) == count and contents[0].startswith("A101Z　")  # an entry per document, with its code
    assert "PAGEREF _Toc_A101Z \\h" in package.read("word/document.xml").decode()  # its page number
    assert '<w:updateFields w:val="true"/>' in package.read("word/settings.xml").decode()  # Word fills in the page numbers
    assert run(instance, "handbook", "--level", "AA").exit_code == 1


def test_handbook_is_in_catalogue_order_with_each_document_on_a_new_page(instance: Path, tmp_path: Path) -> None:
    handbook = tmp_path / "汇编.docx"
    assert run(instance, "handbook", "-o", str(handbook), "--level", "A").exit_code == 0
    document = Document(io.BytesIO(handbook.read_bytes()))
    titles = [p for p in document.paragraphs if p.style is not None and p.style.name == "Document Title"]
    texts = [p.text for p in titles]
    assert texts[:3] == [
        "包头职业技术学院专业设置与调整管理办法",
        "包头职业技术学院专业设置与调整工作流程",
        "包头职业技术学院专业建设质量标准",
    ]
    assert all(p.paragraph_format.page_break_before for p in titles)
    front, body = document.sections
    assert front.footer.is_linked_to_previous  # cover and 目录: no footer, so no page number
    assert body.footer.paragraphs[0].text.startswith("— ") and body._sectPr.find(qn("w:pgNumType")).get(qn("w:start")) == "1"


def test_self_diagnosis_report_command(instance: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.docx"
    result = run(instance, "self-diagnosis-report", "--year", "2026", "-o", str(target))
    assert result.exit_code == 0, result.output
    document = Document(io.BytesIO(target.read_bytes()))
    assert document.paragraphs[0].text == "内部质量保证体系自我诊改报告"
    assert len(document.tables) == 15


def test_a_markdown_file_with_front_matter_is_taken_whole(instance: Path, tmp_path: Path) -> None:
    source = tmp_path / "A101Z.md"
    text = _repo(instance).read("regulations/A/A1/A101Z.md").text.replace("status: 现行", "status: 废止")
    source.write_text(text, encoding="utf-8")
    assert run(instance, "import-word", "A101Z", str(source), "-m", "废止").exit_code == 0
    assert _repo(instance).read("regulations/A/A1/A101Z.md").text == text  # byte for byte
    wrong = tmp_path / "A104Z.md"
    wrong.write_text(text, encoding="utf-8")
    result = run(instance, "import-word", "A104Z", str(wrong))
    assert result.exit_code == 1 and "头信息有误" in result.output and "代码 A101Z 与文件位置不符" in result.output
