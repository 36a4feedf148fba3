"""Counting the `git` processes code starts: what a save or a page view costs in process starts."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest


class GitProcesses:
    """Every `git` process started while installed (through subprocess.Popen), by its argv."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: list[list[str]] = []
        original, started = subprocess.Popen, self.started

        class Counting(original):  # type: ignore[misc, valid-type]
            def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
                if isinstance(args, list) and args and args[0] == "git":
                    started.append([str(a) for a in args])
                super().__init__(args, *rest, **options)

        monkeypatch.setattr(subprocess, "Popen", Counting)

    def commands(self) -> list[str]:
        """The git subcommand of each process, in order."""
        return [next(a for a in argv[1:] if not a.startswith("-") and "=" not in a) for argv in self.started]
