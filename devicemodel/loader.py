"""Reading a device-type YAML: the one place the device model touches files."""

from pathlib import Path

from devicemodel.devicetype import Addresses, DeviceType
from devicemodel.errors import ConfigError
from infra import yamlconfig


def load_device_type(path: str | Path, addresses: Addresses = "checked") -> DeviceType:
    """Parse and validate a device-type YAML; ConfigError names file, line and field.

    "checked" validates every address section against the protocol that registered it (and refuses
    sections no protocol registered); "unchecked" keeps them as plain data.
    """
    try:
        return yamlconfig.load_yaml_model(path, DeviceType, {"addresses": addresses})
    except yamlconfig.ConfigFileError as exc:
        raise ConfigError(exc.message, file=exc.file, line=exc.line, field=exc.field) from None
