"""Frameworks, links, coverage, gaps, roll-ups, matrix, completeness, flags and their pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR
from tests.conftest import OpenApp, csrf_token, login
from tests.databases import instance_database_url
from tests.html_reader import form_fields, visible_text
from zhengai_docs import coverage as cov
from zhengai_docs.bootstrap import builtin_data, initialise
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.document import DocumentMeta, Status, new_document
from zhengai_docs.catalogue.framework import InvalidFramework, framework_from_rows, parse_framework
from zhengai_docs.cli import cli
from zhengai_docs.cycles import rules
from zhengai_docs.db.database import Database
from zhengai_docs.library import Library
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.web.lookups import content_disposition

RECENT = rules.today() - dt.timedelta(days=30)
LONG_AGO = dt.date(2015, 3, 1)


def moe() -> str:
    return builtin_data("framework-moe-2015.yaml").read_text(encoding="utf-8")


# -- frameworks as data -------------------------------------------------------------------------


def test_builtin_frameworks_parse_with_their_counts() -> None:
    national = parse_framework(moe())
    assert national.counts == {"items": 5, "elements": 15, "points": 37} and national.warnings() == []
    beijing = parse_framework(builtin_data("framework-beijing-2016.yaml").read_text(encoding="utf-8"))
    assert beijing.counts["points"] == 38
    assert beijing.warnings() == ["诊断点实有 38 个，但原表脚注称 37 个"]
    assert parse_framework(national.to_yaml()) == national


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("id: moe-2015", "id: ../etc"), "无效的框架标识"),
        (("id: 1.1.2\n", "id: 1.1.1\n"), "编号 1.1.1 重复"),
        (("id: 1.1.2\n", "id: 2.1.9\n"), "应以 1.1. 开头"),
        (("name: 质量目标与定位", "name: ''"), "名称 不能为空"),
        (("\nitems:\n", "\nitems: []\nold_items:\n"), "items 应为非空列表"),
    ],
)
def test_invalid_frameworks_are_refused_with_a_reason(change: tuple[str, str], message: str) -> None:
    with pytest.raises(InvalidFramework, match=message):
        parse_framework(moe().replace(*change, 1))


def test_framework_from_a_table_with_merged_cells() -> None:
    rows = [
        (1, ["诊断项目", "诊断要素", "诊断点", "影响因素"]),
        (2, ["1 体系总体构架", "1.1 质量保证理念", "1.1.1 质量目标与定位", "目标是否明确"]),
        (3, ["", "", "1.1.2 质量保证规划", "规划是否可行"]),
        (4, ["", "1.2 组织构架", "1.2.1 机构与分工", "分工是否明确"]),
        (5, ["2 专业质量保证", "2.1 专业建设规划", "2.1.1 规划制定与实施", ""]),
    ]
    framework = framework_from_rows(rows, framework="test-2026", name="测试框架")
    assert framework.counts == {"items": 2, "elements": 3, "points": 4}
    assert framework.point("1.1.2").factors == "规划是否可行"
    with pytest.raises(InvalidFramework, match="第 3 行"):
        framework_from_rows([rows[0], (3, ["", "", "质量保证规划", ""])], framework="x-1", name="x")


# -- a small college with known links -----------------------------------------------------------


@pytest.fixture
def college(blank_instance: Path) -> Iterator[Library]:
    """The 60-item catalogue and the national framework, plus documents whose links we know."""
    repo = ContentRepository(blank_instance / "content.git")
    db = Database(instance_database_url(blank_instance))
    initialise(repo=repo, db=db, demo=False)
    library = Library(repo=repo, db=db)
    library.import_catalogue(builtin_data("catalogue-baotou.tsv"), actor=AS_EDITOR)
    for code, status, issued, points, departments in (
        ("A101B", Status.IN_FORCE, RECENT, ("2.1.1", "2.1.2"), ("教务处",)),
        ("A102B", Status.DRAFT, RECENT, ("2.1.3",), ("教务处",)),
        ("A103Z", Status.IN_FORCE, RECENT, ("2.2.1",), ("教务处",)),
        ("A104B", Status.IN_FORCE, LONG_AGO, ("2.2.2",), ("组织人事处",)),
        ("A105B", Status.REPEALED, RECENT, ("3.1.1",), ("教务处",)),
        ("A101Z", Status.IN_FORCE, RECENT, ("2.1.1", "9.9.9"), ("教务处",)),
        ("A101L", Status.IN_FORCE, RECENT, ("2.1.1",), ("教务处",)),
    ):
        save(library, code, status=status, issued=issued, points=points, departments=departments)
    yield library
    db.dispose()


def save(library: Library, code: str, **meta: object) -> None:
    doc_code = document_code(code)
    document = new_document(DocumentMeta(code=doc_code, title=f"{code} 测试文档", **meta), f"# {code}\n\n正文。\n")  # type: ignore[arg-type]
    library.save(document, actor=AS_EDITOR, message=f"写入 {code}", base=library.repo.head())


def snapshot(library: Library) -> cov.Snapshot:
    settings = {"CYCLE_YEARS_Z": 3, "CYCLE_YEARS_L": 3, "CYCLE_YEARS_B": 3, "CYCLE_DUE_SOON_DAYS": 90}
    return cov.audit_snapshot(library.db, settings, rules.today())


def test_exact_gaps_and_rollups(college: Library) -> None:
    framework = college.frameworks.get("moe-2015").framework
    result = cov.coverage(framework, snapshot(college))
    assert [p.point.id for p in result.points if p.covered] == ["2.1.1", "2.1.2"]
    reasons = {p.point.id: p.gap for p in result.gaps}
    assert reasons["2.1.3"] is cov.GapReason.NO_STANDARD  # only a draft standard
    assert reasons["2.2.1"] is cov.GapReason.NO_STANDARD  # only a regulation
    assert reasons["2.2.2"] is cov.GapReason.ONLY_OVERDUE  # issued 2015, three-year cycle
    assert reasons["3.1.1"] is cov.GapReason.UNLINKED  # the linking standard is repealed
    assert len(result.gaps) == 35 and result.covered == 2
    assert [(r.id, r.covered, r.total) for r in result.by_item()] == [("1", 0, 9), ("2", 2, 9), ("3", 0, 4), ("4", 0, 5), ("5", 0, 10)]
    element = {r.id: (r.covered, r.total) for r in result.by_element()}
    assert element["2.1"] == (2, 3) and element["2.2"] == (0, 3)
    assert [d.code for d in result.point("2.1.1").documents] == ["A101B", "A101Z", "A101L"]  # standards first


def test_department_filter_counts_only_its_documents(college: Library) -> None:
    framework = college.frameworks.get("moe-2015").framework
    personnel = cov.coverage(framework, snapshot(college), department="组织人事处")
    assert personnel.covered == 0 and personnel.point("2.2.2").gap is cov.GapReason.ONLY_OVERDUE
    assert personnel.point("2.1.1").gap is cov.GapReason.UNLINKED


def test_matrix_and_completeness(college: Library) -> None:
    framework = college.frameworks.get("moe-2015").framework
    snap = snapshot(college)
    rows = {r.item: dict(r.cells) for r in cov.matrix(framework, snap)}
    assert rows["A101"] == {"2.1.1": "ZLB", "2.1.2": "B"}
    assert rows["A104"] == {"2.2.2": "B"} and "A105" not in rows
    assert cov.matrix(framework, snap, department="组织人事处")[0].item == "A104"
    missing = {r.item: "".join(t.value for t in r.missing) for r in cov.completeness(snap)}
    assert "A101" not in missing and missing["A105"] == "ZLB" and missing["A103"] == "LB" and len(missing) == 59


def test_integrity_flags(college: Library) -> None:
    framework = college.frameworks.get("moe-2015").framework
    found = {(f.code, f.kind) for f in cov.flags(framework, snapshot(college), point_changes={})}
    # A101B was written before A101Z (the fixture's order), so it needs review; A101L came after.
    assert found == {
        ("A101Z", cov.FlagKind.UNKNOWN_POINT),
        ("A105B", cov.FlagKind.REPEALED_LINK),
        ("A101B", cov.FlagKind.REGULATION_REVISED),
    }


def test_revising_a_regulation_flags_its_process_and_standard_until_they_move(college: Library) -> None:
    framework = college.frameworks.get("moe-2015").framework
    save(college, "A101Z", status=Status.IN_FORCE, issued=RECENT, points=("2.1.1",), departments=("教务处",))
    flagged = {f.code for f in cov.flags(framework, snapshot(college), point_changes={}) if f.kind is cov.FlagKind.REGULATION_REVISED}
    assert flagged == {"A101L", "A101B"}
    save(college, "A101L", status=Status.IN_FORCE, issued=rules.today(), points=("2.1.1",), departments=("教务处",))
    flagged = {f.code for f in cov.flags(framework, snapshot(college), point_changes={}) if f.kind is cov.FlagKind.REGULATION_REVISED}
    assert flagged == {"A101B"}


def test_a_changed_point_flags_documents_linked_before_the_change(college: Library) -> None:
    text = college.repo.read("frameworks/moe-2015.yaml").text
    changed = parse_framework(text.replace("规划制定与实施", "规划制定、实施与评估", 1))
    college.import_framework(changed, actor=AS_EDITOR, message="框架修订 2.1.1")
    changes = college.frameworks.point_changes("moe-2015")
    assert set(changes) == {"2.1.1"}
    found = {f.code for f in cov.flags(changed, snapshot(college), point_changes=changes) if f.kind is cov.FlagKind.POINT_CHANGED}
    assert found == {"A101B", "A101Z", "A101L"}
    save(college, "A101B", status=Status.IN_FORCE, issued=rules.today(), points=("2.1.1", "2.1.2"), departments=("教务处",))
    found = {f.code for f in cov.flags(changed, snapshot(college), point_changes=changes) if f.kind is cov.FlagKind.POINT_CHANGED}
    assert found == {"A101Z", "A101L"}


def test_coverage_history_finds_when_a_point_first_got_a_standard(college: Library) -> None:
    save(college, "A106B", status=Status.IN_FORCE, issued=RECENT, points=(), departments=("教务处",))
    save(college, "A106B", status=Status.IN_FORCE, issued=RECENT, points=("4.1.1",), departments=("教务处",))
    events = cov.coverage_history(college.db, college.repo, "4.1.1", ["A106B"])
    assert [e.code for e in events] == ["A106B"]
    history = college.repo.history("standards/A/A1/A106B.md")
    assert events[0].commit == history[0].commit  # the second version, not the first


def test_suggestions_rank_points_sharing_words_with_the_text() -> None:
    framework = parse_framework(moe())
    ranked = cov.suggest_points(framework, "为规范专业设置与专业建设规划的制定与实施，明确专业人才培养方案的要求")
    assert ranked[0][0].id == "2.1.1"
    assert all(p.id != "2.1.1" for p, _ in cov.suggest_points(framework, "专业建设规划", exclude={"2.1.1"}))
    assert cov.suggest_points(framework, "abc 123") == []


# -- pages, exports, import, CLI ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/audit/", "/audit/coverage", "/audit/gaps", "/audit/matrix", "/audit/completeness", "/audit/flags",
                                 "/audit/points/2.1.1", "/audit/frameworks", "/audit/frameworks/beijing-2016"])  # fmt: skip
def test_audit_pages_render_for_every_reader(client: FlaskClient, url: str) -> None:
    login(client, "duzhe")
    assert client.get(url).status_code == 200
    assert client.get(url + ("&" if "?" in url else "?") + "dept=教务处").status_code == 200


def test_unknown_department_point_and_format_are_refused(client: FlaskClient) -> None:
    login(client, "duzhe")
    assert client.get("/audit/gaps?dept=不存在的处").status_code == 404
    assert client.get("/audit/points/9.9.9").status_code == 404
    assert client.get("/audit/gaps?format=pdf").status_code == 400
    assert client.get("/audit/frameworks/..%2Fetc").status_code == 404


def test_gap_export_csv_and_xlsx_match_the_page(client: FlaskClient) -> None:
    login(client, "zhiliang")
    page = visible_text(client.get("/audit/gaps?dept=教务处").get_data(as_text=True))
    response = client.get("/audit/gaps?dept=教务处&format=csv")
    assert response.headers["Content-Disposition"] == content_disposition("诊断点缺口-教务处.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["诊断点", "名称", "缺口原因", "影响因素", "现有关联文档"]
    assert all(row[0] in page for row in rows[1:]) and len(rows) > 1
    book = openpyxl.load_workbook(io.BytesIO(client.get("/audit/gaps?dept=教务处&format=xlsx").data))
    table = book.active.iter_rows(min_row=3, values_only=True)  # under the title and 统计日期 rows
    assert [[cell or "" for cell in r] for r in table] == rows


def test_linking_two_points_in_the_editor_changes_the_coverage_view(app: Flask, client: FlaskClient) -> None:
    login(client, "jiaowu")
    page = client.get("/documents/A101B/edit").get_data(as_text=True)
    assert 'data-point="2.1.1"' in page and "根据正文建议" in page
    before = visible_text(client.get("/audit/points/5.1.1").get_data(as_text=True))
    assert "A101B" not in before
    fields = form_fields(page, "document-form")
    fields.update(points="5.1.1，5.1.2", message="关联教师队伍诊断点")
    assert client.post("/documents/A101B/edit", data=fields).status_code == 302
    after = visible_text(client.get("/audit/points/5.1.1").get_data(as_text=True))
    assert "A101B" in after and "标准开始关联此诊断点" in after
    view = client.get("/documents/A101B").get_data(as_text=True)
    assert "5.1.1" in visible_text(view)


def test_framework_import_is_a_commit_for_the_quality_office_only(app: Flask, client: FlaskClient) -> None:
    repo = app.extensions["zhengai"].library.repo
    head = repo.head()
    text = moe().replace("id: moe-2015", "id: hunan-2017").replace("name: 高等职业院校", "name: 湖南省高等职业院校", 1)
    login(client, "jiaowu")
    token = csrf_token(client, "/audit/frameworks")
    upload = {"csrf_token": token, "file": (io.BytesIO(text.encode()), "hunan.yaml")}
    assert client.post("/audit/frameworks/import", data=upload, content_type="multipart/form-data").status_code == 403
    assert repo.head() == head
    client.post("/logout", data={"csrf_token": token})
    login(client, "zhiliang")
    token = csrf_token(client, "/audit/frameworks")
    upload = {"csrf_token": token, "file": (io.BytesIO(text.encode()), "hunan.yaml")}
    response = client.post("/audit/frameworks/import", data=upload, content_type="multipart/form-data")
    assert response.status_code == 302 and response.location.endswith("/audit/frameworks/hunan-2017")
    assert repo.head() != head and "hunan-2017" in app.extensions["zhengai"].library.frameworks.ids()
    broken = {"csrf_token": token, "file": (io.BytesIO(b"id: [unclosed"), "bad.yaml")}
    client.post("/audit/frameworks/import", data=broken, content_type="multipart/form-data")
    assert "导入失败" in visible_text(client.get("/audit/frameworks").get_data(as_text=True))


def test_cli_audit_coverage_threshold_and_framework_import(instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    runner = CliRunner()
    failing = runner.invoke(cli, ["--instance", str(instance), "audit", "--coverage", "--min-coverage", "1"])
    assert failing.exit_code == 1 and "诊断点覆盖" in failing.output
    passing = runner.invoke(cli, ["--instance", str(instance), "audit", "--coverage", "--min-coverage", "0"])
    assert passing.exit_code == 0, passing.output
    table = tmp_path / "framework.csv"
    table.write_text("诊断项目,诊断要素,诊断点,影响因素\n1 体系,1.1 理念,1.1.1 目标,是否明确\n", encoding="utf-8")
    result = runner.invoke(cli, ["--instance", str(instance), "import-framework", str(table), "--id", "mini-1", "--name", "小框架"])
    assert result.exit_code == 0 and "1 个诊断点" in result.output
    assert "mini-1" in open_app(instance).extensions["zhengai"].library.frameworks.ids()
