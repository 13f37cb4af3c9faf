"""What only the PostgreSQL store has: a server that goes away and comes back, and bad URLs at start."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from core_server.service.errors import status_for
from core_server.sessions.database import StoreUnavailable
from core_server.sessions.store import SessionStore
from tests.support.postgres import require_postgres, running_postgres


@pytest.fixture(autouse=True)
def _server_binaries() -> None:
    require_postgres()


def test_a_server_that_goes_away_gives_unavailable_until_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core_server.sessions.postgres_db.WAIT_S", 2.0)  # imports psycopg only here
    with running_postgres() as server, SessionStore(tmp_path, url=server.new_database()) as store:
        session = store.create_session("krita", "doc", "cat.kra")
        server.stop()
        with pytest.raises(StoreUnavailable) as error:
            store.get_session(session.id)
        code, message = status_for(error.value)
        assert code == grpc.StatusCode.UNAVAILABLE
        assert server.folder.name not in message, "clients are not told where the server is"
        server.start()
        assert store.get_session(session.id) == session  # the pool replaced the connections the stop broke


def test_an_unreachable_server_or_a_bad_url_is_refused_at_start(tmp_path: Path) -> None:
    refused = r"cannot reach the PostgreSQL session store at postgresql://u:\*\*\*@"
    with pytest.raises(StoreUnavailable, match=refused) as e:
        SessionStore(tmp_path, url=f"postgresql://u:secret@/db?host={tmp_path}")
    assert "secret" not in str(e.value)
    with pytest.raises(ValueError, match="must be a postgresql://"):
        SessionStore(tmp_path, url="mysql://u@host/db")
