"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, g

_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CSP = "; ".join((*_DIRECTIVES, "style-src 'self'"))
# Mermaid writes its flowcharts as SVG with <style> elements and style attributes. Pages that
# draw them admit inline styles, never inline scripts; sanitised content carries no styles.
CSP_WITH_MERMAID = "; ".join((*_DIRECTIVES, "style-src 'self' 'unsafe-inline'"))


def allow_mermaid_styles() -> None:
    g.csp_inline_styles = True


def register(app: Flask) -> None:
    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP_WITH_MERMAID if g.get("csp_inline_styles") else CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

