"""Debian's document tools for tests: Graphviz draws flowcharts, LibreOffice turns Word into PDF,
poppler's pdftotext and pdfinfo read the PDF.

Without them a test that needs one is skipped with the package to install, unless
ZHENGAI_REQUIRE_DOCUMENT_TOOLS=1 (set by .ci/run), which turns a missing tool into a failure —
the pattern tests/test_browser.py follows for chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = {  # program -> Debian package
    "dot": "graphviz",
    "soffice": "libreoffice-writer-nogui",
    "pdftotext": "poppler-utils",
    "pdfinfo": "poppler-utils",
}


def require(program: str) -> str:
    """The program's path; skips (or fails under ZHENGAI_REQUIRE_DOCUMENT_TOOLS=1) when it is missing."""
    found = shutil.which(program)
    if found is None:
        message = f"{program} is not installed (apt-get install {TOOLS[program]})"
        if os.environ.get("ZHENGAI_REQUIRE_DOCUMENT_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def to_pdf(docx: bytes, folder: Path) -> Path:
    """The .docx as LibreOffice lays it out and prints it (a private profile: runs do not share state)."""
    soffice = require("soffice")
    require("pdftotext")
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "export.docx"
    source.write_bytes(docx)
    profile = (folder / "lo-profile").resolve().as_uri()
    command = [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "pdf"]
    subprocess.run(
        [*command, "--outdir", str(folder), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    pdf = folder / "export.pdf"
    assert pdf.is_file(), "LibreOffice wrote no PDF"
    return pdf


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page, laid out as printed (pdftotext -layout)."""
    done = subprocess.run([require("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=120)
    pages = done.stdout.decode("utf-8").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """Width and height of every page, in points."""
    done = subprocess.run([require("pdfinfo"), "-f", "1", "-l", "100000", str(pdf)], check=True, capture_output=True, timeout=60)
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", done.stdout.decode())
    return [(float(w), float(h)) for w, h in sizes]
