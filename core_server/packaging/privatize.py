"""Make the bundled dependencies private to cocreate_client: their absolute imports become relative.

A host's Python is shared with its other plugins (Krita, LibreOffice) or checked by the host
(Blender flags any top-level module or sys.path entry an extension adds). So the bundle never puts
_vendor/ on sys.path: in every module of the bundle, `import h2.connection` or
`from google.protobuf import message` naming a vendored package is rewritten to import it from
cocreate_client/_vendor/ relatively. The copies then load as cocreate_client._vendor.h2 and so on,
wherever cocreate_client itself sits (top level, or inside a Blender extension's package), and a
host's own protobuf or h2 is neither replaced nor used.

Only import statements, and the module names protobuf probes with importlib, are touched; each
rewrite keeps its line, so tracebacks still point at the right lines of the original files.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

VENDOR = "_vendor"
# The module names protobuf's api_implementation probes for its compiled backends: from inside the
# bundle they must name the private copies, which have none, so the pure-Python backend is chosen.
_PROBES = {"import_module", "_CanImport"}


def vendored_names(vendor: Path) -> set[str]:
    """The top-level packages and modules unpacked into `vendor`."""
    names = {p.name for p in vendor.iterdir() if p.is_dir() and not p.name.endswith((".dist-info", "__pycache__"))}
    return names | {p.stem for p in vendor.glob("*.py") if p.stem != "__init__"}


def privatize(package: Path) -> int:
    """Rewrite every module under `package` (a bundled cocreate_client); returns how many changed."""
    vendor = package / VENDOR
    (vendor / "__init__.py").write_text('"""Dependencies of cocreate_client, imported relatively (privatize.py)."""\n')
    names = vendored_names(vendor)
    changed = 0
    for path in sorted(package.rglob("*.py")):
        depth = len(path.relative_to(package).parts) - 1  # packages between cocreate_client and the module
        source = path.read_text(encoding="utf-8")
        rewritten = rewrite(source, names, "." * (depth + 1) + VENDOR)
        if rewritten != source:
            path.write_text(rewritten, encoding="utf-8")
            changed += 1
    return changed


def rewrite(source: str, names: set[str], vendor: str) -> str:
    """`source` with imports of `names` made relative to `vendor` (a relative name such as ".._vendor")."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, int, str]] = []  # (line, col, end_line, end_col, text), 1-based lines
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _vendored(node.module or "", names):
            edits.append(_module_of_from(node, lines, vendor))
        elif isinstance(node, ast.Import) and any(_vendored(alias.name, names) for alias in node.names):
            statements = "; ".join(_import(alias, names, vendor) for alias in node.names)
            edits.append((*_span(node), statements))
        elif isinstance(node, ast.Call) and _probe(node, names):
            literal = node.args[0]
            assert isinstance(literal, ast.Constant)
            private = f'(__name__[: __name__.rindex("{VENDOR}.") + {len(VENDOR) + 1}] + {literal.value!r})'
            edits.append((*_span(literal), private))
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):
        first, last = lines[line - 1], lines[end_line - 1]
        lines[line - 1 : end_line] = [first[:col] + text + last[end_col:]]
    return "".join(lines)


def _span(node: ast.stmt | ast.expr) -> tuple[int, int, int, int]:
    return node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0


def _vendored(module: str, names: set[str]) -> bool:
    return module.split(".")[0] in names


def _import(alias: ast.alias, names: set[str], vendor: str) -> str:
    """One `import a.b.c [as z]` as relative imports binding the same name."""
    if not _vendored(alias.name, names):
        return f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    parent, _, leaf = alias.name.rpartition(".")
    if alias.asname:  # `import a.b as z` binds z to a.b
        return f"from {vendor}{'.' + parent if parent else ''} import {leaf} as {alias.asname}"
    top = alias.name.split(".")[0]
    if not parent:
        return f"from {vendor} import {top}"
    # `import a.b.c` loads a.b.c and binds a: load the submodule, then bind its top package.
    return f"from {vendor}.{parent} import {leaf} as _vendored_{leaf}; from {vendor} import {top}"


def _module_of_from(node: ast.ImportFrom, lines: list[str], vendor: str) -> tuple[int, int, int, int, str]:
    """The edit replacing just the module name of `from a.b import ...` (which may span lines)."""
    line = lines[node.lineno - 1]
    match = re.compile(r"from\s+([\w.]+)").match(line, node.col_offset)
    if match is None or match.group(1) != node.module:
        raise ValueError(f"line {node.lineno}: cannot find the module of {line.strip()!r}")
    return node.lineno, match.start(1), node.lineno, match.end(1), f"{vendor}.{node.module}"


def _probe(node: ast.Call, names: set[str]) -> bool:
    """importlib.import_module("google...") or protobuf's _CanImport("google...")."""
    function = node.func
    called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return (
        called in _PROBES
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and _vendored(node.args[0].value, names)
    )
