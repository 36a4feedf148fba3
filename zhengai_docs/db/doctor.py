"""Check the SQL cache against git, the content against the catalogue and the layout, and the
people against the catalogue (users scoped to departments the catalogue no longer has).

The search index and the draft refs are checked a layer up (`health.index_drift`,
`workflow.reconcile_drafts`); the `doctor` command runs them all."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from zhengai_docs.catalogue.codes import document_code_from_path
from zhengai_docs.catalogue.framework import InvalidFramework, parse_framework
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import CacheState, DepartmentRow, DocumentRow, ItemRow, RevisionRow, User, UserDepartment
from zhengai_docs.storage.paths import FRAMEWORKS_DIR, owning_document, path_problem
from zhengai_docs.storage.repository import ContentRepository, TreeEntry

_SYMLINK, _GITLINK = "120000", "160000"


@dataclass
class Diagnosis:
    head: str | None
    cached: str | None
    cache_problems: list[str] = field(default_factory=list)
    content_problems: list[str] = field(default_factory=list)

    @property
    def cache_ok(self) -> bool:
        return not self.cache_problems


def diagnose(db: Database, repo: ContentRepository) -> Diagnosis:
    head = repo.head()
    with db.session() as session:
        state = session.get(CacheState, 1)
        cached = state.commit if state else None
        catalogue_error = state.catalogue_error if state else None
        rows = {r.path: r for r in session.scalars(select(DocumentRow)).all()}
        revision_count = session.scalar(select(func.count()).select_from(RevisionRow)) or 0
        items = set(session.scalars(select(ItemRow.code)).all())
    result = Diagnosis(head=head, cached=cached)
    if cached != head:
        result.cache_problems.append(f"缓存停留在 {_short(cached)}，仓库已到 {_short(head)}")
    files = {p: b for p, b in (repo.list_files(head).items() if head else []) if document_code_from_path(p)}
    for path, blob in files.items():
        row = rows.get(path)
        if row is None:
            result.cache_problems.append(f"缓存缺少文档 {path}")
        elif row.blob != blob:
            result.cache_problems.append(f"缓存中的 {path} 不是最新版本")
    for path in rows.keys() - files.keys():
        result.cache_problems.append(f"缓存中有仓库里已不存在的文档 {path}")
    expected_revisions = sum(1 for entry in repo.log(until=head) for c in entry.changes if document_code_from_path(c.path)) if head else 0
    if expected_revisions != revision_count:
        result.cache_problems.append(f"修订历史记录数 {revision_count} 与仓库中的 {expected_revisions} 不符")
    if head is not None:
        result.content_problems.extend(unusable_files(repo, head))
    if catalogue_error:
        result.content_problems.append(f"目录文件有误：{catalogue_error}")
    for row in rows.values():
        if row.error:
            result.content_problems.append(row.error)
        elif items and row.item_code not in items:
            result.content_problems.append(f"{row.code} 所属条目 {row.item_code} 不在目录中")
    return result


def department_problems(db: Database) -> list[str]:
    """Active users scoped to a department the catalogue (as cached) does not list: renamed or
    removed outside the admin pages (a `git push` of catalogue.yaml), or typed wrongly with
    `create-user`. Their rights follow that name, so an editor may have lost theirs. Which
    department is right is for a person to say; doctor only names them."""
    with db.session() as session:
        known = set(session.scalars(select(DepartmentRow.name)).all())
        rows = session.execute(
            select(User.username, User.display_name, UserDepartment.department)
            .join(UserDepartment, UserDepartment.user_id == User.id)
            .where(User.active.is_(True))
            .order_by(User.username, UserDepartment.department)
        ).all()
    return [
        f"用户 {username}（{name}）所属部门“{department}”不在目录的部门列表中（已更名或删除？）；"
        "其编辑权限按此部门判断，请在“管理 → 用户”中改为现有部门"
        for username, name, department in rows
        if department not in known
    ]


def unusable_files(repo: ContentRepository, revision: str) -> list[str]:
    """Every file at `revision` the product cannot use, with the reason: files outside the
    layout, names that are not UTF-8, links, submodules, and framework files that do not parse
    (documents and the catalogue are reported from the cache, which records their errors)."""
    problems = []
    frameworks: dict[str, str] = {}
    entries = repo.tree_entries(revision)
    paths = {e.path for e in entries}
    for entry in sorted(entries, key=lambda e: e.path):
        reason = _entry_problem(entry)
        owner = owning_document(entry.path)
        if reason is None and owner is not None and owner not in paths:  # an attachment left behind by a push
            reason = f"属于文档 {owner.rpartition('/')[2][:-3]}，但该文档不存在（{owner}），程序不会显示此文件；请补回文档或删除此文件"
        if reason is not None:
            problems.append(f"{entry.display_path}: {reason}")
        elif entry.path.startswith(f"{FRAMEWORKS_DIR}/"):
            frameworks[entry.path] = entry.sha
    texts = dict(repo.read_blobs(set(frameworks.values())))
    for path, blob in frameworks.items():
        try:
            parse_framework(texts[blob], path=path)
        except InvalidFramework as exc:
            problems.append(str(exc))
    return problems


def _entry_problem(entry: TreeEntry) -> str | None:
    if not entry.name_is_utf8:
        return "文件名不是 UTF-8 编码（可能是在中文 Windows 上以 GBK 命名），程序不会读取；请改名或删除"
    reason = path_problem(entry.path)
    if reason is not None:
        return reason
    if entry.mode == _GITLINK:
        return "是子模块（gitlink），不是文件，程序不会读取；请换成文件本身"
    if entry.mode == _SYMLINK:
        return "是符号链接，不是普通文件；请换成文件本身"
    return None


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "（空）"
