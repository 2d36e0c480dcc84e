"""Prometheus metrics of the collector, on a registry of its own."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from infra.prom import program_registry

# Seconds from an envelope's `sent` (the gateway's clock) to its commit: a spool drained after an
# outage lags by the outage, so the buckets reach a day.
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)


class Metrics:
    def __init__(self) -> None:
        self.registry = program_registry()
        r = self.registry
        self.received = Counter(
            "plantproof_collector_received_messages",
            "Messages received from the source (MQTT or Kafka)",
            registry=r,
        )
        self.stored_rows = Counter("plantproof_collector_stored_rows", "Readings rows committed", registry=r)
        self.stored_envelopes = Counter(
            "plantproof_collector_stored_envelopes", "New envelopes entered in the ledger", registry=r
        )
        self.duplicates = Counter(
            "plantproof_collector_duplicate_envelopes",
            "Redelivered envelopes skipped by the ledger",
            registry=r,
        )
        self.repeated_readings = Counter(
            "plantproof_collector_repeated_readings",
            "Readings offered again at a stored (point, time) with the same value, dropped",
            registry=r,
        )
        self.conflicting_readings = Counter(
            "plantproof_collector_conflicting_readings",
            "Readings of another value at a stored (point, time), refused and recorded in reading_conflicts",
            registry=r,
        )
        self.dead_letters = Counter(
            "plantproof_collector_dead_letters",
            "Messages sent to dead_letters, by reason (collector.decode.reason_of)",
            ["reason"],
            registry=r,
        )
        self.gateway_envelopes = Counter(
            "plantproof_collector_gateway_envelopes",
            "New envelopes entered in the ledger, by gateway",
            ["site", "gateway"],
            registry=r,
        )
        self.gateway_samples = Counter(
            "plantproof_collector_gateway_samples",
            "Samples in the new data envelopes of each gateway (repeats and conflicts included)",
            ["site", "gateway"],
            registry=r,
        )
        self.ingest_lag = Histogram(
            "plantproof_collector_ingest_lag_seconds",
            "Commit time minus the envelope's sent time, per new data envelope (0 when the gateway's"
            " clock is ahead)",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.dropped = Counter(
            "plantproof_collector_queue_overflow",
            "Messages left unacknowledged because the queue was full in messages or bytes"
            " (the broker resends them after the reconnect that follows)",
            registry=r,
        )
        self.overflow_reconnects = Counter(
            "plantproof_collector_overflow_reconnects",
            "Reconnects made so that the broker resends messages left unacknowledged on overflow",
            registry=r,
        )
        self.queue_bytes = Gauge(
            "plantproof_collector_queue_bytes",
            "Payload bytes held in memory: queued or in a batch not yet acknowledged",
            registry=r,
        )
        self.queue_limit_bytes = Gauge(
            "plantproof_collector_queue_limit_bytes", "The byte budget of the in-memory queue", registry=r
        )
        self.seq_reuse = Counter(
            "plantproof_collector_seq_reuse",
            "Envelopes refused because their (gw, seq) names another envelope",
            registry=r,
        )
        self.watermarks_published = Counter(
            "plantproof_collector_watermarks_published",
            "Retained $stored watermarks published to gateways",
            registry=r,
        )
        self.watermark_lag = Gauge(
            "plantproof_collector_watermark_pending",
            "Gateways whose $stored watermark waits to be computed or published",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "plantproof_collector_batch_seconds",
            "Time to validate and commit one batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.queue_depth = Gauge("plantproof_collector_queue_depth", "Messages waiting in memory", registry=r)
        self.db_reconnects = Counter(
            "plantproof_collector_db_reconnects", "Failed batch commits retried after a reconnect", registry=r
        )
        self.mqtt_connects = Counter("plantproof_collector_mqtt_connects", "MQTT (re)connections", registry=r)
        self.sparkplug_sessions = Gauge(
            "plantproof_collector_sparkplug_sessions",
            "Live Sparkplug edge node sessions the host follows (at most sparkplug.max_edge_nodes)",
            registry=r,
        )
        self.sparkplug_rebirths = Counter(
            "plantproof_collector_sparkplug_rebirth_requests",
            "Rebirth requests (NCMD Node Control/Rebirth) sent to Sparkplug edge nodes",
            registry=r,
        )

        self.kafka_commits = Counter(
            "plantproof_collector_kafka_commits",
            "Offset commits after batch commits (Kafka source)",
            registry=r,
        )
        self.kafka_errors = Counter(
            "plantproof_collector_kafka_errors",
            "Kafka source failures by kind: fetch, commit (retried), commit_overtaken (a rebalance took"
            " the partitions; their new owner reads the records again)",
            ["kind"],
            registry=r,
        )
        self.kafka_lag = Gauge(
            "plantproof_collector_kafka_lag_records",
            "Records of a held partition not yet committed by the group (high watermark - committed)",
            ["topic", "partition"],
            registry=r,
        )
        self.kafka_partitions = Gauge(
            "plantproof_collector_kafka_partitions", "Kafka partitions this collector holds", registry=r
        )
        self.kafka_rebalances = Counter(
            "plantproof_collector_kafka_rebalances",
            "Partition assignments received (Kafka source)",
            registry=r,
        )

    def dead_letter_total(self) -> float:
        """Dead letters of every reason."""
        return sum(
            s.value for m in self.dead_letters.collect() for s in m.samples if s.name.endswith("_total")
        )

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
