"""Markdown -> safe HTML.

Python-Markdown passes raw HTML, event handlers and `javascript:` links straight through, so
its output is always sanitised with nh3 (ammonia) against an allow-list. Headings get
Unicode slugs (`#第一章-总则`), not positional ids, so links to a clause survive edits elsewhere.

Rendering never fails and never runs long: a body beyond the limits of `render.limits` (or one
Python-Markdown cannot handle) is shown as escaped plain text under a note saying why, and the
same check refuses such a body when it is saved. Link and image addresses lose control
characters, and images from other sites are dropped (their alt text stays): a document must not
make readers' browsers call a third party.

Pictures: a body refers to its pictures by a path relative to its own file
(`![组织架构图](A101Z/images/image-3f2a9c1b7d4e.png)`). The cached render keeps those references
as written; `render_markdown(text, image_url=…)` then asks the caller where each one is served.
A reference the caller does not know (None), or an answer that leaves this site (a scheme,
`//host`, `data:`), drops the picture's address and keeps its alt text; nothing is ever fetched.
"""

from __future__ import annotations

import hashlib
import html as html_escaping
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

import markdown
import nh3
from markdown.extensions.toc import slugify_unicode

from zhengai_docs.render.limits import GuardExtension, OverBudget, Problem, check_source

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
# C0 and C1 controls and DEL, raw or percent-encoded (UTF-8: %C2%80-%C2%9F for C1), and U+FFFD,
# which the HTML parser puts in place of NUL
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffd]|%(?:[01][0-9a-f]|7f|c2%[89][0-9a-f])", re.IGNORECASE)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_OFF_SITE = re.compile(r"[a-z][a-z0-9+.-]*:|[/\\]{2}", re.IGNORECASE)  # any scheme, or "//host" ("\\" is "/" to browsers)
_IMG = re.compile(r'<img((?:\s+[a-z-]+="[^"]*")*)\s*/?>')  # nh3's output: attributes always double-quoted, '"' escaped
_SRC = re.compile(r'\s+src="([^"]*)"')
_CACHED_CHARACTERS = 5_000_000  # HTML of recent renders kept per process (10–20 MB)
log = logging.getLogger(__name__)


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
    problem: Problem | None = None  # set when the body is shown as plain text instead


class _RenderCache:
    """Recent renders by a digest of their text (holding the texts too took a third of the
    cache's memory), least recently used out first, bounded by the characters of HTML held."""

    def __init__(self, *, max_chars: int) -> None:
        self.max_chars = max_chars
        self._items: OrderedDict[bytes, Rendered] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, text: str) -> Rendered | None:
        key = _digest(text)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, text: str, rendered: Rendered) -> None:
        if len(rendered.html) > self.max_chars // 8:
            return
        key = _digest(text)
        with self._lock:
            if key in self._items:
                return
            self._items[key] = rendered
            self._chars += len(rendered.html)
            while self._chars > self.max_chars:
                _, old = self._items.popitem(last=False)
                self._chars -= len(old.html)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = 0


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


_cache = _RenderCache(max_chars=_CACHED_CHARACTERS)


ImageUrl = Callable[[str], "str | None"]


def render_markdown(text: str, *, image_url: ImageUrl | None = None) -> Rendered:
    """The body as sanitised HTML, each picture's address from `image_url(relative_path)` (without
    it, or when it answers None, pictures keep only their alt text). The render is cached by text,
    because a page, its API twin and its export render the same text again and again."""
    return resolve_images(render_source(text), image_url=image_url)


def render_source(text: str) -> Rendered:
    """The cached render with picture references as written (the Word export reads them)."""
    found = _cache.get(text)
    if found is None:
        found = render_uncached(text)
        _cache.put(text, found)
    return found


def resolve_images(rendered: Rendered, *, image_url: ImageUrl | None) -> Rendered:
    """The render with each <img src> replaced by the caller's same-site address, or removed."""
    if "<img" not in rendered.html:
        return rendered

    def one(match: re.Match[str]) -> str:
        attributes = match.group(1)
        source = _SRC.search(attributes)
        rest = _SRC.sub("", attributes)
        url = image_url(image_reference(html_escaping.unescape(source.group(1)))) if source and image_url else None
        if url is None or _OFF_SITE.match(url) or _CONTROLS.search(url) or not url.strip():
            return f"<img{rest}>"
        return f'<img src="{html_escaping.escape(url, quote=True)}"{rest}>'

    return replace(rendered, html=_IMG.sub(one, rendered.html))


def image_reference(source: str) -> str:
    """A picture's address as the Markdown wrote it, percent-decoded ("A101Z/images/x.png")."""
    return unquote(source)


def render_uncached(text: str) -> Rendered:
    """The body as sanitised HTML, or as plain text under a note when it is beyond the limits."""
    problem = check_source(text)
    if problem is None:
        try:
            converter = markdown.Markdown(extensions=[*_EXTENSIONS, GuardExtension(source=text)], extension_configs=_EXTENSION_CONFIGS)
            raw = converter.convert(text)
        except OverBudget as exc:
            problem = exc.problem
        except RecursionError:
            problem = Problem("列表、引用或加粗、链接等格式嵌套层次过深，无法排版。")
        except Exception:  # a Markdown bug must cost one document its formatting, not the page
            log.exception("Python-Markdown failed on a document body")
            problem = Problem("排版程序无法处理这段正文。")
        else:
            html = sanitise(raw)
            headings = tuple(_flatten(getattr(converter, "toc_tokens", [])))
            return Rendered(html=html, headings=headings, has_mermaid='class="language-mermaid"' in html)
    return as_plain_text(text, problem)


def as_plain_text(text: str, problem: Problem) -> Rendered:
    """What readers see of a body that cannot be rendered: why, then the text as typed."""
    note = f"本文档的正文无法按格式显示，以下为原文。原因：{problem.describe()}"
    html = (
        f'<p class="flash flash-error" role="alert">{html_escaping.escape(note)}</p>\n'
        f'<pre><code class="language-text">{html_escaping.escape(text)}</code></pre>\n'
    )
    return Rendered(html=html, headings=(), has_mermaid=False, problem=problem)


def require_renderable(body: str) -> None:
    """Refuse (TooComplex) a body that would only be shown as plain text; the message says why."""
    problem = render_markdown(body).problem
    if problem is not None:
        raise problem.error()


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_filter_attribute,
    )


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Addresses without control characters; images from this site only.

    nh3 checks schemes before this filter runs, so a scheme that only appears once the controls
    are gone ("java\\x01script:") is checked again here.
    """
    if attribute not in ("href", "src"):
        return value
    cleaned = _CONTROLS.sub("", value).strip()
    scheme = _SCHEME.match(cleaned)
    if scheme is not None and scheme.group(1).lower() not in _SCHEMES:
        return None
    if tag == "img" and (not cleaned or _OFF_SITE.match(cleaned)):
        return None  # the browser shows the alt text instead
    return cleaned


def _flatten(tokens: list[dict[str, Any]]) -> list[Heading]:
    out = []
    for token in tokens:
        out.append(Heading(level=token["level"], text=token["name"], anchor=token["id"]))
        out.extend(_flatten(token.get("children", [])))
    return out
