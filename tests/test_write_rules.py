"""Write rules live in the domain: every service that writes checks the acting user itself.

Each write is called on the service directly — no view, no form, no decorator in between — by
every kind of actor: a reader, an editor of the document's lead department (教务处), an editor
of another department (组织人事处), the quality office, an administrator and the system, with
REVIEW_REQUIRED on and off. Who may is shown by the commit landing on the branch and in the
cache; who may not by `NotAllowed` and by every ref of the repository and every row of every
table being exactly as before.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.actors import account
from tests.databases import instance_database_url
from zhengai_docs import trailers
from zhengai_docs.bootstrap import SYSTEM_AUTHOR, builtin_data
from zhengai_docs.catalogue import edit as catalogue_edit
from zhengai_docs.catalogue.codes import DocType, DocumentCode, document_code
from zhengai_docs.catalogue.document import DocumentMeta, Review, Status, new_document
from zhengai_docs.catalogue.framework import parse_framework
from zhengai_docs.cycles.review import confirm_review
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import Base
from zhengai_docs.db.sync import cached_commit
from zhengai_docs.errors import NotAllowed, Refused
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor, WritePolicy
from zhengai_docs.publishing import imports
from zhengai_docs.render.docx_package import Limits
from zhengai_docs.storage.repository import Author, ContentRepository, WriteResult
from zhengai_docs.users import Role
from zhengai_docs.workflow import Approval, Workflow

A101Z = document_code("A101Z")  # led by 教务处
READER, LEAD_EDITOR, OTHER_EDITOR, QUALITY, ADMIN, SYSTEM = "duzhe", "jiaowu", "renshi", "zhiliang", "admin", "system"
ROLES = (READER, LEAD_EDITOR, OTHER_EDITOR, QUALITY, ADMIN, SYSTEM)
ADMINS = frozenset({ADMIN, SYSTEM})
LEAD_EDITORS = ADMINS | {LEAD_EDITOR}
REVIEWERS = ADMINS | {QUALITY}
DAY = dt.date(2026, 12, 1)
APPROVAL = Approval(approving_body="院长办公会", meeting_date=DAY, doc_number="包职院发〔2026〕30号", issue_date=DAY)


# -- the instance, the actors and what "nothing changed" means ---------------------------------


def make_library(instance: Path, *, review: bool, approvers: dict[DocType, tuple[str, ...]] | None = None) -> Library:
    policy = WritePolicy(review_required=review, approvers=approvers or {})
    return Library(repo=ContentRepository(instance / "content.git"), db=Database(instance_database_url(instance)), policy=policy)


@pytest.fixture(params=[False, True], ids=["review-off", "review-on"])
def review(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def library(instance: Path, review: bool) -> Iterator[Library]:
    made = make_library(instance, review=review)
    yield made
    made.db.dispose()


@pytest.fixture
def library_with(instance: Path) -> Iterator[Callable[..., Library]]:
    """`library_with(review=True, approvers=…)`: `make_library` on the test's instance; the
    database connections of every library made are released after the test, also when it fails."""
    with ExitStack() as closing:

        def made(*, review: bool, approvers: dict[DocType, tuple[str, ...]] | None = None) -> Library:
            library = make_library(instance, review=review, approvers=approvers)
            closing.callback(library.db.dispose)
            return library

        yield made


def actor(library: Library, who: str) -> Actor:
    if who == SYSTEM:
        return Actor.system()
    return account(library.db, who)


def state(library: Library) -> tuple[str, dict[str, list[str]]]:
    """Every ref of the content repository, and every row of every table."""
    refs = subprocess.run(
        ["git", "--git-dir", str(library.repo.path), "for-each-ref", "--format=%(refname) %(objectname)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with library.db.session() as session:
        tables = {table.name: sorted(repr(tuple(row)) for row in session.execute(select(table))) for table in Base.metadata.sorted_tables}
    return refs, tables


# -- the writes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """One write path. `prepare` (run by the system before the state is taken) sets up what `act`
    needs; `n` makes every call's change a new one, so the same write can succeed repeatedly."""

    name: str
    act: Callable[[Library, Actor, Any, int], WriteResult]
    allowed: frozenset[str]  # REVIEW_REQUIRED off
    allowed_with_review: frozenset[str]  # REVIEW_REQUIRED on
    prepare: Callable[[Library, int], Any] = lambda library, n: None
    syncs: bool = True  # the cache has followed the write when it returns

    def who(self, review: bool) -> frozenset[str]:
        return self.allowed_with_review if review else self.allowed


def save_existing(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    loaded = library.load(A101Z)
    changed = loaded.document.with_changes(body=loaded.document.body + f"\n第 {n} 次修改。\n")
    return library.save(changed, actor=who, message=f"修改 {n}", base=loaded.version.commit)


def empty_slot(library: Library, _n: int) -> DocumentCode:
    """A missing 制度/流程/标准 of an item 教务处 leads."""
    catalogue, head = library.catalogue()
    for item in catalogue.items():
        if item.departments == ("教务处",):
            for doc_type in DocType:
                code = document_code(f"{item.code}{doc_type.value}")
                if library.repo.blob_ids(head, [code.path])[code.path] is None:
                    return code
    raise AssertionError("no empty slot led by 教务处")


def create_missing(library: Library, who: Actor, code: DocumentCode, n: int) -> WriteResult:
    meta = DocumentMeta(code=code, title=f"新建文档 {n}", departments=("教务处",), status=Status.DRAFT)
    return library.save(new_document(meta, f"# 新建文档 {n}\n\n正文。\n"), actor=who, message=f"新建 {n}", base=library.repo.head())


def hand_over(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    """An editor may not give a document to departments that exclude their own."""
    loaded = library.load(A101Z)
    changed = loaded.document.with_changes(departments=("组织人事处",), body=loaded.document.body + f"\n移交 {n}。\n")
    return library.save(changed, actor=who, message=f"移交 {n}", base=loaded.version.commit)


def changed_since(library: Library, n: int) -> str:
    """A101Z changed by the system; the restore brings back the version before."""
    before = library.load(A101Z)
    changed = before.document.with_changes(body=before.document.body + f"\n将被撤回 {n}。\n")
    library.save(changed, actor=Actor.system(), message=f"待恢复 {n}", base=before.version.commit)
    return before.version.commit


def restore(library: Library, who: Actor, old: str, n: int) -> WriteResult:
    return library.restore(A101Z, old, actor=who, message=f"恢复 {n}", base=library.repo.require_head())


def review_no_change(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    day = DAY + dt.timedelta(days=n)
    return confirm_review(library, A101Z, actor=who, reason=f"经审核仍适用（{n}）", day=day, base=library.repo.require_head())


def publish(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    loaded = library.load(A101Z)
    changed = loaded.document.with_changes(body=loaded.document.body + f"\n发布 {n}。\n")
    record = [(trailers.APPROVED_BY, "院长办公会"), (trailers.PUBLISHED_BY, who.name)]
    author = Author(name="教务处 王老师", email="jiaowu@example.edu.cn")
    return library.publish(changed, actor=who, author=author, message=f"修订发布 {n}", base=loaded.version.commit, trailers=record)


def word_import(library: Library, who: Actor, data: bytes, n: int) -> WriteResult:
    prepared = imports.prepare(library, A101Z, data, filename="A101Z 修订稿.md", limits=Limits())
    return imports.save(library, prepared, actor=who, message=f"从 Word 导入 {n}")


def word_file(library: Library, n: int) -> bytes:
    return f"# 专业设置与调整管理办法\n\n**第一条** 导入的第 {n} 稿。\n".encode()


def add_item(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    code = f"A1{50 + n}"
    add = lambda c: catalogue_edit.add_item(c, group="A1", code=code, name=f"新条目 {n}", departments=["教务处"])  # noqa: E731
    return library.edit_catalogue(add, actor=who, message=f"新增条目 {code}", base=library.repo.head())


def new_department(library: Library, n: int) -> str:
    name = f"临时部门{n}"
    add = lambda c: catalogue_edit.add_department(c, name)  # noqa: E731
    library.edit_catalogue(add, actor=Actor.system(), message=f"新增部门 {name}", base=library.repo.head())
    return name


def rename_department(library: Library, who: Actor, name: str, n: int) -> WriteResult:
    return library.rename_department(old=name, new=f"{name}（更名）", actor=who, base=library.repo.head())


def remove_department(library: Library, who: Actor, name: str, n: int) -> WriteResult:
    return library.remove_department(name, actor=who, base=library.repo.head())


def new_item(library: Library, n: int) -> str:
    add_item(library, Actor.system(), None, n)
    return f"A1{50 + n}"


def move_item(library: Library, who: Actor, code: str, n: int) -> WriteResult:
    return library.move_item(code=code, group="A1", new_code=f"A1{80 + n}", actor=who, base=library.repo.head())


def catalogue_table(library: Library, n: int) -> Path:
    table = library.repo.path.parent / f"catalogue-{n}.tsv"
    header = "l1\tl1_name\tl2\tl2_name\tl3\tl3_name\tz\tl\tb\tdepartments\n"
    table.write_text(
        header + f"A\t办学活动\tA1\t人才培养\tA101\t专业设置及调整（第 {n} 版）\tA101Z\tA101L\tA101B\t教务处\n", encoding="utf-8"
    )
    return table


def import_catalogue(library: Library, who: Actor, table: Path, n: int) -> WriteResult:
    plan, result = library.import_catalogue(table, actor=who)
    assert result is not None, plan.problems
    return result


def import_framework(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    text = builtin_data("framework-moe-2015.yaml").read_text(encoding="utf-8")
    framework = parse_framework(text.replace("诊断项目参考表", f"诊断项目参考表（第 {n} 版）", 1))
    return library.import_framework(framework, actor=who, message=f"导入诊断框架 {n}")


def commit_files(library: Library, who: Actor, _prepared: Any, n: int) -> WriteResult:
    """Files as they are, e.g. documents migrated from another system with their dates."""
    meta = DocumentMeta(code=document_code("A103Z"), title="人才培养模式改革管理办法", departments=("教务处",), status=Status.IN_FORCE)
    text = new_document(meta, f"# 人才培养模式改革管理办法\n\n迁移批次 {n}。\n").dump()
    date = dt.datetime(2019, 3, 15, 9, tzinfo=dt.UTC)
    return library.commit_files({meta.code.path: text}, actor=who, message=f"迁移 {n}", base=library.repo.head(), date=date)


WRITES = (
    Write("save", save_existing, LEAD_EDITORS, ADMINS),
    Write("create", create_missing, LEAD_EDITORS, ADMINS, prepare=empty_slot),
    Write("hand-over", hand_over, ADMINS, ADMINS),
    Write("restore", restore, LEAD_EDITORS, ADMINS, prepare=changed_since),
    Write("word-import", word_import, LEAD_EDITORS, ADMINS, prepare=word_file),
    Write("review-no-change", review_no_change, LEAD_EDITORS | REVIEWERS, LEAD_EDITORS | REVIEWERS),
    Write("publish", publish, REVIEWERS, REVIEWERS, syncs=False),  # Workflow.publish follows after its transaction
    Write("edit-catalogue", add_item, ADMINS, ADMINS),
    Write("rename-department", rename_department, ADMINS, ADMINS, prepare=new_department),
    Write("remove-department", remove_department, ADMINS, ADMINS, prepare=new_department),
    Write("move-item", move_item, ADMINS, ADMINS, prepare=new_item),
    Write("import-catalogue", import_catalogue, ADMINS, ADMINS, prepare=catalogue_table),
    Write("import-framework", import_framework, REVIEWERS, REVIEWERS),
    Write("commit-files", commit_files, frozenset({SYSTEM}), frozenset({SYSTEM}), syncs=False),
)


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_each_write_checks_the_actor_itself(library: Library, review: bool, write: Write) -> None:
    allowed = write.who(review)
    for n, who in enumerate(sorted(ROLES, key=lambda r: r in allowed)):  # the refusals first, on the untouched instance
        prepared = write.prepare(library, n)
        acting = actor(library, who)
        if who in allowed:
            result = write.act(library, acting, prepared, n)
            assert result.changed and library.repo.head() == result.commit, who
            assert not write.syncs or cached_commit(library.db) == result.commit, who
            continue
        before = state(library)
        with pytest.raises(NotAllowed):
            write.act(library, acting, prepared, n)
        assert state(library) == before, f"{who}'s refused {write.name} changed something"


# -- rules that need a closer look ------------------------------------------------------------


def test_with_review_on_only_administrators_save_straight_to_main(library_with: Callable[..., Library]) -> None:
    """直接修改（勘误） is an administrator's; the owning editor is told to open a revision."""
    library = library_with(review=True)
    with pytest.raises(NotAllowed, match="经修订审核后发布"):
        save_existing(library, actor(library, LEAD_EDITOR), None, 0)
    with pytest.raises(NotAllowed, match="采用旧版本的文字"):
        restore(library, actor(library, LEAD_EDITOR), changed_since(library, 1), 1)
    assert save_existing(library, actor(library, ADMIN), None, 2).changed


def test_a_review_without_change_is_written_only_for_those_who_may_confirm_it(library: Library) -> None:
    """`Library.record_review` itself, whoever calls it (not only `cycles.review.confirm_review`)."""
    loaded = library.load(A101Z)
    for who in ROLES:
        acting = actor(library, who)
        document = loaded.document.with_changes(reviewed=Review(date=DAY, by=acting.name, reason="仍适用"))
        before = state(library)
        if who in LEAD_EDITORS | REVIEWERS:
            assert library.record_review(document, actor=acting, message="审核未修订", base=loaded.version.commit, trailers=[]).changed
            loaded = library.load(A101Z)
            continue
        with pytest.raises(NotAllowed):
            library.record_review(document, actor=acting, message="审核未修订", base=loaded.version.commit, trailers=[])
        assert state(library) == before


def test_a_review_without_change_cannot_change_the_text(library_with: Callable[..., Library]) -> None:
    library = library_with(review=True)
    quality = actor(library, QUALITY)
    loaded = library.load(A101Z)
    reviewed = Review(date=DAY, by=quality.name, reason="仍适用")
    for changed in (
        loaded.document.with_changes(reviewed=reviewed, body=loaded.document.body + "\n夹带的条款。\n"),
        loaded.document.with_changes(reviewed=reviewed, departments=("质量管理办公室",)),
    ):
        before = state(library)
        with pytest.raises(Refused, match="不能修改文档的内容"):
            library.record_review(changed, actor=quality, message="审核未修订", base=loaded.version.commit, trailers=[])
        assert state(library) == before


def test_named_approvers_publish_and_the_quality_office_then_does_not(library_with: Callable[..., Library]) -> None:
    library = library_with(review=True, approvers={DocType.Z: ("renshi",)})
    for who in (QUALITY, LEAD_EDITOR, READER):
        before = state(library)
        with pytest.raises(NotAllowed, match="制度的审核人"):
            publish(library, actor(library, who), None, 0)
        assert state(library) == before
    assert publish(library, actor(library, OTHER_EDITOR), None, 1).changed
    assert publish(library, actor(library, ADMIN), None, 2).changed


def test_a_folder_import_leaves_out_what_the_actor_may_not_write(library_with: Callable[..., Library], tmp_path: Path) -> None:
    """A folder with a document of 教务处's and one that 组织人事处 and 教务处 lead together."""
    library = library_with(review=False)
    folder = tmp_path / "定稿"
    folder.mkdir()
    (folder / "A101Z 专业设置与调整管理办法.md").write_text("# 专业设置与调整管理办法\n\n教务处的文件。\n", encoding="utf-8")
    (folder / "A104Z 师资队伍建设管理办法.md").write_text("# 师资队伍建设管理办法\n\n两个部门共同牵头。\n", encoding="utf-8")
    before = state(library)
    refused = imports.apply_folder(library, imports.plan_folder(library, folder, limits=Limits()), actor=actor(library, READER))
    assert [e.status for e in refused.entries] == ["failed", "failed"] and state(library) == before
    head = library.repo.require_head()
    plan = imports.apply_folder(library, imports.plan_folder(library, folder, limits=Limits()), actor=actor(library, OTHER_EDITOR))
    outcome = {str(e.code): (e.status, e.message) for e in plan.entries}
    assert outcome["A104Z"] == ("saved", "")
    assert outcome["A101Z"][0] == "failed" and "牵头部门的编辑" in outcome["A101Z"][1]
    assert library.repo.read(A101Z.path).blob == library.repo.read(A101Z.path, revision=head).blob
    assert library.repo.history(document_code("A104Z").path)[0].commit == library.repo.require_head()


def test_the_workflow_checks_each_step_itself(library_with: Callable[..., Library]) -> None:
    """Opening a revision is for the lead department's editors (people: a draft's author is an
    account), approving and publishing for the reviewers."""
    library = library_with(review=True)
    workflow = Workflow(library)
    for who in (READER, OTHER_EDITOR, QUALITY, SYSTEM):
        before = state(library)
        with pytest.raises(NotAllowed):
            workflow.open(code=A101Z, kind="revise", reason="修订", actor=actor(library, who))
        assert state(library) == before
    editor = actor(library, LEAD_EDITOR)
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    workflow.submit(draft.id, actor=editor)
    for who in (READER, LEAD_EDITOR, OTHER_EDITOR):
        before = state(library)
        with pytest.raises(NotAllowed):
            workflow.approve(draft.id, actor=actor(library, who), approval=APPROVAL)
        assert state(library) == before
    workflow.approve(draft.id, actor=actor(library, QUALITY), approval=APPROVAL)
    assert workflow.publish(draft.id, actor=actor(library, SYSTEM)).changed


def test_the_system_is_an_administrator_without_an_account() -> None:
    system = Actor.system()
    assert system.role is Role.ADMIN and system.is_system and system.author == SYSTEM_AUTHOR
    operator = Actor.system(name="教务处 王老师")
    assert operator.is_system and operator.author == Author(name="教务处 王老师", email=SYSTEM_AUTHOR.email)
    person = Actor(user_id=1, username="admin", name="系统管理员", email="a@x", role=Role.ADMIN, departments=())
    assert not person.is_system


def test_the_policy_is_read_from_the_settings_once() -> None:
    policy = WritePolicy.from_settings(
        {"REVIEW_REQUIRED": False, "APPROVERS_Z": " renshi , ,zhiliang", "APPROVERS_L": "", "APPROVERS_B": ""}
    )
    assert policy.review_required is False
    assert dict(policy.approvers) == {DocType.Z: ("renshi", "zhiliang")}
    assert WritePolicy.from_settings({"REVIEW_REQUIRED": True}).approvers == {}
