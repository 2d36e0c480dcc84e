"""The simulators' QoS 1 publisher: the shared threaded client with the simulators' error type.

Inside `with publisher(...) as pub:` each `pub.publish` blocks while `window` messages await their
PUBACK; leaving the block waits for every PUBACK and fails loudly if any is missing, so a finished
run means the broker has every message.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from infra.mqtt import MqttError, Will, endpoint_for
from infra.mqtt.blocking import BlockingMqttClient
from simulators.errors import BackfillError


@contextmanager
def publisher(
    url: str, client_id: str, *, window: int = 1000, will: Will | None = None, timeout_s: float = 30.0
) -> Iterator[BlockingMqttClient]:
    try:
        client = BlockingMqttClient(
            endpoint_for(url), client_id, window=window, timeout_s=timeout_s, will=will
        )
        client.connect()
    except (ValueError, MqttError) as exc:
        raise BackfillError(str(exc)) from None
    try:
        yield client
        client.flush()
    except MqttError as exc:
        raise BackfillError(str(exc)) from None
    finally:
        client.close()
