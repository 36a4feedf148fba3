"""The sanitised HTML of a document as a small element tree, for writers other than the browser.

Export reads what the document page shows (`render_source`, sanitised), not the Markdown
source, so Word and the web can never disagree about what a construct means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from zhengai_docs.render.html import render_source

_VOID = {"br", "hr", "img"}


@dataclass
class Node:
    tag: str  # "" for text
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def text_content(self) -> str:
        return self.text if not self.tag else "".join(c.text_content() for c in self.children)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("", text=data))


def parse_html(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def markdown_tree(markdown: str) -> Node:
    """The document body as the page renders it, picture references as written (`<img src>`
    relative to the document's file), for writers that read the pictures themselves."""
    return parse_html(render_source(markdown).html)
