"""Management operations: send `wire.Command`s over MQTT, correlate `CommandResult`s, keep the ledger.

Commands go to `pp/v1/{site}/{gw}/{dev}/cmd`; answers come back on `.../cmd/res` and are matched by
request id, topic and device. At most `max_in_flight` commands wait for an answer at once
(publishing blocks while the window is full); a command unanswered after `timeout` seconds is
recorded as timed out, and a later answer is not taken. Every request is entered in
`management_ops` before it is sent (so ingest can tell a platform request from an unsolicited
answer); its outcome is recorded with this client's receive time, never the gateway's clock, and
`reached` says whether the answer proves the device itself was reached (`proves_reach`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import wire
from collector import db
from collector.errors import CollectorError
from infra.mqtt import MqttError, endpoint_for
from infra.mqtt.blocking import BlockingMqttClient
from infra.progress import ProgressFn


class ManagementError(CollectorError):
    """A management run could not be carried out (broker or database unreachable)."""


@dataclass(frozen=True, slots=True)
class Target:
    site: str
    gw: str
    dev: str


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    target: Target
    op: str


@dataclass(frozen=True, slots=True)
class Outcome:
    request_id: str
    target: Target
    op: str
    sent_at: datetime
    answered_at: datetime | None  # this client's receive time
    ok: bool | None  # None: no answer before the timeout
    error: str | None
    latency_ms: float | None
    deadline: datetime | None = None
    reached: bool = False  # the answer proves the device was reached (see proves_reach)
    result: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        t = self.target
        return {
            "request_id": self.request_id,
            "device": f"{t.site}/{t.dev}",
            "gateway": t.gw,
            "op": self.op,
            "ok": self.ok,
            "error": self.error,
            "reached": self.reached,
            "sent_at": self.sent_at.isoformat(),
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "latency_ms": self.latency_ms,
            "result": self.result,
        }


# The gateway to ask for device `d`: the one that last sent its birth live (not a history backfill
# or an import), else the gateway the registry names.
LIVE_GATEWAY = """
SELECT coalesce((SELECT e.gw FROM envelopes e JOIN gateways g ON g.gw = e.gw
                 WHERE e.site = d.site AND e.dev = d.dev AND e.kind = 'birth' AND NOT g.backfill
                   AND e.source NOT LIKE 'import:%%'
                 ORDER BY e.received_at DESC LIMIT 1), d.gw)
"""


def proves_reach(op: str, ok: bool, result: dict[str, Any] | None) -> bool:
    """Whether a successful answer shows the device itself was reached, not only its gateway.

    A ping must carry the value it read from the device (`read`); a write must carry the value read
    back after writing (`written` beside `requested`). read_config answers from the gateway's own
    configuration, so it never proves the device reachable.
    """
    if not ok or not isinstance(result, dict):
        return False
    if op == "ping":
        return isinstance(result.get("read"), dict)
    if op == "write_setpoint":
        return "written" in result and "requested" in result
    return False


@dataclass(slots=True)
class Stats:
    """Counters of one client (exported by callers as metrics)."""

    sent: int = 0
    answered: int = 0
    timed_out: int = 0
    unmatched: int = 0  # answers with an unknown or already-expired id
    forged: int = 0  # answers for a pending id from another topic, gateway or device: ignored
    invalid: int = 0  # payloads that were not a valid CommandResult
    in_flight: int = 0
    max_in_flight_seen: int = 0


@dataclass(slots=True)
class _Pending:
    target: Target
    op: str
    sent_at: datetime
    sent_mono: float
    deadline: float
    deadline_at: datetime
    outcome: Outcome | None = None
    done: threading.Event = field(default_factory=threading.Event)


class ManagementClient:
    """One MQTT connection that sends commands and matches their results."""

    def __init__(self, mqtt_url: str, *, max_in_flight: int = 1000, client_id: str | None = None) -> None:
        try:
            endpoint = endpoint_for(mqtt_url)
        except ValueError as exc:
            raise ManagementError(str(exc)) from None
        self.host, self.port = endpoint.host, endpoint.port
        self.max_in_flight = max_in_flight
        self.stats = Stats()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._subscribed: set[str] = set()
        self._client = BlockingMqttClient(
            endpoint,
            client_id or f"pp-mgmt-{uuid.uuid4().hex[:12]}",
            window=max(20, min(max_in_flight, 65535)),
            on_message=self._on_message,
        )

    def __enter__(self) -> ManagementClient:
        try:
            self._client.connect()
        except MqttError as exc:
            raise ManagementError(str(exc)) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _subscribe(self, site: str, gw: str) -> None:
        topic = wire.device_filter("cmd/res", site, gw)
        if topic in self._subscribed:
            return
        try:
            self._client.subscribe(topic)
        except MqttError as exc:
            raise ManagementError(str(exc)) from None
        self._subscribed.add(topic)

    def _on_message(self, topic_name: str, payload: bytes) -> None:
        now_mono, now = time.monotonic(), datetime.now(UTC)
        try:
            res = wire.decode_as("cmd/res", payload)
            topic = wire.parse_topic(topic_name)
        except wire.WireError:
            self.stats.invalid += 1
            return
        assert isinstance(res, wire.CommandResult)
        with self._lock:
            pending = self._pending.get(res.id)
            if pending is None or now_mono > pending.deadline:
                self.stats.unmatched += 1
                return
            t = pending.target
            asked = (t.site, t.gw, t.dev, t.gw, t.dev)
            if (topic.site, topic.gateway, topic.device, res.gw, res.dev) != asked:
                self.stats.forged += 1  # not from the device asked: keep waiting for the real answer
                return
            del self._pending[res.id]
            pending.outcome = Outcome(
                res.id, t, pending.op, pending.sent_at, now, res.ok, res.error,
                (now_mono - pending.sent_mono) * 1000.0, pending.deadline_at,
                proves_reach(pending.op, res.ok, res.result), res.result,
            )  # fmt: skip
            self.stats.answered += 1
            self.stats.in_flight -= 1
        self._slots.release()
        pending.done.set()

    def _expire(self, now_mono: float) -> None:
        with self._lock:
            expired = [(rid, p) for rid, p in self._pending.items() if p.deadline <= now_mono]
            for rid, p in expired:
                del self._pending[rid]
                p.outcome = Outcome(
                    rid,
                    p.target,
                    p.op,
                    p.sent_at,
                    None,
                    None,
                    "no answer before the timeout",
                    None,
                    p.deadline_at,
                )
                self.stats.timed_out += 1
                self.stats.in_flight -= 1
        for _, p in expired:
            self._slots.release()
            p.done.set()

    def run(
        self,
        targets: Sequence[Target],
        op: str = "ping",
        args: dict[str, Any] | None = None,
        timeout: float = 10.0,
        register: Callable[[list[Request]], None] | None = None,
        progress: ProgressFn | None = None,
    ) -> list[Outcome]:
        """Send `op` to every target and wait for each answer or its timeout; outcomes in target order.

        `register` receives every request before the first is sent (to enter them in the ledger);
        `progress` hears of commands sent ("sending") and then of commands settled ("waiting").
        """
        for site, gw in sorted({(t.site, t.gw) for t in targets}):
            self._subscribe(site, gw)
        requests = [Request(uuid.uuid4().hex, t, op) for t in targets]
        if register is not None:
            register(requests)
        order: list[_Pending] = []
        for request in requests:
            target, rid = request.target, request.request_id
            while not self._slots.acquire(timeout=0.2):
                self._expire(time.monotonic())
            sent_mono, sent_at = time.monotonic(), datetime.now(UTC)
            deadline_at = datetime.fromtimestamp(sent_at.timestamp() + timeout, UTC)
            pending = _Pending(target, op, sent_at, sent_mono, sent_mono + timeout, deadline_at)
            with self._lock:
                self._pending[rid] = pending
                self.stats.sent += 1
                self.stats.in_flight += 1
                self.stats.max_in_flight_seen = max(self.stats.max_in_flight_seen, self.stats.in_flight)
            command = wire.Command(id=rid, dev=target.dev, op=op, sent=time.time_ns(), args=args or {})  # type: ignore[arg-type]
            topic = wire.device_topic(target.site, target.gw, target.dev, "cmd")
            try:
                self._client.publish(topic, wire.encode(command))
            except MqttError as exc:
                raise ManagementError(str(exc)) from None
            order.append(pending)
            if progress is not None:
                progress("sending", len(order), len(requests), None)
        answered = 0
        for settled, pending in enumerate(order, 1):
            while not pending.done.wait(min(0.2, max(0.0, pending.deadline - time.monotonic()) + 0.01)):
                self._expire(time.monotonic())
            if progress is not None:
                answered += 1 if pending.outcome is not None and pending.outcome.ok else 0
                progress("waiting", settled, len(order), f"{answered:,} answered")
        return [p.outcome for p in order if p.outcome is not None]


def record_requests(
    dsn: str, requests: Sequence[Request], namespace: str = "plant", requested_by: str | None = None
) -> None:
    """Enter requests in management_ops before they are sent (one COPY); outcomes follow later."""
    now = datetime.now(UTC)
    columns = "request_id, site, gw, dev, op, namespace, sent_at, requested_by"
    with (
        db.connection(dsn, doing=f"registering {len(requests)} management requests") as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY management_ops ({columns}) FROM STDIN") as copy,
    ):
        for r in requests:
            t = r.target
            copy.write_row((r.request_id, t.site, t.gw, t.dev, r.op, namespace, now, requested_by))


def record_outcomes(dsn: str, outcomes: Sequence[Outcome]) -> None:
    """Write each outcome onto its registered request."""
    if not outcomes:
        return
    with db.connection(dsn, doing=f"recording {len(outcomes)} management outcomes") as conn:
        conn.execute(
            "UPDATE management_ops m SET sent_at = u.sent_at, deadline = u.deadline,"
            " answered_at = u.answered_at, ok = u.ok, error = u.error, latency_ms = u.latency_ms,"
            " reached = u.reached"
            " FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],"
            " %s::bool[], %s::text[], %s::float8[], %s::bool[])"
            " AS u(request_id, sent_at, deadline, answered_at, ok, error, latency_ms, reached)"
            " WHERE m.request_id = u.request_id",
            (
                [o.request_id for o in outcomes],
                [o.sent_at for o in outcomes],
                [o.deadline for o in outcomes],
                [o.answered_at for o in outcomes],
                [o.ok for o in outcomes],
                [o.error for o in outcomes],
                [o.latency_ms for o in outcomes],
                [o.reached for o in outcomes],
            ),
        )


def send(
    mqtt_url: str,
    dsn: str,
    targets: Sequence[Target],
    op: str = "ping",
    *,
    args: dict[str, Any] | None = None,
    namespace: str = "plant",
    timeout: float = 10.0,
    max_in_flight: int = 1000,
    requested_by: str | None = None,
) -> list[Outcome]:
    """Send one operation to every target, each request in management_ops first, then its outcome."""
    with ManagementClient(mqtt_url, max_in_flight=max_in_flight) as client:
        outcomes = client.run(
            targets, op, args, timeout, register=lambda r: record_requests(dsn, r, namespace, requested_by)
        )
    record_outcomes(dsn, outcomes)
    return outcomes


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]
