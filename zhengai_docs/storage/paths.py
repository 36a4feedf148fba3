"""The allow-list of what may reach git: repository paths and revision ids.

Nothing built from user input is passed to a git command until it has matched one of these
patterns in full, so a leading '-' (argument injection), '..', absolute paths, full-width
letters and trailing newlines never get through.
"""

from __future__ import annotations

import re

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
    if is_content_path(path):
        return None
    folder, _, rest = path.partition("/")
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


def content_path(path: object) -> str:
    if not isinstance(path, str) or not is_content_path(path):
        raise InvalidCode(f"不允许的仓库路径：{path!r}")
    return path


def revision_id(revision: object) -> str:
    if not isinstance(revision, str) or _REVISION.fullmatch(revision) is None:
        raise InvalidCode(f"无效的版本号：{revision!r}")
    return revision
