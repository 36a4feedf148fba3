"""A document's 附件 and pictures on the web: downloads at any revision, pictures inline, and the
forms that add, replace, rename and remove attachments (straight to the version in force, or in
a draft; from the editor they travel with the typed text, see `editor_edit`).

Downloads are always saved under their name (`lookups.download`: both header forms), the media type
of the suffix the content was checked as (never text/html), `nosniff` and a sandboxing CSP;
pictures are served inline as image/png or image/jpeg only. Rules live in
`attachments.store`, `Library` and `Workflow`; these views translate refusals into pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from zhengai_docs.attachments.pictures import picture_path
from zhengai_docs.attachments.refusal import MEDIA_TYPES, UploadRefused
from zhengai_docs.attachments.store import (
    ACTIONS,
    Attachment,
    AttachmentChange,
    AttachmentEdit,
    Attachments,
    Upload,
    attachment_note_markdown,
    changes_in,
    compare_attachments,
)
from zhengai_docs.catalogue.codes import DocumentCode
from zhengai_docs.catalogue.document import Document
from zhengai_docs.db import queries
from zhengai_docs.errors import Conflict, NotAllowed, NotFound, Refused, StorageUnavailable
from zhengai_docs.storage.files import READ_LIMIT, StoredFile, document_files, file_history, read_file
from zhengai_docs.storage.paths import attachment_number
from zhengai_docs.web import lookups
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import can_edit, current_actor, must_draft, read_required, review_required
from zhengai_docs.web.errors import storage_message
from zhengai_docs.web.lookups import document_code_or_404, requested_revision
from zhengai_docs.workflow import AlreadyHandled, DraftView

bp = Blueprint("attachments", __name__)
_SANDBOX = "sandbox; default-src 'none'"
_PICTURES = {".png": "image/png", ".jpg": "image/jpeg"}


def attachments() -> Attachments:
    return services().attachments


# -- reading ---------------------------------------------------------------------------------


@bp.route("/documents/<code>/attachments/<name>")
@read_required
def download(code: str, name: str) -> Response:
    """An attachment as it was at `rev` (a commit on the branch; default: in force)."""
    doc_code = document_code_or_404(code)
    try:
        stored, data = attachments().file(doc_code, _attachment_name(name), revision=requested_revision(status=404))
    except NotFound:
        abort(404)
    return _download(stored, data)


@bp.route("/documents/<code>/images/<name>")
@read_required
def picture(code: str, name: str) -> Response:
    doc_code = document_code_or_404(code)
    try:
        stored, data = attachments().file(doc_code, f"images/{name}", revision=requested_revision(status=404))
    except NotFound:
        abort(404)
    return _picture(stored, data)


@bp.route("/drafts/<int:draft_id>/attachments/<name>")
@login_required
def draft_download(draft_id: int, name: str) -> Response:
    """A draft's attachment: for its authors and reviewers only, like the draft's text."""
    draft = _visible_draft(draft_id)
    try:
        stored, data = attachments().draft_file(draft, _attachment_name(name), commit=requested_revision("at", status=404))
    except NotFound:
        abort(404)
    return _download(stored, data)


@bp.route("/drafts/<int:draft_id>/images/<name>")
@login_required
def draft_picture(draft_id: int, name: str) -> Response:
    draft = _visible_draft(draft_id)
    try:
        stored, data = attachments().draft_file(draft, f"images/{name}", commit=requested_revision("at", status=404))
    except NotFound:
        abort(404)
    return _picture(stored, data)


def _attachment_name(name: str) -> str:
    if attachment_number(name) is None:
        abort(404)
    return name


def _download(stored: StoredFile, data: bytes) -> Response:
    suffix = "." + stored.name.rpartition(".")[2]
    response = lookups.download(data, filename=stored.name, mimetype=MEDIA_TYPES.get(suffix, "application/octet-stream"))
    _harden(response)
    return response


def _picture(stored: StoredFile, data: bytes) -> Response:
    mimetype = _PICTURES.get("." + stored.name.rpartition(".")[2])
    if mimetype is None:
        abort(404)
    response = Response(data, mimetype=mimetype)  # shown in the page: no download header
    _harden(response)
    return response


def _harden(response: Response) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = _SANDBOX
    response.headers["Cache-Control"] = "private, max-age=300"


def _visible_draft(draft_id: int) -> DraftView:
    workflow = services().workflow
    try:
        draft = workflow.get(draft_id)
    except NotFound:
        abort(404)
    if not workflow.may_see(current_actor(), draft):
        abort(403)
    return draft


# -- what pages list -------------------------------------------------------------------------


@bp.app_template_global()
def document_attachments(code: DocumentCode | str, revision: str | None = None) -> list[Attachment]:
    """The attachments in force (or at a commit on the branch), for the document page."""
    return attachments().in_force(document_code_or_404(str(code)), revision=revision)


@bp.app_template_global()
def draft_attachments(draft: DraftView) -> list[Attachment]:
    return attachments().in_draft(draft)


@bp.app_template_global()
def draft_attachment_changes(draft: DraftView) -> list[AttachmentChange]:
    """What the draft changes about the attachments in force, for the draft and review page."""
    code = document_code_or_404(draft.code)
    return compare_attachments(attachments().in_force(code), attachments().in_draft(draft))


@bp.app_template_global()
def attachment_changes_between(code: DocumentCode | str, old: str, new: str) -> list[AttachmentChange]:
    doc_code = document_code_or_404(str(code))
    return compare_attachments(attachments().in_force(doc_code, revision=old), attachments().in_force(doc_code, revision=new))


@bp.app_template_global()
def may_change_attachments(code: DocumentCode | str, departments: tuple[str, ...]) -> bool:
    """The document page offers the attachment forms where the editor would save directly."""
    return bool(current_user.is_authenticated) and can_edit(departments) and not must_draft()


# -- writing ---------------------------------------------------------------------------------


def requested_edit(form: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> AttachmentEdit | None:
    """The change a submitted attachment form asks for (None: the form asked for none).

    `attachment_action` is `add`, or `replace:<n>`, `rename:<n>`, `remove:<n>`; an upload comes
    as `attachment_file` (add) or `attachment_file_<n>`; the browser's file name is only a claim
    (a title for the new name, cleaned), never a path."""
    raw = (form.get("attachment_action") or "").strip()
    if not raw:
        return None
    action, _, number_text = raw.partition(":")
    if action not in ACTIONS:
        abort(400)
    number = _number(number_text) if number_text else _number(form.get("attachment_number", ""))
    if action == "add":
        upload, title = _upload(files.get("attachment_file")), form.get("attachment_title") or None
        return AttachmentEdit(action="add", number=number, upload=upload, title=title)
    if number is None:
        abort(400)
    if action == "replace":
        return AttachmentEdit(action="replace", number=number, upload=_upload(files.get(f"attachment_file_{number}")))
    if action == "rename":
        title = form.get(f"attachment_title_{number}") or None
        return AttachmentEdit(action="rename", number=number, title=title, new_number=_number(form.get(f"attachment_number_{number}", "")))
    return AttachmentEdit(action="remove", number=number)


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        raise Refused("附件序号应为 1 到 999 的数字")
    return int(text)


def _upload(file: FileStorage | None) -> Upload | None:
    if file is None or not file.filename:
        return None
    return Upload(filename=file.filename, data=file.read())


@bp.route("/documents/<code>/attachments", methods=["POST"])
@login_required
def change(code: str) -> ResponseReturnValue:
    """An attachment change saved straight to the version in force (review off, or a correction)."""
    doc_code = document_code_or_404(code)
    base = requested_revision("base", source=request.form)
    if base is None:
        abort(400, description="缺少页面打开时的版本号，请刷新页面后重试。")
    try:
        edit = requested_edit(request.form, request.files)
        if edit is None:
            abort(400)
        result = attachments().change(doc_code, edit, actor=current_actor(), base=base, message=request.form.get("message", ""))
    except Conflict:
        _refused(409, "在您打开页面后，本文档或它的附件已被他人修改，您的操作未执行。请返回文档页面，查看最新内容后重试。")
    flash("附件已保存。" if result.changed else "附件没有变化。", "success")
    return redirect(url_for("documents.view", code=str(doc_code)))


@bp.route("/drafts/<int:draft_id>/attachments", methods=["POST"])
@login_required
def change_in_draft(draft_id: int) -> ResponseReturnValue:
    """An attachment change in a draft, from the draft page (the text stays as saved)."""
    draft = _visible_draft(draft_id)
    expected = requested_revision("expected", source=request.form)
    if expected is None:
        abort(400, description="缺少页面打开时的草稿版本，请刷新页面后重试。")
    try:
        edit = requested_edit(request.form, request.files)
        if edit is None:
            abort(400)
        attachments().change_in_draft(draft.id, edit, actor=current_actor(), expected=expected)
    except (Conflict, AlreadyHandled):
        _refused(409, "在您打开页面后，草稿已被修改或已提交审核，您的操作未执行。请返回草稿页面，查看最新内容后重试。")
    flash("附件已保存到草稿。发布前读者看不到它。", "success")
    return redirect(url_for("drafts.view", draft_id=draft.id))


def _refused(status: int, text: str) -> NoReturn:
    """A refused attachment form: the error page with the status and what to do (nothing was
    written; the form held no text to keep). Other refusals (`UploadRefused` naming the file,
    413 when too large; `Refused`; NotAllowed as 403; a storage fault) reach the same page
    through the app's error handlers with their own status and message."""
    abort(status, description=text)


# -- from the editor -------------------------------------------------------------------------


def editor_message(form: FlaskForm) -> str:
    """The 修订说明 as typed. An editor form sent by an 附件 button may leave it empty (the change
    names itself), so the required field is filled for validation and "" is returned."""
    typed = (form.message.data or "").strip()
    if request.method == "POST" and request.form.get("attachment_action") and not typed:
        form.message.data = "附件"
    return typed


def save_from_editor(form: FlaskForm, code: DocumentCode, *, previous: Document, message: str) -> WerkzeugResponse | tuple[str, int] | None:
    """The direct editor's 附件 buttons: the change and the typed text in one commit, then back to
    the editor; a refusal shows the editor again with everything typed. None: no 附件 button."""
    from zhengai_docs.web import editing  # the editor's form and page (it imports this module)

    base = form.base.data or None
    try:
        edit = requested_edit(request.form, request.files)
        if edit is None:
            return None
        if base is None:
            raise Refused("缺少编辑器打开时的版本号，请刷新页面后重试。")
        document = editing.document_from(form, code, previous)
        attachments().change(code, edit, actor=current_actor(), base=base, document=document, message=message)
    except NotAllowed:
        abort(403)
    except (UploadRefused, Refused, Conflict, StorageUnavailable) as exc:
        status = getattr(exc, "status", 400)
        if isinstance(exc, Conflict):
            text = "在您打开编辑器后，本文档或它的附件已被他人修改，附件操作未执行；您输入的正文仍在下方。"
        elif isinstance(exc, StorageUnavailable):
            text = storage_message(exc, kept=True)
        else:
            text = str(exc)
        flash(text, "error")
        found = queries.item_view(services().db, code.item)
        item = found[0] if found else None
        page = editing.render_editor(form=form, code=code, item=item, creating=False, direct_correction=review_required())
        return page, status
    flash("附件已保存，正文也已一并保存。", "success")
    return redirect(url_for("editing.edit", code=str(code)))


@dataclass(frozen=True)
class FileRevision:
    """A commit that changed a document's 附件, as the history page lists it."""

    commit: str
    date: dt.datetime
    author_name: str
    message: str
    changes: list[AttachmentChange]


@bp.app_template_global()
def attachment_history(code: DocumentCode | str) -> dict[str, FileRevision]:
    """Every commit on the branch that changed the document's 附件, by commit id (one git log)."""
    doc_code = document_code_or_404(str(code))
    repo = services().library.repo
    head = repo.head()
    if head is None:
        return {}
    found = {}
    for entry in file_history(repo, doc_code.path, until=head):
        changes = changes_in(entry.changes)
        if changes:
            rev = entry.revision
            found[rev.commit] = FileRevision(rev.commit, rev.date, rev.author_name, rev.message, changes)
    return found


# -- pictures in a body ----------------------------------------------------------------------


def image_url(code: DocumentCode, *, revision: str | None = None, draft: DraftView | None = None) -> Callable[[str], str | None]:
    """Where the page shows each picture the body refers to: the picture route at the page's
    revision (or the draft's tip); None for a reference that is not one of the document's own
    pictures at that revision (the renderer then keeps only its alt text)."""
    names: set[str] | None = None

    def url(reference: str) -> str | None:
        nonlocal names
        path = picture_path(code.path, reference)
        if path is None:
            return None
        if names is None:  # listed once per page, and only for a body that has pictures
            at = draft.tip if draft is not None else (revision or services().library.repo.require_head())
            names = {f.path for f in document_files(services().library.repo, code.path, at)}
        if path not in names:
            return None
        name = path.rsplit("/", 1)[1]
        if draft is not None:
            return url_for("attachments.draft_picture", draft_id=draft.id, name=name, at=draft.tip)
        if revision is not None:
            return url_for("attachments.picture", code=str(code), name=name, rev=revision)
        return url_for("attachments.picture", code=str(code), name=name)

    return url


def read_image(code: DocumentCode, *, revision: str) -> Callable[[str], bytes | None]:
    """The bytes of each picture the body refers to, at a commit, for Word exports."""

    def read(reference: str) -> bytes | None:
        path = picture_path(code.path, reference)
        if path is None:
            return None
        try:
            return read_file(services().library.repo, path, revision, max_bytes=READ_LIMIT)
        except NotFound:
            return None

    return read


def export_body(code: DocumentCode, body: str, *, revision: str) -> str:
    """A body as Word exports it: the 附件 note appended ("附件：1．专业设置申报表")."""
    return body + attachment_note_markdown(attachments().in_force(code, revision=revision))
