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


def content_path(path: object) -> str:
    if not isinstance(path, str) or not is_content_path(path):
        raise InvalidCode(f"不允许的仓库路径：{path!r}")
    return path


def revision_id(revision: object) -> str:
    if not isinstance(revision, str) or _REVISION.fullmatch(revision) is None:
        raise InvalidCode(f"无效的版本号：{revision!r}")
    return revision
