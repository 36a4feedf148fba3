"""Opening an uploaded .docx without trusting it.

A .docx is a zip of XML parts, and everything about it can be hostile: it may not be a zip at
all (an old .doc renamed, an encrypted OLE container, an RTF or web page saved as .docx), be
cut short, declare gigabytes of decompressed XML (a zip bomb), carry macros (.docm) or an XML
DTD with entities. Every check here runs before any part is decompressed, and each part is read
through `zipfile`, which never returns more than the size the central directory declares; so
memory stays within `Limits.max_unzipped_bytes` whatever the file says. Each XML part is parsed
by lxml (which reads its real encoding: BOM, declaration, UTF-16) without entities, network or
external DTDs, and refused when the parsed document has a DOCTYPE at all.
"""

from __future__ import annotations

import io
import posixpath
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field

from lxml import etree

from zhengai_docs.errors import ImportProblem

_CHUNK = 64 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_DOCUMENT_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
}
_MACRO_TYPES = re.compile(r"application/vnd\.ms-word\.(document|template)\.macroEnabled", re.I)
_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
# Entity and DTD errors libxml2 reports when it refuses a document's DTD part way (amplification, loops …).
_DTD_ERRORS = re.compile(r"ENTITY|DTD|DOCTYPE|SUBSET|PEREF|amplification", re.I)


class WordImportError(ImportProblem):
    """A file that cannot be imported, with a message a clerk can act on."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Limits:
    """What one import may cost; the defaults come from the WORD_IMPORT_* settings."""

    max_bytes: int = 10 * 1024 * 1024
    max_unzipped_bytes: int = 100 * 1024 * 1024
    max_seconds: float = 20.0
    max_table_cells: int = 20_000
    max_entries: int = 2_000
    max_memory_bytes: int = 512 * 1024 * 1024  # address space the conversion child may add
    max_chars: int = 500_000  # Markdown the conversion may produce (the editor's MAX_BODY_CHARS)

    @classmethod
    def from_settings(cls, settings: dict[str, object]) -> Limits:
        return cls(
            max_bytes=int(float(str(settings["WORD_IMPORT_MAX_MB"])) * 1024 * 1024),
            max_unzipped_bytes=int(float(str(settings["WORD_IMPORT_MAX_UNZIPPED_MB"])) * 1024 * 1024),
            max_seconds=float(str(settings["WORD_IMPORT_MAX_SECONDS"])),
            max_table_cells=int(str(settings["WORD_IMPORT_MAX_TABLE_CELLS"])),
            max_memory_bytes=int(float(str(settings["WORD_IMPORT_MAX_MEMORY_MB"])) * 1024 * 1024),
        )


class Deadline:
    """Raises once the time allowed for one import has passed.

    Checked in every loop over blocks, rows and runs, so the usual way out is this clear
    message; the child process's CPU limit and the parent's wall clock stop what it misses.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise WordImportError(f"文档处理超过 {self.seconds:g} 秒仍未完成，已停止。请拆分文档，或删除其中过大的表格后再导入。")


@dataclass(frozen=True)
class WordPackage:
    """The parsed XML parts an import reads; None where the document has no such part."""

    document: etree._Element
    styles: etree._Element | None
    numbering: etree._Element | None
    relationships: dict[str, str]  # relationship id -> external target (hyperlinks)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # relationship id -> (part name, bytes) of pictures


def megabytes(size: float) -> str:
    """A limit in MB as people write it: 10, 0.5 (not 0.499999)."""
    return f"{round(size / 1024 / 1024, 2):g}"


_mb = megabytes


def open_package(data: bytes, *, limits: Limits, media: bool = False) -> WordPackage:
    """Check and parse a .docx given as bytes; WordImportError says why one is refused. With
    `media`, the pictures the main part refers to are read too (their sizes were checked with
    every other part's)."""
    if not data:
        raise WordImportError("文件是空的。")
    if len(data) > limits.max_bytes:
        raise WordImportError(f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过导入上限 {_mb(limits.max_bytes)} MB。")
    _refuse_other_formats(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise WordImportError("文件已损坏或不完整（可能没有下载或复制完整），无法作为 Word 文档打开。") from exc
    with archive:
        _check_entries(archive, limits)
        names = set(archive.namelist())
        main = _main_part(archive, names, limits)
        _check_content_type(archive, names, main, limits)
        folder = posixpath.dirname(main)
        rels_name = posixpath.join(folder, "_rels", posixpath.basename(main) + ".rels")
        parts, links, images = _relationships(archive, rels_name, folder, names, limits) if rels_name in names else ({}, {}, {})
        styles = _optional_part(archive, parts.get("styles"), limits)
        numbering = _optional_part(archive, parts.get("numbering"), limits)
        document = _xml(_read(archive, main, limits), main)
        pictures = {rid: (part, _read(archive, part, limits)) for rid, part in images.items()} if media else {}
        return WordPackage(document=document, styles=styles, numbering=numbering, relationships=links, media=pictures)


def _refuse_other_formats(data: bytes) -> None:
    if data.startswith(_OLE_MAGIC):
        if any(name in data for name in _ENCRYPTED_STREAMS):
            raise WordImportError(
                "该文档设置了打开密码（已加密），系统无法读取。请在 Word 中取消密码（文件→信息→保护文档）后另存为 .docx 再导入。"
            )
        raise WordImportError(
            "这是旧版 Word 97-2003 文档（.doc），即使扩展名改成了 .docx 也无法读取。请在 Word 或 WPS 中“另存为”Word 文档（.docx）后再导入。"
        )
    if not data.startswith(b"PK\x03\x04"):
        head = data[:512].lstrip().lower()
        if head.startswith(b"{\\rtf"):
            raise WordImportError("这是 RTF 格式的文件，不是 Word 文档（.docx）。请在 Word 中另存为 .docx 后再导入。")
        if head.startswith((b"<html", b"<!doctype", b"mime-version", b"<?xml")):
            raise WordImportError("这是网页或 XML 格式的文件，不是 Word 文档（.docx）。请在 Word 中另存为 .docx 后再导入。")
        if head.startswith(b"%pdf"):
            raise WordImportError("这是 PDF 文件，不能作为 Word 文档导入。请使用 Word 原稿（.docx）。")
        raise WordImportError("不是有效的 Word 文档（.docx）。请确认文件是用 Word 或 WPS 保存的 .docx 格式。")


def _check_entries(archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise WordImportError(f"文件内部包含 {len(infos)} 个部件，超过上限 {limits.max_entries}，不像正常的 Word 文档，已拒绝。")
    if any(info.flag_bits & 0x1 for info in infos):
        raise WordImportError("该文档设置了打开密码（已加密），系统无法读取。请取消密码后另存为 .docx 再导入。")
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise WordImportError(
            f"文件解压后有 {total / 1024 / 1024:.0f} MB，超过上限 {_mb(limits.max_unzipped_bytes)} MB（疑似“压缩炸弹”），已拒绝。"
        )


def _read(archive: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    """One part; zipfile stops at the declared size and checks the CRC, so a lying header fails."""
    info = archive.getinfo(name)
    if info.file_size > limits.max_unzipped_bytes:
        raise WordImportError(f"文档部件 {name} 解压后超过 {_mb(limits.max_unzipped_bytes)} MB，已拒绝。")
    chunks: list[bytes] = []
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):  # small reads: zipfile inflates at most this much at once
                chunks.append(chunk)
    except RuntimeError as exc:  # "File is encrypted"
        raise WordImportError("该文档设置了打开密码（已加密），系统无法读取。") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise WordImportError("文件已损坏或不完整（压缩数据校验失败），无法读取。") from exc
    return b"".join(chunks)


def _xml(data: bytes, name: str) -> etree._Element:
    """Parse a part in whatever encoding it declares; refuse any DOCTYPE, wherever it is."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
    refused = f"文档部件 {name} 含有 DTD 声明或实体定义，Word 文档不会这样写，已拒绝。"
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        if any(entry.type_name == "ERR_NO_MEMORY" for entry in exc.error_log):
            raise MemoryError(f"parsing {name}") from exc  # the conversion's memory limit, not a damaged file
        if any(_DTD_ERRORS.search(f"{entry.type_name} {entry.message}") for entry in exc.error_log):
            raise WordImportError(refused) from exc
        raise WordImportError(f"文档内容已损坏（{name} 不是有效的 XML），无法读取。") from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.system_url or info.public_id:
        raise WordImportError(refused)
    return root


def _main_part(archive: zipfile.ZipFile, names: set[str], limits: Limits) -> str:
    if "[Content_Types].xml" not in names or "_rels/.rels" not in names:
        raise WordImportError("这是一个压缩包，但不是 Word 文档（缺少 Office 文档结构）。")
    rels = _xml(_read(archive, "_rels/.rels", limits), "_rels/.rels")
    for rel in rels.iter(f"{{{_PACKAGE_RELS}}}Relationship"):
        if rel.get("Type") == _OFFICE_DOCUMENT:
            target = posixpath.normpath(rel.get("Target", "").lstrip("/"))
            if target in names:
                return target
    raise WordImportError("这是一个压缩包，但不是 Word 文档（找不到正文部件）。")


def _check_content_type(archive: zipfile.ZipFile, names: set[str], main: str, limits: Limits) -> None:
    types = _xml(_read(archive, "[Content_Types].xml", limits), "[Content_Types].xml")
    declared = {el.get("PartName", "").lstrip("/"): el.get("ContentType", "") for el in types.iter(f"{{{_CONTENT_TYPES}}}Override")}
    kind = declared.get(main, "")
    if _MACRO_TYPES.search(kind) or any(name.lower().endswith("vbaproject.bin") for name in names):
        raise WordImportError("这是启用宏的 Word 文档（.docm），为安全起见不能导入。请在 Word 中“另存为”普通 Word 文档（.docx）后再导入。")
    if kind not in _DOCUMENT_TYPES:
        if "spreadsheetml" in kind:
            raise WordImportError("这是 Excel 工作簿，不是 Word 文档。")
        if "presentationml" in kind:
            raise WordImportError("这是 PowerPoint 演示文稿，不是 Word 文档。")
        raise WordImportError("这是一个 Office 压缩包，但不是 Word 文档（.docx）。")


def _relationships(
    archive: zipfile.ZipFile, rels_name: str, folder: str, names: set[str], limits: Limits
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Where the styles and numbering parts are, the targets of external hyperlinks, and the
    parts of the pictures (relationship id -> part name; linked, external pictures are not read)."""
    rels = _xml(_read(archive, rels_name, limits), rels_name)
    found: dict[str, str] = {}
    links: dict[str, str] = {}
    images: dict[str, str] = {}
    for rel in rels.iter(f"{{{_PACKAGE_RELS}}}Relationship"):
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        target = rel.get("Target", "")
        if kind == "hyperlink" and rel.get("TargetMode") == "External":
            links[rel.get("Id", "")] = target
        elif kind in ("styles", "numbering", "image") and rel.get("TargetMode") != "External":
            path = posixpath.normpath(posixpath.join(folder, target)) if not target.startswith("/") else target.lstrip("/")
            if path in names and kind == "image":
                images[rel.get("Id", "")] = path
            elif path in names:
                found[kind] = path
    return found, links, images


def _optional_part(archive: zipfile.ZipFile, name: str | None, limits: Limits) -> etree._Element | None:
    if name is None:
        return None
    return _xml(_read(archive, name, limits), name)
