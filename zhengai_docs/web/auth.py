"""Sign-in, sign-out, password change, and the role checks every view uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_url, login_user, logout_user
from flask_login.config import COOKIE_NAME
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from zhengai_docs.db.models import User
from zhengai_docs.permissions import may_edit
from zhengai_docs.signon.accounts import LOCAL
from zhengai_docs.signon.identity import SignOnRefused
from zhengai_docs.signon.passwords import password_sign_in
from zhengai_docs.storage.repository import Author
from zhengai_docs.users import (
    MIN_PASSWORD_LENGTH,
    Account,
    LoginLimits,
    Role,
    SignInRefused,
    check_credentials,
    get_user,
    revoke_sessions,
    session_id,
    set_password,
    user_for_session,
)
from zhengai_docs.web.app import services
from zhengai_docs.workflow import Actor

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
LOGIN_MESSAGE = "请先登录。"


class SessionUser:
    """The signed-in user as Flask-Login sees it: a detached snapshot of the row."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User | Account) -> None:
        self.id = user.id
        self.session_id = session_id(user)
        self.username = user.username
        self.display_name = user.display_name
        self.email = user.email
        self.role = Role(user.role)
        self.departments = tuple(user.department_names)
        self.has_local_password = user.auth_source == LOCAL  # directory accounts change it at the campus platform

    def get_id(self) -> str:
        """Id and session token: Flask-Login keeps this in the session and the remember-me cookie."""
        return self.session_id

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_quality(self) -> bool:
        return self.role in (Role.QUALITY, Role.ADMIN)


def load_session_user(value: str) -> SessionUser | None:
    """Flask-Login's user loader: a session or remember-me cookie whose token was revoked is nobody."""
    user = user_for_session(services().db, session_id=value)
    return None if user is None else SessionUser(user)


def flash_once(message: str, category: str) -> None:
    """Flash a message unless it already waits to be shown (a chain of redirects would repeat it)."""
    if not any(tuple(waiting) == (category, message) for waiting in session.get("_flashes", ())):
        flash(message, category)


def unauthorized() -> Response:
    """Flask-Login's answer to a visitor who must sign in: the sign-in page, coming back afterwards."""
    flash_once(LOGIN_MESSAGE, "info")
    return redirect(login_url("auth.login", next_url=request.url))


def after_sessions_revoked(user_id: int) -> None:
    """Keep this browser signed in when the user whose sessions just ended is the one acting.

    Their other devices stay signed out; a remember-me cookie here is issued again with the new token.
    """
    if not current_user.is_authenticated or current_user.id != user_id:
        return
    user = get_user(services().db, user_id)
    if user is not None and user.active:
        remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
        login_user(SessionUser(user), remember=remembered)


def login_limits() -> LoginLimits:
    settings = services().settings
    return LoginLimits(
        max_failures=int(settings["LOGIN_MAX_FAILURES"]),
        window=dt.timedelta(minutes=int(settings["LOGIN_WINDOW_MINUTES"])),
        address_free_failures=int(settings["LOGIN_ADDRESS_FREE_FAILURES"]),
        address_max_delay=int(settings["LOGIN_ADDRESS_MAX_DELAY_SECONDS"]),
    )


def current_author() -> Author:
    """The signed-in user as a git author: the display name, and an address that identifies them."""
    email = current_user.email or f"{current_user.username}@users.zhengai-docs"
    return Author(name=current_user.display_name or current_user.username, email=email)


def current_actor() -> Actor:
    """The signed-in user as the services see them: every write takes it and checks its rights."""
    author = current_author()
    return Actor(
        user_id=current_user.id,
        username=current_user.username,
        name=author.name,
        email=author.email,
        role=current_user.role,
        departments=current_user.departments,
    )


def review_required() -> bool:
    return services().library.policy.review_required


def must_draft() -> bool:
    """Must the signed-in user's change to a document go through a reviewed draft?

    With REVIEW_REQUIRED only administrators write to the branch directly (corrections): the
    write policy's rule, which `Library.save` enforces; views use it to choose the page.
    """
    return not current_user.is_authenticated or not services().library.policy.writes_directly(current_actor())


def can_edit(departments: Iterable[str]) -> bool:
    """May the signed-in user edit (or create) a document led by `departments`?"""
    return bool(current_user.is_authenticated) and may_edit(current_user.role, current_user.departments, departments)


def may_read() -> bool:
    return bool(current_user.is_authenticated) or bool(services().settings["ANONYMOUS_READ"])


def read_required(view: F) -> F:
    """Reading needs a signed-in user unless ANONYMOUS_READ is on."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not may_read():
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def role_required(*roles: Role) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=80)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=200)])
    remember = BooleanField("在本机保持登录")


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired(message="请输入当前密码")])
    new = PasswordField(
        "新密码",
        validators=[
            DataRequired(message="请输入新密码"),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=f"新密码至少 {MIN_PASSWORD_LENGTH} 个字符"),
        ],
    )
    confirm = PasswordField("再次输入新密码", validators=[EqualTo("new", message="两次输入的新密码不一致")])


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    from zhengai_docs.web.signon import known_departments, ldap_directory

    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = password_sign_in(  # local accounts, then the campus LDAP directory (signon/passwords.py)
                services().db,
                username=form.username.data or "",
                password=form.password.data or "",
                address=request.remote_addr or "unknown",  # the proxy's client address with TRUSTED_PROXIES
                limits=login_limits(),
                directory=ldap_directory(),
                known_departments=known_departments(),
            )
        except SignInRefused as refused:
            flash(str(refused), "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(refused.retry_after)}
        except SignOnRefused as refused:
            flash(str(refused), "error")
            return render_template("auth/login.html", form=form), refused.status
        if user is None:
            flash("用户名或密码不正确。", "error")
            return render_template("auth/login.html", form=form), 200
        login_user(SessionUser(user), remember=bool(form.remember.data))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out everywhere: a new session token voids every copy of this user's cookies; a session
    that began at the CAS server goes on to its logout, which ends the campus session too."""
    from zhengai_docs.web.signon import SIGNED_IN_BY, cas_sign_out_url

    if current_user.is_authenticated:
        revoke_sessions(services().db, user_id=current_user.id)
    campus = cas_sign_out_url()
    logout_user()
    session.pop(SIGNED_IN_BY, None)
    flash("您已退出登录。", "info")
    return redirect(campus or url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response:
    form = PasswordForm()
    if not current_user.has_local_password:
        return render_template("auth/password.html", form=None)
    if form.validate_on_submit():
        svc = services()
        if check_credentials(svc.db, username=current_user.username, password=form.current.data or "") is None:
            form.current.errors.append("当前密码不正确")
        else:
            set_password(svc.db, user_id=current_user.id, password=form.new.data or "")
            after_sessions_revoked(current_user.id)
            flash("密码已修改，其他设备上的登录已失效。", "success")
            return redirect(url_for("catalogue.home"))
    return render_template("auth/password.html", form=form)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a link send users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("catalogue.home")
