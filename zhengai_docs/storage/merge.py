"""Three-way text merge with `git merge-file`, for resolving edit conflicts.

git's merge is line based and battle-tested; a hand-written merge would not be. Conflicting
regions come back between Chinese-labelled markers so a clerk can see whose text is whose.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.errors import StorageError

MINE_LABEL = "你的修改"
BASE_LABEL = "打开编辑器时的版本"
THEIRS_LABEL = "他人已保存的版本"


@dataclass(frozen=True)
class MergedText:
    text: str
    conflicts: int


def merge_text(base: str, mine: str, theirs: str) -> MergedText:
    """Merge `mine` and `theirs`, both edited from `base`; `conflicts` counts marked regions."""
    if mine == theirs or theirs == base:
        return MergedText(text=mine, conflicts=0)
    if mine == base:
        return MergedText(text=theirs, conflicts=0)
    with tempfile.TemporaryDirectory(prefix="zhengai-merge-") as folder:
        files = []
        for name, text in (("mine", mine), ("base", base), ("theirs", theirs)):
            path = Path(folder) / name
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        result = subprocess.run(
            ["git", "merge-file", "-p", "-L", MINE_LABEL, "-L", BASE_LABEL, "-L", THEIRS_LABEL, *files],
            capture_output=True,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise StorageError(f"合并失败：{result.stderr.decode('utf-8', 'replace').strip()}")
    return MergedText(text=result.stdout.decode("utf-8"), conflicts=result.returncode)
