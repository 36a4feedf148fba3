"""Forms of the administration pages (Flask-WTF, so every one carries a CSRF token).

Choice fields skip WTForms' own choice check, whose message is English: the domain functions
(users, catalogue.edit) check roles and departments and say what is wrong in Chinese.
Catalogue forms carry `base`, the commit the page was read at, so a concurrent edit is a 409.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from zhengai_docs.users import MIN_PASSWORD_LENGTH, Role

ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]


def options(values: Iterable[str]) -> list[SelectChoice]:
    """Choices whose labels are their values (department names)."""
    return [SelectChoice(v, v) for v in values]


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of check boxes (departments)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _most(length: int) -> Length:
    return Length(max=length, message=f"最多 {length} 个字符")


def _departments(label: str) -> CheckboxesField:
    return CheckboxesField(label, choices=[], validate_choice=False)


def _password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(message="请输入密码"),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=f"密码至少 {MIN_PASSWORD_LENGTH} 个字符"),
        ],
    )


class _Versioned(FlaskForm):
    """A catalogue form: `base` is the commit the page showed (empty for an empty repository)."""

    base = HiddenField(validators=[Optional(), Regexp(r"\A[0-9a-f]{40}\Z", message="页面版本无效，请刷新后重试")])

    @property
    def base_commit(self) -> str | None:
        return self.base.data or None


class UserCreateForm(FlaskForm):
    username = StringField(
        "用户名", validators=[DataRequired(message="请输入用户名"), _most(40)], description="字母、数字、点、下划线或连字符"
    )
    display_name = StringField("姓名", validators=[DataRequired(message="请输入姓名"), _most(100)])
    email = StringField("电子邮箱", validators=[Optional(), _most(200)])
    role = SelectField("角色", choices=ROLE_CHOICES, default=Role.READER.value, validate_choice=False)
    departments = _departments("所属部门")
    password = _password("初始密码")
    confirm = PasswordField("再次输入初始密码", validators=[EqualTo("password", message="两次输入的密码不一致")])


class UserEditForm(FlaskForm):
    display_name = StringField("姓名", validators=[DataRequired(message="请输入姓名"), _most(100)])
    email = StringField("电子邮箱", validators=[Optional(), _most(200)])
    role = SelectField("角色", choices=ROLE_CHOICES, validate_choice=False)
    departments = _departments("所属部门")
    active = BooleanField("账号启用（停用后不能登录，历史记录保留）")


class PasswordResetForm(FlaskForm):
    password = _password("新密码")
    confirm = PasswordField("再次输入新密码", validators=[EqualTo("password", message="两次输入的密码不一致")])


class DepartmentAddForm(_Versioned):
    name = StringField("部门名称", validators=[DataRequired(message="请输入部门名称"), _most(100)])


class DepartmentRenameForm(_Versioned):
    old = HiddenField(validators=[DataRequired(message="缺少原部门名称")])
    new = StringField("新名称", validators=[DataRequired(message="请输入新名称"), _most(100)])


class DepartmentRemoveForm(_Versioned):
    name = HiddenField(validators=[DataRequired(message="缺少部门名称")])


class HeadingAddForm(_Versioned):
    """A level-1 (one letter, G) or level-2 (letter and digit, A5) heading."""

    code = StringField(
        "代码", validators=[DataRequired(message="请输入代码")], description="一级为一个字母（如 G），二级为字母加数字（如 A5）"
    )
    name = StringField("名称", validators=[DataRequired(message="请输入名称"), _most(200)])


class HeadingRenameForm(_Versioned):
    name = StringField("新名称", validators=[DataRequired(message="请输入名称"), _most(200)])


class ItemAddForm(_Versioned):
    group = SelectField("所属二级", choices=[], validate_choice=False)
    code = StringField("条目代码", validators=[DataRequired(message="请输入条目代码")], description="如 A109：前两位是所属二级")
    name = StringField("条目名称", validators=[DataRequired(message="请输入条目名称"), _most(200)])
    departments = _departments("牵头部门")


class ItemEditForm(_Versioned):
    name = StringField("条目名称", validators=[DataRequired(message="请输入条目名称"), _most(200)])
    departments = _departments("牵头部门")


class ItemMoveForm(_Versioned):
    group = SelectField("移到二级", choices=[], validate_choice=False)
    new_code = StringField("新代码", validators=[DataRequired(message="请输入新代码")], description="前两位须与所选二级一致，如 A203")
