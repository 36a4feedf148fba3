"""Render-cost benchmark (issue 12): every pathological class of Python-Markdown, and previews under attack.

Part 1 times each class at 1k/2k/4k/8k characters twice: Python-Markdown alone with this
project's extensions (in a child process, stopped after --timeout seconds), and `render_markdown`
with the limits of `zhengai_docs/render/limits.py` (which renders the body or refuses it and
shows it as plain text). Classes whose unguarded time grows faster than the input are the ones
the limits bound.

Part 2 is the acceptance check: a real waitress server on 127.0.0.1 (in a thread, as
tests/test_browser.py starts one) with the demo content; eight editor sessions send the most
expensive previews they can, back to back, while a reader loads another document's page. Target:
every page answers within 1 s (exit 1 otherwise).

    python benchmarks/render_limits_bench.py
    python benchmarks/render_limits_bench.py --skip-classes --seconds 30
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zhengai_docs.bootstrap import DEMO_PASSWORD, initialise
from zhengai_docs.db.database import Database
from zhengai_docs.storage.repository import ContentRepository


def _nested_indent(n: int) -> str:
    return "".join("    " * i + "- x\n" for i in range(n // 40))


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


# name -> (what it is, body of about n characters); every class grows faster than n unguarded
CLASSES: dict[str, tuple[str, Callable[[int], str]]] = {
    "brackets": ("a run of [", _repeat("[")),
    "images": ("a run of ![", _repeat("![")),
    "bracket-text": ("[a[a[a… (unpaired, with text)", _repeat("[a")),
    "references": ("[a][a][a… (reference openers)", _repeat("[a][")),
    "link-parens": ("[a]([a]([a]( … (unclosed link targets)", _repeat("[a](")),
    "bracket-lines": ("[ on every line of one paragraph", _repeat("[\n")),
    "emphasis-brackets": ("*[*[*[…", _repeat("*[")),
    "code-in-brackets": ("[`[`[`…", _repeat("[`")),
    "tags": ("<a <a <a … (unended tags)", _repeat("<a ")),
    "autolinks": ("<http://<http://…", _repeat("<http://")),
    "cdata": ("<![CDATA[ repeated", _repeat("<![CDATA[")),
    "tag-paragraphs": ("<a x, one per paragraph", _repeat("<a x\n\n")),
    "comments-in-inline-tag": ("<span> then many comments", lambda n: "<span>" * 60 + _repeat("<!-- x -->")(n)),
    "lists": ("- - - … x (nested list on one line)", lambda n: "- " * (n // 2) + "x"),
    "ordered-lists": ("1. 1. 1. … x", lambda n: "1. " * (n // 3) + "x"),
    "quotes": ("> > > … x (nested quotes on one line)", lambda n: "> " * (n // 2) + "x"),
    "quote-lines": ("> >> >>> … (deeper on each line)", lambda n: "".join(">" * i + " x\n" for i in range(1, int((2 * n) ** 0.5)))),
    "indented-lists": ("lists nested by indentation", _nested_indent),
    "fences": ("```a (opening fences without a closing one)", _repeat("```a\n")),
    "fence-hl-lines": ('```a hl_lines=" …', _repeat('```a hl_lines="\n')),
    "headings-no-blank": ("## h lines without blank lines", _repeat("## h\n")),
    "rules-no-blank": ("a / *** lines without blank lines", _repeat("a\n***\n")),
    "setext-no-blank": ("a / - lines without blank lines", _repeat("a\n-\n")),
    "definitions-no-blank": ("a / [r]: /x lines without blank lines", _repeat("a\n[r]: /x\n")),
    "code-spans": ("`a` `a` … in one paragraph", _repeat("`a` ")),
    "escapes": ("\\* \\* … in one paragraph", _repeat("\\* ")),
    "line-breaks": ("a␠␠⏎ … (hard breaks) in one paragraph", _repeat("a  \n")),
    "nested-strong": ("**a **a … b** b** (nested emphasis)", lambda n: "**a " * (n // 8) + "b** " * (n // 8)),
    "div-nesting": ("<div><div>… (raw HTML nesting)", _repeat("<div>")),
    "rule-tags": ("<hr> on every line", _repeat("<hr>\n")),
    "wide-table": ("a 2,000-column separator with short rows", lambda n: "|a" * 2000 + "|\n" + "|-" * 2000 + "|\n" + "|x|\n" * (n // 4)),
}

# Bodies within the limits that cost the most to render (measured; the attacker's best choice),
# and one refused only by the checks (cheap).
WORST_PREVIEWS = {
    "list items": "- 中\n" * 19_900,
    "headings": "## 中\n\n" * 9_990,
    "paragraphs": "中\n\n" * 9_990,
    "unpaired brackets": "[" * 150_000,
}


# -- part 1 ------------------------------------------------------------------------------------


def _raw_seconds(name: str, size: int, timeout: float) -> float | None:
    """Python-Markdown alone on one class, in a child process (None: still running at the timeout)."""
    command = [sys.executable, __file__, "--raw", name, str(size)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return float(out.stdout.strip())


def _raw_main(name: str, size: int) -> None:
    import markdown

    from zhengai_docs.render import html

    text = CLASSES[name][1](size)
    start = time.process_time()
    with contextlib.suppress(RecursionError):
        markdown.Markdown(extensions=html._EXTENSIONS, extension_configs=html._EXTENSION_CONFIGS).convert(text)
    print(f"{time.process_time() - start:.4f}")


def guarded_seconds(text: str) -> tuple[float, bool]:
    """CPU seconds of `render_markdown` (without its cache), and whether it refused the body."""
    from zhengai_docs.render.html import render_uncached

    start = time.process_time()
    rendered = render_uncached(text)
    return time.process_time() - start, rendered.problem is not None


def measure_classes(sizes: tuple[int, ...], timeout: float) -> None:
    print(f"{'class':<24} {'Python-Markdown alone (s)':<40} render_markdown (s, R = refused)")
    for name, (_what, make) in CLASSES.items():
        raw = []
        for size in sizes:
            seconds = _raw_seconds(name, size, timeout)
            raw.append(f"{seconds:6.3f}" if seconds is not None else f">{timeout:<5g}")
            if seconds is None:
                break
        guarded = []
        for size in sizes:
            seconds, refused = guarded_seconds(make(size))
            guarded.append(f"{seconds:6.3f}{'R' if refused else ' '}")
        print(f"{name:<24} {' '.join(raw):<40} {' '.join(guarded)}", flush=True)


# -- part 2 ------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(app: object, *, threads: int = 8) -> Iterator[str]:
    """The app behind a real waitress server on 127.0.0.1, in a thread, as `zhengai-docs serve` runs it."""
    import waitress
    from waitress import wasyncore

    channels: dict[int, object] = {}  # waitress's socket map: emptying it ends the server's loop
    server = waitress.create_server(app, map=channels, host="127.0.0.1", port=0, threads=threads, ident="zhengai-docs")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(channels))  # type: ignore[union-attr] # in the loop's thread
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()  # type: ignore[union-attr]


class Browser:
    """One signed-in session: cookies, the CSRF token of the pages it reads."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = ""

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post(self, path: str, data: bytes, content_type: str) -> int:
        headers = {"Content-Type": content_type, "X-CSRFToken": self.token, "Referer": self.base + "/"}
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method="POST")  # noqa: S310 - our http server
        try:
            with self.opener.open(request, timeout=60) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as error:
            error.read()
            return error.code

    def login(self, username: str) -> Browser:
        _status, page = self.get("/login")
        self.token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]  # type: ignore[index]
        form = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD, "csrf_token": self.token}).encode()
        status = self.post("/login", form, "application/x-www-form-urlencoded")
        if status not in (200, 302):
            raise RuntimeError(f"sign-in of {username} answered {status}")
        _status, page = self.get("/")
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        self.token = found[1] if found else self.token
        return self

    def preview(self, body: str) -> int:
        return self.post("/preview", json.dumps({"body": body}).encode(), "application/json")


@dataclass
class Contention:
    page_seconds: list[float] = field(default_factory=list)
    page_statuses: Counter[int] = field(default_factory=Counter)
    preview_statuses: Counter[int] = field(default_factory=Counter)

    def report(self) -> str:
        pages = sorted(self.page_seconds)
        return (
            f"reader's page: n={len(pages)} p50 {statistics.median(pages) * 1000:.0f} ms, max {pages[-1] * 1000:.0f} ms, "
            f"statuses {dict(self.page_statuses)}; previews: {dict(self.preview_statuses)}"
        )


def contend(base: str, *, attackers: int, seconds: float, bodies: list[str], page: str) -> Contention:
    """`attackers` editor sessions post `bodies` to /preview back to back while a reader loads `page`."""
    result = Contention()
    editors = [Browser(base).login(("jiaowu", "renshi", "admin")[i % 3]) for i in range(attackers)]
    reader = Browser(base).login("duzhe")
    reader.get(page)  # rendered once; later loads are what the reader waits for
    stop = threading.Event()
    lock = threading.Lock()

    def attack(editor: Browser, offset: int) -> None:
        index = offset
        while not stop.is_set():
            status = editor.preview(f"{bodies[index % len(bodies)]}{index}\n")  # never the same text: no cached render
            index += attackers
            with lock:
                result.preview_statuses[status] += 1

    threads = [threading.Thread(target=attack, args=(editor, i), daemon=True) for i, editor in enumerate(editors)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the attack is under way
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        status, _text = reader.get(page)
        result.page_seconds.append(time.perf_counter() - start)
        result.page_statuses[status] += 1
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return result


def demo_instance(folder: Path) -> Path:
    """A demo instance (content, accounts, SQL cache) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    database = Database(f"sqlite:///{folder / 'zhengai.db'}")
    initialise(repo=ContentRepository(folder / "content.git"), db=database, demo=True)
    database.dispose()
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", nargs=2, metavar=("CLASS", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1000,2000,4000,8000")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before an unguarded render is stopped")
    parser.add_argument("--skip-classes", action="store_true")
    parser.add_argument("--attackers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the reader loads pages under attack")
    args = parser.parse_args()
    if args.raw:
        _raw_main(args.raw[0], int(args.raw[1]))
        return 0
    if not args.skip_classes:
        measure_classes(tuple(int(s) for s in args.sizes.split(",")), args.timeout)
    print()
    for name, body in WORST_PREVIEWS.items():
        seconds, refused = guarded_seconds(body)
        print(f"worst preview {name:<20} {len(body):>7} characters: {seconds:.3f} s{' (refused)' if refused else ''}")
    from zhengai_docs import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"REVIEW_REQUIRED": False}, instance_path=str(demo_instance(Path(tmp) / "instance")))
        with serve(app) as base:
            bodies = list(WORST_PREVIEWS.values())
            result = contend(base, attackers=args.attackers, seconds=args.seconds, bodies=bodies, page="/documents/A104L")
        app.extensions["zhengai"].db.dispose()
    slowest = max(result.page_seconds)
    print(result.report())
    print("✓ another user's page answered within 1 s" if slowest < 1.0 else f"✗ slowest page {slowest:.2f} s (target < 1 s)")
    return 0 if slowest < 1.0 and set(result.page_statuses) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
