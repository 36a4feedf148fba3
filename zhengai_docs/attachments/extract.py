"""The text of an attachment as its reader sees it, for search.

- .docx: every paragraph in reading order — body, table cells (one line per cell paragraph),
  text boxes — with deleted revisions and field codes left out, read through the Word import's
  hardened package reader (`render.docx_package`: no DTDs, sizes checked before inflating).
- .xlsx: each sheet's name, then its rows, cells separated by tabs, the values the workbook shows
  (cached formula results, not formulas); openpyxl in read-only mode, streaming.
- .pdf: each page's text by pypdf, which is pure Python and already reads every PDF upload
  (`pdf.py`), so a deployment (Windows included) needs no poppler.

Each extraction runs in a child process held to a time and memory limit (`render.sandbox`),
stops collecting at `MAX_CHARS`, and never raises for a bad file: what cannot be read has no
text (logged), because one odd attachment must not stop a document being indexed.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, time

from lxml import etree

from zhengai_docs.render.sandbox import LimitExceeded, run_limited

MAX_CHARS = 1_000_000  # text kept per attachment (a 300-page PDF is ~300,000 characters)
MAX_SECONDS = 30.0
MAX_MEMORY = 768 * 1024 * 1024
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_SKIPPED = {f"{{{_W}}}delText", f"{{{_W}}}instrText", f"{{{_W}}}delInstrText", f"{{{_MC}}}Fallback"}
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")
log = logging.getLogger(__name__)


def extract_text(data: bytes, *, suffix: str, max_chars: int = MAX_CHARS, seconds: float = MAX_SECONDS) -> str:
    """Plain text of a .docx, .xlsx or .pdf (at most `max_chars`); "" for pictures, other kinds
    and files that cannot be read in time."""
    suffix = suffix.lower()
    readers = {".docx": _docx_text, ".xlsx": _xlsx_text, ".pdf": _pdf_text}
    reader = readers.get(suffix)
    if reader is None or not data:
        return ""
    try:
        return run_limited(_extract_job, (suffix, data, max_chars), seconds=seconds, memory_bytes=MAX_MEMORY)
    except LimitExceeded as exc:
        log.warning("text of a %s attachment not extracted: %s", suffix, exc)
    except Exception:
        log.warning("text of a %s attachment could not be read", suffix, exc_info=True)
    return ""


def _extract_job(job: tuple[str, bytes, int]) -> str:
    suffix, data, max_chars = job
    reader = {".docx": _docx_text, ".xlsx": _xlsx_text, ".pdf": _pdf_text}[suffix]
    return fold("\n".join(_bounded(reader(data), max_chars)))[:max_chars]


def fold(text: str) -> str:
    """NFC, no control characters, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub("\n", _CONTROLS.sub("", text) + "\n")
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


def _bounded(lines: Iterator[str], max_chars: int) -> Iterator[str]:
    total = 0
    for line in lines:
        yield line
        total += len(line) + 1
        if total >= max_chars:
            return


def _docx_text(data: bytes) -> Iterator[str]:
    from zhengai_docs.render.docx_package import Limits, open_package

    package = open_package(data, limits=Limits(max_bytes=max(len(data), 1), max_unzipped_bytes=256 * 1024 * 1024))
    body = package.document.find(f"{{{_W}}}body")
    if body is None:
        return
    for paragraph in body.iter(f"{{{_W}}}p"):
        if any(ancestor.tag in _SKIPPED for ancestor in paragraph.iterancestors()):
            continue
        if paragraph.find(f".//{{{_W}}}p") is not None:  # a text box's paragraphs come on their own
            yield _paragraph_text(paragraph, nested=True)
            continue
        yield _paragraph_text(paragraph, nested=False)


def _paragraph_text(paragraph: etree._Element, *, nested: bool) -> str:
    pieces: list[str] = []
    stack = list(reversed(list(paragraph)))
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag in _SKIPPED or (nested and tag == f"{{{_W}}}p") or tag == f"{{{_W}}}txbxContent":
            continue
        if tag == f"{{{_W}}}t":
            pieces.append(element.text or "")
        elif tag == f"{{{_W}}}tab":
            pieces.append("\t")
        elif tag in (f"{{{_W}}}br", f"{{{_W}}}cr"):
            pieces.append("\n")
        stack.extend(reversed(list(element)))
    return "".join(pieces)


def _xlsx_text(data: bytes) -> Iterator[str]:
    import warnings

    import openpyxl

    warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it does not read
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            yield f"【{sheet.title}】"
            for row in sheet.iter_rows(values_only=True):
                cells = [_cell(value) for value in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    yield "\t".join(cells)
    finally:
        workbook.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != time() else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\n", " ")


def _pdf_text(data: bytes) -> Iterator[str]:
    import warnings

    from pypdf import PdfReader

    warnings.simplefilter("ignore")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        return
    for page in reader.pages:
        yield page.extract_text() or ""
