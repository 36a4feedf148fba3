"""质控指标 pages: the warning overview (per department, per status), a standard's indicators,
one indicator's trend and values with the entry form, and the import from the data platform.

Reading is for all staff, like the audit views; entering values is for the responsible
departments' editors — checked in `indicators.results`, not here (views turn refusals into pages).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from zhengai_docs.db import queries
from zhengai_docs.errors import ImportProblem, NotAllowed, Refused
from zhengai_docs.indicators import importer, periods, results
from zhengai_docs.indicators.board import Board, IndicatorState
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.indicators.chart import trend
from zhengai_docs.indicators.declaration import Indicator
from zhengai_docs.indicators.status import Status, evaluate
from zhengai_docs.permissions import may_enter_results, may_use_editor
from zhengai_docs.web.app import library_state, services
from zhengai_docs.web.auth import current_actor, read_required
from zhengai_docs.web.exports import table_response
from zhengai_docs.web.lookups import active_framework, document_code_or_404

bp = Blueprint("indicators", __name__, url_prefix="/indicators")
PAGE_SIZE = 100
TREND_PERIODS = 8


@bp.record_once
def _status_names(state: Any) -> None:
    """Templates (and their macros) name statuses by the enum that defines them (labels, colours)."""
    state.app.jinja_env.globals["IndicatorStatus"] = Status


def board() -> Board:
    return library_state().indicator_board()


def _department() -> str | None:
    name = (request.args.get("dept") or "").strip()
    if name and name not in queries.departments(services().db):
        abort(404, description=f"没有名为“{name}”的部门。")
    return name or None


def _status() -> Status | None:
    raw = request.args.get("status") or ""
    try:
        return Status(raw) if raw else None
    except ValueError:
        abort(404)


def _row(s: IndicatorState) -> list[Any]:
    i = s.indicator
    return [i.code, s.title, i.name, periods.label(s.period), s.value, i.target.text, i.warning.text if i.warning else "",
            s.status.label, s.previous_value, "、".join(i.departments), "、".join(i.points)]  # fmt: skip


@bp.route("/")
@read_required
def overview() -> ResponseReturnValue:
    department, status = _department(), _status()
    point = (request.args.get("point") or "").strip() or None
    current = board()
    shown = current.listed(department, status, point)
    if request.args.get("format"):
        header = ["标准", "标准名称", "指标", "周期", "测量结果", "目标值", "预警值", "状态", "上期结果", "责任部门", "诊断点"]
        return table_response("质控指标", header, [_row(s) for s in shown], request.args["format"], department)
    number, pages = _page_number(len(shown))
    return render_template(
        "indicators/overview.html",
        board=current,
        tally=current.counts(department),
        departments=queries.departments(services().db),
        department=department,
        status=status,
        point=point,
        statuses=list(Status),
        states=shown[(number - 1) * PAGE_SIZE : number * PAGE_SIZE],
        total=len(shown),
        page=number,
        pages=pages,
        by_department=current.by_department() if department is None else [],
    )


def _page_number(rows: int) -> tuple[int, int]:
    raw = request.args.get("page", "1")
    pages = max(1, -(-rows // PAGE_SIZE))
    return (min(int(raw), pages) if raw.isdigit() and int(raw) >= 1 else 1), pages


@bp.route("/points")
@read_required
def points() -> ResponseReturnValue:
    """Diagnostic points with an indicator in warning, with roll-ups per element and item."""
    department = _department()
    framework = active_framework().framework
    current = board()
    warned = current.points_with_warning(framework, department)
    if request.args.get("format"):
        rows = [[p.id, p.name, s.indicator.code, s.indicator.name, s.value, s.indicator.warning.text if s.indicator.warning else ""]
                for p, states in warned for s in states]  # fmt: skip
        return table_response(
            "预警诊断点", ["诊断点", "名称", "标准", "指标", "测量结果", "预警值"], rows, request.args["format"], department
        )
    return render_template(
        "indicators/points.html",
        framework=framework,
        warned=warned,
        board=current,
        department=department,
        departments=queries.departments(services().db),
    )


@bp.route("/documents/<code>")
@read_required
def document(code: str) -> str:
    doc_code = document_code_or_404(code)
    summary = queries.document_summary(services().db, str(doc_code))
    if summary is None:
        abort(404)
    states = board().of_document(str(doc_code))
    declared = {s.indicator.key for s in states}
    others = [i for i in load_indicators(services().db, codes=[str(doc_code)], in_force_only=False) if i.key not in declared]
    return render_template("indicators/document.html", code=doc_code, summary=summary, states=states, others=others)


class EntryForm(FlaskForm):
    period = SelectField("统计周期", validate_choice=False)
    value = StringField("测量结果", validators=[Optional(), Length(max=40)])
    note = StringField("备注（数据来源、更正原因等）", validators=[Optional(), Length(max=500)])
    withdraw = HiddenField()


@bp.route("/documents/<code>/<path:key>", methods=["GET", "POST"])
@read_required
def indicator(code: str, key: str) -> ResponseReturnValue:
    doc_code = document_code_or_404(code)
    found = [i for i in load_indicators(services().db, codes=[str(doc_code)], in_force_only=False) if i.key == key]
    if not found:
        abort(404)
    declared = found[0]
    today = library_state().today
    history = results.history(services().db, code=declared.code, key=declared.key)
    latest = results.current(history)
    choices = periods.recent(declared.period, today, 6)
    running = periods.following(choices[-1])
    if periods.open_for_entry(running, today):
        choices.append(running)  # the period under way (e.g. a semester's mid-term figures)
    form = EntryForm()
    form.period.choices = [(k, periods.label(k)) for k in reversed(choices)]
    status = 200
    if request.method == "POST":
        outcome = _enter(form, declared, latest, today)
        if outcome is None:
            return redirect(url_for("indicators.indicator", code=declared.code, key=declared.key))
        status = outcome
    elif not form.period.data:
        form.period.data = periods.due(declared.period, today)
    shown = sorted(set(latest) | set(periods.recent(declared.period, today, TREND_PERIODS)), key=periods.sort_key)[-TREND_PERIODS:]
    state = board().get(declared.code, declared.key)
    return render_template(
        "indicators/indicator.html",
        indicator=declared,
        state=state,
        summary=queries.document_summary(services().db, declared.code),
        chart=trend(declared, latest, shown=shown),
        rows=_period_rows(declared, history),
        form=form,
        may_enter=current_user.is_authenticated and may_enter_results(current_user.role, current_user.departments, declared.departments),
        expected={k: e.revision for k, e in latest.items()},
        label=periods.label,
    ), status


def _enter(form: EntryForm, declared: Indicator, latest: dict[str, results.Entry], today: Any) -> int | None:
    """Record the form's value; None when saved, else the HTTP status of the page shown again."""
    if not form.validate_on_submit():
        return 400
    withdraw = form.withdraw.data == "1"
    if not withdraw and not (form.value.data or "").strip():
        form.value.errors = [*form.value.errors, "请填写测量结果"]
        return 400
    raw = request.form.get(f"expected-{form.period.data}", "0")  # the revision the page showed for that period
    if not raw.isdigit():
        abort(400)
    expected = int(raw)
    try:
        entry = results.record(
            services().db,
            policy=services().library.policy,
            actor=current_actor(),
            indicator=declared,
            period=form.period.data or "",
            value=None if withdraw else form.value.data,
            note=form.note.data or "",
            expected=expected,
            today=today,
        )
    except NotAllowed:
        abort(403)
    except results.EntryConflict as exc:
        flash(str(exc), "error")
        return 409
    except Refused as exc:
        form.value.errors = [*form.value.errors, str(exc)]
        return 400
    state = board().get(declared.code, declared.key)
    message = f"已保存：{periods.label(entry.period)} {declared.name} " + (
        "已撤回" if entry.value is None else f"{entry.value_text}{declared.unit}"
    )
    if state is not None and state.period == entry.period:
        message += f"（{state.status.label}）"
    flash(message, "error" if state is not None and state.status is Status.WARNING and state.period == entry.period else "success")
    return None


def _period_rows(declared: Indicator, history: list[results.Entry]) -> list[tuple[str, list[results.Entry], Status]]:
    """(period, its entries newest first, status of the current one), newest period first."""
    grouped: dict[str, list[results.Entry]] = {}
    for entry in history:
        grouped.setdefault(entry.period, []).append(entry)
    rows = []
    for key in sorted(grouped, key=periods.sort_key, reverse=True):
        entries = sorted(grouped[key], key=lambda e: -e.revision)
        rows.append((key, entries, evaluate(declared, entries[0].value)))
    return rows


class ImportForm(FlaskForm):
    file = FileField("数据文件（.csv 或 .xlsx）", validators=[FileRequired(message="请选择文件")])


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_values() -> ResponseReturnValue:
    """Preview (the default) or apply a table of values; applying needs a plan without problems."""
    if not may_use_editor(current_user.role, current_user.departments):
        abort(403)  # values are entered by departments' editors; each row is checked against theirs
    form = ImportForm()
    plan, applied = None, None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400
        else:
            upload = form.file.data
            suffix = next((s for s in (".csv", ".xlsx") if (upload.filename or "").lower().endswith(s)), None)
            if suffix is None:
                flash("只支持 .csv 和 .xlsx 文件", "error")
                return render_template("indicators/import.html", form=form, plan=None, applied=None, describe=importer.describe), 400
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"values{suffix}"  # never the uploaded name
                upload.save(path)
                try:
                    plan = importer.plan_file(
                        services().db, path, policy=services().library.policy, actor=current_actor(), today=library_state().today
                    )
                except ImportProblem as exc:
                    flash(f"无法读取：{exc}", "error")
                    status = 400
            if plan is not None and request.form.get("apply") == "1":
                if not plan.ok:
                    flash("表中有问题行，未导入；请修改后重新导入。", "error")
                    status = 400
                else:
                    try:
                        applied = importer.apply(services().db, plan, actor=current_actor())
                    except results.EntryConflict as exc:
                        flash(str(exc), "error")
                        status = 409
                    else:
                        flash(f"已导入 {applied} 个数值。", "success")
    return render_template("indicators/import.html", form=form, plan=plan, applied=applied, describe=importer.describe), status


def home_summary() -> dict[str, Any] | None:
    """For the home page: the signed-in user's departments' warnings and missing values (the
    quality office and administrators: the whole college's)."""
    if not current_user.is_authenticated:
        return None
    current = board()
    mine = tuple(current_user.departments)
    if not mine and current_user.role.value not in ("quality", "admin"):
        return None
    total, warnings, attention = current.attention(mine)
    scope = "、".join(mine) if mine else "全校"
    return {
        "scope": scope,
        "warnings": warnings,
        "total": total,
        "states": attention[:20],
        "more": max(0, len(attention) - 20),
        "department": mine[0] if len(mine) == 1 else None,
    }


@bp.route("/reports/self-diagnosis/<int:year>/<element_id>/review", methods=["POST"])
@login_required
def review(year: int, element_id: str) -> ResponseReturnValue:
    """Record the external review's finding for one element (quality office, administrators)."""
    from zhengai_docs.indicators.review import record_finding

    framework = active_framework().framework
    if framework.element(element_id) is None or not 2000 <= year <= 2100:
        abort(404)
    agrees, expected = request.form.get("agrees"), request.form.get("expected", "0")
    if agrees not in ("0", "1") or not expected.isdigit():
        abort(400)
    try:
        record_finding(
            services().db, policy=services().library.policy, actor=current_actor(), framework=framework.id, year=year,
            element_id=element_id, agrees=agrees == "1", note=request.form.get("note", ""), expected=int(expected),
        )  # fmt: skip
    except NotAllowed:
        abort(403)
    except (results.EntryConflict, Refused) as exc:
        flash(str(exc), "error")
    else:
        flash(f"已录入 {element_id} 的复核结论。", "success")
    return redirect(url_for("word.self_diagnosis", year=year) + f"#e-{element_id}")
