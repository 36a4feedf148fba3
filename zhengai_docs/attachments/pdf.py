"""PDFs refused when they could act on their own: JavaScript, launching programs, embedded
files, actions run on opening (or on any page or field event), rich media and XFA forms.

Two readings, because PDF readers differ in how they find objects. The raw file is scanned for
those names (`#xx` escapes decoded, stream contents skipped so compressed bytes cannot match by
chance): a reader that repairs a damaged cross-reference table finds every object the scan
sees. Then pypdf resolves every object the cross-reference tables list, including those packed
in compressed object streams, and walks their dictionaries. pypdf parses hostile input, so
that walk runs in a child process held to a time and memory limit (`render.sandbox`).

Refused, not neutralised: removing the actions means rewriting the file, which would invalidate
the signature of a signed PDF without a word, and a cleaner that misses one trigger is worse
than a clear refusal; printing to PDF again gives a clean file.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile

from zhengai_docs.attachments.refusal import UploadRefused
from zhengai_docs.render.sandbox import LimitExceeded, run_limited

MAX_SECONDS = 20.0
MAX_MEMORY = 512 * 1024 * 1024
MAX_OBJECTS = 500_000
# Names that only appear where a PDF acts by itself (or carries another file).
ACTIVE_NAMES = {
    "JavaScript": "JavaScript 脚本",
    "JS": "JavaScript 脚本",
    "Launch": "启动外部程序的动作",
    "EmbeddedFile": "嵌入的文件",
    "EmbeddedFiles": "嵌入的文件",
    "RichMedia": "多媒体（Flash 等）内容",
    "ImportData": "导入外部数据的动作",
    "GoToE": "打开嵌入文件的动作",
    "AA": "打开页面或字段时自动执行的动作",
    "XFA": "XFA 动态表单（可含脚本）",
}
_LABELS = {**ACTIVE_NAMES, "OpenAction": "打开文件时自动执行的动作"}
_NAME = re.compile(rb"/([^\s/<>\[\]{}()%]+)")
_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)
_ESCAPE = re.compile(r"#([0-9A-Fa-f]{2})")
log = logging.getLogger(__name__)


def check_pdf(data: bytes, *, name: str) -> None:
    """UploadRefused when the PDF carries active content, hides another format, or cannot be read."""
    if _is_zip(data):
        raise UploadRefused(f"“{name}”同时也是一个压缩包（伪装的 PDF），未上传。请重新导出 PDF 后再上传。")
    found = raw_active_names(data)
    try:
        found |= set(run_limited(active_names_in_objects, (data, name), seconds=MAX_SECONDS, memory_bytes=MAX_MEMORY))
    except LimitExceeded as exc:
        raise UploadRefused(f"“{name}”的结构异常，检查超出时间或内存上限，未上传。请重新导出 PDF 后再上传。") from exc
    if found:
        what = "、".join(dict.fromkeys(_LABELS.get(n, n) for n in sorted(found)))
        raise UploadRefused(
            f"“{name}”包含{what}，打开时可能自动执行，为安全起见未上传。请用“打印为 PDF”重新生成一份不含脚本的 PDF 后再上传。"
        )


def raw_active_names(data: bytes) -> set[str]:
    """The active names written in the file outside streams, with `#xx` escapes decoded."""
    found: set[str] = set()
    for match in _NAME.finditer(_STREAM.sub(b" ", data)):
        token = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), match.group(1).decode("latin-1"))
        if token in ACTIVE_NAMES:
            found.add(token)
    return found


def active_names_in_objects(job: tuple[bytes, str]) -> list[str]:
    """In a child: every object pypdf's cross-reference tables reach, walked for active names and
    for an opening action that is more than "go to a page". Raises UploadRefused for an unreadable file."""
    import warnings

    data, name = job

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    warnings.simplefilter("ignore")  # pypdf warns about every damaged structure it reads around
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    refused = UploadRefused(f"“{name}”已损坏或加密，无法检查其内容，未上传。请重新导出不加密的 PDF 后再上传。")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise refused
        found: set[str] = set()
        numbers: set[tuple[int, int]] = set()
        for generation, table in reader.xref.items():
            numbers.update((number, generation) for number in table)
        numbers.update((number, 0) for number in reader.xref_objStm)
        if len(numbers) > MAX_OBJECTS:
            raise refused
        opening = reader.trailer.get("/Root", {})
        opening = opening.get_object() if isinstance(opening, IndirectObject) else opening
        action = opening.get("/OpenAction") if isinstance(opening, DictionaryObject) else None
        action = action.get_object() if isinstance(action, IndirectObject) else action
        if isinstance(action, DictionaryObject) and action.get("/S") not in ("/GoTo", None):
            found.add("OpenAction")
        for number, generation in sorted(numbers):
            try:
                value = reader.get_object(IndirectObject(number, generation, reader))
            except (PdfReadError, ValueError, KeyError, OSError):
                continue
            stack = [value]
            while stack:
                item = stack.pop()
                if isinstance(item, DictionaryObject):
                    for key, child in item.items():
                        name = str(key).lstrip("/")
                        if name in ACTIVE_NAMES:
                            found.add(name)
                        if name in ("S", "Type", "Subtype") and str(child).lstrip("/") in ACTIVE_NAMES:
                            found.add(str(child).lstrip("/"))
                        if not isinstance(child, IndirectObject):
                            stack.append(child)
                elif isinstance(item, ArrayObject):
                    stack.extend(c for c in item if not isinstance(c, IndirectObject))
        return sorted(found)
    except UploadRefused:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise refused from exc


def _is_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return False
