"""Whole-library values brought forward commit by commit equal the values computed afresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.actors import AS_EDITOR
from tests.databases import instance_database_url
from zhengai_docs import coverage
from zhengai_docs.catalogue import edit as catalogue_edit
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cycles import report, rules
from zhengai_docs.db.database import Database
from zhengai_docs.derived import LibraryState
from zhengai_docs.library import Library
from zhengai_docs.storage.repository import Author, ContentRepository

EDITOR = Author(name="教务处 王老师", email="jiaowu@example.edu.cn")
TODAY = dt.date(2026, 11, 23)
SETTINGS = {"CYCLE_YEARS_Z": 3, "CYCLE_YEARS_L": 3, "CYCLE_YEARS_B": 3, "CYCLE_DUE_SOON_DAYS": 90}


@pytest.fixture
def library(instance: Path) -> Iterator[Library]:
    db = Database(instance_database_url(instance))
    db.upgrade()
    library = Library(repo=ContentRepository(instance / "content.git"), db=db)
    library.sync()
    yield library
    db.dispose()


class Counted:
    """The process's derived state (`derived.LibraryState`) and how often it computed from scratch."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.full_runs = 0
        self.policy = rules.Policy.from_settings(SETTINGS)
        self.state = LibraryState(db=library.db, repo=library.repo, settings=SETTINGS, policy=self.policy, clock=lambda: TODAY)
        fresh = coverage.audit_snapshot

        def counted(*args: object) -> coverage.Snapshot:
            self.full_runs += 1
            return fresh(*args)  # type: ignore[arg-type]

        self.counting = counted

    def check(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.library.sync()
        db = self.library.db
        with monkeypatch.context() as patch:
            patch.setattr(coverage, "audit_snapshot", self.counting)
            view = self.state.at()
            snapshot, cycles, closed = view.snapshot(), view.cycles(), view.closed_cycles(5)
        assert snapshot == coverage.audit_snapshot(db, SETTINGS, TODAY)
        assert cycles == report.document_cycles(db, policy=self.policy, today=TODAY)
        assert closed == report.closed_cycles(db, policy=self.policy, today=TODAY, years=5)


def test_followed_values_equal_fresh_ones_after_every_kind_of_change(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    followed = Counted(library)
    followed.check(monkeypatch)
    assert followed.full_runs == 1
    repo = library.repo

    loaded = library.load(document_code("A101B"))  # points, status and dates change
    changed = loaded.document.with_changes(points=("1.1.1", "2.1.1"), issued=dt.date(2026, 1, 5), body=loaded.document.body + "\n补充。\n")
    library.save(changed, actor=AS_EDITOR, message="修订", base=loaded.version.commit)
    followed.check(monkeypatch)

    head = repo.require_head()  # a document deleted by a plain commit
    repo.commit({"regulations/A/A1/A101L.md": None}, author=EDITOR, message="删除流程", base=head)
    followed.check(monkeypatch)

    framework = repo.read("frameworks/moe-2015.yaml")  # a commit that touches no document
    repo.write("frameworks/moe-2015.yaml", framework.text + "\n", author=EDITOR, message="框架", base=framework.commit)
    followed.check(monkeypatch)

    library.edit_catalogue(  # a catalogue change: items are read again
        lambda c: catalogue_edit.add_item(c, group="A1", code="A109", name="新条目", departments=["教务处"]),
        actor=AS_EDITOR,
        message="新增条目",
        base=repo.require_head(),
    )
    followed.check(monkeypatch)
    assert followed.full_runs == 1  # every step above was a refresh

    texts = {}  # several documents in one commit
    for code in ("A106Z", "E201Z"):
        current = library.load(document_code(code))
        texts[current.version.path] = current.document.with_changes(title="新标题").dump()
    repo.commit(texts, author=EDITOR, message="批量", base=repo.require_head())
    followed.check(monkeypatch)
    assert followed.full_runs == 1


def test_a_reset_branch_or_too_many_changes_recompute_everything(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    followed = Counted(library)
    followed.check(monkeypatch)
    repo = library.repo
    before = repo.require_head()
    loaded = library.load(document_code("A101Z"))
    library.save(loaded.document.with_changes(title="将被撤回"), actor=AS_EDITOR, message="临时", base=loaded.version.commit)
    followed.check(monkeypatch)
    repo._run(["update-ref", repo.ref, before], check=True)  # e.g. an administrator reset the branch
    followed.check(monkeypatch)
    assert followed.full_runs == 2
    followed.state._snapshot.max_changed = 0
    loaded = library.load(document_code("A101Z"))
    library.save(loaded.document.with_changes(title="又一次修订"), actor=AS_EDITOR, message="修订", base=loaded.version.commit)
    followed.check(monkeypatch)
    assert followed.full_runs == 3
