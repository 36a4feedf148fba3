"""Revision-cycle pages: dashboards, a document's cycles, "reviewed, no change", exports.

Views read the query string, call `zhengai_docs.cycles` and render; the rules live there.
`_today()` is the one place the wall clock is read (tests replace it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from zhengai_docs.catalogue.codes import level1_code
from zhengai_docs.cycles import export, report, rules
from zhengai_docs.cycles.chart import bar_chart
from zhengai_docs.cycles.review import MAX_REASON, confirm_review
from zhengai_docs.errors import InvalidCode
from zhengai_docs.permissions import may_confirm_review
from zhengai_docs.publishing import word_template
from zhengai_docs.spreadsheets import CSV_MIMETYPE
from zhengai_docs.web.app import library_state, services
from zhengai_docs.web.auth import current_actor, read_required
from zhengai_docs.web.lookups import DOCX_MIMETYPE, document_code_or_404, download, load_or_404

bp = Blueprint("cycles", __name__, url_prefix="/cycles")
PAGE_SIZE = 100
T = TypeVar("T")
DASHBOARD_LIST = 30


def _today() -> dt.date:
    return library_state().today


def _policy() -> rules.Policy:
    return services().policy


@dataclass(frozen=True)
class Filters:
    """The scope of a dashboard or export, read from the query string."""

    departments: tuple[str, ...] | None
    level1: str | None

    @property
    def label(self) -> str:
        parts = ["、".join(self.departments)] if self.departments else []
        if self.level1:
            parts.append(f"一级 {self.level1}")
        return "，".join(parts) or "全部文档"

    def query(self, **changes: object) -> dict[str, object]:
        """URL parameters that keep this scope (with some changed), for links and exports."""
        return {"dept": list(self.departments or ()), "level": self.level1 or None, **changes}


def _filters(departments: tuple[str, ...] | None = None) -> Filters:
    names = departments if departments is not None else tuple(d for d in request.args.getlist("dept")[:20] if d.strip())
    level = request.args.get("level") or None
    if level is not None:
        try:
            level1_code(level)
        except InvalidCode:
            abort(400)
    return Filters(departments=names or None, level1=level)


def _cached(key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """A result for this commit, day and policy, computed once per process (`derived.View.cached`)."""
    return library_state().cached(("cycles", *key), compute)


def all_cycles() -> list[report.DocumentCycle]:
    """Every document's clock, brought forward from the previous commit's."""
    return library_state().cycles()


def _closed_cycles(years: int) -> dict[str, rules.Punctuality]:
    """Each document's revision cycles closed in the window, brought forward like `all_cycles`."""
    return library_state().closed_cycles(years)


def _cycles(filters: Filters) -> list[report.DocumentCycle]:
    everything = all_cycles()
    if filters.departments is None and filters.level1 is None:
        return everything
    return _cached(("scope", filters), lambda: report.scope(everything, departments=filters.departments, level1=filters.level1))


def _attention(filters: Filters, state: rules.State) -> list[report.DocumentCycle]:
    return _cached(("attention", filters, state), lambda: report.attention(_cycles(filters), state))


class ReviewForm(FlaskForm):
    reason = TextAreaField(
        "审核未修订的理由", validators=[DataRequired(message="请填写理由"), Length(max=MAX_REASON, message=f"理由不超过 {MAX_REASON} 字")]
    )
    base = HiddenField()


@bp.app_context_processor
def cycle_helpers() -> dict[str, object]:
    """`cycle_clock(code)` for chips wherever a document appears; `may_review(departments)` for the form."""

    def cycle_clock(code: object) -> rules.Clock | None:
        """One query: a chip needs neither the document's departments nor where the cache is."""
        return report.document_clock(services().db, str(code), policy=_policy(), today=services().state.today())

    def may_review(departments: tuple[str, ...] | list[str]) -> bool:
        if not current_user.is_authenticated:
            return False
        return may_confirm_review(current_user.role, current_user.departments, departments)

    return {"cycle_clock": cycle_clock, "may_review": may_review}


@bp.route("/")
@read_required
def dashboard() -> str:
    return _dashboard(_filters(), title="修订周期总览")


@bp.route("/mine")
@read_required
def mine() -> str:
    """The editor's departments; everyone else (no department, or reading anonymously) sees all."""
    if not current_user.is_authenticated or not current_user.departments:
        flash("您的账号没有所属部门，下面显示全部文档的修订周期。", "info")
        return _dashboard(_filters(), title="修订周期总览")
    departments = tuple(current_user.departments)
    return _dashboard(_filters(departments), title=f"本部门修订周期（{'、'.join(departments)}）", mine=True)


def _dashboard(filters: Filters, *, title: str, mine: bool = False) -> str:
    quarterly = request.args.get("by") == "quarter"
    return render_template(
        "cycles/dashboard.html",
        title=title,
        mine=mine,
        filters=filters,
        today=_today(),
        policy=_policy(),
        quarterly=quarterly,
        limit=DASHBOARD_LIST,
        states=rules.State,
        **_cached(("dashboard", filters, quarterly), lambda: _dashboard_data(filters, quarterly=quarterly)),
    )


def _dashboard_data(filters: Filters, *, quarterly: bool) -> dict[str, object]:
    db = services().db
    cycles = _cycles(filters)
    return {
        "totals": report.totals(cycles),
        "departments": report.by_department(cycles, report.department_order(db)),
        "levels": report.by_level(cycles, report.level_names(db)),
        "chart": bar_chart(report.due_histogram(cycles, today=_today(), quarterly=quarterly), quarterly=quarterly),
        "overdue": _attention(filters, rules.State.OVERDUE),
        "due_soon": _attention(filters, rules.State.DUE_SOON),
    }


@bp.route("/list")
@read_required
def listing() -> str:
    filters = _filters()
    state = _state(request.args.get("state", rules.State.OVERDUE.value))
    page = request.args.get("page", 1, type=int) or 1
    chosen = _attention(filters, state)
    pages = max((len(chosen) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    if not 1 <= page <= pages:
        abort(404)
    return render_template(
        "cycles/list.html",
        filters=filters,
        state=state,
        cycles=chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(chosen),
        page=page,
        pages=pages,
        today=_today(),
    )


def _state(value: str) -> rules.State:
    try:
        return rules.State(value)
    except ValueError:
        abort(400)


@bp.route("/ontime")
@read_required
def ontime() -> str:
    years = min(max(request.args.get("years", 3, type=int) or 3, 1), 10)
    today = _today()
    db = services().db
    found = _cached(
        ("ontime", years),
        lambda: report.punctuality_by_department(_closed_cycles(years), all_cycles(), order=report.department_order(db)),
    )
    since = rules.window_start(today, years)
    return render_template("cycles/ontime.html", rows=found.departments, overall=found.overall, years=years, today=today, since=since)


@bp.route("/export.<fmt>")
@read_required
def export_report(fmt: str) -> Response:
    filters = _filters()
    today = _today()
    states = [_state(s) for s in request.args.getlist("state")] or list(report.ATTENTION)
    chosen = [c for state in states for c in _attention(filters, state)]
    name = f"修订周期报告-{today.isoformat()}"
    if fmt == "csv":
        return download(export.to_csv(chosen), filename=f"{name}.csv", mimetype=CSV_MIMETYPE)
    if fmt == "docx":
        college = services().settings["COLLEGE_NAME"]
        template = word_template(services().settings, Path(current_app.instance_path))
        data = export.to_docx(chosen, title=f"{college}制度、流程、标准修订周期报告", today=today, scope=filters.label, template=template)
        return download(data, filename=f"{name}.docx", mimetype=DOCX_MIMETYPE)
    abort(404)


@bp.route("/documents/<code>")
@read_required
def document(code: str) -> str:
    doc_code = document_code_or_404(code)
    loaded = load_or_404(doc_code)
    policy = _policy()
    years = policy.cycle_years(doc_code.doc_type, loaded.document.meta.review_cycle.years if loaded.document.meta.review_cycle else None)
    events = rules.cycle_events(report.revision_points(services().db, str(doc_code)), years=years)
    return render_template(
        "cycles/document.html",
        code=doc_code,
        document=loaded.document,
        version=loaded.version,
        clock=report.document_cycle(services().db, str(doc_code), policy=policy, today=_today()),
        events=list(reversed(events)),
        form=ReviewForm(formdata=None, base=loaded.version.commit),
    )


@bp.route("/documents/<code>/review", methods=["POST"])
@login_required
def review(code: str) -> str | BaseResponse | tuple[str, int]:
    """`confirm_review` checks who may confirm (NotAllowed: the 403 page says why)."""
    doc_code = document_code_or_404(code)
    form = ReviewForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("cycles.document", code=str(doc_code)))
    result = confirm_review(
        services().library, doc_code, actor=current_actor(), reason=form.reason.data or "", day=_today(), base=form.base.data or None
    )
    flash(f"已记录“审核未修订”（版本 {result.commit[:10]}），修订周期自今日重新起算。", "success")
    return redirect(url_for("cycles.document", code=str(doc_code)))
