"""The server-side search backend: the index as tables in the PostgreSQL database (`SEARCH_BACKEND
= "postgresql"`), shared by every process and every node that uses that database.

- `search_documents`: one row per document — its folded match text (`hits.match_text`, kept
  uncompressed in the row) with a `pg_trgm` GIN index, the filter fields and the display
  fields. A term is matched by `LIKE '%term%'` on the folded text: exact by definition (the
  trigram index only selects candidates; PostgreSQL rechecks every row), and the counts for
  ranking are taken from the same text. Terms of one or two characters have no trigram:
  PostgreSQL scans, which `benchmarks/search_bench.py` measures.
- `search_words`: each document's words (rjieba, for whole-word ranking) with a GIN index, in a
  narrow table of their own: a common word's documents are read from the index and a small
  heap, not from every document's row.
- `search_state`: the commit the rows reflect, the schema version, the analysis fingerprint,
  the number of documents and their total length (BM25).
  A writer is a transaction that locks this row (`SELECT … FOR UPDATE`, `lock_timeout` →
  IndexBusy): the commit is read under the lock and written in the same transaction as the
  rows, so an update is applied exactly once and is visible all at once, or not at all.
- `search_vocabulary`: every word ever indexed, for "did you mean" suggestions.

The backend owns these tables rather than an Alembic migration: a rebuild creates a new table
beside the live one, loads it with COPY, builds its indexes once (far faster than maintaining
them row by row), catches up under the state lock and swaps it in by renaming, all in one
transaction — DDL that a migration cannot describe, on PostgreSQL only; a process that dies
mid-rebuild leaves nothing behind. They are a cache: `backup` leaves them out.

Statements run with `plan_cache_mode = force_custom_plan` (SET LOCAL): psycopg prepares a
statement after five executions, and PostgreSQL's generic plan for a prepared `LIKE $1` cannot
know the pattern's length, so it scanned the whole trigram index for two-character patterns.
The database needs a UTF-8 `LC_CTYPE` (under `C`, pg_trgm ignores every Chinese character):
the backend checks that pg_trgm sees Chinese trigrams and refuses to build otherwise.
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from zhengai_docs.errors import ConfigurationError
from zhengai_docs.search.analysis import analysis_fingerprint, index_words, query_words
from zhengai_docs.search.backend import (
    REPEALED,
    AttachmentText,
    IndexBusy,
    IndexedDocument,
    IndexMissing,
    IndexState,
    IndexWriter,
    Progress,
    SearchBackend,
    SearchFilters,
    SearchRequest,
    SearchResults,
    Sort,
    Suggestion,
)
from zhengai_docs.search.hits import MatchText, ShownDocument, build_hit, match_text, stored_attachments
from zhengai_docs.search.query import parse_query
from zhengai_docs.search.suggest import suggestions

SCHEMA_VERSION = 2  # of these tables; another version is treated as missing until `reindex`
TITLE, WHOLE_WORD = 1e6, 1e4  # rank tiers, as `matching` ranks in the Whoosh backend
_K1, _B = 1.2, 0.75
_REBUILD_LOCK = 0x7A68_5365_6172  # pg advisory lock key: one rebuild at a time
_MISSING = "搜索索引尚未建立，请管理员运行 zhengai-docs reindex"
_COLUMNS = (
    "code", "title", "doc_number", "body", "attachments", "folded", "folded_title", "title_end", "body_end", "length",
    "doc_type", "level1", "level2", "item", "status", "departments", "points", "issued", "sort_order",
)  # fmt: skip


def _table_ddl(suffix: str) -> list[str]:
    """The folded text stays in the row, uncompressed (up to 8 KB): every search reads it."""
    return [
        f"""CREATE TABLE search_documents{suffix} (
        code varchar(5) PRIMARY KEY,
        title text NOT NULL,
        doc_number text,
        body text NOT NULL,
        attachments jsonb NOT NULL,
        folded text NOT NULL,
        folded_title text NOT NULL,
        title_end integer NOT NULL,
        body_end integer NOT NULL,
        length integer NOT NULL,
        doc_type varchar(1) NOT NULL,
        level1 varchar(1) NOT NULL,
        level2 varchar(2) NOT NULL,
        item varchar(4) NOT NULL,
        status text NOT NULL,
        departments text[] NOT NULL,
        points text[] NOT NULL,
        issued date,
        sort_order text NOT NULL
    ) WITH (toast_tuple_target = 8160)""",
        f"ALTER TABLE search_documents{suffix} ALTER COLUMN folded SET STORAGE MAIN",
        f"CREATE TABLE search_words{suffix} (code varchar(5) PRIMARY KEY, words text[] NOT NULL)",
    ]


def _index_ddl(suffix: str) -> list[str]:
    return [
        f"CREATE INDEX search_documents_folded{suffix} ON search_documents{suffix} USING gin (folded gin_trgm_ops)",
        f"CREATE INDEX search_words_words{suffix} ON search_words{suffix} USING gin (words)",
    ]


_RENAMES = (
    "ALTER TABLE search_documents_build RENAME TO search_documents",
    "ALTER INDEX search_documents_build_pkey RENAME TO search_documents_pkey",
    "ALTER INDEX search_documents_folded_build RENAME TO search_documents_folded",
    "ALTER TABLE search_words_build RENAME TO search_words",
    "ALTER INDEX search_words_build_pkey RENAME TO search_words_pkey",
    "ALTER INDEX search_words_words_build RENAME TO search_words_words",
)


def _order(code: str) -> str:
    """Catalogue order among equals: A101Z, A101L, A101B, A102Z … (as `schema.MatchRecord`)."""
    return code[:4] + str("ZLB".find(code[4:5]) % 3)


def _row(document: IndexedDocument) -> dict[str, Any]:
    match = match_text(document)
    return {
        "code": document.code,
        "title": document.title,
        "doc_number": document.doc_number,
        "body": document.body_text,
        "attachments": json.dumps([[a.label, a.text] for a in stored_attachments(document)], ensure_ascii=False),
        "folded": match.text,
        "folded_title": match.text[: match.title_end],
        "title_end": match.title_end,
        "body_end": match.body_end,
        "length": len(match.text),
        "doc_type": document.doc_type,
        "level1": document.level1,
        "level2": document.level2,
        "item": document.item,
        "status": document.status,
        "departments": list(document.departments),
        "points": list(document.points),
        "issued": document.issued,
        "sort_order": _order(document.code),
        "words": sorted(index_words(match.text)),
    }


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class _Writer(IndexWriter):
    """Changes inside the caller's transaction, which holds the state row's lock.

    The number of documents and their total length (BM25's average) are kept in the state row,
    changed by each write's difference: counting them again would read the whole table per save.
    `totals` gives them outright (a rebuild's new table).
    """

    def __init__(self, connection: Connection, *, suffix: str, recorded: str | None, totals: tuple[int, int] | None = None) -> None:
        self._connection = connection
        self._table = f"search_documents{suffix}"
        self._words = f"search_words{suffix}"
        self._recorded = recorded
        self._totals = totals
        self._documents = 0
        self._length = 0
        self.finished = False

    def _forget(self, code: str) -> None:
        old = self._connection.execute(text(f"SELECT length FROM {self._table} WHERE code = :code"), {"code": code}).scalar()  # noqa: S608
        if old is not None:
            self._documents -= 1
            self._length -= int(old)

    @property
    def recorded(self) -> str | None:
        return self._recorded

    def upsert(self, document: IndexedDocument) -> None:
        row = _row(document)
        self._forget(document.code)
        self._documents += 1
        self._length += row["length"]
        names = ", ".join(_COLUMNS)
        values = ", ".join(f"CAST(:{c} AS jsonb)" if c == "attachments" else f":{c}" for c in _COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "code")
        self._connection.execute(
            text(f"INSERT INTO {self._table} ({names}) VALUES ({values}) ON CONFLICT (code) DO UPDATE SET {updates}"),  # noqa: S608
            row,
        )
        self._connection.execute(
            text(f"INSERT INTO {self._words} VALUES (:code, :words) ON CONFLICT (code) DO UPDATE SET words = EXCLUDED.words"),  # noqa: S608
            {"code": row["code"], "words": row["words"]},
        )
        _remember_words(self._connection, row["words"])

    def delete(self, code: str) -> None:
        self._forget(code)
        for table in (self._table, self._words):
            self._connection.execute(text(f"DELETE FROM {table} WHERE code = :code"), {"code": code})  # noqa: S608 - names are constants, values bound

    def finish(self, commit: str | None) -> None:
        if self._totals is None:
            statement = (
                "UPDATE search_state SET commit = :commit, documents = documents + :documents, total_length = total_length + :length"
            )
            documents, length = self._documents, self._length
        else:
            statement = "UPDATE search_state SET commit = :commit, documents = :documents, total_length = :length"
            documents, length = self._totals[0] + self._documents, self._totals[1] + self._length
        self._connection.execute(text(statement + " WHERE id = 1"), {"commit": commit, "documents": documents, "length": length})
        self.finished = True


def _remember_words(connection: Connection, words: Sequence[str]) -> None:
    if words:
        connection.execute(
            text("INSERT INTO search_vocabulary (word) SELECT unnest(CAST(:words AS text[])) ON CONFLICT DO NOTHING"),
            {"words": list(words)},
        )


class PostgresBackend(SearchBackend):
    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ConfigurationError(
                'SEARCH_BACKEND = "postgresql" 需要 PostgreSQL 数据库，但 DATABASE_URL 指向 '
                f'{engine.dialect.name}：请把 DATABASE_URL 设为 postgresql+psycopg://…，或改用 SEARCH_BACKEND = "whoosh"'
            )
        self.engine = engine
        self._fingerprint = analysis_fingerprint()

    # -- reading ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[tuple[Connection, Any]]:
        """A read transaction with custom plans, and the state row (IndexMissing without one)."""
        with self.engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            try:
                with connection.begin_nested():
                    state = connection.execute(
                        text("SELECT commit, schema_version, fingerprint, documents, total_length FROM search_state WHERE id = 1")
                    ).first()
            except ProgrammingError as exc:  # no table yet
                raise IndexMissing(_MISSING) from exc
            if state is None or state.schema_version != SCHEMA_VERSION:
                raise IndexMissing(_MISSING if state is None else "搜索索引来自旧版本，请管理员运行 zhengai-docs reindex")
            yield connection, state

    def state(self) -> IndexState:
        try:
            with self._reading() as (connection, state):
                size = connection.execute(text("SELECT pg_total_relation_size('search_documents')")).scalar() or 0
                return IndexState(
                    exists=True,
                    commit=state.commit,
                    documents=state.documents,
                    analysis_current=state.fingerprint == self._fingerprint,
                    size_bytes=int(size),
                )
        except IndexMissing:
            return IndexState(exists=False)

    def unwritable(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                read_only = connection.execute(
                    text("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'")
                ).scalar()
        except DBAPIError:
            return "无法连接数据库"
        return "数据库只读" if read_only else None

    def search(self, request: SearchRequest) -> SearchResults:
        terms = parse_query(request.text).terms
        with self._reading() as (connection, state):
            if not terms and not request.filters.active:
                return SearchResults(request=request, terms=terms, hits=(), total=0, commit=state.commit)
            page = max(1, request.page)
            whole = [_whole_word_documents(connection, term) for term in terms]
            statement = _page_query(terms, request.filters, request.sort, state, whole=whole, page=page, per_page=request.per_page)
            rows = connection.execute(*statement).all()
            total = rows[0].total if rows else self._count(connection, terms, request.filters) if page > 1 else 0
            idf = _idf(state.documents, total)
            hits = tuple(
                build_hit(
                    _shown(row, connection),
                    match=MatchText(text=row.folded, title_end=row.title_end, body_end=row.body_end),
                    terms=terms,
                    score=row.tiers + idf * (_K1 + 1) * row.frequency,
                    title_match=row.tiers >= TITLE,
                    snippets=request.snippets,
                )
                for row in rows
            )
            suggestions: tuple[Suggestion, ...] = ()
            if not total and terms and request.suggest:
                suggestions = self._suggestions(connection, terms, request.filters)
            return SearchResults(request=request, terms=terms, hits=hits, total=total, suggestions=suggestions, commit=state.commit)

    def _count(self, connection: Connection, terms: Sequence[str], filters: SearchFilters) -> int:
        where, params = _where(terms, filters)
        return int(connection.execute(text(f"SELECT count(*) FROM search_documents WHERE {where}"), params).scalar() or 0)  # noqa: S608 - names are constants, values bound

    def _suggestions(self, connection: Connection, terms: Sequence[str], filters: SearchFilters) -> tuple[Suggestion, ...]:
        return suggestions(
            terms,
            near_words=lambda term: _near_words(connection, term),
            count=lambda candidate: self._count(connection, candidate, filters),
        )

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, *, timeout: float) -> Iterator[IndexWriter]:
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                session = _Writer(connection, suffix="", recorded=self._lock_state(connection, timeout=timeout))
                yield session
            except BaseException:
                transaction.rollback()
                raise
            if session.finished:
                transaction.commit()
            else:
                transaction.rollback()  # leaving without `finish` discards the changes

    def _lock_state(self, connection: Connection, *, timeout: float) -> str | None:
        """Take the writer lock (the state row) and read the recorded commit under it."""
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
        try:
            with connection.begin_nested():
                state = connection.execute(text("SELECT commit, schema_version FROM search_state WHERE id = 1 FOR UPDATE")).first()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise IndexBusy("搜索索引正被其他进程更新，请稍后重试") from exc
            raise
        except ProgrammingError as exc:
            raise IndexMissing(_MISSING) from exc
        if state is None or state.schema_version != SCHEMA_VERSION:
            raise IndexMissing(_MISSING)
        return str(state.commit) if state.commit else None

    def merge_segments(self, *, timeout: float) -> bool:
        """Nothing to fold: PostgreSQL's autovacuum merges the GIN indexes' pending lists."""
        return False

    @contextlib.contextmanager
    def rebuild(
        self, documents: Iterable[IndexedDocument], *, commit: str | None, total: int, timeout: float, progress: Progress | None = None
    ) -> Iterator[IndexWriter]:
        """One transaction: the new table is private until the swap, and a rebuild that fails or
        dies leaves nothing behind; only its last step (catch-up and swap) holds the state lock."""
        with self.engine.connect() as connection, connection.begin():
            if not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _REBUILD_LOCK}).scalar():
                raise IndexBusy("另一个进程正在重建搜索索引")
            _prepare_database(connection)
            for statement in _table_ddl("_build"):
                connection.exec_driver_sql(statement)
            words, totals = _copy(connection, documents, total=total, progress=progress)
            for statement in _index_ddl("_build"):
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql("ANALYZE search_documents_build")
            connection.exec_driver_sql("ANALYZE search_words_build")
            _remember_words(connection, sorted(words))
            connection.execute(
                text("INSERT INTO search_state (id, schema_version, fingerprint) VALUES (1, :v, :f) ON CONFLICT (id) DO NOTHING"),
                {"v": SCHEMA_VERSION, "f": self._fingerprint},
            )
            self._lock_state_for_rebuild(connection, timeout=timeout)
            session = _Writer(connection, suffix="_build", recorded=commit, totals=totals)
            yield session
            if not session.finished:
                session.finish(commit)
            connection.exec_driver_sql("DROP TABLE IF EXISTS search_documents, search_words")
            for statement in _RENAMES:
                connection.exec_driver_sql(statement)
            connection.execute(
                text("UPDATE search_state SET schema_version = :v, fingerprint = :f WHERE id = 1"),
                {"v": SCHEMA_VERSION, "f": self._fingerprint},
            )

    def _lock_state_for_rebuild(self, connection: Connection, *, timeout: float) -> None:
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
        try:
            with connection.begin_nested():
                connection.execute(text("SELECT 1 FROM search_state WHERE id = 1 FOR UPDATE"))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":
                raise IndexBusy("搜索索引正被其他进程更新，请稍后重试") from exc
            raise


def _prepare_database(connection: Connection) -> None:
    """pg_trgm, a UTF-8 character type, and the tables that outlive a rebuild."""
    ctype = connection.execute(text("SELECT datctype FROM pg_database WHERE datname = current_database()")).scalar() or ""
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        raise ConfigurationError(
            "PostgreSQL 搜索需要 pg_trgm 扩展，但无法启用（请以数据库所有者身份执行 CREATE EXTENSION pg_trgm，"
            f"Debian 软件包 postgresql-contrib）：{exc.orig}"
        ) from exc
    if not connection.execute(text("SELECT cardinality(show_trgm('诊断点')) > 0")).scalar():  # empty under a C LC_CTYPE
        raise ConfigurationError(
            f"数据库的字符类型（LC_CTYPE）为 {ctype!r}，pg_trgm 在其下会忽略中文字符，搜索将找不到中文："
            "请用 UTF-8 区域设置新建数据库（例如 CREATE DATABASE … LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0），"
            '或改用 SEARCH_BACKEND = "whoosh"'
        )
    connection.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS search_state (id integer PRIMARY KEY CHECK (id = 1), commit varchar(64), "
        "schema_version integer NOT NULL, fingerprint text NOT NULL, documents integer NOT NULL DEFAULT 0, "
        "total_length bigint NOT NULL DEFAULT 0)"
    )
    connection.exec_driver_sql('CREATE TABLE IF NOT EXISTS search_vocabulary (word text COLLATE "C" PRIMARY KEY)')


def _copy(
    connection: Connection, documents: Iterable[IndexedDocument], *, total: int, progress: Progress | None
) -> tuple[set[str], tuple[int, int]]:
    """COPY every document into the build tables; the words seen (for the vocabulary), and the
    number of documents and their total length. Each document's words wait in a temporary file
    while its row is copied (one COPY at a time per connection; memory stays bounded)."""
    words: set[str] = set()
    length = 0
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    done = 0
    with tempfile.TemporaryFile() as spill:
        with cursor.copy(f"COPY search_documents_build ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for document in documents:
                row = _row(document)
                words.update(row["words"])
                length += row["length"]
                copy.write_row([row[c] for c in _COLUMNS])
                pickle.dump((row["code"], row["words"]), spill)
                done += 1
                if progress is not None and done % 50 == 0:
                    progress(done, max(total, done))
        spill.seek(0)
        with cursor.copy("COPY search_words_build (code, words) FROM STDIN") as copy:
            for _ in range(done):
                copy.write_row(pickle.load(spill))  # noqa: S301 - our own file, written just above
    if progress is not None:
        progress(done, max(total, done))
    return words, (done, length)


def _where(terms: Sequence[str], filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for n, term in enumerate(terms):
        if len(term) >= 3:  # the trigram index selects candidates; LIKE rechecks them
            clauses.append(f"folded LIKE :p{n}")
            params[f"p{n}"] = _like(term)
        else:  # no trigram to look up: a scan, where strpos is twice as fast as LIKE
            clauses.append(f"strpos(folded, :p{n}) > 0")
            params[f"p{n}"] = term
    if filters.doc_types:
        clauses.append("doc_type = ANY(:doc_types)")
        params["doc_types"] = list(filters.doc_types)
    for column, value in (("level1", filters.level1), ("level2", filters.level2), ("item", filters.item)):
        if value:
            clauses.append(f"{column} = :{column}")
            params[column] = value
    if filters.departments:
        clauses.append("departments && CAST(:departments AS text[])")
        params["departments"] = list(filters.departments)
    if filters.statuses:
        clauses.append("status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    else:
        clauses.append("status <> :repealed")
        params["repealed"] = REPEALED
    if filters.points:
        clauses.append("EXISTS (SELECT 1 FROM unnest(points) AS p WHERE p = ANY(:points) OR p LIKE ANY(:point_prefixes))")
        params["points"] = list(filters.points)
        params["point_prefixes"] = [_like(p + ".")[1:] for p in filters.points]
    if filters.issued_from is not None:
        clauses.append("issued >= :issued_from")
        params["issued_from"] = filters.issued_from
    if filters.issued_to is not None:
        clauses.append("issued <= :issued_to")
        params["issued_to"] = filters.issued_to
    return " AND ".join(clauses), params


def _page_query(
    terms: Sequence[str],
    filters: SearchFilters,
    sort: Sort,
    state: Any,
    *,
    whole: Sequence[list[str] | None],
    page: int,
    per_page: int,
) -> tuple[Any, dict[str, Any]]:
    """One statement: the matches ranked as `matching` ranks them, the total, and one page.
    `whole` names, per term, the documents where it is a whole word (None: it has no words).

    As in `matching`, occurrences are counted only where they can change the page: the tier
    (and for date order the date) of every match is known without reading its text, so the
    matches ranked at or above the page's last one on those keys are the only ones whose text
    is read again for the counts."""
    where, params = _where(terms, filters)
    tiers = ["0"]
    frequency = ["0"]
    if terms:
        tiers.append(
            "CASE WHEN " + " AND ".join(f"strpos(folded_title, :t{n}) > 0" for n in range(len(terms))) + f" THEN {TITLE} ELSE 0 END"
        )
    # occurrences in the title, issuing number and body, not in attachments (`matching._keys`)
    norm = f"({_K1 * (1 - _B)} + {_K1 * _B} * d.body_end / :average_length)"
    for n, term in enumerate(terms):
        params[f"t{n}"] = term
        count = f"((d.body_end - char_length(replace(left(d.folded, d.body_end), :t{n}, ''))) / {len(term)})"
        frequency.append(f"{count}::float8 / ({count} + {norm})")
        if whole[n] is not None:
            params[f"whole{n}"] = whole[n]
            tiers.append(f"CASE WHEN code = ANY(CAST(:whole{n} AS text[])) THEN {WHOLE_WORD} ELSE 0 END")
    params["average_length"] = max(1.0, state.total_length / max(1, state.documents))
    params["limit"] = per_page
    params["offset"] = (page - 1) * per_page
    params["last"] = page * per_page - 1
    if sort is Sort.DATE:  # issued DESC NULLS LAST, as a key that compares as a row
        prefix, prefix_order = "coalesce(issued, '-infinity'::date), tiers", "issued DESC NULLS LAST, tiers DESC"
    else:
        prefix, prefix_order = "tiers", "tiers DESC"
    order = f"{prefix_order}, frequency DESC, sort_order"
    reaches = f"({prefix.replace('issued', 'm.issued').replace('tiers', 'm.tiers')}) >= (SELECT * FROM boundary)"  # noqa: S608
    shown_order = order.replace("issued", "shown.issued").replace("sort_order", "shown.sort_order")
    statement = f"""
        WITH matches AS MATERIALIZED (
            SELECT code, issued, sort_order, ({" + ".join(tiers)})::float8 AS tiers FROM search_documents WHERE {where}
        ), boundary AS (
            SELECT {prefix} FROM matches ORDER BY {prefix_order} OFFSET :last LIMIT 1
        ), shown AS (
            SELECT m.code, m.issued, m.sort_order, m.tiers, ({" + ".join(frequency)})::float8 AS frequency
            FROM matches AS m JOIN search_documents AS d USING (code)
            WHERE NOT EXISTS (SELECT FROM boundary) OR {reaches}
            ORDER BY {order} LIMIT :limit OFFSET :offset
        )
        SELECT (SELECT count(*) FROM matches) AS total, shown.tiers, shown.frequency, d.code, d.title, d.doc_number, d.body,
               d.folded, d.title_end, d.body_end, d.doc_type, d.status, d.departments, d.points, d.issued
        FROM shown JOIN search_documents AS d USING (code) ORDER BY {shown_order}
    """  # noqa: S608 - names are constants, values bound
    return text(statement), params


def _idf(documents: int, matches: int) -> float:
    """Every match contains every term, so one weight serves all terms (BM25's idf)."""
    documents = max(documents, 1)
    return math.log(1 + (max(documents - matches, 0) + 0.5) / (matches + 0.5))


def _shown(row: Any, connection: Connection) -> ShownDocument:
    return ShownDocument(
        code=row.code,
        title=row.title,
        doc_number=row.doc_number or None,
        body=row.body,
        attachments=lambda: _attachments(connection, row.code),
        doc_type=row.doc_type,
        status=row.status,
        departments=tuple(row.departments),
        points=tuple(row.points),
        issued=row.issued,
    )


def _attachments(connection: Connection, code: str) -> tuple[AttachmentText, ...]:
    """A document's attachments' texts, read only for a hit found in them alone (`ShownDocument`)."""
    stored = connection.execute(text("SELECT attachments FROM search_documents WHERE code = :code"), {"code": code}).scalar()
    return tuple(AttachmentText(label=label, text=body) for label, body in (stored or ()))


def _whole_word_documents(connection: Connection, term: str) -> list[str] | None:
    """The documents indexed under every word of `term` (None: it has no words), through the words'
    GIN index. The planner, seeing a word in most documents, would rather read every row's words
    (350 ms at 20,000 documents) than the index (5 ms): sequential scans are off for this one."""
    words = query_words(term)
    return _documents_with_words(connection, words) if words else None


def _documents_with_words(connection: Connection, words: list[str]) -> list[str]:
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        found = connection.execute(
            text("SELECT coalesce(array_agg(code), '{}') FROM search_words WHERE words @> CAST(:words AS text[])"), {"words": words}
        ).scalar()
    finally:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    return list(found or ())


def _near_words(connection: Connection, term: str) -> list[str]:
    """Indexed words within edit distance 1 (2 for terms over four characters) sharing the
    first character, most frequent first (the Whoosh backend's `terms_within`)."""
    distance = 1 if len(term) <= 4 else 2
    rows = connection.execute(
        text("SELECT word FROM search_vocabulary WHERE word LIKE :prefix AND char_length(word) BETWEEN :shortest AND :longest"),
        {"prefix": _like(term[:1])[1:], "shortest": max(1, len(term) - distance), "longest": len(term) + distance},
    ).scalars()
    near = [w for w in rows if w != term and _edit_distance(w, term) <= distance]
    counted = []
    for word in near[:20]:
        documents = len(_documents_with_words(connection, [word]))
        if documents:
            counted.append((-documents, word))
    return [word for _, word in sorted(counted)[:4]]


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
