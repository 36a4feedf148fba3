"""Where a picture a body refers to lives: the one rule every reader of pictures shares.

A body names its pictures relative to its own file (`![图](A101Z/images/image-3f2a9c1b7d4e.png)`
in `regulations/A/A1/A101Z.md`). Only a reference that lands in that document's own `images/`
folder, under a name the program generates, is a picture of the document; anything else (`../`,
another document's folder, an attachment, an absolute path, a URL) is not, and is shown as its alt text.
"""

from __future__ import annotations

import posixpath

from zhengai_docs.storage.paths import IMAGES_DIR, files_folder, owning_document


def picture_path(document_path: str, reference: str) -> str | None:
    """The repository path of the picture `reference` in the body of `document_path`, or None."""
    if not reference or reference.startswith(("/", "\\")) or "\\" in reference or ":" in reference:
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(document_path), reference))
    if posixpath.dirname(path) != f"{files_folder(document_path)}/{IMAGES_DIR}":
        return None
    return path if owning_document(path) == document_path else None
