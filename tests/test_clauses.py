"""Clause tools (catalogue/clauses.py): Chinese numerals, inserting a 条 or 章, renumbering."""

from __future__ import annotations

import pytest

from zhengai_docs.catalogue.clauses import Kind, from_chinese, headings, insert_chapter, insert_clause, renumber, to_chinese

NUMERALS = {
    1: "一",
    2: "二",
    9: "九",
    10: "十",
    11: "十一",
    19: "十九",
    20: "二十",
    21: "二十一",
    99: "九十九",
    100: "一百",
    101: "一百零一",
    110: "一百一十",
    111: "一百一十一",
    120: "一百二十",
    200: "二百",
    305: "三百零五",
    1000: "一千",
    1001: "一千零一",
    1010: "一千零一十",
    1100: "一千一百",
    2024: "二千零二十四",
    9999: "九千九百九十九",
}


@pytest.mark.parametrize(("number", "text"), NUMERALS.items())
def test_numbers_are_written_as_regulations_write_them(number: int, text: str) -> None:
    assert to_chinese(number) == text
    assert from_chinese(text) == number


def test_every_number_reads_back() -> None:
    assert all(from_chinese(to_chinese(n)) == n for n in range(1, 10_000))


@pytest.mark.parametrize(("text", "number"), [("〇", 0), ("零", 0), ("两百", 200), ("一十一", 11), ("一百〇一", 101)])
def test_other_spellings_are_read(text: str, number: int) -> None:
    assert from_chinese(text) == number


@pytest.mark.parametrize("text", ["", "十十", "百十百", "一二", "第一", "abc"])
def test_non_numerals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="不是中文数字"):
        from_chinese(text)


@pytest.mark.parametrize("number", [0, -1, 10_000])
def test_numbers_outside_the_range_are_refused(number: int) -> None:
    with pytest.raises(ValueError, match="条文序号须在 1 到 9999 之间"):
        to_chinese(number)


REGULATION = """# 包头职业技术学院专业设置管理办法

## 第一章 总则

**第一条** 为规范专业设置，制定本办法。

**第二条** 本办法适用于全院。

## 第二章 程序

**第三条** 各系提出申请，依照本办法第二条执行。

**第四条** 依据《职业教育法》第十条和本办法第三条审定。

```text
**第九条** 代码块里的不是条文
```

| 条款 | 说明 |
| --- | --- |
| 第一条 | 表格里的不是条文 |
"""


def test_headings_are_found_outside_code_and_tables() -> None:
    found = headings(REGULATION)
    assert [(h.kind, h.label, h.line) for h in found] == [
        (Kind.CHAPTER, "第一章", 3),
        (Kind.CLAUSE, "第一条", 5),
        (Kind.CLAUSE, "第二条", 7),
        (Kind.CHAPTER, "第二章", 9),
        (Kind.CLAUSE, "第三条", 11),
        (Kind.CLAUSE, "第四条", 13),
    ]
    assert found[1].excerpt == "为规范专业设置，制定本办法。"


def test_a_numbered_document_needs_no_renumbering() -> None:
    result = renumber(REGULATION)
    assert result.body == REGULATION
    assert result.changes == ()


def test_a_clause_inserted_after_the_second_moves_the_rest_and_their_references() -> None:
    result = insert_clause(REGULATION, after=2)
    assert "**第二条** 本办法适用于全院。\n\n**第三条** 【请填写条文内容】\n\n## 第二章 程序\n\n" in result.body
    assert "\n\n**第四条** 各系提出申请，依照本办法第二条执行。" in result.body
    assert "**第五条** 依据《职业教育法》第十条和本办法第四条审定。" in result.body  # the law's 第十条 stays
    assert "**第九条** 代码块里的不是条文" in result.body and "| 第一条 | 表格里的不是条文 |" in result.body
    assert [(c.kind, c.old, c.new) for c in result.changes] == [
        (Kind.CLAUSE, "（新增）", "第三条"),
        (Kind.CLAUSE, "第三条", "第四条"),
        (Kind.CLAUSE, "第四条", "第五条"),
        (Kind.REFERENCE, "本办法第三条", "本办法第四条"),
    ]
    assert renumber(result.body).changes == ()  # applying it leaves nothing to renumber


def test_a_clause_inserted_first_or_last() -> None:
    first = insert_clause(REGULATION, after=0)
    assert "## 第一章 总则\n\n**第一条** 【请填写条文内容】\n\n**第二条** 为规范专业设置" in first.body
    last = insert_clause(REGULATION, after=99)
    assert last.body.endswith("| 第一条 | 表格里的不是条文 |\n\n**第五条** 【请填写条文内容】\n")  # after all the last clause holds
    appendix = insert_clause(REGULATION + "\n## 附件\n\n申请表\n", after=4)
    assert "| 第一条 | 表格里的不是条文 |\n\n**第五条** 【请填写条文内容】\n\n## 附件\n\n申请表\n" in appendix.body
    assert [c.new for c in last.changes] == ["第五条"]


def test_a_chapter_inserted_before_a_clause_renumbers_the_chapters_after_it() -> None:
    result = insert_chapter(REGULATION, before=2)
    assert "**第一条** 为规范专业设置，制定本办法。\n\n## 第二章 【请填写章名】\n\n**第二条** 本办法适用于全院。" in result.body
    assert "\n\n## 第三章 程序\n\n" in result.body
    assert [(c.old, c.new) for c in result.changes] == [("（新增）", "第二章"), ("第二章", "第三章")]
    assert insert_chapter(REGULATION, before=99).body.endswith("\n\n## 第三章 【请填写章名】\n")


def test_renumbering_across_ten_and_a_hundred() -> None:
    body = "".join(f"**第{to_chinese(n)}条** 条文{n}。\n\n" for n in range(1, 121) if n != 10)
    result = renumber(body)
    assert [(c.old, c.new) for c in result.changes][:2] == [("第十一条", "第十条"), ("第十二条", "第十一条")]
    assert [(c.old, c.new) for c in result.changes][-1] == ("第一百二十条", "第一百一十九条")
    assert "**第一百零一条** 条文102。" in result.body
    assert len(result.changes) == 110


def test_duplicate_numbers_are_renumbered_but_their_references_left_alone() -> None:
    body = "**第一条** 甲。\n\n**第二条** 乙。\n\n**第二条** 丙，见本办法第二条。\n"
    result = renumber(body)
    assert result.body == "**第一条** 甲。\n\n**第二条** 乙。\n\n**第三条** 丙，见本办法第二条。\n"


def test_plain_clause_labels_and_bold_chapters_are_recognised() -> None:
    body = "## **第二章** 总则\n\n第三条　全角空格后的条文。\n\n第三条款不是条文标题\n"
    result = renumber(body)
    assert result.body == "## **第一章** 总则\n\n第一条　全角空格后的条文。\n\n第三条款不是条文标题\n"
