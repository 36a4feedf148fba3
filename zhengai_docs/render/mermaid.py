"""The Mermaid flowchart subset the documents use, parsed into nodes, edges and subgraphs.

Word, the handbook and the print view draw flowcharts with Graphviz (`render.flowcharts`), so
the graph must be read here exactly as the browser's Mermaid reads it: `flowchart`/`graph` with
a direction (TD, TB, BT, LR, RL); nodes `A[文字]`, `A(文字)`, `A{文字}` and Mermaid's other
bracket shapes, quoted text and `<br>` line breaks; links `-->`, `---`, `-.->`, `==>` (longer,
two-headed, `o`/`x` ends), labelled `-->|文字|` or `-- 文字 -->`; chains and `&` groups;
`subgraph … end`. Styling and interaction lines (classDef, style, click …) do not change what
is drawn and are skipped. Anything else is refused with the line it stands on, in Chinese, so
an export can say why a chart is shown as its source.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from enum import Enum

from zhengai_docs.errors import ZhengaiError

MAX_NODES = 400
MAX_EDGES = 800
MAX_LABEL = 400


class FlowchartSyntaxError(ZhengaiError):
    """The text is not a flowchart this parser can draw; the message says where, in Chinese."""


class Shape(Enum):
    RECT = "rect"  # A[文字]
    ROUND = "round"  # A(文字)
    STADIUM = "stadium"  # A([文字])
    SUBROUTINE = "subroutine"  # A[[文字]]
    CYLINDER = "cylinder"  # A[(文字)]
    CIRCLE = "circle"  # A((文字))
    DOUBLE_CIRCLE = "double-circle"  # A(((文字)))
    ASYMMETRIC = "asymmetric"  # A>文字]
    RHOMBUS = "rhombus"  # A{文字}
    HEXAGON = "hexagon"  # A{{文字}}
    PARALLELOGRAM = "parallelogram"  # A[/文字/]
    PARALLELOGRAM_ALT = "parallelogram-alt"  # A[\文字\]
    TRAPEZOID = "trapezoid"  # A[/文字\]
    TRAPEZOID_ALT = "trapezoid-alt"  # A[\文字/]


class Stroke(Enum):
    SOLID = "solid"
    DOTTED = "dotted"
    THICK = "thick"


@dataclass
class Node:
    id: str
    label: str
    shape: Shape = Shape.RECT


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    stroke: Stroke = Stroke.SOLID
    head: str = "arrow"  # arrow, none, circle, cross
    tail: str = "none"
    length: int = 1  # extra dashes make Mermaid lay the target further away


@dataclass
class Subgraph:
    id: str
    title: str
    nodes: list[str] = field(default_factory=list)  # its own nodes (not those of nested subgraphs)
    children: list[str] = field(default_factory=list)  # nested subgraph ids
    parent: str | None = None


@dataclass
class Flowchart:
    direction: str  # TB, BT, LR or RL
    nodes: dict[str, Node] = field(default_factory=dict)  # in order of first mention
    edges: list[Edge] = field(default_factory=list)
    subgraphs: dict[str, Subgraph] = field(default_factory=dict)

    def top_subgraphs(self) -> list[Subgraph]:
        return [s for s in self.subgraphs.values() if s.parent is None]


_HEADER = re.compile(r"(?:flowchart|graph)(?:\s+(TD|TB|BT|LR|RL))?\s*;?\s*$", re.IGNORECASE)
_OTHER_DIAGRAMS = re.compile(
    r"(sequenceDiagram|classDiagram|stateDiagram|erDiagram|gantt|pie|journey|gitGraph|mindmap|timeline|quadrantChart|"
    r"requirementDiagram|C4\w*|sankey|xychart|block|packet|kanban|architecture|radar)\b",
    re.IGNORECASE,
)
_SKIPPED = re.compile(r"(?:classDef|class|style|linkStyle|click|accTitle|accDescr)(?=[\s:{]|$)")
_ID = re.compile(r"[^\s\[\](){}<>|&;:\"'`=.\-/\\,!@#$%^*+?~]+")
_CLASS_SUFFIX = re.compile(r":::[\w-]+")
# A link: optional start marker, then dashes, equals signs or a dotted run, then an optional end.
_LINK = re.compile(
    r"(?P<tail>[<ox])?(?:(?P<dotted>-\.+-)|(?P<thick>={2,})|(?P<solid>-{2,}))(?P<head>[>ox])?(?=[\s|\w\"\[({>]|$)",
)
_TEXT_LINK_OPEN = re.compile(r"(?P<tail>[<ox])?(?P<open>--|==|-\.)\s+")
_TEXT_LINK_CLOSE = {
    "--": re.compile(r"\s*(?P<close>-{2,})(?P<head>[>ox])?"),
    "==": re.compile(r"\s*(?P<close>={2,})(?P<head>[>ox])?"),
    "-.": re.compile(r"\s*(?P<close>\.-+)(?P<head>[>ox])?"),
}
# Openers, longest first, with their closers and shapes.
_SHAPES: tuple[tuple[str, tuple[tuple[str, Shape], ...]], ...] = (
    ("(((", ((")))", Shape.DOUBLE_CIRCLE),)),
    ("([", (("])", Shape.STADIUM),)),
    ("[[", (("]]", Shape.SUBROUTINE),)),
    ("[(", ((")]", Shape.CYLINDER),)),
    ("((", (("))", Shape.CIRCLE),)),
    ("{{", (("}}", Shape.HEXAGON),)),
    ("[/", (("/]", Shape.PARALLELOGRAM), ("\\]", Shape.TRAPEZOID))),
    ("[\\", (("\\]", Shape.PARALLELOGRAM_ALT), ("/]", Shape.TRAPEZOID_ALT))),
    ("[", (("]", Shape.RECT),)),
    ("(", ((")", Shape.ROUND),)),
    ("{", (("}", Shape.RHOMBUS),)),
    (">", (("]", Shape.ASYMMETRIC),)),
)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_ENTITY = re.compile(r"#(\d+|[a-zA-Z]+);")


def is_flowchart(source: str) -> bool:
    """Does the text declare a flowchart (rather than another kind of Mermaid diagram)?"""
    first = next((line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("%%")), "")
    return bool(re.match(r"(?:flowchart|graph)\b", first, re.IGNORECASE))


def parse_flowchart(source: str) -> Flowchart:
    """The flowchart the text declares; FlowchartSyntaxError (in Chinese) for anything else."""
    return _Parser(source).run()


class _Parser:
    def __init__(self, source: str) -> None:
        self.lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.chart: Flowchart | None = None
        self.stack: list[Subgraph] = []
        self.claimed: set[str] = set()  # nodes already placed in a subgraph
        self.mentioned: list[list[str]] = []  # per open subgraph, the ids mentioned inside it
        self.line_number = 0

    def fail(self, message: str) -> FlowchartSyntaxError:
        return FlowchartSyntaxError(f"第 {self.line_number} 行：{message}")

    def run(self) -> Flowchart:
        for number, raw in enumerate(self.lines, start=1):
            self.line_number = number
            line = raw.strip()
            if not line or line.startswith("%%"):
                continue
            if self.chart is None:
                self._header(line)
                continue
            for statement in _statements(line):
                self._statement(statement)
        if self.chart is None:
            raise FlowchartSyntaxError("流程图是空的。")
        if self.stack:
            raise FlowchartSyntaxError(f"子图“{self.stack[-1].title}”缺少结束标记 end。")
        for sub_id in self.chart.subgraphs:  # linked to before it was declared: a subgraph, not a node
            node = self.chart.nodes.get(sub_id)
            if node is not None and node.label == sub_id and node.shape is Shape.RECT:
                del self.chart.nodes[sub_id]
                for subgraph in self.chart.subgraphs.values():
                    if sub_id in subgraph.nodes:
                        subgraph.nodes.remove(sub_id)
        if not self.chart.nodes:
            raise FlowchartSyntaxError("流程图中没有任何节点。")
        return self.chart

    def _header(self, line: str) -> None:
        header = _HEADER.match(line)
        if header is None:
            other = _OTHER_DIAGRAMS.match(line)
            if other:
                raise self.fail(f"“{other.group(1)}”类图表不能绘制为图片，只支持流程图（flowchart）。")
            if re.match(r"(?:flowchart|graph)\b", line, re.IGNORECASE):
                raise self.fail(f"流程图方向“{line}”无法识别（可用 TD、TB、BT、LR、RL）。")
            raise self.fail("第一行应为 flowchart TD 或 flowchart LR。")
        direction = (header.group(1) or "TB").upper()
        self.chart = Flowchart(direction="TB" if direction == "TD" else direction)

    @property
    def graph(self) -> Flowchart:
        if self.chart is None:  # statements are read only after the header
            raise FlowchartSyntaxError("流程图缺少第一行（flowchart TD）。")
        return self.chart

    def _statement(self, text: str) -> None:
        keyword = text.split(None, 1)[0] if text.split() else ""
        if keyword == "subgraph":
            self._open_subgraph(text[len("subgraph") :].strip())
        elif keyword == "end" and text == "end":
            self._close_subgraph()
        elif keyword == "direction":
            if not self.stack or text.split()[-1].upper() not in ("TD", "TB", "BT", "LR", "RL"):
                raise self.fail(f"“{text}”无法识别。")
        elif (skipped := _SKIPPED.match(text)) and text[skipped.end() :].lstrip()[:1] not in ("-", "=", "&", "<"):
            return  # styling and interaction: the drawing's content is unchanged
        else:
            self._chain(text)

    def _open_subgraph(self, rest: str) -> None:
        if not rest:
            raise self.fail("子图（subgraph）需要名称。")
        match = re.match(r"([^\s\[\"]+)\s*\[(.*)\]\s*$", rest)
        if match:
            sub_id, title = match.group(1), _text(match.group(2))
        elif rest.startswith('"') and rest.endswith('"') and len(rest) > 1:
            title = _text(rest)
            sub_id = f"subgraph-{len(self.graph.subgraphs) + 1}"
        else:
            sub_id = rest if _ID.fullmatch(rest) else f"subgraph-{len(self.graph.subgraphs) + 1}"
            title = _text(rest)
        if sub_id in self.graph.subgraphs:
            raise self.fail(f"子图“{sub_id}”重复定义。")
        parent = self.stack[-1] if self.stack else None
        subgraph = Subgraph(id=sub_id, title=title, parent=parent.id if parent else None)
        if parent is not None:
            parent.children.append(sub_id)
        self.graph.subgraphs[sub_id] = subgraph
        self.stack.append(subgraph)
        self.mentioned.append([])

    def _close_subgraph(self) -> None:
        if not self.stack:
            raise self.fail("多余的 end（没有对应的 subgraph）。")
        subgraph = self.stack.pop()
        for node_id in self.mentioned.pop():
            if node_id not in self.claimed and node_id not in self.graph.subgraphs:
                self.claimed.add(node_id)
                subgraph.nodes.append(node_id)

    def _chain(self, text: str) -> None:
        position = 0
        groups: list[list[str]] = []
        links: list[tuple[str, Stroke, str, str, int]] = []
        while True:
            group, position = self._group(text, position)
            groups.append(group)
            position = _skip_blanks(text, position)
            if position >= len(text):
                break
            link, position = self._link(text, position)
            links.append(link)
            position = _skip_blanks(text, position)
            if position >= len(text):
                raise self.fail("连线缺少指向的节点。")
        for (label, stroke, head, tail, length), sources, targets in zip(links, groups, groups[1:], strict=False):
            for source in sources:
                for target in targets:
                    self.graph.edges.append(Edge(source, target, label, stroke, head, tail, length))
                    if len(self.graph.edges) > MAX_EDGES:
                        raise FlowchartSyntaxError(f"流程图的连线超过 {MAX_EDGES} 条，无法绘制为图片。")

    def _group(self, text: str, position: int) -> tuple[list[str], int]:
        ids = []
        while True:
            node_id, position = self._node(text, _skip_blanks(text, position))
            ids.append(node_id)
            after = _skip_blanks(text, position)
            if after < len(text) and text[after] == "&":
                position = after + 1
                continue
            return ids, position

    def _node(self, text: str, position: int) -> tuple[str, int]:
        match = _ID.match(text, position)
        if match is None:
            shown = text[position : position + 12] or text
            raise self.fail(f"“{shown}”处应为节点名称。")
        node_id, position = match.group(0), match.end()
        if text.startswith("@{", position):
            raise self.fail("不支持 @{ … } 形式的节点写法，请使用 A[文字] 等形式。")
        label: str | None = None
        shape = Shape.RECT
        for opener, closers in _SHAPES:
            if text.startswith(opener, position):
                label, shape, position = self._shape_text(text, position + len(opener), opener, closers)
                break
        suffix = _CLASS_SUFFIX.match(text, position)
        if suffix:
            position = suffix.end()
        self._mention(node_id, label, shape)
        return node_id, position

    def _shape_text(self, text: str, start: int, opener: str, closers: tuple[tuple[str, Shape], ...]) -> tuple[str, Shape, int]:
        body_start = _skip_blanks(text, start)
        if body_start < len(text) and text[body_start] == '"':
            end_quote = text.find('"', body_start + 1)
            if end_quote < 0:
                raise self.fail("节点文字的引号没有闭合。")
            after = _skip_blanks(text, end_quote + 1)
            for closer, shape in closers:
                if text.startswith(closer, after):
                    return _text(text[body_start : end_quote + 1]), shape, after + len(closer)
            raise self.fail(f"节点文字后缺少“{closers[0][0]}”。")
        found = [(text.find(closer, start), closer, shape) for closer, shape in closers]
        found = [f for f in found if f[0] >= 0]
        if not found:
            raise self.fail(f"“{opener}”没有对应的“{closers[0][0]}”。")
        end, closer, shape = min(found, key=lambda f: f[0])
        return _text(text[start:end]), shape, end + len(closer)

    def _mention(self, node_id: str, label: str | None, shape: Shape) -> None:
        nodes = self.graph.nodes
        if node_id in self.graph.subgraphs and label is None:
            pass  # a link to a subgraph: drawn to its border
        elif node_id not in nodes:
            if len(nodes) >= MAX_NODES:
                raise FlowchartSyntaxError(f"流程图的节点超过 {MAX_NODES} 个，无法绘制为图片。")
            nodes[node_id] = Node(node_id, label if label is not None else node_id, shape)
        elif label is not None:
            nodes[node_id].label, nodes[node_id].shape = label, shape  # a later definition wins, as in Mermaid
        if label is not None and len(label) > MAX_LABEL:
            raise self.fail(f"节点文字超过 {MAX_LABEL} 字。")
        for mentioned in self.mentioned:
            mentioned.append(node_id)

    def _link(self, text: str, position: int) -> tuple[tuple[str, Stroke, str, str, int], int]:
        opened = _TEXT_LINK_OPEN.match(text, position)
        if opened is not None:  # -- 文字 -->, == 文字 ==>, -. 文字 .->
            kind = opened.group("open")
            for match in _TEXT_LINK_CLOSE[kind].finditer(text, opened.end()):
                close, head_mark = match.group("close"), match.group("head") or ""
                if head_mark or kind == "-." or len(close) >= 3:
                    stroke = {"--": Stroke.SOLID, "==": Stroke.THICK, "-.": Stroke.DOTTED}[kind]
                    length = 1 if kind == "-." else len(close) - (1 if head_mark else 2)
                    label = _text(text[opened.end() : match.start()])
                    return (label, stroke, _END[head_mark], _END[opened.group("tail") or ""], max(1, length)), match.end()
            raise self.fail("带文字的连线没有结束（如 -- 文字 -->）。")
        link = _LINK.match(text, position)
        if link is None:
            shown = text[position : position + 12]
            raise self.fail(f"“{shown}”处应为连线（如 -->、-.->、==>）。")
        match = link
        head_mark = match.group("head") or ""
        if match.group("dotted"):
            stroke, length = Stroke.DOTTED, match.group("dotted").count(".")
        else:
            run = match.group("thick") or match.group("solid")
            if not head_mark and len(run) < 3:
                raise self.fail(f"“{match.group(0)}”不是完整的连线（如 -->、---）。")
            stroke = Stroke.THICK if match.group("thick") else Stroke.SOLID
            length = len(run) - (1 if head_mark else 2)
        head = _END[head_mark]
        tail = _END[match.group("tail") or ""]
        position = _skip_blanks(text, match.end())
        label = ""
        if position < len(text) and text[position] == "|":
            end = text.find("|", position + 1)
            if end < 0:
                raise self.fail("连线文字缺少结束的“|”。")
            label = _text(text[position + 1 : end])
            position = end + 1
        return (label, stroke, head, tail, max(1, length)), position


_END = {">": "arrow", "<": "arrow", "o": "circle", "x": "cross", "": "none"}


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _statements(line: str) -> list[str]:
    """A line split at `;` outside quotes and brackets (Mermaid's statement separator)."""
    out: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            out.append(line[start:index].strip())
            start = index + 1
    out.append(line[start:].strip())
    return [s for s in out if s]


def _text(raw: str) -> str:
    """Node or link text as shown: quotes and Markdown-string backticks removed, `<br>` a line break,
    Mermaid's entity codes (#quot; #35;) decoded, other tags dropped."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        text = text[1:-1].strip()
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = _ENTITY.sub(lambda m: chr(int(m.group(1))) if m.group(1).isdigit() else html.unescape(f"&{m.group(1)};"), text)
    return "\n".join(line.strip() for line in text.split("\n"))
