"""Administration pages: users, departments and the catalogue — administrators only.

One `before_request` hook applies `role_required(Role.ADMIN)` to every route of this blueprint,
so a new route cannot forget the check: anonymous visitors are sent to sign in, other roles get
403. Views read the form and delegate: accounts to `users`, catalogue edits to `catalogue.edit`
through `Library`, which checks the role again (the domain's rule; this hook only spares
building the pages) and writes each edit (with the documents it rewrites) as one commit
authored by the signed-in administrator. A form read at an older catalogue gets a 409 page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from zhengai_docs.catalogue import edit as catalogue_edit
from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.catalogue.model import Catalogue
from zhengai_docs.db import queries
from zhengai_docs.errors import Conflict, InvalidCode, InvalidFrontMatter
from zhengai_docs.users import Role, UserError, create_user, department_user_counts, list_users, set_password, update_user, user_view
from zhengai_docs.web.admin_forms import (
    DepartmentAddForm,
    HeadingAddForm,
    HeadingRenameForm,
    ItemAddForm,
    ItemEditForm,
    ItemMoveForm,
    PasswordResetForm,
    UserCreateForm,
    UserEditForm,
    options,
)
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import after_sessions_revoked, current_actor, role_required
from zhengai_docs.web.lookups import item_code_or_404
from zhengai_docs.workflow import DraftView

bp = Blueprint("admin", __name__, url_prefix="/admin")
Page = str | tuple[str, int]
# Errors a domain function raises for input it refuses; shown on the form, never a 500.
REFUSALS = (catalogue_edit.CatalogueEditError, InvalidCode, InvalidFrontMatter, UserError)


@bp.before_request
@role_required(Role.ADMIN)
def admins_only() -> None:
    """Every route below needs a signed-in administrator (checked on the server)."""


@bp.errorhandler(Conflict)
def conflict(error: Conflict) -> tuple[str, int]:
    on_departments = request.path.startswith(url_for("admin.departments"))
    back = url_for("admin.departments" if on_departments else "admin.catalogue")
    return render_template("admin/conflict.html", error=error, back=back), 409


def _page(template: str, **context: object) -> Page:
    """A page; after a refused POST the same page with status 400."""
    html = render_template(template, **context)
    return (html, 400) if request.method == "POST" else html


def _refused(write: Callable[[], object]) -> str | None:
    """Run one write; the Chinese message when the domain refuses it (Conflict goes to 409)."""
    try:
        write()
    except REFUSALS as exc:
        return exc.message if isinstance(exc, InvalidFrontMatter) else str(exc)
    return None


def _form_error(form: FlaskForm) -> str | None:
    if form.validate_on_submit():
        return None
    return "；".join(e for errors in form.errors.values() for e in errors) or "表单无效，请刷新后重试"


def _catalogue() -> tuple[Catalogue, str | None]:
    return services().library.catalogue()


@bp.route("/")
def index() -> str:
    catalogue, _ = _catalogue()
    return render_template(
        "admin/index.html", users=list_users(services().db), departments=catalogue.departments, items=sum(1 for _ in catalogue.items())
    )


# -- users -----------------------------------------------------------------------------------


def _role(value: str | None) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise UserError("请选择有效的角色") from None


@bp.route("/users")
def users() -> str:
    return render_template("admin/users.html", users=list_users(services().db))


@bp.route("/users/new", methods=["GET", "POST"])
def user_new() -> Page | Response:
    catalogue, _ = _catalogue()
    form = UserCreateForm()
    form.departments.choices = options(catalogue.departments)
    if form.validate_on_submit():
        try:
            user = create_user(
                services().db,
                username=(form.username.data or "").strip(),
                password=form.password.data or "",
                role=_role(form.role.data),
                display_name=form.display_name.data,
                email=form.email.data,
                departments=tuple(form.departments.data or ()),
                known_departments=catalogue.departments,
            )
        except UserError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(f"已创建用户 {user.username}。", "success")
            return redirect(url_for("admin.users"))
    return _page("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int) -> Page | Response:
    db = services().db
    user = user_view(db, user_id)
    if user is None:
        abort(404)
    catalogue, _ = _catalogue()
    current = {"display_name": user.display_name, "email": user.email or "", "role": user.role.value, "active": user.active}
    form = UserEditForm(data={**current, "departments": list(user.departments)})
    form.departments.choices = options(catalogue.departments)
    if form.validate_on_submit():
        try:
            updated = update_user(
                db,
                user_id=user.id,
                acting_user_id=current_user.id,
                role=_role(form.role.data),
                departments=tuple(form.departments.data or ()),
                active=bool(form.active.data),
                display_name=form.display_name.data or "",
                email=form.email.data,
                known_departments=catalogue.departments,
            )
        except UserError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(f"已保存用户 {updated.username}{'' if updated.active else '（已停用）'}。", "success")
            return redirect(url_for("admin.users"))
    stale = [d for d in user.departments if d not in catalogue.departments]
    return _page("admin/user_form.html", form=form, user=user, stale=stale)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def user_password(user_id: int) -> Page | Response:
    db = services().db
    user = user_view(db, user_id)
    if user is None:
        abort(404)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            set_password(db, user_id=user.id, password=form.password.data or "")  # ends the user's sessions
        except UserError as exc:
            form.form_errors.append(str(exc))
        else:
            after_sessions_revoked(user.id)
            flash(f"已重置 {user.username} 的密码，其所有登录已失效；请通过安全渠道告知本人。", "success")
            return redirect(url_for("admin.users"))
    return _page("admin/user_password.html", form=form, user=user)


# -- departments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentUse:
    name: str
    items: int
    documents: int
    users: int

    @property
    def unused(self) -> bool:
        return not (self.items or self.documents or self.users)


@bp.route("/departments")
def departments(error: str | None = None, add_form: DepartmentAddForm | None = None) -> Page:
    catalogue, base = _catalogue()
    documents = queries.documents_per_department(services().db)
    users = department_user_counts(services().db)
    rows = [
        DepartmentUse(
            name=name,
            items=sum(1 for i in catalogue.items() if name in i.departments),
            documents=documents.get(name, 0),
            users=users.get(name, 0),
        )
        for name in catalogue.departments
    ]
    return _page("admin/departments.html", rows=rows, base=base or "", error=error, add_form=add_form or DepartmentAddForm())


@bp.route("/departments", methods=["POST"])
def department_add() -> Page | Response:
    form = DepartmentAddForm()

    def write() -> None:
        name = catalogue_edit.clean_department(form.name.data or "")
        services().library.edit_catalogue(
            lambda c: catalogue_edit.add_department(c, name), actor=current_actor(), message=f"新增部门：{name}", base=form.base_commit
        )

    error = _form_error(form) or _refused(write)
    if error:
        return departments(error=error, add_form=form)
    flash("已新增部门。", "success")
    return redirect(url_for("admin.departments"))


@bp.route("/departments/rename", methods=["POST"])
def department_rename() -> Page | Response:
    old, new, base = (request.form.get(k, "") for k in ("old", "new", "base"))
    error = (
        _check_base(base)
        or _drafts_led_by(old)
        or _refused(lambda: services().library.rename_department(old=old, new=new, actor=current_actor(), base=base or None))
    )
    if error:
        return departments(error=error)
    flash(f"部门 {old} 已更名为 {new.strip()}（目录、文档和用户所属部门已一并更新）。", "success")
    return redirect(url_for("admin.departments"))


@bp.route("/departments/remove", methods=["POST"])
def department_remove() -> Page | Response:
    name, base = request.form.get("name", ""), request.form.get("base", "")
    error = (
        _check_base(base)
        or _drafts_led_by(name)
        or _refused(lambda: services().library.remove_department(name, actor=current_actor(), base=base or None))
    )
    if error:
        return departments(error=error)
    flash(f"已删除部门 {name}。", "success")
    return redirect(url_for("admin.departments"))


def _drafts_led_by(department: str) -> str | None:
    """Open drafts carry their lead departments: renaming under them would bring the old name back."""
    drafts = services().workflow.listing(departments=(department,))
    return f"{department} 牵头的 {_listed(drafts)} 正在修订中。请先发布或放弃这些草稿，再更名或删除该部门。" if drafts else None


def _listed(drafts: Sequence[DraftView]) -> str:
    return "、".join(f"{d.code}（草稿 #{d.id}）" for d in drafts)


def _check_base(base: str) -> str | None:
    """The per-row forms are plain HTML (CSRF is checked by CSRFProtect); check `base` here."""
    return None if base == "" or (len(base) == 40 and all(c in "0123456789abcdef" for c in base)) else "页面版本无效，请刷新后重试"


# -- catalogue -------------------------------------------------------------------------------


def _group_choices(catalogue: Catalogue) -> list[SelectChoice]:
    return [SelectChoice(g.code, f"{g.code} {g.name}") for lv in catalogue.levels for g in lv.groups]


@bp.route("/catalogue")
def catalogue(error: str | None = None, heading_form: HeadingAddForm | None = None, item_form: ItemAddForm | None = None) -> Page:
    current, base = _catalogue()
    item_form = item_form or ItemAddForm()
    item_form.group.choices = _group_choices(current)
    item_form.departments.choices = options(current.departments)
    return _page(
        "admin/catalogue.html",
        catalogue=current,
        base=base or "",
        counts=queries.documents_per_item(services().db),
        error=error,
        heading_form=heading_form or HeadingAddForm(),
        item_form=item_form,
    )


@bp.route("/catalogue/headings", methods=["POST"])
def heading_add() -> Page | Response:
    form = HeadingAddForm()
    code = (form.code.data or "").strip()

    def write() -> None:
        adding = catalogue_edit.add_level if len(code) == 1 else catalogue_edit.add_group
        if len(code) not in (1, 2):
            raise catalogue_edit.CatalogueEditError(f"代码 {code} 无效：一级为一个大写字母（如 G），二级为大写字母加一位数字（如 A5）")
        name = catalogue_edit.clean_name(form.name.data or "", what="一级" if len(code) == 1 else "二级")
        services().library.edit_catalogue(
            lambda c: adding(c, code=code, name=name),
            actor=current_actor(),
            message=f"新增目录分类：{code} {name}",
            base=form.base_commit,
        )

    error = _form_error(form) or _refused(write)
    if error:
        return catalogue(error=error, heading_form=form)
    flash(f"已新增 {code}。", "success")
    return redirect(url_for("admin.catalogue"))


@bp.route("/catalogue/headings/<code>", methods=["POST"])
def heading_rename(code: str) -> Page | Response:
    form = HeadingRenameForm()

    def write() -> None:
        name = catalogue_edit.clean_name(form.name.data or "", what="分类")
        services().library.edit_catalogue(
            lambda c: catalogue_edit.rename_heading(c, code=code, name=name),
            actor=current_actor(),
            message=f"目录分类更名：{code} {name}",
            base=form.base_commit,
        )

    error = _form_error(form) or _refused(write)
    if error:
        return catalogue(error=error)
    flash(f"已更名 {code}。", "success")
    return redirect(url_for("admin.catalogue"))


@bp.route("/catalogue/items", methods=["POST"])
def item_add() -> Page | Response:
    form = ItemAddForm()
    code = (form.code.data or "").strip()

    def write() -> None:
        name = catalogue_edit.clean_name(form.name.data or "", what="条目")
        services().library.edit_catalogue(
            lambda c: catalogue_edit.add_item(
                c, group=form.group.data or "", code=code, name=name, departments=form.departments.data or ()
            ),
            actor=current_actor(),
            message=f"新增条目：{code} {name}",
            base=form.base_commit,
        )

    error = _form_error(form) or _refused(write)
    if error:
        return catalogue(error=error, item_form=form)
    flash(f"已新增条目 {code}。", "success")
    return redirect(url_for("admin.item", code=code))


@bp.route("/catalogue/items/<code>", methods=["GET", "POST"])
def item(code: str, move_form: ItemMoveForm | None = None, error: str | None = None) -> Page | Response:
    code = item_code_or_404(code)
    current, base = _catalogue()
    found = current.item(code)
    if found is None:
        abort(404)
    editing = move_form is None and request.method == "POST"
    form = ItemEditForm(data={"name": found.name, "departments": list(found.departments)}, **({} if editing else {"formdata": None}))
    form.departments.choices = options(current.departments)
    if editing:

        def write() -> None:
            name = catalogue_edit.clean_name(form.name.data or "", what="条目")
            services().library.edit_catalogue(
                lambda c: catalogue_edit.update_item(c, code=code, name=name, departments=form.departments.data or ()),
                actor=current_actor(),
                message=f"修改条目：{code} {name}（牵头部门：{'、'.join(form.departments.data or ())}）",
                base=form.base_commit,
            )

        error = _form_error(form) or _refused(write)
        if error is None:
            flash(f"已保存条目 {code}。", "success")
            return redirect(url_for("admin.item", code=code))
    move_form = move_form or ItemMoveForm(data={"group": found.level2}, formdata=None)
    move_form.group.choices = _group_choices(current)
    view = queries.item_view(services().db, code)
    slots = view[0].slots if view else ()
    return _page("admin/item.html", item=found, base=base or "", form=form, move_form=move_form, slots=slots, error=error)


def _open_drafts_of(item: str) -> str | None:
    """A draft is tied to its document's code: renaming under an open draft would orphan it."""
    drafts = [d for t in DocType for d in services().workflow.open_for(f"{item}{t.value}")]
    return f"{_listed(drafts)} 正在修订中。请先发布或放弃这些草稿，再移动条目。" if drafts else None


@bp.route("/catalogue/items/<code>/move", methods=["POST"])
def item_move(code: str) -> Page | Response:
    code = item_code_or_404(code)
    form = ItemMoveForm()
    new_code = (form.new_code.data or "").strip()
    error = (
        _form_error(form)
        or _open_drafts_of(code)
        or _refused(
            lambda: services().library.move_item(
                code=code, group=form.group.data or "", new_code=new_code, actor=current_actor(), base=form.base_commit
            )
        )
    )
    if error:
        return item(code, move_form=form, error=error)
    flash(f"条目 {code} 已移动为 {new_code}，其文档已随之更名。", "success")
    return redirect(url_for("admin.item", code=new_code))
