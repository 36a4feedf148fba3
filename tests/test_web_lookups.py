"""Shared web lookups (issue 13): one Content-Disposition rule for every download, and state
labels in exports and pages that are the labels of the enums defining the states."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import docx
import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import parse_options_header

from tests.conftest import login, make_app
from tests.html_reader import find_all, has_class, parse, visible_text
from tests.test_access_matrix import ROUTES
from zhengai_docs.catalogue.document import Status
from zhengai_docs.cycles import report, rules
from zhengai_docs.cycles.rules import State
from zhengai_docs.web.lookups import content_disposition

TODAY = dt.date(2026, 11, 23)  # the demo content's reference day: 9 overdue, 5 due soon
PACKAGE = Path(__file__).resolve().parent.parent / "zhengai_docs"
# RFC 6266 with an RFC 5987 extended value: a quoted ASCII fallback, then the UTF-8 name
_DISPOSITION = re.compile(r"attachment; filename=\"([A-Za-z0-9._-]+)\"; filename\*=UTF-8''((?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})+)")
DOWNLOAD_ENDPOINTS = {
    "documents.source",
    "cycles.export_report",
    "audit.coverage_tree",
    "audit.gaps",
    "audit.matrix",
    "audit.completeness",
    "audit.flags",
    "word.export_document",
    "word.handbook_docx",
    "word.self_diagnosis_docx",
}


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "today", lambda now=None: TODAY)


def sent_name(header: str) -> str:
    """The file name a browser saves under (the UTF-8 `filename*` wins over the fallback)."""
    match = _DISPOSITION.fullmatch(header)
    assert match is not None, f"not the one Content-Disposition form: {header!r}"
    name = unquote(match.group(2), encoding="utf-8", errors="strict")
    assert parse_options_header(header) == ("attachment", {"filename": name})  # Werkzeug reads it the same way
    return name


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("A101Z.md", "A101Z.md"),
        ("诊断点覆盖-教务处.csv", "download.csv"),
        ("修订周期报告-2026-11-23.csv", "2026-11-23.csv"),
        ("A101Z 包头职业技术学院专业设置与调整管理办法.docx", "A101Z.docx"),
        ('制度"汇编; filename=evil.exe.docx', "filename_evil.exe.docx"),
        ("a\\b/c%20;d\r\ne.xlsx", "a_b_c_20_d_e.xlsx"),
        ("无扩展名", "download"),
    ],
)
def test_content_disposition_names_the_file_twice_and_safely(name: str, fallback: str) -> None:
    header = content_disposition(name)
    assert header.startswith(f'attachment; filename="{fallback}"; ')
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert sent_name(header) == name  # quotes, semicolons, slashes and line breaks come back exactly


def test_no_module_writes_its_own_download_header() -> None:
    """Every download goes through `web.lookups.download` (one rule, written once)."""
    writers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"Content-Disposition|send_file|download_name", path.read_text(encoding="utf-8"), re.IGNORECASE)
    }
    assert writers == {"web/lookups.py"}


@pytest.fixture
def admin(instance: Path) -> Iterator[tuple[Flask, FlaskClient]]:
    app = make_app(instance, COLLEGE_NAME='包头"职院; filename=x')
    client = app.test_client()
    login(client, "admin")
    yield app, client
    app.extensions["zhengai"].close()


def test_every_download_route_uses_the_rule(admin: tuple[Flask, FlaskClient]) -> None:
    """Every GET route of the access matrix (complete by its own test) and every table export:
    whatever answers with a file names it by the one rule (and the known downloads are among them)."""
    app, client = admin
    head = app.extensions["zhengai"].library.repo.head() or ""
    first = app.extensions["zhengai"].library.repo.history("regulations/A/A1/A101Z.md")[-1].commit
    urls = [r.url.replace("HEAD_COMMIT", head) for r in ROUTES if r.method == "GET" and "admin" in r.allowed]
    urls += [
        f"/audit/{view}?format={fmt}&dept=教务处"
        for view in ("coverage", "gaps", "matrix", "completeness", "flags")
        for fmt in ("csv", "xlsx")
    ]
    urls += [f"/documents/A101Z/export.docx?rev={first}", f"/documents/A101Z/source?rev={first}", "/cycles/export.csv?state=due_soon"]
    adapter = app.url_map.bind("localhost")
    names: dict[str, set[str]] = {}
    for url in urls:
        response = client.get(url)
        header = response.headers.get("Content-Disposition")
        if header is None:
            continue
        assert response.status_code == 200, url
        endpoint, _args = adapter.match(urlsplit(url).path)
        names.setdefault(endpoint, set()).add(sent_name(header))
    assert set(names) >= DOWNLOAD_ENDPOINTS
    assert names["documents.source"] == {"A101Z.md"}
    assert "诊断点覆盖-教务处.csv" in names["audit.coverage_tree"] and "诊断点与目录条目矩阵-教务处.xlsx" in names["audit.matrix"]
    assert f"A101Z 包头职业技术学院专业设置与调整管理办法-{first[:10]}.docx" in names["word.export_document"]
    assert names["word.handbook_docx"] == {'包头"职院; filename=x制度汇编（B 治理结构）.docx'}  # from settings, quotes and all
    assert names["cycles.export_report"] >= {"修订周期报告-2026-11-23.csv", "修订周期报告-2026-11-23.docx"}


# -- state labels ------------------------------------------------------------------------------


def _csv(client: FlaskClient, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def _expected_states(app: Flask) -> dict[str, str]:
    """Each document's cycle state label, straight from the cycle rules and the `State` enum."""
    services = app.extensions["zhengai"]
    policy = rules.Policy.from_settings(services.settings)
    return {c.code: c.clock.state.label for c in report.document_cycles(services.db, policy=policy, today=TODAY)}


def test_coverage_exports_show_the_labels_of_the_enums(admin: tuple[Flask, FlaskClient]) -> None:
    app, client = admin
    states = _expected_states(app)
    assert State.OVERDUE.label in states.values()
    statuses = {s.label for s in Status}
    rows = [row for row in _csv(client, "/audit/coverage?format=csv") if row["文档"]]
    assert rows
    for row in rows:
        assert row["修订状态"] == states.get(row["文档"], ""), row
        assert row["状态"] in statuses, row
    assert {row["修订状态"] for row in rows} >= {State.OVERDUE.label, State.CURRENT.label}

    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/audit/coverage?format=xlsx").get_data()), read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    header = next(n for n, r in enumerate(values) if "修订状态" in r)  # below the title and 统计日期 rows
    column = values[header].index("修订状态")
    assert {r[column] for r in values[header + 1 :] if r[4]} == {row["修订状态"] for row in rows}


def test_cycle_exports_show_the_labels_of_the_enums(admin: tuple[Flask, FlaskClient]) -> None:
    app, client = admin
    states = _expected_states(app)
    everything = "&".join(f"state={s.value}" for s in State)
    rows = _csv(client, f"/cycles/export.csv?{everything}")
    assert {row["周期状态"] for row in rows} == {s.label for s in State}
    for row in rows:
        assert row["周期状态"] == states[row["代码"]], row

    word = docx.Document(io.BytesIO(client.get("/cycles/export.docx").get_data()))
    overdue = sum(1 for label in states.values() if label == State.OVERDUE.label)
    soon = sum(1 for label in states.values() if label == State.DUE_SOON.label)
    assert f"{State.OVERDUE.label} {overdue} 份，{State.DUE_SOON.label} {soon} 份" in "\n".join(p.text for p in word.paragraphs)
    table = word.tables[0]
    column = [c.text for c in table.rows[0].cells].index("周期状态")
    assert {r.cells[column].text for r in table.rows[1:]} == {State.OVERDUE.label, State.DUE_SOON.label}


class Page:
    """(class, text) of every chip on a page, and the text of its h2 headings."""

    def __init__(self, html: str) -> None:
        tree = parse(html)
        self.chips = [(chip.get("class", ""), visible_text(chip)) for chip in find_all(tree, f"//span[{has_class('chip')}]")]
        self.headings = [visible_text(heading) for heading in find_all(tree, "//h2")]


def test_pages_show_the_labels_of_the_enums(admin: tuple[Flask, FlaskClient]) -> None:
    """The coverage pages' chips and the cycles dashboard's headings say what the cycle pages say."""
    _app, client = admin
    coverage = Page(client.get("/audit/coverage").get_data(as_text=True)).chips
    cycle_chips = {(c, t) for c, t in coverage if c.startswith("chip chip-cycle-")}
    assert cycle_chips and all(text == State(c.removeprefix("chip chip-cycle-")).label for c, text in cycle_chips)
    assert ("chip chip-cycle-overdue", State.OVERDUE.label) in cycle_chips
    headings = Page(client.get("/cycles/").get_data(as_text=True)).headings
    assert f"{State.OVERDUE.label}（9）" in headings and f"{State.DUE_SOON.label}（5）" in headings
