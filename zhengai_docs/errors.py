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


class UnreadableContent(InvalidFrontMatter):
    """A file in git is not usable text at all (not UTF-8, binary, too large, missing object).

    A kind of InvalidFrontMatter on purpose: every reader that confines broken YAML to its own
    document (the cache, the index, the handbook, doctor) confines this the same way."""


class ConfigurationError(ZhengaiError):
    """A setting names something this installation cannot use (e.g. a driver that is not installed)."""


class StorageError(ZhengaiError):
    """Git refused an operation for a reason other than a conflict."""


class StorageUnavailable(StorageError):
    """A store could not be written for a reason no retry fixes soon: a read-only file system, no
    permission, a full disk. Nothing was changed; `store` and `cause` are named to the user."""

    status = 503

    def __init__(self, *, store: str, cause: str) -> None:
        self.store = store  # e.g. 内容仓库, 搜索索引
        self.cause = cause  # e.g. 磁盘已满, 文件系统只读
        super().__init__(f"{store}无法写入（{cause}）")


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


class TooComplex(Refused):
    """A document body is beyond the limits that keep rendering it cheap (render/limits.py):
    too large, nested too deep, or with too many unpaired brackets; the message says what and where."""

    def __init__(self, *, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"正文第 {line} 行：{message}" if line is not None else f"正文：{message}")
