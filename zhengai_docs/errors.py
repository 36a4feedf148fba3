"""Domain exceptions. One place (web.errors) maps them to HTTP statuses."""

from __future__ import annotations


class ZhengaiError(Exception):
    """Base of every error this package raises on purpose."""

    status = 500


class InvalidCode(ZhengaiError):
    """A catalogue code, path or revision id failed the allow-list."""

    status = 400


class InvalidFrontMatter(ZhengaiError):
    """A document's YAML front matter is malformed or contradicts its file."""

    status = 400

    def __init__(self, *, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class StorageError(ZhengaiError):
    """Git refused an operation for a reason other than a conflict."""


class NotFound(ZhengaiError):
    """The document, revision or item does not exist."""

    status = 404


class Conflict(ZhengaiError):
    """The document changed since the version the writer started from."""

    status = 409

    def __init__(self, *, path: str, base: str | None, head: str) -> None:
        self.path = path
        self.base = base
        self.head = head
        super().__init__(f"{path} changed since {base or 'nothing'} (now at {head[:12]})")


class ImportProblem(ZhengaiError):
    """A table or file could not be imported at all."""

    status = 400


class NotAllowed(ZhengaiError):
    """The user's role does not allow this step (a draft transition, a review confirmation)."""

    status = 403


class Refused(ZhengaiError):
    """The step does not fit the current state or its input is incomplete (e.g. publishing
    before approval, a review without a reason)."""

    status = 400
