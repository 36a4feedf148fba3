"""Document pages: the rendered document, its Markdown source and its history."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.db import queries
from zhengai_docs.errors import InvalidCode, NotFound
from zhengai_docs.render.html import render_markdown
from zhengai_docs.storage.paths import revision_id
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import read_required

bp = Blueprint("documents", __name__, url_prefix="/documents")


def _code(code: str) -> DocumentCode:
    try:
        return document_code(code)
    except InvalidCode:
        abort(404)


def _revision() -> str | None:
    raw = request.args.get("rev")
    if raw is None:
        return None
    try:
        return revision_id(raw)
    except InvalidCode:
        abort(400)


@bp.route("/<code>")
@read_required
def view(code: str) -> str:
    doc_code = _code(code)
    revision = _revision()
    library = services().library
    try:
        loaded = library.load(doc_code, revision=revision)
    except NotFound:
        abort(404)
    item = queries.item_view(services().db, doc_code.item)
    return render_template(
        "documents/view.html",
        code=doc_code,
        document=loaded.document,
        version=loaded.version,
        rendered=render_markdown(loaded.document.body),
        item=item[0] if item else None,
        revision=revision,
        related=[(str(r), queries.document_summary(services().db, str(r))) for r in loaded.document.meta.related],
    )


@bp.route("/<code>/source")
@read_required
def source(code: str) -> Response:
    doc_code = _code(code)
    try:
        version = services().library.repo.read(doc_code.path, revision=_revision())
    except NotFound:
        abort(404)
    return Response(
        version.text,
        mimetype="text/markdown",
        headers={"Content-Disposition": f"attachment; filename={doc_code}.md"},
    )


@bp.route("/<code>/history")
@read_required
def history(code: str) -> str:
    doc_code = _code(code)
    revisions = queries.history(services().db, str(doc_code))
    if not revisions:
        abort(404)
    summary = queries.document_summary(services().db, str(doc_code))
    return render_template("documents/history.html", code=doc_code, revisions=revisions, summary=summary)
