"""Setting up a college: the content repository, the database, demo content and demo users.

Everything here is written by the system (`Actor.system()`), through `Library` like any other
write: an explicit actor with an administrator's rights, never a way around the checks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import func, select

from zhengai_docs.catalogue.codes import document_code_from_path
from zhengai_docs.catalogue.document import parse_document
from zhengai_docs.catalogue.importer import plan_import, read_rows
from zhengai_docs.catalogue.model import Catalogue
from zhengai_docs.cycles.rules import SHANGHAI
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User
from zhengai_docs.frameworks import framework_path
from zhengai_docs.indicators.importer import apply as apply_values
from zhengai_docs.indicators.importer import plan_rows
from zhengai_docs.library import Library
from zhengai_docs.permissions import SYSTEM_AUTHOR as SYSTEM_AUTHOR  # re-exported: the commands' default author
from zhengai_docs.permissions import Actor, WritePolicy
from zhengai_docs.storage.paths import CATALOGUE_PATH
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.users import Role, create_user

PACKAGE = Path(__file__).parent
DEMO_PASSWORD = "zhengai-demo"  # noqa: S105 - printed by `init --demo`; demo accounts only
DEMO_USERS = (
    ("admin", "系统管理员", Role.ADMIN, ()),
    ("zhiliang", "质量管理办公室", Role.QUALITY, ()),
    ("jiaowu", "教务处 王老师", Role.EDITOR, ("教务处",)),
    ("renshi", "组织人事处 李老师", Role.EDITOR, ("组织人事处",)),
    ("duzhe", "普通教职工", Role.READER, ()),
)


DEMO_COLLEGE = "包头职业技术学院"  # every demo document, the catalogue and the 文号 name it
CONFIG_FILE = "config.toml"


def remember_demo_college(instance_path: Path) -> bool:
    """`init --demo`: write COLLEGE_NAME = 包头职业技术学院 into the instance's config.toml, so
    page titles, reports and the handbook name the college the demo documents belong to.

    A name already in the file is kept (False). The line goes first in the file, where a TOML key
    is a top-level setting whatever tables follow, and the file is replaced atomically."""
    config = instance_path / CONFIG_FILE
    existing = config.read_text(encoding="utf-8") if config.is_file() else ""
    if "COLLEGE_NAME" in tomllib.loads(existing):
        return False
    line = f"COLLEGE_NAME = {json.dumps(DEMO_COLLEGE, ensure_ascii=False)}  # written by `zhengai-docs init --demo`\n"
    instance_path.mkdir(parents=True, exist_ok=True)
    partial = config.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
    partial.write_text(line + existing, encoding="utf-8")
    os.replace(partial, config)
    return True


def bundled(name: str) -> Path:
    """A top-level folder shipped with the product (regulations, standards, templates).

    Wheels carry them inside the package under `_bundled/`; a source checkout has them
    beside the package.
    """
    for candidate in (PACKAGE / "_bundled" / name, PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} is missing from this installation")


def builtin_data(name: str) -> Path:
    return PACKAGE / "data" / name


BUILTIN_FRAMEWORKS = ("moe-2015", "beijing-2016")


def builtin_frameworks() -> dict[str, str]:
    """The national reference framework and the Beijing variant, as repository files."""
    return {framework_path(fid): builtin_data(f"framework-{fid}.yaml").read_text(encoding="utf-8") for fid in BUILTIN_FRAMEWORKS}


@dataclass
class InitReport:
    created_repository: bool = False
    adopted_repository: bool = False
    demo_documents: int = 0
    catalogue_items: int = 0
    users: list[str] = field(default_factory=list)
    demo_values: int = 0


def initialise(
    *,
    repo: ContentRepository,
    db: Database,
    demo: bool,
    progress: Callable[[int, int], None] | None = None,
) -> InitReport:
    """Create (or adopt) the repository, migrate the database, and load demo content once."""
    report = InitReport()
    if repo.exists():
        report.adopted_repository = True
    else:
        repo.path.parent.mkdir(parents=True, exist_ok=True)
        ContentRepository.create(repo.path, branch=repo.branch)
        report.created_repository = True
    db.upgrade()
    library = Library(repo=repo, db=db)
    system = Actor.system()
    fresh_demo = demo and repo.head() is None
    if fresh_demo:
        report.catalogue_items, report.demo_documents = load_demo_content(library, actor=system, progress=progress)
    if not library.frameworks.ids():
        library.commit_files(builtin_frameworks(), actor=system, message="导入内置诊断框架", base=repo.head())
    library.sync()
    if fresh_demo:
        report.demo_values = load_demo_values(db, policy=library.policy)
    if demo:
        report.users = create_demo_users(db)
    return report


def load_demo_content(library: Library, *, actor: Actor, progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Commit the built-in catalogue, then each bundled document dated as issued (oldest first).

    Migrated documents keep their historical dates, so the demo history reads like a real one;
    some arrive with earlier issues (`data/demo-history.yaml`), so their history has cycles.
    """
    plan = plan_import(Catalogue(title="包头职业技术学院制度体系及索引目录"), read_rows(builtin_data("catalogue-baotou.tsv")))
    bundled_documents = list(_bundled_documents())
    documents = sorted(bundled_documents + list(_earlier_versions(bundled_documents)), key=lambda d: (d[2], d[0]))
    start = documents[0][2] - dt.timedelta(days=30) if documents else dt.date.today()
    library.commit_files(
        {CATALOGUE_PATH: plan.catalogue.to_yaml(), **builtin_frameworks()},
        actor=actor,
        message=f"导入制度体系及索引目录（{plan.item_count} 个条目）和内置诊断框架",
        base=None,
        date=_morning(start),
    )
    for done, (path, text, issued) in enumerate(documents, start=1):
        title = parse_document(text, path=path).meta.title
        library.commit_files({path: text}, actor=actor, message=f"迁移：{title}", base=library.repo.head(), date=_morning(issued))
        if progress is not None:
            progress(done, len(documents))
    return plan.item_count, len(bundled_documents)


DEMO_VALUES_AS_OF = dt.date(2026, 11, 23)  # the demo's "today": its latest values are for 2025-2026


def load_demo_values(db: Database, *, policy: WritePolicy) -> int:
    """Five academic years of measured values for the demo standards' 质控指标 (some in 预警,
    a few 2025-2026 values still missing), imported as the data platform's export would be."""
    actor = Actor.system(name="状态数据平台（演示数据）")
    plan = plan_rows(db, read_rows(builtin_data("demo-indicators.csv")), policy=policy, actor=actor, today=DEMO_VALUES_AS_OF)
    if plan.problems:
        raise ValueError(f"demo indicator values do not fit the demo standards: {plan.problems[0]}")
    return apply_values(db, plan, actor=actor)


def _morning(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=SHANGHAI)


def _bundled_documents() -> Iterator[tuple[str, str, dt.date]]:
    for folder in ("regulations", "standards"):
        root = bundled(folder)
        for file in sorted(root.rglob("*.md")):
            path = f"{folder}/{file.relative_to(root).as_posix()}"
            if document_code_from_path(path) is None:
                continue
            text = file.read_text(encoding="utf-8")
            issued = parse_document(text, path=path).meta.issued or dt.date.today()
            yield path, text, issued


def _earlier_versions(documents: list[tuple[str, str, dt.date]]) -> Iterator[tuple[str, str, dt.date]]:
    history = yaml.safe_load(builtin_data("demo-history.yaml").read_text(encoding="utf-8"))
    for path, text, issued in documents:
        for earlier in history.get(path.rsplit("/", 1)[1][:-3], []):
            old = re.sub(r"^issued: .*$", f"issued: {earlier['issued'].isoformat()}", text, count=1, flags=re.M)
            old = re.sub(r"^doc_number: .*$", f"doc_number: {earlier['doc_number']}", old, count=1, flags=re.M)
            if earlier["issued"] >= issued or old == text:
                raise ValueError(f"demo history of {path} must predate its issue date {issued}")
            yield path, old, earlier["issued"]


def create_demo_users(db: Database) -> list[str]:
    """Demo accounts, one per role, all with DEMO_PASSWORD; existing names are left alone."""
    created = []
    for username, name, role, departments in DEMO_USERS:
        with db.session() as session:
            if session.scalar(select(func.count()).select_from(User).where(User.username == username)):
                continue
        email = f"{username}@example.edu.cn"  # so that `zhengai-docs remind` has someone to write to
        create_user(db, username=username, password=DEMO_PASSWORD, role=role, display_name=name, email=email, departments=departments)
        created.append(username)
    return created
