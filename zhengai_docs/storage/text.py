"""Blob bytes to text: the one rule for every file read from (and written to) the content repository.

Anyone may `git push` to the content repository, from any editor: a blob may be GBK (Notepad on
Chinese Windows), UTF-16 (Notepad's "Unicode"), a binary file, or 50 MB. Reading never raises
on that. Such a blob comes back as `UnusableText` — a `str` (the text with U+FFFD where bytes
could not be decoded, or empty when it was not read) that carries the reason in Chinese — and
every parser of content (documents, catalogue.yaml, frameworks) calls `require_text` first, so
the reason takes the same path as broken YAML (`InvalidFrontMatter`): one bad file stays the
problem of its own document, and the next commit that fixes it recovers everything.

Writing applies the same rule (`encode_text`), so the app never commits what it could not read
back, and never writes U+FFFD over bytes it could not decode.
"""

from __future__ import annotations

import codecs
import re

from zhengai_docs.errors import Refused, UnreadableContent

MAX_CONTENT_BYTES = 2 * 1024 * 1024
"""Largest file read from git; larger blobs are not read at all (bounded memory per request).
A 500-page regulation is about 1 MB of Markdown."""

# Characters XML 1.0 forbids: the HTML sanitiser and Word export cannot carry them, so a file
# containing one is not text the product can use (tab, newline and carriage return are fine).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class UnusableText(str):
    """The text of a blob that is not usable content, with the reason (and line) why.

    A `str`, so callers that pass texts around unparsed (diffs, cheap substring filters) keep
    working; the parsers refuse it through `require_text`.
    """

    problem: str
    line: int | None

    def __new__(cls, value: str, *, problem: str, line: int | None = None) -> UnusableText:
        text = super().__new__(cls, value)
        text.problem = problem
        text.line = line
        return text


def decode_content(data: bytes) -> str:
    """UTF-8 text (a BOM is kept, so documents round-trip byte for byte), or UnusableText."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        replaced = data.decode("utf-8", errors="replace")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return UnusableText(replaced, problem="文件是 UTF-16 编码（记事本中的“Unicode”），请另存为 UTF-8")
        line = data.count(b"\n", 0, exc.start) + 1
        return UnusableText(replaced, problem="文件不是 UTF-8 编码（可能是用记事本以 GBK 保存），请另存为 UTF-8", line=line)
    bad = _NOT_TEXT.search(text)
    if bad is not None:
        problem = f"{_control(bad.group())}，不是纯文本（可能是二进制文件，或 UTF-16 编码）"
        return UnusableText(text, problem=problem, line=text.count("\n", 0, bad.start()) + 1)
    return text


def oversized(size: int) -> UnusableText:
    """The stand-in for a blob over MAX_CONTENT_BYTES, which is never read."""
    return UnusableText("", problem=f"文件过大（{_megabytes(size)}），超过 {_megabytes(MAX_CONTENT_BYTES)} 的上限，未读取；请拆分或删除")


def missing_object(kind: str) -> UnusableText:
    """The stand-in for an entry whose content the repository does not hold as a file."""
    if kind == "commit":
        return UnusableText("", problem="是子模块（gitlink），不是文件")
    return UnusableText("", problem="仓库中缺少此文件的内容（对象不存在或不是文件），请运行 zhengai-docs doctor")


def require_text(text: str, *, path: str) -> str:
    """Refuse unusable text the way broken front matter is refused: naming the file (and line)."""
    if isinstance(text, UnusableText):
        raise UnreadableContent(path=path, line=text.line, message=text.problem)
    return text


def encode_text(text: str, *, path: str | None = None) -> bytes:
    """The bytes to commit; refused (with the reason) when reading them back would fail."""
    where = f"{path}：" if path else ""
    if isinstance(text, UnusableText):
        raise Refused(f"{where}原文件无法读取（{text.problem}），不能原样写回")
    bad = _NOT_TEXT.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise Refused(f"{where}第 {line} 行{_control(bad.group())}，请删除后再保存")
    data = text.encode("utf-8")
    if len(data) > MAX_CONTENT_BYTES:
        raise Refused(f"{where}内容过大（{_megabytes(len(data))}），超过 {_megabytes(MAX_CONTENT_BYTES)} 的上限，请拆分")
    return data


def _control(char: str) -> str:
    return f"含有不可见的控制字符 U+{ord(char):04X}"


def _megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if size % (1024 * 1024) == 0 else f"{value:.1f} MB"
