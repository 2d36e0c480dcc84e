"""The layering contract of DESIGN §1, read from the AST of a source tree.

Three rules: a package imports only the packages `ALLOWED_IMPORTS` gives it, directly or through
anything it imports (the reach is followed module by module); a dynamic import names its module as a
string literal, or its module says why it cannot (`# layering: dynamic-imports <reason>`); a module
marked `# layering: pure` does no I/O, no asyncio, and imports only pure modules of ours.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_RULES: dict[str, frozenset[str]] = {
    "infra": frozenset(),
    "wire": frozenset(),
    "devicemodel": frozenset({"wire", "infra"}),
    "adapters": frozenset({"infra", "devicemodel"}),
    "gateway": frozenset({"infra", "adapters", "wire", "devicemodel"}),
    "collector": frozenset({"infra", "wire", "devicemodel"}),
    "simulators": frozenset({"infra", "adapters", "wire", "devicemodel"}),
    # adapters.yamlload only: errors that name file, line and field
    "assessment": frozenset({"infra", "adapters", "devicemodel"}),
    # the platform service reads what the collector stores, through the collector's own queries
    "api": frozenset({"infra", "wire", "devicemodel", "collector"}),
    # MQTT in, Kafka out: topics and keys from the wire contract, never the collector's code
    "bridge": frozenset({"infra", "wire"}),
}
# Which of our packages each top-level package may import; the root CLI mounts them all.
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {**_RULES, "plantproof": frozenset(_RULES)}
# Top-level directories that are not packages of the product; importing them is still forbidden.
NOT_PACKAGES = frozenset({"tests", "bench", "docs", "scripts", "configs"})
# Top-level modules a pure module may not import: files, clocks, threads, sockets, clients, logs.
IMPURE_IMPORTS = frozenset(
    {"os", "pathlib", "io", "shutil", "tempfile", "yaml", "sqlite3", "psycopg", "psycopg2", "psycopg_pool"}
    | {"time", "threading", "multiprocessing", "concurrent", "signal", "asyncio", "selectors", "socket"}
    | {"subprocess", "paho", "asyncua", "pymodbus", "serial", "aiokafka", "requests", "urllib", "http"}
    | {"logging"}  # no pure module logs today: a pure function returns what happened instead
)
PURE_MARKER = re.compile(r"#\s*layering:\s*pure\s*$")
DYNAMIC_MARKER = re.compile(r"#\s*layering:\s*dynamic-imports\s+\S")
_IMPORT_CALLS = frozenset({"import_module", "__import__"})
_LOADER_CALLS = frozenset(
    {"spec_from_file_location", "spec_from_loader", "module_from_spec", "exec_module", "load_module"}
    | {"iter_modules", "walk_packages", "get_loader", "find_loader", "run_module", "run_path"}
    | {"entry_points"}
)
_LOADER_HOMES = frozenset({"importlib", "pkgutil", "runpy", "builtins"})
_FILE_CALLS = frozenset({"open", "io.open", "builtins.open", "os.open", "os.fdopen"})


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # unknown-package | import | reach | dynamic | purity | required-pure
    module: str  # the file (or package) at fault, relative to the root
    target: str  # what it reaches for: a module, a package, a call
    message: str

    @property
    def key(self) -> str:
        return f"{self.kind} {self.module} -> {self.target}"


@dataclass(frozen=True, slots=True)
class Edge:
    target: str  # dotted module name as written, made absolute
    line: int
    runtime: bool  # False under `if TYPE_CHECKING:`: a dependency, but not executed


@dataclass(slots=True)
class Module:
    name: str
    path: str
    edges: list[Edge]
    dynamic: list[tuple[int, str]]  # (line, call) for dynamic imports that name no literal module
    impure: list[tuple[int, str]]  # (line, what) local reasons it is not pure
    pure: bool
    dynamic_ok: bool


def top_packages(root: Path) -> list[str]:
    """Our top-level packages: directories of Python modules at the root, namespace ones too."""
    return sorted(
        d.name
        for d in root.iterdir()
        if d.is_dir() and any(d.glob("*.py")) and d.name not in NOT_PACKAGES | sys.stdlib_module_names
        if not d.name.startswith(".")
    )


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _header_markers(source: str, tree: ast.Module) -> list[str]:
    # Markers belong to the module header: comment lines before the first statement that is not a
    # docstring or an import.
    docstring = tree.body[0] if tree.body and ast.get_docstring(tree) is not None else None
    end = next(
        (s.lineno for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom) and s != docstring),
        len(source.splitlines()) + 1,
    )
    return [ln.strip() for ln in source.splitlines()[: end - 1] if ln.strip().startswith("#")]


def _absolute(module: str, is_init: bool, level: int, name: str | None) -> str:
    parts = module.split(".") if is_init else module.split(".")[:-1]
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, name] if name else base)


def _walk(node: ast.AST, runtime: bool = True) -> Iterator[tuple[ast.AST, bool]]:
    # Every node under node, with whether it runs: `if TYPE_CHECKING:` bodies name types, not imports.
    for child in ast.iter_child_nodes(node):
        yield child, runtime
        if isinstance(child, ast.If) and _dotted(child.test).endswith("TYPE_CHECKING"):
            for sub, flag in [(b, False) for b in child.body] + [(b, runtime) for b in child.orelse]:
                yield sub, flag
                yield from _walk(sub, flag)
        else:
            yield from _walk(child, runtime)


def _module_name(rel: Path) -> str:
    return ".".join(rel.parent.parts if rel.name == "__init__.py" else rel.with_suffix("").parts)


def parse_module(root: Path, path: Path, known: set[str]) -> Module:
    rel = path.relative_to(root)
    is_init = path.name == "__init__.py"
    name = _module_name(rel)
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(rel))
    edges: list[Edge] = []
    dynamic: list[tuple[int, str]] = []
    impure: list[tuple[int, str]] = []
    aliases: dict[str, str] = {}  # `from importlib import import_module as load`: load is import_module
    for node, runtime in _walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _LOADER_HOMES:
            aliases.update({a.asname or a.name: a.name for a in node.names})
        if isinstance(node, ast.Import):
            edges += [Edge(a.name, node.lineno, runtime) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_init, node.level, node.module) if node.level else node.module or ""
            # `from pkg import mod` imports the module pkg.mod when there is one, else a name of pkg.
            for a in node.names:
                sub = f"{base}.{a.name}"
                edges.append(Edge(sub if sub in known else base, node.lineno, runtime))
        elif isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncWith | ast.AsyncFor):
            impure.append((node.lineno, type(node).__name__))
        elif isinstance(node, ast.Call):
            call = _dotted(node.func)
            last = aliases.get(call, call.rsplit(".", 1)[-1])
            if call in _FILE_CALLS:
                impure.append((node.lineno, f"{call}()"))
            if last in _IMPORT_CALLS:
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                    target = arg.value
                    if target.startswith("."):  # import_module(".x", package=...): relative to us
                        dots = len(target) - len(target.lstrip("."))
                        target = _absolute(name, is_init, dots, target.lstrip(".") or None)
                    edges.append(Edge(target, node.lineno, runtime))
                else:
                    dynamic.append((node.lineno, call))
            elif last in _LOADER_CALLS:
                dynamic.append((node.lineno, call))
    for edge in edges:
        if edge.runtime and edge.target.split(".")[0] in IMPURE_IMPORTS:
            impure.append((edge.line, f"import {edge.target}"))
    marks = _header_markers(source, tree)
    pure, dynamic_ok = (any(marker.match(m) for m in marks) for marker in (PURE_MARKER, DYNAMIC_MARKER))
    return Module(name, rel.as_posix(), edges, dynamic, impure, pure, dynamic_ok)


def load_tree(root: Path, packages: Iterable[str]) -> dict[str, Module]:
    paths = sorted(p for pkg in packages for p in (root / pkg).rglob("*.py"))
    known = {_module_name(p.relative_to(root)) for p in paths}
    mods = (parse_module(root, p, known) for p in paths)
    return {m.name: m for m in mods}


def _resolve(target: str, modules: dict[str, Module]) -> str | None:
    # The longest prefix that is one of our modules: `import a.b.c` of a name c in a.b resolves to a.b.
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def closure(package: str) -> frozenset[str]:
    seen, todo = {package}, [package]
    while todo:
        for dep in ALLOWED_IMPORTS.get(todo.pop(), frozenset()) - seen:
            seen.add(dep)
            todo.append(dep)
    return frozenset(seen)


def _chain(start: str, parents: dict[str, str]) -> str:
    path = [start]
    while path[-1] in parents:
        path.append(parents[path[-1]])
    return " -> ".join(reversed(path))


def check_packages(root: Path, modules: dict[str, Module], ours: set[str]) -> list[Finding]:
    found = [
        Finding("unknown-package", pkg, pkg, f"top-level package {pkg!r} has no entry in ALLOWED_IMPORTS")
        for pkg in top_packages(root)
        if pkg not in ALLOWED_IMPORTS
    ]
    for mod in modules.values():
        pkg = mod.name.split(".")[0]
        allowed = ALLOWED_IMPORTS.get(pkg, frozenset()) | {pkg}
        for e in mod.edges:
            dep = e.target.split(".")[0]
            if dep in ours and dep not in allowed:
                may = ", ".join(sorted(allowed - {pkg})) or "nothing of ours"
                msg = f"{mod.path}:{e.line} imports {e.target}; {pkg} may import {may}"
                found.append(Finding("import", mod.path, e.target, msg))
        if mod.dynamic and not mod.dynamic_ok:
            for line, call in mod.dynamic:
                msg = f"{mod.path}:{line} {call}() loads a module no literal names, and no marker says why"
                found.append(Finding("dynamic", mod.path, call, msg))
    # Reach: every module of a package, everything it imports, and so on, must stay in the closure.
    for pkg in sorted({m.split(".")[0] for m in modules}):
        parents: dict[str, str] = {}
        todo = deque(m for m in modules if m.split(".")[0] == pkg)
        seen, reported, fence = set(todo), set(), closure(pkg)
        while todo:
            cur = todo.popleft()
            for e in modules[cur].edges:
                dep = e.target.split(".")[0]
                nxt = _resolve(e.target, modules) or (e.target if dep in ours else None)
                if nxt is None or nxt in seen:
                    continue
                seen.add(nxt)
                parents[nxt] = cur
                if dep not in fence and dep not in reported:
                    reported.add(dep)  # breadth first: a direct import, reported above, comes first
                    if cur.split(".")[0] != pkg:
                        msg = f"{pkg} reaches {dep} through others: {_chain(nxt, parents)}"
                        found.append(Finding("reach", pkg, dep, msg))
                # Past a forbidden module of a ruled package its own rules speak; a package with
                # no rules is followed, so what it launders shows as a chain.
                if nxt in modules and (dep in fence or dep not in ALLOWED_IMPORTS):
                    todo.append(nxt)
    return found


def check_purity(modules: dict[str, Module], required: Iterable[str], root: Path) -> list[Finding]:
    found: list[Finding] = []
    by_path = {m.path: m for m in modules.values()}
    for rel in required:
        if not (root / rel).is_file():
            msg = f"{rel} must be pure but does not exist (renamed? update REQUIRED_PURE)"
            found.append(Finding("required-pure", rel, "file", msg))
        elif rel not in by_path:
            found.append(Finding("required-pure", rel, "file", f"{rel} must be pure but is in no package"))
        elif not by_path[rel].pure:
            found.append(
                Finding("required-pure", rel, "marker", f"{rel} has lost its `# layering: pure` marker")
            )
    for mod in (m for m in modules.values() if m.pure):
        for line, what in mod.impure:
            found.append(Finding("purity", mod.path, what, f"{mod.path}:{line} is pure but uses {what}"))
        for e in (e for e in mod.edges if e.runtime):
            dep = _resolve(e.target, modules)
            if dep is None or modules[dep].pure:
                continue
            why = _impurity(dep, modules)
            msg = f"{mod.path}:{e.line} is pure but imports {dep}, which is not marked pure{why}"
            found.append(Finding("purity", mod.path, dep, msg))
    return found


def _impurity(start: str, modules: dict[str, Module]) -> str:
    # The nearest local impurity behind a module, so the report shows how the I/O gets in.
    parents: dict[str, str] = {}
    todo, seen = deque([start]), {start}
    while todo:
        cur = todo.popleft()
        if modules[cur].impure:
            line, what = modules[cur].impure[0]
            return f": {_chain(cur, parents)} uses {what} ({modules[cur].path}:{line})"
        for e in modules[cur].edges:
            nxt = _resolve(e.target, modules)
            if e.runtime and nxt is not None and nxt not in seen:
                seen.add(nxt)
                parents[nxt] = cur
                todo.append(nxt)
    return ""


def check(root: Path, required_pure: Iterable[str]) -> list[Finding]:
    """Every finding for the tree at root; an empty list means it keeps the contract."""
    packages = top_packages(root)
    modules = load_tree(root, packages)
    scripts = {p.stem for p in root.glob("*.py")} - sys.stdlib_module_names
    ours = set(packages) | set(ALLOWED_IMPORTS) | NOT_PACKAGES | scripts
    unique: dict[str, Finding] = {}  # one finding per module and target, not one per imported name
    for f in check_packages(root, modules, ours) + check_purity(modules, required_pure, root):
        unique.setdefault(f.key, f)
    return list(unique.values())
