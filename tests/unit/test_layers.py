"""The deployed packages (jobs/, udfs/, proto/) stand on their own: the image runs them without the
dev tooling in `streamsuite/` (stack, cluster, generator, bench, demo, CLI), which may import them
but never the other way round. Checked on the source, so an import inside a function counts too."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ("jobs", "udfs", "proto")
DEV_TOOLING = "streamsuite"


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def imported_names(path: Path) -> list[tuple[int, str]]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
    return names


def test_every_deployed_package_has_modules():
    for folder in DEPLOYED:
        assert modules(folder), f"no Python module under {folder}/"


def test_deployed_code_imports_nothing_from_the_dev_tooling():
    offending = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for folder in DEPLOYED for path in modules(folder) for line, name in imported_names(path)
                 if name == DEV_TOOLING or name.startswith(DEV_TOOLING + ".")]
    assert not offending, "\n".join(offending)


def test_the_jobs_modules_import_each_other_without_a_circle():
    """A circle would make one module's import order decide whether another works."""
    local = {p.stem: p for p in modules("jobs") if p.stem != "__init__"}
    edges = {name: {imported.split(".")[1] for _, imported in imported_names(path)
                    if imported.startswith("jobs.") and imported.split(".")[1] in local}
             for name, path in local.items()}
    for path in local.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "jobs":
                edges[path.stem] |= {alias.name for alias in node.names if alias.name in local}
    done, on_path = set(), []

    def visit(name: str) -> None:
        if name in on_path:
            raise AssertionError("import circle: " + " -> ".join(on_path[on_path.index(name):] + [name]))
        if name in done:
            return
        on_path.append(name)
        for other in sorted(edges[name]):
            visit(other)
        on_path.pop()
        done.add(name)

    for name in sorted(edges):
        visit(name)


def test_no_module_imports_a_private_name_of_another():
    """A name with a leading underscore is its module's own; another module that needs it needs it public."""
    project = ("jobs", "udfs", "streamsuite", "tests", "benchmarks")
    offending = []
    for folder in project:
        for path in modules(folder):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in project
                        and not node.module.endswith("_pb2")):
                    offending += [f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.{alias.name}"
                                  for alias in node.names if alias.name.startswith("_")]
    assert not offending, "\n".join(offending)


MAX_MODULE_LINES = 500


def project_modules() -> list[Path]:
    """Every Python module of the checkout but the generated Protobuf code; hidden folders (a venv,
    the run folder, tools) and build output are not the project's."""
    paths = []
    for top in sorted(ROOT.iterdir()):
        if top.name.startswith(".") or top.name in ("build", "dist"):
            continue
        candidates = [top] if top.is_file() else top.rglob("*.py")
        paths += [p for p in candidates if p.suffix == ".py" and "__pycache__" not in p.parts
                  and not p.name.endswith("_pb2.py")]
    return paths


def test_no_module_is_over_500_lines():
    """A module that long holds more than one thing: split it along its seams."""
    modules = project_modules()
    assert any(p.name == "test_layers.py" for p in modules)
    offending = [f"{path.relative_to(ROOT)} has {lines} lines" for path in modules
                 if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not offending, f"more than {MAX_MODULE_LINES} lines:\n" + "\n".join(offending)
