"""Endpoint strings, the default socket rule shared with the daemon, and token lookup."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cocreate_client.endpoint import (
    Endpoint,
    default_endpoint,
    default_socket_path,
    parse_endpoint,
    resolve_token,
    tls_context,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:/run/user/1000/cocreate/cocreate.sock", Endpoint(path="/run/user/1000/cocreate/cocreate.sock")),
        ("unix:///tmp/c.sock", Endpoint(path="/tmp/c.sock")),
        ("/tmp/c.sock", Endpoint(path="/tmp/c.sock")),
        ("127.0.0.1:50051", Endpoint(host="127.0.0.1", port=50051)),
        ("localhost:7", Endpoint(host="localhost", port=7)),
        ("[::1]:50051", Endpoint(host="::1", port=50051)),
        (" 127.0.0.1:1 ", Endpoint(host="127.0.0.1", port=1)),
    ],
)
def test_parse(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("unix:relative.sock", "absolute"),
        ("localhost", "HOST:PORT"),
        ("localhost:", "HOST:PORT"),
        (":50051", "HOST:PORT"),
        ("host:http", "HOST:PORT"),
        ("host:0", "HOST:PORT"),
        ("host:70000", "HOST:PORT"),
        ("::1:50051", "brackets"),
    ],
)
def test_parse_rejects_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        parse_endpoint(text)


@pytest.mark.parametrize("text", ["unix:/tmp/c.sock", "127.0.0.1:50051", "[::1]:50051"])
def test_str_round_trips(text: str) -> None:
    assert str(parse_endpoint(text)) == text


def test_default_socket_uses_xdg_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCREATE_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert default_socket_path() == Path("/run/user/1234/cocreate/cocreate.sock")
    assert default_endpoint() == "unix:/run/user/1234/cocreate/cocreate.sock"


def test_default_socket_without_xdg_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCREATE_ENDPOINT", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert default_endpoint() == f"unix:/tmp/cocreate-{os.getuid()}/cocreate.sock"


def test_environment_endpoint_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCREATE_ENDPOINT", "127.0.0.1:9999")
    assert default_endpoint() == "127.0.0.1:9999"


def test_token_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.delenv("COCREATE_TOKEN", raising=False)
    monkeypatch.delenv("COCREATE_TOKEN_FILE", raising=False)
    assert resolve_token() is None
    monkeypatch.setenv("COCREATE_TOKEN_FILE", str(token_file))
    assert resolve_token() == "from-file"
    monkeypatch.setenv("COCREATE_TOKEN", "from-env")
    assert resolve_token() == "from-env"
    assert resolve_token("explicit") == "explicit"


def test_missing_token_file_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COCREATE_TOKEN", raising=False)
    monkeypatch.setenv("COCREATE_TOKEN_FILE", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="nope"):
        resolve_token()


def test_tls_context_verifies_the_daemon(self_signed_cert: tuple[Path, Path]) -> None:
    context = tls_context(self_signed_cert[0])
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert len(context.get_ca_certs()) == 1


def test_endpoint_module_loads_no_grpc() -> None:
    """The daemon imports default_endpoint(); that must not pull in the client's dependencies."""
    code = "import sys, cocreate_client.endpoint; print(sorted(m for m in ('grpclib', 'h2') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
