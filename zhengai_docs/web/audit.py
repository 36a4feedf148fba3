"""The quality office's views: coverage of the diagnostic framework, gaps, roll-ups, the
points × items matrix, catalogue completeness, integrity flags, a page per point, frameworks.

All staff may read them (transparency is part of 诊改); importing a framework needs the
quality office or an administrator. Every table exports as CSV and XLSX (`?format=csv|xlsx`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import Length, Optional

from zhengai_docs import coverage as cov
from zhengai_docs.catalogue.framework import Framework, InvalidFramework, framework_from_file
from zhengai_docs.db import queries
from zhengai_docs.errors import ImportProblem, NotFound
from zhengai_docs.frameworks import FrameworkVersion
from zhengai_docs.indicators.status import Status as IndicatorStatus
from zhengai_docs.users import Role
from zhengai_docs.web.app import library_state, services
from zhengai_docs.web.auth import current_actor, read_required, role_required
from zhengai_docs.web.exports import table_response
from zhengai_docs.web.lookups import active_framework

bp = Blueprint("audit", __name__, url_prefix="/audit")
T = TypeVar("T")
PAGE_SIZE = 100  # rows per page of the long tables; the exports carry every row
MATRIX_PAGE_SIZE = 50  # 37 cells a row


def _cached(key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """Results depend only on the cached commit, the day and the settings: computed once per
    process and commit (`derived.View.cached`; a 10k-document snapshot takes most of a second)."""
    return library_state().cached(("audit", *key), compute)


def snapshot() -> cov.Snapshot:
    """Every document's audit record, brought forward from the previous commit's."""
    return library_state().snapshot()


def coverage_of(framework: FrameworkVersion, department: str | None) -> cov.Coverage:
    return _cached(("coverage", framework.blob, department), lambda: cov.coverage(framework.framework, snapshot(), department=department))


def flags_of(framework: FrameworkVersion, department: str | None) -> list[cov.Flag]:
    changes = services().library.frameworks.point_changes(framework.framework.id)
    return _cached(
        ("flags", framework.blob, department),
        lambda: cov.flags(framework.framework, snapshot(), point_changes=changes, department=department),
    )


def _department() -> str | None:
    name = (request.args.get("dept") or "").strip()
    if name and name not in queries.departments(services().db):
        abort(404, description=f"没有名为“{name}”的部门。")
    return name or None


def _page_number(rows: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    raw = request.args.get("page", "1")
    pages = max(1, -(-rows // size))
    return (min(int(raw), pages) if raw.isdigit() and int(raw) >= 1 else 1), pages


def _page(template: str, **context: Any) -> str:
    return render_template(
        f"audit/{template}",
        departments=queries.departments(services().db),
        department=context.pop("department", None),
        framework=context.pop("framework", None) or active_framework().framework,
        **context,
    )


@bp.route("/")
@read_required
def overview() -> str:
    department = _department()
    framework = active_framework()
    return _page(
        "overview.html",
        department=department,
        framework=framework.framework,
        coverage=coverage_of(framework, department),
        flag_count=len(flags_of(framework, department)),
        missing=_cached(("completeness", department), lambda: cov.completeness(snapshot(), department=department)),
    )


_CHIP_ORDER = (IndicatorStatus.WARNING, IndicatorStatus.NOT_MET, IndicatorStatus.MISSING, IndicatorStatus.MET)


@bp.route("/coverage")
@read_required
def coverage_tree() -> ResponseReturnValue:
    department = _department()
    version = active_framework()
    framework, result = version.framework, coverage_of(version, department)
    if request.args.get("format"):
        board = library_state().indicator_board()
        rows = []
        for p in result.points:
            tally = board.point_tally(p.point.id, p.point.name, department)
            measured = "、".join(f"{s.label} {tally.count(s)}" for s in _CHIP_ORDER if tally.count(s))  # as the page's chips
            head = [p.point.id, p.point.name, "是" if p.covered else "否", p.gap.label if p.gap else ""]
            if not p.documents:
                rows.append([*head, "", "", "", "", "", "", measured])
            for d in p.documents:
                rows.append([*head, d.code, d.type_label, d.title, d.status_label, "、".join(d.departments), d.cycle_label, measured])
        header = ["诊断点", "名称", "已覆盖", "缺口", "文档", "类型", "标题", "状态", "牵头部门", "修订状态", "质控指标"]
        return table_response("诊断点覆盖", header, rows, request.args["format"], department)
    return _page("coverage.html", department=department, framework=framework, coverage=result, board=library_state().indicator_board())


@bp.route("/gaps")
@read_required
def gaps() -> ResponseReturnValue:
    department = _department()
    version = active_framework()
    framework, result = version.framework, coverage_of(version, department)
    if request.args.get("format"):
        rows = [
            [p.point.id, p.point.name, p.gap.label if p.gap else "", p.point.factors, "、".join(f"{d.code} {d.title}" for d in p.documents)]
            for p in result.gaps
        ]
        header = ["诊断点", "名称", "缺口原因", "影响因素", "现有关联文档"]
        return table_response("诊断点缺口", header, rows, request.args["format"], department)
    return _page("gaps.html", department=department, framework=framework, coverage=result, reasons=list(cov.GapReason))


@bp.route("/matrix")
@read_required
def matrix() -> ResponseReturnValue:
    department = _department()
    level1 = (request.args.get("level1") or "").strip().upper() or None
    if level1 is not None and (len(level1) != 1 or not level1.isalpha()):
        abort(404)
    framework = active_framework().framework
    rows = _cached(("matrix", department, level1), lambda: cov.matrix(framework, snapshot(), department=department, level1=level1))
    points = list(framework.points())
    if request.args.get("format"):
        table = [[r.item, r.name, *[r.cells.get(p.id, "") for p in points]] for r in rows]
        return table_response("诊断点与目录条目矩阵", ["条目", "名称", *[p.id for p in points]], table, request.args["format"], department)
    number, pages = _page_number(len(rows), MATRIX_PAGE_SIZE)
    shown = [(r, [r.cells.get(p.id, "") for p in points]) for r in rows[(number - 1) * MATRIX_PAGE_SIZE : number * MATRIX_PAGE_SIZE]]
    return _page(
        "matrix.html", department=department, framework=framework, rows=shown, points=points, level1=level1, page=number, pages=pages
    )


@bp.route("/completeness")
@read_required
def completeness() -> ResponseReturnValue:
    department = _department()
    snap = snapshot()
    rows = _cached(("completeness", department), lambda: cov.completeness(snap, department=department))
    if request.args.get("format"):
        table = [[r.item, r.name, "、".join(t.label for t in r.missing), "、".join(r.departments)] for r in rows]
        return table_response("目录完整性", ["条目", "名称", "缺少", "牵头部门"], table, request.args["format"], department)
    return _page(
        "completeness.html",
        department=department,
        rows=rows,
        by_department=cov.completeness_by_department(_cached(("completeness", None), lambda: cov.completeness(snap))),
        item_count=len(snap.items),
    )


@bp.route("/flags")
@read_required
def flags() -> ResponseReturnValue:
    department = _department()
    version = active_framework()
    framework = version.framework
    found = flags_of(version, department)
    titles = _cached(("titles",), lambda: {d.code: d.title for d in snapshot().documents})
    if request.args.get("format"):
        table = [[f.code, titles.get(f.code, ""), f.kind.label, f.detail] for f in found]
        return table_response("关联完整性与待复核", ["文档", "标题", "问题", "详情"], table, request.args["format"], department)
    number, pages = _page_number(len(found))
    shown = found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    return _page(
        "flags.html", department=department, framework=framework, flags=shown, total=len(found), titles=titles, page=number, pages=pages
    )


@bp.route("/points/<point_id>")
@read_required
def point(point_id: str) -> str:
    framework = active_framework()
    found = framework.framework.point(point_id)
    if found is None:
        abort(404)
    result = coverage_of(framework, None).point(point_id)
    standards = [d.code for d in result.documents if d.doc_type == "B"] if result else []
    history = _cached(("history", point_id), lambda: cov.coverage_history(services().db, services().library.repo, point_id, standards[:50]))
    element = framework.framework.element(found.element_id)
    indicators = library_state().indicator_board().listed(None, None, point_id)  # worst first; the page shows 50
    return _page(
        "point.html", framework=framework.framework, point=found, element=element, result=result, history=history, indicators=indicators
    )


class FrameworkImportForm(FlaskForm):
    file = FileField("框架文件（.yaml、.csv 或 .xlsx）", validators=[FileRequired(message="请选择文件")])
    framework_id = StringField("框架标识（表格导入时填写，如 hunan-2017）", validators=[Optional(), Length(max=40)])
    name = StringField("框架名称（表格导入时填写）", validators=[Optional(), Length(max=200)])


@bp.route("/frameworks")
@read_required
def frameworks() -> str:
    store = services().library.frameworks
    listed = [store.get(fid).framework for fid in store.ids()]
    return _page(
        "frameworks.html",
        frameworks=listed,
        active=services().settings["ACTIVE_FRAMEWORK"],
        form=FrameworkImportForm(),
        framework=next((f for f in listed if f.id == services().settings["ACTIVE_FRAMEWORK"]), listed[0] if listed else None),
    )


@bp.route("/frameworks/<fid>")
@read_required
def framework(fid: str) -> str:
    try:
        version = services().library.frameworks.get(fid)
    except (NotFound, InvalidFramework):
        abort(404)
    return _page("framework.html", framework=version.framework, active=services().settings["ACTIVE_FRAMEWORK"])


@bp.route("/frameworks/import", methods=["POST"])
@role_required(Role.QUALITY, Role.ADMIN)
def import_framework() -> ResponseReturnValue:
    """A framework change is a commit like any other; warnings are shown, not refused."""
    form = FrameworkImportForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("audit.frameworks"))
    upload = form.file.data
    try:
        parsed = _uploaded_framework(upload, framework=form.framework_id.data or "", name=form.name.data or "")
    except (InvalidFramework, ImportProblem) as exc:
        flash(f"导入失败：{exc}", "error")
        return redirect(url_for("audit.frameworks"))
    result = services().library.import_framework(parsed, actor=current_actor(), message=f"导入诊断框架：{parsed.name}（{parsed.id}）")
    flash(f"已导入 {parsed.name}：{parsed.counts['points']} 个诊断点。" if result.changed else "框架内容没有变化。", "success")
    for warning in parsed.warnings():
        flash(f"注意：{warning}", "info")
    return redirect(url_for("audit.framework", fid=parsed.id))


def _uploaded_framework(upload: Any, *, framework: str, name: str) -> Framework:
    """The upload is written to a file first (never held whole in memory) and then read like a
    file given to `import-framework`: sizes checked before reading, tables streamed."""
    import tempfile
    from pathlib import Path

    filename = upload.filename or ""
    suffix = next((s for s in (".yaml", ".yml", ".csv", ".xlsx") if filename.lower().endswith(s)), None)
    if suffix is None:
        raise InvalidFramework("只支持 .yaml、.csv 和 .xlsx 文件")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"framework{suffix}"  # never the uploaded name
        upload.save(path)
        return framework_from_file(path, framework=framework, name=name, label=filename[-200:])
