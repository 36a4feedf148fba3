"""The pictures a body refers to, as files of its document: named, found, kept or removed.

A picture lives at `<folder>/images/image-<12 hex of its SHA-256>.png|.jpg` and the body refers
to it relative to its own file (`![图](A101Z/images/image-….png)`, see `pictures.picture_path`).
Everything that writes pictures (the Word import, the editor's 插入图片) names them here, and
every save of a body asks `unreferenced` which of the document's pictures the new text no longer
shows: those are removed in the same commit, so a picture deleted from the text does not stay
behind in the repository's current tree (its blob stays in history, as every old version does).
"""

from __future__ import annotations

import hashlib
import html as html_escaping
import re
from collections.abc import Callable, Iterable

from zhengai_docs.attachments.pictures import picture_path
from zhengai_docs.errors import NotFound
from zhengai_docs.render.html import image_reference, render_source
from zhengai_docs.storage.files import READ_LIMIT, StoredFile, read_file
from zhengai_docs.storage.paths import IMAGES_DIR, files_folder
from zhengai_docs.storage.repository import ContentRepository

_IMG_SRC = re.compile(r'<img\b[^>]*?\ssrc="([^"]*)"')


def picture_name(data: bytes, *, suffix: str) -> str:
    """The generated name of a (cleaned) picture: `image-<12 hex of its SHA-256><suffix>`."""
    if suffix not in (".png", ".jpg"):
        raise ValueError(f"not a picture suffix: {suffix!r}")
    return f"image-{hashlib.sha256(data).hexdigest()[:12]}{suffix}"


def picture_reference(document_path: str, name: str) -> str:
    """How the body refers to its picture `name`: `A101Z/images/<name>`."""
    return f"{files_folder(document_path).rsplit('/', 1)[1]}/{IMAGES_DIR}/{name}"


def picture_repository_path(document_path: str, name: str) -> str:
    return f"{files_folder(document_path)}/{IMAGES_DIR}/{name}"


def referenced_pictures(document_path: str, body: str) -> set[str]:
    """Repository paths of the document's own pictures that `body` shows (as the page renders
    it: a reference inside a code block is text, not a picture)."""
    html = render_source(body).html
    found = set()
    for source in _IMG_SRC.findall(html):
        path = picture_path(document_path, image_reference(html_escaping.unescape(source)))
        if path is not None:
            found.add(path)
    return found


def unreferenced(document_path: str, body: str, files: Iterable[StoredFile]) -> dict[str, bytes | None]:
    """The removals that drop the document's pictures `body` no longer shows ({} when none)."""
    kept = referenced_pictures(document_path, body)
    prefix = f"{files_folder(document_path)}/{IMAGES_DIR}/"
    return {f.path: None for f in files if f.path.startswith(prefix) and f.path not in kept}


def relocate(markdown: str, *, old_folder: str, new_folder: str) -> str:
    """References `](<old_folder>/image-…)` rewritten to `new_folder` (a folder import learns the
    document's code only after converting; it converts with a unique placeholder folder)."""
    return markdown.replace(f"]({old_folder}/image-", f"]({new_folder}/image-")


def picture_reader(repo: ContentRepository, document_path: str, *, revision: str) -> Callable[[str], bytes | None]:
    """`read_image` for Word exports outside the web (the CLI): the bytes of each of the
    document's own pictures the body refers to, at a commit; None for anything else."""

    def read(reference: str) -> bytes | None:
        path = picture_path(document_path, reference)
        if path is None:
            return None
        try:
            return read_file(repo, path, revision, max_bytes=READ_LIMIT)
        except NotFound:
            return None

    return read
