"""What a direct save costs: git process starts, and answers about the save's own commit given
without git (`storage.recent`) that must be exactly git's own."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from flask import Flask
from sqlalchemy import select

from tests.actors import AS_EDITOR
from tests.git_processes import GitProcesses
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.models import DocumentRow, RevisionRow
from zhengai_docs.errors import Conflict
from zhengai_docs.library import Library
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.storage.files import files_of_documents
from zhengai_docs.storage.repository import Author, ContentRepository

A101Z = "regulations/A/A1/A101Z.md"
A102Z = "regulations/A/A1/A102Z.md"
B201B = "standards/B/B2/B201B.md"
ALICE = Author("教务处 王老师", "wang@example.edu.cn")
BOB = Author("组织人事处 李老师", "li@example.edu.cn")


def test_own_commits_are_described_exactly_as_git_describes_them(repo: ContentRepository) -> None:
    """Log entries, diffs, ancestry, texts and files folders of commits this process wrote come
    from memory; a second repository object (another process, in effect) asks git: both agree."""
    root = repo.write(A101Z, "第一版\n", author=ALICE, message="新建", base=None).commit
    eastern = dt.datetime(2019, 9, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    commits = [root]
    two = {A102Z: "新文件\n", B201B: "另一处\n"}
    commits.append(repo.commit(two, author=BOB, message="两份新文件\n\n正文", base=root, date=eastern).commit)
    commits.append(repo.write(A101Z, "第二版：修改\n", author=ALICE, message="修订\n\nZhengai-Action: x", base=commits[-1]).commit)
    attachment = "regulations/A/A1/A101Z/附件1-表格.docx"
    with_file = {A101Z: "第三版\n", attachment: b"PK\x03\x04binary"}
    commits.append(repo.commit(with_file, author=ALICE, message="加附件", base=commits[-1]).commit)
    commits.append(repo.commit({A102Z: None, B201B: "改\n"}, author=BOB, message="删一份", base=commits[-1]).commit)
    git = ContentRepository(repo.path)  # no memory of these commits: every answer is git's
    assert [c.revision for c in repo.log(since=root, until=commits[-1])] == [c.revision for c in git.log(since=root, until=commits[-1])]
    assert list(repo.log(since=root, until=commits[-1])) == list(git.log(since=root, until=commits[-1]))
    for old, new in itertools.pairwise(commits):
        for files in (False, True):
            assert repo.changes_between(old, new, files=files) == git.changes_between(old, new, files=files)
        assert repo.is_ancestor(old, new) and git.is_ancestor(old, new)
        assert not repo.is_ancestor(new, old)
        blobs = {c.blob for c in git.changes_between(old, new) if c.blob}
        assert dict(repo.read_blobs(blobs)) == dict(git.read_blobs(blobs))
        paths = [A101Z, A102Z, B201B]
        assert files_of_documents(repo, new, paths) == files_of_documents(git, new, paths)
    assert repo.is_ancestor(root, commits[-1])


def test_a_direct_save_starts_no_git_process_and_is_searchable(indexed_app: Flask) -> None:
    """The trees on the path and the version at the base are read through the kept `cat-file`,
    the branch moves through the kept `update-ref` (the process's first save started it); the
    cache and the search index follow the save's own commit without asking git again."""
    library: Library = indexed_app.extensions["zhengai"].library
    code = document_code("A101Z")
    library.sync()  # as every request does first: the cache and the index are at the head
    assert library.search is not None and library.search.follow(wait=True)
    first = library.load(code)
    warming = first.document.with_changes(body=first.document.body + "\n甲乙丙\n")
    library.save(warming, actor=AS_EDITOR, message="补充", base=first.version.commit)
    loaded = library.load(code)
    changed = loaded.document.with_changes(body=loaded.document.body + "\n子丑寅卯辰\n")
    with pytest.MonkeyPatch.context() as patch:
        processes = GitProcesses(patch)
        result = library.save(changed, actor=AS_EDITOR, message="补充", base=loaded.version.commit)
    assert result.changed
    assert processes.commands() == [], processes.started
    assert [h.code for h in library.search.backend.search(SearchRequest(text="子丑寅卯辰")).hits] == ["A101Z"]
    assert library.search.backend.state().commit == result.commit
    with library.db.session() as session:
        assert session.scalar(select(DocumentRow.blob).where(DocumentRow.code == "A101Z")) == library.repo.read(code.path).blob
        newest = session.scalars(select(RevisionRow).where(RevisionRow.code == "A101Z").order_by(RevisionRow.seq.desc())).first()
    assert newest is not None and (newest.commit, newest.message, newest.author_email) == (result.commit, "补充", AS_EDITOR.author.email)
    assert newest.seq == library.repo.position(result.commit)


def test_a_save_on_a_base_the_branch_has_moved_past_starts_no_git_process(indexed_app: Flask) -> None:
    """Another document was saved since the editor was opened: the base is checked to be a
    commit, and the document's version there read, through the kept `cat-file` as well."""
    library: Library = indexed_app.extensions["zhengai"].library
    library.sync()
    opened = library.load(document_code("A104Z"))  # at the head the instance started with
    other = library.load(document_code("A101Z"))
    moved = other.document.with_changes(body=other.document.body + "\n甲乙丙\n")
    library.save(moved, actor=AS_EDITOR, message="补充", base=other.version.commit)
    changed = opened.document.with_changes(body=opened.document.body + "\n子丑寅卯辰\n")
    with pytest.MonkeyPatch.context() as patch:
        processes = GitProcesses(patch)
        result = library.save(changed, actor=AS_EDITOR, message="补充", base=opened.version.commit)
    assert result.changed and library.repo.head() == result.commit
    assert processes.commands() == [], processes.started
    assert library.repo.read(document_code("A104Z").path).text == changed.dump()
    stale = library.load(document_code("A101Z"), revision=opened.version.commit).document
    with pytest.raises(Conflict):  # A101Z changed after that base: still refused
        library.save(stale.with_changes(body=stale.body + "\n过期\n"), actor=AS_EDITOR, message="补充", base=opened.version.commit)
