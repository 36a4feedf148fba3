"""Content from git is untrusted input: a file pushed with plain git stays the problem of its own file.

A Markdown file saved as GBK (Notepad on Chinese Windows), UTF-16, random bytes, a 2 MB+ file,
control characters, a file name that is not UTF-8, a catalogue or framework file in the wrong
encoding, files outside the layout, links, submodules and commits with hand-made messages are
pushed the way an outside user would (clone, commit, push; or commit-tree and update-ref). Every
other page, sign-in, static files, search, `doctor`, `audit` and `reindex` go on working; the
broken files say what is wrong with them; and the commit that fixes them recovers everything.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR
from tests.conftest import EDITOR, OpenApp, login
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cli import cli
from zhengai_docs.errors import Refused
from zhengai_docs.library import Library
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.storage.text import MAX_CONTENT_BYTES, UnusableText

GBK_NAME = b"regulations/A/A1/" + "测试文件".encode("gbk") + b".md"  # Notepad's name, not UTF-8
GBK_NAME_SHOWN = GBK_NAME.decode("utf-8", "backslashreplace")  # bytes that are not UTF-8 shown as \xNN
MARKER = "甲乙丙修复标记"  # a word no demo document contains
FRAMEWORK_PROBLEM = "frameworks/moe-2015.yaml:2：文件不是 UTF-8 编码"  # line 2: its name


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_AUTHOR_NAME": "外部提交者", "GIT_AUTHOR_EMAIL": "ext@example.edu.cn"}
    env |= {"GIT_COMMITTER_NAME": "外部提交者", "GIT_COMMITTER_EMAIL": "ext@example.edu.cn"}
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, check=True, capture_output=True, env=env).stdout


class OutsideClone:
    """A clerk's clone of the content repository: write any bytes under any name, commit, push."""

    def __init__(self, content: Path, work: Path) -> None:
        git(work.parent, "clone", "-q", str(content), work.name)
        self.work = work
        self.gitlinks: dict[str, str] = {}

    def read(self, path: str) -> bytes:
        return (self.work / path).read_bytes()

    def write(self, path: str | bytes, data: bytes) -> None:
        target = os.path.join(os.fsencode(self.work), path.encode() if isinstance(path, str) else path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)

    def push(self, message: str) -> str:
        git(self.work, "add", "-A")
        for path, commit in self.gitlinks.items():  # a submodule entry, as `git submodule add` makes
            git(self.work, "update-index", "--add", "--cacheinfo", f"160000,{commit},{path}")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD").decode().strip()


@pytest.fixture
def app(indexed_app: Flask) -> Flask:
    return indexed_app


def _invoke(instance: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--instance", str(instance), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "UnicodeDecodeError" not in result.output
    return result


def _found(app: Flask, text: str) -> list[str]:
    library: Library = app.extensions["zhengai"].library
    assert library.search is not None
    library.search.follow(wait=True)
    return [hit.code for hit in library.search.backend.search(SearchRequest(text=text)).hits]


def _static_file_status(client: FlaskClient) -> int:
    """The status of the style sheet the sign-in page links."""
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'href="([^"]+\.css)"', page)
    assert match is not None, page
    with client.get(match.group(1)) as response:
        return response.status_code


def _pages_without_arguments(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.endpoint not in ("static", "auth.logout")
    )


def _pages_of(app: Flask, code: str) -> list[str]:
    """Every GET page that takes one code (document, item, cycle, API, export, edit …)."""
    return sorted(
        rule.rule.replace("<code>", code)
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.arguments == {"code"}
    )


def _hostile_files(clone: OutsideClone) -> dict[str | bytes, bytes]:
    """One of each kind of file a careless clerk or a malicious user could push."""
    a101z = clone.read("regulations/A/A1/A101Z.md").decode()
    a105z = clone.read("regulations/A/A1/A105Z.md").decode()
    a106z = clone.read("regulations/A/A1/A106Z.md").decode()
    control = clone.read("regulations/A/A1/A101L.md").decode().replace("code: A101L", "code: A108Z").replace("type: 流程", "type: 制度")
    return {
        "regulations/A/A1/A101Z.md": a101z.encode("gbk"),  # Notepad, ANSI code page 936
        "regulations/A/A1/A104Z.md": b"\xff" + random.Random(12).randbytes(4096),  # noqa: S311 - junk, not a secret
        "regulations/A/A1/A105Z.md": a105z.encode("utf-16"),  # Notepad's "Unicode", with a BOM
        "regulations/A/A1/A106Z.md": (a106z + "\n" + "填充" * (MAX_CONTENT_BYTES // 6 + 1)).encode(),  # over the limit
        "regulations/A/A1/A108Z.md": (control + "\n第二行\x01含控制字符\n").encode(),
        GBK_NAME: b"---\ncode: A103Z\n---\n",
        "catalogue.yaml": clone.read("catalogue.yaml").decode().encode("gbk"),
        "frameworks/moe-2015.yaml": clone.read("frameworks/moe-2015.yaml").decode().encode("gbk"),  # the active framework
    }


EXPECTED_PAGES = {  # the first line of A101Z with a non-ASCII character is its title, line 3
    "A101Z": "regulations/A/A1/A101Z.md:3: 文件不是 UTF-8 编码（可能是用记事本以 GBK 保存），请另存为 UTF-8",
    "A104Z": "regulations/A/A1/A104Z.md:1: 文件不是 UTF-8 编码",
    "A105Z": "regulations/A/A1/A105Z.md: 文件是 UTF-16 编码（记事本中的“Unicode”），请另存为 UTF-8",
    "A106Z": "regulations/A/A1/A106Z.md: 文件过大（2.0 MB），超过 2 MB 的上限，未读取",
    "A108Z": "含有不可见的控制字符 U+0001，不是纯文本",
}


def test_hostile_files_stay_confined_and_a_fix_commit_recovers_everything(
    app: Flask, indexed_instance: Path, tmp_path: Path, open_app: OpenApp
) -> None:
    client = app.test_client()
    clone = OutsideClone(indexed_instance / "content.git", tmp_path / "work")
    originals = {p: clone.read(p) for p in ("regulations/A/A1/A101Z.md", "catalogue.yaml", "frameworks/moe-2015.yaml")}
    for path, data in _hostile_files(clone).items():
        clone.write(path, data)
    broken = clone.push("记事本保存的文件")

    # Sign-in and static files first, before anything has synced.
    assert client.get("/login").status_code == 200
    assert _static_file_status(client) == 200
    login(client, "admin")

    # Every page without arguments answers without a server error; those that do not need the
    # broken files answer as usual (the broken catalogue keeps the last good catalogue).
    statuses = {url: client.get(url).status_code for url in _pages_without_arguments(app)}
    assert not {url: s for url, s in statuses.items() if s >= 500}
    for url in ("/", "/catalogue", "/search", "/cycles/", "/drafts", "/api/catalogue", "/admin/users"):
        assert statuses[url] == 200, url
    assert 'href="/documents/A101Z"' in client.get("/catalogue/A").get_data(as_text=True)
    for url in ("/documents/A101L", "/documents/A101L/history", "/documents/B202Z", "/api/documents/A101L", "/items/A101"):
        assert client.get(url).status_code == 200, url

    # Each broken document says what is wrong with it, like broken YAML does (not a 500).
    for code, message in EXPECTED_PAGES.items():
        page = client.get(f"/documents/{code}")
        assert page.status_code == 400 and message in page.get_data(as_text=True), code
        assert client.get(f"/api/documents/{code}").status_code == 400
        assert not {url: s for url in _pages_of(app, code) if (s := client.get(url).status_code) >= 500}
    assert client.get("/documents/A101Z/history").status_code == 200
    audit_page = client.get("/audit/")  # needs the active framework, and says why
    assert audit_page.status_code == 400 and FRAMEWORK_PROBLEM in audit_page.get_data(as_text=True)

    # Search goes on for every other document, and the index followed past the bad commit.
    assert _found(app, "专业设置与调整工作流程") == ["A101L"]
    assert "A101Z" not in _found(app, "专业设置与调整管理办法")  # its bytes were not indexed as text

    doctor = _invoke(indexed_instance, "doctor")
    assert doctor.exit_code == 1
    for message in EXPECTED_PAGES.values():
        assert message in doctor.output
    assert f"{GBK_NAME_SHOWN}: 文件名不是 UTF-8 编码" in doctor.output
    assert "目录文件有误：catalogue.yaml:1: 文件不是 UTF-8 编码" in doctor.output  # its Chinese header comment
    assert FRAMEWORK_PROBLEM in doctor.output
    rebuilt = _invoke(indexed_instance, "doctor", "--rebuild")
    assert rebuilt.exit_code == 1 and "缓存与仓库一致" in rebuilt.output and EXPECTED_PAGES["A101Z"] in rebuilt.output
    audit = _invoke(indexed_instance, "audit")
    assert "修订周期" in audit.output and "诊断点覆盖无法检查：frameworks/moe-2015.yaml" in audit.output
    assert _invoke(indexed_instance, "reindex").exit_code == 0
    assert _found(app, "专业设置与调整工作流程") == ["A101L"]

    # The fix: the files saved again as UTF-8, the junk deleted, a new word in A101Z.
    for path, data in originals.items():
        clone.write(path, data.replace("## 第一章 总则".encode(), f"## 第一章 总则\n\n{MARKER}".encode()))
    git(clone.work, "rm", "-q", "regulations/A/A1/A108Z.md")
    git(clone.work, "checkout", "HEAD~1", "--", "regulations/A/A1/A104Z.md", "regulations/A/A1/A105Z.md", "regulations/A/A1/A106Z.md")
    os.remove(os.path.join(os.fsencode(clone.work), GBK_NAME))
    fixed = clone.push("另存为 UTF-8")

    for code in ("A101Z", "A104Z", "A105Z", "A106Z"):
        assert client.get(f"/documents/{code}").status_code == 200, code
    assert MARKER in client.get("/documents/A101Z").get_data(as_text=True)
    assert client.get("/documents/A108Z").status_code == 404
    old = client.get(f"/documents/A101Z?rev={broken}")  # the broken version stays readable as such
    assert old.status_code == 400 and EXPECTED_PAGES["A101Z"] in old.get_data(as_text=True)
    assert client.get(f"/documents/A101Z/export.docx?rev={broken}").status_code == 400
    assert client.get(f"/documents/A101Z/diff?from={broken}&to={fixed}").status_code == 200
    assert client.get(f"/documents/A106Z/diff?from={broken}&to={fixed}").status_code == 200
    assert client.get("/audit/").status_code == 200
    assert client.get("/admin/catalogue").status_code == 200
    assert _found(app, MARKER) == ["A101Z"]
    healthy = _invoke(indexed_instance, "doctor", "--rebuild")  # the bad commit stays in history
    assert healthy.exit_code == 0, healthy.output
    assert _invoke(indexed_instance, "audit", "--coverage").exit_code == 0
    assert _invoke(indexed_instance, "reindex").exit_code == 0
    assert _found(app, MARKER) == ["A101Z"]
    restarted = open_app(indexed_instance).test_client()
    login(restarted, "duzhe")
    assert restarted.get("/documents/A101Z").status_code == 200


def test_doctor_lists_every_file_it_cannot_use_with_the_reason(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    clone = OutsideClone(instance / "content.git", tmp_path / "work")
    a101z = clone.read("regulations/A/A1/A101Z.md")
    clone.write("regulations/A/A1/readme.txt", "说明".encode())
    clone.write("notes.md", "# 笔记\n".encode())
    clone.write("regulations/A/A2/A101Z.md", a101z)  # the wrong group
    clone.write("standards/A/A1/A101Z.md", a101z)  # a 制度 among the standards
    clone.write("regulations/A/A1/a102z.md", a101z.replace(b"A101Z", b"A102Z"))
    clone.write("frameworks/Hunan_2017.yml", b"id: hunan\n")
    clone.write(GBK_NAME, b"---\n")
    os.symlink("../../../../etc/passwd", clone.work / "regulations/A/A1/A103Z.md")
    clone.gitlinks["regulations/A/A1/A102Z.md"] = git(clone.work, "rev-parse", "HEAD").decode().strip()
    clone.push("放错位置的文件")

    client = open_app(instance).test_client()
    login(client, "duzhe")
    assert client.get("/documents/A101Z").status_code == 200
    assert client.get("/documents/A102Z").status_code == 404  # a submodule is not a document
    assert client.get("/documents/A103Z").status_code == 400  # a link is not read through

    result = _invoke(instance, "doctor")
    assert result.exit_code == 1
    expected = {
        "regulations/A/A1/readme.txt": "不是文档文件，程序不会读取",
        "notes.md": "不在程序管理的位置，不会被读取",
        "regulations/A/A2/A101Z.md": "位置不对，程序不会读取：A101Z 应放在 regulations/A/A1/A101Z.md",
        "standards/A/A1/A101Z.md": "位置不对，程序不会读取：A101Z 应放在 regulations/A/A1/A101Z.md",
        "regulations/A/A1/a102z.md": "文件名应为 A102Z.md（代码大写、扩展名小写）",
        "frameworks/Hunan_2017.yml": "诊断框架文件名不合规定",
        GBK_NAME_SHOWN: "文件名不是 UTF-8 编码",
        "regulations/A/A1/A103Z.md": "是符号链接，不是普通文件",
        "regulations/A/A1/A102Z.md": "是子模块（gitlink），不是文件",
    }
    for path, reason in expected.items():
        assert f"  内容：{path}: {reason}" in result.output, path
    assert "缓存与仓库一致" in result.output


def _hand_made_commit(content: Path, *, parent: str, tree: str, author: bytes, message: bytes) -> str:
    """A commit object written byte by byte (as `git hash-object --literally` lets anyone do)."""
    body = b"tree %s\nparent %s\nauthor %s\ncommitter x <x@example.edu.cn> 1700000000 +0800\n\n%s" % (
        tree.encode(),
        parent.encode(),
        author,
        message,
    )
    return git(content, "hash-object", "--literally", "-t", "commit", "-w", "--stdin", stdin=body).decode().strip()


def test_commit_messages_and_authors_of_any_bytes_are_read_safely(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    content = instance / "content.git"
    clone = OutsideClone(content, tmp_path / "work")
    clone.write("regulations/A/A1/A101Z.md", clone.read("regulations/A/A1/A101Z.md").replace(b"## ", b"\n## "))
    pushed = clone.push("placeholder")
    tree = git(content, "rev-parse", f"{pushed}^{{tree}}").decode().strip()
    parent = git(content, "rev-parse", f"{pushed}^").decode().strip()
    message = "修订\x1e伪造的记录\x1f\x1d".encode() + "（GBK 说明）".encode("gbk") + b"\x07\x1b end\n"
    author = b"\xd5\xc5\xc8\xfd\x1f <zhang@example.edu.cn> notadate +9999"
    commit = _hand_made_commit(content, parent=parent, tree=tree, author=author, message=message)
    git(content, "update-ref", "refs/heads/main", commit, pushed)

    client = open_app(instance).test_client()
    login(client, "duzhe")
    history = client.get("/documents/A101Z/history")
    assert history.status_code == 200
    text = history.get_data(as_text=True)
    assert "修订伪造的记录" in text and "\x1e" not in text and "\x00" not in text
    assert client.get("/api/documents/A101Z/history").status_code == 200
    repo = ContentRepository(content)
    [revision] = [r for r in repo.history("regulations/A/A1/A101Z.md", limit=1)]
    assert revision.commit == commit and revision.author_email == "zhang@example.edu.cn"
    assert "\ufffd" in revision.author_name and revision.message.startswith("修订伪造的记录\ufffd")
    assert revision.message.endswith(" end") and not re.search("[\x00-\x08\x0b-\x1f]", revision.message)
    doctor = _invoke(instance, "doctor")
    assert "git 仓库完整性检查" in doctor.output and "缓存与仓库一致" in doctor.output


def test_a_failing_sync_never_takes_down_sign_in_static_files_or_cached_pages(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    client = open_app(instance).test_client()
    clone = OutsideClone(instance / "content.git", tmp_path / "work")
    clone.write("regulations/A/A1/A101Z.md", clone.read("regulations/A/A1/A101Z.md") + "\n新增一段\n".encode())
    pushed = clone.push("新增一段")
    tree = git(instance / "content.git", "rev-parse", f"{pushed}^{{tree}}").decode().strip()
    (instance / "content.git" / "objects" / tree[:2] / tree[2:]).unlink()  # a damaged repository

    assert client.get("/login").status_code == 200
    assert _static_file_status(client) == 200
    login(client, "duzhe")
    assert client.get("/").status_code == 200
    assert client.get("/catalogue/A").status_code == 200


def test_the_app_never_writes_what_it_could_not_read_back(library: Library, repo: ContentRepository) -> None:
    path = document_code("A101Z").path
    for text, reason in (
        (UnusableText("乱码\ufffd", problem="文件不是 UTF-8 编码"), "原文件无法读取"),
        ("---\ntitle: x\n---\n第一行\n第二\x0b行\n", "第 5 行含有不可见的控制字符 U+000B"),
        ("正" * (MAX_CONTENT_BYTES // 3 + 1), "内容过大"),
    ):
        with pytest.raises(Refused, match=re.escape(reason)):
            repo.write(path, text, author=EDITOR, message="保存", base=None)
    assert repo.head() is None


def test_a_write_beside_a_name_that_is_not_utf8_keeps_it_byte_for_byte(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    clone = OutsideClone(instance / "content.git", tmp_path / "work")
    clone.write(GBK_NAME, b"notes\n")
    clone.push("GBK 文件名")
    library: Library = open_app(instance).extensions["zhengai"].library
    loaded = library.load(document_code("A101Z"))
    library.save(
        loaded.document.with_changes(body=loaded.document.body + "\n补充\n"), actor=AS_EDITOR, message="补充", base=loaded.version.commit
    )
    listing = git(instance / "content.git", "ls-tree", "-z", "--name-only", "main", "regulations/A/A1/")
    assert GBK_NAME in listing.split(b"\0")


def test_byte_order_marks_are_read_as_utf8(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    clone = OutsideClone(instance / "content.git", tmp_path / "work")
    clone.write("regulations/A/A1/A101Z.md", b"\xef\xbb\xbf" + clone.read("regulations/A/A1/A101Z.md").replace(b"\n", b"\r\n"))
    clone.write(
        "catalogue.yaml", b"\xef\xbb\xbf" + clone.read("catalogue.yaml").replace("专业设置及调整".encode(), "专业设置与调整".encode())
    )
    clone.push("记事本另存为 UTF-8（带 BOM）")
    client = open_app(instance).test_client()
    login(client, "duzhe")
    assert "包头职业技术学院专业设置与调整管理办法" in client.get("/documents/A101Z").get_data(as_text=True)
    assert "专业设置与调整" in client.get("/items/A101").get_data(as_text=True)
    assert "内容：" not in _invoke(instance, "doctor").output


BILLION_LAUGHS = "".join(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]\n" for n in range(1, 10)).replace("*l0", "哈")


def test_yaml_aliases_pushed_with_git_are_refused_file_by_file(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    """A "billion laughs" (nine levels of nine aliases: a few hundred bytes, 387 million nodes) in
    a document's front matter, the catalogue and the active framework: each is refused at its line
    like broken YAML, nothing walks the tree, and the other pages keep answering."""
    clone = OutsideClone(instance / "content.git", tmp_path / "work")
    a101z = clone.read("regulations/A/A1/A101Z.md").decode()
    clone.write("regulations/A/A1/A101Z.md", a101z.replace("\n---\n", "\n" + _as_related(BILLION_LAUGHS) + "---\n", 1).encode())
    catalogue = clone.read("catalogue.yaml").decode()
    clone.write("catalogue.yaml", (catalogue + "laughs:\n" + _indented(BILLION_LAUGHS)).encode())
    framework = clone.read("frameworks/moe-2015.yaml").decode()
    clone.write("frameworks/moe-2015.yaml", (framework + "laughs:\n" + _indented(BILLION_LAUGHS)).encode())
    clone.push("锚点炸弹")

    client = open_app(instance).test_client()
    login(client, "duzhe")
    page = client.get("/documents/A101Z")
    assert page.status_code == 400 and "锚点引用" in page.get_data(as_text=True)
    assert client.get("/documents/A101L").status_code == 200
    result = _invoke(instance, "doctor")
    assert result.exit_code == 1 and result.output.count("锚点引用") >= 3, result.output


def _as_related(block: str) -> str:
    return "related:\n" + _indented(block).replace("  l9:", "  - l9:")


def _indented(block: str) -> str:
    return "".join(f"  {line}\n" for line in block.splitlines())
