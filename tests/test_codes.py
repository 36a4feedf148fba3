"""Codes and paths are allow-listed before anything reaches git."""

from __future__ import annotations

import subprocess

import pytest

from zhengai_docs.catalogue.codes import DocType, document_code, document_code_from_path, item_code, level1_code, level2_code
from zhengai_docs.errors import InvalidCode
from zhengai_docs.storage.paths import content_path, revision_id
from zhengai_docs.storage.repository import Author, ContentRepository

HOSTILE = ["../A101Z", "A101Z/../../x", "-A101Z", "Ａ101Z", "A101Z\n", "a101z", "A101", "A101X", "A1011Z", " A101Z", "A101Z.md", ""]


def test_document_code_parts() -> None:
    code = document_code("A101Z")
    assert (code.item, code.level2, code.level1, code.doc_type) == ("A101", "A1", "A", DocType.Z)
    assert code.path == "regulations/A/A1/A101Z.md"
    assert document_code("E303B").path == "standards/E/E3/E303B.md"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_document_codes_rejected(value: str) -> None:
    with pytest.raises(InvalidCode):
        document_code(value)


def test_level_codes() -> None:
    assert (level1_code("A"), level2_code("A1"), item_code("A101")) == ("A", "A1", "A101")
    for bad, check in (("AA", level1_code), ("A", level2_code), ("A10", item_code), ("A1\n", level2_code), ("１", level1_code)):
        with pytest.raises(InvalidCode):
            check(bad)


def test_catalogue_order_is_z_l_b() -> None:
    codes = [document_code(c) for c in ("A101B", "A102Z", "A101Z", "A101L")]
    assert [str(c) for c in sorted(codes, key=lambda c: c.sort_key)] == ["A101Z", "A101L", "A101B", "A102Z"]


@pytest.mark.parametrize(
    "path",
    [
        "regulations/A/A1/A101B.md",  # a standard outside standards/
        "standards/A/A1/A101Z.md",
        "regulations/A/A2/A101Z.md",  # wrong level-2 folder
        "regulations/B/A1/A101Z.md",
        "regulations/A/A1/../A101Z.md",
        "/etc/passwd",
        "-regulations/A/A1/A101Z.md",
        "catalogue.yaml/../x",
        "frameworks/../catalogue.yaml",
    ],
)
def test_paths_outside_the_layout_are_rejected(path: str) -> None:
    assert document_code_from_path(path) is None
    with pytest.raises(InvalidCode):
        content_path(path)


@pytest.mark.parametrize("revision", ["HEAD", "-p", "--output=/tmp/x", "abc", "main", "0123456789abcdef\n", "a" * 65, "ＡＢＣＤ"])
def test_hostile_revisions_rejected(revision: str) -> None:
    with pytest.raises(InvalidCode):
        revision_id(revision)


@pytest.mark.parametrize("value", HOSTILE)
def test_rejected_before_git_is_touched(repo: ContentRepository, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    def no_git(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"git was called with {args}")

    monkeypatch.setattr(subprocess, "run", no_git)
    with pytest.raises(InvalidCode):
        repo.read(f"regulations/A/A1/{value}.md")
    with pytest.raises(InvalidCode):
        repo.write(f"regulations/A/A1/{value}.md", "x", author=Author("a", "a@b"), message="m", base=None)
    with pytest.raises(InvalidCode):
        repo.read("regulations/A/A1/A101Z.md", revision=value)
