"""Two people acting on one draft at the same moment, with real concurrency: threads of one
process sharing the services, and separate processes with their own (spawned, not forked)
services, on the engine the suite runs on. Every rule is held by the database — a unique index,
a conditional UPDATE — so exactly one of the two wins and the other is told who did.

- two 发起修订 of one document: one draft, one ref;
- two publications of one approved draft: one commit, one event, one notification per
  recipient, one read request, and the other publisher gets 409 "已由 … 发布";
- an approval and a 退回修改 at once: one of them.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import OpenDatabase, csrf_token, login, make_app
from tests.databases import instance_database_url
from tests.draft_scenarios import (
    A101Z,
    APPROVAL,
    actor,
    approved,
    build,
    close,
    migrated,
    opened,
    publications,
    refs,
    submitted,
    trace,
)
from zhengai_docs.db.database import _alembic_config
from zhengai_docs.db.models import DraftEvent, DraftRow, Notification, ReadAck, ReadRequest
from zhengai_docs.permissions import Actor
from zhengai_docs.workflow import OPEN, AlreadyHandled, DraftStatus, Workflow

pytestmark = pytest.mark.slow

THREAD_ROUNDS = 20
PROCESS_ROUNDS = 8
TIMEOUT = 300  # generous: a loaded 2-core machine has taken minutes to start the spawned workers


# -- the two sides of each race ---------------------------------------------------------------


def _open(workflow: Workflow, draft_id: int, me: Actor) -> object:
    return workflow.open(code=A101Z, kind="revise", reason=f"{me.name} 发起的修订", actor=me)


def _publish(workflow: Workflow, draft_id: int, me: Actor) -> object:
    return workflow.publish(draft_id, actor=me, seen=DraftStatus.APPROVED)


def _approve(workflow: Workflow, draft_id: int, me: Actor) -> object:
    return workflow.approve(draft_id, actor=me, approval=APPROVAL, seen=DraftStatus.SUBMITTED)


def _send_back(workflow: Workflow, draft_id: int, me: Actor) -> object:
    return workflow.request_changes(draft_id, actor=me, text="第九条表述不清", seen=DraftStatus.SUBMITTED)


STEPS: dict[str, Callable[[Workflow, int, Actor], object]] = {
    "open": _open,
    "publish": _publish,
    "approve": _approve,
    "send_back": _send_back,
}
Side = tuple[str, str]  # (user name, step)


def _attempt(workflow: Workflow, step: str, draft_id: int, me: Actor) -> str:
    try:
        STEPS[step](workflow, draft_id, me)
    except AlreadyHandled as exc:
        return f"handled:{exc}"
    except Exception as exc:  # reported to the checking side, which fails the test with it
        return f"error:{exc!r}"
    return "ok"


def _race_in_threads(workflow: Workflow, sides: tuple[Side, Side], draft_id: int) -> dict[str, str]:
    """Both steps released at once from a barrier, in two threads sharing the services.
    Outcomes are keyed `<side>:<step>`."""
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}
    actors = [actor(workflow, name) for name, _ in sides]

    def run(index: int) -> None:
        barrier.wait(timeout=TIMEOUT)
        outcomes[f"{index}:{sides[index][1]}"] = _attempt(workflow, sides[index][1], draft_id, actors[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    return outcomes


def _worker(instance: str, url: str, index: int, side: Side, rounds: int, target: Any, start: Any, done: Any, results: Any) -> None:
    """A separate process with its own services; each round it waits for the draft the test
    prepared (`target`), acts when both workers are released, and reports its outcome."""
    workflow = build(Path(instance), url=url)
    me = actor(workflow, side[0])
    try:
        for _ in range(rounds):
            start.wait(timeout=TIMEOUT)
            results.put((f"{index}:{side[1]}", _attempt(workflow, side[1], target.value, me)))
            done.wait(timeout=TIMEOUT)
    except threading.BrokenBarrierError:
        pass  # the test failed and released us
    finally:
        close(workflow)


def _rounds_in_processes(
    instance: Path, sides: tuple[Side, Side], rounds: int, prepare: Callable[[int], int], check: Callable[[int, dict[str, str]], None]
) -> None:
    """`rounds` races between two spawned processes (no connection or git process crosses a fork)."""
    context = multiprocessing.get_context("spawn")
    start, done, target, results = context.Barrier(3), context.Barrier(3), context.Value("i", 0), context.Queue()
    url = instance_database_url(instance)
    workers = [
        context.Process(target=_worker, args=(str(instance), url, index, side, rounds, target, start, done, results))
        for index, side in enumerate(sides)
    ]
    for worker in workers:
        worker.start()
    try:
        for number in range(rounds):
            target.value = prepare(number)
            start.wait(timeout=TIMEOUT)
            done.wait(timeout=TIMEOUT)
            check(number, dict(results.get(timeout=TIMEOUT) for _ in sides))
    finally:
        start.abort()
        done.abort()
        for worker in workers:
            worker.join(timeout=TIMEOUT)
            if worker.is_alive():
                worker.kill()
        results.close()
        results.join_thread()


def _one_winner(outcomes: dict[str, str], *, told: str) -> str:
    """Exactly one step succeeded; the other was told, in Chinese, who came first. Returns the
    winner's step."""
    assert len(outcomes) == 2, outcomes
    assert not [o for o in outcomes.values() if o.startswith("error:")], outcomes
    winners = [key for key, outcome in outcomes.items() if outcome == "ok"]
    assert len(winners) == 1, outcomes
    [loser] = [outcome for outcome in outcomes.values() if outcome != "ok"]
    assert loser.startswith("handled:") and re.search(told, loser), loser
    return winners[0].split(":", 1)[1]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def workflow(instance: Path) -> Iterator[Workflow]:
    yield from migrated(instance)


def _discard_open(workflow: Workflow) -> None:
    for draft in workflow.open_for(A101Z):
        workflow.discard(draft.id, actor=actor(workflow, "jiaowu"), note="下一轮")


# -- two 发起修订 -------------------------------------------------------------------------------

OPENERS: tuple[Side, Side] = (("jiaowu", "open"), ("admin", "open"))  # both edit 教务处's A101Z


def _reset_open(workflow: Workflow, number: int) -> int:
    _discard_open(workflow)
    return 0


def _check_one_draft(workflow: Workflow) -> Callable[[int, dict[str, str]], None]:
    def check(number: int, outcomes: dict[str, str]) -> None:
        _one_winner(outcomes, told="已有进行中的修订")
        [draft] = workflow.open_for(A101Z)
        assert trace(workflow, draft.id).open_code == "A101Z"
        live = [name for name in refs(workflow, "refs/drafts/A101Z/") if workflow.get(int(name.rsplit("/", 1)[1])).is_open]
        assert live == [f"refs/drafts/A101Z/{draft.id}"], f"round {number}: {live}"

    return check


def test_two_openers_in_threads_get_one_draft(workflow: Workflow) -> None:
    check = _check_one_draft(workflow)
    for number in range(THREAD_ROUNDS):
        _reset_open(workflow, number)
        check(number, _race_in_threads(workflow, OPENERS, 0))
    with workflow.db.session() as session:
        assert session.scalar(select(func.count()).select_from(DraftRow)) == THREAD_ROUNDS  # no loser left a row


def test_two_openers_in_processes_get_one_draft(instance: Path, workflow: Workflow) -> None:
    _rounds_in_processes(instance, OPENERS, PROCESS_ROUNDS, lambda n: _reset_open(workflow, n), _check_one_draft(workflow))
    with workflow.db.session() as session:
        assert session.scalar(select(func.count()).select_from(DraftRow)) == PROCESS_ROUNDS


# -- two publications -------------------------------------------------------------------------


def _check_one_publication(workflow: Workflow, draft_id: int, outcomes: dict[str, str]) -> None:
    _one_winner(outcomes, told=r"已由 .+ 发布")
    [commit] = publications(workflow, draft_id)  # one commit on the branch
    after = trace(workflow, draft_id)
    assert after.status == DraftStatus.PUBLISHED.value and after.published_commit == commit and after.open_code is None
    assert after.events.count("publish") == 1
    with workflow.db.session() as session:
        event = session.scalars(select(DraftEvent.id).where(DraftEvent.draft_id == draft_id, DraftEvent.action == "publish")).one()
        told = session.scalars(select(Notification.user_id).where(Notification.event_id == event)).all()
        asked = session.scalars(select(ReadRequest.commit).where(ReadRequest.draft_id == draft_id)).all()
    assert told == [actor(workflow, "jiaowu").user_id]  # the author, once
    assert asked == [commit]


def test_two_publishers_in_threads_make_one_commit(workflow: Workflow) -> None:
    sides: tuple[Side, Side] = (("zhiliang", "publish"), ("admin", "publish"))
    for number in range(THREAD_ROUNDS):
        draft_id = approved(workflow, f"第{number}轮新增的条款。")
        head = workflow.library.repo.head()
        _check_one_publication(workflow, draft_id, _race_in_threads(workflow, sides, draft_id))
        assert workflow.library.repo.position(workflow.library.repo.require_head()) == workflow.library.repo.position(head or "") + 1


def test_two_publishers_in_processes_make_one_commit(instance: Path, workflow: Workflow) -> None:
    prepared: list[int] = []

    def prepare(number: int) -> int:
        prepared.append(approved(workflow, f"第{number}轮（多进程）新增的条款。"))
        return prepared[-1]

    def check(number: int, outcomes: dict[str, str]) -> None:
        _check_one_publication(workflow, prepared[-1], outcomes)

    _rounds_in_processes(instance, (("zhiliang", "publish"), ("admin", "publish")), PROCESS_ROUNDS, prepare, check)


# -- an approval and a 退回修改 at once --------------------------------------------------------


def _check_one_decision(workflow: Workflow, draft_id: int, outcomes: dict[str, str]) -> None:
    winner = _one_winner(outcomes, told=r"已由 .+ (批准|退回修改)")
    after = trace(workflow, draft_id)
    decided = after.events[after.events.index("submit") + 1 :]
    if winner == "approve":
        assert after.status == DraftStatus.APPROVED.value and decided == ("approve",)
    else:
        assert after.status == DraftStatus.CHANGES_REQUESTED.value and decided == ("request_changes",)


def test_approval_and_sending_back_in_threads_one_wins(workflow: Workflow) -> None:
    sides: tuple[Side, Side] = (("zhiliang", "approve"), ("admin", "send_back"))
    winners = []
    for number in range(THREAD_ROUNDS):
        _discard_open(workflow)
        draft_id = submitted(workflow, f"第{number}轮待审的条款。")
        outcomes = _race_in_threads(workflow, sides, draft_id)
        _check_one_decision(workflow, draft_id, outcomes)
        winners.append(next(key.split(":")[1] for key, o in outcomes.items() if o == "ok"))
    assert set(winners) <= {"approve", "send_back"}


def test_approval_and_sending_back_in_processes_one_wins(instance: Path, workflow: Workflow) -> None:
    prepared: list[int] = []

    def prepare(number: int) -> int:
        _discard_open(workflow)
        prepared.append(submitted(workflow, f"第{number}轮（多进程）待审的条款。"))
        return prepared[-1]

    def check(number: int, outcomes: dict[str, str]) -> None:
        _check_one_decision(workflow, prepared[-1], outcomes)

    _rounds_in_processes(instance, (("zhiliang", "approve"), ("admin", "send_back")), PROCESS_ROUNDS, prepare, check)


# -- through the web: the other person is told --------------------------------------------------


@pytest.fixture
def app(indexed_instance: Path) -> Iterator[Flask]:
    application = make_app(indexed_instance, REVIEW_REQUIRED=True)
    yield application
    application.extensions["zhengai"].close()


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def _form_of(client: FlaskClient, draft_id: int, action: str) -> dict[str, str]:
    """The hidden fields of one step's form on the draft page as this user sees it now."""
    page = client.get(f"/drafts/{draft_id}").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/drafts/{draft_id}/{action}".*?</form>', page, re.S)
    assert form is not None, f"no {action} form"
    fields = dict(re.findall(r'name="(csrf_token|seen|tip)"[^>]*?value="([^"]*)"', form.group(0)))
    fields.setdefault("csrf_token", csrf_token(client, f"/drafts/{draft_id}"))
    return fields


def _post_both(first: tuple[FlaskClient, str, dict[str, str]], second: tuple[FlaskClient, str, dict[str, str]]) -> list[tuple[int, str]]:
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str]] = []

    def post(client: FlaskClient, url: str, data: dict[str, str]) -> None:
        barrier.wait(timeout=TIMEOUT)
        response = client.post(url, data=data)
        answers.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=post, args=side) for side in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    return sorted(answers, key=lambda a: a[0])


def test_the_second_publisher_gets_a_page_saying_who_published(app: Flask) -> None:
    workflow: Workflow = app.extensions["zhengai"].workflow
    quality, admin = _signed_in(app, "zhiliang"), _signed_in(app, "admin")
    for number in range(5):
        draft_id = approved(workflow, f"网页第{number}轮。")
        answers = _post_both(
            (quality, f"/drafts/{draft_id}/publish", _form_of(quality, draft_id, "publish")),
            (admin, f"/drafts/{draft_id}/publish", _form_of(admin, draft_id, "publish")),
        )
        assert [status for status, _ in answers] == [302, 409], answers
        assert re.search(r"已由 (质量办|.+) 发布", answers[1][1]) and "您的操作未执行" in answers[1][1]
        assert len(publications(workflow, draft_id)) == 1
    # a double click (the page is out of date when the second click arrives) is told the same
    draft_id = approved(workflow, "网页双击。")
    form = _form_of(quality, draft_id, "publish")
    assert quality.post(f"/drafts/{draft_id}/publish", data=form).status_code == 302
    again = quality.post(f"/drafts/{draft_id}/publish", data=form)
    assert again.status_code == 409 and "发布" in again.get_data(as_text=True)
    assert len(publications(workflow, draft_id)) == 1


def test_approval_against_sending_back_on_the_web_one_wins(app: Flask) -> None:
    workflow: Workflow = app.extensions["zhengai"].workflow
    quality, admin = _signed_in(app, "zhiliang"), _signed_in(app, "admin")
    for number in range(5):
        _discard_open(workflow)
        draft_id = submitted(workflow, f"网页待审第{number}轮。")
        approval = _form_of(quality, draft_id, "approve") | {
            "approving_body": "院长办公会",
            "meeting_date": "2026-11-20",
            "doc_number": f"包职院发〔2026〕{number + 30}号",
            "issue_date": "2026-11-25",
        }
        send_back = _form_of(admin, draft_id, "request-changes") | {"text": "请补充依据"}
        answers = _post_both((quality, f"/drafts/{draft_id}/approve", approval), (admin, f"/drafts/{draft_id}/request-changes", send_back))
        assert [status for status, _ in answers] == [302, 409], answers
        assert "您的操作未执行" in answers[1][1]
        status = workflow.get(draft_id).status
        assert status in (DraftStatus.APPROVED, DraftStatus.CHANGES_REQUESTED)


def test_a_second_open_on_the_web_lands_on_the_one_draft(app: Flask) -> None:
    workflow: Workflow = app.extensions["zhengai"].workflow
    editor, admin = _signed_in(app, "jiaowu"), _signed_in(app, "admin")
    for _ in range(5):
        _discard_open(workflow)
        forms = [
            (
                client,
                "/documents/A101Z/revise",
                {"kind": "revise", "reason": "同时发起", "csrf_token": csrf_token(client, "/documents/A101Z/revise")},
            )
            for client in (editor, admin)
        ]
        answers = _post_both(forms[0], forms[1])
        assert len(workflow.open_for(A101Z)) == 1
        [draft] = workflow.open_for(A101Z)
        for status, body in answers:  # the loser is sent to the draft (it saw it) or told on a 409 page
            assert status == 302 or (status == 409 and f"#{draft.id}" in body and "进行中的修订" in body), (status, body[:300])


# -- what the database itself refuses -----------------------------------------------------------


def test_the_unique_index_refuses_a_second_open_draft_whatever_the_code_checks(workflow: Workflow) -> None:
    """The rule lives in the database: a row written past the workflow's own check is refused."""
    first = workflow.get(opened(workflow))
    row = DraftRow(
        code="A101Z",
        open_code="A101Z",
        kind="revise",
        status=DraftStatus.EDITING.value,
        reason="绕过检查",
        departments="教务处",
        base=first.base,
        tip=first.base,
        author_id=first.author_id,
        author_name=first.author_name,
        created_at=first.created_at,
        updated_at=first.updated_at,
        require_ack=False,
    )
    with workflow.db.session() as session:
        session.add(row)
        with pytest.raises(IntegrityError):
            session.commit()
    relaxed = Workflow(workflow.library, one_open_per_document=False)  # ONE_OPEN_REVISION off: no open_code, several drafts
    second = relaxed.open(code=A101Z, kind="revise", reason="第二份", actor=actor(workflow, "jiaowu"))
    assert trace(workflow, second.id).open_code is None and len(workflow.open_for(A101Z)) == 2


def test_upgrading_with_two_open_drafts_keeps_the_newest_and_flags_the_other(
    instance: Path, workflow: Workflow, open_database: OpenDatabase
) -> None:
    """Data written before 0007 may break the new rules (the races above): the upgrade must not fail."""
    older = opened(workflow)
    newer = (
        Workflow(workflow.library, one_open_per_document=False)
        .open(code=A101Z, kind="revise", reason="并发", actor=actor(workflow, "admin"))
        .id
    )
    commit = workflow.library.repo.require_head()
    editor, other = actor(workflow, "jiaowu"), actor(workflow, "renshi")
    db = open_database(instance)
    with db.engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    with db.engine.begin() as connection:  # what a double publication wrote before 0007: one request twice
        for request_id in (1, 2):
            connection.execute(
                ReadRequest.__table__.insert().values(
                    id=request_id, code="A101Z", commit=commit, departments="教务处", draft_id=None, created_at=trace_time()
                )
            )
        connection.execute(ReadAck.__table__.insert().values(request_id=1, user_id=editor.user_id, at=trace_time()))
        connection.execute(ReadAck.__table__.insert().values(request_id=2, user_id=editor.user_id, at=trace_time()))
        connection.execute(ReadAck.__table__.insert().values(request_id=2, user_id=other.user_id, at=trace_time()))
    db.upgrade()
    assert db.is_current()
    assert trace(workflow, newer).open_code == "A101Z" and trace(workflow, older).open_code is None
    flagged = workflow.events(older)[-1]
    assert flagged.action == "attention" and f"#{newer}" in flagged.text
    with workflow.db.session() as session:
        assert session.scalars(select(ReadRequest.id)).all() == [1]
        assert sorted(session.scalars(select(ReadAck.user_id).where(ReadAck.request_id == 1))) == sorted([editor.user_id, other.user_id])
    findings = workflow.reconcile_all(repair=False)
    assert any("同时有 2 份进行中的草稿" in str(f) for f in findings)
    assert {d.status for d in workflow.open_for(A101Z)} <= set(OPEN)


def trace_time() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
