"""Markdown -> safe HTML.

Python-Markdown passes raw HTML, event handlers and `javascript:` links straight through, so
its output is always sanitised with nh3 (ammonia) against an allow-list. Headings get
Unicode slugs (`#第一章-总则`), not positional ids, so links to a clause survive edits elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import markdown
import nh3
from markdown.extensions.toc import slugify_unicode

_EXTENSIONS = ["tables", "fenced_code", "sane_lists", "toc"]
_EXTENSION_CONFIGS = {"toc": {"slugify": slugify_unicode, "toc_depth": "2-4"}}
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_ATTRIBUTES = {
    **{h: {"id"} for h in _HEADINGS},
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "ol": {"start"},
}
_CLASSES = {"code": {"language-mermaid", "language-text"}}
_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Rendered:
    html: str
    headings: tuple[Heading, ...]
    has_mermaid: bool


def render_markdown(text: str) -> Rendered:
    converter = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
    raw = converter.convert(text)
    html = sanitise(raw)
    headings = tuple(_flatten(getattr(converter, "toc_tokens", [])))
    return Rendered(html=html, headings=headings, has_mermaid='class="language-mermaid"' in html)


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _flatten(tokens: list[dict[str, Any]]) -> list[Heading]:
    out = []
    for token in tokens:
        out.append(Heading(level=token["level"], text=token["name"], anchor=token["id"]))
        out.extend(_flatten(token.get("children", [])))
    return out
