"""Pictures in documents (issue 19): a Word file's pictures and tables survive import and export,
other picture formats are named in a warning, and pages show only the document's own pictures."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.shared import Cm
from PIL import Image

from tests.html_reader import attributes
from zhengai_docs.render.docx_export import export_markdown
from zhengai_docs.render.docx_import import import_docx
from zhengai_docs.render.html import render_markdown

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "reference.docx"
FOLDER = "A101Z/images"


def _picture(fmt: str, colour: tuple[int, int, int], size: tuple[int, int] = (600, 400)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.paste((255, 255, 255), (10, 10, 200, 100))  # not a flat colour: JPEG really compresses something
    image.save(out, fmt)
    return out.getvalue()


def _word_file() -> bytes:
    document = Document()
    document.add_heading("组织机构管理办法", 0)
    document.add_paragraph("第一条 学院组织架构如下图。")
    document.add_picture(io.BytesIO(_picture("PNG", (200, 30, 30))), width=Cm(12))
    document.add_paragraph("第二条 教学楼平面图。")
    document.add_picture(io.BytesIO(_picture("JPEG", (30, 30, 200))), width=Cm(8))
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate((("部门", "职责"), ("教务处", "教学运行管理"), ("质量管理办公室", "诊改工作统筹"))):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _tables(markdown: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith("|") and "---" not in line]


def _media(docx: bytes) -> list[str]:
    """SHA-256 of each picture stored in a .docx."""
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return sorted(hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist() if n.startswith("word/media/"))


def test_a_word_file_with_pictures_and_tables_round_trips() -> None:
    imported = import_docx(_word_file(), image_folder=FOLDER)
    assert imported.warnings == ()
    names = [image.name for image in imported.images]
    assert len(names) == 2 and names[0].endswith(".png") and names[1].endswith(".jpg")
    assert all(re.fullmatch(r"image-[0-9a-f]{12}\.(png|jpg)", name) for name in names)
    assert [image.media_type for image in imported.images] == ["image/png", "image/jpeg"]
    for name in names:
        assert f"![图片]({FOLDER}/{name})" in imported.markdown
    files = {f"{FOLDER}/{image.name}": image.data for image in imported.images}

    exported = export_markdown(imported.markdown, template=TEMPLATE, read_image=files.get)
    assert _media(exported) == sorted(hashlib.sha256(data).hexdigest() for data in files.values())  # the very bytes

    again = import_docx(exported, image_folder=FOLDER)
    assert [(i.name, i.data) for i in again.images] == [(i.name, i.data) for i in imported.images]
    cells = [["部门", "职责"], ["教务处", "教学运行管理"], ["质量管理办公室", "诊改工作统筹"]]
    assert _tables(again.markdown) == _tables(imported.markdown) == cells
    assert again.markdown.split("\n", 1)[1] == imported.markdown.split("\n", 1)[1]  # the body, picture references included


def test_exported_pictures_fit_within_the_margins() -> None:
    wide = _picture("PNG", (0, 128, 0), size=(4000, 1000))
    exported = export_markdown(f"# 标题\n\n![宽图]({FOLDER}/image-000000000000.png)\n", template=TEMPLATE, read_image=lambda path: wide)
    document = Document(io.BytesIO(exported))
    [shape] = document.inline_shapes
    section = document.sections[0]
    assert section.page_width is not None and section.left_margin is not None and section.right_margin is not None
    assert shape.width <= section.page_width - section.left_margin - section.right_margin
    assert shape.width * 1000 // shape.height in range(3990, 4010)  # proportions kept


def test_without_a_reader_or_a_picture_the_export_keeps_the_alt_text() -> None:
    body = f"# 标题\n\n![组织架构图]({FOLDER}/image-000000000000.png)\n"
    for read_image in (None, lambda path: None, lambda path: b"<svg onload=alert(1)>"):
        document = Document(io.BytesIO(export_markdown(body, template=TEMPLATE, read_image=read_image)))
        assert len(document.inline_shapes) == 0
        assert "[图片：组织架构图]" in "\n".join(p.text for p in document.paragraphs)


def _with_part_renamed(docx: bytes, old: str, new: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == f"word/{old}":
                target.writestr(f"word/{new}", data)
                continue
            if info.filename in ("word/_rels/document.xml.rels", "[Content_Types].xml"):
                content = content.replace(old.encode(), new.encode())
                png, emf = b'<Default Extension="png" ContentType="image/png"/>', b'<Default Extension="emf" ContentType="image/x-emf"/>'
                content = content.replace(png, emf)
            target.writestr(info.filename, content)
    return out.getvalue()


def test_pictures_in_other_formats_are_named_in_a_warning() -> None:
    document = Document()
    document.add_paragraph("第一条 见下图。")
    document.add_picture(io.BytesIO(_picture("PNG", (1, 2, 3))))
    out = io.BytesIO()
    document.save(out)
    emf = b"\x01\x00\x00\x00" + b"\x00" * 36 + b" EMF" + b"\x00" * 60  # an EMF header, as Visio pastes them
    with zipfile.ZipFile(out) as archive:
        [media] = [n for n in archive.namelist() if n.startswith("word/media/")]
    old = media.removeprefix("word/")
    data = _with_part_renamed(out.getvalue(), old, "media/image1.emf", emf)
    imported = import_docx(data, image_folder=FOLDER)
    assert imported.images == ()
    assert any("image1.emf" in warning and "EMF" in warning for warning in imported.warnings)
    assert "![" not in imported.markdown


def test_without_a_folder_pictures_are_reported_as_not_imported_as_before() -> None:
    imported = import_docx(_word_file())
    assert imported.images == ()
    assert imported.warnings == ("图片、文本框或嵌入对象未导入（2 处）",)
    assert "![" not in imported.markdown


def test_pictures_are_cleaned_on_import() -> None:
    exif = Image.Exif()
    exif[0x010F] = "相机厂商"
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (9, 9, 9)).save(out, "JPEG", exif=exif.tobytes())
    document = Document()
    document.add_paragraph("第一条 见下图。")
    document.add_picture(io.BytesIO(out.getvalue()))
    word = io.BytesIO()
    document.save(word)
    [image] = import_docx(word.getvalue(), image_folder=FOLDER).images
    assert "相机厂商".encode() not in image.data and b"Exif" not in image.data
    assert image.name == f"image-{hashlib.sha256(image.data).hexdigest()[:12]}.jpg"


BODY = "正文\n\n![组织架构图](A101Z/images/image-3f2a9c1b7d4e.png)\n"


def _images(html: str) -> list[tuple[str | None, str | None]]:
    return [(a.get("src"), a.get("alt")) for a in attributes(html, "//img")]


def test_pages_show_pictures_where_the_caller_serves_them() -> None:
    served = {"A101Z/images/image-3f2a9c1b7d4e.png": "/documents/A101Z/files/images/image-3f2a9c1b7d4e.png"}
    assert _images(render_markdown(BODY, image_url=served.get).html) == [(served["A101Z/images/image-3f2a9c1b7d4e.png"], "组织架构图")]


@pytest.mark.parametrize(
    "answer", [None, "https://tracker.example/p.png", "//tracker.example/p.png", "data:image/png;base64,AAAA", "javascript:alert(1)", " "]
)
def test_a_picture_the_caller_does_not_serve_keeps_only_its_alt_text(answer: str | None) -> None:
    assert _images(render_markdown(BODY, image_url=lambda path: answer).html) == [(None, "组织架构图")]
    assert _images(render_markdown(BODY).html) == [(None, "组织架构图")]
