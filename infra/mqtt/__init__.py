"""MQTT transport shared by every program: endpoint settings, the paho client factory, an asyncio
client, a threaded client for tools and simulators, and the collector's manual-ack subscriber.
It imports nothing else of ours (topic filters come from the caller, built with `wire.topics`)."""

from infra.mqtt.clients import Will, new_client
from infra.mqtt.endpoint import (
    BrokerAddress,
    MqttEndpoint,
    MqttError,
    TlsFiles,
    endpoint_for,
    parse_mqtt_url,
)

__all__ = [
    "BrokerAddress",
    "MqttEndpoint",
    "MqttError",
    "TlsFiles",
    "Will",
    "endpoint_for",
    "new_client",
    "parse_mqtt_url",
]
