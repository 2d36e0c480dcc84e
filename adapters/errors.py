"""The adapters package's one exception family; foreign errors are translated at the boundary.

Every error carries `reason`, a short label for metrics (`unreachable`, `timeout`, `certificate`,
`login`, `namespace`, ...), so a dashboard can tell a wrong certificate from a dead device.
"""

# layering: pure

import devicemodel.errors


class AdapterError(Exception):
    """Base of everything adapters raise."""

    reason = "error"


class ConfigError(AdapterError, devicemodel.errors.ConfigError):
    """A device-type or endpoint configuration that is wrong; names file, line and field.

    Derives from the device model's ConfigError, so one `except` catches both."""

    reason = "config"


class CodecError(AdapterError):
    """Registers or values that cannot be encoded/decoded as the point says."""

    reason = "codec"


class DeviceUnavailable(AdapterError):
    """The device did not answer (timeout, refused, transport closed)."""

    def __init__(self, message: str, reason: str = "unreachable") -> None:
        super().__init__(message)
        self.reason = reason


class DeviceRejected(AdapterError):
    """The device answered with an error (Modbus exception, OPC UA bad status)."""

    def __init__(self, message: str, reason: str = "refused") -> None:
        super().__init__(message)
        self.reason = reason
