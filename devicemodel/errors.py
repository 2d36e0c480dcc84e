"""The device model's exception family. Adapters' ConfigError derives from ConfigError here, so a
caller catching this one catches both a bad device type and a bad endpoint."""

# layering: pure


class DeviceModelError(Exception):
    """Base of everything the device model raises."""


class ConfigError(DeviceModelError):
    """A device-type (or endpoint) configuration that is wrong; names file, line and field."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.file, self.line, self.field = file, line, field
