"""The package's architecture, enforced: which stage may import which, the size of modules and functions, and a
report that rebuilds from a folder's files alone.

The import rules are checked by a static scan (``ast``) of every import statement in every module under
``ddpm_bench/``: module-level, function-level and ``TYPE_CHECKING`` ones alike, relative imports resolved against the
importing module, and ``from ddpm_bench import name`` resolved to the module or name it means (a name that the package's
``__init__`` re-exports counts as an import of the module it comes from). docs/architecture.md draws the same table.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ddpm_bench"
NAME = PACKAGE.name

EVERY_EARLIER = "*"

IMPORT_RULES: dict[str, tuple[str, ...]] = {
    "errors": (),
    "util": ("errors",),
    "store": ("util",),
    "hookspecs": (),
    "plugins": ("hookspecs", "util"),
    "schedulers": ("hookspecs", "plugins", "util", "store"),
    "model": ("util", "store", "schedulers"),
    "sampling": ("util", "model", "schedulers"),
    "stats": ("util",),
    "metrics": ("hookspecs", "plugins", "util", "store", "model", "stats"),
    "settings": ("util", "store", "model", "schedulers"),
    "verdicts": ("util", "store", "stats"),
    "runs": ("util", "store", "plugins", "hookspecs", "schedulers", "model", "sampling", "stats", "metrics", "settings",
             "verdicts"),
    "report": ("verdicts", "store", "util"),
    "sweep": ("runs",),
    "__init__": (EVERY_EARLIER,),
    "cli": (EVERY_EARLIER,),
    "__main__": (EVERY_EARLIER,),
}
"""What each stage (a subpackage ``ddpm_bench/NAME/`` or a top-level module ``ddpm_bench/NAME.py``) may import of the
package, besides the standard library and third-party packages. The stages flow one way, bottom to top: the rows run
from the bottom stage up, and each names only rows before it, so no two stages can import each other. ``*`` stands for
every row before it: ``__init__`` (the public API face) may import anything below ``cli``; ``cli`` and ``__main__``
anything. ``errors`` may be imported everywhere; the modules of one subpackage import each other freely."""

EVERYWHERE = {"errors"}
MAX_TOP_LEVEL_MODULES = 15
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def allowed(stage: str) -> set[str]:
    """The stages that ``stage`` may import, with ``*`` spelled out."""
    stages = list(IMPORT_RULES)
    found = set()
    for entry in IMPORT_RULES[stage]:
        found |= set(stages[:stages.index(stage)]) if entry == EVERY_EARLIER else {entry}
    return found | EVERYWHERE


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(dotted: str) -> Optional[Path]:
    """The file of a package module (``ddpm_bench.store.records``), or None when there is none."""
    base = PACKAGE.parent.joinpath(*dotted.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def stage_of(dotted: str) -> str:
    """The stage of a module, the second part of its name (a subpackage or a top-level module): ``ddpm_bench`` ->
    ``__init__``, ``ddpm_bench.store.records`` -> ``store``, ``ddpm_bench.settings`` -> ``settings``."""
    parts = dotted.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def in_package(dotted: str) -> bool:
    return dotted == NAME or dotted.startswith(NAME + ".")


def reexports(package: str) -> dict[str, str]:
    """The names a package's ``__init__`` imports from a module of this package, or loads lazily from one (the top
    package's ``_PUBLIC`` table): name -> that module's dotted name."""
    path = module_path(package)
    if path is None or path.name != "__init__.py":
        return {}
    found = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_PUBLIC"]:
            found.update(ast.literal_eval(node.value))  # the top package's lazily loaded names (PEP 562)
        if isinstance(node, ast.ImportFrom):
            source = absolute(node, package, is_package=True)
            if in_package(source):
                for alias in node.names:
                    found[alias.asname or alias.name] = source
    return found


def absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` names, relative imports resolved against the importing module."""
    if node.level == 0:
        return node.module or ""
    parts = importer.split(".") if is_package else importer.split(".")[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def resolve(source: str, name: str) -> str:
    """What ``from source import name`` means: the submodule ``source.name`` if there is one; for the top package
    (``from ddpm_bench import ConfigError``), the module its ``__init__`` took the name from; else ``source`` itself.
    A subpackage's ``__init__`` names are its own: what ``verdicts/__init__.py`` re-exports counts as ``verdicts``."""
    if name != "*" and module_path(f"{source}.{name}") is not None:
        return f"{source}.{name}"
    if source == NAME and name in reexports(NAME):
        return reexports(NAME)[name]
    return source


@dataclass(frozen=True)
class Import:
    file: str        # relative to the repository root
    line: int
    importer: str    # dotted module name
    target: str      # dotted module name, resolved

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} -> {self.target}"


def imports_of(path: Path) -> Iterator[Import]:
    """Every import of a package module in the file ``path``, wherever the statement stands."""
    yield from scan(path.read_text(), module_name(path), path.name == "__init__.py", str(path.relative_to(ROOT)))


def scan(source: str, importer: str, is_package: bool, file: str) -> Iterator[Import]:
    for node in ast.walk(ast.parse(source, file)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if in_package(alias.name):
                    yield Import(file, node.lineno, importer, alias.name)
        elif isinstance(node, ast.ImportFrom):
            origin = absolute(node, importer, is_package)
            if in_package(origin):
                for alias in node.names:
                    yield Import(file, node.lineno, importer, resolve(origin, alias.name))


def all_imports() -> list[Import]:
    return [found for path in modules() for found in imports_of(path)]


def broken_rules(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        source, target = stage_of(found.importer), stage_of(found.target)
        if source not in IMPORT_RULES:
            problems.append(f"{found.where}: {found.importer} is in no stage of IMPORT_RULES")
        elif source != target and target not in allowed(source):
            problems.append(f"{found.where}: {source} may not import {target} "
                            f"(it may import {', '.join(sorted(allowed(source)))})")
    return list(dict.fromkeys(problems))  # one line per statement, however many names it imports


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one stage (Tarjan), each a set of stages importing each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for child in edges.get(node, ()):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_rules_table_flows_one_way():
    stages = list(IMPORT_RULES)
    for position, stage in enumerate(stages):
        for entry in IMPORT_RULES[stage]:
            assert entry == EVERY_EARLIER or entry in stages, f"{stage}: unknown stage {entry!r}"
            if entry != EVERY_EARLIER:
                assert stages.index(entry) < position, f"{stage} may import {entry}, a stage above it"
    assert cycles({stage: allowed(stage) - {stage} for stage in stages}) == []


SCAN_EXAMPLE = """
from typing import TYPE_CHECKING
import numpy
import ddpm_bench.util.atomic
from . import records
from ..util.hashing import text_sha256
from .. import ConfigError, hookspecs
if TYPE_CHECKING:
    from ddpm_bench.settings import RunSettings

def late():
    from ddpm_bench.runs import sweep
"""


def test_the_scan_sees_every_kind_of_import():
    """The scan itself: plain, relative, re-exported, ``TYPE_CHECKING`` and function-level imports are all found and
    resolved (as if in ddpm_bench/store/folder_files.py); third-party ones are left alone."""
    found = list(scan(SCAN_EXAMPLE, "ddpm_bench.store.folder_files", False, "example.py"))
    assert [(item.line, item.target) for item in found] == [
        (4, "ddpm_bench.util.atomic"), (5, "ddpm_bench.store.records"), (6, "ddpm_bench.util.hashing"),
        (7, "ddpm_bench.errors"), (7, "ddpm_bench.hookspecs"), (9, "ddpm_bench.settings"),
        (12, "ddpm_bench.runs.sweep"),
    ]
    assert broken_rules(found) == [
        "example.py:7 -> ddpm_bench.hookspecs: store may not import hookspecs (it may import errors, util)",
        "example.py:9 -> ddpm_bench.settings: store may not import settings (it may import errors, util)",
        "example.py:12 -> ddpm_bench.runs.sweep: store may not import runs (it may import errors, util)",
    ]


def test_every_import_follows_the_stage_rules():
    problems = broken_rules(all_imports())
    assert not problems, "imports that break the stage rules (tests/test_architecture.py IMPORT_RULES):\n" + \
        "\n".join(problems)


def test_no_import_cycles_between_stages():
    edges: dict[str, set[str]] = {}
    examples: dict[tuple[str, str], str] = {}
    for found in all_imports():
        source, target = stage_of(found.importer), stage_of(found.target)
        if source != target:
            edges.setdefault(source, set()).add(target)
            examples.setdefault((source, target), found.where)
    problems = []
    for component in cycles(edges):
        members = set(component)
        problems.append(" <-> ".join(component) + ": " + "; ".join(
            example for (source, target), example in sorted(examples.items())
            if source in members and target in members))
    assert not problems, "stages that import each other:\n" + "\n".join(problems)


def test_the_top_level_holds_few_modules():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, \
        f"{len(top)} modules at the top of ddpm_bench/ (at most {MAX_TOP_LEVEL_MODULES}): {', '.join(top)}"


def test_no_module_is_too_long():
    long = []
    for path in modules():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_function_is_too_long():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


HEAVY = ("diffusers", "ddpm_bench.sampling", "ddpm_bench.metrics", "ddpm_bench.plugins")

REPORT_ONLY = """
import sys
from ddpm_bench.cli import main
status = main(["report", sys.argv[1]])
assert not status, status
heavy = {heavy!r}
print(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)))
"""


def test_report_reads_folder_files_only(tmp_path):
    """``ddpm-bench report DIR`` on a finished folder (a copy of results/default, as a clean clone has it) loads neither
    diffusers, the sampling loop, a feature network nor the plugin registry, and finds no statistics cache."""
    folder = tmp_path / "default"
    shutil.copytree(ROOT / "results" / "default", folder)
    for written in ("report.md", "report.html"):
        (folder / written).unlink(missing_ok=True)
    env = {**os.environ, "DDPM_BENCH_CACHE": str(tmp_path / "empty-cache"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", REPORT_ONLY.format(heavy=HEAVY), str(folder)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", \
        f"ddpm-bench report imported {done.stdout.strip().splitlines()[-1]}\n{done.stderr[-2000:]}"
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()
