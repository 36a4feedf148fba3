"""The pieces of search analysis: folding, display text, words, query parsing, snippets."""

from __future__ import annotations

import re

import pytest

from tests.html_reader import fragment
from zhengai_docs.search.analysis import (
    analysis_fingerprint,
    fold,
    index_words,
    pairs,
    plain_text,
    query_words,
    read_user_dictionary,
    search_text,
)
from zhengai_docs.search.highlight import highlight_all, snippet
from zhengai_docs.search.query import contains_all, parse_query
from zhengai_docs.search.schema import MatchRecord


def test_fold_keeps_length_and_maps_case_and_width() -> None:
    text = "ＧＢ／Ｔ　２２２３９－２０１９ Iso（试行）"
    folded = fold(text)
    assert folded == "gb/t 22239-2019 iso(试行)"
    assert len(folded) == len(text)


def test_plain_text_removes_markup_but_keeps_words() -> None:
    markdown = (
        "# 标题 #\n\n**第一条** 见[办法](http://x)与`代码`。\n\n| 指标 | 值 |\n|---|---|\n| 双师 | 60% |\n\n- 列表项\n> 引文\n<b>粗</b>"
    )
    text = plain_text(markdown)
    assert "标题" in text and "第一条 见办法与代码。" in text
    assert "双师" in text and "60%" in text and "---" not in text and "|" not in text
    assert "列表项" in text and "引文" in text and "粗" in text and "<b>" not in text and "**" not in text


def test_flowcharts_are_reduced_to_their_labels() -> None:
    markdown = '```mermaid\nflowchart TD\n  A[教务处发起] --> B{是否通过}\n  B -->|是| C("公示5个工作日")\n```\n```\n代码 x[1]\n```'
    assert plain_text(markdown).splitlines() == ["", "教务处发起 是否通过", "是 公示5个工作日", "代码 x[1]"]


def test_search_text_is_title_number_body_on_one_line() -> None:
    text = search_text(title="包头 办法", doc_number="包职院发〔2019〕12号", body_text="第一条\n\n正文")
    assert text == "包头 办法 包职院发〔2019〕12号 第一条 正文"


def test_pairs_overlap() -> None:
    assert pairs("双师型") == {"双师", "师型"}
    assert pairs("双") == set()


def test_user_dictionary_words_are_whole_words_with_their_inner_words() -> None:
    words = index_words(fold("学院要求双师型教师比例达标，落实诊断点和质量年度报告。"))
    assert {"双师型", "双师", "诊断点", "质量年度报告"} <= words
    assert "师型" not in words  # not a word, though it is a substring (the pairs field has it)
    assert all(any(ch.isalnum() for ch in w) for w in words)  # punctuation is not a word


def test_latin_and_numbers_are_words() -> None:
    assert {"gb", "22239", "2019", "iso", "9001"} <= index_words(fold("依据GB/T 22239-2019和ISO 9001执行"))
    assert query_words("gb/t") == ["gb", "t"]


def test_user_dictionary_file_is_editable_data() -> None:
    entries = {entry.word for entry in read_user_dictionary()}
    for word in ("诊改", "诊断点", "诊断要素", "双师", "双师型", "质量年度报告", "人才培养方案", "实习实训", "专业带头人"):
        assert word in entries
    assert len(analysis_fingerprint()) == 16


@pytest.mark.parametrize(
    ("text", "terms", "code"),
    [
        ("双师", ("双师",), None),
        ("  双师   认定 ", ("双师", "认定"), None),
        ('"GB/T 22239-2019" 等保', ("gb/t 22239-2019", "等保"), None),
        ("“质量 年度”", ("质量 年度",), None),
        ("A101", ("a101",), "A101"),
        ("a101b", ("a101b",), "A101B"),
        ("Ａ１０１Ｌ", ("a101l",), "A101L"),
        ("A101X", ("a101x",), None),
        ("双师 双师", ("双师",), None),
        ("", (), None),
    ],
)
def test_parse_query(text: str, terms: tuple[str, ...], code: str | None) -> None:
    parsed = parse_query(text)
    assert parsed.terms == terms
    assert parsed.code == code


def test_contains_all_folds_the_text() -> None:
    assert contains_all("依据ＧＢ／Ｔ 22239", ("gb/t", "22239"))
    assert not contains_all("依据GB 22239", ("gb/t",))


def _marks(highlighted: str) -> tuple[list[str], str]:
    """The marked words and the whole text of highlighter output, which must hold no tag but <mark>."""
    assert "<" not in re.sub(r"</?mark(?:\s[^<>]*)?>", "", highlighted), highlighted  # a stray <body> would vanish from the tree
    root = fragment(highlighted)
    assert {element.tag for element in root.iterdescendants()} <= {"mark"}, highlighted
    return [mark.text_content() for mark in root.iter("mark")], root.text_content()


def test_highlight_marks_matches_and_escapes_everything_else() -> None:
    marked = highlight_all("<b>双师</b>型教师 & 双师", ["双师"])
    words, text = _marks(marked)
    assert words == ["双师", "双师"]
    assert text == "<b>双师</b>型教师 & 双师"


def test_snippet_windows_around_matches_with_ellipses() -> None:
    text = "甲" * 300 + "专业带头人遴选" + "乙" * 300 + "GB/T 22239" + "丙" * 300
    result = snippet(text, ["专业带头人", "gb/t"], width=60)
    words, shown = _marks(result)
    assert words == ["专业带头人", "GB/T"]
    assert result.startswith("…") and result.endswith("…")
    assert len(shown) < 2 * 60 + 10
    assert snippet("没有匹配的文字", ["双师"], width=4) == "没有匹配…"


def test_match_record_round_trip() -> None:
    record = MatchRecord(code="A101Z", issued="2019-03-15", title_end=4, body_end=8, text="标题文字\x1f 正文\n附件")
    assert MatchRecord.decode(record.encode()) == record
    assert MatchRecord.decode(b"") is None
