"""插入图片 in the editors: a picture uploaded (button, paste or drop) becomes one of the document's
files at once, in a commit of its own, and the editor inserts its Markdown reference.

Why a commit at once rather than a pending upload kept until the save: nodes share nothing on
disk (README, 多台服务器), so a picture parked on one node could be missing on the node that takes
the save; a commit is where every node finds it, and nothing new needs storing, expiring or
cleaning. The commit changes only the picture, and is a compare-and-swap like any save: it names
the commit the editor was opened at (the form's `base`; for a draft, the draft's tip), is
refused when the document (or draft) moved since, and answers the new commit, which the editor
puts in its form, so the later save of the typed text still detects anyone else's change. The
typed text never leaves the browser before the user saves it. Readers never see a picture
before the text that shows it: in a draft it waits for publication; on the version in force a
file in `images/` is shown only where a body refers to it. A save removes the pictures its text
no longer shows (`body_pictures.unreferenced`), so deleting a picture from the text deletes it.

Who may: who may save the text (`Library.save`, `Workflow.save` decide); CSRF as for every
POST. Every picture passes `inspect_image` (PNG or JPEG by content, re-encoded) first; a refusal
is a JSON `error` in Chinese the editor shows, and nothing is written.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from zhengai_docs.attachments.body_pictures import picture_name, picture_reference, picture_repository_path, unreferenced
from zhengai_docs.attachments.inspect import Inspected, UploadRefused, inspect_image
from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.errors import Conflict, InvalidCode, NotAllowed, NotFound, Refused, StorageError, StorageUnavailable
from zhengai_docs.storage.files import document_files
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import can_edit, current_actor
from zhengai_docs.web.errors import storage_message
from zhengai_docs.web.lookups import document_code_or_404, requested_revision
from zhengai_docs.workflow import AlreadyHandled

bp = Blueprint("editor_pictures", __name__)
_STALE = "在您打开编辑器后，{what}已被他人修改，图片未插入。请先保存您输入的正文（会显示合并页面），再插入图片。"


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=message), status


def _inspected() -> Inspected:
    upload = request.files.get("picture")
    if upload is None:
        raise UploadRefused("请选择要插入的图片（PNG 或 JPG）")
    data = upload.read()
    return inspect_image(data, max_bytes=int(services().settings["ATTACHMENT_MAX_BYTES"]), filename=upload.filename or "粘贴的图片")


def _answer(code: DocumentCode, name: str, *, base: str, url: str) -> Response:
    return jsonify(reference=picture_reference(code.path, name), name=name, base=base, url=url)


@bp.route("/documents/<code>/pictures", methods=["POST"])
@login_required
def insert_in_document(code: str) -> Response | tuple[Response, int]:
    """A picture for the direct editor, committed to the version in force (review off, or an
    administrator's correction: `Library.save` refuses everyone else)."""
    doc_code = document_code_or_404(code)
    base = requested_revision("base", source=request.form)
    if base is None:
        return _error("缺少编辑器打开时的版本号，请刷新页面后重试。", 400)
    library = services().library
    try:
        loaded = library.load(doc_code, revision=base)
    except NotFound:
        return _error("请先保存文档，再插入图片。", 409)
    if not can_edit(loaded.document.meta.departments):
        abort(403)
    try:
        inspected = _inspected()
        name = picture_name(inspected.data, suffix=inspected.suffix)
        path = picture_repository_path(doc_code.path, name)
        url = url_for("attachments.picture", code=str(doc_code), name=name)
        if any(f.path == path for f in document_files(library.repo, doc_code.path, base)):
            return _answer(doc_code, name, base=base, url=url)  # the same picture again: nothing to write
        result = library.save(loaded.document, actor=current_actor(), message=f"插入图片 {name}", base=base, files={path: inspected.data})
    except UploadRefused as exc:
        return _error(exc.message, exc.status)
    except NotAllowed:
        abort(403)
    except Conflict:
        return _error(_STALE.format(what="本文档"), 409)
    except StorageUnavailable as exc:
        return _error(storage_message(exc, kept=True), 503)
    except Refused as exc:
        return _error(str(exc), 400)
    return _answer(doc_code, name, base=result.commit, url=url)


@bp.route("/drafts/<int:draft_id>/pictures", methods=["POST"])
@login_required
def insert_in_draft(draft_id: int) -> Response | tuple[Response, int]:
    """A picture for the draft editor, committed to the draft (its authors only)."""
    workflow = services().workflow
    try:
        draft = workflow.get(draft_id)
    except NotFound:
        abort(404)
    if not workflow.may_author(current_actor(), draft):
        abort(403)
    expected = requested_revision("base", source=request.form) or draft.tip
    code = document_code(draft.code)
    try:
        inspected = _inspected()
        name = picture_name(inspected.data, suffix=inspected.suffix)
        path = picture_repository_path(code.path, name)
        url = url_for("attachments.draft_picture", draft_id=draft.id, name=name)
        text = workflow.document_at(draft, expected)
        if text is None or expected != draft.tip:  # the draft was saved since the editor opened
            return _error(_STALE.format(what="草稿"), 409)
        if any(f.path == path for f in document_files(services().library.repo, code.path, expected)):
            return _answer(code, name, base=expected, url=url)
        note = f"插入图片 {name}"
        saved = workflow.save(draft.id, text, actor=current_actor(), message=note, expected=expected, files={path: inspected.data})
    except UploadRefused as exc:
        return _error(exc.message, exc.status)
    except NotAllowed:
        abort(403)
    except Conflict:
        return _error(_STALE.format(what="草稿"), 409)
    except AlreadyHandled as exc:  # submitted for review meanwhile
        return _error(f"{exc} 图片未插入。", 409)
    except StorageUnavailable as exc:
        return _error(storage_message(exc, kept=True), 503)
    except Refused as exc:
        return _error(str(exc), 400)
    return _answer(code, name, base=saved.tip, url=url)


@bp.route("/drafts/<int:draft_id>/files/<code>/images/<name>")
@login_required
def draft_picture_by_reference(draft_id: int, code: str, name: str) -> WerkzeugResponse:
    """The draft editor shows a body's pictures at `<linkBase><reference>` (`A101Z/images/…`):
    the draft's picture route, for the draft's own document only."""
    workflow = services().workflow
    try:
        draft = workflow.get(draft_id)
    except NotFound:
        abort(404)
    if not workflow.may_see(current_actor(), draft):
        abort(403)
    if draft.code != code:
        abort(404)
    return redirect(url_for("attachments.draft_picture", draft_id=draft.id, name=name))


def removed_pictures(code: DocumentCode, body: str, *, base: str | None) -> dict[str, bytes | None]:
    """The removals a save of `body` carries: the document's pictures at `base` (the commit the
    editor was opened at) that the text no longer shows. {} when there are none, or when `base`
    cannot be read (the save itself then says why)."""
    if not base:
        return {}
    try:
        return unreferenced(code.path, body, document_files(services().library.repo, code.path, base))
    except (InvalidCode, NotFound, StorageError):
        return {}
