"""Gateway configuration: YAML validated by pydantic, with `PLANTPROOF_GATEWAY_*` environment overrides.

Errors name the file, the line and the field (adapters.yamlload). Relative paths (device type files,
spool, TLS files, paths in endpoint settings such as `cert_dir`) are resolved against the config
file's folder; a type file is also looked up in the shipped `configs/devices/`.
"""

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters import registry
from adapters.base import DeviceInstance, ScanGroup
from adapters.errors import AdapterError
from adapters.yamlload import load_yaml_model
from devicemodel.configroot import config_root
from devicemodel.devicetype import DeviceType, load_device_type
from devicemodel.errors import ConfigError as AdapterConfigError  # the base of adapters' ConfigError
from gateway.errors import GatewayConfigError

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
SHIPPED_DEVICES = config_root() / "devices"
# The broker's message_size_limit and the collector's limits.max_payload_bytes (they must agree).
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _base(info: ValidationInfo) -> Path:
    ctx = info.context or {}
    return Path(ctx.get("base", "."))


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return (_base(info) / path).resolve()


class TlsConfig(_Strict):
    ca: Path | None = None  # CA bundle that signed the broker's certificate
    cert: Path | None = None  # client certificate (mutual TLS)
    key: Path | None = None
    insecure: bool = False  # skip host-name check (test brokers with IP-less certificates)

    @field_validator("ca", "cert", "key")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _pair(self) -> "TlsConfig":
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls.cert and tls.key go together")
        return self


class MqttConfig(_Strict):
    # mqtts:// implies TLS with the system CAs unless tls.ca is set. Credentials in the URL
    # (mqtt://user:password@host) are taken out of it into username and password when loading.
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30
    tls: TlsConfig | None = None
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = 100
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0
    qos: Literal[1] = 1
    # No envelope larger than this is built (a batch is split instead): the broker's
    # message_size_limit. Mosquitto drops larger messages of MQTT 3.1.1 clients without a word.
    max_message_bytes: Annotated[int, Field(ge=4096, le=256 * 1024 * 1024)] = DEFAULT_MAX_MESSAGE_BYTES

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        parsed = urlparse(data["url"])
        if parsed.username is None and parsed.password is None:
            return data
        data = dict(data)
        host = parsed.netloc.rpartition("@")[2]
        data["url"] = parsed._replace(netloc=host).geturl()
        if parsed.username and data.get("username") is None:
            data["username"] = unquote(parsed.username)
        if parsed.password is not None and data.get("password") is None:
            data["password"] = unquote(parsed.password)
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parsed.hostname:
            raise ValueError("expected mqtt://host[:port] or mqtts://host[:port]")
        try:
            parsed.port  # noqa: B018 - raises for a port outside 0-65535
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        if parsed.port == 0:
            raise ValueError("the port must be a number from 1 to 65535")
        return value

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"

    @property
    def uses_tls(self) -> bool:
        return self.tls is not None or urlparse(self.url).scheme in ("mqtts", "ssl")

    @property
    def port(self) -> int:
        return urlparse(self.url).port or (8883 if self.uses_tls else 1883)


class SpoolConfig(_Strict):
    path: Path = Path("spool.db")
    max_bytes: Annotated[int, Field(ge=64 * 1024)] = 256 * 1024 * 1024
    # stored: an envelope leaves the spool once a collector's `$stored` watermark covers it
    # (end-to-end acknowledgement; a broker crash loses nothing). puback: once the broker has it
    # (for consumers that publish no watermark). With `stored` and no collector running, the spool
    # fills to max_bytes and then drops the oldest envelopes (counted, declared on `$dropped`).
    delete_on: Literal["stored", "puback"] = "stored"
    # Send again what lies beyond the watermark when it has not moved for this long while a
    # collector is answering (a crashed broker lost what it had acknowledged).
    resend_after_s: Annotated[float, Field(gt=0, le=86400)] = 10.0

    @field_validator("path")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path:
        resolved = _resolve(value, info)
        assert resolved is not None
        return resolved


class BatchConfig(_Strict):
    max_samples: Annotated[int, Field(ge=1, le=10_000)] = 500
    max_age_s: Annotated[float, Field(gt=0, le=3600)] = 1.0


class MetricsConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] | None = None  # None: no endpoint; 0: any free port


class EdgeSettings(_Strict):
    deadband_abs: Annotated[float, Field(ge=0)] = 0.0
    deadband_pct: Annotated[float, Field(ge=0, le=100)] = 0.0  # of the last reported value
    max_silence_s: Annotated[float, Field(gt=0)] = 60.0  # heartbeat: report at least this often


class EdgeConfig(_Strict):
    default: EdgeSettings = EdgeSettings()
    points: dict[str, EdgeSettings] = Field(default_factory=dict)

    def for_point(self, name: str) -> EdgeSettings:
        return self.points.get(name, self.default)


class ScanGroupConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    interval: Annotated[float, Field(gt=0, le=86400)]  # seconds
    points: list[str] | Literal["all"] = "all"


class DeviceConfig(_Strict):
    id: Id
    type: Path  # device-type YAML, relative to the config file or to configs/devices
    protocol: str
    endpoint: dict[str, Any] = Field(default_factory=dict)
    scan_groups: Annotated[list[ScanGroupConfig], Field(min_length=1)] = [
        ScanGroupConfig(name="default", interval=1.0)
    ]
    area: str | None = None
    line: str | None = None
    simulated: bool = False
    edge: EdgeConfig = EdgeConfig()
    _device_type: DeviceType | None = PrivateAttr(default=None)
    _endpoint: BaseModel | None = PrivateAttr(default=None)

    @field_validator("type")
    @classmethod
    def _type_file(cls, value: Path, info: ValidationInfo) -> Path:
        for candidate in (_base(info) / value, SHIPPED_DEVICES / value):
            if candidate.is_file():
                return candidate.resolve()
        raise ValueError(
            f"device type file {str(value)!r} not found next to the config or in configs/devices"
        )

    @model_validator(mode="after")
    def _resolve_all(self, info: ValidationInfo) -> "DeviceConfig":
        try:
            self._device_type = load_device_type(self.type)
            adapter = registry.get(self.protocol)
        except (AdapterError, AdapterConfigError) as exc:
            raise ValueError(str(exc)) from None
        try:
            # paths in endpoint settings resolve against the config file, like every other path
            self._endpoint = adapter.endpoint_model.model_validate(self.endpoint, context=info.context)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"endpoint.{where}: {first['msg']}") from None
        names = set(self._device_type.by_name)
        for group in self.scan_groups:
            if group.points != "all":
                unknown = sorted(set(group.points) - names)
                if unknown:
                    raise ValueError(f"scan group {group.name!r}: unknown points {unknown}")
        unknown_edge = sorted(set(self.edge.points) - names)
        if unknown_edge:
            raise ValueError(f"edge settings for unknown points {unknown_edge}")
        return self

    @property
    def device_type(self) -> DeviceType:
        assert self._device_type is not None
        return self._device_type

    def instance(self) -> DeviceInstance:
        assert self._endpoint is not None
        all_points = tuple(p.name for p in self.device_type.points)
        groups = tuple(
            ScanGroup(g.name, g.interval, all_points if g.points == "all" else tuple(g.points))
            for g in self.scan_groups
        )
        return DeviceInstance(self.id, self.device_type, self._endpoint, groups)


class GatewayConfig(_Strict):
    site: Id
    gateway_id: Id
    mqtt: MqttConfig = MqttConfig()
    spool: SpoolConfig = SpoolConfig()
    batch: BatchConfig = BatchConfig()
    metrics: MetricsConfig = MetricsConfig()
    link_lost_after_s: Annotated[float, Field(gt=0)] = 30.0  # link down this long: publish a death
    devices: list[DeviceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_devices(self) -> "GatewayConfig":
        seen: set[str] = set()
        for dev in self.devices:
            if dev.id in seen:
                raise ValueError(f"device id {dev.id!r} appears twice")
            seen.add(dev.id)
        return self

    def device(self, dev_id: str) -> DeviceConfig | None:
        return next((d for d in self.devices if d.id == dev_id), None)


class GatewayEnv(BaseSettings):
    """Environment overrides; secrets such as the MQTT password belong here rather than in YAML."""

    model_config = SettingsConfigDict(env_prefix="PLANTPROOF_GATEWAY_", extra="ignore")

    mqtt_url: str | None = None
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str | None = None
    spool_path: Path | None = None
    metrics_port: int | None = None


def load_config(path: str | Path) -> GatewayConfig:
    """Load, validate and apply environment overrides; GatewayConfigError names file, line and field
    (or the environment variable). Neither ever quotes a value: it may be a secret."""
    path = Path(path)
    try:
        config = load_yaml_model(path, GatewayConfig, context={"base": path.resolve().parent})
    except AdapterConfigError as exc:
        raise GatewayConfigError(str(exc)) from None
    try:
        env = GatewayEnv()
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        name = "PLANTPROOF_GATEWAY_" + "_".join(str(p) for p in first["loc"]).upper()
        raise GatewayConfigError(f"environment variable {name}: {first['msg']}") from None
    mqtt_update: dict[str, Any] = {}
    for name in ("url", "username", "password", "client_id"):
        value = getattr(env, f"mqtt_{name}")
        if value is not None:
            mqtt_update[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    update: dict[str, Any] = {}
    spool_update = {"path": env.spool_path.resolve()} if env.spool_path else {}
    metrics_update = {} if env.metrics_port is None else {"port": env.metrics_port}
    sections: tuple[tuple[str, type[BaseModel], dict[str, Any]], ...] = (
        ("mqtt", MqttConfig, mqtt_update),
        ("spool", SpoolConfig, spool_update),
        ("metrics", MetricsConfig, metrics_update),
    )
    for section, model, changes in sections:
        if not changes:
            continue
        current = getattr(config, section).model_dump()
        try:
            update[section] = model.model_validate(
                {**current, **changes}, context={"base": path.resolve().parent}
            )
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            name = f"PLANTPROOF_GATEWAY_{section}_{field}".upper()
            raise GatewayConfigError(f"environment variable {name}: {first['msg']}") from None
    return config.model_copy(update=update) if update else config
