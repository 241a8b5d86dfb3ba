"""The package's three layers, read from its imports: the paper's objects at the top of headcount/, the
training engine in headcount/engine/, the book machinery in headcount/book/. A lower layer never imports a
higher one (the paper layer imports neither engine nor book; the engine does not import the book), and no
module reaches itself through imports, at module level or inside functions."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lib" / "headcount"
RANK = {"paper": 0, "engine": 1, "book": 2}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("engine", "book") else "paper"


def imports(path: Path) -> set[str]:
    """Every headcount module `path` imports, at any depth of its code (relative imports resolved)."""
    mod = module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    known = {module_name(p) for p in PKG.rglob("*.py")}
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("headcount")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(head + ([node.module] if node.module else []))
            if not base.startswith("headcount"):
                continue
            for a in node.names:  # `from headcount import claims` imports the module headcount.claims
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return {m for m in out if m in known and m != mod}


GRAPH = {module_name(p): imports(p) for p in PKG.rglob("*.py")}


def test_every_module_sits_in_one_of_three_layers():
    top = sorted(p.stem for p in PKG.glob("*.py"))
    assert {"model", "tasks", "claims", "registry", "paper", "paths", "params"} <= set(top)
    assert not {"train", "sweep", "store", "runner", "pagecache", "cli", "plots"} & set(top)
    assert (PKG / "engine" / "sweep.py").exists() and (PKG / "book" / "runner.py").exists()


@pytest.mark.parametrize("mod", sorted(GRAPH))
def test_no_module_imports_a_higher_layer(mod):
    up = sorted(m for m in GRAPH[mod] if RANK[layer(m)] > RANK[layer(mod)])
    assert not up, f"{mod} ({layer(mod)} layer) imports {up} from a higher layer"


def test_no_import_circle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_the_checks_find_a_circle_and_an_upward_import():
    fake = {"headcount.a": {"headcount.engine.b"}, "headcount.engine.b": {"headcount.a"}}
    assert RANK[layer("headcount.engine.b")] > RANK[layer("headcount.a")]  # a imports upward
    with pytest.raises(AssertionError, match="import circle"):
        global GRAPH
        saved, GRAPH = GRAPH, fake
        try:
            test_no_import_circle()
        finally:
            GRAPH = saved
