"""Indicator warning views at N documents × 5 indicators × 5 years of values (issue 20 target:
every warning view p95 ≤ 100 ms at 10,000 documents).

Reuses (or builds) the corpus of `pages_bench.py`. Its documents carry no indicator tables, so the
declarations are written straight into the cache table `document_indicators` (what sync writes
after parsing a standard's tables; parsing is timed separately below) and the values into
`indicator_results` (5 academic years, about 5% of the latest in 预警). Then requests are timed
through the real app, signed in as the quality office.

    python benchmarks/indicators_bench.py --documents 10000 --keep /tmp/pages-10k
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select, update

from benchmarks.audit_bench import load_frameworks
from benchmarks.measure import peak_rss_mib, report, statements, timed
from benchmarks.pages_bench import prepare
from zhengai_docs import create_app
from zhengai_docs.bootstrap import builtin_data
from zhengai_docs.catalogue.framework import parse_framework
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentIndicator, DocumentRow, IndicatorResult, IndicatorResultsVersion
from zhengai_docs.errors import ZhengaiError
from zhengai_docs.indicators import results
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.indicators.declaration import declarations
from zhengai_docs.permissions import Actor, WritePolicy
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.users import Role, create_user

TODAY = dt.date(2026, 11, 23)
PASSWORD = "bench-password-1"  # noqa: S105 - a throw-away account of the benchmark's instance
YEARS = ("2021-2022", "2022-2023", "2023-2024", "2024-2025", "2025-2026")
SHAPES = (("双师型教师比例", "≥ 60%", "< 50%", "%", 60, 50, 1), ("生师比", "≤ 18:1", "> 20:1", ":1", 18, 20, -1),
          ("年终就业率", "≥ 92%", "< 85%", "%", 92, 85, 1), ("生均教学仪器设备值", "≥ 1.0万元", "< 0.6万元", "万元", 1.0, 0.6, 1),
          ("专任教师年流失率", "≤ 3%", "> 5%", "%", 3, 5, -1))  # fmt: skip
TABLE = "| 指标 | 目标值 | 预警值 | 数据来源 |\n|---|---|---|---|\n" + "".join(
    f"| {s[0]} | {s[1]} | {s[2]} | 状态数据平台 |\n" for s in SHAPES
)


def load_indicator_data(db: Database, *, seed: int = 11) -> tuple[int, int]:
    """Five declared indicators per document and five years of values for each (idempotent)."""
    points = [p.id for p in parse_framework(builtin_data("framework-moe-2015.yaml").read_text(encoding="utf-8")).points()]
    rng = random.Random(seed)
    with db.transaction() as session:
        session.execute(delete(DocumentIndicator))
        documents = session.execute(select(DocumentRow.code, DocumentRow.path)).all()
        rows, values = [], []
        count = session.scalar(select(func.count()).select_from(IndicatorResult)) or 0
        for code, _path in documents:
            linked = rng.sample(points, 2)
            for position, (name, target, warning, unit, t, w, sign) in enumerate(SHAPES, start=1):
                rows.append(dict(code=code, key=name, position=position, name=name, unit=unit, direction="higher" if sign > 0 else "lower",
                                 target_op="≥" if sign > 0 else "≤", target=str(t), target_text=target, warning_op="<" if sign > 0 else ">",
                                 warning=str(w), warning_text=warning, period="学年", source="状态数据平台", platform="",
                                 departments="教务处" if code.endswith("B") else "组织人事处", points=",".join(linked),
                                 line=position + 2))  # fmt: skip
                if count:
                    continue
                for year in YEARS:
                    good = t * (1.05 if sign > 0 else 0.9)
                    bad = w * (0.95 if sign > 0 else 1.1)
                    value = bad if rng.random() < 0.05 else good
                    values.append(dict(code=code, indicator=name, period=year, revision=1, value=f"{value:.2f}", note="", source="import",
                                       entered_by="bench", entered_by_name="基准", entered_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        session.execute(insert(DocumentIndicator), rows)
        for start in range(0, len(values), 20_000):
            session.execute(insert(IndicatorResult), values[start : start + 20_000])
        session.execute(update(DocumentRow).values(status="现行"))
        session.execute(update(IndicatorResultsVersion).values(version=IndicatorResultsVersion.version + 1))
    return len(rows), len(values) or count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        prepare(root, args.documents, args.revisions)
        load_frameworks(ContentRepository(root / "content.git"))
        settings = {
            "DATABASE_URL": f"sqlite:///{root / 'zhengai.db'}",
            "CONTENT_REPOSITORY": str(root / "content.git"),
            "BACKGROUND_SYNC": False,
        }
        app = create_app({**settings, "WTF_CSRF_ENABLED": False}, instance_path=str(root))
        svc = app.extensions["zhengai"]
        svc.db.upgrade()
        svc.library.sync()
        start = time.perf_counter()
        declared, entered = load_indicator_data(svc.db)
        print(f"{declared} indicators declared, {entered} values; loaded in {time.perf_counter() - start:.1f} s")
        svc.state.clock = lambda: TODAY
        with contextlib.suppress(ZhengaiError):  # kept from an earlier run
            create_user(svc.db, username="bench-quality", password=PASSWORD, role=Role.QUALITY, display_name="质量办")
        client = app.test_client()
        client.post("/login", data={"username": "bench-quality", "password": PASSWORD})
        rng = random.Random(3)
        points = [p.id for p in svc.library.frameworks.get("moe-2015").framework.points()]

        def get(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        started = time.perf_counter()
        get("/indicators/")
        print(f"first view (declarations loaded, statuses of every indicator computed): {(time.perf_counter() - started) * 1000:.0f} ms")
        for url in ("/indicators/", "/indicators/?status=warning", "/indicators/?dept=教务处&status=warning", "/indicators/points",
                    "/audit/coverage", "/"):  # fmt: skip
            get(url)  # its templates compiled, its tallies computed once per board
            report(f"GET {url}", timed(args.runs, lambda n, url=url: get(url)), 100)
        report("GET /audit/points/<id>", timed(args.runs, lambda n: get(f"/audit/points/{rng.choice(points)}")), 100)
        codes = [c for (c,) in svc.db.session().execute(select(DocumentRow.code).limit(200))]
        report(
            "GET /indicators/documents/<code>/<key>",
            timed(args.runs, lambda n: get(f"/indicators/documents/{rng.choice(codes)}/生师比")),
            100,
        )
        indicators = load_indicators(svc.db, codes=codes[:50])
        admin = Actor.system()

        def after_a_value(n: int) -> None:
            indicator = indicators[n % len(indicators)]
            current = results.latest_values(svc.db, idents=[(indicator.code, indicator.key, "2025-2026")])
            expected = next(iter(current.values())).revision if current else 0
            results.record(
                svc.db,
                policy=WritePolicy(),
                actor=admin,
                indicator=indicator,
                period="2025-2026",
                value="1",
                expected=expected,
                today=TODAY,
            )
            get("/indicators/points")

        report("enter a value, then the first GET /indicators/points", timed(10, after_a_value))
        start = time.perf_counter()
        for _ in range(1000):
            declarations(TABLE, code="A101B", departments=("教务处",), points=("2.1.1",))
        print(f"parsing one standard's indicator table at sync: {(time.perf_counter() - start):.2f} ms")
        engine = svc.db.engine
        for url in ("/indicators/points", "/audit/coverage"):
            print(f"SQL statements per request, GET {url}: warm {statements(engine, lambda url=url: get(url))}")
        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        svc.close()


if __name__ == "__main__":
    main()
