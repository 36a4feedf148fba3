"""A document's own files (attachments, pictures) as git keeps them: listed, read as bytes, logged.

These are plain blobs beside the document (`paths.files_folder`); the caches and the search
index never read them through `ContentRepository.list_files`, so a 20 MB form costs a page view
nothing. Every path and revision here has passed the allow-list in `paths` first.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass

from zhengai_docs.errors import NotFound, StorageError
from zhengai_docs.storage.paths import files_folder, owning_document, revision_id
from zhengai_docs.storage.repository import ContentRepository, Revision, _log_format

_FOLDERS_PER_CALL = 50  # more documents than this: list the whole tree once


@dataclass(frozen=True)
class StoredFile:
    path: str
    name: str  # the path inside the document's folder: `附件1-….docx` or `images/image-….png`
    blob: str
    size: int


@dataclass(frozen=True)
class FileCommit:
    """A commit that changed a document's own files, with those files' paths (status A/M/D)."""

    revision: Revision
    changes: tuple[tuple[str, str], ...]  # (status, path)


@dataclass(frozen=True)
class LargeObject:
    """A blob of the repository, as `largest_objects` reports it."""

    sha: str
    size: int
    packed: int  # bytes it takes on disk (compressed, maybe as a delta)
    path: str  # one path it had (display form)


def document_files(repo: ContentRepository, document_path: str, revision: str) -> list[StoredFile]:
    """The allowed files of a document's folder at a commit (others are `doctor`'s to report)."""
    return files_of_documents(repo, revision, [document_path]).get(document_path, [])


def files_folder_id(repo: ContentRepository, document_path: str, revision: str) -> str | None:
    """The tree id of a document's files folder at a commit (None: it has none), from the kept
    `cat-file` process: a folder's listing is the same at every commit where it has that id."""
    folder = files_folder(document_path)
    directory, _, name = folder.rpartition("/")
    if repo.known_without(revision, directory, name):
        return None
    [found] = repo._cat_objects([f"{revision_id(revision)}:{folder}"], max_bytes=0)
    return found.sha if found.kind == "tree" else None


def files_of_documents(repo: ContentRepository, revision: str, document_paths: Collection[str]) -> dict[str, list[StoredFile]]:
    """The allowed files of several documents at a commit, in one `git ls-tree` (the whole tree
    when there are many: a reindex asks once, not once per document)."""
    folders = sorted(files_folder(p) + "/" for p in document_paths)
    if all(repo.known_without(revision, *files_folder(p).rpartition("/")[::2]) for p in document_paths):
        return {}  # none has a files folder at a commit this process wrote (a save's own commit)
    scope = folders if len(folders) <= _FOLDERS_PER_CALL else ["regulations/", "standards/"]
    out = repo._git("ls-tree", "-r", "-z", "--long", "--full-tree", revision_id(revision), "--", *scope)
    wanted = set(document_paths)
    found: dict[str, list[StoredFile]] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        info, _, raw_path = entry.partition(b"\t")
        mode, kind, sha, size = info.decode("ascii").split()
        path = raw_path.decode("utf-8", "surrogateescape")
        owner = owning_document(path)
        if kind == "blob" and mode == "100644" and owner is not None and owner in wanted:
            name = path[len(files_folder(owner)) + 1 :]
            found.setdefault(owner, []).append(StoredFile(path=path, name=name, blob=sha, size=int(size)))
    return found


def read_blob_bytes(repo: ContentRepository, blobs: Collection[str], *, max_bytes: int) -> dict[str, bytes]:
    """Blobs by id, as bytes, in one `git cat-file --batch` (those larger than `max_bytes` or
    missing are left out)."""
    ordered = sorted(blobs)
    found = repo._cat_objects([revision_id(b) for b in ordered], max_bytes=max_bytes)
    return {blob: obj.data for blob, obj in zip(ordered, found, strict=True) if obj.kind == "blob" and obj.data is not None}


def read_file(repo: ContentRepository, path: str, revision: str, *, max_bytes: int) -> bytes:
    """One of a document's own files at a commit, as bytes; NotFound when absent or larger than
    `max_bytes` (a file pushed from outside past the limits is not served)."""
    if owning_document(path) is None:
        raise NotFound(f"不是文档的附件或图片：{path}")
    [found] = repo._cat_objects([f"{revision_id(revision)}:{path}"], max_bytes=max_bytes)
    if found.kind != "blob" or found.data is None:
        raise NotFound(f"{path} 在版本 {revision[:12]} 中不存在")
    return found.data


def file_history(repo: ContentRepository, document_path: str, *, until: str) -> list[FileCommit]:
    """Commits on the branch's first-parent line up to `until` that changed the document's own
    files, newest first, each with its changed files (two `git log` calls whatever the length)."""
    folder = files_folder(document_path)
    span = ["--first-parent", "--diff-merges=first-parent", "--no-renames", "-z", revision_id(until), "--", f"{folder}/"]
    nonce = secrets.token_hex(8)
    revisions = [e.revision for e in repo._parse_log(repo._git("log", f"--format={_log_format(nonce)}", *span), nonce=nonce)]
    mark = f"\x1e{nonce}"
    out = repo._git("log", "--name-status", f"--format=%x1e{nonce}%H", *span).decode("utf-8", "surrogateescape")
    changed: dict[str, tuple[tuple[str, str], ...]] = {}
    for record in out.split(mark)[1:]:
        sha, _, rest = record.partition("\0")
        tokens = [t for t in rest.lstrip("\n").split("\0") if t]
        pairs = zip(tokens[0::2], tokens[1::2], strict=False)
        changed[sha.strip()] = tuple((status[0], path) for status, path in pairs if owning_document(path) == document_path)
    return [FileCommit(revision=r, changes=changed.get(r.commit, ())) for r in revisions]


def largest_objects(repo: ContentRepository, *, limit: int = 20) -> list[LargeObject]:
    """The largest blobs anywhere in the repository's history (all refs), largest first: what an
    administrator looks at when the repository grows."""
    if limit < 1:
        raise StorageError("limit 须为正整数")
    listed = repo._git("rev-list", "--objects", "--all").decode("utf-8", "surrogateescape")
    paths: dict[str, str] = {}
    for line in listed.splitlines():
        sha, _, path = line.partition(" ")
        if path and sha not in paths:
            paths[sha] = path
    if not paths:
        return []
    query = "".join(f"{sha}\n" for sha in paths).encode()
    checked = repo._git("cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize) %(objectsize:disk)", input=query)
    blobs = []
    for line in checked.decode("ascii").splitlines():
        kind, sha, size, disk = line.split()
        if kind == "blob":
            display = paths[sha].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            blobs.append(LargeObject(sha=sha, size=int(size), packed=int(disk), path=display))
    blobs.sort(key=lambda b: (-b.size, b.path))
    return blobs[:limit]


def repository_size(repo: ContentRepository) -> int:
    """Bytes the object database takes on disk (loose objects and packs)."""
    out = repo._git("count-objects", "-v").decode("ascii")
    values = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return (int(values.get("size", 0)) + int(values.get("size-pack", 0))) * 1024


READ_LIMIT = 1 << 30  # files the product wrote passed ATTACHMENT_MAX_BYTES; this only bounds what was pushed


def draft_file_changes(repo: ContentRepository, document_path: str, *, since: str, until: str) -> dict[str, bytes | None]:
    """The document's own files that differ between two commits (a draft's base and tip), as
    the changes that carry them elsewhere: new contents, or None for a file removed."""
    old = {f.path: f.blob for f in document_files(repo, document_path, since)}
    new = {f.path: f.blob for f in document_files(repo, document_path, until)}
    changes: dict[str, bytes | None] = dict.fromkeys((p for p in old if p not in new), None)
    for path, blob in new.items():
        if old.get(path) != blob:
            changes[path] = read_file(repo, path, until, max_bytes=READ_LIMIT)
    return changes
