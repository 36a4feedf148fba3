"""The draft workflow over a real content repository and database: nothing reaches readers
before publication, publication carries the approval, and stale drafts are refused."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.actors import account
from tests.databases import instance_database_url
from zhengai_docs import acknowledgements, inbox
from zhengai_docs.catalogue.codes import DocType, document_code
from zhengai_docs.catalogue.document import Status
from zhengai_docs.db.database import Database
from zhengai_docs.errors import Conflict, NotAllowed, NotFound, Refused
from zhengai_docs.library import Library
from zhengai_docs.permissions import WritePolicy
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.workflow import Actor, Approval, DraftStatus, Workflow

A101Z = document_code("A101Z")
APPROVAL = Approval(
    approving_body="院长办公会", meeting_date=dt.date(2026, 11, 20), doc_number="包职院发〔2026〕12号", issue_date=dt.date(2026, 11, 25)
)


@pytest.fixture
def library(instance: Path) -> Iterator[Library]:
    db = Database(instance_database_url(instance))
    db.upgrade()
    yield Library(repo=ContentRepository(instance / "content.git"), db=db)
    db.dispose()


def actor(library: Library, username: str) -> Actor:
    return account(library.db, username)


@pytest.fixture
def workflow(library: Library) -> Workflow:
    return Workflow(library)


def revised(workflow: Workflow, draft_id: int, sentence: str) -> None:
    draft = workflow.get(draft_id)
    document = workflow.document(draft)
    workflow.save(
        draft_id,
        document.with_changes(body=document.body + f"\n{sentence}\n"),
        actor=actor(workflow.library, "jiaowu"),
        message="补充条款",
        expected=draft.tip,
    )


def test_a_draft_stays_off_the_branch_until_published(workflow: Workflow, library: Library) -> None:
    head = library.repo.require_head()
    in_force = library.load(A101Z).document
    draft = workflow.open(code=A101Z, kind="revise", reason="落实新版专业目录", actor=actor(library, "jiaowu"))
    revised(workflow, draft.id, "第九条 新增条款：专业设置须经专业建设委员会论证。")
    revised(workflow, draft.id, "第十条 再次保存。")
    assert library.repo.require_head() == head
    assert library.load(A101Z).document.body == in_force.body
    assert "专业建设委员会论证" in workflow.document(workflow.get(draft.id)).body
    assert [e.action for e in workflow.events(draft.id)] == ["open", "save", "save"]


def test_review_round_trip_and_publication_carries_the_approval(workflow: Workflow, library: Library) -> None:
    editor, quality = actor(library, "jiaowu"), actor(library, "zhiliang")
    draft = workflow.open(code=A101Z, kind="revise", reason="落实新版专业目录", actor=editor)
    revised(workflow, draft.id, "第九条 新增条款。")
    workflow.submit(draft.id, actor=editor)
    assert inbox.unread_count(library.db, quality.user_id) == 1
    workflow.request_changes(draft.id, actor=quality, text="第九条表述不清")
    assert workflow.get(draft.id).status is DraftStatus.CHANGES_REQUESTED
    assert "退回修改" in inbox.messages(library.db, editor.user_id)[0].text
    revised(workflow, draft.id, "第九条（修改后）专业设置须经论证。")
    workflow.submit(draft.id, actor=editor)
    workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    result = workflow.publish(draft.id, actor=quality)

    published = library.load(A101Z).document
    assert "第九条（修改后）" in published.body
    assert published.meta.status is Status.IN_FORCE
    assert published.meta.doc_number == "包职院发〔2026〕12号"
    assert published.meta.approved_by == "院长办公会"
    assert published.meta.issued == dt.date(2026, 11, 25)
    message = subprocess.run(
        ["git", "-C", str(library.repo.path), "log", "-1", "--format=%B", result.commit], capture_output=True, text=True
    ).stdout
    assert (
        "Approved-by: 院长办公会" in message
        and "Document-number: 包职院发〔2026〕12号" in message
        and "Approval-meeting: 2026-11-20" in message
    )
    assert workflow.get(draft.id).status is DraftStatus.PUBLISHED
    assert workflow.get(draft.id).published_commit == result.commit
    assert [e.action for e in workflow.events(draft.id)][-2:] == ["approve", "publish"]


def test_publication_is_refused_when_the_document_changed_meanwhile_and_catches_up_by_merging(workflow: Workflow, library: Library) -> None:
    editor, quality = actor(library, "jiaowu"), actor(library, "zhiliang")
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    revised(workflow, draft.id, "草稿新增的一段。")
    workflow.submit(draft.id, actor=editor)
    workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    current = library.load(A101Z)
    library.save(
        current.document.with_changes(title=current.document.meta.title + "（勘误）"),
        actor=actor(library, "admin"),
        message="勘误",
        base=current.version.commit,
    )

    assert workflow.changed_on_branch(workflow.get(draft.id))
    with pytest.raises(Conflict):
        workflow.publish(draft.id, actor=quality)
    assert "草稿新增的一段" not in library.load(A101Z).document.body

    merged = workflow.bring_up_to_date(draft.id, actor=editor)
    assert merged.clean
    after = workflow.get(draft.id)
    assert after.status is DraftStatus.CHANGES_REQUESTED  # the approved text changed: review again
    text = workflow.document(after)
    assert "草稿新增的一段" in text.body and text.meta.title.endswith("（勘误）")
    workflow.submit(draft.id, actor=editor)
    workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    workflow.publish(draft.id, actor=quality)
    published = library.load(A101Z).document
    assert "草稿新增的一段" in published.body and published.meta.title.endswith("（勘误）")


def test_role_rules_on_every_transition(workflow: Workflow, library: Library) -> None:
    editor, other, quality, reader = (actor(library, n) for n in ("jiaowu", "renshi", "zhiliang", "duzhe"))
    for outsider in (other, reader, quality):
        with pytest.raises(NotAllowed):
            workflow.open(code=A101Z, kind="revise", reason="x", actor=outsider)
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    document = workflow.document(draft)
    with pytest.raises(NotAllowed):
        workflow.save(draft.id, document, actor=other, message="x", expected=draft.tip)
    with pytest.raises(NotAllowed):
        workflow.submit(draft.id, actor=reader)
    with pytest.raises(Refused):
        workflow.approve(draft.id, actor=quality, approval=APPROVAL)  # not submitted yet
    workflow.submit(draft.id, actor=editor)
    with pytest.raises(Refused):
        workflow.save(draft.id, document, actor=editor, message="x", expected=draft.tip)  # under review
    for not_reviewer in (editor, other, reader):
        with pytest.raises(NotAllowed):
            workflow.approve(draft.id, actor=not_reviewer, approval=APPROVAL)
        with pytest.raises(NotAllowed):
            workflow.request_changes(draft.id, actor=not_reviewer, text="x")
    with pytest.raises(Refused):
        workflow.publish(draft.id, actor=quality)  # not approved yet
    workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    with pytest.raises(NotAllowed):
        workflow.publish(draft.id, actor=editor)
    with pytest.raises(NotAllowed):
        workflow.discard(draft.id, actor=other)
    assert not workflow.may_see(reader, workflow.get(draft.id))
    assert not workflow.may_see(other, workflow.get(draft.id))


def test_one_open_revision_per_document_unless_configured(workflow: Workflow, library: Library) -> None:
    editor = actor(library, "jiaowu")
    workflow.open(code=A101Z, kind="revise", reason="第一次", actor=editor)
    with pytest.raises(Refused, match="进行中"):
        workflow.open(code=A101Z, kind="revise", reason="第二次", actor=editor)
    relaxed = Workflow(library, one_open_per_document=False)
    assert relaxed.open(code=A101Z, kind="revise", reason="第二次", actor=editor).id > 0


def test_a_discarded_draft_is_kept_in_history(workflow: Workflow, library: Library) -> None:
    editor = actor(library, "jiaowu")
    draft = workflow.open(code=A101Z, kind="revise", reason="试改", actor=editor)
    revised(workflow, draft.id, "试改的文字。")
    tip = workflow.get(draft.id).tip
    workflow.discard(draft.id, actor=editor, note="不再需要")
    assert workflow.get(draft.id).status is DraftStatus.DISCARDED
    refs = subprocess.run(
        ["git", "-C", str(library.repo.path), "for-each-ref", "--format=%(refname) %(objectname)"], capture_output=True, text=True
    ).stdout
    assert f"refs/drafts-discarded/A101Z/{draft.id} {tip}" in refs
    assert f"refs/drafts/A101Z/{draft.id} " not in refs
    assert workflow.open(code=A101Z, kind="revise", reason="重新修订", actor=editor).id != draft.id


def test_repeal_is_reviewed_and_keeps_the_document_in_history(workflow: Workflow, library: Library) -> None:
    editor, quality = actor(library, "jiaowu"), actor(library, "zhiliang")
    issued = library.load(A101Z).document.meta.issued
    draft = workflow.open(code=A101Z, kind="repeal", reason="已被新制度取代", actor=editor)
    assert library.load(A101Z).document.meta.status is Status.IN_FORCE
    workflow.submit(draft.id, actor=editor)
    workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    workflow.publish(draft.id, actor=quality)
    repealed = library.load(A101Z).document
    assert repealed.meta.status is Status.REPEALED
    assert repealed.meta.issued == issued
    with pytest.raises(Refused, match="已经废止"):
        workflow.open(code=A101Z, kind="repeal", reason="再次废止", actor=editor)


def test_a_new_document_starts_as_a_draft(workflow: Workflow, library: Library) -> None:
    editor, quality = actor(library, "jiaowu"), actor(library, "zhiliang")
    template = library.load(A101Z).document
    code = document_code("A108Z")
    new = template.with_changes(code=code, title="课程标准管理办法", status=Status.DRAFT)
    draft = workflow.open_new(new, item_departments=("教务处",), reason="补齐目录", actor=editor)
    with pytest.raises(NotFound):
        library.load(code)
    workflow.submit(draft.id, actor=editor)
    workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    workflow.publish(draft.id, actor=quality)
    assert library.load(code).document.meta.title == "课程标准管理办法"
    with pytest.raises(Refused, match="已存在"):
        workflow.open_new(new, item_departments=("教务处",), reason="再建一次", actor=editor)


def test_approvers_configured_per_type(library: Library) -> None:
    workflow = Workflow(Library(repo=library.repo, db=library.db, policy=WritePolicy(approvers={DocType.Z: ("renshi",)})))
    editor, named, quality = actor(library, "jiaowu"), actor(library, "renshi"), actor(library, "zhiliang")
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    workflow.submit(draft.id, actor=editor)
    assert inbox.unread_count(library.db, named.user_id) == 1
    assert inbox.unread_count(library.db, quality.user_id) == 0
    with pytest.raises(NotAllowed):
        workflow.approve(draft.id, actor=quality, approval=APPROVAL)
    workflow.approve(draft.id, actor=named, approval=APPROVAL)
    assert workflow.may_review(named, DocType.Z) and not workflow.may_review(named, DocType.B)


def test_read_confirmations_after_publication(workflow: Workflow, library: Library) -> None:
    editor, quality = actor(library, "jiaowu"), actor(library, "zhiliang")
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    workflow.submit(draft.id, actor=editor)
    workflow.approve(draft.id, actor=quality, approval=APPROVAL, require_ack=True)
    workflow.publish(draft.id, actor=quality)
    status = acknowledgements.status(library.db, "A101Z")
    assert status is not None and [r.name for r in status.pending] == ["教务处 王老师"]
    assert acknowledgements.pending_for(library.db, user_id=editor.user_id, departments=editor.departments) == ["A101Z"]
    assert acknowledgements.confirm(library.db, user_id=editor.user_id, departments=editor.departments, code="A101Z")
    assert not acknowledgements.confirm(library.db, user_id=editor.user_id, departments=editor.departments, code="A101Z")
    status = acknowledgements.status(library.db, "A101Z")
    assert status is not None and status.pending == () and status.readers[0].confirmed_at is not None
    other = actor(library, "renshi")
    assert not acknowledgements.confirm(library.db, user_id=other.user_id, departments=other.departments, code="A101Z")


def test_a_stale_draft_save_is_refused(workflow: Workflow, library: Library) -> None:
    editor = actor(library, "jiaowu")
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    opened_at = draft.tip
    revised(workflow, draft.id, "第一个标签页保存的内容。")
    document = workflow.document(draft)
    with pytest.raises(Conflict):
        workflow.save(draft.id, document.with_changes(body="第二个标签页"), actor=editor, message="x", expected=opened_at)
    assert "第一个标签页保存的内容" in workflow.document(workflow.get(draft.id)).body


def test_mail_goes_out_alongside_the_inbox(library: Library) -> None:
    sent: list[tuple[list[int], str, str]] = []
    workflow = Workflow(library, mailer=lambda ids, text, path: sent.append((list(ids), text, path)))
    editor = actor(library, "jiaowu")
    draft = workflow.open(code=A101Z, kind="revise", reason="修订", actor=editor)
    workflow.submit(draft.id, actor=editor)
    assert sent and sent[0][2] == f"/drafts/{draft.id}" and "提交审核" in sent[0][1]
