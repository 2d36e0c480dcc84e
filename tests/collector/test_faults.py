"""Fault injection: a message the database refuses is dead-lettered alone; the rest of its batch is stored."""

from __future__ import annotations

import psycopg
import pytest

import collector.store
import wire
from collector.decode import Message
from collector.ingest import Pipeline
from collector.settings import load_settings
from tests.collector.conftest import birth, data, temps, topic
from tests.collector.mqttutil import scalar


def test_a_refused_message_does_not_stall_its_batch(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = collector.store.to_rows

    def refuse_seq_2(env: wire.Data, *args: object) -> object:
        if env.seq == 2:
            raise psycopg.errors.NumericValueOutOfRange("injected")
        return real(env, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(collector.store, "to_rows", refuse_seq_2)
    pipeline = Pipeline(load_settings(None, dsn=db, metrics_port=None))
    msgs = [Message(topic("birth"), wire.encode(birth()))]
    msgs += [Message(topic("data"), wire.encode(data("gw1", "m1", seq, temps(10)))) for seq in (1, 2, 3)]
    result = pipeline._write(msgs)
    assert result.rows == 20
    assert [d.error for d in result.dead_letters] == ["could not be stored: NumericValueOutOfRange: injected"]
    assert scalar(db, "SELECT count(*) FROM readings") == 20
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 1
    assert scalar(db, "SELECT count(*) FROM envelopes WHERE kind = 'data'") == 2
    pipeline.store.close()
