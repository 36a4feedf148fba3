"""Drafts of revisions on their own refs: `refs/drafts/<code>/<id>`, never on the branch in force.

A draft's first commit has the branch commit it was opened from (its base) as parent and that
commit's tree with one document changed; each save adds a commit on the draft ref, moved with
the same compare-and-swap as the branch. Readers, search and the SQL cache follow the branch
only, so nothing on a draft ref is visible until publication copies it to the branch.

Refs are moved aside, never deleted, so no draft text is ever lost:
- a discarded draft's ref moves to `refs/drafts-discarded/<code>/<id>`;
- a ref that belongs to no draft row (left by a crash while opening, or from before a restore
  into a new database) moves to `refs/drafts-orphaned/<code>/<id>-<commit>` — also when a new
  draft is given its id, so ids never collide with refs that already exist.

The database (workflow.py) records which commit each draft is at; `commits_between` and
`is_ancestor` let it reconcile a ref that moved on without it (a crash between the two writes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.errors import Conflict, InvalidCode, NotFound, StorageError
from zhengai_docs.storage.objects import ObjectWriter, parent_dirs
from zhengai_docs.storage.paths import content_path, owning_document
from zhengai_docs.storage.repository import ZERO, Author, ContentRepository, _clean_message, _entry_sha

_CODE, _ID = r"[A-Z][0-9]{3}[ZLB]", r"[1-9][0-9]{0,9}"
_REF = re.compile(rf"refs/(?:(?:drafts|drafts-discarded)/{_CODE}/{_ID}|drafts-orphaned/{_CODE}/{_ID}-[0-9a-f]{{40}})")
_LIVE = re.compile(rf"refs/drafts/({_CODE})/({_ID})")
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class DraftRef:
    code: DocumentCode
    draft_id: int
    discarded: bool = False

    @property
    def name(self) -> str:
        return f"refs/{'drafts-discarded' if self.discarded else 'drafts'}/{self.code}/{self.draft_id}"

    @property
    def aside(self) -> DraftRef:
        return DraftRef(code=self.code, draft_id=self.draft_id, discarded=True)


def draft_ref(code: str | DocumentCode, draft_id: int) -> DraftRef:
    """The allow-listed ref of one draft (InvalidCode for anything else)."""
    if not isinstance(draft_id, int) or isinstance(draft_id, bool) or not 0 < draft_id < 10**10:
        raise InvalidCode(f"无效的草稿编号：{draft_id!r}")
    return DraftRef(code=code if isinstance(code, DocumentCode) else document_code(code), draft_id=draft_id)


def orphan_name(code: DocumentCode | str, draft_id: int, commit: str) -> str:
    """Where a ref that belongs to no draft is kept: the commit in the name makes it unique."""
    return f"refs/drafts-orphaned/{code}/{draft_id}-{commit}"


@dataclass(frozen=True)
class DraftVersion:
    ref: DraftRef
    commit: str
    text: str | None  # None: the draft has no text for the document (not yet saved, new document)


@dataclass(frozen=True)
class PreparedSave:
    """A draft commit written to the object store but not yet on the ref (`move` puts it there)."""

    commit: str
    blob: str | None


@dataclass(frozen=True)
class DraftCommit:
    commit: str
    author_name: str
    author_email: str
    committed_at: dt.datetime
    subject: str


@dataclass(frozen=True)
class LiveRef:
    """A ref under refs/drafts/, as `list_live` finds it."""

    ref: DraftRef
    tip: str
    committed_at: dt.datetime


class DraftStore:
    """Create, save, read and move aside draft refs in one content repository (SQL lists them)."""

    def __init__(self, repo: ContentRepository) -> None:
        self.repo = repo

    # -- reading ---------------------------------------------------------------------------

    def tip(self, ref: DraftRef, *, expected: str | None = None) -> str | None:
        """`expected`: the tip the database records; with a central repository (CONTENT_REMOTE)
        a mirror ref elsewhere is fetched first, since another node may have moved it."""
        tip = self._tip(ref.name)
        if expected is not None and tip != expected and self.repo.remote is not None:
            self.repo.remote.fetch()
            tip = self._tip(ref.name)
        return tip

    def read(self, ref: DraftRef) -> DraftVersion:
        """The draft's latest text; a discarded draft is read from where it was put aside."""
        tip = self.tip(ref) or self.tip(ref.aside)
        if tip is None:
            raise NotFound(f"草稿 {ref.code}/{ref.draft_id} 不存在")
        return DraftVersion(ref=ref, commit=tip, text=self.text_at(ref, tip))

    def text_at(self, ref: DraftRef, commit: str) -> str | None:
        """The document's text at one commit (a resolved id) of the draft; None when absent."""
        try:
            return self.repo._read_at(ref.code.path, commit).text
        except NotFound:
            return None

    def exists(self, commit: str) -> bool:
        """Is `commit` a commit of this repository (after a restore, a recorded one may not be)?"""
        if _SHA.fullmatch(commit) is None:
            return False
        return self.repo._run(["cat-file", "-e", f"{commit}^{{commit}}"], check=False).returncode == 0

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.repo.is_ancestor(ancestor, descendant)

    def commits_between(self, old: str, new: str) -> list[DraftCommit]:
        """The draft's commits after `old` up to `new`, oldest first (first parents only)."""
        if _SHA.fullmatch(old) is None or _SHA.fullmatch(new) is None:
            raise InvalidCode(f"无效的提交：{old!r}..{new!r}")
        nonce = "\x1f"
        out = self.repo._git("log", "--first-parent", "--reverse", f"--format=%H{nonce}%an{nonce}%ae{nonce}%ct{nonce}%s", f"{old}..{new}")
        commits = []
        for line in out.decode("utf-8", "replace").splitlines():
            sha, name, email, stamp, subject = line.split(nonce, 4)
            when = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
            commits.append(DraftCommit(commit=sha, author_name=name, author_email=email, committed_at=when, subject=subject))
        return commits

    def messages_naming(self, needle: str, *, since: str, path: str) -> list[tuple[str, str]]:
        """(commit, message) of the branch's first-parent commits after `since` that changed `path`
        and whose message contains `needle` (a fixed string, e.g. a `Draft:` trailer), oldest
        first; git does the filtering, so this stays cheap however far the branch has moved."""
        if _SHA.fullmatch(since) is None:
            raise InvalidCode(f"无效的提交：{since!r}")
        head = self.repo.require_head()
        args = ["log", "--first-parent", "--reverse", "-F", f"--grep={needle}", "--format=%H%x1e%B%x1d", f"{since}..{head}"]
        out = self.repo._git(*args, "--", content_path(path)).decode("utf-8", "replace")
        found = []
        for record in out.split("\x1d"):
            sha, _, message = record.strip().partition("\x1e")
            if _SHA.fullmatch(sha):
                found.append((sha, message))
        return found

    def list_live(self) -> list[LiveRef]:
        """Every ref under refs/drafts/ (the open, and published, drafts' refs)."""
        out = self.repo._git("for-each-ref", "--format=%(refname) %(objectname) %(committerdate:unix)", "refs/drafts/")
        found = []
        for line in out.decode("ascii", "replace").splitlines():
            name, tip, stamp = line.split(" ")
            match = _LIVE.fullmatch(name)
            if match is None:
                continue  # not a name this product writes; never touched
            ref = draft_ref(match[1], int(match[2]))
            found.append(LiveRef(ref=ref, tip=tip, committed_at=dt.datetime.fromtimestamp(int(stamp or 0), dt.UTC)))
        return found

    # -- writing ---------------------------------------------------------------------------

    def create(self, ref: DraftRef, *, base: str, text: str | None, author: Author, message: str) -> str:
        """Open a draft at branch commit `base` (its text: `text`, or the document at base).

        The ref is created with a compare-and-swap against "absent": a ref already there belongs
        to no draft (the caller holds this id in its uncommitted row), so it is moved aside as
        an orphan first and nothing it holds is lost.
        """
        base = self.repo.resolve(base)
        if text is None:
            text = self.text_at(ref, base)
        commit = self._commit(parent=base, tree_at=base, path=ref.code.path, text=text, author=author, message=message).commit
        for _attempt in range(3):
            if self._update_ref(ref.name, commit, None):
                return commit
            existing = self.tip(ref)
            if existing is not None:
                self.set_aside(ref, existing)
        raise Conflict(path=ref.name, base=None, head=self.tip(ref) or ZERO)

    def prepare(
        self,
        ref: DraftRef,
        text: str,
        *,
        author: Author,
        message: str,
        expected: str,
        rebase_to: str | None = None,
        files: Mapping[str, bytes | None] | None = None,
    ) -> PreparedSave:
        """Write the objects of a save on top of `expected` (nothing moves: see `move`).

        `rebase_to`: a newer branch commit whose tree the draft now builds on (bring up to date).
        `files`: the document's own files (attachments, pictures) changed in the same commit.
        """
        expected = self.repo.resolve(expected)
        tree_at = expected if rebase_to is None else self.repo.resolve(rebase_to)
        path = ref.code.path
        return self._commit(parent=expected, tree_at=tree_at, path=path, text=text, author=author, message=message, files=files)

    def move(self, ref: DraftRef, *, new: str, expected: str) -> bool:
        """Compare-and-swap the draft's ref from `expected` to `new`; False when it is elsewhere."""
        return self._update_ref(ref.name, new, expected)

    def restore(self, ref: DraftRef, commit: str) -> bool:
        """Recreate a missing ref at `commit` (False when a ref is there by now)."""
        return self._update_ref(ref.name, commit, None)

    def discard(self, ref: DraftRef) -> None:
        """Move the ref aside (its commits stay reachable) instead of deleting it; done once, and
        a second call finds nothing left to do. A discarded ref of the same name from before a
        restore is itself kept as an orphan first."""
        tip = self.tip(ref)
        if tip is None:
            return
        for _attempt in range(3):
            if self._update_ref(ref.aside.name, tip, None) or self.tip(ref.aside) == tip:
                self._delete_ref(ref.name, tip)
                return
            previous = self.tip(ref.aside)
            if previous is not None:
                self._keep(orphan_name(ref.code, ref.draft_id, previous), previous)
                self._delete_ref(ref.aside.name, previous)
        raise Conflict(path=ref.aside.name, base=None, head=tip)

    def set_aside(self, ref: DraftRef, tip: str) -> str:
        """Move a ref that belongs to no draft to refs/drafts-orphaned/; returns where it went.
        Compare-and-swap on both sides: a ref that moved meanwhile is left alone."""
        name = orphan_name(ref.code, ref.draft_id, tip)
        self._keep(name, tip)
        self._delete_ref(ref.name, tip)
        return name

    def keep_commit(self, ref: DraftRef, commit: str) -> str:
        """Keep a commit reachable under refs/drafts-orphaned/ (e.g. the text a database recorded
        for a draft whose ref went elsewhere), without touching the draft's own ref."""
        name = orphan_name(ref.code, ref.draft_id, commit)
        self._keep(name, commit)
        return name

    # -- internals -------------------------------------------------------------------------

    def _commit(
        self,
        *,
        parent: str,
        tree_at: str,
        path: str,
        text: str | None,
        author: Author,
        message: str,
        files: Mapping[str, bytes | None] | None = None,
    ) -> PreparedSave:
        """`files` must be this document's own (`paths.owning_document`): a draft changes one document."""
        extra = dict(files or {})
        if any(owning_document(p) != path for p in extra):
            raise InvalidCode(f"草稿只能修改 {path} 及其附件")
        writer = ObjectWriter(str(self.repo.path / "objects"))
        trees = self.repo._read_trees(tree_at, {d for p in [path, *extra] for d in parent_dirs(p)})
        blob = None if text is None else writer.blob(text)
        absent = blob is None and _entry_sha(trees, path) is None  # nothing to remove: a new document not yet saved
        changes = {p: None if data is None else writer.store(b"blob", data) for p, data in extra.items()}
        tree = writer.apply(trees, changes if absent else {path: blob, **changes})
        commit = writer.commit(tree=tree, parent=parent, author=(author.name, author.email), message=_clean_message(message), date=None)
        return PreparedSave(commit=commit, blob=blob)

    def _tip(self, name: str) -> str | None:
        """The ref's commit, read from the ref files without starting a process (as the branch
        head is: every draft page and step reads it). git replaces a loose ref by renaming a
        lock file, and packs refs by writing packed-refs before deleting the loose file, so a
        reader that looks at the loose file first and packed-refs second never misses a ref."""
        if _REF.fullmatch(name) is None:
            raise StorageError(f"不允许的引用：{name!r}")
        try:
            value = (self.repo.path / name).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            value = ""
        if _SHA.fullmatch(value):
            return value
        try:
            packed = (self.repo.path / "packed-refs").read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        for line in packed.splitlines():
            sha, _, ref = line.partition(" ")
            if ref == name and _SHA.fullmatch(sha):
                return sha
        return None

    def _keep(self, name: str, commit: str) -> None:
        if not self._update_ref(name, commit, None) and self._tip(name) != commit:
            raise StorageError(f"无法保留草稿提交 {commit[:12]}（{name}）")

    def _update_ref(self, name: str, new: str, old: str | None) -> bool:
        if _REF.fullmatch(name) is None:
            raise StorageError(f"不允许的引用：{name!r}")
        if self.repo.remote is not None:  # compare-and-swap on the central ref, then the mirror follows
            return self.repo.remote.publish(name, new=new, old=old)
        return self.repo._run(["update-ref", "-m", "zhengai-docs draft", name, new, old or ZERO], check=False).returncode == 0

    def _delete_ref(self, name: str, old: str) -> bool:
        if _REF.fullmatch(name) is None:
            raise StorageError(f"不允许的引用：{name!r}")
        if self.repo.remote is not None:
            return self.repo.remote.publish(name, new=None, old=old)
        return self.repo._run(["update-ref", "-m", "zhengai-docs draft", "-d", name, old], check=False).returncode == 0
