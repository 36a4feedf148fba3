"""One place that turns errors into Chinese error pages (or JSON for the API)."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from zhengai_docs.errors import StorageUnavailable, ZhengaiError

MESSAGES = {
    400: ("请求无效", "请求的内容无法处理，请检查后重试。"),
    403: ("没有权限", "您的账号没有执行此操作的权限。如需权限，请联系系统管理员。"),
    404: ("页面不存在", "您要找的页面或文档不存在，可能代码有误或已被删除。"),
    405: ("不支持的操作", "此页面不支持该请求方式。"),
    409: ("内容冲突", "文档在您编辑期间已被他人修改，您的内容没有丢失。"),
    413: ("文件过大", "上传的文件超过了允许的大小。"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("服务器错误", "服务器处理请求时出错，已记录。请稍后重试或联系管理员。"),
    503: ("暂时无法处理", "服务器暂时无法完成此操作，请稍后重试或联系管理员。"),
}
_PAGE_EXPIRED = "页面已过期，请刷新后重试。"
# Flask-WTF's reasons (English, fixed strings) as a user should read them.
CSRF_MESSAGES = {
    "The CSRF token is missing.": "表单缺少安全令牌，请刷新页面后重试。",
    "The CSRF session token is missing.": "登录会话已过期，请刷新页面后重试。",
    "The CSRF token has expired.": _PAGE_EXPIRED,
    "The CSRF token is invalid.": _PAGE_EXPIRED,
    "The CSRF tokens do not match.": _PAGE_EXPIRED,
    "The referrer header is missing.": "浏览器没有发送来源页面（Referer），无法确认请求来自本站；请检查浏览器设置后重试。",
    "The referrer does not match the host.": "请求不是从本站页面发出的，已拒绝。请从本站页面重新操作。",
}


def csrf_message(reason: str) -> str:
    return CSRF_MESSAGES.get(reason, _PAGE_EXPIRED)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        return _render(400, csrf_message(str(error.description)))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        custom = error.description if error.description != type(error).description else None  # ours, in Chinese
        return _render(error.code or 500, custom)

    @app.errorhandler(ZhengaiError)
    def domain_error(error: ZhengaiError) -> ResponseReturnValue:
        if isinstance(error, StorageUnavailable):  # a step with nothing typed to keep (publish, open a draft …)
            return _render(error.status, storage_message(error, kept=False))
        return _render(error.status, str(error))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error")
        return _render(500, None)


def storage_message(error: StorageUnavailable, *, kept: bool) -> str:
    """What a refused write tells the user: which store, why, that nothing was saved, whom to call.
    `kept`: the page shows the user's text again (the editor), so they can copy it."""
    contact = current_app.extensions["zhengai"].settings["SUPPORT_CONTACT"]
    if kept:
        return f"{error.store}无法写入（{error.cause}），您的修改没有保存，请复制保留后联系{contact}"
    return f"{error.store}无法写入（{error.cause}），操作没有完成，请联系{contact}"


def _render(status: int, detail: str | None) -> ResponseReturnValue:
    title, message = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    if request.path.startswith("/api/"):
        return {"error": {"status": status, "title": title, "message": detail or message}}, status
    return render_template("errors/error.html", status=status, title=title, message=message, detail=detail), status
