"""Creating and editing documents: the form, the preview check, the clause tools, and the conflict page.

Every save names the commit the editor was opened at. When the document changed since, the
save is refused by the repository and the user gets a conflict page with their text, the
current version, the difference, and a merged proposal to check and save again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, Field, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from zhengai_docs import health
from zhengai_docs.bootstrap import bundled
from zhengai_docs.catalogue import clauses as clause_tools
from zhengai_docs.catalogue.codes import DocType, DocumentCode, document_code
from zhengai_docs.catalogue.document import Document, DocumentMeta, Review, ReviewCycle, Status, new_document
from zhengai_docs.catalogue.merge import FIELD_LABELS, merge_documents
from zhengai_docs.coverage import suggest_points
from zhengai_docs.db import queries
from zhengai_docs.errors import Conflict, InvalidCode, NotAllowed, NotFound, Refused, StorageUnavailable
from zhengai_docs.indicators.declaration import declarations
from zhengai_docs.permissions import may_use_editor
from zhengai_docs.render.html import render_markdown
from zhengai_docs.render.worker import render_preview
from zhengai_docs.textdiff import diff_texts
from zhengai_docs.trailers import require_one_line
from zhengai_docs.web import attachments as attachment_views
from zhengai_docs.web import editor_pictures
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import can_edit, current_actor, must_draft, review_required
from zhengai_docs.web.errors import storage_message
from zhengai_docs.web.lookups import active_framework_or_none, document_code_or_404, item_code_or_404, load_or_404
from zhengai_docs.web.security import allow_mermaid_styles

bp = Blueprint("editing", __name__)

MAX_BODY_CHARS = 500_000
# Front-matter fields the form edits; others (e.g. `reviewed`) are carried over unchanged.
FORM_FIELDS = ("title", "departments", "status", "issued", "doc_number", "approved_by", "points", "review_cycle", "related")
_SEPARATORS = re.compile(r"[\s,，、;；]+")
_POINT = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2}){1,3}")
_SKELETONS = {DocType.Z: "zhi-du.md", DocType.L: "liu-cheng.md", DocType.B: "biao-zhun.md"}
_PLACEHOLDER_TITLE = re.compile(r"\A# 【[^\n]*】[^\n]*\n")


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def single_line(form: FlaskForm, field: Field) -> None:
    """A one-line field (a title, a 修订说明, a 文号) with a line break is refused and kept as typed.

    Lines of their own could pass for the records the product writes under a commit message.
    """
    try:
        require_one_line(field.data or "", label=str(field.label.text))
    except Refused as exc:
        raise ValidationError(str(exc)) from None


class DocumentForm(FlaskForm):
    title = StringField("标题", validators=[DataRequired(message="请填写标题"), Length(max=200), single_line])
    departments = CheckboxesField("牵头部门")  # no `required` flag: browsers would demand every box
    status = SelectField("状态", choices=[s.value for s in Status])
    issued = DateField("发布/修订日期", validators=[Optional()])
    doc_number = StringField("文号", validators=[Optional(), Length(max=100), single_line], description="如：包职院发〔2019〕12号")
    approved_by = StringField("审批机构", validators=[Optional(), Length(max=100), single_line], description="如：院长办公会、党委会")
    points = StringField(
        "关联诊断点", validators=[Optional(), Length(max=500)], description="诊断点编号，用逗号或空格分隔，如：2.1.1，2.1.3"
    )
    related = StringField("相关文档", validators=[Optional(), Length(max=500)], description="文档代码，用逗号或空格分隔，如：A101L，A101B")
    cycle_years = IntegerField(
        "单独设定修订周期（年）",
        validators=[Optional(), NumberRange(min=1, max=10, message="修订周期为 1 到 10 年")],
        description="一般不填，按学院统一周期执行",
    )
    cycle_reason = StringField("单独设定周期的理由", validators=[Optional(), Length(max=300), single_line])
    body = TextAreaField("正文", validators=[Length(max=MAX_BODY_CHARS, message="正文过长")])
    message = StringField("修订说明", validators=[DataRequired(message="请填写修订说明"), Length(max=300), single_line])
    base = HiddenField()

    def validate_body(self, field: TextAreaField) -> None:
        """A body that could only be shown as plain text is refused here, with what and where."""
        problem = render_markdown(_saved_body(field.data)).problem
        if problem is not None:
            raise ValidationError(problem.describe())

    def validate_departments(self, field: CheckboxesField) -> None:
        if not field.data:
            raise ValidationError("请至少选择一个牵头部门")

    def validate_points(self, field: StringField) -> None:
        bad = [p for p in _split(field.data) if not _POINT.fullmatch(p)]
        if bad:
            raise ValidationError(f"诊断点编号格式不正确：{'、'.join(bad)}")

    def validate_related(self, field: StringField) -> None:
        for raw in _split(field.data):
            try:
                document_code(raw.upper())
            except InvalidCode:
                raise ValidationError(f"不是有效的文档代码：{raw}") from None

    def validate_cycle_reason(self, field: StringField) -> None:
        if self.cycle_years.data and not (field.data or "").strip():
            raise ValidationError("单独设定修订周期时请说明理由")


def _saved_body(raw: str | None) -> str:
    """The body as `document_from` stores it."""
    body = (raw or "").replace("\r\n", "\n")
    return body if not body or body.endswith("\n") else body + "\n"


def _split(value: str | None) -> list[str]:
    return [part for part in _SEPARATORS.split(value or "") if part]


def filled_form(document: Document | None, **defaults: str) -> DocumentForm:
    """A form filled from a document rather than from the request."""
    form = DocumentForm(formdata=None)
    if document is not None:
        _fill(form, document)
    for name, value in defaults.items():
        getattr(form, name).data = value
    return form


def _fill(form: DocumentForm, document: Document) -> None:
    meta = document.meta
    form.title.data = meta.title
    form.departments.data = list(meta.departments)
    form.status.data = meta.status.value
    form.issued.data = meta.issued
    form.doc_number.data = meta.doc_number or ""
    form.approved_by.data = meta.approved_by or ""
    form.points.data = "，".join(meta.points)
    form.related.data = "，".join(str(c) for c in meta.related)
    form.cycle_years.data = meta.review_cycle.years if meta.review_cycle else None
    form.cycle_reason.data = meta.review_cycle.reason if meta.review_cycle else ""
    form.body.data = document.body


def document_from(form: DocumentForm, code: DocumentCode, previous: Document | None) -> Document:
    meta = DocumentMeta(
        code=code,
        title=form.title.data.strip(),
        departments=kept_order(form.departments.data, previous.meta.departments if previous else ()),
        status=Status(form.status.data),
        issued=form.issued.data,
        doc_number=(form.doc_number.data or "").strip() or None,
        approved_by=(form.approved_by.data or "").strip() or None,
        points=tuple(dict.fromkeys(_split(form.points.data))),
        review_cycle=ReviewCycle(years=form.cycle_years.data, reason=form.cycle_reason.data.strip()) if form.cycle_years.data else None,
        related=tuple(dict.fromkeys(document_code(r.upper()) for r in _split(form.related.data))),
    )
    body = _saved_body(form.body.data)
    if previous is None:
        body = _PLACEHOLDER_TITLE.sub(lambda _m: f"# {meta.title}\n", body, count=1)
        return new_document(meta, body)
    return previous.with_changes(body=body, **{f: getattr(meta, f) for f in FORM_FIELDS})


def kept_order(chosen: list[str], stored: tuple[str, ...]) -> tuple[str, ...]:
    """The ticked departments in the document's own order (the first is the lead), new ones after.

    Checkboxes come back in the catalogue's order; writing that back would make an unchanged
    document a new version.
    """
    ticked = list(dict.fromkeys(chosen))
    return (*(d for d in stored if d in ticked), *(d for d in ticked if d not in stored))


def department_choices(form: DocumentForm, extra: tuple[str, ...] = ()) -> None:
    names = queries.departments(services().db)
    form.departments.choices = list(dict.fromkeys([*names, *extra]))


def check_departments(form: DocumentForm) -> bool:
    """An editor may not hand a document to departments that exclude their own."""
    if can_edit(form.departments.data or ()):
        return True
    form.departments.errors = [*form.departments.errors, "牵头部门须包含您所在的部门"]
    return False


@bp.route("/items/<item>/new/<letter>", methods=["GET", "POST"])
@login_required
def create(item: str, letter: str) -> str | Response | tuple[str, int]:
    code = document_code_or_404(item_code_or_404(item) + letter)
    found = queries.item_view(services().db, code.item)
    if found is None:
        abort(404)
    item_view = found[0]
    if not can_edit(item_view.departments):
        abort(403)
    library = services().library
    if queries.document_summary(services().db, str(code)) is not None and request.method == "GET":
        flash(f"{code} 已存在，已为您打开编辑页面。", "info")
        return redirect(url_for("editing.edit", code=str(code)))
    workflow = services().workflow
    drafts = workflow.open_visible_to(current_actor(), code) if review_required() else []
    if drafts and workflow.one_open:
        flash(f"{code} 已有进行中的新建草稿，已为您打开。", "info")
        return redirect(url_for("drafts.view", draft_id=drafts[0].id))
    form = DocumentForm()
    if request.method == "GET":
        form = filled_form(None, base=library.repo.head() or "", message=f"新建{code.doc_type.label}")
        form.departments.data = [d for d in item_view.departments if can_edit((d,))] or list(item_view.departments)
        form.status.data = Status.DRAFT.value
        form.body.data = (bundled("templates") / _SKELETONS[code.doc_type]).read_text(encoding="utf-8")
    department_choices(form, item_view.departments)
    if request.method == "POST" and form.validate() and check_departments(form):
        saved = _open_new_draft(form, code, item_view.departments) if review_required() else _save(form, code, previous=None)
        if saved is not None:
            return saved
    return render_editor(form=form, code=code, item=item_view, creating=True, review_required=review_required())


def _open_new_draft(form: DocumentForm, code: DocumentCode, item_departments: tuple[str, ...]) -> Response | None:
    """With review on, a new document is a draft until it is approved and published (None:
    refused, said in a flash; the caller shows the editor again with the typed text)."""
    document = document_from(form, code, None)
    try:
        draft = services().workflow.open_new(
            document, item_departments=item_departments, reason=form.message.data.strip(), actor=current_actor()
        )
    except NotAllowed:
        abort(403)
    except Refused as exc:
        flash(str(exc), "error")
        return None
    except StorageUnavailable as exc:
        flash(storage_message(exc, kept=True), "error")
        return None
    flash("已保存为草稿。请继续完善，完成后提交审核；发布前全校读者看不到它。", "success")
    return redirect(url_for("drafts.view", draft_id=draft.id))


@bp.route("/documents/<code>/edit", methods=["GET", "POST"])
@login_required
def edit(code: str) -> str | Response | tuple[str, int]:
    doc_code = document_code_or_404(code)
    loaded = load_or_404(doc_code)
    if not can_edit(loaded.document.meta.departments):
        abort(403)
    if must_draft():
        return redirect(url_for("drafts.open_revision", code=str(doc_code)))
    form = DocumentForm()
    if request.method == "GET":
        form = filled_form(loaded.document, base=loaded.version.commit, message="")
    department_choices(form, loaded.document.meta.departments)
    typed = attachment_views.editor_message(form)  # an 附件 button needs no 修订说明: the change names itself
    if request.method == "POST" and form.validate() and check_departments(form):
        saved = attachment_views.save_from_editor(form, doc_code, previous=loaded.document, message=typed)
        if saved is None:
            saved = _save(form, doc_code, previous=loaded.document)
        if saved is not None:
            return saved
    found = queries.item_view(services().db, doc_code.item)
    return render_editor(form=form, code=doc_code, item=found[0] if found else None, creating=False, direct_correction=review_required())


def base_document_at(
    code: DocumentCode, base: str | None, *, draft_ref_reader: Callable[[str], Document | None] | None = None
) -> Document | None:
    """The version the editor was opened at (None when the document did not exist then).

    Draft editors were opened at a draft commit, which only `draft_ref_reader` may read.
    """
    if not base:
        return None
    try:
        if draft_ref_reader is not None:
            return draft_ref_reader(base)
        return services().library.load(code, revision=base).document
    except (NotFound, InvalidCode):
        return None


def keep_publication_fields(form: DocumentForm, current: Document) -> None:
    """Draft editors do not set status, date, number or approving body: publication does."""
    meta = current.meta
    form.status.data = meta.status.value
    form.issued.data = meta.issued
    form.doc_number.data = meta.doc_number or ""
    form.approved_by.data = meta.approved_by or ""


def _save(form: DocumentForm, code: DocumentCode, *, previous: Document | None) -> Response | tuple[str, int] | None:
    """Save and go to the document; the conflict page; or None when refused (said in a flash),
    so the caller shows the editor again with everything the user typed."""
    library = services().library
    document = document_from(form, code, previous)
    base = form.base.data or None
    removed = editor_pictures.removed_pictures(code, document.body, base=base) if previous is not None else {}  # pictures no longer shown
    try:
        message = form.message.data.strip()
        result = library.save(document, actor=current_actor(), message=message, base=base, files=removed or None)  # NotAllowed: 403
    except Conflict:
        return _conflict(form, code, mine=document, base=base)
    except Refused as exc:
        flash(str(exc), "error")
        return None
    except StorageUnavailable as exc:  # nothing was written: the editor comes back with the text
        flash(storage_message(exc, kept=True), "error")
        return None
    flash("已保存。" if result.changed else "内容没有变化，未产生新版本。", "success")
    warn_if_unsearchable(result.commit)
    return redirect(url_for("documents.view", code=str(code)))


def warn_if_unsearchable(commit: str) -> None:
    """The save is in git; when the search index could not take it, say so and why."""
    behind, cause = health.index_behind(services().library, commit)
    if not behind:
        return
    if cause is None:  # another process holds the index for longer than a save waits
        flash("搜索索引正在更新，本次修改稍后才能被搜索到。", "warning")
    else:
        contact = services().settings["SUPPORT_CONTACT"]
        flash(f"文档已保存，但搜索索引无法写入（{cause}），搜索结果暂时不包含本次修改；请联系{contact}。", "warning")


def _conflict(form: DocumentForm, code: DocumentCode, *, mine: Document, base: str | None) -> tuple[str, int]:
    """Someone saved after this editor was opened: show both sides and a merge to check."""
    try:
        theirs = services().library.load(code)
    except NotFound:
        abort(409, description="您编辑期间该文档已被删除。您的文本没有保存，请返回上一页复制保留。")
    merged = merge_documents(base_document_at(code, base), mine, theirs.document)
    proposal = filled_form(merged.document, base=theirs.version.commit, message=form.message.data)
    department_choices(proposal, merged.document.meta.departments)
    history = queries.history(services().db, str(code))
    latest = history[0] if history else None
    found = queries.item_view(services().db, code.item)
    return render_editor(
        form=proposal,
        code=code,
        item=found[0] if found else None,
        creating=False,
        conflict=True,
        merged=merged,
        field_conflicts=[(FIELD_LABELS[name], display(getattr(theirs.document.meta, name))) for name in merged.field_conflicts],
        mine_text=mine.body,
        theirs=theirs.document,
        latest=latest,
        diff=diff_texts(theirs.document.dump(), mine.dump()),
    ), 409


def display(value: object) -> str:
    if value is None or value == ():
        return "（空）"
    if isinstance(value, tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, ReviewCycle):
        return f"{value.years} 年（{value.reason}）"
    if isinstance(value, Review):
        return f"{value.date} {value.by}：{value.reason}"
    if isinstance(value, Status):
        return value.value
    return str(value)


def render_editor(**context: Any) -> str:
    allow_mermaid_styles()  # the editor (Vditor) sets inline styles on its panels and draws flowcharts in place; scripts stay 'self'
    form: DocumentForm = context["form"]
    code: DocumentCode = context["code"]
    if "form_action" not in context:
        creating = context["creating"]
        context["form_action"] = (
            url_for("editing.create", item=code.item, letter=code.doc_type.value) if creating else url_for("editing.edit", code=str(code))
        )
        context["cancel_url"] = url_for("catalogue.item", code=code.item) if creating else url_for("documents.view", code=str(code))
        context["heading"] = f"新建{code.doc_type.label} {code}" if creating else f"编辑 {code}"
    framework = active_framework_or_none()
    suggestions = []
    if framework is not None:
        text = f"{form.title.data or ''}\n{form.body.data or ''}"
        suggestions = suggest_points(framework, text, exclude=set(_split(form.points.data)))
    indicators = None
    if code.doc_type is DocType.B:  # what the body's indicator tables declare, as the indicator pages will read them
        departments = tuple(form.departments.data or ())
        points = tuple(_split(form.points.data))
        indicators = declarations(_saved_body(form.body.data), code=str(code), departments=departments, points=points)
    return render_template("editing/edit.html", framework=framework, suggestions=suggestions, indicators=indicators, **context)


@bp.route("/preview", methods=["POST"])
@login_required
def preview() -> Response:
    """Live preview for the editor: the same sanitised rendering the document page uses.

    Only those who may open an editor may preview (it renders any text it is sent). It renders in
    a child process, one preview at a time: another preview meanwhile answers 429 at once, and the
    pages of everyone else keep the web process to themselves. `problem` says why a body would
    be refused on saving.
    """
    if not may_use_editor(current_user.role, current_user.departments):
        abort(403)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
        abort(400)
    if len(payload["body"]) > MAX_BODY_CHARS:
        abort(413)
    rendered = render_preview(payload["body"], image_url=_preview_pictures(payload))
    if rendered is None:
        abort(429, description="预览正忙，请稍后再试（不影响保存）。")
    problem = None if rendered.problem is None else rendered.problem.describe()
    return jsonify(html=rendered.html, has_mermaid=rendered.has_mermaid, problem=problem)


def _preview_pictures(payload: dict[str, Any]) -> Callable[[str], str | None] | None:
    """Where the preview shows the body's pictures: the document's (`code`, at the head) or the
    draft's (`draft`, its authors and reviewers only); without either, alt text only."""
    draft_id, code = payload.get("draft"), payload.get("code")
    if isinstance(draft_id, int) and not isinstance(draft_id, bool):
        workflow = services().workflow
        try:
            draft = workflow.get(draft_id)
        except NotFound:
            return None
        return attachment_views.image_url(document_code(draft.code), draft=draft) if workflow.may_see(current_actor(), draft) else None
    if isinstance(code, str):
        try:
            return attachment_views.image_url(document_code(code))
        except InvalidCode:
            return None
    return None


_CLAUSE_ACTIONS = ("outline", "renumber", "insert_clause", "insert_chapter")


@bp.route("/editor/clauses", methods=["POST"])
@login_required
def clauses() -> Response:
    """The clause tools: the body's clauses, or the body with a clause or chapter inserted and
    everything renumbered, with the list of changes the editor shows before applying them.

    Computes only (nothing is saved); for those who may open an editor.
    """
    if not may_use_editor(current_user.role, current_user.departments):
        abort(403)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("body"), str) or payload.get("action") not in _CLAUSE_ACTIONS:
        abort(400)
    body: str = payload["body"]
    if len(body) > MAX_BODY_CHARS:
        abort(413)
    position = payload.get("position", 0)
    if not isinstance(position, int) or isinstance(position, bool):
        abort(400)
    outline = [
        {"line": h.line, "label": h.label, "excerpt": h.excerpt} for h in clause_tools.headings(body) if h.kind is clause_tools.Kind.CLAUSE
    ]
    action = payload["action"]
    if action == "outline":
        return jsonify(clauses=outline)
    if action == "insert_clause":
        result = clause_tools.insert_clause(body, after=position)
    elif action == "insert_chapter":
        result = clause_tools.insert_chapter(body, before=position)
    else:
        result = clause_tools.renumber(body)
    changes = [{"kind": c.kind.value, "line": c.line, "old": c.old, "new": c.new, "excerpt": c.excerpt} for c in result.changes]
    return jsonify(clauses=outline, body=result.body, changes=changes)
