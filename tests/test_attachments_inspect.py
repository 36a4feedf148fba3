"""Uploads judged by their content (issue 19): one real crafted file per hostile kind, refused with
a message naming the file (or neutralised, for pictures), and real files of each kind accepted."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from docx import Document
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from zhengai_docs.attachments.inspect import Inspected, UploadRefused, inspect_image, inspect_upload

ALLOWED = frozenset({".docx", ".xlsx", ".pdf", ".png", ".jpg"})
MB = 1024 * 1024


def upload(data: bytes, filename: str, *, allowed: frozenset[str] = ALLOWED, max_bytes: int = 20 * MB) -> Inspected:
    return inspect_upload(data, filename=filename, allowed=allowed, max_bytes=max_bytes)


def refused(data: bytes, filename: str, *, status: int = 400, **kwargs: object) -> str:
    with pytest.raises(UploadRefused) as caught:
        upload(data, filename, **kwargs)  # type: ignore[arg-type]
    assert caught.value.status == status
    assert f"“{filename.rsplit('/', 1)[-1]}”" in caught.value.message  # names the file
    return caught.value.message


# -- real files ---------------------------------------------------------------------------------


def docx_bytes(text: str = "专业设置申报表") -> bytes:
    document = Document()
    document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(1, 1).text = "评分"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["指标", "分值"])
    sheet.append(["师资队伍", 30])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def image_bytes(fmt: str, *, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "1") else (200, 30, 30)).save(out, fmt, **save)
    return out.getvalue()


def pdf_bytes(*extra_catalogue: str, extra_objects: tuple[str, ...] = ()) -> bytes:
    """A minimal real PDF: one page saying "Hello", with optional catalogue entries and objects."""
    stream = b"BT /F1 24 Tf 72 720 Td (Hello attachment) Tj ET"
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {' '.join(extra_catalogue)} >>".encode(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *(o.encode() for o in extra_objects),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def rezip(data: bytes, *, add: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None) -> bytes:
    """The Office file with members added or replaced, written as a normal zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, (replace or {}).get(info.filename, source.read(info)))
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def test_real_files_of_every_allowed_kind_are_accepted() -> None:
    docx, xlsx, pdf = docx_bytes(), xlsx_bytes(), pdf_bytes()
    assert upload(docx, "附件1-专业设置申报表.docx") == Inspected(suffix=".docx", media_type=upload(docx, "a.docx").media_type, data=docx)
    assert upload(xlsx, "附件2-评分细则.XLSX").suffix == ".xlsx"
    assert upload(pdf, "签字版.pdf").data == pdf
    assert upload(image_bytes("PNG"), "图.png").media_type == "image/png"
    assert upload(image_bytes("JPEG"), "照片.jpeg").suffix == ".jpg"
    assert upload(image_bytes("JPEG"), "照片.jpg").media_type == "image/jpeg"


def test_pictures_lose_their_metadata_and_cleaning_them_again_changes_nothing() -> None:
    exif = Image.Exif()
    exif[0x010F] = "相机厂商"  # Make
    exif[0x8825] = {2: (39.0, 54.0, 0.0)}  # GPS latitude
    jpeg = image_bytes("JPEG", exif=exif.tobytes(), quality=80)
    png = image_bytes("PNG", pnginfo=_png_text("Comment", "<script>alert(1)</script>"))
    for data, name in ((jpeg, "a.jpg"), (png, "a.png")):
        clean = upload(data, name).data
        assert b"Exif" not in clean and b"<script>" not in clean and "相机厂商".encode() not in clean
        assert Image.open(io.BytesIO(clean)).size == (64, 48)
        assert inspect_image(clean, max_bytes=MB).data == clean  # idempotent: a Word round trip keeps its bytes


def _png_text(key: str, value: str) -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


# -- hostile kinds ------------------------------------------------------------------------------


def test_an_empty_file_is_refused() -> None:
    assert "空文件" in refused(b"", "附件1-空.docx")


def test_a_file_over_the_limit_is_refused_with_413() -> None:
    assert "超过附件大小上限" in refused(pdf_bytes(), "大.pdf", status=413, max_bytes=100)


def test_a_windows_program_named_docx_is_refused() -> None:
    pe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00"
    assert "Windows 可执行程序" in refused(pe, "附件1-申报表.docx")


def test_a_linux_program_and_a_script_are_refused() -> None:
    assert "Linux 可执行程序" in refused(b"\x7fELF\x02\x01\x01" + b"\x00" * 57, "评分.xlsx")
    assert "脚本" in refused(b"#!/bin/sh\nrm -rf ~\n", "签字版.pdf")


def test_a_suffix_that_disagrees_with_the_content_is_refused() -> None:
    message = refused(docx_bytes(), "附件1-表.pdf")
    assert ".pdf" in message and "Word 文档" in message
    assert "PNG 图片" in refused(image_bytes("PNG"), "照片.jpg")


def test_a_kind_not_in_the_allowed_set_is_refused() -> None:
    assert "不是允许的附件类型" in refused(image_bytes("PNG"), "图.png", allowed=frozenset({".pdf"}))


def test_an_svg_with_script_is_refused_and_told_to_upload_png_or_jpg() -> None:
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.cookie)</script></svg>'
    assert "PNG 或 JPG" in refused(svg, "组织架构图.png")
    with pytest.raises(UploadRefused, match="PNG 或 JPG"):
        inspect_image(svg, max_bytes=MB, filename="组织架构图.svg")


def test_a_web_page_is_refused() -> None:
    assert "网页" in refused(b"<!DOCTYPE html><html><script>alert(1)</script></html>", "说明.pdf")


def test_a_zip_bomb_disguised_as_xlsx_is_refused_before_it_is_inflated() -> None:
    bomb = rezip(xlsx_bytes(), add={"xl/worksheets/sheet2.xml": b"\x00" * (300 * MB)})  # ~300 KB compressed, 1000:1
    assert len(bomb) < 2 * MB
    assert "压缩炸弹" in refused(bomb, "附件2-评分细则.xlsx")


def test_a_member_that_inflates_past_its_declared_size_is_refused() -> None:
    honest = rezip(docx_bytes(), add={"word/media/padding.bin": b"A" * 4096})
    # declare 16 bytes for the member in both headers: inflating proves the declaration false
    info = next(i for i in zipfile.ZipFile(io.BytesIO(honest)).infolist() if i.filename == "word/media/padding.bin")
    lying = bytearray(honest)
    for offset in _size_fields(honest, info):
        lying[offset : offset + 4] = (16).to_bytes(4, "little")
    assert "校验失败" in refused(bytes(lying), "附件1-表.docx")


def _size_fields(data: bytes, info: zipfile.ZipInfo) -> list[int]:
    """Offsets of the uncompressed-size fields of one member (local header and central directory)."""
    positions = [info.header_offset + 22]
    start = 0
    while (found := data.find(b"PK\x01\x02", start)) >= 0:
        name_length = int.from_bytes(data[found + 28 : found + 30], "little")
        if data[found + 46 : found + 46 + name_length] == info.filename.encode():
            positions.append(found + 24)
        start = found + 4
    assert len(positions) == 2
    return positions


def test_too_many_members_are_refused() -> None:
    crowded = rezip(docx_bytes(), add={f"customXml/extra{i}.xml": b"<a/>" for i in range(2_100)})
    assert "部件" in refused(crowded, "附件1-表.docx")


def test_a_member_name_that_climbs_out_is_refused() -> None:
    traversal = rezip(docx_bytes(), add={"../../etc/cron.d/job": b"* * * * * root sh"})
    assert "路径穿越" in refused(traversal, "附件1-表.docx")


def test_a_nested_archive_is_refused() -> None:
    nested = rezip(docx_bytes(), add={"word/embeddings/inner.zip": docx_bytes()})
    assert "内嵌了其他压缩包" in refused(nested, "附件1-表.docx")


def test_macros_are_refused_in_a_docx_and_as_an_xlsm() -> None:
    with_vba = rezip(docx_bytes(), add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})
    assert "宏" in refused(with_vba, "附件1-表.docx")
    xlsx = xlsx_bytes()
    main = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    types = (
        zipfile.ZipFile(io.BytesIO(xlsx)).read("[Content_Types].xml").replace(main, b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    )
    assert "宏" in refused(rezip(xlsx, replace={"[Content_Types].xml": types}), "附件2-评分.xlsx")


def test_data_hidden_in_front_of_or_inside_an_office_zip_is_refused() -> None:
    docx = docx_bytes()
    assert refused(b"<script>alert(1)</script>" + docx, "附件1-表.docx")  # a polyglot: the page first, then the zip
    commented = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(commented, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.comment = b"<html><script>alert(1)</script></html>"
    assert "额外数据" in refused(commented.getvalue(), "附件1-表.docx")


def test_a_pdf_with_javascript_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_open_action(JavaScript("app.alert('hi');"))
    out = io.BytesIO()
    writer.write(out)
    assert "JavaScript" in refused(out.getvalue(), "签字版.pdf")


def test_a_pdf_with_javascript_spelled_in_hex_escapes_is_refused() -> None:
    pdf = pdf_bytes("/OpenAction 6 0 R", extra_objects=("<< /Type /Action /S /J#61vaScript /J#53 (app.alert(1)) >>",))
    assert "JavaScript" in refused(pdf, "通知.pdf")


def test_a_pdf_that_launches_a_program_or_embeds_a_file_is_refused() -> None:
    launch = pdf_bytes("/OpenAction 6 0 R", extra_objects=("<< /Type /Action /S /Launch /F (cmd.exe) >>",))
    assert "启动外部程序" in refused(launch, "a.pdf")
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_attachment("payload.exe", b"MZ\x90\x00")
    out = io.BytesIO()
    writer.write(out)
    assert "嵌入的文件" in refused(out.getvalue(), "b.pdf")


def test_a_pdf_with_an_opening_action_beyond_going_to_a_page_is_refused() -> None:
    uri = pdf_bytes("/OpenAction 6 0 R", extra_objects=("<< /Type /Action /S /URI /URI (https://tracker.example/) >>",))
    assert "打开文件时自动执行" in refused(uri, "c.pdf")
    goto = pdf_bytes("/OpenAction [3 0 R /Fit]")
    assert upload(goto, "d.pdf").suffix == ".pdf"  # an initial view is not an action


def test_a_pdf_that_is_also_a_zip_is_refused() -> None:
    polyglot = pdf_bytes() + docx_bytes()
    assert "压缩包" in refused(polyglot, "e.pdf")


def test_a_pdf_behind_other_bytes_is_refused() -> None:
    assert "PDF 标记前面" in refused(b"<!-- x -->\x00\x01" + pdf_bytes(), "f.pdf")


def test_a_picture_carrying_a_zip_or_a_page_behind_it_is_neutralised() -> None:
    for fmt, name in (("PNG", "g.png"), ("JPEG", "g.jpg")):
        polyglot = image_bytes(fmt) + b"<html><script>alert(1)</script></html>" + docx_bytes()
        clean = upload(polyglot, name).data
        assert b"<script>" not in clean and b"PK\x03\x04" not in clean
        Image.open(io.BytesIO(clean)).load()


def test_a_pixel_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = image_bytes("PNG", size=(20_000, 20_000), mode="1")  # 400 million pixels in a few dozen KB
    assert len(bomb) < MB
    assert "像素" in refused(bomb, "h.png")


def test_a_damaged_picture_is_refused() -> None:
    assert "损坏" in refused(image_bytes("PNG", size=(300, 300))[:200], "i.png")


def test_animated_and_unusual_pictures_are_normalised() -> None:
    frames = [Image.new("P", (32, 32), index) for index in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    assert b"acTL" in out.getvalue()  # a real APNG
    clean = upload(out.getvalue(), "j.png").data
    assert b"acTL" not in clean and Image.open(io.BytesIO(clean)).size == (32, 32)
    cmyk = image_bytes("JPEG", mode="CMYK")
    assert Image.open(io.BytesIO(upload(cmyk, "k.jpg").data)).mode == "RGB"
    sixteen = io.BytesIO()
    Image.new("I;16", (16, 16), 40000).save(sixteen, "PNG")
    assert Image.open(io.BytesIO(upload(sixteen.getvalue(), "l.png").data)).mode in ("L", "RGB", "RGBA", "I;16")


def test_old_office_files_are_refused_with_what_to_do() -> None:
    assert "另存为" in refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "附件1-表.docx")
