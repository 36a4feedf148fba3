"""Home page, the catalogue tree and item pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from zhengai_docs.catalogue.codes import level1_code
from zhengai_docs.db import queries
from zhengai_docs.errors import InvalidCode
from zhengai_docs.web.app import services
from zhengai_docs.web.auth import read_required
from zhengai_docs.web.indicators import home_summary
from zhengai_docs.web.lookups import item_code_or_404
from zhengai_docs.web.todo import next_steps

bp = Blueprint("catalogue", __name__)


@bp.route("/")
@read_required
def home() -> str:
    db = services().db
    mine = queries.department_documents(db, current_user.departments) if current_user.is_authenticated else []
    return render_template(
        "catalogue/home.html",
        levels=queries.level_overview(db),
        counts=queries.counts(db),
        mine=mine,
        indicators=home_summary(),
        steps=next_steps(),
    )


@bp.route("/catalogue")
@bp.route("/catalogue/<level1>")
@read_required
def tree(level1: str | None = None) -> str:
    if level1 is not None:
        try:
            level1_code(level1)
        except InvalidCode:
            abort(404)
    return render_template("catalogue/tree.html", tree=queries.catalogue_tree(services().db, level1=level1), level1=level1)


@bp.route("/items/<code>")
@read_required
def item(code: str) -> str:
    found = queries.item_view(services().db, item_code_or_404(code))
    if found is None:
        abort(404)
    view, level_name, group_name = found
    return render_template("catalogue/item.html", item=view, level_name=level_name, group_name=group_name)
