"""Campus sign-on routes: CAS sign-in (redirect, ticket callback) and the CAS server's single logout.

The callback URL given to CAS is SITE_URL + CALLBACK_PATH, from the settings only: a Host header
chosen by a client never becomes a service URL. The single-logout POST comes from the CAS server,
not from a page of ours, so it carries no CSRF token; it is trusted only as far as the service
ticket it names (signon/cas.py). Every other form keeps CSRF.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_login import login_user
from werkzeug.wrappers import Response

from zhengai_docs.db import queries
from zhengai_docs.signon.accounts import provision
from zhengai_docs.signon.cas import CasConfig, bind_ticket, single_logout
from zhengai_docs.signon.identity import SignOnRefused
from zhengai_docs.signon.ldap import LdapConfig
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import LoginForm, SessionUser, _safe_next

if TYPE_CHECKING:
    from zhengai_docs.signon.cas_client import CasService
    from zhengai_docs.signon.ldap_directory import LdapDirectory

bp = Blueprint("signon", __name__, url_prefix="/signon")
CALLBACK_PATH = "/signon/cas/callback"
SIGNED_IN_BY = "signon"  # session key: "cas" when this session began at the CAS server
NEXT = "signon_next"


def cas_service() -> CasService | None:
    """The CAS server's client, when CAS is configured (python-cas is loaded only then)."""
    config = CasConfig.from_settings(services().settings, callback_path=CALLBACK_PATH)
    if config is None:
        return None
    from zhengai_docs.signon.cas_client import CasService

    return CasService(config)


def ldap_directory() -> LdapDirectory | None:
    """The campus directory, when LDAP is configured (ldap3 is loaded only then: ~5 MB a process)."""
    config = LdapConfig.from_settings(services().settings)
    if config is None:
        return None
    from zhengai_docs.signon.ldap_directory import LdapDirectory

    return LdapDirectory(config)


def known_departments() -> tuple[str, ...]:
    """The catalogue's departments as last synced (the SQL cache): one query, and a catalogue file
    broken by a push never takes sign-in down with it."""
    return tuple(queries.departments(services().db))


def cas_sign_in_url(next_url: str | None = None) -> str | None:
    """The "统一身份认证登录" link on the sign-in page (None while CAS is off)."""
    if not services().settings.get("CAS_SERVER_URL"):
        return None
    return url_for("signon.cas_login", next=next_url) if next_url else url_for("signon.cas_login")


def cas_sign_out_url() -> str | None:
    """Where sign-out goes after ending our sessions: the CAS server's logout, when CAS signed this session in."""
    if session.get(SIGNED_IN_BY) != "cas":
        return None
    try:
        service = cas_service()
    except SignOnRefused:
        return None
    if service is None:
        return None
    site = str(services().settings.get("SITE_URL") or "").rstrip("/")
    return service.logout_url(return_to=site + "/login")


def cas_origin() -> str | None:
    server = str(services().settings.get("CAS_SERVER_URL") or "")
    parts = urllib.parse.urlsplit(server)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def allow_sign_out_to_cas(response: Response) -> Response:
    """Browsers hold a form's redirects to the submitting page's `form-action`: the 退出 form in
    every page's header is redirected to the CAS server's logout, so its origin is allowed there."""
    origin = cas_origin()
    policy = response.headers.get("Content-Security-Policy")
    if origin and policy and "form-action 'self'" in policy:
        response.headers["Content-Security-Policy"] = policy.replace("form-action 'self'", f"form-action 'self' {origin}", 1)
    return response


def _refused(refused: SignOnRefused) -> tuple[str, int]:
    flash(str(refused), "error")
    return render_template("auth/login.html", form=LoginForm(formdata=None)), refused.status


def _configured_cas() -> CasService:
    """The CAS client, or 404 while CAS is off (SignOnRefused when its settings are unusable)."""
    service = cas_service()
    if service is None:
        abort(404)
    return service


@bp.get("/cas/login")
def cas_login() -> Response | tuple[str, int]:
    try:
        service = _configured_cas()
    except SignOnRefused as refused:
        return _refused(refused)
    session[NEXT] = _safe_next(request.args.get("next"))
    return redirect(service.login_url())


@bp.get("/cas/callback")
def cas_callback() -> Response | tuple[str, int]:
    """The CAS server sends the browser back here with a service ticket; validate it and sign in."""
    try:
        service = _configured_cas()
    except SignOnRefused as refused:
        return _refused(refused)
    ticket = request.args.get("ticket", "")
    if not ticket:
        return redirect(url_for("auth.login"))
    db = services().db
    try:
        identity = service.validate(db, ticket=ticket)
        user = provision(db, identity=identity, known_departments=known_departments())
    except SignOnRefused as refused:
        return _refused(refused)
    bind_ticket(db, ticket=ticket, user_id=user.id)
    login_user(SessionUser(user))
    session[SIGNED_IN_BY] = "cas"
    return redirect(_safe_next(session.pop(NEXT, None)))


@bp.post("/cas/callback")
def cas_single_logout() -> tuple[str, int, dict[str, str]]:
    """The CAS server's logoutRequest (the person signed out there): end that user's sessions here."""
    single_logout(services().db, logout_request=request.form.get("logoutRequest", ""))
    return "", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions["csrf"].exempt(cas_single_logout)  # the CAS server cannot hold our CSRF token
    app.jinja_env.globals["cas_sign_in_url"] = cas_sign_in_url
    app.after_request(allow_sign_out_to_cas)  # runs after security.py's hook, which registers later and sets the policy
