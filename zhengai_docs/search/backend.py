"""The search interface the web layer and the indexer use, and the values that cross it.

A backend keeps one entry per document of one commit and answers `SearchRequest`s. It is kept
this small so that a server-side engine can replace the embedded Whoosh index without touching
views or the indexer. A backend must:
- find every document whose folded display text contains every query term, and no other
  (see `analysis`), honour the filters, and hide repealed documents unless asked for;
- record the commit its entries reflect, change it only inside an exclusive `writer()`, and
  build a replacement with `rebuild()` while the old index keeps serving searches.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import math
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from zhengai_docs.errors import ZhengaiError

Progress = Callable[[int, int], None]
REPEALED = "废止"


class IndexBusy(ZhengaiError):
    """Another process kept the index writer for longer than we were willing to wait."""

    status = 503


class SearchUnavailable(ZhengaiError):
    """The index cannot be used: missing, from an older version, or damaged."""

    status = 503


class IndexMissing(SearchUnavailable):
    """No usable index yet: `zhengai-docs reindex` builds it (it is never built on a request)."""


class Sort(enum.Enum):
    RELEVANCE = "relevance"
    DATE = "date"


@dataclass(frozen=True)
class AttachmentText:
    """The text of one of a document's attachments (附件), searched like its body."""

    label: str  # as the page names it, e.g. "附件2 评分细则.xlsx"
    text: str


@dataclass(frozen=True)
class IndexedDocument:
    """What the index keeps of one document (built from its file by `indexer`)."""

    code: str
    title: str
    doc_type: str
    status: str
    departments: tuple[str, ...]
    points: tuple[str, ...]
    issued: dt.date | None
    doc_number: str | None
    body_text: str
    attachments: tuple[AttachmentText, ...] = ()

    @property
    def item(self) -> str:
        return self.code[:4]

    @property
    def level1(self) -> str:
        return self.code[:1]

    @property
    def level2(self) -> str:
        return self.code[:2]


@dataclass(frozen=True)
class IndexState:
    exists: bool
    commit: str | None = None
    documents: int = 0
    analysis_current: bool = True  # built with this process's dictionary and tokenizer
    size_bytes: int = 0


@dataclass(frozen=True)
class SearchFilters:
    """Empty means "any"; `statuses` empty means everything except repealed documents."""

    doc_types: tuple[str, ...] = ()
    level1: str | None = None
    level2: str | None = None
    item: str | None = None
    departments: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    points: tuple[str, ...] = ()  # "2.1" also matches 2.1.1, 2.1.2 …
    issued_from: dt.date | None = None
    issued_to: dt.date | None = None

    @property
    def active(self) -> bool:
        return self != SearchFilters()


@dataclass(frozen=True)
class SearchRequest:
    text: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    per_page: int = 20
    snippets: bool = True
    suggest: bool = True


@dataclass(frozen=True)
class SearchHit:
    code: str
    title: str
    title_html: str  # escaped, matches wrapped in <mark>
    snippet_html: str  # escaped, matches wrapped in <mark>
    doc_number_html: str
    doc_type: str
    status: str
    departments: tuple[str, ...]
    points: tuple[str, ...]
    issued: dt.date | None
    doc_number: str | None
    score: float
    title_match: bool
    attachment: str | None = None  # the label of the attachment the snippet comes from (见附件2)


@dataclass(frozen=True)
class Suggestion:
    text: str
    hits: int


@dataclass(frozen=True)
class SearchResults:
    request: SearchRequest
    terms: tuple[str, ...]
    hits: tuple[SearchHit, ...]
    total: int
    suggestions: tuple[Suggestion, ...] = ()
    commit: str | None = None  # the commit the index reflected

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.request.per_page))


class IndexWriter(abc.ABC):
    """Changes to an index under its exclusive writer; nothing is visible before `finish`."""

    @property
    @abc.abstractmethod
    def recorded(self) -> str | None:
        """The commit the index reflects now (read under the writer lock)."""

    @abc.abstractmethod
    def upsert(self, document: IndexedDocument) -> None: ...

    @abc.abstractmethod
    def delete(self, code: str) -> None: ...

    @abc.abstractmethod
    def finish(self, commit: str | None) -> None:
        """Record `commit` and publish the changes when the writer's block ends without error."""


class SearchBackend(abc.ABC):
    """A search engine for one content repository's documents."""

    @abc.abstractmethod
    def search(self, request: SearchRequest) -> SearchResults:
        """Raises IndexMissing when there is no usable index."""

    @abc.abstractmethod
    def state(self) -> IndexState: ...

    @abc.abstractmethod
    def writer(self, *, timeout: float) -> AbstractContextManager[IndexWriter]:
        """The exclusive writer of the live index (IndexBusy after `timeout` s, IndexMissing if none).

        Leaving the block without `finish` (or with an exception) discards the changes.
        """

    @abc.abstractmethod
    def rebuild(
        self, documents: Iterable[IndexedDocument], *, commit: str | None, total: int, timeout: float, progress: Progress | None = None
    ) -> AbstractContextManager[IndexWriter]:
        """Index `documents` (the content at `commit`) into a new index while the old one serves.

        The returned writer holds the writer lock on the new index so that the caller can catch
        up with commits made meanwhile; leaving the block replaces the live index atomically.
        """

    @abc.abstractmethod
    def merge_segments(self, *, timeout: float) -> bool:
        """Fold the small pieces that saves leave behind (saves never wait for this; the
        background follower calls it). True when something was merged."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open files (tests, shutdown)."""

    def unwritable(self) -> str | None:
        """Why the index cannot be written now (e.g. 文件系统只读, 磁盘已满), or None. Cheap: a
        save whose index update failed names the cause with it, and /healthz polls it."""
        return None
