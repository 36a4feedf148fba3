"""Word in and out: importing files into documents, the compiled handbook, the self-diagnosis report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zhengai_docs.bootstrap import bundled
from zhengai_docs.config import resolve_path
from zhengai_docs.errors import ZhengaiError
from zhengai_docs.render.flowcharts import FlowchartRenderer

REFERENCE_DOCX = "reference.docx"


def word_template(settings: Mapping[str, Any], instance: Path) -> Path:
    """The style template exports use: WORD_TEMPLATE, or the bundled templates/reference.docx."""
    configured = str(settings.get("WORD_TEMPLATE") or "")
    path = resolve_path(instance, configured) if configured else bundled("templates") / REFERENCE_DOCX
    if not path.is_file():
        raise ZhengaiError(f"找不到 Word 样式模板：{path}")
    return path


def flowchart_renderer(settings: Mapping[str, Any], instance: Path) -> FlowchartRenderer:
    """The flowchart renderer exports use: GRAPHVIZ_DOT, pictures kept in FLOWCHART_CACHE."""
    return FlowchartRenderer(dot=str(settings.get("GRAPHVIZ_DOT") or "dot"), cache=resolve_path(instance, str(settings["FLOWCHART_CACHE"])))
