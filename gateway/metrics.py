"""Prometheus metrics of one gateway, in their own registry (several gateways may share a process)."""

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from adapters.base import LinkStatus
from gateway import logs
from gateway.spool import SpoolStats
from infra.prom import Deltas, FunctionCounter, program_registry

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class GatewayMetrics:
    """Running totals are Counters (exposed as *_total); what is copied from an int kept elsewhere (a
    link's status, the MQTT client) advances its counter by the difference since the last look."""

    def __init__(self) -> None:
        r = self.registry = program_registry()
        self._deltas = Deltas()
        p = "plantproof_gateway_"
        self.points_read = Counter(
            f"{p}points_read", "Readings received from devices", ["device"], registry=r
        )
        self.points_published = Counter(
            f"{p}points_published", "Samples acknowledged by the broker", ["device"], registry=r
        )
        self.points_suppressed = Counter(
            f"{p}points_suppressed",
            "Readings held back by deadband / report-by-exception",
            ["device"],
            registry=r,
        )
        self.envelopes_published = Counter(
            f"{p}envelopes_published", "Envelopes acknowledged by the broker (PUBACK)", registry=r
        )
        self.envelopes_confirmed = Counter(
            f"{p}envelopes_confirmed",
            "Envelopes deleted from the spool because a collector's $stored watermark covers them",
            registry=r,
        )
        self.stored_seq = Gauge(
            f"{p}stored_seq",
            "The collectors' $stored watermark: every envelope up to this seq is committed (-1: none)",
            registry=r,
        )
        self.stored_seq.set(-1)
        self.overflow_episodes = Counter(
            f"{p}spool_overflow_episodes",
            "Times the spool began dropping its oldest envelopes (devices are announced again once each)",
            registry=r,
        )
        self.oversized_samples = Counter(
            f"{p}oversized_samples",
            "Samples refused because alone they would make an envelope larger than mqtt.max_message_bytes",
            ["device"],
            registry=r,
        )
        self.read_errors = Counter(f"{p}read_errors", "Failed reads", ["device"], registry=r)
        self.reads = Counter(
            f"{p}reads", "Successful reads (OPC UA: batches of readings)", ["device"], registry=r
        )
        self.rtt = Gauge(
            f"{p}read_rtt_seconds",
            "Round-trip time of the last request to the device (OPC UA: a read, or the keep-alive read"
            " of the server's CurrentTime while subscribed)",
            ["device"],
            registry=r,
        )
        self.link_up = Gauge(f"{p}link_up", "1 while the device link is connected", ["device"], registry=r)
        self.reconnects = Counter(f"{p}reconnects", "Device reconnects", ["device"], registry=r)
        self.device_dropped = Counter(
            f"{p}device_queue_dropped",
            "Readings dropped, oldest first, because the device's buffer to the gateway was full",
            ["device"],
            registry=r,
        )
        self.spool_depth = Gauge(
            f"{p}spool_depth",
            "Envelopes in the spool: not yet sent, or sent and not yet covered by the $stored watermark",
            registry=r,
        )
        self.spool_bytes = Gauge(f"{p}spool_bytes", "Bytes held by the spool", registry=r)
        self.spool_limit = Gauge(f"{p}spool_limit_bytes", "Spool bound in bytes", registry=r)
        self.spool_dropped = Counter(
            f"{p}spool_dropped", "Envelopes dropped (oldest first) because the spool was full", registry=r
        )
        self.seq = Gauge(f"{p}next_seq", "Next envelope sequence number", registry=r)
        self.mqtt_connected = Gauge(f"{p}mqtt_connected", "1 while connected to the broker", registry=r)
        self.mqtt_inflight = Gauge(f"{p}mqtt_inflight", "Envelopes sent and not yet acknowledged", registry=r)
        self.mqtt_connects = Counter(f"{p}mqtt_connects", "Connections to the broker", registry=r)
        self.mqtt_auth_failures = Counter(
            f"{p}mqtt_auth_failures", "Connections refused for credentials", registry=r
        )
        self.mqtt_incoming_dropped = Counter(
            f"{p}mqtt_incoming_dropped", "Commands dropped because the incoming queue was full", registry=r
        )
        self.resends = Counter(
            f"{p}resends",
            "Times what lies beyond the $stored watermark was sent again (a reconnect, or a stuck watermark)",
            registry=r,
        )
        self.publish_failures = Counter(
            f"{p}publish_failures", "Publishes the client refused or failed (sent again)", registry=r
        )
        self.publish_latency = Histogram(
            f"{p}publish_latency_seconds", "Publish to PUBACK", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.commands = Counter(f"{p}commands", "Commands answered", ["op", "ok"], registry=r)
        self.batch_queue = Gauge(f"{p}batch_samples", "Samples waiting in the batcher", registry=r)
        self.batch_dropped = Counter(
            f"{p}batch_dropped", "Samples refused because the batcher was full", ["device"], registry=r
        )
        self.link_down_seconds = Gauge(
            f"{p}link_down_seconds",
            "Seconds since the device last delivered good data (0 while it does; counts from start)",
            ["device"],
            registry=r,
        )
        self.link_reason = Gauge(
            f"{p}link_down_reason",
            "1 for the reason the device link is down now (timeout, certificate, namespace, ...)",
            ["device", "reason"],
            registry=r,
        )
        r.register(
            FunctionCounter(
                f"{p}log_suppressed", "Log lines held back as repeats of the same event", logs.suppressed
            )
        )
        self._reasons: dict[str, str] = {}

    def observe_down(self, device: str, down_s: float, reason: str | None) -> None:
        """How long a device has been without good data, and why (one reason label at a time)."""
        self.link_down_seconds.labels(device).set(down_s)
        old = self._reasons.get(device)
        if old is not None and old != reason:
            self.link_reason.labels(device, old).set(0)
        if reason is not None:
            self.link_reason.labels(device, reason).set(1)
            self._reasons[device] = reason
        else:
            self._reasons.pop(device, None)

    def observe_link(self, device: str, status: LinkStatus) -> None:
        self.link_up.labels(device).set(1 if status.connected else 0)
        self.rtt.labels(device).set(status.last_rtt_s)
        advance = self._deltas.advance
        advance(self.read_errors, status.read_errors, device)
        advance(self.reads, status.reads, device)
        advance(self.reconnects, status.reconnects, device)
        advance(self.device_dropped, status.extra.get("dropped", 0.0), device)

    def observe_client(self, connects: int, auth_failures: int, incoming_dropped: int) -> None:
        """The MQTT client's running totals."""
        self._deltas.advance(self.mqtt_connects, connects)
        self._deltas.advance(self.mqtt_auth_failures, auth_failures)
        self._deltas.advance(self.mqtt_incoming_dropped, incoming_dropped)

    def observe_spool(self, stats: SpoolStats, limit: int) -> None:
        self.spool_depth.set(stats.depth)
        self.spool_bytes.set(stats.bytes)
        self.spool_limit.set(limit)
        self.seq.set(stats.next_seq)

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint on its own thread; returns the bound port (port 0: any free one)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
