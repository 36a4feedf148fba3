"""The search page, the header search box's target, and its JSON twin (/api/search).

Both read the same query arguments (`parse_args`), so a page URL and an API URL with the same
arguments give the same hits. A query that is a catalogue code (A101, a101b) goes straight to
that item or document when it exists. Reading rules are the pages' (signed in, or anyone when
ANONYMOUS_READ is on); the JSON endpoint answers 401 instead of redirecting to sign-in.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from zhengai_docs.catalogue.codes import item_code, level1_code, level2_code
from zhengai_docs.catalogue.document import Status
from zhengai_docs.db import queries
from zhengai_docs.errors import InvalidCode, ZhengaiError
from zhengai_docs.search.backend import IndexMissing, SearchFilters, SearchHit, SearchRequest, SearchResults, Sort
from zhengai_docs.search.query import parse_query
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import may_read, read_required

bp = Blueprint("search", __name__)
PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500
STATUSES = tuple(s.label for s in (Status.IN_FORCE, Status.DRAFT, Status.REPEALED))  # stored values, which are the labels
TYPES = (("Z", "制度"), ("L", "流程"), ("B", "标准"))
_POINT = "0123456789."


class BadQuery(ZhengaiError):
    """A filter value that cannot be right (web.errors answers 400, in JSON under /api/)."""

    status = 400


@dataclass(frozen=True)
class SearchPage:
    """Everything the results template shows."""

    args: MultiDict[str, str]
    request: SearchRequest
    results: SearchResults | None
    unavailable: str | None
    behind: bool  # the index has not reached the branch head yet (a save under way, or a fault)
    departments: list[str]
    levels: list[tuple[str, str]]

    def url(self, **changes: Any) -> str:
        args = MultiDict(self.args)
        for key, value in changes.items():
            args.setlist(key, [str(value)])
        return url_for("search.page", **args.to_dict(flat=False))  # type: ignore[arg-type]  # lists repeat the key


def parse_args(args: MultiDict[str, str], *, per_page: int = PER_PAGE) -> SearchRequest:
    """A SearchRequest from query arguments; BadQuery (400) for values that cannot be right."""
    try:
        types = tuple(t for t in args.getlist("type") if t)
        statuses = tuple(s for s in args.getlist("status") if s)
        if any(t not in dict(TYPES) for t in types) or any(s not in STATUSES for s in statuses):
            raise ValueError("文档类型或状态取值无效")
        item = args.get("item", "").strip().upper()
        filters = SearchFilters(
            doc_types=types,
            level1=level1_code(args["level1"].strip().upper()) if args.get("level1", "").strip() else None,
            level2=level2_code(args["level2"].strip().upper()) if args.get("level2", "").strip() else None,
            item=item_code(item) if item else None,
            departments=tuple(d.strip() for d in args.getlist("department") if d.strip()),
            statuses=statuses,
            points=tuple(_point(p) for raw in args.getlist("point") for p in raw.replace("，", ",").split(",") if p.strip()),
            issued_from=dt.date.fromisoformat(args["from"]) if args.get("from") else None,
            issued_to=dt.date.fromisoformat(args["to"]) if args.get("to") else None,
        )
        sort = Sort(args.get("sort") or Sort.RELEVANCE.value)
        page = int(args.get("page") or 1)
        size = int(args.get("per_page") or per_page)
    except (InvalidCode, ValueError) as exc:
        raise BadQuery(f"搜索条件无效：{exc}") from exc
    if not 1 <= page <= MAX_PAGE or not 1 <= size <= MAX_PER_PAGE:
        raise BadQuery("页码或每页条数超出范围")
    return SearchRequest(text=args.get("q", "").strip(), filters=filters, sort=sort, page=page, per_page=size)


def _point(raw: str) -> str:
    point = raw.strip()
    if not point or any(ch not in _POINT for ch in point) or point.startswith(".") or point.endswith(".") or ".." in point:
        raise ValueError(f"诊断点编号 {raw!r} 无效（应如 2.1 或 2.1.1）")
    return point


def code_target(search: SearchRequest) -> str | None:
    """The page of the item or document a code query names, if it exists."""
    if search.filters.active or search.page != 1:
        return None
    code = parse_query(search.text).code
    if code is None:
        return None
    db = services().db
    if len(code) == 5:
        return url_for("documents.view", code=code) if queries.document_summary(db, code) is not None else None
    return url_for("catalogue.item", code=code) if queries.item_view(db, code) is not None else None


def _run(search: SearchRequest) -> tuple[SearchResults | None, str | None]:
    """(results, None), or (None, why search is unavailable); nothing to run without input."""
    index = services().library.search
    if not search.text and not search.filters.active:
        return None, None
    if index is None:
        return None, "本实例未启用搜索"
    try:
        return index.backend.search(search), None
    except IndexMissing as exc:
        return None, str(exc)


@bp.route("/search")
@read_required
def page() -> Any:
    search = parse_args(request.args)
    target = code_target(search)
    if target is not None:
        return redirect(target)
    results, unavailable = _run(search)
    db = services().db
    view = SearchPage(
        args=MultiDict(request.args),
        request=search,
        results=results,
        unavailable=unavailable,
        behind=results is not None and results.commit != services().library.repo.head(),
        departments=queries.departments(db),
        levels=queries.level_names(db),
    )
    page = render_template("search/results.html", view=view, types=TYPES, type_labels=dict(TYPES), statuses=STATUSES)
    return page, 503 if unavailable else 200


@bp.route("/api/search")
def api() -> Response:
    if not may_read():
        return _json({"error": {"status": 401, "title": "需要登录", "message": "请先登录后再访问此接口。"}}, status=401)
    search = parse_args(request.args)
    target = code_target(search)
    results, unavailable = _run(search)
    if unavailable:
        return _json({"error": {"status": 503, "title": "搜索暂不可用", "message": unavailable}}, status=503)
    return _json(_payload(search, results, redirect_to=target))


def _payload(search: SearchRequest, results: SearchResults | None, *, redirect_to: str | None) -> dict[str, Any]:
    return {
        "query": search.text,
        "redirect": redirect_to,
        "terms": list(results.terms) if results else [],
        "total": results.total if results else 0,
        "page": search.page,
        "per_page": search.per_page,
        "pages": results.pages if results else 1,
        "commit": results.commit if results else None,
        "hits": [_hit(h) for h in results.hits] if results else [],
        "suggestions": [{"text": s.text, "hits": s.hits} for s in results.suggestions] if results else [],
    }


def _hit(hit: SearchHit) -> dict[str, Any]:
    return {
        "code": hit.code,
        "url": url_for("documents.view", code=hit.code),
        "title": hit.title,
        "title_html": hit.title_html,
        "snippet_html": hit.snippet_html,
        "type": hit.doc_type,
        "status": hit.status,
        "departments": list(hit.departments),
        "points": list(hit.points),
        "issued": hit.issued.isoformat() if hit.issued else None,
        "doc_number": hit.doc_number,
        "score": hit.score,
        "title_match": hit.title_match,
        "attachment": hit.attachment,
    }


def _json(data: object, *, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json")


@bp.app_context_processor
def search_box() -> dict[str, Any]:
    """The header search box shows wherever its target may be read."""
    return {"search_box": may_read(), "search_query": request.args.get("q", "") if request.endpoint == "search.page" else ""}
