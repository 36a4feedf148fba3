"""Read-only JSON API: the catalogue, a document (metadata and sanitised HTML), its history.

Same reading rule as the pages (signed in, or anyone when ANONYMOUS_READ is on), but a client
that may not read gets a 401 JSON body instead of a redirect to the sign-in page. Other errors
are JSON too: `web.errors` answers every /api/ path in JSON. Chinese is sent as UTF-8, not
\\u escapes, so `curl` output is readable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, url_for

from zhengai_docs.catalogue.document import Document
from zhengai_docs.db import queries
from zhengai_docs.render.html import render_markdown
from zhengai_docs.web import attachments as attachment_views
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import may_read
from zhengai_docs.web.lookups import document_code_or_404, load_or_404, requested_revision
from zhengai_docs.workflow import approval_record

bp = Blueprint("api", __name__, url_prefix="/api")
F = TypeVar("F", bound=Callable[..., Any])


def api_read_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not may_read():
            return _json({"error": {"status": 401, "title": "需要登录", "message": "请先登录后再访问此接口。"}}, status=401)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _json(data: object, *, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=_encode), status=status, mimetype="application/json")


def _encode(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@bp.route("/catalogue")
@api_read_required
def catalogue() -> Response:
    db = services().db
    levels = [
        {
            "code": level.code,
            "name": level.name,
            "groups": [{"code": g.code, "name": g.name, "items": [_item(i) for i in g.items]} for g in level.groups],
        }
        for level in queries.catalogue_tree(db)
    ]
    return _json({"commit": queries.cache_info(db).commit, "levels": levels})


def _item(item: queries.ItemView) -> dict[str, object]:
    return {
        "code": item.code,
        "name": item.name,
        "departments": list(item.departments),
        "documents": [_slot(s) for s in item.slots],
    }


def _slot(slot: queries.Slot) -> dict[str, object]:
    data: dict[str, object] = {"code": slot.code, "type": slot.doc_type.value, "type_label": slot.doc_type.label}
    if slot.document is None:
        return {**data, "present": False}
    return {
        **data,
        "present": True,
        "title": slot.document.title,
        "status": slot.document.status,
        "url": url_for("api.document", code=slot.code),
    }


@bp.route("/documents/<code>")
@api_read_required
def document(code: str) -> Response:
    doc_code = document_code_or_404(code)
    loaded = load_or_404(doc_code, revision=requested_revision(description="版本号无效"))
    # pictures as site-absolute paths pinned to this commit (/documents/A101Z/images/…?rev=…): the
    # sanitiser admits no scheme in an address, and a pinned address stays right after later edits
    pictures = attachment_views.image_url(doc_code, revision=loaded.version.commit)
    rendered = render_markdown(loaded.document.body, image_url=pictures)
    return _json(
        {
            **_metadata(loaded.document),
            "commit": loaded.version.commit,
            "blob": loaded.version.blob,
            "html": rendered.html,
            # set when the body is beyond the render limits and `html` shows it as plain text
            "render_problem": None if rendered.problem is None else rendered.problem.describe(),
            "headings": [{"level": h.level, "text": h.text, "anchor": h.anchor} for h in rendered.headings],
            "history_url": url_for("api.history", code=str(doc_code)),
        }
    )


def _metadata(document: Document) -> dict[str, object]:
    meta = document.meta
    return {
        "code": str(meta.code),
        "item": meta.code.item,
        "type": meta.doc_type.value,
        "type_label": meta.doc_type.label,
        "title": meta.title,
        "departments": list(meta.departments),
        "status": meta.status.value,
        "issued": meta.issued,
        "doc_number": meta.doc_number,
        "approved_by": meta.approved_by,
        "points": list(meta.points),
        "review_cycle": None if meta.review_cycle is None else {"years": meta.review_cycle.years, "reason": meta.review_cycle.reason},
        "related": [str(r) for r in meta.related],
    }


@bp.route("/documents/<code>/history")
@api_read_required
def history(code: str) -> Response:
    doc_code = document_code_or_404(code)
    revisions = queries.history(services().db, str(doc_code))
    if not revisions:
        abort(404)
    return _json(
        {
            "code": str(doc_code),
            "revisions": [
                {
                    "commit": r.commit,
                    "change": {"A": "added", "M": "modified", "D": "deleted"}.get(r.change, r.change),
                    "author": r.author_name,
                    "date": r.date,
                    "message": r.message,
                    "issued": r.issued,
                    "approval": approval_record(r.message),  # publication of a reviewed draft, else null
                }
                for r in revisions
            ],
        }
    )
