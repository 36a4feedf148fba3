"""Document pages: the rendered document, its Markdown source, its history, diffs and restore."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from zhengai_docs import acknowledgements, coverage
from zhengai_docs.catalogue.codes import DocType, DocumentCode
from zhengai_docs.catalogue.comparison import compare_texts
from zhengai_docs.catalogue.framework import Framework
from zhengai_docs.db import queries
from zhengai_docs.errors import Conflict, NotFound
from zhengai_docs.indicators.declaration import changes_between
from zhengai_docs.render.html import render_markdown
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.trailers import has_line_break
from zhengai_docs.web import attachments as attachment_views
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import can_edit, current_actor, must_draft, read_required, review_required
from zhengai_docs.web.lookups import active_framework_or_none, document_code_or_404, download, load_or_404, requested_revision
from zhengai_docs.web.security import allow_mermaid_styles

bp = Blueprint("documents", __name__, url_prefix="/documents")


@bp.route("/<code>")
@read_required
def view(code: str) -> str:
    doc_code = document_code_or_404(code)
    revision = requested_revision()
    loaded = load_or_404(doc_code, revision=revision)
    rendered = render_markdown(loaded.document.body, image_url=attachment_views.image_url(doc_code, revision=revision))
    if rendered.has_mermaid:
        allow_mermaid_styles()
    framework = active_framework_or_none()
    return render_template(
        "documents/view.html",
        code=doc_code,
        document=loaded.document,
        version=loaded.version,
        rendered=rendered,
        item_name=queries.item_name(services().db, doc_code.item),
        files=attachment_views.attachments().at_commit(doc_code, loaded.version.commit),  # resolved already: no rev-parse
        revision=revision,
        related=_related(loaded.document.meta.related),
        points=[(p, framework.point(p) if framework else None) for p in loaded.document.meta.points],
        flags=_flags(doc_code, framework) if framework and revision is None else [],
        **_workflow_context(doc_code),
    )


def _related(codes: Sequence[DocumentCode]) -> list[tuple[str, str | None]]:
    """Each related document's code and title (None when it is not in the cache), in one query."""
    titles = queries.document_titles(services().db, [str(c) for c in codes])
    return [(str(c), titles.get(str(c))) for c in codes]


def _workflow_context(code: DocumentCode) -> dict[str, object]:
    """The open draft this user may see, whether edits must be drafted, read confirmation."""
    if not current_user.is_authenticated:
        return {}
    workflow = services().workflow
    me = current_actor()
    drafts = workflow.open_visible_to(me, code)
    awaiting = acknowledgements.awaiting(services().db, user_id=me.user_id, departments=me.departments, code=str(code))
    return {
        "open_draft": drafts[0] if drafts else None,
        "must_draft": must_draft(),
        "review_required": review_required(),
        "awaiting_read": awaiting,
    }


def _flags(code: DocumentCode, framework: Framework) -> list[coverage.Flag]:
    """ "Needs review" and integrity flags of this document: only its own rows and its item's 制度's are read."""
    snapshot = coverage.load_snapshot(services().db, codes={str(code), code.item + DocType.Z.value}, catalogue=False)
    changes = services().library.frameworks.point_changes(framework.id)
    return coverage.flags(framework, snapshot, point_changes=changes, codes={str(code)})


@bp.route("/<code>/source")
@read_required
def source(code: str) -> Response:
    doc_code = document_code_or_404(code)
    loaded = load_or_404(doc_code, revision=requested_revision())
    return download(loaded.version.text, filename=f"{doc_code}.md", mimetype="text/markdown")


@bp.route("/<code>/history")
@read_required
def history(code: str) -> str:
    doc_code = document_code_or_404(code)
    revisions = queries.history(services().db, str(doc_code))
    if not revisions:
        abort(404)
    summary = queries.document_summary(services().db, str(doc_code))
    return render_template(
        "documents/history.html",
        code=doc_code,
        revisions=revisions,
        summary=summary,
        editable=summary is not None and can_edit(summary.departments) and not must_draft(),
        head=services().library.repo.head(),
    )


@bp.route("/<code>/diff")
@read_required
def diff(code: str) -> str:
    """Any two versions: `from` and `to` are commits from the history (`to` defaults to head)."""
    doc_code = document_code_or_404(code)
    old, new = requested_revision("from"), requested_revision("to")
    if old is None:
        abort(400, description="请选择要比较的两个版本。")
    repo = services().library.repo
    try:
        old_commit = repo.resolve_published(old)
        new_commit = repo.resolve_published(new) if new else repo.require_head()
    except NotFound:
        abort(404)
    if old_commit == new_commit:
        flash("请选择两个不同的版本进行比较。", "info")
    revisions = {r.commit: r for r in queries.history(services().db, str(doc_code))}
    old_text, new_text = _text_at(repo, doc_code, old_commit), _text_at(repo, doc_code, new_commit)
    return render_template(
        "documents/diff.html",
        code=doc_code,
        summary=queries.document_summary(services().db, str(doc_code)),
        comparison=compare_texts(old_text, new_text, path=doc_code.path),
        indicator_changes=_indicator_changes(doc_code, old_text, new_text),
        old=revisions.get(old_commit),
        new=revisions.get(new_commit),
        old_commit=old_commit,
        new_commit=new_commit,
    )


def _text_at(repo: ContentRepository, code: DocumentCode, commit: str) -> str | None:
    try:
        return repo.read(code.path, revision=commit).text
    except NotFound:
        return None


def _indicator_changes(code: DocumentCode, old: str | None, new: str | None) -> list[str]:
    """A standard's changed targets and warning values, said in words above the text diff."""
    if code.doc_type is not DocType.B:
        return []
    return changes_between(path=code.path, code=str(code), old=old, new=new)


@bp.route("/<code>/restore", methods=["POST"])
@login_required
def restore(code: str) -> ResponseReturnValue:
    """Bring an old version back as a new commit; refused if the document moved meanwhile.

    `Library.restore` checks who may (edit rights, REVIEW_REQUIRED): NotAllowed is the 403 page."""
    doc_code = document_code_or_404(code)
    revision = requested_revision("revision", source=request.form)
    if revision is None:
        abort(400)
    library = services().library
    old = load_or_404(doc_code, revision=revision)
    base = requested_revision("base", source=request.form)
    if base is None:
        abort(400, description="缺少页面打开时的版本号，请刷新修订历史后重试。")
    message = (request.form.get("message") or "").strip()[:300] or f"恢复为 {old.version.commit[:10]} 版本"
    if has_line_break(message):  # a one-line field, like the editor's 修订说明
        abort(400, description="恢复说明只能写成一行，请去掉其中的换行。")
    try:
        result = library.restore(doc_code, revision, actor=current_actor(), message=message, base=base)
    except Conflict:
        abort(409, description="在您查看历史期间该文档又被修改过。请刷新修订历史后重试。")
    flash("已恢复为所选版本。" if result.changed else "所选版本与现行版本相同，无需恢复。", "success")
    return redirect(url_for("documents.view", code=str(doc_code)))
