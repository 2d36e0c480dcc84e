"""Where a Kafka cluster is and how to log in: the endpoint settings shared by the bridge (producer)
and the collector's Kafka source (consumer), the client options they give aiokafka, and the record
headers that carry an MQTT message through Kafka.

Only the subset of the Kafka protocol that Tansu and Apache Kafka share is used (docs/kafka.md): no
idempotent or transactional producer, never acks=0, lag from the high watermark.
"""

from __future__ import annotations

import ssl
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from infra.mqtt.endpoint import TlsFiles

# The MQTT topic a record was published on, and the size on the wire of a payload the bridge kept
# only the beginning of (larger than its limit: the collector dead-letters it with that size).
TOPIC_HEADER = "mqtt-topic"
SIZE_HEADER = "mqtt-size"
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class KafkaEndpointError(Exception):
    """A TLS file of the Kafka endpoint could not be read."""


class SaslSettings(BaseModel, frozen=True, extra="forbid"):
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    username: Annotated[str, Field(min_length=1)]
    password: SecretStr


class KafkaEndpoint(BaseModel, frozen=True, extra="forbid"):
    """A cluster, one topic on it, and the credentials to use it; programs extend it."""

    bootstrap_servers: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["127.0.0.1:9092"]
    )
    topic: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")] = "plantproof"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    tls: TlsFiles | None = None  # with SSL / SASL_SSL: CA bundle, client certificate (None: system CAs)
    sasl: SaslSettings | None = None  # with SASL_PLAINTEXT / SASL_SSL
    request_timeout_ms: Annotated[int, Field(ge=1000, le=600_000)] = 30_000

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        for server in value:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65_536:
                raise ValueError(f"{server!r} is not host:port (a port from 1 to 65535)")
        return value

    @model_validator(mode="after")
    def _login(self) -> KafkaEndpoint:
        uses_sasl = self.security_protocol.startswith("SASL_")
        if uses_sasl and self.sasl is None:
            raise ValueError(f"security_protocol {self.security_protocol} needs a sasl section")
        if not uses_sasl and self.sasl is not None:
            raise ValueError("a sasl section needs security_protocol SASL_PLAINTEXT or SASL_SSL")
        if self.tls is not None and not self.security_protocol.endswith("SSL"):
            raise ValueError("a tls section needs security_protocol SSL or SASL_SSL")
        return self

    @property
    def bootstrap(self) -> str:
        return ",".join(self.bootstrap_servers)

    def client_options(self) -> dict[str, Any]:
        """The connection options of an aiokafka producer, consumer or admin client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = _tls_context(self.tls)
        if self.sasl is not None:
            options["sasl_mechanism"] = self.sasl.mechanism
            options["sasl_plain_username"] = self.sasl.username
            options["sasl_plain_password"] = self.sasl.password.get_secret_value()
        return options


def _tls_context(tls: TlsFiles | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(tls.ca) if tls and tls.ca else None)
        if tls and tls.cert and tls.key:
            context.load_cert_chain(str(tls.cert), str(tls.key))
    except (OSError, ssl.SSLError) as exc:
        raise KafkaEndpointError(f"Kafka TLS files: {exc}") from None
    if tls and tls.insecure:
        context.check_hostname = False
    return context


def header(headers: Any, name: str) -> bytes | None:
    """The first value of header `name` in an aiokafka record's headers (a sequence of pairs)."""
    for key, value in headers or ():
        if key == name:
            return bytes(value) if value is not None else b""
    return None
