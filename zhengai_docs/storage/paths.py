"""The allow-list of what may reach git: repository paths and revision ids.

Nothing built from user input is passed to a git command until it has matched one of these
patterns in full, so a leading '-' (argument injection), '..', absolute paths, full-width
letters and trailing newlines never get through.
"""

from __future__ import annotations

import re
import unicodedata

from zhengai_docs.errors import InvalidCode

CATALOGUE_PATH = "catalogue.yaml"
FRAMEWORKS_DIR = "frameworks"

_DOCUMENT_PATH = re.compile(r"(regulations/[A-Z]/[A-Z][0-9]/[A-Z][0-9]{3}[ZL]|standards/[A-Z]/[A-Z][0-9]/[A-Z][0-9]{3}B)\.md")
_FRAMEWORK_PATH = re.compile(FRAMEWORKS_DIR + r"/[a-z0-9][a-z0-9-]{0,62}\.yaml")
_REVISION = re.compile(r"[0-9a-f]{4,64}")


def is_document_path(path: str) -> bool:
    return _DOCUMENT_PATH.fullmatch(path) is not None and _in_place(path)


def _in_place(path: str) -> bool:
    _, level1, level2, name = path.split("/")
    return name.startswith(level2) and level2.startswith(level1)


def is_content_path(path: str) -> bool:
    """Documents, the catalogue file and framework files: everything the product manages."""
    return path == CATALOGUE_PATH or _FRAMEWORK_PATH.fullmatch(path) is not None or is_document_path(path)


_DOCUMENT_NAME = re.compile(r"([A-Z])([0-9])[0-9]{2}([ZLB])\.md")
_LAYOUT = "程序只管理 catalogue.yaml、frameworks/<标识>.yaml，以及 regulations/ 和 standards/ 下按代码存放的文档"


def path_problem(path: str) -> str | None:
    """Why a file in the repository is not one the product manages (None: it is), in Chinese,
    for `doctor`: a clerk who put A101Z.md in the wrong folder learns where it belongs."""
    if is_content_path(path) or is_document_file_path(path):
        return None
    folder, _, rest = path.partition("/")
    parts = path.split("/")
    if len(parts) >= 5 and is_document_path("/".join(parts[:4]) + ".md"):
        return _file_problem(parts)
    name = path.rpartition("/")[2]
    document = _DOCUMENT_NAME.fullmatch(name)
    if document is not None:
        level1, level2, kind = document.group(1), document.group(1) + document.group(2), document.group(3)
        expected = f"{'standards' if kind == 'B' else 'regulations'}/{level1}/{level2}/{name}"
        return f"位置不对，程序不会读取：{name[:-3]} 应放在 {expected}"
    if folder == FRAMEWORKS_DIR and rest:
        return "诊断框架文件名不合规定，程序不会读取：应为 frameworks/<标识>.yaml，标识只用小写字母、数字和连字符（如 moe-2015）"
    if folder in ("regulations", "standards") and rest:
        if name.lower().endswith(".md") and _DOCUMENT_NAME.fullmatch(name[:-3].upper() + ".md") is not None:
            return f"文件名应为 {name[:-3].upper()}.md（代码大写、扩展名小写），程序不会读取"
        if name.lower().endswith(".md"):
            return "文件名不是文档代码，程序不会读取：应为条目代码加 Z（制度）、L（流程）或 B（标准），如 A101Z.md"
        return "不是文档文件，程序不会读取：此处只放以代码命名的 Markdown 文件（如 A101Z.md）"
    return f"不在程序管理的位置，不会被读取（{_LAYOUT}）"


# A document's own files live in a folder named by its code beside it (regulations/A/A1/A101Z.md ->
# regulations/A/A1/A101Z/): 附件 as `附件<n>-<title><suffix>` (the title is the user's, Chinese
# kept, checked below), pictures as `images/image-<12 hex>.png|.jpg` (a generated name, never the
# user's). These suffixes are all storage accepts; ATTACHMENT_SUFFIXES narrows what uploads may be.
FILE_SUFFIXES = frozenset({".docx", ".xlsx", ".pdf", ".png", ".jpg"})
IMAGES_DIR = "images"
MAX_FILE_NAME = 120
_ATTACHMENT_NAME = re.compile(r"附件([1-9][0-9]{0,2})-(.+)(\.[a-z]{3,4})", re.DOTALL)
_IMAGE_NAME = re.compile(r"image-[0-9a-f]{12}\.(?:png|jpg)")
_FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # controls, bidi overrides, unassigned


def attachment_name_problem(name: str) -> str | None:
    """Why `name` is not an allowed attachment file name (None: it is), in Chinese; checked
    segment by segment before any path reaches git."""
    if not isinstance(name, str) or not name:
        return "附件文件名为空"
    if len(name) > MAX_FILE_NAME:
        return f"附件文件名过长（最多 {MAX_FILE_NAME} 个字符）"
    if unicodedata.normalize("NFC", name) != name:
        return "附件文件名的字符编码不规范（应为 NFC）"
    if "/" in name or "\\" in name or ".." in name or name[0] in "-.":
        return "附件文件名不能含有 /、\\、..，也不能以 - 或 . 开头"
    if any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in name) or name != name.strip():
        return "附件文件名含有控制字符、不可见字符或首尾空白"
    match = _ATTACHMENT_NAME.fullmatch(name)
    if match is None:
        return "附件文件名应为“附件<序号>-<名称><扩展名>”，如：附件1-专业设置申报表.docx"
    if match.group(3) not in FILE_SUFFIXES:
        return f"附件类型不受支持：{match.group(3)}（程序只保存 {'、'.join(sorted(FILE_SUFFIXES))}）"
    return None


def attachment_number(name: str) -> int | None:
    """The 附件 number of an allowed attachment name (None for anything else)."""
    match = _ATTACHMENT_NAME.fullmatch(name)
    return int(match.group(1)) if match is not None and attachment_name_problem(name) is None else None


def files_folder(document_path: str) -> str:
    """The folder of a document's own files: its path without `.md`."""
    if not is_document_path(document_path):
        raise InvalidCode(f"不是文档路径：{document_path!r}")
    return document_path[: -len(".md")]


def owning_document(path: str) -> str | None:
    """The document a file of its own folder belongs to (None: `path` is no such file)."""
    parts = path.split("/")
    if len(parts) not in (5, 6) or not is_document_path("/".join(parts[:4]) + ".md"):
        return None
    if len(parts) == 6:
        ok = parts[4] == IMAGES_DIR and _IMAGE_NAME.fullmatch(parts[5]) is not None
    else:
        ok = attachment_name_problem(parts[4]) is None
    return "/".join(parts[:4]) + ".md" if ok else None


def is_document_file_path(path: str) -> bool:
    """A document's attachment or picture (not a content path: the caches never read these)."""
    return owning_document(path) is not None


def managed_path(path: object) -> str:
    """A content path or a document's own file, for writes and blob lookups; InvalidCode otherwise."""
    if isinstance(path, str) and is_document_file_path(path):
        return path
    return content_path(path)


def _file_problem(parts: list[str]) -> str:
    """Why a file in a document's own folder is not read (the folder is `parts[:4]`)."""
    if len(parts) == 6 and parts[4] == IMAGES_DIR:
        return "图片文件名不合规定，程序不会读取：应为 images/image-<12位十六进制>.png 或 .jpg（由程序生成）"
    if len(parts) == 5:
        return f"附件不会被读取：{attachment_name_problem(parts[4])}"
    return f"{parts[3]}/ 下只放附件（附件<序号>-<名称>.docx 等）和 images/ 中的图片，程序不会读取此文件"


def content_path(path: object) -> str:
    if not isinstance(path, str) or not is_content_path(path):
        raise InvalidCode(f"不允许的仓库路径：{path!r}")
    return path


def revision_id(revision: object) -> str:
    if not isinstance(revision, str) or _REVISION.fullmatch(revision) is None:
        raise InvalidCode(f"无效的版本号：{revision!r}")
    return revision
