"""Word (or Markdown) files into documents: one upload, or a whole folder.

A single import replaces the body of an existing document (its front matter stays as it is) or
creates a draft in an empty catalogue slot. Nothing is written until the caller saves the
prepared document with the commit it was prepared at, so a change made meanwhile is a
conflict, never an overwrite.

Folder import gives every file a code from its name (`A108Z 招生工作管理办法.docx`), or else
from its title (a code in it, or the exact title of an existing document). Files whose code
is missing, unknown to the catalogue, contradictory or shared with another file are listed
and left out. It commits **one document per commit**: each document's history then shows its
own source file in the 修订说明, a broken or conflicting file stops only itself, and running
the import again changes only what changed.

Folders come from departments (an unpacked zip keeps its links), so nothing outside the named
folder is ever read: the folder is opened once and every file is looked at through it without
following links; symbolic links, special files (pipes, devices) and files with other hard
links are listed with the reason and never opened, and sizes are checked before reading.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from zhengai_docs.attachments.body_pictures import picture_repository_path, referenced_pictures, relocate, unreferenced
from zhengai_docs.catalogue.codes import DocumentCode, document_code
from zhengai_docs.catalogue.document import Document, DocumentMeta, Status, new_document, parse_document, split_front_matter
from zhengai_docs.db.models import DocumentRow
from zhengai_docs.errors import Conflict, InvalidCode, InvalidFrontMatter, NotFound, ZhengaiError
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.render.docx_import import ImportedImage, import_docx
from zhengai_docs.render.docx_package import Limits, WordImportError, megabytes
from zhengai_docs.storage.files import document_files
from zhengai_docs.storage.paths import IMAGES_DIR
from zhengai_docs.storage.repository import WriteResult
from zhengai_docs.textdiff import TextDiff, diff_texts

SUFFIXES = (".docx", ".md")
_CODE_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])([A-Z][0-9]{3}[ZLB])(?![A-Za-z0-9])")
_H1 = re.compile(r"\A#[ \t]+(.+?)[ \t]*$", re.M)


@dataclass(frozen=True)
class PreparedImport:
    """A converted file, ready to be checked by a person and saved."""

    code: DocumentCode
    document: Document
    current: Document | None
    base: str | None  # the commit the current version was read at (None: new document)
    warnings: tuple[str, ...]
    source: str  # the file name, for the 修订说明
    images: tuple[ImportedImage, ...] = ()  # the Word file's pictures, referred to as <code>/images/<name>

    @property
    def diff(self) -> TextDiff:
        return diff_texts(self.current.body if self.current else "", self.document.body)

    @property
    def changed(self) -> bool:
        return self.current is None or self.current.dump() != self.document.dump()


@dataclass(frozen=True)
class Converted:
    """A file as Markdown: body, title (its `#` heading), warnings, and a Word file's pictures."""

    markdown: str
    title: str | None
    warnings: tuple[str, ...]
    images: tuple[ImportedImage, ...] = ()


def image_folder(code: DocumentCode) -> str:
    """Where a body refers to its pictures, relative to its file: `A101Z/images`."""
    return f"{code}/{IMAGES_DIR}"


def convert(data: bytes, *, filename: str, limits: Limits, images_in: str | None = None) -> Converted:
    """A .docx or .md file as Markdown (front matter of a .md is left out); with `images_in` (a
    folder relative to the document's file, `image_folder`) a Word file's pictures are kept."""
    if not filename.lower().endswith(".md"):
        imported = import_docx(data, limits=limits, image_folder=images_in)
        return Converted(imported.markdown, imported.title, imported.warnings, imported.images)
    if len(data) > limits.max_bytes:
        raise WordImportError(f"文件超过导入上限 {megabytes(limits.max_bytes)} MB。")
    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise WordImportError("Markdown 文件不是 UTF-8 编码，请另存为 UTF-8 后再导入。") from exc
    if text.startswith("---\n"):
        _front, text, _line = split_front_matter(text, path=filename)
    text = text if text.endswith("\n") else text + "\n"
    return Converted(text, _title(text), ())


def _title(markdown: str) -> str | None:
    match = _H1.search(markdown)
    return match.group(1).strip() if match else None


def read_file(path: Path, *, max_bytes: int, folder: int | None = None) -> bytes:
    """The bytes of one regular file, checked before it is read.

    A file named on the command line may be reached through a link (the operator named it);
    inside a folder (`folder`: the folder's open descriptor, `path`: a name in it) links are
    never followed and a file with other hard links is refused. Pipes and devices are never
    opened; a file over `max_bytes` is refused from its size, not by reading it.
    """
    name: str | Path = path.name if folder is not None else path
    try:
        before = os.stat(name, dir_fd=folder, follow_symlinks=folder is None)
    except OSError as exc:
        raise WordImportError(f"无法读取文件：{exc.strerror}") from exc
    _check_file(before, max_bytes=max_bytes, in_folder=folder is not None)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if folder is not None else 0)
    try:
        fd = os.open(name, flags, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WordImportError(_LINK) from exc
        raise WordImportError(f"无法读取文件：{exc.strerror}") from exc
    with os.fdopen(fd, "rb") as stream:
        after = os.fstat(stream.fileno())
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise WordImportError("文件在检查和读取之间被替换了，未导入。")
        _check_file(after, max_bytes=max_bytes, in_folder=folder is not None)
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the check
        raise WordImportError(_too_large(len(data), max_bytes))
    return data


_LINK = "这是符号链接（快捷方式），可能指向文件夹以外的文件，为安全起见未导入。请把文件本身复制到文件夹中。"


def _check_file(info: os.stat_result, *, max_bytes: int, in_folder: bool) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise WordImportError(_LINK)
    if stat.S_ISDIR(info.st_mode):
        raise WordImportError("这是文件夹，不是文件，未导入。")
    if not stat.S_ISREG(info.st_mode):
        raise WordImportError("不是普通文件（管道、设备或套接字），未打开。")
    if in_folder and info.st_nlink > 1:
        raise WordImportError("文件另有硬链接，可能就是文件夹以外的某个文件，为安全起见未导入。请复制一份普通文件后再导入。")
    if info.st_size > max_bytes:
        raise WordImportError(_too_large(info.st_size, max_bytes))


def _too_large(size: int, max_bytes: int) -> str:
    return f"文件大小 {size / 1024 / 1024:.1f} MB，超过导入上限 {megabytes(max_bytes)} MB，未读取。"


def prepare(
    library: Library,
    code: DocumentCode,
    data: bytes,
    *,
    filename: str,
    limits: Limits,
    converted: Converted | None = None,
) -> PreparedImport:
    """Convert a file into the next version of `code` (or its first version), its pictures kept
    for `code`'s images folder; `converted` is `convert`'s result when the caller already has it
    (its pictures referred to under `image_folder(code)`)."""
    converted = converted or convert(data, filename=filename, limits=limits, images_in=image_folder(code))
    body, title, warnings, images = converted.markdown, converted.title, converted.warnings, converted.images
    try:
        loaded = library.load(code)
    except NotFound:
        loaded = None
    if filename.lower().endswith(".md") and data.lstrip(b"\xef\xbb\xbf").startswith(b"---"):
        try:  # a whole document (front matter and body): it becomes the next version as it is
            whole = parse_document(data.decode("utf-8-sig").replace("\r\n", "\n"), path=code.path)
        except InvalidFrontMatter as exc:
            raise WordImportError(f"{filename} 的头信息有误：{exc.message}") from exc
        current, base = (loaded.document, loaded.version.commit) if loaded else (None, library.repo.head())
        return PreparedImport(code, whole, current, base, warnings, filename)
    if loaded is not None:
        document = loaded.document.with_changes(body=_with_title(body, title or loaded.document.meta.title))
        return PreparedImport(code, document, loaded.document, loaded.version.commit, warnings, filename, images)
    catalogue, _ = library.catalogue()
    item = catalogue.item(code.item)
    if item is None:
        raise WordImportError(f"目录中没有条目 {code.item}，请先在目录中添加该条目。")
    name = title or _name_from_file(filename) or f"{item.name}{code.doc_type.label}"
    meta = DocumentMeta(code=code, title=name, departments=item.departments or ("未指定",), status=Status.DRAFT)
    return PreparedImport(code, new_document(meta, _with_title(body, name)), None, library.repo.head(), warnings, filename, images)


def _with_title(body: str, title: str) -> str:
    """Documents start with their title as `#`; a body without one gets it."""
    if _H1.match(body.lstrip("\n")):
        return body.lstrip("\n")
    return f"# {title}\n\n{body.lstrip(chr(10))}"


def _name_from_file(filename: str) -> str | None:
    """`A108Z 招生工作管理办法.docx` -> 招生工作管理办法."""
    stem = unicodedata.normalize("NFKC", Path(filename).stem)
    return re.sub(r"(?i)^[A-Z][0-9]{3}[ZLB]", "", stem).strip(" -_.、") or None


def save(library: Library, prepared: PreparedImport, *, actor: Actor, message: str) -> WriteResult:
    """Save a checked import straight to the version in force, its pictures in the same commit
    (`Library.save` checks the actor)."""
    files = picture_changes(library, prepared.document, images=prepared.images, base=prepared.base)
    return library.save(prepared.document, actor=actor, message=message, base=prepared.base, files=files or None)


def picture_changes(
    library: Library, document: Document, *, images: tuple[ImportedImage, ...], base: str | None
) -> dict[str, bytes | None]:
    """The files a save of an imported body writes: each picture it shows that the document does
    not have at `base` yet, and the removal of the document's pictures it no longer shows."""
    path = document.meta.code.path
    existing = document_files(library.repo, path, base) if base else []
    have = {f.path for f in existing}
    shown = referenced_pictures(path, document.body)
    files: dict[str, bytes | None] = {}
    for image in images:
        target = picture_repository_path(path, image.name)
        if target in shown and target not in have:
            files[target] = image.data
    files.update(unreferenced(path, document.body, existing))
    return files


# -- folders -----------------------------------------------------------------------------------


@dataclass
class FolderEntry:
    path: Path
    code: DocumentCode | None = None
    status: str = "pending"  # new, update, unchanged, problem, saved, failed
    message: str = ""
    prepared: PreparedImport | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return _STATUS_LABELS.get(self.status, self.status)


_STATUS_LABELS = {
    "new": "新建",
    "update": "更新",
    "unchanged": "无变化",
    "problem": "未导入",
    "saved": "已提交",
    "failed": "提交失败",
}


@dataclass(frozen=True)
class FolderPlan:
    folder: Path
    entries: tuple[FolderEntry, ...]

    def by_status(self, *statuses: str) -> list[FolderEntry]:
        return [e for e in self.entries if e.status in statuses]


def plan_folder(library: Library, folder: Path, *, limits: Limits, progress: Callable[[int, int], None] | None = None) -> FolderPlan:
    """The dry run: what each .docx/.md file in `folder` would become, and which are left out.

    Links and special files are listed as left out whatever their names; subfolders and files
    of other types are not import candidates and are passed over, as hidden and `~$` files are.
    """
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise WordImportError(f"无法打开文件夹 {folder}：{exc.strerror}") from exc
    try:
        return _plan(library, folder, folder_fd, limits=limits, progress=progress)
    finally:
        os.close(folder_fd)


def _plan(
    library: Library, folder: Path, folder_fd: int, *, limits: Limits, progress: Callable[[int, int], None] | None
) -> FolderPlan:
    entries: list[FolderEntry] = []
    files: list[FolderEntry] = []
    with os.scandir(folder_fd) as listing:
        for item in sorted(listing, key=lambda e: e.name):
            if item.name.startswith(("~$", ".")):
                continue
            entry = FolderEntry(path=folder / item.name)
            if item.is_symlink():
                entry.status, entry.message = "problem", _LINK
            elif item.is_dir(follow_symlinks=False):
                continue
            elif not item.is_file(follow_symlinks=False):
                entry.status, entry.message = "problem", "不是普通文件（管道、设备或套接字），未打开。"
            elif Path(item.name).suffix.lower() not in SUFFIXES:
                continue
            else:
                files.append(entry)
            entries.append(entry)
    titles = _titles(library)
    catalogue, _ = library.catalogue()
    for done, entry in enumerate(files, start=1):
        path = entry.path
        try:
            data = read_file(path, max_bytes=limits.max_bytes, folder=folder_fd)
            placeholder = f"zhengai-import-{secrets.token_hex(8)}/{IMAGES_DIR}"  # the code comes from the title
            converted = convert(data, filename=path.name, limits=limits, images_in=placeholder)
            entry.code = _code_for(path, converted.title, titles, entry)
            if entry.code is not None and catalogue.item(entry.code.item) is None:
                entry.status, entry.message = "problem", f"目录中没有条目 {entry.code.item}"
            elif entry.code is not None:
                moved = relocate(converted.markdown, old_folder=placeholder, new_folder=image_folder(entry.code))
                converted = Converted(moved, converted.title, converted.warnings, converted.images)
                entry.prepared = prepare(library, entry.code, data, filename=path.name, limits=limits, converted=converted)
                entry.status = "unchanged" if not entry.prepared.changed else ("update" if entry.prepared.current else "new")
                entry.message = "；".join(entry.prepared.warnings)
        except ZhengaiError as exc:
            entry.status, entry.message = "problem", str(exc)
        if progress is not None:
            progress(done, len(files))
    _refuse_shared_codes(entries)
    return FolderPlan(folder=folder, entries=tuple(entries))


def _titles(library: Library) -> dict[str, list[str]]:
    """Existing document titles -> codes, to recognise a file by its title."""
    out: dict[str, list[str]] = {}
    with library.db.session() as session:
        for code, title in session.execute(select(DocumentRow.code, DocumentRow.title)):
            out.setdefault(_normal(title), []).append(code)
    return out


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _code_for(path: Path, title: str | None, titles: dict[str, list[str]], entry: FolderEntry) -> DocumentCode | None:
    name = unicodedata.normalize("NFKC", path.stem).upper()
    from_name = set(_CODE_IN_TEXT.findall(name))
    from_title = set(_CODE_IN_TEXT.findall(unicodedata.normalize("NFKC", title or "")))
    if not from_title and title:
        from_title = set(titles.get(_normal(title), []))
    candidates = from_name or from_title
    if len(from_name) > 1 or (not from_name and len(from_title) > 1):
        entry.status, entry.message = "problem", f"代码不明确：{'、'.join(sorted(candidates))}"
        return None
    if from_name and from_title and from_name != from_title:
        entry.status = "problem"
        entry.message = f"代码不明确：文件名为 {next(iter(from_name))}，标题对应 {'、'.join(sorted(from_title))}"
        return None
    if not candidates:
        entry.status, entry.message = "problem", "无法确定代码：文件名和标题中都没有文档代码（如 A108Z），标题也不是已有文档的标题"
        return None
    try:
        return document_code(next(iter(candidates)))
    except InvalidCode as exc:
        entry.status, entry.message = "problem", str(exc)
        return None


def _refuse_shared_codes(entries: list[FolderEntry]) -> None:
    by_code: dict[DocumentCode, list[FolderEntry]] = {}
    for entry in entries:
        if entry.code is not None and entry.status != "problem":
            by_code.setdefault(entry.code, []).append(entry)
    for code, same in by_code.items():
        if len(same) > 1:
            names = "、".join(e.path.name for e in same)
            for entry in same:
                entry.status, entry.message, entry.prepared = "problem", f"代码不明确：{names} 都对应 {code}", None


def apply_folder(library: Library, plan: FolderPlan, *, actor: Actor, progress: Callable[[int, int], None] | None = None) -> FolderPlan:
    """Commit each new or changed document of a dry run, one commit per document; a document the
    actor may not write is listed as failed with the reason, like a conflict."""
    todo = plan.by_status("new", "update")
    for done, entry in enumerate(todo, start=1):
        prepared = entry.prepared
        if prepared is None:
            continue
        verb = "更新" if prepared.current else "新建"
        source = "从 Word 批量导入" if entry.path.suffix.lower() == ".docx" else "批量导入"
        message = f"{source}{verb}：{entry.path.name}"
        try:
            save(library, prepared, actor=actor, message=message)
            entry.status = "saved"
        except Conflict:
            entry.status, entry.message = "failed", "预览后该文档已被他人修改，未覆盖；请重新运行导入"
        except ZhengaiError as exc:
            entry.status, entry.message = "failed", str(exc)
        if progress is not None:
            progress(done, len(todo))
    return plan
