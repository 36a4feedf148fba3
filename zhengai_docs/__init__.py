"""zhengai-docs: the 制度-流程-标准 documents of a college's 诊改 work, kept in git."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing the package must not import Flask (the CLI and benchmarks do without it)
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the web application; nothing is read from the repository until the first request."""
    from zhengai_docs.web.app import build_app

    return build_app(config, instance_path=instance_path)
