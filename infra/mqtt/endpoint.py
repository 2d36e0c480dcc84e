"""Where a broker is and how to log in: the one MQTT URL parser and the endpoint settings.

`mqtt://` and `tcp://` are plain TCP (default port 1883), `mqtts://` and `ssl://` TLS (8883).
Credentials in the URL (`mqtt://user:password@host`) are taken out of it into `username` and
`password` when the settings are loaded, so the URL never carries a secret further. Relative TLS
file paths resolve against the `base` folder in the validation context (the config file's folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from infra.settings import config_base

PLAIN_SCHEMES = ("mqtt", "tcp")
TLS_SCHEMES = ("mqtts", "ssl")


class MqttError(Exception):
    """A broker could not be reached, refused us, or a TLS file could not be read."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def parse_mqtt_url(url: str) -> BrokerAddress:
    """`mqtt[s]://[user[:password]@]host[:port]`; ValueError names what is wrong (never the password)."""
    parsed = urlsplit(url)
    scheme = parsed.scheme.lower()
    if scheme not in PLAIN_SCHEMES + TLS_SCHEMES or not parsed.hostname:
        raise ValueError("expected mqtt://host[:port] or mqtts://host[:port]")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise ValueError("an MQTT URL has no path, query or fragment: mqtt://host[:port]")
    try:
        port = parsed.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("the port must be a number from 1 to 65535")
    tls = scheme in TLS_SCHEMES
    return BrokerAddress(
        host=parsed.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password is not None else None,
    )


def _without_credentials(url: str) -> str:
    parsed = urlsplit(url)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsFiles(_Strict):
    ca: Path | None = None  # CA bundle that signed the broker's certificate (None: the system CAs)
    cert: Path | None = None  # client certificate (mutual TLS)
    key: Path | None = None
    insecure: bool = False  # skip the host-name check (test brokers with IP-less certificates)

    @field_validator("ca", "cert", "key")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or value.is_absolute():
            return value
        return (config_base(info) / value).resolve()

    @model_validator(mode="after")
    def _pair(self) -> TlsFiles:
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls.cert and tls.key go together")
        return self


class MqttEndpoint(_Strict):
    """A broker and the credentials to use it; programs extend it with their own settings."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsFiles | None = None  # set (even empty) for TLS on an mqtt:// URL; mqtts:// implies it
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        try:
            address = parse_mqtt_url(data["url"])
        except ValueError:
            return data  # reported by the field validator
        if address.username is None and address.password is None:
            return data
        data = {**data, "url": _without_credentials(data["url"])}
        if address.username and data.get("username") is None:
            data["username"] = address.username
        if address.password is not None and data.get("password") is None:
            data["password"] = address.password
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @property
    def address(self) -> BrokerAddress:
        return parse_mqtt_url(self.url)

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def uses_tls(self) -> bool:
        return self.tls is not None or self.address.tls

    @property
    def port(self) -> int:
        address = self.address
        explicit = urlsplit(self.url).port
        return explicit or (8883 if self.uses_tls else address.port)

    def describe(self) -> str:
        return f"{self.host}:{self.port}"


def endpoint_for(url: str, **fields: Any) -> MqttEndpoint:
    """An endpoint from a URL given on a command line; ValueError names what is wrong."""
    try:
        return MqttEndpoint.model_validate({"url": url, **fields})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        raise ValueError(f"MQTT URL: {str(first['msg']).removeprefix('Value error, ')}") from None
