"""`plantproof demo --kafka`: ingest through the bridge and Kafka instead of straight from MQTT.

The embedded Tansu broker (a Kafka-compatible broker from the `kafka` extra) starts on a free port;
the bridge forwards the broker's telemetry to a topic of 4 partitions, and two collectors in one
consumer group store it. Everything after that — figures, verdicts, evidence — is the same demo.
"""

from __future__ import annotations

import asyncio

from plantproof.stack import Stack, free_port

TOPIC, GROUP, PARTITIONS = "plantproof", "plantproof-demo-collectors", 4


async def _create_topic(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()


def start_kafka_ingest(stack: Stack, metrics_port: int) -> None:
    """Tansu, the bridge and two collectors (the first exports metrics on `metrics_port`)."""
    from plantproof.embedded_kafka import TansuServer

    stack.kafka = TansuServer(stack.workdir / "tansu")
    stack.kafka.start()
    bootstrap = stack.kafka.bootstrap
    asyncio.run(_create_topic(bootstrap))
    servers = f'["{bootstrap}"]'
    stack.spawn(
        "bridge", "bridge", "run",
        env={
            "PLANTPROOF_BRIDGE_MQTT__URL": stack.mqtt_url,
            "PLANTPROOF_BRIDGE_MQTT__CLIENT_ID": "plantproof-demo-bridge",
            "PLANTPROOF_BRIDGE_KAFKA__BOOTSTRAP_SERVERS": servers,
            "PLANTPROOF_BRIDGE_KAFKA__TOPIC": TOPIC,
            "PLANTPROOF_BRIDGE_METRICS_PORT": str(free_port()),
        },
    )  # fmt: skip
    for n, port in ((1, metrics_port), (2, free_port())):
        stack.spawn(
            f"collector-{n}", "collector", "run", "--dsn", stack.dsn,
            env={
                "PLANTPROOF_COLLECTOR_SOURCE": "kafka",
                "PLANTPROOF_COLLECTOR_MQTT__URL": stack.mqtt_url,
                "PLANTPROOF_COLLECTOR_MQTT__CLIENT_ID": f"plantproof-demo-collector-{n}",
                "PLANTPROOF_COLLECTOR_KAFKA__BOOTSTRAP_SERVERS": servers,
                "PLANTPROOF_COLLECTOR_KAFKA__TOPIC": TOPIC,
                "PLANTPROOF_COLLECTOR_KAFKA__GROUP_ID": GROUP,
                "PLANTPROOF_COLLECTOR_KAFKA__CLIENT_ID": f"plantproof-demo-collector-{n}",
                "PLANTPROOF_COLLECTOR_METRICS_PORT": str(port),
            },
        )  # fmt: skip
