"""Backup and restore of one instance, in a format that does not depend on the database engine.

A backup is a folder that describes itself:

    manifest.json     format, creation time, program version, schema revision, head commit, every
                      ref, every table's columns (with their types) and row count, every file's sha256
    SHA256SUMS        the same checksums and the manifest's, for `sha256sum -c`
    content.bundle    a git bundle of every ref of the content repository, drafts included
    tables/<t>.jsonl  one JSON object per row: integers, text, booleans, dates, datetimes as ISO 8601
                      with their offset — readable by any engine, so restore also moves SQLite to PostgreSQL
    secret_key        the key that signs session cookies: people stay signed in across a restore
    config.toml       the instance's settings as they were

**A bundle, not a mirror clone**: one file (one checksum; it copies, uploads and rotates as one),
packed, verified by git itself (`git bundle verify`), with its refs listed inside. A mirror clone is
a folder of many files whose shape changes with packing, and a local clone hard-links the live
repository's objects, so on the same disk the "copy" shares their fate.

**Consistent while serving**: the tables are read in one read transaction (REPEATABLE READ on
PostgreSQL; an explicit BEGIN on SQLite, whose write-ahead log gives that transaction one
snapshot), and the refs are read after that snapshot was taken. Every write path moves a git ref
before the transaction that records its commit commits (workflow.py documents each order), and
refs only move forward (a discarded draft's ref moves aside to refs/drafts-discarded/ with its
commit), so every commit a row names is reachable from the refs read later; `create_backup` checks
it (reading the refs again while a ref is mid-move) and warns otherwise. The bundle is made from a
scratch repository holding exactly those refs, because `git bundle create --all` on the live
repository silently drops a ref that moves while it packs. The bundle may hold more than the rows
name — a save in flight during the backup — which is what a crash at that moment leaves behind,
and `Workflow.reconcile` adopts it the same way.

Restore refuses a target that already has a repository or tables, verifies every checksum before
it writes anything, creates the repository from the bundle, migrates the empty database to the
backup's schema revision, loads the rows with their ids (PostgreSQL's sequences are moved past
them), upgrades to this program's schema, and rebuilds the caches (SQL cache, search index) from
git. Plain Python: the CLI (`cli_backup.py`) wraps it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Boolean, Connection, Date, DateTime, Integer, MetaData, String, Table, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeEngine

from zhengai_docs.attachments.texts import AttachmentTexts
from zhengai_docs.config import load_settings, resolve_database_url, resolve_path
from zhengai_docs.db.database import Database, known_revision, schema_head
from zhengai_docs.db.doctor import diagnose
from zhengai_docs.db.models import Base, UTCDateTime
from zhengai_docs.db.sync import cached_commit, rebuild
from zhengai_docs.errors import StorageError, ZhengaiError
from zhengai_docs.search.choice import search_backend
from zhengai_docs.search.indexer import rebuild_index
from zhengai_docs.storage.repository import ContentRepository

FORMAT = "zhengai-docs-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
BUNDLE = "content.bundle"
SECRET = "secret_key"  # noqa: S105 - the file name, not a key
CONFIG = "config.toml"

# Every table is one or the other; tests/test_backup.py fails when a table is neither.
# Caches: a projection of the content repository's head that `db.sync.rebuild` recomputes from git
# (and `cache_state`, the commit they reflect). Restore rebuilds them; they are never copied.
CACHE_TABLES = frozenset(
    {
        "cache_state",
        "departments",
        "levels",
        "items",
        "item_departments",
        "documents",
        "document_departments",
        "document_points",
        "document_related",
        "revisions",
        "document_indicators",
        "indicator_results_version",  # a counter that only tells processes to recompute; starts again at 0
        "attachment_texts",  # attachments' text, extracted again from the files when the index is rebuilt
    }
)
# The record of people, in the order rows are loaded (parents first). `login_attempts` is kept
# too: it is small (pruned after LOGIN_WINDOW_MINUTES), and a restore made during a guessing attack
# must not lift a lock-out.
BACKED_UP_TABLES = (
    "users",
    "user_departments",
    "login_attempts",
    "reminder_log",
    "self_diagnosis",
    "drafts",
    "draft_events",
    "notifications",
    "read_requests",
    "read_acks",
    "indicator_results",
    "external_reviews",
    "role_mappings",
    "signon_state",
    "cas_tickets",
)
# Columns naming commits of the content repository: each must be reachable from the bundled refs.
COMMIT_COLUMNS = {"drafts": ("base", "tip", "published_commit"), "read_requests": ("commit",)}
# Settings that belong to the machine, not to the instance: the target keeps its own unless asked.
MACHINE_SETTINGS = ("DATABASE_URL",)
# Locations carried over only when relative to the instance folder (an absolute path names a
# place on the old machine, maybe the live instance's own repository).
LOCATION_SETTINGS = ("CONTENT_REPOSITORY", "SEARCH_INDEX", "STATIC_CACHE")

_BATCH = 1000
_REF_ATTEMPTS = 5
_SAFE_NAME = re.compile(r"[a-z0-9_]+(?:/[a-z0-9_]+)?(?:\.[a-z0-9]+)?|SHA256SUMS|config\.toml|secret_key")
Step = Callable[[str], None]


class BackupError(ZhengaiError):
    """A backup could not be written, or a backup cannot be restored (the message says why)."""


class CorruptBackup(BackupError):
    """A file of the backup is missing or does not match its checksum: nothing was restored."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # integer, text, boolean, date, datetime


@dataclass(frozen=True)
class TableDump:
    name: str
    file: str
    rows: int
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class FileSum:
    sha256: str
    size: int


@dataclass
class Manifest:
    """What `manifest.json` says (see the module docstring)."""

    created_at: dt.datetime
    app_version: str
    schema_revision: str
    source_engine: str
    branch: str
    head: str | None
    refs: dict[str, str]
    tables: dict[str, TableDump]
    files: dict[str, FileSum]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at.isoformat(),
            "app_version": self.app_version,
            "schema_revision": self.schema_revision,
            "source_engine": self.source_engine,
            "repository": {"file": BUNDLE if self.refs else None, "branch": self.branch, "head": self.head, "refs": self.refs},
            "tables": {
                t.name: {"file": t.file, "rows": t.rows, "columns": {c.name: c.kind for c in t.columns}} for t in self.tables.values()
            },
            "files": {name: {"sha256": s.sha256, "bytes": s.size} for name, s in sorted(self.files.items())},
            "warnings": self.warnings,
        }
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw.decode("utf-8"))
            if body.get("format") != FORMAT:
                raise BackupError(f"{MANIFEST} 不是 zhengai-docs 的备份清单")
            if body.get("format_version") != FORMAT_VERSION:
                found = body.get("format_version")
                raise BackupError(f"备份格式版本 {found} 不受本程序支持（支持 {FORMAT_VERSION}），请使用相应版本的 zhengai-docs 恢复")
            repository = body["repository"]
            return cls(
                created_at=dt.datetime.fromisoformat(body["created_at"]),
                app_version=str(body["app_version"]),
                schema_revision=str(body["schema_revision"]),
                source_engine=str(body["source_engine"]),
                branch=str(repository["branch"]),
                head=repository["head"],
                refs={str(k): str(v) for k, v in repository["refs"].items()},
                tables={
                    name: TableDump(
                        name=name,
                        file=str(t["file"]),
                        rows=int(t["rows"]),
                        columns=tuple(Column(name=str(c), kind=str(k)) for c, k in t["columns"].items()),
                    )
                    for name, t in body["tables"].items()
                },
                files={str(name): FileSum(sha256=str(s["sha256"]), size=int(s["bytes"])) for name, s in body["files"].items()},
                warnings=[str(w) for w in body.get("warnings", [])],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptBackup(f"备份清单 {MANIFEST} 无法读取（{exc}），拒绝恢复") from exc


# -- backup ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    manifest: Manifest


def create_backup(
    *, destination: Path, db: Database, repo: ContentRepository, instance: Path, secret_key: str | None, step: Step | None = None
) -> BackupSummary:
    """Write a backup of a running instance to `destination` (a new folder).

    It is written beside `destination` under a temporary name and renamed when complete, so a
    folder with the final name is always a whole backup.
    """
    destination = destination.resolve()
    if destination.exists():
        raise BackupError(f"备份目标 {destination} 已存在；请指定一个新的文件夹（例如带日期时间的名称）")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)  # password hashes and the secret key: for the operator's eyes only
    try:
        manifest = _write_backup(partial, db=db, repo=repo, instance=instance, secret_key=secret_key, step=step or _quiet)
        partial.rename(destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupSummary(path=destination, manifest=manifest)


def _write_backup(folder: Path, *, db: Database, repo: ContentRepository, instance: Path, secret_key: str | None, step: Step) -> Manifest:
    files: dict[str, FileSum] = {}
    (folder / "tables").mkdir(mode=0o700)
    step("读取数据库（一个只读事务内的快照）")
    created_at = dt.datetime.now(dt.UTC)
    revision, tables, named = _dump_tables(db, folder, files)
    step("打包内容仓库（全部引用，含草稿）")
    refs, warnings = _stable_refs(repo, named)
    if refs:
        _bundle(repo, refs, folder / BUNDLE, files)
    if secret_key:
        files[SECRET] = _write_file(folder / SECRET, secret_key.encode("utf-8") + b"\n")
    config = instance / CONFIG
    if config.is_file():
        files[CONFIG] = _write_file(folder / CONFIG, config.read_bytes())
    manifest = Manifest(
        created_at=created_at,
        app_version=_app_version(),
        schema_revision=revision,
        source_engine=db.engine.dialect.name,
        branch=repo.branch,
        head=refs.get(repo.ref),
        refs=refs,
        tables=tables,
        files=files,
        warnings=warnings,
    )
    written = _write_file(folder / MANIFEST, manifest.to_json().encode("utf-8"))
    sums = {**files, MANIFEST: written}
    _write_file(folder / CHECKSUMS, "".join(f"{s.sha256}  {name}\n" for name, s in sorted(sums.items())).encode("ascii"))
    _fsync_dir(folder / "tables")
    _fsync_dir(folder)
    return manifest


def _dump_tables(db: Database, folder: Path, files: dict[str, FileSum]) -> tuple[str, dict[str, TableDump], set[str]]:
    """Every backed-up table, read inside one snapshot; also the commits the rows name."""
    head = schema_head()
    tables: dict[str, TableDump] = {}
    named: set[str] = set()
    with db.engine.connect() as connection:
        snapshot = _read_snapshot(connection)
        revision = snapshot.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if revision != head:
            raise BackupError(f"数据库结构版本为 {revision}，本程序为 {head}：请先运行 zhengai-docs doctor 完成迁移再备份")
        for name in BACKED_UP_TABLES:
            table = Base.metadata.tables[name]
            columns = tuple(Column(name=c.name, kind=column_kind(c.type, where=f"{name}.{c.name}")) for c in table.columns)
            relative = f"tables/{name}.jsonl"
            query = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=_BATCH)
            commit_columns = COMMIT_COLUMNS.get(name, ())
            rows = 0
            with _HashingWriter(folder / relative) as out:
                for row in snapshot.execute(query):
                    values = row._mapping
                    out.write(_json_line({c.name: encode(values[c.name], c.kind) for c in columns}))
                    named.update(values[c] for c in commit_columns if values[c])
                    rows += 1
            files[relative] = out.sum
            tables[name] = TableDump(name=name, file=relative, rows=rows, columns=columns)
        snapshot.rollback()
    return str(revision), tables, named


def _read_snapshot(connection: Connection) -> Connection:
    """Begin the read transaction every table is read in: one snapshot of the whole database."""
    if connection.dialect.name == "sqlite":
        # pysqlite begins transactions only before writes; without this each SELECT would read
        # the database as it is at that moment. In WAL mode a read transaction never blocks writers.
        connection.exec_driver_sql("BEGIN")
        return connection
    if connection.dialect.name == "postgresql":
        return connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    raise BackupError(f"不支持的数据库：{connection.dialect.name}")


def _stable_refs(repo: ContentRepository, named: set[str]) -> tuple[dict[str, str], list[str]]:
    """Every ref, read after the tables, such that every commit the rows name is reachable.

    A ref list read while a draft is being discarded can miss it (its new name is read before it
    is created, its old one after it is deleted); refs only move forward, so reading again settles
    it. What stays unreachable is reported: the backup is written all the same, and says so.
    """
    refs: dict[str, str] = {}
    missing: list[str] = []
    for _attempt in range(_REF_ATTEMPTS):
        refs = _list_refs(repo.path)
        missing = sorted(named - _reachable(repo.path, refs.values()))
        if not missing:
            break
    return refs, [f"数据库记录的提交 {sha[:12]} 不在备份的仓库引用中" for sha in missing]


def _bundle(repo: ContentRepository, refs: Mapping[str, str], target: Path, files: dict[str, FileSum]) -> None:
    """Bundle exactly `refs`, from a scratch repository that holds them and borrows the objects.

    `git bundle create --all` on the live repository silently leaves out a ref that moves while it
    packs (it re-reads each ref and skips one that changed), so a draft saved during the backup
    would be missing from it.
    """
    scratch = target.with_name(".refs-snapshot.git")
    try:
        _git(scratch, "init", "--quiet", "--bare")
        (scratch / "objects" / "info" / "alternates").write_text(f"{(repo.path / 'objects').resolve()}\n", encoding="utf-8")
        _git(scratch, "symbolic-ref", "HEAD", repo.ref)
        _git(scratch, "update-ref", "--stdin", input="".join(f"create {name} {sha}\n" for name, sha in refs.items()).encode())
        _git(scratch, "bundle", "create", "--quiet", str(target), "--all")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    target.chmod(0o600)
    bundled = {}
    for line in _git(repo.path, "bundle", "list-heads", str(target)).decode().splitlines():
        sha, _, name = line.partition(" ")
        if name.startswith("refs/"):
            bundled[name] = sha
    if bundled != refs:
        raise BackupError("内容仓库打包后的引用与读取的引用不一致，请重试备份")
    files[BUNDLE] = _file_sum(target)


def _list_refs(git_dir: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    for line in _git(git_dir, "for-each-ref", "--format=%(objectname) %(refname)").decode().splitlines():
        sha, _, name = line.partition(" ")
        refs[name] = sha
    return refs


def _reachable(git_dir: Path, tips: Iterable[str]) -> set[str]:
    wanted = "\n".join(sorted(set(tips)))
    if not wanted:
        return set()
    return set(_git(git_dir, "rev-list", "--stdin", input=wanted.encode()).decode().split())


# -- restore -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreSummary:
    instance: Path
    database: str  # the URL, password hidden
    manifest: Manifest
    rows: dict[str, int]
    documents: int
    dropped_settings: tuple[str, ...]
    problems: tuple[str, ...]  # what doctor still reports (none for a healthy source)


def verify_backup(source: Path) -> Manifest:
    """Check every file against its checksum before anything is written; CorruptBackup names the file."""
    sums_file = source / CHECKSUMS
    if not sums_file.is_file():
        raise CorruptBackup(f"{source} 不是完整的备份：缺少校验文件 {CHECKSUMS}，拒绝恢复")
    listed: dict[str, str] = {}
    for number, line in enumerate(sums_file.read_text(encoding="ascii", errors="replace").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not _safe_name(name):
            raise CorruptBackup(f"备份已损坏：校验文件 {CHECKSUMS} 第 {number} 行无法识别，拒绝恢复")
        listed[name] = digest
    if MANIFEST not in listed:
        raise CorruptBackup(f"备份已损坏：校验文件 {CHECKSUMS} 中没有 {MANIFEST}，拒绝恢复")
    for name, digest in sorted(listed.items()):
        path = source / name
        if not path.is_file():
            raise CorruptBackup(f"备份不完整：缺少文件 {name}，拒绝恢复")
        actual = _file_sum(path).sha256
        if actual != digest:
            raise CorruptBackup(f"备份已损坏：文件 {name} 的校验和不符（应为 {digest[:12]}…，实为 {actual[:12]}…），拒绝恢复")
    manifest = Manifest.from_json((source / MANIFEST).read_bytes())
    for name, described in manifest.files.items():
        if listed.get(name) != described.sha256:
            raise CorruptBackup(f"备份已损坏：文件 {name} 在 {MANIFEST} 与 {CHECKSUMS} 中的校验和不一致，拒绝恢复")
    if set(listed) - {MANIFEST} != set(manifest.files):
        raise CorruptBackup(f"备份已损坏：{CHECKSUMS} 与 {MANIFEST} 列出的文件不一致，拒绝恢复")
    for dump in manifest.tables.values():
        if dump.file not in manifest.files:
            raise CorruptBackup(f"备份已损坏：表 {dump.name} 的文件 {dump.file} 不在清单中，拒绝恢复")
    if manifest.refs and BUNDLE not in manifest.files:
        raise CorruptBackup(f"备份不完整：缺少内容仓库 {BUNDLE}，拒绝恢复")
    return manifest


def restore_backup(*, source: Path, instance: Path, keep_database_url: bool = False, step: Step | None = None) -> RestoreSummary:
    """Build a working instance in `instance` (which must have no repository and no tables yet)."""
    say = step or _quiet
    say("校验备份文件")
    source = source.resolve()
    manifest = verify_backup(source)
    if not known_revision(manifest.schema_revision):
        raise BackupError(
            f"备份的数据库结构版本 {manifest.schema_revision} 不是本程序认识的版本（本程序为 {schema_head()}）："
            f"请用 zhengai-docs {manifest.app_version} 或更新的版本恢复"
        )
    instance.mkdir(parents=True, exist_ok=True)
    undo = _Undo()
    try:
        dropped = _write_config(source, instance, manifest, keep_database_url=keep_database_url, undo=undo)
        settings = load_settings(instance)
        db = Database(resolve_database_url(instance, settings["DATABASE_URL"]))
        undo.database = db
        try:
            repo = ContentRepository(resolve_path(instance, settings["CONTENT_REPOSITORY"]), branch=settings["CONTENT_BRANCH"])
            _require_empty(repo, db, instance)
            undo.armed = True
            say("恢复内容仓库（全部引用）")
            _restore_repository(source, manifest, repo, undo)
            say(f"恢复数据库到结构版本 {manifest.schema_revision} 并导入数据")
            rows = _restore_tables(source, manifest, db)
            db.upgrade()
            _write_secret(source, instance, manifest, undo)
            say("重建缓存与搜索索引")
            documents = rebuild(db, repo, expected=cached_commit(db)).documents
            undo.paths.append(resolve_path(instance, settings["SEARCH_INDEX"]))
            backend = search_backend(settings, instance_path=instance, db=db)  # SEARCH_BACKEND: Whoosh or PostgreSQL
            try:
                rebuild_index(backend, repo, attachments=AttachmentTexts(repo=repo, db=db))
            finally:
                backend.close()
            say("检查（doctor）")
            problems = _doctor(db, repo)
            undo.armed = False
            return RestoreSummary(
                instance=instance,
                database=make_url(db.url).render_as_string(hide_password=True),
                manifest=manifest,
                rows=rows,
                documents=documents,
                dropped_settings=dropped,
                problems=problems,
            )
        finally:
            db.dispose()
    except BaseException:
        undo.run()
        raise


def _require_empty(repo: ContentRepository, db: Database, instance: Path) -> None:
    if repo.path.exists() and any(repo.path.iterdir()):
        raise BackupError(f"目标实例 {instance} 已有内容仓库（{repo.path}），拒绝覆盖：请恢复到一个新的实例文件夹")
    try:
        tables = inspect(db.engine).get_table_names()
    except OperationalError as exc:
        raise BackupError(f"无法连接目标数据库 {make_url(db.url).render_as_string(hide_password=True)}：{exc.orig}") from exc
    if tables:
        url = make_url(db.url).render_as_string(hide_password=True)
        raise BackupError(f"目标数据库 {url} 不是空的（已有 {len(tables)} 张表），拒绝覆盖：请使用新建的空数据库")


def _restore_repository(source: Path, manifest: Manifest, repo: ContentRepository, undo: _Undo) -> None:
    """Fetch every ref of the bundle into a new repository (built aside, then moved into place)."""
    building = repo.path.with_name(f".{repo.path.name}.restoring-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    undo.paths.extend([building, repo.path])
    ContentRepository.create(building, branch=manifest.branch)
    if manifest.refs:
        bundle = str(source / BUNDLE)
        _git(building, "bundle", "verify", "--quiet", bundle)
        _git(building, "fetch", "--quiet", "--update-head-ok", bundle, "+refs/*:refs/*")
    if _list_refs(building) != manifest.refs:
        raise BackupError("从备份恢复的仓库引用与备份清单不一致")
    if repo.path.exists():
        repo.path.rmdir()  # an empty folder (checked): the repository takes its place
    building.rename(repo.path)


def _restore_tables(source: Path, manifest: Manifest, db: Database) -> dict[str, int]:
    """Migrate the empty database to the backup's schema and load every row with its id."""
    db.upgrade(revision=manifest.schema_revision)
    counts: dict[str, int] = {}
    with db.engine.begin() as connection:
        unknown = sorted(set(manifest.tables) - set(inspect(connection).get_table_names()))
        if unknown:
            raise BackupError(f"备份中的表 {'、'.join(unknown)} 在结构版本 {manifest.schema_revision} 中不存在")
        schema = MetaData()
        schema.reflect(bind=connection, only=list(manifest.tables))
        for table in schema.sorted_tables:  # parents before the rows that refer to them
            dump = manifest.tables[table.name]
            missing = [c.name for c in dump.columns if c.name not in table.columns]
            if missing:
                raise BackupError(f"备份中表 {table.name} 的列 {'、'.join(missing)} 在结构版本 {manifest.schema_revision} 中不存在")
            counts[table.name] = _load_table(connection, table, dump, source / dump.file)
            if counts[table.name] != dump.rows:
                raise BackupError(f"表 {table.name} 读入 {counts[table.name]} 行，备份清单记录 {dump.rows} 行")
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection, schema.sorted_tables)
    return counts


def _load_table(connection: Connection, table: Table, dump: TableDump, path: Path) -> int:
    kinds = {c.name: c.kind for c in dump.columns}
    loaded = 0
    batch: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                raw = json.loads(line)
                batch.append({name: decode(raw[name], kind) for name, kind in kinds.items()})
            except (ValueError, KeyError, TypeError) as exc:
                raise BackupError(f"{dump.file} 第 {number} 行无法读取：{exc}") from exc
            if len(batch) == _BATCH:
                connection.execute(table.insert(), batch)
                loaded += len(batch)
                batch = []
    if batch:
        connection.execute(table.insert(), batch)
        loaded += len(batch)
    return loaded


def _advance_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """Rows came with their ids: the next id PostgreSQL hands out must lie beyond them."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}).scalar()
            if sequence:
                highest = connection.execute(select(func.max(column))).scalar()
                connection.execute(text("SELECT setval(:s, :next, false)"), {"s": sequence, "next": (highest or 0) + 1})


def _write_config(source: Path, instance: Path, manifest: Manifest, *, keep_database_url: bool, undo: _Undo) -> tuple[str, ...]:
    """The source's settings, without those that belong to its machine; the target's own
    config.toml (e.g. the DATABASE_URL of the new PostgreSQL database) wins over them."""
    target = instance / CONFIG
    own_text = target.read_text(encoding="utf-8") if target.is_file() else None
    own = tomllib.loads(own_text) if own_text is not None else {}
    carried = tomllib.loads((source / CONFIG).read_text(encoding="utf-8")) if CONFIG in manifest.files else {}
    dropped = []
    for name in list(carried):
        machine = name in MACHINE_SETTINGS and not keep_database_url
        elsewhere = name in LOCATION_SETTINGS and Path(str(carried[name])).expanduser().is_absolute()
        if (machine or elsewhere) and name not in own:
            dropped.append(name)
        if machine or elsewhere:
            del carried[name]
    if not carried:
        return tuple(dropped)  # nothing to add: the target's own file (if any) stays as it is
    merged = {**carried, **own}
    origin = re.sub(r"[\x00-\x1f\x7f]", " ", source.name)
    when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    lines = [f"# zhengai-docs restore {when}, from backup {origin} ({manifest.created_at:%Y-%m-%d %H:%M} UTC)"]
    lines += [f"{name} = {_toml_value(name, value)}" for name, value in merged.items()]
    written = "\n".join(lines) + "\n"
    if tomllib.loads(written) != merged:
        raise BackupError(f"无法写出 {CONFIG}：设置值的格式不受支持")
    undo.config = (target, own_text)
    target.write_text(written, encoding="utf-8")
    return tuple(dropped)


def _write_secret(source: Path, instance: Path, manifest: Manifest, undo: _Undo) -> None:
    if SECRET not in manifest.files:
        return  # the source had none: the restored instance makes a new one (people sign in again)
    target = instance / SECRET
    undo.secret = (target, target.read_bytes() if target.is_file() else None)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write((source / SECRET).read_bytes())


def _doctor(db: Database, repo: ContentRepository) -> tuple[str, ...]:
    """What `zhengai-docs doctor` would report on the restored instance."""
    problems: list[str] = []
    try:
        repo.fsck()
    except StorageError as exc:
        problems.append(f"git 仓库完整性检查未通过：{exc}")
    diagnosis = diagnose(db, repo)
    problems += diagnosis.cache_problems + diagnosis.content_problems
    if not problems:
        repo.optimise()
    return tuple(problems)


@dataclass
class _Undo:
    """What a failed restore must take back, so the target is left as it was found."""

    armed: bool = False  # set once the target was found empty: only then are its tables ours
    database: Database | None = None
    paths: list[Path] = field(default_factory=list)
    config: tuple[Path, str | None] | None = None
    secret: tuple[Path, bytes | None] | None = None

    def run(self) -> None:
        if self.armed:
            for path in self.paths:
                shutil.rmtree(path, ignore_errors=True)
            if self.database is not None:
                _drop_all(self.database)
        if self.config is not None:
            path, text_before = self.config
            if text_before is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text_before, encoding="utf-8")
        if self.secret is not None:
            path, before = self.secret
            if before is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(before)


def _drop_all(db: Database) -> None:
    try:
        with db.engine.begin() as connection:
            schema = MetaData()
            schema.reflect(bind=connection)
            schema.drop_all(bind=connection)
    finally:
        db.dispose()  # the restore had released its connections already; this one is ours


# -- typed values ------------------------------------------------------------------------------


def column_kind(column_type: TypeEngine[Any], *, where: str) -> str:
    """The engine-neutral type a column is written as; a type not listed here cannot be backed up."""
    if isinstance(column_type, UTCDateTime):
        return "datetime"
    if isinstance(column_type, DateTime):
        raise BackupError(f"{where}: 不带时区的日期时间无法备份（请使用 UTCDateTime）")
    for sql_type, kind in ((Date, "date"), (Boolean, "boolean"), (Integer, "integer"), (String, "text")):
        if isinstance(column_type, sql_type):
            return kind
    raise BackupError(f"{where}: 列类型 {column_type!r} 不在备份格式中（backup.column_kind）")


def encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise BackupError(f"不带时区的日期时间无法备份：{value!r}")
        return value.isoformat()
    if kind == "date":
        return value.isoformat()
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return int(value)
    return str(value)


def decode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"日期时间缺少时区：{value}")
        return parsed.astimezone(dt.UTC)
    if kind == "date":
        return dt.date.fromisoformat(value)
    expected = {"boolean": bool, "integer": int, "text": str}.get(kind)
    if expected is None:
        raise ValueError(f"未知的列类型 {kind}")
    if not isinstance(value, expected) or (kind == "integer" and isinstance(value, bool)):
        raise ValueError(f"{value!r} 不是 {kind}")
    return value


def read_table(source: Path, dump: TableDump) -> Iterator[dict[str, Any]]:
    """The rows of one table of a backup, decoded (for checks and tests)."""
    kinds = {c.name: c.kind for c in dump.columns}
    with (source / dump.file).open("rb") as handle:
        for line in handle:
            raw = json.loads(line)
            yield {name: decode(raw[name], kind) for name, kind in kinds.items()}


def _json_line(row: Mapping[str, Any]) -> bytes:
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in stored text: escaped, it round-trips
        return (json.dumps(row) + "\n").encode("ascii")


def _toml_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    raise BackupError(f"{CONFIG} 中的设置 {name} 的值无法写回（{type(value).__name__}）")


# -- files and git -----------------------------------------------------------------------------


class _HashingWriter:
    """A new file written with its sha256 computed on the way, fsynced on close."""

    def __init__(self, path: Path) -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        self._handle: IO[bytes] = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self.sum = FileSum(sha256="", size=0)

    def __enter__(self) -> _HashingWriter:
        return self

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._hash.update(data)
        self._size += len(data)

    def __exit__(self, *exc: object) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self.sum = FileSum(sha256=self._hash.hexdigest(), size=self._size)


def _write_file(path: Path, data: bytes) -> FileSum:
    with _HashingWriter(path) as out:
        out.write(data)
    return out.sum


def _file_sum(path: Path) -> FileSum:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return FileSum(sha256=digest.hexdigest(), size=size)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _safe_name(name: str) -> bool:
    return ".." not in name and _SAFE_NAME.fullmatch(name) is not None


def _git(git_dir: Path, *args: str, input: bytes | None = None) -> bytes:
    """Git on one repository, without the storage layer's time limit: a bundle may take minutes."""
    env = {**os.environ, "GIT_DIR": str(git_dir), "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    env.pop("GIT_WORK_TREE", None)
    result = subprocess.run(["git", *args], input=input, capture_output=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupError(f"git {args[0]} 失败：{result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _app_version() -> str:
    try:
        return version("zhengai-docs")
    except PackageNotFoundError:
        return "unknown"


def _quiet(_message: str) -> None:
    pass
