"""Drafts of revisions on their own refs: `refs/drafts/<code>/<id>`, never on the branch in force.

A draft's first commit has the branch commit it was opened from (its base) as parent and that
commit's tree with one document changed; each save adds a commit on the draft ref, moved with
the same compare-and-swap as the branch. Readers, search and the SQL cache follow the branch
only, so nothing on a draft ref is visible until publication copies it to the branch. A
discarded draft's ref moves to `refs/drafts-discarded/<code>/<id>`: its history is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.errors import Conflict, InvalidCode, NotFound, StorageError
from zhengai_docs.storage.objects import ObjectWriter, parent_dirs
from zhengai_docs.storage.repository import ZERO, Author, ContentRepository, _clean_message, _entry_sha

_REF = re.compile(r"refs/(drafts|drafts-discarded)/([A-Z][0-9]{3}[ZLB])/([1-9][0-9]{0,9})")


@dataclass(frozen=True)
class DraftRef:
    code: DocumentCode
    draft_id: int
    discarded: bool = False

    @property
    def name(self) -> str:
        return f"refs/{'drafts-discarded' if self.discarded else 'drafts'}/{self.code}/{self.draft_id}"


def draft_ref(code: str | DocumentCode, draft_id: int) -> DraftRef:
    """The allow-listed ref of one draft (InvalidCode for anything else)."""
    if not isinstance(draft_id, int) or isinstance(draft_id, bool) or not 0 < draft_id < 10**10:
        raise InvalidCode(f"无效的草稿编号：{draft_id!r}")
    return DraftRef(code=code if isinstance(code, DocumentCode) else document_code(code), draft_id=draft_id)


@dataclass(frozen=True)
class DraftVersion:
    ref: DraftRef
    commit: str
    text: str | None  # None: the draft has no text for the document (not yet saved, new document)


class DraftStore:
    """Create, save, read and discard draft refs in one content repository (SQL lists them)."""

    def __init__(self, repo: ContentRepository) -> None:
        self.repo = repo

    def tip(self, ref: DraftRef) -> str | None:
        result = self.repo._run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref.name}^{{commit}}"], check=False)
        return result.stdout.decode().strip() or None if result.returncode == 0 else None

    def create(self, ref: DraftRef, *, base: str, text: str | None, author: Author, message: str) -> str:
        """Open a draft at branch commit `base` (its text: `text`, or the document at base)."""
        base = self.repo.resolve(base)
        if text is None:
            try:
                text = self.repo.read(ref.code.path, revision=base).text
            except NotFound:
                text = None
        commit = self._commit(parent=base, tree_at=base, path=ref.code.path, text=text, author=author, message=message)
        if not self._update_ref(ref.name, commit, None):
            raise Conflict(path=ref.name, base=None, head=self.tip(ref) or ZERO)
        return commit

    def save(self, ref: DraftRef, text: str, *, author: Author, message: str, expected: str, rebase_to: str | None = None) -> str:
        """Add a commit to the draft; refused (Conflict) when the draft moved since `expected`.

        `rebase_to`: a newer branch commit whose tree the draft now builds on (bring up to date).
        """
        expected = self.repo.resolve(expected)
        tree_at = expected if rebase_to is None else self.repo.resolve(rebase_to)
        commit = self._commit(parent=expected, tree_at=tree_at, path=ref.code.path, text=text, author=author, message=message)
        if not self._update_ref(ref.name, commit, expected):
            raise Conflict(path=ref.name, base=expected, head=self.tip(ref) or ZERO)
        return commit

    def read(self, ref: DraftRef) -> DraftVersion:
        """The draft's latest text; a discarded draft is read from where it was put aside."""
        tip = self.tip(ref) or self.tip(DraftRef(code=ref.code, draft_id=ref.draft_id, discarded=True))
        if tip is None:
            raise NotFound(f"草稿 {ref.code}/{ref.draft_id} 不存在")
        try:
            text: str | None = self.repo._read_at(ref.code.path, tip).text  # tip is a resolved commit
        except NotFound:
            text = None
        return DraftVersion(ref=ref, commit=tip, text=text)

    def discard(self, ref: DraftRef) -> None:
        """Move the ref aside (its commits stay reachable) instead of deleting it."""
        tip = self.tip(ref)
        if tip is None:
            raise NotFound(f"草稿 {ref.code}/{ref.draft_id} 不存在")
        aside = DraftRef(code=ref.code, draft_id=ref.draft_id, discarded=True)
        if not self._update_ref(aside.name, tip, None):
            raise Conflict(path=aside.name, base=None, head=tip)
        self.repo._run(["update-ref", "-d", ref.name, tip], check=True)

    def _commit(self, *, parent: str, tree_at: str, path: str, text: str | None, author: Author, message: str) -> str:
        writer = ObjectWriter(str(self.repo.path / "objects"))
        trees = self.repo._read_trees(tree_at, set(parent_dirs(path)))
        blob = None if text is None else writer.blob(text)
        absent = blob is None and _entry_sha(trees, path) is None  # nothing to remove: a new document not yet saved
        tree = writer.apply(trees, {} if absent else {path: blob})
        return writer.commit(tree=tree, parent=parent, author=(author.name, author.email), message=_clean_message(message), date=None)

    def _update_ref(self, name: str, new: str, old: str | None) -> bool:
        if _REF.fullmatch(name) is None:
            raise StorageError(f"不允许的引用：{name!r}")
        return self.repo._run(["update-ref", "-m", "zhengai-docs draft", name, new, old or ZERO], check=False).returncode == 0
