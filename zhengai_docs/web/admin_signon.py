"""统一身份认证 in the administration pages: the group/department → role rules, the switch for local
passwords, and the directory departments the catalogue's department list does not know.

Routes join `admin.bp`, so its before_request hook (administrators only) covers them; the writes
check the role again in the domain (signon/mapping.py, signon/switch.py).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from zhengai_docs.signon.accounts import directory_departments
from zhengai_docs.signon.mapping import RuleKind, add_rule, list_rules, remove_rule
from zhengai_docs.signon.switch import local_passwords_on, set_local_passwords
from zhengai_docs.users import Role, UserError
from zhengai_docs.web.admin import bp
from zhengai_docs.web.admin_forms import ROLE_CHOICES
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import current_actor
from zhengai_docs.web.signon import known_departments


class RuleForm(FlaskForm):
    kind = SelectField("依据", choices=[SelectChoice(k.value, k.label) for k in RuleKind], validate_choice=False)
    value = StringField(
        "组名或部门名称",
        validators=[DataRequired(message="请填写组名或部门名称"), Length(max=200, message="最多 200 个字符")],
        description="与统一身份认证/LDAP 中的名称一致，如 jiaowu-editors 或 教务处",
    )
    role = SelectField("角色", choices=ROLE_CHOICES, default=Role.EDITOR.value, validate_choice=False)
    department = SelectField("授权部门", choices=[], validate_choice=False)


class LocalPasswordsForm(FlaskForm):
    enabled = BooleanField("允许本地密码登录（关闭后只有系统管理员可用本系统密码登录，作为应急账号）")


def _page(*, rule_form: RuleForm | None = None, error: str | None = None) -> str | tuple[str, int]:
    known = known_departments()
    form = rule_form or RuleForm(formdata=None)
    form.department.choices = [SelectChoice("", "本人所在部门"), *(SelectChoice(d, d) for d in known)]
    seen = directory_departments(services().db)
    settings = services().settings
    html = render_template(
        "admin/signon.html",
        rules=list_rules(services().db),
        rule_form=form,
        switch_form=LocalPasswordsForm(formdata=None, data={"enabled": local_passwords_on(services().db)}),
        unknown={name: count for name, count in sorted(seen.items()) if name not in known},
        cas_server=settings.get("CAS_SERVER_URL") or "",
        ldap_server=settings.get("LDAP_URL") or "",
        error=error,
    )
    return (html, 400) if error else html


@bp.get("/signon")
def signon() -> str | tuple[str, int]:
    return _page()


@bp.post("/signon/rules")
def signon_rule_add() -> Response | str | tuple[str, int]:
    form = RuleForm()
    if not form.validate_on_submit():
        return _page(rule_form=form, error="；".join(e for errors in form.errors.values() for e in errors) or "表单无效，请刷新后重试")
    try:
        kind = RuleKind(form.kind.data)
        role = Role(form.role.data)
    except ValueError:
        return _page(rule_form=form, error="请选择有效的依据和角色")
    try:
        rule = add_rule(
            services().db,
            actor=current_actor(),
            kind=kind,
            value=form.value.data or "",
            role=role,
            department=form.department.data or "",
            known_departments=known_departments(),
        )
    except UserError as exc:
        return _page(rule_form=form, error=str(exc))
    flash(f"已添加规则：{rule.kind.label} {rule.value} → {rule.role.label}（{rule.scope_label}），下次登录时生效。", "success")
    return redirect(url_for("admin.signon"))


@bp.post("/signon/rules/<int:rule_id>/remove")
def signon_rule_remove(rule_id: int) -> Response:
    """A plain form per row (CSRFProtect checks its token)."""
    removed = remove_rule(services().db, actor=current_actor(), rule_id=rule_id)
    flash("已删除规则，相关人员下次登录时按其余规则授权。" if removed else "该规则已不存在。", "success" if removed else "info")
    return redirect(url_for("admin.signon"))


@bp.post("/signon/local-passwords")
def signon_local_passwords() -> Response | str | tuple[str, int]:
    form = LocalPasswordsForm()
    if not form.validate_on_submit():
        return _page(error="表单无效，请刷新后重试")
    enabled = bool(form.enabled.data)
    set_local_passwords(services().db, actor=current_actor(), enabled=enabled)
    flash("已允许本地密码登录。" if enabled else "已关闭本地密码登录：只有系统管理员可用本系统密码登录。", "success")
    return redirect(url_for("admin.signon"))
