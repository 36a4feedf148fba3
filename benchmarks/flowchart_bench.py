"""Flowchart page in a real browser: first and second visit, and what the Mermaid script costs (issue 15).

Initialises a demo instance (`zhengai-docs init --demo`), starts the real server on 127.0.0.1
(`--workers`, waitress for 1) and drives Debian's chromium through Playwright: sign in, open a
流程 document whose body draws a flowchart (A101L), then open it again in the same browser, as a
reader going back to it would. For each visit it prints the time to the load event and to the
drawn chart (the SVG in the page), and for the Mermaid script its transferred and decoded sizes
and its response headers. A page without a flowchart must not load Mermaid at all.

Targets (issue 15): second visit ≤ 300 ms to the load event; the first transfers Mermaid compressed.

    python benchmarks/flowchart_bench.py --runs 10
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, sync_playwright

from benchmarks.load_bench import free_port, serving, zhengai_docs_command
from zhengai_docs.bootstrap import DEMO_PASSWORD

CHROMIUM = next((c for c in ("/usr/lib/chromium/chromium", shutil.which("chromium")) if c and Path(c).exists()), None)
FLOWCHART, PLAIN = "A101L", "A101Z"

TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mermaid = performance.getEntriesByType('resource').find(r => r.name.includes('/vendor/mermaid-'));
  return {load: nav.loadEventEnd - nav.startTime,
          mermaid: mermaid ? {transfer: mermaid.transferSize, encoded: mermaid.encodedBodySize, decoded: mermaid.decodedBodySize} : null};
}"""


CHART = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mermaid = performance.getEntriesByType('resource').find(r => r.name.includes('/vendor/mermaid-'));
  return {chart: performance.now() - nav.startTime,
          mermaid: mermaid ? {transfer: mermaid.transferSize, encoded: mermaid.encodedBodySize, decoded: mermaid.decodedBodySize} : null};
}"""


def visit(page: Page, path: str) -> dict[str, object]:
    """Open `path`, wait for the load event (and the drawn chart, if any); the browser's own timings."""
    page.goto(path, wait_until="load")
    figures: dict[str, object] = page.evaluate(TIMING)
    if path.endswith(FLOWCHART):
        page.wait_for_selector(".mermaid svg, .flowchart svg", timeout=30_000)
        drawn = page.evaluate(CHART)
        figures.update(chart=drawn["chart"], mermaid=drawn["mermaid"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="fresh browser contexts, each visiting twice")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("chromium is required (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "instance"
        subprocess.run([zhengai_docs_command(), "--instance", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL)
        with serving(root, port=free_port(), workers=args.workers, threads=None, env={}) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
            headers: dict[str, str] = {}
            first, second, charts, plain = [], [], [], []
            for run in range(args.runs):
                context = browser.new_context(base_url=server.base_url, viewport={"width": 1366, "height": 768})
                page = context.new_page()
                if run == 0:
                    page.on("response", lambda r: headers.update(r.headers) if "/vendor/mermaid-" in r.url and not headers else None)
                page.goto("/login")
                page.fill("input[name=username]", "duzhe")
                page.fill("input[name=password]", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_load_state("load")
                page.goto(f"/documents/{PLAIN}", wait_until="load")  # the site's own CSS and scripts are cached now
                no_chart = page.evaluate(TIMING)
                plain.append(no_chart)
                once, twice = visit(page, f"/documents/{FLOWCHART}"), visit(page, f"/documents/{FLOWCHART}")
                first.append(once)
                second.append(twice)
                charts.append(once.get("chart"))
                context.close()
            browser.close()
    loads = lambda visits: [float(v["load"]) for v in visits]  # noqa: E731
    print(f"{args.runs} fresh browser contexts, {args.workers} worker(s), chromium at 1366×768")
    print(f"page without a flowchart ({PLAIN}): load p50 {statistics.median(loads(plain)):.0f} ms; Mermaid loaded: "
          f"{'yes' if any(v['mermaid'] for v in plain) else 'no'}")  # fmt: skip
    print(f"flowchart page ({FLOWCHART}), first visit:  load p50 {statistics.median(loads(first)):.0f} ms, max {max(loads(first)):.0f} ms; "
          f"chart drawn p50 {statistics.median([float(c) for c in charts if c is not None]):.0f} ms")  # fmt: skip
    print(f"flowchart page ({FLOWCHART}), second visit: load p50 {statistics.median(loads(second)):.0f} ms, max {max(loads(second)):.0f} ms"
          f"; chart drawn p50 {statistics.median([float(v['chart']) for v in second]):.0f} ms"
          f"  {'✓' if max(loads(second)) <= 300 else '✗'} (target ≤ 300 ms to the load event)")  # fmt: skip
    m1, m2 = first[0]["mermaid"], second[0]["mermaid"]
    print(f"Mermaid script, first visit: {m1}; second visit: {m2} (transfer 0: from the browser's cache)")
    print(f"Mermaid response headers: content-encoding={headers.get('content-encoding')}, cache-control={headers.get('cache-control')}")


if __name__ == "__main__":
    main()
