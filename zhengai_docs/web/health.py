"""`/healthz`: JSON for monitoring and load balancers, without sign-in (see `zhengai_docs.health`).

503 when a save could not be written whole (repository, database or search index); lag alone
answers 200, since caches catch up on the next request. It names causes, never paths or errors.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response

from zhengai_docs import health
from zhengai_docs.web.app import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    report = health.check(services().library)
    body = json.dumps(report.as_json(), ensure_ascii=False)
    response = Response(body, status=200 if report.accepts_writes else 503, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
