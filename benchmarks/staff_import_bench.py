"""Staff import benchmark: `import-staff` of N rows (default 1,000) as CSV and as XLSX — the dry run,
the apply that creates every account, a re-import that changes nothing, and an import in which a
tenth of the people moved department and a twentieth left (disabled).

    python benchmarks/staff_import_bench.py --rows 1000 [--database-url postgresql+psycopg://…/db]

The database is a new SQLite file unless --database-url names an empty one.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook

from benchmarks.corpus import DEPARTMENTS
from zhengai_docs.db.database import Database
from zhengai_docs.permissions import Actor
from zhengai_docs.staff_import import StaffPlan, apply_import, plan_import

HEADER = ["工号", "姓名", "部门", "邮箱", "角色"]
ROLES = ["", "", "", "普通读者", "部门编辑"]


def staff(rows: int, *, moved: bool = False) -> list[list[str]]:
    people = []
    for n in range(rows):
        if moved and n % 20 == 0:
            continue  # left
        department = DEPARTMENTS[(n + (1 if moved and n % 10 == 1 else 0)) % len(DEPARTMENTS)]
        people.append([f"2020{n:05d}", f"教师{n:04d}", department, f"t{n}@college.edu.cn", ROLES[n % len(ROLES)]])
    return people


def write(folder: Path, name: str, rows: list[list[str]], *, xlsx: bool) -> Path:
    if xlsx:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in [HEADER, *rows]:
            sheet.append(row)
        path = folder / f"{name}.xlsx"
        book.save(path)
        return path
    path = folder / f"{name}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([HEADER, *rows])
    return path


def timed(label: str, action: Callable[[], StaffPlan]) -> StaffPlan:
    start = time.perf_counter()
    plan = action()
    seconds = time.perf_counter() - start
    print(
        f"{label:<40} {seconds * 1000:8.0f} ms   新建 {len(plan.created)} 更新 {len(plan.updated)} "
        f"停用 {len(plan.disabled)} 无变化 {plan.unchanged}",
        flush=True,
    )
    return plan


def run(database_url: str | None, rows: int, folder: Path, *, xlsx: bool) -> None:
    db = Database(database_url or f"sqlite:///{folder / ('x' if xlsx else 'c')}.db")
    db.upgrade()
    known = tuple(DEPARTMENTS)
    system = Actor.system()
    first = write(folder, "staff", staff(rows), xlsx=xlsx)
    later = write(folder, "staff-later", staff(rows, moved=True), xlsx=xlsx)
    kind = "XLSX" if xlsx else "CSV"
    try:
        timed(f"{kind} {rows} rows: dry run", lambda: plan_import(db, path=first, known_departments=known))
        timed(f"{kind} {rows} rows: apply (all new)", lambda: apply_import(db, path=first, known_departments=known, actor=system))
        again = timed(f"{kind} {rows} rows: re-import", lambda: apply_import(db, path=first, known_departments=known, actor=system))
        assert again.changes == 0, "a re-import changed something"
        timed(f"{kind} {rows} rows: moved and departed", lambda: apply_import(db, path=later, known_departments=known, actor=system))
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file); used for the CSV run only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run(args.database_url, args.rows, folder, xlsx=False)
        run(None, args.rows, folder, xlsx=True)


if __name__ == "__main__":
    main()
