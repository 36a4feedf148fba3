"""Static files as a production site serves them: hashed names, gzip, immutable caching, a favicon,
and the 3.6 MB Mermaid script only where a flowchart is drawn."""

from __future__ import annotations

import gzip
from pathlib import Path

import lxml.html
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login
from zhengai_docs.web.assets import Assets

MERMAID = "vendor/mermaid-11.17.2.min.js"


def _scripts_and_links(page: str) -> list[str]:
    tree = lxml.html.fromstring(page)
    return [e.get("src") or e.get("href") or "" for e in tree.iter() if e.tag in ("script", "link")]


def test_pages_link_hashed_names_served_immutable_and_compressed(app: Flask, client: FlaskClient) -> None:
    login(client, "duzhe")
    links = _scripts_and_links(client.get("/").get_data(as_text=True))
    css = next(url for url in links if url.endswith(".css"))
    assert css.startswith("/static/app.") and css != "/static/app.css"
    plain = client.get(css)
    assert plain.status_code == 200 and "immutable" in plain.headers["Cache-Control"]
    assert "max-age=31536000" in plain.headers["Cache-Control"]
    assert plain.data == (Path(app.static_folder or "") / "app.css").read_bytes()
    packed = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    plain.close()
    packed.close()


def test_a_changed_file_gets_a_new_name_and_the_old_version_stays(tmp_path: Path) -> None:
    source, cache = tmp_path / "static", tmp_path / "cache"
    source.mkdir()
    (source / "site.css").write_text("body { color: black; }", encoding="utf-8")
    first = Assets(source=source, cache=cache).build().url_name("site.css")
    (source / "site.css").write_text("body { color: navy; }", encoding="utf-8")
    second = Assets(source=source, cache=cache).build().url_name("site.css")
    assert first != second and first.startswith("site.") and first.endswith(".css")
    assert (cache / first).read_text(encoding="utf-8") == "body { color: black; }"  # pages rendered before still work
    assert gzip.decompress((cache / f"{second}.gz").read_bytes()) == b"body { color: navy; }"


def test_favicon(client: FlaskClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.location.endswith(".svg")
    icon = client.get(response.location)
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    icon.close()


def test_mermaid_only_where_a_flowchart_is_drawn(client: FlaskClient) -> None:
    login(client, "admin")
    regulation = _scripts_and_links(client.get("/documents/A101Z").get_data(as_text=True))
    assert not any("mermaid" in url for url in regulation)
    process = lxml.html.fromstring(client.get("/documents/A101L").get_data(as_text=True))
    named = [e.get("data-mermaid") or "" for e in process.iter() if e.tag == "script" and not e.get("src", "").count("mermaid")]
    assert any("mermaid" in url for url in named)  # fetched after the load event: the text shows first
    editor = client.get("/documents/A101Z/edit").get_data(as_text=True)
    tree = lxml.html.fromstring(editor)
    scripts = [e for e in tree.iter() if e.tag == "script"]
    assert not any("mermaid" in (e.get("src") or "") for e in scripts)  # fetched by flowcharts.js once a flowchart appears
    assert any("mermaid" in (e.get("data-mermaid") or "") for e in scripts)
