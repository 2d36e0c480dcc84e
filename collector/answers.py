"""Management answers seen by ingest: never recorded as operations, never counted.

The platform's management client registers every request in `management_ops` before it sends it
and records the answer itself, with its own receive time (collector.management). Ingest sees the same
`cmd` and `cmd/res` traffic on the broker: a `cmd` is ignored (it may come from any tool), and a
`cmd/res` that does not answer a request the platform sent, comes from another device than the one
asked, or answers a request the platform already recorded as timed out, becomes a dead letter with
the reason. (Ingest may run behind the broker, so its own clock cannot judge lateness; the client's
record can.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

import wire
from collector.decode import DeadLetter, Limits, Parsed, dead_letter


def check(conn: psycopg.Connection, answers: Sequence[Parsed], limits: Limits) -> list[DeadLetter]:
    """Dead letters for the answers in `answers` that the platform never asked for, or got too late."""
    if not answers:
        return []
    ids = sorted({p.envelope.id for p in answers if isinstance(p.envelope, wire.CommandResult)})
    sent = {
        r[0]: (r[1], r[2], r[3], r[4], r[5])
        for r in conn.execute(
            "SELECT request_id, site, gw, dev, deadline, answered_at FROM management_ops"
            " WHERE request_id = ANY(%s)",
            (ids,),
        )
    }
    dead: list[DeadLetter] = []
    for p in answers:
        res = p.envelope
        assert isinstance(res, wire.CommandResult)
        why = _problem(sent.get(res.id), p.topic, res)
        if why is not None:
            payload = p.payload or wire.encode(res)
            dead.append(dead_letter(str(p.topic), payload, f"{why}; kept here, never counted", limits))
    return dead


Request = tuple[str, str, str, datetime | None, datetime | None]  # site, gw, dev, deadline, answered_at


def _problem(request: Request | None, topic: wire.Topic, res: wire.CommandResult) -> str | None:
    if request is None:
        return f"unsolicited cmd/res: the platform sent no request {res.id!r}"
    site, gw, dev, deadline, answered_at = request
    if (topic.site, topic.gateway, res.dev) != (site, gw, dev):
        return (
            f"forged cmd/res: request {res.id!r} was sent to {site}/{gw}/{dev},"
            f" the answer came from {topic.site}/{topic.gateway}/{res.dev}"
        )
    if deadline is not None and answered_at is None:
        return f"late cmd/res: request {res.id!r} timed out at {deadline.isoformat()}"
    return None
