"""The layers keep to their rules: engines never speak gRPC, the service never touches tensors,
the plugin client is pure Python."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH = {"torch", "diffusers", "transformers", "accelerate", "safetensors"}
RULES = {
    # the studio's cluster glue: Ray and the engines, never the gRPC service nor tensors of its own
    "core_server/cluster": TORCH | {"grpc", "grpclib", "sqlite3", "core_server.service", "core_server.pb"},
    "core_server/engines": {
        "grpc",
        "grpclib",
        "asyncio",
        "sqlite3",
        "core_server.service",
        "core_server.scheduler",
        "core_server.sessions",
        "core_server.pb",
    },
    "core_server/models": {"grpc", "grpclib", "asyncio", "sqlite3", "core_server.service", "core_server.pb"},
    "core_server/service": TORCH | {"numpy", "PIL", "sqlite3", "ray"},  # Ray: only through core_server.cluster
    "core_server/scheduler": TORCH | {"grpc", "numpy", "ray", "core_server.pb", "core_server.service"},
    "core_server/sessions": TORCH | {"grpc", "numpy", "core_server.pb", "core_server.service"},
    "core_server/tasks.py": TORCH | {"grpc", "numpy"},
    "core_server/provenance": TORCH | {"grpc", "core_server.pb", "core_server.service"},
    "plugins/common": TORCH | {"grpc", "numpy", "PIL", "core_server"},
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            package = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
            names.add(".".join((*package, node.module or "")).strip("."))
    return names


def forbidden(names: set[str], banned: set[str]) -> set[str]:
    return {n for n in names if any(n == b or n.startswith(b + ".") for b in banned)}


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports(layer: str) -> None:
    base = ROOT / layer
    files = (
        [base]
        if base.is_file()
        else [p for p in base.rglob("*.py") if "/pb/" not in str(p) and "_vendor" not in str(p)]
    )
    assert files, f"no files under {layer}"
    offences = {
        str(f.relative_to(ROOT)): sorted(bad) for f in files if (bad := forbidden(imported_modules(f), RULES[layer]))
    }
    assert not offences, f"{layer} imports what its layer must not: {offences}"
