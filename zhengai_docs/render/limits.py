"""Limits that keep rendering one Markdown body cheap: checked when a body is saved and before
every render, so a page, a preview, an export or the handbook never stalls or overflows.

Python-Markdown 3 with this project's extensions (tables, fenced_code, sane_lists, toc) has
inputs on which its time grows with the square of their size or its recursion overflows, and
nh3 (html5ever) is quadratic in the nesting of raw HTML. `benchmarks/render_limits_bench.py`
measures every class at 1k–8k characters. Each class is bounded by a measure of the work the
renderer would do, computed in one linear pass, so that what passes renders in linear time:

- size: characters and lines of the body;
- nesting of block containers (`>` quotes, list markers, their indentation) on one line;
- fenced code: each opening fence makes a regular expression scan to its closing fence;
- raw HTML: html.parser (Python < 3.13) scans from each `<tag` to its `>`, and html5ever's
  cost grows with the depth of open elements;
- long blocks cut one line at a time by headings, rules and link definitions without blank
  lines: every cut re-tests the rest of the block (as a table, a quote, …);
- tables: every row is padded to the width of the separator row;
- link references and `[TOC]`: each use copies its target;
- inline text (each paragraph, cell, list item or heading, checked inside the renderer before
  inline processing): `[` and `](` scan to their partner, backtick runs to a run of the same
  length, and every inline match rebuilds the whole text;
- nesting of the output (the serializer and the Word writer recurse).

The limits are far above what a regulation uses (all bundled documents stay well below them).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from markdown import Markdown
from markdown.blockprocessors import HRProcessor
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import BLOCK_LEVEL_ELEMENTS, ETX, STX, AtomicString

from zhengai_docs.errors import TooComplex

MAX_CHARS = 200_000  # the longest bundled regulation has 3,500; a 200-page standard about 150,000
MAX_LINES = 20_000  # every line may become an element (about 50 µs each)
MAX_NESTING = 16  # lists and quotes on one line (Word lists have 9 levels)
MAX_HTML_NESTING = 64  # open raw-HTML elements
MAX_OUTPUT_DEPTH = 96  # elements of the rendered tree, inline formatting included
MAX_TABLE_CELLS = 20_000  # cells of all tables together, as Word import allows (about 0.7 s)
MAX_EXPANSION = 200_000  # characters copied by link references and [TOC] markers
SCAN_BUDGET = 2_000_000  # characters rescanned by one kind of construct (about 0.2 s)
CUT_BUDGET = 1_500_000  # lines (+ characters / 64, or / 4 with table borders) re-tested after a cut (0.1 µs each)
TAG_SCAN = 512  # characters of one raw-HTML tag measured before it counts as unended
COPY_BUDGET = 100_000_000  # characters copied by Python-Markdown's raw-HTML pass (a few ns each)
REBUILD_BUDGET = 40_000_000  # inline marks × length of their text (string copies, about 0.1 s)

_BLANK = " \t"
_HR = re.compile(HRProcessor.RE)  # Python-Markdown's own rule test (atomic: linear on "- - - … x")
_CONTAINER = re.compile(r"([ \t]*)(?:>|[*+-](?=[ \t]|$)|[0-9]{1,9}[.)](?=[ \t]|$))[ \t]?")
_FENCE = re.compile(r"(?:`{3,}|~{3,})")
_ATX = re.compile(r"[ \t]*#")
_SETEXT = re.compile(r"[ \t]*(?:=+|-+)[ \t]*$")
_REFERENCE = re.compile(r"[ ]{0,3}\[([^\[\]]*)\]:[ ]*(\S*)(.*)$")
_SEPARATOR = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-*:?[ \t]*)*$")
_TAG_START = re.compile(r"<(?:(/?)(?=[A-Za-z])|/|!--|!|\?)")
_TAG_NAME = re.compile(r"[A-Za-z][^\s/>]{0,31}")  # names are cut short alike in start and end tags
_SECTION_END = re.compile(r"\]\s*\]\s*>")
_VALUE_QUOTE = re.compile(r"=[ \t\n\r\f]*(['\"])")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"})
_SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option"})
_LABEL_SPACE = re.compile(r"\s+")
_BRACKET_LABEL = re.compile(r"\[([^\[\]]*)\]")
_INLINE_MARKS = frozenset("`\\[<&*_")
_ESCAPABLE = frozenset("\\`*_{}[]()>#+-.!|")


@dataclass(frozen=True)
class Problem:
    """Why a body is not rendered as Markdown: `message` says what, `line` where (1-based)."""

    message: str
    line: int | None = None

    def describe(self) -> str:
        return f"正文第 {self.line} 行：{self.message}" if self.line is not None else f"正文：{self.message}"

    def error(self) -> TooComplex:
        return TooComplex(line=self.line, message=self.message)


class OverBudget(Exception):
    """Carries a Problem out of Python-Markdown's processors."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


def normalise(text: str) -> str:
    """The text as Python-Markdown's first step leaves it: no STX/ETX, "\n" line ends, tabs expanded."""
    return text.replace(STX, "").replace(ETX, "").replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)


class _Lines:
    """Offsets <-> 1-based line numbers of one text."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


class _Budget:
    """A sum of costs with a limit; remembers the costliest contributor for the message."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.worst = -1
        self.worst_at = 0

    def add(self, cost: int, at: int) -> bool:
        """Add one cost; True once the sum is over the limit."""
        self.total += cost
        if cost > self.worst:
            self.worst, self.worst_at = cost, at
        return self.total > self.limit


# -- the whole body, before Markdown sees it -------------------------------------------------------


def check_source(text: str) -> Problem | None:
    """The first limit the body exceeds, or None. Linear in the length of the body."""
    typed = len(text)
    text = normalise(text)
    if len(text) > MAX_CHARS:
        counted = f"{len(text):,} 个字符" + ("（制表符按空格计）" if len(text) != typed else "")
        return Problem(f"共有 {counted}，超过上限 {MAX_CHARS:,} 个字符。请拆分为几个文档，或把附件另行发布。")
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        return Problem(f"共有 {len(lines):,} 行，超过上限 {MAX_LINES:,} 行。请拆分为几个文档，或把附件另行发布。")
    return _check_lines(lines) or _check_fences(text, lines) or _check_html(text) or _check_expansion(text, lines)


def _container_depth(line: str) -> tuple[int, int]:
    """Nesting opened by the markers at the start of a line, and where its content starts."""
    depth = pos = 0
    while depth <= MAX_NESTING:
        if _HR.match(line[pos:]):  # "- - -" is a rule, not three lists
            break
        m = _CONTAINER.match(line, pos)
        if m is None:
            break
        depth += 1 + len(m.group(1).expandtabs(4)) // 4
        pos = m.end()
    return depth, pos


def _check_lines(lines: list[str]) -> Problem | None:
    """Nesting per line; blocks cut line by line; table cells."""
    cut = _Budget(CUT_BUDGET)
    cells = 0
    block_start = 0  # index of the first line of the current block (lines between blank lines)
    block_ends = _block_ends(lines)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    per_line = 64  # characters that cost as much as one line when a cut block is re-tested
    for number, line in enumerate(lines):
        if not line.strip(_BLANK):
            block_start = number + 1
            continue
        if number == block_start:  # a line with a border pipe makes the table test search every row
            bordered = any(_bordered(other) for other in lines[number : block_ends[number] + 1])
            per_line = 4 if bordered else 64
        depth, content_at = _container_depth(line)
        if depth > MAX_NESTING:
            return Problem(f"列表或引用嵌套超过 {MAX_NESTING} 层（每个“-”“1.”“>”或四个空格的缩进算一层）。", number + 1)
        content = line[content_at:]
        rest = block_ends[number] - number + 1 + (offsets[block_ends[number] + 1] - offsets[number]) // per_line
        previous = lines[number - 1] if number > block_start else None
        cuts = max(_cuts_block(content, previous=previous), _cuts_block(line, previous=previous))  # "-" is a list or an underline
        if cuts and cut.add(rest * cuts, number):
            return Problem("标题、分隔线或链接定义与上下文之间没有空行，这一段过长。请在每个标题和分隔线前后各空一行。", cut.worst_at + 1)
        if number > block_start and "|" in content and "-" in content and _SEPARATOR.match(content):
            columns = content.count("|") + 1
            cells += columns * (block_ends[number] - number + 2)  # the header row too
            if cells > MAX_TABLE_CELLS:
                return Problem(
                    f"表格的单元格（列数 × 行数）共超过 {MAX_TABLE_CELLS:,} 个。"
                    "表格前后请各空一行（否则其后的文字都算作表格的行），大表格请拆开或作为附件发布。",
                    number,
                )
    return None


def _bordered(line: str) -> bool:
    stripped = line.strip(" ")
    return stripped.startswith("|") or stripped.endswith("|")


def _block_ends(lines: list[str]) -> list[int]:
    """For each line, the index of the last line of its block."""
    ends = [0] * len(lines)
    last = len(lines) - 1
    for number in range(len(lines) - 1, -1, -1):
        if not lines[number].strip(_BLANK):
            last = number - 1
        ends[number] = max(last, number)
    return ends


def _cuts_block(content: str, *, previous: str | None) -> int:
    """How much Python-Markdown re-reads the rest of the block when it splits it at this line (0: it
    does not): headings, rules and setext underlines once, link definitions about four times."""
    if _REFERENCE.match(content):
        return 4
    if _ATX.match(content) or _HR.match(content) or (previous is not None and _SETEXT.match(content)):
        return 1
    return 0


def _check_fences(text: str, lines: list[str]) -> Problem | None:
    """Each line that starts like a fence makes fenced_code scan on to the same fence (or the end)."""
    budget = _Budget(SCAN_BUDGET)
    following: dict[str, int] = {}  # fence -> offset of the next line that is exactly that fence
    offset = len(text) + 1
    for number in range(len(lines) - 1, -1, -1):  # backwards, to know each fence's next closing line
        line = lines[number]
        offset -= len(line) + 1
        m = _FENCE.match(line)
        if m is None:
            continue
        fence = m.group(0)
        if "hl_lines" in line:  # its quoted argument may span lines: backtracking grows faster than n²
            return Problem("代码块标记行不支持 hl_lines。", number + 1)
        span = following.get(fence, len(text)) - offset
        if span >= budget.worst:  # ties go to the earlier line: the first unclosed fence is the one to fix
            budget.worst = span - 1
        budget.add(span, number)
        if line.rstrip(" ") == fence:
            following[fence] = offset
    if budget.total > budget.limit:
        return Problem("代码块（``` 或 ~~~）没有对应的结束标记，或这样的标记过多。", budget.worst_at + 1)
    return None


class _Quotes:
    """Positions of each quote character, for "the next `'` after i" in logarithmic time."""

    def __init__(self, text: str) -> None:
        self.positions = {q: [m.start() for m in re.finditer(q, text)] for q in ("'", '"')}

    def next(self, quote: str, after: int) -> int:
        found = self.positions[quote]
        index = bisect.bisect_right(found, after)
        return found[index] if index < len(found) else -1


def _tag_end(text: str, start: int, quotes: _Quotes) -> int:
    """Where html.parser can end a start tag at `start`, or -1 when it may scan to the end.

    Attribute values in quotes may hide a `>`; any quote after `=` may start one, so the end is
    the first `>` outside every such possible value (never earlier than the parser's end). A tag
    longer than TAG_SCAN counts as unended: measuring it further could cost more than parsing it.
    """
    covered = start
    i = start + 1
    while i - start <= TAG_SCAN:
        gt = text.find(">", max(i, covered + 1))
        if gt < 0:
            return -1
        for m in _VALUE_QUOTE.finditer(text, i, gt):
            covered = max(covered, quotes.next(m.group(1), m.end() - 1))
        if gt > covered:
            return gt
        i = gt + 1
    return -1


def _construct_end(text: str, m: re.Match[str], quotes: _Quotes) -> int:
    """The end of the construct html.parser starts at a `<`, or -1 when it may scan to the end."""
    opening = m.group(0)
    if m.group(1) is not None:
        return _tag_end(text, m.start(), quotes)
    if opening == "<!--":
        return text.find("-->", m.start() + 4)
    if opening == "<!" and text.startswith("<![", m.start()):
        found = _SECTION_END.search(text, m.start())
        return -1 if found is None else found.end() - 1
    return text.find(">", m.start())  # end tags, declarations, processing instructions


def _check_html(text: str) -> Problem | None:
    """Python-Markdown's raw-HTML pass (html.parser) and html5ever's nesting.

    html.parser resumes after a construct it could end; one it could not end costs a scan to the
    end of the body and the next `<` is tried again (quadratic before Python 3.13). Python-Markdown
    copies the rest of the body after an empty block tag or a comment at the start of a line, at
    the end of a raw block, and at a comment inside an unclosed inline tag (and searches that rest
    once per open tag).
    """
    scans = _Budget(SCAN_BUDGET)
    copies = _Budget(COPY_BUDGET)
    positions = _Lines(text)
    quotes = _Quotes(text)
    stack: list[str] = []  # html5ever's open elements (an upper bound)
    inline: list[str] = []  # Python-Markdown's unclosed inline tags
    raw = tail = False  # inside a raw HTML block; right after one on the same line
    raw_base = 0  # open elements when the raw block started
    resume = 0

    def copied(cost: int, at: int) -> Problem | None:
        if copies.add(cost, at):
            return Problem("HTML 注释或独占一行的 HTML 标记过多。请去掉不必要的 HTML 标记。", positions.line(copies.worst_at))
        return None

    def at_line_start(at: int) -> bool:
        """Python-Markdown's test: at most three spaces before `at` on its line."""
        line_start = positions.starts[positions.line(at) - 1]
        return at - line_start <= 3 and not text[line_start:at].strip()

    for m in _TAG_START.finditer(text):
        start = m.start()
        if start < resume:  # inside a construct the parser has already read
            continue
        end = _construct_end(text, m, quotes)
        # an unended declaration or CDATA section is read again in several ways (about 16 scans)
        weight = 16 if end < 0 and m.group(0) == "<!" else 1
        if scans.add(((len(text) if end < 0 else end) - start) * weight, start):
            return Problem(
                "以“<”开头的 HTML 标记没有结束的“>”，这样的标记过多。若要表示“小于”，请改用全角“＜”或“&lt;”。",
                positions.line(scans.worst_at),
            )
        if end < 0:
            continue
        if tail and "\n" in text[resume:start]:
            tail = False
        resume = end + 1
        line_start = at_line_start(start)
        rest = len(text) - start
        if m.group(1) is None:  # comment, declaration, processing instruction, `</`
            standalone = line_start and not raw and not tail  # copies the rest to look for a blank line
            cost = rest if standalone else 0
            tail = tail or standalone
            if m.group(0) == "<!--" and inline:
                cost += rest * (1 + len(inline))
            problem = copied(cost, start)
            if problem:
                return problem
            continue
        tag = _TAG_NAME.match(text, m.end()).group(0).lower()  # type: ignore[union-attr]
        block = tag in BLOCK_LEVEL_ELEMENTS
        if m.group(1):  # an end tag
            if tag in inline:
                del inline[len(inline) - 1 - inline[::-1].index(tag) :]
            if tag in stack:
                del stack[len(stack) - 1 - stack[::-1].index(tag) :]
                if raw and len(stack) <= raw_base:  # the raw block ends: its elements are closed
                    raw, tail = False, True
                    problem = copied(rest, start)
                    if problem:
                        return problem
            continue
        void = tag in _VOID or text[end - 1] == "/"
        if block and not raw and void and line_start and not tail:  # a standalone empty block tag
            tail = True
            problem = copied(rest, start)
            if problem:
                return problem
        elif block and not raw and not void and (line_start or tail):
            raw, raw_base = True, len(stack)
        if not block and not void:
            inline.append(tag)
        if tag in _VOID:
            continue
        if tag in _SELF_CLOSING_SIBLINGS and stack and stack[-1] == tag:
            stack.pop()
        stack.append(tag)
        if len(stack) > MAX_HTML_NESTING:
            return Problem(f"HTML 标签嵌套超过 {MAX_HTML_NESTING} 层（可能缺少结束标签）。", positions.line(start))
    return None


def _label(raw: str) -> str:
    return _LABEL_SPACE.sub(" ", raw.strip()).lower()


def _check_expansion(text: str, lines: list[str]) -> Problem | None:
    """Link references copy their target at every use; a [TOC] marker copies every heading."""
    targets: dict[str, int] = {}
    for line in lines:
        m = _REFERENCE.match(line[_container_depth(line)[1] :])
        if m:
            targets[_label(m.group(1))] = len(m.group(2)) + len(m.group(3))
    copied = 0
    if targets:
        positions = _Lines(text)
        for m in _BRACKET_LABEL.finditer(text):
            copied += targets.get(_label(m.group(1)), 0)
            if copied > MAX_EXPANSION:
                return Problem("同一个链接引用被使用的次数过多，或引用的地址过长。", positions.line(m.start()))
    markers = text.count("[TOC]")
    if markers:
        headings = sum(len(line) for line in lines if _ATX.match(line) or _SETEXT.match(line))
        if copied + markers * headings > MAX_EXPANSION:
            return Problem("[TOC] 目录标记过多。页面已自动显示目录，请删除这些标记。")
    return None


# -- inside Python-Markdown --------------------------------------------------------------------


def _bracket_scans(text: str) -> tuple[int, int]:
    """Characters the link processors scan from each `[` to its `]` and each `](` to its `)`.

    Returns the total and the position of the costliest opener. An unmatched opener scans to the
    end of the text; a `(` whose span holds a quote may open a link title, whose end
    Python-Markdown looks for up to the end of the text.
    """
    n = len(text)
    open_brackets: list[int] = []
    open_parens: list[int] = []
    bracket_spans: list[tuple[int, int]] = []
    link_parens: list[int] = []
    paren_close: dict[int, int] = {}
    quotes = [0] * (n + 1)
    i = 0
    while i < n:
        c = text[i]
        quotes[i + 1] = quotes[i] + (c in "\"'")
        if c == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:  # an escaped character is no delimiter
            quotes[i + 2] = quotes[i + 1] + (text[i + 1] in "\"'")
            i += 2
            continue
        if c == "[":
            open_brackets.append(i)
        elif c == "]" and open_brackets:
            opener = open_brackets.pop()
            bracket_spans.append((i - opener, opener))
            if i + 1 < n and text[i + 1] == "(":
                link_parens.append(i + 1)
        elif c == "(":
            open_parens.append(i)
        elif c == ")" and open_parens:
            paren_close[open_parens.pop()] = i
        i += 1
    bracket_spans.extend((n - opener, opener) for opener in open_brackets)
    for opener in link_parens:
        close = paren_close.get(opener, n)
        if close < n and quotes[close] > quotes[opener]:  # a title: its end is searched to the end
            close = n
        bracket_spans.append((close - opener, opener))
    if not bracket_spans:
        return 0, 0
    return sum(span for span, _ in bracket_spans), max(bracket_spans)[1]


def _backtick_scans(text: str) -> tuple[int, int]:
    """Characters the code-span processor scans from each run of backticks to a run as long."""
    runs = [(m.start(), len(m.group(0))) for m in re.finditer("`+", text)]
    following: dict[int, int] = {}
    total, worst, worst_at = 0, -1, 0
    for start, length in reversed(runs):
        span = following.get(length, len(text)) - start
        following[length] = start
        total += span
        if span > worst:
            worst, worst_at = span, start
    return total, worst_at


_UNPAIRED_BRACKETS = "方括号“[”或圆括号“(”没有配对，这样的括号过多。链接请写成 [文字](地址)；要显示方括号本身，请改用全角“【】”。"


class _InlineGuard(Treeprocessor):
    """Measures every text before inline processing; raises OverBudget over a budget."""

    def __init__(self, md: Markdown, source: str) -> None:
        super().__init__(md)
        self.source = source

    def run(self, root: Any) -> None:
        brackets = _Budget(SCAN_BUDGET)
        backticks = _Budget(SCAN_BUDGET)
        rebuild = _Budget(REBUILD_BUDGET)
        for element in root.iter():
            for text in (element.text, element.tail):
                if not text or isinstance(text, AtomicString):
                    continue
                cost, at = _bracket_scans(text)
                if brackets.add(cost, 0):
                    self._fail(_UNPAIRED_BRACKETS, text, at)
                cost, at = _backtick_scans(text)
                if backticks.add(cost, 0):
                    self._fail("反引号“`”没有配对，这样的反引号过多。", text, at)
                marks = sum(1 for c in text if c in _INLINE_MARKS) + text.count("  \n")
                if rebuild.add(marks * len(text), 0):
                    message = f"这一段有 {len(text):,} 个字符、{marks:,} 个格式符号（* _ ` [ < & \\），过多。"
                    self._fail(message + "请分段（段落之间空一行）或减少格式符号。", text, 0)

    def _fail(self, message: str, text: str, at: int) -> None:
        raise OverBudget(Problem(message, _locate(self.source, text, at)))


class _DepthGuard(Treeprocessor):
    """The rendered tree's depth, before the recursive serializer and writers walk it."""

    def __init__(self, md: Markdown, source: str) -> None:
        super().__init__(md)
        self.source = source

    def run(self, root: Any) -> None:
        stack = [(root, 0)]
        while stack:
            element, depth = stack.pop()
            if depth > MAX_OUTPUT_DEPTH:
                text = element.text or "".join(element.itertext())
                raise OverBudget(Problem(f"加粗、斜体、链接、列表等格式嵌套超过 {MAX_OUTPUT_DEPTH} 层。", _locate(self.source, text, 0)))
            stack.extend((child, depth + 1) for child in element)


class GuardExtension(Extension):
    """Registers both guards: inline costs before the inline processor (priority 20), depth after."""

    def __init__(self, *, source: str) -> None:
        super().__init__()
        self.source = normalise(source)

    def extendMarkdown(self, md: Markdown) -> None:
        md.treeprocessors.register(_InlineGuard(md, self.source), "zhengai_inline_guard", 25)
        md.treeprocessors.register(_DepthGuard(md, self.source), "zhengai_depth_guard", 15)


def _locate(source: str, text: str, at: int) -> int | None:
    """The line of `source` that holds `text[at:]` (texts inside the tree lost their line numbers)."""
    for start in (at, max(0, at - 20), 0):
        snippet = text[start : start + 40].split("\n")[0].split(STX)[0]
        if snippet.strip():
            found = source.find(snippet)
            if found >= 0:
                return source.count("\n", 0, found) + 1
    return None
