"""Documentation is tested: every setting and every CLI command appears in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zhengai_docs.cli import cli
from zhengai_docs.config import SETTINGS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", [s.name for s in SETTINGS])
def test_setting_documented(setting: str) -> None:
    assert f"`{setting}`" in README


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_command_documented(command: str) -> None:
    assert f"zhengai-docs {command}" in README


def test_readme_starts_with_two_setup_commands() -> None:
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    first, second = blocks[0].strip(), blocks[1].strip()
    assert "zhengai-docs init --demo" in first and "zhengai-docs serve" in first
    assert "pytest" in second and ".[test]" in second
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert second.splitlines()[-1] in ci
