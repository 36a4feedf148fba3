"""Load benchmark: the real server, several worker processes, a mixed load over HTTP (issue 15).

Builds an instance folder with N generated documents (`corpus.py`), or reuses one with
`--keep DIR`, initialises it with the real command (`zhengai-docs init`: migrations, the built-in
frameworks, the SQL cache, the search index) and creates the accounts: two administrators, a
quality-office user, two editors per department, readers. Then it starts
`zhengai-docs --instance DIR serve --workers W` (gunicorn when W > 1, waitress otherwise) and
drives it from 1, 4 and 16 concurrent clients, each level for a bounded time. A client behaves
like a browser: its own cookies and kept-alive connection per session, signed in through /login,
every POST carrying its form's CSRF token, redirects followed. The clients repeat operations
dealt from one shuffled deck in the proportions of `--mix` (so every level runs the same mix):

- page, search (~80 % of the requests): a document page; a search for a Chinese word of the corpus;
- save: the editor page's form read with lxml and posted back with a body carrying a unique
  marker, on a document no other client writes: it must be saved (302), never a conflict;
- pair: two sessions open the editor of one document at the same base and post at once: exactly
  one must be saved and the other get the 409 conflict page;
- draft: 发起修订, 保存草稿, 提交审核 (an editor of a lead department), 批准 with a 文号,
  发布为现行版本 (the quality office).

Which writes reach `main`: with REVIEW_REQUIRED on (the default, as colleges run it) editors
cannot save to the version in force; it changes only by publishing reviewed drafts and by the
administrators' 直接修改（勘误）. So by default save and pair are administrators' corrections
(two administrator accounts), and editors write drafts. `--no-review` turns REVIEW_REQUIRED off:
saves and pairs are then the department editors' own direct saves.

Printed per client level: requests/s (answered within the level's time: operations under way at
its end are finished but not counted, `Window`), p50/p95/p99 per request kind, the 5xx count (must be 0),
every unexpected answer (request, status, excerpt, server log lines), and the CPU the server and
the load generator used (per request, and in cores) with the machine's busy share: the generator
runs on the same cores, so it must stay light (http.client on kept-alive connections: ~0.6 ms of
CPU a request, against 15–20 ms for the server), and a level whose server used less than the
cores left to it was waiting (locks), not computing. A level may be repeated (`--clients
4,16,4,16,4`): each round is reported on its own, and the summary compares each 16-client round
with the 4-client rounds beside it (`bracketed`). Rounds of 20–30 s are noisy on 2 cores: the
follower's index merges and the workers' replacement (each after 4,000–6,000 requests: ~0.7 s of
CPU and cold caches) land in one round or another. Then it checks that
nothing acknowledged was lost — every marker of a save answered 302 and of a publication is in
git at head and found by a search; the SQL cache's blob equals git's for every document; the
409 side of a pair wrote nothing — and prints the verdicts of `git fsck` and
`zhengai-docs doctor` and the peak RSS (VmHWM) of every server process. Exits 1 on a failure.

Targets (issue 15, 2 cores): save p95 ≤ 200 ms with 4 workers at 4 clients; throughput at 16
clients no worse than at 4; zero 5xx; zero lost saves; ≤ 200 MB per worker after the mixed load
on 5,000 documents; search p95 ≤ 40 ms.

    python benchmarks/load_bench.py --documents 300 --seconds 5 --clients 1,4
    python benchmarks/load_bench.py --keep /tmp/load-5k        # 5,000 documents, 4 workers, 1/4/16 clients × 30 s
    python benchmarks/load_bench.py --documents 300 --seconds 5 --clients 1,4 \\
        --postgres-admin postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    python benchmarks/load_bench.py --keep /tmp/load-5k --workers 1 --no-review
    python benchmarks/load_bench.py --keep /tmp/load-5k --clients 4,16,4,16,4,16,4 --seconds 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lxml.html
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks.corpus import DEPARTMENTS, OBJECTS, SUBJECTS, build
from benchmarks.measure import percentile
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import CacheState, DocumentDepartment, DocumentRow
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.users import Role, create_user

PASSWORD = "load-bench-password"  # noqa: S105 - throw-away benchmark accounts
ADMIN, ADMIN2, QUALITY = "lb-admin", "lb-admin2", "lb-quality"
READERS = 4
WORDS = SUBJECTS + OBJECTS + DEPARTMENTS[:4]
KINDS = (  # request kinds in report order; the first two are the reads
    "GET document page",
    "GET search",
    "GET editor",
    "POST save",
    "GET after save",
    "POST pair save (same base)",
    "GET revise form",
    "POST open revision",
    "GET draft editor",
    "POST save draft",
    "GET draft page",
    "POST submit",
    "POST approve",
    "POST publish",
    "GET after publish",
)
READ_KINDS = KINDS[:2]
DEFAULT_MIX = "page=55,search=40,save=3,pair=1,draft=1"
WORKER_TIMEOUT = 120  # seconds a request may take before the client gives up (the server's own)
LOG_ALARMS = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|WORKER TIMEOUT")


# -- recording -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    round: int
    kind: str
    ms: float
    status: int
    done: float  # time.monotonic() when the answer was read


@dataclass(frozen=True)
class Problem:
    round: int
    kind: str
    request: str
    status: int
    excerpt: str


@dataclass(frozen=True)
class Marked:
    """A marker string put into a document by one save (or one published draft)."""

    code: str
    marker: str
    how: str


@dataclass
class Recorder:
    """Everything the clients saw, tagged with the round: the position of its client level in
    `--clients` from 1 (a level may be repeated: 4,16,4,16), 0 for setup, -1 for verification."""

    round: int = 0
    clients: dict[int, int] = field(default_factory=dict)  # round → its client level
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    saved: list[Marked] = field(default_factory=list)  # acknowledged: must be in git, cache, search
    refused: list[Marked] = field(default_factory=list)  # the 409 side of a pair: must be nowhere
    outcomes: Counter[tuple[int, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, kind: str, ms: float, status: int) -> None:
        with self._lock:
            self.samples.append(Sample(self.round, kind, ms, status, time.monotonic()))

    def problem(self, kind: str, request: str, status: int, excerpt: str) -> None:
        with self._lock:
            self.problems.append(Problem(self.round, kind, request, status, excerpt))

    def outcome(self, name: str) -> None:
        with self._lock:
            self.outcomes[(self.round, name)] += 1

    def acknowledge(self, marked: Marked) -> None:
        with self._lock:
            self.saved.append(marked)

    def refuse(self, marked: Marked) -> None:
        with self._lock:
            self.refused.append(marked)


# -- a browser over http.client -------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    location: str  # path and query of a redirect's target; "" otherwise
    text: str


class Browser:
    """One signed-in session: its own cookies, one kept-alive connection (as a browser keeps one).

    The load generator shares the machine with the server, so each request costs it as little as
    possible: `http.client` on a persistent connection (urllib's opener, cookie jar and a new
    connection per request cost the generator several times more CPU per request), the body
    decoded but parsed only where a form is read or an answer is unexpected."""

    def __init__(self, base_url: str, recorder: Recorder) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.base_url = base_url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.recorder = recorder
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None

    def request(self, kind: str, path: str, *, fields: list[tuple[str, str]] | None = None, expect: tuple[int, ...] = (200,)) -> Answer:
        body = None if fields is None else urllib.parse.urlencode(fields).encode()
        start = time.perf_counter()
        try:
            answer = self._exchange(path, body)
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out: status 0
            self.close()
            answer = Answer(0, "", f"{type(error).__name__}: {error}")
        self.recorder.sample(kind, (time.perf_counter() - start) * 1000, answer.status)
        if answer.status not in expect:
            method = "POST" if fields is not None else "GET"
            self.recorder.problem(kind, f"{method} {path}", answer.status, excerpt(answer.text))
        return answer

    def _exchange(self, path: str, body: bytes | None) -> Answer:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or http.client.HTTPConnection(self.host, self.port, timeout=WORKER_TIMEOUT)
            self._connection = connection
            try:
                connection.request("GET" if body is None else "POST", path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue  # the server closed the idle kept-alive connection first: send again on a new one
                raise
            self._keep_cookies(response.headers.get_all("Set-Cookie") or [])
            if response.will_close:
                self.close()
            target = urllib.parse.urlsplit(response.headers.get("Location") or "")
            location = target.path + (f"?{target.query}" if target.query else "")
            return Answer(response.status, location, data.decode("utf-8", "replace"))
        raise AssertionError("unreachable")

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            if value and "max-age=0" not in attributes.lower().replace(" ", ""):
                self.cookies[name] = value
            else:  # cleared (sign-out, session ended)
                self.cookies.pop(name, None)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def sign_in(self, username: str) -> None:
        page = self.request("GET login", "/login")
        fields = with_values(form_values(page.text, "password"), username=username, password=PASSWORD)
        answer = self.request("POST login", "/login", fields=fields, expect=(302,))
        if answer.status != 302:
            raise SystemExit(f"sign-in as {username} failed: {answer.status} {excerpt(answer.text)}")


def excerpt(html: str) -> str:
    """What a person would read first on an unexpected page: messages, errors, the heading."""
    try:
        document = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html[:300]
    parts = document.xpath(
        '//div[contains(@class,"flash")] | //*[contains(@class,"error")] | //h1 | //h2[@id="conflict-title"] | //main//p[1]'
    )
    found = " | ".join(dict.fromkeys(" ".join(p.text_content().split()) for p in parts if p.text_content().strip()))
    return (found or " ".join(document.text_content().split()))[:400]


def form_values(html: str, which: str) -> list[tuple[str, str]]:
    """The fields a browser would post from a form: `which` is the form's id, the end of its
    action, or the name of a field only that form has."""
    document = lxml.html.fromstring(html)
    forms = [
        f
        for f in document.forms
        if which in (f.get("id"), *f.inputs.keys()) or (which.startswith("/") and (f.get("action") or "").endswith(which))
    ]
    if not forms:
        raise LookupError(f"no form {which!r} on the page: {excerpt(html)}")
    form = forms[0]
    # fields outside the form that join it with form="<id>" (the editor's body) are posted too
    outside = document.xpath("//textarea[@form=$id][@name]|//input[@form=$id][@name]", id=form.get("id") or "")
    textareas = {t.get("name") for t in form.xpath(".//textarea")} | {e.get("name") for e in outside if e.tag == "textarea"}
    values = form.form_values() + [(e.get("name"), e.text or "" if e.tag == "textarea" else e.get("value") or "") for e in outside]
    # browsers drop the newline that starts a textarea's content
    return [(name, value[1:] if name in textareas and value.startswith("\n") else value) for name, value in values]


def with_values(fields: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
    """The fields with some values replaced (or added)."""
    result = [(name, changes.pop(name) if name in changes else value) for name, value in fields]
    return result + list(changes.items())


def field_value(fields: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in fields if key == name), "")


def draft_status(html: str) -> str:
    found = lxml.html.fromstring(html).xpath('//*[@id="draft-status"]')
    return found[0].text_content().strip() if found else "?"


def search_hits(html: str) -> set[str]:
    hrefs = lxml.html.fromstring(html).xpath('//h2[@class="search-hit-title"]/a/@href')
    return {href.rsplit("/", 1)[-1] for href in hrefs}


# -- the clients and their operations --------------------------------------------------------------


@dataclass
class Client:
    number: int
    reader: Browser
    editor: Browser  # an editor of `department`: drafts (and direct saves with --no-review)
    writer: Browser  # direct saves: an administrator's correction, or the editor with --no-review
    partner: Browser  # the other side of a pair: another administrator, or another editor of `department`
    quality: Browser  # approves and publishes drafts
    pools: dict[str, list[str]]  # documents only this client writes, per operation
    codes: list[str]
    run_id: str
    rng: random.Random
    recorder: Recorder
    sequence: Iterator[int] = field(default_factory=itertools.count)

    def marker(self) -> str:
        return f"lb{self.run_id}c{self.number:02d}n{next(self.sequence):05d}"

    def next_document(self, kind: str) -> str | None:
        pool = self.pools[kind]
        if not pool:
            return None
        pool.append(pool.pop(0))  # round robin
        return pool[-1]

    def drop(self, kind: str, code: str) -> None:
        """A document whose last operation went wrong is not used again (e.g. a draft left open)."""
        with suppress(ValueError):
            self.pools[kind].remove(code)

    def run(self, *, deadline: float, deck: Deck) -> None:
        while time.monotonic() < deadline:
            name = deck.deal()
            try:
                OPERATIONS[name](self)
            except Exception as exc:  # a page without the expected form: recorded, the load goes on
                self.recorder.problem(f"operation {name}", "(client)", -1, f"{type(exc).__name__}: {exc}"[:400])


def read_page(client: Client) -> None:
    client.reader.request("GET document page", f"/documents/{client.rng.choice(client.codes)}")


def search(client: Client) -> None:
    client.reader.request("GET search", "/search?" + urllib.parse.urlencode({"q": client.rng.choice(WORDS)}))


def _appended(fields: list[tuple[str, str]], marker: str, message: str) -> list[tuple[str, str]]:
    body = field_value(fields, "body").rstrip("\n") + f"\n\n压测补充条款（{marker}）。\n"
    return with_values(fields, body=body, message=f"{message} {marker}")


def save(client: Client) -> None:
    code = client.next_document("save")
    if code is None:
        return
    page = client.writer.request("GET editor", f"/documents/{code}/edit")
    if page.status != 200:
        return
    marker = client.marker()
    fields = _appended(form_values(page.text, "document-form"), marker, "压测勘误")
    answer = client.writer.request("POST save", f"/documents/{code}/edit", fields=fields, expect=(302,))
    if answer.status != 302:
        client.recorder.outcome("save refused")
        return
    client.recorder.acknowledge(Marked(code, marker, "save"))
    client.recorder.outcome("save acknowledged")
    after = client.writer.request("GET after save", answer.location)
    if "已保存" not in excerpt(after.text) or marker not in after.text:
        client.recorder.problem("GET after save", f"GET {answer.location}", after.status, "saved text not shown: " + excerpt(after.text))


def pair(client: Client) -> None:
    """Two sessions post the same base at once: one save, one 409 conflict page."""
    code = client.next_document("pair")
    if code is None:
        return
    sessions = (client.writer, client.partner)
    pages = [s.request("GET editor", f"/documents/{code}/edit") for s in sessions]
    if any(p.status != 200 for p in pages):
        return
    forms = [form_values(p.text, "document-form") for p in pages]
    if field_value(forms[0], "body") != field_value(forms[1], "body"):  # the bases may differ by saves of other documents
        client.recorder.problem("GET editor", f"GET /documents/{code}/edit", 200, "two editors of one document opened at different texts")
        return
    marked = [Marked(code, client.marker(), "pair") for _ in sessions]
    answers: list[Answer | None] = [None, None]
    start = threading.Barrier(2)

    def post(side: int) -> None:
        fields = _appended(forms[side], marked[side].marker, "压测同时保存")
        start.wait()
        answers[side] = sessions[side].request("POST pair save (same base)", f"/documents/{code}/edit", fields=fields, expect=(302, 409))

    threads = [threading.Thread(target=post, args=(side,)) for side in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = [a.status if a else 0 for a in answers]
    if sorted(statuses) != [302, 409]:
        client.recorder.outcome(f"pair answered {statuses[0]} and {statuses[1]}")
        client.recorder.problem("POST pair save (same base)", f"POST /documents/{code}/edit ×2", max(statuses), f"statuses {statuses}")
        for side, status in enumerate(statuses):
            if status == 302:
                client.recorder.acknowledge(marked[side])
        return
    client.recorder.outcome("pair: one saved, one 409")
    winner = statuses.index(302)
    client.recorder.acknowledge(marked[winner])
    client.recorder.refuse(marked[1 - winner])


def draft(client: Client) -> None:
    """发起修订 → 保存草稿 → 提交审核 (an editor) → 批准 → 发布 (the quality office), following redirects."""
    code = client.next_document("draft")
    if code is None:
        return
    written = _draft_written(client, code)
    if written is None:
        client.drop("draft", code)
        return
    view, page, marker = written
    today = dt.date.today().isoformat()
    number = f"包职院发〔2026〕{client.number}{marker[-5:]}号"
    steps: tuple[tuple[Browser, str, dict[str, str], str], ...] = (
        (client.editor, "submit", {}, "待审核"),
        (
            client.quality,
            "approve",
            {"approving_body": "院长办公会", "meeting_date": today, "doc_number": number, "issue_date": today},
            "已批准",
        ),
    )
    for browser, action, values, status in steps:
        if browser is client.quality:
            page = browser.request("GET draft page", view)  # the reviewer opens the draft from the inbox
        fields = with_values(form_values(page.text, f"{view}/{action}"), **values)
        answer = browser.request(f"POST {action}", f"{view}/{action}", fields=fields, expect=(302,))
        page = browser.request("GET draft page", answer.location or view)
        if draft_status(page.text) != status:
            client.recorder.problem(f"POST {action}", f"POST {view}/{action}", answer.status, f"draft not {status}: " + excerpt(page.text))
            client.drop("draft", code)
            return
    answer = client.quality.request("POST publish", f"{view}/publish", fields=form_values(page.text, f"{view}/publish"), expect=(302,))
    after = client.quality.request("GET after publish", answer.location or view)
    if answer.location != f"/documents/{code}":
        client.recorder.problem("POST publish", f"POST {view}/publish", answer.status, "not published: " + excerpt(after.text))
        client.drop("draft", code)
        return
    if marker not in after.text:
        client.recorder.problem(
            "GET after publish", f"GET {answer.location}", after.status, "published text not shown: " + excerpt(after.text)
        )
    client.recorder.acknowledge(Marked(code, marker, "draft"))
    client.recorder.outcome("draft published")


def _draft_written(client: Client, code: str) -> tuple[str, Answer, str] | None:
    """Open a revision and save it with a marker: the draft page's path, the page, the marker."""
    editor = client.editor
    page = editor.request("GET revise form", f"/documents/{code}/revise")
    if page.status != 200:
        return None
    fields = with_values(form_values(page.text, "reason"), kind="revise", reason="压测：依据年度诊改意见修订")
    opened = editor.request("POST open revision", f"/documents/{code}/revise", fields=fields, expect=(302,))
    found = re.fullmatch(r"(/drafts/[0-9]+)/edit", opened.location)
    if found is None:
        return None
    page = editor.request("GET draft editor", opened.location)
    marker = client.marker()
    fields = _appended(form_values(page.text, "document-form"), marker, "压测草稿")
    saved = editor.request("POST save draft", opened.location, fields=fields, expect=(302,))
    if saved.status != 302:
        return None
    return found.group(1), editor.request("GET draft page", saved.location), marker


OPERATIONS: dict[str, Callable[[Client], None]] = {"page": read_page, "search": search, "save": save, "pair": pair, "draft": draft}


# -- the instance ----------------------------------------------------------------------------------


def database_url_of(root: Path) -> str:
    config = root / "config.toml"
    if config.exists():
        url = tomllib.loads(config.read_text(encoding="utf-8")).get("DATABASE_URL")
        if url:
            return str(url)
    return f"sqlite:///{root / 'zhengai.db'}"


def fresh_postgres_database(admin_url: str) -> str:
    """A new, empty UTF-8 database on the admin URL's server, named for this run."""
    name = f"zhengai_load_{secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0"))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database or ""
    if not re.fullmatch(r"zhengai_load_[0-9a-f]{8}", name):
        return
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


def prepare(root: Path, *, documents: int, revisions: int, database_url: str, settings: Sequence[str] = ()) -> None:
    """Corpus, `zhengai-docs init` (cache, frameworks, search index), accounts; kept between runs.

    `settings`: further lines of the instance's config.toml (e.g. `SEARCH_BACKEND = "postgresql"`)."""
    if (root / "ready").exists():
        print(f"reusing {root} (database {make_url(database_url_of(root)).render_as_string(hide_password=True)})")
        return
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text("".join(f"{line}\n" for line in (f'DATABASE_URL = "{database_url}"', *settings)), encoding="utf-8")
    start = time.perf_counter()
    corpus = build(root / "content.git", documents=documents, revisions=revisions)
    print(f"corpus: {documents} documents, {corpus.commits} commits, built in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    subprocess.run(
        [zhengai_docs_command(), "--instance", str(root), "init", "--admin", ADMIN, "--admin-password", PASSWORD],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"zhengai-docs init (migrations, cache, search index): {time.perf_counter() - start:.1f} s", flush=True)
    db = Database(database_url)
    accounts: list[tuple[str, Role, tuple[str, ...]]] = [(ADMIN2, Role.ADMIN, ()), (QUALITY, Role.QUALITY, ())]
    accounts += [(f"lb-editor{n}{side}", Role.EDITOR, (d,)) for n, d in enumerate(DEPARTMENTS) for side in "ab"]
    accounts += [(f"lb-reader{n}", Role.READER, ()) for n in range(READERS)]
    for username, role, departments in accounts:
        create_user(db, username=username, password=PASSWORD, role=role, display_name=username, departments=departments)
    db.dispose()
    ContentRepository(root / "content.git").optimise()
    (root / "ready").touch()


def zhengai_docs_command() -> str:
    beside = Path(sys.executable).parent / "zhengai-docs"
    return str(beside) if beside.exists() else (shutil.which("zhengai-docs") or "zhengai-docs")


def document_pools(database_url: str, *, clients: int) -> tuple[list[str], list[dict[str, list[str]]]]:
    """Every document code, and per client the documents only it writes (led by its editor's department)."""
    db = Database(database_url)
    with db.session() as session:
        codes = sorted(session.scalars(select(DocumentRow.code).where(DocumentRow.error.is_(None))))
        led: dict[str, list[str]] = defaultdict(list)
        for code, department in session.execute(
            select(DocumentDepartment.code, DocumentDepartment.department).order_by(DocumentDepartment.code)
        ):
            led[department].append(code)
    db.dispose()
    taken: set[str] = set()
    pools = []
    for number in range(clients):
        free = [c for c in led[DEPARTMENTS[number % len(DEPARTMENTS)]] if c not in taken]
        share = max(1, min(6, len(free) // 3 // max(1, (clients - number - 1) // len(DEPARTMENTS) + 1)))
        chosen = {kind: free[n * share : (n + 1) * share] for n, kind in enumerate(("save", "pair", "draft"))}
        taken.update(c for pool in chosen.values() for c in pool)
        pools.append(chosen)
    return codes, pools


def make_clients(*, base_url: str, database_url: str, count: int, review: bool, recorder: Recorder, run_id: str) -> list[Client]:
    codes, pools = document_pools(database_url, clients=count)
    clients = []
    for number in range(count):
        n = number % len(DEPARTMENTS)

        def session(username: str) -> Browser:
            browser = Browser(base_url, recorder)
            browser.sign_in(username)
            return browser

        editor = session(f"lb-editor{n}a")
        clients.append(
            Client(
                number=number,
                reader=session(f"lb-reader{number % READERS}"),
                editor=editor,
                writer=session(ADMIN) if review else editor,
                partner=session(ADMIN2 if review else f"lb-editor{n}b"),
                quality=session(QUALITY),
                pools=pools[number],
                codes=codes,
                run_id=run_id,
                rng=random.Random(number),
                recorder=recorder,
            )
        )
    return clients


# -- the server ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(root: Path, *, port: int, workers: int, threads: int | None, env: dict[str, str]) -> Iterator[Server]:
    log = root / f"server-{time.strftime('%Y%m%d-%H%M%S')}.log"
    command = [
        zhengai_docs_command(),
        "--instance",
        str(root),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    command += ["--threads", str(threads)] if threads else []
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(server: Server, timeout: float = 180) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.process.poll() is not None:
            raise SystemExit(f"the server exited ({server.process.returncode}):\n{server.log.read_text(errors='replace')[-3000:]}")
        with suppress(OSError), urllib.request.urlopen(server.base_url + "/login", timeout=5) as response:  # noqa: S310
            if response.status == 200:
                print(f"server answering after {time.monotonic() - start:.1f} s", flush=True)
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /login within {timeout:.0f} s; log: {server.log}")


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds: of the load generator (this process), of the server (its processes, and
    workers already recycled), and of the whole machine (busy, and all: elapsed x cores)."""

    generator: float
    server: float
    machine_busy: float
    machine_all: float

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(
            self.generator - other.generator,
            self.server - other.server,
            self.machine_busy - other.machine_busy,
            self.machine_all - other.machine_all,
        )


_TICK = os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    return [int(p) for p in found]


def cpu_times(server: Server) -> CpuTimes:
    def process(pid: int, *, children: bool) -> float:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            return sum(int(v) for v in fields[11 : 15 if children else 13]) / _TICK  # utime stime (cutime cstime)
        return 0.0

    # Every process of the server with what it has reaped: the workers, the git processes they
    # run (kept ones and short ones), and a worker gunicorn replaced (its whole life moves into
    # the arbiter's reaped time at once, so a process's own time must not be counted without it).
    workers = child_pids(server.process.pid)
    processes = [server.process.pid, *workers, *(g for w in workers for g in child_pids(w))]
    used = sum(process(pid, children=True) for pid in processes)
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return CpuTimes(time.process_time(), used, (sum(ticks) - idle) / _TICK, sum(ticks) / _TICK)


def process_memory(pid: int) -> tuple[float, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of a process, MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmHWM", 0.0), values.get("VmRSS", 0.0)


def server_memory(server: Server) -> list[tuple[int, str, float, float]]:
    """(pid, role, peak MiB, current MiB) of the server process and its children (gunicorn's workers)."""
    found = child_pids(server.process.pid)
    rows = []
    for pid, role in [(server.process.pid, "main (arbiter)" if found else "main (waitress)"), *((p, "worker") for p in found)]:
        with suppress(OSError):
            rows.append((pid, role, *process_memory(pid)))
    return rows


def log_summary(log: Path) -> tuple[Counter[str], list[str]]:
    """Counts of the server log's warnings, errors, exceptions and 5xx lines; the first traceback."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    counts: Counter[str] = Counter()
    first: list[str] = []
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((m for m in range(n + 1, len(lines)) if lines[m] and not lines[m].startswith(" ")), len(lines) - 1)
            counts["exception: " + lines[end][:200]] += 1
            first = first or lines[max(n, end - 12) : end + 1]
        elif LOG_ALARMS.search(line):
            counts[re.sub(r"[0-9a-f]{12,40}", "…", re.sub(r"^\[[^]]*\] ", "", line))[:200]] += 1
        elif re.search(r'" 5[0-9][0-9] ', line):
            counts["access log: a 5xx answer"] += 1
    return counts, first


# -- the load and its report ---------------------------------------------------------------------


def warm_up(clients: list[Client]) -> None:
    """Each worker's first requests open the index and fill its caches: not part of a level."""
    for client in clients:
        for _ in range(3):
            read_page(client)
            search(client)


@dataclass(frozen=True)
class Window:
    """A level's measuring window: `seconds` up to `deadline`; operations under way at the
    deadline are finished (`elapsed` includes them) but their requests after it are not counted
    in the throughput. Counting them over the longer time made a level whose last saves waited
    seconds for the index lock look slower than it was: most clients had stopped meanwhile."""

    seconds: float
    deadline: float
    elapsed: float


class Deck:
    """The operations of one level, dealt to all its clients in turn from a shuffled deck of
    about 100 cards in the mix's proportions, reshuffled when it runs out.

    Every level then runs the same mix, whatever its client count: drawn independently by each
    client, the number of drafts (nine requests each, among the heaviest) moved between levels
    by half (12 at 4 clients, 20 at 16 in one run), and the requests per second with it."""

    def __init__(self, mix: dict[str, float], *, seed: int) -> None:
        total = sum(mix.values())
        self._cards = [name for name, weight in mix.items() if weight > 0 for _ in range(max(1, round(100 * weight / total)))]
        self._rng = random.Random(seed)
        self._left: list[str] = []
        self._lock = threading.Lock()

    def deal(self) -> str:
        with self._lock:
            if not self._left:
                self._left = self._rng.sample(self._cards, len(self._cards))
            return self._left.pop()


def run_level(clients: list[Client], *, round: int, level: int, seconds: float, mix: dict[str, float], recorder: Recorder) -> Window:
    recorder.round = round
    recorder.clients[round] = level
    deadline = time.monotonic() + seconds
    deck = Deck(mix, seed=level)
    threads = [threading.Thread(target=c.run, kwargs={"deadline": deadline, "deck": deck}) for c in clients[:level]]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Window(seconds=seconds, deadline=deadline, elapsed=time.perf_counter() - start)


def report_level(recorder: Recorder, *, round: int, window: Window, cpu: CpuTimes) -> dict[str, float]:
    level = recorder.clients[round]
    samples = [s for s in recorder.samples if s.round == round]
    counted = [s for s in samples if s.done <= window.deadline]
    rps = len(counted) / window.seconds
    elapsed = window.elapsed
    reads = sum(s.kind in READ_KINDS for s in samples)
    errors = sum(s.status >= 500 for s in samples)
    failed = sum(s.status == 0 for s in samples)
    print(
        f"\n— {level} client{'s' if level > 1 else ''}, {window.seconds:.1f} s (+{max(0.0, elapsed - window.seconds):.1f} s finishing "
        f"operations under way): {len(counted)} requests in the window, {rps:.1f} req/s; {len(samples)} in all, "
        f"reads {100 * reads / max(1, len(samples)):.0f} %, 5xx {errors}, no answer {failed}, "
        f"unexpected answers {sum(p.round == round for p in recorder.problems)}"
    )
    print(f"  {'request kind':<28} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s.ms)
    in_window = Counter(s.kind for s in counted)
    for kind in [k for k in KINDS if k in by_kind] + sorted(set(by_kind) - set(KINDS)):
        ms = by_kind[kind]
        print(
            f"  {kind:<28} {len(ms):>6} {in_window[kind] / window.seconds:>7.1f} {statistics.median(ms):>8.1f} "
            f"{percentile(ms, 0.95):>8.1f} {percentile(ms, 0.99):>8.1f}"
        )
    cores = cpu.machine_all / elapsed
    print(
        f"  CPU: server {cpu.server / elapsed:.2f} cores ({1000 * cpu.server / max(1, len(samples)):.1f} ms a request), "
        f"load generator {cpu.generator / elapsed:.2f} cores ({1000 * cpu.generator / max(1, len(samples)):.1f} ms a request); "
        f"machine busy {100 * cpu.machine_busy / max(cpu.machine_all, 1e-9):.0f} % of {cores:.0f} cores (other work included)"
    )
    outcomes = sorted((name, n) for (lvl, name), n in recorder.outcomes.items() if lvl == round)
    print("  outcomes: " + ("; ".join(f"{name} {n}" for name, n in outcomes) or "none"))
    writes = by_kind.get("POST save", [])
    return {
        "rps": rps,
        "5xx": errors,
        "save_p95": percentile(writes, 0.95) if writes else float("nan"),
        "search_p95": percentile(by_kind["GET search"], 0.95) if by_kind.get("GET search") else float("nan"),
    }


def report_problems(recorder: Recorder, server: Server, *, limit: int = 25) -> None:
    counts, first = log_summary(server.log)
    print(f"\nunexpected answers: {len(recorder.problems)}; server log {server.log}: {sum(counts.values())} alarming lines")
    for p in recorder.problems[:limit]:
        where = "verification" if p.round < 0 else f"{recorder.clients.get(p.round, 0)} clients"
        print(f"  [{where}] {p.request} → {p.status}: {p.excerpt}")
    for line, n in counts.most_common(12):
        print(f"  log ×{n}: {line}")
    if first:
        print("  first traceback in the log (last frames):")
        for line in first:
            print(f"    {line[:200]}")


# -- verification ----------------------------------------------------------------------------------


def cache_caught_up(*, database_url: str, repo: ContentRepository, reader: Browser, timeout: float = 60) -> bool:
    """Page views bring the cache to the head; wait (bounded) until it reflects it."""
    db = Database(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reader.request("GET home (verification)", "/")
            with db.session() as session:
                if session.scalar(select(CacheState.commit)) == repo.head():
                    return True
            time.sleep(0.5)
        return False
    finally:
        db.dispose()


def verify(*, root: Path, database_url: str, recorder: Recorder, reader: Browser) -> bool:
    """Every acknowledged marker in git at head; the SQL cache's blobs equal git's; the 409 sides nowhere."""
    recorder.round = -1
    repo = ContentRepository(root / "content.git")
    caught_up = cache_caught_up(database_url=database_url, repo=repo, reader=reader)
    head = repo.require_head()
    files = repo.list_files(head)
    texts = dict(repo.read_blobs({files[document_code(m.code).path] for m in recorder.saved + recorder.refused}))

    def in_git(marked: Marked) -> bool:
        return marked.marker in texts[files[document_code(marked.code).path]]

    lost = [m for m in recorder.saved if not in_git(m)]
    leaked = [m for m in recorder.refused if in_git(m)]
    db = Database(database_url)
    with db.session() as session:
        cached = {code: blob for code, blob in session.execute(select(DocumentRow.code, DocumentRow.blob))}
    db.dispose()
    in_git_docs = {p.rsplit("/", 1)[1][:-3]: blob for p, blob in files.items() if p.endswith(".md")}
    stale = sorted(code for code in in_git_docs.keys() | cached.keys() if cached.get(code) != in_git_docs.get(code))
    kinds = Counter(m.how for m in recorder.saved)
    print(f"\nverification at head {head[:12]}:")
    print(f"  acknowledged saves: {len(recorder.saved)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items())) or 'none'})")
    print(f"  in git at head: {len(recorder.saved) - len(lost)}/{len(recorder.saved)}" + _listed(lost))
    matching = f"{len(in_git_docs) - len(stale)}/{len(in_git_docs)}"
    print(
        f"  SQL cache at head: {'yes' if caught_up else 'NO (not within 60 s)'}; blob = git's for {matching} documents"
        + (f"; differ: {', '.join(stale[:10])}" if stale else "")
    )
    print(f"  409 sides of pairs written to git: {len(leaked)} of {len(recorder.refused)}" + _listed(leaked))
    return caught_up and not (lost or leaked or stale) and verify_search(recorder, reader)


def verify_search(recorder: Recorder, reader: Browser) -> bool:
    """GET /search?q=<marker> finds the marker's document, for every acknowledged save."""
    failed, missing = [], []
    for marked in recorder.saved:
        answer = reader.request("GET search (verification)", "/search?" + urllib.parse.urlencode({"q": marked.marker}))
        if answer.status != 200:
            failed.append(marked)
        elif marked.code not in search_hits(answer.text):
            missing.append(marked)
    found = len(recorder.saved) - len(failed) - len(missing)
    print(f"  found by GET /search: {found}/{len(recorder.saved)}" + _listed(missing) + _listed(failed, label="SEARCH FAILED"))
    return not (failed or missing)


def verify_index(root: Path, saved: list[Marked]) -> bool:
    """The markers in the search index files themselves, read in this process after the server stopped."""
    backend = WhooshBackend(root / "search-index")
    missing = [m for m in saved if m.code not in {h.code for h in backend.search(SearchRequest(text=m.marker)).hits}]
    backend.close()
    print(f"  in the search index (read directly after the server stopped): {len(saved) - len(missing)}/{len(saved)}" + _listed(missing))
    return not missing


def _listed(marks: list[Marked], *, label: str = "MISSING") -> str:
    return "" if not marks else f"  {label}: " + ", ".join(f"{m.code} {m.marker} ({m.how})" for m in marks[:10])


def run_checks(root: Path, *, env: dict[str, str]) -> bool:
    """`git fsck` and `zhengai-docs doctor`, run after the server stopped; their verdicts."""
    fsck = subprocess.run(
        ["git", "--git-dir", str(root / "content.git"), "fsck", "--no-progress", "--strict"], capture_output=True, text=True, check=False
    )
    lines = (fsck.stdout + fsck.stderr).splitlines()
    dangling = [line for line in lines if line.startswith("dangling ")]
    others = [line for line in lines if not line.startswith("dangling ")]
    verdict = "clean" if fsck.returncode == 0 and not others else f"exit {fsck.returncode}"
    print(f"  git fsck: {verdict}; {len(dangling)} dangling objects (writes that lost a compare-and-swap)")
    for line in others[:10]:
        print(f"    {line}")
    doctor = subprocess.run(
        [zhengai_docs_command(), "--instance", str(root), "doctor"], capture_output=True, text=True, check=False, env=env
    )
    print(f"  zhengai-docs doctor: exit {doctor.returncode}: " + "；".join((doctor.stdout + doctor.stderr).splitlines()[:12]))
    return fsck.returncode == 0 and not others and doctor.returncode == 0


# -- main ------------------------------------------------------------------------------------------


def parse_mix(value: str) -> dict[str, float]:
    mix = {}
    for part in value.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in OPERATIONS:
            raise argparse.ArgumentTypeError(f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}")
        mix[name.strip()] = float(weight)
    return mix


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--revisions", type=int, default=3, help="commits per document in the generated history")
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this instance folder instead of a temporary one")
    parser.add_argument("--database-url", help="DATABASE_URL of a new instance (default: SQLite in the instance folder)")
    parser.add_argument(
        "--postgres-admin", help="PostgreSQL admin URL: create a fresh database for a new instance (dropped without --keep)"
    )
    parser.add_argument(
        "--setting", action="append", default=[], help="a config.toml line for a new instance, e.g. 'SEARCH_BACKEND = \"postgresql\"'"
    )
    parser.add_argument("--workers", type=int, default=4, help="worker processes (gunicorn when > 1)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: the THREADS setting)")
    parser.add_argument("--clients", default="1,4,16", help="concurrent client levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=30, help="duration of each client level")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX), help=f"operation weights (default {DEFAULT_MIX})")
    parser.add_argument("--no-review", action="store_true", help="REVIEW_REQUIRED off: editors save directly (saves and pairs)")
    parser.add_argument("--port", type=int, help="port to serve on (default: a free one)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    levels = [int(n) for n in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = (args.keep or Path(tmp) / "instance").resolve()
        created_db = None
        if not (root / "ready").exists() and args.postgres_admin:
            created_db = fresh_postgres_database(args.postgres_admin)
        try:
            prepare(
                root,
                documents=args.documents,
                revisions=args.revisions,
                database_url=created_db or args.database_url or f"sqlite:///{root / 'zhengai.db'}",
                settings=args.setting,
            )
            ok = benchmark(root, args=args, levels=levels)
        finally:
            if created_db and not args.keep:
                drop_postgres_database(args.postgres_admin, created_db)
    sys.exit(0 if ok else 1)


def benchmark(root: Path, *, args: argparse.Namespace, levels: list[int]) -> bool:
    database_url = database_url_of(root)
    env = {**os.environ, "ZHENGAI_REVIEW_REQUIRED": "false" if args.no_review else "true"}
    recorder = Recorder()
    engine = make_url(database_url).get_backend_name()
    print(f"{engine}, {args.workers} worker process(es), REVIEW_REQUIRED {'off' if args.no_review else 'on'}, mix {args.mix}")
    with serving(root, port=args.port or free_port(), workers=args.workers, threads=args.threads, env=env) as server:
        start = time.perf_counter()
        clients = make_clients(
            base_url=server.base_url,
            database_url=database_url,
            count=max(levels),
            review=not args.no_review,
            recorder=recorder,
            run_id=secrets.token_hex(3),
        )
        print(f"{len(clients)} clients signed in ({time.perf_counter() - start:.1f} s); {len(clients[0].codes)} documents")
        warm_up(clients)
        figures = []
        for round, level in enumerate(levels, start=1):
            before = cpu_times(server)
            window = run_level(clients, round=round, level=level, seconds=args.seconds, mix=args.mix, recorder=recorder)
            figures.append((level, report_level(recorder, round=round, window=window, cpu=cpu_times(server) - before)))
        intact = verify(root=root, database_url=database_url, recorder=recorder, reader=clients[0].reader)
        memory = server_memory(server)
    intact = verify_index(root, recorder.saved) and intact
    checks = run_checks(root, env=env)
    print("  server processes (peak RSS = VmHWM):")
    for pid, role, peak, now in memory:
        print(f"    pid {pid:<8} {role:<16} peak {peak:7.1f} MiB   now {now:7.1f} MiB")
    report_problems(recorder, server)
    errors = sum(s.status >= 500 for s in recorder.samples)  # the levels, sign-in and verification
    summarise(figures, errors=errors, workers=args.workers, memory=memory)
    passed = intact and checks and errors == 0 and not recorder.problems
    print(
        f"  verdict: {'PASS' if passed else 'FAIL'} (acknowledged saves in git, cache and search: {'yes' if intact else 'NO'}; "
        f"fsck and doctor: {'clean' if checks else 'NOT CLEAN'}; 5xx: {errors}; unexpected answers: {len(recorder.problems)})"
    )
    if not passed and not args.keep:  # the instance folder is about to be deleted: keep its server log
        kept = Path(tempfile.gettempdir()) / f"zhengai-load-{server.log.name}"
        shutil.copyfile(server.log, kept)
        print(f"  server log kept as {kept}")
    return passed


def bracketed(rates: list[tuple[int, float]], *, high: int, low: int) -> list[float]:
    """Each `high`-client round's rate against the mean of the `low`-client rounds right before
    and after it. Throughput moves during a run (in one, the 4-client rounds gave 102.6, 93.6
    and 87.9 req/s one after the other: workers replaced, index merges),
    so a later round compared with an earlier one measures that too; the rounds on both sides
    cancel a steady trend and halve the weight of one lump."""
    ratios = []
    for i, (level, rate) in enumerate(rates):
        if level != high:
            continue
        beside = [r for n in (i - 1, i + 1) if 0 <= n < len(rates) and (r := rates[n])[0] == low]
        if beside:
            ratios.append(rate / statistics.fmean(r for _, r in beside))
    return ratios


def summarise(
    figures: list[tuple[int, dict[str, float]]], *, errors: int, workers: int, memory: list[tuple[int, str, float, float]]
) -> None:
    """The targets' figures; a level run several times (`--clients 4,16,4,16,4`) by the mean of
    its rounds, and 16 against 4 also round by round (`bracketed`)."""
    by_level: dict[int, list[dict[str, float]]] = defaultdict(list)
    for level, f in figures:
        by_level[level].append(f)
    mean = {level: {key: statistics.fmean(f[key] for f in fs) for key in fs[0]} for level, fs in by_level.items()}
    print("\nsummary:")
    print("  throughput: " + ", ".join(f"{level} clients {f['rps']:.1f} req/s" for level, f in figures))
    if 4 in mean:
        print(f"  direct save p95 at 4 clients, {workers} workers: {mean[4]['save_p95']:.0f} ms (target ≤ 200 ms)")
    if 4 in mean and 16 in mean:
        rounds = bracketed([(level, f["rps"]) for level, f in figures], high=16, low=4)
        ratio = statistics.fmean(rounds) if rounds else mean[16]["rps"] / mean[4]["rps"]
        print(f"  16 clients vs 4: {ratio:.2f}× (target ≥ 1.0, no collapse)")
        if len(by_level[4]) + len(by_level[16]) > 2:  # a level was repeated
            print(f"    each 16-client round against the 4-client ones beside it: {', '.join(f'{r:.2f}' for r in rounds)}")
            print(f"    the means of all rounds: {mean[16]['rps'] / mean[4]['rps']:.2f}×")
    print("  search p95: " + ", ".join(f"{level} clients {f['search_p95']:.0f} ms" for level, f in mean.items()) + " (target ≤ 40 ms)")
    largest = max((peak for _pid, role, peak, _now in memory if role != "main (arbiter)"), default=0.0)
    print(f"  5xx: {errors} (target 0); largest worker peak RSS: {largest:.0f} MiB (target ≤ 200)")


if __name__ == "__main__":
    main()
