"""A document's 附件: listed at any revision, and added, replaced, renamed or removed as part of
a save — straight to the version in force (review off, or an administrator's correction) or in
a draft, so that an attachment change is reviewed and published with the text it belongs to.

Each attachment is a plain file beside its document, `regulations/A/A1/A101Z/附件1-申报表.docx`
(`storage.paths`): its number and title are in its name, so a Gitea or GitLab viewer shows the
same list. Every upload passes `inspect.inspect_upload` (its type judged by content, limits
from ATTACHMENT_SUFFIXES and ATTACHMENT_MAX_BYTES) before anything is written; who may change
what is decided where the text's saves are decided (`Library.save`, `Workflow.save`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zhengai_docs.attachments.refusal import KIND_NAMES, MEDIA_TYPES, UploadRefused
from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.catalogue.document import Document
from zhengai_docs.errors import NotAllowed, NotFound, Refused
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.files import READ_LIMIT, StoredFile, document_files, files_folder_id, read_file
from zhengai_docs.storage.paths import FILE_SUFFIXES, MAX_FILE_NAME, attachment_name_problem, attachment_number, files_folder
from zhengai_docs.storage.repository import WriteResult
from zhengai_docs.workflow import DraftView, Workflow

Action = Literal["add", "replace", "rename", "remove"]
ACTIONS: tuple[Action, ...] = ("add", "replace", "rename", "remove")
MAX_NUMBER = 999
_LISTING_CACHE = 10_000
_NUMBER_PREFIX = re.compile(r"\A附件\s*[0-9０-９]{1,3}\s*[-_—－、.．：:\s]*")
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Limits:
    """What an upload may be: ATTACHMENT_SUFFIXES and ATTACHMENT_MAX_BYTES."""

    suffixes: frozenset[str]
    max_bytes: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        suffixes = frozenset(s.strip().lower() for s in str(settings["ATTACHMENT_SUFFIXES"]).replace(",", " ").split() if s.strip())
        unknown = suffixes - FILE_SUFFIXES
        if unknown:
            raise ValueError(f"ATTACHMENT_SUFFIXES: {', '.join(sorted(unknown))} not supported (any of {' '.join(sorted(FILE_SUFFIXES))})")
        return cls(suffixes=suffixes, max_bytes=int(settings["ATTACHMENT_MAX_BYTES"]))


@dataclass(frozen=True)
class Attachment:
    """One 附件 of a document at one revision."""

    path: str
    name: str  # 附件1-专业设置申报表.docx
    number: int
    title: str  # 专业设置申报表
    suffix: str  # .docx
    size: int
    blob: str

    @property
    def label(self) -> str:
        return f"附件{self.number}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.suffix]

    @property
    def kind(self) -> str:
        return KIND_NAMES[self.suffix]

    @property
    def size_label(self) -> str:
        return size_label(self.size)


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def attachments_of(files: Iterable[StoredFile]) -> list[Attachment]:
    """The 附件 among a document's files, by number (pictures are not attachments)."""
    found = []
    for stored in files:
        number = attachment_number(stored.name)
        if number is None:
            continue
        stem, suffix = _split_suffix(stored.name)
        title = stem.split("-", 1)[1]
        found.append(Attachment(stored.path, stored.name, number, title, suffix, stored.size, stored.blob))
    return sorted(found, key=lambda a: (a.number, a.name))


def _split_suffix(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    return stem, f"{dot}{suffix}"


@dataclass(frozen=True)
class AttachmentChange:
    """What changed about one 附件 number between two revisions, as history and review say it."""

    number: int
    kind: Literal["added", "updated", "removed", "renamed"]
    name: str  # the name now (the old one when removed)
    old_name: str | None = None

    @property
    def text(self) -> str:
        label = f"附件{self.number}"
        if self.kind == "added":
            return f"{label} 已添加：{self.name}"
        if self.kind == "removed":
            return f"{label} 已删除：{self.name}"
        if self.kind == "renamed":
            return f"{label} 已更名：{self.old_name} → {self.name}"
        return f"{label} 已更新：{self.name}"


def compare_attachments(old: Iterable[Attachment], new: Iterable[Attachment]) -> list[AttachmentChange]:
    """Changes by 附件 number: a new name under the same number is a rename (and an update when
    the content changed too, said once as 已更新 with the new name)."""
    before = {a.number: a for a in old}
    after = {a.number: a for a in new}
    changes = []
    for number in sorted(set(before) | set(after)):
        was, now = before.get(number), after.get(number)
        if was is None and now is not None:
            changes.append(AttachmentChange(number, "added", now.name))
        elif now is None and was is not None:
            changes.append(AttachmentChange(number, "removed", was.name))
        elif was is not None and now is not None:
            if was.blob != now.blob:
                changes.append(AttachmentChange(number, "updated", now.name, was.name))
            elif was.name != now.name:
                changes.append(AttachmentChange(number, "renamed", now.name, was.name))
    return changes


def changes_in(paths: Iterable[tuple[str, str]]) -> list[AttachmentChange]:
    """The 附件 changes of one commit from its (status, path) list (`storage.files.file_history`)."""
    added: dict[int, str] = {}
    removed: dict[int, str] = {}
    modified: dict[int, str] = {}
    for status, path in paths:
        name = path.rsplit("/", 1)[1]
        number = attachment_number(name)
        if number is None:
            continue
        {"A": added, "D": removed}.get(status, modified)[number] = name
    changes = []
    for number in sorted(set(added) | set(removed) | set(modified)):
        if number in modified:
            changes.append(AttachmentChange(number, "updated", modified[number]))
        elif number in added and number in removed:
            changes.append(AttachmentChange(number, "renamed", added[number], removed[number]))
        elif number in added:
            changes.append(AttachmentChange(number, "added", added[number]))
        else:
            changes.append(AttachmentChange(number, "removed", removed[number]))
    return changes


@dataclass(frozen=True)
class Upload:
    filename: str  # as the browser sent it: a claim, never a path
    data: bytes


@dataclass(frozen=True)
class AttachmentEdit:
    """One change a user asked for: add (an upload; a number or the next free one), replace (an
    upload for an existing number), rename (a new title and/or number) or remove."""

    action: Action
    number: int | None = None
    upload: Upload | None = None
    title: str | None = None
    new_number: int | None = None


@dataclass(frozen=True)
class Planned:
    files: dict[str, bytes | None]
    summary: str  # 添加附件2：评分细则.xlsx — the save's 修订说明 when the user typed none


def clean_title(raw: str) -> str:
    """A title for a file name from what the user typed or the uploaded file's name: NFC, no
    folders, no control or invisible characters, no leading 附件N-, no `..`, short enough."""
    text = unicodedata.normalize("NFC", raw or "")
    text = _UNSAFE.sub("", text.replace("\\", "/").rsplit("/", 1)[-1])
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C" and unicodedata.category(c) not in ("Zl", "Zp"))
    text = _NUMBER_PREFIX.sub("", text.strip())
    while ".." in text:
        text = text.replace("..", ".")
    text = text.strip(" .-_")
    return text[: MAX_FILE_NAME - 16] or "附件"


def _title_from_filename(filename: str) -> str:
    stem, dot, _ = clean_title(filename).rpartition(".")
    return clean_title(stem) if dot and stem else clean_title(filename)


def plan(
    edit: AttachmentEdit, current: list[Attachment], *, document_path: str, limits: Limits, read: Callable[[Attachment], bytes]
) -> Planned:
    """The files one change writes, checked against the document's attachments `current` (at the
    revision the page was read; `read` gives one's bytes, for a rename); UploadRefused or
    Refused with a message for the user."""
    folder = files_folder(document_path)
    by_number = {a.number: a for a in current}
    if edit.action == "add":
        upload = _required_upload(edit)
        number = edit.number or (max(by_number, default=0) + 1)
        _check_number(number)
        if number in by_number:
            raise Refused(f"附件{number} 已存在（{by_number[number].name}），请选择“替换”或另选序号")
        inspected = _inspect(upload, limits)
        name = _name(number, edit.title or _title_from_filename(upload.filename), inspected.suffix)
        return Planned({f"{folder}/{name}": inspected.data}, f"添加附件{number}：{name}")
    existing = by_number.get(edit.number or 0)
    if existing is None:
        raise Refused(f"没有附件{edit.number}，可能已被删除或改了序号；请刷新页面后重试")
    if edit.action == "remove":
        return Planned({existing.path: None}, f"删除附件{existing.number}：{existing.name}")
    if edit.action == "replace":
        inspected = _inspect(_required_upload(edit), limits)
        name = _name(existing.number, existing.title, inspected.suffix)
        files: dict[str, bytes | None] = {existing.path: None, f"{folder}/{name}": inspected.data}
        return Planned(files, f"更新附件{existing.number}：{name}")
    number = edit.new_number or existing.number
    _check_number(number)
    if number != existing.number and number in by_number:
        raise Refused(f"附件{number} 已存在（{by_number[number].name}），不能改为此序号")
    name = _name(number, edit.title or existing.title, existing.suffix)
    if name == existing.name:
        raise Refused("名称和序号都没有变化")
    return Planned({existing.path: None, f"{folder}/{name}": read(existing)}, f"附件{existing.number} 更名为 {name}")


def _required_upload(edit: AttachmentEdit) -> Upload:
    if edit.upload is None or not edit.upload.data:
        raise UploadRefused("请选择要上传的文件")
    return edit.upload


def _check_number(number: int) -> None:
    if not 0 < number <= MAX_NUMBER:
        raise Refused(f"附件序号应为 1 到 {MAX_NUMBER}")


def _inspect(upload: Upload, limits: Limits) -> Any:
    from zhengai_docs.attachments.inspect import inspect_upload  # engineer D's checks; imported when first needed

    return inspect_upload(upload.data, filename=upload.filename, allowed=limits.suffixes, max_bytes=limits.max_bytes)


def _name(number: int, title: str, suffix: str) -> str:
    name = f"附件{number}-{clean_title(title)}{suffix}"
    problem = attachment_name_problem(name)
    if problem is not None:
        raise Refused(problem)
    return name


class Attachments:
    """A document's 附件 as readers, editors and reviewers reach them (the service layer holds one)."""

    def __init__(self, *, library: Library, workflow: Workflow, limits: Limits) -> None:
        self.library = library
        self.workflow = workflow
        self.limits = limits
        self._listed: dict[tuple[str, str], list[Attachment]] = {}  # (folder tree, document path): a tree never changes

    def _at(self, code: DocumentCode, commit: str) -> list[Attachment]:
        """The attachments at a resolved commit. Most documents have no files folder: one
        question to the kept `cat-file` says so. A folder's listing is remembered by its tree id,
        so it is read again (`ls-tree`) only after its files change, whatever else is committed."""
        folder = files_folder_id(self.library.repo, code.path, commit)
        if folder is None:
            return []
        key = (folder, code.path)
        found = self._listed.get(key)
        if found is None:
            if len(self._listed) >= _LISTING_CACHE:
                self._listed.clear()
            found = self._listed[key] = attachments_of(document_files(self.library.repo, code.path, commit))
        return list(found)

    # -- reading ---------------------------------------------------------------------------

    def in_force(self, code: DocumentCode, *, revision: str | None = None) -> list[Attachment]:
        """The attachments readers see: at the head of the branch, or at a commit on it."""
        return self._at(code, self._published(revision))

    def at_commit(self, code: DocumentCode, commit: str) -> list[Attachment]:
        """The attachments at a commit the caller already resolved on the branch (the document
        page's `LoadedDocument.version.commit`): unlike `in_force(revision=…)`, no `rev-parse`."""
        return self._at(code, commit)

    def in_draft(self, draft: DraftView, *, commit: str | None = None) -> list[Attachment]:
        """A draft's attachments at its tip (or one of its own commits); the caller checked `may_see`."""
        return self._at(_code(draft), self._draft_commit(draft, commit))

    def file(self, code: DocumentCode, name: str, *, revision: str | None = None) -> tuple[StoredFile, bytes]:
        """A document's own file (an attachment or a picture) as it was at a commit on the branch."""
        return self._file(code, name, self._published(revision))

    def draft_file(self, draft: DraftView, name: str, *, commit: str | None = None) -> tuple[StoredFile, bytes]:
        return self._file(_code(draft), name, self._draft_commit(draft, commit))

    def _file(self, code: DocumentCode, name: str, commit: str) -> tuple[StoredFile, bytes]:
        repo = self.library.repo
        found = next((f for f in document_files(repo, code.path, commit) if f.name == name), None)
        if found is None:
            raise NotFound(f"{code} 在此版本中没有文件 {name}")
        return found, read_file(repo, found.path, commit, max_bytes=READ_LIMIT)

    def _published(self, revision: str | None) -> str:
        repo = self.library.repo
        return repo.require_head() if revision is None else repo.resolve_published(revision)

    def _draft_commit(self, draft: DraftView, commit: str | None) -> str:
        if commit is None or commit == draft.tip:
            return draft.tip
        repo = self.library.repo
        resolved = repo.resolve(commit)
        if resolved != draft.tip and not repo.is_ancestor(resolved, draft.tip):
            raise NotFound(f"版本 {commit} 不是此草稿的版本")
        return resolved

    # -- writing ---------------------------------------------------------------------------

    def change(
        self, code: DocumentCode, edit: AttachmentEdit, *, actor: Actor, base: str, document: Document | None = None, message: str = ""
    ) -> WriteResult:
        """An attachment change saved straight to the version in force, with the text at `base`
        (or `document`, the editor's text as typed) in one commit; `Library.save` checks who may
        (edit rights, REVIEW_REQUIRED). `base` is the commit the page was read at."""
        loaded = self.library.load(code, revision=base)
        current = self.in_force(code, revision=loaded.version.commit)
        planned = self._plan(edit, current, code=code, commit=loaded.version.commit)
        text = document if document is not None else loaded.document
        return self.library.save(text, actor=actor, message=message.strip() or planned.summary, base=base, files=planned.files)

    def change_in_draft(
        self, draft_id: int, edit: AttachmentEdit, *, actor: Actor, expected: str, document: Document | None = None, message: str = ""
    ) -> DraftView:
        """An attachment change in a draft, with the draft's text (or `document`, the editor's
        text as typed) in one save; `expected` is the draft commit the page was read at.
        `Workflow.save` checks who may and that the draft is still at `expected`."""
        draft = self.workflow.get(draft_id)
        if not self.workflow.may_author(actor, draft):
            raise NotAllowed("只有文档牵头部门的编辑可以修改草稿的附件")
        commit = self._draft_commit(draft, expected)
        current = self.in_draft(draft, commit=commit)
        planned = self._plan(edit, current, code=_code(draft), commit=commit)
        text = document if document is not None else self._draft_document(draft, commit)
        note = message.strip() or planned.summary
        return self.workflow.save(draft_id, text, actor=actor, message=note, expected=expected, files=planned.files)

    def _draft_document(self, draft: DraftView, commit: str) -> Document:
        document = self.workflow.document_at(draft, commit)
        if document is None:
            raise Refused("草稿中还没有正文，请先保存正文再添加附件")
        return document

    def _plan(self, edit: AttachmentEdit, current: list[Attachment], *, code: DocumentCode, commit: str) -> Planned:
        repo = self.library.repo

        def read(existing: Attachment) -> bytes:
            return read_file(repo, existing.path, commit, max_bytes=READ_LIMIT)

        return plan(edit, current, document_path=code.path, limits=self.limits, read=read)


def _code(draft: DraftView) -> DocumentCode:
    return document_code(draft.code)


def attachment_note(files: Iterable[Attachment]) -> list[str]:
    """The 附件 line an official document ends with, one entry per line, numbers aligned:
    ["附件：1．专业设置申报表", "　　　2．评分细则"] (empty without attachments)."""
    lines = []
    for index, attachment in enumerate(files):
        lead = "附件：" if index == 0 else "　　　"
        lines.append(f"{lead}{attachment.number}．{attachment.title}")
    return lines


def attachment_note_markdown(files: Iterable[Attachment]) -> str:
    """`attachment_note` as Markdown paragraphs to append to a body (titles escaped), or ""."""
    lines = [_MARKDOWN_SPECIAL.sub(r"\\\g<0>", line) for line in attachment_note(files)]
    return "".join(f"\n{line.replace(chr(0x3000), '&#12288;')}\n" for line in lines)  # Markdown strips a leading U+3000


_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!<>|~]")
