"""Prometheus metrics of the bridge, on a registry of its own."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from infra.prom import program_registry


class Metrics:
    def __init__(self) -> None:
        self.registry = program_registry()
        r = self.registry
        # what the MQTT subscriber counts (infra.mqtt.subscriber.SubscriberMetrics)
        self.received = Counter("plantproof_bridge_received_messages", "MQTT messages received", registry=r)
        self.dropped = Counter(
            "plantproof_bridge_queue_overflow",
            "MQTT messages left unacknowledged because the bridge held too many or too many bytes"
            " (the broker resends them after the reconnect that follows)",
            registry=r,
        )
        self.mqtt_connects = Counter("plantproof_bridge_mqtt_connects", "MQTT (re)connections", registry=r)
        self.overflow_reconnects = Counter(
            "plantproof_bridge_overflow_reconnects",
            "Reconnects made so that the broker resends messages left unacknowledged on overflow",
            registry=r,
        )
        self.queue_bytes = Gauge(
            "plantproof_bridge_held_bytes",
            "Payload bytes held: received from MQTT and not yet acknowledged to it",
            registry=r,
        )
        self.held_limit_bytes = Gauge(
            "plantproof_bridge_held_limit_bytes", "The byte budget of what the bridge holds", registry=r
        )
        # the Kafka side
        self.produced = Counter(
            "plantproof_bridge_produced_messages",
            "Messages Kafka acknowledged (acks=all), then acknowledged to MQTT",
            registry=r,
        )
        self.skipped = Counter(
            "plantproof_bridge_skipped_messages",
            "MQTT messages not forwarded: commands and watermarks the platform publishes",
            registry=r,
        )
        self.produce_seconds = Histogram(
            "plantproof_bridge_produce_latency_seconds",
            "Time from handing a message to the producer to Kafka's acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.inflight = Gauge(
            "plantproof_bridge_inflight_messages",
            "Messages handed to the producer and not yet acknowledged by Kafka",
            registry=r,
        )
        self.inflight_limit = Gauge(
            "plantproof_bridge_inflight_limit_messages", "The bound on inflight messages", registry=r
        )
        self.errors = Counter(
            "plantproof_bridge_produce_errors",
            "Produce attempts that failed, by error (the message is produced again: nothing is acked first)",
            ["error"],
            registry=r,
        )

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
