"""Office files (.docx, .xlsx) checked as zips before anyone opens them.

The central directory is read first (nothing inflated): few members, names without path tricks,
no encryption, declared sizes and compression ratios within limits. The file must be exactly
its entries laid end to end, starting at byte 0 and ending with the directory: data hidden in
gaps, in front, behind, or in entries that overlap (the "overlapping zip bomb") is refused. Then
every member is inflated once, in small reads under one byte budget, which proves the declared
sizes and the checksums; a member that is itself an archive is refused on its first bytes. The
main part's content type (from `[Content_Types].xml`, parsed without DTDs) says Word or Excel;
macro-enabled types, `vbaProject.bin` and ActiveX controls are refused.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib

from lxml import etree

from zhengai_docs.attachments.refusal import UploadRefused

MAX_MEMBERS = 2_000
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # all members together, as declared and as inflated
MAX_RATIO = 200  # per member above RATIO_FLOOR: XML compresses ~10-50×; bombs 1,000× and more
RATIO_FLOOR = 1024 * 1024
_CHUNK = 64 * 1024
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": ".xlsx",
}
_MACRO_TYPE = re.compile(r"macroEnabled|vbaProject|vbaData|ms-office\.activeX", re.IGNORECASE)
_MACRO_PART = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml)$|(^|/)activeX/", re.IGNORECASE)
_ARCHIVES = (b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"BZh")
_BAD_NAME = re.compile(r"(^|/)\.\.(/|$)|^/|\\|^[A-Za-z]:|[\x00-\x1f]")
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"


def office_kind(data: bytes, *, name: str) -> str:
    """ ".docx" or ".xlsx" from the main part's content type; UploadRefused for other zips."""
    with _open(data, name=name) as archive:
        types = _content_types(archive, name=name)
        for content_type, kind in _MAIN_TYPES.items():
            if content_type in types.values():
                return kind
        if any(_MACRO_TYPE.search(t) for t in types.values()):
            raise UploadRefused(_macro_message(name))
        if any("presentationml" in t for t in types.values()):
            raise UploadRefused(f"“{name}”是 PowerPoint 演示文稿，不是允许的附件类型，未上传。")
        raise UploadRefused(f"“{name}”是压缩包或其他 Office 文件，不是 Word 文档（.docx）或 Excel 工作簿（.xlsx），未上传。")


def check_office(data: bytes, *, name: str, kind: str) -> None:
    """Refuse a .docx/.xlsx that is a zip bomb, a polyglot, carries macros or nests archives."""
    with _open(data, name=name) as archive:
        infos = archive.infolist()
        _check_directory(infos, name=name)
        _check_layout(data, archive, infos, name=name)
        types = _content_types(archive, name=name)
        if any(_MACRO_TYPE.search(t) for t in types.values()) or any(_MACRO_PART.search(i.filename) for i in infos):
            raise UploadRefused(_macro_message(name))
        _inflate_all(archive, infos, name=name)


def _open(data: bytes, *, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise UploadRefused(f"“{name}”已损坏或不完整（可能没有下载或复制完整），无法打开，未上传。") from exc


def _check_directory(infos: list[zipfile.ZipInfo], *, name: str) -> None:
    if len(infos) > MAX_MEMBERS:
        raise UploadRefused(f"“{name}”内部有 {len(infos)} 个部件，超过上限 {MAX_MEMBERS}，不像正常的 Office 文件，未上传。")
    seen: set[str] = set()
    declared = 0
    for info in infos:
        member = info.filename
        if _BAD_NAME.search(member) or member.lower() in seen:
            raise UploadRefused(f"“{name}”内部的部件名“{member[:60]}”不合规（路径穿越或重复），不像正常的 Office 文件，未上传。")
        seen.add(member.lower())
        if info.flag_bits & 0x1:
            raise UploadRefused(f"“{name}”设置了密码（已加密），无法检查其内容，未上传。请取消密码后另存再上传。")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UploadRefused(f"“{name}”使用了 Office 不用的压缩方式，未上传。请在 Word 或 Excel 中另存后再上传。")
        declared += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise UploadRefused(f"“{name}”的部件 {member[:60]} 压缩比超过 {MAX_RATIO} 倍（疑似“压缩炸弹”），未上传。")
    if declared > MAX_UNZIPPED_BYTES:
        limit = MAX_UNZIPPED_BYTES // (1024 * 1024)
        raise UploadRefused(f"“{name}”解压后有 {declared // (1024 * 1024)} MB，超过上限 {limit} MB（疑似“压缩炸弹”），未上传。")


def _check_layout(data: bytes, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], *, name: str) -> None:
    """The entries, in file order, exactly fill the file up to the central directory."""
    hidden = f"“{name}”的压缩结构中藏有额外数据或相互重叠的部件（可能是伪装的文件或“压缩炸弹”），未上传。"
    position = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != position or position + _LOCAL_HEADER.size > len(data):
            raise UploadRefused(hidden)
        fields = _LOCAL_HEADER.unpack_from(data, position)
        if fields[0] != _LOCAL_SIGNATURE:
            raise UploadRefused(hidden)
        name_length, extra_length = fields[9], fields[10]
        position += _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if info.flag_bits & 0x8:  # a data descriptor follows: optional signature, CRC, sizes (8 or 16 bytes)
            if data[position : position + 4] == _DESCRIPTOR_SIGNATURE:
                position += 4
            after = position + 12
            position = after if data[after : after + 4] in (_LOCAL_SIGNATURE, b"PK\x01\x02") else position + 20
    start_dir = getattr(archive, "start_dir", None)
    if start_dir is not None and position != start_dir:
        raise UploadRefused(hidden)
    if archive.comment:
        raise UploadRefused(hidden)


def _content_types(archive: zipfile.ZipFile, *, name: str) -> dict[str, str]:
    """Part name -> content type (overrides, and defaults by extension as "*.ext")."""
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        raise UploadRefused(f"“{name}”是压缩包，但不是 Word 或 Excel 文件（缺少 Office 文档结构），未上传。") from None
    if info.file_size > 4 * 1024 * 1024:
        raise UploadRefused(f"“{name}”的内容类型表过大，不像正常的 Office 文件，未上传。")
    raw = _read(archive, info, name=name, budget=[info.file_size])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise UploadRefused(f"“{name}”的内容类型表不是有效的 XML，文件已损坏，未上传。") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UploadRefused(f"“{name}”的内容类型表含有 DTD 声明，Office 不会这样写，未上传。")
    types: dict[str, str] = {}
    for element in root.iter(f"{{{_CONTENT_TYPES}}}Override"):
        types[element.get("PartName", "").lstrip("/")] = element.get("ContentType", "")
    for element in root.iter(f"{{{_CONTENT_TYPES}}}Default"):
        types["*." + element.get("Extension", "").lower()] = element.get("ContentType", "")
    return types


def _inflate_all(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], *, name: str) -> None:
    budget = [MAX_UNZIPPED_BYTES]
    for info in infos:
        if info.is_dir():
            continue
        head = _read(archive, info, name=name, budget=budget, keep=8)
        if head.startswith(_ARCHIVES):
            where = posixpath.basename(info.filename)[:60]
            raise UploadRefused(
                f"“{name}”内嵌了其他压缩包或 Office 文件（{where}，例如嵌入的 Excel 表或图表数据），为安全起见未上传。"
                "请把嵌入的内容另存为图片或单独作为附件上传。"
            )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, name: str, budget: list[int], keep: int | None = None) -> bytes:
    """Inflate one member in small reads, charging `budget`; keep its first `keep` bytes (all when None)."""
    kept: list[bytes] = []
    held = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise UploadRefused(f"“{name}”解压后超过 {MAX_UNZIPPED_BYTES // (1024 * 1024)} MB（疑似“压缩炸弹”），未上传。")
                if keep is None or held < keep:
                    kept.append(chunk)
                    held += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise UploadRefused(f"“{name}”已损坏（部件 {info.filename[:60]} 的压缩数据校验失败），未上传。") from exc
    data = b"".join(kept)
    return data if keep is None else data[:keep]


def _macro_message(name: str) -> str:
    return (
        f"“{name}”包含宏或 ActiveX 控件（启用宏的 .docm/.xlsm 文件），为安全起见未上传。"
        "请在 Word 或 Excel 中“另存为”普通的 .docx 或 .xlsx 后再上传。"
    )
