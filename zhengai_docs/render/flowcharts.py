"""Flowcharts as pictures (PNG for Word, SVG for the print view), drawn by Graphviz.

Leadership reads print, and the diagram is the heart of a 流程, so every ```mermaid block that
leaves the browser is drawn here: `render.mermaid` reads the flowchart, this module lays it out
with Graphviz's `dot` (Debian package `graphviz`; a CJK font such as `fonts-wqy-zenhei` makes the
Chinese readable) — the same nodes, shapes, links and labels the page shows, in black on white
for print. `dot` is a local program: nothing is fetched at run time; it is run with a time
limit, on graphs of bounded size, and never through a shell. Pictures are kept by the hash of
what was drawn (the layout text, the format, the Graphviz version) in FLOWCHART_CACHE, so a
handbook drawn again costs one file read per chart.

When a chart cannot be drawn (Graphviz missing, a Mermaid construct outside the subset, a
timeout) `FlowchartUnavailable` says why in Chinese; callers then print the source under a note.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.errors import ZhengaiError
from zhengai_docs.render.html_tree import Node as HtmlNode
from zhengai_docs.render.html_tree import markdown_tree
from zhengai_docs.render.mermaid import Edge, Flowchart, FlowchartSyntaxError, Node, Shape, Stroke, Subgraph, parse_flowchart

LAYOUT_VERSION = "1"  # part of every cache key: change it when the layout text below changes
DPI = 200  # print quality for line art, ~60 KB per chart
FONT = "WenQuanYi Zen Hei"
SVG_FONTS = "'WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
NODE_FONT_PT = 10.5  # 五号
EDGE_FONT_PT = 9.0  # 小五
FORMATS = ("png", "svg")
_BOX_WIDTH = 24  # wrap node text at 12 Chinese characters (Mermaid wraps at about the same width)
_DIAMOND_WIDTH = 14  # decisions are drawn around their text: keep them compact
_EDGE_WIDTH = 16
_NO_LINE_START = set("，。、；：？！）》」』”’〕】,.;:?!)]}%")
_NO_LINE_END = set("（《「『“‘〔【([{")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_/:%]*")
_SVG_SIZE = re.compile(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


class FlowchartUnavailable(ZhengaiError):
    """The chart cannot be drawn as a picture here; `reason` says why, in Chinese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Picture:
    data: bytes
    format: str  # png or svg
    width_pt: float  # natural size: Graphviz lays out in points
    height_pt: float


class FlowchartRenderer:
    """Draws Mermaid flowcharts with one `dot` program, keeping the pictures in `cache` (if given)."""

    def __init__(self, *, dot: str = "dot", cache: Path | None = None, timeout_seconds: float = 20.0) -> None:
        self.dot = dot
        self.cache = cache
        self.timeout_seconds = timeout_seconds

    def program(self) -> str | None:
        """The `dot` executable, or None when Graphviz is not installed."""
        return shutil.which(self.dot)

    def draw(self, source: str, *, fmt: str = "png") -> Picture:
        """The picture of a flowchart's Mermaid source; FlowchartUnavailable when it cannot be drawn."""
        if fmt not in FORMATS:
            raise ValueError(fmt)
        try:
            chart = parse_flowchart(source)
        except FlowchartSyntaxError as exc:
            raise FlowchartUnavailable(f"流程图源码不能识别（{str(exc).rstrip('。')}）") from None
        program = self.program()
        if program is None:
            raise FlowchartUnavailable("服务器未安装 Graphviz（Debian/Ubuntu 软件包 graphviz）")
        layout = to_dot(chart)
        key = hashlib.sha256("\n".join((LAYOUT_VERSION, _version(program), fmt, str(DPI), layout)).encode()).hexdigest()
        data = self._cached(key, fmt)
        if data is None:
            data = self._run(program, layout, fmt)
            self._store(key, fmt, data)
        return _picture(data, fmt)

    def _run(self, program: str, layout: str, fmt: str) -> bytes:
        args = [program, "-Tpng:cairo", f"-Gdpi={DPI}"] if fmt == "png" else [program, "-Tsvg"]
        try:
            done = subprocess.run(args, input=layout.encode("utf-8"), capture_output=True, timeout=self.timeout_seconds, check=False)
        except subprocess.TimeoutExpired:
            raise FlowchartUnavailable(f"流程图过于复杂，{self.timeout_seconds:g} 秒内未能绘制完成") from None
        except OSError as exc:
            raise FlowchartUnavailable(f"无法运行 Graphviz（{exc.strerror or exc}）") from None
        if done.returncode != 0 or not done.stdout:
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            raise FlowchartUnavailable(f"Graphviz 绘制失败（{detail[0] if detail else done.returncode}）")
        if fmt == "svg":
            return done.stdout.replace(f'font-family="{FONT}"'.encode(), f'font-family="{SVG_FONTS}"'.encode())
        return done.stdout

    def _path(self, key: str, fmt: str) -> Path | None:
        return self.cache / key[:2] / f"{key}.{fmt}" if self.cache is not None else None

    def _cached(self, key: str, fmt: str) -> bytes | None:
        path = self._path(key, fmt)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def _store(self, key: str, fmt: str, data: bytes) -> None:
        """Written beside and renamed into place: a reader never sees half a picture. A cache that
        cannot be written only costs drawing the chart again."""
        path = self._path(key, fmt)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".draw-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except OSError:
            return


def flowchart_sources(markdown: str) -> list[str]:
    """The Mermaid sources of a body's flowcharts, in the order the page shows them."""
    found: list[str] = []

    def walk(node: HtmlNode) -> None:
        if node.tag == "code" and "language-mermaid" in node.attrs.get("class", "").split():
            found.append(node.text_content().rstrip("\n"))
            return
        for child in node.children:
            walk(child)

    walk(markdown_tree(markdown))
    return found


_VERSIONS: dict[str, str] = {}
_VERSIONS_LOCK = threading.Lock()


def _version(program: str) -> str:
    """`dot -V` once per program and process: a Graphviz upgrade draws the charts anew."""
    with _VERSIONS_LOCK:
        if program not in _VERSIONS:
            try:
                done = subprocess.run([program, "-V"], capture_output=True, timeout=10, check=False)
                _VERSIONS[program] = done.stderr.decode("utf-8", "replace").strip()
            except (OSError, subprocess.TimeoutExpired):
                _VERSIONS[program] = "unknown"
        return _VERSIONS[program]


def _picture(data: bytes, fmt: str) -> Picture:
    if fmt == "png":
        if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
            raise FlowchartUnavailable("Graphviz 输出的图片无法读取")
        width, height = struct.unpack(">II", data[16:24])
        return Picture(data, fmt, width * 72 / DPI, height * 72 / DPI)
    size = _SVG_SIZE.search(data[:2000])
    if size is None:
        raise FlowchartUnavailable("Graphviz 输出的图片无法读取")
    return Picture(data, fmt, float(size.group(1)), float(size.group(2)))


# -- layout text ----------------------------------------------------------------------------------

_SHAPE_ATTRIBUTES = {
    Shape.RECT: 'shape="box"',
    Shape.ROUND: 'shape="box", style="rounded"',
    Shape.STADIUM: 'shape="box", style="rounded", peripheries=1',
    Shape.SUBROUTINE: 'shape="box", peripheries=2',
    Shape.CYLINDER: 'shape="cylinder"',
    Shape.CIRCLE: 'shape="circle"',
    Shape.DOUBLE_CIRCLE: 'shape="doublecircle"',
    Shape.ASYMMETRIC: 'shape="cds"',
    Shape.RHOMBUS: 'shape="diamond", margin="0.04,0.02"',
    Shape.HEXAGON: 'shape="hexagon"',
    Shape.PARALLELOGRAM: 'shape="polygon", sides=4, skew=0.3',
    Shape.PARALLELOGRAM_ALT: 'shape="polygon", sides=4, skew=-0.3',
    Shape.TRAPEZOID: 'shape="trapezium"',
    Shape.TRAPEZOID_ALT: 'shape="invtrapezium"',
}
_ENDS = {"arrow": "normal", "none": "none", "circle": "odot", "cross": "tee"}


def to_dot(chart: Flowchart) -> str:
    """The Graphviz layout text: statements in source order, so the same source lays out the same."""
    ids = {node_id: f"n{index}" for index, node_id in enumerate(chart.nodes)}
    clusters = {sub_id: f"cluster_{index}" for index, sub_id in enumerate(chart.subgraphs)}
    anchors = {sub_id: _anchor(chart, sub_id, ids) for sub_id in chart.subgraphs}
    lines = [
        "digraph flowchart {",
        f'  graph [rankdir="{chart.direction}", charset="UTF-8", fontname="{FONT}", fontsize={NODE_FONT_PT}, '
        'nodesep=0.3, ranksep=0.35, pad=0.12, bgcolor="white", compound=true, newrank=true];',
        f'  node [fontname="{FONT}", fontsize={NODE_FONT_PT}, margin="0.12,0.06", height=0.36, color="black", fontcolor="black", '
        "penwidth=1];",
        f'  edge [fontname="{FONT}", fontsize={EDGE_FONT_PT}, arrowsize=0.7, color="black", fontcolor="black"];',
    ]
    placed = {node_id for sub in chart.subgraphs.values() for node_id in sub.nodes}
    for node_id, node in chart.nodes.items():
        if node_id not in placed:
            lines.append(f"  {_node_line(node, ids)}")
    for subgraph in chart.top_subgraphs():
        lines.extend(_cluster_lines(chart, subgraph, ids, clusters, depth=1))
    for edge in chart.edges:
        lines.append(f"  {_edge_line(edge, ids, clusters, anchors)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_line(node: Node, ids: dict[str, str]) -> str:
    width = _DIAMOND_WIDTH if node.shape in (Shape.RHOMBUS, Shape.HEXAGON, Shape.CIRCLE, Shape.DOUBLE_CIRCLE) else _BOX_WIDTH
    return f"{ids[node.id]} [label={_quote(wrap(node.label, width))}, {_SHAPE_ATTRIBUTES[node.shape]}];"


def _cluster_lines(chart: Flowchart, subgraph: Subgraph, ids: dict[str, str], clusters: dict[str, str], *, depth: int) -> list[str]:
    pad = "  " * depth
    lines = [
        f"{pad}subgraph {clusters[subgraph.id]} {{",
        f'{pad}  label={_quote(wrap(subgraph.title, _BOX_WIDTH * 2))}; style="rounded"; color="#666666"; margin=10;',
    ]
    for node_id in subgraph.nodes:
        lines.append(f"{pad}  {_node_line(chart.nodes[node_id], ids)}")
    if not subgraph.nodes and not subgraph.children:
        lines.append(f'{pad}  {clusters[subgraph.id]}_empty [shape="point", style="invis", label=""];')
    for child in subgraph.children:
        lines.extend(_cluster_lines(chart, chart.subgraphs[child], ids, clusters, depth=depth + 1))
    lines.append(f"{pad}}}")
    return lines


def _anchor(chart: Flowchart, sub_id: str, ids: dict[str, str]) -> str:
    """A node inside the subgraph that links to it are drawn to (clipped at the subgraph's border)."""
    subgraph = chart.subgraphs[sub_id]
    if subgraph.nodes:
        return ids[subgraph.nodes[0]]
    for child in subgraph.children:
        return _anchor(chart, child, ids)
    return f"cluster_{list(chart.subgraphs).index(sub_id)}_empty"


def _edge_line(edge: Edge, ids: dict[str, str], clusters: dict[str, str], anchors: dict[str, str]) -> str:
    attributes = []
    source = ids.get(edge.source) or anchors[edge.source]
    target = ids.get(edge.target) or anchors[edge.target]
    if edge.source not in ids:
        attributes.append(f'ltail="{clusters[edge.source]}"')
    if edge.target not in ids:
        attributes.append(f'lhead="{clusters[edge.target]}"')
    if edge.label:
        attributes.append(f"label={_quote(wrap(edge.label, _EDGE_WIDTH))}")
    if edge.stroke is Stroke.DOTTED:
        attributes.append('style="dashed"')
    elif edge.stroke is Stroke.THICK:
        attributes.append("penwidth=2.2")
    if edge.tail != "none":
        attributes.append(f'dir="both", arrowtail="{_ENDS[edge.tail]}"')
    attributes.append(f'arrowhead="{_ENDS[edge.head]}"')
    if edge.length > 1:
        attributes.append(f"minlen={edge.length}")
    return f"{source} -> {target} [{', '.join(attributes)}];"


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped (no `\\N`-style escapes survive), lines centred."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "\\n".join(escaped.split("\n")) + '"'


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def wrap(text: str, width: int) -> str:
    """Lines of at most about `width` columns (a Chinese character is two), balanced so that no
    line is left with a character or two; Latin words and numbers are not split, and closing
    punctuation never starts a line (避头尾)."""
    return "\n".join(_wrap_line(line, width) for line in text.split("\n"))


def _wrap_line(line: str, width: int) -> str:
    total = _width(line)
    if total <= width:
        return line
    target = math.ceil(total / math.ceil(total / width)) + 1  # one column of slack: 15 characters split 8 + 7, not 7 + 7 + 1
    pieces = [m.group(0) for m in re.finditer(rf"{_WORD.pattern}|\s+|.", line)]
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current and _width(current) + _width(piece) > target and not piece.isspace():
            if piece[0] in _NO_LINE_START:
                current += piece  # the punctuation stays with what it closes
                continue
            carried = ""
            while current and current[-1] in _NO_LINE_END:
                carried, current = current[-1] + carried, current[:-1]
            if current.strip():
                lines.append(current.rstrip())
                current = carried + piece
                continue
            current = carried
        current += piece if current or not piece.isspace() else ""
    if current.strip():
        lines.append(current.rstrip())
    return "\n".join(lines)
