"""The search page, the header search box and /api/search, on the demo content, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import OpenApp, client_for, make_app
from tests.databases import clone_instance
from tests.html_reader import attributes, find_all, parse
from tests.search_backends import BACKENDS, build_index, use_backend


class Page:
    """Hits, marks, links and forms of a page, read with a parser rather than substrings."""

    def __init__(self, html: str) -> None:
        tree = parse(html)
        self.links = [a["href"] for a in attributes(tree, "//a[@href != '']")]
        self.hits = [a["href"].rsplit("/", 1)[-1] for a in attributes(tree, "//h2[@class='search-hit-title']//a[@href != '']")]
        self.marks = [mark.text_content() for mark in find_all(tree, "//mark")]
        self.forms = attributes(tree, "//form")
        # what the content security policy would block: style and event-handler attributes, inline scripts
        inline = "//*[@style or @*[starts-with(name(), 'on')] or self::script[not(@src)]]"
        self.inline = [element.tag for element in find_all(tree, inline)]


@pytest.fixture(scope="session")
def postgresql_search_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    instance = use_backend(clone_instance(demo_template, tmp_path_factory.mktemp("pg-search") / "instance"), "postgresql")
    build_index(instance)
    return instance


@pytest.fixture(params=BACKENDS)
def indexed(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "whoosh":
        return Path(request.getfixturevalue("indexed_instance"))
    return clone_instance(request.getfixturevalue("postgresql_search_template"), tmp_path / "instance")


@pytest.fixture
def app(indexed: Path) -> Iterator[Flask]:
    application = make_app(indexed)
    yield application
    application.extensions["zhengai"].close()


@pytest.fixture
def reader(app: Flask) -> FlaskClient:
    return client_for(app, "duzhe")


def test_results_are_highlighted_links_to_documents(reader: FlaskClient) -> None:
    response = reader.get("/search?q=双师")
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    assert page.hits and page.hits[0] == "A104L"  # 双师 in its title
    assert set(page.marks) == {"双师"}
    assert page.inline == [], "the content security policy forbids inline scripts and styles"


def test_code_queries_go_straight_to_the_item_or_document(reader: FlaskClient) -> None:
    assert reader.get("/search?q=A101").headers["Location"] == "/items/A101"
    assert reader.get("/search?q=a101b").headers["Location"] == "/documents/A101B"
    assert reader.get("/search?q=Ａ１０１Ｚ").headers["Location"] == "/documents/A101Z"
    assert reader.get("/search?q=A999").status_code == 200  # no such item: an ordinary search
    assert reader.get("/search?q=A101&type=Z").status_code == 200  # filters mean a search


def test_repealed_documents_are_excluded_unless_asked_for(reader: FlaskClient) -> None:
    default = Page(reader.get("/search?q=包头职业技术学院&per_page=100").get_data(as_text=True))
    assert "A301Z" not in default.hits and len(default.hits) == 29
    repealed = Page(reader.get("/search?q=包头职业技术学院&status=废止").get_data(as_text=True))
    assert repealed.hits == ["A301Z"]


def test_filters_sort_and_pagination(reader: FlaskClient) -> None:
    standards = Page(reader.get("/search?q=质量&type=B").get_data(as_text=True))
    assert standards.hits and all(code.endswith("B") for code in standards.hits)
    first = Page(reader.get("/search?q=质&per_page=5").get_data(as_text=True))
    nexts = [link for link in first.links if "page=2" in link]
    assert nexts, "a link to the next page"
    args = parse_qs(urlsplit(nexts[0]).query)
    assert args["q"] == ["质"] and args["per_page"] == ["5"]
    second = Page(reader.get(nexts[0]).get_data(as_text=True))
    assert second.hits and not set(second.hits) & set(first.hits)
    by_date = reader.get("/api/search?q=质&sort=date&per_page=100").get_json()["hits"]
    dates = [h["issued"] or "" for h in by_date]
    assert dates == sorted(dates, reverse=True)
    departments = reader.get("/api/search?department=教务处&per_page=100").get_json()
    assert departments["total"] > 0 and all("教务处" in h["departments"] for h in departments["hits"])


def test_empty_results_suggest_near_terms(reader: FlaskClient) -> None:
    page = Page(reader.get("/search?q=双师形").get_data(as_text=True))
    assert page.hits == []
    suggested = [parse_qs(urlsplit(link).query).get("q", [""])[0] for link in page.links if link.startswith("/search?")]
    assert "双师" in suggested or "双师型" in suggested


def test_api_shape(reader: FlaskClient) -> None:
    body = reader.get("/api/search?q=诊改&per_page=3").get_json()
    assert body["total"] >= 3 and len(body["hits"]) == 3 and body["pages"] == -(-body["total"] // 3)
    hit = body["hits"][0]
    assert set(hit) >= {"code", "url", "title", "title_html", "snippet_html", "type", "status", "departments", "points", "issued", "score"}
    assert "<mark" in hit["snippet_html"] and hit["url"] == f"/documents/{hit['code']}"
    assert reader.get("/api/search?q=a101b").get_json()["redirect"] == "/documents/A101B"


def test_invalid_filters_are_a_400(reader: FlaskClient) -> None:
    for query in ("type=X", "status=作废", "from=2019-13-01", "level1=11", "item=A1", "point=2..1", "page=0", "per_page=1000", "sort=x"):
        assert reader.get(f"/search?q=双师&{query}").status_code == 400, query
        response = reader.get(f"/api/search?q=双师&{query}")
        assert response.status_code == 400 and response.get_json()["error"]["status"] == 400, query


def test_the_header_search_box_is_on_every_page(reader: FlaskClient) -> None:
    for url in ("/", "/catalogue", "/items/A101", "/documents/A101Z", "/search?q=双师"):
        page = Page(reader.get(url).get_data(as_text=True))
        assert any(f.get("class") == "header-search" and f.get("action") == "/search" for f in page.forms), url


def test_reading_rules(app: Flask, indexed: Path, open_app: OpenApp) -> None:
    indexed_instance = indexed
    anonymous = app.test_client()
    assert anonymous.get("/search?q=双师").headers["Location"].startswith("/login")
    assert anonymous.get("/api/search?q=双师").status_code == 401
    login_page = Page(anonymous.get("/login").get_data(as_text=True))
    assert not any(f.get("class") == "header-search" for f in login_page.forms)
    client = open_app(indexed_instance, ANONYMOUS_READ=True).test_client()
    assert client.get("/search?q=双师").status_code == 200
    assert client.get("/api/search?q=双师").get_json()["total"] > 0
