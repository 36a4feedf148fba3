"""The Flask app factory: settings, services, blueprints, security headers, error pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, redirect, request, url_for
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from zhengai_docs import inbox
from zhengai_docs.background import PAGE_SYNC_DOCUMENTS
from zhengai_docs.bootstrap import SHANGHAI
from zhengai_docs.config import resolve_path
from zhengai_docs.derived import View
from zhengai_docs.services import Services, instance_path_from, instance_secret, load_services
from zhengai_docs.web.assets import Assets
from zhengai_docs.workflow import approval_record, subject


def services() -> Services:
    return current_app.extensions["zhengai"]


def library_state() -> View:
    """Whole-library values for this request, at the commit the cache is at (asked once per request)."""
    if "library_state" not in g:
        g.library_state = services().state.at()
    return g.library_state


def request_limit(settings: Mapping[str, Any]) -> int:
    """The largest request body: MAX_UPLOAD_MB, or an ATTACHMENT_MAX_BYTES file plus room for the
    form around it (the editor's text travels with an upload), whichever is larger. Anything
    larger is a 413 page before a byte is written."""
    return max(int(settings["MAX_UPLOAD_MB"]) * 1024 * 1024, int(settings["ATTACHMENT_MAX_BYTES"]) + 2 * 1024 * 1024)


def build_app(config: Mapping[str, Any] | None, *, instance_path: str | None) -> Flask:
    instance = instance_path_from(instance_path)
    app = Flask("zhengai_docs", instance_path=str(instance), template_folder="web/templates", static_folder="web/static")
    svc = load_services(instance, config)
    settings = svc.settings
    app.extensions["zhengai"] = svc
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"] or instance_secret(instance),
        MAX_CONTENT_LENGTH=request_limit(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings["SESSION_COOKIE_SECURE"]),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=bool(settings["SESSION_COOKIE_SECURE"]),
        REMEMBER_COOKIE_DURATION=dt.timedelta(days=int(settings["REMEMBER_DAYS"])),
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=bool(settings.get("TESTING", False)),
        WTF_CSRF_ENABLED=bool(settings.get("WTF_CSRF_ENABLED", True)),
    )
    if settings.get("SERVER_NAME"):
        app.config["SERVER_NAME"] = settings["SERVER_NAME"]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # JSON bodies (API errors too) as readable UTF-8
    if int(settings["TRUSTED_PROXIES"]) > 0:  # otherwise X-Forwarded-* is anyone's to forge
        hops = int(settings["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    _static_assets(app, resolve_path(instance, settings["STATIC_CACHE"]))
    svc.start_background()
    CSRFProtect(app)
    _login_manager(app)
    _register(app)
    return app


def _static_assets(app: Flask, cache: Path) -> None:
    """Hashed, compressed, immutable static files (`web/assets.py`); `asset_url()` links them."""
    assets = Assets(source=Path(app.static_folder or ""), cache=cache).build()
    app.wsgi_app = assets.middleware(app.wsgi_app, prefix=app.static_url_path or "/static")  # type: ignore[method-assign]
    app.jinja_env.globals["asset_url"] = lambda filename: url_for("static", filename=assets.url_name(filename))

    @app.get("/favicon.ico")
    def favicon() -> Any:
        """Browsers ask for /favicon.ico on their own; the icon itself is a cached SVG."""
        return redirect(url_for("static", filename=assets.url_name("favicon.svg")), code=301)


def _login_manager(app: Flask) -> None:
    from zhengai_docs.web.auth import load_session_user, unauthorized

    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.user_loader(load_session_user)  # "<id>:<session token>": revoked tokens sign nobody in
    manager.unauthorized_handler(unauthorized)  # "请先登录。" flashed once, however many redirects


def _register(app: Flask) -> None:
    import zhengai_docs.web.admin_signon  # noqa: F401 - its routes join admin.bp before it is registered
    from zhengai_docs.web import admin, api, audit, auth, catalogue, cycles, documents, drafts, editing, errors, health, security, wording
    from zhengai_docs.web import indicators as indicator_views
    from zhengai_docs.web import search as search_views
    from zhengai_docs.web import signon as signon_views
    from zhengai_docs.web import word as word_views

    app.register_blueprint(auth.bp)
    app.register_blueprint(signon_views.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(catalogue.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(cycles.bp)
    app.register_blueprint(editing.bp)
    app.register_blueprint(drafts.bp)
    app.register_blueprint(word_views.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(indicator_views.bp)
    from zhengai_docs.web import attachments as attachment_views
    from zhengai_docs.web import editor_pictures

    app.register_blueprint(attachment_views.bp)  # issue 19: 附件 and pictures
    app.register_blueprint(editor_pictures.bp)  # issue 19: 插入图片 in the editors
    app.jinja_env.globals["can_edit"] = auth.can_edit
    app.jinja_env.globals["approval_record"] = approval_record
    app.jinja_env.globals["message_subject"] = subject
    app.jinja_env.globals["header_who"] = wording.who  # issue 18: names said once, the program's name as 系统
    app.jinja_env.globals["product_name"] = wording.PRODUCT_NAME
    app.jinja_env.filters["person"] = wording.person
    errors.register(app)
    security.register(app)

    @app.before_request
    def sync_cache() -> None:
        """Pick up commits made elsewhere (another worker, a `git push`) before serving.

        Static files need no cache. A sync that fails (a damaged repository, a database that
        went away) is logged and the page is served from the cache as it was: it must never take
        sign-in, static files or pages that do not depend on the new commits down with it."""
        if g.get("synced") or request.endpoint in ("static", "health.healthz"):  # /healthz measures the lag
            return
        g.synced = True
        limit = PAGE_SYNC_DOCUMENTS if services().follower is not None else None
        try:
            result = services().library.sync(max_documents=limit)
        except Exception:
            app.logger.exception("cache not brought to the repository head; serving the cache as it was")
            return
        g.cache_behind = result is not None and result.mode == "deferred"

    @app.template_filter("shanghai")
    def shanghai(value: dt.datetime) -> str:
        """Commit times in the college's time zone (SQLite hands back naive UTC datetimes)."""
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")

    @app.context_processor
    def globals_for_templates() -> dict[str, Any]:
        from flask_login import current_user

        unread = inbox.unread_count(services().db, current_user.id) if current_user.is_authenticated else 0
        return {"college_name": services().settings["COLLEGE_NAME"], "unread_notifications": unread}
