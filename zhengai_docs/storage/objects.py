"""Git objects built in-process: trees along a changed path, and commit objects.

A save changes one file four directories deep. Rebuilding the whole index for that
(`read-tree` + `update-index` + `write-tree`) costs time proportional to the repository; here
only the trees on the changed paths are read (one `cat-file --batch` call), rewritten in memory
and stored as loose objects through gitdb (GitPython's object database), with no process at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO

from gitdb import IStream, LooseObjectDB

from zhengai_docs.storage.faults import REPOSITORY, unwritable
from zhengai_docs.storage.text import encode_text

TREE_MODE = b"40000"
BLOB_MODE = b"100644"


@dataclass(frozen=True)
class Entry:
    mode: bytes
    sha: str


Tree = dict[str, Entry]


def parse_tree(raw: bytes) -> Tree:
    """Entries of a raw tree object: '<mode> <name>\\0<20-byte sha>' repeated.

    Names pushed from outside need not be UTF-8; they are kept as surrogate escapes, so a
    write next to them puts them back byte for byte."""
    entries: Tree = {}
    pos = 0
    while pos < len(raw):
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        name = raw[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries[name] = Entry(mode=raw[pos:space], sha=raw[nul + 1 : nul + 21].hex())
        pos = nul + 21
    return entries


def serialise_tree(entries: Tree) -> bytes:
    """Git's order: by name, with directories compared as if their name ended in '/'."""

    def key(name: str) -> bytes:
        return name.encode("utf-8", "surrogateescape") + (b"/" if entries[name].mode == TREE_MODE else b"")

    return b"".join(
        entries[n].mode + b" " + n.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(entries[n].sha)
        for n in sorted(entries, key=key)
    )


def parent_dirs(path: str) -> list[str]:
    """'a/b/c.md' -> ['', 'a', 'a/b'] (the root is '')."""
    parts = path.split("/")[:-1]
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


class ObjectWriter:
    def __init__(self, objects_dir: str) -> None:
        self._db = LooseObjectDB(objects_dir)

    def store(self, kind: bytes, data: bytes) -> str:
        """Write one loose object; a disk that refuses it raises StorageUnavailable.

        The object is hashed and compressed here and handed to gitdb ready to copy: gitdb's own
        compressing writer leaks its file (descriptor and disk space) when the disk fills up
        while it closes, while its copying writer closes cleanly and removes the temporary file.
        Nothing refers to an object before the ref update, so a failed write leaves nothing."""
        raw = kind + b" " + str(len(data)).encode("ascii") + b"\0" + data
        sha = hashlib.sha1(raw, usedforsecurity=False).digest()  # git's object id
        stream = IStream(kind, len(data), BytesIO(zlib.compress(raw, zlib.Z_BEST_SPEED)), sha=sha)
        try:
            return str(self._db.store(stream).hexsha.decode("ascii"))
        except OSError as exc:
            raise unwritable(exc, store=REPOSITORY) from exc

    def blob(self, text: str, *, path: str | None = None) -> str:
        """Store a file's text; refused (storage.text) when it could not be read back as content."""
        return self.store(b"blob", encode_text(text, path=path))

    def apply(self, trees: Mapping[str, Tree], blobs: Mapping[str, str | None]) -> str:
        """Write the trees that change when `blobs` (path -> blob, None = delete) are applied.

        `trees` holds the current entries of every directory on the changed paths (missing
        directories are absent). Returns the new root tree id.
        """
        changed: dict[str, Tree] = {}
        for path, blob in blobs.items():
            directory, _, name = path.rpartition("/")
            entries = changed.setdefault(directory, dict(trees.get(directory, {})))
            if blob is None:
                entries.pop(name, None)
            else:
                entries[name] = Entry(mode=BLOB_MODE, sha=blob)
        # Write the deepest directories first and hook each into its parent.
        for directory in sorted({d for p in blobs for d in parent_dirs(p)}, key=lambda d: -d.count("/") - (d != "")):
            entries = changed.setdefault(directory, dict(trees.get(directory, {})))
            if directory == "":
                continue
            parent, _, name = directory.rpartition("/")
            parent_entries = changed.setdefault(parent, dict(trees.get(parent, {})))
            if entries:
                parent_entries[name] = Entry(mode=TREE_MODE, sha=self.store(b"tree", serialise_tree(entries)))
            else:
                parent_entries.pop(name, None)  # git has no empty directories
        return self.store(b"tree", serialise_tree(changed.get("", dict(trees.get("", {})))))

    def commit(self, *, tree: str, parent: str | None, author: tuple[str, str], message: str, date: dt.datetime | None) -> str:
        when = date or dt.datetime.now().astimezone()
        now = dt.datetime.now().astimezone()
        lines = [f"tree {tree}"]
        if parent is not None:
            lines.append(f"parent {parent}")
        lines.append(f"author {author[0]} <{author[1]}> {_git_time(when)}")
        lines.append(f"committer zhengai-docs <zhengai-docs@localhost> {_git_time(now)}")
        return self.store(b"commit", ("\n".join(lines) + "\n\n" + message).encode("utf-8"))


def _git_time(when: dt.datetime) -> str:
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{int(when.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
