"""Word in and out on the web: import with preview and diff, export, the handbook, the report.

Import is two steps. The upload is converted and shown (rendered preview, the difference from
the current version, any warnings) with the Markdown and the commit it was compared against
carried in the form; nothing is written until the user confirms with a 修订说明, and the save
is refused if the document changed in between (the preview is then shown again, against the
new version). Files that cannot be read are refused with the reason, before anything else.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from zhengai_docs.attachments.body_pictures import picture_name
from zhengai_docs.attachments.inspect import UploadRefused, inspect_image
from zhengai_docs.catalogue.codes import DocType, DocumentCode, level1_code
from zhengai_docs.catalogue.document import Document, DocumentMeta, Status, new_document
from zhengai_docs.cycles.rules import SHANGHAI
from zhengai_docs.db import queries
from zhengai_docs.errors import Conflict, InvalidCode, NotAllowed, NotFound, Refused
from zhengai_docs.publishing import flowchart_renderer, imports, selfdiag, word_template
from zhengai_docs.publishing import handbook as handbook_service
from zhengai_docs.render.docx_export import export_markdown
from zhengai_docs.render.docx_import import ImportedImage
from zhengai_docs.render.docx_package import Limits, WordImportError, megabytes
from zhengai_docs.render.flowcharts import FlowchartRenderer, FlowchartUnavailable, flowchart_sources
from zhengai_docs.render.html import render_markdown
from zhengai_docs.storage.paths import revision_id
from zhengai_docs.textdiff import diff_texts
from zhengai_docs.users import Role
from zhengai_docs.web import attachments as attachment_views
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import can_edit, current_actor, current_author, must_draft, read_required, role_required
from zhengai_docs.web.editing import MAX_BODY_CHARS, single_line
from zhengai_docs.web.lookups import DOCX_MIMETYPE, active_framework, document_code_or_404, download, load_or_404, requested_revision

bp = Blueprint("word", __name__)
_FILENAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")


class UploadForm(FlaskForm):
    file = FileField("Word 文档（.docx）或 Markdown 文件（.md）", validators=[FileRequired(message="请选择要导入的文件")])


class ConfirmForm(FlaskForm):
    title = StringField("标题", validators=[DataRequired(message="请填写标题"), Length(max=200), single_line])
    body = TextAreaField("导入后的正文（Markdown）", validators=[Length(max=MAX_BODY_CHARS, message="正文过长")])
    message = StringField("修订说明", validators=[DataRequired(message="请填写修订说明"), Length(max=300), single_line])
    base = HiddenField()
    source = HiddenField()

    def validate_base(self, field: HiddenField) -> None:
        if field.data:
            try:
                revision_id(field.data)
            except InvalidCode:
                raise ValidationError("页面版本号无效，请重新上传") from None


# -- import ------------------------------------------------------------------------------------


def _target(code: str) -> tuple[DocumentCode, tuple[str, ...], bool]:
    """The code, the departments that decide who may import, and whether the document exists."""
    doc_code = document_code_or_404(code)
    found = queries.item_view(services().db, doc_code.item)
    if found is None:
        abort(404)
    summary = queries.document_summary(services().db, str(doc_code))
    departments = summary.departments if summary is not None else found[0].departments
    if not can_edit(departments):
        abort(403)
    return doc_code, departments, summary is not None


def _limits() -> Limits:
    return replace(Limits.from_settings(services().settings), max_chars=MAX_BODY_CHARS)


_FORM_OVERHEAD = 64 * 1024  # the multipart envelope, the CSRF token and the file name around the file


@bp.route("/documents/<code>/import", methods=["GET", "POST"])
@login_required
def import_document(code: str) -> str | WerkzeugResponse | tuple[str, int]:
    doc_code, _departments, exists = _target(code)
    limits = _limits()
    if request.method == "POST" and (request.content_length or 0) > limits.max_bytes + _FORM_OVERHEAD:
        refused = UploadForm(formdata=None)  # the body is never parsed: a form would read it all
        refused.file.errors = [f"文件超过导入上限 {megabytes(limits.max_bytes)} MB，未读取。请拆分文档或压缩其中的图片后再导入。"]
        return render_template("word/import.html", form=refused, code=doc_code, exists=exists), 413
    form = UploadForm()
    if not form.validate_on_submit():
        return render_template("word/import.html", form=form, code=doc_code, exists=exists), 400 if request.method == "POST" else 200
    upload = form.file.data
    filename = _FILENAME_FORBIDDEN.sub("", upload.filename or "upload.docx")[-200:] or "upload.docx"
    data = upload.stream.read(limits.max_bytes + 1)  # one byte more: too large is refused, never read whole
    try:
        prepared = imports.prepare(services().library, doc_code, data, filename=filename, limits=limits)
    except WordImportError as exc:
        form.file.errors = [exc.message]
        return render_template("word/import.html", form=form, code=doc_code, exists=exists), 400
    confirm = ConfirmForm(formdata=None)
    confirm.title.data = prepared.document.meta.title
    confirm.body.data = prepared.document.body
    confirm.base.data = prepared.base or ""
    confirm.source.data = filename
    current = prepared.current.body if prepared.current else None
    return _preview(confirm, doc_code, current=current, warnings=prepared.warnings, images=prepared.images)


def _carried_images() -> tuple[ImportedImage, ...]:
    """The Word file's pictures as the preview page carried them (hidden `picture` fields, base64):
    checked again like any upload and named by their content, never by what the form says."""
    images = {}
    max_bytes = int(services().settings["ATTACHMENT_MAX_BYTES"])
    for number, encoded in enumerate(request.form.getlist("picture"), start=1):
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            abort(400, description="导入表单中的图片已损坏，导入没有保存。请重新上传文件。")
        try:
            inspected = inspect_image(data, max_bytes=max_bytes, filename=f"图片{number}")
        except UploadRefused as exc:
            abort(exc.status, description=f"{exc.message} 导入没有保存，请重新上传文件。")
        name = picture_name(inspected.data, suffix=inspected.suffix)
        images[name] = ImportedImage(name=name, data=inspected.data, media_type=inspected.media_type)
    return tuple(images.values())


@bp.route("/documents/<code>/import/confirm", methods=["POST"])
@login_required
def confirm_import(code: str) -> str | WerkzeugResponse | tuple[str, int]:
    doc_code, departments, _exists = _target(code)
    form = ConfirmForm()
    library = services().library
    current = _current(doc_code)
    images = _carried_images()
    if not form.validate():
        return _preview(form, doc_code, current=current.body if current else None, warnings=(), images=images), 400
    body = (form.body.data or "").replace("\r\n", "\n")
    body = body if body.endswith("\n") else body + "\n"
    base = form.base.data or None
    if base is not None and not _on_branch(base):
        abort(400, description="导入所依据的版本不在现行版本的历史上（可能是草稿或无关的提交），导入没有保存。请重新上传文件。")
    previous = _current(doc_code, revision=base) if base else None
    if previous is not None:
        document = previous.with_changes(body=body, title=form.title.data.strip())
    else:
        mine = tuple(d for d in departments if can_edit((d,))) or departments
        meta = DocumentMeta(code=doc_code, title=form.title.data.strip(), departments=mine, status=Status.DRAFT)
        document = new_document(meta, body)
    if must_draft():
        return _import_into_draft(document, departments, message=form.message.data.strip(), existing=previous is not None, images=images)
    try:
        files = imports.picture_changes(library, document, images=images, base=base)  # the pictures, in the same commit
        result = library.save(document, actor=current_actor(), message=form.message.data.strip(), base=base, files=files or None)
    except Conflict:  # NotAllowed: 403
        latest = library.load(doc_code)
        form.base.data = latest.version.commit
        message = "您预览期间该文档已被他人修改，导入没有保存，也没有覆盖他人的修改。下面已按最新版本重新比较，请核对后再次确认。"
        return _preview(form, doc_code, current=latest.document.body, warnings=(), conflict=message, images=images), 409
    flash("已从 Word 导入并保存。" if result.changed else "导入的内容与现行版本相同，未产生新版本。", "success")
    return redirect(url_for("documents.view", code=str(doc_code)))


def _import_into_draft(
    document: Document, item_departments: tuple[str, ...], *, message: str, existing: bool, images: tuple[ImportedImage, ...] = ()
) -> WerkzeugResponse:
    """With review on, an imported Word file becomes a new draft; the version in force stays.
    Its pictures are saved in the draft commit that carries the text (for a new document, the
    draft's first save after opening it).

    An open draft is never overwritten by an import it has not seen: the user is sent to it.
    """
    workflow = services().workflow
    code = document.meta.code
    open_drafts = workflow.open_for(code)
    if open_drafts:
        flash(f"{code} 已有进行中的草稿 #{open_drafts[0].id}，导入没有保存。请在该草稿中修改，或先放弃它再导入。", "error")
        return redirect(url_for("drafts.view", draft_id=open_drafts[0].id))
    actor = current_actor()
    try:
        if existing:
            draft = workflow.open(code=code, kind="revise", reason=message, actor=actor)
        else:
            draft = workflow.open_new(document, item_departments=item_departments, reason=message, actor=actor)
        files = imports.picture_changes(services().library, document, images=images, base=draft.tip)
        if existing or files:
            note = f"从 Word 导入：{message}"
            draft = workflow.save(draft.id, document, actor=actor, message=note, expected=draft.tip, files=files or None)
    except NotAllowed:
        abort(403)
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("documents.view", code=str(code)) if existing else url_for("catalogue.item", code=code.item))
    flash("已从 Word 导入为修订草稿。现行版本保持不变；请核对后提交审核。", "success")
    return redirect(url_for("drafts.view", draft_id=draft.id))


def _on_branch(revision: str) -> bool:
    """Whether a commit is the head of `main` or one of its ancestors (not a draft or stray commit)."""
    try:
        services().library.repo.resolve_published(revision)
    except NotFound:
        return False
    return True


def _current(code: DocumentCode, *, revision: str | None = None) -> Document | None:
    try:
        return services().library.load(code, revision=revision).document
    except NotFound:
        return None


def _preview(
    form: ConfirmForm,
    code: DocumentCode,
    *,
    current: str | None,
    warnings: tuple[str, ...],
    conflict: str | None = None,
    images: tuple[ImportedImage, ...] = (),
) -> str:
    """The preview: the body's pictures are shown beside it from the form itself (data: URLs of
    the cleaned pictures; nothing is stored before the confirmation) and carried in it."""
    body = form.body.data or ""
    pictures = [(image.name, image.media_type, base64.b64encode(image.data).decode("ascii")) for image in images]
    return render_template(
        "word/preview.html",
        form=form,
        code=code,
        rendered=render_markdown(body),
        diff=diff_texts(current or "", body),
        is_new=current is None,
        warnings=warnings,
        conflict=conflict,
        pictures=pictures,
    )


# -- export ------------------------------------------------------------------------------------


def _template_path() -> Path:
    return word_template(services().settings, Path(current_app.instance_path))


def _flowcharts() -> FlowchartRenderer:
    return flowchart_renderer(services().settings, Path(current_app.instance_path))


@bp.route("/documents/<code>/export.docx")
@read_required
def export_document(code: str) -> Response:
    doc_code = document_code_or_404(code)
    revision = requested_revision(status=404)
    loaded = load_or_404(doc_code, revision=revision)
    meta = loaded.document.meta
    subtitle = handbook_service.subtitle(meta)
    commit = loaded.version.commit
    body = attachment_views.export_body(doc_code, loaded.document.body, revision=commit)  # ends with its 附件 list
    pictures = attachment_views.read_image(doc_code, revision=commit)
    template, flowcharts = _template_path(), _flowcharts()
    data = export_markdown(body, template=template, title=meta.title, subtitle=subtitle, flowcharts=flowcharts, read_image=pictures)
    suffix = f"-{loaded.version.commit[:10]}" if revision else ""
    return download(data, filename=f"{doc_code} {meta.title}{suffix}.docx", mimetype=DOCX_MIMETYPE)


_PICTURE_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


@bp.route("/documents/<code>/flowcharts/<int:number>.<fmt>")
@read_required
def flowchart(code: str, number: int, fmt: str) -> Response:
    """The document's `number`-th flowchart (from 1, in page order) as a picture, for the print view:
    `<img src="{{ url_for('word.flowchart', code=…, number=1, fmt='svg', rev=…) }}">`. 404 when the
    document has fewer; 503 with the reason when it cannot be drawn here (the page keeps its source)."""
    if fmt not in _PICTURE_TYPES:
        abort(404)
    doc_code = document_code_or_404(code)
    revision = requested_revision(status=404)
    loaded = load_or_404(doc_code, revision=revision)
    sources = flowchart_sources(loaded.document.body)
    if not 1 <= number <= len(sources):
        abort(404)
    try:
        picture = _flowcharts().draw(sources[number - 1], fmt=fmt)
    except FlowchartUnavailable as exc:
        abort(503, description=f"流程图未能绘制为图片：{exc.reason}。")
    response = Response(picture.data, mimetype=_PICTURE_TYPES[fmt])
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable" if revision else "private, no-cache"
    return response


class HandbookForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only reads

    level = SelectField("一级类别", choices=[])
    department = SelectField("牵头部门", choices=[])
    type = SelectField("文档类型", choices=[SelectChoice("", "全部类型")] + [SelectChoice(t.value, t.label) for t in DocType])


def _handbook_form() -> tuple[HandbookForm, handbook_service.HandbookFilter]:
    db = services().db
    form = HandbookForm(request.args)
    names = handbook_service.level_names(db)
    form.level.choices = [SelectChoice("", "全部类别")] + [SelectChoice(c, f"{c} {n}") for c, n in sorted(names.items()) if len(c) == 1]
    departments = queries.departments(db)
    form.department.choices = [SelectChoice("", "全部部门")] + [SelectChoice(d, d) for d in departments]
    level = form.level.data or None
    department = form.department.data or None
    doc_type = form.type.data or None
    try:
        if level is not None:
            level1_code(level)
        chosen_type = DocType(doc_type) if doc_type else None
    except (InvalidCode, ValueError):
        abort(400, description="筛选条件无效。")
    if department is not None and department not in departments:
        abort(400, description="没有这个部门。")
    return form, handbook_service.HandbookFilter(level1=level, department=department, doc_type=chosen_type)


@bp.route("/handbook")
@read_required
def handbook() -> str:
    form, selection = _handbook_form()
    entries = handbook_service.select_documents(services().db, selection)
    return render_template("word/handbook.html", form=form, entries=entries, query=request.query_string.decode())


@bp.route("/handbook.docx")
@read_required
def handbook_docx() -> Response:
    _form, selection = _handbook_form()
    svc = services()
    data, _count = handbook_service.compile_handbook(
        db=svc.db,
        repo=svc.library.repo,
        selection=selection,
        template=_template_path(),
        college=svc.settings["COLLEGE_NAME"],
        today=dt.datetime.now(SHANGHAI).date(),
        flowcharts=_flowcharts(),
        attachment_texts=request.args.get("texts") == "1",  # each document's Word 附件 in full after it
    )
    names = handbook_service.level_names(svc.db)
    return download(data, filename=f"{svc.settings['COLLEGE_NAME']}制度汇编（{selection.describe(names)}）.docx", mimetype=DOCX_MIMETYPE)


# -- self-diagnosis report -----------------------------------------------------------------------


class SelfDiagnosisForm(FlaskForm):
    opinion = TextAreaField("自我诊断意见（不超过 500 字）")
    measures = TextAreaField("改进措施（不超过 200 字）")
    effects = TextAreaField("改进成效（不超过 200 字）")


class OverviewForm(FlaskForm):
    opinion = TextAreaField("自我诊改工作概述（不超过 500 字）")


def _year(value: int | None = None) -> int:
    year = value if value is not None else request.args.get("year", type=int) or dt.datetime.now(SHANGHAI).year
    if not 2000 <= year <= 2100:
        abort(404)
    return year


@bp.route("/reports/self-diagnosis")
@role_required(Role.QUALITY, Role.ADMIN)
def self_diagnosis() -> str:
    framework = active_framework().framework
    year = _year()
    rows = selfdiag.element_rows(services().db, framework, year=year)
    overview = selfdiag.load_entries(services().db, framework=framework.id, year=year).get(selfdiag.OVERVIEW)
    verdict = selfdiag.verdict_sentence(selfdiag.review_outcome(services().db, framework, year=year))
    return render_template(
        "word/self_diagnosis.html", framework=framework, year=year, rows=rows, overview=overview, fields=selfdiag.FIELDS, verdict=verdict
    )


@bp.route("/reports/self-diagnosis/<int:year>/<element_id>", methods=["GET", "POST"])
@role_required(Role.QUALITY, Role.ADMIN)
def edit_self_diagnosis(year: int, element_id: str) -> str | WerkzeugResponse | tuple[str, int]:
    framework = active_framework().framework
    year = _year(year)
    element = framework.element(element_id)
    if element is None and element_id != selfdiag.OVERVIEW:
        abort(404)
    form: FlaskForm = OverviewForm() if element is None else SelfDiagnosisForm()
    entry = selfdiag.load_entries(services().db, framework=framework.id, year=year).get(element_id)
    if request.method == "GET" and entry is not None:
        for name in ("opinion", "measures", "effects"):
            if hasattr(form, name):
                getattr(form, name).data = getattr(entry, name)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data or "" for name in ("opinion", "measures", "effects") if hasattr(form, name)}
        try:
            selfdiag.save_entry(
                services().db, framework=framework.id, year=year, element_id=element_id, values=values, author=current_author().name
            )
        except selfdiag.TooLong as exc:
            flash(f"未保存：{exc}。", "error")
        else:
            flash("已保存。", "success")
            return redirect(url_for("word.self_diagnosis", year=year) + f"#e-{element_id}")
        status = 400
    else:
        status = 400 if request.method == "POST" else 200
    limits = {f.name: f.limit for f in selfdiag.FIELDS} if element is not None else {"opinion": selfdiag.OVERVIEW_LIMIT}
    counts = {name: selfdiag.char_count(getattr(form, name).data or "") for name in limits}
    return render_template(
        "word/self_diagnosis_edit.html", form=form, framework=framework, year=year, element=element, counts=counts, limits=limits
    ), status


@bp.route("/reports/self-diagnosis/<int:year>.docx")
@role_required(Role.QUALITY, Role.ADMIN)
def self_diagnosis_docx(year: int) -> Response:
    framework = active_framework().framework
    year = _year(year)
    svc = services()
    data = selfdiag.report_docx(db=svc.db, framework=framework, year=year, template=_template_path(), college=svc.settings["COLLEGE_NAME"])
    return download(data, filename=f"{svc.settings['COLLEGE_NAME']}内部质量保证体系自我诊改报告（{year}）.docx", mimetype=DOCX_MIMETYPE)
