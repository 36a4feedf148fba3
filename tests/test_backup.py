"""Backup and restore (`zhengai-docs backup` / `restore`): a backup taken while saves go on is
restored on SQLite and PostgreSQL with every table equal row by row, every ref, the secret and
the reminder log; a damaged backup and a used target are refused and nothing is written."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event, func, inspect, select

from tests.actors import account
from tests.conftest import OpenApp, OpenDatabase, login, make_app
from tests.databases import DATABASES, instance_database_url, prepare_instance
from tests.test_cycles_remind import Mailbox, mailbox  # noqa: F401 - the real SMTP server fixture
from zhengai_docs import acknowledgements, inbox
from zhengai_docs.backup import BACKED_UP_TABLES, CACHE_TABLES, column_kind, create_backup, read_table, verify_backup
from zhengai_docs.bootstrap import initialise
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cli import cli
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import Base, DraftEvent, DraftRow, Notification, ReminderLog
from zhengai_docs.indicators.review import record_finding
from zhengai_docs.permissions import Actor
from zhengai_docs.publishing import selfdiag
from zhengai_docs.services import Services, load_services
from zhengai_docs.signon.cas import bind_ticket, claim_ticket
from zhengai_docs.signon.mapping import RuleKind, add_rule
from zhengai_docs.signon.switch import set_local_passwords
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.users import LoginLimits, Role, create_user, sign_in
from zhengai_docs.workflow import Approval, Workflow

TODAY = "2026-11-23"
APPROVAL = Approval(
    approving_body="院长办公会", meeting_date=dt.date(2026, 11, 20), doc_number="包职院发〔2026〕12号", issue_date=dt.date(2026, 11, 25)
)
LIMITS = LoginLimits(max_failures=5, window=dt.timedelta(minutes=15), address_free_failures=10, address_max_delay=60)
BULK_NOTIFICATIONS = 2500
LOAD_DOCUMENTS = ("B202Z", "C204B", "E303Z")  # saved straight to main by the load threads (no drafts on them)

postgresql_only = pytest.mark.skipif(not DATABASES.postgresql, reason="needs ZHENGAI_TEST_DATABASE_URL (PostgreSQL)")


# -- helpers -----------------------------------------------------------------------------------


def run(instance: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--instance", str(instance), *args], catch_exceptions=False)


def add_settings(instance: Path, **settings: object) -> None:
    config = instance / "config.toml"
    kept = config.read_text(encoding="utf-8") if config.exists() else ""
    lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in settings.items()]
    config.write_text(kept + "\n".join(lines) + "\n", encoding="utf-8")


def smtp(port: int) -> dict[str, object]:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_TLS": "none", "SMTP_FROM": "诊改办 <zhengai@example.edu.cn>"}


def actor(db: Database, username: str) -> Actor:
    return account(db, username)


def save_draft(workflow: Workflow, draft_id: int, editor: Actor, sentence: str) -> None:
    draft = workflow.get(draft_id)
    document = workflow.document(draft)
    changed = document.with_changes(body=document.body + f"\n{sentence}\n")
    workflow.save(draft_id, changed, actor=editor, message="补充条款", expected=draft.tip)


def populate(svc: Services) -> None:
    """Something in every backed-up table: people, a full review round, a discarded and an open
    draft, notifications (some read), a read confirmation, 自我诊改 texts, a failed sign-in."""
    db, workflow = svc.db, svc.workflow
    create_user(
        db,
        username="wangxl",
        password="另一个密码-2026",
        role=Role.EDITOR,
        display_name="组织人事处 王小丽",
        email="wangxl@example.edu.cn",
        departments=("组织人事处",),
    )
    editor, quality = actor(db, "jiaowu"), actor(db, "zhiliang")
    draft = workflow.open(code=document_code("A101Z"), kind="revise", reason="落实新版专业目录", actor=editor)
    save_draft(workflow, draft.id, editor, "第九条 新增条款。")
    workflow.submit(draft.id, actor=editor)
    workflow.comment(draft.id, actor=quality, text="请补充论证程序")
    workflow.request_changes(draft.id, actor=quality, text="第九条表述不清")
    save_draft(workflow, draft.id, editor, "第十条 专业设置须经专业建设委员会论证。")
    workflow.submit(draft.id, actor=editor, note="已按意见修改")
    workflow.approve(draft.id, actor=quality, approval=APPROVAL, require_ack=True)
    workflow.publish(draft.id, actor=quality)
    assert acknowledgements.confirm(db, user_id=editor.user_id, departments=editor.departments, code="A101Z")
    discarded = workflow.open(code=document_code("A104Z"), kind="revise", reason="试写，后放弃", actor=editor)
    workflow.discard(discarded.id, actor=editor, note="不再需要")
    still_open = workflow.open(code=document_code("A105Z"), kind="repeal", reason="已被新制度取代", actor=editor)
    workflow.submit(still_open.id, actor=editor)
    inbox.mark_read(db, editor.user_id)
    values = {"opinion": "诊改工作机制基本健全。", "measures": "完善二级诊改。", "effects": "年度目标达成率提高。"}
    selfdiag.save_entry(db, framework="moe-2015", year=2026, element_id="1.1", values=values, author="质量管理办公室")
    record_finding(
        db,
        policy=svc.library.policy,
        actor=quality,
        framework="moe-2015",
        year=2026,
        element_id="1.1",
        agrees=True,
        note="与自评一致",
        expected=0,
    )  # fmt: skip  (indicator_results: the demo's values)
    assert sign_in(db, username="renshi", password="猜错的密码", address="203.0.113.9", limits=LIMITS) is None
    admin = actor(db, "admin")
    add_rule(
        db, actor=admin, kind=RuleKind.GROUP, value="教务处编辑组", role=Role.EDITOR, department="教务处", known_departments=["教务处"]
    )
    set_local_passwords(db, actor=admin, enabled=True)  # the switch's row, as after an administrator's change
    claim_ticket(db, ticket="ST-1-backupticketbackupticket01")
    bind_ticket(db, ticket="ST-1-backupticketbackupticket01", user_id=editor.user_id)
    start = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)
    with db.transaction() as session:  # a term's worth of inbox: more rows than one load batch
        session.add_all(
            Notification(
                user_id=1 + i % 5, message=f"第 {i} 条通知", url="/drafts", created_at=start + dt.timedelta(minutes=i), read=i % 3 == 0
            )
            for i in range(BULK_NOTIFICATIONS)
        )


def table_rows(url: str, tables: tuple[str, ...] = BACKED_UP_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as Python values, in a stable order (collations differ by engine)."""
    db = Database(url)
    try:
        with db.session() as session:
            return {name: sorted((tuple(row) for row in session.execute(select(Base.metadata.tables[name]))), key=repr) for name in tables}
    finally:
        db.dispose()


def compare_tables(source: dict[str, list[tuple[Any, ...]]], restored: dict[str, list[tuple[Any, ...]]]) -> int:
    """Table by table, row by row; returns the number of rows compared."""
    assert set(source) == set(restored) == set(BACKED_UP_TABLES)
    for name in BACKED_UP_TABLES:
        assert source[name], f"{name} is empty: the comparison would prove nothing"
        assert len(restored[name]) == len(source[name]), name
        for ours, theirs in zip(source[name], restored[name], strict=True):
            assert ours == theirs, f"{name}: {ours} != {theirs}"
    return sum(len(rows) for rows in source.values())


def refs(repo: Path) -> dict[str, str]:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "for-each-ref", "--format=%(refname) %(objectname)"], capture_output=True, check=True, text=True
    )
    return dict(line.split(" ") for line in out.stdout.splitlines())


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    command = ["git", "--git-dir", str(repo), "merge-base", "--is-ancestor", ancestor, descendant]
    return subprocess.run(command, check=False).returncode == 0


def continue_working(instance: Path) -> None:
    """New rows after a restore get new ids (PostgreSQL's sequences were moved past the old ones)."""
    svc = load_services(instance)
    try:
        with svc.db.session() as session:
            highest = {model: session.scalar(select(func.max(model.id))) or 0 for model in (DraftRow, DraftEvent, Notification)}
        editor = actor(svc.db, "jiaowu")
        draft = svc.workflow.open(code=document_code("A106Z"), kind="revise", reason="恢复后继续工作", actor=editor)
        svc.workflow.submit(draft.id, actor=editor)
        with svc.db.session() as session:
            assert draft.id > highest[DraftRow]
            assert session.scalar(select(func.min(DraftEvent.id)).where(DraftEvent.draft_id == draft.id)) > highest[DraftEvent]
            assert session.scalar(select(func.max(Notification.id))) > highest[Notification]
    finally:
        svc.close()


def fresh_target(tmp_path: Path, engine: str, name: str) -> Path:
    """An empty instance folder whose database is new and empty, on the engine asked for."""
    target = tmp_path / name
    if engine == "postgresql":
        return prepare_instance(target)  # config.toml names a new PostgreSQL database
    target.mkdir()
    return target  # the default: SQLite inside the instance folder


@pytest.fixture
def source(instance: Path, mailbox: tuple[Mailbox, int]) -> Iterator[Services]:  # noqa: F811
    """The demo instance with mail configured, every backed-up table filled and reminders sent."""
    add_settings(instance, COLLEGE_NAME="包头职业技术学院", **smtp(mailbox[1]))
    svc = load_services(instance)
    populate(svc)
    reminded = run(instance, "remind", "--today", TODAY)
    assert reminded.exit_code == 0 and "已发送提醒邮件" in reminded.output, reminded.output
    yield svc
    svc.close()


class SaveLoad:
    """Threads saving different documents through the Library until stopped."""

    def __init__(self, svc: Services, codes: tuple[str, ...]) -> None:
        self.svc = svc
        self.admin = actor(svc.db, "admin")
        self.saves = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._save, args=(code,)) for code in codes]

    def __enter__(self) -> SaveLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def wait_for(self, saves: int) -> None:
        while self.count() < saves and not self.errors:
            self._stop.wait(0.01)

    def count(self) -> int:
        with self._lock:
            return self.saves

    def _save(self, code: str) -> None:
        library = self.svc.library
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                loaded = library.load(document_code(code))
                document = loaded.document.with_changes(body=loaded.document.body + f"\n第{n}次勘误。\n")
                library.save(document, actor=self.admin, message=f"勘误 {n}", base=loaded.version.commit)
                with self._lock:
                    self.saves += 1
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


# -- the tables ---------------------------------------------------------------------------------


def test_every_table_is_declared_cache_or_backed_up(db: Database) -> None:
    """A new table (or one a migration adds) must be classified before it can lose data."""
    declared = CACHE_TABLES | set(BACKED_UP_TABLES)
    assert not CACHE_TABLES & set(BACKED_UP_TABLES)
    assert set(Base.metadata.tables) == declared, "declare each table in backup.CACHE_TABLES or backup.BACKED_UP_TABLES"
    assert set(inspect(db.engine).get_table_names()) - {"alembic_version"} == declared
    for name in BACKED_UP_TABLES:
        for column in Base.metadata.tables[name].columns:
            column_kind(column.type, where=f"{name}.{column.name}")  # raises for a type the format lacks


# -- the acceptance test ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=postgresql_only)])
def test_backup_during_saves_restores_every_table_row_by_row(
    source: Services,
    mailbox: tuple[Mailbox, int],  # noqa: F811
    tmp_path: Path,
    engine: str,
    open_app: OpenApp,
) -> None:
    instance = source.instance_path
    box, _port = mailbox
    mails_before = len(box.messages)
    assert mails_before > 0
    with open_app(instance).test_client() as browser:  # a session cookie signed with the old secret
        login(browser, "jiaowu")
        cookie = browser.get_cookie("session")
        assert cookie is not None
    head_before = source.library.repo.require_head()

    with SaveLoad(source, LOAD_DOCUMENTS) as load:
        load.wait_for(3)
        during = load.count()
        made = run(instance, "backup", str(tmp_path / "backup"))
        assert made.exit_code == 0, made.output
        assert load.count() > during, "no save ran while the backup was taken"
    assert not load.errors, load.errors

    target = fresh_target(tmp_path, engine, "restored")
    restored = run(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "检查通过" in restored.output

    # every backed-up table, row by row
    rows = compare_tables(table_rows(instance_database_url(instance)), table_rows(instance_database_url(target)))
    assert rows > BULK_NOTIFICATIONS
    # every ref: the drafts' exactly, the branch somewhere between the load's start and its end
    ours, theirs = refs(instance / "content.git"), refs(target / "content.git")
    assert set(ours) == set(theirs)
    assert any(name.startswith("refs/drafts/") for name in ours) and any(n.startswith("refs/drafts-discarded/") for n in ours)
    assert {k: v for k, v in ours.items() if k != "refs/heads/main"} == {k: v for k, v in theirs.items() if k != "refs/heads/main"}
    restored_main = theirs["refs/heads/main"]
    assert is_ancestor(instance / "content.git", head_before, restored_main) and restored_main != head_before
    assert is_ancestor(instance / "content.git", restored_main, ours["refs/heads/main"])
    assert "DATABASE_URL" not in (target / "config.toml").read_text(encoding="utf-8") or engine == "postgresql"

    doctor = run(target, "doctor")
    assert doctor.exit_code == 0, doctor.output
    again = run(target, "remind", "--today", TODAY)  # same mail server: the restored config kept SMTP_*
    assert again.exit_code == 0 and "没有需要发送的新提醒" in again.output, again.output
    assert len(box.messages) == mails_before
    continue_working(target)

    app = make_app(target)
    try:
        with app.test_client() as old_session:
            old_session.set_cookie("session", cookie.value)
            page = old_session.get("/drafts")
            assert page.status_code == 200 and "教务处 王老师" in page.get_data(as_text=True)
        with app.test_client() as browser:
            login(browser, "wangxl", "另一个密码-2026")
            document = browser.get("/documents/A101Z")
            assert document.status_code == 200 and "专业建设委员会论证" in document.get_data(as_text=True)
            found = browser.get("/api/search", query_string={"q": "专业建设委员会论证"}).get_json()
            assert [hit["code"] for hit in found["hits"]] == ["A101Z"]
    finally:
        app.extensions["zhengai"].close()


@postgresql_only
def test_sqlite_to_postgresql_and_back(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> None:  # noqa: F811
    """The documented way from SQLite to PostgreSQL, and back: the same rows all along."""
    sqlite_source = tmp_path / "sqlite-source"
    sqlite_source.mkdir()
    database = Database(f"sqlite:///{sqlite_source / 'zhengai.db'}")
    try:
        initialise(repo=ContentRepository(sqlite_source / "content.git"), db=database, demo=True)
    finally:
        database.dispose()
    add_settings(sqlite_source, **smtp(mailbox[1]))
    svc = load_services(sqlite_source)
    try:
        populate(svc)
    finally:
        svc.close()
    assert run(sqlite_source, "remind", "--today", TODAY).exit_code == 0

    assert run(sqlite_source, "backup", str(tmp_path / "from-sqlite")).exit_code == 0
    on_postgresql = fresh_target(tmp_path, "postgresql", "on-postgresql")
    assert run(on_postgresql, "restore", str(tmp_path / "from-sqlite")).exit_code == 0
    assert instance_database_url(on_postgresql).startswith("postgresql")
    assert run(on_postgresql, "backup", str(tmp_path / "from-postgresql")).exit_code == 0
    back_on_sqlite = fresh_target(tmp_path, "sqlite", "back-on-sqlite")
    assert run(back_on_sqlite, "restore", str(tmp_path / "from-postgresql")).exit_code == 0

    original = table_rows(f"sqlite:///{sqlite_source / 'zhengai.db'}")
    compare_tables(original, table_rows(instance_database_url(on_postgresql)))
    compare_tables(original, table_rows(f"sqlite:///{back_on_sqlite / 'zhengai.db'}"))
    first, second = verify_backup(tmp_path / "from-sqlite"), verify_backup(tmp_path / "from-postgresql")
    for name in BACKED_UP_TABLES:  # the files say the same whichever engine wrote them
        written_by_sqlite = sorted((tuple(r.values()) for r in read_table(tmp_path / "from-sqlite", first.tables[name])), key=repr)
        written_by_postgresql = sorted((tuple(r.values()) for r in read_table(tmp_path / "from-postgresql", second.tables[name])), key=repr)
        assert written_by_sqlite == written_by_postgresql, name
    assert refs(sqlite_source / "content.git") == refs(on_postgresql / "content.git") == refs(back_on_sqlite / "content.git")
    assert run(back_on_sqlite, "doctor").exit_code == 0


# -- consistency while serving ------------------------------------------------------------------


def test_draft_rows_never_name_a_commit_the_bundle_lacks(instance: Path, tmp_path: Path) -> None:
    """A draft saved over and over while backups are taken: each backup's rows name only commits
    its bundle holds (the bundle is made after the tables are read; refs only move forward)."""
    svc = load_services(instance)
    editor = actor(svc.db, "jiaowu")
    draft = svc.workflow.open(code=document_code("A101Z"), kind="revise", reason="反复保存", actor=editor)
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_saving() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                save_draft(svc.workflow, draft.id, editor, f"第{n}次保存。")
        except BaseException as exc:
            errors.append(exc)

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        for round_ in range(12):  # `git bundle --all` on the live repository dropped the moving ref in 1 of 5-25 rounds
            folder = tmp_path / f"backup-{round_}"
            summary = create_backup(destination=folder, db=svc.db, repo=svc.library.repo, instance=instance, secret_key="k")
            assert summary.manifest.warnings == []
            clone = tmp_path / f"clone-{round_}.git"
            subprocess.run(["git", "init", "-q", "--bare", str(clone)], check=True)
            subprocess.run(["git", "--git-dir", str(clone), "fetch", "-q", str(folder / "content.bundle"), "+refs/*:refs/*"], check=True)
            bundled = refs(clone)
            [row] = list(read_table(folder, summary.manifest.tables["drafts"]))
            assert is_ancestor(clone, row["tip"], bundled[f"refs/drafts/A101Z/{draft.id}"]), f"round {round_}"
    finally:
        stop.set()
        saver.join()
        svc.close()
    assert not errors, errors


def test_tables_are_read_in_one_snapshot(instance: Path, tmp_path: Path, open_database: OpenDatabase) -> None:
    """Rows written while the backup reads (after `users`, before `notifications`) are not in it."""
    svc = load_services(instance)
    writer = open_database(instance)
    admin = actor(svc.db, "admin")
    written = threading.Event()

    def write_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM users" in statement and not written.is_set():
            written.set()
            now = dt.datetime.now(dt.UTC)
            with writer.transaction() as session:
                session.add(Notification(user_id=admin.user_id, message="备份期间写入的通知", url="/", created_at=now, read=False))
            with writer.transaction() as session:
                session.add(ReminderLog(code="A101Z", stage="overdue", due=dt.date(2026, 1, 1), recipient="x@example.edu.cn", sent_at=now))

    event.listen(svc.db.engine, "after_cursor_execute", write_meanwhile)
    try:
        summary = create_backup(destination=tmp_path / "backup", db=svc.db, repo=svc.library.repo, instance=instance, secret_key="k")
    finally:
        event.remove(svc.db.engine, "after_cursor_execute", write_meanwhile)
        svc.close()
    assert written.is_set()
    with writer.session() as session:
        assert session.scalar(select(Notification.id).where(Notification.message == "备份期间写入的通知")) is not None
        assert session.query(ReminderLog).count() == 1
    assert summary.manifest.tables["notifications"].rows == 0
    assert summary.manifest.tables["reminder_log"].rows == 0


# -- refusals -----------------------------------------------------------------------------------


def rewrite_checksums(folder: Path) -> None:
    """Make a tampered backup self-consistent again, as a careless tool might."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest["files"]:
        data = (folder / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    sums = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in [*manifest["files"], "manifest.json"]}
    (folder / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())), encoding="ascii")


def assert_untouched(target: Path, config_before: str) -> None:
    assert not (target / "content.git").exists()
    assert not (target / "secret_key").exists()
    assert (target / "config.toml").read_text(encoding="utf-8") == config_before
    db = Database(instance_database_url(target))
    try:
        assert inspect(db.engine).get_table_names() == []
    finally:
        db.dispose()


@pytest.fixture
def backup(instance: Path, tmp_path: Path) -> Path:
    if not DATABASES.postgresql:  # name the database explicitly, as a production config would
        add_settings(instance, DATABASE_URL=instance_database_url(instance))
    add_settings(instance, COLLEGE_NAME="包头职业技术学院", REMEMBER_DAYS=7)
    svc = load_services(instance)
    populate(svc)
    svc.close()
    made = run(instance, "backup", str(tmp_path / "backup"))
    assert made.exit_code == 0, made.output
    return tmp_path / "backup"


@pytest.mark.parametrize("damaged", ["content.bundle", "tables/drafts.jsonl", "secret_key", "manifest.json", "config.toml"])
def test_a_corrupted_file_is_refused_by_name(backup: Path, tmp_path: Path, damaged: str) -> None:
    path = backup / damaged
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    target = prepare_instance(tmp_path / "target")
    add_settings(target, COLLEGE_NAME="新机器")
    config_before = (target / "config.toml").read_text(encoding="utf-8")
    result = run(target, "restore", str(backup))
    assert result.exit_code == 1
    assert f"备份已损坏：文件 {damaged} 的校验和不符" in result.output, result.output
    assert_untouched(target, config_before)


def test_a_missing_file_is_refused_by_name(backup: Path, tmp_path: Path) -> None:
    (backup / "tables" / "read_acks.jsonl").unlink()
    target = fresh_target(tmp_path, "sqlite", "target")
    result = run(target, "restore", str(backup))
    assert result.exit_code == 1 and "缺少文件 tables/read_acks.jsonl" in result.output, result.output


def test_a_failed_restore_leaves_the_target_as_it_was(backup: Path, tmp_path: Path) -> None:
    """A row that cannot be loaded (checksums made to match) fails the restore half-way: the
    repository, the tables, the secret and the config written so far are taken back."""
    drafts = backup / "tables" / "drafts.jsonl"
    lines = drafts.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"kind": ', '"kind": 7, "was": ')
    drafts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rewrite_checksums(backup)
    target = prepare_instance(tmp_path / "target")
    add_settings(target, COLLEGE_NAME="新机器")
    config_before = (target / "config.toml").read_text(encoding="utf-8")
    result = run(target, "restore", str(backup))
    assert result.exit_code == 1 and "tables/drafts.jsonl 第 3 行无法读取" in result.output, result.output
    assert_untouched(target, config_before)


def test_a_used_instance_is_not_overwritten(backup: Path, instance: Path) -> None:
    before = table_rows(instance_database_url(instance))
    result = run(instance, "restore", str(backup))
    assert result.exit_code == 1 and "拒绝覆盖" in result.output, result.output
    assert table_rows(instance_database_url(instance)) == before


def test_a_used_database_is_not_overwritten(backup: Path, instance: Path, tmp_path: Path) -> None:
    """A new instance folder pointed at the database of a running instance is refused too."""
    target = tmp_path / "target"
    target.mkdir()
    add_settings(target, DATABASE_URL=instance_database_url(instance))
    result = run(target, "restore", str(backup))
    assert result.exit_code == 1 and "不是空的" in result.output, result.output
    assert not (target / "content.git").exists()


def test_a_backup_from_a_newer_schema_is_refused(backup: Path, tmp_path: Path) -> None:
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    manifest["schema_revision"] = "9999"
    (backup / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    rewrite_checksums(backup)
    result = run(fresh_target(tmp_path, "sqlite", "target"), "restore", str(backup))
    assert result.exit_code == 1 and "结构版本 9999 不是本程序认识的版本" in result.output, result.output


def test_the_source_database_url_is_used_only_when_asked(backup: Path, tmp_path: Path, open_database: OpenDatabase) -> None:
    """The backup's config names the source's database: taken over, it is refused as not empty
    (it is the live one); left behind, the restore goes to the target's own database."""
    assert "DATABASE_URL" in (backup / "config.toml").read_text(encoding="utf-8")
    target = fresh_target(tmp_path, "sqlite", "target")
    kept = run(target, "restore", str(backup), "--keep-database-url")
    assert kept.exit_code == 1 and "不是空的" in kept.output, kept.output
    assert not (target / "config.toml").exists()
    restored = run(target, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert "未沿用备份中的设置 DATABASE_URL" in restored.output
    config = (target / "config.toml").read_text(encoding="utf-8")
    assert "DATABASE_URL" not in config and 'COLLEGE_NAME = "包头职业技术学院"' in config and "REMEMBER_DAYS = 7" in config
    assert (target / "zhengai.db").is_file()
    with open_database(target).session() as session:
        assert session.query(DraftRow).count() == 3
