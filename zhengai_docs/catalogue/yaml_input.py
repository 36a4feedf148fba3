"""YAML read from content we do not control (git pushes, uploads): libyaml's safe loader, no aliases.

Anchors and aliases let a few hundred bytes stand for a tree of a billion nodes ("billion
laughs"); code that walks the result (validating a framework, a catalogue, a document's lists)
then runs for ever. No file this product reads needs them, so any alias is refused as a YAML
error at its line, before anything is constructed.
"""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's loader is ~10x faster than the pure-Python one and gives the same nodes and line marks.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def refuse_aliases(text: str) -> None:
    """Raise a YAML error at the first alias (one event scan with the C parser)."""
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(
                problem="使用了 YAML 锚点引用（*别名），本系统的文件不需要这种写法，为安全起见已拒绝",
                problem_mark=event.start_mark,  # type: ignore[arg-type]  # libyaml's Mark has the same fields
            )


def load(text: str) -> Any:
    refuse_aliases(text)
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a SafeLoader (C or Python)


def compose(text: str) -> yaml.Node | None:
    refuse_aliases(text)
    return yaml.compose(text, Loader=LOADER)
