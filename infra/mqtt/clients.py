"""The one place paho-mqtt clients are made: protocol, credentials, TLS, Will and in-flight window."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from infra.mqtt.endpoint import MqttEndpoint, MqttError


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True


def tls_context(endpoint: MqttEndpoint) -> ssl.SSLContext:
    tls = endpoint.tls
    try:
        context = ssl.create_default_context(cafile=str(tls.ca) if tls and tls.ca else None)
        if tls and tls.cert and tls.key:
            context.load_cert_chain(str(tls.cert), str(tls.key))
    except (OSError, ssl.SSLError) as exc:
        raise MqttError(f"MQTT TLS files: {exc}") from None
    if tls and tls.insecure:
        context.check_hostname = False
    return context


def new_client(
    endpoint: MqttEndpoint,
    client_id: str,
    *,
    mqtt5: bool = False,
    clean: bool = True,
    manual_ack: bool = False,
    will: Will | None = None,
    max_inflight: int = 20,
    reconnect_s: tuple[float, float] = (1.0, 30.0),
) -> paho.Client:
    """A configured, not yet connected client. MQTT 5 sessions are kept or not by `clean_start`
    at connect time; MQTT 3.1.1 by `clean` here."""
    if mqtt5:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=manual_ack
        )
    else:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean,
            protocol=paho.MQTTv311,
            manual_ack=manual_ack,
        )
    client.max_inflight_messages_set(max(1, min(max_inflight, 65535)))
    client.max_queued_messages_set(0)  # callers bound what they hand over themselves
    low, high = reconnect_s
    client.reconnect_delay_set(min_delay=max(1, round(low)), max_delay=max(1, round(high)))
    if endpoint.username is not None:
        password = endpoint.password.get_secret_value() if endpoint.password else None
        client.username_pw_set(endpoint.username, password)
    if endpoint.uses_tls:
        client.tls_set_context(tls_context(endpoint))
    if will is not None:
        client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
    return client
