"""Bulk push benchmark: readers keep using the site while a `git push` changes every document (issue 15).

Reuses an instance folder of `load_bench.py` (`--keep DIR`; built when missing), starts the real
server with W worker processes, and signs in R readers who open document pages and search without
pause. Then it clones the content repository, appends a sentence with a unique marker to every
document in one commit, and pushes it with `git push` as an outside tool would. While the
background follower brings the SQL cache and the search index to the pushed commit, the readers go
on; the benchmark records:

- every request's latency during the catch-up (target: none over 1 s) and its status (no 5xx);
- when the pages stop saying "系统正在同步…" and when a search finds the markers of the first and
  last documents (search caught up);
- then, with the server stopped, how long `zhengai-docs reindex` of the same documents takes
  (target: the search catch-up takes no longer than that).

    python benchmarks/push_bench.py --keep /tmp/load-5k
    python benchmarks/push_bench.py --keep /tmp/load-5k-pg --postgres-admin postgresql+psycopg://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_bench import (
    QUALITY,
    Browser,
    Recorder,
    database_url_of,
    document_pools,
    free_port,
    fresh_postgres_database,
    prepare,
    search_hits,
    server_memory,
    serving,
    zhengai_docs_command,
)
from benchmarks.measure import report

SYNCING = "系统正在同步"
WORDS = ("教学质量", "实训", "考核", "学生", "专业建设", "管理办法")


def push_every_document(content: Path, marker: str) -> tuple[int, float]:
    """Clone, append a marked sentence to every document, commit once, `git push`; (documents, push seconds)."""
    with tempfile.TemporaryDirectory() as work:
        clone = Path(work) / "clone"
        subprocess.run(["git", "clone", "-q", str(content), str(clone)], check=True)
        changed = 0
        for path in sorted(clone.rglob("*.md")):
            code = path.stem
            with path.open("a", encoding="utf-8") as file:
                file.write(f"\n推送补充条款（{marker}{code}）。\n")
            changed += 1
        git = ["git", "-C", str(clone), "-c", "user.name=推送工具", "-c", "user.email=push@example.edu.cn"]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"批量补充 {changed} 份文档"], check=True)
        start = time.perf_counter()
        subprocess.run([*git, "push", "-q", "origin", "HEAD"], check=True)
        return changed, time.perf_counter() - start


def reader_loop(browser: Browser, codes: list[str], stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        if rng.random() < 0.6:
            browser.request("GET document page", f"/documents/{rng.choice(codes)}")
        else:
            browser.request("GET search", "/search?" + urllib.parse.urlencode({"q": rng.choice(WORDS)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--keep", type=Path, required=True, help="the instance folder (built by load_bench.py's preparation when missing)")
    parser.add_argument("--postgres-admin", help="PostgreSQL admin URL: a new instance's database is created there")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600, help="give up waiting for the catch-up after this many seconds")
    args = parser.parse_args()
    root = args.keep.resolve()
    if not (root / "ready").exists():
        url = fresh_postgres_database(args.postgres_admin) if args.postgres_admin else f"sqlite:///{root / 'zhengai.db'}"
        prepare(root, documents=args.documents, revisions=2, database_url=url)
    database_url = database_url_of(root)
    recorder = Recorder()
    marker = f"push{secrets.token_hex(3)}x"
    codes, _ = document_pools(database_url, clients=1)
    first, last = codes[0], codes[-1]
    env = {**os.environ, "ZHENGAI_REVIEW_REQUIRED": "true"}
    with serving(root, port=free_port(), workers=args.workers, threads=None, env=env) as server:
        readers = []
        for _ in range(args.readers):
            browser = Browser(server.base_url, recorder)
            browser.sign_in(QUALITY)
            readers.append(browser)
        probe = Browser(server.base_url, Recorder())
        probe.sign_in(QUALITY)
        stop = threading.Event()
        threads = [threading.Thread(target=reader_loop, args=(b, codes, stop, n)) for n, b in enumerate(readers)]
        for thread in threads:
            thread.start()
        time.sleep(5)  # a steady state before the push
        before = len(recorder.samples)
        changed, push_seconds = push_every_document(root / "content.git", marker)
        pushed_at = time.perf_counter()
        print(f"pushed {changed} changed documents in one commit ({push_seconds:.1f} s for `git push`)", flush=True)
        synced_at = search_at = None
        while time.perf_counter() - pushed_at < args.timeout and (synced_at is None or search_at is None):
            if synced_at is None and all(SYNCING not in probe.request("GET home (probe)", "/").text for _ in range(3)):
                synced_at = time.perf_counter()  # three page views in a row without the note
            if search_at is None:
                found = [
                    code in search_hits(probe.request("GET search (probe)", "/search?" + urllib.parse.urlencode({"q": marker + code})).text)
                    for code in (first, last)
                ]
                if all(found):
                    search_at = time.perf_counter()
            time.sleep(0.5)
        time.sleep(3)  # requests right after the catch-up count too
        samples = recorder.samples[before:]
        memory = server_memory(server)
        start = time.perf_counter()  # the same readers go on: a reindex on the serving machine, side by side
        subprocess.run([zhengai_docs_command(), "--instance", str(root), "reindex"], check=True, stdout=subprocess.DEVNULL, env=env)
        reindex_loaded = time.perf_counter() - start
        stop.set()
        for thread in threads:
            thread.join()
    print(f"\nduring the catch-up ({len(samples)} requests by {args.readers} readers, {args.workers} workers):")
    for kind in ("GET document page", "GET search"):
        report(kind, [s.ms for s in samples if s.kind == kind])
    slow = [s for s in samples if s.ms > 1000]
    errors = [s for s in samples if s.status >= 500 or s.status == 0]
    print(f"  slowest request: {max(s.ms for s in samples):.0f} ms; over 1 s: {len(slow)} (target 0); 5xx or no answer: {len(errors)}")
    print(f"  pages stop saying “{SYNCING}…” after {(synced_at - pushed_at) if synced_at else float('nan'):.1f} s")
    print(f"  search finds the pushed text after {(search_at - pushed_at) if search_at else float('nan'):.1f} s")
    for pid, role, peak, now in memory:
        print(f"  pid {pid:<8} {role:<16} peak {peak:7.1f} MiB   now {now:7.1f} MiB")
    start = time.perf_counter()
    subprocess.run([zhengai_docs_command(), "--instance", str(root), "reindex"], check=True, stdout=subprocess.DEVNULL, env=env)
    reindex = time.perf_counter() - start
    print(f"  `zhengai-docs reindex` of the same {changed} documents: {reindex_loaded:.1f} s while the readers go on, "
          f"{reindex:.1f} s on the idle machine (target: search catch-up no longer than a reindex)")  # fmt: skip
    ok = not slow and not errors and search_at is not None and (search_at - pushed_at) <= reindex_loaded
    print(f"  verdict: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
