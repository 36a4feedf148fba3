"""The kind of a file from its first bytes, and a named refusal for everything else.

Only four signatures are accepted: PNG, JPEG, `%PDF-` at the very start (a PDF reader looks
further in, which is how PDF polyglots hide a second format in front), and a zip whose first
entry starts at byte 0 (an Office file: `office.py` decides which). Programs, scripts and the
formats people confuse with these get a message that says what the file is.
"""

from __future__ import annotations

from zhengai_docs.attachments.refusal import UploadRefused

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_PDF = b"%PDF-"
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PROGRAMS = (
    (b"MZ", "Windows 可执行程序（.exe/.dll）"),
    (b"\x7fELF", "Linux 可执行程序"),
    (b"\xcf\xfa\xed\xfe", "macOS 可执行程序"),
    (b"\xce\xfa\xed\xfe", "macOS 可执行程序"),
    (b"\xca\xfe\xba\xbe", "macOS 或 Java 程序"),
    (b"#!", "脚本程序"),
)
_MARKUP = (b"<svg", b"<?xml", b"<!doctype", b"<html", b"<script", b"<body", b"<head", b"<iframe")


def content_kind(data: bytes, *, name: str) -> str:
    """ ".png", ".jpg", ".pdf" or ".zip" from the content; UploadRefused for anything else."""
    if data.startswith(_PNG):
        return ".png"
    if data.startswith(_JPEG):
        return ".jpg"
    if data.startswith(_PDF):
        return ".pdf"
    if data.startswith(_ZIP):
        return ".zip"
    for magic, what in _PROGRAMS:
        if data.startswith(magic):
            raise UploadRefused(f"“{name}”实际上是{what}，不是文档或图片，为安全起见未上传。")
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_MARKUP) or b"<svg" in head:
        if b"<svg" in data[:65536].lower():
            raise UploadRefused(f"“{name}”是 SVG 矢量图，SVG 可以包含脚本，不能上传。请另存为 PNG 或 JPG 图片后再上传。")
        raise UploadRefused(f"“{name}”是网页或 XML 文件，可能包含脚本，不能作为附件上传。")
    if data.startswith(_OLE):
        raise UploadRefused(
            f"“{name}”是旧版 Office 文件（.doc/.xls）或加密的 Office 文件，无法检查其中是否有宏，未上传。"
            "请在 Word 或 Excel 中“另存为”.docx 或 .xlsx（并取消打开密码）后再上传。"
        )
    if head.startswith(b"{\\rtf"):
        raise UploadRefused(f"“{name}”是 RTF 文件，不是允许的附件类型。请在 Word 中另存为 .docx 后再上传。")
    if b"%PDF-" in data[:1024]:
        raise UploadRefused(f"“{name}”的 PDF 标记前面还有其他内容（可能是伪装成 PDF 的其他文件），未上传。请重新导出 PDF。")
    raise UploadRefused(f"“{name}”不是可识别的 Word、Excel、PDF、PNG 或 JPG 文件，未上传。")
