"""The HTML reader every page test relies on (tests/html_reader.py): it reads what a browser shows
and sends, so a test built on it fails when the page is wrong, not when the markup changes."""

from __future__ import annotations

import pytest

from tests.html_reader import attributes, find_all, form_fields, has_class, parse, table_rows, text_by_id, text_nodes, visible_text

FORM = """
<form id="edit" action="/save">
  <input type="hidden" name="csrf_token" value="t0k">
  <input name="title" value="专业设置 &amp; 调整">
  <input type="checkbox" name="points" value="1.1.1" checked>
  <input type="checkbox" name="points" value="1.1.2">
  <input type="checkbox" name="points" value="1.1.3" checked>
  <input type="radio" name="kind" value="revise">
  <input type="radio" name="kind" value="repeal" checked>
  <select name="status"><option value="草稿">草稿</option><option value="现行" selected>现行</option></select>
  <select name="level"><option selected>  A  办学活动 </option></select>
  <textarea name="body">

第一条\r\n第二条</textarea>
  <input type="submit" name="go" value="保存">
  <button type="submit" name="action" value="publish">发布</button>
  <input value="没有名字">
</form>
<input name="message" form="edit" value="写在表单外">
<form id="other"><input name="message" value="另一个表单"></form>
"""


def test_form_fields_are_what_the_browser_would_send() -> None:
    assert form_fields(FORM, "edit") == {
        "csrf_token": "t0k",
        "title": "专业设置 & 调整",
        "points": ["1.1.1", "1.1.3"],  # checked boxes only; a repeated name is a list
        "kind": "repeal",
        "status": "现行",
        "level": "A 办学活动",  # an option without a value sends its text
        "body": "\n第一条\n第二条",  # the one newline after <textarea> is dropped, CRLF read as LF
        "message": "写在表单外",  # form="edit" belongs to this form, the other form's field does not
    }
    assert form_fields(parse(FORM), "other") == {"message": "另一个表单"}


def test_a_form_that_is_not_on_the_page_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="0 forms with id 'review-form'"):
        form_fields(FORM, "review-form")


def test_visible_text_is_what_a_reader_sees() -> None:
    page = """<html><head><title>标题</title><style>p { color: red }</style><script>var secret = 1;</script></head>
    <body><p>共 <strong>60</strong>
        个条目</p><p>已逾期<span class="n">（9）</span></p><!-- 注释 --><textarea>输入的文字</textarea>
    <template><p>模板</p></template><ul><li>一</li><li>二</li></ul>甲<br>乙 &lt;b&gt;</body></html>"""
    assert visible_text(page) == "标题 共 60 个条目 已逾期（9） 一 二 甲 乙 <b>"
    assert visible_text(find_all(page, "//p")[1]) == "已逾期（9）"


def test_text_nodes_are_the_runs_between_tags() -> None:
    page = "<p>没有逾期文档。</p><p>共 <b>3</b> 份</p><script>没有逾期文档。</script><textarea>x</textarea>"
    assert text_nodes(page) == ["没有逾期文档。", "共", "3", "份"]


def test_table_rows_read_cells_of_this_table_only() -> None:
    table = """<table id="t"><thead><tr><th>代码</th><th>状态</th></tr></thead>
    <tbody><tr><td>A101Z</td><td>已逾期
        <small>逾期 2037 天</small></td></tr>
    <tr><td>内嵌</td><td><table><tr><td>里面的表</td></tr></table></td></tr></tbody></table>"""
    [element] = find_all(table, "//table[@id='t']")
    assert table_rows(element) == [["代码", "状态"], ["A101Z", "已逾期 逾期 2037 天"], ["内嵌", "里面的表"]]


def test_attributes_and_classes_by_xpath() -> None:
    page = '<span class="chip cycle-overdue">已逾期</span><span class="chips">x</span><a href="/a">a</a><a>b</a>'
    assert attributes(page, f"//span[{has_class('chip')}]") == [{"class": "chip cycle-overdue"}]  # a whole word, not "chips"
    assert attributes(page, "//a[@href = $href]", href="/a") == [{"href": "/a"}]
    assert text_by_id('<div id="x"> 一 <b>二</b> </div>', "x") == "一 二"
    with pytest.raises(AssertionError, match="0 elements with id 'y'"):
        text_by_id('<div id="x"></div>', "y")


@pytest.mark.parametrize("html", ["", "  \n", "<!-- 只有注释 -->"])
def test_a_page_without_elements_is_an_empty_document(html: str) -> None:
    assert visible_text(html) == "" and text_nodes(html) == [] and find_all(html, "//body/*") == []
