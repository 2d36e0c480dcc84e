"""Real servers for tests (the classes live in plantproof.embedded, shared with the demo stack).

Environment overrides (then stop/start are unavailable and such tests skip):
  PLANTPROOF_TEST_MQTT_URL  mqtt://host:port of an external broker
  PLANTPROOF_TEST_PG_DSN    DSN of an external PostgreSQL server (a superuser; tests create databases)
  PLANTPROOF_TEST_PG_BIN    directory holding initdb/pg_ctl/postgres
"""

from plantproof.embedded import (
    ExternalPostgres,
    MosquittoServer,
    PostgresServer,
    free_port,
    postgres_bindir,
    timescaledb_available,
    wait_port,
    wait_port_closed,
)

__all__ = [
    "ExternalPostgres",
    "MosquittoServer",
    "PostgresServer",
    "free_port",
    "postgres_bindir",
    "timescaledb_available",
    "wait_port",
    "wait_port_closed",
]
