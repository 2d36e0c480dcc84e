"""The gateway package's one exception family; foreign errors are translated at the boundary."""

# layering: pure


class GatewayError(Exception):
    """Base of everything the gateway raises."""


class GatewayConfigError(GatewayError):
    """A gateway configuration that is wrong; the message names file, line and field."""


class SpoolError(GatewayError):
    """The on-disk spool cannot be opened or written."""


class CommandError(GatewayError):
    """A management command that cannot be carried out (bad arguments, unknown point)."""
