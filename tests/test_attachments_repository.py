"""附件 in the content repository (issue 19): a crash between writing their blobs and moving the
ref leaves nothing inconsistent; `doctor` names files left without their document; the
administrator's report of the largest files; the handbook and the Word export list them.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document as WordDocument

from tests.actors import AS_EDITOR
from tests.conftest import Runner, client_for, make_app
from tests.databases import instance_database_url
from tests.draft_scenarios import A101Z, actor, migrated, opened
from tests.test_attachments import word_file
from zhengai_docs.attachments.store import AttachmentEdit, Attachments, Limits, Upload
from zhengai_docs.config import SETTINGS
from zhengai_docs.db.doctor import unusable_files
from zhengai_docs.storage.files import document_files
from zhengai_docs.workflow import Workflow, reconcile_drafts

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits.from_settings({s.name: s.default for s in SETTINGS})
FORM_NAME = "专业设置申报表.docx"


def docx_paragraphs(data: bytes) -> list[str]:
    return [p.text for p in WordDocument(io.BytesIO(data)).paragraphs]


@pytest.fixture
def workflow(instance: Path) -> Iterator[Workflow]:
    yield from migrated(instance)


def desk(workflow: Workflow) -> Attachments:
    return Attachments(library=workflow.library, workflow=workflow, limits=LIMITS)


KILLED_UPLOAD = """
import os, signal, sys
from pathlib import Path
from tests import draft_scenarios as s
from tests.test_attachments_repository import LIMITS, word_file
from zhengai_docs.attachments.store import AttachmentEdit, Attachments, Upload
from zhengai_docs.storage.drafts import DraftStore
from zhengai_docs.storage.repository import ContentRepository

instance, url, point, draft_id = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
workflow = s.build(Path(instance), url=url)


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def then_die(function):
    def wrapped(*args, **kwargs):
        function(*args, **kwargs)
        die()
    return wrapped


owner, name, kill = {
    "draft/before-ref": (DraftStore, "move", die),
    "draft/after-ref": (DraftStore, "move", then_die),
    "direct/before-ref": (ContentRepository, "_update_ref", die),
}[point]
setattr(owner, name, kill if kill is die else kill(getattr(owner, name)))
attachments = Attachments(library=workflow.library, workflow=workflow, limits=LIMITS)
edit = AttachmentEdit(action="add", upload=Upload("专业设置申报表.docx", word_file("崩溃时上传的表")))
if point.startswith("draft/"):
    draft = workflow.get(draft_id)
    attachments.change_in_draft(draft_id, edit, actor=s.actor(workflow, "jiaowu"), expected=draft.tip)
else:
    attachments.change(s.A101Z, edit, actor=s.actor(workflow, "admin"), base=workflow.library.repo.require_head())
print("the step ended without being killed")
sys.exit(3)
"""


def kill_during(instance: Path, point: str, draft_id: int) -> None:
    args = [sys.executable, "-c", KILLED_UPLOAD, str(instance), instance_database_url(instance), point, str(draft_id)]
    result = subprocess.run(args, capture_output=True, timeout=120, cwd=ROOT)
    assert result.returncode == -signal.SIGKILL, (result.stdout, result.stderr)


@pytest.mark.parametrize("point", ["draft/before-ref", "draft/after-ref", "direct/before-ref"])
def test_sigkill_between_writing_the_blobs_and_moving_the_ref_leaves_nothing_inconsistent(
    point: str, instance: Path, workflow: Workflow
) -> None:
    repo = workflow.library.repo
    draft_id = opened(workflow)
    before, head = workflow.get(draft_id), repo.require_head()
    kill_during(instance, point, draft_id)
    assert repo.require_head() == head  # the branch never moved
    repo.fsck()  # the blobs written before the kill are unreferenced, never a broken object
    findings = reconcile_drafts(repo=repo, db=workflow.db, repair=True)
    draft = workflow.get(draft_id)
    names = [a.name for a in desk(workflow).in_draft(draft)]
    if point == "draft/after-ref":  # the ref moved, the row did not: adopted, attachment and all
        assert [f.problem for f in findings] and draft.tip != before.tip and names == ["附件1-专业设置申报表.docx"]
    else:  # before the ref moved: as if nothing happened
        assert findings == [] and draft.tip == before.tip and names == []
    # Either way the author goes on: the upload (again) and a publication with exactly that file.
    if not names:
        edit = AttachmentEdit(action="add", upload=Upload(FORM_NAME, word_file("崩溃时上传的表")))
        desk(workflow).change_in_draft(draft_id, edit, actor=actor(workflow, "jiaowu"), expected=draft.tip)
    workflow.submit(draft_id, actor=actor(workflow, "jiaowu"))
    from tests.draft_scenarios import APPROVAL

    workflow.approve(draft_id, actor=actor(workflow, "zhiliang"), approval=APPROVAL)
    published = workflow.publish(draft_id, actor=actor(workflow, "zhiliang")).commit
    assert [f.name for f in document_files(repo, A101Z.path, published)] == ["附件1-专业设置申报表.docx"]


def test_doctor_names_a_file_whose_document_is_gone(workflow: Workflow) -> None:
    repo = workflow.library.repo
    folder = "regulations/A/A9/A999Z"
    repo.commit(
        {f"{folder}/附件1-孤儿表.docx": word_file("孤儿"), "regulations/A/A1/A101Z/附件1-申报表.docx": word_file("表")},
        author=AS_EDITOR.author,
        message="推送的附件",
        base=repo.require_head(),
    )
    problems = unusable_files(repo, repo.require_head())
    assert [p for p in problems if "附件" in p] == [
        f"{folder}/附件1-孤儿表.docx: 属于文档 A999Z，但该文档不存在（{folder}.md），程序不会显示此文件；请补回文档或删除此文件"
    ]


def test_the_largest_files_report_names_the_attachments(workflow: Workflow, runner: Runner, instance: Path) -> None:
    repo = workflow.library.repo
    big = bytes(range(256)) * 4096  # 1 MiB that does not compress much
    repo.commit({"regulations/A/A1/A101Z/附件1-大表.pdf": big}, author=AS_EDITOR.author, message="大附件", base=repo.require_head())
    result = runner("repository", "largest", "--limit", "3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("内容仓库占用磁盘 ") and "最大的 3 个文件" in lines[0]
    assert lines[1].split()[0:2] == ["1.0", "MB"] and lines[1].endswith("regulations/A/A1/A101Z/附件1-大表.pdf")
    assert len(lines) == 4


def test_the_handbook_and_the_word_export_list_the_attachments(instance: Path) -> None:
    app = make_app(instance)
    try:
        services = app.extensions["zhengai"]
        admin = actor(services.workflow, "admin")
        for title, text in (("专业设置申报表.docx", "申报表中唯一的一句"), ("评分细则.docx", "评分细则中唯一的一句")):
            edit = AttachmentEdit(action="add", upload=Upload(title, word_file(text)))
            services.attachments.change(A101Z, edit, actor=admin, base=services.library.repo.require_head())
        reader = client_for(app, "duzhe")
        exported = docx_paragraphs(reader.get("/documents/A101Z/export.docx").data)
        assert exported[-2:] == ["附件：1．专业设置申报表", "　　　2．评分细则"]
        from zhengai_docs.publishing import handbook

        def compiled(texts: bool) -> list[str]:
            data, _ = handbook.compile_handbook(
                db=services.db,
                repo=services.library.repo,
                selection=handbook.HandbookFilter(level1="A"),
                template=ROOT / "templates" / "reference.docx",
                college="包头职业技术学院",
                today=__import__("datetime").date(2026, 11, 23),
                attachment_texts=texts,
            )
            return docx_paragraphs(data)

        plain, with_texts = compiled(False), compiled(True)
        assert "附件：1．专业设置申报表" in plain and "　　　2．评分细则" in plain and "申报表中唯一的一句" not in plain
        start = with_texts.index("附件1　专业设置申报表")
        assert with_texts[start + 1] == "申报表中唯一的一句" and "评分细则中唯一的一句" in with_texts
    finally:
        app.extensions["zhengai"].close()
