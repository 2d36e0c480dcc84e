"""The simulators package's one exception family; foreign errors are translated at the boundary."""

# layering: pure


class SimError(Exception):
    """Base of everything the simulators raise."""


class ScenarioError(SimError):
    """A plant scenario or simulation section that is wrong; names file, line and field."""


class BackfillError(SimError):
    """Publishing or writing a history failed (broker refused, unacknowledged messages, I/O)."""
