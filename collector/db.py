"""The collector's database edge: connections, the storage path, and psycopg errors as one line.

Every collector module and command connects through `connect` (or `connection`, which closes the
connection again) and detects the storage path with `storage_of`. A psycopg error never leaves as
such: `DatabaseUnavailableError` when the server cannot be reached (callers may retry), otherwise
`DatabaseError`, both a `CollectorError` whose message is one line naming what was being done, so
a database outage prints one line, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import psycopg

from collector.errors import CollectorError

Storage = Literal["timescaledb", "postgresql"]


class DatabaseError(CollectorError):
    """A statement the database refused."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached; what was being done may be retried as is."""


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def translate(exc: psycopg.Error, doing: str) -> DatabaseError:
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailableError(f"{doing}: database unavailable: {one_line(exc)}")
    return DatabaseError(f"{doing}: {one_line(exc)}")


def connect(
    dsn: str, *, doing: str = "connecting", autocommit: bool = False, timeout_s: int = 10
) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=timeout_s)
    except psycopg.Error as exc:
        raise translate(exc, doing) from None


@contextmanager
def connection(
    dsn: str, *, doing: str, autocommit: bool = False, timeout_s: int = 10
) -> Iterator[psycopg.Connection]:
    """A connection for one piece of work; psycopg errors inside become one-line CollectorErrors."""
    conn = connect(dsn, doing=doing, autocommit=autocommit, timeout_s=timeout_s)
    try:
        with conn:
            yield conn
    except psycopg.Error as exc:
        raise translate(exc, doing) from None


@contextmanager
def errors(doing: str) -> Iterator[None]:
    """Translate psycopg errors raised in the block (for code handed a connection)."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc, doing) from None


def storage_of(conn: psycopg.Connection) -> Storage:
    """TimescaleDB when the extension is installed in this database, else plain PostgreSQL."""
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return "timescaledb" if row else "postgresql"
