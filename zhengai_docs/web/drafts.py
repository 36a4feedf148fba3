"""Drafts, review and publication pages; the inbox; read confirmations.

The rules live in `zhengai_docs.workflow`; these views translate its refusals into HTTP:
NotAllowed → 403, Refused → a message on the draft page, Conflict → the conflict page
(saving a stale draft) or an offer to bring the draft up to date (publishing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, DateField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from zhengai_docs import acknowledgements, inbox
from zhengai_docs.attachments.refusal import UploadRefused
from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.catalogue.comparison import compare_documents
from zhengai_docs.catalogue.document import Document
from zhengai_docs.catalogue.merge import FIELD_LABELS, merge_documents
from zhengai_docs.db import queries
from zhengai_docs.errors import Conflict, NotAllowed, NotFound, Refused, StorageUnavailable
from zhengai_docs.indicators.declaration import changes_between
from zhengai_docs.permissions import may_audit
from zhengai_docs.render.html import render_markdown
from zhengai_docs.storage.repository import WriteResult
from zhengai_docs.textdiff import diff_texts
from zhengai_docs.web import attachments as attachment_views
from zhengai_docs.web import editing, editor_pictures
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import can_edit, current_actor
from zhengai_docs.web.errors import storage_message
from zhengai_docs.web.lookups import document_code_or_404, load_or_404
from zhengai_docs.web.review_changes import last_request, since_last_review
from zhengai_docs.web.security import allow_mermaid_styles
from zhengai_docs.workflow import OPEN, AlreadyHandled, Approval, DraftStatus, DraftView, Workflow

bp = Blueprint("drafts", __name__)
T = TypeVar("T")


class OpenForm(FlaskForm):
    kind = RadioField("类型", choices=[SelectChoice("revise", "修订（修改正文或信息）"), SelectChoice("repeal", "废止")], default="revise")
    reason = TextAreaField("原因", validators=[DataRequired(message="请填写原因"), Length(max=1000)])


class NoteForm(FlaskForm):
    text = TextAreaField("意见", validators=[Length(max=2000)])


class ApprovalForm(FlaskForm):
    approving_body = StringField(
        "审批机构",
        validators=[DataRequired(message="请填写审批机构"), Length(max=100), editing.single_line],
        description="如：院长办公会、党委会",
    )
    meeting_date = DateField("会议日期", validators=[DataRequired(message="请填写会议日期")])
    doc_number = StringField(
        "文号",
        validators=[DataRequired(message="请填写文号"), Length(max=100), editing.single_line],
        description="如：包职院发〔2026〕12号",
    )
    issue_date = DateField("发布日期", validators=[DataRequired(message="请填写发布日期")])
    require_ack = BooleanField("发布后请牵头部门人员确认已阅")
    note = TextAreaField("审核意见（可选）", validators=[Length(max=2000)])


def workflow() -> Workflow:
    return services().workflow


def _draft(draft_id: int) -> DraftView:
    try:
        draft = workflow().get(draft_id)
    except NotFound:
        abort(404)
    if not workflow().may_see(current_actor(), draft):
        abort(403)
    return draft


@bp.route("/documents/<code>/revise", methods=["GET", "POST"])
@login_required
def open_revision(code: str) -> str | Response | tuple[str, int]:
    doc_code = document_code_or_404(code)
    loaded = load_or_404(doc_code)
    if not can_edit(loaded.document.meta.departments):
        abort(403)
    existing = workflow().open_visible_to(current_actor(), doc_code)
    if existing and workflow().one_open:
        flash(f"{doc_code} 已有进行中的{existing[0].kind_label}草稿，已为您打开。", "info")
        return redirect(url_for("drafts.view", draft_id=existing[0].id))
    form = OpenForm()
    if request.method == "GET" and request.args.get("kind") == "repeal":
        form.kind.data = "repeal"
    if form.validate_on_submit():
        try:
            draft = workflow().open(code=doc_code, kind=form.kind.data, reason=form.reason.data, actor=current_actor())
        except NotAllowed:
            abort(403)
        except AlreadyHandled as exc:  # a colleague's 发起修订 came first
            opened = workflow().open_visible_to(current_actor(), doc_code)
            return _handled_page(exc, draft=opened[0] if opened else None, code=doc_code)
        except Refused as exc:
            flash(str(exc), "error")
        except StorageUnavailable as exc:  # the reason typed stays in the form
            flash(storage_message(exc, kept=True), "error")
        else:
            flash(f"已创建{draft.kind_label}草稿。现行版本保持有效，直到草稿审核通过并发布。", "success")
            target = "drafts.edit" if draft.kind == "revise" else "drafts.view"
            return redirect(url_for(target, draft_id=draft.id))
    return render_template("drafts/open.html", code=doc_code, document=loaded.document, form=form)


@bp.route("/drafts")
@login_required
def index() -> str:
    me = current_actor()
    show_closed = request.args.get("all") == "1"
    statuses = tuple(DraftStatus) if show_closed else OPEN
    mine = workflow().listing(author_id=me.user_id, statuses=statuses)
    department = workflow().listing(departments=me.departments, statuses=statuses) if me.departments else []
    review = [d for d in workflow().listing(statuses=(DraftStatus.SUBMITTED, DraftStatus.APPROVED)) if workflow().may_review_draft(me, d)]
    everything = workflow().listing(statuses=statuses) if may_audit(me.role) else []
    return render_template(
        "drafts/index.html", mine=mine, department=department, review=review, everything=everything, show_closed=show_closed
    )


@bp.route("/drafts/<int:draft_id>")
@login_required
def view(draft_id: int) -> str:
    return _render_view(_draft(draft_id))


def _render_view(draft: DraftView, *, approval_form: ApprovalForm | None = None) -> str:
    """The draft page; `approval_form` is a refused approval, shown again as typed with its errors."""
    me = current_actor()
    try:
        text = workflow().document(draft)
    except NotFound:
        if draft.attention is None:
            abort(404)
        # git has lost this draft's text (a restore from an older backup): say so, offer discarding
        may_discard = draft.is_open and (workflow().may_author(me, draft) or workflow().may_review_draft(me, draft))
        context = {"message": draft.attention, "draft": draft, "code": draft.code, "may_discard": may_discard}
        return render_template("drafts/handled.html", note_form=NoteForm(formdata=None), **context)
    in_force = workflow().in_force(draft)
    rendered = render_markdown(text.body, image_url=attachment_views.image_url(document_code(draft.code), draft=draft))
    if rendered.has_mermaid:
        allow_mermaid_styles()
    may_author, may_review = workflow().may_author(me, draft), workflow().may_review_draft(me, draft)
    approval = approval_form or ApprovalForm(formdata=None)
    if approval_form is None and draft.approval is None:  # the body usually stays; a revision normally gets a new number
        approval.approving_body.data = text.meta.approved_by or ""
        # a document whose staff confirmed reading its last version asks again by default
        approval.require_ack.data = acknowledgements.status(services().db, draft.code) is not None
    events = workflow().events(draft.id)
    return render_template(
        "drafts/view.html",
        draft=draft,
        text=text,
        in_force=in_force,
        rendered=rendered,
        comparison=compare_documents(in_force, text),
        last_request=last_request(events),
        since_review=since_last_review(workflow=workflow(), draft=draft, events=events, current=text),
        indicator_changes=changes_between(
            path=text.meta.code.path, code=str(text.meta.code), old=in_force.dump() if in_force else None, new=text.dump()
        ),
        events=events,
        stale=draft.is_open and workflow().changed_on_branch(draft),
        may_author=may_author,
        may_review=may_review,
        note_form=NoteForm(formdata=None),
        approval_form=approval,
    )


@bp.route("/drafts/<int:draft_id>/edit", methods=["GET", "POST"])
@login_required
def edit(draft_id: int) -> str | Response | tuple[str, int]:
    draft = _draft(draft_id)
    if not workflow().may_author(current_actor(), draft):
        abort(403)
    editable = draft.status in (DraftStatus.EDITING, DraftStatus.CHANGES_REQUESTED)
    if draft.kind == "repeal" or (request.method == "GET" and not editable):  # a POST keeps its text: the workflow decides
        flash("此草稿当前不能编辑。" if draft.kind != "repeal" else "废止草稿没有可编辑的正文。", "info")
        return redirect(url_for("drafts.view", draft_id=draft.id))
    code = document_code(draft.code)
    current = workflow().document(draft)
    form = editing.DocumentForm()
    if request.method == "GET":
        form = editing.filled_form(current, base=draft.tip, message="")
    else:
        editing.keep_publication_fields(form, current)  # set at publication from the approval, not here
    editing.department_choices(form, current.meta.departments)
    typed = attachment_views.editor_message(form)  # an 附件 button needs no 修订说明: the change names itself
    if request.method == "POST" and form.validate() and editing.check_departments(form):
        document = editing.document_from(form, code, current)
        try:
            edit = attachment_views.requested_edit(request.form, request.files)
            if edit is not None:  # an 附件 button of the editor: the typed text is saved with the change
                saved = services().attachments.change_in_draft(
                    draft.id, edit, actor=current_actor(), expected=form.base.data or draft.tip, document=document, message=typed
                )
                flash("附件已保存，正文也已一并保存到草稿。", "success")
                return redirect(url_for("drafts.edit", draft_id=draft.id))
            expected = form.base.data or draft.tip
            removed = editor_pictures.removed_pictures(code, document.body, base=expected)  # pictures the text no longer shows
            saved = workflow().save(
                draft.id, document, actor=current_actor(), message=form.message.data.strip(), expected=expected, files=removed or None
            )
        except UploadRefused as exc:  # nothing was written: the editor comes back with the text
            flash(exc.message, "error")
            return _render_draft_editor(form, draft, code), exc.status
        except Conflict:
            return _draft_conflict(form, draft, mine=document)
        except NotAllowed:
            abort(403)
        except AlreadyHandled as exc:  # e.g. submitted for review meanwhile: the text stays in the editor
            flash(str(exc), "error")
            return _render_draft_editor(form, draft, code), 409
        except Refused as exc:
            flash(str(exc), "error")
        except StorageUnavailable as exc:  # nothing was written: the editor comes back with the text
            flash(storage_message(exc, kept=True), "error")
        else:
            unchanged = saved.tip == draft.tip
            flash("内容没有变化，草稿未产生新版本。" if unchanged else "草稿已保存。现行版本不受影响；完成后请提交审核。", "success")
            return redirect(url_for("drafts.view", draft_id=draft.id))
    return _render_draft_editor(form, draft, code)


def _render_draft_editor(form: editing.DocumentForm, draft: DraftView, code: DocumentCode, **context: Any) -> str:
    found = queries.item_view(services().db, code.item)
    return editing.render_editor(
        form=form,
        code=code,
        item=found[0] if found else None,
        creating=False,
        draft=draft,
        form_action=url_for("drafts.edit", draft_id=draft.id),
        cancel_url=url_for("drafts.view", draft_id=draft.id),
        heading=f"{draft.kind_label}草稿 {code}（#{draft.id}）",
        **context,
    )


def _draft_conflict(form: editing.DocumentForm, draft: DraftView, *, mine: Document) -> tuple[str, int]:
    """The draft was saved in another tab or by a colleague: merge, show, save again."""
    code = document_code(draft.code)
    latest = workflow().get(draft.id)
    theirs = workflow().document(latest)
    base = editing.base_document_at(code, form.base.data, draft_ref_reader=lambda commit: workflow().document_at(latest, commit))
    merged = merge_documents(base, mine, theirs)
    proposal = editing.filled_form(merged.document, base=latest.tip, message=form.message.data)
    editing.department_choices(proposal, merged.document.meta.departments)
    events = workflow().events(draft.id)
    saves = [e for e in events if e.action == "save"]
    return _render_draft_editor(
        proposal,
        draft,
        code,
        conflict=True,
        merged=merged,
        field_conflicts=[(FIELD_LABELS[name], editing.display(getattr(theirs.meta, name))) for name in merged.field_conflicts],
        mine_text=mine.body,
        theirs=theirs,
        latest_event=saves[-1] if saves else None,
        diff=diff_texts(theirs.dump(), mine.dump()),
    ), 409


def _step(
    draft: DraftView,
    do: Callable[[], T],
    success: str | Callable[[T], tuple[str, str]],
    *,
    conflict: str = "草稿刚被他人保存，请刷新后重试。",
    done: str | None = None,
) -> Response | tuple[str, int]:
    """Run one workflow step from a POST: refusals become messages on the draft page (403 for
    a role that may not; 409 and a page saying who came first when someone else's step won),
    success goes to `done` or back to the draft page."""
    try:
        result = do()
    except NotAllowed:
        abort(403)
    except AlreadyHandled as exc:
        return _handled_page(exc, draft=workflow().get(draft.id), code=document_code(draft.code))
    except Refused as exc:
        flash(str(exc), "error")
    except Conflict:
        flash(conflict, "error")
    else:
        message, category = success(result) if callable(success) else (success, "success")
        flash(message, category)
        if done is not None:
            return redirect(done)
    return redirect(url_for("drafts.view", draft_id=draft.id))


def _handled_page(exc: AlreadyHandled, *, draft: DraftView | None, code: DocumentCode) -> tuple[str, int]:
    """409: someone else's step came first (已由他人发布/已处理); nothing was done, and the page
    says so and links to the draft as it is now."""
    return render_template("drafts/handled.html", message=str(exc), draft=draft, code=code), 409


def _note() -> str:
    """The optional note of a step's form (which also carries its CSRF token: 400 without it)."""
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    return form.text.data or ""


def _seen() -> DraftStatus | None:
    """The draft's state as the page the user acted on showed it (hidden field `seen`): a step
    taken on a page that is out of date is answered 409, not repeated."""
    return DraftStatus.__members__.get(request.form.get("seen", ""))


@bp.route("/drafts/<int:draft_id>/submit", methods=["POST"])
@login_required
def submit(draft_id: int) -> Response | tuple[str, int]:
    draft, note, seen = _draft(draft_id), _note(), _seen()
    return _step(draft, lambda: workflow().submit(draft_id, actor=current_actor(), note=note, seen=seen), "已提交审核，审核人会收到通知。")


@bp.route("/drafts/<int:draft_id>/comment", methods=["POST"])
@login_required
def comment(draft_id: int) -> Response | tuple[str, int]:
    draft, note = _draft(draft_id), _note()
    return _step(draft, lambda: workflow().comment(draft_id, actor=current_actor(), text=note), "意见已记录。")


@bp.route("/drafts/<int:draft_id>/request-changes", methods=["POST"])
@login_required
def request_changes(draft_id: int) -> Response | tuple[str, int]:
    draft, note, seen = _draft(draft_id), _note(), _seen()
    return _step(
        draft, lambda: workflow().request_changes(draft_id, actor=current_actor(), text=note, seen=seen), "已退回修改，起草人会收到通知。"
    )


@bp.route("/drafts/<int:draft_id>/discard", methods=["POST"])
@login_required
def discard(draft_id: int) -> Response | tuple[str, int]:
    draft, note, seen = _draft(draft_id), _note(), _seen()
    return _step(draft, lambda: workflow().discard(draft_id, actor=current_actor(), note=note, seen=seen), "草稿已放弃（保留在历史中）。")


@bp.route("/drafts/<int:draft_id>/approve", methods=["POST"])
@login_required
def approve(draft_id: int) -> str | Response | tuple[str, int]:
    draft = _draft(draft_id)
    form = ApprovalForm()
    if not form.validate_on_submit():
        errors = "；".join(e for field in form for e in field.errors) or "请完整填写审批信息"
        flash(f"未批准：{errors}", "error")
        if "csrf_token" not in form.errors and workflow().may_review_draft(current_actor(), draft):
            return _render_view(draft, approval_form=form)  # the reviewer's typing stays in the form
        return redirect(url_for("drafts.view", draft_id=draft_id))
    approval = Approval(
        approving_body=form.approving_body.data,
        meeting_date=form.meeting_date.data,
        doc_number=form.doc_number.data,
        issue_date=form.issue_date.data,
    )
    return _step(
        draft,
        lambda: workflow().approve(
            draft_id,
            actor=current_actor(),
            approval=approval,
            require_ack=bool(form.require_ack.data),
            note=form.note.data or "",
            seen=_seen(),
            expected_tip=request.form.get("tip") or None,
        ),
        "已批准。发布后即成为现行版本。",
    )


@bp.route("/drafts/<int:draft_id>/publish", methods=["POST"])
@login_required
def publish(draft_id: int) -> Response | tuple[str, int]:
    draft = _draft(draft_id)
    _note()
    seen = _seen()
    return _step(
        draft,
        lambda: workflow().publish(draft_id, actor=current_actor(), seen=seen),
        lambda result: _published(draft, result),
        conflict="发布被拒绝：草稿创建后现行版本已被修改。请先“同步现行版本”，把对方的修改合并进草稿，核对后重新审核。",
        done=url_for("documents.view", code=draft.code),
    )


def _published(draft: DraftView, result: WriteResult) -> tuple[str, str]:
    editing.warn_if_unsearchable(result.commit)
    return f"{draft.code} 已发布为现行版本。", "success"


@bp.route("/drafts/<int:draft_id>/update", methods=["POST"])
@login_required
def update(draft_id: int) -> Response | tuple[str, int]:
    draft = _draft(draft_id)
    _note()
    return _step(
        draft,
        lambda: workflow().bring_up_to_date(draft_id, actor=current_actor()),
        lambda merged: (
            ("已把现行版本的修改合并进草稿，没有冲突。", "success")
            if merged.clean
            else ("已合并现行版本的修改，但有冲突之处已用标记行标出，请编辑草稿处理后再提交。", "error")
        ),
    )


@bp.route("/notifications")
@login_required
def notifications() -> str:
    db = services().db
    unread = acknowledgements.pending_for(db, user_id=current_user.id, departments=current_user.departments)
    return render_template("drafts/notifications.html", messages=inbox.messages(db, current_user.id), to_confirm=unread)


@bp.route("/notifications/<int:message_id>")
@login_required
def open_notification(message_id: int) -> Response:
    """Clicking a message opens its page and marks it read; a link not on this site is never followed."""
    url = inbox.open_message(services().db, user_id=current_user.id, message_id=message_id)
    if url is None:
        abort(404)
    if not url.startswith("/") or url.startswith(("//", "/\\")):
        return redirect(url_for("drafts.notifications"))
    return redirect(url)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> Response:
    _note()
    inbox.mark_read(services().db, current_user.id)
    return redirect(url_for("drafts.notifications"))


@bp.route("/documents/<code>/confirm-read", methods=["POST"])
@login_required
def confirm_read(code: str) -> Response:
    doc_code = document_code_or_404(code)
    _note()
    if acknowledgements.confirm(services().db, user_id=current_user.id, departments=current_user.departments, code=str(doc_code)):
        flash("已确认阅读。", "success")
    return redirect(url_for("documents.view", code=str(doc_code)))


@bp.route("/documents/<code>/readers")
@login_required
def readers(code: str) -> str:
    doc_code = document_code_or_404(code)
    summary = queries.document_summary(services().db, str(doc_code))
    if summary is None:
        abort(404)
    if not (may_audit(current_user.role) or can_edit(summary.departments)):
        abort(403)
    return render_template(
        "drafts/readers.html", code=doc_code, summary=summary, status=acknowledgements.status(services().db, str(doc_code))
    )
