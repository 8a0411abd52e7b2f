"""The modules of ``rules`` import each other one way only, at module level."""
from __future__ import annotations

import ast
from pathlib import Path

import rules

PACKAGE = Path(rules.__file__).parent


def _trees() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_rules_modules_form_no_cycle():
    graph = {name: _imports(tree) for name, tree in _trees().items() if name != "__init__"}
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {' -> '.join(path + [name])}"
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            visit(target, path + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])
    assert "accrual" not in graph["explain"] and "explain" in graph["accrual"]


def test_no_import_hides_inside_a_function():
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.level]
                assert not inner, f"rules/{name}.py: {node.name} imports {inner[0].module} inside the function"


def test_every_module_says_what_lives_there():
    for name, tree in _trees().items():
        doc = ast.get_docstring(tree)
        assert doc and doc.splitlines()[0].strip(), f"rules/{name}.py has no one-line docstring"


def test_public_names_stay_importable():
    from rules.accrual import evaluate_accrual
    from rules.results import AccrualResult, LineResult

    assert rules.evaluate_accrual is evaluate_accrual
    assert rules.AccrualResult is AccrualResult and rules.LineResult is LineResult
    for name in rules.__all__:
        assert getattr(rules, name) is not None
