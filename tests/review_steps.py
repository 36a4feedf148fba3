"""A revision of a demo document taken through review by its people, through the workflow service
(not the editor's page): for tests of what the review, comparison and home pages then show
(tests/test_reading_pages.py, tests/test_browser.py)."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from tests.actors import account
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.services import Services
from zhengai_docs.workflow import Approval

APPROVAL = Approval(
    approving_body="院长办公会", meeting_date=dt.date(2026, 11, 20), doc_number="包职院发〔2026〕12号", issue_date=dt.date(2026, 11, 25)
)
SENTENCE = "第九条之一 新设专业须经行业专家组复核。"
DEMO_TODAY = dt.date(2026, 11, 23)  # the demo's "today" (README: 9 overdue, 5 due soon)


def svc(app: Flask) -> Services:
    return app.extensions["zhengai"]


def revise(app: Flask, sentence: str = SENTENCE, *, code: str = "A101Z") -> int:
    """教务处 opens a revision and adds a sentence at the end of the body; returns the draft's id."""
    workflow, editor = svc(app).workflow, account(svc(app).db, "jiaowu")
    draft = workflow.open(code=document_code(code), kind="revise", reason="依据新版专业目录修订", actor=editor)
    add(app, draft.id, sentence)
    return draft.id


def add(app: Flask, draft_id: int, sentence: str, *, replacing: str | None = None) -> None:
    """The author saves the draft again: `sentence` replaces `replacing`, or is added at the end."""
    workflow, editor = svc(app).workflow, account(svc(app).db, "jiaowu")
    draft = workflow.get(draft_id)
    current = workflow.document(draft)
    body = current.body.replace(replacing, sentence) if replacing else f"{current.body}\n{sentence}\n"
    workflow.save(draft_id, current.with_changes(body=body), actor=editor, message="补充条款", expected=draft.tip)


def submit(app: Flask, draft_id: int) -> None:
    svc(app).workflow.submit(draft_id, actor=account(svc(app).db, "jiaowu"))


def send_back(app: Flask, draft_id: int, reason: str) -> None:
    svc(app).workflow.request_changes(draft_id, actor=account(svc(app).db, "zhiliang"), text=reason)


def publish(app: Flask, draft_id: int, *, require_ack: bool = False) -> str:
    """The quality office approves (APPROVAL) and publishes; returns the published commit."""
    quality = account(svc(app).db, "zhiliang")
    svc(app).workflow.approve(draft_id, actor=quality, approval=APPROVAL, require_ack=require_ack)
    return svc(app).workflow.publish(draft_id, actor=quality).commit
