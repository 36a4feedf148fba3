"""What many views look up the same way, written once: a code from the URL or a 404, a document
or a 404, the active diagnostic framework, and a file download with one `Content-Disposition`
rule.

Each view used to repeat these (downloads with four different headers: some without an ASCII
fallback, some without the UTF-8 name, fallbacks unquoted); a new view calls them instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from flask import Response, abort, request

from zhengai_docs.catalogue.codes import DocumentCode, document_code, item_code
from zhengai_docs.catalogue.framework import Framework, InvalidFramework
from zhengai_docs.errors import InvalidCode, NotFound
from zhengai_docs.frameworks import FrameworkVersion
from zhengai_docs.library import LoadedDocument
from zhengai_docs.storage.paths import revision_id
from zhengai_docs.web.app import services

DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FALLBACK_STEM = "download"


def document_code_or_404(code: str) -> DocumentCode:
    """A document code from the URL; anything else is a page that does not exist."""
    try:
        return document_code(code)
    except InvalidCode:
        abort(404)


def item_code_or_404(code: str) -> str:
    try:
        return item_code(code)
    except InvalidCode:
        abort(404)


def requested_revision(
    name: str = "rev", *, source: Mapping[str, str] | None = None, status: int = 400, description: str | None = None
) -> str | None:
    """A commit id from the query string (or `source`, e.g. a form); None when absent, `status`
    when it is not a commit id (it never reaches git)."""
    raw = (request.args if source is None else source).get(name)
    if not raw:
        return None
    try:
        return revision_id(raw)
    except InvalidCode:
        abort(status, description=description)


def load_or_404(code: DocumentCode, *, revision: str | None = None) -> LoadedDocument:
    """The document at the head or at a commit on the branch; 404 when it is not there."""
    try:
        return services().library.load(code, revision=revision)
    except NotFound:
        abort(404)


def active_framework() -> FrameworkVersion:
    """The framework `ACTIVE_FRAMEWORK` names; a 404 saying what to do when it is missing."""
    fid = services().settings["ACTIVE_FRAMEWORK"]
    try:
        return services().library.frameworks.get(fid)
    except NotFound:
        abort(404, description=f"未找到当前启用的诊断框架 {fid}，请导入该框架或修改 ACTIVE_FRAMEWORK 设置。")


def active_framework_or_none() -> Framework | None:
    """None when there is no usable active framework (missing, or a broken file that `doctor` reports)."""
    try:
        return services().library.frameworks.get(services().settings["ACTIVE_FRAMEWORK"]).framework
    except (NotFound, InvalidFramework):
        return None


def content_disposition(filename: str) -> str:
    """`attachment` with the name twice (RFC 6266): an ASCII fallback for old clients, and the
    real name, Chinese included, percent-encoded as UTF-8 (RFC 5987) for every current browser.

    The fallback keeps letters, digits, `.`, `_` and `-` (quotes, semicolons, slashes and
    control characters cannot break out of it); the encoded name escapes every other byte."""
    return f"attachment; filename=\"{ascii_fallback(filename)}\"; filename*=UTF-8''{quote(filename, safe='')}"


def ascii_fallback(filename: str) -> str:
    """`A101Z 专业设置管理办法.docx` → `A101Z.docx`; a name with no ASCII left → `download.docx`."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    stem = _NOT_ASCII_SAFE.sub("_", stem).strip("._-") or _FALLBACK_STEM
    extension = _NOT_ASCII_SAFE.sub("", extension)
    return f"{stem}.{extension}" if extension else stem


def download(data: bytes | str, *, filename: str, mimetype: str) -> Response:
    """A file the browser saves under `filename` rather than shows."""
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": content_disposition(filename)})
