"""Where the daemon listens and how to prove who is asking: one rule for the client and the daemon.

Endpoints are `unix:/abs/path` (or a bare `/abs/path`) for a Unix socket, and `HOST:PORT` or
`[V6]:PORT` for TCP. The daemon imports `default_endpoint()` for its default bind address, so this
module must stay free of grpclib and protobuf imports.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = "cocreate.sock"


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint: `path` for a Unix socket, else `host` and `port`."""

    path: str | None = None
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """`unix:/abs/path`, `unix:///abs/path`, `/abs/path`, `host:port` or `[v6]:port`; ValueError otherwise."""
    text = text.strip()
    if text.startswith("unix:") or text.startswith("/"):
        path = text.removeprefix("unix:")
        if path.startswith("//"):  # gRPC's unix:///abs/path spelling
            path = "/" + path.lstrip("/")
        if not path.startswith("/"):
            raise ValueError(f"endpoint {text!r}: a Unix socket path must be absolute, as unix:/run/cocreate.sock")
        return Endpoint(path=path)
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"endpoint {text!r}: write an IPv6 address in brackets, as [::1]:PORT")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"endpoint {text!r}: expected unix:/abs/path, HOST:PORT or [V6]:PORT")
    return Endpoint(host=host, port=int(port))


def default_socket_path() -> Path:
    """$XDG_RUNTIME_DIR/cocreate/cocreate.sock, else /tmp/cocreate-<uid>/cocreate.sock."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "cocreate" / SOCKET_NAME
    return Path("/tmp") / f"cocreate-{os.getuid()}" / SOCKET_NAME


def default_endpoint() -> str:
    """$COCREATE_ENDPOINT, else the default Unix socket."""
    return os.environ.get("COCREATE_ENDPOINT") or f"unix:{default_socket_path()}"


def resolve_token(token: str | None = None) -> str | None:
    """The bearer token: the argument, else $COCREATE_TOKEN, else the file named by $COCREATE_TOKEN_FILE."""
    if token:
        return token
    if os.environ.get("COCREATE_TOKEN"):
        return os.environ["COCREATE_TOKEN"]
    token_file = os.environ.get("COCREATE_TOKEN_FILE")
    if token_file:
        return Path(token_file).read_text().strip() or None
    return None


def tls_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client context trusting the daemon's CA; gRPC needs HTTP/2 negotiated by ALPN."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.fspath(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    return context
