"""Gateway configuration: YAML validated by pydantic, under `PLANTPROOF_GATEWAY_<SECTION>__<FIELD>`.

Errors name the file, the line and the field, or the variable (infra.settings). Relative paths
(device type files, spool, TLS files, paths in endpoint settings such as `cert_dir`) are resolved
against the config file's folder; a type file is also looked up in the shipped `configs/devices/`.
"""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from adapters import registry
from adapters.base import DeviceInstance, ScanGroup
from adapters.errors import AdapterError
from devicemodel.configroot import config_root
from devicemodel.devicetype import DeviceType
from devicemodel.errors import ConfigError as AdapterConfigError  # the base of adapters' ConfigError
from devicemodel.loader import load_device_type
from gateway.errors import GatewayConfigError
from infra import settings
from infra.mqtt import MqttEndpoint
from infra.settings import YamlSettings, config_base
from infra.yamlconfig import ConfigFileError

ENV_PREFIX = "PLANTPROOF_GATEWAY_"
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
SHIPPED_DEVICES = config_root() / "devices"
# The broker's message_size_limit and the collector's limits.max_payload_bytes (they must agree).
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _base(info: ValidationInfo) -> Path:
    return config_base(info)


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return (_base(info) / path).resolve()


class MqttConfig(MqttEndpoint):
    client_id: str | None = None
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = 100
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0
    qos: Literal[1] = 1
    # No envelope larger than this is built (a batch is split instead): the broker's
    # message_size_limit. Mosquitto drops larger messages of MQTT 3.1.1 clients without a word.
    max_message_bytes: Annotated[int, Field(ge=4096, le=256 * 1024 * 1024)] = DEFAULT_MAX_MESSAGE_BYTES
    # json: the envelope v1 on pp/v1/... (the collector reads it); sparkplug: Sparkplug B 3.0 on
    # spBv1.0/... as an edge node (settings in the `sparkplug` section)
    format: Literal["json", "sparkplug"] = "json"


class SparkplugConfig(_Strict):
    group_id: Id
    edge_node_id: Id | None = None  # default: the gateway id
    # publish only while this host's STATE (spBv1.0/STATE/<id>) says online; spool meanwhile
    primary_host_id: Id | None = None
    # Sparkplug asks DATA messages to leave datatypes out (the host knows them from the BIRTH);
    # true for hosts that decode every message on its own
    data_datatypes: bool = False


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
            self._endpoint = adapter.endpoint_model.model_validate(
                self.endpoint, context={"base": _base(info)}
            )
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


class GatewayConfig(YamlSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    site: Id
    gateway_id: Id
    mqtt: MqttConfig = MqttConfig()
    spool: SpoolConfig = SpoolConfig()
    batch: BatchConfig = BatchConfig()
    metrics: MetricsConfig = MetricsConfig()
    link_lost_after_s: Annotated[float, Field(gt=0)] = 30.0  # link down this long: publish a death
    devices: list[DeviceConfig] = Field(default_factory=list)
    sparkplug: SparkplugConfig | None = None

    @model_validator(mode="after")
    def _sparkplug(self) -> "GatewayConfig":
        if self.mqtt.format != "sparkplug":
            return self
        if self.sparkplug is None:
            raise ValueError("mqtt.format sparkplug needs a sparkplug section with group_id")
        if self.spool.delete_on == "stored" and "delete_on" in self.spool.model_fields_set:
            raise ValueError(
                "spool.delete_on stored needs the $stored watermark of the JSON format;"
                " with mqtt.format sparkplug an envelope leaves the spool on PUBACK (puback)"
            )
        self.spool = self.spool.model_copy(update={"delete_on": "puback"})
        return self

    @property
    def edge_node_id(self) -> str:
        """The Sparkplug edge node id: the configured one, else the gateway id."""
        return (self.sparkplug.edge_node_id if self.sparkplug else None) or self.gateway_id

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


def load_config(path: str | Path) -> GatewayConfig:
    """Load and validate the file under `PLANTPROOF_GATEWAY_<SECTION>__<FIELD>` variables (e.g.
    `PLANTPROOF_GATEWAY_MQTT__PASSWORD`); GatewayConfigError names file, line and field (or the
    environment variable). Neither ever quotes a value: it may be a secret."""
    try:
        return settings.load_settings(GatewayConfig, path)
    except (ConfigFileError, AdapterConfigError) as exc:
        raise GatewayConfigError(str(exc)) from None
