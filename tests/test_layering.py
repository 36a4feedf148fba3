"""Dependencies point one way: interfaces → services → domain → cache → content model → storage.

Every import inside the package is read from the source (including imports inside functions) and
must go to a module of the same layer or a lower one; Flask may be imported only by the web
interface and the app factory. A new module is placed in a layer by its package or by the table
below; one that fits none fails the test until it is placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zhengai_docs"

# Bottom to top. A module belongs to the first entry that names it or one of its packages.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Values and pure helpers every layer may use: no I/O, no other layer.
    ("kernel", ("errors", "config", "textdiff", "trailers", "spreadsheets", "catalogue.codes", "catalogue.yaml_input", "data")),
    ("storage", ("storage",)),  # git: read, compare-and-swap write, history
    # parsing documents, catalogue, frameworks; date rules; indicator tables and periods
    ("content model", ("catalogue", "cycles.rules", "indicators.declaration", "indicators.periods", "indicators.status")),
    ("cache", ("db", "indicators.cache")),  # the SQL projection of the content, people and workflow tables
    (
        "domain",
        (
            "search",
            "render",
            "cycles",
            "coverage",
            "frameworks",
            "permissions",
            "users",
            "inbox",
            "acknowledgements",
            "notify",
            "indicators",
            "signon",
            "staff_import",
            "attachments",  # issue 19: inspecting and reading uploads
        ),
    ),
    (
        "services",
        (
            "services",
            "derived",
            "library",
            "workflow",
            "bootstrap",
            "background",
            "publishing",
            "cycles.review",
            "cycles.remind",
            "backup",
            "health",
            "indicators.remind",
            "attachments.store",  # a document's 附件 through Library and Workflow saves
        ),
    ),
    ("interface", ("web", "cli", "cli_word", "cli_backup", "cli_staff", "cli_indicators", "cli_remote", "__init__")),
)
FLASK_ALLOWED = ("web", "__init__")  # the web interface and the app factory


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(parts) if parts != ("__init__",) else "__init__"


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific entry naming `module` or a package above it."""
    best: tuple[int, int] | None = None  # (specificity, layer)
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                specificity = name.count(".") + 1
                if best is None or specificity > best[0]:
                    best = (specificity, index)
    if best is None:
        raise AssertionError(f"zhengai_docs.{module} is in no layer: add it to LAYERS in tests/test_layering.py")
    return best[1]


def imports(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module inside the package, without the 'zhengai_docs.' prefix) of every import."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module == "zhengai_docs":  # a submodule, or a name defined in the package's __init__
                found += [(node.lineno, a.name if _is_module(package, a.name) else "__init__") for a in node.names]
            elif node.module.startswith("zhengai_docs."):
                found.append((node.lineno, node.module.removeprefix("zhengai_docs.")))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name.removeprefix("zhengai_docs.")) for a in node.names if a.name.startswith("zhengai_docs.")]
    return found


def _is_module(package: Path, name: str) -> bool:
    return (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()


def imports_flask(path: Path) -> list[int]:
    lines = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(n == "flask" or n.startswith(("flask.", "flask_")) for n in names):
            lines.append(node.lineno)
    return lines


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = module_name(path, package)
        own = layer_of(module)
        for line, target in imports(path, package):
            if layer_of(target) > own:
                found.append(f"{module}:{line} ({LAYERS[own][0]}) imports {target} ({LAYERS[layer_of(target)][0]})")
        if not any(module == name or module.startswith(name + ".") for name in FLASK_ALLOWED):
            found += [f"{module}:{line} imports Flask outside the web interface" for line in imports_flask(path)]
    return found


def test_dependencies_point_one_way() -> None:
    assert violations() == []


def test_a_wrong_import_is_caught(tmp_path: Path) -> None:
    """The check itself: a storage module importing the library, and a service importing Flask."""
    package = tmp_path / "zhengai_docs"
    (package / "storage").mkdir(parents=True)
    (package / "storage" / "repository.py").write_text("from zhengai_docs.library import Library\n", encoding="utf-8")
    (package / "workflow.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    pass\nfrom flask import g\n", encoding="utf-8")
    (package / "library.py").write_text("from zhengai_docs import errors\n", encoding="utf-8")
    (package / "errors.py").write_text("", encoding="utf-8")
    assert violations(package) == [
        "storage.repository:1 (storage) imports library (services)",
        "workflow:4 imports Flask outside the web interface",
    ]


@pytest.mark.parametrize("module", ["web.app", "cli", "services", "db.sync", "storage.repository", "catalogue.codes"])
def test_known_modules_have_a_layer(module: str) -> None:
    assert 0 <= layer_of(module) < len(LAYERS)
