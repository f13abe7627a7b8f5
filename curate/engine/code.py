"""A stage's code in its checkpoint fingerprint: an edited stage is recomputed, not resumed.

The fingerprint hashes the source of the module that defines the stage's
class and of every module of the same top-level package that it imports,
directly or through another such module, at the top or inside a function (``curate.rewriting.program`` for
``curate.stages.rewrite``, say), plus the data files shipped beside those
modules (fitted weights, small models, word lists). Editing a helper module or
refitting shipped weights therefore invalidates the checkpoint as editing the
stage itself does. Base modules every stage shares (``curate.stage``,
``curate.tables``, ``curate.engine``, ...) are left out: an edit there is an
engine change, and the package version covers it. A class whose source cannot be read (defined
in an interactive session) is fingerprinted by name only.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
from functools import cache
from pathlib import Path

# Data files beside a module that change what a stage computes.
DATA_SUFFIXES = (".json", ".ftz", ".bin", ".npz", ".txt", ".tsv", ".csv")
DATA_FILE_LIMIT = 64 * 1024 * 1024
# Shared modules whose edits are engine changes, not stage changes.
SHARED_PREFIXES = ("curate.stage", "curate.tables", "curate.engine", "curate.runner", "curate.config",
                   "curate.manifest", "curate.documents", "curate.io", "curate.cli", "curate.clock", "curate.ray_env")


def _is_shared(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in SHARED_PREFIXES)


def _imported_names(tree: ast.AST, module_name: str, is_package: bool) -> set[str]:
    """Absolute names of the modules (or module attributes) an AST imports, lazy imports included."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module_name.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@cache
def _source_file(name: str) -> Path | None:
    """The ``.py`` file of module ``name`` without importing it (its parent packages may be imported)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


@cache
def _module_imports(name: str, path: Path) -> frozenset[str]:
    """What module ``name`` (source ``path``) imports; parsed once per process, shared by every stage."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(_imported_names(tree, name, path.name == "__init__.py"))


def stage_files(cls: type) -> list[tuple[str, Path]]:
    """(module name, source file) of the stage's module and of its package's modules it imports, by name."""
    root = cls.__module__
    package = root.split(".")[0]
    first = _source_file(root)
    if first is None:
        return []
    found = {root: first}
    pending = [root]
    while pending:
        name = pending.pop()
        path = found[name]
        for imported in _module_imports(name, path):
            if imported in found or imported.split(".")[0] != package or _is_shared(imported):
                continue
            source = _source_file(imported)
            if source is not None:
                found[imported] = source
                pending.append(imported)
    return sorted(found.items())


def _data_files(files: list[Path]) -> list[Path]:
    folders = {path.parent for path in files}
    return sorted(path for folder in folders for path in folder.iterdir()
                  if path.suffix in DATA_SUFFIXES and path.is_file() and path.stat().st_size <= DATA_FILE_LIMIT)


@cache
def code_fingerprint(cls: type) -> str:
    """Hash of the stage's source, its package's modules it uses and their data files ("" when unreadable)."""
    files = stage_files(cls)
    digest = hashlib.sha256()
    if not files:
        try:
            digest.update(inspect.getsource(cls).encode())
        except (OSError, TypeError):
            return ""
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for path in _data_files([path for _, path in files]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def files_fingerprint(paths: tuple[str, ...]) -> str:
    """Hash of files a stage reads besides its code (a model given by path): their contents up to
    ``DATA_FILE_LIMIT``, size and modification time above it; a missing file hashes as missing."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        file = Path(path)
        if not file.is_file():
            digest.update(b"missing\0")
            continue
        info = file.stat()
        if info.st_size <= DATA_FILE_LIMIT:
            digest.update(file.read_bytes())
        else:
            digest.update(f"{info.st_size}:{info.st_mtime_ns}".encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
