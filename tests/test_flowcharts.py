"""Flowcharts leave the browser as pictures: the Mermaid subset parser and the Graphviz renderer.

Every demo flowchart is parsed and compared with an independent reading of its lines, then drawn
as SVG and read back: the picture has the same node texts, the same number of links and the same
link labels as the source the page draws.
"""

from __future__ import annotations

import itertools
import re
import stat
import time
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from tests.document_tools import require
from zhengai_docs.bootstrap import bundled
from zhengai_docs.catalogue.document import split_front_matter
from zhengai_docs.render.flowcharts import FlowchartRenderer, FlowchartUnavailable, flowchart_sources, to_dot, wrap
from zhengai_docs.render.mermaid import FlowchartSyntaxError, Shape, Stroke, is_flowchart, parse_flowchart


def _demo_flowcharts() -> list[tuple[str, str]]:
    found = []
    for folder in ("regulations", "standards"):
        for path in sorted(bundled(folder).rglob("*.md")):
            _front, body, _line = split_front_matter(path.read_text(encoding="utf-8"), path=str(path))
            found += [(path.stem, source) for source in flowchart_sources(body)]
    template = bundled("templates") / "liu-cheng.md"
    found += [("liu-cheng", source) for source in flowchart_sources(template.read_text(encoding="utf-8"))]
    return found


DEMO = _demo_flowcharts()
SVG = "{http://www.w3.org/2000/svg}"


def test_the_demo_has_its_flowcharts() -> None:
    assert len(DEMO) == 11 and all(is_flowchart(source) for _name, source in DEMO)


def _independent_reading(source: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The demo's plain subset read line by line: `A[文字] -->|标签| B{文字}`."""
    labels: dict[str, str] = {}
    edges = []
    for line in source.splitlines()[1:]:
        for node_id, text in re.findall(r"(\w+)[\[{(]([^\]})]+)[\]})]", line):
            labels[node_id] = text
        parts = re.split(r"\s*-->\s*", re.sub(r"[\[{(][^\]})]*[\]})]", "", line.strip()))
        for left, right in itertools.pairwise(parts):
            label = re.match(r"\|([^|]*)\|\s*", right)
            edges.append((left.strip(), right[label.end() :].strip() if label else right.strip(), label.group(1) if label else ""))
        for node_id in (n for edge in edges for n in edge[:2]):
            labels.setdefault(node_id, node_id)
    return labels, edges


@pytest.mark.parametrize(("name", "source"), DEMO, ids=[name for name, _ in DEMO])
def test_every_demo_flowchart_parses_to_its_nodes_and_links(name: str, source: str) -> None:
    chart = parse_flowchart(source)
    labels, edges = _independent_reading(source)
    assert chart.direction == "TB"
    assert {n.id: n.label for n in chart.nodes.values()} == labels
    assert [(e.source, e.target, e.label) for e in chart.edges] == edges
    decisions = set(re.findall(r"(\w+)\{", source))
    assert {n.id for n in chart.nodes.values() if n.shape is Shape.RHOMBUS} == decisions
    assert all(n.shape is Shape.RECT for n in chart.nodes.values() if n.id not in decisions)


def test_shapes_links_chains_groups_and_subgraphs() -> None:
    chart = parse_flowchart(
        """%% 注释行
graph LR
  a([开始]) --> b[[子流程]] & c[(台账)]
  b -.->|可选| d((结束)); c ==> d
  e>旗帜] --- f{{准备}} -- 文字 --> g[/输入/]
  g <--> h[\\输出\\] -. 虚线文字 .-> i[/梯形\\]
  i --o j[\\倒梯形/] --x k("引号里的 [括号] 和 (圆括号)")
  k ---> l["第一行<br>第二行 #quot;引用#quot;"]:::warn
  subgraph s1 [审核阶段]
    direction TB
    m[初审] --> n[复审]
    subgraph s2
      o[内层]
    end
  end
  n --> s2
  classDef warn fill:#f96
  class a warn
  style b fill:#bbf
  click a "https://example.edu.cn"
  linkStyle 0 stroke:#f00"""
    )
    assert chart.direction == "LR"
    shapes = {n.id: n.shape for n in chart.nodes.values()}
    assert shapes["a"] is Shape.STADIUM and shapes["b"] is Shape.SUBROUTINE and shapes["c"] is Shape.CYLINDER
    assert shapes["d"] is Shape.CIRCLE and shapes["e"] is Shape.ASYMMETRIC and shapes["f"] is Shape.HEXAGON
    assert shapes["g"] is Shape.PARALLELOGRAM and shapes["h"] is Shape.PARALLELOGRAM_ALT
    assert shapes["i"] is Shape.TRAPEZOID and shapes["j"] is Shape.TRAPEZOID_ALT
    assert chart.nodes["k"].label == "引号里的 [括号] 和 (圆括号)"
    assert chart.nodes["l"].label == '第一行\n第二行 "引用"'
    links = {(e.source, e.target): e for e in chart.edges}
    assert set(links) >= {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("e", "f"), ("f", "g"), ("g", "h"), ("h", "i")}
    assert links[("b", "d")].stroke is Stroke.DOTTED and links[("b", "d")].label == "可选"
    assert links[("c", "d")].stroke is Stroke.THICK
    assert links[("e", "f")].head == "none" and links[("f", "g")].label == "文字"
    assert links[("g", "h")].tail == "arrow" and links[("h", "i")].label == "虚线文字" and links[("h", "i")].stroke is Stroke.DOTTED
    assert links[("i", "j")].head == "circle" and links[("j", "k")].head == "cross" and links[("k", "l")].length == 2
    assert chart.subgraphs["s1"].title == "审核阶段" and chart.subgraphs["s1"].nodes == ["m", "n"]
    assert chart.subgraphs["s2"].parent == "s1" and chart.subgraphs["s2"].nodes == ["o"]
    assert "s2" not in chart.nodes and links[("n", "s2")].target == "s2"
    layout = to_dot(chart)
    assert "subgraph cluster_0" in layout and "subgraph cluster_1" in layout and 'lhead="cluster_1"' in layout


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sequenceDiagram\n  A->>B: 你好", "第 1 行：“sequenceDiagram”类图表不能绘制为图片"),
        ("flowchart XY\n  A --> B", "第 1 行：流程图方向"),
        ("flowchart TD\n  A[开始] --> B[审核\n  B --> C", "第 2 行：“[”没有对应的“]”"),
        ("flowchart TD\n  A -->", "第 2 行：连线缺少指向的节点"),
        ("flowchart TD\n  A -- 没有结束 B", "第 2 行：带文字的连线没有结束"),
        ("flowchart TD\n  A --> B\n  end", "第 3 行：多余的 end"),
        ("flowchart TD\n  subgraph 阶段\n  A --> B", "子图“阶段”缺少结束标记 end"),
        ("flowchart TD\n  A@{ shape: rect } --> B", "第 2 行：不支持 @{ … }"),
        ("flowchart TD", "流程图中没有任何节点"),
    ],
)
def test_what_is_not_a_drawable_flowchart_is_refused_with_the_line(source: str, message: str) -> None:
    with pytest.raises(FlowchartSyntaxError) as raised:
        parse_flowchart(source)
    assert message in str(raised.value)


def test_layout_text_escapes_labels_and_wraps_chinese() -> None:
    chart = parse_flowchart('flowchart TD\n  A[含 "引号" 与 \\N 反斜杠] --> B[纳入招生计划并录入状态数据平台]')
    layout = to_dot(chart)
    assert 'label="含 \\"引号\\" 与 \\\\N 反斜杠"' in layout  # Graphviz's \\N (the node's name) cannot be smuggled in
    assert wrap("纳入招生计划并录入状态数据平台", 24) == "纳入招生计划并录\n入状态数据平台"
    assert wrap("反馈意见，系（部）修改或终止申报", 24) == "反馈意见，系（部）\n修改或终止申报"  # （ never ends a line, ） never starts one
    assert wrap("拨打保卫处值班电话或110、119、120", 24).endswith("110、119、120")  # numbers are not split
    assert to_dot(parse_flowchart(DEMO[0][1])) == to_dot(parse_flowchart(DEMO[0][1]))


def _svg_graph(data: bytes) -> tuple[list[str], int, list[str]]:
    root = etree.fromstring(data)
    nodes, edges, edge_labels = [], 0, []
    for group in root.iter(f"{SVG}g"):
        texts = "".join(t.text or "" for t in group.iter(f"{SVG}text"))
        if group.get("class") == "node":
            nodes.append(texts)
        elif group.get("class") == "edge":
            edges += 1
            if texts:
                edge_labels.append(texts)
    return nodes, edges, edge_labels


@pytest.mark.parametrize(("name", "source"), DEMO, ids=[name for name, _ in DEMO])
def test_the_picture_has_the_same_nodes_links_and_labels(name: str, source: str) -> None:
    require("dot")
    chart = parse_flowchart(source)
    picture = FlowchartRenderer().draw(source, fmt="svg")
    nodes, edges, edge_labels = _svg_graph(picture.data)
    assert Counter(nodes) == Counter(n.label.replace("\n", "") for n in chart.nodes.values())
    assert edges == len(chart.edges)
    assert Counter(edge_labels) == Counter(e.label for e in chart.edges if e.label)
    png = FlowchartRenderer().draw(source, fmt="png")
    assert png.data.startswith(b"\x89PNG") and abs(png.width_pt - picture.width_pt) < 2 and abs(png.height_pt - picture.height_pt) < 2


def test_pictures_are_kept_by_content_hash(tmp_path: Path) -> None:
    require("dot")
    renderer = FlowchartRenderer(cache=tmp_path / "cache")
    source = DEMO[0][1]
    first = renderer.draw(source, fmt="png")
    kept = list((tmp_path / "cache").rglob("*.png"))
    assert len(kept) == 1 and kept[0].read_bytes() == first.data
    kept[0].write_bytes(first.data[:24] + b"kept")  # the next draw reads the file, it does not draw again
    assert renderer.draw(source, fmt="png").data.endswith(b"kept")
    renderer.draw(source + "\n  J --> K[新增一步]", fmt="png")
    assert len(list((tmp_path / "cache").rglob("*.png"))) == 2  # another chart, another picture


def test_missing_graphviz_says_so_in_chinese(tmp_path: Path) -> None:
    with pytest.raises(FlowchartUnavailable) as raised:
        FlowchartRenderer(dot=str(tmp_path / "no-such-dot")).draw(DEMO[0][1])
    assert "服务器未安装 Graphviz" in raised.value.reason
    with pytest.raises(FlowchartUnavailable) as unreadable:
        FlowchartRenderer().draw("pie\n  title 比例")
    assert "流程图源码不能识别" in unreadable.value.reason


def test_a_drawing_that_hangs_is_stopped(tmp_path: Path) -> None:
    slow = tmp_path / "dot"
    slow.write_text('#!/bin/sh\nif [ "$1" = "-V" ]; then echo "dot - graphviz version 0 (stand-in)" >&2; exit 0; fi\nexec sleep 30\n')
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    started = time.monotonic()
    with pytest.raises(FlowchartUnavailable) as raised:
        FlowchartRenderer(dot=str(slow), timeout_seconds=0.5).draw(DEMO[0][1])
    assert "秒内未能绘制完成" in raised.value.reason and time.monotonic() - started < 10
