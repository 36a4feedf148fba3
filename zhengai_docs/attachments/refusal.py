"""What every inspection step shares: the refusal, the accepted result, the kinds' names."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass

from zhengai_docs.errors import ZhengaiError

MEDIA_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}
KIND_NAMES = {".docx": "Word 文档", ".xlsx": "Excel 工作簿", ".pdf": "PDF 文件", ".png": "PNG 图片", ".jpg": "JPG 图片"}
SUFFIX_ALIASES = {".jpeg": ".jpg", ".jpe": ".jpg"}
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UploadRefused(ZhengaiError):
    """An upload that is not accepted; `message` names the file and why (400, or 413 when too large)."""

    status = 400

    def __init__(self, message: str, *, status: int = 400) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Inspected:
    """An accepted upload: its suffix and media type as the content says, and the bytes to store
    (pictures re-encoded; other kinds exactly as uploaded)."""

    suffix: str
    media_type: str
    data: bytes


def display_name(filename: str) -> str:
    """The file's own name (no folders, no control characters) for messages."""
    name = unicodedata.normalize("NFC", _CONTROLS.sub("", filename)).replace("\\", "/")
    name = posixpath.basename(name).strip() or "（无名文件）"
    return name if len(name) <= 80 else name[:77] + "…"


def claimed_suffix(filename: str) -> str:
    """The suffix the name claims, lower case, `.jpeg` spelled `.jpg`; "" without one."""
    name = display_name(filename)
    suffix = posixpath.splitext(name)[1].lower()
    return SUFFIX_ALIASES.get(suffix, suffix)


def megabytes(size: float) -> str:
    return f"{round(size / 1024 / 1024, 1):g}"
