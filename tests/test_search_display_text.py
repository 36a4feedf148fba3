"""The index holds exactly the text a reader sees: `analysis.plain_text` against the renderer.

Each body is rendered by the real page renderer (`render.html`), its HTML reduced to characters
by a parser; the indexed display text must have the same characters (whitespace aside), so
that every phrase a reader sees across emphasis, links, code or entities is found, and markup
the reader does not see is not.
"""

from __future__ import annotations

import pytest

from tests.html_reader import fragment
from zhengai_docs.render.html import render_markdown
from zhengai_docs.search.analysis import plain_text

BODIES = (
    "本条另有*重点*任务清单。",
    "本条另有_重点_任务，a_b_c 与 __粗__ 以及 ***都*** 和 **加粗*嵌套*内容**。",
    "2*3*4 与 x * y * z，未闭合*星号。",
    '见[办法][1]与[章程][]及[《规程》](http://a.cn/x_(1) "标题")。\n\n[1]: http://x "t"\n[章程]: http://y',
    "访问 <http://example.com/a> 或 <a@b.cn> 联系。",
    "A &amp; B &lt;C&gt; &nbsp;D&#x4E2D;&#20013;文。",
    "代码 `a*b*c &amp;` 与 ``x`y`` 后。",
    "注释[^1]，另见[未定义]。\n\n[^1]: 读者看不到的脚注内容",
    "转义 \\*不是强调\\* 和 \\_x\\_ 与 \\[方括号\\]。",
    "<sup>1</sup>上标 <span>内</span> <b>粗</b>。",
    "- *列表*项\n> 引*文*\n\n| *甲* | `乙` |\n|---|---|\n| &amp; | [丙](y) |",
    "# 标题 #\n\n**第一条** 按`代码`与![图示](a.png)执行。",
)


def reader_sees(body: str) -> str:
    """The page's characters, with each picture's alt text (shown when the picture is not, and
    read out by screen readers: a caption such as 组织架构图 is worth finding)."""
    tree = fragment(render_markdown(body).html)
    for image in tree.iter("img"):
        image.tail = image.get("alt", "") + (image.tail or "")
    return "".join(tree.text_content().split())


@pytest.mark.parametrize("body", BODIES)
def test_display_text_is_what_the_page_shows(body: str) -> None:
    assert "".join(plain_text(body).split()) == reader_sees(body)


def test_emphasis_does_not_hide_a_phrase() -> None:
    """Issue 16: `本条另有*重点*任务清单。` was indexed with its stars, so 另有重点任务 missed it."""
    text = plain_text("本条另有*重点*任务清单。")
    assert "另有重点任务" in text and "有重点" in text and "*" not in text
