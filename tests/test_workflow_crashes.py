"""A worker killed (SIGKILL) at every write step of a draft's life — opening, saving, bringing
up to date, submitting, approving, publishing, discarding — on the engine the suite runs on.

The step runs in a child process whose next write is replaced by `os.kill(os.getpid(), SIGKILL)`
(as tests/test_sync.py does with KILLED_WRITER). After it, every draft is exactly as before the
step, exactly as after it, or `reconcile_drafts` reports it and repairs it without a person; and
the user can always go on to save and publish, with exactly one publication commit.

Also here: git and the database brought apart by other means (a ref moved by hand, a restore
into a new database) and a retried save whose answer was lost.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.actors import AS_EDITOR
from tests.conftest import OpenApp, login
from tests.databases import instance_database_url
from tests.draft_scenarios import (
    A101Z,
    Trace,
    actor,
    approved,
    git,
    migrated,
    opened,
    publications,
    ref_tip,
    refs,
    save_sentence,
    submitted,
    to_published,
    trace,
)
from tests.html_reader import form_fields
from zhengai_docs.db.models import CacheState, DraftRow
from zhengai_docs.errors import Conflict, Refused
from zhengai_docs.permissions import Actor
from zhengai_docs.workflow import AlreadyHandled, DraftStatus, FindingState, Workflow, reconcile_drafts

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "第十二条 崩溃时保存的条款。"

KILLED_STEP = """
import os, signal, sys
from pathlib import Path
from tests import draft_scenarios as s
from zhengai_docs import inbox
from zhengai_docs.storage.drafts import DraftStore
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.workflow import Workflow

instance, url, point, draft_id = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
step = point.partition("/")[0]
workflow = s.build(Path(instance), url=url)


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def then_die(function):
    def wrapped(*args, **kwargs):
        function(*args, **kwargs)
        die()
    return wrapped


NEXT_WRITE = {  # point -> the write the process dies before, or right after
    "open/before-ref": (DraftStore, "create", die),
    "open/after-ref": (DraftStore, "create", then_die),
    "save/before-ref": (DraftStore, "move", die),
    "save/after-ref": (DraftStore, "move", then_die),
    "update/after-ref": (DraftStore, "move", then_die),
    "submit/before-commit": (inbox, "notify", die),
    "approve/before-commit": (inbox, "notify", die),
    "publish/before-git": (ContentRepository, "write", die),
    "publish/after-git": (ContentRepository, "write", then_die),
    "publish/after-commit": (Workflow, "_follow_branch", die),  # the cache and index follow after the commit
    "discard/after-commit": (DraftStore, "discard", die),  # the ref is moved aside after the commit
}
if point in ("submit/after-commit", "approve/after-commit"):
    workflow.mailer = die  # the e-mail goes out after the transaction's commit
else:
    owner, name, kill = NEXT_WRITE[point]
    setattr(owner, name, kill if kill is die else kill(getattr(owner, name)))
editor, quality = s.actor(workflow, "jiaowu"), s.actor(workflow, "zhiliang")
if step == "open":
    workflow.open(code=s.A101Z, kind="revise", reason="崩溃测试", actor=editor)
elif step == "save":
    s.save_sentence(workflow, draft_id, "第十二条 崩溃时保存的条款。")
elif step == "update":
    workflow.bring_up_to_date(draft_id, actor=editor)
elif step == "submit":
    workflow.submit(draft_id, actor=editor)
elif step == "approve":
    workflow.approve(draft_id, actor=quality, approval=s.APPROVAL, require_ack=True)
elif step == "publish":
    workflow.publish(draft_id, actor=quality)
elif step == "discard":
    workflow.discard(draft_id, actor=editor, note="崩溃测试")
print("the step ended without being killed")
sys.exit(3)
"""


def kill_during(instance: Path, point: str, draft_id: int) -> None:
    args = [sys.executable, "-c", KILLED_STEP, str(instance), instance_database_url(instance), point, str(draft_id)]
    result = subprocess.run(args, capture_output=True, timeout=120, cwd=ROOT)
    assert result.returncode == -signal.SIGKILL, (result.stdout, result.stderr)


@pytest.fixture
def workflow(instance: Path) -> Iterator[Workflow]:
    yield from migrated(instance)


def prepared(workflow: Workflow, step: str) -> int:
    """A draft ready for `step` (0 for opening)."""
    if step == "open":
        return 0
    if step in ("save", "discard"):
        draft_id = opened(workflow)
        save_sentence(workflow, draft_id, "第十一条 崩溃前保存的条款。")
        return draft_id
    if step == "update":
        draft_id = opened(workflow)
        save_sentence(workflow, draft_id, "第十一条 崩溃前保存的条款。")
        current = workflow.library.load(A101Z)
        changed = current.document.with_changes(title=current.document.meta.title + "（勘误）")
        workflow.library.save(changed, actor=Actor.system(name="管理员"), message="勘误", base=current.version.commit)
        return draft_id
    if step == "submit":
        draft_id = opened(workflow)
        save_sentence(workflow, draft_id, "第十一条 崩溃前保存的条款。")
        return draft_id
    if step == "approve":
        return submitted(workflow, "第十一条 崩溃前保存的条款。")
    return approved(workflow, "第十一条 崩溃前保存的条款。")  # publish


def findings(workflow: Workflow, *, repair: bool) -> list[str]:
    return [str(f) for f in reconcile_drafts(repo=workflow.library.repo, db=workflow.db, repair=repair, orphan_grace=dt.timedelta(0))]


def only_draft_id(workflow: Workflow) -> int:
    with workflow.db.session() as session:
        return session.scalars(select(DraftRow.id).order_by(DraftRow.id.desc())).first() or 0


# -- one test per crash point ---------------------------------------------------------------------


def check_open(workflow: Workflow, point: str, _before: Trace | None, _draft_id: int) -> None:
    assert only_draft_id(workflow) == 0  # the row was never committed: nothing, as before
    orphans = refs(workflow, "refs/drafts/A101Z/")
    if point == "open/before-ref":
        assert orphans == {} and findings(workflow, repair=False) == []
        return
    [(name, tip)] = orphans.items()  # after the ref: an orphan ref without a row
    with_grace = reconcile_drafts(repo=workflow.library.repo, db=workflow.db, repair=True)
    assert [f.state for f in with_grace] == [FindingState.WAITING]  # younger than the grace: maybe being opened right now
    assert ref_tip(workflow, name) == tip
    draft = workflow.open(code=A101Z, kind="revise", reason="重新发起", actor=actor(workflow, "jiaowu"))  # the id may be the same
    reported = findings(workflow, repair=True)
    assert all("没有对应的草稿记录" in line and "已修复" in line for line in reported), reported
    assert tip in refs(workflow, "refs/drafts-orphaned/A101Z/").values()  # nothing lost
    assert refs(workflow, "refs/drafts/A101Z/") == {f"refs/drafts/A101Z/{draft.id}": workflow.get(draft.id).tip}


def check_save(workflow: Workflow, point: str, before: Trace | None, draft_id: int) -> None:
    assert before is not None
    after = trace(workflow, draft_id)
    if point == "save/before-ref":
        assert after == before and findings(workflow, repair=False) == []
        return
    assert after.tip == before.tip and after.live_ref != before.tip  # the ref moved on, the row did not
    [reported] = findings(workflow, repair=False)
    assert "多 1 次保存" in reported and "可自动修复" in reported
    adopted = workflow.get(draft_id)  # the next access repairs it, no doctor needed
    assert adopted.tip == after.live_ref and trace(workflow, draft_id).events == (*before.events, "save")
    assert SENTENCE in workflow.document(adopted).body  # the save that was never acknowledged is not lost


def check_update(workflow: Workflow, point: str, before: Trace | None, draft_id: int) -> None:
    assert before is not None
    [reported] = findings(workflow, repair=True)
    assert "多 1 次保存" in reported and "已修复" in reported
    after = trace(workflow, draft_id)
    assert after.tip != before.tip and after.events[-1] == "save" and after.base == before.base
    assert workflow.document(workflow.get(draft_id)).meta.title.endswith("（勘误）")


def check_db_step(workflow: Workflow, point: str, before: Trace | None, draft_id: int) -> None:
    """submit and approve write only the database: one transaction, before or after."""
    assert before is not None
    after = trace(workflow, draft_id)
    assert findings(workflow, repair=False) == []
    if point.endswith("before-commit"):
        assert after == before
        return
    step = point.split("/")[0]
    assert after.events == (*before.events, step) and after.notifications > before.notifications
    assert after.status == (DraftStatus.SUBMITTED if step == "submit" else DraftStatus.APPROVED).value


def check_publish(workflow: Workflow, point: str, before: Trace | None, draft_id: int) -> None:
    assert before is not None
    after = trace(workflow, draft_id)
    if point == "publish/before-git":
        assert after == before and findings(workflow, repair=False) == []
        return
    [commit] = publications(workflow, draft_id)
    assert after.head == commit
    if point == "publish/after-git":  # on the branch, not recorded: found by its Draft: trailer
        assert after.status == DraftStatus.APPROVED.value and after.events == before.events
        [reported] = findings(workflow, repair=True)
        assert "已发布为" in reported and "已修复" in reported
        after = trace(workflow, draft_id)
    assert after.status == DraftStatus.PUBLISHED.value and after.published_commit == commit
    assert after.events == (*before.events, "publish") and after.read_requests == 1
    assert after.notifications == before.notifications + 1 and after.open_code is None
    with pytest.raises(AlreadyHandled, match="已由"):
        workflow.publish(draft_id, actor=actor(workflow, "zhiliang"))
    workflow.library.sync()  # publish/after-commit: the cache was behind and catches up as after any crash
    with workflow.db.session() as session:
        state = session.get(CacheState, 1)
        assert state is not None and state.commit == commit


def check_discard(workflow: Workflow, point: str, before: Trace | None, draft_id: int) -> None:
    assert before is not None
    after = trace(workflow, draft_id)
    assert after.status == DraftStatus.DISCARDED.value and after.live_ref == before.tip and after.discarded_ref is None
    [reported] = findings(workflow, repair=True)
    assert "已放弃" in reported and "已修复" in reported
    after = trace(workflow, draft_id)
    assert after.live_ref is None and after.discarded_ref == before.tip


CHECKS = {
    "open": check_open,
    "save": check_save,
    "update": check_update,
    "submit": check_db_step,
    "approve": check_db_step,
    "publish": check_publish,
    "discard": check_discard,
}
POINTS = [
    "open/before-ref",
    "open/after-ref",
    "save/before-ref",
    "save/after-ref",
    "update/after-ref",
    "submit/before-commit",
    "submit/after-commit",
    "approve/before-commit",
    "approve/after-commit",
    "publish/before-git",
    "publish/after-git",
    "publish/after-commit",
    "discard/after-commit",
]


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_write_step_leaves_before_after_or_repairable(point: str, instance: Path, workflow: Workflow) -> None:
    step = point.split("/")[0]
    draft_id = prepared(workflow, step)
    before = trace(workflow, draft_id) if draft_id else None
    kill_during(instance, point, draft_id)
    CHECKS[step](workflow, point, before, draft_id)
    assert findings(workflow, repair=False) == []  # repaired: nothing left to report
    # the user can always go on: save and publish again, one publication commit per draft
    if step == "discard":
        draft_id = opened(workflow)
    elif step == "open":
        draft_id = only_draft_id(workflow) or opened(workflow)  # opening again works too
    to_published(workflow, draft_id, "第十三条 恢复后保存的条款。")
    assert len(publications(workflow, draft_id)) == 1
    published = workflow.library.load(A101Z).document.body
    kept = {"save/after-ref": [SENTENCE], "open/after-ref": [], "open/before-ref": [], "discard/after-commit": []}
    for sentence in kept.get(point, ["第十一条 崩溃前保存的条款。"]):
        assert sentence in published  # what was saved before (or, unacknowledged, during) the crash is published
    git(workflow, "fsck", "--no-progress", "--strict")


# -- git and the database apart by other means ---------------------------------------------------


def test_a_restore_into_a_new_database_never_collides_with_old_draft_refs(workflow: Workflow) -> None:
    """Old refs/drafts/A101Z/<id> from before a restore (no rows for them): a new draft takes
    its id anyway, the old ref moves to refs/drafts-orphaned/ and nothing is lost."""
    base = workflow.library.repo.require_head()
    old = {f"refs/drafts/A101Z/{n}": base for n in range(1, 41)}
    for name, tip in old.items():
        git(workflow, "update-ref", name, tip)
    draft = workflow.open(code=A101Z, kind="revise", reason="恢复后的第一次修订", actor=actor(workflow, "jiaowu"))
    assert 1 <= draft.id <= 40  # the database hands out an id an old ref already has
    assert ref_tip(workflow, f"refs/drafts-orphaned/A101Z/{draft.id}-{base}") == base
    reported = findings(workflow, repair=True)
    assert len(reported) == 39 and all("没有对应的草稿记录" in line for line in reported)
    assert set(refs(workflow, "refs/drafts/A101Z/")) == {f"refs/drafts/A101Z/{draft.id}"}
    assert len(refs(workflow, "refs/drafts-orphaned/")) == 40
    to_published(workflow, draft.id, "恢复后发布。")


def test_a_ref_that_left_its_line_of_saves_is_flagged_for_a_person(workflow: Workflow, instance: Path, open_app: OpenApp) -> None:
    draft_id = opened(workflow)
    save_sentence(workflow, draft_id, "第一次保存。")
    recorded = workflow.get(draft_id).tip
    git(workflow, "update-ref", f"refs/drafts/A101Z/{draft_id}", workflow.get(draft_id).base)  # moved by hand, backwards
    draft = workflow.get(draft_id)
    assert draft.attention is not None and "不在同一条修改线上" in draft.attention
    assert ref_tip(workflow, f"refs/drafts-orphaned/A101Z/{draft_id}-{recorded}") == recorded  # the recorded text is kept
    [reported] = findings(workflow, repair=True)
    assert "需人工处理" in reported
    with pytest.raises(Refused, match="不在同一条修改线上"):
        save_sentence(workflow, draft_id, "再保存。")
    with pytest.raises(Refused, match="不在同一条修改线上"):
        workflow.submit(draft_id, actor=actor(workflow, "jiaowu"))
    client = open_app(instance, REVIEW_REQUIRED=True).test_client()
    login(client, "jiaowu")
    page = client.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "需要人工处理" in page and "不在同一条修改线上" in page
    workflow.discard(draft_id, actor=actor(workflow, "jiaowu"), note="以仓库版本为准重新发起")  # what the person does
    to_published(workflow, opened(workflow), "重新发起后发布。")


def test_a_missing_ref_is_rebuilt_from_the_recorded_commit(workflow: Workflow) -> None:
    draft_id = opened(workflow)
    save_sentence(workflow, draft_id, "保存过的条款。")
    tip = workflow.get(draft_id).tip
    git(workflow, "update-ref", "-d", f"refs/drafts/A101Z/{draft_id}")
    [reported] = findings(workflow, repair=False)
    assert "丢失" in reported
    assert "保存过的条款" in workflow.document(workflow.get(draft_id)).body  # rebuilt on access
    assert ref_tip(workflow, f"refs/drafts/A101Z/{draft_id}") == tip
    to_published(workflow, draft_id, "重建后发布。")


def test_draft_refs_packed_by_git_gc_are_read_as_loose_ones(workflow: Workflow) -> None:
    """Draft tips are read from the ref files (no process); `git gc` packs them into packed-refs."""
    draft_id = opened(workflow)
    save_sentence(workflow, draft_id, "打包前保存的条款。")
    tip = workflow.get(draft_id).tip
    git(workflow, "pack-refs", "--all")
    assert not (workflow.library.repo.path / f"refs/drafts/A101Z/{draft_id}").exists()
    assert findings(workflow, repair=False) == [] and workflow.get(draft_id).tip == tip
    save_sentence(workflow, draft_id, "打包后保存的条款。")
    to_published(workflow, draft_id, "打包后发布。")


def test_a_draft_whose_text_git_no_longer_has_offers_only_discarding(workflow: Workflow, instance: Path, open_app: OpenApp) -> None:
    draft_id = opened(workflow)
    git(workflow, "update-ref", "-d", f"refs/drafts/A101Z/{draft_id}")
    with workflow.db.transaction() as session:  # as after restoring an older content repository
        row = session.get(DraftRow, draft_id)
        assert row is not None
        row.tip = "0123456789abcdef0123456789abcdef01234567"
    draft = workflow.get(draft_id)
    assert draft.attention is not None and "不在内容仓库中" in draft.attention
    client = open_app(instance, REVIEW_REQUIRED=True).test_client()
    login(client, "jiaowu")
    page = client.get(f"/drafts/{draft_id}")
    assert page.status_code == 200 and "需要人工处理" in page.get_data(as_text=True)
    form = dict(re.findall(r'name="(csrf_token|seen)"[^>]*?value="([^"]*)"', page.get_data(as_text=True)))
    assert client.post(f"/drafts/{draft_id}/discard", data={**form, "text": "正文已丢失"}).status_code == 302
    assert workflow.get(draft_id).status is DraftStatus.DISCARDED
    assert findings(workflow, repair=False) == []


# -- a retried save whose answer was lost ----------------------------------------------------------


def test_a_retried_draft_save_is_the_same_save_not_a_conflict(workflow: Workflow) -> None:
    editor, admin = actor(workflow, "jiaowu"), actor(workflow, "admin")
    draft_id = opened(workflow)
    draft = workflow.get(draft_id)
    mine = workflow.document(draft).with_changes(body="我的修改。\n")
    workflow.save(draft_id, mine, actor=editor, message="我的保存", expected=draft.tip)
    again = workflow.save(draft_id, mine, actor=editor, message="我的保存", expected=draft.tip)  # the browser retries
    assert again.tip == workflow.get(draft_id).tip and trace(workflow, draft_id).events == ("open", "save")
    theirs = mine.with_changes(body="我的修改。\n他人的补充。\n")
    workflow.save(draft_id, theirs, actor=admin, message="他人的保存", expected=again.tip)
    assert workflow.save(draft_id, mine, actor=editor, message="我的保存", expected=draft.tip).tip == workflow.get(draft_id).tip
    with pytest.raises(Conflict):  # the same text from someone else is not "my save"
        workflow.save(draft_id, mine, actor=admin, message="x", expected=draft.tip)
    with pytest.raises(Conflict):  # and other text from me is a real conflict
        workflow.save(draft_id, mine.with_changes(body="另一种改法。\n"), actor=editor, message="x", expected=draft.tip)
    assert "他人的补充" in workflow.document(workflow.get(draft_id)).body


def test_a_retried_draft_save_on_the_web_says_saved(instance: Path, open_app: OpenApp) -> None:
    app = open_app(instance, REVIEW_REQUIRED=True)
    workflow: Workflow = app.extensions["zhengai"].workflow
    draft_id = opened(workflow)
    client = app.test_client()
    login(client, "jiaowu")
    data = form_fields(client.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form")
    data.update(body=data["body"] + "\n网络中断前已保存的条款。\n", message="补充条款")
    assert client.post(f"/drafts/{draft_id}/edit", data=data).status_code == 302
    retried = client.post(f"/drafts/{draft_id}/edit", data=data, follow_redirects=True)  # the same form, sent again
    assert retried.status_code == 200 and "草稿已保存" in retried.get_data(as_text=True)
    assert trace(workflow, draft_id).events == ("open", "save")


def test_a_retried_direct_save_is_the_same_save(workflow: Workflow) -> None:
    library = workflow.library
    current = library.load(A101Z)
    mine = current.document.with_changes(title="直接保存的新标题")
    first = library.save(mine, actor=AS_EDITOR, message="改标题", base=current.version.commit)
    assert first.changed
    retried = library.save(mine, actor=AS_EDITOR, message="改标题", base=current.version.commit)
    assert retried.changed and retried.commit == first.commit  # "已保存", not "内容没有变化"
    later = library.load(A101Z)
    other = later.document.with_changes(body=later.document.body + "\n他人补充。\n")
    library.save(other, actor=Actor.system(name="管理员"), message="补充", base=later.version.commit)
    assert library.save(mine, actor=AS_EDITOR, message="改标题", base=current.version.commit).commit == first.commit
    with pytest.raises(Conflict):
        library.save(mine, actor=Actor.system(name="管理员"), message="改标题", base=current.version.commit)
