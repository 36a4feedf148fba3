"""Reading pages the way a browser does (lxml's HTML parser), so tests assert on what a user sees
and what a form would send, never on byte substrings of the markup.

`parse` a page once and pass the tree around, or pass the HTML text to any helper. Elements are
found with XPath (lxml has it built in; CSS selectors would need the `cssselect` package);
`has_class` spells the one XPath idiom that is easy to get wrong. (Not `tests/html.py`: pytest puts
tests/ first on sys.path, and processes the tests spawn would import it as the standard `html`.)
"""

from __future__ import annotations

from typing import cast

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

Source = str | HtmlElement

# Never shown as text: scripts, styles, inert templates, and form fields (a textarea's text is the
# value the form sends: read it with `form_fields`, so an echo of typed text never passes for a message).
_NOT_TEXT = frozenset({"script", "style", "template", "textarea"})
# Elements that start on a line of their own: their text never runs into the text beside them.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup",
        "hr", "legend", "li", "main", "nav", "ol", "option", "p", "pre", "section", "summary", "table", "tbody", "td",
        "tfoot", "th", "thead", "title", "tr", "ul",
    }
)  # fmt: skip


def parse(html: str) -> HtmlElement:
    """The whole document (its `<html>` element), built as a browser builds it: implied `<body>`,
    character references decoded, NUL replaced."""
    try:
        return lxml.html.document_fromstring(html)
    except etree.ParserError:  # no element at all: nothing but text-free whitespace or comments
        return lxml.html.document_fromstring("<html></html>")


def fragment(html: str) -> HtmlElement:
    """A piece of HTML (renderer output, a snippet) as the children of one `<div>`, nothing moved to a `<head>`."""
    return lxml.html.fragment_fromstring(html, create_parent="div")


def _tree(source: Source) -> HtmlElement:
    return parse(source) if isinstance(source, str) else source


def find_all(source: Source, xpath: str, **variables: str) -> list[HtmlElement]:
    """The elements `xpath` selects; `$name` in the expression is bound to `variables[name]` (quoting safe)."""
    found = _tree(source).xpath(xpath, **variables)
    assert isinstance(found, list) and all(isinstance(e, HtmlElement) for e in found), f"{xpath} selects no elements"
    return cast(list[HtmlElement], found)


def attributes(source: Source, xpath: str, **variables: str) -> list[dict[str, str]]:
    """The attributes of each element `xpath` selects, in document order."""
    return [dict(element.attrib) for element in find_all(source, xpath, **variables)]


def has_class(name: str) -> str:
    """An XPath predicate: the element's class attribute lists `name` (a whole word, not a substring)."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def visible_text(source: Source) -> str:
    """The text a browser shows for a page or element, whitespace folded to single spaces: no
    script, style, template or textarea text, block elements apart, inline elements run together."""
    parts: list[str] = []
    _collect_text(_tree(source), parts)
    return " ".join("".join(parts).split())


def _collect_text(element: HtmlElement, parts: list[str]) -> None:
    tag = element.tag
    if not isinstance(tag, str) or tag in _NOT_TEXT:  # comments and processing instructions have no text
        return
    block = tag in _BLOCKS
    if block:
        parts.append(" ")
    if element.text:
        parts.append(element.text)
    for child in element:
        _collect_text(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append(" ")


def text_nodes(source: Source) -> list[str]:
    """Each visible run of text between tags, whitespace folded, empty runs left out:
    `"没有逾期文档。" in text_nodes(page)` says some element holds exactly that text."""
    runs: list[str] = []
    for node in _tree(source).xpath("//text()"):
        parent = node.getparent()
        if node.is_tail:
            parent = parent.getparent()
        if parent is None or not any(isinstance(a.tag, str) and a.tag in _NOT_TEXT for a in (parent, *parent.iterancestors())):
            text = " ".join(str(node).split())
            if text:
                runs.append(text)
    return runs


def text_by_id(source: Source, element_id: str) -> str:
    """The visible text of the element with that id (the test fails if there is none)."""
    found = find_all(source, "//*[@id=$id]", id=element_id)
    assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
    return visible_text(found[0])


def table_rows(table: HtmlElement) -> list[list[str]]:
    """The visible text of each cell (th and td), row by row, of this table and not of tables inside it."""
    rows = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
    return [[visible_text(cell) for cell in row.xpath("./th | ./td")] for row in rows]


def form_fields(source: Source, form_id: str) -> dict[str, str | list[str]]:
    """The values the form with `form_id` would submit, as a browser sends them: named inputs
    (checkboxes and radios only when checked; no submit or button inputs), selected options,
    textarea text (newlines as typed, the one newline after `<textarea>` dropped); controls
    inside the form or naming it with `form=`. A name that repeats becomes a list."""
    tree = _tree(source)
    forms = find_all(tree, "//form[@id=$id]", id=form_id)
    assert len(forms) == 1, f"{len(forms)} forms with id {form_id!r}"
    form = forms[0]
    out: dict[str, str | list[str]] = {}
    for name, value in _submitted(tree, form):
        if name in out:
            existing = out[name]
            out[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[name] = value
    return out


def _submitted(tree: HtmlElement, form: HtmlElement) -> list[tuple[str, str]]:
    form_id = form.get("id")
    pairs: list[tuple[str, str]] = []
    for control in tree.iter("input", "textarea", "select"):
        owner = control.get("form")  # a control names its form, or belongs to the form around it
        if not (owner == form_id if owner is not None else next(control.iterancestors("form"), None) is form):
            continue
        name = control.get("name")
        if name is None:
            continue
        if control.tag == "input":
            kind = control.get("type", "text")
            if kind in ("checkbox", "radio") and control.get("checked") is None:
                continue
            if kind not in ("submit", "button"):
                pairs.append((name, control.get("value", "")))
        elif control.tag == "textarea":
            text = control.text or ""
            pairs.append((name, text[1:] if text.startswith("\n") else text))
        else:
            for option in control.iter("option"):
                if option.get("selected") is not None:
                    pairs.append((name, option.get("value", " ".join(option.text_content().split()))))
    return pairs
