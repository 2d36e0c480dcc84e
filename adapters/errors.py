"""The adapters package's one exception family; foreign errors are translated at the boundary.

Every error carries `reason`, a short label for metrics (`unreachable`, `timeout`, `certificate`,
`login`, `namespace`, ...), so a dashboard can tell a wrong certificate from a dead device.
"""

# layering: pure


class AdapterError(Exception):
    """Base of everything adapters raise."""

    reason = "error"


class ConfigError(AdapterError):
    """A device-type or endpoint configuration that is wrong; names file, line and field."""

    reason = "config"

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.file, self.line, self.field = file, line, field


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
