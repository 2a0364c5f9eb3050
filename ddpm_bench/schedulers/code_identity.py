"""The identity of a scheduler's code, so that a record knows the code that made it.

``code_hash(cls)`` is a SHA-256 (first 16 hex digits) over the modules that define ``cls`` and every class of its
inheritance chain (its ``__mro__``, each class's defining module by ``inspect.getmodule``, each module once, in MRO
order), leaving out the standard library, torch and numpy: their versions are recorded with every point already. Each
module counts by its code, not its text: the source is parsed with ``ast``, module, class and function docstrings are
dropped, and the tree is written back with ``ast.unparse``, so comments, docstrings and layout change nothing while
any change to code does. (``ast.unparse`` rather than ``ast.dump``: the dump's layout follows the AST node fields of
the running Python, which gain entries between minor versions, and would change every hash on a Python upgrade.) A
module without source (a C extension) counts by its name and its package's version.

Only the class chain's modules count: a helper module the scheduler calls into is not covered, nor is data it reads.
``scheduler_code(factory)`` applies this to a registered factory: a class is hashed as itself; a diffusers scheduler
(``diffusers:NAME``, a ``LazyFactory``) as the diffusers class together with the adapter that runs it, both hashed the
same way (the class is imported anyway to build the scheduler, and its modules parse in milliseconds); any other
callable by the module that defines it. Hashes are cached per class (and per factory) for the life of the process.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import inspect
import sys
import tokenize
from types import ModuleType
from typing import Any, Iterable, Optional

from ddpm_bench.schedulers.diffusers_adapter import DiffusersScheduler, LazyFactory

DIGITS = 16  # of the SHA-256, in hex: what records hold
UNCOUNTED = frozenset({"torch", "numpy", "builtins"})  # besides the standard library


def code_hash(cls: type) -> str:
    """The hash of the code of ``cls`` and its base classes, outside the standard library, torch and numpy."""
    return _class_hash(cls)


@functools.cache
def _class_hash(cls: type) -> str:
    return _digest(chain_modules(cls))


def scheduler_code(factory: Any) -> str:
    """The code hash of what a registered scheduler factory builds (see the module's docstring)."""
    if isinstance(factory, LazyFactory):
        try:
            scheduler_class = factory.scheduler_class
        except Exception:  # building it fails too, and the failed point says why; diffusers' version stands in
            return _digest([*chain_modules(DiffusersScheduler), ("diffusers", None)])
        return _adapted_hash(scheduler_class)
    if isinstance(factory, type):
        return code_hash(factory)
    function = getattr(factory, "func", factory)  # a functools.partial: the function it wraps
    try:
        return _callable_hash(function)
    except TypeError:  # an unhashable callable object: hashed afresh each time
        return _callable_hash.__wrapped__(function)


@functools.cache
def _callable_hash(function: Any) -> str:
    module = inspect.getmodule(function) or inspect.getmodule(type(function))
    return _digest([(getattr(module, "__name__", type(function).__module__), module)])


@functools.cache
def _adapted_hash(scheduler_class: type) -> str:
    return _digest(_unique([*chain_modules(DiffusersScheduler), *chain_modules(scheduler_class)]))


def chain_modules(cls: type) -> list[tuple[str, Optional[ModuleType]]]:
    """(name, module) of each module defining a class of ``cls.__mro__`` that counts, once each, in MRO order; the
    module is None where a class names a module that cannot be found."""
    found = [(klass.__module__, inspect.getmodule(klass)) for klass in cls.__mro__]
    return _unique([(name, module) for name, module in found if counts(name)])


def counts(module_name: str) -> bool:
    """Whether a module's code is part of a scheduler's identity: not the standard library, torch or numpy."""
    top = module_name.partition(".")[0]
    return top not in UNCOUNTED and top not in sys.stdlib_module_names


def _unique(modules: Iterable[tuple[str, Optional[ModuleType]]]) -> list[tuple[str, Optional[ModuleType]]]:
    """The first (name, module) of each name, in order."""
    first: dict[str, tuple[str, Optional[ModuleType]]] = {}
    for name, module in modules:
        first.setdefault(name, (name, module))
    return list(first.values())


def _digest(modules: list[tuple[str, Optional[ModuleType]]]) -> str:
    digest = hashlib.sha256()
    for name, module in modules:
        digest.update(module_code(name, module).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:DIGITS]


def module_code(name: str, module: Optional[ModuleType]) -> str:
    """What a module contributes: its code without docstrings or comments, or, without source, its name and its
    package's version."""
    source = _source(module) if module is not None else None
    if source is None:
        return f"{name} {package_version(name)}"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # not Python source after all: its text counts as it is
        return source
    return ast.unparse(without_docstrings(tree))


def _source(module: ModuleType) -> Optional[str]:
    """The module's source as the file on disk now holds it (a fresh read, not linecache's copy), or None."""
    try:
        path = inspect.getsourcefile(module)
    except TypeError:  # a built-in module
        return None
    if path:
        try:
            with tokenize.open(path) as handle:
                return handle.read()
        except (OSError, SyntaxError):
            pass
    loader = getattr(module, "__loader__", None)
    try:
        return loader.get_source(module.__name__) if hasattr(loader, "get_source") else None
    except (ImportError, OSError):
        return None


def without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of its module and of every class and function removed (in place)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def package_version(module_name: str) -> str:
    """The version of the package a module belongs to: its distribution's, else its ``__version__``, else unknown."""
    top = module_name.partition(".")[0]
    try:
        return importlib.metadata.version(top)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return str(getattr(sys.modules.get(top), "__version__", "unknown"))
