"""Recognising a retried save: the connection dropped after the save was committed, and the
browser (or the user) sends the same text again from the same starting point.

The save is then already made — the first commit after the writer's base that changed the file
holds exactly this text (the same blob) by the same author — and the retry is answered as the
success it was, not as a conflict with "someone else's" version that is in fact one's own.
"""

from __future__ import annotations

import hashlib

from zhengai_docs.storage.paths import content_path, revision_id
from zhengai_docs.storage.repository import Author, ContentRepository
from zhengai_docs.storage.text import encode_text


def blob_id(text: str, *, path: str) -> str:
    """The id git gives the blob of `text` as the product writes it (storage.objects)."""
    data = encode_text(text, path=path)
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def earlier_save(repo: ContentRepository, *, path: str, text: str, author: Author, since: str, until: str) -> str | None:
    """The commit that made this save already, if there is one.

    That is the first commit after `since` on the first-parent line up to `until` that changed
    `path`, provided it holds exactly `text` and its author is `author` (name and address).
    """
    path, since, until = content_path(path), revision_id(since), revision_id(until)
    out = repo._git("rev-list", "--first-parent", "--reverse", f"{since}..{until}", "--", path).decode().split()
    if not out:
        return None
    first = out[0]
    if repo.blob_ids(first, [path])[path] != blob_id(text, path=path):
        return None
    name, _, email = repo._git("log", "-1", "--format=%an%x00%ae", first).decode("utf-8", "replace").strip().partition("\0")
    return first if (name, email) == (author.name, author.email) else None
