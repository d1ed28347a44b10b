"""The package's shape: one-way layers, no import cycles, short functions, stated roles.

The layers are declared once, in pyproject.toml's import-linter contract; these tests
run the contract and check what it cannot (cycles inside a layer, function length,
module docstrings).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mer"
ROOT = SRC.parents[1]
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_layers_contract_holds():
    # import-linter's graph includes imports inside functions: a lazy import cannot hide
    # an upward dependency
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]')")
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_no_import_cycles():
    import grimp

    graph = grimp.build_graph("mer")
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    cycles = [c for c in _strongly_connected(modules, edges) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def _strongly_connected(nodes, edges):
    """Tarjan's algorithm, iterative: the strongly connected components of a digraph."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(sorted(comp))
    return out


def test_functions_are_short():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 80 lines: " + "; ".join(long)


def test_every_module_states_its_role():
    missing = [str(p.relative_to(SRC)) for p in _modules()
               if not (ast.get_docstring(ast.parse(p.read_text())) or "").strip().splitlines()]
    assert not missing, f"modules without a docstring: {missing}"


def test_the_detector_sees_a_cycle():
    # the cycle check itself can fail
    comps = _strongly_connected(["a", "b", "c"], {"a": ["b"], "b": ["a"], "c": ["a"]})
    assert ["a", "b"] in comps and ["c"] in comps


def test_short_entry_points_resolve_lazily():
    import subprocess
    import sys

    code = ("import sys, mer; assert 'mer.workflows.timeline' not in sys.modules; "
            "assert 'mer.workflows.predict' not in sys.modules and 'numpy' not in sys.modules; "
            "assert callable(mer.timeline) and callable(mer.load_model) and callable(mer.predict_files)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    import mer

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        mer.nothing  # noqa: B018
