"""Layers point down: nothing in utils/ imports an app; apps register what utils/ needs in their
AppConfig.ready() (the cache's warm-up reads, the invalidation policy's models by label)."""

import ast
from pathlib import Path

from django.apps import apps

from utils.cache_utils import reads

UTILS = Path(__file__).resolve().parents[2] / "utils"
APPS = {"accounts", "content", "review", "analytics"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_of_utils_imports_an_app():
    offenders = {str(path.relative_to(UTILS)): _imported_roots(path) & APPS for path in UTILS.rglob("*.py")}
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_apps_register_the_reads_the_warm_up_precomputes_and_a_write_refreshes():
    assert apps.ready
    assert reads.warm_namespaces() == ["today", "stats"]
    assert [read.namespace for read in reads.warm_reads_for(1)] == ["today", "stats"]
    assert [read.namespace for read in reads.refresh_reads_for(1)] == ["today", "stats", "content"]
